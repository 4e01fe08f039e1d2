"""Interop with headless Chromium (Debian's `chromium`): the library offers or answers, trickle
or complete descriptions, both DTLS roles; the browser sends its fake camera and microphone,
the library checks what arrives and echoes it back, and the browser's getStats() must show the
echoed stream received and decoded."""

import shutil
import time

import pytest

import webrtc_session as w
from conftest import BrowserProcess, LibraryPeer, is_loopback_candidate, loopback_only, record, wait_for

from mailbox import Mailbox  # noqa: E402  (on sys.path through conftest)

MEDIA_SECONDS = 4
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required",
]


def chromium_binary():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium is not installed (make test installs Debian's chromium package); cannot run interop")
    return path


class Browser(BrowserProcess):
    def __init__(self, url: str):
        super().__init__("wrs-chromium-", lambda profile: [chromium_binary(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url])


def exchange_candidates(lib: LibraryPeer, mb: Mailbox, sent: int, remote_ready: bool, prefix: str) -> int:
    for c in lib.candidates[sent:]:
        mb.send("candidate", candidate=c, mid="0")
    sent = len(lib.candidates)
    if remote_ready:
        for m in mb.drain("candidate"):
            lib.remote_candidates.append(m["candidate"])
            if is_loopback_candidate(m["candidate"], prefix):
                lib.session.add_remote_candidate(m["candidate"])
    return sent


def run(offerer: str, trickle: bool, dtls_role=w.DtlsRole.AUTO, scenario="", browser_cls=None, peer="Chromium 156",
        local_address="127.0.0.1", prefix="127.0.0.1", page_bundle="max-bundle", bundle_policy=w.BundlePolicy.BALANCED):
    """One call: `offerer` is "library" or "browser"; the browser is `browser_cls` (Chromium by
    default); candidates are kept when their address starts with `prefix`."""
    browser_cls = browser_cls or Browser
    if browser_cls is Browser:
        chromium_binary()
    lib = LibraryPeer(dtls_role=dtls_role, local_address=local_address, bundle_policy=bundle_policy)
    mb = Mailbox({"offerer": "page" if offerer == "browser" else "library", "trickle": trickle,
                  "bundlePolicy": page_bundle})
    browser = browser_cls(mb.url)
    try:
        sent = 0
        mb.receive("ready", timeout=120)  # page loaded, camera and microphone open (a first browser start on a busy machine is slow)
        if offerer == "library":
            lib.t0 = time.monotonic()
            lib.add_tracks()
            offer = lib.session.create_offer()
            lib.session.set_local_description(w.SdpType.OFFER, offer)
            if not trickle:
                offer = lib.complete_local_description()
            lib.learn_vp8_payload_types(offer)
            mb.send("description", type="offer", sdp=offer)
            answer = mb.receive("description", timeout=30)
            lib.session.set_remote_description(w.SdpType.ANSWER, loopback_only(answer["sdp"], prefix))
            remote_sdp = answer["sdp"]
        else:
            offer = mb.receive("description", timeout=30)
            remote_sdp = offer["sdp"]
            lib.learn_vp8_payload_types(remote_sdp)
            lib.t0 = time.monotonic()
            lib.session.set_remote_description(w.SdpType.OFFER, loopback_only(remote_sdp, prefix))
            lib.add_tracks()
            answer = lib.session.create_answer()
            lib.session.set_local_description(w.SdpType.ANSWER, answer)
            if not trickle:
                answer = lib.complete_local_description()
            mb.send("description", type="answer", sdp=answer)
        deadline = time.monotonic() + 20
        while lib.session.connection_state not in (w.ConnectionState.CONNECTED, w.ConnectionState.FAILED):
            if time.monotonic() > deadline:
                break
            sent = exchange_candidates(lib, mb, sent, True, prefix) if trickle else sent
            time.sleep(0.01)
        assert lib.session.connection_state == w.ConnectionState.CONNECTED, (
            lib.session.failure_reason, lib.session.ice_state, lib.session.stats(), lib.candidates, lib.remote_candidates,
            [l for l in remote_sdp.splitlines() if "candidate" in l or l.startswith("m=")], browser.log_tail())
        time.sleep(MEDIA_SECONDS)
        audio, video = lib.stream("audio"), lib.stream("video")
        stats = {}
        for _ in range(20):
            mb.send("stats")
            stats = mb.receive("stats", timeout=10)
            inbound = stats.get("inbound", {})
            if inbound.get("video", {}).get("framesDecoded", 0) >= 10 and inbound.get("audio", {}).get("packetsReceived", 0) >= 100:
                break
            time.sleep(0.5)
        inbound = stats.get("inbound", {})
        transport = stats.get("transport", {})
        facts = dict(
            peer=peer, scenario=scenario, offerer=offerer, trickle=trickle,
            srtp=lib.session.srtp_profile.name, browser_srtp=transport.get("srtpCipher"),
            dtls=lib.session.dtls_version, browser_tls=transport.get("tlsVersion"),
            dtls_role=lib.session.dtls_role.name.lower(),
            setup_ms=round((lib.t_connected - lib.t0) * 1000, 1),
            lib_rx_audio=audio.packets, lib_rx_video=video.packets, vp8_descriptors_ok=video.vp8_ok,
            audio_pts=sorted(audio.payload_types), video_pts=sorted(video.payload_types),
            browser_audio_packets=inbound.get("audio", {}).get("packetsReceived", 0),
            browser_video_frames=inbound.get("video", {}).get("framesDecoded", 0),
            keyframe_requests=lib.keyframe_requests,
        )
        record(**facts)
        print(facts)
        assert audio.packets > 50 * MEDIA_SECONDS * 0.6 and audio.in_order > audio.packets * 0.9, facts
        assert video.packets > 30 * MEDIA_SECONDS * 0.5, facts
        assert video.vp8_ok == video.packets, facts
        assert lib.echo_errors == 0, (lib.echo_errors, lib.last_echo_error)
        assert facts["browser_audio_packets"] >= 100, facts
        assert facts["browser_video_frames"] >= 10, facts
        assert "a=candidate" not in loopback_only(remote_sdp, prefix) or prefix in loopback_only(remote_sdp, prefix)
        return facts
    finally:
        browser.close()
        mb.close()
        lib.close()


def test_library_offers_chromium_answers_trickle():
    run("library", trickle=True, scenario="library offers (Opus+PCMU, VP8+H264), Chromium answers, trickle")


def test_chromium_offers_full_default_offer_library_answers_as_dtls_client():
    run("browser", trickle=True, dtls_role=w.DtlsRole.CLIENT,
        scenario="Chromium offers (all codecs, rtx, extmaps), library answers, trickle")


def test_chromium_offers_library_answers_as_dtls_server_without_trickle():
    run("browser", trickle=False, dtls_role=w.DtlsRole.SERVER,
        scenario="Chromium offers, library answers as DTLS server, complete descriptions (no trickle)")


def test_library_offers_without_trickle():
    run("library", trickle=False, scenario="library offers, Chromium answers, complete descriptions (no trickle)")


# -- data channels (tests/interop/datachannels.py) --------------------------------------------

def test_data_channels_chromium_offers_data_only_library_dtls_client():
    from datachannels import run_data
    run_data(Browser, "browser", dtls_role=w.DtlsRole.CLIENT, scenario="data only: Chromium offers, library answers as DTLS client")


def test_data_channels_library_offers_data_only():
    from datachannels import run_data
    run_data(Browser, "library", scenario="data only: library offers, Chromium answers (library is DTLS server)")


def test_data_channels_with_media_chromium_offers_library_dtls_server():
    from datachannels import run_data
    run_data(Browser, "browser", dtls_role=w.DtlsRole.SERVER, media=True,
             scenario="media + data: Chromium offers, library answers as DTLS server")
