//! Refresh parity with the reference charms (charmarr/charmarr `charms/<charm>/charmcraft.yaml`):
//! Juju refuses `juju refresh` to a charm that lacks an endpoint with an established relation,
//! and on Kubernetes any change of the storage block. Our metadata must declare every endpoint
//! of the reference with the same name, role, interface and limit, and qbittorrent-k8s must
//! have exactly the reference's storage (docs/adr/0042, 0043). The tables are the reference's
//! facts as of its charms pinning charmarr-lib-core 0.18.0.

use std::path::Path;

use juju_sim::meta::CharmMeta;

/// `(role, endpoint, interface, limit)` the reference declares.
type Declared = [(&'static str, &'static str, &'static str, Option<u32>)];

const QBITTORRENT: &Declared = &[
    ("provides", "download-client", "download-client", None),
    ("provides", "provide-cmr-mesh", "cross_model_mesh", None),
    ("provides", "crowsnest", "crowsnest", None),
    (
        "provides",
        "velero-backup-config",
        "velero_backup_config",
        Some(1),
    ),
    ("provides", "metrics-endpoint", "prometheus_scrape", None),
    ("provides", "grafana-dashboard", "grafana_dashboard", None),
    ("requires", "require-cmr-mesh", "cross_model_mesh", None),
    ("requires", "media-storage", "media-storage", Some(1)),
    ("requires", "vpn-gateway", "vpn-gateway", Some(1)),
    ("requires", "service-mesh", "service_mesh", Some(1)),
    (
        "requires",
        "istio-ingress-route",
        "istio_ingress_route",
        Some(1),
    ),
    ("requires", "ingress", "ingress", Some(1)),
    ("requires", "logging", "loki_push_api", Some(1)),
    ("requires", "charm-tracing", "tracing", Some(1)),
];

const GLUETUN: &Declared = &[
    ("provides", "vpn-gateway", "vpn-gateway", None),
    ("provides", "crowsnest", "crowsnest", None),
    ("provides", "metrics-endpoint", "prometheus_scrape", None),
    ("provides", "grafana-dashboard", "grafana_dashboard", None),
    ("requires", "service-mesh", "service_mesh", Some(1)),
    ("requires", "logging", "loki_push_api", Some(1)),
    ("requires", "charm-tracing", "tracing", Some(1)),
];

fn meta(charm: &str) -> CharmMeta {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../metadata")
        .join(charm);
    CharmMeta::read_dir(&dir).expect("our metadata parses")
}

fn missing(charm: &str, declared: &Declared) -> Vec<String> {
    let ours = meta(charm);
    declared
        .iter()
        .filter(|(role, name, interface, limit)| {
            let endpoints = if *role == "provides" {
                &ours.provides
            } else {
                &ours.requires
            };
            !endpoints
                .get(*name)
                .is_some_and(|e| e.interface == *interface && e.limit == *limit)
        })
        .map(|(role, name, ..)| format!("{charm} {role} {name}"))
        .collect()
}

#[test]
fn every_reference_endpoint_is_declared_alike() {
    let mut gaps = missing("qbittorrent-k8s", QBITTORRENT);
    gaps.extend(missing("gluetun-k8s", GLUETUN));
    assert_eq!(gaps, Vec::<String>::new());
}

#[test]
fn qbittorrent_has_exactly_the_reference_storage() {
    let ours = meta("qbittorrent-k8s");
    let names: Vec<&String> = ours.storage.keys().collect();
    assert_eq!(names, ["config"]);
    let config = &ours.storage["config"];
    assert_eq!(config.location.as_deref(), Some("/config"));
    assert!(meta("gluetun-k8s").storage.is_empty());
}
