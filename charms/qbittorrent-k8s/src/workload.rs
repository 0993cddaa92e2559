//! The Pebble layer for qBittorrent (docs/interface.md §5).
//!
//! The readiness check is a TCP connect on the WebUI port, not an HTTP GET: qBittorrent's
//! WebUI answers `/` with a login page or a redirect depending on its settings and version
//! (and 401/403 once host-header validation or authentication is on), so an HTTP check would
//! need knowledge of the operator's WebUI settings to pick a URL that returns 2xx. A listening
//! socket is what "ready" means here. (Recorded in docs/adr/0015-qbittorrent-workload.md.)

use std::collections::BTreeMap;

use juju_charm::pebble::{Check, CheckLevel, Layer, Override, Service, Startup, TcpCheck};

use crate::config::Config;

/// The Pebble service (and layer label).
pub const SERVICE: &str = "qbittorrent";
/// The readiness check.
pub const READY_CHECK: &str = "qbittorrent-ready";
/// The command Pebble runs.
pub const COMMAND: &str = "/usr/bin/qbittorrent-nox --profile=/config";
/// qBittorrent's profile directory (the `config` storage).
pub const PROFILE_DIR: &str = "/config";

/// The layer: the service (started by Pebble only when `startup` is enabled, i.e. when the
/// fail-closed gate is open) and its readiness check.
pub fn layer(config: &Config, startup: Startup) -> Layer {
    let service = Service {
        r#override: Some(Override::Replace),
        summary: Some("qBittorrent (qbittorrent-nox)".to_owned()),
        command: Some(COMMAND.to_owned()),
        startup: Some(startup),
        environment: BTreeMap::from([
            ("HOME".to_owned(), PROFILE_DIR.to_owned()),
            ("TZ".to_owned(), config.timezone.to_string()),
        ]),
        ..Service::default()
    };
    let check = Check {
        r#override: Some(Override::Replace),
        level: Some(CheckLevel::Ready),
        period: Some("10s".to_owned()),
        threshold: Some(3),
        tcp: Some(TcpCheck {
            port: config.webui_port,
            host: None,
        }),
        ..Check::default()
    };
    Layer {
        summary: Some("qBittorrent".to_owned()),
        description: None,
        services: BTreeMap::from([(SERVICE.to_owned(), service)]),
        checks: BTreeMap::from([(READY_CHECK.to_owned(), check)]),
    }
}
