//! The `download-client` relation (docs/charmarr-relations.md §2): a download client
//! (qBittorrent, SABnzbd) provides, media managers (Radarr, Sonarr, ...) require. Each side's
//! leader writes its application databag key `config`.
//!
//! Wire-compatible with `charmarr-lib-core` 0.18.0 and 1.0.0 (identical there):
//! `DownloadClientProviderData` and `DownloadClientRequirerData`.

use serde::Serialize;
use vpn_gateway_iface::AppName;

use crate::error::{InvalidField, Problem};
use crate::json::{self, Fields, is_set, nullable, required, string};
use crate::types::{ApiUrl, BasePath, SecretId};

/// Provider field holding qBittorrent's credentials secret (`username`, `password`).
pub const CREDENTIALS_SECRET_ID: &str = "credentials_secret_id";
/// Provider field holding SABnzbd's API-key secret (`api-key`).
pub const API_KEY_SECRET_ID: &str = "api_key_secret_id";

/// A download client the stack knows (the reference's `DownloadClient` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DownloadClient {
    /// `qbittorrent`: torrent, authenticates with a username and password.
    Qbittorrent,
    /// `sabnzbd`: usenet, authenticates with an API key.
    Sabnzbd,
}

impl DownloadClient {
    const EXPECTED: &str = "one of qbittorrent, sabnzbd";

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qbittorrent => "qbittorrent",
            Self::Sabnzbd => "sabnzbd",
        }
    }

    /// Parses the wire value (exact, lower case).
    pub fn parse(text: &str) -> Result<Self, Problem> {
        match text {
            "qbittorrent" => Ok(Self::Qbittorrent),
            "sabnzbd" => Ok(Self::Sabnzbd),
            _ => Err(Problem::UnknownValue {
                expected: Self::EXPECTED,
            }),
        }
    }

    /// Its protocol.
    pub fn client_type(self) -> ClientType {
        match self {
            Self::Qbittorrent => ClientType::Torrent,
            Self::Sabnzbd => ClientType::Usenet,
        }
    }

    /// The provider field that carries its secret ([`CREDENTIALS_SECRET_ID`] or
    /// [`API_KEY_SECRET_ID`]); the other must be absent or `null`.
    pub fn secret_field(self) -> &'static str {
        match self {
            Self::Qbittorrent => CREDENTIALS_SECRET_ID,
            Self::Sabnzbd => API_KEY_SECRET_ID,
        }
    }

    fn other_secret_field(self) -> &'static str {
        match self {
            Self::Qbittorrent => API_KEY_SECRET_ID,
            Self::Sabnzbd => CREDENTIALS_SECRET_ID,
        }
    }
}

/// A download protocol (the reference's `DownloadClientType` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientType {
    /// `torrent`.
    Torrent,
    /// `usenet`.
    Usenet,
}

impl ClientType {
    const EXPECTED: &str = "one of torrent, usenet";

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Torrent => "torrent",
            Self::Usenet => "usenet",
        }
    }

    /// Parses the wire value (exact, lower case).
    pub fn parse(text: &str) -> Result<Self, Problem> {
        match text {
            "torrent" => Ok(Self::Torrent),
            "usenet" => Ok(Self::Usenet),
            _ => Err(Problem::UnknownValue {
                expected: Self::EXPECTED,
            }),
        }
    }
}

/// A media manager (the reference's `MediaManager` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaManager {
    /// `radarr`.
    Radarr,
    /// `sonarr`.
    Sonarr,
    /// `lidarr`.
    Lidarr,
    /// `readarr`.
    Readarr,
    /// `whisparr`.
    Whisparr,
}

impl MediaManager {
    const EXPECTED: &str = "one of radarr, sonarr, lidarr, readarr, whisparr";

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Radarr => "radarr",
            Self::Sonarr => "sonarr",
            Self::Lidarr => "lidarr",
            Self::Readarr => "readarr",
            Self::Whisparr => "whisparr",
        }
    }

    /// Parses the wire value (exact, lower case).
    pub fn parse(text: &str) -> Result<Self, Problem> {
        match text {
            "radarr" => Ok(Self::Radarr),
            "sonarr" => Ok(Self::Sonarr),
            "lidarr" => Ok(Self::Lidarr),
            "readarr" => Ok(Self::Readarr),
            "whisparr" => Ok(Self::Whisparr),
            _ => Err(Problem::UnknownValue {
                expected: Self::EXPECTED,
            }),
        }
    }

    /// The download folder of its category (the reference's `MEDIA_TYPE_DOWNLOAD_PATHS`):
    /// qBittorrent saves to `/data/torrents/<folder>`, SABnzbd to `<complete_dir>/<folder>`.
    pub fn download_folder(self) -> &'static str {
        match self {
            Self::Radarr => "movies",
            Self::Sonarr => "tv",
            Self::Lidarr => "music",
            Self::Readarr => "books",
            Self::Whisparr => "xxx",
        }
    }
}

/// What a download client publishes, validated. The client decides which secret field is
/// written ([`DownloadClient::secret_field`]) and the `client_type`, so no combination of
/// these fields can be inconsistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderData {
    /// Where the media manager reaches the client's API (an in-cluster Service URL).
    pub api_url: ApiUrl,
    /// The Juju secret the provider granted to the relation: qBittorrent's credentials
    /// (`username`, `password`) or SABnzbd's API key (`api-key`).
    pub secret_id: SecretId,
    /// Which client this is.
    pub client: DownloadClient,
    /// The provider's application name (the name the media manager gives the client).
    pub instance_name: AppName,
    /// URL path prefix of the API (SABnzbd's `url_base`); `None`: served at the root.
    pub base_path: Option<BasePath>,
}

impl ProviderData {
    /// Reads and validates a provider's `config` value.
    pub fn from_databag(text: &str) -> Result<Self, InvalidField> {
        let fields = json::object(text)?;
        let client = required(&fields, "client", |v| {
            string(v).and_then(DownloadClient::parse)
        })?;
        let api_url = required(&fields, "api_url", |v| string(v).and_then(ApiUrl::parse))?;
        let secret_id = secret_of(&fields, client)?;
        required(&fields, "client_type", |v| {
            let expected = client.client_type();
            if string(v).and_then(ClientType::parse)? == expected {
                Ok(())
            } else {
                Err(Problem::ClientTypeMismatch {
                    client: client.as_str(),
                    expected: expected.as_str(),
                })
            }
        })?;
        Ok(Self {
            api_url,
            secret_id,
            client,
            instance_name: required(&fields, "instance_name", |v| {
                string(v).and_then(|s| AppName::parse(s).map_err(Problem::from))
            })?,
            base_path: nullable(&fields, "base_path", |v| {
                string(v).and_then(BasePath::parse)
            })?,
        })
    }

    /// The `config` value to write: every field in the reference's order, compact JSON,
    /// the unused secret field and an absent `base_path` as `null` (byte-identical to
    /// pydantic's `model_dump_json`).
    pub fn to_databag(&self) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            api_url: &'a str,
            api_key_secret_id: Option<&'a str>,
            credentials_secret_id: Option<&'a str>,
            client: &'static str,
            client_type: &'static str,
            instance_name: &'a str,
            base_path: Option<&'a str>,
        }
        let secret = Some(self.secret_id.as_str());
        let (api_key_secret_id, credentials_secret_id) = match self.client {
            DownloadClient::Qbittorrent => (None, secret),
            DownloadClient::Sabnzbd => (secret, None),
        };
        let wire = Wire {
            api_url: self.api_url.as_str(),
            api_key_secret_id,
            credentials_secret_id,
            client: self.client.as_str(),
            client_type: self.client.client_type().as_str(),
            instance_name: self.instance_name.as_str(),
            base_path: self.base_path.as_ref().map(BasePath::as_str),
        };
        // Cannot fail: a plain struct of strings and options.
        serde_json::to_string(&wire).expect("plain struct serialises")
    }
}

/// The client's own secret field must be set; the other must be absent or `null` (the
/// reference's "exactly one of" rule, tied to the client).
fn secret_of(fields: &Fields, client: DownloadClient) -> Result<SecretId, InvalidField> {
    let other = client.other_secret_field();
    if is_set(fields, other) {
        return Err(InvalidField::new(
            other,
            Problem::SecretNotForClient {
                client: client.as_str(),
                uses: client.secret_field(),
            },
        ));
    }
    let own = client.secret_field();
    nullable(fields, own, |v| string(v).and_then(SecretId::parse))?
        .ok_or(InvalidField::new(own, Problem::Missing))
}

/// What a media manager publishes, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirerData {
    /// Which media manager.
    pub manager: MediaManager,
    /// Its application name: the client names the category after it.
    pub instance_name: AppName,
}

impl RequirerData {
    /// Reads and validates a requirer's `config` value.
    pub fn from_databag(text: &str) -> Result<Self, InvalidField> {
        let fields = json::object(text)?;
        Ok(Self {
            manager: required(&fields, "manager", |v| {
                string(v).and_then(MediaManager::parse)
            })?,
            instance_name: required(&fields, "instance_name", |v| {
                string(v).and_then(|s| AppName::parse(s).map_err(Problem::from))
            })?,
        })
    }

    /// The `config` value to write: `{"manager":"<manager>","instance_name":"<app>"}`.
    pub fn to_databag(&self) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            manager: &'static str,
            instance_name: &'a str,
        }
        let wire = Wire {
            manager: self.manager.as_str(),
            instance_name: self.instance_name.as_str(),
        };
        serde_json::to_string(&wire).expect("plain struct serialises")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::types::ApiUrl;

    proptest! {
        #[test]
        fn readers_are_total(text in ".{0,400}") {
            let _ = ProviderData::from_databag(&text);
            let _ = RequirerData::from_databag(&text);
        }

        #[test]
        fn whatever_we_build_reads_back(
            service in "[a-z][a-z0-9]{0,20}",
            namespace in "[a-z0-9]{1,20}",
            port in 1_u16..,
            id in "[0-9a-v]{20}",
            sab in any::<bool>(),
            base in proptest::option::of("/[a-zA-Z0-9._~-]{0,10}[a-z]"),
        ) {
            let app = AppName::parse(&service).unwrap();
            let data = ProviderData {
                api_url: ApiUrl::in_cluster(&app, &vpn_gateway_iface::Namespace::parse(&namespace).unwrap(), port).unwrap(),
                secret_id: SecretId::parse(&format!("secret:{id}")).unwrap(),
                client: if sab { DownloadClient::Sabnzbd } else { DownloadClient::Qbittorrent },
                instance_name: app,
                base_path: base.map(|b| BasePath::parse(&b).unwrap()),
            };
            let text = data.to_databag();
            prop_assert_eq!(ProviderData::from_databag(&text), Ok(data));
        }
    }
}
