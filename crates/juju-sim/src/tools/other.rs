//! Config, leadership, status, logging, goal state, ports, actions, storage, network and
//! credentials.
//!
//! Simplifications: `goal-state` reports no `relations` statuses beyond `joined`/`active`;
//! `network-get` answers one address (the unit's pod IP, 127.0.0.1 by default) for every
//! binding of the charm; `credential-get` for a trusted application answers a minimal
//! Kubernetes cloud spec without credentials; ports are application-wide, so `open-port
//! --endpoints` is accepted but ignored and `opened-ports --endpoints` shows every port as
//! opened for all endpoints (`8080/tcp (*)`).

use serde_json::{Map, Value, json};

use super::args::{self, FORMAT, Format, ToolError, boolean, val};
use super::relation::relation_arg;
use super::{Outcome, ToolResponse};
use crate::state::{Application, HookScope, Port, PortOp, Status, StatusKind};

fn app<'s>(scope: &'s HookScope<'_>) -> Result<&'s Application, ToolError> {
    scope
        .state
        .applications
        .get(&scope.app)
        .ok_or_else(|| ToolError::run(format!("application {:?} not found", scope.app)))
}

/// `config-get [--all] [--format] [<key>]`: operator values over metadata defaults.
pub(super) fn config_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[FORMAT, boolean(&["a", "all"])])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let a = app(scope)?;
    let mut merged = Map::new();
    for (name, opt) in &a.metadata.config {
        match a.config.get(name).or(opt.default.as_ref()) {
            Some(v) if !v.is_null() => {
                merged.insert(name.clone(), v.clone());
            }
            _ if p.flag("a") => {
                merged.insert(name.clone(), Value::Null);
            }
            _ => {}
        }
    }
    for (k, v) in &a.config {
        if !a.metadata.config.contains_key(k) {
            merged.insert(k.clone(), v.clone());
        }
    }
    let value = match p.pos.first() {
        Some(key) => merged.get(key).cloned().unwrap_or(Value::Null),
        None => Value::Object(merged),
    };
    Ok(ToolResponse::ok(args::render(&value, format)))
}

/// `is-leader [--format]`.
pub(super) fn is_leader(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    args::check_empty(&p.pos)?;
    Ok(ToolResponse::ok(args::render(
        &Value::Bool(scope.is_leader()),
        format,
    )))
}

/// `status-set [--application] <maintenance|blocked|waiting|active> [<message>]`: at once.
pub(super) fn status_set(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[boolean(&["application"])])?;
    let Some(name) = p.pos.first() else {
        return Err(ToolError::usage(
            "invalid args, require <status> [message] [data]",
        ));
    };
    let Some(
        kind @ (StatusKind::Maintenance
        | StatusKind::Blocked
        | StatusKind::Waiting
        | StatusKind::Active),
    ) = StatusKind::parse(name)
    else {
        return Err(ToolError::usage(format!(
            "invalid status {name:?}, expected one of [maintenance blocked waiting active]"
        )));
    };
    let message = p.pos.get(1).cloned().unwrap_or_default();
    args::check_empty(p.pos.get(2..).unwrap_or_default())?;
    let status = Status {
        current: kind,
        message,
        since: args::now(),
    };
    let application = p.flag("application");
    if application && !scope.is_leader() {
        return Err(ToolError::run("this unit is not the leader"));
    }
    let unit = scope.unit.clone();
    let Some(a) = scope.state.applications.get_mut(&scope.app) else {
        return Err(ToolError::run(format!(
            "application {:?} not found",
            scope.app
        )));
    };
    if application {
        a.status = status;
    } else if let Some(u) = a.units.get_mut(&unit) {
        u.status = status;
    } else {
        return Err(ToolError::run(format!("unit {unit:?} not found")));
    }
    Ok(ToolResponse::ok(Vec::new()))
}

fn status_details(s: &Status, include_data: bool) -> Value {
    let mut m = Map::new();
    m.insert("status".into(), Value::String(s.current.as_str().into()));
    if include_data {
        m.insert("message".into(), Value::String(s.message.clone()));
        m.insert("status-data".into(), Value::Object(Map::new()));
    }
    Value::Object(m)
}

/// `status-get [--include-data] [--application] [--format]`.
pub(super) fn status_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(
        argv,
        &[
            FORMAT,
            boolean(&["include-data"]),
            boolean(&["application"]),
        ],
    )?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    args::check_empty(&p.pos)?;
    let include = p.flag("include-data");
    let leader = scope.is_leader();
    let a = app(scope)?;
    let value = if p.flag("application") {
        if !leader {
            return Err(ToolError::run(
                "finding application status: this unit is not the leader",
            ));
        }
        if !include && format == Format::Smart {
            Value::String(a.status.current.as_str().into())
        } else {
            let mut details = status_details(&a.status, include);
            let units: Map<String, Value> = a
                .units
                .iter()
                .map(|(n, u)| (n.clone(), status_details(&u.status, include)))
                .collect();
            if let Value::Object(m) = &mut details {
                m.insert("units".into(), Value::Object(units));
            }
            json!({ "application-status": details })
        }
    } else {
        let status = a
            .units
            .get(&scope.unit)
            .map(|u| u.status.clone())
            .unwrap_or_default();
        if !include && format == Format::Smart {
            Value::String(status.current.as_str().into())
        } else {
            status_details(&status, include)
        }
    };
    Ok(ToolResponse::ok(args::render(&value, format)))
}

/// `application-version-set <version>`: at once.
pub(super) fn application_version_set(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[])?;
    let Some(version) = p.pos.first().cloned() else {
        return Err(ToolError::usage("no version specified"));
    };
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let Some(a) = scope.state.applications.get_mut(&scope.app) else {
        return Err(ToolError::run(format!(
            "application {:?} not found",
            scope.app
        )));
    };
    a.workload_version = version;
    Ok(ToolResponse::ok(Vec::new()))
}

/// `juju-log [--debug] [-l|--log-level LEVEL] <message>...`: at once.
pub(super) fn juju_log(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(
        argv,
        &[boolean(&["debug"]), val(&["l", "log-level"]), FORMAT],
    )?;
    if p.pos.is_empty() {
        return Err(ToolError::usage("no message specified"));
    }
    let level = if p.flag("debug") {
        "DEBUG".to_owned()
    } else {
        p.get("l").unwrap_or("INFO").to_uppercase()
    };
    let message = p.pos.join(" ");
    scope.log(&level, &message);
    Ok(ToolResponse::ok(Vec::new()))
}

/// `goal-state [--format]` (yaml default): this application's units and its relations.
pub(super) fn goal_state(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[FORMAT])?;
    let format = args::format(&p, Format::Yaml, &[Format::Json])?;
    args::check_empty(&p.pos)?;
    let a = app(scope)?;
    let since = args::rfc3339(args::now()).replace('T', " ");
    let goal = |status: &str| json!({ "status": status, "since": since });
    let mut numbered: Vec<(u32, String)> = a
        .units
        .keys()
        .map(|n| (crate::state::ordinal_of(n), n.clone()))
        .collect();
    numbered.sort();
    let planned = usize::try_from(a.planned_units).unwrap_or(usize::MAX);
    let mut units = Map::new();
    for (i, (_, name)) in numbered.iter().enumerate() {
        let status = if i < planned { "active" } else { "dying" };
        units.insert(name.clone(), goal(status));
    }
    let mut next = numbered.last().map_or(0, |(n, _)| n + 1);
    while units.values().filter(|v| v["status"] != "dying").count() < planned {
        units.insert(format!("{}/{next}", a.name), goal("waiting"));
        next += 1;
    }
    let mut relations = Map::new();
    for rel in &scope.state.relations {
        let Some(end) = rel.end_of(&scope.app) else {
            continue;
        };
        let remote = rel.remote_app(&scope.app).unwrap_or_default();
        let entry = relations
            .entry(end.endpoint.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            if remote != scope.app {
                m.insert(remote.to_owned(), goal("joined"));
            }
            if let Some(r) = scope.state.applications.get(remote) {
                for u in r.units.keys().filter(|u| **u != scope.unit) {
                    m.insert(u.clone(), goal("active"));
                }
            }
        }
    }
    let value = json!({ "units": units, "relations": relations });
    Ok(ToolResponse::ok(args::render(&value, format)))
}

/// Parses `N[/proto]`, `N-M[/proto]` or `icmp`.
fn parse_port(spec: &str) -> Result<Port, ToolError> {
    let bad = || {
        ToolError::usage(format!(
            "expected <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp; got {spec:?}"
        ))
    };
    if spec == "icmp" {
        return Ok(Port {
            protocol: "icmp".into(),
            from: 0,
            to: 0,
        });
    }
    let (range, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let protocol = protocol.to_lowercase();
    if protocol != "tcp" && protocol != "udp" {
        return Err(bad());
    }
    let (from, to) = range.split_once('-').unwrap_or((range, range));
    let from: u16 = from.parse().map_err(|_| bad())?;
    let to: u16 = to.parse().map_err(|_| bad())?;
    if from == 0 || to < from {
        return Err(bad());
    }
    Ok(Port { protocol, from, to })
}

/// `open-port`/`close-port [--endpoints E,...] <port spec>`: queued.
pub(super) fn port(scope: &mut HookScope<'_>, argv: &[String], op: PortOp) -> Outcome {
    let p = args::parse(argv, &[val(&["endpoints"]), FORMAT])?;
    let Some(spec) = p.pos.first() else {
        return Err(ToolError::usage("no port or range specified"));
    };
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let port = parse_port(spec)?;
    scope.pending.port_ops.push((op, port));
    Ok(ToolResponse::ok(Vec::new()))
}

/// `opened-ports [--endpoints] [--format]`.
pub(super) fn opened_ports(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[boolean(&["endpoints"]), FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    args::check_empty(&p.pos)?;
    let mut ports = app(scope)?.opened_ports.clone();
    for (op, port) in &scope.pending.port_ops {
        match op {
            PortOp::Open => {
                ports.insert(port.clone());
            }
            PortOp::Close => {
                ports.remove(port);
            }
        }
    }
    let with_endpoints = p.flag("endpoints");
    let list = ports
        .iter()
        .map(|port| {
            Value::String(if with_endpoints {
                format!("{port} (*)")
            } else {
                port.to_string()
            })
        })
        .collect();
    Ok(ToolResponse::ok(args::render(&Value::Array(list), format)))
}

fn action_error() -> ToolError {
    ToolError::run("not running an action")
}

/// `action-get [--format] [<key>[.<key>...]]`.
pub(super) fn action_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    let Some(action) = &scope.action else {
        return Err(action_error());
    };
    let mut value = Value::Object(action.params.clone());
    if let Some(path) = p.pos.first() {
        for part in path.split('.') {
            value = value.get(part).cloned().unwrap_or(Value::Null);
        }
    }
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    Ok(ToolResponse::ok(args::render(&value, format)))
}

fn valid_result_key(k: &str) -> bool {
    !k.is_empty()
        && k.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// `action-set key=value...` (dotted keys nest): at once.
pub(super) fn action_set(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[])?;
    if scope.action.is_none() {
        return Err(action_error());
    }
    let mut pairs = Vec::new();
    for a in &p.pos {
        let Some((k, v)) = a.split_once('=') else {
            return Err(ToolError::usage(format!(
                "argument {a:?} must be of the form key...=value"
            )));
        };
        if !valid_result_key(k) {
            return Err(ToolError::usage(format!(
                "key {k:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods"
            )));
        }
        if ["stdout", "stdout-encoding", "stderr", "stderr-encoding"].contains(&k) {
            return Err(ToolError::usage(format!(
                "cannot set reserved action key \"{k}\""
            )));
        }
        pairs.push((k.to_owned(), v.to_owned()));
    }
    let Some(action) = scope.action.as_mut() else {
        return Err(action_error());
    };
    for (k, v) in pairs {
        let parts: Vec<&str> = k.split('.').collect();
        let mut map = &mut action.results;
        for part in &parts[..parts.len() - 1] {
            let entry = map
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(inner) = entry else {
                return Err(ToolError::run("internal: action result is not a map"));
            };
            map = inner;
        }
        if let Some(last) = parts.last() {
            map.insert((*last).to_owned(), Value::String(v));
        }
    }
    Ok(ToolResponse::ok(Vec::new()))
}

/// `action-fail [<message>]`: at once.
pub(super) fn action_fail(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[])?;
    let Some(action) = scope.action.as_mut() else {
        return Err(action_error());
    };
    let message = p
        .pos
        .first()
        .cloned()
        .unwrap_or_else(|| "action failed without reason given".into());
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    action.failed = Some(message);
    Ok(ToolResponse::ok(Vec::new()))
}

/// `action-log <message>...`: at once.
pub(super) fn action_log(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[])?;
    if p.pos.is_empty() {
        return Err(ToolError::usage("no message specified"));
    }
    let message = p.pos.join(" ");
    let Some(action) = scope.action.as_mut() else {
        return Err(action_error());
    };
    action.log.push(message.clone());
    scope.log("INFO", &message);
    Ok(ToolResponse::ok(Vec::new()))
}

/// `storage-get [-s <name>/<n>] [--format] [<key>]`.
pub(super) fn storage_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[val(&["s"]), FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    let hook_storage = scope.storage_id.clone().or_else(|| {
        ["-storage-attached", "-storage-detaching"]
            .iter()
            .find_map(|suffix| scope.hook.strip_suffix(suffix))
            .map(|name| format!("{name}/0"))
    });
    let Some(raw) = p.get("s").map(str::to_owned).or(hook_storage) else {
        return Err(ToolError::usage("no storage instance specified"));
    };
    let raw = raw.as_str();
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let (name, index) = raw.split_once('/').unwrap_or((raw, "0"));
    let a = app(scope)?;
    let location = a
        .units
        .get(&scope.unit)
        .and_then(|u| u.storage.get(name))
        .filter(|_| index == "0");
    let Some(location) = location else {
        return Err(ToolError::usage(format!(
            "invalid value {raw:?} for option -s: storage instance {raw:?} not found"
        )));
    };
    let kind = a
        .metadata
        .storage
        .get(name)
        .map_or_else(|| "filesystem".to_owned(), |s| s.kind.clone());
    let all = json!({ "kind": kind, "location": location.display().to_string() });
    let value = match p.pos.first() {
        Some(key) => all.get(key).cloned().unwrap_or(Value::Null),
        None => all,
    };
    Ok(ToolResponse::ok(args::render(&value, format)))
}

/// `storage-list [--format] [<name>]`.
pub(super) fn storage_list(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let filter = p.pos.first();
    let ids = app(scope)?
        .units
        .get(&scope.unit)
        .map(|u| {
            u.storage
                .keys()
                .filter(|n| filter.is_none_or(|f| f == *n))
                .map(|n| Value::String(format!("{n}/0")))
                .collect()
        })
        .unwrap_or_default();
    Ok(ToolResponse::ok(args::render(&Value::Array(ids), format)))
}

/// `network-get <binding> [-r ID] [--format] [--bind-address|--ingress-address|...]`.
pub(super) fn network_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(
        argv,
        &[
            val(&["r", "relation"]),
            FORMAT,
            boolean(&["primary-address"]),
            boolean(&["bind-address"]),
            boolean(&["ingress-address"]),
            boolean(&["egress-subnets"]),
        ],
    )?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    if p.get("r").is_some() {
        relation_arg(scope, &p)?;
    }
    let Some(binding) = p.pos.first() else {
        return Err(ToolError::usage("no arguments specified"));
    };
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let a = app(scope)?;
    if binding != "juju-info" && !a.metadata.endpoints.contains_key(binding) {
        return Err(ToolError::run(format!(
            "no network config found for binding {binding:?}"
        )));
    }
    let ip = a
        .units
        .get(&scope.unit)
        .and_then(|u| u.address.clone())
        .unwrap_or_else(|| "127.0.0.1".into());
    let cidr = format!("{ip}/32");
    let value = if p.flag("ingress-address") || p.flag("bind-address") || p.flag("primary-address")
    {
        Value::String(ip)
    } else if p.flag("egress-subnets") {
        Value::String(cidr)
    } else {
        json!({
            "bind-addresses": [{
                "mac-address": "",
                "interface-name": "eth0",
                "addresses": [{ "hostname": "", "value": ip, "address": ip, "cidr": cidr }],
                "macaddress": "",
                "interfacename": "eth0",
            }],
            "egress-subnets": [cidr],
            "ingress-addresses": [ip],
        })
    };
    Ok(ToolResponse::ok(args::render(&value, format)))
}

/// `credential-get [--format]`: `permission denied` without trust.
pub(super) fn credential_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    args::check_empty(&p.pos)?;
    if !app(scope)?.trusted {
        return Err(ToolError::run(
            "cannot access cloud credentials: permission denied",
        ));
    }
    let value = json!({ "type": "kubernetes", "name": "juju-sim", "is-controller-cloud": false });
    Ok(ToolResponse::ok(args::render(&value, format)))
}

/// This unit's charm state as the hook sees it (committed plus queued).
fn charm_state(scope: &HookScope<'_>) -> std::collections::BTreeMap<String, String> {
    let mut data = scope
        .state
        .applications
        .get(&scope.app)
        .and_then(|a| a.units.get(&scope.unit))
        .map(|u| u.charm_state.clone())
        .unwrap_or_default();
    crate::state::apply_state_ops(&mut data, &scope.pending.state_ops);
    data
}

/// `state-get [--strict] [--format] [<key>|-]`.
pub(super) fn state_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[FORMAT, boolean(&["strict"])])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let data = charm_state(scope);
    let value = match p.pos.first().filter(|k| *k != "-") {
        None => Value::Object(
            data.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
        Some(key) => match data.get(key) {
            Some(v) => Value::String(v.clone()),
            None if p.flag("strict") => {
                return Err(ToolError::run(format!("{key:?} not found")));
            }
            None => Value::String(String::new()),
        },
    };
    Ok(ToolResponse::ok(args::render(&value, format)))
}

/// `state-set [--file PATH|-] key=value...`: queued.
pub(super) fn state_set(scope: &mut HookScope<'_>, argv: &[String], stdin: &[u8]) -> Outcome {
    let p = args::parse(argv, &[val(&["file"])])?;
    let overrides = args::key_values(&p.pos)?;
    let mut values = match p.get("file") {
        None => std::collections::BTreeMap::new(),
        Some(path) => {
            let bytes = if path == "-" {
                stdin.to_vec()
            } else {
                std::fs::read(path).map_err(|e| ToolError::run(format!("open {path}: {e}")))?
            };
            super::relation::parse_settings(&bytes)?
        }
    };
    values.extend(overrides);
    scope
        .pending
        .state_ops
        .extend(values.into_iter().map(|(k, v)| (k, Some(v))));
    Ok(ToolResponse::ok(Vec::new()))
}

/// `state-delete <key>`: queued.
pub(super) fn state_delete(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[])?;
    let Some(key) = p.pos.first().cloned() else {
        return Err(ToolError::usage("no key specified"));
    };
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    scope.pending.state_ops.push((key, None));
    Ok(ToolResponse::ok(Vec::new()))
}
