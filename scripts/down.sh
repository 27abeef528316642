#!/usr/bin/env bash
# Stops what scripts/up.sh started (SIGTERM, then SIGKILL after 10 s). State stays in $SKIFF_DIR.
set -uo pipefail
SKIFF_DIR=${SKIFF_DIR:-$PWD/.skiff}
for pidfile in "$SKIFF_DIR"/pids/*; do
  [[ -f "$pidfile" ]] || continue
  name=$(basename "$pidfile")
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
done
