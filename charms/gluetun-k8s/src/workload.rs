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

/// A variable of the gluetun service's environment that the charm sets.
pub struct Variable {
    /// Its name.
    pub name: &'static str,
    /// Where its value comes from, for messages ("from vpn-provider", "always tun0").
    pub from: &'static str,
    /// Its value for a config; `None` where the config leaves it unset.
    value: fn(&Config) -> Option<String>,
}

/// Every variable the charm sets, the one list: [`environment`] is built from it, and
/// `custom-overrides` may not set any of them ([`crate::overrides`]).
pub const VARIABLES: [Variable; 13] = [
    Variable {
        name: "VPN_SERVICE_PROVIDER",
        from: "from vpn-provider",
        value: |c| Some(c.provider.clone()),
    },
    Variable {
        name: "VPN_TYPE",
        from: "always wireguard",
        value: |_| Some("wireguard".into()),
    },
    Variable {
        name: "VPN_INTERFACE",
        from: "always tun0",
        // pod-gateway's VPN_INTERFACE, the one interface it forwards clients to (ADR 0038).
        value: |_| Some(vpn_gateway_iface::settings::VPN_INTERFACE.into()),
    },
    Variable {
        name: "FIREWALL_OUTBOUND_SUBNETS",
        from: "from cluster-cidrs",
        value: |c| Some(c.cluster_cidrs.to_comma_separated()),
    },
    Variable {
        name: "DOT",
        from: "from dns-over-tls",
        value: |c| Some(if c.dns_over_tls { "on" } else { "off" }.into()),
    },
    Variable {
        name: "WIREGUARD_PRIVATE_KEY_SECRETFILE",
        from: "the file of wireguard-private-key-secret",
        value: |_| Some(KEY_FILE.into()),
    },
    Variable {
        name: "HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH",
        from: "the health check's auth file",
        value: |_| Some(AUTH_FILE.into()),
    },
    Variable {
        name: "WIREGUARD_ADDRESSES",
        from: "from wireguard-addresses",
        value: |c| {
            let list: Vec<String> = c.wireguard_addresses.iter().map(IpNet::to_string).collect();
            (!list.is_empty()).then(|| list.join(","))
        },
    },
    Variable {
        name: "SERVER_COUNTRIES",
        from: "from server-countries",
        value: |c| c.server_countries.clone(),
    },
    Variable {
        name: "SERVER_CITIES",
        from: "from server-cities",
        value: |c| c.server_cities.clone(),
    },
    Variable {
        name: "VPN_ENDPOINT_IP",
        from: "from vpn-endpoint-ip",
        value: |c| c.custom_endpoint.as_ref().map(|ep| ep.ip.to_string()),
    },
    Variable {
        name: "VPN_ENDPOINT_PORT",
        from: "from vpn-endpoint-port",
        value: |c| c.custom_endpoint.as_ref().map(|ep| ep.port.to_string()),
    },
    Variable {
        name: "WIREGUARD_PUBLIC_KEY",
        from: "from wireguard-public-key",
        value: |c| c.custom_endpoint.as_ref().map(|ep| ep.public_key.clone()),
    },
];

/// The `environment` of the gluetun service: [`VARIABLES`], plus `custom-overrides` (which
/// config refuses to name one of them; were one named, the charm's value would stay). Holds
/// no secret.
pub fn environment(config: &Config) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = VARIABLES
        .iter()
        .filter_map(|v| (v.value)(config).map(|value| (v.name.to_owned(), value)))
        .collect();
    for (k, v) in &config.overrides {
        env.entry(k.clone()).or_insert_with(|| v.clone());
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
    fn environment_holds_no_secret_and_adds_overrides() {
        let env = environment(&config(&[(
            "custom-overrides",
            json!(r#"{"UPDATER_PERIOD": "24h", "LOG_LEVEL": "debug"}"#),
        )]));
        assert_eq!(env["VPN_SERVICE_PROVIDER"], "mullvad");
        assert_eq!(env["VPN_TYPE"], "wireguard");
        assert_eq!(env["VPN_INTERFACE"], "tun0");
        assert_eq!(env["FIREWALL_OUTBOUND_SUBNETS"], "10.1.0.0/16,fd00::/8");
        assert_eq!(env["DOT"], "off");
        assert_eq!(env["WIREGUARD_ADDRESSES"], "10.64.222.21/32");
        assert_eq!(env["WIREGUARD_PRIVATE_KEY_SECRETFILE"], KEY_FILE);
        assert_eq!(env["UPDATER_PERIOD"], "24h");
        assert_eq!(env["LOG_LEVEL"], "debug");
        assert!(!env.contains_key("WIREGUARD_PRIVATE_KEY"));
        assert!(!env.contains_key("SERVER_CITIES"));
        assert_eq!(env.len(), 10, "{env:?}");
    }

    #[test]
    fn the_charms_value_stays_if_an_override_names_it() {
        // Config refuses this; a Config built by hand must not get past the charm either.
        let mut c = config(&[]);
        c.overrides.insert("VPN_TYPE".into(), "openvpn".into());
        c.overrides.insert("DOT".into(), "on".into());
        let env = environment(&c);
        assert_eq!(
            (env["VPN_TYPE"].as_str(), env["DOT"].as_str()),
            ("wireguard", "off")
        );
    }

    #[test]
    fn every_variable_is_listed() {
        // A config that sets every optional variable: the environment is exactly VARIABLES.
        let mut c = config(&[
            ("vpn-provider", json!("custom")),
            ("server-countries", json!("NL")),
            ("server-cities", json!("Amsterdam")),
            ("vpn-endpoint-ip", json!("203.0.113.7")),
            (
                "wireguard-public-key",
                json!("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
            ),
        ]);
        c.overrides.clear();
        let env = environment(&c);
        let names: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
        assert_eq!(env.keys().map(String::as_str).collect::<Vec<_>>(), {
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted
        });
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
