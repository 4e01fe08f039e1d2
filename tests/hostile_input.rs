//! Hostile and broken input at the C ABI: a corpus of malformed descriptions, NULL for every
//! pointer argument, fingerprints with other hashes. Every case gets its own error code and a
//! message, and the session stays usable.

mod common;

use std::ffi::{c_char, CString};
use std::ptr;
use std::time::Duration;

use common::*;
use webrtc_session::capi::config::*;
use webrtc_session::capi::session::*;
use webrtc_session::capi::types::*;
use webrtc_session::capi::*;

const CHROME: &str = include_str!("fixtures/chromium_offer.sdp");

/// (what, description): each must be refused with WRS_RESULT_INVALID_SDP.
fn corpus() -> Vec<(&'static str, String)> {
    let c = CHROME.replace("\r\n", "\n").replace('\n', "\r\n");
    let first_m = c.find("m=audio").unwrap();
    let rep = |from: &str, to: &str| {
        assert!(c.contains(from), "corpus mutation needs '{from}'");
        c.replace(from, to)
    };
    let drop_lines = |prefix: &str| c.lines().filter(|l| !l.starts_with(prefix)).collect::<Vec<_>>().join("\r\n") + "\r\n";
    let mut v: Vec<(&'static str, String)> = vec![
        ("empty", String::new()),
        ("whitespace", " \r\n\t\r\n".into()),
        ("only v=0", "v=0\r\n".into()),
        ("not SDP at all", "hello world".into()),
        ("control characters", "\u{1}\u{2}\u{3}v=0\r\n".into()),
        ("truncated before the first m=", c[..first_m].to_string()),
        ("truncated inside an m= line", c[..first_m + 5].to_string()),
        ("no v= line", c.lines().skip(1).collect::<Vec<_>>().join("\r\n")),
        ("m= port not a number", rep("m=audio 41045", "m=audio port")),
        ("m= line without protocol", rep("m=audio 41045 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "m=audio 41045")),
        ("no ice-ufrag", drop_lines("a=ice-ufrag")),
        ("no ice-pwd", drop_lines("a=ice-pwd")),
        ("ice-ufrag too short", rep("a=ice-ufrag:SZsz", "a=ice-ufrag:SZ")),
        ("ice-pwd too short", rep("a=ice-pwd:Fyv2QazDtL6jQvfdE4/5px6/", "a=ice-pwd:short")),
        ("ice-ufrag with bad characters", rep("a=ice-ufrag:SZsz", "a=ice-ufrag:S$z;z")),
        ("ice-ufrag of 300 characters", rep("a=ice-ufrag:SZsz", &format!("a=ice-ufrag:{}", "u".repeat(300)))),
        ("no fingerprint", drop_lines("a=fingerprint")),
        ("fingerprint with md5", rep("a=fingerprint:sha-256", "a=fingerprint:md5")),
        ("fingerprint too short", rep("68:ED:94:1C:B8:89:0A:5A:A2:CE:33:94:47:F5:25:AB:2D:C6:8B:34:09:6D:E4:11:2E:35:E0:95:AB:E9:A9:31", "68:ED:94")),
        ("fingerprint not hex", rep("68:ED:94:1C", "68:XD:94:1C")),
        ("fingerprint without value", rep("a=fingerprint:sha-256 68:ED:94:1C:B8:89:0A:5A:A2:CE:33:94:47:F5:25:AB:2D:C6:8B:34:09:6D:E4:11:2E:35:E0:95:AB:E9:A9:31", "a=fingerprint:sha-256")),
        ("fingerprint of 100 KB", rep("68:ED:94:1C", &"AB:".repeat(33_000))),
        ("no setup", drop_lines("a=setup")),
        ("setup value unknown", rep("a=setup:actpass", "a=setup:both")),
        ("duplicate mid", rep("a=mid:1", "a=mid:0")),
        ("m-section without mid", drop_lines("a=mid:1")),
        ("empty mid", rep("a=mid:1", "a=mid:")),
        ("mid of 1000 characters", rep("a=mid:1", &format!("a=mid:{}", "m".repeat(1000)))),
        ("BUNDLE names an unknown mid", rep("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1 2 9")),
        ("BUNDLE leaves a section out", rep("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 2")),
        ("no BUNDLE group for three sections", drop_lines("a=group:BUNDLE")),
        ("rtpmap without clock rate", rep("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus")),
        ("rtpmap payload type not a number", rep("a=rtpmap:111 opus/48000/2", "a=rtpmap:abc opus/48000/2")),
        ("rtpmap payload type 200", rep("a=rtpmap:111 opus/48000/2", "a=rtpmap:200 opus/48000/2")),
        ("rtpmap clock rate 0", rep("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/0/2")),
        ("rtpmap with four fields", rep("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/48000/2/7")),
        ("rtpmap with 0 channels", rep("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/48000/0")),
        ("rtpmap clock rate huge", rep("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/99999999999999/2")),
        ("rtpmap without encoding", rep("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 /48000/2")),
        ("rtpmap without space", rep("a=rtpmap:111 opus/48000/2", "a=rtpmap:111opus/48000/2")),
        ("fmtp payload type not a number", rep("a=fmtp:111 minptime", "a=fmtp:x minptime")),
        ("m= format 300", rep("UDP/TLS/RTP/SAVPF 111 63", "UDP/TLS/RTP/SAVPF 300 63")),
        ("m= format not a number", rep("UDP/TLS/RTP/SAVPF 111 63", "UDP/TLS/RTP/SAVPF abc 63")),
        ("extmap id 0", rep("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=extmap:0 urn:ietf:params:rtp-hdrext:ssrc-audio-level")),
        ("extmap id 300", rep("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=extmap:300 urn:ietf:params:rtp-hdrext:ssrc-audio-level")),
        ("extmap without URI", rep("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=extmap:1")),
        ("ssrc not a number", rep("a=ssrc:659595565 cname", "a=ssrc:abc cname")),
        ("ssrc beyond 32 bits", rep("a=ssrc:659595565 cname", "a=ssrc:99999999999 cname")),
        ("ssrc-group with a bad SSRC", rep("a=ssrc-group:FID 3760847509 2996723389", "a=ssrc-group:FID 3760847509 x")),
        ("no rtcp-mux", drop_lines("a=rtcp-mux")),
        ("two direction attributes", rep("a=mid:0\r\n", "a=mid:0\r\na=recvonly\r\n")),
        ("plain RTP/AVP, no SRTP", c.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP")),
        ("every section rejected", c.replace("m=audio 41045", "m=audio 0").replace("m=video 47627", "m=video 0").replace("m=application 41338", "m=application 0")),
        ("300 KB description", format!("{c}{}", "a=x-filler:0123456789012345678901234567890123456789\r\n".repeat(6000))),
        ("o= line with missing fields", rep("o=- 7283194661124801741 2 IN IP4 127.0.0.1", "o=-")),
    ];
    v.sort_by_key(|(what, _)| *what);
    v
}

fn session() -> *mut wrs_session {
    let mut cfg = ptr::null_mut();
    ok(wrs_config_new(&mut cfg));
    ok(wrs_config_add_local_address(cfg, c"127.0.0.1".as_ptr()));
    let mut s = ptr::null_mut();
    ok(wrs_session_new(cfg, &mut s));
    wrs_config_free(cfg);
    s
}

#[test]
fn malformed_description_corpus_is_refused_and_the_session_still_works() {
    let cases = corpus();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let p = Peer::new(&Options::default());
    let mut accepted = vec![];
    for (what, text) in &cases {
        let c = CString::new(text.as_str()).unwrap();
        let r = wrs_session_set_remote_description(p.s, wrs_sdp_type::Offer as u32, c.as_ptr());
        if r != wrs_result::InvalidSdp {
            accepted.push(format!("{what}: {r:?} {}", last_error()));
            continue;
        }
        let msg = last_error();
        assert!(msg.starts_with("WRS_RESULT_INVALID_SDP: ") && msg.len() > 30, "{what}: {msg}");
        let mut st = wrs_signaling_state::Closed;
        ok(wrs_session_signaling_state(p.s, &mut st));
        assert_eq!(st, wrs_signaling_state::Stable, "{what} changed the state");
    }
    assert!(accepted.is_empty(), "accepted or wrong code:\n{}", accepted.join("\n"));
    // Not UTF-8: its own code.
    let mut bytes = CHROME.as_bytes().to_vec();
    bytes[40] = 0xC3;
    bytes[41] = 0x28;
    bytes.push(0);
    assert_eq!(
        wrs_session_set_remote_description(p.s, 0, bytes.as_ptr() as *const c_char),
        wrs_result::InvalidUtf8
    );
    // After all that, the same session answers a real offer and connects.
    let a = Peer::new(&Options::default());
    a.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus], wrs_direction::SendRecv);
    p.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus], wrs_direction::SendRecv);
    let offer = a.offer();
    ok(p.set_remote(wrs_sdp_type::Offer, &offer));
    let answer = p.answer();
    ok(a.set_remote(wrs_sdp_type::Answer, &answer));
    assert_eq!(pump(&a, &p, Duration::from_secs(10)), (wrs_connection_state::Connected, wrs_connection_state::Connected));
}

#[test]
fn null_for_every_pointer_argument() {
    let s = session();
    let mut out_str: *mut c_char = ptr::null_mut();
    let mut out_u32 = 0u32;
    let codecs = [wrs_codec::Opus as u32];
    let n = ptr::null_mut::<wrs_session>();
    let nc = ptr::null_mut::<wrs_config>();
    let mut cfg = ptr::null_mut();
    ok(wrs_config_new(&mut cfg));
    let cases: Vec<(&str, wrs_result)> = vec![
        ("config_new out", wrs_config_new(ptr::null_mut())),
        ("config_add_ice_server cfg", wrs_config_add_ice_server(nc, c"stun:x".as_ptr())),
        ("config_add_ice_server url", wrs_config_add_ice_server(cfg, ptr::null())),
        ("config_add_local_address cfg", wrs_config_add_local_address(nc, c"127.0.0.1".as_ptr())),
        ("config_add_local_address ip", wrs_config_add_local_address(cfg, ptr::null())),
        ("config_set_port_range cfg", wrs_config_set_port_range(nc, 0, 0)),
        ("config_set_certificate_pem_files cfg", wrs_config_set_certificate_pem_files(nc, c"a".as_ptr(), c"b".as_ptr())),
        ("config_set_certificate_pem_files cert", wrs_config_set_certificate_pem_files(cfg, ptr::null(), c"b".as_ptr())),
        ("config_set_certificate_pem_files key", wrs_config_set_certificate_pem_files(cfg, c"a".as_ptr(), ptr::null())),
        ("config_set_certificate_pem cert", wrs_config_set_certificate_pem(cfg, ptr::null(), c"b".as_ptr())),
        ("config_set_certificate_pem key", wrs_config_set_certificate_pem(cfg, c"a".as_ptr(), ptr::null())),
        ("config_set_srtp_profiles cfg", wrs_config_set_srtp_profiles(nc, [1u32].as_ptr(), 1)),
        ("config_set_srtp_profiles list", wrs_config_set_srtp_profiles(cfg, ptr::null(), 1)),
        ("config_set_dtls_role cfg", wrs_config_set_dtls_role(nc, 0)),
        ("config_set_ice_timeouts cfg", wrs_config_set_ice_timeouts(nc, 1, 2, 3)),
        ("session_new out", wrs_session_new(ptr::null(), ptr::null_mut())),
        ("session_close", wrs_session_close(n)),
        ("add_track session", wrs_session_add_track(n, 0, codecs.as_ptr(), 1, 0, &mut out_u32)),
        ("add_track codecs", wrs_session_add_track(s, 0, ptr::null(), 1, 0, &mut out_u32)),
        ("add_track out", wrs_session_add_track(s, 0, codecs.as_ptr(), 1, 0, ptr::null_mut())),
        ("create_offer session", wrs_session_create_offer(n, &mut out_str)),
        ("create_offer out", wrs_session_create_offer(s, ptr::null_mut())),
        ("create_answer out", wrs_session_create_answer(s, ptr::null_mut())),
        ("set_local_description session", wrs_session_set_local_description(n, 0, ptr::null())),
        ("set_remote_description session", wrs_session_set_remote_description(n, 0, c"v=0".as_ptr())),
        ("set_remote_description sdp", wrs_session_set_remote_description(s, 0, ptr::null())),
        ("local_description out", wrs_session_local_description(s, ptr::null_mut())),
        ("remote_description out", wrs_session_remote_description(s, ptr::null_mut())),
        ("add_remote_candidate session", wrs_session_add_remote_candidate(n, ptr::null())),
        ("send_rtp session", wrs_session_send_rtp(n, 1, [0u8].as_ptr(), 1)),
        ("send_rtp packet", wrs_session_send_rtp(s, 1, ptr::null(), 12)),
        ("send_media session", wrs_session_send_media(n, 1, [0u8].as_ptr(), 1, 0, false)),
        ("send_media payload", wrs_session_send_media(s, 1, ptr::null(), 12, 0, false)),
        ("send_rtcp session", wrs_session_send_rtcp(n, [0u8].as_ptr(), 1)),
        ("send_rtcp packet", wrs_session_send_rtcp(s, ptr::null(), 8)),
        ("on_rtp session", wrs_session_on_rtp(n, None, ptr::null_mut())),
        ("on_rtcp session", wrs_session_on_rtcp(n, None, ptr::null_mut())),
        ("on_ice_candidate session", wrs_session_on_ice_candidate(n, None, ptr::null_mut())),
        ("on_connection_state session", wrs_session_on_connection_state(n, None, ptr::null_mut())),
        ("on_ice_state session", wrs_session_on_ice_state(n, None, ptr::null_mut())),
        ("on_gathering_state session", wrs_session_on_gathering_state(n, None, ptr::null_mut())),
        ("on_signaling_state session", wrs_session_on_signaling_state(n, None, ptr::null_mut())),
        ("on_track session", wrs_session_on_track(n, None, ptr::null_mut())),
        ("connection_state out", wrs_session_connection_state(s, ptr::null_mut())),
        ("connection_state session", wrs_session_connection_state(n, &mut wrs_connection_state::New)),
        ("ice_state out", wrs_session_ice_state(s, ptr::null_mut())),
        ("gathering_state out", wrs_session_gathering_state(s, ptr::null_mut())),
        ("signaling_state out", wrs_session_signaling_state(s, ptr::null_mut())),
        ("failure_reason out", wrs_session_failure_reason(s, ptr::null_mut())),
        ("selected_candidate_pair local", wrs_session_selected_candidate_pair(s, ptr::null_mut(), &mut out_str)),
        ("selected_candidate_pair remote", wrs_session_selected_candidate_pair(s, &mut out_str, ptr::null_mut())),
        ("local_fingerprint out", wrs_session_local_fingerprint(s, ptr::null_mut())),
        ("remote_fingerprint out", wrs_session_remote_fingerprint(s, ptr::null_mut())),
        ("dtls_version out", wrs_session_dtls_version(s, ptr::null_mut())),
        ("srtp_profile out", wrs_session_srtp_profile(s, ptr::null_mut())),
        ("dtls_role out", wrs_session_dtls_role(s, ptr::null_mut())),
        ("track_mid out", wrs_session_track_mid(s, 1, ptr::null_mut())),
        ("track_ssrc out", wrs_session_track_ssrc(s, 1, ptr::null_mut())),
        ("track_payload_type out", wrs_session_track_payload_type(s, 1, ptr::null_mut())),
        ("track_codec out", wrs_session_track_codec(s, 1, ptr::null_mut(), ptr::null_mut(), ptr::null_mut())),
        ("stat out", wrs_session_stat(s, 0, ptr::null_mut())),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(_, r)| *r != wrs_result::NullArgument)
        .map(|(what, r)| format!("{what}: {r:?}"))
        .collect();
    assert!(wrong.is_empty(), "not WRS_RESULT_NULL_ARGUMENT:\n{}", wrong.join("\n"));
    assert!(out_str.is_null() && out_u32 == 0, "nothing written on error");
    // NULL where the API allows it: defaults, unregister, end-of-candidates, frees.
    ok(wrs_session_on_rtp(s, None, ptr::null_mut()));
    wrs_session_free(ptr::null_mut());
    wrs_config_free(ptr::null_mut());
    wrs_string_free(ptr::null_mut());
    wrs_config_free(cfg);
    wrs_session_free(s);
}

/// Fingerprints with other hashes than sha-256 are verified with that hash (here: the right
/// certificate announced as sha-1, sha-384 and sha-512 connects).
#[test]
fn fingerprints_with_other_hashes_are_supported() {
    use webrtc_session::cert::{Certificate, Fingerprint, HashAlgorithm};
    for algo in [HashAlgorithm::Sha1, HashAlgorithm::Sha384, HashAlgorithm::Sha512] {
        let cert = Certificate::generate().unwrap();
        let mut cfg = ptr::null_mut();
        ok(wrs_config_new(&mut cfg));
        ok(wrs_config_add_local_address(cfg, c"127.0.0.1".as_ptr()));
        let (cp, kp) = (
            CString::new(cert.cert.to_pem().unwrap()).unwrap(),
            CString::new(cert.key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
        );
        ok(wrs_config_set_certificate_pem(cfg, cp.as_ptr(), kp.as_ptr()));
        let a = Peer::new(&Options::default());
        let b = Peer::new(&Options::default());
        // Replace b's session by one with the known certificate.
        let mut s = ptr::null_mut();
        ok(wrs_session_new(cfg, &mut s));
        wrs_config_free(cfg);
        let b = Peer::adopt(b, s);
        a.add_track(wrs_media_kind::Audio, &[wrs_codec::Pcmu], wrs_direction::SendRecv);
        let offer = a.offer();
        ok(b.set_remote(wrs_sdp_type::Offer, &offer));
        b.add_track(wrs_media_kind::Audio, &[wrs_codec::Pcmu], wrs_direction::SendRecv);
        let answer = b.answer();
        let line = answer.lines().find(|l| l.starts_with("a=fingerprint:")).unwrap().to_string();
        let other = format!("a=fingerprint:{}", Fingerprint::of(&cert.cert, algo).unwrap());
        ok(a.set_remote(wrs_sdp_type::Answer, &answer.replace(&line, &other)));
        assert_eq!(pump(&a, &b, Duration::from_secs(10)).0, wrs_connection_state::Connected, "{algo:?}");
    }
}
