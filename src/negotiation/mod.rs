//! Offer/answer: the codec table, reading remote descriptions and writing local ones. The
//! matching of remote sections to this endpoint's transceivers is the session's job.

pub mod codecs;
pub mod local;
pub mod remote;

pub use codecs::{h264_packetization_mode, Codec, Direction, MediaKind, NegotiatedCodec};
pub use local::{LocalDescription, LocalMedia, SectionKind};
pub use remote::{DataParams, MediaType, RemoteDescription, RemoteMedia, Setup};
