//! Which environment variables `custom-overrides` may not set, and why: the one list. Pure.
//!
//! `custom-overrides` may add gluetun settings; it may not change one the charm sets, one
//! that weakens the tunnel, its firewall or its DNS, one the charm's health check needs, nor
//! carry a secret (the layer's environment is what `pebble plan` shows).
//!
//! Read from gluetun v3.41.1, the image of metadata/gluetun-k8s/charmcraft.yaml (qdm12/gluetun
//! commit 7f22fb32764d5d7548bc669cde88c57fc1a0de83): every name
//! internal/configuration/settings/*.go reads (with its `RetroKeys`/`IsRetro` names) and the
//! fields their `String()` redacts, the `*_SECRETFILE` defaults of its Dockerfile, and
//! internal/configuration/sources/{secrets,files}/. Its reader is qdm12/gosettings v0.4.4
//! (commit 40b5b2cf655da0ccea50201bbf1db2bf6ca6407b): reader/sources/env/env.go and
//! internal/parse/get.go. What they imply for the check:
//!
//! - **Names are case-insensitive**: the env source upper-cases every environment name and
//!   turns `-` into `_`, so `firewall` and `VPN-TYPE` are `FIREWALL` and `VPN_TYPE`. We check
//!   the name so normalized (config also accepts only the normalized spelling).
//! - **Deprecated names win**: a setting's old names are tried before its current one, so
//!   `VPNSP` beats the charm's `VPN_SERVICE_PROVIDER`. A refused setting is refused under every
//!   name it has ([`ALIASES`]), one step: `REGION` is an old name of both `SERVER_COUNTRIES`
//!   (the charm's) and `SERVER_REGIONS`; refusing `REGION` does not refuse `SERVER_REGIONS`.
//! - **Every name has file forms that win too**: for each name `N` gluetun reads the file
//!   named by `N_SECRETFILE` (secret files) and by `N_FILE` (files) before the environment. A
//!   refused `N` is refused in both forms. For a secret this is the design's choice as well:
//!   the only files the charm controls are its own (the WireGuard key in /gluetun/secrets, the
//!   auth file in /gluetun/auth, the firewall rules in /iptables), none holds another secret,
//!   so no `*_SECRETFILE` path could be accepted. Feeding other secrets through Juju secrets
//!   is not implemented (out of scope).
//!
//! Other settings are accepted as given (`SERVER_HOSTNAMES`, `UPDATER_PERIOD`, `LOG_LEVEL`,
//! …), including the file forms of harmless settings.

use std::fmt;

use crate::workload::{VARIABLES, Variable};

/// Why a variable is refused; the message says it after the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The charm sets this setting, as `variable` (a name in [`VARIABLES`]).
    Owned {
        /// The charm's variable.
        variable: &'static str,
        /// Where its value comes from.
        from: &'static str,
    },
    /// A secret in its plain form ([`SECRETS`]).
    Secret,
    /// The file form of a secret ([`SECRETS`]).
    SecretFile,
    /// [`FIREWALL`].
    Firewall,
    /// [`COMMANDS`].
    Command,
    /// [`TUNNEL`].
    Tunnel,
    /// [`DNS`].
    Dns,
    /// [`HEALTH_CHECK`].
    HealthCheck,
}

/// A variable `custom-overrides` may not set. Names only the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Refusal {
    /// The name as given.
    pub name: String,
    /// Why.
    pub why: Why,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match self.why {
            Why::Owned { variable, from } if name == variable => {
                write!(f, "{name} is set by the charm ({from})")
            }
            Why::Owned { variable, from } => {
                write!(f, "{name} is set by the charm as {variable} ({from})")
            }
            Why::Secret => write!(
                f,
                "{name} is a secret: custom-overrides would show it in the Pebble plan"
            ),
            Why::SecretFile => write!(f, "{name} names a secret file the charm does not manage"),
            Why::Firewall => write!(f, "{name} would weaken gluetun's firewall"),
            Why::Command => write!(f, "{name} would run a command in the gluetun container"),
            Why::Tunnel => write!(f, "{name} would change the WireGuard tunnel"),
            Why::Dns => write!(
                f,
                "{name} would change DNS-over-TLS or send DNS outside the tunnel (use dns-over-tls)"
            ),
            Why::HealthCheck => write!(f, "{name} would break the charm's health check"),
        }
    }
}

/// gluetun's settings that have more than one name, current name first (settings/*.go:
/// `RetroKeys`, `IsRetro`). One entry per place that reads them.
const ALIASES: &[&[&str]] = &[
    // dns.go
    &["DNS_SERVER", "DOT"],
    &["DNS_UPSTREAM_RESOLVERS", "DOT_PROVIDERS"],
    &["DNS_CACHING", "DOT_CACHING"],
    &["DNS_UPSTREAM_IPV6", "DOT_IPV6"],
    &["DNS_ADDRESS", "DNS_PLAINTEXT_ADDRESS"],
    // dnsblacklist.go
    &["BLOCK_SURVEILLANCE", "BLOCK_NSA"],
    &["DNS_UNBLOCK_HOSTNAMES", "UNBLOCK"],
    &["DNS_BLOCK_IP_PREFIXES", "DOT_PRIVATE_ADDRESS"],
    // firewall.go
    &["FIREWALL_OUTBOUND_SUBNETS", "EXTRA_SUBNETS"],
    // health.go
    &[
        "HEALTH_TARGET_ADDRESSES",
        "HEALTH_ADDRESS_TO_PING",
        "HEALTH_TARGET_ADDRESS",
    ],
    &["HEALTH_ICMP_TARGET_IPS", "HEALTH_ICMP_TARGET_IP"],
    // httpproxy.go
    &["HTTPPROXY_USER", "PROXY_USER", "TINYPROXY_USER"],
    &["HTTPPROXY_PASSWORD", "PROXY_PASSWORD", "TINYPROXY_PASSWORD"],
    &["HTTPPROXY", "PROXY", "TINYPROXY"],
    &[
        "HTTPPROXY_LISTENING_ADDRESS",
        "HTTPPROXY_PORT",
        "TINYPROXY_PORT",
        "PROXY_PORT",
    ],
    &["HTTPPROXY_LOG", "PROXY_LOG", "TINYPROXY_LOG"],
    // openvpn.go
    &["OPENVPN_USER", "USER"],
    &["OPENVPN_PASSWORD", "PASSWORD"],
    &["OPENVPN_CIPHERS", "OPENVPN_CIPHER"],
    &[
        "PRIVATE_INTERNET_ACCESS_OPENVPN_ENCRYPTION_PRESET",
        "ENCRYPTION",
        "PIA_ENCRYPTION",
    ],
    &["VPN_INTERFACE", "OPENVPN_INTERFACE"],
    &["OPENVPN_PROCESS_USER", "OPENVPN_ROOT"],
    // openvpnselection.go
    &["OPENVPN_PROTOCOL", "PROTOCOL"],
    &[
        "OPENVPN_ENDPOINT_IP",
        "OPENVPN_TARGET_IP",
        "VPN_ENDPOINT_IP",
    ],
    &[
        "OPENVPN_ENDPOINT_PORT",
        "PORT",
        "OPENVPN_PORT",
        "VPN_ENDPOINT_PORT",
    ],
    // portforward.go
    &[
        "VPN_PORT_FORWARDING",
        "PORT_FORWARDING",
        "PRIVATE_INTERNET_ACCESS_VPN_PORT_FORWARDING",
    ],
    &[
        "VPN_PORT_FORWARDING_STATUS_FILE",
        "PORT_FORWARDING_STATUS_FILE",
        "PRIVATE_INTERNET_ACCESS_VPN_PORT_FORWARDING_STATUS_FILE",
    ],
    // provider.go
    &["VPN_SERVICE_PROVIDER", "VPNSP"],
    // publicip.go
    &["PUBLICIP_FILE", "IP_STATUS_FILE"],
    &["PUBLICIP_ENABLED", "PUBLICIP_PERIOD"],
    // serverselection.go (REGION: for cyberghost only)
    &["SERVER_COUNTRIES", "COUNTRY", "REGION"],
    &["SERVER_REGIONS", "REGION"],
    &["SERVER_CITIES", "CITY"],
    &["SERVER_HOSTNAMES", "SERVER_HOSTNAME"],
    &["SERVER_NAMES", "SERVER_NAME"],
    &["OWNED_ONLY", "OWNED"],
    // shadowsocks.go
    &["SHADOWSOCKS_CIPHER", "SHADOWSOCKS_METHOD"],
    &["SHADOWSOCKS_LISTENING_ADDRESS", "SHADOWSOCKS_PORT"],
    // system.go
    &["PUID", "UID"],
    &["PGID", "GID"],
    // updater.go
    &["UPDATER_PROTONVPN_EMAIL", "UPDATER_PROTONVPN_USERNAME"],
    // wireguard.go
    &["VPN_INTERFACE", "WIREGUARD_INTERFACE"],
    &["WIREGUARD_ADDRESSES", "WIREGUARD_ADDRESS"],
    // wireguardselection.go
    &["WIREGUARD_ENDPOINT_IP", "VPN_ENDPOINT_IP"],
    &["WIREGUARD_ENDPOINT_PORT", "VPN_ENDPOINT_PORT"],
];

/// Secrets: the settings whose value `String()` redacts (`gosettings.ObfuscateKey`) or whose
/// Dockerfile default is a `*_SECRETFILE`. In the environment they would show in
/// `pebble plan`, which the key-file design exists to avoid; their file forms are refused
/// too (see the module doc). Includes the names the secret-file source reads them under
/// (`OPENVPN_CLIENTCRT`, `OPENVPN_CLIENTKEY`: secrets/reader.go `KeyTransform`) and
/// `WIREGUARD_CONF`, whose `WIREGUARD_CONF_SECRETFILE` (read directly,
/// secrets/wireguard.go) is a wg0.conf whose key, addresses and endpoint beat the charm's.
pub const SECRETS: &[&str] = &[
    "WIREGUARD_PRIVATE_KEY",
    "WIREGUARD_PRESHARED_KEY",
    "WIREGUARD_CONF",
    "OPENVPN_USER",
    "OPENVPN_PASSWORD",
    "OPENVPN_CERT",
    "OPENVPN_CLIENTCRT",
    "OPENVPN_KEY",
    "OPENVPN_CLIENTKEY",
    "OPENVPN_ENCRYPTED_KEY",
    "OPENVPN_KEY_PASSPHRASE",
    "HTTPPROXY_USER",
    "HTTPPROXY_PASSWORD",
    "SHADOWSOCKS_PASSWORD",
    "VPN_PORT_FORWARDING_PASSWORD",
    "PUBLICIP_API_TOKEN",
    "UPDATER_PROTONVPN_PASSWORD",
];

/// The firewall: every `FIREWALL*` setting (firewall.go: on/off, input ports, outbound
/// subnets, debug). Turning it off or opening it lets traffic leave outside the tunnel while
/// the status stays Active; the outbound subnets are the charm's private-only cluster CIDRs.
pub const FIREWALL: Group = Group {
    names: &[],
    prefixes: &["FIREWALL"],
};

/// Commands gluetun runs as root in its privileged container (portforward.go): one command
/// can rewrite the firewall.
pub const COMMANDS: Group = Group {
    names: &[
        "VPN_PORT_FORWARDING_UP_COMMAND",
        "VPN_PORT_FORWARDING_DOWN_COMMAND",
    ],
    prefixes: &[],
};

/// The tunnel: the charm runs WireGuard only (`vpn-type`), on interface `tun0`.
pub const TUNNEL: Group = Group {
    names: &["VPN_TYPE", "VPN_INTERFACE"],
    prefixes: &[],
};

/// DNS: the charm owns DNS-over-TLS through `dns-over-tls` (gluetun's `DOT`, now
/// `DNS_SERVER`). Refused: every `DOT*` name and the settings they are old names of, the
/// upstream type (`plain` undoes DoT), and the two that send DNS outside the tunnel
/// (`DNS_KEEP_NAMESERVER` keeps the cluster's resolver, `DNS_ADDRESS` names another).
pub const DNS: Group = Group {
    names: &[
        "DNS_SERVER",
        "DNS_UPSTREAM_RESOLVER_TYPE",
        "DNS_KEEP_NAMESERVER",
        "DNS_ADDRESS",
    ],
    prefixes: &["DOT"],
};

/// The charm's health check: gluetun's control server (its address and authentication,
/// server.go) and the public-IP lookup it answers from (publicip.go).
pub const HEALTH_CHECK: Group = Group {
    names: &["PUBLICIP_ENABLED"],
    prefixes: &["HTTP_CONTROL_SERVER_"],
};

/// A refused group: exact names and name prefixes (each with every alias, see [`ALIASES`]).
pub struct Group {
    /// Exact names.
    pub names: &'static [&'static str],
    /// Prefixes.
    pub prefixes: &'static [&'static str],
}

/// The groups after the charm's own variables, in the order they are checked.
const GROUPS: [(Why, Group); 6] = [
    (
        Why::Secret,
        Group {
            names: SECRETS,
            prefixes: &[],
        },
    ),
    (Why::Firewall, FIREWALL),
    (Why::Command, COMMANDS),
    (Why::Tunnel, TUNNEL),
    (Why::Dns, DNS),
    (Why::HealthCheck, HEALTH_CHECK),
];

/// Why `custom-overrides` may not set `name`, or `None` when it may.
pub fn refusal(name: &str) -> Option<Refusal> {
    refusal_among(name, &VARIABLES)
}

/// [`refusal`], with `owned` standing for the charm's variables.
fn refusal_among(name: &str, owned: &[Variable]) -> Option<Refusal> {
    let normalized = normalize(name);
    // The name itself, then the setting its file form feeds.
    let forms = std::iter::once((normalized.as_str(), false))
        .chain(file_base(&normalized).map(|b| (b, true)));
    let owned_why = forms.clone().find_map(|(form, _)| {
        owned.iter().find_map(|v| {
            same_setting(form, file_base(v.name).unwrap_or(v.name)).then_some(Why::Owned {
                variable: v.name,
                from: v.from,
            })
        })
    });
    let why = owned_why.or_else(|| {
        forms.into_iter().find_map(|(form, is_file)| {
            GROUPS.iter().find_map(|(why, group)| {
                group.holds(form).then_some(match why {
                    Why::Secret if is_file => Why::SecretFile,
                    other => *other,
                })
            })
        })
    })?;
    Some(Refusal {
        name: name.to_owned(),
        why,
    })
}

impl Group {
    /// Whether the setting named `name` is in the group (under any of its names).
    fn holds(&self, name: &str) -> bool {
        self.names.iter().any(|n| same_setting(name, n))
            || names_of(name).any(|alias| self.prefixes.iter().any(|p| alias.starts_with(p)))
    }
}

/// How gluetun's environment source spells a name: upper case, `_` for `-`.
pub fn normalize(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// The setting a file form feeds: `N` for `N_SECRETFILE` and `N_FILE`.
fn file_base(name: &str) -> Option<&str> {
    ["_SECRETFILE", "_FILE"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|base| !base.is_empty())
}

/// Every name of the setting(s) `name` names: itself and its [`ALIASES`] (one step).
fn names_of(name: &str) -> impl Iterator<Item = &str> {
    std::iter::once(name).chain(
        ALIASES
            .iter()
            .filter(move |group| group.contains(&name))
            .flat_map(|group| group.iter().copied()),
    )
}

/// Whether `a` and `b` name the same gluetun setting.
fn same_setting(a: &str, b: &str) -> bool {
    a == b || ALIASES.iter().any(|g| g.contains(&a) && g.contains(&b))
}

/// Every refused name in its plain form (each file form is refused with it), for tests.
#[cfg(test)]
pub(crate) fn refused_names() -> std::collections::BTreeSet<&'static str> {
    let seeds = VARIABLES
        .iter()
        .map(|v| file_base(v.name).unwrap_or(v.name))
        .chain(
            GROUPS
                .iter()
                .flat_map(|(_, g)| g.names.iter().chain(g.prefixes).copied()),
        )
        .chain(ALIASES.iter().flat_map(|g| g.iter().copied()));
    seeds
        .flat_map(names_of)
        .filter(|n| refusal(n).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_as_gluetun_reads_them() {
        for name in [
            "firewall",
            "Vpn_Type",
            "vpn-type",
            "openvpn_password",
            "vpnsp",
        ] {
            assert!(refusal(name).is_some(), "{name}");
        }
        let r = refusal("vpn-type").unwrap();
        assert_eq!(
            r.to_string(),
            "vpn-type is set by the charm as VPN_TYPE (always wireguard)"
        );
        assert!(refusal("log-level").is_none());
    }

    #[test]
    fn the_groups_stand_without_the_charms_variables() {
        // Were the charm to stop setting them, the tunnel and DNS would still be refused.
        let none: &[Variable] = &[];
        for (name, why) in [
            ("VPN_TYPE", Why::Tunnel),
            ("WIREGUARD_INTERFACE", Why::Tunnel),
            ("DOT", Why::Dns),
            ("DNS_SERVER", Why::Dns),
            ("FIREWALL_OUTBOUND_SUBNETS", Why::Firewall),
            ("EXTRA_SUBNETS", Why::Firewall),
            ("WIREGUARD_PRIVATE_KEY", Why::Secret),
            ("WIREGUARD_PRIVATE_KEY_SECRETFILE", Why::SecretFile),
            ("HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH", Why::HealthCheck),
        ] {
            assert_eq!(
                refusal_among(name, none).map(|r| r.why),
                Some(why),
                "{name}"
            );
        }
        assert_eq!(refusal_among("VPN_SERVICE_PROVIDER", none), None);
    }

    #[test]
    fn aliases_are_one_step() {
        assert!(same_setting("REGION", "SERVER_COUNTRIES"));
        assert!(same_setting("REGION", "SERVER_REGIONS"));
        assert!(!same_setting("SERVER_REGIONS", "SERVER_COUNTRIES"));
        assert!(refusal("SERVER_REGIONS").is_none());
    }

    #[test]
    fn the_tables_are_well_formed() {
        let valid = |n: &str| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        };
        for group in ALIASES {
            assert!(group.len() >= 2, "{group:?}");
            assert!(group.iter().all(|n| valid(n)), "{group:?}");
        }
        for (_, group) in &GROUPS {
            assert!(group.names.iter().chain(group.prefixes).all(|n| valid(n)));
        }
        for v in &VARIABLES {
            assert!(valid(v.name), "{}", v.name);
        }
    }
}
