//! Black-box tests of the order service over HTTP, each against its own pair of
//! in-process services on 127.0.0.1:0. (Not part of loom builds: see tests/loom.rs.)
#![cfg(not(orders_loom))]

mod bad_input;
mod balance_service;
mod helpers;
mod orders;
mod reported;
mod retries;
mod scenarios;
