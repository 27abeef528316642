#!/usr/bin/env bash
# Says clearly what the tests need that this machine lacks. `.ci/run` installs these.
set -u
missing=()
command -v cargo >/dev/null || missing+=("cargo (Rust, https://rustup.rs)")
command -v docker >/dev/null && docker info >/dev/null 2>&1 || missing+=("a running Docker Engine this user may use, for the images, the kubelet and the whole-cluster tests")
command -v kubectl >/dev/null || missing+=("kubectl (the real one), which the end-to-end tests drive")
command -v etcdctl >/dev/null || missing+=("etcdctl (Debian: apt-get install etcd-client)")
command -v etcd >/dev/null || missing+=("etcd (Debian: apt-get install etcd-server), for the store benchmark and the etcd comparison tests")
command -v iptables-restore >/dev/null || missing+=("iptables (Debian: apt-get install iptables), for skiff-proxy's Service rules")
command -v conntrack >/dev/null || missing+=("conntrack (Debian: apt-get install conntrack), for skiff-proxy's UDP flow cleanup")
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=("python3 with venv (Debian: apt-get install python3-venv), for the Python client tests")
if ((${#missing[@]})); then
  echo "Skiff's tests need:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
