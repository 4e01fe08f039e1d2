//! Remote descriptions: parse, associate, answer, roll back, through the C ABI.
#![no_main]
mod shared;

use std::ptr;

use libfuzzer_sys::fuzz_target;
use once_cell::sync::Lazy;
use webrtc_session::capi::session::*;
use webrtc_session::capi::{wrs_result, wrs_string_free};

static SESSION: Lazy<shared::Handle> = Lazy::new(shared::new_session);

fuzz_target!(|data: &[u8]| {
    let s = SESSION.0;
    let text = shared::c_string(data);
    if wrs_session_set_remote_description(s, 0, text.as_ptr()) == wrs_result::Ok {
        let mut answer = ptr::null_mut();
        if wrs_session_create_answer(s, &mut answer) == wrs_result::Ok {
            wrs_string_free(answer);
        }
        wrs_session_set_remote_description(s, 2, ptr::null()); // rollback
    }
});
