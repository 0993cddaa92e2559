//! The `vpn-gateway` relation's wire format (docs/interface.md §2): the JSON held in the
//! application databag key `config`, read into validated types and written the way the
//! reference implementation (`charmarr-lib-vpn` 0.6.x) writes it.
//!
//! Reading is total: any string gives a value or an [`InvalidField`], never a panic. The JSON
//! is bounded by [`MAX_CONFIG_BYTES`] before it is parsed (serde_json also caps nesting depth).
//! Unknown fields are ignored; absent optional fields take the defaults of
//! docs/interface.md §2; types are strict (an integer field must be a JSON integer, a bool a
//! JSON bool).

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::cidrs::{ClusterCidrs, ZTUNNEL_LINK_LOCAL};
use crate::error::{InvalidField, Problem};
use crate::types::{AppName, DnsName, Namespace, VxlanId, VxlanNetwork, VxlanPort};

/// The application databag key both sides write.
pub const DATABAG_KEY: &str = "config";
/// Largest `config` value accepted, in bytes.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;
/// The only routing method defined.
pub const ROUTING_METHOD: &str = "pod-gateway";

/// The VXLAN parameters both ends of the tunnel must agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VxlanSettings {
    /// VXLAN network identifier.
    pub id: VxlanId,
    /// First three octets of the overlay /24.
    pub network: VxlanNetwork,
    /// VXLAN UDP port.
    pub port: VxlanPort,
}

impl Default for VxlanSettings {
    fn default() -> Self {
        Self {
            id: VxlanId::DEFAULT,
            network: VxlanNetwork::DEFAULT,
            port: VxlanPort::DEFAULT,
        }
    }
}

/// What the gateway publishes, validated. `routing_method` is implicit: only `pod-gateway`
/// parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderData {
    /// `<gateway-app>-endpoints.<model>.svc.cluster.local`.
    pub gateway_dns_name: DnsName,
    /// VXLAN id, overlay network and port.
    pub vxlan: VxlanSettings,
    /// CIDRs that must not be routed to the gateway.
    pub cluster_cidrs: ClusterCidrs,
    /// ClusterIP of the cluster DNS service.
    pub cluster_dns_ip: IpAddr,
    /// The gateway's last health check.
    pub vpn_connected: bool,
    /// VPN exit IP seen by the gateway, when known.
    pub external_ip: Option<IpAddr>,
    /// The gateway's application name.
    pub instance_name: AppName,
}

/// What the gateway knows when it builds its [`ProviderData`].
#[derive(Debug, Clone, Copy)]
pub struct GatewayInputs<'a> {
    /// The gateway's application name.
    pub app: &'a AppName,
    /// The gateway's model (its namespace).
    pub model: &'a Namespace,
    /// `vxlan-id` config.
    pub vxlan_id: VxlanId,
    /// `cluster-cidrs` config.
    pub cluster_cidrs: &'a ClusterCidrs,
    /// ClusterIP of `kube-dns` (else `coredns`) in `kube-system`.
    pub cluster_dns_ip: IpAddr,
    /// Health check: connected.
    pub vpn_connected: bool,
    /// Health check: exit IP.
    pub external_ip: Option<IpAddr>,
}

impl ProviderData {
    /// The gateway's published data (docs/interface.md §3): DNS name from app and model, the
    /// configured CIDRs plus Istio ztunnel's `169.254.7.127/32`, default overlay network and
    /// port.
    pub fn for_gateway(inputs: &GatewayInputs<'_>) -> Result<Self, InvalidField> {
        let name = format!(
            "{}-endpoints.{}.svc.cluster.local",
            inputs.app, inputs.model
        );
        let gateway_dns_name =
            DnsName::parse(&name).map_err(|p| InvalidField::new("gateway_dns_name", p))?;
        let cluster_cidrs = inputs
            .cluster_cidrs
            .with(ZTUNNEL_LINK_LOCAL)
            .map_err(|p| InvalidField::new("cluster-cidrs", p))?;
        Ok(Self {
            gateway_dns_name,
            vxlan: VxlanSettings {
                id: inputs.vxlan_id,
                ..VxlanSettings::default()
            },
            cluster_cidrs,
            cluster_dns_ip: inputs.cluster_dns_ip,
            vpn_connected: inputs.vpn_connected,
            external_ip: inputs.external_ip,
            instance_name: inputs.app.clone(),
        })
    }

    /// Reads and validates a provider's `config` value.
    pub fn from_databag(text: &str) -> Result<Self, InvalidField> {
        let fields = object(text)?;
        let routing_method = optional(&fields, "routing_method", string)?.unwrap_or(ROUTING_METHOD);
        if routing_method != ROUTING_METHOD {
            return Err(InvalidField::new(
                "routing_method",
                Problem::UnsupportedRoutingMethod,
            ));
        }
        let id = optional(&fields, "vxlan_id", |v| integer(v).and_then(VxlanId::new))?;
        let network = optional(&fields, "vxlan_ip_network", |v| {
            string(v).and_then(VxlanNetwork::parse)
        })?;
        let port = optional(&fields, "vxlan_port", |v| {
            integer(v).and_then(VxlanPort::new)
        })?;
        Ok(Self {
            gateway_dns_name: required(&fields, "gateway_dns_name", |v| {
                string(v).and_then(DnsName::parse)
            })?,
            vxlan: VxlanSettings {
                id: id.unwrap_or(VxlanId::DEFAULT),
                network: network.unwrap_or(VxlanNetwork::DEFAULT),
                port: port.unwrap_or(VxlanPort::DEFAULT),
            },
            cluster_cidrs: required(&fields, "cluster_cidrs", |v| {
                string(v).and_then(ClusterCidrs::parse)
            })?,
            cluster_dns_ip: required(&fields, "cluster_dns_ip", cluster_ip)?,
            vpn_connected: optional(&fields, "vpn_connected", boolean)?.unwrap_or(false),
            external_ip: optional_nullable(&fields, "external_ip", ip)?,
            instance_name: required(&fields, "instance_name", |v| {
                string(v).and_then(AppName::parse)
            })?,
        })
    }

    /// The `config` value to write: every field, in the reference's order, compact JSON,
    /// `external_ip` as `null` when unknown (byte-identical to pydantic's `model_dump_json`).
    pub fn to_databag(&self) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            routing_method: &'static str,
            gateway_dns_name: &'a str,
            vxlan_id: u32,
            vxlan_ip_network: String,
            vxlan_port: u16,
            cluster_cidrs: String,
            cluster_dns_ip: String,
            vpn_connected: bool,
            external_ip: Option<String>,
            instance_name: &'a str,
        }
        let wire = Wire {
            routing_method: ROUTING_METHOD,
            gateway_dns_name: self.gateway_dns_name.as_str(),
            vxlan_id: self.vxlan.id.get(),
            vxlan_ip_network: self.vxlan.network.to_string(),
            vxlan_port: self.vxlan.port.get(),
            cluster_cidrs: self.cluster_cidrs.to_comma_separated(),
            cluster_dns_ip: self.cluster_dns_ip.to_string(),
            vpn_connected: self.vpn_connected,
            external_ip: self.external_ip.map(|ip| ip.to_string()),
            instance_name: self.instance_name.as_str(),
        };
        // Cannot fail: serde_json only fails on non-string map keys or a failing custom
        // Serialize impl, and this struct holds only strings, integers, bools and an Option.
        serde_json::to_string(&wire).expect("plain struct serialises")
    }
}

/// What a requirer publishes, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirerData {
    /// The requirer's application name.
    pub instance_name: AppName,
}

impl RequirerData {
    /// Reads and validates a requirer's `config` value.
    pub fn from_databag(text: &str) -> Result<Self, InvalidField> {
        let fields = object(text)?;
        Ok(Self {
            instance_name: required(&fields, "instance_name", |v| {
                string(v).and_then(AppName::parse)
            })?,
        })
    }

    /// The `config` value to write: `{"instance_name":"<app>"}`.
    pub fn to_databag(&self) -> String {
        let mut map = Map::new();
        map.insert(
            "instance_name".to_owned(),
            Value::String(self.instance_name.to_string()),
        );
        Value::Object(map).to_string()
    }
}

fn object(text: &str) -> Result<Map<String, Value>, InvalidField> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(InvalidField::new(
            DATABAG_KEY,
            Problem::TooLarge {
                max: MAX_CONFIG_BYTES,
            },
        ));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(InvalidField::new(DATABAG_KEY, Problem::NotJsonObject)),
    }
}

fn required<'v, T>(
    fields: &'v Map<String, Value>,
    field: &'static str,
    read: impl FnOnce(&'v Value) -> Result<T, Problem>,
) -> Result<T, InvalidField> {
    let value = fields
        .get(field)
        .ok_or(InvalidField::new(field, Problem::Missing))?;
    read(value).map_err(|p| InvalidField::new(field, p))
}

fn optional<'v, T>(
    fields: &'v Map<String, Value>,
    field: &'static str,
    read: impl FnOnce(&'v Value) -> Result<T, Problem>,
) -> Result<Option<T>, InvalidField> {
    fields
        .get(field)
        .map(read)
        .transpose()
        .map_err(|p| InvalidField::new(field, p))
}

fn optional_nullable<'v, T>(
    fields: &'v Map<String, Value>,
    field: &'static str,
    read: impl FnOnce(&'v Value) -> Result<T, Problem>,
) -> Result<Option<T>, InvalidField> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => read(value)
            .map(Some)
            .map_err(|p| InvalidField::new(field, p)),
    }
}

fn string(value: &Value) -> Result<&str, Problem> {
    value.as_str().ok_or(Problem::WrongType {
        expected: "a string",
    })
}

fn integer(value: &Value) -> Result<i128, Problem> {
    let n = value.as_number().ok_or(Problem::WrongType {
        expected: "an integer",
    })?;
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
        .ok_or(Problem::WrongType {
            expected: "an integer",
        })
}

fn boolean(value: &Value) -> Result<bool, Problem> {
    value.as_bool().ok_or(Problem::WrongType {
        expected: "a boolean",
    })
}

/// An address as std parses it, which refuses IPv4 octets with a leading zero (`010.0.0.1`).
fn ip(value: &Value) -> Result<IpAddr, Problem> {
    string(value)?.parse().map_err(|_| Problem::BadIp)
}

/// An address inside the cluster: private or link-local unicast ([`ALLOWED_RANGES`]), so a
/// DNS address that is public, loopback, unspecified or multicast is refused.
///
/// [`ALLOWED_RANGES`]: crate::cidrs::ALLOWED_RANGES
fn cluster_ip(value: &Value) -> Result<IpAddr, Problem> {
    let ip = ip(value)?;
    if crate::cidrs::is_cluster_range(&ipnet::IpNet::from(ip)) {
        Ok(ip)
    } else {
        Err(Problem::NotClusterAddress { ip })
    }
}
