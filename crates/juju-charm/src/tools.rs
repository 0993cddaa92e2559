//! Juju hook tools: the typed wrappers charms call, over ONE [`ToolRunner`].
//!
//! Every hook tool goes through [`ToolRunner::run`], as in ops every tool goes through
//! `ops.hookcmds._utils.run`: the runner spawns the process, checks the exit status, keeps
//! stderr and turns a failure into a typed [`ToolError`]. The wrappers on [`Tools`] build the
//! exact argv ops builds (`ops/hookcmds/*.py`, cited next to each wrapper) and parse the tool's
//! output as untrusted input: a malformed answer is a [`ToolError::BadOutput`], never a panic,
//! and no output is read past its bound ([`MAX_STDOUT_BYTES`], [`MAX_STDERR_BYTES`]; tighter
//! for relation data, [`relation::MAX_DATABAG_BYTES`]): [`ToolError::OutputTooLarge`].
//!
//! Values that must not appear on a command line never do: `relation-set` data goes on stdin
//! (`--file -`), secret content goes through `key#file=PATH` files in a private directory
//! (see [`secret`]). Secret values are [`SecretString`]s whose `Debug`/`Display` redact them.

use std::sync::Arc;

use serde::de::DeserializeOwned;

pub mod action;
pub mod background;
pub mod error;
// The recording fake is test machinery: never compiled into a charm binary.
#[cfg(feature = "fake")]
pub mod fake;
pub mod model;
pub mod network;
pub mod ports;
pub mod process;
pub mod relation;
pub mod secret;
pub mod sensitive;
pub mod storage;
pub mod unit;

pub use background::Background;
pub use error::{OutputError, Stream, ToolError};
pub use process::{MAX_STDERR_BYTES, MAX_STDOUT_BYTES, ProcessRunner};
pub use sensitive::SecretString;

/// Runs one hook tool. The one seam between the charm runtime and Juju's hook tools.
///
/// Implementations: [`ProcessRunner`] (real processes) and, with the `fake` feature, the
/// recording fake of `tools::fake` (tests).
pub trait ToolRunner: Send + Sync {
    /// Runs `tool` with `args`, feeding `stdin` when given, and returns its stdout.
    ///
    /// A non-zero exit is an error classified from stderr ([`ToolError::from_failure`]).
    fn run(&self, tool: &str, args: &[String], stdin: Option<&str>) -> Result<String, ToolError>;
}

/// The hook tools of this unit: typed wrappers over a shared [`ToolRunner`].
///
/// Cheap to clone (the runner is shared), so the logging layer and the charm can hold one each.
#[derive(Clone)]
pub struct Tools {
    runner: Arc<dyn ToolRunner>,
}

impl std::fmt::Debug for Tools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tools").finish_non_exhaustive()
    }
}

impl Tools {
    /// Wraps a runner.
    pub fn new(runner: Arc<dyn ToolRunner>) -> Self {
        Self { runner }
    }

    /// The runner these tools use.
    pub fn runner(&self) -> &Arc<dyn ToolRunner> {
        &self.runner
    }

    /// Runs a tool and returns its stdout.
    fn run(&self, tool: &str, args: &[String]) -> Result<String, ToolError> {
        self.runner.run(tool, args, None)
    }

    /// Runs a tool with `--format=json` output and parses it into `T`.
    fn run_json<T: DeserializeOwned>(&self, tool: &str, args: &[String]) -> Result<T, ToolError> {
        let stdout = self.run(tool, args)?;
        parse_json(tool, &stdout)
    }
}

/// Parses a tool's JSON output; failures name the tool.
fn parse_json<T: DeserializeOwned>(tool: &str, stdout: &str) -> Result<T, ToolError> {
    serde_json::from_str(stdout).map_err(|source| ToolError::BadOutput {
        tool: tool.to_owned(),
        source: OutputError::Json(source),
    })
}

/// Builds an argv from string-likes.
fn argv<I, S>(parts: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    parts.into_iter().map(Into::into).collect()
}
