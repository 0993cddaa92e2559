//! The kill switch (docs/interface.md §4): a NetworkPolicy that lets the client pod reach
//! only the cluster CIDRs, in-cluster pods (by namespace, for CNIs that match pods by
//! identity; the cluster DNS is one of them) and the API server's real endpoints (for CNIs that enforce
//! after the Service's DNAT; [`crate::api_server`]); and, where Cilium's CRD exists, a
//! CiliumNetworkPolicy letting the charm reach the API server (Cilium matches it by identity,
//! not by CIDR).

use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use crate::api_server::ApiServerEndpoints;
use crate::cidrs::ClusterCidrs;
use crate::owner::Owner;
use crate::types::AppName;

/// The CRD whose presence means Cilium enforces policy here.
pub const CILIUM_CRD: &str = "ciliumnetworkpolicies.cilium.io";
/// API version of the CiliumNetworkPolicy.
pub const CILIUM_API_VERSION: &str = "cilium.io/v2";
/// Kind of the CiliumNetworkPolicy.
pub const CILIUM_KIND: &str = "CiliumNetworkPolicy";

/// `<app>-vpn-killswitch`.
pub fn network_policy_name(app: &AppName) -> String {
    format!("{app}-vpn-killswitch")
}

/// `<app>-vpn-killswitch-cilium`.
pub fn cilium_policy_name(app: &AppName) -> String {
    format!("{app}-vpn-killswitch-cilium")
}

/// The kill-switch NetworkPolicy, for server-side apply: egress only, one `ipBlock` rule per
/// cluster CIDR, one rule to every namespace (the cluster DNS among them: no rule of its
/// own since the pod resolves through the gateway, ADR 0040), and, when `api_server` is not
/// empty, one to its addresses (each `/32` or `/128`) on its
/// TCP ports.
pub fn network_policy(
    owner: &Owner,
    cidrs: &ClusterCidrs,
    api_server: &ApiServerEndpoints,
) -> NetworkPolicy {
    let mut egress: Vec<NetworkPolicyEgressRule> = cidrs
        .as_slice()
        .iter()
        .map(|cidr| NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: cidr.to_string(),
                    ..IPBlock::default()
                }),
                ..NetworkPolicyPeer::default()
            }]),
            ..NetworkPolicyEgressRule::default()
        })
        .collect();
    egress.push(NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector::default()),
            ..NetworkPolicyPeer::default()
        }]),
        ..NetworkPolicyEgressRule::default()
    });
    if !api_server.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(
                api_server
                    .addresses()
                    .map(|ip| NetworkPolicyPeer {
                        ip_block: Some(IPBlock {
                            cidr: IpNet::from(ip).to_string(),
                            ..IPBlock::default()
                        }),
                        ..NetworkPolicyPeer::default()
                    })
                    .collect(),
            ),
            ports: Some(
                api_server
                    .ports()
                    .map(|port| NetworkPolicyPort {
                        protocol: Some("TCP".to_owned()),
                        port: Some(IntOrString::Int(i32::from(port))),
                        ..NetworkPolicyPort::default()
                    })
                    .collect(),
            ),
        });
    }
    NetworkPolicy {
        metadata: owner.metadata(network_policy_name(&owner.app)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(owner.pod_selector_labels()),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Egress".to_owned()]),
            egress: Some(egress),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// The CiliumNetworkPolicy granting egress to the `kube-apiserver` entity, for server-side
/// apply (a custom resource, so plain JSON).
pub fn cilium_policy(owner: &Owner) -> Value {
    json!({
        "apiVersion": CILIUM_API_VERSION,
        "kind": CILIUM_KIND,
        "metadata": {
            "name": cilium_policy_name(&owner.app),
            "namespace": owner.namespace.as_str(),
            "labels": owner.labels(),
        },
        "spec": {
            "endpointSelector": { "matchLabels": owner.pod_selector_labels() },
            "egress": [ { "toEntities": ["kube-apiserver"] } ],
        },
    })
}
