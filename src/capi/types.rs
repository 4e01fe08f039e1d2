//! The enums of the C API. Enum values passed *in* are taken as plain integers and checked, so
//! an out-of-range value is an error, not undefined behaviour.
#![allow(non_camel_case_types)]

use super::error::{wrs_result, FfiError, FfiResult};
use crate::dtls::DtlsRole;
use crate::ice::IceState;
use crate::negotiation::{Codec, Direction, MediaKind};
use crate::session::{ConnectionState, DtlsRolePreference, GatheringState, SdpType, SignalingState};
use crate::srtp::SrtpProfile;

/// Kind of a track.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_media_kind {
    Audio = 0,
    Video = 1,
}

/// Codecs of the codec table. Audio: PCMU, PCMA, G722, Opus; video: VP8, VP9, H264
/// (constrained baseline, packetization-mode 1), AV1.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_codec {
    Pcmu = 0,
    Pcma = 1,
    G722 = 2,
    Opus = 3,
    Vp8 = 4,
    Vp9 = 5,
    H264 = 6,
    Av1 = 7,
    H265 = 8,
}

/// Direction of a track, as this side wants it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_direction {
    SendRecv = 0,
    SendOnly = 1,
    RecvOnly = 2,
}

/// Type of a session description.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_sdp_type {
    Offer = 0,
    Answer = 1,
    /// Discards a local or remote offer that is not answered yet (sdp may be NULL).
    Rollback = 2,
}

/// Overall connection state (ICE + DTLS), as RTCPeerConnection.connectionState.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_connection_state {
    New = 0,
    Connecting = 1,
    /// ICE has a pair and DTLS-SRTP is established: media can flow.
    Connected = 2,
    Disconnected = 3,
    Failed = 4,
    Closed = 5,
}

/// State of the ICE transport alone (RTCPeerConnection.iceConnectionState).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_ice_state {
    New = 0,
    Checking = 1,
    Connected = 2,
    Disconnected = 3,
    Failed = 4,
    Closed = 5,
}

#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_gathering_state {
    New = 0,
    Gathering = 1,
    Complete = 2,
}

#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_signaling_state {
    Stable = 0,
    HaveLocalOffer = 1,
    HaveRemoteOffer = 2,
    Closed = 3,
}

/// SRTP protection profiles, numbered as their DTLS-SRTP ids (RFC 5764, RFC 7714).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_srtp_profile {
    Aes128CmHmacSha1_80 = 1,
    AeadAes128Gcm = 7,
    AeadAes256Gcm = 8,
}

/// DTLS role. AUTO is for configuration only (answer as DTLS client, as browsers do).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_dtls_role {
    Auto = 0,
    Client = 1,
    Server = 2,
}

/// Which sections of our offers may be rejected by a peer that does not bundle
/// (RTCPeerConnection's bundlePolicy). Media always runs on one bundled transport.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_bundle_policy {
    /// Every section has its own port in the offer (9, as browsers write it).
    Balanced = 0,
    /// Every section after the first is `port 0` + `a=bundle-only` (RFC 8843 §6).
    MaxBundle = 1,
}

/// Counters read with `wrs_session_stat`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_stat {
    RtpPacketsSent = 0,
    RtpBytesSent = 1,
    RtpPacketsReceived = 2,
    RtpBytesReceived = 3,
    RtcpPacketsSent = 4,
    RtcpPacketsReceived = 5,
    /// SRTP/SRTCP packets dropped for a failed authentication tag or a replay.
    SrtpUnprotectFailures = 6,
    /// Decrypted RTP packets that no track claimed.
    RtpUnroutable = 7,
    /// Datagrams dropped before keys existed, malformed, or of an unknown kind.
    DatagramsDropped = 8,
    /// DTLS and SRTP datagrams dropped because their source address has not passed an
    /// authenticated connectivity check of this session (spoofed or stray traffic).
    UnverifiedDropped = 9,
    /// STUN dropped before the ICE agent: checks failing MESSAGE-INTEGRITY, answers to no check
    /// we sent, answers from elsewhere or unauthenticated.
    StunRejected = 10,
    /// Remote candidates refused: a forbidden address, or over the limit.
    RemoteCandidatesRefused = 11,
    /// Connectivity checks sent.
    IceChecksSent = 12,
    /// Connectivity checks the pacer held back (the agent sends them again later).
    IceChecksPaced = 13,
    /// Data channel messages sent (accepted by `wrs_data_channel_send*`).
    DataMessagesSent = 14,
    /// Bytes of data channel messages sent.
    DataBytesSent = 15,
    /// Data channel messages received (delivered to a channel).
    DataMessagesReceived = 16,
    /// Bytes of data channel messages received.
    DataBytesReceived = 17,
    /// SCTP packets dropped before the association (a second INIT, an INIT at the DTLS client).
    SctpPacketsDropped = 18,
    /// Compound RTCP reports (SR or RR with SDES) the library sent.
    RtcpReportsSent = 19,
    /// SRs and RRs received.
    RtcpReportsReceived = 20,
    /// Keyframe requests received: PLI packets, FIR packets.
    PliReceived = 21,
    FirReceived = 22,
    /// PLI/FIR merged into an earlier request (within 100 ms, or a repeated FIR number).
    KeyframeRequestsMerged = 23,
    /// Keyframe requests sent (`wrs_session_request_keyframe`): PLI and FIR together.
    KeyframeRequestsSent = 24,
    /// Generic NACK packets received.
    NackReceived = 25,
    /// RTP packets of sources beyond the 64 tracked ones, and RTCP about SSRCs not ours.
    RtcpSourcesRefused = 26,
    /// Generic NACK packets the library sent, and the sequence numbers they asked for.
    NackSent = 27,
    NackSequencesSent = 28,
    /// Packets the peer's NACKs made the library send again (over RTX or plainly).
    RetransmittedPacketsSent = 29,
    /// Bytes of those packets (RTP header and payload, before SRTP).
    RetransmittedBytesSent = 30,
    /// NACKed packets not sent again: no longer in the send history, or held back by the
    /// per-packet interval or the retransmission budget (a NACK storm).
    NackRequestsUnanswered = 31,
    NackRequestsLimited = 32,
    /// RTX packets received and unwrapped to the original stream.
    RtxPacketsReceived = 33,
    /// RTX packets dropped: padding only (bandwidth probes), or for no known stream.
    RtxPacketsDropped = 34,
    /// Missing packets that arrived after all (late or retransmitted), and missing packets
    /// given up (asked for 10 times, past the deadline, or too many missing at once).
    NackRecovered = 35,
    NackGaveUp = 36,
    /// Transport-wide feedback packets and REMBs received (what the bandwidth estimate
    /// reads), times the delay trend turned to overuse, and packets the feedback reported
    /// that we never sent or no longer remember.
    TransportFeedbackReceived = 37,
    RembReceived = 38,
    BandwidthOveruse = 39,
    TransportFeedbackUnknown = 40,
    /// Polling mode: events dropped because the host let the queue fill (RTP and RTCP past
    /// 16 MB waiting; anything past 65,536 events or 32 MB).
    PollEventsDropped = 41,
    /// Complete frames handed to the host (frame delivery on).
    FramesReceived = 42,
    /// Frames not handed over: incomplete when given up after a loss, malformed, or held back
    /// while waiting for a keyframe.
    FramesDropped = 43,
    /// Of those, frames whose payload format was malformed.
    FramesMalformed = 44,
    /// Sequence numbers the jitter buffers gave up without their packet arriving.
    FramePacketsLost = 45,
    /// Packets that reached a jitter buffer after their frame was handed over or given up,
    /// duplicates, and packets of sources past the per-session limit (32).
    FramePacketsLate = 46,
    /// Packets the pacer could not send when their turn came (`wrs_config_set_pacer`).
    PacedPacketsDropped = 47,
}

fn bad(what: &str, v: u32) -> FfiError {
    FfiError::new(wrs_result::InvalidArgument, format!("{v} is not a valid {what} value"))
}

pub(crate) fn media_kind(v: u32) -> FfiResult<MediaKind> {
    match v {
        0 => Ok(MediaKind::Audio),
        1 => Ok(MediaKind::Video),
        _ => Err(bad("wrs_media_kind", v)),
    }
}

impl From<Codec> for wrs_codec {
    fn from(c: Codec) -> Self {
        match c {
            Codec::Pcmu => wrs_codec::Pcmu,
            Codec::Pcma => wrs_codec::Pcma,
            Codec::G722 => wrs_codec::G722,
            Codec::Opus => wrs_codec::Opus,
            Codec::Vp8 => wrs_codec::Vp8,
            Codec::Vp9 => wrs_codec::Vp9,
            Codec::H264 => wrs_codec::H264,
            Codec::Av1 => wrs_codec::Av1,
            Codec::H265 => wrs_codec::H265,
        }
    }
}

pub(crate) fn codec(v: u32) -> FfiResult<Codec> {
    Ok(match v {
        0 => Codec::Pcmu,
        1 => Codec::Pcma,
        2 => Codec::G722,
        3 => Codec::Opus,
        4 => Codec::Vp8,
        5 => Codec::Vp9,
        6 => Codec::H264,
        7 => Codec::Av1,
        8 => Codec::H265,
        _ => return Err(bad("wrs_codec", v)),
    })
}

pub(crate) fn direction(v: u32) -> FfiResult<Direction> {
    match v {
        0 => Ok(Direction::SendRecv),
        1 => Ok(Direction::SendOnly),
        2 => Ok(Direction::RecvOnly),
        _ => Err(bad("wrs_direction", v)),
    }
}

pub(crate) fn sdp_type(v: u32) -> FfiResult<SdpType> {
    match v {
        0 => Ok(SdpType::Offer),
        1 => Ok(SdpType::Answer),
        2 => Ok(SdpType::Rollback),
        _ => Err(bad("wrs_sdp_type", v)),
    }
}

pub(crate) fn srtp_profile(v: u32) -> FfiResult<SrtpProfile> {
    SrtpProfile::from_id(v as u64).ok_or_else(|| bad("wrs_srtp_profile", v))
}

pub(crate) fn max_bundle(v: u32) -> FfiResult<bool> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(bad("wrs_bundle_policy", v)),
    }
}

pub(crate) fn dtls_role_preference(v: u32) -> FfiResult<DtlsRolePreference> {
    match v {
        0 => Ok(DtlsRolePreference::Auto),
        1 => Ok(DtlsRolePreference::Client),
        2 => Ok(DtlsRolePreference::Server),
        _ => Err(bad("wrs_dtls_role", v)),
    }
}

impl From<MediaKind> for wrs_media_kind {
    fn from(k: MediaKind) -> Self {
        match k {
            MediaKind::Audio => Self::Audio,
            MediaKind::Video => Self::Video,
        }
    }
}

impl From<ConnectionState> for wrs_connection_state {
    fn from(s: ConnectionState) -> Self {
        match s {
            ConnectionState::New => Self::New,
            ConnectionState::Connecting => Self::Connecting,
            ConnectionState::Connected => Self::Connected,
            ConnectionState::Disconnected => Self::Disconnected,
            ConnectionState::Failed => Self::Failed,
            ConnectionState::Closed => Self::Closed,
        }
    }
}

impl From<IceState> for wrs_ice_state {
    fn from(s: IceState) -> Self {
        match s {
            IceState::New => Self::New,
            IceState::Checking => Self::Checking,
            IceState::Connected => Self::Connected,
            IceState::Disconnected => Self::Disconnected,
            IceState::Failed => Self::Failed,
            IceState::Closed => Self::Closed,
        }
    }
}

impl From<GatheringState> for wrs_gathering_state {
    fn from(s: GatheringState) -> Self {
        match s {
            GatheringState::New => Self::New,
            GatheringState::Gathering => Self::Gathering,
            GatheringState::Complete => Self::Complete,
        }
    }
}

impl From<SignalingState> for wrs_signaling_state {
    fn from(s: SignalingState) -> Self {
        match s {
            SignalingState::Stable => Self::Stable,
            SignalingState::HaveLocalOffer => Self::HaveLocalOffer,
            SignalingState::HaveRemoteOffer => Self::HaveRemoteOffer,
            SignalingState::Closed => Self::Closed,
        }
    }
}

impl From<SrtpProfile> for wrs_srtp_profile {
    fn from(p: SrtpProfile) -> Self {
        match p {
            SrtpProfile::Aes128CmHmacSha1_80 => Self::Aes128CmHmacSha1_80,
            SrtpProfile::AeadAes128Gcm => Self::AeadAes128Gcm,
            SrtpProfile::AeadAes256Gcm => Self::AeadAes256Gcm,
        }
    }
}

impl From<DtlsRole> for wrs_dtls_role {
    fn from(r: DtlsRole) -> Self {
        match r {
            DtlsRole::Client => Self::Client,
            DtlsRole::Server => Self::Server,
        }
    }
}
