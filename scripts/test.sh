#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run). Installs missing system packages first
# (apt-get update once, then apt-get install), then runs each part and exits non-zero if any
# part failed.
set -uo pipefail
cd "$(dirname "$0")/.."

apt_packages=(pkg-config libssl-dev gcc g++ make valgrind python3-venv chromium firefox-esr iproute2 mono-mcs mono-runtime)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}" || exit 1
fi

mkdir -p build/test-logs
failed=()
# step NAME COMMAND...: runs one part, its output shown and kept in build/test-logs/NAME.log.
step() {
    local name=$1
    shift
    echo "== $name"
    "$@" 2>&1 | tee "build/test-logs/$name.log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then
        failed+=("$name")
        echo "== $name: FAILED (exit $rc)"
    fi
}

csharp_tests() {
    if ! make -s csharp >build/csharp.log 2>&1; then
        cat build/csharp.log
        echo "0 passed, 1 failed"
        return 1
    fi
    (cd build/csharp &&
        LD_LIBRARY_PATH="$PWD/../../target/release" timeout 300 mono Tests.exe &&
        LD_LIBRARY_PATH="$PWD/../../target/release" timeout 60 mono WebRtcSessionExample.exe >/dev/null) &&
        nuget_check
}

# The NuGet layout works as a package: the example, compiled against the package's assembly,
# runs with the native library from the package's runtimes/linux-x64/native.
nuget_check() {
    local d=build/nuget/check
    make -s nuget >/dev/null && rm -rf "$d" && mkdir -p "$d" &&
        python3 -m zipfile -e build/nuget/WebRtcSession.*.nupkg "$d" &&
        cp "$d/lib/net45/WebRtcSession.dll" "$d/" &&
        mcs -langversion:7 -out:"$d/Example.exe" -r:"$d/WebRtcSession.dll" bindings/csharp/examples/WebRtcSessionExample.cs &&
        (cd "$d" && LD_LIBRARY_PATH="$PWD/runtimes/linux-x64/native" timeout 60 mono Example.exe >/dev/null) &&
        echo "1 passed, 0 failed (NuGet package: the example runs from the package's assembly and native library)"
}

python_tests() {
    ./scripts/python-env.sh && (cd bindings/python && timeout 600 ../../.venv/bin/python -m pytest -q tests)
}

interop_tests() {
    rm -f build/interop-results.jsonl
    ./scripts/python-env.sh && timeout 900 .venv/bin/python -m pytest -q tests/interop --ignore=tests/interop/test_firefox.py
}

# Firefox runs in a network namespace of the test's own (scripts/firefox-interop.sh).
firefox_tests() {
    ./scripts/python-env.sh && ./scripts/firefox-interop.sh
}

# The benchmark programs still build and run (figures printed, not judged: timing is not a
# test), and the media path still makes no heap allocation per packet (a count, not a time).
bench_smoke() {
    make -s build/bench build/limit &&
        ./build/limit 2000 protect &&
        WRS_BENCH_ONLY=setup ./build/bench &&
        WRS_BENCH_ONLY=latency ./build/bench &&
        WRS_BENCH_ONLY=send ./build/bench &&
        WRS_BENCH_ONLY=receive ./build/bench &&
        WRS_BENCH_ONLY=frame ./build/bench &&
        cargo bench --locked --bench alloc 2>/dev/null | grep '^bench ' | tee build/alloc.txt &&
        WRS_BENCH_DATA_MB=4 cargo bench --locked --bench data 2>/dev/null | grep '^bench ' &&
        grep -q '^bench allocs_per_send 0.00 ' build/alloc.txt &&
        grep -q '^bench allocs_per_receive 0.00 ' build/alloc.txt &&
        grep -q '^bench allocs_per_send_frame_packet 0.00 ' build/alloc.txt &&
        echo "zero heap allocations per sent and per received packet"
}

# Unit tests per layer, C ABI integration tests, header drift.
step cargo-test timeout 1800 cargo test --release --locked
step c-examples ./scripts/test-c.sh
step csharp-binding csharp_tests
step python-binding python_tests
# Real peers: aiortc, headless Chromium, the Python examples; then Firefox ESR.
step interop interop_tests
step firefox-interop firefox_tests
step bench-smoke bench_smoke
# Each cargo-fuzz target for 20 s from its seeds.
step fuzz-smoke timeout 1200 ./scripts/fuzz.sh 20

# The end of the output says what failed, with the end of each failed part's log.
echo "== summary"
for f in "${failed[@]}"; do
    echo "--- last lines of build/test-logs/$f.log"
    tail -n 40 "build/test-logs/$f.log"
done
if ((${#failed[@]})); then
    echo "test parts failed: ${failed[*]}"
    exit 1
fi
echo "all test parts passed"
