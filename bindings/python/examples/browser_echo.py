"""Browser echo demo: open the printed URL in a browser on this machine, allow the camera and
microphone, and see your camera and its echo through the library side by side, with the
library's live figures (packets and bitrate each way, round-trip time, the selected pair,
DTLS and SRTP).

    python3 browser_echo.py [--port 8080]

The library offers (trickle ICE) and echoes every RTP packet back on its own tracks. One call
per run; Ctrl-C ends it. Only 127.0.0.1 candidates are used, so browser and demo must share
the machine (Chromium needs --allow-loopback-in-peer-connection to gather loopback candidates).
"""

import argparse
import sys
import time
from pathlib import Path

import webrtc_session as w

sys.path.insert(0, str(Path(__file__).parent / "browser"))
from echo import EchoPeer  # noqa: E402
from mailbox import Mailbox  # noqa: E402

DEMO_PAGE = (Path(__file__).parent / "browser" / "demo.html").read_bytes()


def figures(session: w.Session, before: dict, seconds: float) -> tuple[dict, dict]:
    """The library's figures for the page, and the counters they were computed from."""
    s = session.stats()
    rate = lambda key: round((s[key] - before.get(key, 0)) * 8 / 1000 / max(seconds, 1e-3), 1)  # noqa: E731
    local, remote = session.selected_candidate_pair
    rtt = session.round_trip_time
    f = dict(
        packets_received=s["rtp_packets_received"], packets_sent=s["rtp_packets_sent"],
        kbps_in=rate("rtp_bytes_received"), kbps_out=rate("rtp_bytes_sent"),
        rtt_ms=None if rtt is None else round(rtt * 1000, 1),
        pair_local=" ".join(local.split()[4:6]), pair_remote=" ".join(remote.split()[4:6]),
        dtls=session.dtls_version, dtls_role=session.dtls_role.name.lower(), srtp=session.srtp_profile.name,
    )
    return f, s

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--port", type=int, default=0, help="HTTP port on 127.0.0.1 (default: any free one)")
parser.add_argument("--seconds", type=float, default=0,
                    help="end after echoing this long once connected (default: run until Ctrl-C); "
                         "exits 1 if nothing was echoed")
args = parser.parse_args()

mailbox = Mailbox({"offerer": "library", "trickle": True}, port=args.port, page=DEMO_PAGE)
print(f"open {mailbox.url} in a browser on this machine", flush=True)

config = w.Config(local_addresses=["127.0.0.1"])
peer = EchoPeer(config)
# Candidates are signalled after the offer (a browser refuses a candidate that arrives before
# the description it belongs to); they come from a library thread, the main loop sends them.
candidates = []
peer.session.on_ice_candidate = lambda c, mid: candidates.append((c, mid))
peer.session.on_connection_state = lambda s: print("connection:", s.name.lower())
try:
    mailbox.receive("ready", timeout=3600)
    peer.add_tracks()
    offer = peer.session.create_offer()
    peer.session.set_local_description(w.SdpType.OFFER, offer)
    mailbox.send("description", type="offer", sdp=offer)
    answer = mailbox.receive("description", timeout=60)
    peer.session.set_remote_description(w.SdpType.ANSWER, answer["sdp"])
    connected_at = None
    counters, counted_at, playing = {}, time.monotonic(), None
    for tick in range(10**9):
        while candidates:
            c, mid = candidates.pop(0)
            mailbox.send("candidate", candidate=c, mid=mid)
        for m in mailbox.drain("candidate"):
            parts = m["candidate"].split()
            if len(parts) > 4 and parts[4] == "127.0.0.1":
                peer.session.add_remote_candidate(m["candidate"])
        for m in mailbox.drain("echo"):
            if m.get("playing") and playing is None:
                playing = m
                print(f"page: the echo plays ({m['width']}x{m['height']}, at {m['time']:.1f} s)", flush=True)
        time.sleep(0.1)
        if peer.session.connection_state == w.ConnectionState.CONNECTED:
            connected_at = connected_at or time.monotonic()
            s = peer.session.stats()
            if tick % 10 == 0:
                now = time.monotonic()
                f, counters = figures(peer.session, counters, now - counted_at)
                counted_at = now
                mailbox.send("figures", **f)
            if tick % 20 == 0:
                print(f"echoed {s['rtp_packets_sent']} packets ({s['rtp_bytes_sent'] // 1024} KiB)", flush=True)
            if args.seconds and time.monotonic() - connected_at >= args.seconds and playing is not None:
                print(f"done: echoed {s['rtp_packets_sent']} packets", flush=True)
                sys.exit(0 if s["rtp_packets_sent"] > 0 else 1)
            if args.seconds and time.monotonic() - connected_at >= args.seconds + 20:
                print("done: the page never reported the echo playing", flush=True)
                sys.exit(1)
        elif peer.session.connection_state in (w.ConnectionState.FAILED, w.ConnectionState.CLOSED):
            print("connection:", peer.session.connection_state.name.lower(), peer.session.failure_reason, flush=True)
            sys.exit(1)
except KeyboardInterrupt:
    print()
finally:
    peer.session.free()
    mailbox.close()
