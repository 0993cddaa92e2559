//! [`ToolError`]: how a hook tool can fail, classified from its exit status and stderr.

use std::string::FromUtf8Error;

/// A hook tool failed, or answered something we cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The tool is not on `PATH`: the process is not running under Juju.
    #[error("hook tool {tool} not found (is this running under Juju?)")]
    ToolMissing {
        /// The tool, e.g. `relation-get`.
        tool: String,
    },
    /// The tool could not be started for another reason.
    #[error("could not start hook tool {tool}")]
    Spawn {
        /// The tool.
        tool: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Juju does not know the relation (it was removed, or the id is wrong).
    #[error("{tool}: relation not found: {stderr}")]
    RelationNotFound {
        /// The tool.
        tool: String,
        /// Juju's message.
        stderr: String,
    },
    /// Juju does not know the secret, or this unit may not see it.
    #[error("{tool}: secret not found: {stderr}")]
    SecretNotFound {
        /// The tool.
        tool: String,
        /// Juju's message.
        stderr: String,
    },
    /// Juju refused: e.g. a non-leader writing application data.
    #[error("{tool}: permission denied: {stderr}")]
    PermissionDenied {
        /// The tool.
        tool: String,
        /// Juju's message.
        stderr: String,
    },
    /// Any other non-zero exit (`code` is `None` when a signal killed the tool).
    #[error("{tool} failed (exit code {code:?}): {stderr}")]
    Failed {
        /// The tool.
        tool: String,
        /// The exit code.
        code: Option<i32>,
        /// What the tool wrote to stderr.
        stderr: String,
    },
    /// The tool succeeded but its output is not what Juju documents.
    #[error("{tool} returned output that cannot be parsed")]
    BadOutput {
        /// The tool.
        tool: String,
        /// What was wrong.
        #[source]
        source: OutputError,
    },
    /// The tool wrote more than the runtime reads from it: reading stopped at `limit` and the
    /// tool was killed ([`ProcessRunner`](super::ProcessRunner)), or a wrapper refused to parse
    /// an answer that large (`relation-get`, [`MAX_DATABAG_BYTES`](super::relation::MAX_DATABAG_BYTES)).
    #[error("{tool} wrote more than {limit} bytes to {stream}")]
    OutputTooLarge {
        /// The tool.
        tool: String,
        /// Which output.
        stream: Stream,
        /// The bound, in bytes.
        limit: usize,
    },
    /// The caller asked for something the tool cannot express (caught before running it).
    #[error("invalid arguments for {tool}: {reason}")]
    InvalidArgument {
        /// The tool.
        tool: String,
        /// What is wrong.
        reason: String,
    },
    /// Writing the private file that carries secret content to the tool failed.
    #[error("could not write the content file for {tool}")]
    ContentFile {
        /// The tool.
        tool: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One of a tool's outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output: the answer.
    Stdout,
    /// Standard error: Juju's message when the tool fails.
    Stderr,
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        })
    }
}

/// Why a tool's output could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Not the JSON we expected.
    #[error("invalid JSON")]
    Json(#[source] serde_json::Error),
    /// Not UTF-8.
    #[error("not UTF-8")]
    NotUtf8(#[source] FromUtf8Error),
    /// Well-formed but unexpected, e.g. an unparseable port.
    #[error("unexpected value: {0}")]
    Unexpected(String),
}

/// Juju's messages for an authorisation failure (ops `_check_for_security_event`).
const DENIED: [&str; 4] = [
    "access denied",
    "permission denied",
    "not the leader",
    "cannot write relation settings",
];

impl ToolError {
    /// Classifies a non-zero exit from the tool name and stderr, as ops does in
    /// `_ModelBackend._wrap_hookcmd`: `relation-*`/`network-*` whose stderr contains
    /// "relation not found" (e.g. `ERROR invalid value "6" for option -r: relation not found`)
    /// → [`Self::RelationNotFound`]; `secret-*` containing "not found"
    /// (`ERROR secret "123" not found`) → [`Self::SecretNotFound`]; the authorisation messages
    /// ops watches for (`permission denied`, `access denied`, `not the leader`,
    /// `cannot write relation settings`) → [`Self::PermissionDenied`]; else [`Self::Failed`].
    pub fn from_failure(tool: &str, code: Option<i32>, stderr: &str) -> Self {
        let lower = stderr.to_lowercase();
        let tool_name = tool.rsplit('/').next().unwrap_or(tool);
        let (tool, stderr) = (tool.to_owned(), stderr.trim_end().to_owned());
        if (tool_name.starts_with("relation-") || tool_name.starts_with("network-"))
            && says_relation_not_found(&lower)
        {
            Self::RelationNotFound { tool, stderr }
        } else if tool_name.starts_with("secret-") && lower.contains("not found") {
            Self::SecretNotFound { tool, stderr }
        } else if DENIED.iter().any(|m| lower.contains(m)) {
            Self::PermissionDenied { tool, stderr }
        } else {
            Self::Failed { tool, code, stderr }
        }
    }

    /// True when retrying the hook later may succeed (a transient tool failure), false for
    /// answers that will not change by themselves (missing relation/secret, denied, bad input).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Failed { .. } | Self::Spawn { .. } | Self::ContentFile { .. }
        )
    }
}

/// "relation not found" or "relation <one token> not found" somewhere in (lower-cased) stderr.
fn says_relation_not_found(lower: &str) -> bool {
    lower.match_indices("relation ").any(|(at, m)| {
        let rest = &lower[at + m.len()..];
        rest.starts_with("not found")
            || rest
                .split_once(' ')
                .is_some_and(|(token, tail)| !token.is_empty() && tail.starts_with("not found"))
    })
}
