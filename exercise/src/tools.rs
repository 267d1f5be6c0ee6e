//! What several commands share: running cargo, building the order service, copying trees.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::manifest::Build;

/// A `cargo` command: the cargo that runs this harness when there is one (`$CARGO`).
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// How long the steps of a grade that run the candidate's code may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// A build: a cold build of the candidate's crate and its dependencies on a 2-core
    /// machine takes about 3 minutes.
    pub build: Duration,
    /// One run of the tests the candidate added, once built, when they are labelled.
    pub own_tests: Duration,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        build: Duration::from_secs(15 * 60),
        own_tests: Duration::from_secs(90),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Runs a cargo command within `limit`, failing with the tail of its output when it fails or
/// runs out of time.
pub fn run_cargo(command: Command, what: &str, limit: Duration) -> Result<()> {
    let run = run_limited(command, limit).with_context(|| format!("cannot {what}"))?;
    if !run.succeeded() {
        bail!(
            "could not {what}: {}:\n{}",
            run.ending(),
            last_lines(&run.output, 30)
        );
    }
    Ok(())
}

/// How a command run under a time limit ended, and everything it printed.
#[derive(Debug)]
pub struct Limited {
    /// How it exited; `None` when it was still running at the limit and was killed.
    pub status: Option<ExitStatus>,
    pub limit: Duration,
    /// Its stdout and stderr, interleaved as they came.
    pub output: String,
}

impl Limited {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// How it ended, for a message: `exit status: 101`, `still running after 15m: killed`.
    pub fn ending(&self) -> String {
        match self.status {
            Some(status) => status.to_string(),
            None => format!("still running after {:?}: killed", self.limit),
        }
    }
}

/// Runs `command` with its stdout and stderr in one pipe, and kills it, and every process
/// it started, if it is still running after `limit`. It runs in a process group of its own,
/// so that a test binary a `cargo test` started, or a server that test started, dies with it.
pub fn run_limited(command: Command, limit: Duration) -> Result<Limited> {
    // In a sandboxed grade's worker, every command run this way is cargo on the candidate's
    // code: it runs with the harness's repository hidden (see `sandbox::confined`).
    let mut command = crate::sandbox::confined(command);
    let (reader, writer) = std::io::pipe()?;
    command
        .stdin(std::process::Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0);
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {command:?}"))?;
    // The pipe's writing ends live only in the child now: the reader sees its end when the
    // child and everything it started are gone.
    drop(command);
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(read_capped(reader, OUTPUT_CAP));
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() >= limit {
            kill_group(child.id());
            // The leader at least, where `kill` cannot be run (a bwrap leader's sandbox
            // then ends with it).
            let _ = child.kill();
            child.wait()?;
            break None;
        }
        // Polled: std has no wait with a timeout, and a tenth of a second is nothing next to
        // a build or a test run.
        std::thread::sleep(Duration::from_millis(100));
    };
    // What the group printed; a process that left the group and kept the pipe open is not
    // waited for past a few seconds.
    let output = received
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    Ok(Limited {
        status,
        limit,
        output: String::from_utf8_lossy(&output).into_owned(),
    })
}

/// How much of a command's output [`run_limited`] keeps: its first and last halves of this,
/// with a line between them saying how much was left out.
pub const OUTPUT_CAP: usize = 16 << 20;

/// Everything `reader` gives until its end, but at most `cap` bytes of it: the first half and
/// the last half, and between them a line that says how many bytes were left out.
fn read_capped(mut reader: impl std::io::Read, cap: usize) -> Vec<u8> {
    let half = cap / 2;
    let mut head = Vec::new();
    let mut tail: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
    let mut left_out = 0u64;
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let read = match reader.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let mut bytes = &chunk[..read];
        let room = half.saturating_sub(head.len());
        head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        bytes = &bytes[room.min(bytes.len())..];
        tail.extend(bytes.iter().copied());
        if tail.len() > half {
            let over = tail.len() - half;
            tail.drain(..over);
            left_out += over as u64;
        }
    }
    if left_out > 0 {
        head.extend_from_slice(
            format!("\n[... {left_out} bytes of output left out ...]\n").as_bytes(),
        );
    }
    head.extend(tail);
    head
}

/// Kills the process group `pgid` leads, without waiting.
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
}

/// The last `count` lines of `text`.
pub fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<_> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// Builds `order-service` as `build` (release) and copies it out of `target/`, so builds
/// with different features can sit side by side.
pub fn build_binary(root: &Path, build: &Build) -> Result<PathBuf> {
    let mut command = cargo();
    command
        .current_dir(root)
        .env_remove("RUSTFLAGS")
        .args(["build", "--release", "--quiet", "--bin", "order-service"])
        .args(build.cargo_args());
    run_cargo(
        command,
        &format!("build the {build} order-service"),
        Limits::DEFAULT.build,
    )?;
    let built = root.join("target/release/order-service");
    let dir = root.join("target/exercise/bin");
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join(format!("order-service-{build}"));
    std::fs::copy(&built, &copy).with_context(|| format!("copy {}", built.display()))?;
    Ok(copy)
}

/// Builds the release `balance-service` binary.
pub fn build_balance(root: &Path) -> Result<PathBuf> {
    let mut command = cargo();
    command.current_dir(root).env_remove("RUSTFLAGS").args([
        "build",
        "--release",
        "--quiet",
        "--package",
        "balance-service",
        "--bin",
        "balance-service",
    ]);
    run_cargo(command, "build the balance-service", Limits::DEFAULT.build)?;
    Ok(root.join("target/release/balance-service"))
}

/// Writes the tree of `rev` in the git repository at `repo` into the folder `out` (which
/// must exist): `git archive REV | tar -x`.
pub fn git_archive(repo: &Path, rev: &str, out: &Path) -> Result<()> {
    let status = Command::new("sh")
        .arg("-c")
        .arg("git -C \"$1\" archive \"$2\" | tar -x -C \"$3\"")
        .args(["git-archive", &repo.display().to_string(), rev])
        .arg(out)
        .status()
        .context("run git archive")?;
    if !status.success() {
        bail!("git archive {rev} of {} failed", repo.display());
    }
    Ok(())
}

/// Copies the file or folder `from` to `to`, over whatever is there, leaving out every path
/// `skip` names (and what is under it).
pub fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<()> {
    let walk = walkdir::WalkDir::new(from)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| !skip(entry.path()));
    for entry in walk {
        let entry = entry.with_context(|| format!("read {}", from.display()))?;
        let relative = entry.path().strip_prefix(from)?;
        let target = if relative.as_os_str().is_empty() {
            to.to_path_buf()
        } else {
            to.join(relative)
        };
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)
                .with_context(|| format!("create {}", target.display()))?;
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(entry.path(), &target).with_context(|| {
                format!("copy {} to {}", entry.path().display(), target.display())
            })?;
        }
    }
    Ok(())
}

/// Runs `git` in `dir`, failing with what it said.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .context("run git")?;
    if !output.status.success() {
        bail!(
            "git {} in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Sets `path`'s modification time to `when`: for a file kept for reuse, its last use.
pub fn touch(path: &Path, when: std::time::SystemTime) -> std::io::Result<()> {
    std::fs::File::options()
        .append(true)
        .open(path)?
        .set_modified(when)
}

/// Removes the files in `dir` (not under it) last modified more than `unused_for` before
/// `now`, except `keep` if given: files kept for reuse, and [`touch`]ed at each use.
pub fn remove_unused(
    dir: &Path,
    now: std::time::SystemTime,
    unused_for: Duration,
    keep: Option<&Path>,
) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let unused = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|used| now.duration_since(used).ok())
            .is_some_and(|age| age > unused_for);
        if unused && keep != Some(entry.path().as_path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Every file under `dir`, sorted, leaving out what `skip` names (and what is under it).
pub fn files_under(dir: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| !skip(entry.path()));
    for entry in walk {
        let entry = entry.with_context(|| format!("read {}", dir.display()))?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// A path of a `target/` or `.git/` folder: build output and history, never copied.
pub fn is_build_or_history(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name == "target" || name == ".git")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_past_its_limit_is_killed_with_what_it_started() {
        let mut command = Command::new("sh");
        // The shell starts a second process that would outlive it, and never exits itself.
        command.args(["-c", "echo started; sleep 600 & sleep 600"]);
        let run = run_limited(command, Duration::from_millis(300)).unwrap();
        assert!(run.timed_out(), "{run:?}");
        // Read in full: the pipe closed, so the background sleep died with the group.
        assert_eq!(run.output, "started\n");
        assert!(run.ending().contains("killed"), "{}", run.ending());
        let mut quick = Command::new("sh");
        quick.args(["-c", "echo out; echo err >&2; exit 3"]);
        let run = run_limited(quick, Duration::from_secs(60)).unwrap();
        assert!(!run.succeeded() && !run.timed_out(), "{run:?}");
        assert_eq!(run.output, "out\nerr\n");
    }

    #[test]
    fn output_past_the_cap_keeps_its_start_and_its_end() {
        let text: Vec<u8> = (0..100u8).collect();
        assert_eq!(
            read_capped(&text[..], 1000),
            text,
            "under the cap: all of it"
        );
        let kept = read_capped(&text[..], 20);
        let expected = [
            &text[..10],
            b"\n[... 80 bytes of output left out ...]\n".as_slice(),
            &text[90..],
        ]
        .concat();
        assert_eq!(kept, expected);
    }

    #[test]
    fn a_commit_is_written_out_as_it_was() {
        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .current_dir(repo.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(repo.path().join("a.rs"), "handed over").unwrap();
        git(&["add", "-A"]);
        git(&["commit", "-qm", "export"]);
        std::fs::write(repo.path().join("a.rs"), "changed").unwrap();
        let out = tempfile::tempdir().unwrap();
        git_archive(repo.path(), "HEAD", out.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.path().join("a.rs")).unwrap(),
            "handed over"
        );
    }

    #[test]
    fn a_tree_is_copied_without_what_is_skipped() {
        let from = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("src/inner")).unwrap();
        std::fs::create_dir_all(from.path().join("target/debug")).unwrap();
        std::fs::write(from.path().join("src/inner/a.rs"), "a").unwrap();
        std::fs::write(from.path().join("target/debug/x"), "x").unwrap();
        std::fs::write(from.path().join("Cargo.toml"), "c").unwrap();
        let to = tempfile::tempdir().unwrap();
        let copy = to.path().join("copy");
        copy_tree(from.path(), &copy, &is_build_or_history).unwrap();
        let copied: Vec<_> = files_under(&copy, &|_| false)
            .unwrap()
            .into_iter()
            .map(|p| p.strip_prefix(&copy).unwrap().display().to_string())
            .collect();
        assert_eq!(copied, ["Cargo.toml", "src/inner/a.rs"]);
        let one = to.path().join("one.toml");
        copy_tree(&from.path().join("Cargo.toml"), &one, &|_| false).unwrap();
        assert_eq!(std::fs::read_to_string(one).unwrap(), "c");
    }
}
