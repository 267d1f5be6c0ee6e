use super::*;

pub const SERIAL: Role =
    Role::Guard("orders run one at a time: a lock is held across the balance service call");
pub const GAP: Role = Role::Robustness(
    "an order whose every response was lost is reported failed although it was charged once",
);

pub fn check(name: &str, role: Role, passed: bool) -> Evidence {
    Evidence::new(
        name,
        Kind::Scenario,
        role,
        passed,
        if passed {
            String::new()
        } else {
            format!("{name} failed")
        },
    )
}

#[test]
fn a_symptom_decides_not_fixed_even_when_a_guard_fails_too() {
    let grade = judge(
        "lost-update",
        vec![
            check("stats", Role::Symptom, false),
            check("throughput", SERIAL, false),
        ],
    );
    assert_eq!(grade.verdict, Verdict::NotFixed);
    assert!(grade.summary.contains("stats failed"), "{}", grade.summary);
}

#[test]
fn guards_decide_wrong_fix_and_robustness_decides_gaps() {
    let wrong = judge(
        "d",
        vec![
            check("resent", Role::Symptom, true),
            check("throughput", SERIAL, false),
            check("all lost", GAP, false),
        ],
    );
    assert_eq!(
        (wrong.verdict, wrong.wrong_fix.as_deref()),
        (Verdict::WrongFix, Some(SERIAL.meaning()))
    );
    let gaps = judge(
        "d",
        vec![
            check("resent", Role::Symptom, true),
            check("all lost", GAP, false),
            check("all lost again", GAP, false),
        ],
    );
    assert_eq!(gaps.verdict, Verdict::FixedWithGaps);
    assert_eq!(gaps.gaps, [GAP.meaning()]);
    let fixed = judge("d", vec![check("resent", Role::Symptom, true)]);
    assert_eq!(fixed.verdict, Verdict::Fixed);
}

#[test]
fn a_white_box_symptom_alone_is_a_note_not_a_verdict() {
    let grade = judge(
        "lost-update",
        vec![
            check("stats", Role::Symptom, true),
            Evidence::new(
                "loom::concurrent_sales_are_all_counted",
                Kind::LoomModel,
                Role::Symptom,
                false,
                "failed".into(),
            ),
        ],
    );
    assert_eq!(grade.verdict, Verdict::Fixed);
    assert_eq!(grade.notes.len(), 1, "{:?}", grade.notes);
}

#[test]
fn a_white_box_symptom_decides_when_no_black_box_symptom_check_could_judge() {
    let refused = Evidence::inconclusive(
        "stats_match_the_orders_charged",
        Kind::Scenario,
        Role::Symptom,
        "1 of 100 orders went through".into(),
    );
    let loom = Evidence::new(
        "loom::concurrent_sales_are_all_counted",
        Kind::LoomModel,
        Role::Symptom,
        false,
        "2 sales were counted as 1".into(),
    );
    let grade = judge("lost-update", vec![refused, loom]);
    assert_eq!(grade.verdict, Verdict::NotFixed, "{}", grade.summary);
    assert!(grade.summary.contains("loom::"), "{}", grade.summary);
}

#[test]
fn an_unsteady_check_holds_and_is_noted() {
    let mut rerun = check("throughput", SERIAL, true);
    rerun.unsteady = true;
    rerun.detail = "failed once, held when run again with the same plan: took 900ms".into();
    let grade = judge("d", vec![check("resent", Role::Symptom, true), rerun]);
    assert_eq!(grade.verdict, Verdict::Fixed);
    assert_eq!(grade.notes.len(), 1, "{:?}", grade.notes);
    assert!(grade.notes[0].contains("took 900ms"), "{:?}", grade.notes);
}

fn public_test(passed: bool, edited: &str) -> Evidence {
    let mut test = Evidence::new(
        "api::orders::a_batch_is_processed_priority_orders_first",
        Kind::PublicTest,
        Role::Symptom,
        passed,
        if passed {
            String::new()
        } else {
            "assertion `left == right` failed: priority first, then input order".into()
        },
    );
    test.edited = edited.into();
    test
}

const OUT_OF_ORDER: Role = Role::Robustness(
    "orders of the same priority are no longer placed in the order they were sent",
);

/// A batch-priority grade: the symptom gone, the order gap found or not, and `public`.
fn batch_grade(out_of_order: bool, public: Evidence) -> BugGrade {
    let symptom = check(
        "a_priority_order_sent_last_is_placed_first",
        Role::Symptom,
        true,
    );
    let mut evidence = vec![symptom];
    if out_of_order {
        evidence.push(check(
            "orders_of_one_priority_are_placed_in_the_order_sent",
            OUT_OF_ORDER,
            false,
        ));
    }
    evidence.push(public);
    judge("batch-priority", evidence)
}

#[test]
fn a_public_test_edited_to_accept_what_a_gap_check_finds_is_a_wrong_fix() {
    let grade = batch_grade(
        true,
        public_test(false, "assertions changed, snapshot rewritten"),
    );
    assert_eq!(grade.verdict, Verdict::WrongFix, "{}", grade.summary);
    let wrong = grade.wrong_fix.as_deref().unwrap_or_default();
    assert!(
        wrong.contains("edited to accept") && wrong.contains("same priority"),
        "{wrong}"
    );
    assert!(
        grade
            .summary
            .contains("a_batch_is_processed_priority_orders_first")
            && grade.summary.contains("assertions changed")
            && grade.summary.contains("priority first, then input order"),
        "the summary cites the edit and how the original fails: {}",
        grade.summary
    );
}

#[test]
fn an_edit_that_hides_nothing_or_the_same_test_untouched_is_no_wrong_fix() {
    // Edited and still passing as handed over: stricter, or a reformat.
    let stricter = batch_grade(true, public_test(true, "assertions changed"));
    assert_eq!(
        stricter.verdict,
        Verdict::FixedWithGaps,
        "{}",
        stricter.summary
    );
    // Edited to accept something, with no defect found: a note, not a verdict.
    let nothing_found = batch_grade(false, public_test(false, "snapshot rewritten"));
    assert_eq!(
        nothing_found.verdict,
        Verdict::Fixed,
        "{}",
        nothing_found.summary
    );
    assert!(
        nothing_found.notes[0].contains("was edited"),
        "{:?}",
        nothing_found.notes
    );
    // Failing as handed over but left alone: the gap stays a gap.
    let untouched = batch_grade(true, public_test(false, ""));
    assert_eq!(
        untouched.verdict,
        Verdict::FixedWithGaps,
        "{}",
        untouched.summary
    );
}

#[test]
fn an_inconclusive_check_counts_for_nothing() {
    let grade = judge(
        "d",
        vec![
            check("resent", Role::Symptom, true),
            Evidence::inconclusive(
                "loom",
                Kind::LoomModel,
                Role::Symptom,
                "it did not build".into(),
            ),
        ],
    );
    assert_eq!(grade.verdict, Verdict::Fixed);
    assert!(
        grade.summary.contains("1 inconclusive"),
        "{}",
        grade.summary
    );
}
