//! Money as a whole number of cents.
//!
//! On the wire money is a JSON number (`50.0`, `10.25`), as in the original service. Inside,
//! it is always [`Cents`]: parsed once from the number's decimal text, never through `f64`
//! arithmetic, so `0.1 + 0.2` problems cannot reach a balance.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount one order may carry: $1,000,000.00.
pub const MAX_ORDER: Cents = Cents(100_000_000);

/// An amount of money in cents. May be negative only as the result of arithmetic the caller
/// asked for; amounts that come in from outside are parsed with [`Cents::parse_amount`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cents(i64);

/// Why a JSON number is not an acceptable amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("amount must be a whole number of cents")]
    FractionOfCent,
    #[error("amount must be at most {MAX_ORDER}")]
    TooLarge,
    #[error("amount is not a decimal number")]
    NotDecimal,
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

    pub const fn new(cents: i64) -> Self {
        Cents(cents)
    }

    /// Whole dollars, for seed data and tests.
    pub const fn dollars(dollars: i64) -> Self {
        Cents(dollars * 100)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// Parses an amount a client sent: positive, whole cents, at most [`MAX_ORDER`].
    pub fn parse_amount(number: &serde_json::Number) -> Result<Cents, AmountError> {
        let cents = Self::parse_decimal(&number.to_string())?;
        if cents.0 <= 0 {
            Err(AmountError::NotPositive)
        } else if cents > MAX_ORDER {
            Err(AmountError::TooLarge)
        } else {
            Ok(cents)
        }
    }

    /// Parses decimal text (`"-12.5"`, `"1e3"`, `"10.50"`) into cents, exactly.
    ///
    /// `serde_json` prints an `f64` as the shortest text that reads back as the same `f64`,
    /// so `10.1` arrives here as `"10.1"`, not as `10.0999999...`.
    pub fn parse_decimal(text: &str) -> Result<Cents, AmountError> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => {
                let exponent: i32 = rest[at + 1..]
                    .parse()
                    .map_err(|_| AmountError::NotDecimal)?;
                (&rest[..at], exponent)
            }
            None => (rest, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_ok(whole) || !digits_ok(fraction) {
            return Err(AmountError::NotDecimal);
        }
        // The value is `digits * 10^(exponent - fraction.len())`; in cents, shift by two more.
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        let shift = exponent
            .checked_add(2)
            .and_then(|e| e.checked_sub(i32::try_from(fraction.len()).ok()?))
            .ok_or(AmountError::TooLarge)?;
        let cents: i64 = if digits.is_empty() {
            0
        } else if shift >= 0 {
            let scaled = format!("{digits}{}", "0".repeat(shift.min(20) as usize));
            scaled.parse().map_err(|_| AmountError::TooLarge)?
        } else {
            let cut = digits.len().saturating_sub(shift.unsigned_abs() as usize);
            let (kept, dropped) = digits.split_at(cut);
            if dropped.bytes().any(|b| b != b'0') {
                return Err(AmountError::FractionOfCent);
            }
            if kept.is_empty() {
                0
            } else {
                kept.parse().map_err(|_| AmountError::TooLarge)?
            }
        };
        Ok(Cents(if negative { -cents } else { cents }))
    }

    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }

    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).map(Cents)
    }
}

impl std::ops::Add for Cents {
    type Output = Cents;
    fn add(self, other: Cents) -> Cents {
        Cents(self.0 + other.0)
    }
}

impl std::ops::AddAssign for Cents {
    fn add_assign(&mut self, other: Cents) {
        self.0 += other.0;
    }
}

impl std::ops::Sub for Cents {
    type Output = Cents;
    fn sub(self, other: Cents) -> Cents {
        Cents(self.0 - other.0)
    }
}

impl std::ops::Mul<i64> for Cents {
    type Output = Cents;
    fn mul(self, times: i64) -> Cents {
        Cents(self.0 * times)
    }
}

impl std::iter::Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        iter.fold(Cents::ZERO, |a, b| a + b)
    }
}

/// `12.50`, `-3.05`: dollars with two decimals, for logs and messages.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Written as a JSON number in dollars (`5000` cents is `50.0`). The number is read from the
/// decimal text, so it is the `f64` nearest to the exact amount.
impl Serialize for Cents {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let dollars: f64 = self
            .to_string()
            .parse()
            .expect("a formatted amount is a decimal number");
        serializer.serialize_f64(dollars)
    }
}

impl<'de> Deserialize<'de> for Cents {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        Cents::parse_decimal(&number.to_string()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> serde_json::Number {
        serde_json::from_str(text).expect("test input is a JSON number")
    }

    #[test]
    fn whole_and_fractional_dollars_parse_to_exact_cents() {
        for (text, cents) in [
            ("50", 5000),
            ("50.0", 5000),
            ("10.5", 1050),
            ("10.25", 1025),
            ("0.01", 1),
            ("0.1", 10),
            ("1e2", 10000),
            ("1.5E1", 1500),
            ("10.250", 1025),
            ("1000000", 100_000_000),
        ] {
            assert_eq!(
                Cents::parse_amount(&number(text)),
                Ok(Cents(cents)),
                "amount {text}"
            );
        }
    }

    #[test]
    fn amounts_that_are_not_positive_whole_cents_under_the_maximum_are_refused() {
        for (text, error) in [
            ("0", AmountError::NotPositive),
            ("0.0", AmountError::NotPositive),
            ("-5", AmountError::NotPositive),
            ("-0.01", AmountError::NotPositive),
            ("10.005", AmountError::FractionOfCent),
            ("0.001", AmountError::FractionOfCent),
            ("1e-7", AmountError::FractionOfCent),
            ("1000000.01", AmountError::TooLarge),
            ("1e300", AmountError::TooLarge),
            ("18446744073709551615", AmountError::TooLarge),
        ] {
            assert_eq!(
                Cents::parse_amount(&number(text)),
                Err(error),
                "amount {text}"
            );
        }
    }

    #[test]
    fn cents_serialize_as_dollars_and_read_back_unchanged() {
        for cents in [0, 1, 10, 5000, 1025, 99_999_999, -250] {
            let json = serde_json::to_string(&Cents(cents)).unwrap();
            let back: Cents = serde_json::from_str(&json).unwrap();
            assert_eq!(back, Cents(cents), "{cents} cents went out as {json}");
        }
        assert_eq!(serde_json::to_string(&Cents(5000)).unwrap(), "50.0");
        assert_eq!(serde_json::to_string(&Cents(1025)).unwrap(), "10.25");
    }

    #[test]
    fn display_shows_dollars_with_two_decimals() {
        assert_eq!(Cents(5).to_string(), "0.05");
        assert_eq!(Cents(-1050).to_string(), "-10.50");
        assert_eq!(Cents::dollars(3).to_string(), "3.00");
    }
}
