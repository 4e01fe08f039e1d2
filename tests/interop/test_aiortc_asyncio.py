"""The library's aiortc-shaped asyncio API (webrtc_session.aio) against aiortc itself, in one
event loop: aiortc's usual data channel example with only the imports changed on our side,
plus an audio transceiver whose RTP from aiortc arrives through ``track.recv()``. Every
handler runs on the loop's thread (polling mode underneath)."""

import asyncio
import threading

import aioice.ice
from aiortc import RTCPeerConnection as AiortcPeerConnection
from aiortc import RTCSessionDescription as AiortcDescription
from aiortc.mediastreams import AudioStreamTrack

import webrtc_session as w
from conftest import record
from webrtc_session.aio import RTCPeerConnection, RTCSessionDescription

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


def test_aio_api_with_aiortc():
    async def run():
        config = w.Config(local_addresses=["127.0.0.1"])
        pc = RTCPeerConnection(config=config)
        config.free()
        theirs = AiortcPeerConnection()
        theirs.addTrack(AudioStreamTrack())
        loop_thread = threading.get_ident()
        threads, states, got = set(), [], asyncio.get_running_loop().create_future()
        packets = []

        channel = pc.createDataChannel("chat")

        @channel.on("open")
        def on_open():
            threads.add(threading.get_ident())
            channel.send("ping")

        @channel.on("message")
        def on_message(message):
            threads.add(threading.get_ident())
            if not got.done():
                got.set_result(message)

        @pc.on("connectionstatechange")
        async def on_state():
            threads.add(threading.get_ident())
            states.append(pc.connectionState)

        @pc.on("track")
        def on_track(track):
            async def consume():
                while len(packets) < 20:
                    packets.append(await track.recv())
            asyncio.ensure_future(consume())

        @theirs.on("datachannel")
        def on_datachannel(c):
            @c.on("message")
            def echo(message):
                c.send("pong: " + message)

        audio = pc.addTransceiver("audio", direction="sendrecv")
        try:
            await pc.setLocalDescription(await pc.createOffer())
            assert "a=candidate:" in pc.localDescription.sdp, "complete once gathering is done"
            await theirs.setRemoteDescription(AiortcDescription(sdp=pc.localDescription.sdp, type="offer"))
            await theirs.setLocalDescription(await theirs.createAnswer())
            await pc.setRemoteDescription(RTCSessionDescription(sdp=theirs.localDescription.sdp, type="answer"))
            message = await asyncio.wait_for(got, 30)
            for _ in range(200):
                if len(packets) >= 20:
                    break
                await asyncio.sleep(0.05)
            stats = await pc.getStats()
            facts = dict(peer="aiortc", scenario="webrtc_session.aio with aiortc: data channel and audio",
                         message=message, states=states, rtp_packets=len(packets), mid=audio.mid,
                         stats_types=sorted({v["type"] for v in stats.values()}))
            record(**facts)
            print(facts)
            assert message == "pong: ping", facts
            assert pc.connectionState == "connected" and "connected" in states, facts
            assert len(packets) >= 20 and all(p[0] >> 6 == 2 for p in packets), facts
            assert audio.receiver is not None and audio.receiver.kind == "audio", facts
            assert {"inbound-rtp", "candidate-pair", "data-channel"} <= set(facts["stats_types"]), facts
            assert threads == {loop_thread}, "handlers ran on the loop's thread only"
            assert pc.session.stat(w.Stat.POLL_EVENTS_DROPPED) == 0
        finally:
            await pc.close()
            await theirs.close()
        assert pc.connectionState == "closed"

    asyncio.run(run())
