//! The codec table: what this library can negotiate, with the payload types and parameters it
//! offers, and the matching rules used when answering an offer from someone else.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    pub fn sdp_name(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
    G722,
    Opus,
    Vp8,
    Vp9,
    H264,
    Av1,
    H265,
}

impl Codec {
    pub const ALL: [Codec; 9] =
        [Codec::Opus, Codec::G722, Codec::Pcmu, Codec::Pcma, Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1, Codec::H265];

    pub fn kind(self) -> MediaKind {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 | Codec::Opus => MediaKind::Audio,
            _ => MediaKind::Video,
        }
    }
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::Opus => "opus",
            Codec::Vp8 => "VP8",
            Codec::Vp9 => "VP9",
            Codec::H264 => "H264",
            Codec::Av1 => "AV1",
            Codec::H265 => "H265",
        }
    }
    /// RTP clock rate (G722's is 8000 by the RFC 3551 erratum every stack follows).
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 8000,
            Codec::Opus => 48000,
            _ => 90000,
        }
    }
    pub fn channels(self) -> Option<u8> {
        (self == Codec::Opus).then_some(2)
    }
    /// The payload type used when this library offers (static ones fixed by RFC 3551, dynamic
    /// ones as Chromium numbers them, which keeps answers from browsers unsurprising).
    pub fn default_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G722 => 9,
            Codec::Opus => 111,
            Codec::Vp8 => 96,
            Codec::Vp9 => 98,
            Codec::H264 => 108,
            Codec::Av1 => 45,
            Codec::H265 => 49,
        }
    }
    pub fn default_fmtp(self) -> Option<&'static str> {
        match self {
            Codec::Opus => Some("minptime=10;useinbandfec=1"),
            Codec::Vp9 => Some("profile-id=0"),
            Codec::H264 => Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
            Codec::Av1 => Some("level-idx=5;profile=0;tier=0"),
            // Main profile, level 3.1, single RTP stream (RFC 7798 §7.1).
            Codec::H265 => Some("level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST"),
            _ => None,
        }
    }
    /// The fmtp of our answer for this codec given the offer's: what this side sends and
    /// accepts, never a copy of the offer's (an offerer's `sprop-parameter-sets` describe its
    /// own stream, and its level is its decoder's). H.264 keeps the offer's profile (the
    /// match required it) at level 3.1, or the offer's level if lower and the offer does not
    /// allow asymmetric levels (RFC 6184 §8.2.2); other codecs answer their defaults.
    pub fn answer_fmtp(self, offered: Option<&str>) -> Option<String> {
        match self {
            Codec::H264 => {
                const OURS: u8 = 0x1f;
                let plid = fmtp_param(offered, "profile-level-id").filter(|p| p.len() == 6 && p.is_ascii()).unwrap_or("42001f");
                let asymmetry = fmtp_param(offered, "level-asymmetry-allowed") == Some("1");
                let offered_level = u8::from_str_radix(&plid[4..], 16).unwrap_or(OURS);
                let level = if asymmetry { OURS } else { OURS.min(offered_level) };
                // The offer's packetization mode (it must match, RFC 6184 §8.2.2): 1 where
                // offered, else 0 (single NAL units only).
                let mode = h264_packetization_mode(offered).min(1);
                Some(format!(
                    "{}packetization-mode={mode};profile-level-id={}{level:02x}",
                    if asymmetry { "level-asymmetry-allowed=1;" } else { "" },
                    plid[..4].to_ascii_lowercase()
                ))
            }
            _ => self.default_fmtp().map(str::to_owned),
        }
    }

    /// RTCP feedback (`a=rtcp-fb`) the library itself answers for this codec. An offer or
    /// answer says only what is implemented: for video, generic NACK (`nack`: the library
    /// asks for what it misses and retransmits from its send history) and keyframe requests
    /// (`nack pli`, and FIR with `ccm fir`), which the library sends when the host asks and
    /// reports when the peer asks; for every codec `transport-cc`: the library sends
    /// transport-wide feedback for what arrives with the sequence number extension and
    /// reads the peer's for its bandwidth estimate; and for video `goog-remb`: the peer's
    /// REMB caps that estimate (the library sends no REMB of its own).
    pub fn feedback(self) -> &'static [&'static str] {
        if self.kind() == MediaKind::Video {
            &["goog-remb", "transport-cc", "nack", "nack pli", "ccm fir"]
        } else {
            &["transport-cc"]
        }
    }

    /// The payload type of this codec's retransmission format (`rtx/90000` with `apt=`,
    /// RFC 4588) when this library offers: video only, numbered as Chromium does.
    pub fn default_rtx_payload_type(self) -> Option<u8> {
        (self.kind() == MediaKind::Video).then(|| self.default_payload_type() + 1)
    }

    /// Whether a remote `a=rtpmap`/`a=fmtp` pair describes this codec in a form we can handle.
    pub fn matches(self, name: &str, clock_rate: u32, channels: Option<u8>, fmtp: Option<&str>) -> bool {
        if !name.eq_ignore_ascii_case(self.encoding_name()) || clock_rate != self.clock_rate() {
            return false;
        }
        match self {
            Codec::Opus => channels == Some(2),
            Codec::H264 => {
                // Same packetization mode and the same profile_idc (constrained baseline and
                // baseline interoperate at the levels WebRTC uses).
                let profile = fmtp_param(fmtp, "profile-level-id").unwrap_or("42001f");
                h264_packetization_mode(fmtp) <= 1 && profile.len() == 6 && profile[..2].eq_ignore_ascii_case("42")
            }
            Codec::Vp9 => fmtp_param(fmtp, "profile-id").unwrap_or("0") == "0",
            Codec::Av1 => fmtp_param(fmtp, "profile").unwrap_or("0") == "0",
            // Main profile, one RTP stream (no decoding-order numbers: sprop-max-don-diff 0).
            Codec::H265 => {
                fmtp_param(fmtp, "profile-id").unwrap_or("1") == "1"
                    && fmtp_param(fmtp, "tx-mode").unwrap_or("SRST").eq_ignore_ascii_case("SRST")
                    && fmtp_param(fmtp, "sprop-max-don-diff").unwrap_or("0") == "0"
            }
            _ => channels.unwrap_or(1) == 1,
        }
    }
}

/// An H.264 format's packetization mode (RFC 6184 §8.1: absent means 0; 2 is interleaved,
/// which this library does not speak). Unparseable counts as 2.
pub fn h264_packetization_mode(fmtp: Option<&str>) -> u8 {
    fmtp_param(fmtp, "packetization-mode").map_or(0, |m| m.parse().unwrap_or(2))
}

/// The value of `key` in an fmtp parameter list `a=1;b=2`.
pub fn fmtp_param<'a>(fmtp: Option<&'a str>, key: &str) -> Option<&'a str> {
    fmtp?.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(key)).then_some(v.trim())
    })
}

/// A codec as negotiated for one m-section: the payload type both sides use for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedCodec {
    pub codec: Codec,
    pub payload_type: u8,
    pub fmtp: Option<String>,
    pub feedback: Vec<String>,
    /// The payload type of its RTX format (RFC 4588), when negotiated.
    pub rtx: Option<u8>,
}

impl NegotiatedCodec {
    pub fn local_default(codec: Codec) -> Self {
        NegotiatedCodec {
            codec,
            payload_type: codec.default_payload_type(),
            fmtp: codec.default_fmtp().map(str::to_owned),
            feedback: codec.feedback().iter().map(|s| s.to_string()).collect(),
            rtx: codec.default_rtx_payload_type(),
        }
    }

    pub fn has_feedback(&self, fb: &str) -> bool {
        self.feedback.iter().any(|f| f == fb)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
    /// The direction as the other side sees it.
    pub fn reversed(self) -> Self {
        Direction::from_flags(self.receives(), self.sends())
    }
    pub fn sdp_name(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    pub fn from_sdp(name: &str) -> Option<Self> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_matching_follows_packetization_mode_and_profile() {
        let h = Codec::H264;
        assert!(h.matches("H264", 90000, None, Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")));
        assert!(h.matches("h264", 90000, None, Some("packetization-mode=1;profile-level-id=42001f")));
        // Mode 0 (single NAL units) is answered in kind; mode 2 (interleaved) is not spoken.
        assert!(h.matches("H264", 90000, None, Some("packetization-mode=0;profile-level-id=42e01f")));
        assert!(h.matches("H264", 90000, None, Some("profile-level-id=42e01f")), "absent means mode 0");
        assert!(!h.matches("H264", 90000, None, Some("packetization-mode=2;profile-level-id=42e01f")));
        assert_eq!(h.answer_fmtp(Some("profile-level-id=42e01f")).as_deref(), Some("packetization-mode=0;profile-level-id=42e01f"));
        assert!(!h.matches("H264", 90000, None, Some("packetization-mode=1;profile-level-id=64001f")));
        assert!(!Codec::Vp9.matches("VP9", 90000, None, Some("profile-id=2")));
        assert!(Codec::Opus.matches("opus", 48000, Some(2), None));
        assert!(!Codec::Opus.matches("opus", 48000, None, None));
        assert!(Codec::Pcmu.matches("PCMU", 8000, None, None));
        assert_eq!(fmtp_param(Some("a=1; b = 2"), "b"), Some("2"));
        // Answers describe us: GStreamer's SPS/PPS and Safari's level 5.2 are not echoed.
        let gst = "packetization-mode=1;profile-level-id=42e01f;sprop-parameter-sets=Z0LAH9oBQBbpqAgICgAAAwACAAADAHke,aM4NiA==";
        assert_eq!(Codec::H264.answer_fmtp(Some(gst)).as_deref(), Some("packetization-mode=1;profile-level-id=42e01f"));
        let safari = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42E034";
        assert_eq!(Codec::H264.answer_fmtp(Some(safari)).as_deref(), Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"));
        let low = "packetization-mode=1;profile-level-id=42001e";
        assert_eq!(Codec::H264.answer_fmtp(Some(low)).as_deref(), Some("packetization-mode=1;profile-level-id=42001e"));
        assert_eq!(Codec::Opus.answer_fmtp(Some("minptime=10;useinbandfec=1;stereo=1")).as_deref(), Codec::Opus.default_fmtp());
    }

    #[test]
    fn direction_algebra() {
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
        assert_eq!(Direction::SendRecv.reversed(), Direction::SendRecv);
        assert_eq!(Direction::from_sdp("inactive"), Some(Direction::Inactive));
        assert!(Direction::from_sdp("bogus").is_none());
    }
}
