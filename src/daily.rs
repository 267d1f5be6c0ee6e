//! The day's totals: what `GET /stats` reports, the UTC day they belong to, and the file
//! they are saved to so that a restart carries on from them ([`file`]).

pub mod file;

pub use file::TotalsFile;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::money::Cents;

/// A calendar day in UTC, as a count of days since 1970-01-01; written `2026-11-25`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Day(i64);

impl Day {
    /// Today, in UTC.
    pub fn today() -> Day {
        Day::of(std::time::SystemTime::now())
    }

    /// The day `time` falls on, in UTC.
    pub fn of(time: std::time::SystemTime) -> Day {
        let seconds = time
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        Day((seconds / 86_400) as i64)
    }

    /// The day `year-month-day` of the proleptic Gregorian calendar.
    pub fn from_date(year: i64, month: u32, day: u32) -> Option<Day> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        // Howard Hinnant's days_from_civil: years start in March, so February is last.
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year.rem_euclid(400);
        let month_from_march = (i64::from(month) + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Some(Day(era * 146_097 + day_of_era - 719_468))
    }

    /// (year, month, day).
    pub fn date(self) -> (i64, u32, u32) {
        let days = self.0 + 719_468;
        let era = days.div_euclid(146_097);
        let day_of_era = days.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        } as u32;
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.date();
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

impl std::str::FromStr for Day {
    type Err = String;

    fn from_str(text: &str) -> Result<Day, String> {
        let bad = || format!("{text:?} is not a date like 2026-11-25");
        let mut parts = text.splitn(3, '-');
        let mut next = || parts.next().ok_or_else(bad);
        let (year, month, day) = (next()?, next()?, next()?);
        Day::from_date(
            year.parse().map_err(|_| bad())?,
            month.parse().map_err(|_| bad())?,
            day.parse().map_err(|_| bad())?,
        )
        .ok_or_else(bad)
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One day's revenue and number of orders charged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyStats {
    pub day: Day,
    pub total_revenue: Cents,
    pub order_count: u64,
}

impl DailyStats {
    /// A day with no sales yet.
    pub fn empty(day: Day) -> Self {
        DailyStats {
            day,
            ..DailyStats::default()
        }
    }

    /// These totals as seen on `day`: a new day starts from zero.
    pub fn as_of(self, day: Day) -> Self {
        if self.day == day {
            self
        } else {
            DailyStats::empty(day)
        }
    }

    /// Counts one sale of `amount` made on `day`.
    pub fn add_sale(&mut self, amount: Cents, day: Day) {
        *self = self.as_of(day);
        self.total_revenue += amount;
        self.order_count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_and_write_as_calendar_dates() {
        for (text, days) in [
            ("1970-01-01", 0),
            ("2000-02-29", 11_016),
            ("2026-11-25", 20_782),
            ("1969-12-31", -1),
        ] {
            let day: Day = text.parse().unwrap();
            assert_eq!(day, Day(days), "{text}");
            assert_eq!(day.to_string(), text);
        }
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-11",
            "yesterday",
            "2026-11-00",
        ] {
            assert!(bad.parse::<Day>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn a_new_day_starts_from_zero() {
        let monday: Day = "2026-11-23".parse().unwrap();
        let tuesday: Day = "2026-11-24".parse().unwrap();
        let mut totals = DailyStats::empty(monday);
        totals.add_sale(Cents::dollars(10), monday);
        totals.add_sale(Cents::dollars(5), monday);
        assert_eq!(
            (totals.order_count, totals.total_revenue),
            (2, Cents::dollars(15))
        );
        assert_eq!(totals.as_of(tuesday), DailyStats::empty(tuesday));
        totals.add_sale(Cents::dollars(1), tuesday);
        assert_eq!(
            totals,
            DailyStats {
                day: tuesday,
                total_revenue: Cents::dollars(1),
                order_count: 1
            }
        );
    }

    #[tokio::test]
    async fn saved_totals_load_back_on_their_day_only() {
        let dir = std::env::temp_dir().join(format!("daily-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = TotalsFile::new(dir.join("stats.json"));
        let day: Day = "2026-11-25".parse().unwrap();
        assert_eq!(
            file.load(day).unwrap(),
            DailyStats::empty(day),
            "no file yet"
        );
        let mut totals = DailyStats::empty(day);
        totals.add_sale(Cents::new(1025), day);
        file.save(&totals).await.unwrap();
        assert_eq!(file.load(day).unwrap(), totals);
        let next: Day = "2026-11-26".parse().unwrap();
        assert_eq!(file.load(next).unwrap(), DailyStats::empty(next));
        std::fs::write(file.path(), "{not json").unwrap();
        let error = file.load(day).unwrap_err();
        assert!(
            error.to_string().contains("does not hold saved totals"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
