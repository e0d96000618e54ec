#!/usr/bin/env bash
# Capture real gunicorn + Django logs (and, for the edge_* scenarios, Debian's nginx in front)
# into OUT_DIR (default: sample-logs).
# Usage: scripts/capture.sh [--stack NAME] [OUT_DIR] [SCENARIO...]
#
# Without --stack: the current stack, scripts/capture/requirements.txt (gunicorn 23.0.0 +
# Django 5.2), in the venv ${REQTRAIL_VENV:-target/capture-venv} (relative to the repo root),
# with the python3 on PATH.
#
# With --stack NAME: the pinned stack scripts/capture/stacks/NAME.txt in its own venv,
# target/capture-venv-NAME. A stack file may pin its Python with a line `# python: X.Y`
# (Django 6 needs >= 3.12); the newest $(pyenv root)/versions/X.Y.* is used, and the stack
# fails, saying so, when there is none. Unpinned stacks use Python 3.11 (python3.11, else the
# newest pyenv 3.11.*, else python3 if it is 3.11). OUT_DIR defaults to
# sample-logs/stacks/NAME; without SCENARIOs, the stack's `# scenarios:` line (all app
# scenarios when it has none). A `# capture-args:` line passes options to capture.py (a worker
# class, threads, how long /stuck/ hangs).
#
# A venv is rebuilt when its requirements file changes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

STACK=""
if [ "${1:-}" = "--stack" ]; then
    [ "$#" -ge 2 ] || { echo "capture: --stack needs a NAME (see scripts/capture/stacks/)" >&2; exit 2; }
    STACK="$2"
    shift 2
fi

# The newest interpreter under pyenv's versions for X.Y, or nothing.
pyenv_python() {
    local want="$1" root dir best=""
    root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
    for dir in $(ls -d "$root/versions/$want".* 2>/dev/null | sort -V); do
        [ -x "$dir/bin/python" ] && best="$dir/bin/python"
    done
    echo "$best"
}

if [ -z "$STACK" ]; then
    REQS="$ROOT/scripts/capture/requirements.txt"
    VENV="${REQTRAIL_VENV:-target/capture-venv}"
    PYTHON=python3
    OUT="${1:-$ROOT/sample-logs}"
else
    REQS="$ROOT/scripts/capture/stacks/$STACK.txt"
    if [ ! -f "$REQS" ]; then
        echo "capture: no stack $STACK (have: $(cd "$ROOT/scripts/capture/stacks" && ls *.txt | sed 's/\.txt$//' | tr '\n' ' '))" >&2
        exit 2
    fi
    VENV="target/capture-venv-$STACK"
    want="$(sed -n 's/^# python: *\([0-9.]*\).*/\1/p' "$REQS" | head -n1)"
    if [ -n "$want" ]; then
        PYTHON="$(pyenv_python "$want")"
        if [ -z "$PYTHON" ]; then
            echo "capture: stack $STACK needs Python $want and there is none under" \
                "$(pyenv root 2>/dev/null || echo '~/.pyenv')/versions/$want.* (pyenv install $want)" >&2
            exit 3
        fi
    elif command -v python3.11 >/dev/null; then
        PYTHON=python3.11
    else
        PYTHON="$(pyenv_python 3.11)"
        if [ -z "$PYTHON" ] && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            PYTHON=python3
        fi
        if [ -z "$PYTHON" ]; then
            echo "capture: stack $STACK needs Python 3.11 and there is none (python3.11, pyenv)" >&2
            exit 3
        fi
    fi
    OUT="${1:-$ROOT/sample-logs/stacks/$STACK}"
fi
if [ "$#" -gt 0 ]; then shift; fi

case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
STAMP="$VENV/reqtrail-requirements.txt"

if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQS" "$STAMP"; then
    echo "capture: creating venv $VENV ($("$PYTHON" --version 2>&1))" >&2
    "$PYTHON" -m venv --clear "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
    cp "$REQS" "$STAMP"
fi

ARGS=(--out "$OUT")
if [ -n "$STACK" ]; then
    ARGS+=(--stack "$STACK")
    # `# capture-args: --worker-class gevent ...`: how this stack runs gunicorn (capture.py --help)
    read -r -a more <<<"$(sed -n 's/^# capture-args: *//p' "$REQS" | head -n1)"
    ARGS+=("${more[@]}")
    if [ "$#" -eq 0 ]; then
        read -r -a listed <<<"$(sed -n 's/^# scenarios: *//p' "$REQS" | head -n1)"
        set -- "${listed[@]}"
    fi
fi

export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" "$ROOT/scripts/capture/capture.py" "${ARGS[@]}" "$@"
