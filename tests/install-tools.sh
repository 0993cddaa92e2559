#!/usr/bin/env bash
# The Debian packages the tests and the demo run (installed only when a command is missing;
# needs root and apt, as on CI's fresh machine). The test cluster's build script installs its
# own (crates/kube-testbed/build-apiserver.sh).
set -euo pipefail
missing=()
# busybox: the vpn-route-init wrapper is also tested under busybox ash, the pod-gateway image's shell.
command -v busybox >/dev/null || missing+=(busybox-static)
# unzip: the simulator unpacks .charm archives with it.
command -v unzip >/dev/null || missing+=(unzip)
# The data-path test (tests/tests/data_path.rs, docs/adr/0033): pods as network namespaces
# running pod-gateway's scripts.
command -v ip >/dev/null || missing+=(iproute2)
command -v iptables >/dev/null || missing+=(iptables)
command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
command -v dig >/dev/null || missing+=(bind9-dnsutils)
command -v inotifywait >/dev/null || missing+=(inotify-tools)
command -v tcpdump >/dev/null || missing+=(tcpdump)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-tools: missing ${missing[*]} (needs root and apt-get); the tests that need them are skipped" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
