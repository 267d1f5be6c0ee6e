//! Services the harness runs as child processes: the order service (a build of ours or the
//! candidate's), the balance service, nginx.
//!
//! A service binds port 0 and says where it listens in its log (`... listening addr=HOST:PORT`),
//! so no port is picked by the parent and raced for. Its output goes to a log file as it
//! comes and its last lines are kept, so a service that does not start fails with what it
//! said. It is killed when dropped (nginx is stopped with SIGTERM, so that its master stops
//! its workers).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// How many of a service's last output lines an error shows.
const TAIL: usize = 20;

/// How the parent learns where a service listens.
#[derive(Debug, Clone, Copy)]
pub enum Address {
    /// It binds port 0 and logs a line holding `marker` and `addr=HOST:PORT`.
    Logged { marker: &'static str },
    /// It listens on this port, given to it (nginx, which cannot bind port 0 and say so).
    Given(u16),
}

/// How a service is stopped when it is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL: nothing to wind down.
    Kill,
    /// SIGTERM, for a service with processes of its own to stop (nginx's workers).
    Terminate,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Spec {
    /// What it is, for messages: "the buggy order-service".
    pub what: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub envs: Vec<(String, String)>,
    /// Where its output goes.
    pub log: PathBuf,
    pub address: Address,
    pub stop: Stop,
    /// How long it may take to listen.
    pub within: Duration,
}

impl Spec {
    pub fn new(what: impl Into<String>, program: &Path, log: &Path, address: Address) -> Self {
        Spec {
            what: what.into(),
            program: program.to_path_buf(),
            args: Vec::new(),
            envs: Vec::new(),
            log: log.to_path_buf(),
            address,
            stop: Stop::Kill,
            within: Duration::from_secs(20),
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.envs.push((key.to_owned(), value.into()));
        self
    }

    pub fn envs<'a>(mut self, envs: impl IntoIterator<Item = &'a (String, String)>) -> Self {
        self.envs.extend(envs.into_iter().cloned());
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }
}

/// A running child service.
pub struct Service {
    pub addr: SocketAddr,
    what: String,
    child: Child,
    stop: Stop,
    tail: Arc<Mutex<VecDeque<String>>>,
    log: PathBuf,
}

impl Service {
    /// Starts `spec` and waits until it listens, or fails with its last output lines.
    pub async fn start(spec: Spec) -> Result<Service> {
        if let Some(parent) = spec.log.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let log = tokio::fs::File::create(&spec.log)
            .await
            .with_context(|| format!("create {}", spec.log.display()))?;
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.envs.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(spec.stop == Stop::Kill);
        let mut child = command
            .spawn()
            .with_context(|| format!("start {} ({})", spec.what, spec.program.display()))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let log = Arc::new(tokio::sync::Mutex::new(log));
        let (announced, mut address) = watch::channel(None);
        let marker = match spec.address {
            Address::Logged { marker } => Some(marker),
            Address::Given(_) => None,
        };
        for output in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|o| Box::new(o) as Box<dyn AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            tokio::spawn(copy_lines(
                output,
                log.clone(),
                tail.clone(),
                marker,
                announced.clone(),
            ));
        }
        drop(announced);
        let mut service = Service {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            what: spec.what.clone(),
            child,
            stop: spec.stop,
            tail,
            log: spec.log.clone(),
        };
        let listening = async {
            match spec.address {
                Address::Logged { marker } => loop {
                    if let Some(addr) = *address.borrow_and_update() {
                        return Ok(addr);
                    }
                    if address.changed().await.is_err() {
                        bail!(
                            "its output ended without a line saying {marker:?} ... addr=HOST:PORT"
                        );
                    }
                },
                Address::Given(port) => loop {
                    let addr = SocketAddr::from(([127, 0, 0, 1], port));
                    if tokio::net::TcpStream::connect(addr).await.is_ok() {
                        return Ok(addr);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                },
            }
        };
        let outcome = tokio::select! {
            addr = listening => addr,
            status = service.child.wait() => Err(anyhow::anyhow!(
                "it exited with {} before it listened",
                status.map_or_else(|e| e.to_string(), |s| s.to_string())
            )),
            _ = tokio::time::sleep(spec.within) => Err(anyhow::anyhow!(
                "it did not listen within {:?}", spec.within
            )),
        };
        // Output that ended is most often a process that exited: say how.
        let outcome = match outcome {
            Err(why) if why.to_string().starts_with("its output ended") => {
                match tokio::time::timeout(Duration::from_secs(1), service.child.wait()).await {
                    Ok(Ok(status)) => Err(anyhow::anyhow!(
                        "it exited with {status} before it listened"
                    )),
                    _ => Err(why),
                }
            }
            other => other,
        };
        match outcome {
            Ok(addr) => {
                service.addr = addr;
                Ok(service)
            }
            Err(why) => {
                // Let the readers catch up with what it said last.
                tokio::time::sleep(Duration::from_millis(50)).await;
                bail!(
                    "{}: {why}; its last output ({}):\n{}",
                    service.what,
                    service.log.display(),
                    service.last_lines()
                )
            }
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Its last lines of output.
    pub fn last_lines(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Stops it (SIGTERM, then SIGKILL after 5 s) and waits until it has exited.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            self.child.start_kill()?;
            self.child.wait().await?;
        }
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // Kill is tokio's kill_on_drop; a service that winds down is sent SIGTERM and left to
        // exit on its own (tokio reaps it).
        if self.stop == Stop::Terminate
            && let Some(pid) = self.child.id()
        {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

/// Copies `output` to the log line by line, keeps the last lines, and announces the address
/// of the first line holding `marker`.
async fn copy_lines(
    output: Box<dyn AsyncRead + Send + Unpin>,
    log: Arc<tokio::sync::Mutex<tokio::fs::File>>,
    tail: Arc<Mutex<VecDeque<String>>>,
    marker: Option<&'static str>,
    announced: watch::Sender<Option<SocketAddr>>,
) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        {
            let mut log = log.lock().await;
            let _ = log.write_all(line.as_bytes()).await;
            let _ = log.write_all(b"\n").await;
            let _ = log.flush().await;
        }
        if let Some(marker) = marker
            && line.contains(marker)
            && let Some(addr) = logged_address(&line)
        {
            announced.send_if_modified(|seen| seen.replace(addr).is_none());
        }
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

/// The `addr=HOST:PORT` field of a log line.
fn logged_address(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("addr=")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_the_listening_line() {
        let line = "2026-12-01T10:00:00.000000Z  INFO order_service: order service listening addr=127.0.0.1:40123 balance_url=\"http://127.0.0.1:1\"";
        assert_eq!(
            logged_address(line),
            Some(SocketAddr::from(([127, 0, 0, 1], 40123)))
        );
        assert_eq!(logged_address("listening on nothing"), None);
    }

    /// A child that exits before it listens fails with what it said.
    #[tokio::test]
    async fn a_service_that_exits_at_once_fails_with_its_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec::new(
            "a shell",
            Path::new("/bin/sh"),
            &dir.path().join("sh.log"),
            Address::Logged {
                marker: "listening",
            },
        )
        .arg("-c")
        .arg("echo 'cannot bind: no such address' >&2; exit 3");
        let error = Service::start(spec)
            .await
            .err()
            .expect("it exits")
            .to_string();
        assert!(
            error.contains("exit") && error.contains("cannot bind: no such address"),
            "{error}"
        );
    }

    /// A child that says where it listens is found there.
    #[tokio::test]
    async fn a_service_is_found_where_it_says_it_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec::new(
            "a shell",
            Path::new("/bin/sh"),
            &dir.path().join("sh.log"),
            Address::Logged {
                marker: "listening",
            },
        )
        .arg("-c")
        .arg(format!("echo 'INFO listening addr={addr}'; sleep 30"));
        let service = Service::start(spec).await.unwrap();
        assert_eq!(service.addr, addr);
        service.stop().await.unwrap();
    }
}
