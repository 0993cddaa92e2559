//! Validated values: newtypes that can only be built through their checking constructors,
//! so builders never see a raw string from a databag or config.
//!
//! Each constructor returns a [`Problem`]; the caller attaches the field name, since the same
//! type is read from relation data (`vxlan_id`) and from config (`vxlan-id`).

use std::fmt;

use crate::error::{InvalidField, Problem};

/// VXLAN network identifier, 1–16777215 (24 bits, 0 reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VxlanId(u32);

impl VxlanId {
    /// Largest VXLAN network identifier.
    pub const MAX: u32 = 16_777_215;
    /// Default of docs/interface.md §2.
    pub const DEFAULT: Self = Self(42);

    /// Checks the range. Takes any integer type (`u64`, `i64`, `i128`, ...).
    pub fn new(value: impl TryInto<u32>) -> Result<Self, Problem> {
        match value.try_into() {
            Ok(v) if (1..=Self::MAX).contains(&v) => Ok(Self(v)),
            _ => Err(Problem::OutOfRange {
                min: 1,
                max: u64::from(Self::MAX),
            }),
        }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for VxlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// VXLAN UDP destination port, 1–65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VxlanPort(u16);

impl VxlanPort {
    /// Default of docs/interface.md §2: avoids 8472 (Flannel, Cilium) and 4789 (Calico).
    pub const DEFAULT: Self = Self(4790);

    /// Checks the range. Takes any integer type (`u64`, `i64`, `i128`, ...).
    pub fn new(value: impl TryInto<u16>) -> Result<Self, Problem> {
        match value.try_into() {
            Ok(v) if v >= 1 => Ok(Self(v)),
            _ => Err(Problem::OutOfRange {
                min: 1,
                max: u64::from(u16::MAX),
            }),
        }
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for VxlanPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The first three octets of the overlay /24, e.g. `172.16.0`.
///
/// Parsed strictly: exactly three dot-separated decimal integers 0–255, ASCII digits only,
/// no sign, no whitespace and no leading zeros (`016` could be read as octal by the tools
/// downstream). Displays in the same canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VxlanNetwork([u8; 3]);

impl VxlanNetwork {
    /// Default of docs/interface.md §2.
    pub const DEFAULT: Self = Self([172, 16, 0]);

    /// Parses `a.b.c`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let mut octets = [0_u8; 3];
        let mut parts = text.split('.');
        for octet in &mut octets {
            *octet = parts
                .next()
                .and_then(parse_octet)
                .ok_or(Problem::BadOverlayNetwork)?;
        }
        if parts.next().is_some() {
            return Err(Problem::BadOverlayNetwork);
        }
        Ok(Self(octets))
    }

    /// The three octets.
    pub fn octets(self) -> [u8; 3] {
        self.0
    }
}

fn parse_octet(text: &str) -> Option<u8> {
    let canonical = !text.is_empty()
        && text.len() <= 3
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

impl fmt::Display for VxlanNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.0;
        write!(f, "{a}.{b}.{c}")
    }
}

/// An RFC 1123 DNS name: at most 253 characters, dot-separated labels of 1–63 ASCII letters,
/// digits and hyphens that neither start nor end with a hyphen. No trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DnsName(String);

impl DnsName {
    /// Longest name accepted.
    pub const MAX_LEN: usize = 253;

    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text.is_empty() {
            return Err(Problem::BadDnsName("empty"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(Problem::BadDnsName("longer than 253 characters"));
        }
        for label in text.split('.') {
            check_label(label, false).map_err(Problem::BadDnsName)?;
        }
        Ok(Self(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks one RFC 1123 label (lower-case only when `lower`).
fn check_label(label: &str, lower: bool) -> Result<(), &'static str> {
    if label.is_empty() {
        return Err("empty label");
    }
    if label.len() > 63 {
        return Err("label longer than 63 characters");
    }
    let allowed = |b: u8| {
        b.is_ascii_digit()
            || b == b'-'
            || b.is_ascii_lowercase()
            || (!lower && b.is_ascii_uppercase())
    };
    if !label.bytes().all(allowed) {
        return Err(if lower {
            "only lower-case letters, digits and hyphens are allowed"
        } else {
            "only letters, digits and hyphens are allowed"
        });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("a label starts or ends with a hyphen");
    }
    Ok(())
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Juju application name: Juju's rule
/// `^(?:[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*)$` (hyphen-separated segments, the first
/// starting with a letter, every later one holding at least one letter), and at most 63
/// characters so it fits the `app.kubernetes.io/name` label Juju puts on its pods.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppName(String);

impl AppName {
    /// Longest name accepted (a Kubernetes label value).
    pub const MAX_LEN: usize = 63;

    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text.is_empty() {
            return Err(Problem::BadName("empty"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(Problem::BadName("longer than 63 characters"));
        }
        let mut segments = text.split('-');
        let first = segments.next().unwrap_or_default();
        if !first.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(Problem::BadName("must start with a lower-case letter"));
        }
        let lower_alnum = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if !lower_alnum(first) {
            return Err(Problem::BadName(
                "only lower-case letters, digits and hyphens are allowed",
            ));
        }
        for segment in segments {
            if segment.is_empty() {
                return Err(Problem::BadName("empty segment between hyphens"));
            }
            if !lower_alnum(segment) {
                return Err(Problem::BadName(
                    "only lower-case letters, digits and hyphens are allowed",
                ));
            }
            if !segment.bytes().any(|b| b.is_ascii_lowercase()) {
                return Err(Problem::BadName("a segment after a hyphen has no letter"));
            }
        }
        Ok(Self(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The application and model names Juju gives a charm (hook context) or an operator gives
/// `render`, checked: Juju guarantees both pass; anything else is refused, the error naming
/// `application` or `model`.
pub fn juju_names(app: &str, model: &str) -> Result<(AppName, Namespace), InvalidField> {
    let app = AppName::parse(app).map_err(|problem| InvalidField::new("application", problem))?;
    let model = Namespace::parse(model).map_err(|problem| InvalidField::new("model", problem))?;
    Ok((app, model))
}

/// A Kubernetes namespace (the Juju model name): an RFC 1123 label, lower case, 1–63
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(String);

impl Namespace {
    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        check_label(text, true).map_err(Problem::BadName)?;
        Ok(Self(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vxlan_id_range() {
        assert!(VxlanId::new(0).is_err());
        assert_eq!(VxlanId::new(1).map(VxlanId::get), Ok(1));
        assert_eq!(VxlanId::new(16_777_215).map(VxlanId::get), Ok(16_777_215));
        assert!(VxlanId::new(16_777_216).is_err());
        assert!(VxlanId::new(u64::MAX).is_err());
        assert!(VxlanId::new(-1_i64).is_err());
    }

    #[test]
    fn vxlan_port_range() {
        assert!(VxlanPort::new(0).is_err());
        assert_eq!(VxlanPort::new(65_535).map(VxlanPort::get), Ok(65_535));
        assert!(VxlanPort::new(65_536).is_err());
    }

    #[test]
    fn overlay_network() {
        assert_eq!(
            VxlanNetwork::parse("172.16.0")
                .map(|n| n.to_string())
                .as_deref(),
            Ok("172.16.0")
        );
        assert_eq!(
            VxlanNetwork::parse("0.0.255").map(VxlanNetwork::octets),
            Ok([0, 0, 255])
        );
        for bad in [
            "",
            "172.16",
            "172.16.0.1",
            "172.16.256",
            "172.016.0",
            "172.16.-1",
            "172.16.+1",
            " 172.16.0",
            "172.16.0 ",
            "a.b.c",
            "172..0",
            "1727.16.0",
            "１.2.3",
        ] {
            assert_eq!(
                VxlanNetwork::parse(bad),
                Err(Problem::BadOverlayNetwork),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dns_names() {
        for good in [
            "a",
            "vpnarr-endpoints.charmarr-downloads.svc.cluster.local",
            "A-1.b",
            "1a",
        ] {
            assert!(DnsName::parse(good).is_ok(), "{good}");
        }
        let long_label = "a".repeat(64);
        let too_long = ["a"; 128].join("."); // 255 characters
        for bad in [
            "",
            ".",
            "a.",
            ".a",
            "a..b",
            "-a",
            "a-",
            "a_b",
            "a b",
            "a;rm -rf",
            "a$(x)",
            long_label.as_str(),
            too_long.as_str(),
            "é.com",
        ] {
            assert!(DnsName::parse(bad).is_err(), "{bad}");
        }
        assert!(DnsName::parse(&["a"; 127].join(".")).is_ok()); // 253 characters
    }

    #[test]
    fn app_names_follow_juju() {
        for good in [
            "a",
            "qbittorrent",
            "gluetun-k8s",
            "vpn-2a",
            "a1-b2-c",
            "x-1a",
        ] {
            assert!(AppName::parse(good).is_ok(), "{good}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "1a",
            "-a",
            "a-",
            "a--b",
            "a-1",
            "gluetun-2",
            "A",
            "a_b",
            "a.b",
            "a b",
            long.as_str(),
        ] {
            assert!(AppName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn namespaces() {
        assert!(Namespace::parse("charmarr-downloads").is_ok());
        assert!(Namespace::parse("1model").is_ok());
        for bad in ["", "-a", "a-", "A", "a.b", &"a".repeat(64)] {
            assert!(Namespace::parse(bad).is_err(), "{bad}");
        }
    }
}
