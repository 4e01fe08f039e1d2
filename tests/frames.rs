//! Frames end to end between two sessions: a's host sends whole frames (`send_frame`, the
//! library's packetizers), b's host receives whole frames (`receive_frames`: depacketizers
//! behind a jitter buffer), through the tests' relay. Each frame must come back byte for byte.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::native::{connected, negotiate_track, peer, run_until, Peer};
use common::relay::{Policy, Relay};
use webrtc_session::negotiation::{Codec, MediaKind};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u32
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A frame of `codec` whose content identifies `index`: a keyframe when `key`.
fn frame(codec: Codec, index: u32, key: bool, size: usize, rng: &mut Rng) -> Vec<u8> {
    let mut body = rng.bytes(size);
    body[..4].copy_from_slice(&index.to_be_bytes());
    match codec {
        // VP8 payload header: P (bit 0) clear on a key frame.
        Codec::Vp8 => {
            body[0] = if key { 0x10 } else { 0x11 };
            body
        }
        // VP9 uncompressed header: frame marker, profile 0, frame_type.
        Codec::Vp9 => {
            body[0] = if key { 0x82 } else { 0x86 };
            body
        }
        // Annex B: SPS and PPS before an IDR, or one non-IDR slice; no emulated start codes.
        Codec::H264 => {
            for b in body.iter_mut() {
                *b |= 0x01;
            }
            let mut out = Vec::new();
            if key {
                out.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, 0x8d, 0x68, 0x0a]);
                out.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]);
                out.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88]);
            } else {
                out.extend_from_slice(&[0, 0, 0, 1, 0x41, 0x9a]);
            }
            out.extend_from_slice(&body);
            out
        }
        // Annex B: VPS, SPS, PPS before an IDR_W_RADL, or one TRAIL_R slice segment.
        Codec::H265 => {
            for b in body.iter_mut() {
                *b |= 0x01;
            }
            let mut out = Vec::new();
            if key {
                out.extend_from_slice(&[0, 0, 0, 1, 0x40, 0x01, 0x0c, 0x01]);
                out.extend_from_slice(&[0, 0, 0, 1, 0x42, 0x01, 0x01, 0x01]);
                out.extend_from_slice(&[0, 0, 0, 1, 0x44, 0x01, 0xc1, 0x73]);
                out.extend_from_slice(&[0, 0, 0, 1, 0x26, 0x01, 0xaf]);
            } else {
                out.extend_from_slice(&[0, 0, 0, 1, 0x02, 0x01, 0xd1]);
            }
            out.extend_from_slice(&body);
            out
        }
        // A temporal unit: delimiter, a sequence header on a keyframe, one frame OBU.
        Codec::Av1 => {
            let mut out = vec![0x12, 0x00];
            if key {
                out.extend_from_slice(&[0x0a, 0x03, 0x00, 0x00, 0x00]);
            }
            out.push(0x32);
            let mut n = body.len();
            loop {
                let b = (n & 0x7f) as u8;
                n >>= 7;
                out.push(if n == 0 { b } else { b | 0x80 });
                if n == 0 {
                    break;
                }
            }
            out.extend_from_slice(&body);
            out
        }
        _ => body,
    }
}

/// Connects a (sending `codec`) and b (receiving frames) through a relay with `policy`.
fn frame_call(codec: Codec, seed: u64) -> (Peer, Peer, Relay) {
    let mut a = peer(|_| {});
    let mut b = peer(|_| {});
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), seed);
    negotiate_track(&mut a, &mut b, codec.kind(), codec);
    b.s.receive_frames(true);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(30), connected), "connected");
    (a, b, relay)
}

/// Sends `n` frames (a keyframe every `gop`, and whenever b asked for one), pumping both
/// sides, then waits until b has them all or 5 s passed. Returns the frames sent by
/// timestamp.
fn send_frames(a: &mut Peer, b: &mut Peer, relay: &Relay, codec: Codec, n: u32, gop: u32, seed: u64) -> HashMap<u32, (Vec<u8>, bool)> {
    let mut rng = Rng(seed | 1);
    let mut sent = HashMap::new();
    let step = codec.clock_rate() / 50;
    let mut requests_seen = 0;
    for i in 0..n {
        let asked = a.keyframes.len() > requests_seen;
        requests_seen = a.keyframes.len();
        let key = i % gop == 0 || asked;
        let size = if codec.kind() == MediaKind::Audio { 160 } else if key { 12_000 } else { 800 + (rng.next() % 3000) as usize };
        let f = frame(codec, i, key, size, &mut rng);
        let ts = 1000 + i * step;
        a.s.send_frame(a.track, &f, ts).unwrap();
        sent.insert(ts, (f, key));
        for _ in 0..5 {
            a.pump(&b.s, relay.for_b);
            b.pump(&a.s, relay.for_a);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let total = sent.len();
    run_until(a, b, relay, Duration::from_secs(5), |_, b| b.frames.len() >= total);
    sent
}

/// Every frame b got is one a sent, whole, in order, with the right keyframe flag.
fn check_frames(b: &Peer, sent: &HashMap<u32, (Vec<u8>, bool)>, codec: Codec) {
    let mut last = 0;
    for f in &b.frames {
        assert_eq!(f.track, b.track);
        let (data, key) = sent.get(&f.timestamp).unwrap_or_else(|| panic!("{codec:?}: a frame at {} was never sent", f.timestamp));
        assert!(f.timestamp > last, "{codec:?}: frames in order");
        last = f.timestamp;
        let expected: &[u8] = data;
        if codec == Codec::Av1 {
            assert_eq!(&f.data[..], expected, "{codec:?}: frame at {} (temporal unit rebuilt)", f.timestamp);
        } else {
            assert_eq!(f.data.len(), expected.len(), "{codec:?}: frame at {}", f.timestamp);
            assert!(f.data == expected, "{codec:?}: frame at {} differs", f.timestamp);
        }
        if codec.kind() == MediaKind::Video {
            assert_eq!(f.keyframe, *key, "{codec:?}: keyframe flag at {}", f.timestamp);
        }
    }
}

#[test]
fn every_codecs_frames_come_back_whole() {
    for (i, codec) in [Codec::Vp8, Codec::Vp9, Codec::H264, Codec::H265, Codec::Av1, Codec::Opus].into_iter().enumerate() {
        let (mut a, mut b, relay) = frame_call(codec, 40 + i as u64);
        let sent = send_frames(&mut a, &mut b, &relay, codec, 40, 20, 7 + i as u64);
        check_frames(&b, &sent, codec);
        assert_eq!(b.frames.len(), sent.len(), "{codec:?}: every frame");
        assert!(b.frames.iter().all(|f| f.lost_packets == 0));
        let c = b.s.frame_counters(None);
        assert_eq!((c.frames_delivered, c.frames_dropped, c.packets_lost), (40, 0, 0), "{codec:?}: {c:?}");
        // The raw packets still arrive too.
        assert!(b.rtp.len() >= 40, "{codec:?}: {} RTP packets", b.rtp.len());
        eprintln!("frames: {codec:?}: 40 of 40 frames whole ({} packets)", b.rtp.len());
    }
}

#[test]
fn frames_survive_a_lossy_reordering_path_with_nack() {
    let codec = Codec::Vp8;
    let (mut a, mut b, relay) = frame_call(codec, 50);
    relay.set(|p| {
        p.loss = 0.02;
        p.delay = Duration::from_millis(10);
        p.jitter = Duration::from_millis(6);
    });
    let n = 300;
    let sent = send_frames(&mut a, &mut b, &relay, codec, n, 60, 11);
    check_frames(&b, &sent, codec);
    let c = b.s.frame_counters(None);
    let rtcp = b.s.rtcp_counters();
    let got = b.frames.len();
    eprintln!(
        "frames: lossy path: {got} of {n} frames whole, {} NACKs sent, {} recovered, {c:?}, {} keyframe requests at a",
        rtcp.nack_sent, rtcp.nack_recovered, a.keyframes.len()
    );
    assert!(rtcp.nack_recovered > 0, "the relay's loss was repaired by retransmissions: {rtcp:?}");
    assert!(got as f64 >= 0.99 * n as f64, "{got} of {n} frames: {c:?}");
    assert_eq!(c.frames_delivered as usize, got);
}

#[test]
fn a_loss_beyond_repair_holds_video_back_until_the_keyframe_it_asked_for() {
    let codec = Codec::Vp8;
    let mut a = peer(|c| c.rtcp.nack = false);
    let mut b = peer(|c| {
        c.rtcp.nack = false;
        c.jitter.latency = Duration::from_millis(50);
    });
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 60);
    negotiate_track(&mut a, &mut b, MediaKind::Video, codec);
    b.s.receive_frames(true);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(30), connected));
    let mut rng = Rng(5);
    let mut send = |a: &mut Peer, b: &mut Peer, i: u32, key: bool| {
        let f = frame(codec, i, key, 3000, &mut rng);
        a.s.send_frame(a.track, &f, i * 3000).unwrap();
        run_until(a, b, &relay, Duration::from_millis(20), |_, _| false);
    };
    send(&mut a, &mut b, 1, true);
    send(&mut a, &mut b, 2, false);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(2), |_, b| b.frames.len() == 2));
    // Frame 3's packets vanish; 4 and 5 are deltas that need it.
    relay.set(|p| p.blocked = true);
    send(&mut a, &mut b, 3, false);
    relay.set(|p| p.blocked = false);
    send(&mut a, &mut b, 4, false);
    send(&mut a, &mut b, 5, false);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(3), |a, _| !a.keyframes.is_empty()), "b asked a for a keyframe");
    assert_eq!(b.frames.len(), 2, "no delta after the loss");
    send(&mut a, &mut b, 6, true);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(2), |_, b| b.frames.len() == 3));
    let key = &b.frames[2];
    assert_eq!((key.timestamp, key.keyframe, key.lost_packets), (18_000, true, 3), "the keyframe reports the 3 lost packets");
    let c = b.s.frame_counters(None);
    assert_eq!((c.frames_dropped, c.packets_lost), (3, 3), "{c:?}");
}

#[test]
fn the_host_chooses_which_negotiated_codec_it_sends() {
    use webrtc_session::negotiation::Direction;
    use webrtc_session::session::SdpType;
    let mut a = peer(|_| {});
    let mut b = peer(|_| {});
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 70);
    a.track = a.s.add_track(MediaKind::Video, &[Codec::Vp8, Codec::H264], Direction::SendRecv).unwrap();
    let offer = a.s.create_offer().unwrap();
    b.s.set_remote_description(SdpType::Offer, &offer).unwrap();
    a.s.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
    b.track = b.s.add_track(MediaKind::Video, &[Codec::Vp8, Codec::H264], Direction::SendRecv).unwrap();
    let answer = b.s.create_answer().unwrap();
    a.s.set_remote_description(SdpType::Answer, &answer).unwrap();
    b.s.set_local_description(SdpType::Answer, Some(&answer)).unwrap();
    b.s.receive_frames(true);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(30), connected));
    let pts = a.s.track_payload_types(a.track).unwrap();
    assert_eq!(a.s.track_codec(a.track).unwrap().map(|c| c.0), Some(Codec::Vp8), "the first by default");
    let h264 = pts[1];
    assert!(a.s.set_send_codec(a.track, 127).is_err(), "a payload type never negotiated");
    a.s.set_send_codec(a.track, h264).unwrap();
    assert_eq!(a.s.track_codec(a.track).unwrap(), Some((Codec::H264, h264, 90_000)));
    let mut rng = Rng(9);
    let f = frame(Codec::H264, 0, true, 5000, &mut rng);
    a.s.send_frame(a.track, &f, 9000).unwrap();
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(3), |_, b| !b.frames.is_empty()));
    assert_eq!(b.frames[0].data, f, "sent as H.264 and received as H.264");
    assert!(b.rtp.iter().all(|p| p[1] & 0x7f == h264), "every packet carries the chosen payload type");
}

#[test]
fn the_pacer_spreads_a_keyframe_over_time_at_its_rate() {
    use webrtc_session::session::PacerConfig;
    const RATE: u64 = 1_000_000;
    let mut a = peer(|c| c.pacer = Some(PacerConfig { bitrate_bps: RATE }));
    let mut b = peer(|_| {});
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 80);
    negotiate_track(&mut a, &mut b, MediaKind::Video, Codec::Vp8);
    b.s.receive_frames(true);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(30), connected));
    let mut rng = Rng(3);
    let f = frame(Codec::Vp8, 0, true, 60_000, &mut rng);
    let t0 = std::time::Instant::now();
    a.s.send_frame(a.track, &f, 0).unwrap();
    let (waiting, bytes) = a.s.pacer_backlog();
    let elapsed = t0.elapsed();
    // What left already is bounded by the rate (plus the 5 ms burst credit): never faster,
    // however the machine is loaded.
    let packets = f.len().div_ceil(1199);
    let allowed = ((elapsed.as_secs_f64() + 0.005) * RATE as f64 / 8.0 / 1200.0).ceil() as usize + 1;
    assert!(packets - waiting <= allowed, "{} of {packets} left within {elapsed:?}", packets - waiting);
    assert!(bytes > 0);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(5), |_, b| !b.frames.is_empty()), "the frame arrived");
    let took = t0.elapsed();
    assert_eq!(b.frames[0].data, f);
    // 60 KB at 1 Mbit/s: 0.48 s at least (a lower bound, whatever the load).
    assert!(took >= Duration::from_millis(440), "the keyframe arrived after {took:?}");
    assert_eq!(a.s.pacer_backlog(), (0, 0));
    eprintln!("pacer: a 60 KB keyframe ({packets} packets) at 1 Mbit/s took {took:?}");
    // Too much at once is refused whole, not dropped later.
    let huge = frame(Codec::Vp8, 1, false, 4 << 20, &mut rng);
    let first = a.s.send_frame(a.track, &huge, 3000);
    let second = a.s.send_frame(a.track, &huge, 6000);
    let third = a.s.send_frame(a.track, &huge, 9000);
    assert!(first.is_ok() && (second.is_err() || third.is_err()), "{second:?} {third:?}");
}

#[test]
fn an_h264_offer_of_packetization_mode_0_is_answered_and_sent_as_single_nal_units() {
    use common::native::negotiate_track_with;
    let mut a = peer(|_| {});
    let mut b = peer(|_| {});
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 90);
    // A peer (a SIP gateway, say) that offers mode 0 only.
    negotiate_track_with(&mut a, &mut b, MediaKind::Video, Codec::H264, |o| o.replace("packetization-mode=1", "packetization-mode=0"));
    let answer = b.s.local_description().unwrap();
    assert!(answer.contains("packetization-mode=0") && !answer.contains("packetization-mode=1"), "{answer}");
    a.s.receive_frames(true);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(30), connected));
    // SPS, PPS and a small IDR: three packets, one NAL unit each (no STAP-A).
    let stream = [0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21];
    b.s.send_frame(b.track, &stream, 3000).unwrap();
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(3), |a, _| !a.frames.is_empty()));
    assert_eq!(a.rtp.len(), 3);
    let types: Vec<u8> = a.rtp.iter().map(|p| {
        let h = webrtc_session::rtp::RtpHeader::parse(p).unwrap();
        h.payload()[0] & 0x1f
    }).collect();
    assert_eq!(types, vec![7, 8, 5], "single NAL units");
    assert_eq!(a.frames[0].data, stream);
    // A NAL unit over a packet cannot go in mode 0: refused with the reason.
    let mut big = vec![0, 0, 0, 1, 0x65];
    big.extend(std::iter::repeat(0x11).take(3000));
    let e = b.s.send_frame(b.track, &big, 6000).unwrap_err();
    assert!(e.message().contains("packetization mode 0"), "{}", e.message());
}
