//! Frames on receive: when the host asks for them (`receive_frames`), each received source
//! gets a jitter buffer (`rtp::jitter`) and every complete frame is reported as
//! `Event::Frame`, after the packet's own `Event::Rtp`. Frames given up after a loss are
//! counted, and a keyframe request goes to the peer (at most every 500 ms) while video
//! frames are held back for one. The RTCP timer releases frames whose wait is over when no
//! packet arrives to do it.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{Event, Session};
use crate::fasthash::FastMap;
use crate::negotiation::Codec;
use crate::rtp::jitter::{FrameCounters, JitterBuffer};
use crate::rtp::RtpHeader;

/// Received sources with a jitter buffer at most (one per SSRC).
pub const MAX_SOURCES: usize = 32;
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

struct Source {
    track: u32,
    buffer: JitterBuffer,
    /// The deadline the RTCP timer was last woken for.
    armed: Option<Instant>,
}

#[derive(Default)]
pub(super) struct FrameReceiver {
    sources: Mutex<FastMap<u32, Source>>,
    /// Counters of sources that went away (frames switched off, codec changed).
    retired: Mutex<FrameCounters>,
}

/// A complete frame as reported.
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    pub ssrc: u32,
    pub codec: Codec,
    /// The frame: VP8/VP9 as the encoder wrote it, H.264 as an Annex B stream, AV1 as OBUs in
    /// the low-overhead format after a temporal delimiter, audio as the payload.
    pub data: &'a [u8],
    pub timestamp: u32,
    pub keyframe: bool,
    /// Sequence numbers that never arrived since the previous frame of the source.
    pub lost_packets: u32,
}

fn add(total: &mut FrameCounters, c: &FrameCounters) {
    total.frames_delivered += c.frames_delivered;
    total.keyframes_delivered += c.keyframes_delivered;
    total.frames_dropped += c.frames_dropped;
    total.frames_malformed += c.frames_malformed;
    total.packets_lost += c.packets_lost;
    total.packets_late += c.packets_late;
}

impl Session {
    /// Turns frame delivery on or off for every received track. Off drops what waits.
    pub fn receive_frames(&self, on: bool) {
        self.frames_on.store(on, Ordering::Release);
        if !on {
            let mut sources = self.frames.sources.lock();
            let mut retired = self.frames.retired.lock();
            for (_, s) in sources.drain() {
                add(&mut retired, &s.buffer.counters);
            }
        }
    }

    pub fn receives_frames(&self) -> bool {
        self.frames_on.load(Ordering::Acquire)
    }

    /// What the jitter buffers did, for one receiving track or (None) all.
    pub fn frame_counters(&self, track: Option<u32>) -> FrameCounters {
        let mut total = if track.is_none() { *self.frames.retired.lock() } else { FrameCounters::default() };
        for s in self.frames.sources.lock().values().filter(|s| track.is_none_or(|t| t == s.track)) {
            add(&mut total, &s.buffer.counters);
        }
        total
    }

    /// What the jitter buffer of received source `ssrc` did, if it has one.
    pub fn frame_counters_of_source(&self, ssrc: u32) -> Option<FrameCounters> {
        self.frames.sources.lock().get(&ssrc).map(|s| s.buffer.counters)
    }

    /// A decrypted (and, for RTX, unwrapped) packet of `track` with payload format `codec`.
    pub(super) fn frames_on_rtp(&self, track: u32, codec: Codec, packet: &[u8]) {
        let Ok(h) = RtpHeader::parse(packet) else { return };
        let ssrc = h.ssrc();
        let now = Instant::now();
        {
            let mut sources = self.frames.sources.lock();
            if !sources.contains_key(&ssrc) && sources.len() >= MAX_SOURCES {
                self.stats.frame_packets_dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let s = sources.entry(ssrc).or_insert_with(|| Source { track, buffer: JitterBuffer::new(codec, self.config.jitter), armed: None });
            if s.buffer.codec() != codec || s.track != track {
                // The source changed payload format (a renegotiation): start over.
                add(&mut self.frames.retired.lock(), &s.buffer.counters);
                *s = Source { track, buffer: JitterBuffer::new(codec, self.config.jitter), armed: None };
            }
            s.buffer.insert(h.sequence_number(), h.timestamp(), h.marker(), h.payload(), now);
        }
        self.deliver_frames(ssrc, now);
    }

    /// Hands over what is due from `ssrc`'s buffer, asks for a keyframe if one is due, and
    /// wakes the timer for a new deadline.
    fn deliver_frames(&self, ssrc: u32, now: Instant) {
        loop {
            let (ready, track, codec, keyframe_due, wake) = {
                let mut sources = self.frames.sources.lock();
                let Some(s) = sources.get_mut(&ssrc) else { return };
                let ready = s.buffer.pop(now);
                let due = s.buffer.keyframe_request_due(now, KEYFRAME_REQUEST_INTERVAL);
                let mut wake = false;
                if ready.is_none() {
                    let deadline = s.buffer.deadline();
                    wake = deadline.is_some() && deadline != s.armed;
                    s.armed = deadline;
                }
                (ready, s.track, s.buffer.codec(), due, wake)
            };
            if keyframe_due {
                if let Err(e) = self.request_keyframe(track) {
                    crate::wlog!(Debug, Rtcp, "session {}: track {track}: keyframe request after a loss not sent: {}", self.log_id, e.message());
                }
            }
            if wake {
                self.rtcp_wake.notify_one();
            }
            let Some(r) = ready else { return };
            self.stats.frames_received.fetch_add(1, Ordering::Relaxed);
            self.emitter.emit(Event::Frame {
                track,
                frame: FrameView {
                    ssrc,
                    codec,
                    data: &r.data,
                    timestamp: r.timestamp,
                    keyframe: r.keyframe,
                    lost_packets: r.lost_packets,
                },
            });
            if let Some(s) = self.frames.sources.lock().get_mut(&ssrc) {
                s.buffer.recycle(r.data);
            }
        }
    }

    /// The earliest moment a jitter buffer may give up a frame (for the RTCP timer).
    pub(super) fn frames_next_due(&self) -> Option<Instant> {
        if !self.receives_frames() {
            return None;
        }
        self.frames.sources.lock().values_mut().filter_map(|s| s.buffer.deadline()).min()
    }

    /// Releases what is due in every buffer (the RTCP timer, when no packet came).
    pub(super) fn release_due_frames(&self, now: Instant) {
        if !self.receives_frames() {
            return;
        }
        let due: Vec<u32> = self
            .frames
            .sources
            .lock()
            .iter_mut()
            .filter_map(|(ssrc, s)| s.buffer.deadline().filter(|d| *d <= now).map(|_| *ssrc))
            .collect();
        for ssrc in due {
            self.deliver_frames(ssrc, now);
        }
    }
}
