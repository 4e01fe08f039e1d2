//! RTP and RTCP framing: header views over borrowed bytes, header writing for packets the library
//! builds, and the RFC 5761 / RFC 7983 classification of what arrives on the shared transport.

use crate::error::{self, Result};

pub mod depacketize;
pub mod jitter;
pub mod packetize;

pub const RTP_HEADER_LEN: usize = 12;
/// The URI of the BUNDLE demultiplexing header extension (RFC 8843).
pub const MID_EXTENSION_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";

/// What a datagram on the ICE transport carries, by its first byte (RFC 7983).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramKind {
    Stun,
    Dtls,
    Rtp,
    Rtcp,
    Unknown,
}

pub fn classify(datagram: &[u8]) -> DatagramKind {
    match datagram.first() {
        Some(0..=3) => DatagramKind::Stun,
        Some(20..=63) => DatagramKind::Dtls,
        Some(128..=191) if datagram.len() >= 2 => {
            // RFC 5761 §4: RTCP packet types 192..=223 occupy the marker+PT byte range 64..=95.
            if (64..=95).contains(&(datagram[1] & 0x7f)) {
                DatagramKind::Rtcp
            } else {
                DatagramKind::Rtp
            }
        }
        _ => DatagramKind::Unknown,
    }
}

/// A validated view of an RTP header.
#[derive(Debug, Clone, Copy)]
pub struct RtpHeader<'a> {
    packet: &'a [u8],
    /// Bytes of fixed header, CSRCs and extension block.
    pub header_len: usize,
    extension: Option<(u16, &'a [u8])>,
}

impl<'a> RtpHeader<'a> {
    pub fn parse(packet: &'a [u8]) -> Result<Self> {
        if packet.len() < RTP_HEADER_LEN {
            return Err(error::packet_rejected(format!(
                "RTP packet of {} bytes is shorter than the 12-byte header",
                packet.len()
            )));
        }
        if packet[0] >> 6 != 2 {
            return Err(error::packet_rejected(format!(
                "RTP version is {}, expected 2",
                packet[0] >> 6
            )));
        }
        let csrc_count = (packet[0] & 0x0f) as usize;
        let mut len = RTP_HEADER_LEN + 4 * csrc_count;
        if packet.len() < len {
            return Err(error::packet_rejected("RTP packet is truncated inside its CSRC list"));
        }
        let mut extension = None;
        if packet[0] & 0x10 != 0 {
            if packet.len() < len + 4 {
                return Err(error::packet_rejected("RTP packet is truncated inside its extension header"));
            }
            let profile = u16::from_be_bytes([packet[len], packet[len + 1]]);
            let words = u16::from_be_bytes([packet[len + 2], packet[len + 3]]) as usize;
            let body_start = len + 4;
            len = body_start + 4 * words;
            if packet.len() < len {
                return Err(error::packet_rejected("RTP packet is truncated inside its header extension"));
            }
            let body = &packet[body_start..len];
            if !extension_elements_fit(profile, body) {
                return Err(error::packet_rejected("an RTP header extension element runs past its block"));
            }
            extension = Some((profile, body));
        }
        if packet[0] & 0x20 != 0 {
            let pad = *packet.last().unwrap_or(&0) as usize;
            if pad == 0 || len + pad > packet.len() {
                return Err(error::packet_rejected("RTP padding length is invalid"));
            }
        }
        Ok(RtpHeader { packet, header_len: len, extension })
    }

    pub fn marker(&self) -> bool {
        self.packet[1] & 0x80 != 0
    }
    pub fn payload_type(&self) -> u8 {
        self.packet[1] & 0x7f
    }
    pub fn sequence_number(&self) -> u16 {
        u16::from_be_bytes([self.packet[2], self.packet[3]])
    }
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.packet[4], self.packet[5], self.packet[6], self.packet[7]])
    }
    pub fn ssrc(&self) -> u32 {
        ssrc_of(self.packet)
    }
    pub fn payload(&self) -> &'a [u8] {
        let end = if self.packet[0] & 0x20 != 0 {
            self.packet.len() - *self.packet.last().unwrap_or(&0) as usize
        } else {
            self.packet.len()
        };
        &self.packet[self.header_len..end]
    }

    /// Where the value of element `id` starts in the packet, and its length.
    pub fn extension_at(&self, id: u8) -> Option<(usize, usize)> {
        let v = self.extension(id)?;
        Some((v.as_ptr() as usize - self.packet.as_ptr() as usize, v.len()))
    }

    /// The value of header extension element `id` (RFC 8285 one-byte or two-byte form).
    pub fn extension(&self, id: u8) -> Option<&'a [u8]> {
        let (profile, mut body) = self.extension?;
        let two_byte = match profile {
            0xBEDE => false,
            p if p & 0xfff0 == 0x1000 => true,
            _ => return None,
        };
        while !body.is_empty() {
            if body[0] == 0 {
                body = &body[1..];
                continue;
            }
            let (elem_id, len, start) = if two_byte {
                (body[0], *body.get(1)? as usize, 2)
            } else {
                if body[0] >> 4 == 15 {
                    return None;
                }
                (body[0] >> 4, (body[0] & 0x0f) as usize + 1, 1)
            };
            let value = body.get(start..start + len)?;
            if elem_id == id {
                return Some(value);
            }
            body = &body[start + len..];
        }
        None
    }
}

/// Whether every RFC 8285 element lies inside the extension block (other profiles are opaque).
/// Checked before SRTP sees the packet: its RTP parser trusts element lengths.
fn extension_elements_fit(profile: u16, mut body: &[u8]) -> bool {
    let two_byte = match profile {
        0xBEDE => false,
        p if p & 0xfff0 == 0x1000 => true,
        _ => return true,
    };
    while let Some(&first) = body.first() {
        if first == 0 {
            body = &body[1..];
            continue;
        }
        let (start, len) = if two_byte {
            match body.get(1) {
                Some(l) => (2, *l as usize),
                None => return false,
            }
        } else if first >> 4 == 15 {
            return true; // reserved id: parsing stops here (RFC 8285 §4.2)
        } else {
            (1, (first & 0x0f) as usize + 1)
        };
        match body.get(start + len..) {
            Some(rest) => body = rest,
            None => return false,
        }
    }
    true
}

/// The SSRC field of an RTP packet of at least 12 bytes.
pub fn ssrc_of(packet: &[u8]) -> u32 {
    u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]])
}

pub fn set_ssrc(packet: &mut [u8], ssrc: u32) {
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

/// Writes an RTP header (with an optional one-byte-form `mid` extension) at the start of `out`
/// and returns its length. `out` must have room for 12 + 4 + 4 * ceil((1 + mid.len()) / 4) bytes.
pub fn write_header(
    out: &mut [u8],
    payload_type: u8,
    marker: bool,
    sequence_number: u16,
    timestamp: u32,
    ssrc: u32,
    mid: Option<(u8, &[u8])>,
) -> usize {
    out[0] = 0x80;
    out[1] = (payload_type & 0x7f) | if marker { 0x80 } else { 0 };
    out[2..4].copy_from_slice(&sequence_number.to_be_bytes());
    out[4..8].copy_from_slice(&timestamp.to_be_bytes());
    out[8..12].copy_from_slice(&ssrc.to_be_bytes());
    let Some((id, value)) = mid else {
        return RTP_HEADER_LEN;
    };
    out[0] |= 0x10;
    let words = (1 + value.len()).div_ceil(4);
    out[12..14].copy_from_slice(&0xBEDEu16.to_be_bytes());
    out[14..16].copy_from_slice(&(words as u16).to_be_bytes());
    out[16] = (id << 4) | (value.len() as u8 - 1);
    out[17..17 + value.len()].copy_from_slice(value);
    let end = 16 + 4 * words;
    out[17 + value.len()..end].fill(0);
    end
}

/// Bytes a transport-wide sequence number element can add to a header (a new block).
pub const TRANSPORT_SEQUENCE_ROOM: usize = 8;

/// Makes room for the transport-wide sequence number (element `id`, two bytes) in the RTP
/// header at `buf[..header_len]` (already validated): the packet's own element of that id is
/// reused, else one is appended to its RFC 8285 block, else a block is added. What follows
/// `header_len` in `buf` is not moved: the caller writes the payload after the new header.
/// Returns the new header length and where the two bytes go; None (header unchanged) when
/// the header cannot carry it (another extension profile, an id above 14 in a one-byte
/// block, an element of that id of another length, a block ended by id 15).
/// `buf` needs `TRANSPORT_SEQUENCE_ROOM` bytes past `header_len`.
pub fn add_transport_sequence(buf: &mut [u8], header_len: usize, id: u8) -> Option<(usize, usize)> {
    if id == 0 || buf.len() < header_len + TRANSPORT_SEQUENCE_ROOM {
        return None;
    }
    let fixed = RTP_HEADER_LEN + 4 * (buf[0] & 0x0f) as usize;
    if buf[0] & 0x10 == 0 {
        if header_len != fixed {
            return None;
        }
        buf[0] |= 0x10;
        let element: [u8; 4] = if id <= 14 { [(id << 4) | 1, 0, 0, 0] } else { [id, 2, 0, 0] };
        let profile: u16 = if id <= 14 { 0xBEDE } else { 0x1000 };
        buf[fixed..fixed + 2].copy_from_slice(&profile.to_be_bytes());
        buf[fixed + 2..fixed + 4].copy_from_slice(&1u16.to_be_bytes());
        buf[fixed + 4..fixed + 8].copy_from_slice(&element);
        let at = if id <= 14 { fixed + 5 } else { fixed + 6 };
        return Some((fixed + 8, at));
    }
    let profile = u16::from_be_bytes([buf[fixed], buf[fixed + 1]]);
    let words = u16::from_be_bytes([buf[fixed + 2], buf[fixed + 3]]);
    let two_byte = match profile {
        0xBEDE if id <= 14 => false,
        p if p & 0xfff0 == 0x1000 => true,
        _ => return None,
    };
    let mut at = fixed + 4;
    while at < header_len {
        let b = buf[at];
        if b == 0 {
            at += 1;
            continue;
        }
        let (elem, len, start) = if two_byte {
            (b, *buf.get(at + 1)? as usize, 2)
        } else if b >> 4 == 15 {
            return None;
        } else {
            (b >> 4, (b & 0x0f) as usize + 1, 1)
        };
        if elem == id {
            return (len == 2).then_some((header_len, at + start));
        }
        at += start + len;
    }
    if words == u16::MAX {
        return None;
    }
    let element: [u8; 4] = if two_byte { [id, 2, 0, 0] } else { [(id << 4) | 1, 0, 0, 0] };
    buf[header_len..header_len + 4].copy_from_slice(&element);
    buf[fixed + 2..fixed + 4].copy_from_slice(&(words + 1).to_be_bytes());
    Some((header_len + 4, header_len + if two_byte { 2 } else { 1 }))
}

/// Checks that `packet` is a compound RTCP packet (RFC 3550 §6.1): every part has version 2 and
/// the lengths add up exactly.
pub fn validate_rtcp(packet: &[u8]) -> Result<()> {
    if packet.len() < 8 {
        return Err(error::packet_rejected(format!(
            "RTCP packet of {} bytes is shorter than the 8-byte minimum",
            packet.len()
        )));
    }
    let mut rest = packet;
    while !rest.is_empty() {
        if rest.len() < 4 || rest[0] >> 6 != 2 {
            return Err(error::packet_rejected("RTCP packet has a part without version 2"));
        }
        if !(192..=223).contains(&rest[1]) {
            return Err(error::packet_rejected(format!("RTCP packet type {} is outside 192..=223", rest[1])));
        }
        let len = 4 * (u16::from_be_bytes([rest[2], rest[3]]) as usize + 1);
        if len > rest.len() {
            return Err(error::packet_rejected("RTCP length field runs past the end of the packet"));
        }
        rest = &rest[len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_with_mid_extension_round_trips() {
        let mut buf = [0u8; 64];
        let n = write_header(&mut buf, 111, true, 65535, 12345, 0xdeadbeef, Some((3, b"1")));
        buf[n..n + 3].copy_from_slice(b"abc");
        let h = RtpHeader::parse(&buf[..n + 3]).unwrap();
        assert!(h.marker());
        assert_eq!(h.payload_type(), 111);
        assert_eq!(h.sequence_number(), 65535);
        assert_eq!(h.timestamp(), 12345);
        assert_eq!(h.ssrc(), 0xdeadbeef);
        assert_eq!(h.extension(3), Some(&b"1"[..]));
        assert_eq!(h.extension(4), None);
        assert_eq!(h.payload(), b"abc");
        assert_eq!(classify(&buf[..n + 3]), DatagramKind::Rtp);
    }

    #[test]
    fn truncated_and_bad_headers_are_rejected() {
        assert!(RtpHeader::parse(&[0x80; 11]).is_err());
        assert!(RtpHeader::parse(&[0x40; 12]).is_err());
        let mut b = [0u8; 12];
        b[0] = 0x81; // one CSRC announced, none present
        assert!(RtpHeader::parse(&b).is_err());
        b[0] = 0x90; // extension announced, none present
        assert!(RtpHeader::parse(&b).is_err());
    }

    #[test]
    fn extension_elements_must_fit_their_block() {
        // One-byte form: element 1 claims 16 bytes in a 4-byte block.
        let mut p = vec![0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 0x1F, 1, 2, 3];
        p.extend_from_slice(&[0x13; 40]);
        assert!(RtpHeader::parse(&p).is_err());
        // Two-byte form: element claims 200 bytes.
        let q = [0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x10, 0x00, 0, 1, 5, 200, 0, 0];
        assert!(RtpHeader::parse(&q).is_err());
        // What the datagram fuzzer found (webrtc-srtp's RTP parser panicked on it).
        let crash = include_bytes!("../../fuzz/seeds/datagram/regression-rtp-extension-length");
        assert!(RtpHeader::parse(crash).is_err());
    }

    #[test]
    fn classification_follows_rfc7983_and_rfc5761() {
        assert_eq!(classify(&[0, 1]), DatagramKind::Stun);
        assert_eq!(classify(&[22, 254]), DatagramKind::Dtls);
        assert_eq!(classify(&[0x80, 200]), DatagramKind::Rtcp);
        assert_eq!(classify(&[0x80, 0x80 | 96]), DatagramKind::Rtp);
        assert_eq!(classify(&[]), DatagramKind::Unknown);
        assert_eq!(classify(&[255]), DatagramKind::Unknown);
    }

    #[test]
    fn rtcp_validation() {
        // A receiver report with no blocks: 8 bytes, length field 1.
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
        assert!(validate_rtcp(&rr).is_ok());
        assert!(validate_rtcp(&rr[..7]).is_err());
        let mut bad = rr;
        bad[3] = 5;
        assert!(validate_rtcp(&bad).is_err());
    }

    #[test]
    fn transport_sequence_is_added_reused_or_refused() {
        let id = 5;
        fn check<'a>(buf: &'a mut [u8], header_len: usize, payload: &[u8]) -> RtpHeader<'a> {
            let (h, at) = add_transport_sequence(buf, header_len, 5).unwrap();
            buf[at..at + 2].copy_from_slice(&0x1234u16.to_be_bytes());
            buf[h..h + payload.len()].copy_from_slice(payload);
            let p = RtpHeader::parse(&buf[..h + payload.len()]).unwrap();
            assert_eq!(p.extension(5), Some(&[0x12, 0x34][..]));
            assert_eq!(p.payload(), payload);
            p
        }
        // No extension: a one-byte block is added.
        let mut buf = [0u8; 64];
        let n = write_header(&mut buf, 96, true, 7, 9, 1, None);
        check(&mut buf, n, b"xyz");
        // A mid block: appended, mid kept.
        let n = write_header(&mut buf, 96, true, 7, 9, 1, Some((3, b"0")));
        let p = check(&mut buf, n, b"xyz");
        assert_eq!(p.extension(3), Some(&b"0"[..]));
        // Its own element of that id (a browser's packet echoed): reused in place.
        let mut buf = [0u8; 64];
        let n = write_header(&mut buf, 96, true, 7, 9, 1, None);
        add_transport_sequence(&mut buf, n, id).unwrap();
        let (h, _) = add_transport_sequence(&mut buf, n + 8, id).unwrap();
        assert_eq!(h, n + 8);
        // Two-byte block: appended in that form; id 20 needs it.
        let mut buf = [0u8; 64];
        buf[0] = 0x90;
        buf[12..16].copy_from_slice(&[0x10, 0x00, 0, 1]);
        buf[16..20].copy_from_slice(&[7, 1, 0xaa, 0]);
        let (h, at) = add_transport_sequence(&mut buf, 20, id).unwrap();
        assert_eq!((h, at), (24, 22));
        let mut buf = [0u8; 64];
        let n = write_header(&mut buf, 96, true, 7, 9, 1, None);
        assert_eq!(add_transport_sequence(&mut buf, n, 20), Some((20, 18)));
        assert_eq!(&buf[12..16], &[0x10, 0x00, 0, 1]);
        // Refused: another profile; a one-byte block for id 20; wrong length of that id.
        let mut buf = [0u8; 64];
        buf[0] = 0x90;
        buf[12..16].copy_from_slice(&[0xab, 0xcd, 0, 1]);
        assert_eq!(add_transport_sequence(&mut buf, 20, id), None);
        let mut buf = [0u8; 64];
        let n = write_header(&mut buf, 96, true, 7, 9, 1, Some((3, b"0")));
        assert_eq!(add_transport_sequence(&mut buf, n, 20), None);
        let n = write_header(&mut buf, 96, true, 7, 9, 1, Some((id, b"0")));
        assert_eq!(add_transport_sequence(&mut buf, n, id), None);
    }
}
