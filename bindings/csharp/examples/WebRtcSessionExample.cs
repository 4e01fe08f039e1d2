// The seed's C# WebRtcSession walk-through, step by step, on this library: the DTLS handshake
// and the SRTP contexts are the library's job, so the steps that drove them by hand are gone.
//
//   mono WebRtcSessionExample.exe [cert.pem key.pem]
using System;
using System.Threading;
using WebRtcSession;

static class WebRtcSessionExample
{
    static int Main(string[] args)
    {
        // 1. Configuration: the local address to use and, as in the seed, an optional
        //    certificate and key from PEM files (a fresh ECDSA certificate otherwise).
        var config = new RTCConfiguration();
        config.LocalAddresses.Add("127.0.0.1");
        if (args.Length == 2)
        {
            config.CertificatePath = args[0];
            config.KeyPath = args[1];
        }

        using (var local = new RTCPeerConnection(config))
        using (var remote = new RTCPeerConnection(config))
        {
            // 2. Events: candidates go to the other side (trickle ICE); state changes are printed.
            local.OnIceCandidate += (c, mid) => remote.AddIceCandidate(c);
            remote.OnIceCandidate += (c, mid) => local.AddIceCandidate(c);
            local.OnConnectionStateChange += s => Console.WriteLine("local:  connection " + s);
            remote.OnConnectionStateChange += s => Console.WriteLine("remote: connection " + s);
            int received = 0;
            remote.OnRtpPacket += (track, packet) => Interlocked.Increment(ref received);

            // 3. Add an audio and a video track to the local session.
            var audio = local.AddTrack(MediaKind.Audio, new[] { Codec.PCMU });
            var video = local.AddTrack(MediaKind.Video, new[] { Codec.VP8 });

            // 4. Create the offer; the remote side applies it first, then the local side.
            string offer = local.CreateOffer();
            Console.WriteLine("offer:\n" + offer);
            remote.SetRemoteDescription(SdpType.Offer, offer);
            local.SetLocalDescription(SdpType.Offer, offer);

            // 5. The remote side answers with its own tracks (receiving what the offer sends).
            remote.AddTrack(MediaKind.Audio, new[] { Codec.PCMU });
            remote.AddTrack(MediaKind.Video, new[] { Codec.VP8 });
            string answer = remote.CreateAnswer();
            local.SetRemoteDescription(SdpType.Answer, answer);
            remote.SetLocalDescription(SdpType.Answer, answer);

            // 6. ICE, DTLS and SRTP run by themselves; wait until media can flow.
            for (int i = 0; i < 1000 && local.ConnectionState != ConnectionState.Connected; i++) Thread.Sleep(10);
            if (local.ConnectionState != ConnectionState.Connected)
            {
                Console.WriteLine("not connected: " + local.FailureReason);
                return 1;
            }
            Console.WriteLine("DTLS {0} as {1}, SRTP {2}, remote fingerprint {3}",
                              local.DtlsVersion, local.DtlsRole, local.SrtpProfile, local.RemoteFingerprint);

            // 7. Send RTP: 20 ms audio frames and one video packet per frame, for one second.
            for (uint i = 0; i < 50; i++)
            {
                local.SendMedia(audio.Id, new byte[160], i * 160);
                local.SendMedia(video.Id, new byte[1000], i * 1800, true);
                Thread.Sleep(20);
            }
            Thread.Sleep(200);
            Console.WriteLine("remote received {0} of 100 RTP packets", received);
            return received == 100 ? 0 : 1;
        }
    }
}
