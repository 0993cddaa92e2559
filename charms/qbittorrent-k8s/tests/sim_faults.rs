//! What goes wrong, in the simulator (real binary, real API server): no `--trust`, hostile
//! gateway data, and API faults through the fault proxy.

mod sim_common;

use juju_sim::model::Model;
use kube_testbed::{Action, Rule, Verb};
use serde_json::{Value, json};
use sim_common::{
    APP, Objects, TestResult, UNIT, failures_since, filter_init, gateway_charm, gateway_data, kv,
    model, requests_since, route_init, service, status, writes,
};

fn relate_with(model: &mut Model, data: &str) -> TestResult {
    model.deploy(
        &gateway_charm(),
        Some("vpnarr"),
        false,
        &kv(&[("data", data)]),
    )?;
    model.relate(APP, "vpnarr")?;
    Ok(())
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, step by step
fn untrusted_hostile_data_and_api_faults() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut model = model(tmp.path())?;

    // --- without --trust: Blocked naming it, nothing written.
    model.deploy("qbittorrent-k8s", Some(APP), false, &[])?;
    relate_with(&mut model, &gateway_data(&json!({})))?;
    let (level, message) = status(&model, UNIT);
    assert_eq!(level, "blocked");
    assert!(message.contains("--trust"), "{message}");
    assert!(message.contains("statefulsets"), "{message}");
    assert!(writes(&requests_since(&model, UNIT, 0)).is_empty());
    assert_ne!(service(&model, UNIT).as_deref(), Some("active"));

    // --- trust: routed, started in the routed pod.
    let from = model.history().len();
    model.trust(APP)?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let objects = Objects::read(&model);
    assert!(objects.network_policy.is_some() && objects.routed_pod());
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));
    assert_eq!(status(&model, UNIT).0, "active");

    // --- hostile or invalid gateway data: Blocked naming the field, nothing written, the
    // routing and kill switch left as they were, qBittorrent stopped.
    let valid = gateway_data(&json!({}));
    let huge = "x".repeat(70_000);
    let cases: Vec<(String, &str)> = vec![
        (
            gateway_data(&json!({"gateway_dns_name": "gw; rm -rf /"})),
            "gateway_dns_name",
        ),
        (
            gateway_data(&json!({"gateway_dns_name": "$(reboot)"})),
            "gateway_dns_name",
        ),
        (
            gateway_data(&json!({"gateway_dns_name": "gw\nX=1"})),
            "gateway_dns_name",
        ),
        (
            gateway_data(&json!({"gateway_dns_name": "gw\"'"})),
            "gateway_dns_name",
        ),
        (
            gateway_data(&json!({"cluster_cidrs": "0.0.0.0/0"})),
            "cluster_cidrs",
        ),
        (
            gateway_data(&json!({"cluster_cidrs": "10.0.0.0/8,8.8.8.8/32"})),
            "cluster_cidrs",
        ),
        (
            gateway_data(&json!({"cluster_cidrs": "2001:db8::/32"})),
            "cluster_cidrs",
        ),
        (
            gateway_data(&json!({"cluster_cidrs": "10.0.0.0/8`id`"})),
            "cluster_cidrs",
        ),
        (
            gateway_data(&json!({"cluster_dns_ip": "10.43.0.10; id"})),
            "cluster_dns_ip",
        ),
        (gateway_data(&json!({"vxlan_id": 0})), "vxlan_id"),
        (gateway_data(&json!({"vxlan_id": "42"})), "vxlan_id"),
        (gateway_data(&json!({"vxlan_port": 70000})), "vxlan_port"),
        (
            gateway_data(&json!({"vxlan_ip_network": "fd00::"})),
            "vxlan_ip_network",
        ),
        (
            gateway_data(&json!({"vpn_connected": "yes"})),
            "vpn_connected",
        ),
        (
            gateway_data(&json!({"instance_name": "Bad Name"})),
            "instance_name",
        ),
        (gateway_data(&json!({"padding": huge})), "config"),
        ("[\"not an object\"]".to_owned(), "config"),
        (
            gateway_data(&json!({"routing_method": "other"})),
            "routing method",
        ),
    ];
    for (data, field) in &cases {
        let from = model.history().len();
        model.config("vpnarr", &kv(&[("data", data)]))?;
        assert_eq!(
            failures_since(&model, from),
            Vec::<String>::new(),
            "{field}"
        );
        let (level, message) = status(&model, UNIT);
        assert_eq!(level, "blocked", "{field}: {message}");
        assert!(message.contains(field), "{field}: {message}");
        assert!(
            writes(&requests_since(&model, UNIT, from)).is_empty(),
            "{field}"
        );
        assert_ne!(service(&model, UNIT).as_deref(), Some("active"), "{field}");
        let objects = Objects::read(&model);
        assert!(
            objects.network_policy.is_some() && objects.routed_template(),
            "{field}"
        );
    }
    // Valid again: the pod still carries the routing for it, so no write, started again.
    let from = model.history().len();
    model.config("vpnarr", &kv(&[("data", &valid)]))?;
    assert!(writes(&requests_since(&model, UNIT, from)).is_empty());
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));

    // --- API faults on a data change (new CIDRs: all three objects change).
    // Transient 500s on the kill switch: retried within the hook, order kept.
    model.fault(
        APP,
        Rule::new(Action::status(500))
            .verb(Verb::Patch)
            .resource("networkpolicies")
            .times(2),
    )?;
    let from = model.history().len();
    let changed = gateway_data(&json!({"cluster_cidrs": "10.42.0.0/16,10.96.0.0/12"}));
    model.config("vpnarr", &kv(&[("data", &changed)]))?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let w = writes(&requests_since(&model, UNIT, from));
    let first_ss = w
        .iter()
        .position(|r| r.contains("statefulsets"))
        .ok_or("no patch")?;
    let last_np = w
        .iter()
        .rposition(|r| r.contains("networkpolicies"))
        .ok_or("no kill switch write")?;
    assert!(last_np < first_ss, "{w:#?}");
    assert_eq!(
        w.iter().filter(|r| r.contains("-> 500")).count(),
        2,
        "{w:#?}"
    );
    model.clear_faults(APP)?;

    // A kill-switch write that keeps failing: the hook fails (Juju retries) and the routing
    // patch is never sent while the kill switch cannot be written.
    model.fault(
        APP,
        Rule::new(Action::status(503))
            .verb(Verb::Patch)
            .resource("networkpolicies")
            .times(12),
    )?;
    let from = model.history().len();
    let changed2 = gateway_data(&json!({"cluster_cidrs": "10.42.0.0/16,10.97.0.0/16"}));
    model.config("vpnarr", &kv(&[("data", &changed2)]))?;
    let records: Vec<_> = model.history()[from..]
        .iter()
        .filter(|r| r.unit == UNIT)
        .cloned()
        .collect();
    assert!(
        records.iter().any(|r| r.code != 0),
        "a hook failed and was retried"
    );
    for r in records.iter().filter(|r| r.code != 0) {
        assert!(
            !r.api_requests
                .iter()
                .any(|q| q.starts_with("PATCH") && q.contains("statefulsets")),
            "routing patched after a failed kill-switch write: {:#?}",
            r.api_requests
        );
    }
    model.clear_faults(APP)?;
    model.update_status()?;
    let np = Objects::read(&model).network_policy.ok_or("kill switch")?;
    let np = serde_json::to_value(np)?;
    assert!(
        np.to_string().contains("10.97.0.0/16"),
        "kill switch updated: {np}"
    );
    assert_eq!(
        status(&model, UNIT).0,
        "active",
        "{:?}",
        status(&model, UNIT)
    );

    // A 409 on the StatefulSet patch: re-read, re-planned, written once.
    model.fault(
        APP,
        Rule::new(Action::status(409))
            .verb(Verb::Patch)
            .resource("statefulsets")
            .times(1),
    )?;
    let from = model.history().len();
    let changed3 =
        gateway_data(&json!({"cluster_cidrs": "10.42.0.0/16,10.97.0.0/16", "vxlan_id": 50}));
    model.config("vpnarr", &kv(&[("data", &changed3)]))?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let w = writes(&requests_since(&model, UNIT, from));
    assert_eq!(
        w.iter()
            .filter(|r| r.starts_with("PATCH")
                && r.contains("statefulsets")
                && r.ends_with("-> 200"))
            .count(),
        1,
        "{w:#?}"
    );
    model.clear_faults(APP)?;

    // A 403 on the StatefulSet patch only: Blocked naming the permission; next hook repairs.
    model.fault(
        APP,
        Rule::new(Action::status(403))
            .verb(Verb::Patch)
            .resource("statefulsets")
            .times(1),
    )?;
    let changed4 =
        gateway_data(&json!({"cluster_cidrs": "10.42.0.0/16,10.97.0.0/16", "vxlan_id": 51}));
    model.config("vpnarr", &kv(&[("data", &changed4)]))?;
    let (level, message) = status(&model, UNIT);
    assert_eq!(level, "blocked", "{message}");
    assert!(
        message.contains("--trust") && message.contains("statefulsets"),
        "{message}"
    );
    model.clear_faults(APP)?;
    model.update_status()?;
    let ss = serde_json::to_value(Objects::read(&model).statefulset.ok_or("statefulset")?)?;
    let hash_changed = ss
        .pointer("/spec/template/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key("charmarr.io/gateway-client-config-hash"));
    assert!(hash_changed);
    assert_eq!(
        status(&model, UNIT).0,
        "active",
        "{:?}",
        status(&model, UNIT)
    );

    // Steady state at the end: zero writes.
    let from = model.history().len();
    model.update_status()?;
    assert!(writes(&requests_since(&model, UNIT, from)).is_empty());

    // --- a second unit: never writes to the cluster, starts once its own pod is routed.
    let from = model.history().len();
    model.scale(APP, 2)?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    assert!(writes(&requests_since(&model, "qbittorrent/1", from)).is_empty());
    assert_eq!(service(&model, "qbittorrent/1").as_deref(), Some("active"));
    assert_eq!(
        status(&model, "qbittorrent/1").0,
        "active",
        "{:?}",
        status(&model, "qbittorrent/1")
    );
    Ok(())
}

/// A gateway unreachable while the pod started (issue 18): the pod carries the routing, but
/// vpn-route-init gave up, so qBittorrent is not started and the status names the cause and
/// the fix; no write repairs what is not broken. The operator's fix (delete the pod once the
/// gateway is back) starts it.
#[test]
fn a_route_that_did_not_come_up_keeps_qbittorrent_stopped_until_the_pod_routes() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut model = model(tmp.path())?;
    let gave_up = format!(
        "{} after 3 attempts (last: client_init.sh exited 1)",
        vpn_gateway_iface::wrapper::NOT_ROUTED
    );
    model.script_containers([filter_init(), route_init(0, &gave_up)]);
    model.deploy("qbittorrent-k8s", Some(APP), true, &[])?;
    relate_with(&mut model, &gateway_data(&json!({})))?;
    assert!(Objects::read(&model).routed_pod());
    let (level, message) = status(&model, UNIT);
    assert_eq!(level, "waiting", "{message}");
    assert_eq!(
        message,
        "VPN route not up: gateway unreachable; when the gateway is up: \
         kubectl -n downloads delete pod qbittorrent-0"
    );
    assert_ne!(service(&model, UNIT).as_deref(), Some("active"));
    let from = model.history().len();
    model.update_status()?;
    assert!(writes(&requests_since(&model, UNIT, from)).is_empty());
    assert_eq!(status(&model, UNIT).1, message);

    model.script_containers([
        filter_init(),
        route_init(0, vpn_gateway_iface::wrapper::ROUTED),
    ]);
    let from = model.history().len();
    model.delete_pod(UNIT)?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    assert!(writes(&requests_since(&model, UNIT, from)).is_empty());
    assert_eq!(
        status(&model, UNIT).0,
        "active",
        "{:?}",
        status(&model, UNIT)
    );
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));
    Ok(())
}
