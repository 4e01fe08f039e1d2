//! Received RTCP: the compound parser, the engine (reports, keyframe requests, NACKs) and
//! the send history answering what the NACKs ask, with the same bytes also read as the
//! sequence numbers of a received stream (the NACK generator). Work and output stay bounded:
//! NACKs written fit one datagram, sequence numbers asked per NACK packet at most 64 × 17;
//! transport-wide feedback parses, and what the recorder writes parses back; the bandwidth
//! estimator reads any feedback (about packets sent or never sent) and any REMB, and its
//! estimate stays within its configured range.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use webrtc_session::rtcp::bwe::{BweConfig, Estimator, SendLog};
use webrtc_session::rtcp::engine::{Engine, MAX_NACK_BYTES};
use webrtc_session::rtcp::history::History;
use webrtc_session::rtcp::packets::MAX_NACK_ENTRIES;
use webrtc_session::rtcp::twcc::{parse_feedback, TwccRecorder, MAX_STATUS};
use webrtc_session::rtcp::{parse, Packet};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    for p in parse(data) {
        if let Packet::Nack { lost, .. } = p {
            assert!(lost.len() <= MAX_NACK_ENTRIES * 17);
        }
    }
    let mut e = Engine::new("fuzz");
    for (i, c) in data.chunks_exact(2).take(512).enumerate() {
        let seq = u16::from_be_bytes([c[0], c[1]]);
        e.on_rtp(5 + (i as u32 % 3), 0, 90000, seq, i as u32 * 3000, true, t0 + Duration::from_millis(i as u64));
    }
    let r = e.on_rtcp(data, t0 + Duration::from_secs(1), 1 << 40, |s| s == 1 || s == 5);
    let mut h = History::new(128, Duration::from_secs(1));
    for seq in 0..128u16 {
        h.store(seq, &[0x80, 96, 0, seq as u8, 0, 0, 0, 0, 0, 0, 0, 1], t0);
    }
    for (_, lost) in &r.nacks {
        for s in lost {
            let _ = h.resend(*s, t0 + Duration::from_millis(500), Duration::from_millis(10));
        }
    }
    let mut buf = Vec::new();
    for step in 0..12u64 {
        e.write_nacks(9, t0 + Duration::from_millis(1000 + step * 150), &mut buf);
        assert!(buf.len() <= MAX_NACK_BYTES, "{}", buf.len());
        let _ = parse(&buf);
    }
    let _ = e.next_nack_due();
    // Transport-wide feedback: a received one parses within its bytes; arrivals driven by the
    // input give feedback that parses back with at most MAX_STATUS statuses.
    let log = SendLog::default();
    for i in 0..300u64 {
        log.record(1000 + (i as usize % 200), 1_000_000 + i * 1000);
    }
    let config = BweConfig::default();
    let mut bwe = Estimator::new(config);
    if let Some(f) = parse_feedback(data) {
        assert!(f.arrivals.len() <= u16::MAX as usize);
        bwe.on_feedback(&f, &log, 1_400_000, Some(Duration::from_millis(50)));
        bwe.on_feedback(&f, &log, 1_500_000, None);
    }
    for f in &r.transport_feedback {
        bwe.on_feedback(f, &log, 1_600_000, None);
    }
    if let Some(b) = r.remb {
        bwe.on_remb(b, 1_700_000);
    }
    if let Some(e) = bwe.estimate() {
        assert!((config.min_bps..=config.max_bps).contains(&e), "{e}");
    }
    let mut rec = TwccRecorder::new(t0);
    for (i, c) in data.chunks_exact(3).take(3000).enumerate() {
        rec.on_packet(u16::from_be_bytes([c[0], c[1]]), t0 + Duration::from_micros(i as u64 * 200 + c[2] as u64 * 1000));
    }
    let mut out = Vec::new();
    while rec.write_feedback(1, 2, t0, &mut out) {
        let f = parse_feedback(&out).expect("our feedback parses");
        assert!(f.arrivals.len() <= MAX_STATUS && out.len() <= 1400);
        out.clear();
    }
});
