//! A test peer driven only through the C ABI: callbacks feed channels, helpers wrap calls.
#![allow(dead_code)]

pub mod native;
pub mod relay;

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, Sender};
use webrtc_session::capi::config::*;
use webrtc_session::capi::session::*;
use webrtc_session::capi::types::*;
use webrtc_session::capi::*;

pub enum Ev {
    Candidate(String),
    State(wrs_connection_state),
    Rtp(u32, Vec<u8>),
    Rtcp(Vec<u8>),
    Track(u32, String),
}

pub struct Peer {
    pub s: *mut wrs_session,
    pub rx: Receiver<Ev>,
    tx: Box<Sender<Ev>>,
}

unsafe impl Send for Peer {}

unsafe fn tx<'a>(ud: *mut c_void) -> &'a Sender<Ev> {
    &*(ud as *const Sender<Ev>)
}
unsafe extern "C" fn on_candidate(ud: *mut c_void, c: *const c_char, _mid: *const c_char) {
    let _ = tx(ud).send(Ev::Candidate(CStr::from_ptr(c).to_str().unwrap().to_string()));
}
unsafe extern "C" fn on_state(ud: *mut c_void, s: wrs_connection_state) {
    let _ = tx(ud).send(Ev::State(s));
}
unsafe extern "C" fn on_rtp(ud: *mut c_void, track: u32, p: *const u8, len: usize) {
    let _ = tx(ud).send(Ev::Rtp(track, std::slice::from_raw_parts(p, len).to_vec()));
}
unsafe extern "C" fn on_rtcp(ud: *mut c_void, p: *const u8, len: usize) {
    let _ = tx(ud).send(Ev::Rtcp(std::slice::from_raw_parts(p, len).to_vec()));
}
unsafe extern "C" fn on_track(ud: *mut c_void, track: u32, _k: wrs_media_kind, mid: *const c_char) {
    let _ = tx(ud).send(Ev::Track(track, CStr::from_ptr(mid).to_str().unwrap().to_string()));
}

pub fn ok(r: wrs_result) {
    assert_eq!(r, wrs_result::Ok, "{}", last_error());
}

pub fn last_error() -> String {
    unsafe { CStr::from_ptr(wrs_last_error_message()) }.to_string_lossy().into_owned()
}

pub fn take_string(p: *mut c_char) -> String {
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    wrs_string_free(p);
    s
}

pub struct Options {
    pub profiles: Vec<u32>,
    pub dtls_role: u32,
    /// Non-zero: `wrs_config_set_shared_port`.
    pub shared_port: u16,
    /// `wrs_config_set_nack` (default on).
    pub nack: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { profiles: vec![], dtls_role: wrs_dtls_role::Auto as u32, shared_port: 0, nack: true }
    }
}

impl Peer {
    pub fn new(opts: &Options) -> Peer {
        let mut cfg = ptr::null_mut();
        ok(wrs_config_new(&mut cfg));
        let ip = CString::new("127.0.0.1").unwrap();
        ok(wrs_config_add_local_address(cfg, ip.as_ptr()));
        if !opts.profiles.is_empty() {
            ok(wrs_config_set_srtp_profiles(cfg, opts.profiles.as_ptr(), opts.profiles.len()));
        }
        ok(wrs_config_set_dtls_role(cfg, opts.dtls_role));
        ok(wrs_config_set_shared_port(cfg, opts.shared_port));
        ok(wrs_config_set_nack(cfg, opts.nack));
        let mut s = ptr::null_mut();
        ok(wrs_session_new(cfg, &mut s));
        wrs_config_free(cfg);
        let (sender, rx) = unbounded();
        let tx = Box::new(sender);
        let ud = &*tx as *const Sender<Ev> as *mut c_void;
        ok(wrs_session_on_ice_candidate(s, Some(on_candidate), ud));
        ok(wrs_session_on_connection_state(s, Some(on_state), ud));
        ok(wrs_session_on_rtp(s, Some(on_rtp), ud));
        ok(wrs_session_on_rtcp(s, Some(on_rtcp), ud));
        ok(wrs_session_on_track(s, Some(on_track), ud));
        Peer { s, rx, tx }
    }

    /// Replaces this peer's session with `s` (same callbacks); the old one is freed.
    pub fn adopt(mut old: Peer, s: *mut wrs_session) -> Peer {
        let ud = &*old.tx as *const Sender<Ev> as *mut c_void;
        ok(wrs_session_on_ice_candidate(s, Some(on_candidate), ud));
        ok(wrs_session_on_connection_state(s, Some(on_state), ud));
        ok(wrs_session_on_rtp(s, Some(on_rtp), ud));
        ok(wrs_session_on_rtcp(s, Some(on_rtcp), ud));
        ok(wrs_session_on_track(s, Some(on_track), ud));
        wrs_session_free(old.s);
        old.s = s;
        old
    }

    pub fn add_track(&self, kind: wrs_media_kind, codecs: &[wrs_codec], dir: wrs_direction) -> u32 {
        let list: Vec<u32> = codecs.iter().map(|c| *c as u32).collect();
        let mut id = 0;
        ok(wrs_session_add_track(self.s, kind as u32, list.as_ptr(), list.len(), dir as u32, &mut id));
        id
    }

    pub fn offer(&self) -> String {
        let mut p = ptr::null_mut();
        ok(wrs_session_create_offer(self.s, &mut p));
        let sdp = take_string(p);
        let c = CString::new(sdp.clone()).unwrap();
        ok(wrs_session_set_local_description(self.s, wrs_sdp_type::Offer as u32, c.as_ptr()));
        sdp
    }

    pub fn answer(&self) -> String {
        let mut p = ptr::null_mut();
        ok(wrs_session_create_answer(self.s, &mut p));
        let sdp = take_string(p);
        let c = CString::new(sdp.clone()).unwrap();
        ok(wrs_session_set_local_description(self.s, wrs_sdp_type::Answer as u32, c.as_ptr()));
        sdp
    }

    pub fn set_remote(&self, kind: wrs_sdp_type, sdp: &str) -> wrs_result {
        let c = CString::new(sdp).unwrap();
        wrs_session_set_remote_description(self.s, kind as u32, c.as_ptr())
    }

    pub fn state(&self) -> wrs_connection_state {
        let mut st = wrs_connection_state::New;
        ok(wrs_session_connection_state(self.s, &mut st));
        st
    }

    pub fn string(&self, f: extern "C" fn(*mut wrs_session, *mut *mut c_char) -> wrs_result) -> Result<String, wrs_result> {
        let mut p = ptr::null_mut();
        match f(self.s, &mut p) {
            wrs_result::Ok => Ok(take_string(p)),
            e => Err(e),
        }
    }

    pub fn send_media(&self, track: u32, payload: &[u8], ts: u32) -> wrs_result {
        wrs_session_send_media(self.s, track, payload.as_ptr(), payload.len(), ts, false)
    }

    pub fn stat(&self, which: wrs_stat) -> u64 {
        let mut v = 0;
        ok(wrs_session_stat(self.s, which as u32, &mut v));
        v
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        wrs_session_free(self.s);
    }
}

/// PCMU audio tracks on both sides and offer/answer, the answer passed through `tamper` before
/// the offerer applies it; returns the two track ids (connect with `pump`).
pub fn negotiate_audio(a: &Peer, b: &Peer, tamper: impl FnOnce(String) -> String) -> (u32, u32) {
    let ta = a.add_track(wrs_media_kind::Audio, &[wrs_codec::Pcmu], wrs_direction::SendRecv);
    let offer = a.offer();
    ok(b.set_remote(wrs_sdp_type::Offer, &offer));
    let tb = b.add_track(wrs_media_kind::Audio, &[wrs_codec::Pcmu], wrs_direction::SendRecv);
    let answer = b.answer();
    ok(a.set_remote(wrs_sdp_type::Answer, &tamper(answer)));
    (ta, tb)
}

/// Offer/answer between `a` and `b`, trickling candidates, until both are connected or a side
/// reaches a final state; returns the final states. Non-candidate events are kept in `a_keep`
/// / `b_keep`.
pub fn connect(a: &Peer, b: &Peer, timeout: Duration) -> (wrs_connection_state, wrs_connection_state) {
    let offer = a.offer();
    ok(b.set_remote(wrs_sdp_type::Offer, &offer));
    let answer = b.answer();
    ok(a.set_remote(wrs_sdp_type::Answer, &answer));
    pump(a, b, timeout)
}

pub fn pump(a: &Peer, b: &Peer, timeout: Duration) -> (wrs_connection_state, wrs_connection_state) {
    let deadline = Instant::now() + timeout;
    let final_state = |s| matches!(s, wrs_connection_state::Connected | wrs_connection_state::Failed | wrs_connection_state::Closed);
    loop {
        for (from, to) in [(a, b), (b, a)] {
            while let Ok(e) = from.rx.try_recv() {
                if let Ev::Candidate(c) = e {
                    let c = CString::new(c).unwrap();
                    ok(wrs_session_add_remote_candidate(to.s, c.as_ptr()));
                }
            }
        }
        let (sa, sb) = (a.state(), b.state());
        if (final_state(sa) && final_state(sb)) || Instant::now() > deadline {
            return (sa, sb);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Collects RTP packets from `p` until `n` arrived or `timeout` passed.
pub fn collect_rtp(p: &Peer, n: usize, timeout: Duration) -> Vec<(u32, Vec<u8>)> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        if let Ok(Ev::Rtp(t, pkt)) = p.rx.recv_timeout(Duration::from_millis(20)) {
            out.push((t, pkt));
        }
    }
    out
}
