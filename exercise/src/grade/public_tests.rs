//! The public tests the candidate changed: deleted, ignored, turned `should_panic`, with
//! assertions removed or changed, and snapshots rewritten. The verdict never rests on the
//! candidate's copies (the grader runs its own), but an interviewer wants to know first.
//!
//! Read from the source with `syn`, against the export the candidate was given: each
//! function of `tests/` (the tests and their helpers), each function of the public scenarios
//! (`scenarios/src/`, where the tests' checks live), and each snapshot. Functions and their
//! assertions are compared as tokens, so a reformat or a comment is no change, and a bracket
//! inside a string literal is only a character of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use quote::ToTokens;
use serde::{Deserialize, Serialize};
use syn::visit::Visit;

use crate::tools::{files_under, is_build_or_history};

/// What was done to a public test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Deleted,
    Ignored,
    ShouldPanic,
    /// Fewer assertions than it had.
    AssertionsRemoved,
    /// As many assertions, some of them different.
    AssertionsChanged,
    /// Its assertions as they were, other lines changed (a smaller workload, say).
    BodyChanged,
    SnapshotRewritten,
    SnapshotDeleted,
}

impl Change {
    pub fn label(self) -> &'static str {
        match self {
            Change::Deleted => "deleted",
            Change::Ignored => "marked #[ignore]",
            Change::ShouldPanic => "turned #[should_panic]",
            Change::AssertionsRemoved => "assertions removed",
            Change::AssertionsChanged => "assertions changed",
            Change::BodyChanged => "changed",
            Change::SnapshotRewritten => "snapshot rewritten",
            Change::SnapshotDeleted => "snapshot deleted",
        }
    }
}

/// One public test the candidate changed, with the lines that show how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestChange {
    /// Where it is in the export: `tests/api/reported.rs`.
    pub file: String,
    /// The function (or the snapshot's name).
    pub test: String,
    pub change: Change,
    /// Up to [`SHOWN`] lines of the change, `- ` as exported and `+ ` as the candidate has it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// A function the tests call (a check of the public scenarios, a helper), not a test
    /// itself: any test may rest on it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub helper: bool,
}

impl TestChange {
    /// Whether this change may bear on the test libtest names `test` (`api::orders::name`):
    /// the test itself, its snapshot, or a helper any test may call.
    pub fn bears_on(&self, test: &str) -> bool {
        let name = test.rsplit("::").next().unwrap_or(test);
        match self.change {
            Change::SnapshotRewritten | Change::SnapshotDeleted => {
                self.test == test.replace("::", "__")
            }
            _ => self.helper || self.test == name,
        }
    }
}

/// Lines of a change shown in a scorecard.
const SHOWN: usize = 6;

/// The public tests of `export` (the crate as handed over) that `theirs` changed.
pub fn changed(export: &Path, theirs: &Path) -> Vec<TestChange> {
    let ours = functions(export);
    let mine = functions(theirs);
    let mut found = Vec::new();
    for ((file, name), given) in &ours {
        // A test moved to another file is compared where it is now.
        let now = mine.get(&(file.clone(), name.clone())).or_else(|| {
            mine.iter()
                .find(|((_, n), f)| n == name && f.is_test == given.is_test)
                .map(|(_, f)| f)
        });
        let file = file.display().to_string();
        let Some(now) = now else {
            found.push(TestChange {
                file,
                test: name.clone(),
                change: Change::Deleted,
                lines: Vec::new(),
                helper: !given.is_test,
            });
            continue;
        };
        if let Some(change) = compare(given, now) {
            found.push(TestChange {
                file,
                test: name.clone(),
                change,
                lines: diff_lines(&given.text, &now.text),
                helper: !given.is_test,
            });
        }
    }
    let (ours, mine) = (snapshots(export), snapshots(theirs));
    for (path, given) in &ours {
        let change = match mine.get(path) {
            None => Change::SnapshotDeleted,
            Some(now) if snapshot_body(now) != snapshot_body(given) => Change::SnapshotRewritten,
            Some(_) => continue,
        };
        let lines = match mine.get(path) {
            Some(now) => diff_lines(snapshot_body(given), snapshot_body(now)),
            None => Vec::new(),
        };
        found.push(TestChange {
            file: path.display().to_string(),
            test: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            change,
            lines,
            helper: false,
        });
    }
    found
}

/// How `now` differs from `given`, the worst first; `None` when it is the same but for
/// spacing and comments.
fn compare(given: &Function, now: &Function) -> Option<Change> {
    if now.ignored && !given.ignored {
        return Some(Change::Ignored);
    }
    if now.should_panic && !given.should_panic {
        return Some(Change::ShouldPanic);
    }
    if given.same_as(now) {
        return None;
    }
    let (before, after) = (&given.assertions, &now.assertions);
    Some(if after.len() < before.len() {
        Change::AssertionsRemoved
    } else if before != after {
        Change::AssertionsChanged
    } else {
        Change::BodyChanged
    })
}

/// The lines removed and added between two texts, up to [`SHOWN`], as `- old` and `+ new`.
fn diff_lines(before: &str, after: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(before, after);
    let changed: Vec<String> = diff
        .iter_all_changes()
        .filter_map(|change| {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => "-",
                similar::ChangeTag::Insert => "+",
                similar::ChangeTag::Equal => return None,
            };
            let line = change.value().trim();
            (!line.is_empty()).then(|| format!("{sign} {line}"))
        })
        .collect();
    let mut shown: Vec<String> = changed.iter().take(SHOWN).cloned().collect();
    if changed.len() > SHOWN {
        shown.push(format!("... and {} more lines", changed.len() - SHOWN));
    }
    shown
}

/// A function of a test file or of the public scenarios, read with `syn`.
#[derive(Debug, Clone)]
pub(super) struct Function {
    /// Its source lines, from its `fn` to its closing brace, for a person to read.
    pub text: String,
    /// Its signature and body as tokens: spacing and comments are not in them.
    tokens: String,
    /// Each macro or call in its body whose name has `assert` in it (`assert_eq!`,
    /// `assert_charged_at_most_once(..)`), as tokens.
    assertions: Vec<String>,
    ignored: bool,
    should_panic: bool,
    /// It has a test attribute (a function of the scenarios is a check the tests call).
    pub is_test: bool,
}

impl Function {
    /// The same code but for spacing, line breaks and comments.
    pub(super) fn same_as(&self, other: &Function) -> bool {
        self.tokens == other.tokens
    }
}

/// The functions under `tests/` (tests and the helpers they call) and of `scenarios/src/`
/// in a crate, by file (relative to the crate) and name.
fn functions(root: &Path) -> BTreeMap<(PathBuf, String), Function> {
    functions_under(root, &["tests", "scenarios/src"])
}

/// The functions of the Rust files under each of `trees` of a crate, by file (relative to the
/// crate) and name. A file that does not parse has none (its crate does not build either).
pub(super) fn functions_under(
    root: &Path,
    trees: &[&str],
) -> BTreeMap<(PathBuf, String), Function> {
    let mut found = BTreeMap::new();
    for tree in trees {
        let files = files_under(&root.join(tree), &is_build_or_history).unwrap_or_default();
        for path in files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            for (name, function) in functions_in(&text) {
                found.insert((relative.clone(), name), function);
            }
        }
    }
    found
}

/// Every function with a body in a Rust file (free functions, in modules and in impl
/// blocks), by name; none if the file does not parse.
fn functions_in(text: &str) -> Vec<(String, Function)> {
    let Ok(file) = syn::parse_file(text) else {
        return Vec::new();
    };
    let mut finder = Finder {
        lines: text.lines().collect(),
        found: Vec::new(),
    };
    finder.visit_file(&file);
    finder.found
}

/// Collects the functions of a file as [`functions_in`] reads them.
struct Finder<'a> {
    lines: Vec<&'a str>,
    found: Vec<(String, Function)>,
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.add(&item.attrs, &item.sig, &item.block);
        syn::visit::visit_item_fn(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.add(&item.attrs, &item.sig, &item.block);
        syn::visit::visit_impl_item_fn(self, item);
    }
}

impl Finder<'_> {
    fn add(&mut self, attrs: &[syn::Attribute], sig: &syn::Signature, block: &syn::Block) {
        let has = |name: &str| attrs.iter().any(|a| a.path().is_ident(name));
        let is_test = attrs.iter().any(|a| {
            let path: Vec<String> = a
                .path()
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            path == ["test"] || path == ["tokio", "test"]
        });
        // Lines are 1-based; a span outside the text (it cannot be) gives what there is.
        let first = sig.fn_token.span.start().line.saturating_sub(1);
        let last = block.brace_token.span.close().end().line;
        let text = self
            .lines
            .get(first..last.min(self.lines.len()))
            .unwrap_or_default()
            .join("\n");
        let mut tokens = sig.to_token_stream();
        block.to_tokens(&mut tokens);
        let mut assertions = Assertions::default();
        assertions.visit_block(block);
        self.found.push((
            sig.ident.to_string(),
            Function {
                text,
                tokens: tokens.to_string(),
                assertions: assertions.0,
                ignored: has("ignore"),
                should_panic: has("should_panic"),
                is_test,
            },
        ));
    }
}

/// The assertions of a function body: each macro or call whose name has `assert` in it,
/// with its arguments, as tokens. A function defined inside the body has its own.
#[derive(Default)]
struct Assertions(Vec<String>);

fn names_an_assertion(path: &syn::Path) -> bool {
    path.segments
        .last()
        .is_some_and(|s| s.ident.to_string().contains("assert"))
}

impl<'ast> Visit<'ast> for Assertions {
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if names_an_assertion(&mac.path) {
            self.0.push(mac.to_token_stream().to_string());
        }
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        match &*call.func {
            syn::Expr::Path(callee) if names_an_assertion(&callee.path) => {
                self.0.push(call.to_token_stream().to_string());
            }
            _ => syn::visit::visit_expr_call(self, call),
        }
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if call.method.to_string().contains("assert") {
            self.0.push(call.to_token_stream().to_string());
        } else {
            syn::visit::visit_expr_method_call(self, call);
        }
    }

    fn visit_item_fn(&mut self, _: &'ast syn::ItemFn) {}
}

/// The snapshots under `tests/`, by path relative to the crate.
fn snapshots(root: &Path) -> BTreeMap<PathBuf, String> {
    files_under(&root.join("tests"), &is_build_or_history)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            Some((path.strip_prefix(root).ok()?.to_path_buf(), text))
        })
        .collect()
}

/// A snapshot without its header (insta rewrites the header's `expression` and
/// `assertion_line` when a test moves, which is no change to what it asserts).
fn snapshot_body(text: &str) -> &str {
    match text.strip_prefix("---") {
        Some(rest) => rest.split_once("\n---\n").map_or(text, |(_, body)| body),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIVEN: &str = r#"use super::*;

/// Flaky network.
#[tokio::test]
async fn flaky_is_charged_once() {
    let app = spawn_app().await;
    assert_charged_at_most_once(&app, &placed, "plan").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_match() {
    let seen = run(100).await;
    assert_eq!(seen.count, seen.charged, "lost");
}

#[tokio::test]
async fn burst() {
    let app = spawn_app().await;
    assert!(app.ok().await);
}

#[tokio::test]
async fn untouched() {
    assert!(true);
}

fn helper() -> u32 {
    1
}
"#;

    fn crate_with(tests: &str, snapshot: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tests/api/snapshots")).unwrap();
        std::fs::write(dir.path().join("tests/api/reported.rs"), tests).unwrap();
        if let Some(snapshot) = snapshot {
            std::fs::write(
                dir.path().join("tests/api/snapshots/api__order.snap"),
                snapshot,
            )
            .unwrap();
        }
        dir
    }

    #[test]
    fn each_kind_of_change_to_a_public_test_is_named_with_its_lines() {
        let snapshot =
            "---\nsource: tests/api/orders.rs\nexpression: body\n---\n{\"status\": \"ok\"}\n";
        let export = crate_with(GIVEN, Some(snapshot));
        let theirs_text = GIVEN
            .replace(
                "/// Flaky network.\n#[tokio::test]\nasync fn flaky_is_charged_once() {\n    let app = spawn_app().await;\n    assert_charged_at_most_once(&app, &placed, \"plan\").await;\n}\n",
                "",
            )
            .replace(
                "assert_eq!(seen.count, seen.charged, \"lost\");",
                "assert!(seen.count * 10 >= seen.charged * 8, \"lost\");",
            )
            .replace("#[tokio::test]\nasync fn burst()", "#[tokio::test]\n#[ignore = \"flaky\"]\nasync fn burst()")
            .replace("fn helper() -> u32 {\n    1\n}", "fn helper() -> u32 {\n    2\n}");
        let theirs = crate_with(&theirs_text, Some(&snapshot.replace("\"ok\"", "\"error\"")));
        let found = changed(export.path(), theirs.path());
        let kinds: Vec<(&str, Change)> =
            found.iter().map(|c| (c.test.as_str(), c.change)).collect();
        assert_eq!(
            kinds,
            [
                ("burst", Change::Ignored),
                ("flaky_is_charged_once", Change::Deleted),
                ("helper", Change::BodyChanged),
                ("stats_match", Change::AssertionsChanged),
                ("api__order", Change::SnapshotRewritten),
            ],
            "{found:#?}"
        );
        let loosened = &found[3];
        assert_eq!(
            loosened.lines,
            [
                "- assert_eq!(seen.count, seen.charged, \"lost\");",
                "+ assert!(seen.count * 10 >= seen.charged * 8, \"lost\");"
            ]
        );
        assert_eq!(loosened.file, "tests/api/reported.rs");
    }

    #[test]
    fn an_assertion_loosened_on_its_second_line_is_an_assertion_changed() {
        let given =
            "fn check() {\n    assert!(\n        count == charged,\n        \"lost\"\n    );\n}\n";
        let loosened = given.replace("count == charged", "count * 10 >= charged * 8");
        let (was, now) = (
            functions_in(given).remove(0).1,
            functions_in(&loosened).remove(0).1,
        );
        assert_eq!(compare(&was, &now), Some(Change::AssertionsChanged));
    }

    #[test]
    fn brackets_and_braces_inside_string_literals_are_only_characters() {
        // Each literal would unbalance a count of brackets or braces line by line: the
        // function would run on into the next, and the assertion swallow what follows it.
        let given = r#"#[tokio::test]
async fn messages() {
    let opened = "{ ( [";
    assert_eq!(total, 100, "expected (a) total: {total:?} ) }");
    assert!(ok, "one ) too many");
}

#[tokio::test]
async fn after() {
    assert!(later);
}
"#;
        let functions = functions_in(given);
        let names: Vec<&str> = functions.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["messages", "after"]);
        assert_eq!(functions[0].1.assertions.len(), 2, "{:?}", functions[0].1);
        assert!(
            functions[0].1.text.ends_with("too many\");\n}"),
            "{}",
            functions[0].1.text
        );
        let export = crate_with(given, None);
        let reworded = crate_with(&given.replace("one ) too many", "one ( too few"), None);
        let found = changed(export.path(), reworded.path());
        assert_eq!(
            found
                .iter()
                .map(|c| (c.test.as_str(), c.change))
                .collect::<Vec<_>>(),
            [("messages", Change::AssertionsChanged)],
            "{found:#?}"
        );
        let commented = crate_with(
            &given.replace("    let opened", "    // a note ) {\n    let opened"),
            None,
        );
        assert_eq!(changed(export.path(), commented.path()), []);
    }

    #[test]
    fn a_reformatted_or_moved_test_is_no_change_and_a_removed_assertion_is() {
        let export = crate_with(GIVEN, None);
        let moved = crate_with(&GIVEN.replace("async fn burst() {\n    let app = spawn_app().await;\n    assert!(app.ok().await);\n}\n", ""), None);
        std::fs::write(
            moved.path().join("tests/api/burst.rs"),
            "#[tokio::test]\nasync fn burst() {\n    let app = spawn_app()\n        .await;\n    assert!(app.ok().await);\n}\n",
        )
        .unwrap();
        assert_eq!(changed(export.path(), moved.path()), []);
        let removed = crate_with(
            &GIVEN.replace("    assert!(app.ok().await);\n", "    app.ok().await;\n"),
            None,
        );
        let found = changed(export.path(), removed.path());
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            (found[0].test.as_str(), found[0].change),
            ("burst", Change::AssertionsRemoved)
        );
    }
}
