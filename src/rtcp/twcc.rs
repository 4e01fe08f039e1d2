//! Transport-wide congestion control feedback, receive side (draft-holmer-rmcat-transport-
//! wide-cc-extensions-01): the arrival time of every packet that carried the transport-wide
//! sequence number extension, reported back to the sender about every 100 ms in an RTPFB
//! (FMT 15) packet, so the sender's bandwidth estimation (a browser's) works against us.
//!
//! Bounded: at most `MAX_PENDING` arrivals wait for a report (older ones are dropped and
//! counted), a report covers at most `MAX_STATUS` sequence numbers, and a packet arriving
//! for a sequence number already reported is ignored.

use std::time::{Duration, Instant};

use super::packets::RTPFB;

/// The header extension's URI.
pub const TWCC_URI: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
/// Arrivals kept until the next report.
pub const MAX_PENDING: usize = 2048;
/// Sequence numbers covered by one feedback packet (its size stays well under one datagram).
pub const MAX_STATUS: usize = 400;
/// How often feedback is sent while packets arrive.
pub const FEEDBACK_INTERVAL: Duration = Duration::from_millis(100);
const FMT: u8 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Symbol {
    NotReceived = 0,
    Small = 1,
    Large = 2,
}

#[derive(Debug)]
pub struct TwccRecorder {
    epoch: Instant,
    /// Unwrapped sequence number and arrival (µs since `epoch`).
    pending: Vec<(i64, i64)>,
    highest: Option<i64>,
    /// The first sequence number the next report covers.
    next_base: Option<i64>,
    feedback_count: u8,
    pub last_feedback: Option<Instant>,
    pub dropped: u64,
    pub feedback_sent: u64,
}

/// `seq` unwrapped to the 64-bit value nearest `near` (the highest seen so far), or as is.
pub(crate) fn unwrap_sequence(seq: u16, near: Option<i64>) -> i64 {
    match near {
        None => seq as i64,
        Some(h) => {
            let d = seq.wrapping_sub(h as u16);
            h + if d < 0x8000 { d as i64 } else { d as i64 - 0x10000 }
        }
    }
}

impl TwccRecorder {
    pub fn new(epoch: Instant) -> Self {
        TwccRecorder { epoch, pending: Vec::new(), highest: None, next_base: None, feedback_count: 0, last_feedback: None, dropped: 0, feedback_sent: 0 }
    }

    /// A packet with transport-wide sequence number `seq` arrived at `now`.
    pub fn on_packet(&mut self, seq: u16, now: Instant) {
        let ext = unwrap_sequence(seq, self.highest);
        if self.next_base.is_some_and(|b| ext < b) {
            return; // reported already (as lost, or a duplicate)
        }
        if self.highest.is_none_or(|h| ext > h) {
            self.highest = Some(ext);
        }
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
            self.dropped += 1;
        }
        let at = now.saturating_duration_since(self.epoch).as_micros() as i64;
        self.pending.push((ext, at));
    }

    /// When the next report is due, if packets wait for one.
    pub fn next_due(&self) -> Option<Instant> {
        if self.pending.is_empty() {
            return None;
        }
        Some(self.last_feedback.map_or(self.epoch, |t| t + FEEDBACK_INTERVAL))
    }

    /// Appends one feedback packet (sender SSRC `reporter`, media SSRC `media`) covering what
    /// is pending, if any; returns whether one was written.
    pub fn write_feedback(&mut self, reporter: u32, media: u32, now: Instant, buf: &mut Vec<u8>) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        self.pending.sort_unstable();
        self.pending.dedup_by_key(|p| p.0);
        // From where the last report ended, unless that is more than a report behind (a long
        // gap, already lost): then from the first packet waiting.
        let first = self.pending[0].0;
        let base = self.next_base.filter(|b| first - b < MAX_STATUS as i64).unwrap_or(first);
        let last = self.pending.iter().map(|p| p.0).filter(|s| *s < base + MAX_STATUS as i64).max().unwrap_or(base);
        let count = (last - base + 1) as usize;
        let first_arrival = self.pending[0].1;
        // Reference time: multiples of 64 ms, 24 bits; deltas count from it in 250 µs.
        let reference = first_arrival.div_euclid(64_000);
        let mut prev = reference * 64_000;
        let mut symbols = Vec::with_capacity(count);
        let mut deltas: Vec<u8> = Vec::with_capacity(count * 2);
        let mut it = self.pending.iter().peekable();
        for s in base..=last {
            let mut symbol = Symbol::NotReceived;
            while let Some(&&(seq, at)) = it.peek() {
                if seq > s {
                    break;
                }
                it.next();
                if seq == s && symbol == Symbol::NotReceived {
                    let d = (at - prev).div_euclid(250);
                    if (0..=255).contains(&d) {
                        symbol = Symbol::Small;
                        deltas.push(d as u8);
                    } else if (i16::MIN as i64..=i16::MAX as i64).contains(&d) {
                        symbol = Symbol::Large;
                        deltas.extend_from_slice(&(d as i16).to_be_bytes());
                    } else {
                        continue; // beyond what a delta can say: reported as not received
                    }
                    prev += d * 250;
                }
            }
            symbols.push(symbol);
        }
        // Chunks: runs of one symbol (run-length chunks, 13-bit length).
        let mut chunks: Vec<u16> = Vec::new();
        let mut i = 0;
        while i < symbols.len() {
            let mut j = i;
            while j < symbols.len() && symbols[j] == symbols[i] && j - i < 0x1fff {
                j += 1;
            }
            chunks.push(((symbols[i] as u16) << 13) | (j - i) as u16);
            i = j;
        }
        let body = 8 + 8 + 2 * chunks.len() + deltas.len();
        let padded = body.div_ceil(4) * 4;
        buf.push(0x80 | FMT);
        buf.push(RTPFB);
        buf.extend_from_slice(&((padded / 4) as u16).to_be_bytes());
        buf.extend_from_slice(&reporter.to_be_bytes());
        buf.extend_from_slice(&media.to_be_bytes());
        buf.extend_from_slice(&(base as u16).to_be_bytes());
        buf.extend_from_slice(&(count as u16).to_be_bytes());
        let r = (reference as u32) & 0x00ff_ffff;
        buf.extend_from_slice(&[(r >> 16) as u8, (r >> 8) as u8, r as u8, self.feedback_count]);
        for c in chunks {
            buf.extend_from_slice(&c.to_be_bytes());
        }
        buf.extend_from_slice(&deltas);
        buf.resize(buf.len() + padded - body, 0);
        self.feedback_count = self.feedback_count.wrapping_add(1);
        self.next_base = Some(last + 1);
        self.pending.retain(|p| p.0 > last);
        self.last_feedback = Some(now);
        self.feedback_sent += 1;
        true
    }
}

/// A parsed transport-wide feedback packet: base sequence number, reference time (64 ms
/// units), and per sequence number from the base its arrival offset from the reference time
/// in microseconds, or None when not received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub base: u16,
    pub reference: u32,
    pub count: u8,
    pub arrivals: Vec<Option<i64>>,
}

/// Reads one RTPFB FMT 15 packet (`p` from its RTCP header); None if malformed. Work is
/// bounded by the packet: a status count larger than what its chunks cover is refused.
pub fn parse_feedback(p: &[u8]) -> Option<Feedback> {
    if p.len() < 20 || p[0] & 0x1f != FMT || p[1] != RTPFB {
        return None;
    }
    let base = u16::from_be_bytes([p[12], p[13]]);
    let count = u16::from_be_bytes([p[14], p[15]]) as usize;
    let reference = u32::from_be_bytes([0, p[16], p[17], p[18]]);
    let mut symbols = Vec::with_capacity(count.min(p.len() * 7));
    let mut at = 20;
    while symbols.len() < count {
        let c = u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]);
        at += 2;
        if c & 0x8000 == 0 {
            let s = ((c >> 13) & 3) as u8;
            let run = (c & 0x1fff) as usize;
            symbols.extend(std::iter::repeat_n(s, run.min(count - symbols.len())));
        } else if c & 0x4000 == 0 {
            for k in (0..14).rev() {
                symbols.push(((c >> k) & 1) as u8);
            }
        } else {
            for k in (0..7).rev() {
                symbols.push(((c >> (2 * k)) & 3) as u8);
            }
        }
    }
    symbols.truncate(count);
    let mut t = 0i64;
    let mut arrivals = Vec::with_capacity(count);
    for s in symbols {
        match s {
            1 => {
                t += *p.get(at)? as i64 * 250;
                at += 1;
                arrivals.push(Some(t));
            }
            2 => {
                t += i16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]) as i64 * 250;
                at += 2;
                arrivals.push(Some(t));
            }
            _ => arrivals.push(None),
        }
    }
    Some(Feedback { base, reference, count: p[19], arrivals })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_reports_arrivals_and_losses_across_the_wrap() {
        let t0 = Instant::now();
        let mut r = TwccRecorder::new(t0);
        // 65533..=65535, 0..=3 with 65535 and 2 lost; 1 ms apart, one 100 ms late.
        for (i, seq) in [65533u16, 65534, 0, 1, 3].into_iter().enumerate() {
            let extra = if seq == 3 { 100 } else { 0 };
            r.on_packet(seq, t0 + Duration::from_millis(10 + i as u64 + extra));
        }
        let mut buf = Vec::new();
        assert!(r.write_feedback(1, 2, t0, &mut buf));
        assert_eq!(buf.len() % 4, 0);
        let f = parse_feedback(&buf).unwrap();
        assert_eq!(f.base, 65533);
        assert_eq!(f.arrivals.len(), 7);
        let got: Vec<bool> = f.arrivals.iter().map(|a| a.is_some()).collect();
        assert_eq!(got, vec![true, true, false, true, true, false, true]);
        let ms: Vec<i64> = f.arrivals.iter().flatten().map(|us| us / 1000).collect();
        // Offsets from the 64 ms reference (0 here): 10, 11, 12, 13, 114 ms (250 µs units).
        assert_eq!(ms, vec![10, 11, 12, 13, 114]);
        // The next report starts after 3; a late 2 is ignored.
        r.on_packet(2, t0 + Duration::from_millis(200));
        assert!(!r.write_feedback(1, 2, t0, &mut Vec::new()));
        r.on_packet(5, t0 + Duration::from_millis(300));
        buf.clear();
        assert!(r.write_feedback(1, 2, t0, &mut buf));
        let f = parse_feedback(&buf).unwrap();
        assert_eq!((f.base, f.count), (4, 1));
        assert_eq!(f.arrivals.iter().map(|a| a.is_some()).collect::<Vec<_>>(), vec![false, true]);
    }

    #[test]
    fn pending_and_report_sizes_are_bounded() {
        let t0 = Instant::now();
        let mut r = TwccRecorder::new(t0);
        for i in 0..5000u32 {
            r.on_packet((i * 7) as u16, t0 + Duration::from_micros(i as u64 * 100));
        }
        assert_eq!(r.pending.len(), MAX_PENDING);
        assert!(r.dropped > 0);
        let mut buf = Vec::new();
        assert!(r.write_feedback(1, 2, t0, &mut buf));
        let f = parse_feedback(&buf).unwrap();
        assert!(f.arrivals.len() <= MAX_STATUS && buf.len() < 1200, "{} {}", f.arrivals.len(), buf.len());
        // A packet claiming more statuses than it holds is refused, not expanded.
        let mut bad = buf.clone();
        bad[14] = 0xff;
        bad[15] = 0xff;
        bad.truncate(24);
        assert!(parse_feedback(&bad).is_none());
    }
}
