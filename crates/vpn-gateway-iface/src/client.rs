//! The client side (qbittorrent-k8s and any other consumer): what it adds to its own
//! StatefulSet for routing, and its ConfigMap (docs/interface.md §4).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, PodDNSConfig, PodDNSConfigOption};

use crate::filter::{KILLSWITCH_INIT, killswitch_container};
use crate::hash::config_hash;
use crate::owner::Owner;
use crate::pod::{POD_GATEWAY_IMAGE, config_map_volume, config_mount, env, net_admin, strings};
use crate::settings::client_settings;
use crate::statefulset::{OwnedNames, PodAdditions};
use crate::types::AppName;
use crate::wire::ProviderData;
use crate::wrapper::{VPN_ROUTE_INIT_SCRIPT, VPN_ROUTE_SIDECAR_SCRIPT};

/// Init container: joins the gateway's VXLAN and routes through it.
pub const VPN_ROUTE_INIT: &str = "vpn-route-init";
/// Sidecar: watches the tunnel and re-runs the client init when it breaks (our loop,
/// [`crate::wrapper::VPN_ROUTE_SIDECAR_SCRIPT`]).
pub const VPN_ROUTE_SIDECAR: &str = "vpn-route-sidecar";
/// Volume holding the client ConfigMap.
pub const CLIENT_VOLUME: &str = "pod-gateway-config";
/// Template annotation holding the config hash.
pub const CLIENT_HASH_ANNOTATION: &str = "charmarr.io/gateway-client-config-hash";
/// The environment variable pod-gateway reads the gateway's DNS name from.
pub const GATEWAY_ENV: &str = "gateway";

/// `<app>-gateway-client-config`.
pub fn client_config_map_name(app: &AppName) -> String {
    format!("{app}-gateway-client-config")
}

/// The client ConfigMap, for server-side apply.
pub fn client_config_map(owner: &Owner, data: &ProviderData) -> ConfigMap {
    ConfigMap {
        metadata: owner.metadata(client_config_map_name(&owner.app)),
        data: Some(client_settings(data)),
        ..ConfigMap::default()
    }
}

/// The cluster's DNS domain, as in the names the gateway publishes.
const CLUSTER_DOMAIN: &str = "cluster.local";

/// The client pod's DNS (ADR 0040): the gateway's resolver on the overlay
/// (`<vxlan network>.1`, pod-gateway's dnsmasq, which forwards cluster names to the cluster
/// DNS and the rest through the tunnel), with the search list and `ndots` the kubelet gives a
/// `ClusterFirst` pod, so short cluster names resolve as before.
pub fn client_dns_config(namespace: &str, data: &ProviderData) -> PodDNSConfig {
    PodDNSConfig {
        nameservers: Some(vec![format!("{}.1", data.vxlan.network)]),
        searches: Some(vec![
            format!("{namespace}.svc.{CLUSTER_DOMAIN}"),
            format!("svc.{CLUSTER_DOMAIN}"),
            CLUSTER_DOMAIN.to_owned(),
        ]),
        options: Some(vec![PodDNSConfigOption {
            name: Some("ndots".to_owned()),
            value: Some("5".to_owned()),
        }]),
    }
}

/// What a client adds to its StatefulSet: the in-pod filter `vpn-killswitch` (first: layer 0,
/// [`crate::filter`]), `vpn-route-init` (the bounded wrapper), `vpn-route-sidecar`, the
/// `pod-gateway-config` volume, the hash annotation and the pod's DNS through the gateway
/// ([`client_dns_config`]).
pub fn client_additions(app: &AppName, namespace: &str, data: &ProviderData) -> PodAdditions {
    let gateway = || vec![env(GATEWAY_ENV, data.gateway_dns_name.to_string())];
    let init = Container {
        name: VPN_ROUTE_INIT.to_owned(),
        image: Some(POD_GATEWAY_IMAGE.to_owned()),
        command: Some(strings(&["/bin/sh", "-c", VPN_ROUTE_INIT_SCRIPT])),
        security_context: Some(net_admin()),
        env: Some(gateway()),
        volume_mounts: Some(config_mount(CLIENT_VOLUME)),
        ..Container::default()
    };
    let sidecar = Container {
        name: VPN_ROUTE_SIDECAR.to_owned(),
        image: Some(POD_GATEWAY_IMAGE.to_owned()),
        command: Some(strings(&["/bin/sh", "-c", VPN_ROUTE_SIDECAR_SCRIPT])),
        security_context: Some(net_admin()),
        env: Some(gateway()),
        volume_mounts: Some(config_mount(CLIENT_VOLUME)),
        ..Container::default()
    };
    PodAdditions {
        init_containers: vec![killswitch_container(data), init],
        containers: vec![sidecar],
        volumes: vec![config_map_volume(
            CLIENT_VOLUME,
            client_config_map_name(app),
        )],
        annotations: BTreeMap::from([(
            CLIENT_HASH_ANNOTATION.to_owned(),
            config_hash(&client_settings(data)),
        )]),
        container_overrides: Vec::new(),
        dns_config: Some(client_dns_config(namespace, data)),
    }
}

/// The routing names [`client_additions`] owns, its DNS included: what is removed when the
/// relation goes away. The in-pod filter is not among them: it stays
/// ([`killswitch_owned_names`]).
pub fn client_owned_names() -> OwnedNames {
    OwnedNames {
        init_containers: strings(&[VPN_ROUTE_INIT]),
        containers: strings(&[VPN_ROUTE_SIDECAR]),
        volumes: strings(&[CLIENT_VOLUME]),
        annotations: strings(&[CLIENT_HASH_ANNOTATION]),
        dns: true,
    }
}

/// The in-pod filter's names: removed only by `unsafe-mode`, last (with the NetworkPolicy).
pub fn killswitch_owned_names() -> OwnedNames {
    OwnedNames {
        init_containers: strings(&[KILLSWITCH_INIT]),
        containers: Vec::new(),
        volumes: Vec::new(),
        annotations: Vec::new(),
        dns: false,
    }
}
