//! The juju-log layer: events become `juju-log` calls with the right level, without
//! recursion; failures log their error chain.

use std::sync::Arc;

use juju_charm::log::{JujuLogLayer, error_chain};
use juju_charm::tools::fake::RecordingRunner;
use juju_charm::{ToolError, ToolRunner, Tools};
use tracing::Level;
use tracing_subscriber::prelude::*;

fn sv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn events_become_juju_log_calls_with_levels() {
    let fake = Arc::new(RecordingRunner::new());
    let subscriber =
        tracing_subscriber::registry().with(JujuLogLayer::new(Tools::new(fake.clone())));
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!("boom");
        tracing::warn!(relation = 5, "bad databag");
        tracing::info!("hello");
        tracing::debug!("details");
        tracing::trace!("dropped: below DEBUG by default");
        tracing::debug!(target: "hyper_util::client", "dropped: transport chatter");
        tracing::warn!(target: "hyper_util::client", "kept: a warning");
    });
    assert_eq!(
        fake.argvs(),
        vec![
            sv(&["juju-log", "--log-level", "ERROR", "--", "boom"]),
            sv(&[
                "juju-log",
                "--log-level",
                "WARNING",
                "--",
                "bad databag relation=5"
            ]),
            sv(&["juju-log", "--log-level", "INFO", "--", "hello"]),
            sv(&["juju-log", "--log-level", "DEBUG", "--", "details"]),
            sv(&[
                "juju-log",
                "--log-level",
                "WARNING",
                "--",
                "kept: a warning"
            ]),
        ]
    );
}

#[test]
fn max_level_trace_sends_trace() {
    let fake = Arc::new(RecordingRunner::new());
    let layer = JujuLogLayer::new(Tools::new(fake.clone())).with_max_level(Level::TRACE);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::trace!("fine");
    });
    assert_eq!(
        fake.argvs(),
        vec![sv(&["juju-log", "--log-level", "TRACE", "--", "fine"])]
    );
}

/// A runner that logs while it runs, as a real runner or a fake might.
struct ChattyRunner {
    inner: RecordingRunner,
}

impl ToolRunner for ChattyRunner {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&str>) -> Result<String, ToolError> {
        tracing::warn!("running {tool}");
        self.inner.run(tool, args, stdin)
    }
}

/// (Under a scoped subscriber tracing-core already drops nested events; the guard itself is
/// proven under a global subscriber in `log_global.rs`.)
#[test]
fn events_emitted_while_logging_do_not_recurse() {
    let runner = Arc::new(ChattyRunner {
        inner: RecordingRunner::new(),
    });
    let layer = JujuLogLayer::new(Tools::new(runner.clone()));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("one");
        tracing::info!("two");
    });
    // Exactly one juju-log per event: the runner's own warnings were dropped, not sent.
    assert_eq!(
        runner.inner.argvs(),
        vec![
            sv(&["juju-log", "--log-level", "INFO", "--", "one"]),
            sv(&["juju-log", "--log-level", "INFO", "--", "two"]),
        ]
    );
}

#[test]
fn failing_juju_log_does_not_panic_or_recurse() {
    let fake = Arc::new(RecordingRunner::new());
    fake.fail("juju-log", 1, "ERROR no context");
    let layer = JujuLogLayer::new(Tools::new(fake.clone()));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("first");
        tracing::info!("second");
    });
    assert_eq!(fake.calls().len(), 2);
}

#[derive(Debug, thiserror::Error)]
#[error("reconcile failed")]
struct Outer(#[source] Middle);

#[derive(Debug, thiserror::Error)]
#[error("read StatefulSet")]
struct Middle(#[source] std::io::Error);

#[test]
fn error_chain_walks_sources() {
    let err = Outer(Middle(std::io::Error::other("connection refused")));
    assert_eq!(
        error_chain(&err),
        "reconcile failed: read StatefulSet: connection refused"
    );
}
