"""References for the data channel figures of `make bench`, measured in the same run: two
Chromium peers in one page (libwebrtc's SCTP) and two aiortc peers in one process, each moving
a reliable ordered channel's worth of 64 KB messages over loopback. Prints `bench` lines.
Run with the test virtualenv: .venv/bin/python scripts/bench-peers.py [megabytes]"""

import asyncio
import sys
import time
from pathlib import Path

root = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(root / "tests" / "interop"))
sys.path.insert(0, str(root / "bindings" / "python"))

megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 64


def chromium_pair() -> float:
    from test_chromium import Browser  # noqa: E402 (conftest puts the mailbox on sys.path)
    from mailbox import Mailbox

    page = (root / "tests" / "interop" / "pages" / "sctp_pair.html").read_bytes()
    mb = Mailbox({"megabytes": megabytes}, page=page)
    browser = Browser(mb.url)
    try:
        r = mb.receive("result", timeout=300)
        return r["bytes"] / (r["ms"] / 1000) / 1e6
    finally:
        browser.close()
        mb.close()


async def aiortc_pair(mb: int) -> float:
    import aioice.ice
    from aiortc import RTCPeerConnection

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    a, b = RTCPeerConnection(), RTCPeerConnection()
    total, size = mb * 1024 * 1024, 65536
    got = {"bytes": 0, "start": 0.0, "end": 0.0}
    finished = asyncio.Event()

    @b.on("datachannel")
    def on_dc(ch):
        @ch.on("message")
        def on_message(m):
            if not got["start"]:
                got["start"] = time.monotonic()
            got["bytes"] += len(m)
            if got["bytes"] >= total:
                got["end"] = time.monotonic()
                finished.set()

    ch = a.createDataChannel("bench")
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    while ch.readyState != "open":
        await asyncio.sleep(0.01)
    chunk = b"\x5a" * size
    sent = 0
    while sent < total:
        if ch.bufferedAmount > 4 << 20:
            await asyncio.sleep(0.001)
            continue
        ch.send(chunk)
        sent += size
    await asyncio.wait_for(finished.wait(), 600)
    await a.close()
    await b.close()
    return got["bytes"] / (got["end"] - got["start"]) / 1e6


import conftest  # noqa: E402,F401  (sets up sys.path for the browser helpers)

print(f"bench data_throughput_chromium_pair_64k {chromium_pair():.1f} MB/s")
print(f"bench data_throughput_aiortc_pair_64k {asyncio.run(aiortc_pair(max(1, megabytes // 8))):.1f} MB/s")
