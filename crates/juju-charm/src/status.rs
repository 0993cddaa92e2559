//! Status: collect every problem during a hook, set the most severe once at the end.
//!
//! Charms [`StatusCollector::add`] what they find; [`fold`] picks the most severe entry
//! (error > blocked > maintenance > waiting > active; within a level the first added wins),
//! and the run loop sets it once for the unit and, on the leader, for the application.
//! An empty collector folds to `active` with no message.
//!
//! `error` cannot be set with `status-set` (Juju accepts only active, blocked, maintenance and
//! waiting; ops `_SETTABLE_STATUS_NAMES`): Juju shows error itself when a hook fails. So an
//! [`Status::error`] entry makes the run loop fail the hook (Juju retries it) instead of
//! setting a status.

use std::fmt;

/// How bad a status is. Ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusLevel {
    /// All is well.
    Active,
    /// Waiting on something outside this unit (another application, a relation).
    Waiting,
    /// The charm is doing something that takes time.
    Maintenance,
    /// An operator must act (bad config, missing relation or trust).
    Blocked,
    /// The hook must fail so Juju retries it.
    Error,
}

impl StatusLevel {
    /// The name `status-set` takes (`active`, `waiting`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Waiting => "waiting",
            Self::Maintenance => "maintenance",
            Self::Blocked => "blocked",
            Self::Error => "error",
        }
    }

    /// The level named `name` (what `status-get` prints), if it is one of these.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Active,
            Self::Waiting,
            Self::Maintenance,
            Self::Blocked,
            Self::Error,
        ]
        .into_iter()
        .find(|level| level.as_str() == name)
    }
}

impl fmt::Display for StatusLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status with its message, e.g. blocked "vpn-provider is required".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Status {
    /// The level.
    pub level: StatusLevel,
    /// The message shown in `juju status`.
    pub message: String,
}

impl Status {
    /// A status at `level` with `message`.
    pub fn new(level: StatusLevel, message: impl Into<String>) -> Self {
        Self {
            level,
            message: message.into(),
        }
    }

    /// `active`.
    pub fn active(message: impl Into<String>) -> Self {
        Self::new(StatusLevel::Active, message)
    }

    /// `waiting`.
    pub fn waiting(message: impl Into<String>) -> Self {
        Self::new(StatusLevel::Waiting, message)
    }

    /// `maintenance`.
    pub fn maintenance(message: impl Into<String>) -> Self {
        Self::new(StatusLevel::Maintenance, message)
    }

    /// `blocked`.
    pub fn blocked(message: impl Into<String>) -> Self {
        Self::new(StatusLevel::Blocked, message)
    }

    /// `error`: fails the hook (see the module docs).
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(StatusLevel::Error, message)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.level)
        } else {
            write!(f, "{}: {}", self.level, self.message)
        }
    }
}

/// Which status an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Both,
    Unit,
    App,
}

/// Everything the charm found during a hook, in the order it was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCollector {
    entries: Vec<(Scope, Status)>,
}

/// The statuses to set at the end of a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusOutcome {
    /// For this unit.
    pub unit: Status,
    /// For the application (only set by the leader).
    pub app: Status,
}

impl StatusCollector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a status for both the unit and the application.
    pub fn add(&mut self, status: Status) {
        self.entries.push((Scope::Both, status));
    }

    /// Adds a status for this unit only.
    pub fn add_unit(&mut self, status: Status) {
        self.entries.push((Scope::Unit, status));
    }

    /// Adds a status for the application only.
    pub fn add_app(&mut self, status: Status) {
        self.entries.push((Scope::App, status));
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The unit and application statuses to set: [`fold`] over each one's entries.
    pub fn outcome(&self) -> StatusOutcome {
        let pick = |scope: Scope| {
            fold(
                self.entries
                    .iter()
                    .filter(move |(s, _)| *s == Scope::Both || *s == scope)
                    .map(|(_, status)| status),
            )
        };
        StatusOutcome {
            unit: pick(Scope::Unit),
            app: pick(Scope::App),
        }
    }
}

/// The most severe status; the first one at that level wins; `active` "" when empty.
pub fn fold<'a>(statuses: impl IntoIterator<Item = &'a Status>) -> Status {
    let mut worst: Option<&Status> = None;
    for status in statuses {
        // Strictly greater: an equal level never replaces the first one found.
        if worst.is_none_or(|w| status.level > w.level) {
            worst = Some(status);
        }
    }
    worst.cloned().unwrap_or_else(|| Status::active(""))
}
