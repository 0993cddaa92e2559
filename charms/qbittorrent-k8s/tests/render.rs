//! The `render` CLI, run as the real binary: one JSON object on stdout, snapshots of what the
//! charm would leave in the cluster, and nothing on stdout (the field on stderr, exit ≠ 0) for
//! invalid gateway data.
#![allow(clippy::disallowed_methods)] // Test machinery: these tests run the charm binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn render(extra: &[&str]) -> Output {
    render_from(&fixture("statefulset.json"), extra)
}

fn render_from(statefulset: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qbittorrent-k8s"));
    cmd.args(["render", "--app", "qbittorrent", "--model", "downloads"])
        .arg("--statefulset")
        .arg(statefulset)
        .args(extra)
        .env_remove("JUJU_DISPATCH_PATH");
    cmd.output().expect("the binary runs")
}

fn objects(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    v["objects"].as_array().expect("objects").clone()
}

fn kinds(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap_or("?"),
                o["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn with_gateway_data() {
    let gw = fixture("gateway.json");
    let out = render(&["--gateway-data", gw.to_str().unwrap()]);
    let objs = objects(&out);
    assert_eq!(
        kinds(&objs),
        [
            "NetworkPolicy qbittorrent-vpn-killswitch",
            "ConfigMap qbittorrent-gateway-client-config",
            "StatefulSet qbittorrent"
        ]
    );
    insta::assert_json_snapshot!("with_gateway_data", objs);
}

#[test]
fn with_gateway_and_storage_data() {
    let gw = fixture("gateway.json");
    let storage = fixture("storage.json");
    let objs = objects(&render(&[
        "--gateway-data",
        gw.to_str().unwrap(),
        "--storage-data",
        storage.to_str().unwrap(),
    ]));
    let ss = objs.last().expect("the StatefulSet comes last");
    let pod = &ss["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["fsGroup"], 1000);
    let workload = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "qbittorrent")
        .unwrap();
    assert!(
        workload["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "charmarr-shared-data" && m["mountPath"] == "/data"),
        "{workload:#}"
    );
    insta::assert_json_snapshot!("with_gateway_and_storage_data", objs);
}

#[test]
fn invalid_storage_data_prints_nothing_and_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("storage.json");
    std::fs::write(&bad, r#"{"pvc_name":"x","mount_path":"/etc"}"#).unwrap();
    let out = render(&["--storage-data", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mount_path"), "{stderr}");
}

#[test]
fn with_gateway_data_and_cilium() {
    let gw = fixture("gateway.json");
    let objs = objects(&render(&[
        "--gateway-data",
        gw.to_str().unwrap(),
        "--cilium",
    ]));
    assert_eq!(
        kinds(&objs),
        [
            "NetworkPolicy qbittorrent-vpn-killswitch",
            "CiliumNetworkPolicy qbittorrent-vpn-killswitch-cilium",
            "ConfigMap qbittorrent-gateway-client-config",
            "StatefulSet qbittorrent"
        ]
    );
    insta::assert_json_snapshot!("cilium_policy", objs[1]);
}

#[test]
fn without_gateway_data_routing_is_removed() {
    // Render the routed StatefulSet, then feed it back without gateway data.
    let gw = fixture("gateway.json");
    let routed = objects(&render(&["--gateway-data", gw.to_str().unwrap()]));
    let dir = tempfile::tempdir().unwrap();
    let routed_path = dir.path().join("routed.json");
    std::fs::write(&routed_path, routed[2].to_string()).unwrap();
    let out = render_from(&routed_path, &[]);
    let objs = objects(&out);
    assert_eq!(kinds(&objs), ["StatefulSet qbittorrent"]);
    let text = objs[0].to_string();
    for ours in [
        "vpn-route-init",
        "vpn-route-sidecar",
        "pod-gateway-config",
        "gateway-client-config-hash",
    ] {
        assert!(!text.contains(ours), "{ours} left in {text}");
    }
    // The in-pod filter stays (it goes only with unsafe-mode); without it, the StatefulSet is
    // the one we started from (routing removed exactly).
    assert!(text.contains("vpn-killswitch"), "{text}");
    let mut without_filter = objs[0].clone();
    let inits = without_filter["spec"]["template"]["spec"]["initContainers"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("no init containers in {text}"));
    inits.retain(|c| c["name"] != "vpn-killswitch");
    let original = objects(&render(&[]));
    assert_eq!(vec![without_filter], original);
    insta::assert_json_snapshot!("without_gateway_data", objs);
}

#[test]
fn invalid_gateway_data_prints_nothing_and_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (data, field) in [
        (
            r#"{"gateway_dns_name":"gw;reboot","cluster_cidrs":"10.0.0.0/8","cluster_dns_ip":"10.0.0.10","instance_name":"gw"}"#,
            "gateway_dns_name",
        ),
        (
            r#"{"gateway_dns_name":"gw","cluster_cidrs":"0.0.0.0/0","cluster_dns_ip":"10.0.0.10","instance_name":"gw"}"#,
            "cluster_cidrs",
        ),
        (
            r#"{"gateway_dns_name":"gw","cluster_cidrs":"10.0.0.0/8","cluster_dns_ip":"10.0.0.10","instance_name":"gw","vxlan_id":0}"#,
            "vxlan_id",
        ),
        (
            r#"{"gateway_dns_name":"gw","cluster_cidrs":"10.0.0.0/8","cluster_dns_ip":"10.0.0.10","instance_name":"gw","routing_method":"other"}"#,
            "routing_method",
        ),
        ("not json", "config"),
    ] {
        let path = dir.path().join("gw.json");
        std::fs::write(&path, data).unwrap();
        let out = render(&["--gateway-data", path.to_str().unwrap()]);
        assert!(!out.status.success(), "{field}");
        assert!(
            out.stdout.is_empty(),
            "{field}: stdout {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("{field}:")), "{field}: {stderr}");
        assert!(!stderr.contains("reboot"), "raw input echoed: {stderr}");
    }
}

#[test]
fn compact_json_statefulset_yaml_refused_and_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("statefulset.json")).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let json_path = dir.path().join("ss.json");
    std::fs::write(&json_path, value.to_string()).unwrap();
    // YAML is refused by name: the charm binary reads JSON only (docs/adr/0024).
    let yaml_path = dir.path().join("ss.yaml");
    std::fs::write(&yaml_path, serde_saphyr::to_string(&value).unwrap()).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_qbittorrent-k8s"))
            .args(args)
            .env_remove("JUJU_DISPATCH_PATH")
            .output()
            .unwrap()
    };
    let ss = json_path.to_str().unwrap();
    let out = render_from(&json_path, &[]);
    assert_eq!(objects(&out), objects(&render(&[])));
    // Bad names and unreadable files: non-zero, nothing on stdout.
    for args in [
        vec![
            "render",
            "--app",
            "Bad_App",
            "--model",
            "downloads",
            "--statefulset",
            ss,
        ],
        vec![
            "render",
            "--app",
            "qbittorrent",
            "--model",
            "downloads",
            "--statefulset",
            "/nonexistent",
        ],
        vec!["render", "--app", "qbittorrent", "--model", "downloads"],
    ] {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let yaml = yaml_path.to_str().unwrap();
    let out = render_from(&yaml_path, &[]);
    assert!(!out.status.success() && out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{yaml} is not a StatefulSet in JSON")),
        "{stderr}"
    );
    // --help and --version work outside Juju.
    assert!(run(&["--help"]).status.success());
    assert!(run(&["--version"]).status.success());
}
