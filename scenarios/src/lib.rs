//! # scenarios
//!
//! The black-box scenarios the order service's tests run, in a crate of their own so that
//! they run the same against services started in a test process and against any built
//! `order-service` binary.
//!
//! - [`services`]: starting a balance service and an order service, and talking to them.
//! - [`reported`]: what QA and customers reported, each as a setup and a check.
//! - [`disk`]: a slow disk on demand, for the storage incidents on-call reported.
//! - [`replicas`]: the service as several replicas behind one address.

pub mod disk;
pub mod replicas;
pub mod reported;
pub mod services;
