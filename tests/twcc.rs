//! Transport-wide feedback between two sessions through the tests' lossy relay: a's host
//! sends packets carrying the transport-wide sequence number extension; b's feedback (read by
//! a's host through on_rtcp) must say received for exactly what reached b and not received
//! for what the relay dropped, with arrival times that advance.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use common::native::{connected, negotiate_track, peer, run_until};
use common::relay::{Policy, Relay};
use webrtc_session::negotiation::{Codec, MediaKind};
use webrtc_session::rtcp::twcc::parse_feedback;

/// A VP8 packet with the transport-wide sequence number in a one-byte extension (id 3).
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
        p.delay = Duration::from_millis(10);
    });
    let first = 65_000u16; // across the wrap
    let n = 600u16;
    for i in 0..n {
        a.s.send_rtp(a.track, &packet(i, first.wrapping_add(i))).unwrap();
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
    eprintln!("twcc: {} of {n} arrived, {} statuses reported, {covered_lost} of {} losses reported as lost", got.len(), r.len(), lost.len());
}
