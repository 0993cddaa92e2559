//! Pod Security Admission: whether the model's namespace lets the pods our patches make run.
//!
//! Both sides add containers that need `NET_ADMIN` (the client's routing init container and
//! sidecar, the gateway's VXLAN gateway) or run privileged. Only the `privileged` Pod Security
//! level allows that; `baseline` and `restricted` refuse such pods when the StatefulSet
//! controller creates them, after the patch was accepted: the old pod is gone, the new one
//! never starts, and the charm's own container (in the same pod) cannot come back to undo it.
//! So a charm reads the namespace's `enforce` label before patching and, when it refuses our
//! pods, patches nothing and stays Blocked naming the label and the fix.
//!
//! The label is read as the admission plugin reads it (k8s.io/pod-security-admission,
//! `api.PolicyToEvaluate`): a value it cannot parse counts as `restricted`. Without the label
//! the cluster's default applies, which a charm cannot see (it is the API server's admission
//! configuration); the README says so.

use std::collections::BTreeMap;

/// The namespace label naming the enforced level.
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";

/// A Pod Security Standard level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Unrestricted: our pods run.
    Privileged,
    /// Forbids privileged containers and capabilities beyond the default set (`NET_ADMIN`).
    Baseline,
    /// Baseline and more.
    Restricted,
}

impl Level {
    /// The label value, as the admission plugin parses it: anything else is `restricted`.
    pub fn parse(value: &str) -> Self {
        match value {
            "privileged" => Self::Privileged,
            "baseline" => Self::Baseline,
            _ => Self::Restricted,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Privileged => "privileged",
            Self::Baseline => "baseline",
            Self::Restricted => "restricted",
        }
    }
}

/// The level the namespace's labels enforce; `None` without the label (the cluster's default
/// applies, unknown to us).
pub fn enforced_level(labels: &BTreeMap<String, String>) -> Option<Level> {
    labels.get(ENFORCE_LABEL).map(|value| Level::parse(value))
}

/// The Blocked message when namespace `namespace` (already a validated name) enforces a level
/// that refuses our pods; `None` when they may run (or the level is not set on it).
pub fn refusal(namespace: &str, labels: &BTreeMap<String, String>) -> Option<String> {
    match enforced_level(labels)? {
        Level::Privileged => None,
        level => Some(format!(
            "namespace {namespace} enforces Pod Security level {} ({ENFORCE_LABEL}); the VPN \
             routing needs NET_ADMIN: kubectl label namespace {namespace} \
             {ENFORCE_LABEL}=privileged --overwrite",
            level.as_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(value: Option<&str>) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([("kubernetes.io/metadata.name".into(), "m".into())]);
        if let Some(value) = value {
            labels.insert(ENFORCE_LABEL.into(), value.into());
        }
        labels
    }

    #[test]
    fn only_privileged_or_unset_lets_our_pods_run() {
        assert_eq!(refusal("m", &labels(None)), None);
        assert_eq!(refusal("m", &labels(Some("privileged"))), None);
        for (value, level) in [
            ("baseline", "baseline"),
            ("restricted", "restricted"),
            // The admission plugin reads what it cannot parse as restricted.
            ("Privileged", "restricted"),
            ("", "restricted"),
            ("privileged ", "restricted"),
        ] {
            let message = refusal("m", &labels(Some(value))).expect(value);
            assert!(
                message.starts_with(&format!("namespace m enforces Pod Security level {level} ")),
                "{value:?}: {message}"
            );
            assert!(message.ends_with("=privileged --overwrite"), "{message}");
        }
    }

    #[test]
    fn other_modes_do_not_refuse() {
        let warn_only = BTreeMap::from([
            (
                "pod-security.kubernetes.io/warn".to_owned(),
                "restricted".to_owned(),
            ),
            (
                "pod-security.kubernetes.io/audit".to_owned(),
                "baseline".to_owned(),
            ),
        ]);
        assert_eq!(refusal("m", &warn_only), None);
    }
}
