//! Depacketizers: the payloads of one frame's packets, in sequence order, back into the frame
//! a decoder takes. VP8 (RFC 7741) and VP9 (RFC 9628): payload descriptors removed. H.264
//! (RFC 6184: single NAL units, STAP-A, FU-A) and H.265 (RFC 7798: single, AP, FU) into an
//! Annex B byte stream. AV1 (the AV1 RTP payload format): OBU elements joined across packets
//! and written in the low-overhead bitstream format (each OBU with its size field), after a
//! temporal delimiter. Audio: the payload is the frame.
//!
//! Everything is checked against the bytes that are there: a truncated descriptor, a
//! fragment without its start, an aggregated length or an OBU size past the end is an error
//! (the jitter buffer drops the frame and counts it), never a read past the packet.
//!
//! `frame_start` answers from one payload whether its packet begins a frame, where the format
//! can tell (the jitter buffer uses it after a loss).

use crate::error::{self, Error, Result};
use crate::negotiation::Codec;

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Whether a packet with this payload starts a frame: `Some(true)` or `Some(false)` where
/// the payload format says so, `None` where it cannot tell.
pub fn frame_start(codec: Codec, payload: &[u8]) -> Option<bool> {
    match codec {
        Codec::Opus | Codec::Pcmu | Codec::Pcma | Codec::G722 => Some(true),
        Codec::Vp8 => {
            let b = *payload.first()?;
            Some(b & 0x10 != 0 && b & 0x07 == 0)
        }
        Codec::Vp9 => {
            let d = Vp9Descriptor::parse(payload).ok()?;
            Some(d.begins && d.spatial_id == 0)
        }
        Codec::H264 => {
            let b = *payload.first()?;
            match b & 0x1f {
                // A slice starts the picture when first_mb_in_slice (ue(v)) is 0: a 1 bit.
                1 | 5 => Some(payload.get(1)? & 0x80 != 0),
                6..=9 => Some(true),
                24 => {
                    let first = payload.get(3)? & 0x1f;
                    match first {
                        1 | 5 => Some(payload.get(4)? & 0x80 != 0),
                        _ => Some(true),
                    }
                }
                28 => {
                    let fu = *payload.get(1)?;
                    if fu & 0x80 == 0 {
                        return Some(false);
                    }
                    match fu & 0x1f {
                        1 | 5 => Some(payload.get(2)? & 0x80 != 0),
                        _ => Some(true),
                    }
                }
                _ => None,
            }
        }
        Codec::H265 => {
            let t = (payload.first()? >> 1) & 0x3f;
            let starts = |kind: u8, first_byte: Option<&u8>| -> Option<bool> {
                match kind {
                    // A slice segment: first_slice_segment_in_pic_flag, the first bit after the header.
                    0..=31 => Some(first_byte? & 0x80 != 0),
                    32..=40 => Some(true),
                    _ => None,
                }
            };
            match t {
                48 => starts((payload.get(4)? >> 1) & 0x3f, payload.get(6)),
                49 => {
                    let fu = *payload.get(2)?;
                    if fu & 0x80 == 0 {
                        return Some(false);
                    }
                    starts(fu & 0x3f, payload.get(3))
                }
                t => starts(t, payload.get(2)),
            }
        }
        Codec::Av1 => {
            let b = *payload.first()?;
            // N: the first packet of a coded video sequence. Otherwise a packet that does
            // not continue an OBU may still be a later tile group of the same frame.
            if b & 0x80 != 0 {
                Some(false)
            } else if b & 0x08 != 0 {
                Some(true)
            } else {
                None
            }
        }
    }
}

/// Writes the frame made of `payloads` (one frame's packets in order) into `out` (cleared
/// first). `scratch` holds an AV1 OBU while its fragments arrive. Returns whether the frame
/// is a keyframe (VP8/VP9 not inter-predicted, an H.264 IDR, an H.265 IRAP picture, an AV1
/// sequence header or new coded video sequence; audio frames count as keyframes).
pub fn depacketize<'a>(
    codec: Codec,
    payloads: impl Iterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<bool> {
    out.clear();
    match codec {
        Codec::Opus | Codec::Pcmu | Codec::Pcma | Codec::G722 => {
            for p in payloads {
                out.extend_from_slice(p);
            }
            if out.is_empty() {
                return Err(bad("an empty audio payload"));
            }
            Ok(true)
        }
        Codec::Vp8 => vp8(payloads, out),
        Codec::Vp9 => vp9(payloads, out),
        Codec::H264 => h264(payloads, out),
        Codec::Av1 => av1(payloads, out, scratch),
        Codec::H265 => h265(payloads, out),
    }
}

fn bad(what: impl Into<String>) -> Error {
    error::packet_rejected(what.into())
}

fn vp8<'a>(payloads: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) -> Result<bool> {
    let mut keyframe = false;
    for (i, p) in payloads.enumerate() {
        let first = *p.first().ok_or_else(|| bad("an empty VP8 payload"))?;
        let mut at = 1;
        if first & 0x80 != 0 {
            let x = *p.get(at).ok_or_else(|| bad("a VP8 descriptor truncated in its extension byte"))?;
            at += 1;
            if x & 0x80 != 0 {
                let m = *p.get(at).ok_or_else(|| bad("a VP8 descriptor truncated in its picture ID"))?;
                at += if m & 0x80 != 0 { 2 } else { 1 };
            }
            if x & 0x40 != 0 {
                at += 1;
            }
            if x & 0x30 != 0 {
                at += 1;
            }
        }
        if at >= p.len() {
            return Err(bad("a VP8 packet with no payload after its descriptor"));
        }
        if i == 0 {
            if first & 0x10 == 0 || first & 0x07 != 0 {
                return Err(bad("a VP8 frame whose first packet does not start partition 0"));
            }
            // The VP8 payload header's P bit: 0 for a key frame (RFC 6386 §9.1).
            keyframe = p[at] & 0x01 == 0;
        }
        out.extend_from_slice(&p[at..]);
    }
    if out.is_empty() {
        return Err(bad("a VP8 frame without packets"));
    }
    Ok(keyframe)
}

/// The fields of a VP9 payload descriptor (RFC 9628 §4.2) the receive path needs.
struct Vp9Descriptor {
    len: usize,
    inter_predicted: bool,
    begins: bool,
    spatial_id: u8,
}

impl Vp9Descriptor {
    fn parse(p: &[u8]) -> Result<Self> {
        let truncated = || bad("a VP9 payload descriptor is truncated");
        let b = *p.first().ok_or_else(truncated)?;
        let (i, pbit, l, f, begins, v) = (b & 0x80 != 0, b & 0x40 != 0, b & 0x20 != 0, b & 0x10 != 0, b & 0x08 != 0, b & 0x02 != 0);
        let mut at = 1;
        let byte = |at: usize| p.get(at).copied().ok_or_else(truncated);
        if i {
            at += if byte(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        let mut spatial_id = 0;
        if l {
            spatial_id = (byte(at)? >> 1) & 0x07;
            at += if f { 1 } else { 2 };
        }
        if f && pbit {
            // Up to three reference indices, each with N telling whether another follows.
            for k in 0..3 {
                let r = byte(at)?;
                at += 1;
                if r & 0x01 == 0 {
                    break;
                }
                if k == 2 {
                    return Err(bad("a VP9 descriptor with more than three reference indices"));
                }
            }
        }
        if v {
            let ss = byte(at)?;
            at += 1;
            let layers = ((ss >> 5) + 1) as usize;
            if ss & 0x10 != 0 {
                at += 4 * layers;
            }
            if ss & 0x08 != 0 {
                let groups = byte(at)?;
                at += 1;
                for _ in 0..groups {
                    let g = byte(at)?;
                    at += 1 + ((g >> 2) & 0x03) as usize;
                }
            }
        }
        if at > p.len() {
            return Err(truncated());
        }
        Ok(Vp9Descriptor { len: at, inter_predicted: pbit, begins, spatial_id })
    }
}

fn vp9<'a>(payloads: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) -> Result<bool> {
    let mut keyframe = false;
    for (i, p) in payloads.enumerate() {
        let d = Vp9Descriptor::parse(p)?;
        if d.len == p.len() {
            return Err(bad("a VP9 packet with no payload after its descriptor"));
        }
        if i == 0 {
            if !d.begins {
                return Err(bad("a VP9 frame whose first packet does not begin a layer frame"));
            }
            keyframe = !d.inter_predicted && d.spatial_id == 0;
        }
        out.extend_from_slice(&p[d.len..]);
    }
    if out.is_empty() {
        return Err(bad("a VP9 frame without packets"));
    }
    Ok(keyframe)
}

/// The NAL units of an aggregation packet's body (H.264 STAP-A, H.265 AP): each behind its
/// 2-byte size, at least `min` bytes (a NAL unit header), none past the end, at least one.
fn aggregated(mut rest: &[u8], min: usize, what: &str, mut each: impl FnMut(&[u8])) -> Result<()> {
    if rest.is_empty() {
        return Err(bad(format!("an empty {what}")));
    }
    while !rest.is_empty() {
        let [h, l, tail @ ..] = rest else {
            return Err(bad(format!("an {what} truncated inside a NAL unit size")));
        };
        let size = u16::from_be_bytes([*h, *l]) as usize;
        if size < min || size > tail.len() {
            return Err(bad(format!("an {what} NAL unit of {size} bytes where {} remain", tail.len())));
        }
        each(&tail[..size]);
        rest = &tail[size..];
    }
    Ok(())
}

fn h264<'a>(payloads: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) -> Result<bool> {
    let mut keyframe = false;
    let mut in_fu: Option<u8> = None;
    let nal = |out: &mut Vec<u8>, n: &[u8], keyframe: &mut bool| {
        *keyframe |= n[0] & 0x1f == 5;
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(n);
    };
    for p in payloads {
        let b = *p.first().ok_or_else(|| bad("an empty H.264 payload"))?;
        let kind = b & 0x1f;
        if in_fu.is_some() && kind != 28 {
            return Err(bad("an H.264 FU-A fragment sequence ended without its end bit"));
        }
        match kind {
            1..=23 => nal(out, p, &mut keyframe),
            24 => aggregated(&p[1..], 1, "H.264 STAP-A", |n| nal(out, n, &mut keyframe))?,
            28 => {
                let fu = *p.get(1).ok_or_else(|| bad("an H.264 FU-A without its FU header"))?;
                let (start, end, t) = (fu & 0x80 != 0, fu & 0x40 != 0, fu & 0x1f);
                if start {
                    if in_fu.is_some() {
                        return Err(bad("an H.264 FU-A start inside another fragmented NAL unit"));
                    }
                    keyframe |= t == 5;
                    out.extend_from_slice(&START_CODE);
                    out.push((b & 0xe0) | t);
                    in_fu = Some(t);
                } else if in_fu != Some(t) {
                    return Err(bad("an H.264 FU-A fragment without its start"));
                }
                out.extend_from_slice(&p[2..]);
                if end {
                    in_fu = None;
                }
            }
            t => return Err(error::unsupported(format!("H.264 NAL unit type {t} (STAP-B, MTAP, FU-B) is not supported"))),
        }
    }
    if in_fu.is_some() {
        return Err(bad("an H.264 frame ends inside a fragmented NAL unit"));
    }
    if out.is_empty() {
        return Err(bad("an H.264 frame without packets"));
    }
    Ok(keyframe)
}

fn h265<'a>(payloads: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) -> Result<bool> {
    let mut keyframe = false;
    let mut in_fu: Option<u8> = None;
    // IRAP pictures (BLA, IDR, CRA: types 16..=23) start a decodable sequence.
    let irap = |t: u8| (16..=23).contains(&t);
    let nal = |out: &mut Vec<u8>, n: &[u8], keyframe: &mut bool| {
        *keyframe |= irap((n[0] >> 1) & 0x3f);
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(n);
    };
    for p in payloads {
        // A NAL unit may be its header alone (end of sequence, end of bitstream).
        if p.len() < 2 {
            return Err(bad("an H.265 payload shorter than a NAL unit header"));
        }
        let kind = (p[0] >> 1) & 0x3f;
        if in_fu.is_some() && kind != 49 {
            return Err(bad("an H.265 fragmentation unit sequence ended without its end bit"));
        }
        match kind {
            0..=47 => nal(out, p, &mut keyframe),
            48 => aggregated(&p[2..], 2, "H.265 aggregation packet", |n| nal(out, n, &mut keyframe))?,
            49 => {
                let fu = *p.get(2).ok_or_else(|| bad("an H.265 fragmentation unit without its FU header"))?;
                let (start, end, t) = (fu & 0x80 != 0, fu & 0x40 != 0, fu & 0x3f);
                if start {
                    if in_fu.is_some() {
                        return Err(bad("an H.265 fragment start inside another fragmented NAL unit"));
                    }
                    keyframe |= irap(t);
                    out.extend_from_slice(&START_CODE);
                    out.push((p[0] & 0x81) | (t << 1));
                    out.push(p[1]);
                    in_fu = Some(t);
                } else if in_fu != Some(t) {
                    return Err(bad("an H.265 fragment without its start"));
                }
                out.extend_from_slice(&p[3..]);
                if end {
                    in_fu = None;
                }
            }
            t => return Err(error::unsupported(format!("H.265 payload type {t} (PACI or reserved) is not supported"))),
        }
    }
    if in_fu.is_some() {
        return Err(bad("an H.265 frame ends inside a fragmented NAL unit"));
    }
    if out.is_empty() {
        return Err(bad("an H.265 frame without packets"));
    }
    Ok(keyframe)
}

/// Reads a LEB128 value (at most 8 bytes, as AV1 allows) from the front of `p`.
fn leb128(p: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in p.iter().take(8).enumerate() {
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn put_leb128(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// OBU types (AV1 §6.2.2) the receive path looks at.
const OBU_SEQUENCE_HEADER: u8 = 1;
const OBU_TEMPORAL_DELIMITER: u8 = 2;
const OBU_TILE_LIST: u8 = 8;

/// Writes one whole OBU (as carried: its size field normally absent) with its size field.
/// Returns whether it was a sequence header.
fn av1_obu(out: &mut Vec<u8>, obu: &[u8]) -> Result<bool> {
    let h = *obu.first().ok_or_else(|| bad("an empty AV1 OBU element"))?;
    if h & 0x80 != 0 {
        return Err(bad("an AV1 OBU with its forbidden bit set"));
    }
    let kind = (h >> 3) & 0x0f;
    let header_len = if h & 0x04 != 0 { 2 } else { 1 };
    if obu.len() < header_len {
        return Err(bad("an AV1 OBU truncated in its extension header"));
    }
    if kind == OBU_TEMPORAL_DELIMITER || kind == OBU_TILE_LIST {
        return Ok(false); // not carried (the frame gets its own temporal delimiter)
    }
    if h & 0x02 != 0 {
        // The sender kept the size field: it must describe exactly this element.
        let (size, n) = leb128(&obu[header_len..]).ok_or_else(|| bad("an AV1 OBU size field is truncated"))?;
        if size != (obu.len() - header_len - n) as u64 {
            return Err(bad(format!("an AV1 OBU says {size} bytes where its element holds {}", obu.len() - header_len - n)));
        }
        out.extend_from_slice(obu);
    } else {
        out.push(h | 0x02);
        out.extend_from_slice(&obu[1..header_len]);
        put_leb128(out, obu.len() - header_len);
        out.extend_from_slice(&obu[header_len..]);
    }
    Ok(kind == OBU_SEQUENCE_HEADER)
}

fn av1<'a>(payloads: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>, pending: &mut Vec<u8>) -> Result<bool> {
    pending.clear();
    let mut open = false; // `pending` holds an OBU whose fragments continue
    let mut keyframe = false;
    out.extend_from_slice(&[(OBU_TEMPORAL_DELIMITER << 3) | 0x02, 0]);
    let mut first_packet = true;
    for p in payloads {
        let a = *p.first().ok_or_else(|| bad("an empty AV1 payload"))?;
        let (z, y, w, n) = (a & 0x80 != 0, a & 0x40 != 0, (a >> 4) & 0x03, a & 0x08 != 0);
        if first_packet {
            if z {
                return Err(bad("an AV1 frame whose first packet continues an OBU"));
            }
            keyframe |= n;
            first_packet = false;
        }
        if z != open {
            return Err(bad(if z { "an AV1 packet continues an OBU that was not left open" } else { "an AV1 OBU left open was not continued" }));
        }
        let mut rest = &p[1..];
        let mut index = 0u32;
        while !rest.is_empty() {
            index += 1;
            let last_by_count = w != 0 && index == w as u32;
            let element = if last_by_count {
                std::mem::take(&mut rest)
            } else {
                let (len, k) = leb128(rest).ok_or_else(|| bad("an AV1 element length is truncated"))?;
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > rest.len() - k {
                    return Err(bad(format!("an AV1 element of {len} bytes where {} remain", rest.len() - k)));
                }
                let e = &rest[k..k + len];
                rest = &rest[k + len..];
                e
            };
            let continues = index == 1 && z;
            if !continues && open {
                keyframe |= av1_obu(out, pending)?;
                pending.clear();
            }
            pending.extend_from_slice(element);
            open = true;
            if w != 0 && index > w as u32 {
                return Err(bad("an AV1 packet holds more elements than its W field says"));
            }
        }
        if index == 0 {
            return Err(bad("an AV1 packet without OBU elements"));
        }
        if !y {
            keyframe |= av1_obu(out, pending)?;
            pending.clear();
            open = false;
        }
    }
    if open {
        return Err(bad("an AV1 frame ends inside a fragmented OBU"));
    }
    if out.len() <= 2 {
        return Err(bad("an AV1 frame without OBUs"));
    }
    Ok(keyframe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::packetize::packetize;

    fn packets(codec: Codec, frame: &[u8]) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        packetize(codec, frame, |parts, _| {
            v.push(parts.concat());
            Ok(())
        })
        .unwrap();
        v
    }

    fn join(codec: Codec, ps: &[Vec<u8>]) -> Result<(Vec<u8>, bool)> {
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        let key = depacketize(codec, ps.iter().map(|p| p.as_slice()), &mut out, &mut scratch)?;
        Ok((out, key))
    }

    #[test]
    fn vp8_round_trip_and_keyframe_bit() {
        let mut frame: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        frame[0] = 0x10; // P = 0: a keyframe
        let ps = packets(Codec::Vp8, &frame);
        assert_eq!(frame_start(Codec::Vp8, &ps[0]), Some(true));
        assert_eq!(frame_start(Codec::Vp8, &ps[1]), Some(false));
        assert_eq!(join(Codec::Vp8, &ps).unwrap(), (frame.clone(), true));
        frame[0] = 0x11;
        assert!(!join(Codec::Vp8, &packets(Codec::Vp8, &frame)).unwrap().1);
        // Extended descriptor (I with a 15-bit picture ID, L, T/K) as Chromium sends it.
        let p = vec![0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 0x10, 0xaa];
        assert_eq!(join(Codec::Vp8, &[p]).unwrap(), (vec![0x10, 0xaa], true));
        assert!(join(Codec::Vp8, &[vec![0x90, 0x80]]).is_err(), "truncated picture ID");
        assert!(join(Codec::Vp8, &[ps[1].clone()]).is_err(), "no partition start");
    }

    #[test]
    fn h264_round_trip_to_annex_b() {
        let sps = [0x67u8, 0x42, 0xe0, 0x1f];
        let pps = [0x68u8, 0xce, 0x3c, 0x80];
        let idr: Vec<u8> = std::iter::once(0x65u8).chain((0..4000u32).map(|i| (i % 251) as u8 | 0x81)).collect();
        let mut stream = START_CODE.to_vec();
        for n in [&sps[..], &pps[..], &idr[..]] {
            stream.extend_from_slice(n);
            stream.extend_from_slice(&START_CODE);
        }
        stream.truncate(stream.len() - 4);
        let ps = packets(Codec::H264, &stream);
        assert_eq!(frame_start(Codec::H264, &ps[0]), Some(true), "STAP-A of SPS, PPS");
        assert_eq!(frame_start(Codec::H264, &ps[1]), Some(true), "the IDR's FU-A start, first_mb 0");
        assert_eq!(frame_start(Codec::H264, &ps[2]), Some(false));
        assert_eq!(join(Codec::H264, &ps).unwrap(), (stream, true));
        // Fragments without their start, lengths past the end, missing end bit.
        assert!(join(Codec::H264, &ps[2..]).is_err());
        assert!(join(Codec::H264, &[vec![24, 0, 9, 0x67, 1]]).is_err());
        assert!(join(Codec::H264, &[vec![24, 0]]).is_err());
        assert!(join(Codec::H264, &ps[..3]).is_err(), "ends inside the FU-A");
        assert!(join(Codec::H264, &[vec![29, 0x80, 1]]).is_err(), "FU-B");
        assert!(!join(Codec::H264, &[vec![0x41, 0x9a, 1]]).unwrap().1, "a non-IDR slice");
    }

    #[test]
    fn vp9_descriptors_are_parsed_and_removed() {
        // I (15-bit), L (non-flexible: +TL0PICIDX), B, E, V with Y and G.
        let mut p = vec![0xee, 0x81, 0x02, 0x00, 0x07];
        p.extend_from_slice(&[0x18, 0x01, 0x40, 0x00, 0xf0, 0x01, 0x04, 0x01]); // SS: 1 layer, Y, G, 1 group R=1
        p.extend_from_slice(&[0x82, 0x49, 0x83]);
        let d = Vp9Descriptor::parse(&p).unwrap();
        assert_eq!(d.len, p.len() - 3);
        let (frame, key) = join(Codec::Vp9, &[p.clone()]).unwrap();
        assert_eq!(frame, vec![0x82, 0x49, 0x83]);
        assert!(!key, "P is set");
        assert!(join(Codec::Vp9, &[vec![0x8c]]).is_err(), "truncated picture ID");
        assert!(join(Codec::Vp9, &[vec![0x5c, 0x03, 0x03, 0x03, 0x00]]).is_err(), "four reference indices");
        assert!(join(Codec::Vp9, &[vec![0x04, 0x01]]).is_err(), "no begin bit on the first");
        assert_eq!(join(Codec::Vp9, &[vec![0x0c, 0x82]]).unwrap(), (vec![0x82], true));
    }

    #[test]
    fn av1_elements_are_joined_and_sized() {
        // Packet 1: W=2, a sequence header (element with length) and the start of a frame
        // OBU (the last element, Y set); packet 2: Z set, the rest of the frame OBU.
        let seq = [0x08u8, 0x00, 0x00, 0x00];
        let frame_obu_a = [0x30u8, 1, 2, 3];
        let frame_obu_b = [4u8, 5];
        let mut p1 = vec![0x40 | 0x20 | 0x08, seq.len() as u8];
        p1.extend_from_slice(&seq);
        p1.extend_from_slice(&frame_obu_a);
        let mut p2 = vec![0x80 | 0x10];
        p2.extend_from_slice(&frame_obu_b);
        assert_eq!(frame_start(Codec::Av1, &p1), Some(true));
        assert_eq!(frame_start(Codec::Av1, &p2), Some(false));
        let (out, key) = join(Codec::Av1, &[p1.clone(), p2.clone()]).unwrap();
        assert!(key);
        assert_eq!(out, vec![0x12, 0, 0x0a, 3, 0, 0, 0, 0x32, 5, 1, 2, 3, 4, 5]);
        // Sizes past the end, a continuation never opened, a fragment never closed.
        assert!(join(Codec::Av1, &[vec![0x00, 9, 0x30, 1]]).is_err());
        assert!(join(Codec::Av1, &[p2.clone()]).is_err());
        assert!(join(Codec::Av1, &[p1.clone()]).is_err());
        assert!(join(Codec::Av1, &[vec![0x10, 0xb0, 1]]).is_err(), "forbidden bit");
        // A temporal delimiter the sender kept is dropped (the frame has its own).
        let (out, key) = join(Codec::Av1, &[vec![0x00, 1, 0x10, 2, 0x30, 7]]).unwrap();
        assert_eq!((out, key), (vec![0x12, 0, 0x32, 1, 7], false));
    }

    #[test]
    fn vp9_and_av1_round_trip_through_the_packetizers() {
        let mut frame: Vec<u8> = vec![0x82, 0x49, 0x83];
        frame.extend((0..3000u32).map(|i| (i * 13) as u8));
        let ps = packets(Codec::Vp9, &frame);
        assert_eq!(ps.len(), 3);
        assert_eq!((ps[0][0], ps[1][0], ps[2][0]), (0x08, 0x00, 0x04), "B first, E last, P clear on a key frame");
        assert_eq!(join(Codec::Vp9, &ps).unwrap(), (frame.clone(), true));
        frame[0] = 0x86; // frame_type 1
        let ps = packets(Codec::Vp9, &frame);
        assert!(ps.iter().all(|p| p[0] & 0x40 != 0));
        assert_eq!(join(Codec::Vp9, &ps).unwrap(), (frame, false));

        // A temporal unit: delimiter, sequence header, a frame OBU of 3,000 bytes, a small one.
        let mut tu = vec![0x12, 0x00, 0x0a, 0x03, 0xaa, 0xbb, 0xcc];
        tu.extend_from_slice(&[0x32, 0xb8, 0x17]); // size 3000
        tu.extend((0..3000u32).map(|i| (i * 7) as u8));
        tu.extend_from_slice(&[0x2a, 0x01, 0x5a]); // metadata-sized OBU of 1 byte (type 5)
        let ps = packets(Codec::Av1, &tu);
        assert!(ps.len() >= 3 && ps.iter().all(|p| p.len() <= crate::rtp::packetize::FRAGMENT), "{:?}", ps.iter().map(|p| p.len()).collect::<Vec<_>>());
        assert_eq!(ps[0][0] & 0x88, 0x08, "N on the first, no Z");
        assert!(ps[0][0] & 0x40 != 0 && ps[1][0] & 0xc0 == 0xc0, "Y then Z");
        assert!(ps[1..].iter().all(|p| p[0] & 0x08 == 0));
        let (out, key) = join(Codec::Av1, &ps).unwrap();
        assert!(key);
        assert_eq!(out, tu, "the temporal unit comes back as it was written");
        assert!(packetize(Codec::Av1, &[0x32, 0x10, 1], |_, _| Ok(())).is_err(), "size past the end");
    }

    #[test]
    fn h265_round_trip_and_bad_input() {
        // VPS, SPS, PPS (aggregated), then an IDR_W_RADL slice (type 19) of 4,000 bytes.
        let vps = [0x40u8, 0x01, 0x0c, 0x01];
        let sps = [0x42u8, 0x01, 0x01, 0x01];
        let pps = [0x44u8, 0x01, 0xc1, 0x72];
        let idr: Vec<u8> = [0x26u8, 0x01, 0xaf].into_iter().chain((0..4000u32).map(|i| (i % 251) as u8 | 1)).collect();
        let mut stream = Vec::new();
        for n in [&vps[..], &sps[..], &pps[..], &idr[..]] {
            stream.extend_from_slice(&START_CODE);
            stream.extend_from_slice(n);
        }
        let ps = packets(Codec::H265, &stream);
        assert_eq!((ps[0][0] >> 1) & 0x3f, 48, "an aggregation packet first");
        assert!(ps[1..].iter().all(|p| (p[0] >> 1) & 0x3f == 49 && p.len() <= crate::rtp::packetize::FRAGMENT));
        assert_eq!(frame_start(Codec::H265, &ps[0]), Some(true));
        assert_eq!(frame_start(Codec::H265, &ps[1]), Some(true), "the IDR's first fragment, first slice segment");
        assert_eq!(frame_start(Codec::H265, &ps[2]), Some(false));
        assert_eq!(join(Codec::H265, &ps).unwrap(), (stream, true));
        assert!(join(Codec::H265, &ps[2..]).is_err(), "fragments without their start");
        assert!(join(Codec::H265, &[vec![0x60, 0x01, 0x00, 0x09, 0x40]]).is_err(), "aggregated size past the end");
        assert!(join(Codec::H265, &[vec![0x64, 0x01, 0x00]]).is_err(), "PACI");
        let trail = [0x02u8, 0x01, 0x80]; // TRAIL_R, first slice segment
        assert_eq!(join(Codec::H265, &[trail.to_vec()]).unwrap().1, false);
        assert!(packetize(Codec::H265, &[0, 0, 1, 0x62, 0x01, 0x05], |_, _| Ok(())).is_err(), "a type-49 NAL in the stream");
        // An end-of-sequence NAL unit is its header alone (the fuzz target's find).
        assert_eq!(join(Codec::H265, &packets(Codec::H265, &[0, 0, 1, 0x48, 0x01])).unwrap().0, vec![0, 0, 0, 1, 0x48, 0x01]);
        assert!(join(Codec::H265, &[vec![0x62, 0x01]]).is_err(), "an FU without its header");
    }
}
