//! `secret-add`, `secret-get`, `secret-set`, `secret-grant`, `secret-revoke`, `secret-remove`,
//! `secret-ids`, `secret-info-get`.
//!
//! Rules as in Juju 3.6: an application-owned secret is readable by every unit of the owner
//! and managed (set, grant, revoke, remove) by its leader only; a unit-owned secret by that
//! unit. Owners always read the newest revision. A consumer needs a grant to its application
//! (over a relation, or `juju grant-secret` for user secrets) and otherwise gets
//! `permission denied`; it reads the revision it tracks, `--refresh` moves it to the newest,
//! `--peek` reads the newest without moving. Unknown ids and labels answer
//! `secret "<id or label>" not found`; so do management calls by non-owners.
//!
//! Content comes from `key=value`, `key#base64=value`, `key#file=PATH` arguments and a
//! `--file` YAML map (`-`: stdin); keys follow Juju's rule (`^[a-z](?:-?[a-z0-9]){2,}$`).
//! `secret-get ID [KEY[#base64]]` prints the map or one value (YAML by default).
//!
//! Simplifications: a consumer's tracked revision and label are stored at once (Juju's
//! controller also records them during the call); expiry and rotation are stored as given,
//! not validated as times or acted on; the content size limits are not enforced;
//! `secret-info-get` shows no `access` list.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::args::{self, FORMAT, Format, Parsed, ToolError, boolean, val};
use super::relation::relation_arg;
use super::{Outcome, ToolResponse};
use crate::state::{
    Effects, HookScope, Secret, SecretGrant, SecretOp, SecretOwner, SecretRevision,
    apply_secret_op, new_secret_id,
};

const LABEL: args::Flag = val(&["label"]);
const DESCRIPTION: args::Flag = val(&["description"]);
const EXPIRE: args::Flag = val(&["expire"]);
const ROTATE: args::Flag = val(&["rotate"]);
const OWNER: args::Flag = val(&["owner"]);
const FILE: args::Flag = val(&["file"]);

const ROTATE_POLICIES: &[&str] = &[
    "never",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
];

/// Parses `secret:ID`, `secret://MODEL/ID` or a bare ID into the bare ID.
fn parse_uri(raw: &str) -> Result<String, ToolError> {
    let id = raw
        .strip_prefix("secret://")
        .and_then(|rest| rest.rsplit_once('/').map(|(_, id)| id))
        .or_else(|| raw.strip_prefix("secret:"))
        .unwrap_or(raw);
    let valid = id.len() == 20
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b));
    if valid {
        Ok(id.to_owned())
    } else {
        Err(ToolError::usage(format!("secret URI {raw:?} not valid")))
    }
}

fn not_found(what: &str) -> ToolError {
    ToolError::run(format!("secret {what:?} not found"))
}

/// All secrets as this hook sees them (the model's plus this hook's queued operations).
fn view(scope: &HookScope<'_>) -> BTreeMap<String, Secret> {
    let mut secrets = scope.state.secrets.clone();
    let mut effects = Effects::default();
    for op in &scope.pending.secret_ops {
        apply_secret_op(&mut secrets, op.clone(), &mut effects);
    }
    secrets
}

fn owns(scope: &HookScope<'_>, s: &Secret) -> bool {
    match &s.owner {
        SecretOwner::App(a) => *a == scope.app,
        SecretOwner::Unit(u) => *u == scope.unit,
        SecretOwner::Model => false,
    }
}

fn may_manage(scope: &HookScope<'_>, s: &Secret) -> bool {
    match &s.owner {
        SecretOwner::App(a) => *a == scope.app && scope.is_leader(),
        SecretOwner::Unit(u) => *u == scope.unit,
        SecretOwner::Model => false,
    }
}

fn granted(scope: &HookScope<'_>, s: &Secret) -> bool {
    s.grants
        .get(&scope.app)
        .is_some_and(|g| g.unit.as_ref().is_none_or(|u| *u == scope.unit))
}

/// Resolves an id argument and/or `--label` to a bare id.
fn resolve(
    scope: &HookScope<'_>,
    secrets: &BTreeMap<String, Secret>,
    id: Option<&str>,
    label: Option<&str>,
) -> Result<String, ToolError> {
    if let Some(raw) = id {
        let id = parse_uri(raw)?;
        return if secrets.contains_key(&id) {
            Ok(id)
        } else {
            Err(not_found(&id))
        };
    }
    let Some(label) = label else {
        return Err(ToolError::usage("require either a secret URI or label"));
    };
    secrets
        .values()
        .find(|s| {
            (owns(scope, s) && s.label.as_deref() == Some(label))
                || s.consumer_labels.get(&scope.unit).map(String::as_str) == Some(label)
        })
        .map(|s| s.id.clone())
        .ok_or_else(|| not_found(label))
}

/// Parses content: `key=value`, `key#base64=value`, `key#file=path` arguments, then the
/// `--file` YAML map (its keys may also end in `#base64`), as Juju's `CreateSecretData` and
/// `ReadSecretData` do. Trailing `=` (base64 padding) never splits key from value.
fn content(
    args_: &[String],
    file: Option<&str>,
    stdin: &[u8],
) -> Result<BTreeMap<String, String>, ToolError> {
    let mut out = BTreeMap::new();
    let mut add = |key: &str, value: Vec<u8>| -> Result<(), ToolError> {
        if !valid_key(key) {
            return Err(ToolError::usage(format!("key {key:?} not valid")));
        }
        out.insert(key.to_owned(), String::from_utf8_lossy(&value).into_owned());
        Ok(())
    };
    let decode = |key: &str, v: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(v)
            .map_err(|e| ToolError::usage(format!("key {key:?}: {e}")))
    };
    for a in args_ {
        let stripped = a.trim_end_matches('=');
        let Some(idx) = stripped.find('=').filter(|i| *i > 0) else {
            return Err(ToolError::usage(format!("key value {a:?} not valid")));
        };
        let (k, v) = (&a[..idx], &a[idx + 1..]);
        if let Some(key) = k.strip_suffix("#file") {
            let bytes = std::fs::read(v).map_err(|e| {
                ToolError::usage(format!("reading content for secret key {key:?}: {e}"))
            })?;
            add(key, bytes)?;
        } else if let Some(key) = k.strip_suffix("#base64") {
            add(key, decode(key, v)?)?;
        } else {
            add(k, v.as_bytes().to_vec())?;
        }
    }
    if let Some(path) = file {
        let bytes = if path == "-" {
            stdin.to_vec()
        } else {
            std::fs::read(path).map_err(|e| ToolError::usage(format!("open {path}: {e}")))?
        };
        let text = String::from_utf8_lossy(&bytes);
        let map: BTreeMap<String, Value> = if text.trim().is_empty() {
            BTreeMap::new()
        } else {
            serde_saphyr::from_str(&text).map_err(|e| ToolError::usage(format!("yaml: {e}")))?
        };
        for (k, v) in map {
            let v = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            if let Some(key) = k.strip_suffix("#base64") {
                add(key, decode(key, &v)?)?;
            } else {
                add(&k, v.into_bytes())?;
            }
        }
    }
    Ok(out)
}

/// Juju's secret key rule: `^[a-z](?:-?[a-z0-9]){2,}$`.
fn valid_key(k: &str) -> bool {
    let b = k.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_lowercase() || k.ends_with('-') || k.contains("--") {
        return false;
    }
    let alnum = b.iter().filter(|c| **c != b'-').count();
    alnum >= 3
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// `--label`, `--description`, `--rotate`, `--expire`.
type Metadata = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn metadata(p: &Parsed) -> Result<Metadata, ToolError> {
    if let Some(r) = p.get("rotate")
        && !ROTATE_POLICIES.contains(&r)
    {
        return Err(ToolError::usage(format!("rotate policy {r:?} not valid")));
    }
    Ok((
        p.get("label").map(str::to_owned),
        p.get("description").map(str::to_owned),
        p.get("rotate").map(str::to_owned),
        p.get("expire").map(str::to_owned),
    ))
}

fn label_taken(scope: &HookScope<'_>, label: &str, except: Option<&str>) -> bool {
    view(scope).values().any(|s| {
        owns(scope, s) && s.label.as_deref() == Some(label) && Some(s.id.as_str()) != except
    })
}

/// `secret-add [--owner application|unit] [--label] [--description] [--expire] [--rotate] content...`.
pub(super) fn secret_add(scope: &mut HookScope<'_>, argv: &[String], stdin: &[u8]) -> Outcome {
    let p = args::parse(argv, &[LABEL, DESCRIPTION, EXPIRE, ROTATE, OWNER, FILE])?;
    let owner = match p.get("owner").unwrap_or("application") {
        "application" => SecretOwner::App(scope.app.clone()),
        "unit" => SecretOwner::Unit(scope.unit.clone()),
        other => {
            return Err(ToolError::usage(format!(
                "secret owner {other:?} not valid"
            )));
        }
    };
    let (label, description, rotate, expire) = metadata(&p)?;
    if p.pos.is_empty() && p.get("file").is_none() {
        return Err(ToolError::usage("missing secret value or filename"));
    }
    let content = content(&p.pos, p.get("file"), stdin)?;
    if content.is_empty() {
        return Err(ToolError::usage("empty secret value not valid"));
    }
    if matches!(owner, SecretOwner::App(_)) && !scope.is_leader() {
        return Err(ToolError::run("this unit is not the leader"));
    }
    if let Some(l) = &label
        && label_taken(scope, l, None)
    {
        return Err(ToolError::run(format!(
            "secret with label {l:?} already exists"
        )));
    }
    let id = new_secret_id(scope.state);
    let secret = Secret {
        id: id.clone(),
        owner,
        label,
        consumer_labels: BTreeMap::new(),
        description,
        revisions: vec![SecretRevision {
            revision: 1,
            content,
        }],
        grants: BTreeMap::new(),
        tracked: BTreeMap::new(),
        rotate,
        expire,
    };
    let uri = secret.uri();
    scope.pending.secret_ops.push(SecretOp::Add(secret));
    Ok(ToolResponse::ok(format!("{uri}\n")))
}

/// `secret-get <ID> | --label L [--refresh | --peek] [--format] [--base64]`.
pub(super) fn secret_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(
        argv,
        &[LABEL, boolean(&["refresh"]), boolean(&["peek"]), FORMAT],
    )?;
    let format = args::format(&p, Format::Yaml, &[Format::Json])?;
    let label = p.get("label");
    let id_arg = p.pos.first().map(String::as_str);
    if let Some(raw) = id_arg {
        parse_uri(raw)?;
    }
    if id_arg.is_none() && label.is_none() {
        return Err(ToolError::usage("require either a secret URI or label"));
    }
    if p.flag("refresh") && p.flag("peek") {
        return Err(ToolError::usage(
            "specify one of --peek or --refresh but not both",
        ));
    }
    let key = p.pos.get(1).cloned();
    args::check_empty(p.pos.get(2..).unwrap_or_default())?;
    let secrets = view(scope);
    let id = resolve(scope, &secrets, id_arg, label)?;
    let Some(secret) = secrets.get(&id) else {
        return Err(not_found(&id));
    };
    let content = if owns(scope, secret) {
        if let (Some(_), Some(l)) = (id_arg, label) {
            scope.pending.secret_ops.push(SecretOp::Update {
                id: id.clone(),
                content: None,
                label: Some(l.to_owned()),
                description: None,
                rotate: None,
                expire: None,
            });
        }
        secret
            .latest()
            .map(|r| r.content.clone())
            .unwrap_or_default()
    } else {
        if !granted(scope, secret) {
            return Err(ToolError::run("permission denied"));
        }
        let latest = secret.latest().map_or(0, |r| r.revision);
        let tracked = secret.tracked.get(&scope.unit).copied();
        let revision = if p.flag("peek") {
            latest
        } else if p.flag("refresh") || tracked.is_none() {
            if let Some(s) = scope.state.secrets.get_mut(&id) {
                s.tracked.insert(scope.unit.clone(), latest);
            }
            latest
        } else {
            tracked.unwrap_or(latest)
        };
        if let (Some(_), Some(l)) = (id_arg, label)
            && let Some(s) = scope.state.secrets.get_mut(&id)
        {
            s.consumer_labels.insert(scope.unit.clone(), l.to_owned());
        }
        secret
            .revisions
            .iter()
            .find(|r| r.revision == revision)
            .or_else(|| secret.latest())
            .map(|r| r.content.clone())
            .unwrap_or_default()
    };
    let value = match key {
        None => Value::Object(
            content
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
        Some(key) => {
            let (name, b64) = match key.strip_suffix("#base64") {
                Some(name) => (name, true),
                None => (key.as_str(), false),
            };
            let Some(v) = content.get(name) else {
                return Err(ToolError::run(format!(
                    "secret key value {key:?} not found"
                )));
            };
            Value::String(if b64 {
                base64::engine::general_purpose::STANDARD.encode(v)
            } else {
                v.clone()
            })
        }
    };
    Ok(ToolResponse::ok(args::render(&value, format)))
}

/// `secret-set <ID> [content...] [--label] [--description] [--expire] [--rotate] [--owner]`.
pub(super) fn secret_set(scope: &mut HookScope<'_>, argv: &[String], stdin: &[u8]) -> Outcome {
    let p = args::parse(argv, &[LABEL, DESCRIPTION, EXPIRE, ROTATE, OWNER, FILE])?;
    let Some(raw) = p.pos.first() else {
        return Err(ToolError::usage("missing secret URI"));
    };
    let id = parse_uri(raw)?;
    let (label, description, rotate, expire) = metadata(&p)?;
    let rest = p.pos.get(1..).unwrap_or_default();
    let content = if rest.is_empty() && p.get("file").is_none() {
        None
    } else {
        Some(content(rest, p.get("file"), stdin)?).filter(|c| !c.is_empty())
    };
    if content.is_none()
        && label.is_none()
        && description.is_none()
        && rotate.is_none()
        && expire.is_none()
    {
        // Juju: nothing to update is not an error.
        return Ok(ToolResponse::ok(Vec::new()));
    }
    let secrets = view(scope);
    let Some(secret) = secrets.get(&id) else {
        return Err(not_found(&id));
    };
    if !owns(scope, secret) {
        return Err(not_found(&id));
    }
    if !may_manage(scope, secret) {
        return Err(ToolError::run("permission denied"));
    }
    if let Some(l) = &label
        && label_taken(scope, l, Some(&id))
    {
        return Err(ToolError::run(format!(
            "secret with label {l:?} already exists"
        )));
    }
    // Juju 3.6 coalesces writes within a hook: a secret created in this hook stays at revision 1.
    if let Some(SecretOp::Add(new)) = scope
        .pending
        .secret_ops
        .iter_mut()
        .find(|op| matches!(op, SecretOp::Add(s) if s.id == id))
    {
        if let (Some(c), Some(rev)) = (content, new.revisions.first_mut()) {
            rev.content = c;
        }
        new.label = label.or(new.label.take());
        new.description = description.or(new.description.take());
        new.rotate = rotate.or(new.rotate.take());
        new.expire = expire.or(new.expire.take());
        return Ok(ToolResponse::ok(Vec::new()));
    }
    // Several updates in one hook make one revision (Juju 3.6 coalesces them).
    if let Some(SecretOp::Update {
        content: c,
        label: l,
        description: d,
        rotate: r,
        expire: e,
        ..
    }) = scope
        .pending
        .secret_ops
        .iter_mut()
        .find(|op| matches!(op, SecretOp::Update { id: i, .. } if *i == id))
    {
        if content.is_some() {
            *c = content;
        }
        *l = label.or(l.take());
        *d = description.or(d.take());
        *r = rotate.or(r.take());
        *e = expire.or(e.take());
        return Ok(ToolResponse::ok(Vec::new()));
    }
    scope.pending.secret_ops.push(SecretOp::Update {
        id,
        content,
        label,
        description,
        rotate,
        expire,
    });
    Ok(ToolResponse::ok(Vec::new()))
}

fn managed_secret(scope: &HookScope<'_>, raw: Option<&String>) -> Result<String, ToolError> {
    let Some(raw) = raw else {
        return Err(ToolError::usage("missing secret URI"));
    };
    let id = parse_uri(raw)?;
    let secrets = view(scope);
    match secrets.get(&id) {
        Some(s) if owns(scope, s) => {
            if may_manage(scope, s) {
                Ok(id)
            } else {
                Err(ToolError::run("permission denied"))
            }
        }
        _ => Err(not_found(&id)),
    }
}

/// `secret-grant <ID> -r <relation> [--unit U]`.
pub(super) fn secret_grant(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[val(&["r", "relation"]), val(&["unit"])])?;
    if p.get("r").is_none() {
        return Err(ToolError::usage("missing relation or application"));
    }
    let rel_id = relation_arg(scope, &p)?;
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let id = managed_secret(scope, p.pos.first())?;
    let app = scope
        .state
        .relations
        .iter()
        .find(|r| r.id == rel_id)
        .and_then(|r| r.remote_app(&scope.app))
        .unwrap_or_default()
        .to_owned();
    let unit = p.get("unit").map(str::to_owned);
    if let Some(u) = &unit
        && u.split_once('/').map(|(a, _)| a) != Some(app.as_str())
    {
        return Err(ToolError::usage(format!(
            "cannot specify unit {u:?} in relation to application {app:?}"
        )));
    }
    scope.pending.secret_ops.push(SecretOp::Grant {
        id,
        app,
        grant: SecretGrant {
            relation_id: Some(rel_id),
            unit,
        },
    });
    Ok(ToolResponse::ok(Vec::new()))
}

/// `secret-revoke <ID> [-r <relation>] [--app A] [--unit U]`.
pub(super) fn secret_revoke(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(
        argv,
        &[
            val(&["r", "relation"]),
            val(&["app", "application"]),
            val(&["unit"]),
        ],
    )?;
    if p.get("app").is_some() && p.get("unit").is_some() {
        return Err(ToolError::usage("specify only one of application or unit"));
    }
    if p.get("app").is_some() && p.get("r").is_some() {
        return Err(ToolError::usage("do not specify both relation and app"));
    }
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let app = if p.get("r").is_some() {
        let rel_id = relation_arg(scope, &p)?;
        scope
            .state
            .relations
            .iter()
            .find(|r| r.id == rel_id)
            .and_then(|r| r.remote_app(&scope.app))
            .unwrap_or_default()
            .to_owned()
    } else if let Some(a) = p.get("app") {
        a.to_owned()
    } else if let Some(u) = p.get("unit") {
        u.split('/').next().unwrap_or(u).to_owned()
    } else {
        return Err(ToolError::usage("missing relation or application or unit"));
    };
    let id = managed_secret(scope, p.pos.first())?;
    scope.pending.secret_ops.push(SecretOp::Revoke { id, app });
    Ok(ToolResponse::ok(Vec::new()))
}

/// `secret-remove <ID> [--revision N]`.
pub(super) fn secret_remove(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[val(&["revision"])])?;
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let revision = match p.get("revision") {
        None => None,
        Some(r) => Some(r.parse::<u32>().map_err(|_| {
            ToolError::usage(format!(
                "invalid value {r:?} for option --revision: parse error"
            ))
        })?),
    };
    let id = managed_secret(scope, p.pos.first())?;
    scope
        .pending
        .secret_ops
        .push(SecretOp::Remove { id, revision });
    Ok(ToolResponse::ok(Vec::new()))
}

/// `secret-ids [--format]`: the secrets this unit owns (its application's and its own).
pub(super) fn secret_ids(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[FORMAT])?;
    let format = args::format(&p, Format::Smart, &[Format::Yaml, Format::Json])?;
    args::check_empty(&p.pos)?;
    let ids = view(scope)
        .values()
        .filter(|s| owns(scope, s))
        .map(|s| Value::String(s.uri()))
        .collect();
    Ok(ToolResponse::ok(args::render(&Value::Array(ids), format)))
}

/// `secret-info-get <ID> | --label L [--format]`: metadata of a secret this unit owns.
pub(super) fn secret_info_get(scope: &mut HookScope<'_>, argv: &[String]) -> Outcome {
    let p = args::parse(argv, &[LABEL, FORMAT])?;
    let format = args::format(&p, Format::Yaml, &[Format::Json])?;
    args::check_empty(p.pos.get(1..).unwrap_or_default())?;
    let id_arg = p.pos.first().map(String::as_str);
    if id_arg.is_none() && p.get("label").is_none() {
        return Err(ToolError::usage("require either a secret URI or label"));
    }
    if id_arg.is_some() && p.get("label").is_some() {
        return Err(ToolError::usage(
            "specify either a secret URI or label but not both",
        ));
    }
    let secrets = view(scope);
    let id = resolve(scope, &secrets, id_arg, p.get("label"))?;
    let Some(s) = secrets.get(&id).filter(|s| owns(scope, s)) else {
        return Err(not_found(id_arg.or(p.get("label")).unwrap_or(&id)));
    };
    let mut info = serde_json::Map::new();
    info.insert(
        "revision".into(),
        Value::from(s.latest().map_or(0, |r| r.revision)),
    );
    info.insert(
        "label".into(),
        Value::String(s.label.clone().unwrap_or_default()),
    );
    let owner = if matches!(s.owner, SecretOwner::Unit(_)) {
        "unit"
    } else {
        "application"
    };
    info.insert("owner".into(), Value::String(owner.into()));
    if let Some(d) = &s.description {
        info.insert("description".into(), Value::String(d.clone()));
    }
    if let Some(e) = &s.expire {
        info.insert("expiry".into(), Value::String(e.clone()));
    }
    if let Some(r) = &s.rotate {
        info.insert("rotation".into(), Value::String(r.clone()));
    }
    let mut out = serde_json::Map::new();
    out.insert(id, Value::Object(info));
    Ok(ToolResponse::ok(args::render(&Value::Object(out), format)))
}
