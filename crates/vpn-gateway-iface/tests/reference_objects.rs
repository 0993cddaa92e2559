//! Our StatefulSet patches and kill-switch objects against what the reference builds for
//! the same inputs (`tests/reference/objects.json`): same names, same container specs, same
//! policy specs, so objects the reference made are adopted rather than duplicated.

mod common;

use common::{app, ok, owner, provider_data};
use serde_json::Value;
use vpn_gateway_iface::client::{client_additions, client_owned_names};
use vpn_gateway_iface::gateway::gateway_additions;
use vpn_gateway_iface::killswitch::{cilium_policy, network_policy};

fn reference(key: &str) -> Value {
    let all: Value = ok(serde_json::from_str(include_str!("reference/objects.json")));
    all[key].clone()
}

fn without_metadata(mut patch: Value) -> Value {
    patch.as_object_mut().map(|m| m.remove("metadata"));
    patch
}

#[test]
fn gateway_patch_is_the_references_plus_gluetun_privileged() {
    let data = provider_data();
    // The gateway's own cluster CIDRs (its config), not the published list.
    let settings = vpn_gateway_iface::settings::GatewaySettings::new(
        data.vxlan,
        &ok(vpn_gateway_iface::ClusterCidrs::parse(
            "10.1.0.0/16,10.152.183.0/24",
        )),
    );
    let mut ours = without_metadata(gateway_additions(&app("vpnarr"), &settings).add_patch("1"));
    let mut theirs = reference("gateway_patch");
    // Our settings.sh sets more than the reference's (ADR 0038): the hash differs, the rest
    // is the reference's.
    let hash = "/spec/template/metadata/annotations/charmarr.io~1gateway-config-hash";
    assert_eq!(ours.pointer(hash).and_then(Value::as_str), Some("e547211b"));
    for patch in [&mut ours, &mut theirs] {
        *patch
            .pointer_mut(hash)
            .unwrap_or_else(|| panic!("no hash annotation")) = Value::Null;
    }
    let containers = &mut ours["spec"]["template"]["spec"]["containers"];
    let gluetun = containers.as_array_mut().and_then(Vec::pop);
    assert_eq!(
        gluetun,
        Some(serde_json::json!({"name": "gluetun", "securityContext": {"privileged": true}}))
    );
    assert_eq!(ours, theirs);
}

#[test]
fn client_patch_is_the_references_plus_the_in_pod_filter_except_the_wrappers() {
    let data = provider_data();
    let mut ours = without_metadata(
        client_additions(&app("qbittorrent"), "charmarr-downloads", &data).add_patch("1"),
    );
    // Ours adds layer 0 of the kill switch as the first init container (ADR 0039); the rest
    // is the reference's, name for name.
    let inits = ours["spec"]["template"]["spec"]["initContainers"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("no init containers"));
    let filter = inits.remove(0);
    assert_eq!(filter["name"], "vpn-killswitch");
    // And the pod resolves through the gateway (ADR 0040).
    let pod = ours["spec"]["template"]["spec"]
        .as_object_mut()
        .unwrap_or_else(|| panic!("no pod spec"));
    assert_eq!(pod.remove("dnsPolicy"), Some(Value::from("None")));
    assert!(pod.remove("dnsConfig").is_some());
    let mut theirs = reference("client_patch");
    let script = "/spec/template/spec/initContainers/0/command/2";
    for patch in [&mut ours, &mut theirs] {
        let cmd = patch
            .pointer_mut(script)
            .unwrap_or_else(|| panic!("no script"));
        assert!(
            cmd.as_str()
                .is_some_and(|s| s.contains("/bin/client_init.sh"))
        );
        *cmd = Value::Null;
    }
    // The sidecar: theirs runs pod-gateway's client_sidecar.sh, ours the loop that survives a
    // failed reconnect (ADR 0041); the rest of the container is the same.
    let sidecar_command = "/spec/template/spec/containers/0/command";
    assert_eq!(
        theirs.pointer(sidecar_command),
        Some(&serde_json::json!(["/bin/client_sidecar.sh"]))
    );
    let ours_command = ours
        .pointer_mut(sidecar_command)
        .unwrap_or_else(|| panic!("no sidecar command"));
    assert_eq!(ours_command[0], "/bin/sh");
    assert!(
        ours_command[2]
            .as_str()
            .is_some_and(|s| s.contains("/bin/client_init.sh"))
    );
    *ours_command = serde_json::json!(["/bin/client_sidecar.sh"]);
    assert_eq!(ours, theirs);
}

#[test]
fn client_cleanup_patch_is_the_references_plus_juju_s_dns_back() {
    let mut ours = without_metadata(client_owned_names().remove_patch("1"));
    let pod = ours["spec"]["template"]["spec"]
        .as_object_mut()
        .unwrap_or_else(|| panic!("no pod spec"));
    assert_eq!(pod.remove("dnsPolicy"), Some(Value::from("ClusterFirst")));
    assert_eq!(pod.remove("dnsConfig"), Some(Value::Null));
    assert_eq!(ours, reference("client_cleanup_patch"));
}

#[test]
fn kill_switch_specs_and_names_are_the_references() {
    let owner = owner("qbittorrent", "qbittorrent-k8s");
    let np = ok(serde_json::to_value(network_policy(
        &owner,
        &provider_data().cluster_cidrs,
        // The reference has no API-server rule; with none known ours is the same object.
        &vpn_gateway_iface::api_server::ApiServerEndpoints::none(),
    )));
    let mut theirs = reference("network_policy");
    // Theirs has a rule for the cluster DNS on port 53; ours none, since the pod resolves
    // through the gateway (ADR 0040) and the rule to every namespace already holds the DNS
    // pods. The rest is the reference's.
    let rules = theirs["spec"]["egress"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("no egress"));
    let dns = rules.pop().unwrap_or_else(|| panic!("no DNS rule"));
    assert_eq!(dns["ports"][0]["port"], 53);
    assert_eq!(np["spec"], theirs["spec"]);
    assert_eq!(np["metadata"]["name"], theirs["metadata"]["name"]);
    assert_eq!(np["metadata"]["namespace"], theirs["metadata"]["namespace"]);
    let cnp = cilium_policy(&owner);
    let theirs = reference("cilium_policy");
    assert_eq!(cnp["spec"], theirs["spec"]);
    assert_eq!(cnp["metadata"]["name"], theirs["metadata"]["name"]);
}
