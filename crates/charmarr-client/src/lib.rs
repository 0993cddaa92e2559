//! The runtime side of [`charmarr_iface`] for the download-client charms (qbittorrent-k8s
//! now, sabnzbd-k8s next): everything about the charmarr relations that is not specific to
//! one client.
//!
//! - [`managers`]: the `download-client` provider: reading every media manager's `config`
//!   as untrusted, and grant-then-publish of our data on every relation whose databag does
//!   not hold it yet.
//! - [`storage`]: the `media-storage` requirer: reading charmarr-storage-k8s's `config`, and
//!   the shared claim's volume, mount and `fsGroup` in our StatefulSet (added, checked,
//!   removed), adopting the reference charms' items of the same names.
//!
//! Reads take [`juju_charm::Tools`]; decisions are pure functions of what was read, so a
//! charm's `plan` stays pure. The contract is docs/charmarr-relations.md; the decisions are
//! docs/adr/0042 (storage) and 0043 (download-client).

pub mod managers;
pub mod storage;

/// A relation read failed (`relation-ids`, `relation-list`, `relation-get`).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the {endpoint} relation")]
pub struct ReadError {
    /// The endpoint.
    pub endpoint: &'static str,
    /// Why.
    #[source]
    pub source: juju_charm::tools::ToolError,
}
