#!/usr/bin/env bash
# Stops what scripts/up.sh started (SIGTERM, then SIGKILL after 10 s) and removes the pod
# containers its kubelets ran. The store's state stays in $SKIFF_DIR.
set -uo pipefail
SKIFF_DIR=${SKIFF_DIR:-$PWD/.skiff}
alive() { local state; state=$(sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null) && [[ $state != Z ]]; }
# In the reverse order of up.sh: the proxy and kubelets still reach the API server as they stop.
ordered=("$SKIFF_DIR"/pids/skiff-proxy "$SKIFF_DIR"/pids/skiff-kubelet-* "$SKIFF_DIR"/pids/skiff-controller-manager \
  "$SKIFF_DIR"/pids/skiff-scheduler "$SKIFF_DIR"/pids/skiff-apiserver "$SKIFF_DIR"/pids/skiff-store "$SKIFF_DIR"/pids/*)
for pidfile in "${ordered[@]}"; do
  [[ -f "$pidfile" ]] || continue
  name=$(basename "$pidfile")
  pid=$(cat "$pidfile")
  if alive "$pid"; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid"
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
done

# The kubelets leave pods running when they stop (as Kubernetes' do); a cluster going down takes
# its pods with it. Only containers of this cluster's nodes are touched.
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  for dir in "$SKIFF_DIR"/kubelet/*/; do
    [[ -d "$dir" ]] || continue
    node=$(basename "$dir")
    filters=(--filter "label=io.skiff.node=$node")
    if [[ -s "$SKIFF_DIR/cluster-id" ]]; then
      filters+=(--filter "label=io.skiff.cluster=$(cat "$SKIFF_DIR/cluster-id")")
    fi
    ids=$(docker ps -aq "${filters[@]}")
    if [[ -n "$ids" ]]; then
      docker rm -f $ids >/dev/null
      echo "removed the pod containers of $node"
    fi
  done
fi
