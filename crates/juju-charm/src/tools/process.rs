//! [`ProcessRunner`]: runs hook tools as real child processes.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{OutputError, ToolError, ToolRunner};

/// Spawns each hook tool as a child process, like ops' `subprocess.run(..., check=True,
/// capture_output=True)`: stdout is returned, stderr kept for the error, a non-zero exit is an
/// error. Juju puts the tools on the hook's `PATH`.
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
        // Feed stdin from another thread while we drain stdout/stderr, so a tool that writes
        // before it has read all its input cannot deadlock us.
        let output = std::thread::scope(|scope| {
            if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
                scope.spawn(move || {
                    // A tool that exits without reading its input breaks the pipe; its exit
                    // status says what went wrong, so the write error adds nothing.
                    let _ = pipe.write_all(input.as_bytes());
                });
            }
            child.wait_with_output()
        })
        .map_err(|source| ToolError::Spawn {
            tool: tool.to_owned(),
            source,
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(ToolError::from_failure(tool, output.status.code(), &stderr));
        }
        String::from_utf8(output.stdout).map_err(|source| ToolError::BadOutput {
            tool: tool.to_owned(),
            source: OutputError::NotUtf8(source),
        })
    }
}
