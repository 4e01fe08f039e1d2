// Test program for the C# binding (Mono's mcs/mono, or .NET). Prints "N passed, N failed".
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using WebRtcSession;

static class Tests
{
    static int passed, failed;

    static void Run(string name, Action test)
    {
        try
        {
            test();
            passed++;
            Console.WriteLine("ok   " + name);
        }
        catch (Exception e)
        {
            failed++;
            Console.WriteLine("FAIL " + name + ": " + e);
        }
    }

    static void Assert(bool condition, string what)
    {
        if (!condition) throw new Exception("assertion failed: " + what);
    }

    static bool WaitFor(Func<bool> condition, int ms = 10000)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < ms)
        {
            if (condition()) return true;
            Thread.Sleep(5);
        }
        return condition();
    }

    static RTCConfiguration Loopback(DtlsRole role = DtlsRole.Auto)
    {
        var c = new RTCConfiguration { DtlsRole = role };
        c.LocalAddresses.Add("127.0.0.1");
        return c;
    }

    /// Offer/answer with trickle ICE between two sessions; returns their tracks once connected.
    static MediaTrack[] Connect(RTCPeerConnection a, RTCPeerConnection b, out double ms)
    {
        var sw = Stopwatch.StartNew();
        a.OnIceCandidate += (c, mid) => b.AddIceCandidate(c);
        b.OnIceCandidate += (c, mid) => a.AddIceCandidate(c);
        var ta = a.AddTrack(MediaKind.Audio, new[] { Codec.Opus, Codec.PCMU });
        var offer = a.CreateOffer();
        b.SetRemoteDescription(SdpType.Offer, offer); // before a gathers: no candidate arrives early
        a.SetLocalDescription(SdpType.Offer, offer);
        var tb = b.AddTrack(MediaKind.Audio, new[] { Codec.PCMU, Codec.Opus });
        var answer = b.CreateAnswer();
        a.SetRemoteDescription(SdpType.Answer, answer);
        b.SetLocalDescription(SdpType.Answer, answer);
        Assert(WaitFor(() => a.ConnectionState == ConnectionState.Connected && b.ConnectionState == ConnectionState.Connected),
               "connected (" + a.FailureReason + " / " + b.FailureReason + ")");
        ms = sw.Elapsed.TotalMilliseconds;
        return new[] { ta, tb };
    }

    static void LoopbackCall()
    {
        using (var a = new RTCPeerConnection(Loopback()))
        using (var b = new RTCPeerConnection(Loopback()))
        {
            int atA = 0, atB = 0, corrupt = 0;
            a.OnRtpPacket += (track, p) => Interlocked.Increment(ref atA);
            b.OnRtpPacket += (track, p) =>
            {
                if (p.Length != 12 + 12 + 160 || p[12 + 12 + 5] != 5) Interlocked.Increment(ref corrupt); // mid and transport-wide number + payload
                Interlocked.Increment(ref atB);
            };
            double ms;
            var t = Connect(a, b, out ms);
            var payload = new byte[160];
            for (int i = 0; i < payload.Length; i++) payload[i] = (byte)i;
            for (uint i = 0; i < 200; i++)
            {
                a.SendMedia(t[0].Id, payload, i * 960);
                b.SendMedia(t[1].Id, payload, i * 160);
                if (i % 20 == 19) Thread.Sleep(5);
            }
            Assert(WaitFor(() => atA == 200 && atB == 200), "200 packets each way, got " + atA + " / " + atB);
            Assert(corrupt == 0, "payloads intact");
            Assert(a.DtlsVersion == "DTLSv1.2", "DTLS 1.2");
            Assert(a.RemoteFingerprint == b.LocalFingerprint, "fingerprints");
            Assert(a.GetStat(Stat.RtpPacketsSent) == 200, "stat");
            string stats = a.GetStatsJson();
            Assert(stats.StartsWith("{") && stats.Contains("\"type\":\"outbound-rtp\"") && stats.Contains("\"packetsSent\":200"), "getStats JSON: " + stats);
            Assert(t[0].Mid == "0", "mid");
            Console.WriteLine("     connected in {0:F1} ms, SRTP {1}, offerer DTLS {2}; packets a->b {3}, b->a {4}",
                              ms, a.SrtpProfile, a.DtlsRole, atB, atA);
        }
    }

    /// Two sessions on one shared UDP port (SharedPort), each called by its own peer: each gets
    /// exactly its peer's packets.
    static void SharedPortCalls()
    {
        ushort port;
        using (var probe = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)))
            port = (ushort)((System.Net.IPEndPoint)probe.Client.LocalEndPoint).Port;
        var shared = Loopback();
        shared.SharedPort = port;
        using (var s1 = new RTCPeerConnection(shared))
        using (var s2 = new RTCPeerConnection(shared))
        using (var p1 = new RTCPeerConnection(Loopback()))
        using (var p2 = new RTCPeerConnection(Loopback()))
        {
            var got = new int[2];
            var wrong = 0;
            var candidatePorts = new HashSet<string>();
            s1.OnIceCandidate += (c, mid) => { lock (candidatePorts) candidatePorts.Add(c.Split(' ')[5]); };
            s2.OnIceCandidate += (c, mid) => { lock (candidatePorts) candidatePorts.Add(c.Split(' ')[5]); };
            s1.OnRtpPacket += (track, p) => { if (p[p.Length - 1] == 1) Interlocked.Increment(ref got[0]); else Interlocked.Increment(ref wrong); };
            s2.OnRtpPacket += (track, p) => { if (p[p.Length - 1] == 2) Interlocked.Increment(ref got[1]); else Interlocked.Increment(ref wrong); };
            double ms;
            var t1 = Connect(s1, p1, out ms);
            var t2 = Connect(s2, p2, out ms);
            for (uint i = 0; i < 100; i++)
            {
                p1.SendMedia(t1[1].Id, new byte[] { 9, 9, 1 }, i * 160);
                p2.SendMedia(t2[1].Id, new byte[] { 9, 9, 2 }, i * 160);
                if (i % 20 == 19) Thread.Sleep(5);
            }
            Assert(WaitFor(() => got[0] == 100 && got[1] == 100), "100 packets each, got " + got[0] + " / " + got[1]);
            Assert(wrong == 0, "no packet reached the other session");
            lock (candidatePorts) Assert(candidatePorts.Count == 1 && candidatePorts.Contains(port.ToString()),
                                         "both sessions' candidates on port " + port + ": " + string.Join(",", candidatePorts));
            Console.WriteLine("     two sessions on shared port {0}, 100 packets each, none crossed", port);
        }
    }

    static void GarbageCollectionDuringCall()
    {
        using (var a = new RTCPeerConnection(Loopback()))
        using (var b = new RTCPeerConnection(Loopback(DtlsRole.Server)))
        {
            int received = 0;
            b.OnRtpPacket += (track, p) => Interlocked.Increment(ref received);
            double ms;
            var t = Connect(a, b, out ms);
            for (uint i = 0; i < 300; i++)
            {
                a.SendMedia(t[0].Id, new byte[160], i * 960);
                if (i % 10 == 0)
                {
                    // Sessions nobody disposes: their finalizers run while the call is live.
                    new RTCPeerConnection(Loopback());
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                }
                Thread.Sleep(1);
            }
            Assert(WaitFor(() => received == 300), "all 300 packets arrived across collections, got " + received);
            Assert(b.DtlsRole == DtlsRole.Server, "answerer is DTLS server as configured");
        }
    }

    static void ErrorsBecomeExceptions()
    {
        using (var s = new RTCPeerConnection(Loopback()))
        {
            try
            {
                s.SetRemoteDescription(SdpType.Offer, "v=0\r\nnot sdp");
                throw new Exception("no exception for bad SDP");
            }
            catch (WebRtcException e)
            {
                Assert(e.CodeName == "WRS_RESULT_INVALID_SDP" && e.Code == -4, "code " + e.CodeName);
                Assert(e.Message.Contains("malformed SDP"), "message: " + e.Message);
            }
            try
            {
                s.CreateAnswer();
                throw new Exception("no exception for wrong state");
            }
            catch (WebRtcException e)
            {
                Assert(e.CodeName == "WRS_RESULT_INVALID_STATE", e.CodeName);
            }
            try
            {
                s.SendMedia(99, new byte[10], 0);
                throw new Exception("no exception for an unknown track");
            }
            catch (WebRtcException e)
            {
                Assert(e.CodeName == "WRS_RESULT_UNKNOWN_TRACK", e.CodeName);
            }
            Assert(s.FailureReason == null, "no failure");
        }
        var d = new RTCPeerConnection(Loopback());
        d.Dispose();
        try
        {
            d.CreateOffer();
            throw new Exception("no exception after Dispose");
        }
        catch (ObjectDisposedException) { }
    }

    static void HandlerExceptionsAreReported()
    {
        using (var a = new RTCPeerConnection(Loopback()))
        using (var b = new RTCPeerConnection(Loopback()))
        {
            var errors = new List<Exception>();
            b.OnCallbackException += e => { lock (errors) errors.Add(e); };
            b.OnRtpPacket += (track, p) => { throw new InvalidOperationException("boom"); };
            double ms;
            var t = Connect(a, b, out ms);
            for (uint i = 0; i < 10; i++) a.SendMedia(t[0].Id, new byte[160], i * 960);
            Assert(WaitFor(() => { lock (errors) return errors.Count == 10; }), "10 handler exceptions reported");
            Assert(errors[0] is InvalidOperationException, "the handler's exception");
        }
    }

    static void NoEventAfterDispose()
    {
        var a = new RTCPeerConnection(Loopback());
        var b = new RTCPeerConnection(Loopback());
        double ms;
        var t = Connect(a, b, out ms);
        int disposed = 0, late = 0, calls = 0;
        b.OnRtpPacket += (track, p) =>
        {
            Interlocked.Increment(ref calls);
            Thread.Sleep(1);
            if (Volatile.Read(ref disposed) == 1) Interlocked.Increment(ref late);
        };
        var stop = false;
        var sender = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                try { a.SendMedia(t[0].Id, new byte[160], 0); } catch (WebRtcException) { }
                Thread.Sleep(0);
            }
        });
        sender.Start();
        Assert(WaitFor(() => Volatile.Read(ref calls) > 20), "flood arrives");
        b.Dispose();
        Volatile.Write(ref disposed, 1);
        Thread.Sleep(50);
        Volatile.Write(ref stop, true);
        sender.Join();
        a.Dispose();
        Assert(late == 0, "no event after Dispose returned, got " + late);
    }

    /// Data-only offer/answer with trickle ICE (the offerer created its channels first).
    static void NegotiateData(RTCPeerConnection a, RTCPeerConnection b)
    {
        a.OnIceCandidate += (c, mid) => b.AddIceCandidate(c);
        b.OnIceCandidate += (c, mid) => a.AddIceCandidate(c);
        var offer = a.CreateOffer();
        b.SetRemoteDescription(SdpType.Offer, offer);
        a.SetLocalDescription(SdpType.Offer, offer);
        var answer = b.CreateAnswer();
        a.SetRemoteDescription(SdpType.Answer, answer);
        b.SetLocalDescription(SdpType.Answer, answer);
    }

    // SIPSorcery's shape: createDataChannel(label, init) returns a task, ondatachannel,
    // onmessage(dc, protocol, data), send(string) / send(byte[]), close().
    static void DataChannels()
    {
        using (var a = new RTCPeerConnection(Loopback()))
        using (var b = new RTCPeerConnection(Loopback()))
        {
            RTCDataChannel remote = null;
            bool remoteClosed = false;
            b.ondatachannel += dc =>
            {
                remote = dc;
                dc.onmessage += (ch, protocol, data) =>
                {
                    if (protocol == DataChannelPayloadProtocols.WebRTC_String || protocol == DataChannelPayloadProtocols.WebRTC_String_Empty)
                        ch.send(System.Text.Encoding.UTF8.GetString(data));
                    else
                        ch.send(data);
                };
                dc.onclose += () => Volatile.Write(ref remoteClosed, true);
            };
            var chat = a.createDataChannel("chat", new RTCDataChannelInit { protocol = "sip" }).Result;
            Assert(chat.readyState == RTCDataChannelState.connecting && chat.id == null, "connecting, no id yet");
            bool opened = false;
            chat.onopen += () => Volatile.Write(ref opened, true);
            var echoed = new List<KeyValuePair<DataChannelPayloadProtocols, byte[]>>();
            chat.onmessage += (ch, protocol, data) => { lock (echoed) echoed.Add(new KeyValuePair<DataChannelPayloadProtocols, byte[]>(protocol, data)); };
            NegotiateData(a, b);
            Assert(WaitFor(() => Volatile.Read(ref opened) && remote != null, 30000), "channel open on both sides");
            Assert(remote.label == "chat" && remote.protocol == "sip" && remote.id == chat.id, "label, protocol and id");
            for (int i = 0; i < 1000; i++)
            {
                if (i % 2 == 0) chat.send("message " + i);
                else chat.send(new byte[] { (byte)i, (byte)(i >> 8), 7 });
            }
            chat.send("");
            chat.send(new byte[0]);
            Assert(WaitFor(() => { lock (echoed) return echoed.Count == 1002; }, 30000), "1,002 echoed, got " + echoed.Count);
            for (int i = 0; i < 1000; i++)
            {
                var e = echoed[i];
                if (i % 2 == 0)
                    Assert(e.Key == DataChannelPayloadProtocols.WebRTC_String && System.Text.Encoding.UTF8.GetString(e.Value) == "message " + i, "text " + i);
                else
                    Assert(e.Key == DataChannelPayloadProtocols.WebRTC_Binary && e.Value.Length == 3 && e.Value[0] == (byte)i && e.Value[1] == (byte)(i >> 8), "binary " + i);
            }
            Assert(echoed[1000].Key == DataChannelPayloadProtocols.WebRTC_String_Empty && echoed[1001].Key == DataChannelPayloadProtocols.WebRTC_Binary_Empty, "empty messages keep their type");
            try
            {
                chat.send(new byte[256 * 1024 + 1]);
                Assert(false, "oversized message accepted");
            }
            catch (WebRtcException e)
            {
                Assert(e.CodeName == "WRS_RESULT_PACKET_REJECTED" && e.Message.Contains("max-message-size"), e.Message);
            }
            var fast = a.createDataChannel("fast", new RTCDataChannelInit { ordered = false, maxRetransmits = 0 }).Result;
            Assert(!fast.ordered && fast.maxRetransmits == 0, "partial reliability options");
            chat.close();
            Assert(WaitFor(() => Volatile.Read(ref remoteClosed), 30000), "the peer sees the close");
            Assert(WaitFor(() => chat.readyState == RTCDataChannelState.closed, 30000), "closed");
            try
            {
                chat.send("late");
                Assert(false, "send on a closed channel accepted");
            }
            catch (WebRtcException e)
            {
                Assert(e.CodeName == "WRS_RESULT_INVALID_STATE", e.CodeName);
            }
        }
    }

    /// Log.SetHandler: a call's state changes arrive at Info with their area; null stops them.
    static void LogMessages()
    {
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Log.SetHandler((level, area, message) => lines.Enqueue(level + " " + area + " " + message), LogLevel.Info);
        try
        {
            using (var a = new RTCPeerConnection(Loopback()))
            using (var b = new RTCPeerConnection(Loopback()))
            {
                double ms;
                Connect(a, b, out ms);
            }
        }
        finally
        {
            Log.SetHandler(null);
        }
        var all = string.Join("\n", lines.ToArray());
        Assert(all.Contains("Info ice ") && all.Contains("selected pair"), "ICE at Info: " + all);
        Assert(all.Contains("Info dtls ") && all.Contains("DTLS connected"), "DTLS at Info: " + all);
        Assert(!all.Contains("Debug "), "nothing past Info");
        int n = lines.Count;
        using (var c = new RTCPeerConnection(Loopback())) { }
        Assert(lines.Count == n, "off after SetHandler(null)");
    }

    /// A SIPSorcery sample's flow with this library: MediaStreamTrack + addTrack, onicecandidate
    /// into addIceCandidate(RTCIceCandidateInit), createOffer/setLocalDescription/
    /// setRemoteDescription (SetDescriptionResultEnum), onconnectionstatechange, SendAudio and
    /// OnRtpPacketReceived(IPEndPoint, SDPMediaTypesEnum, RTPPacket).
    static void SipsorceryShapes()
    {
        var paced = Loopback();
        paced.PacerBitrate = 2000000; // SendVideo's packets leave paced
        var jitter = Loopback();
        jitter.JitterBufferMs = 100;
        using (var alice = new RTCPeerConnection(paced))
        using (var bob = new RTCPeerConnection(jitter))
        {
            int received = 0, badPacket = 0;
            System.Net.IPEndPoint from = null;
            var connected = new ManualResetEventSlim();
            int videoPackets = 0, videoMarkers = 0, videoFrames = 0, badFrames = 0;
            bob.OnVideoFrameReceived += (rep, timestamp, frame, format) =>
            {
                if (format.Codec != VideoCodecsEnum.VP8 || frame.Length != 3000 || frame[1] != 7 || rep == null) Interlocked.Increment(ref badFrames);
                Interlocked.Increment(ref videoFrames);
            };
            foreach (var pc in new[] { alice, bob })
            {
                var formats = new List<SDPAudioVideoMediaFormat> { new SDPAudioVideoMediaFormat(SDPWellKnownMediaFormatsEnum.PCMU) };
                pc.addTrack(new MediaStreamTrack(SDPMediaTypesEnum.audio, false, formats, MediaStreamStatusEnum.SendRecv));
                var vp8 = new List<SDPAudioVideoMediaFormat> { new SDPAudioVideoMediaFormat(SDPMediaTypesEnum.video, 96, "VP8", 90000) };
                pc.addTrack(new MediaStreamTrack(SDPMediaTypesEnum.video, false, vp8, MediaStreamStatusEnum.SendRecv));
            }
            alice.onicecandidate += c => bob.addIceCandidate(new RTCIceCandidateInit { candidate = c.candidate, sdpMid = c.sdpMid, sdpMLineIndex = c.sdpMLineIndex });
            bob.onicecandidate += c => alice.addIceCandidate(new RTCIceCandidateInit { candidate = c.candidate, sdpMid = c.sdpMid });
            bob.onconnectionstatechange += state => { if (state == RTCPeerConnectionState.connected) connected.Set(); };
            bob.OnRtpPacketReceived += (rep, media, pkt) =>
            {
                if (media == SDPMediaTypesEnum.video)
                {
                    Interlocked.Increment(ref videoPackets);
                    if (pkt.Header.MarkerBit == 1) Interlocked.Increment(ref videoMarkers);
                    return;
                }
                from = rep;
                if (media != SDPMediaTypesEnum.audio || pkt.Header.PayloadType != 0 || pkt.Payload.Length != 160 || pkt.Payload[0] != 0x55) Interlocked.Increment(ref badPacket);
                Interlocked.Increment(ref received);
            };
            var offer = alice.createOffer(null);
            Assert(offer.type == RTCSdpType.offer && offer.sdp.Contains("PCMU/8000"), "offer");
            Assert(bob.setRemoteDescription(offer) == SetDescriptionResultEnum.OK, "remote offer OK: " + bob.LastSetDescriptionError);
            alice.setLocalDescription(offer).Wait();
            var answer = bob.createAnswer(null);
            bob.setLocalDescription(answer).Wait();
            Assert(alice.setRemoteDescription(answer) == SetDescriptionResultEnum.OK, "remote answer OK");
            Assert(connected.Wait(15000) && WaitFor(() => alice.connectionState == RTCPeerConnectionState.connected), "connected");
            Assert(alice.localDescription.sdp.ToString().Contains("a=fingerprint") && alice.localDescription.type == RTCSdpType.offer, "local description");
            Assert(bob.remoteDescription.type == RTCSdpType.offer && alice.remoteDescription.type == RTCSdpType.answer, "remote descriptions");
            var sample = new byte[160];
            for (int i = 0; i < sample.Length; i++) sample[i] = 0x55;
            for (int i = 0; i < 50; i++)
            {
                alice.SendAudio(160, sample);
                if (i % 10 == 9) Thread.Sleep(5);
            }
            Assert(WaitFor(() => received == 50), "50 packets through OnRtpPacketReceived, got " + received);
            // SendVideo: a 3,000-byte VP8 frame leaves as three RFC 7741 packets, the marker on the last.
            // OnVideoFrameReceived: the three packets come back as the one frame.
            var keyframe = new byte[3000];
            keyframe[1] = 7;
            alice.SendVideo(3000, keyframe);
            Assert(WaitFor(() => videoPackets == 3) && videoMarkers == 1, "SendVideo: " + videoPackets + " packets, " + videoMarkers + " markers");
            Assert(WaitFor(() => videoFrames == 1) && badFrames == 0, "OnVideoFrameReceived: " + videoFrames + " frames, " + badFrames + " wrong");
            Assert(badPacket == 0, "parsed packets");
            Assert(from != null && from.Address.ToString() == "127.0.0.1", "remote end point " + from);
            // A description without a fingerprint: SIPSorcery's result, with the library's reason.
            using (var carol = new RTCPeerConnection(Loopback()))
            {
                var noFingerprint = new RTCSessionDescriptionInit { type = RTCSdpType.offer, sdp = string.Join("\r\n", Array.FindAll(offer.sdp.Split(new[] { "\r\n" }, StringSplitOptions.None), l => !l.StartsWith("a=fingerprint"))) };
                Assert(carol.setRemoteDescription(noFingerprint) == SetDescriptionResultEnum.DtlsFingerprintMissing, "missing fingerprint: " + carol.LastSetDescriptionError);
            }
            alice.close();
        }
    }

    static int Main()
    {
        Console.WriteLine("webrtc-session " + RTCPeerConnection.Version + " C# binding tests");
        Run("loopback call, media both ways", LoopbackCall);
        Run("two sessions on one shared port", SharedPortCalls);
        Run("GC.Collect and finalizers during a live call", GarbageCollectionDuringCall);
        Run("native errors become exceptions with the message", ErrorsBecomeExceptions);
        Run("handler exceptions are reported, not fatal", HandlerExceptionsAreReported);
        Run("no event after Dispose returns", NoEventAfterDispose);
        Run("data channels in SIPSorcery's shape: 1,000 echoed messages, limits, close", DataChannels);
        Run("the library's log messages reach Log.SetHandler", LogMessages);
        Run("SIPSorcery's shapes: offer/answer, candidates, SendAudio, SendVideo, OnRtpPacketReceived, OnVideoFrameReceived", SipsorceryShapes);
        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
