//! `juju status`: the JSON shape of Juju 3.6's `--format=json` and a readable table, rendered
//! from the persisted [`SimState`] (also as [`Model::status`]), and the `juju debug-log` text.

use serde_json::{Value, json};

use crate::k8s::JUJU_VERSION;
use crate::model::{Model, SimState};
use crate::state::{Application, StatusKind};

fn severity(k: StatusKind) -> u8 {
    match k {
        StatusKind::Error => 6,
        StatusKind::Blocked => 5,
        StatusKind::Maintenance => 4,
        StatusKind::Waiting => 3,
        StatusKind::Active => 2,
        StatusKind::Terminated => 1,
        StatusKind::Unknown => 0,
    }
}

/// The application status Juju shows: the one the leader set, else the most severe unit
/// status (Juju derives it from the units when the charm sets none).
pub fn app_status(a: &Application) -> (String, String) {
    if a.status.current != StatusKind::Unknown {
        return (
            a.status.current.as_str().to_owned(),
            a.status.message.clone(),
        );
    }
    a.units
        .values()
        .max_by_key(|u| severity(u.status.current))
        .map_or_else(
            || ("unknown".to_owned(), String::new()),
            |u| {
                (
                    u.status.current.as_str().to_owned(),
                    u.status.message.clone(),
                )
            },
        )
}

impl Model {
    /// `juju status --format=json`, shaped like Juju 3.6's.
    pub fn status(&self) -> Value {
        json(self.state())
    }
}

/// `juju status --format=json`.
pub fn json(st: &SimState) -> Value {
    let mut apps = serde_json::Map::new();
    for (name, a) in &st.model.applications {
        let (cur, msg) = app_status(a);
        let mut units = serde_json::Map::new();
        for (uname, u) in &a.units {
            let in_error = st.unit_errors.contains_key(uname);
            let mut unit = json!({
                "workload-status": {"current": u.status.current.as_str(), "message": u.status.message},
                "juju-status": {
                    "current": if in_error { "error" } else { "idle" },
                    "message": if in_error { u.status.message.clone() } else { String::new() },
                    "version": JUJU_VERSION,
                },
                "address": u.address.clone().unwrap_or_else(|| "127.0.0.1".to_owned()),
                "provider-id": format!("{name}-{}", crate::state::ordinal_of(uname)),
            });
            if a.leader.as_deref() == Some(uname.as_str()) {
                unit["leader"] = json!(true);
            }
            if !a.opened_ports.is_empty() {
                unit["open-ports"] = json!(
                    a.opened_ports
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                );
            }
            units.insert(uname.clone(), unit);
        }
        let mut relations = serde_json::Map::new();
        for r in &st.model.relations {
            if let Some(end) = r.end_of(name) {
                let remote = r.remote_app(name).unwrap_or_default();
                let entry = relations
                    .entry(end.endpoint.clone())
                    .or_insert_with(|| json!([]));
                if let Some(list) = entry.as_array_mut() {
                    list.push(json!({"related-application": remote, "interface": a.metadata.endpoints.get(&end.endpoint).map(|e| e.interface.clone()).unwrap_or_default(), "scope": "global"}));
                }
            }
        }
        let mut app = json!({
            "charm": a.metadata.name,
            "charm-origin": "local",
            "charm-name": a.metadata.name,
            "charm-rev": st.apps.get(name).map_or(0, |s| s.charm_modified_version),
            "scale": a.planned_units,
            "provider-id": name,
            "address": "",
            "exposed": false,
            "application-status": {"current": cur, "message": msg},
            "units": units,
        });
        if !relations.is_empty() {
            app["relations"] = Value::Object(relations);
        }
        if !a.workload_version.is_empty() {
            app["version"] = json!(a.workload_version);
        }
        if a.trusted {
            app["trust"] = json!(true);
        }
        apps.insert(name.clone(), app);
    }
    json!({
        "model": {"name": st.model.name, "type": "caas", "controller": "juju-sim", "cloud": "kube-testbed", "version": JUJU_VERSION, "model-status": {"current": "available"}},
        "machines": {},
        "applications": apps,
    })
}

/// The `--relations` table rows: (provider, requirer, interface, type).
pub fn relation_rows(st: &SimState) -> Vec<(String, String, String, String)> {
    let mut rows = Vec::new();
    for r in &st.model.relations {
        let [a, b] = &r.endpoints;
        let iface = st
            .model
            .applications
            .get(&a.app)
            .and_then(|x| x.metadata.endpoints.get(&a.endpoint))
            .map(|e| e.interface.clone())
            .unwrap_or_default();
        if r.is_peer() {
            rows.push((
                format!("{}:{}", a.app, a.endpoint),
                format!("{}:{}", b.app, b.endpoint),
                iface,
                "peer".to_owned(),
            ));
            continue;
        }
        let a_provides = st
            .model
            .applications
            .get(&a.app)
            .and_then(|x| x.metadata.endpoints.get(&a.endpoint))
            .is_some_and(|e| e.role == crate::state::Role::Provides);
        let (p, q) = if a_provides { (a, b) } else { (b, a) };
        rows.push((
            format!("{}:{}", p.app, p.endpoint),
            format!("{}:{}", q.app, q.endpoint),
            iface,
            "regular".to_owned(),
        ));
    }
    rows
}

/// The tabular `juju status`.
pub fn table(st: &SimState, relations: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "Model  Controller  Cloud/Region  Version");
    let _ = writeln!(
        out,
        "{}  juju-sim  kube-testbed  {JUJU_VERSION}\n",
        st.model.name
    );
    let _ = writeln!(
        out,
        "{:<16} {:<10} {:<12} {:<6} {:<20} Message",
        "App", "Version", "Status", "Scale", "Charm"
    );
    for (name, a) in &st.model.applications {
        let (cur, msg) = app_status(a);
        let _ = writeln!(
            out,
            "{name:<16} {:<10} {cur:<12} {:<6} {:<20} {msg}",
            a.workload_version, a.planned_units, a.metadata.name
        );
    }
    let _ = writeln!(
        out,
        "\n{:<18} {:<12} {:<8} {:<10} {:<10} Message",
        "Unit", "Workload", "Agent", "Address", "Ports"
    );
    for a in st.model.applications.values() {
        for (uname, u) in &a.units {
            let star = if a.leader.as_deref() == Some(uname.as_str()) {
                "*"
            } else {
                ""
            };
            let agent = if st.unit_errors.contains_key(uname) {
                "error"
            } else {
                "idle"
            };
            let ports = a
                .opened_ports
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let _ = writeln!(
                out,
                "{:<18} {:<12} {agent:<8} {:<10} {ports:<10} {}",
                format!("{uname}{star}"),
                u.status.current.as_str(),
                u.address.clone().unwrap_or_else(|| "127.0.0.1".into()),
                u.status.message
            );
        }
    }
    if relations {
        let _ = writeln!(
            out,
            "\n{:<28} {:<28} {:<16} Type",
            "Integration provider", "Requirer", "Interface"
        );
        for (p, q, i, t) in relation_rows(st) {
            let _ = writeln!(out, "{p:<28} {q:<28} {i:<16} {t}");
        }
    }
    out
}

/// Action results as `juju run` prints them (YAML-like, nested keys indented).
pub fn yamlish(v: &Value) -> String {
    fn walk(v: &Value, indent: usize, out: &mut String) {
        use std::fmt::Write;
        if let Value::Object(m) = v {
            for (k, val) in m {
                match val {
                    Value::Object(_) => {
                        let _ = writeln!(out, "{:indent$}{k}:", "");
                        walk(val, indent + 2, out);
                    }
                    Value::String(s) => {
                        let _ = writeln!(out, "{:indent$}{k}: {s}", "");
                    }
                    other => {
                        let _ = writeln!(out, "{:indent$}{k}: {other}", "");
                    }
                }
            }
        }
    }
    let mut out = String::new();
    walk(v, 0, &mut out);
    out
}

/// `juju debug-log`: every hook run with exit code, duration, tool calls and API requests,
/// then the charm's `juju-log` lines.
pub fn debug_log(st: &SimState) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for r in &st.history {
        let retry = r.retry.map_or_else(String::new, |(n, s)| {
            format!(" (retry {n}, Juju backoff {s}s)")
        });
        let _ = writeln!(
            out,
            "{} {} exit {} in {} ms{retry}",
            r.unit, r.hook, r.code, r.duration_ms
        );
        for c in &r.tool_calls {
            let _ = writeln!(out, "  tool: {} -> {}", c.argv.join(" "), c.code);
        }
        for a in &r.api_requests {
            let _ = writeln!(out, "  api: {a}");
        }
        for l in r.stderr.lines().filter(|l| !l.trim().is_empty()).take(20) {
            let _ = writeln!(out, "  stderr: {l}");
        }
    }
    for l in &st.model.log {
        let _ = writeln!(out, "{} {} {}: {}", l.unit, l.hook, l.level, l.message);
    }
    out
}
