//! RTP payload formats of whole frames (`Session::send_frame`): an audio frame (Opus, PCMU,
//! PCMA, G722) is one packet; a VP8 frame (RFC 7741) is cut into fragments that fill
//! `FRAGMENT` bytes, each behind a one-byte payload descriptor (S set on the frame's first,
//! partition index 0), the marker on the last. VP9, H.264 and AV1 are still to come (issue
//! #14) and are refused with a reason rather than sent wrong.

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
        Codec::Vp9 | Codec::H264 | Codec::Av1 => Err(error::unsupported(format!(
            "sending whole {} frames is not implemented yet (issue #14); packetize and use send_rtp",
            codec.encoding_name()
        ))),
    }
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
        let e = packetize(Codec::H264, &[0, 0, 1, 0x65], |_, _| Ok(())).unwrap_err();
        assert!(e.message().contains("issue #14"), "{}", e.message());
    }
}
