//! The charm's life in the simulator (real binary, real API server): deploy alone, relate,
//! gateway data changes, disconnect, refresh, relation removed, unsafe-mode, credentials.

mod sim_common;

use juju_sim::model::Model;
use serde_json::json;
use sim_common::{
    APP, Objects, TestResult, UNIT, failures_since, gateway_charm, gateway_data, kv, model,
    requests_since, service, status, writes,
};

use qbittorrent_k8s::constants::{MSG_NO_RELATION, MSG_RELATION_REMOVED, MSG_VPN_DISCONNECTED};

fn restarts(model: &Model) -> u32 {
    model.state().apps.get(APP).map_or(0, |a| a.restarts)
}

fn position(requests: &[String], needle: &str) -> usize {
    requests
        .iter()
        .position(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no request with {needle:?} in {requests:#?}"))
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, step by step
fn lifecycle() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut model = model(tmp.path())?;

    // --- deploy alone: Blocked, never started, credentials secret created, port opened.
    model.deploy("qbittorrent-k8s", Some(APP), true, &[])?;
    assert_eq!(failures_since(&model, 0), Vec::<String>::new());
    assert_eq!(
        status(&model, UNIT),
        ("blocked".into(), MSG_NO_RELATION.into())
    );
    assert_ne!(service(&model, UNIT).as_deref(), Some("active"));
    assert!(
        model
            .state()
            .model
            .secrets
            .values()
            .any(|s| s.label.as_deref() == Some("credentials")),
        "credentials secret"
    );
    let conf_path = sim_common::find_conf(model.dir()).ok_or("no qBittorrent.conf written")?;
    let conf = std::fs::read_to_string(&conf_path)?;
    assert!(
        conf.contains("WebUI\\Password_PBKDF2=\"@ByteArray("),
        "{conf}"
    );
    assert!(
        writes(&requests_since(&model, UNIT, 0)).is_empty(),
        "no cluster write without a relation"
    );

    // --- steady state: an update-status writes nothing anywhere and keeps the conf (no new salt).
    let from = model.history().len();
    model.update_status()?;
    assert_eq!(
        writes(&requests_since(&model, UNIT, from)),
        Vec::<String>::new()
    );
    assert_eq!(
        std::fs::read_to_string(&conf_path)?,
        conf,
        "conf rewritten in steady state"
    );

    // --- unsafe-mode: runs without a relation.
    model.config(APP, &kv(&[("unsafe-mode", "true")]))?;
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));
    assert_eq!(status(&model, UNIT).0, "active");
    model.config(APP, &kv(&[("unsafe-mode", "false")]))?;
    assert_ne!(
        service(&model, UNIT).as_deref(),
        Some("active"),
        "stopped again"
    );

    // --- relate to a gateway that has not published yet: nothing written, nothing started.
    model.deploy(&gateway_charm(), Some("vpnarr"), false, &[])?;
    let from = model.history().len();
    model.relate(APP, "vpnarr")?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    assert!(writes(&requests_since(&model, UNIT, from)).is_empty());
    assert_eq!(status(&model, UNIT).0, "waiting");
    assert_ne!(service(&model, UNIT).as_deref(), Some("active"));
    let ours = model
        .state()
        .model
        .relations
        .iter()
        .find_map(|r| r.app_data.get(APP).and_then(|d| d.get("config").cloned()));
    assert_eq!(ours.as_deref(), Some(r#"{"instance_name":"qbittorrent"}"#));

    // --- the gateway publishes: kill switch, then ConfigMap, then StatefulSet; the pod rolls
    // once; the workload starts only in the routed pod; Active.
    let before = restarts(&model);
    let from = model.history().len();
    model.config("vpnarr", &kv(&[("data", &gateway_data(&json!({})))]))?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let requests = requests_since(&model, UNIT, from);
    let w = writes(&requests);
    let np = position(&w, "networkpolicies/qbittorrent-vpn-killswitch");
    let cm = position(&w, "configmaps/qbittorrent-gateway-client-config");
    let ss = position(&w, "statefulsets/qbittorrent");
    assert!(np < cm && cm < ss, "order: {w:#?}");
    assert_eq!(w.len(), 3, "one write each: {w:#?}");
    assert_eq!(restarts(&model), before + 1, "one rollout");
    // The hooks that found qBittorrent stopped (and started it in the routed pod) read the
    // Pod's latest state, not the API server's cache (ADR 0027).
    assert!(pod_reads(&requests).1 > 0, "{requests:#?}");
    let objects = Objects::read(&model);
    assert!(objects.network_policy.is_some() && objects.config_map.is_some());
    // The kill switch lets out the API server's endpoint as `default/kubernetes` lists it on
    // the test cluster (read from the Endpoints: the 1.20 server serves no v1 EndpointSlice).
    let np = serde_json::to_value(objects.network_policy.as_ref()).unwrap_or_default();
    let api_block = format!("{}/32", kube_testbed::API_SERVER_NODE_ADDRESS);
    assert!(
        np["spec"]["egress"]
            .as_array()
            .is_some_and(|rules| rules.iter().any(|r| {
                r["to"][0]["ipBlock"]["cidr"] == api_block.as_str()
                    && r["ports"][0]["protocol"] == "TCP"
            })),
        "{np:#}"
    );
    assert!(objects.routed_template() && objects.routed_pod());
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));
    assert_eq!(
        status(&model, UNIT),
        (
            "active".into(),
            "VPN exit 203.0.113.7; no media-storage relation: downloads stay in /config".into()
        )
    );

    // --- steady state after the rollout: zero writes, no restart; with qBittorrent running
    // the Pod comes from the cache alone.
    let before = restarts(&model);
    let from = model.history().len();
    model.update_status()?;
    let requests = requests_since(&model, UNIT, from);
    assert_eq!(writes(&requests), Vec::<String>::new());
    assert_eq!(pod_reads(&requests), (1, 0), "{requests:#?}");
    assert_eq!(restarts(&model), before);

    // --- gateway data changes (VXLAN id and CIDRs): one update each, one rollout.
    let before = restarts(&model);
    let from = model.history().len();
    let changed =
        gateway_data(&json!({"vxlan_id": 43, "cluster_cidrs": "10.42.0.0/16,10.96.0.0/12"}));
    model.config("vpnarr", &kv(&[("data", &changed)]))?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let w = writes(&requests_since(&model, UNIT, from));
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(position(&w, "networkpolicies") < position(&w, "configmaps"));
    assert!(position(&w, "configmaps") < position(&w, "statefulsets"));
    assert_eq!(restarts(&model), before + 1, "one rollout");
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));

    // --- the gateway disconnects: Waiting, nothing written.
    let from = model.history().len();
    let down = gateway_data(
        &json!({"vxlan_id": 43, "cluster_cidrs": "10.42.0.0/16,10.96.0.0/12",
        "vpn_connected": false, "external_ip": null}),
    );
    model.config("vpnarr", &kv(&[("data", &down)]))?;
    assert_eq!(
        status(&model, UNIT),
        ("waiting".into(), MSG_VPN_DISCONNECTED.into())
    );
    assert!(writes(&requests_since(&model, UNIT, from)).is_empty());
    model.config("vpnarr", &kv(&[("data", &changed)]))?;

    // --- refresh (Juju re-applies its template): routing intact or repaired, no restart loop
    // (the simulator fails the operation on one), steady afterwards.
    let from = model.history().len();
    model.refresh(APP)?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let objects = Objects::read(&model);
    assert!(objects.routed_template() && objects.routed_pod());
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));
    let from = model.history().len();
    model.update_status()?;
    assert_eq!(
        writes(&requests_since(&model, UNIT, from)),
        Vec::<String>::new()
    );

    // --- credentials actions.
    let got = model.run_action(UNIT, "get-credentials", &[])?;
    assert_eq!(got.status, "completed", "{got:?}");
    let old_password = got.results["password"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(got.results["username"], "charmarr");
    assert_eq!(old_password.len(), 32);
    let rotated = model.run_action(UNIT, "rotate-credentials", &kv(&[("username", "admin")]))?;
    assert_eq!(rotated.status, "completed", "{rotated:?}");
    let got = model.run_action(UNIT, "get-credentials", &[])?;
    assert_eq!(got.results["username"], "admin");
    let new_password = got.results["password"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(new_password, old_password);
    let conf = std::fs::read_to_string(&conf_path)?;
    let stored = qbittorrent_k8s::conf::get(&conf, "WebUI\\Password_PBKDF2").ok_or("no hash")?;
    let password = qbittorrent_k8s::credentials::Password::parse(&new_password)?;
    assert!(qbittorrent_k8s::credentials::verify(&password, stored));
    assert!(conf.contains("WebUI\\Username=admin"));
    assert!(!conf.contains(&new_password), "plain password in the conf");
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));
    // The next hook keeps that hash (no rewrite).
    model.update_status()?;
    assert_eq!(std::fs::read_to_string(&conf_path)?, conf);

    // --- relation removed: routing and ConfigMap gone, kill switch kept, workload stopped.
    let from = model.history().len();
    model.remove_relation(APP, "vpnarr")?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let objects = Objects::read(&model);
    assert!(
        !objects.routed_template(),
        "routing removed: {:#?}",
        model.history()[from..]
            .iter()
            .map(|r| (
                r.unit.clone(),
                r.hook.clone(),
                r.api_requests.clone(),
                r.stderr.clone()
            ))
            .collect::<Vec<_>>()
    );
    assert!(objects.config_map.is_none(), "ConfigMap removed");
    assert!(objects.network_policy.is_some(), "kill switch kept");
    assert_eq!(
        status(&model, UNIT),
        ("blocked".into(), MSG_RELATION_REMOVED.into())
    );
    assert_ne!(service(&model, UNIT).as_deref(), Some("active"));
    let from = model.history().len();
    model.update_status()?;
    assert_eq!(
        writes(&requests_since(&model, UNIT, from)),
        Vec::<String>::new()
    );

    // --- relate to a second gateway: routed again, the kill switch never went away.
    model.deploy(
        &gateway_charm(),
        Some("gw2"),
        false,
        &kv(&[(
            "data",
            &gateway_data(&json!({
            "gateway_dns_name": "gw2-endpoints.downloads.svc.cluster.local",
            "instance_name": "gw2", "vxlan_id": 44})),
        )]),
    )?;
    let from = model.history().len();
    model.relate(APP, "gw2")?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let w = writes(&requests_since(&model, UNIT, from));
    assert!(!w.iter().any(|r| r.starts_with("DELETE")), "{w:#?}");
    let objects = Objects::read(&model);
    assert!(objects.routed_template() && objects.routed_pod());
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));

    // --- unsafe-mode with no relation: the kill switch is removed last.
    model.remove_relation(APP, "gw2")?;
    // Relation gone: routing removed, both kill switch layers kept.
    let objects = Objects::read(&model);
    assert!(!objects.routed_template() && objects.filtered_template());
    assert!(objects.network_policy.is_some());
    let from = model.history().len();
    model.config(APP, &kv(&[("unsafe-mode", "true")]))?;
    let w = writes(&requests_since(&model, UNIT, from));
    assert!(
        w.last()
            .is_some_and(|r| r.contains("networkpolicies/qbittorrent-vpn-killswitch")),
        "{w:#?}"
    );
    let objects = Objects::read(&model);
    assert!(objects.network_policy.is_none());
    assert!(
        !objects.filtered_template(),
        "unsafe-mode removes the in-pod filter too"
    );
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));
    Ok(())
}

/// GETs of this unit's Pod among `requests`: (from the API server's cache, latest state).
fn pod_reads(requests: &[String]) -> (usize, usize) {
    let gets = requests
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains(&format!("/pods/{APP}-0")));
    gets.fold((0, 0), |(cached, latest), r| {
        if r.contains("resourceVersion=0") {
            (cached + 1, latest)
        } else {
            (cached, latest + 1)
        }
    })
}
