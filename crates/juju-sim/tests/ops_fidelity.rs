//! Fidelity against Juju's contract, not our runtime's: an unmodified charm written with ops
//! (Canonical's Python framework, from PyPI) runs in the simulator and sees what it would see
//! under real Juju. It reads config, writes and reads relation data (with the shell charm on
//! the other side), sets unit and application status, reads a user secret granted to it and
//! follows its new revision (`secret-changed`), adds a Pebble layer, pushes a file and replans
//! (ops finds Pebble at `/charm/containers/web/pebble.socket`, inside the hook's mount
//! namespace), runs an action, and restores everything after a pod restart.
//!
//! Setup: ops is installed once into `${XDG_CACHE_HOME:-$HOME/.cache}/charmarr-rs/ops-venv`
//! (`python3 -m venv` + `pip install ops`, under `flock`). The charm's `dispatch` is written
//! as charmcraft generates it, pointing at that venv's interpreter; `src/charm.py` is the
//! charm, unchanged.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[path = "support/ops_venv.rs"]
mod ops_venv;

use juju_sim::model::Model;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;
use kube::api::{Patch, PatchParams};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

/// The ops charm directory with a charmcraft-style `dispatch`.
fn ops_charm(dir: &Path, python: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charms/ops");
    copy_dir(&src, dir)?;
    let dispatch = dir.join("dispatch");
    std::fs::write(
        &dispatch,
        format!(
            "#!/bin/sh\nJUJU_DISPATCH_PATH=\"${{JUJU_DISPATCH_PATH:-$0}}\" PYTHONPATH=lib:venv exec {} ./src/charm.py\n",
            python.display()
        ),
    )?;
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755))?;
    Ok(dir.display().to_string())
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn unit_status(model: &Model, app: &str, unit: &str) -> String {
    let s = model.status();
    let w = &s["applications"][app]["units"][unit]["workload-status"];
    format!(
        "{} {}",
        w["current"].as_str().unwrap_or_default(),
        w["message"].as_str().unwrap_or_default()
    )
}

fn failures(model: &Model) -> Vec<String> {
    model
        .history()
        .iter()
        .filter(|r| r.code != 0)
        .map(|r| format!("{} {} exit {}:\n{}", r.unit, r.hook, r.code, r.stderr))
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)]
fn ops_charm_runs_unchanged() -> TestResult {
    let Some(python) = ops_venv::ops_python() else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let charm = ops_charm(&tmp.path().join("ops-charm"), &python)?;
    let shell = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/charms/shell")
        .display()
        .to_string();
    juju_sim::runner::set_tool_binary(Path::new(env!("CARGO_BIN_EXE_juju-sim-tool")));
    let mut model = Model::new(&tmp.path().join("model"), "ops-fidelity")?;

    model.deploy(&charm, Some("o"), false, &kv(&[("name", "alice")]))?;
    assert!(failures(&model).is_empty(), "{:#?}", failures(&model));
    assert_eq!(
        unit_status(&model, "o", "o/0"),
        "active name=alice acks=- token=no running=True"
    );

    // A user secret granted to the app, referenced from config.
    let uri = model.add_secret("tok", &kv(&[("token", "s3cret")]))?;
    assert!(uri.starts_with("secret:"), "{uri}");
    model.grant_secret("tok", "o")?;
    model.config("o", &kv(&[("token-secret", &uri)]))?;

    // Relation data both ways with the shell charm.
    model.deploy(&shell, Some("s"), false, &[])?;
    model.relate("o:info", "s:dst")?;
    assert!(failures(&model).is_empty(), "{:#?}", failures(&model));
    assert_eq!(
        unit_status(&model, "o", "o/0"),
        "active name=alice acks=alice token=yes running=True"
    );
    assert_eq!(unit_status(&model, "s", "s/0"), "active got alice");
    let status = model.status();
    assert_eq!(
        status["applications"]["o"]["application-status"]["message"],
        "serving alice"
    );
    assert_eq!(
        status["applications"]["o"]["relations"]["info"][0]["related-application"],
        "s"
    );
    let rel = model
        .state()
        .model
        .relations
        .iter()
        .find(|r| !r.is_peer())
        .ok_or("no relation")?;
    assert_eq!(rel.app_data["o"]["greeting"], "alice");
    assert_eq!(rel.unit_data["o/0"]["unit"], "o/0");
    assert_eq!(rel.app_data["s"]["ack"], "alice");

    // Pebble: the layer, the running service and the pushed file (mode 0600).
    let pebble = model.pebble("o/0", "web").ok_or("no pebble")?;
    let command = pebble["plan"]["services"]["web"]["command"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(command.ends_with("--name alice"), "{pebble}");
    assert_eq!(pebble["services"]["web"], "active");
    let root = PathBuf::from(pebble["root"].as_str().unwrap_or_default());
    let token_file = root.join("etc/web/token");
    assert_eq!(std::fs::read_to_string(&token_file)?, "s3cret");
    assert_eq!(
        std::fs::metadata(&token_file)?.permissions().mode() & 0o777,
        0o600
    );

    // A new revision reaches the tracking consumer as secret-changed.
    let mark = model.history().len();
    model.update_secret("tok", &kv(&[("token", "n3w")]))?;
    assert!(
        model.history()[mark..]
            .iter()
            .any(|r| r.unit == "o/0" && r.hook == "secret-changed" && r.code == 0),
        "{:?}",
        model.history()[mark..]
            .iter()
            .map(|r| &r.hook)
            .collect::<Vec<_>>()
    );
    assert_eq!(std::fs::read_to_string(&token_file)?, "n3w");

    // Config change → config-changed → replan with the new command.
    model.config("o", &kv(&[("name", "bob")]))?;
    let pebble = model.pebble("o/0", "web").ok_or("no pebble")?;
    assert!(
        pebble["plan"]["services"]["web"]["command"]
            .as_str()
            .unwrap_or_default()
            .ends_with("--name bob")
    );
    assert_eq!(unit_status(&model, "s", "s/0"), "active got bob");

    // An action.
    let out = model.run_action("o/0", "plan", &[])?;
    assert_eq!(out.status, "completed", "{out:?}");
    assert!(
        out.results["command"]
            .as_str()
            .unwrap_or_default()
            .ends_with("--name bob")
    );

    // A pod restart wipes Pebble; the charm's churn hooks rebuild it.
    let boot = pebble["boot-id"].clone();
    let mark = model.history().len();
    model.with_admin(|c| async move {
        Api::<StatefulSet>::namespaced(c, "ops-fidelity")
            .patch(
                "o",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"template": {"metadata": {"annotations": {"x": "1"}}}}})),
            )
            .await
    })?;
    model.settle_now()?;
    let hooks: Vec<&str> = model.history()[mark..]
        .iter()
        .filter(|r| r.unit == "o/0")
        .map(|r| r.hook.as_str())
        .collect();
    assert_eq!(
        hooks,
        [
            "upgrade-charm",
            "config-changed",
            "start",
            "web-pebble-ready"
        ]
    );
    let pebble = model.pebble("o/0", "web").ok_or("no pebble")?;
    assert_ne!(pebble["boot-id"], boot);
    assert_eq!(pebble["services"]["web"], "active");
    assert_eq!(std::fs::read_to_string(&token_file)?, "n3w");
    assert!(failures(&model).is_empty(), "{:#?}", failures(&model));

    // Scale up: the new unit runs install..pebble-ready and joins the peer relation.
    let mark = model.history().len();
    model.scale("o", 2)?;
    let hooks: Vec<&str> = model.history()[mark..]
        .iter()
        .filter(|r| r.unit == "o/1")
        .map(|r| r.hook.as_str())
        .collect();
    assert_eq!(
        &hooks[..6],
        [
            "install",
            "cluster-relation-created",
            "leader-settings-changed",
            "config-changed",
            "start",
            "web-pebble-ready"
        ],
        "{hooks:?}"
    );
    assert!(hooks.contains(&"cluster-relation-joined"), "{hooks:?}");
    assert!(failures(&model).is_empty(), "{:#?}", failures(&model));
    assert_eq!(
        unit_status(&model, "o", "o/1"),
        "active name=bob acks=bob token=yes running=True"
    );
    Ok(())
}
