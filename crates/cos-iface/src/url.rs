//! URLs read from COS providers: `http(s)://<host>[:<port>][<path>]` and nothing else.
//!
//! What a Loki or Tempo provider publishes becomes the destination of everything the charm
//! logs and traces, so a URL is refused unless every part is plain: no user info (a URL that
//! carries credentials, or a `user@` that hides the real host), no query or fragment, no
//! percent-encoding, no `.`/`..`/empty path segments, no spaces, control or non-ASCII
//! characters. The host is a lower-case DNS name, a dotted-quad IPv4 address without leading
//! zeros (no `0x7f.1`, `2130706433` or `010.0.0.1`) or a bracketed IPv6 address (no zone).
//! The port may be left out (an ingress URL has none); when given it is decimal 1–65535
//! without a leading zero.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use vpn_gateway_iface::DnsName;

use crate::error::Problem;

/// Longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
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

/// A checked `http(s)` URL (see the module documentation for the rules).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl {
    text: String,
    scheme: Scheme,
    host: (usize, usize),
    port: Option<u16>,
    path_start: usize,
}

impl HttpUrl {
    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text.len() > MAX_URL_LEN {
            return Err(Problem::BadUrl("too long"));
        }
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = text.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else {
            return Err(Problem::BadUrl("the scheme is not http:// or https://"));
        };
        check_characters(rest)?;
        let authority_len = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_len);
        let (host, port) = split_host_port(authority)?;
        let port = port.map(parse_port).transpose()?;
        check_path(path)?;
        let start = text.len() - rest.len();
        Ok(Self {
            text: text.to_owned(),
            scheme,
            host: (start, start + host.len()),
            port,
            path_start: start + authority_len,
        })
    }

    /// The URL, as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host (an IPv6 address with its brackets).
    pub fn host(&self) -> &str {
        &self.text[self.host.0..self.host.1]
    }

    /// The port, when the URL names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port, or the scheme's default (80, 443).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(match self.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        })
    }

    /// The path, `""` or starting with `/`.
    pub fn path(&self) -> &str {
        &self.text[self.path_start..]
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A gRPC address, `<host>:<port>` with no scheme (what a tracing provider publishes for its
/// `grpc` receivers). Host and port follow the [`HttpUrl`] rules; the port is required.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    text: String,
    port: u16,
}

impl HostPort {
    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text.len() > MAX_URL_LEN {
            return Err(Problem::BadUrl("too long"));
        }
        if text.contains("://") {
            return Err(Problem::BadUrl("a gRPC address has no scheme"));
        }
        check_characters(text)?;
        if text.contains('/') {
            return Err(Problem::BadUrl("a gRPC address has no path"));
        }
        let (_, port) = split_host_port(text)?;
        let port = parse_port(port.ok_or(Problem::BadUrl("no port"))?)?;
        Ok(Self {
            text: text.to_owned(),
            port,
        })
    }

    /// The address, as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

fn check_characters(rest: &str) -> Result<(), Problem> {
    if rest.contains('@') {
        return Err(Problem::BadUrl("has user info"));
    }
    if rest.contains(['?', '#']) {
        return Err(Problem::BadUrl("has a query or a fragment"));
    }
    if rest.contains('%') {
        return Err(Problem::BadUrl("has percent-encoding"));
    }
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~/:[]".contains(&b);
    if !rest.bytes().all(plain) {
        return Err(Problem::BadUrl(
            "has a character other than letters, digits and -._~/:[]",
        ));
    }
    Ok(())
}

/// Splits `host[:port]` (`[v6][:port]`) and checks the host.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), Problem> {
    if authority.is_empty() {
        return Err(Problem::BadUrl("no host"));
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority
            .find(']')
            .ok_or(Problem::BadUrl("an IPv6 host has no closing bracket"))?;
        let (host, after) = authority.split_at(close + 1);
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or(Problem::BadUrl("text after the IPv6 host"))?,
            ),
        };
        if host[1..host.len() - 1].parse::<Ipv6Addr>().is_err() {
            return Err(Problem::BadUrl("the host is not an IPv6 address"));
        }
        (host, port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        check_host(host)?;
        (host, port)
    };
    Ok((host, port))
}

fn check_host(host: &str) -> Result<(), Problem> {
    if host.is_empty() {
        return Err(Problem::BadUrl("no host"));
    }
    if host.contains(['[', ']']) {
        return Err(Problem::BadUrl("a bracket outside an IPv6 host"));
    }
    let last = host.rsplit('.').next().unwrap_or_default();
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        // A numeric last label is an IPv4 address or nothing: `127.1`, `2130706433` and
        // `010.0.0.1` resolve differently in different resolvers.
        return host.parse::<Ipv4Addr>().map(|_| ()).map_err(|_| {
            Problem::BadUrl("the host is not a dotted-quad IPv4 address without leading zeros")
        });
    }
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Problem::BadUrl("the host is not lower case"));
    }
    DnsName::parse(host).map_err(|_| Problem::BadUrl("the host is not a DNS name"))?;
    Ok(())
}

fn parse_port(text: &str) -> Result<u16, Problem> {
    let bad = Problem::BadUrl("the port is not 1-65535");
    if text.is_empty()
        || text.len() > 5
        || !text.bytes().all(|b| b.is_ascii_digit())
        || text.starts_with('0')
    {
        return Err(bad);
    }
    text.parse::<u16>().map_err(|_| bad)
}

fn check_path(path: &str) -> Result<(), Problem> {
    if path.is_empty() || path == "/" {
        return Ok(());
    }
    if path.contains(':') || path.contains('[') || path.contains(']') {
        return Err(Problem::BadUrl("the path has a ':' or a bracket"));
    }
    let inner = path[1..].strip_suffix('/').unwrap_or(&path[1..]);
    if inner
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(Problem::BadUrl(
            "the path has an empty, '.' or '..' segment",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_plain_urls() {
        let u = HttpUrl::parse(
            "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push",
        )
        .unwrap();
        assert_eq!(u.host(), "loki-0.loki-endpoints.cos.svc.cluster.local");
        assert_eq!(u.port(), Some(3100));
        assert_eq!(u.path(), "/loki/api/v1/push");
        let u = HttpUrl::parse("https://10.1.2.3/cos-loki-0/loki/api/v1/push").unwrap();
        assert_eq!((u.port(), u.port_or_default()), (None, 443));
        let u = HttpUrl::parse("http://[fd00::1]:4318").unwrap();
        assert_eq!((u.host(), u.path()), ("[fd00::1]", ""));
        assert_eq!(
            HostPort::parse("tempo.cos.svc.cluster.local:4317")
                .unwrap()
                .port(),
            4317
        );
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "javascript:alert(1)",
            "HTTP://loki:3100",
            "ftp://loki:3100",
            "http://",
            "http://:3100/x",
            "http://user:pw@loki:3100",
            "http://loki:3100@evil.example",
            "http://loki:/x",
            "http://loki:0",
            "http://loki:03100",
            "http://loki:65536",
            "http://loki:+80",
            "http://010.0.0.1:3100",
            "http://127.1:3100",
            "http://2130706433:3100",
            "http://Loki:3100",
            "http://lo ki:3100",
            "http://loki:3100/a/../b",
            "http://loki:3100//x",
            "http://loki:3100/%2e%2e",
            "http://loki:3100/x?y",
            "http://loki:3100/x#y",
            "http://loki:3100/\n",
            "http://lokі:3100",
            "http://[fe80::1%25eth0]:80",
            "http://[::1",
            "http://-loki:3100",
            "http://loki:3100/a:b",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "http://tempo:4317",
            "tempo",
            "tempo:",
            "tempo:4317/x",
            "u@tempo:4317",
        ] {
            assert!(HostPort::parse(bad).is_err(), "{bad:?}");
        }
    }
}
