//! Where the order service keeps its state: each order's record (the order book,
//! [`crate::orders::book`]) and today's totals ([`crate::stats`]). Order processing is
//! written against the two traits those modules define, `Book` and `Totals`; the
//! implementations here keep everything in this process's memory (and the totals in a
//! file).

/// The order service's state could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        StoreError(error.to_string())
    }
}
