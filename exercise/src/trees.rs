//! Build trees that stay warm: a copy kept in step with its source file by file, and a target
//! directory that knows which tree it built last.
//!
//! cargo decides that a workspace member is fresh when none of its source files is newer than
//! its last build, and it finds that build by the member's path *inside* its workspace. Two
//! trees at different places that share a target directory therefore share builds: tree B,
//! untouched since tree A was built, would be given A's binary. So a tree is never built from
//! where it was copied, only from a copy that [`sync`] keeps (a changed file is written, and
//! so newer than any build; an unchanged one keeps its time, and its build), and a target
//! directory is [`claim`]ed for a tree before each build: when it last built another tree,
//! every file of this one is marked new first, so cargo builds them again.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};

/// Makes `to` hold what `from` holds, leaving out what `skip` names: files whose contents
/// differ are written, files `from` no longer has are removed, and the rest are left alone,
/// with their times. Returns how many files were written or removed.
pub fn sync(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<usize> {
    std::fs::create_dir_all(to).with_context(|| format!("create {}", to.display()))?;
    let mut changed = 0;
    let mut wanted = std::collections::BTreeSet::new();
    let walk = walkdir::WalkDir::new(from)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| !skip(entry.path()));
    for entry in walk {
        let entry = entry.with_context(|| format!("read {}", from.display()))?;
        let relative = entry.path().strip_prefix(from)?.to_path_buf();
        let target = to.join(&relative);
        wanted.insert(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)
                .with_context(|| format!("create {}", target.display()))?;
            continue;
        }
        let theirs = std::fs::read(entry.path())
            .with_context(|| format!("read {}", entry.path().display()))?;
        if std::fs::read(&target).ok().as_ref() == Some(&theirs) {
            continue;
        }
        if target.is_dir() {
            std::fs::remove_dir_all(&target)?;
        }
        std::fs::write(&target, &theirs).with_context(|| format!("write {}", target.display()))?;
        changed += 1;
    }
    // What `to` has and `from` does not; what `skip` names stays (the copy's own build
    // directory, say).
    let extra: Vec<PathBuf> = walkdir::WalkDir::new(to)
        .into_iter()
        .filter_entry(|entry| !skip(entry.path()))
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let relative = entry.path().strip_prefix(to).ok()?.to_path_buf();
            (!relative.as_os_str().is_empty() && !wanted.contains(&relative))
                .then(|| entry.into_path())
        })
        .collect();
    // Walked parents first; removed children first.
    for path in extra.into_iter().rev() {
        if path.is_dir() {
            // With what `skip` kept under it: a folder `from` does not have is not wanted.
            std::fs::remove_dir_all(&path).with_context(|| format!("remove {}", path.display()))?;
        } else {
            std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// A target directory held for one tree's build and run: others wait until it is dropped.
#[must_use = "the target directory is held only while the claim lives"]
pub struct Claim {
    _lock: File,
}

/// Holds the target directory `target` for building the tree at `tree` (waiting while another
/// grade holds it). When it last built another tree, every file of `tree` (outside its own
/// `target` and `.git`) is marked as changed now, so that nothing of the other tree's build
/// is taken for this one's.
pub fn claim(target: &Path, tree: &Path) -> Result<Claim> {
    std::fs::create_dir_all(target).with_context(|| format!("create {}", target.display()))?;
    let lock = File::create(target.join(".grade-lock"))?;
    lock.lock()
        .with_context(|| format!("lock {}", target.display()))?;
    let tree = tree
        .canonicalize()
        .with_context(|| format!("no tree at {}", tree.display()))?;
    let stamp = target.join(".built-from");
    let last = std::fs::read_to_string(&stamp).unwrap_or_default();
    if Path::new(last.trim()) != tree {
        let now = SystemTime::now();
        let files = crate::tools::files_under(&tree, &crate::tools::is_build_or_history)?;
        for file in files {
            File::options()
                .append(true)
                .open(&file)
                .and_then(|f| f.set_modified(now))
                .with_context(|| format!("mark {} as changed", file.display()))?;
        }
        std::fs::write(&stamp, tree.display().to_string())?;
    }
    Ok(Claim { _lock: lock })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn modified(path: &Path) -> SystemTime {
        std::fs::metadata(path).unwrap().modified().unwrap()
    }

    #[test]
    fn a_sync_writes_only_what_changed_and_removes_what_went() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        write(&from.join("src/a.rs"), "a");
        write(&from.join("src/b.rs"), "b");
        write(&from.join("src/gone/c.rs"), "c");
        write(&from.join("target/built"), "x");
        assert_eq!(
            sync(&from, &to, &crate::tools::is_build_or_history).unwrap(),
            3
        );
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for file in ["src/a.rs", "src/b.rs"] {
            File::options()
                .append(true)
                .open(to.join(file))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        write(&to.join("target/kept"), "the copy's own build");

        write(&from.join("src/b.rs"), "b, changed");
        std::fs::remove_dir_all(from.join("src/gone")).unwrap();
        assert_eq!(
            sync(&from, &to, &crate::tools::is_build_or_history).unwrap(),
            2
        );
        assert_eq!(
            modified(&to.join("src/a.rs")),
            old,
            "an unchanged file was rewritten"
        );
        assert_ne!(
            modified(&to.join("src/b.rs")),
            old,
            "a changed file kept its time"
        );
        assert_eq!(
            std::fs::read_to_string(to.join("src/b.rs")).unwrap(),
            "b, changed"
        );
        assert!(
            !to.join("src/gone").exists(),
            "a removed folder stayed in the copy"
        );
        assert!(
            !to.join("target/built").exists(),
            "a skipped folder was copied"
        );
        assert!(
            to.join("target/kept").exists(),
            "the copy's skipped folder was removed"
        );
    }

    #[test]
    fn a_target_claimed_for_another_tree_marks_this_trees_files_changed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write(&a.join("src/lib.rs"), "a");
        write(&b.join("src/lib.rs"), "b");
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for tree in [&a, &b] {
            File::options()
                .append(true)
                .open(tree.join("src/lib.rs"))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        drop(claim(&target, &a).unwrap());
        assert_ne!(
            modified(&a.join("src/lib.rs")),
            old,
            "the first claim left a's files"
        );
        let a_marked = modified(&a.join("src/lib.rs"));
        drop(claim(&target, &a).unwrap());
        assert_eq!(
            modified(&a.join("src/lib.rs")),
            a_marked,
            "a second claim for the same tree marked its files again"
        );
        drop(claim(&target, &b).unwrap());
        assert_ne!(
            modified(&b.join("src/lib.rs")),
            old,
            "b was taken for a's build"
        );
    }
}
