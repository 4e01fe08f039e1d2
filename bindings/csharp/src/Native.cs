// P/Invoke declarations of include/webrtc_session.h. Strings cross as UTF-8 byte arrays and
// IntPtr (decoded here), so the marshalling is the same on Mono and .NET 6+.
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace WebRtcSession
{
    internal static class Native
    {
        internal const string Lib = "webrtc_session";

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void RtpCallback(IntPtr userData, uint track, IntPtr packet, UIntPtr len);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void FrameCallback(IntPtr userData, ref WrsFrame frame);

        /// <summary>wrs_frame.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct WrsFrame
        {
            public uint Track;
            public uint Ssrc;
            public uint Codec;
            public uint Timestamp;
            [MarshalAs(UnmanagedType.I1)] public bool Keyframe;
            public uint LostPackets;
            public IntPtr Data;
            public UIntPtr Len;
        }
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void RtcpCallback(IntPtr userData, IntPtr packet, UIntPtr len);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void CandidateCallback(IntPtr userData, IntPtr candidate, IntPtr mid);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void StateCallback(IntPtr userData, uint state);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void TrackCallback(IntPtr userData, uint track, uint kind, IntPtr mid);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void ChannelCallback(IntPtr userData, IntPtr channel);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void ChannelMessageCallback(IntPtr userData, IntPtr channel, IntPtr data, UIntPtr len, [MarshalAs(UnmanagedType.I1)] bool isText);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void ChannelErrorCallback(IntPtr userData, IntPtr channel, IntPtr message);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void LogCallback(IntPtr userData, uint level, uint area, IntPtr message);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern IntPtr wrs_version();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_set_log_callback(LogCallback cb, IntPtr userData, uint maxLevel);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern IntPtr wrs_last_error_message();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern IntPtr wrs_result_name(int result);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void wrs_string_free(IntPtr s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void wrs_shutdown();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_new(out IntPtr cfg);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void wrs_config_free(IntPtr cfg);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_add_ice_server(ConfigHandle cfg, byte[] url);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_add_local_address(ConfigHandle cfg, byte[] ip);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_set_port_range(ConfigHandle cfg, ushort min, ushort max);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_set_shared_port(ConfigHandle cfg, ushort port);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_set_certificate_pem_files(ConfigHandle cfg, byte[] certPath, byte[] keyPath);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_set_srtp_profiles(ConfigHandle cfg, uint[] profiles, UIntPtr count);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_set_dtls_role(ConfigHandle cfg, uint role);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_set_bundle_policy(ConfigHandle cfg, uint policy);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_set_max_remote_candidates(ConfigHandle cfg, uint max);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_new(ConfigHandle cfg, out IntPtr session);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_new(IntPtr cfg, out IntPtr session);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_close(SessionHandle s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void wrs_session_free(IntPtr s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_add_track(SessionHandle s, uint kind, uint[] codecs, UIntPtr count, uint direction, out uint track);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_create_offer(SessionHandle s, out IntPtr sdp);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_create_answer(SessionHandle s, out IntPtr sdp);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_set_local_description(SessionHandle s, uint type, byte[] sdp);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_set_remote_description(SessionHandle s, uint type, byte[] sdp);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_local_description(SessionHandle s, out IntPtr sdp);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_remote_description(SessionHandle s, out IntPtr sdp);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_add_remote_candidate(SessionHandle s, byte[] candidate);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_send_rtp(SessionHandle s, uint track, byte[] packet, UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_send_media(SessionHandle s, uint track, byte[] payload, UIntPtr len, uint timestamp, [MarshalAs(UnmanagedType.I1)] bool marker);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_send_rtcp(SessionHandle s, byte[] packet, UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_on_rtp(SessionHandle s, RtpCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_set_send_codec(SessionHandle s, uint track, byte payloadType);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_on_frame(SessionHandle s, FrameCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_set_pacer(ConfigHandle cfg, [MarshalAs(UnmanagedType.I1)] bool on, ulong bitrateBps);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_config_set_jitter_buffer(ConfigHandle cfg, uint latencyMs, [MarshalAs(UnmanagedType.I1)] bool keyframeAfterLoss);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_on_rtcp(SessionHandle s, RtcpCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_on_ice_candidate(SessionHandle s, CandidateCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_on_connection_state(SessionHandle s, StateCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_on_ice_state(SessionHandle s, StateCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_on_gathering_state(SessionHandle s, StateCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_on_signaling_state(SessionHandle s, StateCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_on_track(SessionHandle s, TrackCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_connection_state(SessionHandle s, out uint state);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_ice_state(SessionHandle s, out uint state);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_gathering_state(SessionHandle s, out uint state);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_signaling_state(SessionHandle s, out uint state);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_failure_reason(SessionHandle s, out IntPtr reason);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_selected_candidate_pair(SessionHandle s, out IntPtr local, out IntPtr remote);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_local_fingerprint(SessionHandle s, out IntPtr fp);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_remote_fingerprint(SessionHandle s, out IntPtr fp);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_dtls_version(SessionHandle s, out IntPtr version);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_srtp_profile(SessionHandle s, out uint profile);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_dtls_role(SessionHandle s, out uint role);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_track_mid(SessionHandle s, uint track, out IntPtr mid);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_track_ssrc(SessionHandle s, uint track, out uint ssrc);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_track_payload_type(SessionHandle s, uint track, out byte pt);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_stat(SessionHandle s, uint which, out ulong value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_get_stats(SessionHandle s, out IntPtr json);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_bandwidth_estimate(SessionHandle s, out ulong bps);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_send_frame(SessionHandle s, uint track, byte[] frame, UIntPtr len, uint rtpTimestamp);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_on_data_channel(SessionHandle s, ChannelCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_session_create_data_channel(SessionHandle s, byte[] label, IntPtr init, out IntPtr channel);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_init_new(out IntPtr init);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void wrs_data_channel_init_free(IntPtr init);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_init_set_ordered(IntPtr init, [MarshalAs(UnmanagedType.I1)] bool ordered);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_init_set_max_retransmits(IntPtr init, ushort n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_init_set_max_packet_life_time(IntPtr init, ushort ms);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_init_set_protocol(IntPtr init, byte[] protocol);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_init_set_negotiated_id(IntPtr init, ushort id);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void wrs_data_channel_free(IntPtr channel);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_on_open(ChannelHandle c, ChannelCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_on_message(ChannelHandle c, ChannelMessageCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_on_close(ChannelHandle c, ChannelCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_on_buffered_amount_low(ChannelHandle c, ChannelCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_on_error(ChannelHandle c, ChannelErrorCallback cb, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_send(ChannelHandle c, byte[] data, UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_send_text(ChannelHandle c, byte[] text);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_close(ChannelHandle c);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_ready_state(ChannelHandle c, out uint state);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_label(ChannelHandle c, out IntPtr label);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_protocol(ChannelHandle c, out IntPtr protocol);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_id(ChannelHandle c, out ushort id);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_ordered(ChannelHandle c, [MarshalAs(UnmanagedType.I1)] out bool ordered);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_negotiated(ChannelHandle c, [MarshalAs(UnmanagedType.I1)] out bool negotiated);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_max_retransmits(ChannelHandle c, out int n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_max_packet_life_time(ChannelHandle c, out int ms);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_buffered_amount(ChannelHandle c, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int wrs_data_channel_set_buffered_amount_low_threshold(ChannelHandle c, UIntPtr n);

        /// <summary>NUL-terminated UTF-8 bytes of <paramref name="s"/> (null stays null).</summary>
        internal static byte[] Utf8(string s)
        {
            if (s == null) return null;
            var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        /// <summary>Decodes a NUL-terminated UTF-8 string owned by the library (not freed).</summary>
        internal static string FromUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int len = 0;
            while (Marshal.ReadByte(p, len) != 0) len++;
            var bytes = new byte[len];
            Marshal.Copy(p, bytes, 0, len);
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>Decodes and releases a string the library allocated for the caller.</summary>
        internal static string TakeString(IntPtr p)
        {
            try { return FromUtf8(p); }
            finally { wrs_string_free(p); }
        }

        /// <summary>Throws <see cref="WebRtcException"/> with the library's message on error.</summary>
        internal static void Check(int result)
        {
            if (result != 0)
                throw new WebRtcException(result, FromUtf8(wrs_result_name(result)), FromUtf8(wrs_last_error_message()));
        }
    }

    /// <summary>Owns a native wrs_session; releasing it frees the session (no callback after).</summary>
    internal sealed class SessionHandle : SafeHandle
    {
        // The delegates registered with the library: kept alive exactly as long as the handle.
        internal Delegate[] Callbacks;

        internal SessionHandle(IntPtr handle) : base(IntPtr.Zero, true) { SetHandle(handle); }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle()
        {
            Native.wrs_session_free(handle);
            return true;
        }
    }

    /// <summary>Owns a native wrs_data_channel; releasing it frees the channel (no callback after).</summary>
    internal sealed class ChannelHandle : SafeHandle
    {
        internal Delegate[] Callbacks;
        internal ChannelHandle(IntPtr handle) : base(IntPtr.Zero, true) { SetHandle(handle); }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle()
        {
            Native.wrs_data_channel_free(handle);
            return true;
        }
    }

    /// <summary>Owns a native wrs_config.</summary>
    internal sealed class ConfigHandle : SafeHandle
    {
        internal ConfigHandle(IntPtr handle) : base(IntPtr.Zero, true) { SetHandle(handle); }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle()
        {
            Native.wrs_config_free(handle);
            return true;
        }
    }
}
