//! The bugs, as `variants/<bug>/bug.toml` describes them, and the builds they make.
//!
//! A manifest holds the facts the tools act on (the feature, the files, the triggering tests)
//! and what the interviewer needs to run the bug in a session (the cause, the hint ladder, the
//! wrong fixes and gaps with the question for each), which `exercise info` and the generated
//! `docs/bugs.md` render.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalog::Verdict;

/// Why the bugs' manifests could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{manifest}: {file} is declared but missing")]
    MissingFile { manifest: PathBuf, file: PathBuf },
    #[error("no variants/*/bug.toml under {0}")]
    NoBugs(PathBuf),
    #[error("no bug {id:?}; the bugs are {known}")]
    UnknownBug { id: String, known: String },
    #[error("no build {name:?}: use buggy, default, fixed or one of {features}")]
    UnknownBuild { name: String, features: String },
}

/// One bug's manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bug {
    pub id: String,
    pub title: String,
    pub feature: String,
    pub tier: Tier,
    /// Minutes a solid candidate takes to find, fix and verify it, unhinted.
    pub minutes: u32,
    /// What QA saw, as the candidate's README reports it.
    pub symptom: String,
    /// What the candidate sees first: the failing tests and what they print.
    pub sees: String,
    /// The cause, for the interviewer.
    pub cause: String,
    /// The interleaving that shows the cause, as a diagram, where there is one.
    #[serde(default)]
    pub interleaving: String,
    /// The reference fix, in a paragraph.
    pub fix: String,
    /// Other fixes as good, and what to ask about each.
    #[serde(default)]
    pub alternatives: Vec<String>,
    /// What candidates usually try first, and what to make of it.
    #[serde(default)]
    pub first_tries: Vec<String>,
    /// Questions for the time left once it is fixed.
    #[serde(default)]
    pub follow_ups: Vec<String>,
    pub brief: Brief,
    pub files: Vec<BugFile>,
    pub triggering: Triggering,
    pub hints: Vec<Hint>,
    #[serde(default)]
    pub wrong_fixes: Vec<WrongFix>,
    #[serde(default)]
    pub gaps: Vec<Gap>,
}

/// How much of the hour a bug takes, and how much it tells about a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Minutes: shows whether the candidate reads the test before the code.
    WarmUp,
    /// The brief's: a classic bug class, found, fixed and verified in a quarter of an hour.
    Core,
    /// What only async Rust has: for a candidate who finished the core ones.
    Deep,
}

impl Tier {
    pub fn label(self) -> &'static str {
        match self {
            Tier::WarmUp => "warm-up",
            Tier::Core => "core",
            Tier::Deep => "deep",
        }
    }
}

/// How the candidate's README reports the bug: its place in the list and a title that
/// names what QA saw, not the cause.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Brief {
    pub position: u32,
    pub title: String,
    /// Whether a plain `exercise export` leaves this bug in; otherwise only `--bugs` does.
    #[serde(default = "yes")]
    pub by_default: bool,
}

fn yes() -> bool {
    true
}

/// A file under `variants/<bug>/{buggy,fixed}/` and the module path it is compiled as.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BugFile {
    pub variant: String,
    pub module: String,
}

/// What shows the bug: tests (`api::concurrency::name`) and loom models (`loom::name`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggering {
    #[serde(default)]
    pub tests: Vec<String>,
    #[serde(default)]
    pub loom_models: Vec<String>,
}

/// One rung of the hint ladder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hint {
    /// When to give it, timed from when the candidate starts on the bug.
    pub when: String,
    /// The rubric row it caps (see `session::score`).
    pub lowers: Row,
    /// What to say.
    pub say: String,
}

/// A row of the guide's scoring rubric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Row {
    Reproducing,
    Reasoning,
    Fixing,
    Verifying,
    Production,
}

impl Row {
    pub fn label(self) -> &'static str {
        match self {
            Row::Reproducing => "reproducing",
            Row::Reasoning => "reasoning",
            Row::Fixing => "fixing",
            Row::Verifying => "verifying",
            Row::Production => "production",
        }
    }
}

/// A fix that stops the symptom, or seems to, and is not right.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrongFix {
    /// What the candidate did.
    pub fix: String,
    /// What `grade` says of this bug for it.
    pub verdict: Verdict,
    /// The checks whose failure shows it (scenario or test names).
    pub checks: Vec<String>,
    /// Corpus cases that are examples of it.
    #[serde(default)]
    pub corpus: Vec<String>,
    /// What to ask the candidate.
    pub ask: String,
    /// The defect is one a robustness check finds (`checks`), made a wrong fix because the
    /// candidate edited a public test to accept it.
    #[serde(default)]
    pub hidden_by_an_edited_test: bool,
}

/// A gap a fix may leave: robustness checks that fail, and what to ask.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// The robustness checks whose failure is this gap; the first one's text names it.
    pub checks: Vec<String>,
    /// Corpus cases that leave it.
    #[serde(default)]
    pub corpus: Vec<String>,
    pub ask: String,
}

impl Bug {
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join("variants").join(&self.id)
    }

    /// `file` as `side` (`buggy` or `fixed`) of this bug writes it.
    pub fn variant(&self, root: &Path, side: &str, file: &BugFile) -> PathBuf {
        self.dir(root).join(side).join(&file.variant)
    }

    /// Every test and model that must fail without this bug's fix.
    pub fn triggering(&self) -> impl Iterator<Item = &str> {
        self.triggering
            .tests
            .iter()
            .chain(&self.triggering.loom_models)
            .map(String::as_str)
    }
}

/// All bugs of the project at `root`, in id order.
pub fn load(root: &Path) -> Result<Vec<Bug>, ManifestError> {
    let variants = root.join("variants");
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ManifestError::Read { path, source }
    };
    let mut bugs = Vec::new();
    for entry in std::fs::read_dir(&variants).map_err(read_error(&variants))? {
        let manifest = entry
            .map_err(read_error(&variants))?
            .path()
            .join("bug.toml");
        if !manifest.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest).map_err(read_error(&manifest))?;
        let bug: Bug = toml::from_str(&text).map_err(|source| ManifestError::Parse {
            path: manifest.clone(),
            source,
        })?;
        for file in &bug.files {
            for side in ["buggy", "fixed"] {
                let path = bug.dir(root).join(side).join(&file.variant);
                if !path.exists() {
                    return Err(ManifestError::MissingFile {
                        manifest,
                        file: path,
                    });
                }
            }
        }
        bugs.push(bug);
    }
    if bugs.is_empty() {
        return Err(ManifestError::NoBugs(root.to_path_buf()));
    }
    bugs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(bugs)
}

/// One build: which bugs' fixes it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub name: String,
    pub features: Vec<String>,
    pub fixed: Vec<String>,
    /// Built without the crate's default features. This repository's default build has the
    /// catalog's fixes in (so that `cargo run` shows the brief's symptoms alone); every
    /// build of the matrix says what it has, from none.
    pub no_default_features: bool,
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Build {
    /// A crate built as it is, with its own default features: a candidate's crate, or an
    /// export.
    pub fn plain(name: &str) -> Self {
        Build {
            name: name.into(),
            features: Vec::new(),
            fixed: Vec::new(),
            no_default_features: false,
        }
    }

    /// A build of this repository with exactly `features`.
    fn with_exactly(name: &str, features: Vec<String>, fixed: Vec<String>) -> Self {
        Build {
            name: name.into(),
            features,
            fixed,
            no_default_features: true,
        }
    }

    /// `--no-default-features --features a,b`, or as little of it as the build needs.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.no_default_features {
            args.push("--no-default-features".into());
        }
        if !self.features.is_empty() {
            args.extend(["--features".into(), self.features.join(",")]);
        }
        args
    }

    pub fn has_fix(&self, bug: &Bug) -> bool {
        self.fixed.contains(&bug.id)
    }

    /// The same build with one more feature (`postgres`), under a name of its own.
    pub fn with_feature(&self, feature: &str) -> Self {
        let mut build = self.clone();
        build.features.push(feature.into());
        build.name = format!("{}-{feature}", self.name);
        build
    }
}

/// The buggy build (every bug in), one build per single fix, and the fixed build.
pub fn matrix(bugs: &[Bug]) -> Vec<Build> {
    let mut builds = vec![Build::with_exactly("buggy", Vec::new(), Vec::new())];
    if bugs.len() > 1 {
        builds.extend(bugs.iter().map(|bug| {
            Build::with_exactly(
                &bug.feature,
                vec![bug.feature.clone()],
                vec![bug.id.clone()],
            )
        }));
    }
    // `fixed` turns on every fix, the default's among them: said as `--features fixed`.
    builds.push(Build {
        no_default_features: false,
        ..Build::with_exactly(
            "fixed",
            vec!["fixed".into()],
            bugs.iter().map(|bug| bug.id.clone()).collect(),
        )
    });
    builds
}

/// The build `cargo run` and `cargo test` make: the brief's bugs in, the catalog's fixed
/// (`Cargo.toml`'s default features are the fixes of the bugs a plain export leaves fixed).
pub fn default_build(bugs: &[Bug]) -> Build {
    Build {
        name: "default".into(),
        features: Vec::new(),
        fixed: bugs
            .iter()
            .filter(|bug| !bug.brief.by_default)
            .map(|bug| bug.id.clone())
            .collect(),
        no_default_features: false,
    }
}

/// The build a command line names: `buggy`, `default`, `fixed`, or a fix feature.
pub fn build_named(bugs: &[Bug], name: &str) -> Result<Build, ManifestError> {
    matrix(bugs)
        .into_iter()
        .chain([default_build(bugs)])
        .find(|build| build.name == name)
        .ok_or_else(|| ManifestError::UnknownBuild {
            name: name.to_owned(),
            features: bugs
                .iter()
                .map(|b| b.feature.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Finds a bug by id.
pub fn find<'a>(bugs: &'a [Bug], id: &str) -> Result<&'a Bug, ManifestError> {
    bugs.iter()
        .find(|bug| bug.id == id)
        .ok_or_else(|| ManifestError::UnknownBug {
            id: id.to_owned(),
            known: bugs
                .iter()
                .map(|b| b.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The bugs named by id, or the brief's when none are named.
pub fn choose<'a>(bugs: &'a [Bug], ids: &[String]) -> Result<Vec<&'a Bug>, ManifestError> {
    if ids.is_empty() {
        return Ok(bugs.iter().filter(|bug| bug.brief.by_default).collect());
    }
    ids.iter().map(|id| find(bugs, id)).collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A bug with these triggering tests and models, for tests of the harness.
    pub fn bug(id: &str, tests: &[&str], models: &[&str]) -> Bug {
        Bug {
            id: id.into(),
            title: String::new(),
            feature: format!("fix-{id}"),
            tier: Tier::Core,
            minutes: 10,
            symptom: String::new(),
            sees: String::new(),
            cause: String::new(),
            interleaving: String::new(),
            fix: String::new(),
            alternatives: Vec::new(),
            first_tries: Vec::new(),
            follow_ups: Vec::new(),
            brief: Brief {
                position: 1,
                title: String::new(),
                by_default: true,
            },
            files: vec![BugFile {
                variant: "x.rs".into(),
                module: "src/x.rs".into(),
            }],
            triggering: Triggering {
                tests: tests.iter().map(|t| t.to_string()).collect(),
                loom_models: models.iter().map(|t| t.to_string()).collect(),
            },
            hints: Vec::new(),
            wrong_fixes: Vec::new(),
            gaps: Vec::new(),
        }
    }

    #[test]
    fn a_build_is_named_by_buggy_fixed_or_a_fix_feature() {
        let bugs = [bug("a", &[], &[]), bug("b", &[], &[])];
        assert_eq!(build_named(&bugs, "fix-b").unwrap().fixed, ["b"]);
        assert_eq!(build_named(&bugs, "fixed").unwrap().fixed, ["a", "b"]);
        assert_eq!(
            build_named(&bugs, "buggy").unwrap().cargo_args(),
            ["--no-default-features"]
        );
        let default = build_named(&bugs, "default").unwrap();
        assert!(default.fixed.is_empty() && default.cargo_args().is_empty());
        let error = build_named(&bugs, "fix-c").unwrap_err().to_string();
        assert!(error.contains("fix-a, fix-b"), "{error}");
    }
}
