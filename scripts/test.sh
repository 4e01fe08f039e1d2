#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run). Installs missing system packages first
# (apt-get update once, then apt-get install), then runs each part and exits non-zero if any
# part failed.
set -uo pipefail
cd "$(dirname "$0")/.."

apt_packages=(pkg-config libssl-dev gcc g++ make valgrind python3-venv chromium mono-mcs mono-runtime)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}" || exit 1
fi

status=0
echo "== cargo test (unit tests per layer, C ABI integration tests, header drift)"
timeout 1800 cargo test --release --locked 2>&1 || status=1

echo "== C examples as tests"
./scripts/test-c.sh || status=1

echo "== C# binding (mono)"
if make -s csharp >build/csharp.log 2>&1; then
    (cd build/csharp && LD_LIBRARY_PATH="$PWD/../../target/release" timeout 300 mono Tests.exe &&
        LD_LIBRARY_PATH="$PWD/../../target/release" timeout 60 mono WebRtcSessionExample.exe >/dev/null) || status=1
else
    cat build/csharp.log
    echo "0 passed, 1 failed"
    status=1
fi

echo "== Python binding (pytest)"
./scripts/python-env.sh || exit 1
(cd bindings/python && timeout 600 ../../.venv/bin/python -m pytest -q tests) || status=1

echo "== interop with real peers: aiortc and headless Chromium (pytest)"
rm -f build/interop-results.jsonl
timeout 900 .venv/bin/python -m pytest -q tests/interop || status=1

echo "== fuzz smoke: each cargo-fuzz target for 20 s from its seeds"
timeout 900 ./scripts/fuzz.sh 20 || status=1

exit $status
