//! pod-gateway's configuration files (docs/interface.md §3, §4), rendered from validated
//! values only.
//!
//! pod-gateway's scripts `source` `/config/settings.sh` with bash, so every value written here
//! is a validated number, overlay network, IP address or CIDR: nothing from a databag reaches
//! the file as free text. Lines are joined with `\n` and there is no trailing newline, as the
//! reference writes them.
//!
//! The client's file is the reference's, byte for byte. The gateway's file starts with the
//! reference's four lines, unchanged, and then sets every pod-gateway default that decides
//! where the gateway's packets go (docs/adr/0038): the defaults (`VPN_LOCAL_CIDRS="10.0.0.0/8
//! 192.168.0.0/16"`, `VPN_TRAFFIC_PORT=443`) let the gateway pod reach any LAN host and any
//! host on port 443 around the tunnel. The config hash therefore differs from the
//! reference's: a gateway adopted from the reference charm rolls once.

use std::collections::BTreeMap;

use ipnet::{IpNet, Ipv4Net};

use crate::cidrs::ClusterCidrs;
use crate::wire::{ProviderData, VxlanSettings};

/// The shell settings file pod-gateway sources.
pub const SETTINGS_FILE: &str = "settings.sh";
/// pod-gateway's static-IP/port-forward table (empty: clients take dynamic addresses).
pub const NAT_FILE: &str = "nat.conf";
/// First dynamic DHCP address on the overlay (lower ones are kept for static entries).
pub const FIRST_DYNAMIC_IP: u8 = 20;
/// The tunnel's interface: gluetun's (gluetun-k8s sets gluetun's `VPN_INTERFACE` to it, and
/// `custom-overrides` cannot change it), and pod-gateway's `VPN_INTERFACE`, the only
/// interface its rules forward clients' packets to.
pub const VPN_INTERFACE: &str = "tun0";
/// pod-gateway's `VPN_TRAFFIC_PORT`: `gateway_init.sh` accepts every outgoing TCP and UDP
/// packet to this port, to any address, from the gateway pod itself, tunnel up or down.
/// gluetun lets its own connection to the VPN server out with a rule of its own (that
/// server's address, protocol and port), so this rule has nothing to let out: port 0, which
/// no service listens on and to which Linux refuses to send UDP (ADR 0038).
pub const VPN_TRAFFIC_PORT: u16 = 0;

/// What the gateway's `settings.sh` is rendered from: the overlay and the addresses that
/// bypass the tunnel (the IPv4 cluster CIDRs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GatewaySettings {
    /// The overlay both ends agree on.
    pub vxlan: VxlanSettings,
    local_cidrs: Vec<Ipv4Net>,
}

impl GatewaySettings {
    /// The gateway's settings for its overlay and its cluster CIDRs (gluetun-k8s's
    /// `cluster-cidrs` config). Only the IPv4 entries become `VPN_LOCAL_CIDRS`: pod-gateway
    /// filters IPv4 only, and an IPv6 entry would make its `iptables` call fail and, under
    /// `set -e`, end `gateway-init` (the pod would never start).
    pub fn new(vxlan: VxlanSettings, cluster_cidrs: &ClusterCidrs) -> Self {
        let local_cidrs = cluster_cidrs
            .as_slice()
            .iter()
            .filter_map(|net| match net {
                IpNet::V4(v4) => Some(*v4),
                IpNet::V6(_) => None,
            })
            .collect();
        Self { vxlan, local_cidrs }
    }

    /// The addresses that bypass the tunnel (`VPN_LOCAL_CIDRS`), in the configured order.
    pub fn local_cidrs(&self) -> &[Ipv4Net] {
        &self.local_cidrs
    }
}

/// The reference's four lines of the gateway's `settings.sh` (the overlay), in its order.
fn reference_gateway_lines(vxlan: &VxlanSettings) -> [String; 4] {
    [
        format!("VXLAN_ID=\"{}\"", vxlan.id),
        format!("VXLAN_IP_NETWORK=\"{}\"", vxlan.network),
        format!("VXLAN_PORT=\"{}\"", vxlan.port),
        format!("VXLAN_GATEWAY_FIRST_DYNAMIC_IP=\"{FIRST_DYNAMIC_IP}\""),
    ]
}

/// The gateway's ConfigMap data: `settings.sh` (the reference's four lines, then the five of
/// ADR 0038) and an empty `nat.conf`.
pub fn gateway_settings(settings: &GatewaySettings) -> BTreeMap<String, String> {
    let local_cidrs = settings
        .local_cidrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let ours = [
        format!("VPN_INTERFACE=\"{VPN_INTERFACE}\""),
        // Also what installs the forward-to-tunnel rule and the DROP policies.
        "VPN_BLOCK_OTHER_TRAFFIC=\"true\"".to_owned(),
        format!("VPN_TRAFFIC_PORT=\"{VPN_TRAFFIC_PORT}\""),
        format!("VPN_LOCAL_CIDRS=\"{local_cidrs}\""),
        // `yes` would make every iptables call a translation that applies nothing.
        "IPTABLES_NFT=\"no\"".to_owned(),
    ];
    let settings_sh = reference_gateway_lines(&settings.vxlan)
        .into_iter()
        .chain(ours)
        .collect::<Vec<_>>()
        .join("\n");
    BTreeMap::from([
        (SETTINGS_FILE.to_owned(), settings_sh),
        (NAT_FILE.to_owned(), String::new()),
    ])
}

/// A client's ConfigMap data: `settings.sh` (five lines; the CIDRs SPACE-separated, as
/// pod-gateway's client script reads them).
pub fn client_settings(data: &ProviderData) -> BTreeMap<String, String> {
    let settings = [
        format!("K8S_DNS_IPS=\"{}\"", data.cluster_dns_ip),
        format!(
            "NOT_ROUTED_TO_GATEWAY_CIDRS=\"{}\"",
            data.cluster_cidrs.to_space_separated()
        ),
        format!("VXLAN_ID=\"{}\"", data.vxlan.id),
        format!("VXLAN_IP_NETWORK=\"{}\"", data.vxlan.network),
        format!("VXLAN_PORT=\"{}\"", data.vxlan.port),
    ]
    .join("\n");
    BTreeMap::from([(SETTINGS_FILE.to_owned(), settings)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(text: &str) -> ClusterCidrs {
        ClusterCidrs::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn line<'a>(file: &'a str, key: &str) -> Option<&'a str> {
        file.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }

    #[test]
    fn local_cidrs_are_exactly_the_ipv4_cluster_cidrs() {
        let settings = GatewaySettings::new(
            VxlanSettings::default(),
            &cidrs("172.20.0.0/24,fd00::/8,10.152.183.0/24,169.254.7.127/32"),
        );
        let data = gateway_settings(&settings);
        assert_eq!(
            line(&data[SETTINGS_FILE], "VPN_LOCAL_CIDRS"),
            Some("\"172.20.0.0/24 10.152.183.0/24 169.254.7.127/32\"")
        );
        let v6_only = GatewaySettings::new(VxlanSettings::default(), &cidrs("fd00::/8"));
        assert_eq!(
            line(
                &gateway_settings(&v6_only)[SETTINGS_FILE],
                "VPN_LOCAL_CIDRS"
            ),
            Some("\"\"")
        );
    }

    #[test]
    fn every_routing_default_is_set() {
        let data = gateway_settings(&GatewaySettings::new(
            VxlanSettings::default(),
            &cidrs("10.1.0.0/16"),
        ));
        let file = &data[SETTINGS_FILE];
        for (key, value) in [
            ("VPN_INTERFACE", "\"tun0\""),
            ("VPN_BLOCK_OTHER_TRAFFIC", "\"true\""),
            ("VPN_TRAFFIC_PORT", "\"0\""),
            ("VPN_LOCAL_CIDRS", "\"10.1.0.0/16\""),
            ("IPTABLES_NFT", "\"no\""),
        ] {
            assert_eq!(line(file, key), Some(value), "{key}");
        }
        assert_eq!(file.lines().count(), 9);
        assert!(!file.ends_with('\n'));
        assert_eq!(data[NAT_FILE], "");
    }
}
