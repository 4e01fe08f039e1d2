//! Remote descriptions: parse, associate, answer, roll back, through the C ABI.
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
    Handle(s)
});

fuzz_target!(|data: &[u8]| {
    let s = SESSION.0;
    let mut text = data.to_vec();
    text.retain(|b| *b != 0);
    let text = CString::new(text).unwrap();
    if wrs_session_set_remote_description(s, 0, text.as_ptr()) == webrtc_session::capi::wrs_result::Ok {
        let mut answer = ptr::null_mut();
        if wrs_session_create_answer(s, &mut answer) == webrtc_session::capi::wrs_result::Ok {
            webrtc_session::capi::wrs_string_free(answer);
        }
        wrs_session_set_remote_description(s, 2, ptr::null()); // rollback
    }
});
