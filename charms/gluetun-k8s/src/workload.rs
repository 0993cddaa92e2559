//! What the gluetun container gets: the service environment, the files pushed before it
//! starts, and the parsing of its control server's answer. Pure.
//!
//! Secrets never enter the environment (which `pebble plan` shows): the WireGuard key is a
//! file gluetun reads through `WIREGUARD_PRIVATE_KEY_SECRETFILE`, and the control server's API
//! key lives only in gluetun's auth file (`HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use juju_charm::pebble::{Layer, Override, Service, Startup};

use crate::config::Config;

/// Pebble service (and layer) name.
pub const SERVICE: &str = "gluetun";
/// gluetun's entrypoint in its image.
pub const COMMAND: &str = "/gluetun-entrypoint";
/// Where the WireGuard private key is pushed (mode 0600).
pub const KEY_FILE: &str = "/gluetun/secrets/wireguard_private_key";
/// gluetun's control-server role file (mode 0600).
pub const AUTH_FILE: &str = "/gluetun/auth/config.toml";
/// gluetun's extra firewall rules, run after its own.
pub const POST_RULES_FILE: &str = "/iptables/post-rules.txt";
/// gluetun's control server port (inside the pod).
pub const CONTROL_PORT: u16 = 8000;
/// The one route the charm calls.
pub const PUBLIC_IP_ROUTE: &str = "/v1/publicip/ip";
/// Header gluetun reads the API key from.
pub const API_KEY_HEADER: &str = "X-API-Key";

/// The `environment` of the gluetun service. Holds no secret.
pub fn environment(config: &Config) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    set("VPN_SERVICE_PROVIDER", config.provider.clone());
    set("VPN_TYPE", "wireguard".into());
    set("VPN_INTERFACE", "tun0".into());
    set(
        "FIREWALL_OUTBOUND_SUBNETS",
        config.cluster_cidrs.to_comma_separated(),
    );
    set("DOT", if config.dns_over_tls { "on" } else { "off" }.into());
    set("WIREGUARD_PRIVATE_KEY_SECRETFILE", KEY_FILE.into());
    set("HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH", AUTH_FILE.into());
    if !config.wireguard_addresses.is_empty() {
        let list: Vec<String> = config
            .wireguard_addresses
            .iter()
            .map(IpNet::to_string)
            .collect();
        set("WIREGUARD_ADDRESSES", list.join(","));
    }
    if let Some(c) = &config.server_countries {
        set("SERVER_COUNTRIES", c.clone());
    }
    if let Some(c) = &config.server_cities {
        set("SERVER_CITIES", c.clone());
    }
    if let Some(ep) = &config.custom_endpoint {
        set("VPN_ENDPOINT_IP", ep.ip.to_string());
        set("VPN_ENDPOINT_PORT", ep.port.to_string());
        set("WIREGUARD_PUBLIC_KEY", ep.public_key.clone());
    }
    for (k, v) in &config.overrides {
        set(k, v.clone());
    }
    env
}

/// `/iptables/post-rules.txt`: accept input from every cluster CIDR (validated nets only;
/// IPv6 nets go to ip6tables).
pub fn post_rules(config: &Config) -> String {
    let mut out = String::new();
    for net in config.cluster_cidrs.as_slice() {
        let tool = match net {
            IpNet::V4(_) => "iptables",
            IpNet::V6(_) => "ip6tables",
        };
        out.push_str(tool);
        out.push_str(" -I INPUT -s ");
        out.push_str(&net.to_string());
        out.push_str(" -j ACCEPT\n");
    }
    out
}

/// gluetun's control-server auth file: one role allowed exactly the route the charm uses,
/// authenticated with `api_key` (URL-safe base64 from our own generator: TOML-safe).
pub fn auth_config(api_key: &str) -> String {
    format!(
        "[[roles]]\nname = \"charm\"\nroutes = [\"GET {PUBLIC_IP_ROUTE}\"]\nauth = \"apikey\"\napikey = \"{api_key}\"\n"
    )
}

/// The gluetun layer: no secret in it (the key is a file, see [`KEY_FILE`]).
pub fn layer(config: &Config) -> Layer {
    let service = Service {
        r#override: Some(Override::Replace),
        summary: Some("gluetun VPN client".into()),
        command: Some(COMMAND.into()),
        startup: Some(Startup::Enabled),
        environment: environment(config),
        ..Service::default()
    };
    Layer {
        summary: Some("gluetun VPN gateway".into()),
        services: BTreeMap::from([(SERVICE.to_owned(), service)]),
        ..Layer::default()
    }
}

/// The health check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The tunnel is up, with this exit IP when known (the health check always knows it;
    /// `render --vpn-connected` may not).
    Connected(Option<IpAddr>),
    /// No exit IP (tunnel down, gluetun starting, unreachable, or a bad answer); the reason
    /// is for logs.
    NotConnected(String),
}

/// Parses gluetun's `GET /v1/publicip/ip` answer (untrusted, bounded by the caller):
/// `{"public_ip": "<ip>", ...}`; an empty or missing IP means not connected.
pub fn parse_public_ip(status: u16, body: &[u8]) -> Health {
    if status != 200 {
        return Health::NotConnected(format!("control server answered HTTP {status}"));
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return Health::NotConnected("control server answer is not a JSON object".into());
    };
    match map.get("public_ip") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s.parse::<IpAddr>().map_or_else(
            |_| Health::NotConnected("control server answered an invalid IP".into()),
            |ip| Health::Connected(Some(ip)),
        ),
        _ => Health::NotConnected("no public IP yet".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn config(extra: &[(&str, Value)]) -> Config {
        let Value::Object(mut m) = json!({
            "cluster-cidrs": "10.1.0.0/16,fd00::/8",
            "vpn-provider": "mullvad",
            "wireguard-private-key-secret": "secret:abc",
            "wireguard-addresses": "10.64.222.21/32",
            "dns-over-tls": false,
        }) else {
            unreachable!()
        };
        for (k, v) in extra {
            m.insert((*k).into(), v.clone());
        }
        Config::parse(&m).unwrap()
    }

    #[test]
    fn environment_holds_no_secret_and_overrides_win() {
        let env = environment(&config(&[(
            "custom-overrides",
            json!(r#"{"DOT": "on", "UPDATER_PERIOD": "24h"}"#),
        )]));
        assert_eq!(env["VPN_SERVICE_PROVIDER"], "mullvad");
        assert_eq!(env["VPN_TYPE"], "wireguard");
        assert_eq!(env["VPN_INTERFACE"], "tun0");
        assert_eq!(env["FIREWALL_OUTBOUND_SUBNETS"], "10.1.0.0/16,fd00::/8");
        assert_eq!(env["WIREGUARD_ADDRESSES"], "10.64.222.21/32");
        assert_eq!(env["WIREGUARD_PRIVATE_KEY_SECRETFILE"], KEY_FILE);
        assert_eq!(env["DOT"], "on", "custom-overrides are merged last");
        assert_eq!(env["UPDATER_PERIOD"], "24h");
        assert!(!env.contains_key("WIREGUARD_PRIVATE_KEY"));
        assert!(!env.contains_key("SERVER_CITIES"));
    }

    #[test]
    fn post_rules_per_cidr() {
        assert_eq!(
            post_rules(&config(&[])),
            "iptables -I INPUT -s 10.1.0.0/16 -j ACCEPT\nip6tables -I INPUT -s fd00::/8 -j ACCEPT\n"
        );
    }

    #[test]
    fn auth_config_allows_one_route() {
        let toml = auth_config("k3y");
        assert!(toml.contains("routes = [\"GET /v1/publicip/ip\"]"));
        assert!(toml.contains("auth = \"apikey\"\napikey = \"k3y\""));
    }

    #[test]
    fn public_ip_answers() {
        assert_eq!(
            parse_public_ip(200, br#"{"public_ip":"198.51.100.4","country":"NL"}"#),
            Health::Connected(Some("198.51.100.4".parse().unwrap()))
        );
        for (status, body) in [
            (200, &br#"{"public_ip":""}"#[..]),
            (200, b"{}"),
            (200, b"not json"),
            (200, br#"{"public_ip":"1.2.3.4; rm"}"#),
            (200, br#"{"public_ip":7}"#),
            (401, b"{}"),
            (500, b""),
        ] {
            assert!(
                matches!(parse_public_ip(status, body), Health::NotConnected(_)),
                "{status} {body:?}"
            );
        }
    }
}
