# Targets are one or two lines: logic lives in Rust (or, for system recipes, in a named script).
CARGO ?= cargo

.PHONY: build test lint fmt testbed tools charms charms-lint demo bench
build:
	$(CARGO) build --workspace --locked

# A real kube-apiserver + etcd (crates/kube-testbed): built once into a cache outside the repo.
testbed:
	crates/kube-testbed/build-apiserver.sh

# The Debian packages the tests and the demo use (busybox, unzip, iproute2, iptables, dnsmasq, ...).
tools:
	tests/install-tools.sh

test: testbed tools
	$(CARGO) test --workspace --locked

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

# .charm archives from the release binaries and metadata/<charm>/charmcraft.yaml (crates/charm-pack).
# The charm binaries: profile `charm`, non-PIE, no unwind tables, identical code folded, no
# build-machine paths (docs/adr/0023, 0024). `--target` keeps these flags off build scripts
# and out of every other build's cache.
CHARM_TARGET := x86_64-unknown-linux-gnu
CHARM_RUSTFLAGS := -C relocation-model=static -C force-unwind-tables=no \
	-C link-arg=-Wl,--no-eh-frame-hdr -C link-arg=-Wl,-T,$(CURDIR)/charms/no-eh-frame.ld -C link-arg=-Wl,--icf=all \
	--remap-path-prefix=$(or $(CARGO_HOME),$(HOME)/.cargo)/registry/src=crates --remap-path-prefix=$(CURDIR)=.
charms:
	RUSTFLAGS="$(CHARM_RUSTFLAGS)" $(CARGO) build --profile charm --target $(CHARM_TARGET) --locked -p gluetun-k8s -p qbittorrent-k8s
	$(CARGO) run --release --locked -p charm-pack -- --bin-dir target/$(CHARM_TARGET)/charm --out-dir build metadata/gluetun-k8s metadata/qbittorrent-k8s

# charmcraft's own linter on both archives (PyPI wheel in a cached venv; analysis runs offline; CI runs it).
charms-lint: charms
	crates/charm-pack/charmcraft-lint.sh build/gluetun-k8s_amd64.charm build/qbittorrent-k8s_amd64.charm

# The main job: the README's story (deploy, secret, relate, VPN drop, relation removed) on the
# simulator and the real test API server, deploying the .charm files built above.
# With pod-gateway's scripts (POD_GATEWAY_SRC, test data outside the repo) the pods' containers
# run and the demo sends packets; without them it says so and the client waits for its route.
POD_GATEWAY_SRC ?= ../shared/third_party/pod-gateway-v1.13.0
demo: testbed tools charms
	$(CARGO) build --locked -p juju-sim -p charmarr-tests --bins
	target/debug/demo --sim target/debug/juju-sim --gateway build/gluetun-k8s_amd64.charm --client build/qbittorrent-k8s_amd64.charm --pod-gateway-src $(POD_GATEWAY_SRC)

# Whole-process benchmarks (tests/src/bin/bench.rs): table printed and recorded in docs/benchmarks.md.
bench: testbed charms
	$(CARGO) build --release --locked -p juju-sim -p charmarr-tests --bins && target/release/bench --gateway build/gluetun-k8s_amd64.charm --client build/qbittorrent-k8s_amd64.charm --record docs/benchmarks.md
