//! `prometheus_scrape`, provider side (`metrics-endpoint`): what `MetricsEndpointProvider`
//! (prometheus_k8s v0, LIBPATCH 58, with cosl 1.9) writes.
//!
//! - Application databag (leader): [`SCRAPE_METADATA_KEY`] (`json.dumps(topology.as_dict())`),
//!   [`SCRAPE_JOBS_KEY`] (the jobs after the library's sanitising, which puts
//!   `metrics_path: /metrics` first) and [`ALERT_RULES_KEY`] (the charm's groups, then the
//!   generic `HostHealth` group, each named and labelled with the topology). All three are
//!   Python `json.dumps` text ([`crate::pyjson`]).
//! - Unit databag (every unit): [`UNIT_ADDRESS_KEY`], [`UNIT_NAME_KEY`], [`UNIT_FQDN_KEY`].
//!   `prometheus_scrape_unit_path` is written as `""`, which ops turns into "no key".
//!
//! Job names are not prefixed here: the consumer prefixes them with the topology. Alert
//! expressions are sent as written, with `%%juju_topology%%` removed: a charm without
//! cos-tool (as the reference charms are) injects no label matchers, the consumer does.

use std::net::IpAddr;

use serde::Serialize;

use crate::json::Ordered;
use crate::pyjson;
use crate::topology::{Topology, UnitName};

/// Application databag key: the jobs.
pub const SCRAPE_JOBS_KEY: &str = "scrape_jobs";
/// Application databag key: the topology.
pub const SCRAPE_METADATA_KEY: &str = "scrape_metadata";
/// Application databag key: the alert rules.
pub const ALERT_RULES_KEY: &str = "alert_rules";
/// Unit databag key: the unit's bind address.
pub const UNIT_ADDRESS_KEY: &str = "prometheus_scrape_unit_address";
/// Unit databag key: the unit's name.
pub const UNIT_NAME_KEY: &str = "prometheus_scrape_unit_name";
/// Unit databag key: the unit's FQDN (`socket.getfqdn()` in the pod).
pub const UNIT_FQDN_KEY: &str = "prometheus_scrape_unit_fqdn";
/// Unit databag key the library writes empty (so absent) unless it has an external URL.
pub const UNIT_PATH_KEY: &str = "prometheus_scrape_unit_path";

/// One scrape job: `metrics_path` and one `*:<port>` target (every unit's address on that
/// port). The library's own default job is `/metrics` on port 80.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeJob {
    /// `metrics_path`, `/metrics` for both reference exporters.
    pub metrics_path: String,
    /// The port in the wildcard target.
    pub port: u16,
}

impl ScrapeJob {
    /// `/metrics` on `port`, what the reference charms pass as
    /// `{"static_configs": [{"targets": ["*:<port>"]}]}`.
    pub fn metrics(port: u16) -> Self {
        Self {
            metrics_path: "/metrics".into(),
            port,
        }
    }
}

#[derive(Serialize)]
struct JobDict<'a> {
    metrics_path: &'a str,
    static_configs: [Targets; 1],
}

#[derive(Serialize)]
struct Targets {
    targets: [String; 1],
}

/// The `scrape_jobs` value. With no jobs the library sends its default job, as here.
pub fn scrape_jobs_json(jobs: &[ScrapeJob]) -> String {
    let default = [ScrapeJob {
        metrics_path: "/metrics".into(),
        port: 80,
    }];
    let jobs = if jobs.is_empty() { &default[..] } else { jobs };
    let dicts: Vec<JobDict<'_>> = jobs
        .iter()
        .map(|j| JobDict {
            metrics_path: &j.metrics_path,
            static_configs: [Targets {
                targets: [format!("*:{}", j.port)],
            }],
        })
        .collect();
    pyjson::dumps(&dicts)
}

/// One alert rule, written with its keys in this order (the order of the reference's rule
/// files): `alert`, `expr`, `for` (when set), `labels`, `annotations` (when not empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRule {
    /// `alert`: the rule's name.
    pub alert: String,
    /// `expr`: PromQL. `%%juju_topology%%` (and one `,` after it) is removed, as the library does.
    pub expr: String,
    /// `for`: a Prometheus duration (`5m`).
    pub for_: Option<String>,
    /// `labels`, in order; the topology labels are added after them unless already there.
    pub labels: Vec<(String, String)>,
    /// `annotations`, in order.
    pub annotations: Vec<(String, String)>,
}

/// A group of rules, as in a rules file's `groups:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertGroup {
    /// The group name in the file (`gluetun.health`); sent as
    /// `<model>_<uuid8>_<app>_<name>_rules` with `[^a-zA-Z0-9_:]` turned into `_`.
    pub name: String,
    /// The rules.
    pub rules: Vec<AlertRule>,
}

#[derive(Serialize)]
struct GroupDict<'a> {
    name: String,
    rules: Vec<RuleDict<'a>>,
}

#[derive(Serialize)]
struct RuleDict<'a> {
    alert: &'a str,
    expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<&'a str>,
    labels: Ordered<'a, &'a str>,
    #[serde(skip_serializing_if = "is_empty")]
    annotations: Ordered<'a, &'a str>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_empty(map: &Ordered<'_, &str>) -> bool {
    map.0.is_empty()
}

/// cosl's generic rules (`generic_alert_groups.application_rules`), which the library sends
/// after the charm's own, in group `HostHealth`.
pub fn generic_application_rules() -> AlertGroup {
    let s = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    AlertGroup {
        name: "HostHealth".into(),
        rules: vec![
            AlertRule {
                alert: "HostDown".into(),
                expr: "up < 1".into(),
                for_: Some("5m".into()),
                labels: vec![s("severity", "critical")],
                annotations: vec![
                    s("summary", "Host '{{ $labels.instance }}' is down."),
                    s(
                        "description",
                        "Juju application '{{ $labels.juju_application }}' in model '{{ $labels.juju_model }}' is down. Prometheus has been unable to scrape it during at least the past five minutes.",
                    ),
                ],
            },
            AlertRule {
                alert: "HostMetricsMissing".into(),
                expr: "absent(up)".into(),
                for_: Some("5m".into()),
                labels: vec![s("severity", "warning")],
                annotations: vec![
                    s(
                        "summary",
                        "Unit '{{ $labels.juju_unit }}' of application '{{ $labels.juju_application }}' is down or failing to remote write.",
                    ),
                    s(
                        "description",
                        "`Up` missing for unit '{{ $labels.juju_unit }}' of application {{ $labels.juju_application }} in model {{ $labels.juju_model }}. Please ensure the unit or the collector scraping it is up and is able to successfully reach the metrics backend.",
                    ),
                ],
            },
        ],
    }
}

/// The library's group name: `<prefix>_<name>`, `_rules` appended unless already there,
/// then every character outside `[a-zA-Z0-9_:]` replaced by `_`. A name that already looks
/// prefixed (`…_<8 hex>_…rules`) is only sanitised.
pub fn group_name(topology: &Topology, name: &str) -> String {
    let named = if already_prefixed(name) {
        name.to_owned()
    } else {
        let mut n = if name.is_empty() {
            topology.identifier()
        } else {
            format!("{}_{name}", topology.identifier())
        };
        if !n.ends_with("_rules") {
            n.push_str("_rules");
        }
        n
    };
    named
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// cosl's `^.*?_[\da-f]{8}_.*?rules$`.
fn already_prefixed(name: &str) -> bool {
    if !name.ends_with("rules") {
        return false;
    }
    let b = name.as_bytes();
    // Some `_` + 8 lower-hex + `_` whose end is at or before the start of the final "rules".
    (0..b.len()).any(|i| {
        b[i] == b'_'
            && i + 10 <= b.len() - 5
            && b[i + 1..i + 9]
                .iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
            && b[i + 9] == b'_'
    })
}

/// `re.sub(r"%%juju_topology%%,?", "", expr)`.
fn strip_topology_placeholder(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find("%%juju_topology%%") {
        out.push_str(&rest[..at]);
        rest = &rest[at + "%%juju_topology%%".len()..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out.push_str(rest);
    out
}

/// The `alert_rules` value: `groups` (the charm's, then [`generic_application_rules`]),
/// topology labels added to each rule. `{}` when there are no groups at all (the library's
/// `as_dict()` of an empty set; it always adds the generic group, so only a caller passing
/// `with_generic: false` and no groups gets it).
pub fn alert_rules_json(groups: &[AlertGroup], topology: &Topology, with_generic: bool) -> String {
    let generic = generic_application_rules();
    let all: Vec<&AlertGroup> = groups
        .iter()
        .chain(with_generic.then_some(&generic))
        .collect();
    if all.is_empty() {
        return "{}".into();
    }
    let topo = topology.label_matchers();
    let labels: Vec<Vec<(&str, &str)>> = all
        .iter()
        .flat_map(|g| &g.rules)
        .map(|r| {
            let mut l: Vec<(&str, &str)> = r
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            for (k, v) in topo {
                if !l.iter().any(|(have, _)| *have == k) {
                    l.push((k, v));
                }
            }
            l
        })
        .collect();
    let annotations: Vec<Vec<(&str, &str)>> = all
        .iter()
        .flat_map(|g| &g.rules)
        .map(|r| {
            r.annotations
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect()
        })
        .collect();
    let mut i = 0;
    let dicts: Vec<GroupDict<'_>> = all
        .iter()
        .map(|g| GroupDict {
            name: group_name(topology, &g.name),
            rules: g
                .rules
                .iter()
                .map(|r| {
                    let d = RuleDict {
                        alert: &r.alert,
                        expr: strip_topology_placeholder(&r.expr),
                        for_: r.for_.as_deref(),
                        labels: Ordered(&labels[i]),
                        annotations: Ordered(&annotations[i]),
                    };
                    i += 1;
                    d
                })
                .collect(),
        })
        .collect();
    pyjson::dumps(&Ordered(&[("groups", dicts)]))
}

/// The leader's application databag: `(key, value)` for the three keys, in the order the
/// library sets them.
pub fn app_databag(
    topology: &Topology,
    jobs: &[ScrapeJob],
    groups: &[AlertGroup],
) -> [(&'static str, String); 3] {
    [
        (SCRAPE_METADATA_KEY, topology.metadata_json()),
        (SCRAPE_JOBS_KEY, scrape_jobs_json(jobs)),
        (ALERT_RULES_KEY, alert_rules_json(groups, topology, true)),
    ]
}

/// Every unit's databag: its bind address on the relation, its name and its FQDN (`<pod>.
/// <app>-endpoints.<model>.svc.cluster.local` on Kubernetes). [`UNIT_PATH_KEY`] is not
/// written (the library's `""` deletes it).
pub fn unit_databag(address: IpAddr, unit: &UnitName, fqdn: &str) -> [(&'static str, String); 3] {
    [
        (UNIT_ADDRESS_KEY, address.to_string()),
        (UNIT_NAME_KEY, unit.as_str().to_owned()),
        (UNIT_FQDN_KEY, fqdn.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_and_prefix_detection() {
        assert_eq!(
            strip_topology_placeholder("x{%%juju_topology%%, a=\"b\"}"),
            "x{ a=\"b\"}"
        );
        assert_eq!(strip_topology_placeholder("x{%%juju_topology%%}"), "x{}");
        assert!(already_prefixed("m_4f1a7c2e_app_g_rules"));
        assert!(!already_prefixed("gluetun.health"));
        assert!(already_prefixed("_4f1a7c2e_rules"));
        assert!(!already_prefixed("x_4f1a7c2e_r"));
    }
}
