//! `log::install` under Juju: Without `JUJU_DEBUG`, DEBUG events stay out of `juju-log` (each is a process; Juju drops them at its default level anyway).
//! Its own test binary: one global subscriber per process.

use std::sync::Arc;

use juju_charm::Tools;
use juju_charm::context::Context;
use juju_charm::tools::fake::RecordingRunner;

#[test]
fn installed_levels() {
    let ctx = Context::from_vars([
        ("JUJU_DISPATCH_PATH", "hooks/update-status"),
        ("JUJU_UNIT_NAME", "app/0"),
    ]);
    let runner = Arc::new(RecordingRunner::new());
    juju_charm::log::install(&ctx, &Tools::new(runner.clone()));
    tracing::debug!("detail");
    tracing::info!("fact");
    let argvs = runner.argvs();
    assert_eq!(argvs.len(), 1, "{argvs:?}");
    assert!(
        argvs.iter().any(|a| a.contains(&"fact".to_owned())),
        "{argvs:?}"
    );
}
