//! gluetun-k8s: the VPN gateway charm. `main.rs` is the thin binary; a hook is
//! [`hook::reconcile`]: [`gather`] (reads only) → [`plan`] (pure) → [`apply`] (writes only
//! the difference). [`render`] is the offline CLI. [`config`] and [`workload`] are pure.

pub mod apply;
pub mod config;
pub mod gather;
pub mod hook;
pub mod plan;
pub mod render;
pub mod workload;
