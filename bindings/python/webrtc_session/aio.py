"""An asyncio API in aiortc's shape, on the library's polling mode: the session's events are
drained on the event loop's thread (``loop.add_reader`` on its descriptor), so handlers and
awaitables never run on a library thread.

    from webrtc_session.aio import RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection()
    channel = pc.createDataChannel("chat")

    @channel.on("open")
    def on_open():
        channel.send("hello")

    @pc.on("connectionstatechange")
    async def on_state():
        print(pc.connectionState)

    await pc.setLocalDescription(await pc.createOffer())
    # pc.localDescription.sdp is complete (candidates included): send it to the peer
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

What exists: offer/answer, ``localDescription`` once gathering is done, trickle
``addIceCandidate``, ``addTransceiver`` for audio and video with RTP-level tracks
(``track.recv()`` gives the next RTP packet, ``sender.send_rtp`` sends one), data channels,
``getStats()``, and the ``connectionstatechange``, ``iceconnectionstatechange``,
``icegatheringstatechange``, ``signalingstatechange``, ``track``, ``datachannel`` and
``icecandidate`` events. Not yet: media frames (``MediaStreamTrack`` of audio and video
frames), ``addTrack`` with aiortc's media players.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

from . import (
    Codec,
    Config,
    DataChannel,
    Direction,
    EventType,
    MediaKind,
    SdpType,
    Session,
    Track,
)

__all__ = [
    "RTCPeerConnection", "RTCSessionDescription", "RTCConfiguration", "RTCIceServer", "RTCIceCandidate",
    "RTCDataChannel", "RemoteTrack", "RTCRtpTransceiver",
]

RTCDataChannel = DataChannel

_SDP_TYPES = {"offer": SdpType.OFFER, "answer": SdpType.ANSWER, "rollback": SdpType.ROLLBACK}
_DEFAULT_CODECS = {MediaKind.AUDIO: (Codec.OPUS, Codec.PCMU, Codec.PCMA), MediaKind.VIDEO: (Codec.VP8, Codec.H264)}
_DIRECTIONS = {"sendrecv": Direction.SENDRECV, "sendonly": Direction.SENDONLY, "recvonly": Direction.RECVONLY}
#: RTP packets waiting in a remote track before the oldest is dropped.
TRACK_QUEUE = 512


@dataclass
class RTCSessionDescription:
    sdp: str
    type: str

    def __post_init__(self):
        if self.type not in _SDP_TYPES:
            raise ValueError(f"'type' must be one of {sorted(_SDP_TYPES)}, not {self.type!r}")


@dataclass
class RTCIceServer:
    urls: Union[str, Sequence[str]]
    username: Optional[str] = None
    credential: Optional[str] = None


@dataclass
class RTCConfiguration:
    iceServers: Optional[list[RTCIceServer]] = None


@dataclass
class RTCIceCandidate:
    """A remote or local candidate: the ``candidate:...`` line and its m-section."""
    candidate: str
    sdpMid: Optional[str] = None
    sdpMLineIndex: Optional[int] = None


class _Emitter:
    """``@obj.on("event")`` handlers; coroutine handlers are scheduled on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._handlers: dict[str, list[Callable]] = {}
        self.handler_errors: list[BaseException] = []

    def on(self, event: str, fn: Optional[Callable] = None):
        def register(f: Callable) -> Callable:
            self._handlers.setdefault(event, []).append(f)
            return f

        return register(fn) if fn is not None else register

    def _call(self, fn: Callable, args: tuple) -> None:
        r = fn(*args)
        if inspect.isawaitable(r):
            self._loop.create_task(r)

    def emit(self, event: str, *args) -> None:
        for fn in list(self._handlers.get(event, ())):
            try:
                self._call(fn, args)
            except BaseException as e:  # noqa: BLE001 - one handler must not stop the others
                self.handler_errors.append(e)


class RemoteTrack:
    """A track the peer sends on (the ``track`` event): ``kind``, ``id`` (its mid) and
    ``await recv()`` for its next RTP packet (bytes; at most ``TRACK_QUEUE`` wait)."""

    def __init__(self, kind: str, track_id: int, mid: str):
        self.kind = kind
        self.id = mid
        self.track_id = track_id
        self.dropped = 0
        self._queue: asyncio.Queue = asyncio.Queue(TRACK_QUEUE)

    def _put(self, packet: bytes) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(packet)

    async def recv(self) -> bytes:
        return await self._queue.get()


@dataclass
class RTCRtpTransceiver:
    """A transceiver of ``addTransceiver``: ``sender`` is the library's track (``send_rtp``,
    ``send_media``, ``codec``), ``mid`` once negotiated."""
    kind: str
    direction: str
    sender: Track
    receiver: Optional[RemoteTrack] = field(default=None)

    @property
    def mid(self) -> Optional[str]:
        try:
            return self.sender.mid
        except Exception:  # noqa: BLE001 - not negotiated yet
            return None


class RTCPeerConnection(_Emitter):
    """aiortc's ``RTCPeerConnection`` on this library. ``config`` (a
    :class:`webrtc_session.Config`) takes the library's own settings instead of
    ``configuration``. Create it inside a running event loop."""

    def __init__(self, configuration: Optional[RTCConfiguration] = None, config: Optional[Config] = None):
        super().__init__(asyncio.get_running_loop())
        own = None
        if config is None:
            urls = []
            for server in (configuration.iceServers if configuration and configuration.iceServers else []):
                for url in [server.urls] if isinstance(server.urls, str) else server.urls:
                    urls.append(url)
            own = config = Config(ice_servers=urls)
        try:
            self._session = Session(config)
        finally:
            if own is not None:
                own.free()
        self._fd = self._session.use_polling()
        self._loop.add_reader(self._fd, self._drain)
        self._gathered = asyncio.Event()
        self._tracks: dict[int, RemoteTrack] = {}
        self._transceivers: list[RTCRtpTransceiver] = []
        self._local_type: Optional[str] = None
        self._remote_type: Optional[str] = None
        self._closed = False
        self.connectionState = "new"
        self.iceConnectionState = "new"
        self.iceGatheringState = "new"
        self.signalingState = "stable"

    # -- events from the library, on the loop's thread --------------------------------------
    def _drain(self) -> None:
        if self._closed:
            return
        for ev in self._session.events():
            t = ev.type
            if t == EventType.RTP:
                track = self._tracks.get(ev.track)
                if track is not None:
                    track._put(ev.data)
            elif t == EventType.CONNECTION_STATE:
                self.connectionState = ev.state.name.lower()
                self.emit("connectionstatechange")
            elif t == EventType.ICE_STATE:
                self.iceConnectionState = ev.state.name.lower()
                self.emit("iceconnectionstatechange")
            elif t == EventType.GATHERING_STATE:
                self.iceGatheringState = ev.state.name.lower()
                if self.iceGatheringState == "complete":
                    self._gathered.set()
                self.emit("icegatheringstatechange")
            elif t == EventType.SIGNALING_STATE:
                self.signalingState = ev.state.name.lower().replace("_", "-")
                self.emit("signalingstatechange")
            elif t == EventType.ICE_CANDIDATE:
                self.emit("icecandidate", RTCIceCandidate(ev.text, ev.mid))
            elif t == EventType.TRACK:
                track = RemoteTrack(ev.state.name.lower(), ev.track, ev.mid)
                self._tracks[ev.track] = track
                for tr in self._transceivers:
                    if tr.sender.id == ev.track:
                        tr.receiver = track
                self.emit("track", track)
            elif t == EventType.DATA_CHANNEL:
                self.emit("datachannel", ev.channel)
            elif ev.channel is not None:
                ev.channel._polled(ev, self._call)

    # -- signaling --------------------------------------------------------------------------
    async def createOffer(self) -> RTCSessionDescription:
        return RTCSessionDescription(self._session.create_offer(), "offer")

    async def createAnswer(self) -> RTCSessionDescription:
        return RTCSessionDescription(self._session.create_answer(), "answer")

    async def setLocalDescription(self, description: Optional[RTCSessionDescription] = None) -> None:
        """Applies our description and, as aiortc does, returns once ICE gathering is done,
        so that :attr:`localDescription` carries the candidates."""
        if description is None:
            description = await (self.createAnswer() if self._remote_type == "offer" and self.signalingState != "stable" else self.createOffer())
        self._session.set_local_description(_SDP_TYPES[description.type], description.sdp)
        self._local_type = description.type
        self._drain()
        if self.iceGatheringState != "complete":
            await self._gathered.wait()
        self._drain()

    async def setRemoteDescription(self, description: RTCSessionDescription) -> None:
        self._session.set_remote_description(_SDP_TYPES[description.type], description.sdp)
        self._remote_type = description.type
        self._drain()

    @property
    def localDescription(self) -> Optional[RTCSessionDescription]:
        sdp = self._session.local_description
        return RTCSessionDescription(sdp, self._local_type) if sdp and self._local_type else None

    @property
    def remoteDescription(self) -> Optional[RTCSessionDescription]:
        sdp = self._session.remote_description
        return RTCSessionDescription(sdp, self._remote_type) if sdp and self._remote_type else None

    async def addIceCandidate(self, candidate: Union[RTCIceCandidate, str, dict, None]) -> None:
        """A remote candidate: an :class:`RTCIceCandidate`, a ``candidate:...`` line, or a
        browser's ``{"candidate": ..., "sdpMid": ...}``; None or an empty one ends them."""
        if candidate is None:
            return
        line = candidate if isinstance(candidate, str) else candidate.get("candidate", "") if isinstance(candidate, dict) else candidate.candidate
        self._session.add_remote_candidate(line)

    # -- media and data ---------------------------------------------------------------------
    def addTransceiver(self, trackOrKind: str, direction: str = "sendrecv", codecs: Optional[Sequence[Codec]] = None) -> RTCRtpTransceiver:
        kind = MediaKind.AUDIO if trackOrKind == "audio" else MediaKind.VIDEO if trackOrKind == "video" else None
        if kind is None:
            raise ValueError(f"kind must be 'audio' or 'video' (media tracks of frames are not supported yet), not {trackOrKind!r}")
        track = self._session.add_track(kind, codecs or _DEFAULT_CODECS[kind], _DIRECTIONS[direction])
        tr = RTCRtpTransceiver(trackOrKind, direction, track)
        self._transceivers.append(tr)
        return tr

    def getTransceivers(self) -> list[RTCRtpTransceiver]:
        return list(self._transceivers)

    def createDataChannel(self, label: str, **kwargs: Any) -> DataChannel:
        """aiortc's keywords: ``maxPacketLifeTime``, ``maxRetransmits``, ``ordered``,
        ``protocol``, ``negotiated``, ``id``."""
        return self._session.createDataChannel(label, **kwargs)

    async def getStats(self) -> dict:
        return self._session.get_stats()

    @property
    def session(self) -> Session:
        """The library session underneath (counters, bandwidth estimate, keyframes...)."""
        return self._session

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        self._session.close()
        self.connectionState = "closed"
        self.signalingState = "closed"
        self.emit("connectionstatechange")
        self._session.free()
