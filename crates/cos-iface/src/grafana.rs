//! `grafana_dashboard`, provider side (`grafana-dashboard`): what `GrafanaDashboardProvider`
//! (grafana_k8s v0, LIBPATCH 49, with cosl 1.9) writes.
//!
//! One application databag key, [`DASHBOARDS_KEY`], holding
//! `{"templates": {<id>: <template>, ...}, "uuid": <random uuid4>}` as Python `json.dumps`
//! text. A template is `{"charm", "content", "juju_topology", "inject_dropdowns",
//! "dashboard_alt_uid"}` ([`dashboards_json`]). `content` is the dashboard JSON, with its
//! `uid` and a `charm: <charm>` tag set, XZ-compressed (`lzma.compress`) and base64-encoded.
//!
//! A charm's dashboards are files it ships, so everything in a template but the topology is
//! known when the charm is built: [`PreparedDashboard`] is made at build time (with the
//! `prepare` feature, [`prepare`]) and the charm binary embeds it, linking no compressor.

use serde::Serialize;
use vpn_gateway_iface::AppName;

use crate::json::Ordered;
use crate::pyjson;
use crate::topology::Topology;

/// The application databag key.
pub const DASHBOARDS_KEY: &str = "dashboards";

/// A dashboard ready to send: everything of its template but the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedDashboard {
    /// The template id, `file:<file stem>` (`file:gluetun` for `gluetun.json`).
    pub id: String,
    /// `content`: base64 of the XZ-compressed dashboard JSON.
    pub content: String,
    /// `dashboard_alt_uid`: `shake_256("<charm>-<id>").hexdigest(8)`.
    pub alt_uid: String,
}

/// The random `uuid` of the envelope, which makes every write a change (the library writes a
/// fresh `uuid4()` each time). Made from 16 random bytes the charm draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeUuid(String);

impl EnvelopeUuid {
    /// A version 4 UUID, as Python's `str(uuid.uuid4())`, from `bytes`.
    pub fn from_random(mut bytes: [u8; 16]) -> Self {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex = crate::grafana::hex(&bytes);
        Self(format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        ))
    }

    /// The UUID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Serialize)]
struct Template<'a> {
    charm: &'a str,
    content: &'a str,
    juju_topology: MaybeTopology<'a>,
    inject_dropdowns: bool,
    dashboard_alt_uid: &'a str,
}

/// The `dashboards` value. `juju_topology` is the model, model UUID, application and unit
/// (no charm name) when `inject_dropdowns`, `{}` otherwise; the reference charms use the
/// default, `true`. A later template with the same id replaces an earlier one.
pub fn dashboards_json(
    charm: &AppName,
    topology: &Topology,
    dashboards: &[PreparedDashboard],
    inject_dropdowns: bool,
    uuid: &EnvelopeUuid,
) -> String {
    let mut templates: Vec<(&str, Template<'_>)> = Vec::new();
    for d in dashboards {
        let template = Template {
            charm: charm.as_str(),
            content: &d.content,
            juju_topology: MaybeTopology(inject_dropdowns.then(|| topology.as_grafana_dict())),
            inject_dropdowns,
            dashboard_alt_uid: &d.alt_uid,
        };
        if let Some(slot) = templates.iter_mut().find(|(id, _)| *id == d.id) {
            slot.1 = template;
        } else {
            templates.push((&d.id, template));
        }
    }
    pyjson::dumps(&Envelope {
        templates: Ordered(&templates),
        uuid: uuid.as_str(),
    })
}

#[derive(Serialize)]
struct Envelope<'a> {
    templates: Ordered<'a, Template<'a>>,
    uuid: &'a str,
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The topology, or `{}` (what the library writes without dropdowns).
struct MaybeTopology<'a>(Option<crate::topology::TopologyDict<'a>>);

impl Serialize for MaybeTopology<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match &self.0 {
            Some(topology) => topology.serialize(serializer),
            None => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

#[cfg(feature = "prepare")]
pub use prepare::{PrepareError, decode_content, prepare};

#[cfg(feature = "prepare")]
mod prepare {
    //! Build-time preparation: what `CharmedDashboard.load_dashboards_from_dir` does to a file.

    use std::io::{Read, Write};

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use sha3::Shake256;
    use sha3::digest::{ExtendableOutput, Update, XofReader};

    use super::PreparedDashboard;
    use crate::pyjson::{self, PyValue};

    /// Why a dashboard file cannot be prepared (our own file: a build error).
    #[derive(Debug, thiserror::Error)]
    pub enum PrepareError {
        /// Not JSON (the library logs and skips such a file).
        #[error("the dashboard is not JSON: {0}")]
        NotJson(#[from] serde_json::Error),
        /// Valid JSON but not an object, or `uid`/`tags` of a type the library would crash on.
        #[error("the dashboard is not acceptable: {0}")]
        Shape(&'static str),
        /// Compression failed (it does not, into memory).
        #[error("cannot compress: {0}")]
        Io(#[from] std::io::Error),
        /// `content` is not base64 of XZ of UTF-8.
        #[error("the content cannot be decoded: {0}")]
        Decode(&'static str),
    }

    /// `shake_256(text).hexdigest(n)`.
    fn shake_hex(text: &str, n: usize) -> String {
        let mut h = Shake256::default();
        h.update(text.as_bytes());
        let mut out = vec![0u8; n];
        h.finalize_xof().read(&mut out);
        crate::grafana::hex(&out)
    }

    /// `DashboardPath40UID.is_valid`: 40 characters that unhexlify.
    fn is_path40(uid: &str) -> bool {
        uid.len() == 40 && uid.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// Prepares the dashboard file `json` of charm `charm_name` (the `name` in charmcraft.yaml),
    /// found at `rel_path` relative to the charm's root (`src/grafana_dashboards/gluetun.json`
    /// in the reference charms). A charm that replaces a Python one must pass the Python
    /// charm's path: it determines the dashboard's `uid`, and so whether Grafana replaces the
    /// dashboard on refresh or shows a second one.
    ///
    /// As the library: a `uid` that is not already a 40-hex-digit one becomes
    /// `shake_256("<charm>-<rel_path>").hexdigest(20)`; a `charm: <charm>` tag is appended
    /// unless some tag starts with `charm: `; the result is written with `json.dumps` (key
    /// order kept), XZ-compressed at preset 6 with a CRC64 check and base64-encoded.
    pub fn prepare(
        charm_name: &str,
        rel_path: &str,
        json: &str,
    ) -> Result<PreparedDashboard, PrepareError> {
        let mut dashboard: PyValue = serde_json::from_str(json)?;
        let PyValue::Object(fields) = &mut dashboard else {
            return Err(PrepareError::Shape("not a JSON object"));
        };
        let keep_uid = match fields.iter().find(|(k, _)| k == "uid") {
            None | Some((_, PyValue::Null)) => false,
            Some((_, PyValue::String(uid))) => is_path40(uid),
            Some(_) => return Err(PrepareError::Shape("uid is not a string")),
        };
        if !keep_uid {
            let uid = shake_hex(&format!("{charm_name}-{rel_path}"), 20);
            set(fields, "uid", PyValue::String(uid));
        }
        let mut tags = match fields.iter().find(|(k, _)| k == "tags") {
            None => Vec::new(),
            Some((_, PyValue::Array(tags))) => tags.clone(),
            Some(_) => return Err(PrepareError::Shape("tags is not a list")),
        };
        let mut has_charm_tag = false;
        for tag in &tags {
            let PyValue::String(tag) = tag else {
                return Err(PrepareError::Shape("a tag is not a string"));
            };
            has_charm_tag |= tag.starts_with("charm: ");
        }
        if !has_charm_tag {
            tags.push(PyValue::String(format!("charm: {charm_name}")));
        }
        set(fields, "tags", PyValue::Array(tags));

        let text = pyjson::dumps(&dashboard);
        let mut xz = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6))?;
        xz.write_all(text.as_bytes())?;
        let compressed = xz.finish()?;
        let file_name = rel_path.rsplit('/').next().unwrap_or(rel_path);
        let id = format!("file:{}", stem(file_name));
        Ok(PreparedDashboard {
            alt_uid: shake_hex(&format!("{charm_name}-{id}"), 8),
            id,
            content: STANDARD.encode(compressed),
        })
    }

    /// Python's `PurePath.stem`: the name without its last suffix (`a.json.tmpl` → `a.json`).
    fn stem(name: &str) -> &str {
        match name.rfind('.') {
            Some(0) | None => name,
            Some(dot) => &name[..dot],
        }
    }

    /// Python's `d[key] = value`: replaces in place, or appends.
    fn set(fields: &mut Vec<(String, PyValue)>, key: &str, value: PyValue) {
        if let Some(slot) = fields.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value;
        } else {
            fields.push((key.to_owned(), value));
        }
    }

    /// `LZMABase64.decompress`: base64, then XZ, then UTF-8. For tests and tools.
    pub fn decode_content(content: &str) -> Result<String, PrepareError> {
        let compressed = STANDARD
            .decode(content)
            .map_err(|_| PrepareError::Decode("not base64"))?;
        let mut text = String::new();
        lzma_rust2::XzReader::new(&compressed[..], false)
            .read_to_string(&mut text)
            .map_err(|_| PrepareError::Decode("not XZ of UTF-8"))?;
        Ok(text)
    }
}
