//! `exercise info` and `exercise export`: a bug's fix as a diff, and the candidate's crate.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::manifest::{Bug, Build};
use crate::tools::{cargo, copy_tree};
use crate::verify;

/// A bug in full, for `exercise info`.
pub fn describe(root: &Path, bug: &Bug) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}\n", bug.id, bug.title);
    let _ = writeln!(
        out,
        "Symptom:\n  {}\n",
        bug.symptom.trim().replace('\n', "\n  ")
    );
    let _ = writeln!(out, "Feature: {} (the reference fix)\n", bug.feature);
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
    let _ = writeln!(out, "\nLoom models (RUSTFLAGS=\"--cfg orders_loom\"):");
    for model in &bug.triggering.loom_models {
        let name = model.trim_start_matches("loom::");
        let _ = writeln!(out, "  {model}\n    scripts/loom-replay {name}");
    }
    let _ = writeln!(
        out,
        "\nThe fix, from the candidate's code (buggy) to the reference (fixed):\n"
    );
    for file in &bug.files {
        let dir = bug.dir(root);
        let read = |side: &str| {
            let path = dir.join(side).join(&file.variant);
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
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
    /// The tests (`target::path`) the candidate's README says fail.
    pub failing: Vec<String>,
    pub with_loom: bool,
}

/// Files and folders the candidate gets, relative to the repository root.
const CANDIDATE_PATHS: &[&str] = &[
    "Cargo.lock",
    ".gitignore",
    ".dockerignore",
    "src",
    "tests/api",
];

/// Never exported, even when under a path above.
const INTERVIEWER_ONLY: &[&str] = &["src/bin/exercise"];

/// Writes the candidate's crate to `out`, with the bugs in `chosen` left in and every other
/// bug fixed.
pub fn export(
    root: &Path,
    bugs: &[Bug],
    chosen: &[&Bug],
    out: &Path,
    with_loom: bool,
) -> Result<Exported, String> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| e.to_string())?
            .next()
            .is_some()
    {
        return Err(format!("{} exists and is not empty", out.display()));
    }
    let mut paths: Vec<&str> = CANDIDATE_PATHS.to_vec();
    if with_loom {
        paths.extend(["tests/loom.rs", "scripts/loom-replay"]);
    }
    let interviewer_only = |path: &Path| INTERVIEWER_ONLY.iter().any(|p| path == root.join(p));
    for path in paths {
        let from = root.join(path);
        if from.exists() {
            copy_tree(&from, &out.join(path), &interviewer_only)?;
        }
    }

    for file in ["Cargo.toml", "Dockerfile", "docker-compose.yml"] {
        let from = root.join(file);
        if from.exists() {
            let text =
                std::fs::read_to_string(&from).map_err(|e| format!("{}: {e}", from.display()))?;
            write(&out.join(file), &drop_interviewer_blocks(&text))?;
        }
    }

    for bug in bugs {
        let side = if chosen.iter().any(|c| c.id == bug.id) {
            "buggy"
        } else {
            "fixed"
        };
        for file in &bug.files {
            let from = bug.dir(root).join(side).join(&file.variant);
            let text =
                std::fs::read_to_string(&from).map_err(|e| format!("{}: {e}", from.display()))?;
            write(&out.join(&file.module), &text)?;
        }
    }
    for file in rust_files(&out.join("src"))? {
        let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        let inlined = drop_variant_paths(&text);
        if inlined != text {
            write(&file, &inlined)?;
        }
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
            &failing,
            with_loom,
            out.join("docker-compose.yml").exists(),
        ),
    )?;
    prune_lockfile(out);
    leak_check(out)?;
    Ok(Exported { failing, with_loom })
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

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

fn rust_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    Ok(files)
}

/// A file without its interviewer-only blocks: in Cargo.toml the fix features and the
/// harness's dependencies, in the Dockerfile and compose file the VARIANT argument and the
/// demo service.
fn drop_interviewer_blocks(text: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let marker = line.trim_start();
        if marker.starts_with("# -- interviewer only") {
            skipping = true;
        } else if marker.starts_with("# -- end interviewer only") {
            skipping = false;
        } else if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.replace("\n\n\n", "\n\n")
}

/// Removes the `#[cfg_attr(..., path = "../variants/...")]` attributes that pick a variant,
/// leaving the plain `mod` line, whose file the export has put at the module's own path.
fn drop_variant_paths(source: &str) -> String {
    let mut out = String::new();
    let mut attribute = String::new();
    let mut depth = 0i32;
    for line in source.split_inclusive('\n') {
        if depth == 0 && !line.trim_start().starts_with("#[cfg_attr(") {
            out.push_str(line);
            continue;
        }
        attribute.push_str(line);
        depth += line.matches(['(', '[']).count() as i32 - line.matches([')', ']']).count() as i32;
        if depth <= 0 {
            if !attribute.contains("variants/") {
                out.push_str(&attribute);
            }
            attribute.clear();
            depth = 0;
        }
    }
    out.push_str(&attribute);
    out
}

/// Fails if anything of the interviewer's side made it into the export.
fn leak_check(out: &Path) -> Result<(), String> {
    let mut leaks = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for needle in [
                "variants/",
                "fix-lost-update",
                "fix-double-charge",
                "features fixed",
                "bug.toml",
                "bin/exercise",
            ] {
                if text.contains(needle) {
                    leaks.push(format!("{} mentions {needle:?}", path.display()));
                }
            }
        }
    }
    if leaks.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the export would give the answer away:\n  {}",
            leaks.join("\n  ")
        ))
    }
}

/// Builds the export from a clean copy, lints it, and checks that its tests fail exactly
/// as its README says.
pub fn check(out: &Path, exported: &Exported) -> Result<(), String> {
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
        .status()
        .map_err(|e| e.to_string())?;
    if !clippy.success() {
        return Err("the export does not pass cargo clippy -D warnings".into());
    }
    let mut results = verify::run_suite(&clean, &build, false)?;
    if exported.with_loom {
        results.extend(verify::run_suite(&clean, &build, true)?);
    }
    let failed: Vec<_> = results
        .iter()
        .filter(|(_, passed)| !**passed)
        .map(|(test, _)| test.clone())
        .collect();
    let _ = std::fs::remove_dir_all(&clean);
    if failed != exported.failing {
        return Err(format!(
            "the export's failing tests are not the ones its README names:\n  failed: {failed:?}\n  README: {:?}",
            exported.failing
        ));
    }
    Ok(())
}

/// The candidate's README, in the spirit of the original exercise's brief.
fn candidate_readme(chosen: &[&Bug], failing: &[String], with_loom: bool, docker: bool) -> String {
    let mut readme = String::from(include_str!("candidate-readme.md"));
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
    let failing_list: String = failing.iter().map(|t| format!("- `{t}`\n")).collect();
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
    readme = readme
        .replace("{{PROBLEMS}}", problems.trim_end())
        .replace("{{COUNT}}", &chosen.len().to_string())
        .replace("{{FAILING}}", failing_list.trim_end())
        .replace("{{DOCKER}}", docker_section.trim_end())
        .replace("{{LOOM}}", loom_section.trim_end());
    readme.replace("\n\n\n", "\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_path_attributes_are_dropped_and_other_attributes_kept() {
        let source = "#[cfg_attr(\n    not(feature = \"fix-lost-update\"),\n    path = \"../variants/lost-update/buggy/stats.rs\"\n)]\n#[cfg_attr(feature = \"fix-lost-update\", path = \"../variants/lost-update/fixed/stats.rs\")]\npub mod stats;\n#[cfg_attr(test, derive(Debug))]\npub struct Kept;\n";
        assert_eq!(
            drop_variant_paths(source),
            "pub mod stats;\n#[cfg_attr(test, derive(Debug))]\npub struct Kept;\n"
        );
    }

    #[test]
    fn interviewer_only_blocks_leave_the_manifest() {
        let manifest = "[package]\nname = \"x\"\n\n# -- interviewer only: no --\n[features]\nfixed = []\n# -- end interviewer only --\n\n[dependencies]\naxum = \"0.8\"\n";
        assert_eq!(
            drop_interviewer_blocks(manifest),
            "[package]\nname = \"x\"\n\n[dependencies]\naxum = \"0.8\"\n"
        );
    }
}
