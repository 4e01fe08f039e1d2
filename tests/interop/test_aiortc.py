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
