//! Juju identities on one cluster: namespace isolation, the untrusted app's real 403s,
//! `juju trust` and untrust, the Cilium CRD, StatefulSet template validation, and kubectl with
//! every kubeconfig. One cluster for the whole binary; one namespace per case.

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Api, Client};
use kube_testbed::{Cluster, NAMESPACE_NAME_LABEL, client_for};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn statefulset(name: &str, container: &str) -> Result<StatefulSet, serde_json::Error> {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "serviceName": format!("{name}-endpoints"),
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name}},
                "spec": {
                    "initContainers": [{"name": "charm-init", "image": "jujusolutions/jujud-operator:3.6"}],
                    "containers": [{"name": container, "image": "jujusolutions/charm-base:ubuntu-22.04"}],
                },
            },
        },
    }))
}

fn pod(name: &str) -> Result<Pod, serde_json::Error> {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "charm", "image": "busybox"}]},
    }))
}

/// The status code and message of an API error, or `None` for success.
fn api_error<T>(r: Result<T, kube::Error>) -> Option<(u16, String)> {
    match r {
        Ok(_) => None,
        Err(kube::Error::Api(s)) => Some((s.code, s.message)),
        Err(e) => Some((0, e.to_string())),
    }
}

fn label_patch() -> Patch<serde_json::Value> {
    Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}}))
}

#[tokio::test(flavor = "current_thread")]
async fn identities_rbac_trust_and_kubectl() -> TestResult {
    let cluster = Cluster::start()?;
    let admin = cluster.admin_client().await?;
    namespace_isolation(&cluster).await?;
    untrusted_then_trusted_then_untrusted(&cluster, &admin).await?;
    cilium_crd(&cluster, &admin).await?;
    statefulset_templates_are_validated(&admin).await?;
    kubectl_with_each_kubeconfig(&cluster)?;
    Ok(())
}

async fn namespace_isolation(cluster: &Cluster) -> TestResult {
    cluster.create_namespace("iso-a")?;
    let a = cluster.add_app("iso-a", "app")?;
    let b = cluster.add_app("iso-b", "app")?; // creates iso-b
    assert_eq!(a.username, "system:serviceaccount:iso-a:app");
    let client = client_for(&a.kubeconfig).await?;
    assert_eq!(client.default_namespace(), "iso-a");
    let own: Api<Pod> = Api::default_namespaced(client.clone());
    assert_eq!(api_error(own.list(&ListParams::default()).await), None);
    let other: Api<Pod> = Api::namespaced(client, "iso-b");
    let (code, message) =
        api_error(other.list(&ListParams::default()).await).ok_or("listed iso-b")?;
    assert_eq!(code, 403);
    assert!(
        message.contains("User \"system:serviceaccount:iso-a:app\" cannot list resource \"pods\""),
        "{message}"
    );
    let b_client = client_for(&b.kubeconfig).await?;
    let labels = Api::<Namespace>::all(cluster.admin_client().await?)
        .get("iso-b")
        .await?
        .metadata
        .labels;
    assert_eq!(
        labels
            .and_then(|l| l.get(NAMESPACE_NAME_LABEL).cloned())
            .as_deref(),
        Some("iso-b")
    );
    assert_eq!(
        api_error(
            Api::<Pod>::default_namespaced(b_client)
                .list(&ListParams::default())
                .await
        ),
        None
    );
    Ok(())
}

async fn untrusted_then_trusted_then_untrusted(cluster: &Cluster, admin: &Client) -> TestResult {
    let ns = "rbac";
    let app = cluster.add_app(ns, "gluetun")?;
    Api::<StatefulSet>::namespaced(admin.clone(), ns)
        .create(&PostParams::default(), &statefulset("gluetun", "charm")?)
        .await?;
    Api::<Pod>::namespaced(admin.clone(), ns)
        .create(&PostParams::default(), &pod("gluetun-0")?)
        .await?;
    let client = client_for(&app.kubeconfig).await?;
    let sts: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let pp = PatchParams::default();
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "cm"}}))?;

    // Untrusted: the real 403 on StatefulSets, but pods may be read and patched.
    let forbidden = |verb: &str| {
        format!(
            "statefulsets.apps \"gluetun\" is forbidden: User \"system:serviceaccount:rbac:gluetun\" cannot {verb} \
             resource \"statefulsets\" in API group \"apps\" in the namespace \"rbac\""
        )
    };
    assert_eq!(
        api_error(sts.get("gluetun").await),
        Some((403, forbidden("get")))
    );
    assert_eq!(
        api_error(sts.patch("gluetun", &pp, &label_patch()).await),
        Some((403, forbidden("patch")))
    );
    assert_eq!(api_error(pods.get("gluetun-0").await), None);
    assert_eq!(api_error(pods.list(&ListParams::default()).await), None);
    assert_eq!(
        api_error(pods.patch("gluetun-0", &pp, &label_patch()).await),
        None
    );
    assert_eq!(
        api_error(cms.create(&PostParams::default(), &cm).await).map(|e| e.0),
        Some(403)
    );

    // Trusted: everything, at once.
    cluster.trust(ns, "gluetun")?;
    assert_eq!(api_error(sts.get("gluetun").await), None);
    assert_eq!(
        api_error(sts.patch("gluetun", &pp, &label_patch()).await),
        None
    );
    assert_eq!(
        api_error(cms.create(&PostParams::default(), &cm).await),
        None
    );

    // Untrusted again: the rights are gone at once.
    cluster.untrust(ns, "gluetun")?;
    cluster.untrust(ns, "gluetun")?; // idempotent
    assert_eq!(
        api_error(sts.get("gluetun").await),
        Some((403, forbidden("get")))
    );
    Ok(())
}

async fn cilium_crd(cluster: &Cluster, admin: &Client) -> TestResult {
    cluster.create_namespace("cilium")?;
    cluster.install_cilium_crd()?;
    let gvk = GroupVersionKind::gvk("cilium.io", "v2", "CiliumNetworkPolicy");
    let api: Api<DynamicObject> = Api::namespaced_with(
        admin.clone(),
        "cilium",
        &ApiResource::from_gvk_with_plural(&gvk, "ciliumnetworkpolicies"),
    );
    let cnp: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "app-vpn-killswitch-cilium"},
        "spec": {"endpointSelector": {"matchLabels": {"app.kubernetes.io/name": "app"}},
                 "egress": [{"toEntities": ["kube-apiserver"]}]},
    }))?;
    let created = api.create(&PostParams::default(), &cnp).await?;
    assert_eq!(
        created.data["spec"]["egress"][0]["toEntities"][0],
        "kube-apiserver"
    );
    Ok(())
}

async fn statefulset_templates_are_validated(admin: &Client) -> TestResult {
    let ns = "sts-validate";
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}}))?,
        )
        .await?;
    let api: Api<StatefulSet> = Api::namespaced(admin.clone(), ns);
    let (code, message) = api_error(
        api.create(&PostParams::default(), &statefulset("bad", "Bad_Name")?)
            .await,
    )
    .ok_or("a bad container name was accepted: is the sts-validate patch missing?")?;
    assert_eq!(code, 422, "{message}");
    assert!(
        message.contains("spec.template.spec.containers[0].name"),
        "{message}"
    );
    assert_eq!(
        api_error(
            api.create(&PostParams::default(), &statefulset("good", "charm")?)
                .await
        ),
        None
    );
    Ok(())
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Result<(bool, String), std::io::Error> {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

fn kubectl_with_each_kubeconfig(cluster: &Cluster) -> TestResult {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED kubectl checks: no kubectl on PATH (make testbed installs Debian's kubernetes-client)"
        );
        return Ok(());
    }
    let (ok, text) = kubectl(
        cluster.admin_kubeconfig(),
        &["get", "namespace", "kube-system", "--show-labels"],
    )?;
    assert!(
        ok && text.contains("kubernetes.io/metadata.name=kube-system"),
        "{text}"
    );
    let app = cluster.add_app("kubectl", "app")?;
    let (ok, text) = kubectl(&app.kubeconfig, &["get", "pods"])?;
    assert!(ok, "{text}");
    let (_, text) = kubectl(&app.kubeconfig, &["auth", "can-i", "patch", "statefulsets"])?;
    assert_eq!(text.trim(), "no");
    let (_, text) = kubectl(
        &app.kubeconfig,
        &["auth", "can-i", "create", "pods", "--subresource=exec"],
    )?;
    assert_eq!(text.trim(), "yes");
    let (ok, text) = kubectl(&app.kubeconfig, &["get", "statefulsets"])?;
    assert!(!ok && text.contains("forbidden"), "{text}");
    Ok(())
}
