//! Snapshots (JSON) of every object we build and every file we render. Review changes with
//! `INSTA_UPDATE=always cargo test -p vpn-gateway-iface` and `git diff`.

mod common;

use common::{app, juju_statefulset, ok, owner, provider_data};
use insta::{assert_json_snapshot, assert_snapshot};
use vpn_gateway_iface::client::{client_additions, client_config_map, client_owned_names};
use vpn_gateway_iface::gateway::{gateway_additions, gateway_config_map, gateway_owned_names};
use vpn_gateway_iface::killswitch::{cilium_policy, network_policy};
use vpn_gateway_iface::settings::GatewaySettings;
use vpn_gateway_iface::settings::{client_settings, gateway_settings};
use vpn_gateway_iface::wrapper::VPN_ROUTE_INIT_SCRIPT;
use vpn_gateway_iface::{ClusterCidrs, RequirerData};

/// The gateway's settings for the configured `cluster-cidrs` of [`provider_data`] (which
/// publishes them with Istio ambient's link-local address added).
fn gateway_config() -> GatewaySettings {
    let data = provider_data();
    GatewaySettings::new(
        data.vxlan,
        &ok(ClusterCidrs::parse("10.1.0.0/16,10.152.183.0/24")),
    )
}

#[test]
fn provider_databag() {
    assert_snapshot!("provider_databag", provider_data().to_databag());
    let requirer = RequirerData {
        instance_name: app("qbittorrent"),
    };
    assert_snapshot!("requirer_databag", requirer.to_databag());
}

#[test]
fn rendered_files() {
    let data = provider_data();
    let gateway = gateway_settings(&gateway_config());
    assert_snapshot!("gateway_settings_sh", gateway["settings.sh"]);
    assert_snapshot!("client_settings_sh", client_settings(&data)["settings.sh"]);
    assert_snapshot!("vpn_route_init_script", VPN_ROUTE_INIT_SCRIPT);
}

#[test]
fn gateway_objects() {
    let additions = gateway_additions(&app("vpnarr"), &gateway_config());
    assert_json_snapshot!("gateway_add_patch", additions.add_patch("4711"));
    assert_json_snapshot!(
        "gateway_remove_patch",
        gateway_owned_names().remove_patch("4711")
    );
    assert_json_snapshot!(
        "gateway_config_map",
        gateway_config_map(&owner("vpnarr", "gluetun-k8s"), &gateway_config())
    );
    let sts = juju_statefulset("vpnarr", "gluetun");
    assert_json_snapshot!(
        "gateway_statefulset_after_add",
        ok(additions.emulate_add(&sts))
    );
}

#[test]
fn client_objects() {
    let data = provider_data();
    let additions = client_additions(&app("qbittorrent"), "charmarr-downloads", &data);
    assert_json_snapshot!("client_add_patch", additions.add_patch("4711"));
    assert_json_snapshot!(
        "client_remove_patch",
        client_owned_names().remove_patch("4711")
    );
    let owner = owner("qbittorrent", "qbittorrent-k8s");
    assert_json_snapshot!("client_config_map", client_config_map(&owner, &data));
    let sts = juju_statefulset("qbittorrent", "qbittorrent");
    let added = ok(additions.emulate_add(&sts));
    assert_json_snapshot!("client_statefulset_after_add", added);
    // Removing the routing keeps the in-pod filter; removing it too gives back Juju's.
    let unrouted = ok(client_owned_names().emulate_remove(&added));
    assert_ne!(unrouted, sts);
    let removed = ok(vpn_gateway_iface::client::killswitch_owned_names().emulate_remove(&unrouted));
    assert_eq!(removed, sts);
}

/// MicroK8s' API server as `default/kubernetes` lists it: the node's address, port 16443.
fn microk8s_api_server() -> vpn_gateway_iface::api_server::ApiServerEndpoints {
    vpn_gateway_iface::api_server::ApiServerEndpoints::from_endpoint_slice(&serde_json::json!({
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["192.168.1.10"]}],
        "ports": [{"name": "https", "port": 16443, "protocol": "TCP"}]
    }))
    .expect("valid endpoints")
}

#[test]
fn kill_switch_objects() {
    let data = provider_data();
    let owner = owner("qbittorrent", "qbittorrent-k8s");
    assert_json_snapshot!(
        "kill_switch_network_policy",
        network_policy(&owner, &data.cluster_cidrs, &microk8s_api_server())
    );
    assert_json_snapshot!("kill_switch_cilium_policy", cilium_policy(&owner));
}
