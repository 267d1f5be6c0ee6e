//! A slow disk at any file-system call of a save, for the held-back checks of blocking-save
//! (and any check that needs a save to wait).
//!
//! The order service of a scenario that asks for it ([`Scenario::disk`]) keeps its stats file
//! alone in a folder of its own, and runs with `slowdisk/slowdisk.c` preloaded (built into
//! the harness by `build.rs`): every call its process makes on that folder goes through the
//! shim, which logs it and, when the check has armed that kind of call, holds it until the
//! check lets it go. A held call keeps its thread in the call, as a hung disk does, whatever
//! the thread is: a runtime worker or one of the blocking pool's. The check sees the hold
//! (a file the shim writes), does what it wants meanwhile, and releases it. Nothing is timed:
//! a call is held from the moment it is made until the check says so.
//!
//! The public test of the bug needs none of this (it holds the first save's temporary file
//! on a named pipe, `scenarios::disk`); the shim reaches the calls a pipe cannot: a write,
//! an fsync, the rename, the folder's fsync.
//!
//! [`Scenario::disk`]: crate::catalog::Scenario::disk

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scenarios::services::{TestApp, poll};

/// The shim, built for this platform (empty where it cannot be: not Linux).
const SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libslowdisk.so"));

/// A kind of file-system call a save makes, as the shim names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Call {
    /// Opening a file of the folder to write it (creating the temporary file).
    Open,
    /// A write to such a file.
    Write,
    /// An fsync or fdatasync of such a file.
    Fsync,
    /// A rename into, out of or within the folder.
    Rename,
    /// An fsync of the folder itself.
    Dirsync,
}

impl Call {
    pub const ALL: [Call; 5] = [
        Call::Open,
        Call::Write,
        Call::Fsync,
        Call::Rename,
        Call::Dirsync,
    ];

    /// Its name in the shim's plan and log.
    pub fn name(self) -> &'static str {
        match self {
            Call::Open => "open",
            Call::Write => "write",
            Call::Fsync => "fsync",
            Call::Rename => "rename",
            Call::Dirsync => "dirsync",
        }
    }

    /// As a person reads it in a failure message.
    pub fn describe(self) -> &'static str {
        match self {
            Call::Open => "opening the file it writes",
            Call::Write => "a write",
            Call::Fsync => "the file's fsync",
            Call::Rename => "the rename over the stats file",
            Call::Dirsync => "the folder's fsync",
        }
    }

    fn parse(name: &str) -> Option<Call> {
        Call::ALL.into_iter().find(|call| call.name() == name)
    }
}

/// One line of the shim's log: a call starting or done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The thread that made it.
    pub thread: u64,
    pub done: bool,
    pub call: Call,
    /// What it was made on: `PATH` (and `fd=N` once opened), `fd=N`, or `FROM -> TO`.
    pub what: String,
}

/// The slow disk of one run: the folder the stats file is alone in, and the folder the
/// shim is controlled through.
#[derive(Debug, Clone)]
pub struct Disk {
    /// The stats file's folder: every call on it goes through the shim.
    pub dir: PathBuf,
    control: PathBuf,
}

impl Disk {
    /// The slow disk of a run logging to `log`: its stats file goes in `LOG.disk/`, its
    /// control folder is `LOG.disk-control/`. Both are made afresh.
    pub fn for_run(log: &Path) -> std::io::Result<Disk> {
        let disk = Disk {
            dir: log.with_extension("disk"),
            control: log.with_extension("disk-control"),
        };
        for dir in [&disk.dir, &disk.control] {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir)?;
        }
        Ok(disk)
    }

    /// The slow disk of a service started by [`Disk::for_run`], found from its stats file;
    /// `None` for a service without one (started in a test process, say).
    pub fn of(app: &TestApp) -> Option<Disk> {
        let dir = app.stats_file.as_deref()?.parent()?.to_path_buf();
        let control = dir.with_extension("disk-control");
        control.is_dir().then_some(Disk { dir, control })
    }

    /// Whether the shim can run here.
    pub fn supported() -> bool {
        !SHIM.is_empty()
    }

    /// Where the run's stats file goes.
    pub fn stats_file(&self) -> PathBuf {
        self.dir.join("stats.json")
    }

    /// The environment that puts the service on this disk: the shim, written beside the
    /// control folder, preloaded; the stats file in the slow folder.
    pub fn environment(&self) -> std::io::Result<Vec<(String, String)>> {
        let shim = self.control.with_extension("so");
        std::fs::write(&shim, SHIM)?;
        let absolute = |path: &Path| std::path::absolute(path).map(|p| p.display().to_string());
        Ok(vec![
            ("LD_PRELOAD".into(), absolute(&shim)?),
            ("SLOW_DISK_DIR".into(), absolute(&self.dir)?),
            ("SLOW_DISK_CONTROL".into(), absolute(&self.control)?),
            ("ORDERS_STATS_FILE".into(), absolute(&self.stats_file())?),
        ])
    }

    /// Holds the next `count` calls of kind `call` (every one when 0) until [`Disk::release`].
    pub fn hold(&self, call: Call, count: u32) -> std::io::Result<()> {
        self.clear()?;
        std::fs::write(
            self.control.join("plan"),
            format!("{} {count}\n", call.name()),
        )
    }

    /// Lets every held call go, and holds no more.
    pub fn release(&self) {
        let _ = std::fs::write(self.control.join("release"), b"");
        let _ = std::fs::remove_file(self.control.join("plan"));
    }

    /// Forgets the last plan and what it held (after [`Disk::release`], or before a plan).
    fn clear(&self) -> std::io::Result<()> {
        let _ = std::fs::remove_file(self.control.join("plan"));
        for entry in std::fs::read_dir(&self.control)?.flatten() {
            if entry.file_name().to_string_lossy().starts_with("held.") {
                std::fs::remove_file(entry.path())?;
            }
        }
        let _ = std::fs::remove_file(self.control.join("release"));
        Ok(())
    }

    /// The calls held now: what each was made on.
    pub fn held(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.control) else {
            return Vec::new();
        };
        let mut held: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("held."))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|text| text.trim().to_owned())
            .collect();
        held.sort();
        held
    }

    /// Waits until at least `count` calls are held, for at most `limit`: whether they were.
    pub async fn until_held(&self, count: usize, limit: Duration) -> bool {
        poll(limit, Duration::from_millis(2), || async {
            (self.held().len() >= count).then_some(())
        })
        .await
        .is_some()
    }

    /// Every call the shim logged, in order.
    pub fn log(&self) -> Vec<Logged> {
        let text = std::fs::read_to_string(self.control.join("calls")).unwrap_or_default();
        text.lines().filter_map(parse_line).collect()
    }

    /// The kinds of call among `lines` (started ones).
    pub fn kinds(lines: &[Logged]) -> BTreeSet<Call> {
        lines.iter().filter(|l| !l.done).map(|l| l.call).collect()
    }
}

/// `TID start CALL WHAT` or `TID done CALL WHAT = RESULT`.
fn parse_line(line: &str) -> Option<Logged> {
    let mut words = line.splitn(4, ' ');
    let thread = words.next()?.parse().ok()?;
    let done = match words.next()? {
        "start" => false,
        "done" => true,
        _ => return None,
    };
    let call = Call::parse(words.next()?)?;
    let mut what = words.next().unwrap_or_default().to_owned();
    if done && let Some((made_on, _)) = what.rsplit_once(" = ") {
        what = made_on.to_owned();
    }
    Some(Logged {
        thread,
        done,
        call,
        what,
    })
}

/// Totals a stats file holds: its order count, or why it holds none.
pub fn saved_orders(path: &Path) -> Result<u64, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("unreadable ({e})"))?;
    if bytes.is_empty() {
        return Err("empty".into());
    }
    let saved: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
        format!(
            "not whole totals ({} bytes: {:?})",
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
        )
    })?;
    saved["order_count"]
        .as_u64()
        .ok_or_else(|| format!("no order count in {saved}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shims_log_reads_as_calls() {
        assert_eq!(
            parse_line("12 done rename /d/a.0.tmp -> /d/a = 0"),
            Some(Logged {
                thread: 12,
                done: true,
                call: Call::Rename,
                what: "/d/a.0.tmp -> /d/a".into(),
            })
        );
        assert_eq!(
            parse_line("7 start write fd=9").map(|l| (l.call, l.done, l.what)),
            Some((Call::Write, false, "fd=9".into()))
        );
        assert_eq!(parse_line("garbage"), None);
    }

    /// The shim, preloaded into a real process (Python writing a file the way the service
    /// does), holds the call it is told to until it is let go, and logs the rest.
    #[test]
    fn a_held_rename_waits_until_it_is_released() {
        if !Disk::supported() {
            return;
        }
        let scratch = tempfile::tempdir().unwrap();
        let disk = Disk::for_run(&scratch.path().join("run.log")).unwrap();
        let env = disk.environment().unwrap();
        disk.hold(Call::Rename, 1).unwrap();
        let script = format!(
            "import os\nd={:?}\nfd=os.open(d+'/s.tmp', os.O_WRONLY|os.O_CREAT, 0o644)\nos.write(fd, b'1')\nos.fsync(fd)\nos.close(fd)\nos.rename(d+'/s.tmp', d+'/s')\n",
            disk.dir.display().to_string()
        );
        let mut child = std::process::Command::new("python3")
            .args(["-c", &script])
            .envs(env)
            .spawn()
            .expect("python3 runs");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        assert!(
            runtime.block_on(disk.until_held(1, Duration::from_secs(20))),
            "the rename was not held; log: {:?}",
            disk.log()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the process went on while its rename was held"
        );
        assert!(
            !disk.dir.join("s").exists(),
            "the rename happened while held"
        );
        disk.release();
        assert!(child.wait().unwrap().success());
        assert!(disk.dir.join("s").exists());
        let kinds: Vec<Call> = Disk::kinds(&disk.log()).into_iter().collect();
        assert_eq!(
            kinds,
            [Call::Open, Call::Write, Call::Fsync, Call::Rename],
            "{:?}",
            disk.log()
        );
    }
}
