// The idiomatic surface: RTCConfiguration, RTCPeerConnection (in the spirit of SIPSorcery's),
// MediaTrack, enums and WebRtcException. C# 7.3, for Mono's mcs and .NET 6+.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading.Tasks;

namespace WebRtcSession
{
    public enum MediaKind : uint { Audio = 0, Video = 1 }
    public enum Codec : uint { PCMU = 0, PCMA = 1, G722 = 2, Opus = 3, VP8 = 4, VP9 = 5, H264 = 6, AV1 = 7, H265 = 8 }
    public enum Direction : uint { SendRecv = 0, SendOnly = 1, RecvOnly = 2 }
    public enum SdpType : uint { Offer = 0, Answer = 1, Rollback = 2 }
    public enum ConnectionState : uint { New = 0, Connecting = 1, Connected = 2, Disconnected = 3, Failed = 4, Closed = 5 }
    public enum IceConnectionState : uint { New = 0, Checking = 1, Connected = 2, Disconnected = 3, Failed = 4, Closed = 5 }
    public enum IceGatheringState : uint { New = 0, Gathering = 1, Complete = 2 }
    public enum SignalingState : uint { Stable = 0, HaveLocalOffer = 1, HaveRemoteOffer = 2, Closed = 3 }
    public enum SrtpProfile : uint { Aes128CmHmacSha1_80 = 1, AeadAes128Gcm = 7, AeadAes256Gcm = 8 }
    public enum DtlsRole : uint { Auto = 0, Client = 1, Server = 2 }
    public enum BundlePolicy : uint { Balanced = 0, MaxBundle = 1 }
    public enum Stat : uint
    {
        RtpPacketsSent = 0, RtpBytesSent = 1, RtpPacketsReceived = 2, RtpBytesReceived = 3,
        RtcpPacketsSent = 4, RtcpPacketsReceived = 5, SrtpUnprotectFailures = 6, RtpUnroutable = 7, DatagramsDropped = 8,
        UnverifiedDropped = 9, StunRejected = 10, RemoteCandidatesRefused = 11, IceChecksSent = 12, IceChecksPaced = 13,
        DataMessagesSent = 14, DataBytesSent = 15, DataMessagesReceived = 16, DataBytesReceived = 17, SctpPacketsDropped = 18,
        RtcpReportsSent = 19, RtcpReportsReceived = 20, PliReceived = 21, FirReceived = 22, KeyframeRequestsMerged = 23,
        KeyframeRequestsSent = 24, NackReceived = 25, RtcpSourcesRefused = 26, NackSent = 27, NackSequencesSent = 28,
        RetransmittedPacketsSent = 29, RetransmittedBytesSent = 30, NackRequestsUnanswered = 31, NackRequestsLimited = 32,
        RtxPacketsReceived = 33, RtxPacketsDropped = 34, NackRecovered = 35, NackGaveUp = 36,
        TransportFeedbackReceived = 37, RembReceived = 38, BandwidthOveruse = 39, TransportFeedbackUnknown = 40,
        PollEventsDropped = 41,
    }

    /// <summary>A native call failed. <see cref="Code"/> is the wrs_result value, <see cref="CodeName"/>
    /// its name (WRS_RESULT_INVALID_SDP...), the message the library's last-error message.</summary>
    public sealed class WebRtcException : Exception
    {
        public int Code { get; private set; }
        public string CodeName { get; private set; }
        public WebRtcException(int code, string codeName, string message) : base(message)
        {
            Code = code;
            CodeName = codeName;
        }
    }

    /// <summary>Settings for new sessions; every property is optional.</summary>
    public sealed class RTCConfiguration
    {
        /// <summary>Addresses to gather host candidates on (default: all non-loopback IPv4).</summary>
        public List<string> LocalAddresses = new List<string>();
        /// <summary>stun:host[:port] URLs.</summary>
        public List<string> IceServers = new List<string>();
        public ushort PortMin, PortMax;
        /// <summary>Non-zero: one UDP port shared by every session made with it (see wrs_config_set_shared_port).</summary>
        public ushort SharedPort;
        /// <summary>PEM files of the DTLS certificate and key (default: a generated ECDSA P-256 one).</summary>
        public string CertificatePath, KeyPath;
        public List<SrtpProfile> SrtpProfiles = new List<SrtpProfile>();
        /// <summary>DTLS role taken when answering.</summary>
        public DtlsRole DtlsRole = DtlsRole.Auto;
        /// <summary>Bundle policy of our offers (MaxBundle: later sections are port 0 + a=bundle-only).</summary>
        public BundlePolicy BundlePolicy = BundlePolicy.Balanced;
        /// <summary>Remote candidates accepted per session (0: the library's default, 100).</summary>
        public uint MaxRemoteCandidates;
        /// <summary>Frame delivery's jitter buffer wait for a missing packet (0: the default, 150 ms).</summary>
        public uint JitterBufferMs;
        /// <summary>Pace SendFrame/SendVideo at this rate in bit/s (null: no pacing; 0: 2.5 x the bandwidth estimate).</summary>
        public ulong? PacerBitrate;

        internal ConfigHandle Build()
        {
            IntPtr raw;
            Native.Check(Native.wrs_config_new(out raw));
            var h = new ConfigHandle(raw);
            try
            {
                foreach (var a in LocalAddresses) Native.Check(Native.wrs_config_add_local_address(h, Native.Utf8(a)));
                foreach (var u in IceServers) Native.Check(Native.wrs_config_add_ice_server(h, Native.Utf8(u)));
                if (PortMin != 0 || PortMax != 0) Native.Check(Native.wrs_config_set_port_range(h, PortMin, PortMax));
                if (SharedPort != 0) Native.Check(Native.wrs_config_set_shared_port(h, SharedPort));
                if (CertificatePath != null)
                    Native.Check(Native.wrs_config_set_certificate_pem_files(h, Native.Utf8(CertificatePath), Native.Utf8(KeyPath)));
                if (SrtpProfiles.Count > 0)
                {
                    var list = SrtpProfiles.ConvertAll(p => (uint)p).ToArray();
                    Native.Check(Native.wrs_config_set_srtp_profiles(h, list, (UIntPtr)list.Length));
                }
                Native.Check(Native.wrs_config_set_dtls_role(h, (uint)DtlsRole));
                Native.Check(Native.wrs_config_set_bundle_policy(h, (uint)BundlePolicy));
                if (MaxRemoteCandidates != 0) Native.Check(Native.wrs_config_set_max_remote_candidates(h, MaxRemoteCandidates));
                if (JitterBufferMs != 0) Native.Check(Native.wrs_config_set_jitter_buffer(h, JitterBufferMs, true));
                if (PacerBitrate.HasValue) Native.Check(Native.wrs_config_set_pacer(h, true, PacerBitrate.Value));
                return h;
            }
            catch
            {
                h.Dispose();
                throw;
            }
        }
    }

    /// <summary>A complete received frame (<see cref="RTCPeerConnection.OnFrame"/>).</summary>
    public sealed class MediaFrame
    {
        public readonly uint Track;
        public readonly Codec Codec;
        /// <summary>RTP timestamp on the codec's clock.</summary>
        public readonly uint Timestamp;
        public readonly bool Keyframe;
        /// <summary>Packets of this source that never arrived since its previous frame.</summary>
        public readonly uint LostPackets;
        public readonly byte[] Data;

        internal MediaFrame(uint track, Codec codec, uint timestamp, bool keyframe, uint lost, byte[] data)
        {
            Track = track; Codec = codec; Timestamp = timestamp; Keyframe = keyframe; LostPackets = lost; Data = data;
        }
    }

    /// <summary>A track of a session. <see cref="Id"/> is what SendRtp and OnRtpPacket use.</summary>
    public sealed class MediaTrack
    {
        private readonly RTCPeerConnection pc;
        public uint Id { get; private set; }
        public MediaKind Kind { get; private set; }
        internal MediaTrack(RTCPeerConnection pc, uint id, MediaKind kind) { this.pc = pc; Id = id; Kind = kind; }
        public string Mid { get { return pc.TrackMid(Id); } }
        public uint Ssrc { get { return pc.TrackSsrc(Id); } }
    }

    /// <summary>
    /// A WebRTC session: offer/answer, ICE, DTLS-SRTP and RTP, run by the native library.
    /// Events are raised on library threads (one at a time per session), not on the thread that
    /// created the session: marshal to a UI thread yourself. An exception thrown by a handler is
    /// caught and reported through <see cref="OnCallbackException"/>; it never reaches the library.
    /// Dispose frees the session; after Dispose returns no event is raised.
    /// </summary>
    public sealed partial class RTCPeerConnection : IDisposable
    {
        private readonly SessionHandle handle;

        /// <summary>A decrypted RTP packet and the id of the track it belongs to.</summary>
        public event Action<uint, byte[]> OnRtpPacket;
        public event Action<byte[]> OnRtcpPacketReceived;
        /// <summary>A local candidate ("candidate:..." line) and its mid: send it to the peer.</summary>
        public event Action<string, string> OnIceCandidate;
        public event Action<ConnectionState> OnConnectionStateChange;
        public event Action<IceConnectionState> OnIceConnectionStateChange;
        public event Action<IceGatheringState> OnIceGatheringStateChange;
        public event Action<SignalingState> OnSignalingStateChange;
        /// <summary>A track the remote side sends on.</summary>
        public event Action<MediaTrack> OnTrack;
        /// <summary>A data channel the peer opened (SIPSorcery's <c>ondatachannel</c>).</summary>
        public event Action<RTCDataChannel> ondatachannel;
        /// <summary>An event handler threw; the exception is passed here instead of crashing the host.</summary>
        public event Action<Exception> OnCallbackException;

        public static string Version { get { return Native.FromUtf8(Native.wrs_version()); } }

        // Library threads that raised an event are attached to the managed runtime, and Mono
        // waits for them at exit: the library stops them once the process is exiting.
        static RTCPeerConnection()
        {
            AppDomain.CurrentDomain.ProcessExit += (sender, args) => Native.wrs_shutdown();
        }

        public RTCPeerConnection(RTCConfiguration configuration = null)
        {
            IntPtr raw;
            if (configuration == null)
            {
                Native.Check(Native.wrs_session_new(IntPtr.Zero, out raw));
            }
            else
            {
                using (var cfg = configuration.Build())
                    Native.Check(Native.wrs_session_new(cfg, out raw));
            }
            handle = new SessionHandle(raw);
            var rtp = new Native.RtpCallback((ud, trackId, p, len) => Raise(() =>
            {
                var h = OnRtpPacket;
                var packet = Copy(p, len);
                if (h != null) h(trackId, packet);
                RaiseSipsorceryRtp(trackId, packet);
            }));
            var rtcp = new Native.RtcpCallback((ud, p, len) => Raise(() =>
            {
                var h = OnRtcpPacketReceived;
                if (h != null) h(Copy(p, len));
            }));
            var candidate = new Native.CandidateCallback((ud, c, mid) => Raise(() =>
            {
                var h = OnIceCandidate;
                string line = Native.FromUtf8(c), m = Native.FromUtf8(mid);
                if (h != null) h(line, m);
                RaiseSipsorceryCandidate(line, m);
            }));
            var connection = new Native.StateCallback((ud, s) => Raise(() =>
            {
                var h = OnConnectionStateChange;
                if (h != null) h((ConnectionState)s);
                RaiseSipsorceryConnectionState((ConnectionState)s);
            }));
            var ice = new Native.StateCallback((ud, s) => Raise(() =>
            {
                var h = OnIceConnectionStateChange;
                if (h != null) h((IceConnectionState)s);
                RaiseSipsorceryIceState((IceConnectionState)s);
            }));
            var gathering = new Native.StateCallback((ud, s) => Raise(() =>
            {
                var h = OnIceGatheringStateChange;
                if (h != null) h((IceGatheringState)s);
            }));
            var signaling = new Native.StateCallback((ud, s) => Raise(() =>
            {
                var h = OnSignalingStateChange;
                if (h != null) h((SignalingState)s);
                RaiseSipsorcerySignalingState((SignalingState)s);
            }));
            var onTrack = new Native.TrackCallback((ud, t, kind, mid) => Raise(() =>
            {
                var h = OnTrack;
                RememberKind(t, (MediaKind)kind);
                if (h != null) h(new MediaTrack(this, t, (MediaKind)kind));
            }));
            var onChannel = new Native.ChannelCallback((ud, c) => Raise(() =>
            {
                // Adopted even when nobody listens (the session's free releases it otherwise).
                var ch = Adopt(c);
                var h = ondatachannel;
                if (h != null) h(ch);
            }));
            var onFrame = new Native.FrameCallback((IntPtr ud, ref Native.WrsFrame f) =>
            {
                var frame = new MediaFrame(f.Track, (Codec)f.Codec, f.Timestamp, f.Keyframe, f.LostPackets, Copy(f.Data, f.Len));
                Raise(() => RaiseFrame(frame));
            });
            frameCallback = onFrame;
            // Registered once for the life of the handle, which keeps the delegates reachable
            // (the frame callback only once somebody listens: it turns the jitter buffers on).
            handle.Callbacks = new Delegate[] { rtp, rtcp, candidate, connection, ice, gathering, signaling, onTrack, onChannel, onFrame };
            Native.Check(Native.wrs_session_on_rtp(handle, rtp, IntPtr.Zero));
            Native.Check(Native.wrs_session_on_rtcp(handle, rtcp, IntPtr.Zero));
            Native.Check(Native.wrs_session_on_ice_candidate(handle, candidate, IntPtr.Zero));
            Native.Check(Native.wrs_session_on_connection_state(handle, connection, IntPtr.Zero));
            Native.Check(Native.wrs_session_on_ice_state(handle, ice, IntPtr.Zero));
            Native.Check(Native.wrs_session_on_gathering_state(handle, gathering, IntPtr.Zero));
            Native.Check(Native.wrs_session_on_signaling_state(handle, signaling, IntPtr.Zero));
            Native.Check(Native.wrs_session_on_track(handle, onTrack, IntPtr.Zero));
            Native.Check(Native.wrs_session_on_data_channel(handle, onChannel, IntPtr.Zero));
        }

        private Native.FrameCallback frameCallback;
        private bool framesOn;
        private Action<MediaFrame> onFrame;

        /// <summary>Complete received frames from the library's jitter buffers (subscribing
        /// turns frame delivery on): VP8/VP9 as encoded, H.264 as Annex B, AV1 as OBUs, audio
        /// as the payload.</summary>
        public event Action<MediaFrame> OnFrame
        {
            add { lock (channels) onFrame += value; EnableFrames(); }
            remove { lock (channels) onFrame -= value; }
        }

        private void EnableFrames()
        {
            lock (channels)
            {
                if (framesOn) return;
                framesOn = true;
            }
            Native.Check(Native.wrs_session_on_frame(handle, frameCallback, IntPtr.Zero));
        }

        private void RaiseFrame(MediaFrame f)
        {
            Action<MediaFrame> h;
            lock (channels) h = onFrame;
            if (h != null) h(f);
            RaiseSipsorceryFrame(f);
        }

        // Channels that may still raise events: kept reachable (with their delegates) until closed.
        private readonly Dictionary<IntPtr, RTCDataChannel> channels = new Dictionary<IntPtr, RTCDataChannel>();

        private RTCDataChannel Adopt(IntPtr raw)
        {
            var ch = new RTCDataChannel(this, new ChannelHandle(raw));
            lock (channels) channels[raw] = ch;
            return ch;
        }

        internal void Forget(IntPtr raw)
        {
            lock (channels) channels.Remove(raw);
        }

        internal void RaiseEvent(Action a) { Raise(a); }

        /// <summary>
        /// Creates a data channel (SIPSorcery's <c>createDataChannel(label, init)</c>, which
        /// returns a task there too). It opens (<c>onopen</c>) once the SCTP association is up;
        /// the first channel adds a data section to the next offer.
        /// </summary>
        public Task<RTCDataChannel> createDataChannel(string label, RTCDataChannelInit init = null)
        {
            IntPtr o;
            Native.Check(Native.wrs_data_channel_init_new(out o));
            try
            {
                if (init != null)
                {
                    if (init.maxRetransmits.HasValue && init.maxPacketLifeTime.HasValue)
                        throw new ArgumentException("maxRetransmits and maxPacketLifeTime cannot both be set");
                    Native.Check(Native.wrs_data_channel_init_set_ordered(o, init.ordered ?? true));
                    if (init.maxRetransmits.HasValue) Native.Check(Native.wrs_data_channel_init_set_max_retransmits(o, init.maxRetransmits.Value));
                    if (init.maxPacketLifeTime.HasValue) Native.Check(Native.wrs_data_channel_init_set_max_packet_life_time(o, init.maxPacketLifeTime.Value));
                    if (!string.IsNullOrEmpty(init.protocol)) Native.Check(Native.wrs_data_channel_init_set_protocol(o, Native.Utf8(init.protocol)));
                    if (init.negotiated == true)
                    {
                        if (!init.id.HasValue) throw new ArgumentException("a negotiated channel needs an id");
                        Native.Check(Native.wrs_data_channel_init_set_negotiated_id(o, init.id.Value));
                    }
                }
                IntPtr raw;
                Native.Check(Native.wrs_session_create_data_channel(H, Native.Utf8(label ?? ""), o, out raw));
                return Task.FromResult(Adopt(raw));
            }
            finally
            {
                Native.wrs_data_channel_init_free(o);
            }
        }

        // Runs an event on a library thread: nothing may escape into native code.
        private void Raise(Action a)
        {
            try { a(); }
            catch (Exception e)
            {
                try
                {
                    var h = OnCallbackException;
                    if (h != null) h(e);
                }
                catch { /* the reporter itself failed: nothing left to tell */ }
            }
        }

        private static byte[] Copy(IntPtr p, UIntPtr len)
        {
            var bytes = new byte[(int)len];
            Marshal.Copy(p, bytes, 0, bytes.Length);
            return bytes;
        }

        private SessionHandle H
        {
            get
            {
                if (handle.IsClosed) throw new ObjectDisposedException("RTCPeerConnection");
                return handle;
            }
        }

        private delegate int StringGetter(SessionHandle s, out IntPtr p);

        private string Get(StringGetter f)
        {
            IntPtr p;
            Native.Check(f(H, out p));
            return Native.TakeString(p);
        }

        public MediaTrack AddTrack(MediaKind kind, Codec[] codecs, Direction direction = Direction.SendRecv)
        {
            var list = Array.ConvertAll(codecs, c => (uint)c);
            uint id;
            Native.Check(Native.wrs_session_add_track(H, (uint)kind, list, (UIntPtr)list.Length, (uint)direction, out id));
            RememberKind(id, kind);
            return new MediaTrack(this, id, kind);
        }

        public string CreateOffer() { return Get(Native.wrs_session_create_offer); }
        public string CreateAnswer() { return Get(Native.wrs_session_create_answer); }
        public void SetLocalDescription(SdpType type, string sdp = null)
        {
            Native.Check(Native.wrs_session_set_local_description(H, (uint)type, Native.Utf8(sdp)));
        }
        public void SetRemoteDescription(SdpType type, string sdp)
        {
            Native.Check(Native.wrs_session_set_remote_description(H, (uint)type, Native.Utf8(sdp)));
        }
        /// <summary>Adds a remote candidate; null or "" ends the remote candidates.</summary>
        public void AddIceCandidate(string candidate)
        {
            Native.Check(Native.wrs_session_add_remote_candidate(H, Native.Utf8(candidate)));
        }
        public string LocalDescription { get { return Get(Native.wrs_session_local_description); } }
        public string RemoteDescription { get { return Get(Native.wrs_session_remote_description); } }

        /// <summary>Sends this negotiated payload type (and its codec) with SendMedia and
        /// SendFrame (the first negotiated by default).</summary>
        public void SetSendCodec(uint track, byte payloadType)
        {
            Native.Check(Native.wrs_session_set_send_codec(handle, track, payloadType));
        }

        public void SendRtp(uint track, byte[] packet)
        {
            Native.Check(Native.wrs_session_send_rtp(H, track, packet, (UIntPtr)packet.Length));
        }
        public void SendMedia(uint track, byte[] payload, uint rtpTimestamp, bool marker = false)
        {
            Native.Check(Native.wrs_session_send_media(H, track, payload, (UIntPtr)payload.Length, rtpTimestamp, marker));
        }
        public void SendRtcp(byte[] packet)
        {
            Native.Check(Native.wrs_session_send_rtcp(H, packet, (UIntPtr)packet.Length));
        }

        private delegate int UIntGetter(SessionHandle s, out uint v);
        private uint GetUInt(UIntGetter f)
        {
            uint v;
            Native.Check(f(H, out v));
            return v;
        }

        public ConnectionState ConnectionState { get { return (ConnectionState)GetUInt(Native.wrs_session_connection_state); } }
        public IceConnectionState IceConnectionState { get { return (IceConnectionState)GetUInt(Native.wrs_session_ice_state); } }
        public IceGatheringState IceGatheringState { get { return (IceGatheringState)GetUInt(Native.wrs_session_gathering_state); } }
        public SignalingState SignalingState { get { return (SignalingState)GetUInt(Native.wrs_session_signaling_state); } }
        public SrtpProfile SrtpProfile { get { return (SrtpProfile)GetUInt(Native.wrs_session_srtp_profile); } }
        public DtlsRole DtlsRole { get { return (DtlsRole)GetUInt(Native.wrs_session_dtls_role); } }
        public string DtlsVersion { get { return Get(Native.wrs_session_dtls_version); } }
        public string LocalFingerprint { get { return Get(Native.wrs_session_local_fingerprint); } }
        public string RemoteFingerprint { get { return Get(Native.wrs_session_remote_fingerprint); } }

        /// <summary>Why the connection failed, or null.</summary>
        public string FailureReason
        {
            get
            {
                IntPtr p;
                int r = Native.wrs_session_failure_reason(H, out p);
                if (r == -14) return null; // WRS_RESULT_NOT_AVAILABLE
                Native.Check(r);
                return Native.TakeString(p);
            }
        }

        public KeyValuePair<string, string> SelectedCandidatePair
        {
            get
            {
                IntPtr l, r;
                Native.Check(Native.wrs_session_selected_candidate_pair(H, out l, out r));
                return new KeyValuePair<string, string>(Native.TakeString(l), Native.TakeString(r));
            }
        }

        /// <summary>getStats(): JSON with the W3C webrtc-stats types and names, an object from stats
        /// id to RTCStats (inbound-rtp, outbound-rtp, remote-inbound-rtp, transport, candidate-pair,
        /// codec...).</summary>
        public string GetStatsJson() { return Get(Native.wrs_session_get_stats); }

        /// <summary>The send-side bandwidth estimate in bits per second (from the peer's
        /// transport-wide feedback and REMB), or null before any arrived.</summary>
        public ulong? BandwidthEstimate
        {
            get
            {
                ulong v;
                return Native.wrs_session_bandwidth_estimate(H, out v) == 0 ? v : (ulong?)null;
            }
        }

        public ulong GetStat(Stat which)
        {
            ulong v;
            Native.Check(Native.wrs_session_stat(H, (uint)which, out v));
            return v;
        }

        internal string TrackMid(uint track)
        {
            IntPtr p;
            Native.Check(Native.wrs_session_track_mid(H, track, out p));
            return Native.TakeString(p);
        }

        internal uint TrackSsrc(uint track)
        {
            uint v;
            Native.Check(Native.wrs_session_track_ssrc(H, track, out v));
            return v;
        }

        /// <summary>Graceful close (DTLS close_notify); getters keep working until Dispose.</summary>
        public void Close() { Native.Check(Native.wrs_session_close(H)); }

        /// <summary>Closes and frees the session; no event is raised after this returns.</summary>
        public void Dispose() { handle.Dispose(); }
    }
}
