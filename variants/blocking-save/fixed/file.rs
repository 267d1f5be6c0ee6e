//! The file the day's totals are saved to.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::daily::{DailyStats, Day};

/// The file the day's totals are saved to.
///
/// Each save writes a temporary file next to it, flushes it to disk, renames it over the old
/// one and flushes the directory, so the file always holds one whole save, never a torn one,
/// and a save that returned survives a crash.
///
/// The saves are made by a thread of the file's own, never on a runtime worker: any step of
/// a save can wait on the disk (a write, an fsync, the rename), and a worker stuck in the
/// kernel runs no other task meanwhile. One thread, one save at a time, always of the newest
/// totals it was given: the file never goes back to older totals, and a hung disk holds up
/// one thread, not one per sale.
#[derive(Debug)]
pub struct TotalsFile {
    path: PathBuf,
    /// Started with the first save.
    saver: OnceLock<Saver>,
}

/// How long a save waits for the disk before it lets its caller go on. A sale waits for its
/// totals to be on disk while the disk answers; during a storage incident it is answered
/// after this long instead (the file catches up once the disk is back), and once a save has
/// hung this long, later sales do not wait at all: the service keeps taking orders, not only
/// answering its health checks, while the disk hangs.
pub const SAVE_PATIENCE: Duration = Duration::from_secs(1);

impl TotalsFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TotalsFile {
            path: path.into(),
            saver: OnceLock::new(),
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

    /// Replaces the saved totals with `totals`, durably: returns once the file holds them
    /// (or newer ones), or once the disk has kept it waiting for [`SAVE_PATIENCE`] (the save
    /// is then still made, as soon as the disk lets it).
    pub async fn save(&self, totals: &DailyStats) -> io::Result<()> {
        let bytes = serde_json::to_vec(totals)?;
        let saver = self.saver.get_or_init(|| Saver::start(self.path.clone()));
        let (version, hung) = saver.submit(bytes);
        let mut written = saver.written.subscribe();
        if hung {
            tracing::warn!(path = %self.path.display(), "the disk is not answering: sale answered before its totals are saved");
            return Ok(());
        }
        let outcome = tokio::time::timeout(
            SAVE_PATIENCE,
            written.wait_for(|(done, _)| *done >= version),
        )
        .await;
        let error = match outcome {
            Ok(Ok(done)) => done.1.clone(),
            Ok(Err(_)) => Some("the saver stopped".to_owned()),
            Err(_) => {
                tracing::warn!(path = %self.path.display(), waited = ?SAVE_PATIENCE, "the disk is slow: sale answered before its totals are saved");
                None
            }
        };
        match error {
            None => Ok(()),
            Some(error) => Err(io::Error::other(format!(
                "cannot save the totals to {}: {error}",
                self.path.display()
            ))),
        }
    }
}

/// How long a file being dropped (the service stopping) waits for its last save: a sale
/// answered while the disk was slow is on disk before the process exits, unless the disk
/// hangs past this.
const LAST_SAVE: Duration = Duration::from_secs(10);

impl Drop for TotalsFile {
    /// The saver writes what it was last given, and this waits for it (up to [`LAST_SAVE`]).
    fn drop(&mut self) {
        let Some(saver) = self.saver.get() else {
            return;
        };
        let (queue, wake) = &*saver.shared;
        let mut queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.closed = true;
        wake.notify_all();
        let (queue, waited) = wake
            .wait_timeout_while(queue, LAST_SAVE, |queue| !queue.stopped)
            .unwrap_or_else(PoisonError::into_inner);
        drop(queue);
        if waited.timed_out() {
            tracing::error!(path = %self.path.display(), waited = ?LAST_SAVE, "the disk did not answer: the last totals are not saved");
        }
    }
}

/// The thread that makes a file's saves, and what it was given.
#[derive(Debug)]
struct Saver {
    shared: Arc<(Mutex<Queue>, Condvar)>,
    /// The newest version the thread has finished, and its error if it failed.
    written: tokio::sync::watch::Sender<(u64, Option<String>)>,
}

#[derive(Debug, Default)]
struct Queue {
    /// Versions handed in so far.
    submitted: u64,
    /// The newest totals not yet being written, and their version.
    next: Option<(u64, Vec<u8>)>,
    /// When the save under way began.
    busy_since: Option<Instant>,
    /// The file was dropped: write what is left, then stop.
    closed: bool,
    /// The thread has written all it was given, and stopped.
    stopped: bool,
}

impl Saver {
    fn start(path: PathBuf) -> Saver {
        let shared = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let (written, _) = tokio::sync::watch::channel((0, None));
        let (queue, notify) = (shared.clone(), written.clone());
        std::thread::Builder::new()
            .name("stats-saver".into())
            .spawn(move || save_newest(&path, &queue, &notify))
            .expect("start the stats file's saver thread");
        Saver { shared, written }
    }

    /// Hands in `bytes` as the newest totals: their version, and whether the save under way
    /// has hung past [`SAVE_PATIENCE`] (there is no point waiting for this one then).
    fn submit(&self, bytes: Vec<u8>) -> (u64, bool) {
        let (queue, wake) = &*self.shared;
        let mut queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.submitted += 1;
        let version = queue.submitted;
        queue.next = Some((version, bytes));
        let hung = queue
            .busy_since
            .is_some_and(|since| since.elapsed() >= SAVE_PATIENCE);
        wake.notify_all();
        (version, hung)
    }
}

/// The saver thread: writes the newest totals it has, one save at a time, until the file is
/// dropped and nothing is left to write.
fn save_newest(
    path: &Path,
    shared: &(Mutex<Queue>, Condvar),
    written: &tokio::sync::watch::Sender<(u64, Option<String>)>,
) {
    let (queue, wake) = shared;
    for n in 0.. {
        let (version, bytes) = {
            let mut queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
            let next = loop {
                if let Some(next) = queue.next.take() {
                    break next;
                }
                if queue.closed {
                    queue.stopped = true;
                    wake.notify_all();
                    return;
                }
                queue = wake.wait(queue).unwrap_or_else(PoisonError::into_inner);
            };
            queue.busy_since = Some(Instant::now());
            next
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(format!(".{n}.tmp"));
        let outcome = replace(path, Path::new(&temporary), &bytes);
        if let Err(error) = &outcome {
            tracing::error!(path = %path.display(), %error, "could not save the totals");
        }
        queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .busy_since = None;
        written.send_replace((version, outcome.err().map(|e| e.to_string())));
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
