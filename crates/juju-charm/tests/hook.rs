//! Hook parsing: a table of every kind, context-guided disambiguation, and a property that
//! any string parses without panicking.

use juju_charm::hook::{RelationHook, SecretHook, StorageHook, WorkloadHook};
use juju_charm::{Context, Hook};
use proptest::prelude::*;

fn parse(path: &str) -> Hook {
    Hook::parse(path, &Context::default())
}

fn rel(endpoint: &str, kind: RelationHook) -> Hook {
    Hook::Relation {
        endpoint: endpoint.into(),
        kind,
    }
}

fn wl(container: &str, kind: WorkloadHook) -> Hook {
    Hook::Workload {
        container: container.into(),
        kind,
    }
}

#[test]
fn table() {
    let cases = [
        ("hooks/install", Hook::Install),
        ("hooks/start", Hook::Start),
        ("hooks/stop", Hook::Stop),
        ("hooks/remove", Hook::Remove),
        ("hooks/upgrade-charm", Hook::UpgradeCharm),
        ("hooks/config-changed", Hook::ConfigChanged),
        ("hooks/leader-elected", Hook::LeaderElected),
        ("hooks/leader-deposed", Hook::LeaderDeposed),
        ("hooks/leader-settings-changed", Hook::LeaderSettingsChanged),
        ("hooks/update-status", Hook::UpdateStatus),
        ("hooks/collect-metrics", Hook::CollectMetrics),
        ("hooks/pre-series-upgrade", Hook::PreSeriesUpgrade),
        ("hooks/post-series-upgrade", Hook::PostSeriesUpgrade),
        ("hooks/secret-changed", Hook::Secret(SecretHook::Changed)),
        ("hooks/secret-rotate", Hook::Secret(SecretHook::Rotate)),
        ("hooks/secret-expired", Hook::Secret(SecretHook::Expired)),
        ("hooks/secret-remove", Hook::Secret(SecretHook::Remove)),
        (
            "hooks/vpn-gateway-relation-created",
            rel("vpn-gateway", RelationHook::Created),
        ),
        (
            "hooks/vpn-gateway-relation-joined",
            rel("vpn-gateway", RelationHook::Joined),
        ),
        (
            "hooks/vpn-gateway-relation-changed",
            rel("vpn-gateway", RelationHook::Changed),
        ),
        (
            "hooks/vpn-gateway-relation-departed",
            rel("vpn-gateway", RelationHook::Departed),
        ),
        (
            "hooks/vpn-gateway-relation-broken",
            rel("vpn-gateway", RelationHook::Broken),
        ),
        (
            "hooks/config-storage-attached",
            Hook::Storage {
                name: "config".into(),
                kind: StorageHook::Attached,
            },
        ),
        (
            "hooks/downloads-storage-detaching",
            Hook::Storage {
                name: "downloads".into(),
                kind: StorageHook::Detaching,
            },
        ),
        (
            "hooks/gluetun-pebble-ready",
            wl("gluetun", WorkloadHook::Ready),
        ),
        (
            "hooks/gluetun-pebble-custom-notice",
            wl("gluetun", WorkloadHook::CustomNotice),
        ),
        (
            "hooks/gluetun-pebble-check-failed",
            wl("gluetun", WorkloadHook::CheckFailed),
        ),
        (
            "hooks/gluetun-pebble-check-recovered",
            wl("gluetun", WorkloadHook::CheckRecovered),
        ),
        (
            "actions/show-credentials",
            Hook::Action("show-credentials".into()),
        ),
        // Unknown or malformed → Other, verbatim.
        ("hooks/frobnicate", Hook::Other("hooks/frobnicate".into())),
        (
            "hooks/-relation-joined",
            Hook::Other("hooks/-relation-joined".into()),
        ),
        (
            "hooks/-pebble-ready",
            Hook::Other("hooks/-pebble-ready".into()),
        ),
        ("hooks/", Hook::Other("hooks/".into())),
        ("actions/", Hook::Other("actions/".into())),
        ("install", Hook::Other("install".into())),
        ("", Hook::Other(String::new())),
    ];
    for (path, want) in cases {
        assert_eq!(parse(path), want, "{path}");
    }
}

#[test]
fn context_resolves_ambiguous_prefixes() {
    // An endpoint named `db-relation-changed-storage`... would be silly; a realistic one:
    // a container named `foo-pebble` whose ready hook is `foo-pebble-pebble-ready`.
    let ctx = Context::from_vars([("JUJU_WORKLOAD_NAME", "foo-pebble")]);
    assert_eq!(
        Hook::parse("hooks/foo-pebble-pebble-ready", &ctx),
        wl("foo-pebble", WorkloadHook::Ready)
    );
    // An endpoint whose name ends like a storage hook: the context says it is a relation.
    let ctx = Context::from_vars([("JUJU_RELATION", "x-storage-attached")]);
    assert_eq!(
        Hook::parse("hooks/x-storage-attached-relation-joined", &ctx),
        rel("x-storage-attached", RelationHook::Joined)
    );
    // A storage named like a relation hook: context says storage, suffix parsing says relation.
    let name = "hooks/a-relation-joined-storage-attached";
    let ctx = Context::from_vars([("JUJU_STORAGE_ID", "a-relation-joined/0")]);
    assert_eq!(
        Hook::parse(name, &ctx),
        Hook::Storage {
            name: "a-relation-joined".into(),
            kind: StorageHook::Attached
        }
    );
    // from_context reads the dispatch path from the context.
    let ctx = Context::from_vars([
        ("JUJU_DISPATCH_PATH", "hooks/vpn-gateway-relation-broken"),
        ("JUJU_RELATION", "vpn-gateway"),
    ]);
    assert_eq!(
        Hook::from_context(&ctx),
        rel("vpn-gateway", RelationHook::Broken)
    );
    assert!(Hook::Stop.is_teardown() && Hook::Remove.is_teardown());
    assert!(!Hook::Install.is_teardown());
}

proptest! {
    #[test]
    fn any_string_parses_without_panic(path in ".*", hinted in any::<bool>()) {
        let ctx = if hinted {
            Context::from_vars([
                ("JUJU_RELATION", path.clone()),
                ("JUJU_STORAGE_ID", path.clone()),
                ("JUJU_WORKLOAD_NAME", path.clone()),
            ])
        } else {
            Context::default()
        };
        let _ = Hook::parse(&path, &ctx);
        let _ = Hook::parse(&format!("hooks/{path}"), &ctx);
        let _ = Hook::parse(&format!("actions/{path}"), &ctx);
    }

    #[test]
    fn relation_names_round_trip(endpoint in "[a-z][a-z0-9-]{0,20}") {
        let hook = parse(&format!("hooks/{endpoint}-relation-changed"));
        prop_assert_eq!(hook, rel(&endpoint, RelationHook::Changed));
    }
}

#[test]
fn broken_relation_id_only_in_that_endpoints_broken_hook() {
    let ctx = Context {
        relation_id: Some(7),
        ..Context::default()
    };
    let broken = rel("vpn-gateway", RelationHook::Broken);
    assert_eq!(broken.broken_relation_id("vpn-gateway", &ctx), Some(7));
    assert_eq!(broken.broken_relation_id("other", &ctx), None);
    assert_eq!(
        rel("vpn-gateway", RelationHook::Departed).broken_relation_id("vpn-gateway", &ctx),
        None
    );
    assert_eq!(
        Hook::UpdateStatus.broken_relation_id("vpn-gateway", &ctx),
        None
    );
    assert_eq!(
        broken.broken_relation_id("vpn-gateway", &Context::default()),
        None
    );
}
