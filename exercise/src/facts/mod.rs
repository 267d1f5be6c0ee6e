//! What must agree across the repository, checked in seconds by a unit test rather than in
//! minutes by `export --check`: each bug's manifest against the Cargo features, the
//! selectors' `cfg` and `#[path]`, the tests and models it names, its registered checks, its
//! corpus cases and the interviewer's data; and the export's templates against the files
//! they stand in for.
//!
//! Each disagreement is a sentence naming the file that says one thing and the file that
//! says another.

mod checks;
mod templates;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::Path;

use crate::catalog::Registered;
use crate::manifest::Bug;

/// Every disagreement found in the repository at `root`.
pub fn disagreements(root: &Path, bugs: &[Bug], registered: &[Registered]) -> Vec<String> {
    let mut found = Vec::new();
    features(root, bugs, &mut found);
    selectors(root, bugs, &mut found);
    triggering(root, bugs, &mut found);
    registry(root, bugs, registered, &mut found);
    let with_checks: Vec<_> = bugs
        .iter()
        .map(|bug| (bug, checks_of(registered, bug)))
        .collect();
    for (bug, checks) in &with_checks {
        checks::declared(root, bug, checks, &mut found);
        checks::interviewer_data(bug, checks, &mut found);
    }
    checks::corpus(root, bugs, &with_checks, &mut found);
    templates::templates(root, &mut found);
    found
}

/// The checks `registered` holds for `bug`; none for a bug without a `checks.rs`.
fn checks_of(registered: &[Registered], bug: &Bug) -> crate::catalog::Checks {
    registered
        .iter()
        .find(|r| r.id == bug.id)
        .map(|r| (r.checks)())
        .unwrap_or_default()
}

pub(super) fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_default()
}

pub(super) fn manifest_of(bug: &Bug) -> String {
    format!("variants/{}/bug.toml", bug.id)
}

/// Each bug's feature is a feature of the root package, and part of `fixed`, and of
/// `default` exactly when a plain export leaves the bug fixed; every fix feature belongs to a
/// bug.
fn features(root: &Path, bugs: &[Bug], found: &mut Vec<String>) {
    let manifest: toml::Table = match read(root, "Cargo.toml").parse() {
        Ok(table) => table,
        Err(error) => {
            found.push(format!("Cargo.toml does not parse: {error}"));
            return;
        }
    };
    let features = manifest
        .get("features")
        .and_then(|f| f.as_table())
        .cloned()
        .unwrap_or_default();
    let fixed: Vec<&str> = features
        .get("fixed")
        .and_then(|f| f.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let default: Vec<&str> = features
        .get("default")
        .and_then(|f| f.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let names: Vec<&str> = features.keys().map(String::as_str).collect();
    for bug in bugs {
        // The default build is what `cargo run` shows: the brief's bugs in, the rest fixed.
        let fixed_by_default = default.contains(&bug.feature.as_str());
        if fixed_by_default == bug.brief.by_default {
            found.push(format!(
                "{} says [brief] by_default = {}, but Cargo.toml's default features {} {:?} \
                 (the default build has the fixes of exactly the bugs a plain export leaves fixed)",
                manifest_of(bug),
                bug.brief.by_default,
                if fixed_by_default {
                    "include"
                } else {
                    "do not include"
                },
                bug.feature
            ));
        }
        if !features.contains_key(&bug.feature) {
            found.push(format!(
                "{} says feature = {:?}, but Cargo.toml's [features] has no such feature (it has {})",
                manifest_of(bug),
                bug.feature,
                names.join(", ")
            ));
        }
        if !fixed.contains(&bug.feature.as_str()) {
            found.push(format!(
                "{} says feature = {:?}, but Cargo.toml's `fixed` feature does not include it ({fixed:?})",
                manifest_of(bug),
                bug.feature
            ));
        }
    }
    for name in names.iter().filter(|n| n.starts_with("fix-")) {
        if !bugs.iter().any(|bug| bug.feature == *name) {
            found.push(format!(
                "Cargo.toml declares feature {name:?}, but no variants/*/bug.toml names it"
            ));
        }
    }
}

/// The `#[cfg]` and `#[path]` pairs of a selector file: (cfg line, path).
fn selector_paths(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter_map(|pair| {
            let path = pair[1]
                .strip_prefix("#[path = \"")?
                .strip_suffix("\"]")?
                .to_owned();
            path.contains("variants/")
                .then(|| (pair[0].to_owned(), path))
        })
        .collect()
}

/// Each declared file has, at its module path, a selector that picks the buggy file without
/// the bug's feature and the fixed one with it; every selector belongs to a declared file.
fn selectors(root: &Path, bugs: &[Bug], found: &mut Vec<String>) {
    let mut declared = BTreeSet::new();
    for bug in bugs {
        for file in &bug.files {
            declared.insert(file.module.clone());
            let text = read(root, &file.module);
            if text.is_empty() {
                found.push(format!(
                    "{} declares module {}, but there is no such file",
                    manifest_of(bug),
                    file.module
                ));
                continue;
            }
            let depth = Path::new(&file.module).components().count() - 1;
            let up = "../".repeat(depth);
            let expected = [
                (
                    format!("#[cfg(not(feature = \"{}\"))]", bug.feature),
                    format!("{up}variants/{}/buggy/{}", bug.id, file.variant),
                ),
                (
                    format!("#[cfg(feature = \"{}\")]", bug.feature),
                    format!("{up}variants/{}/fixed/{}", bug.id, file.variant),
                ),
            ];
            let actual = selector_paths(&text);
            for (cfg, path) in &expected {
                if !actual.contains(&(cfg.clone(), path.clone())) {
                    found.push(format!(
                        "{} declares {} as {}, but its selector does not pick {path} under {cfg} (it has {actual:?})",
                        manifest_of(bug),
                        file.variant,
                        file.module
                    ));
                }
            }
        }
    }
    let sources = crate::tools::files_under(&root.join("src"), &|_| false).unwrap_or_default();
    for path in sources {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        if !selector_paths(&text).is_empty() && !declared.contains(&relative) {
            found.push(format!(
                "{relative} selects a variant file, but no variants/*/bug.toml declares it under [[files]]"
            ));
        }
    }
}

/// The test file a triggering test's target is (`api` -> tests/api/, `loom` -> tests/loom.rs).
fn test_source(root: &Path, test: &str) -> Option<(String, String)> {
    let (target, path) = test.split_once("::")?;
    let (module, name) = match path.rsplit_once("::") {
        Some((module, name)) => (Some(module), name),
        None => (None, path),
    };
    let file = match (target, module) {
        (target, Some(module)) => format!("tests/{target}/{}.rs", module.replace("::", "/")),
        (target, None) if root.join(format!("tests/{target}.rs")).exists() => {
            format!("tests/{target}.rs")
        }
        (target, None) => format!("tests/{target}/main.rs"),
    };
    Some((file, name.to_owned()))
}

pub(super) fn defines_fn(text: &str, name: &str) -> bool {
    text.contains(&format!("fn {name}("))
}

/// Each triggering test and loom model exists as a test function where its name says.
fn triggering(root: &Path, bugs: &[Bug], found: &mut Vec<String>) {
    for bug in bugs {
        for test in bug.triggering() {
            match test_source(root, test) {
                Some((file, name)) if defines_fn(&read(root, &file), &name) => {}
                Some((file, name)) => found.push(format!(
                    "{} names triggering test {test}, but {file} has no fn {name}",
                    manifest_of(bug)
                )),
                None => found.push(format!(
                    "{} names triggering test {test:?}, which is not target::path",
                    manifest_of(bug)
                )),
            }
        }
    }
}

/// Every registered bug has a manifest; every `checks.rs` is registered, as a module whose
/// `#[path]` is that file.
fn registry(root: &Path, bugs: &[Bug], registered: &[Registered], found: &mut Vec<String>) {
    let source = read(root, "exercise/src/catalog/mod.rs");
    for entry in registered {
        if !bugs.iter().any(|bug| bug.id == entry.id) {
            found.push(format!(
                "exercise/src/catalog/mod.rs registers checks for {:?}, but there is no variants/{}/bug.toml",
                entry.id, entry.id
            ));
        }
        let module = entry.id.replace('-', "_");
        let path = format!("#[path = \"../../../variants/{}/checks.rs\"]", entry.id);
        if !source.contains(&format!("{path}\nmod {module};")) {
            found.push(format!(
                "exercise/src/catalog/mod.rs registers {:?}, but does not declare `mod {module}` at {path}",
                entry.id
            ));
        }
    }
    for bug in bugs {
        let has_checks = bug.dir(root).join("checks.rs").exists();
        let is_registered = registered.iter().any(|r| r.id == bug.id);
        if has_checks && !is_registered {
            found.push(format!(
                "variants/{}/checks.rs exists, but exercise/src/catalog/mod.rs does not register it",
                bug.id
            ));
        }
    }
}
