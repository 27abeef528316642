# Skiff's entry points. `make up` starts what exists of the cluster on this machine (state and
# logs under .skiff/); `make test` runs every test of the workspace.

CARGO ?= cargo
SKIFF_DIR ?= $(CURDIR)/.skiff

.PHONY: build test images up down bench bench-store check-tools

build:
	$(CARGO) build --release --workspace

check-tools:
	@scripts/check-tools.sh

test: check-tools
	$(CARGO) test --workspace

# Skiff's container images arrive with the kubelet (see images/README.md); nothing to build yet.
images:
	@echo "make images: no images yet (they come with the kubelet: images/README.md)"

up: build images
	@SKIFF_DIR=$(SKIFF_DIR) scripts/up.sh

down:
	@SKIFF_DIR=$(SKIFF_DIR) scripts/down.sh

bench: bench-store

bench-store: check-tools
	$(CARGO) build --release -p skiff-store -p skiff-bench
	target/release/bench-store
