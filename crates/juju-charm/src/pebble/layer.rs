//! Pebble layers and plans: the YAML schema of `internals/plan/plan.go` in Pebble (and ops'
//! `ServiceDict`/`CheckDict`), plus [`Plan::holds`], the pure check a charm runs before
//! re-adding a layer so that an unchanged layer is never written again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::plan_yaml::PlanError;

/// How a layer entry combines with the same entry in lower layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Override {
    /// Fields set here win; the others are kept from below.
    Merge,
    /// This entry replaces the lower one entirely.
    Replace,
}

/// Whether Pebble starts a service (or check) on `replan`/autostart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Startup {
    /// Started automatically.
    Enabled,
    /// Started only on request.
    Disabled,
}

/// What Pebble does when a service exits or a check fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceAction {
    /// Restart the service (Pebble's default).
    Restart,
    /// Shut Pebble down (the container exits).
    Shutdown,
    /// Shut Pebble down with exit code 0.
    SuccessShutdown,
    /// Shut Pebble down with a non-zero exit code.
    FailureShutdown,
    /// Do nothing.
    Ignore,
}

/// Health-check level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckLevel {
    /// Liveness.
    Alive,
    /// Readiness.
    Ready,
}

/// A layer: what `POST /v1/layers` adds (as YAML).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Layer {
    /// One-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Services by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, Service>,
    /// Health checks by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, Check>,
}

/// A service entry of a layer or plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Service {
    /// Required in a layer: `merge` or `replace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#override: Option<Override>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Command line (Pebble splits it shell-style; it is not run by a shell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Autostart behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Startup>,
    /// Services this one starts after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Services this one starts before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<String>,
    /// Services started together with this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// Environment variables (visible in `pebble plan`: never put secrets here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// User name to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// User id to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u32>,
    /// Group name to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Group id to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u32>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Action when the service exits with code 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<ServiceAction>,
    /// Action when the service exits with a non-zero code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<ServiceAction>,
    /// Action per failing check name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub on_check_failure: BTreeMap<String, ServiceAction>,
    /// Initial restart back-off (Go duration, e.g. `500ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_delay: Option<String>,
    /// Back-off multiplier (≥ 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_factor: Option<f64>,
    /// Maximum restart back-off (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<String>,
    /// Time between SIGTERM and SIGKILL (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_delay: Option<String>,
}

/// A health-check entry of a layer or plan. Exactly one of `http`, `tcp`, `exec` is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Check {
    /// Required in a layer: `merge` or `replace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#override: Option<Override>,
    /// `alive` or `ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<CheckLevel>,
    /// Whether the check runs from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Startup>,
    /// Interval between runs (Go duration; Pebble's default `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Timeout of one run (Go duration; Pebble's default `3s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Consecutive failures before the check is down (Pebble's default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// HTTP check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    /// TCP check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCheck>,
    /// Command check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecCheck>,
}

/// An HTTP check: healthy on a 2xx answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct HttpCheck {
    /// URL to GET.
    pub url: String,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// A TCP check: healthy when the port accepts a connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TcpCheck {
    /// Port to connect to.
    pub port: u16,
    /// Host (Pebble's default `localhost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A command check: healthy when the command exits 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ExecCheck {
    /// Command line.
    pub command: String,
    /// Service whose environment, user and working directory the command inherits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_context: Option<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// User id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u32>,
    /// Group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u32>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

impl Layer {
    /// The layer text `POST /v1/layers` carries in `layer` (with `format: yaml`). Written as
    /// JSON, which is YAML: Pebble reads it the same, and the charm binary needs no YAML
    /// writer (docs/adr/0024).
    pub fn to_text(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// Pebble's combined plan, as `GET /v1/plan?format=yaml` returns it.
///
/// Kept as generic YAML values rather than [`Service`]/[`Check`] so that fields or values a
/// newer Pebble adds never make the plan unreadable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Services by name, as Pebble reports them (defaults filled in).
    pub services: BTreeMap<String, Value>,
    /// Checks by name, as Pebble reports them (defaults filled in).
    pub checks: BTreeMap<String, Value>,
}

impl Plan {
    /// Parses the plan YAML Pebble returns (an empty document is an empty plan). See
    /// [`super::plan_yaml`] for what is refused.
    pub fn from_yaml(yaml: &str) -> Result<Self, PlanError> {
        let mut root = match super::plan_yaml::read(yaml)? {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Object(root)) => root,
            Some(_) => return Err(PlanError::Shape("not a mapping")),
        };
        let mut section = |name: &str, what: &'static str| match root.remove(name) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(entries)) => Ok(entries.into_iter().collect()),
            Some(_) => Err(PlanError::Shape(what)),
        };
        Ok(Self {
            services: section("services", "services is not a mapping")?,
            checks: section("checks", "checks is not a mapping")?,
        })
    }

    /// The plan of a Pebble that holds `layer` alone (what `render` assumes: a workload that
    /// already has what the charm would give it).
    pub fn of_layer(layer: &Layer) -> Result<Self, serde_json::Error> {
        fn entries<T: Serialize>(
            of: &BTreeMap<String, T>,
        ) -> Result<BTreeMap<String, Value>, serde_json::Error> {
            of.iter()
                .map(|(name, entry)| Ok((name.clone(), serde_json::to_value(entry)?)))
                .collect()
        }
        Ok(Self {
            services: entries(&layer.services)?,
            checks: entries(&layer.checks)?,
        })
    }

    /// Whether this plan already holds every service and check of `layer` with the layer's
    /// values, so that adding the layer again would change nothing.
    ///
    /// Fields the layer leaves unset are ignored (Pebble fills defaults such as a check's
    /// `threshold: 3`, and other layers may set them). For an entry with `override: replace`
    /// the maps and lists must match exactly; with `merge` the plan may hold more entries
    /// (from lower layers) than the layer. Durations compare by value (`1m` = `1m0s`).
    pub fn holds(&self, layer: &Layer) -> bool {
        fn entries_hold<T: Serialize>(
            plan: &BTreeMap<String, Value>,
            ours: &BTreeMap<String, T>,
            replace: impl Fn(&T) -> bool,
        ) -> bool {
            ours.iter().all(|(name, entry)| {
                let Some(live) = plan.get(name) else {
                    return false;
                };
                let Ok(Value::Object(mut wanted)) = serde_json::to_value(entry) else {
                    return false;
                };
                wanted.remove("override");
                covers(live, &Value::Object(wanted), replace(entry), "")
            })
        }
        entries_hold(&self.services, &layer.services, |s| {
            s.r#override == Some(Override::Replace)
        }) && entries_hold(&self.checks, &layer.checks, |c| {
            c.r#override == Some(Override::Replace)
        })
    }
}

/// Keys whose values are Go durations, which Pebble re-renders canonically (`1m` → `1m0s`).
const DURATION_KEYS: [&str; 5] = [
    "period",
    "timeout",
    "backoff-delay",
    "backoff-limit",
    "kill-delay",
];

/// Whether `live` has every field of `wanted` with the same value. `exact` applies to nested
/// maps and lists: with it, they must match entry for entry.
fn covers(live: &Value, wanted: &Value, exact: bool, key: &str) -> bool {
    match (live, wanted) {
        (Value::Object(live), Value::Object(wanted)) => {
            // Top level (key ""): only the fields we set. Nested maps (environment, headers,
            // on-check-failure): with `replace`, exactly ours.
            (key.is_empty() || !exact || live.len() == wanted.len())
                && wanted
                    .iter()
                    .all(|(k, w)| live.get(k).is_some_and(|l| covers(l, w, exact, k)))
        }
        (Value::Array(live), Value::Array(wanted)) => {
            if exact {
                live == wanted
            } else {
                wanted.iter().all(|w| live.contains(w))
            }
        }
        (Value::String(l), Value::String(w)) if DURATION_KEYS.contains(&key) => {
            match (go_duration_nanos(l), go_duration_nanos(w)) {
                (Some(l), Some(w)) => l == w,
                _ => l == w,
            }
        }
        (Value::Number(l), Value::Number(w)) => l.as_f64() == w.as_f64(),
        // A YAML scalar may come back typed differently from how we sent it (e.g. an
        // environment value "8080" read back as a number by a lenient parser).
        (Value::Number(l), Value::String(w)) => l.to_string() == *w,
        (l, w) => l == w,
    }
}

/// Parses a Go `time.Duration` string (`1h2m3.5s`, `500ms`, `0`) into nanoseconds.
fn go_duration_nanos(s: &str) -> Option<u128> {
    if s == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&i| i > 0)?;
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    // Durations here are far below 2^53 ns (104 days), so the f64 arithmetic is exact enough
    // and the value is non-negative.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(total.round() as u128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ownership_uses_pebbles_field_names() {
        let service = Service {
            user_id: Some(1000),
            user: Some("u".to_owned()),
            group_id: Some(1001),
            group: Some("g".to_owned()),
            ..Service::default()
        };
        assert_eq!(
            serde_json::to_value(&service).unwrap(),
            serde_json::json!({"user-id": 1000, "user": "u", "group-id": 1001, "group": "g"})
        );
        let plan =
            Plan::from_yaml("services:\n  s:\n    user-id: 1000\n    group-id: 1001\n").unwrap();
        let layer = |user_id| Layer {
            services: BTreeMap::from([(
                "s".to_owned(),
                Service {
                    user_id: Some(user_id),
                    group_id: Some(1001),
                    ..Service::default()
                },
            )]),
            ..Layer::default()
        };
        assert!(plan.holds(&layer(1000)));
        assert!(!plan.holds(&layer(0)));
    }

    #[test]
    fn durations_compare_by_value() {
        assert_eq!(go_duration_nanos("1m"), go_duration_nanos("1m0s"));
        assert_eq!(go_duration_nanos("1.5s"), Some(1_500_000_000));
        assert_eq!(go_duration_nanos("500ms"), Some(500_000_000));
        assert_eq!(go_duration_nanos("x"), None);
        assert_eq!(go_duration_nanos(""), None);
    }
}
