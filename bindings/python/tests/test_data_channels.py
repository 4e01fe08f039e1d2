"""Data channels through the Python binding (aiortc's shape), between two library sessions."""

import threading

import pytest

import webrtc_session as w
from conftest import wait_for


def negotiate_data(offerer: w.Session, answerer: w.Session):
    offerer.on_ice_candidate = lambda c, mid: answerer.add_remote_candidate(c)
    answerer.on_ice_candidate = lambda c, mid: offerer.add_remote_candidate(c)
    offer = offerer.create_offer()
    answerer.set_remote_description(w.SdpType.OFFER, offer)
    offerer.set_local_description(w.SdpType.OFFER, offer)
    answer = answerer.create_answer()
    offerer.set_remote_description(w.SdpType.ANSWER, answer)
    answerer.set_local_description(w.SdpType.ANSWER, answer)


def test_channels_in_aiortc_shape(config):
    with w.Session(config) as a, w.Session(config) as b:
        remote = []
        got = []
        lock = threading.Lock()

        @b.on("datachannel")
        def on_datachannel(channel):
            remote.append(channel)

            @channel.on("message")
            def on_message(message):
                with lock:
                    got.append(message)
                channel.send(message)  # echo, from inside the callback

        chat = a.createDataChannel("chat", protocol="json")
        assert chat.readyState == "connecting" and chat.label == "chat" and chat.protocol == "json"
        echoed = []
        chat.on("message", echoed.append)
        opened = threading.Event()
        chat.on("open", opened.set)
        negotiate_data(a, b)
        assert opened.wait(30) and chat.readyState == "open"
        assert wait_for(lambda: remote, 30)
        peer = remote[0]
        assert (peer.label, peer.protocol, peer.id) == ("chat", "json", chat.id)
        assert peer.ordered and peer.maxRetransmits is None and not peer.negotiated

        for i in range(200):
            chat.send(f"text {i}")
            chat.send(bytes([i % 256]) * (i + 1))
        chat.send("")
        chat.send(b"")
        big = bytes(range(256)) * 1024  # 256 KB
        chat.send(big)
        assert wait_for(lambda: len(echoed) == 403, 60), len(echoed)
        expected = [x for i in range(200) for x in (f"text {i}", bytes([i % 256]) * (i + 1))] + ["", b"", big]
        assert got == expected
        assert echoed == expected
        assert isinstance(echoed[0], str) and isinstance(echoed[1], bytes)

        with pytest.raises(w.PacketRejectedError, match="max-message-size"):
            chat.send(b"x" * (256 * 1024 + 1))

        # Unreliable and negotiated channels.
        fast = a.createDataChannel("fast", ordered=False, maxRetransmits=0)
        neg_a = a.createDataChannel("neg", negotiated=True, id=42)
        neg_b = b.createDataChannel("neg", negotiated=True, id=42)
        assert neg_a.id == 42 and neg_a.negotiated
        assert wait_for(lambda: len(remote) == 2 and neg_a.readyState == "open" and neg_b.readyState == "open", 30)
        assert not remote[1].ordered and remote[1].maxRetransmits == 0
        from_b = []
        neg_a.on("message", from_b.append)
        neg_b.send(b"pre-negotiated")
        assert wait_for(lambda: from_b == [b"pre-negotiated"], 30)
        assert fast.maxRetransmits == 0

        # Close from the offerer: both sides see it.
        closed = threading.Event()
        peer.on("close", closed.set)
        chat.close()
        assert closed.wait(30) and chat.wait_closed(30)
        assert chat.readyState == "closed" and chat.label == "chat"
        with pytest.raises(w.InvalidStateError):
            chat.send("late")
        assert a.callback_errors == [] and b.callback_errors == []


def test_buffered_amount_low_paces_a_sender(config):
    with w.Session(config) as a, w.Session(config) as b:
        received = []
        b.on_datachannel = lambda ch: ch.on("message", lambda m: received.append(len(m)))
        ch = a.create_data_channel("file")
        negotiate_data(a, b)
        assert ch.wait_open(30)
        ch.bufferedAmountLowThreshold = 256 * 1024
        low = threading.Event()
        ch.on("bufferedamountlow", low.set)
        chunk = b"\x5a" * 65536
        for _ in range(64):  # 4 MB
            while ch.bufferedAmount > 1024 * 1024:
                low.clear()
                if ch.bufferedAmount > 1024 * 1024:
                    assert low.wait(30)
            ch.send(chunk)
        assert wait_for(lambda: len(received) == 64, 60), len(received)
        assert ch.bufferedAmountLowThreshold == 256 * 1024
