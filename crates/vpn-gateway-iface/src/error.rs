//! The one validation error: which field is wrong and what is wrong with it.
//!
//! Relation data comes from another model and is untrusted, so the error never echoes raw
//! input back (it ends up in `juju status`): it names the field and describes the problem,
//! quoting only values that have already been parsed into a safe form.

use std::fmt;

/// A value that failed validation. `field` is the databag field (`vxlan_id`, ...) or config
/// option (`cluster-cidrs`, ...) the caller was reading; `problem` says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidField {
    /// The field or option that is wrong.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: Problem,
}

impl InvalidField {
    /// Shorthand used by the parsers.
    pub(crate) fn new(field: &'static str, problem: Problem) -> Self {
        Self { field, problem }
    }
}

/// What is wrong with a field. Displays as a short lower-case phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A required field is absent.
    Missing,
    /// The JSON value has the wrong type (`expected` names the right one).
    WrongType {
        /// "a string", "an integer", ...
        expected: &'static str,
    },
    /// An integer outside its range.
    OutOfRange {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// The whole value is larger than allowed.
    TooLarge {
        /// Limit in bytes or characters.
        max: usize,
    },
    /// Not a JSON object (or not JSON at all).
    NotJsonObject,
    /// `routing_method` other than `pod-gateway`.
    UnsupportedRoutingMethod,
    /// Not three dot-separated integers 0–255 without leading zeros.
    BadOverlayNetwork,
    /// A CIDR list with no entries.
    NoCidrs,
    /// A CIDR list with more entries than allowed.
    TooManyCidrs {
        /// The limit.
        max: usize,
    },
    /// The entry at `index` (0-based, after dropping empty entries) is not a CIDR.
    BadCidr {
        /// Position in the list.
        index: usize,
    },
    /// A well-formed CIDR outside the private and link-local ranges.
    PublicCidr {
        /// The offending CIDR, as parsed (safe to show).
        cidr: ipnet::IpNet,
    },
    /// A cluster CIDR that contains the cloud metadata address `169.254.169.254`.
    MetadataCidr {
        /// The offending CIDR, as parsed (safe to show).
        cidr: ipnet::IpNet,
    },
    /// A well-formed address that cannot be the cluster DNS Service's: not a private or
    /// link-local unicast address (public, loopback, unspecified or multicast).
    NotClusterAddress {
        /// The address (safe to show).
        ip: std::net::IpAddr,
    },
    /// Not an IPv4 or IPv6 address.
    BadIp,
    /// An address that cannot be a peer we let out to: unspecified, multicast, broadcast or
    /// the cloud metadata address.
    NotUnicast {
        /// The address (safe to show).
        ip: std::net::IpAddr,
    },
    /// A list with more entries than allowed.
    TooMany {
        /// The limit.
        max: usize,
    },
    /// Not an RFC 1123 DNS name; the text says why.
    BadDnsName(&'static str),
    /// Not a Juju application name (or a Kubernetes namespace name); the text says why.
    BadName(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("missing"),
            Self::WrongType { expected } => write!(f, "must be {expected}"),
            Self::OutOfRange { min, max } => write!(f, "must be an integer from {min} to {max}"),
            Self::TooLarge { max } => write!(f, "longer than {max} bytes"),
            Self::NotJsonObject => f.write_str("not a JSON object"),
            Self::UnsupportedRoutingMethod => {
                f.write_str("unsupported routing method (only pod-gateway is supported)")
            }
            Self::BadOverlayNetwork => {
                f.write_str("must be three dot-separated integers 0-255, e.g. 172.16.0")
            }
            Self::NoCidrs => f.write_str("no CIDR given"),
            Self::TooManyCidrs { max } => write!(f, "more than {max} CIDRs"),
            Self::BadCidr { index } => write!(f, "entry {} is not a valid CIDR", index + 1),
            Self::PublicCidr { cidr } => write!(
                f,
                "{cidr} is not inside a private or link-local range (it would bypass the VPN)"
            ),
            Self::MetadataCidr { cidr } => write!(
                f,
                "{cidr} contains the cloud metadata address 169.254.169.254 (the kill switch \
                 would let the client reach it)"
            ),
            Self::NotClusterAddress { ip } => write!(
                f,
                "{ip} is not a private or link-local unicast address (not a cluster address)"
            ),
            Self::BadIp => f.write_str("not a valid IP address"),
            Self::NotUnicast { ip } => write!(
                f,
                "{ip} is not a unicast address we may let out to (unspecified, multicast, \
                 broadcast or the cloud metadata address)"
            ),
            Self::TooMany { max } => write!(f, "more than {max} entries"),
            Self::BadDnsName(why) => write!(f, "not a valid DNS name: {why}"),
            Self::BadName(why) => write!(f, "not a valid name: {why}"),
        }
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_and_problem() {
        let e = InvalidField::new(
            "vxlan_id",
            Problem::OutOfRange {
                min: 1,
                max: 16_777_215,
            },
        );
        assert_eq!(
            e.to_string(),
            "vxlan_id: must be an integer from 1 to 16777215"
        );
        let e = InvalidField::new("cluster_cidrs", Problem::BadCidr { index: 0 });
        assert_eq!(e.to_string(), "cluster_cidrs: entry 1 is not a valid CIDR");
    }
}
