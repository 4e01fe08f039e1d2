"""Frames between the library and headless Chromium, with real codecs.

Send: PyAV encodes real frames (libvpx VP8 and VP9, libx264 H.264, SVT-AV1), the library
packetizes them (send_frame: RFC 7741, RFC 9628, RFC 6184 STAP-A and FU-A, the AV1 payload
format), and Chromium's getStats shows them decoded.

Receive: Chromium encodes its fake camera (VP8, VP9, H.264, AV1), the library's jitter buffer
hands over whole frames (on_frame) through a lossy relay with NACK, and PyAV decodes them."""

import fractions
import threading
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
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "row-mt": "1"}),
    # Low-delay: no hidden frames, every temporal unit one shown frame.
    "av1": ("libsvtav1", {"preset": "12", "svtav1-params": "pred-struct=1:rc=2:keyint=90"}),
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


@pytest.mark.parametrize("codec", ["vp8", "h264", "vp9", "av1"])
def test_frames_from_pyav_decode_in_chromium(codec):
    frames = encoded_frames(codec, FRAMES)
    assert len(frames) == FRAMES and max(len(f) for f in frames) > 1200, [len(f) for f in frames[:5]]
    video = ({"vp8": w.Codec.VP8, "h264": w.Codec.H264, "vp9": w.Codec.VP9, "av1": w.Codec.AV1}[codec],)
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


def video_frames_dropped(lib):
    """framesDropped of the library's video inbound-rtp (getStats): the audio's lost
    packets are frames too, but not the ones this test counts."""
    ours = lib.session.get_stats().values()
    return sum(v.get("framesDropped", 0) for v in ours if v["type"] == "inbound-rtp" and v["kind"] == "video")


DECODERS = {w.Codec.VP8: "vp8", w.Codec.VP9: "vp9", w.Codec.H264: "h264", w.Codec.AV1: "libdav1d"}
RECEIVE_SECONDS = 6
RECEIVE_LOSS = 0.02


@pytest.mark.parametrize("codec", [w.Codec.VP8, w.Codec.VP9, w.Codec.H264, w.Codec.AV1], ids=lambda c: c.name.lower())
def test_chromiums_frames_arrive_whole_and_decode_in_pyav(codec):
    """Chromium's fake camera, encoded by Chromium, through the relay with 2 % loss each way
    and NACK on: the library's jitter buffer hands over frames (on_frame), PyAV decodes every
    one without an error, and at least 99 % of the frames the library saw begin are whole."""
    frames, lock = [], threading.Lock()
    with relayed_call(video=(codec,)) as (lib, mb, relay):
        assert lib.video.codec[0] == codec, lib.answer

        def on_frame(f):
            if lib.kinds.get(f.track) == "video":
                with lock:
                    frames.append(f)

        lib.session.on_frame = on_frame
        # Frames start with a keyframe: the deltas before it are held back and a keyframe
        # is asked for. The lossy window starts once that is over.
        time.sleep(1.0)
        dropped_before = video_frames_dropped(lib)
        with lock:
            before = len(frames)
        relay.loss = RECEIVE_LOSS
        sent_before = stats_of(mb).get("outbound", {}).get("video", {}).get("framesSent", 0)
        time.sleep(RECEIVE_SECONDS)
        relay.loss = 0
        time.sleep(1.0)  # what the loss left waiting is repaired or given up by now
        lib.session.on_frame = None
        sent = stats_of(mb).get("outbound", {}).get("video", {}).get("framesSent", 0) - sent_before
        st = lib.session.stats()
        dropped = video_frames_dropped(lib) - dropped_before
        with lock:
            got = list(frames)
    decoder = av.CodecContext.create(DECODERS[codec], "r")
    decoded, errors = 0, []
    for f in got:
        try:
            decoded += len(decoder.decode(av.Packet(f.data)))
        except av.error.FFmpegError as e:  # noqa: PERF203 - each frame's own verdict
            errors.append((f.timestamp, f.keyframe, len(f.data), str(e)))
    try:
        decoded += len(decoder.decode(None))
    except av.error.FFmpegError as e:
        errors.append(("flush", str(e)))
    lossy = len(got) - before
    whole_share = lossy / max(1, lossy + dropped)
    facts = dict(peer="Chromium", scenario=f"Chromium's {codec.name} frames received by the library (2 % loss, NACK)",
                 chromium_frames_sent=sent, library_frames=len(got), library_frames_in_lossy_window=lossy, keyframes=sum(f.keyframe for f in got),
                 library_frames_dropped=dropped, library_packets_lost_all_tracks=st["frame_packets_lost"],
                 library_nack_recovered=st["nack_recovered"], pyav_decoded=decoded, pyav_errors=len(errors),
                 whole_share=round(whole_share, 4))
    record(**facts)
    print(facts)
    assert got and got[0].keyframe, facts
    assert not errors, (facts, errors[:5])
    assert decoded >= len(got) - 2, facts  # a decoder may hold the last frame or two back
    assert whole_share >= 0.99, facts
    assert lossy >= 0.9 * sent, facts  # the frames Chromium sent in the window arrived
    assert st["nack_recovered"] > 0, facts
