//! Charm metadata as the hook tools read it: [`to_state_meta`] converts what [`crate::meta`]
//! parsed into [`crate::state::CharmMeta`].

use std::collections::BTreeMap;

use crate::k8s::AppSpec;
use crate::meta::{CharmMeta, Role};
use crate::state;

/// Converts parsed metadata into the shape the hook tools read.
pub fn to_state_meta(m: &CharmMeta) -> state::CharmMeta {
    let mut endpoints = BTreeMap::new();
    for (name, role, e) in m.endpoints() {
        endpoints.insert(
            name,
            state::EndpointMeta {
                role: match role {
                    Role::Provider => state::Role::Provides,
                    Role::Requirer => state::Role::Requires,
                    Role::Peer => state::Role::Peers,
                },
                interface: e.interface.clone(),
                limit: e.limit,
                optional: false,
            },
        );
    }
    state::CharmMeta {
        name: m.name.clone(),
        endpoints,
        containers: m
            .containers
            .iter()
            .map(|(k, c)| {
                (
                    k.clone(),
                    state::ContainerMeta {
                        resource: c.resource.clone(),
                        mounts: c
                            .mounts
                            .iter()
                            .map(|mm| state::MountMeta {
                                storage: mm.storage.clone(),
                                location: mm.location.clone(),
                            })
                            .collect(),
                    },
                )
            })
            .collect(),
        storage: m
            .storage
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    state::StorageMeta {
                        kind: if s.kind.is_empty() {
                            "filesystem".to_owned()
                        } else {
                            s.kind.clone()
                        },
                        location: Some(AppSpec::charm_storage_location(k)),
                    },
                )
            })
            .collect(),
        actions: m
            .actions
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    state::ActionMeta {
                        description: a.description.clone().unwrap_or_default(),
                        params: a.params.clone(),
                    },
                )
            })
            .collect(),
        config: m
            .options
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    state::ConfigOption {
                        kind: o.kind.clone(),
                        default: o.default.clone(),
                        description: o.description.clone().unwrap_or_default(),
                    },
                )
            })
            .collect(),
    }
}
