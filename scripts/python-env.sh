#!/usr/bin/env bash
# Creates .venv (once) with what the Python tests need, and the binding installed in editable
# mode. Idempotent: pip only acts when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
# wheel: the packaging test builds the binding's wheel without build isolation.
if ! .venv/bin/python -c "import pytest, aiortc, wheel, webrtc_session" >/dev/null 2>&1; then
    .venv/bin/pip install -q --disable-pip-version-check pytest aiortc wheel
    .venv/bin/pip install -q --disable-pip-version-check -e bindings/python
fi
