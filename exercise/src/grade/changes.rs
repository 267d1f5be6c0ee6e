//! What the candidate changed outside the order service: reported, not graded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::tools::{files_under, is_build_or_history};

/// The trees outside the order service that a candidate may change, and what a change to
/// each means for the grade.
const OUTSIDE: &[(&str, &str)] = &[
    (
        "balance-service",
        "the balance service (an external service) was changed; graded against the reference's, discuss",
    ),
    (
        "scenarios",
        "the public scenarios (their fault plans and checks) were changed; graded with the reference's",
    ),
];

/// What the candidate changed outside the order service, against the exports the candidate
/// could have been given (`references`, with and without the loom models): the balance
/// service (the candidate's service is always graded against the reference's) and the
/// public scenarios (the harness runs its own copy).
pub fn external_changes(references: &[PathBuf], dir: &Path) -> Vec<String> {
    let mut changed = Vec::new();
    for (tree, what) in OUTSIDE {
        let theirs = contents(dir, tree);
        let ours: Vec<_> = references.iter().map(|r| contents(r, tree)).collect();
        let differing: Vec<String> = ours
            .iter()
            .flat_map(|o| o.keys())
            .chain(theirs.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|file| ours.iter().all(|o| o.get(*file) != theirs.get(*file)))
            .map(|file| file.display().to_string())
            .collect();
        if !differing.is_empty() {
            changed.push(format!("{}: {what}", differing.join(", ")));
        }
    }
    changed
}

/// Every file of `base/tree` (no build output), by its path under `base`.
fn contents(base: &Path, tree: &str) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(&base.join(tree), &is_build_or_history)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|path| {
            let bytes = std::fs::read(&path).ok()?;
            Some((path.strip_prefix(base).ok()?.to_path_buf(), bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_to_the_balance_service_is_named_and_build_output_is_not() {
        let reference = tempfile::tempdir().unwrap();
        let theirs = tempfile::tempdir().unwrap();
        for dir in [reference.path(), theirs.path()] {
            std::fs::create_dir_all(dir.join("balance-service/src")).unwrap();
            std::fs::write(dir.join("balance-service/src/ledger.rs"), "ours").unwrap();
        }
        std::fs::create_dir_all(theirs.path().join("balance-service/target")).unwrap();
        std::fs::write(theirs.path().join("balance-service/target/x"), "built").unwrap();
        let references = [reference.path().to_path_buf()];
        assert!(external_changes(&references, theirs.path()).is_empty());
        std::fs::write(
            theirs.path().join("balance-service/src/ledger.rs"),
            "theirs",
        )
        .unwrap();
        let changes = external_changes(&references, theirs.path());
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(
            changes[0].starts_with("balance-service/src/ledger.rs: the balance service"),
            "{changes:?}"
        );
    }
}
