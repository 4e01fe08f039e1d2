//! Send-side bandwidth estimation, sans-IO, in the spirit of Google Congestion Control
//! (draft-ietf-rmcat-gcc-02, and libwebrtc's structure): what the peer's transport-wide
//! feedback says of our packets (`twcc::Feedback`, matched to `SendLog`) drives
//!
//! - a **delay-based** estimate: packets grouped by 5 ms of send time, the change of one-way
//!   delay between groups smoothed and fitted by a trend line over 20 groups, compared with
//!   an adaptive threshold (overuse, normal, underuse); an AIMD controller grows the rate by
//!   8 % a second (additively once near a known capacity), at once to what the peer
//!   acknowledged receiving if that is more, never past 1.5× it, and on overuse cuts it to
//!   0.85× the acknowledged rate;
//! - a **loss-based** cap: over 20 or more reported packets, under 2 % lost lets it grow 8 %
//!   a second (at once to the acknowledged rate), over 10 % cuts it by half the loss
//!   fraction (not below 0.85× what the peer acknowledged receiving);
//! - and the peer's **REMB** (draft-alvestrand-rmcat-remb), when it sends one, as a further cap.
//!
//! The estimate is the least of the three, within the configured minimum and maximum. It
//! grows only while the host sends: a rate the path never carried is not known to fit.
//! Work per feedback packet is bounded by its status count (at most 65,535, and the
//! acknowledged-rate window by `MAX_WINDOW`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use once_cell::sync::OnceCell;

use super::twcc::{unwrap_sequence, Feedback};

/// Sent packets remembered for matching feedback (8 bytes each): a second at 1,000 packets/s.
pub const SEND_LOG_SLOTS: usize = 1024;
/// Packets in the acknowledged-rate window.
const MAX_WINDOW: usize = 4096;
const ACKED_WINDOW_US: i64 = 500_000;
const GROUP_US: i64 = 5_000;
const TREND_WINDOW: usize = 20;
const SMOOTHING: f64 = 0.9;
const THRESHOLD_GAIN: f64 = 4.0;
const OVERUSE_TIME_MS: f64 = 10.0;
const BETA: f64 = 0.85;
/// A REMB older than this no longer caps the estimate.
const REMB_LIFETIME_US: i64 = 5_000_000;

/// The transport-wide sequence numbers we sent, with send time and size, written lock-free
/// on the send path (one atomic store per packet) and read when feedback arrives. Its 8 KB
/// are allocated with the first packet (a connected session that sends nothing pays none).
#[derive(Default)]
pub struct SendLog {
    next: AtomicU16,
    slots: OnceCell<Box<[AtomicU64]>>,
}

impl SendLog {
    /// Takes the next transport-wide sequence number for a packet of `size` bytes sent at
    /// `at_us` (microseconds on the session's clock).
    pub fn record(&self, size: usize, at_us: u64) -> u16 {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = (seq as u64) << 48 | (size.min(0xffff) as u64) << 32 | (at_us & 0xffff_ffff);
        let slots = self.slots.get_or_init(|| (0..SEND_LOG_SLOTS).map(|_| AtomicU64::new(0)).collect());
        slots[seq as usize % SEND_LOG_SLOTS].store(entry, Ordering::Relaxed);
        seq
    }

    /// Send time (µs) and size of `seq`, if it is still in the log; `now_us` unwraps the
    /// 32-bit time (anything claimed to be older than 60 s is refused).
    pub fn lookup(&self, seq: u16, now_us: u64) -> Option<(i64, u32)> {
        let e = self.slots.get()?[seq as usize % SEND_LOG_SLOTS].load(Ordering::Relaxed);
        if e == 0 || (e >> 48) as u16 != seq {
            return None;
        }
        let age = (now_us as u32).wrapping_sub(e as u32) as u64;
        if age > 60_000_000 || age > now_us {
            return None;
        }
        Some(((now_us - age) as i64, ((e >> 32) & 0xffff) as u32))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BweConfig {
    pub start_bps: u64,
    pub min_bps: u64,
    pub max_bps: u64,
}

impl Default for BweConfig {
    fn default() -> Self {
        BweConfig { start_bps: 300_000, min_bps: 30_000, max_bps: 10_000_000 }
    }
}

/// What the delay trend says of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Normal,
    Overuse,
    Underuse,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BweCounters {
    pub feedback_received: u64,
    pub remb_received: u64,
    /// Packets the feedback reported received, lost, or that were not in our log (too
    /// old, or never sent: a peer's invention).
    pub packets_acked: u64,
    pub packets_lost: u64,
    pub packets_unknown: u64,
    pub overuse_detected: u64,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    first_send: i64,
    last_send: i64,
    last_arrival: i64,
}

#[derive(Debug)]
struct Trendline {
    deltas: u32,
    first_arrival: Option<f64>,
    accumulated: f64,
    smoothed: f64,
    window: VecDeque<(f64, f64)>,
    slope: f64,
}

impl Trendline {
    fn new() -> Self {
        Trendline { deltas: 0, first_arrival: None, accumulated: 0.0, smoothed: 0.0, window: VecDeque::with_capacity(TREND_WINDOW), slope: 0.0 }
    }

    /// One delay variation (ms) between groups, the later group arriving at `arrival_ms`;
    /// returns the modified trend the detector compares with its threshold.
    fn update(&mut self, delta_ms: f64, arrival_ms: f64) -> f64 {
        self.deltas = (self.deltas + 1).min(1000);
        let first = *self.first_arrival.get_or_insert(arrival_ms);
        self.accumulated += delta_ms;
        self.smoothed = SMOOTHING * self.smoothed + (1.0 - SMOOTHING) * self.accumulated;
        if self.window.len() == TREND_WINDOW {
            self.window.pop_front();
        }
        self.window.push_back((arrival_ms - first, self.smoothed));
        if self.window.len() == TREND_WINDOW {
            if let Some(s) = slope(&self.window) {
                self.slope = s;
            }
        }
        self.deltas.min(60) as f64 * self.slope * THRESHOLD_GAIN
    }
}

/// Least-squares slope of (x, y) points.
fn slope(points: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + (x - mx) * (y - my), b + (x - mx) * (x - mx)));
    (den != 0.0).then(|| num / den)
}

#[derive(Debug)]
struct Detector {
    threshold: f64,
    last_update_ms: Option<f64>,
    time_over_using: f64,
    overuse_count: u32,
    prev_trend: f64,
    usage: Usage,
}

impl Detector {
    fn new() -> Self {
        Detector { threshold: 12.5, last_update_ms: None, time_over_using: -1.0, overuse_count: 0, prev_trend: 0.0, usage: Usage::Normal }
    }

    fn detect(&mut self, trend: f64, send_delta_ms: f64, deltas: u32, now_ms: f64) -> Usage {
        if deltas < 2 {
            return Usage::Normal;
        }
        if trend > self.threshold {
            if self.time_over_using < 0.0 {
                self.time_over_using = send_delta_ms / 2.0;
            } else {
                self.time_over_using += send_delta_ms;
            }
            self.overuse_count += 1;
            if self.time_over_using > OVERUSE_TIME_MS && self.overuse_count > 1 && trend >= self.prev_trend {
                self.time_over_using = 0.0;
                self.overuse_count = 0;
                self.usage = Usage::Overuse;
            }
        } else if trend < -self.threshold {
            self.time_over_using = -1.0;
            self.overuse_count = 0;
            self.usage = Usage::Underuse;
        } else {
            self.time_over_using = -1.0;
            self.overuse_count = 0;
            self.usage = Usage::Normal;
        }
        self.prev_trend = trend;
        // The threshold follows the trend (slowly up, faster down), so a path's own jitter
        // does not read as overuse and a competing flow does not starve us.
        let last = *self.last_update_ms.get_or_insert(now_ms);
        if trend.abs() <= self.threshold + 15.0 {
            let k = if trend.abs() < self.threshold { 0.039 } else { 0.0087 };
            let dt = (now_ms - last).clamp(0.0, 100.0);
            self.threshold = (self.threshold + k * (trend.abs() - self.threshold) * dt).clamp(6.0, 600.0);
        }
        self.last_update_ms = Some(now_ms);
        self.usage
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RateState {
    Hold,
    Increase,
    Decrease,
}

#[derive(Debug)]
pub struct Estimator {
    config: BweConfig,
    /// Highest transport-wide sequence number (unwrapped) the feedback has covered.
    highest: Option<i64>,
    group: Option<Group>,
    prev_group: Option<Group>,
    trend: Trendline,
    detector: Detector,
    /// (arrival µs, bytes) of acknowledged packets, for the acknowledged rate.
    acked: VecDeque<(i64, u32)>,
    acked_bytes: u64,
    state: RateState,
    delay_rate: f64,
    last_rate_update: Option<i64>,
    /// The acknowledged rate at the last decrease: the path's capacity, once known.
    capacity: Option<f64>,
    loss_rate: f64,
    loss_window: (u64, u64),
    last_loss_increase: Option<i64>,
    last_loss_decrease: Option<i64>,
    /// The peer's last REMB (bits/s, INFINITY: none) and when it came. Plain values, not an
    /// Option of a pair: optimized code reading the pair of a None trips valgrind.
    remb_bps: f64,
    remb_at: i64,
    estimate: u64,
    /// Whether any feedback (transport-wide or REMB) has arrived: before, there is no estimate.
    informed: bool,
    pub counters: BweCounters,
}

impl Estimator {
    pub fn new(config: BweConfig) -> Self {
        let start = config.start_bps.clamp(config.min_bps, config.max_bps) as f64;
        Estimator {
            config,
            highest: None,
            group: None,
            prev_group: None,
            trend: Trendline::new(),
            detector: Detector::new(),
            acked: VecDeque::new(),
            acked_bytes: 0,
            state: RateState::Hold,
            delay_rate: start,
            last_rate_update: None,
            capacity: None,
            loss_rate: start,
            loss_window: (0, 0),
            last_loss_increase: None,
            last_loss_decrease: None,
            remb_bps: f64::INFINITY,
            remb_at: 0,
            estimate: start as u64,
            informed: false,
            counters: BweCounters::default(),
        }
    }

    /// The estimate in bits per second, once feedback has arrived.
    pub fn estimate(&self) -> Option<u64> {
        self.informed.then_some(self.estimate)
    }

    /// The acknowledged receive rate (bits/s) over the last half second of arrivals.
    pub fn acknowledged_rate(&self) -> Option<f64> {
        let (first, last) = (self.acked.front()?.0, self.acked.back()?.0);
        let span = last - first;
        (span >= 100_000).then(|| self.acked_bytes as f64 * 8.0 * 1e6 / span.max(ACKED_WINDOW_US / 2) as f64)
    }

    /// A transport-wide feedback packet, our sends looked up in `log`, at `now_us` on the
    /// log's clock; `rtt` sets how fast the additive increase goes.
    pub fn on_feedback(&mut self, fb: &Feedback, log: &SendLog, now_us: u64, rtt: Option<Duration>) {
        self.counters.feedback_received += 1;
        self.informed = true;
        let reference = fb.reference as i64 * 64_000;
        let mut received: Vec<(i64, i64, u32)> = Vec::with_capacity(fb.arrivals.len().min(MAX_WINDOW));
        let mut lost = 0u64;
        let mut highest = self.highest;
        for (i, arrival) in fb.arrivals.iter().enumerate() {
            let seq = fb.base.wrapping_add(i as u16);
            let ext = unwrap_sequence(seq, highest);
            if self.highest.is_some_and(|h| ext <= h) {
                continue; // covered by an earlier report
            }
            let Some((sent, size)) = log.lookup(seq, now_us) else {
                self.counters.packets_unknown += 1;
                continue;
            };
            // Only what we sent moves the mark (a report of strangers cannot hide later ones).
            if highest.is_none_or(|h| ext > h) {
                highest = Some(ext);
            }
            match arrival {
                Some(a) => received.push((sent, reference + a, size)),
                None => lost += 1,
            }
        }
        self.highest = highest;
        self.counters.packets_acked += received.len() as u64;
        self.counters.packets_lost += lost;
        received.sort_unstable_by_key(|p| p.0);
        for &(sent, arrival, size) in &received {
            self.on_acked(sent, arrival, size);
        }
        let now = now_us as i64;
        self.update_delay_rate(now, rtt);
        self.update_loss_rate(received.len() as u64, lost, now, rtt);
        self.finish(now);
    }

    /// The peer's REMB: a cap on what we send.
    pub fn on_remb(&mut self, bitrate: u64, now_us: u64) {
        self.counters.remb_received += 1;
        self.informed = true;
        self.remb_bps = bitrate as f64;
        self.remb_at = now_us as i64;
        self.finish(now_us as i64);
    }

    fn on_acked(&mut self, sent: i64, arrival: i64, size: u32) {
        if self.acked.len() == MAX_WINDOW {
            if let Some((_, b)) = self.acked.pop_front() {
                self.acked_bytes -= b as u64;
            }
        }
        self.acked.push_back((arrival, size));
        self.acked_bytes += size as u64;
        while self.acked.front().is_some_and(|(a, _)| arrival - a > ACKED_WINDOW_US) {
            if let Some((_, b)) = self.acked.pop_front() {
                self.acked_bytes -= b as u64;
            }
        }
        // Inter-group delay variation: a packet sent more than 5 ms after its group's first
        // closes the group.
        match &mut self.group {
            Some(g) if sent - g.first_send <= GROUP_US => {
                g.last_send = g.last_send.max(sent);
                g.last_arrival = g.last_arrival.max(arrival);
            }
            _ => {
                if let (Some(cur), Some(prev)) = (self.group, self.prev_group) {
                    let send_delta = (cur.last_send - prev.last_send) as f64 / 1000.0;
                    let arrival_delta = (cur.last_arrival - prev.last_arrival) as f64 / 1000.0;
                    let arrival_ms = cur.last_arrival as f64 / 1000.0;
                    let trend = self.trend.update(arrival_delta - send_delta, arrival_ms);
                    let before = self.detector.usage;
                    if self.detector.detect(trend, send_delta, self.trend.deltas, arrival_ms) == Usage::Overuse && before != Usage::Overuse {
                        self.counters.overuse_detected += 1;
                    }
                }
                if self.group.is_some() {
                    self.prev_group = self.group;
                }
                self.group = Some(Group { first_send: sent, last_send: sent, last_arrival: arrival });
            }
        }
    }

    fn update_delay_rate(&mut self, now: i64, rtt: Option<Duration>) {
        self.state = match (self.detector.usage, self.state) {
            (Usage::Normal, RateState::Hold) => RateState::Increase,
            (Usage::Normal, s) => s,
            (Usage::Overuse, _) => RateState::Decrease,
            (Usage::Underuse, _) => RateState::Hold,
        };
        let dt = self.last_rate_update.map_or(0.0, |t| ((now - t) as f64 / 1e6).clamp(0.0, 1.0));
        self.last_rate_update = Some(now);
        let acked = self.acknowledged_rate();
        match self.state {
            RateState::Increase => {
                let before = self.delay_rate;
                // Past the known capacity by a margin, it no longer holds.
                if self.capacity.is_some_and(|c| self.delay_rate > 1.5 * c) {
                    self.capacity = None;
                }
                let grown = match self.capacity {
                    Some(_) => {
                        // About one packet more per response time (RTT + 100 ms).
                        let response = rtt.map_or(0.2, |r| r.as_secs_f64()) + 0.1;
                        before + (1200.0 * 8.0 / response).max(4000.0) * dt
                    }
                    None => before * 1.08f64.powf(dt),
                };
                // No further than 1.5× what the peer acknowledged (never lowered by it), and
                // at least that: what arrived without the delay growing fits the path.
                let limit = acked.map_or(f64::INFINITY, |a| 1.5 * a + 10_000.0);
                let grown = grown.max(acked.unwrap_or(0.0));
                self.delay_rate = if grown > limit { before.max(limit) } else { grown };
            }
            RateState::Decrease => {
                if let Some(a) = acked {
                    let cut = BETA * a;
                    self.delay_rate = cut.min(self.delay_rate);
                    self.capacity = Some(self.capacity.map_or(a, |c| 0.95 * c + 0.05 * a));
                }
                self.state = RateState::Hold;
            }
            RateState::Hold => {}
        }
    }

    fn update_loss_rate(&mut self, received: u64, lost: u64, now: i64, rtt: Option<Duration>) {
        self.loss_window.0 += received;
        self.loss_window.1 += lost;
        let (r, l) = self.loss_window;
        if r + l < 20 {
            return;
        }
        self.loss_window = (0, 0);
        let p = l as f64 / (r + l) as f64;
        if p < 0.02 {
            if self.last_loss_increase.is_none_or(|t| now - t >= 1_000_000) {
                self.loss_rate = self.loss_rate * 1.08 + 1000.0;
                self.last_loss_increase = Some(now);
            }
            self.loss_rate = self.loss_rate.max(self.acknowledged_rate().unwrap_or(0.0));
        } else if p > 0.10 {
            let hold = 300_000 + rtt.map_or(200_000, |r| r.as_micros() as i64);
            if self.last_loss_decrease.is_none_or(|t| now - t >= hold) {
                // What still arrives shows what the path carries: a sender that does not
                // slow down (a host ignoring the estimate) keeps the loss high, and the
                // estimate then stays near the acknowledged rate instead of the floor.
                let floor = self.acknowledged_rate().map_or(0.0, |a| BETA * a).min(self.loss_rate);
                self.loss_rate = (self.loss_rate * (1.0 - 0.5 * p)).max(floor);
                self.last_loss_decrease = Some(now);
            }
        }
    }

    fn finish(&mut self, now: i64) {
        let remb = if now.saturating_sub(self.remb_at) <= REMB_LIFETIME_US { self.remb_bps } else { f64::INFINITY };
        let target = self.delay_rate.min(self.loss_rate).min(remb);
        let target = target.clamp(self.config.min_bps as f64, self.config.max_bps as f64);
        // The loss-based value is the final one (it grows from there); the delay-based one
        // keeps its own course within the configured range.
        self.loss_rate = target;
        self.delay_rate = self.delay_rate.clamp(self.config.min_bps as f64, self.config.max_bps as f64);
        self.estimate = target as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path model: packets of `size` bytes sent at `rate_bps` through a bottleneck of
    /// `capacity_bps` (a queue) plus 20 ms, `loss` dropping every n-th; feedback each 100 ms.
    struct Path {
        log: SendLog,
        est: Estimator,
        now_us: u64,
        queue_free_at: i64,
        pending: Vec<(u16, Option<i64>)>,
        nth_lost: Option<u64>,
        sent: u64,
    }

    impl Path {
        fn new(config: BweConfig) -> Self {
            Path { log: SendLog::default(), est: Estimator::new(config), now_us: 1_000_000, queue_free_at: 0, pending: Vec::new(), nth_lost: None, sent: 0 }
        }

        /// Runs `seconds` of sending at the current estimate (or `fixed` bits/s).
        fn run(&mut self, seconds: f64, capacity_bps: f64, fixed: Option<f64>) {
            let end = self.now_us + (seconds * 1e6) as u64;
            let size = 1200usize;
            let mut next_feedback = self.now_us + 100_000;
            while self.now_us < end {
                let rate = fixed.unwrap_or(self.est.estimate as f64);
                let seq = self.log.record(size, self.now_us);
                self.sent += 1;
                let lost = self.nth_lost.is_some_and(|n| self.sent % n == 0);
                let start = (self.now_us as i64).max(self.queue_free_at);
                self.queue_free_at = start + (size as f64 * 8.0 * 1e6 / capacity_bps) as i64;
                let arrival = self.queue_free_at + 20_000;
                self.pending.push((seq, (!lost).then_some(arrival)));
                self.now_us += (size as f64 * 8.0 * 1e6 / rate) as u64;
                if self.now_us >= next_feedback {
                    self.feedback();
                    next_feedback += 100_000;
                }
            }
        }

        fn feedback(&mut self) {
            // What has arrived by now (lost ones reported once later ones have).
            let now = self.now_us as i64;
            let upto = self.pending.iter().rposition(|(_, a)| a.is_some_and(|a| a <= now));
            let Some(upto) = upto else { return };
            let batch: Vec<_> = self.pending.drain(..=upto).collect();
            let fb = Feedback {
                base: batch[0].0,
                reference: 0,
                count: 0,
                arrivals: batch.iter().map(|(_, a)| *a).collect(),
            };
            self.est.on_feedback(&fb, &self.log, self.now_us, Some(Duration::from_millis(40)));
        }
    }

    #[test]
    fn send_log_matches_sequence_numbers_and_refuses_strangers() {
        let log = SendLog::default();
        let a = log.record(1000, 5_000_000);
        let b = log.record(1200, 5_000_100);
        assert_eq!(log.lookup(a, 5_100_000), Some((5_000_000, 1000)));
        assert_eq!(log.lookup(b, 5_100_000), Some((5_000_100, 1200)));
        assert_eq!(log.lookup(b.wrapping_add(1), 5_100_000), None, "never sent");
        for _ in 0..SEND_LOG_SLOTS {
            log.record(100, 6_000_000);
        }
        assert_eq!(log.lookup(a, 6_100_000), None, "overwritten");
    }

    #[test]
    fn estimate_grows_on_a_clean_path_while_the_host_sends() {
        let mut p = Path::new(BweConfig::default());
        assert_eq!(p.est.estimate(), None, "no estimate before feedback");
        p.run(10.0, 50e6, None);
        let e = p.est.estimate().unwrap();
        // 8 % a second for 10 s from 300 kbit/s: about 650 kbit/s.
        assert!(e > 500_000 && e < 800_000, "{e}");
        assert_eq!(p.est.counters.overuse_detected, 0);
        assert_eq!(p.est.counters.packets_lost, 0);
        assert!(p.est.counters.packets_acked > 300);
    }

    #[test]
    fn queueing_delay_cuts_the_estimate_to_the_bottleneck() {
        let config = BweConfig { start_bps: 2_000_000, ..Default::default() };
        let mut p = Path::new(config);
        p.run(2.0, 50e6, None);
        assert!(p.est.estimate().unwrap() >= 2_000_000);
        // The path narrows to 500 kbit/s: the queue grows, overuse, the rate follows.
        p.run(3.0, 500e3, None);
        let e = p.est.estimate().unwrap();
        assert!(p.est.counters.overuse_detected >= 1);
        assert!(e < 600_000 && e > 250_000, "{e}");
        // And stays near it without the queue growing for ever.
        p.run(10.0, 500e3, None);
        let e = p.est.estimate().unwrap();
        assert!(e < 650_000 && e > 250_000, "{e}");
    }

    #[test]
    fn what_arrives_cleanly_lifts_the_estimate_at_once() {
        let mut p = Path::new(BweConfig::default());
        p.run(2.0, 50e6, Some(2_000_000.0));
        let e = p.est.estimate().unwrap();
        assert!(e >= 1_800_000, "a host sending 2 Mbit/s that all arrives, undelayed: {e}");
    }

    #[test]
    fn an_application_limited_sender_does_not_inflate_the_estimate() {
        let mut p = Path::new(BweConfig::default());
        p.run(20.0, 50e6, Some(100_000.0));
        let e = p.est.estimate().unwrap();
        assert!(e <= 300_000, "grows at most to 1.5 × acknowledged + 10 kbit/s, not lowered: {e}");
    }

    #[test]
    fn heavy_loss_cuts_and_light_loss_does_not() {
        let mut p = Path::new(BweConfig { start_bps: 1_000_000, ..Default::default() });
        p.nth_lost = Some(5); // 20 %
        p.run(3.0, 50e6, Some(1_000_000.0));
        let e = p.est.estimate().unwrap();
        // Cut towards 0.85 × the 800 kbit/s that still arrives, no further.
        assert!(e < 750_000 && e >= 600_000, "{e}");
        assert!(p.est.counters.packets_lost > 50);
        let mut q = Path::new(BweConfig { start_bps: 1_000_000, ..Default::default() });
        q.nth_lost = Some(20); // 5 %: held
        q.run(3.0, 50e6, Some(1_000_000.0));
        assert_eq!(q.est.estimate().unwrap(), 1_000_000);
    }

    #[test]
    fn remb_caps_and_expires_and_limits_hold() {
        let mut p = Path::new(BweConfig { start_bps: 1_000_000, min_bps: 50_000, max_bps: 1_200_000 });
        p.est.on_remb(200_000, p.now_us);
        assert_eq!(p.est.estimate(), Some(200_000));
        p.est.on_remb(1, p.now_us);
        assert_eq!(p.est.estimate(), Some(50_000), "the configured minimum");
        p.run(10.0, 50e6, Some(1_000_000.0));
        assert!(p.est.estimate().unwrap() <= 1_200_000, "the configured maximum");
        assert!(p.est.estimate().unwrap() > 50_000, "the REMB expired");
    }

    #[test]
    fn feedback_for_unknown_or_repeated_sequence_numbers_changes_nothing() {
        let mut p = Path::new(BweConfig::default());
        let fb = Feedback { base: 500, reference: 0, count: 0, arrivals: vec![Some(1000); 5000] };
        p.est.on_feedback(&fb, &p.log, p.now_us, None);
        assert_eq!(p.est.counters.packets_unknown, 5000);
        assert_eq!(p.est.counters.packets_acked, 0);
        assert_eq!(p.est.estimate(), Some(300_000));
        p.run(1.0, 50e6, None);
        let acked = p.est.counters.packets_acked;
        let fb = Feedback { base: 0, reference: 0, count: 0, arrivals: vec![Some(0); 10] };
        p.est.on_feedback(&fb, &p.log, p.now_us, None);
        assert_eq!(p.est.counters.packets_acked, acked, "already covered");
    }
}
