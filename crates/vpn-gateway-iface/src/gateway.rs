//! The gateway side (gluetun-k8s): what it adds to its own StatefulSet and its ConfigMap
//! (docs/interface.md §3). Container specs equal the reference's; the ConfigMap's
//! `settings.sh` sets more than the reference's (ADR 0038), so adopting the reference's
//! additions rewrites the ConfigMap and the hash annotation once (the pod rolls once).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, ContainerPort};

use crate::hash::config_hash;
use crate::owner::Owner;
use crate::pod::{
    POD_GATEWAY_IMAGE, config_map_volume, config_mount, net_admin, privileged, strings,
};
use crate::settings::{GatewaySettings, gateway_settings};
use crate::statefulset::{OwnedNames, PodAdditions};
use crate::types::AppName;

/// Init container: creates `vxlan0` and the forwarding rules.
pub const GATEWAY_INIT: &str = "gateway-init";
/// Sidecar: DHCP and DNS for clients.
pub const GATEWAY_SIDECAR: &str = "gateway-sidecar";
/// Volume holding the gateway ConfigMap.
pub const GATEWAY_VOLUME: &str = "gateway-config";
/// Template annotation holding the config hash.
pub const GATEWAY_HASH_ANNOTATION: &str = "charmarr.io/gateway-config-hash";
/// gluetun's workload container (Juju's), which needs `privileged: true`.
pub const GLUETUN_CONTAINER: &str = "gluetun";

/// `<app>-gateway-settings`.
pub fn gateway_config_map_name(app: &AppName) -> String {
    format!("{app}-gateway-settings")
}

/// The gateway ConfigMap, for server-side apply.
pub fn gateway_config_map(owner: &Owner, settings: &GatewaySettings) -> ConfigMap {
    ConfigMap {
        metadata: owner.metadata(gateway_config_map_name(&owner.app)),
        data: Some(gateway_settings(settings)),
        ..ConfigMap::default()
    }
}

/// What the gateway adds to its StatefulSet: `gateway-init`, `gateway-sidecar`, the
/// `gateway-config` volume, the hash annotation (of what [`gateway_config_map`] renders from
/// the same `settings`) and gluetun's `privileged: true`.
pub fn gateway_additions(app: &AppName, settings: &GatewaySettings) -> PodAdditions {
    let init = Container {
        name: GATEWAY_INIT.to_owned(),
        image: Some(POD_GATEWAY_IMAGE.to_owned()),
        command: Some(strings(&["/bin/sh", "-c"])),
        args: Some(strings(&["/bin/gateway_init.sh"])),
        security_context: Some(privileged()),
        volume_mounts: Some(config_mount(GATEWAY_VOLUME)),
        ..Container::default()
    };
    let port = |name: &str, number: i32| ContainerPort {
        name: Some(name.to_owned()),
        container_port: number,
        protocol: Some("UDP".to_owned()),
        ..ContainerPort::default()
    };
    let sidecar = Container {
        name: GATEWAY_SIDECAR.to_owned(),
        image: Some(POD_GATEWAY_IMAGE.to_owned()),
        command: Some(strings(&["/bin/gateway_sidecar.sh"])),
        security_context: Some(net_admin()),
        volume_mounts: Some(config_mount(GATEWAY_VOLUME)),
        ports: Some(vec![port("dhcp", 67), port("dns", 53)]),
        ..Container::default()
    };
    let gluetun = Container {
        name: GLUETUN_CONTAINER.to_owned(),
        security_context: Some(privileged()),
        ..Container::default()
    };
    PodAdditions {
        init_containers: vec![init],
        containers: vec![sidecar],
        volumes: vec![config_map_volume(
            GATEWAY_VOLUME,
            gateway_config_map_name(app),
        )],
        annotations: BTreeMap::from([(
            GATEWAY_HASH_ANNOTATION.to_owned(),
            config_hash(&gateway_settings(settings)),
        )]),
        container_overrides: vec![gluetun],
        dns_config: None,
    }
}

/// The names [`gateway_additions`] owns (for removal without settings at hand).
pub fn gateway_owned_names() -> OwnedNames {
    OwnedNames {
        init_containers: strings(&[GATEWAY_INIT]),
        containers: strings(&[GATEWAY_SIDECAR]),
        volumes: strings(&[GATEWAY_VOLUME]),
        annotations: strings(&[GATEWAY_HASH_ANNOTATION]),
        dns: false,
    }
}
