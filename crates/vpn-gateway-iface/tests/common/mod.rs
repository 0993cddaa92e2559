//! Fixtures shared by the integration tests.
#![allow(dead_code)]

use k8s_openapi::api::apps::v1::StatefulSet;
use serde_json::json;
use vpn_gateway_iface::wire::GatewayInputs;
use vpn_gateway_iface::{AppName, ClusterCidrs, Namespace, Owner, ProviderData, VxlanId};

pub fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

pub fn app(name: &str) -> AppName {
    ok(AppName::parse(name))
}

pub fn owner(name: &str, field_manager: &'static str) -> Owner {
    Owner {
        app: app(name),
        namespace: ok(Namespace::parse("charmarr-downloads")),
        field_manager,
    }
}

/// What the gateway `vpnarr` publishes.
pub fn provider_data() -> ProviderData {
    ok(ProviderData::for_gateway(&GatewayInputs {
        app: &app("vpnarr"),
        model: &ok(Namespace::parse("charmarr-downloads")),
        vxlan_id: ok(VxlanId::new(42_u32)),
        cluster_cidrs: &ok(ClusterCidrs::parse("10.1.0.0/16,10.152.183.0/24")),
        cluster_dns_ip: ok("10.152.183.10".parse()),
        vpn_connected: true,
        external_ip: Some(ok("203.0.113.7".parse())),
    }))
}

/// A StatefulSet shaped like the one Juju 3.6 makes for a sidecar charm, as the API server
/// stores it (defaults filled in).
pub fn juju_statefulset(app: &str, workload: &str) -> StatefulSet {
    let container = |name: &str, image: &str| {
        json!({
            "name": name, "image": image,
            "command": ["/charm/bin/pebble"],
            "args": ["run", "--create-dirs", "--hold", "--http", ":38813", "--verbose"],
            "env": [{"name": "JUJU_CONTAINER_NAME", "value": name}],
            "volumeMounts": [{"name": "charm-data", "mountPath": "/charm/bin", "subPath": "charm/bin", "readOnly": true}],
            "imagePullPolicy": "IfNotPresent",
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        })
    };
    ok(serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": app, "namespace": "charmarr-downloads", "resourceVersion": "4711",
            "annotations": {"juju.is/version": "3.6.12", "app.juju.is/uuid": "b0b1"},
            "labels": {"app.kubernetes.io/managed-by": "juju", "app.kubernetes.io/name": app},
        },
        "spec": {
            "replicas": 1,
            "serviceName": format!("{app}-endpoints"),
            "podManagementPolicy": "Parallel",
            "revisionHistoryLimit": 10,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": {
                "metadata": {
                    "labels": {"app.kubernetes.io/name": app},
                    "annotations": {"juju.is/version": "3.6.12"},
                },
                "spec": {
                    "serviceAccountName": app,
                    "automountServiceAccountToken": true,
                    "restartPolicy": "Always",
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {},
                    "initContainers": [{
                        "name": "charm-init", "image": "ghcr.io/juju/jujud-operator:3.6.12",
                        "command": ["/opt/containeragent"],
                        "args": ["init", "--containeragent-pebble-dir", "/containeragent/pebble"],
                        "imagePullPolicy": "IfNotPresent",
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                    }],
                    "containers": [
                        container("charm", "ghcr.io/juju/charm-base:ubuntu-24.04"),
                        container(workload, &format!("registry.example/{workload}:1")),
                    ],
                    "volumes": [{"name": "charm-data", "emptyDir": {}}],
                },
            },
        },
    })))
}
