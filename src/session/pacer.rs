//! The optional pacer (`SessionConfig::pacer`): whole frames from `send_frame` are queued
//! packetized and leave at the pacing rate instead of in one burst, so a large keyframe does
//! not overflow a router's queue (or the peer's socket). One queue per session keeps the
//! order; sequence numbers, transport-wide numbers and the send history are assigned when a
//! packet leaves. Bounded: a frame that does not fit the queue's `MAX_QUEUED_BYTES` is
//! refused whole. Payload buffers are pooled: no allocation per packet once warm.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{live, Session};
use crate::error::{self, Result};
use crate::runtime;

/// Payload bytes waiting in a session's pacer at most.
pub const MAX_QUEUED_BYTES: usize = 8 << 20;
/// Credit a pacer may build up while idle (a burst of at most this much sending time).
const BURST: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacerConfig {
    /// The pacing rate in bits per second; 0: two and a half times the bandwidth estimate
    /// (its start value until feedback arrives).
    pub bitrate_bps: u64,
}

struct Queued {
    track: u32,
    timestamp: u32,
    marker: bool,
    data: Vec<u8>,
}

#[derive(Default)]
struct Queue {
    packets: VecDeque<Queued>,
    bytes: usize,
    pool: Vec<Vec<u8>>,
}

pub(super) struct Pacer {
    config: PacerConfig,
    queue: Mutex<Queue>,
    wake: Arc<tokio::sync::Notify>,
    running: std::sync::atomic::AtomicBool,
}

impl Pacer {
    pub fn new(config: PacerConfig) -> Self {
        Pacer { config, queue: Mutex::new(Queue::default()), wake: Arc::new(tokio::sync::Notify::new()), running: false.into() }
    }
}

impl Session {
    /// The pacing rate now, in bits per second.
    fn pacing_rate(&self, p: &Pacer) -> u64 {
        if p.config.bitrate_bps > 0 {
            return p.config.bitrate_bps;
        }
        let estimate = self.bandwidth_estimate().unwrap_or(self.config.rtcp.bandwidth.start_bps);
        (estimate.saturating_mul(5) / 2).max(100_000)
    }

    /// Queues one packetized frame (`packets` calls `push` for each packet); all or nothing.
    pub(super) fn pace_frame(
        &self,
        p: &Pacer,
        track: u32,
        frame_len: usize,
        timestamp: u32,
        packetize: impl FnOnce(&mut dyn FnMut(&[&[u8]], bool) -> Result<()>) -> Result<()>,
    ) -> Result<()> {
        {
            let mut q = p.queue.lock();
            // A packet carries a payload descriptor or header of a few bytes on top.
            let room = frame_len + frame_len / 100 + 64;
            if q.bytes + room > MAX_QUEUED_BYTES {
                return Err(error::limit_reached(format!(
                    "the pacer holds {} bytes; a frame of {frame_len} does not fit its {MAX_QUEUED_BYTES}-byte queue",
                    q.bytes
                )));
            }
            let start = q.packets.len();
            let Queue { packets, bytes, pool } = &mut *q;
            let r = packetize(&mut |parts, marker| {
                let mut data = pool.pop().unwrap_or_default();
                data.clear();
                for part in parts {
                    data.extend_from_slice(part);
                }
                *bytes += data.len();
                packets.push_back(Queued { track, timestamp, marker, data });
                Ok(())
            });
            if r.is_err() {
                while q.packets.len() > start {
                    let e = q.packets.pop_back().expect("queued above");
                    q.bytes -= e.data.len();
                    q.pool.push(e.data);
                }
                return r;
            }
        }
        self.start_pacer(p);
        p.wake.notify_one();
        Ok(())
    }

    /// Packets and payload bytes waiting in the pacer.
    pub fn pacer_backlog(&self) -> (usize, usize) {
        self.pacer.as_ref().map_or((0, 0), |p| {
            let q = p.queue.lock();
            (q.packets.len(), q.bytes)
        })
    }

    fn start_pacer(&self, p: &Pacer) {
        if p.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = self.self_weak();
        let wake = Arc::clone(&p.wake);
        runtime::spawn(async move {
            let mut next_at = Instant::now();
            loop {
                let wait = {
                    let Some(s) = live(&weak) else { return };
                    let Some(p) = s.pacer.as_ref() else { return };
                    if s.closed.load(Ordering::Acquire) {
                        return;
                    }
                    let rate = s.pacing_rate(p) as f64;
                    let now = Instant::now();
                    next_at = next_at.max(now - BURST);
                    while next_at <= now {
                        let Some(e) = p.queue.lock().packets.pop_front() else { break };
                        let sent = s.send_payload(e.track, &[&e.data], e.timestamp, e.marker);
                        if let Err(err) = sent {
                            s.stats.paced_packets_dropped.fetch_add(1, Ordering::Relaxed);
                            crate::wlog!(Debug, Session, "session {}: a paced packet was not sent: {}", s.log_id, err.message());
                        }
                        next_at += Duration::from_secs_f64(e.data.len() as f64 * 8.0 / rate);
                        let mut q = p.queue.lock();
                        q.bytes -= e.data.len();
                        q.pool.push(e.data);
                    }
                    if p.queue.lock().packets.is_empty() {
                        None
                    } else {
                        Some(next_at.saturating_duration_since(Instant::now()))
                    }
                };
                match wait {
                    Some(d) => tokio::time::sleep(d).await,
                    None => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
                    }
                }
            }
        });
    }
}
