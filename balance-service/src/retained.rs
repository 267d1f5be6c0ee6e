//! A map that keeps each entry for a retention window after its last write, and at most a
//! set number of entries: how idempotency records, order records and the ledger stay
//! bounded in a service that runs for weeks. Expired entries are dropped as new ones are
//! written (each write pays for at most the entries it pushes out), and never seen by a
//! read.
//!
//! Callers pass the time, so tests can move it.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How long entries are kept, and how many at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// An entry is forgotten this long after its last write.
    pub window: Duration,
    /// Past this many entries, the least recently written is forgotten first.
    pub cap: usize,
}

impl Retention {
    /// A day, and a million entries: a day covers any client's retry, and a million records
    /// hold about 560 MiB in the balance service and 300 MiB in the order service at worst
    /// (measured at full speed, `docs/performance.md`).
    pub const DEFAULT: Retention = Retention {
        window: Duration::from_secs(24 * 60 * 60),
        cap: 1_000_000,
    };
}

impl Default for Retention {
    fn default() -> Self {
        Retention::DEFAULT
    }
}

/// When entries were written, as nanoseconds from the map's own origin (signed: a caller may
/// pass an earlier time): half the size of an `Instant`, for a million entries.
#[derive(Debug, Clone, Copy)]
struct Clock {
    origin: Instant,
}

impl Clock {
    fn new() -> Self {
        Clock {
            origin: Instant::now(),
        }
    }

    fn stamp(self, at: Instant) -> i64 {
        match at.checked_duration_since(self.origin) {
            Some(after) => after.as_nanos() as i64,
            None => -(self.origin.duration_since(at).as_nanos() as i64),
        }
    }

    /// How long before `now` the stamp `written` is.
    fn age(self, written: i64, now: Instant) -> Duration {
        Duration::from_nanos(self.stamp(now).saturating_sub(written).max(0) as u64)
    }
}

#[derive(Debug)]
struct Slot<V> {
    value: V,
    /// A [`Clock`] stamp.
    written: i64,
    /// Which write this is; older queue entries for the key are stale.
    write: u64,
}

/// Entries by key, each kept for the retention window after its last write.
#[derive(Debug)]
pub struct Retained<K, V> {
    entries: HashMap<K, Slot<V>>,
    /// Writes, oldest first; an item whose write number no longer matches its key's slot
    /// is stale and skipped.
    writes: VecDeque<(K, u64)>,
    next_write: u64,
    retention: Retention,
    clock: Clock,
}

impl<K: Eq + Hash + Clone, V> Default for Retained<K, V> {
    fn default() -> Self {
        Retained::new(Retention::DEFAULT)
    }
}

impl<K: Eq + Hash + Clone, V> Retained<K, V> {
    pub fn new(retention: Retention) -> Self {
        Retained {
            entries: HashMap::new(),
            writes: VecDeque::new(),
            next_write: 0,
            retention,
            clock: Clock::new(),
        }
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// The entry for `key`, unless it has expired by `now`.
    pub fn get<Q>(&self, key: &Q, now: Instant) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries
            .get(key)
            .filter(|slot| !self.expired(slot, now))
            .map(|slot| &slot.value)
    }

    /// Writes `value` under `key`, starting its window at `now`, and forgets what has
    /// expired or is over the cap.
    pub fn insert(&mut self, key: K, value: V, now: Instant) {
        let write = self.next_write;
        self.next_write += 1;
        self.writes.push_back((key.clone(), write));
        self.entries.insert(
            key,
            Slot {
                value,
                written: self.clock.stamp(now),
                write,
            },
        );
        self.expire(now);
    }

    /// The entry for `key`, to change in place: its window still runs from its last write
    /// ([`Retained::insert`] starts it again).
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key).map(|slot| &mut slot.value)
    }

    /// The key as it is held, for a caller that shares it (an `Arc<str>`) elsewhere.
    pub fn key_of<Q>(&self, key: &Q) -> Option<K>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_key_value(key).map(|(key, _)| key.clone())
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // Its queue items become stale and are skipped when they reach the front.
        self.entries.remove(key).map(|slot| slot.value)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.writes.clear();
    }

    /// Entries kept, the expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The live entries, least recently written first.
    pub fn iter(&self, now: Instant) -> impl Iterator<Item = (&K, &V)> {
        self.writes.iter().filter_map(move |(key, write)| {
            let slot = self.entries.get(key)?;
            (slot.write == *write && !self.expired(slot, now)).then_some((key, &slot.value))
        })
    }

    fn expired(&self, slot: &Slot<V>, now: Instant) -> bool {
        self.clock.age(slot.written, now) >= self.retention.window
    }

    /// Drops queue items from the front while they are stale, expired, or over the cap.
    fn expire(&mut self, now: Instant) {
        while let Some((key, write)) = self.writes.front() {
            match self.entries.get(key) {
                Some(slot) if slot.write == *write => {
                    let over_cap = self.entries.len() > self.retention.cap;
                    if !over_cap && !self.expired(slot, now) {
                        break;
                    }
                    self.entries.remove(key);
                }
                // Rewritten or removed since: a later item stands for it.
                _ => {}
            }
            self.writes.pop_front();
        }
        // Stale items in the middle of the queue cost memory until they reach the front;
        // when they are most of it, rebuild it.
        if self.writes.len() > 2 * self.entries.len() + 1024 {
            let entries = &self.entries;
            self.writes
                .retain(|(key, write)| entries.get(key).is_some_and(|slot| slot.write == *write));
        }
    }
}

/// Values numbered as they are written (1, 2, 3, ... since it was made or cleared), each
/// written once and kept for the retention window after, and at most `cap` of them: the
/// ledger. Written once and in order, they expire in order, so a queue holds them with no
/// index: a tenth of what a [`Retained`] map costs per entry.
#[derive(Debug)]
pub struct Journal<V> {
    /// The live entries, oldest first, each with when it was written (a [`Clock`] stamp);
    /// numbered from `first`.
    entries: VecDeque<(i64, V)>,
    first: u64,
    retention: Retention,
    clock: Clock,
}

impl<V> Journal<V> {
    pub fn new(retention: Retention) -> Self {
        Journal {
            entries: VecDeque::new(),
            first: 1,
            retention,
            clock: Clock::new(),
        }
    }

    /// The number the next value written gets.
    pub fn next_number(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// Writes `value` as number [`Journal::next_number`], and forgets what has expired by
    /// `now` or is over the cap.
    pub fn push(&mut self, value: V, now: Instant) -> u64 {
        let number = self.next_number();
        self.entries.push_back((self.clock.stamp(now), value));
        while let Some((written, _)) = self.entries.front() {
            let expired = self.clock.age(*written, now) >= self.retention.window;
            if !expired && self.entries.len() <= self.retention.cap {
                break;
            }
            self.entries.pop_front();
            self.first += 1;
        }
        number
    }

    /// The live entries with their numbers, oldest first.
    pub fn iter(&self, now: Instant) -> impl Iterator<Item = (u64, &V)> {
        let (window, clock) = (self.retention.window, self.clock);
        (self.first..)
            .zip(&self.entries)
            .filter(move |(_, (written, _))| clock.age(*written, now) < window)
            .map(|(number, (_, value))| (number, value))
    }

    /// Entries kept, the expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_numbers_its_entries_and_forgets_the_oldest_first() {
        let start = Instant::now();
        let mut journal = Journal::new(Retention {
            window: Duration::from_secs(10),
            cap: 2,
        });
        assert_eq!(journal.push("a", start), 1);
        assert_eq!(journal.push("b", start + SECOND), 2);
        assert_eq!(
            journal.push("c", start + 2 * SECOND),
            3,
            "over the cap: a goes"
        );
        let live: Vec<_> = journal.iter(start + 2 * SECOND).collect();
        assert_eq!(live, [(2, &"b"), (3, &"c")]);
        assert_eq!(
            journal.iter(start + 11 * SECOND).collect::<Vec<_>>(),
            [(3, &"c")],
            "b expired at its window, and is not seen though still held"
        );
        assert_eq!(journal.push("d", start + 12 * SECOND), 4, "numbers go on");
        assert_eq!(journal.len(), 1, "b and c were dropped by the write");
    }

    const SECOND: Duration = Duration::from_secs(1);

    fn retained(window_secs: u64, cap: usize) -> Retained<u64, &'static str> {
        Retained::new(Retention {
            window: Duration::from_secs(window_secs),
            cap,
        })
    }

    #[test]
    fn an_entry_is_kept_for_the_window_after_its_last_write() {
        let start = Instant::now();
        let mut map = retained(10, 100);
        map.insert(1, "first", start);
        assert_eq!(map.get(&1, start + 9 * SECOND), Some(&"first"));
        assert_eq!(
            map.get(&1, start + 10 * SECOND),
            None,
            "expired at the window"
        );

        map.insert(2, "written at 0", start);
        map.insert(2, "written again at 5", start + 5 * SECOND);
        assert_eq!(
            map.get(&2, start + 12 * SECOND),
            Some(&"written again at 5"),
            "a rewrite restarts the window"
        );
    }

    #[test]
    fn writes_drop_what_has_expired() {
        let start = Instant::now();
        let mut map = retained(10, 100);
        for key in 0..50 {
            map.insert(key, "old", start);
        }
        map.insert(1000, "new", start + 11 * SECOND);
        assert_eq!(map.len(), 1, "the 50 expired entries are gone from memory");
        assert_eq!(map.writes.len(), 1);
    }

    #[test]
    fn past_the_cap_the_least_recently_written_goes_first() {
        let start = Instant::now();
        let mut map = retained(1000, 3);
        map.insert(1, "a", start);
        map.insert(2, "b", start);
        map.insert(3, "c", start);
        map.insert(1, "a again", start + SECOND);
        map.insert(4, "d", start + 2 * SECOND);
        assert_eq!(map.len(), 3);
        assert_eq!(
            map.get(&2, start + 2 * SECOND),
            None,
            "2 was written least recently"
        );
        let live: Vec<_> = map
            .iter(start + 2 * SECOND)
            .map(|(k, v)| (*k, *v))
            .collect();
        assert_eq!(
            live,
            [(3, "c"), (1, "a again"), (4, "d")],
            "oldest write first"
        );
    }

    #[test]
    fn removed_and_rewritten_keys_do_not_pile_up_in_the_queue() {
        let start = Instant::now();
        let mut map = retained(1000, 1_000_000);
        map.insert(0, "kept", start);
        for round in 0..10_000 {
            map.insert(1, "rewritten", start + Duration::from_millis(round));
            map.insert(2, "removed", start);
            map.remove(&2);
        }
        assert_eq!(map.len(), 2);
        assert!(
            map.writes.len() <= 2 * map.len() + 1024 + 1,
            "queue of {} items for {} entries",
            map.writes.len(),
            map.len()
        );
    }
}
