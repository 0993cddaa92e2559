//! `network-get` (ops `ops/hookcmds/_other.py` and `_types.Network`).

use serde::Deserialize;

use super::{ToolError, Tools, argv};

/// One address of a bound interface.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Address {
    /// Host name, if any.
    pub hostname: String,
    /// The address (older Juju printed it as `address`).
    #[serde(alias = "address")]
    pub value: String,
    /// Its network, e.g. `10.1.0.0/16`.
    pub cidr: String,
}

/// One interface the binding uses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct BindAddress {
    /// MAC address.
    pub mac_address: String,
    /// Interface name, e.g. `eth0`.
    pub interface_name: String,
    /// Its addresses (`null` reads as none).
    #[serde(deserialize_with = "null_as_empty")]
    pub addresses: Vec<Address>,
}

/// `network-get --format=json <binding>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct Network {
    /// Interfaces and their addresses.
    #[serde(deserialize_with = "null_as_empty")]
    pub bind_addresses: Vec<BindAddress>,
    /// Subnets traffic from this unit comes from.
    #[serde(deserialize_with = "null_as_empty")]
    pub egress_subnets: Vec<String>,
    /// Addresses other units should use to reach this one.
    #[serde(deserialize_with = "null_as_empty")]
    pub ingress_addresses: Vec<String>,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

impl Tools {
    /// Network information for a binding (an endpoint or extra-binding name), optionally for
    /// one relation: `network-get --format=json [-r <id>] <binding>`.
    pub fn network_get(
        &self,
        binding: &str,
        relation_id: Option<u64>,
    ) -> Result<Network, ToolError> {
        let mut args = argv(["--format=json"]);
        if let Some(id) = relation_id {
            args.extend(argv(["-r".to_owned(), id.to_string()]));
        }
        args.push(binding.to_owned());
        self.run_json("network-get", &args)
    }
}
