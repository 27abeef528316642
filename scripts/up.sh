#!/usr/bin/env bash
# Starts a Skiff cluster on this machine as separate processes, with their state and logs under
# $SKIFF_DIR (default .skiff/), writes $SKIFF_DIR/kubeconfig, and returns once every node is
# Ready: skiff-store, skiff-apiserver, skiff-scheduler, skiff-controller-manager, one
# skiff-kubelet per node (NODES=3 starts node-1 … node-3, each with its own pod addresses
# 10.244.N.0/24) and one skiff-proxy for the host (Services, cluster DNS at 10.96.0.10, the
# Ingress router on port 80). Running it again starts only what is not running.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIFF_DIR=${SKIFF_DIR:-$PWD/.skiff}
STORE_PORT=${SKIFF_STORE_PORT:-2379}
STORE_METRICS_PORT=${SKIFF_STORE_METRICS_PORT:-2381}
API_PORT=${SKIFF_API_PORT:-6443}
GRPC_PORT=${SKIFF_GRPC_PORT:-6444}
CONTROLLER_MANAGER_PORT=${SKIFF_CONTROLLER_MANAGER_PORT:-10257}
SCHEDULER_PORT=${SKIFF_SCHEDULER_PORT:-10259}
NODES=${NODES:-1}
# Node N's kubelet serves streams on KUBELET_PORT + 10 (N - 1), metrics one below.
KUBELET_PORT=${SKIFF_KUBELET_PORT:-10250}
PROXY_PORT=${SKIFF_PROXY_PORT:-10256}
INGRESS_PORT=${SKIFF_INGRESS_PORT:-80}
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

# The cluster's identity (its kube-system namespace's uid), which the kubelets put on every
# container: make down removes only this cluster's, even beside another cluster's node-1.
curl -s "http://127.0.0.1:$API_PORT/api/v1/namespaces/kube-system" |
  grep -o '"uid":"[^"]*"' | head -n 1 | cut -d'"' -f4 >"$SKIFF_DIR/cluster-id"

if ! docker info >/dev/null 2>&1; then
  echo "Docker is not reachable (is the daemon running, and may this user use it?): the kubelet needs it." >&2
  exit 1
fi
for n in $(seq 1 "$NODES"); do
  port=$((KUBELET_PORT + 10 * (n - 1)))
  start "skiff-kubelet-node-$n" "$port" target/release/skiff-kubelet \
    --api "127.0.0.1:$GRPC_PORT" --node-name "node-$n" --pod-cidr "10.244.$n.0/24" \
    --root-dir "$SKIFF_DIR/kubelet/node-$n" --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$((port - 1))" \
    --cluster-dns 10.96.0.10
done
# One proxy per host (its DNS server listens on the pod bridge the kubelets made).
start skiff-proxy "$PROXY_PORT" target/release/skiff-proxy \
  --api "127.0.0.1:$GRPC_PORT" --node-name node-1 --ingress-listen "0.0.0.0:$INGRESS_PORT" \
  --metrics-listen "127.0.0.1:$PROXY_PORT"
# Tutorials' Ingresses without a class are served too: `skiff` is the default IngressClass.
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
  "http://127.0.0.1:$API_PORT/apis/networking.k8s.io/v1/ingressclasses" \
  -d '{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"skiff","annotations":{"ingressclass.kubernetes.io/is-default-class":"true"}},"spec":{"controller":"skiff.dev/ingress"}}'


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

# Ready once every node says so (its kubelet has registered and posted a Ready condition).
ready_nodes() {
  curl -s "http://127.0.0.1:$API_PORT/api/v1/nodes" |
    grep -o '"status":"True","type":"Ready"' | wc -l
}
for _ in $(seq 1 300); do
  [[ $(ready_nodes) -ge $NODES ]] && break
  sleep 0.1
done
if [[ $(ready_nodes) -lt $NODES ]]; then
  echo "not every node became Ready within 30 s; see $SKIFF_DIR/logs/skiff-kubelet-*.log" >&2
  exit 1
fi
echo "$NODES node(s) Ready"
echo
echo "Try: export KUBECONFIG=$SKIFF_DIR/kubeconfig"
echo "     kubectl get nodes; kubectl create deployment web --image=skiff/demo-web:v1 --replicas=3"
echo "     kubectl expose deploy web --port=80 --target-port=8080; kubectl get svc,ep web"
echo "     kubectl get pods -o wide; kubectl logs deploy/web"
echo "     kubectl run -it --rm debug --image=skiff/toolbox:1 --restart=Never -- sh"
