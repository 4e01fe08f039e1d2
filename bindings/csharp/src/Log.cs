// The library's log messages (wrs_set_log_callback), for the whole process.
using System;

namespace WebRtcSession
{
    public enum LogLevel : uint { Error = 1, Warn = 2, Info = 3, Debug = 4, Trace = 5 }

    public static class Log
    {
        static readonly string[] Areas = { "session", "ice", "dtls", "srtp", "sctp", "rtcp" };
        // The delegate the library holds must stay reachable while registered (only kept).
#pragma warning disable 0414
        static Native.LogCallback registered;
#pragma warning restore 0414

        /// <summary>Sends the library's messages up to <paramref name="level"/> to
        /// <paramref name="handler"/>(level, area, message), from library threads; null turns
        /// logging off. An exception in the handler is dropped.</summary>
        public static void SetHandler(Action<LogLevel, string, string> handler, LogLevel level = LogLevel.Info)
        {
            Native.LogCallback cb = null;
            if (handler != null)
            {
                cb = (ud, lv, area, message) =>
                {
                    try { handler((LogLevel)lv, area < Areas.Length ? Areas[area] : area.ToString(), Native.FromUtf8(message)); }
                    catch (Exception) { }
                };
            }
            Native.Check(Native.wrs_set_log_callback(cb, IntPtr.Zero, (uint)level));
            registered = cb;
        }
    }
}
