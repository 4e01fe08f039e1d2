#!/usr/bin/env bash
# Firefox ESR interop (tests/interop/test_firefox.py) inside a network namespace of its own:
# Firefox gathers no loopback candidates, so the namespace gets a veth pair with both ends in
# it (10.213.0.1 for the library, 10.213.0.2 on the other end); nothing leaves the namespace.
# Firefox finds its default address by routing: the namespace has a default route into the
# veth pair, which leads nowhere outside it. The namespace is removed afterwards, also when the
# tests fail.
set -uo pipefail
cd "$(dirname "$0")/.."
ns="wrs-ff-$$"
cleanup() { ip netns del "$ns" 2>/dev/null; }
trap cleanup EXIT
ip netns add "$ns" || exit 1
ip netns exec "$ns" sh -c '
    ip link set lo up &&
    ip link add wrs0 type veth peer name wrs1 &&
    ip addr add 10.213.0.1/24 dev wrs0 &&
    ip addr add 10.213.0.2/24 dev wrs1 &&
    ip link set wrs0 up && ip link set wrs1 up &&
    ip route add default dev wrs1' || exit 1
ip netns exec "$ns" env WRS_NETNS_LIBRARY_ADDR=10.213.0.1 WRS_NETNS_PREFIX=10.213.0. \
    timeout 900 .venv/bin/python -m pytest -q "$@" tests/interop/test_firefox.py
