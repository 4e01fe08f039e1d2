//! What the C ABI fuzz targets share: one session made once, reached through its handle.
use std::ptr;

use webrtc_session::capi::session::*;

pub struct Handle(pub *mut wrs_session);
// The handle is only a token; the library looks it up and synchronises every call.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

pub fn new_session() -> Handle {
    let mut s = ptr::null_mut();
    wrs_session_new(ptr::null(), &mut s);
    Handle(s)
}

/// Fuzz bytes as a C string (NULs removed: a C caller could not pass them).
pub fn c_string(data: &[u8]) -> std::ffi::CString {
    let mut text = data.to_vec();
    text.retain(|b| *b != 0);
    std::ffi::CString::new(text).unwrap()
}
