"""Whole frames sent by the library (send_frame: RFC 7741 packetization of VP8) to headless
Chromium: PyAV's libvpx encodes real frames, the library packetizes them, and Chromium's
getStats shows them decoded. (Issue #14's first payload format; the others follow.)"""

import fractions
import time

import av

from conftest import record
from test_chromium_rtcp import relayed_call, stats_of

FRAMES = 90
FPS = 30


def encoded_vp8_frames(n: int, width=320, height=240):
    """`n` VP8 frames of a moving picture from libvpx (the first a keyframe)."""
    c = av.CodecContext.create("libvpx", "w")
    c.width, c.height, c.pix_fmt = width, height, "yuv420p"
    c.time_base = fractions.Fraction(1, FPS)
    c.bit_rate = 800_000
    c.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out = []
    for i in range(n):
        f = av.VideoFrame(width, height, "yuv420p")
        y = bytes((x * 3 + i * 7 + (x // 17) * (i % 5)) % 256 for x in range(f.planes[0].buffer_size))
        f.planes[0].update(y)
        for p in f.planes[1:]:
            p.update(bytes([(128 + i) % 256]) * p.buffer_size)
        f.pts = i
        out += [bytes(p) for p in c.encode(f)]
    out += [bytes(p) for p in c.encode(None)]
    return out[:n]


def test_vp8_frames_from_pyav_decode_in_chromium():
    frames = encoded_vp8_frames(FRAMES)
    assert len(frames) == FRAMES and max(len(f) for f in frames) > 1200, [len(f) for f in frames[:5]]
    with relayed_call() as (lib, mb, relay):
        lib.pause_echo = True  # only the library's own frames go to Chromium
        time.sleep(1.0)
        before = stats_of(mb).get("inbound", {}).get("video", {}).get("framesDecoded", 0)
        sent_before = lib.session.stats()["rtp_packets_sent"]
        t0 = time.monotonic()
        for i, frame in enumerate(frames):
            lib.video.send_frame(frame, timestamp=i * (90_000 // FPS))
            delay = t0 + (i + 1) / FPS - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        decoded = before
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.5)
            decoded = stats_of(mb).get("inbound", {}).get("video", {}).get("framesDecoded", 0)
            if decoded - before >= FRAMES:
                break
        packets = lib.session.stats()["rtp_packets_sent"] - sent_before
        facts = dict(peer="Chromium", scenario="send_frame: PyAV libvpx VP8 frames, RFC 7741 packetization",
                     frames_sent=FRAMES, packets=packets, largest_frame=max(len(f) for f in frames),
                     chromium_frames_decoded=decoded - before)
        record(**facts)
        print(facts)
        assert packets > FRAMES, facts  # some frames needed more than one packet
        # Chromium may decode a few of its own echoed frames too; ours are what it must decode.
        assert decoded - before >= 0.95 * FRAMES, facts
