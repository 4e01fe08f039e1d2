"""Whole frames sent by the library (send_frame) to headless Chromium: PyAV encodes real
frames (libvpx VP8, libx264 H.264), the library packetizes them (RFC 7741; RFC 6184 STAP-A and
FU-A), and Chromium's getStats shows them decoded. (Issue #14's first payload formats.)"""

import fractions
import time

import pytest

import av
import webrtc_session as w

from conftest import record
from test_chromium_rtcp import relayed_call, stats_of

FRAMES = 90
FPS = 30


ENCODERS = {
    "vp8": ("libvpx", {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}),
    # Constrained baseline (what the library's H.264 fmtp, 42e01f, negotiates), Annex B.
    "h264": ("libx264", {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "bframes": "0"}),
}


def encoded_frames(codec: str, n: int, width=320, height=240):
    """`n` frames of a moving picture from the encoder (the first a keyframe)."""
    name, options = ENCODERS[codec]
    c = av.CodecContext.create(name, "w")
    c.width, c.height, c.pix_fmt = width, height, "yuv420p"
    c.time_base = fractions.Fraction(1, FPS)
    c.bit_rate = 800_000
    c.options = options
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


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_frames_from_pyav_decode_in_chromium(codec):
    frames = encoded_frames(codec, FRAMES)
    assert len(frames) == FRAMES and max(len(f) for f in frames) > 1200, [len(f) for f in frames[:5]]
    video = (w.Codec.VP8,) if codec == "vp8" else (w.Codec.H264,)
    with relayed_call(video=video) as (lib, mb, relay):
        assert lib.video.codec[0] == video[0], lib.answer
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
        facts = dict(peer="Chromium", scenario=f"send_frame: PyAV {ENCODERS[codec][0]} frames packetized by the library",
                     frames_sent=FRAMES, packets=packets, largest_frame=max(len(f) for f in frames),
                     chromium_frames_decoded=decoded - before)
        record(**facts)
        print(facts)
        assert packets > FRAMES, facts  # some frames needed more than one packet
        # Chromium may decode a few of its own echoed frames too; ours are what it must decode.
        assert decoded - before >= 0.95 * FRAMES, facts
