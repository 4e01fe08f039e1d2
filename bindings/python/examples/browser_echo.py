"""Browser echo demo: open the printed URL in a browser on this machine, allow the camera and
microphone, and see your own video come back through the library (the page's second video).

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

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--port", type=int, default=0, help="HTTP port on 127.0.0.1 (default: any free one)")
parser.add_argument("--seconds", type=float, default=0,
                    help="end after echoing this long once connected (default: run until Ctrl-C); "
                         "exits 1 if nothing was echoed")
args = parser.parse_args()

mailbox = Mailbox({"offerer": "library", "trickle": True}, port=args.port)
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
    for tick in range(10**9):
        while candidates:
            c, mid = candidates.pop(0)
            mailbox.send("candidate", candidate=c, mid=mid)
        for m in mailbox.drain("candidate"):
            parts = m["candidate"].split()
            if len(parts) > 4 and parts[4] == "127.0.0.1":
                peer.session.add_remote_candidate(m["candidate"])
        time.sleep(0.1)
        if peer.session.connection_state == w.ConnectionState.CONNECTED:
            connected_at = connected_at or time.monotonic()
            s = peer.session.stats()
            if tick % 20 == 0:
                print(f"echoed {s['rtp_packets_sent']} packets ({s['rtp_bytes_sent'] // 1024} KiB)", flush=True)
            if args.seconds and time.monotonic() - connected_at >= args.seconds:
                print(f"done: echoed {s['rtp_packets_sent']} packets", flush=True)
                sys.exit(0 if s["rtp_packets_sent"] > 0 else 1)
        elif peer.session.connection_state in (w.ConnectionState.FAILED, w.ConnectionState.CLOSED):
            print("connection:", peer.session.connection_state.name.lower(), peer.session.failure_reason, flush=True)
            sys.exit(1)
except KeyboardInterrupt:
    print()
finally:
    peer.session.free()
    mailbox.close()
