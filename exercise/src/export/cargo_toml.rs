//! The candidate's `Cargo.toml`, edited as TOML: the fix features, the harness member and
//! what the export leaves out taken away, nothing else touched.

use anyhow::{Context, Result};

use super::Options;
use crate::manifest::Bug;

/// The candidate's `Cargo.toml`: the root manifest without the fix features, without the
/// harness among the workspace members, and every member tested by default only when it
/// is the service's own (`cargo test` runs the order service's tests).
pub fn candidate_manifest(text: &str, bugs: &[Bug], options: Options) -> Result<String> {
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
        let gone: Vec<&str> = bugs
            .iter()
            .map(|bug| bug.feature.as_str())
            .chain(["fixed"])
            .collect();
        for feature in &gone {
            features.remove(feature);
        }
        // The repository's default build has the catalog's fixes in; the candidate's has
        // no fix to turn on.
        if let Some(default) = features.get_mut("default").and_then(|d| d.as_array_mut()) {
            default.retain(|feature| !feature.as_str().is_some_and(|f| gone.contains(&f)));
            if default.is_empty() {
                features.remove("default");
            }
        }
        if features.is_empty() {
            doc.remove("features");
        }
    }
    if !options.replicas {
        // The replicas stage's feature goes, and the optional dependencies it turns on.
        let stage: Vec<String> = doc
            .get("features")
            .and_then(|f| f.get("postgres"))
            .and_then(|f| f.as_array())
            .map(|enables| {
                enables
                    .iter()
                    .filter_map(|e| e.as_str()?.strip_prefix("dep:").map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(features) = doc.get_mut("features").and_then(|f| f.as_table_mut()) {
            features.remove("postgres");
            if features.is_empty() {
                doc.remove("features");
            }
        }
        if let Some(dependencies) = doc.get_mut("dependencies").and_then(|d| d.as_table_mut()) {
            for dependency in &stage {
                dependencies.remove(dependency);
            }
        }
        // Only the replica tests use it.
        if let Some(dev) = doc
            .get_mut("dev-dependencies")
            .and_then(|d| d.as_table_mut())
        {
            dev.remove("tempfile");
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
pub fn without_loom(text: &str) -> Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_candidate_manifest_loses_the_fix_features_and_the_harness() {
        let manifest = r#"[workspace]
# The harness is a member too.
members = ["balance-service", "scenarios", "exercise"]
default-members = [".", "balance-service", "scenarios", "exercise"]

[package]
name = "order-service"

[features]
default = ["fix-a"]
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
