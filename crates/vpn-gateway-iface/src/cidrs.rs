//! The list of CIDRs that must NOT be routed to the gateway (`cluster_cidrs`).
//!
//! Every entry must lie inside a private or link-local range: a public range such as
//! `0.0.0.0/0` in this list would send the client's traffic around the VPN, so it is refused.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::error::Problem;

/// Istio ambient ztunnel's link-local SNAT address, added by the gateway to what it publishes.
pub const ZTUNNEL_LINK_LOCAL: IpNet =
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 7, 127), 32));

/// The cloud metadata service's address (AWS, GCP, Azure, OpenStack): a cluster CIDR that
/// contains it would let the kill switch allow the client to reach the node's cloud
/// credentials, so such a range is refused.
pub const CLOUD_METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// The ranges a cluster CIDR may lie in (docs/interface.md §2).
pub const ALLOWED_RANGES: [IpNet; 7] = [
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8)),
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12)),
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16)),
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10)),
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 0, 0), 16)),
    IpNet::V6(Ipv6Net::new_assert(
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
    )),
    IpNet::V6(Ipv6Net::new_assert(
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
    )),
];

/// Whether `net` lies inside one of [`ALLOWED_RANGES`].
pub fn is_cluster_range(net: &IpNet) -> bool {
    ALLOWED_RANGES.iter().any(|range| range.contains(net))
}

/// Whether the address part of a CIDR has an IPv4 octet with a leading zero (`010.0.0.0/8`,
/// `10.010.0.0/16`): ipnet's parser accepts them, where std's address parser refuses them.
/// IPv6 text is not dotted and never matches, except for an embedded IPv4 tail, which is
/// checked the same way.
fn has_leading_zero_octet(text: &str) -> bool {
    let address = text.split('/').next().unwrap_or(text);
    let tail = address.rsplit(':').next().unwrap_or(address);
    tail.contains('.')
        && tail
            .split('.')
            .any(|octet| octet.len() > 1 && octet.starts_with('0'))
}

/// A validated, non-empty list of at most [`ClusterCidrs::MAX`] private or link-local CIDRs,
/// in the order given, duplicates removed, each normalised to its network address
/// (`10.1.2.3/8` becomes `10.0.0.0/8`, which is what routing and NetworkPolicy mean by it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClusterCidrs(Vec<IpNet>);

impl ClusterCidrs {
    /// Most entries accepted.
    pub const MAX: usize = 64;

    /// Parses a comma-separated list. Whitespace around entries and empty entries are ignored
    /// (the reference writer can emit `a,,b`).
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let mut nets = Vec::new();
        for (index, entry) in text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            if index >= Self::MAX {
                return Err(Problem::TooManyCidrs { max: Self::MAX });
            }
            // A leading zero could be read as octal (`010` = 8) by another parser: refused, as
            // Python's `ipaddress` (the reference's parser) refuses it.
            if has_leading_zero_octet(entry) {
                return Err(Problem::BadCidr { index });
            }
            let net: IpNet = entry.parse().map_err(|_| Problem::BadCidr { index })?;
            nets.push(net);
        }
        Self::from_nets(nets)
    }

    /// Checks an already-parsed list.
    pub fn from_nets(nets: impl IntoIterator<Item = IpNet>) -> Result<Self, Problem> {
        let mut out: Vec<IpNet> = Vec::new();
        for net in nets {
            let net = net.trunc();
            if !is_cluster_range(&net) {
                return Err(Problem::PublicCidr { cidr: net });
            }
            if net.contains(&std::net::IpAddr::V4(CLOUD_METADATA)) {
                return Err(Problem::MetadataCidr { cidr: net });
            }
            if !out.contains(&net) {
                if out.len() == Self::MAX {
                    return Err(Problem::TooManyCidrs { max: Self::MAX });
                }
                out.push(net);
            }
        }
        if out.is_empty() {
            return Err(Problem::NoCidrs);
        }
        Ok(Self(out))
    }

    /// This list plus `net` at the end (unless already present).
    pub fn with(&self, net: IpNet) -> Result<Self, Problem> {
        Self::from_nets(self.0.iter().copied().chain([net]))
    }

    /// The entries.
    pub fn as_slice(&self) -> &[IpNet] {
        &self.0
    }

    /// Comma-separated, no spaces: the wire form and gluetun's `FIREWALL_OUTBOUND_SUBNETS`.
    pub fn to_comma_separated(&self) -> String {
        self.join(",")
    }

    /// Space-separated: pod-gateway's client `NOT_ROUTED_TO_GATEWAY_CIDRS`.
    pub fn to_space_separated(&self) -> String {
        self.join(" ")
    }

    fn join(&self, separator: &str) -> String {
        self.0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(separator)
    }
}

impl fmt::Display for ClusterCidrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_comma_separated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<String, Problem> {
        ClusterCidrs::parse(text).map(|c| c.to_comma_separated())
    }

    #[test]
    fn separators_whitespace_and_empty_entries() {
        assert_eq!(
            parse("10.1.0.0/16,,10.152.183.0/24").as_deref(),
            Ok("10.1.0.0/16,10.152.183.0/24")
        );
        assert_eq!(
            parse(" 10.1.0.0/16 , 192.168.0.0/16 ,").as_deref(),
            Ok("10.1.0.0/16,192.168.0.0/16")
        );
        assert_eq!(parse("10.0.0.0/8,10.0.0.0/8").as_deref(), Ok("10.0.0.0/8"));
        assert_eq!(parse("10.1.2.3/8").as_deref(), Ok("10.0.0.0/8"));
        assert_eq!(
            parse("fd00::/8,fe80::1/64").as_deref(),
            Ok("fd00::/8,fe80::/64")
        );
        assert_eq!(parse("169.254.7.127/32").as_deref(), Ok("169.254.7.127/32"));
        assert_eq!(
            ClusterCidrs::parse("10.0.0.0/8")
                .map(|c| c.to_space_separated())
                .as_deref(),
            Ok("10.0.0.0/8")
        );
    }

    #[test]
    fn leading_zeros_and_the_metadata_address_are_refused() {
        for octal in [
            "010.0.0.0/8",
            "10.010.0.0/16",
            "10.0.0.00/24",
            "::ffff:10.0.0.01/128",
        ] {
            assert_eq!(parse(octal), Err(Problem::BadCidr { index: 0 }), "{octal}");
        }
        assert_eq!(parse("10.0.0.0/8").as_deref(), Ok("10.0.0.0/8"));
        assert_eq!(parse("100.64.0.0/10").as_deref(), Ok("100.64.0.0/10"));
        for metadata in ["169.254.0.0/16", "169.254.169.0/24", "169.254.169.254/32"] {
            assert!(
                matches!(parse(metadata), Err(Problem::MetadataCidr { .. })),
                "{metadata}"
            );
        }
        // Other link-local ranges (Istio ambient's ztunnel address) stay allowed.
        assert_eq!(parse("169.254.7.0/24").as_deref(), Ok("169.254.7.0/24"));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(""), Err(Problem::NoCidrs));
        assert_eq!(parse(" , ,"), Err(Problem::NoCidrs));
        assert_eq!(parse("10.0.0.0/8,nope"), Err(Problem::BadCidr { index: 1 }));
        assert_eq!(parse("10.0.0.0"), Err(Problem::BadCidr { index: 0 }));
        assert_eq!(parse("10.0.0.0/33"), Err(Problem::BadCidr { index: 0 }));
        assert_eq!(
            parse("10.0.0.0/8;reboot"),
            Err(Problem::BadCidr { index: 0 })
        );
        for public in [
            "0.0.0.0/0",
            "8.8.8.0/24",
            "10.0.0.0/7",
            "172.32.0.0/16",
            "::/0",
            "2001:db8::/32",
            "::ffff:10.0.0.0/104",
        ] {
            assert!(
                matches!(parse(public), Err(Problem::PublicCidr { .. })),
                "{public}"
            );
        }
        let many: Vec<String> = (0..65).map(|i| format!("10.{i}.0.0/16")).collect();
        assert_eq!(
            parse(&many.join(",")),
            Err(Problem::TooManyCidrs { max: 64 })
        );
        assert!(parse(&many[..64].join(",")).is_ok());
    }

    #[test]
    fn with_appends_once_and_respects_the_limit() {
        let base = ClusterCidrs::parse("10.1.0.0/16").unwrap_or_else(|e| panic!("{e}"));
        let with = base
            .with(ZTUNNEL_LINK_LOCAL)
            .map(|c| c.to_comma_separated());
        assert_eq!(with.as_deref(), Ok("10.1.0.0/16,169.254.7.127/32"));
        let twice = base
            .with(ZTUNNEL_LINK_LOCAL)
            .and_then(|c| c.with(ZTUNNEL_LINK_LOCAL));
        assert_eq!(twice.map(|c| c.as_slice().len()), Ok(2));
        let many: Vec<String> = (0..64).map(|i| format!("10.{i}.0.0/16")).collect();
        let full = ClusterCidrs::parse(&many.join(",")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            full.with(ZTUNNEL_LINK_LOCAL),
            Err(Problem::TooManyCidrs { max: 64 })
        );
    }
}
