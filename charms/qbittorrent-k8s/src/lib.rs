//! qbittorrent-k8s: the download-client charm. Pure pieces live in modules here and are tested
//! without I/O; `main.rs` is the thin gather → plan → apply binary.
//!
//! - [`config`], [`credentials`], [`conf`], [`layer`]: validated config, WebUI credentials,
//!   `qBittorrent.conf` reconciliation and the Pebble layer (pure).
//! - [`plan`]: what one hook changes, in order (pure).
//! - [`gather`] (reads only), [`apply`] (writes only the difference), [`actions`],
//!   [`hook`] (the hook entry point) and [`render`] (the offline CLI).

pub mod actions;
pub mod apply;
pub mod conf;
pub mod config;
pub mod credentials;
pub mod gather;
pub mod hook;
pub mod layer;
pub mod plan;
pub mod render;
