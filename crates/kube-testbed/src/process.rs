//! Child processes (etcd, kube-apiserver): spawning, PID files, and stopping by PID.
//!
//! Two ways to spawn:
//! - [`Lifetime::Owned`] (tests): the child runs under `setpriv --pdeathsig TERM`, spawned from
//!   one long-lived "spawner" thread. Linux sends the parent-death signal when the *thread* that
//!   forked the child exits, so spawning from a thread that lives until the process exits means:
//!   if the test process dies in any way (even SIGKILL), etcd and the API server get SIGTERM.
//!   This needs no unsafe code (`setpriv` from util-linux, which Debian always installs, calls
//!   `prctl(PR_SET_PDEATHSIG)` and then execs, so the PID stays the same).
//! - [`Lifetime::Detached`] (the CLI's `up`): its own process group, no death signal, so the
//!   cluster outlives the CLI and a terminal's Ctrl-C; stopped by `kube-testbed down`.
//!
//! Stopping is always by PID: SIGTERM, a bounded wait, then SIGKILL. A PID read from a file is
//! only signalled after `/proc/<pid>/cmdline` proves it is still our process (it names our
//! directory), so a recycled PID is never hit. Nothing is ever killed by name.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// How long a process may take to exit after SIGTERM before it gets SIGKILL.
pub(crate) const TERM_GRACE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// Whether a spawned process is tied to this process's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Gets SIGTERM when this process exits, however it exits (tests, embedded use).
    Owned,
    /// Keeps running after this process exits; stop it with [`crate::stop_dir`].
    Detached,
}

/// A request to the spawner thread.
struct SpawnJob {
    command: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

/// The one thread that spawns owned children; it never exits (see the module docs).
fn spawner() -> io::Result<&'static mpsc::Sender<SpawnJob>> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnJob>> = OnceLock::new();
    if let Some(tx) = SPAWNER.get() {
        return Ok(tx);
    }
    let (tx, rx) = mpsc::channel::<SpawnJob>();
    thread::Builder::new()
        .name("kube-testbed-spawner".into())
        .spawn(move || {
            // Keep the sender side alive in the static, so `recv` only fails at process exit.
            while let Ok(mut job) = rx.recv() {
                let _ = job.reply.send(job.command.spawn());
            }
            // Unreachable in practice; park so the thread (the children's "parent") never exits.
            loop {
                thread::park();
            }
        })?;
    // A race between two first callers starts two spawner threads; both work, one is idle.
    Ok(SPAWNER.get_or_init(|| tx))
}

/// Spawns `program args…` with stdout and stderr appended to `log`.
pub(crate) fn spawn(
    program: &Path,
    args: &[String],
    log: &Path,
    lifetime: Lifetime,
) -> io::Result<Child> {
    let out = fs::OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut command = match lifetime {
        Lifetime::Owned if setpriv_supports_pdeathsig() => {
            let mut c = Command::new("setpriv");
            c.arg("--pdeathsig").arg("TERM").arg("--").arg(program);
            c
        }
        Lifetime::Owned => {
            tracing::warn!("setpriv --pdeathsig unavailable: children are stopped on drop only");
            Command::new(program)
        }
        Lifetime::Detached => {
            let mut c = Command::new(program);
            c.process_group(0);
            c
        }
    };
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    if lifetime == Lifetime::Detached {
        return command.spawn();
    }
    let (reply, answer) = mpsc::channel();
    spawner()?
        .send(SpawnJob { command, reply })
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the spawner thread did not answer"))?
}

fn setpriv_supports_pdeathsig() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        Command::new("setpriv")
            .arg("--help")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--pdeathsig"))
    })
}

/// Whether a process with this PID exists and has not exited (a zombie counts as gone).
pub(crate) fn alive(pid: u32) -> bool {
    let exists = to_pid(pid).is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
    exists
        && fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            // The state follows the parenthesised command name: `pid (comm) S ...`.
            stat.rsplit_once(')')
                .is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
}

fn to_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().and_then(Pid::from_raw)
}

fn signal(pid: u32, sig: Signal) {
    if let Some(p) = to_pid(pid) {
        // ESRCH (already gone) is the only expected error and means there is nothing to do.
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// Stops a child we spawned: SIGTERM, wait up to `grace`, then SIGKILL. Always reaps it.
pub(crate) fn stop_child(child: &mut Child, grace: Duration) -> io::Result<()> {
    if child.try_wait()?.is_some() {
        return Ok(());
    }
    signal(child.id(), Signal::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        thread::sleep(POLL);
    }
    tracing::warn!(
        pid = child.id(),
        "no exit {grace:?} after SIGTERM: sending SIGKILL"
    );
    child.kill()?;
    child.wait().map(|_| ())
}

/// Stops a process that is not our child (from a PID file), after checking it is ours: its
/// command line must contain `marker` (our directory). Returns whether it was running.
pub(crate) fn stop_recorded(pid: u32, marker: &str, grace: Duration) -> bool {
    if !is_ours(pid, marker) {
        return false;
    }
    signal(pid, Signal::TERM);
    // Wait until the process is really gone, not only until its command line is: an exiting
    // process loses its cmdline before it stops existing, and callers check `alive` next.
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if gone(pid, marker) {
            return true;
        }
        thread::sleep(POLL);
    }
    if is_ours(pid, marker) {
        tracing::warn!(pid, "no exit {grace:?} after SIGTERM: sending SIGKILL");
        signal(pid, Signal::KILL);
    }
    let deadline = Instant::now() + grace;
    while !gone(pid, marker) && Instant::now() < deadline {
        thread::sleep(POLL);
    }
    true
}

/// The process has exited (or is a zombie), or its PID now belongs to someone else.
fn gone(pid: u32, marker: &str) -> bool {
    let reused = fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| !c.is_empty() && !String::from_utf8_lossy(&c).contains(marker));
    !alive(pid) || reused
}

/// Whether `pid` runs and its command line mentions `marker` (zombies have an empty one).
pub(crate) fn is_ours(pid: u32, marker: &str) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| !c.is_empty() && String::from_utf8_lossy(&c).contains(marker))
}

/// The PID recorded in `file`, if any.
pub(crate) fn read_pid(file: &Path) -> Option<u32> {
    fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Records `pid` in `file`.
pub(crate) fn write_pid(file: &Path, pid: u32) -> io::Result<()> {
    fs::write(file, format!("{pid}\n"))
}

/// The PID files of a cluster directory, in stop order (API server first, then etcd).
pub(crate) fn pid_files(dir: &Path) -> [(&'static str, PathBuf); 2] {
    [
        ("kube-apiserver", dir.join("apiserver.pid")),
        ("etcd", dir.join("etcd.pid")),
    ]
}
