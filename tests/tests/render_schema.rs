//! Both charms' `render` output — the objects each charm leaves in the cluster — validates
//! against Kubernetes 1.29–1.34 (`--strict`), and the gateway's rendered relation data is what
//! the client renders from: the two charms agree on the wire.

use std::path::{Path, PathBuf};

use charmarr_tests::kubernetes_validate;
use serde_json::{Value, json};

const VERSIONS: [&str; 6] = ["1.29", "1.30", "1.31", "1.32", "1.33", "1.34"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A scratch directory, removed when the test ends (also when it fails).
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("charmarr-render-")
        .tempdir()
        .expect("temp dir")
}

fn gateway_render(dir: &Path) -> Value {
    let config = dir.join("gluetun-config.json");
    let options = json!({
        "cluster-cidrs": "10.1.0.0/16,10.152.183.0/24",
        "vpn-provider": "mullvad",
        "wireguard-addresses": "10.64.222.21/32",
        "wireguard-private-key-secret": "secret:d0f6t2fmp25c77ggkdsg",
        "vxlan-id": 4242,
    });
    std::fs::write(&config, options.to_string()).expect("write config");
    juju_charm::render::output::<gluetun_k8s::GluetunK8s>(&gluetun_k8s::render::RenderArgs {
        app: "vpnarr".into(),
        model: "charmarr-downloads".into(),
        statefulset: fixture("statefulset-vpnarr.json"),
        config,
        cluster_dns_ip: "10.152.183.10".parse().expect("ip"),
        vpn_connected: true,
        external_ip: Some("203.0.113.7".parse().expect("ip")),
    })
    .expect("gateway renders")
}

fn client_render(
    gateway_data: Option<PathBuf>,
    cilium: bool,
    storage_data: Option<PathBuf>,
) -> Value {
    juju_charm::render::output::<qbittorrent_k8s::QbittorrentK8s>(
        &qbittorrent_k8s::render::RenderArgs {
            app: "qbittorrent".into(),
            model: "charmarr-downloads".into(),
            statefulset: fixture("statefulset-qbittorrent.json"),
            gateway_data,
            cilium,
            storage_data,
        },
    )
    .expect("client renders")
}

fn objects(rendered: &Value) -> Vec<Value> {
    rendered["objects"]
        .as_array()
        .expect("objects is a list")
        .clone()
}

#[test]
fn rendered_objects_validate_and_the_charms_agree_on_the_wire() {
    let scratch = scratch();
    let dir = scratch.path();
    let gateway = gateway_render(dir);
    // The gateway's databag value, exactly as the client would read it from the relation.
    let databag = gateway["relation_data"]["config"]
        .as_str()
        .expect("config is a JSON string");
    let data_file = dir.join("gateway-data.json");
    std::fs::write(&data_file, databag).expect("write gateway data");
    // charmarr-storage-k8s's databag value: the routed render also mounts the shared claim.
    let storage_file = dir.join("storage-data.json");
    std::fs::write(
        &storage_file,
        r#"{"pvc_name":"charmarr-shared-media","mount_path":"/data","puid":1000,"pgid":1000}"#,
    )
    .expect("write storage data");
    let routed = client_render(Some(data_file), true, Some(storage_file));
    let unrouted = client_render(None, false, None);

    let routed_objects = objects(&routed);
    let kinds: Vec<&str> = routed_objects
        .iter()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    for kind in [
        "NetworkPolicy",
        "CiliumNetworkPolicy",
        "ConfigMap",
        "StatefulSet",
    ] {
        assert!(
            kinds.contains(&kind),
            "client render lacks {kind}: {kinds:?}"
        );
    }
    // The client's overlay settings come from the gateway's vxlan-id.
    let cm = routed_objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap")
        .expect("ConfigMap");
    let settings = cm["data"]["settings.sh"].as_str().expect("settings.sh");
    assert!(settings.contains("VXLAN_ID=\"4242\""), "{settings}");

    let statefulset = routed_objects
        .iter()
        .find(|o| o["kind"] == "StatefulSet")
        .expect("StatefulSet");
    let pod = &statefulset["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["fsGroup"], 1000, "{pod:#}");
    assert!(
        pod["volumes"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|v| v["name"] == "charmarr-shared-data"
                && v["persistentVolumeClaim"]["claimName"] == "charmarr-shared-media")),
        "{pod:#}"
    );

    let mut all = objects(&gateway);
    all.extend(routed_objects);
    all.extend(objects(&unrouted));
    assert!(all.len() >= 7, "{all:#?}");
    let failures = kubernetes_validate(&all, &VERSIONS, dir).expect("kubernetes-validate runs");
    assert!(failures.is_empty(), "schema failures: {failures:#?}");
}
