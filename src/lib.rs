pub mod cert;
pub mod error;
pub mod rtp;
pub mod runtime;
pub mod srtp;
pub mod dtls;
pub mod negotiation;
