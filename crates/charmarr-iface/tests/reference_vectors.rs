//! Test vectors from the reference implementation, `charmarr-lib-core` 0.18.0 (what the
//! reference charms pin) with the versions their `uv.lock` pins (pydantic 2.12.5,
//! pydantic-core 2.41.5, ops 2.23.2), under CPython 3.12.1. `charmarr-lib-core` 1.0.0 with
//! pydantic 2.14.4 prints the same bytes (its download-client and media-storage modules are
//! unchanged). The `REF_*` constants are the output of:
//!
//! ```python
//! from charmarr_lib.core.enums import DownloadClient, DownloadClientType, MediaManager
//! from charmarr_lib.core.interfaces import (
//!     DownloadClientProviderData, DownloadClientRequirerData,
//!     MediaStorageProviderData, MediaStorageRequirerData,
//! )
//! print(DownloadClientProviderData(
//!     api_url="http://qbittorrent.charmarr.svc.cluster.local:8080",
//!     credentials_secret_id="secret:d1d2dhg7nlbs73bc9f60",
//!     client=DownloadClient.QBITTORRENT, client_type=DownloadClientType.TORRENT,
//!     instance_name="qbittorrent").model_dump_json())
//! print(DownloadClientProviderData(
//!     api_url="http://sabnzbd.charmarr.svc.cluster.local:8080",
//!     api_key_secret_id="secret://4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a/d1d2e0o7nlbs73bc9f6g",
//!     client=DownloadClient.SABNZBD, client_type=DownloadClientType.USENET,
//!     instance_name="sabnzbd", base_path="/sabnzbd").model_dump_json())
//! print(DownloadClientRequirerData(manager=MediaManager.RADARR,
//!     instance_name="radarr-4k").model_dump_json())
//! print(MediaStorageProviderData(pvc_name="charmarr-shared-media", mount_path="/data",
//!     puid=1000, pgid=1000).model_dump_json())
//! print(MediaStorageProviderData(pvc_name="charmarr-shared-media").model_dump_json())
//! print(MediaStorageRequirerData(instance_name="multimeter").model_dump_json())
//! ```
//!
//! The other direction: every `OURS_*` constant below (our writer's output, asserted here)
//! was fed to the same venv as `Model.model_validate_json(s).model_dump_json() == s`, with
//! the model matching each constant; all were accepted and re-dumped byte-identically (see
//! [`OURS_CHECKED_BY_REFERENCE`]). No Python or network is needed to run these tests.

use charmarr_iface::download_client::{self, ClientType, DownloadClient, MediaManager};
use charmarr_iface::media_storage;
use charmarr_iface::{
    ApiUrl, AppName, BasePath, InvalidField, MountPath, Namespace, Pgid, Problem, Puid, PvcName,
    Scheme, SecretId,
};
use serde_json::{Value, json};

const REF_QBITTORRENT: &str = r#"{"api_url":"http://qbittorrent.charmarr.svc.cluster.local:8080","api_key_secret_id":null,"credentials_secret_id":"secret:d1d2dhg7nlbs73bc9f60","client":"qbittorrent","client_type":"torrent","instance_name":"qbittorrent","base_path":null}"#;
const REF_SABNZBD: &str = r#"{"api_url":"http://sabnzbd.charmarr.svc.cluster.local:8080","api_key_secret_id":"secret://4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a/d1d2e0o7nlbs73bc9f6g","credentials_secret_id":null,"client":"sabnzbd","client_type":"usenet","instance_name":"sabnzbd","base_path":"/sabnzbd"}"#;
const REF_MANAGER: &str = r#"{"manager":"radarr","instance_name":"radarr-4k"}"#;
const REF_STORAGE: &str =
    r#"{"pvc_name":"charmarr-shared-media","mount_path":"/data","puid":1000,"pgid":1000}"#;
const REF_STORAGE_REQUIRER: &str = r#"{"instance_name":"multimeter"}"#;

/// Our writer's output for values the reference never writes but accepts.
const OURS_SABNZBD_SHORT_ID: &str = r#"{"api_url":"https://sab.media-2.svc.k8s.example:9090","api_key_secret_id":"secret:cvh7dpvmp25c77ohv1ag","credentials_secret_id":null,"client":"sabnzbd","client_type":"usenet","instance_name":"sab","base_path":"/media/sab/"}"#;
const OURS_STORAGE: &str =
    r#"{"pvc_name":"media.v2","mount_path":"/srv/media_1","puid":1001,"pgid":2147483647}"#;
const OURS_MANAGERS: [&str; 5] = [
    r#"{"manager":"radarr","instance_name":"radarr"}"#,
    r#"{"manager":"sonarr","instance_name":"sonarr"}"#,
    r#"{"manager":"lidarr","instance_name":"lidarr"}"#,
    r#"{"manager":"readarr","instance_name":"readarr"}"#,
    r#"{"manager":"whisparr","instance_name":"whisparr"}"#,
];

/// The reference's verdict on our output, recorded during development: for each string `s`
/// above (and the `REF_*` ones, which we write back unchanged),
/// `Model.model_validate_json(s).model_dump_json() == s` printed `True` under both
/// `charmarr-lib-core` 0.18.0 (pydantic 2.12.5) and 1.0.0 (pydantic 2.14.4).
const OURS_CHECKED_BY_REFERENCE: &[&str] = &[
    REF_QBITTORRENT,
    REF_SABNZBD,
    REF_MANAGER,
    REF_STORAGE,
    REF_STORAGE_REQUIRER,
    OURS_SABNZBD_SHORT_ID,
    OURS_STORAGE,
    OURS_MANAGERS[0],
    OURS_MANAGERS[1],
    OURS_MANAGERS[2],
    OURS_MANAGERS[3],
    OURS_MANAGERS[4],
];

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn app(name: &str) -> AppName {
    ok(AppName::parse(name))
}

#[test]
fn reads_the_reference_qbittorrent_and_writes_it_back_byte_for_byte() {
    let data = ok(download_client::ProviderData::from_databag(REF_QBITTORRENT));
    assert_eq!(data.client, DownloadClient::Qbittorrent);
    assert_eq!(data.client.client_type(), ClientType::Torrent);
    assert_eq!(data.client.secret_field(), "credentials_secret_id");
    assert_eq!(data.secret_id.as_str(), "secret:d1d2dhg7nlbs73bc9f60");
    assert_eq!(data.secret_id.id(), "d1d2dhg7nlbs73bc9f60");
    assert_eq!(data.secret_id.model_uuid(), None);
    assert_eq!(data.api_url.scheme(), Scheme::Http);
    assert_eq!(
        data.api_url.host(),
        "qbittorrent.charmarr.svc.cluster.local"
    );
    assert_eq!(data.api_url.service(), "qbittorrent");
    assert_eq!(data.api_url.namespace(), "charmarr");
    assert_eq!(data.api_url.port(), 8080);
    assert_eq!(data.instance_name.as_str(), "qbittorrent");
    assert_eq!(data.base_path, None);
    assert_eq!(data.to_databag(), REF_QBITTORRENT);
}

#[test]
fn builds_what_the_reference_qbittorrent_charm_publishes() {
    let qbt = app("qbittorrent");
    let data = download_client::ProviderData {
        api_url: ok(ApiUrl::in_cluster(
            &qbt,
            &ok(Namespace::parse("charmarr")),
            8080,
        )),
        secret_id: ok(SecretId::parse("secret:d1d2dhg7nlbs73bc9f60")),
        client: DownloadClient::Qbittorrent,
        instance_name: qbt,
        base_path: None,
    };
    assert_eq!(data.to_databag(), REF_QBITTORRENT);
}

#[test]
fn reads_the_reference_sabnzbd_and_writes_it_back_byte_for_byte() {
    let data = ok(download_client::ProviderData::from_databag(REF_SABNZBD));
    assert_eq!(data.client, DownloadClient::Sabnzbd);
    assert_eq!(data.client.secret_field(), "api_key_secret_id");
    assert_eq!(
        data.secret_id.model_uuid(),
        Some("4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a")
    );
    assert_eq!(data.secret_id.id(), "d1d2e0o7nlbs73bc9f6g");
    assert_eq!(data.base_path, Some(BasePath::for_app(&app("sabnzbd"))));
    assert_eq!(data.to_databag(), REF_SABNZBD);
}

#[test]
fn our_own_outputs_are_what_the_reference_accepted() {
    let sab = ok(download_client::ProviderData::from_databag(
        OURS_SABNZBD_SHORT_ID,
    ));
    assert_eq!(sab.api_url.scheme(), Scheme::Https);
    assert_eq!(sab.api_url.host(), "sab.media-2.svc.k8s.example");
    assert_eq!(sab.api_url.namespace(), "media-2");
    assert_eq!(sab.api_url.port(), 9090);
    assert_eq!(sab.to_databag(), OURS_SABNZBD_SHORT_ID);
    let storage = media_storage::ProviderData {
        pvc_name: ok(PvcName::parse("media.v2")),
        mount_path: ok(MountPath::parse("/srv/media_1")),
        puid: ok(Puid::new(1001)),
        pgid: ok(Pgid::new(2_147_483_647_u32)),
    };
    assert_eq!(storage.to_databag(), OURS_STORAGE);
    assert_eq!(
        ok(media_storage::ProviderData::from_databag(OURS_STORAGE)),
        storage
    );
    let managers = [
        MediaManager::Radarr,
        MediaManager::Sonarr,
        MediaManager::Lidarr,
        MediaManager::Readarr,
        MediaManager::Whisparr,
    ];
    for (manager, text) in managers.into_iter().zip(OURS_MANAGERS) {
        let data = download_client::RequirerData {
            manager,
            instance_name: app(manager.as_str()),
        };
        assert_eq!(data.to_databag(), text);
        assert_eq!(ok(download_client::RequirerData::from_databag(text)), data);
    }
    for text in OURS_CHECKED_BY_REFERENCE {
        assert!(serde_json::from_str::<Value>(text).is_ok(), "{text}");
    }
}

#[test]
fn manager_round_trips_and_names_its_folder() {
    let data = ok(download_client::RequirerData::from_databag(REF_MANAGER));
    assert_eq!(data.manager, MediaManager::Radarr);
    assert_eq!(data.instance_name.as_str(), "radarr-4k");
    assert_eq!(data.to_databag(), REF_MANAGER);
    let folders: Vec<_> = [
        MediaManager::Radarr,
        MediaManager::Sonarr,
        MediaManager::Lidarr,
        MediaManager::Readarr,
        MediaManager::Whisparr,
    ]
    .map(MediaManager::download_folder)
    .into();
    assert_eq!(folders, ["movies", "tv", "music", "books", "xxx"]);
}

#[test]
fn reads_the_reference_storage_and_its_defaults() {
    let data = ok(media_storage::ProviderData::from_databag(REF_STORAGE));
    assert_eq!(data.pvc_name.as_str(), media_storage::REFERENCE_PVC_NAME);
    assert_eq!(data.mount_path.as_str(), "/data");
    assert_eq!((data.puid.get(), data.pgid.get()), (1000, 1000));
    assert_eq!(data.to_databag(), REF_STORAGE);
    // Absent optional fields take pydantic's defaults; unknown fields are ignored.
    let minimal = r#"{"pvc_name":"charmarr-shared-media","extra":{"x":[1]}}"#;
    assert_eq!(ok(media_storage::ProviderData::from_databag(minimal)), data);
    let requirer = ok(media_storage::RequirerData::from_databag(
        REF_STORAGE_REQUIRER,
    ));
    assert_eq!(requirer.instance_name.as_str(), "multimeter");
    assert_eq!(requirer.to_databag(), REF_STORAGE_REQUIRER);
}

#[test]
fn null_means_absent_for_the_optional_download_client_fields() {
    // pydantic: `str | None = None` takes an absent key and `null` alike.
    let text = r#"{"api_url":"http://q.m.svc.cluster.local:8080","credentials_secret_id":"secret:d1d2dhg7nlbs73bc9f60","client":"qbittorrent","client_type":"torrent","instance_name":"q"}"#;
    let data = ok(download_client::ProviderData::from_databag(text));
    assert_eq!(data.base_path, None);
    assert_eq!(
        data.to_databag(),
        r#"{"api_url":"http://q.m.svc.cluster.local:8080","api_key_secret_id":null,"credentials_secret_id":"secret:d1d2dhg7nlbs73bc9f60","client":"qbittorrent","client_type":"torrent","instance_name":"q","base_path":null}"#
    );
}

#[test]
fn a_repeated_key_counts_with_its_last_value_as_in_pydantic() {
    // pydantic refuses this one ("Must provide either ..."): the last value is null.
    let text = REF_QBITTORRENT.replace(
        r#""base_path":null"#,
        r#""base_path":null,"credentials_secret_id":null"#,
    );
    assert_eq!(
        download_client::ProviderData::from_databag(&text),
        Err(InvalidField {
            field: "credentials_secret_id",
            problem: Problem::Missing
        })
    );
}

fn set(base: &str, field: &str, value: Option<Value>) -> String {
    let mut object: serde_json::Map<String, Value> = ok(serde_json::from_str(base));
    match value {
        Some(v) => object.insert(field.to_owned(), v),
        None => object.remove(field),
    };
    Value::Object(object).to_string()
}

fn field_of<T: std::fmt::Debug>(r: Result<T, InvalidField>) -> (&'static str, Problem) {
    match r {
        Err(e) => (e.field, e.problem),
        Ok(v) => panic!("accepted: {v:?}"),
    }
}

const S: Problem = Problem::WrongType {
    expected: "a string",
};

fn url(why: &'static str) -> Problem {
    Problem::BadUrl(why)
}
fn secret(why: &'static str) -> Problem {
    Problem::BadSecretId(why)
}
fn path(why: &'static str) -> Problem {
    Problem::BadPath(why)
}

#[test]
#[allow(clippy::too_many_lines)] // One table of cases.
fn each_bad_download_client_provider_field_is_named() {
    let long = format!("http://{}.m.svc.cluster.local:8080", "a".repeat(300));
    let long_host = format!("http://a.m.svc.{}:80", ["b"; 124].join(".")); // 255-character host
    let no_letter = Problem::BadName("a segment after a hyphen has no letter");
    let cases: Vec<(&str, Option<Value>, Problem)> = vec![
        ("api_url", None, Problem::Missing),
        ("api_url", Some(Value::Null), S),
        ("api_url", Some(json!(8080)), S),
        (
            "api_url",
            Some(json!(["http://a.m.svc.cluster.local:1"])),
            S,
        ),
        (
            "api_url",
            Some(json!("")),
            url("the scheme is not http:// or https://"),
        ),
        (
            "api_url",
            Some(json!("javascript:alert(1)")),
            url("the scheme is not http:// or https://"),
        ),
        (
            "api_url",
            Some(json!("ftp://q.m.svc.cluster.local:21")),
            url("the scheme is not http:// or https://"),
        ),
        (
            "api_url",
            Some(json!("HTTP://q.m.svc.cluster.local:8080")),
            url("the scheme is not http:// or https://"),
        ),
        (
            "api_url",
            Some(json!(" http://q.m.svc.cluster.local:8080")),
            url("the scheme is not http:// or https://"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local")),
            url("no port"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local:")),
            url("the port is not 1-65535"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local:0")),
            url("the port is not 1-65535"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local:08080")),
            url("the port is not 1-65535"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local:65536")),
            url("the port is not 1-65535"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local:+80")),
            url("the port is not 1-65535"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local:80 ")),
            url("the port is not 1-65535"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local:8080/")),
            url("has user info, a path, a query or a fragment"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local:8080/api?x#y")),
            url("has user info, a path, a query or a fragment"),
        ),
        (
            "api_url",
            Some(json!("http://u:p@q.m.svc.cluster.local:8080")),
            url("has user info, a path, a query or a fragment"),
        ),
        (
            "api_url",
            Some(json!("http://evil.example@q.m.svc.cluster.local:8080")),
            url("has user info, a path, a query or a fragment"),
        ),
        (
            "api_url",
            Some(json!("http://10.0.0.1:8080")),
            url("the host does not start with a service name"),
        ),
        (
            "api_url",
            Some(json!("http://010.0.0.1:8080")),
            url("the host does not start with a service name"),
        ),
        (
            "api_url",
            Some(json!("http://[::1]:8080")),
            url("the host does not start with a service name"),
        ),
        (
            "api_url",
            Some(json!("http://localhost:8080")),
            url("the host's second label is not a namespace"),
        ),
        (
            "api_url",
            Some(json!("http://evil.example.com:80")),
            url("the host is not <service>.<namespace>.svc.<domain>"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc:8080")),
            url("the cluster domain is not a lower-case DNS name"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local.:8080")),
            url("the cluster domain is not a lower-case DNS name"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.Cluster.local:8080")),
            url("the cluster domain is not a lower-case DNS name"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.clus ter.local:8080")),
            url("the cluster domain is not a lower-case DNS name"),
        ),
        (
            "api_url",
            Some(json!("http://Q.m.svc.cluster.local:8080")),
            url("the host does not start with a service name"),
        ),
        (
            "api_url",
            Some(json!("http://1q.m.svc.cluster.local:8080")),
            url("the host does not start with a service name"),
        ),
        (
            "api_url",
            Some(json!("http://q$(id).m.svc.cluster.local:8080")),
            url("the host does not start with a service name"),
        ),
        (
            "api_url",
            Some(json!("http://q.m;x.svc.cluster.local:8080")),
            url("the host's second label is not a namespace"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local\n:8080")),
            url("the cluster domain is not a lower-case DNS name"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.cluster.local:8080\u{0}")),
            url("the port is not 1-65535"),
        ),
        (
            "api_url",
            Some(json!("http://q.m.svc.clüster.local:8080")),
            url("the cluster domain is not a lower-case DNS name"),
        ),
        ("api_url", Some(json!(long)), url("too long")),
        (
            "api_url",
            Some(json!(long_host)),
            url("the host is longer than 253 characters"),
        ),
        ("credentials_secret_id", None, Problem::Missing),
        ("credentials_secret_id", Some(Value::Null), Problem::Missing),
        ("credentials_secret_id", Some(json!(7)), S),
        (
            "credentials_secret_id",
            Some(json!("")),
            secret("does not start with secret:"),
        ),
        (
            "credentials_secret_id",
            Some(json!("d1d2dhg7nlbs73bc9f60")),
            secret("does not start with secret:"),
        ),
        (
            "credentials_secret_id",
            Some(json!("SECRET:d1d2dhg7nlbs73bc9f60")),
            secret("does not start with secret:"),
        ),
        (
            "credentials_secret_id",
            Some(json!("secret:d1d2dhg7nlbs73bc9f6")),
            secret("the id is not 20 characters of 0-9 and a-v"),
        ),
        (
            "credentials_secret_id",
            Some(json!("secret:d1d2dhg7nlbs73bc9f6w")),
            secret("the id is not 20 characters of 0-9 and a-v"),
        ),
        (
            "credentials_secret_id",
            Some(json!("secret:D1D2DHG7NLBS73BC9F60")),
            secret("the id is not 20 characters of 0-9 and a-v"),
        ),
        (
            "credentials_secret_id",
            Some(json!("secret:d1d2dhg7nlbs73bc9f60\n")),
            secret("the id is not 20 characters of 0-9 and a-v"),
        ),
        (
            "credentials_secret_id",
            Some(json!("secret:../../d1d2dhg7nlbs73b")),
            secret("the id is not 20 characters of 0-9 and a-v"),
        ),
        (
            "credentials_secret_id",
            Some(json!("secret://d1d2dhg7nlbs73bc9f60")),
            secret("no '/' after the model UUID"),
        ),
        (
            "credentials_secret_id",
            Some(json!(
                "secret://4F1A7C2E-9B3D-4E8A-A6C1-2D5E7F9B0C3A/d1d2dhg7nlbs73bc9f60"
            )),
            secret("the model UUID is not lower-case hex 8-4-4-4-12"),
        ),
        (
            "credentials_secret_id",
            Some(json!(
                "secret://4f1a7c2e9b3d4e8aa6c12d5e7f9b0c3a/d1d2dhg7nlbs73bc9f60"
            )),
            secret("the model UUID is not lower-case hex 8-4-4-4-12"),
        ),
        (
            "credentials_secret_id",
            Some(json!(
                "secret://4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a/d1d2dhg7nlbs73bc9f60/1"
            )),
            secret("too long"),
        ),
        (
            "credentials_secret_id",
            Some(json!(format!("secret:{}", "0".repeat(100)))),
            secret("too long"),
        ),
        // Both secret ids, or the one the client does not use.
        (
            "api_key_secret_id",
            Some(json!("secret:d1d2dhg7nlbs73bc9f6g")),
            Problem::SecretNotForClient {
                client: "qbittorrent",
                uses: "credentials_secret_id",
            },
        ),
        (
            "api_key_secret_id",
            Some(json!("")),
            Problem::SecretNotForClient {
                client: "qbittorrent",
                uses: "credentials_secret_id",
            },
        ),
        (
            "api_key_secret_id",
            Some(json!(false)),
            Problem::SecretNotForClient {
                client: "qbittorrent",
                uses: "credentials_secret_id",
            },
        ),
        ("client", None, Problem::Missing),
        ("client", Some(Value::Null), S),
        ("client", Some(json!(1)), S),
        (
            "client",
            Some(json!("deluge")),
            Problem::UnknownValue {
                expected: "one of qbittorrent, sabnzbd",
            },
        ),
        (
            "client",
            Some(json!("qBittorrent")),
            Problem::UnknownValue {
                expected: "one of qbittorrent, sabnzbd",
            },
        ),
        (
            "client",
            Some(json!("qbittorrent ")),
            Problem::UnknownValue {
                expected: "one of qbittorrent, sabnzbd",
            },
        ),
        ("client_type", None, Problem::Missing),
        ("client_type", Some(json!(true)), S),
        (
            "client_type",
            Some(json!("usenet")),
            Problem::ClientTypeMismatch {
                client: "qbittorrent",
                expected: "torrent",
            },
        ),
        (
            "client_type",
            Some(json!("Torrent")),
            Problem::UnknownValue {
                expected: "one of torrent, usenet",
            },
        ),
        (
            "client_type",
            Some(json!("magnet")),
            Problem::UnknownValue {
                expected: "one of torrent, usenet",
            },
        ),
        ("instance_name", None, Problem::Missing),
        ("instance_name", Some(Value::Null), S),
        ("instance_name", Some(json!(["q"])), S),
        ("instance_name", Some(json!("")), Problem::BadName("empty")),
        (
            "instance_name",
            Some(json!("Qbit")),
            Problem::BadName("must start with a lower-case letter"),
        ),
        ("instance_name", Some(json!("qbit-2")), no_letter),
        (
            "instance_name",
            Some(json!("q/../../etc")),
            Problem::BadName("only lower-case letters, digits and hyphens are allowed"),
        ),
        (
            "instance_name",
            Some(json!("q\"; rm -rf /")),
            Problem::BadName("only lower-case letters, digits and hyphens are allowed"),
        ),
        (
            "instance_name",
            Some(json!("a".repeat(64))),
            Problem::BadName("longer than 63 characters"),
        ),
        ("base_path", Some(json!(5)), S),
        ("base_path", Some(json!("")), path("does not start with /")),
        (
            "base_path",
            Some(json!("/")),
            path("the root is written as null"),
        ),
        (
            "base_path",
            Some(json!("sab")),
            path("does not start with /"),
        ),
        (
            "base_path",
            Some(json!("//evil.example")),
            path("has an empty segment (//)"),
        ),
        (
            "base_path",
            Some(json!("/a//b")),
            path("has an empty segment (//)"),
        ),
        (
            "base_path",
            Some(json!("/a/../admin")),
            path("has a . or .. segment"),
        ),
        (
            "base_path",
            Some(json!("/./a")),
            path("has a . or .. segment"),
        ),
        (
            "base_path",
            Some(json!("/a%2e%2e")),
            path("only ASCII letters, digits and -._ are allowed (and ~ in a URL path)"),
        ),
        (
            "base_path",
            Some(json!("/a?x=1")),
            path("only ASCII letters, digits and -._ are allowed (and ~ in a URL path)"),
        ),
        (
            "base_path",
            Some(json!("/a b")),
            path("only ASCII letters, digits and -._ are allowed (and ~ in a URL path)"),
        ),
        (
            "base_path",
            Some(json!("/a\r\nX-Evil: 1")),
            path("only ASCII letters, digits and -._ are allowed (and ~ in a URL path)"),
        ),
        (
            "base_path",
            Some(json!(format!("/{}", "a".repeat(255)))),
            path("longer than 255 bytes"),
        ),
    ];
    for (field, value, problem) in cases {
        let text = set(REF_QBITTORRENT, field, value.clone());
        assert_eq!(
            field_of(download_client::ProviderData::from_databag(&text)),
            (field, problem),
            "{field} = {value:?}"
        );
    }
}

#[test]
fn the_secret_field_follows_the_client() {
    // SABnzbd with credentials instead of an API key, and with both.
    let creds = set(
        REF_SABNZBD,
        "credentials_secret_id",
        Some(json!("secret:d1d2dhg7nlbs73bc9f60")),
    );
    let want = (
        "credentials_secret_id",
        Problem::SecretNotForClient {
            client: "sabnzbd",
            uses: "api_key_secret_id",
        },
    );
    assert_eq!(
        field_of(download_client::ProviderData::from_databag(&creds)),
        want
    );
    let swapped = set(&creds, "api_key_secret_id", None);
    assert_eq!(
        field_of(download_client::ProviderData::from_databag(&swapped)),
        want
    );
    // Neither.
    let neither = set(REF_SABNZBD, "api_key_secret_id", Some(Value::Null));
    assert_eq!(
        field_of(download_client::ProviderData::from_databag(&neither)),
        ("api_key_secret_id", Problem::Missing)
    );
    // A torrent type for SABnzbd (the reference accepts it; its managers would misconfigure).
    let mismatch = set(REF_SABNZBD, "client_type", Some(json!("torrent")));
    assert_eq!(
        field_of(download_client::ProviderData::from_databag(&mismatch)),
        (
            "client_type",
            Problem::ClientTypeMismatch {
                client: "sabnzbd",
                expected: "usenet"
            }
        )
    );
}

#[test]
fn each_bad_manager_field_is_named() {
    let cases: Vec<(&str, Option<Value>, Problem)> = vec![
        ("manager", None, Problem::Missing),
        ("manager", Some(Value::Null), S),
        ("manager", Some(json!(0)), S),
        (
            "manager",
            Some(json!("prowlarr")),
            Problem::UnknownValue {
                expected: "one of radarr, sonarr, lidarr, readarr, whisparr",
            },
        ),
        (
            "manager",
            Some(json!("Radarr")),
            Problem::UnknownValue {
                expected: "one of radarr, sonarr, lidarr, readarr, whisparr",
            },
        ),
        ("instance_name", None, Problem::Missing),
        ("instance_name", Some(json!(1)), S),
        (
            "instance_name",
            Some(json!("radarr/../../x")),
            Problem::BadName("only lower-case letters, digits and hyphens are allowed"),
        ),
        (
            "instance_name",
            Some(json!("radarr\u{7}")),
            Problem::BadName("only lower-case letters, digits and hyphens are allowed"),
        ),
    ];
    for (field, value, problem) in cases {
        let text = set(REF_MANAGER, field, value.clone());
        assert_eq!(
            field_of(download_client::RequirerData::from_databag(&text)),
            (field, problem),
            "{field} = {value:?}"
        );
    }
}

#[test]
#[allow(clippy::too_many_lines)] // One table of cases.
fn each_bad_storage_field_is_named() {
    let range = Problem::OutOfRange {
        min: 1,
        max: 2_147_483_647,
    };
    let int = Problem::WrongType {
        expected: "an integer",
    };
    let chars = "only ASCII letters, digits and -._ are allowed (and ~ in a URL path)";
    let roots = "not /data or beneath /data, /media, /mnt or /srv";
    let name_chars = Problem::BadName("only lower-case letters, digits, '-' and '.' are allowed");
    let cases: Vec<(&str, Option<Value>, Problem)> = vec![
        ("pvc_name", None, Problem::Missing),
        ("pvc_name", Some(Value::Null), S),
        ("pvc_name", Some(json!(5)), S),
        ("pvc_name", Some(json!("")), Problem::BadName("empty")),
        ("pvc_name", Some(json!("Media")), name_chars.clone()),
        ("pvc_name", Some(json!("media_1")), name_chars.clone()),
        (
            "pvc_name",
            Some(json!("../etc")),
            Problem::BadName("empty part between dots"),
        ),
        ("pvc_name", Some(json!("a/b")), name_chars.clone()),
        ("pvc_name", Some(json!("a\nb")), name_chars),
        (
            "pvc_name",
            Some(json!("-media")),
            Problem::BadName("a part starts or ends with a hyphen"),
        ),
        (
            "pvc_name",
            Some(json!("media.")),
            Problem::BadName("empty part between dots"),
        ),
        (
            "pvc_name",
            Some(json!("a".repeat(254))),
            Problem::BadName("longer than 253 characters"),
        ),
        ("mount_path", Some(Value::Null), S),
        ("mount_path", Some(json!(["/data"])), S),
        ("mount_path", Some(json!("")), path("not absolute")),
        ("mount_path", Some(json!("data")), path("not absolute")),
        (
            "mount_path",
            Some(json!("/")),
            path("the root / cannot be a mount path"),
        ),
        (
            "mount_path",
            Some(json!("/data/")),
            path("has an empty segment (//)"),
        ),
        (
            "mount_path",
            Some(json!("//data")),
            path("has an empty segment (//)"),
        ),
        (
            "mount_path",
            Some(json!("/data/../etc")),
            path("has a . or .. segment"),
        ),
        (
            "mount_path",
            Some(json!("/data/./x")),
            path("has a . or .. segment"),
        ),
        (
            "mount_path",
            Some(json!("/data/..")),
            path("has a . or .. segment"),
        ),
        ("mount_path", Some(json!("/data\u{0}")), path(chars)),
        ("mount_path", Some(json!("/data\n/x")), path(chars)),
        ("mount_path", Some(json!("/data/\u{1b}[31m")), path(chars)),
        ("mount_path", Some(json!("/data/my media")), path(chars)),
        ("mount_path", Some(json!("/data/~x")), path(chars)),
        ("mount_path", Some(json!("/dåta")), path(chars)),
        ("mount_path", Some(json!("/usr/bin")), path(roots)),
        ("mount_path", Some(json!("/etc")), path(roots)),
        ("mount_path", Some(json!("/config")), path(roots)),
        ("mount_path", Some(json!("/charm")), path(roots)),
        ("mount_path", Some(json!("/database")), path(roots)),
        (
            "mount_path",
            Some(json!(format!("/data/{}", "a".repeat(250)))),
            path("longer than 255 bytes"),
        ),
        ("puid", Some(Value::Null), int.clone()),
        ("puid", Some(json!("1000")), int.clone()),
        ("puid", Some(json!(1000.0)), int.clone()),
        ("puid", Some(json!(true)), int.clone()),
        ("puid", Some(json!(0)), range.clone()),
        ("puid", Some(json!(-1)), range.clone()),
        ("puid", Some(json!(2_147_483_648_u64)), range.clone()),
        ("puid", Some(json!(u64::MAX)), range.clone()),
        ("puid", Some(json!(1e30)), int.clone()),
        ("pgid", Some(Value::Null), int.clone()),
        ("pgid", Some(json!("0")), int.clone()),
        ("pgid", Some(json!({"gid": 1})), int),
        ("pgid", Some(json!(0)), range.clone()),
        ("pgid", Some(json!(-1000)), range.clone()),
        ("pgid", Some(json!(4_294_967_295_u64)), range),
    ];
    for (field, value, problem) in cases {
        let text = set(REF_STORAGE, field, value.clone());
        assert_eq!(
            field_of(media_storage::ProviderData::from_databag(&text)),
            (field, problem),
            "{field} = {value:?}"
        );
    }
    assert_eq!(
        field_of(media_storage::RequirerData::from_databag(
            r#"{"instance_name":"a b"}"#
        )),
        (
            "instance_name",
            Problem::BadName("only lower-case letters, digits and hyphens are allowed")
        )
    );
}

#[test]
fn accepted_edges() {
    for good in [
        "/data",
        "/data/media",
        "/media",
        "/mnt/nas-1/tv",
        "/srv/a.b_c-d",
    ] {
        assert!(MountPath::parse(good).is_ok(), "{good}");
    }
    for good in ["/sabnzbd", "/sab/", "/a/b.c/~d", "/SAB_1"] {
        assert!(BasePath::parse(good).is_ok(), "{good}");
    }
    for good in [
        "http://q.m.svc.cluster.local:1",
        "https://q-1.m.svc.cluster.local:65535",
        "http://q.1m.svc.a:8080",
    ] {
        assert!(ApiUrl::parse(good).is_ok(), "{good}");
    }
    assert!(PvcName::parse(&["a"; 127].join(".")).is_ok()); // 253 characters
    assert_eq!(Puid::new(1).map(Puid::get), Ok(1));
    assert_eq!(Pgid::new(2_147_483_647).map(Pgid::get), Ok(2_147_483_647));
    assert!(ApiUrl::in_cluster(&app("q"), &ok(Namespace::parse("m")), 0).is_err());
}

#[test]
fn the_whole_value_is_bounded_and_must_be_an_object() {
    let not_object = InvalidField {
        field: "config",
        problem: Problem::NotJsonObject,
    };
    for bad in [
        "",
        "null",
        "[]",
        "\"x\"",
        "{",
        "{\"a\":1}x",
        &"[".repeat(200),
    ] {
        assert_eq!(
            media_storage::ProviderData::from_databag(bad),
            Err(not_object.clone()),
            "{bad}"
        );
        assert_eq!(
            download_client::ProviderData::from_databag(bad),
            Err(not_object.clone()),
            "{bad}"
        );
    }
    let big = format!(
        r#"{{"pvc_name":"a","pad":"{}"}}"#,
        "x".repeat(charmarr_iface::MAX_CONFIG_BYTES)
    );
    assert_eq!(
        media_storage::ProviderData::from_databag(&big).map_err(|e| e.field),
        Err("config")
    );
}
