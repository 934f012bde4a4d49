#!/usr/bin/env bash
# Remake the README's pictures: docs/prefect-run.png (a local quickstart run mirrored to the
# Prefect UI) and docs/metrics-accuracy.png (`headrace metrics --png` over five runs).
#
# Needs headless Chromium (Debian: `apt-get install -y chromium`); it is a tool for making
# these pictures only, no test needs it. Everything happens in a scratch workspace with its
# own Prefect server on a free loopback port, stopped at the end; nothing reaches the internet.
#
#   docs/screenshots.sh            # from the repository root, with the venv in .venv
#   PYTHON=python docs/screenshots.sh
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CHROMIUM=${CHROMIUM:-chromium}
scratch=$(mktemp -d)
ws="$scratch/ws"
headrace() { "$PYTHON" -m headrace.engine.cli "$@"; }
cleanup() {
    headrace ui --stop -w "$ws" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
unset PREFECT_API_URL  # mirror to the scratch workspace's own server

port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
headrace ui --port "$port" -w "$ws"

# Five local runs of the quickstart (each one mirrored to the server), then the metric plot.
for rate in 0.01 0.05 0.1 0.5 1.0; do
    headrace run examples/quickstart.py --param "reg_rate=$rate" -w "$ws" >/dev/null
done
headrace metrics diabetes-training --metric accuracy --png docs/metrics-accuracy.png -w "$ws"

# The first run's flow run page: its task runs, their metrics artifacts and the run summary.
first=$(headrace runs list --json -w "$ws" | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[-1]["id"])')
flow_run=$("$PYTHON" - "$port" "$first" <<'EOF'
import json, sys, urllib.request

port, run_id = sys.argv[1:]
query = {"flow_runs": {"name": {"like_": run_id}}, "limit": 1}
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/api/flow_runs/filter",
    data=json.dumps(query).encode(),
    headers={"Content-Type": "application/json"},
)
print(json.load(urllib.request.urlopen(request, timeout=10))[0]["id"])
EOF
)
"$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$scratch/chromium" \
    --window-size=1400,900 --virtual-time-budget=15000 \
    --screenshot=docs/prefect-run.png "http://127.0.0.1:$port/runs/flow-run/$flow_run" 2>/dev/null
echo "wrote docs/prefect-run.png (run $first) and docs/metrics-accuracy.png"
