//! The pod-gateway image (`ghcr.io/angelnu/pod-gateway`) over a Debian host.
//!
//! The image is Alpine with bash, iproute2, bind-tools (dig), dnsmasq, iptables,
//! inotify-tools and coreutils, plus busybox for everything else; its Dockerfile copies
//! `config/` to `/default_config` and `/config` and `bin/` to `/bin`. [`image`] lays exactly
//! those copies over the host, and makes the host look like Alpine where the scripts notice:
//!
//! - `ping`, `udhcpc`, `route`, `killall` are busybox, as on Alpine (Debian has no `ping` or
//!   `udhcpc` of its own);
//! - `/bin/sh` stays the host's (dash on Debian), not busybox ash as on Alpine: Debian's
//!   busybox-static prefers its own applets to PATH, so under it `ip`, `awk`, `grep`,
//!   `timeout` in a `/bin/sh -c` script would be busybox's, not iproute2's and coreutils' as
//!   in the image (busybox's `ip route show default` lists every route, which breaks the
//!   vpn-route-init wrapper's default-route check). The scripts that need bash say so;
//! - `inotifyd` (a busybox applet Debian's build lacks) is a shim over inotify-tools'
//!   `inotifywait` running `PROG EVENT FILE` on each change, as the applet does;
//! - udhcpc's lease script, which Alpine's busybox package ships and Debian's does not: ours,
//!   configuring the lease with iproute2 and writing `/etc/resolv.conf`, at Alpine's path
//!   (`/usr/share/udhcpc/default.script`) and Debian's build's (`/etc/udhcpc/`);
//! - `/etc/dnsmasq.conf` reads `/etc/dnsmasq.d/*.conf` as Alpine's does, Alpine's DNSSEC
//!   trust anchors path exists, and `/run/dnsmasq` (where Debian's build writes its pid file).
//!
//! The scripts themselves are used unmodified, from the directory given.

use std::path::Path;

use crate::exec::which;
use crate::{Error, Image, ImageBuilder, Result};

/// busybox applets the image's scripts call under these names.
const BUSYBOX_APPLETS: [&str; 4] = ["ping", "udhcpc", "route", "killall"];

/// busybox's `inotifyd PROG FILE[:MASK]...`, one file, on inotify-tools.
const INOTIFYD: &str = r#"#!/bin/sh
# pod-net's stand-in for busybox's inotifyd applet: runs PROG EVENT FILE on each change of
# FILE (content or metadata), until killed.
prog=$1
file=${2%%:*}
while inotifywait -qq -e modify -e attrib -e close_write "$file"; do
  "$prog" c "$file"
done
"#;

/// udhcpc's lease script (pod-net's, in the role of Alpine's `default.script`).
const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
# pod-net's udhcpc event script: configure the lease with iproute2, write /etc/resolv.conf.
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
    for r in $router; do
      ip route replace default via "$r" dev "$interface"
      break
    done
    if [ -n "$dns" ]; then
      {
        [ -n "$domain" ] && echo "search $domain"
        for d in $dns; do echo "nameserver $d"; done
      } > /etc/resolv.conf
    fi
    ;;
esac
exit 0
"#;

/// Alpine's `/etc/dnsmasq.conf`, the line that matters: the scripts write
/// `/etc/dnsmasq.d/pod-gateway.conf`.
const DNSMASQ_CONF: &str = "conf-dir=/etc/dnsmasq.d/,*.conf\n";

/// Debian's DNSSEC trust anchors, at Alpine's path when present.
const DEBIAN_TRUST_ANCHORS: &str = "/usr/share/dnsmasq-base/trust-anchors.conf";

/// The pod-gateway image built from its source tree `src` (holding `bin/` and `config/`).
pub fn image(src: &Path) -> Result<Image> {
    let busybox = which("busybox").ok_or(Error::MissingTool("busybox"))?;
    if which("inotifywait").is_none() {
        return Err(Error::MissingTool("inotifywait (inotify-tools)"));
    }
    let mut builder = ImageBuilder::new()?;
    builder
        .copy(&src.join("config"), "/default_config")?
        .copy(&src.join("config"), "/config")?
        .copy(&src.join("bin"), "/bin")?;
    for applet in BUSYBOX_APPLETS {
        builder.symlink(&format!("/bin/{applet}"), &busybox)?;
    }
    builder
        .file("/bin/inotifyd", INOTIFYD.as_bytes(), 0o755)?
        .file(
            "/usr/share/udhcpc/default.script",
            UDHCPC_SCRIPT.as_bytes(),
            0o755,
        )?
        .file(
            "/etc/udhcpc/default.script",
            UDHCPC_SCRIPT.as_bytes(),
            0o755,
        )?
        .file("/etc/dnsmasq.conf", DNSMASQ_CONF.as_bytes(), 0o644)?
        .dir("/etc/dnsmasq.d")?
        .dir("/run/dnsmasq")?;
    let anchors = Path::new(DEBIAN_TRUST_ANCHORS);
    if anchors.exists() {
        builder.copy(anchors, "/usr/share/dnsmasq/trust-anchors.conf")?;
    }
    builder.env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );
    Ok(builder.build())
}
