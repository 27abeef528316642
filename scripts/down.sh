#!/usr/bin/env bash
# Stops what scripts/up.sh started (SIGTERM, then SIGKILL after 10 s). State stays in $SKIFF_DIR.
set -uo pipefail
SKIFF_DIR=${SKIFF_DIR:-$PWD/.skiff}
alive() { local state; state=$(sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null) && [[ $state != Z ]]; }
for pidfile in "$SKIFF_DIR"/pids/*; do
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
