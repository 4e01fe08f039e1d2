//! Heap allocations per sent and per received RTP packet, counted by a global allocator
//! (issue #6), and the Rust heap a connected session holds. Sessions on 127.0.0.1; prints
//! `bench allocs_per_send ...` lines like bench/bench.c. Run: `cargo bench --bench alloc` (part of `make bench`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use webrtc_session::negotiation::{Codec, Direction, MediaKind};
use webrtc_session::session::{ConnectionState, Event, EventHandler, SdpType, Session, SessionConfig};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Allocations made by this thread: the send path is counted on the sending thread and the
    /// receive path on the thread that delivers the packet, so nothing another thread does
    /// meanwhile (timers, ICE upkeep, a busy machine) enters either count.
    static MINE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn mine() -> u64 {
    MINE.with(|c| c.get())
}
/// Bytes the Rust heap holds now.
static LIVE: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        let _ = MINE.try_with(|c| c.set(c.get() + 1));
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        let _ = MINE.try_with(|c| c.set(c.get() + 1));
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The receiving thread's own allocation count at the first and at the latest packet.
static RECEIVER_FIRST: AtomicU64 = AtomicU64::new(u64::MAX);
static RECEIVER_LATEST: AtomicU64 = AtomicU64::new(0);
/// The same for whole frames handed over (frame delivery on), and how many.
static FRAME_FIRST: AtomicU64 = AtomicU64::new(u64::MAX);
static FRAME_LATEST: AtomicU64 = AtomicU64::new(0);
static FRAMES: AtomicU64 = AtomicU64::new(0);

struct Peer(Arc<Session>, AtomicU64);
impl EventHandler for Peer {
    fn on_event(&self, e: Event<'_>) {
        match e {
            Event::LocalCandidate { candidate, .. } => {
                let _ = self.0.add_remote_candidate(candidate);
            }
            Event::Rtp { .. } => {
                let n = mine();
                let _ = RECEIVER_FIRST.compare_exchange(u64::MAX, n, Ordering::Relaxed, Ordering::Relaxed);
                RECEIVER_LATEST.store(n, Ordering::Relaxed);
                self.1.fetch_add(1, Ordering::Relaxed);
            }
            Event::Frame { .. } => {
                let n = mine();
                let _ = FRAME_FIRST.compare_exchange(u64::MAX, n, Ordering::Relaxed, Ordering::Relaxed);
                FRAME_LATEST.store(n, Ordering::Relaxed);
                FRAMES.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// Two connected sessions with an audio track each; returns them, their handlers and A's track.
fn connected_pair() -> (Arc<Session>, Arc<Session>, Arc<Peer>, Arc<Peer>, u32) {
    connected_pair_of(MediaKind::Audio, Codec::Pcmu)
}

fn connected_pair_of(kind: MediaKind, codec: Codec) -> (Arc<Session>, Arc<Session>, Arc<Peer>, Arc<Peer>, u32) {
    let mut cfg = SessionConfig::default();
    cfg.ice.local_addresses = vec!["127.0.0.1".parse().unwrap()];
    let a = Session::new(cfg.clone()).unwrap();
    let b = Session::new(cfg).unwrap();
    let to_b = Arc::new(Peer(Arc::clone(&b), AtomicU64::new(0)));
    let to_a = Arc::new(Peer(Arc::clone(&a), AtomicU64::new(0)));
    a.set_event_handler(Some(to_b.clone()));
    b.set_event_handler(Some(to_a.clone()));
    let ta = a.add_track(kind, &[codec], Direction::SendRecv).unwrap();
    let offer = a.create_offer().unwrap();
    b.set_remote_description(SdpType::Offer, &offer).unwrap();
    a.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
    b.add_track(kind, &[codec], Direction::SendRecv).unwrap();
    let answer = b.create_answer().unwrap();
    a.set_remote_description(SdpType::Answer, &answer).unwrap();
    b.set_local_description(SdpType::Answer, Some(&answer)).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while !(a.connection_state() == ConnectionState::Connected && b.connection_state() == ConnectionState::Connected) {
        assert!(Instant::now() < end, "not connected");
        std::thread::sleep(Duration::from_millis(1));
    }
    (a, b, to_a, to_b, ta)
}

fn main() {
    // Rust heap held per connected session (OpenSSL's own heap is not counted here).
    {
        let before = LIVE.load(Ordering::Relaxed);
        let pairs: Vec<_> = (0..50).map(|_| connected_pair()).collect();
        std::thread::sleep(Duration::from_millis(300));
        let held = LIVE.load(Ordering::Relaxed) - before;
        println!("bench rust_heap_per_connected_session {:.1} KB (50 pairs)", held as f64 / 100.0 / 1024.0);
        for (a, b, ..) in &pairs {
            a.close();
            b.close();
        }
    }
    let (a, b, to_a, _to_b, ta) = connected_pair();
    std::thread::sleep(Duration::from_millis(200)); // let set-up traffic settle
    const N: u64 = 10_000;
    let payload = [0u8; 160];
    // Sends, paced so the receiver keeps up. Each count is of one thread's own allocations.
    RECEIVER_FIRST.store(u64::MAX, Ordering::Relaxed);
    let send_start = mine();
    for i in 0..N {
        a.send_media(ta, &payload, i as u32 * 160, false).unwrap();
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let send_allocs = mine() - send_start;
    let end = Instant::now() + Duration::from_secs(10);
    while to_a.1.load(Ordering::Relaxed) < N && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(1));
    }
    let received = to_a.1.load(Ordering::Relaxed);
    // Between the first and the last packet delivered, on the thread that delivered them.
    let receive_allocs = RECEIVER_LATEST.load(Ordering::Relaxed).saturating_sub(RECEIVER_FIRST.load(Ordering::Relaxed));
    println!("bench allocs_per_send {:.2} allocations/packet (send_media: route, in-place SRTP, sendto)", send_allocs as f64 / N as f64);
    println!(
        "bench allocs_per_receive {:.2} allocations/packet (unprotect, route, on_rtp, on the receiving thread; {received} of {N} received)",
        receive_allocs as f64 / received.saturating_sub(1).max(1) as f64,
    );
    b.close();
    a.close();
    // Video with NACK negotiated: every packet is also kept in the send history. Once the
    // ring has turned (512 packets) its slots are reused, so the count is after a warm-up.
    let (a, b, _to_a, _to_b, ta) = connected_pair_of(MediaKind::Video, Codec::Vp8);
    std::thread::sleep(Duration::from_millis(200));
    let payload = [0u8; 1100];
    for i in 0..1000u32 {
        a.send_media(ta, &payload, i * 3000, true).unwrap();
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let start = mine();
    for i in 0..N {
        a.send_media(ta, &payload, i as u32 * 3000, true).unwrap();
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let video_allocs = mine() - start;
    println!(
        "bench allocs_per_send_video_with_history {:.2} allocations/packet (send_media on VP8 with NACK: route, history copy, in-place SRTP, sendto)",
        video_allocs as f64 / N as f64
    );
    // Whole VP8 frames through the packetizer: 30 KB frames (26 packets each).
    let mut frame = vec![7u8; 30_000];
    frame[0] = 0x10; // a VP8 key frame, so the receiver hands every one over

    let frames = N / 26;
    // b hands the frames over whole: its jitter buffer's pool warms up with the history.
    b.receive_frames(true);
    // Warm-up: the history's slots grow once to these larger packets.
    for i in 0..30u32 {
        a.send_frame(ta, &frame, i * 3000).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let sent_before = a.stats.rtp_packets_sent.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(50));
    FRAME_FIRST.store(u64::MAX, Ordering::Relaxed);
    let frames_before = FRAMES.load(Ordering::Relaxed);
    let start = mine();
    for i in 0..frames {
        a.send_frame(ta, &frame, i as u32 * 3000).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let frame_allocs = mine() - start;
    let packets = a.stats.rtp_packets_sent.load(Ordering::Relaxed) - sent_before;
    println!(
        "bench allocs_per_send_frame_packet {:.2} allocations/packet (send_frame of 30 KB VP8 frames: {packets} packets)",
        frame_allocs as f64 / packets.max(1) as f64
    );
    let end = Instant::now() + Duration::from_secs(10);
    while FRAMES.load(Ordering::Relaxed) < frames_before + frames && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(1));
    }
    let got = FRAMES.load(Ordering::Relaxed) - frames_before;
    let receive_allocs = FRAME_LATEST.load(Ordering::Relaxed).saturating_sub(FRAME_FIRST.load(Ordering::Relaxed));
    println!(
        "bench allocs_per_received_frame_packet {:.2} allocations/packet (jitter buffer and depacketizer on the receiving thread, 30 KB VP8 frames: {got} of {frames} frames)",
        receive_allocs as f64 / (got.saturating_sub(1) * 26).max(1) as f64
    );
    b.close();
    a.close();
}
