//! `gluetun-k8s render`, run as the built binary: the output snapshot, the Pebble layer with
//! its environment, JSON input (YAML refused), idempotence on its own output, and invalid
//! input (exit ≠ 0, reason on stderr, nothing on stdout).
#![allow(clippy::disallowed_methods)] // Test machinery: these tests run the charm binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_gluetun-k8s");

fn statefulset() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "vpnarr", "namespace": "downloads", "resourceVersion": "7"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "vpnarr"}},
            "serviceName": "vpnarr-endpoints",
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "vpnarr"}},
                "spec": {
                    "initContainers": [{"name": "charm-init", "image": "jujud-operator"}],
                    "containers": [
                        {"name": "charm", "image": "charm-base",
                         "imagePullPolicy": "IfNotPresent"},
                        {"name": "gluetun", "image": "ghcr.io/qdm12/gluetun:v3.41.1"}
                    ]
                }
            }
        }
    })
}

fn config() -> Value {
    json!({
        "cluster-cidrs": "10.1.0.0/16,10.152.183.0/24",
        "vpn-provider": "mullvad",
        "wireguard-addresses": "10.64.222.21/32",
        "vxlan-id": 42
    })
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }
}

fn render(statefulset: &Path, config: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .env_remove("JUJU_DISPATCH_PATH")
        .arg("render")
        .args(["--app", "vpnarr", "--model", "downloads"])
        .arg("--statefulset")
        .arg(statefulset)
        .arg("--config")
        .arg(config)
        .args(["--cluster-dns-ip", "10.152.183.10"])
        .args(extra)
        .output()
        .unwrap()
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn render_snapshot() {
    let files = Files::new();
    let sts = files.write("sts.json", &statefulset().to_string());
    let cfg = files.write("config.json", &config().to_string());
    let out = ok_json(&render(
        &sts,
        &cfg,
        &["--vpn-connected", "--external-ip", "198.51.100.4"],
    ));
    insta::assert_json_snapshot!("render_connected", out);
    // The relation data is itself a JSON string with the exact provider fields.
    let data: Value =
        serde_json::from_str(out["relation_data"]["config"].as_str().unwrap()).unwrap();
    assert_eq!(data["vpn_connected"], json!(true));
    assert_eq!(data["external_ip"], json!("198.51.100.4"));
    assert_eq!(
        data["gateway_dns_name"],
        json!("vpnarr-endpoints.downloads.svc.cluster.local")
    );
    // Exactly two objects: the ConfigMap, then the patched StatefulSet.
    let kinds: Vec<&str> = out["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ConfigMap", "StatefulSet"]);
    // The Pebble layer, environment included; the keys are files, never in it.
    let service = &out["pebble_layer"]["services"]["gluetun"];
    assert_eq!(service["command"], json!("/gluetun-entrypoint"));
    assert_eq!(service["environment"]["VPN_TYPE"], json!("wireguard"));
    assert_eq!(
        service["environment"]["WIREGUARD_PRIVATE_KEY_SECRETFILE"],
        json!("/gluetun/secrets/wireguard_private_key")
    );
    assert!(!out.to_string().contains("render-placeholder"));
}

#[test]
fn render_shows_custom_overrides_in_the_layer_and_refuses_the_charms() {
    let files = Files::new();
    let sts = files.write("sts.json", &statefulset().to_string());
    let mut cfg = config();
    cfg["custom-overrides"] = json!(r#"{"LOG_LEVEL": "debug", "UPDATER_PERIOD": "24h"}"#);
    let out = ok_json(&render(&sts, &files.write("c.json", &cfg.to_string()), &[]));
    let env = &out["pebble_layer"]["services"]["gluetun"]["environment"];
    assert_eq!(
        (
            &env["LOG_LEVEL"],
            &env["UPDATER_PERIOD"],
            &env["FIREWALL_OUTBOUND_SUBNETS"]
        ),
        (
            &json!("debug"),
            &json!("24h"),
            &json!("10.1.0.0/16,10.152.183.0/24")
        )
    );
    for (name, reason) in [
        ("FIREWALL", "FIREWALL would weaken gluetun's firewall"),
        (
            "VPN_TYPE",
            "VPN_TYPE is set by the charm (always wireguard)",
        ),
        ("OPENVPN_PASSWORD", "OPENVPN_PASSWORD is a secret"),
    ] {
        cfg["custom-overrides"] = json!(json!({ name: "v4lue-never-echoed" }).to_string());
        let out = render(&sts, &files.write("bad.json", &cfg.to_string()), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && out.stdout.is_empty(), "{name}");
        assert!(stderr.contains(reason), "{name}: {stderr}");
        assert!(!stderr.contains("v4lue"), "{name}: {stderr}");
    }
}

#[test]
fn yaml_input_is_refused_and_render_is_idempotent() {
    let files = Files::new();
    let cfg = files.write("config.json", &config().to_string());
    let json_out = ok_json(&render(
        &files.write("sts.json", &statefulset().to_string()),
        &cfg,
        &[],
    ));
    // The charm binary reads JSON only (docs/adr/0024); YAML gets a reason naming the file.
    let yaml = serde_saphyr::to_string(&statefulset()).unwrap();
    let yaml_path = files.write("sts.yaml", &yaml);
    let out = render(&yaml_path, &cfg, &[]);
    assert!(!out.status.success() && out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{} is not a StatefulSet in JSON", yaml_path.display());
    assert!(stderr.contains(&expected), "{stderr}");
    let data: Value =
        serde_json::from_str(json_out["relation_data"]["config"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&data["vpn_connected"], &data["external_ip"]),
        (&json!(false), &Value::Null)
    );
    // Connected without a known exit IP: connected, IP null.
    let out = ok_json(&render(
        &files.write("sts2.json", &statefulset().to_string()),
        &cfg,
        &["--vpn-connected"],
    ));
    let data: Value =
        serde_json::from_str(out["relation_data"]["config"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&data["vpn_connected"], &data["external_ip"]),
        (&json!(true), &Value::Null)
    );
    // Rendering on the StatefulSet it produced changes nothing.
    let patched = json_out["objects"][1].to_string();
    let again = ok_json(&render(&files.write("patched.json", &patched), &cfg, &[]));
    assert_eq!(again, json_out);
}

#[test]
fn invalid_input_exits_non_zero_with_nothing_on_stdout() {
    let files = Files::new();
    let sts = files.write("sts.json", &statefulset().to_string());
    let cfg = files.write("config.json", &config().to_string());
    let mut no_gluetun = statefulset();
    no_gluetun["spec"]["template"]["spec"]["containers"] = json!([{"name": "charm"}]);
    let mut other_name = statefulset();
    other_name["metadata"]["name"] = json!("qbittorrent");
    let mut bad_cidr = config();
    bad_cidr["cluster-cidrs"] = json!("0.0.0.0/0");
    let mut bad_vxlan = config();
    bad_vxlan["vxlan-id"] = json!(0);
    let missing = files.dir.path().join("absent.json");
    let cases: Vec<(&str, PathBuf, PathBuf, Vec<&str>, &str)> = vec![
        (
            "bad cidr",
            sts.clone(),
            files.write("c1.json", &bad_cidr.to_string()),
            vec![],
            "cluster-cidrs",
        ),
        (
            "bad vxlan",
            sts.clone(),
            files.write("c2.json", &bad_vxlan.to_string()),
            vec![],
            "vxlan-id",
        ),
        (
            "config not an object",
            sts.clone(),
            files.write("c3.json", "[1]"),
            vec![],
            "JSON object",
        ),
        (
            "config not JSON",
            sts.clone(),
            files.write("c4.json", "cluster-cidrs: x"),
            vec![],
            "not JSON",
        ),
        (
            "statefulset garbage",
            files.write("s1.json", "{{{"),
            cfg.clone(),
            vec![],
            "not a StatefulSet",
        ),
        (
            "no gluetun container",
            files.write("s2.json", &no_gluetun.to_string()),
            cfg.clone(),
            vec![],
            "gluetun",
        ),
        (
            "not our StatefulSet",
            files.write("s3.json", &other_name.to_string()),
            cfg.clone(),
            vec![],
            "qbittorrent",
        ),
        ("missing file", missing, cfg.clone(), vec![], "cannot read"),
        (
            "external ip without connected",
            sts.clone(),
            cfg.clone(),
            vec!["--external-ip", "198.51.100.4"],
            "--vpn-connected",
        ),
        (
            "bad external ip",
            sts.clone(),
            cfg.clone(),
            vec!["--vpn-connected", "--external-ip", "1.2.3"],
            "external-ip",
        ),
    ];
    for (name, s, c, extra, reason) in cases {
        let out = render(&s, &c, &extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}");
        assert!(out.stdout.is_empty(), "{name}: stdout {:?}", out.stdout);
        assert!(stderr.contains(reason), "{name}: {stderr}");
    }
    // Bad names.
    for (flag, value) in [("--app", "Bad_App"), ("--model", "-x")] {
        let out = Command::new(BIN)
            .env_remove("JUJU_DISPATCH_PATH")
            .args(["render", "--app", "vpnarr", "--model", "downloads"])
            .args([flag, value])
            .arg("--statefulset")
            .arg(&sts)
            .arg("--config")
            .arg(&cfg)
            .args(["--cluster-dns-ip", "10.152.183.10"])
            .output()
            .unwrap();
        assert!(!out.status.success() && out.stdout.is_empty(), "{flag}");
    }
}

#[test]
fn help_and_version() {
    let out = Command::new(BIN)
        .env_remove("JUJU_DISPATCH_PATH")
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("gluetun-k8s"));
    let out = Command::new(BIN)
        .env_remove("JUJU_DISPATCH_PATH")
        .args(["render", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--cluster-dns-ip"));
}
