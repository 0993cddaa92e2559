//! The charmarr stack's `download-client` and `media-storage` relations, shared by the
//! download-client charms (qbittorrent-k8s, sabnzbd-k8s): the databag JSON, read into
//! validated types and written byte-for-byte as the reference (`charmarr-lib-core` 0.18.0,
//! unchanged in 1.0.0) writes it. Pure: no I/O. The contract is docs/charmarr-relations.md.
//!
//! - [`download_client`]: what a client publishes to the media managers ([`download_client::ProviderData`])
//!   and what each manager publishes back ([`download_client::RequirerData`]).
//! - [`media_storage`]: the shared claim and ids from charmarr-storage-k8s
//!   ([`media_storage::ProviderData`]).
//! - [`types`], [`error`]: validated newtypes and the one error type.
//!
//! Every databag value is untrusted: readers are total (a value or an [`InvalidField`] naming
//! the field, never a panic) and stricter than pydantic (docs/adr/0035).
//!
//! ```
//! use charmarr_iface::download_client::{DownloadClient, ProviderData, RequirerData};
//! use charmarr_iface::media_storage;
//! use charmarr_iface::{ApiUrl, AppName, Namespace, SecretId};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The client's leader reads the storage provider's `config`...
//! let storage = media_storage::ProviderData::from_databag(
//!     r#"{"pvc_name":"charmarr-shared-media","mount_path":"/data","puid":1000,"pgid":1000}"#,
//! )?;
//! assert_eq!(storage.mount_path.as_str(), "/data");
//!
//! // ...each manager's `config` (category `radarr`, saved under `movies`)...
//! let manager = RequirerData::from_databag(r#"{"manager":"radarr","instance_name":"radarr"}"#)?;
//! assert_eq!(manager.manager.download_folder(), "movies");
//!
//! // ...and writes its own on every download-client relation.
//! let app = AppName::parse("qbittorrent")?;
//! let data = ProviderData {
//!     api_url: ApiUrl::in_cluster(&app, &Namespace::parse("media")?, 8080)?,
//!     secret_id: SecretId::parse("secret:d1d2dhg7nlbs73bc9f60")?,
//!     client: DownloadClient::Qbittorrent,
//!     instance_name: app,
//!     base_path: None,
//! };
//! assert_eq!(
//!     data.to_databag(),
//!     r#"{"api_url":"http://qbittorrent.media.svc.cluster.local:8080","api_key_secret_id":null,"credentials_secret_id":"secret:d1d2dhg7nlbs73bc9f60","client":"qbittorrent","client_type":"torrent","instance_name":"qbittorrent","base_path":null}"#
//! );
//! # Ok(())
//! # }
//! ```

pub mod download_client;
pub mod error;
mod json;
pub mod media_storage;
pub mod types;

pub use error::{InvalidField, Problem};
pub use json::{DATABAG_KEY, MAX_CONFIG_BYTES};
pub use types::{
    ApiUrl, BasePath, CLUSTER_DOMAIN, MAX_ID, MIN_ID, MountPath, Pgid, Puid, PvcName, Scheme,
    SecretId,
};
pub use vpn_gateway_iface::{AppName, Namespace};
