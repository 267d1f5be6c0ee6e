//! Breaking one fact on purpose is caught, and named.

use std::path::Path;

use super::disagreements;
use super::templates::exported_names;
use crate::{catalog, manifest};

fn repository() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every fact the tools rely on agrees across the repository.
#[test]
fn the_repository_agrees_with_itself() {
    let root = repository();
    let bugs = manifest::load(&root).unwrap();
    let found = disagreements(&root, &bugs, &catalog::registered());
    assert!(
        found.is_empty(),
        "{} disagreement(s):\n  {}",
        found.len(),
        found.join("\n  ")
    );
}

/// A copy of what the checks read, to break one fact in.
fn copy() -> tempfile::TempDir {
    let root = repository();
    let dir = tempfile::tempdir().unwrap();
    for path in [
        "Cargo.toml",
        "src",
        "tests",
        "variants",
        "scenarios/src",
        "balance-service/src/sync.rs",
        "exercise/templates",
        "exercise/src/catalog/mod.rs",
    ] {
        crate::tools::copy_tree(&root.join(path), &dir.path().join(path), &|_| false).unwrap();
    }
    dir
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn disagreements_in(dir: &Path) -> Vec<String> {
    let bugs = manifest::load(dir).unwrap();
    disagreements(dir, &bugs, &catalog::registered())
}

#[test]
fn a_feature_renamed_in_a_manifest_only_is_named() {
    let dir = copy();
    edit(
        dir.path(),
        "variants/lost-update/bug.toml",
        "feature = \"fix-lost-update\"",
        "feature = \"fix-lost-updates\"",
    );
    let found = disagreements_in(dir.path());
    assert!(
        found.iter().any(|d| d.starts_with("variants/lost-update/bug.toml says feature = \"fix-lost-updates\", but Cargo.toml's [features] has no such feature")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|d| d.contains("declares feature \"fix-lost-update\", but no variants")),
        "{found:#?}"
    );
}

#[test]
fn a_variant_file_moved_without_its_selector_is_named() {
    let dir = copy();
    edit(
        dir.path(),
        "src/orders/place.rs",
        "variants/double-charge/fixed/place.rs",
        "variants/double-charge/fixed/placing.rs",
    );
    let found = disagreements_in(dir.path());
    assert!(
        found.iter().any(|d| d.starts_with("variants/double-charge/bug.toml declares place.rs as src/orders/place.rs, but its selector does not pick ../../variants/double-charge/fixed/place.rs")),
        "{found:#?}"
    );
}

#[test]
fn a_renamed_triggering_test_and_a_gap_without_a_question_are_named() {
    let dir = copy();
    edit(
        dir.path(),
        "tests/api/reported.rs",
        "fn orders_placed_in_a_burst_are_charged_once(",
        "fn orders_in_a_burst_are_charged_once(",
    );
    edit(
        dir.path(),
        "variants/double-charge/bug.toml",
        "checks = [\"a_resent_order_is_counted_once\"]",
        "checks = [\"an_order_whose_every_response_was_lost_is_reported_ok\"]",
    );
    let found = disagreements_in(dir.path());
    assert!(
        found.iter().any(|d| d == "variants/double-charge/bug.toml names triggering test api::reported::orders_placed_in_a_burst_are_charged_once, but tests/api/reported.rs has no fn orders_placed_in_a_burst_are_charged_once"),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|d| d == "variants/double-charge/checks.rs has robustness check a_resent_order_is_counted_once, but variants/double-charge/bug.toml has no [[gaps]] with a question for it"),
        "{found:#?}"
    );
}

#[test]
fn a_template_missing_a_name_the_shim_exports_is_named() {
    let dir = copy();
    edit(
        dir.path(),
        "exercise/templates/order-service-sync.rs",
        "pub use tokio::time::sleep;",
        "",
    );
    let found = disagreements_in(dir.path());
    assert!(
        found.iter().any(|d| d.starts_with(
            "src/sync.rs exports [\"sleep\"], but exercise/templates/order-service-sync.rs"
        )),
        "{found:#?}"
    );
}

#[test]
fn exported_names_are_read_from_uses_and_functions() {
    let names = exported_names(
        "pub use a::{Mutex, MutexGuard, lock};\npub use tokio::time::sleep;\npub use x::Y as Z;\npub async fn wait(d: u8) {}\nfn private() {}\n",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["Mutex", "MutexGuard", "Z", "lock", "sleep", "wait"]
    );
}
