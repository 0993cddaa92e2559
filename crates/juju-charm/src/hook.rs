//! The [`Hook`] a process runs, parsed from `JUJU_DISPATCH_PATH`.
//!
//! Juju dispatches every hook as `hooks/<name>` and every action as `actions/<name>`. The hook
//! kinds are those of Juju's `internal/charm/hooks/hooks.go` (`Kind`): unit hooks (`install`,
//! `start`, `config-changed`, `upgrade-charm`, `stop`, `remove`, `leader-elected`,
//! `leader-deposed`, `update-status`, …), secret hooks, and hooks prefixed with a relation
//! endpoint (`<endpoint>-relation-joined`), a storage name (`<name>-storage-attached`) or a
//! workload container (`<container>-pebble-ready`).
//!
//! A prefixed name is ambiguous by string alone (an endpoint may itself contain `-relation`),
//! so, as ops resolves it from metadata and `JUJU_RELATION`/`JUJU_STORAGE_ID`/
//! `JUJU_WORKLOAD_NAME`, the parser first tries the prefix Juju named in the context and only
//! then falls back to splitting at the known suffix. Anything else is [`Hook::Other`]: parsing
//! never fails and never panics.

use crate::context::Context;

/// The five relation hook kinds (`<endpoint>-relation-<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationHook {
    /// `relation-created`: the relation exists, before any unit joined.
    Created,
    /// `relation-joined`: a remote unit joined.
    Joined,
    /// `relation-changed`: remote data changed.
    Changed,
    /// `relation-departed`: a remote unit left.
    Departed,
    /// `relation-broken`: the relation is being removed.
    Broken,
}

/// The two storage hook kinds (`<storage>-storage-<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageHook {
    /// `storage-attached`.
    Attached,
    /// `storage-detaching`.
    Detaching,
}

/// The four workload (Pebble) hook kinds (`<container>-pebble-<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadHook {
    /// `pebble-ready`: the container's Pebble answers.
    Ready,
    /// `pebble-custom-notice`: a custom Pebble notice occurred.
    CustomNotice,
    /// `pebble-check-failed`: a Pebble check crossed its failure threshold.
    CheckFailed,
    /// `pebble-check-recovered`: a failed Pebble check passes again.
    CheckRecovered,
}

/// The four secret hook kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretHook {
    /// `secret-changed`: an observed secret has a new revision.
    Changed,
    /// `secret-rotate`: an owned secret is due for rotation.
    Rotate,
    /// `secret-expired`: an owned secret revision expired.
    Expired,
    /// `secret-remove`: an owned secret revision is no longer tracked by anyone.
    Remove,
}

/// The hook (or action) this process was started for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Hook {
    /// `install`.
    Install,
    /// `start`.
    Start,
    /// `stop`.
    Stop,
    /// `remove`.
    Remove,
    /// `upgrade-charm`.
    UpgradeCharm,
    /// `config-changed`.
    ConfigChanged,
    /// `leader-elected`.
    LeaderElected,
    /// `leader-deposed` (legacy, still in Juju's unit hook list).
    LeaderDeposed,
    /// `leader-settings-changed` (legacy).
    LeaderSettingsChanged,
    /// `update-status`.
    UpdateStatus,
    /// `collect-metrics` (machine charms only; harmless).
    CollectMetrics,
    /// `pre-series-upgrade` (machine charms only; harmless).
    PreSeriesUpgrade,
    /// `post-series-upgrade` (machine charms only; harmless).
    PostSeriesUpgrade,
    /// `<endpoint>-relation-<kind>`.
    Relation {
        /// The relation endpoint, e.g. `vpn-gateway`.
        endpoint: String,
        /// Which relation hook.
        kind: RelationHook,
    },
    /// `<storage>-storage-<kind>`.
    Storage {
        /// The storage name, e.g. `config`.
        name: String,
        /// Which storage hook.
        kind: StorageHook,
    },
    /// `<container>-pebble-<kind>`.
    Workload {
        /// The workload container, e.g. `gluetun`.
        container: String,
        /// Which Pebble hook.
        kind: WorkloadHook,
    },
    /// `secret-<kind>`.
    Secret(SecretHook),
    /// `actions/<name>`.
    Action(String),
    /// Anything else, verbatim (the whole dispatch path).
    Other(String),
}

const RELATION_KINDS: [(&str, RelationHook); 5] = [
    ("created", RelationHook::Created),
    ("joined", RelationHook::Joined),
    ("changed", RelationHook::Changed),
    ("departed", RelationHook::Departed),
    ("broken", RelationHook::Broken),
];
const STORAGE_KINDS: [(&str, StorageHook); 2] = [
    ("attached", StorageHook::Attached),
    ("detaching", StorageHook::Detaching),
];
const WORKLOAD_KINDS: [(&str, WorkloadHook); 4] = [
    ("ready", WorkloadHook::Ready),
    ("custom-notice", WorkloadHook::CustomNotice),
    ("check-failed", WorkloadHook::CheckFailed),
    ("check-recovered", WorkloadHook::CheckRecovered),
];

impl Hook {
    /// The hook of this process: [`Hook::parse`] of the context's dispatch path.
    pub fn from_context(ctx: &Context) -> Self {
        Self::parse(ctx.dispatch_path.as_deref().unwrap_or_default(), ctx)
    }

    /// Parses a dispatch path (`hooks/<name>` or `actions/<name>`), using the context's
    /// `JUJU_RELATION`, `JUJU_STORAGE_ID` and `JUJU_WORKLOAD_NAME` to resolve prefixed names.
    pub fn parse(dispatch_path: &str, ctx: &Context) -> Self {
        let other = || Self::Other(dispatch_path.to_owned());
        if let Some(action) = dispatch_path.strip_prefix("actions/") {
            return if action.is_empty() || action.contains('/') {
                other()
            } else {
                Self::Action(action.to_owned())
            };
        }
        let Some(name) = dispatch_path.strip_prefix("hooks/") else {
            return other();
        };
        if let Some(hook) = Self::unit_hook(name) {
            return hook;
        }
        if let Some(hook) = Self::prefixed_hook(name, ctx) {
            return hook;
        }
        other()
    }

    fn unit_hook(name: &str) -> Option<Self> {
        Some(match name {
            "install" => Self::Install,
            "start" => Self::Start,
            "stop" => Self::Stop,
            "remove" => Self::Remove,
            "upgrade-charm" => Self::UpgradeCharm,
            "config-changed" => Self::ConfigChanged,
            "leader-elected" => Self::LeaderElected,
            "leader-deposed" => Self::LeaderDeposed,
            "leader-settings-changed" => Self::LeaderSettingsChanged,
            "update-status" => Self::UpdateStatus,
            "collect-metrics" => Self::CollectMetrics,
            "pre-series-upgrade" => Self::PreSeriesUpgrade,
            "post-series-upgrade" => Self::PostSeriesUpgrade,
            "secret-changed" => Self::Secret(SecretHook::Changed),
            "secret-rotate" => Self::Secret(SecretHook::Rotate),
            "secret-expired" => Self::Secret(SecretHook::Expired),
            "secret-remove" => Self::Secret(SecretHook::Remove),
            _ => return None,
        })
    }

    fn prefixed_hook(name: &str, ctx: &Context) -> Option<Self> {
        // First the prefix Juju named in the context: it resolves names that split two ways.
        if let Some(endpoint) = &ctx.relation_name
            && let Some(kind) = match_kind(name, endpoint, "-relation-", &RELATION_KINDS)
        {
            return Some(Self::relation(endpoint, kind));
        }
        if let Some(storage) = &ctx.storage_name
            && let Some(kind) = match_kind(name, storage, "-storage-", &STORAGE_KINDS)
        {
            return Some(Self::storage(storage, kind));
        }
        if let Some(container) = &ctx.workload_name
            && let Some(kind) = match_kind(name, container, "-pebble-", &WORKLOAD_KINDS)
        {
            return Some(Self::workload(container, kind));
        }
        // Then the known suffixes alone (a context without those variables, e.g. in tests).
        if let Some((endpoint, kind)) = split_kind(name, "-relation-", &RELATION_KINDS) {
            return Some(Self::relation(endpoint, kind));
        }
        if let Some((storage, kind)) = split_kind(name, "-storage-", &STORAGE_KINDS) {
            return Some(Self::storage(storage, kind));
        }
        if let Some((container, kind)) = split_kind(name, "-pebble-", &WORKLOAD_KINDS) {
            return Some(Self::workload(container, kind));
        }
        None
    }

    fn relation(endpoint: &str, kind: RelationHook) -> Self {
        Self::Relation {
            endpoint: endpoint.to_owned(),
            kind,
        }
    }

    fn storage(name: &str, kind: StorageHook) -> Self {
        Self::Storage {
            name: name.to_owned(),
            kind,
        }
    }

    fn workload(container: &str, kind: WorkloadHook) -> Self {
        Self::Workload {
            container: container.to_owned(),
            kind,
        }
    }

    /// True for `stop` and `remove`: the unit is going away, so charms tear down instead of
    /// reconciling.
    pub fn is_teardown(&self) -> bool {
        matches!(self, Self::Stop | Self::Remove)
    }

    /// In `<endpoint>-relation-broken`: the id of the relation going away (`context`'s
    /// `JUJU_RELATION_ID`). Juju still lists that relation during the hook, and refuses
    /// writes to it, so a charm reads the endpoint without it.
    pub fn broken_relation_id(&self, endpoint: &str, context: &Context) -> Option<u64> {
        match self {
            Self::Relation {
                endpoint: e,
                kind: RelationHook::Broken,
            } if e == endpoint => context.relation_id,
            _ => None,
        }
    }
}

/// `name == <prefix><infix><kind>` for one of `kinds`.
fn match_kind<K: Copy>(name: &str, prefix: &str, infix: &str, kinds: &[(&str, K)]) -> Option<K> {
    let rest = name.strip_prefix(prefix)?.strip_prefix(infix)?;
    kinds.iter().find(|(s, _)| *s == rest).map(|(_, k)| *k)
}

/// `name == <prefix><infix><kind>` for one of `kinds`, with a non-empty prefix.
fn split_kind<'a, K: Copy>(
    name: &'a str,
    infix: &str,
    kinds: &[(&str, K)],
) -> Option<(&'a str, K)> {
    kinds.iter().find_map(|(suffix, kind)| {
        let prefix = name.strip_suffix(suffix)?.strip_suffix(infix)?;
        (!prefix.is_empty()).then_some((prefix, *kind))
    })
}
