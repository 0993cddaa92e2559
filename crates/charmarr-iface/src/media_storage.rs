//! The `media-storage` relation (docs/charmarr-relations.md §3): charmarr-storage-k8s
//! provides the shared PersistentVolumeClaim and the ids every workload runs as; the download
//! clients and media managers require it. Each side's leader writes its application databag
//! key `config`.
//!
//! Wire-compatible with `charmarr-lib-core` 0.18.0 and 1.0.0 (identical there):
//! `MediaStorageProviderData` and `MediaStorageRequirerData`.

use serde::Serialize;
use vpn_gateway_iface::AppName;

use crate::error::{InvalidField, Problem};
use crate::json::{self, defaulted, integer, required, string};
use crate::types::{MountPath, Pgid, Puid, PvcName};

/// The claim charmarr-storage-k8s creates and publishes.
pub const REFERENCE_PVC_NAME: &str = "charmarr-shared-media";
/// The volume name the reference clients give the claim in their pod template (the
/// reference's `reconcile_storage_volume` default).
pub const VOLUME_NAME: &str = "charmarr-shared-data";

/// What the storage provider publishes, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderData {
    /// The shared claim, in the provider's namespace (the same model as the requirer).
    pub pvc_name: PvcName,
    /// Where to mount it; absent on the wire means `/data`.
    pub mount_path: MountPath,
    /// User id for the workloads; absent on the wire means 1000.
    pub puid: Puid,
    /// Group id (and `fsGroup`); absent on the wire means 1000.
    pub pgid: Pgid,
}

impl ProviderData {
    /// Reads and validates a provider's `config` value. Absent `mount_path`, `puid`, `pgid`
    /// take the reference's defaults; `null` for them is refused (pydantic refuses it too).
    pub fn from_databag(text: &str) -> Result<Self, InvalidField> {
        let fields = json::object(text)?;
        Ok(Self {
            pvc_name: required(&fields, "pvc_name", |v| string(v).and_then(PvcName::parse))?,
            mount_path: defaulted(&fields, "mount_path", |v| {
                string(v).and_then(MountPath::parse)
            })?
            .unwrap_or_default(),
            puid: defaulted(&fields, "puid", |v| integer(v).and_then(Puid::new))?
                .unwrap_or(Puid::DEFAULT),
            pgid: defaulted(&fields, "pgid", |v| integer(v).and_then(Pgid::new))?
                .unwrap_or(Pgid::DEFAULT),
        })
    }

    /// The `config` value to write: all four fields in the reference's order, compact JSON
    /// (byte-identical to pydantic's `model_dump_json`).
    pub fn to_databag(&self) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            pvc_name: &'a str,
            mount_path: &'a str,
            puid: u32,
            pgid: u32,
        }
        let wire = Wire {
            pvc_name: self.pvc_name.as_str(),
            mount_path: self.mount_path.as_str(),
            puid: self.puid.get(),
            pgid: self.pgid.get(),
        };
        serde_json::to_string(&wire).expect("plain struct serialises")
    }
}

/// What a storage requirer may publish, validated. The reference download clients and media
/// managers publish nothing on this relation; only charmarr-multimeter-k8s writes it, and
/// the provider reads it only to list who is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirerData {
    /// The requirer's application name.
    pub instance_name: AppName,
}

impl RequirerData {
    /// Reads and validates a requirer's `config` value.
    pub fn from_databag(text: &str) -> Result<Self, InvalidField> {
        let fields = json::object(text)?;
        Ok(Self {
            instance_name: required(&fields, "instance_name", |v| {
                string(v).and_then(|s| AppName::parse(s).map_err(Problem::from))
            })?,
        })
    }

    /// The `config` value to write: `{"instance_name":"<app>"}`.
    pub fn to_databag(&self) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            instance_name: &'a str,
        }
        serde_json::to_string(&Wire {
            instance_name: self.instance_name.as_str(),
        })
        .expect("plain struct serialises")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn readers_are_total(text in ".{0,400}") {
            let _ = ProviderData::from_databag(&text);
            let _ = RequirerData::from_databag(&text);
        }

        #[test]
        fn whatever_we_build_reads_back(
            pvc in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
            root in proptest::sample::select(MountPath::ROOTS.to_vec()),
            sub in proptest::option::of("[A-Za-z0-9_-][A-Za-z0-9._-]{0,10}"),
            puid in 1_u32..=crate::MAX_ID,
            pgid in 1_u32..=crate::MAX_ID,
        ) {
            let path = match sub {
                Some(s) if s != "." && s != ".." => format!("/{root}/{s}"),
                _ => format!("/{root}"),
            };
            let data = ProviderData {
                pvc_name: PvcName::parse(&pvc).unwrap(),
                mount_path: MountPath::parse(&path).unwrap(),
                puid: Puid::new(puid).unwrap(),
                pgid: Pgid::new(pgid).unwrap(),
            };
            prop_assert_eq!(ProviderData::from_databag(&data.to_databag()), Ok(data));
        }
    }
}
