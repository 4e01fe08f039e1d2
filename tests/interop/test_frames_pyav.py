"""Real codecs between two library sessions on 127.0.0.1: PyAV encodes (libx265 H.265,
libopus Opus), session a packetizes (send_frame), session b's jitter buffer hands over whole
frames (on_frame) and PyAV decodes every one. H.265 is here rather than with Chromium, whose
build here offers no H.265."""

import fractions
import threading
import time

import av
import pytest

import webrtc_session as w
from conftest import record, wait_for


def two_sessions(kind, codec):
    cfg = w.Config(local_addresses=["127.0.0.1"])
    a, b = w.Session(cfg), w.Session(cfg)
    a.on_ice_candidate = lambda c, mid: b.add_remote_candidate(c)
    b.on_ice_candidate = lambda c, mid: a.add_remote_candidate(c)
    ta = a.add_track(kind, [codec])
    offer = a.create_offer()
    b.set_remote_description(w.SdpType.OFFER, offer)
    a.set_local_description(w.SdpType.OFFER, offer)
    b.add_track(kind, [codec])
    answer = b.create_answer()
    a.set_remote_description(w.SdpType.ANSWER, answer)
    b.set_local_description(w.SdpType.ANSWER, answer)
    return a, b, ta


def h265_frames(n, width=320, height=240):
    c = av.CodecContext.create("libx265", "w")
    c.width, c.height, c.pix_fmt = width, height, "yuv420p"
    c.time_base = fractions.Fraction(1, 30)
    c.bit_rate = 600_000
    c.options = {"preset": "ultrafast", "tune": "zerolatency", "x265-params": "keyint=30:bframes=0:log-level=error"}
    out = []
    for i in range(n):
        f = av.VideoFrame(width, height, "yuv420p")
        f.planes[0].update(bytes((x * 5 + i * 9) % 256 for x in range(f.planes[0].buffer_size)))
        for p in f.planes[1:]:
            p.update(bytes([(100 + 3 * i) % 256]) * p.buffer_size)
        f.pts = i
        out += [bytes(p) for p in c.encode(f)]
    out += [bytes(p) for p in c.encode(None)]
    return out[:n]


def opus_frames(n):
    c = av.CodecContext.create("libopus", "w")
    c.sample_rate, c.layout, c.format = 48000, "stereo", "s16"
    c.bit_rate = 64_000
    out, pts = [], 0
    for i in range(n):
        f = av.AudioFrame(format="s16", layout="stereo", samples=960)
        f.planes[0].update(bytes((k * 7 + i) % 256 for k in range(960 * 4)))
        f.sample_rate, f.pts = 48000, pts
        pts += 960
        out += [bytes(p) for p in c.encode(f)]
    return out[:n]


@pytest.mark.parametrize("codec", [w.Codec.H265, w.Codec.OPUS], ids=["h265", "opus"])
def test_real_frames_between_two_sessions_decode(codec):
    video = codec == w.Codec.H265
    frames = h265_frames(60) if video else opus_frames(100)
    step = 3000 if video else 960
    got, lock = [], threading.Lock()
    a, b, ta = two_sessions(w.MediaKind.VIDEO if video else w.MediaKind.AUDIO, codec)
    try:
        def on_frame(f):
            with lock:
                got.append(f)

        b.on_frame = on_frame
        assert wait_for(lambda: a.connection_state == w.ConnectionState.CONNECTED and b.connection_state == w.ConnectionState.CONNECTED)
        assert ta.codec[0] == codec
        for i, f in enumerate(frames):
            ta.send_frame(f, timestamp=i * step)
            time.sleep(0.005)
        assert wait_for(lambda: len(got) == len(frames), 10), (len(got), len(frames))
        packets = a.stat(w.Stat.RTP_PACKETS_SENT)
        dropped = b.stat(w.Stat.FRAMES_DROPPED)
    finally:
        a.free()
        b.free()
    decoder = av.CodecContext.create("hevc" if video else "opus", "r")
    decoded, errors = 0, []
    for f in got:
        try:
            decoded += len(decoder.decode(av.Packet(f.data)))
        except av.error.FFmpegError as e:
            errors.append((f.timestamp, str(e)))
    if video:
        try:
            decoded += len(decoder.decode(None))
        except av.error.FFmpegError as e:
            errors.append(("flush", str(e)))
    # Annex B may use 3- or 4-byte start codes; the NAL units must be the same.
    nals = (lambda d: [n.rstrip(b"\0") for n in d.replace(b"\0\0\0\1", b"\0\0\1").split(b"\0\0\1") if n]) if video else (lambda d: [d])
    assert [nals(f.data) for f in got] == [nals(f) for f in frames], "every frame whole and in order"
    facts = dict(peer="library", scenario=f"PyAV {'libx265' if video else 'libopus'} frames through send_frame and on_frame",
                 frames=len(frames), packets=packets, largest_frame=max(len(f) for f in frames),
                 keyframes=sum(f.keyframe for f in got), dropped=dropped, pyav_decoded=decoded, pyav_errors=len(errors))
    record(**facts)
    print(facts)
    assert not errors, errors[:5]
    assert decoded >= len(frames) - 1, facts
    if video:
        assert got[0].keyframe and packets > len(frames), facts
