//! A real `kube-apiserver` + `etcd` for tests, the simulator and the demo.
//!
//! Charms are proven against the real API server (validation, defaulting, resourceVersion
//! conflicts, strategic-merge and server-side-apply semantics, RBAC), not a home-made fake.
//! The server is kube-apiserver v1.20.2 built once from Debian's source package by
//! `crates/kube-testbed/build-apiserver.sh` (`make testbed`) into
//! `${XDG_CACHE_HOME:-$HOME/.cache}/charmarr-rs/kube-apiserver-v1.20.2-stsvalidate/`
//! (override with `KUBE_TESTBED_APISERVER`); etcd comes from Debian, found on `PATH`.
//!
//! # Using it
//! ```no_run
//! # fn main() -> Result<(), kube_testbed::Error> {
//! let cluster = kube_testbed::Cluster::start()?; // free ports, temp dir, waits for /readyz
//! cluster.create_namespace("model-a")?;          // labelled kubernetes.io/metadata.name
//! let app = cluster.add_app("model-a", "gluetun")?; // untrusted Juju identity + kubeconfig
//! cluster.trust("model-a", "gluetun")?;          // what `juju trust --scope=cluster` grants
//! let proxy = kube_testbed::FaultProxy::start(&cluster)?; // faults between client and server
//! let via_proxy = proxy.kubeconfig_for(&app)?;          // same identity, through the proxy
//! # let _ = via_proxy; Ok(()) }
//! // Dropping `cluster` stops the API server, then etcd, and deletes the temp dir.
//! ```
//! - Setup methods ([`Cluster::start`], [`Cluster::create_namespace`], [`Cluster::add_app`],
//!   [`Cluster::trust`], …) are **sync** and run on their own thread with their own
//!   current-thread runtime: call them from plain `#[test]`s, from a CLI, or from inside
//!   `#[tokio::test(flavor = "current_thread")]` (they block that thread briefly).
//! - Clients are **async**: [`Cluster::admin_client`] and [`client_for`] must be awaited inside
//!   the runtime that will use the client (kube clients belong to the runtime that made them).
//! - Processes: started under `setpriv --pdeathsig TERM` from a thread that lives as long as
//!   the process, so etcd and the API server die with the test process even on SIGKILL;
//!   dropped clusters stop them by PID (SIGTERM, bounded wait, SIGKILL), API server first.
//!   PIDs are also written to `<dir>/apiserver.pid` and `<dir>/etcd.pid`; a start in a given
//!   directory first stops leftovers recorded there (only if `/proc/<pid>/cmdline` names it).
//! - Fault proxy: [`FaultProxy::start`], then [`ProxyControl::kubeconfig_for`] an identity and
//!   [`ProxyControl::arm`] a [`Rule`]; [`FaultProxy`] lists its
//!   HTTP control endpoint for other processes.
//!   Note that kube clients retry 429/503/504 themselves unless `Config::default_retry` is false.
//! - Shared test clusters: a `static` is never dropped, so prefer one cluster per test
//!   function, or one `#[test]` that runs sub-cases on one cluster (one namespace each).
//!
//! Facts about the 1.20 server (build, what it checks and what it does not, pitfalls):
//! `docs/testbed.md`.

mod cluster;
mod error;
mod kubeconfig;
mod process;
mod proxy;
mod rbac;

pub use cluster::{
    API_SERVER_NODE_ADDRESS, APISERVER_CACHE_KEY, APISERVER_ENV, APISERVER_VERSION, CILIUM_CRD,
    Cluster, ClusterOptions, KUBE_DNS_IP, NAMESPACE_NAME_LABEL, SERVICE_CIDR, apiserver_binary,
    pid_alive, running_in_dir, stop_dir,
};
pub use error::{Error, Result};
pub use kubeconfig::{Identity, client_for};
pub use process::Lifetime;
pub use proxy::{Action, FaultProxy, LoggedRequest, ProxyControl, Rule, RuleId, Verb};
pub use rbac::AppRbac;
