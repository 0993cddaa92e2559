//! [`RecordingRunner`]: a fake [`ToolRunner`] for tests that records every call (argv, stdin,
//! and the content and mode of every `key#file=PATH` file passed) and answers from a script.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{ToolError, ToolRunner};

/// One recorded hook tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The tool, e.g. `relation-set`.
    pub tool: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// What was written to its stdin.
    pub stdin: Option<String>,
    /// For each `key#file=PATH` argument: the key and the file as it was during the call.
    pub files: BTreeMap<String, RecordedFile>,
}

impl RecordedCall {
    /// The whole command line: the tool followed by its arguments.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.tool.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }
}

/// A content file seen during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFile {
    /// The path given on the command line.
    pub path: String,
    /// Its content (empty when it could not be read).
    pub content: String,
    /// Its permission bits (e.g. `0o600`).
    pub mode: u32,
}

/// A scripted answer.
#[derive(Debug, Clone)]
enum Reply {
    Stdout(String),
    Fail { code: i32, stderr: String },
    Missing,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<RecordedCall>,
    replies: BTreeMap<String, VecDeque<Reply>>,
}

/// A fake runner: records calls, answers each tool with its queued replies in order, and with
/// empty stdout (success) once none are left.
#[derive(Debug, Default)]
pub struct RecordingRunner {
    state: Mutex<State>,
}

impl RecordingRunner {
    /// An empty fake.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock already failed; keep the data readable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, tool: &str, reply: Reply) -> &Self {
        self.state()
            .replies
            .entry(tool.to_owned())
            .or_default()
            .push_back(reply);
        self
    }

    /// Queues a successful answer for `tool`.
    pub fn reply(&self, tool: &str, stdout: &str) -> &Self {
        self.push(tool, Reply::Stdout(stdout.to_owned()))
    }

    /// Queues a failure of `tool` with exit `code` and `stderr`.
    pub fn fail(&self, tool: &str, code: i32, stderr: &str) -> &Self {
        self.push(
            tool,
            Reply::Fail {
                code,
                stderr: stderr.to_owned(),
            },
        )
    }

    /// Queues "not found on PATH" for `tool`.
    pub fn missing(&self, tool: &str) -> &Self {
        self.push(tool, Reply::Missing)
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state().calls.clone()
    }

    /// Every command line so far (tool + args), in order.
    pub fn argvs(&self) -> Vec<Vec<String>> {
        self.state().calls.iter().map(RecordedCall::argv).collect()
    }

    /// Forgets the calls recorded so far (queued replies stay).
    pub fn clear(&self) {
        self.state().calls.clear();
    }
}

impl ToolRunner for RecordingRunner {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&str>) -> Result<String, ToolError> {
        let files = args
            .iter()
            .filter_map(|arg| arg.split_once("#file="))
            .map(|(key, path)| (key.to_owned(), snapshot(path)))
            .collect();
        let mut state = self.state();
        state.calls.push(RecordedCall {
            tool: tool.to_owned(),
            args: args.to_vec(),
            stdin: stdin.map(str::to_owned),
            files,
        });
        let reply = state.replies.get_mut(tool).and_then(VecDeque::pop_front);
        drop(state);
        match reply {
            None => Ok(String::new()),
            Some(Reply::Stdout(stdout)) => Ok(stdout),
            Some(Reply::Fail { code, stderr }) => {
                Err(ToolError::from_failure(tool, Some(code), &stderr))
            }
            Some(Reply::Missing) => Err(ToolError::ToolMissing {
                tool: tool.to_owned(),
            }),
        }
    }
}

fn snapshot(path: &str) -> RecordedFile {
    use std::os::unix::fs::PermissionsExt as _;
    RecordedFile {
        path: path.to_owned(),
        content: std::fs::read_to_string(path).unwrap_or_default(),
        mode: std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o7777),
    }
}
