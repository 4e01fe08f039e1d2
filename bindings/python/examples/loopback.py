"""A complete call between two sessions in one process: offer/answer, trickle ICE, DTLS-SRTP,
then PCMU-sized audio both ways for one second. Run: python3 loopback.py

Callbacks come from library threads (both sessions' connection events from the same media
thread), so they only record what happened; the main thread does the waiting.
"""

import threading
import time

from webrtc_session import Codec, Config, ConnectionState, MediaKind, SdpType, Session

config = Config(local_addresses=["127.0.0.1"])
with Session(config) as offerer, Session(config) as answerer:
    received = {"offerer": 0, "answerer": 0}
    connected = {"offerer": threading.Event(), "answerer": threading.Event()}
    for name, me, peer in (("offerer", offerer, answerer), ("answerer", answerer, offerer)):
        me.on_ice_candidate = lambda c, mid, peer=peer: peer.add_remote_candidate(c)
        me.on_rtp = lambda track, packet, name=name: received.__setitem__(name, received[name] + 1)
        me.on_connection_state = lambda s, name=name: s == ConnectionState.CONNECTED and connected[name].set()

    t0 = time.monotonic()
    audio_a = offerer.add_track(MediaKind.AUDIO, [Codec.PCMU])
    offer = offerer.create_offer()
    answerer.set_remote_description(SdpType.OFFER, offer)  # before set_local: no candidate is early
    offerer.set_local_description(SdpType.OFFER, offer)
    audio_b = answerer.add_track(MediaKind.AUDIO, [Codec.PCMU])
    answer = answerer.create_answer()
    offerer.set_remote_description(SdpType.ANSWER, answer)
    answerer.set_local_description(SdpType.ANSWER, answer)
    if not all(e.wait(timeout=10) for e in connected.values()):
        raise SystemExit(f"not connected: {offerer.connection_state.name}, {answerer.connection_state.name}")
    print(f"connected in {(time.monotonic() - t0) * 1000:.1f} ms, SRTP {offerer.srtp_profile.name}, "
          f"offerer is DTLS {offerer.dtls_role.name.lower()}")

    for i in range(50):  # one second of 20 ms packets each way
        audio_a.send_media(bytes(160), timestamp=i * 160)
        audio_b.send_media(bytes(160), timestamp=i * 160)
        time.sleep(0.02)
    time.sleep(0.2)
    print(f"packets received: offerer {received['offerer']}/50, answerer {received['answerer']}/50")
    if min(received.values()) == 0:
        raise SystemExit("no media arrived")
