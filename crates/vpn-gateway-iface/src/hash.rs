//! The config hash put on the pod template, so a settings change restarts the pod.
//!
//! First 8 hex digits of SHA-256 over the ConfigMap data rendered as the concatenation of
//! `key=value` in key order, with no separator between entries: the reference's algorithm,
//! byte for byte (keys sort the same by UTF-8 bytes as by Python's code points).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ring::digest::{SHA256, digest};

/// The 8-hex-digit hash of ConfigMap `data`.
pub fn config_hash(data: &BTreeMap<String, String>) -> String {
    let mut content = String::new();
    for (key, value) in data {
        content.push_str(key);
        content.push('=');
        content.push_str(value);
    }
    let sum = digest(&SHA256, content.as_bytes());
    let mut hex = String::with_capacity(8);
    for byte in sum.as_ref().iter().take(4) {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}
