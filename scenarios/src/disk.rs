//! A slow disk on demand, for the storage incidents on-call reported.
//!
//! [`SlowDisk`] makes the next save of the order service's stats file hang until the test
//! lets it through: the temporary file that save writes is made a named pipe first, and
//! opening a pipe for writing waits until something opens it for reading. The test sees the
//! save waiting (a thread of the service's process parked in the kernel's pipe open), checks
//! what it wants while it waits, and then lets it through. The save then fails (a pipe cannot
//! be flushed to disk), which the service logs; the sale itself is not lost.
//!
//! It needs Linux (`/proc`, `mkfifo`); the dev container has both.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A save of the stats file held up until [`SlowDisk::release`].
pub struct SlowDisk {
    pipe: PathBuf,
    pid: u32,
}

impl SlowDisk {
    /// Holds up save number `save` (0 for the first since the service started) of the stats
    /// file `stats_file`, of the order service running as process `pid`.
    pub fn hold(stats_file: &Path, pid: u32, save: u64) -> SlowDisk {
        let mut pipe = stats_file.as_os_str().to_owned();
        pipe.push(format!(".{save}.tmp"));
        let pipe = PathBuf::from(pipe);
        let made = std::process::Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap_or_else(|e| panic!("cannot run mkfifo (this test needs Linux): {e}"));
        assert!(made.success(), "mkfifo {} failed", pipe.display());
        SlowDisk { pipe, pid }
    }

    /// Whether a thread of the service is waiting on the held-up save, waiting up to `limit`
    /// for one to. It waits on the calling thread: from async code, use
    /// [`SlowDisk::until_saving`].
    pub fn wait_until_saving(&self, limit: Duration) -> bool {
        let started = Instant::now();
        loop {
            if self.a_thread_is_waiting() {
                return true;
            }
            if started.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// [`SlowDisk::wait_until_saving`] from async code: on the blocking pool, not on a
    /// runtime worker, which the service in this process may be using.
    pub async fn until_saving(self, limit: Duration) -> (SlowDisk, bool) {
        tokio::task::spawn_blocking(move || {
            let saving = self.wait_until_saving(limit);
            (self, saving)
        })
        .await
        .expect("the wait for the save ends")
    }

    /// Whether some thread of the service is parked opening a pipe, which only the held-up
    /// save does.
    fn a_thread_is_waiting(&self) -> bool {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return false;
        };
        tasks.flatten().any(|task| {
            std::fs::read_to_string(task.path().join("wchan"))
                .is_ok_and(|wchan| wchan.trim() == "wait_for_partner")
        })
    }

    /// Lets the held-up save through, on a thread of its own (opening the pipe blocks until
    /// the save opens it too), when `done` says so or `limit` has passed, whichever is first.
    /// The handle's answer: whether `limit` passed first.
    pub fn release_when(
        self,
        done: mpsc::Receiver<()>,
        limit: Duration,
    ) -> std::thread::JoinHandle<bool> {
        std::thread::spawn(move || {
            let timed_out = done.recv_timeout(limit).is_err();
            self.release();
            timed_out
        })
    }

    /// Takes the pipe away when no save is waiting on it (opening it to read would wait for
    /// ever). Opened without waiting, so a save that came to it at the last moment is let go
    /// (its write then fails) instead of hanging.
    pub fn discard(&self) {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK on Linux.
        const NONBLOCK: i32 = 0o4000;
        let _ = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(NONBLOCK)
            .open(&self.pipe);
        let _ = std::fs::remove_file(&self.pipe);
    }

    /// Lets the held-up save through now; blocks until the save has opened the pipe.
    pub fn release(&self) {
        if let Ok(mut reader) = std::fs::File::open(&self.pipe) {
            let _ = reader.read_to_end(&mut Vec::new());
        }
        let _ = std::fs::remove_file(&self.pipe);
    }
}
