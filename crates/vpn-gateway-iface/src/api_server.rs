//! The API server's real endpoints, which the kill switch must always let out
//! (docs/interface.md §4, ADR 0036).
//!
//! A charm reaches the API server through the `kubernetes` Service's ClusterIP, inside the
//! cluster CIDRs the kill switch allows. But Calico (MicroK8s' default CNI) and others enforce
//! NetworkPolicy after the Service's DNAT, so the policy sees the API server's own address and
//! port (on MicroK8s the node's address, port 16443), usually outside every cluster CIDR:
//! without a rule for it the charm's own container, in the same pod, loses the API server and
//! can never repair or remove anything. The endpoints are read from `default/kubernetes`
//! every hook: its EndpointSlice (`discovery.k8s.io/v1`), else its Endpoints (`v1`; the API
//! server writes both, and test servers older than 1.21 serve only the latter).
//!
//! Both are untrusted input (any cluster admin can write them): every address must parse as an
//! IP (no leading zeros), be unicast, specified and not the cloud metadata address; every port
//! 1-65535 and TCP; at most [`MAX_ADDRESSES`] addresses and [`MAX_PORTS`] ports.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use crate::error::{InvalidField, Problem};

/// The namespace of the `kubernetes` Service and its endpoints.
pub const NAMESPACE: &str = "default";
/// The name of the Service, its EndpointSlice and its Endpoints.
pub const NAME: &str = "kubernetes";
/// Most addresses accepted: one per API server replica; more is not a cluster we know.
pub const MAX_ADDRESSES: usize = 16;
/// Most ports accepted (the Service has one, `https`).
pub const MAX_PORTS: usize = 4;

/// The cloud metadata address: never let out, whoever lists it.
const METADATA: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254));

/// The API server's addresses and ports, validated, sorted and without duplicates. Empty when
/// neither object exists (a cluster whose endpoints we cannot see: the kill switch then has
/// no rule for them, as before).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiServerEndpoints {
    addresses: BTreeSet<IpAddr>,
    ports: BTreeSet<u16>,
}

impl ApiServerEndpoints {
    /// No endpoints known.
    pub fn none() -> Self {
        Self::default()
    }

    /// The addresses, sorted.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.addresses.iter().copied()
    }

    /// The ports, sorted.
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports.iter().copied()
    }

    /// True when there is nothing to allow (no address or no port).
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty() || self.ports.is_empty()
    }

    /// From the EndpointSlice `default/kubernetes` as JSON (`endpoints[].addresses[]`,
    /// `ports[].port`/`protocol`; `addressType` must be IPv4 or IPv6).
    pub fn from_endpoint_slice(slice: &Value) -> Result<Self, InvalidField> {
        match slice.get("addressType").and_then(Value::as_str) {
            Some("IPv4" | "IPv6") => {}
            Some(_) => return Err(InvalidField::new("addressType", Problem::BadIp)),
            None => return Err(InvalidField::new("addressType", Problem::Missing)),
        }
        let mut out = Self::default();
        for endpoint in list(slice.get("endpoints"), "endpoints")? {
            for address in list(endpoint.get("addresses"), "endpoints.addresses")? {
                out.add_address(address, "endpoints.addresses")?;
            }
        }
        for port in list(slice.get("ports"), "ports")? {
            out.add_port(port, "ports.port", "ports.protocol")?;
        }
        Ok(out)
    }

    /// From the Endpoints `default/kubernetes` as JSON (`subsets[].addresses[].ip`,
    /// `subsets[].ports[].port`/`protocol`; not-ready addresses are left out, as the Service
    /// leaves them out).
    pub fn from_endpoints(endpoints: &Value) -> Result<Self, InvalidField> {
        let mut out = Self::default();
        for subset in list(endpoints.get("subsets"), "subsets")? {
            for address in list(subset.get("addresses"), "subsets.addresses")? {
                out.add_address(
                    address.get("ip").unwrap_or(&Value::Null),
                    "subsets.addresses.ip",
                )?;
            }
            for port in list(subset.get("ports"), "subsets.ports")? {
                out.add_port(port, "subsets.ports.port", "subsets.ports.protocol")?;
            }
        }
        Ok(out)
    }

    fn add_address(&mut self, value: &Value, field: &'static str) -> Result<(), InvalidField> {
        let text = value.as_str().ok_or(InvalidField::new(
            field,
            Problem::WrongType {
                expected: "a string",
            },
        ))?;
        // std refuses IPv4 octets with a leading zero (`010.0.0.1`).
        let ip: IpAddr = text
            .parse()
            .map_err(|_| InvalidField::new(field, Problem::BadIp))?;
        if ip.is_unspecified() || ip.is_multicast() || ip == METADATA || is_broadcast(ip) {
            return Err(InvalidField::new(field, Problem::NotUnicast { ip }));
        }
        self.addresses.insert(ip);
        if self.addresses.len() > MAX_ADDRESSES {
            return Err(InvalidField::new(
                field,
                Problem::TooMany { max: MAX_ADDRESSES },
            ));
        }
        Ok(())
    }

    fn add_port(
        &mut self,
        port: &Value,
        field: &'static str,
        protocol_field: &'static str,
    ) -> Result<(), InvalidField> {
        match port.get("protocol") {
            None | Some(Value::Null) => {}
            Some(Value::String(p)) if p == "TCP" => {}
            Some(_) => {
                return Err(InvalidField::new(
                    protocol_field,
                    Problem::WrongType { expected: "TCP" },
                ));
            }
        }
        let number = port
            .get("port")
            .ok_or(InvalidField::new(field, Problem::Missing))?
            .as_u64()
            .ok_or(InvalidField::new(
                field,
                Problem::WrongType {
                    expected: "an integer",
                },
            ))?;
        let number = u16::try_from(number)
            .ok()
            .filter(|n| *n != 0)
            .ok_or(InvalidField::new(
                field,
                Problem::OutOfRange {
                    min: 1,
                    max: 65_535,
                },
            ))?;
        self.ports.insert(number);
        if self.ports.len() > MAX_PORTS {
            return Err(InvalidField::new(
                field,
                Problem::TooMany { max: MAX_PORTS },
            ));
        }
        Ok(())
    }
}

fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

/// An optional JSON list: absent or null is empty, anything but a list is refused.
fn list<'v>(value: Option<&'v Value>, field: &'static str) -> Result<&'v [Value], InvalidField> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(InvalidField::new(
            field,
            Problem::WrongType { expected: "a list" },
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ok(result: Result<ApiServerEndpoints, InvalidField>) -> ApiServerEndpoints {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn reads_the_slice_and_the_endpoints_alike() {
        let slice = json!({
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["192.168.1.20"], "conditions": {"ready": true}},
                          {"addresses": ["192.168.1.10"]}],
            "ports": [{"name": "https", "port": 16443, "protocol": "TCP"}]
        });
        let endpoints = json!({"subsets": [{
            "addresses": [{"ip": "192.168.1.10"}, {"ip": "192.168.1.20"}],
            "ports": [{"name": "https", "port": 16443}]
        }]});
        let from_slice = ok(ApiServerEndpoints::from_endpoint_slice(&slice));
        assert_eq!(
            from_slice,
            ok(ApiServerEndpoints::from_endpoints(&endpoints))
        );
        assert_eq!(
            from_slice
                .addresses()
                .map(|a| a.to_string())
                .collect::<Vec<_>>(),
            ["192.168.1.10", "192.168.1.20"]
        );
        assert_eq!(from_slice.ports().collect::<Vec<_>>(), [16443]);
        assert!(!from_slice.is_empty());
        assert!(ok(ApiServerEndpoints::from_endpoints(&json!({}))).is_empty());
    }

    #[test]
    fn hostile_endpoints_are_refused_naming_the_field() {
        let slice = |addresses: Value, ports: Value| json!({"addressType": "IPv4", "endpoints": [{"addresses": addresses}], "ports": ports});
        let port = json!([{"port": 6443}]);
        let cases = [
            (
                slice(json!(["010.0.0.1"]), port.clone()),
                "endpoints.addresses",
                "not a valid IP address",
            ),
            (
                slice(json!(["10.0.0.1; rm -rf /"]), port.clone()),
                "endpoints.addresses",
                "not a valid IP address",
            ),
            (
                slice(json!(["0.0.0.0"]), port.clone()),
                "endpoints.addresses",
                "0.0.0.0 is not",
            ),
            (
                slice(json!(["224.0.0.1"]), port.clone()),
                "endpoints.addresses",
                "224.0.0.1 is not",
            ),
            (
                slice(json!(["169.254.169.254"]), port.clone()),
                "endpoints.addresses",
                "169.254.169.254 is not",
            ),
            (
                slice(json!([7]), port.clone()),
                "endpoints.addresses",
                "must be a string",
            ),
            (
                slice(json!("10.0.0.1"), port.clone()),
                "endpoints.addresses",
                "must be a list",
            ),
            (
                slice(json!(["10.0.0.1"]), json!([{"port": 0}])),
                "ports.port",
                "from 1 to 65535",
            ),
            (
                slice(json!(["10.0.0.1"]), json!([{"port": 70000}])),
                "ports.port",
                "from 1 to 65535",
            ),
            (
                slice(json!(["10.0.0.1"]), json!([{"port": "6443"}])),
                "ports.port",
                "an integer",
            ),
            (
                slice(
                    json!(["10.0.0.1"]),
                    json!([{"port": 53, "protocol": "UDP"}]),
                ),
                "ports.protocol",
                "TCP",
            ),
            (
                slice(json!(["10.0.0.1"]), json!([{}])),
                "ports.port",
                "missing",
            ),
            (
                slice(
                    json!((1..=17).map(|i| format!("10.0.0.{i}")).collect::<Vec<_>>()),
                    port.clone(),
                ),
                "endpoints.addresses",
                "more than 16",
            ),
            (
                json!({"addressType": "FQDN"}),
                "addressType",
                "not a valid IP",
            ),
            (json!({}), "addressType", "missing"),
        ];
        for (input, field, words) in cases {
            let e = ApiServerEndpoints::from_endpoint_slice(&input).expect_err(&input.to_string());
            assert_eq!(e.field, field, "{input}");
            assert!(e.to_string().contains(words), "{input}: {e}");
        }
        let e = ApiServerEndpoints::from_endpoints(
            &json!({"subsets": [{"addresses": [{"ip": "::"}]}]}),
        )
        .unwrap_err();
        assert_eq!(e.field, "subsets.addresses.ip");
    }
}
