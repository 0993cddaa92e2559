//! Validated values: newtypes built only through their checking constructors, so what the
//! charms act on (a URL they publish, a claim they mount, an id they run a process as) never
//! holds a raw databag string.
//!
//! Each constructor returns a [`Problem`]; the reader attaches the field name. Application
//! names and namespaces are vpn-gateway-iface's [`AppName`] and [`Namespace`].

use std::fmt;

use vpn_gateway_iface::{AppName, DnsName, Namespace};

use crate::error::Problem;

/// A Juju secret URI in one of the two forms Juju prints (`core/secrets` `URI.String()`):
/// `secret:<id>` for a secret of the reader's own model, `secret://<model-uuid>/<id>` with the
/// owning model's UUID. `<id>` is an xid: 20 characters of base32hex, `[0-9a-v]`; the UUID is
/// lower-case hex `8-4-4-4-12`.
///
/// Juju's own parser also takes a bare `<id>`; no charm writes one (ops prefixes it), so it is
/// refused. The xid's last character carries one payload bit, so Juju's ids end in `0` or `g`;
/// that is not checked (any `[0-9a-v]` is taken), so a simulator's ids pass.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretId(String);

impl SecretId {
    /// Longest form: `secret://` + 36 + `/` + 20.
    pub const MAX_LEN: usize = 66;

    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text.len() > Self::MAX_LEN {
            return Err(Problem::BadSecretId("too long"));
        }
        let id = if let Some(rest) = text.strip_prefix("secret://") {
            let (uuid, id) = rest
                .split_once('/')
                .ok_or(Problem::BadSecretId("no '/' after the model UUID"))?;
            if !is_uuid(uuid) {
                return Err(Problem::BadSecretId(
                    "the model UUID is not lower-case hex 8-4-4-4-12",
                ));
            }
            id
        } else if let Some(id) = text.strip_prefix("secret:") {
            id
        } else {
            return Err(Problem::BadSecretId("does not start with secret:"));
        };
        if !is_xid(id) {
            return Err(Problem::BadSecretId(
                "the id is not 20 characters of 0-9 and a-v",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The URI, as Juju printed it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 20-character id.
    pub fn id(&self) -> &str {
        let start = self.0.len() - 20;
        &self.0[start..]
    }

    /// The owning model's UUID, in the long form.
    pub fn model_uuid(&self) -> Option<&str> {
        self.0
            .strip_prefix("secret://")
            .and_then(|rest| rest.split_once('/'))
            .map(|(uuid, _)| uuid)
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_xid(text: &str) -> bool {
    text.len() == 20
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, len)| {
            g.len() == len && g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP (what the reference clients publish).
    Http,
    /// HTTPS.
    Https,
}

impl Scheme {
    /// `http` / `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// The default Kubernetes cluster domain, which the reference hard-codes.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// A download client's API URL: `<scheme>://<service>.<namespace>.svc.<cluster-domain>:<port>`
/// and nothing else — the address of a Kubernetes Service, never an IP, a public host, user
/// info, a path, a query or a fragment.
///
/// - scheme `http` or `https`, lower case;
/// - `<service>` an RFC 1035 label (what Kubernetes requires of a Service name: lower-case
///   letters, digits and hyphens, starting with a letter, not ending with a hyphen, 1–63);
/// - `<namespace>` a [`Namespace`], then the literal label `svc`;
/// - `<cluster-domain>` a lower-case DNS name (`cluster.local` unless the cluster says
///   otherwise); the whole host at most 253 characters, no trailing dot;
/// - `<port>` required, decimal 1–65535, no sign and no leading zero.
///
/// The reference publishes `http://<app>.<model>.svc.cluster.local:8080`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiUrl {
    text: String,
    scheme: Scheme,
    /// Byte ranges of the service and namespace in `text`.
    service: (usize, usize),
    namespace: (usize, usize),
    port: u16,
}

impl ApiUrl {
    /// Longest URL accepted: `https://`, a 253-character host and `:65535`.
    pub const MAX_LEN: usize = 8 + 253 + 6;

    /// `http://<service>.<namespace>.svc.cluster.local:<port>`, what the reference publishes.
    pub fn in_cluster(
        service: &AppName,
        namespace: &Namespace,
        port: u16,
    ) -> Result<Self, Problem> {
        Self::parse(&format!(
            "http://{service}.{namespace}.svc.{CLUSTER_DOMAIN}:{port}"
        ))
    }

    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text.len() > Self::MAX_LEN {
            return Err(Problem::BadUrl("too long"));
        }
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = text.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else {
            return Err(Problem::BadUrl("the scheme is not http:// or https://"));
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err(Problem::BadUrl(
                "has user info, a path, a query or a fragment",
            ));
        }
        let (host, port) = rest.rsplit_once(':').ok_or(Problem::BadUrl("no port"))?;
        let port = parse_port(port).ok_or(Problem::BadUrl("the port is not 1-65535"))?;
        if host.len() > DnsName::MAX_LEN {
            return Err(Problem::BadUrl("the host is longer than 253 characters"));
        }
        let mut labels = host.splitn(4, '.');
        let service = labels.next().unwrap_or_default();
        let namespace = labels.next().unwrap_or_default();
        let svc = labels.next().unwrap_or_default();
        let domain = labels.next().unwrap_or_default();
        if !is_rfc1035_label(service) {
            return Err(Problem::BadUrl(
                "the host does not start with a service name",
            ));
        }
        if Namespace::parse(namespace).is_err() {
            return Err(Problem::BadUrl(
                "the host's second label is not a namespace",
            ));
        }
        if svc != "svc" {
            return Err(Problem::BadUrl(
                "the host is not <service>.<namespace>.svc.<domain>",
            ));
        }
        if domain.is_empty()
            || domain.bytes().any(|b| b.is_ascii_uppercase())
            || DnsName::parse(domain).is_err()
        {
            return Err(Problem::BadUrl(
                "the cluster domain is not a lower-case DNS name",
            ));
        }
        let start = text.len() - rest.len();
        Ok(Self {
            text: text.to_owned(),
            scheme,
            service: (start, start + service.len()),
            namespace: (
                start + service.len() + 1,
                start + service.len() + 1 + namespace.len(),
            ),
            port,
        })
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, `<service>.<namespace>.svc.<domain>`.
    pub fn host(&self) -> &str {
        let start = self.service.0;
        let end = self.text.len() - self.port_len() - 1;
        &self.text[start..end]
    }

    /// The Service name.
    pub fn service(&self) -> &str {
        &self.text[self.service.0..self.service.1]
    }

    /// The Service's namespace.
    pub fn namespace(&self) -> &str {
        &self.text[self.namespace.0..self.namespace.1]
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn port_len(&self) -> usize {
        self.port.to_string().len()
    }
}

impl fmt::Display for ApiUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_port(text: &str) -> Option<u16> {
    let canonical = !text.is_empty()
        && text.len() <= 5
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0');
    if canonical {
        text.parse().ok().filter(|p| *p >= 1)
    } else {
        None
    }
}

/// RFC 1035 label as Kubernetes checks Service names (`IsDNS1035Label`).
fn is_rfc1035_label(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && !text.ends_with('-')
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The URL path prefix a download client's web UI and API are served under (SABnzbd's
/// `url_base`): `/` followed by segments of ASCII letters, digits and `-._~`, e.g. `/sabnzbd`
/// or `/media/sab`; at most 255 bytes. No empty segment (`//`) except one trailing `/`
/// (the reference copies the operator's `ingress-path` as typed), no `.` or `..` segment, no
/// percent-escapes. `/` alone is refused: the reference writes `null` for "served at the
/// root".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BasePath(String);

impl BasePath {
    /// Longest path accepted.
    pub const MAX_LEN: usize = 255;

    /// `/<app>`: what the reference SABnzbd publishes when `ingress-path` is empty.
    pub fn for_app(app: &AppName) -> Self {
        Self(format!("/{app}"))
    }

    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text.len() > Self::MAX_LEN {
            return Err(Problem::BadPath("longer than 255 bytes"));
        }
        let rest = text
            .strip_prefix('/')
            .ok_or(Problem::BadPath("does not start with /"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Err(Problem::BadPath("the root is written as null"));
        }
        check_segments(rest, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
        })?;
        Ok(Self(text.to_owned()))
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BasePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks `/`-separated segments: none empty, none `.` or `..`, every byte `allowed`.
fn check_segments(text: &str, allowed: impl Fn(u8) -> bool) -> Result<(), Problem> {
    for segment in text.split('/') {
        if segment.is_empty() {
            return Err(Problem::BadPath("has an empty segment (//)"));
        }
        if segment == "." || segment == ".." {
            return Err(Problem::BadPath("has a . or .. segment"));
        }
        if !segment.bytes().all(&allowed) {
            return Err(Problem::BadPath(
                "only ASCII letters, digits and -._ are allowed (and ~ in a URL path)",
            ));
        }
    }
    Ok(())
}

/// A PersistentVolumeClaim name: a Kubernetes DNS-1123 subdomain (`IsDNS1123Subdomain`): at
/// most 253 characters of lower-case letters, digits, `-` and `.`, each dot-separated part
/// starting and ending with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PvcName(String);

impl PvcName {
    /// Longest name accepted.
    pub const MAX_LEN: usize = 253;

    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text.is_empty() {
            return Err(Problem::BadName("empty"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(Problem::BadName("longer than 253 characters"));
        }
        for part in text.split('.') {
            let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            if part.is_empty() {
                return Err(Problem::BadName("empty part between dots"));
            }
            if !part.bytes().all(|b| alnum(b) || b == b'-') {
                return Err(Problem::BadName(
                    "only lower-case letters, digits, '-' and '.' are allowed",
                ));
            }
            if part.starts_with('-') || part.ends_with('-') {
                return Err(Problem::BadName("a part starts or ends with a hyphen"));
            }
        }
        Ok(Self(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PvcName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the shared volume is mounted in the workload container: an absolute, normalised
/// path under one of [`MountPath::ROOTS`] (`/data`, the reference's only value, or a path
/// beneath `/data`, `/media`, `/mnt`, `/srv`). Segments of ASCII letters, digits and `-._`;
/// no empty, `.` or `..` segment, no trailing `/`; at most 255 bytes.
///
/// The allow-list is ours: a provider that could choose any path could mount the shared
/// volume, whose content every related application can write, over `/usr`, `/etc`, the
/// charm's `/config` storage or Juju's `/charm`, and so replace what the workload runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MountPath(String);

impl MountPath {
    /// The reference's default and only value.
    pub const DEFAULT: &str = "/data";
    /// The first segments a mount path may have.
    pub const ROOTS: [&str; 4] = ["data", "media", "mnt", "srv"];
    /// Longest path accepted.
    pub const MAX_LEN: usize = 255;

    /// `/data`.
    pub fn default_path() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text.len() > Self::MAX_LEN {
            return Err(Problem::BadPath("longer than 255 bytes"));
        }
        let rest = text
            .strip_prefix('/')
            .ok_or(Problem::BadPath("not absolute"))?;
        if rest.is_empty() {
            return Err(Problem::BadPath("the root / cannot be a mount path"));
        }
        check_segments(rest, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
        })?;
        let first = rest.split('/').next().unwrap_or_default();
        if !Self::ROOTS.contains(&first) {
            return Err(Problem::BadPath(
                "not /data or beneath /data, /media, /mnt or /srv",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for MountPath {
    fn default() -> Self {
        Self::default_path()
    }
}

impl fmt::Display for MountPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Smallest user or group id accepted: 0 (root) is refused.
pub const MIN_ID: u32 = 1;
/// Largest user or group id accepted: Kubernetes' own bound for `runAsUser` and `fsGroup`
/// (`IsValidUserID` / `IsValidGroupID`, 2^31 − 1).
pub const MAX_ID: u32 = 2_147_483_647;

fn check_id(value: impl TryInto<u32>) -> Result<u32, Problem> {
    match value.try_into() {
        Ok(v) if (MIN_ID..=MAX_ID).contains(&v) => Ok(v),
        _ => Err(Problem::OutOfRange {
            min: u64::from(MIN_ID),
            max: u64::from(MAX_ID),
        }),
    }
}

/// The user id the workloads run as and own the shared files with (LinuxServer's PUID),
/// [`MIN_ID`]–[`MAX_ID`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Puid(u32);

impl Puid {
    /// The reference's default.
    pub const DEFAULT: Self = Self(1000);

    /// Checks the range. Takes any integer type.
    pub fn new(value: impl TryInto<u32>) -> Result<Self, Problem> {
        check_id(value).map(Self)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Puid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The group id of the shared files (LinuxServer's PGID; the pods' `fsGroup`),
/// [`MIN_ID`]–[`MAX_ID`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pgid(u32);

impl Pgid {
    /// The reference's default.
    pub const DEFAULT: Self = Self(1000);

    /// Checks the range. Takes any integer type.
    pub fn new(value: impl TryInto<u32>) -> Result<Self, Problem> {
        check_id(value).map(Self)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Pgid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
