//! Many sessions on one shared UDP port (`wrs_config_set_shared_port`), each connected to a
//! peer session with a port of its own, all through the C ABI on 127.0.0.1: every session gets
//! exactly its own media, sessions leave without disturbing the others, and the port is given
//! back when the last one is freed.

mod common;

use std::collections::HashSet;
use std::ffi::CString;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::*;
use webrtc_session::capi::session::*;
use webrtc_session::capi::types::*;
use webrtc_session::capi::*;

const PAIRS: usize = 6;
const PACKETS: usize = 25;

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Connects `a` (shared port) and `b`; returns the ports of `a`'s local candidates.
fn connect_pair(a: &Peer, b: &Peer) -> (u32, u32, HashSet<u16>) {
    let (ta, tb) = negotiate_audio(a, b, |s| s);
    let mut ports = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for (from, to, mine) in [(a, b, true), (b, a, false)] {
            while let Ok(e) = from.rx.try_recv() {
                if let Ev::Candidate(c) = e {
                    if mine {
                        ports.insert(c.split_whitespace().nth(5).unwrap().parse::<u16>().unwrap());
                    }
                    let c = CString::new(c).unwrap();
                    ok(wrs_session_add_remote_candidate(to.s, c.as_ptr()));
                }
            }
        }
        if a.state() == wrs_connection_state::Connected && b.state() == wrs_connection_state::Connected {
            return (ta, tb, ports);
        }
        assert!(Instant::now() < deadline, "pair did not connect: {:?} / {:?}", a.state(), b.state());
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn payload(rtp: &[u8]) -> &[u8] {
    let mut at = 12 + 4 * (rtp[0] & 0x0f) as usize;
    if rtp[0] & 0x10 != 0 {
        at += 4 + 4 * u16::from_be_bytes([rtp[at + 2], rtp[at + 3]]) as usize;
    }
    &rtp[at..]
}

/// Each side of every pair sends `PACKETS` payloads tagged with its pair; each side must get
/// exactly its peer's, in full.
fn exchange(pairs: &[(Peer, Peer, u32, u32)], round: u8) {
    for (i, (a, b, ta, tb)) in pairs.iter().enumerate() {
        for seq in 0..PACKETS as u8 {
            ok(a.send_media(*ta, &[b'A', i as u8, round, seq, 0, 0, 0, 0], seq as u32 * 160));
            ok(b.send_media(*tb, &[b'B', i as u8, round, seq, 0, 0, 0, 0], seq as u32 * 160));
        }
    }
    for (i, (a, b, _, _)) in pairs.iter().enumerate() {
        for (who, p, tag) in [("shared", a, b'B'), ("own", b, b'A')] {
            let got = collect_rtp(p, PACKETS, Duration::from_secs(5));
            let payloads: Vec<&[u8]> = got.iter().map(|(_, pkt)| payload(pkt)).collect();
            assert_eq!(payloads.len(), PACKETS, "pair {i} {who} side got {} of {PACKETS}", payloads.len());
            for pl in &payloads {
                assert_eq!(&pl[..3], &[tag, i as u8, round], "pair {i} {who} side got another session's packet");
            }
            let seqs: HashSet<u8> = payloads.iter().map(|pl| pl[3]).collect();
            assert_eq!(seqs.len(), PACKETS, "pair {i} {who} side: duplicates");
        }
    }
}

#[test]
fn sessions_share_one_port() {
    let port = free_port();
    let shared = Options { shared_port: port, ..Default::default() };
    let mut pairs = Vec::new();
    for _ in 0..PAIRS {
        let a = Peer::new(&shared);
        let b = Peer::new(&Options::default());
        let (ta, tb, ports) = connect_pair(&a, &b);
        assert_eq!(ports, HashSet::from([port]), "shared-port session gathered other ports");
        pairs.push((a, b, ta, tb));
    }
    exchange(&pairs, 1);

    // Half the shared-port sessions leave; the others go on undisturbed.
    let leaving: Vec<_> = pairs.drain(..PAIRS / 2).collect();
    drop(leaving);
    exchange(&pairs, 2);
    for (a, _, _, _) in &pairs {
        assert_eq!(a.stat(wrs_stat::SrtpUnprotectFailures), 0);
    }

    // A newcomer joins the port that is already bound.
    let a = Peer::new(&shared);
    let b = Peer::new(&Options::default());
    let (ta, tb, _) = connect_pair(&a, &b);
    pairs.push((a, b, ta, tb));
    exchange(&pairs, 3);

    // The last one freed gives the port back: a socket of our own can bind it.
    drop(pairs);
    let deadline = Instant::now() + Duration::from_secs(5);
    while UdpSocket::bind(("0.0.0.0", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} still held after every session was freed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn shared_port_held_by_another_socket_is_a_clear_error() {
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let mut cfg = std::ptr::null_mut();
    ok(webrtc_session::capi::config::wrs_config_new(&mut cfg));
    let ip = CString::new("127.0.0.1").unwrap();
    ok(webrtc_session::capi::config::wrs_config_add_local_address(cfg, ip.as_ptr()));
    ok(webrtc_session::capi::config::wrs_config_set_shared_port(cfg, port));
    let mut s = std::ptr::null_mut();
    assert_eq!(wrs_session_new(cfg, &mut s), wrs_result::Io);
    assert!(s.is_null());
    assert!(last_error().contains(&format!("shared port 127.0.0.1:{port}")), "{}", last_error());
    webrtc_session::capi::config::wrs_config_free(cfg);
}
