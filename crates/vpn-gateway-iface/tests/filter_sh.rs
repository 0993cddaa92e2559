//! Runs the in-pod filter script (`vpn-killswitch`, kill switch layer 0) under dash and
//! busybox ash, each in a network namespace of its own (`unshare --net`: it disappears with
//! the process, so nothing of the host's firewall is touched), with the real iptables. The
//! data path with pod-gateway's scripts is tests/tests/data_path.rs.
#![allow(clippy::disallowed_methods)] // Test machinery: these tests run the script under real shells.
#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Output};

use vpn_gateway_iface::filter::{ALLOWED_CIDRS_ENV, CHAIN, DNS_IP_ENV, KILLSWITCH_SCRIPT};

/// The shells to run it under: the host's dash and, when installed, busybox's ash (the image's
/// `/bin/sh`).
fn shells() -> Vec<Vec<&'static str>> {
    let mut shells = vec![vec!["/bin/sh"]];
    if Path::new("/usr/bin/busybox").exists() {
        shells.push(vec!["/usr/bin/busybox", "sh"]);
    }
    shells
}

/// Why this cannot run here.
fn unavailable() -> Option<&'static str> {
    let ok = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ok("unshare", &["--net", "true"]) {
        return Some("cannot make a network namespace (needs root and util-linux)");
    }
    if !ok("unshare", &["--net", "iptables", "-S"]) {
        return Some("no working iptables");
    }
    None
}

/// The script (run `runs` times, stopping at a failure, whose code is the result) then
/// `iptables -S; ip6tables -S`, in one fresh namespace.
fn run(shell: &[&str], cidrs: &str, dns: &str, runs: usize) -> Output {
    let body = format!(
        "rc=0; for i in $(seq {runs}); do {} -c \"$SCRIPT\" || {{ rc=$?; break; }}; done; \
         iptables -S; ip6tables -S; exit $rc",
        shell.join(" ")
    );
    Command::new("unshare")
        .args(["--net", "/bin/sh", "-c", &body])
        .env("SCRIPT", KILLSWITCH_SCRIPT)
        .env(ALLOWED_CIDRS_ENV, cidrs)
        .env(DNS_IP_ENV, dns)
        .output()
        .unwrap_or_else(|e| panic!("unshare: {e}"))
}

#[test]
fn installs_one_chain_and_one_jump_per_family_and_re_entry_changes_nothing() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    for shell in shells() {
        let out = run(
            &shell,
            "10.1.0.0/16 10.152.183.0/24 fd00:10::/64",
            "10.152.183.10",
            2,
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{shell:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // IPv4 and IPv6: one jump each (after two runs), from OUTPUT for all but the tunnel.
        assert_eq!(
            text.matches(&format!("-A OUTPUT ! -o vxlan0 -j {CHAIN}"))
                .count(),
            2,
            "{shell:?}: {text}"
        );
        assert_eq!(
            text.matches(&format!("-A {CHAIN} -o lo -j RETURN")).count(),
            2,
            "{shell:?}: {text}"
        );
        for rule in [
            format!("-A {CHAIN} -d 10.1.0.0/16 -j RETURN"),
            format!("-A {CHAIN} -d 10.152.183.0/24 -j RETURN"),
            format!("-A {CHAIN} -d 10.152.183.10/32 -p udp -m udp --dport 53 -j RETURN"),
            format!("-A {CHAIN} -d fd00:10::/64 -j RETURN"),
            format!("-A {CHAIN} -d fe80::/10 -j RETURN"),
        ] {
            assert_eq!(
                text.matches(&rule).count(),
                1,
                "{shell:?}: {rule} in {text}"
            );
        }
        // The last rule of each family drops; nothing else was added.
        assert_eq!(
            text.matches(&format!("-A {CHAIN} -j DROP")).count(),
            2,
            "{shell:?}: {text}"
        );
        assert!(
            !text.contains("fd00:10::/64 -j RETURN\n-A CHARMARR-EGRESS -d 10."),
            "families mixed: {text}"
        );
    }
}

#[test]
fn without_ipv6_cidrs_ipv6_leaves_only_to_the_link() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let out = run(&["/bin/sh"], "10.1.0.0/16", "10.1.0.10", 1);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v6: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with(&format!("-A {CHAIN}")) && (l.contains("::") || l.contains("ff02"))
        })
        .collect();
    assert_eq!(
        v6,
        [
            format!("-A {CHAIN} -d fe80::/10 -j RETURN"),
            format!("-A {CHAIN} -d ff02::/16 -j RETURN"),
        ],
        "{text}"
    );
}

#[test]
fn a_value_that_is_not_an_address_fails_the_container_and_installs_nothing() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    for shell in shells() {
        for (cidrs, dns, field) in [
            ("10.1.0.0/16;reboot", "10.1.0.10", ALLOWED_CIDRS_ENV),
            ("10.1.0.0/16 $(id)", "10.1.0.10", ALLOWED_CIDRS_ENV),
            ("10.1.0.0/16", "", DNS_IP_ENV),
            ("10.1.0.0/16", "10.1.0.10 -j ACCEPT", DNS_IP_ENV),
        ] {
            let out = run(&shell, cidrs, dns, 1);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{shell:?} {cidrs:?} {dns:?}: {stderr}"
            );
            assert!(
                stderr.contains(&format!("refusing {field} value")),
                "{stderr}"
            );
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains(CHAIN),
                "{shell:?}: rules installed for {cidrs:?} {dns:?}"
            );
        }
    }
}
