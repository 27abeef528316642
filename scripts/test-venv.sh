#!/usr/bin/env bash
# Makes (once) the Python virtual environment the tests use for the official Kubernetes client,
# and prints its python's path. Needs python3 with venv and pip, and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SKIFF_TEST_VENV:-$PWD/target/test-venv}
CLIENT_VERSION=37.0.2
if ! "$VENV/bin/python" -c "import kubernetes, sys; sys.exit(kubernetes.__version__ != '$CLIENT_VERSION')" 2>/dev/null; then
  python3 -m venv "$VENV" >&2 || { echo "python3 -m venv failed: install python3-venv" >&2; exit 1; }
  "$VENV/bin/pip" install -q "kubernetes==$CLIENT_VERSION" >&2 || { echo "pip could not install kubernetes==$CLIENT_VERSION from PyPI" >&2; exit 1; }
fi
echo "$VENV/bin/python"
