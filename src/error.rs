//! The core's error type. The C ABI maps each [`ErrorKind`] to one `wrs_result` code and carries
//! the message to `wrs_last_error_message()`.

use std::fmt;

/// What went wrong, coarse enough to become a stable result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// An argument is out of range or of the wrong shape.
    InvalidArgument,
    /// A session description could not be parsed or is not acceptable.
    InvalidSdp,
    /// The call is not allowed in the current signaling or connection state.
    InvalidState,
    /// The track id does not name a track of this session.
    UnknownTrack,
    /// An RTP/RTCP packet handed to a send function does not fit its track or is malformed.
    PacketRejected,
    /// Media can only be sent once DTLS-SRTP is established.
    NotConnected,
    /// The session has been closed.
    Closed,
    /// A socket or file operation failed.
    Io,
    /// Certificate, DTLS or SRTP processing failed.
    Crypto,
    /// The ICE agent reported an error or a candidate could not be parsed.
    Ice,
    /// Something this library does not support (yet).
    Unsupported,
    /// The requested fact is not known yet (for example the selected pair before ICE connects).
    NotAvailable,
    /// A bound on state (candidates, ...) was reached.
    LimitReached,
}

#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand constructors, one per kind, so call sites stay one line.
macro_rules! ctor {
    ($name:ident, $kind:ident) => {
        pub fn $name(message: impl Into<String>) -> Error {
            Error::new(ErrorKind::$kind, message)
        }
    };
}
ctor!(invalid_argument, InvalidArgument);
ctor!(invalid_sdp, InvalidSdp);
ctor!(invalid_state, InvalidState);
ctor!(unknown_track, UnknownTrack);
ctor!(packet_rejected, PacketRejected);
ctor!(not_connected, NotConnected);
ctor!(closed, Closed);
ctor!(io, Io);
ctor!(crypto, Crypto);
ctor!(ice, Ice);
ctor!(unsupported, Unsupported);
ctor!(not_available, NotAvailable);
ctor!(limit_reached, LimitReached);

impl From<openssl::error::ErrorStack> for Error {
    fn from(e: openssl::error::ErrorStack) -> Self {
        crypto(format!("OpenSSL: {e}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        io(e.to_string())
    }
}
