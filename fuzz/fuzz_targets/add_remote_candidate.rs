//! Trickled candidates on a session that has a remote description.
#![no_main]
use std::ffi::CString;
use std::ptr;

use libfuzzer_sys::fuzz_target;
use once_cell::sync::Lazy;
use webrtc_session::capi::session::*;

struct Handle(*mut wrs_session);
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

static SESSION: Lazy<Handle> = Lazy::new(|| {
    let mut s = ptr::null_mut();
    wrs_session_new(ptr::null(), &mut s);
    let offer = CString::new(include_str!("../../tests/fixtures/chromium_offer.sdp")).unwrap();
    wrs_session_set_remote_description(s, 0, offer.as_ptr());
    Handle(s)
});

fuzz_target!(|data: &[u8]| {
    let mut text = data.to_vec();
    text.retain(|b| *b != 0);
    let text = CString::new(text).unwrap();
    wrs_session_add_remote_candidate(SESSION.0, text.as_ptr());
});
