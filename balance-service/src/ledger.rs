//! The balance service's state: accounts, the ledger of applied deductions, and what each
//! idempotency key has seen. Idempotency records and ledger entries are kept for a retention
//! window after their last write, and up to a cap ([`Retention`]); a key used again after
//! its record expired is a new request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::api::{Deduction, DeductionRequest};
use crate::money::Cents;
use crate::retained::{Journal, Retained, Retention};
use crate::sync::{Mutex, lock};

/// Customers 1..=5 and their balances, as in the original exercise.
pub const SEED_BALANCES: [(u64, Cents); 5] = [
    (1, Cents::dollars(500)),
    (2, Cents::dollars(1000)),
    (3, Cents::dollars(250)),
    (4, Cents::dollars(750)),
    (5, Cents::dollars(100)),
];

/// One applied deduction. Its reference and key are the strings its idempotency record
/// holds, shared: a million retained records would otherwise hold each several times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub deduction_id: u64,
    pub customer_id: u64,
    pub amount: Cents,
    pub reference: Arc<str>,
    pub idempotency_key: Option<Arc<str>>,
    pub balance_after: Cents,
}

/// Why a deduction was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Insufficient { balance: Cents, requested: Cents },
    UnknownCustomer(u64),
}

/// The final outcome of a deduction request, as stored for its idempotency key.
pub type Outcome = Result<Deduction, Refusal>;

/// What a request with an idempotency key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Claim {
    /// First time this key is seen: go ahead, then apply or release it.
    Fresh,
    /// A request with this key is being processed right now.
    InFlight,
    /// The key has a stored outcome for the same request: answer it again.
    Replay(Outcome),
    /// The key was used for a different request.
    Mismatch,
}

/// Why a request with an idempotency key cannot be processed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyConflict {
    /// A request with this key is being processed.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// A deduction request admitted for processing by [`Ledger::begin`]: [`Ledger::finish`] it,
/// or [`Ledger::abandon`] it if it fails before it is applied.
#[derive(Debug)]
#[must_use = "a ticket holds its idempotency key until it is finished or abandoned"]
pub struct Ticket {
    customer_id: u64,
    request: DeductionRequest,
    key: Option<String>,
    /// The stored outcome, when the request repeats one already answered.
    replay: Option<Outcome>,
}

/// The answer to a finished ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub outcome: Outcome,
    /// The outcome is a stored one, given again; nothing was charged this time.
    pub replayed: bool,
}

/// What a key has seen, for `GET /deductions/{key}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStatus {
    InFlight,
    Done(Outcome),
}

/// What a key was first sent with, and what it came to.
#[derive(Debug)]
struct KeyRecord {
    customer_id: u64,
    amount: Cents,
    reference: Arc<str>,
    /// `None` while in flight.
    outcome: Option<Stored>,
}

/// An [`Outcome`] without what its record already holds (the customer, the amount asked
/// for): a million records are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    Applied {
        deduction_id: u64,
        new_balance: Cents,
    },
    Insufficient {
        balance: Cents,
    },
    UnknownCustomer,
}

impl KeyRecord {
    /// The outcome it stores, whole.
    fn outcome(&self) -> Option<Outcome> {
        Some(match self.outcome? {
            Stored::Applied {
                deduction_id,
                new_balance,
            } => Ok(Deduction {
                customer_id: self.customer_id,
                new_balance,
                deduction_id,
            }),
            Stored::Insufficient { balance } => Err(Refusal::Insufficient {
                balance,
                requested: self.amount,
            }),
            Stored::UnknownCustomer => Err(Refusal::UnknownCustomer(self.customer_id)),
        })
    }

    /// Stores `outcome`, an outcome of this record's request.
    fn settle(&mut self, outcome: &Outcome) {
        self.outcome = Some(match *outcome {
            Ok(Deduction {
                deduction_id,
                new_balance,
                ..
            }) => Stored::Applied {
                deduction_id,
                new_balance,
            },
            Err(Refusal::Insufficient { balance, .. }) => Stored::Insufficient { balance },
            Err(Refusal::UnknownCustomer(_)) => Stored::UnknownCustomer,
        });
    }

    /// Whether `request` for `customer_id` is the request this key was first sent with.
    fn is_for(&self, customer_id: u64, request: &DeductionRequest) -> bool {
        (self.customer_id, self.amount, &*self.reference)
            == (customer_id, request.amount, request.reference.as_str())
    }
}

#[derive(Debug)]
struct State {
    accounts: BTreeMap<u64, Cents>,
    /// Applied deductions, numbered by their id, oldest first.
    entries: Journal<LedgerEntry>,
    /// Each key's record, under the key the ledger entry of its deduction shares.
    keys: Retained<Arc<str>, KeyRecord>,
}

impl State {
    fn opening(accounts: &[(u64, Cents)], retention: Retention) -> Self {
        State {
            accounts: accounts.iter().copied().collect(),
            entries: Journal::new(retention),
            keys: Retained::new(retention),
        }
    }
}

/// The balance service's books. A std `Mutex`, because no critical section here awaits.
#[derive(Debug)]
pub struct Ledger {
    state: Mutex<State>,
    /// The balances it opens with, and goes back to on reset.
    opening: Vec<(u64, Cents)>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::seeded()
    }
}

impl Ledger {
    /// The seed accounts and an empty ledger, with the default retention.
    pub fn seeded() -> Self {
        Ledger::new(&SEED_BALANCES, Retention::DEFAULT)
    }

    /// `accounts` and an empty ledger, keeping idempotency records and ledger entries as
    /// `retention` says.
    pub fn new(accounts: &[(u64, Cents)], retention: Retention) -> Self {
        Ledger {
            state: Mutex::new(State::opening(accounts, retention)),
            opening: accounts.to_vec(),
        }
    }

    /// Back to the opening balances, with no deductions and no idempotency records.
    pub fn reset(&self) {
        let mut state = lock(&self.state);
        let retention = state.keys.retention();
        *state = State::opening(&self.opening, retention);
    }

    pub fn balance(&self, customer_id: u64) -> Option<Cents> {
        lock(&self.state).accounts.get(&customer_id).copied()
    }

    /// Admits a deduction request. With a key it is claimed first: a repeat of a finished
    /// request is admitted as a replay, a repeat of one in flight or a different request
    /// under the same key is refused.
    pub fn begin(
        &self,
        customer_id: u64,
        request: DeductionRequest,
        key: Option<String>,
    ) -> Result<Ticket, KeyConflict> {
        let replay = match &key {
            None => None,
            Some(key) => match self.claim(key, customer_id, &request) {
                Claim::Fresh => None,
                Claim::Replay(outcome) => Some(outcome),
                Claim::InFlight => return Err(KeyConflict::InFlight),
                Claim::Mismatch => return Err(KeyConflict::Mismatch),
            },
        };
        Ok(Ticket {
            customer_id,
            request,
            key,
            replay,
        })
    }

    /// Applies the ticket's deduction (funds check and deduction in one step) and stores the
    /// outcome under its key, or gives the stored outcome again for a replay.
    pub fn finish(&self, ticket: Ticket) -> Finished {
        match ticket.replay {
            Some(outcome) => Finished {
                outcome,
                replayed: true,
            },
            None => Finished {
                outcome: self.apply(ticket.customer_id, &ticket.request, ticket.key.as_deref()),
                replayed: false,
            },
        }
    }

    /// Drops a ticket that failed before it was applied, freeing its key for a retry.
    pub fn abandon(&self, ticket: Ticket) {
        if let (None, Some(key)) = (&ticket.replay, &ticket.key) {
            self.release(key);
        }
    }

    /// Reserves `key` for this request, or says why it cannot go ahead.
    fn claim(&self, key: &str, customer_id: u64, request: &DeductionRequest) -> Claim {
        let now = Instant::now();
        let mut state = lock(&self.state);
        match state.keys.get(key, now) {
            None => {
                state.keys.insert(
                    Arc::from(key),
                    KeyRecord {
                        customer_id,
                        amount: request.amount,
                        reference: Arc::from(request.reference.as_str()),
                        outcome: None,
                    },
                    now,
                );
                Claim::Fresh
            }
            Some(record) if !record.is_for(customer_id, request) => Claim::Mismatch,
            Some(record) => match record.outcome() {
                None => Claim::InFlight,
                Some(outcome) => Claim::Replay(outcome),
            },
        }
    }

    /// Gives up a [`Claim::Fresh`] key without an outcome, so the request can be made again.
    fn release(&self, key: &str) {
        let mut state = lock(&self.state);
        if state
            .keys
            .get(key, Instant::now())
            .is_some_and(|r| r.outcome.is_none())
        {
            state.keys.remove(key);
        }
    }

    /// Checks the funds and deducts, in one step; stores the outcome under `key`, if any.
    fn apply(&self, customer_id: u64, request: &DeductionRequest, key: Option<&str>) -> Outcome {
        let now = Instant::now();
        let mut state = lock(&self.state);
        // The ledger entry shares the key's record's strings.
        let recorded = key.and_then(|key| {
            let reference = state.keys.get_mut(key)?.reference.clone();
            Some((state.keys.key_of(key)?, reference))
        });
        let (shared_key, reference) = match recorded {
            Some((key, reference)) => (Some(key), reference),
            None => (key.map(Arc::from), Arc::from(request.reference.as_str())),
        };
        let outcome = match state.accounts.get(&customer_id).copied() {
            None => Err(Refusal::UnknownCustomer(customer_id)),
            Some(balance) if balance < request.amount => Err(Refusal::Insufficient {
                balance,
                requested: request.amount,
            }),
            Some(balance) => {
                let new_balance = balance - request.amount;
                state.accounts.insert(customer_id, new_balance);
                let deduction_id = state.entries.next_number();
                let entry = LedgerEntry {
                    deduction_id,
                    customer_id,
                    amount: request.amount,
                    reference,
                    idempotency_key: shared_key,
                    balance_after: new_balance,
                };
                state.entries.push(entry, now);
                Ok(Deduction {
                    customer_id,
                    new_balance,
                    deduction_id,
                })
            }
        };
        // Its window runs on from the claim, a moment before: rewriting the record to start
        // it again would cost the retention queue a second item per key.
        if let Some(record) = key.and_then(|key| state.keys.get_mut(key)) {
            record.settle(&outcome);
        }
        outcome
    }

    /// What the request with `key` came to, if one was ever received.
    pub fn key_status(&self, key: &str) -> Option<KeyStatus> {
        lock(&self.state)
            .keys
            .get(key, Instant::now())
            .map(|record| match record.outcome() {
                None => KeyStatus::InFlight,
                Some(outcome) => KeyStatus::Done(outcome),
            })
    }

    /// The applied deductions, oldest first; only those for `reference` when given.
    pub fn entries(&self, reference: Option<&str>) -> Vec<LedgerEntry> {
        lock(&self.state)
            .entries
            .iter(Instant::now())
            .map(|(_, entry)| entry)
            .filter(|entry| reference.is_none_or(|r| *entry.reference == *r))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dollars: i64) -> DeductionRequest {
        DeductionRequest {
            amount: Cents::dollars(dollars),
            reference: "order-1".into(),
        }
    }

    #[test]
    fn a_deduction_needs_the_funds_and_leaves_one_ledger_entry() {
        let ledger = Ledger::seeded();
        assert_eq!(
            ledger.apply(3, &request(300), None),
            Err(Refusal::Insufficient {
                balance: Cents::dollars(250),
                requested: Cents::dollars(300)
            })
        );
        let deduction = ledger.apply(3, &request(250), None).unwrap();
        assert_eq!(deduction.new_balance, Cents::ZERO);
        assert_eq!(ledger.entries(Some("order-1")).len(), 1);
        assert_eq!(
            ledger.apply(9, &request(1), None),
            Err(Refusal::UnknownCustomer(9))
        );
    }

    #[test]
    fn a_key_is_fresh_then_in_flight_then_replayed_and_refused_for_another_request() {
        let ledger = Ledger::seeded();
        assert_eq!(ledger.claim("k", 1, &request(50)), Claim::Fresh);
        assert_eq!(ledger.claim("k", 1, &request(50)), Claim::InFlight);
        assert_eq!(ledger.key_status("k"), Some(KeyStatus::InFlight));
        let outcome = ledger.apply(1, &request(50), Some("k"));
        assert_eq!(
            ledger.claim("k", 1, &request(50)),
            Claim::Replay(outcome.clone())
        );
        assert_eq!(ledger.claim("k", 1, &request(60)), Claim::Mismatch);
        assert_eq!(ledger.claim("k", 2, &request(50)), Claim::Mismatch);
        assert_eq!(ledger.key_status("k"), Some(KeyStatus::Done(outcome)));
        assert_eq!(ledger.balance(1), Some(Cents::dollars(450)));
    }

    #[test]
    fn a_released_key_can_be_claimed_again_and_reset_forgets_everything() {
        let ledger = Ledger::seeded();
        assert_eq!(ledger.claim("k", 1, &request(50)), Claim::Fresh);
        ledger.release("k");
        assert_eq!(ledger.key_status("k"), None);
        assert_eq!(ledger.claim("k", 1, &request(50)), Claim::Fresh);
        ledger.apply(1, &request(50), Some("k")).unwrap();
        ledger.reset();
        assert_eq!(ledger.key_status("k"), None);
        assert!(ledger.entries(None).is_empty());
        assert_eq!(ledger.balance(1), Some(Cents::dollars(500)));
    }

    #[test]
    fn past_the_retention_cap_the_oldest_key_and_entry_are_forgotten() {
        let retention = Retention {
            window: std::time::Duration::from_secs(3600),
            cap: 2,
        };
        let ledger = Ledger::new(&SEED_BALANCES, retention);
        for key in ["a", "b", "c"] {
            assert_eq!(ledger.claim(key, 1, &request(10)), Claim::Fresh);
            ledger.apply(1, &request(10), Some(key)).unwrap();
        }
        assert_eq!(ledger.key_status("a"), None, "a's record was pushed out");
        assert_eq!(
            ledger.claim("a", 1, &request(10)),
            Claim::Fresh,
            "a key sent again after its record is gone is a new request"
        );
        let ids: Vec<u64> = ledger
            .entries(None)
            .iter()
            .map(|e| e.deduction_id)
            .collect();
        assert_eq!(ids, [2, 3], "the two newest entries, numbered as applied");
        assert_eq!(
            ledger.balance(1),
            Some(Cents::dollars(470)),
            "balances are never forgotten"
        );
    }
}
