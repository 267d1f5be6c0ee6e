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
//! With Docker (`docker`), the worker runs in a container of [`DOCKER_IMAGE`] with the same
//! views: the root file system read-only, the same directories mounted at the same paths (the
//! toolchain and registry read-only), no network but the container's loopback, its own PIDs,
//! the memory cap a cgroup of ours the container is made in, and the process cap its own
//! limit. The container may make namespaces (bwrap is in the image), so that the candidate's
//! commands run nested in it as they do under bwrap.
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
    /// A Docker container of [`DOCKER_IMAGE`] (`scripts/sandbox-setup --docker` builds it).
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
                "docker" => Sandbox::Docker,
                _ => Sandbox::None,
            });
        }
        match asked {
            Some(Sandbox::None) => Ok(Sandbox::None),
            Some(Sandbox::Docker) => match docker_works() {
                Ok(()) => Ok(Sandbox::Docker),
                Err(why) => bail!(
                    "--sandbox docker cannot run here: {why}. scripts/sandbox-setup --docker starts \
                     an engine and builds the image; or grade with --sandbox bwrap"
                ),
            },
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
            (Sandbox::Docker, _) => format!(
                "docker ({DOCKER_IMAGE}): read-only system, own network and PIDs, at most {} GiB \
                 and {} processes",
                CAPS.memory >> 30,
                CAPS.processes
            ),
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

/// The image a grade in Docker runs in: Debian bookworm with gcc and bubblewrap; the toolchain
/// and the harness are this machine's, mounted (`docker/sandbox.Dockerfile`).
pub const DOCKER_IMAGE: &str = "order-service-sandbox:bookworm";

/// Whether a Docker engine answers and has [`DOCKER_IMAGE`].
fn docker_works() -> std::result::Result<(), String> {
    let inspected = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", DOCKER_IMAGE])
        .output();
    match inspected {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err("docker is not installed".into())
        }
        Err(error) => Err(format!("docker does not start: {error}")),
        Ok(output) if !output.status.success() => Err(format!(
            "no image {DOCKER_IMAGE}, or no engine: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Ok(_) => Ok(()),
    }
}

/// A command that runs `program args` in a new container named `name` (left for the caller
/// to remove), with the mounts [`bwrap`] makes and the process cap as its limit. Its memory
/// is capped by `parent`, the cgroups it is made in, when there are: they outlive it, so
/// that what the cap stopped can be read after it ended; else by a limit of its own. It may
/// make namespaces, for the sandbox nested in it.
pub fn docker(
    name: &str,
    program: &Path,
    args: &[String],
    root: &Path,
    readable: &[PathBuf],
    writable: &[PathBuf],
    parent: Option<&Cgroup>,
) -> Result<Command> {
    let mut command = Command::new("docker");
    command.args(["run", "--name", name, "--init", "--read-only"]);
    command.args(["--network", "none", "--tmpfs", "/tmp:rw,exec,size=4g"]);
    match parent.and_then(Cgroup::relative) {
        Some(parent) => {
            command.arg(format!("--cgroup-parent=/{parent}"));
        }
        None => {
            command.arg(format!("--memory={}", CAPS.memory));
            command.arg(format!("--memory-swap={}", CAPS.memory));
        }
    }
    command.arg(format!("--pids-limit={}", CAPS.processes));
    // bwrap's namespaces and mounts, for the nested sandbox: it drops these again for what it
    // runs.
    command.args(["--cap-drop", "ALL", "--cap-add", "SYS_ADMIN"]);
    command.args(["--cap-add", "SETPCAP", "--cap-add", "SYS_CHROOT"]);
    for option in [
        "seccomp=unconfined",
        "apparmor=unconfined",
        "systempaths=unconfined",
    ] {
        command.args(["--security-opt", option]);
    }
    let mut shown: Vec<PathBuf> = toolchain();
    shown.extend(readable.iter().cloned());
    for dir in shown.iter().filter(|dir| dir.exists()) {
        let dir = dir.canonicalize()?.display().to_string();
        command.args(["--volume", &format!("{dir}:{dir}:ro")]);
    }
    for dir in writable {
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?.display().to_string();
        command.args(["--volume", &format!("{dir}:{dir}")]);
    }
    // This machine's toolchain, where it is here.
    for var in ["CARGO_HOME", "RUSTUP_HOME"] {
        if let Some(value) = std::env::var_os(var) {
            command
                .arg("--env")
                .arg(format!("{var}={}", value.to_string_lossy()));
        }
    }
    if let Some(home) = home() {
        command.arg("--env").arg(format!("HOME={}", home.display()));
        let path = std::env::var("PATH").unwrap_or_default();
        command
            .arg("--env")
            .arg(format!("PATH={}:{path}", home.join(".cargo/bin").display()));
    }
    command.args(["--env", "CARGO_NET_OFFLINE=true", "--env"]);
    command.arg(format!("{INSIDE}=docker"));
    command.arg("--workdir").arg(root);
    command.arg(DOCKER_IMAGE).arg(program).args(args);
    Ok(command)
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
    /// Made here, so removed here; else another's, only read.
    owned: bool,
    /// Its path may also be in the v1 hierarchies it has no directory in (Docker made it
    /// there for a container): removed from those too.
    everywhere: bool,
}

impl Cgroup {
    /// Cgroups for one grade with `caps`, or why there are none.
    pub fn new(caps: Caps) -> std::result::Result<Cgroup, String> {
        Cgroup::made(caps, false)
    }

    /// [`Cgroup::new`] for a Docker container to be made in (`--cgroup-parent`): Docker
    /// needs one path for every hierarchy, so under v1 each is made where this process's
    /// memory cgroup is, and what Docker makes at that path in the others is removed with it.
    pub fn for_docker(caps: Caps) -> std::result::Result<Cgroup, String> {
        Cgroup::made(caps, true)
    }

    fn made(caps: Caps, one_path: bool) -> std::result::Result<Cgroup, String> {
        let name = format!("exercise-grade-{}", std::process::id());
        let base = Path::new("/sys/fs/cgroup");
        let write = |file: PathBuf, value: String| {
            std::fs::write(&file, value).map_err(|e| format!("{}: {e}", file.display()))
        };
        if base.join("cgroup.controllers").exists() {
            let dir = base.join(own_cgroup("").unwrap_or_default()).join(&name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let cgroup = Cgroup {
                dirs: vec![dir],
                owned: true,
                everywhere: false,
            };
            write(cgroup.dirs[0].join("memory.max"), caps.memory.to_string())?;
            write(cgroup.dirs[0].join("memory.swap.max"), "0".into()).ok();
            write(cgroup.dirs[0].join("pids.max"), caps.processes.to_string())?;
            return Ok(cgroup);
        }
        let mut cgroup = Cgroup {
            dirs: Vec::new(),
            owned: true,
            everywhere: one_path,
        };
        for (controller, file, value) in [
            ("memory", "memory.limit_in_bytes", caps.memory.to_string()),
            ("pids", "pids.max", caps.processes.to_string()),
        ] {
            let own = own_cgroup(if one_path { "memory" } else { controller })
                .ok_or(format!("no {controller} cgroup"))?;
            let dir = base.join(controller).join(own).join(&name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            cgroup.dirs.push(dir.clone());
            write(dir.join(file), value)?;
        }
        Ok(cgroup)
    }

    /// The cgroups Docker made for the container `id` (cgroupfs, v1 or v2), `under` its
    /// parent's path ([`Cgroup::relative`]) or in its own default place, to read what its
    /// limits stopped; Docker removes them with the container.
    pub fn of_container(id: &str, under: Option<&str>) -> Cgroup {
        let base = Path::new("/sys/fs/cgroup");
        let mut dirs: Vec<PathBuf> = match under {
            Some(under) => vec![
                base.join(under).join(id),
                base.join("memory").join(under).join(id),
                base.join("pids").join(under).join(id),
            ],
            None => vec![
                base.join(format!("system.slice/docker-{id}.scope")),
                base.join("docker").join(id),
                base.join("memory/docker").join(id),
                base.join("pids/docker").join(id),
            ],
        };
        dirs.retain(|dir| dir.is_dir());
        Cgroup {
            dirs,
            owned: false,
            everywhere: false,
        }
    }

    /// Its path below each hierarchy's root, when that is the same in every one (as Docker's
    /// `--cgroup-parent` needs).
    pub fn relative(&self) -> Option<String> {
        let mut paths = self.dirs.iter().map(|dir| {
            let below = dir.strip_prefix("/sys/fs/cgroup").ok()?;
            // v1: the first part is the controller.
            let below = match self.dirs.len() {
                1 => below,
                _ => below.strip_prefix(below.iter().next()?).ok()?,
            };
            Some(below.display().to_string())
        });
        let first = paths.next()??;
        paths
            .all(|path| path.as_ref() == Some(&first))
            .then_some(first)
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
        if !self.owned {
            return;
        }
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
        if let (true, Some(relative)) = (self.everywhere, self.relative()) {
            // Empty once the container is gone: removing fails harmlessly otherwise.
            let hierarchies = std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten();
            for hierarchy in hierarchies.flatten() {
                let _ = std::fs::remove_dir(hierarchy.path().join(&relative));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_is_named_below_its_hierarchies_for_docker() {
        let v1 = Cgroup {
            dirs: vec![
                PathBuf::from("/sys/fs/cgroup/memory/a/exercise-grade-1"),
                PathBuf::from("/sys/fs/cgroup/pids/a/exercise-grade-1"),
            ],
            owned: false,
            everywhere: false,
        };
        assert_eq!(v1.relative().as_deref(), Some("a/exercise-grade-1"));
        let v2 = Cgroup {
            dirs: vec![PathBuf::from("/sys/fs/cgroup/user.slice/exercise-grade-1")],
            owned: false,
            everywhere: false,
        };
        assert_eq!(
            v2.relative().as_deref(),
            Some("user.slice/exercise-grade-1")
        );
        let apart = Cgroup {
            dirs: vec![
                PathBuf::from("/sys/fs/cgroup/memory/a/exercise-grade-1"),
                PathBuf::from("/sys/fs/cgroup/pids/b/exercise-grade-1"),
            ],
            owned: false,
            everywhere: false,
        };
        assert_eq!(apart.relative(), None);
    }
}
