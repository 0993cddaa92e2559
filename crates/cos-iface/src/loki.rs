//! `loki_push_api`, requirer side (`logging`): what `LogForwarder` (loki_k8s v1, LIBPATCH 25)
//! reads and writes.
//!
//! - Reads each provider unit's [`ENDPOINT_KEY`]: `{"url": "<scheme>://<host>:<port>/loki/api/v1/push"}`
//!   (the provider's FQDN, or its ingress URL with a path prefix and no port).
//! - Writes, on the leader, [`METADATA_KEY`] (`json.dumps(topology.as_dict())`) and
//!   [`ALERT_RULES_KEY`] (`json.dumps(rules, sort_keys=True)`: `{}` for a charm without
//!   `src/loki_alert_rules`, as the reference charms are).
//! - Adds to every workload container the Pebble layer `<container>-log-forwarding`
//!   (`combine=True`) with one log target per provider unit, named after the unit
//!   ([`log_forwarding_layer`]); a target whose unit went away is replaced by a disabled one
//!   ([`disabled_targets_layer`]).

use serde::Serialize;
use serde_json::Value;

use crate::error::{InvalidField, Problem};
use crate::json::{self, Ordered};
use crate::pyjson;
use crate::topology::{Topology, UnitName};
use crate::url::HttpUrl;

/// Provider unit databag key.
pub const ENDPOINT_KEY: &str = "endpoint";
/// Requirer application databag key: the topology.
pub const METADATA_KEY: &str = "metadata";
/// Requirer application databag key: LogQL alert rules.
pub const ALERT_RULES_KEY: &str = "alert_rules";
/// The path every push URL ends with.
pub const PUSH_PATH: &str = "/loki/api/v1/push";
/// Longest `endpoint` value read.
pub const MAX_ENDPOINT_BYTES: usize = 4096;

/// A Loki push URL: an [`HttpUrl`] whose path is `/loki/api/v1/push`, after at most an
/// ingress prefix (`/cos-loki-0/loki/api/v1/push`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PushUrl(HttpUrl);

impl PushUrl {
    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let url = HttpUrl::parse(text)?;
        if !url.path().ends_with(PUSH_PATH) {
            return Err(Problem::BadUrl(
                "the path does not end with /loki/api/v1/push",
            ));
        }
        Ok(Self(url))
    }

    /// The checked URL.
    pub fn url(&self) -> &HttpUrl {
        &self.0
    }

    /// The URL text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Reads a provider unit's `endpoint` value. Unknown keys are ignored, as the library does.
pub fn endpoint_from_databag(text: &str) -> Result<PushUrl, InvalidField> {
    if text.len() > MAX_ENDPOINT_BYTES {
        return Err(InvalidField::new(
            ENDPOINT_KEY,
            Problem::TooLarge {
                max: MAX_ENDPOINT_BYTES,
            },
        ));
    }
    let value = json::parse(ENDPOINT_KEY, text)?;
    let fields = json::object(&value).map_err(|p| InvalidField::new(ENDPOINT_KEY, p))?;
    let url = fields
        .get("url")
        .ok_or(InvalidField::new("endpoint.url", Problem::Missing))?;
    let url: &Value = url;
    json::string(url)
        .and_then(PushUrl::parse)
        .map_err(|p| InvalidField::new("endpoint.url", p))
}

/// The leader's application databag.
pub fn app_databag(topology: &Topology) -> [(&'static str, String); 2] {
    [
        (METADATA_KEY, topology.metadata_json()),
        (ALERT_RULES_KEY, "{}".to_owned()),
    ]
}

/// The Pebble layer label of a container's log targets.
pub fn layer_label(container: &str) -> String {
    format!("{container}-log-forwarding")
}

#[derive(Serialize)]
struct Target<'a> {
    #[serde(rename = "override")]
    override_: &'static str,
    services: [&'static str; 1],
    #[serde(rename = "type")]
    type_: &'static str,
    location: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<Labels<'a>>,
}

#[derive(Serialize)]
struct Labels<'a> {
    product: &'static str,
    charm: &'a str,
    juju_model: &'a str,
    juju_model_uuid: &'a str,
    juju_application: &'a str,
    juju_unit: &'a str,
}

#[derive(Serialize)]
struct LayerDict<'a> {
    #[serde(rename = "log-targets")]
    log_targets: Ordered<'a, Target<'a>>,
}

/// The layer enabling forwarding of all services' logs to each `(provider unit, URL)`, as
/// JSON text (YAML to Pebble): `{"log-targets": {"loki/0": {"override": "replace",
/// "services": ["all"], "type": "loki", "location": <url>, "labels": {"product": "Juju",
/// "charm", "juju_model", "juju_model_uuid", "juju_application", "juju_unit"}}}}`.
pub fn log_forwarding_layer(endpoints: &[(UnitName, PushUrl)], topology: &Topology) -> String {
    let targets: Vec<(&str, Target<'_>)> = endpoints
        .iter()
        .map(|(unit, url)| {
            (
                unit.as_str(),
                Target {
                    override_: "replace",
                    services: ["all"],
                    type_: "loki",
                    location: url.as_str(),
                    labels: Some(Labels {
                        product: "Juju",
                        charm: topology.charm_name.as_str(),
                        juju_model: topology.model.as_str(),
                        juju_model_uuid: topology.model_uuid.as_str(),
                        juju_application: topology.application.as_str(),
                        juju_unit: topology.unit.as_str(),
                    }),
                },
            )
        })
        .collect();
    pyjson::dumps(&LayerDict {
        log_targets: Ordered(&targets),
    })
}

/// The layer disabling the targets of provider units that went away: `services: ["-all"]`,
/// location `(removed)`, no labels (the library's `disable_inactive_endpoints`).
pub fn disabled_targets_layer(gone: &[UnitName]) -> String {
    let targets: Vec<(&str, Target<'_>)> = gone
        .iter()
        .map(|unit| {
            (
                unit.as_str(),
                Target {
                    override_: "replace",
                    services: ["-all"],
                    type_: "loki",
                    location: "(removed)",
                    labels: None,
                },
            )
        })
        .collect();
    pyjson::dumps(&LayerDict {
        log_targets: Ordered(&targets),
    })
}
