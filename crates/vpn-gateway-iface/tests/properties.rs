//! Property tests: builders are deterministic and idempotent, removal undoes addition,
//! foreign items are never touched, "already holds" sees through server defaults but not
//! through a change to any one of our fields, and parsing never panics.

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{app, juju_statefulset, ok, provider_data};
use ipnet::IpNet;
use k8s_openapi::api::apps::v1::StatefulSet;
use proptest::prelude::*;
use serde_json::{Value, json};
use vpn_gateway_iface::client::{client_additions, client_owned_names, killswitch_owned_names};
use vpn_gateway_iface::gateway::{gateway_additions, gateway_owned_names};
use vpn_gateway_iface::statefulset::emulate_strategic_merge;
use vpn_gateway_iface::{
    AppName, ClusterCidrs, DnsName, Namespace, OwnedNames, PodAdditions, ProviderData,
    RequirerData, VxlanId, VxlanNetwork, VxlanPort, VxlanSettings,
};

// ---------------------------------------------------------------- generators

/// A foreign container / init container / volume: names never hyphenated, so never ours.
fn foreign_item(volume: bool) -> impl Strategy<Value = Value> {
    (
        "[a-z]{1,8}",
        "[a-z0-9./:]{1,20}",
        proptest::option::of("[A-Z_]{1,6}"),
        any::<bool>(),
    )
        .prop_map(move |(name, image, env, flag)| {
            if volume {
                return if flag {
                    json!({"name": name, "emptyDir": {}})
                } else {
                    json!({"name": name, "configMap": {"name": image, "defaultMode": 420}})
                };
            }
            let mut c = json!({"name": name, "image": image, "imagePullPolicy": "IfNotPresent"});
            if let Some(env) = env {
                c["env"] = json!([{"name": env, "value": "1"}]);
            }
            if flag {
                c["securityContext"] = json!({"privileged": false});
            }
            c
        })
}

fn unique_by_name(items: Vec<Value>) -> Vec<Value> {
    let mut seen = BTreeSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i["name"].to_string()))
        .collect()
}

/// A Juju-shaped StatefulSet with random foreign init containers, containers (always at
/// least one), volumes and annotations, none of them ours.
fn template(with_gluetun: bool) -> impl Strategy<Value = StatefulSet> {
    (
        prop::collection::vec(foreign_item(false), 0..3),
        prop::collection::vec(foreign_item(false), 1..4),
        prop::collection::vec(foreign_item(true), 0..3),
        prop::collection::btree_map("[a-z]{1,5}\\.io/[a-z]{1,5}", "[a-z0-9]{0,5}", 0..3),
    )
        .prop_map(move |(init, mut containers, volumes, annotations)| {
            if with_gluetun {
                containers.push(json!({"name": "gluetun", "image": "qmcgaw/gluetun", "securityContext": {"privileged": true}}));
            }
            let mut sts = ok(serde_json::to_value(juju_statefulset("app", "workload")));
            let spec = &mut sts["spec"]["template"]["spec"];
            let set = |spec: &mut Value, field: &str, items: Vec<Value>| {
                let items = unique_by_name(items);
                if items.is_empty() {
                    spec.as_object_mut().map(|m| m.remove(field));
                } else {
                    spec[field] = Value::Array(items);
                }
            };
            set(spec, "initContainers", init);
            set(spec, "containers", containers);
            set(spec, "volumes", volumes);
            let meta = &mut sts["spec"]["template"]["metadata"];
            if annotations.is_empty() {
                meta.as_object_mut().map(|m| m.remove("annotations"));
            } else {
                meta["annotations"] = json!(annotations);
            }
            ok(serde_json::from_value(sts))
        })
}

fn private_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 8_u8..=32).prop_map(|(a, p)| {
            ok(IpNet::new(
                IpAddr::V4(Ipv4Addr::from((a & 0x00ff_ffff) | 0x0a00_0000)),
                p,
            ))
        }),
        (any::<u16>(), 16_u8..=32).prop_map(|(a, p)| {
            ok(IpNet::new(
                IpAddr::V4(Ipv4Addr::from(0xc0a8_0000 | u32::from(a))),
                p,
            ))
        }),
        (any::<u128>(), 8_u8..=128).prop_map(|(a, p)| {
            let addr = (a & (u128::MAX >> 8)) | (0xfd_u128 << 120);
            ok(IpNet::new(IpAddr::V6(Ipv6Addr::from(addr)), p))
        }),
    ]
}

fn provider() -> impl Strategy<Value = ProviderData> {
    (
        1_u32..=VxlanId::MAX,
        1_u16..,
        any::<[u8; 3]>(),
        prop::collection::vec(private_net(), 1..8),
        any::<[u8; 4]>(),
        any::<bool>(),
        proptest::option::of(any::<[u8; 4]>()),
        "[a-z][a-z0-9]{0,10}",
    )
        .prop_map(
            |(id, port, net, nets, dns, connected, external, name)| ProviderData {
                gateway_dns_name: ok(DnsName::parse(&format!(
                    "{name}-endpoints.m.svc.cluster.local"
                ))),
                vxlan: VxlanSettings {
                    id: ok(VxlanId::new(id)),
                    network: ok(VxlanNetwork::parse(&format!(
                        "{}.{}.{}",
                        net[0], net[1], net[2]
                    ))),
                    port: ok(VxlanPort::new(port)),
                },
                cluster_cidrs: ok(ClusterCidrs::from_nets(nets)),
                // The cluster DNS Service is always inside the cluster (a private address).
                cluster_dns_ip: IpAddr::from([10, dns[1], dns[2], dns[3]]),
                vpn_connected: connected,
                external_ip: external.map(IpAddr::from),
                instance_name: app(&name),
            },
        )
}

// ---------------------------------------------------------------- helpers

fn json_of(sts: &StatefulSet) -> Value {
    ok(serde_json::to_value(sts))
}

fn from_json(value: Value) -> StatefulSet {
    ok(serde_json::from_value(value))
}

/// What the API server fills into the items we add.
fn add_server_defaults(sts: &StatefulSet) -> StatefulSet {
    let mut v = json_of(sts);
    let spec = &mut v["spec"]["template"]["spec"];
    for field in ["initContainers", "containers"] {
        for c in spec[field].as_array_mut().into_iter().flatten() {
            let c = c
                .as_object_mut()
                .unwrap_or_else(|| panic!("container is an object"));
            c.entry("imagePullPolicy").or_insert(json!("IfNotPresent"));
            c.entry("terminationMessagePath")
                .or_insert(json!("/dev/termination-log"));
            c.entry("terminationMessagePolicy").or_insert(json!("File"));
            c.entry("resources").or_insert(json!({}));
            for p in c
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                p.as_object_mut()
                    .map(|p| p.entry("protocol").or_insert(json!("TCP")));
            }
        }
    }
    for vol in spec["volumes"].as_array_mut().into_iter().flatten() {
        if let Some(cm) = vol.get_mut("configMap").and_then(Value::as_object_mut) {
            cm.entry("defaultMode").or_insert(json!(420));
        }
    }
    from_json(v)
}

/// JSON pointers (into `live`) of every scalar we set, matching keyed list items the way
/// the server merges them.
fn our_leaves(ours: &Value, live: &Value, at: &str, field: &str, out: &mut Vec<String>) {
    match (ours, live) {
        (Value::Object(o), Value::Object(l)) => {
            for (k, v) in o {
                if let Some(lv) = l.get(k) {
                    let esc = k.replace('~', "~0").replace('/', "~1");
                    our_leaves(v, lv, &format!("{at}/{esc}"), k, out);
                }
            }
        }
        (Value::Array(o), Value::Array(l)) => {
            let key = match field {
                "containers" | "initContainers" | "volumes" | "env" => Some("name"),
                "volumeMounts" => Some("mountPath"),
                "ports" => Some("containerPort"),
                _ => None,
            };
            for (i, item) in o.iter().enumerate() {
                let j = match key {
                    Some(key) => l.iter().position(|x| x.get(key) == item.get(key)),
                    None => Some(i),
                };
                if let Some(j) = j {
                    our_leaves(item, &l[j], &format!("{at}/{j}"), "", out);
                }
            }
        }
        _ => out.push(at.to_owned()),
    }
}

fn mutate(value: &mut Value) {
    let new = match &*value {
        Value::String(s) => json!(format!("{s}x")),
        Value::Number(n) => json!(n.as_i64().unwrap_or(0) + 1),
        Value::Bool(b) => json!(!*b),
        other => json!(other.is_null()),
    };
    *value = new;
}

fn ours_in_patch(additions: &PodAdditions) -> Value {
    let mut patch = additions.add_patch("1");
    patch.as_object_mut().map(|m| m.remove("metadata"));
    patch
}

fn with_gluetun_privileged(sts: &StatefulSet) -> StatefulSet {
    let mut v = json_of(sts);
    for c in v["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if c["name"] == "gluetun" {
            c["securityContext"]["privileged"] = json!(true);
        }
    }
    from_json(v)
}

// ---------------------------------------------------------------- properties

/// Everything a client adds: the routing and the in-pod filter.
fn every_client_name() -> OwnedNames {
    let mut names = client_owned_names();
    names
        .init_containers
        .splice(0..0, killswitch_owned_names().init_containers);
    names
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn building_twice_equals_building_once(data in provider(), t in template(false)) {
        let app = app("qbittorrent");
        prop_assert_eq!(client_additions(&app, "charmarr-downloads", &data), client_additions(&app, "charmarr-downloads", &data));
        let additions = client_additions(&app, "charmarr-downloads", &data);
        let once = ok(additions.emulate_add(&t));
        let twice = ok(additions.emulate_add(&once));
        prop_assert_eq!(&twice, &once);
        prop_assert!(additions.is_held_by(&once));
        prop_assert_eq!(additions.names(), every_client_name());
    }

    #[test]
    fn remove_undoes_add_for_clients(data in provider(), t in template(false)) {
        let additions = client_additions(&app("qbittorrent"), "charmarr-downloads", &data);
        prop_assert!(client_owned_names().is_absent_from(&t));
        let added = ok(additions.emulate_add(&t));
        prop_assert!(!client_owned_names().is_absent_from(&added));
        // The routing goes; the in-pod filter stays, alone.
        let unrouted = ok(client_owned_names().emulate_remove(&added));
        prop_assert!(client_owned_names().is_absent_from(&unrouted));
        prop_assert!(!killswitch_owned_names().is_absent_from(&unrouted));
        // unsafe-mode removes both: exactly the template we started from.
        let removed = ok(every_client_name().emulate_remove(&added));
        prop_assert_eq!(&removed, &t);
        prop_assert_eq!(ok(killswitch_owned_names().emulate_remove(&unrouted)), removed);
    }

    #[test]
    fn remove_undoes_add_for_the_gateway_except_privileged(data in provider(), t in template(true)) {
        let additions = gateway_additions(&app("vpnarr"), &vpn_gateway_iface::settings::GatewaySettings::new(data.vxlan, &data.cluster_cidrs));
        prop_assert_eq!(additions.names(), gateway_owned_names());
        let added = ok(additions.emulate_add(&t));
        prop_assert!(additions.is_held_by(&added));
        let removed = ok(gateway_owned_names().emulate_remove(&added));
        prop_assert_eq!(removed, with_gluetun_privileged(&t));
    }

    #[test]
    fn foreign_items_are_untouched(data in provider(), t in template(false)) {
        let added = json_of(&ok(client_additions(&app("qbittorrent"), "charmarr-downloads", &data).emulate_add(&t)));
        let before = json_of(&t);
        for field in ["initContainers", "containers", "volumes"] {
            let ours = |v: &Value| v["name"].as_str().is_some_and(|n| n.contains('-'));
            let foreign: Vec<&Value> = added["spec"]["template"]["spec"][field]
                .as_array().into_iter().flatten().filter(|v| !ours(v)).collect();
            let original: Vec<&Value> =
                before["spec"]["template"]["spec"][field].as_array().into_iter().flatten().collect();
            prop_assert_eq!(foreign, original, "{}", field);
        }
        let annotations = |v: &Value| v["spec"]["template"]["metadata"]["annotations"].clone();
        let mut expected = annotations(&before);
        if expected.is_null() { expected = json!({}); }
        let mut got = annotations(&added);
        got.as_object_mut().map(|m| m.remove("charmarr.io/gateway-client-config-hash"));
        prop_assert_eq!(got, expected);
        // Everything outside the pod template's lists and annotations is identical.
        let strip = |mut v: Value| {
            v["spec"]["template"]["spec"] = json!(null);
            v["spec"]["template"]["metadata"]["annotations"] = json!(null);
            v
        };
        prop_assert_eq!(strip(added.clone()), strip(before));
    }

    #[test]
    fn holds_sees_through_server_defaults_and_juju_reapply(data in provider(), t in template(true)) {
        for additions in [client_additions(&app("app"), "charmarr-downloads", &data), gateway_additions(&app("app"), &vpn_gateway_iface::settings::GatewaySettings::new(data.vxlan, &data.cluster_cidrs))] {
            let live = add_server_defaults(&ok(additions.emulate_add(&t)));
            prop_assert!(additions.is_held_by(&live));
            // Juju GETs, copies its own template in and sends it as a strategic merge.
            let juju_template = json!({"spec": {"template": json_of(&t)["spec"]["template"]}});
            let after_juju = ok(emulate_strategic_merge(&live, &juju_template));
            // Everything survives but a `dnsPolicy` Juju's template itself sets (the client's
            // DNS, ADR 0040): the next hook puts it back with one patch, and then it holds.
            let sets_dns_policy = !juju_template["spec"]["template"]["spec"]["dnsPolicy"].is_null();
            if additions.dns_config.is_some() && sets_dns_policy {
                prop_assert!(!additions.is_held_by(&after_juju));
                let repaired = ok(additions.emulate_add(&after_juju));
                prop_assert!(additions.is_held_by(&repaired));
            } else {
                prop_assert!(additions.is_held_by(&after_juju));
            }
        }
    }

    #[test]
    fn holds_fails_after_any_one_of_our_fields_changes(
        data in provider(), t in template(true), pick in any::<prop::sample::Index>(), gateway in any::<bool>()
    ) {
        let additions = if gateway {
            gateway_additions(&app("app"), &vpn_gateway_iface::settings::GatewaySettings::new(data.vxlan, &data.cluster_cidrs))
        } else {
            client_additions(&app("app"), "charmarr-downloads", &data)
        };
        let live = json_of(&add_server_defaults(&ok(additions.emulate_add(&t))));
        let mut leaves = Vec::new();
        our_leaves(&ours_in_patch(&additions), &live, "", "", &mut leaves);
        prop_assert!(leaves.len() > 20, "{:?}", leaves);
        let pointer = pick.get(&leaves);
        let mut changed = live.clone();
        changed.pointer_mut(pointer).map(mutate);
        prop_assert!(!additions.is_held_by(&from_json(changed)), "changed {}", pointer);
    }

    #[test]
    fn databag_round_trips(data in provider()) {
        prop_assert_eq!(ProviderData::from_databag(&data.to_databag()), Ok(data));
    }

    #[test]
    fn parsing_arbitrary_strings_never_panics(s in any::<String>()) {
        let _ = ProviderData::from_databag(&s);
        let _ = RequirerData::from_databag(&s);
        let _ = ClusterCidrs::parse(&s);
        let _ = DnsName::parse(&s);
        let _ = AppName::parse(&s);
        let _ = Namespace::parse(&s);
        let _ = VxlanNetwork::parse(&s);
    }

    #[test]
    fn parsing_arbitrary_json_never_panics(v in json_value()) {
        let text = v.to_string();
        let _ = ProviderData::from_databag(&text);
        let _ = RequirerData::from_databag(&text);
    }

    #[test]
    fn parsing_near_valid_databags_never_panics_and_names_a_field(
        data in provider(), field in prop::sample::select(FIELDS.to_vec()), v in json_value()
    ) {
        let mut doc: Value = ok(serde_json::from_str(&data.to_databag()));
        doc[field] = v;
        match ProviderData::from_databag(&doc.to_string()) {
            Ok(_) => {}
            Err(e) => prop_assert_eq!(e.field, field),
        }
    }
}

const FIELDS: [&str; 10] = [
    "routing_method",
    "gateway_dns_name",
    "vxlan_id",
    "vxlan_ip_network",
    "vxlan_port",
    "cluster_cidrs",
    "cluster_dns_ip",
    "vpn_connected",
    "external_ip",
    "instance_name",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "[0-9./, a-f:]{0,30}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned),
                    any::<String>()
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn fixture_is_a_valid_provider() {
    assert!(ProviderData::from_databag(&provider_data().to_databag()).is_ok());
}
