//! Fuzzes the `vpn-gateway` databag parsers: any bytes must give a value or an error, never
//! a panic, and what parses must survive a write/read round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpn_gateway_iface::{ProviderData, RequirerData};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(provider) = ProviderData::from_databag(text) {
        assert_eq!(
            ProviderData::from_databag(&provider.to_databag()),
            Ok(provider)
        );
    }
    if let Ok(requirer) = RequirerData::from_databag(text) {
        assert_eq!(
            RequirerData::from_databag(&requirer.to_databag()),
            Ok(requirer)
        );
    }
});
