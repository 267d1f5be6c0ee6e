//! Black-box tests of the order service over HTTP, each against its own pair of
//! in-process services on 127.0.0.1:0.

mod bad_input;
mod balance_service;
mod concurrency;
mod helpers;
mod orders;
mod retries;
