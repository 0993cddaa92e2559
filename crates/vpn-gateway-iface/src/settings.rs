//! pod-gateway's configuration files (docs/interface.md §3, §4), rendered from validated
//! values only.
//!
//! pod-gateway's scripts `source` `/config/settings.sh` with bash, so every value written here
//! is a validated number, overlay network, IP address or CIDR: nothing from a databag reaches
//! the file as free text. Lines are joined with `\n` and there is no trailing newline, byte
//! for byte as the reference writes them, so the config hash (and therefore the pod) does
//! not change when our charm replaces the reference charm.

use std::collections::BTreeMap;

use crate::wire::{ProviderData, VxlanSettings};

/// The shell settings file pod-gateway sources.
pub const SETTINGS_FILE: &str = "settings.sh";
/// pod-gateway's static-IP/port-forward table (empty: clients take dynamic addresses).
pub const NAT_FILE: &str = "nat.conf";
/// First dynamic DHCP address on the overlay (lower ones are kept for static entries).
pub const FIRST_DYNAMIC_IP: u8 = 20;

/// The gateway's ConfigMap data: `settings.sh` (four lines) and an empty `nat.conf`.
pub fn gateway_settings(vxlan: &VxlanSettings) -> BTreeMap<String, String> {
    let settings = [
        format!("VXLAN_ID=\"{}\"", vxlan.id),
        format!("VXLAN_IP_NETWORK=\"{}\"", vxlan.network),
        format!("VXLAN_PORT=\"{}\"", vxlan.port),
        format!("VXLAN_GATEWAY_FIRST_DYNAMIC_IP=\"{FIRST_DYNAMIC_IP}\""),
    ]
    .join("\n");
    BTreeMap::from([
        (SETTINGS_FILE.to_owned(), settings),
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
