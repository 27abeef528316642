#!/usr/bin/env bash
# Instructions the API server (or the store) executes per pod create, get and update, counted by
# callgrind: deterministic for one binary, whatever else the machine is doing, so it can tell a
# 3% change apart where timed runs on a shared machine cannot (bench/README.md).
#
#   bench/profile/api-callgrind.sh [apiserver|store] [creates]
#
# Starts skiff-store and skiff-apiserver from target/release on free ports, runs the chosen one
# under callgrind, sends 100 warm-up creates, then `creates` creates, as many gets and updates,
# one at a time over one keep-alive connection, zeroing and dumping the counters around each
# phase. Prints the instructions per request of each phase and leaves the dumps (for
# callgrind_annotate) in $OUT (default /tmp/skiff-callgrind).
set -euo pipefail
target=${1:-apiserver}
creates=${2:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release
out=${OUT:-/tmp/skiff-callgrind}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
store_port=$(free_port); rest=$(free_port); grpc=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
# --fair-sched: sled spins on a lazy static while another thread fills it in, and valgrind's
# default scheduler (one thread at a time, no fairness) can leave the spinner running for ever:
# skiff-store then never finishes opening under callgrind.
grind=(valgrind --tool=callgrind --fair-sched=yes "--callgrind-out-file=$out/callgrind.out.%p")
store=("$bin/skiff-store" --listen "127.0.0.1:$store_port" --data-dir "$out/store")
api=("$bin/skiff-apiserver" --store-endpoints "http://127.0.0.1:$store_port" --listen "127.0.0.1:$rest" --grpc-listen "127.0.0.1:$grpc")
store_prefix=(); api_prefix=("${grind[@]}")
[ "$target" = store ] && { store_prefix=("${grind[@]}"); api_prefix=(); }
"${store_prefix[@]}" "${store[@]}" >"$out/store.log" 2>&1 &
pids+=($!); [ "$target" = store ] && grinded=$!
for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$store_port") 2>/dev/null && break; sleep 0.2; done
"${api_prefix[@]}" "${api[@]}" >"$out/api.log" 2>&1 &
pids+=($!); [ "$target" = store ] || grinded=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$rest/readyz" >/dev/null && break; sleep 0.2; done
python3 - "$rest" "$creates" "$grinded" "$out" <<'PY'
import http.client, json, subprocess, sys, glob, re
port, n, pid, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
conn = http.client.HTTPConnection("127.0.0.1", port)
def pod(name, rv=None, rev="0"):
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name,
        "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop", "tier": "frontend", "pod-template-hash": "5d8f7c9b64"},
        "annotations": {"bench.skiff.dev/revision": rev, "prometheus.io/scrape": "true"}},
      "spec": {"containers": [{"name": "web", "image": "registry.local/skiff/demo-web:v1", "imagePullPolicy": "IfNotPresent",
        "command": ["/demo-web"], "args": ["--listen=:8080", "--log-format=json"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "SHOP_BACKEND", "value": "http://backend.shop.svc:9090"}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5, "failureThreshold": 3},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": True}]}],
        "volumes": [{"name": "config", "configMap": {"name": "web-config"}}], "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30, "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]}}
    if rv:
        p["metadata"]["resourceVersion"] = rv
        # What admission gave the pod on create is part of what it was (a pod's spec may not change).
        p["spec"]["serviceAccountName"] = p["spec"]["serviceAccount"] = "default"
        p["spec"]["tolerations"].append({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    return json.dumps(p, sort_keys=True).encode()
def call(method, path, body=None):
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    r = conn.getresponse(); data = r.read()
    if r.status >= 300: sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data)
base = "/api/v1/namespaces/default/pods"
for i in range(100): call("POST", base, pod(f"warm-{i}"))
def phase(name, fn):
    subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
    for i in range(n): fn(i)
    subprocess.run(["callgrind_control", "-d", name, pid], check=True, capture_output=True)
    total = 0
    for f in glob.glob(f"{out}/callgrind.out.{pid}*"):
        text = open(f, errors="replace").read()
        if f"desc: Trigger: dump {name}\n" not in text: continue
        m = re.search(r"^summary: (\d+)", text, re.M) or re.search(r"^totals: (\d+)", text, re.M)
        if m: total = max(total, int(m.group(1)))
    print(f"{name:8} {total / n / 1000:9.1f}k instructions per request")
versions = {}
def create(i): versions[i] = call("POST", base, pod(f"pod-{i}"))["metadata"]["resourceVersion"]
phase("create", create)
phase("get", lambda i: call("GET", f"{base}/pod-{i}"))
def update(i): versions[i] = call("PUT", f"{base}/pod-{i}", pod(f"pod-{i}", versions[i], str(i + 1)))["metadata"]["resourceVersion"]
phase("update", update)
PY
echo "dumps in $out (callgrind_annotate $out/callgrind.out.<pid>.<n>)"
