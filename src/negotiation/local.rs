//! Writing this endpoint's descriptions: one BUNDLE transport, rtcp-mux, trickle ICE, a sha-256
//! fingerprint, and per section the negotiated codecs, the mid extension and the sending SSRC.

use std::fmt::Write;

use super::codecs::{Direction, MediaKind, NegotiatedCodec};
use super::remote::Setup;
use crate::rtp::MID_EXTENSION_URI;

#[derive(Debug, Clone)]
pub enum SectionKind {
    Rtp(MediaKind),
    /// The data channel section (RFC 8841): SCTP over the bundle's DTLS, port 5000, and the
    /// largest message this side accepts.
    Data { max_message_size: u32 },
    /// A section of the offer this endpoint does not take part in (answered with port 0).
    Rejected { media: String, protocol: String, formats: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct LocalMedia {
    pub mid: String,
    pub kind: SectionKind,
    pub direction: Direction,
    pub codecs: Vec<NegotiatedCodec>,
    pub mid_extension_id: Option<u8>,
    /// The transport-wide sequence number extension's id, when offered or accepted.
    pub twcc_extension_id: Option<u8>,
    pub ssrc: Option<u32>,
    /// The retransmission SSRC (`a=ssrc-group:FID ssrc rtx`), announced when a codec has RTX.
    pub rtx_ssrc: Option<u32>,
    /// msid stream id and track id.
    pub msid: (String, String),
}

#[derive(Debug, Clone)]
pub struct LocalDescription {
    pub session_id: u64,
    pub session_version: u64,
    pub ice_ufrag: String,
    pub ice_pwd: String,
    pub fingerprint: String,
    pub setup: Setup,
    pub cname: String,
    pub media: Vec<LocalMedia>,
    /// An offer with `bundlePolicy: "max-bundle"`: every bundled section after the first has
    /// port 0 and `a=bundle-only` (RFC 8843 §6), so a peer that does not bundle rejects them
    /// rather than opening a transport for each.
    pub bundle_only: bool,
}

impl LocalDescription {
    /// The SDP text, with `candidates` (full `candidate:` lines without `a=`) in the first
    /// bundled section and `a=end-of-candidates` once gathering is complete.
    pub fn render(&self, candidates: &[String], gathering_complete: bool) -> String {
        let mut s = String::with_capacity(2048);
        let _ = write!(
            s,
            "v=0\r\no=- {} {} IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
            self.session_id, self.session_version
        );
        let bundled: Vec<&str> = self
            .media
            .iter()
            .filter(|m| !matches!(m.kind, SectionKind::Rejected { .. }))
            .map(|m| m.mid.as_str())
            .collect();
        if !bundled.is_empty() {
            let _ = write!(s, "a=group:BUNDLE {}\r\n", bundled.join(" "));
        }
        let stream = self.media.first().map(|m| m.msid.0.as_str()).unwrap_or("-");
        let _ = write!(s, "a=msid-semantic: WMS {stream}\r\n");
        let mut first_bundled = true;
        for m in &self.media {
            let bundle_only = self.bundle_only && !first_bundled;
            let port = if bundle_only { 0 } else { 9 };
            let kind = match &m.kind {
                SectionKind::Rejected { media, protocol, formats } => {
                    let _ = write!(s, "m={media} 0 {protocol} {}\r\nc=IN IP4 0.0.0.0\r\na=mid:{}\r\n", formats.join(" "), m.mid);
                    continue;
                }
                SectionKind::Data { .. } => {
                    let _ = write!(s, "m=application {port} UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n");
                    None
                }
                SectionKind::Rtp(kind) => {
                    let pts: Vec<String> = m
                        .codecs
                        .iter()
                        .flat_map(|c| std::iter::once(c.payload_type).chain(c.rtx))
                        .map(|pt| pt.to_string())
                        .collect();
                    let _ = write!(
                        s,
                        "m={} {port} UDP/TLS/RTP/SAVPF {}\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n",
                        kind.sdp_name(),
                        pts.join(" ")
                    );
                    Some(*kind)
                }
            };
            if bundle_only {
                s.push_str("a=bundle-only\r\n");
            }
            if first_bundled {
                for c in candidates {
                    let _ = write!(s, "a={c}\r\n");
                }
                if gathering_complete {
                    s.push_str("a=end-of-candidates\r\n");
                }
                first_bundled = false;
            }
            let _ = write!(
                s,
                "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=ice-options:trickle\r\na=fingerprint:{}\r\na=setup:{}\r\na=mid:{}\r\n",
                self.ice_ufrag,
                self.ice_pwd,
                self.fingerprint,
                self.setup.sdp_name(),
                m.mid
            );
            if let SectionKind::Data { max_message_size } = m.kind {
                let _ = write!(s, "a=sctp-port:5000\r\na=max-message-size:{max_message_size}\r\n");
            }
            if kind.is_none() {
                continue;
            }
            if let Some(id) = m.mid_extension_id {
                let _ = write!(s, "a=extmap:{id} {MID_EXTENSION_URI}\r\n");
            }
            if let Some(id) = m.twcc_extension_id {
                let _ = write!(s, "a=extmap:{id} {}\r\n", crate::rtcp::twcc::TWCC_URI);
            }
            let _ = write!(s, "a={}\r\n", m.direction.sdp_name());
            if m.direction.sends() {
                let _ = write!(s, "a=msid:{} {}\r\n", m.msid.0, m.msid.1);
            }
            s.push_str("a=rtcp-mux\r\na=rtcp-rsize\r\n");
            for c in &m.codecs {
                let _ = write!(s, "a=rtpmap:{} {}/{}", c.payload_type, c.codec.encoding_name(), c.codec.clock_rate());
                if let Some(ch) = c.codec.channels() {
                    let _ = write!(s, "/{ch}");
                }
                s.push_str("\r\n");
                for fb in &c.feedback {
                    let _ = write!(s, "a=rtcp-fb:{} {fb}\r\n", c.payload_type);
                }
                if let Some(f) = &c.fmtp {
                    let _ = write!(s, "a=fmtp:{} {f}\r\n", c.payload_type);
                }
                if let Some(rtx) = c.rtx {
                    let _ = write!(
                        s,
                        "a=rtpmap:{rtx} rtx/{}\r\na=fmtp:{rtx} apt={}\r\n",
                        c.codec.clock_rate(),
                        c.payload_type
                    );
                }
            }
            if let (Some(ssrc), true) = (m.ssrc, m.direction.sends()) {
                let rtx = m.rtx_ssrc.filter(|_| m.codecs.iter().any(|c| c.rtx.is_some()));
                if let Some(rtx) = rtx {
                    let _ = write!(s, "a=ssrc-group:FID {ssrc} {rtx}\r\n");
                }
                for x in std::iter::once(ssrc).chain(rtx) {
                    let _ = write!(s, "a=ssrc:{x} cname:{}\r\na=ssrc:{x} msid:{} {}\r\n", self.cname, m.msid.0, m.msid.1);
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::negotiation::codecs::Codec;
    use crate::negotiation::remote;

    #[test]
    fn rendered_offer_parses_back() {
        let d = LocalDescription {
            session_id: 42,
            session_version: 1,
            ice_ufrag: "abcd".into(),
            ice_pwd: "abcdefghijklmnopqrstuvwx".into(),
            fingerprint: crate::cert::Certificate::generate().unwrap().fingerprint().to_string(),
            setup: Setup::ActPass,
            cname: "cn".into(),
            media: vec![
                LocalMedia {
                    mid: "0".into(),
                    kind: SectionKind::Rtp(MediaKind::Audio),
                    direction: Direction::SendRecv,
                    codecs: vec![NegotiatedCodec::local_default(Codec::Opus), NegotiatedCodec::local_default(Codec::Pcmu)],
                    mid_extension_id: Some(4),
                    twcc_extension_id: Some(3),
                    ssrc: Some(1234),
                    rtx_ssrc: Some(1235),
                    msid: ("s".into(), "t0".into()),
                },
                LocalMedia {
                    mid: "1".into(),
                    kind: SectionKind::Rtp(MediaKind::Video),
                    direction: Direction::RecvOnly,
                    codecs: vec![NegotiatedCodec::local_default(Codec::H264)],
                    mid_extension_id: Some(4),
                    twcc_extension_id: None,
                    ssrc: Some(99),
                    rtx_ssrc: Some(100),
                    msid: ("s".into(), "t1".into()),
                },
            ],
            bundle_only: false,
        };
        let text = d.render(&["candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".into()], true);
        let r = remote::parse(&text).unwrap();
        assert_eq!(r.bundle, vec!["0", "1"]);
        assert_eq!(r.media[0].ssrcs, vec![1234]);
        assert!(r.media[1].ssrcs.is_empty(), "a receive-only section announces no SSRC");
        assert_eq!(r.media[1].direction, Direction::RecvOnly);
        assert_eq!(r.media[0].candidates.len(), 1);
        assert!(r.media[0].end_of_candidates);
        assert_eq!(r.media[1].codecs[0].fmtp.as_deref(), Codec::H264.default_fmtp());

        // max-bundle: the second section is bundle-only with port 0, and is still accepted.
        let mut mb = d.clone();
        mb.bundle_only = true;
        let text = mb.render(&[], false);
        assert!(text.contains("m=video 0 UDP/TLS/RTP/SAVPF") && text.contains("a=bundle-only"), "{text}");
        assert!(text.contains("m=audio 9 "));
        let r = remote::parse(&text).unwrap();
        assert!(r.media.iter().all(|m| !m.rejected));
    }
}
