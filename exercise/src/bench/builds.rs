//! How long the harness takes an interviewer, and cold builds of this tree against an
//! older one's (`git archive` of each, built in fresh target directories).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::report::{Timed, Timing};

/// Runs `command`, failing with its output when it fails, and says how long it took.
fn timed(command: Command, what: &str) -> Result<Duration> {
    timed_with(command, what, &[0])
}

/// [`timed`], for a command whose exit codes in `expected` all mean it did its work (`grade`
/// exits 1 when a bug is not fixed, which an unmodified export never is).
fn timed_with(mut command: Command, what: &str, expected: &[i32]) -> Result<Duration> {
    eprintln!("==> {what}");
    let started = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot {what}"))?;
    let took = started.elapsed();
    if !output
        .status
        .code()
        .is_some_and(|code| expected.contains(&code))
    {
        bail!(
            "could not {what} ({}):\n{}",
            output.status,
            crate::tools::last_lines(&String::from_utf8_lossy(&output.stderr), 30)
        );
    }
    Ok(took)
}

/// This harness, as a command, on the repository at `root`.
fn harness(root: &Path) -> Result<Command> {
    let mut command = Command::new(std::env::current_exe().context("find this harness")?);
    command.arg("--root").arg(root);
    Ok(command)
}

/// A test a candidate adds, for `grade` to label.
const OWN_TEST: &str = "use scenarios::services::spawn_app;

/// A customer's balance is read from the balance service.
#[tokio::test]
async fn a_balance_is_read() {
    let app = spawn_app().await;
    assert_eq!(app.balance(1).await, app.balance(1).await);
}
";

/// Times what an interviewer waits for: `grade` on a fresh export with its build
/// directories removed (cold), the same again (warm; then without the sandbox, for what it
/// costs), again after a one-file change (until its black-box verdicts, and whole), again
/// with a test of the candidate's own to label, and `verify` of `builds` builds.
pub fn time_harness(root: &Path, scratch: &Path, builds: usize) -> Result<Vec<Timing>> {
    let candidate = scratch.join("grade-candidate");
    let _ = std::fs::remove_dir_all(&candidate);
    let mut export = harness(root)?;
    export.arg("export").arg("--out").arg(&candidate);
    timed(export, "export a candidate's crate")?;
    // Its builds and copies, removed for a cold grade.
    for dir in crate::grade::TARGET_DIRS
        .iter()
        .chain(&["target/grade-work"])
    {
        let _ = std::fs::remove_dir_all(root.join(dir));
    }
    let mut timings = Vec::new();
    for what in [
        Timed::GradeCold,
        Timed::GradeWarm,
        Timed::GradeWarmUnsandboxed,
        Timed::GradeOneFile,
        Timed::GradeOwnTest,
        Timed::GradeOwnTestCodeChanged,
    ] {
        let mut grade = harness(root)?;
        grade.arg("grade").arg(&candidate);
        match what {
            Timed::GradeWarmUnsandboxed => {
                grade.args(["--sandbox", "none"]);
            }
            Timed::GradeOneFile => {
                // A one-line change, as a candidate commits while trying a fix.
                change_one_file(&candidate)?;
                let (verdicts, took) = timed_until(grade, &what.to_string(), VERDICTS_LINE)?;
                timings.push(Timing {
                    what: Timed::GradeOneFileVerdicts,
                    took: verdicts,
                });
                timings.push(Timing { what, took });
                continue;
            }
            Timed::GradeOwnTest => {
                // What labelling adds: the export, each single-fix build, the reference and
                // their code, each built and the test run three times.
                std::fs::write(candidate.join("tests/own.rs"), OWN_TEST)?;
            }
            Timed::GradeOwnTestCodeChanged => change_one_file(&candidate)?,
            _ => {}
        }
        let took = timed_with(grade, &what.to_string(), &[0, 1])?;
        timings.push(Timing { what, took });
    }
    let mut verify = harness(root)?;
    verify.arg("verify");
    let what = Timed::Verify { builds };
    let took = timed(verify, &what.to_string())?;
    timings.push(Timing { what, took });
    Ok(timings)
}

/// Adds a line to one source file of the candidate's crate, as a commit while trying a fix.
fn change_one_file(candidate: &Path) -> Result<()> {
    let file = candidate.join("src/stats.rs");
    let mut text = std::fs::read_to_string(&file)?;
    text.push_str("\nconst _: () = ();\n");
    std::fs::write(&file, text)?;
    Ok(())
}

/// The line `grade` prints when the black-box checks have given every bug a verdict.
const VERDICTS_LINE: &str = "==> black-box verdicts after";

/// Runs `grade` (exit 0 or 1), and says how long it took until it printed a line starting
/// with `marker`, and until it was done.
fn timed_until(mut command: Command, what: &str, marker: &str) -> Result<(Duration, Duration)> {
    use std::io::BufRead as _;
    eprintln!("==> {what}");
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot {what}"))?;
    let stderr = child.stderr.take().context("grade's stderr")?;
    let mut seen = None;
    let mut said = Vec::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line?;
        if seen.is_none() && line.starts_with(marker) {
            seen = Some(started.elapsed());
        }
        said.push(line);
    }
    let status = child.wait()?;
    let took = started.elapsed();
    let tail = || said[said.len().saturating_sub(30)..].join("\n");
    if !status.code().is_some_and(|code| code == 0 || code == 1) {
        bail!("could not {what} ({status}):\n{}", tail());
    }
    let seen = seen.with_context(|| format!("{what}: no line `{marker}`:\n{}", tail()))?;
    Ok((seen, took))
}

/// Cold build times of the tree at `baseline` and of HEAD, alternating, each in a fresh
/// target directory: the candidate's export (`cargo build && cargo test --no-run`) and
/// `cargo build --release` of the order service, as `cargo run --release` builds it.
pub fn time_builds(root: &Path, baseline: &str, scratch: &Path) -> Result<Vec<Timing>> {
    let mut trees = Vec::new();
    for rev in [baseline, "HEAD"] {
        // Outside the repository: a tree under its target/ would be taken for a package of
        // its workspace.
        let dir = std::env::temp_dir()
            .join("order-service-bench-trees")
            .join(format!("tree-{}", rev.to_lowercase()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        crate::tools::git_archive(root, rev, &dir)?;
        // Each tree exports itself with its own harness (built once, untimed).
        let export = dir.join("candidate-export");
        // Before the workspace split the harness was a binary of the one package.
        let harness = if dir.join("exercise/Cargo.toml").exists() {
            ["--package", "exercise"]
        } else {
            ["--bin", "exercise"]
        };
        let mut command = crate::tools::cargo();
        command
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", scratch.join("harness"))
            .args(["run", "--quiet"])
            .args(harness)
            .args(["--", "export", "--out"])
            .arg(&export);
        timed(command, &format!("export the candidate's crate of {rev}"))?;
        trees.push((rev.to_owned(), dir, export));
    }
    let mut timings = Vec::new();
    for step in ["export", "release"] {
        for (rev, dir, export) in &trees {
            let target = scratch.join(format!("target-{step}-{}", rev.to_lowercase()));
            let _ = std::fs::remove_dir_all(&target);
            let took = if step == "export" {
                let mut build = crate::tools::cargo();
                build
                    .current_dir(export)
                    .env("CARGO_TARGET_DIR", &target)
                    .args(["build", "--quiet"]);
                let built = timed(build, &format!("{rev}: the export, cargo build"))?;
                let mut tests = crate::tools::cargo();
                tests
                    .current_dir(export)
                    .env("CARGO_TARGET_DIR", &target)
                    .args(["test", "--no-run", "--quiet"]);
                built + timed(tests, &format!("{rev}: the export, cargo test --no-run"))?
            } else {
                let mut build = crate::tools::cargo();
                build
                    .current_dir(dir)
                    .env("CARGO_TARGET_DIR", &target)
                    .args(["build", "--release", "--quiet", "--bin", "order-service"]);
                timed(
                    build,
                    &format!("{rev}: cargo build --release, a fresh clone"),
                )?
            };
            let _ = std::fs::remove_dir_all(&target);
            let what = match step {
                "export" => Timed::ExportBuild { rev: rev.clone() },
                _ => Timed::ReleaseBuild { rev: rev.clone() },
            };
            timings.push(Timing { what, took });
        }
    }
    Ok(timings)
}
