//! Reading a description from the peer: the sdp crate splits the lines, this module gives them
//! meaning (ICE credentials, fingerprint, setup role, BUNDLE, codecs, SSRCs, candidates) and
//! rejects what a WebRTC endpoint cannot use, each with a message that names the problem.

use std::collections::HashSet;
use std::io::Cursor;

use ::sdp::description::common::Attribute;
use ::sdp::description::session::SessionDescription;

use super::codecs::Direction;
use crate::cert::Fingerprint;
use crate::error::{self, Result};

/// The DTLS role an `a=setup` attribute announces (RFC 4145 / RFC 5763).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    ActPass,
    Active,
    Passive,
}

impl Setup {
    fn parse(v: &str) -> Result<Self> {
        Ok(match v {
            "actpass" => Setup::ActPass,
            "active" => Setup::Active,
            "passive" => Setup::Passive,
            other => return Err(error::invalid_sdp(format!("a=setup:{other} is not actpass, active or passive"))),
        })
    }
    pub fn sdp_name(self) -> &'static str {
        match self {
            Setup::ActPass => "actpass",
            Setup::Active => "active",
            Setup::Passive => "passive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaType {
    Audio,
    Video,
    /// Anything else (a data channel section, for instance): answered as rejected.
    Other(String),
}

#[derive(Debug, Clone)]
pub struct RemoteCodec {
    pub payload_type: u8,
    pub name: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
    pub fmtp: Option<String>,
    pub feedback: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RemoteMedia {
    pub mid: String,
    pub media_type: MediaType,
    pub protocol: String,
    /// The m= line's format list, echoed when the section is rejected.
    pub formats: Vec<String>,
    pub rejected: bool,
    pub direction: Direction,
    pub codecs: Vec<RemoteCodec>,
    /// `a=extmap` id and URI.
    pub extmaps: Vec<(u8, String)>,
    /// Media SSRCs announced with `a=ssrc` (retransmission SSRCs of `ssrc-group:FID` excluded).
    pub ssrcs: Vec<u32>,
    /// `a=ssrc-group:FID primary rtx` pairs.
    pub rtx_ssrcs: Vec<(u32, u32)>,
    pub candidates: Vec<String>,
    pub end_of_candidates: bool,
    /// For a data channel section (`m=application ... UDP/DTLS/SCTP webrtc-datachannel`).
    pub data: Option<DataParams>,
}

/// What a data channel section says (RFC 8841).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataParams {
    /// `a=sctp-port` (5000 when absent).
    pub sctp_port: u16,
    /// `a=max-message-size`: 65536 when absent (RFC 8841 §6.1), 0 for no limit.
    pub max_message_size: u32,
}

impl RemoteMedia {
    pub fn extmap_id(&self, uri: &str) -> Option<u8> {
        self.extmaps.iter().find(|(_, u)| u == uri).map(|(id, _)| *id)
    }

    /// The payload type of the `rtx` format whose `apt=` is `pt` (RFC 4588 §8.6).
    pub fn rtx_for(&self, pt: u8) -> Option<u8> {
        self.codecs
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case("rtx") && super::codecs::fmtp_param(c.fmtp.as_deref(), "apt").and_then(|a| a.parse().ok()) == Some(pt))
            .map(|c| c.payload_type)
    }
}

#[derive(Debug, Clone)]
pub struct RemoteDescription {
    pub ice_ufrag: String,
    pub ice_pwd: String,
    pub ice_lite: bool,
    pub fingerprint: Fingerprint,
    pub setup: Setup,
    pub bundle: Vec<String>,
    pub media: Vec<RemoteMedia>,
}

fn attr<'a>(attrs: &'a [Attribute], key: &str) -> Option<&'a str> {
    attrs.iter().find(|a| a.key == key).map(|a| a.value.as_deref().unwrap_or(""))
}

fn attrs<'a>(list: &'a [Attribute], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    list.iter().filter(move |a| a.key == key).map(|a| a.value.as_deref().unwrap_or(""))
}

/// Longest description accepted: a Chrome offer with a dozen tracks is about 20 KB.
const MAX_SDP_LEN: usize = 256 * 1024;

pub fn parse(text: &str) -> Result<RemoteDescription> {
    if text.len() > MAX_SDP_LEN {
        return Err(error::invalid_sdp(format!("the description is {} bytes, more than the {MAX_SDP_LEN} accepted", text.len())));
    }
    if text.trim().is_empty() {
        return Err(error::invalid_sdp("the description is empty"));
    }
    let sd = SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes()))
        .map_err(|e| error::invalid_sdp(format!("malformed SDP: {e}")))?;
    if sd.media_descriptions.is_empty() {
        return Err(error::invalid_sdp("the description has no m= sections"));
    }
    let session = &sd.attributes;
    let mut bundle = Vec::new();
    for g in attrs(session, "group") {
        let mut parts = g.split_whitespace();
        if parts.next() == Some("BUNDLE") {
            bundle = parts.map(str::to_owned).collect();
        }
    }
    let mut media = Vec::with_capacity(sd.media_descriptions.len());
    let mut seen_mids = HashSet::new();
    let (mut ufrag, mut pwd, mut fingerprint, mut setup) = (None, None, None, None);
    for (index, md) in sd.media_descriptions.iter().enumerate() {
        let a = &md.attributes;
        let name = &md.media_name;
        let media_type = match name.media.as_str() {
            "audio" => MediaType::Audio,
            "video" => MediaType::Video,
            other => MediaType::Other(other.to_string()),
        };
        // Port 0 rejects a section, unless it is `a=bundle-only` in the BUNDLE group (JSEP
        // max-bundle, RFC 8843 §6): then it rides on the bundle's transport.
        let bundle_only = attr(a, "bundle-only").is_some() && attr(a, "mid").is_some_and(|m| bundle.iter().any(|b| b == m));
        let rejected = name.port.value == 0 && !bundle_only;
        let mid = match attr(a, "mid") {
            Some(m) if !m.is_empty() && m.len() <= 32 && m.chars().all(|c| c.is_ascii_graphic()) => m.to_string(),
            Some(m) => return Err(error::invalid_sdp(format!("m-section {index} has an invalid a=mid '{m}'"))),
            None if rejected => format!("rejected-{index}"),
            None => return Err(error::invalid_sdp(format!("m-section {index} ({}) has no a=mid", name.media))),
        };
        if !seen_mids.insert(mid.clone()) {
            return Err(error::invalid_sdp(format!("a=mid:{mid} appears in more than one m-section")));
        }
        let protocol = name.protos.join("/");
        let is_rtp = matches!(media_type, MediaType::Audio | MediaType::Video);
        if is_rtp && !rejected && !protocol.contains("SAVP") {
            return Err(error::invalid_sdp(format!(
                "m-section {mid} uses protocol {protocol}; WebRTC media needs UDP/TLS/RTP/SAVPF"
            )));
        }
        let directions: Vec<Direction> =
            a.iter().filter_map(|x| if x.value.is_none() { Direction::from_sdp(&x.key) } else { None }).collect();
        if directions.len() > 1 {
            return Err(error::invalid_sdp(format!("m-section {mid} has more than one direction attribute")));
        }
        let direction = directions.first().copied().unwrap_or(Direction::SendRecv);

        if !rejected {
            // ICE and DTLS parameters may sit at session level or in each section; with BUNDLE
            // the first section's values are the transport's.
            let u = attr(a, "ice-ufrag").or_else(|| attr(session, "ice-ufrag"));
            let p = attr(a, "ice-pwd").or_else(|| attr(session, "ice-pwd"));
            let f = attr(a, "fingerprint").or_else(|| attr(session, "fingerprint"));
            let s = attr(a, "setup").or_else(|| attr(session, "setup"));
            if ufrag.is_none() {
                ufrag = Some(u.ok_or_else(|| error::invalid_sdp(format!("m-section {mid} has no a=ice-ufrag")))?);
                pwd = Some(p.ok_or_else(|| error::invalid_sdp(format!("m-section {mid} has no a=ice-pwd")))?);
                fingerprint =
                    Some(f.ok_or_else(|| error::invalid_sdp(format!("m-section {mid} has no a=fingerprint")))?);
                setup = Some(s.ok_or_else(|| error::invalid_sdp(format!("m-section {mid} has no a=setup")))?);
            }
            if is_rtp && attr(a, "rtcp-mux").is_none() {
                return Err(error::invalid_sdp(format!("m-section {mid} lacks a=rtcp-mux, which this library requires")));
            }
        }

        let mut codecs = Vec::new();
        let mut extmaps = Vec::new();
        let mut ssrcs = Vec::new();
        let mut rtx_ssrcs = Vec::new();
        if is_rtp {
            for v in attrs(a, "rtpmap") {
                codecs.push(parse_rtpmap(v, &mid)?);
            }
            for fmt in &name.formats {
                let pt: u8 = fmt
                    .parse()
                    .ok()
                    .filter(|pt| *pt < 128)
                    .ok_or_else(|| error::invalid_sdp(format!("m-section {mid} lists payload type '{fmt}', not 0..=127")))?;
                if !codecs.iter().any(|c| c.payload_type == pt) {
                    if let Some(c) = static_codec(pt) {
                        codecs.push(c);
                    }
                }
            }
            for v in attrs(a, "fmtp") {
                let (pt, params) = split_pt(v, "fmtp", &mid)?;
                if let Some(c) = codecs.iter_mut().find(|c| c.payload_type == pt) {
                    c.fmtp = Some(params.to_string());
                }
            }
            for v in attrs(a, "rtcp-fb") {
                let (pt, fb) = v.split_once(' ').unwrap_or((v, ""));
                for c in codecs.iter_mut().filter(|c| pt == "*" || pt.parse() == Ok(c.payload_type)) {
                    c.feedback.push(fb.to_string());
                }
            }
            for v in attrs(a, "extmap") {
                let (id, rest) = v
                    .split_once(' ')
                    .ok_or_else(|| error::invalid_sdp(format!("a=extmap:{v} in m-section {mid} is malformed")))?;
                let id = id.split('/').next().unwrap_or("");
                let id: u8 = id
                    .parse()
                    .ok()
                    .filter(|id| (1..=255).contains(id))
                    .ok_or_else(|| error::invalid_sdp(format!("a=extmap id '{id}' in m-section {mid} is not 1..=255")))?;
                let uri = rest.split_whitespace().next().unwrap_or("").to_string();
                extmaps.push((id, uri));
            }
            let mut retransmission = HashSet::new();
            for v in attrs(a, "ssrc-group") {
                let mut parts = v.split_whitespace();
                if parts.next() == Some("FID") {
                    let group: Vec<u32> = parts
                        .map(|s| s.parse::<u32>())
                        .collect::<std::result::Result<_, _>>()
                        .map_err(|_| error::invalid_sdp(format!("a=ssrc-group:{v} in m-section {mid} has a bad SSRC")))?;
                    if let [primary, rtx, ..] = group[..] {
                        if rtx_ssrcs.len() < 64 {
                            rtx_ssrcs.push((primary, rtx));
                        }
                    }
                    retransmission.extend(group.into_iter().skip(1));
                }
            }
            for v in attrs(a, "ssrc") {
                let id = v.split(' ').next().unwrap_or("");
                let ssrc: u32 = id
                    .parse()
                    .map_err(|_| error::invalid_sdp(format!("a=ssrc:{v} in m-section {mid} has a bad SSRC")))?;
                if !retransmission.contains(&ssrc) && !ssrcs.contains(&ssrc) {
                    ssrcs.push(ssrc);
                }
            }
        }
        let data = match &media_type {
            MediaType::Other(m) if m == "application" && protocol.ends_with("DTLS/SCTP") && name.formats.iter().any(|f| f == "webrtc-datachannel") => {
                let sctp_port = match attr(a, "sctp-port") {
                    Some(v) => v.trim().parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                        error::invalid_sdp(format!("a=sctp-port:{v} in m-section {mid} is not a port number"))
                    })?,
                    None => 5000,
                };
                let max_message_size = match attr(a, "max-message-size") {
                    Some(v) => v.trim().parse::<u64>().map(|n| n.min(u32::MAX as u64) as u32).map_err(|_| {
                        error::invalid_sdp(format!("a=max-message-size:{v} in m-section {mid} is not a number"))
                    })?,
                    None => 65536,
                };
                Some(DataParams { sctp_port, max_message_size })
            }
            _ => None,
        };
        let candidates = attrs(a, "candidate").map(|c| format!("candidate:{c}")).collect();
        let end_of_candidates = attr(a, "end-of-candidates").is_some();
        media.push(RemoteMedia {
            mid,
            media_type,
            protocol,
            formats: name.formats.clone(),
            rejected,
            direction,
            codecs,
            extmaps,
            ssrcs,
            rtx_ssrcs,
            candidates,
            end_of_candidates,
            data,
        });
    }

    let (Some(ufrag), Some(pwd), Some(fingerprint), Some(setup)) = (ufrag, pwd, fingerprint, setup) else {
        return Err(error::invalid_sdp("every m-section is rejected (port 0): nothing to connect"));
    };
    if !(4..=256).contains(&ufrag.len()) || !ufrag.chars().all(is_ice_char) {
        return Err(error::invalid_sdp(format!("a=ice-ufrag '{ufrag}' must be 4 to 256 ice-chars")));
    }
    if !(22..=256).contains(&pwd.len()) || !pwd.chars().all(is_ice_char) {
        return Err(error::invalid_sdp("a=ice-pwd must be 22 to 256 ice-chars"));
    }
    let fingerprint = Fingerprint::parse(fingerprint)?;
    let setup = Setup::parse(setup)?;

    for mid in &bundle {
        if !media.iter().any(|m| &m.mid == mid) {
            return Err(error::invalid_sdp(format!("a=group:BUNDLE names mid '{mid}', which no m-section has")));
        }
    }
    let active: Vec<&RemoteMedia> = media.iter().filter(|m| !m.rejected).collect();
    if active.len() > 1 {
        if let Some(m) = active.iter().find(|m| !bundle.contains(&m.mid)) {
            return Err(error::invalid_sdp(format!(
                "m-section {} is not in a=group:BUNDLE; this library runs all media on one bundled transport",
                m.mid
            )));
        }
    }
    Ok(RemoteDescription {
        ice_ufrag: ufrag.to_string(),
        ice_pwd: pwd.to_string(),
        ice_lite: attr(session, "ice-lite").is_some(),
        fingerprint,
        setup,
        bundle,
        media,
    })
}

fn is_ice_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/'
}

fn split_pt<'a>(v: &'a str, what: &str, mid: &str) -> Result<(u8, &'a str)> {
    let (pt, rest) = v
        .split_once(' ')
        .ok_or_else(|| error::invalid_sdp(format!("a={what}:{v} in m-section {mid} is malformed")))?;
    let pt = pt
        .parse::<u8>()
        .ok()
        .filter(|p| *p < 128)
        .ok_or_else(|| error::invalid_sdp(format!("a={what}:{v} in m-section {mid} has a bad payload type")))?;
    Ok((pt, rest.trim()))
}

fn parse_rtpmap(v: &str, mid: &str) -> Result<RemoteCodec> {
    let (pt, enc) = split_pt(v, "rtpmap", mid)?;
    let mut parts = enc.split('/');
    let bad = || error::invalid_sdp(format!("a=rtpmap:{v} in m-section {mid} must be '<pt> <name>/<clock>[/<channels>]'"));
    let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
    let clock_rate: u32 = parts.next().and_then(|c| c.parse().ok()).filter(|c| *c > 0).ok_or_else(bad)?;
    let channels = match parts.next() {
        Some(c) => Some(c.parse::<u8>().ok().filter(|c| *c > 0).ok_or_else(bad)?),
        None => None,
    };
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(RemoteCodec { payload_type: pt, name: name.to_string(), clock_rate, channels, fmtp: None, feedback: vec![] })
}

/// RFC 3551 static payload types that may appear without an rtpmap.
fn static_codec(pt: u8) -> Option<RemoteCodec> {
    let (name, clock_rate) = match pt {
        0 => ("PCMU", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        _ => return None,
    };
    Some(RemoteCodec { payload_type: pt, name: name.into(), clock_rate, channels: None, fmtp: None, feedback: vec![] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_offer_fixture_parses() {
        let text = include_str!("../../tests/fixtures/chromium_offer.sdp");
        let d = parse(text).unwrap();
        assert_eq!(d.ice_ufrag, "SZsz");
        assert_eq!(d.setup, Setup::ActPass);
        assert_eq!(d.bundle, vec!["0", "1", "2"]);
        assert_eq!(d.media.len(), 3);
        let video = &d.media[1];
        assert_eq!(video.media_type, MediaType::Video);
        assert!(video.codecs.len() > 20);
        assert_eq!(video.ssrcs, vec![3760847509], "the FID retransmission SSRC is not a media SSRC");
        assert_eq!(video.extmap_id("urn:ietf:params:rtp-hdrext:sdes:mid"), Some(4));
        let vp8 = video.codecs.iter().find(|c| c.payload_type == 96).unwrap();
        assert_eq!(vp8.name, "VP8");
        assert!(vp8.feedback.iter().any(|f| f == "nack pli"));
        assert_eq!(d.media[0].codecs.iter().find(|c| c.payload_type == 111).unwrap().channels, Some(2));
        assert_eq!(d.media[2].media_type, MediaType::Other("application".into()));
        assert_eq!(d.media[0].candidates.len(), 2);
        assert!(d.media[0].candidates[0].starts_with("candidate:3349124021 1 udp"));
    }

    #[test]
    fn answers_from_real_peers_parse() {
        for text in [include_str!("../../tests/fixtures/aiortc_answer.sdp"), include_str!("../../tests/fixtures/chromium_answer.sdp")] {
            let d = parse(text).unwrap();
            assert_eq!(d.setup, Setup::Active);
            assert_eq!(d.media.len(), 3);
        }
    }

    #[test]
    fn broken_descriptions_name_their_problem() {
        let good = include_str!("../../tests/fixtures/chromium_offer.sdp");
        let cases: Vec<(String, &str)> = vec![
            (good.replace("a=ice-ufrag:SZsz\r\n", "").replace("a=ice-ufrag:SZsz\n", ""), "ice-ufrag"),
            (good.replace("a=mid:1", "a=mid:0"), "more than one"),
            (good.replace("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1 2 7"), "BUNDLE names mid '7'"),
            (good.replace("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 2"), "not in a=group:BUNDLE"),
            (good.replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus"), "rtpmap"),
            (good.replace("a=setup:actpass", "a=setup:sideways"), "setup"),
            (good.replace("sha-256 68:ED", "sha-256 68:ZZ"), "fingerprint"),
            (String::new(), "empty"),
            ("v=0\r\n".into(), "malformed"),
        ];
        for (text, needle) in cases {
            let e = parse(&text).expect_err(needle);
            assert!(e.message().contains(needle), "expected '{needle}' in '{}'", e.message());
        }
    }
}
