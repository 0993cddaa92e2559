//! What one hook reads, typed: the inputs [`crate::gather`] fills (or `render` builds from
//! files) and [`crate::plan`] decides from. Untrusted text becomes a type here or a problem
//! the plan turns into a status: the WireGuard key and our API key are checked as they are
//! read. A later stage's input is `None` when the plan stopped before it ([`crate::plan::needs`]).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use juju_charm::SecretString;
use juju_charm::pebble::Plan as PebblePlan;
use k8s_openapi::api::core::v1::ConfigMap;
use vpn_gateway_iface::{AppName, Namespace, StatefulSetJson};

use crate::config::{Config, ConfigError, is_wireguard_key};
use crate::constants::{KEY_ATTRIBUTE, KEY_OPTION};
use crate::workload::Health;

/// Why the WireGuard key cannot be used. Never carries the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// The secret does not exist or this application was not granted access.
    NotFound,
    /// The secret has no `private-key` attribute.
    NoPrivateKey,
    /// `private-key` is not a WireGuard key (base64 of 32 bytes).
    NotAKey,
}

impl KeyProblem {
    /// The Blocked message naming the option and what to do.
    pub fn message(self, app: &AppName) -> String {
        match self {
            Self::NotFound => format!(
                "{KEY_OPTION}: secret not found or not granted (juju grant-secret <secret> {app})"
            ),
            Self::NoPrivateKey => {
                format!("{KEY_OPTION}: the secret has no {KEY_ATTRIBUTE} attribute")
            }
            Self::NotAKey => format!(
                "{KEY_OPTION}: {KEY_ATTRIBUTE} is not a WireGuard key (44 characters of base64)"
            ),
        }
    }
}

/// Checks the content of the key secret (untrusted: anyone who can add a secret wrote it).
pub fn check_private_key(
    content: &BTreeMap<String, SecretString>,
) -> Result<SecretString, KeyProblem> {
    let key = content.get(KEY_ATTRIBUTE).ok_or(KeyProblem::NoPrivateKey)?;
    let trimmed = key.expose().trim();
    if is_wireguard_key(trimmed) {
        Ok(SecretString::new(trimmed))
    } else {
        Err(KeyProblem::NotAKey)
    }
}

/// The control server's API key: URL-safe base64 without padding of 32 random bytes.
pub fn is_api_key(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The control-server API key as `gather` found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKey {
    /// Our secret holds this valid key.
    Existing(SecretString),
    /// No secret yet: create it with this freshly generated key.
    Missing(SecretString),
    /// Our secret (id) holds something that is not a key: replace it with this one.
    Invalid {
        /// The secret's id.
        id: String,
        /// The replacement.
        fresh: SecretString,
    },
}

impl ApiKey {
    /// The key the workload must be configured with.
    pub fn value(&self) -> &SecretString {
        match self {
            Self::Existing(k) | Self::Missing(k) | Self::Invalid { fresh: k, .. } => k,
        }
    }
}

/// What the cluster holds, or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum Cluster {
    /// Everything we need was read.
    Read {
        /// Our StatefulSet (named after the application).
        statefulset: StatefulSetJson,
        /// Our gateway ConfigMap, when it exists.
        config_map: Option<Box<ConfigMap>>,
        /// ClusterIP of `kube-dns` (else `coredns`) in `kube-system`.
        dns_ip: Option<IpAddr>,
        /// The model namespace's labels (its Pod Security level).
        namespace_labels: BTreeMap<String, String>,
    },
    /// Our StatefulSet does not exist (yet).
    StatefulSetMissing,
    /// A read was refused: the Blocked message naming `--trust`.
    Forbidden(String),
}

/// A file content that may be secret: `Debug` shows only its size.
#[derive(Clone, PartialEq, Eq)]
pub struct Content(pub Vec<u8>);

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

/// What Pebble holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// Pebble did not answer.
    Unreachable,
    /// Pebble's state.
    Reachable {
        /// The combined plan.
        plan: PebblePlan,
        /// Content of each of our files (`None` = absent).
        files: BTreeMap<String, Option<Content>>,
        /// Whether the gluetun service is running.
        running: bool,
    },
}

/// One `vpn-gateway` relation: its id and our application's current `config` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationState {
    /// Relation id.
    pub id: u64,
    /// Our app databag's `config`, when set.
    pub published: Option<String>,
}

/// Everything `gather` read. Later stages are `None` when an earlier one stopped the hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// The application.
    pub app: AppName,
    /// The model (namespace).
    pub model: Namespace,
    /// `is-leader`.
    pub leader: bool,
    /// Units in goal-state that are not dying.
    pub planned_units: Option<usize>,
    /// The config, validated.
    pub config: Option<Result<Config, ConfigError>>,
    /// The WireGuard private key, checked.
    pub wireguard_key: Option<Result<SecretString, KeyProblem>>,
    /// The control server's API key.
    pub api_key: Option<ApiKey>,
    /// The cluster's objects.
    pub cluster: Option<Cluster>,
    /// Pebble.
    pub workload: Option<Workload>,
    /// The health check's verdict (not connected when it was not run).
    pub health: Health,
    /// Our `vpn-gateway` relations.
    pub relations: Vec<RelationState>,
}

impl Inputs {
    /// A hook's inputs before anything past leadership is read.
    pub fn new(app: AppName, model: Namespace, leader: bool) -> Self {
        Self {
            app,
            model,
            leader,
            planned_units: None,
            config: None,
            wireguard_key: None,
            api_key: None,
            cluster: None,
            workload: None,
            health: Health::NotConnected("not checked".into()),
            relations: Vec::new(),
        }
    }
}
