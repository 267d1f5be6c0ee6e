//! A build without the Postgres store, asked for it, stops at start-up and says why. Started
//! on the memory store instead, each replica of a deployment would keep totals of its own.
#![cfg(not(feature = "postgres"))]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the order service with `args` and `env`, and what it printed once it exited. A
/// service still running after `limit` has started, which is a failure here.
fn run_briefly(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_order-service"))
        .args(args)
        .env_remove("ORDERS_STORE")
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .env("ORDERS_ADDR", "127.0.0.1:0")
        .env("ORDERS_STATS_FILE", scratch.path().join("stats.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the order service starts");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?} with {args:?} {env:?}: it started instead of refusing.\nstderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn assert_refused(args: &[&str], env: &[(&str, &str)]) {
    let output = run_briefly(args, env, Duration::from_secs(20));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "exited with {} on {args:?} {env:?}, expected a failure",
        output.status
    );
    assert!(
        said.contains("ORDERS_STORE") && said.contains("--features postgres"),
        "the refusal should name the setting and the build that honours it; stderr:\n{said}"
    );
}

#[test]
fn a_build_without_postgres_refuses_orders_store_postgres() {
    assert_refused(
        &[],
        &[
            ("ORDERS_STORE", "postgres"),
            ("DATABASE_URL", "postgres://orders@127.0.0.1:9/orders"),
        ],
    );
}

#[test]
fn a_build_without_postgres_refuses_the_store_flag() {
    assert_refused(&["--store", "postgres"], &[]);
}
