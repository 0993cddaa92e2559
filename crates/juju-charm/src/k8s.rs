//! Kubernetes access: the charm's few reads and writes, with retries inside a per-hook budget.
//!
//! The write mechanism is fixed by ADR 0008:
//! - the StatefulSet (owned by Juju): GET → the caller's plan decides from the live object
//!   whether anything is missing → if so a strategic-merge patch carrying
//!   `metadata.resourceVersion` ([`Kube::patch_with`]); a 409 re-reads and re-plans;
//! - wholly-owned objects (ConfigMap, NetworkPolicy, CiliumNetworkPolicy): GET → the caller's
//!   "holds" check → if not, server-side apply of the full object with our field manager and
//!   `force=true` ([`Kube::apply_if_changed`], [`Kube::apply_dynamic_if_changed`]).
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
//! reads and [`KubeError::NotFound`] elsewhere; other 4xx are [`Failure::Rejected`] with the
//! server's message. Requests are built with `kube::core::Request` and sent with hyper over
//! rustls, so that status codes and headers (`Retry-After`) are ours to interpret and no
//! retry of a library can outlive the budget. kube's own client is not linked (docs/adr/0024).

use std::fmt::Debug;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::http;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use kube::Config;
use kube::core::params::{DeleteParams, GetParams, Patch, PatchParams};
use kube::core::{ApiResource, DynamicObject, Request, Resource, Status};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;

use crate::log::error_chain;

/// Timeouts and retry bounds. The hook's total budget is given to [`Kube::connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deadline of one HTTP request (connect, send, full answer).
    pub request_timeout: Duration,
    /// First backoff after a transient failure; doubles on each further one.
    pub first_backoff: Duration,
    /// Upper bound of one backoff.
    pub max_backoff: Duration,
    /// Upper bound on a server's `Retry-After`.
    pub max_retry_after: Duration,
    /// Attempts per request before giving up on transient failures.
    pub max_attempts: u32,
    /// Re-reads after 409 Conflict (someone else wrote in between) before giving up.
    pub max_conflicts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
            max_attempts: 6,
            max_conflicts: 5,
        }
    }
}

/// Why a request did not succeed (the source of a step's error).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The server refused the request for good (422 Invalid, 400, ...): not retried.
    #[error("HTTP {code} {reason}: {message}")]
    Rejected {
        /// HTTP status.
        code: u16,
        /// Kubernetes reason (`Invalid`, `BadRequest`, ...).
        reason: String,
        /// The server's message.
        message: String,
    },
    /// Someone else kept changing the object between our read and our write.
    #[error("the object kept changing under us ({attempts} conflicts); Juju will retry the hook")]
    Conflict {
        /// How many writes were refused as stale.
        attempts: u32,
    },
    /// Transient failures (429, 5xx, timeouts, connection errors) lasted past the retry bounds.
    #[error(
        "gave up after {attempts} attempts in {elapsed:?} (last: {last}); Juju will retry the hook"
    )]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        last: String,
    },
    /// The hook's time budget was already used up before this request.
    #[error("the hook's Kubernetes time budget is used up; Juju will retry the hook")]
    BudgetExhausted,
    /// The answer was not the JSON we expected.
    #[error("cannot decode the server's answer")]
    Decode(#[source] serde_json::Error),
    /// Our request could not be built or encoded.
    #[error("cannot build the request: {0}")]
    Build(String),
}

/// Errors of [`Kube`]. The step variants name what we were doing; [`Failure`] says why it
/// failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No in-cluster configuration (`KUBERNETES_SERVICE_HOST`/`PORT` and the pod's
    /// service-account token, CA and namespace), which Juju always gives a charm.
    #[error("cannot configure the Kubernetes client")]
    Configure(#[source] kube::config::InClusterError),
    /// The configuration asks for something a charm is never given: credentials other than a
    /// bearer token (or token file), or skipping TLS verification (see [`Kube::from_config`]).
    #[error("unsupported Kubernetes credentials: {0}")]
    Credentials(String),
    /// The configuration's CA could not be used.
    #[error("cannot set up TLS to the Kubernetes API")]
    Tls(#[source] rustls::Error),
    /// The configuration's token file could not be read.
    #[error("cannot read the Kubernetes token file {path}")]
    TokenFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The charm lacks a permission: it was deployed without `--trust`.
    #[error(
        "missing Kubernetes permission: cannot {verb} {resource} ({name}); \
         this charm requires --trust: deploy with `juju deploy ... --trust` \
         or run `juju trust {application} --scope=cluster`"
    )]
    Forbidden {
        /// Verb refused (`get`, `patch`, `create`, ...).
        verb: String,
        /// Resource refused, with its API group when not core (`statefulsets.apps`).
        resource: String,
        /// Object name.
        name: String,
        /// The application to trust, from the service account in the server's message
        /// (`<application>` when the message does not name one).
        application: String,
        /// The server's message.
        message: String,
    },
    /// The object does not exist.
    #[error("{resource} {name:?} not found ({step})")]
    NotFound {
        /// What we were doing.
        step: &'static str,
        /// Resource plural.
        resource: String,
        /// Object name.
        name: String,
    },
    /// Reading an object failed.
    #[error("cannot read {resource} {name:?}")]
    GetObject {
        /// Resource plural.
        resource: String,
        /// Object name.
        name: String,
        /// Why.
        #[source]
        source: Failure,
    },
    /// The strategic-merge patch of an object (our StatefulSet) failed.
    #[error("cannot patch {resource} {name:?}")]
    PatchObject {
        /// Resource plural.
        resource: String,
        /// Object name.
        name: String,
        /// Why.
        #[source]
        source: Failure,
    },
    /// The server-side apply of an owned object failed.
    #[error("cannot apply {resource} {name:?}")]
    ApplyObject {
        /// Resource plural.
        resource: String,
        /// Object name.
        name: String,
        /// Why.
        #[source]
        source: Failure,
    },
    /// Deleting an object failed.
    #[error("cannot delete {resource} {name:?}")]
    DeleteObject {
        /// Resource plural.
        resource: String,
        /// Object name.
        name: String,
        /// Why.
        #[source]
        source: Failure,
    },
}

impl KubeError {
    /// True for [`KubeError::Forbidden`] (the charm should go Blocked, not fail the hook).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Forbidden { .. })
    }

    /// True for [`KubeError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// For [`KubeError::Forbidden`], a short Blocked status message naming the missing
    /// permission (docs/interface.md §6: `... requires --trust`); `None` for every other error.
    pub fn blocked_message(&self) -> Option<String> {
        match self {
            Self::Forbidden {
                verb,
                resource,
                application,
                ..
            } => Some(format!(
                "cannot {verb} {resource}: requires --trust (juju trust {application} --scope=cluster)"
            )),
            _ => None,
        }
    }

    /// The status a refused request calls for, the one mapping every charm uses: a 403 is
    /// Blocked naming the permission ([`Self::blocked_message`]); a 404 of a write to our own
    /// StatefulSet (`statefulset`: its name, when the request was about it) is Waiting for it
    /// ([`waiting_for_statefulset`]). `None` for every other error: the hook fails and Juju
    /// retries it.
    pub fn refusal_status(&self, statefulset: Option<&str>) -> Option<crate::Status> {
        if let Some(message) = self.blocked_message() {
            return Some(crate::Status::blocked(message));
        }
        match statefulset {
            Some(name) if self.is_not_found() => Some(waiting_for_statefulset(name)),
            _ => None,
        }
    }
}

/// Waiting while the application's StatefulSet (Juju's, named after the application) is
/// absent: Juju creates it, and the next hook finds it.
pub fn waiting_for_statefulset(name: &str) -> crate::Status {
    crate::Status::waiting(format!("Waiting for StatefulSet {name}"))
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<K> {
    /// The live object already held what we want: nothing was sent.
    Unchanged(K),
    /// We wrote; this is the object the server returned.
    Written(K),
}

impl<K> Outcome<K> {
    /// Whether a write was sent.
    pub fn written(&self) -> bool {
        matches!(self, Self::Written(_))
    }

    /// The live object after the call.
    pub fn into_inner(self) -> K {
        match self {
            Self::Unchanged(k) | Self::Written(k) => k,
        }
    }
}

/// The step being executed, for errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Get,
    Patch,
    Apply,
    Delete,
}

impl Step {
    fn verb(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Patch | Self::Apply => "patch",
            Self::Delete => "delete",
        }
    }

    fn error(self, resource: &str, name: &str, source: Failure) -> KubeError {
        let (resource, name) = (resource.to_owned(), name.to_owned());
        match self {
            Self::Get => KubeError::GetObject {
                resource,
                name,
                source,
            },
            Self::Patch => KubeError::PatchObject {
                resource,
                name,
                source,
            },
            Self::Apply => KubeError::ApplyObject {
                resource,
                name,
                source,
            },
            Self::Delete => KubeError::DeleteObject {
                resource,
                name,
                source,
            },
        }
    }
}

/// Where an object lives: its collection URL and names for errors.
struct Target<'a> {
    url_path: String,
    resource: String,
    name: &'a str,
}

/// Why one attempt failed.
enum AttemptError {
    /// Retry after (at least) this long.
    Transient {
        wait: Option<Duration>,
        what: String,
    },
    /// The write was stale (409, or 422 about resourceVersion): re-read and re-plan.
    Stale(String),
    /// Final.
    Final(KubeError),
}

/// Where the GETs of [`Kube::get`] and its siblings are served from. The GETs that decide a
/// write ([`Kube::patch_with`], [`Kube::apply_if_changed`]) always read [`Reads::Latest`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reads {
    /// From etcd (no `resourceVersion`): the latest state.
    #[default]
    Latest,
    /// From the API server's watch cache (`resourceVersion=0`): as of the cache's last
    /// update from etcd, usually milliseconds behind; about half the API server's work and
    /// none of etcd's. For the reads a hook plans with.
    Cached,
}

impl Reads {
    fn params(self) -> GetParams {
        match self {
            Self::Latest => GetParams::default(),
            Self::Cached => GetParams::any(),
        }
    }
}

/// hyper's pooled client over rustls, sending whole bodies.
type Http = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A Kubernetes client bound to the charm's namespace, field manager and hook budget.
#[derive(Clone)]
pub struct Kube {
    http: Http,
    /// The API server's URL (`https://host:port`, possibly with a path prefix).
    base: http::Uri,
    /// `Bearer <token>`, marked sensitive (never logged or printed).
    authorization: Option<http::HeaderValue>,
    namespace: String,
    field_manager: String,
    policy: RetryPolicy,
    deadline: Instant,
    reads: Reads,
}

impl Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("base", &self.base)
            .field("namespace", &self.namespace)
            .field("field_manager", &self.field_manager)
            .field("policy", &self.policy)
            .field("reads", &self.reads)
            .finish_non_exhaustive()
    }
}

impl Kube {
    /// Connects with the pod's in-cluster configuration, what Juju gives a charm (and the
    /// simulator too): `KUBERNETES_SERVICE_HOST`/`PORT` and the service account's token, CA
    /// and namespace. A kubeconfig is not read: its parser would be a tenth of the charm
    /// binary, never used under Juju (docs/adr/0023). `budget` is the total time all requests
    /// of this hook may take, retries included.
    pub fn connect(
        namespace: &str,
        field_manager: &str,
        budget: Duration,
    ) -> Result<Self, KubeError> {
        Self::connect_with(namespace, field_manager, budget, RetryPolicy::default())
    }

    /// [`Kube::connect`] with explicit retry bounds.
    pub fn connect_with(
        namespace: &str,
        field_manager: &str,
        budget: Duration,
        policy: RetryPolicy,
    ) -> Result<Self, KubeError> {
        let deadline = Instant::now() + budget;
        let config = Config::incluster().map_err(KubeError::Configure)?;
        let mut kube = Self::from_config(&config, namespace, field_manager, budget, policy)?;
        kube.deadline = deadline;
        Ok(kube)
    }

    /// Builds the client from an explicit configuration (e.g. a kubeconfig file read by a
    /// test).
    ///
    /// The client is hyper over rustls trusting exactly the configuration's CA, with the
    /// bearer token on every request: Juju gives a charm a CA and a service-account token
    /// and nothing else. kube's own client (general authentication: exec plugins, OIDC, auth
    /// providers; trust-store fallback; tracing, retry and timeout layers) is not linked
    /// (docs/adr/0023, 0024): [`Kube::execute`] retries within the hook's budget and every
    /// request has its own timeout.
    pub fn from_config(
        config: &Config,
        namespace: &str,
        field_manager: &str,
        budget: Duration,
        policy: RetryPolicy,
    ) -> Result<Self, KubeError> {
        let authorization = bearer_token(&config.auth_info)?
            .map(|token| {
                let mut value =
                    http::HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                        .map_err(|_| {
                            KubeError::Credentials("a token that is not a header value".into())
                        })?;
                value.set_sensitive(true);
                Ok::<_, KubeError>(value)
            })
            .transpose()?;
        Ok(Self {
            http: https_client(config)?,
            base: config.cluster_url.clone(),
            authorization,
            namespace: namespace.to_owned(),
            field_manager: field_manager.to_owned(),
            policy,
            deadline: Instant::now() + budget,
            reads: Reads::Latest,
        })
    }

    /// This client (same connection pool and budget) with its reads served as `reads` says.
    #[must_use]
    pub fn with_reads(&self, reads: Reads) -> Self {
        Self {
            reads,
            ..self.clone()
        }
    }

    /// The namespace (the Juju model).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The field manager our writes use.
    pub fn field_manager(&self) -> &str {
        &self.field_manager
    }

    /// Time left in the hook's budget.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn target<'a, K: Resource>(
        dt: &K::DynamicType,
        namespace: Option<&str>,
        name: &'a str,
    ) -> Target<'a> {
        let group = K::group(dt);
        let plural = K::plural(dt);
        Target {
            url_path: K::url_path(dt, namespace),
            resource: if group.is_empty() {
                plural.into_owned()
            } else {
                format!("{plural}.{group}")
            },
            name,
        }
    }

    /// Reads `name` in our namespace; `None` when absent.
    pub async fn get<K>(&self, name: &str) -> Result<Option<K>, KubeError>
    where
        K: Resource + DeserializeOwned,
        K::DynamicType: Default,
    {
        self.get_in_as::<K, K>(Some(&self.namespace), name).await
    }

    /// Reads `name` of kind `K`, decoded as `T`, a projection of `K` with only the fields
    /// the caller needs (fields `T` lacks are skipped unread). Each kind decoded in full
    /// compiles its whole type tree into the binary; a projection onto types already decoded
    /// elsewhere (e.g. a Pod as a `PodTemplateSpec`) compiles nothing new.
    pub async fn get_as<K, T>(&self, name: &str) -> Result<Option<T>, KubeError>
    where
        K: Resource,
        K::DynamicType: Default,
        T: DeserializeOwned,
    {
        self.get_in_as::<K, T>(Some(&self.namespace), name).await
    }

    /// Reads `name` in `namespace` (`None` for cluster-scoped kinds); `None` when absent.
    pub async fn get_in<K>(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<K>, KubeError>
    where
        K: Resource + DeserializeOwned,
        K::DynamicType: Default,
    {
        self.get_in_as::<K, K>(namespace, name).await
    }

    /// [`Kube::get_as`] in `namespace` (`None` for cluster-scoped kinds).
    pub async fn get_in_as<K, T>(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<T>, KubeError>
    where
        K: Resource,
        K::DynamicType: Default,
        T: DeserializeOwned,
    {
        let dt = K::DynamicType::default();
        self.get_at::<T>(&Self::target::<K>(&dt, namespace, name), self.reads)
            .await
    }

    /// Reads a dynamic object (e.g. a CiliumNetworkPolicy) in our namespace.
    pub async fn get_dynamic(
        &self,
        resource: &ApiResource,
        name: &str,
    ) -> Result<Option<DynamicObject>, KubeError> {
        self.get_at::<DynamicObject>(
            &Self::target::<DynamicObject>(resource, Some(&self.namespace), name),
            self.reads,
        )
        .await
    }

    /// Whether the CustomResourceDefinition `name` (e.g. `ciliumnetworkpolicies.cilium.io`)
    /// is installed.
    pub async fn crd_exists(&self, name: &str) -> Result<bool, KubeError> {
        let target = Target {
            url_path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".to_owned(),
            resource: "customresourcedefinitions.apiextensions.k8s.io".to_owned(),
            name,
        };
        // Only its existence matters: ask for the metadata alone (Cilium's definitions are
        // hundreds of KiB of schema the server would encode and we would parse every hook).
        let request =
            Request::new(&target.url_path).get_metadata(target.name, &self.reads.params());
        Ok(self.read::<IgnoredAny>(&target, request).await?.is_some())
    }

    async fn get_at<K: DeserializeOwned>(
        &self,
        target: &Target<'_>,
        reads: Reads,
    ) -> Result<Option<K>, KubeError> {
        let request = Request::new(&target.url_path).get(target.name, &reads.params());
        self.read(target, request).await
    }

    /// Sends the GET `request` for `target`: its answer decoded, `None` on 404.
    async fn read<K: DeserializeOwned>(
        &self,
        target: &Target<'_>,
        request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<Option<K>, KubeError> {
        match self.execute(Step::Get, target, request).await {
            Ok(body) => decode(&body)
                .map(Some)
                .map_err(|e| Step::Get.error(&target.resource, target.name, e)),
            Err(AttemptError::Final(KubeError::NotFound { .. })) => Ok(None),
            Err(e) => Err(Self::finalize(Step::Get, target, e)),
        }
    }

    /// The StatefulSet write: GET `name`, let `plan` compute a strategic-merge patch from the
    /// live object (`None` = it already holds everything: no write), send it with our field
    /// manager. The patch should carry the live `metadata.resourceVersion` as a precondition;
    /// on 409 Conflict the object is re-read and re-planned, at most
    /// [`RetryPolicy::max_conflicts`] times.
    pub async fn patch_with<K, F>(&self, name: &str, plan: F) -> Result<Outcome<K>, KubeError>
    where
        K: Resource + DeserializeOwned + Clone,
        K::DynamicType: Default,
        F: FnMut(&K) -> Option<Value>,
    {
        self.patch_as::<K, K, F>(name, plan).await
    }

    /// [`Self::patch_with`] on kind `K`, the live object decoded as `T` (e.g. its JSON as a
    /// `serde_json::Value`, which compiles no type tree of `K`'s into the binary).
    pub async fn patch_as<K, T, F>(&self, name: &str, plan: F) -> Result<Outcome<T>, KubeError>
    where
        K: Resource,
        K::DynamicType: Default,
        T: DeserializeOwned + Clone,
        F: FnMut(&T) -> Option<Value>,
    {
        let dt = K::DynamicType::default();
        self.patch_at(&Self::target::<K>(&dt, Some(&self.namespace), name), plan)
            .await
    }

    async fn patch_at<K, F>(
        &self,
        target: &Target<'_>,
        mut plan: F,
    ) -> Result<Outcome<K>, KubeError>
    where
        K: DeserializeOwned + Clone,
        F: FnMut(&K) -> Option<Value>,
    {
        let mut conflicts = 0;
        loop {
            let Some(live) = self.get_at::<K>(target, Reads::Latest).await? else {
                return Err(not_found("patch", target));
            };
            let Some(patch) = plan(&live) else {
                tracing::debug!(resource = %target.resource, name = target.name,
                    "live object already holds our additions; no patch");
                return Ok(Outcome::Unchanged(live));
            };
            let params = PatchParams {
                field_manager: Some(self.field_manager.clone()),
                ..PatchParams::default()
            };
            let request = Request::new(&target.url_path).patch(
                target.name,
                &params,
                &Patch::Strategic(&patch),
            );
            match self.execute(Step::Patch, target, request).await {
                Ok(body) => {
                    tracing::debug!(resource = %target.resource, name = target.name,
                        manager = %self.field_manager, "strategic-merge patch written");
                    return decode(&body)
                        .map(Outcome::Written)
                        .map_err(|e| Step::Patch.error(&target.resource, target.name, e));
                }
                Err(AttemptError::Stale(what)) => {
                    conflicts += 1;
                    tracing::debug!(resource = %target.resource, name = target.name, %what,
                        conflicts, "stale write; re-reading");
                    if conflicts > self.policy.max_conflicts {
                        return Err(Step::Patch.error(
                            &target.resource,
                            target.name,
                            Failure::Conflict {
                                attempts: conflicts,
                            },
                        ));
                    }
                }
                Err(e) => return Err(Self::finalize(Step::Patch, target, e)),
            }
        }
    }

    /// The owned-object write: GET the object named in `desired`; when absent, or when
    /// `holds(live, desired)` is false, server-side apply `desired` in full with our field
    /// manager and `force=true` (creates, updates, and takes over objects someone else made).
    pub async fn apply_if_changed<K>(
        &self,
        desired: &K,
        holds: impl Fn(&K, &K) -> bool,
    ) -> Result<Outcome<K>, KubeError>
    where
        K: Resource + Serialize + DeserializeOwned + Clone,
        K::DynamicType: Default,
    {
        let dt = K::DynamicType::default();
        let name = desired.meta().name.clone().unwrap_or_default();
        self.apply_at(
            &Self::target::<K>(&dt, Some(&self.namespace), &name),
            desired,
            holds,
        )
        .await
    }

    /// [`Kube::apply_if_changed`] for a custom resource (`desired.types` must be set).
    pub async fn apply_dynamic_if_changed(
        &self,
        resource: &ApiResource,
        desired: &DynamicObject,
        holds: impl Fn(&DynamicObject, &DynamicObject) -> bool,
    ) -> Result<Outcome<DynamicObject>, KubeError> {
        let name = desired.metadata.name.clone().unwrap_or_default();
        self.apply_at(
            &Self::target::<DynamicObject>(resource, Some(&self.namespace), &name),
            desired,
            holds,
        )
        .await
    }

    async fn apply_at<K>(
        &self,
        target: &Target<'_>,
        desired: &K,
        holds: impl Fn(&K, &K) -> bool,
    ) -> Result<Outcome<K>, KubeError>
    where
        K: Serialize + DeserializeOwned + Clone,
    {
        if target.name.is_empty() {
            return Err(Step::Apply.error(
                &target.resource,
                "",
                Failure::Build("the desired object has no metadata.name".into()),
            ));
        }
        if let Some(live) = self.get_at::<K>(target, Reads::Latest).await?
            && holds(&live, desired)
        {
            tracing::debug!(resource = %target.resource, name = target.name,
                "live object already holds the desired state; no apply");
            return Ok(Outcome::Unchanged(live));
        }
        let mut body = serde_json::to_value(desired)
            .map_err(|e| Step::Apply.error(&target.resource, target.name, Failure::Decode(e)))?;
        if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
            // Server-side apply refuses managedFields; a resourceVersion would be a
            // precondition we do not want for a forced apply of our own object.
            for key in [
                "managedFields",
                "resourceVersion",
                "uid",
                "creationTimestamp",
            ] {
                meta.remove(key);
            }
            meta.insert("namespace".into(), Value::String(self.namespace.clone()));
        }
        let params = PatchParams::apply(&self.field_manager).force();
        let request =
            Request::new(&target.url_path).patch(target.name, &params, &Patch::Apply(&body));
        match self.execute(Step::Apply, target, request).await {
            Ok(body) => {
                tracing::debug!(resource = %target.resource, name = target.name,
                    manager = %self.field_manager, "server-side apply written");
                decode(&body)
                    .map(Outcome::Written)
                    .map_err(|e| Step::Apply.error(&target.resource, target.name, e))
            }
            Err(e) => Err(Self::finalize(Step::Apply, target, e)),
        }
    }

    /// Deletes `name` in our namespace; `false` when it was already absent.
    pub async fn delete<K>(&self, name: &str) -> Result<bool, KubeError>
    where
        K: Resource,
        K::DynamicType: Default,
    {
        let dt = K::DynamicType::default();
        self.delete_at(&Self::target::<K>(&dt, Some(&self.namespace), name))
            .await
    }

    /// Deletes a dynamic object (e.g. a CiliumNetworkPolicy); `false` when already absent.
    pub async fn delete_dynamic(
        &self,
        resource: &ApiResource,
        name: &str,
    ) -> Result<bool, KubeError> {
        self.delete_at(&Self::target::<DynamicObject>(
            resource,
            Some(&self.namespace),
            name,
        ))
        .await
    }

    async fn delete_at(&self, target: &Target<'_>) -> Result<bool, KubeError> {
        let request = Request::new(&target.url_path).delete(target.name, &DeleteParams::default());
        match self.execute(Step::Delete, target, request).await {
            Ok(_) => {
                tracing::debug!(resource = %target.resource, name = target.name, "deleted");
                Ok(true)
            }
            Err(AttemptError::Final(KubeError::NotFound { .. })) => Ok(false),
            Err(e) => Err(Self::finalize(Step::Delete, target, e)),
        }
    }

    fn finalize(step: Step, target: &Target<'_>, error: AttemptError) -> KubeError {
        match error {
            AttemptError::Final(e) => e,
            // Only patch_with re-plans on a stale write; elsewhere it is a plain conflict.
            AttemptError::Stale(what) => step.error(
                &target.resource,
                target.name,
                Failure::Rejected {
                    code: 409,
                    reason: "Conflict".into(),
                    message: what,
                },
            ),
            AttemptError::Transient { what, .. } => step.error(
                &target.resource,
                target.name,
                Failure::GaveUp {
                    attempts: 0,
                    elapsed: Duration::ZERO,
                    last: what,
                },
            ),
        }
    }

    /// Sends one request, retrying transient failures with backoff within the budget.
    /// Returns the body of a 2xx answer.
    async fn execute(
        &self,
        step: Step,
        target: &Target<'_>,
        request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<Vec<u8>, AttemptError> {
        let build = |detail: String| {
            AttemptError::Final(step.error(&target.resource, target.name, Failure::Build(detail)))
        };
        // Addressed to the API server and authorised once; every attempt sends a copy.
        let (mut head, body) = request.map_err(|e| build(e.to_string()))?.into_parts();
        head.uri =
            on_server(&self.base, &head.uri).map_err(|e| build(format!("request URL: {e}")))?;
        if let Some(authorization) = &self.authorization {
            head.headers
                .insert(http::header::AUTHORIZATION, authorization.clone());
        }
        let request = http::Request::from_parts(head, body);
        let started = Instant::now();
        let mut backoff = self.policy.first_backoff;
        let mut attempts = 0;
        loop {
            let remaining = self.remaining();
            if remaining.is_zero() {
                return Err(AttemptError::Final(step.error(
                    &target.resource,
                    target.name,
                    Failure::BudgetExhausted,
                )));
            }
            attempts += 1;
            tracing::debug!(method = %request.method(), uri = %request.uri(), attempt = attempts,
                "Kubernetes request");
            let failure = match self
                .attempt(step, target, clone_request(&request), remaining)
                .await
            {
                Ok(body) => return Ok(body),
                Err(AttemptError::Transient { wait, what }) => (wait, what),
                Err(other) => return Err(other),
            };
            let (server_wait, what) = failure;
            let wait = server_wait.map_or(backoff, |w| w.min(self.policy.max_retry_after));
            backoff = (backoff * 2).min(self.policy.max_backoff);
            tracing::debug!(%what, attempt = attempts, ?wait, "transient Kubernetes failure");
            let give_up = |what: String| {
                AttemptError::Final(step.error(
                    &target.resource,
                    target.name,
                    Failure::GaveUp {
                        attempts,
                        elapsed: started.elapsed(),
                        last: what,
                    },
                ))
            };
            if attempts >= self.policy.max_attempts || wait >= self.remaining() {
                return Err(give_up(what));
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        step: Step,
        target: &Target<'_>,
        request: http::Request<Vec<u8>>,
        remaining: Duration,
    ) -> Result<Vec<u8>, AttemptError> {
        let timeout = self.policy.request_timeout.min(remaining);
        let request = request.map(|body| Full::new(Bytes::from(body)));
        // Every transport failure (connection refused or dropped, TLS, a broken body) is
        // retried within the budget; the last one is named when we give up.
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| error_chain(&e))?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| error_chain(&e))?;
            Ok::<_, String>((parts, body.to_bytes().to_vec()))
        };
        let (parts, body) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(AttemptError::Transient {
                    wait: None,
                    what: format!("no answer within {timeout:?}"),
                });
            }
            Ok(Err(what)) => return Err(AttemptError::Transient { wait: None, what }),
            Ok(Ok(answer)) => answer,
        };
        let code = parts.status.as_u16();
        if parts.status.is_success() {
            return Ok(body);
        }
        let status: Option<Status> = serde_json::from_slice(&body).ok();
        let message = status.as_ref().map_or_else(
            || String::from_utf8_lossy(&body).trim().to_owned(),
            |s| s.message.clone(),
        );
        let reason = status
            .as_ref()
            .map(|s| s.reason.clone())
            .unwrap_or_default();
        tracing::debug!(code, %reason, %message, "Kubernetes error answer");
        Err(match code {
            403 => AttemptError::Final(forbidden(step, target, message)),
            404 => AttemptError::Final(not_found(step.verb(), target)),
            409 if step == Step::Patch => AttemptError::Stale(message),
            422 if step == Step::Patch && message.contains("resourceVersion") => {
                AttemptError::Stale(message)
            }
            429 => AttemptError::Transient {
                wait: retry_after(&parts.headers, status.as_ref()),
                what: format!("HTTP 429 {message}"),
            },
            500..=599 => AttemptError::Transient {
                wait: retry_after(&parts.headers, status.as_ref()),
                what: format!("HTTP {code} {message}"),
            },
            _ => AttemptError::Final(step.error(
                &target.resource,
                target.name,
                Failure::Rejected {
                    code,
                    reason,
                    message,
                },
            )),
        })
    }
}

fn clone_request(request: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// `request`'s path and query on the API server `base` (keeping a path prefix of `base`).
fn on_server(base: &http::Uri, request: &http::Uri) -> Result<http::Uri, http::Error> {
    let prefix = base.path().trim_end_matches('/');
    let path = request
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let mut parts = base.clone().into_parts();
    parts.path_and_query = Some(format!("{prefix}{path}").parse()?);
    Ok(http::Uri::from_parts(parts)?)
}

fn retry_after(headers: &http::HeaderMap, status: Option<&Status>) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(|| {
            status
                .and_then(|s| s.details.as_ref())
                .map(|d| u64::from(d.retry_after_seconds))
                .filter(|&s| s > 0)
        })
        .map(Duration::from_secs)
}

fn not_found(step: &'static str, target: &Target<'_>) -> KubeError {
    KubeError::NotFound {
        step,
        resource: target.resource.clone(),
        name: target.name.to_owned(),
    }
}

/// Builds [`KubeError::Forbidden`] from the server's message, e.g.
/// `statefulsets.apps "app" is forbidden: User "system:serviceaccount:demo:app" cannot patch
/// resource "statefulsets" in API group "apps" in the namespace "demo"`.
fn forbidden(step: Step, target: &Target<'_>, message: String) -> KubeError {
    let parsed = parse_forbidden(&message);
    let (verb, resource) = parsed.map_or_else(
        || (step.verb().to_owned(), target.resource.clone()),
        |(verb, resource, group)| {
            let resource = if group.is_empty() {
                resource
            } else {
                format!("{resource}.{group}")
            };
            (verb, resource)
        },
    );
    let application = quoted_after(&message, "User \"system:serviceaccount:")
        .and_then(|sa| sa.rsplit(':').next().map(str::to_owned))
        .unwrap_or_else(|| "<application>".to_owned());
    KubeError::Forbidden {
        verb,
        resource,
        name: target.name.to_owned(),
        application,
        message,
    }
}

/// `(verb, resource, group)` from `... cannot <verb> resource "<r>" in API group "<g>" ...`.
fn parse_forbidden(message: &str) -> Option<(String, String, String)> {
    let rest = &message[message.find(" cannot ")? + " cannot ".len()..];
    let (verb, rest) = rest.split_once(" resource \"")?;
    let (resource, rest) = rest.split_once('"')?;
    let group = quoted_after(rest, " in API group \"").unwrap_or_default();
    Some((verb.trim().to_owned(), resource.to_owned(), group))
}

/// The text between `prefix` and the next `"`.
fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)? + prefix.len();
    let rest = &text[start..];
    Some(rest[..rest.find('"')?].to_owned())
}

fn decode<K: DeserializeOwned>(body: &[u8]) -> Result<K, Failure> {
    serde_json::from_slice(body).map_err(Failure::Decode)
}

/// hyper over rustls with [`tls_config`], TCP_NODELAY on.
fn https_client(config: &Config) -> Result<Http, KubeError> {
    // TCP_NODELAY, as Go's client and server set it: a request written in pieces (headers,
    // body, TLS records) must not wait ~40 ms for the server's delayed ACK.
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(config)?)
        .https_or_http();
    let https = match &config.tls_server_name {
        Some(name) => {
            let name = rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| {
                KubeError::Credentials(format!("invalid tls-server-name {name:?}: {e}"))
            })?;
            https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => https,
    };
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(https.enable_http1().wrap_connector(tcp)))
}

/// TLS that trusts exactly the configuration's CA (in-cluster: the service account's
/// `ca.crt`, read once per hook). kube's own connector would also resolve exec-plugin client
/// certificates, which links its whole authentication module; a charm presents a token.
fn tls_config(config: &Config) -> Result<rustls::ClientConfig, KubeError> {
    let auth = &config.auth_info;
    if config.accept_invalid_certs {
        return Err(KubeError::Credentials(
            "insecure-skip-tls-verify (the API server is always verified)".to_owned(),
        ));
    }
    if auth.client_certificate.is_some() || auth.client_certificate_data.is_some() {
        return Err(KubeError::Credentials(
            "client certificate (a charm is given a service-account token)".to_owned(),
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    for der in config.root_cert.iter().flatten() {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(KubeError::Tls)?;
    }
    // TLS 1.3 only, in tests as in the charm build (where rustls is compiled without TLS 1.2;
    // Go, and so every supported Kubernetes API server, speaks 1.3).
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(KubeError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The bearer token of `auth`: inline or read once from its file (a hook is short; the
/// kubelet rotates the projected token long before it expires). No credentials at all is
/// allowed (the API server then answers 401/403); anything else is refused, named.
fn bearer_token(auth: &kube::config::AuthInfo) -> Result<Option<SecretString>, KubeError> {
    let unsupported = [
        (auth.exec.is_some(), "exec plugin"),
        (auth.auth_provider.is_some(), "auth provider"),
        (auth.password.is_some(), "username and password"),
        (auth.impersonate.is_some(), "impersonation"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(KubeError::Credentials(format!(
            "{what} (a charm is given a service-account token)"
        )));
    }
    if let Some(token) = &auth.token {
        return Ok(Some(token.clone()));
    }
    match &auth.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| KubeError::TokenFile {
                path: path.clone(),
                source,
            })?;
            Ok(Some(SecretString::from(text.trim().to_owned())))
        }
        None => Ok(None),
    }
}

/// Parses a Kubernetes object from its JSON text (`kubectl get -o json`).
///
/// Every typed decode goes through `serde_json::from_slice`, the same instantiation the API
/// responses use: each further deserializer (a `&str` reader, `serde_json::Value`, YAML)
/// would compile the whole k8s-openapi type tree once more into the charm binary (several
/// hundred KiB each for a StatefulSet). For the same reason the charm binaries read no YAML
/// at all (docs/adr/0024).
pub fn parse_manifest<K: DeserializeOwned>(text: &str) -> Result<K, serde_json::Error> {
    serde_json::from_slice(text.as_bytes())
}

/// `serde_json::from_value` through bytes, for the reason given on [`parse_manifest`].
pub fn from_json_value<K: DeserializeOwned>(value: &Value) -> Result<K, serde_json::Error> {
    serde_json::from_slice(&serde_json::to_vec(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_is_inline_or_read_once_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let inline = kube::config::AuthInfo {
            token: Some(SecretString::from("inline")),
            ..Default::default()
        };
        let token = bearer_token(&inline).unwrap().unwrap();
        assert_eq!(token.expose_secret(), "inline");
        let from_file = kube::config::AuthInfo {
            token_file: Some(file.display().to_string()),
            ..Default::default()
        };
        let token = bearer_token(&from_file).unwrap().unwrap();
        assert_eq!(token.expose_secret(), "from-file");
        assert!(
            bearer_token(&kube::config::AuthInfo::default())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn requests_go_to_the_server_under_its_path_prefix_with_their_query() {
        let on = |base: &str, request: &str| {
            on_server(&base.parse().unwrap(), &request.parse().unwrap())
                .unwrap()
                .to_string()
        };
        assert_eq!(
            on("https://10.0.0.1:443", "/api/v1/namespaces/m/pods/p?x=1"),
            "https://10.0.0.1:443/api/v1/namespaces/m/pods/p?x=1"
        );
        assert_eq!(
            on("https://proxy:8443/k8s/", "/apis/apps/v1/statefulsets"),
            "https://proxy:8443/k8s/apis/apps/v1/statefulsets"
        );
    }

    #[test]
    fn tls_is_verified_against_the_configured_ca_only() {
        let url: http::Uri = "https://127.0.0.1:6443".parse().unwrap();
        let mut insecure = Config::new(url.clone());
        insecure.accept_invalid_certs = true;
        let error = tls_config(&insecure).unwrap_err();
        assert!(
            error.to_string().contains("insecure-skip-tls-verify"),
            "{error}"
        );
        let mut cert = Config::new(url.clone());
        cert.auth_info.client_certificate_data = Some("LS0t".into());
        let error = tls_config(&cert).unwrap_err();
        assert!(error.to_string().contains("client certificate"), "{error}");
        let mut garbage_ca = Config::new(url);
        garbage_ca.root_cert = Some(vec![b"not DER".to_vec()]);
        assert!(matches!(tls_config(&garbage_ca), Err(KubeError::Tls(_))));
    }

    #[test]
    fn credentials_a_charm_is_never_given_are_refused_by_name() {
        let missing = kube::config::AuthInfo {
            token_file: Some("/nonexistent/token".into()),
            ..Default::default()
        };
        assert!(matches!(
            bearer_token(&missing),
            Err(KubeError::TokenFile { path, .. }) if path == "/nonexistent/token"
        ));
        let exec = kube::config::AuthInfo {
            token: Some(SecretString::from("t")),
            exec: Some(
                serde_json::from_value(serde_json::json!({
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": "gke-gcloud-auth-plugin"
                }))
                .unwrap(),
            ),
            ..Default::default()
        };
        let error = bearer_token(&exec).unwrap_err();
        assert!(error.to_string().contains("exec plugin"), "{error}");
        let basic = kube::config::AuthInfo {
            username: Some("admin".into()),
            password: Some(SecretString::from("pw")),
            ..Default::default()
        };
        let error = bearer_token(&basic).unwrap_err();
        assert!(
            error.to_string().contains("username and password"),
            "{error}"
        );
    }

    #[test]
    fn forbidden_message_names_the_permission_and_app() {
        let target = Target {
            url_path: String::new(),
            resource: "statefulsets.apps".into(),
            name: "app",
        };
        let message = "statefulsets.apps \"app\" is forbidden: User \"system:serviceaccount:demo:qbt\" cannot patch resource \"statefulsets\" in API group \"apps\" in the namespace \"demo\"";
        let error = forbidden(Step::Patch, &target, message.into());
        let text = error.to_string();
        assert!(text.contains("cannot patch statefulsets.apps"), "{text}");
        assert!(text.contains("--trust"), "{text}");
        assert!(text.contains("juju trust qbt --scope=cluster"), "{text}");
        assert_eq!(
            error.blocked_message().as_deref(),
            Some(
                "cannot patch statefulsets.apps: requires --trust (juju trust qbt --scope=cluster)"
            )
        );
        let core = "configmaps \"x\" is forbidden: User \"u\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"demo\"";
        assert_eq!(
            parse_forbidden(core),
            Some(("create".into(), "configmaps".into(), String::new()))
        );
    }
}
