//! `exercise selftest --hostile`: crates that attack the machine that grades them, graded in
//! the sandbox. Each case of `exercise/hostile/<case>/` is the default export with the files
//! of its `files/` laid over it (`@CANARY@`, `@PORT@` and `@ROOT@` in them replaced by a
//! canary directory of the machine's `/tmp` with a secret in it, a port this process listens
//! on at 127.0.0.1, and this repository; a `src/main.before.rs` goes into the export's
//! `main`, see [`lay_over`]), and a `case.toml`:
//!
//! ```toml
//! description = "what it tries"
//! outcome = "graded"          # | "not_gradable": what the grade must come to
//! verdict = "not_fixed"       # optional: the verdict every bug of a graded case gets
//! build_limit_secs = 60       # optional: each build's time limit, for a build that never ends
//! own_tests_limit_secs = 20   # optional: each run's limit of the tests the candidate added
//! ```
//!
//! A case holds when the grade comes to its outcome (a graded one with a verdict for every
//! bug, not a forged, empty scorecard), the canary directory and the home directory are as
//! they were, and nothing connected to the port.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::catalog::Verdict;
use crate::export;
use crate::grade;
use crate::manifest::{self, Bug};
use crate::sandbox::Sandbox;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    outcome: Outcome,
    #[serde(default)]
    verdict: Option<Verdict>,
    #[serde(default)]
    build_limit_secs: Option<u64>,
    #[serde(default)]
    own_tests_limit_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    /// It builds and gets verdicts.
    Graded,
    /// The grade stops with the reason.
    NotGradable,
}

/// What a file's path, size and modification time were: enough to see a write.
type Snapshot = BTreeMap<PathBuf, (u64, Option<SystemTime>)>;

/// The files under `dir`, `depth` levels down at most (a write anyone would notice is near
/// the top), but for those of `skip`.
fn snapshot(dir: &Path, depth: usize, skip: &[PathBuf]) -> Snapshot {
    walkdir::WalkDir::new(dir)
        .max_depth(depth)
        .into_iter()
        .filter_entry(|entry| !skip.iter().any(|s| entry.path().starts_with(s)))
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            // A directory by its being there: what changes in it shows by its files.
            let seen = match meta.is_dir() {
                true => (0, None),
                false => (meta.len(), meta.modified().ok()),
            };
            Some((entry.into_path(), seen))
        })
        .collect()
}

/// What changed between two snapshots, a line each.
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut found = Vec::new();
    for (path, was) in before {
        match after.get(path) {
            None => found.push(format!("{} was removed", path.display())),
            Some(now) if now != was => found.push(format!("{} was changed", path.display())),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|path| !before.contains_key(*path)) {
        found.push(format!("{} was created", path.display()));
    }
    found
}

/// Runs every hostile case (or those named in `only`) under `sandbox`; the report, and
/// whether all held.
pub async fn run(
    root: &Path,
    bugs: &[Bug],
    only: &[String],
    sandbox: Sandbox,
) -> Result<(String, bool)> {
    if sandbox == Sandbox::None {
        bail!(
            "the hostile corpus attacks the machine that grades it: it runs only in a sandbox \
             (--sandbox bwrap or docker)"
        );
    }
    let cases_dir = root.join("exercise/hostile");
    let mut names: Vec<String> = std::fs::read_dir(&cases_dir)
        .with_context(|| format!("read {}", cases_dir.display()))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("case.toml").exists())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| only.is_empty() || only.contains(name))
        .collect();
    names.sort();
    let chosen = manifest::choose(bugs, &[])?;
    let home = crate::sandbox::home();
    // The toolchain and the registry: the sandbox shows them read-only, and cargo outside it
    // (the grade's fetch, and any other build on the machine) keeps its caches there.
    let toolchain = crate::sandbox::toolchain();
    let mut report = String::new();
    let mut all_held = true;
    for name in names {
        eprintln!("\n==> hostile: {name}");
        let case_dir = cases_dir.join(&name);
        let case: Case = toml::from_str(&std::fs::read_to_string(case_dir.join("case.toml"))?)
            .with_context(|| format!("read {}/case.toml", case_dir.display()))?;
        let scratch = root.join("target/hostile").join(&name);
        let _ = std::fs::remove_dir_all(&scratch);
        let crate_dir = scratch.join("crate");
        // Outside the repository and the sandbox's writable directories, where nothing of a
        // grade has any business.
        let canary_dir = tempfile::Builder::new()
            .prefix("exercise-canary-")
            .tempdir()?;
        let canary = canary_dir.path().to_path_buf();
        std::fs::write(
            canary.join("secret.txt"),
            "what a build has no business reading\n",
        )?;
        export::export(root, bugs, &chosen, &crate_dir, export::Options::default())?;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let accepting = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        lay_over(&case_dir.join("files"), &crate_dir, root, &canary, port)?;

        let look = || {
            (
                snapshot(&canary, 8, &[]),
                home.as_ref().map(|h| snapshot(h, 2, &toolchain)),
            )
        };
        let before = look();
        let started = Instant::now();
        let options = grade::Options {
            seeds: 1,
            clippy: false,
            rounds: 1,
            own_tests: true,
            // One work directory for every case, as an interviewer's successive grades
            // share theirs: each case's copy is brought up to date file by file, so only
            // what the case changed is built again.
            work: Some(root.join("target/hostile-work")),
            given: None,
            progress: None,
            sandbox,
            limits: {
                let default = crate::tools::Limits::DEFAULT;
                let secs = std::time::Duration::from_secs;
                crate::tools::Limits {
                    build: case.build_limit_secs.map_or(default.build, secs),
                    own_tests: case.own_tests_limit_secs.map_or(default.own_tests, secs),
                }
            },
        };
        let graded = grade::grade(root, bugs, &chosen, &crate_dir, &options).await;
        let took = started.elapsed();
        accepting.abort();
        let after = look();

        let mut found = changes(&before.0, &after.0);
        if let (Some(before), Some(after)) = (&before.1, &after.1) {
            found.extend(changes(before, after));
        }
        let connected = connections.load(Ordering::SeqCst);
        if connected > 0 {
            found.push(format!(
                "{connected} connection(s) reached 127.0.0.1:{port}, outside the sandbox"
            ));
        }
        let (outcome, said) = match &graded {
            Ok(card) => (
                Outcome::Graded,
                card.bugs
                    .iter()
                    .map(|b| format!("{} {}", b.bug, b.verdict.label()))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Err(problem) => (Outcome::NotGradable, format!("not gradable: {problem:#}")),
        };
        if outcome != case.outcome {
            found.push(format!("expected {:?}, came to {outcome:?}", case.outcome));
        }
        if let Ok(card) = &graded {
            // The worker's scorecard, not one the candidate's code wrote in its place.
            if card.bugs.len() != chosen.len() {
                found.push(format!(
                    "the scorecard grades {} bug(s), the export has {}",
                    card.bugs.len(),
                    chosen.len()
                ));
            }
            if let Some(verdict) = case.verdict {
                for bug in card.bugs.iter().filter(|b| b.verdict != verdict) {
                    found.push(format!(
                        "{} was graded {}, expected {}",
                        bug.bug,
                        bug.verdict.label(),
                        verdict.label()
                    ));
                }
            }
        }
        all_held &= found.is_empty();
        let _ = writeln!(
            report,
            "{name:<28} {:<16} {:>6.0?}  {}",
            match outcome {
                Outcome::Graded => "graded",
                Outcome::NotGradable => "not gradable",
            },
            took,
            if found.is_empty() { "ok" } else { "MISMATCH" }
        );
        let _ = writeln!(report, "    {}", case.description);
        // The first line, and for a grade that stopped, its output's last: why it stopped.
        let first_line = said.lines().next().unwrap_or_default();
        let _ = writeln!(report, "    {first_line:.240}");
        if let Some(last_line) = said.lines().skip(1).filter(|l| !l.trim().is_empty()).last() {
            let _ = writeln!(report, "    ... {:.240}", last_line.trim());
        }
        if let Ok(card) = &graded {
            let _ = writeln!(report, "    sandbox: {}", card.sandbox);
        }
        // A handful, then how many more: a build that writes everywhere is one finding.
        for problem in found.iter().take(5) {
            let _ = writeln!(report, "    MISMATCH: {problem}");
        }
        if found.len() > 5 {
            let _ = writeln!(report, "    and {} more", found.len() - 5);
        }
    }
    Ok((report, all_held))
}

/// Copies the case's files over the crate, with the canary and the port written in.
/// `files/src/main.before.rs` is not laid as a file of its own: its items go at the top of the
/// export's `src/main.rs`, and its `hostile()` is called first thing in `main`, so that a
/// case's binary misbehaves at each start and then serves as the export does.
fn lay_over(files: &Path, crate_dir: &Path, root: &Path, canary: &Path, port: u16) -> Result<()> {
    const BEFORE_MAIN: &str = "src/main.before.rs";
    const MAIN: &str = "async fn main() -> ExitCode {\n";
    for file in crate::tools::files_under(files, &|_| false)? {
        let relative = file.strip_prefix(files)?;
        let text = std::fs::read_to_string(&file)?
            .replace("@ROOT@", &root.display().to_string())
            .replace("@CANARY@", &canary.display().to_string())
            .replace("@PORT@", &port.to_string());
        if relative == Path::new(BEFORE_MAIN) {
            let main = crate_dir.join("src/main.rs");
            let exported = std::fs::read_to_string(&main)?;
            let Some(at) = exported.find(MAIN) else {
                bail!("{}: no {MAIN:?} to call hostile() from", main.display());
            };
            let at = at + MAIN.len();
            let laid = format!(
                "{text}\n{}    hostile();\n{}",
                &exported[..at],
                &exported[at..]
            );
            std::fs::write(&main, laid)?;
            continue;
        }
        let to = crate_dir.join(relative);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&to, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_a_write_a_removal_and_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kept"), "a").unwrap();
        std::fs::write(dir.path().join("changed"), "a").unwrap();
        std::fs::write(dir.path().join("removed"), "a").unwrap();
        let before = snapshot(dir.path(), 2, &[]);
        std::fs::write(dir.path().join("changed"), "ab").unwrap();
        std::fs::remove_file(dir.path().join("removed")).unwrap();
        std::fs::write(dir.path().join("new"), "a").unwrap();
        let found = changes(&before, &snapshot(dir.path(), 2, &[]));
        let names: Vec<&str> = found
            .iter()
            .map(|line| line.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "changed was changed",
                "removed was removed",
                "new was created"
            ],
            "{found:?}"
        );
    }

    #[test]
    fn every_hostile_case_reads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(root.join("hostile")).unwrap() {
            let path = entry.unwrap().path().join("case.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            toml::from_str::<Case>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}
