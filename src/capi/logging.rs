//! The log sink of the C ABI: a process-wide callback with a most verbose level.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::error::{wrs_result, FfiError};
use super::guard::guard;
use crate::logging::{self, Area, Level};

/// How much a log message matters (`wrs_set_log_callback` takes the most verbose wanted).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_log_level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    /// Also per-packet messages (drops and their reasons); nothing is logged per packet below.
    Trace = 5,
}

/// The layer a log message is about.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_log_area {
    /// Signaling, tracks, connection state.
    Session = 0,
    Ice = 1,
    Dtls = 2,
    Srtp = 3,
    Sctp = 4,
    Rtcp = 5,
}

/// One log message (UTF-8, valid for the call only). May come from any library thread, also
/// from several at once; it may call the library (even `wrs_set_log_callback`).
pub type wrs_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: wrs_log_level, area: wrs_log_area, message: *const c_char)>;

fn level_c(l: Level) -> wrs_log_level {
    match l {
        Level::Error => wrs_log_level::Error,
        Level::Warn => wrs_log_level::Warn,
        Level::Info => wrs_log_level::Info,
        Level::Debug => wrs_log_level::Debug,
        Level::Trace => wrs_log_level::Trace,
    }
}

fn area_c(a: Area) -> wrs_log_area {
    match a {
        Area::Session => wrs_log_area::Session,
        Area::Ice => wrs_log_area::Ice,
        Area::Dtls => wrs_log_area::Dtls,
        Area::Srtp => wrs_log_area::Srtp,
        Area::Sctp => wrs_log_area::Sctp,
        Area::Rtcp => wrs_log_area::Rtcp,
    }
}

/// Sends the library's log messages up to `max_level` (a `wrs_log_level`, 1..=5) to `cb`,
/// for the whole process (NULL: logging off). Replaces standard error when `WRS_LOG` set it.
/// The messages of the crates underneath (webrtc-ice's pairs and checks, sctp-proto) come
/// too, unless the process has its own Rust `log` logger. An ICE, DTLS or SCTP failure says
/// why at WARN; state changes are INFO; candidates, descriptions and handshakes DEBUG.
/// Errors: WRS_RESULT_INVALID_ARGUMENT for a level outside 1..=5.
#[no_mangle]
pub extern "C" fn wrs_set_log_callback(cb: wrs_log_callback, user_data: *mut c_void, max_level: u32) -> wrs_result {
    guard(|| {
        let level = Level::from_u32(max_level)
            .ok_or_else(|| FfiError::new(wrs_result::InvalidArgument, format!("log level {max_level} is not within 1..=5")))?;
        let Some(f) = cb else {
            logging::set_sink(None, level);
            return Ok(());
        };
        let user = user_data as usize;
        let sink: Arc<logging::Sink> = Arc::new(move |level: Level, area: Area, message: &str| {
            let text = CString::new(message.replace('\0', "\u{fffd}")).unwrap_or_default();
            // SAFETY: the host registered `f` with `user_data` for this purpose; the string is
            // valid for the call.
            unsafe { f(user as *mut c_void, level_c(level), area_c(area), text.as_ptr()) }
        });
        logging::set_sink(Some(sink), level);
        Ok(())
    })
}
