//! Plan tests: every status path, the write order, steady state and hostile relation data.

use juju_charm::StatusLevel;
use juju_charm::pebble::Plan as PebblePlan;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use charmarr_client::managers::ManagerRelation;
use charmarr_client::storage::StorageRelation;

use super::*;
use crate::config::{Config, ConfigError};
use crate::constants::STANDALONE_SAVE_PATH;
use crate::credentials::Username;
use crate::inputs::{ApiServerObject, Live};
use vpn_gateway_iface::client::{
    CLIENT_HASH_ANNOTATION, GATEWAY_ENV, VPN_ROUTE_INIT, VPN_ROUTE_SIDECAR,
};
use vpn_gateway_iface::wrapper;
use vpn_gateway_iface::{AppName, Namespace, StatefulSetJson};

const APP: &str = "qbittorrent";
const HASH: &str = "@ByteArray(c2FsdA==:aGFzaA==)";

fn provider(overrides: &Value) -> String {
    let mut v = json!({
        "routing_method": "pod-gateway",
        "gateway_dns_name": "vpnarr-endpoints.downloads.svc.cluster.local",
        "vxlan_id": 42,
        "vxlan_ip_network": "172.16.0",
        "vxlan_port": 4790,
        "cluster_cidrs": "10.42.0.0/16,10.43.0.0/16,169.254.7.127/32",
        "cluster_dns_ip": "10.43.0.10",
        "vpn_connected": true,
        "external_ip": "203.0.113.7",
        "instance_name": "vpnarr"
    });
    if let (Value::Object(base), Value::Object(extra)) = (&mut v, overrides) {
        for (k, val) in extra {
            base.insert(k.clone(), val.clone());
        }
    }
    v.to_string()
}

fn data(overrides: &Value) -> ProviderData {
    ProviderData::from_databag(&provider(overrides)).expect("test data is valid")
}

fn owner() -> Owner {
    Owner {
        app: AppName::parse(APP).unwrap(),
        namespace: Namespace::parse("downloads").unwrap(),
        field_manager: FIELD_MANAGER,
    }
}

const STORAGE: &str =
    r#"{"pvc_name":"charmarr-shared-media","mount_path":"/data","puid":1000,"pgid":1000}"#;

fn storage_relation() -> StorageRelation {
    StorageRelation {
        id: 9,
        remote_app: Some("storage".into()),
        provider_config: Some(STORAGE.into()),
    }
}

/// A StatefulSet as Juju creates it (charm + workload container, Juju's annotation), with the
/// shared claim mounted by an earlier hook.
fn juju_statefulset() -> StatefulSetJson {
    let bare = bare_statefulset();
    let step = Storage::from_relation(Some(&storage_relation()))
        .step(CONTAINER, &bare)
        .unwrap();
    let mut patch = step.patch(&bare).unwrap();
    patch.as_object_mut().unwrap().remove("metadata");
    vpn_gateway_iface::statefulset::emulate_strategic_merge(&bare, &patch).unwrap()
}

/// A StatefulSet exactly as Juju creates it.
fn bare_statefulset() -> StatefulSetJson {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": APP, "namespace": "downloads", "resourceVersion": "7"},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
            "serviceName": "qbittorrent-endpoints",
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": APP},
                             "annotations": {"juju.is/version": "3.6.0"}},
                "spec": {
                    "initContainers": [{"name": "charm-init", "image": "jujud-operator",
                        "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"}],
                    "containers": [
                        {"name": "charm", "image": "charm-base", "imagePullPolicy": "IfNotPresent"},
                        {"name": "qbittorrent", "image": "lscr.io/linuxserver/qbittorrent"}
                    ]
                }
            }
        }
    }))
    .unwrap()
}

/// The cluster after a routed reconcile for `d` (what the API server would hold).
fn live_routed(d: &ProviderData, cilium: bool) -> Live {
    let mut live = Live {
        statefulset: Some(juju_statefulset()),
        cilium_crd: cilium,
        ..Live::default()
    };
    apply_steps(&mut live, &plan_kube(d, cilium));
    live
}

fn plan_kube(d: &ProviderData, cilium: bool) -> Vec<KubeStep> {
    let mut inputs = leader_inputs(Relation::Joined {
        id: 3,
        remote_app: Some("vpnarr".into()),
        provider_config: Some(d.to_databag()),
        our_config: None,
    });
    inputs.cluster = Cluster::Live(Box::new(Live {
        statefulset: Some(juju_statefulset()),
        cilium_crd: cilium,
        ..Live::default()
    }));
    plan(&inputs).kube
}

/// Applies steps as the API server would (server-side apply stores the object; SMPs merge).
fn apply_steps(live: &mut Live, steps: &[KubeStep]) {
    for step in steps {
        match step {
            KubeStep::ApplyNetworkPolicy(np) => live.network_policy = Some((**np).clone()),
            KubeStep::ApplyCiliumPolicy(v) => live.cilium_policy = Some(v.clone()),
            KubeStep::ApplyConfigMap(cm) => live.config_map = Some((**cm).clone()),
            KubeStep::PatchStatefulSet(_, additions) => {
                let ss = live.statefulset.as_ref().unwrap();
                live.statefulset = Some(additions.emulate_add(ss).unwrap());
            }
            KubeStep::RemoveRouting(_, names) => {
                let ss = live.statefulset.as_ref().unwrap();
                live.statefulset = Some(names.emulate_remove(ss).unwrap());
            }
            KubeStep::DeleteConfigMap(_) => live.config_map = None,
            KubeStep::DeleteCiliumPolicy(_) => live.cilium_policy = None,
            KubeStep::DeleteNetworkPolicy(_) => live.network_policy = None,
            KubeStep::SharedStorage(_, step) => {
                let ss = live.statefulset.as_ref().unwrap();
                if let Some(mut patch) = step.patch(ss) {
                    patch.as_object_mut().unwrap().remove("metadata");
                    live.statefulset = Some(
                        vpn_gateway_iface::statefulset::emulate_strategic_merge(ss, &patch)
                            .unwrap(),
                    );
                }
            }
        }
    }
}

/// The Pod the StatefulSet controller would create from `ss`, as the charm reads it once the
/// kubelet has run its init containers: each exited 0, vpn-route-init (if any) with
/// `routed`, as our wrapper reports a reachable gateway.
fn pod_from(ss: &StatefulSetJson) -> PodRouting {
    let template = &ss.as_json()["spec"]["template"];
    let inits = template["spec"]["initContainers"].as_array().cloned();
    let statuses: Vec<Value> = inits
        .into_iter()
        .flatten()
        .map(|c| {
            let message = (c["name"] == VPN_ROUTE_INIT).then_some(wrapper::ROUTED);
            json!({"name": c["name"], "state": {"terminated": {"exitCode": 0, "message": message}}})
        })
        .collect();
    serde_json::from_value(json!({
        "metadata": {
            "name": format!("{APP}-0"),
            "annotations": template["metadata"]["annotations"],
        },
        "spec": template["spec"],
        "status": {"initContainerStatuses": statuses},
    }))
    .unwrap()
}

/// `pod` with vpn-route-init's status replaced by `state` (its JSON, as the API answers it).
fn with_route_init_state(mut pod: PodRouting, state: Value) -> PodRouting {
    let statuses = pod
        .status
        .as_mut()
        .and_then(|s| s.init_container_statuses.as_mut())
        .unwrap();
    let ours = statuses
        .iter_mut()
        .find(|c| c.name == VPN_ROUTE_INIT)
        .unwrap();
    ours.state = serde_json::from_value(state).unwrap();
    pod
}

fn config(unsafe_mode: bool) -> Config {
    Config {
        unsafe_mode,
        ..Config::default()
    }
}

fn steady_conf() -> String {
    conf::session(
        &conf::reconcile(
            None,
            &Managed {
                username: "charmarr".into(),
                password_hash: HASH.into(),
                port: 8080,
            },
        ),
        "/data/torrents",
    )
}

fn pebble_plan_for(config: &Config, startup: Startup) -> PebblePlan {
    let yaml = workload::layer(config, startup, (1000, 1000))
        .to_text()
        .unwrap();
    PebblePlan::from_yaml(&yaml).unwrap()
}

fn leader_inputs(relation: Relation) -> Inputs {
    Inputs {
        app: AppName::parse(APP).unwrap(),
        model: Namespace::parse("downloads").unwrap(),
        model_uuid: String::new(),
        unit_number: 0,
        leader: true,
        config: Ok(config(false)),
        relation,
        managers: Vec::new(),
        storage: Some(storage_relation()),
        secret_id: None,
        cluster: Cluster::Live(Box::new(Live {
            statefulset: Some(juju_statefulset()),
            ..Live::default()
        })),
        pod: PodView::Read(Some(Box::new(pod_from(&juju_statefulset())))),
        workload: Workload::Reachable {
            plan: PebblePlan::default(),
            running: false,
            conf: None,
            categories: None,
        },
        credentials: Credentials::Known {
            username: Username::parse("charmarr").unwrap(),
            password_hash: HASH.into(),
            create: None,
        },
        opened_ports: vec![Port::tcp(8080)],
    }
}

fn joined(d: &ProviderData) -> Relation {
    Relation::Joined {
        id: 3,
        remote_app: Some("vpnarr".into()),
        provider_config: Some(d.to_databag()),
        our_config: Some(r#"{"instance_name":"qbittorrent"}"#.into()),
    }
}

/// A leader in steady state: routed for `d`, pod restarted with the routing, qBittorrent
/// running with our conf and layer.
fn steady(d: &ProviderData) -> Inputs {
    let live = live_routed(d, false);
    let pod = pod_from(live.statefulset.as_ref().unwrap());
    let mut inputs = leader_inputs(joined(d));
    inputs.cluster = Cluster::Live(Box::new(live));
    inputs.pod = PodView::Read(Some(Box::new(pod)));
    inputs.workload = Workload::Reachable {
        plan: pebble_plan_for(&config(false), Startup::Enabled),
        running: true,
        conf: Some(steady_conf()),
        categories: None,
    };
    inputs
}

/// qBittorrent is stopped and Pebble told not to start it by itself.
fn assert_stopped(plan: &Plan) {
    assert!(
        matches!(plan.workload.as_slice(), [WorkloadStep::Stop, WorkloadStep::AddLayer(l)]
            if l.services[workload::SERVICE].startup == Some(Startup::Disabled)),
        "{:?}",
        plan.workload
    );
}

fn labels(plan: &Plan) -> Vec<String> {
    plan.kube.iter().map(ToString::to_string).collect()
}

fn worst(plan: &Plan) -> Status {
    juju_charm::status::fold(&plan.statuses)
}

#[test]
fn steady_state_writes_nothing() {
    let p = plan(&steady(&data(&json!({}))));
    assert!(p.writes_nothing(), "{p:?}");
    assert_eq!(worst(&p), Status::active("VPN exit 203.0.113.7"));
}

#[test]
fn steady_state_with_cilium_writes_nothing() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    let live = live_routed(&d, true);
    assert!(live.cilium_policy.is_some());
    inputs.cluster = Cluster::Live(Box::new(live));
    assert!(plan(&inputs).writes_nothing());
}

#[test]
fn deploy_alone_is_blocked_and_never_starts() {
    let mut inputs = leader_inputs(Relation::Absent);
    inputs.opened_ports = vec![];
    inputs.credentials = Credentials::Known {
        username: Username::parse("charmarr").unwrap(),
        password_hash: HASH.into(),
        create: Some(Password::parse("generated-password").unwrap()),
    };
    let p = plan(&inputs);
    assert_eq!(worst(&p), Status::blocked(MSG_NO_RELATION));
    assert!(p.kube.is_empty());
    assert!(p.publish.is_none());
    assert!(p.create_secret.is_some());
    assert!(!p.workload.contains(&WorkloadStep::Restart));
    assert!(
        matches!(p.workload.as_slice(), [WorkloadStep::PushConf(_), WorkloadStep::AddLayer(l)]
        if l.services[workload::SERVICE].startup == Some(Startup::Disabled))
    );
    assert_eq!(p.ports, vec![PortStep::Open(Port::tcp(8080))]);
}

#[test]
fn unsafe_mode_runs_without_relation() {
    let mut inputs = leader_inputs(Relation::Absent);
    inputs.config = Ok(config(true));
    let p = plan(&inputs);
    assert!(p.kube.is_empty());
    assert_eq!(p.workload.last(), Some(&WorkloadStep::Restart));
    assert_eq!(worst(&p).level, StatusLevel::Active);
    assert!(worst(&p).message.contains("unsafe-mode"));
}

#[test]
fn valid_data_kill_switch_then_configmap_then_statefulset() {
    let d = data(&json!({}));
    let mut inputs = leader_inputs(joined(&d));
    inputs.workload = Workload::Reachable {
        plan: pebble_plan_for(&config(false), Startup::Enabled),
        running: true,
        conf: Some(steady_conf()),
        categories: None,
    };
    let p = plan(&inputs);
    assert_eq!(
        labels(&p),
        [
            "apply networkpolicy qbittorrent-vpn-killswitch",
            "apply configmap qbittorrent-gateway-client-config",
            "patch statefulset qbittorrent: add routing"
        ]
    );
    // The running pod has no routing yet: qBittorrent is stopped, not started.
    assert_eq!(p.workload[0], WorkloadStep::Stop);
    assert!(!p.workload.contains(&WorkloadStep::Restart));
    assert_eq!(worst(&p), Status::waiting(MSG_POD_NOT_ROUTED));

    let mut inputs = leader_inputs(joined(&d));
    if let Cluster::Live(live) = &mut inputs.cluster {
        live.cilium_crd = true;
    }
    assert_eq!(
        labels(&plan(&inputs)),
        [
            "apply networkpolicy qbittorrent-vpn-killswitch",
            "apply ciliumnetworkpolicy qbittorrent-vpn-killswitch-cilium",
            "apply configmap qbittorrent-gateway-client-config",
            "patch statefulset qbittorrent: add routing"
        ]
    );
}

#[test]
fn routed_pod_starts_the_workload_and_applying_twice_is_a_noop() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.workload = Workload::Reachable {
        plan: PebblePlan::default(),
        running: false,
        conf: None,
        categories: None,
    };
    let p = plan(&inputs);
    assert!(p.kube.is_empty());
    assert!(matches!(p.workload.as_slice(),
        [WorkloadStep::PushConf(_), WorkloadStep::AddLayer(l), WorkloadStep::Restart]
        if l.services[workload::SERVICE].startup == Some(Startup::Enabled)));
}

/// The gate reads vpn-route-init's outcome from the Pod's status (docs/adr/0021): a pod that
/// carries the routing but whose route did not come up (the gateway was unreachable at its
/// start, the init was cut short, or the kubelet has not reported yet) gets no qBittorrent,
/// and the status says why and what to do. Nothing is written to the cluster: the routing is
/// already right.
#[test]
fn qbittorrent_starts_only_when_vpn_route_init_says_routed() {
    let d = data(&json!({}));
    let gave_up = format!(
        "{} after 3 attempts (last: client_init.sh exited 1)\n",
        wrapper::NOT_ROUTED
    );
    let unreachable = format!(
        "{MSG_ROUTE_UNREACHABLE}; when the gateway is up: kubectl -n downloads delete pod {APP}-0"
    );
    let failed =
        format!("{MSG_ROUTE_FAILED}; see kubectl -n downloads logs {APP}-0 -c {VPN_ROUTE_INIT}");
    for (state, want) in [
        (
            json!({"terminated": {"exitCode": 0, "message": gave_up}}),
            unreachable.as_str(),
        ),
        (
            json!({"running": {"startedAt": "2026-12-04T00:00:00Z"}}),
            MSG_ROUTE_PENDING,
        ),
        (
            json!({"waiting": {"reason": "PodInitializing"}}),
            MSG_ROUTE_PENDING,
        ),
        (json!(null), MSG_ROUTE_PENDING),
        (
            json!({"terminated": {"exitCode": 137, "message": "routed"}}),
            failed.as_str(),
        ),
        (json!({"terminated": {"exitCode": 0}}), failed.as_str()),
        // A hostile or foreign message is compared, never shown.
        (
            json!({"terminated": {"exitCode": 0, "message": "routed; rm -rf /"}}),
            failed.as_str(),
        ),
    ] {
        for running in [false, true] {
            let mut inputs = steady(&d);
            let pod = steady_pod(&inputs);
            inputs.pod = PodView::Read(Some(Box::new(with_route_init_state(pod, state.clone()))));
            if let Workload::Reachable { running: r, .. } = &mut inputs.workload {
                *r = running;
            }
            let p = plan(&inputs);
            assert!(p.kube.is_empty(), "{state}: {:?}", labels(&p));
            assert_eq!(worst(&p), Status::waiting(want), "{state}");
            if running {
                assert_stopped(&p);
            } else {
                assert!(
                    !p.workload
                        .iter()
                        .any(|s| matches!(s, WorkloadStep::Restart)),
                    "{state}: {:?}",
                    p.workload
                );
            }
        }
    }
    // No status at all (a Pod just created): waiting, not started.
    let mut inputs = steady(&d);
    let mut pod = steady_pod(&inputs);
    pod.status = None;
    inputs.pod = PodView::Read(Some(Box::new(pod)));
    let p = plan(&inputs);
    assert_eq!(worst(&p), Status::waiting(MSG_ROUTE_PENDING));
    assert_stopped(&p);
    // unsafe-mode opens the gate (the pod carries no routing then; ADR 0021).
    let mut inputs = steady(&d);
    inputs.config = Ok(config(true));
    let pod = steady_pod(&inputs);
    inputs.pod = PodView::Read(Some(Box::new(with_route_init_state(
        pod,
        json!({"terminated": {"exitCode": 0, "message": gave_up}}),
    ))));
    let statuses = format!("{:?}", plan(&inputs).statuses);
    assert!(!statuses.contains(MSG_ROUTE_UNREACHABLE), "{statuses}");
}

/// The Pod `steady` reads, fresh (to change its status).
fn steady_pod(inputs: &Inputs) -> PodRouting {
    let Cluster::Live(live) = &inputs.cluster else {
        unreachable!("steady inputs read a live cluster")
    };
    pod_from(live.statefulset.as_ref().unwrap())
}

#[test]
fn gateway_data_change_updates_in_order_once() {
    let old = data(&json!({}));
    // New CIDRs: kill switch, ConfigMap and StatefulSet (new hash → one rollout).
    let new = data(&json!({"cluster_cidrs": "10.42.0.0/16,10.96.0.0/12"}));
    let mut inputs = steady(&old);
    inputs.relation = joined(&new);
    let p = plan(&inputs);
    assert_eq!(
        labels(&p),
        [
            "apply networkpolicy qbittorrent-vpn-killswitch",
            "apply configmap qbittorrent-gateway-client-config",
            "patch statefulset qbittorrent: add routing"
        ]
    );
    // The running pod carries the old routing: stop until the new pod is up.
    assert_stopped(&p);
    // After the writes, the next hook (old pod still running) writes nothing more.
    let Cluster::Live(mut live) = inputs.cluster.clone() else {
        unreachable!()
    };
    apply_steps(&mut live, &p.kube);
    let mut after = inputs.clone();
    after.cluster = Cluster::Live(live.clone());
    assert!(plan(&after).kube.is_empty());
    // New VXLAN id only: the kill switch already holds; ConfigMap and StatefulSet change.
    let vx = data(&json!({"vxlan_id": 77}));
    let mut inputs = steady(&old);
    inputs.relation = joined(&vx);
    assert_eq!(
        labels(&plan(&inputs)),
        [
            "apply configmap qbittorrent-gateway-client-config",
            "patch statefulset qbittorrent: add routing"
        ]
    );
}

#[test]
fn vpn_disconnected_is_waiting() {
    let d = data(&json!({"vpn_connected": false, "external_ip": null}));
    let p = plan(&steady(&d));
    assert!(p.writes_nothing());
    assert_eq!(worst(&p), Status::waiting(MSG_VPN_DISCONNECTED));
}

#[test]
fn relation_removed_removes_routing_and_keeps_kill_switch() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.relation = Relation::Absent;
    let p = plan(&inputs);
    assert_eq!(
        labels(&p),
        [
            "patch statefulset qbittorrent: remove routing",
            "delete configmap qbittorrent-gateway-client-config"
        ]
    );
    assert_eq!(p.workload.first(), Some(&WorkloadStep::Stop));
    assert_eq!(worst(&p), Status::blocked(MSG_RELATION_REMOVED));
    // Next hook: routing gone, kill switch kept, nothing written.
    let Cluster::Live(mut live) = inputs.cluster.clone() else {
        unreachable!()
    };
    apply_steps(&mut live, &p.kube);
    assert!(live.network_policy.is_some());
    let mut after = inputs.clone();
    after.cluster = Cluster::Live(live);
    after.workload = Workload::Reachable {
        plan: pebble_plan_for(&config(false), Startup::Disabled),
        running: false,
        conf: Some(steady_conf()),
        categories: None,
    };
    let p = plan(&after);
    assert!(p.writes_nothing(), "{p:?}");
    assert_eq!(worst(&p), Status::blocked(MSG_RELATION_REMOVED));
}

#[test]
fn relation_removed_in_unsafe_mode_removes_kill_switch_last() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.cluster = Cluster::Live(Box::new(live_routed(&d, true)));
    inputs.relation = Relation::Absent;
    inputs.config = Ok(config(true));
    let p = plan(&inputs);
    assert_eq!(
        labels(&p),
        [
            "patch statefulset qbittorrent: remove routing",
            "delete configmap qbittorrent-gateway-client-config",
            "delete ciliumnetworkpolicy qbittorrent-vpn-killswitch-cilium",
            "delete networkpolicy qbittorrent-vpn-killswitch"
        ]
    );
    assert_eq!(worst(&p).level, StatusLevel::Active);
}

#[test]
fn switching_gateways_never_drops_the_kill_switch() {
    let a = data(&json!({}));
    let b = data(
        &json!({"gateway_dns_name": "gw2-endpoints.downloads.svc.cluster.local",
        "instance_name": "gw2", "vxlan_id": 43, "cluster_cidrs": "10.42.0.0/16,10.96.0.0/12"}),
    );
    let mut inputs = steady(&a);
    let mut history = Vec::new();
    for relation in [
        Relation::Absent,
        Relation::Joined {
            id: 9,
            remote_app: Some("gw2".into()),
            provider_config: None,
            our_config: None,
        },
        joined(&b),
    ] {
        inputs.relation = relation;
        let p = plan(&inputs);
        let Cluster::Live(live) = &mut inputs.cluster else {
            unreachable!()
        };
        for step in &p.kube {
            assert!(!matches!(
                step,
                KubeStep::DeleteNetworkPolicy(_) | KubeStep::DeleteCiliumPolicy(_)
            ));
            history.push(step.to_string());
            apply_steps(live, std::slice::from_ref(step));
            assert!(
                live.network_policy.is_some(),
                "kill switch missing after {step}"
            );
        }
    }
    assert_eq!(
        history,
        [
            "patch statefulset qbittorrent: remove routing",
            "delete configmap qbittorrent-gateway-client-config",
            "apply networkpolicy qbittorrent-vpn-killswitch",
            "apply configmap qbittorrent-gateway-client-config",
            "patch statefulset qbittorrent: add routing"
        ]
    );
}

#[test]
fn joined_without_data_changes_nothing() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.relation = Relation::Joined {
        id: 3,
        remote_app: Some("vpnarr".into()),
        provider_config: None,
        our_config: Some(r#"{"instance_name":"qbittorrent"}"#.into()),
    };
    let p = plan(&inputs);
    assert!(p.kube.is_empty());
    assert_stopped(&p);
    assert_eq!(
        worst(&p),
        Status::waiting("Waiting for vpn-gateway data from vpnarr")
    );
    // Freshly related (no routing yet): still nothing written, nothing started.
    let mut fresh = leader_inputs(inputs.relation.clone());
    fresh.relation = Relation::Joined {
        id: 3,
        remote_app: None,
        provider_config: None,
        our_config: None,
    };
    let p = plan(&fresh);
    assert!(p.kube.is_empty());
    assert!(!p.workload.contains(&WorkloadStep::Restart));
    assert_eq!(
        p.publish,
        Some((3, r#"{"instance_name":"qbittorrent"}"#.into()))
    );
}

#[test]
fn publishes_instance_name_only_when_it_differs() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    assert!(plan(&inputs).publish.is_none());
    inputs.relation = Relation::Joined {
        id: 3,
        remote_app: Some("vpnarr".into()),
        provider_config: Some(d.to_databag()),
        our_config: Some(r#"{"instance_name":"other"}"#.into()),
    };
    assert_eq!(
        plan(&inputs).publish,
        Some((3, r#"{"instance_name":"qbittorrent"}"#.into()))
    );
    inputs.leader = false;
    inputs.cluster = Cluster::NotRead;
    assert!(plan(&inputs).publish.is_none());
}

/// Hostile or invalid gateway data: Blocked naming the field, and nothing written in the
/// cluster (the existing routing and kill switch stay as they are).
#[test]
#[allow(clippy::too_many_lines)] // one table of cases
fn hostile_relation_data_is_blocked_naming_the_field_and_writes_nothing() {
    let huge = "a".repeat(70_000);
    let long_label = format!("{}.example.com", "a".repeat(64));
    let cases: Vec<(String, &str)> = vec![
        (
            provider(&json!({"gateway_dns_name": "gw;rm -rf /"})),
            "gateway_dns_name",
        ),
        (
            provider(&json!({"gateway_dns_name": "$(reboot).svc"})),
            "gateway_dns_name",
        ),
        (
            provider(&json!({"gateway_dns_name": "a`id`b"})),
            "gateway_dns_name",
        ),
        (
            provider(&json!({"gateway_dns_name": "gw\nX=1"})),
            "gateway_dns_name",
        ),
        (
            provider(&json!({"gateway_dns_name": "gw\"quote"})),
            "gateway_dns_name",
        ),
        (
            provider(&json!({"gateway_dns_name": long_label})),
            "gateway_dns_name",
        ),
        (
            provider(&json!({"gateway_dns_name": 5})),
            "gateway_dns_name",
        ),
        (
            provider(&json!({"cluster_cidrs": "10.0.0.0/8; curl evil"})),
            "cluster_cidrs",
        ),
        (
            provider(&json!({"cluster_cidrs": "10.0.0.0/8\n0.0.0.0/0"})),
            "cluster_cidrs",
        ),
        (
            provider(&json!({"cluster_cidrs": "0.0.0.0/0"})),
            "cluster_cidrs",
        ),
        (
            provider(&json!({"cluster_cidrs": "8.8.8.0/24"})),
            "cluster_cidrs",
        ),
        (provider(&json!({"cluster_cidrs": "::/0"})), "cluster_cidrs"),
        (
            provider(&json!({"cluster_cidrs": "2001:db8::/32"})),
            "cluster_cidrs",
        ),
        (provider(&json!({"cluster_cidrs": ""})), "cluster_cidrs"),
        (
            provider(&json!({"cluster_cidrs": ["10.0.0.0/8"]})),
            "cluster_cidrs",
        ),
        (
            provider(&json!({"cluster_dns_ip": "10.43.0.10\"; id; \""})),
            "cluster_dns_ip",
        ),
        (
            provider(&json!({"cluster_dns_ip": "kube-dns"})),
            "cluster_dns_ip",
        ),
        (provider(&json!({"vxlan_id": 0})), "vxlan_id"),
        (provider(&json!({"vxlan_id": 16_777_216})), "vxlan_id"),
        (provider(&json!({"vxlan_id": -1})), "vxlan_id"),
        (provider(&json!({"vxlan_id": "42"})), "vxlan_id"),
        (provider(&json!({"vxlan_id": 42.5})), "vxlan_id"),
        (provider(&json!({"vxlan_id": 1e30})), "vxlan_id"),
        (provider(&json!({"vxlan_port": 0})), "vxlan_port"),
        (provider(&json!({"vxlan_port": 65536})), "vxlan_port"),
        (provider(&json!({"vxlan_port": true})), "vxlan_port"),
        (
            provider(&json!({"vxlan_ip_network": "172.16.0.0"})),
            "vxlan_ip_network",
        ),
        (
            provider(&json!({"vxlan_ip_network": "172.16.256"})),
            "vxlan_ip_network",
        ),
        (
            provider(&json!({"vxlan_ip_network": "fd00::"})),
            "vxlan_ip_network",
        ),
        (
            provider(&json!({"vxlan_ip_network": "172.16.0\"; id"})),
            "vxlan_ip_network",
        ),
        (provider(&json!({"vpn_connected": "true"})), "vpn_connected"),
        (
            provider(&json!({"external_ip": "not-an-ip"})),
            "external_ip",
        ),
        (
            provider(&json!({"instance_name": "Bad_Name"})),
            "instance_name",
        ),
        (
            provider(&json!({"instance_name": "x'; DROP"})),
            "instance_name",
        ),
        (provider(&json!({"padding": huge})), "config"),
        ("not json".to_owned(), "config"),
        ("[1,2]".to_owned(), "config"),
        ("\"string\"".to_owned(), "config"),
        (
            r#"{"routing_method": "pod-gateway"}"#.to_owned(),
            "gateway_dns_name",
        ),
    ];
    let d = data(&json!({}));
    for (config, field) in &cases {
        let mut inputs = steady(&d);
        inputs.relation = Relation::Joined {
            id: 3,
            remote_app: Some("vpnarr".into()),
            provider_config: Some(config.clone()),
            our_config: Some(r#"{"instance_name":"qbittorrent"}"#.into()),
        };
        let p = plan(&inputs);
        assert!(p.kube.is_empty(), "{field}: {:?}", labels(&p));
        assert_stopped(&p);
        let status = worst(&p);
        assert_eq!(status.level, StatusLevel::Blocked, "{field}");
        assert!(
            status.message.contains(&format!("{field}:")),
            "{field}: {}",
            status.message
        );
        assert!(
            status.message.len() < 200,
            "status echoes input: {}",
            status.message
        );
        for needle in ["rm -rf", "reboot", "curl", "DROP", "\n"] {
            assert!(!status.message.contains(needle), "{}", status.message);
        }
        // The same data on a fresh deployment: nothing created either.
        let mut fresh = leader_inputs(inputs.relation.clone());
        fresh.workload = Workload::Unreachable;
        assert!(plan(&fresh).kube.is_empty(), "{field}");
    }
}

#[test]
fn unsupported_routing_method_is_blocked() {
    let mut inputs = leader_inputs(Relation::Absent);
    inputs.relation = Relation::Joined {
        id: 3,
        remote_app: Some("vpnarr".into()),
        provider_config: Some(provider(&json!({"routing_method": "wireguard-sidecar"}))),
        our_config: None,
    };
    let p = plan(&inputs);
    assert!(p.kube.is_empty());
    let status = worst(&p);
    assert_eq!(status.level, StatusLevel::Blocked);
    assert!(
        status.message.contains("unsupported routing method"),
        "{status}"
    );
}

#[test]
fn forbidden_is_blocked_with_the_trust_message_and_writes_nothing() {
    let d = data(&json!({}));
    let mut inputs = leader_inputs(joined(&d));
    let msg =
        "cannot get statefulsets.apps: requires --trust (juju trust qbittorrent --scope=cluster)";
    inputs.cluster = Cluster::Forbidden(msg.into());
    let p = plan(&inputs);
    assert!(p.kube.is_empty());
    assert_eq!(worst(&p), Status::blocked(msg));
}

#[test]
fn missing_statefulset_is_waiting() {
    let d = data(&json!({}));
    let mut inputs = leader_inputs(joined(&d));
    inputs.cluster = Cluster::Live(Box::default());
    let p = plan(&inputs);
    assert!(p.kube.is_empty());
    assert!(
        p.statuses
            .contains(&Status::waiting("Waiting for StatefulSet qbittorrent"))
    );
}

#[test]
fn non_leader_never_touches_the_cluster_and_gates_on_its_own_pod() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.leader = false;
    inputs.cluster = Cluster::NotRead;
    assert!(plan(&inputs).writes_nothing());
    // Its pod without routing: stopped.
    inputs.pod = PodView::Read(Some(Box::new(pod_from(&juju_statefulset()))));
    let p = plan(&inputs);
    assert_stopped(&p);
    assert!(p.kube.is_empty());
    // No credentials yet: waits for the leader and does not start.
    let mut inputs = steady(&d);
    inputs.leader = false;
    inputs.cluster = Cluster::NotRead;
    inputs.credentials = Credentials::Missing;
    let p = plan(&inputs);
    assert_stopped(&p);
    assert_eq!(worst(&p).level, StatusLevel::Waiting);
}

#[test]
fn pod_with_stale_hash_or_foreign_gateway_is_not_routed() {
    let d = data(&json!({}));
    let live = live_routed(&d, false);
    let pod = pod_from(live.statefulset.as_ref().unwrap());
    let additions = client_additions(&owner().app, owner().namespace.as_str(), &d);
    assert_eq!(
        pod_routed(&pod, &additions),
        PodRouted::Yes { other_image: None }
    );
    let other = client_additions(
        &owner().app,
        owner().namespace.as_str(),
        &data(&json!({"vxlan_id": 9})),
    );
    assert!(!pod_routed(&pod, &other).is_routed(), "hash differs");
    let gw = client_additions(
        &owner().app,
        owner().namespace.as_str(),
        &data(&json!({"gateway_dns_name": "gw2-endpoints.downloads.svc.cluster.local"})),
    );
    assert!(!pod_routed(&pod, &gw).is_routed(), "gateway env differs");
}

/// This unit's Pod after the rollout for `d`, then changed by `mutate` (as an admission
/// webhook or a hand edit would change it).
fn routed_pod(d: &ProviderData, mutate: impl FnOnce(&mut PodRouting)) -> PodRouting {
    let mut pod = pod_from(live_routed(d, false).statefulset.as_ref().unwrap());
    mutate(&mut pod);
    pod
}

/// Our (init) container `name` in `pod`.
fn ours<'a>(pod: &'a mut PodRouting, name: &str) -> &'a mut RoutedContainer {
    let spec = pod.spec.as_mut().unwrap();
    spec.init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut())
        .find(|c| c.name == name)
        .unwrap()
}

fn var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

/// The steady leader, its Pod replaced by `pod`.
fn plan_with_pod(d: &ProviderData, pod: PodRouting) -> Plan {
    let mut inputs = steady(d);
    inputs.pod = PodView::Read(Some(Box::new(pod)));
    plan(&inputs)
}

const MIRROR: &str = "registry.example.com/mirror/angelnu/pod-gateway:v1.13.0";

#[test]
fn admission_rewritten_image_is_routed_and_reported() {
    let d = data(&json!({}));
    let rewrite = |image: Option<&str>| {
        routed_pod(&d, |pod| {
            for name in [VPN_ROUTE_INIT, VPN_ROUTE_SIDECAR] {
                ours(pod, name).image = image.map(Into::into);
            }
        })
    };
    let p = plan_with_pod(&d, rewrite(Some(MIRROR)));
    assert!(p.writes_nothing(), "{p:?}");
    assert_eq!(
        worst(&p),
        Status::active(format!(
            "VPN exit 203.0.113.7 (pod-gateway image rewritten to {MIRROR})"
        ))
    );
    // Stopped before: it starts.
    let mut inputs = steady(&d);
    inputs.pod = PodView::Read(Some(Box::new(rewrite(Some(MIRROR)))));
    inputs.workload = Workload::Reachable {
        plan: PebblePlan::default(),
        running: false,
        conf: Some(steady_conf()),
        categories: None,
    };
    assert_eq!(plan(&inputs).workload.last(), Some(&WorkloadStep::Restart));
    // Only the sidecar's rewritten: reported too.
    let pod = routed_pod(&d, |pod| {
        ours(pod, VPN_ROUTE_SIDECAR).image = Some(MIRROR.into());
    });
    assert!(
        worst(&plan_with_pod(&d, pod))
            .message
            .ends_with(&format!("to {MIRROR})"))
    );
    // No external IP: the note is the whole message.
    let no_ip = data(&json!({"external_ip": null}));
    let pod = routed_pod(&no_ip, |pod| {
        ours(pod, VPN_ROUTE_INIT).image = Some(MIRROR.into());
    });
    assert_eq!(
        worst(&plan_with_pod(&no_ip, pod)),
        Status::active(format!("pod-gateway image rewritten to {MIRROR}"))
    );
    // The image is shown only when short and printable ASCII.
    let at_limit = format!("r/{}", "a".repeat(OtherImage::MAX_SHOWN - 2));
    let over = format!("r/{}", "a".repeat(OtherImage::MAX_SHOWN - 1));
    let shown = |image: Option<&str>| worst(&plan_with_pod(&d, rewrite(image))).message;
    assert_eq!(
        shown(Some(&at_limit)),
        format!("VPN exit 203.0.113.7 (pod-gateway image rewritten to {at_limit})")
    );
    for hidden in [
        Some(over.as_str()),
        Some("evil\nX=1"),
        Some("evil\u{1b}[31m"),
        Some("evil image"),
        Some("régistry/pod-gateway"),
        Some(""),
        None,
    ] {
        assert_eq!(
            shown(hidden),
            "VPN exit 203.0.113.7 (pod-gateway image rewritten)",
            "{hidden:?}"
        );
    }
}

#[test]
fn admission_additions_are_tolerated() {
    let d = data(&json!({}));
    let sidecar = RoutedContainer {
        name: "istio-proxy".into(),
        image: Some("istio/proxyv2".into()),
        ..RoutedContainer::default()
    };
    let cases: Vec<(&str, PodRouting)> = vec![
        (
            "extra env",
            routed_pod(&d, |pod| {
                for name in [VPN_ROUTE_INIT, VPN_ROUTE_SIDECAR] {
                    let env = ours(pod, name).env.get_or_insert_with(Vec::new);
                    env.push(var("HTTP_PROXY", "http://proxy:3128"));
                    env.insert(0, var("TZ", "Etc/UTC"));
                }
            }),
        ),
        (
            "an earlier entry of our name (ours wins)",
            routed_pod(&d, |pod| {
                let env = ours(pod, VPN_ROUTE_INIT).env.get_or_insert_with(Vec::new);
                env.insert(0, var(GATEWAY_ENV, "evil.example.com"));
            }),
        ),
        (
            "extra containers",
            routed_pod(&d, |pod| {
                let spec = pod.spec.as_mut().unwrap();
                spec.containers.insert(0, sidecar.clone());
                spec.init_containers
                    .get_or_insert_with(Vec::new)
                    .push(RoutedContainer {
                        name: "istio-init".into(),
                        ..sidecar.clone()
                    });
            }),
        ),
        (
            "extra annotation",
            routed_pod(&d, |pod| {
                pod.metadata
                    .get_or_insert_with(Default::default)
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert("sidecar.istio.io/status".into(), "{}".into());
            }),
        ),
    ];
    for (case, pod) in cases {
        assert_eq!(
            pod_routed(
                &pod,
                &client_additions(&owner().app, owner().namespace.as_str(), &d)
            ),
            PodRouted::Yes { other_image: None },
            "{case}"
        );
        let p = plan_with_pod(&d, pod);
        assert!(p.writes_nothing(), "{case}: {p:?}");
        assert_eq!(worst(&p), Status::active("VPN exit 203.0.113.7"), "{case}");
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one table of cases
fn changed_routing_in_the_pod_is_not_routed() {
    let d = data(&json!({}));
    let init = VPN_ROUTE_INIT;
    let side = VPN_ROUTE_SIDECAR;
    let cases: Vec<(&str, PodRouting)> = vec![
        (
            "our env value changed",
            routed_pod(&d, |pod| {
                ours(pod, init).env = Some(vec![var(GATEWAY_ENV, "evil.example.com")]);
            }),
        ),
        (
            "our env entry removed (others kept)",
            routed_pod(&d, |pod| {
                ours(pod, side).env = Some(vec![var("TZ", "Etc/UTC")]);
            }),
        ),
        (
            "env removed",
            routed_pod(&d, |pod| ours(pod, init).env = None),
        ),
        (
            "a later entry of our name overrides ours",
            routed_pod(&d, |pod| {
                let env = ours(pod, side).env.get_or_insert_with(Vec::new);
                env.push(var(GATEWAY_ENV, "evil.example.com"));
            }),
        ),
        (
            "our value from a ConfigMap instead",
            routed_pod(&d, |pod| {
                let env = ours(pod, init).env.as_mut().unwrap();
                env[0].value_from = Some(EnvVarSource::default());
            }),
        ),
        (
            "init command changed",
            routed_pod(&d, |pod| {
                ours(pod, init).command = Some(vec!["/bin/client_init.sh".into()]);
            }),
        ),
        (
            "sidecar command changed",
            routed_pod(&d, |pod| {
                ours(pod, side)
                    .command
                    .as_mut()
                    .unwrap()
                    .push("--no-watch".into());
            }),
        ),
        (
            "command removed (the image's entrypoint runs)",
            routed_pod(&d, |pod| ours(pod, side).command = None),
        ),
        (
            "hash changed",
            routed_pod(&d, |pod| {
                let annotations = pod.metadata.as_mut().unwrap().annotations.as_mut();
                annotations
                    .unwrap()
                    .insert(CLIENT_HASH_ANNOTATION.into(), "0".repeat(64));
            }),
        ),
        (
            "hash annotation removed",
            routed_pod(&d, |pod| {
                let annotations = pod.metadata.as_mut().unwrap().annotations.as_mut();
                annotations.unwrap().remove(CLIENT_HASH_ANNOTATION);
            }),
        ),
        ("no annotations", routed_pod(&d, |pod| pod.metadata = None)),
        (
            "init container missing",
            routed_pod(&d, |pod| {
                pod.spec.as_mut().unwrap().init_containers = None;
            }),
        ),
        (
            "sidecar missing",
            routed_pod(&d, |pod| {
                pod.spec
                    .as_mut()
                    .unwrap()
                    .containers
                    .retain(|c| c.name != side);
            }),
        ),
        (
            "sidecar renamed",
            routed_pod(&d, |pod| ours(pod, side).name = "vpn-route".into()),
        ),
        (
            "our sidecar as an init container",
            routed_pod(&d, |pod| {
                let spec = pod.spec.as_mut().unwrap();
                let at = spec.containers.iter().position(|c| c.name == side).unwrap();
                let moved = spec.containers.remove(at);
                spec.init_containers
                    .get_or_insert_with(Vec::new)
                    .push(moved);
            }),
        ),
        ("no spec", routed_pod(&d, |pod| pod.spec = None)),
        (
            "image rewritten and env changed",
            routed_pod(&d, |pod| {
                ours(pod, init).image = Some(MIRROR.into());
                ours(pod, side).env = None;
            }),
        ),
    ];
    for (case, pod) in cases {
        assert_eq!(
            pod_routed(
                &pod,
                &client_additions(&owner().app, owner().namespace.as_str(), &d)
            ),
            PodRouted::No,
            "{case}"
        );
        let p = plan_with_pod(&d, pod);
        assert_stopped(&p);
        assert!(p.kube.is_empty(), "{case}: the template still holds");
        assert_eq!(worst(&p), Status::waiting(MSG_POD_NOT_ROUTED), "{case}");
    }
}

#[test]
fn invalid_config_is_blocked_naming_the_option_and_stops() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.config = Err(ConfigError {
        option: "webui-port",
        problem: "must be an integer from 1024 to 65535",
    });
    let p = plan(&inputs);
    assert_eq!(p.workload, vec![WorkloadStep::Stop]);
    assert!(p.kube.is_empty());
    let status = worst(&p);
    assert_eq!(status.level, StatusLevel::Blocked);
    assert!(status.message.contains("webui-port"));
}

#[test]
fn conf_change_stops_writes_then_restarts_and_port_change_moves_the_port() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    let mut c = config(false);
    c.webui_port = 9090;
    inputs.config = Ok(c);
    let p = plan(&inputs);
    assert!(matches!(
        p.workload.as_slice(),
        [WorkloadStep::Stop, WorkloadStep::PushConf(conf), WorkloadStep::AddLayer(_), WorkloadStep::Restart]
            if conf.contains("WebUI\\Port=9090")
    ));
    assert_eq!(
        p.ports,
        vec![
            PortStep::Open(Port::tcp(9090)),
            PortStep::Close(Port::tcp(8080))
        ]
    );
    // The operator's own settings in the file are kept.
    let mut inputs = steady(&d);
    inputs.workload = Workload::Reachable {
        plan: pebble_plan_for(&config(false), Startup::Enabled),
        running: true,
        conf: Some(format!("{}[LegalNotice]\nAccepted=true\n", steady_conf())),
        categories: None,
    };
    assert!(
        plan(&inputs).writes_nothing(),
        "foreign settings alone cause no write"
    );
}

#[test]
fn pebble_unreachable_waits_but_still_creates_the_secret() {
    let mut inputs = leader_inputs(Relation::Absent);
    inputs.workload = Workload::Unreachable;
    inputs.credentials = Credentials::Known {
        username: Username::parse("charmarr").unwrap(),
        password_hash: HASH.into(),
        create: Some(Password::parse("pw").unwrap()),
    };
    let p = plan(&inputs);
    assert!(p.workload.is_empty());
    assert!(p.create_secret.is_some());
    assert!(p.statuses.iter().any(|s| s.message.contains("Pebble")));
}

#[test]
fn plan_debug_never_shows_secrets() {
    let mut inputs = leader_inputs(Relation::Absent);
    inputs.credentials = Credentials::Known {
        username: Username::parse("charmarr").unwrap(),
        password_hash: HASH.into(),
        create: Some(Password::parse("s3cret-value").unwrap()),
    };
    let p = plan(&inputs);
    let debug = format!("{p:?}");
    assert!(!debug.contains("s3cret-value"));
    assert!(!debug.contains(HASH));
}

#[test]
fn unsafe_mode_still_reports_bad_gateway_data_but_runs() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.config = Ok(config(true));
    inputs.relation = Relation::Joined {
        id: 3,
        remote_app: Some("vpnarr".into()),
        provider_config: Some(provider(&json!({"vxlan_id": 0}))),
        our_config: Some(r#"{"instance_name":"qbittorrent"}"#.into()),
    };
    let p = plan(&inputs);
    assert!(p.kube.is_empty());
    assert!(!p.workload.contains(&WorkloadStep::Stop));
    let status = worst(&p);
    assert_eq!(status.level, StatusLevel::Blocked);
    assert!(status.message.contains("vxlan_id"));
    // Valid data, pod not routed yet: runs, and says it is not routed.
    let mut inputs = leader_inputs(joined(&d));
    inputs.config = Ok(config(true));
    let p = plan(&inputs);
    assert!(p.workload.contains(&WorkloadStep::Restart));
    assert!(worst(&p).message.contains("NOT routed"), "{}", worst(&p));
}

fn enforcing(inputs: &mut Inputs, level: &str) {
    if let Cluster::Live(live) = &mut inputs.cluster {
        live.namespace_labels
            .insert(pod_security::ENFORCE_LABEL.into(), level.into());
    }
}

#[test]
fn pod_security_that_refuses_the_routing_blocks_before_any_kubernetes_write() {
    let d = data(&json!({}));
    for level in ["baseline", "restricted", "Privileged"] {
        let mut inputs = leader_inputs(joined(&d));
        inputs.workload = Workload::Reachable {
            plan: pebble_plan_for(&config(false), Startup::Enabled),
            running: true,
            conf: Some(steady_conf()),
            categories: None,
        };
        enforcing(&mut inputs, level);
        let p = plan(&inputs);
        assert!(p.kube.is_empty(), "{level}: {:?}", p.kube);
        let status = worst(&p);
        assert_eq!(status.level, StatusLevel::Blocked, "{level}");
        assert!(
            status.message.contains(
                "kubectl label namespace downloads pod-security.kubernetes.io/enforce=privileged"
            ),
            "{level}: {}",
            status.message
        );
        // Fail closed: the pod is not routed, so qBittorrent is stopped, never started.
        assert_eq!(p.workload.first(), Some(&WorkloadStep::Stop), "{level}");
        assert!(!p.workload.contains(&WorkloadStep::Restart), "{level}");
    }
    let mut inputs = leader_inputs(joined(&d));
    enforcing(&mut inputs, "privileged");
    assert!(labels(&plan(&inputs)).contains(&"patch statefulset qbittorrent: add routing".into()));
}

#[test]
fn pod_security_neither_stops_a_routed_pod_nor_the_removal_of_routing() {
    let d = data(&json!({}));
    // Labelled after our patch: nothing to patch, the routed workload keeps running.
    let mut inputs = steady(&d);
    enforcing(&mut inputs, "restricted");
    let p = plan(&inputs);
    assert!(p.writes_nothing(), "{p:?}");
    assert_eq!(worst(&p).level, StatusLevel::Active);
    // Removing the routing makes the pod admissible again: always allowed.
    inputs.relation = Relation::Absent;
    assert_eq!(
        labels(&plan(&inputs)),
        [
            "patch statefulset qbittorrent: remove routing",
            "delete configmap qbittorrent-gateway-client-config"
        ]
    );
}

fn with_api_server(inputs: &mut Inputs, object: ApiServerObject) {
    if let Cluster::Live(live) = &mut inputs.cluster {
        live.api_server = object;
    }
}

fn api_rule(np: &k8s_openapi::api::networking::v1::NetworkPolicy) -> Option<Value> {
    let egress = np.spec.as_ref()?.egress.as_ref()?;
    egress
        .iter()
        .find(|rule| {
            rule.ports
                .as_ref()
                .is_some_and(|ports| ports.iter().any(|p| p.port != Some(IntOrString::Int(53))))
        })
        .map(|rule| serde_json::to_value(rule).unwrap())
}

#[test]
fn kill_switch_lets_the_api_servers_real_endpoints_out_and_follows_them() {
    let d = data(&json!({}));
    let slice = |address: &str| {
        ApiServerObject::Slice(json!({
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address]}],
            "ports": [{"name": "https", "port": 16443, "protocol": "TCP"}]
        }))
    };
    let mut inputs = leader_inputs(joined(&d));
    with_api_server(&mut inputs, slice("192.168.1.10"));
    let p = plan(&inputs);
    let Some(KubeStep::ApplyNetworkPolicy(np)) = p.kube.first() else {
        panic!("kill switch first: {:?}", p.kube)
    };
    assert_eq!(
        api_rule(np),
        Some(json!({"to": [{"ipBlock": {"cidr": "192.168.1.10/32"}}],
                    "ports": [{"port": 16443, "protocol": "TCP"}]}))
    );

    // Steady, then the API server moves: only the kill switch is re-applied.
    let mut inputs = steady(&d);
    with_api_server(&mut inputs, slice("192.168.1.10"));
    let mut live = live_routed(&d, false);
    live.api_server = slice("192.168.1.10");
    let steps = plan(&inputs).kube;
    apply_steps(&mut live, &steps);
    inputs.cluster = Cluster::Live(Box::new(live.clone()));
    assert!(plan(&inputs).writes_nothing(), "{:?}", plan(&inputs));
    with_api_server(&mut inputs, slice("192.168.1.11"));
    assert_eq!(
        labels(&plan(&inputs)),
        ["apply networkpolicy qbittorrent-vpn-killswitch"]
    );
    // From the Endpoints when there is no EndpointSlice: the same rule.
    with_api_server(
        &mut inputs,
        ApiServerObject::Endpoints(json!({"subsets": [{
            "addresses": [{"ip": "192.168.1.10"}],
            "ports": [{"name": "https", "port": 16443}]
        }]})),
    );
    assert!(plan(&inputs).writes_nothing());
}

#[test]
fn hostile_api_server_endpoints_block_naming_the_field_and_write_nothing() {
    let d = data(&json!({}));
    let mut inputs = leader_inputs(joined(&d));
    with_api_server(
        &mut inputs,
        ApiServerObject::Slice(json!({
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["169.254.169.254"]}],
            "ports": [{"port": 80}]
        })),
    );
    let p = plan(&inputs);
    assert!(p.kube.is_empty(), "{:?}", p.kube);
    let status = worst(&p);
    assert_eq!(status.level, StatusLevel::Blocked);
    assert!(
        status
            .message
            .starts_with("EndpointSlice default/kubernetes: endpoints.addresses: 169.254.169.254"),
        "{}",
        status.message
    );
}

/// A change made to a routed pod.
type Mutation = fn(&mut PodRouting);

#[test]
fn a_pod_that_does_not_resolve_through_the_gateway_is_not_routed() {
    let d = data(&json!({}));
    let additions = client_additions(&owner().app, owner().namespace.as_str(), &d);
    assert!(pod_routed(&routed_pod(&d, |_| {}), &additions).is_routed());
    let cases: [(&str, Mutation); 3] = [
        ("Juju's ClusterFirst back", |pod| {
            pod.spec.as_mut().unwrap().dns_policy = Some("ClusterFirst".into());
        }),
        ("an admission-added nameserver", |pod| {
            let spec = pod.spec.as_mut().unwrap();
            let dns = spec.dns_config.as_mut().unwrap();
            dns.nameservers.as_mut().unwrap().push("8.8.8.8".into());
        }),
        ("no dnsConfig", |pod| {
            pod.spec.as_mut().unwrap().dns_config = None;
        }),
    ];
    for (what, mutate) in cases {
        let pod = routed_pod(&d, mutate);
        assert!(!pod_routed(&pod, &additions).is_routed(), "{what}");
        let mut inputs = steady(&d);
        inputs.pod = PodView::Read(Some(Box::new(pod)));
        let p = plan(&inputs);
        assert_eq!(p.workload.first(), Some(&WorkloadStep::Stop), "{what}");
    }
}

// The charmarr relations: media-storage (ADR 0042) and download-client (ADR 0043).

const SECRET_ID: &str = "secret:d1d2dhg7nlbs73bc9f60";

fn manager(id: u64, config: Option<&str>, ours: Option<String>) -> ManagerRelation {
    ManagerRelation {
        id,
        remote_app: Some(format!("radarr{id}")),
        remote_config: config.map(str::to_owned),
        our_config: ours,
    }
}

fn our_download_client_data() -> String {
    format!(
        r#"{{"api_url":"http://qbittorrent.downloads.svc.cluster.local:8080","api_key_secret_id":null,"credentials_secret_id":"{SECRET_ID}","client":"qbittorrent","client_type":"torrent","instance_name":"qbittorrent","base_path":null}}"#
    )
}

#[test]
fn without_media_storage_qbittorrent_runs_standalone_and_says_so() {
    let d = data(&json!({}));
    // A fresh deployment: Juju's bare template, related to the gateway only.
    let mut inputs = leader_inputs(joined(&d));
    inputs.storage = None;
    inputs.cluster = Cluster::Live(Box::new(Live {
        statefulset: Some(bare_statefulset()),
        ..Live::default()
    }));
    let p = plan(&inputs);
    assert_eq!(
        labels(&p),
        [
            "apply networkpolicy qbittorrent-vpn-killswitch",
            "apply configmap qbittorrent-gateway-client-config",
            "patch statefulset qbittorrent: add routing",
        ],
        "no storage step"
    );
    // The steady routed pod: qBittorrent runs, and the status says where downloads go.
    let mut inputs = steady(&d);
    inputs.storage = None;
    let Cluster::Live(mut live) = inputs.cluster.clone() else {
        unreachable!("steady inputs read the cluster")
    };
    let unmount = plan(&inputs).kube;
    apply_steps(&mut live, &unmount);
    inputs.pod = PodView::Read(Some(Box::new(pod_from(live.statefulset.as_ref().unwrap()))));
    inputs.cluster = Cluster::Live(live);
    // The default save path moves to the config storage (once: stop, write, start).
    let p = plan(&inputs);
    let standalone = conf::session(&steady_conf(), STANDALONE_SAVE_PATH);
    assert_eq!(
        p.workload,
        [
            WorkloadStep::Stop,
            WorkloadStep::PushConf(standalone.clone()),
            WorkloadStep::Restart
        ]
    );
    assert!(standalone.contains("Session\\DefaultSavePath=/config/Downloads\n"));
    let Workload::Reachable { conf, .. } = &mut inputs.workload else {
        unreachable!("steady inputs reach Pebble")
    };
    *conf = Some(standalone);
    let p = plan(&inputs);
    assert!(p.kube.is_empty());
    assert!(p.workload.is_empty(), "{:?}", p.workload);
    assert_eq!(
        worst(&p),
        Status::active(format!("VPN exit 203.0.113.7; {MSG_STANDALONE}"))
    );
}

#[test]
fn the_shared_claim_is_mounted_after_the_routing_and_qbittorrent_waits_for_the_pod() {
    let d = data(&json!({}));
    let mut inputs = leader_inputs(joined(&d));
    inputs.cluster = Cluster::Live(Box::new(Live {
        statefulset: Some(bare_statefulset()),
        ..Live::default()
    }));
    inputs.pod = PodView::Read(Some(Box::new(pod_from(&bare_statefulset()))));
    let p = plan(&inputs);
    assert_eq!(
        labels(&p).last().map(String::as_str),
        Some("patch statefulset qbittorrent: mount claim charmarr-shared-media at /data")
    );
    assert!(p.statuses.contains(&Status::waiting(
        "Waiting for the pod to restart with the shared volume"
    )));
    assert!(!p.workload.contains(&WorkloadStep::Restart));
}

#[test]
fn the_relation_gone_removes_the_claim_once() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.storage = None;
    let p = plan(&inputs);
    assert_eq!(
        labels(&p),
        ["patch statefulset qbittorrent: remove the shared claim"]
    );
    let Cluster::Live(mut live) = inputs.cluster.clone() else {
        unreachable!("steady inputs read the cluster")
    };
    apply_steps(&mut live, &p.kube);
    inputs.cluster = Cluster::Live(live);
    assert!(plan(&inputs).kube.is_empty(), "removed once");
}

#[test]
fn a_pending_storage_relation_keeps_qbittorrent_stopped() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.storage = Some(StorageRelation {
        provider_config: None,
        ..storage_relation()
    });
    let p = plan(&inputs);
    assert!(p.kube.is_empty(), "nothing changes until it publishes");
    assert_stopped(&p);
    assert_eq!(
        worst(&p),
        Status::waiting("Waiting for media-storage data from storage")
    );
}

#[test]
fn hostile_storage_data_is_blocked_naming_the_field_and_writes_nothing_to_the_cluster() {
    let d = data(&json!({}));
    for (text, field) in [
        (r#"{"pvc_name":"x","mount_path":"/etc"}"#, "mount_path"),
        (r#"{"pvc_name":"../x"}"#, "pvc_name"),
        (r#"{"pvc_name":"x","pgid":-1}"#, "pgid"),
        (r#"{"pvc_name":"x","puid":99999999999}"#, "puid"),
    ] {
        let mut inputs = steady(&d);
        inputs.storage = Some(StorageRelation {
            id: 9,
            remote_app: Some("storage".into()),
            provider_config: Some(text.into()),
        });
        let p = plan(&inputs);
        assert!(p.kube.is_empty(), "{text}");
        let status = worst(&p);
        assert_eq!(status.level, StatusLevel::Blocked, "{text}");
        assert!(
            status
                .message
                .starts_with(&format!("invalid media-storage data: {field}:")),
            "{text}: {}",
            status.message
        );
        assert_stopped(&p);
    }
}

#[test]
fn pebble_runs_qbittorrent_as_the_published_ids() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.storage = Some(StorageRelation {
        id: 9,
        remote_app: Some("storage".into()),
        provider_config: Some(
            r#"{"pvc_name":"charmarr-shared-media","mount_path":"/data","puid":1001,"pgid":1002}"#
                .into(),
        ),
    });
    let p = plan(&inputs);
    let layer = p
        .workload
        .iter()
        .find_map(|s| match s {
            WorkloadStep::AddLayer(l) => Some(l),
            _ => None,
        })
        .expect("the layer changes");
    let service = &layer.services[workload::SERVICE];
    assert_eq!(
        (service.user_id, service.group_id),
        (Some(1001), Some(1002))
    );
}

#[test]
fn media_managers_are_granted_then_published_once() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.secret_id = Some(SECRET_ID.into());
    inputs.managers = vec![
        manager(
            5,
            Some(r#"{"manager":"radarr","instance_name":"radarr"}"#),
            None,
        ),
        manager(
            6,
            Some(r#"{"manager":"sonarr","instance_name":"tv"}"#),
            None,
        ),
        manager(7, None, None),
    ];
    let p = plan(&inputs);
    let publish = p.download_client.as_ref().expect("publish");
    assert_eq!(publish.relations, vec![5, 6], "7 has not written yet");
    assert_eq!(
        publish
            .offer
            .with_secret(charmarr_iface::SecretId::parse(SECRET_ID).unwrap())
            .to_databag(),
        our_download_client_data()
    );
    // Each valid manager gets its category under the shared volume (stop, write, start).
    let [
        WorkloadStep::Stop,
        WorkloadStep::PushCategories(text),
        WorkloadStep::Restart,
    ] = p.workload.as_slice()
    else {
        panic!("{:?}", p.workload)
    };
    let written: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        written,
        json!({"radarr": {"save_path": "/data/torrents/movies"},
               "tv": {"save_path": "/data/torrents/tv"}})
    );
    // Next hook: both databags and the categories hold it.
    for m in &mut inputs.managers[..2] {
        m.our_config = Some(our_download_client_data());
    }
    let Workload::Reachable { categories, .. } = &mut inputs.workload else {
        unreachable!("steady inputs reach Pebble")
    };
    *categories = Some(text.clone());
    let p = plan(&inputs);
    assert!(p.writes_nothing(), "{p:?}");
    // A categories file that is not JSON is never replaced.
    let Workload::Reachable { categories, .. } = &mut inputs.workload else {
        unreachable!("steady inputs reach Pebble")
    };
    *categories = Some("\u{0}".into());
    let p = plan(&inputs);
    assert!(p.writes_nothing(), "{p:?}");
    assert!(
        worst(&p)
            .message
            .contains("categories.json is not a JSON object")
    );
}

#[test]
fn a_secret_created_in_this_hook_is_offered_to_every_manager() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.managers = vec![manager(
        5,
        Some(r#"{"manager":"radarr","instance_name":"radarr"}"#),
        None,
    )];
    inputs.credentials = Credentials::Known {
        username: Username::parse("charmarr").unwrap(),
        password_hash: HASH.into(),
        create: Some(Password::parse("generated-password").unwrap()),
    };
    let p = plan(&inputs);
    assert!(p.create_secret.is_some());
    assert_eq!(
        p.download_client.unwrap().secret,
        OfferedSecret::CreatedInThisHook
    );
}

#[test]
fn hostile_manager_data_is_blocked_naming_the_field_and_gets_nothing() {
    let d = data(&json!({}));
    let mut inputs = steady(&d);
    inputs.secret_id = Some(SECRET_ID.into());
    inputs.managers = vec![manager(
        5,
        Some(r#"{"manager":"radarr","instance_name":"$(reboot)"}"#),
        None,
    )];
    let p = plan(&inputs);
    assert!(p.writes_nothing(), "{p:?}");
    let status = worst(&p);
    assert_eq!(status.level, StatusLevel::Blocked);
    assert!(
        status.message.contains("radarr5") && status.message.contains("instance_name:"),
        "{}",
        status.message
    );
    assert!(!status.message.contains("reboot"));
    // A malformed id from Juju publishes nothing either.
    inputs.managers[0].remote_config = None;
    inputs.secret_id = Some("secret:../../etc".into());
    let p = plan(&inputs);
    assert!(p.download_client.is_none());
    assert_eq!(worst(&p).level, StatusLevel::Blocked);
}
