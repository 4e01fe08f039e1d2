//! Polling mode through the C ABI: two sessions, each drained from its eventfd by this thread
//! only, set up a call with trickle ICE, move audio both ways and a data channel message. Every
//! event arrives through `wrs_session_next_event`, in order (the connection before its
//! media), the descriptor is readable exactly while events wait, and not one of the callbacks
//! registered before the switch runs.

mod common;

use std::ffi::{CStr, CString};
use std::ptr;
use std::time::{Duration, Instant};

use common::{ok, Options, Peer};
use webrtc_session::capi::channel::*;
use webrtc_session::capi::poll::*;
use webrtc_session::capi::session::*;
use webrtc_session::capi::types::*;
use webrtc_session::capi::wrs_result;

#[derive(Debug, Clone)]
struct Got {
    kind: wrs_event_type,
    track: u32,
    state: u32,
    channel: usize,
    data: Vec<u8>,
    text: String,
    mid: String,
}

fn cstr(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: the library's NUL-terminated string, valid until the next call.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

fn drain(s: *mut wrs_session) -> Vec<Got> {
    let mut out = Vec::new();
    loop {
        let mut e = wrs_event::empty();
        ok(wrs_session_next_event(s, &mut e));
        if e.kind == wrs_event_type::None {
            return out;
        }
        let data = if e.data.is_null() {
            Vec::new()
        } else {
            // SAFETY: `len` bytes valid until the next call.
            unsafe { std::slice::from_raw_parts(e.data, e.len) }.to_vec()
        };
        out.push(Got { kind: e.kind, track: e.track, state: e.state, channel: e.channel as usize, data, text: cstr(e.text), mid: cstr(e.mid) });
    }
}

fn readable(fd: i32, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the call.
    unsafe { libc::poll(&mut p, 1, timeout_ms) == 1 }
}

#[test]
fn every_event_comes_through_the_descriptor_and_no_callback_runs() {
    let a = Peer::new(&Options::default());
    let b = Peer::new(&Options::default());
    let mut e = wrs_event::empty();
    assert_eq!(wrs_session_next_event(a.s, &mut e), wrs_result::InvalidState, "not in polling mode yet");
    let (mut fa, mut fb, mut again) = (-1, -1, -1);
    ok(wrs_session_use_polling(a.s, &mut fa));
    ok(wrs_session_use_polling(b.s, &mut fb));
    ok(wrs_session_use_polling(a.s, &mut again));
    assert!(fa >= 0 && fb >= 0 && again == fa);
    assert!(!readable(fa, 0) && !readable(fb, 0));

    let ta = a.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus], wrs_direction::SendRecv);
    let label = CString::new("chat").unwrap();
    let mut chan_a = ptr::null_mut();
    ok(wrs_session_create_data_channel(a.s, label.as_ptr(), ptr::null_mut(), &mut chan_a));
    let offer = a.offer();
    ok(b.set_remote(wrs_sdp_type::Offer, &offer));
    let tb = b.add_track(wrs_media_kind::Audio, &[wrs_codec::Opus], wrs_direction::SendRecv);
    let answer = b.answer();
    ok(a.set_remote(wrs_sdp_type::Answer, &answer));

    let (mut log_a, mut log_b) = (Vec::<Got>::new(), Vec::<Got>::new());
    let (mut sent, mut chan_b, mut said_hello) = (false, 0usize, false);
    let deadline = Instant::now() + Duration::from_secs(20);
    let rtp = |log: &[Got]| log.iter().filter(|g| g.kind == wrs_event_type::Rtp).count();
    let hello = |log: &[Got]| log.iter().any(|g| g.kind == wrs_event_type::ChannelMessage && g.data == b"hello");
    while Instant::now() < deadline && !(rtp(&log_a) >= 20 && rtp(&log_b) >= 20 && hello(&log_b)) {
        if !readable(fa, 20) && !readable(fb, 0) {
            continue;
        }
        for (me, other, log) in [(&a, &b, &mut log_a), (&b, &a, &mut log_b)] {
            for g in drain(me.s) {
                if g.kind == wrs_event_type::IceCandidate {
                    let c = CString::new(g.text.clone()).unwrap();
                    ok(wrs_session_add_remote_candidate(other.s, c.as_ptr()));
                }
                if g.kind == wrs_event_type::DataChannel {
                    chan_b = g.channel;
                }
                log.push(g);
            }
        }
        if !said_hello && log_a.iter().any(|g| g.kind == wrs_event_type::ChannelOpen && g.channel == chan_a as usize) {
            let t = CString::new("hello").unwrap();
            ok(wrs_data_channel_send_text(chan_a, t.as_ptr()));
            said_hello = true;
        }
        if !sent && a.state() == wrs_connection_state::Connected && b.state() == wrs_connection_state::Connected {
            for i in 0..20u32 {
                ok(a.send_media(ta, &[1u8; 160], i * 960));
                ok(b.send_media(tb, &[2u8; 160], i * 960));
            }
            sent = true;
        }
    }
    assert!(rtp(&log_a) >= 20 && rtp(&log_b) >= 20, "RTP a {} b {}", rtp(&log_a), rtp(&log_b));
    assert!(hello(&log_b), "{log_b:?}");
    // Order: each session reports Connected before its first packet; b's channel arrives
    // before its open and its message, on the handle the DATA_CHANNEL event gave.
    for log in [&log_a, &log_b] {
        let connected = log.iter().position(|g| g.kind == wrs_event_type::ConnectionState && g.state == wrs_connection_state::Connected as u32);
        let first_rtp = log.iter().position(|g| g.kind == wrs_event_type::Rtp);
        assert!(connected.unwrap() < first_rtp.unwrap(), "{log:?}");
        assert!(log.iter().any(|g| g.kind == wrs_event_type::IceCandidate && g.mid == "0"));
    }
    let at = |kind| log_b.iter().position(|g| g.kind == kind && g.channel == chan_b).unwrap();
    assert!(at(wrs_event_type::DataChannel) < at(wrs_event_type::ChannelOpen) && at(wrs_event_type::ChannelOpen) < at(wrs_event_type::ChannelMessage));
    let track_b = log_b.iter().find(|g| g.kind == wrs_event_type::Track).expect("b's TRACK event");
    assert_eq!((track_b.track, track_b.state, track_b.mid.as_str()), (tb, wrs_media_kind::Audio as u32, "0"));
    assert!(log_b.iter().filter(|g| g.kind == wrs_event_type::Rtp).all(|g| g.track == tb && g.data.len() > 160));
    // The peer's channel handle works like one from a callback.
    let mut state = wrs_data_channel_state::Closed;
    ok(wrs_data_channel_ready_state(chan_b as *mut wrs_data_channel, &mut state));
    assert_eq!(state, wrs_data_channel_state::Open);
    // Drained: the descriptor is quiet; nothing reached a callback; nothing was dropped.
    std::thread::sleep(Duration::from_millis(100));
    drain(a.s);
    drain(b.s);
    assert!(a.rx.try_recv().is_err() && b.rx.try_recv().is_err(), "a callback ran in polling mode");
    assert_eq!(a.stat(wrs_stat::PollEventsDropped), 0);
    wrs_data_channel_free(chan_b as *mut wrs_data_channel);
    wrs_data_channel_free(chan_a);
}
