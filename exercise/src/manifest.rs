//! The bugs, as `variants/<bug>/bug.toml` describes them, and the builds they make.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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
}

/// One bug's manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bug {
    pub id: String,
    pub title: String,
    /// What QA saw, as the candidate's README reports it.
    pub symptom: String,
    /// The cause and the reference fix in a few sentences, for `exercise info`.
    #[serde(default)]
    pub cause: String,
    pub feature: String,
    pub brief: Brief,
    pub files: Vec<BugFile>,
    pub triggering: Triggering,
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

impl Bug {
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join("variants").join(&self.id)
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

/// One build of the matrix: which bugs' fixes it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub name: String,
    pub features: Vec<String>,
    pub fixed: Vec<String>,
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Build {
    /// `--features a,b`, or nothing for the buggy build.
    pub fn cargo_args(&self) -> Vec<String> {
        if self.features.is_empty() {
            Vec::new()
        } else {
            vec!["--features".into(), self.features.join(",")]
        }
    }

    pub fn has_fix(&self, bug: &Bug) -> bool {
        self.fixed.contains(&bug.id)
    }
}

/// The buggy build, one build per single fix, and the fixed build.
pub fn matrix(bugs: &[Bug]) -> Vec<Build> {
    let mut builds = vec![Build {
        name: "buggy".into(),
        features: Vec::new(),
        fixed: Vec::new(),
    }];
    if bugs.len() > 1 {
        builds.extend(bugs.iter().map(|bug| Build {
            name: bug.feature.clone(),
            features: vec![bug.feature.clone()],
            fixed: vec![bug.id.clone()],
        }));
    }
    builds.push(Build {
        name: "fixed".into(),
        features: vec!["fixed".into()],
        fixed: bugs.iter().map(|bug| bug.id.clone()).collect(),
    });
    builds
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
            symptom: String::new(),
            cause: String::new(),
            feature: format!("fix-{id}"),
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
        }
    }
}
