//! The export's templates against the files they stand in for.

use std::collections::BTreeSet;
use std::path::Path;

use super::read;

/// The public names a Rust file exports: `pub use a::{X, Y as Z}` and `pub fn name`.
pub fn exported_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("pub use ") {
            let rest = rest.trim_end_matches(';');
            let items = match rest.split_once('{') {
                Some((_, items)) => items.trim_end_matches('}').to_owned(),
                None => rest.rsplit("::").next().unwrap_or_default().to_owned(),
            };
            for item in items.split(',') {
                let name = item.rsplit(" as ").next().unwrap_or_default().trim();
                if !name.is_empty() {
                    names.insert(name.to_owned());
                }
            }
        } else if let Some(rest) = line
            .strip_prefix("pub fn ")
            .or_else(|| line.strip_prefix("pub async fn "))
        {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

/// The export's templates stand in for files of the repository: each exports what the file
/// does, and the order service's says where it listens as the harness reads it.
pub fn templates(root: &Path, found: &mut Vec<String>) {
    for (template, file) in [
        ("exercise/templates/order-service-sync.rs", "src/sync.rs"),
        (
            "exercise/templates/balance-service-sync.rs",
            "balance-service/src/sync.rs",
        ),
    ] {
        let missing: Vec<String> = exported_names(&read(root, file))
            .difference(&exported_names(&read(root, template)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            found.push(format!(
                "{file} exports {missing:?}, but {template}, which the export writes in its place, does not"
            ));
        }
    }
    let scenarios: String = read(root, "scenarios/src/lib.rs")
        .lines()
        .filter(|line| !line.contains("replicas"))
        .map(|line| format!("{line}\n"))
        .collect();
    if read(root, "exercise/templates/scenarios-lib.rs") != scenarios {
        found.push(
            "exercise/templates/scenarios-lib.rs is not scenarios/src/lib.rs without its replicas module"
                .into(),
        );
    }
    let crate::child::Address::Logged { marker } = crate::drive::ORDER_SERVICE else {
        return;
    };
    for file in ["src/main.rs", "exercise/templates/order-service-main.rs"] {
        if !read(root, file).contains(marker) {
            found.push(format!(
                "{file} does not log {marker:?}, the line the harness learns the order service's address from"
            ));
        }
    }
    let main = read(root, "src/main.rs");
    for line in read(root, "exercise/templates/order-service-main.rs").lines() {
        if line.starts_with("use ") && !main.contains(line) {
            found.push(format!(
                "exercise/templates/order-service-main.rs has {line:?}, which src/main.rs (the binary it stands in for) does not"
            ));
        }
    }
}
