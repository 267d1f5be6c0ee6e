//! What several commands share: running cargo, building the order service, copying trees.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::manifest::Build;

/// A `cargo` command: the cargo that runs this harness when there is one (`$CARGO`).
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Runs a cargo command, failing with the tail of its output when it fails.
pub fn run_cargo(mut command: Command, what: &str) -> Result<()> {
    let output = command.output().with_context(|| format!("cannot {what}"))?;
    if !output.status.success() {
        bail!(
            "could not {what}:\n{}",
            last_lines(&String::from_utf8_lossy(&output.stderr), 30)
        );
    }
    Ok(())
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
    run_cargo(command, &format!("build the {build} order-service"))?;
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
    run_cargo(command, "build the balance-service")?;
    Ok(root.join("target/release/balance-service"))
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
