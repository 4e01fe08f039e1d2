"""The Python binding against a second session in the same process, over 127.0.0.1."""

import gc
import threading
import time

import pytest

import webrtc_session as w
from conftest import Collector, connect, wait_for


def test_version_matches_the_package():
    assert w.version() == "0.1.0"


def test_loopback_media_both_ways(config):
    with w.Session(config) as a, w.Session(config) as b:
        got_a, got_b = Collector(), Collector()
        a.on_rtp, b.on_rtp = got_a, got_b
        ta, tb = connect(a, b, w.MediaKind.VIDEO, (w.Codec.VP8,))
        assert a.dtls_version == "DTLSv1.2"
        assert a.remote_fingerprint == b.local_fingerprint
        assert {a.dtls_role, b.dtls_role} == {w.DtlsRole.CLIENT, w.DtlsRole.SERVER}
        local, remote = a.selected_candidate_pair
        assert "127.0.0.1" in local and "127.0.0.1" in remote
        for i in range(200):
            ta.send_media(i.to_bytes(4, "big") * 300, timestamp=i * 3000)
            tb.send_media(i.to_bytes(4, "big") * 250, timestamp=i * 3000)
            if i % 20 == 19:
                time.sleep(0.005)
        assert wait_for(lambda: len(got_a) == 200 and len(got_b) == 200), (len(got_a), len(got_b))
        payloads_b = sorted(p[-1200:] for _, p in got_b.items)
        assert payloads_b == sorted(i.to_bytes(4, "big") * 300 for i in range(200))
        assert all(track == tb.id for track, _ in got_b.items)
        assert b.stat(w.Stat.RTP_PACKETS_RECEIVED) == 200
        assert a.stats()["rtp_packets_sent"] == 200


def test_error_paths_raise_with_the_library_message(config):
    with w.Session(config) as s:
        with pytest.raises(w.InvalidSdpError) as e:
            s.set_remote_description(w.SdpType.OFFER, "v=0\r\nnonsense")
        assert e.value.name == "WRS_RESULT_INVALID_SDP"
        assert "malformed SDP" in str(e.value)
        with pytest.raises(w.InvalidStateError, match="create_answer needs signaling state have-remote-offer"):
            s.create_answer()
        with pytest.raises(w.InvalidStateError, match="call add_track or create_data_channel first"):
            s.create_offer()
        with pytest.raises(w.UnknownTrackError):
            s.send_media(99, b"x", 0)
        with pytest.raises(w.InvalidArgumentError, match="wrs_codec"):
            s.add_track(w.MediaKind.AUDIO, [99])
        with pytest.raises(w.NotAvailableError):
            _ = s.srtp_profile
        track = s.add_track(w.MediaKind.AUDIO, [w.Codec.OPUS])
        with pytest.raises(w.InvalidStateError, match="not negotiated"):
            track.send_media(b"x" * 10, 0)
        assert s.failure_reason is None
    with pytest.raises(w.ClosedError):
        s.create_offer()
    with pytest.raises(w.InvalidArgumentError, match="not an IP address"):
        w.Config(local_addresses=["nowhere"])


def test_no_callback_after_free(config):
    a, b = w.Session(config), w.Session(config)
    ta, _ = connect(a, b)
    freed = threading.Event()
    late = []
    calls = Collector()

    def on_rtp(track, packet):
        calls(track)
        time.sleep(0.0002)
        if freed.is_set():
            late.append(packet)

    b.on_rtp = on_rtp
    stop = threading.Event()

    def flood():
        while not stop.is_set():
            try:
                ta.send_media(bytes(160), 0)
            except w.WebRTCError:
                pass
            time.sleep(0.0002)

    sender = threading.Thread(target=flood)
    sender.start()
    assert wait_for(lambda: len(calls) > 20)
    b.free()
    freed.set()
    time.sleep(0.05)
    stop.set()
    sender.join()
    a.free()
    assert late == []


def test_callback_exceptions_are_reported_not_fatal(config, caplog):
    with w.Session(config) as a, w.Session(config) as b:
        ta, _ = connect(a, b)
        seen = Collector()

        def explode(track, packet):
            seen(track)
            raise RuntimeError("boom from a callback")

        b.on_rtp = explode
        for i in range(10):
            ta.send_media(bytes(160), i * 160)
        assert wait_for(lambda: len(seen) == 10)
        assert len(b.callback_errors) == 10
        assert isinstance(b.callback_errors[0], RuntimeError)
        assert "boom from a callback" in caplog.text
        b.on_rtp = None  # unregister; media keeps flowing without a callback
        ta.send_media(bytes(160), 0)
        assert wait_for(lambda: b.stat(w.Stat.RTP_PACKETS_RECEIVED) == 11)


def test_callbacks_survive_garbage_collection(config):
    with w.Session(config) as a, w.Session(config) as b:
        got = Collector()
        b.on_rtp = lambda track, packet: got(track)  # only the session holds the lambda
        ta, _ = connect(a, b)
        for i in range(20):
            gc.collect()
            ta.send_media(bytes(160), i * 160)
        assert wait_for(lambda: len(got) == 20)


def test_rtcp_calls_and_get_stats(config):
    """Keyframe requests each way, the round-trip time from the reports, getStats as a dict
    with the W3C types, and the RTCP switches in Config."""
    with w.Session(config) as a, w.Session(config) as b:
        asked = Collector()
        estimates = Collector()
        a.on_keyframe_request = asked
        a.on_bandwidth_estimate = estimates
        assert a.bandwidth_estimate is None
        ta, tb = connect(a, b, w.MediaKind.VIDEO, (w.Codec.VP8,))
        for i in range(60):
            ta.send_media(b"\x10\x00\x00\x00" + bytes(100), timestamp=i * 3000)
            tb.send_media(b"\x10\x00\x00\x00" + bytes(100), timestamp=i * 3000)
            time.sleep(0.01)
        b.request_keyframe(tb.id)
        assert wait_for(lambda: len(asked) == 1), "a heard b's keyframe request"
        assert asked.items[0] == (ta.id,)
        assert b.stat(w.Stat.KEYFRAME_REQUESTS_SENT) == 1 and a.stat(w.Stat.PLI_RECEIVED) == 1
        # Reports flow every second or so with video: an RTT appears.
        assert wait_for(lambda: a.round_trip_time is not None, 10)
        assert 0 <= a.round_trip_time < 1.0
        stats = a.get_stats()
        types = {v["type"] for v in stats.values()}
        assert {"codec", "outbound-rtp", "inbound-rtp", "transport", "candidate-pair", "certificate"} <= types, types
        out = next(v for v in stats.values() if v["type"] == "outbound-rtp")
        assert out["ssrc"] == ta.ssrc and out["packetsSent"] == 60 and out["kind"] == "video"
        assert ta.codec == (w.Codec.VP8, ta.payload_type, 90_000)
        # b's transport-wide feedback gave a a bandwidth estimate, told through the callback.
        assert wait_for(lambda: len(estimates) >= 1)
        assert a.bandwidth_estimate is not None and a.bandwidth_estimate >= 30_000
        assert a.stat(w.Stat.TRANSPORT_FEEDBACK_RECEIVED) >= 1
        pair = next(v for v in a.get_stats().values() if v["type"] == "candidate-pair")
        assert pair["availableOutgoingBitrate"] > 0
    quiet = w.Config(local_addresses=["127.0.0.1"], rtcp_reports=False, keyframe_requests=False, nack=False,
                     transport_cc=False)
    try:
        with w.Session(quiet) as s:
            s.add_track(w.MediaKind.VIDEO, [w.Codec.VP8])
            assert "a=rtcp-fb" not in s.create_offer()
    finally:
        quiet.free()
    with pytest.raises(w.WebRTCError):
        w.Config(nack_history=(0, 1000))
    with pytest.raises(w.WebRTCError):
        w.Config(bandwidth=(10_000, 50_000, 1_000_000))  # start below the floor


def test_library_logs_reach_python_logging(config, caplog):
    """log_to_python: the library's messages arrive on the ``webrtc_session.<area>`` loggers
    with Python levels; set_log_callback(None) stops them; a bad level is refused."""
    import logging

    caplog.set_level(logging.DEBUG, logger="webrtc_session")
    w.log_to_python(w.LogLevel.DEBUG)
    try:
        with w.Session(config) as a, w.Session(config) as b:
            connect(a, b, w.MediaKind.AUDIO, (w.Codec.OPUS,))
    finally:
        w.set_log_callback(None)
    by_logger = {(r.name, r.levelno) for r in caplog.records}
    assert ("webrtc_session.ice", logging.INFO) in by_logger, by_logger
    assert ("webrtc_session.dtls", logging.INFO) in by_logger, by_logger
    assert any(r.name == "webrtc_session.ice" and "selected pair" in r.getMessage() for r in caplog.records)
    assert any(r.name == "webrtc_session.session" and "-> Connected" in r.getMessage() for r in caplog.records)
    n = len(caplog.records)
    with w.Session(config) as c:
        c.add_track(w.MediaKind.AUDIO, [w.Codec.OPUS])
        c.set_local_description(w.SdpType.OFFER, c.create_offer())
    assert len(caplog.records) == n, "off after set_log_callback(None)"
    with pytest.raises(w.WebRTCError):
        w.set_log_callback(lambda *a: None, 7)


def test_polling_mode_with_asyncio(config):
    """Two sessions in polling mode driven by an asyncio loop reading their descriptors: the
    call connects, audio flows both ways and a channel message arrives, every event through
    next_event() on the loop's thread, none through a callback."""
    import asyncio

    async def run():
        loop = asyncio.get_running_loop()
        with w.Session(config) as a, w.Session(config) as b:
            calls = Collector()
            a.on_connection_state = calls  # registered, then superseded by polling mode
            logs = {a: [], b: []}
            done = asyncio.Event()
            peer = {a: b, b: a}
            threads = set()

            def readable(s):
                threads.add(threading.get_ident())
                for e in s.events():
                    logs[s].append(e)
                    if e.type == w.EventType.ICE_CANDIDATE:
                        peer[s].add_remote_candidate(e.text)
                    if e.type == w.EventType.CHANNEL_OPEN and s is a:
                        e.channel.send("hello from a")
                got = lambda s, t: sum(1 for e in logs[s] if e.type == t)  # noqa: E731
                if got(a, w.EventType.RTP) >= 10 and got(b, w.EventType.RTP) >= 10 and any(
                        e.type == w.EventType.CHANNEL_MESSAGE and e.data == b"hello from a" for e in logs[b]):
                    done.set()

            for s in (a, b):
                loop.add_reader(s.use_polling(), readable, s)
            try:
                ta = a.add_track(w.MediaKind.AUDIO, [w.Codec.OPUS])
                a.createDataChannel("chat")
                offer = a.create_offer()
                b.set_remote_description(w.SdpType.OFFER, offer)
                a.set_local_description(w.SdpType.OFFER, offer)
                tb = b.add_track(w.MediaKind.AUDIO, [w.Codec.OPUS])
                answer = b.create_answer()
                a.set_remote_description(w.SdpType.ANSWER, answer)
                b.set_local_description(w.SdpType.ANSWER, answer)
                for _ in range(300):
                    if a.connection_state == w.ConnectionState.CONNECTED and b.connection_state == w.ConnectionState.CONNECTED:
                        break
                    await asyncio.sleep(0.02)
                for i in range(10):
                    ta.send_media(bytes(160), timestamp=i * 960)
                    tb.send_media(bytes(160), timestamp=i * 960)
                await asyncio.wait_for(done.wait(), 10)
            finally:
                for s in (a, b):
                    loop.remove_reader(s.use_polling())
            assert len(calls) == 0, "no callback in polling mode"
            assert threads == {threading.get_ident()}, "events handled on the loop's thread only"
            states = [e.state for e in logs[a] if e.type == w.EventType.CONNECTION_STATE]
            assert states[-1] == w.ConnectionState.CONNECTED and isinstance(states[-1], w.ConnectionState)
            first_rtp = next(i for i, e in enumerate(logs[b]) if e.type == w.EventType.RTP)
            connected = next(i for i, e in enumerate(logs[b]) if e.type == w.EventType.CONNECTION_STATE and e.state == w.ConnectionState.CONNECTED)
            assert connected < first_rtp
            opened = next(e for e in logs[b] if e.type == w.EventType.DATA_CHANNEL)
            assert opened.channel is not None and opened.channel.label == "chat"
            assert a.stat(w.Stat.POLL_EVENTS_DROPPED) == 0

    asyncio.run(run())


def test_frames_by_callback_and_by_polling(config):
    """Whole frames back: b's on_frame gets a's VP8 frames (4,000 bytes, four packets each)
    as they were sent; in polling mode, after receive_frames(), FRAME events replace RTP."""
    with w.Session(config) as a, w.Session(config) as b:
        frames = Collector()
        b.on_frame = frames
        ta, tb = connect(a, b, w.MediaKind.VIDEO, (w.Codec.VP8,))
        sent = []
        for i in range(20):
            f = bytes([0x10 if i == 0 else 0x11]) + i.to_bytes(2, "big") * 2000
            sent.append(f[:4000])
            ta.send_frame(f[:4000], timestamp=i * 3000)
            time.sleep(0.002)
        assert wait_for(lambda: len(frames) == 20), len(frames)
        got = [f for (f,) in frames.items]
        assert [f.data for f in got] == sent
        assert [f.timestamp for f in got] == [i * 3000 for i in range(20)]
        assert got[0].keyframe and not any(f.keyframe for f in got[1:])
        assert all(f.codec == w.Codec.VP8 and f.track == tb.id and f.lost_packets == 0 for f in got)
        assert b.stat(w.Stat.FRAMES_RECEIVED) == 20 and b.stat(w.Stat.FRAMES_DROPPED) == 0
        inbound = [v for v in b.get_stats().values() if v["type"] == "inbound-rtp"]
        assert inbound[0]["framesReceived"] == 20, inbound

        # The other way in polling mode: frames instead of packets.
        a.use_polling()
        a.receive_frames(True)
        for i in range(5):
            tb.send_frame(bytes([0x10]) + bytes(2999), timestamp=i * 3000)
        events = []
        assert wait_for(lambda: events.extend(a.events()) or sum(e.type == w.EventType.FRAME for e in events) == 5), events
        kinds = {e.type for e in events}
        assert w.EventType.RTP not in kinds, kinds
        fr = [e.frame for e in events if e.type == w.EventType.FRAME]
        assert all(f.data == bytes([0x10]) + bytes(2999) and f.keyframe and f.codec == w.Codec.VP8 for f in fr)
        assert [f.timestamp for f in fr] == [i * 3000 for i in range(5)]
        with pytest.raises(w.InvalidArgumentError):
            w.Config(jitter_buffer=(0, True))
