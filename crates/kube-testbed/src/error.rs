//! The crate's error type: one variant per step that can fail, with the cause attached.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// What went wrong, named after the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kube-apiserver binary is not where it should be.
    #[error(
        "kube-apiserver not found at {path}: run `make testbed` (crates/kube-testbed/build-apiserver.sh) \
         or set KUBE_TESTBED_APISERVER"
    )]
    FindApiserver {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A required program is not on PATH.
    #[error("`{program}` not found on PATH: run `make testbed`, which installs it from Debian")]
    FindProgram {
        /// The program's name.
        program: &'static str,
    },
    /// Preparing the cluster directory (create, clean, write a file) failed.
    #[error("preparing {path}")]
    PrepareDir {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Generating the service-account signing key with openssl failed.
    #[error("generating the service-account key with openssl: {detail}")]
    GenerateKey {
        /// openssl's exit status and stderr, or the spawn error.
        detail: String,
    },
    /// No free loopback port could be reserved.
    #[error("finding a free loopback port")]
    FreePort(#[source] io::Error),
    /// A child process could not be spawned.
    #[error("spawning {program}")]
    Spawn {
        /// Which process.
        program: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A child process exited while we waited for it to become ready.
    #[error("{program} exited during start-up ({status}); last lines of {log}:\n{tail}")]
    Exited {
        /// Which process.
        program: &'static str,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// A child process did not become ready in time.
    #[error("{program} not ready after {timeout:?}; last lines of {log}:\n{tail}")]
    NotReady {
        /// Which process.
        program: &'static str,
        /// How long we waited.
        timeout: Duration,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// The internal tokio runtime could not be built.
    #[error("building a tokio runtime")]
    Runtime(#[source] io::Error),
    /// A kubeconfig could not be read or turned into a client.
    #[error("making a client from {path}")]
    Client {
        /// The kubeconfig.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An API request of a setup step failed.
    #[error("{step}")]
    Api {
        /// The step, e.g. `create namespace "a"`.
        step: String,
        /// The cause.
        #[source]
        source: Box<kube::Error>,
    },
    /// A CustomResourceDefinition did not become Established in time.
    #[error("CRD {name} not Established after {timeout:?}")]
    CrdNotEstablished {
        /// The CRD's name.
        name: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The TokenRequest answer held no token.
    #[error("TokenRequest for {namespace}/{app} returned no token")]
    NoToken {
        /// The namespace.
        namespace: String,
        /// The ServiceAccount (application) name.
        app: String,
    },
    /// A setup object written as JSON in this crate does not fit its type (a bug here).
    #[error("building a {kind} from its JSON")]
    BuildObject {
        /// The Rust type.
        kind: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Starting the fault proxy failed.
    #[error("starting the fault proxy")]
    StartProxy(#[source] io::Error),
}

impl Error {
    /// Wraps a kube error with the step it belongs to.
    pub(crate) fn api(step: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let step = step.into();
        move |source| Self::Api {
            step,
            source: Box::new(source),
        }
    }

    /// Wraps an io error with the path it concerns.
    pub(crate) fn dir(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::PrepareDir { path, source }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
