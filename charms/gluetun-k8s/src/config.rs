//! The charm config, parsed and validated in one place. Every option is checked before use;
//! a problem becomes Blocked naming the option (`<option>: <what is wrong>`). Option names,
//! types and defaults equal the reference charm's (metadata/gluetun-k8s/charmcraft.yaml).

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ipnet::IpNet;
use serde_json::{Map, Value};
use vpn_gateway_iface::{ClusterCidrs, VxlanId};

use crate::overrides;

/// A config option that is wrong, and what is wrong with it. Never echoes the raw value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option}: {problem}")]
pub struct ConfigError {
    /// The option's name as the operator types it.
    pub option: &'static str,
    /// What is wrong.
    pub problem: String,
}

fn err(option: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        option,
        problem: problem.into(),
    }
}

/// Providers for which gluetun needs `WIREGUARD_ADDRESSES`.
const NEED_ADDRESSES: [&str; 2] = ["mullvad", "custom"];
const MAX_TEXT: usize = 1024;

/// Validated charm config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `cluster-cidrs`: private or link-local ranges only.
    pub cluster_cidrs: ClusterCidrs,
    /// `vpn-provider`, lower-cased.
    pub provider: String,
    /// `wireguard-private-key-secret`: the secret's URI or id.
    pub private_key_secret: String,
    /// `wireguard-addresses`.
    pub wireguard_addresses: Vec<IpNet>,
    /// `server-countries`.
    pub server_countries: Option<String>,
    /// `server-cities`.
    pub server_cities: Option<String>,
    /// For provider `custom`: endpoint IP, port and server public key.
    pub custom_endpoint: Option<CustomEndpoint>,
    /// `vxlan-id`.
    pub vxlan_id: VxlanId,
    /// `dns-over-tls`.
    pub dns_over_tls: bool,
    /// `custom-overrides`: names that are neither the charm's nor refused
    /// ([`overrides::refusal`]), values bounded and without control characters.
    pub overrides: BTreeMap<String, String>,
}

/// The `custom` provider's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomEndpoint {
    /// `vpn-endpoint-ip`.
    pub ip: IpAddr,
    /// `vpn-endpoint-port`.
    pub port: u16,
    /// `wireguard-public-key`.
    pub public_key: String,
}

impl Config {
    /// Parses the output of `config-get --format=json`. Checks run in the order an operator
    /// fixes things: required options first.
    pub fn parse(raw: &Map<String, Value>) -> Result<Self, ConfigError> {
        let vpn_type = text(raw, "vpn-type")?.unwrap_or_else(|| "wireguard".into());
        if !vpn_type.eq_ignore_ascii_case("wireguard") {
            return Err(err("vpn-type", "only wireguard is supported"));
        }
        let cidrs_text =
            text(raw, "cluster-cidrs")?.ok_or_else(|| err("cluster-cidrs", "required"))?;
        let cluster_cidrs =
            ClusterCidrs::parse(&cidrs_text).map_err(|p| err("cluster-cidrs", p.to_string()))?;
        let provider = text(raw, "vpn-provider")?
            .ok_or_else(|| err("vpn-provider", "required"))?
            .to_ascii_lowercase();
        let provider_ok = provider.len() <= 64
            && provider.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b' ' | b'.' | b'-' | b'_')
            });
        if !provider_ok {
            return Err(err(
                "vpn-provider",
                "must be a gluetun provider name (letters, digits, spaces, '.', '-')",
            ));
        }
        let private_key_secret = text(raw, "wireguard-private-key-secret")?.ok_or_else(|| {
            err(
                "wireguard-private-key-secret",
                "required: a Juju secret with a private-key attribute",
            )
        })?;
        if !is_secret_ref(&private_key_secret) {
            return Err(err("wireguard-private-key-secret", "not a Juju secret URI"));
        }

        let wireguard_addresses = match text(raw, "wireguard-addresses")? {
            None => Vec::new(),
            Some(list) => parse_addresses(&list)?,
        };
        if NEED_ADDRESSES.contains(&provider.as_str()) && wireguard_addresses.is_empty() {
            return Err(err(
                "wireguard-addresses",
                format!("required for provider {provider}"),
            ));
        }
        let server_countries = free_text(raw, "server-countries")?;
        let server_cities = free_text(raw, "server-cities")?;

        let custom_endpoint = if provider == "custom" {
            let ip = text(raw, "vpn-endpoint-ip")?
                .ok_or_else(|| err("vpn-endpoint-ip", "required for provider custom"))?
                .parse::<IpAddr>()
                .map_err(|_| err("vpn-endpoint-ip", "not an IP address"))?;
            let port = int(raw, "vpn-endpoint-port", 51_820)?;
            let port = u16::try_from(port)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| err("vpn-endpoint-port", "must be 1-65535"))?;
            let public_key = text(raw, "wireguard-public-key")?
                .ok_or_else(|| err("wireguard-public-key", "required for provider custom"))?;
            if !is_wireguard_key(&public_key) {
                return Err(err(
                    "wireguard-public-key",
                    "not a WireGuard key (44 characters of base64)",
                ));
            }
            Some(CustomEndpoint {
                ip,
                port,
                public_key,
            })
        } else {
            None
        };

        let vxlan_id =
            VxlanId::new(int(raw, "vxlan-id", 42)?).map_err(|p| err("vxlan-id", p.to_string()))?;
        let dns_over_tls = match raw.get("dns-over-tls") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(err("dns-over-tls", "must be true or false")),
        };
        let overrides = match text(raw, "custom-overrides")? {
            None => BTreeMap::new(),
            Some(json) => parse_overrides(&json)?,
        };

        Ok(Self {
            cluster_cidrs,
            provider,
            private_key_secret,
            wireguard_addresses,
            server_countries,
            server_cities,
            custom_endpoint,
            vxlan_id,
            dns_over_tls,
            overrides,
        })
    }
}

/// A string option, trimmed; empty counts as unset.
fn text(raw: &Map<String, Value>, option: &'static str) -> Result<Option<String>, ConfigError> {
    match raw.get(option) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.len() > 64 * 1024 {
                return Err(err(option, "too long"));
            }
            Ok((!t.is_empty()).then(|| t.to_owned()))
        }
        Some(_) => Err(err(option, "must be a string")),
    }
}

fn int(raw: &Map<String, Value>, option: &'static str, default: i64) -> Result<i64, ConfigError> {
    match raw.get(option) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| err(option, "must be an integer")),
        Some(_) => Err(err(option, "must be an integer")),
    }
}

/// Free text that ends up in an environment variable: bounded, no control characters.
fn free_text(
    raw: &Map<String, Value>,
    option: &'static str,
) -> Result<Option<String>, ConfigError> {
    let value = text(raw, option)?;
    if let Some(v) = &value
        && (v.len() > MAX_TEXT || v.chars().any(char::is_control))
    {
        return Err(err(
            option,
            "must be at most 1024 characters without control characters",
        ));
    }
    Ok(value)
}

fn parse_addresses(list: &str) -> Result<Vec<IpNet>, ConfigError> {
    let entries: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if entries.len() > 8 {
        return Err(err("wireguard-addresses", "at most 8 addresses"));
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.parse::<IpNet>().map_err(|_| {
                err(
                    "wireguard-addresses",
                    format!("entry {} is not an address in CIDR form", i + 1),
                )
            })
        })
        .collect()
}

/// A Juju secret reference: `secret:<id>`, `secret://<model-uuid>/<id>` or a bare id.
fn is_secret_ref(s: &str) -> bool {
    s.len() <= 256
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'-' | b'_' | b'.'))
        && !s.starts_with('-')
}

/// A WireGuard key: base64 of exactly 32 bytes.
pub fn is_wireguard_key(s: &str) -> bool {
    s.len() == 44 && STANDARD.decode(s).is_ok_and(|k| k.len() == 32)
}

fn parse_overrides(json: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    const OPT: &str = "custom-overrides";
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) else {
        return Err(err(OPT, "must be a JSON object of environment variables"));
    };
    if map.len() > 64 {
        return Err(err(OPT, "at most 64 variables"));
    }
    let mut out = BTreeMap::new();
    for (name, value) in map {
        // Checked first: only such a name is echoed in a message.
        let name_ok = name.len() <= 64
            && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(err(
                OPT,
                "variable names must be upper-case letters, digits and '_'",
            ));
        }
        if let Some(refusal) = overrides::refusal(&name) {
            return Err(err(OPT, refusal.to_string()));
        }
        let normalized = overrides::normalize(&name);
        if name != normalized {
            // gluetun would read it as `normalized`: one spelling per variable.
            return Err(err(OPT, format!("{name} must be written {normalized}")));
        }
        let value = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(err(
                    OPT,
                    format!("{name} must be a string, number or boolean"),
                ));
            }
        };
        if value.len() > MAX_TEXT || value.chars().any(char::is_control) {
            return Err(err(
                OPT,
                format!("{name} must be at most 1024 characters without control characters"),
            ));
        }
        out.insert(name, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Map<String, Value> {
        let Value::Object(m) = json!({
            "cluster-cidrs": "10.1.0.0/16, 10.152.183.0/24",
            "vpn-provider": "ProtonVPN",
            "vpn-type": "wireguard",
            "wireguard-private-key-secret": "secret:d0f6t2fmp25c77ggkdsg",
            "wireguard-addresses": "",
            "server-countries": "Netherlands,Switzerland",
            "server-cities": "",
            "vpn-endpoint-ip": "",
            "vpn-endpoint-port": 51820,
            "wireguard-public-key": "",
            "vxlan-id": 42,
            "dns-over-tls": false,
            "custom-overrides": ""
        }) else {
            unreachable!()
        };
        m
    }

    fn with(key: &str, v: Value) -> Map<String, Value> {
        let mut m = base();
        m.insert(key.into(), v);
        m
    }

    #[test]
    fn valid_config() {
        let c = Config::parse(&base()).unwrap();
        assert_eq!(c.provider, "protonvpn");
        assert_eq!(
            c.cluster_cidrs.to_comma_separated(),
            "10.1.0.0/16,10.152.183.0/24"
        );
        assert_eq!(
            c.server_countries.as_deref(),
            Some("Netherlands,Switzerland")
        );
        assert_eq!(c.server_cities, None);
        assert_eq!(c.custom_endpoint, None);
        assert_eq!(c.vxlan_id.get(), 42);
    }

    #[test]
    fn each_bad_option_is_named() {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let cases: Vec<(Map<String, Value>, &str)> = vec![
            (with("vpn-type", json!("openvpn")), "vpn-type"),
            (with("cluster-cidrs", json!("")), "cluster-cidrs"),
            (with("cluster-cidrs", json!("0.0.0.0/0")), "cluster-cidrs"),
            (
                with("cluster-cidrs", json!("10.0.0.0/8; rm -rf /")),
                "cluster-cidrs",
            ),
            (with("vpn-provider", json!("")), "vpn-provider"),
            (with("vpn-provider", json!("a$(reboot)")), "vpn-provider"),
            (
                with("wireguard-private-key-secret", Value::Null),
                "wireguard-private-key-secret",
            ),
            (
                with("wireguard-private-key-secret", json!("secret:x y")),
                "wireguard-private-key-secret",
            ),
            (
                with("vpn-provider", json!("mullvad")),
                "wireguard-addresses",
            ),
            (
                with("wireguard-addresses", json!("10.64.0.1")),
                "wireguard-addresses",
            ),
            (
                with("server-cities", json!("Amsterdam\nX=1")),
                "server-cities",
            ),
            (with("vxlan-id", json!(0)), "vxlan-id"),
            (with("vxlan-id", json!(16_777_216)), "vxlan-id"),
            (with("vxlan-id", json!("42")), "vxlan-id"),
            (with("dns-over-tls", json!("yes")), "dns-over-tls"),
            (with("custom-overrides", json!("[1]")), "custom-overrides"),
            (
                with("custom-overrides", json!(r#"{"lower": "x"}"#)),
                "custom-overrides",
            ),
            (
                with(
                    "custom-overrides",
                    json!(r#"{"WIREGUARD_PRIVATE_KEY": "x"}"#),
                ),
                "custom-overrides",
            ),
            (
                with(
                    "custom-overrides",
                    json!(r#"{"HTTP_CONTROL_SERVER_ADDRESS": ":1"}"#),
                ),
                "custom-overrides",
            ),
            (
                with("custom-overrides", json!(r#"{"A": "x\ny"}"#)),
                "custom-overrides",
            ),
            (
                with("custom-overrides", json!(r#"{"A": {"b": 1}}"#)),
                "custom-overrides",
            ),
        ];
        for (raw, option) in cases {
            let e = Config::parse(&raw).unwrap_err();
            assert_eq!(e.option, option, "{e}");
        }
        let mut custom = with("vpn-provider", json!("custom"));
        custom.insert("wireguard-addresses".into(), json!("10.64.0.1/32"));
        assert_eq!(
            Config::parse(&custom).unwrap_err().option,
            "vpn-endpoint-ip"
        );
        custom.insert("vpn-endpoint-ip".into(), json!("203.0.113.7"));
        assert_eq!(
            Config::parse(&custom).unwrap_err().option,
            "wireguard-public-key"
        );
        custom.insert("wireguard-public-key".into(), json!("short"));
        assert_eq!(
            Config::parse(&custom).unwrap_err().option,
            "wireguard-public-key"
        );
        custom.insert("wireguard-public-key".into(), json!(key));
        custom.insert("vpn-endpoint-port".into(), json!(70000));
        assert_eq!(
            Config::parse(&custom).unwrap_err().option,
            "vpn-endpoint-port"
        );
        custom.insert("vpn-endpoint-port".into(), json!(51821));
        let c = Config::parse(&custom).unwrap();
        let ep = c.custom_endpoint.unwrap();
        assert_eq!(
            (ep.ip.to_string().as_str(), ep.port),
            ("203.0.113.7", 51821)
        );
    }

    #[test]
    fn overrides_accept_scalars() {
        let c = Config::parse(&with(
            "custom-overrides",
            json!(r#"{"UPDATER_PERIOD": "24h", "LOG_LEVEL_X": 3, "BLOCK_ADS": true}"#),
        ))
        .unwrap();
        assert_eq!(c.overrides["UPDATER_PERIOD"], "24h");
        assert_eq!(c.overrides["LOG_LEVEL_X"], "3");
        assert_eq!(c.overrides["BLOCK_ADS"], "true");
    }

    /// The message for `{name: VALUE}` in `custom-overrides`, which must be refused.
    const VALUE: &str = "v4lue-never-echoed";
    fn refused(name: &str) -> String {
        let json = serde_json::to_string(&json!({ name: VALUE })).unwrap();
        let e = Config::parse(&with("custom-overrides", json!(json)))
            .expect_err(&format!("{name} accepted"));
        assert_eq!(e.option, "custom-overrides", "{e}");
        let message = e.to_string();
        assert!(message.contains(name), "{name}: {message}");
        assert!(!message.contains(VALUE), "{name}: {message}");
        message
    }

    #[test]
    #[allow(clippy::too_many_lines)] // One table, key by key, from gluetun v3.41.1's source.
    fn overrides_refuse_key_by_key() {
        let owned = |variable: &str, from: &str| format!("as {variable} ({from}");
        let cases: Vec<(&str, String)> = vec![
            // The charm's own variables (workload::VARIABLES), and gluetun's other names of them.
            ("VPN_SERVICE_PROVIDER", "(from vpn-provider)".into()),
            ("VPNSP", owned("VPN_SERVICE_PROVIDER", "from vpn-provider")),
            ("VPN_TYPE", "(always wireguard)".into()),
            ("VPN_INTERFACE", "(always tun0)".into()),
            ("OPENVPN_INTERFACE", owned("VPN_INTERFACE", "always tun0")),
            ("WIREGUARD_INTERFACE", owned("VPN_INTERFACE", "always tun0")),
            ("FIREWALL_OUTBOUND_SUBNETS", "(from cluster-cidrs)".into()),
            (
                "EXTRA_SUBNETS",
                owned("FIREWALL_OUTBOUND_SUBNETS", "from cluster-cidrs"),
            ),
            ("DOT", "(from dns-over-tls)".into()),
            ("DNS_SERVER", owned("DOT", "from dns-over-tls")),
            ("DOT_FILE", owned("DOT", "from dns-over-tls")),
            (
                "WIREGUARD_PRIVATE_KEY",
                owned("WIREGUARD_PRIVATE_KEY_SECRETFILE", "the file of"),
            ),
            (
                "WIREGUARD_PRIVATE_KEY_SECRETFILE",
                "is set by the charm (".into(),
            ),
            (
                "WIREGUARD_PRIVATE_KEY_FILE",
                owned("WIREGUARD_PRIVATE_KEY_SECRETFILE", "the file of"),
            ),
            (
                "HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH",
                "is set by the charm (".into(),
            ),
            ("WIREGUARD_ADDRESSES", "(from wireguard-addresses)".into()),
            ("WIREGUARD_ADDRESS", owned("WIREGUARD_ADDRESSES", "from")),
            ("SERVER_COUNTRIES", "(from server-countries)".into()),
            ("COUNTRY", owned("SERVER_COUNTRIES", "from")),
            ("REGION", owned("SERVER_COUNTRIES", "from")),
            ("SERVER_CITIES", "(from server-cities)".into()),
            ("CITY", owned("SERVER_CITIES", "from")),
            ("VPN_ENDPOINT_IP", "(from vpn-endpoint-ip)".into()),
            ("WIREGUARD_ENDPOINT_IP", owned("VPN_ENDPOINT_IP", "from")),
            ("OPENVPN_ENDPOINT_IP", owned("VPN_ENDPOINT_IP", "from")),
            ("OPENVPN_TARGET_IP", owned("VPN_ENDPOINT_IP", "from")),
            ("VPN_ENDPOINT_PORT", "(from vpn-endpoint-port)".into()),
            (
                "WIREGUARD_ENDPOINT_PORT",
                owned("VPN_ENDPOINT_PORT", "from"),
            ),
            ("OPENVPN_ENDPOINT_PORT", owned("VPN_ENDPOINT_PORT", "from")),
            ("OPENVPN_PORT", owned("VPN_ENDPOINT_PORT", "from")),
            ("PORT", owned("VPN_ENDPOINT_PORT", "from")),
            ("WIREGUARD_PUBLIC_KEY", "(from wireguard-public-key)".into()),
            ("VPN_TYPE_SECRETFILE", owned("VPN_TYPE", "always wireguard")),
            // Secrets in their plain form, then their file forms.
            ("WIREGUARD_PRESHARED_KEY", "is a secret".into()),
            ("WIREGUARD_PRESHARED_KEY_SECRETFILE", "secret file".into()),
            ("WIREGUARD_CONF_SECRETFILE", "secret file".into()),
            ("OPENVPN_USER", "is a secret".into()),
            ("USER", "is a secret".into()),
            ("OPENVPN_USER_SECRETFILE", "secret file".into()),
            ("OPENVPN_PASSWORD", "is a secret".into()),
            ("PASSWORD", "is a secret".into()),
            ("OPENVPN_PASSWORD_SECRETFILE", "secret file".into()),
            ("PASSWORD_FILE", "secret file".into()),
            ("OPENVPN_CERT", "is a secret".into()),
            ("OPENVPN_CLIENTCRT_SECRETFILE", "secret file".into()),
            ("OPENVPN_KEY", "is a secret".into()),
            ("OPENVPN_CLIENTKEY_SECRETFILE", "secret file".into()),
            ("OPENVPN_ENCRYPTED_KEY", "is a secret".into()),
            ("OPENVPN_ENCRYPTED_KEY_SECRETFILE", "secret file".into()),
            ("OPENVPN_KEY_PASSPHRASE", "is a secret".into()),
            ("OPENVPN_KEY_PASSPHRASE_SECRETFILE", "secret file".into()),
            ("HTTPPROXY_USER", "is a secret".into()),
            ("PROXY_USER", "is a secret".into()),
            ("TINYPROXY_USER", "is a secret".into()),
            ("HTTPPROXY_USER_SECRETFILE", "secret file".into()),
            ("HTTPPROXY_PASSWORD", "is a secret".into()),
            ("PROXY_PASSWORD", "is a secret".into()),
            ("TINYPROXY_PASSWORD", "is a secret".into()),
            ("HTTPPROXY_PASSWORD_SECRETFILE", "secret file".into()),
            ("SHADOWSOCKS_PASSWORD", "is a secret".into()),
            ("SHADOWSOCKS_PASSWORD_SECRETFILE", "secret file".into()),
            ("VPN_PORT_FORWARDING_PASSWORD", "is a secret".into()),
            ("PUBLICIP_API_TOKEN", "is a secret".into()),
            ("UPDATER_PROTONVPN_PASSWORD", "is a secret".into()),
            // The firewall.
            ("FIREWALL", "weaken gluetun's firewall".into()),
            (
                "FIREWALL_ENABLED_DISABLING_IT_SHOOTS_YOU_IN_YOUR_FOOT",
                "weaken gluetun's firewall".into(),
            ),
            (
                "FIREWALL_VPN_INPUT_PORTS",
                "weaken gluetun's firewall".into(),
            ),
            ("FIREWALL_INPUT_PORTS", "weaken gluetun's firewall".into()),
            ("FIREWALL_DEBUG", "weaken gluetun's firewall".into()),
            ("FIREWALL_SECRETFILE", "weaken gluetun's firewall".into()),
            ("VPN_PORT_FORWARDING_UP_COMMAND", "run a command".into()),
            ("VPN_PORT_FORWARDING_DOWN_COMMAND", "run a command".into()),
            // DNS.
            ("DOT_PROVIDERS", "DNS-over-TLS".into()),
            ("DOT_CACHING", "DNS-over-TLS".into()),
            ("DOT_IPV6", "DNS-over-TLS".into()),
            ("DOT_PRIVATE_ADDRESS", "DNS-over-TLS".into()),
            ("DOT_VERBOSITY", "DNS-over-TLS".into()),
            ("DNS_UPSTREAM_RESOLVERS", "DNS-over-TLS".into()),
            ("DNS_CACHING", "DNS-over-TLS".into()),
            ("DNS_UPSTREAM_IPV6", "DNS-over-TLS".into()),
            ("DNS_BLOCK_IP_PREFIXES", "DNS-over-TLS".into()),
            ("DNS_UPSTREAM_RESOLVER_TYPE", "DNS-over-TLS".into()),
            ("DNS_KEEP_NAMESERVER", "outside the tunnel".into()),
            ("DNS_ADDRESS", "outside the tunnel".into()),
            ("DNS_PLAINTEXT_ADDRESS", "outside the tunnel".into()),
            // The health check.
            ("HTTP_CONTROL_SERVER_ADDRESS", "health check".into()),
            (
                "HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE",
                "health check".into(),
            ),
            ("HTTP_CONTROL_SERVER_LOG", "health check".into()),
            ("PUBLICIP_ENABLED", "health check".into()),
            ("PUBLICIP_PERIOD", "health check".into()),
        ];
        for (name, why) in &cases {
            let message = refused(name);
            assert!(message.contains(why.as_str()), "{name}: {message}");
        }
    }

    #[test]
    fn overrides_refuse_every_listed_name_in_every_form() {
        let names = overrides::refused_names();
        assert!(names.len() >= 60, "{names:?}"); // 69 for gluetun v3.41.1, prefixes aside
        for name in names {
            for suffix in ["", "_SECRETFILE", "_FILE"] {
                refused(&format!("{name}{suffix}"));
            }
        }
        // The charm's own variables, all of them.
        for v in &crate::workload::VARIABLES {
            assert!(
                refused(v.name).contains("is set by the charm"),
                "{}",
                v.name
            );
        }
    }

    #[test]
    fn override_names_are_read_case_insensitively() {
        // gluetun (gosettings' env source) upper-cases names and reads '-' as '_'.
        for (name, message) in [
            ("firewall", "firewall would weaken gluetun's firewall"),
            ("Vpn_Type", "Vpn_Type is set by the charm as VPN_TYPE"),
            ("vpn-type", "vpn-type is set by the charm as VPN_TYPE"),
            ("openvpn_password", "openvpn_password is a secret"),
            ("dot", "dot is set by the charm as DOT"),
        ] {
            assert!(refused(name).contains(message), "{name}");
        }
        // A harmless one must still be spelled as gluetun reads it: one spelling each.
        let e = Config::parse(&with(
            "custom-overrides",
            json!(r#"{"log-level": "debug"}"#),
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "custom-overrides: log-level must be written LOG_LEVEL"
        );
        // Names that are not names are refused without being echoed.
        for name in ["", "1A", "A B", "A=B", "É", &"A".repeat(65)] {
            let json = serde_json::to_string(&json!({ name: "x" })).unwrap();
            let e = Config::parse(&with("custom-overrides", json!(json))).unwrap_err();
            assert_eq!(
                e.to_string(),
                "custom-overrides: variable names must be upper-case letters, digits and '_'",
                "{name:?}"
            );
        }
    }

    #[test]
    fn overrides_accept_harmless_gluetun_settings() {
        let accepted = [
            "SERVER_HOSTNAMES",
            "SERVER_HOSTNAME",
            "SERVER_REGIONS",
            "SERVER_NAMES",
            "ISP",
            "OWNED_ONLY",
            "UPDATER_PERIOD",
            "UPDATER_PROTONVPN_EMAIL",
            "LOG_LEVEL",
            "WIREGUARD_MTU",
            "WIREGUARD_PERSISTENT_KEEPALIVE_INTERVAL",
            "WIREGUARD_IMPLEMENTATION",
            "HEALTH_TARGET_ADDRESSES",
            "HEALTH_RESTART_VPN",
            "PUBLICIP_API",
            "PUBLICIP_FILE",
            "VPN_PORT_FORWARDING",
            "VPN_PORT_FORWARDING_STATUS_FILE",
            "BLOCK_ADS",
            "DNS_UPDATE_PERIOD",
            "TZ",
            "SERVER_HOSTNAMES_SECRETFILE",
        ];
        let object: Map<String, Value> = accepted
            .iter()
            .map(|n| ((*n).to_owned(), json!("1")))
            .collect();
        let json = Value::Object(object).to_string();
        let c = Config::parse(&with("custom-overrides", json!(json))).unwrap();
        assert_eq!(
            c.overrides.keys().map(String::as_str).collect::<Vec<_>>(),
            {
                let mut sorted = accepted.to_vec();
                sorted.sort_unstable();
                sorted
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(key in "[a-z-]{1,30}", s in ".{0,200}", n in proptest::num::i64::ANY) {
            let _ = Config::parse(&with(&key, json!(s)));
            let _ = Config::parse(&with(&key, json!(n)));
        }
    }
}
