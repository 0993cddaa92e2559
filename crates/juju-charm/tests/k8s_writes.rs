//! The write mechanism of ADR 0008 on the real API server (kube-testbed), every request going
//! through the fault proxy so that its log proves when nothing was written:
//! - StatefulSet: GET → plan → strategic-merge patch with resourceVersion; our items survive
//!   Juju's GET + strategic-merge re-apply; an identical reconcile sends no write; removal
//!   with `$patch: delete` removes exactly ours; items another manager made under our names
//!   are adopted in place;
//! - owned objects: GET → holds → server-side apply (force): create, no-op, update, adopt;
//!   CiliumNetworkPolicy as a dynamic object; delete;
//! - reads: a client for planning reads the API server's cache, but the GET deciding each of
//!   its writes reads the latest state.
//!
//! One cluster for the binary (it takes seconds to start); one namespace per case.
#![allow(clippy::disallowed_methods)] // Test machinery: this test runs a child in its own namespace.

mod k8s_support;

use std::time::Duration;

use juju_charm::k8s::{Outcome, Reads};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_support::{
    Bed, HASH_ANNOTATION, OURS, TestResult, covers, create_juju_statefulset, fast_policy,
    juju_reapply, kube, names, plan_add, plan_remove, run,
};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube_testbed::Verb;
use serde_json::json;

const BUDGET: Duration = Duration::from_secs(20);

#[test]
fn writes_on_a_real_api_server() -> TestResult {
    let bed = Bed::start()?;
    statefulset_additions_survive_juju_and_are_not_rewritten(&bed)?;
    statefulset_items_made_by_another_manager_are_adopted(&bed)?;
    owned_objects_are_applied_only_when_changed(&bed)?;
    network_policy_and_other_namespaces(&bed)?;
    cilium_policy_as_a_dynamic_object(&bed)?;
    planning_reads_come_from_the_cache_and_writes_decide_on_the_latest(&bed)?;
    connect_reads_the_in_cluster_config(&bed)?;
    Ok(())
}

/// Env vars the parent passes to [`connect_child`].
const CHILD_NAMESPACE: &str = "JUJU_CHARM_TEST_CONNECT_NAMESPACE";

/// `Kube::connect` reads the pod's in-cluster configuration, as Juju gives it: the
/// `KUBERNETES_SERVICE_*` variables and the service-account files at their fixed path.
/// Environment and mounts are process-wide, so the check runs in a child process (this test
/// binary again, running only [`connect_child`]) in its own mount namespace, where a
/// service-account directory for the admin identity is bound over the fixed path, exactly as
/// the simulator does for a hook. Needs root and util-linux's `unshare` (as the simulator).
fn connect_reads_the_in_cluster_config(bed: &Bed) -> TestResult {
    const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
    let ns = "connect";
    bed.cluster.create_namespace(ns)?;
    bed.proxy.clear_log();
    let sa = tempfile::tempdir()?;
    std::fs::write(sa.path().join("token"), &bed.cluster.admin().token)?;
    std::fs::copy(bed.cluster.ca_file(), sa.path().join("ca.crt"))?;
    std::fs::write(sa.path().join("namespace"), ns)?;
    std::fs::create_dir_all(SA_DIR)?; // the mount point; nothing is written into it
    let https = bed.proxy.https_url().ok_or("the proxy has a TLS side")?;
    let (host, port) = https
        .trim_start_matches("https://")
        .rsplit_once(':')
        .ok_or("host:port")?;
    let mut child = std::process::Command::new("/usr/bin/unshare")
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg(format!("mount --bind \"$0\" {SA_DIR} && exec \"$@\""))
        .arg(sa.path())
        .arg(std::env::current_exe()?)
        .args(["--exact", "connect_child", "--ignored", "--test-threads=1"])
        .env_remove("KUBECONFIG")
        .env("KUBERNETES_SERVICE_HOST", host)
        .env("KUBERNETES_SERVICE_PORT", port)
        .env(CHILD_NAMESPACE, ns)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill()?; // by its handle, i.e. its PID
            child.wait()?;
            return Err("the connect child did not finish within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(50)); // bounded polling of the child's exit
    };
    assert!(status.success(), "connect child failed: {status}");
    // Its requests went through the proxy named by the environment, in the namespace given.
    let log = bed.proxy.log();
    assert!(
        log.iter()
            .any(|r| r.namespace.as_deref() == Some(ns) && r.verb == Some(Verb::Patch)),
        "{log:?}"
    );
    Ok(())
}

#[test]
#[ignore = "run in a child process by writes_on_a_real_api_server, in-cluster"]
fn connect_child() -> TestResult {
    let Ok(ns) = std::env::var(CHILD_NAMESPACE) else {
        return Ok(()); // run by hand without the parent's environment: nothing to check
    };
    run(async {
        let kube = juju_charm::k8s::Kube::connect(&ns, OURS, BUDGET)?;
        assert_eq!(
            (kube.namespace(), kube.field_manager()),
            (ns.as_str(), OURS)
        );
        assert!(kube.api::<ConfigMap>().get("from-child").await?.is_none());
        let written = kube
            .api::<ConfigMap>()
            .apply_if_changed(&config_map("from-child", "x=1\n")?, holds)
            .await?;
        assert!(written.written());
        TestResult::Ok(())
    })
}

fn statefulset_additions_survive_juju_and_are_not_rewritten(bed: &Bed) -> TestResult {
    let ns = "sts-survive";
    let app = "qbittorrent";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let admin = bed.cluster.admin_client().await?;
        create_juju_statefulset(&admin, ns, app).await?;
        let kube = kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await?;
        let statefulsets = kube.api::<StatefulSet>();

        // First reconcile: GET + one PATCH.
        bed.proxy.clear_log();
        let written = statefulsets.patch(app, plan_add(app, "0badcafe")).await?;
        assert!(written.written());
        let live = written.into_inner();
        // SMP puts new list items first (docs/testbed.md, "Observed write behaviour").
        assert_eq!(
            names(&live, "initContainers"),
            ["vpn-route-init", "charm-init"]
        );
        assert_eq!(
            names(&live, "containers"),
            ["vpn-route-sidecar", "charm", "workload"]
        );
        assert_eq!(
            names(&live, "volumes"),
            ["pod-gateway-config", "charm-data"]
        );
        let log = bed.proxy.log();
        assert_eq!(log.len(), 2, "{log:?}");
        assert_eq!(
            (log[0].verb, log[1].verb),
            (Some(Verb::Get), Some(Verb::Patch))
        );
        assert!(
            log[1].path.contains("fieldManager=charmarr"),
            "{}",
            log[1].path
        );
        let managers: Vec<_> = live
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter_map(|m| m.manager.clone())
            .collect();
        assert!(managers.contains(&OURS.to_owned()), "{managers:?}");

        // Identical second reconcile (the restarted pod): no write at all.
        bed.proxy.clear_log();
        let again = statefulsets.patch(app, plan_add(app, "0badcafe")).await?;
        assert!(matches!(again, Outcome::Unchanged(_)));
        assert!(bed.proxy.writes().is_empty(), "{:?}", bed.proxy.writes());
        assert_eq!(
            again.into_inner().metadata.resource_version,
            live.metadata.resource_version
        );

        // Juju re-applies its template (same, then with a new workload image): ours survive,
        // and the next reconcile still writes nothing.
        for image in [
            "ghcr.io/qdm12/gluetun:v3.41.1",
            "ghcr.io/qdm12/gluetun:v3.42.0",
        ] {
            let after_juju = juju_reapply(&admin, ns, app, image).await?;
            assert_eq!(
                names(&after_juju, "initContainers"),
                ["vpn-route-init", "charm-init"]
            );
            assert_eq!(
                names(&after_juju, "containers"),
                ["vpn-route-sidecar", "charm", "workload"]
            );
            bed.proxy.clear_log();
            let outcome = statefulsets.patch(app, plan_add(app, "0badcafe")).await?;
            assert!(!outcome.written());
            assert!(bed.proxy.writes().is_empty(), "{:?}", bed.proxy.writes());
        }

        // A settings change (new hash) is one patch again.
        assert!(
            statefulsets
                .patch(app, plan_add(app, "feedf00d"))
                .await?
                .written()
        );

        // Removal takes exactly ours away; Juju's items and fields stay.
        let removed = statefulsets.patch(app, plan_remove).await?;
        assert!(removed.written());
        let live = removed.into_inner();
        assert_eq!(names(&live, "initContainers"), ["charm-init"]);
        assert_eq!(names(&live, "containers"), ["charm", "workload"]);
        assert_eq!(names(&live, "volumes"), ["charm-data"]);
        let template = serde_json::to_value(&live)?["spec"]["template"].clone();
        assert!(
            template["metadata"]["annotations"]
                .get(HASH_ANNOTATION)
                .is_none()
        );
        assert_eq!(
            template["metadata"]["annotations"]["juju.is/version"],
            "3.6.4"
        );
        assert_eq!(
            template["spec"]["containers"][1]["image"],
            "ghcr.io/qdm12/gluetun:v3.42.0"
        );
        // Removing again: nothing to do, nothing sent.
        bed.proxy.clear_log();
        assert!(!statefulsets.patch(app, plan_remove).await?.written());
        assert!(bed.proxy.writes().is_empty());
        TestResult::Ok(())
    })
}

fn statefulset_items_made_by_another_manager_are_adopted(bed: &Bed) -> TestResult {
    let ns = "sts-adopt";
    let app = "qbittorrent";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let admin = bed.cluster.admin_client().await?;
        create_juju_statefulset(&admin, ns, app).await?;
        // The reference Python charm patched our names with its own manager and older content.
        let mut old_sidecar = k8s_support::our_sidecar(app);
        old_sidecar["image"] = json!("ghcr.io/angelnu/pod-gateway:v1.11.1");
        let reference = json!({"spec": {"template": {"spec": {
            "initContainers": [k8s_support::our_init(app)],
            "containers": [old_sidecar],
            "volumes": [k8s_support::our_volume(app)]
        }}}});
        let params = PatchParams {
            field_manager: Some("charmarr-lib".into()),
            ..PatchParams::default()
        };
        Api::<StatefulSet>::namespaced(admin.clone(), ns)
            .patch(app, &params, &Patch::Strategic(&reference))
            .await?;

        let kube = kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await?;
        let statefulsets = kube.api::<StatefulSet>();
        let adopted = statefulsets.patch(app, plan_add(app, "0badcafe")).await?;
        assert!(adopted.written());
        let live = adopted.into_inner();
        // Updated in place, not duplicated.
        assert_eq!(
            names(&live, "initContainers"),
            ["vpn-route-init", "charm-init"]
        );
        assert_eq!(
            names(&live, "containers"),
            ["vpn-route-sidecar", "charm", "workload"]
        );
        assert_eq!(
            names(&live, "volumes"),
            ["pod-gateway-config", "charm-data"]
        );
        let template = serde_json::to_value(&live)?["spec"]["template"].clone();
        assert_eq!(
            template["spec"]["containers"][0]["image"],
            "ghcr.io/angelnu/pod-gateway:v1.13.0"
        );
        // And removable, although another manager co-owns them.
        let removed = statefulsets.patch(app, plan_remove).await?.into_inner();
        assert_eq!(names(&removed, "initContainers"), ["charm-init"]);
        assert_eq!(names(&removed, "containers"), ["charm", "workload"]);
        assert_eq!(names(&removed, "volumes"), ["charm-data"]);
        TestResult::Ok(())
    })
}

fn config_map(name: &str, settings: &str) -> TestResult<ConfigMap> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "charmarr"}},
        "data": {"settings.sh": settings, "nat.conf": ""}
    }))?)
}

/// Semantic "holds": every field we set is live with our value.
fn holds<K: serde::Serialize>(live: &K, desired: &K) -> bool {
    match (serde_json::to_value(live), serde_json::to_value(desired)) {
        (Ok(live), Ok(mut desired)) => {
            if let Some(meta) = desired["metadata"].as_object_mut() {
                meta.remove("namespace");
            }
            covers(&live, &desired)
        }
        _ => false,
    }
}

fn owned_objects_are_applied_only_when_changed(bed: &Bed) -> TestResult {
    let ns = "owned";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let admin = bed.cluster.admin_client().await?;
        let kube = kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await?;
        let config_maps = kube.api::<ConfigMap>();
        let name = "qbittorrent-gateway-client-config";

        // Create.
        bed.proxy.clear_log();
        let desired = config_map(name, "VXLAN_ID=\"42\"\n")?;
        let created = config_maps.apply_if_changed(&desired, holds).await?;
        assert!(created.written());
        let rv = created.into_inner().metadata.resource_version;
        let log = bed.proxy.log();
        assert_eq!(log.len(), 2, "{log:?}");
        assert_eq!((log[0].status, log[1].verb), (Some(404), Some(Verb::Patch)));
        assert!(
            log[1].path.contains("fieldManager=charmarr") && log[1].path.contains("force=true")
        );

        // Unchanged: a GET, no write, same resourceVersion.
        bed.proxy.clear_log();
        let same = config_maps.apply_if_changed(&desired, holds).await?;
        assert!(!same.written());
        assert!(bed.proxy.writes().is_empty());
        assert_eq!(same.into_inner().metadata.resource_version, rv);

        // Changed: updated.
        let changed = config_map(name, "VXLAN_ID=\"43\"\n")?;
        let updated = config_maps
            .apply_if_changed(&changed, holds)
            .await?
            .into_inner();
        assert_eq!(
            updated
                .data
                .as_ref()
                .and_then(|d| d.get("settings.sh"))
                .map(String::as_str),
            Some("VXLAN_ID=\"43\"\n")
        );

        // Made by someone else (the reference charm), with other content: adopted.
        let foreign_name = "other-gateway-client-config";
        let mut foreign = config_map(foreign_name, "VXLAN_ID=\"7\"\n")?;
        foreign.metadata.labels = None;
        Api::<ConfigMap>::namespaced(admin.clone(), ns)
            .create(
                &PostParams {
                    field_manager: Some("charmarr-lib".into()),
                    ..PostParams::default()
                },
                &foreign,
            )
            .await?;
        let adopted = config_maps
            .apply_if_changed(&config_map(foreign_name, "VXLAN_ID=\"42\"\n")?, holds)
            .await?;
        assert!(adopted.written());
        let adopted = adopted.into_inner();
        assert_eq!(
            adopted
                .data
                .as_ref()
                .and_then(|d| d.get("settings.sh"))
                .map(String::as_str),
            Some("VXLAN_ID=\"42\"\n")
        );
        assert!(
            adopted
                .metadata
                .labels
                .is_some_and(|l| l.contains_key("app.kubernetes.io/managed-by"))
        );

        TestResult::Ok(())
    })
}

fn network_policy_and_other_namespaces(bed: &Bed) -> TestResult {
    let ns = "policy";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let kube = kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await?;
        let policies = kube.api::<NetworkPolicy>();
        // NetworkPolicy: the server fills defaults (protocol TCP); holds still sees "same".
        let policy: NetworkPolicy = serde_json::from_value(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "qbittorrent-vpn-killswitch"},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "qbittorrent"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
                    {"to": [{"namespaceSelector": {}}]},
                    {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                     "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
                ]
            }
        }))?;
        assert!(policies.apply_if_changed(&policy, holds).await?.written());
        bed.proxy.clear_log();
        assert!(!policies.apply_if_changed(&policy, holds).await?.written());
        assert!(bed.proxy.writes().is_empty());

        // Another namespace: the cluster DNS Service the gateway publishes
        // (docs/interface.md §3).
        let services = kube.api::<Service>().in_namespace("kube-system");
        let dns = services.get("kube-dns").await?.ok_or("kube-dns missing")?;
        assert_eq!(
            dns.spec.and_then(|s| s.cluster_ip).as_deref(),
            Some(kube_testbed::KUBE_DNS_IP)
        );
        assert!(services.get("coredns").await?.is_none());

        // Delete: true, then false (already gone).
        assert!(policies.delete("qbittorrent-vpn-killswitch").await?);
        assert!(!policies.delete("qbittorrent-vpn-killswitch").await?);
        assert!(policies.get("qbittorrent-vpn-killswitch").await?.is_none());
        TestResult::Ok(())
    })
}

fn cilium_policy_as_a_dynamic_object(bed: &Bed) -> TestResult {
    let ns = "cilium";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let kube = kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await?;
        let crds = kube.api::<CustomResourceDefinition>().cluster_scoped();
        assert!(!crds.exists("ciliumnetworkpolicies.cilium.io").await?);
        bed.cluster.install_cilium_crd()?;
        assert!(crds.exists("ciliumnetworkpolicies.cilium.io").await?);

        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
            "cilium.io",
            "v2",
            "CiliumNetworkPolicy",
        ));
        let policies = kube.dynamic(&resource);
        let desired: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
            "metadata": {"name": "qbittorrent-vpn-killswitch-cilium"},
            "spec": {
                "endpointSelector": {"matchLabels": {"app.kubernetes.io/name": "qbittorrent"}},
                "egress": [{"toEntities": ["kube-apiserver"]}]
            }
        }))?;
        let holds_dynamic =
            |live: &DynamicObject, desired: &DynamicObject| covers(&live.data, &desired.data);
        let created = policies.apply_if_changed(&desired, holds_dynamic).await?;
        assert!(created.written());
        assert_eq!(
            created.into_inner().data["spec"]["egress"][0]["toEntities"],
            json!(["kube-apiserver"])
        );
        bed.proxy.clear_log();
        assert!(
            !policies
                .apply_if_changed(&desired, holds_dynamic)
                .await?
                .written()
        );
        assert!(bed.proxy.writes().is_empty());
        assert!(
            policies
                .get("qbittorrent-vpn-killswitch-cilium")
                .await?
                .is_some()
        );
        assert!(policies.delete("qbittorrent-vpn-killswitch-cilium").await?);
        assert!(!policies.delete("qbittorrent-vpn-killswitch-cilium").await?);
        TestResult::Ok(())
    })
}

/// `Reads::Cached` asks for `resourceVersion=0` on every read, the CRD check included, while
/// the GET before a write never does: a plan made on the cache cannot make a write skip its
/// fresh check. `Reads::Latest` (the default) never asks for the cache.
fn planning_reads_come_from_the_cache_and_writes_decide_on_the_latest(bed: &Bed) -> TestResult {
    let ns = "cached";
    let app = "qbittorrent";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let admin = bed.cluster.admin_client().await?;
        create_juju_statefulset(&admin, ns, app).await?;
        let latest = kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await?;
        let cached = latest.with_reads(Reads::Cached);
        let name = "qbittorrent-gateway-client-config";
        let desired = config_map(name, "VXLAN_ID=\"42\"\n")?;
        assert!(
            latest
                .api::<ConfigMap>()
                .apply_if_changed(&desired, holds)
                .await?
                .written()
        );
        let is_cached = |path: &str| path.contains("resourceVersion=0");

        bed.proxy.clear_log();
        cached.api::<ConfigMap>().get(name).await?;
        cached
            .api::<StatefulSet>()
            .view::<serde_json::Value>()
            .get(app)
            .await?;
        cached
            .api::<CustomResourceDefinition>()
            .cluster_scoped()
            .exists("ciliumnetworkpolicies.cilium.io")
            .await?;
        latest.api::<ConfigMap>().get(name).await?;
        let paths: Vec<String> = bed.proxy.log().into_iter().map(|r| r.path).collect();
        assert_eq!(paths.len(), 4, "{paths:?}");
        assert!(paths[..3].iter().all(|p| is_cached(p)), "{paths:?}");
        assert!(!paths[3].contains("resourceVersion"), "{paths:?}");

        // Writes through the cached client: each GET before a write is the latest state.
        bed.proxy.clear_log();
        assert!(
            !cached
                .api::<ConfigMap>()
                .apply_if_changed(&desired, holds)
                .await?
                .written()
        );
        assert!(
            cached
                .api::<StatefulSet>()
                .patch(app, plan_add(app, "0badcafe"))
                .await?
                .written()
        );
        let log = bed.proxy.log();
        let gets: Vec<&str> = log
            .iter()
            .filter(|r| r.verb == Some(Verb::Get))
            .map(|r| r.path.as_str())
            .collect();
        assert_eq!(gets.len(), 2, "{log:?}");
        assert!(
            gets.iter().all(|p| !p.contains("resourceVersion")),
            "{gets:?}"
        );
        assert_eq!(bed.proxy.writes().len(), 1);
        TestResult::Ok(())
    })
}
