//! The statistics RTCP reports are made of (RFC 3550 appendix A): per received SSRC the
//! extended highest sequence number, loss (cumulative and fraction since the last report) and
//! interarrival jitter; per sent SSRC the counts and the RTP time of a wallclock instant; and
//! the round-trip time from a report block that echoes our sender report.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::packets::ReportBlock;

/// Seconds from 1900 (NTP) to 1970 (Unix).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// RFC 3550 A.1: the gaps taken as a restart rather than loss. (A.1's probation is left out:
/// in WebRTC a source is known from signaling or from an authenticated SRTP packet.)
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;

/// Now as a 64-bit NTP timestamp.
pub fn ntp_now() -> u64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    ((d.as_secs() + NTP_UNIX_OFFSET) << 32) | (((d.subsec_nanos() as u64) << 32) / 1_000_000_000)
}

/// The middle 32 bits of an NTP timestamp (what LSR and DLSR use).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// The round-trip time a report block gives back: now − LSR − DLSR (RFC 3550 §6.4.1), or None
/// when the block echoes no SR of ours or the result is negative.
pub fn round_trip(block: &ReportBlock, now_ntp: u64) -> Option<Duration> {
    if block.last_sr == 0 {
        return None;
    }
    let rtt = ntp_middle(now_ntp).wrapping_sub(block.last_sr).wrapping_sub(block.delay_since_last_sr);
    // More than half the 16.16 range is a negative difference (clock skew, a forged block).
    (rtt < 0x8000_0000).then(|| Duration::from_micros(rtt as u64 * 1_000_000 / 65536))
}

/// What one received SSRC looked like so far (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    clock_rate: u32,
    origin: Instant,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Relative transit of the previous packet, in RTP units (modulo 2^32, as timestamps wrap).
    transit: Option<u32>,
    /// Jitter × 16 (A.8's integer form).
    jitter: u64,
    last_sr: Option<(u32, Instant)>,
}

impl ReceiveStats {
    pub fn new(clock_rate: u32, first_seq: u16) -> Self {
        ReceiveStats {
            clock_rate: clock_rate.max(1),
            origin: Instant::now(),
            max_seq: first_seq,
            cycles: 0,
            base_seq: first_seq as u32,
            bad_seq: u32::MAX,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0,
            last_sr: None,
        }
    }

    fn init_sequence(&mut self, seq: u16) {
        self.base_seq = seq as u32;
        self.max_seq = seq;
        self.bad_seq = u32::MAX;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Counts a packet; returns false for one RFC 3550 A.1 discards (a jump it does not yet
    /// believe: it becomes a restart if the next packet follows it).
    pub fn update(&mut self, seq: u16, rtp_timestamp: u32, arrival: Instant) -> bool {
        let delta = seq.wrapping_sub(self.max_seq);
        if delta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        } else if delta <= u16::MAX - MAX_MISORDER {
            // A large jump: a restart if the next packet follows it.
            if seq as u32 == self.bad_seq {
                self.init_sequence(seq);
            } else {
                self.bad_seq = (seq as u32 + 1) & 0xffff;
                return false;
            }
        }
        // Else a duplicate or reordered packet: counted, no sequence change.
        self.received += 1;
        self.jitter_update(rtp_timestamp, arrival);
        true
    }

    fn jitter_update(&mut self, rtp_timestamp: u32, arrival: Instant) {
        let arrival_units = (arrival.saturating_duration_since(self.origin).as_nanos() * self.clock_rate as u128 / 1_000_000_000) as u32;
        let transit = arrival_units.wrapping_sub(rtp_timestamp);
        if let Some(prev) = self.transit {
            // The difference as a signed 32-bit number: a timestamp wrap is no jump.
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs() as u64;
            // J += (|D| - J) / 16, kept ×16.
            self.jitter = self.jitter + d - ((self.jitter + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// A sender report from this source arrived.
    pub fn on_sender_report(&mut self, ntp: u64, arrival: Instant) {
        self.last_sr = Some((ntp_middle(ntp), arrival));
    }

    pub fn extended_highest_sequence(&self) -> u32 {
        self.cycles.wrapping_add(self.max_seq as u32)
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    pub fn packets_received(&self) -> u64 {
        self.received
    }

    pub fn cumulative_lost(&self) -> i64 {
        let expected = self.extended_highest_sequence() as i64 - self.base_seq as i64 + 1;
        expected - self.received as i64
    }

    /// Jitter in RTP timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter >> 4).min(u32::MAX as u64) as u32
    }

    /// The report block for this source now; the fraction lost covers the time since the
    /// previous call.
    pub fn report_block(&mut self, ssrc: u32, now: Instant) -> ReportBlock {
        let expected = (self.extended_highest_sequence() as i64 - self.base_seq as i64 + 1).max(0) as u64;
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = (lost_interval << 8).checked_div(expected_interval).map_or(0, |f| f.min(255) as u8);
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (lsr, (now.saturating_duration_since(at).as_micros() * 65536 / 1_000_000).min(u32::MAX as u128) as u32),
            None => (0, 0),
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            extended_highest_sequence: self.extended_highest_sequence(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// The RTP timestamp `elapsed` after a packet stamped `rtp_timestamp`, on a clock of
/// `clock_rate` (what an SR pairs with its NTP time).
pub fn rtp_time_after(rtp_timestamp: u32, elapsed: Duration, clock_rate: u32) -> u32 {
    rtp_timestamp.wrapping_add((elapsed.as_nanos() * clock_rate as u128 / 1_000_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_fraction_and_extended_sequence_across_a_wrap() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(90000, 65530);
        let mut n = 0u32;
        // 100 packets from 65530 across the wrap, every tenth lost.
        for i in 0..100u16 {
            let seq = 65530u16.wrapping_add(i);
            if i % 10 == 5 {
                continue;
            }
            s.update(seq, 3000 * i as u32, t0 + Duration::from_millis(33 * i as u64));
            n += 1;
        }
        assert_eq!(s.packets_received(), n as u64);
        assert_eq!(s.extended_highest_sequence(), (1 << 16) + (65530u32 + 99 - 65536));
        let b = s.report_block(42, t0 + Duration::from_secs(4));
        assert_eq!(b.cumulative_lost, 10);
        // 10 of 100 lost: 25/256.
        assert_eq!(b.fraction_lost, 25);
        assert_eq!(b.last_sr, 0);
        // The next interval has no loss.
        for i in 100..150u16 {
            s.update(65530u16.wrapping_add(i), 3000 * i as u32, t0 + Duration::from_millis(33 * i as u64));
        }
        assert_eq!(s.report_block(42, t0 + Duration::from_secs(6)).fraction_lost, 0);
    }

    #[test]
    fn jitter_is_zero_on_a_steady_stream_and_grows_with_variation() {
        let t0 = Instant::now();
        let mut steady = ReceiveStats::new(8000, 1);
        let mut jumpy = ReceiveStats::new(8000, 1);
        for i in 0..200u32 {
            steady.update(1 + i as u16, 160 * i, t0 + Duration::from_millis(20 * i as u64));
            let wobble = if i % 2 == 0 { 0 } else { 10 };
            jumpy.update(1 + i as u16, 160 * i, t0 + Duration::from_millis(20 * i as u64 + wobble));
        }
        assert!(steady.jitter() <= 1, "{}", steady.jitter());
        // 10 ms of wobble is 80 units at 8 kHz; the estimate converges near it.
        assert!((60..=90).contains(&jumpy.jitter()), "{}", jumpy.jitter());
    }

    #[test]
    fn round_trip_from_an_echoed_sender_report() {
        let now = ntp_now();
        // The SR left 150 ms ago; the peer held it 50 ms.
        let sent = now - (150u64 << 32) / 1000;
        let block = ReportBlock { last_sr: ntp_middle(sent), delay_since_last_sr: 65536 / 20, ..Default::default() };
        let rtt = round_trip(&block, now).unwrap();
        assert!((99..=101).contains(&rtt.as_millis()), "{rtt:?}");
        assert_eq!(round_trip(&ReportBlock::default(), now), None);
        // A block claiming more delay than has passed gives no RTT.
        let forged = ReportBlock { last_sr: ntp_middle(now), delay_since_last_sr: 65536, ..Default::default() };
        assert_eq!(round_trip(&forged, now), None);
    }

    #[test]
    fn sender_rtp_time_follows_the_clock() {
        assert_eq!(rtp_time_after(1000, Duration::from_millis(20), 48000), 1960);
        assert_eq!(rtp_time_after(u32::MAX, Duration::from_millis(1), 90000), 89);
    }
}
