//! Lifetimes and threads at the C ABI: free from inside a callback, close from another thread
//! during callbacks, API calls racing free, four threads sending at once while the peer goes
//! away, and many create → connect → free cycles without growth in memory or threads.

mod common;

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use webrtc_session::capi::session::*;
use webrtc_session::capi::types::*;
use webrtc_session::capi::wrs_result;

fn pair() -> (Peer, Peer, u32, u32) {
    let a = Peer::new(&Options::default());
    let b = Peer::new(&Options::default());
    let (ta, tb) = negotiate_audio(&a, &b, |answer| answer);
    assert_eq!(pump(&a, &b, Duration::from_secs(10)), (wrs_connection_state::Connected, wrs_connection_state::Connected));
    (a, b, ta, tb)
}

struct SelfFree {
    session: AtomicPtr<wrs_session>,
    calls: AtomicUsize,
}

unsafe extern "C" fn free_myself(ud: *mut c_void, _t: u32, _p: *const u8, _l: usize) {
    let me = &*(ud as *const SelfFree);
    me.calls.fetch_add(1, Ordering::SeqCst);
    let s = me.session.swap(ptr::null_mut(), Ordering::SeqCst);
    if !s.is_null() {
        wrs_session_free(s); // from inside this session's own callback
    }
}

#[test]
fn free_from_inside_a_callback() {
    let (a, b, ta, _) = pair();
    let b = std::mem::ManuallyDrop::new(b);
    let state = Box::new(SelfFree { session: AtomicPtr::new(b.s), calls: AtomicUsize::new(0) });
    ok(wrs_session_on_rtp(b.s, Some(free_myself), &*state as *const SelfFree as *mut c_void));
    for i in 0..20 {
        let _ = a.send_media(ta, &[0u8; 160], i * 160);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.session.load(Ordering::SeqCst) == b.s && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(state.calls.load(Ordering::SeqCst), 1, "no callback after the session freed itself");
    assert_eq!(wrs_session_close(b.s), wrs_result::InvalidHandle);
    // The peer notices (close_notify) and stays healthy.
    let _ = pump(&a, &a, Duration::from_secs(2));
    assert_eq!(a.state(), wrs_connection_state::Closed);
}

unsafe extern "C" fn slow_rtp(ud: *mut c_void, _t: u32, _p: *const u8, _l: usize) {
    (*(ud as *const AtomicUsize)).fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_micros(300));
}

#[test]
fn close_from_another_thread_while_callbacks_run() {
    let (a, b, ta, _) = pair();
    let calls = Box::new(AtomicUsize::new(0));
    ok(wrs_session_on_rtp(b.s, Some(slow_rtp), &*calls as *const AtomicUsize as *mut c_void));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (stop, s) = (Arc::clone(&stop), a.s as usize);
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let r = wrs_session_send_media(s as *mut wrs_session, ta, [0u8; 160].as_ptr(), 160, 0, false);
                assert!(matches!(r, wrs_result::Ok | wrs_result::NotConnected | wrs_result::Closed), "{r:?}");
                std::thread::sleep(Duration::from_micros(100));
            }
        })
    };
    while calls.load(Ordering::SeqCst) < 50 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let closer = {
        let s = b.s as usize;
        std::thread::spawn(move || wrs_session_close(s as *mut wrs_session))
    };
    assert_eq!(closer.join().unwrap(), wrs_result::Ok);
    assert_eq!(b.state(), wrs_connection_state::Closed);
    let after = calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    assert!(calls.load(Ordering::SeqCst) <= after + 1, "media stops once closed");
    stop.store(true, Ordering::SeqCst);
    sender.join().unwrap();
}

#[test]
fn api_calls_racing_free_never_crash() {
    for _ in 0..20 {
        let (_a, b, _, tb) = pair();
        let b = std::mem::ManuallyDrop::new(b);
        let s = b.s as usize;
        let racers: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(move || {
                    let s = s as *mut wrs_session;
                    let mut st = wrs_connection_state::New;
                    loop {
                        let r1 = wrs_session_connection_state(s, &mut st);
                        let r2 = wrs_session_send_media(s, tb, [0u8; 160].as_ptr(), 160, 0, false);
                        if r1 == wrs_result::InvalidHandle {
                            assert_eq!(r2, wrs_result::InvalidHandle);
                            return;
                        }
                        assert!(matches!(r2, wrs_result::Ok | wrs_result::NotConnected | wrs_result::Closed | wrs_result::InvalidHandle), "{r2:?}");
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(5));
        wrs_session_free(s as *mut wrs_session);
        for r in racers {
            r.join().unwrap();
        }
    }
}

#[test]
fn four_threads_send_while_the_peer_goes_away() {
    let (a, b, ta, _) = pair();
    let a_s = a.s as usize;
    let senders: Vec<_> = (0..4u8)
        .map(|k| {
            std::thread::spawn(move || {
                let mut ok_count = 0;
                for i in 0..2000u32 {
                    let payload = [k; 160];
                    match wrs_session_send_media(a_s as *mut wrs_session, ta, payload.as_ptr(), 160, i, false) {
                        wrs_result::Ok => ok_count += 1,
                        wrs_result::NotConnected | wrs_result::Closed | wrs_result::Io => {}
                        other => panic!("unexpected {other:?}"),
                    }
                    if i % 50 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                ok_count
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    let received_before_close = collect_rtp(&b, 100, Duration::from_secs(2));
    drop(b); // the peer closes and frees while the four threads send
    let sent: u32 = senders.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(sent > 0);
    assert_eq!(received_before_close.len(), 100);
    // Every sender thread got through, with unique sequence numbers.
    let mut seqs: Vec<u16> = received_before_close.iter().map(|(_, p)| u16::from_be_bytes([p[2], p[3]])).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 100, "sequence numbers are unique across threads");
}

fn rss_kb() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// create → connect → free, many times. WRS_CYCLES sets the count (default 200; the
/// reliability figures in the README use 10,000).
#[test]
fn create_connect_free_cycles_do_not_grow() {
    let cycles: usize = std::env::var("WRS_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let warmup = cycles.min(50);
    let (mut rss0, mut threads0) = (0, 0);
    let t0 = Instant::now();
    for i in 0..cycles {
        if i == warmup {
            rss0 = rss_kb();
            threads0 = threads();
        }
        let (a, b, ta, _) = pair();
        ok(a.send_media(ta, &[0u8; 160], 0));
        drop(a);
        drop(b);
    }
    let (rss1, threads1) = (rss_kb(), threads());
    eprintln!(
        "{cycles} create-connect-free cycles in {:?}: RSS {rss0} KB after {warmup}, {rss1} KB at the end; threads {threads0} -> {threads1}",
        t0.elapsed()
    );
    assert!(threads1 <= threads0 + 2, "threads grew: {threads0} -> {threads1}");
    // Allocator noise allowed; a leak of even 1 KB per cycle would show over 10,000 cycles.
    assert!(rss1 < rss0 + 20_000 + (cycles as u64) * 2, "RSS grew from {rss0} KB to {rss1} KB");
}
