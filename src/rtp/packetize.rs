//! RTP payload formats of whole frames (`Session::send_frame`): an audio frame (Opus, PCMU,
//! PCMA, G722) is one packet; a VP8 frame (RFC 7741) is cut into fragments that fill
//! `FRAGMENT` bytes, each behind a one-byte payload descriptor (S set on the frame's first,
//! partition index 0), the marker on the last. An H.264 access unit in Annex B form (RFC 6184,
//! packetization mode 1): NAL units split on their start codes, small neighbours (SPS, PPS)
//! aggregated in STAP-A, a NAL that fits sent alone, a larger one in FU-A fragments. A VP9
//! frame (RFC 9628, without picture IDs or layers, as for VP8): B on the first packet, E on
//! the last, P unless the frame's uncompressed header says key frame. An AV1 temporal unit
//! in the low-overhead bitstream format (the AV1 RTP payload format): OBUs without their
//! size fields as length-prefixed elements (W = 0), temporal delimiters and tile lists left
//! out, an OBU that does not fit continued in the next packet (Y, then Z), N on the first
//! packet of a temporal unit with a sequence header.

use crate::error::{self, Result};
use crate::negotiation::Codec;

/// Payload bytes of a video fragment (descriptor included): fits the library's largest packet
/// with the mid and transport-wide extensions.
pub const FRAGMENT: usize = 1200;
/// The largest frame accepted (a 4 MB keyframe is about 3,500 packets).
pub const MAX_FRAME: usize = 4 << 20;

/// Calls `send(parts, last)` for each packet of `frame`: `parts` laid end to end is the
/// packet's payload. Stops at the first error.
pub fn packetize(codec: Codec, frame: &[u8], send: impl FnMut(&[&[u8]], bool) -> Result<()>) -> Result<()> {
    packetize_with(codec, false, frame, send)
}

/// `packetize`, where `single_nal_units` restricts H.264 to packetization mode 0: each NAL
/// unit alone (one larger than a packet is refused: encode with smaller slices).
pub fn packetize_with(codec: Codec, single_nal_units: bool, frame: &[u8], mut send: impl FnMut(&[&[u8]], bool) -> Result<()>) -> Result<()> {
    if frame.is_empty() {
        return Err(error::packet_rejected("an empty frame"));
    }
    if frame.len() > MAX_FRAME {
        return Err(error::packet_rejected(format!("a frame of {} bytes exceeds the {MAX_FRAME}-byte limit", frame.len())));
    }
    match codec {
        Codec::Opus | Codec::Pcmu | Codec::Pcma | Codec::G722 => send(&[frame], true),
        Codec::Vp8 => {
            let chunks = frame.chunks(FRAGMENT - 1);
            let n = chunks.len();
            for (i, chunk) in chunks.enumerate() {
                let descriptor = [if i == 0 { 0x10 } else { 0x00 }];
                send(&[&descriptor, chunk], i + 1 == n)?;
            }
            Ok(())
        }
        Codec::H264 => h264(frame, single_nal_units, send),
        Codec::Vp9 => {
            let inter = !vp9_keyframe(frame)?;
            let chunks = frame.chunks(FRAGMENT - 1);
            let n = chunks.len();
            for (i, chunk) in chunks.enumerate() {
                let b = if i == 0 { 0x08 } else { 0 };
                let e = if i + 1 == n { 0x04 } else { 0 };
                let descriptor = [b | e | if inter { 0x40 } else { 0 }];
                send(&[&descriptor, chunk], i + 1 == n)?;
            }
            Ok(())
        }
        Codec::Av1 => av1(frame, send),
        Codec::H265 => h265(frame, send),
    }
}

/// An H.265 access unit from Annex B (RFC 7798, one RTP stream, no DONL): small neighbours
/// in aggregation packets (type 48), a NAL unit that fits alone, larger ones in
/// fragmentation units (type 49).
fn h265(frame: &[u8], send: impl FnMut(&[&[u8]], bool) -> Result<()>) -> Result<()> {
    let mut nals = nal_units(frame).peekable();
    if nals.peek().is_none() {
        return Err(error::packet_rejected("an H.265 frame without an Annex B start code and NAL unit"));
    }
    if let Some(n) = nal_units(frame).find(|n| n.len() < 2 || n[0] & 0x80 != 0 || (n[0] >> 1) & 0x3f >= 48) {
        return Err(error::packet_rejected(format!(
            "an H.265 frame with a NAL unit a stream does not carry (header {:02x?}: too short, forbidden bit, or type 48..63)",
            &n[..n.len().min(2)]
        )));
    }
    nal_packets(nals, &H265_UNITS, send)
}

/// Whether a VP9 frame is a key frame, from its uncompressed header (VP9 §6.2): frame
/// marker, profile, show_existing_frame, frame_type. A superframe's first frame decides.
fn vp9_keyframe(frame: &[u8]) -> Result<bool> {
    let b = frame[0];
    if b >> 6 != 0b10 {
        return Err(error::packet_rejected("a VP9 frame without the frame marker of its uncompressed header"));
    }
    let profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
    // Bits after the profile: a reserved zero for profile 3, then show_existing_frame and
    // frame_type (0: key frame).
    let at = if profile == 3 { 3 } else { 2 };
    let show_existing = (b >> (5 - at)) & 1 == 1;
    let frame_type = (b >> (4 - at)) & 1;
    Ok(!show_existing && frame_type == 0)
}

/// OBU types (AV1 §6.2.2).
const OBU_SEQUENCE_HEADER: u8 = 1;
const OBU_TEMPORAL_DELIMITER: u8 = 2;
const OBU_TILE_LIST: u8 = 8;
const OBU_PADDING: u8 = 15;

/// Elements per AV1 packet at most.
const MAX_ELEMENTS: usize = 8;

/// The OBUs of a temporal unit in the low-overhead format: (header bytes, payload).
fn obus(tu: &[u8]) -> impl Iterator<Item = Result<(&[u8], &[u8])>> {
    let mut rest = tu;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let h = rest[0];
        let header_len = if h & 0x04 != 0 { 2 } else { 1 };
        let fail = |m: &str| {
            Some(Err(error::packet_rejected(format!("an AV1 temporal unit with {m}"))))
        };
        if h & 0x80 != 0 {
            return fail("an OBU whose forbidden bit is set");
        }
        if rest.len() < header_len {
            return fail("an OBU truncated in its header");
        }
        let (header, body) = rest.split_at(header_len);
        if h & 0x02 == 0 {
            // No size field: the OBU runs to the end.
            rest = &[];
            return Some(Ok((header, body)));
        }
        let mut size = 0u64;
        let mut n = 0;
        loop {
            let Some(b) = body.get(n) else { return fail("an OBU size field truncated") };
            size |= ((b & 0x7f) as u64) << (7 * n);
            n += 1;
            if b & 0x80 == 0 {
                break;
            }
            if n == 8 {
                return fail("an OBU size field longer than 8 bytes");
            }
        }
        if size > (body.len() - n) as u64 {
            return fail("an OBU size past the end");
        }
        let size = size as usize;
        rest = &body[n + size..];
        Some(Ok((header, &body[n..n + size])))
    })
}

fn leb128(v: usize, out: &mut [u8; 3]) -> usize {
    let mut v = v;
    let mut n = 0;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        out[n] = if v == 0 { b } else { b | 0x80 };
        n += 1;
        if v == 0 {
            return n;
        }
    }
}

/// One AV1 packet being filled: its elements' length prefixes, OBU headers (size bit
/// cleared, first fragment only) and payload slices.
struct Av1Packet<'a> {
    z: bool,
    count: usize,
    size: usize,
    lengths: [[u8; 3]; MAX_ELEMENTS],
    length_len: [usize; MAX_ELEMENTS],
    headers: [[u8; 2]; MAX_ELEMENTS],
    header_len: [usize; MAX_ELEMENTS],
    bodies: [&'a [u8]; MAX_ELEMENTS],
}

impl<'a> Av1Packet<'a> {
    fn new(z: bool) -> Self {
        Av1Packet {
            z,
            count: 0,
            size: 1,
            lengths: [[0; 3]; MAX_ELEMENTS],
            length_len: [0; MAX_ELEMENTS],
            headers: [[0; 2]; MAX_ELEMENTS],
            header_len: [0; MAX_ELEMENTS],
            bodies: [&[]; MAX_ELEMENTS],
        }
    }

    fn push(&mut self, header: &[u8], body: &'a [u8]) {
        let k = self.count;
        self.headers[k][..header.len()].copy_from_slice(header);
        self.header_len[k] = header.len();
        self.bodies[k] = body;
        self.length_len[k] = leb128(header.len() + body.len(), &mut self.lengths[k]);
        self.size += self.length_len[k] + header.len() + body.len();
        self.count += 1;
    }

    fn send(&self, y: bool, n: bool, last: bool, send: &mut impl FnMut(&[&[u8]], bool) -> Result<()>) -> Result<()> {
        let aggregation = [(if self.z { 0x80 } else { 0 }) | (if y { 0x40 } else { 0 }) | (if n { 0x08 } else { 0 })];
        let mut parts: [&[u8]; 1 + 3 * MAX_ELEMENTS] = [&[]; 1 + 3 * MAX_ELEMENTS];
        parts[0] = &aggregation;
        for k in 0..self.count {
            parts[1 + 3 * k] = &self.lengths[k][..self.length_len[k]];
            parts[2 + 3 * k] = &self.headers[k][..self.header_len[k]];
            parts[3 + 3 * k] = self.bodies[k];
        }
        send(&parts[..1 + 3 * self.count], last)
    }
}

fn av1(tu: &[u8], mut send: impl FnMut(&[&[u8]], bool) -> Result<()>) -> Result<()> {
    // First pass: validate, and find whether a sequence header starts a coded video sequence.
    let mut sequence_header = false;
    let mut any = false;
    for obu in obus(tu) {
        let (h, _) = obu?;
        let kind = (h[0] >> 3) & 0x0f;
        sequence_header |= kind == OBU_SEQUENCE_HEADER;
        any |= !matches!(kind, OBU_TEMPORAL_DELIMITER | OBU_TILE_LIST | OBU_PADDING);
    }
    if !any {
        return Err(error::packet_rejected("an AV1 temporal unit without OBUs to send"));
    }
    let mut first_packet = true;
    let mut packet = Av1Packet::new(false);
    let mut pending: Option<(bool, Av1Packet<'_>)> = None;
    // A full packet waits in `pending` until the next one exists: only then is it known not
    // to be the last.
    fn flush<'a>(
        p: Av1Packet<'a>,
        y: bool,
        pending: &mut Option<(bool, Av1Packet<'a>)>,
        first: &mut bool,
        sequence_header: bool,
        send: &mut impl FnMut(&[&[u8]], bool) -> Result<()>,
    ) -> Result<()> {
        if let Some((py, pp)) = pending.take() {
            let n = std::mem::replace(first, false) && sequence_header;
            pp.send(py, n, false, send)?;
        }
        *pending = Some((y, p));
        Ok(())
    }
    for obu in obus(tu) {
        let (h, body) = obu?;
        let kind = (h[0] >> 3) & 0x0f;
        if matches!(kind, OBU_TEMPORAL_DELIMITER | OBU_TILE_LIST | OBU_PADDING) {
            continue;
        }
        let mut header = [h[0] & !0x02, 0];
        if h.len() == 2 {
            header[1] = h[1];
        }
        let header = &header[..h.len()];
        let mut rest = body;
        let mut first_fragment = true;
        loop {
            let head = if first_fragment { header } else { &[][..] };
            // Room for this element's fragment: the length prefix takes at most 2 bytes here.
            let room = FRAGMENT.saturating_sub(packet.size + 2 + head.len());
            if packet.count == MAX_ELEMENTS || room == 0 || (first_fragment && room < 8 && rest.len() > room) {
                let full = std::mem::replace(&mut packet, Av1Packet::new(false));
                flush(full, false, &mut pending, &mut first_packet, sequence_header, &mut send)?;
                continue;
            }
            let take = rest.len().min(room);
            packet.push(head, &rest[..take]);
            rest = &rest[take..];
            first_fragment = false;
            if rest.is_empty() {
                break;
            }
            // The OBU continues in the next packet.
            let full = std::mem::replace(&mut packet, Av1Packet::new(true));
            flush(full, true, &mut pending, &mut first_packet, sequence_header, &mut send)?;
        }
    }
    if packet.count > 0 {
        flush(packet, false, &mut pending, &mut first_packet, sequence_header, &mut send)?;
    }
    if let Some((y, p)) = pending.take() {
        let n = first_packet && sequence_header;
        p.send(y, n, true, &mut send)?;
    }
    Ok(())
}

/// NAL units per STAP-A at most (they are SPS, PPS and the like).
const MAX_AGGREGATED: usize = 8;

/// The NAL units of an Annex B byte stream (start codes 00 00 01 or 00 00 00 01; trailing
/// zero bytes of a unit belong to the next start code), found as they are read.
fn nal_units(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let start_code = |b: &[u8]| b.windows(3).position(|w| w == [0, 0, 1]);
    let mut rest = start_code(stream).map(|i| &stream[i + 3..]);
    std::iter::from_fn(move || loop {
        let r = rest?;
        let (mut nal, next) = match start_code(r) {
            Some(i) => (&r[..i], Some(&r[i + 3..])),
            None => (r, None),
        };
        rest = next;
        while let [head @ .., 0] = nal {
            nal = head;
        }
        if !nal.is_empty() {
            return Some(nal);
        }
    })
}

fn h264(frame: &[u8], single_nal_units: bool, mut send: impl FnMut(&[&[u8]], bool) -> Result<()>) -> Result<()> {
    let mut nals = nal_units(frame).peekable();
    if nals.peek().is_none() {
        return Err(error::packet_rejected("an H.264 frame without an Annex B start code and NAL unit"));
    }
    // Types 0 and 24..=31 are unspecified in H.264 streams (RFC 6184 gives 24..=29 to its
    // aggregation and fragmentation units): sent alone, a receiver would read them as such.
    if let Some(n) = nal_units(frame).find(|n| matches!(n[0] & 0x1f, 0 | 24..=31) || n[0] & 0x80 != 0) {
        return Err(error::packet_rejected(format!(
            "an H.264 frame with a NAL unit of type {}{}, which a stream does not carry",
            n[0] & 0x1f,
            if n[0] & 0x80 != 0 { " and its forbidden bit set" } else { "" }
        )));
    }
    if single_nal_units {
        if let Some(n) = nal_units(frame).find(|n| n.len() > FRAGMENT) {
            return Err(error::packet_rejected(format!(
                "packetization mode 0 (negotiated) cannot carry a NAL unit of {} bytes (at most {FRAGMENT}): encode with smaller slices",
                n.len()
            )));
        }
        while let Some(nal) = nals.next() {
            send(&[nal], nals.peek().is_none())?;
        }
        return Ok(());
    }
    nal_packets(nals, &H264_UNITS, send)
}

/// How H.264 (RFC 6184) and H.265 (RFC 7798) carry NAL units: the NAL header's length, and
/// the headers of an aggregation packet (STAP-A / AP) and of a fragmentation unit (FU-A /
/// FU, whose own FU header is S, E and the NAL type alike in both).
struct NalUnits {
    header_len: usize,
    aggregation: fn(&[&[u8]]) -> [u8; 2],
    /// The fragmentation unit's payload header and the NAL type for its FU header.
    fragment: fn(&[u8]) -> ([u8; 2], u8),
}

const H264_UNITS: NalUnits = NalUnits {
    header_len: 1,
    // STAP-A: the highest NRI of its units.
    aggregation: |g| [g.iter().map(|n| n[0] & 0x60).max().unwrap_or(0) | 24, 0],
    // FU-A: the NAL header's F/NRI in the indicator, its type in the FU header.
    fragment: |n| ([(n[0] & 0xe0) | 28, 0], n[0] & 0x1f),
};

const H265_UNITS: NalUnits = NalUnits {
    header_len: 2,
    // The aggregation packet's LayerId and TID: the lowest of its units (RFC 7798 §4.4.2).
    aggregation: |g| {
        let layer = g.iter().map(|n| ((n[0] as u16 & 1) << 5) | (n[1] as u16 >> 3)).min().unwrap_or(0);
        let tid = g.iter().map(|n| n[1] & 0x07).min().unwrap_or(1);
        [(48 << 1) | (layer >> 5) as u8, (((layer & 0x1f) as u8) << 3) | tid]
    },
    fragment: |n| ([(n[0] & 0x81) | (49 << 1), n[1]], (n[0] >> 1) & 0x3f),
};

/// Packets for a run of NAL units: small neighbours aggregated (each behind its 2-byte
/// size), a unit that fits alone, a larger one in fragmentation units; the marker on the last.
fn nal_packets<'a>(
    mut nals: std::iter::Peekable<impl Iterator<Item = &'a [u8]>>,
    f: &NalUnits,
    mut send: impl FnMut(&[&[u8]], bool) -> Result<()>,
) -> Result<()> {
    while let Some(nal) = nals.next() {
        // Aggregate a run of small units that fit one packet together.
        let mut group: [&[u8]; MAX_AGGREGATED] = [&[]; MAX_AGGREGATED];
        let mut count = 0;
        let mut size = f.header_len;
        if size + 2 + nal.len() <= FRAGMENT {
            group[0] = nal;
            count = 1;
            size += 2 + nal.len();
            while count < MAX_AGGREGATED {
                match nals.next_if(|n| size + 2 + n.len() <= FRAGMENT) {
                    Some(n) => {
                        group[count] = n;
                        count += 1;
                        size += 2 + n.len();
                    }
                    None => break,
                }
            }
        }
        let last = nals.peek().is_none();
        if count >= 2 {
            let header = (f.aggregation)(&group[..count]);
            let mut sizes = [[0u8; 2]; MAX_AGGREGATED];
            let mut parts: [&[u8]; 1 + 2 * MAX_AGGREGATED] = [&[]; 1 + 2 * MAX_AGGREGATED];
            parts[0] = &header[..f.header_len];
            for (k, n) in group[..count].iter().enumerate() {
                sizes[k] = (n.len() as u16).to_be_bytes();
            }
            for (k, n) in group[..count].iter().enumerate() {
                parts[1 + 2 * k] = &sizes[k];
                parts[2 + 2 * k] = n;
            }
            send(&parts[..1 + 2 * count], last)?;
        } else if nal.len() <= FRAGMENT {
            send(&[nal], last)?;
        } else {
            let (header, kind) = (f.fragment)(nal);
            let header = &header[..f.header_len];
            let chunks = nal[f.header_len..].chunks(FRAGMENT - f.header_len - 1);
            let n = chunks.len();
            for (k, chunk) in chunks.enumerate() {
                let start = if k == 0 { 0x80 } else { 0 };
                let end = if k + 1 == n { 0x40 } else { 0 };
                let fu = [start | end | kind];
                send(&[header, &fu, chunk], last && k + 1 == n)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_frames_are_cut_behind_descriptors_with_the_marker_last() {
        let frame: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let mut packets: Vec<(Vec<u8>, bool)> = Vec::new();
        packetize(Codec::Vp8, &frame, |parts, last| {
            packets.push((parts.concat(), last));
            Ok(())
        })
        .unwrap();
        assert_eq!(packets.len(), 3);
        assert_eq!(packets.iter().map(|p| p.1).collect::<Vec<_>>(), vec![false, false, true]);
        assert_eq!(packets[0].0[0], 0x10);
        assert!(packets[1..].iter().all(|p| p.0[0] == 0));
        assert!(packets.iter().all(|p| p.0.len() <= FRAGMENT));
        let joined: Vec<u8> = packets.iter().flat_map(|p| p.0[1..].to_vec()).collect();
        assert_eq!(joined, frame, "the fragments are the frame");
    }

    #[test]
    fn audio_is_one_packet_and_bad_frames_are_refused() {
        let mut n = 0;
        packetize(Codec::Opus, &[1, 2, 3], |parts, last| {
            assert_eq!((parts, last), (&[&[1u8, 2, 3][..]][..], true));
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1);
        assert!(packetize(Codec::Vp8, &[], |_, _| Ok(())).is_err());
        assert!(packetize(Codec::Vp8, &vec![0; MAX_FRAME + 1], |_, _| Ok(())).is_err());
        assert!(packetize(Codec::Av1, &[0x12, 0], |_, _| Ok(())).is_err(), "only a temporal delimiter");
        assert!(packetize(Codec::Vp9, &[0x00, 0], |_, _| Ok(())).is_err(), "no VP9 frame marker");
        assert!(packetize(Codec::H264, &[1, 2, 3, 4], |_, _| Ok(())).is_err(), "no start code");
        assert!(packetize(Codec::H264, &[0, 0, 0, 1, 0x7c, 0x18, 0x45], |_, _| Ok(())).is_err(), "a NAL of type 28 (FU-A)");
        assert!(packetize(Codec::H264, &[0, 0, 1, 0xe5, 1], |_, _| Ok(())).is_err(), "the forbidden bit");
    }

    #[test]
    fn h264_mode_0_sends_single_nal_units_only() {
        let stream = [0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 0x88, 0x84];
        let mut packets = Vec::new();
        packetize_with(Codec::H264, true, &stream, |parts, last| {
            packets.push((parts.concat(), last));
            Ok(())
        })
        .unwrap();
        assert_eq!(packets, vec![(vec![0x67, 0x42], false), (vec![0x68, 0xce], false), (vec![0x65, 0x88, 0x84], true)]);
        let mut big = vec![0, 0, 1, 0x65];
        big.extend(std::iter::repeat(0x11).take(2000));
        let e = packetize_with(Codec::H264, true, &big, |_, _| Ok(())).unwrap_err();
        assert!(e.message().contains("packetization mode 0"), "{}", e.message());
    }

    #[test]
    fn h264_aggregates_small_units_and_fragments_large_ones() {
        let sps = [0x67u8, 0x42, 0xe0, 0x1f, 0xaa];
        let pps = [0x68u8, 0xce, 0x3c, 0x80];
        let idr: Vec<u8> = std::iter::once(0x65u8).chain((0..3000u32).map(|i| (i % 251) as u8 | 1)).collect();
        let mut stream = vec![0, 0, 0, 1];
        stream.extend_from_slice(&sps);
        stream.extend_from_slice(&[0, 0, 1]);
        stream.extend_from_slice(&pps);
        stream.extend_from_slice(&[0, 0, 0, 1]);
        stream.extend_from_slice(&idr);
        let mut packets: Vec<(Vec<u8>, bool)> = Vec::new();
        packetize(Codec::H264, &stream, |parts, last| {
            packets.push((parts.concat(), last));
            Ok(())
        })
        .unwrap();
        // STAP-A(SPS, PPS), then the IDR in three FU-A fragments.
        assert_eq!(packets.len(), 4, "{:?}", packets.iter().map(|p| p.0.len()).collect::<Vec<_>>());
        let stap = &packets[0].0;
        assert_eq!(stap[0] & 0x1f, 24);
        assert_eq!(&stap[1..3], &(sps.len() as u16).to_be_bytes());
        assert_eq!(&stap[3..3 + sps.len()], &sps);
        assert_eq!(&stap[3 + sps.len() + 2..], &pps);
        let fus = &packets[1..];
        assert!(fus.iter().all(|p| p.0[0] & 0x1f == 28 && p.0[1] & 0x1f == 5 && p.0.len() <= FRAGMENT));
        assert_eq!((fus[0].0[1] & 0x80, fus[2].0[1] & 0x40), (0x80, 0x40), "start and end bits");
        let rebuilt: Vec<u8> = std::iter::once(0x65).chain(fus.iter().flat_map(|p| p.0[2..].to_vec())).collect();
        assert_eq!(rebuilt, idr);
        assert_eq!(packets.iter().map(|p| p.1).collect::<Vec<_>>(), vec![false, false, false, true], "marker on the last");
    }
}
