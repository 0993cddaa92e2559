//! JSON decoding, all of it through one deserializer instantiation (docs/adr/0024, 0026):
//! the API's answers, manifests read from files, values built in code.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::Failure;

/// An answer's body, decoded as `K`.
pub(super) fn decode<K: DeserializeOwned>(body: &[u8]) -> Result<K, Failure> {
    serde_json::from_slice(body).map_err(Failure::Decode)
}

/// Parses a Kubernetes object from its JSON text (`kubectl get -o json`).
///
/// Every typed decode goes through `serde_json::from_slice`, the same instantiation the API
/// responses use: each further deserializer (a `&str` reader, `serde_json::Value`, YAML)
/// would compile the whole k8s-openapi type tree once more into the charm binary (several
/// hundred KiB each for a StatefulSet). For the same reason the charm binaries read no YAML
/// at all (docs/adr/0024).
pub fn parse_manifest<K: DeserializeOwned>(text: &str) -> Result<K, serde_json::Error> {
    serde_json::from_slice(text.as_bytes())
}

/// `serde_json::from_value` through bytes, for the reason given on [`parse_manifest`].
pub fn from_json_value<K: DeserializeOwned>(value: &Value) -> Result<K, serde_json::Error> {
    serde_json::from_slice(&serde_json::to_vec(value)?)
}
