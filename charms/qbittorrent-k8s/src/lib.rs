//! qbittorrent-k8s: the download-client charm, built on [`juju_charm::Charm`]
//! (docs/adr/0028-charm-skeleton.md). The rooms, as in every charm of this repository:
//!
//! - [`constants`]: names, labels, status wording, budgets;
//! - [`inputs`]: what a hook reads, typed;
//! - [`gather`]: reads everything the plan needs, decides nothing;
//! - [`plan`]: every decision, pure (fail-closed rules: ADR 0010);
//! - [`apply`]: writes only the difference, in the plan's order;
//! - [`actions`]: `get-credentials` and `rotate-credentials`;
//! - [`render`]: the offline dry run, the same plan from files;
//! - the pure leaves: [`config`] (validated options), [`workload`] (the Pebble layer),
//!   [`conf`] (`qBittorrent.conf` reconciliation), [`categories`] (`categories.json`) and
//!   [`credentials`] (WebUI credentials).

pub mod actions;
pub mod apply;
pub mod categories;
pub mod conf;
pub mod config;
pub mod constants;
pub mod credentials;
pub mod gather;
pub mod inputs;
pub mod plan;
pub mod render;
pub mod workload;

juju_charm::charm! {
    /// The charm: its rooms wired into [`juju_charm::Charm`].
    pub struct QbittorrentK8s;
    actions;
}
