# Skiff's entry points. `make up` starts what exists of the cluster on this machine (state and
# logs under .skiff/); `make test` runs every test of the workspace.

CARGO ?= cargo
SKIFF_DIR ?= $(CURDIR)/.skiff

.PHONY: build test images up down bench bench-store check-tools

build:
	$(CARGO) build --release --workspace

check-tools:
	@scripts/check-tools.sh

# With cargo-nextest (if installed) the run ends on one summary line of every test; doc tests
# run first because nextest does not run them.
test: check-tools
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) test --workspace --doc && $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

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
