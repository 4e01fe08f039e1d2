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
/// Bytes the Rust heap holds now.
static LIVE: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Peer(Arc<Session>, AtomicU64);
impl EventHandler for Peer {
    fn on_event(&self, e: Event<'_>) {
        match e {
            Event::LocalCandidate { candidate, .. } => {
                let _ = self.0.add_remote_candidate(candidate);
            }
            Event::Rtp { .. } => {
                self.1.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// Two connected sessions with an audio track each; returns them, their handlers and A's track.
fn connected_pair() -> (Arc<Session>, Arc<Session>, Arc<Peer>, Arc<Peer>, u32) {
    let mut cfg = SessionConfig::default();
    cfg.ice.local_addresses = vec!["127.0.0.1".parse().unwrap()];
    let a = Session::new(cfg.clone()).unwrap();
    let b = Session::new(cfg).unwrap();
    let to_b = Arc::new(Peer(Arc::clone(&b), AtomicU64::new(0)));
    let to_a = Arc::new(Peer(Arc::clone(&a), AtomicU64::new(0)));
    a.set_event_handler(Some(to_b.clone()));
    b.set_event_handler(Some(to_a.clone()));
    let ta = a.add_track(MediaKind::Audio, &[Codec::Pcmu], Direction::SendRecv).unwrap();
    let offer = a.create_offer().unwrap();
    b.set_remote_description(SdpType::Offer, &offer).unwrap();
    a.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
    b.add_track(MediaKind::Audio, &[Codec::Pcmu], Direction::SendRecv).unwrap();
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
    // Sends, paced so the receiver keeps up; allocations on every thread are counted, so the
    // total covers both the send and the receive path.
    let before = ALLOCS.load(Ordering::Relaxed);
    for i in 0..N {
        a.send_media(ta, &payload, i as u32 * 160, false).unwrap();
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let end = Instant::now() + Duration::from_secs(5);
    while to_a.1.load(Ordering::Relaxed) < N && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(1));
    }
    let total = ALLOCS.load(Ordering::Relaxed) - before;
    // The send path alone: the peer is closed, so nothing is received while A sends.
    b.close();
    std::thread::sleep(Duration::from_millis(200));
    let send_start = ALLOCS.load(Ordering::Relaxed);
    for i in 0..N {
        a.send_media(ta, &payload, i as u32 * 160, false).unwrap();
    }
    let send_only = ALLOCS.load(Ordering::Relaxed) - send_start;
    println!("bench allocs_per_send {:.2} allocations/packet (send_media: route, in-place SRTP, sendto)", send_only as f64 / N as f64);
    println!(
        "bench allocs_per_receive {:.2} allocations/packet (unprotect, route, on_rtp; {} of {N} received)",
        (total as f64 - send_only as f64) / N as f64,
        to_a.1.load(Ordering::Relaxed)
    );
    a.close();
}
