//! Unit-level writes that take effect at once: `status-set`, `application-version-set`,
//! `juju-log`.

use std::fmt;

use super::{ToolError, Tools, argv};
use crate::status::{Status, StatusLevel};

/// ops' `MAX_LOG_LINE_LEN`: longer messages are sent in chunks of this many characters.
pub const MAX_LOG_LINE_LEN: usize = 131_071;

/// A `juju-log --log-level` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `TRACE`.
    Trace,
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    Info,
    /// `WARNING`.
    Warning,
    /// `ERROR`.
    Error,
}

impl LogLevel {
    /// The name `juju-log` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`Tools::status_get_application`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationStatus {
    /// The application's status.
    pub application: Option<Status>,
    /// Each unit's, by unit name.
    pub units: std::collections::BTreeMap<String, Option<Status>>,
}

impl Tools {
    /// Sets the unit's (or, with `app`, the application's; leader only) status:
    /// `status-set --application=<True|False> <level> -- <message>`, the form ops uses
    /// (`ops/hookcmds/_status.py`). `error` is refused before running the tool (Juju refuses it).
    pub fn status_set(&self, status: &Status, app: bool) -> Result<(), ToolError> {
        const TOOL: &str = "status-set";
        if status.level == StatusLevel::Error {
            return Err(ToolError::InvalidArgument {
                tool: TOOL.to_owned(),
                reason: "Juju sets error status itself; a charm cannot".to_owned(),
            });
        }
        let application = if app {
            "--application=True"
        } else {
            "--application=False"
        };
        let args = argv([application, status.level.as_str(), "--", &status.message]);
        self.run(TOOL, &args).map(drop)
    }

    /// The application's status and its units' (leader only):
    /// `status-get --application=True --include-data --format=json`. A level this runtime
    /// does not know (e.g. `unknown` before any status was set) reads as `None`.
    pub fn status_get_application(&self) -> Result<ApplicationStatus, ToolError> {
        #[derive(serde::Deserialize)]
        struct Entry {
            status: String,
            #[serde(default)]
            message: String,
        }
        #[derive(serde::Deserialize)]
        struct App {
            #[serde(flatten)]
            status: Entry,
            #[serde(default)]
            units: std::collections::BTreeMap<String, Entry>,
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(rename = "application-status")]
            application: App,
        }
        let to_status =
            |e: Entry| StatusLevel::parse(&e.status).map(|level| Status::new(level, e.message));
        let answer: Answer = self.run_json(
            "status-get",
            &argv(["--application=True", "--include-data", "--format=json"]),
        )?;
        Ok(ApplicationStatus {
            application: to_status(answer.application.status),
            units: answer
                .application
                .units
                .into_iter()
                .map(|(unit, e)| (unit, to_status(e)))
                .collect(),
        })
    }

    /// The workload version shown in `juju status`: `application-version-set -- <version>`.
    pub fn application_version_set(&self, version: &str) -> Result<(), ToolError> {
        self.run("application-version-set", &argv(["--", version]))
            .map(drop)
    }

    /// Writes to the unit's log: `juju-log --log-level <LEVEL> -- <message>`. A message longer
    /// than [`MAX_LOG_LINE_LEN`] characters is announced and sent in chunks, as ops does.
    pub fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        let chars: Vec<char> = message.chars().collect();
        if chars.len() > MAX_LOG_LINE_LEN {
            self.juju_log_line(
                level,
                &format!(
                    "Log string greater than {MAX_LOG_LINE_LEN}. Splitting into multiple chunks: "
                ),
            )?;
        }
        for chunk in chars.chunks(MAX_LOG_LINE_LEN) {
            self.juju_log_line(level, &chunk.iter().collect::<String>())?;
        }
        if chars.is_empty() {
            self.juju_log_line(level, "")?;
        }
        Ok(())
    }

    fn juju_log_line(&self, level: LogLevel, line: &str) -> Result<(), ToolError> {
        self.run(
            "juju-log",
            &argv(["--log-level", level.as_str(), "--", line]),
        )
        .map(drop)
    }
}
