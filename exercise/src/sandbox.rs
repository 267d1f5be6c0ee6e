//! Where a candidate's code runs: their build scripts, proc macros, tests and binary are a
//! stranger's code, so a grade builds and runs them inside a sandbox.
//!
//! With bubblewrap (`bwrap`), the whole grade worker runs inside one: the system, the
//! toolchain, the cargo registry and the candidate's folder read-only; writes only to the
//! grade's work directory and its target directories; a private `/tmp`; a network namespace
//! with only a loopback of its own (the reference balance service runs in the worker, beside
//! the candidate's binary, so the scenarios need nothing else); a PID namespace of its own;
//! cargo offline, after the dependencies were fetched outside. Where the machine's cgroups
//! can be written, the worker and everything it starts share a memory and a process cap.
//!
//! `none` runs everything with the interviewer's own rights, and says so on every run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// Which sandbox a grade runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Sandbox {
    /// bubblewrap: namespaces and bind mounts, no daemon (Debian's `bubblewrap`).
    Bwrap,
    /// A container (not available yet).
    Docker,
    /// No sandbox: the candidate's code runs with your rights, files and network.
    None,
}

/// Set inside a sandbox, to the sandbox's name: a worker started there runs its grade as it
/// is, instead of starting another sandbox.
pub const INSIDE: &str = "EXERCISE_SANDBOX";

/// What a sandboxed grade may use, at most.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Memory of the worker and everything it starts, tmpfs included, in bytes.
    pub memory: u64,
    /// Processes and threads at once.
    pub processes: u32,
}

/// The largest file the candidate's code may write in the nested sandbox (a build's
/// binaries and libraries are a few hundred MiB at most; a log that grows for ever is cut
/// off there). The output of their commands that the grade reads is capped too
/// ([`crate::tools::OUTPUT_CAP`]).
pub const FILE_CAP: u64 = 2 << 30;

/// Enough for two rustc at once, eight scenario runs with their services, and loom; far
/// below what takes a 24 GiB machine down.
pub const CAPS: Caps = Caps {
    memory: 6 << 30,
    processes: 2048,
};

impl Sandbox {
    /// The sandbox to grade in: the one asked for, or bwrap where it works. Without one, an
    /// error that says how to get one or how to opt out.
    pub fn choose(asked: Option<Sandbox>) -> Result<Sandbox> {
        if let Ok(inside) = std::env::var(INSIDE) {
            // Already in one: the worker of a sandboxed grade.
            return Ok(match inside.as_str() {
                "bwrap" => Sandbox::Bwrap,
                _ => Sandbox::None,
            });
        }
        match asked {
            Some(Sandbox::None) => Ok(Sandbox::None),
            Some(Sandbox::Docker) => bail!(
                "--sandbox docker is not built yet; grade with --sandbox bwrap (Debian: apt-get install \
                 bubblewrap, or scripts/sandbox-setup), or with --sandbox none to run the candidate's \
                 code with your own rights"
            ),
            Some(Sandbox::Bwrap) | None => match bwrap_works() {
                Ok(()) => Ok(Sandbox::Bwrap),
                Err(why) if asked.is_some() => bail!("--sandbox bwrap cannot run here: {why}"),
                Err(why) => bail!(
                    "no sandbox to grade a candidate's crate in ({why}). Install bubblewrap \
                     (scripts/sandbox-setup, or apt-get install bubblewrap), or pass --sandbox none \
                     to run the candidate's build scripts, tests and binary with your own rights"
                ),
            },
        }
    }

    /// Whether this process is the worker inside a sandbox.
    pub fn inside() -> bool {
        std::env::var_os(INSIDE).is_some()
    }

    /// Said on every run without a sandbox.
    pub fn warn_if_none(self) {
        if self == Sandbox::None && !Sandbox::inside() {
            eprintln!(
                "warning: grading without a sandbox (--sandbox none): the candidate's build scripts, \
                 tests and binary run with your rights, your files and your network"
            );
        }
    }

    /// How a scorecard names it.
    pub fn describe(self, caps: Option<Caps>) -> String {
        match (self, caps) {
            (Sandbox::Bwrap, Some(caps)) => format!(
                "bwrap: read-only system, own network and PIDs, at most {} GiB and {} processes",
                caps.memory >> 30,
                caps.processes
            ),
            (Sandbox::Bwrap, None) => {
                "bwrap: read-only system, own network and PIDs; no memory or process cap (the \
                 machine's cgroups cannot be written)"
                    .into()
            }
            (Sandbox::Docker, _) => "docker".into(),
            (Sandbox::None, _) => {
                "none: the candidate's code ran with the interviewer's rights".into()
            }
        }
    }
}

/// Whether bwrap is installed and can make the namespaces a grade needs here.
fn bwrap_works() -> std::result::Result<(), String> {
    static WORKS: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    WORKS
        .get_or_init(|| {
            let tried = Command::new("bwrap")
                .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
                .args([
                    "--unshare-net",
                    "--unshare-pid",
                    "--die-with-parent",
                    "true",
                ])
                .output();
            match tried {
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    Err("bwrap is not installed".into())
                }
                Err(error) => Err(format!("bwrap does not start: {error}")),
                Ok(output) if !output.status.success() => Err(format!(
                    "bwrap cannot make its namespaces: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )),
                Ok(_) => Ok(()),
            }
        })
        .clone()
}

/// A command that runs `program args` inside bwrap. The home directory is hidden but for
/// the toolchain and the cargo registry in it; `readable` (the harness's repository, the
/// candidate's crate) is shown read-only over it, and `writable` (each created first) are
/// the only directories it may write. `root` is its working directory; the caps are those
/// of `cgroup` when there is one.
pub fn bwrap(
    program: &Path,
    args: &[String],
    root: &Path,
    readable: &[PathBuf],
    writable: &[PathBuf],
    cgroup: Option<&Cgroup>,
) -> Result<Command> {
    let mut bwrap: Vec<String> = [
        "bwrap",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
    ]
    .map(String::from)
    .into();
    let mut shown: Vec<PathBuf> = Vec::new();
    if let Some(home) = home().filter(|home| home.is_dir() && home != Path::new("/")) {
        bwrap.extend(["--tmpfs".into(), home.display().to_string()]);
        shown.extend(toolchain());
    }
    shown.extend(readable.iter().cloned());
    for dir in shown.iter().filter(|dir| dir.exists()) {
        let dir = dir.canonicalize()?.display().to_string();
        bwrap.extend(["--ro-bind".into(), dir.clone(), dir]);
    }
    for dir in writable {
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?.display().to_string();
        bwrap.extend(["--bind".into(), dir.clone(), dir]);
    }
    bwrap.extend(
        [
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--die-with-parent",
            "--new-session",
            "--setenv",
            "CARGO_NET_OFFLINE",
            "true",
            "--setenv",
            INSIDE,
            "bwrap",
            "--chdir",
        ]
        .map(String::from),
    );
    bwrap.push(root.display().to_string());
    bwrap.push("--".into());
    bwrap.push(program.display().to_string());
    bwrap.extend(args.iter().cloned());
    // The shell joins the cgroup, then becomes bwrap: nothing it starts is ever outside.
    let mut command = Command::new("sh");
    match cgroup {
        Some(cgroup) => {
            command.arg("-c").arg(
                r#"IFS=:; for procs in $0; do echo $$ > "$procs" || exit 125; done; unset IFS; exec "$@""#,
            );
            command.arg(cgroup.procs_files());
        }
        None => {
            command.args(["-c", r#"exec "$@""#, "sh"]);
        }
    }
    command.args(bwrap);
    Ok(command)
}

/// The home directory, hidden in the sandbox.
pub fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// The toolchain and the cargo registry (`RUSTUP_HOME`, `CARGO_HOME`, by default in the home
/// directory): shown read-only in the sandbox.
pub fn toolchain() -> Vec<PathBuf> {
    [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")]
        .iter()
        .filter_map(|(var, default)| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .or_else(|| home().map(|home| home.join(default)))
        })
        .collect()
}

/// What a cargo command of the worker's may see: set once by the worker inside the sandbox.
static CONFINED: OnceLock<Confinement> = OnceLock::new();

#[derive(Debug)]
struct Confinement {
    /// The harness's repository: its reference fixes and checks are hidden from the
    /// candidate's build scripts and tests.
    hidden: PathBuf,
    /// Shown again over it, writable: the grade's work and target directories.
    writable: Vec<PathBuf>,
}

/// Inside the sandbox, the worker's own code reads the harness's repository (the references
/// it exports, the probes it adds); the candidate's build scripts, proc macros and tests,
/// which cargo runs, must not: a build script could put the reference fix in place of their
/// code, or write to the worker's own output. From now on each cargo command of this process
/// runs in a sandbox nested in this one, with `hidden` replaced by an empty directory but for
/// `writable`, and processes of its own.
pub fn confine_cargo(hidden: &Path, writable: &[PathBuf]) {
    let _ = CONFINED.set(Confinement {
        hidden: hidden.to_path_buf(),
        writable: writable.to_vec(),
    });
}

/// `command` as it is, or, in a worker that [`confine_cargo`] was called in, the same
/// command run in the nested sandbox (its arguments, environment and directory kept).
pub fn confined(command: Command) -> Command {
    let Some(confinement) = CONFINED.get() else {
        return command;
    };
    let mut nested = Command::new("bwrap");
    nested.args(confinement.bwrap_args(command.get_current_dir()));
    nested.arg(command.get_program()).args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        nested.current_dir(dir);
    }
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => nested.env(key, value),
            None => nested.env_remove(key),
        };
    }
    nested
}

/// In a worker that [`confine_cargo`] was called in, the program and arguments that run the
/// service `program args` (the candidate's binary) in the nested sandbox, as
/// `sh -c 'exec bwrap ... 3>INFO'`: bwrap writes to `info` where its namespace's first
/// process is, and [`inner_pid`] finds the service under it, the process to send signals to.
/// (bwrap passes none on: a SIGTERM sent to bwrap ends it, and the service with SIGKILL.)
pub fn confined_service(
    program: &Path,
    args: &[OsString],
    info: &Path,
) -> Option<(PathBuf, Vec<OsString>)> {
    let confinement = CONFINED.get()?;
    let mut wrapped: Vec<OsString> = vec![
        "-c".into(),
        r#"exec "$@" 3>"$0""#.into(),
        info.into(),
        "bwrap".into(),
        "--info-fd".into(),
        "3".into(),
    ];
    wrapped.extend(confinement.bwrap_args(None));
    wrapped.push(program.into());
    wrapped.extend(args.iter().cloned());
    Some((PathBuf::from("sh"), wrapped))
}

/// The service a [`confined_service`] command started, as this process sees its PID: the
/// child of the first process of bwrap's namespace, named in `info`. `None` until bwrap has
/// written it and started the service.
pub fn inner_pid(info: &Path) -> Option<u32> {
    #[derive(Deserialize)]
    struct Info {
        #[serde(rename = "child-pid")]
        child_pid: u32,
    }
    let info: Info = serde_json::from_str(&std::fs::read_to_string(info).ok()?).ok()?;
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", info.child_pid)).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

impl Confinement {
    /// bwrap's options for the nested sandbox: everything the worker sees, but the harness's
    /// repository an empty directory with the grade's work and target directories in it, and
    /// a `/proc` and PIDs of its own; then the start of the command it runs, a shell that
    /// caps the size of any file written ([`FILE_CAP`]) and becomes the program that follows.
    fn bwrap_args(&self, dir: Option<&Path>) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["--dev-bind", "/", "/", "--proc", "/proc", "--tmpfs"]
            .map(OsString::from)
            .into();
        args.push(self.hidden.clone().into());
        for dir in &self.writable {
            args.extend(["--bind".into(), dir.into(), dir.into()]);
        }
        args.extend(["--unshare-pid", "--die-with-parent"].map(OsString::from));
        if let Some(dir) = dir {
            args.extend(["--chdir".into(), dir.into()]);
        }
        // ulimit -f counts 512-byte blocks; a write past it ends the writer (SIGXFSZ).
        let cap = format!("ulimit -f {}; exec \"$@\"", FILE_CAP >> 9);
        args.extend([
            "--".into(),
            "sh".into(),
            "-c".into(),
            cap.into(),
            "sh".into(),
        ]);
        args
    }
}

/// Memory and process caps, as cgroups of their own: v2 where the unified hierarchy is at
/// the root, else v1's `memory` and `pids`. Removed, with anything left in them, on drop.
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// Cgroups for one grade with `caps`, or why there are none.
    pub fn new(caps: Caps) -> std::result::Result<Cgroup, String> {
        let name = format!("exercise-grade-{}", std::process::id());
        let base = Path::new("/sys/fs/cgroup");
        let write = |file: PathBuf, value: String| {
            std::fs::write(&file, value).map_err(|e| format!("{}: {e}", file.display()))
        };
        if base.join("cgroup.controllers").exists() {
            let dir = base.join(own_cgroup("").unwrap_or_default()).join(&name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let cgroup = Cgroup { dirs: vec![dir] };
            write(cgroup.dirs[0].join("memory.max"), caps.memory.to_string())?;
            write(cgroup.dirs[0].join("memory.swap.max"), "0".into()).ok();
            write(cgroup.dirs[0].join("pids.max"), caps.processes.to_string())?;
            return Ok(cgroup);
        }
        let mut cgroup = Cgroup { dirs: Vec::new() };
        for (controller, file, value) in [
            ("memory", "memory.limit_in_bytes", caps.memory.to_string()),
            ("pids", "pids.max", caps.processes.to_string()),
        ] {
            let own = own_cgroup(controller).ok_or(format!("no {controller} cgroup"))?;
            let dir = base.join(controller).join(own).join(&name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            cgroup.dirs.push(dir.clone());
            write(dir.join(file), value)?;
        }
        Ok(cgroup)
    }

    /// The files a process writes its PID to, to join every cgroup of this one, joined by `:`.
    fn procs_files(&self) -> String {
        self.dirs
            .iter()
            .map(|dir| dir.join("cgroup.procs").display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// What the caps stopped, for a reason a person reads: empty when they stopped nothing.
    pub fn reached(&self) -> Vec<String> {
        let mut reached = Vec::new();
        if self.out_of_memory() {
            reached.push(format!(
                "the memory cap ({} GiB) was reached",
                CAPS.memory >> 30
            ));
        }
        let refused: u64 = self
            .dirs
            .iter()
            .filter_map(|dir| std::fs::read_to_string(dir.join("pids.events")).ok())
            .flat_map(|events| {
                events
                    .lines()
                    .filter_map(|l| l.strip_prefix("max ")?.trim().parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum();
        if refused > 0 {
            reached.push(format!(
                "the process cap ({}) refused {refused} new process(es)",
                CAPS.processes
            ));
        }
        reached
    }

    /// Whether the memory cap was reached: the kernel killed a process of the grade for it.
    fn out_of_memory(&self) -> bool {
        self.dirs.iter().any(|dir| {
            let v2 = std::fs::read_to_string(dir.join("memory.events")).ok();
            let v1 = std::fs::read_to_string(dir.join("memory.failcnt")).ok();
            v2.is_some_and(|events| {
                events
                    .lines()
                    .any(|l| l.starts_with("oom_kill ") && !l.ends_with(" 0"))
            }) || v1.is_some_and(|count| count.trim() != "0")
        })
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            // Whatever outlived the worker (bwrap's PID namespace ends with it, so nothing
            // should), then the group itself.
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// This process's cgroup path for `controller` (v1), or in the unified hierarchy (`""`).
fn own_cgroup(controller: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        wanted.then(|| path.trim_start_matches('/').to_owned())
    })
}
