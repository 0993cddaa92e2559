//! The real gluetun-k8s binary in the simulator against a real API server: deploy → config +
//! secret → Active, a client relation gets the provider data, VPN down/up, steady state writes
//! nothing, scale to 2, config and secret errors, rotation, refresh, API faults, and the
//! private key kept out of the Pebble plan and every recorded argv.
//!
//! Each test owns its model (and cluster), stopped when it drops.
#![allow(clippy::disallowed_methods)] // Test machinery: these tests build and run the charm binary.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use juju_sim::model::Model;
use juju_sim::runner::HookRecord;
use juju_sim::workload::Answer;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube_testbed::{Action, Rule, Verb};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER_KEY: &str = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=";
const MODEL: &str = "downloads";
const EXIT_IP: &str = "198.51.100.4";

/// The charm directory: the metadata and `dispatch` → the binary cargo built for this test.
fn charm_dir(root: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir = root.join("gluetun-charm");
    std::fs::create_dir_all(&dir)?;
    let meta = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../metadata/gluetun-k8s");
    std::fs::copy(meta.join("charmcraft.yaml"), dir.join("charmcraft.yaml"))?;
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gluetun-k8s"), dir.join("dispatch"))?;
    Ok(dir)
}

/// A tiny requirer: writes `{"instance_name": "<app>"}` on every vpn-gateway relation.
fn client_dir(root: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir = root.join("client-charm");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("metadata.yaml"),
        "name: vpn-client-test\nsummary: requirer of vpn-gateway\ndescription: test\n\
         requires:\n  vpn-gateway:\n    interface: vpn-gateway\n    limit: 1\n",
    )?;
    let dispatch = dir.join("dispatch");
    std::fs::write(
        &dispatch,
        "#!/bin/sh\napp=${JUJU_UNIT_NAME%/*}\n\
         if [ \"$(is-leader)\" = True ]; then\n\
           for rid in $(relation-ids vpn-gateway); do\n\
             relation-set -r \"$rid\" --app config=\"{\\\"instance_name\\\": \\\"$app\\\"}\"\n\
           done\nfi\nstatus-set active ''\n",
    )?;
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

/// `juju-sim-tool`, built on demand (it is another package's binary).
fn ensure_tool() {
    if juju_sim::runner::tool_binary().is_some() {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = std::process::Command::new(cargo)
        .args(["build", "-p", "juju-sim", "--bin", "juju-sim-tool"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot build juju-sim-tool");
    assert!(juju_sim::runner::tool_binary().is_some());
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn connected(ip: &str) -> Answer {
    Answer::Http {
        status: 200,
        body: format!(r#"{{"public_ip":"{ip}","country":"Netherlands"}}"#),
    }
}

fn status(model: &Model, unit: &str) -> (String, String) {
    let app = unit.split('/').next().unwrap_or_default();
    let s = model.status();
    let w = &s["applications"][app]["units"][unit]["workload-status"];
    (
        w["current"].as_str().unwrap_or_default().to_owned(),
        w["message"].as_str().unwrap_or_default().to_owned(),
    )
}

fn since<'a>(model: &'a Model, mark: usize, app: &str) -> Vec<&'a HookRecord> {
    model.history()[mark..]
        .iter()
        .filter(|r| r.unit.split('/').next() == Some(app))
        .collect()
}

/// API requests that write.
fn writes(records: &[&HookRecord]) -> Vec<String> {
    records
        .iter()
        .flat_map(|r| r.api_requests.iter())
        .filter(|r| !r.starts_with("GET"))
        .cloned()
        .collect()
}

fn statefulset_patches(records: &[&HookRecord]) -> usize {
    writes(records)
        .iter()
        .filter(|w| w.starts_with("PATCH") && w.contains("/statefulsets/"))
        .count()
}

/// Tool calls whose argv[0] is `tool` (and, for juju-log, whose message contains `text`).
fn calls(records: &[&HookRecord], tool: &str, text: &str) -> usize {
    records
        .iter()
        .flat_map(|r| r.tool_calls.iter())
        .filter(|c| c.argv.first().map(String::as_str) == Some(tool))
        .filter(|c| c.argv.iter().any(|a| a.contains(text)))
        .count()
}

fn published(model: &Model, app: &str) -> Option<Value> {
    model
        .state()
        .model
        .relations
        .iter()
        .find(|r| r.end_of(app).is_some() && r.end_of("client").is_some())
        .and_then(|r| r.app_data.get(app))
        .and_then(|bag| bag.get("config"))
        .and_then(|text| serde_json::from_str(text).ok())
}

fn live_statefulset(model: &Model, app: &str) -> StatefulSet {
    let app = app.to_owned();
    model
        .with_admin(|c| async move { Api::<StatefulSet>::namespaced(c, MODEL).get(&app).await })
        .unwrap()
}

fn gluetun_privileged(sts: &StatefulSet) -> bool {
    sts.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.iter().find(|c| c.name == "gluetun"))
        .and_then(|c| c.security_context.as_ref())
        .and_then(|s| s.privileged)
        == Some(true)
}

fn additions_hold(sts: &StatefulSet, vxlan_id: u32) -> bool {
    let config = serde_json::Map::from_iter([
        ("cluster-cidrs".into(), "10.1.0.0/16".into()),
        ("vpn-provider".into(), "mullvad".into()),
        ("wireguard-private-key-secret".into(), "secret:x".into()),
        ("wireguard-addresses".into(), "10.64.222.21/32".into()),
        ("vxlan-id".into(), vxlan_id.into()),
    ]);
    let config = gluetun_k8s::config::Config::parse(&config).unwrap();
    let app = vpn_gateway_iface::AppName::parse("vpnarr").unwrap();
    vpn_gateway_iface::gateway::gateway_additions(
        &app,
        &gluetun_k8s::plan::gateway_settings(&config),
    )
    .is_held_by(sts)
}

/// A gateway `vpnarr` deployed with trust, configured, its secret granted, the VPN up.
fn running_gateway(root: &Path) -> Result<Model, Box<dyn std::error::Error>> {
    ensure_tool();
    let mut model = Model::new(root, MODEL)?;
    model.workload_http(
        "vpnarr",
        "gluetun",
        8000,
        "/v1/publicip/ip",
        connected(EXIT_IP),
    )?;
    let charm = charm_dir(root)?;
    model.deploy(&charm.display().to_string(), Some("vpnarr"), true, &[])?;
    Ok(model)
}

fn configure(model: &mut Model, uri: &str) -> TestResult {
    model.config(
        "vpnarr",
        &kv(&[
            ("cluster-cidrs", "10.1.0.0/16"),
            ("vpn-provider", "mullvad"),
            ("wireguard-addresses", "10.64.222.21/32"),
            ("wireguard-private-key-secret", uri),
        ]),
    )?;
    Ok(())
}

#[test]
#[allow(clippy::too_many_lines)] // One scenario, in the order an operator lives it.
fn gateway_lifecycle() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut model = running_gateway(tmp.path())?;
    let unit = "vpnarr/0";
    let (level, message) = status(&model, unit);
    assert_eq!(level, "blocked");
    assert!(message.starts_with("cluster-cidrs: required"), "{message}");

    // Config + a secret not yet granted → Blocked naming the option.
    let uri = model.add_secret("vpn-key", &kv(&[("private-key", KEY)]))?;
    configure(&mut model, &uri)?;
    let (level, message) = status(&model, unit);
    assert_eq!(level, "blocked");
    assert!(
        message.starts_with("wireguard-private-key-secret: secret not found or not granted"),
        "{message}"
    );

    // Granted → ConfigMap, ONE StatefulSet patch (one rollout), Pebble, health → Active.
    let mark = model.history().len();
    model.grant_secret("vpn-key", "vpnarr")?;
    model.update_status()?;
    assert_eq!(
        status(&model, unit),
        ("active".into(), format!("VPN connected ({EXIT_IP})"))
    );
    let records = since(&model, mark, "vpnarr");
    assert_eq!(statefulset_patches(&records), 1, "{:?}", writes(&records));
    // The ConfigMap is written before the StatefulSet that mounts it.
    let order: Vec<String> = writes(&records)
        .into_iter()
        .filter(|w| w.contains("/configmaps/") || w.contains("/statefulsets/"))
        .collect();
    assert!(
        order.len() == 2 && order[0].contains("/configmaps/vpnarr-gateway-settings"),
        "{order:?}"
    );
    assert_eq!(model.state().apps["vpnarr"].restarts, 1);
    // (The steady-state checks below rely on these log lines.)
    assert!(calls(&records, "juju-log", "added the gluetun layer") >= 1);
    assert!(calls(&records, "juju-log", "pushed") >= 3);
    let sts = live_statefulset(&model, "vpnarr");
    assert!(additions_hold(&sts, 42) && gluetun_privileged(&sts));
    let cm = model.with_admin(|c| async move {
        Api::<ConfigMap>::namespaced(c, MODEL)
            .get("vpnarr-gateway-settings")
            .await
    })?;
    assert!(cm.data.unwrap_or_default()["settings.sh"].contains("VXLAN_ID=\"42\""));

    // The key: a 0600 file, never in the plan, any argv, stdout or stderr.
    let pebble = model.pebble(unit, "gluetun").ok_or("no pebble")?;
    assert!(!pebble["plan"].to_string().contains(KEY));
    assert_eq!(
        pebble["plan"]["services"]["gluetun"]["environment"]["WIREGUARD_PRIVATE_KEY_SECRETFILE"],
        "/gluetun/secrets/wireguard_private_key"
    );
    assert_eq!(pebble["services"]["gluetun"], "active");
    let root = PathBuf::from(pebble["root"].as_str().ok_or("no root")?);
    let key_file = root.join("gluetun/secrets/wireguard_private_key");
    assert_eq!(std::fs::read_to_string(&key_file)?, KEY);
    assert_eq!(
        std::fs::metadata(&key_file)?.permissions().mode() & 0o777,
        0o600
    );
    let auth = root.join("gluetun/auth/config.toml");
    assert_eq!(
        std::fs::metadata(&auth)?.permissions().mode() & 0o777,
        0o600
    );
    assert!(
        std::fs::read_to_string(root.join("iptables/post-rules.txt"))?
            .contains("iptables -I INPUT -s 10.1.0.0/16 -j ACCEPT")
    );
    // The health check authenticated with the key from our application-owned secret.
    let api_key = model
        .state()
        .model
        .secrets
        .values()
        .find(|s| s.label.as_deref() == Some("gluetun-control-api-key"))
        .and_then(|s| s.latest())
        .and_then(|r| r.content.get("api-key").cloned())
        .ok_or("no api key secret")?;
    assert!(std::fs::read_to_string(&auth)?.contains(&api_key));
    let requests = model.workload_requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("x-api-key") == Some(&api_key))
    );
    assert!(!pebble["plan"].to_string().contains(&api_key));

    // Relate a client → provider data, exactly.
    let client = client_dir(tmp.path())?;
    model.deploy(&client.display().to_string(), Some("client"), true, &[])?;
    model.relate("vpnarr:vpn-gateway", "client:vpn-gateway")?;
    let data = published(&model, "vpnarr").ok_or("no provider data")?;
    assert_eq!(
        data,
        serde_json::json!({
            "routing_method": "pod-gateway",
            "gateway_dns_name": "vpnarr-endpoints.downloads.svc.cluster.local",
            "vxlan_id": 42, "vxlan_ip_network": "172.16.0", "vxlan_port": 4790,
            "cluster_cidrs": "10.1.0.0/16,169.254.7.127/32",
            "cluster_dns_ip": kube_testbed::KUBE_DNS_IP,
            "vpn_connected": true, "external_ip": EXIT_IP, "instance_name": "vpnarr"
        })
    );

    // Steady state: update-status writes nothing, re-adds no layer, sets no relation data.
    let mark = model.history().len();
    let checks = model.workload_requests().len();
    model.update_status()?;
    // ONE health request per hook.
    let checked = model.workload_requests().len() - checks;
    let records = since(&model, mark, "vpnarr");
    assert!(!records.is_empty());
    assert_eq!(checked, records.len());
    assert_eq!(writes(&records), Vec::<String>::new());
    assert_eq!(calls(&records, "relation-set", ""), 0);
    assert_eq!(calls(&records, "secret-add", ""), 0);
    assert_eq!(calls(&records, "juju-log", "added the gluetun layer"), 0);
    assert_eq!(calls(&records, "juju-log", "pushed"), 0);

    // VPN down → Waiting and published; up again → Active and published.
    model.workload_http(
        "vpnarr",
        "gluetun",
        8000,
        "/v1/publicip/ip",
        Answer::Http {
            status: 200,
            body: r#"{"public_ip":""}"#.into(),
        },
    )?;
    model.update_status()?;
    assert_eq!(
        status(&model, unit),
        ("waiting".into(), "VPN not connected".into())
    );
    let data = published(&model, "vpnarr").ok_or("no data")?;
    assert_eq!(
        (&data["vpn_connected"], &data["external_ip"]),
        (&false.into(), &Value::Null)
    );
    model.workload_http("vpnarr", "gluetun", 8000, "/v1/publicip/ip", Answer::Down)?;
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "waiting");
    model.workload_http(
        "vpnarr",
        "gluetun",
        8000,
        "/v1/publicip/ip",
        connected(EXIT_IP),
    )?;
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "active");
    assert_eq!(
        published(&model, "vpnarr").ok_or("no data")?["vpn_connected"],
        true
    );

    // Config error → Blocked naming the option, nothing written; fixed → back.
    let mark = model.history().len();
    model.config("vpnarr", &kv(&[("vxlan-id", "0")]))?;
    let (level, message) = status(&model, unit);
    assert_eq!(level, "blocked");
    assert!(message.starts_with("vxlan-id: "), "{message}");
    assert_eq!(writes(&since(&model, mark, "vpnarr")), Vec::<String>::new());
    // Two bad options: the one an operator fixes first (the required cluster-cidrs) is named.
    model.config("vpnarr", &kv(&[("cluster-cidrs", "0.0.0.0/0")]))?;
    assert!(status(&model, unit).1.starts_with("cluster-cidrs: "));
    model.config("vpnarr", &kv(&[("vxlan-id", "42")]))?;
    assert!(status(&model, unit).1.starts_with("cluster-cidrs: "));
    model.config("vpnarr", &kv(&[("cluster-cidrs", "10.1.0.0/16")]))?;
    assert_eq!(status(&model, unit).0, "active");

    // Secret errors: no private-key, not a key; the value never shows.
    model.update_secret("vpn-key", &kv(&[("key", KEY)]))?;
    let (level, message) = status(&model, unit);
    assert_eq!(level, "blocked");
    assert!(
        message.contains("has no private-key attribute"),
        "{message}"
    );
    model.update_secret("vpn-key", &kv(&[("private-key", "hunter2-not-a-key")]))?;
    let (level, message) = status(&model, unit);
    assert_eq!(level, "blocked");
    assert!(message.contains("not a WireGuard key") && !message.contains("hunter2"));

    // Rotation: a new key is pushed, gluetun restarted, no StatefulSet write.
    let mark = model.history().len();
    model.update_secret("vpn-key", &kv(&[("private-key", OTHER_KEY)]))?;
    assert_eq!(std::fs::read_to_string(&key_file)?, OTHER_KEY);
    assert_eq!(statefulset_patches(&since(&model, mark, "vpnarr")), 0);
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "active");

    // Scale to 2 → Blocked and nothing written; back to 1 → Active.
    let mark = model.history().len();
    model.scale("vpnarr", 2)?;
    // The leader learns of it at its next hook (no peer relation here), as under Juju.
    model.update_status()?;
    assert_eq!(
        status(&model, unit),
        (
            "blocked".into(),
            "Scale to 1 unit (multiple gateways cause VXLAN conflicts)".into()
        )
    );
    assert_eq!(
        status(&model, "vpnarr/1"),
        ("waiting".into(), "Standby (non-leader unit)".into())
    );
    let records = since(&model, mark, "vpnarr");
    assert_eq!(writes(&records), Vec::<String>::new());
    assert_eq!(calls(&records, "relation-set", ""), 0);
    model.scale("vpnarr", 1)?;
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "active");

    // Refresh (Juju re-applies its template): our additions intact or repaired, one
    // rollout at most from us, then quiet.
    let mark = model.history().len();
    model.refresh("vpnarr")?;
    let records = since(&model, mark, "vpnarr");
    assert!(statefulset_patches(&records) <= 1, "{:?}", writes(&records));
    let sts = live_statefulset(&model, "vpnarr");
    assert!(additions_hold(&sts, 42) && gluetun_privileged(&sts));
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "active");
    let mark = model.history().len();
    model.update_status()?;
    assert_eq!(writes(&since(&model, mark, "vpnarr")), Vec::<String>::new());

    // Someone deletes our sidecar and our ConfigMap by hand: the next hook repairs both, with
    // one StatefulSet patch.
    model.with_admin(|c| async move {
        let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [
            {"$patch": "delete", "name": "gateway-sidecar"}]}}}});
        Api::<StatefulSet>::namespaced(c.clone(), MODEL)
            .patch("vpnarr", &PatchParams::default(), &Patch::Strategic(&patch))
            .await?;
        Api::<ConfigMap>::namespaced(c, MODEL)
            .delete("vpnarr-gateway-settings", &DeleteParams::default())
            .await
            .map(drop)
    })?;
    assert!(!additions_hold(&live_statefulset(&model, "vpnarr"), 42));
    let mark = model.history().len();
    model.update_status()?;
    let records = since(&model, mark, "vpnarr");
    assert_eq!(statefulset_patches(&records), 1, "{:?}", writes(&records));
    assert!(additions_hold(&live_statefulset(&model, "vpnarr"), 42));
    let cm = model.with_admin(|c| async move {
        Api::<ConfigMap>::namespaced(c, MODEL)
            .get("vpnarr-gateway-settings")
            .await
    })?;
    assert!(cm.data.unwrap_or_default()["settings.sh"].contains("VXLAN_ID=\"42\""));
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "active");

    // Nowhere in the recorded argv, stdout or stderr: neither WireGuard key.
    for record in model.history() {
        for call in &record.tool_calls {
            for arg in &call.argv {
                assert!(
                    !arg.contains(KEY) && !arg.contains(OTHER_KEY),
                    "{:?}",
                    call.argv
                );
            }
        }
        for text in [&record.stdout, &record.stderr] {
            assert!(!text.contains(KEY) && !text.contains(OTHER_KEY));
        }
    }
    // Removing the client's relation: departed/broken run cleanly.
    let mark = model.history().len();
    model.remove_relation("vpnarr:vpn-gateway", "client:vpn-gateway")?;
    let records = since(&model, mark, "vpnarr");
    assert!(
        records
            .iter()
            .any(|r| r.hook == "vpn-gateway-relation-broken")
    );
    assert!(records.iter().all(|r| r.code == 0), "a hook failed");
    assert_eq!(status(&model, unit).0, "active");

    for line in &model.state().model.log {
        assert!(!line.message.contains(KEY) && !line.message.contains(OTHER_KEY));
    }
    let pebble = model.pebble(unit, "gluetun").ok_or("no pebble")?;
    assert!(!pebble["plan"].to_string().contains(OTHER_KEY));
    Ok(())
}

#[test]
#[allow(clippy::too_many_lines)] // One fault after another on the same gateway.
fn api_faults() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut model = running_gateway(tmp.path())?;
    let unit = "vpnarr/0";
    let uri = model.add_secret("vpn-key", &kv(&[("private-key", KEY)]))?;
    model.grant_secret("vpn-key", "vpnarr")?;
    configure(&mut model, &uri)?;
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "active");

    // 403 on reading our StatefulSet → Blocked naming --trust; nothing written.
    model.fault(
        "vpnarr",
        Rule::new(Action::status(403))
            .verb(Verb::Get)
            .resource("statefulsets"),
    )?;
    let mark = model.history().len();
    model.update_status()?;
    let (level, message) = status(&model, unit);
    assert_eq!(level, "blocked");
    assert!(message.contains("--trust"), "{message}");
    assert_eq!(writes(&since(&model, mark, "vpnarr")), Vec::<String>::new());
    model.clear_faults("vpnarr")?;

    // 404 → Waiting.
    model.fault(
        "vpnarr",
        Rule::new(Action::status(404))
            .verb(Verb::Get)
            .resource("statefulsets"),
    )?;
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "waiting");
    model.clear_faults("vpnarr")?;
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "active");

    // A change that needs a patch (vxlan-id 43) against 409 once, a dropped connection once,
    // and a slow GET past the per-request timeout once: all retried within the hook.
    for rule in [
        Rule::new(Action::status(409))
            .verb(Verb::Patch)
            .resource("statefulsets")
            .times(1),
        Rule::new(Action::Drop)
            .verb(Verb::Patch)
            .resource("statefulsets")
            .times(1),
        Rule::new(Action::delay(std::time::Duration::from_secs(11)))
            .verb(Verb::Get)
            .resource("statefulsets")
            .times(1),
    ] {
        model.fault("vpnarr", rule)?;
    }
    let mark = model.history().len();
    model.config("vpnarr", &kv(&[("vxlan-id", "43")]))?;
    let records = since(&model, mark, "vpnarr");
    assert!(records.iter().all(|r| r.code == 0), "a hook failed");
    // The proxy's log shows each fault hit and retried within the first hook: the slow GET
    // (the planning read, from the API server's cache) cut by our timeout, the 409 re-read,
    // the dropped PATCH re-sent, then exactly one successful StatefulSet patch; the pod's
    // restart hooks only read.
    let log = &records[0].api_requests;
    let sts = "/apis/apps/v1/namespaces/downloads/statefulsets/vpnarr";
    assert_eq!(
        log[0],
        format!("GET {sts}?&resourceVersion=0 -> dropped"),
        "{log:#?}"
    );
    for want in ["-> 409", "-> dropped"] {
        assert!(
            log.iter()
                .any(|l| l.starts_with("PATCH") && l.ends_with(want)),
            "{log:#?}"
        );
    }
    assert_eq!(statefulset_patches(&records), 3, "409 + dropped + 200");
    assert_eq!(
        writes(&records)
            .iter()
            .filter(|w| w.contains("/statefulsets/") && w.ends_with("-> 200"))
            .count(),
        1
    );
    let sts = live_statefulset(&model, "vpnarr");
    assert!(additions_hold(&sts, 43));
    model.clear_faults("vpnarr")?;
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "active");

    // 403 on the StatefulSet write (read allowed): Blocked naming --trust, template untouched.
    model.fault(
        "vpnarr",
        Rule::new(Action::status(403))
            .verb(Verb::Patch)
            .resource("statefulsets"),
    )?;
    let before = live_statefulset(&model, "vpnarr");
    model.config("vpnarr", &kv(&[("vxlan-id", "45")]))?;
    let (level, message) = status(&model, unit);
    assert_eq!(level, "blocked");
    assert!(message.contains("--trust"), "{message}");
    assert_eq!(
        before.spec.map(|s| s.template),
        live_statefulset(&model, "vpnarr").spec.map(|s| s.template)
    );
    model.clear_faults("vpnarr")?;
    model.config("vpnarr", &kv(&[("vxlan-id", "43")]))?;
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "active");

    // 500 on every PATCH of the StatefulSet: the hook fails (Juju retries), the StatefulSet
    // is left exactly as it was (no half patch), the relation data is not touched; once the
    // server recovers, the retry converges.
    model.fault(
        "vpnarr",
        Rule::new(Action::status(500))
            .verb(Verb::Patch)
            .resource("statefulsets"),
    )?;
    let before = live_statefulset(&model, "vpnarr");
    let mark = model.history().len();
    model.config("vpnarr", &kv(&[("vxlan-id", "44")]))?;
    let records = since(&model, mark, "vpnarr");
    assert!(records.iter().any(|r| r.code != 0), "the hook should fail");
    assert_eq!(calls(&records, "relation-set", ""), 0);
    let after = live_statefulset(&model, "vpnarr");
    assert_eq!(
        before.spec.map(|s| s.template),
        after.spec.map(|s| s.template),
        "StatefulSet template changed despite the failed patch"
    );
    model.clear_faults("vpnarr")?;
    model.update_status()?;
    assert!(additions_hold(&live_statefulset(&model, "vpnarr"), 44));
    model.update_status()?;
    assert_eq!(status(&model, unit).0, "active");
    Ok(())
}

#[test]
fn untrusted_then_trusted() -> TestResult {
    let tmp = tempfile::tempdir()?;
    ensure_tool();
    let mut model = Model::new(tmp.path(), MODEL)?;
    model.workload_http(
        "vpnarr",
        "gluetun",
        8000,
        "/v1/publicip/ip",
        connected(EXIT_IP),
    )?;
    let charm = charm_dir(tmp.path())?;
    model.deploy(&charm.display().to_string(), Some("vpnarr"), false, &[])?;
    let uri = model.add_secret("vpn-key", &kv(&[("private-key", KEY)]))?;
    model.grant_secret("vpn-key", "vpnarr")?;
    configure(&mut model, &uri)?;
    let (level, message) = status(&model, "vpnarr/0");
    assert_eq!(level, "blocked");
    assert!(message.contains("--trust"), "{message}");
    model.trust("vpnarr")?;
    model.update_status()?;
    assert_eq!(
        status(&model, "vpnarr/0"),
        ("active".into(), format!("VPN connected ({EXIT_IP})"))
    );
    Ok(())
}

/// A stand-in for the observability charms on the endpoints gluetun-k8s only declares (README,
/// "Declared, not implemented yet"): writes junk on every relation it has.
fn observer_dir(root: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir = root.join("observer-charm");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("metadata.yaml"),
        "name: observer-test\nsummary: declared-only endpoints\ndescription: test\n\
         provides:\n  logging:\n    interface: loki_push_api\n\
         requires:\n  metrics:\n    interface: prometheus_scrape\n",
    )?;
    let dispatch = dir.join("dispatch");
    std::fs::write(
        &dispatch,
        "#!/bin/sh\nif [ \"$(is-leader)\" = True ]; then\n\
           for rid in $(relation-ids logging) $(relation-ids metrics); do\n\
             relation-set -r \"$rid\" --app 'config=$(reboot)'\n\
           done\nfi\nstatus-set active ''\n",
    )?;
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

/// The endpoints declared only for refresh parity: relating them runs our hooks without an
/// error, writes nothing and leaves the status as it was.
#[test]
fn declared_only_endpoints_are_harmless() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut model = running_gateway(tmp.path())?;
    let uri = model.add_secret("vpn-key", &kv(&[("private-key", KEY)]))?;
    model.grant_secret("vpn-key", "vpnarr")?;
    configure(&mut model, &uri)?;
    model.update_status()?;
    let before = status(&model, "vpnarr/0");
    assert_eq!(
        before,
        ("active".into(), format!("VPN connected ({EXIT_IP})"))
    );
    let observer = observer_dir(tmp.path())?;
    model.deploy(
        &observer.display().to_string(),
        Some("observer"),
        false,
        &[],
    )?;
    let mark = model.history().len();
    model.relate("vpnarr:metrics-endpoint", "observer:metrics")?;
    model.relate("vpnarr:logging", "observer:logging")?;
    model.update_status()?;
    let ours = since(&model, mark, "vpnarr");
    assert!(
        ours.iter()
            .any(|r| r.hook == "metrics-endpoint-relation-changed")
            && ours.iter().any(|r| r.hook == "logging-relation-changed"),
        "{:?}",
        ours.iter().map(|r| &r.hook).collect::<Vec<_>>()
    );
    let failed: Vec<_> = ours.iter().filter(|r| r.code != 0).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(writes(&ours), Vec::<String>::new());
    assert_eq!(calls(&ours, "relation-set", ""), 0);
    assert_eq!(status(&model, "vpnarr/0"), before);
    Ok(())
}
