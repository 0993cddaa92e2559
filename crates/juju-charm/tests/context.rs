//! The typed context from explicit variable maps (the real environment is never touched).

use std::path::PathBuf;

use juju_charm::Context;

#[test]
fn relation_hook_context() {
    let ctx = Context::from_vars([
        ("JUJU_DISPATCH_PATH", "hooks/vpn-gateway-relation-changed"),
        ("JUJU_HOOK_NAME", "vpn-gateway-relation-changed"),
        ("JUJU_UNIT_NAME", "gluetun/0"),
        ("JUJU_MODEL_NAME", "charmarr-downloads"),
        ("JUJU_MODEL_UUID", "cdac5656-2423-4388-8f30-41854b4cca7d"),
        ("JUJU_VERSION", "3.6.4"),
        (
            "JUJU_CHARM_DIR",
            "/var/lib/juju/agents/unit-gluetun-0/charm",
        ),
        (
            "JUJU_CONTEXT_ID",
            "gluetun/0-vpn-gateway-relation-changed-123",
        ),
        (
            "JUJU_AGENT_SOCKET_ADDRESS",
            "@/var/lib/juju/agents/unit-gluetun-0/agent.socket",
        ),
        ("JUJU_RELATION", "vpn-gateway"),
        ("JUJU_RELATION_ID", "vpn-gateway:5"),
        ("JUJU_REMOTE_APP", "qbittorrent"),
        ("JUJU_REMOTE_UNIT", "qbittorrent/0"),
        ("JUJU_DEPARTING_UNIT", ""),
    ]);
    assert!(ctx.under_juju());
    assert_eq!(
        ctx.dispatch_path.as_deref(),
        Some("hooks/vpn-gateway-relation-changed")
    );
    assert_eq!(ctx.unit_name, "gluetun/0");
    assert_eq!(ctx.app_name(), "gluetun");
    assert_eq!(ctx.model_name, "charmarr-downloads");
    assert_eq!(ctx.model_uuid, "cdac5656-2423-4388-8f30-41854b4cca7d");
    assert_eq!(ctx.juju_version.as_deref(), Some("3.6.4"));
    assert_eq!(
        ctx.charm_dir,
        Some(PathBuf::from("/var/lib/juju/agents/unit-gluetun-0/charm"))
    );
    assert_eq!(
        ctx.context_id.as_deref(),
        Some("gluetun/0-vpn-gateway-relation-changed-123")
    );
    assert!(ctx.agent_socket_address.is_some());
    assert_eq!(ctx.relation_name.as_deref(), Some("vpn-gateway"));
    assert_eq!(ctx.relation_id, Some(5));
    assert_eq!(ctx.remote_app.as_deref(), Some("qbittorrent"));
    assert_eq!(ctx.remote_unit.as_deref(), Some("qbittorrent/0"));
    // Empty means absent, as in ops.
    assert_eq!(ctx.departing_unit, None);
    assert!(!ctx.debug);
}

#[test]
fn workload_secret_action_storage_vars() {
    let ctx = Context::from_vars([
        ("JUJU_WORKLOAD_NAME", "gluetun"),
        ("JUJU_NOTICE_ID", "42"),
        ("JUJU_NOTICE_TYPE", "custom"),
        ("JUJU_NOTICE_KEY", "charmarr.io/health"),
        ("JUJU_PEBBLE_CHECK_NAME", "vpn-up"),
        ("JUJU_SECRET_ID", "secret:cn9abc"),
        ("JUJU_SECRET_LABEL", "wireguard"),
        ("JUJU_SECRET_REVISION", "3"),
        ("JUJU_ACTION_NAME", "show-credentials"),
        ("JUJU_ACTION_UUID", "17"),
        ("JUJU_STORAGE_ID", "config/1"),
        ("JUJU_STORAGE_LOCATION", "/config"),
        ("JUJU_STORAGE_KIND", "filesystem"),
        ("JUJU_DEBUG", "1"),
    ]);
    assert!(!ctx.under_juju());
    assert_eq!(ctx.workload_name.as_deref(), Some("gluetun"));
    assert_eq!(ctx.notice_id.as_deref(), Some("42"));
    assert_eq!(ctx.notice_type.as_deref(), Some("custom"));
    assert_eq!(ctx.notice_key.as_deref(), Some("charmarr.io/health"));
    assert_eq!(ctx.pebble_check_name.as_deref(), Some("vpn-up"));
    assert_eq!(ctx.secret_id.as_deref(), Some("secret:cn9abc"));
    assert_eq!(ctx.secret_label.as_deref(), Some("wireguard"));
    assert_eq!(ctx.secret_revision, Some(3));
    assert_eq!(ctx.action_name.as_deref(), Some("show-credentials"));
    assert_eq!(ctx.action_uuid.as_deref(), Some("17"));
    assert_eq!(ctx.storage_id.as_deref(), Some("config/1"));
    assert_eq!(ctx.storage_name.as_deref(), Some("config"));
    assert_eq!(ctx.storage_index, Some(1));
    assert_eq!(ctx.storage_location, Some(PathBuf::from("/config")));
    assert_eq!(ctx.storage_kind.as_deref(), Some("filesystem"));
    assert!(ctx.debug);
}

#[test]
fn malformed_numbers_are_absent_not_panics() {
    let ctx = Context::from_vars([
        ("JUJU_RELATION_ID", "vpn-gateway:x"),
        ("JUJU_SECRET_REVISION", "-1"),
        ("JUJU_STORAGE_ID", "config"),
    ]);
    assert_eq!(ctx.relation_id, None);
    assert_eq!(ctx.secret_revision, None);
    assert_eq!(ctx.storage_name.as_deref(), Some("config"));
    assert_eq!(ctx.storage_index, None);
    // A bare number is an id too (ops splits on ':' and takes the last part).
    assert_eq!(
        Context::from_vars([("JUJU_RELATION_ID", "7")]).relation_id,
        Some(7)
    );
}

#[test]
fn defaults_outside_juju() {
    let ctx = Context::from_vars(Vec::<(String, String)>::new());
    assert!(!ctx.under_juju());
    assert_eq!(ctx.unit_name, "");
    assert_eq!(ctx.app_name(), "");
    assert_eq!(
        ctx.pebble_socket("gluetun"),
        PathBuf::from("/charm/containers/gluetun/pebble.socket")
    );
    assert_eq!(ctx.workload_addr("gluetun", 8000), "127.0.0.1:8000");
}

#[test]
fn no_variable_moves_pebble_or_the_workload() {
    // The seams of earlier versions are ignored: a charm looks where Juju puts things.
    let ctx = Context::from_vars([
        ("CHARMARR_PEBBLE_DIR", "/tmp/sim/unit-0"),
        ("CHARMARR_WORKLOAD_ADDR_GLUETUN_8000", "127.0.0.1:41234"),
    ]);
    assert_eq!(
        ctx.pebble_socket("qbittorrent"),
        PathBuf::from("/charm/containers/qbittorrent/pebble.socket")
    );
    assert_eq!(ctx.workload_addr("gluetun", 8000), "127.0.0.1:8000");
}

#[test]
fn unit_numbers() {
    assert_eq!(juju_charm::context::unit_number("qbittorrent/0"), Some(0));
    assert_eq!(juju_charm::context::unit_number("a-b/12"), Some(12));
    assert_eq!(juju_charm::context::unit_number("nope"), None);
    let ctx = Context::from_vars([("JUJU_UNIT_NAME", "vpnarr/3")]);
    assert_eq!(ctx.unit_number(), Some(3));
}
