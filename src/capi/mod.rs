//! The C ABI. Every exported function lives in this module tree; each runs inside the panic
//! guard, checks its pointers, and reports errors as a `wrs_result` plus a thread-local message.

pub mod callbacks;
pub mod channel;
pub mod config;
pub mod error;
pub mod logging;
pub mod poll;
mod guard;
mod handle;
pub mod session;
pub mod types;

use std::ffi::{c_char, CString};

pub use error::wrs_result;
use guard::guard_void;

/// Major version of the library (equal to the crate version).
pub const WRS_VERSION_MAJOR: u32 = 0;
/// Minor version of the library.
pub const WRS_VERSION_MINOR: u32 = 1;
/// Patch version of the library.
pub const WRS_VERSION_PATCH: u32 = 0;

/// Largest RTP or RTCP packet the send functions accept (bytes, before SRTP's tag).
pub const WRS_MAX_PACKET_LEN: usize = 1400;
const _: () = assert!(WRS_MAX_PACKET_LEN == crate::session::MAX_PACKET_LEN);

static VERSION: &[u8] = concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes();

/// The library version as "MAJOR.MINOR.PATCH" (static; do not free).
#[no_mangle]
pub extern "C" fn wrs_version() -> *const c_char {
    VERSION.as_ptr() as *const c_char
}

/// The message of the last error on this thread ("WRS_RESULT_...: what went wrong"), or "" if
/// the last call succeeded. Valid until the next library call on this thread; do not free.
#[no_mangle]
pub extern "C" fn wrs_last_error_message() -> *const c_char {
    error::last_error_ptr()
}

/// The name of a result code ("WRS_RESULT_INVALID_SDP"), or "WRS_RESULT_UNKNOWN" (static).
#[no_mangle]
pub extern "C" fn wrs_result_name(result: i32) -> *const c_char {
    static UNKNOWN: &[u8] = b"WRS_RESULT_UNKNOWN\0";
    static NAMES: once_cell::sync::Lazy<Vec<(i32, CString)>> = once_cell::sync::Lazy::new(|| {
        (-128..=0)
            .filter_map(|v| wrs_result::from_i32(v).map(|r| (v, CString::new(r.name()).unwrap_or_default())))
            .collect()
    });
    NAMES
        .iter()
        .find(|(v, _)| *v == result)
        .map(|(_, n)| n.as_ptr())
        .unwrap_or(UNKNOWN.as_ptr() as *const c_char)
}

/// Stops the library's threads (the media receive thread and the two runtime threads), for
/// hosts that wait at exit for every thread that ever ran one of their callbacks (Mono does;
/// the C# binding calls this at process exit).
/// Call it last: after every session is freed, from a host thread (not a callback). Afterwards
/// `wrs_session_new` fails with WRS_RESULT_CLOSED. Idempotent.
#[no_mangle]
pub extern "C" fn wrs_shutdown() {
    guard_void(|| {
        // The receive thread first: no callback runs once it is joined.
        crate::ice::shutdown_receive_thread();
        crate::runtime::shutdown();
    })
}

/// Releases a string the library returned (SDP, candidates, fingerprints...). NULL is a no-op.
#[no_mangle]
pub extern "C" fn wrs_string_free(s: *mut c_char) {
    guard_void(|| {
        if !s.is_null() {
            // SAFETY: the library allocated `s` with CString::into_raw.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
