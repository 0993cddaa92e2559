//! Layer 0 of the kill switch (ADR 0039): an egress filter inside the client pod's network
//! namespace, installed by its first init container, `vpn-killswitch`, before pod-gateway's
//! `vpn-route-init` runs.
//!
//! The NetworkPolicy (layer 1) holds only where the CNI enforces NetworkPolicy; this filter
//! holds on every CNI. Every container of the pod shares the network namespace, so the rules
//! bind qBittorrent, the sidecars and the charm alike. Out of any interface but `vxlan0` (the
//! tunnel, which leads only to the gateway) and `lo`, only the cluster CIDRs the gateway
//! published and the cluster DNS on port 53 are let out; everything else is dropped. The
//! VXLAN packets themselves go to the gateway pod's address (a cluster address) and pass; the
//! charm reaches the API server at its Service address (before DNAT: inside the CIDRs).
//! IPv6: only the IPv6 cluster CIDRs and link-local/link-scoped-multicast destinations
//! (neighbour discovery) pass; without IPv6 cluster CIDRs that is none beyond the link.
//!
//! The script is a constant: the values arrive in the container's environment, rendered from
//! validated types (`ClusterCidrs`, the DNS address), and the script only passes them to
//! `iptables-restore` as single words it checks again (digits, dots, colons, hex, `/`). The
//! rules go in one `iptables-restore --noflush` per family: a chain of ours, re-filled
//! atomically on re-entry (a restarted init container), and one jump from `OUTPUT` added
//! only when missing, so a second run changes nothing. No client script removes them; they
//! live as long as the pod. If they cannot be installed the container fails (the pod does
//! not start): fail closed.
//!
//! When the relation goes, the routing containers go but this one stays (with the CIDRs it
//! was given, like the kept NetworkPolicy); `unsafe-mode` removes it, last.

use k8s_openapi::api::core::v1::Container;

use crate::pod::{POD_GATEWAY_IMAGE, env, net_admin, strings};
use crate::wire::ProviderData;

/// The init container installing the filter (runs first).
pub const KILLSWITCH_INIT: &str = "vpn-killswitch";
/// Environment: the cluster CIDRs let out, space-separated.
pub const ALLOWED_CIDRS_ENV: &str = "CHARMARR_ALLOWED_CIDRS";
/// Environment: the cluster DNS address, let out on port 53.
pub const DNS_IP_ENV: &str = "CHARMARR_DNS_IP";
/// Our iptables chain.
pub const CHAIN: &str = "CHARMARR-EGRESS";

/// The script run by `/bin/sh -c` in [`KILLSWITCH_INIT`] (POSIX sh; busybox ash in the image).
pub const KILLSWITCH_SCRIPT: &str = r#"set -eu
fail() {
    echo "vpn-killswitch: $*; the pod stays without egress until this is fixed" >&2
    exit 1
}
word() {
    case "$1" in
        '' | *[!0-9a-fA-F.:/]*) fail "refusing $2 value '$1'" ;;
    esac
}
v4="" v6=""
for cidr in $CHARMARR_ALLOWED_CIDRS; do
    word "$cidr" CHARMARR_ALLOWED_CIDRS
    case "$cidr" in
        *:*) v6="$v6 $cidr" ;;
        *) v4="$v4 $cidr" ;;
    esac
done
word "$CHARMARR_DNS_IP" CHARMARR_DNS_IP
rules() {
    family=$1 cidrs=$2 dns=$3
    echo "*filter"
    echo ":CHARMARR-EGRESS - [0:0]"
    echo "-A CHARMARR-EGRESS -o lo -j RETURN"
    if [ "$family" = 6 ]; then
        echo "-A CHARMARR-EGRESS -d fe80::/10 -j RETURN"
        echo "-A CHARMARR-EGRESS -d ff02::/16 -j RETURN"
    fi
    for cidr in $cidrs; do
        echo "-A CHARMARR-EGRESS -d $cidr -j RETURN"
    done
    if [ -n "$dns" ]; then
        echo "-A CHARMARR-EGRESS -d $dns -p udp --dport 53 -j RETURN"
        echo "-A CHARMARR-EGRESS -d $dns -p tcp --dport 53 -j RETURN"
    fi
    echo "-A CHARMARR-EGRESS -j DROP"
    if ! "$4" -w -C OUTPUT ! -o vxlan0 -j CHARMARR-EGRESS 2>/dev/null; then
        echo "-I OUTPUT 1 ! -o vxlan0 -j CHARMARR-EGRESS"
    fi
    echo "COMMIT"
}
case "$CHARMARR_DNS_IP" in
    *:*) dns4="" dns6="$CHARMARR_DNS_IP" ;;
    *) dns4="$CHARMARR_DNS_IP" dns6="" ;;
esac
rules 4 "$v4" "$dns4" iptables | iptables-restore -w --noflush || fail "cannot install the IPv4 rules"
if command -v ip6tables-restore >/dev/null 2>&1; then
    rules 6 "$v6" "$dns6" ip6tables | ip6tables-restore -w --noflush || fail "cannot install the IPv6 rules"
elif [ -n "$v6" ] || [ -s /proc/net/if_inet6 ]; then
    fail "IPv6 is enabled but ip6tables-restore is missing"
fi
echo "vpn-killswitch: egress limited to the cluster (IPv4:${v4:- none}; IPv6:${v6:- none})"
"#;

/// The [`KILLSWITCH_INIT`] container for the published data: NET_ADMIN, the CIDRs and the DNS
/// address in its environment.
pub fn killswitch_container(data: &ProviderData) -> Container {
    Container {
        name: KILLSWITCH_INIT.to_owned(),
        image: Some(POD_GATEWAY_IMAGE.to_owned()),
        command: Some(strings(&["/bin/sh", "-c", KILLSWITCH_SCRIPT])),
        security_context: Some(net_admin()),
        env: Some(vec![
            env(ALLOWED_CIDRS_ENV, data.cluster_cidrs.to_space_separated()),
            env(DNS_IP_ENV, data.cluster_dns_ip.to_string()),
        ]),
        ..Container::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_names_its_chain_and_variables() {
        assert_eq!(
            KILLSWITCH_SCRIPT.matches(&format!(":{CHAIN} ")).count(),
            1,
            "one chain declaration"
        );
        assert!(KILLSWITCH_SCRIPT.contains(&format!("${ALLOWED_CIDRS_ENV}")));
        assert!(KILLSWITCH_SCRIPT.contains(&format!("${DNS_IP_ENV}")));
        // Never reads or shadows what pod-gateway's scripts read.
        assert!(!KILLSWITCH_SCRIPT.contains("$gateway"));
        assert!(!KILLSWITCH_SCRIPT.contains("NOT_ROUTED_TO_GATEWAY_CIDRS"));
    }
}
