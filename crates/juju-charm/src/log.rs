//! Logging: `tracing` events go to `juju-log` (with their level) under Juju, to stderr
//! otherwise.
//!
//! [`JujuLogLayer`] is a `tracing-subscriber` layer that sends each event through the hook
//! tools' runner, like ops' `JujuLogHandler` sends each Python log record. Running `juju-log`
//! may itself emit events (the runner, a fake, a failure report); a thread-local guard drops
//! events emitted while an event is being sent, so logging never recurses (ops does the same
//! with its `_is_recursive` context variable).

use std::cell::Cell;
use std::error::Error;
use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::prelude::*;

use crate::context::Context;
use crate::tools::Tools;
use crate::tools::unit::LogLevel;

thread_local! {
    /// Set while this thread is sending an event to `juju-log`.
    static SENDING: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as sending; `None` if it already is (a recursive event).
struct SendingGuard;

impl SendingGuard {
    fn enter() -> Option<Self> {
        SENDING.with(|sending| (!sending.replace(true)).then_some(Self))
    }
}

impl Drop for SendingGuard {
    fn drop(&mut self) {
        SENDING.with(|sending| sending.set(false));
    }
}

/// A layer that sends events to `juju-log --log-level LEVEL`.
#[derive(Debug, Clone)]
pub struct JujuLogLayer {
    tools: Tools,
    max_level: Level,
}

impl JujuLogLayer {
    /// Sends events at `DEBUG` and above (ops' default root level) through `tools`.
    pub fn new(tools: Tools) -> Self {
        Self {
            tools,
            max_level: Level::DEBUG,
        }
    }

    /// Sends events up to `level` (e.g. `Level::TRACE` for everything).
    #[must_use]
    pub fn with_max_level(mut self, level: Level) -> Self {
        self.max_level = level;
        self
    }
}

/// The `juju-log` level for a `tracing` level.
pub fn juju_level(level: Level) -> LogLevel {
    match level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warning,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

/// Targets whose DEBUG/TRACE events are transport chatter (one per request or poll); each
/// event costs a `juju-log` process, so only their INFO and above are sent.
const CHATTY_TARGETS: [&str; 6] = ["hyper", "h2", "tower", "rustls", "mio", "tokio"];

impl<S: Subscriber> Layer<S> for JujuLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        let level = *event.metadata().level();
        // `tracing` orders levels by verbosity: TRACE > DEBUG > … > ERROR.
        if level > self.max_level {
            return;
        }
        let target = event.metadata().target();
        if level > Level::INFO && CHATTY_TARGETS.iter().any(|t| target.starts_with(t)) {
            return;
        }
        let Some(_guard) = SendingGuard::enter() else {
            return;
        };
        let message = format_event(event);
        if let Err(error) = self.tools.juju_log(juju_level(level), &message) {
            // Juju keeps a hook's stderr in the unit log too: the message is not lost.
            eprintln!(
                "{level} {message} (juju-log failed: {})",
                error_chain(&error)
            );
        }
    }
}

/// Writes each event to stderr as `LEVEL target: message key=value…`: the JUJU_DEBUG copy of
/// the unit's log and the CLI's diagnostics. (tracing-subscriber's `fmt` layer did this with
/// timestamps, ANSI and span formatting nobody reads here, at ~20 KiB of each charm binary.)
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrLayer;

impl<S: Subscriber> Layer<S> for StderrLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        eprintln!("{}", stderr_line(event));
    }
}

/// `LEVEL target: message key=value…`, the level right-aligned in 5 columns.
fn stderr_line(event: &Event<'_>) -> String {
    let meta = event.metadata();
    format!(
        "{:>5} {}: {}",
        meta.level(),
        meta.target(),
        format_event(event)
    )
}

/// The event's message followed by its other fields as `key=value`.
fn format_event(event: &Event<'_>) -> String {
    let mut visitor = MessageVisitor::default();
    event.record(&mut visitor);
    let mut line = visitor.message;
    for (key, value) in visitor.fields {
        if !line.is_empty() {
            line.push(' ');
        }
        let _ = write!(line, "{key}={value}");
    }
    line
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        } else {
            self.fields.push((field.name(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.push((field.name(), format!("{value:?}")));
        }
    }
}

/// An error and its `source()` chain on one line: `outer: middle: inner`.
pub fn error_chain(error: &dyn Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(line, ": {cause}");
        source = cause.source();
    }
    line
}

/// Installs the global subscriber for this process: `juju-log` (plus stderr when
/// `JUJU_DEBUG` is set, as ops does) under Juju, stderr otherwise. A second call, or a
/// subscriber installed by someone else, is left alone.
///
/// Under Juju, `juju-log` gets INFO and above, and DEBUG too only when `JUJU_DEBUG` is set:
/// every event is a `juju-log` process, DEBUG lines were most of a steady-state hook's tool
/// calls (docs/benchmarks.md), and Juju's default model logging (`<root>=INFO`) drops them
/// anyway.
pub fn install(ctx: &Context, tools: &Tools) {
    let result = if ctx.under_juju() {
        let stderr = ctx.debug.then_some(StderrLayer);
        let level = if ctx.debug { Level::DEBUG } else { Level::INFO };
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry()
                .with(JujuLogLayer::new(tools.clone()).with_max_level(level))
                .with(stderr),
        )
    } else {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(StderrLayer))
    };
    // Already installed (tests, or a charm that set its own): keep that one.
    drop(result);
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, PoisonError};

    use super::*;

    /// Keeps the lines [`StderrLayer`] would print.
    struct Capture(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(stderr_line(event));
        }
    }

    #[test]
    fn stderr_lines_carry_level_target_message_and_fields() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "charm", count = 3, name = "vpnarr", "planned");
            tracing::debug!(target: "charm::k8s", "no write");
            tracing::warn!(target: "charm", path = ?"/a b", code = 7);
        });
        let lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(
            *lines,
            [
                " INFO charm: planned count=3 name=vpnarr",
                "DEBUG charm::k8s: no write",
                " WARN charm: path=\"/a b\" code=7",
            ]
        );
    }
}
