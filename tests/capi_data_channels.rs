//! Data channel handles through the C ABI under concurrency: no callback of a channel after
//! `wrs_data_channel_free` returns while the peer floods it, API calls racing the free, a
//! channel handle freed from inside its own message callback, and channels of a freed session.

mod common;

use std::ffi::{c_void, CString};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{connect, ok, Options, Peer};
use webrtc_session::capi::channel::*;
use webrtc_session::capi::session::*;
use webrtc_session::capi::types::*;
use webrtc_session::capi::wrs_result;

struct Watch {
    freed: AtomicBool,
    late: AtomicUsize,
    calls: AtomicUsize,
}

unsafe extern "C" fn counting(ud: *mut c_void, _c: *mut wrs_data_channel, _d: *const u8, _n: usize, _t: bool) {
    let w = &*(ud as *const Watch);
    w.calls.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_micros(200));
    if w.freed.load(Ordering::SeqCst) {
        w.late.fetch_add(1, Ordering::SeqCst);
    }
}

/// The peer's channel handle, as the data-channel callback hands it over.
unsafe extern "C" fn keep(ud: *mut c_void, c: *mut wrs_data_channel) {
    (*(ud as *const AtomicPtr<wrs_data_channel>)).store(c, Ordering::SeqCst);
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < end, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn open_pair() -> (Peer, Peer, *mut wrs_data_channel, Arc<AtomicPtr<wrs_data_channel>>) {
    let (a, b) = (Peer::new(&Options::default()), Peer::new(&Options::default()));
    let remote = Arc::new(AtomicPtr::<wrs_data_channel>::new(ptr::null_mut()));
    ok(wrs_session_on_data_channel(b.s, Some(keep), Arc::as_ptr(&remote) as *mut c_void));
    let label = CString::new("flood").unwrap();
    let mut ch = ptr::null_mut();
    ok(wrs_session_create_data_channel(a.s, label.as_ptr(), ptr::null(), &mut ch));
    let (sa, sb) = connect(&a, &b, Duration::from_secs(30));
    assert_eq!((sa, sb), (wrs_connection_state::Connected, wrs_connection_state::Connected));
    wait("the peer's channel", || !remote.load(Ordering::SeqCst).is_null());
    let mut st = wrs_data_channel_state::Closed;
    wait("open", || {
        ok(wrs_data_channel_ready_state(ch, &mut st));
        st == wrs_data_channel_state::Open
    });
    (a, b, ch, remote)
}

#[test]
fn no_message_callback_after_free_returns_while_the_peer_floods() {
    let (a, b, ch, remote) = open_pair();
    let watch = Box::new(Watch { freed: AtomicBool::new(false), late: AtomicUsize::new(0), calls: AtomicUsize::new(0) });
    let peer_ch = remote.load(Ordering::SeqCst);
    ok(wrs_data_channel_on_message(peer_ch, Some(counting), &*watch as *const Watch as *mut c_void));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let stop = Arc::clone(&stop);
        let ch = ch as usize;
        std::thread::spawn(move || {
            let ch = ch as *mut wrs_data_channel;
            let msg = [7u8; 200];
            let mut refused = 0usize;
            while !stop.load(Ordering::SeqCst) {
                // Sends fail once the peer's close arrives or the buffer is full: counted, not fatal.
                if wrs_data_channel_send(ch, msg.as_ptr(), msg.len()) != wrs_result::Ok {
                    refused += 1;
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
            refused
        })
    };
    wait("the flood arrives", || watch.calls.load(Ordering::SeqCst) > 50);
    wrs_data_channel_free(peer_ch);
    watch.freed.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::SeqCst);
    let _ = sender.join();
    assert_eq!(watch.late.load(Ordering::SeqCst), 0, "a message callback ran after wrs_data_channel_free returned");
    // The freed handle is an error now, the sender's handle still works for getters.
    let mut st = wrs_data_channel_state::Open;
    assert_eq!(wrs_data_channel_ready_state(peer_ch, &mut st), wrs_result::InvalidHandle);
    ok(wrs_data_channel_ready_state(ch, &mut st));
    wrs_data_channel_free(ch);
    drop((a, b));
}

#[test]
fn api_calls_racing_channel_and_session_free_never_crash() {
    let (a, b, ch, remote) = open_pair();
    let peer_ch = remote.load(Ordering::SeqCst) as usize;
    let handles = [ch as usize, peer_ch];
    let stop = Arc::new(AtomicBool::new(false));
    let racers: Vec<_> = (0..3)
        .map(|i| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let c = handles[(n as usize + i) % 2] as *mut wrs_data_channel;
                    let mut st = wrs_data_channel_state::Open;
                    let mut amount = 0usize;
                    let _ = wrs_data_channel_send(c, b"x".as_ptr(), 1);
                    let _ = wrs_data_channel_ready_state(c, &mut st);
                    let _ = wrs_data_channel_buffered_amount(c, &mut amount);
                    let mut label = ptr::null_mut();
                    if wrs_data_channel_label(c, &mut label) == wrs_result::Ok {
                        webrtc_session::capi::wrs_string_free(label);
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    wrs_data_channel_close(ch as *mut wrs_data_channel);
    std::thread::sleep(Duration::from_millis(50));
    wrs_data_channel_free(ch);
    std::thread::sleep(Duration::from_millis(50));
    // Freeing the session releases the peer's channel handle under the racers.
    let bs = b.s;
    wrs_session_free(bs);
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::SeqCst);
    let calls: u64 = racers.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(calls > 100, "{calls} racing calls");
    let mut st = wrs_data_channel_state::Open;
    assert_eq!(wrs_data_channel_ready_state(peer_ch as *mut wrs_data_channel, &mut st), wrs_result::InvalidHandle);
    drop(b); // its session was freed above: the second free is ignored
    drop(a);
}

unsafe extern "C" fn free_myself(ud: *mut c_void, c: *mut wrs_data_channel, _d: *const u8, _n: usize, _t: bool) {
    let w = &*(ud as *const Watch);
    if w.calls.fetch_add(1, Ordering::SeqCst) == 0 {
        wrs_data_channel_free(c);
        w.freed.store(true, Ordering::SeqCst);
    } else if w.freed.load(Ordering::SeqCst) {
        w.late.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_channel_freed_from_its_own_callback() {
    let (a, b, ch, remote) = open_pair();
    let watch = Box::new(Watch { freed: AtomicBool::new(false), late: AtomicUsize::new(0), calls: AtomicUsize::new(0) });
    let peer_ch = remote.load(Ordering::SeqCst);
    ok(wrs_data_channel_on_message(peer_ch, Some(free_myself), &*watch as *const Watch as *mut c_void));
    for _ in 0..50 {
        let _ = wrs_data_channel_send(ch, b"hi".as_ptr(), 2);
    }
    wait("freed", || watch.freed.load(Ordering::SeqCst));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(watch.late.load(Ordering::SeqCst), 0);
    assert_eq!(watch.calls.load(Ordering::SeqCst), 1, "no message callback after the channel freed itself");
    wrs_data_channel_free(ch);
    drop((a, b));
}

#[test]
fn a_session_free_releases_its_channel_handles_closed_or_open() {
    // Closed first: the peer closed the channel, the host kept its handle, then freed the session.
    let (a, b, ch, remote) = open_pair();
    let peer_ch = remote.load(Ordering::SeqCst);
    wrs_data_channel_close(ch);
    let mut st = wrs_data_channel_state::Open;
    wait("the peer sees the close", || {
        ok(wrs_data_channel_ready_state(peer_ch, &mut st));
        st == wrs_data_channel_state::Closed
    });
    wrs_session_free(b.s);
    assert_eq!(wrs_data_channel_ready_state(peer_ch, &mut st), wrs_result::InvalidHandle, "closed channel's handle");
    // Open: the session goes while the channel is still open.
    ok(wrs_data_channel_ready_state(ch, &mut st));
    wrs_session_free(a.s);
    assert_eq!(wrs_data_channel_ready_state(ch, &mut st), wrs_result::InvalidHandle, "open channel's handle");
    wrs_data_channel_free(ch); // not live any more: ignored
    drop((a, b));
}
