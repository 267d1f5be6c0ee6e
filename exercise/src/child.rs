//! Services the harness runs as child processes: the order service (a build of ours or the
//! candidate's), the balance service, nginx.
//!
//! A service binds port 0 and says where it listens in its log (`... listening addr=HOST:PORT`),
//! so no port is picked by the parent and raced for; the parent reads the log until it sees
//! that line. Its output goes straight to the log file, and a service that does not start
//! fails with the file's last lines. It is killed when dropped (nginx is stopped with
//! SIGTERM, so that its master stops its workers).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

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
    /// bwrap, when it runs in a sandbox nested in this one; else the service itself.
    child: Child,
    /// The service itself, when `child` is its sandbox: the process signals go to.
    inner: Option<u32>,
    stop: Stop,
    log: PathBuf,
}

impl Service {
    /// Starts `spec` and waits until it listens, or fails with its last output lines.
    pub async fn start(spec: Spec) -> Result<Service> {
        if let Some(parent) = spec.log.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Straight to the file, not through this process: a benchmark's service logs every
        // order, and copying its lines here would cost the machine it is measured on.
        let log = std::fs::File::create(&spec.log)
            .with_context(|| format!("create {}", spec.log.display()))?;
        // In a sandboxed grade's worker, the service is the candidate's binary: it runs in the
        // sandbox nested in the worker's, as their cargo commands do.
        let info = spec.log.with_extension("sandbox.json");
        let wrapped = crate::sandbox::confined_service(&spec.program, &spec.args, &info);
        let confined = wrapped.is_some();
        let (program, args) = wrapped.unwrap_or_else(|| (spec.program.clone(), spec.args.clone()));
        let mut command = Command::new(&program);
        command
            .args(&args)
            .envs(spec.envs.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(spec.stop == Stop::Kill);
        let child = command
            .spawn()
            .with_context(|| format!("start {} ({})", spec.what, spec.program.display()))?;
        let mut service = Service {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            what: spec.what.clone(),
            child,
            inner: None,
            stop: spec.stop,
            log: spec.log.clone(),
        };
        let listening = async {
            loop {
                let found = match spec.address {
                    Address::Logged { marker } => std::fs::read_to_string(&spec.log)
                        .unwrap_or_default()
                        .lines()
                        .filter(|line| line.contains(marker))
                        .find_map(logged_address),
                    Address::Given(port) => {
                        let addr = SocketAddr::from(([127, 0, 0, 1], port));
                        tokio::net::TcpStream::connect(addr)
                            .await
                            .is_ok()
                            .then_some(addr)
                    }
                };
                if let Some(addr) = found {
                    return addr;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let outcome = tokio::select! {
            addr = listening => Ok(addr),
            status = service.child.wait() => Err(format!(
                "it exited with {} before it listened",
                status.map_or_else(|e| e.to_string(), |s| s.to_string())
            )),
            _ = tokio::time::sleep(spec.within) => Err(match spec.address {
                Address::Logged { marker } => format!(
                    "it did not say where it listens within {:?} (a line with {marker:?} and addr=HOST:PORT)",
                    spec.within
                ),
                Address::Given(port) => format!("it did not listen on port {port} within {:?}", spec.within),
            }),
        };
        let outcome = outcome.and_then(|addr| {
            if !confined {
                return Ok(addr);
            }
            // It listens, so bwrap has started it and said where.
            service.inner = crate::sandbox::inner_pid(&info);
            match service.inner {
                Some(_) => Ok(addr),
                None => Err(format!(
                    "it listens, but its sandbox did not say which process it is ({})",
                    info.display()
                )),
            }
        });
        match outcome {
            Ok(addr) => {
                service.addr = addr;
                Ok(service)
            }
            Err(why) => bail!(
                "{}: {why}; its last output ({}):\n{}",
                service.what,
                service.log.display(),
                service.last_lines()
            ),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The service's process (in a nested sandbox, as this process sees it).
    pub fn pid(&self) -> Option<u32> {
        // None once it has exited and been waited for.
        let outer = self.child.id()?;
        Some(self.inner.unwrap_or(outer))
    }

    /// Its last lines of output.
    pub fn last_lines(&self) -> String {
        crate::tools::last_lines(
            &std::fs::read_to_string(&self.log).unwrap_or_default(),
            TAIL,
        )
    }

    /// Stops it (SIGTERM, then SIGKILL after 5 s) and waits until it has exited.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(pid) = self.pid() {
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
            && let Some(pid) = self.pid()
        {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
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

    /// A shell running `script`, which logs to `dir` and says where it listens on a line
    /// with "listening".
    fn shell(dir: &Path, script: &str) -> Spec {
        Spec::new(
            "a shell",
            Path::new("/bin/sh"),
            &dir.join("sh.log"),
            Address::Logged {
                marker: "listening",
            },
        )
        .arg("-c")
        .arg(script)
    }

    /// A child that exits before it listens fails with what it said.
    #[tokio::test]
    async fn a_service_that_exits_at_once_fails_with_its_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let spec = shell(
            dir.path(),
            "echo 'cannot bind: no such address' >&2; exit 3",
        );
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
        let spec = shell(
            dir.path(),
            &format!("echo 'INFO listening addr={addr}'; sleep 30"),
        );
        let service = Service::start(spec).await.unwrap();
        assert_eq!(service.addr, addr);
        service.stop().await.unwrap();
    }
}
