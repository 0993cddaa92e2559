//! Who owns the objects we write: the application, its namespace (the Juju model) and the
//! field manager (the charm's name), and the labels every wholly-owned object carries.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::types::{AppName, Namespace};

/// Label naming the application (Juju puts the same label on the application's pods).
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
/// Label naming the field manager that writes the object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// The application whose objects we build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The Juju application (also the StatefulSet's name).
    pub app: AppName,
    /// The namespace (the Juju model's name).
    pub namespace: Namespace,
    /// The field manager for server-side apply and patches; also the `managed-by` label.
    pub field_manager: &'static str,
}

impl Owner {
    /// `app.kubernetes.io/name: <app>` and `app.kubernetes.io/managed-by: <field manager>`.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (NAME_LABEL.to_owned(), self.app.to_string()),
            (MANAGED_BY_LABEL.to_owned(), self.field_manager.to_owned()),
        ])
    }

    /// Metadata of a wholly-owned object named `name`.
    pub(crate) fn metadata(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.to_string()),
            labels: Some(self.labels()),
            ..ObjectMeta::default()
        }
    }

    /// `app.kubernetes.io/name: <app>` alone: the selector of the application's pods.
    pub(crate) fn pod_selector_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(NAME_LABEL.to_owned(), self.app.to_string())])
    }
}
