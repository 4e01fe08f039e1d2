//! The send history of one track, for answering NACKs (RFC 4585 §6.2.1, RFC 4588): the last
//! `capacity` RTP packets as sent (plain, before SRTP), found by sequence number.
//!
//! Memory: one slot per packet of capacity, each a buffer that grows to the largest packet
//! stored in it and is then reused (no allocation per packet once the ring has turned). A
//! video track with the default 512 packets of up to 1,200 bytes holds about 620 KB; it is
//! allocated only for tracks whose peer negotiated `nack`, as packets are sent.
//!
//! A retransmission budget bounds what NACKs can make us send: every original packet adds
//! its size to the budget (capped at `BUDGET_CAP`), every retransmission spends its size, so
//! over any period the bytes retransmitted are at most the bytes sent plus the cap. A NACK
//! storm asking for everything again and again cannot turn the library into an amplifier.

use std::time::{Duration, Instant};

/// Packets kept per track unless configured.
pub const DEFAULT_HISTORY_PACKETS: usize = 512;
/// Age past which a packet is no longer retransmitted unless configured.
pub const DEFAULT_HISTORY_AGE: Duration = Duration::from_millis(1000);
/// Most history slots a track may be configured with.
pub const MAX_HISTORY_PACKETS: usize = 8192;
/// The retransmission budget's cap in bytes (the burst a NACK can ask for at once).
pub const BUDGET_CAP: usize = 256 * 1024;

struct Slot {
    seq: u16,
    used: bool,
    sent: Instant,
    resent: Option<Instant>,
    packet: Vec<u8>,
}

/// Why a NACKed packet was not retransmitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// Not in the history (never sent, overwritten, or older than the age limit).
    Gone,
    /// Retransmitted less than the minimum interval ago (a repeated NACK).
    TooSoon,
    /// The retransmission budget is spent.
    Budget,
}

pub struct History {
    slots: Vec<Slot>,
    capacity: usize,
    max_age: Duration,
    budget: usize,
}

impl History {
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        let capacity = capacity.clamp(1, MAX_HISTORY_PACKETS);
        History { slots: Vec::new(), capacity, max_age, budget: 0 }
    }

    /// Keeps `packet` (an RTP packet with sequence number `seq`) as sent at `now`; returns
    /// the stored copy.
    pub fn store(&mut self, seq: u16, packet: &[u8], now: Instant) -> &mut [u8] {
        let i = seq as usize % self.capacity;
        while self.slots.len() <= i {
            self.slots.push(Slot { seq: 0, used: false, sent: now, resent: None, packet: Vec::new() });
        }
        let s = &mut self.slots[i];
        s.seq = seq;
        s.used = true;
        s.sent = now;
        s.resent = None;
        s.packet.clear();
        s.packet.extend_from_slice(packet);
        self.budget = (self.budget + packet.len()).min(BUDGET_CAP);
        &mut s.packet
    }

    /// The packet with `seq` for a retransmission at `now`, unless it is gone, was resent
    /// less than `min_interval` ago, or the budget is spent; marks it resent.
    pub fn resend(&mut self, seq: u16, now: Instant, min_interval: Duration) -> Result<&[u8], Miss> {
        let i = seq as usize % self.capacity;
        let max_age = self.max_age;
        let Some(s) = self.slots.get_mut(i).filter(|s| s.used && s.seq == seq) else { return Err(Miss::Gone) };
        if now.saturating_duration_since(s.sent) > max_age {
            return Err(Miss::Gone);
        }
        if s.resent.is_some_and(|t| now.saturating_duration_since(t) < min_interval) {
            return Err(Miss::TooSoon);
        }
        if self.budget < s.packet.len() {
            return Err(Miss::Budget);
        }
        self.budget -= s.packet.len();
        s.resent = Some(now);
        Ok(&s.packet)
    }

    /// Bytes held in slot buffers (for the memory figures).
    pub fn memory(&self) -> usize {
        self.slots.iter().map(|s| s.packet.capacity() + std::mem::size_of::<Slot>()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_sequence_until_overwritten_or_old() {
        let t0 = Instant::now();
        let mut h = History::new(4, Duration::from_millis(500));
        for seq in 65534u16..=65535 {
            h.store(seq, &[seq as u8; 100], t0);
        }
        for seq in 0u16..3 {
            h.store(seq, &[seq as u8; 100], t0);
        }
        // 65534 was overwritten by 2 (same slot), 65535 is still there.
        assert_eq!(h.resend(65534, t0, Duration::ZERO), Err(Miss::Gone));
        assert_eq!(h.resend(65535, t0, Duration::ZERO).unwrap()[0], 255);
        assert_eq!(h.resend(2, t0, Duration::ZERO).unwrap()[0], 2);
        assert_eq!(h.resend(2, t0 + Duration::from_millis(5), Duration::from_millis(10)), Err(Miss::TooSoon));
        assert!(h.resend(2, t0 + Duration::from_millis(20), Duration::from_millis(10)).is_ok());
        assert_eq!(h.resend(1, t0 + Duration::from_millis(501), Duration::ZERO), Err(Miss::Gone));
        assert_eq!(h.resend(7, t0, Duration::ZERO), Err(Miss::Gone));
    }

    #[test]
    fn a_storm_spends_the_budget_and_no_more() {
        let t0 = Instant::now();
        let mut h = History::new(64, Duration::from_secs(10));
        for seq in 0u16..10 {
            h.store(seq, &[0; 1000], t0);
        }
        // 10,000 bytes sent: a storm asking for all ten again and again gets 10,000 back.
        let mut resent = 0;
        for round in 0..100u64 {
            for seq in 0u16..10 {
                if h.resend(seq, t0 + Duration::from_millis(round * 100), Duration::ZERO).is_ok() {
                    resent += 1000;
                }
            }
        }
        assert_eq!(resent, 10_000);
        h.store(10, &[0; 1000], t0);
        assert!(h.resend(10, t0, Duration::ZERO).is_ok());
        assert_eq!(h.resend(3, t0, Duration::ZERO), Err(Miss::Budget));
    }
}
