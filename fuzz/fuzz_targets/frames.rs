//! Received frames: the bytes as RTP payloads of one codec (the first byte picks it) through
//! the depacketizer and the jitter buffer (sequence numbers, timestamps, markers and arrival
//! times from the input too), and as one frame through the packetizer and back. Nothing
//! panics; what waits stays within the buffer's capacity; a frame handed over is bounded by
//! what went in; the depacketizer reads what the packetizer wrote, and VP8, VP9 and audio
//! frames come back byte for byte; video packets fill at most a fragment.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use webrtc_session::negotiation::Codec;
use webrtc_session::rtp::depacketize::{depacketize, frame_start};
use webrtc_session::rtp::jitter::{JitterBuffer, JitterConfig, CAPACITY};
use webrtc_session::rtp::packetize::packetize;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let codec = Codec::ALL[pick as usize % Codec::ALL.len()];
    let keyframe_after_loss = pick & 0x80 != 0;

    // Packets: [length, sequence step, flags] then the payload; flags carry the marker, a new
    // timestamp and how much time passes.
    let t0 = Instant::now();
    let mut b = JitterBuffer::new(codec, JitterConfig { latency: Duration::from_millis(50), keyframe_after_loss });
    let (mut seq, mut ts, mut now, mut input) = (65_500u16, 0u32, t0, 0usize);
    let mut payloads: Vec<&[u8]> = Vec::new();
    let mut at = rest;
    while let [len, step, flags, tail @ ..] = at {
        let n = (*len as usize).min(tail.len());
        let payload = &tail[..n];
        at = &tail[n..];
        seq = seq.wrapping_add((*step as i8) as u16);
        if flags & 0x02 != 0 {
            ts = ts.wrapping_add(3000);
        }
        now += Duration::from_millis((flags >> 2) as u64);
        let _ = frame_start(codec, payload);
        payloads.push(payload);
        input += n;
        b.insert(seq, ts, flags & 0x01 != 0, payload, now);
        while let Some(f) = b.pop(now) {
            assert!(f.packets as usize <= CAPACITY);
            // Depacketized output grows by at most a start code (H.264) or an OBU size
            // field and a temporal delimiter (AV1) per input byte... bounded by the input.
            assert!(f.data.len() <= 8 * input + 16, "{} from {input}", f.data.len());
            b.recycle(f.data);
        }
        assert!(b.waiting() <= CAPACITY);
    }
    let _ = b.deadline();
    let _ = b.keyframe_request_due(now, Duration::from_millis(500));
    while let Some(f) = b.pop(now + Duration::from_secs(5)) {
        b.recycle(f.data);
    }

    let (mut out, mut scratch) = (Vec::new(), Vec::new());
    let _ = depacketize(codec, payloads.iter().copied(), &mut out, &mut scratch);

    // One frame through the packetizer and back.
    let mut packets: Vec<Vec<u8>> = Vec::new();
    if packetize(codec, rest, |parts, _| {
        let p = parts.concat();
        // Video fills fragments; an audio frame is one packet whatever its size (the send
        // path refuses one that does not fit an RTP packet).
        if codec.kind() == webrtc_session::negotiation::MediaKind::Video {
            assert!(p.len() <= webrtc_session::rtp::packetize::FRAGMENT);
        } else {
            assert_eq!(p.len(), rest.len());
        }
        packets.push(p);
        Ok(())
    })
    .is_ok()
    {
        let joined = depacketize(codec, packets.iter().map(|p| p.as_slice()), &mut out, &mut scratch);
        let joined = joined.unwrap_or_else(|e| panic!("{codec:?}: the packetizer's own packets do not parse: {}", e.message()));
        let _ = joined;
        if matches!(codec, Codec::Vp8 | Codec::Vp9 | Codec::Opus | Codec::Pcmu | Codec::Pcma | Codec::G722) {
            assert_eq!(out, rest, "{codec:?}: the frame comes back");
        }
    }
});
