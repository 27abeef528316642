# Skiff's entry points. `make up` starts what exists of the cluster on this machine (state and
# logs under .skiff/); `make test` runs every test of the workspace.

CARGO ?= cargo
SKIFF_DIR ?= $(CURDIR)/.skiff

.PHONY: build test images up down bench bench-store bench-api bench-pods bench-rollout bench-net check-tools

build:
	$(CARGO) build --release --workspace

check-tools:
	@scripts/check-tools.sh

# The images are built first, because tests run them and a fresh machine has none; the programs
# inside them (the images/ workspace) have unit tests of their own, run before the workspace's.
# With cargo-nextest (if installed) the run ends on one summary line of every test; doc tests
# run first because nextest does not run them.
test: check-tools images
	@status=0; \
	CARGO=$(CARGO) scripts/images.sh test || status=1; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		{ $(CARGO) test --workspace --doc && $(CARGO) nextest run --workspace --no-fail-fast; } || status=1; \
	else \
		$(CARGO) test --workspace --no-fail-fast || status=1; \
	fi; \
	exit $$status

# Skiff's own container images (images/README.md): built locally, FROM scratch, and only when
# their sources changed; quiet when they are up to date.
images:
	@CARGO=$(CARGO) scripts/images.sh

up: build images
	@SKIFF_DIR=$(SKIFF_DIR) scripts/up.sh

down:
	@SKIFF_DIR=$(SKIFF_DIR) scripts/down.sh

bench: bench-store bench-api bench-pods bench-rollout bench-net

bench-store: check-tools
	$(CARGO) build --release -p skiff-store -p skiff-bench
	target/release/bench-store

# The API server through REST, with skiff-store behind it (bench/README.md). Pass flags with
# BENCH_FLAGS, e.g. `make bench-api BENCH_FLAGS=--quick`.
bench-api:
	$(CARGO) build --release -p skiff-store -p skiff-apiserver -p skiff-bench
	"$${CARGO_TARGET_DIR:-target}/release/bench-api" $(BENCH_FLAGS)

# A whole cluster as processes, on Docker: pod start against the Docker floor and the cluster's
# memory (bench-pods), a rolling update against its minimum and a scale-up (bench-rollout); see
# bench/README.md. They run the images, so those are built first. Pass flags with BENCH_FLAGS,
# e.g. `make bench-pods BENCH_FLAGS=--quick`.
bench-pods: images
	$(CARGO) build --release -p skiff-store -p skiff-apiserver -p skiff-scheduler \
		-p skiff-controller-manager -p skiff-kubelet -p skiff-bench
	"$${CARGO_TARGET_DIR:-target}/release/bench-pods" $(BENCH_FLAGS)

bench-rollout: images
	$(CARGO) build --release -p skiff-store -p skiff-apiserver -p skiff-scheduler \
		-p skiff-controller-manager -p skiff-kubelet -p skiff-bench
	"$${CARGO_TARGET_DIR:-target}/release/bench-rollout" $(BENCH_FLAGS)

# One demo-web pod by its IP, through its ClusterIP, a NodePort and the Ingress router, and
# through nginx as a reverse proxy, all with the same wrk (bench/README.md). It runs a whole
# cluster and skiff-proxy (iptables: root), and needs Debian's wrk and nginx.
bench-net: images
	@command -v wrk >/dev/null && test -x /usr/sbin/nginx || { \
		echo "bench-net needs wrk and nginx: apt-get install -y wrk nginx" >&2; \
		echo "(Debian's package starts nginx on port 80, which make up's Ingress router wants:" >&2; \
		echo " systemctl disable --now nginx; bench-net runs its own nginx on a free port)" >&2; \
		exit 1; }
	$(CARGO) build --release -p skiff-store -p skiff-apiserver -p skiff-scheduler \
		-p skiff-controller-manager -p skiff-kubelet -p skiff-proxy -p skiff-bench
	"$${CARGO_TARGET_DIR:-target}/release/bench-net" $(BENCH_FLAGS)
