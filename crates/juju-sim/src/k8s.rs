//! What Juju 3.6 creates in Kubernetes for a sidecar charm, and the StatefulSet controller's
//! part (pods), played against the real API server with the admin client.
//!
//! Modelled on Juju's `internal/provider/kubernetes/application/application.go`
//! (`Ensure`, `ApplicationPodSpec`, `configureHeadlessService`, `configureDefaultService`) and
//! `resources/statefulset.go` (`Apply`): on create, the StatefulSet is POSTed with field manager
//! `juju`; on re-apply (`refresh`, `trust`), Juju GETs the live object, copies its own
//! annotations, replicas (only when creating), update strategy and whole `template` into it,
//! and sends the result as a strategic-merge patch with field manager `juju`.
//!
//! The agent version is [`JUJU_VERSION`] (3.6.4, after 3.6-beta3's startup probes and before
//! 3.6.8's charm-container memory constraints); the charm runs with the default charm user
//! (Juju's "pre-3.5" security contexts: root in the charm and workload containers).
//!
//! Simplifications (docs/adr/0019):
//! - Identity: Juju's ServiceAccount `<app>`, Role `<app>` and RoleBinding `<app>` under Juju's
//!   names ([`kube_testbed::AppRbac`]), with kube-testbed's untrusted rights; no ClusterRole;
//!   trust is ClusterRoleBinding `<model>-<app>` (Juju's name) to `cluster-admin`, where Juju
//!   instead rewrites the rules of Role `<app>` and ClusterRole `<model>-<app>`.
//! - No StorageClass is created; volumeClaimTemplates name no storage class (nothing binds
//!   PVCs on the testbed, which runs no controllers).
//! - The StatefulSet controller is played by [`create_pod`]: one Pod `<app>-<n>` built from the
//!   current template (hostname, subdomain, PVC volumes, the pod-name label), with no status.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube_testbed::AppRbac;
use serde_json::{Value, json};

use crate::meta::CharmMeta;

/// The Juju version the simulated agent reports (`JUJU_VERSION`, `juju.is/version`).
pub const JUJU_VERSION: &str = "3.6.4";
/// Juju's field manager.
pub const JUJU_FIELD_MANAGER: &str = "juju";
/// The charm container's name.
pub const CHARM_CONTAINER: &str = "charm";
/// The init container's name.
pub const INIT_CONTAINER: &str = "charm-init";
/// The shared emptyDir volume.
pub const CHARM_VOLUME: &str = "charm-data";
const DATA_DIR: &str = "/var/lib/juju";
const AGENT_PEBBLE_PORT: &str = "38812";
const DEFAULT_PEBBLE_DIR: &str = "/var/lib/pebble/default";

/// Errors of the Kubernetes side of the model.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// Building an object from JSON failed (a bug in the builder).
    #[error("building {what}")]
    Build {
        /// The object.
        what: String,
        /// The decode error.
        #[source]
        source: serde_json::Error,
    },
    /// A request to the API server failed.
    #[error("{step} {what}")]
    Api {
        /// The step (`create`, `patch`, `get`, `delete`).
        step: &'static str,
        /// The object.
        what: String,
        /// The client error.
        #[source]
        source: Box<kube::Error>,
    },
}

/// Identity of the application's Juju resources: names and annotation values.
#[derive(Debug, Clone)]
pub struct AppSpec<'a> {
    /// The application name.
    pub app: &'a str,
    /// The namespace (the model name).
    pub namespace: &'a str,
    /// The controller UUID (`controller.juju.is/id`).
    pub controller_uuid: &'a str,
    /// The model UUID (`model.juju.is/id`).
    pub model_uuid: &'a str,
    /// Juju's storage prefix (`app.juju.is/uuid`), 8 hex digits.
    pub storage_id: &'a str,
    /// The charm metadata.
    pub meta: &'a CharmMeta,
    /// Units to create the StatefulSet with (Juju's `InitialScale`).
    pub initial_scale: i32,
    /// Juju's `CharmModifiedVersion` (bumped by `refresh`; part of `charm-init`'s args, so a
    /// refresh changes the template and rolls the pods, as in Juju).
    pub charm_modified_version: u32,
}

impl AppSpec<'_> {
    fn labels(&self) -> Value {
        json!({"app.kubernetes.io/name": self.app, "app.kubernetes.io/managed-by": "juju"})
    }

    fn selector_labels(&self) -> Value {
        json!({"app.kubernetes.io/name": self.app})
    }

    fn annotations(&self) -> Value {
        json!({
            "controller.juju.is/id": self.controller_uuid,
            "model.juju.is/id": self.model_uuid,
            "juju.is/version": JUJU_VERSION,
        })
    }

    fn object_meta(&self, name: &str) -> Value {
        json!({
            "name": name,
            "namespace": self.namespace,
            "labels": self.labels(),
            "annotations": self.annotations(),
        })
    }

    /// The PVC / volume name Juju gives a storage: `<app>-<storage>-<storage-id>`.
    pub fn volume_name(&self, storage: &str) -> String {
        format!("{}-{storage}-{}", self.app, self.storage_id)
    }

    /// Where the charm container sees storage `name` (what `storage-get location` answers).
    pub fn charm_storage_location(name: &str) -> String {
        format!("{DATA_DIR}/storage/{name}/0")
    }

    /// `<app>-application-config`, the Secret the init container reads.
    pub fn secret_name(&self) -> String {
        format!("{}-application-config", self.app)
    }

    /// The Secret Juju creates for the unit agents.
    pub fn secret(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": self.object_meta(&self.secret_name()),
            "stringData": {
                "JUJU_K8S_APPLICATION": self.app,
                "JUJU_K8S_MODEL": self.model_uuid,
                "JUJU_K8S_APPLICATION_PASSWORD": "simulated",
                "JUJU_K8S_CONTROLLER_ADDRESSES": "127.0.0.1:17070",
                "JUJU_K8S_CONTROLLER_CA_CERT": "",
            },
        })
    }

    /// The default Service `<app>` (a placeholder port until the charm opens ports).
    pub fn service(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.object_meta(self.app),
            "spec": {
                "selector": self.selector_labels(),
                "type": "ClusterIP",
                "ports": [{"name": "placeholder", "port": 65535}],
            },
        })
    }

    /// The headless Service `<app>-endpoints`.
    pub fn headless_service(&self) -> Value {
        let mut meta = self.object_meta(&format!("{}-endpoints", self.app));
        meta["annotations"]["service.alpha.kubernetes.io/tolerate-unready-endpoints"] =
            json!("true");
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {
                "selector": self.selector_labels(),
                "type": "ClusterIP",
                "clusterIP": "None",
                "publishNotReadyAddresses": true,
            },
        })
    }

    fn probe(path: &str, port: &str, startup: bool) -> Value {
        let mut p = json!({
            "httpGet": {"path": path, "port": port.parse::<i64>().map_or(json!(port), Value::from)},
            "timeoutSeconds": 1,
            "periodSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": if path.ends_with("ready") { 1 } else { 3 },
        });
        if startup {
            p["periodSeconds"] = json!(1);
            p["failureThreshold"] = json!(30);
        }
        p
    }

    fn sub_mount(path: &str, sub: &str, read_only: bool) -> Value {
        let mut m = json!({"name": CHARM_VOLUME, "mountPath": path, "subPath": sub});
        if read_only {
            m["readOnly"] = json!(true);
        }
        m
    }

    /// The pod template spec, as `ApplicationPodSpec` builds it (storage mounts included).
    #[allow(clippy::too_many_lines)] // one literal object, as Juju's Go builds it
    pub fn pod_spec(&self) -> Value {
        let names: Vec<&String> = self.meta.containers.keys().collect();
        let joined = names
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let root = json!({"runAsUser": 0, "runAsGroup": 0});

        let mut charm_mounts = vec![
            Self::sub_mount("/charm/bin", "charm/bin", true),
            Self::sub_mount(DATA_DIR, "var/lib/juju", false),
            Self::sub_mount("/charm/containers", "charm/containers", false),
            Self::sub_mount(DEFAULT_PEBBLE_DIR, "containeragent/pebble", false),
            Self::sub_mount("/var/log/juju", "containeragent/var/log/juju", false),
            Self::sub_mount("/usr/bin/juju-introspect", "charm/bin/containeragent", true),
            Self::sub_mount("/usr/bin/juju-exec", "charm/bin/containeragent", true),
            Self::sub_mount(
                "/etc/profile.d/juju-introspection.sh",
                "containeragent/etc/profile.d/juju-introspection.sh",
                true,
            ),
        ];
        for name in self.meta.storage.keys() {
            charm_mounts.push(json!({
                "name": self.volume_name(name),
                "mountPath": Self::charm_storage_location(name),
            }));
        }
        let charm = json!({
            "name": CHARM_CONTAINER,
            "image": format!("ghcr.io/juju/charm-base:ubuntu-22.04"),
            "imagePullPolicy": "IfNotPresent",
            "workingDir": DATA_DIR,
            "command": ["/charm/bin/pebble"],
            "args": ["run", "--http", format!(":{AGENT_PEBBLE_PORT}"), "--verbose"],
            "env": [
                {"name": "JUJU_CONTAINER_NAMES", "value": joined},
                {"name": "HTTP_PROBE_PORT", "value": "3856"},
            ],
            "livenessProbe": Self::probe("/v1/health?level=alive", AGENT_PEBBLE_PORT, false),
            "readinessProbe": Self::probe("/v1/health?level=ready", AGENT_PEBBLE_PORT, false),
            "startupProbe": Self::probe("/v1/health?level=alive", AGENT_PEBBLE_PORT, true),
            "volumeMounts": charm_mounts,
            "securityContext": root,
        });
        let mut containers = vec![charm];
        for (i, (name, c)) in self.meta.containers.iter().enumerate() {
            let port = (38813 + i).to_string();
            let mut mounts = vec![
                Self::sub_mount("/charm/bin/pebble", "charm/bin/pebble", true),
                Self::sub_mount(
                    "/charm/container",
                    &format!("charm/containers/{name}"),
                    false,
                ),
            ];
            for m in &c.mounts {
                mounts.push(json!({"name": self.volume_name(&m.storage), "mountPath": m.location}));
            }
            containers.push(json!({
                "name": name,
                "image": self.meta.container_image(name),
                "imagePullPolicy": "IfNotPresent",
                "command": ["/charm/bin/pebble"],
                "args": ["run", "--create-dirs", "--hold", "--http", format!(":{port}"), "--verbose"],
                "env": [
                    {"name": "JUJU_CONTAINER_NAME", "value": name},
                    {"name": "PEBBLE_SOCKET", "value": "/charm/container/pebble.socket"},
                    {"name": "PEBBLE", "value": "/charm/container/pebble"},
                    {"name": "PEBBLE_COPY_ONCE", "value": DEFAULT_PEBBLE_DIR},
                ],
                "livenessProbe": Self::probe("/v1/health?level=alive", &port, false),
                "readinessProbe": Self::probe("/v1/health?level=ready", &port, false),
                "startupProbe": {
                    "httpGet": {"path": "/v1/health?level=alive", "port": 38813 + i},
                    "timeoutSeconds": 1, "periodSeconds": 1, "successThreshold": 1,
                    "failureThreshold": 30,
                },
                "volumeMounts": mounts,
                "securityContext": root,
            }));
        }
        let init = json!({
            "name": INIT_CONTAINER,
            "image": format!("ghcr.io/juju/jujud-operator:{JUJU_VERSION}"),
            "imagePullPolicy": "IfNotPresent",
            "workingDir": DATA_DIR,
            "command": ["/opt/containeragent"],
            "args": [
                "init", "--containeragent-pebble-dir", "/containeragent/pebble",
                "--charm-modified-version", self.charm_modified_version.to_string(), "--data-dir", DATA_DIR,
                "--bin-dir", "/charm/bin", "--profile-dir", "/containeragent/etc/profile.d",
            ],
            "env": [
                {"name": "JUJU_CONTAINER_NAMES", "value": joined},
                {"name": "JUJU_K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "JUJU_K8S_POD_UUID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            ],
            "envFrom": [{"secretRef": {"name": self.secret_name()}}],
            "volumeMounts": [
                Self::sub_mount(DATA_DIR, "var/lib/juju", false),
                Self::sub_mount("/charm/bin", "charm/bin", false),
                Self::sub_mount("/charm/containers", "charm/containers", false),
                Self::sub_mount("/containeragent/pebble", "containeragent/pebble", false),
                Self::sub_mount("/containeragent/etc/profile.d", "containeragent/etc/profile.d", false),
            ],
        });
        json!({
            "automountServiceAccountToken": true,
            "serviceAccountName": AppRbac::new(self.namespace, self.app).service_account(),
            "terminationGracePeriodSeconds": 30,
            "initContainers": [init],
            "containers": containers,
            "volumes": [{"name": CHARM_VOLUME, "emptyDir": {}}],
        })
    }

    /// The StatefulSet as Juju builds it in `Ensure`. `replicas` only when creating.
    pub fn statefulset(&self, creating: bool) -> Value {
        let mut meta = self.object_meta(self.app);
        meta["annotations"]["app.juju.is/uuid"] = json!(self.storage_id);
        let mut vcts = Vec::new();
        for name in self.meta.storage.keys() {
            vcts.push(json!({
                "metadata": {
                    "name": self.volume_name(name),
                    "labels": {"storage.juju.is/name": name, "app.kubernetes.io/managed-by": "juju"},
                    "annotations": {"storage.juju.is/name": name},
                },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }));
        }
        let mut spec = json!({
            "selector": {"matchLabels": self.selector_labels()},
            "template": {
                "metadata": {"labels": self.selector_labels(), "annotations": self.annotations()},
                "spec": self.pod_spec(),
            },
            "podManagementPolicy": "Parallel",
            "serviceName": format!("{}-endpoints", self.app),
        });
        if creating {
            spec["replicas"] = json!(self.initial_scale);
        }
        if !vcts.is_empty() {
            spec["volumeClaimTemplates"] = json!(vcts);
        }
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta, "spec": spec})
    }
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, v: Value) -> Result<T, KubeError> {
    serde_json::from_value(v).map_err(|source| KubeError::Build {
        what: what.to_owned(),
        source,
    })
}

fn api_err(step: &'static str, what: impl Into<String>) -> impl FnOnce(kube::Error) -> KubeError {
    let what = what.into();
    move |source| KubeError::Api {
        step,
        what,
        source: Box::new(source),
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

fn juju_post() -> PostParams {
    PostParams {
        field_manager: Some(JUJU_FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    }
}

/// `Ensure` on deploy: the Secret, both Services and the StatefulSet, created with field
/// manager `juju` (an object that already exists is re-applied, as `Ensure` does).
pub async fn ensure_application(
    client: &kube::Client,
    spec: &AppSpec<'_>,
) -> Result<(), KubeError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), spec.namespace);
    let secret: Secret = decode("secret", spec.secret())?;
    match secrets.create(&juju_post(), &secret).await {
        Err(e) if is_status(&e, 409) => {}
        r => {
            r.map_err(api_err("create", format!("secret {}", spec.secret_name())))?;
        }
    }
    let services: Api<Service> = Api::namespaced(client.clone(), spec.namespace);
    for svc in [spec.service(), spec.headless_service()] {
        let name = svc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let obj: Service = decode("service", svc)?;
        match services.create(&juju_post(), &obj).await {
            Err(e) if is_status(&e, 409) => {}
            r => {
                r.map_err(api_err("create", format!("service {name}")))?;
            }
        }
    }
    apply_statefulset(client, spec).await
}

/// Juju's `StatefulSet.Apply`: create when absent; else GET, copy Juju's annotations, update
/// strategy and template into the live object and send it as a strategic-merge patch with
/// field manager `juju` (replicas are left alone when the object exists).
pub async fn apply_statefulset(client: &kube::Client, spec: &AppSpec<'_>) -> Result<(), KubeError> {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), spec.namespace);
    let what = format!("statefulset {}", spec.app);
    let existing = api
        .get_opt(spec.app)
        .await
        .map_err(api_err("get", what.clone()))?;
    let Some(existing) = existing else {
        let sts: StatefulSet = decode("statefulset", spec.statefulset(true))?;
        api.create(&juju_post(), &sts)
            .await
            .map_err(api_err("create", what))?;
        return Ok(());
    };
    let desired = spec.statefulset(false);
    let mut live = serde_json::to_value(&existing).map_err(|source| KubeError::Build {
        what: what.clone(),
        source,
    })?;
    live["metadata"]["annotations"] = desired["metadata"]["annotations"].clone();
    if let Some(s) = live["spec"].as_object_mut() {
        s.remove("replicas");
        s.remove("updateStrategy");
        s.remove("minReadySeconds");
        s.remove("persistentVolumeClaimRetentionPolicy");
    }
    live["spec"]["template"] = desired["spec"]["template"].clone();
    let pp = PatchParams {
        field_manager: Some(JUJU_FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(spec.app, &pp, &Patch::Strategic(live))
        .await
        .map_err(api_err("patch", what))?;
    Ok(())
}

/// The StatefulSet's live pod template and `metadata.generation` (None if it is gone).
pub async fn template_of(
    client: &kube::Client,
    namespace: &str,
    app: &str,
) -> Result<Option<(Value, i64)>, KubeError> {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let sts = api
        .get_opt(app)
        .await
        .map_err(api_err("get", format!("statefulset {app}")))?;
    Ok(sts.map(|s| {
        let generation = s.metadata.generation.unwrap_or_default();
        let template = s.spec.map_or(Value::Null, |sp| {
            serde_json::to_value(sp.template).unwrap_or(Value::Null)
        });
        (template, generation)
    }))
}

/// Sets the StatefulSet's replicas (what `scale-application` makes Juju do).
pub async fn scale(
    client: &kube::Client,
    namespace: &str,
    app: &str,
    n: i32,
) -> Result<(), KubeError> {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let pp = PatchParams {
        field_manager: Some(JUJU_FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(app, &pp, &Patch::Merge(json!({"spec": {"replicas": n}})))
        .await
        .map_err(api_err("patch", format!("statefulset {app} replicas")))?;
    Ok(())
}

/// The StatefulSet controller's part: (re)create Pod `<app>-<ordinal>` from the live template.
/// An existing pod is deleted first (a restart). Returns the pod's template-derived JSON.
pub async fn create_pod(
    client: &kube::Client,
    namespace: &str,
    app: &str,
    ordinal: u32,
) -> Result<(), KubeError> {
    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let sts = sts_api
        .get(app)
        .await
        .map_err(api_err("get", format!("statefulset {app}")))?;
    let name = format!("{app}-{ordinal}");
    delete_pod(client, namespace, &name).await?;
    let sts_json = serde_json::to_value(&sts).map_err(|source| KubeError::Build {
        what: format!("statefulset {app}"),
        source,
    })?;
    let template = &sts_json["spec"]["template"];
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels["statefulset.kubernetes.io/pod-name"] = json!(name);
    labels["controller-revision-hash"] = json!(format!(
        "{app}-{}",
        sts.metadata.generation.unwrap_or_default()
    ));
    let mut spec = template["spec"].clone();
    spec["hostname"] = json!(name);
    if let Some(svc) = sts_json["spec"]["serviceName"].as_str() {
        spec["subdomain"] = json!(svc);
    }
    if let Some(vcts) = sts_json["spec"]["volumeClaimTemplates"].as_array() {
        let mut volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
        for v in vcts {
            let vname = v["metadata"]["name"].as_str().unwrap_or_default();
            volumes.push(json!({
                "name": vname,
                "persistentVolumeClaim": {"claimName": format!("{vname}-{name}")},
            }));
        }
        spec["volumes"] = json!(volumes);
    }
    let mut metadata = json!({
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "StatefulSet", "name": app,
            "uid": sts.metadata.uid.clone().unwrap_or_default(),
            "controller": true, "blockOwnerDeletion": true,
        }],
    });
    if template["metadata"]["annotations"].is_object() {
        metadata["annotations"] = template["metadata"]["annotations"].clone();
    }
    let pod: Pod = decode(
        "pod",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}),
    )?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    pods.create(&PostParams::default(), &pod)
        .await
        .map_err(api_err("create", format!("pod {name}")))?;
    Ok(())
}

/// Deletes a Pod immediately (grace period 0), ignoring one that is already gone.
pub async fn delete_pod(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<(), KubeError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    match pods
        .delete(name, &DeleteParams::default().grace_period(0))
        .await
    {
        Err(e) if is_status(&e, 404) => Ok(()),
        r => r
            .map(|_| ())
            .map_err(api_err("delete", format!("pod {name}"))),
    }
}

/// A stable fingerprint of a pod template (to detect template changes across a hook).
pub fn template_fingerprint(template: &Value) -> String {
    // serde_json maps are ordered (BTreeMap) without the preserve_order feature.
    template.to_string()
}

/// Deterministic names used by the model: the map from storage name to its charm location.
pub fn storage_locations(meta: &CharmMeta) -> BTreeMap<String, String> {
    meta.storage
        .keys()
        .map(|k| (k.clone(), AppSpec::charm_storage_location(k)))
        .collect()
}

/// What Juju creates for the application's identity: ServiceAccount, Role and RoleBinding under
/// Juju's names ([`AppRbac`]), the Role with kube-testbed's untrusted rights (get/list/patch
/// pods and services, create pods/exec), created with the admin client, plus a token from a
/// TokenRequest.
pub async fn ensure_identity(
    client: &kube::Client,
    namespace: &str,
    app: &str,
) -> Result<String, KubeError> {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let pp = PatchParams::apply(JUJU_FIELD_MANAGER).force();
    let rbac = AppRbac::new(namespace, app);
    let (sa, role, binding) = (rbac.service_account(), rbac.role(), rbac.role_binding());
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    sas.patch(
        sa,
        &pp,
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": sa, "namespace": namespace,
                "labels": {"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "juju"}}})),
    )
    .await
    .map_err(api_err("apply", format!("serviceaccount {sa}")))?;
    let roles: Api<Role> = Api::namespaced(client.clone(), namespace);
    roles
        .patch(
            role,
            &pp,
            &Patch::Apply(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": role, "namespace": namespace},
                "rules": [
                    {"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list", "patch"]},
                    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
                ]})),
        )
        .await
        .map_err(api_err("apply", format!("role {role}")))?;
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), namespace);
    bindings
        .patch(
            binding,
            &pp,
            &Patch::Apply(
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": binding, "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]}),
            ),
        )
        .await
        .map_err(api_err("apply", format!("rolebinding {binding}")))?;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(365 * 24 * 3600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let answer = sas
        .create_token_request(sa, &PostParams::default(), &request)
        .await
        .map_err(api_err("create", format!("token for serviceaccount {sa}")))?;
    Ok(answer.status.map(|s| s.token).unwrap_or_default())
}

/// `juju trust APP --scope=cluster`: binds the application's ServiceAccount to
/// `cluster-admin` through the ClusterRoleBinding of Juju's name, `<model>-<app>`
/// ([`AppRbac::cluster_role_binding`]); `trusted = false` removes the binding.
pub async fn set_trust(
    client: &kube::Client,
    namespace: &str,
    app: &str,
    trusted: bool,
) -> Result<(), KubeError> {
    use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    let rbac = AppRbac::new(namespace, app);
    let name = rbac.cluster_role_binding();
    let api: Api<ClusterRoleBinding> = Api::all(client.clone());
    if trusted {
        api.patch(
            &name,
            &PatchParams::apply(JUJU_FIELD_MANAGER).force(),
            &Patch::Apply(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": rbac.service_account(), "namespace": namespace}]})),
        )
        .await
        .map_err(api_err("apply", format!("clusterrolebinding {name}")))?;
    } else {
        match api.delete(&name, &DeleteParams::default()).await {
            Err(e) if is_status(&e, 404) => {}
            r => {
                r.map_err(api_err("delete", format!("clusterrolebinding {name}")))?;
            }
        }
    }
    Ok(())
}

/// Creates namespace `name` labelled `kubernetes.io/metadata.name` (as 1.21+ does).
pub async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<(), KubeError> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: Api<Namespace> = Api::all(client.clone());
    api.patch(
        name,
        &PatchParams::apply(JUJU_FIELD_MANAGER).force(),
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}})),
    )
    .await
    .map_err(api_err("apply", format!("namespace {name}")))?;
    Ok(())
}

/// Juju's caasfirewaller + `UpdatePorts`: the `<app>` Service gets one port per opened port
/// range, named `juju-<range with / as ->` (`juju-8080-tcp`), port = first, targetPort =
/// last, while ports not named `juju-*` stay and the placeholder goes once a port is open.
/// Sent as a merge patch (the list is replaced), field manager `juju`. Simplification: when
/// no port is left open the placeholder is put back (an empty port list is invalid for a
/// ClusterIP Service).
pub async fn update_ports(
    client: &kube::Client,
    namespace: &str,
    app: &str,
    ports: &[crate::state::Port],
) -> Result<(), KubeError> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let what = format!("service {app}");
    let svc = api.get(app).await.map_err(api_err("get", what.clone()))?;
    let juju: Vec<Value> = ports
        .iter()
        .filter(|p| p.protocol != "icmp")
        .map(|p| {
            json!({
                "name": format!("juju-{}", p.to_string().replace('/', "-")),
                "port": p.from,
                "targetPort": p.to,
                "protocol": p.protocol.to_uppercase(),
            })
        })
        .collect();
    let mut expected: Vec<Value> = Vec::new();
    for p in svc.spec.and_then(|s| s.ports).unwrap_or_default() {
        let name = p.name.clone().unwrap_or_default();
        if name.starts_with("juju-") || (name == "placeholder" && !juju.is_empty()) {
            continue;
        }
        expected.push(serde_json::to_value(p).map_err(|source| KubeError::Build {
            what: what.clone(),
            source,
        })?);
    }
    expected.extend(juju);
    if expected.is_empty() {
        expected.push(json!({"name": "placeholder", "port": 65535}));
    }
    let pp = PatchParams {
        field_manager: Some(JUJU_FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(
        app,
        &pp,
        &Patch::Merge(json!({"spec": {"ports": expected}})),
    )
    .await
    .map_err(api_err("patch", what))?;
    Ok(())
}

/// The live Pod `name` as JSON, if it exists.
pub async fn pod_json(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<Value>, KubeError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = pods
        .get_opt(name)
        .await
        .map_err(api_err("get", format!("pod {name}")))?;
    pod.map(|p| {
        serde_json::to_value(&p).map_err(|source| KubeError::Build {
            what: format!("pod {name}"),
            source,
        })
    })
    .transpose()
}

/// Every ConfigMap's `data` in the namespace, by name.
pub async fn config_map_data(
    client: &kube::Client,
    namespace: &str,
) -> Result<BTreeMap<String, Value>, KubeError> {
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&kube::api::ListParams::default())
        .await
        .map_err(api_err("list", "configmaps".to_owned()))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|cm| {
            let name = cm.metadata.name?;
            let data = serde_json::to_value(cm.data.unwrap_or_default()).ok()?;
            Some((name, data))
        })
        .collect())
}

/// Writes the kubelet's `status` of Pod `name` (a merge patch of the status subresource).
pub async fn patch_pod_status(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    status: &Value,
) -> Result<(), KubeError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    pods.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .map(drop)
    .map_err(api_err("patch status of", format!("pod {name}")))
}
