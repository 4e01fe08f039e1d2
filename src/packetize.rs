//! RTP payload formats of whole frames (`Session::send_frame`): an audio frame (Opus, PCMU,
//! PCMA, G722) is one packet; a VP8 frame (RFC 7741) is cut into fragments that fill
//! `FRAGMENT` bytes, each behind a one-byte payload descriptor (S set on the frame's first,
//! partition index 0), the marker on the last. An H.264 access unit in Annex B form (RFC 6184,
//! packetization mode 1): NAL units split on their start codes, small neighbours (SPS, PPS)
//! aggregated in STAP-A, a NAL that fits sent alone, a larger one in FU-A fragments. VP9 and
//! AV1 are still to come (issue #14) and are refused with a reason rather than sent wrong.

use crate::error::{self, Result};
use crate::negotiation::Codec;

/// Payload bytes of a video fragment (descriptor included): fits the library's largest packet
/// with the mid and transport-wide extensions.
pub const FRAGMENT: usize = 1200;
/// The largest frame accepted (a 4 MB keyframe is about 3,500 packets).
pub const MAX_FRAME: usize = 4 << 20;

/// Calls `send(parts, last)` for each packet of `frame`: `parts` laid end to end is the
/// packet's payload. Stops at the first error.
pub fn packetize(codec: Codec, frame: &[u8], mut send: impl FnMut(&[&[u8]], bool) -> Result<()>) -> Result<()> {
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
        Codec::H264 => h264(frame, send),
        Codec::Vp9 | Codec::Av1 => Err(error::unsupported(format!(
            "sending whole {} frames is not implemented yet (issue #14); packetize and use send_rtp",
            codec.encoding_name()
        ))),
    }
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

fn h264(frame: &[u8], mut send: impl FnMut(&[&[u8]], bool) -> Result<()>) -> Result<()> {
    let mut nals = nal_units(frame).peekable();
    if nals.peek().is_none() {
        return Err(error::packet_rejected("an H.264 frame without an Annex B start code and NAL unit"));
    }
    while let Some(nal) = nals.next() {
        // Aggregate a run of small units that fit one packet together.
        let mut group: [&[u8]; MAX_AGGREGATED] = [&[]; MAX_AGGREGATED];
        let mut count = 0;
        let mut size = 1;
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
            let nri = group[..count].iter().map(|n| n[0] & 0x60).max().unwrap_or(0);
            let header = [nri | 24];
            let mut sizes = [[0u8; 2]; MAX_AGGREGATED];
            let mut parts: [&[u8]; 1 + 2 * MAX_AGGREGATED] = [&[]; 1 + 2 * MAX_AGGREGATED];
            parts[0] = &header;
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
            // FU-A: the NAL header's F/NRI in the indicator, its type in the FU header.
            let indicator = [(nal[0] & 0xe0) | 28];
            let chunks = nal[1..].chunks(FRAGMENT - 2);
            let n = chunks.len();
            for (k, chunk) in chunks.enumerate() {
                let start = if k == 0 { 0x80 } else { 0 };
                let end = if k + 1 == n { 0x40 } else { 0 };
                let fu = [start | end | (nal[0] & 0x1f)];
                send(&[&indicator, &fu, chunk], last && k + 1 == n)?;
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
        let e = packetize(Codec::Av1, &[0x12, 0], |_, _| Ok(())).unwrap_err();
        assert!(e.message().contains("issue #14"), "{}", e.message());
        assert!(packetize(Codec::H264, &[1, 2, 3, 4], |_, _| Ok(())).is_err(), "no start code");
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
