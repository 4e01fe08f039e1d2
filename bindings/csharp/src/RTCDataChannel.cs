// Data channels in SIPSorcery's shape: RTCDataChannelInit, RTCDataChannel (label, readyState,
// send(string) / send(byte[]), close(), onopen / onmessage / onclose / onerror), and the
// payload protocol identifiers SIPSorcery's onmessage reports.
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace WebRtcSession
{
    /// <summary>Options of a new data channel (RTCDataChannelInit).</summary>
    public sealed class RTCDataChannelInit
    {
        public bool? ordered;
        public ushort? maxPacketLifeTime;
        public ushort? maxRetransmits;
        public string protocol;
        public bool? negotiated;
        public ushort? id;
    }

    public enum RTCDataChannelState { connecting = 0, open = 1, closing = 2, closed = 3 }

    /// <summary>The SCTP payload protocol identifiers of data channel messages (RFC 8831 §8).</summary>
    public enum DataChannelPayloadProtocols : uint
    {
        WebRTC_DCEP = 50,
        WebRTC_String = 51,
        WebRTC_Binary = 53,
        WebRTC_String_Empty = 56,
        WebRTC_Binary_Empty = 57,
    }

    public delegate void OnDataChannelMessageDelegate(RTCDataChannel dc, DataChannelPayloadProtocols protocol, byte[] data);

    /// <summary>
    /// A data channel (RTCDataChannel). Events are raised on library threads, one at a time
    /// per session; an exception thrown by a handler goes to the connection's
    /// <c>OnCallbackException</c>. Once closed (<c>onclose</c>) the native handle is released;
    /// the properties keep their last values.
    /// </summary>
    public sealed class RTCDataChannel
    {
        private readonly ChannelHandle handle;
        private readonly IntPtr raw;
        private ushort? streamId;

        public event Action onopen;
        public event Action onclose;
        public event Action<string> onerror;
        public event Action onbufferedamountlow;
        public event OnDataChannelMessageDelegate onmessage;

        public string label { get; private set; }
        public string protocol { get; private set; }
        public bool ordered { get; private set; }
        public bool negotiated { get; private set; }
        public ushort? maxRetransmits { get; private set; }
        public ushort? maxPacketLifeTime { get; private set; }
        public string binaryType = "arraybuffer";

        internal RTCDataChannel(RTCPeerConnection pc, ChannelHandle handle)
        {

            this.handle = handle;
            raw = handle.DangerousGetHandle();
            var open = new Native.ChannelCallback((ud, c) => pc.RaiseEvent(() =>
            {
                ReadId();
                var h = onopen;
                if (h != null) h();
            }));
            var message = new Native.ChannelMessageCallback((ud, c, p, len, isText) => pc.RaiseEvent(() =>
            {
                var bytes = new byte[(int)len];
                if (bytes.Length > 0) Marshal.Copy(p, bytes, 0, bytes.Length);
                var kind = isText
                    ? (bytes.Length == 0 ? DataChannelPayloadProtocols.WebRTC_String_Empty : DataChannelPayloadProtocols.WebRTC_String)
                    : (bytes.Length == 0 ? DataChannelPayloadProtocols.WebRTC_Binary_Empty : DataChannelPayloadProtocols.WebRTC_Binary);
                var h = onmessage;
                if (h != null) h(this, kind, bytes);
            }));
            var close = new Native.ChannelCallback((ud, c) =>
            {
                pc.RaiseEvent(() =>
                {
                    var h = onclose;
                    if (h != null) h();
                });
                // Nothing follows a close: release the native handle (from its own callback,
                // which the library allows) and stop keeping this object reachable.
                Closed = true;
                pc.Forget(raw);
                this.handle.Dispose();
            });
            var low = new Native.ChannelCallback((ud, c) => pc.RaiseEvent(() =>
            {
                var h = onbufferedamountlow;
                if (h != null) h();
            }));
            var error = new Native.ChannelErrorCallback((ud, c, m) => pc.RaiseEvent(() =>
            {
                var h = onerror;
                if (h != null) h(Native.FromUtf8(m));
            }));
            handle.Callbacks = new Delegate[] { open, message, close, low, error };
            Native.Check(Native.wrs_data_channel_on_open(handle, open, IntPtr.Zero));
            Native.Check(Native.wrs_data_channel_on_message(handle, message, IntPtr.Zero));
            Native.Check(Native.wrs_data_channel_on_close(handle, close, IntPtr.Zero));
            Native.Check(Native.wrs_data_channel_on_buffered_amount_low(handle, low, IntPtr.Zero));
            Native.Check(Native.wrs_data_channel_on_error(handle, error, IntPtr.Zero));
            IntPtr s;
            Native.Check(Native.wrs_data_channel_label(handle, out s));
            label = Native.TakeString(s);
            Native.Check(Native.wrs_data_channel_protocol(handle, out s));
            protocol = Native.TakeString(s);
            bool b;
            Native.Check(Native.wrs_data_channel_ordered(handle, out b));
            ordered = b;
            Native.Check(Native.wrs_data_channel_negotiated(handle, out b));
            negotiated = b;
            int n;
            Native.Check(Native.wrs_data_channel_max_retransmits(handle, out n));
            maxRetransmits = n < 0 ? (ushort?)null : (ushort)n;
            Native.Check(Native.wrs_data_channel_max_packet_life_time(handle, out n));
            maxPacketLifeTime = n < 0 ? (ushort?)null : (ushort)n;
            ReadId();
        }

        internal bool Closed { get; private set; }

        private void ReadId()
        {
            if (streamId.HasValue || handle.IsClosed) return;
            ushort v;
            if (Native.wrs_data_channel_id(handle, out v) == 0) streamId = v;
        }

        private ChannelHandle H
        {
            get
            {
                if (handle.IsClosed) throw new WebRtcException(-5, "WRS_RESULT_INVALID_STATE", "the data channel is closed");
                return handle;
            }
        }

        /// <summary>The SCTP stream id, once known.</summary>
        public ushort? id { get { ReadId(); return streamId; } }

        public RTCDataChannelState readyState
        {
            get
            {
                if (handle.IsClosed) return RTCDataChannelState.closed;
                uint st;
                Native.Check(Native.wrs_data_channel_ready_state(handle, out st));
                return (RTCDataChannelState)st;
            }
        }

        public ulong bufferedAmount
        {
            get
            {
                if (handle.IsClosed) return 0;
                UIntPtr n;
                Native.Check(Native.wrs_data_channel_buffered_amount(handle, out n));
                return (ulong)n;
            }
        }

        private ulong lowThreshold;
        public ulong bufferedAmountLowThreshold
        {
            get { return lowThreshold; }
            set
            {
                Native.Check(Native.wrs_data_channel_set_buffered_amount_low_threshold(H, (UIntPtr)value));
                lowThreshold = value;
            }
        }

        /// <summary>Sends a string message (UTF-8).</summary>
        public void send(string message)
        {
            if (message != null && message.IndexOf('\0') >= 0)
                throw new ArgumentException("a string message cannot contain NUL here; send bytes instead");
            Native.Check(Native.wrs_data_channel_send_text(H, Native.Utf8(message ?? "")));
        }

        /// <summary>Sends a binary message.</summary>
        public void send(byte[] data)
        {
            data = data ?? new byte[0];
            Native.Check(Native.wrs_data_channel_send(H, data, (UIntPtr)data.Length));
        }

        /// <summary>Closes the channel (stream reset); <c>onclose</c> follows on both sides.</summary>
        public void close()
        {
            if (!handle.IsClosed) Native.Check(Native.wrs_data_channel_close(handle));
        }

        public override string ToString() { return "RTCDataChannel(" + label + ")"; }
    }
}
