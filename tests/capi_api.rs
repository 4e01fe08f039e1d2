//! The C ABI's contract beyond the happy path: argument checking, configuration, callbacks,
//! answering a real Chrome offer, RTCP, rollback, and the free/callback guarantee.

mod common;

use std::ffi::{c_char, c_void, CString};
use std::net::UdpSocket;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use webrtc_session::capi::config::*;
use webrtc_session::capi::session::*;
use webrtc_session::capi::types::*;
use webrtc_session::capi::*;
use webrtc_session::ice::stun;

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

#[test]
fn null_utf8_enum_and_handle_errors_have_their_own_codes() {
    let mut s = ptr::null_mut();
    assert_eq!(wrs_session_new(ptr::null(), ptr::null_mut()), wrs_result::NullArgument);
    ok(wrs_session_new(ptr::null(), &mut s));
    let bad_utf8 = [0xffu8, 0xfe, 0];
    assert_eq!(
        wrs_session_set_remote_description(s, wrs_sdp_type::Offer as u32, bad_utf8.as_ptr() as *const c_char),
        wrs_result::InvalidUtf8
    );
    assert!(last_error().contains("UTF-8"), "{}", last_error());
    assert_eq!(wrs_session_set_remote_description(s, wrs_sdp_type::Offer as u32, ptr::null()), wrs_result::NullArgument);
    assert_eq!(wrs_session_set_remote_description(s, 9, cstr("v=0").as_ptr()), wrs_result::InvalidArgument);
    let codecs = [wrs_codec::Vp8 as u32];
    let mut id = 0;
    assert_eq!(wrs_session_add_track(s, 5, codecs.as_ptr(), 1, 0, &mut id), wrs_result::InvalidArgument);
    assert_eq!(wrs_session_add_track(s, 0, codecs.as_ptr(), 1, 0, &mut id), wrs_result::InvalidArgument, "VP8 on audio");
    assert!(last_error().contains("VP8"), "{}", last_error());
    assert_eq!(wrs_session_add_track(s, 1, ptr::null(), 1, 0, &mut id), wrs_result::NullArgument);
    assert_eq!(wrs_session_add_track(s, 1, [99u32].as_ptr(), 1, 0, &mut id), wrs_result::InvalidArgument);
    assert_eq!(wrs_session_send_media(s, 1, ptr::null(), 10, 0, false), wrs_result::NullArgument);
    assert_eq!(wrs_session_send_media(s, 42, [0u8].as_ptr(), 1, 0, false), wrs_result::UnknownTrack);
    let mut out = ptr::null_mut();
    assert_eq!(wrs_session_create_answer(s, &mut out), wrs_result::InvalidState);
    assert!(out.is_null(), "out-pointers are written only on success");
    assert_eq!(wrs_session_create_offer(s, &mut out), wrs_result::InvalidState, "no track yet");
    assert_eq!(wrs_session_local_description(s, &mut out), wrs_result::NotAvailable);
    assert_eq!(wrs_session_add_remote_candidate(s, cstr("candidate:1 1 udp 1 127.0.0.1 9 typ host").as_ptr()), wrs_result::InvalidState);
    assert_eq!(wrs_session_stat(s, 1000, &mut 0u64), wrs_result::InvalidArgument);
    // The last error is per thread and cleared by the next successful call.
    let mut st = wrs_signaling_state::Closed;
    ok(wrs_session_signaling_state(s, &mut st));
    assert_eq!(st, wrs_signaling_state::Stable);
    assert_eq!(last_error(), "");
    wrs_session_free(s);
    // A freed handle is detected, not dereferenced.
    assert_eq!(wrs_session_close(s), wrs_result::InvalidHandle);
    assert_eq!(wrs_session_signaling_state(s, &mut st), wrs_result::InvalidHandle);
    wrs_session_free(s); // double free is ignored
    wrs_session_free(ptr::null_mut());
    wrs_config_free(ptr::null_mut());
    wrs_string_free(ptr::null_mut());
    let name = unsafe { std::ffi::CStr::from_ptr(wrs_result_name(wrs_result::InvalidSdp as i32)) };
    assert_eq!(name.to_str().unwrap(), "WRS_RESULT_INVALID_SDP");
}

#[test]
fn config_is_validated() {
    let mut cfg = ptr::null_mut();
    ok(wrs_config_new(&mut cfg));
    assert_eq!(wrs_config_add_local_address(cfg, cstr("not-an-ip").as_ptr()), wrs_result::InvalidArgument);
    assert_eq!(wrs_config_add_ice_server(cfg, cstr("turn:example.org").as_ptr()), wrs_result::InvalidArgument);
    assert_eq!(wrs_config_set_port_range(cfg, 5000, 4000), wrs_result::InvalidArgument);
    assert_eq!(wrs_config_set_srtp_profiles(cfg, [2u32].as_ptr(), 1), wrs_result::InvalidArgument);
    assert_eq!(wrs_config_set_srtp_profiles(cfg, ptr::null(), 0), wrs_result::InvalidArgument);
    assert_eq!(wrs_config_set_dtls_role(cfg, 3), wrs_result::InvalidArgument);
    assert_eq!(wrs_config_set_ice_timeouts(cfg, 10_000, 5_000, 1000), wrs_result::InvalidArgument);
    assert_eq!(
        wrs_config_set_certificate_pem_files(cfg, cstr("/nonexistent.pem").as_ptr(), cstr("/nonexistent.key").as_ptr()),
        wrs_result::Io
    );
    assert_eq!(wrs_config_set_certificate_pem(cfg, cstr("junk").as_ptr(), cstr("junk").as_ptr()), wrs_result::Crypto);
    wrs_config_free(cfg);
    assert_eq!(wrs_config_set_port_range(cfg, 1, 2), wrs_result::InvalidHandle);
}

unsafe extern "C" fn push_candidate(ud: *mut c_void, c: *const c_char, _mid: *const c_char) {
    let v = &*(ud as *const parking_lot::Mutex<Vec<String>>);
    v.lock().push(std::ffi::CStr::from_ptr(c).to_string_lossy().into_owned());
}

/// A one-shot STUN server on loopback answers the session's Binding request; the session
/// reports a server-reflexive candidate on its port-range socket, and signs with the PEM
/// certificate it was given.
#[test]
fn stun_server_port_range_and_pem_certificate() {
    // Two STUN servers: one behind no NAT (it reports the base itself: redundant, RFC 8445
    // §5.1.3, not signalled) and one that reports another address, as a NAT would.
    let answered = Arc::new(AtomicUsize::new(0));
    let mut servers = Vec::new();
    for nat in [None, Some(std::net::IpAddr::from([127, 0, 0, 9]))] {
        let stun_server = UdpSocket::bind("127.0.0.1:0").unwrap();
        servers.push(stun_server.local_addr().unwrap());
        let counter = Arc::clone(&answered);
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            stun_server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            while let Ok((n, from)) = stun_server.recv_from(&mut buf) {
                if stun::is_binding_request(&buf[..n]) {
                    let id = stun::transaction_id(&buf[..n]).unwrap();
                    let mapped = nat.map(|ip| std::net::SocketAddr::new(ip, from.port())).unwrap_or(from);
                    stun_server.send_to(&stun::binding_success(&id, mapped), from).unwrap();
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
    }

    let cert = webrtc_session::cert::Certificate::generate().unwrap();
    let dir = std::env::temp_dir().join(format!("wrs-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cp, kp) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cp, cert.cert.to_pem().unwrap()).unwrap();
    std::fs::write(&kp, cert.key.private_key_to_pem_pkcs8().unwrap()).unwrap();

    let mut cfg = ptr::null_mut();
    ok(wrs_config_new(&mut cfg));
    ok(wrs_config_add_local_address(cfg, cstr("127.0.0.1").as_ptr()));
    ok(wrs_config_add_ice_server(cfg, cstr(&format!("stun:{}", servers[0])).as_ptr()));
    ok(wrs_config_add_ice_server(cfg, cstr(&format!("stun:{}?transport=udp", servers[1])).as_ptr()));
    ok(wrs_config_set_port_range(cfg, 41000, 41099));
    ok(wrs_config_set_certificate_pem_files(cfg, cstr(cp.to_str().unwrap()).as_ptr(), cstr(kp.to_str().unwrap()).as_ptr()));
    let mut s = ptr::null_mut();
    ok(wrs_session_new(cfg, &mut s));
    wrs_config_free(cfg);
    let _ = std::fs::remove_dir_all(&dir);
    let candidates = Box::new(parking_lot::Mutex::new(Vec::<String>::new()));
    ok(wrs_session_on_ice_candidate(s, Some(push_candidate), &*candidates as *const _ as *mut c_void));
    let mut id = 0;
    ok(wrs_session_add_track(s, 0, [wrs_codec::Opus as u32].as_ptr(), 1, 0, &mut id));
    let mut offer = ptr::null_mut();
    ok(wrs_session_create_offer(s, &mut offer));
    ok(wrs_session_set_local_description(s, 0, offer));
    wrs_string_free(offer);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut g = wrs_gathering_state::New;
    while g != wrs_gathering_state::Complete && Instant::now() < deadline {
        ok(wrs_session_gathering_state(s, &mut g));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(g, wrs_gathering_state::Complete);
    let got = candidates.lock().clone();
    let host = got.iter().find(|c| c.contains("typ host")).expect("a host candidate");
    let srflx = got.iter().find(|c| c.contains("typ srflx")).unwrap_or_else(|| panic!("no srflx in {got:?}"));
    let port: u16 = host.split_whitespace().nth(5).unwrap().parse().unwrap();
    assert!((41000..=41099).contains(&port), "{host}");
    assert!(srflx.contains(&format!("127.0.0.9 {port} typ srflx raddr 127.0.0.1 rport {port}")), "{srflx}");
    assert_eq!(got.iter().filter(|c| c.contains("typ srflx")).count(), 1, "the base is not signalled as srflx: {got:?}");
    assert_eq!(answered.load(Ordering::SeqCst), 2);
    // Both are in the complete local description, with end-of-candidates.
    let mut local = ptr::null_mut();
    ok(wrs_session_local_description(s, &mut local));
    let local = take_string(local);
    assert!(local.contains("typ srflx") && local.contains("typ host") && local.contains("a=end-of-candidates"));
    let mut fp = ptr::null_mut();
    ok(wrs_session_local_fingerprint(s, &mut fp));
    assert_eq!(take_string(fp), cert.fingerprint().to_string());
    wrs_session_free(s);
}

#[test]
fn answers_a_real_chrome_offer_with_the_intersection() {
    let offer = include_str!("fixtures/chromium_offer.sdp");
    let p = Peer::new(&Options::default());
    ok(p.set_remote(wrs_sdp_type::Offer, offer));
    let tracks: Vec<(u32, String)> = p.rx.try_iter().filter_map(|e| if let Ev::Track(t, m) = e { Some((t, m)) } else { None }).collect();
    assert!(tracks.is_empty(), "tracks are announced when negotiation completes");
    let audio = p.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus, wrs_codec::Pcmu], wrs_direction::SendRecv);
    let video = p.add_track(wrs_media_kind::Video, &[wrs_codec::H264, wrs_codec::Vp8], wrs_direction::SendRecv);
    let answer = p.answer();
    let lines: Vec<&str> = answer.lines().collect();
    assert!(lines.contains(&"a=group:BUNDLE 0 1 2"), "{answer}");
    assert!(lines.contains(&"m=audio 9 UDP/TLS/RTP/SAVPF 111 0"), "{answer}");
    // H264 first (our preference), answered with Chrome's payload type for pm=1 baseline.
    // Each with the RTX format Chrome offered for it (apt=), which the library answers.
    assert!(lines.contains(&"m=video 9 UDP/TLS/RTP/SAVPF 102 103 96 97"), "{answer}");
    assert!(lines.contains(&"a=rtpmap:103 rtx/90000") && lines.contains(&"a=fmtp:103 apt=102"), "{answer}");
    assert!(lines.iter().any(|l| l.starts_with("a=ssrc-group:FID ")), "{answer}");
    assert!(lines.contains(&"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"));
    // The data section is accepted (RFC 8841): SCTP port 5000, our max-message-size.
    assert!(lines.contains(&"m=application 9 UDP/DTLS/SCTP webrtc-datachannel"), "data channel accepted: {answer}");
    assert!(lines.contains(&"a=sctp-port:5000") && lines.contains(&"a=max-message-size:262144"), "{answer}");
    assert!(lines.contains(&"a=setup:active"));
    assert!(lines.contains(&"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid"));
    // Transport-wide feedback: Chrome's extension id and `transport-cc` on every codec.
    assert!(lines.contains(&"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"), "{answer}");
    assert!(lines.contains(&"a=rtcp-fb:102 transport-cc") && lines.contains(&"a=rtcp-fb:111 transport-cc"), "{answer}");
    // RTCP feedback: generic NACK, keyframe requests and REMB on video (what the library
    // answers or reads), nothing else on audio.
    assert!(lines.contains(&"a=rtcp-fb:102 nack pli") && lines.contains(&"a=rtcp-fb:102 ccm fir"), "{answer}");
    assert!(lines.contains(&"a=rtcp-fb:102 nack") && lines.contains(&"a=rtcp-fb:102 goog-remb"), "{answer}");
    assert!(!lines.iter().any(|l| l.starts_with("a=rtcp-fb:111") && !l.ends_with("transport-cc")), "{answer}");
    let offerer = Peer::new(&Options::default());
    offerer.add_track(wrs_media_kind::Video, &[wrs_codec::Vp8, wrs_codec::H264], wrs_direction::SendRecv);
    let offer = offerer.offer();
    assert!(offer.lines().any(|l| l == "a=rtcp-fb:96 nack pli") && offer.lines().any(|l| l == "a=rtcp-fb:96 nack"), "{offer}");
    assert!(offer.lines().any(|l| l == "a=fmtp:97 apt=96") && offer.lines().any(|l| l == "a=fmtp:109 apt=108"), "{offer}");
    assert!(offer.lines().any(|l| l == "a=rtcp-fb:96 transport-cc"), "{offer}");
    // Switched off, neither NACK nor RTX is offered.
    let quiet = Peer::new(&Options { nack: false, ..Options::default() });
    quiet.add_track(wrs_media_kind::Video, &[wrs_codec::Vp8], wrs_direction::SendRecv);
    let offer = quiet.offer();
    assert!(!offer.contains("rtx") && !offer.lines().any(|l| l == "a=rtcp-fb:96 nack") && !offer.contains("FID"), "{offer}");
    assert!(offer.lines().any(|l| l == "a=rtcp-fb:96 nack pli"), "{offer}");
    let mut mid = ptr::null_mut();
    ok(wrs_session_track_mid(p.s, video, &mut mid));
    assert_eq!(take_string(mid), "1");
    let mut pt = 0u8;
    ok(wrs_session_track_payload_type(p.s, audio, &mut pt));
    assert_eq!(pt, 111);
    // The negotiated codec, payload type and clock rate, without parsing SDP.
    let (mut codec, mut cpt, mut clock) = (wrs_codec::Pcmu, 0u8, 0u32);
    ok(wrs_session_track_codec(p.s, audio, &mut codec, &mut cpt, &mut clock));
    assert_eq!((codec, cpt, clock), (wrs_codec::Opus, 111, 48_000));
    ok(wrs_session_track_codec(p.s, video, &mut codec, &mut cpt, &mut clock));
    assert_eq!(clock, 90_000);
    assert!(matches!(codec, wrs_codec::Vp8 | wrs_codec::H264 | wrs_codec::Vp9 | wrs_codec::Av1));
    assert_eq!(wrs_session_track_codec(p.s, 999, &mut codec, &mut cpt, &mut clock), wrs_result::UnknownTrack);
    let fresh = Peer::new(&Options::default());
    let t = fresh.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus], wrs_direction::SendRecv);
    assert_eq!(wrs_session_track_codec(fresh.s, t, &mut codec, &mut cpt, &mut clock), wrs_result::NotAvailable);
    let announced: Vec<(u32, String)> = p.rx.try_iter().filter_map(|e| if let Ev::Track(t, m) = e { Some((t, m)) } else { None }).collect();
    assert_eq!(announced, vec![(audio, "0".to_string()), (video, "1".to_string())]);
}

#[test]
fn rollback_restores_stable() {
    let a = Peer::new(&Options::default());
    a.add_track(wrs_media_kind::Audio, &[wrs_codec::Pcmu], wrs_direction::SendRecv);
    let offer = a.offer();
    let mut st = wrs_signaling_state::Stable;
    ok(wrs_session_signaling_state(a.s, &mut st));
    assert_eq!(st, wrs_signaling_state::HaveLocalOffer);
    ok(wrs_session_set_local_description(a.s, wrs_sdp_type::Rollback as u32, ptr::null()));
    ok(wrs_session_signaling_state(a.s, &mut st));
    assert_eq!(st, wrs_signaling_state::Stable);
    let b = Peer::new(&Options::default());
    ok(b.set_remote(wrs_sdp_type::Offer, &offer));
    ok(wrs_session_set_remote_description(b.s, wrs_sdp_type::Rollback as u32, ptr::null()));
    ok(wrs_session_signaling_state(b.s, &mut st));
    assert_eq!(st, wrs_signaling_state::Stable);
    assert_eq!(wrs_session_set_remote_description(b.s, wrs_sdp_type::Rollback as u32, ptr::null()), wrs_result::InvalidState);
    // Munged SDP is refused, the original accepted.
    let mut out = ptr::null_mut();
    ok(wrs_session_create_offer(a.s, &mut out));
    let fresh = take_string(out);
    let munged = cstr(&fresh.replace("a=rtcp-rsize\r\n", ""));
    assert_eq!(wrs_session_set_local_description(a.s, 0, munged.as_ptr()), wrs_result::InvalidArgument);
    ok(wrs_session_set_local_description(a.s, 0, cstr(&fresh).as_ptr()));
}

#[test]
fn rtcp_and_host_built_rtp() {
    let a = Peer::new(&Options::default());
    let b = Peer::new(&Options::default());
    let ta = a.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus], wrs_direction::SendRecv);
    b.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus], wrs_direction::SendRecv);
    assert_eq!(connect(&a, &b, Duration::from_secs(10)), (wrs_connection_state::Connected, wrs_connection_state::Connected));
    // A receiver report with one report block.
    let rr: [u8; 32] = [
        0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    ok(wrs_session_send_rtcp(a.s, rr.as_ptr(), rr.len()));
    assert_eq!(wrs_session_send_rtcp(a.s, rr.as_ptr(), 7), wrs_result::PacketRejected);
    // A host-built RTP packet: wrong payload type rejected, SSRC replaced by the track's.
    let mut pkt = vec![0x80, 96, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4];
    pkt.extend_from_slice(b"payload");
    assert_eq!(wrs_session_send_rtp(a.s, ta, pkt.as_ptr(), pkt.len()), wrs_result::PacketRejected);
    assert!(last_error().contains("payload type 96"), "{}", last_error());
    pkt[1] = 111;
    ok(wrs_session_send_rtp(a.s, ta, pkt.as_ptr(), pkt.len()));
    assert_eq!(wrs_session_send_rtp(a.s, ta, pkt.as_ptr(), 5), wrs_result::PacketRejected);
    let big = vec![0x80u8; 1401];
    assert_eq!(wrs_session_send_rtp(a.s, ta, big.as_ptr(), big.len()), wrs_result::PacketRejected);
    let mut ssrc = 0;
    ok(wrs_session_track_ssrc(a.s, ta, &mut ssrc));
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut got_rtcp, mut got_rtp) = (None, None);
    while (got_rtcp.is_none() || got_rtp.is_none()) && Instant::now() < deadline {
        match b.rx.recv_timeout(Duration::from_millis(50)) {
            // The library's own reports may come too; the host's packet is the one to find.
            Ok(Ev::Rtcp(p)) if p[..] == rr[..] => got_rtcp = Some(p),
            Ok(Ev::Rtp(_, p)) => got_rtp = Some(p),
            _ => {}
        }
    }
    assert_eq!(got_rtcp.as_deref(), Some(&rr[..]));
    let got = got_rtp.expect("the RTP packet arrives");
    assert_eq!(&got[8..12], &ssrc.to_be_bytes());
    // The library numbered it on the transport: a one-byte extension block now precedes
    // the payload.
    assert_eq!(&got[12..14], &[0xBE, 0xDE], "{got:?}");
    assert_eq!(&got[20..], b"payload");
    assert!(b.stat(wrs_stat::RtcpPacketsReceived) >= 1);
}

struct Race {
    freed: AtomicBool,
    late: AtomicUsize,
    calls: AtomicUsize,
}

unsafe extern "C" fn race_rtp(ud: *mut c_void, _t: u32, _p: *const u8, _l: usize) {
    let r = &*(ud as *const Race);
    r.calls.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_micros(200)); // widen the window
    if r.freed.load(Ordering::SeqCst) {
        r.late.fetch_add(1, Ordering::SeqCst);
    }
}

/// While media floods in, `wrs_session_free` on another thread returns only once no callback
/// runs, and none starts afterwards.
#[test]
fn no_callback_after_free_returns() {
    for _ in 0..5 {
        let a = Peer::new(&Options::default());
        let b = Peer::new(&Options::default());
        let ta = a.add_track(wrs_media_kind::Audio, &[wrs_codec::Pcmu], wrs_direction::SendRecv);
        b.add_track(wrs_media_kind::Audio, &[wrs_codec::Pcmu], wrs_direction::SendRecv);
        assert_eq!(connect(&a, &b, Duration::from_secs(10)).1, wrs_connection_state::Connected);
        let race = Box::new(Race { freed: AtomicBool::new(false), late: AtomicUsize::new(0), calls: AtomicUsize::new(0) });
        ok(wrs_session_on_rtp(b.s, Some(race_rtp), &*race as *const Race as *mut c_void));
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let stop = Arc::clone(&stop);
            let s = a.s as usize;
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let _ = wrs_session_send_media(s as *mut wrs_session, ta, [0u8; 160].as_ptr(), 160, 0, false);
                    std::thread::sleep(Duration::from_micros(100));
                }
            })
        };
        while race.calls.load(Ordering::SeqCst) < 20 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let b = std::mem::ManuallyDrop::new(b);
        wrs_session_free(b.s);
        race.freed.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::SeqCst);
        sender.join().unwrap();
        assert_eq!(race.late.load(Ordering::SeqCst), 0, "a callback ran after free returned");
    }
}
