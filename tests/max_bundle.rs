//! max-bundle (RFC 8843 §6, JSEP): sections offered as `port 0` + `a=bundle-only` are
//! accepted into the BUNDLE group, not rejected. The offers Firefox (`bundlePolicy:
//! "max-bundle"`) and GStreamer webrtcbin (its default) really send are answered with every
//! section accepted, and between two library sessions a max-bundle offer carries media on
//! every section.

mod common;

use std::ffi::CString;
use std::ptr;
use std::time::Duration;

use common::*;
use webrtc_session::capi::config::*;
use webrtc_session::capi::session::*;
use webrtc_session::capi::types::*;
use webrtc_session::capi::*;

fn sections(sdp: &str) -> Vec<&str> {
    sdp.lines().filter(|l| l.starts_with("m=")).collect()
}

/// Answers `offer` with an audio and a video track; checks every section is accepted into the
/// bundle with its own transport attributes; returns the answer.
fn answer_all_accepted(offer: &str, video: &[wrs_codec], audio: &[wrs_codec]) -> String {
    let p = Peer::new(&Options::default());
    ok(p.set_remote(wrs_sdp_type::Offer, offer));
    p.add_track(wrs_media_kind::Audio, audio, wrs_direction::SendRecv);
    p.add_track(wrs_media_kind::Video, video, wrs_direction::SendRecv);
    let answer = p.answer();
    let tracks: Vec<String> = p.rx.try_iter().filter_map(|e| if let Ev::Track(_, m) = e { Some(m) } else { None }).collect();
    let m = sections(&answer);
    assert_eq!(m.len(), sections(offer).len(), "{answer}");
    assert!(m.iter().all(|l| !l.split_whitespace().nth(1).is_some_and(|port| port == "0")), "a section was rejected: {answer}");
    let fingerprints = answer.lines().filter(|l| l.starts_with("a=fingerprint:")).count();
    assert_eq!(fingerprints, m.len(), "every section carries the fingerprint (webrtcbin requires it)");
    assert!(!answer.contains("a=bundle-only"), "an answer never says bundle-only (RFC 8843 §7.3.1)");
    assert_eq!(tracks.len(), 2, "both remote tracks announced: {tracks:?}");
    answer
}

#[test]
fn firefox_max_bundle_offer_is_answered_with_every_section() {
    let offer = include_str!("fixtures/firefox_max_bundle_offer.sdp");
    let answer = answer_all_accepted(offer, &[wrs_codec::Vp8], &[wrs_codec::Opus]);
    assert!(answer.contains("a=group:BUNDLE 0 1"), "{answer}");
    assert!(answer.contains("m=video 9 UDP/TLS/RTP/SAVPF 120"), "{answer}");
}

#[test]
fn webrtcbin_max_bundle_offer_is_answered_with_every_section() {
    let offer = include_str!("fixtures/webrtcbin_max_bundle_offer.sdp");
    let answer = answer_all_accepted(offer, &[wrs_codec::Vp8], &[wrs_codec::Opus]);
    assert!(answer.contains("a=group:BUNDLE video0 audio1"), "{answer}");
    assert!(answer.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111"), "{answer}");
}

/// Our own max-bundle offer (`wrs_config_set_bundle_policy`), answered by another session:
/// media on the audio and on the bundle-only video section, both ways.
#[test]
fn max_bundle_offer_carries_media_on_every_section() {
    let mut cfg = ptr::null_mut();
    ok(wrs_config_new(&mut cfg));
    let ip = CString::new("127.0.0.1").unwrap();
    ok(wrs_config_add_local_address(cfg, ip.as_ptr()));
    assert_eq!(wrs_config_set_bundle_policy(cfg, 7), wrs_result::InvalidArgument);
    ok(wrs_config_set_bundle_policy(cfg, wrs_bundle_policy::MaxBundle as u32));
    let mut s = ptr::null_mut();
    ok(wrs_session_new(cfg, &mut s));
    wrs_config_free(cfg);
    let a = Peer::adopt(Peer::new(&Options::default()), s);
    let b = Peer::new(&Options::default());
    let audio_a = a.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus], wrs_direction::SendRecv);
    let video_a = a.add_track(wrs_media_kind::Video, &[wrs_codec::Vp8], wrs_direction::SendRecv);
    let offer = a.offer();
    let m = sections(&offer);
    assert!(m[0].starts_with("m=audio 9 ") && m[1].starts_with("m=video 0 "), "{offer}");
    assert_eq!(offer.matches("a=bundle-only").count(), 1, "{offer}");
    ok(b.set_remote(wrs_sdp_type::Offer, &offer));
    let audio_b = b.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus], wrs_direction::SendRecv);
    let video_b = b.add_track(wrs_media_kind::Video, &[wrs_codec::Vp8], wrs_direction::SendRecv);
    let answer = b.answer();
    ok(a.set_remote(wrs_sdp_type::Answer, &answer));
    let (sa, sb) = pump(&a, &b, Duration::from_secs(10));
    assert_eq!((sa, sb), (wrs_connection_state::Connected, wrs_connection_state::Connected));
    for i in 0..10u32 {
        ok(a.send_media(audio_a, &[1; 100], i * 960));
        ok(a.send_media(video_a, &[2; 900], i * 3000));
        ok(b.send_media(audio_b, &[3; 100], i * 960));
        ok(b.send_media(video_b, &[4; 900], i * 3000));
    }
    for (p, audio, video) in [(&b, audio_b, video_b), (&a, audio_a, video_a)] {
        let got = collect_rtp(p, 20, Duration::from_secs(5));
        let on = |t: u32| got.iter().filter(|(track, _)| *track == t).count();
        assert_eq!((on(audio), on(video)), (10, 10), "packets per section");
    }
}
