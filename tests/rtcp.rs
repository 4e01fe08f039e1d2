//! The library's own RTCP between two sessions through the tests' relay: sender and receiver
//! reports (loss, extended sequence numbers, the peer's SR figures, round-trip time), SDES
//! CNAME in every compound packet, BYE on close, keyframe requests each way, and the
//! switches that turn each part off.

mod common;

use std::time::{Duration, Instant};

use common::native::{connected, negotiate_track, peer, run_until, Peer};
use common::relay::{Policy, Relay};
use webrtc_session::negotiation::{Codec, Direction, MediaKind};
use webrtc_session::rtcp::{parse, Packet};
use webrtc_session::session::SessionConfig;

/// A video call a ⇄ b through a relay with `policy`.
fn video_call(policy: Policy, tweak: impl Fn(&mut SessionConfig) + Copy) -> (Peer, Peer, Relay) {
    let mut a = peer(tweak);
    let mut b = peer(tweak);
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), policy, 7);
    negotiate_track(&mut a, &mut b, MediaKind::Video, Codec::Vp8);
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(30), connected), "connect");
    (a, b, relay)
}

/// Sends `n` packets each way, 3000 RTP units (33 ms at 90 kHz) apart in timestamp, pumping.
fn stream(a: &mut Peer, b: &mut Peer, relay: &Relay, n: u32, ts: &mut u32) {
    for _ in 0..n {
        a.s.send_media(a.track, &[0x10, 0, 0, 0, 1, 2, 3], *ts, true).unwrap();
        b.s.send_media(b.track, &[0x10, 0, 0, 0, 4, 5, 6], *ts, true).unwrap();
        *ts = ts.wrapping_add(3000);
        a.pump(&b.s, relay.for_b);
        b.pump(&a.s, relay.for_a);
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn reports_carry_loss_sequence_rtt_and_the_senders_figures_through_a_lossy_relay() {
    let delay = Duration::from_millis(50);
    let (mut a, mut b, relay) = video_call(Policy::default(), |_| {});
    relay.set(|p| {
        p.loss = 0.1;
        p.delay = delay;
    });
    let mut ts = 0u32;
    // Stream until a has a report about its stream covering at least 300 packets and an RTT.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        stream(&mut a, &mut b, &relay, 50, &mut ts);
        let r = a.s.track_rtcp(a.track).unwrap();
        let covered = r.remote_inbound.map_or(0, |i| i.block.extended_highest_sequence);
        if a.s.round_trip_time().is_some() && r.remote_inbound.is_some() && covered > 0 && a.s.stats.rtp_packets_sent.load(std::sync::atomic::Ordering::Relaxed) >= 400 {
            let inbound = r.remote_inbound.unwrap();
            // The peer's cumulative loss over what it reported on is the relay's ~10 %.
            let span = (a.s.stats.rtp_packets_sent.load(std::sync::atomic::Ordering::Relaxed)) as f64;
            let lost = inbound.block.cumulative_lost as f64;
            // Two reports each way (an SR of a's can be lost at the relay, so wait for it).
            if inbound.reports >= 2 && lost > 0.0 && a.s.rtcp_counters().reports_sent >= 2 {
                let ratio = lost / span;
                assert!(ratio > 0.02 && ratio < 0.25, "lost {lost} of about {span}: {inbound:?}");
                break;
            }
        }
        assert!(Instant::now() < deadline, "no report with loss and RTT: {:?} {:?}", r, a.s.rtcp_counters());
    }
    // The RTT includes the relay's 50 ms each way (a floor no load can lower).
    let rtt = a.s.round_trip_time().unwrap();
    assert!(rtt >= 2 * delay - Duration::from_millis(2) && rtt < Duration::from_secs(2), "{rtt:?}");
    // b knows a's SR figures for the source it receives, and its own receive figures.
    let rb = b.s.track_rtcp(b.track).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
    let src = &rb.received[0];
    let sr = src.remote_outbound.expect("a's sender report reached b");
    assert!(sr.packets > 0 && sr.packets as u64 <= a.s.stats.rtp_packets_sent.load(std::sync::atomic::Ordering::Relaxed));
    assert!(sr.octets >= 7 * sr.packets - 7 * 50, "{sr:?}");
    assert!(src.packets_lost > 0 && src.packets_received > 0, "{src:?}");
    // Every compound report a session sent starts with a report and carries a CNAME; the
    // rest are feedback alone (reduced size, RFC 5506, as rtcp-rsize allows): NACKs for the
    // relay's losses and transport-wide feedback (RTPFB FMT 15).
    a.pump(&b.s, relay.for_b);
    assert!(!b.rtcp.is_empty());
    let feedback_only = |p: &Packet| matches!(p, Packet::Nack { .. } | Packet::TransportFeedback(_));
    let reports: Vec<_> = b.rtcp.iter().map(|p| parse(p)).filter(|p| !p.iter().all(feedback_only)).collect();
    assert!(!reports.is_empty());
    for parsed in &reports {
        assert!(matches!(parsed[0], Packet::SenderReport { .. } | Packet::ReceiverReport { .. }), "{parsed:?}");
        assert!(parsed.iter().any(|p| matches!(p, Packet::Sdes { cnames } if !cnames.is_empty())), "{parsed:?}");
    }
    let c = a.s.rtcp_counters();
    assert!(c.reports_sent >= 2 && c.reports_received >= 2, "{c:?}");
}

#[test]
fn close_sends_a_bye_and_keyframe_requests_go_each_way() {
    let (mut a, mut b, relay) = video_call(Policy::default(), |_| {});
    // A track that does not exist is refused (the peer's SSRC is known from its description,
    // so asking before media flows is fine).
    assert!(a.s.request_keyframe(a.track + 100).is_err());
    let mut ts = 0;
    stream(&mut a, &mut b, &relay, 20, &mut ts);
    // a asks b (b's sending track is b.track), then b asks a a few times in a row.
    a.s.request_keyframe(a.track).unwrap();
    for _ in 0..5 {
        b.s.request_keyframe(b.track).unwrap();
    }
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(10), |a, b| !b.keyframes.is_empty() && !a.keyframes.is_empty()));
    std::thread::sleep(Duration::from_millis(100));
    a.pump(&b.s, relay.for_b);
    assert!(b.keyframes.iter().all(|t| *t == b.track) && a.keyframes.iter().all(|t| *t == a.track));
    // Every PLI a received was reported or merged, never lost between the two.
    let c = a.s.rtcp_counters();
    assert_eq!(c.pli_received, 5, "{c:?}");
    assert_eq!(a.keyframes.len() as u64 + c.keyframe_requests_merged, 5, "{c:?}");
    assert_eq!(b.s.rtcp_counters().pli_sent, 5);
    // a closes: b sees a BYE from a's SSRC.
    let a_ssrc = a.s.track_ssrc(a.track).unwrap();
    let before = b.rtcp.len();
    a.s.close();
    let bye = |b: &Peer| {
        b.rtcp[before..].iter().any(|p| parse(p).iter().any(|p| matches!(p, Packet::Bye { ssrcs } if ssrcs.contains(&a_ssrc))))
    };
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(10), |_, b| bye(b)), "no BYE");
}

#[test]
fn switched_off_the_library_sends_no_reports_and_advertises_no_feedback() {
    let off = |c: &mut SessionConfig| {
        c.rtcp.reports = false;
        c.rtcp.keyframe_requests = false;
        c.rtcp.nack = false;
        c.rtcp.transport_cc = false;
    };
    let mut a = peer(off);
    a.track = a.s.add_track(MediaKind::Video, &[Codec::Vp8], Direction::SendRecv).unwrap();
    let offer = a.s.create_offer().unwrap();
    assert!(!offer.contains("a=rtcp-fb") && !offer.contains("rtx"), "{offer}");
    drop(a);
    let (mut a, mut b, relay) = video_call(Policy::default(), off);
    let mut ts = 0;
    stream(&mut a, &mut b, &relay, 300, &mut ts); // 1.5 s or more: past a first report
    assert_eq!(a.s.rtcp_counters().reports_sent, 0);
    assert_eq!(a.s.stats.rtcp_packets_sent.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert!(a.s.request_keyframe(a.track).unwrap_err().message().contains("switched off"));
    // Raw RTCP from the host still goes through and reaches the peer's on_rtcp.
    let pli = [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
    a.s.send_rtcp(&pli).unwrap();
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(10), |_, b| b.rtcp.iter().any(|p| p[..] == pli[..])));
}
