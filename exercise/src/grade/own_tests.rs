//! The tests the candidate added or changed, and what each one catches: the brief's
//! "verify" task, graded the way Defects4J defines a triggering test (it fails before the
//! fix and passes after).
//!
//! Each test of theirs under `tests/` runs, [`RUNS`] times, against the export as handed
//! over, each single-fix build of it (one bug's reference fix in, the others left), the
//! reference fix, and their own code, each with their `tests/` and `scenarios/` in place of
//! the public ones. From the outcomes it gets a [`Label`]. A unit test inside their own code
//! (`src/`) cannot be moved onto the reference: it is labelled white-box, which is said, not
//! held against them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::public_tests::{Function, functions_under};
use super::whitebox::{failure_report, first_error};
use crate::export;
use crate::libtest;
use crate::manifest::{Bug, Build};
use crate::tools::{copy_tree, is_build_or_history};
use crate::trees;

/// Runs of each test on each build: enough to see a test that passes one time in two.
const RUNS: usize = 3;

/// What a test of the candidate's catches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "bugs", rename_all = "snake_case")]
pub enum Label {
    /// It fails while these bugs are in, and passes once their fixes are: with one bug, it
    /// passes on that bug's single-fix build; with several, only with all their fixes in.
    Catches(Vec<String>),
    /// It passes on the export as handed over.
    CatchesNothing,
    /// Its outcome differed between runs of one build.
    Flaky,
    /// It fails on the reference fix: it asserts something of the candidate's own design.
    AssertsTheirDesign,
    /// It does not build against the reference's code, or lives inside their own.
    WhiteBox,
}

impl Label {
    pub fn text(&self) -> String {
        match self {
            Label::Catches(bugs) => format!("catches {}", bugs.join(" and ")),
            Label::CatchesNothing => "catches nothing".into(),
            Label::Flaky => "flaky".into(),
            Label::AssertsTheirDesign => "asserts the candidate's design".into(),
            Label::WhiteBox => "white-box".into(),
        }
    }
}

/// One test the candidate added or changed, and its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnTest {
    /// Its file in their crate: `tests/api/overload.rs`.
    pub file: String,
    pub test: String,
    pub label: Label,
    /// Why, for a person: the outcomes that decided, or what it expected of the reference.
    pub detail: String,
    /// It was in the export and they changed it (it is a public test changed, too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
}

/// The tests of `theirs` that `given` (the export as handed over) does not have as they are.
/// A test that the reference fix has as they have it (a unit test of a fixed variant file
/// they copied, say) is not theirs.
fn added_or_changed(
    given: &Path,
    reference: &Path,
    theirs: &Path,
) -> Vec<(PathBuf, String, Function, bool)> {
    let trees = ["tests", "src"];
    let before = functions_under(given, &trees);
    let fixed = functions_under(reference, &trees);
    let after = functions_under(theirs, &trees);
    after
        .into_iter()
        .filter(|(_, f)| f.is_test)
        .filter_map(|((file, name), function)| {
            let key = (file.clone(), name.clone());
            if fixed.get(&key).is_some_and(|f| f.same_as(&function)) {
                return None;
            }
            let changed = match before.get(&key) {
                Some(was) if was.same_as(&function) => return None,
                Some(_) => true,
                None => false,
            };
            Some((file, name, function, changed))
        })
        .collect()
}

/// Where a test under `tests/` runs: its target and its path in it (`tests/api/reported.rs`
/// -> `api`, `reported::NAME`); `None` for a test that is not an integration test, or is a
/// loom model.
fn libtest_path(file: &Path, name: &str) -> Option<(String, String)> {
    let mut parts: Vec<String> = file
        .strip_prefix("tests")
        .ok()?
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        return None;
    }
    let target = parts.remove(0);
    if target == "loom" {
        return None;
    }
    if parts.last().is_some_and(|p| p == "main" || p == "mod") {
        parts.pop();
    }
    parts.push(name.to_owned());
    Some((target, parts.join("::")))
}

/// One build a test runs against: a name for a person, and the bugs left in it (`None`: the
/// candidate's own code).
struct Subject<'a> {
    name: String,
    bugs_in: Option<Vec<&'a Bug>>,
}

/// What one test did on one build, run after run: `None` where it did not run.
type Runs = Vec<Option<bool>>;

/// Labels each test the candidate added or changed under `tests/` or in `src/`.
pub fn label(
    root: &Path,
    bugs_all: &[Bug],
    chosen: &[&Bug],
    given: &Path,
    theirs: &Path,
    work: &Path,
    limits: crate::tools::Limits,
) -> Vec<OwnTest> {
    let reference = work.join("reference-fix");
    let _ = std::fs::remove_dir_all(&reference);
    if let Err(error) = export::export(root, bugs_all, &[], &reference, export::Options::default())
    {
        eprintln!("warning: no reference export to tell their tests from its own: {error:#}");
    }
    let tests = added_or_changed(given, &reference, theirs);
    if tests.is_empty() {
        return Vec::new();
    }
    eprintln!(
        "==> the candidate's {} added or changed test(s), on each build",
        tests.len()
    );
    let mut subjects = vec![Subject {
        name: "the export as handed over".into(),
        bugs_in: Some(chosen.to_vec()),
    }];
    if chosen.len() > 1 {
        for bug in chosen {
            subjects.push(Subject {
                name: format!("the {} fix alone", bug.id),
                bugs_in: Some(chosen.iter().copied().filter(|b| b.id != bug.id).collect()),
            });
        }
    }
    subjects.push(Subject {
        name: "the reference fix".into(),
        bugs_in: Some(Vec::new()),
    });
    subjects.push(Subject {
        name: "their code".into(),
        bugs_in: None,
    });

    let runnable: Vec<(String, String)> = tests
        .iter()
        .filter_map(|(file, name, _, _)| libtest_path(file, name))
        .collect();
    let mut outcomes: Vec<BTreeMap<String, Runs>> = Vec::new();
    let mut unbuilt: Vec<Option<String>> = Vec::new();
    let mut reports: Vec<BTreeMap<String, String>> = Vec::new();
    let dir = work.join("labels");
    let found = work.join("label-runs");
    crate::tools::remove_unused(&found, std::time::SystemTime::now(), KEPT_FOR, None);
    let mut kept = 0;
    for (n, subject) in subjects.iter().enumerate() {
        let (runs, problem, said) = match lay_out(root, bugs_all, subject, theirs, &dir, n == 0) {
            Ok(()) => {
                let key = fingerprint(&dir, &runnable);
                match key.as_deref().and_then(|key| Found::read(&found, key)) {
                    Some(earlier) => {
                        kept += 1;
                        (earlier.runs, None, earlier.said)
                    }
                    None => {
                        let (runs, problem, said) = run(&dir, root, &runnable, limits);
                        let completed = Found { runs, said };
                        if let (Some(key), None) = (&key, &problem) {
                            completed.write(&found, key);
                        }
                        (completed.runs, problem, completed.said)
                    }
                }
            }
            Err(error) => (BTreeMap::new(), Some(format!("{error:#}")), BTreeMap::new()),
        };
        outcomes.push(runs);
        unbuilt.push(problem);
        reports.push(said);
    }
    if kept > 0 {
        eprintln!(
            "    (on {kept} of {} builds, the runs of an earlier grade of the same tree)",
            subjects.len()
        );
    }

    tests
        .into_iter()
        .map(|(file, name, _, changed)| {
            let (label, detail) = match libtest_path(&file, &name) {
                None => (
                    Label::WhiteBox,
                    "a test inside their own code: it cannot run on the reference's".to_owned(),
                ),
                Some((target, path)) => {
                    let key = format!("{target}::{path}");
                    decide(
                        chosen, &subjects, &outcomes, &unbuilt, &reports, &key, &path,
                    )
                }
            };
            OwnTest {
                file: file.display().to_string(),
                test: name,
                label,
                detail,
                changed,
            }
        })
        .collect()
}

/// Turns the one tree every subject runs in into `subject`'s: the first time, an export
/// with their tests and scenarios over it; then only the bugs' variant files are swapped, or,
/// for their own code, their `src/` and manifest laid over it. Whatever is written is newer
/// than the last build, so cargo rebuilds just the order service each time.
fn lay_out(
    root: &Path,
    bugs_all: &[Bug],
    subject: &Subject,
    theirs: &Path,
    dir: &Path,
    first: bool,
) -> anyhow::Result<()> {
    if first {
        let _ = std::fs::remove_dir_all(dir);
        export::export(root, bugs_all, &[], dir, export::Options::default())?;
        for tree in ["tests", "scenarios"] {
            let _ = std::fs::remove_dir_all(dir.join(tree));
            if theirs.join(tree).exists() {
                copy_tree(&theirs.join(tree), &dir.join(tree), &is_build_or_history)?;
            }
        }
    }
    match &subject.bugs_in {
        Some(bugs_in) => export::lay_variants(root, bugs_all, bugs_in, dir),
        None => {
            let _ = std::fs::remove_dir_all(dir.join("src"));
            copy_tree(&theirs.join("src"), &dir.join("src"), &is_build_or_history)?;
            for file in ["Cargo.toml", "Cargo.lock"] {
                if theirs.join(file).exists() {
                    std::fs::copy(theirs.join(file), dir.join(file))?;
                }
            }
            Ok(())
        }
    }
}

/// What the runs of one subject's tree found, kept under `work/label-runs/` by
/// [`fingerprint`]: a commit that changed only the candidate's code lays out the same trees
/// for the export and the reference builds as the commit before it, and their tests need
/// run again only on their code. Only runs that completed are kept; a kept one is used again
/// as it was, so a grade of the same commit labels it the same.
#[derive(Serialize, Deserialize)]
struct Found {
    runs: BTreeMap<String, Runs>,
    said: BTreeMap<String, String>,
}

/// How long a kept run lasts unused.
const KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

impl Found {
    fn read(dir: &Path, key: &str) -> Option<Found> {
        let path = dir.join(format!("{key}.json"));
        let found = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        let _ = crate::tools::touch(&path, std::time::SystemTime::now());
        Some(found)
    }

    fn write(&self, dir: &Path, key: &str) {
        let written = (|| -> anyhow::Result<()> {
            std::fs::create_dir_all(dir)?;
            let bytes = serde_json::to_vec(self)?;
            crate::session::store::write_atomically(&dir.join(format!("{key}.json")), &bytes)
        })();
        if let Err(error) = written {
            eprintln!(
                "warning: could not keep the labelling's runs in {}: {error:#}",
                dir.display()
            );
        }
    }
}

/// What the runs in `dir` depend on, hashed: every file of the tree (path and content), the
/// tests to run, and the harness binary that runs them and reads their outcomes. `None` when
/// the tree or the binary cannot be read.
fn fingerprint(dir: &Path, runnable: &[(String, String)]) -> Option<String> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    own_build()?.hash(&mut hasher);
    runnable.hash(&mut hasher);
    for file in crate::tools::files_under(dir, &is_build_or_history).ok()? {
        file.strip_prefix(dir).ok()?.hash(&mut hasher);
        std::fs::read(&file).ok()?.hash(&mut hasher);
    }
    Some(format!("{:016x}", hasher.finish()))
}

/// The harness binary this process runs, hashed by its contents, once: its path and times
/// say nothing (the grade worker runs a copy, touched at each grade).
fn own_build() -> Option<u64> {
    use std::hash::Hasher;
    static BUILD: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *BUILD.get_or_init(|| {
        let running = Path::new("/proc/self/exe");
        let exe = match running.exists() {
            true => running.to_path_buf(),
            false => std::env::current_exe().ok()?,
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        hasher.write(&std::fs::read(exe).ok()?);
        Some(hasher.finish())
    })
}

/// Runs the tests in `runnable` (target, path) in the crate at `dir`, [`RUNS`] times: each
/// test's outcomes, why the build failed if it did, and what each failure printed first.
fn run(
    dir: &Path,
    root: &Path,
    runnable: &[(String, String)],
    limits: crate::tools::Limits,
) -> (
    BTreeMap<String, Runs>,
    Option<String>,
    BTreeMap<String, String>,
) {
    let mut targets: Vec<&str> = runnable.iter().map(|(t, _)| t.as_str()).collect();
    targets.sort();
    targets.dedup();
    let names: Vec<String> = runnable.iter().map(|(_, p)| p.clone()).collect();
    let mut outcomes: BTreeMap<String, Runs> = BTreeMap::new();
    let mut reports = BTreeMap::new();
    // Its own target directory: the tree changes whole between subjects, and sharing the
    // grade's would build the candidate's crate again on every grade.
    let target_dir = root.join("target/grade-labels");
    let _claim = match trees::claim(&target_dir, dir) {
        Ok(claim) => claim,
        Err(error) => return (outcomes, Some(first_error(&error)), reports),
    };
    for _ in 0..RUNS {
        let suite = libtest::run_suite_in(
            dir,
            &Build::plain("candidate"),
            false,
            Some(&target_dir),
            &targets,
            &names,
            libtest::SuiteLimits {
                build: limits.build,
                run: limits.own_tests,
            },
        );
        let suite = match suite {
            Ok(suite) => suite,
            Err(error) => return (outcomes, Some(first_error(&error)), reports),
        };
        for (target, path) in runnable {
            let key = format!("{target}::{path}");
            let passed = suite.results.get(&key).copied();
            outcomes.entry(key.clone()).or_default().push(passed);
            if passed == Some(false)
                && !reports.contains_key(&key)
                && let Some(said) = failure_report(&suite.output, path)
            {
                reports.insert(key, said);
            }
        }
    }
    (outcomes, None, reports)
}

/// A test's label from its outcomes on each subject (in the order [`label`] lays them out:
/// the export, the single-fix builds, the reference, their code).
fn decide(
    chosen: &[&Bug],
    subjects: &[Subject],
    outcomes: &[BTreeMap<String, Runs>],
    unbuilt: &[Option<String>],
    reports: &[BTreeMap<String, String>],
    key: &str,
    path: &str,
) -> (Label, String) {
    let reference = subjects.len() - 2;
    let theirs = subjects.len() - 1;
    let runs = |n: usize| outcomes[n].get(key).cloned().unwrap_or_default();
    // Passed every run (Some(true)), failed every run (Some(false)), or neither (None).
    let steady = |n: usize| -> Option<Option<bool>> {
        let runs = runs(n);
        let first = *runs.first()?;
        runs.iter().all(|r| *r == first).then_some(first)
    };
    if let Some(why) = &unbuilt[reference] {
        return (
            Label::WhiteBox,
            format!("it does not build against the reference's code ({why})"),
        );
    }
    for (n, subject) in subjects.iter().enumerate() {
        if unbuilt[n].is_none() && steady(n).is_none() {
            let passed = runs(n).iter().filter(|r| **r == Some(true)).count();
            return (
                Label::Flaky,
                format!(
                    "on {} it passed {passed} of {} runs",
                    subject.name,
                    runs(n).len()
                ),
            );
        }
    }
    let on = |n: usize| steady(n).flatten();
    match on(reference) {
        Some(false) => {
            let said = reports[reference]
                .get(key)
                .map(|r| r.lines().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|| "no message".into());
            return (
                Label::AssertsTheirDesign,
                format!("it fails on the reference fix: {said}"),
            );
        }
        None => {
            return (
                Label::WhiteBox,
                format!("{path} did not run on the reference fix"),
            );
        }
        Some(true) => {}
    }
    let their_side = match on(theirs) {
        Some(true) => "",
        Some(false) => "; it fails on their own code",
        None => "; it did not run on their own code",
    };
    if on(0) != Some(false) {
        return (
            Label::CatchesNothing,
            format!("it passes on the export as handed over{their_side}"),
        );
    }
    // The bugs whose fix alone turns it green.
    let alone: Vec<String> = if chosen.len() > 1 {
        chosen
            .iter()
            .enumerate()
            .filter(|(i, _)| on(1 + i) == Some(true))
            .map(|(_, bug)| bug.id.clone())
            .collect()
    } else {
        chosen.iter().map(|bug| bug.id.clone()).collect()
    };
    let caught = if alone.is_empty() {
        chosen.iter().map(|bug| bug.id.clone()).collect()
    } else {
        alone
    };
    (
        Label::Catches(caught),
        format!(
            "it fails on the export as handed over and passes on the reference fix{their_side}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree laid out again as it was is known by its files, not by when they were written;
    /// a change to one file, or another test to run, is another tree.
    #[test]
    fn runs_are_kept_by_what_the_tree_holds() {
        let work = tempfile::tempdir().unwrap();
        let tree = work.path().join("labels");
        std::fs::create_dir_all(tree.join("tests/api")).unwrap();
        std::fs::write(tree.join("tests/api/theirs.rs"), "#[test] fn a() {}").unwrap();
        std::fs::create_dir_all(tree.join("target")).unwrap();
        let runnable = vec![("api".to_owned(), "theirs::a".to_owned())];
        let key = fingerprint(&tree, &runnable).unwrap();

        std::fs::write(tree.join("tests/api/theirs.rs"), "#[test] fn a() {}").unwrap();
        std::fs::write(tree.join("target/built"), "output").unwrap();
        assert_eq!(
            fingerprint(&tree, &runnable).unwrap(),
            key,
            "written again, built"
        );
        let other = vec![("api".to_owned(), "theirs::b".to_owned())];
        assert_ne!(fingerprint(&tree, &other).unwrap(), key, "another test");
        std::fs::write(tree.join("tests/api/theirs.rs"), "#[test] fn a() { }").unwrap();
        assert_ne!(
            fingerprint(&tree, &runnable).unwrap(),
            key,
            "a file changed"
        );

        let kept = work.path().join("label-runs");
        assert!(Found::read(&kept, &key).is_none(), "nothing kept yet");
        let runs = BTreeMap::from([("api::theirs::a".to_owned(), vec![Some(false); RUNS])]);
        let said = BTreeMap::from([("api::theirs::a".to_owned(), "it failed".to_owned())]);
        Found {
            runs: runs.clone(),
            said: said.clone(),
        }
        .write(&kept, &key);
        let found = Found::read(&kept, &key).expect("kept");
        assert_eq!((found.runs, found.said), (runs, said));

        let file = kept.join(format!("{key}.json"));
        let now = std::time::SystemTime::now();
        crate::tools::touch(&file, now - KEPT_FOR * 2).unwrap();
        crate::tools::remove_unused(&kept, now, KEPT_FOR, None);
        assert!(
            !file.exists(),
            "a run unused for longer than it is kept is removed"
        );
    }

    #[test]
    fn a_test_file_gives_its_target_and_path() {
        assert_eq!(
            libtest_path(Path::new("tests/api/reported.rs"), "a"),
            Some(("api".into(), "reported::a".into()))
        );
        assert_eq!(
            libtest_path(Path::new("tests/api/main.rs"), "a"),
            Some(("api".into(), "a".into()))
        );
        assert_eq!(
            libtest_path(Path::new("tests/overload.rs"), "a"),
            Some(("overload".into(), "a".into()))
        );
        assert_eq!(libtest_path(Path::new("tests/loom.rs"), "a"), None);
        assert_eq!(libtest_path(Path::new("src/stats.rs"), "a"), None);
    }

    fn bug(id: &str) -> Bug {
        crate::manifest::tests::bug(id, &[], &[])
    }

    /// Outcomes on the export, the lost-update fix alone, the double-charge fix alone, the
    /// reference and their code, each steady over three runs.
    fn decided(on: [Option<bool>; 5]) -> Label {
        let bugs = [bug("lost-update"), bug("double-charge")];
        let chosen: Vec<&Bug> = bugs.iter().collect();
        let subjects: Vec<Subject> = (0..5)
            .map(|n| Subject {
                name: format!("build {n}"),
                bugs_in: None,
            })
            .collect();
        let outcomes: Vec<BTreeMap<String, Runs>> = on
            .iter()
            .map(|o| BTreeMap::from([("api::t".to_owned(), vec![*o; 3])]))
            .collect();
        decide(
            &chosen,
            &subjects,
            &outcomes,
            &[None, None, None, None, None],
            &vec![BTreeMap::new(); 5],
            "api::t",
            "t",
        )
        .0
    }

    #[test]
    fn a_test_is_labelled_by_the_builds_it_fails_and_passes_on() {
        let (f, p) = (Some(false), Some(true));
        assert_eq!(
            decided([f, f, p, p, p]),
            Label::Catches(vec!["double-charge".into()]),
            "green once the double-charge fix alone is in"
        );
        assert_eq!(
            decided([f, f, f, p, p]),
            Label::Catches(vec!["lost-update".into(), "double-charge".into()]),
            "green only with both fixes in"
        );
        assert_eq!(decided([p, p, p, p, p]), Label::CatchesNothing);
        assert_eq!(decided([f, f, f, f, p]), Label::AssertsTheirDesign);
    }

    #[test]
    fn a_test_whose_runs_differ_is_flaky() {
        let bugs = [bug("lost-update")];
        let chosen: Vec<&Bug> = bugs.iter().collect();
        let subjects: Vec<Subject> = ["export", "reference", "theirs"]
            .iter()
            .map(|name| Subject {
                name: (*name).into(),
                bugs_in: None,
            })
            .collect();
        let outcomes = vec![
            BTreeMap::from([("api::t".to_owned(), vec![Some(false); 3])]),
            BTreeMap::from([(
                "api::t".to_owned(),
                vec![Some(true), Some(false), Some(true)],
            )]),
            BTreeMap::from([("api::t".to_owned(), vec![Some(true); 3])]),
        ];
        let (label, detail) = decide(
            &chosen,
            &subjects,
            &outcomes,
            &[None, None, None],
            &vec![BTreeMap::new(); 3],
            "api::t",
            "t",
        );
        assert_eq!(label, Label::Flaky);
        assert_eq!(detail, "on reference it passed 2 of 3 runs");
    }
}
