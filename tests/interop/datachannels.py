"""Data channels against a browser page (tests/interop/pages/datachannel.html), shared by the
Chromium and Firefox tests: the library and the page open channels both ways (in band, and one
pre-negotiated), move 1,000 messages each way checked byte for byte, 64 KB and 256 KB messages,
an unordered zero-retransmit channel, channels opened by the peer, and closes from each side."""

import threading
import time
from pathlib import Path

import webrtc_session as w
from conftest import LibraryPeer, loopback_only, record, wait_for

from mailbox import Mailbox  # noqa: E402  (on sys.path through conftest)

PAGE = (Path(__file__).parent / "pages" / "datachannel.html").read_bytes()
COUNT = 1000


def pattern(i: int, size: int) -> bytes:
    return bytes(((k * 7 + i) & 0xFF) for k in range(size))


def library_message(i: int):
    return f"library {i} " + "x" * (i % 300) if i % 2 == 0 else bytes(((i + k) & 0xFF) for k in range(1 + i % 1000))


class ChannelLog:
    """What one channel received, in order, and its events."""

    def __init__(self, channel: w.DataChannel):
        self.channel = channel
        self.messages = []
        self.closed = threading.Event()
        self.lock = threading.Lock()
        channel.on("message", self._on_message)
        channel.on("close", self.closed.set)

    def _on_message(self, m):
        with self.lock:
            self.messages.append(m)

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def copy(self) -> list:
        with self.lock:
            return list(self.messages)


def send_paced(ch: w.DataChannel, message) -> None:
    """Sends, waiting while more than 1 MB is buffered (the library refuses past 16 MB)."""
    while ch.bufferedAmount > 1 << 20:
        time.sleep(0.002)
    ch.send(message)


def run_data(browser_cls, offerer: str, dtls_role=w.DtlsRole.AUTO, media=False, peer="Chromium 156",
             scenario="", local_address="127.0.0.1", prefix="127.0.0.1"):
    from test_chromium import exchange_candidates

    lib = LibraryPeer(dtls_role=dtls_role, local_address=local_address)
    remote = {}
    remote_lock = threading.Lock()

    def on_datachannel(ch):
        with remote_lock:
            remote[ch.label] = ChannelLog(ch)

    lib.session.on_datachannel = on_datachannel
    mb = Mailbox({"offerer": "page" if offerer == "browser" else "library", "media": media}, page=PAGE)
    browser = browser_cls(mb.url)
    try:
        mb.receive("ready", timeout=120)
        negotiated = ChannelLog(lib.session.createDataChannel("negotiated", negotiated=True, id=3))
        own = {}
        if offerer == "library":
            if media:
                lib.add_tracks()
            own["reliable"] = ChannelLog(lib.session.createDataChannel("lib-reliable", protocol="echo"))
            own["unordered"] = ChannelLog(lib.session.createDataChannel("lib-unordered", ordered=False, maxRetransmits=0))
            lib.t0 = time.monotonic()
            offer = lib.session.create_offer()
            lib.session.set_local_description(w.SdpType.OFFER, offer)
            mb.send("description", type="offer", sdp=offer)
            answer = mb.receive("description", timeout=30)
            remote_sdp = answer["sdp"]
            lib.session.set_remote_description(w.SdpType.ANSWER, loopback_only(remote_sdp, prefix))
        else:
            offer = mb.receive("description", timeout=30)
            remote_sdp = offer["sdp"]
            lib.t0 = time.monotonic()
            lib.session.set_remote_description(w.SdpType.OFFER, loopback_only(remote_sdp, prefix))
            if media:
                lib.add_tracks()
            answer = lib.session.create_answer()
            lib.session.set_local_description(w.SdpType.ANSWER, answer)
            mb.send("description", type="answer", sdp=answer)
        sent = 0
        deadline = time.monotonic() + 30
        while lib.session.connection_state not in (w.ConnectionState.CONNECTED, w.ConnectionState.FAILED):
            assert time.monotonic() < deadline, (lib.session.failure_reason, lib.candidates, browser.log_tail())
            sent = exchange_candidates(lib, mb, sent, True, prefix)
            time.sleep(0.01)
        assert lib.session.connection_state == w.ConnectionState.CONNECTED, lib.session.failure_reason
        if offerer == "browser":
            assert wait_for(lambda: {"page-reliable", "page-unordered"} <= set(remote), 30), list(remote)
            own["reliable"], own["unordered"] = remote["page-reliable"], remote["page-unordered"]
            assert not own["unordered"].channel.ordered and own["unordered"].channel.maxRetransmits == 0
        for log in (*own.values(), negotiated):
            assert log.channel.wait_open(30), log.channel.label
        t_open = time.monotonic()
        reliable, unordered = own["reliable"], own["unordered"]

        # 1,000 messages from the library, echoed by the page: order and bytes checked.
        expected = [library_message(i) for i in range(COUNT)]
        for m in expected:
            send_paced(reliable.channel, m)
        # 1,000 messages from the page on the pre-negotiated channel.
        mb.send("burst", label="negotiated", count=COUNT, size=1000)
        ok = wait_for(lambda: reliable.count() >= COUNT and negotiated.count() >= COUNT, 60)
        assert ok, (reliable.count(), negotiated.count())
        assert reliable.copy()[:COUNT] == expected, "echoed messages differ"
        from_page = negotiated.copy()
        assert from_page == [f"page {i}" if i % 2 == 0 else pattern(i, 1000) for i in range(COUNT)], "page messages differ"
        t_messages = time.monotonic() - t_open

        # Large messages, as far as the page's max-message-size allows.
        stats = None
        mb.send("stats")
        stats = mb.receive("stats", timeout=10)
        page_max = stats.get("maxMessageSize") or 65536
        big = [n for n in (64 * 1024, 256 * 1024) if n <= page_max]
        for n in big:
            send_paced(reliable.channel, pattern(n, n))
        assert wait_for(lambda: reliable.count() >= COUNT + len(big), 60), reliable.count()
        got_big = reliable.copy()[COUNT:]
        assert got_big == [pattern(n, n) for n in big], [len(m) for m in got_big]

        # Unordered, no retransmissions: what comes back is never duplicated or corrupted.
        for i in range(200):
            send_paced(unordered.channel, f"u{i}:" + "y" * (i % 50))
        wait_for(lambda: unordered.count() >= 200, 10)
        back = unordered.copy()
        assert len(back) == len(set(back)) and back, back[:5]
        assert all(m == f"u{int(m[1:m.index(':')])}:" + "y" * (int(m[1:m.index(':')]) % 50) for m in back)

        # A channel the page opens now, then closes; and one the library closes.
        mb.send("open", label="page-late")
        assert wait_for(lambda: "page-late" in remote, 30), list(remote)
        late = remote["page-late"]
        assert late.channel.wait_open(10)
        mb.send("close", label="page-late")
        assert late.closed.wait(30), "the page's close was not seen"
        assert late.channel.readyState == "closed"
        unordered.channel.close()
        closed_label = unordered.channel.label
        deadline = time.monotonic() + 30
        page_closed = False
        while not page_closed and time.monotonic() < deadline:
            for m in mb.drain("channel"):
                if m.get("event") == "close" and m.get("label") == closed_label:
                    page_closed = True
            time.sleep(0.05)
        assert page_closed, "the page did not see the library's close"
        assert unordered.closed.wait(10)
        if media:
            assert wait_for(lambda: lib.stream("audio").packets > 20 and lib.stream("video").packets > 10, 20)
        mb.send("stats")
        stats = mb.receive("stats", timeout=10)
        facts = dict(
            peer=peer, scenario=scenario, offerer=offerer, dtls_role=lib.session.dtls_role.name.lower(), media=media,
            setup_ms=round((lib.t_connected - lib.t0) * 1000, 1), messages_each_way=COUNT,
            messages_s=round(t_messages, 2), large=big, page_max_message_size=page_max,
            unordered_back=len(back), page_channels=stats.get("channels", []),
        )
        record(**facts)
        print(facts)
        assert lib.session.callback_errors == [], lib.session.callback_errors
        return facts
    finally:
        browser.close()
        mb.close()
        lib.close()
