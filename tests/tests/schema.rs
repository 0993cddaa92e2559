//! Everything the charms write, as the cluster would hold it, validates against the current
//! Kubernetes schemas (1.29–1.34, `--strict`: unknown fields are errors). The 1.20 test API
//! server would silently drop a field it does not know, so this is the check that catches a
//! misspelt or too-new field (docs/interface.md §7).

use std::path::Path;

use charmarr_tests::kubernetes_validate;
use k8s_openapi::api::apps::v1::StatefulSet;
use serde_json::{Value, json};
use vpn_gateway_iface::wire::GatewayInputs;
use vpn_gateway_iface::{
    AppName, ClusterCidrs, Namespace, Owner, ProviderData, VxlanId, client, gateway, killswitch,
};

const VERSIONS: [&str; 6] = ["1.29", "1.30", "1.31", "1.32", "1.33", "1.34"];

fn fixture(name: &str) -> StatefulSet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture is committed");
    serde_json::from_str(&text).expect("fixture is a StatefulSet")
}

fn owner(app: &str, field_manager: &'static str) -> Owner {
    Owner {
        app: AppName::parse(app).expect("valid name"),
        namespace: Namespace::parse("charmarr-downloads").expect("valid namespace"),
        field_manager,
    }
}

fn provider_data() -> ProviderData {
    ProviderData::for_gateway(&GatewayInputs {
        app: &AppName::parse("vpnarr").expect("valid name"),
        model: &Namespace::parse("charmarr-downloads").expect("valid namespace"),
        vxlan_id: VxlanId::new(42_u32).expect("in range"),
        cluster_cidrs: &ClusterCidrs::parse("10.1.0.0/16,10.152.183.0/24,fd00::/8")
            .expect("private"),
        cluster_dns_ip: "10.152.183.10".parse().expect("ip"),
        vpn_connected: true,
        external_ip: Some("203.0.113.7".parse().expect("ip")),
    })
    .expect("valid inputs")
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("k8s-openapi types serialise")
}

/// Every object both charms leave in the cluster: routed and unrouted StatefulSets, both
/// ConfigMaps, both kill-switch policies.
fn everything() -> Vec<Value> {
    let data = provider_data();
    let gw_owner = owner("vpnarr", "gluetun-k8s");
    let gw_settings =
        vpn_gateway_iface::settings::GatewaySettings::new(data.vxlan, &data.cluster_cidrs);
    let gw = gateway::gateway_additions(&gw_owner.app, &gw_settings);
    let gw_sts = gw
        .emulate_add(&fixture("statefulset-vpnarr.json"))
        .expect("emulates");

    let qb_owner = owner("qbittorrent", "qbittorrent-k8s");
    let cl = client::client_additions(&qb_owner.app, qb_owner.namespace.as_str(), &data);
    let routed = cl
        .emulate_add(&fixture("statefulset-qbittorrent.json"))
        .expect("emulates");
    let unrouted = cl.names().emulate_remove(&routed).expect("emulates");
    let cidrs = &data.cluster_cidrs;
    // The API server's rule too (an IPv4 and an IPv6 address, MicroK8s' port).
    let api_server = vpn_gateway_iface::api_server::ApiServerEndpoints::from_endpoints(
        &serde_json::json!({"subsets": [{
            "addresses": [{"ip": "192.168.1.10"}, {"ip": "fd00::10"}],
            "ports": [{"name": "https", "port": 16443, "protocol": "TCP"}]
        }]}),
    )
    .expect("valid endpoints");

    let mut all = vec![
        to_json(&gw_sts),
        to_json(&gateway::gateway_config_map(&gw_owner, &gw_settings)),
        to_json(&routed),
        to_json(&unrouted),
        to_json(&client::client_config_map(&qb_owner, &data)),
        to_json(&killswitch::network_policy(&qb_owner, cidrs, &api_server)),
    ];
    // k8s-openapi's Serialize adds apiVersion/kind for typed objects; check we did not lose them.
    for obj in &all {
        assert!(
            obj["apiVersion"].is_string() && obj["kind"].is_string(),
            "{obj}"
        );
    }
    all.push(killswitch::cilium_policy(&qb_owner));
    all
}

#[test]
fn everything_we_write_validates_against_current_schemas() {
    let dir = tempfile_dir();
    let failures = kubernetes_validate(&everything(), &VERSIONS, dir.path())
        .expect("kubernetes-validate runs");
    assert!(failures.is_empty(), "schema failures: {failures:#?}");
}

#[test]
fn the_check_catches_an_unknown_field() {
    // Proves the check above can fail: a field no schema knows is rejected under --strict.
    let dir = tempfile_dir();
    let mut bad = everything().remove(0);
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
    let failures =
        kubernetes_validate(&[bad], &["1.33"], dir.path()).expect("kubernetes-validate runs");
    assert_eq!(failures.len(), 1, "{failures:#?}");
}

/// A scratch directory, removed when the test ends (also when it fails).
fn tempfile_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("charmarr-schema-")
        .tempdir()
        .expect("temp dir")
}
