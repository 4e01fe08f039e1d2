"""Interop with aiortc (PyPI): offers both ways, media both ways, aiortc counts the frames it
decodes; a tampered fingerprint fails on our side with nothing delivered."""

import asyncio
import contextlib
import re
import socket
import time

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

import webrtc_session as w
from conftest import LibraryPeer, loopback_only, record, wait_for

# aioice skips 127.0.0.1 and would offer only the machine's other addresses.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

MEDIA_SECONDS = 4


class FrameCounter:
    def __init__(self):
        self.frames = {"audio": 0, "video": 0}
        self.tasks = []

    def attach(self, pc: RTCPeerConnection):
        @pc.on("track")
        def on_track(track):
            self.tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track):
        try:
            while True:
                await track.recv()
                self.frames[track.kind] += 1
        except Exception:
            pass


async def run_media(lib: LibraryPeer, pc: RTCPeerConnection, counter: FrameCounter, scenario: str, offerer: str):
    connected = await asyncio.get_running_loop().run_in_executor(None, lib.wait_connected)
    assert connected, lib.session.failure_reason
    await asyncio.sleep(MEDIA_SECONDS)
    audio, video = lib.stream("audio"), lib.stream("video")
    facts = dict(
        peer="aiortc 1.16", scenario=scenario, offerer=offerer,
        srtp=lib.session.srtp_profile.name, dtls_role=lib.session.dtls_role.name.lower(),
        setup_ms=round((lib.t_connected - lib.t0) * 1000, 1),
        lib_rx_audio=audio.packets, lib_rx_video=video.packets, vp8_descriptors_ok=video.vp8_ok,
        peer_frames_audio=counter.frames["audio"], peer_frames_video=counter.frames["video"],
        audio_codec_pts=sorted(audio.payload_types), video_codec_pts=sorted(video.payload_types),
    )
    record(**facts)
    print(facts)
    # Audio 20 ms packets and 30 fps video for MEDIA_SECONDS, with generous margins.
    assert audio.packets > 50 * MEDIA_SECONDS * 0.6, facts
    assert audio.in_order > audio.packets * 0.9, facts
    assert video.packets > 30 * MEDIA_SECONDS * 0.6, facts
    assert video.vp8_ok == video.packets, facts
    assert lib.echo_errors == 0, facts
    assert counter.frames["video"] > 30 * MEDIA_SECONDS * 0.4, facts
    assert counter.frames["audio"] > 50 * MEDIA_SECONDS * 0.4, facts


@contextlib.asynccontextmanager
async def call(dtls_role=w.DtlsRole.AUTO, shared_port=0):
    """A library peer and an aiortc peer whose received frames are counted; both closed after."""
    lib = LibraryPeer(dtls_role=dtls_role, shared_port=shared_port)
    pc = RTCPeerConnection()
    counter = FrameCounter()
    counter.attach(pc)
    try:
        yield lib, pc, counter
    finally:
        for t in counter.tasks:
            t.cancel()
        await pc.close()
        lib.close()


async def library_offers(dtls_role):
    async with call(dtls_role) as (lib, pc, counter):
        lib.add_tracks(video=(w.Codec.VP8,))
        offer = lib.session.create_offer()
        lib.session.set_local_description(w.SdpType.OFFER, offer)
        offer = lib.complete_local_description()
        lib.learn_vp8_payload_types(offer)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        lib.session.set_remote_description(w.SdpType.ANSWER, loopback_only(pc.localDescription.sdp))
        await run_media(lib, pc, counter, "library offers, aiortc answers", "library")


async def aiortc_offer_to(lib: LibraryPeer, pc: RTCPeerConnection) -> str:
    """aiortc offers audio and video, the library answers; returns the library's answer."""
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    offer = loopback_only(pc.localDescription.sdp)
    lib.learn_vp8_payload_types(offer)
    lib.t0 = time.monotonic()
    lib.session.set_remote_description(w.SdpType.OFFER, offer)
    lib.add_tracks(video=(w.Codec.VP8,))
    answer = lib.session.create_answer()
    lib.session.set_local_description(w.SdpType.ANSWER, answer)
    answer = lib.complete_local_description()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return answer


async def aiortc_offers():
    async with call() as (lib, pc, counter):
        await aiortc_offer_to(lib, pc)
        await run_media(lib, pc, counter, "aiortc offers, library answers", "aiortc")


def test_two_aiortc_peers_on_one_shared_library_port():
    """Two library sessions on one UDP port (wrs_config_set_shared_port), each called by its own
    aiortc peer at the same time: each gets its own media, both ways."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def scenario():
        async with call(shared_port=port) as (lib1, pc1, c1), call(shared_port=port) as (lib2, pc2, c2):
            for lib, pc in ((lib1, pc1), (lib2, pc2)):
                answer = await aiortc_offer_to(lib, pc)
                hosts = re.findall(r"a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host", answer)
                assert hosts == [str(port)], answer
            await asyncio.gather(
                run_media(lib1, pc1, c1, "two aiortc peers on one shared library port (1 of 2)", "aiortc"),
                run_media(lib2, pc2, c2, "two aiortc peers on one shared library port (2 of 2)", "aiortc"),
            )
            for lib in (lib1, lib2):
                assert lib.session.stat(w.Stat.SRTP_UNPROTECT_FAILURES) == 0

    asyncio.run(scenario())


def test_library_offers_as_dtls_server():
    # aiortc answers a=setup:active, so the offering library is the DTLS server.
    asyncio.run(library_offers(w.DtlsRole.AUTO))


def test_aiortc_offers_library_answers_as_dtls_client():
    asyncio.run(aiortc_offers())


def test_tampered_fingerprint_fails_with_nothing_delivered():
    async def scenario():
        async with call() as (lib, pc, _):
            lib.add_tracks(video=(w.Codec.VP8,))
            lib.session.set_local_description(w.SdpType.OFFER, lib.session.create_offer())
            offer = lib.complete_local_description()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            pc.addTrack(AudioStreamTrack())
            pc.addTrack(VideoStreamTrack())
            await pc.setLocalDescription(await pc.createAnswer())
            answer = loopback_only(pc.localDescription.sdp)
            marker = "a=fingerprint:sha-256 "
            at = answer.index(marker) + len(marker)
            tampered = answer[:at] + ("0" if answer[at] != "0" else "1") + answer[at + 1:]
            lib.session.set_remote_description(w.SdpType.ANSWER, tampered)
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: wait_for(lambda: lib.session.connection_state == w.ConnectionState.FAILED, 15)
            )
            assert lib.session.connection_state == w.ConnectionState.FAILED
            assert "fingerprint mismatch" in lib.session.failure_reason
            await asyncio.sleep(1)
            assert lib.session.stat(w.Stat.RTP_PACKETS_RECEIVED) == 0
            assert lib.streams == {}
            record(peer="aiortc 1.16", scenario="tampered a=fingerprint", offerer="library",
                   result="failed as expected: " + lib.session.failure_reason[:60])

    asyncio.run(scenario())


# -- data channels ----------------------------------------------------------------------------

async def poll(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def data_scenario(library_offers: bool, dtls_role, scenario: str):
    """Data only, with aiortc: channels both ways (in band and pre-negotiated), 1,000 messages
    each way byte for byte, 64 KB and 256 KB messages (as aiortc's max-message-size allows), unordered, closes
    from each side."""
    from datachannels import ChannelLog, library_message, pattern

    lib = LibraryPeer(dtls_role=dtls_role)
    pc = RTCPeerConnection()
    remote = {}
    lib.session.on_datachannel = lambda ch: remote.setdefault(ch.label, ChannelLog(ch))
    aio_channels = {}

    def aio_echo(ch):
        aio_channels[ch.label] = ch
        ch.on("message", lambda m: ch.send(m))

    pc.on("datachannel", aio_echo)
    try:
        lib_neg = ChannelLog(lib.session.createDataChannel("negotiated", negotiated=True, id=3))
        aio_neg = pc.createDataChannel("negotiated", negotiated=True, id=3)
        if library_offers:
            mine = ChannelLog(lib.session.createDataChannel("lib-reliable"))
            unordered = ChannelLog(lib.session.createDataChannel("lib-unordered", ordered=False, maxRetransmits=0))
            lib.t0 = time.monotonic()
            lib.session.set_local_description(w.SdpType.OFFER, lib.session.create_offer())
            offer = lib.complete_local_description()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            lib.session.set_remote_description(w.SdpType.ANSWER, loopback_only(pc.localDescription.sdp))
        else:
            aio_echo(pc.createDataChannel("aio-reliable"))
            aio_echo(pc.createDataChannel("aio-unordered", ordered=False, maxRetransmits=0))
            await pc.setLocalDescription(await pc.createOffer())
            lib.t0 = time.monotonic()
            lib.session.set_remote_description(w.SdpType.OFFER, loopback_only(pc.localDescription.sdp))
            lib.session.set_local_description(w.SdpType.ANSWER, lib.session.create_answer())
            answer = lib.complete_local_description()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            assert await poll(lambda: {"aio-reliable", "aio-unordered"} <= set(remote)), list(remote)
            mine, unordered = remote["aio-reliable"], remote["aio-unordered"]
        assert await poll(lambda: all(c.channel.readyState == "open" for c in (mine, unordered, lib_neg))), lib.session.failure_reason
        assert lib.session.dtls_role == dtls_role if dtls_role != w.DtlsRole.AUTO else True
        t_open = time.monotonic()
        expected = [library_message(i) for i in range(1000)]
        for m in expected:
            while mine.channel.bufferedAmount > 1 << 20:
                await asyncio.sleep(0.002)
            mine.channel.send(m)
        for i in range(1000):
            aio_neg.send(f"page {i}" if i % 2 == 0 else pattern(i, 1000))
            if i % 50 == 0:
                await asyncio.sleep(0)
        assert await poll(lambda: mine.count() >= 1000 and lib_neg.count() >= 1000, 60), (mine.count(), lib_neg.count())
        assert mine.copy()[:1000] == expected
        assert lib_neg.copy() == [f"page {i}" if i % 2 == 0 else pattern(i, 1000) for i in range(1000)]
        seconds = time.monotonic() - t_open
        # As large as aiortc's a=max-message-size allows; one byte more is refused.
        peer_sdp = lib.session.remote_description
        peer_max = int(re.search(r"a=max-message-size:(\d+)", peer_sdp).group(1))
        large = [n for n in (64 * 1024, 256 * 1024) if n <= peer_max]
        for n in large:
            mine.channel.send(pattern(n, n))
        with pytest.raises(w.PacketRejectedError):
            mine.channel.send(b"z" * (peer_max + 1))
        assert await poll(lambda: mine.count() >= 1000 + len(large), 30)
        assert mine.copy()[1000:] == [pattern(n, n) for n in large]
        for i in range(100):
            unordered.channel.send(f"u{i}")
        await poll(lambda: unordered.count() >= 100, 10)
        back = unordered.copy()
        assert back and len(back) == len(set(back)) and set(back) <= {f"u{i}" for i in range(100)}
        # aiortc opens a channel now; then each side closes one.
        late = pc.createDataChannel("aio-late")
        assert await poll(lambda: "aio-late" in remote)
        late.close()
        assert await poll(lambda: remote["aio-late"].closed.is_set()), "aiortc's close was not seen"
        target = aio_channels.get("lib-reliable") if library_offers else aio_channels["aio-reliable"]
        mine.channel.close()
        assert await poll(lambda: target.readyState == "closed"), "aiortc did not see the library's close"
        record(peer="aiortc 1.16", scenario=scenario, offerer="library" if library_offers else "aiortc",
               dtls_role=lib.session.dtls_role.name.lower(), messages_each_way=1000, messages_s=round(seconds, 2),
               large=large, peer_max_message_size=peer_max, unordered_back=len(back))
        assert lib.session.callback_errors == []
    finally:
        await pc.close()
        lib.close()


def test_data_channels_library_offers_aiortc_answers():
    asyncio.run(data_scenario(True, w.DtlsRole.AUTO, "data only: library offers (DTLS server), aiortc answers"))


def test_data_channels_aiortc_offers_library_answers_as_dtls_client():
    asyncio.run(data_scenario(False, w.DtlsRole.CLIENT, "data only: aiortc offers, library answers as DTLS client"))


def test_nack_rtx_and_reports_with_aiortc_through_a_lossy_relay():
    """Through udp_relay.py (5 % of RTP dropped each way, 20 ms each way): the library NACKs
    what aiortc's video loses and unwraps aiortc's RTX; aiortc NACKs our echo and the library
    answers from its history; aiortc's remote-inbound-rtp shows our report's loss and RTT."""
    from udp_relay import UdpRelay, rewrite_candidates

    async def scenario():
        async with call() as (lib, pc, counter):
            offer = lib.offer_complete()
            _, library_addr = rewrite_candidates(offer, "127.0.0.1", ("127.0.0.1", 9))
            relay = UdpRelay(library_addr, loss=0, delay=0.020, seed=3)
            try:
                offer_for_aiortc, _ = rewrite_candidates(offer, "127.0.0.1", relay.for_browser)
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_for_aiortc, type="offer"))
                pc.addTrack(AudioStreamTrack())
                pc.addTrack(VideoStreamTrack())
                await pc.setLocalDescription(await pc.createAnswer())
                answer = pc.localDescription.sdp
                assert re.search(r"a=rtcp-fb:\d+ nack\r\n", answer) and "apt=" in answer, answer
                answer_for_library, aiortc_addr = rewrite_candidates(answer, "127.0.0.1", relay.for_library)
                relay.browser_addr = aiortc_addr
                lib.session.set_remote_description(w.SdpType.ANSWER, answer_for_library)
                connected = await asyncio.get_running_loop().run_in_executor(None, lib.wait_connected)
                assert connected, lib.session.failure_reason
                await asyncio.sleep(1)
                relay.loss = 0.05
                await asyncio.sleep(8)
                st = lib.session.stats()
                remote = [s for s in (await pc.getStats()).values() if s.type == "remote-inbound-rtp" and s.kind == "video"]
                facts = dict(
                    peer="aiortc 1.16", scenario="rtcp through a 5 % lossy relay, 20 ms each way",
                    library_nacks_sent=st["nack_sent"], library_rtx_unwrapped=st["rtx_packets_received"],
                    library_nacks_received=st["nack_received"], library_retransmitted=st["retransmitted_packets_sent"],
                    library_rtt_ms=round((lib.session.round_trip_time or 0) * 1000, 1),
                    aiortc_frames_video=counter.frames["video"],
                    aiortc_remote_fraction_lost=remote[0].fractionLost if remote else None,
                    aiortc_remote_rtt=remote[0].roundTripTime if remote else None,
                    relay_dropped=dict(relay.dropped),
                )
                record(**facts)
                print(facts)
                assert relay.dropped["to_library"] > 0 and relay.dropped["to_browser"] > 0, facts
                assert st["nack_sent"] > 0 and st["rtx_packets_received"] > 0, facts
                assert st["nack_received"] > 0 and st["retransmitted_packets_sent"] > 0, facts
                assert remote and remote[0].fractionLost is not None, facts
                assert lib.session.round_trip_time is not None and lib.session.round_trip_time >= 0.038, facts
                assert lib.echo_errors == 0, facts
            finally:
                relay.close()

    asyncio.run(scenario())
