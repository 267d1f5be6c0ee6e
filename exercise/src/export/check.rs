//! `export --check`: the export builds from a clean copy, lints clean, fails exactly its
//! bugs' triggering tests, and prints nothing that names a cause.

use std::path::Path;

use anyhow::{Result, ensure};

use super::Exported;
use super::leaks::cause_words_in;
use crate::libtest;
use crate::manifest::Build;
use crate::tools::{cargo, copy_tree, is_build_or_history};
use crate::trees::sync;

/// Builds the export from a clean copy, lints it, and checks that exactly the triggering
/// tests of the bugs left in fail, and that nothing `cargo test` prints names a cause.
pub fn check(out: &Path, exported: &Exported, target_dir: Option<&Path>) -> Result<()> {
    // A copy of the export, which its manifest makes a workspace of its own. With a shared
    // target directory, the copy is kept in it, at one path for every check, and brought up
    // to date file by file (`trees::sync`): cargo then builds again only what differs from
    // the last export checked, which is a bug's variant files. Without one, a fresh copy is
    // made and removed when the check is done.
    let mut scratch = None;
    let clean = match target_dir {
        Some(dir) => {
            let kept = kept_copy(dir)?;
            sync(out, &kept, &is_build_or_history)?;
            kept
        }
        None => {
            let fresh = scratch
                .insert(
                    tempfile::Builder::new()
                        .prefix("exercise-export-check-")
                        .tempdir()?,
                )
                .path()
                .join("crate");
            copy_tree(out, &fresh, &|_| false)?;
            fresh
        }
    };
    let build = Build::plain("export");
    let mut clippy = cargo();
    clippy
        .current_dir(&clean)
        .env_remove("RUSTFLAGS")
        .args(["clippy", "--all-targets"]);
    if let Some(dir) = target_dir {
        clippy.arg("--target-dir").arg(dir);
    }
    let clippy = clippy.args(["--", "-D", "warnings"]).status()?;
    ensure!(
        clippy.success(),
        "the export does not pass cargo clippy -D warnings"
    );
    let suite = libtest::run_suite_in(
        &clean,
        &build,
        false,
        target_dir,
        &[],
        &[],
        libtest::SuiteLimits::default(),
    )?;
    let mut results = suite.results;
    let named = cause_words_in(&suite.output);
    if exported.with_loom {
        results.extend(libtest::run_suite(&clean, &build, true)?.results);
    }
    let failed: Vec<_> = results
        .iter()
        .filter(|(_, passed)| !**passed)
        .map(|(test, _)| test.clone())
        .collect();
    ensure!(
        failed == exported.failing,
        "the export's failing tests are not its bugs' triggering tests:\n  failed:   {failed:?}\n  expected: {:?}",
        exported.failing
    );
    ensure!(
        named.is_empty(),
        "`cargo test` in the export prints words that name a cause: {named:?}"
    );
    Ok(())
}

/// Where the checks building in `target_dir` keep their copy of the export: inside it, so
/// that removing the target directory removes the copy too. The export's manifest is a
/// workspace root of its own, so cargo looks no further up from it.
fn kept_copy(target_dir: &Path) -> Result<std::path::PathBuf> {
    Ok(std::path::absolute(target_dir)?.join("export-check-crate"))
}
