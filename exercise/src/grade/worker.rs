//! A grade in a sandbox: this process (trusted) fetches the crate's dependencies, makes the
//! caps, and starts `exercise grade-worker` inside bwrap; the worker grades and writes each
//! step and then the scorecard to its stdout, a JSON line each, which are read back here.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt;

use super::{Options, Scorecard, Step};
use crate::manifest::{self, Bug};
use crate::sandbox::{CAPS, Cgroup, Sandbox};
use crate::tools::{remove_unused, touch};

/// What a worker is asked to grade.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    bugs: Vec<String>,
    dir: PathBuf,
    seeds: u64,
    clippy: bool,
    rounds: usize,
    own_tests: bool,
    work: PathBuf,
    given: Option<PathBuf>,
    limits: crate::tools::Limits,
}

/// A line of the worker's stdout that is one of its messages starts with this; any other
/// line (something the candidate's code printed) is passed on to stderr.
const MARK: &str = "exercise-worker: ";

/// One message of the worker's.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Message {
    Step(Step),
    Scorecard(Box<Scorecard>),
    /// Why the crate could not be graded.
    Failed(String),
}

/// A whole grade may take this long; each step inside has a limit of its own.
const WALL: Duration = Duration::from_secs(45 * 60);

/// The directories a grade writes: its work directory and its target directories.
fn writable(root: &Path, work: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![work.to_path_buf()];
    dirs.extend(super::TARGET_DIRS.map(|target| root.join(target)));
    dirs
}

/// Grades `bugs` in `dir` inside bwrap.
pub async fn sandboxed(
    root: &Path,
    bugs: &[&Bug],
    dir: &Path,
    work: &Path,
    options: &Options,
) -> Result<Scorecard> {
    // Offline inside: everything the reference's and the candidate's lockfiles name is
    // fetched first. Fetching runs none of their code. The repository's lockfile is the
    // same for every grade of this process, so it is fetched once.
    static FETCHED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if FETCHED.get().is_none() {
        fetch(root, options.limits.build)?;
        let _ = FETCHED.set(());
    }
    let foreign = foreign_sources(dir);
    if !foreign.is_empty() {
        bail!(
            "the crate names {} the grade does not fetch from (it fetches only from crates.io, \
             before the sandbox, and nothing else is reachable inside): {}",
            if foreign.len() == 1 {
                "a source"
            } else {
                "sources"
            },
            foreign.join("; ")
        );
    }
    if let Some(problem) = dir
        .join("Cargo.toml")
        .exists()
        .then(|| fetch(dir, options.limits.build).err())
        .flatten()
    {
        eprintln!(
            "warning: the candidate's dependencies could not all be fetched ({problem:#}); \
             a build that needs one will fail offline in the sandbox"
        );
    }
    std::fs::create_dir_all(work)?;
    let request = Request {
        bugs: bugs.iter().map(|b| b.id.clone()).collect(),
        dir: dir.to_path_buf(),
        seeds: options.seeds,
        clippy: options.clippy,
        rounds: options.rounds,
        own_tests: options.own_tests,
        work: work.to_path_buf(),
        given: options.given.clone(),
        limits: options.limits,
    };
    let request_file = work.join("grade-request.json");
    std::fs::write(&request_file, serde_json::to_vec_pretty(&request)?)?;

    let exe = own_binary(root)?;
    let args = [
        "--root".to_owned(),
        root.display().to_string(),
        "grade-worker".to_owned(),
        request_file.display().to_string(),
    ];
    let readable = [root.to_path_buf(), dir.to_path_buf(), exe.clone()];
    let made = match options.sandbox {
        Sandbox::Docker => Cgroup::for_docker(CAPS),
        _ => Cgroup::new(CAPS),
    };
    let cgroup = match made {
        Ok(cgroup) => Some(cgroup),
        // The container's own limits cap it instead.
        Err(_) if options.sandbox == Sandbox::Docker => None,
        Err(why) => {
            eprintln!("warning: no memory or process cap for the sandbox: {why}");
            None
        }
    };
    let writable = writable(root, work);
    let (command, container) = match options.sandbox {
        Sandbox::Docker => {
            let container = Container::named();
            let command = crate::sandbox::docker(
                &container.0,
                &exe,
                &args,
                root,
                &readable,
                &writable,
                cgroup.as_ref(),
            )?;
            (command, Some(container))
        }
        _ => {
            let command =
                crate::sandbox::bwrap(&exe, &args, root, &readable, &writable, cgroup.as_ref())?;
            (command, None)
        }
    };
    let sandbox = options.sandbox.describe(cgroup.as_ref().map(|_| CAPS));
    let mut child = tokio::process::Command::from(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start the grade worker in {:?}", options.sandbox))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut card = None;
    let mut failed = None;
    let read = async {
        while let Some(line) = lines.next_line().await? {
            let Some(json) = line.strip_prefix(MARK) else {
                eprintln!("{line}");
                continue;
            };
            match serde_json::from_str::<Message>(json)
                .with_context(|| format!("a message of the grade worker: {json}"))?
            {
                Message::Step(step) => options.tell(step),
                Message::Scorecard(_) | Message::Failed(_)
                    if card.is_some() || failed.is_some() =>
                {
                    bail!(
                        "not gradable: a second outcome came from the grade worker; something in the \
                         sandbox wrote to its output"
                    )
                }
                Message::Scorecard(scorecard) => card = Some(*scorecard),
                Message::Failed(why) => failed = Some(why),
            }
        }
        anyhow::Ok(child.wait().await?)
    };
    // A container's cgroups go when it stops, so what its limits stopped is read while it
    // runs.
    let under = cgroup.as_ref().and_then(Cgroup::relative);
    let watch = container.as_ref().map(|c| c.watch(under));
    let status = match tokio::time::timeout(WALL, read).await {
        Ok(status) => status?,
        Err(_) => bail!(
            "not gradable: the grade was still running after {} minutes, and was stopped",
            WALL.as_secs() / 60
        ),
    };
    // The memory cap is the parent's, and outlives the container; the process cap is the
    // container's own, read while it ran.
    let mut reached = cgroup.as_ref().map(Cgroup::reached).unwrap_or_default();
    for seen in watch.iter().flat_map(Watch::last) {
        if !reached.contains(&seen) {
            reached.push(seen);
        }
    }
    drop(container);
    if let Some(mut card) = card {
        card.sandbox = sandbox;
        if !reached.is_empty() {
            card.sandbox = format!("{}; {}", card.sandbox, reached.join("; "));
        }
        return Ok(card);
    }
    let caps = match reached.is_empty() {
        true => String::new(),
        false => format!("in the sandbox, {}: ", reached.join("; ")),
    };
    match failed {
        Some(why) => bail!("{caps}{why}"),
        None => bail!("{caps}the grade worker ended ({status}) without a scorecard"),
    }
}

/// Where the copies of the harness's binary the workers run are kept ([`own_binary`]).
const COPIES: &str = "target/grade-worker";

/// A copy not used for this long is removed when another is taken. Removing one a process
/// still runs costs nothing: it copies itself again at its next grade.
const UNUSED_FOR: Duration = Duration::from_secs(24 * 3600);

/// The harness's binary as this process runs it, copied under [`COPIES`], for the grade
/// worker to run. The file `current_exe` names is the one a `cargo build` replaces, and a page
/// or a regrade runs for an hour or more: the worker must be the code this process is, or its
/// grades would fail (or, worse, come from a harness other than the one the record names).
/// `/proc/self/exe` still reads that code after a rebuild. One copy per build: it is named by
/// the binary's size and modification time, shared by the processes of that build, touched
/// at each grade, made again if it is gone, and removed after [`UNUSED_FOR`] without use.
fn own_binary(root: &Path) -> Result<PathBuf> {
    let running = Path::new("/proc/self/exe");
    if !running.exists() {
        // No procfs (not Linux): the file on disk is all there is.
        return std::env::current_exe().context("find the harness's own binary");
    }
    copy_binary(running, &root.join(COPIES), std::time::SystemTime::now())
}

/// Copies the binary `from` into `dir` unless a copy of the same build is there already
/// ([`own_binary`]); `now` is when, for the copies' ages.
fn copy_binary(from: &Path, dir: &Path, now: std::time::SystemTime) -> Result<PathBuf> {
    let meta = std::fs::metadata(from)
        .with_context(|| format!("read the harness's own binary, {}", from.display()))?;
    let modified = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let name = format!("exercise-{}-{modified}", meta.len());
    let copy = dir.join(&name);
    std::fs::create_dir_all(dir).with_context(|| format!("make {}", dir.display()))?;
    let whole = std::fs::metadata(&copy).is_ok_and(|m| m.len() == meta.len());
    if !whole {
        // Copied beside it and renamed, so a process of the same build never runs half a copy.
        let partial = dir.join(format!(".{name}.{}", std::process::id()));
        std::fs::copy(from, &partial).with_context(|| {
            format!(
                "copy the harness's own binary to {} for the grade worker",
                partial.display()
            )
        })?;
        std::fs::rename(&partial, &copy)?;
    }
    touch(&copy, now).with_context(|| format!("mark {} as in use", copy.display()))?;
    remove_unused(dir, now, UNUSED_FOR, Some(&copy));
    Ok(copy)
}

/// The container of a grade in Docker, removed (and so stopped) when dropped: stopping the
/// `docker run` client would leave it running.
struct Container(String);

impl Container {
    /// A name no other grade on this machine has.
    fn named() -> Container {
        static GRADES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let grade = GRADES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Container(format!("exercise-grade-{}-{grade}", std::process::id()))
    }

    /// Reads what its limits stopped every tenth of a second from now on, until the result is
    /// dropped: a cap reached just before the grade stopped can still be missed.
    fn watch(&self, under: Option<String>) -> Watch {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let name = self.0.clone();
        let found = seen.clone();
        let task = tokio::spawn(async move {
            let mut cgroup = None;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if cgroup.is_none() {
                    cgroup =
                        container_id(&name).map(|id| Cgroup::of_container(&id, under.as_deref()));
                }
                let reached = cgroup.as_ref().map(Cgroup::reached).unwrap_or_default();
                if !reached.is_empty() {
                    *found.lock().unwrap_or_else(|e| e.into_inner()) = reached;
                }
            }
        });
        Watch { seen, task }
    }
}

/// The id of the container `name`, once it exists.
fn container_id(name: &str) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{.Id}}", name])
        .output()
        .ok()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !id.is_empty()).then_some(id)
}

/// What a container's limits stopped, as last read ([`Container::watch`]).
struct Watch {
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    fn last(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "--force", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The package sources in the crate at `dir` other than crates.io, and the cargo settings in
/// it that would send `cargo fetch` (run outside the sandbox) somewhere else or run a
/// program of the crate's: each as a line a person reads. Empty for an export.
fn foreign_sources(dir: &Path) -> Vec<String> {
    const CRATES_IO: [&str; 2] = [
        "registry+https://github.com/rust-lang/crates.io-index",
        "sparse+https://index.crates.io/",
    ];
    let mut found = Vec::new();
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap_or_default();
    for source in lock.lines().filter_map(|line| {
        let value = line.strip_prefix("source = ")?.trim().trim_matches('"');
        (!CRATES_IO.contains(&value)).then_some(value)
    }) {
        let line = format!("Cargo.lock: {source}");
        if !found.contains(&line) {
            found.push(line);
        }
    }
    for config in [".cargo/config.toml", ".cargo/config"] {
        let text = std::fs::read_to_string(dir.join(config)).unwrap_or_default();
        let Ok(table) = text.parse::<toml::Table>() else {
            if !text.is_empty() {
                found.push(format!("{config}: not TOML cargo can read"));
            }
            continue;
        };
        for key in [
            "source",
            "registries",
            "registry",
            "net",
            "http",
            "credential-alias",
        ] {
            if table.contains_key(key) {
                found.push(format!("{config}: [{key}]"));
            }
        }
    }
    found
}

/// `cargo fetch` for the workspace at `dir`, with its lockfile as it is.
fn fetch(dir: &Path, limit: std::time::Duration) -> Result<()> {
    let mut fetch = crate::tools::cargo();
    fetch
        .current_dir(dir)
        .args(["fetch", "--locked", "--quiet"]);
    crate::tools::run_cargo(
        fetch,
        &format!("fetch the dependencies of {}", dir.display()),
        limit,
    )
}

/// `exercise grade-worker REQUEST`: the grade inside the sandbox (started by a grade, never
/// by hand).
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    request: PathBuf,
}

impl WorkerArgs {
    pub fn run(self, project: &crate::Project) -> Result<std::process::ExitCode> {
        let request: Request = serde_json::from_slice(&std::fs::read(&self.request)?)
            .context("read the grade request")?;
        let bugs = project.bugs()?;
        let chosen = manifest::choose(&bugs, &request.bugs)?;
        crate::sandbox::confine_cargo(&project.root, &writable(&project.root, &request.work));
        let send = |message: &Message| {
            // One line each, written whole: the reader splits on newlines.
            let line = format!(
                "{MARK}{}\n",
                serde_json::to_string(message).unwrap_or_default()
            );
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        };
        let options = Options {
            seeds: request.seeds,
            clippy: request.clippy,
            rounds: request.rounds,
            own_tests: request.own_tests,
            work: Some(request.work),
            given: request.given,
            progress: Some(super::Progress(std::sync::Arc::new(move |step| {
                send(&Message::Step(step))
            }))),
            sandbox: Sandbox::choose(None)?,
            limits: request.limits,
        };
        let graded = crate::runtime()?.block_on(super::grade(
            &project.root,
            &bugs,
            &chosen,
            &request.dir,
            &options,
        ));
        match graded {
            Ok(card) => send(&Message::Scorecard(Box::new(card))),
            Err(problem) => send(&Message::Failed(format!("{problem:#}"))),
        }
        Ok(std::process::ExitCode::SUCCESS)
    }
}

#[cfg(test)]
#[path = "tests/worker.rs"]
mod tests;
