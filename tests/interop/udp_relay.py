"""A UDP relay on loopback between a browser and the library, for the RTCP interop tests: it
drops RTP (never RTCP, STUN or DTLS, so set-up and feedback are not what is measured) with a
seeded probability in each direction, delays every datagram by a fixed time, and can limit
the bandwidth each way (a bottleneck: a 200 ms queue drained at `rate_bps` towards the
library or `rate_to_browser` towards the browser, dropping what overflows it). The browser
is given a library candidate pointing at `for_browser`, the library a browser candidate
pointing at `for_library`."""

import heapq
import random
import select
import socket
import threading
import time


def is_rtp(d: bytes) -> bool:
    """RTP, not RTCP (RFC 5761 §4: RTCP packet types 192..223 in the second byte)."""
    return len(d) >= 12 and 128 <= d[0] <= 191 and not 192 <= d[1] <= 223


class UdpRelay:
    def __init__(self, library_addr, loss=0.05, delay=0.0, seed=1):
        self.library_addr = library_addr
        self.browser_addr = None
        self.loss, self.delay = loss, delay
        self.rate_bps = None  # towards the library; None: unlimited
        self.rate_to_browser = None
        self._free_at = {"to_library": 0.0, "to_browser": 0.0}
        self.random = random.Random(seed)
        self.browser_side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.library_side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for s in (self.browser_side, self.library_side):
            s.bind(("127.0.0.1", 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.for_browser = self.browser_side.getsockname()
        self.for_library = self.library_side.getsockname()
        self.dropped = {"to_library": 0, "to_browser": 0}
        self.forwarded = {"to_library": 0, "to_browser": 0}
        self._queue = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        n = 0
        while not self._stop:
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, sock, data, dest = heapq.heappop(self._queue)
                try:
                    sock.sendto(data, dest)
                except OSError:
                    pass
            timeout = max(0.0, self._queue[0][0] - now) if self._queue else 0.05
            ready, _, _ = select.select([self.browser_side, self.library_side], [], [], min(timeout, 0.05))
            for s in ready:
                data, src = s.recvfrom(65536)
                if s is self.browser_side:
                    out, dest, way = self.library_side, self.library_addr, "to_library"
                else:
                    out, dest, way = self.browser_side, self.browser_addr, "to_browser"
                if dest is None:
                    continue
                if is_rtp(data) and self.random.random() < self.loss:
                    self.dropped[way] += 1
                    continue
                due = time.monotonic()
                rate = self.rate_bps if way == "to_library" else self.rate_to_browser
                if rate:
                    start = max(due, self._free_at[way])
                    if start - due > 0.2:
                        self.dropped[way] += 1
                        continue
                    self._free_at[way] = start + len(data) * 8 / rate
                    due = self._free_at[way]
                self.forwarded[way] += 1
                n += 1
                heapq.heappush(self._queue, (due + self.delay, n, out, data, dest))

    def close(self):
        self._stop = True
        self._thread.join(timeout=5)
        self.browser_side.close()
        self.library_side.close()


def rewrite_candidates(sdp: str, real_prefix: str, to) -> tuple[str, tuple]:
    """Keeps the first UDP host candidate on `real_prefix` of `sdp`, pointed at `to` (host,
    port); drops every other candidate. Returns the new description and the real address."""
    out, real = [], None
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            p = line.split()
            if real is None and p[2].lower() == "udp" and p[4].startswith(real_prefix) and "typ host" in line:
                real = (p[4], int(p[5]))
                p[4], p[5] = to[0], str(to[1])
                out.append(" ".join(p))
            continue
        out.append(line)
    assert real is not None, sdp
    return "\r\n".join(out) + "\r\n", real
