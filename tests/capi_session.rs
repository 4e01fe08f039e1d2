//! Two sessions on 127.0.0.1 driven through the C ABI.

mod common;

use std::time::Duration;

use common::*;
use webrtc_session::capi::session::*;
use webrtc_session::capi::types::*;
use webrtc_session::capi::wrs_result;

const N: usize = 1000;

/// The payload of packet `i` of a stream: its index followed by a pattern that depends on it.
fn payload(i: usize, len: usize, salt: u8) -> Vec<u8> {
    let mut p = (i as u32).to_be_bytes().to_vec();
    p.extend((4..len).map(|j| (j as u8).wrapping_mul(31).wrapping_add(i as u8).wrapping_add(salt)));
    p
}

fn rtp_payload(packet: &[u8]) -> &[u8] {
    let cc = (packet[0] & 0x0f) as usize;
    let mut off = 12 + 4 * cc;
    if packet[0] & 0x10 != 0 {
        let words = u16::from_be_bytes([packet[off + 2], packet[off + 3]]) as usize;
        off += 4 + 4 * words;
    }
    &packet[off..]
}

/// Connects, then sends N packets each way and checks every payload byte for byte.
fn exchange(profile: wrs_srtp_profile, answerer_role: wrs_dtls_role) {
    let a = Peer::new(&Options { profiles: vec![profile as u32], ..Default::default() });
    let b = Peer::new(&Options { dtls_role: answerer_role as u32, ..Default::default() });
    let ta = a.add_track(wrs_media_kind::Video, &[wrs_codec::Vp8], wrs_direction::SendRecv);
    let offer = a.offer();
    ok(b.set_remote(wrs_sdp_type::Offer, &offer));
    let tb = b.add_track(wrs_media_kind::Video, &[wrs_codec::Vp8], wrs_direction::SendRecv);
    let answer = b.answer();
    ok(a.set_remote(wrs_sdp_type::Answer, &answer));
    let (sa, sb) = pump(&a, &b, Duration::from_secs(10));
    assert_eq!((sa, sb), (wrs_connection_state::Connected, wrs_connection_state::Connected));

    let mut got = wrs_srtp_profile::Aes128CmHmacSha1_80;
    ok(wrs_session_srtp_profile(a.s, &mut got));
    assert_eq!(got, profile);
    ok(wrs_session_srtp_profile(b.s, &mut got));
    assert_eq!(got, profile);
    let (mut ra, mut rb) = (wrs_dtls_role::Auto, wrs_dtls_role::Auto);
    ok(wrs_session_dtls_role(a.s, &mut ra));
    ok(wrs_session_dtls_role(b.s, &mut rb));
    let expect_b = if answerer_role == wrs_dtls_role::Server { wrs_dtls_role::Server } else { wrs_dtls_role::Client };
    assert_eq!(rb, expect_b);
    assert_ne!(ra, rb);
    assert_eq!(a.string(wrs_session_remote_fingerprint).unwrap(), b.string(wrs_session_local_fingerprint).unwrap());
    assert_eq!(a.string(wrs_session_dtls_version).unwrap(), "DTLSv1.2");

    // Drain the track events so only RTP remains.
    std::thread::sleep(Duration::from_millis(10));
    while a.rx.try_recv().is_ok() {}
    while b.rx.try_recv().is_ok() {}
    for i in 0..N {
        ok(a.send_media(ta, &payload(i, 1200, 1), (i * 3000) as u32));
        ok(b.send_media(tb, &payload(i, 1200, 2), (i * 3000) as u32));
        if i % 10 == 9 {
            std::thread::sleep(Duration::from_millis(4)); // paced like a video call, not a flood
        }
    }
    let at_b = collect_rtp(&b, N, Duration::from_secs(10));
    let at_a = collect_rtp(&a, N, Duration::from_secs(10));
    for (name, got, track, salt) in [("a->b", &at_b, tb, 1u8), ("b->a", &at_a, ta, 2u8)] {
        assert_eq!(got.len(), N, "{name}: {} of {N} packets arrived", got.len());
        let mut seen = vec![false; N];
        for (t, pkt) in got {
            assert_eq!(*t, track, "{name}: routed to the wrong track");
            let p = rtp_payload(pkt);
            let i = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
            assert_eq!(p, &payload(i, 1200, salt)[..], "{name}: packet {i} differs");
            seen[i] = true;
        }
        assert!(seen.iter().all(|s| *s), "{name}: duplicates instead of some packets");
    }
    assert_eq!(a.stat(wrs_stat::RtpPacketsSent), N as u64);
    assert_eq!(b.stat(wrs_stat::RtpPacketsReceived), N as u64);
    assert_eq!(b.stat(wrs_stat::SrtpUnprotectFailures), 0);
}

#[test]
fn media_both_ways_gcm_answerer_dtls_client() {
    exchange(wrs_srtp_profile::AeadAes128Gcm, wrs_dtls_role::Client);
}

#[test]
fn media_both_ways_aes_cm_answerer_dtls_client() {
    exchange(wrs_srtp_profile::Aes128CmHmacSha1_80, wrs_dtls_role::Client);
}

#[test]
fn media_both_ways_gcm_answerer_dtls_server() {
    exchange(wrs_srtp_profile::AeadAes128Gcm, wrs_dtls_role::Server);
}

#[test]
fn media_both_ways_aes_cm_answerer_dtls_server() {
    exchange(wrs_srtp_profile::Aes128CmHmacSha1_80, wrs_dtls_role::Server);
}

#[test]
fn media_both_ways_aes256_gcm() {
    exchange(wrs_srtp_profile::AeadAes256Gcm, wrs_dtls_role::Auto);
}

#[test]
fn wrong_fingerprint_never_connects() {
    let a = Peer::new(&Options::default());
    let b = Peer::new(&Options::default());
    // Flip one hex digit of the answer's fingerprint.
    let (ta, tb) = negotiate_audio(&a, &b, |answer| {
        let at = answer.find("a=fingerprint:sha-256 ").unwrap() + "a=fingerprint:sha-256 ".len();
        let mut tampered = answer.into_bytes();
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(tampered).unwrap()
    });
    let (sa, _) = pump(&a, &b, Duration::from_secs(10));
    assert_eq!(sa, wrs_connection_state::Failed);
    let reason = a.string(wrs_session_failure_reason).unwrap();
    assert!(reason.contains("fingerprint mismatch"), "{reason}");
    assert_eq!(a.send_media(ta, &[0u8; 160], 0), wrs_result::NotConnected);
    let _ = b.send_media(tb, &[0u8; 160], 0);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(a.stat(wrs_stat::RtpPacketsReceived), 0);
    assert_eq!(b.stat(wrs_stat::RtpPacketsReceived), 0);
    assert!(!a.rx.try_iter().any(|e| matches!(e, Ev::Rtp(..))));
}

#[test]
fn malformed_sdp_is_an_error_and_the_session_still_works() {
    let a = Peer::new(&Options::default());
    let b = Peer::new(&Options::default());
    a.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus, wrs_codec::Pcmu], wrs_direction::SendRecv);
    let offer = a.offer();
    for bad in ["", "v=0\r\nthis is not sdp", &offer.replace("a=ice-ufrag:", "a=ice-ufragx:"), &offer.replace("a=mid:0", "a=mid:")] {
        let r = b.set_remote(wrs_sdp_type::Offer, bad);
        assert_eq!(r, wrs_result::InvalidSdp, "{bad:?}");
        assert!(last_error().starts_with("WRS_RESULT_INVALID_SDP: "), "{}", last_error());
    }
    // Wrong state: an answer while stable.
    assert_eq!(b.set_remote(wrs_sdp_type::Answer, &offer), wrs_result::InvalidState);
    // Unknown track.
    assert_eq!(b.send_media(77, &[1, 2, 3], 0), wrs_result::UnknownTrack);
    // The same session connects afterwards.
    ok(b.set_remote(wrs_sdp_type::Offer, &offer));
    b.add_track(wrs_media_kind::Audio, &[wrs_codec::Pcmu], wrs_direction::SendRecv);
    let answer = b.answer();
    assert!(answer.contains("PCMU/8000"));
    assert!(!answer.contains("opus"), "answer holds only the intersection");
    ok(a.set_remote(wrs_sdp_type::Answer, &answer));
    let (sa, sb) = pump(&a, &b, Duration::from_secs(10));
    assert_eq!((sa, sb), (wrs_connection_state::Connected, wrs_connection_state::Connected));
}

/// The batch form: runs of equal-size packets (GSO) and odd sizes, several tracks, all
/// delivered byte for byte; one bad packet refuses the whole batch.
#[test]
fn batch_send_with_gso() {
    let a = Peer::new(&Options::default());
    let b = Peer::new(&Options::default());
    let ta = a.add_track(wrs_media_kind::Video, &[wrs_codec::Vp8], wrs_direction::SendRecv);
    let tb_audio = a.add_track(wrs_media_kind::Audio, &[wrs_codec::Pcmu], wrs_direction::SendRecv);
    let offer = a.offer();
    ok(b.set_remote(wrs_sdp_type::Offer, &offer));
    b.add_track(wrs_media_kind::Video, &[wrs_codec::Vp8], wrs_direction::SendRecv);
    b.add_track(wrs_media_kind::Audio, &[wrs_codec::Pcmu], wrs_direction::SendRecv);
    let answer = b.answer();
    ok(a.set_remote(wrs_sdp_type::Answer, &answer));
    assert_eq!(pump(&a, &b, Duration::from_secs(10)), (wrs_connection_state::Connected, wrs_connection_state::Connected));
    while b.rx.try_recv().is_ok() {}
    let (mut vpt, mut apt) = (0u8, 0u8);
    ok(wrs_session_track_payload_type(a.s, ta, &mut vpt));
    ok(wrs_session_track_payload_type(a.s, tb_audio, &mut apt));
    // 40 video packets of 1212 bytes, then 10 audio packets of 172, then 5 odd-size video.
    let mut packets: Vec<(u32, Vec<u8>)> = Vec::new();
    for i in 0..55u16 {
        let (track, pt, len) = match i {
            0..=39 => (ta, vpt, 1212),
            40..=49 => (tb_audio, apt, 172),
            _ => (ta, vpt, 300 + i as usize),
        };
        let mut p = vec![0x80, pt, (i >> 8) as u8, i as u8, 0, 0, 0, 0, 0, 0, 0, 0];
        p.extend((12..len).map(|j| (j as u16).wrapping_add(i) as u8));
        packets.push((track, p));
    }
    let list: Vec<wrs_packet> = packets.iter().map(|(t, p)| wrs_packet { track: *t, data: p.as_ptr(), len: p.len() }).collect();
    // One packet with a payload type of the other track: nothing is sent.
    let mut bad = list.iter().map(|p| wrs_packet { track: p.track, data: p.data, len: p.len }).collect::<Vec<_>>();
    bad[45].track = ta;
    assert_eq!(wrs_session_send_rtp_batch(a.s, bad.as_ptr(), bad.len()), wrs_result::PacketRejected);
    assert!(last_error().contains("packet 45"), "{}", last_error());
    ok(wrs_session_send_rtp_batch(a.s, list.as_ptr(), list.len()));
    let got = collect_rtp(&b, 55, Duration::from_secs(5));
    assert_eq!(got.len(), 55);
    let mut by_seq: Vec<(u16, Vec<u8>)> = got.into_iter().map(|(_, p)| (u16::from_be_bytes([p[2], p[3]]), p)).collect();
    by_seq.sort();
    // Each carries the transport-wide number the library added (an 8-byte block), one
    // after the other in batch order.
    let mut transport = Vec::new();
    for ((seq, p), (_, sent)) in by_seq.iter().zip(&packets) {
        assert_eq!(&p[12..14], &[0xBE, 0xDE], "packet {seq} extension");
        assert_eq!(&p[20..], &sent[12..], "packet {seq} payload");
        assert_eq!(p.len(), sent.len() + 8);
        transport.push(u16::from_be_bytes([p[17], p[18]]));
    }
    assert!(transport.windows(2).all(|w| w[1] == w[0].wrapping_add(1)), "{transport:?}");
    assert_eq!(a.stat(wrs_stat::RtpPacketsSent), 55);
}
