//! What several commands share: running cargo, and copying a tree of files.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A `cargo` command: the cargo that runs this harness when there is one (`$CARGO`).
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Runs a cargo command, failing with the tail of its output when it fails.
pub fn run_cargo(mut command: Command, what: &str) -> Result<()> {
    let output = command.output().with_context(|| format!("cannot {what}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<_> = stderr.lines().rev().take(30).collect();
        bail!(
            "could not {what}:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(())
}

/// Copies the file or folder `from` to `to`, over whatever is there, leaving out every path
/// `skip` names.
pub fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<()> {
    if skip(from) {
        return Ok(());
    }
    if from.is_dir() {
        std::fs::create_dir_all(to).with_context(|| format!("create {}", to.display()))?;
        for entry in std::fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()), skip)?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to)
            .map(drop)
            .with_context(|| format!("copy {} to {}", from.display(), to.display()))
    }
}
