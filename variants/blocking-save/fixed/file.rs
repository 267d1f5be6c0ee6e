//! The file the day's totals are saved to.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::daily::{DailyStats, Day};

/// The file the day's totals are saved to.
///
/// Each save writes a temporary file next to it, flushes it to disk, renames it over the old
/// one and flushes the directory, so the file always holds one whole save, never a torn one,
/// and a save that returned survives a crash.
///
/// The file work runs on tokio's blocking pool, never on a runtime worker: any step of a save
/// can wait on the disk (a write, an fsync, the rename), and a worker stuck in the kernel runs
/// no other task meanwhile. A sale waits for its save while the disk answers. When a save
/// takes longer than [`SAVE_PATIENCE`], the disk is taken to be hanging: the sale is answered
/// all the same, and until that save returns no other one starts; the newest totals handed
/// in meanwhile are kept and written as soon as it does. So while the disk hangs the service
/// goes on taking orders, with one thread waiting on the disk, not one per sale, and the file
/// never goes back to older totals once it is back.
#[derive(Debug)]
pub struct TotalsFile {
    path: PathBuf,
    /// Numbers the temporary files.
    saves: Arc<AtomicU64>,
    writes: Arc<(Mutex<Writes>, Condvar)>,
}

/// How long a sale waits for its save before it is answered anyway (the save goes on).
pub const SAVE_PATIENCE: Duration = Duration::from_secs(1);

/// How long the service, stopping, waits for the saves under way and the totals kept back.
const LAST_SAVE: Duration = Duration::from_secs(10);

/// The saves under way, and what waits for the disk to come back.
#[derive(Debug, Default)]
struct Writes {
    /// Saves writing now.
    under_way: usize,
    /// A save outlasted the patience and has not returned: start no other.
    hanging: bool,
    /// The newest totals handed in while the disk hangs, to write once it is back.
    kept: Option<Vec<u8>>,
}

impl TotalsFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TotalsFile {
            path: path.into(),
            saves: Arc::new(AtomicU64::new(0)),
            writes: Arc::new((Mutex::new(Writes::default()), Condvar::new())),
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

    /// Replaces the saved totals with `totals`, durably: returns once the file holds them,
    /// or once the disk has kept the save waiting for [`SAVE_PATIENCE`] (it is then still
    /// made, or kept for when the disk is back).
    pub async fn save(&self, totals: &DailyStats) -> io::Result<()> {
        let bytes = serde_json::to_vec(totals)?;
        {
            let mut writes = self.lock();
            if writes.hanging {
                writes.kept = Some(bytes);
                return Ok(());
            }
            writes.under_way += 1;
        }
        let (path, saves, writes) = (
            self.path.clone(),
            Arc::clone(&self.saves),
            Arc::clone(&self.writes),
        );
        let saving =
            tokio::task::spawn_blocking(move || save_then_kept(&path, &saves, &writes, bytes));
        match tokio::time::timeout(SAVE_PATIENCE, saving).await {
            Ok(saved) => saved.map_err(io::Error::other)?.map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot save the totals to {}: {e}", self.path.display()),
                )
            }),
            Err(_) => {
                self.lock().hanging = true;
                tracing::warn!(path = %self.path.display(), waited = ?SAVE_PATIENCE, "the disk is not answering: sales are answered before their totals are saved until it does");
                Ok(())
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writes> {
        self.writes.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for TotalsFile {
    /// Waits for the saves under way and the totals kept back (up to [`LAST_SAVE`]): a sale
    /// answered while the disk was slow is on disk before the service stops.
    fn drop(&mut self) {
        let (writes, done) = &*self.writes;
        let writes = writes.lock().unwrap_or_else(PoisonError::into_inner);
        let (writes, waited) = done
            .wait_timeout_while(writes, LAST_SAVE, |w| w.under_way > 0 || w.kept.is_some())
            .unwrap_or_else(PoisonError::into_inner);
        drop(writes);
        if waited.timed_out() {
            tracing::error!(path = %self.path.display(), waited = ?LAST_SAVE, "the disk did not answer: the last totals are not saved");
        }
    }
}

/// One save on the blocking pool, then the totals kept back while it hung, if any: the
/// outcome of the first.
fn save_then_kept(
    path: &Path,
    saves: &AtomicU64,
    writes: &(Mutex<Writes>, Condvar),
    bytes: Vec<u8>,
) -> io::Result<()> {
    let write = |bytes: &[u8]| {
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(format!(".{}.tmp", saves.fetch_add(1, Ordering::Relaxed)));
        replace(path, Path::new(&temporary), bytes)
    };
    let first = write(&bytes);
    let (state, done) = writes;
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    while let Some(kept) = state.kept.take() {
        drop(state);
        if let Err(error) = write(&kept) {
            tracing::error!(path = %path.display(), %error, "could not save the totals kept while the disk hung");
        }
        state = writes.0.lock().unwrap_or_else(PoisonError::into_inner);
    }
    state.under_way -= 1;
    if state.under_way == 0 {
        state.hanging = false;
    }
    done.notify_all();
    first
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
