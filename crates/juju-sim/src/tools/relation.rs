//! `relation-ids`, `relation-list`, `relation-get`, `relation-set`, `relation-model-get`.
//!
//! Access rules as in Juju 3.6: a unit reads and writes its own unit databag; only the leader
//! writes its application databag (`cannot write relation settings` otherwise) and, outside
//! peer relations, only the leader reads it (`permission denied`); remote unit and remote
//! application databags are readable by every unit. A unit's own reads see what it queued
//! with `relation-set` earlier in the same hook.

use std::collections::BTreeMap;

use serde_json::Value;

use super::args::{self, FORMAT, Format, Parsed, ToolError, boolean, val};
use super::{Outcome, ToolResponse};
use crate::state::{Databag, HookScope, Relation, apply_settings};

const RELATION: args::Flag = val(&["r", "relation"]);
const APP: args::Flag = boolean(&["app"]);

/// Resolves `-r` (`ID` or `ENDPOINT:ID`) or the hook's relation.
pub(super) fn relation_arg(scope: &HookScope<'_>, p: &Parsed) -> Result<u64, ToolError> {
    let Some(raw) = p.get("r") else {
        return scope
            .relation_id
            .ok_or_else(|| ToolError::usage("no relation id specified"));
    };
    let id_part = raw.rsplit_once(':').map_or(raw, |(_, id)| id);
    let id: u64 = id_part.parse().map_err(|_| {
        ToolError::usage(format!(
            "invalid value {raw:?} for option -r: invalid relation id"
        ))
    })?;
    let found = scope
        .state
        .relations
        .iter()
        .any(|r| r.id == id && r.end_of(&scope.app).is_some() && r.visible_to(&scope.unit));
    if found {
        Ok(id)
    } else {
        Err(ToolError::usage(format!(
            "invalid value {raw:?} for option -r: relation not found"
        )))
    }
}

fn relation<'s>(scope: &'s HookScope<'_>, id: u64) -> Result<&'s Relation, ToolError> {
    scope
        .state
        .relations
        .iter()
        .find(|r| r.id == id && r.visible_to(&scope.unit))
        .ok_or_else(|| ToolError::run("relation not found"))
}

/// A databag as this hook sees it: the model's copy plus this hook's queued writes.
pub(super) fn bag_view(
    scope: &HookScope<'_>,
    rel: &Relation,
    bag: &Databag,
) -> BTreeMap<String, String> {
    let mut data = match bag {
        Databag::App(a) => rel.app_data.get(a),
        Databag::Unit(u) => rel.unit_data.get(u),
    }
    .cloned()
    .unwrap_or_default();
    for (id, b, changes) in &scope.pending.relation_sets {
        if *id == rel.id && b == bag {
            apply_settings(&mut data, changes);
        }
    }
    data
}

fn endpoint_name(rel: &Relation, app: &str) -> String {
    rel.end_of(app)
        .map(|e| e.endpoint.clone())
        .unwrap_or_default()
}

/// `relation-ids [--format] [<endpoint>]`.
pub(super) fn relation_ids(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    let name = if let Some(n) = p.pos.first() {
        n.clone()
    } else {
        let Some(id) = scope.relation_id else {
            return Err(ToolError::usage("no endpoint name specified"));
        };
        endpoint_name(relation(scope, id)?, &scope.app)
    };
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let mut ids: Vec<&Relation> = scope
        .state
        .relations
        .iter()
        .filter(|r| {
            r.visible_to(&scope.unit) && r.end_of(&scope.app).is_some_and(|e| e.endpoint == name)
        })
        .collect();
    ids.sort_by_key(|r| r.id);
    let list = ids
        .iter()
        .map(|r| Value::String(format!("{name}:{}", r.id)))
        .collect();
    Ok(ToolResponse::ok(args::render(&Value::Array(list), format)))
}

/// `relation-list [-r ID] [--app] [--format]`.
pub(super) fn relation_list(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[RELATION, APP, FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    let id = relation_arg(scope, &p)?;
    args::check_empty(&p.pos)?;
    let rel = relation(scope, id)?;
    if p.flag("app") {
        let remote = rel.remote_app(&scope.app).unwrap_or_default();
        return Ok(ToolResponse::ok(args::render(
            &Value::String(remote.to_owned()),
            format,
        )));
    }
    let units = rel
        .units_joined
        .get(&scope.unit)
        .map(|set| set.iter().map(|u| Value::String(u.clone())).collect())
        .unwrap_or_default();
    Ok(ToolResponse::ok(args::render(&Value::Array(units), format)))
}

/// `relation-model-get [-r ID] [--format]`.
pub(super) fn relation_model_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[RELATION, FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    relation_arg(scope, &p)?;
    args::check_empty(&p.pos)?;
    let v = serde_json::json!({ "uuid": scope.state.uuid });
    Ok(ToolResponse::ok(args::render(&v, format)))
}

/// `relation-get [-r ID] [--app] [--format] [<key>|- [<unit or app>]]`.
pub(super) fn relation_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[RELATION, APP, FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    let id = relation_arg(scope, &p)?;
    let key = p.pos.first().filter(|k| *k != "-").cloned();
    let mut app_mode = p.flag("app");
    let target = if let Some(t) = p.pos.get(1) {
        if app_mode {
            t.split('/').next().unwrap_or(t).to_owned()
        } else if !t.contains('/') {
            return Err(ToolError::usage(format!(
                "expected unit name, got application name {t:?}"
            )));
        } else {
            t.clone()
        }
    } else if app_mode {
        scope
            .remote_app
            .clone()
            .ok_or_else(|| ToolError::usage("no unit or application specified"))?
    } else if let Some(u) = &scope.remote_unit {
        u.clone()
    } else if let Some(a) = &scope.remote_app {
        app_mode = true;
        a.clone()
    } else {
        return Err(ToolError::usage("no unit or application specified"));
    };
    args::check_empty(p.pos.get(2..).unwrap_or_default())?;
    let rel = relation(scope, id)?;
    let remote_app = rel.remote_app(&scope.app).unwrap_or_default().to_owned();
    let data = if app_mode {
        if target == scope.app {
            if !scope.is_leader() && !rel.is_peer() {
                return Err(ToolError::run("permission denied"));
            }
            bag_view(scope, rel, &Databag::App(target))
        } else if target == remote_app {
            rel.app_data.get(&target).cloned().unwrap_or_default()
        } else {
            return Err(ToolError::run("permission denied"));
        }
    } else if target == scope.unit {
        bag_view(scope, rel, &Databag::Unit(target))
    } else {
        let unit_app = target.split('/').next().unwrap_or_default();
        let known = target.contains('/')
            && (unit_app == remote_app)
            && (rel.unit_data.contains_key(&target)
                || scope
                    .state
                    .applications
                    .get(unit_app)
                    .is_some_and(|a| a.units.contains_key(&target)));
        if !known {
            return Err(ToolError::run(format!(
                "cannot read settings for unit {target:?} in relation {:?}: unit {target:?}: settings not found",
                relation_key(rel)
            )));
        }
        rel.unit_data.get(&target).cloned().unwrap_or_default()
    };
    let value = match key {
        Some(k) => data
            .get(&k)
            .map_or(Value::Null, |v| Value::String(v.clone())),
        None => Value::Object(
            data.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
    };
    Ok(ToolResponse::ok(args::render(&value, format)))
}

/// Juju's relation key: `app1:ep1 app2:ep2` (one end for a peer relation).
fn relation_key(rel: &Relation) -> String {
    let [a, b] = &rel.endpoints;
    if rel.is_peer() {
        format!("{}:{}", a.app, a.endpoint)
    } else {
        format!("{}:{} {}:{}", a.app, a.endpoint, b.app, b.endpoint)
    }
}

/// `relation-set [-r ID] [--app] [--file PATH|-] key=value...`.
pub(super) fn relation_set(scope: &mut HookScope<'_>, argv: &[String], stdin: &[u8]) -> Outcome {
    let p = args::parse(argv, &[RELATION, APP, val(&["file"]), FORMAT])?;
    let id = relation_arg(scope, &p)?;
    let overrides = args::key_values(&p.pos)?;
    let mut settings = match p.get("file") {
        None => BTreeMap::new(),
        Some(path) => {
            let bytes = if path == "-" {
                stdin.to_vec()
            } else {
                std::fs::read(path).map_err(|e| ToolError::run(format!("open {path}: {e}")))?
            };
            parse_settings(&bytes)?
        }
    };
    settings.extend(overrides);
    let mut resp = ToolResponse::ok(Vec::new());
    if p.get("format").is_some() {
        resp.stderr = b"--format flag deprecated for command \"relation-set\"".to_vec();
    }
    relation(scope, id)?;
    let bag = if p.flag("app") {
        if !scope.is_leader() {
            return Err(ToolError::run("cannot write relation settings"));
        }
        Databag::App(scope.app.clone())
    } else {
        Databag::Unit(scope.unit.clone())
    };
    scope.pending.relation_sets.push((id, bag, settings));
    Ok(resp)
}

/// Parses a `--file` YAML map; scalars become strings (as Go's yaml.v2 does into
/// `map[string]string`), null becomes "" (deletes the key).
pub(super) fn parse_settings(bytes: &[u8]) -> Result<BTreeMap<String, String>, ToolError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ToolError::run(format!("yaml: invalid UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let value: Value =
        serde_saphyr::from_str(text).map_err(|e| ToolError::run(format!("yaml: {e}")))?;
    let Value::Object(map) = value else {
        if value.is_null() {
            return Ok(BTreeMap::new());
        }
        return Err(ToolError::run(
            "yaml: unmarshal errors: cannot unmarshal into map[string]string",
        ));
    };
    map.into_iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(ToolError::run(format!(
                        "yaml: unmarshal errors: cannot unmarshal a collection into a string (key {k:?})"
                    )));
                }
            };
            Ok((k, s))
        })
        .collect()
}
