"""webrtc_session: Python bindings (ctypes, no compiler needed) for the webrtc-session library.

A :class:`Session` is the equivalent of a browser's ``RTCPeerConnection``: add tracks, create an
offer or answer, apply the remote description, trickle candidates; ICE, DTLS and SRTP run inside
the library, which then delivers decrypted RTP to :attr:`Session.on_rtp`.

Callbacks run on library threads (one at a time per session). An exception raised by a callback
is logged (logger ``webrtc_session``), appended to :attr:`Session.callback_errors`, and does not
reach the library.
"""

from __future__ import annotations

import ctypes
import enum
import json
import logging
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

from . import _native
from ._native import lib, take_string

__all__ = [
    "Session", "Config", "Track", "MediaKind", "Codec", "Direction", "SdpType", "ConnectionState", "IceState",
    "GatheringState", "SignalingState", "SrtpProfile", "DtlsRole", "Stat", "WebRTCError", "version",
    "DataChannel", "LogLevel", "LOG_AREAS", "set_log_callback", "log_to_python", "Event", "EventType", "Frame",
]

log = logging.getLogger("webrtc_session")


class MediaKind(enum.IntEnum):
    AUDIO = 0
    VIDEO = 1


class Codec(enum.IntEnum):
    PCMU = 0
    PCMA = 1
    G722 = 2
    OPUS = 3
    VP8 = 4
    VP9 = 5
    H264 = 6
    AV1 = 7
    H265 = 8


class Direction(enum.IntEnum):
    SENDRECV = 0
    SENDONLY = 1
    RECVONLY = 2


class SdpType(enum.IntEnum):
    OFFER = 0
    ANSWER = 1
    ROLLBACK = 2


class ConnectionState(enum.IntEnum):
    NEW = 0
    CONNECTING = 1
    CONNECTED = 2
    DISCONNECTED = 3
    FAILED = 4
    CLOSED = 5


class IceState(enum.IntEnum):
    NEW = 0
    CHECKING = 1
    CONNECTED = 2
    DISCONNECTED = 3
    FAILED = 4
    CLOSED = 5


class GatheringState(enum.IntEnum):
    NEW = 0
    GATHERING = 1
    COMPLETE = 2


class SignalingState(enum.IntEnum):
    STABLE = 0
    HAVE_LOCAL_OFFER = 1
    HAVE_REMOTE_OFFER = 2
    CLOSED = 3


class SrtpProfile(enum.IntEnum):
    AES128_CM_HMAC_SHA1_80 = 1
    AEAD_AES128_GCM = 7
    AEAD_AES256_GCM = 8


class DtlsRole(enum.IntEnum):
    AUTO = 0
    CLIENT = 1
    SERVER = 2


class BundlePolicy(enum.IntEnum):
    BALANCED = 0
    MAX_BUNDLE = 1


class Stat(enum.IntEnum):
    RTP_PACKETS_SENT = 0
    RTP_BYTES_SENT = 1
    RTP_PACKETS_RECEIVED = 2
    RTP_BYTES_RECEIVED = 3
    RTCP_PACKETS_SENT = 4
    RTCP_PACKETS_RECEIVED = 5
    SRTP_UNPROTECT_FAILURES = 6
    RTP_UNROUTABLE = 7
    DATAGRAMS_DROPPED = 8
    UNVERIFIED_DROPPED = 9
    STUN_REJECTED = 10
    REMOTE_CANDIDATES_REFUSED = 11
    ICE_CHECKS_SENT = 12
    ICE_CHECKS_PACED = 13
    DATA_MESSAGES_SENT = 14
    DATA_BYTES_SENT = 15
    DATA_MESSAGES_RECEIVED = 16
    DATA_BYTES_RECEIVED = 17
    SCTP_PACKETS_DROPPED = 18
    RTCP_REPORTS_SENT = 19
    RTCP_REPORTS_RECEIVED = 20
    PLI_RECEIVED = 21
    FIR_RECEIVED = 22
    KEYFRAME_REQUESTS_MERGED = 23
    KEYFRAME_REQUESTS_SENT = 24
    NACK_RECEIVED = 25
    RTCP_SOURCES_REFUSED = 26
    NACK_SENT = 27
    NACK_SEQUENCES_SENT = 28
    RETRANSMITTED_PACKETS_SENT = 29
    RETRANSMITTED_BYTES_SENT = 30
    NACK_REQUESTS_UNANSWERED = 31
    NACK_REQUESTS_LIMITED = 32
    RTX_PACKETS_RECEIVED = 33
    RTX_PACKETS_DROPPED = 34
    NACK_RECOVERED = 35
    NACK_GAVE_UP = 36
    TRANSPORT_FEEDBACK_RECEIVED = 37
    REMB_RECEIVED = 38
    BANDWIDTH_OVERUSE = 39
    TRANSPORT_FEEDBACK_UNKNOWN = 40
    POLL_EVENTS_DROPPED = 41
    FRAMES_RECEIVED = 42
    FRAMES_DROPPED = 43
    FRAMES_MALFORMED = 44
    FRAME_PACKETS_LOST = 45
    FRAME_PACKETS_LATE = 46
    PACED_PACKETS_DROPPED = 47


class WebRTCError(Exception):
    """A library call failed. ``code`` is the ``wrs_result`` value, ``name`` its name
    (``WRS_RESULT_INVALID_SDP``...), and the message is the library's last-error message."""

    def __init__(self, code: int, message: str):
        self.code = code
        self.name = lib.wrs_result_name(code).decode()
        super().__init__(message)


def _subclass(name: str, doc: str) -> type:
    return type(name, (WebRTCError,), {"__doc__": doc})


NullArgumentError = _subclass("NullArgumentError", "A required argument was missing (NULL).")
InvalidArgumentError = _subclass("InvalidArgumentError", "An argument is out of range or malformed.")
InvalidSdpError = _subclass("InvalidSdpError", "A session description cannot be parsed or accepted.")
InvalidStateError = _subclass("InvalidStateError", "Not allowed in the current signaling/connection state.")
UnknownTrackError = _subclass("UnknownTrackError", "The track is not a track of this session.")
PacketRejectedError = _subclass("PacketRejectedError", "The packet does not fit its track or is malformed.")
NotConnectedError = _subclass("NotConnectedError", "Media can be sent once DTLS-SRTP is established.")
ClosedError = _subclass("ClosedError", "The session is closed.")
NotAvailableError = _subclass("NotAvailableError", "The value is not known yet.")
InvalidHandleError = _subclass("InvalidHandleError", "The handle was freed.")
LimitReachedError = _subclass("LimitReachedError", "A limit on state (remote candidates, ...) was reached.")

_ERRORS = {
    -1: NullArgumentError, -3: InvalidArgumentError, -4: InvalidSdpError, -5: InvalidStateError,
    -6: UnknownTrackError, -7: PacketRejectedError, -8: NotConnectedError, -9: ClosedError,
    -14: NotAvailableError, -15: InvalidHandleError, -16: LimitReachedError,
}
__all__ += [c.__name__ for c in _ERRORS.values()]


def _check(result: int) -> None:
    if result != 0:
        message = (lib.wrs_last_error_message() or b"").decode("utf-8", "replace")
        raise _ERRORS.get(result, WebRTCError)(result, message)


def _utf8(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8")


def version() -> str:
    """The native library's version."""
    return lib.wrs_version().decode()


class EventType(enum.IntEnum):
    """What an :class:`Event` of polling mode reports (``wrs_event_type``)."""
    NONE = 0
    RTP = 1
    RTCP = 2
    ICE_CANDIDATE = 3
    CONNECTION_STATE = 4
    ICE_STATE = 5
    GATHERING_STATE = 6
    SIGNALING_STATE = 7
    TRACK = 8
    DATA_CHANNEL = 9
    CHANNEL_OPEN = 10
    CHANNEL_MESSAGE = 11
    CHANNEL_BUFFERED_AMOUNT_LOW = 12
    CHANNEL_ERROR = 13
    CHANNEL_CLOSED = 14
    KEYFRAME_REQUEST = 15
    BANDWIDTH_ESTIMATE = 16
    FRAME = 17


@dataclass
class Event:
    """One event drained in polling mode (:meth:`Session.next_event`). ``state`` is the
    matching enum for state and track events; ``data`` the packet or message; ``text`` a
    candidate line or an error; ``mid`` a candidate's or track's mid; ``channel`` the
    :class:`DataChannel` of a channel event; ``value`` a bandwidth estimate in bits/s."""
    type: EventType
    track: int = 0
    state: int = 0
    value: int = 0
    data: bytes = b""
    text: str = ""
    mid: str = ""
    is_text: bool = False
    channel: Optional["DataChannel"] = None
    #: A FRAME event's frame (its ``data`` is also ``data``).
    frame: Optional["Frame"] = None


@dataclass(frozen=True)
class Frame:
    """A complete received frame (:attr:`Session.on_frame`, or FRAME events in polling mode
    after :meth:`Session.receive_frames`): VP8/VP9 as the encoder wrote it, H.264 as an Annex B
    stream, AV1 as low-overhead OBUs after a temporal delimiter, audio as the payload; what a
    decoder (PyAV's ``CodecContext.decode``) takes. ``lost_packets`` counts the source's
    packets that never arrived since its previous frame."""
    track: int
    data: bytes
    timestamp: int
    keyframe: bool
    codec: "Codec"
    lost_packets: int = 0
    ssrc: int = 0


_STATE_ENUMS = {}  # filled below, once the enums exist


class LogLevel(enum.IntEnum):
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4
    TRACE = 5  # also per-packet messages


LOG_AREAS = ("session", "ice", "dtls", "srtp", "sctp", "rtcp")
_PY_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: 5}
_log_thunk = None  # the registered ctypes thunk must outlive its registration


def set_log_callback(fn: Optional[Callable[[LogLevel, str, str], None]], level: LogLevel = LogLevel.INFO) -> None:
    """Sends the library's log messages up to ``level`` to ``fn(level, area, message)`` for
    the whole process (``None``: off). ``area`` is one of :data:`LOG_AREAS`. Messages come from
    library threads; an exception in ``fn`` is logged and dropped."""
    global _log_thunk
    if fn is None:
        _check(lib.wrs_set_log_callback(ctypes.cast(None, _native.LOG_CB), None, int(level)))
        _log_thunk = None
        return

    def call(_ud, lv, area, message):
        try:
            fn(LogLevel(lv), LOG_AREAS[area] if area < len(LOG_AREAS) else str(area), message.decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - a host's callback must not unwind into the library
            logging.getLogger(__name__).exception("log callback failed")

    thunk = _native.LOG_CB(call)
    _check(lib.wrs_set_log_callback(thunk, None, int(level)))
    _log_thunk = thunk


def log_to_python(level: LogLevel = LogLevel.INFO, name: str = "webrtc_session") -> None:
    """Forwards the library's log messages to Python's :mod:`logging`, to the loggers
    ``<name>.<area>`` (``webrtc_session.ice``, ``webrtc_session.dtls``...), TRACE as level 5."""
    set_log_callback(lambda lv, area, m: logging.getLogger(f"{name}.{area}").log(_PY_LEVELS[int(lv)], m), level)


class Config:
    """Settings for new sessions. Every argument is optional.

    :param local_addresses: IP addresses to gather host candidates on (default: every
        non-loopback IPv4 address); tests use ``["127.0.0.1"]``.
    :param ice_servers: ``stun:host[:port]`` URLs.
    :param port_range: ``(min, max)`` UDP port range.
    :param shared_port: a UDP port shared by every session made with it (one socket for all,
        as a media server runs; see ``wrs_config_set_shared_port``).
    :param certificate: ``(cert_pem_path, key_pem_path)``; default a generated ECDSA P-256 one.
    :param srtp_profiles: :class:`SrtpProfile` values, preferred first.
    :param dtls_role: :class:`DtlsRole` to take when answering.
    :param ice_timeouts_ms: ``(disconnected, failed, keepalive)`` in milliseconds.
    :param bundle_policy: :class:`BundlePolicy` of our offers (``MAX_BUNDLE``: later sections
        are ``port 0`` + ``a=bundle-only``).
    :param max_remote_candidates: remote candidates accepted per session (default 100).
    :param rtcp_reports: the library's own SR/RR, SDES and BYE (default on).
    :param keyframe_requests: PLI/FIR advertised, sent by :meth:`Session.request_keyframe`,
        reported by ``on_keyframe_request`` (default on).
    :param nack: generic NACK and RTX for video (default on).
    :param transport_cc: transport-wide congestion control (default on): feedback for what
        arrives, our packets numbered, and :attr:`Session.bandwidth_estimate` from the
        peer's feedback and REMB.
    :param nack_history: ``(packets, max_age_ms)`` of each video track's send history
        (default ``(512, 1000)``).
    :param bandwidth: ``(start_bps, min_bps, max_bps)`` of the bandwidth estimate (default
        ``(300000, 30000, 10000000)``).
    :param jitter_buffer: ``(latency_ms, keyframe_after_loss)`` of frame delivery (default
        ``(150, True)``): how long the packet after a gap waits for a retransmission, and
        whether video after a loss waits for a keyframe.
    :param pacer: pace :meth:`Track.send_frame` at this many bits per second (0: two and a
        half times the bandwidth estimate; ``None``, the default: no pacing).
    """

    def __init__(
        self,
        local_addresses: Iterable[str] = (),
        ice_servers: Iterable[str] = (),
        port_range: Optional[tuple[int, int]] = None,
        shared_port: int = 0,
        certificate: Optional[tuple[str, str]] = None,
        srtp_profiles: Sequence[SrtpProfile] = (),
        dtls_role: DtlsRole = DtlsRole.AUTO,
        ice_timeouts_ms: Optional[tuple[int, int, int]] = None,
        bundle_policy: BundlePolicy = BundlePolicy.BALANCED,
        max_remote_candidates: Optional[int] = None,
        rtcp_reports: bool = True,
        keyframe_requests: bool = True,
        nack: bool = True,
        transport_cc: bool = True,
        nack_history: Optional[tuple[int, int]] = None,
        bandwidth: Optional[tuple[int, int, int]] = None,
        jitter_buffer: Optional[tuple[int, bool]] = None,
        pacer: Optional[int] = None,
    ):
        self._handle = ctypes.c_void_p()
        _check(lib.wrs_config_new(ctypes.byref(self._handle)))
        try:
            for a in local_addresses:
                _check(lib.wrs_config_add_local_address(self._handle, _utf8(a)))
            for url in ice_servers:
                _check(lib.wrs_config_add_ice_server(self._handle, _utf8(url)))
            if port_range is not None:
                _check(lib.wrs_config_set_port_range(self._handle, port_range[0], port_range[1]))
            if shared_port:
                _check(lib.wrs_config_set_shared_port(self._handle, shared_port))
            if certificate is not None:
                _check(lib.wrs_config_set_certificate_pem_files(self._handle, _utf8(certificate[0]), _utf8(certificate[1])))
            if srtp_profiles:
                arr = (ctypes.c_uint32 * len(srtp_profiles))(*[int(p) for p in srtp_profiles])
                _check(lib.wrs_config_set_srtp_profiles(self._handle, arr, len(srtp_profiles)))
            _check(lib.wrs_config_set_dtls_role(self._handle, int(dtls_role)))
            if ice_timeouts_ms is not None:
                _check(lib.wrs_config_set_ice_timeouts(self._handle, *ice_timeouts_ms))
            _check(lib.wrs_config_set_bundle_policy(self._handle, int(bundle_policy)))
            if max_remote_candidates is not None:
                _check(lib.wrs_config_set_max_remote_candidates(self._handle, max_remote_candidates))
            _check(lib.wrs_config_set_rtcp_reports(self._handle, rtcp_reports))
            _check(lib.wrs_config_set_keyframe_requests(self._handle, keyframe_requests))
            _check(lib.wrs_config_set_nack(self._handle, nack))
            _check(lib.wrs_config_set_transport_cc(self._handle, transport_cc))
            if nack_history is not None:
                _check(lib.wrs_config_set_nack_history(self._handle, nack_history[0], nack_history[1]))
            if bandwidth is not None:
                _check(lib.wrs_config_set_bandwidth_estimate(self._handle, *bandwidth))
            if pacer is not None:
                _check(lib.wrs_config_set_pacer(self._handle, True, pacer))
            if jitter_buffer is not None:
                _check(lib.wrs_config_set_jitter_buffer(self._handle, jitter_buffer[0], jitter_buffer[1]))
        except BaseException:
            self.free()
            raise

    def free(self) -> None:
        if self._handle:
            lib.wrs_config_free(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self) -> None:
        self.free()


@dataclass(frozen=True)
class Track:
    """A track of a session: ``id`` is what send functions and ``on_rtp`` use."""

    session: "Session"
    id: int
    kind: MediaKind

    @property
    def mid(self) -> str:
        return self.session._string(lib.wrs_session_track_mid, self.id)

    @property
    def ssrc(self) -> int:
        v = ctypes.c_uint32()
        _check(lib.wrs_session_track_ssrc(self.session._h(), self.id, ctypes.byref(v)))
        return v.value

    @property
    def payload_type(self) -> int:
        v = ctypes.c_uint8()
        _check(lib.wrs_session_track_payload_type(self.session._h(), self.id, ctypes.byref(v)))
        return v.value

    @property
    def codec(self) -> tuple[Codec, int, int]:
        """The codec this track sends (the first negotiated unless :meth:`set_send_codec`
        chose another), its payload type and clock rate (Hz)."""
        c, pt, clock = ctypes.c_uint32(), ctypes.c_uint8(), ctypes.c_uint32()
        _check(lib.wrs_session_track_codec(self.session._h(), self.id, ctypes.byref(c), ctypes.byref(pt), ctypes.byref(clock)))
        return Codec(c.value), pt.value, clock.value

    def set_send_codec(self, payload_type: int) -> None:
        """Sends this negotiated payload type (and its codec) from now on with
        :meth:`send_media` and :meth:`send_frame`."""
        _check(lib.wrs_session_set_send_codec(self.session._h(), self.id, payload_type))

    def send_media(self, payload: bytes, timestamp: int, marker: bool = False) -> None:
        self.session.send_media(self.id, payload, timestamp, marker)

    def send_frame(self, frame: bytes, timestamp: int) -> None:
        """Sends one encoded frame, packetized by the library with ``timestamp`` on the
        codec's clock: audio one packet; VP8 (RFC 7741) and VP9 (RFC 9628) fragments; H.264
        from Annex B (RFC 6184: STAP-A, single NAL units, FU-A); AV1 from a low-overhead
        temporal unit (OBU elements); the marker on a video frame's last packet."""
        frame = bytes(frame)
        _check(lib.wrs_session_send_frame(self.session._h(), self.id, frame, len(frame), timestamp & 0xFFFFFFFF))

    def send_rtp(self, packet: bytes) -> None:
        self.session.send_rtp(self.id, packet)


class Session:
    """A WebRTC session (``RTCPeerConnection``). Use as a context manager, or call
    :meth:`free` (which also closes); ``close`` alone keeps the getters usable.

    Assign callables to the ``on_*`` attributes (``None`` to unregister):

    - ``on_rtp(track_id: int, packet: bytes)``; ``on_rtcp(packet: bytes)``
    - ``on_frame(Frame)``: complete received frames from the jitter buffer; assigning it
      turns frame delivery on (``None`` off). ``on_rtp`` still sees every packet.
    - ``on_ice_candidate(candidate: str, mid: str)``
    - ``on_connection_state(ConnectionState)``, ``on_ice_state(IceState)``,
      ``on_gathering_state(GatheringState)``, ``on_signaling_state(SignalingState)``
    - ``on_track(Track)`` for tracks the remote side sends on.
    - ``on_keyframe_request(track_id: int)``: the peer asked for a keyframe (PLI/FIR) on a
      track we send.
    - ``on_bandwidth_estimate(bitrate_bps: int)``: the send-side bandwidth estimate, first
      and then at each move of 5 % or more.
    - ``on_datachannel(DataChannel)`` for channels the peer opens; in aiortc's shape also
      ``@session.on("datachannel")``.

    Data channels: :meth:`createDataChannel` (aiortc's name and keywords; also
    ``create_data_channel``).
    """

    _EVENTS = {
        "on_rtp": ("wrs_session_on_rtp", _native.RTP_CB),
        "on_frame": ("wrs_session_on_frame", _native.FRAME_CB),
        "on_rtcp": ("wrs_session_on_rtcp", _native.RTCP_CB),
        "on_ice_candidate": ("wrs_session_on_ice_candidate", _native.CANDIDATE_CB),
        "on_connection_state": ("wrs_session_on_connection_state", _native.STATE_CB),
        "on_ice_state": ("wrs_session_on_ice_state", _native.STATE_CB),
        "on_gathering_state": ("wrs_session_on_gathering_state", _native.STATE_CB),
        "on_signaling_state": ("wrs_session_on_signaling_state", _native.STATE_CB),
        "on_track": ("wrs_session_on_track", _native.TRACK_CB),
        "on_keyframe_request": ("wrs_session_on_keyframe_request", _native.KEYFRAME_CB),
        "on_bandwidth_estimate": ("wrs_session_on_bandwidth_estimate", _native.BANDWIDTH_CB),
        "on_datachannel": ("wrs_session_on_data_channel", _native.DATA_CHANNEL_CB),
    }

    def __init__(self, config: Optional[Config] = None):
        self._handle = ctypes.c_void_p()
        self._lock = threading.Lock()
        # The ctypes thunks must live as long as they are registered: kept here, per event.
        self._thunks: dict[str, object] = {}
        self._handlers: dict[str, Optional[Callable]] = {}
        self.callback_errors: list[BaseException] = []
        # Channels by handle address: they get events until closed, so they live here.
        self._channels: dict[int, "DataChannel"] = {}
        _check(lib.wrs_session_new(config._handle if config else None, ctypes.byref(self._handle)))

    # -- lifetime ---------------------------------------------------------------------------
    def _h(self) -> ctypes.c_void_p:
        if not self._handle:
            raise ClosedError(-15, "the session was freed")
        return self._handle

    def close(self) -> None:
        """Graceful close (DTLS close_notify, ICE stopped); state becomes CLOSED."""
        if self._handle:
            _check(lib.wrs_session_close(self._handle))

    def free(self) -> None:
        """Closes and releases the session (and its data channels); no callback runs after
        this returns."""
        if self._handle:
            lib.wrs_session_free(self._handle)
            self._handle = ctypes.c_void_p()
            self._thunks.clear()
            for ch in self._channels.values():
                ch._released()
            self._channels.clear()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.free()

    def __del__(self) -> None:
        self.free()

    # -- callbacks --------------------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if name in Session._EVENTS:
            self._register(name, value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        if name in Session._EVENTS:
            return self.__dict__.get("_handlers", {}).get(name)
        raise AttributeError(name)

    def _register(self, name: str, fn: Optional[Callable]) -> None:
        setter, cb_type = Session._EVENTS[name]
        if fn is None:
            thunk = cb_type()  # NULL: unregister
        else:
            thunk = cb_type(self._adapter(name, fn))
        _check(getattr(lib, setter)(self._h(), thunk, None))
        self._handlers[name] = fn
        self._thunks[name] = thunk

    def _adapter(self, name: str, fn: Callable) -> Callable:
        def guarded(*args):
            try:
                fn(*args)
            except BaseException as e:  # never let it reach the library
                self.callback_errors.append(e)
                log.exception("exception in %s callback", name)

        if name == "on_rtp":
            return lambda _ud, track, p, n: guarded(track, ctypes.string_at(p, n))
        if name == "on_rtcp":
            return lambda _ud, p, n: guarded(ctypes.string_at(p, n))
        if name == "on_frame":
            def frame(_ud, f):
                c = f.contents
                guarded(Frame(c.track, ctypes.string_at(c.data, c.len), c.timestamp, bool(c.keyframe),
                              Codec(c.codec), c.lost_packets, c.ssrc))
            return frame
        if name == "on_ice_candidate":
            return lambda _ud, c, mid: guarded(c.decode(), mid.decode())
        if name == "on_track":
            return lambda _ud, t, kind, mid: guarded(Track(self, t, MediaKind(kind)))
        if name == "on_datachannel":
            return lambda _ud, c: guarded(self._adopt(c))
        if name in ("on_keyframe_request", "on_bandwidth_estimate"):
            return lambda _ud, v: guarded(v)
        enum_type = {
            "on_connection_state": ConnectionState, "on_ice_state": IceState,
            "on_gathering_state": GatheringState, "on_signaling_state": SignalingState,
        }[name]
        return lambda _ud, s: guarded(enum_type(s))

    def on(self, event: str, fn: Optional[Callable] = None):
        """aiortc's ``@pc.on("datachannel")`` decorator (``datachannel`` only here; the
        ``on_*`` attributes cover the other events)."""
        if event != "datachannel":
            raise ValueError(f"unknown event {event!r}: use the on_* attributes")

        def register(f: Callable) -> Callable:
            self.on_datachannel = f
            return f

        return register(fn) if fn is not None else register

    # -- data channels ----------------------------------------------------------------------
    def createDataChannel(
        self,
        label: str,
        maxPacketLifeTime: Optional[int] = None,
        maxRetransmits: Optional[int] = None,
        ordered: bool = True,
        protocol: str = "",
        negotiated: bool = False,
        id: Optional[int] = None,
    ) -> "DataChannel":
        """A new data channel, as aiortc's ``RTCPeerConnection.createDataChannel``. It opens
        (event ``open``) once the SCTP association is up; the first channel adds a data section
        to the next offer."""
        if maxPacketLifeTime is not None and maxRetransmits is not None:
            raise ValueError("maxPacketLifeTime and maxRetransmits cannot both be set")
        if negotiated and id is None:
            raise ValueError("a negotiated channel needs an id")
        init = ctypes.c_void_p()
        _check(lib.wrs_data_channel_init_new(ctypes.byref(init)))
        try:
            _check(lib.wrs_data_channel_init_set_ordered(init, ordered))
            if maxRetransmits is not None:
                _check(lib.wrs_data_channel_init_set_max_retransmits(init, maxRetransmits))
            if maxPacketLifeTime is not None:
                _check(lib.wrs_data_channel_init_set_max_packet_life_time(init, maxPacketLifeTime))
            if protocol:
                _check(lib.wrs_data_channel_init_set_protocol(init, _utf8(protocol)))
            if negotiated:
                _check(lib.wrs_data_channel_init_set_negotiated_id(init, id))
            handle = ctypes.c_void_p()
            _check(lib.wrs_session_create_data_channel(self._h(), _utf8(label), init, ctypes.byref(handle)))
        finally:
            lib.wrs_data_channel_init_free(init)
        return self._adopt(handle.value)

    create_data_channel = createDataChannel

    def _adopt(self, handle: int) -> "DataChannel":
        ch = DataChannel(self, handle)
        self._channels[handle] = ch
        return ch

    # -- negotiation ------------------------------------------------------------------------
    def add_track(self, kind: MediaKind, codecs: Sequence[Codec], direction: Direction = Direction.SENDRECV) -> Track:
        arr = (ctypes.c_uint32 * len(codecs))(*[int(c) for c in codecs])
        tid = ctypes.c_uint32()
        _check(lib.wrs_session_add_track(self._h(), int(kind), arr, len(codecs), int(direction), ctypes.byref(tid)))
        return Track(self, tid.value, MediaKind(kind))

    def _string(self, fn, *args) -> str:
        p = ctypes.c_void_p()
        _check(fn(self._h(), *args, ctypes.byref(p)))
        return take_string(p)

    def create_offer(self) -> str:
        return self._string(lib.wrs_session_create_offer)

    def create_answer(self) -> str:
        return self._string(lib.wrs_session_create_answer)

    def set_local_description(self, type: SdpType, sdp: Optional[str] = None) -> None:
        _check(lib.wrs_session_set_local_description(self._h(), int(type), _utf8(sdp)))

    def set_remote_description(self, type: SdpType, sdp: Optional[str]) -> None:
        _check(lib.wrs_session_set_remote_description(self._h(), int(type), _utf8(sdp)))

    @property
    def local_description(self) -> str:
        """The applied local description with every candidate gathered so far."""
        return self._string(lib.wrs_session_local_description)

    @property
    def remote_description(self) -> str:
        return self._string(lib.wrs_session_remote_description)

    def add_remote_candidate(self, candidate: Optional[str]) -> None:
        """Adds a trickled candidate; ``None`` or ``""`` ends the remote candidates."""
        _check(lib.wrs_session_add_remote_candidate(self._h(), _utf8(candidate)))

    # -- media ------------------------------------------------------------------------------
    def send_rtp(self, track: int, packet: bytes) -> None:
        _check(lib.wrs_session_send_rtp(self._h(), track, packet, len(packet)))

    def send_media(self, track: int, payload: bytes, timestamp: int, marker: bool = False) -> None:
        _check(lib.wrs_session_send_media(self._h(), track, payload, len(payload), timestamp & 0xFFFFFFFF, marker))

    def send_rtcp(self, packet: bytes) -> None:
        _check(lib.wrs_session_send_rtcp(self._h(), packet, len(packet)))

    # -- state and facts --------------------------------------------------------------------
    def _enum(self, fn, enum_type):
        v = ctypes.c_uint32()
        _check(fn(self._h(), ctypes.byref(v)))
        return enum_type(v.value)

    @property
    def connection_state(self) -> ConnectionState:
        return self._enum(lib.wrs_session_connection_state, ConnectionState)

    @property
    def ice_state(self) -> IceState:
        return self._enum(lib.wrs_session_ice_state, IceState)

    @property
    def gathering_state(self) -> GatheringState:
        return self._enum(lib.wrs_session_gathering_state, GatheringState)

    @property
    def signaling_state(self) -> SignalingState:
        return self._enum(lib.wrs_session_signaling_state, SignalingState)

    @property
    def srtp_profile(self) -> SrtpProfile:
        return self._enum(lib.wrs_session_srtp_profile, SrtpProfile)

    @property
    def dtls_role(self) -> DtlsRole:
        return self._enum(lib.wrs_session_dtls_role, DtlsRole)

    @property
    def dtls_version(self) -> str:
        return self._string(lib.wrs_session_dtls_version)

    @property
    def local_fingerprint(self) -> str:
        return self._string(lib.wrs_session_local_fingerprint)

    @property
    def remote_fingerprint(self) -> str:
        return self._string(lib.wrs_session_remote_fingerprint)

    @property
    def failure_reason(self) -> Optional[str]:
        try:
            return self._string(lib.wrs_session_failure_reason)
        except NotAvailableError:
            return None

    @property
    def selected_candidate_pair(self) -> tuple[str, str]:
        local, remote = ctypes.c_void_p(), ctypes.c_void_p()
        _check(lib.wrs_session_selected_candidate_pair(self._h(), ctypes.byref(local), ctypes.byref(remote)))
        return take_string(local), take_string(remote)

    def get_stats(self) -> dict:
        """``RTCPeerConnection.getStats()``: a dict from stats id to a dict with the W3C
        webrtc-stats ``type`` and members (``inbound-rtp``, ``outbound-rtp``,
        ``remote-inbound-rtp``, ``transport``, ``candidate-pair``, ``codec``...)."""
        return json.loads(self._string(lib.wrs_session_get_stats))

    # -- polling mode -----------------------------------------------------------------------
    def use_polling(self) -> int:
        """Switches to polling mode: no callback runs any more; events wait for
        :meth:`next_event`, and the returned descriptor (owned by the session) is readable
        while any waits, e.g. for ``asyncio``'s ``loop.add_reader``."""
        fd = ctypes.c_int32(-1)
        _check(lib.wrs_session_use_polling(self._h(), ctypes.byref(fd)))
        return fd.value

    def next_event(self) -> Optional[Event]:
        """The oldest waiting event, or None (polling mode only)."""
        e = _native.EVENT()
        _check(lib.wrs_session_next_event(self._h(), ctypes.byref(e)))
        kind = EventType(e.kind)
        if kind == EventType.NONE:
            return None
        ev = Event(kind, track=e.track, state=e.state, value=e.value, is_text=bool(e.is_text))
        if kind in _STATE_ENUMS:
            ev.state = _STATE_ENUMS[kind](e.state)
        if e.data and e.len:
            ev.data = ctypes.string_at(e.data, e.len)
        if e.text:
            ev.text = e.text.decode("utf-8", "replace")
        if e.mid:
            ev.mid = e.mid.decode("utf-8", "replace")
        if e.channel:
            ev.channel = self._adopt(e.channel) if kind == EventType.DATA_CHANNEL else self._channels.get(e.channel)
        if kind == EventType.FRAME:
            ev.frame = Frame(e.track, ev.data, e.value, bool(e.is_keyframe), Codec(e.state), e.lost_packets, e.ssrc)
        return ev

    def receive_frames(self, on: bool = True) -> None:
        """Frame delivery without a callback, for polling mode: while on, FRAME events (with
        :attr:`Event.frame`) replace RTP events. ``on_frame`` does this in callback mode."""
        _check(lib.wrs_session_receive_frames(self._h(), on))

    def events(self) -> list[Event]:
        """Every waiting event, in order (polling mode only)."""
        out = []
        while (e := self.next_event()) is not None:
            out.append(e)
        return out

    def request_keyframe(self, track: int) -> None:
        """Asks the peer for a keyframe on receiving ``track`` (a PLI, or a FIR when the
        peer negotiated only ``ccm fir``)."""
        _check(lib.wrs_session_request_keyframe(self._h(), track))

    @property
    def round_trip_time(self) -> Optional[float]:
        """The latest round-trip time in seconds from the peer's reports, or None."""
        v = ctypes.c_double()
        rc = lib.wrs_session_round_trip_time(self._h(), ctypes.byref(v))
        return v.value / 1000.0 if rc == 0 else None

    @property
    def bandwidth_estimate(self) -> Optional[int]:
        """The send-side bandwidth estimate in bits per second (from the peer's
        transport-wide feedback and REMB), or None before any arrived."""
        v = ctypes.c_uint64()
        rc = lib.wrs_session_bandwidth_estimate(self._h(), ctypes.byref(v))
        return v.value if rc == 0 else None

    def stat(self, which: Stat) -> int:
        v = ctypes.c_uint64()
        _check(lib.wrs_session_stat(self._h(), int(which), ctypes.byref(v)))
        return v.value

    def stats(self) -> dict[str, int]:
        return {s.name.lower(): self.stat(s) for s in Stat}


class DataChannel:
    """A data channel (``RTCDataChannel``) in aiortc's shape: ``send(str | bytes)``,
    ``close()``, ``readyState``, ``label``, ``id``, ``bufferedAmount``, and events registered
    with ``@channel.on("open" | "message" | "close" | "bufferedamountlow" | "error")``.
    ``message`` handlers get ``str`` for string messages and ``bytes`` for binary ones.
    Handlers run on library threads."""

    _STATES = {0: "connecting", 1: "open", 2: "closing", 3: "closed"}

    def __init__(self, session: Session, handle: int):
        self._session = session
        self._handle = ctypes.c_void_p(handle)
        self._handlers: dict[str, list[Callable]] = {}
        self._closed = threading.Event()
        self._opened = threading.Event()
        s = session

        def guarded(event: str, *args) -> None:
            for fn in list(self._handlers.get(event, ())):
                try:
                    fn(*args)
                except BaseException as e:
                    s.callback_errors.append(e)
                    log.exception("exception in data channel %s handler", event)

        def on_open(_ud, _c):
            self._id = self.id
            self._opened.set()
            guarded("open")

        def on_message(_ud, _c, p, n, is_text):
            data = ctypes.string_at(p, n) if n else b""
            guarded("message", data.decode("utf-8", "replace") if is_text else data)

        def on_close(_ud, _c):
            self._closed.set()
            guarded("close")
            # Nothing follows a close: the native handle is released (getters keep working).
            s._channels.pop(handle, None)
            h, self._handle = self._handle, ctypes.c_void_p()
            if h:
                lib.wrs_data_channel_free(h)

        def on_low(_ud, _c):
            guarded("bufferedamountlow")

        def on_error(_ud, _c, m):
            guarded("error", WebRTCError(-8, m.decode("utf-8", "replace")))

        self._thunks = [
            (lib.wrs_data_channel_on_open, _native.CHANNEL_EVENT_CB(on_open)),
            (lib.wrs_data_channel_on_message, _native.CHANNEL_MESSAGE_CB(on_message)),
            (lib.wrs_data_channel_on_close, _native.CHANNEL_EVENT_CB(on_close)),
            (lib.wrs_data_channel_on_buffered_amount_low, _native.CHANNEL_EVENT_CB(on_low)),
            (lib.wrs_data_channel_on_error, _native.CHANNEL_ERROR_CB(on_error)),
        ]
        for setter, thunk in self._thunks:
            _check(setter(self._handle, thunk, None))
        # What the getters still tell once the channel is closed and its handle released.
        self._label = self._string(lib.wrs_data_channel_label)
        self._protocol = self._string(lib.wrs_data_channel_protocol)
        self._ordered = self._get(lib.wrs_data_channel_ordered, ctypes.c_bool)
        self._negotiated = self._get(lib.wrs_data_channel_negotiated, ctypes.c_bool)
        self._max_retransmits = self._get(lib.wrs_data_channel_max_retransmits, ctypes.c_int32)
        self._max_life = self._get(lib.wrs_data_channel_max_packet_life_time, ctypes.c_int32)
        self._id = None
        try:
            self._id = self._get(lib.wrs_data_channel_id, ctypes.c_uint16)
        except NotAvailableError:
            pass

    def _released(self) -> None:
        self._handle = ctypes.c_void_p()

    def _polled(self, ev: "Event", call: Callable[[Callable, tuple], None]) -> None:
        """Polling mode: a channel event drained by the session, to this channel's handlers
        (run through ``call(fn, args)``, which may schedule coroutines)."""
        def fire(event: str, *args) -> None:
            for fn in list(self._handlers.get(event, ())):
                try:
                    call(fn, args)
                except BaseException as e:  # noqa: BLE001 - a handler must not break the drain
                    self._session.callback_errors.append(e)
                    log.exception("exception in data channel %s handler", event)

        if ev.type == EventType.CHANNEL_OPEN:
            self._id = self.id
            self._opened.set()
            fire("open")
        elif ev.type == EventType.CHANNEL_MESSAGE:
            fire("message", ev.data.decode("utf-8", "replace") if ev.is_text else ev.data)
        elif ev.type == EventType.CHANNEL_BUFFERED_AMOUNT_LOW:
            fire("bufferedamountlow")
        elif ev.type == EventType.CHANNEL_ERROR:
            fire("error", WebRTCError(-8, ev.text))
        elif ev.type == EventType.CHANNEL_CLOSED:
            self._closed.set()
            fire("close")
            self._session._channels.pop(self._handle.value, None)
            h, self._handle = self._handle, ctypes.c_void_p()
            if h:
                lib.wrs_data_channel_free(h)

    def _h(self) -> ctypes.c_void_p:
        if not self._handle:
            raise InvalidStateError(-5, "the data channel is closed")
        return self._handle

    def on(self, event: str, fn: Optional[Callable] = None):
        """Registers a handler (usable as a decorator): ``open``, ``message``, ``close``,
        ``bufferedamountlow``, ``error``."""
        if event not in ("open", "message", "close", "bufferedamountlow", "error"):
            raise ValueError(f"unknown data channel event {event!r}")

        def register(f: Callable) -> Callable:
            self._handlers.setdefault(event, []).append(f)
            return f

        return register(fn) if fn is not None else register

    def send(self, data) -> None:
        """Sends a string (as a string message) or bytes-like data (binary)."""
        if isinstance(data, str):
            raw = data.encode("utf-8")
            if b"\0" in raw:
                raise ValueError("a string message cannot contain NUL here; send bytes instead")
            _check(lib.wrs_data_channel_send_text(self._h(), raw))
        else:
            raw = bytes(data)
            _check(lib.wrs_data_channel_send(self._h(), raw, len(raw)))

    def close(self) -> None:
        if self._handle:
            _check(lib.wrs_data_channel_close(self._handle))

    def wait_open(self, timeout: float = 30.0) -> bool:
        return self._opened.wait(timeout)

    def wait_closed(self, timeout: float = 30.0) -> bool:
        return self._closed.wait(timeout)

    def _get(self, fn, ctype):
        v = ctype()
        _check(fn(self._h(), ctypes.byref(v)))
        return v.value

    @property
    def readyState(self) -> str:
        if not self._handle:
            return "closed"
        return DataChannel._STATES[self._get(lib.wrs_data_channel_ready_state, ctypes.c_uint32)]

    def _string(self, fn) -> str:
        p = ctypes.c_void_p()
        _check(fn(self._h(), ctypes.byref(p)))
        return take_string(p)

    @property
    def label(self) -> str:
        return self._label

    @property
    def protocol(self) -> str:
        return self._protocol

    @property
    def id(self) -> Optional[int]:
        if self._handle and self._id is None:
            try:
                self._id = self._get(lib.wrs_data_channel_id, ctypes.c_uint16)
            except (NotAvailableError, ClosedError):
                pass
        return self._id

    @property
    def ordered(self) -> bool:
        return self._ordered

    @property
    def negotiated(self) -> bool:
        return self._negotiated

    @property
    def maxRetransmits(self) -> Optional[int]:
        return None if self._max_retransmits < 0 else self._max_retransmits

    @property
    def maxPacketLifeTime(self) -> Optional[int]:
        return None if self._max_life < 0 else self._max_life

    @property
    def bufferedAmount(self) -> int:
        if not self._handle:
            return 0
        return self._get(lib.wrs_data_channel_buffered_amount, ctypes.c_size_t)

    @property
    def bufferedAmountLowThreshold(self) -> int:
        return getattr(self, "_low_threshold", 0)

    @bufferedAmountLowThreshold.setter
    def bufferedAmountLowThreshold(self, value: int) -> None:
        _check(lib.wrs_data_channel_set_buffered_amount_low_threshold(self._h(), value))
        self._low_threshold = value

    # snake_case names for the synchronous API's users
    ready_state = readyState
    buffered_amount = bufferedAmount


_STATE_ENUMS.update({
    EventType.CONNECTION_STATE: ConnectionState,
    EventType.ICE_STATE: IceState,
    EventType.GATHERING_STATE: GatheringState,
    EventType.SIGNALING_STATE: SignalingState,
    EventType.TRACK: MediaKind,
})
