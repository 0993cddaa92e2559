//! The pure reconcile: every status path (a table), the writes of a first deployment (ONE
//! StatefulSet write), no writes when everything already holds, key rotation, and the exact
//! provider data.

use std::collections::BTreeMap;

use gluetun_k8s::config::Config;
use gluetun_k8s::constants::{KEY_OPTION, SCALE_TO_ONE, STANDBY};
use gluetun_k8s::inputs::{
    ApiKey, Cluster, Content, Inputs, KeyProblem, RelationState, Workload, check_private_key,
    is_api_key,
};
use gluetun_k8s::plan::{Plan, ServiceAction, files, plan};
use gluetun_k8s::workload::{self, Health, layer};
use juju_charm::Planned as _;
use juju_charm::pebble::Plan as PebblePlan;
use juju_charm::{SecretString, Status, StatusLevel};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};
use vpn_gateway_iface::gateway::{gateway_additions, gateway_config_map};
use vpn_gateway_iface::{AppName, Namespace, ProviderData, StatefulSetJson};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER_KEY: &str = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=";
const API_KEY: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
const EXIT_IP: &str = "198.51.100.4";

fn app() -> AppName {
    AppName::parse("vpnarr").unwrap()
}

fn model() -> Namespace {
    Namespace::parse("downloads").unwrap()
}

fn config() -> Config {
    let Value::Object(raw) = json!({
        "cluster-cidrs": "10.1.0.0/16,10.152.183.0/24",
        "vpn-provider": "mullvad",
        "wireguard-private-key-secret": "secret:d0f6t2fmp25c77ggkdsg",
        "wireguard-addresses": "10.64.222.21/32",
        "vxlan-id": 42,
    }) else {
        unreachable!()
    };
    Config::parse(&raw).unwrap()
}

/// The StatefulSet Juju creates: the charm container and the workload container.
fn juju_statefulset() -> StatefulSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "vpnarr", "namespace": "downloads", "resourceVersion": "7"},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "vpnarr"}},
            "serviceName": "vpnarr-endpoints",
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "vpnarr"}},
                "spec": {
                    "initContainers": [{"name": "charm-init", "image": "jujud-operator"}],
                    "containers": [
                        {"name": "charm", "image": "charm-base"},
                        {"name": "gluetun", "image": "ghcr.io/qdm12/gluetun:v3.41.1"}
                    ]
                }
            }
        }
    }))
    .unwrap()
}

/// What the API server holds after our patch, with server defaults filled in.
fn patched_statefulset() -> StatefulSet {
    let additions = gateway_additions(&app(), &gluetun_k8s::plan::gateway_settings(&config()));
    let patched = additions.emulate_add(&juju_statefulset()).unwrap();
    let mut value = serde_json::to_value(&patched).unwrap();
    for list in ["initContainers", "containers"] {
        for c in value["spec"]["template"]["spec"][list]
            .as_array_mut()
            .unwrap()
        {
            c["imagePullPolicy"] = json!("IfNotPresent");
            c["terminationMessagePath"] = json!("/dev/termination-log");
            c["terminationMessagePolicy"] = json!("File");
        }
    }
    for v in value["spec"]["template"]["spec"]["volumes"]
        .as_array_mut()
        .unwrap()
    {
        v["configMap"]["defaultMode"] = json!(420);
    }
    value["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    value["spec"]["template"]["spec"]["dnsPolicy"] = json!("ClusterFirst");
    serde_json::from_value(value).unwrap()
}

fn live_config_map() -> ConfigMap {
    let owner = gluetun_k8s::plan::owner(&app(), &model());
    let mut cm = gateway_config_map(&owner, &gluetun_k8s::plan::gateway_settings(&config()));
    cm.metadata.resource_version = Some("3".into());
    cm.metadata
        .labels
        .get_or_insert_default()
        .insert("extra".into(), "label".into());
    cm
}

/// Pebble's plan after our layer was added (Pebble echoes the layer's fields).
fn live_plan() -> PebblePlan {
    let layer = layer(&config());
    PebblePlan {
        services: layer
            .services
            .iter()
            .map(|(k, s)| (k.clone(), serde_json::to_value(s).unwrap()))
            .collect(),
        checks: BTreeMap::new(),
    }
}

fn live_files(key: &str) -> BTreeMap<String, Option<Content>> {
    files(
        &config(),
        &SecretString::new(key),
        &SecretString::new(API_KEY),
    )
    .into_iter()
    .map(|p| (p.path.to_owned(), Some(p.content)))
    .collect()
}

fn published(connected: bool) -> String {
    data(connected).to_databag()
}

fn data(connected: bool) -> ProviderData {
    let health = if connected {
        Health::Connected(Some(EXIT_IP.parse().unwrap()))
    } else {
        Health::NotConnected(String::new())
    };
    gluetun_k8s::plan::provider_data(
        &app(),
        &model(),
        &config(),
        "10.152.183.10".parse().unwrap(),
        &health,
    )
    .unwrap()
}

/// Steady state: everything holds, the VPN is up, the data is published.
fn steady() -> Inputs {
    Inputs {
        app: app(),
        model: model(),
        leader: true,
        planned_units: Some(1),
        config: Some(Ok(config())),
        wireguard_key: Some(Ok(SecretString::new(KEY))),
        api_key: Some(ApiKey::Existing(SecretString::new(API_KEY))),
        cluster: Some(Cluster::Read {
            statefulset: StatefulSetJson::of(&patched_statefulset()),
            config_map: Some(Box::new(live_config_map())),
            dns_ip: Some("10.152.183.10".parse().unwrap()),
            namespace_labels: BTreeMap::new(),
        }),
        workload: Some(Workload::Reachable {
            plan: live_plan(),
            files: live_files(KEY),
            running: true,
        }),
        health: Health::Connected(Some(EXIT_IP.parse().unwrap())),
        relations: vec![
            RelationState {
                id: 3,
                published: Some(published(true)),
            },
            RelationState {
                id: 9,
                published: Some(published(true)),
            },
        ],
    }
}

/// A first deployment: nothing of ours anywhere yet.
fn first_deploy() -> Inputs {
    Inputs {
        api_key: Some(ApiKey::Missing(SecretString::new(API_KEY))),
        cluster: Some(Cluster::Read {
            statefulset: StatefulSetJson::of(&juju_statefulset()),
            config_map: None,
            dns_ip: Some("10.152.183.10".parse().unwrap()),
            namespace_labels: BTreeMap::new(),
        }),
        workload: Some(Workload::Reachable {
            plan: PebblePlan::default(),
            files: BTreeMap::new(),
            running: false,
        }),
        health: Health::NotConnected("not checked".into()),
        relations: vec![RelationState {
            id: 3,
            published: None,
        }],
        ..steady()
    }
}

fn stopped_early(p: &Plan) -> bool {
    p.kube.is_none() && p.pebble.is_none() && p.api_key.is_none() && p.relation_sets.is_empty()
}

#[test]
#[allow(clippy::too_many_lines)] // One table: splitting it would hide the order of the stages.
fn every_status_path() {
    let key_message = |problem| {
        let mut i = steady();
        i.wireguard_key = Some(Err(problem));
        i
    };
    let bad_config = {
        let Value::Object(raw) = json!({"cluster-cidrs": "0.0.0.0/0", "vpn-provider": "x",
            "wireguard-private-key-secret": "secret:a"})
        else {
            unreachable!()
        };
        Config::parse(&raw)
    };
    let refused_override = |overrides: Value| {
        let Value::Object(mut raw) = json!({
            "cluster-cidrs": "10.1.0.0/16,10.152.183.0/24",
            "vpn-provider": "mullvad",
            "wireguard-private-key-secret": "secret:d0f6t2fmp25c77ggkdsg",
            "wireguard-addresses": "10.64.222.21/32",
        }) else {
            unreachable!()
        };
        raw.insert("custom-overrides".into(), json!(overrides.to_string()));
        Inputs {
            config: Some(Config::parse(&raw)),
            ..steady()
        }
    };
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Inputs, StatusLevel, &str, bool)> = vec![
        (
            "non-leader",
            Inputs {
                leader: false,
                ..steady()
            },
            StatusLevel::Waiting,
            STANDBY,
            true,
        ),
        (
            "two units planned",
            Inputs {
                planned_units: Some(2),
                ..steady()
            },
            StatusLevel::Blocked,
            SCALE_TO_ONE,
            true,
        ),
        (
            "bad config",
            Inputs {
                config: Some(bad_config),
                ..steady()
            },
            StatusLevel::Blocked,
            "cluster-cidrs: ",
            true,
        ),
        (
            "custom-overrides turns the firewall off",
            refused_override(json!({"FIREWALL": "off"})),
            StatusLevel::Blocked,
            "custom-overrides: FIREWALL would weaken gluetun's firewall",
            true,
        ),
        (
            "custom-overrides replaces the cluster CIDRs",
            refused_override(json!({"FIREWALL_OUTBOUND_SUBNETS": "0.0.0.0/0"})),
            StatusLevel::Blocked,
            "custom-overrides: FIREWALL_OUTBOUND_SUBNETS is set by the charm (from cluster-cidrs)",
            true,
        ),
        (
            "custom-overrides carries a secret",
            refused_override(json!({"WIREGUARD_PRESHARED_KEY": KEY})),
            StatusLevel::Blocked,
            "custom-overrides: WIREGUARD_PRESHARED_KEY is a secret",
            true,
        ),
        (
            "secret missing or not granted",
            key_message(KeyProblem::NotFound),
            StatusLevel::Blocked,
            "wireguard-private-key-secret: secret not found or not granted",
            true,
        ),
        (
            "no private-key",
            key_message(KeyProblem::NoPrivateKey),
            StatusLevel::Blocked,
            "wireguard-private-key-secret: the secret has no private-key attribute",
            true,
        ),
        (
            "not a key",
            key_message(KeyProblem::NotAKey),
            StatusLevel::Blocked,
            "wireguard-private-key-secret: private-key is not a WireGuard key",
            true,
        ),
        (
            "StatefulSet 404",
            Inputs {
                cluster: Some(Cluster::StatefulSetMissing),
                ..steady()
            },
            StatusLevel::Waiting,
            "Waiting for StatefulSet vpnarr",
            true,
        ),
        (
            "403",
            Inputs {
                cluster: Some(Cluster::Forbidden(
                    "cannot get statefulsets.apps: requires --trust".into(),
                )),
                ..steady()
            },
            StatusLevel::Blocked,
            "cannot get statefulsets.apps: requires --trust",
            true,
        ),
        (
            "Pebble unreachable",
            Inputs {
                workload: Some(Workload::Unreachable),
                ..steady()
            },
            StatusLevel::Waiting,
            "Waiting for Pebble",
            false,
        ),
        (
            "VPN down",
            Inputs {
                health: Health::NotConnected("no public IP yet".into()),
                ..steady()
            },
            StatusLevel::Waiting,
            "VPN not connected",
            false,
        ),
        (
            "VPN up",
            steady(),
            StatusLevel::Active,
            "VPN connected (198.51.100.4)",
            false,
        ),
    ];
    for (name, inputs, level, message, early) in cases {
        let p = plan(&inputs);
        assert_eq!(p.status().level, level, "{name}: {:?}", p.status());
        assert!(
            p.status().message.starts_with(message),
            "{name}: {:?}",
            p.status()
        );
        assert!(!p.status().message.contains(KEY), "{name}");
        assert_eq!(stopped_early(&p), early, "{name}: {p:?}");
    }
    // The DNS Service missing: Blocked, and only the Kubernetes writes (none here).
    let mut i = steady();
    if let Some(Cluster::Read { dns_ip, .. }) = &mut i.cluster {
        *dns_ip = None;
    }
    let p = plan(&i);
    assert_eq!(p.status().level, StatusLevel::Blocked);
    assert!(p.status().message.contains("kube-dns"), "{:?}", p.status());
    assert!(p.pebble.is_none() && p.relation_sets.is_empty() && p.writes_nothing());
}

#[test]
fn first_deploy_writes_config_map_then_one_statefulset_patch_with_everything() {
    let p = plan(&first_deploy());
    let kube = p.kube.as_ref().unwrap();
    assert_eq!(kube.statefulset_name, "vpnarr");
    let cm = kube.config_map.as_ref().unwrap();
    assert_eq!(cm.metadata.name.as_deref(), Some("vpnarr-gateway-settings"));
    // ONE StatefulSet write, carrying every addition and gluetun's privileged flag.
    let additions = kube.statefulset.as_ref().unwrap();
    let patch = additions.add_patch("7");
    assert_eq!(patch["metadata"]["resourceVersion"], "7");
    let template = &patch["spec"]["template"];
    assert_eq!(
        template["spec"]["initContainers"][0]["name"],
        json!("gateway-init")
    );
    let containers = template["spec"]["containers"].as_array().unwrap();
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gateway-sidecar", "gluetun"]);
    assert_eq!(containers[1]["securityContext"]["privileged"], json!(true));
    assert_eq!(
        template["spec"]["volumes"][0]["name"],
        json!("gateway-config")
    );
    assert!(template["metadata"]["annotations"]["charmarr.io/gateway-config-hash"].is_string());
    // After that one patch the StatefulSet holds everything: no second write.
    let after = additions.emulate_add(&juju_statefulset()).unwrap();
    assert!(additions.is_held_by(&after));

    let pebble = p.pebble.as_ref().unwrap();
    let pushed: Vec<(&str, u32)> = pebble.pushes.iter().map(|f| (f.path, f.mode)).collect();
    assert_eq!(
        pushed,
        [
            (workload::KEY_FILE, 0o600),
            (workload::AUTH_FILE, 0o600),
            (workload::POST_RULES_FILE, 0o644)
        ]
    );
    assert!(pebble.layer.is_some());
    assert_eq!(pebble.service, ServiceAction::Replan);
    assert!(matches!(
        p.api_key,
        Some(gluetun_k8s::plan::ApiKeyWrite::Create(_))
    ));
    // Published at once, as not connected (gluetun is only starting).
    assert_eq!(p.relation_sets, vec![(3, published(false))]);
    assert_eq!(p.status(), Status::waiting("VPN not connected"));
}

#[test]
fn steady_state_writes_nothing() {
    let p = plan(&steady());
    assert!(p.writes_nothing(), "{p:?}");
    assert_eq!(p.status(), Status::active("VPN connected (198.51.100.4)"));
}

#[test]
fn juju_reapply_that_reset_gluetun_is_repaired_in_one_patch() {
    // Juju's re-apply resets the fields it sends on its own containers: privileged is gone.
    let mut live = serde_json::to_value(patched_statefulset()).unwrap();
    for c in live["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
    {
        if c["name"] == "gluetun" {
            c.as_object_mut().unwrap().remove("securityContext");
        }
    }
    let mut i = steady();
    i.cluster = Some(Cluster::Read {
        statefulset: serde_json::from_value(live).unwrap(),
        config_map: Some(Box::new(live_config_map())),
        dns_ip: Some("10.152.183.10".parse().unwrap()),
        namespace_labels: BTreeMap::new(),
    });
    let p = plan(&i);
    let kube = p.kube.unwrap();
    assert!(kube.config_map.is_none());
    assert!(kube.statefulset.is_some());
}

#[test]
fn changed_vxlan_id_rewrites_config_map_and_hash() {
    let Value::Object(raw) = json!({
        "cluster-cidrs": "10.1.0.0/16,10.152.183.0/24", "vpn-provider": "mullvad",
        "wireguard-private-key-secret": "secret:d0f6t2fmp25c77ggkdsg",
        "wireguard-addresses": "10.64.222.21/32", "vxlan-id": 43,
    }) else {
        unreachable!()
    };
    let mut i = steady();
    i.config = Some(Config::parse(&raw));
    let p = plan(&i);
    let kube = p.kube.as_ref().unwrap();
    assert!(kube.config_map.is_some() && kube.statefulset.is_some());
    assert_eq!(
        p.relation_sets.len(),
        2,
        "vxlan_id changed on every relation"
    );
}

#[test]
fn key_rotation_pushes_only_the_key_and_restarts() {
    let mut i = steady();
    i.wireguard_key = Some(Ok(SecretString::new(OTHER_KEY)));
    let p = plan(&i);
    let pebble = p.pebble.as_ref().unwrap();
    let paths: Vec<&str> = pebble.pushes.iter().map(|f| f.path).collect();
    assert_eq!(paths, [workload::KEY_FILE]);
    assert!(pebble.layer.is_none(), "the layer holds no key: unchanged");
    assert_eq!(pebble.service, ServiceAction::Restart);
    assert!(p.kube.as_ref().unwrap().statefulset.is_none());
    // The tunnel restarts: clients are told it is down until the next check.
    assert_eq!(p.status(), Status::waiting("VPN not connected"));
    assert_eq!(
        p.relation_sets,
        vec![(3, published(false)), (9, published(false))]
    );
}

#[test]
fn stopped_service_is_replanned_without_re_adding_the_layer() {
    let mut i = steady();
    if let Some(Workload::Reachable { running, .. }) = &mut i.workload {
        *running = false;
    }
    let p = plan(&i);
    let pebble = p.pebble.unwrap();
    assert!(pebble.layer.is_none() && pebble.pushes.is_empty());
    assert_eq!(pebble.service, ServiceAction::Replan);
}

#[test]
fn vpn_down_then_up_changes_the_published_data() {
    let mut i = steady();
    i.health = Health::NotConnected("no public IP yet".into());
    let p = plan(&i);
    assert_eq!(
        p.relation_sets,
        vec![(3, published(false)), (9, published(false))]
    );
    for r in &mut i.relations {
        r.published = Some(published(false));
    }
    assert!(plan(&i).writes_nothing());
    i.health = Health::Connected(Some(EXIT_IP.parse().unwrap()));
    assert_eq!(plan(&i).relation_sets.len(), 2);
}

#[test]
fn provider_data_exact_json_and_semantic_comparison() {
    assert_eq!(
        published(true),
        r#"{"routing_method":"pod-gateway","gateway_dns_name":"vpnarr-endpoints.downloads.svc.cluster.local","vxlan_id":42,"vxlan_ip_network":"172.16.0","vxlan_port":4790,"cluster_cidrs":"10.1.0.0/16,10.152.183.0/24,169.254.7.127/32","cluster_dns_ip":"10.152.183.10","vpn_connected":true,"external_ip":"198.51.100.4","instance_name":"vpnarr"}"#
    );
    assert_eq!(
        published(false),
        r#"{"routing_method":"pod-gateway","gateway_dns_name":"vpnarr-endpoints.downloads.svc.cluster.local","vxlan_id":42,"vxlan_ip_network":"172.16.0","vxlan_port":4790,"cluster_cidrs":"10.1.0.0/16,10.152.183.0/24,169.254.7.127/32","cluster_dns_ip":"10.152.183.10","vpn_connected":false,"external_ip":null,"instance_name":"vpnarr"}"#
    );
    // The same data written another way (the reference's pydantic dump with spaces, fields
    // reordered, an unknown extra field): no relation-set.
    let mut i = steady();
    i.relations = vec![RelationState {
        id: 3,
        published: Some(
            r#"{"instance_name": "vpnarr", "external_ip": "198.51.100.4", "vpn_connected": true,
            "cluster_dns_ip": "10.152.183.10", "cluster_cidrs": "10.1.0.0/16, 10.152.183.0/24,169.254.7.127/32",
            "vxlan_port": 4790, "vxlan_ip_network": "172.16.0", "vxlan_id": 42,
            "gateway_dns_name": "vpnarr-endpoints.downloads.svc.cluster.local", "future": 1}"#
                .into(),
        ),
    }];
    assert!(plan(&i).writes_nothing());
    // Garbage in our own bag (someone edited it): rewritten.
    i.relations[0].published = Some("{not json".into());
    assert_eq!(plan(&i).relation_sets, vec![(3, published(true))]);
}

#[test]
fn no_secret_in_the_layer() {
    let layer = layer(&config());
    let text = layer.to_text().unwrap();
    assert!(!text.contains(KEY));
    assert!(!text.contains(API_KEY));
    let env = &layer.services["gluetun"].environment;
    assert_eq!(env["WIREGUARD_PRIVATE_KEY_SECRETFILE"], workload::KEY_FILE);
    assert!(env.keys().all(|k| k != "WIREGUARD_PRIVATE_KEY"));
    assert_eq!(
        layer.services["gluetun"].command.as_deref(),
        Some("/gluetun-entrypoint")
    );
}

#[test]
fn private_key_content_is_checked() {
    let content = |pairs: &[(&str, &str)]| -> BTreeMap<String, SecretString> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretString::new(*v)))
            .collect()
    };
    assert_eq!(
        check_private_key(&content(&[("private-key", &format!(" {KEY}\n"))])).unwrap(),
        SecretString::new(KEY)
    );
    assert_eq!(
        check_private_key(&content(&[("key", KEY)])),
        Err(KeyProblem::NoPrivateKey)
    );
    for bad in [
        "",
        "short",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        &KEY.repeat(2),
    ] {
        assert_eq!(
            check_private_key(&content(&[("private-key", bad)])),
            Err(KeyProblem::NotAKey),
            "{bad}"
        );
    }
    assert!(KEY_OPTION == "wireguard-private-key-secret");
}

#[test]
fn api_keys_are_43_url_safe_characters() {
    let key = gluetun_k8s::gather::fresh_api_key().unwrap();
    assert!(is_api_key(key.expose()), "{}", key.expose().len());
    assert_ne!(
        key.expose(),
        gluetun_k8s::gather::fresh_api_key().unwrap().expose()
    );
    assert!(!is_api_key("has space...................................."));
    assert!(!is_api_key(""));
}

proptest::proptest! {
    /// Untrusted inputs never panic: the control server's answer, secret content, our own
    /// (possibly edited) relation data.
    #[test]
    fn untrusted_inputs_never_panic(
        status in 0u16..1000,
        body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        text in ".{0,200}",
    ) {
        let _ = workload::parse_public_ip(status, &body);
        let content = BTreeMap::from([("private-key".to_owned(), SecretString::new(text.clone()))]);
        let _ = check_private_key(&content);
        let mut i = steady();
        i.relations[0].published = Some(text);
        let p = plan(&i);
        proptest::prop_assert!(p.relation_sets.len() <= 1);
    }
}

/// `inputs` with the model namespace labelled `pod-security.kubernetes.io/enforce=<level>`.
fn enforcing(mut inputs: Inputs, level: &str) -> Inputs {
    if let Some(Cluster::Read {
        namespace_labels, ..
    }) = &mut inputs.cluster
    {
        namespace_labels.insert("pod-security.kubernetes.io/enforce".into(), level.into());
    }
    inputs
}

#[test]
fn pod_security_that_refuses_the_gateway_blocks_before_any_write() {
    for level in ["baseline", "restricted", "bogus"] {
        let p = plan(&enforcing(first_deploy(), level));
        assert!(p.writes_nothing(), "{level}: {p:?}");
        let status = p.status();
        assert_eq!(status.level, StatusLevel::Blocked, "{level}");
        assert!(
            status.message.contains(&format!(
                "kubectl label namespace {} pod-security.kubernetes.io/enforce=privileged",
                model().as_str()
            )),
            "{level}: {}",
            status.message
        );
    }
    // Privileged lets the patch through.
    let p = plan(&enforcing(first_deploy(), "privileged"));
    assert!(p.kube.unwrap().statefulset.is_some());
}

#[test]
fn pod_security_does_not_stop_a_gateway_whose_pods_already_run() {
    // The label was set after our patch: the running pod is not touched by it, and nothing
    // needs patching, so the hook goes on (a later pod restart is PSA's to refuse).
    let p = plan(&enforcing(steady(), "baseline"));
    assert!(p.writes_nothing(), "{p:?}");
    assert_eq!(p.status().level, StatusLevel::Active);
}
