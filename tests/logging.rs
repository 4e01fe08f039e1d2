//! The log sink (one per process, so one test here): a call whose DTLS fails on a tampered
//! fingerprint explains itself at WARN in the DTLS and session areas; state changes come at
//! INFO, candidates and webrtc-ice's own messages (through the `log` bridge) at DEBUG, and a
//! sink set to WARN sees none of those. The C entry point refuses a bad level.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::native::{negotiate_track_with, peer, run_until};
use common::relay::{Policy, Relay};
use parking_lot::Mutex;
use webrtc_session::capi::logging::wrs_set_log_callback;
use webrtc_session::capi::wrs_result;
use webrtc_session::logging::{set_sink, Area, Level};
use webrtc_session::negotiation::{Codec, MediaKind};
use webrtc_session::session::ConnectionState;

type Lines = Arc<Mutex<Vec<(Level, Area, String)>>>;

fn collect(max: Level) -> Lines {
    let lines: Lines = Arc::default();
    let l = Arc::clone(&lines);
    set_sink(Some(Arc::new(move |level, area, m: &str| l.lock().push((level, area, m.to_string())))), max);
    lines
}

fn failed_call() {
    let mut a = peer(|_| {});
    let mut b = peer(|_| {});
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), Policy::default(), 31);
    negotiate_track_with(&mut a, &mut b, MediaKind::Audio, Codec::Opus, |offer| {
        let at = offer.find("a=fingerprint:sha-256 ").unwrap() + "a=fingerprint:sha-256 ".len();
        let mut t = offer.as_bytes().to_vec();
        t[at] = if t[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(t).unwrap()
    });
    assert!(run_until(&mut a, &mut b, &relay, Duration::from_secs(15), |_, b| b.state() == ConnectionState::Failed));
    a.s.close();
    b.s.close();
}

#[test]
fn failures_explain_themselves_and_levels_filter() {
    let lines = collect(Level::Debug);
    failed_call();
    let got = lines.lock().clone();
    let has = |level: Level, area: Area, needle: &str| got.iter().any(|(l, a, m)| *l == level && *a == area && m.contains(needle));
    assert!(has(Level::Warn, Area::Dtls, "fingerprint mismatch"), "{got:#?}");
    assert!(has(Level::Warn, Area::Session, "failed: "), "{got:#?}");
    assert!(has(Level::Info, Area::Ice, "ICE Connected"), "{got:#?}");
    assert!(has(Level::Info, Area::Ice, "selected pair"), "{got:#?}");
    assert!(has(Level::Info, Area::Session, "connection New -> Connecting"), "{got:#?}");
    assert!(has(Level::Debug, Area::Ice, "remote candidate"), "{got:#?}");
    assert!(has(Level::Debug, Area::Dtls, "DTLS handshake starting"), "{got:#?}");
    // webrtc-ice's own messages arrive through the `log` bridge, in the ICE area.
    assert!(got.iter().any(|(_, a, m)| *a == Area::Ice && !m.starts_with("session ")), "{got:#?}");
    assert!(!got.iter().any(|(l, _, _)| *l == Level::Trace), "nothing past the level set");

    let warn_only = collect(Level::Warn);
    failed_call();
    let got = warn_only.lock().clone();
    assert!(got.iter().all(|(l, _, _)| *l <= Level::Warn), "{got:#?}");
    assert!(got.iter().any(|(_, a, m)| *a == Area::Dtls && m.contains("fingerprint mismatch")), "{got:#?}");

    // The C entry point: a level outside 1..=5 is refused; NULL turns logging off.
    assert_eq!(wrs_set_log_callback(None, std::ptr::null_mut(), 9), wrs_result::InvalidArgument);
    assert_eq!(wrs_set_log_callback(None, std::ptr::null_mut(), 3), wrs_result::Ok);
    let before = warn_only.lock().len();
    failed_call();
    assert_eq!(warn_only.lock().len(), before, "off: the old sink hears nothing");
}
