"""EchoPeer: the library's side of a browser echo call. Every RTP packet received on a track is
sent back on the same track (the library puts its own SSRC on it), and the browser's key frame
requests for the echoed video are passed on to its sender as a PLI."""

from __future__ import annotations

import webrtc_session as w


class EchoPeer:
    def __init__(self, config: w.Config):
        self.session = w.Session(config)
        self.kinds: dict[int, str] = {}
        self.remote_video_ssrc = None
        self.echo_errors = 0
        self.last_echo_error = None
        self.keyframe_requests = 0
        self.session.on_rtp = self.on_rtp
        self.session.on_rtcp = self.on_rtcp

    def add_tracks(self, audio=(w.Codec.OPUS, w.Codec.PCMU), video=(w.Codec.VP8, w.Codec.H264)):
        self.audio = self.session.add_track(w.MediaKind.AUDIO, list(audio))
        self.video = self.session.add_track(w.MediaKind.VIDEO, list(video))
        self.kinds = {self.audio.id: "audio", self.video.id: "video"}

    def on_rtp(self, track: int, packet: bytes) -> None:
        if self.kinds.get(track) == "video":
            self.remote_video_ssrc = int.from_bytes(packet[8:12], "big")
        try:
            self.session.send_rtp(track, packet)
        except w.WebRTCError as e:
            self.echo_errors += 1
            self.last_echo_error = str(e)

    def on_rtcp(self, packet: bytes) -> None:
        i = 0
        while i + 4 <= len(packet):
            fmt, pt = packet[i] & 0x1F, packet[i + 1]
            if pt == 206 and fmt in (1, 4):  # PLI or FIR
                self.request_keyframe()
            i += 4 * (int.from_bytes(packet[i + 2:i + 4], "big") + 1)

    def request_keyframe(self) -> None:
        if self.remote_video_ssrc is None:
            return
        pli = bytes([0x81, 206, 0, 2]) + self.video.ssrc.to_bytes(4, "big") + self.remote_video_ssrc.to_bytes(4, "big")
        try:
            self.session.send_rtcp(pli)
            self.keyframe_requests += 1
        except w.WebRTCError:
            pass
