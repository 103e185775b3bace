#!/usr/bin/env bash
# Builds the one-folder bundle of signpipe with PyInstaller from signpipe.spec.
#
#   scripts/build_bundle.sh [DIST_DIR]
#
# DIST_DIR defaults to ./dist; the executable is DIST_DIR/signpipe/signpipe. The
# Python used is .venv/bin/python when it exists, else $PYTHON, else python3; it
# must have signpipe installed (pip install -e '.[bundle]') so its metadata is there.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIST_DIR="$(realpath -m "${1:-$ROOT/dist}")"
WORK_DIR="$(realpath -m "${SIGNPIPE_BUILD_DIR:-$DIST_DIR/.build}")"

if [ -x "$ROOT/.venv/bin/python" ]; then
    PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
else
    PYTHON="${PYTHON:-python3}"
fi

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "PyInstaller is missing: run  $PYTHON -m pip install -e '.[bundle]'" >&2
    exit 2
fi

mkdir -p "$DIST_DIR"
started=$(date +%s)

"$PYTHON" -m PyInstaller \
    --noconfirm \
    --clean \
    --log-level "${SIGNPIPE_BUILD_LOG_LEVEL:-WARN}" \
    --distpath "$DIST_DIR" \
    --workpath "$WORK_DIR" \
    "$ROOT/signpipe.spec"

elapsed=$(( $(date +%s) - started ))
size=$(du -sh "$DIST_DIR/signpipe" | cut -f1)
echo "Built $DIST_DIR/signpipe/signpipe in ${elapsed} s (${size})."
