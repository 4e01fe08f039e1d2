//! Generic NACK and retransmission (RFC 4585, RFC 4588) between two sessions through the
//! tests' lossy relay: what the relay drops is asked for and sent again, over RTX (unwrapped
//! to the original SSRC and sequence number before the host sees it) or plainly when the
//! peer offered no RTX; a NACK storm from the host's raw RTCP cannot make the library send
//! more than its retransmission budget.

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use common::native::{connected, negotiate_track_with, peer, run_until, Peer};
use common::relay::{Policy, Relay};
use webrtc_session::negotiation::{Codec, MediaKind};
use webrtc_session::rtcp::history::BUDGET_CAP;
use webrtc_session::rtcp::Writer;
use webrtc_session::session::SessionConfig;

const PAYLOAD: [u8; 7] = [0x10, 0, 0, 0, 1, 2, 3];

/// A VP8 call a ⇄ b through a relay; b sees a's offer through `munge`.
fn video_call(tweak: impl Fn(&mut SessionConfig) + Copy, munge: impl Fn(&str) -> String) -> (Peer, Peer, Relay) {
    let mut a = peer(tweak);
    let mut b = peer(tweak);
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 11);
    negotiate_track_with(&mut a, &mut b, MediaKind::Video, Codec::Vp8, munge);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(30), connected), "connect");
    (a, b, relay)
}

/// An offer without RTX: no rtx formats, no FID group or its SSRC lines.
fn without_rtx(offer: &str) -> String {
    let rtx_ssrc = offer.lines().find_map(|l| l.strip_prefix("a=ssrc-group:FID ")).map(|g| g.split(' ').nth(1).unwrap().to_string());
    offer
        .lines()
        .filter(|l| !l.contains("rtx/") && !l.contains("apt=") && !l.starts_with("a=ssrc-group:FID"))
        .filter(|l| rtx_ssrc.as_ref().is_none_or(|x| !l.starts_with(&format!("a=ssrc:{x} "))))
        .map(|l| if l.starts_with("m=video") { l.replace(" 97", "") } else { l.to_string() })
        .map(|l| l + "\r\n")
        .collect()
}

/// a sends `n` VP8 packets to b through the relay at 10 % loss and 20 ms each way, then
/// pumps until b has them all or 5 s passed. Returns the distinct sequence numbers b's host
/// received on a's SSRC (every one with VP8's payload type and a's payload).
fn lossy_stream(a: &mut Peer, b: &mut Peer, relay: &Relay, n: u32) -> HashSet<u16> {
    relay.set(|p| {
        p.loss = 0.1;
        p.delay = Duration::from_millis(20);
    });
    let ssrc = a.s.track_ssrc(a.track).unwrap();
    for i in 0..n {
        a.s.send_media(a.track, &PAYLOAD, i * 3000, true).unwrap();
        a.pump(&b.s, relay.for_b);
        b.pump(&a.s, relay.for_a);
        std::thread::sleep(Duration::from_millis(4));
    }
    let got = |b: &Peer| {
        let mut seqs = HashSet::new();
        for p in &b.rtp {
            assert_eq!(u32::from_be_bytes([p[8], p[9], p[10], p[11]]), ssrc, "only a's SSRC reaches the host");
            assert_eq!(p[1] & 0x7f, 96, "RTX is unwrapped to VP8's payload type");
            assert_eq!(&p[p.len() - PAYLOAD.len()..], &PAYLOAD[..], "the payload is the original");
            seqs.insert(u16::from_be_bytes([p[2], p[3]]));
        }
        seqs
    };
    run_until(a, b, relay, Duration::from_secs(5), |_, b| got(b).len() as u32 >= n);
    got(b)
}

#[test]
fn rtx_recovers_what_a_lossy_relay_drops() {
    let (mut a, mut b, relay) = video_call(|_| {}, |o| o.to_string());
    let got = lossy_stream(&mut a, &mut b, &relay, 600);
    let sent = a.s.stats.rtp_packets_sent.load(Relaxed);
    assert_eq!(sent, 600);
    assert!(got.len() as f64 >= 0.995 * 600.0, "b's host has {} of 600", got.len());
    let c = b.s.rtcp_counters();
    eprintln!(
        "rtx: {} of 600 delivered; b sent {} NACKs for {} sequence numbers, gave up {}; a retransmitted {}, b unwrapped {} RTX",
        got.len(),
        c.nack_sent,
        c.nack_sequences_sent,
        c.nack_gave_up,
        a.s.stats.retransmitted_packets_sent.load(Relaxed),
        b.s.stats.rtx_packets_received.load(Relaxed)
    );
    assert!(c.nack_sent > 0 && c.nack_sequences_sent >= 30, "{c:?}");
    assert!(a.s.stats.retransmitted_packets_sent.load(Relaxed) >= 30);
    assert!(b.s.stats.rtx_packets_received.load(Relaxed) >= 30, "retransmissions came over RTX");
    assert_eq!(b.s.stats.rtx_packets_dropped.load(Relaxed), 0);
    // Retransmissions count as recovered, not as received in b's report statistics.
    assert!(c.nack_recovered > 0, "{c:?}");
    // getStats shows the same, with the W3C types and names.
    let of = |s: &str, kind: &str| -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        v.as_object().unwrap().values().filter(|x| x["type"] == kind).cloned().collect()
    };
    let (sa, sb) = (a.s.get_stats(), b.s.get_stats());
    let ssrc = a.s.track_ssrc(a.track).unwrap() as u64;
    let out = of(&sa, "outbound-rtp").into_iter().find(|o| o["ssrc"] == ssrc).expect("a's outbound-rtp");
    assert_eq!(out["kind"], "video");
    assert_eq!(out["packetsSent"], 600);
    assert_eq!(out["retransmittedPacketsSent"], a.s.stats.retransmitted_packets_sent.load(Relaxed));
    assert!(out["nackCount"].as_u64().unwrap() > 0, "{out}");
    let inb = of(&sb, "inbound-rtp").into_iter().find(|o| o["ssrc"] == ssrc).expect("b's inbound-rtp for a's SSRC");
    assert_eq!(inb["nackCount"], b.s.rtcp_counters().nack_sent);
    assert_eq!(inb["retransmittedPacketsReceived"], b.s.stats.rtx_packets_received.load(Relaxed));
    assert!(inb["packetsReceived"].as_u64().unwrap() >= 500);
    let codecs = of(&sa, "codec");
    assert!(codecs.iter().any(|c| c["mimeType"] == "video/VP8" && c["clockRate"] == 90000), "{codecs:?}");
    assert!(codecs.iter().any(|c| c["mimeType"] == "video/rtx" && c["sdpFmtpLine"] == "apt=96"), "{codecs:?}");
    let t = &of(&sa, "transport")[0];
    assert_eq!(t["dtlsState"], "connected");
    assert_eq!(t["iceState"], "connected");
    assert!(t["srtpCipher"].is_string() && t["selectedCandidatePairId"].is_string(), "{t}");
    let pair = &of(&sa, "candidate-pair")[0];
    let local = &of(&sa, "local-candidate")[0];
    assert_eq!(pair["localCandidateId"], local["id"]);
    assert_eq!(local["address"], "127.0.0.1");
    assert_eq!(of(&sa, "certificate").len(), 2);
    // After a report round a's remote-inbound-rtp carries b's view of the stream.
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(5), |a, _| !of(&a.s.get_stats(), "remote-inbound-rtp").is_empty()));
    let ri = of(&a.s.get_stats(), "remote-inbound-rtp").remove(0);
    assert_eq!(ri["localId"], out["id"]);
    assert!(ri["fractionLost"].is_number() && ri["jitter"].is_number() && ri["packetsLost"].is_number(), "{ri}");
}

#[test]
fn without_rtx_the_packet_is_sent_again_as_it_was() {
    let (mut a, mut b, relay) = video_call(|_| {}, without_rtx);
    assert!(!b.s.local_description().unwrap().contains("rtx"), "b answers without RTX");
    let got = lossy_stream(&mut a, &mut b, &relay, 600);
    eprintln!("plain retransmission: {} of 600 delivered", got.len());
    assert!(got.len() as f64 >= 0.995 * 600.0, "b's host has {} of 600", got.len());
    assert!(a.s.stats.retransmitted_packets_sent.load(Relaxed) >= 30);
    assert_eq!(b.s.stats.rtx_packets_received.load(Relaxed), 0);
}

#[test]
fn switched_off_losses_stay_lost() {
    let (mut a, mut b, relay) = video_call(|c| c.rtcp.nack = false, |o| o.to_string());
    let got = lossy_stream(&mut a, &mut b, &relay, 600);
    eprintln!("nack off: {} of 600 delivered", got.len());
    // The relay's 10 % are gone for good (600 × 0.9 ± a few).
    assert!((got.len() as f64) < 0.97 * 600.0, "b's host has {} of 600", got.len());
    assert_eq!(b.s.rtcp_counters().nack_sent, 0);
    assert_eq!(a.s.stats.retransmitted_packets_sent.load(Relaxed), 0);
}

#[test]
fn a_nack_storm_gets_no_more_than_the_budget() {
    let (mut a, mut b, relay) = video_call(|_| {}, |o| o.to_string());
    let a_ssrc = a.s.track_ssrc(a.track).unwrap();
    // 300 packets of 1,000 bytes: 300 KB sent, more than the 256 KB budget cap.
    let payload = [0x10u8; 1000];
    for i in 0..300u32 {
        a.s.send_media(a.track, &payload, i * 3000, true).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let seqs = |b: &Peer| b.rtp.iter().map(|p| u16::from_be_bytes([p[2], p[3]])).collect::<HashSet<u16>>();
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(10), |_, b| seqs(b).len() >= 300), "{}", seqs(&b).len());
    // The first packet's sequence number, as b's host saw it.
    let base = u16::from_be_bytes([b.rtp[0][2], b.rtp[0][3]]);
    // b's host asks for everything, 1,088 sequence numbers per packet, 200 times.
    let mut storm = Vec::new();
    let all: Vec<u16> = (0..1088u16).map(|i| base.wrapping_add(i)).collect();
    Writer::new(&mut storm).nack(1, a_ssrc, &all);
    for _ in 0..200 {
        b.s.send_rtcp(&storm).unwrap();
        a.pump(&b.s, relay.for_b);
    }
    // Some of the storm drowns in its own answers at the relay's sockets; most arrives.
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(5), |a, _| a.s.rtcp_counters().nack_received >= 100), "{:?}", a.s.rtcp_counters());
    let bytes = a.s.stats.retransmitted_bytes_sent.load(Relaxed);
    let sent = a.s.stats.rtp_bytes_sent.load(Relaxed);
    assert!(bytes <= sent + BUDGET_CAP as u64, "{bytes} retransmitted for {sent} sent");
    // Each stored packet went out again at most once per interval: the rest was refused.
    let packets = a.s.stats.retransmitted_packets_sent.load(Relaxed);
    eprintln!(
        "storm: {} NACKs asking 1,088 each arrived; {packets} packets ({bytes} bytes) retransmitted for {sent} bytes sent; {} limited, {} not in history",
        a.s.rtcp_counters().nack_received,
        a.s.stats.nack_requests_limited.load(Relaxed),
        a.s.stats.nack_requests_unanswered.load(Relaxed)
    );
    assert!(packets > 0 && packets <= 300 * 2, "{packets}");
    assert!(a.s.stats.nack_requests_limited.load(Relaxed) > 0);
    assert!(a.s.stats.nack_requests_unanswered.load(Relaxed) > 0, "sequence numbers never sent");
}
