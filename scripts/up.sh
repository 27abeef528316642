#!/usr/bin/env bash
# Starts the parts of a one-node Skiff cluster that exist so far, as separate processes, with
# their state and logs under $SKIFF_DIR (default .skiff/), and writes $SKIFF_DIR/kubeconfig.
# Returns once they answer.
#
# Today that is skiff-store, skiff-apiserver, skiff-scheduler and skiff-controller-manager; the
# kubelet and the proxy join them as they land.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIFF_DIR=${SKIFF_DIR:-$PWD/.skiff}
STORE_PORT=${SKIFF_STORE_PORT:-2379}
STORE_METRICS_PORT=${SKIFF_STORE_METRICS_PORT:-2381}
API_PORT=${SKIFF_API_PORT:-6443}
GRPC_PORT=${SKIFF_GRPC_PORT:-6444}
CONTROLLER_MANAGER_PORT=${SKIFF_CONTROLLER_MANAGER_PORT:-10257}
SCHEDULER_PORT=${SKIFF_SCHEDULER_PORT:-10259}
mkdir -p "$SKIFF_DIR/logs" "$SKIFF_DIR/pids"

# Alive and not a zombie (a killed daemon whose parent is gone may linger as one, and `kill -0`
# would still succeed on it).
alive() { local state; state=$(sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null) && [[ $state != Z ]]; }
running() { [[ -f "$SKIFF_DIR/pids/$1" ]] && alive "$(cat "$SKIFF_DIR/pids/$1")"; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME PORT COMMAND...: starts a daemon unless it runs, and waits for its port.
start() {
  local name=$1 port=$2
  shift 2
  if running "$name"; then
    echo "$name is already running (pid $(cat "$SKIFF_DIR/pids/$name"))"
    return
  fi
  if listening "$port"; then
    echo "Port $port is taken (by another $name?). Stop it, or choose other ports (see README)." >&2
    exit 1
  fi
  "$@" >>"$SKIFF_DIR/logs/$name.log" 2>&1 &
  echo $! >"$SKIFF_DIR/pids/$name"
  for _ in $(seq 1 100); do
    if listening "$port"; then
      echo "$name is up on 127.0.0.1:$port (log $SKIFF_DIR/logs/$name.log)"
      return
    fi
    if ! running "$name"; then
      echo "$name exited; its log:" >&2
      tail -n 20 "$SKIFF_DIR/logs/$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$name did not answer within 10 s; see $SKIFF_DIR/logs/$name.log" >&2
  exit 1
}

start skiff-store "$STORE_PORT" target/release/skiff-store \
  --listen "127.0.0.1:$STORE_PORT" --metrics-listen "127.0.0.1:$STORE_METRICS_PORT" --data-dir "$SKIFF_DIR/store"
start skiff-apiserver "$API_PORT" target/release/skiff-apiserver \
  --listen "127.0.0.1:$API_PORT" --grpc-listen "127.0.0.1:$GRPC_PORT" --store-endpoints "http://127.0.0.1:$STORE_PORT"
start skiff-scheduler "$SCHEDULER_PORT" target/release/skiff-scheduler \
  --api "127.0.0.1:$GRPC_PORT" --metrics-listen "127.0.0.1:$SCHEDULER_PORT"
start skiff-controller-manager "$CONTROLLER_MANAGER_PORT" target/release/skiff-controller-manager \
  --api "127.0.0.1:$GRPC_PORT" --metrics-listen "127.0.0.1:$CONTROLLER_MANAGER_PORT"

cat >"$SKIFF_DIR/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: skiff
  cluster: {server: "http://127.0.0.1:$API_PORT"}
contexts:
- name: skiff
  context: {cluster: skiff, user: skiff, namespace: default}
current-context: skiff
users:
- name: skiff
  user: {}
KUBECONFIG

echo
echo "Try: export KUBECONFIG=$SKIFF_DIR/kubeconfig; kubectl get ns; kubectl create configmap demo --from-literal=a=b"
echo "No controllers, scheduler or node yet: objects are stored and served, nothing runs (README.md)."
