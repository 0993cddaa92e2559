//! The API: a handle per kind and namespace ([`Api`], from [`Kube::api`] or [`Kube::dynamic`])
//! with the charm's few reads and writes, and what a conditional write did ([`Outcome`]).

use std::marker::PhantomData;

use kube::core::params::{DeleteParams, Patch, PatchParams};
use kube::core::{ApiResource, DynamicObject, Request, Resource};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;

use super::decode::decode;
use super::error::{Failure, KubeError, not_found};
use super::retry::{AttemptError, Step, Target};
use super::transport::{Kube, Reads};

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

impl Kube {
    /// The objects of kind `K` in the hook's namespace
    /// ([`Api::in_namespace`], [`Api::cluster_scoped`] for others).
    pub fn api<K>(&self) -> Api<'_, K>
    where
        K: Resource,
        K::DynamicType: Default,
    {
        Api::new(self, K::DynamicType::default())
    }

    /// The objects of the custom `resource` (e.g. CiliumNetworkPolicy) in the hook's namespace,
    /// as [`DynamicObject`]s.
    pub fn dynamic(&self, resource: &ApiResource) -> Api<'_, DynamicObject> {
        Api::new(self, resource.clone())
    }
}

/// The objects of kind `K` in one namespace (or cluster-scoped), decoded as `T`: `K` itself,
/// or a view of it ([`Api::view`]). Reads are served as the client's [`Reads`] says; every
/// request shares the client's budget and retry bounds.
pub struct Api<'a, K: Resource, T = K> {
    kube: &'a Kube,
    dt: K::DynamicType,
    /// `None` for cluster-scoped kinds.
    namespace: Option<&'a str>,
    types: PhantomData<fn() -> (K, T)>,
}

impl<'a, K: Resource, T> Api<'a, K, T> {
    fn new(kube: &'a Kube, dt: K::DynamicType) -> Self {
        Self {
            kube,
            dt,
            namespace: Some(kube.namespace()),
            types: PhantomData,
        }
    }

    /// The same kind in `namespace` (e.g. the cluster DNS Service in `kube-system`).
    #[must_use]
    pub fn in_namespace(self, namespace: &'a str) -> Self {
        self.scoped(Some(namespace))
    }

    /// The same kind, cluster-scoped (e.g. CustomResourceDefinition).
    #[must_use]
    pub fn cluster_scoped(self) -> Self {
        self.scoped(None)
    }

    /// In `namespace`, or cluster-scoped for `None`.
    pub(super) fn scoped(self, namespace: Option<&'a str>) -> Self {
        Self { namespace, ..self }
    }

    /// The same objects decoded as `V`, a view of `K` with only the fields the caller needs
    /// (fields `V` lacks are skipped unread; docs/adr/0026). Each kind decoded in full compiles
    /// its whole type tree into the binary; a view onto types already decoded elsewhere
    /// (e.g. a Pod's containers), or the object's JSON (`serde_json::Value`), compiles nothing
    /// new.
    pub fn view<V>(self) -> Api<'a, K, V> {
        Api {
            kube: self.kube,
            dt: self.dt,
            namespace: self.namespace,
            types: PhantomData,
        }
    }

    fn target<'n>(&self, name: &'n str) -> Target<'n> {
        let group = K::group(&self.dt);
        let plural = K::plural(&self.dt);
        Target {
            url_path: K::url_path(&self.dt, self.namespace),
            resource: if group.is_empty() {
                plural.into_owned()
            } else {
                format!("{plural}.{group}")
            },
            name,
        }
    }

    /// Whether `name` exists. Only its metadata is asked for
    /// (`Accept: …;as=PartialObjectMetadata`) and it is skipped unbuilt: e.g. whether
    /// Cilium's CustomResourceDefinition is installed, hundreds of KiB of schema the server
    /// would encode and we would parse every hook (docs/adr/0027).
    pub async fn exists(&self, name: &str) -> Result<bool, KubeError> {
        let target = self.target(name);
        let request =
            Request::new(&target.url_path).get_metadata(target.name, &self.kube.reads().params());
        Ok(self
            .kube
            .read::<IgnoredAny>(&target, request)
            .await?
            .is_some())
    }

    /// Deletes `name`; `false` when it was already absent.
    pub async fn delete(&self, name: &str) -> Result<bool, KubeError> {
        self.kube.delete_at(&self.target(name)).await
    }
}

impl<K: Resource, T: DeserializeOwned> Api<'_, K, T> {
    /// Reads `name`; `None` when absent.
    pub async fn get(&self, name: &str) -> Result<Option<T>, KubeError> {
        self.kube
            .get_at(&self.target(name), self.kube.reads())
            .await
    }

    /// The StatefulSet write (ADR 0008): GET `name` (always the latest state), let `plan`
    /// compute a strategic-merge patch from the live object (`None` = it already holds
    /// everything: no write), send it with our field manager. The patch should carry the live
    /// `metadata.resourceVersion` as a precondition; on 409 Conflict the object is re-read
    /// and re-planned, at most [`RetryPolicy::max_conflicts`](super::RetryPolicy::max_conflicts) times.
    /// [`KubeError::NotFound`] when the object is absent.
    pub async fn patch<F>(&self, name: &str, plan: F) -> Result<Outcome<T>, KubeError>
    where
        F: FnMut(&T) -> Option<Value>,
    {
        self.kube.patch_at(&self.target(name), plan).await
    }
}

// `O`: the kind, decoded as itself.
impl<O> Api<'_, O, O>
where
    O: Resource + Serialize + DeserializeOwned,
{
    /// The owned-object write (ADR 0008): GET the object named in `desired` (always the
    /// latest state); when absent, or when `holds(live, desired)` is false, server-side apply
    /// `desired` in full with our field manager and `force=true` (creates, updates, and takes
    /// over objects someone else made). A custom resource's `desired.types` must be set.
    pub async fn apply_if_changed(
        &self,
        desired: &O,
        holds: impl Fn(&O, &O) -> bool,
    ) -> Result<Outcome<O>, KubeError> {
        let name = desired.meta().name.clone().unwrap_or_default();
        self.kube
            .apply_at(&self.target(&name), self.namespace, desired, holds)
            .await
    }
}

/// The requests, by target: generic only over the type decoded.
impl Kube {
    async fn get_at<T: DeserializeOwned>(
        &self,
        target: &Target<'_>,
        reads: Reads,
    ) -> Result<Option<T>, KubeError> {
        let request = Request::new(&target.url_path).get(target.name, &reads.params());
        self.read(target, request).await
    }

    /// Sends the GET `request` for `target`: its answer decoded, `None` on 404.
    async fn read<T: DeserializeOwned>(
        &self,
        target: &Target<'_>,
        request: Result<hyper::http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<Option<T>, KubeError> {
        match self.execute(Step::Get, target, request).await {
            Ok(body) => decode(&body)
                .map(Some)
                .map_err(|e| target.error(Step::Get, e)),
            Err(AttemptError::Final(KubeError::NotFound { .. })) => Ok(None),
            Err(e) => Err(e.finish(Step::Get, target)),
        }
    }

    async fn patch_at<T, F>(
        &self,
        target: &Target<'_>,
        mut plan: F,
    ) -> Result<Outcome<T>, KubeError>
    where
        T: DeserializeOwned,
        F: FnMut(&T) -> Option<Value>,
    {
        let mut conflicts = 0;
        loop {
            let Some(live) = self.get_at::<T>(target, Reads::Latest).await? else {
                return Err(not_found("patch", &target.resource, target.name));
            };
            let Some(patch) = plan(&live) else {
                tracing::debug!(resource = %target.resource, name = target.name,
                    "live object already holds our additions; no patch");
                return Ok(Outcome::Unchanged(live));
            };
            let params = PatchParams {
                field_manager: Some(self.field_manager().to_owned()),
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
                        manager = %self.field_manager(), "strategic-merge patch written");
                    return decode(&body)
                        .map(Outcome::Written)
                        .map_err(|e| target.error(Step::Patch, e));
                }
                Err(AttemptError::Stale(what)) => {
                    conflicts += 1;
                    tracing::debug!(resource = %target.resource, name = target.name, %what,
                        conflicts, "stale write; re-reading");
                    if conflicts > self.policy().max_conflicts {
                        return Err(target.error(
                            Step::Patch,
                            Failure::Conflict {
                                attempts: conflicts,
                            },
                        ));
                    }
                }
                Err(e) => return Err(e.finish(Step::Patch, target)),
            }
        }
    }

    async fn apply_at<K>(
        &self,
        target: &Target<'_>,
        namespace: Option<&str>,
        desired: &K,
        holds: impl Fn(&K, &K) -> bool,
    ) -> Result<Outcome<K>, KubeError>
    where
        K: Serialize + DeserializeOwned,
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
            .map_err(|e| target.error(Step::Apply, Failure::Decode(e)))?;
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
            if let Some(namespace) = namespace {
                meta.insert("namespace".into(), Value::String(namespace.to_owned()));
            }
        }
        let params = PatchParams::apply(self.field_manager()).force();
        let request =
            Request::new(&target.url_path).patch(target.name, &params, &Patch::Apply(&body));
        match self.execute(Step::Apply, target, request).await {
            Ok(body) => {
                tracing::debug!(resource = %target.resource, name = target.name,
                    manager = %self.field_manager(), "server-side apply written");
                decode(&body)
                    .map(Outcome::Written)
                    .map_err(|e| target.error(Step::Apply, e))
            }
            Err(e) => Err(e.finish(Step::Apply, target)),
        }
    }

    async fn delete_at(&self, target: &Target<'_>) -> Result<bool, KubeError> {
        let request = Request::new(&target.url_path).delete(target.name, &DeleteParams::default());
        match self.execute(Step::Delete, target, request).await {
            Ok(_) => {
                tracing::debug!(resource = %target.resource, name = target.name, "deleted");
                Ok(true)
            }
            Err(AttemptError::Final(KubeError::NotFound { .. })) => Ok(false),
            Err(e) => Err(e.finish(Step::Delete, target)),
        }
    }
}
