# Targets are one or two lines: logic lives in Rust (or, for system recipes, in a named script).
CARGO ?= cargo

.PHONY: build test lint fmt testbed
build:
	$(CARGO) build --workspace --locked

# A real kube-apiserver + etcd (crates/kube-testbed): built once into a cache outside the repo.
testbed:
	crates/kube-testbed/build-apiserver.sh

test: testbed
	$(CARGO) test --workspace --locked

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all
