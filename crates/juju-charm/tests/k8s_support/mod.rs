//! Shared by the Kubernetes tests: a real API server with a fault proxy in front, a
//! Juju-shaped StatefulSet, Juju's re-apply, and the test's own additions and plans (built
//! with plain `serde_json`; the real builders live in vpn-gateway-iface).

#![allow(dead_code)] // each test binary uses a different subset

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use juju_charm::k8s::{Kube, RetryPolicy};
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube_testbed::{Cluster, FaultProxy};
use serde_json::{Value, json};

pub type TestResult<T = ()> = Result<T, Box<dyn Error>>;

/// Field manager of our writes in these tests.
pub const OURS: &str = "charmarr";

/// A cluster, an admin kubeconfig through the fault proxy, and the proxy.
pub struct Bed {
    pub proxy: FaultProxy,
    pub admin_via_proxy: PathBuf,
    pub cluster: Cluster,
}

impl Bed {
    pub fn start() -> TestResult<Self> {
        let cluster = Cluster::start()?;
        let proxy = FaultProxy::start(&cluster)?;
        let admin_via_proxy = cluster
            .admin()
            .kubeconfig_for_server(&proxy.url(), None, "proxy")?;
        Ok(Self {
            proxy,
            admin_via_proxy,
            cluster,
        })
    }
}

/// Retry bounds small enough for tests.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        request_timeout: Duration::from_secs(3),
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        max_retry_after: Duration::from_millis(150),
        max_attempts: 4,
        max_conflicts: 3,
    }
}

/// A [`Kube`] for `kubeconfig` (e.g. through the proxy) in `namespace`.
pub async fn kube(
    kubeconfig: &std::path::Path,
    namespace: &str,
    budget: Duration,
    policy: RetryPolicy,
) -> TestResult<Kube> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await?;
    Ok(Kube::from_config(&config, namespace, OURS, budget, policy)?)
}

/// Runs `f` on a fresh current-thread runtime (one per sub-case, as one per hook).
pub fn run<F: Future>(f: F) -> F::Output {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        // Building a current-thread runtime only fails when the OS refuses a timer/IO driver.
        Err(e) => panic!("cannot build a tokio runtime: {e}"),
    }
}

/// Juju 3.6's pod template for a sidecar charm with one workload container.
pub fn juju_template(app: &str, workload_image: &str) -> Value {
    json!({
        "metadata": {
            "labels": {"app.kubernetes.io/name": app},
            "annotations": {"juju.is/version": "3.6.4", "charm.juju.is/modified-version": "0"}
        },
        "spec": {
            "serviceAccountName": app,
            "automountServiceAccountToken": true,
            "initContainers": [{
                "name": "charm-init",
                "image": "ghcr.io/juju/jujud-operator:3.6.4",
                "command": ["/opt/containeragent"],
                "args": ["init", "--containeragent-pebble-dir", "/containeragent/pebble",
                         "--charm-modified-version", "0", "--data-dir", "/var/lib/juju",
                         "--bin-dir", "/charm/bin"],
                "volumeMounts": [
                    {"name": "charm-data", "mountPath": "/var/lib/juju", "subPath": "var/lib/juju"},
                    {"name": "charm-data", "mountPath": "/charm/bin", "subPath": "charm/bin"},
                    {"name": "charm-data", "mountPath": "/charm/containers", "subPath": "charm/containers"}
                ]
            }],
            "containers": [
                {
                    "name": "charm",
                    "image": "ghcr.io/juju/charm-base:ubuntu-22.04",
                    "command": ["/charm/bin/pebble"],
                    "args": ["run", "--http", ":38812", "--verbose"],
                    "env": [{"name": "JUJU_CONTAINER_NAMES", "value": "workload"}],
                    "volumeMounts": [
                        {"name": "charm-data", "mountPath": "/charm/bin", "subPath": "charm/bin", "readOnly": true},
                        {"name": "charm-data", "mountPath": "/var/lib/juju", "subPath": "var/lib/juju"},
                        {"name": "charm-data", "mountPath": "/charm/containers", "subPath": "charm/containers"}
                    ]
                },
                {
                    "name": "workload",
                    "image": workload_image,
                    "command": ["/charm/bin/pebble"],
                    "args": ["run", "--create-dirs", "--hold", "--http", ":38813", "--verbose"],
                    "env": [{"name": "JUJU_CONTAINER_NAME", "value": "workload"},
                            {"name": "PEBBLE_SOCKET", "value": "/charm/container/pebble.socket"}],
                    "volumeMounts": [
                        {"name": "charm-data", "mountPath": "/charm/bin/pebble", "subPath": "charm/bin/pebble", "readOnly": true},
                        {"name": "charm-data", "mountPath": "/charm/container", "subPath": "charm/containers/workload"}
                    ]
                }
            ],
            "volumes": [{"name": "charm-data", "emptyDir": {}}]
        }
    })
}

/// Juju's StatefulSet as it creates it.
pub fn juju_statefulset(app: &str) -> TestResult<StatefulSet> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": app,
            "labels": {"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "juju"},
            "annotations": {"juju.is/version": "3.6.4", "app.juju.is/uuid": "5e1c0ffe-0000-4000-8000-000000000001"}
        },
        "spec": {
            "replicas": 1,
            "serviceName": format!("{app}-endpoints"),
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": juju_template(app, "ghcr.io/qdm12/gluetun:v3.41.1")
        }
    }))?)
}

/// Creates Juju's StatefulSet with field manager `juju`.
pub async fn create_juju_statefulset(
    admin: &kube::Client,
    ns: &str,
    app: &str,
) -> TestResult<StatefulSet> {
    let params = PostParams {
        field_manager: Some("juju".into()),
        ..PostParams::default()
    };
    Ok(Api::<StatefulSet>::namespaced(admin.clone(), ns)
        .create(&params, &juju_statefulset(app)?)
        .await?)
}

/// What Juju does on refresh/trust/provisioner restart: GET, copy its annotations, replicas,
/// update strategy and whole template into it, send it as a strategic-merge patch (`juju`).
pub async fn juju_reapply(
    admin: &kube::Client,
    ns: &str,
    app: &str,
    workload_image: &str,
) -> TestResult<StatefulSet> {
    let api = Api::<StatefulSet>::namespaced(admin.clone(), ns);
    let live = api.get(app).await?;
    let mut object = serde_json::to_value(&live)?;
    object["metadata"]["annotations"]["juju.is/version"] = json!("3.6.4");
    object["spec"]["replicas"] = json!(1);
    object["spec"]["updateStrategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
    object["spec"]["template"] = juju_template(app, workload_image);
    if let Some(meta) = object["metadata"].as_object_mut() {
        meta.remove("managedFields");
    }
    let params = PatchParams {
        field_manager: Some("juju".into()),
        ..PatchParams::default()
    };
    Ok(api.patch(app, &params, &Patch::Strategic(&object)).await?)
}

pub const HASH_ANNOTATION: &str = "charmarr.io/gateway-client-config-hash";

/// Our additions to the pod template (the qbittorrent client side of docs/interface.md §4).
pub fn our_init(app: &str) -> Value {
    json!({
        "name": "vpn-route-init",
        "image": "ghcr.io/angelnu/pod-gateway:v1.13.0",
        "command": ["/bin/sh", "-c", "ip route show default >/dev/null || true; exec /bin/client_init.sh"],
        "env": [{"name": "gateway", "value": format!("{app}-gw-endpoints.downloads.svc.cluster.local")}],
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
        "volumeMounts": [{"name": "pod-gateway-config", "mountPath": "/config"}]
    })
}

pub fn our_sidecar(app: &str) -> Value {
    json!({
        "name": "vpn-route-sidecar",
        "image": "ghcr.io/angelnu/pod-gateway:v1.13.0",
        "command": ["/bin/client_sidecar.sh"],
        "env": [{"name": "gateway", "value": format!("{app}-gw-endpoints.downloads.svc.cluster.local")}],
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
        "volumeMounts": [{"name": "pod-gateway-config", "mountPath": "/config"}]
    })
}

pub fn our_volume(app: &str) -> Value {
    json!({"name": "pod-gateway-config", "configMap": {"name": format!("{app}-gateway-client-config")}})
}

/// Whether `live` holds `wanted`: every field we set with our value; lists of named objects
/// matched by `name`, other lists exactly. Server defaults and foreign fields are ignored.
pub fn covers(live: &Value, wanted: &Value) -> bool {
    match (live, wanted) {
        (Value::Object(l), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| l.get(k).is_some_and(|lv| covers(lv, wv))),
        (Value::Array(l), Value::Array(w))
            if w.iter().all(|x| x.get("name").is_some()) && !w.is_empty() =>
        {
            w.iter().all(|wi| {
                l.iter()
                    .find(|li| li.get("name") == wi.get("name"))
                    .is_some_and(|li| covers(li, wi))
            })
        }
        (l, w) => l == w,
    }
}

fn template_spec(live: &StatefulSet) -> Value {
    serde_json::to_value(live).map_or(Value::Null, |v| v["spec"]["template"].clone())
}

/// The plan to add our items (None when the live object holds them).
pub fn plan_add(app: &str, hash: &str) -> impl FnMut(&StatefulSet) -> Option<Value> + use<> {
    let app = app.to_owned();
    let hash = hash.to_owned();
    move |live| {
        let wanted = json!({
            "metadata": {"annotations": {HASH_ANNOTATION: hash}},
            "spec": {
                "initContainers": [our_init(&app)],
                "containers": [our_sidecar(&app)],
                "volumes": [our_volume(&app)]
            }
        });
        if covers(&template_spec(live), &wanted) {
            return None;
        }
        Some(json!({
            "metadata": {"resourceVersion": live.metadata.resource_version},
            "spec": {"template": wanted}
        }))
    }
}

/// The plan to remove our items (None when none is there).
pub fn plan_remove(live: &StatefulSet) -> Option<Value> {
    let template = template_spec(live);
    let has = |list: &str, name: &str| {
        template["spec"][list]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["name"] == name))
    };
    let present = has("initContainers", "vpn-route-init")
        || has("containers", "vpn-route-sidecar")
        || has("volumes", "pod-gateway-config")
        || template["metadata"]["annotations"]
            .get(HASH_ANNOTATION)
            .is_some();
    present.then(|| {
        json!({
            "metadata": {"resourceVersion": live.metadata.resource_version},
            "spec": {"template": {
                "metadata": {"annotations": {HASH_ANNOTATION: null}},
                "spec": {
                    "initContainers": [{"name": "vpn-route-init", "$patch": "delete"}],
                    "containers": [{"name": "vpn-route-sidecar", "$patch": "delete"}],
                    "volumes": [{"name": "pod-gateway-config", "$patch": "delete"}]
                }
            }}
        })
    })
}

/// Names of a template list, in order.
pub fn names(live: &StatefulSet, list: &str) -> Vec<String> {
    template_spec(live)["spec"][list]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
