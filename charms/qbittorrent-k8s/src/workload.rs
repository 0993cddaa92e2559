//! The Pebble layer for qBittorrent (docs/interface.md §5), and how its files are written.
//!
//! The readiness check is a TCP connect on the WebUI port, not an HTTP GET: qBittorrent's
//! WebUI answers `/` with a login page or a redirect depending on its settings and version
//! (and 401/403 once host-header validation or authentication is on), so an HTTP check would
//! need knowledge of the operator's WebUI settings to pick a URL that returns 2xx. A listening
//! socket is what "ready" means here. (Recorded in docs/adr/0015-qbittorrent-workload.md.)
//!
//! qBittorrent runs as uid/gid 1000, not root, and what the charm writes into its profile is
//! owned by that user (docs/adr/0032-qbittorrent-non-root.md). The layer names the ids only:
//! the LinuxServer image has no passwd entry for 1000, Pebble refuses a `user` or `group` name
//! it cannot look up, and given both ids it looks nothing up.

use std::collections::BTreeMap;

use juju_charm::pebble::{
    Check, CheckLevel, FileOptions, Layer, Override, Service, Startup, TcpCheck,
};

use crate::config::Config;

/// The Pebble service (and layer label).
pub const SERVICE: &str = "qbittorrent";
/// The readiness check.
pub const READY_CHECK: &str = "qbittorrent-ready";
/// The command Pebble runs.
pub const COMMAND: &str = "/usr/bin/qbittorrent-nox --profile=/config";
/// qBittorrent's profile directory (the `config` storage).
pub const PROFILE_DIR: &str = "/config";
/// The uid qBittorrent runs as: the reference charm's default PUID, so that its data stays
/// writable across a refresh in either direction.
pub const USER_ID: u32 = 1000;
/// The gid qBittorrent runs as: the reference charm's default PGID.
pub const GROUP_ID: u32 = 1000;

/// How `qBittorrent.conf` is pushed: mode 0600 (it holds the WebUI password hash), owned by
/// [`USER_ID`]:[`GROUP_ID`], and missing parents (`qBittorrent/`, `qBittorrent/config/` under
/// the profile) created with that owner, so that qBittorrent can write its profile. Pebble
/// chowns only the directories it creates: existing ones keep their owner.
pub fn conf_file_options() -> FileOptions {
    FileOptions {
        make_parents: true,
        permissions: Some(0o600),
        user_id: Some(USER_ID),
        group_id: Some(GROUP_ID),
        ..FileOptions::default()
    }
}

/// The layer: the service (started by Pebble only when `startup` is enabled, i.e. when the
/// fail-closed gate is open, and run as the media-storage PUID:PGID, [`USER_ID`]:[`GROUP_ID`]
/// until that is known) and its readiness check.
pub fn layer(config: &Config, startup: Startup, (user_id, group_id): (u32, u32)) -> Layer {
    let service = Service {
        r#override: Some(Override::Replace),
        summary: Some("qBittorrent (qbittorrent-nox)".to_owned()),
        command: Some(COMMAND.to_owned()),
        startup: Some(startup),
        environment: BTreeMap::from([
            ("HOME".to_owned(), PROFILE_DIR.to_owned()),
            ("TZ".to_owned(), config.timezone.to_string()),
        ]),
        user_id: Some(user_id),
        group_id: Some(group_id),
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

#[cfg(test)]
mod tests {
    use juju_charm::pebble::Plan;

    use super::*;

    /// Pebble's `GET /v1/plan?format=yaml` for a Pebble holding our layer (`user_id` set) or
    /// the layer of a revision that ran qBittorrent as root (`None`).
    fn pebble_plan(user_id: Option<u32>) -> Plan {
        let owner = user_id.map_or_else(String::new, |id| {
            format!("        user-id: {id}\n        group-id: {id}\n")
        });
        let yaml = format!(
            "services:
    qbittorrent:
        summary: qBittorrent (qbittorrent-nox)
        startup: enabled
        override: replace
        command: /usr/bin/qbittorrent-nox --profile=/config
        environment:
            HOME: /config
            TZ: Etc/UTC
{owner}checks:
    qbittorrent-ready:
        override: replace
        level: ready
        startup: enabled
        period: 10s
        timeout: 3s
        threshold: 3
        tcp:
            port: 8080
"
        );
        Plan::from_yaml(&yaml).unwrap()
    }

    #[test]
    fn the_service_runs_as_uid_and_gid_1000_by_id_only() {
        let layer = layer(&Config::default(), Startup::Enabled, (USER_ID, GROUP_ID));
        let service = &layer.services[SERVICE];
        assert_eq!(
            (service.user_id, service.group_id),
            (Some(1000), Some(1000))
        );
        // A name would make Pebble look it up in the image's passwd, which has no uid 1000.
        assert_eq!((&service.user, &service.group), (&None, &None));
        let text = layer.to_text().unwrap();
        assert!(
            text.contains(r#""user-id":1000"#) && text.contains(r#""group-id":1000"#),
            "{text}"
        );
        assert!(
            !text.contains(r#""user":"#) && !text.contains(r#""group":"#),
            "{text}"
        );
    }

    #[test]
    fn a_plan_with_the_ids_holds_the_layer_and_a_root_one_does_not() {
        let layer = layer(&Config::default(), Startup::Enabled, (USER_ID, GROUP_ID));
        assert!(pebble_plan(Some(1000)).holds(&layer), "steady state");
        // After a refresh from a revision that ran qBittorrent as root, the layer is added
        // again (and qBittorrent restarted as 1000).
        assert!(!pebble_plan(None).holds(&layer));
        assert!(!pebble_plan(Some(0)).holds(&layer));
    }

    #[test]
    fn the_conf_is_pushed_private_and_owned_by_the_service_user() {
        let options = conf_file_options();
        assert!(options.make_parents);
        assert_eq!(options.permissions, Some(0o600));
        assert_eq!(
            (options.user_id, options.group_id),
            (Some(1000), Some(1000))
        );
        assert_eq!((&options.user, &options.group), (&None, &None));
    }
}
