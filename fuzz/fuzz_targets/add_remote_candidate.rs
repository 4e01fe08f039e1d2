//! Trickled candidates on a session that has a remote description.
#![no_main]
mod shared;

use std::ffi::CString;

use libfuzzer_sys::fuzz_target;
use once_cell::sync::Lazy;
use webrtc_session::capi::session::*;

static SESSION: Lazy<shared::Handle> = Lazy::new(|| {
    let h = shared::new_session();
    let offer = CString::new(include_str!("../../tests/fixtures/chromium_offer.sdp")).unwrap();
    wrs_session_set_remote_description(h.0, 0, offer.as_ptr());
    h
});

fuzz_target!(|data: &[u8]| {
    wrs_session_add_remote_candidate(SESSION.0, shared::c_string(data).as_ptr());
});
