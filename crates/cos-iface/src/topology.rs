//! Juju topology: the five facts (model, model UUID, application, unit, charm) every COS
//! relation stamps on what it sends, as `cosl.JujuTopology` holds and formats them.

use std::fmt;

use serde::Serialize;
use vpn_gateway_iface::{AppName, Namespace};

use crate::error::Problem;

/// A Juju model UUID in the one form `cosl.JujuTopology` accepts: `str(UUID(x, version=4)) == x`,
/// i.e. lower-case hex `8-4-4-4-12` with version nibble `4` and variant `8`, `9`, `a` or `b`
/// (Juju's model UUIDs are random v4 UUIDs). Anything else makes the Prometheus side raise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelUuid(String);

impl ModelUuid {
    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let b = text.as_bytes();
        if b.len() != 36 {
            return Err(Problem::BadName("a model UUID is 36 characters"));
        }
        for (i, &c) in b.iter().enumerate() {
            let ok = if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
            };
            if !ok {
                return Err(Problem::BadName(
                    "a model UUID is lower-case hex grouped 8-4-4-4-12",
                ));
            }
        }
        if b[14] != b'4' || !matches!(b[19], b'8' | b'9' | b'a' | b'b') {
            return Err(Problem::BadName("a model UUID is a version 4 UUID"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The UUID.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first eight characters, as `JujuTopology.model_uuid_short`.
    pub fn short(&self) -> &str {
        &self.0[..8]
    }
}

impl fmt::Display for ModelUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A unit name, `<application>/<number>`, the number decimal without a leading zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitName(String);

impl UnitName {
    /// Longest name accepted: an application name, `/` and a `u32`.
    pub const MAX_LEN: usize = AppName::MAX_LEN + 1 + 10;

    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text.len() > Self::MAX_LEN {
            return Err(Problem::BadName("a unit name is at most 74 characters"));
        }
        let (app, number) = text
            .split_once('/')
            .ok_or(Problem::BadName("a unit name is <application>/<number>"))?;
        AppName::parse(app)?;
        let digits = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
        if !digits
            || (number.len() > 1 && number.starts_with('0'))
            || number.parse::<u32>().is_err()
        {
            return Err(Problem::BadName(
                "a unit number is decimal without a leading zero",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// `<application>/<number>` of this application's unit `number`.
    pub fn of(app: &AppName, number: u32) -> Self {
        Self(format!("{app}/{number}"))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The application part.
    pub fn application(&self) -> &str {
        self.0.split_once('/').map_or("", |(app, _)| app)
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The topology of the unit running the charm (`JujuTopology.from_charm`). The charm name is
/// the one in `charmcraft.yaml` (`gluetun-k8s`), which Juju's charm-name rule makes an
/// [`AppName`] too; a model name is a Kubernetes namespace on Kubernetes clouds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// `juju_model`.
    pub model: Namespace,
    /// `juju_model_uuid`.
    pub model_uuid: ModelUuid,
    /// `juju_application`.
    pub application: AppName,
    /// `juju_unit`.
    pub unit: UnitName,
    /// `juju_charm` (the library's `charm_name`).
    pub charm_name: AppName,
}

/// `JujuTopology.as_dict()`: the five keys in this order.
#[derive(Serialize)]
pub(crate) struct TopologyDict<'a> {
    model: &'a str,
    model_uuid: &'a str,
    application: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    charm_name: Option<&'a str>,
}

impl Topology {
    /// `JujuTopology.identifier`: `<model>_<uuid[:8]>_<application>`, what the libraries put
    /// in front of alert rule group names.
    pub fn identifier(&self) -> String {
        format!(
            "{}_{}_{}",
            self.model,
            self.model_uuid.short(),
            self.application
        )
    }

    /// `JujuTopology.label_matcher_dict`: `juju_model`, `juju_model_uuid`,
    /// `juju_application`, `juju_charm`, in this order (never the unit).
    pub fn label_matchers(&self) -> [(&'static str, &str); 4] {
        [
            ("juju_model", self.model.as_str()),
            ("juju_model_uuid", self.model_uuid.as_str()),
            ("juju_application", self.application.as_str()),
            ("juju_charm", self.charm_name.as_str()),
        ]
    }

    /// `JujuTopology.as_dict()`, five keys.
    pub(crate) fn as_dict(&self) -> TopologyDict<'_> {
        TopologyDict {
            model: self.model.as_str(),
            model_uuid: self.model_uuid.as_str(),
            application: self.application.as_str(),
            unit: Some(self.unit.as_str()),
            charm_name: Some(self.charm_name.as_str()),
        }
    }

    /// The grafana library's `_juju_topology`: four keys, no charm name.
    pub(crate) fn as_grafana_dict(&self) -> TopologyDict<'_> {
        TopologyDict {
            charm_name: None,
            ..self.as_dict()
        }
    }

    /// `json.dumps(JujuTopology.as_dict())`: the `scrape_metadata` of `prometheus_scrape` and
    /// the `metadata` of `loki_push_api`.
    pub fn metadata_json(&self) -> String {
        crate::pyjson::dumps(&self.as_dict())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_cosl_v4() {
        assert!(ModelUuid::parse("4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a").is_ok());
        for bad in [
            "4F1A7C2E-9B3D-4E8A-A6C1-2D5E7F9B0C3A",
            "4f1a7c2e-9b3d-1e8a-a6c1-2d5e7f9b0c3a",
            "4f1a7c2e-9b3d-4e8a-c6c1-2d5e7f9b0c3a",
            "4f1a7c2e9b3d4e8aa6c12d5e7f9b0c3a",
            "{4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a}",
            "",
        ] {
            assert!(ModelUuid::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unit_names() {
        assert_eq!(
            UnitName::parse("gluetun/0").map(|u| u.application().to_owned()),
            Ok("gluetun".into())
        );
        assert!(UnitName::parse("gluetun/12").is_ok());
        for bad in [
            "gluetun",
            "gluetun/",
            "gluetun/01",
            "gluetun/-1",
            "Gluetun/0",
            "a/0/1",
            "a/4294967296",
        ] {
            assert!(UnitName::parse(bad).is_err(), "{bad}");
        }
    }
}
