//! Wholly-owned objects (ConfigMaps, NetworkPolicy, CiliumNetworkPolicy): names, labels,
//! the "already holds" checks, and the gateway's published data.

mod common;

use common::{app, ok, owner, provider_data};
use k8s_openapi::Resource;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};
use vpn_gateway_iface::client::client_config_map;
use vpn_gateway_iface::gateway::gateway_config_map;
use vpn_gateway_iface::holds::{cilium_policy_holds, config_map_holds, network_policy_holds};
use vpn_gateway_iface::killswitch::{cilium_policy, network_policy};
use vpn_gateway_iface::wire::GatewayInputs;
use vpn_gateway_iface::{ClusterCidrs, InvalidField, Namespace, Problem, ProviderData, VxlanId};

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    ok(serde_json::to_value(v))
}

fn from_value<T: serde::de::DeserializeOwned>(v: Value) -> T {
    ok(serde_json::from_value(v))
}

/// What the API server adds to any stored object.
fn stored(mut v: Value) -> Value {
    let meta = &mut v["metadata"];
    meta["uid"] = json!("6f1e");
    meta["resourceVersion"] = json!("99");
    meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    meta["managedFields"] = json!([{"manager": "qbittorrent-k8s", "operation": "Apply"}]);
    meta["labels"]["team"] = json!("media");
    meta["annotations"] = json!({"note": "hand-added"});
    v
}

#[test]
fn names_and_labels() {
    let data = provider_data();
    let owner = owner("qbittorrent", "qbittorrent-k8s");
    let cm = client_config_map(&owner, &data);
    assert_eq!(
        cm.metadata.name.as_deref(),
        Some("qbittorrent-gateway-client-config")
    );
    let gw = gateway_config_map(
        &common::owner("vpnarr", "gluetun-k8s"),
        &vpn_gateway_iface::settings::GatewaySettings::new(data.vxlan, &data.cluster_cidrs),
    );
    assert_eq!(gw.metadata.name.as_deref(), Some("vpnarr-gateway-settings"));
    let np = network_policy(
        &owner,
        &data.cluster_cidrs,
        &vpn_gateway_iface::api_server::ApiServerEndpoints::none(),
    );
    assert_eq!(
        np.metadata.name.as_deref(),
        Some("qbittorrent-vpn-killswitch")
    );
    assert_eq!(np.metadata.namespace.as_deref(), Some("charmarr-downloads"));
    let labels = np.metadata.labels.unwrap_or_default();
    assert_eq!(labels["app.kubernetes.io/name"], "qbittorrent");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "qbittorrent-k8s");
    let cnp = cilium_policy(&owner);
    assert_eq!(cnp["metadata"]["name"], "qbittorrent-vpn-killswitch-cilium");
    // Server-side apply needs apiVersion and kind in the body.
    let body = to_value(&client_config_map(&owner, &data));
    assert_eq!(body["apiVersion"], ConfigMap::API_VERSION);
    assert_eq!(body["kind"], ConfigMap::KIND);
    assert_eq!(
        to_value(&network_policy(
            &owner,
            &data.cluster_cidrs,
            &vpn_gateway_iface::api_server::ApiServerEndpoints::none()
        ))["kind"],
        NetworkPolicy::KIND
    );
}

#[test]
fn config_map_holds_despite_server_metadata_and_not_after_a_change() {
    let desired = client_config_map(&owner("qbittorrent", "qbittorrent-k8s"), &provider_data());
    let live = stored(to_value(&desired));
    assert!(config_map_holds(&desired, &from_value(live.clone())));
    let mut edited = live.clone();
    edited["data"]["settings.sh"] = json!("VXLAN_ID=\"43\"");
    assert!(!config_map_holds(&desired, &from_value(edited)));
    let mut unlabelled = live.clone();
    unlabelled["metadata"]["labels"] = json!({});
    assert!(!config_map_holds(&desired, &from_value(unlabelled)));
    let mut emptied = live;
    emptied["data"] = json!(null);
    assert!(!config_map_holds(&desired, &from_value(emptied)));
    // The reference charm's ConfigMap (same data, no labels) is adopted by one apply.
    let reference: ConfigMap = from_value(json!({
        "metadata": {"name": "qbittorrent-gateway-client-config", "namespace": "charmarr-downloads"},
        "data": desired.data,
    }));
    assert!(!config_map_holds(&desired, &reference));
}

#[test]
fn network_policy_holds_despite_defaults_and_not_after_any_change() {
    // With the API server's rule (egress 4: one address, port 6443).
    let api_server = vpn_gateway_iface::api_server::ApiServerEndpoints::from_endpoints(&json!({
        "subsets": [{"addresses": [{"ip": "192.168.1.10"}], "ports": [{"port": 6443}]}]
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let desired = network_policy(
        &owner("qbittorrent", "qbittorrent-k8s"),
        &provider_data().cluster_cidrs,
        &api_server,
    );
    let live = stored(to_value(&desired));
    assert!(network_policy_holds(&desired, &from_value(live.clone())));
    let edits: [(&str, Value); 7] = [
        ("/spec/egress/0/to/0/ipBlock/cidr", json!("10.0.0.0/8")),
        ("/spec/egress/4/ports/0/protocol", json!("SCTP")),
        ("/spec/egress/4/ports/0/port", json!(54)),
        (
            "/spec/egress/3/to/0/namespaceSelector",
            json!({"matchLabels": {"a": "b"}}),
        ),
        ("/spec/policyTypes", json!(["Egress", "Ingress"])),
        (
            "/spec/podSelector/matchLabels/app.kubernetes.io~1name",
            json!("other"),
        ),
        ("/spec/egress", json!([])),
    ];
    for (pointer, value) in edits {
        let mut changed = live.clone();
        *changed
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer}")) = value;
        assert!(
            !network_policy_holds(&desired, &from_value(changed)),
            "{pointer}"
        );
    }
    // Extra keys narrow the policy's selection or its rules: not ours, so not held.
    let mut unselected = live.clone();
    unselected["spec"]["podSelector"]["matchExpressions"] =
        json!([{"key": "x", "operator": "In", "values": ["never"]}]);
    assert!(!network_policy_holds(&desired, &from_value(unselected)));
    let mut excepted = live.clone();
    excepted["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] = json!(["10.1.2.0/24"]);
    assert!(!network_policy_holds(&desired, &from_value(excepted)));
    let mut extra_rule = live;
    if let Some(rules) = extra_rule["spec"]["egress"].as_array_mut() {
        rules.push(json!({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}));
    }
    assert!(
        !network_policy_holds(&desired, &from_value(extra_rule)),
        "an added egress rule is a leak"
    );
}

#[test]
fn cilium_policy_holds_and_changes() {
    let desired = cilium_policy(&owner("qbittorrent", "qbittorrent-k8s"));
    let live = stored(desired.clone());
    assert!(cilium_policy_holds(&desired, &live));
    let mut changed = live.clone();
    changed["spec"]["egress"][0]["toEntities"] = json!(["world"]);
    assert!(!cilium_policy_holds(&desired, &changed));
    let mut widened = live;
    widened["spec"]["egress"][0]["toEntities"] = json!(["kube-apiserver", "world"]);
    assert!(!cilium_policy_holds(&desired, &widened));
}

#[test]
fn gateway_publishes_its_dns_name_and_cidrs_plus_ztunnel() {
    let data = provider_data();
    assert_eq!(
        data.gateway_dns_name.as_str(),
        "vpnarr-endpoints.charmarr-downloads.svc.cluster.local"
    );
    assert_eq!(
        data.cluster_cidrs.to_comma_separated(),
        "10.1.0.0/16,10.152.183.0/24,169.254.7.127/32"
    );
    assert_eq!(data.instance_name.as_str(), "vpnarr");
    let many: Vec<String> = (0..64).map(|i| format!("10.{i}.0.0/16")).collect();
    let full = ok(ClusterCidrs::parse(&many.join(",")));
    let inputs = GatewayInputs {
        app: &app("vpnarr"),
        model: &ok(Namespace::parse("m")),
        vxlan_id: ok(VxlanId::new(7_u32)),
        cluster_cidrs: &full,
        cluster_dns_ip: ok("10.152.183.10".parse()),
        vpn_connected: false,
        external_ip: None,
    };
    assert_eq!(
        ProviderData::for_gateway(&inputs),
        Err(InvalidField {
            field: "cluster-cidrs",
            problem: Problem::TooManyCidrs { max: 64 }
        })
    );
    let long = app(&"a".repeat(63));
    let model = ok(Namespace::parse(&"m".repeat(63)));
    let fine = ok(ClusterCidrs::parse("10.0.0.0/8"));
    let inputs = GatewayInputs {
        app: &long,
        model: &model,
        cluster_cidrs: &fine,
        ..inputs
    };
    assert_eq!(
        ProviderData::for_gateway(&inputs).map_err(|e| e.field),
        Err("gateway_dns_name")
    );
}
