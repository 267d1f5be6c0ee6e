//! What an export must not say: anything of the interviewer's side, and, on the order
//! service's side, any word that names a cause of a bug left in.

use std::path::{Path, PathBuf};

use anyhow::{Result, ensure};

use super::Options;
use crate::manifest::Bug;
use crate::tools::files_under;

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
    "futurelock",
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
pub fn leak_check(out: &Path, bugs: &[Bug], chosen: &[&Bug], options: Options) -> Result<()> {
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
    for path in files_under(out, &|_| false)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_words_are_found_as_words_only() {
        assert_eq!(cause_words_in("a data race here"), ["race"]);
        assert!(cause_words_in("trace the order; embrace it; racecar").is_empty());
        assert_eq!(cause_words_in("Idempotency-Key header"), ["idempotenc"]);
        assert_eq!(cause_words_in("a Lost Update"), ["lost update"]);
    }
}
