//! The RTCP engine of one session, sans-IO: it learns from the RTP the session receives and
//! the RTCP it is given, and writes the compound reports and feedback the session sends.
//! Nothing here reads a clock or a socket; the caller passes `now` (and the NTP time).
//!
//! - Reports (RFC 3550 §6.4): an SR for each sending SSRC (the first carries the report blocks
//!   of every received source, at most 31), or an RR when nothing is sent; SDES CNAME for each
//!   local SSRC in every compound packet; BYE on close.
//! - Received reports: per local SSRC the peer's last report block (remote-inbound-rtp) and
//!   the round-trip time from its LSR/DLSR; per remote SSRC its last SR (remote-outbound-rtp),
//!   which later report blocks echo as LSR.
//! - Keyframe requests: PLI and FIR (RFC 4585, RFC 5104) for a local SSRC become one request
//!   per `KEYFRAME_HOLDOFF` at most (a FIR that repeats its sequence number is no new request);
//!   the rest are counted, so a flood costs the host nothing.
//! - NACKs (RFC 4585 §6.2.1): for sources whose track negotiated `nack`, a `NackList` finds
//!   the gaps; `write_nacks` asks for what is due (at once, then every RTT).

use std::time::{Duration, Instant};

use super::nack::{NackList, NackOutcome, MAX_MISSING};
use super::packets::{parse, Packet, ReportBlock, Writer, MAX_NACK_ENTRIES};
use super::stats::{round_trip, ReceiveStats};
use super::twcc::{parse_feedback, Feedback};
use crate::fasthash::FastMap;

/// Received sources tracked at once; packets of further SSRCs are counted, not tracked.
pub const MAX_REMOTE_SOURCES: usize = 64;
/// Sending SSRCs with an SR (and a CNAME) in one compound report.
pub const MAX_REPORTED_SENDERS: usize = 8;
/// Most bytes of NACKs written at once (one datagram, with room for SRTCP).
pub const MAX_NACK_BYTES: usize = 1200;
/// Keyframe requests for one local SSRC closer together than this are merged into one.
pub const KEYFRAME_HOLDOFF: Duration = Duration::from_millis(100);

/// What the session's sender knows about one of its SSRCs when a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ssrc: u32,
    pub packets: u32,
    pub octets: u32,
    /// The RTP timestamp of the report's instant on the track's clock; None before the first
    /// packet (then no SR is written for this SSRC).
    pub rtp_time: Option<u32>,
}

/// The peer's view of one of our streams, from its last report block about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteInbound {
    pub block: ReportBlock,
    /// From this block, when it echoed one of our SRs.
    pub round_trip: Option<Duration>,
    pub reports: u64,
}

/// The peer's last sender report for one of its SSRCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteOutbound {
    pub ntp: u64,
    pub rtp_timestamp: u32,
    pub packets: u32,
    pub octets: u32,
    pub reports: u64,
}

/// One source the session receives.
#[derive(Debug, Clone)]
pub struct RemoteSource {
    pub track: u32,
    pub stats: ReceiveStats,
    pub last_packet: Instant,
    pub sender_report: Option<RemoteOutbound>,
    pub bye: bool,
    /// The gaps to ask for, when the track negotiated generic NACK.
    pub nack: Option<NackList>,
    /// RTX packets unwrapped into this source, and NACK packets sent about it.
    pub retransmissions_received: u64,
    pub nacks_sent: u64,
}

/// Counters of what the engine saw and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineCounters {
    pub reports_sent: u64,
    pub reports_received: u64,
    pub pli_received: u64,
    pub fir_received: u64,
    /// PLI/FIR merged into an earlier request (hold-off, repeated FIR sequence number).
    pub keyframe_requests_merged: u64,
    pub pli_sent: u64,
    pub fir_sent: u64,
    pub nack_received: u64,
    /// RTP packets of sources past `MAX_REMOTE_SOURCES` (not in any report).
    pub sources_refused: u64,
    /// Report blocks and feedback about SSRCs that are not ours.
    pub foreign_feedback: u64,
    /// NACK packets sent, sequence numbers they asked for, missing packets that arrived
    /// after all, and missing packets given up (too many tries, too old, too many missing).
    pub nack_sent: u64,
    pub nack_sequences_sent: u64,
    pub nack_recovered: u64,
    pub nack_gave_up: u64,
    /// Transport-wide feedback packets that did not parse (counts past their chunks...).
    pub transport_feedback_refused: u64,
}

/// What a received compound packet asks of the session.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Local SSRCs the peer wants a keyframe on (after merging).
    pub keyframes: Vec<u32>,
    /// Generic NACKs: local SSRC and the sequence numbers the peer misses.
    pub nacks: Vec<(u32, Vec<u16>)>,
    /// Transport-wide feedback about what we sent, for the bandwidth estimate.
    pub transport_feedback: Vec<Feedback>,
    /// The least bitrate the peer's REMBs about our SSRCs allow.
    pub remb: Option<u64>,
}

#[derive(Debug)]
pub struct Engine {
    cname: Vec<u8>,
    remote: FastMap<u32, RemoteSource>,
    inbound: FastMap<u32, RemoteInbound>,
    /// Per local SSRC: when the host was last told of a keyframe request, and the last FIR
    /// sequence number seen.
    keyframe: FastMap<u32, (Option<Instant>, Option<u8>)>,
    /// Our FIR command sequence number per remote SSRC.
    fir_seq: FastMap<u32, u8>,
    round_trip: Option<Duration>,
    pub counters: EngineCounters,
}

impl Engine {
    pub fn new(cname: &str) -> Self {
        Engine {
            cname: cname.as_bytes().to_vec(),
            remote: FastMap::default(),
            inbound: FastMap::default(),
            keyframe: FastMap::default(),
            fir_seq: FastMap::default(),
            round_trip: None,
            counters: EngineCounters::default(),
        }
    }

    /// An authenticated RTP packet of `ssrc` for `track`, on a clock of `clock_rate`; `nack`
    /// when the track negotiated generic NACK. Returns true when the packet opened a gap (a
    /// NACK is due now).
    pub fn on_rtp(&mut self, ssrc: u32, track: u32, clock_rate: u32, seq: u16, rtp_timestamp: u32, nack: bool, now: Instant) -> bool {
        let full = self.remote.len() >= MAX_REMOTE_SOURCES;
        let source = match self.remote.get_mut(&ssrc) {
            Some(s) => s,
            None if full => {
                self.counters.sources_refused += 1;
                return false;
            }
            None => self.remote.entry(ssrc).or_insert_with(|| RemoteSource {
                track,
                stats: ReceiveStats::new(clock_rate, seq),
                last_packet: now,
                sender_report: None,
                bye: false,
                nack: None,
                retransmissions_received: 0,
                nacks_sent: 0,
            }),
        };
        source.track = track;
        source.last_packet = now;
        source.bye = false;
        source.stats.update(seq, rtp_timestamp, now);
        if !nack {
            source.nack = None;
            return false;
        }
        let mut o = NackOutcome::default();
        let gap = source.nack.get_or_insert_with(NackList::default).on_packet(seq, now, &mut o);
        self.count(o);
        gap
    }

    /// A packet of `ssrc` recovered by retransmission (RTX unwrapped): it fills its gap but,
    /// as in libwebrtc, is not counted in the source's receive statistics.
    pub fn on_retransmission(&mut self, ssrc: u32, seq: u16, now: Instant) {
        let Some(source) = self.remote.get_mut(&ssrc) else { return };
        source.retransmissions_received += 1;
        let mut o = NackOutcome::default();
        if let Some(l) = source.nack.as_mut() {
            l.on_packet(seq, now, &mut o);
        }
        self.count(o);
    }

    fn count(&mut self, o: NackOutcome) {
        self.counters.nack_recovered += o.recovered;
        self.counters.nack_gave_up += o.gave_up;
    }

    /// Writes into `buf` (cleared first) generic NACKs for the sources with requests due at
    /// `now` (64 sequence numbers per NACK packet, so none is cut off), as many sources as fit
    /// `MAX_NACK_BYTES`; the rest stay due for the next call. Returns false (and `buf` empty)
    /// when nothing is due.
    pub fn write_nacks(&mut self, reporter: u32, now: Instant, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let rtt = self.round_trip;
        let mut lost = Vec::new();
        let mut o = NackOutcome::default();
        // The most one source can take: its missing list in packets of 64 (each 12 + 4 × 64).
        let per_source = MAX_MISSING.div_ceil(MAX_NACK_ENTRIES) * (12 + 4 * MAX_NACK_ENTRIES);
        for (ssrc, s) in self.remote.iter_mut() {
            let Some(l) = s.nack.as_mut() else { continue };
            if !buf.is_empty() && buf.len() + per_source > MAX_NACK_BYTES {
                break;
            }
            lost.clear();
            l.due(now, rtt, &mut lost, &mut o);
            if lost.is_empty() {
                continue;
            }
            let mut w = Writer::new(buf);
            for chunk in lost.chunks(MAX_NACK_ENTRIES) {
                w.nack(reporter, *ssrc, chunk);
                s.nacks_sent += 1;
                self.counters.nack_sent += 1;
            }
            self.counters.nack_sequences_sent += lost.len() as u64;
        }
        self.count(o);
        !buf.is_empty()
    }

    /// When the next NACK falls due, if any source misses packets.
    pub fn next_nack_due(&self) -> Option<Instant> {
        self.remote.values().filter_map(|s| s.nack.as_ref()?.next_due(self.round_trip)).min()
    }

    /// A decrypted compound RTCP packet from the peer; `is_local` tells our SSRCs.
    pub fn on_rtcp(&mut self, compound: &[u8], now: Instant, ntp_now: u64, is_local: impl Fn(u32) -> bool) -> Received {
        let mut out = Received::default();
        for p in parse(compound) {
            match p {
                Packet::SenderReport { ssrc, ntp, rtp_timestamp, packets, octets, blocks } => {
                    self.counters.reports_received += 1;
                    if let Some(s) = self.remote.get_mut(&ssrc) {
                        s.stats.on_sender_report(ntp, now);
                        let reports = s.sender_report.map_or(0, |r| r.reports) + 1;
                        s.sender_report = Some(RemoteOutbound { ntp, rtp_timestamp, packets, octets, reports });
                    }
                    self.report_blocks(&blocks, ntp_now, &is_local);
                }
                Packet::ReceiverReport { blocks, .. } => {
                    self.counters.reports_received += 1;
                    self.report_blocks(&blocks, ntp_now, &is_local);
                }
                Packet::Bye { ssrcs } => {
                    for s in ssrcs {
                        if let Some(r) = self.remote.get_mut(&s) {
                            r.bye = true;
                        }
                    }
                }
                Packet::Pli { media, .. } => {
                    self.counters.pli_received += 1;
                    self.keyframe_request(media, None, now, &is_local, &mut out);
                }
                Packet::Fir { requests, .. } => {
                    self.counters.fir_received += 1;
                    for (ssrc, seq) in requests {
                        self.keyframe_request(ssrc, Some(seq), now, &is_local, &mut out);
                    }
                }
                Packet::Nack { media, lost, .. } => {
                    self.counters.nack_received += 1;
                    if is_local(media) {
                        match out.nacks.iter_mut().find(|(s, _)| *s == media) {
                            Some((_, l)) => l.extend_from_slice(&lost),
                            None => out.nacks.push((media, lost)),
                        }
                    } else {
                        self.counters.foreign_feedback += 1;
                    }
                }
                Packet::TransportFeedback(p) => match parse_feedback(p) {
                    Some(f) => out.transport_feedback.push(f),
                    None => self.counters.transport_feedback_refused += 1,
                },
                Packet::Remb { bitrate, ssrcs, .. } => {
                    if ssrcs.is_empty() || ssrcs.iter().any(|s| is_local(*s)) {
                        out.remb = Some(out.remb.map_or(bitrate, |b| b.min(bitrate)));
                    } else {
                        self.counters.foreign_feedback += 1;
                    }
                }
                Packet::Sdes { .. } | Packet::Other { .. } => {}
            }
        }
        out
    }

    fn report_blocks(&mut self, blocks: &[ReportBlock], ntp_now: u64, is_local: &impl Fn(u32) -> bool) {
        for b in blocks {
            if !is_local(b.ssrc) {
                self.counters.foreign_feedback += 1;
                continue;
            }
            let rtt = round_trip(b, ntp_now);
            if rtt.is_some() {
                self.round_trip = rtt;
            }
            let reports = self.inbound.get(&b.ssrc).map_or(0, |r| r.reports) + 1;
            self.inbound.insert(b.ssrc, RemoteInbound { block: *b, round_trip: rtt, reports });
        }
    }

    fn keyframe_request(&mut self, ssrc: u32, fir_seq: Option<u8>, now: Instant, is_local: &impl Fn(u32) -> bool, out: &mut Received) {
        if !is_local(ssrc) {
            self.counters.foreign_feedback += 1;
            return;
        }
        let (last, last_fir) = self.keyframe.entry(ssrc).or_insert((None, None));
        let repeated_fir = fir_seq.is_some() && fir_seq == *last_fir;
        if fir_seq.is_some() {
            *last_fir = fir_seq;
        }
        let held = last.is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_HOLDOFF);
        if repeated_fir || held || out.keyframes.contains(&ssrc) {
            self.counters.keyframe_requests_merged += 1;
            return;
        }
        *last = Some(now);
        out.keyframes.push(ssrc);
    }

    /// Writes a compound report into `buf` (cleared first): SRs for the senders that sent,
    /// the first with the report blocks, or an RR from `reporter`; SDES CNAME for each local
    /// SSRC; a BYE for them all when `bye`.
    pub fn write_report(&mut self, reporter: u32, senders: &[SenderInfo], ntp: u64, now: Instant, bye: bool, buf: &mut Vec<u8>) {
        buf.clear();
        let mut blocks: Vec<ReportBlock> = self
            .remote
            .iter_mut()
            .filter(|(_, s)| !s.bye)
            .map(|(ssrc, s)| s.stats.report_block(*ssrc, now))
            .collect();
        blocks.sort_unstable_by_key(|b| b.ssrc);
        blocks.truncate(31);
        // At most MAX_REPORTED_SENDERS SRs and CNAMEs per packet, so it fits one datagram; with
        // more sending SSRCs, successive reports take turns.
        let start = if senders.len() > MAX_REPORTED_SENDERS { self.counters.reports_sent as usize % senders.len() } else { 0 };
        let senders: Vec<SenderInfo> =
            senders.iter().cycle().skip(start).take(senders.len().min(MAX_REPORTED_SENDERS)).copied().collect();
        let mut w = Writer::new(buf);
        let mut first = true;
        for s in &senders {
            let Some(rtp_time) = s.rtp_time else { continue };
            let b: &[ReportBlock] = if first { &blocks } else { &[] };
            w.sender_report(s.ssrc, ntp, rtp_time, s.packets, s.octets, b);
            first = false;
        }
        if first {
            w.receiver_report(reporter, &blocks);
        }
        let mut ssrcs: Vec<u32> = senders.iter().map(|s| s.ssrc).collect();
        if !ssrcs.contains(&reporter) {
            ssrcs.insert(0, reporter);
        }
        ssrcs.truncate(MAX_REPORTED_SENDERS + 1);
        w.sdes_cnames(&ssrcs, &self.cname);
        if bye {
            w.bye(&ssrcs);
        }
        self.counters.reports_sent += 1;
    }

    /// Writes a PLI for remote `media` (reduced size, RFC 5506) into `buf` (cleared first).
    pub fn write_pli(&mut self, reporter: u32, media: u32, buf: &mut Vec<u8>) {
        buf.clear();
        Writer::new(buf).pli(reporter, media);
        self.counters.pli_sent += 1;
    }

    /// Writes a FIR for remote `media` with the next command sequence number.
    pub fn write_fir(&mut self, reporter: u32, media: u32, buf: &mut Vec<u8>) {
        buf.clear();
        let seq = self.fir_seq.entry(media).or_insert(0);
        *seq = seq.wrapping_add(1);
        Writer::new(buf).fir(reporter, media, *seq);
        self.counters.fir_sent += 1;
    }

    /// The remote source that last sent on `track`.
    pub fn latest_source(&self, track: u32) -> Option<u32> {
        self.remote.iter().filter(|(_, s)| s.track == track).max_by_key(|(_, s)| s.last_packet).map(|(ssrc, _)| *ssrc)
    }

    pub fn round_trip(&self) -> Option<Duration> {
        self.round_trip
    }

    pub fn remote_inbound(&self, local_ssrc: u32) -> Option<&RemoteInbound> {
        self.inbound.get(&local_ssrc)
    }

    pub fn remote_sources(&self) -> impl Iterator<Item = (u32, &RemoteSource)> {
        self.remote.iter().map(|(k, v)| (*k, v))
    }

    /// Forgets sources of tracks that no longer receive.
    pub fn retain_tracks(&mut self, receives: impl Fn(u32) -> bool) {
        self.remote.retain(|_, s| receives(s.track));
    }
}

/// The interval to the next regular report: libwebrtc's 1 s with video and 5 s for audio only
/// (RFC 3550 §6.2's minimum; RFC 4585 allows the shorter one), randomized over [0.5, 1.5] as
/// RFC 3550 §6.3.1 asks, from `random` (any u32).
pub fn report_interval(video: bool, random: u32) -> Duration {
    let base = if video { 1000u64 } else { 5000 };
    let factor = 500 + (random % 1001) as u64; // per mille, 500..=1500
    Duration::from_millis(base * factor / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(s: u32) -> bool {
        s == 1 || s == 2
    }

    #[test]
    fn a_report_echo_gives_the_round_trip_and_remote_inbound() {
        let t0 = Instant::now();
        let mut a = Engine::new("a");
        let mut b = Engine::new("b");
        // b receives ssrc 1 from a.
        for i in 0..50u16 {
            if i != 7 {
                b.on_rtp(1, 0, 90000, 100 + i, 3000 * i as u32, false, t0 + Duration::from_millis(i as u64 * 33));
            }
        }
        let ntp0 = 0x0000_1000_0000_0000u64;
        let mut buf = Vec::new();
        a.write_report(1, &[SenderInfo { ssrc: 1, packets: 50, octets: 5000, rtp_time: Some(150_000) }], ntp0, t0, false, &mut buf);
        crate::rtp::validate_rtcp(&buf).unwrap();
        // b gets the SR at t0 + 2 s and answers 250 ms later.
        let r = b.on_rtcp(&buf, t0 + Duration::from_secs(2), ntp0, |s| s == 9);
        assert_eq!(r, Received::default());
        let sr = b.remote_sources().next().unwrap().1.sender_report.unwrap();
        assert_eq!((sr.packets, sr.octets, sr.rtp_timestamp), (50, 5000, 150_000));
        b.write_report(9, &[], 0, t0 + Duration::from_millis(2250), false, &mut buf);
        // a reads it 400 ms after its SR left: RTT = 400 − 250 = 150 ms.
        let ntp_now = ntp0 + (400u64 << 32) / 1000;
        a.on_rtcp(&buf, t0, ntp_now, ours);
        let rtt = a.round_trip().unwrap();
        assert!((149..=151).contains(&rtt.as_millis()), "{rtt:?}");
        let inbound = a.remote_inbound(1).unwrap();
        assert_eq!(inbound.block.cumulative_lost, 1);
        assert_eq!(inbound.block.extended_highest_sequence, 149);
        assert_eq!(inbound.reports, 1);
    }

    #[test]
    fn gaps_become_nacks_and_retransmissions_fill_them() {
        let t0 = Instant::now();
        let mut e = Engine::new("x");
        let mut buf = Vec::new();
        for seq in [10u16, 11, 14, 15] {
            let gap = e.on_rtp(5, 0, 90000, seq, 0, true, t0);
            assert_eq!(gap, seq == 14);
        }
        assert!(e.next_nack_due().is_some());
        assert!(e.write_nacks(9, t0, &mut buf));
        let p = parse(&buf);
        assert_eq!(p, vec![Packet::Nack { sender: 9, media: 5, lost: vec![12, 13] }]);
        // Nothing more is due before the retry interval; a retransmission fills 12.
        assert!(!e.write_nacks(9, t0 + Duration::from_millis(10), &mut buf) && buf.is_empty());
        e.on_retransmission(5, 12, t0);
        assert!(e.write_nacks(9, t0 + Duration::from_millis(200), &mut buf));
        assert_eq!(parse(&buf), vec![Packet::Nack { sender: 9, media: 5, lost: vec![13] }]);
        let c = e.counters;
        assert_eq!((c.nack_sent, c.nack_sequences_sent, c.nack_recovered), (2, 3, 1));
        // 200 scattered losses (every other packet) are all asked for, in packets of 64.
        let mut f = Engine::new("y");
        for i in 0..=400u16 {
            if i % 2 == 0 {
                f.on_rtp(8, 0, 90000, i, 0, true, t0);
            }
        }
        assert!(f.write_nacks(9, t0, &mut buf) && buf.len() <= MAX_NACK_BYTES);
        let asked: usize = parse(&buf).iter().map(|p| if let Packet::Nack { lost, .. } = p { lost.len() } else { 0 }).sum();
        assert_eq!(asked, 200);
        // A source without negotiated NACK asks for nothing.
        e.on_rtp(6, 1, 90000, 1, 0, false, t0);
        e.on_rtp(6, 1, 90000, 5, 0, false, t0);
        assert!(e.write_nacks(9, t0 + Duration::from_millis(400), &mut buf));
        assert!(parse(&buf).iter().all(|p| matches!(p, Packet::Nack { media: 5, .. })));
    }

    #[test]
    fn keyframe_floods_merge_and_foreign_ssrcs_are_counted() {
        let t0 = Instant::now();
        let mut e = Engine::new("x");
        let mut storm = Vec::new();
        {
            let mut w = Writer::new(&mut storm);
            for _ in 0..20 {
                w.pli(9, 1);
                w.fir(9, 2, 5);
            }
            w.pli(9, 77);
        }
        let r = e.on_rtcp(&storm, t0, 0, ours);
        assert_eq!(r.keyframes, vec![1, 2]);
        assert_eq!(e.counters.keyframe_requests_merged, 38);
        assert_eq!(e.counters.foreign_feedback, 1);
        // Within the hold-off: merged; after it, a new request; a repeated FIR number never.
        let mut one = Vec::new();
        Writer::new(&mut one).pli(9, 1);
        assert!(e.on_rtcp(&one, t0 + Duration::from_millis(50), 0, ours).keyframes.is_empty());
        assert_eq!(e.on_rtcp(&one, t0 + Duration::from_millis(150), 0, ours).keyframes, vec![1]);
        let mut fir = Vec::new();
        Writer::new(&mut fir).fir(9, 2, 5);
        assert!(e.on_rtcp(&fir, t0 + Duration::from_secs(5), 0, ours).keyframes.is_empty());
        fir.clear();
        Writer::new(&mut fir).fir(9, 2, 6);
        assert_eq!(e.on_rtcp(&fir, t0 + Duration::from_secs(5), 0, ours).keyframes, vec![2]);
    }

    #[test]
    fn sources_are_bounded_and_reports_stay_in_one_packet() {
        let t0 = Instant::now();
        let mut e = Engine::new("cname-of-this-session");
        for ssrc in 0..1000u32 {
            e.on_rtp(ssrc + 100, 0, 8000, 1, 0, false, t0);
        }
        assert_eq!(e.remote_sources().count(), MAX_REMOTE_SOURCES);
        assert_eq!(e.counters.sources_refused, (1000 - MAX_REMOTE_SOURCES) as u64);
        let mut buf = Vec::new();
        let senders: Vec<SenderInfo> = (1..=40).map(|s| SenderInfo { ssrc: s, packets: 1, octets: 1, rtp_time: Some(0) }).collect();
        e.write_report(1, &senders, 1, t0, true, &mut buf);
        crate::rtp::validate_rtcp(&buf).unwrap();
        let p = parse(&buf);
        let Packet::SenderReport { blocks, .. } = &p[0] else { panic!("{p:?}") };
        assert_eq!(blocks.len(), 31);
        assert!(p.iter().any(|p| matches!(p, Packet::Bye { ssrcs } if ssrcs.len() == MAX_REPORTED_SENDERS)));
        assert!(buf.len() <= 1400, "{}", buf.len());
        assert_eq!(p.iter().filter(|p| matches!(p, Packet::SenderReport { .. })).count(), MAX_REPORTED_SENDERS);
    }

    #[test]
    fn intervals_are_randomized_around_the_base() {
        assert_eq!(report_interval(true, 0), Duration::from_millis(500));
        assert_eq!(report_interval(true, 1000), Duration::from_millis(1500));
        assert_eq!(report_interval(false, 500), Duration::from_millis(5000));
    }
}
