//! Result codes and the thread-local last-error message.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use crate::error::{Error, ErrorKind};

/// The result of every fallible function. `WRS_RESULT_OK` is 0, errors are negative; values
/// are never renumbered. `wrs_last_error_message()` says what went wrong.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum wrs_result {
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = -1,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = -2,
    /// An argument is out of range or malformed (enum value, address, candidate, URL, ...).
    InvalidArgument = -3,
    /// A session description could not be parsed or cannot be accepted.
    InvalidSdp = -4,
    /// The call is not allowed in the current signaling or connection state.
    InvalidState = -5,
    /// The track id is not a track of this session.
    UnknownTrack = -6,
    /// The RTP/RTCP packet does not fit its track or is malformed.
    PacketRejected = -7,
    /// Media can be sent only once DTLS-SRTP is established.
    NotConnected = -8,
    /// The session has been closed.
    Closed = -9,
    /// A socket or file operation failed.
    Io = -10,
    /// Certificate, DTLS or SRTP processing failed.
    Crypto = -11,
    /// The ICE agent failed.
    Ice = -12,
    /// The feature is not supported.
    Unsupported = -13,
    /// The requested value is not known yet.
    NotAvailable = -14,
    /// The handle is not a live handle of this library (freed, or never created by it).
    InvalidHandle = -15,
    /// A limit that bounds what the network or the host can make the library hold (remote
    /// candidates, ...) was reached; the message names it and how to change it.
    LimitReached = -16,
    /// A bug in the library was caught at the boundary; the message has details.
    Panic = -99,
}

impl wrs_result {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "WRS_RESULT_OK",
            Self::NullArgument => "WRS_RESULT_NULL_ARGUMENT",
            Self::InvalidUtf8 => "WRS_RESULT_INVALID_UTF8",
            Self::InvalidArgument => "WRS_RESULT_INVALID_ARGUMENT",
            Self::InvalidSdp => "WRS_RESULT_INVALID_SDP",
            Self::InvalidState => "WRS_RESULT_INVALID_STATE",
            Self::UnknownTrack => "WRS_RESULT_UNKNOWN_TRACK",
            Self::PacketRejected => "WRS_RESULT_PACKET_REJECTED",
            Self::NotConnected => "WRS_RESULT_NOT_CONNECTED",
            Self::Closed => "WRS_RESULT_CLOSED",
            Self::Io => "WRS_RESULT_IO",
            Self::Crypto => "WRS_RESULT_CRYPTO",
            Self::Ice => "WRS_RESULT_ICE",
            Self::Unsupported => "WRS_RESULT_UNSUPPORTED",
            Self::NotAvailable => "WRS_RESULT_NOT_AVAILABLE",
            Self::InvalidHandle => "WRS_RESULT_INVALID_HANDLE",
            Self::LimitReached => "WRS_RESULT_LIMIT_REACHED",
            Self::Panic => "WRS_RESULT_PANIC",
        }
    }

    pub(crate) fn from_i32(v: i32) -> Option<Self> {
        const ALL: [wrs_result; 18] = [
            wrs_result::Ok,
            wrs_result::NullArgument,
            wrs_result::InvalidUtf8,
            wrs_result::InvalidArgument,
            wrs_result::InvalidSdp,
            wrs_result::InvalidState,
            wrs_result::UnknownTrack,
            wrs_result::PacketRejected,
            wrs_result::NotConnected,
            wrs_result::Closed,
            wrs_result::Io,
            wrs_result::Crypto,
            wrs_result::Ice,
            wrs_result::Unsupported,
            wrs_result::NotAvailable,
            wrs_result::InvalidHandle,
            wrs_result::LimitReached,
            wrs_result::Panic,
        ];
        ALL.into_iter().find(|r| *r as i32 == v)
    }
}

/// An error on its way out through the C ABI.
pub(crate) struct FfiError {
    pub code: wrs_result,
    pub message: String,
}

pub(crate) type FfiResult<T> = Result<T, FfiError>;

impl FfiError {
    pub fn new(code: wrs_result, message: impl Into<String>) -> Self {
        FfiError { code, message: message.into() }
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        let code = match e.kind() {
            ErrorKind::InvalidArgument => wrs_result::InvalidArgument,
            ErrorKind::InvalidSdp => wrs_result::InvalidSdp,
            ErrorKind::InvalidState => wrs_result::InvalidState,
            ErrorKind::UnknownTrack => wrs_result::UnknownTrack,
            ErrorKind::PacketRejected => wrs_result::PacketRejected,
            ErrorKind::NotConnected => wrs_result::NotConnected,
            ErrorKind::Closed => wrs_result::Closed,
            ErrorKind::Io => wrs_result::Io,
            ErrorKind::Crypto => wrs_result::Crypto,
            ErrorKind::Ice => wrs_result::Ice,
            ErrorKind::Unsupported => wrs_result::Unsupported,
            ErrorKind::NotAvailable => wrs_result::NotAvailable,
            ErrorKind::LimitReached => wrs_result::LimitReached,
        };
        FfiError { code, message: e.message().to_string() }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn clear_last_error() {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        if !e.as_bytes().is_empty() {
            *e = CString::default();
        }
    });
}

pub(crate) fn set_last_error(code: wrs_result, message: &str) {
    let text = format!("{}: {}", code.name(), message).replace('\0', " ");
    LAST_ERROR.with(|e| *e.borrow_mut() = CString::new(text).unwrap_or_default());
}

pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}
