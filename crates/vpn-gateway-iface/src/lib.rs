//! The `vpn-gateway` relation, shared by the gateway (gluetun-k8s) and its clients
//! (qbittorrent-k8s, ...): wire models, validation, pod-gateway settings rendering and the
//! Kubernetes objects both sides write. Pure: no I/O, no async, no Kubernetes client.
//!
//! - [`wire`]: the databag JSON, read into validated [`ProviderData`] / [`RequirerData`].
//! - [`types`], [`cidrs`], [`error`]: validated newtypes and the one error type.
//! - [`settings`], [`hash`]: pod-gateway's `settings.sh` / `nat.conf` and the config hash.
//! - [`gateway`], [`client`], [`wrapper`]: what each side adds to its own StatefulSet, and
//!   its ConfigMap.
//! - [`filter`]: the in-pod egress filter (kill switch layer 0) the client's first init
//!   container installs.
//! - [`killswitch`]: the NetworkPolicy and CiliumNetworkPolicy; [`api_server`]: the API
//!   server's real endpoints the NetworkPolicy always lets out.
//! - [`pod_security`]: whether the namespace's Pod Security level lets our pods run.
//! - [`statefulset`], [`holds`]: the strategic-merge patches, their emulation, and the
//!   semantic "already holds" checks that keep an unchanged hook from writing anything.
//!
//! Write mechanisms: the StatefulSet (Juju's) gets a strategic-merge patch
//! ([`PodAdditions::add_patch`], [`OwnedNames::remove_patch`]); wholly-owned objects are
//! server-side applied whole, with the charm's field manager and `force`.
//!
//! A client's reconcile, in outline (the I/O is the runtime's):
//!
//! ```
//! use vpn_gateway_iface::client::{client_additions, client_config_map};
//! use vpn_gateway_iface::holds::config_map_holds;
//! use vpn_gateway_iface::api_server::ApiServerEndpoints;
//! use vpn_gateway_iface::killswitch::network_policy;
//! use vpn_gateway_iface::{AppName, Namespace, Owner, ProviderData};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let databag = r#"{"gateway_dns_name":"vpnarr-endpoints.m.svc.cluster.local",
//!     "cluster_cidrs":"10.1.0.0/16,,10.152.183.0/24","cluster_dns_ip":"10.152.183.10",
//!     "instance_name":"vpnarr"}"#;
//! let data = ProviderData::from_databag(databag)?; // Err names the bad field
//! let owner = Owner {
//!     app: AppName::parse("qbittorrent")?,
//!     namespace: Namespace::parse("m")?,
//!     field_manager: "qbittorrent-k8s",
//! };
//! let api = ApiServerEndpoints::none(); // read from default/kubernetes
//! let kill_switch = network_policy(&owner, &data.cluster_cidrs, &api); // apply first
//! let config_map = client_config_map(&owner, &data); // apply unless config_map_holds(..)
//! assert!(config_map_holds(&config_map, &config_map));
//! let additions = client_additions(&owner.app, owner.namespace.as_str(), &data);
//! # let live: k8s_openapi::api::apps::v1::StatefulSet = Default::default();
//! if !additions.is_held_by(&live) {
//!     let _patch = additions.add_patch("4711"); // strategic merge, with resourceVersion
//! }
//! # let _ = kill_switch;
//! # Ok(())
//! # }
//! ```

pub mod api_server;
pub mod cidrs;
pub mod client;
pub mod error;
pub mod filter;
pub mod gateway;
pub mod hash;
pub mod holds;
pub mod killswitch;
pub mod owner;
pub mod pod;
pub mod pod_security;
pub mod settings;
pub mod smp;
pub mod statefulset;
pub mod types;
pub mod wire;
pub mod wrapper;

pub use cidrs::ClusterCidrs;
pub use error::{InvalidField, Problem};
pub use owner::Owner;
pub use statefulset::{EmulateError, LiveStatefulSet, OwnedNames, PodAdditions, StatefulSetJson};
pub use types::{AppName, DnsName, Namespace, VxlanId, VxlanNetwork, VxlanPort, juju_names};
pub use wire::{GatewayInputs, ProviderData, RequirerData, VxlanSettings};
