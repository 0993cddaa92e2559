//! The `vpn-gateway` relation, shared by the gateway (gluetun-k8s) and its clients
//! (qbittorrent-k8s, ...): wire models, validation, pod-gateway settings rendering and the
//! Kubernetes objects both sides write. Pure: no I/O, no async, no Kubernetes client.
//!
//! - [`wire`]: the databag JSON, read into validated [`ProviderData`] / [`RequirerData`].
//! - [`types`], [`cidrs`], [`error`]: validated newtypes and the one error type.
//! - [`settings`], [`hash`]: pod-gateway's `settings.sh` / `nat.conf` and the config hash.
//! - [`gateway`], [`client`], [`wrapper`]: what each side adds to its own StatefulSet, and
//!   its ConfigMap.
//! - [`killswitch`]: the NetworkPolicy and CiliumNetworkPolicy.
//! - [`statefulset`], [`holds`]: the strategic-merge patches, their emulation, and the
//!   semantic "already holds" checks that keep an unchanged hook from writing anything.
//!
//! Write mechanisms: the StatefulSet (Juju's) gets a strategic-merge patch
//! ([`PodAdditions::add_patch`], [`OwnedNames::remove_patch`]); wholly-owned objects are
//! server-side applied whole, with the charm's field manager and `force`.

pub mod cidrs;
pub mod client;
pub mod error;
pub mod gateway;
pub mod hash;
pub mod holds;
pub mod killswitch;
pub mod owner;
pub mod pod;
pub mod settings;
pub mod smp;
pub mod statefulset;
pub mod types;
pub mod wire;
pub mod wrapper;

pub use cidrs::ClusterCidrs;
pub use error::{InvalidField, Problem};
pub use owner::Owner;
pub use statefulset::{EmulateError, OwnedNames, PodAdditions};
pub use types::{AppName, DnsName, Namespace, VxlanId, VxlanNetwork, VxlanPort};
pub use wire::{GatewayInputs, ProviderData, RequirerData, VxlanSettings};
