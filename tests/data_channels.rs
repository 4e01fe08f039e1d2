//! Data channels between two library sessions, on the Rust API: data-only and media plus data,
//! both DTLS roles, many channels, negotiated and unordered ones, closes from each side, the
//! message size limit, buffered-amount-low flow control, and a lossy, delaying path.
//! Every wait has a generous deadline: what is checked is what arrived, never how fast.

mod common;

use std::time::Duration;

use common::native::{connected, negotiate_data, peer, run_until, Ch, Peer};
use common::relay::{Policy, Relay};
use webrtc_session::negotiation::{Codec, Direction, MediaKind};
use webrtc_session::session::{ChannelOptions, ChannelState, DtlsRolePreference, Reliability, SdpType};

const LONG: Duration = Duration::from_secs(60);

fn options(label: &str) -> ChannelOptions {
    ChannelOptions { label: label.into(), ordered: true, ..Default::default() }
}

fn opened(p: &Peer, key: u32) -> bool {
    p.channel_events.contains(&Ch::Open(key))
}

fn peer_opened(p: &Peer) -> Vec<u32> {
    p.channel_events.iter().filter_map(|e| if let Ch::PeerOpened(k) = e { Some(*k) } else { None }).collect()
}

fn messages(p: &Peer, key: u32) -> Vec<(Vec<u8>, bool)> {
    p.channel_events
        .iter()
        .filter_map(|e| match e {
            Ch::Message(k, d, t) if *k == key => Some((d.clone(), *t)),
            _ => None,
        })
        .collect()
}

/// A payload whose bytes say which message it is, to check integrity and order.
fn payload(i: u32, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(4));
    v.extend_from_slice(&i.to_be_bytes());
    while v.len() < len {
        v.push((v.len() as u32 ^ i) as u8);
    }
    v.truncate(len.max(4));
    v
}

/// Sends, retrying while the channel's buffer is full (the sender is faster than the path).
fn send(p: &mut Peer, other: &mut Peer, relay: &Relay, key: u32, data: &[u8], text: bool) {
    loop {
        match p.s.send_data(key, data, text) {
            Ok(()) => return,
            Err(e) if e.kind() == webrtc_session::error::ErrorKind::LimitReached => {
                run_until(p, other, relay, Duration::from_millis(20), |_, _| false);
            }
            Err(e) => panic!("send: {e}"),
        }
    }
}

struct Call {
    a: Peer,
    b: Peer,
    relay: Relay,
}

/// `a` offers with one channel "chat" (created before the offer); returns the call once both
/// sides have it open, and the keys of the channel on each side.
fn data_call(policy: Policy, b_role: DtlsRolePreference, with_media: bool) -> (Call, u32, u32) {
    let mut a = peer(|_| {});
    let mut b = peer(|c| c.dtls_role = b_role);
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), policy, 7);
    if with_media {
        a.track = a.s.add_track(MediaKind::Audio, &[Codec::Opus], Direction::SendRecv).unwrap();
    }
    let ka = a.s.create_data_channel(options("chat")).unwrap();
    assert_eq!(a.s.data_channel_state(ka).unwrap(), ChannelState::Connecting);
    negotiate_data(&mut a, &mut b);
    let ok = run_until(&mut a, &mut b, &relay, LONG, |a, b| connected(a, b) && opened(a, ka) && !peer_opened(b).is_empty());
    assert!(ok, "channel did not open: a {:?} b {:?}", a.channel_events, b.channel_events);
    let kb = peer_opened(&b)[0];
    assert!(opened(&b, kb), "the peer's channel is open when announced");
    let info = b.s.data_channel_info(kb).unwrap();
    assert_eq!(info.label, "chat");
    assert!(info.ordered && !info.negotiated);
    let id_a = a.s.data_channel_info(ka).unwrap().stream_id.unwrap();
    assert_eq!(info.stream_id, Some(id_a));
    (Call { a, b, relay }, ka, kb)
}

/// Empty messages of both kinds, 64 KB and 256 KB ones, and one past the limit.
fn edge_cases(p: &mut Peer, o: &mut Peer, relay: &Relay, k: u32) {
    p.s.send_data(k, b"", true).unwrap();
    p.s.send_data(k, b"", false).unwrap();
    send(p, o, relay, k, &payload(70_000, 64 * 1024), false);
    send(p, o, relay, k, &payload(70_001, 256 * 1024), false);
    // One byte more than the peer's max-message-size is refused, clearly.
    let e = p.s.send_data(k, &vec![0u8; 256 * 1024 + 1], false).unwrap_err();
    assert_eq!(e.kind(), webrtc_session::error::ErrorKind::PacketRejected);
    assert!(e.message().contains("max-message-size"), "{e}");
}

#[test]
fn data_only_session_moves_messages_both_ways_byte_for_byte() {
    let (mut c, ka, kb) = data_call(Policy::default(), DtlsRolePreference::Auto, false);
    // The offer and answer carry only the data section.
    let offer = c.a.s.local_description().unwrap();
    assert!(offer.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"), "{offer}");
    assert!(offer.contains("a=sctp-port:5000") && offer.contains("a=max-message-size:262144"));
    assert!(!offer.contains("m=audio"));
    // The answerer is DTLS client (Auto), so the offerer's stream id is odd.
    assert_eq!(c.a.s.data_channel_info(ka).unwrap().stream_id.unwrap() % 2, 1);

    for i in 0..1000u32 {
        let text = i % 2 == 0;
        let m = if text { format!("message {i} from a").into_bytes() } else { payload(i, 100 + i as usize % 900) };
        send(&mut c.a, &mut c.b, &c.relay, ka, &m, text);
        let r = if text { format!("reply {i} from b").into_bytes() } else { payload(i ^ 0xffff, 50 + i as usize % 700) };
        send(&mut c.b, &mut c.a, &c.relay, kb, &r, text);
    }
    // Empty messages of both kinds, then 64 KB and 256 KB ones.
    edge_cases(&mut c.a, &mut c.b, &c.relay, ka);
    edge_cases(&mut c.b, &mut c.a, &c.relay, kb);
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |a, b| messages(b, kb).len() == 1004 && messages(a, ka).len() == 1004);
    assert!(ok, "b got {} of 1004, a got {} of 1004", messages(&c.b, kb).len(), messages(&c.a, ka).len());
    let at_b = messages(&c.b, kb);
    let at_a = messages(&c.a, ka);
    for i in 0..1000u32 {
        let text = i % 2 == 0;
        let m = if text { format!("message {i} from a").into_bytes() } else { payload(i, 100 + i as usize % 900) };
        assert_eq!(at_b[i as usize], (m, text), "message {i} a->b");
        let r = if text { format!("reply {i} from b").into_bytes() } else { payload(i ^ 0xffff, 50 + i as usize % 700) };
        assert_eq!(at_a[i as usize], (r, text), "message {i} b->a");
    }
    for got in [&at_a, &at_b] {
        assert_eq!(got[1000], (vec![], true), "empty string message");
        assert_eq!(got[1001], (vec![], false), "empty binary message");
        assert_eq!(got[1002].0, payload(70_000, 64 * 1024));
        assert_eq!(got[1003].0, payload(70_001, 256 * 1024));
    }
    // Per-channel counts, in getStats as browsers name them: what a sent is what b received.
    let (ia, ib) = (c.a.s.data_channel_info(ka).unwrap(), c.b.s.data_channel_info(kb).unwrap());
    let bytes_a: u64 = at_b.iter().map(|(m, _)| m.len() as u64).sum();
    assert_eq!((ia.messages_sent, ia.bytes_sent), (1004, bytes_a));
    assert_eq!((ib.messages_received, ib.bytes_received), (1004, bytes_a));
    assert_eq!((ia.messages_received, ib.messages_sent), (1004, 1004));
    let stats = c.a.s.get_stats();
    assert!(stats.contains(&format!("\"messagesSent\":1004,\"bytesSent\":{bytes_a}")), "{stats}");
}

#[test]
fn media_and_data_with_the_answerer_as_dtls_server() {
    let (mut c, ka, kb) = data_call(Policy::default(), DtlsRolePreference::Server, true);
    let offer = c.a.s.local_description().unwrap();
    assert!(offer.contains("m=audio") && offer.contains("m=application"));
    assert!(offer.contains("a=group:BUNDLE 0 1"), "{offer}");
    // The offerer is DTLS client now: even stream ids.
    assert_eq!(c.a.s.data_channel_info(ka).unwrap().stream_id.unwrap() % 2, 0);
    c.a.s.send_data(ka, b"ping", true).unwrap();
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |_, b| !messages(b, kb).is_empty());
    assert!(ok);
    assert_eq!(messages(&c.b, kb)[0], (b"ping".to_vec(), true));
    // Media still flows on the same transport.
    let pcm = [0xffu8; 160];
    c.a.s.send_media(c.a.track, &pcm, 160, false).unwrap();
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |_, b| !b.rtp.is_empty());
    assert!(ok, "audio did not arrive next to the data channel");
}

#[test]
fn many_channels_negotiated_unordered_and_closes_from_each_side() {
    let (mut c, ka, kb) = data_call(Policy::default(), DtlsRolePreference::Auto, false);
    // 100 more channels from a, opened at once on the live association.
    let keys: Vec<u32> = (0..100).map(|i| c.a.s.create_data_channel(options(&format!("ch{i}"))).unwrap()).collect();
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |a, b| keys.iter().all(|k| opened(a, *k)) && peer_opened(b).len() == 101);
    assert!(ok, "{} of 100 opened at b", peer_opened(&c.b).len() - 1);
    for (i, k) in keys.iter().enumerate() {
        c.a.s.send_data(*k, format!("on ch{i}").as_bytes(), true).unwrap();
    }
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |_, b| peer_opened(b)[1..].iter().all(|k| messages(b, *k).len() == 1));
    assert!(ok);
    for k in &peer_opened(&c.b)[1..] {
        let label = c.b.s.data_channel_info(*k).unwrap().label;
        assert_eq!(messages(&c.b, *k)[0].0, format!("on {label}").into_bytes());
    }

    // A pre-negotiated channel: both create id 600, no DCEP, both see it open.
    let neg = ChannelOptions { label: "negotiated".into(), ordered: true, negotiated_id: Some(600), ..Default::default() };
    let na = c.a.s.create_data_channel(neg.clone()).unwrap();
    let nb = c.b.s.create_data_channel(neg).unwrap();
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |a, b| opened(a, na) && opened(b, nb));
    assert!(ok);
    c.b.s.send_data(nb, b"over the negotiated channel", false).unwrap();
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |a, _| messages(a, na).len() == 1);
    assert!(ok);
    assert_eq!(peer_opened(&c.a).len(), 0, "a negotiated channel is not announced as opened by the peer");
    assert!(c.b.s.create_data_channel(ChannelOptions { negotiated_id: Some(600), ..Default::default() }).is_err(), "id in use");

    // Unordered, no retransmissions: on a clean path every message still arrives.
    let ua = c
        .a
        .s
        .create_data_channel(ChannelOptions { label: "fast".into(), ordered: false, reliability: Reliability::MaxRetransmits(0), ..Default::default() })
        .unwrap();
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |a, b| opened(a, ua) && peer_opened(b).len() == 102);
    assert!(ok);
    let ub = *peer_opened(&c.b).last().unwrap();
    let info = c.b.s.data_channel_info(ub).unwrap();
    assert!(!info.ordered && info.reliability == Reliability::MaxRetransmits(0), "{info:?}");

    // Close from a (the offerer) and from b: the other side sees each close.
    c.a.s.close_data_channel(keys[0]).unwrap();
    let b_key0 = peer_opened(&c.b)[1];
    c.b.s.close_data_channel(kb).unwrap();
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |a, b| {
        b.channel_events.contains(&Ch::Closed(b_key0))
            && a.channel_events.contains(&Ch::Closed(keys[0]))
            && a.channel_events.contains(&Ch::Closed(ka))
            && b.channel_events.contains(&Ch::Closed(kb))
    });
    assert!(ok, "closes not seen: a {:?}", c.a.channel_events.iter().filter(|e| matches!(e, Ch::Closed(_))).collect::<Vec<_>>());
    assert_eq!(c.a.s.data_channel_state(ka).unwrap(), ChannelState::Closed);
    assert!(c.a.s.send_data(ka, b"late", true).is_err(), "a closed channel refuses to send");
    // The other channels are untouched.
    c.a.s.send_data(keys[1], b"still here", true).unwrap();
    let b_key1 = peer_opened(&c.b)[2];
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |_, b| messages(b, b_key1).len() == 2);
    assert!(ok);
}

#[test]
fn a_large_file_streams_with_bounded_buffering() {
    let (mut c, ka, kb) = data_call(Policy::default(), DtlsRolePreference::Auto, false);
    const CHUNK: usize = 64 * 1024;
    const HIGH: usize = 1024 * 1024;
    const TOTAL: usize = 8 * 1024 * 1024;
    c.a.s.set_data_channel_buffered_amount_low_threshold(ka, HIGH / 2).unwrap();
    let mut sent = 0;
    let mut peak = 0;
    let mut lows = 0;
    while sent < TOTAL {
        while sent < TOTAL && c.a.s.data_channel_buffered_amount(ka).unwrap() < HIGH {
            c.a.s.send_data(ka, &payload((sent / CHUNK) as u32, CHUNK), false).unwrap();
            sent += CHUNK;
            peak = peak.max(c.a.s.data_channel_buffered_amount(ka).unwrap());
        }
        if sent >= TOTAL {
            break;
        }
        // Wait for buffered-amount-low before sending more.
        let before = c.a.channel_events.iter().filter(|e| **e == Ch::Low(ka)).count();
        let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |a, _| a.channel_events.iter().filter(|e| **e == Ch::Low(ka)).count() > before);
        assert!(ok || sent >= TOTAL, "no buffered-amount-low after {sent} bytes");
        lows += 1;
    }
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |_, b| messages(b, kb).len() == TOTAL / CHUNK);
    assert!(ok, "{} of {} chunks", messages(&c.b, kb).len(), TOTAL / CHUNK);
    for (i, (m, _)) in messages(&c.b, kb).iter().enumerate() {
        assert_eq!(*m, payload(i as u32, CHUNK), "chunk {i}");
    }
    assert!(peak < HIGH + CHUNK, "buffered amount peaked at {peak}");
    assert!(lows >= 7, "buffered-amount-low fired {lows} times");
}

#[test]
fn lossy_delaying_path_keeps_reliable_order_and_never_duplicates() {
    let policy = Policy { loss: 0.10, delay: Duration::from_millis(50), ..Default::default() };
    let (mut c, ka, kb) = data_call(policy, DtlsRolePreference::Auto, false);
    let ua = c
        .a
        .s
        .create_data_channel(ChannelOptions { label: "lossy".into(), ordered: false, reliability: Reliability::MaxRetransmits(0), ..Default::default() })
        .unwrap();
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, LONG, |a, b| opened(a, ua) && peer_opened(b).len() == 2);
    assert!(ok, "the unreliable channel did not open through the lossy path");
    let ub = peer_opened(&c.b)[1];
    for i in 0..300u32 {
        send(&mut c.a, &mut c.b, &c.relay, ka, &payload(i, 200 + (i as usize * 37) % 3000), false);
        send(&mut c.a, &mut c.b, &c.relay, ua, &payload(i, 300), false);
    }
    let ok = run_until(&mut c.a, &mut c.b, &c.relay, Duration::from_secs(120), |_, b| messages(b, kb).len() >= 300);
    let reliable = messages(&c.b, kb);
    assert!(ok, "{} of 300 reliable messages arrived", reliable.len());
    assert_eq!(reliable.len(), 300, "a reliable message arrived twice");
    for (i, (m, _)) in reliable.iter().enumerate() {
        assert_eq!(*m, payload(i as u32, 200 + (i * 37) % 3000), "reliable message {i}: order or content");
    }
    let unreliable = messages(&c.b, ub);
    let mut seen = std::collections::HashSet::new();
    for (m, _) in &unreliable {
        let i = u32::from_be_bytes(m[..4].try_into().unwrap());
        assert_eq!(*m, payload(i, 300), "unreliable message {i} corrupted");
        assert!(seen.insert(i), "unreliable message {i} duplicated");
    }
    assert!(unreliable.len() < 300, "10 % loss and no retransmissions, yet all 300 arrived");
    eprintln!(
        "lossy path: 300/300 reliable in order, {} of 300 unreliable (no duplicates); SCTP packets dropped before the association: {} / {}",
        unreliable.len(),
        c.a.s.data_counters().sctp_packets_dropped,
        c.b.s.data_counters().sctp_packets_dropped
    );
}

#[test]
fn offer_from_the_side_without_channels_and_the_refused_section() {
    // b offers media only; a has a channel waiting: the answer cannot add a data section, so
    // the channel waits for a's own offer, which adds it.
    let mut a = peer(|_| {});
    let mut b = peer(|_| {});
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 3);
    let ka = a.s.create_data_channel(options("late")).unwrap();
    b.track = b.s.add_track(MediaKind::Audio, &[Codec::Pcmu], Direction::SendRecv).unwrap();
    negotiate_data(&mut b, &mut a);
    assert!(!a.s.local_description().unwrap().contains("m=application"));
    let ok = run_until(&mut a, &mut b, &relay, LONG, |a, b| connected(a, b));
    assert!(ok);
    assert_eq!(a.s.data_channel_state(ka).unwrap(), ChannelState::Connecting);
    // a renegotiates: its offer keeps the audio section first and adds the data section.
    negotiate_data(&mut a, &mut b);
    let offer = a.s.local_description().unwrap();
    let audio = offer.find("m=audio").unwrap();
    let app = offer.find("m=application").unwrap();
    assert!(audio < app, "{offer}");
    let ok = run_until(&mut a, &mut b, &relay, LONG, |a, b| opened(a, ka) && !peer_opened(b).is_empty());
    assert!(ok, "the channel did not open after the renegotiation: {:?}", a.channel_events);

    // A peer that rejects the data section: the waiting channel reports an error and closes.
    let mut c = peer(|_| {});
    let d = peer(|_| {});
    let kc = c.s.create_data_channel(options("refused")).unwrap();
    let offer = c.s.create_offer().unwrap();
    c.s.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
    d.s.set_remote_description(SdpType::Offer, &offer).unwrap();
    let answer = d.s.create_answer().unwrap();
    let rejected = answer.replace("m=application 9 ", "m=application 0 ");
    c.s.set_remote_description(SdpType::Answer, &rejected).unwrap_err(); // nothing left to connect
    let answer = answer.replace("a=sctp-port:5000", "a=sctp-port:5001");
    c.s.set_remote_description(SdpType::Answer, &answer).unwrap();
    c.pump(&d.s, relay.for_a);
    assert!(c.channel_events.iter().any(|e| matches!(e, Ch::Error(k, m) if *k == kc && m.contains("sctp-port"))), "{:?}", c.channel_events);
    assert!(c.channel_events.contains(&Ch::Closed(kc)));
}

/// The receiving host is slow (2 ms in every message callback) while the sender pushes 3,000
/// messages of 1 KB: the sender is held back (its buffered amount reaches the limit and sends
/// are refused until it drains, or it is simply slowed), and the receiver still gets every
/// message once and in order. Memory stays bounded: the receive thread does not queue for the
/// slow host; SCTP's window and the socket buffer hold the rest.
#[test]
fn a_slow_receiving_host_slows_the_sender_and_loses_nothing() {
    use std::sync::Arc;
    use webrtc_session::session::{Event, EventHandler};
    struct Slow(common::native::Forward);
    impl EventHandler for Slow {
        fn on_event(&self, e: Event<'_>) {
            if matches!(e, Event::ChannelMessage { .. }) {
                std::thread::sleep(Duration::from_millis(2));
            }
            self.0.on_event(e);
        }
    }
    let mut a = peer(|_| {});
    let mut b = peer(|_| {});
    let (tx, rx) = crossbeam_channel::unbounded();
    b.rx = rx;
    b.s.set_event_handler(Some(Arc::new(Slow(common::native::Forward(tx)))));
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 11);
    let ka = a.s.create_data_channel(options("firehose")).unwrap();
    negotiate_data(&mut a, &mut b);
    let ok = run_until(&mut a, &mut b, &relay, LONG, |a, b| opened(a, ka) && !peer_opened(b).is_empty());
    assert!(ok);
    let kb = peer_opened(&b)[0];
    let mut refused = 0;
    let mut peak = 0;
    let mut i = 0u32;
    let started = std::time::Instant::now();
    while i < 3000 {
        match a.s.send_data(ka, &payload(i, 1024), false) {
            Ok(()) => {
                i += 1;
                peak = peak.max(a.s.data_channel_buffered_amount(ka).unwrap());
            }
            Err(e) if e.kind() == webrtc_session::error::ErrorKind::LimitReached => {
                refused += 1;
                run_until(&mut a, &mut b, &relay, Duration::from_millis(5), |_, _| false);
            }
            Err(e) => panic!("{e}"),
        }
    }
    let ok = run_until(&mut a, &mut b, &relay, Duration::from_secs(120), |_, b| messages(b, kb).len() >= 3000);
    let got = messages(&b, kb);
    assert!(ok, "{} of 3000", got.len());
    assert_eq!(got.len(), 3000);
    for (i, (m, _)) in got.iter().enumerate() {
        assert_eq!(*m, payload(i as u32, 1024), "message {i}");
    }
    // 3,000 callbacks of 2 ms: the transfer took at least that long, so the sender was held.
    eprintln!(
        "slow host: 3000 messages in {:.1} s, {refused} sends refused at the buffer limit, peak buffered on the sender {peak} bytes",
        started.elapsed().as_secs_f64()
    );
    assert!(started.elapsed() >= Duration::from_secs(6), "3,000 callbacks of 2 ms cannot finish sooner");
}
