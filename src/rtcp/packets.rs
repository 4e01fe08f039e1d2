//! Reading and writing RTCP packets (RFC 3550 §6, RFC 4585, RFC 5104): sender and receiver
//! reports with their report blocks, SDES CNAME, BYE, generic NACK, PLI and FIR. Reading is
//! bounded by the packet: a count or length that points past it ends the compound packet
//! there, and nothing allocates more than the packet's own size.

/// One report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    pub extended_highest_sequence: u32,
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received from this source.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    SenderReport { ssrc: u32, ntp: u64, rtp_timestamp: u32, packets: u32, octets: u32, blocks: Vec<ReportBlock> },
    ReceiverReport { ssrc: u32, blocks: Vec<ReportBlock> },
    /// The CNAME items of an SDES packet (other items skipped).
    Sdes { cnames: Vec<(u32, &'a [u8])> },
    Bye { ssrcs: Vec<u32> },
    /// Generic NACK (RFC 4585 §6.2.1): the lost sequence numbers, expanded from PID + BLP.
    Nack { sender: u32, media: u32, lost: Vec<u16> },
    /// Picture loss indication (RFC 4585 §6.3.1).
    Pli { sender: u32, media: u32 },
    /// Full intra request (RFC 5104 §4.3.1): (SSRC, command sequence number) entries.
    Fir { sender: u32, requests: Vec<(u32, u8)> },
    /// Transport-wide feedback (RTPFB FMT 15), the whole packet from its header
    /// (`twcc::parse_feedback` reads it).
    TransportFeedback(&'a [u8]),
    /// Receiver estimated maximum bitrate (PSFB FMT 15, "REMB"): bits per second, and the
    /// SSRCs it concerns.
    Remb { sender: u32, bitrate: u64, ssrcs: Vec<u32> },
    /// Anything else (APP, XR...): packet type and FMT.
    Other { packet_type: u8, fmt: u8 },
}

pub const SR: u8 = 200;
pub const RR: u8 = 201;
pub const SDES: u8 = 202;
pub const BYE: u8 = 203;
pub const RTPFB: u8 = 205;
pub const PSFB: u8 = 206;

/// Most NACK entries read from one packet: each expands to 17 sequence numbers, and a storm
/// asking for everything must not cost more than this.
pub const MAX_NACK_ENTRIES: usize = 64;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
}

fn block(b: &[u8]) -> Option<ReportBlock> {
    let lost = be32(b, 4)?;
    let cumulative = (lost & 0x00ff_ffff) as i32;
    Some(ReportBlock {
        ssrc: be32(b, 0)?,
        fraction_lost: (lost >> 24) as u8,
        // Sign-extend the 24-bit count.
        cumulative_lost: if cumulative & 0x0080_0000 != 0 { cumulative - 0x0100_0000 } else { cumulative },
        extended_highest_sequence: be32(b, 8)?,
        jitter: be32(b, 12)?,
        last_sr: be32(b, 16)?,
        delay_since_last_sr: be32(b, 20)?,
    })
}

fn blocks(b: &[u8], count: usize) -> Vec<ReportBlock> {
    (0..count).map_while(|i| b.get(i * 24..i * 24 + 24).and_then(block)).collect()
}

/// The packets of a compound RTCP packet, in order; stops at the first malformed header.
pub fn parse(compound: &[u8]) -> Vec<Packet<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(h) = compound.get(at..at + 4) {
        if h[0] >> 6 != 2 {
            break;
        }
        let count = (h[0] & 0x1f) as usize;
        let pt = h[1];
        let len = (u16::from_be_bytes([h[2], h[3]]) as usize + 1) * 4;
        let Some(p) = compound.get(at..at + len) else { break };
        at += len;
        // Padding (P bit) only on the last packet; its count is in the last byte.
        let body_end = if h[0] & 0x20 != 0 { len.saturating_sub(*p.last().unwrap_or(&0) as usize).max(4) } else { len };
        let p = &p[..body_end];
        let packet = match pt {
            SR => {
                let (Some(ssrc), Some(hi), Some(lo), Some(rtp), Some(pk), Some(oc)) =
                    (be32(p, 4), be32(p, 8), be32(p, 12), be32(p, 16), be32(p, 20), be32(p, 24))
                else {
                    continue;
                };
                Packet::SenderReport {
                    ssrc,
                    ntp: (hi as u64) << 32 | lo as u64,
                    rtp_timestamp: rtp,
                    packets: pk,
                    octets: oc,
                    blocks: blocks(&p[28.min(p.len())..], count),
                }
            }
            RR => {
                let Some(ssrc) = be32(p, 4) else { continue };
                Packet::ReceiverReport { ssrc, blocks: blocks(&p[8.min(p.len())..], count) }
            }
            SDES => Packet::Sdes { cnames: sdes_cnames(&p[4..], count) },
            BYE => Packet::Bye { ssrcs: (0..count).map_while(|i| be32(p, 4 + 4 * i)).collect() },
            RTPFB if count == 1 => {
                let (Some(sender), Some(media)) = (be32(p, 4), be32(p, 8)) else { continue };
                let mut lost = Vec::new();
                for fci in p[12.min(p.len())..].chunks_exact(4).take(MAX_NACK_ENTRIES) {
                    let pid = u16::from_be_bytes([fci[0], fci[1]]);
                    let blp = u16::from_be_bytes([fci[2], fci[3]]);
                    lost.push(pid);
                    for bit in 0..16 {
                        if blp & (1 << bit) != 0 {
                            lost.push(pid.wrapping_add(bit + 1));
                        }
                    }
                }
                Packet::Nack { sender, media, lost }
            }
            RTPFB if count == 15 => Packet::TransportFeedback(p),
            PSFB if count == 15 && p.get(12..16) == Some(b"REMB") => {
                let (Some(sender), Some(&n), Some(b)) = (be32(p, 4), p.get(16), p.get(17..20)) else { continue };
                let exponent = b[0] >> 2;
                let mantissa = ((b[0] & 3) as u64) << 16 | (b[1] as u64) << 8 | b[2] as u64;
                // An exponent past 46 overflows 64 bits: such a cap means no cap.
                let bitrate = if exponent > 46 { u64::MAX } else { mantissa << exponent };
                let ssrcs = (0..n as usize).map_while(|i| be32(p, 20 + 4 * i)).collect();
                Packet::Remb { sender, bitrate, ssrcs }
            }
            PSFB if count == 1 => {
                let (Some(sender), Some(media)) = (be32(p, 4), be32(p, 8)) else { continue };
                Packet::Pli { sender, media }
            }
            PSFB if count == 4 => {
                let Some(sender) = be32(p, 4) else { continue };
                let requests = p[12.min(p.len())..].chunks_exact(8).map(|e| (be32(e, 0).unwrap_or(0), e[4])).collect();
                Packet::Fir { sender, requests }
            }
            _ => Packet::Other { packet_type: pt, fmt: count as u8 },
        };
        out.push(packet);
    }
    out
}

fn sdes_cnames(mut b: &[u8], chunks: usize) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    for _ in 0..chunks {
        let Some(ssrc) = be32(b, 0) else { break };
        let mut at = 4;
        let mut cname = None;
        // Items until a zero type; the chunk then pads to a 32-bit boundary.
        while let Some(&kind) = b.get(at) {
            if kind == 0 {
                at += 1;
                break;
            }
            let Some(&len) = b.get(at + 1) else { return out };
            let Some(text) = b.get(at + 2..at + 2 + len as usize) else { return out };
            if kind == 1 {
                cname = Some(text);
            }
            at += 2 + len as usize;
        }
        if let Some(c) = cname {
            out.push((ssrc, c));
        }
        at = at.div_ceil(4) * 4;
        b = b.get(at..).unwrap_or(&[]);
    }
    out
}

/// Appends RTCP packets to a buffer; each writer method adds one packet.
pub struct Writer<'b> {
    buf: &'b mut Vec<u8>,
}

impl<'b> Writer<'b> {
    pub fn new(buf: &'b mut Vec<u8>) -> Self {
        Writer { buf }
    }

    fn header(&mut self, count: u8, pt: u8, words_after_header: usize) {
        self.buf.push(0x80 | (count & 0x1f));
        self.buf.push(pt);
        self.buf.extend_from_slice(&(words_after_header as u16).to_be_bytes());
    }

    fn blocks(&mut self, blocks: &[ReportBlock]) {
        for b in blocks {
            self.buf.extend_from_slice(&b.ssrc.to_be_bytes());
            let lost = (b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0x00ff_ffff;
            self.buf.extend_from_slice(&((b.fraction_lost as u32) << 24 | lost).to_be_bytes());
            self.buf.extend_from_slice(&b.extended_highest_sequence.to_be_bytes());
            self.buf.extend_from_slice(&b.jitter.to_be_bytes());
            self.buf.extend_from_slice(&b.last_sr.to_be_bytes());
            self.buf.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
        }
    }

    /// A sender report with at most 31 report blocks (the rest are dropped).
    pub fn sender_report(&mut self, ssrc: u32, ntp: u64, rtp_timestamp: u32, packets: u32, octets: u32, blocks: &[ReportBlock]) {
        let blocks = &blocks[..blocks.len().min(31)];
        self.header(blocks.len() as u8, SR, 6 + 6 * blocks.len());
        for v in [ssrc, (ntp >> 32) as u32, ntp as u32, rtp_timestamp, packets, octets] {
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
        self.blocks(blocks);
    }

    /// A receiver report with at most 31 report blocks.
    pub fn receiver_report(&mut self, ssrc: u32, blocks: &[ReportBlock]) {
        let blocks = &blocks[..blocks.len().min(31)];
        self.header(blocks.len() as u8, RR, 1 + 6 * blocks.len());
        self.buf.extend_from_slice(&ssrc.to_be_bytes());
        self.blocks(blocks);
    }

    /// An SDES packet with one chunk: `ssrc` and its CNAME (at most 255 bytes).
    pub fn sdes_cname(&mut self, ssrc: u32, cname: &[u8]) {
        let cname = &cname[..cname.len().min(255)];
        // SSRC, type, length, text, then at least one zero byte up to a 32-bit boundary.
        let chunk = 4 + 2 + cname.len();
        let padded = (chunk + 1).div_ceil(4) * 4;
        self.header(1, SDES, padded / 4);
        self.buf.extend_from_slice(&ssrc.to_be_bytes());
        self.buf.push(1);
        self.buf.push(cname.len() as u8);
        self.buf.extend_from_slice(cname);
        self.buf.resize(self.buf.len() + padded - chunk, 0);
    }

    /// An SDES packet with one CNAME chunk per SSRC (at most 31).
    pub fn sdes_cnames(&mut self, ssrcs: &[u32], cname: &[u8]) {
        let ssrcs = &ssrcs[..ssrcs.len().min(31)];
        let cname = &cname[..cname.len().min(255)];
        let chunk = 4 + 2 + cname.len();
        let padded = (chunk + 1).div_ceil(4) * 4;
        self.header(ssrcs.len() as u8, SDES, padded / 4 * ssrcs.len());
        for ssrc in ssrcs {
            self.buf.extend_from_slice(&ssrc.to_be_bytes());
            self.buf.push(1);
            self.buf.push(cname.len() as u8);
            self.buf.extend_from_slice(cname);
            self.buf.resize(self.buf.len() + padded - chunk, 0);
        }
    }

    pub fn bye(&mut self, ssrcs: &[u32]) {
        let ssrcs = &ssrcs[..ssrcs.len().min(31)];
        self.header(ssrcs.len() as u8, BYE, ssrcs.len());
        for s in ssrcs {
            self.buf.extend_from_slice(&s.to_be_bytes());
        }
    }

    pub fn pli(&mut self, sender: u32, media: u32) {
        self.header(1, PSFB, 2);
        self.buf.extend_from_slice(&sender.to_be_bytes());
        self.buf.extend_from_slice(&media.to_be_bytes());
    }

    /// A FIR (RFC 5104 §4.3.1) asking `media` for a keyframe, command sequence number `seq`.
    pub fn fir(&mut self, sender: u32, media: u32, seq: u8) {
        self.header(4, PSFB, 4);
        self.buf.extend_from_slice(&sender.to_be_bytes());
        self.buf.extend_from_slice(&0u32.to_be_bytes());
        self.buf.extend_from_slice(&media.to_be_bytes());
        self.buf.extend_from_slice(&[seq, 0, 0, 0]);
    }

    /// A generic NACK for `lost` (sorted or not; packed into PID + BLP entries).
    pub fn nack(&mut self, sender: u32, media: u32, lost: &[u16]) {
        let mut sorted: Vec<u16> = lost.to_vec();
        sorted.sort_unstable_by_key(|s| s.wrapping_sub(lost.first().copied().unwrap_or(0)));
        sorted.dedup();
        let mut entries: Vec<(u16, u16)> = Vec::new();
        for s in sorted {
            match entries.last_mut() {
                Some((pid, blp)) if s.wrapping_sub(*pid) >= 1 && s.wrapping_sub(*pid) <= 16 => *blp |= 1 << (s.wrapping_sub(*pid) - 1),
                _ => entries.push((s, 0)),
            }
        }
        entries.truncate(MAX_NACK_ENTRIES);
        self.header(1, RTPFB, 2 + entries.len());
        self.buf.extend_from_slice(&sender.to_be_bytes());
        self.buf.extend_from_slice(&media.to_be_bytes());
        for (pid, blp) in entries {
            self.buf.extend_from_slice(&pid.to_be_bytes());
            self.buf.extend_from_slice(&blp.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_packets_parse_back() {
        let block = ReportBlock {
            ssrc: 7,
            fraction_lost: 25,
            cumulative_lost: -3,
            extended_highest_sequence: 0x0001_0010,
            jitter: 90,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        };
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        w.sender_report(1, 0x0102_0304_0506_0708, 9000, 10, 1600, &[block]);
        w.sdes_cname(1, b"cname-1");
        w.receiver_report(2, &[block, ReportBlock { ssrc: 8, ..block }]);
        w.nack(1, 7, &[100, 101, 116, 117, 300]);
        w.pli(1, 7);
        w.bye(&[1, 2]);
        crate::rtp::validate_rtcp(&buf).unwrap();
        let p = parse(&buf);
        assert_eq!(
            p[0],
            Packet::SenderReport { ssrc: 1, ntp: 0x0102_0304_0506_0708, rtp_timestamp: 9000, packets: 10, octets: 1600, blocks: vec![block] }
        );
        assert_eq!(p[1], Packet::Sdes { cnames: vec![(1, &b"cname-1"[..])] });
        assert_eq!(p[2], Packet::ReceiverReport { ssrc: 2, blocks: vec![block, ReportBlock { ssrc: 8, ..block }] });
        assert_eq!(p[3], Packet::Nack { sender: 1, media: 7, lost: vec![100, 101, 116, 117, 300] });
        assert_eq!(p[4], Packet::Pli { sender: 1, media: 7 });
        assert_eq!(p[5], Packet::Bye { ssrcs: vec![1, 2] });
    }

    #[test]
    fn counts_and_lengths_past_the_packet_stop_there() {
        let mut buf = Vec::new();
        Writer::new(&mut buf).receiver_report(2, &[ReportBlock::default()]);
        // Claim 31 blocks in a packet that holds one.
        buf[0] = 0x80 | 31;
        assert_eq!(parse(&buf), vec![Packet::ReceiverReport { ssrc: 2, blocks: vec![ReportBlock::default()] }]);
        // A length past the end: nothing is read.
        buf[3] = 200;
        assert!(parse(&buf).is_empty());
        // A NACK storm: 1,000 entries, each asking for 17 packets, reads at most 64 entries.
        let mut storm = vec![0x81, RTPFB, 0, 0];
        storm.extend_from_slice(&1u32.to_be_bytes());
        storm.extend_from_slice(&2u32.to_be_bytes());
        for i in 0..1000u16 {
            storm.extend_from_slice(&(i * 17).to_be_bytes());
            storm.extend_from_slice(&0xffffu16.to_be_bytes());
        }
        let words = storm.len() / 4 - 1;
        storm[2..4].copy_from_slice(&(words as u16).to_be_bytes());
        let Packet::Nack { lost, .. } = &parse(&storm)[0] else { panic!() };
        assert_eq!(lost.len(), MAX_NACK_ENTRIES * 17);
        // Garbage never panics.
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8 | 0x80).collect();
            let _ = parse(&junk);
        }
    }

    #[test]
    fn remb_and_transport_feedback_are_recognised() {
        // REMB of 1.5 Mbit/s (mantissa 187,500, exponent 3) about SSRC 9.
        let mut p = vec![0x8f, PSFB, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(b"REMB");
        let m = 187_500u32;
        p.extend_from_slice(&[1, (3 << 2) | (m >> 16) as u8, (m >> 8) as u8, m as u8, 0, 0, 0, 9]);
        assert_eq!(parse(&p), vec![Packet::Remb { sender: 1, bitrate: 1_500_000, ssrcs: vec![9] }]);
        // An SSRC count past the packet reads what is there; an absurd exponent is no cap.
        p[16] = 200;
        p[17] |= 0xfc;
        match &parse(&p)[..] {
            [Packet::Remb { bitrate, ssrcs, .. }] => assert_eq!((*bitrate, ssrcs.len()), (u64::MAX, 1)),
            other => panic!("{other:?}"),
        }
        let fb = [0x8f, RTPFB, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse(&fb), vec![Packet::TransportFeedback(&fb[..])]);
    }
}
