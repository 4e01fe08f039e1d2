// The names and shapes of SIPSorcery's RTCPeerConnection (SIPSorcery.Net), so that its usual
// samples port with few changes: createOffer/createAnswer returning RTCSessionDescriptionInit,
// setLocalDescription (a Task), setRemoteDescription returning SetDescriptionResultEnum,
// onicecandidate, addIceCandidate(RTCIceCandidateInit), onconnectionstatechange,
// OnRtpPacketReceived(IPEndPoint, SDPMediaTypesEnum, RTPPacket), addTrack(MediaStreamTrack),
// SendAudio, SendVideo (every video codec the library packetizes), OnVideoFrameReceived (whole
// frames from the library's jitter buffer). Events come from library threads, as the rest of
// this binding's (see RTCPeerConnection).
using System;
using System.Collections.Generic;
using System.Net;
using System.Threading.Tasks;

namespace WebRtcSession
{
    public enum RTCSdpType { answer = 0, offer = 1, pranswer = 2, rollback = 3 }
    public enum RTCPeerConnectionState { closed, failed, disconnected, @new, connecting, connected }
    public enum RTCIceConnectionState { closed, failed, disconnected, @new, checking, connected }
    public enum RTCSignalingState { stable, have_local_offer, have_remote_offer, have_local_pranswer, have_remote_pranswer, closed }
    /// <summary>SIPSorcery's video codec names.</summary>
    public enum VideoCodecsEnum { VP8 = 0, H264 = 1, VP9 = 3, AV1 = 6 }

    /// <summary>SIPSorcery's VideoFormat (the members a received frame needs).</summary>
    public struct VideoFormat
    {
        public VideoCodecsEnum Codec;
        public int ClockRate;
        public string FormatName;

        public VideoFormat(WebRtcSession.Codec codec)
        {
            switch (codec)
            {
                case WebRtcSession.Codec.VP9: Codec = VideoCodecsEnum.VP9; break;
                case WebRtcSession.Codec.H264: Codec = VideoCodecsEnum.H264; break;
                case WebRtcSession.Codec.AV1: Codec = VideoCodecsEnum.AV1; break;
                default: Codec = VideoCodecsEnum.VP8; break;
            }
            ClockRate = 90000;
            FormatName = Codec.ToString();
        }
    }

    public enum SDPMediaTypesEnum { audio = 0, video = 1, application = 2, data = 3, control = 4, image = 5, message = 6 }
    public enum MediaStreamStatusEnum { SendRecv = 0, SendOnly = 1, RecvOnly = 2, Inactive = 3 }
    /// <summary>SIPSorcery's well-known audio formats (their static payload type numbers).</summary>
    public enum SDPWellKnownMediaFormatsEnum { PCMU = 0, PCMA = 8, G722 = 9 }

    /// <summary>What setRemoteDescription says of a description (SIPSorcery's names; the
    /// library's reason is in <see cref="RTCPeerConnection.LastSetDescriptionError"/>).</summary>
    public enum SetDescriptionResultEnum
    {
        OK,
        DtlsFingerprintMissing,
        DtlsFingerprintDigestNotSupported,
        NoMatchingMediaType,
        WrongSdpTypeOfferAfterOffer,
        Error,
    }

    public class RTCOfferOptions { }
    public class RTCAnswerOptions { }

    public class RTCSessionDescriptionInit
    {
        public RTCSdpType type;
        public string sdp;
        public string toJSON() { return "{\"type\":\"" + type + "\",\"sdp\":" + Json(sdp) + "}"; }
        internal static string Json(string s)
        {
            var b = new System.Text.StringBuilder("\"");
            foreach (var c in s ?? "")
            {
                if (c == '"' || c == '\\') b.Append('\\').Append(c);
                else if (c == '\r') b.Append("\\r");
                else if (c == '\n') b.Append("\\n");
                else if (c < ' ') b.AppendFormat("\\u{0:x4}", (int)c);
                else b.Append(c);
            }
            return b.Append('"').ToString();
        }
    }

    /// <summary>A description as the session holds it: <c>sdp.ToString()</c> is its text.</summary>
    public class SDP
    {
        private readonly string text;
        internal SDP(string text) { this.text = text; }
        public override string ToString() { return text; }
    }

    public class RTCSessionDescription
    {
        public RTCSdpType type;
        public SDP sdp;
    }

    public class RTCIceCandidateInit
    {
        public string candidate;
        public string sdpMid;
        public ushort sdpMLineIndex;
        public string usernameFragment;
    }

    public class RTCIceCandidate
    {
        public string candidate;
        public string sdpMid;
        public ushort sdpMLineIndex;
        public string toJSON()
        {
            return "{\"candidate\":" + RTCSessionDescriptionInit.Json(candidate) + ",\"sdpMid\":" + RTCSessionDescriptionInit.Json(sdpMid) +
                   ",\"sdpMLineIndex\":" + sdpMLineIndex + "}";
        }
        public override string ToString() { return candidate; }
    }

    /// <summary>A media format of a track: a well-known audio format, or a name and clock
    /// rate (VP8, VP9, H264, AV1, OPUS, PCMU, PCMA, G722).</summary>
    public class SDPAudioVideoMediaFormat
    {
        public SDPMediaTypesEnum Kind;
        public int ID;
        public string Name;
        public int ClockRate;
        public SDPAudioVideoMediaFormat(SDPWellKnownMediaFormatsEnum format)
        {
            Kind = SDPMediaTypesEnum.audio;
            ID = (int)format;
            Name = format.ToString();
            ClockRate = 8000;
        }
        public SDPAudioVideoMediaFormat(SDPMediaTypesEnum kind, int id, string name, int clockRate = 0, int channels = 0, string parameters = null)
        {
            Kind = kind;
            ID = id;
            Name = name;
            ClockRate = clockRate;
        }
        internal Codec ToCodec()
        {
            switch ((Name ?? "").ToUpperInvariant())
            {
                case "PCMU": return Codec.PCMU;
                case "PCMA": return Codec.PCMA;
                case "G722": return Codec.G722;
                case "OPUS": return Codec.Opus;
                case "VP8": return Codec.VP8;
                case "VP9": return Codec.VP9;
                case "H264": return Codec.H264;
                case "AV1": return Codec.AV1;
                default: throw new NotSupportedException("media format " + Name + " is not one this library negotiates");
            }
        }
    }

    public class MediaStreamTrack
    {
        public SDPMediaTypesEnum Kind;
        public bool IsRemote;
        public List<SDPAudioVideoMediaFormat> Capabilities;
        public MediaStreamStatusEnum StreamStatus;
        internal MediaTrack Track;
        public MediaStreamTrack(SDPMediaTypesEnum kind, bool isRemote, List<SDPAudioVideoMediaFormat> capabilities,
                                MediaStreamStatusEnum streamStatus = MediaStreamStatusEnum.SendRecv)
        {
            Kind = kind;
            IsRemote = isRemote;
            Capabilities = capabilities;
            StreamStatus = streamStatus;
        }
    }

    public class RTPHeader
    {
        public int Version = 2;
        public int MarkerBit;
        public int PayloadType;
        public ushort SequenceNumber;
        public uint Timestamp;
        public uint SyncSource;
        /// <summary>Bytes of fixed header, CSRCs and extensions.</summary>
        public int Length;
    }

    public class RTPPacket
    {
        public RTPHeader Header;
        public byte[] Payload;

        /// <summary>Parses a plain RTP packet as the library delivers it.</summary>
        public RTPPacket(byte[] packet)
        {
            var h = new RTPHeader();
            int len = 12 + 4 * (packet[0] & 0x0f);
            if ((packet[0] & 0x10) != 0 && packet.Length >= len + 4)
                len += 4 + 4 * ((packet[len + 2] << 8) | packet[len + 3]);
            int pad = (packet[0] & 0x20) != 0 ? packet[packet.Length - 1] : 0;
            h.MarkerBit = packet[1] >> 7;
            h.PayloadType = packet[1] & 0x7f;
            h.SequenceNumber = (ushort)((packet[2] << 8) | packet[3]);
            h.Timestamp = (uint)((packet[4] << 24) | (packet[5] << 16) | (packet[6] << 8) | packet[7]);
            h.SyncSource = (uint)((packet[8] << 24) | (packet[9] << 16) | (packet[10] << 8) | packet[11]);
            h.Length = Math.Min(len, packet.Length);
            Header = h;
            int n = Math.Max(0, packet.Length - h.Length - pad);
            Payload = new byte[n];
            Array.Copy(packet, h.Length, Payload, 0, n);
        }
    }

    public sealed partial class RTCPeerConnection
    {
        /// <summary>A local candidate to send to the peer (SIPSorcery's onicecandidate).</summary>
        public event Action<RTCIceCandidate> onicecandidate;
        public event Action<RTCPeerConnectionState> onconnectionstatechange;
        public event Action<RTCIceConnectionState> oniceconnectionstatechange;
        public event Action<RTCSignalingState> onsignalingstatechange;
        /// <summary>SIPSorcery's OnRtpPacketReceived: the peer's address (the selected pair's),
        /// the media type of the track, and the parsed packet.</summary>
        public event Action<IPEndPoint, SDPMediaTypesEnum, RTPPacket> OnRtpPacketReceived;

        private Action<IPEndPoint, uint, byte[], VideoFormat> videoFrameReceived;
        /// <summary>SIPSorcery's OnVideoFrameReceived: the peer's address, the frame's RTP
        /// timestamp, the whole encoded frame (from the library's jitter buffer) and its
        /// format. Subscribing turns frame delivery on.</summary>
        public event Action<IPEndPoint, uint, byte[], VideoFormat> OnVideoFrameReceived
        {
            add { lock (kinds) videoFrameReceived += value; EnableFrames(); }
            remove { lock (kinds) videoFrameReceived -= value; }
        }

        /// <summary>Why the last setRemoteDescription did not return OK.</summary>
        public string LastSetDescriptionError { get; private set; }

        private readonly Dictionary<uint, MediaKind> kinds = new Dictionary<uint, MediaKind>();
        private readonly Dictionary<uint, uint> frameClock = new Dictionary<uint, uint>();
        private IPEndPoint remoteEndPoint;

        private void RememberKind(uint track, MediaKind kind) { lock (kinds) kinds[track] = kind; }

        public RTCSessionDescriptionInit createOffer(RTCOfferOptions options = null)
        {
            return new RTCSessionDescriptionInit { type = RTCSdpType.offer, sdp = CreateOffer() };
        }

        public RTCSessionDescriptionInit createAnswer(RTCAnswerOptions options = null)
        {
            return new RTCSessionDescriptionInit { type = RTCSdpType.answer, sdp = CreateAnswer() };
        }

        private static SdpType ToSdpType(RTCSdpType t)
        {
            switch (t)
            {
                case RTCSdpType.offer: return SdpType.Offer;
                case RTCSdpType.answer: return SdpType.Answer;
                case RTCSdpType.rollback: return SdpType.Rollback;
                default: throw new NotSupportedException("pranswer is not supported");
            }
        }

        public Task setLocalDescription(RTCSessionDescriptionInit init)
        {
            SetLocalDescription(ToSdpType(init.type), init.sdp);
            localType = init.type;
            return Task.FromResult(0);
        }

        public SetDescriptionResultEnum setRemoteDescription(RTCSessionDescriptionInit init)
        {
            LastSetDescriptionError = null;
            try
            {
                SetRemoteDescription(ToSdpType(init.type), init.sdp);
                remoteType = init.type;
                return SetDescriptionResultEnum.OK;
            }
            catch (Exception e)
            {
                LastSetDescriptionError = e.Message;
                var m = e.Message.ToLowerInvariant();
                if (m.Contains("fingerprint") && (m.Contains("no ") || m.Contains("missing"))) return SetDescriptionResultEnum.DtlsFingerprintMissing;
                if (m.Contains("fingerprint")) return SetDescriptionResultEnum.DtlsFingerprintDigestNotSupported;
                var w = e as WebRtcException;
                if (w != null && w.CodeName == "WRS_RESULT_INVALID_STATE") return SetDescriptionResultEnum.WrongSdpTypeOfferAfterOffer;
                if (m.Contains("codec") || m.Contains("no media")) return SetDescriptionResultEnum.NoMatchingMediaType;
                return SetDescriptionResultEnum.Error;
            }
        }

        public void addIceCandidate(RTCIceCandidateInit init)
        {
            if (init != null && !string.IsNullOrEmpty(init.candidate)) AddIceCandidate(init.candidate);
        }

        /// <summary>Adds a local track (its formats preferred in order).</summary>
        public void addTrack(MediaStreamTrack track)
        {
            var codecs = track.Capabilities.ConvertAll(f => f.ToCodec()).ToArray();
            var kind = track.Kind == SDPMediaTypesEnum.video ? MediaKind.Video : MediaKind.Audio;
            var dir = track.StreamStatus == MediaStreamStatusEnum.SendOnly ? Direction.SendOnly
                    : track.StreamStatus == MediaStreamStatusEnum.RecvOnly ? Direction.RecvOnly : Direction.SendRecv;
            track.Track = AddTrack(kind, codecs, dir);
        }

        /// <summary>Sends one encoded audio frame (a packet) on the first audio track; the RTP
        /// timestamp advances by <paramref name="durationRtpUnits"/> after it.</summary>
        public void SendAudio(uint durationRtpUnits, byte[] sample) { SendFrameOn(MediaKind.Audio, durationRtpUnits, sample); }

        /// <summary>Sends one encoded video frame on the first video track, packetized by the
        /// library (VP8, H.264 from Annex B; VP9 and AV1 throw until issue #14); the RTP
        /// timestamp advances by <paramref name="durationRtpUnits"/> (90 kHz) after it.</summary>
        public void SendVideo(uint durationRtpUnits, byte[] frame) { SendFrameOn(MediaKind.Video, durationRtpUnits, frame); }

        private void SendFrameOn(MediaKind kind, uint durationRtpUnits, byte[] frame)
        {
            uint track = 0;
            bool found = false;
            lock (kinds)
            {
                foreach (var kv in kinds)
                {
                    if (kv.Value == kind && (!found || kv.Key < track)) { track = kv.Key; found = true; }
                }
            }
            if (!found) throw new InvalidOperationException("no " + kind + " track: addTrack one first");
            uint ts;
            lock (frameClock)
            {
                frameClock.TryGetValue(track, out ts);
                frameClock[track] = ts + durationRtpUnits;
            }
            Native.Check(Native.wrs_session_send_frame(H, track, frame, (UIntPtr)frame.Length, ts));
        }

        public RTCPeerConnectionState connectionState { get { return ToSipsorcery(ConnectionState); } }
        public RTCIceConnectionState iceConnectionState { get { return ToSipsorcery(IceConnectionState); } }
        public RTCSignalingState signalingState { get { return ToSipsorcery(SignalingState); } }

        public RTCSessionDescription localDescription { get { return Description(LocalDescription, localType); } }
        public RTCSessionDescription remoteDescription { get { return Description(RemoteDescription, remoteType); } }

        private RTCSdpType localType = RTCSdpType.offer, remoteType = RTCSdpType.offer;

        private static RTCSessionDescription Description(string text, RTCSdpType type)
        {
            if (string.IsNullOrEmpty(text)) return null;
            return new RTCSessionDescription { type = type, sdp = new SDP(text) };
        }

        public void close() { Close(); }
        public void Close(string reason) { Close(); }

        private static RTCPeerConnectionState ToSipsorcery(ConnectionState s)
        {
            switch (s)
            {
                case ConnectionState.New: return RTCPeerConnectionState.@new;
                case ConnectionState.Connecting: return RTCPeerConnectionState.connecting;
                case ConnectionState.Connected: return RTCPeerConnectionState.connected;
                case ConnectionState.Disconnected: return RTCPeerConnectionState.disconnected;
                case ConnectionState.Failed: return RTCPeerConnectionState.failed;
                default: return RTCPeerConnectionState.closed;
            }
        }

        private static RTCIceConnectionState ToSipsorcery(IceConnectionState s)
        {
            switch (s)
            {
                case IceConnectionState.New: return RTCIceConnectionState.@new;
                case IceConnectionState.Checking: return RTCIceConnectionState.checking;
                case IceConnectionState.Connected: return RTCIceConnectionState.connected;
                case IceConnectionState.Disconnected: return RTCIceConnectionState.disconnected;
                case IceConnectionState.Failed: return RTCIceConnectionState.failed;
                default: return RTCIceConnectionState.closed;
            }
        }

        private static RTCSignalingState ToSipsorcery(SignalingState s)
        {
            switch (s)
            {
                case SignalingState.Stable: return RTCSignalingState.stable;
                case SignalingState.HaveLocalOffer: return RTCSignalingState.have_local_offer;
                case SignalingState.HaveRemoteOffer: return RTCSignalingState.have_remote_offer;
                default: return RTCSignalingState.closed;
            }
        }

        private void RaiseSipsorceryCandidate(string line, string mid)
        {
            var h = onicecandidate;
            // The library's mids are the m-line indexes ("0", "1"...) of its own offers.
            ushort index;
            ushort.TryParse(mid, out index);
            if (h != null) h(new RTCIceCandidate { candidate = line, sdpMid = mid, sdpMLineIndex = index });
        }

        private void RaiseSipsorceryConnectionState(ConnectionState s)
        {
            var h = onconnectionstatechange;
            if (h != null) h(ToSipsorcery(s));
        }

        private void RaiseSipsorceryIceState(IceConnectionState s)
        {
            var h = oniceconnectionstatechange;
            if (h != null) h(ToSipsorcery(s));
        }

        private void RaiseSipsorcerySignalingState(SignalingState s)
        {
            var h = onsignalingstatechange;
            if (h != null) h(ToSipsorcery(s));
        }

        private void RaiseSipsorceryFrame(MediaFrame f)
        {
            Action<IPEndPoint, uint, byte[], VideoFormat> h;
            lock (kinds) h = videoFrameReceived;
            if (h == null || f.Codec < Codec.VP8) return;
            h(RemoteEndPoint(), f.Timestamp, f.Data, new VideoFormat(f.Codec));
        }

        private IPEndPoint RemoteEndPoint()
        {
            if (remoteEndPoint == null)
            {
                try
                {
                    // "candidate:... <ip> <port> typ ..." of the selected pair's remote side.
                    var f = SelectedCandidatePair.Value.Split(' ');
                    remoteEndPoint = new IPEndPoint(IPAddress.Parse(f[4]), int.Parse(f[5]));
                }
                catch (Exception) { }
            }
            return remoteEndPoint;
        }

        private void RaiseSipsorceryRtp(uint track, byte[] packet)
        {
            var h = OnRtpPacketReceived;
            if (h == null || packet.Length < 12) return;
            MediaKind kind;
            lock (kinds) if (!kinds.TryGetValue(track, out kind)) kind = MediaKind.Audio;
            h(RemoteEndPoint(), kind == MediaKind.Video ? SDPMediaTypesEnum.video : SDPMediaTypesEnum.audio, new RTPPacket(packet));
        }
    }
}
