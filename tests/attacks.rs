//! Attacks from the network, each reproduced on 127.0.0.1 and shown to do no harm: spoofed DTLS
//! during set-up, a shared-port session stealing another's route, hostile candidate lists, and
//! a flood of forged checks naming a session's (public) ufrag. Each is bounded in time.

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::native::*;
use webrtc_session::ice::{CHECK_BURST, TA};
use webrtc_session::session::{ConnectionState, SdpType};

/// A fatal DTLS alert (handshake_failure) in a plaintext epoch-0 record: 15 bytes.
const FATAL_ALERT: [u8; 15] = [0x15, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 40];

/// A real DTLS ClientHello, as OpenSSL writes it.
fn client_hello() -> Vec<u8> {
    struct Capture(Vec<u8>);
    impl Read for Capture {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
    impl Write for Capture {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let ctx = openssl::ssl::SslContext::builder(openssl::ssl::SslMethod::dtls()).unwrap().build();
    let mut s = openssl::ssl::SslStream::new(openssl::ssl::Ssl::new(&ctx).unwrap(), Capture(Vec::new())).unwrap();
    let _ = s.connect();
    let hello = s.get_ref().0.clone();
    assert_eq!(hello[0], 22, "a handshake record");
    hello
}

/// Sends `datagrams` to every address in `targets` about every millisecond until stopped;
/// counts what comes back to the spraying socket.
struct Sprayer {
    stop: Arc<AtomicBool>,
    replies: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
    targets: Arc<Mutex<Vec<SocketAddr>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sprayer {
    fn start(datagrams: Vec<Vec<u8>>) -> Sprayer {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let (stop, replies, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, replies, sent, targets) = (stop.clone(), replies.clone(), sent.clone(), targets.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    for t in targets.lock().unwrap().iter() {
                        for d in &datagrams {
                            if socket.send_to(d, t).is_ok() {
                                sent.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    while socket.recv_from(&mut buf).is_ok() {
                        replies.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(100));
                while socket.recv_from(&mut buf).is_ok() {
                    replies.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        Sprayer { stop, replies, sent, targets, thread: Some(thread) }
    }
    fn aim(&self, at: SocketAddr) {
        self.targets.lock().unwrap().push(at);
    }
    /// Stops; returns (datagrams sent, datagrams received back).
    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (self.sent.load(Ordering::Relaxed), self.replies.load(Ordering::Relaxed))
    }
}

impl Drop for Sprayer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Pumps trickled candidates both ways (unchanged) until `done` or the deadline.
fn pump_until(a: &mut Peer, b: &mut Peer, deadline: Duration, mut done: impl FnMut(&Peer, &Peer) -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        let (va, vb) = (b.s.local_address(), a.s.local_address());
        a.pump(&b.s, vb);
        b.pump(&a.s, va);
        if done(a, b) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// Finding 1: spoofed plaintext DTLS alerts and ClientHellos from another local port, aimed at
/// both sessions from before either has a DTLS endpoint (so they land in the early buffer)
/// until after the call is up. Every call connects, media flows, the spraying address gets
/// nothing back, and the sessions count what they dropped.
#[test]
fn spoofed_dtls_during_setup_cannot_kill_a_call() {
    let sprayer = Sprayer::start(vec![FATAL_ALERT.to_vec(), client_hello()]);
    let mut connected_calls = 0;
    let mut dropped = 0;
    for _ in 0..10 {
        let mut a = peer(|_| {});
        let mut b = peer(|_| {});
        sprayer.aim(a.s.local_address());
        sprayer.aim(b.s.local_address());
        // Alerts reach both before their endpoints exist.
        std::thread::sleep(Duration::from_millis(5));
        negotiate(&mut a, &mut b);
        if pump_until(&mut a, &mut b, Duration::from_secs(10), connected) {
            a.s.send_media(a.track, &[7u8; 160], 0, false).unwrap();
            if pump_until(&mut a, &mut b, Duration::from_secs(2), |_, b| !b.rtp.is_empty()) {
                connected_calls += 1;
            }
        }
        dropped += a.s.ice_counters().unverified_dropped.load(Ordering::Relaxed)
            + b.s.ice_counters().unverified_dropped.load(Ordering::Relaxed);
        assert_eq!(a.state(), ConnectionState::Connected, "{:?}", a.s.failure_reason());
    }
    let (sent, replies) = sprayer.finish();
    println!("spoofed DTLS: {connected_calls}/10 calls connected, {sent} spoofed datagrams sent, {dropped} dropped as unverified, {replies} replies to the spoofer");
    assert_eq!(connected_calls, 10);
    assert_eq!(replies, 0, "a ClientHello from an unverified address was answered");
    assert!(dropped > 0 && sent > 0);
}

fn shared_peer(port: u16) -> Peer {
    peer(move |c| c.ice.shared_port = port)
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Finding 2: on a shared port, session X names the victim peer's address as its remote
/// candidate, so X's agent sends checks there. Before, every send target was routed to its
/// sender and the victim lost its media. Now only authenticated checks and answers route: the
/// victim gets every packet and stays connected.
#[test]
fn shared_port_session_cannot_steal_another_sessions_route() {
    let port = free_port();
    let mut victim = shared_peer(port);
    let mut victim_peer = peer(|_| {});
    negotiate(&mut victim, &mut victim_peer);
    assert!(pump_until(&mut victim, &mut victim_peer, Duration::from_secs(10), connected));

    // The attacker's session on the same port, negotiated with a throwaway peer whose
    // candidates never arrive; its one remote candidate is the victim peer's address.
    let mut x = shared_peer(port);
    let mut y = peer(|_| {});
    negotiate(&mut x, &mut y);
    let target = victim_peer.s.local_address();
    x.s.add_remote_candidate(&format!("candidate:1 1 udp 2130706431 {} {} typ host", target.ip(), target.port())).unwrap();

    let sent = 200;
    for i in 0..sent {
        victim_peer.s.send_media(victim_peer.track, &[i as u8; 160], i * 160, false).unwrap();
        std::thread::sleep(Duration::from_millis(10));
        victim.pump(&victim_peer.s, target);
    }
    std::thread::sleep(Duration::from_millis(200));
    victim.pump(&victim_peer.s, target);
    let checks = x.s.ice_counters().checks_sent.load(Ordering::Relaxed);
    println!("shared-port hijack: victim got {}/{sent} packets while the attacker's agent sent {checks} checks to its peer", victim.rtp.len());
    assert!(checks > 0, "the attacker's agent did check the victim's peer");
    assert_eq!(victim.rtp.len(), sent as usize);
    assert_eq!(victim.state(), ConnectionState::Connected);
}

/// `n` sockets on 127.0.0.1 and their addresses.
fn listeners(n: usize) -> (Vec<UdpSocket>, Vec<SocketAddr>) {
    let socks: Vec<UdpSocket> = (0..n).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    for s in &socks {
        s.set_nonblocking(true).unwrap();
    }
    let addrs = socks.iter().map(|s| s.local_addr().unwrap()).collect();
    (socks, addrs)
}

/// Datagrams received per listener.
fn received(socks: &[UdpSocket]) -> Vec<usize> {
    let mut buf = [0u8; 1500];
    socks
        .iter()
        .map(|s| {
            let mut n = 0;
            while s.recv_from(&mut buf).is_ok() {
                n += 1;
            }
            n
        })
        .collect()
}

fn host_line(a: SocketAddr) -> String {
    format!("candidate:1 1 udp 2130706431 {} {} typ host", a.ip(), a.port())
}

/// Finding 3: a 256 KB answer with 3,500 candidates, then 16,500 more trickled, all pointing at
/// sockets of this test. At most the cap's 100 destinations get checks, at most at the pacer's
/// rate; forbidden destinations are refused with a clear error.
#[test]
fn hostile_candidate_lists_reach_at_most_the_cap_at_the_paced_rate() {
    let (socks, addrs) = listeners(3_500);
    let mut a = peer(|_| {});
    let b = peer(|_| {});
    a.track = a.s.add_track(webrtc_session::negotiation::MediaKind::Audio, &[webrtc_session::negotiation::Codec::Pcmu], webrtc_session::negotiation::Direction::SendRecv).unwrap();
    let offer = a.s.create_offer().unwrap();
    a.s.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
    b.s.set_remote_description(SdpType::Offer, &offer).unwrap();
    let mut answer = b.s.create_answer().unwrap();
    b.s.set_local_description(SdpType::Answer, Some(&answer)).unwrap();
    for addr in &addrs {
        answer.push_str(&format!("a={}\r\n", host_line(*addr)));
    }
    assert!(answer.len() > 200_000, "{} bytes", answer.len());
    let start = Instant::now();
    a.s.set_remote_description(SdpType::Answer, &answer).unwrap();
    assert_eq!(a.s.remote_candidates_refused(), 3_400);

    // Forbidden destinations, trickled: each refused with a reason.
    for bad in ["255.255.255.255 9", "224.0.0.251 5353", "239.255.255.250 1900", "0.0.0.0 9", "127.0.0.1 0"] {
        let e = a.s.add_remote_candidate(&format!("candidate:1 1 udp 1 {bad} typ host")).unwrap_err();
        assert!(e.message().contains("refused"), "{bad}: {}", e.message());
    }
    let own = a.s.local_address();
    let e = a.s.add_remote_candidate(&host_line(own)).unwrap_err();
    assert!(e.message().contains("own socket"), "{}", e.message());

    // 16,500 more, trickled: refused at the cap.
    let mut refused = 0;
    for i in 0..16_500u32 {
        let addr = SocketAddr::new(format!("127.0.{}.{}", 1 + i / 250, 1 + i % 250).parse().unwrap(), 9000);
        if let Err(e) = a.s.add_remote_candidate(&host_line(addr)) {
            assert_eq!(e.kind(), webrtc_session::error::ErrorKind::LimitReached, "{}", e.message());
            refused += 1;
        }
    }
    assert_eq!(refused, 16_500);

    std::thread::sleep(Duration::from_secs(3));
    let counts = received(&socks);
    let elapsed = start.elapsed();
    let destinations = counts.iter().filter(|n| **n > 0).count();
    let total: usize = counts.iter().sum();
    let allowed = CHECK_BURST as f64 + elapsed.as_secs_f64() / TA.as_secs_f64();
    println!(
        "hostile candidates: {destinations} destinations, {total} checks in {:.2} s (pacer allows {allowed:.0}); {} refused",
        elapsed.as_secs_f64(),
        a.s.remote_candidates_refused()
    );
    assert!(destinations <= 100 && destinations > 50, "{destinations} destinations");
    assert!(total as f64 <= allowed, "{total} checks, more than the pacer allows");
    let paced = a.s.ice_counters().checks_paced.load(Ordering::Relaxed);
    assert!(paced > 0, "the pacer held checks back");
}

/// Finding 4: on a shared port, 150,000 forged checks per second (for 4 s, from 64 source
/// ports) name the victim's ufrag with a wrong password. They are dropped at the mux, so the
/// agent's queue never fills: the call stays connected and at least 99 % of its media arrives.
#[test]
fn forged_check_flood_naming_the_ufrag_costs_the_call_nothing() {
    let port = free_port();
    let mut victim = shared_peer(port);
    let mut victim_peer = peer(|_| {});
    negotiate(&mut victim, &mut victim_peer);
    assert!(pump_until(&mut victim, &mut victim_peer, Duration::from_secs(10), connected));
    let (offer, answer) = (victim.s.local_description().unwrap(), victim_peer.s.local_description().unwrap());
    let username = format!("{}:{}", sdp_attr(&offer, "a=ice-ufrag:"), sdp_attr(&answer, "a=ice-ufrag:"));
    let forged = rogue_check(&username, "not-the-password-at-all!");
    let target = victim.s.local_address();

    let stop = Arc::new(AtomicBool::new(false));
    let flooded = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..2)
        .map(|_| {
            let (stop, flooded, forged) = (stop.clone(), flooded.clone(), forged.clone());
            std::thread::spawn(move || {
                let socks: Vec<UdpSocket> = (0..32).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
                let begin = Instant::now();
                let mut n = 0u64;
                // 75,000 per second per thread, paced in steps of 1 ms.
                while !stop.load(Ordering::Relaxed) && begin.elapsed() < Duration::from_secs(4) {
                    let due = (begin.elapsed().as_micros() as u64) * 75 / 1000;
                    while n < due {
                        let _ = socks[(n % 32) as usize].send_to(&forged, target);
                        n += 1;
                    }
                    std::thread::sleep(Duration::from_micros(500));
                }
                flooded.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let begin = Instant::now();
    let sent = 300u32;
    for i in 0..sent {
        victim_peer.s.send_media(victim_peer.track, &[i as u8; 160], i * 160, false).unwrap();
        std::thread::sleep(Duration::from_millis(12));
        victim.pump(&victim_peer.s, victim_peer.s.local_address());
    }
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        f.join().unwrap();
    }
    let elapsed = begin.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    victim.pump(&victim_peer.s, victim_peer.s.local_address());
    let rejected = victim.s.ice_counters().stun_rejected.load(Ordering::Relaxed);
    let flooded = flooded.load(Ordering::Relaxed);
    println!(
        "forged-check flood: {flooded} checks in {:.1} s ({:.0}/s), {rejected} rejected at the mux; media {}/{sent}, state {:?}",
        elapsed.as_secs_f64(),
        flooded as f64 / elapsed.as_secs_f64().min(4.0),
        victim.rtp.len(),
        victim.state()
    );
    assert!(victim.rtp.len() as f64 >= 0.99 * sent as f64, "{} of {sent}", victim.rtp.len());
    assert_eq!(victim.state(), ConnectionState::Connected);
    let states: Vec<_> = victim.states.iter().map(|(_, s)| *s).collect();
    assert!(!states.contains(&ConnectionState::Disconnected), "went through {states:?}");
    assert!(rejected > flooded / 2, "the forged checks were rejected at the mux ({rejected} of {flooded})");
}
