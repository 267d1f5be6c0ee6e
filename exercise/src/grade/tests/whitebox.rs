use super::*;
use crate::catalog::WhiteBox;
use crate::manifest::BugFile;

const ABOVE: &[&str] = &["src/orders/intake.rs"];

/// A bug whose one loom model starts below `src/orders/intake.rs`, a file it has a fix of.
fn bug_with_a_model_below_intake() -> (Bug, Checks) {
    let mut bug = crate::manifest::tests::bug("double-charge", &[], &[]);
    bug.files = vec![BugFile {
        variant: "intake.rs".into(),
        module: "src/orders/intake.rs".into(),
    }];
    let checks = Checks {
        white_box: vec![
            WhiteBox::loom("copies_counted_once", Role::Symptom).skipping(ABOVE),
            WhiteBox::loom("charged_once", Role::Symptom),
        ],
        ..Checks::default()
    };
    (bug, checks)
}

#[test]
fn a_file_is_reworked_unless_it_is_as_handed_over_or_as_a_reference_fix() {
    let dir = tempfile::tempdir().unwrap();
    let (root, given, theirs) = (
        dir.path().join("root"),
        dir.path().join("given"),
        dir.path().join("theirs"),
    );
    let write = |base: &Path, path: &str, text: &str| {
        let file = base.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    };
    write(&root, "variants/double-charge/fixed/intake.rs", "spawned");
    write(&given, "src/orders/intake.rs", "awaited");
    let (bug, checks) = bug_with_a_model_below_intake();
    let bugs = [(&bug, checks)];
    let reworked_when = |text: &str| {
        write(&theirs, "src/orders/intake.rs", text);
        reworked(&bugs, &root, &given, &theirs)
    };
    assert!(reworked_when("awaited").is_empty(), "as handed over");
    assert!(reworked_when("spawned").is_empty(), "the reference fix");
    assert_eq!(
        reworked_when("one placement per id")
            .into_iter()
            .collect::<Vec<_>>(),
        ABOVE
    );
}

#[test]
fn a_failed_check_that_skips_a_reworked_file_is_inconclusive() {
    let (bug, checks) = bug_with_a_model_below_intake();
    let outcomes = Outcomes {
        results: [
            ("loom::copies_counted_once".to_owned(), false),
            ("loom::charged_once".to_owned(), false),
        ]
        .into_iter()
        .collect(),
        ..Outcomes::default()
    };
    let judged = |reworked: &BTreeSet<&str>| -> Vec<(String, bool)> {
        evidence_of(&bug, &checks, &outcomes, reworked, &BTreeMap::new())
            .into_iter()
            .map(|(_, e)| (e.check, e.inconclusive))
            .collect()
    };
    assert_eq!(
        judged(&BTreeSet::new()),
        [
            ("loom::copies_counted_once".to_owned(), false),
            ("loom::charged_once".to_owned(), false)
        ],
        "nothing above the models changed: both failures count"
    );
    let changed: BTreeSet<&str> = ABOVE.iter().copied().collect();
    assert_eq!(
        judged(&changed),
        [
            ("loom::copies_counted_once".to_owned(), true),
            ("loom::charged_once".to_owned(), false)
        ],
        "only the model that skips the changed file says nothing"
    );
    let detail = &evidence_of(&bug, &checks, &outcomes, &changed, &BTreeMap::new())[0]
        .1
        .detail;
    assert!(
        detail.contains("starts below src/orders/intake.rs"),
        "{detail}"
    );
}

#[test]
fn a_shim_the_candidate_extended_keeps_their_additions() {
    let exported = "//! Primitives.\n\npub use balance_service::sync::{Mutex, lock};\npub use tokio::time::sleep;\n";
    let loom = "pub use balance_service::sync::{Mutex, lock};\npub async fn sleep() {}\n";
    assert_eq!(
        merge_shim(loom, exported, exported),
        loom,
        "an untouched shim is replaced"
    );
    let theirs =
        format!("{exported}// tokio's, for the save\npub use tokio::sync::Mutex as AsyncMutex;\n");
    let merged = merge_shim(loom, exported, &theirs);
    assert!(
        merged.starts_with(loom) && merged.contains("pub use tokio::sync::Mutex as AsyncMutex;"),
        "the candidate's re-export is kept after the loom shim:\n{merged}"
    );
    assert!(
        !merged.contains("tokio::time::sleep"),
        "lines they were given are not repeated:\n{merged}"
    );
}

#[test]
fn a_panic_in_the_candidates_code_is_told_from_a_failed_check() {
    let output = "test a ... FAILED\n\n---- a stdout ----\n\nthread 'a' (1) panicked at src/stats.rs:55:9:\nthere is no reactor running\nstack backtrace:\n\n---- b stdout ----\n\nthread 'b' (2) panicked at tests/loom.rs:183:9:\n2 sales were counted\n";
    assert_eq!(
        panic_outside_tests(output, "a").as_deref(),
        Some("src/stats.rs:55:9: there is no reactor running")
    );
    assert_eq!(panic_outside_tests(output, "b"), None);
    let snapshot = "---- c stdout ----\n\nthread 'c' (3) panicked at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/insta-1.43.2/src/runtime.rs:679:13:\nsnapshot assertion for 'a_batch' failed in line 151\n";
    assert_eq!(
        panic_outside_tests(snapshot, "c"),
        None,
        "a failed snapshot is the test's own assertion"
    );
    assert_eq!(
        failure_report(output, "b").as_deref(),
        Some("thread 'b' (2) panicked at tests/loom.rs:183:9:\n2 sales were counted")
    );
}
