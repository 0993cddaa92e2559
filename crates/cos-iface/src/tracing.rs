//! `tracing`, requirer side (`charm-tracing`): the models of tempo_coordinator_k8s v0
//! (LIBPATCH 11; ops[tracing] 3.6 vendors LIBPATCH 6, with the same models).
//!
//! Both sides write one application databag key, [`RECEIVERS_KEY`]:
//! - the requirer (leader), `json.dumps([...protocols])`: `["otlp_http"]` for ops[tracing]
//!   ([`requirer_databag`]);
//! - the provider, `json.dumps([{"protocol": {"name": ..., "type": "http"|"grpc"}, "url": ...}])`
//!   ([`ProviderData::from_databag`]). An `http` receiver's URL has a scheme; a `grpc` one's is
//!   `host:port`.
//!
//! ops[tracing] sends charm traces to the first `otlp_http` receiver's URL, `/` stripped at
//! the end, plus `/v1/traces` ([`ProviderData::otlp_http_traces_url`]).

use serde_json::Value;

use crate::error::{InvalidField, Problem};
use crate::json;
use crate::pyjson;
use crate::url::{HostPort, HttpUrl};

/// The application databag key, both sides.
pub const RECEIVERS_KEY: &str = "receivers";
/// Most receivers read from a provider (Tempo publishes at most its five protocols).
pub const MAX_RECEIVERS: usize = 32;
/// Longest receiver protocol name read.
pub const MAX_NAME_LEN: usize = 64;

/// The protocols a requirer may ask for (`ReceiverProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiverProtocol {
    /// `zipkin`.
    Zipkin,
    /// `otlp_grpc`.
    OtlpGrpc,
    /// `otlp_http`: what ops[tracing] asks for.
    OtlpHttp,
    /// `jaeger_grpc`.
    JaegerGrpc,
    /// `jaeger_thrift_http`.
    JaegerThriftHttp,
}

impl ReceiverProtocol {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zipkin => "zipkin",
            Self::OtlpGrpc => "otlp_grpc",
            Self::OtlpHttp => "otlp_http",
            Self::JaegerGrpc => "jaeger_grpc",
            Self::JaegerThriftHttp => "jaeger_thrift_http",
        }
    }

    /// The transport the library pairs it with.
    pub fn transport(self) -> Transport {
        match self {
            Self::OtlpGrpc | Self::JaegerGrpc => Transport::Grpc,
            _ => Transport::Http,
        }
    }
}

/// `TransportProtocolType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `http`.
    Http,
    /// `grpc`.
    Grpc,
}

/// The requirer's `receivers` value.
pub fn requirer_databag(protocols: &[ReceiverProtocol]) -> String {
    let names: Vec<&str> = protocols.iter().map(|p| p.as_str()).collect();
    pyjson::dumps(&names)
}

/// Where a receiver listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverUrl {
    /// An `http` receiver: a checked URL with a scheme.
    Http(HttpUrl),
    /// A `grpc` receiver: `host:port`.
    Grpc(HostPort),
}

impl ReceiverUrl {
    /// The text as published.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Http(u) => u.as_str(),
            Self::Grpc(a) => a.as_str(),
        }
    }
}

/// One published receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    /// `protocol.name`: free text in the library (other providers may name other protocols);
    /// here `[a-z0-9_]`, 1–64 characters.
    pub name: String,
    /// `protocol.type`, which also decides how `url` is read.
    pub transport: Transport,
    /// `url`.
    pub url: ReceiverUrl,
}

/// What the provider publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderData {
    /// The receivers, in the provider's order.
    pub receivers: Vec<Receiver>,
}

impl ProviderData {
    /// Reads the provider's `receivers` value. Every entry is checked; unknown keys are ignored.
    pub fn from_databag(text: &str) -> Result<Self, InvalidField> {
        let value = json::parse(RECEIVERS_KEY, text)?;
        let list = json::array(&value).map_err(|p| InvalidField::new(RECEIVERS_KEY, p))?;
        if list.len() > MAX_RECEIVERS {
            return Err(InvalidField::new(
                RECEIVERS_KEY,
                Problem::TooLarge { max: MAX_RECEIVERS },
            ));
        }
        let receivers = list.iter().map(read_receiver).collect::<Result<_, _>>()?;
        Ok(Self { receivers })
    }

    /// The first receiver named `protocol.as_str()` (the library takes the first of several).
    pub fn receiver(&self, protocol: ReceiverProtocol) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == protocol.as_str())
    }

    /// Where ops[tracing] sends charm traces: the `otlp_http` receiver's URL without a
    /// trailing `/`, plus `/v1/traces`. `None` without one, or when it is not an http URL.
    pub fn otlp_http_traces_url(&self) -> Option<String> {
        match &self.receiver(ReceiverProtocol::OtlpHttp)?.url {
            ReceiverUrl::Http(url) => {
                Some(format!("{}/v1/traces", url.as_str().trim_end_matches('/')))
            }
            ReceiverUrl::Grpc(_) => None,
        }
    }
}

fn read_receiver(value: &Value) -> Result<Receiver, InvalidField> {
    let fields = json::object(value).map_err(|p| InvalidField::new(RECEIVERS_KEY, p))?;
    let protocol = fields
        .get("protocol")
        .ok_or(InvalidField::new("receivers.protocol", Problem::Missing))?;
    let protocol =
        json::object(protocol).map_err(|p| InvalidField::new("receivers.protocol", p))?;
    let name = protocol
        .get("name")
        .ok_or(InvalidField::new(
            "receivers.protocol.name",
            Problem::Missing,
        ))
        .and_then(|v| {
            json::string(v).map_err(|p| InvalidField::new("receivers.protocol.name", p))
        })?;
    let token = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.bytes().all(token) {
        return Err(InvalidField::new(
            "receivers.protocol.name",
            Problem::Invalid("a protocol name is 1-64 of a-z, 0-9 and _"),
        ));
    }
    let transport = match protocol.get("type") {
        None => {
            return Err(InvalidField::new(
                "receivers.protocol.type",
                Problem::Missing,
            ));
        }
        Some(Value::String(t)) if t == "http" => Transport::Http,
        Some(Value::String(t)) if t == "grpc" => Transport::Grpc,
        Some(_) => {
            return Err(InvalidField::new(
                "receivers.protocol.type",
                Problem::UnknownValue {
                    expected: "one of http, grpc",
                },
            ));
        }
    };
    let url = fields
        .get("url")
        .ok_or(InvalidField::new("receivers.url", Problem::Missing))
        .and_then(|v| json::string(v).map_err(|p| InvalidField::new("receivers.url", p)))?;
    let url = match transport {
        Transport::Http => HttpUrl::parse(url).map(ReceiverUrl::Http),
        Transport::Grpc => HostPort::parse(url).map(ReceiverUrl::Grpc),
    }
    .map_err(|p| InvalidField::new("receivers.url", p))?;
    Ok(Receiver {
        name: name.to_owned(),
        transport,
        url,
    })
}
