//! Host commands: run one and keep its output, or build one that runs in a network namespace.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::error::CommandError;

/// The directory `ip netns` keeps its namespace handles in.
pub(crate) const NETNS_DIR: &str = "/run/netns";

/// A process-unique number: names made by this process never collide with each other, and
/// the process id in them keeps them apart from other processes'.
pub(crate) fn next_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `charmarr-<pid>-<n>`: the prefix of every namespace this process makes.
pub(crate) fn unique_prefix() -> String {
    format!("charmarr-{}-{}", std::process::id(), next_id())
}

fn describe(cmd: &Command) -> String {
    let mut out = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        out.push(' ');
        out.push_str(&arg.to_string_lossy());
    }
    out
}

/// Runs `cmd` to completion; its stdout on success.
pub(crate) fn output(mut cmd: Command) -> Result<String, CommandError> {
    let command = describe(&cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| CommandError::Spawn {
            command: command.clone(),
            source,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(CommandError::Failed {
            command,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// `program args...` on the host.
pub(crate) fn run<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<String, CommandError> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    output(cmd)
}

/// `ip -n <netns> args...`.
pub(crate) fn ip_in<S: AsRef<OsStr>>(netns: &str, args: &[S]) -> Result<String, CommandError> {
    let mut cmd = Command::new("ip");
    cmd.arg("-n").arg(netns).args(args);
    output(cmd)
}

/// A command that runs `program` in network namespace `netns` (and nothing else changed):
/// `nsenter --net=/run/netns/<netns> -- program`.
pub(crate) fn netns_command(netns: &str, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net={NETNS_DIR}/{netns}"))
        .arg("--")
        .arg(program);
    cmd
}

/// Deletes network namespace `name`; used by drops, so it reports nothing.
pub(crate) fn delete_netns(name: &str) {
    let _ = run("ip", &["netns", "del", name]);
}

/// `program` found on PATH.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Polls `condition` every 50 ms until it holds or `timeout` has passed; whether it held.
pub(crate) fn poll_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
