//! Small constructors for the k8s-openapi pieces the gateway and client containers share.

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, EnvVar, SecurityContext, Volume, VolumeMount,
};

/// pod-gateway's image, pinned.
pub const POD_GATEWAY_IMAGE: &str = "ghcr.io/angelnu/pod-gateway:v1.13.0";
/// Where pod-gateway reads `settings.sh` and `nat.conf`.
pub const CONFIG_MOUNT_PATH: &str = "/config";

pub(crate) fn net_admin() -> SecurityContext {
    SecurityContext {
        capabilities: Some(Capabilities {
            add: Some(vec!["NET_ADMIN".to_owned()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

pub(crate) fn privileged() -> SecurityContext {
    SecurityContext {
        privileged: Some(true),
        ..SecurityContext::default()
    }
}

pub(crate) fn config_mount(volume: &str) -> Vec<VolumeMount> {
    vec![VolumeMount {
        name: volume.to_owned(),
        mount_path: CONFIG_MOUNT_PATH.to_owned(),
        ..VolumeMount::default()
    }]
}

pub(crate) fn config_map_volume(volume: &str, config_map: String) -> Volume {
    Volume {
        name: volume.to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map,
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

pub(crate) fn env(name: &str, value: String) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value),
        ..EnvVar::default()
    }
}

pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}
