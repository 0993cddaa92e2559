//! Fidelity of the model with a shell-script charm (tests/charms/shell): Juju's hook order and
//! environment, relation data exchange, leader-only application data, a failing hook's
//! discarded changes and its retry, the real 403 when untrusted, a pod restart when the pod
//! template changes, the restart-loop bound, and what Juju 3.6 creates in Kubernetes.
//!
//! One cluster for the whole file (started by `Model::new`, stopped when it drops, also on a
//! failed assertion: the model is dropped while the panic unwinds).

use std::path::{Path, PathBuf};

use juju_sim::model::{Model, ModelError};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Api;
use kube::api::{Patch, PatchParams};

#[path = "support/history.rs"]
mod history;
use history::hooks_since;

type TestResult = Result<(), Box<dyn std::error::Error>>;
/// (hook, exit code, retry attempt and backoff).
type Run = (String, i32, Option<(u32, u64)>);

fn charm() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/charms/shell")
        .display()
        .to_string()
}

fn unit_state(model: &Model, unit: &str) -> PathBuf {
    model
        .dir()
        .join("units")
        .join(unit.replace('/', "-"))
        .join("charm/.state")
}

fn read(model: &Model, unit: &str, file: &str) -> String {
    std::fs::read_to_string(unit_state(model, unit).join(file)).unwrap_or_default()
}

fn status(model: &Model, app: &str, unit: &str) -> (String, String) {
    let s = model.status();
    let w = &s["applications"][app]["units"][unit]["workload-status"];
    (
        w["current"].as_str().unwrap_or_default().to_owned(),
        w["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The charm-init container's args of the running pod `<app>-0`, space-joined.
fn pod_spec_args(model: &Model, app: &str) -> Result<String, Box<dyn std::error::Error>> {
    let name = format!("{app}-0");
    let pod = model
        .with_admin(|c| async move { Api::<Pod>::namespaced(c, "fidelity").get(&name).await })?;
    Ok(pod
        .spec
        .and_then(|s| s.init_containers)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.name == "charm-init")
        .and_then(|c| c.args)
        .unwrap_or_default()
        .join(" "))
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet). SIGKILL is
/// delivered asynchronously, so this waits for the kernel for at most 5 s.
fn ended(pid: u32) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().and_then(|r| r.trim().chars().next()));
        if matches!(state, None | Some('Z' | 'X')) {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::yield_now();
    }
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)]
fn shell_charm_sees_juju() -> TestResult {
    let tmp = tempfile::tempdir()?;
    juju_sim::runner::set_tool_binary(Path::new(env!("CARGO_BIN_EXE_juju-sim-tool")));
    let mut model = Model::new(tmp.path(), "fidelity")?;

    // --- deploy: Juju's order and environment.
    model.deploy(&charm(), Some("a"), false, &kv(&[("greeting", "hello")]))?;
    assert_eq!(
        hooks_since(&model, "a/0", 0),
        [
            "data-storage-attached",
            "install",
            "leader-elected",
            "config-changed",
            "start",
            "work-pebble-ready"
        ]
    );
    let env = read(&model, "a/0", "env-install");
    for want in [
        "JUJU_DISPATCH_PATH=hooks/install",
        "JUJU_UNIT_NAME=a/0",
        "JUJU_MODEL_NAME=fidelity",
        "JUJU_VERSION=3.6.4",
        "JUJU_HOOK_NAME=install",
        "JUJU_AGENT_SOCKET_NETWORK=unix",
        "KUBECONFIG=",
        "KUBERNETES_SERVICE_HOST=10.0.0.1",
        "KUBERNETES_SERVICE_PORT=443",
        "JUJU_CONTEXT_ID=a/0-install-",
    ] {
        assert!(env.contains(want), "{want} missing from\n{env}");
    }
    // Nothing of ours: a charm finds Pebble and its workload where Juju puts them.
    assert!(!env.contains("CHARMARR_"), "{env}");
    // The hook ran in the unit's pod: its eth0 has the address network-get reports.
    let addr = read(&model, "a/0", "addr-install");
    let pod_ip = model.state().model.applications["a"].units["a/0"]
        .address
        .clone()
        .unwrap_or_default();
    assert!(pod_ip.starts_with("10.1."), "pod address {pod_ip:?}");
    assert!(addr.contains(&format!("inet {pod_ip}/16")), "{addr}");
    assert!(read(&model, "a/0", "env-data-storage-attached").contains("JUJU_STORAGE_ID=data/0"));
    assert!(read(&model, "a/0", "env-work-pebble-ready").contains("JUJU_WORKLOAD_NAME=work"));
    assert_eq!(
        status(&model, "a", "a/0"),
        ("active".into(), "ready".into())
    );

    // --- what Juju 3.6 created in Kubernetes.
    let (sts, svc, headless, pod) = model.with_admin(|c| async move {
        let sts = Api::<StatefulSet>::namespaced(c.clone(), "fidelity")
            .get("a")
            .await;
        let svcs = Api::<Service>::namespaced(c.clone(), "fidelity");
        let svc = svcs.get("a").await;
        let headless = svcs.get("a-endpoints").await;
        let pod = Api::<Pod>::namespaced(c, "fidelity").get("a-0").await;
        (sts, svc, headless, pod)
    });
    let sts = sts?;
    let anns = sts.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        anns.get("juju.is/version").map(String::as_str),
        Some("3.6.4")
    );
    assert!(anns.contains_key("controller.juju.is/id"));
    let managers: Vec<String> = sts
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["juju"]);
    let spec = sts.spec.ok_or("no spec")?;
    assert_eq!(
        spec.selector
            .match_labels
            .unwrap_or_default()
            .get("app.kubernetes.io/name")
            .map(String::as_str),
        Some("a")
    );
    let pod_spec = spec.template.spec.ok_or("no pod spec")?;
    let names: Vec<&str> = pod_spec
        .containers
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["charm", "work"]);
    let inits: Vec<String> = pod_spec
        .init_containers
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(inits, ["charm-init"]);
    let mounts: Vec<String> = pod_spec.containers[0]
        .volume_mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.mount_path)
        .collect();
    assert!(
        mounts.contains(&"/charm/bin".to_owned())
            && mounts.contains(&"/charm/containers".to_owned())
    );
    assert_eq!(spec.volume_claim_templates.map(|v| v.len()), Some(1));
    let ports: Vec<(Option<String>, i32)> = svc?
        .spec
        .and_then(|s| s.ports)
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.name, p.port))
        .collect();
    assert_eq!(ports, [(Some("juju-8080-tcp".to_owned()), 8080)]);
    assert_eq!(
        model.status()["applications"]["a"]["units"]["a/0"]["open-ports"],
        serde_json::json!(["8080/tcp"])
    );
    assert_eq!(
        headless?.spec.and_then(|s| s.cluster_ip).as_deref(),
        Some("None")
    );
    let pod = pod?;
    assert_eq!(
        pod.spec.and_then(|s| s.subdomain).as_deref(),
        Some("a-endpoints")
    );

    // --- relate: created, joined, changed on both sides; data flows both ways.
    model.deploy(&charm(), Some("b"), false, &[])?;
    let mark = model.history().len();
    model.relate("a:src", "b:dst")?;
    let b_hooks = hooks_since(&model, "b/0", mark);
    assert_eq!(
        &b_hooks[..3],
        [
            "dst-relation-created",
            "dst-relation-joined",
            "dst-relation-changed"
        ],
        "{b_hooks:?}"
    );
    let a_hooks = hooks_since(&model, "a/0", mark);
    assert_eq!(
        &a_hooks[..3],
        [
            "src-relation-created",
            "src-relation-joined",
            "src-relation-changed"
        ],
        "{a_hooks:?}"
    );
    assert_eq!(
        status(&model, "b", "b/0"),
        ("active".into(), "got hello".into())
    );
    assert_eq!(
        status(&model, "a", "a/0"),
        ("active".into(), "acked hello".into())
    );
    assert!(read(&model, "b/0", "remote-units").contains("a/0"));
    let env = read(&model, "b/0", "env-dst-relation-changed");
    assert!(
        env.contains("JUJU_RELATION=dst") && env.contains("JUJU_REMOTE_APP=a"),
        "{env}"
    );
    assert!(env.contains("JUJU_RELATION_ID=dst:"), "{env}");

    // --- leader-only application data: a second unit of `a` may not write it.
    let mark = model.history().len();
    model.scale("a", 2)?;
    let new = hooks_since(&model, "a/1", mark);
    assert_eq!(
        &new[..6],
        [
            "data-storage-attached",
            "install",
            "leader-settings-changed",
            "config-changed",
            "start",
            "work-pebble-ready"
        ],
        "{new:?}"
    );
    assert!(new.contains(&"src-relation-joined".to_owned()), "{new:?}");
    assert_eq!(read(&model, "a/1", "app-write").trim(), "denied");
    let goal: serde_json::Value = serde_json::from_str(&read(&model, "a/1", "goal-state"))?;
    let planned = goal["units"].as_object().map(serde_json::Map::len);
    assert_eq!(planned, Some(2), "{goal}");
    assert!(hooks_since(&model, "b/0", mark).contains(&"dst-relation-joined".to_owned()));
    let pods =
        model.with_admin(|c| async move { Api::<Pod>::namespaced(c, "fidelity").get("a-1").await });
    assert!(pods.is_ok(), "pod a-1 was not created");

    // --- untrusted: the real 403; trusted: allowed.
    model.config("b", &kv(&[("probe-k8s", "true")]))?;
    assert_eq!(read(&model, "b/0", "k8s-result").trim(), "403");
    assert!(
        read(&model, "b/0", "k8s-out").contains(r#"cannot get resource \"statefulsets\""#),
        "{}",
        read(&model, "b/0", "k8s-out")
    );
    let last = model.history().last().ok_or("no history")?;
    assert!(
        last.api_requests
            .iter()
            .any(|r| r.contains("statefulsets/b -> 403")),
        "{:?}",
        last.api_requests
    );
    model.trust("b")?;
    assert_eq!(read(&model, "b/0", "k8s-result").trim(), "200");

    // --- a failing hook: its relation-set is discarded, status shows the error, Juju retries.
    let mark = model.history().len();
    model.config("b", &kv(&[("fail-once", "true")]))?;
    let runs: Vec<Run> = model.history()[mark..]
        .iter()
        .filter(|r| r.unit == "b/0")
        .map(|r| (r.hook.clone(), r.code, r.retry))
        .collect();
    assert_eq!(
        runs,
        [
            ("config-changed".to_owned(), 1, None),
            ("config-changed".to_owned(), 0, Some((1, 5)))
        ]
    );
    let rel = &model.state().model.relations;
    assert!(
        rel.iter().all(|r| r
            .unit_data
            .get("b/0")
            .is_none_or(|d| !d.contains_key("doomed"))),
        "a failed hook's relation-set leaked"
    );

    // --- a hook that keeps failing: error status, other hooks wait, later operations retry.
    let mark = model.history().len();
    model.config("b", &kv(&[("fail-always", "true")]))?;
    assert_eq!(
        status(&model, "b", "b/0"),
        ("error".into(), "hook failed: \"config-changed\"".into())
    );
    assert_eq!(
        model.status()["applications"]["b"]["units"]["b/0"]["juju-status"]["current"],
        "error"
    );
    let runs: Vec<Run> = model.history()[mark..]
        .iter()
        .filter(|r| r.unit == "b/0")
        .map(|r| (r.hook.clone(), r.code, r.retry))
        .collect();
    assert_eq!(
        runs,
        [
            ("config-changed".to_owned(), 1, None),
            ("config-changed".to_owned(), 1, Some((1, 5))),
            ("config-changed".to_owned(), 1, Some((2, 10)))
        ]
    );
    let mark = model.history().len();
    model.update_status()?;
    let b_runs: Vec<Run> = model.history()[mark..]
        .iter()
        .filter(|r| r.unit == "b/0")
        .map(|r| (r.hook.clone(), r.code, r.retry))
        .collect();
    assert_eq!(b_runs[0], ("config-changed".to_owned(), 1, Some((3, 20))));
    assert!(b_runs.iter().all(|r| r.0 != "update-status"), "{b_runs:?}");
    let mark = model.history().len();
    model.config("b", &kv(&[("fail-always", "false")]))?;
    let b_hooks = hooks_since(&model, "b/0", mark);
    assert_eq!(b_hooks[0], "config-changed");
    assert!(b_hooks.contains(&"update-status".to_owned()), "{b_hooks:?}");
    assert_eq!(
        status(&model, "b", "b/0"),
        ("maintenance".into(), "failing".into())
    );
    assert!(model.state().unit_errors.is_empty());

    // --- an operator changes the pod template: the pods restart, Juju's churn hooks run.
    let mark = model.history().len();
    model.with_admin(|c| async move {
        Api::<StatefulSet>::namespaced(c, "fidelity")
            .patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"template": {"metadata": {"annotations": {"ops": "1"}}}}})),
            )
            .await
    })?;
    model.settle_now()?;
    for unit in ["a/0", "a/1"] {
        let h = hooks_since(&model, unit, mark);
        assert_eq!(
            &h[..4],
            [
                "upgrade-charm",
                "config-changed",
                "start",
                "work-pebble-ready"
            ],
            "{unit}: {h:?}"
        );
    }
    let pod = model
        .with_admin(|c| async move { Api::<Pod>::namespaced(c, "fidelity").get("a-0").await })?;
    assert_eq!(
        pod.metadata
            .annotations
            .unwrap_or_default()
            .get("ops")
            .map(String::as_str),
        Some("1")
    );

    // --- scale down: the dying unit leaves its relations, detaches storage, stops, goes.
    let mark = model.history().len();
    model.scale("a", 1)?;
    let gone = hooks_since(&model, "a/1", mark);
    assert_eq!(
        gone,
        [
            "src-relation-departed",
            "src-relation-broken",
            "data-storage-detaching",
            "stop",
            "remove"
        ],
        "{gone:?}"
    );
    let b_hooks = hooks_since(&model, "b/0", mark);
    assert_eq!(
        b_hooks.first().map(String::as_str),
        Some("dst-relation-departed")
    );
    let env = read(&model, "b/0", "env-dst-relation-departed");
    assert!(env.contains("JUJU_DEPARTING_UNIT=a/1"), "{env}");
    assert!(model.status()["applications"]["a"]["units"]["a/1"].is_null());
    let pod = model.with_admin(|c| async move {
        Api::<Pod>::namespaced(c, "fidelity").get_opt("a-1").await
    })?;
    assert!(pod.is_none(), "pod a-1 still exists");

    // --- a charm's own additions (strategic merge, its own field manager) survive Juju's
    // re-apply on refresh; Juju's fields on its own containers go back to Juju's values.
    model.with_admin(|c| async move {
        let patch = serde_json::json!({"spec": {"template": {"spec": {
            "initContainers": [{"name": "extra-init", "image": "busybox:1.36"}],
            "containers": [
                {"name": "sidecar", "image": "busybox:1.36"},
                {"name": "charm", "image": "evil:1", "env": [{"name": "ADDED", "value": "1"}]},
            ],
        }}}});
        Api::<StatefulSet>::namespaced(c, "fidelity")
            .patch(
                "b",
                &PatchParams {
                    field_manager: Some("charm".into()),
                    ..PatchParams::default()
                },
                &Patch::Strategic(patch),
            )
            .await
    })?;
    model.settle_now()?;
    let mark = model.history().len();
    model.refresh("b")?;
    assert_eq!(&hooks_since(&model, "b/0", mark)[..1], ["upgrade-charm"]);
    let sts = model.with_admin(|c| async move {
        Api::<StatefulSet>::namespaced(c, "fidelity").get("b").await
    })?;
    let pod_spec = sts
        .spec
        .and_then(|s| s.template.spec)
        .ok_or("no pod spec")?;
    let inits: Vec<String> = pod_spec
        .init_containers
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(inits.contains(&"extra-init".to_owned()) && inits.contains(&"charm-init".to_owned()));
    let charm_c = pod_spec
        .containers
        .iter()
        .find(|c| c.name == "charm")
        .ok_or("no charm container")?;
    assert_eq!(
        charm_c.image.as_deref(),
        Some("ghcr.io/juju/charm-base:ubuntu-22.04")
    );
    assert!(
        charm_c
            .env
            .clone()
            .unwrap_or_default()
            .iter()
            .any(|e| e.name == "ADDED")
    );
    assert!(pod_spec.containers.iter().any(|c| c.name == "sidecar"));
    let init_args = pod_spec_args(&model, "b")?;
    assert!(
        init_args.contains("--charm-modified-version 1"),
        "{init_args}"
    );

    // --- actions.
    let out = model.run_action("b/0", "echo", &kv(&[("msg", "hey")]))?;
    assert_eq!(out.status, "completed");
    assert_eq!(out.results.get("echoed"), Some(&serde_json::json!("hey")));

    // --- what a hook leaves running ends with it (and does not hold the hook open).
    let started = std::time::Instant::now();
    let out = model.run_action("b/0", "daemon", &[])?;
    assert_eq!(out.status, "completed");
    assert!(started.elapsed() < std::time::Duration::from_mins(1));
    let pid: u32 = read(&model, "b/0", "daemon-pid").trim().parse()?;
    assert!(ended(pid), "background process {pid} outlived its hook");

    // --- remove-relation: departed, then broken.
    let mark = model.history().len();
    model.remove_relation("a", "b")?;
    let h = hooks_since(&model, "b/0", mark);
    assert_eq!(
        h.first().map(String::as_str),
        Some("dst-relation-departed"),
        "{h:?}"
    );
    assert_eq!(
        h.last().map(String::as_str),
        Some("dst-relation-broken"),
        "{h:?}"
    );
    assert_eq!(
        status(&model, "b", "b/0"),
        ("blocked".into(), "no source".into())
    );
    assert!(
        model
            .state()
            .model
            .relations
            .iter()
            .all(juju_sim::state::Relation::is_peer)
    );

    // --- a charm that changes its template on every restart: the model stops with a report.
    let err = model.config("b", &kv(&[("churn", "true")])).err();
    assert!(
        matches!(err, Some(ModelError::RestartLoop { ref app, .. }) if app == "b"),
        "{err:?}"
    );
    Ok(())
}
