//! Juju model state that the hook tools read and write, and the per-hook scope they run in.
//!
//! [`ModelState`] is the whole simulated model (applications, units, relations, secrets, log);
//! it is plain serde data so the simulator can persist it as JSON between CLI invocations.
//! [`HookScope`] is what one running hook sees: the model, who it runs as, the hook's relation /
//! remote unit / secret / action context, and the [`PendingChanges`] it queued.
//!
//! As in Juju, `relation-set`, the `secret-*` writes, `state-set`/`state-delete` and
//! `open-port`/`close-port` are queued in
//! [`PendingChanges`] and reach the model only on [`HookScope::commit`] (the hook exited 0);
//! [`HookScope::discard`] drops them (the hook failed). `status-set`, `application-version-set`,
//! `juju-log` and `action-log`/`action-set`/`action-fail` take effect at once, also as in Juju
//! (status and logs stay when a hook fails; the action's results belong to the action run).
//!
//! Within one hook, writes coalesce as in Juju 3.6: several `secret-set`s make one new
//! revision (none if the content is unchanged), a secret created and updated in the same hook
//! stays at revision 1, and a relation value set and unset again is no change
//! ([`Effects::relations_changed`] lists only relations whose data really changed).
//!
//! Simplifications (each one visible to a charm is listed here):
//! - Reads within the hook that queued a write see the write (Juju's hook context caches its own
//!   writes the same way for relation settings); for secrets, a secret created in this hook can
//!   be read, updated and granted in the same hook.
//! - Consumer labels and tracked revisions of a secret are kept per consuming *unit*.
//! - Secret rotation and expiry are stored as given; no `secret-rotate`/`secret-expired` hooks are
//!   scheduled from them (the model side may do so from the stored values).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole simulated Juju model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelState {
    /// Model name (also the Kubernetes namespace).
    pub name: String,
    /// Model UUID (used in secret URIs and `JUJU_MODEL_UUID`).
    pub uuid: String,
    /// Applications by name.
    pub applications: BTreeMap<String, Application>,
    /// Relations, including peer relations (both ends the same application).
    pub relations: Vec<Relation>,
    /// Next relation id to hand out.
    pub next_relation_id: u64,
    /// Secrets by their bare id (the 20-character xid, without `secret:`).
    pub secrets: BTreeMap<String, Secret>,
    /// Counter that makes secret ids unique.
    pub next_secret_n: u64,
    /// `juju-log` lines, status changes and action logs, in order (the `debug-log`).
    pub log: Vec<LogLine>,
}

/// A deployed application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// Application name.
    pub name: String,
    /// Directory of the unpacked charm (metadata, `dispatch`, the binary).
    pub charm_dir: PathBuf,
    /// The charm's metadata, config options and actions.
    pub metadata: CharmMeta,
    /// Operator-set config values (`juju config`); defaults come from `metadata.config`.
    pub config: BTreeMap<String, serde_json::Value>,
    /// Whether `juju trust` was given.
    pub trusted: bool,
    /// Units Juju intends to have (goal-state, scale).
    pub planned_units: u32,
    /// Units by name (`app/0`).
    pub units: BTreeMap<String, Unit>,
    /// The leader unit's name.
    pub leader: Option<String>,
    /// Application status (set by the leader with `status-set --application`).
    pub status: Status,
    /// Ports opened with `open-port` (application-wide, as on Kubernetes).
    pub opened_ports: BTreeSet<Port>,
    /// Set by `application-version-set`.
    pub workload_version: String,
}

/// A unit of an application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    /// Unit name (`app/0`).
    pub name: String,
    /// Workload status.
    pub status: Status,
    /// Attached storage: storage name → host directory standing for its location.
    pub storage: BTreeMap<String, PathBuf>,
    /// The pod's IP as `network-get` reports it (`None`: 127.0.0.1).
    pub address: Option<String>,
    /// Server-side charm state (`state-get`/`state-set`/`state-delete`).
    #[serde(default)]
    pub charm_state: BTreeMap<String, String>,
}

/// Workload status of a unit or application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The status value.
    pub current: StatusKind,
    /// The message.
    pub message: String,
    /// Seconds since the Unix epoch when it was set (0: never).
    pub since: u64,
}

/// Juju workload status values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusKind {
    /// Nothing was set yet.
    #[default]
    Unknown,
    /// The charm is doing something.
    Maintenance,
    /// Needs operator action.
    Blocked,
    /// Waiting for something outside the charm.
    Waiting,
    /// Ready.
    Active,
    /// A hook failed (set by the agent).
    Error,
    /// The unit is going away.
    Terminated,
}

impl StatusKind {
    /// Juju's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Maintenance => "maintenance",
            Self::Blocked => "blocked",
            Self::Waiting => "waiting",
            Self::Active => "active",
            Self::Error => "error",
            Self::Terminated => "terminated",
        }
    }

    /// Parses Juju's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unknown" => Self::Unknown,
            "maintenance" => Self::Maintenance,
            "blocked" => Self::Blocked,
            "waiting" => Self::Waiting,
            "active" => Self::Active,
            "error" => Self::Error,
            "terminated" => Self::Terminated,
            _ => return None,
        })
    }
}

/// An opened port or port range.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Port {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// First port (0 for icmp).
    pub from: u16,
    /// Last port (== `from` for a single port).
    pub to: u16,
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.protocol == "icmp" {
            f.write_str("icmp")
        } else if self.from == self.to {
            write!(f, "{}/{}", self.from, self.protocol)
        } else {
            write!(f, "{}-{}/{}", self.from, self.to, self.protocol)
        }
    }
}

/// A charm's metadata as the simulator needs it (from `charmcraft.yaml` or
/// `metadata.yaml` + `config.yaml` + `actions.yaml`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CharmMeta {
    /// Charm name.
    pub name: String,
    /// Relation endpoints by name.
    pub endpoints: BTreeMap<String, EndpointMeta>,
    /// Workload containers by name.
    pub containers: BTreeMap<String, ContainerMeta>,
    /// Storage by name.
    pub storage: BTreeMap<String, StorageMeta>,
    /// Actions by name.
    pub actions: BTreeMap<String, ActionMeta>,
    /// Config options by name.
    pub config: BTreeMap<String, ConfigOption>,
}

/// Role of a relation endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `provides:`
    Provides,
    /// `requires:`
    Requires,
    /// `peers:`
    Peers,
}

/// A relation endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointMeta {
    /// provides / requires / peers.
    pub role: Role,
    /// Interface name.
    pub interface: String,
    /// Maximum number of relations (`None`: unlimited).
    pub limit: Option<u32>,
    /// `optional: true`.
    #[serde(default)]
    pub optional: bool,
}

/// A workload container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerMeta {
    /// OCI image resource name.
    pub resource: Option<String>,
    /// Storage mounts.
    pub mounts: Vec<MountMeta>,
}

/// A storage mount in a container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountMeta {
    /// Storage name.
    pub storage: String,
    /// Path in the container.
    pub location: String,
}

/// A storage declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageMeta {
    /// `filesystem` or `block`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Location in the charm container (`None`: `/var/lib/juju/storage/<name>/0`).
    pub location: Option<String>,
}

/// An action declaration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionMeta {
    /// Description.
    pub description: String,
    /// JSON-schema `params` by name.
    pub params: BTreeMap<String, serde_json::Value>,
}

/// A config option declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigOption {
    /// `string`, `int`, `float`, `boolean` or `secret`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Default value (`None`: unset unless the operator sets it).
    pub default: Option<serde_json::Value>,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// One end of a relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationEnd {
    /// Application name.
    pub app: String,
    /// Endpoint name on that application.
    pub endpoint: String,
}

/// A relation between two applications (or a peer relation: both ends equal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    /// Relation id (`JUJU_RELATION_ID` is `<endpoint>:<id>`).
    pub id: u64,
    /// The two ends.
    pub endpoints: [RelationEnd; 2],
    /// Application databags by application name.
    pub app_data: BTreeMap<String, BTreeMap<String, String>>,
    /// Unit databags by unit name.
    pub unit_data: BTreeMap<String, BTreeMap<String, String>>,
    /// Per observing unit: the remote units it has seen join (what `relation-list` answers).
    pub units_joined: BTreeMap<String, BTreeSet<String>>,
    /// Set while the relation is being removed (departed/broken hooks).
    #[serde(default)]
    pub dying: bool,
    /// Units whose `relation-broken` hook has run: as in Juju, the relation no longer exists
    /// for them (`relation-ids` omits it, `-r` finds nothing), even while the other side's
    /// hooks are still pending.
    #[serde(default)]
    pub broken_for: BTreeSet<String>,
}

impl Relation {
    /// Whether this is a peer relation.
    pub fn is_peer(&self) -> bool {
        self.endpoints[0] == self.endpoints[1]
    }

    /// Whether `unit` still sees this relation (it has not run its `relation-broken` hook).
    pub fn visible_to(&self, unit: &str) -> bool {
        !self.broken_for.contains(unit)
    }

    /// The end belonging to `app`, if any.
    pub fn end_of(&self, app: &str) -> Option<&RelationEnd> {
        self.endpoints.iter().find(|e| e.app == app)
    }

    /// The other application seen from `app` (itself for a peer relation).
    pub fn remote_app(&self, app: &str) -> Option<&str> {
        if self.endpoints[0].app == app {
            Some(&self.endpoints[1].app)
        } else if self.endpoints[1].app == app {
            Some(&self.endpoints[0].app)
        } else {
            None
        }
    }
}

/// Who owns a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum SecretOwner {
    /// Owned by an application (`secret-add` default).
    App(String),
    /// Owned by a unit (`secret-add --owner unit`).
    Unit(String),
    /// A user secret (`juju add-secret`).
    Model,
}

/// A secret revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretRevision {
    /// Revision number (from 1).
    pub revision: u32,
    /// Decoded content.
    pub content: BTreeMap<String, String>,
}

/// A grant of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretGrant {
    /// Relation the grant was made over (`None`: user secret grant, `juju grant-secret`).
    pub relation_id: Option<u64>,
    /// When set, only this unit of the grantee application may read.
    pub unit: Option<String>,
}

/// A Juju secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Secret {
    /// Bare id (20-character xid); the URI is `secret:<id>`.
    pub id: String,
    /// Owner.
    pub owner: SecretOwner,
    /// Label set by the owner.
    pub label: Option<String>,
    /// Labels set by consumers, by consuming unit.
    pub consumer_labels: BTreeMap<String, String>,
    /// Description.
    pub description: Option<String>,
    /// Revisions, oldest first.
    pub revisions: Vec<SecretRevision>,
    /// Grants by grantee application.
    pub grants: BTreeMap<String, SecretGrant>,
    /// The revision each consuming unit tracks (`secret-get` without `--refresh` answers it).
    pub tracked: BTreeMap<String, u32>,
    /// Rotation policy as given (`hourly`, ...).
    pub rotate: Option<String>,
    /// Expiry as given.
    pub expire: Option<String>,
}

impl Secret {
    /// The URI charms see.
    pub fn uri(&self) -> String {
        format!("secret:{}", self.id)
    }

    /// The newest revision.
    pub fn latest(&self) -> Option<&SecretRevision> {
        self.revisions.last()
    }
}

/// One debug-log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Unit that wrote it.
    pub unit: String,
    /// Hook (or action) it was written in.
    pub hook: String,
    /// `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL` (or `TRACE`).
    pub level: String,
    /// Message text.
    pub message: String,
}

/// One hook-tool invocation, for the debug-log (never secret values: stdin by length only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Arguments, `argv[0]` being the tool name; values of `secret-add`/`secret-set` content
    /// arguments are replaced by `***`.
    pub argv: Vec<String>,
    /// Exit code.
    pub code: i32,
    /// Length of stdin in bytes.
    pub stdin_len: usize,
}

/// An action being run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionRun {
    /// Action name.
    pub name: String,
    /// Parameters (a JSON object; defaults from the metadata already filled in).
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Results set with `action-set`, nested by dotted key.
    pub results: serde_json::Map<String, serde_json::Value>,
    /// Message given to `action-fail` (`Some("")` when failed without one).
    pub failed: Option<String>,
    /// Lines written with `action-log`.
    pub log: Vec<String>,
}

/// Writes a hook queued, applied on commit only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingChanges {
    /// `relation-set`s in order: (relation id, databag, key → value; empty value deletes).
    pub relation_sets: Vec<(u64, Databag, BTreeMap<String, String>)>,
    /// Secret operations in order.
    pub secret_ops: Vec<SecretOp>,
    /// Port operations in order.
    pub port_ops: Vec<(PortOp, Port)>,
    /// `state-set` (`Some`) and `state-delete` (`None`) in order.
    #[serde(default)]
    pub state_ops: Vec<(String, Option<String>)>,
}

/// Which databag a `relation-set` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Databag {
    /// The application databag of this application.
    App(String),
    /// This unit's databag.
    Unit(String),
}

/// Open or close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PortOp {
    /// `open-port`
    Open,
    /// `close-port`
    Close,
}

/// A queued secret write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SecretOp {
    /// `secret-add`: the whole new secret (revision 1).
    Add(Secret),
    /// `secret-set`: a new revision (content `None`: metadata only).
    Update {
        /// Secret id.
        id: String,
        /// New content.
        content: Option<BTreeMap<String, String>>,
        /// New owner label.
        label: Option<String>,
        /// New description.
        description: Option<String>,
        /// New rotate policy.
        rotate: Option<String>,
        /// New expiry.
        expire: Option<String>,
    },
    /// `secret-grant`.
    Grant {
        /// Secret id.
        id: String,
        /// Grantee application.
        app: String,
        /// The grant.
        grant: SecretGrant,
    },
    /// `secret-revoke`.
    Revoke {
        /// Secret id.
        id: String,
        /// Grantee application.
        app: String,
    },
    /// `secret-remove` (revision `None`: all).
    Remove {
        /// Secret id.
        id: String,
        /// Revision.
        revision: Option<u32>,
    },
    /// A consumer's `secret-get --label`/`--refresh` (label and tracked revision).
    Track {
        /// Secret id.
        id: String,
        /// Consuming unit.
        unit: String,
        /// Label to set.
        label: Option<String>,
        /// Revision to track.
        revision: Option<u32>,
    },
}

/// What a committed hook changed, so the model can fire the hooks that follow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Effects {
    /// Relations whose data actually changed (remote units get `relation-changed`).
    pub relations_changed: BTreeSet<u64>,
    /// Secrets that got a new revision (consumers get `secret-changed`).
    pub secrets_changed: BTreeSet<String>,
    /// Secrets removed entirely (consumers get nothing; owners get `secret-remove` in Juju
    /// only for revisions no longer tracked: not simulated).
    pub secrets_removed: BTreeSet<String>,
    /// Whether the opened ports changed.
    pub ports_changed: bool,
}

/// What one running hook sees and may change.
#[derive(Debug)]
pub struct HookScope<'a> {
    /// The model.
    pub state: &'a mut ModelState,
    /// The unit running the hook.
    pub unit: String,
    /// Its application.
    pub app: String,
    /// Hook name (`install`, `db-relation-changed`, ...; the action name for actions).
    pub hook: String,
    /// `JUJU_RELATION_ID`'s relation, for relation hooks.
    pub relation_id: Option<u64>,
    /// `JUJU_REMOTE_APP`.
    pub remote_app: Option<String>,
    /// `JUJU_REMOTE_UNIT`.
    pub remote_unit: Option<String>,
    /// `JUJU_DEPARTING_UNIT`.
    pub departing_unit: Option<String>,
    /// `JUJU_SECRET_ID` (bare id), for secret hooks.
    pub secret_id: Option<String>,
    /// `JUJU_STORAGE_ID` (`data/0`), for storage hooks; when unset, storage hooks
    /// (`<name>-storage-attached`/`-detaching`) imply `<name>/0`.
    pub storage_id: Option<String>,
    /// The action being run, for action hooks.
    pub action: Option<ActionRun>,
    /// Queued writes.
    pub pending: PendingChanges,
    /// Every tool invocation, in order.
    pub tool_calls: Vec<ToolCall>,
}

impl<'a> HookScope<'a> {
    /// A scope for `unit` running `hook`, with no relation, secret or action context.
    pub fn new(state: &'a mut ModelState, unit: &str, hook: &str) -> Self {
        let app = unit.split('/').next().unwrap_or(unit).to_owned();
        Self {
            state,
            unit: unit.to_owned(),
            app,
            hook: hook.to_owned(),
            relation_id: None,
            remote_app: None,
            remote_unit: None,
            departing_unit: None,
            secret_id: None,
            storage_id: None,
            action: None,
            pending: PendingChanges::default(),
            tool_calls: Vec::new(),
        }
    }

    /// Whether this unit is its application's leader.
    pub fn is_leader(&self) -> bool {
        self.state
            .applications
            .get(&self.app)
            .and_then(|a| a.leader.as_deref())
            == Some(self.unit.as_str())
    }

    /// Appends a debug-log line from this hook at once.
    pub fn log(&mut self, level: &str, message: &str) {
        self.state.log.push(LogLine {
            unit: self.unit.clone(),
            hook: self.hook.clone(),
            level: level.to_owned(),
            message: message.to_owned(),
        });
    }

    /// The hook exited 0: applies the queued writes to the model and reports what changed.
    pub fn commit(self) -> (Effects, Vec<ToolCall>, Option<ActionRun>) {
        let mut effects = Effects::default();
        let state = self.state;
        let before: BTreeMap<u64, Relation> = state
            .relations
            .iter()
            .filter(|r| {
                self.pending
                    .relation_sets
                    .iter()
                    .any(|(id, _, _)| *id == r.id)
            })
            .map(|r| (r.id, r.clone()))
            .collect();
        for (rel_id, bag, changes) in self.pending.relation_sets {
            if let Some(rel) = state.relations.iter_mut().find(|r| r.id == rel_id) {
                let (bags, key) = match bag {
                    Databag::App(app) => (&mut rel.app_data, app),
                    Databag::Unit(unit) => (&mut rel.unit_data, unit),
                };
                let data = bags.entry(key.clone()).or_default();
                apply_settings(data, &changes);
                if data.is_empty() {
                    bags.remove(&key);
                }
            }
        }
        for rel in &state.relations {
            if before.get(&rel.id).is_some_and(|b| b != rel) {
                effects.relations_changed.insert(rel.id);
            }
        }
        if let Some(unit) = state
            .applications
            .get_mut(&self.app)
            .and_then(|a| a.units.get_mut(&self.unit))
        {
            apply_state_ops(&mut unit.charm_state, &self.pending.state_ops);
        }
        for op in self.pending.secret_ops {
            apply_secret_op(&mut state.secrets, op, &mut effects);
        }
        if let Some(app) = state.applications.get_mut(&self.app) {
            let before = app.opened_ports.clone();
            for (op, port) in self.pending.port_ops {
                match op {
                    PortOp::Open => {
                        app.opened_ports.insert(port);
                    }
                    PortOp::Close => {
                        app.opened_ports.remove(&port);
                    }
                }
            }
            effects.ports_changed = app.opened_ports != before;
        }
        (effects, self.tool_calls, self.action)
    }

    /// The hook failed: drops the queued writes (status and log already took effect).
    pub fn discard(self) -> (Vec<ToolCall>, Option<ActionRun>) {
        (self.tool_calls, self.action)
    }
}

/// Applies `state-set`/`state-delete` operations.
pub fn apply_state_ops(data: &mut BTreeMap<String, String>, ops: &[(String, Option<String>)]) {
    for (k, v) in ops {
        match v {
            Some(v) => {
                data.insert(k.clone(), v.clone());
            }
            None => {
                data.remove(k);
            }
        }
    }
}

/// Applies `relation-set` settings: an empty value deletes the key.
pub fn apply_settings(data: &mut BTreeMap<String, String>, changes: &BTreeMap<String, String>) {
    for (k, v) in changes {
        if v.is_empty() {
            data.remove(k);
        } else {
            data.insert(k.clone(), v.clone());
        }
    }
}

/// Applies one secret operation to a set of secrets (the model's, or a copy for a hook's view).
pub fn apply_secret_op(
    secrets: &mut BTreeMap<String, Secret>,
    op: SecretOp,
    effects: &mut Effects,
) {
    match op {
        SecretOp::Add(secret) => {
            secrets.insert(secret.id.clone(), secret);
        }
        SecretOp::Update {
            id,
            content,
            label,
            description,
            rotate,
            expire,
        } => {
            let Some(secret) = secrets.get_mut(&id) else {
                return;
            };
            if let Some(content) = content {
                let same = secret.latest().is_some_and(|r| r.content == content);
                if !same {
                    let revision = secret.latest().map_or(1, |r| r.revision + 1);
                    secret.revisions.push(SecretRevision { revision, content });
                    effects.secrets_changed.insert(id.clone());
                }
            }
            if label.is_some() {
                secret.label = label;
            }
            if description.is_some() {
                secret.description = description;
            }
            if rotate.is_some() {
                secret.rotate = rotate;
            }
            if expire.is_some() {
                secret.expire = expire;
            }
        }
        SecretOp::Grant { id, app, grant } => {
            if let Some(secret) = secrets.get_mut(&id) {
                secret.grants.insert(app, grant);
            }
        }
        SecretOp::Revoke { id, app } => {
            if let Some(secret) = secrets.get_mut(&id) {
                secret.grants.remove(&app);
            }
        }
        SecretOp::Remove { id, revision } => match revision {
            None => {
                secrets.remove(&id);
                effects.secrets_removed.insert(id);
            }
            Some(rev) => {
                if let Some(secret) = secrets.get_mut(&id) {
                    secret.revisions.retain(|r| r.revision != rev);
                    if secret.revisions.is_empty() {
                        secrets.remove(&id);
                        effects.secrets_removed.insert(id);
                    }
                }
            }
        },
        SecretOp::Track {
            id,
            unit,
            label,
            revision,
        } => {
            if let Some(secret) = secrets.get_mut(&id) {
                if let Some(label) = label {
                    secret.consumer_labels.insert(unit.clone(), label);
                }
                if let Some(rev) = revision {
                    secret.tracked.insert(unit, rev);
                }
            }
        }
    }
}

/// A new secret id in Juju's form: 20 characters of base32hex (`[0-9a-v]`), like an xid,
/// derived from the model UUID and a counter so runs are reproducible.
pub fn new_secret_id(state: &mut ModelState) -> String {
    state.next_secret_n += 1;
    // FNV-1a over the uuid and counter, twice with different seeds, for 100 bits.
    let mut out = String::with_capacity(20);
    let alphabet = b"0123456789abcdefghijklmnopqrstuv";
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in state
        .uuid
        .bytes()
        .chain(state.next_secret_n.to_be_bytes())
        .chain(state.name.bytes())
    {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    // Juju's xids start with a timestamp, so ids begin with a letter/digit mix; any is fine.
    for i in 0..20 {
        let idx = usize::try_from((h >> (i * 5)) & 0x1f).unwrap_or(0);
        out.push(char::from(alphabet[idx]));
    }
    out
}

/// The unit's ordinal (`app/3` → 3).
pub fn ordinal_of(unit: &str) -> u32 {
    unit.rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
