//! The labels of a namespace: what Pod Security Admission enforces there is one of them
//! (`vpn_gateway_iface::pod_security`). Read as a view with only the labels (docs/adr/0026).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use serde::Deserialize;

use super::{Kube, KubeError};

/// The part of a Namespace we read.
#[derive(Deserialize)]
struct Labelled {
    metadata: Option<Metadata>,
}

/// See [`Labelled`].
#[derive(Deserialize)]
struct Metadata {
    labels: Option<BTreeMap<String, String>>,
}

impl Kube {
    /// The labels of namespace `name`; empty when it has none or does not exist (a namespace
    /// that is not there enforces nothing; the write that follows fails on its own).
    pub async fn namespace_labels(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, String>, KubeError> {
        let namespace = self
            .api::<Namespace>()
            .cluster_scoped()
            .view::<Labelled>()
            .get(name)
            .await?;
        Ok(namespace
            .and_then(|n| n.metadata)
            .and_then(|m| m.labels)
            .unwrap_or_default())
    }
}
