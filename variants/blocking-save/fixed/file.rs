//! The file the day's totals are saved to.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::daily::{DailyStats, Day};

/// The file the day's totals are saved to.
///
/// Each save writes a temporary file next to it, flushes it to disk, renames it over the old
/// one and flushes the directory, so the file always holds one whole save, never a torn one,
/// and a save that returned survives a crash.
#[derive(Debug)]
pub struct TotalsFile {
    path: PathBuf,
    /// Numbers the temporary files.
    saves: AtomicU64,
}

impl TotalsFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TotalsFile {
            path: path.into(),
            saves: AtomicU64::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The totals saved for `day`, or zero when the file is missing or holds another day.
    /// A file that is not a saved set of totals is an error: nothing would be left of the
    /// day's numbers if it were silently replaced.
    pub fn load(&self, day: Day) -> io::Result<DailyStats> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice::<DailyStats>(&bytes)
                .map(|saved| saved.as_of(day))
                .map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} does not hold saved totals ({e}); move it away to start the day from zero",
                            self.path.display()
                        ),
                    )
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DailyStats::empty(day)),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", self.path.display()),
            )),
        }
    }

    /// Fails unless a save could be written next to the file: a service that cannot save its
    /// totals should say so at start-up, not at its first sale.
    pub fn check_writable(&self) -> io::Result<()> {
        let mut probe = self.path.clone().into_os_string();
        probe.push(".probe.tmp");
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot save the totals next to {} ({e}); choose another --stats-file",
                        self.path.display()
                    ),
                )
            })
    }

    /// Replaces the saved totals with `totals`, durably.
    pub async fn save(&self, totals: &DailyStats) -> io::Result<()> {
        let n = self.saves.fetch_add(1, Ordering::Relaxed);
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(format!(".{n}.tmp"));
        let temporary = PathBuf::from(temporary);
        let path = self.path.clone();
        let bytes = serde_json::to_vec(totals)?;
        // On the blocking pool, in one trip: a disk can hang a write or an fsync for seconds,
        // and a runtime worker stuck in the kernel runs no other task meanwhile.
        tokio::task::spawn_blocking(move || replace(&path, &temporary, &bytes))
            .await
            .map_err(io::Error::other)?
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot save the totals to {}: {e}", self.path.display()),
                )
            })
    }
}

/// Writes `bytes` to `temporary`, flushes it, and renames it over `path`: a reader sees the
/// old file or the new one, never part of one, and after a crash the file holds one of them.
fn replace(path: &Path, temporary: &Path, bytes: &[u8]) -> io::Result<()> {
    let written = (|| {
        let mut file = std::fs::File::create(temporary)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        std::fs::rename(temporary, path)?;
        // The rename is an entry in the directory: flushed only with the directory.
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        std::fs::File::open(directory)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(temporary);
    }
    written
}
