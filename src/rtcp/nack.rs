//! The NACK generator of one received source (RFC 4585 §6.2.1): sequence numbers missing
//! between what arrived, asked for at once and again every round-trip time until they come
//! (as originals or unwrapped RTX), `MAX_TRIES` requests went out, or the deadline passed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Missing sequence numbers tracked per source; older ones are given up when more go missing.
pub const MAX_MISSING: usize = 256;
/// Requests per missing packet before it is given up.
pub const MAX_TRIES: u8 = 10;
/// A forward jump larger than this is a new start of the stream, not a loss.
const RESET_GAP: u16 = 3000;
/// Retry interval while no round-trip time is known (libwebrtc's default too).
const DEFAULT_RTT: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
struct Missing {
    seq: u16,
    detected: Instant,
    sent: Option<Instant>,
    tries: u8,
}

#[derive(Debug, Clone, Default)]
pub struct NackList {
    highest: Option<u16>,
    missing: VecDeque<Missing>,
}

/// What one source's list did, for the engine's counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct NackOutcome {
    pub gave_up: u64,
    pub recovered: u64,
}

/// The retry interval and the deadline for a round-trip time.
fn timing(rtt: Option<Duration>) -> (Duration, Duration) {
    let rtt = rtt.unwrap_or(DEFAULT_RTT).max(Duration::from_millis(5));
    (rtt + Duration::from_millis(5), (rtt * 5).max(Duration::from_secs(1)))
}

impl NackList {
    /// A packet with `seq` arrived (original or recovered). Returns true when it opened a gap.
    pub fn on_packet(&mut self, seq: u16, now: Instant, out: &mut NackOutcome) -> bool {
        let Some(high) = self.highest else {
            self.highest = Some(seq);
            return false;
        };
        let ahead = seq.wrapping_sub(high);
        if ahead == 0 {
            return false;
        }
        if ahead < 0x8000 {
            self.highest = Some(seq);
            if ahead > RESET_GAP {
                self.missing.clear();
                return false;
            }
            for s in 1..ahead {
                if self.missing.len() >= MAX_MISSING {
                    self.missing.pop_front();
                    out.gave_up += 1;
                }
                self.missing.push_back(Missing { seq: high.wrapping_add(s), detected: now, sent: None, tries: 0 });
            }
            return ahead > 1;
        }
        // Older than the highest: a late or retransmitted packet fills its hole.
        if let Some(i) = self.missing.iter().position(|m| m.seq == seq) {
            self.missing.remove(i);
            out.recovered += 1;
        }
        false
    }

    /// Appends to `lost` what is due for a request at `now`, marking it asked; forgets what
    /// was asked `MAX_TRIES` times or is past the deadline.
    pub fn due(&mut self, now: Instant, rtt: Option<Duration>, lost: &mut Vec<u16>, out: &mut NackOutcome) {
        let (interval, deadline) = timing(rtt);
        let before = self.missing.len();
        self.missing.retain(|m| m.tries < MAX_TRIES && now.saturating_duration_since(m.detected) <= deadline);
        out.gave_up += (before - self.missing.len()) as u64;
        for m in self.missing.iter_mut() {
            if m.sent.is_none_or(|t| now.saturating_duration_since(t) >= interval) {
                m.sent = Some(now);
                m.tries += 1;
                lost.push(m.seq);
            }
        }
    }

    /// When the next request falls due, if anything is missing.
    pub fn next_due(&self, rtt: Option<Duration>) -> Option<Instant> {
        let (interval, _) = timing(rtt);
        self.missing.iter().map(|m| m.sent.map_or(m.detected, |t| t + interval)).min()
    }

    pub fn missing(&self) -> usize {
        self.missing.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_asked_for_then_retried_then_given_up() {
        let t0 = Instant::now();
        let mut l = NackList::default();
        let mut o = NackOutcome::default();
        assert!(!l.on_packet(65534, t0, &mut o));
        assert!(l.on_packet(2, t0, &mut o), "65535, 0, 1 are missing across the wrap");
        let mut lost = vec![];
        l.due(t0, None, &mut lost, &mut o);
        assert_eq!(lost, vec![65535, 0, 1]);
        lost.clear();
        // Not again before the interval; again after it.
        l.due(t0 + Duration::from_millis(50), None, &mut lost, &mut o);
        assert!(lost.is_empty());
        assert!(!l.on_packet(0, t0, &mut o), "0 arrives late");
        assert_eq!(o.recovered, 1);
        l.due(t0 + Duration::from_millis(110), None, &mut lost, &mut o);
        assert_eq!(lost, vec![65535, 1]);
        // Past the deadline (1 s with no RTT) both are given up.
        lost.clear();
        l.due(t0 + Duration::from_millis(1100), None, &mut lost, &mut o);
        assert!(lost.is_empty() && l.missing() == 0 && o.gave_up == 2);
    }

    #[test]
    fn the_list_is_bounded_and_a_jump_is_a_restart() {
        let t0 = Instant::now();
        let mut l = NackList::default();
        let mut o = NackOutcome::default();
        l.on_packet(0, t0, &mut o);
        l.on_packet(1000, t0, &mut o);
        assert_eq!(l.missing(), MAX_MISSING);
        assert_eq!(o.gave_up, 999 - MAX_MISSING as u64);
        l.on_packet(10_000, t0, &mut o);
        assert_eq!(l.missing(), 0);
        // Tries are bounded even with a tiny RTT.
        l.on_packet(10_002, t0, &mut o);
        let mut lost = vec![];
        for i in 0..20u64 {
            l.due(t0 + Duration::from_millis(i * 20), Some(Duration::from_millis(1)), &mut lost, &mut o);
        }
        assert_eq!(lost.len(), MAX_TRIES as usize);
        assert_eq!(l.missing(), 0);
    }
}
