"""Shared parts of the interop suite: the library side of a call (through the Python ctypes
binding), RTP sanity checks, candidate hygiene, and a results log for the README matrix."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import sys

import webrtc_session as w

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python" / "examples" / "browser"))
from echo import EchoPeer  # noqa: E402

RESULTS = Path(__file__).resolve().parents[2] / "build" / "interop-results.jsonl"


def loopback_only(sdp: str, prefix: str = "127.0.0.1") -> str:
    """Drops every candidate that is not UDP on 127.0.0.1 (the machine has other addresses), or
    on addresses starting with `prefix` (the test's own namespace)."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:") and not is_loopback_candidate(line, prefix):
            continue
        out.append(line)
    return "\r\n".join(out) + "\r\n"


def is_loopback_candidate(candidate: str, prefix: str = "127.0.0.1") -> bool:
    parts = candidate.split()
    return len(parts) >= 6 and parts[2].lower() == "udp" and parts[4].startswith(prefix)


class BrowserProcess:
    """A browser started by a test in a fresh profile directory, in its own process group, and
    stopped (only that group) by `close`, also when the test failed."""

    def __init__(self, prefix: str, args_for_profile, env=None):
        self.profile = tempfile.mkdtemp(prefix=prefix)
        args = args_for_profile(self.profile)
        self.log = open(os.path.join(self.profile, "browser.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def log_tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_bytes()[-3000:].decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group only
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def record(**facts):
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(facts) + "\n")


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def vp8_descriptor_ok(payload: bytes) -> bool:
    """Parses the VP8 payload descriptor (RFC 7741 §4.2); True if it is well formed."""
    if not payload:
        return False
    i = 1
    if payload[0] & 0x80:  # X: extension byte follows
        if len(payload) < 2:
            return False
        ext = payload[1]
        i = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= i:
                return False
            i += 2 if payload[i] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            i += 1
        if ext & 0x30:  # T or K: TID/KEYIDX byte
            i += 1
    return len(payload) > i


class StreamCheck:
    """Per-track receive statistics: count, sequence number advance, payload parse."""

    def __init__(self):
        self.packets = 0
        self.in_order = 0
        self.last_seq = None
        self.vp8_ok = 0
        self.payload_types = set()

    def add(self, packet: bytes, vp8: bool):
        self.packets += 1
        seq = int.from_bytes(packet[2:4], "big")
        if self.last_seq is not None and seq == (self.last_seq + 1) & 0xFFFF:
            self.in_order += 1
        self.last_seq = seq
        self.payload_types.add(packet[1] & 0x7F)
        if vp8:
            cc = packet[0] & 0x0F
            off = 12 + 4 * cc
            if packet[0] & 0x10:
                words = int.from_bytes(packet[off + 2:off + 4], "big")
                off += 4 + 4 * words
            end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)
            if vp8_descriptor_ok(packet[off:end]):
                self.vp8_ok += 1


class LibraryPeer(EchoPeer):
    """The library's side of a call: echoes what it receives (EchoPeer), and counts and checks
    what arrives per track."""

    def __init__(self, dtls_role=w.DtlsRole.AUTO, srtp_profiles=(), shared_port=0, local_address="127.0.0.1",
                 bundle_policy=w.BundlePolicy.BALANCED, transport_cc=True):
        self.config = w.Config(local_addresses=[local_address], dtls_role=dtls_role, srtp_profiles=srtp_profiles,
                               transport_cc=transport_cc,
                               shared_port=shared_port, bundle_policy=bundle_policy)
        super().__init__(self.config)
        self.lock = threading.Lock()
        self.streams = {}
        self.vp8_pts = set()
        self.candidates = []
        self.remote_candidates = []
        self.t0 = time.monotonic()
        self.t_connected = None
        self.session.on_ice_candidate = lambda c, mid: self.candidates.append(c)
        self.session.on_connection_state = self._on_state

    def _on_state(self, state):
        if state == w.ConnectionState.CONNECTED and self.t_connected is None:
            self.t_connected = time.monotonic()

    def on_rtp(self, track, packet):
        with self.lock:
            check = self.streams.setdefault(track, StreamCheck())
            check.add(packet, vp8=self.kinds.get(track) == "video" and (packet[1] & 0x7F) in self.vp8_pts)
        super().on_rtp(track, packet)

    def offer_complete(self, video=(w.Codec.VP8,)) -> str:
        """Adds the tracks, creates and applies an offer, and returns it once gathering is
        complete (candidates included), the VP8 payload types learned."""
        self.add_tracks(video=video)
        self.session.set_local_description(w.SdpType.OFFER, self.session.create_offer())
        offer = self.complete_local_description()
        self.learn_vp8_payload_types(offer)
        return offer

    def learn_vp8_payload_types(self, sdp: str):
        self.vp8_pts = {int(m) for m in re.findall(r"a=rtpmap:(\d+) VP8/90000", sdp)}

    def complete_local_description(self) -> str:
        assert wait_for(lambda: self.session.gathering_state == w.GatheringState.COMPLETE, 5)
        return self.session.local_description

    def wait_connected(self, timeout=15):
        ok = wait_for(lambda: self.session.connection_state in (w.ConnectionState.CONNECTED, w.ConnectionState.FAILED), timeout)
        return ok and self.session.connection_state == w.ConnectionState.CONNECTED

    def stream(self, kind):
        track = self.audio.id if kind == "audio" else self.video.id
        with self.lock:
            return self.streams.get(track, StreamCheck())

    def close(self):
        self.session.free()
        self.config.free()
