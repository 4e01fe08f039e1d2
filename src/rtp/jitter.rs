//! The jitter buffer of one received source: packets in, complete frames out, in order.
//!
//! Packets are kept by extended sequence number in a ring of `CAPACITY` slots. A frame is the
//! run of packets from a frame start up to its marker bit (or to the packet before the
//! timestamp changes, for senders that omit the marker); audio packets are a frame each. A
//! frame is handed over only when every packet of it is there, and only after the frames
//! before it, so reordered and retransmitted (NACKed) packets fill in as they arrive.
//!
//! Loss: when a packet is missing and the packet after the gap has waited `latency`, the
//! incomplete frame is given up (counted), the buffer moves to the next frame start it can
//! see, and the next frame handed over reports how many sequence numbers never arrived. For
//! video, by default, frames after a loss are held back until a keyframe (a decoder cannot
//! use them without their references) and a keyframe request is due.
//!
//! Bounded: at most `CAPACITY` packets wait (a source that jumps further ahead gives up what
//! waits); late and duplicate packets are dropped and counted. Payload buffers are reused
//! from a pool, so a steady stream allocates nothing per packet.

use std::time::{Duration, Instant};

use super::depacketize::{depacketize, frame_start};
use crate::negotiation::{Codec, MediaKind};

/// Packets a source's buffer holds at most (a frame of up to about 2.4 MB in 1,200-byte
/// packets).
pub const CAPACITY: usize = 2048;

#[derive(Debug, Clone, Copy)]
pub struct JitterConfig {
    /// How long the packet after a gap waits for the missing one (a retransmission) before
    /// the incomplete frame is given up.
    pub latency: Duration,
    /// Video: after a loss, hand over nothing until a keyframe (and ask for one).
    pub keyframe_after_loss: bool,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig { latency: Duration::from_millis(150), keyframe_after_loss: true }
    }
}

/// What one source's buffer did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FrameCounters {
    pub frames_delivered: u64,
    pub keyframes_delivered: u64,
    /// Frames not handed over: incomplete when given up, malformed, or held back while
    /// waiting for a keyframe.
    pub frames_dropped: u64,
    /// Of those, frames whose payload format was malformed.
    pub frames_malformed: u64,
    /// Sequence numbers given up without their packet ever arriving.
    pub packets_lost: u64,
    /// Packets that arrived after their frame was handed over or given up, and duplicates.
    pub packets_late: u64,
}

/// A complete frame, with `data` taken from the buffer (give it back with `recycle`).
#[derive(Debug)]
pub struct Ready {
    pub data: Vec<u8>,
    pub timestamp: u32,
    pub keyframe: bool,
    /// Sequence numbers that never arrived since the previous frame handed over.
    pub lost_packets: u32,
    pub first_sequence: u16,
    pub packets: u32,
}

struct Slot {
    /// The extended sequence number this slot last held (`u64::MAX`: never used).
    ext: u64,
    /// Waiting (not yet handed over or given up).
    present: bool,
    marker: bool,
    start: Option<bool>,
    timestamp: u32,
    arrival: Instant,
    payload: Vec<u8>,
}

enum Walk {
    /// The frame at `next` ends here.
    Complete(u64),
    /// Incomplete: the first missing packet, if one before the highest received is missing.
    Stuck(Option<u64>),
}

pub struct JitterBuffer {
    codec: Codec,
    video: bool,
    config: JitterConfig,
    slots: Vec<Slot>,
    pool: Vec<Vec<u8>>,
    started: bool,
    /// The first sequence number not yet handed over or given up.
    next: u64,
    highest: u64,
    /// Everything below was handed over or given up (packets before the first one received
    /// are still welcome: a retransmission of the stream's first packet arrives after it).
    floor: u64,
    /// `next` is known to start a frame.
    clean: bool,
    /// How far the frame at `next` was seen complete: (next, first unchecked).
    walked: (u64, u64),
    need_keyframe: bool,
    keyframe_wanted: bool,
    last_request: Option<Instant>,
    lost: u32,
    spare: Vec<u8>,
    scratch: Vec<u8>,
    pub counters: FrameCounters,
}

impl JitterBuffer {
    pub fn new(codec: Codec, config: JitterConfig) -> Self {
        let video = codec.kind() == MediaKind::Video;
        JitterBuffer {
            codec,
            video,
            config,
            slots: Vec::new(),
            pool: Vec::new(),
            started: false,
            next: 0,
            highest: 0,
            floor: 0,
            clean: false,
            walked: (u64::MAX, 0),
            need_keyframe: video && config.keyframe_after_loss,
            keyframe_wanted: false,
            last_request: None,
            lost: 0,
            spare: Vec::new(),
            scratch: Vec::new(),
            counters: FrameCounters::default(),
        }
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    fn index(ext: u64) -> usize {
        (ext % CAPACITY as u64) as usize
    }

    fn known(&self, ext: u64) -> Option<&Slot> {
        self.slots.get(Self::index(ext)).filter(|s| s.ext == ext)
    }

    fn present(&self, ext: u64) -> Option<&Slot> {
        self.known(ext).filter(|s| s.present)
    }

    /// Whether the waiting packet `ext` starts a frame: its payload format says so, or the
    /// packet before it ended a frame (marker, or another timestamp).
    fn is_start(&self, ext: u64) -> bool {
        let Some(s) = self.present(ext) else { return false };
        match s.start {
            Some(b) => b,
            None => self.known(ext.wrapping_sub(1)).is_some_and(|p| p.marker || p.timestamp != s.timestamp),
        }
    }

    /// Adds a received packet.
    pub fn insert(&mut self, sequence: u16, timestamp: u32, marker: bool, payload: &[u8], now: Instant) {
        if self.slots.is_empty() {
            self.slots = (0..CAPACITY)
                .map(|_| Slot { ext: u64::MAX, present: false, marker: false, start: None, timestamp: 0, arrival: now, payload: Vec::new() })
                .collect();
        }
        let start = frame_start(self.codec, payload);
        let ext = if self.started {
            let delta = sequence.wrapping_sub(self.highest as u16) as i16 as i64;
            (self.highest as i64 + delta) as u64
        } else {
            self.started = true;
            let ext = (1u64 << 32) + sequence as u64;
            self.next = ext;
            self.highest = ext;
            self.clean = start.unwrap_or(true);
            ext
        };
        if ext < self.floor || self.present(ext).is_some() || ext + CAPACITY as u64 <= self.highest {
            self.counters.packets_late += 1;
            return;
        }
        if ext < self.next {
            // Before everything waiting and nothing handed over there yet: it may begin the
            // frame that waits.
            self.next = ext;
            self.clean = false;
        }
        if ext >= self.next + CAPACITY as u64 {
            // Too far ahead to wait for what is missing: give up everything waiting.
            let end = self.highest + 1;
            self.discard(end.max(self.next));
            self.next = ext;
            self.clean = start.unwrap_or(false);
        }
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(payload);
        let i = Self::index(ext);
        let old = std::mem::replace(&mut self.slots[i].payload, buf);
        if old.capacity() > 0 {
            self.pool.push(old);
        }
        let s = &mut self.slots[i];
        s.ext = ext;
        s.present = true;
        s.marker = marker;
        s.start = start;
        s.timestamp = timestamp;
        s.arrival = now;
        self.highest = self.highest.max(ext);
    }

    /// Gives up the waiting packets in `next..to` (a frame that will not complete), counting
    /// the frames among them and the sequence numbers that never came, and moves `next`.
    fn discard(&mut self, to: u64) {
        let (mut frames, mut missing, mut last_ts) = (0u64, 0u64, None);
        for e in self.next..to {
            let i = Self::index(e);
            if self.slots[i].ext == e && self.slots[i].present {
                let s = &mut self.slots[i];
                s.present = false;
                if last_ts != Some(s.timestamp) {
                    frames += 1;
                    last_ts = Some(s.timestamp);
                }
                self.pool.push(std::mem::take(&mut s.payload));
            } else {
                missing += 1;
                // Remember the gap as seen (not the packet of an older lap).
                let s = &mut self.slots[i];
                s.ext = u64::MAX;
            }
        }
        if frames == 0 && missing > 0 {
            frames = 1;
        }
        self.counters.frames_dropped += frames;
        self.counters.packets_lost += missing;
        self.lost = self.lost.saturating_add(missing as u32);
        self.next = to;
        self.floor = to;
        if self.video {
            self.need_keyframe |= self.config.keyframe_after_loss;
            self.keyframe_wanted = true;
        }
    }

    fn walk(&mut self) -> Walk {
        let Some(first) = self.present(self.next) else {
            return Walk::Stuck((self.next <= self.highest).then_some(self.next));
        };
        if !self.video {
            return Walk::Complete(self.next);
        }
        let ts = first.timestamp;
        let mut e = if self.walked.0 == self.next { self.walked.1 } else { self.next };
        loop {
            let Some(s) = self.present(e) else {
                self.walked = (self.next, e);
                return Walk::Stuck((e <= self.highest).then_some(e));
            };
            if s.timestamp != ts {
                return Walk::Complete(e - 1);
            }
            if s.marker {
                return Walk::Complete(e);
            }
            e += 1;
        }
    }

    /// When the packet after the first gap (or, between frames, the oldest waiting packet)
    /// arrived.
    fn waiting_since(&self, hole: Option<u64>) -> Option<Instant> {
        let from = if self.clean { hole? } else { self.next };
        (from..=self.highest).find_map(|e| self.present(e)).map(|s| s.arrival)
    }

    /// The next complete frame, if one is due; gives up incomplete frames whose wait is over
    /// (or that cannot complete inside the buffer).
    pub fn pop(&mut self, now: Instant) -> Option<Ready> {
        if !self.started {
            return None;
        }
        loop {
            if self.next > self.highest {
                return None;
            }
            if !self.clean {
                match (self.next..=self.highest).find(|e| self.is_start(*e)) {
                    Some(f) => {
                        if f > self.next {
                            self.discard(f);
                        }
                        self.clean = true;
                    }
                    None => {
                        if self.waiting_since(None).is_some_and(|t| now >= t + self.config.latency) {
                            self.discard(self.highest + 1);
                            continue;
                        }
                        return None;
                    }
                }
            }
            match self.walk() {
                Walk::Complete(end) => {
                    if let Some(frame) = self.take(end) {
                        return Some(frame);
                    }
                }
                Walk::Stuck(hole) => {
                    let full = self.highest + 1 - self.next >= CAPACITY as u64;
                    let overdue = self.waiting_since(hole).is_some_and(|t| now >= t + self.config.latency);
                    if !(full || overdue) {
                        return None;
                    }
                    // Give up the frame at `next`: on to the next start after it.
                    match (self.next + 1..=self.highest).find(|e| self.is_start(*e)) {
                        Some(f) => self.discard(f),
                        None => {
                            self.discard(self.highest + 1);
                            self.clean = false;
                        }
                    }
                }
            }
        }
    }

    /// Hands over (or drops) the complete frame `next..=end`.
    fn take(&mut self, end: u64) -> Option<Ready> {
        let first_sequence = self.next as u16;
        let packets = (end + 1 - self.next) as u32;
        let mut out = std::mem::take(&mut self.spare);
        let (next, codec) = (self.next, self.codec);
        let slots = &self.slots;
        let payloads = (next..=end).map(|e| slots[Self::index(e)].payload.as_slice());
        let result = depacketize(codec, payloads, &mut out, &mut self.scratch);
        let timestamp = self.slots[Self::index(next)].timestamp;
        for e in next..=end {
            let s = &mut self.slots[Self::index(e)];
            s.present = false;
            self.pool.push(std::mem::take(&mut s.payload));
        }
        self.next = end + 1;
        self.floor = end + 1;
        self.clean = true;
        let keyframe = match result {
            Ok(k) => k,
            Err(_) => {
                self.counters.frames_malformed += 1;
                self.counters.frames_dropped += 1;
                if self.video {
                    self.need_keyframe |= self.config.keyframe_after_loss;
                    self.keyframe_wanted = true;
                }
                self.spare = out;
                return None;
            }
        };
        if self.need_keyframe && !keyframe {
            self.counters.frames_dropped += 1;
            self.keyframe_wanted = true;
            self.spare = out;
            return None;
        }
        if keyframe {
            self.need_keyframe = false;
            self.keyframe_wanted = false;
            if self.video {
                self.counters.keyframes_delivered += 1;
            }
        }
        self.counters.frames_delivered += 1;
        let lost_packets = std::mem::take(&mut self.lost);
        Some(Ready { data: out, timestamp, keyframe, lost_packets, first_sequence, packets })
    }

    /// Gives a handed-over frame's buffer back for the next frame.
    pub fn recycle(&mut self, data: Vec<u8>) {
        if data.capacity() > self.spare.capacity() {
            self.spare = data;
        }
    }

    /// Whether to ask the peer for a keyframe now: frames are held back for one, at most
    /// once per `interval`.
    pub fn keyframe_request_due(&mut self, now: Instant, interval: Duration) -> bool {
        if !self.keyframe_wanted || self.last_request.is_some_and(|t| now < t + interval) {
            return false;
        }
        self.last_request = Some(now);
        if !self.need_keyframe {
            self.keyframe_wanted = false;
        }
        true
    }

    /// When `pop` may next give up a frame (nothing to do before, unless a packet arrives).
    pub fn deadline(&mut self) -> Option<Instant> {
        if !self.started || self.next > self.highest {
            return None;
        }
        let hole = if self.clean {
            match self.walk() {
                Walk::Complete(_) => return Some(Instant::now()),
                Walk::Stuck(h) => h,
            }
        } else {
            None
        };
        self.waiting_since(hole).map(|t| t + self.config.latency)
    }

    /// Packets waiting.
    pub fn waiting(&self) -> usize {
        if !self.started {
            return 0;
        }
        (self.next..=self.highest).filter(|e| self.present(*e).is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A VP8 frame of `n` packets: (sequence offset, timestamp, marker, payload).
    fn vp8_frame(first: u16, ts: u32, n: usize, key: bool) -> Vec<(u16, u32, bool, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let descriptor = if i == 0 { 0x10 } else { 0x00 };
                let body = if i == 0 { if key { 0x10 } else { 0x11 } } else { i as u8 };
                (first.wrapping_add(i as u16), ts, i + 1 == n, vec![descriptor, body, ts as u8])
            })
            .collect()
    }

    fn feed(b: &mut JitterBuffer, ps: &[(u16, u32, bool, Vec<u8>)], now: Instant) -> Vec<Ready> {
        let mut out = Vec::new();
        for (s, ts, m, p) in ps {
            b.insert(*s, *ts, *m, p, now);
            while let Some(f) = b.pop(now) {
                out.push(f);
            }
        }
        out
    }

    #[test]
    fn reordered_packets_make_whole_frames_in_order() {
        let mut b = JitterBuffer::new(Codec::Vp8, JitterConfig::default());
        let t0 = Instant::now();
        let mut ps = vp8_frame(65530, 1000, 4, true);
        ps.extend(vp8_frame(65534, 4000, 3, false)); // wraps
        ps.swap(1, 3);
        ps.swap(4, 6);
        let frames = feed(&mut b, &ps, t0);
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[0].timestamp, frames[0].keyframe, frames[0].packets), (1000, true, 4));
        assert_eq!(frames[0].data, vec![0x10, 0xe8, 1, 0xe8, 2, 0xe8, 3, 0xe8]);
        assert_eq!((frames[1].timestamp, frames[1].keyframe, frames[1].first_sequence), (4000, false, 65534));
        assert_eq!(b.counters.frames_delivered, 2);
        assert_eq!(b.waiting(), 0);
        // A duplicate and a packet of a frame already handed over are late.
        b.insert(65531, 1000, false, &[0, 1, 2], t0);
        assert_eq!(b.counters.packets_late, 1);
    }

    #[test]
    fn the_streams_first_packet_may_arrive_after_the_second() {
        let mut b = JitterBuffer::new(Codec::Vp8, JitterConfig::default());
        let t0 = Instant::now();
        let mut ps = vp8_frame(500, 0, 3, true);
        ps.swap(0, 2);
        let frames = feed(&mut b, &ps, t0);
        assert_eq!(frames.len(), 1, "{:?}", b.counters);
        assert_eq!((frames[0].first_sequence, frames[0].packets, frames[0].keyframe), (500, 3, true));
        assert_eq!(b.counters.frames_dropped, 0);
    }

    #[test]
    fn a_retransmission_in_time_fills_the_gap() {
        let mut b = JitterBuffer::new(Codec::Vp8, JitterConfig::default());
        let t0 = Instant::now();
        let mut ps = vp8_frame(10, 0, 3, true);
        let missing = ps.remove(1);
        ps.extend(vp8_frame(13, 3000, 2, false));
        assert!(feed(&mut b, &ps, t0).is_empty(), "the first frame waits, and the second behind it");
        let due = b.deadline().unwrap();
        assert_eq!(due, t0 + 150 * MS);
        assert!(b.pop(t0 + 100 * MS).is_none());
        let frames = feed(&mut b, &[missing], t0 + 100 * MS);
        assert_eq!(frames.iter().map(|f| f.timestamp).collect::<Vec<_>>(), vec![0, 3000]);
        assert!(frames.iter().all(|f| f.lost_packets == 0));
        assert_eq!(b.counters.frames_dropped, 0);
    }

    #[test]
    fn a_loss_gives_up_the_frame_and_waits_for_a_keyframe() {
        let mut b = JitterBuffer::new(Codec::Vp8, JitterConfig::default());
        let t0 = Instant::now();
        let mut ps = vp8_frame(100, 0, 2, true);
        let mut second = vp8_frame(102, 3000, 3, false);
        second.remove(1); // lost for good
        ps.extend(second);
        ps.extend(vp8_frame(105, 6000, 2, false));
        let frames = feed(&mut b, &ps, t0);
        assert_eq!(frames.len(), 1, "the keyframe; the rest wait behind the gap");
        assert!(!b.keyframe_request_due(t0, 500 * MS), "no loss declared yet");
        // The broken frame is given up and the delta after it held back: a keyframe is due.
        assert!(b.pop(t0 + 151 * MS).is_none());
        assert_eq!(b.counters.frames_dropped, 2);
        assert_eq!(b.counters.packets_lost, 1);
        assert!(b.keyframe_request_due(t0 + 151 * MS, 500 * MS));
        assert!(!b.keyframe_request_due(t0 + 152 * MS, 500 * MS), "at most once per interval");
        let frames = feed(&mut b, &vp8_frame(107, 9000, 2, true), t0 + 200 * MS);
        assert_eq!(frames.iter().map(|f| (f.timestamp, f.keyframe, f.lost_packets)).collect::<Vec<_>>(), vec![(9000, true, 1)]);
        assert!(!b.keyframe_request_due(t0 + 900 * MS, 500 * MS), "the keyframe came");
    }

    #[test]
    fn without_keyframe_wait_deltas_follow_a_loss_with_its_count() {
        let config = JitterConfig { keyframe_after_loss: false, ..Default::default() };
        let mut b = JitterBuffer::new(Codec::Vp8, config);
        let t0 = Instant::now();
        let mut ps = vp8_frame(0, 0, 1, false);
        ps.extend(vp8_frame(3, 6000, 2, false)); // 1 and 2 (a whole frame) lost
        let frames = feed(&mut b, &ps, t0);
        assert_eq!(frames.len(), 1);
        let later = b.pop(t0 + 200 * MS).unwrap();
        assert_eq!((later.timestamp, later.lost_packets), (6000, 2));
    }

    #[test]
    fn audio_packets_are_frames_and_holes_are_skipped() {
        let mut b = JitterBuffer::new(Codec::Opus, JitterConfig::default());
        let t0 = Instant::now();
        let ps: Vec<_> = [0u16, 1, 3].iter().map(|s| (*s, *s as u32 * 960, false, vec![*s as u8 + 1])).collect();
        let frames = feed(&mut b, &ps, t0);
        assert_eq!(frames.iter().map(|f| f.data.clone()).collect::<Vec<_>>(), vec![vec![1], vec![2]]);
        let f = b.pop(t0 + 150 * MS).unwrap();
        assert_eq!((f.data.clone(), f.lost_packets), (vec![4], 1));
    }

    #[test]
    fn malformed_and_far_away_packets_are_bounded() {
        let mut b = JitterBuffer::new(Codec::H264, JitterConfig::default());
        let t0 = Instant::now();
        // An FU-A continuation alone, marked as a whole frame: malformed, dropped.
        b.insert(1, 0, true, &[0x7c, 0x05, 1, 2], t0);
        assert!(b.pop(t0 + 200 * MS).is_none());
        // A burst far ahead of what waits gives it up instead of growing.
        for i in 0..(3 * CAPACITY as u16) {
            b.insert(10 + i, 3000, false, &[0x7c, 0x05, 1], t0);
            assert!(b.pop(t0).is_none());
        }
        assert!(b.waiting() <= CAPACITY, "{}", b.waiting());
        assert!(b.counters.frames_dropped >= 1);
        // A single IDR NAL (first_mb 0) after all this is a frame again.
        b.insert(20_000, 9000, true, &[0x65, 0x88, 0x84], t0 + 300 * MS);
        let f = b.pop(t0 + 300 * MS);
        let f = f.or_else(|| b.pop(t0 + 600 * MS)).expect("the IDR");
        assert_eq!((f.data, f.keyframe), (vec![0, 0, 0, 1, 0x65, 0x88, 0x84], true));
    }
}
