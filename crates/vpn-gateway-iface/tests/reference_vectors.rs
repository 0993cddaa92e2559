//! Test vectors derived from the reference implementation (`charmarr-lib-vpn` 0.6.4):
//! what its pydantic writer emits, what its settings renderer writes, and its config hash,
//! computed with the reference's own code under python3. Our reader must accept what it
//! writes; our writer must produce what it writes, except the gateway's `settings.sh`, which
//! is the reference's lines followed by exactly the lines of ADR 0038.

use std::collections::BTreeMap;

use vpn_gateway_iface::gateway::{gateway_additions, gateway_config_map};
use vpn_gateway_iface::hash::config_hash;
use vpn_gateway_iface::settings::{GatewaySettings, client_settings, gateway_settings};
use vpn_gateway_iface::{
    AppName, ClusterCidrs, InvalidField, Namespace, Owner, Problem, ProviderData, RequirerData,
    VxlanSettings,
};

/// `VPNGatewayProviderData(...).model_dump_json()`, every field set.
const REF_FULL: &str = r#"{"routing_method":"pod-gateway","gateway_dns_name":"vpnarr-endpoints.charmarr-downloads.svc.cluster.local","vxlan_id":42,"vxlan_ip_network":"172.16.0","vxlan_port":4790,"cluster_cidrs":"10.1.0.0/16,10.152.183.0/24,169.254.7.127/32","cluster_dns_ip":"10.152.183.10","vpn_connected":true,"external_ip":"203.0.113.7","instance_name":"vpnarr"}"#;

/// The reference writer with defaults and a config that ended in a comma (`a,,b`).
const REF_DEFAULTS: &str = r#"{"routing_method":"pod-gateway","gateway_dns_name":"gluetun-endpoints.m.svc.cluster.local","vxlan_id":42,"vxlan_ip_network":"172.16.0","vxlan_port":4790,"cluster_cidrs":"10.1.0.0/16,,10.152.183.0/24,169.254.7.127/32","cluster_dns_ip":"10.152.183.10","vpn_connected":false,"external_ip":null,"instance_name":"gluetun"}"#;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn reads_the_reference_full_output_and_writes_it_back_byte_for_byte() {
    let data = ok(ProviderData::from_databag(REF_FULL));
    assert_eq!(
        data.gateway_dns_name.as_str(),
        "vpnarr-endpoints.charmarr-downloads.svc.cluster.local"
    );
    assert_eq!(data.vxlan, VxlanSettings::default());
    assert_eq!(
        data.cluster_cidrs.to_comma_separated(),
        "10.1.0.0/16,10.152.183.0/24,169.254.7.127/32"
    );
    assert_eq!(data.cluster_dns_ip.to_string(), "10.152.183.10");
    assert!(data.vpn_connected);
    assert_eq!(
        data.external_ip.map(|ip| ip.to_string()).as_deref(),
        Some("203.0.113.7")
    );
    assert_eq!(data.instance_name.as_str(), "vpnarr");
    assert_eq!(data.to_databag(), REF_FULL);
}

#[test]
fn reads_the_reference_defaults_output_with_an_empty_cidr_entry() {
    let data = ok(ProviderData::from_databag(REF_DEFAULTS));
    assert_eq!(data.cluster_cidrs.as_slice().len(), 3);
    assert!(!data.vpn_connected);
    assert_eq!(data.external_ip, None);
    // We write the list without the empty entry; otherwise byte-identical.
    assert_eq!(data.to_databag(), REF_DEFAULTS.replace(",,", ","));
}

#[test]
fn absent_optional_fields_take_the_defaults_and_unknown_fields_are_ignored() {
    let minimal = r#"{"gateway_dns_name":"a","cluster_cidrs":"10.0.0.0/8","cluster_dns_ip":"10.0.0.10","instance_name":"a","extra":1,"nested":{"x":[1,2]}}"#;
    let data = ok(ProviderData::from_databag(minimal));
    assert_eq!(data.vxlan, VxlanSettings::default());
    assert!(!data.vpn_connected);
    assert_eq!(data.external_ip, None);
    assert_eq!(
        data.to_databag(),
        r#"{"routing_method":"pod-gateway","gateway_dns_name":"a","vxlan_id":42,"vxlan_ip_network":"172.16.0","vxlan_port":4790,"cluster_cidrs":"10.0.0.0/8","cluster_dns_ip":"10.0.0.10","vpn_connected":false,"external_ip":null,"instance_name":"a"}"#
    );
}

#[test]
fn requirer_data_round_trips() {
    let text = r#"{"instance_name":"qbittorrent"}"#;
    let data = ok(RequirerData::from_databag(text));
    assert_eq!(data.instance_name.as_str(), "qbittorrent");
    assert_eq!(data.to_databag(), text);
    assert!(RequirerData::from_databag(r#"{"instance_name":"qbittorrent","x":null}"#).is_ok());
    assert_eq!(
        RequirerData::from_databag("{}").map_err(|e| e.field),
        Err("instance_name")
    );
}

#[test]
#[allow(clippy::too_many_lines)] // One table of cases, formatted one field per line.
fn each_bad_field_is_named() {
    let base: serde_json::Value = ok(serde_json::from_str(REF_FULL));
    let cases: &[(&str, serde_json::Value, Problem)] = &[
        (
            "routing_method",
            "wireguard-mesh".into(),
            Problem::UnsupportedRoutingMethod,
        ),
        (
            "gateway_dns_name",
            "bad name".into(),
            Problem::BadDnsName("only letters, digits and hyphens are allowed"),
        ),
        (
            "gateway_dns_name",
            5.into(),
            Problem::WrongType {
                expected: "a string",
            },
        ),
        (
            "vxlan_id",
            0.into(),
            Problem::OutOfRange {
                min: 1,
                max: 16_777_215,
            },
        ),
        (
            "vxlan_id",
            (-1).into(),
            Problem::OutOfRange {
                min: 1,
                max: 16_777_215,
            },
        ),
        (
            "vxlan_id",
            "42".into(),
            Problem::WrongType {
                expected: "an integer",
            },
        ),
        (
            "vxlan_id",
            4.2.into(),
            Problem::WrongType {
                expected: "an integer",
            },
        ),
        (
            "vxlan_id",
            serde_json::Value::Null,
            Problem::WrongType {
                expected: "an integer",
            },
        ),
        (
            "vxlan_port",
            65_536.into(),
            Problem::OutOfRange {
                min: 1,
                max: 65_535,
            },
        ),
        (
            "vxlan_ip_network",
            "172.16".into(),
            Problem::BadOverlayNetwork,
        ),
        (
            "cluster_cidrs",
            "0.0.0.0/0".into(),
            Problem::PublicCidr {
                cidr: ok("0.0.0.0/0".parse()),
            },
        ),
        ("cluster_cidrs", ",".into(), Problem::NoCidrs),
        // Leading zeros could be read as octal; Python's ipaddress refuses them too.
        (
            "cluster_cidrs",
            "010.0.0.0/8".into(),
            Problem::BadCidr { index: 0 },
        ),
        (
            "cluster_cidrs",
            "10.1.0.0/16,10.010.0.0/16".into(),
            Problem::BadCidr { index: 1 },
        ),
        // The cloud metadata address must never be allowed by the kill switch.
        (
            "cluster_cidrs",
            "169.254.0.0/16".into(),
            Problem::MetadataCidr {
                cidr: ok("169.254.0.0/16".parse()),
            },
        ),
        (
            "cluster_cidrs",
            "10.1.0.0/16,169.254.169.254/32".into(),
            Problem::MetadataCidr {
                cidr: ok("169.254.169.254/32".parse()),
            },
        ),
        ("cluster_dns_ip", "10.0.0.300".into(), Problem::BadIp),
        ("cluster_dns_ip", "10.152.183.010".into(), Problem::BadIp),
        (
            "cluster_dns_ip",
            "8.8.8.8".into(),
            Problem::NotClusterAddress {
                ip: ok("8.8.8.8".parse()),
            },
        ),
        (
            "cluster_dns_ip",
            "127.0.0.1".into(),
            Problem::NotClusterAddress {
                ip: ok("127.0.0.1".parse()),
            },
        ),
        (
            "cluster_dns_ip",
            "0.0.0.0".into(),
            Problem::NotClusterAddress {
                ip: ok("0.0.0.0".parse()),
            },
        ),
        (
            "cluster_dns_ip",
            "224.0.0.251".into(),
            Problem::NotClusterAddress {
                ip: ok("224.0.0.251".parse()),
            },
        ),
        (
            "cluster_dns_ip",
            "::1".into(),
            Problem::NotClusterAddress {
                ip: ok("::1".parse()),
            },
        ),
        (
            "vpn_connected",
            "true".into(),
            Problem::WrongType {
                expected: "a boolean",
            },
        ),
        ("external_ip", "".into(), Problem::BadIp),
        (
            "instance_name",
            "Bad".into(),
            Problem::BadName("must start with a lower-case letter"),
        ),
    ];
    for (field, value, problem) in cases {
        let mut doc = base.clone();
        doc[*field] = value.clone();
        let got = ProviderData::from_databag(&doc.to_string());
        assert_eq!(
            got,
            Err(InvalidField {
                field,
                problem: problem.clone()
            }),
            "{field} = {value}"
        );
    }
    for field in [
        "gateway_dns_name",
        "cluster_cidrs",
        "cluster_dns_ip",
        "instance_name",
    ] {
        let mut doc = base.clone();
        doc.as_object_mut().map(|m| m.remove(field));
        let got = ProviderData::from_databag(&doc.to_string());
        assert_eq!(
            got,
            Err(InvalidField {
                field,
                problem: Problem::Missing
            })
        );
    }
    for junk in ["", "null", "[]", "\"x\"", "{", "42"] {
        assert_eq!(
            ProviderData::from_databag(junk).map_err(|e| e.field),
            Err("config"),
            "{junk}"
        );
    }
    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(64 * 1024));
    assert_eq!(
        ProviderData::from_databag(&huge).map_err(|e| e.problem),
        Err(Problem::TooLarge { max: 65_536 })
    );
}

/// The reference's gateway `settings.sh` for [`REF_FULL`]'s overlay, byte for byte: four
/// lines, no trailing newline.
const REF_GATEWAY_SETTINGS: &str = "VXLAN_ID=\"42\"\nVXLAN_IP_NETWORK=\"172.16.0\"\nVXLAN_PORT=\"4790\"\nVXLAN_GATEWAY_FIRST_DYNAMIC_IP=\"20\"";

/// Exactly what our gateway `settings.sh` adds after the reference's lines (ADR 0038), for a
/// gateway configured with `cluster-cidrs` `10.1.0.0/16,10.152.183.0/24` (the
/// [`REF_FULL`] list without the link-local address the gateway adds when publishing).
const ADDED_GATEWAY_LINES: [&str; 5] = [
    "VPN_INTERFACE=\"tun0\"",
    "VPN_BLOCK_OTHER_TRAFFIC=\"true\"",
    "VPN_TRAFFIC_PORT=\"0\"",
    "VPN_LOCAL_CIDRS=\"10.1.0.0/16 10.152.183.0/24\"",
    "IPTABLES_NFT=\"no\"",
];

fn gateway_config(vxlan: VxlanSettings, cidrs: &str) -> GatewaySettings {
    GatewaySettings::new(vxlan, &ok(ClusterCidrs::parse(cidrs)))
}

#[test]
fn settings_files_match_the_reference_bytes() {
    let data = ok(ProviderData::from_databag(REF_FULL));
    // The gateway: the reference's lines unchanged and first, then exactly ours; nat.conf
    // as the reference's (empty), and no other file.
    let gateway = gateway_settings(&gateway_config(data.vxlan, "10.1.0.0/16,10.152.183.0/24"));
    let settings = gateway
        .get("settings.sh")
        .map(String::as_str)
        .unwrap_or_default();
    let (reference_part, added) = settings.split_at(REF_GATEWAY_SETTINGS.len());
    assert_eq!(reference_part, REF_GATEWAY_SETTINGS);
    assert_eq!(added, format!("\n{}", ADDED_GATEWAY_LINES.join("\n")));
    assert_eq!(gateway.get("nat.conf").map(String::as_str), Some(""));
    assert_eq!(gateway.len(), 2);
    // The client's file is the reference's, byte for byte.
    let client = client_settings(&data);
    assert_eq!(
        client.get("settings.sh").map(String::as_str),
        Some(
            "K8S_DNS_IPS=\"10.152.183.10\"\nNOT_ROUTED_TO_GATEWAY_CIDRS=\"10.1.0.0/16 10.152.183.0/24 169.254.7.127/32\"\nVXLAN_ID=\"42\"\nVXLAN_IP_NETWORK=\"172.16.0\"\nVXLAN_PORT=\"4790\""
        )
    );
    assert_eq!(client.len(), 1);
}

#[test]
fn config_hash_matches_the_reference() {
    // hashlib.sha256("".join(f"{k}={v}" for k, v in sorted(d.items())).encode()).hexdigest()[:8]
    let reference = |settings: &str| {
        BTreeMap::from([
            ("nat.conf".to_owned(), String::new()),
            ("settings.sh".to_owned(), settings.to_owned()),
        ])
    };
    // Our hash function on the reference's gateway data gives the reference's hashes.
    assert_eq!(config_hash(&reference(REF_GATEWAY_SETTINGS)), "62261539");
    assert_eq!(
        config_hash(&reference(
            "VXLAN_ID=\"7\"\nVXLAN_IP_NETWORK=\"10.99.3\"\nVXLAN_PORT=\"4789\"\nVXLAN_GATEWAY_FIRST_DYNAMIC_IP=\"20\""
        )),
        "199c0228"
    );
    let full = ok(ProviderData::from_databag(REF_FULL));
    assert_eq!(config_hash(&client_settings(&full)), "05bf9721");
    let defaults = ok(ProviderData::from_databag(REF_DEFAULTS));
    assert_eq!(config_hash(&client_settings(&defaults)), "05bf9721");
    let other = r#"{"gateway_dns_name":"g.x","vxlan_id":7,"vxlan_ip_network":"10.99.3","vxlan_port":4789,"cluster_cidrs":"fd00::/8, 192.168.0.0/16","cluster_dns_ip":"fd00::a","instance_name":"g"}"#;
    let other = ok(ProviderData::from_databag(other));
    assert_eq!(config_hash(&client_settings(&other)), "7ba609ba");
    // Ours differs from the reference's (the added lines): an adopted gateway rolls once.
    let ours = gateway_config(full.vxlan, "10.1.0.0/16,10.152.183.0/24");
    let our_hash = config_hash(&gateway_settings(&ours));
    assert_eq!(our_hash, "e547211b");
    assert_ne!(our_hash, "62261539");
    // The ConfigMap carries exactly the hashed data, and the pod template that hash.
    let owner = Owner {
        app: ok(AppName::parse("vpnarr")),
        namespace: ok(Namespace::parse("charmarr-downloads")),
        field_manager: "gluetun-k8s",
    };
    let cm = gateway_config_map(&owner, &ours);
    assert_eq!(cm.data.as_ref().map(config_hash), Some(our_hash.clone()));
    let additions = gateway_additions(&owner.app, &ours);
    assert_eq!(
        additions.annotations.get("charmarr.io/gateway-config-hash"),
        Some(&our_hash)
    );
}
