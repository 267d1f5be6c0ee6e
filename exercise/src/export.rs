//! `exercise info` and `exercise export`: a bug's fix as a diff, and the candidate's crate.
//!
//! The export works by structure: it copies the workspace members the candidate gets, puts
//! each variant's chosen file at its module path in place of the selector file there, and
//! edits `Cargo.toml` as TOML (the fix features and the harness member out). No file is
//! filtered line by line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::manifest::{Bug, Build};
use crate::tools::{cargo, copy_tree};
use crate::verify;

/// A bug in full, for `exercise info`.
pub fn describe(root: &Path, bug: &Bug) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}\n", bug.id, bug.title);
    let _ = writeln!(
        out,
        "Symptom (as the candidate's README reports it):\n  {}\n",
        bug.symptom.trim().replace('\n', "\n  ")
    );
    let _ = writeln!(out, "Feature: {} (the reference fix)\n", bug.feature);
    if !bug.cause.is_empty() {
        let _ = writeln!(
            out,
            "Cause:\n  {}\n",
            bug.cause.trim().replace('\n', "\n  ")
        );
    }
    let _ = writeln!(
        out,
        "Triggering tests (fail in every build without the fix):"
    );
    for test in &bug.triggering.tests {
        let (target, path) = test.split_once("::").unwrap_or(("api", test));
        let _ = writeln!(
            out,
            "  {test}\n    cargo test --test {target} -- --exact {path}"
        );
    }
    if !bug.triggering.loom_models.is_empty() {
        let _ = writeln!(out, "\nLoom models (RUSTFLAGS=\"--cfg orders_loom\"):");
        for model in &bug.triggering.loom_models {
            let name = model.trim_start_matches("loom::");
            let _ = writeln!(out, "  {model}\n    scripts/loom-replay {name}");
        }
    }
    let checks: Vec<_> = crate::suite::all()
        .into_iter()
        .filter(|s| s.bug == bug.id)
        .collect();
    if !checks.is_empty() {
        let _ = writeln!(
            out,
            "\nHow `grade` decides (symptom checks: fixed or not; guards: a wrong fix; robustness: gaps):"
        );
        for check in checks {
            let visibility = if check.public { "public" } else { "held back" };
            let meaning = check.role.meaning();
            let _ = writeln!(
                out,
                "  {:<10} {} ({visibility}){}",
                check.role.kind(),
                check.name,
                if meaning.is_empty() {
                    String::new()
                } else {
                    format!("\n             fails when: {meaning}")
                }
            );
        }
        for (check, probe_bug, role) in crate::grade::PROBES {
            if *probe_bug == bug.id {
                let _ = writeln!(out, "  {:<10} {check} (white-box)", role.kind());
            }
        }
    }
    let _ = writeln!(
        out,
        "\nThe fix, from the candidate's code (buggy) to the reference (fixed):\n"
    );
    for file in &bug.files {
        let dir = bug.dir(root);
        let read = |side: &str| -> Result<String> {
            let path = dir.join(side).join(&file.variant);
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))
        };
        let (buggy, fixed) = (read("buggy")?, read("fixed")?);
        let diff = similar::TextDiff::from_lines(&buggy, &fixed);
        let _ = write!(
            out,
            "{}",
            diff.unified_diff().context_radius(3).header(
                &format!("buggy/{} ({})", file.variant, file.module),
                &format!("fixed/{} ({})", file.variant, file.module),
            )
        );
    }
    Ok(out)
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
/// Postgres. Left out of a plain export, which has no database driver at all.
const REPLICAS_PATHS: &[&str] = &[
    "src/postgres",
    "migrations",
    "tests/replicas.rs",
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
    let skip = |path: &Path| {
        path.file_name().is_some_and(|name| name == "target") || left_out.iter().any(|p| p == path)
    };
    for path in paths {
        let from = root.join(path);
        if from.exists() {
            copy_tree(&from, &out.join(path), &skip)?;
        }
    }

    for bug in bugs {
        let side = if chosen.iter().any(|c| c.id == bug.id) {
            "buggy"
        } else {
            "fixed"
        };
        for file in &bug.files {
            // A file of the replicas stage goes only where that stage does.
            if !out.join(&file.module).exists() {
                continue;
            }
            let from = bug.dir(root).join(side).join(&file.variant);
            std::fs::copy(&from, out.join(&file.module))
                .with_context(|| format!("copy {} to {}", from.display(), file.module))?;
        }
    }

    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("read {}", manifest.display()))?;
    write(
        &out.join("Cargo.toml"),
        &candidate_manifest(&text, bugs, options)?,
    )?;
    if !with_loom {
        let member = out.join("balance-service/Cargo.toml");
        let text = std::fs::read_to_string(&member)?;
        write(&member, &without_loom(&text)?)?;
        // Without the models, the sync shims are plain re-exports, with no loom in them.
        write(
            &out.join("src/sync.rs"),
            include_str!("../templates/order-service-sync.rs"),
        )?;
        write(
            &out.join("balance-service/src/sync.rs"),
            include_str!("../templates/balance-service-sync.rs"),
        )?;
    }

    if !replicas {
        // Without the replicas stage, the binary keeps its state in memory and has no
        // --store to choose, and the scenarios have none of several replicas.
        write(
            &out.join("src/main.rs"),
            include_str!("../templates/order-service-main.rs"),
        )?;
        write(
            &out.join("scenarios/src/lib.rs"),
            include_str!("../templates/scenarios-lib.rs"),
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
        &candidate_readme(chosen, with_loom, out.join("docker-compose.yml").exists()),
    )?;
    prune_lockfile(out);
    leak_check(out, bugs, chosen, options)?;
    Ok(Exported { failing, with_loom })
}

/// The candidate's `Cargo.toml`: the root manifest without the fix features, without the
/// harness among the workspace members, and every member tested by default only when it
/// is the service's own (`cargo test` runs the order service's tests).
fn candidate_manifest(text: &str, bugs: &[Bug], options: Options) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("parse Cargo.toml")?;
    let workspace = doc["workspace"]
        .as_table_mut()
        .context("Cargo.toml has no [workspace]")?;
    let members = workspace["members"]
        .as_array_mut()
        .context("workspace.members is not an array")?;
    members.retain(|member| member.as_str() != Some("exercise"));
    members.decor_mut().clear();
    if let Some((mut key, _)) = workspace.get_key_value_mut("members") {
        key.leaf_decor_mut()
            .set_prefix("# The order service is this package; beside it, the balance service it charges\n# and the scenarios its tests run.\n");
    }
    workspace.remove("default-members");
    if let Some(features) = doc.get_mut("features").and_then(|f| f.as_table_mut()) {
        for bug in bugs {
            features.remove(&bug.feature);
        }
        features.remove("fixed");
        if features.iter().all(|(name, _)| name == "default") {
            doc.remove("features");
        }
    }
    if !options.replicas {
        if let Some(features) = doc.get_mut("features").and_then(|f| f.as_table_mut()) {
            features.remove("postgres");
            if features.iter().all(|(name, _)| name == "default") {
                doc.remove("features");
            }
        }
        if let Some(dependencies) = doc.get_mut("dependencies").and_then(|d| d.as_table_mut()) {
            dependencies.remove("sqlx");
        }
        doc.remove("test");
    }
    let text = doc.to_string();
    if options.with_loom {
        Ok(text)
    } else {
        without_loom(&text)
    }
}

/// A manifest without its loom dependency, and without the loom cfg among the expected ones.
fn without_loom(text: &str) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("parse a Cargo.toml")?;
    if let Some(target) = doc.get_mut("target").and_then(|t| t.as_table_mut()) {
        target.remove("cfg(orders_loom)");
        if target.is_empty() {
            doc.remove("target");
        }
    }
    let has_rust_lints = doc
        .get("workspace")
        .and_then(|w| w.get("lints"))
        .and_then(|l| l.get("rust"))
        .is_some();
    if has_rust_lints && let Some(rust) = doc["workspace"]["lints"]["rust"].as_table_like_mut() {
        rust.remove("unexpected_cfgs");
    }
    Ok(doc.to_string())
}

/// A manifest with loom as a dependency of `--cfg orders_loom` builds, as the repository's.
pub fn with_loom(text: &str) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("parse a Cargo.toml")?;
    let target = doc
        .entry("target")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .context("[target] is not a table")?;
    target.set_implicit(true);
    let loom = target
        .entry("cfg(orders_loom)")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .context("[target.'cfg(orders_loom)'] is not a table")?;
    loom.set_implicit(true);
    let dependencies = loom
        .entry("dependencies")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .context("the loom dependencies are not a table")?;
    if !dependencies.contains_key("loom") {
        let loom: toml_edit::Value = r#"{ version = "0.7", features = ["futures", "checkpoint"] }"#
            .parse()
            .context("the loom dependency")?;
        dependencies["loom"] = toml_edit::value(loom);
    }
    Ok(doc.to_string())
}

/// Lets cargo drop the harness's dependencies from the copied `Cargo.lock`, keeping every
/// other version as it is, so the candidate's first build does not show up as a change.
fn prune_lockfile(out: &Path) {
    let pruned = ["--offline", "--quiet"].iter().any(|flag| {
        cargo()
            .current_dir(out)
            .args(["metadata", "--format-version", "1", flag])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if !pruned {
        eprintln!("note: could not prune Cargo.lock; the candidate's first build will rewrite it");
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Words that name a cause. The order service's code, its tests and the README the
/// candidate reads speak of what QA and customers saw, never of these.
pub const CAUSE_WORDS: &[&str] = &[
    "lost update",
    "lost-update",
    "race",
    "racy",
    "response lost",
    "response is lost",
    "response was lost",
    "lost response",
    "responses lost",
    "retry without",
    "without a key",
    "idempotenc",
];

/// The cause words in `text`, matched case-insensitively as words or word starts.
pub fn cause_words_in(text: &str) -> Vec<&'static str> {
    let lower = text.to_lowercase();
    CAUSE_WORDS
        .iter()
        .copied()
        .filter(|word| {
            lower.match_indices(word).any(|(at, _)| {
                let before = lower[..at].chars().next_back();
                let after = lower[at + word.len()..].chars().next();
                let boundary = |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric());
                // "idempotenc" is a word start; the others are whole words or phrases.
                boundary(before) && (*word == "idempotenc" || boundary(after))
            })
        })
        .collect()
}

/// Fails if anything of the interviewer's side made it into the export, or if the order
/// service's side names a cause of a bug left in.
fn leak_check(out: &Path, bugs: &[Bug], chosen: &[&Bug], options: Options) -> Result<()> {
    let mut leaks = Vec::new();
    let mut interviewer: Vec<String> = vec![
        "variants/".into(),
        "features fixed".into(),
        "bug.toml".into(),
        "cargo exercise".into(),
    ];
    if !options.with_loom {
        interviewer.push("loom".into());
    }
    if !options.replicas {
        interviewer.extend(["sqlx".into(), "postgres".into()]);
    }
    interviewer.extend(bugs.iter().map(|b| b.feature.clone()));
    // The files of a bug left out are its fix, and may say why.
    let fixed_files: Vec<PathBuf> = bugs
        .iter()
        .filter(|b| !chosen.iter().any(|c| c.id == b.id))
        .flat_map(|b| b.files.iter().map(|f| out.join(&f.module)))
        .collect();
    for path in files_under(out)? {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "lock") {
            continue;
        }
        let shown = path
            .strip_prefix(out)
            .unwrap_or(&path)
            .display()
            .to_string();
        for needle in &interviewer {
            if text.contains(needle.as_str()) {
                leaks.push(format!("{shown} mentions {needle:?}"));
            }
        }
        // The balance service stands for an external system and documents its own API,
        // idempotency keys included.
        let order_side = !shown.starts_with("balance-service/") && !shown.ends_with(".lock");
        if order_side && !fixed_files.contains(&path) {
            for word in cause_words_in(&text) {
                leaks.push(format!("{shown} names a cause: {word:?}"));
            }
        }
    }
    ensure!(
        leaks.is_empty(),
        "the export would give the answer away:\n  {}",
        leaks.join("\n  ")
    );
    Ok(())
}

/// Builds the export from a clean copy, lints it, and checks that exactly the triggering
/// tests of the bugs left in fail, and that nothing `cargo test` prints names a cause.
pub fn check(out: &Path, exported: &Exported) -> Result<()> {
    let clean = std::env::temp_dir().join(format!("exercise-export-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&clean);
    copy_tree(out, &clean, &|_| false)?;
    let build = Build {
        name: "export".into(),
        features: Vec::new(),
        fixed: Vec::new(),
    };
    let clippy = cargo()
        .current_dir(&clean)
        .env_remove("RUSTFLAGS")
        .args(["clippy", "--all-targets", "--", "-D", "warnings"])
        .status()?;
    ensure!(
        clippy.success(),
        "the export does not pass cargo clippy -D warnings"
    );
    let suite = verify::run_suite(&clean, &build, false)?;
    let mut results = suite.results;
    let named = cause_words_in(&suite.output);
    if exported.with_loom {
        results.extend(verify::run_suite(&clean, &build, true)?.results);
    }
    let failed: Vec<_> = results
        .iter()
        .filter(|(_, passed)| !**passed)
        .map(|(test, _)| test.clone())
        .collect();
    let _ = std::fs::remove_dir_all(&clean);
    ensure!(
        failed == exported.failing,
        "the export's failing tests are not its bugs' triggering tests:\n  failed:   {failed:?}\n  expected: {:?}",
        exported.failing
    );
    ensure!(
        named.is_empty(),
        "`cargo test` in the export prints words that name a cause: {named:?}"
    );
    Ok(())
}

/// The candidate's README, in the spirit of the original exercise's brief.
fn candidate_readme(chosen: &[&Bug], with_loom: bool, docker: bool) -> String {
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
        include_str!("candidate-docker.md")
    } else {
        ""
    };
    let loom_section = if with_loom {
        include_str!("candidate-loom.md")
    } else {
        ""
    };
    include_str!("candidate-readme.md")
        .replace("{{PROBLEMS}}", problems.trim_end())
        .replace("{{DOCKER}}", docker_section.trim_end())
        .replace("{{LOOM}}", loom_section.trim_end())
        .replace("\n\n\n", "\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenarios_template_is_their_crate_root_without_the_replicas() {
        let root = include_str!("../../scenarios/src/lib.rs");
        let expected: String = root
            .lines()
            .filter(|line| !line.contains("replicas"))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(
            include_str!("../templates/scenarios-lib.rs"),
            expected,
            "exercise/templates/scenarios-lib.rs should be scenarios/src/lib.rs without its replicas module"
        );
    }

    #[test]
    fn cause_words_are_found_as_words_only() {
        assert_eq!(cause_words_in("a data race here"), ["race"]);
        assert!(cause_words_in("trace the order; embrace it; racecar").is_empty());
        assert_eq!(cause_words_in("Idempotency-Key header"), ["idempotenc"]);
        assert_eq!(cause_words_in("a Lost Update"), ["lost update"]);
    }

    #[test]
    fn the_candidate_manifest_loses_the_fix_features_and_the_harness() {
        let manifest = r#"[workspace]
# The harness is a member too.
members = ["balance-service", "scenarios", "exercise"]
default-members = [".", "balance-service", "scenarios", "exercise"]

[package]
name = "order-service"

[features]
default = []
# Each feature swaps one bug's code.
fix-a = []
fixed = ["fix-a"]

[dependencies]
axum = "0.8"

[target.'cfg(orders_loom)'.dependencies]
loom = "0.7"
"#;
        let bug = |feature: &str| Bug {
            feature: feature.into(),
            ..crate::manifest::tests::bug("a", &[], &[])
        };
        let out = candidate_manifest(manifest, &[bug("fix-a")], Options::default()).unwrap();
        assert_eq!(
            out,
            r#"[workspace]
# The order service is this package; beside it, the balance service it charges
# and the scenarios its tests run.
members = ["balance-service", "scenarios"]

[package]
name = "order-service"

[dependencies]
axum = "0.8"
"#
        );
    }
}
