//! `export --check`: the export builds from a clean copy, lints clean, fails exactly its
//! bugs' triggering tests, and prints nothing that names a cause.

use std::path::Path;

use anyhow::{Result, ensure};

use super::Exported;
use super::leaks::cause_words_in;
use crate::libtest;
use crate::manifest::Build;
use crate::tools::{cargo, copy_tree};

/// Builds the export from a clean copy, lints it, and checks that exactly the triggering
/// tests of the bugs left in fail, and that nothing `cargo test` prints names a cause.
pub fn check(out: &Path, exported: &Exported, target_dir: Option<&Path>) -> Result<()> {
    // A copy outside this repository, so cargo does not take it for a member of its
    // workspace; removed when the check is done.
    let scratch = tempfile::Builder::new()
        .prefix("exercise-export-check-")
        .tempdir()?;
    let clean = scratch.path().join("crate");
    copy_tree(out, &clean, &|_| false)?;
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
        libtest::SUITE_LIMIT,
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
