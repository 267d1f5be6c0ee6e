//! Black-box tests of the order service over HTTP, each against its own pair of services on
//! 127.0.0.1:0, started in this process.

mod bad_input;
mod orders;
mod reported;
mod retries;
