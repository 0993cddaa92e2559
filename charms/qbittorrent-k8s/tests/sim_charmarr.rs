//! The charmarr relations against the reference library itself, not our reading of it: two
//! stand-in charms written with ops and `charmarr-lib-core` 0.18.0 (the version the reference
//! charms pin), from PyPI, related to the real qbittorrent-k8s binary in the simulator.
//!
//! - `tests/charms/manager` requires `download-client` (as Radarr does): it publishes with
//!   the library's requirer, parses our `config` with the library's model and reads the
//!   credentials secret we granted.
//! - `tests/charms/storage` provides `media-storage` (as charmarr-storage-k8s does) with the
//!   library's provider: we mount the claim it names.
//!
//! Setup: the library is installed once into `${XDG_CACHE_HOME:-$HOME/.cache}/charmarr-rs/
//! charmarr-lib-venv` (it needs Python ≥ 3.12), under `flock`; `JUJU_SIM_SKIP_OPS=1` skips.

#![allow(clippy::disallowed_methods)] // Test machinery: the venv is set up with pip under flock.

mod sim_common;

use std::fmt::Write as _;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use juju_sim::model::Model;
use serde_json::Value;
use sim_common::{APP, Objects, TestResult, UNIT, failures_since, kv, model, status};

/// The pinned reference library.
const LIBRARY: &str = "charmarr-lib-core==0.18.0";

/// The venv's python with the library importable, created on first use; `None` (skip) when
/// `JUJU_SIM_SKIP_OPS` is set. Panics, naming the venv, when it cannot be set up.
fn library_python() -> Option<PathBuf> {
    if std::env::var_os("JUJU_SIM_SKIP_OPS").is_some() {
        eprintln!("skipped: JUJU_SIM_SKIP_OPS is set");
        return None;
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let root = cache.join("charmarr-rs");
    let venv = root.join("charmarr-lib-venv");
    let python = venv.join("bin/python");
    // The first interpreter of at least 3.12 (the library's floor) makes the venv; pyenv's
    // installed versions count too (its shims refuse versions that are not selected).
    let script = format!(
        r#"{py} -c 'import charmarr_lib.core.interfaces' 2>/dev/null && exit 0
for cand in python3.14 python3.13 python3.12 python3 "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3; do
  if "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    rm -rf {v} && "$cand" -m venv {v} && {v}/bin/pip install -q '{lib}' && exit 0
    exit 1
  fi
done
echo 'no python >= 3.12 found' >&2
exit 1"#,
        py = python.display(),
        v = venv.display(),
        lib = LIBRARY,
    );
    let ok = std::fs::create_dir_all(&root).is_ok()
        && Command::new("flock")
            .arg(root.join(".charmarr-lib-venv.lock"))
            .args(["sh", "-c", &script])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "could not set up {} (python >= 3.12 -m venv; pip install {LIBRARY}); \
         set JUJU_SIM_SKIP_OPS=1 to skip",
        venv.display()
    );
    Some(python)
}

/// A stand-in charm copied into `dir` with a charmcraft-style `dispatch` on `python`.
fn ops_charm(name: &str, dir: &Path, python: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/charms")
        .join(name);
    std::fs::create_dir_all(dir.join("src"))?;
    for file in ["metadata.yaml", "config.yaml", "src/charm.py"] {
        std::fs::copy(src.join(file), dir.join(file))?;
    }
    let dispatch = dir.join("dispatch");
    std::fs::write(
        &dispatch,
        format!(
            "#!/bin/sh\nJUJU_DISPATCH_PATH=\"${{JUJU_DISPATCH_PATH:-$0}}\" PYTHONPATH=lib exec {} ./src/charm.py\n",
            python.display()
        ),
    )?;
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755))?;
    Ok(dir.display().to_string())
}

/// Our application's data on the relation with `remote`.
fn our_data(model: &Model, remote: &str) -> Option<String> {
    model
        .state()
        .model
        .relations
        .iter()
        .find(|r| !r.dying && r.endpoints.iter().any(|e| e.app == remote))
        .and_then(|r| r.app_data.get(APP))
        .and_then(|bag| bag.get("config"))
        .cloned()
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .fold(String::new(), |mut hex, b| {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// The shared claim in the StatefulSet template: `(claim, mount path, fsGroup)`.
fn template_mount(objects: &Objects) -> Option<(String, String, i64)> {
    let ss = serde_json::to_value(objects.statefulset.as_ref()?).ok()?;
    let pod = &ss["spec"]["template"]["spec"];
    let claim = pod["volumes"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == "charmarr-shared-data")?["persistentVolumeClaim"]["claimName"]
        .as_str()?
        .to_owned();
    let path = pod["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == "qbittorrent")?["volumeMounts"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == "charmarr-shared-data")?["mountPath"]
        .as_str()?
        .to_owned();
    let fs_group = pod["securityContext"]["fsGroup"].as_i64()?;
    Some((claim, path, fs_group))
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, step by step
fn reference_manager_and_storage_provider() -> TestResult {
    let Some(python) = library_python() else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let manager = ops_charm("manager", &tmp.path().join("manager"), &python)?;
    let storage = ops_charm("storage", &tmp.path().join("storage"), &python)?;
    let mut model = model(&tmp.path().join("model"))?;
    // unsafe-mode: the VPN side is covered by the other scenarios.
    model.deploy(
        "qbittorrent-k8s",
        Some(APP),
        true,
        &kv(&[("unsafe-mode", "true")]),
    )?;

    // --- media-storage: the library's provider data becomes our mount.
    model.deploy(&storage, Some("storage"), false, &[])?;
    model.relate(&format!("{APP}:media-storage"), "storage:media-storage")?;
    assert_eq!(failures_since(&model, 0), Vec::<String>::new());
    let objects = Objects::read(&model);
    assert_eq!(
        template_mount(&objects),
        Some(("charmarr-shared-media".into(), "/data".into(), 1000))
    );
    let pod = serde_json::to_value(objects.pod.as_ref().ok_or("no pod")?)?;
    assert!(
        pod["spec"]["volumes"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|v| v["name"] == "charmarr-shared-data")),
        "the running pod carries the claim"
    );
    assert_eq!(sim_common::service(&model, UNIT).as_deref(), Some("active"));

    // --- download-client: the library's model parses our data; the secret is readable.
    model.deploy(&manager, Some("radarr"), false, &[])?;
    model.relate(&format!("{APP}:download-client"), "radarr:download-client")?;
    assert_eq!(failures_since(&model, 0), Vec::<String>::new());
    let credentials = model.run_action(UNIT, "get-credentials", &[])?;
    let password = credentials.results["password"]
        .as_str()
        .ok_or("get-credentials: no password")?;
    let (level, message) = status(&model, "radarr/0");
    assert_eq!(level, "active", "{message}");
    assert_eq!(
        message,
        format!(
            "client=qbittorrent type=torrent url=http://qbittorrent.{}.svc.cluster.local:8080 \
             instance=qbittorrent base=None user=charmarr pw={}",
            sim_common::MODEL,
            sha256_hex(password)
        )
    );

    // --- the qBittorrent side: the manager's category under the shared volume, and the
    // default save path with automatic torrent management.
    let conf_path = sim_common::find_conf(model.dir()).ok_or("no qBittorrent.conf")?;
    let conf = std::fs::read_to_string(&conf_path)?;
    assert!(
        conf.contains("Session\\DefaultSavePath=/data/torrents\n")
            && conf.contains("Session\\DisableAutoTMMByDefault=false\n"),
        "{conf}"
    );
    let categories: Value = serde_json::from_str(&std::fs::read_to_string(
        conf_path.with_file_name("categories.json"),
    )?)?;
    assert_eq!(
        categories,
        serde_json::json!({"radarr": {"save_path": "/data/torrents/movies"}})
    );
    assert_eq!(sim_common::service(&model, UNIT).as_deref(), Some("active"));

    // --- steady state: another hook writes nothing (no relation-set, no second grant).
    let from = model.history().len();
    model.update_status()?;
    let tools: Vec<String> = model.history()[from..]
        .iter()
        .filter(|r| r.unit == UNIT)
        .flat_map(|r| r.tool_calls.iter().map(|c| c.argv.join(" ")))
        .filter(|c| c.starts_with("relation-set") || c.starts_with("secret-grant"))
        .collect();
    assert_eq!(tools, Vec::<String>::new());
    assert_eq!(
        sim_common::writes(&sim_common::requests_since(&model, UNIT, from)),
        Vec::<String>::new(),
        "no Kubernetes write either"
    );

    // --- rotation: the manager follows the new revision (secret-changed).
    model.run_action(UNIT, "rotate-credentials", &[])?;
    let rotated = model.run_action(UNIT, "get-credentials", &[])?;
    let new_password = rotated.results["password"].as_str().ok_or("no password")?;
    assert_ne!(new_password, password);
    assert!(
        status(&model, "radarr/0")
            .1
            .ends_with(&sha256_hex(new_password)),
        "{:?}",
        status(&model, "radarr/0")
    );

    // --- hostile manager data: Blocked naming the field, nothing published to it.
    model.deploy(
        &manager,
        Some("sonarr"),
        false,
        &kv(&[(
            "data",
            r#"{"manager":"sonarr","instance_name":"$(touch /tmp/x)"}"#,
        )]),
    )?;
    model.relate(&format!("{APP}:download-client"), "sonarr:download-client")?;
    assert_eq!(failures_since(&model, 0), Vec::<String>::new());
    let (level, message) = status(&model, UNIT);
    assert_eq!(level, "blocked");
    assert!(
        message.contains("sonarr") && message.contains("instance_name:"),
        "{message}"
    );
    assert!(!message.contains("touch"), "the value is not echoed");
    assert_eq!(our_data(&model, "sonarr"), None, "nothing published to it");
    assert!(our_data(&model, "radarr").is_some());
    model.remove_relation(&format!("{APP}:download-client"), "sonarr:download-client")?;

    // --- hostile storage data: Blocked naming the field, the mount is not changed.
    model.config(
        "storage",
        &kv(&[("data", r#"{"pvc_name":"x","mount_path":"/etc"}"#)]),
    )?;
    assert_eq!(failures_since(&model, 0), Vec::<String>::new());
    let (level, message) = status(&model, UNIT);
    assert_eq!(
        (
            level.as_str(),
            message.starts_with("invalid media-storage data: mount_path:")
        ),
        ("blocked", true),
        "{message}"
    );
    assert_eq!(
        template_mount(&Objects::read(&model)),
        Some(("charmarr-shared-media".into(), "/data".into(), 1000))
    );
    assert_ne!(sim_common::service(&model, UNIT).as_deref(), Some("active"));

    // --- the relation goes: the claim goes with it (a pod tied to a deleted claim cannot
    // start), and qBittorrent runs standalone.
    model.remove_relation(&format!("{APP}:media-storage"), "storage:media-storage")?;
    assert_eq!(failures_since(&model, 0), Vec::<String>::new());
    let objects = Objects::read(&model);
    let ss = serde_json::to_value(objects.statefulset.as_ref().ok_or("no statefulset")?)?;
    let pod = &ss["spec"]["template"]["spec"];
    assert!(
        !pod["volumes"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|v| v["name"] == "charmarr-shared-data")),
        "{pod:#}"
    );
    assert_eq!(pod["securityContext"]["fsGroup"], Value::Null);
    assert_eq!(sim_common::service(&model, UNIT).as_deref(), Some("active"));
    Ok(())
}

/// The endpoints declared only for refresh parity (README, "Declared, not implemented yet"):
/// relating them, even to an application that writes junk into them, runs our hooks without
/// an error, writes nothing anywhere and leaves the status as it was.
#[test]
fn declared_only_endpoints_are_harmless() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut model = model(tmp.path())?;
    model.deploy(
        "qbittorrent-k8s",
        Some(APP),
        true,
        &kv(&[("unsafe-mode", "true")]),
    )?;
    let before = status(&model, UNIT);
    assert_eq!(before.0, "active", "{before:?}");
    let observer = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/charms/observer")
        .display()
        .to_string();
    model.deploy(&observer, Some("observer"), false, &[])?;
    let from = model.history().len();
    model.relate(&format!("{APP}:metrics-endpoint"), "observer:metrics")?;
    model.relate(&format!("{APP}:logging"), "observer:logging")?;
    model.update_status()?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let junk = model
        .state()
        .model
        .relations
        .iter()
        .filter(|r| {
            r.app_data
                .get("observer")
                .and_then(|b| b.get("config"))
                .map(String::as_str)
                == Some("$(reboot)")
        })
        .count();
    assert_eq!(junk, 2, "the observer wrote junk on both relations");
    let ours: Vec<_> = model.history()[from..]
        .iter()
        .filter(|r| r.unit == UNIT)
        .collect();
    assert!(
        ours.iter()
            .any(|r| r.hook == "metrics-endpoint-relation-changed")
            && ours.iter().any(|r| r.hook == "logging-relation-changed"),
        "our hooks ran: {:?}",
        ours.iter().map(|r| &r.hook).collect::<Vec<_>>()
    );
    let writes: Vec<String> = ours
        .iter()
        .flat_map(|r| r.tool_calls.iter().map(|c| c.argv.join(" ")))
        .filter(|c| {
            ["relation-set", "secret-", "open-port", "close-port"]
                .iter()
                .any(|w| c.starts_with(w))
                && !c.starts_with("secret-get")
                && !c.starts_with("secret-info-get")
        })
        .collect();
    assert_eq!(writes, Vec::<String>::new());
    let api_writes: Vec<String> = ours
        .iter()
        .flat_map(|r| r.api_requests.clone())
        .filter(|r| !r.starts_with("GET "))
        .collect();
    assert_eq!(api_writes, Vec::<String>::new());
    assert_eq!(status(&model, UNIT), before);
    Ok(())
}
