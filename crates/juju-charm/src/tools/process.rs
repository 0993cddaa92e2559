//! [`ProcessRunner`]: runs hook tools as real child processes, reading their outputs up to a
//! bound ([`MAX_STDOUT_BYTES`], [`MAX_STDERR_BYTES`]).

use std::ffi::OsString;
use std::io::{Read, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};

use super::{OutputError, Stream, ToolError, ToolRunner};

/// Most a hook tool's stdout is read: 1 MiB. The largest answers Juju's tools give our charms
/// are `relation-get` bags (bounded tighter still, at
/// [`MAX_DATABAG_BYTES`](super::relation::MAX_DATABAG_BYTES)), `config-get`, `goal-state` and
/// `secret-get`: kilobytes. 1 MiB is far above them and bounds the memory and time a tool (or
/// anything else found on `PATH` under its name) that writes without end can cost the hook.
pub const MAX_STDOUT_BYTES: usize = 1024 * 1024;

/// Most a hook tool's stderr is read: 64 KiB. It carries Juju's one-line `ERROR ...` message,
/// which classifies the failure ([`ToolError::from_failure`]) and is logged with it.
pub const MAX_STDERR_BYTES: usize = 64 * 1024;

/// Spawns each hook tool as a child process, like ops' `subprocess.run(..., check=True,
/// capture_output=True)`: stdout is returned, stderr kept for the error, a non-zero exit is an
/// error. Juju puts the tools on the hook's `PATH`.
///
/// Unlike ops, the outputs are bounded: a tool writing more than [`MAX_STDOUT_BYTES`] to
/// stdout or [`MAX_STDERR_BYTES`] to stderr is not read further but killed, and the call is
/// [`ToolError::OutputTooLarge`] naming the tool, the stream and the bound.
#[derive(Debug, Clone, Default)]
pub struct ProcessRunner {
    dir: Option<PathBuf>,
    path: Option<OsString>,
}

impl ProcessRunner {
    /// Finds tools on `PATH` (what Juju provides).
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs tools from `dir` instead of `PATH` (tests and the simulator).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
            path: None,
        }
    }

    /// Finds tools on the given `PATH` value instead of this process's (tests, the simulator);
    /// the tools run with that `PATH` too. The process environment is not changed.
    pub fn with_path(path: impl Into<OsString>) -> Self {
        Self {
            dir: None,
            path: Some(path.into()),
        }
    }
}

impl ToolRunner for ProcessRunner {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&str>) -> Result<String, ToolError> {
        let program = self
            .dir
            .as_ref()
            .map_or_else(|| PathBuf::from(tool), |dir| dir.join(tool));
        #[allow(clippy::disallowed_methods)] // The one home of process spawns (clippy.toml).
        let mut command = Command::new(program);
        if let Some(path) = &self.path {
            // std searches the child's PATH when it is set on the command.
            command.env("PATH", path);
        }
        let mut child = command
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    ToolError::ToolMissing {
                        tool: tool.to_owned(),
                    }
                } else {
                    ToolError::Spawn {
                        tool: tool.to_owned(),
                        source,
                    }
                }
            })?;
        let spawn_error = |source| ToolError::Spawn {
            tool: tool.to_owned(),
            source,
        };
        let (stdin_pipe, stdout_pipe, stderr_pipe) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        // Either reader kills the tool when its stream passes the bound; neither holds the
        // lock while it reads.
        let child = Mutex::new(child);
        // Feed stdin from another thread while we drain stdout/stderr, so a tool that writes
        // before it has read all its input cannot deadlock us.
        let (stdout, stderr) = std::thread::scope(|scope| {
            if let (Some(mut pipe), Some(input)) = (stdin_pipe, stdin) {
                scope.spawn(move || {
                    // A tool that exits without reading its input (or is killed) breaks the
                    // pipe; its exit status or our bound says what went wrong, so the write
                    // error adds nothing.
                    let _ = pipe.write_all(input.as_bytes());
                });
            }
            let stderr = scope.spawn(|| read_bounded(stderr_pipe, MAX_STDERR_BYTES, &child));
            let stdout = read_bounded(stdout_pipe, MAX_STDOUT_BYTES, &child);
            // `read_bounded` does not panic; if it did, the panic goes on here.
            let stderr = stderr
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (stdout, stderr)
        });
        // Always reap the tool, also when a read failed or it was killed.
        let status = child
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .wait()
            .map_err(spawn_error)?;
        let too_large = |stream, limit| ToolError::OutputTooLarge {
            tool: tool.to_owned(),
            stream,
            limit,
        };
        let stdout = stdout
            .map_err(spawn_error)?
            .ok_or_else(|| too_large(Stream::Stdout, MAX_STDOUT_BYTES))?;
        let stderr = stderr
            .map_err(spawn_error)?
            .ok_or_else(|| too_large(Stream::Stderr, MAX_STDERR_BYTES))?;
        if !status.success() {
            let stderr = String::from_utf8_lossy(&stderr);
            return Err(ToolError::from_failure(tool, status.code(), &stderr));
        }
        String::from_utf8(stdout).map_err(|source| ToolError::BadOutput {
            tool: tool.to_owned(),
            source: OutputError::NotUtf8(source),
        })
    }
}

/// Reads `pipe` to its end, but at most `limit` bytes: one byte more and reading stops, the
/// tool is killed (it would otherwise block on a full pipe, or write for ever) and the answer
/// is `None`. A read error kills the tool too, so that the caller's `wait` returns.
fn read_bounded(
    pipe: Option<impl Read>,
    limit: usize,
    child: &Mutex<Child>,
) -> std::io::Result<Option<Vec<u8>>> {
    let Some(pipe) = pipe else {
        return Ok(Some(Vec::new()));
    };
    let kill = || {
        // Ignored: the tool is reaped only after both reads, so its pid is still ours, and a
        // tool that has already exited has nothing left to stop.
        let _ = child.lock().unwrap_or_else(PoisonError::into_inner).kill();
    };
    let mut out = Vec::new();
    // One byte past the bound tells "exactly at the bound" from "over it".
    let read = pipe
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut out);
    if let Err(e) = read {
        kill();
        return Err(e);
    }
    if out.len() > limit {
        kill();
        return Ok(None);
    }
    Ok(Some(out))
}
