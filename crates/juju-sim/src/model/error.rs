//! Errors of model operations ([`ModelError`]), and the conversions the model's steps use to
//! wrap the errors of the cluster, Kubernetes, charm, runner and state-directory layers.

use std::path::Path;

use crate::charm::CharmError;
use crate::k8s::KubeError;
use crate::runner::RunError;

/// Errors of model operations.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Starting or reaching the test cluster failed.
    #[error("test cluster: {0}")]
    Cluster(#[source] Box<kube_testbed::Error>),
    /// A Kubernetes step failed.
    #[error("kubernetes")]
    Kube(#[source] Box<KubeError>),
    /// Locating the charm failed.
    #[error("locating the charm")]
    Charm(#[source] Box<CharmError>),
    /// Running a hook failed (not the hook's own failure).
    #[error("running a hook")]
    Run(#[source] RunError),
    /// Reading or writing the state directory failed.
    #[error("state directory {path}")]
    StateIo {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not valid.
    #[error("decoding state {path}")]
    StateDecode {
        /// The file.
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// Starting a runtime, Pebble or a workload endpoint failed.
    #[error("starting {what}")]
    Start {
        /// What.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Making, changing or removing a pod's network failed.
    #[error("pod network")]
    PodNetwork(#[source] Box<crate::pod_network::PodNetworkError>),
    /// The kubelet's own step (not a container) failed.
    #[error("kubelet")]
    Kubelet(#[source] Box<crate::kubelet::KubeletError>),
    /// The operator asked for something Juju would refuse.
    #[error("{0}")]
    Invalid(String),
    /// Juju refuses the refresh (its text).
    #[error(transparent)]
    RefreshRefused(#[from] super::refresh::RefreshRefused),
    /// The pods of an application kept restarting.
    #[error(
        "restart loop: application {app} restarted its pods {restarts} times in one operation \
         (its pod template changes after every restart); last hooks: {last_hooks:?}"
    )]
    RestartLoop {
        /// The application.
        app: String,
        /// Restarts seen.
        restarts: u32,
        /// The last hook records (unit, hook, code).
        last_hooks: Vec<String>,
    },
    /// Hooks kept firing.
    #[error("model did not settle after {0} hooks")]
    NotSettled(u32),
}

impl From<crate::pod_network::PodNetworkError> for ModelError {
    fn from(e: crate::pod_network::PodNetworkError) -> Self {
        Self::PodNetwork(Box::new(e))
    }
}

impl From<crate::kubelet::KubeletError> for ModelError {
    fn from(e: crate::kubelet::KubeletError) -> Self {
        Self::Kubelet(Box::new(e))
    }
}

pub(super) type Result<T> = std::result::Result<T, ModelError>;

pub(super) fn kube_err(e: KubeError) -> ModelError {
    ModelError::Kube(Box::new(e))
}

pub(super) fn cluster_err(e: kube_testbed::Error) -> ModelError {
    ModelError::Cluster(Box::new(e))
}

pub(super) fn charm_err(e: CharmError) -> ModelError {
    ModelError::Charm(Box::new(e))
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::StateIo {
        path: path.display().to_string(),
        source,
    }
}
