//! `juju refresh --path` between the reference charm's metadata (a stand-in,
//! `tests/charms/reference`, that runs no workload) and ours, with a vpn-gateway relation
//! established: Juju's checks accept both directions and refuse what Juju refuses (an
//! established endpoint missing, our earlier `downloads` storage), and the objects stay single
//! (one StatefulSet, Service and kill switch) across both refreshes.

mod sim_common;

use std::path::Path;

use juju_sim::model::{Model, STORAGE_UPGRADE_MESSAGE};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::ListParams;
use serde_json::json;
use sim_common::{
    APP, MODEL, TestResult, UNIT, failures_since, gateway_charm, gateway_data, hooks_since, kv,
    model,
};

/// The reference stand-in, or a copy of it in `dir` with its metadata `edit`ed.
fn reference(
    dir: &Path,
    edit: Option<&dyn Fn(String) -> String>,
) -> Result<String, Box<dyn std::error::Error>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charms/reference");
    let out = match edit {
        None => src,
        Some(edit) => juju_sim::charm::edited_copy(&src, dir, edit)?,
    };
    Ok(out.display().to_string())
}

/// How many StatefulSets, Services and NetworkPolicies the namespace holds for our app.
fn object_counts(model: &Model) -> Result<(usize, usize, usize), kube::Error> {
    model.with_admin(|c| async move {
        let lp = ListParams::default();
        let ours =
            |n: Option<&String>| n.is_some_and(|n| n == APP || n.starts_with("qbittorrent-"));
        let sts = Api::<StatefulSet>::namespaced(c.clone(), MODEL)
            .list(&lp)
            .await?;
        let svc = Api::<Service>::namespaced(c.clone(), MODEL)
            .list(&lp)
            .await?;
        let np = Api::<NetworkPolicy>::namespaced(c, MODEL).list(&lp).await?;
        Ok((
            sts.items
                .iter()
                .filter(|o| ours(o.metadata.name.as_ref()))
                .count(),
            svc.items
                .iter()
                .filter(|o| o.metadata.name.as_deref() == Some(APP))
                .count(),
            np.items
                .iter()
                .filter(|o| o.metadata.name.as_deref() == Some("qbittorrent-vpn-killswitch"))
                .count(),
        ))
    })
}

fn restarts(model: &Model) -> u32 {
    model.state().apps.get(APP).map_or(0, |a| a.restarts)
}

#[test]
fn refresh_between_the_reference_and_ours() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut model = model(&tmp.path().join("model"))?;
    model.deploy(&reference(tmp.path(), None)?, Some(APP), true, &[])?;
    model.deploy(
        &gateway_charm(),
        Some("vpnarr"),
        false,
        &kv(&[("data", &gateway_data(&json!({})))]),
    )?;
    model.relate(APP, "vpnarr")?;

    // --- refused: the established vpn-gateway endpoint is missing.
    let no_vpn = reference(
        &tmp.path().join("no-vpn"),
        Some(&|m: String| {
            m.replace(
                "  vpn-gateway: {interface: vpn-gateway, limit: 1, optional: true}\n",
                "",
            )
        }),
    )?;
    let err = model.refresh_path(APP, &no_vpn).err().ok_or("accepted")?;
    assert_eq!(
        err.to_string(),
        "cannot upgrade application \"qbittorrent\" to charm \"local:qbittorrent-k8s-1\": \
         would break relation \"qbittorrent:vpn-gateway vpnarr:vpn-gateway\""
    );
    // --- refused: our earlier revision's extra `downloads` storage.
    let downloads = reference(
        &tmp.path().join("downloads"),
        Some(&|m: String| {
            m.replace(
                "storage:\n",
                "storage:\n  downloads:\n    type: filesystem\n",
            )
        }),
    )?;
    let err = model
        .refresh_path(APP, &downloads)
        .err()
        .ok_or("accepted")?;
    assert_eq!(err.to_string(), STORAGE_UPGRADE_MESSAGE);

    // --- the reference → ours: accepted; Juju's hooks first; our charm routes the pod.
    let from = model.history().len();
    model.refresh_path(APP, "qbittorrent-k8s")?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    let hooks = hooks_since(&model, UNIT, from);
    assert_eq!(
        hooks.get(..4),
        Some(
            &[
                "upgrade-charm",
                "config-changed",
                "start",
                "qbittorrent-pebble-ready"
            ]
            .map(String::from)[..]
        ),
        "{hooks:?}"
    );
    assert_eq!(object_counts(&model)?, (1, 1, 1));
    assert!(sim_common::Objects::read(&model).routed_template());

    // --- ours → the reference: accepted, exactly the one rollout the refresh causes, and our
    // objects stay single (the reference adopts them under the same names).
    let rolled = restarts(&model);
    let from = model.history().len();
    model.refresh_path(APP, &reference(tmp.path(), None)?)?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    assert_eq!(restarts(&model), rolled + 1, "one rollout");
    let hooks = hooks_since(&model, UNIT, from);
    assert_eq!(
        hooks.get(..5),
        Some(
            &[
                "upgrade-charm",
                "config-changed",
                "start",
                "qbittorrent-pebble-ready",
                "qbittorrent-exporter-pebble-ready"
            ]
            .map(String::from)[..]
        ),
        "{hooks:?}"
    );
    assert_eq!(object_counts(&model)?, (1, 1, 1));
    Ok(())
}
