#!/usr/bin/env bash
# `make bench`: the library's figures (bench/bench.c, through the C ABI) next to the limit
# measured in the same run (bench/limit.c: OpenSSL protect in place + sendto / UDP GSO), as a
# table with ratios, and as JSON in build/bench.json. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-100}
./build/limit 50000 > build/limit.txt
./build/bench "$pairs" > build/bench.txt
cargo bench --locked --bench alloc 2>/dev/null | grep '^bench ' >> build/bench.txt
python3 - "$pairs" <<'PY'
import json, sys
limit = {}
for line in open("build/limit.txt"):
    _, profile, payload, mode, ns = line.split()
    limit[(profile, int(payload), mode)] = float(ns)
figures = {}
for line in open("build/bench.txt"):
    _, name, value, unit = line.split(maxsplit=3)
    figures[name] = (float(value), unit.strip())
print(f"{'figure':48} {'value':>10}  unit")
for name, (value, unit) in figures.items():
    extra = ""
    if name.startswith("receive_") and not name.startswith("receive_loss"):
        profile, payload = name[len("receive_"):].rsplit("_", 1)
        floor = limit[(profile, int(payload), "recv")]
        extra = f"   limit {floor:.0f} ns (recv + unprotect): ratio {value / floor:.2f}x"
    if name.startswith("send_rtp_"):
        batch = name.startswith("send_rtp_batch_")
        profile, payload = name[len("send_rtp_batch_" if batch else "send_rtp_"):].rsplit("_", 1)
        floor = limit[(profile, int(payload), "gso" if batch else "single")]
        extra = f"   limit {floor:.0f} ns ({'protect + GSO' if batch else 'protect + sendto'}): ratio {value / floor:.2f}x"
    print(f"{name:48} {value:>10.1f}  {unit}{extra}")
json.dump({"figures": {k: {"value": v, "unit": u} for k, (v, u) in figures.items()},
           "limit_ns": {f"{p}_{s}_{m}": v for (p, s, m), v in limit.items()}},
          open("build/bench.json", "w"), indent=1)
print("written: build/bench.json")
PY
