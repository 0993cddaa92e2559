//! Replacing the reference Python charm in place: the objects it made under the same names
//! (kill switch, ConfigMap, the routing in the StatefulSet, written with its own field manager)
//! are adopted — no duplicate — and removed like ours. The one thing the reference lacks, the
//! in-pod filter (ADR 0039), is added in one patch: one rollout.

mod sim_common;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use sim_common::{
    APP, MODEL, Objects, TestResult, UNIT, failures_since, gateway_charm, gateway_data, kv, model,
    requests_since, service, status, writes,
};
use vpn_gateway_iface::client::{client_additions, client_config_map};
use vpn_gateway_iface::filter;
use vpn_gateway_iface::killswitch::network_policy;
use vpn_gateway_iface::{AppName, Namespace, Owner, ProviderData};

/// The reference charm's field manager.
const REFERENCE: &str = "charmarr-reference";

#[test]
fn reference_objects_are_adopted_without_a_rollout() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut model = model(tmp.path())?;
    model.deploy("qbittorrent-k8s", Some(APP), true, &[])?;
    model.deploy(&gateway_charm(), Some("vpnarr"), false, &[])?;
    model.relate(APP, "vpnarr")?;

    // What the reference charm left: same names and content, its own field manager.
    let data_text = gateway_data(&json!({}));
    let data = ProviderData::from_databag(&data_text)?;
    let owner = Owner {
        app: AppName::parse(APP)?,
        namespace: Namespace::parse(MODEL)?,
        field_manager: REFERENCE,
    };
    // The reference writes no API-server rule: ours adds it onto the adopted object.
    let np = network_policy(
        &owner,
        &data.cluster_cidrs,
        &vpn_gateway_iface::api_server::ApiServerEndpoints::none(),
    );
    let cm = client_config_map(&owner, &data);
    let mut additions = client_additions(&owner.app, owner.namespace.as_str(), &data);
    additions
        .init_containers
        .retain(|c| c.name != filter::KILLSWITCH_INIT);
    let written: Result<(), kube::Error> = model.with_admin(|c| async move {
        let ssa = PatchParams::apply(REFERENCE).force();
        Api::<NetworkPolicy>::namespaced(c.clone(), MODEL)
            .patch("qbittorrent-vpn-killswitch", &ssa, &Patch::Apply(&np))
            .await?;
        Api::<ConfigMap>::namespaced(c.clone(), MODEL)
            .patch(
                "qbittorrent-gateway-client-config",
                &ssa,
                &Patch::Apply(&cm),
            )
            .await?;
        let sts = Api::<StatefulSet>::namespaced(c, MODEL);
        let live = sts.get(APP).await?;
        let rv = live.metadata.resource_version.clone().unwrap_or_default();
        let smp = PatchParams {
            field_manager: Some(REFERENCE.to_owned()),
            ..PatchParams::default()
        };
        sts.patch(APP, &smp, &Patch::Strategic(&additions.add_patch(&rv)))
            .await?;
        Ok(())
    });
    written?;
    // The pod rolls onto the reference's routing (our charm: no data yet, changes nothing).
    let from = model.history().len();
    model.settle_now()?;
    assert!(writes(&requests_since(&model, UNIT, from)).is_empty());
    assert!(Objects::read(&model).routed_pod());
    let restarts = model.state().apps.get(APP).map_or(0, |a| a.restarts);

    // The gateway publishes the same data: at most our labels are applied onto the owned
    // objects; the StatefulSet holds the reference's routing and gets only the in-pod filter
    // (one patch, one rollout); qBittorrent starts in the routed pod.
    let from = model.history().len();
    model.config("vpnarr", &kv(&[("data", &data_text)]))?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let w = writes(&requests_since(&model, UNIT, from));
    assert_eq!(
        w.iter().filter(|r| r.contains("statefulsets")).count(),
        1,
        "{w:#?}"
    );
    assert_eq!(
        model.state().apps.get(APP).map_or(0, |a| a.restarts),
        restarts + 1,
        "one rollout, for the in-pod filter"
    );
    assert_eq!(service(&model, UNIT).as_deref(), Some("active"));
    assert_eq!(status(&model, UNIT).0, "active");
    let objects = Objects::read(&model);
    let inits = objects
        .statefulset
        .as_ref()
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.init_containers.clone())
        .unwrap_or_default();
    for name in ["vpn-killswitch", "vpn-route-init"] {
        assert_eq!(
            inits.iter().filter(|c| c.name == name).count(),
            1,
            "{name} not duplicated"
        );
    }
    assert_eq!(inits[0].name, "vpn-killswitch", "the filter runs first");

    // Relation removed: the adopted routing goes too; both kill switch layers stay.
    model.remove_relation(APP, "vpnarr")?;
    let objects = Objects::read(&model);
    assert!(!objects.routed_template());
    assert!(objects.config_map.is_none());
    assert!(objects.network_policy.is_some());
    let inits = objects
        .statefulset
        .as_ref()
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.init_containers.clone())
        .unwrap_or_default();
    assert!(
        inits.iter().any(|c| c.name == "vpn-killswitch"),
        "{inits:?}"
    );
    Ok(())
}
