#!/usr/bin/env bash
# Runs each cargo-fuzz target for N seconds (default 20) from its seed corpus in fuzz/seeds,
# growing a scratch corpus in build/fuzz-corpus. Installs cargo-fuzz when missing. The machine
# has a stable toolchain only: RUSTC_BOOTSTRAP=1 lets it take the -Z sanitizer flags.
# Usage: scripts/fuzz.sh [seconds] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(set_remote_description add_remote_candidate datagram stun sctp rtcp frames)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    corpus="build/fuzz-corpus/$t"
    mkdir -p "$corpus"
    cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
    echo "== fuzz $t for ${secs}s"
    rm -rf fuzz/artifacts/"$t"
    log="build/fuzz-$t.log"
    set +e
    (cd fuzz && cargo fuzz run "$t" "../$corpus" -- -max_total_time="$secs" -rss_limit_mb=4096 -print_final_stats=1) >"$log" 2>&1
    rc=$?
    set -e
    grep -E "^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss|INFO: seed corpus)|ERROR|deadly signal|SUMMARY|panicked|^error" "$log" || true
    # libFuzzer writes crash-, leak-, timeout- and oom- artifacts; any of them is a failure.
    if [ "$rc" -ne 0 ] || ls fuzz/artifacts/"$t"/* >/dev/null 2>&1; then
        echo "fuzz $t: failed (exit $rc); last lines of $log:"
        tail -n 30 "$log"
        ls fuzz/artifacts/"$t" 2>/dev/null || true
        exit 1
    fi
done
