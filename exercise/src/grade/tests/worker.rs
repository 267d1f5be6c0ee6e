use std::time::{Duration, SystemTime};

use super::*;

/// A build is copied once, keeps the bytes it had when copied, and a rebuild gets a copy
/// of its own beside the old one, which a process of the old build may still run.
#[test]
fn each_build_of_the_harness_is_copied_once_for_its_workers() {
    let scratch = tempfile::tempdir().unwrap();
    let binary = scratch.path().join("exercise");
    let copies = scratch.path().join("copies");
    std::fs::write(&binary, "the first build").unwrap();
    let now = SystemTime::now();

    let first = copy_binary(&binary, &copies, now).unwrap();
    assert_eq!(std::fs::read_to_string(&first).unwrap(), "the first build");
    let again = copy_binary(&binary, &copies, now).unwrap();
    assert_eq!(
        again, first,
        "a second process of the same build made another copy"
    );

    std::fs::write(&binary, "the second build, longer").unwrap();
    let rebuilt = copy_binary(&binary, &copies, now).unwrap();
    assert_ne!(
        rebuilt, first,
        "the rebuild was given the first build's copy"
    );
    assert_eq!(
        std::fs::read_to_string(&rebuilt).unwrap(),
        "the second build, longer"
    );
    assert_eq!(
        std::fs::read_to_string(&first).unwrap(),
        "the first build",
        "the first build's copy, which its processes still run, changed or went"
    );
}

/// Copies nobody took for a day are removed when another is taken; recent ones stay, and
/// one removed under a process that still runs it is made again at its next grade.
#[test]
fn copies_unused_for_a_day_are_removed() {
    let scratch = tempfile::tempdir().unwrap();
    let binary = scratch.path().join("exercise");
    let copies = scratch.path().join("copies");
    std::fs::write(&binary, "a build").unwrap();
    let then = SystemTime::now() - Duration::from_secs(3600);
    let old = copy_binary(&binary, &copies, then).unwrap();
    std::fs::write(&binary, "a build from yesterday").unwrap();
    let yesterday = copy_binary(&binary, &copies, then).unwrap();

    std::fs::write(&binary, "today's build").unwrap();
    let two_days_on = then + Duration::from_secs(2 * 24 * 3600);
    // The build from yesterday was taken again meanwhile.
    touch(&yesterday, two_days_on - Duration::from_secs(3600)).unwrap();
    let today = copy_binary(&binary, &copies, two_days_on).unwrap();

    assert!(today.exists());
    assert!(yesterday.exists(), "a copy used an hour ago was removed");
    assert!(!old.exists(), "a copy unused for two days was kept");

    std::fs::remove_file(&today).unwrap();
    let again = copy_binary(&binary, &copies, two_days_on).unwrap();
    assert_eq!(again, today);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), "today's build");
}
