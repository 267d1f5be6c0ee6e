//! `exercise`: the interviewer's harness, run as `cargo exercise COMMAND` (an alias in
//! `.cargo/config.toml`). It reads the bugs from `variants/*/bug.toml` and their checks from
//! `variants/*/checks.rs`; each command is a module with its own flags and `run`.
//!
//! Plumbing every command shares: [`manifest`] (the bugs and their builds), [`catalog`]
//! (the checks and what a failure means), [`libtest`] (running tests, reading outcomes),
//! [`child`] (services as child processes), [`drive`] (a scenario against a binary),
//! [`tools`] (cargo, copying trees), [`trees`] (build trees kept warm), [`lb`] (nginx), and
//! [`facts`] (what must agree across the repository, checked by a unit test).

mod bench;
mod catalog;
mod child;
mod demo;
mod drive;
mod export;
#[cfg(test)]
mod facts;
mod grade;
mod hostile;
mod info;
mod lb;
mod libtest;
mod manifest;
mod replicas;
mod repro;
mod sandbox;
mod selftest;
mod session;
mod tools;
mod trees;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "The interviewer's harness for the order-service debugging exercise"
)]
struct Cli {
    /// The exercise's repository (where variants/ is).
    #[arg(long, global = true, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/.."))]
    root: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    List(info::ListArgs),
    Info(info::InfoArgs),
    Verify(verify::Args),
    Export(export::Args),
    Grade(grade::Args),
    Selftest(selftest::Args),
    Session(session::Args),
    Repro(repro::Args),
    Replicas(replicas::Args),
    Bench(bench::Args),
    Demo(demo::Args),
    /// The grade inside a sandbox: started by a grade, never by hand.
    #[command(hide = true)]
    GradeWorker(grade::worker::WorkerArgs),
}

/// The repository the harness works on.
pub struct Project {
    pub root: PathBuf,
}

impl Project {
    /// Its bugs, from `variants/*/bug.toml`.
    pub fn bugs(&self) -> Result<Vec<manifest::Bug>> {
        Ok(manifest::load(&self.root)?)
    }
}

/// A runtime for the commands that talk to services.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start a tokio runtime")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `exercise/..` as the default says it, resolved: paths printed from it read plainly.
    let root = cli.root.canonicalize().unwrap_or(cli.root);
    let project = Project { root };
    let outcome = match cli.command {
        Command::List(args) => args.run(&project),
        Command::Info(args) => args.run(&project),
        Command::Verify(args) => args.run(&project),
        Command::Export(args) => args.run(&project),
        Command::Grade(args) => args.run(&project),
        Command::Selftest(args) => args.run(&project),
        Command::Session(args) => args.run(&project),
        Command::Repro(args) => args.run(&project),
        Command::Replicas(args) => args.run(&project),
        Command::Bench(args) => args.run(&project),
        Command::Demo(args) => args.run(&project),
        Command::GradeWorker(args) => args.run(&project),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(2)
    })
}
