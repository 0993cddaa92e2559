//! The recursion guard under a GLOBAL subscriber, as `run` installs it. (A scoped
//! `with_default` subscriber is already protected by tracing-core, which drops events emitted
//! while it dispatches; the global fast path is not.) Its own test binary: one global per
//! process.

use std::sync::Arc;

use juju_charm::log::JujuLogLayer;
use juju_charm::tools::fake::RecordingRunner;
use juju_charm::{ToolError, ToolRunner, Tools};
use tracing_subscriber::prelude::*;

/// A runner that logs while it runs: without the guard every juju-log would log again.
struct ChattyRunner {
    inner: RecordingRunner,
}

impl ToolRunner for ChattyRunner {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&str>) -> Result<String, ToolError> {
        tracing::warn!("running {tool}");
        self.inner.run(tool, args, stdin)
    }
}

#[test]
fn global_subscriber_does_not_recurse() {
    let runner = Arc::new(ChattyRunner {
        inner: RecordingRunner::new(),
    });
    let layer = JujuLogLayer::new(Tools::new(runner.clone()));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).unwrap();
    tracing::info!("one");
    tracing::error!("two");
    let argvs = runner.inner.argvs();
    assert_eq!(argvs.len(), 2, "{argvs:?}");
    assert_eq!(argvs[0][4], "one");
    assert_eq!(argvs[1][2], "ERROR");
}
