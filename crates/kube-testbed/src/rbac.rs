//! [`AppRbac`]: the names of the Kubernetes RBAC objects Juju 3.6 makes for an application,
//! the one place the test cluster ([`crate::Cluster::add_app`], [`crate::Cluster::trust`]) and
//! the Juju simulator take them from.

/// The ServiceAccount, Role, RoleBinding, ClusterRole and ClusterRoleBinding Juju 3.6 makes for
/// application `app` of the model whose namespace is `namespace`.
///
/// What Juju does, as read in juju/juju's 3.6 series, whose Kubernetes provider lives under
/// `caas/kubernetes/provider/` (main moved it to `internal/provider/kubernetes/`):
/// `application/application.go` at commit c0a0fe58 (the version that knows 3.6.8), functions
/// `applyServiceAccountAndSecrets`, `serviceAccountName`, `qualifiedClusterName`,
/// `ApplicationPodSpec`, `Upgrade` and `Exists`; `application/trust.go`, functions `Trust`,
/// `applyRoles`, `applyClusterRoles`, `roleRules` and `clusterRoleRules`; and the broker's
/// `Application` in `application.go`, which hands the application the model's name.
/// - On deploy (`Ensure`) it applies five objects, trusted or not, all labelled and annotated
///   like the application's other objects:
///   - ServiceAccount `<app>` in the namespace; the pod template's `serviceAccountName`, so
///     the charm's API user is `system:serviceaccount:<namespace>:<app>`;
///   - Role `<app>` in the namespace; untrusted rules: get/list on the model's own
///     `namespaces/<namespace>`, get/list/patch on `pods` and `services`, create on
///     `pods/exec`; trusted: every verb on every resource of every API group;
///   - RoleBinding `<app>`: Role `<app>` to ServiceAccount `<namespace>/<app>`;
///   - ClusterRole `<model>-<app>`; untrusted rules: get/list on `namespaces`; trusted: every
///     verb on every resource;
///   - ClusterRoleBinding `<model>-<app>`: ClusterRole `<model>-<app>` to the same
///     ServiceAccount.
/// - `juju trust` (and `juju deploy --trust`, through the same rule choice) creates and deletes
///   nothing: it rewrites the rules of Role `<app>` and ClusterRole `<model>-<app>` to full
///   access, and back to the defaults when trust is removed.
/// - `<model>` is the model's name. A workload model's namespace is its name (only the
///   controller model's differs), so the cluster-scoped names here are `<namespace>-<app>`.
///
/// What the testbed does with these names (simplified; docs/adr/0017 and 0019): the
/// ServiceAccount, Role and RoleBinding under Juju's names, with the untrusted rules minus the
/// `namespaces` get/list; no ClusterRole; trust is ClusterRoleBinding
/// [`Self::cluster_role_binding`] to `cluster-admin`, removed again by untrust. So
/// `kubectl get clusterrolebinding <model>-<app>` finds it under Juju's name, while its
/// `roleRef` differs from Juju's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppRbac<'a> {
    /// The namespace (the model's name).
    pub namespace: &'a str,
    /// The application's name.
    pub app: &'a str,
}

impl<'a> AppRbac<'a> {
    /// The objects of application `app` in namespace `namespace`.
    pub fn new(namespace: &'a str, app: &'a str) -> Self {
        Self { namespace, app }
    }

    /// The ServiceAccount: `<app>` (Juju's `serviceAccountName`).
    pub fn service_account(&self) -> &'a str {
        self.app
    }

    /// The user the API server sees for the ServiceAccount's tokens:
    /// `system:serviceaccount:<namespace>:<app>`.
    pub fn username(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace,
            self.service_account()
        )
    }

    /// The Role in the namespace: `<app>`, named after the ServiceAccount.
    pub fn role(&self) -> &'a str {
        self.service_account()
    }

    /// The RoleBinding in the namespace: `<app>`, named after the ServiceAccount.
    pub fn role_binding(&self) -> &'a str {
        self.service_account()
    }

    /// The ClusterRole: `<model>-<app>` (Juju's `qualifiedClusterName`). The testbed does not
    /// create it.
    pub fn cluster_role(&self) -> String {
        format!("{}-{}", self.namespace, self.app)
    }

    /// The ClusterRoleBinding: `<model>-<app>`, named like the ClusterRole. On the testbed it
    /// exists only while the application is trusted, and binds `cluster-admin`.
    pub fn cluster_role_binding(&self) -> String {
        self.cluster_role()
    }
}

#[cfg(test)]
mod tests {
    use super::AppRbac;

    #[test]
    fn names_as_juju_3_6_makes_them() {
        let rbac = AppRbac::new("downloads", "vpnarr");
        assert_eq!(
            (
                rbac.service_account(),
                rbac.role(),
                rbac.role_binding(),
                rbac.cluster_role().as_str(),
                rbac.cluster_role_binding().as_str(),
                rbac.username().as_str(),
            ),
            (
                "vpnarr",
                "vpnarr",
                "vpnarr",
                "downloads-vpnarr",
                "downloads-vpnarr",
                "system:serviceaccount:downloads:vpnarr",
            )
        );
    }
}
