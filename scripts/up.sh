#!/usr/bin/env bash
# Starts the parts of a one-node Skiff cluster that exist so far, as separate processes, with
# their state and logs under $SKIFF_DIR (default .skiff/). Returns once they answer.
#
# Today that is skiff-store alone: the API server, scheduler, controller-manager, kubelet and
# proxy come with their issues, and so do .skiff/kubeconfig and the node becoming Ready.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIFF_DIR=${SKIFF_DIR:-$PWD/.skiff}
STORE_PORT=${SKIFF_STORE_PORT:-2379}
STORE_METRICS_PORT=${SKIFF_STORE_METRICS_PORT:-2381}
mkdir -p "$SKIFF_DIR/logs" "$SKIFF_DIR/pids"

# Alive and not a zombie (a killed daemon whose parent is gone may linger as one, and `kill -0`
# would still succeed on it).
alive() { local state; state=$(sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null) && [[ $state != Z ]]; }
running() { [[ -f "$SKIFF_DIR/pids/$1" ]] && alive "$(cat "$SKIFF_DIR/pids/$1")"; }

if running store; then
  echo "skiff-store is already running (pid $(cat "$SKIFF_DIR/pids/store")); 'make down' stops it."
else
  if (exec 3<>/dev/tcp/127.0.0.1/"$STORE_PORT") 2>/dev/null; then
    echo "Port $STORE_PORT is taken (another etcd?). Stop it, or set SKIFF_STORE_PORT." >&2
    exit 1
  fi
  target/release/skiff-store \
    --listen "127.0.0.1:$STORE_PORT" \
    --metrics-listen "127.0.0.1:$STORE_METRICS_PORT" \
    --data-dir "$SKIFF_DIR/store" \
    >>"$SKIFF_DIR/logs/store.log" 2>&1 &
  echo $! >"$SKIFF_DIR/pids/store"
fi

for _ in $(seq 1 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$STORE_PORT") 2>/dev/null; then
    echo "skiff-store is up on 127.0.0.1:$STORE_PORT (metrics on :$STORE_METRICS_PORT/metrics, log $SKIFF_DIR/logs/store.log)"
    echo "Try: ETCDCTL_API=3 etcdctl --endpoints 127.0.0.1:$STORE_PORT put hello world"
    echo "The rest of the cluster (API server, kubelet, kubeconfig) is not built yet: see README.md."
    exit 0
  fi
  if ! running store; then
    echo "skiff-store exited; its log:" >&2
    tail -n 20 "$SKIFF_DIR/logs/store.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "skiff-store did not answer within 10 s; see $SKIFF_DIR/logs/store.log" >&2
exit 1
