//! The session's RTCP room: it feeds the sans-IO engine (`crate::rtcp::engine`) with what the
//! media paths see, runs the report timer, and sends what the engine writes. The send path
//! only bumps a track's atomic counters; the receive thread takes the engine's lock once per
//! packet (uncontended but for the timer's tick).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

use super::events::OwnedEvent;
use super::negotiate::random_u32;
use super::{live, media_not_ready, PayloadInfo, SendTrack, Session, MAX_PACKET_LEN, PROTECT_ROOM};
use crate::error::{self, Result};
use crate::negotiation::MediaKind;
use crate::rtcp::bwe::{BweConfig, Estimator};
use crate::rtcp::engine::{report_interval, Engine, EngineCounters, RemoteInbound, RemoteOutbound, SenderInfo};
use crate::rtcp::history::{History, Miss, DEFAULT_HISTORY_AGE, DEFAULT_HISTORY_PACKETS};
use crate::rtcp::twcc::TwccRecorder;
use crate::rtcp::{ntp_now, rtp_time_after};
use crate::rtp::{self, RtpHeader};
use crate::runtime;

/// The base of the send counters' and the send log's times (microseconds since it).
static EPOCH: Lazy<Instant> = Lazy::new(Instant::now);

/// `now` in microseconds on the send paths' clock.
pub(super) fn clock_us(now: Instant) -> u64 {
    now.saturating_duration_since(*EPOCH).as_micros() as u64
}

/// What a sending track did, for its sender reports: written on the send path with relaxed
/// atomics (no lock), read when a report is written.
#[derive(Default)]
pub(super) struct SendCounters {
    packets: AtomicU32,
    octets: AtomicU32,
    last_timestamp: AtomicU32,
    last_at_us: AtomicU64,
}

impl SendCounters {
    /// A packet left at `at_us` (`clock_us`).
    pub fn sent(&self, payload_len: usize, rtp_timestamp: u32, at_us: u64) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.octets.fetch_add(payload_len as u32, Ordering::Relaxed);
        self.last_timestamp.store(rtp_timestamp, Ordering::Relaxed);
        self.last_at_us.store(at_us + 1, Ordering::Relaxed);
    }

    /// The SR facts at `now`: the RTP time extrapolated from the last packet on the clock.
    fn info(&self, ssrc: u32, clock_rate: u32, now: Instant) -> SenderInfo {
        let at = self.last_at_us.load(Ordering::Relaxed);
        let rtp_time = (at != 0).then(|| {
            let elapsed = now.saturating_duration_since(*EPOCH + Duration::from_micros(at - 1));
            rtp_time_after(self.last_timestamp.load(Ordering::Relaxed), elapsed, clock_rate)
        });
        SenderInfo {
            ssrc,
            packets: self.packets.load(Ordering::Relaxed),
            octets: self.octets.load(Ordering::Relaxed),
            rtp_time,
        }
    }

    pub fn packets(&self) -> u32 {
        self.packets.load(Ordering::Relaxed)
    }

    pub fn octets(&self) -> u32 {
        self.octets.load(Ordering::Relaxed)
    }
}

/// Which parts of the RTCP engine run (each can be switched off for hosts with their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpConfig {
    /// Sender and receiver reports, SDES CNAME, BYE on close.
    pub reports: bool,
    /// Keyframe requests: `nack pli` and `ccm fir` advertised, the peer's requests reported,
    /// `request_keyframe` available.
    pub keyframe_requests: bool,
    /// Generic NACK and RTX for video: `nack` and `rtx/90000` advertised, gaps in what is
    /// received asked for, the peer's NACKs answered from a send history, RTX unwrapped.
    pub nack: bool,
    /// Packets kept per video track for retransmission, and the age past which they are
    /// no longer sent again.
    pub history_packets: usize,
    pub history_age: Duration,
    /// Transport-wide congestion control: `transport-cc` and its header extension
    /// advertised; a feedback packet about every 100 ms for what arrived carrying the
    /// extension; our packets numbered, and the peer's feedback (and REMB) driving the
    /// bandwidth estimate.
    pub transport_cc: bool,
    /// The bandwidth estimate's start, floor and ceiling.
    pub bandwidth: BweConfig,
}

impl Default for RtcpConfig {
    fn default() -> Self {
        RtcpConfig {
            reports: true,
            keyframe_requests: true,
            nack: true,
            history_packets: DEFAULT_HISTORY_PACKETS,
            history_age: DEFAULT_HISTORY_AGE,
            transport_cc: true,
            bandwidth: BweConfig::default(),
        }
    }
}

/// What one sending track keeps to answer NACKs.
pub(super) struct Resender {
    pub history: History,
    rtx_sequence: u16,
    /// For getStats: NACK requests for this track, and what they made us send again.
    pub nack_count: u64,
    pub retransmitted_packets: u64,
    pub retransmitted_bytes: u64,
}

impl Resender {
    pub fn new(packets: usize, age: Duration) -> Self {
        Resender {
            history: History::new(packets, age),
            rtx_sequence: super::random_u16(),
            nack_count: 0,
            retransmitted_packets: 0,
            retransmitted_bytes: 0,
        }
    }
}

pub(super) struct RtcpState {
    pub engine: Engine,
    pub twcc: TwccRecorder,
    pub bwe: Estimator,
    /// The estimate last given to the host (a new one is posted when it moves 5 %).
    bwe_posted: Option<u64>,
    buf: Vec<u8>,
    /// The sender SSRC of RRs and feedback: the first track's (a random one before).
    pub reporter: u32,
}

impl RtcpState {
    pub fn new(cname: &str, bandwidth: BweConfig) -> Self {
        RtcpState {
            engine: Engine::new(cname),
            twcc: TwccRecorder::new(*EPOCH),
            bwe: Estimator::new(bandwidth),
            bwe_posted: None,
            buf: Vec::with_capacity(MAX_PACKET_LEN),
            reporter: random_u32() | 1,
        }
    }
}

/// A snapshot of one track's RTCP view, for getters and getStats.
#[derive(Debug, Clone, Default)]
pub struct TrackRtcp {
    /// The peer's last report about what we send on the track.
    pub remote_inbound: Option<RemoteInbound>,
    /// Per SSRC received on the track: the peer's last SR about it, and our receive figures.
    pub received: Vec<ReceivedSource>,
}

#[derive(Debug, Clone)]
pub struct ReceivedSource {
    pub ssrc: u32,
    pub packets_received: u64,
    pub packets_lost: i64,
    /// Interarrival jitter in seconds.
    pub jitter: f64,
    pub remote_outbound: Option<RemoteOutbound>,
}

impl Session {
    /// An authenticated RTP packet for `track`: its statistics, and a NACK at once when it
    /// opened a gap.
    pub(super) fn rtcp_on_rtp(&self, track: u32, info: PayloadInfo, header: &RtpHeader<'_>) {
        let now = Instant::now();
        let gap = self.rtcp.lock().engine.on_rtp(
            header.ssrc(),
            track,
            info.clock_rate,
            header.sequence_number(),
            header.timestamp(),
            info.nack,
            now,
        );
        if gap {
            self.send_due_nacks(now);
            self.rtcp_wake.notify_one();
        }
    }

    /// A packet arrived with transport-wide sequence number `seq`; the timer sends the
    /// feedback (woken when the first packet of a report period arrives).
    pub(super) fn rtcp_on_transport_sequence(&self, seq: u16) {
        let first = {
            let mut st = self.rtcp.lock();
            let first = st.twcc.next_due().is_none();
            st.twcc.on_packet(seq, Instant::now());
            first
        };
        if first {
            self.rtcp_wake.notify_one();
        }
    }

    /// Sends transport-wide feedback if a report is due at `now`.
    fn send_due_twcc(&self, now: Instant) {
        let mut buf = [0u8; PROTECT_ROOM];
        let len = {
            let mut st = self.rtcp.lock();
            if st.twcc.next_due().is_none_or(|t| t > now) {
                return;
            }
            let media = st.engine.remote_sources().map(|(ssrc, _)| ssrc).min().unwrap_or(0);
            let RtcpState { twcc, buf: out, reporter, .. } = &mut *st;
            out.clear();
            if !twcc.write_feedback(*reporter, media, now, out) || out.len() > MAX_PACKET_LEN {
                return;
            }
            buf[..out.len()].copy_from_slice(out);
            out.len()
        };
        let _ = self.send_rtcp_plain(&mut buf, len);
    }

    /// An unwrapped RTX packet of `primary`.
    pub(super) fn rtcp_on_retransmission(&self, primary: u32, seq: u16) {
        self.rtcp.lock().engine.on_retransmission(primary, seq, Instant::now());
    }

    /// Sends the NACKs due at `now`, if any.
    fn send_due_nacks(&self, now: Instant) {
        let mut buf = [0u8; PROTECT_ROOM];
        let len = {
            let mut st = self.rtcp.lock();
            let RtcpState { engine, buf: out, reporter, .. } = &mut *st;
            if !engine.write_nacks(*reporter, now, out) || out.len() > MAX_PACKET_LEN {
                return;
            }
            buf[..out.len()].copy_from_slice(out);
            out.len()
        };
        let _ = self.send_rtcp_plain(&mut buf, len);
    }

    /// Answers the peer's NACK for `seqs` of `track` from its send history: over RTX when
    /// negotiated (RFC 4588 §4: the RTX SSRC, its own sequence, the original sequence number
    /// first in the payload), else the packet as it was sent.
    fn retransmit(&self, track: &SendTrack, seqs: &[u16], rtt: Option<Duration>) {
        let Some(resender) = &track.resend else {
            self.stats.nack_requests_unanswered.fetch_add(seqs.len() as u64, Ordering::Relaxed);
            return;
        };
        let now = Instant::now();
        // The same packet is not sent again within one round trip (the peer's retry).
        let min_interval = rtt.unwrap_or(Duration::ZERO).max(Duration::from_millis(10));
        let mut staged: Vec<(usize, usize, usize)> = Vec::new();
        let mut out: Vec<u8> = Vec::new();
        {
            let mut r = resender.lock();
            r.nack_count += 1;
            let Resender { history, rtx_sequence, retransmitted_packets, retransmitted_bytes, .. } = &mut *r;
            for &seq in seqs {
                let p = match history.resend(seq, now, min_interval) {
                    Ok(p) => p,
                    Err(Miss::Gone) => {
                        self.stats.nack_requests_unanswered.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    Err(Miss::TooSoon | Miss::Budget) => {
                        self.stats.nack_requests_limited.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                let Ok(header) = RtpHeader::parse(p) else { continue };
                let header_len = header.header_len;
                // RTX copies the header first, so the element sits at the same place.
                let transport_seq_at = track.twcc.as_ref().and_then(|(id, _)| header.extension_at(*id)).filter(|(_, len)| *len == 2);
                let at = out.len();
                match track.rtx.as_ref().and_then(|(ssrc, pts)| pts.iter().find(|(pt, _)| *pt == header.payload_type()).map(|(_, x)| (*ssrc, *x))) {
                    Some((rtx_ssrc, rtx_pt)) => {
                        out.extend_from_slice(&p[..header_len]);
                        out.extend_from_slice(&seq.to_be_bytes());
                        out.extend_from_slice(&p[header_len..]);
                        out[at + 1] = (out[at + 1] & 0x80) | rtx_pt;
                        out[at + 2..at + 4].copy_from_slice(&rtx_sequence.to_be_bytes());
                        *rtx_sequence = rtx_sequence.wrapping_add(1);
                        rtp::set_ssrc(&mut out[at..], rtx_ssrc);
                    }
                    None => out.extend_from_slice(p),
                }
                // A retransmission is a new packet on the transport: a new transport-wide
                // number (the peer's feedback then tells whether the repair arrived).
                if let (Some((off, _)), Some((_, log))) = (transport_seq_at, &track.twcc) {
                    let tseq = log.record(out.len() - at, clock_us(now));
                    out[at + off..at + off + 2].copy_from_slice(&tseq.to_be_bytes());
                }
                staged.push((at, out.len() - at, header_len));
                *retransmitted_packets += 1;
                *retransmitted_bytes += (out.len() - at) as u64;
            }
        }
        let mut buf = [0u8; PROTECT_ROOM];
        for (at, len, header_len) in staged {
            buf[..len].copy_from_slice(&out[at..at + len]);
            let sent = {
                let mut tx = self.srtp_tx.lock();
                let Some(tx) = tx.as_mut() else { return };
                tx.protect_parsed_rtp(&mut buf, len, header_len)
            };
            let Ok(n) = sent else { continue };
            if self.ice.send(&buf[..n]).is_ok() {
                self.stats.retransmitted_packets_sent.fetch_add(1, Ordering::Relaxed);
                self.stats.retransmitted_bytes_sent.fetch_add(len as u64, Ordering::Relaxed);
            }
        }
    }

    /// A decrypted compound RTCP packet: reports update the figures, keyframe requests reach
    /// the host as events.
    pub(super) fn rtcp_on_rtcp(&self, plain: &[u8]) {
        let local: Vec<(u32, u32)> = self.routes.read().tracks.iter().map(|(id, t)| (t.ssrc, *id)).collect();
        let now = Instant::now();
        let (received, rtt, estimate) = {
            let mut st = self.rtcp.lock();
            let received = st.engine.on_rtcp(plain, now, ntp_now(), |s| local.iter().any(|(l, _)| *l == s));
            let rtt = st.engine.round_trip();
            let estimate = self.update_estimate(&mut st, &received, now, rtt);
            (received, rtt, estimate)
        };
        if let Some(bitrate) = estimate {
            self.emitter.post(OwnedEvent::BandwidthEstimate { bitrate });
            self.emitter.flush();
        }
        for (ssrc, seqs) in &received.nacks {
            let track = self.routes.read().tracks.values().find(|t| t.ssrc == *ssrc).cloned();
            if let Some(t) = track {
                self.retransmit(&t, seqs, rtt);
            }
        }
        if !self.config.rtcp.keyframe_requests || received.keyframes.is_empty() {
            return;
        }
        for ssrc in received.keyframes {
            if let Some((_, track)) = local.iter().find(|(l, _)| *l == ssrc) {
                self.emitter.post(OwnedEvent::KeyframeRequest { track: *track });
            }
        }
        self.emitter.flush();
    }

    /// Feeds the peer's transport-wide feedback and REMB to the estimator; returns the new
    /// estimate when the host should hear of it (the first, then a move of 5 % or more).
    fn update_estimate(&self, st: &mut RtcpState, received: &crate::rtcp::engine::Received, now: Instant, rtt: Option<Duration>) -> Option<u64> {
        if !self.config.rtcp.transport_cc || (received.transport_feedback.is_empty() && received.remb.is_none()) {
            return None;
        }
        let now_us = clock_us(now);
        if let Some(log) = self.send_log.get() {
            for f in &received.transport_feedback {
                st.bwe.on_feedback(f, log, now_us, rtt);
            }
        }
        if let Some(b) = received.remb {
            st.bwe.on_remb(b, now_us);
        }
        let e = st.bwe.estimate()?;
        let moved = st.bwe_posted.is_none_or(|p| e.abs_diff(p) * 20 >= p);
        if moved {
            st.bwe_posted = Some(e);
        }
        moved.then_some(e)
    }

    /// The send-side bandwidth estimate (bits per second), once the peer's transport-wide
    /// feedback or REMB has arrived.
    pub fn bandwidth_estimate(&self) -> Option<u64> {
        self.rtcp.lock().bwe.estimate()
    }

    pub fn bandwidth_counters(&self) -> crate::rtcp::bwe::BweCounters {
        self.rtcp.lock().bwe.counters
    }

    /// Starts the RTCP timer once SRTP keys exist (reports or NACK on): a report at each
    /// randomized interval, NACK retries when they fall due. It sleeps until the earlier of
    /// the two, or until woken (a new gap, or the session closed).
    pub(super) fn start_rtcp(&self) {
        let config = self.config.rtcp;
        if !(config.reports || config.nack || config.transport_cc) || self.rtcp_running.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = self.self_weak();
        let wake = Arc::clone(&self.rtcp_wake);
        // Video's 1 s interval while RTP moves in either direction; the 5 s one for audio only
        // and for a session where nothing moved since the last report (an idle call costs a
        // fifth as much).
        let interval = |s: &Session, moved: &mut u64| {
            let now_moved = s.stats.rtp_packets_sent.load(Ordering::Relaxed) + s.stats.rtp_packets_received.load(Ordering::Relaxed);
            let active = now_moved != std::mem::replace(moved, now_moved);
            let video = s.routes.read().tracks.values().any(|t| t.negotiated && t.kind == MediaKind::Video);
            report_interval(video && active, random_u32())
        };
        runtime::spawn(async move {
            let mut moved = u64::MAX; // the first interval is an active one
            let mut next_report = {
                let Some(s) = live(&weak) else { return };
                Instant::now() + interval(&s, &mut moved)
            };
            loop {
                let wait = {
                    let Some(s) = live(&weak) else { return };
                    let (nack, twcc) = {
                        let st = s.rtcp.lock();
                        (st.engine.next_nack_due(), st.twcc.next_due())
                    };
                    let frames = s.frames_next_due();
                    let report = if config.reports { Some(next_report) } else { None };
                    match report.into_iter().chain(nack).chain(twcc).chain(frames).min() {
                        Some(at) => at.saturating_duration_since(Instant::now()),
                        None => Duration::from_secs(3600),
                    }
                };
                let _ = tokio::time::timeout(wait, wake.notified()).await;
                let Some(s) = live(&weak) else { return };
                let now = Instant::now();
                if config.reports && now >= next_report {
                    let _ = s.send_report(false);
                    next_report = now + interval(&s, &mut moved);
                }
                if config.nack {
                    s.send_due_nacks(now);
                }
                if config.transport_cc {
                    s.send_due_twcc(now);
                }
                s.release_due_frames(now);
            }
        });
    }

    /// Writes and sends one compound report (with a BYE when `bye`).
    pub(super) fn send_report(&self, bye: bool) -> Result<()> {
        let now = Instant::now();
        let (senders, first_ssrc, any_media) = {
            let r = self.routes.read();
            let mut tracks: Vec<_> = r.tracks.iter().collect();
            tracks.sort_unstable_by_key(|(id, _)| **id);
            let senders: Vec<SenderInfo> = tracks
                .iter()
                .filter(|(_, t)| t.can_send && t.counters.packets() > 0)
                .map(|(_, t)| t.counters.info(t.ssrc, t.clock_rate(), now))
                .collect();
            let any = tracks.iter().any(|(_, t)| t.negotiated);
            (senders, tracks.first().map(|(_, t)| t.ssrc), any)
        };
        if !any_media {
            return Ok(());
        }
        let mut buf = [0u8; PROTECT_ROOM];
        let len = {
            let mut st = self.rtcp.lock();
            let RtcpState { engine, buf: out, reporter, .. } = &mut *st;
            engine.write_report(first_ssrc.unwrap_or(*reporter), &senders, ntp_now(), now, bye, out);
            if out.len() > MAX_PACKET_LEN {
                return Err(error::packet_rejected(format!("a report of {} bytes does not fit a packet", out.len())));
            }
            buf[..out.len()].copy_from_slice(out);
            out.len()
        };
        self.send_rtcp_plain(&mut buf, len)
    }

    /// Protects `buf[..len]` (a compound RTCP packet we wrote) and sends it.
    pub(super) fn send_rtcp_plain(&self, buf: &mut [u8], len: usize) -> Result<()> {
        let n = {
            let mut tx = self.srtp_tx.lock();
            let tx = tx.as_mut().ok_or_else(media_not_ready)?;
            tx.protect_rtcp(buf, len)?
        };
        self.ice.send(&buf[..n])?;
        self.stats.rtcp_packets_sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Asks the peer for a keyframe on receiving `track`: a PLI, or a FIR when the peer
    /// negotiated only `ccm fir`, for the source that last sent on the track.
    /// Errors: UnknownTrack; InvalidState (keyframe requests off, not negotiated for the
    /// track, or nothing received on it yet); NotConnected.
    pub fn request_keyframe(&self, track: u32) -> Result<()> {
        self.check_open()?;
        if !self.config.rtcp.keyframe_requests {
            return Err(error::invalid_state("keyframe requests are switched off in this session's configuration"));
        }
        let (reporter, pli, fir, learned) = {
            let r = self.routes.read();
            let t = r.tracks.get(&track).ok_or_else(|| error::unknown_track(format!("track {track} does not exist in this session")))?;
            let learned: Option<u32> = r.by_ssrc.iter().find(|(_, id)| **id == track).map(|(ssrc, _)| *ssrc);
            (t.ssrc, t.peer_pli, t.peer_fir, learned)
        };
        if !pli && !fir {
            return Err(error::invalid_state(format!(
                "track {track}: the peer negotiated neither PLI (nack pli) nor FIR (ccm fir)"
            )));
        }
        let mut buf = [0u8; PROTECT_ROOM];
        let len = {
            let mut st = self.rtcp.lock();
            let RtcpState { engine, buf: out, .. } = &mut *st;
            let media = engine.latest_source(track).or(learned).ok_or_else(|| {
                error::invalid_state(format!("track {track} has received nothing yet: no source to ask for a keyframe"))
            })?;
            if pli {
                engine.write_pli(reporter, media, out);
            } else {
                engine.write_fir(reporter, media, out);
            }
            buf[..out.len()].copy_from_slice(out);
            out.len()
        };
        self.send_rtcp_plain(&mut buf, len)
    }

    /// The latest round-trip time from the peer's reports, if any echoed one of our SRs.
    pub fn round_trip_time(&self) -> Option<Duration> {
        self.rtcp.lock().engine.round_trip()
    }

    pub fn rtcp_counters(&self) -> EngineCounters {
        self.rtcp.lock().engine.counters
    }

    /// The RTCP view of one track: the peer's report on what we send, and per received SSRC
    /// our figures and the peer's last SR.
    pub fn track_rtcp(&self, track: u32) -> Result<TrackRtcp> {
        let ssrc = {
            let r = self.routes.read();
            r.tracks.get(&track).ok_or_else(|| error::unknown_track(format!("track {track} does not exist in this session")))?.ssrc
        };
        let st = self.rtcp.lock();
        let mut received: Vec<ReceivedSource> = st
            .engine
            .remote_sources()
            .filter(|(_, s)| s.track == track)
            .map(|(ssrc, s)| ReceivedSource {
                ssrc,
                packets_received: s.stats.packets_received(),
                packets_lost: s.stats.cumulative_lost(),
                jitter: s.stats.jitter() as f64 / s.stats.clock_rate() as f64,
                remote_outbound: s.sender_report,
            })
            .collect();
        received.sort_unstable_by_key(|s| s.ssrc);
        Ok(TrackRtcp { remote_inbound: st.engine.remote_inbound(ssrc).copied(), received })
    }

    /// Sends a BYE (in a last report) before the keys go, and stops the timer.
    pub(super) fn stop_rtcp(&self) {
        if self.config.rtcp.reports && self.rtcp_running.load(Ordering::Acquire) {
            let _ = self.send_report(true);
        }
        self.rtcp_wake.notify_one();
    }
}
