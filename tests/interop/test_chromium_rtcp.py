"""RTCP with headless Chromium through the tests' lossy UDP relay (udp_relay.py; 5 % of RTP
dropped each way, 20 ms each way): Chromium sends its fake camera to the library, which asks
for what the relay dropped (generic NACK) and echoes what arrives; Chromium retransmits over
RTX, the library unwraps it. Chromium's getStats() must show our NACKs (outbound nackCount,
retransmittedPacketsSent), its own NACKs answered by the library's send history (inbound
nackCount, the library's retransmission counter), our reports (remote-inbound-rtp
fractionLost near the relay's loss) and a keyframe request each way."""

import contextlib
import threading
import time

import webrtc_session as w
from conftest import LibraryPeer, record
from test_chromium import Browser, chromium_binary
from udp_relay import UdpRelay, rewrite_candidates

from mailbox import Mailbox  # noqa: E402  (on sys.path through conftest)

LOSS = 0.05
DELAY = 0.020
MEDIA_SECONDS = 8


class RtcpPeer(LibraryPeer):
    """Logs (arrival, ssrc, seq) of received video; can pause the video echo (which leaves a
    hole the history cannot fill, so Chromium has to ask for a keyframe)."""

    def __init__(self, transport_cc=True):
        super().__init__(transport_cc=transport_cc)
        self.video_log = []
        self.pause_echo = False
        self.keyframe_callbacks = 0
        self.session.on_keyframe_request = self._on_keyframe

    def _on_keyframe(self, track):
        self.keyframe_callbacks += 1
        self.request_keyframe_from_browser()

    def request_keyframe_from_browser(self):
        try:
            self.session.request_keyframe(self.video.id)
        except w.WebRTCError:
            pass

    def on_rtcp(self, packet):
        pass  # the library answers keyframe requests through on_keyframe_request

    def on_rtp(self, track, packet):
        if self.kinds.get(track) == "video":
            with self.lock:
                self.video_log.append((time.monotonic(), int.from_bytes(packet[8:12], "big"), int.from_bytes(packet[2:4], "big")))
            if self.pause_echo:
                with self.lock:
                    self.streams.setdefault(track, None)
                return
        super().on_rtp(track, packet)


def coverage(log, until):
    """Of the video sequence numbers up to the highest that arrived before `until`, the share
    that arrived at all (by the end of the log), for the SSRC that sent most."""
    by_ssrc = {}
    for _, ssrc, _ in log:
        by_ssrc[ssrc] = by_ssrc.get(ssrc, 0) + 1
    ssrc = max(by_ssrc, key=by_ssrc.get)
    high_ext, high_seq, seen, top = None, None, set(), None
    for t, s, seq in log:
        if s != ssrc:
            continue
        if high_ext is None:
            ext = seq
        else:
            d = (seq - high_seq) & 0xFFFF
            ext = high_ext + (d if d < 0x8000 else d - 0x10000)
        if high_ext is None or ext > high_ext:
            high_ext, high_seq = ext, seq
        seen.add(ext)
        if t <= until:
            top = ext if top is None else max(top, ext)
    low = min(seen)
    expected = top - low + 1
    got = sum(1 for x in seen if x <= top)
    return got / expected, got, expected


def stats_of(mb):
    mb.send("stats")
    return mb.receive("stats", timeout=10)


def connect_through_relay(lib, mb, video=(w.Codec.VP8,)):
    """The library offers `video` (+ audio) to the page through a new UdpRelay (no loss yet,
    20 ms each way); returns the relay once both are connected."""
    offer = lib.offer_complete(video=video)
    _, library_addr = rewrite_candidates(offer, "127.0.0.1", ("127.0.0.1", 9))
    relay = UdpRelay(library_addr, loss=0, delay=DELAY, seed=5)
    try:
        offer_for_browser, _ = rewrite_candidates(offer, "127.0.0.1", relay.for_browser)
        mb.send("description", type="offer", sdp=offer_for_browser)
        answer = mb.receive("description", timeout=30)["sdp"]
        answer_for_library, browser_addr = rewrite_candidates(answer, "127.0.0.1", relay.for_library)
        relay.browser_addr = browser_addr
        lib.session.set_remote_description(w.SdpType.ANSWER, answer_for_library)
        assert lib.wait_connected(30), (lib.session.failure_reason, lib.session.stats(), relay.forwarded)
        lib.offer, lib.answer = offer, answer
        return relay
    except BaseException:
        relay.close()
        raise


@contextlib.contextmanager
def relayed_call(transport_cc=True, video=(w.Codec.VP8,)):
    """The library (RtcpPeer) and Chromium's page connected through a UdpRelay; yields the
    library peer, the mailbox and the relay, and stops them all afterwards."""
    chromium_binary()
    lib = RtcpPeer(transport_cc=transport_cc)
    mb = Mailbox({"offerer": "library", "trickle": False, "bundlePolicy": "max-bundle"})
    browser = Browser(mb.url)
    relay = None
    try:
        mb.receive("ready", timeout=120)
        relay = connect_through_relay(lib, mb, video=video)
        yield lib, mb, relay
    finally:
        browser.close()
        mb.close()
        if relay:
            relay.close()
        lib.close()


def test_nack_rtx_reports_and_keyframes_with_chromium_through_a_lossy_relay():
    with relayed_call() as (lib, mb, relay):
        assert "a=rtcp-fb:96 nack\r\n" in lib.offer and "apt=96" in lib.offer, lib.offer
        assert "a=rtcp-fb:96 nack\r\n" in lib.answer and "apt=96" in lib.answer, "Chromium accepted NACK and RTX"
        time.sleep(1.0)
        relay.loss = LOSS  # set-up is done; media from now on crosses a lossy path
        t_start = time.monotonic()
        time.sleep(MEDIA_SECONDS)
        until = time.monotonic() - 1.0  # what arrived by then has had a second to be repaired
        # A keyframe request each way: ours to Chromium, and Chromium's after a hole in the
        # echo that no retransmission can fill.
        lib.request_keyframe_from_browser()
        lib.pause_echo = True
        time.sleep(2.0)
        lib.pause_echo = False
        s = {}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            time.sleep(0.5)
            s = stats_of(mb)
            if s.get("outbound", {}).get("video", {}).get("pliCount", 0) >= 1 and lib.keyframe_callbacks >= 1:
                break
        with lib.lock:
            log = list(lib.video_log)
        share, got, expected = coverage(log, until)
        st = lib.session.stats()
        ours = lib.session.get_stats()
        our_in = [v for v in ours.values() if v["type"] == "inbound-rtp" and v["kind"] == "video"]
        our_out = [v for v in ours.values() if v["type"] == "outbound-rtp" and v["kind"] == "video"]
        out_v = s.get("outbound", {}).get("video", {})
        in_v = s.get("inbound", {}).get("video", {})
        remote_v = s.get("remoteInbound", {}).get("video", {})
        facts = dict(
            peer="Chromium", scenario="rtcp through a 5 % lossy relay, 20 ms each way", seconds=round(time.monotonic() - t_start, 1),
            library_delivered=f"{got}/{expected}", library_delivered_share=round(share, 4),
            library_nacks_sent=st["nack_sent"], library_nack_sequences=st["nack_sequences_sent"],
            library_rtx_unwrapped=st["rtx_packets_received"], library_retransmitted=st["retransmitted_packets_sent"],
            library_nack_unanswered=st["nack_requests_unanswered"], library_keyframe_callbacks=lib.keyframe_callbacks,
            library_rtt_ms=round((lib.session.round_trip_time or 0) * 1000, 1),
            chromium_outbound_nack=out_v.get("nackCount"), chromium_retransmitted=out_v.get("retransmittedPacketsSent"),
            chromium_outbound_pli=out_v.get("pliCount"), chromium_frames_encoded=out_v.get("framesEncoded"),
            chromium_inbound_nack=in_v.get("nackCount"), chromium_frames_decoded=in_v.get("framesDecoded"),
            chromium_inbound_pli=in_v.get("pliCount"), chromium_rtx_received=in_v.get("retransmittedPacketsReceived"),
            chromium_remote_fraction_lost=remote_v.get("fractionLost"), chromium_remote_rtt=remote_v.get("roundTripTime"),
            relay_dropped=dict(relay.dropped),
            our_inbound_nack=sum(v.get("nackCount", 0) for v in our_in),
            our_outbound_nack=sum(v.get("nackCount", 0) for v in our_out),
        )
        record(**facts)
        print(facts)
        # Chromium → library: our NACKs reach Chromium, which retransmits over RTX; we unwrap.
        assert share >= 0.995, facts
        assert facts["chromium_outbound_nack"] > 0 and facts["chromium_retransmitted"] > 0, facts
        assert facts["library_rtx_unwrapped"] > 0, facts
        # library → Chromium: Chromium's NACKs are answered from our history.
        assert facts["chromium_inbound_nack"] > 0 and facts["library_retransmitted"] > 0, facts
        # Our receiver reports: Chromium's remote-inbound-rtp sees the relay's loss.
        # (fractionLost covers only the last report interval, which can be loss-free at ~30
        # packets a second; the cumulative count cannot.)
        assert remote_v.get("fractionLost") is not None and 0.0 <= remote_v["fractionLost"] < 0.2, facts
        assert remote_v.get("packetsLost", 0) > 0, facts
        # Our round-trip time includes the relay's 2 × 20 ms.
        assert lib.session.round_trip_time is not None and lib.session.round_trip_time >= 2 * DELAY - 0.002, facts
        # A keyframe request each way.
        assert facts["chromium_outbound_pli"] >= 1, facts
        assert lib.keyframe_callbacks >= 1, facts
        assert lib.echo_errors == 0, (lib.echo_errors, lib.last_echo_error)
        # Our getStats agrees with Chromium's: the NACKs we sent are the ones it received.
        assert our_in and facts["our_inbound_nack"] == st["nack_sent"], (our_in, facts)
        assert abs(facts["our_inbound_nack"] - facts["chromium_outbound_nack"]) <= max(3, facts["chromium_outbound_nack"] // 10), facts
        assert our_out and abs(facts["our_outbound_nack"] - facts["chromium_inbound_nack"]) <= max(3, facts["chromium_inbound_nack"] // 10), facts


def bandwidth_run(transport_cc: bool):
    """Chromium's availableOutgoingBitrate on a clean path after 10 s, then after 10 s of a
    100 kbit/s bottleneck towards the library."""
    with relayed_call(transport_cc) as (lib, mb, relay):
        samples = []
        for phase, seconds in (("clean", 10), ("limited", 10)):
            if phase == "limited":
                relay.rate_bps = 100_000
            time.sleep(seconds)
            pair = stats_of(mb).get("pair", {})
            samples.append((phase, pair.get("availableOutgoingBitrate")))
        return dict(samples), lib.session.stats(), dict(relay.dropped), lib.answer


def test_transport_wide_feedback_drives_chromiums_bandwidth_estimate():
    on, st_on, dropped, answer = bandwidth_run(True)
    assert "transport-cc" in answer and "transport-wide-cc" in answer, answer
    off, st_off, _, _ = bandwidth_run(False)
    facts = dict(peer="Chromium", scenario="transport-wide feedback, clean path then a 100 kbit/s bottleneck",
                 with_feedback=on, without_feedback=off, bottleneck_dropped=dropped["to_library"])
    record(**facts)
    print(facts)
    # Our feedback lets Chromium's estimate grow on a clean path (it stays near its start
    # without), and fall to the bottleneck when the relay limits the path.
    assert on["clean"] and off["clean"] and on["clean"] > 800_000 and on["clean"] > 1.5 * off["clean"], facts
    assert on["limited"] is not None and on["limited"] < 0.3 * on["clean"], facts
    # The feedback itself: RTCP sent other than reports, NACKs and keyframe requests (NACKs
    # vary with what the bottleneck drops, so the raw totals do not compare).
    feedback = lambda st: st["rtcp_packets_sent"] - st["rtcp_reports_sent"] - st["nack_sent"] - st["keyframe_requests_sent"]  # noqa: E731
    assert feedback(st_on) > feedback(st_off) + 50, (feedback(st_on), feedback(st_off), st_on, st_off)



def send_video_at(lib, rate_bps, stop):
    """Sends 1,200-byte VP8-framed packets on the library's video track at `rate_bps` until
    `stop` is set (Chromium's feedback covers them whether or not they decode)."""
    payload = b"\x10" + bytes(1199)
    interval = 1200 * 8 / rate_bps
    t0, n = time.monotonic(), 0
    while not stop.is_set():
        due = t0 + n * interval
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            lib.video.send_media(payload, timestamp=int(n * interval * 90_000), marker=True)
        except w.WebRTCError:
            pass
        n += 1


def test_the_librarys_bandwidth_estimate_from_chromiums_feedback():
    """The library numbers what it sends and reads Chromium's transport-wide feedback: with
    the host sending 1.2 Mbit/s of video (the echo paused) the estimate rises from its
    300 kbit/s start on a clean path, and falls to about the bottleneck when the relay limits
    library → Chromium to 300 kbit/s while the host keeps sending."""
    with relayed_call() as (lib, mb, relay):
        told = []
        lib.session.on_bandwidth_estimate = told.append
        lib.pause_echo = True
        stop = threading.Event()
        sender = threading.Thread(target=send_video_at, args=(lib, 1_200_000, stop), daemon=True)
        sender.start()
        try:
            time.sleep(8)
            clean = lib.session.bandwidth_estimate
            relay.rate_to_browser = 300_000
            time.sleep(8)
            limited = lib.session.bandwidth_estimate
        finally:
            stop.set()
            sender.join(5)
        st = lib.session.stats()
        pair = next((v for v in lib.session.get_stats().values() if v["type"] == "candidate-pair"), {})
        facts = dict(peer="Chromium", scenario="library's send-side estimate, 1.2 Mbit/s sent, clean 8 s then a 300 kbit/s bottleneck 8 s",
                     clean=clean, limited=limited, callbacks=len(told), last_callback=told[-1] if told else None,
                     feedback_received=st["transport_feedback_received"], overuse=st["bandwidth_overuse"],
                     unknown=st["transport_feedback_unknown"], bottleneck_dropped=relay.dropped["to_browser"],
                     stats_available_outgoing=pair.get("availableOutgoingBitrate"))
        record(**facts)
        print(facts)
        assert "transport-cc" in lib.answer and "transport-wide-cc" in lib.answer, lib.answer
        assert clean is not None and clean > 900_000, facts
        assert limited is not None and limited < 450_000, facts
        assert st["transport_feedback_received"] > 50 and st["transport_feedback_unknown"] == 0, facts
        assert told and abs(told[-1] - limited) <= 0.06 * limited, facts
        assert facts["stats_available_outgoing"] is not None, facts
