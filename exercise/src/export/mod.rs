//! `exercise export`: the candidate's crate.
//!
//! The export works by structure: it copies the workspace members the candidate gets, puts
//! each variant's chosen file at its module path in place of the selector file there, and
//! edits `Cargo.toml` as TOML (the fix features and the harness member out). No file is
//! filtered line by line.
//!
//! - [`cargo_toml`]: the candidate's manifests;
//! - [`leaks`]: what an export must not say;
//! - [`check`]: `--check`, the export built and tested from a clean copy.

mod cargo_toml;
mod check;
mod leaks;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

pub use cargo_toml::with_loom;
#[cfg(test)]
pub use leaks::cause_words_in;

use crate::Project;
use crate::manifest::{self, Bug};
use crate::tools::{cargo, copy_tree};

/// Writes the candidate's crate: the buggy code at its module paths, and nothing that gives
/// the answer away.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write it; must not exist or be empty.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    contents: Contents,
    /// Then build the export from a clean copy and check its tests fail exactly as
    /// its bugs declare, and that nothing its tests print names a cause.
    #[arg(long)]
    check: bool,
    /// With --check: build in this target directory instead of a fresh one inside the
    /// scratch copy. Several checks sharing one build the registry crates once, and check
    /// each export from one copy kept in it and brought up to date file by file, so that
    /// each builds again only what differs from the last.
    #[arg(long, requires = "check")]
    target_dir: Option<PathBuf>,
}

/// What goes into a candidate's crate: the flags `export` and `session new` share.
#[derive(Debug, Clone, clap::Args)]
pub struct Contents {
    /// The bugs to leave in (default: the brief's); the others get their fix.
    #[arg(long, value_delimiter = ',')]
    pub bugs: Vec<String>,
    /// Include the loom models and the replay script, as a debugging tool.
    #[arg(long)]
    pub with_loom: bool,
    /// Include the replicas stage: the Postgres store (the `postgres` feature), its tests
    /// and scripts/postgres-start.
    #[arg(long)]
    pub replicas: bool,
}

impl Contents {
    pub fn options(&self) -> Options {
        Options {
            with_loom: self.with_loom,
            replicas: self.replicas,
        }
    }
}

impl Args {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let bugs = project.bugs()?;
        let chosen = manifest::choose(&bugs, &self.contents.bugs)?;
        let options = self.contents.options();
        let exported = export(&project.root, &bugs, &chosen, &self.out, options)?;
        println!("wrote the candidate's crate to {}", self.out.display());
        if self.check {
            check::check(&self.out, &exported, self.target_dir.as_deref())?;
            println!(
                "checked: it builds and lints clean, exactly its bugs' {} triggering tests fail, and no test output names a cause",
                exported.failing.len()
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// What an export holds, for checking it.
pub struct Exported {
    /// The tests (`target::path`) that fail in it: the triggering tests of the bugs left in.
    pub failing: Vec<String>,
    pub with_loom: bool,
}

/// The workspace members the candidate gets besides the root package, and the files at the
/// root. The harness (`exercise/`), the variants, the docs and the interviewer's Docker
/// files stay behind.
const CANDIDATE_PATHS: &[&str] = &[
    "src",
    "tests/api",
    "balance-service",
    "scenarios",
    "Cargo.lock",
    ".gitignore",
    ".dockerignore",
    "Dockerfile",
    "docker-compose.yml",
];

/// Added with `--with-loom`.
const LOOM_PATHS: &[&str] = &["tests/loom.rs", "scripts/loom-replay"];

/// The replicas stage: the Postgres store, its schema and tests, and the script that starts a
/// Postgres. Left out of a plain export, which has no database driver at all. The outage
/// tests (`tests/replica_outages.rs`) check the reference's own robustness and stay behind.
const REPLICAS_PATHS: &[&str] = &[
    "src/postgres",
    "migrations",
    "tests/replicas.rs",
    "tests/cluster",
    "scenarios/src/replicas.rs",
    "scripts/postgres-start",
];

/// What goes into an export besides the service and its tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The loom models and the replay script, as a debugging tool.
    pub with_loom: bool,
    /// The replicas stage: the Postgres store behind the `postgres` feature.
    pub replicas: bool,
}

/// Writes each bug's variant files into the crate at `out`: the buggy side for the bugs in
/// `chosen`, the fixed side for every other bug. A file of the replicas stage is written
/// only where that stage is.
pub fn lay_variants(root: &Path, bugs: &[Bug], chosen: &[&Bug], out: &Path) -> Result<()> {
    for bug in bugs {
        let side = if chosen.iter().any(|c| c.id == bug.id) {
            "buggy"
        } else {
            "fixed"
        };
        for file in &bug.files {
            if !out.join(&file.module).exists() {
                continue;
            }
            let from = bug.dir(root).join(side).join(&file.variant);
            std::fs::copy(&from, out.join(&file.module))
                .with_context(|| format!("copy {} to {}", from.display(), file.module))?;
        }
    }
    Ok(())
}

/// Writes the candidate's crate to `out`, with the bugs in `chosen` left in and every other
/// bug fixed.
pub fn export(
    root: &Path,
    bugs: &[Bug],
    chosen: &[&Bug],
    out: &Path,
    options: Options,
) -> Result<Exported> {
    let Options {
        with_loom,
        replicas,
    } = options;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!("{} exists and is not empty", out.display());
    }
    let mut paths: Vec<&str> = CANDIDATE_PATHS.to_vec();
    if with_loom {
        paths.extend(LOOM_PATHS);
    }
    if replicas {
        paths.extend(REPLICAS_PATHS);
    }
    // The replicas stage's files sit inside folders the candidate always gets (src/, tests/).
    let left_out: Vec<PathBuf> = if replicas {
        Vec::new()
    } else {
        REPLICAS_PATHS.iter().map(|p| root.join(p)).collect()
    };
    // A snapshot insta wrote for review (`.snap.new`, `.pending-snap`) is scratch of this
    // checkout, not part of the exercise.
    let scratch_snapshot = |path: &Path| {
        path.file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.ends_with(".snap.new") || name.ends_with(".pending-snap"))
    };
    let skip = |path: &Path| {
        crate::tools::is_build_or_history(path)
            || scratch_snapshot(path)
            || left_out.iter().any(|p| p == path)
    };
    for path in paths {
        let from = root.join(path);
        if from.exists() {
            copy_tree(&from, &out.join(path), &skip)?;
        }
    }

    lay_variants(root, bugs, chosen, out)?;

    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("read {}", manifest.display()))?;
    write(
        &out.join("Cargo.toml"),
        &cargo_toml::candidate_manifest(&text, bugs, options)?,
    )?;
    if !with_loom {
        let member = out.join("balance-service/Cargo.toml");
        let text = std::fs::read_to_string(&member)?;
        write(&member, &cargo_toml::without_loom(&text)?)?;
        // Without the models, the sync shims are plain re-exports, with no loom in them.
        write(
            &out.join("src/sync.rs"),
            include_str!("../../templates/order-service-sync.rs"),
        )?;
        write(
            &out.join("balance-service/src/sync.rs"),
            include_str!("../../templates/balance-service-sync.rs"),
        )?;
    }

    if out.join("docker-compose.yml").exists() {
        // The candidate's edits, not the image's copy of the source, are what the app
        // container builds and tests.
        write(
            &out.join("docker-compose.override.yml"),
            include_str!("../../templates/candidate-compose-override.yml"),
        )?;
    }

    if !replicas {
        // Without the replicas stage, the binary keeps its state in memory and has no
        // --store to choose, and the scenarios have none of several replicas.
        write(
            &out.join("src/main.rs"),
            include_str!("../../templates/order-service-main.rs"),
        )?;
        write(
            &out.join("scenarios/src/lib.rs"),
            include_str!("../../templates/scenarios-lib.rs"),
        )?;
    }

    let mut failing: Vec<String> = chosen
        .iter()
        .flat_map(|bug| bug.triggering.tests.iter().cloned())
        .collect();
    if with_loom {
        failing.extend(
            chosen
                .iter()
                .flat_map(|bug| bug.triggering.loom_models.iter().cloned()),
        );
    }
    failing.sort();
    write(
        &out.join("README.md"),
        &candidate_readme(
            chosen,
            with_loom,
            replicas,
            out.join("docker-compose.yml").exists(),
        ),
    )?;
    prune_lockfile(out);
    leaks::leak_check(out, bugs, chosen, options)?;
    Ok(Exported { failing, with_loom })
}

/// Lets cargo drop the harness's dependencies from the copied `Cargo.lock`, keeping every
/// other version as it is, so the candidate's first build does not show up as a change.
/// Offline first: the crates are fetched wherever the harness has been built. Only when that
/// fails (a crate for another platform not fetched yet, say) does cargo ask the registry,
/// failing fast and within [`PRUNE_ONLINE_LIMIT`]: a container with no route to a registry
/// would otherwise have cargo retry for many minutes. Unpruned, the export still builds.
fn prune_lockfile(out: &Path) {
    let metadata = |flag: &str| {
        let mut command = cargo();
        command
            .current_dir(out)
            .args(["metadata", "--format-version", "1", flag])
            .env("CARGO_NET_RETRY", "0")
            .env("CARGO_HTTP_TIMEOUT", "10")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };
    let pruned = succeeds_within(metadata("--offline"), PRUNE_ONLINE_LIMIT)
        || succeeds_within(metadata("--quiet"), PRUNE_ONLINE_LIMIT);
    if !pruned {
        eprintln!("note: could not prune Cargo.lock; the candidate's first build will rewrite it");
    }
}

/// How long pruning the lockfile may ask the registry before it is given up.
const PRUNE_ONLINE_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether `command` exits successfully within `limit`; killed when it has not by then.
fn succeeds_within(mut command: std::process::Command, limit: std::time::Duration) -> bool {
    let Ok(mut child) = command.spawn() else {
        return false;
    };
    let started = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if started.elapsed() < limit => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

/// The candidate's README, in the spirit of the original exercise's brief.
fn candidate_readme(chosen: &[&Bug], with_loom: bool, replicas: bool, docker: bool) -> String {
    let mut in_order = chosen.to_vec();
    in_order.sort_by_key(|bug| bug.brief.position);
    let problems: String = in_order
        .iter()
        .enumerate()
        .map(|(n, bug)| {
            format!(
                "{}. **{}**: {}\n",
                n + 1,
                bug.brief.title,
                bug.symptom.trim().replace('\n', " ")
            )
        })
        .collect();
    let docker_section = if docker {
        include_str!("../../templates/candidate-docker.md")
    } else {
        ""
    };
    let loom_section = if with_loom {
        include_str!("../../templates/candidate-loom.md")
    } else {
        ""
    };
    let replicas_section = if replicas {
        include_str!("../../templates/candidate-replicas.md")
    } else {
        ""
    };
    // The failing tests by name, as `cargo test` takes them: they live in more than one
    // module, so "the reported:: ones" would not find them all.
    let tests: Vec<(&str, &str)> = in_order
        .iter()
        .flat_map(|bug| bug.triggering.tests.iter())
        .map(|test| test.split_once("::").unwrap_or(("api", test)))
        .collect();
    let failing: String = tests
        .iter()
        .map(|(target, path)| format!("- `{path}` (in `tests/{target}/`)\n"))
        .collect();
    let one_test = tests.first().map_or(String::new(), |(target, path)| {
        format!("cargo test --test {target} -- --exact {path}    # one of them")
    });
    let mut readme = include_str!("../../templates/candidate-readme.md")
        .replace("{{PROBLEMS}}", problems.trim_end())
        .replace("{{FAILING}}", failing.trim_end())
        .replace("{{ONE_TEST}}", &one_test)
        .replace("{{DOCKER}}", docker_section.trim_end())
        .replace("{{LOOM}}", loom_section.trim_end())
        .replace("{{REPLICAS}}", replicas_section.trim_end());
    // A section left out leaves its blank lines: one blank line between parts.
    while readme.contains("\n\n\n") {
        readme = readme.replace("\n\n\n", "\n\n");
    }
    readme
}
