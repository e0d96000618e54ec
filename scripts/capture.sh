#!/usr/bin/env bash
# Capture real gunicorn + Django logs (and, for the edge_* scenarios, Debian's nginx in front)
# into OUT_DIR (default: sample-logs).
# Usage: scripts/capture.sh [OUT_DIR] [SCENARIO...]
# The venv lives at ${REQTRAIL_VENV:-target/capture-venv} (relative to the repo root)
# and is rebuilt when scripts/capture/requirements.txt changes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQS="$ROOT/scripts/capture/requirements.txt"

VENV="${REQTRAIL_VENV:-target/capture-venv}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
STAMP="$VENV/reqtrail-requirements.txt"

OUT="${1:-$ROOT/sample-logs}"
if [ "$#" -gt 0 ]; then shift; fi

if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQS" "$STAMP"; then
    echo "capture: creating venv $VENV" >&2
    python3 -m venv --clear "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
    cp "$REQS" "$STAMP"
fi

export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" "$ROOT/scripts/capture/capture.py" --out "$OUT" "$@"
