//! Transport-wide feedback between two sessions through the tests' lossy relay: a's library
//! numbers every packet its host sends (overwriting the host's own element of that id); b's
//! feedback (read by a's host through on_rtcp) must say received for exactly what reached b
//! and not received for what the relay dropped; a's bandwidth estimate reads the same
//! feedback and counts the same losses.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use common::native::{connected, negotiate_track, peer, run_until};
use common::relay::{Policy, Relay};
use webrtc_session::negotiation::{Codec, MediaKind};
use webrtc_session::rtcp::twcc::parse_feedback;

/// A VP8 packet with a transport-wide sequence number element (id 3) the library rewrites.
fn packet(seq: u16, twcc: u16) -> Vec<u8> {
    let mut p = vec![0x90, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 3000).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x31]);
    p.extend_from_slice(&twcc.to_be_bytes());
    p.push(0);
    p.extend_from_slice(&[0x10, 0, 0, 0, 9, 9, 9]);
    p
}

#[test]
fn feedback_reports_what_arrived_and_what_the_relay_dropped() {
    // Only the transport-wide numbers matter here: no NACK retransmission muddles "arrived".
    let no_nack = |c: &mut webrtc_session::session::SessionConfig| c.rtcp.nack = false;
    let mut a = peer(no_nack);
    let mut b = peer(no_nack);
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 21);
    negotiate_track(&mut a, &mut b, MediaKind::Video, Codec::Vp8);
    let answer = b.s.local_description().unwrap();
    assert!(answer.contains("a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"), "{answer}");
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(30), connected));
    relay.set(|p| {
        p.loss = 0.1;
        p.loss_rtp_only = true;
        p.delay = Duration::from_millis(10);
    });
    // The library numbers from 0; nothing else was sent on the transport (NACK is off).
    let first = 0u16;
    let n = 600u16;
    for i in 0..n {
        a.s.send_rtp(a.track, &packet(i, 0xffff)).unwrap();
        a.pump(&b.s, relay.for_b);
        b.pump(&a.s, relay.for_a);
        std::thread::sleep(Duration::from_millis(2));
    }
    // Feedback for everything b saw: run until a's host has statuses up to the last arrival.
    let arrived = |b: &common::native::Peer| -> HashSet<u16> {
        b.rtp.iter().filter(|p| p[0] & 0x10 != 0 && p.len() > 19).map(|p| u16::from_be_bytes([p[17], p[18]])).collect()
    };
    let reported = |a: &common::native::Peer| -> BTreeMap<u16, Option<i64>> {
        let mut m = BTreeMap::new();
        for p in &a.rtcp {
            let mut at = 0;
            while at + 4 <= p.len() {
                let len = (u16::from_be_bytes([p[at + 2], p[at + 3]]) as usize + 1) * 4;
                if let Some(f) = p.get(at..at + len).and_then(parse_feedback) {
                    for (i, arrival) in f.arrivals.iter().enumerate() {
                        m.insert(f.base.wrapping_add(i as u16), *arrival);
                    }
                }
                at += len;
            }
        }
        m
    };
    let last = first.wrapping_add(n - 1);
    assert!(
        run_until(&mut a, &mut b, &relay, Duration::from_secs(10), |a, b| {
            let got = arrived(b);
            let r = reported(a);
            !got.is_empty() && got.iter().all(|s| r.get(s).is_some_and(|x| x.is_some()))
        }),
        "every arrival reported: {} arrived, {} reported, {} rtcp packets, b sent {} rtcp", arrived(&b).len(), reported(&a).len(), a.rtcp.len(), b.s.stats.rtcp_packets_sent.load(std::sync::atomic::Ordering::Relaxed)
    );
    let got = arrived(&b);
    let r = reported(&a);
    let lost: Vec<u16> = (0..n).map(|i| first.wrapping_add(i)).filter(|s| !got.contains(s)).collect();
    assert!(lost.len() > 20 && lost.len() < 120, "the relay dropped {} of {n}", lost.len());
    for s in &lost {
        if let Some(status) = r.get(s) {
            assert!(status.is_none(), "{s} was dropped but reported received");
        }
    }
    let covered_lost = lost.iter().filter(|s| r.contains_key(s)).count();
    assert!(covered_lost as f64 >= 0.9 * lost.len() as f64, "{covered_lost} of {} losses reported", lost.len());
    assert!(!r.contains_key(&last.wrapping_add(1)), "nothing reported that was never sent");
    // a's estimator read the same feedback: every loss it was told of, no stranger.
    let c = a.s.bandwidth_counters();
    assert!(c.feedback_received > 0 && c.packets_unknown == 0, "{c:?}");
    assert_eq!(c.packets_acked as usize + c.packets_lost as usize, r.len(), "{c:?}");
    assert_eq!(c.packets_lost as usize, covered_lost, "{c:?}");
    assert!(a.s.bandwidth_estimate().is_some());
    eprintln!("twcc: {} of {n} arrived, {} statuses reported, {covered_lost} of {} losses reported as lost", got.len(), r.len(), lost.len());
}

/// a's host sends about 1.2 Mbit/s of video (1,000-byte packets) to b for `seconds`,
/// pumping both sides.
fn send_video(a: &mut common::native::Peer, b: &mut common::native::Peer, relay: &Relay, seconds: f64, seq: &mut u16) {
    let start = std::time::Instant::now();
    let mut sent = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        // Catch up to 150 packets a second (a loaded machine sends in bursts, not less).
        let due = (start.elapsed().as_secs_f64() * 150.0) as u64;
        while sent < due {
            let mut p = vec![0x80, 96];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&(*seq as u32 * 600).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 0]);
            p.extend_from_slice(&[0x10, 0, 0, 0]);
            p.resize(1000, 7);
            a.s.send_rtp(a.track, &p).unwrap();
            *seq = seq.wrapping_add(1);
            sent += 1;
        }
        a.pump(&b.s, relay.for_b);
        b.pump(&a.s, relay.for_a);
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// The send-side estimate from b's feedback: it holds (and may grow) on a clean path, and
/// falls to about the bottleneck once the relay limits a → b to 400 kbit/s while a keeps
/// sending 1.2 Mbit/s; the host hears of it through the BandwidthEstimate event.
#[test]
fn the_bandwidth_estimate_follows_the_path() {
    let start = 1_000_000;
    let tweak = |c: &mut webrtc_session::session::SessionConfig| c.rtcp.bandwidth.start_bps = 1_000_000;
    let mut a = peer(tweak);
    let mut b = peer(tweak);
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 22);
    negotiate_track(&mut a, &mut b, MediaKind::Video, Codec::Vp8);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(30), connected));
    relay.set(|p| p.delay = Duration::from_millis(10));
    let mut seq = 0u16;
    assert_eq!(a.s.bandwidth_estimate(), None, "nothing before feedback");
    send_video(&mut a, &mut b, &relay, 3.0, &mut seq);
    let clean = a.s.bandwidth_estimate().expect("an estimate from b's feedback");
    let first = *a.estimates.first().expect("the host was told");
    relay.set(|p| p.rate_a_to_b = 400_000);
    send_video(&mut a, &mut b, &relay, 4.0, &mut seq);
    let limited = a.s.bandwidth_estimate().unwrap();
    let c = a.s.bandwidth_counters();
    eprintln!("bandwidth: start {start}, first event {first}, clean {clean}, limited {limited}, events {}, {c:?}", a.estimates.len());
    assert!(clean >= start, "a clean path does not lower it: {clean}");
    assert!((200_000..480_000).contains(&limited), "{limited} under a 400 kbit/s bottleneck; {c:?}");
    assert!(c.packets_lost > 0 && c.packets_unknown == 0, "{c:?}");
    assert_eq!(*a.estimates.last().unwrap() as f64 / limited as f64 > 0.94, true, "the last event is the estimate: {:?}", a.estimates);
    // getStats has it where browsers put it.
    let stats = a.s.get_stats();
    assert!(stats.contains("\"availableOutgoingBitrate\""), "{stats}");
}

/// The peer's REMB caps the estimate (b's host sends one about a's SSRC through send_rtcp).
#[test]
fn remb_caps_the_estimate() {
    let mut a = peer(|_| {});
    let mut b = peer(|_| {});
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 23);
    negotiate_track(&mut a, &mut b, MediaKind::Video, Codec::Vp8);
    assert!(a.s.local_description().unwrap().contains("a=rtcp-fb:96 goog-remb"));
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(30), connected));
    let ssrc = a.s.track_ssrc(a.track).unwrap();
    // REMB: 250 kbit/s = mantissa 250,000 >> 1 (125,000), exponent 1.
    let m = 125_000u32;
    let mut remb = vec![0x8f, 206, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0];
    remb.extend_from_slice(b"REMB");
    remb.extend_from_slice(&[1, (1 << 2) | (m >> 16) as u8, (m >> 8) as u8, m as u8]);
    remb.extend_from_slice(&ssrc.to_be_bytes());
    b.s.send_rtcp(&remb).unwrap();
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(5), |a, _| !a.estimates.is_empty()));
    assert_eq!(a.s.bandwidth_estimate(), Some(250_000));
    assert_eq!(a.estimates, vec![250_000]);
    assert_eq!(a.s.bandwidth_counters().remb_received, 1);
}
