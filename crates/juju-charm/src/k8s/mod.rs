//! Kubernetes access: the charm's few reads and writes, with retries inside a per-hook budget.
//!
//! A [`Kube`] client is bound to the hook's namespace, field manager and time budget. Its
//! requests go through a handle per kind: [`Kube::api`] for a kind of k8s-openapi in the
//! hook's namespace ([`Api::in_namespace`], [`Api::cluster_scoped`] for others),
//! [`Kube::dynamic`] for a custom resource given as an `ApiResource`, [`Api::view`] to decode
//! an object as a smaller type with only the fields the charm reads (docs/adr/0026):
//!
//! ```no_run
//! # use juju_charm::k8s::{Kube, KubeError, Reads};
//! # use k8s_openapi::api::apps::v1::StatefulSet;
//! # use k8s_openapi::api::core::v1::{ConfigMap, Service};
//! # use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
//! # use serde_json::{Value, json};
//! # async fn hook(kube: &Kube, desired: &ConfigMap) -> Result<(), KubeError> {
//! // The reads a hook plans with, from the watch cache (docs/adr/0027).
//! let cached = kube.with_reads(Reads::Cached);
//! let dns = cached.api::<Service>().in_namespace("kube-system").get("kube-dns").await?;
//! let cilium = cached
//!     .api::<CustomResourceDefinition>()
//!     .cluster_scoped()
//!     .exists("ciliumnetworkpolicies.cilium.io")
//!     .await?;
//! // Juju's StatefulSet as its JSON, patched when the plan finds something missing.
//! let statefulsets = kube.api::<StatefulSet>().view::<Value>();
//! statefulsets
//!     .patch("app", |live| {
//!         let version = live["metadata"]["resourceVersion"].as_str()?;
//!         (live["metadata"]["annotations"]["ours"] != "1").then(|| {
//!             json!({"metadata": {"resourceVersion": version, "annotations": {"ours": "1"}}})
//!         })
//!     })
//!     .await?;
//! // An owned object, applied when the live one does not hold it.
//! kube.api::<ConfigMap>()
//!     .apply_if_changed(desired, |live, desired| live.data == desired.data)
//!     .await?;
//! # let _ = (dns, cilium);
//! # Ok(())
//! # }
//! ```
//!
//! The write mechanism is fixed by ADR 0008:
//! - the StatefulSet (owned by Juju): GET → the caller's plan decides from the live object
//!   whether anything is missing → if so a strategic-merge patch carrying
//!   `metadata.resourceVersion` ([`Api::patch`]); a 409 re-reads and re-plans;
//! - wholly-owned objects (ConfigMap, NetworkPolicy, CiliumNetworkPolicy): GET → the caller's
//!   "holds" check → if not, server-side apply of the full object with our field manager and
//!   `force=true` ([`Api::apply_if_changed`]).
//!
//! Nothing is written when the live object already holds what the charm wants.
//!
//! A write decides on the latest state: the GET before it is a quorum read from etcd. The
//! reads a hook plans with may instead come from the API server's watch cache
//! ([`Reads::Cached`], docs/adr/0027): a plan made on a cache that trails by milliseconds at
//! worst asks for a write the fresh GET then finds unnecessary, or misses a change made in
//! those milliseconds, which the next hook sees, as it would a change made just after a read.
//!
//! Every request has its own timeout and all of them share the hook's time budget. 429 (with
//! `Retry-After`, capped), 5xx, timeouts and connection errors are retried with exponential
//! backoff; 403 becomes [`KubeError::Forbidden`] (deploy with `--trust`); 404 is `None` on
//! reads, `false` on [`Api::exists`] and [`Api::delete`], [`KubeError::NotFound`] elsewhere; other 4xx are
//! [`Failure::Rejected`] with the server's message. Requests are built with
//! `kube::core::Request` and sent with hyper over rustls, so that status codes and headers
//! (`Retry-After`) are ours to interpret and no retry of a library can outlive the budget.
//! No answer is read past [`MAX_ANSWER_BYTES`] ([`Failure::TooLarge`], not retried).
//! kube's own client is not linked (docs/adr/0024).
//!
//! The parts, each using only those listed before it: `error` (what a failure reports),
//! `decode` (one JSON deserializer for everything), `retry` (bounds, budget and the retry
//! loop), `transport` (configuration, connection, the client), `api` (the handles and their
//! requests), `namespace` (a namespace's labels, over `api`).

mod api;
mod decode;
mod error;
mod namespace;
mod retry;
mod transport;

pub use api::{Api, Outcome};
pub use decode::{from_json_value, parse_manifest};
pub use error::{Failure, KubeError, waiting_for_statefulset};
pub use retry::RetryPolicy;
pub use transport::{Kube, MAX_ANSWER_BYTES, Reads};
