//! A UDP relay on 127.0.0.1 between two sessions, standing in for netem (which this kernel
//! lacks): it drops, delays, duplicates and reorders datagrams, can block a path, and keeps a
//! copy of what it forwarded so tests can replay or tamper with real packets.
#![allow(dead_code)]

use std::collections::BinaryHeap;
use std::cmp::Reverse;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

#[derive(Clone, Copy, Default, Debug)]
pub struct Policy {
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Added one-way delay.
    pub delay: Duration,
    /// Up to this much extra random delay per datagram (reorders them).
    pub jitter: Duration,
    /// Probability that a datagram is sent twice.
    pub duplicate: f64,
    /// Drop everything (a peer that vanished).
    pub blocked: bool,
    /// A bottleneck from A to B in bits per second (0: none): a queue drained at this rate,
    /// dropping what would wait more than 200 ms in it.
    pub rate_a_to_b: u64,
    /// `loss` applies to RTP only: RTCP, STUN, DTLS and SCTP always pass (a test counting
    /// what feedback reports must not lose the feedback itself).
    pub loss_rtp_only: bool,
}

/// An RTP (not RTCP) datagram, by RFC 7983's first byte and RFC 5761's payload-type range.
pub fn is_rtp(d: &[u8]) -> bool {
    d.len() >= 12 && (128..=191).contains(&d[0]) && !(192..=223).contains(&d[1])
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dir {
    AtoB,
    BtoA,
}

pub struct Relay {
    /// What A must send to (stands for B).
    pub for_a: SocketAddr,
    /// What B must send to (stands for A).
    pub for_b: SocketAddr,
    pub policy: Arc<Mutex<Policy>>,
    pub captured: Arc<Mutex<Vec<(Dir, Vec<u8>)>>>,
    sock_a: UdpSocket,
    sock_b: UdpSocket,
    a_real: SocketAddr,
    b_real: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Relay {
    /// A relay between sessions whose sockets are `a_real` and `b_real`.
    pub fn new(a_real: SocketAddr, b_real: SocketAddr, policy: Policy, seed: u64) -> Relay {
        let sock_a = UdpSocket::bind("127.0.0.1:0").unwrap(); // talks with A
        let sock_b = UdpSocket::bind("127.0.0.1:0").unwrap(); // talks with B
        let policy = Arc::new(Mutex::new(policy));
        let captured = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (dir, from, to_sock, to) in [
            (Dir::AtoB, sock_a.try_clone().unwrap(), sock_b.try_clone().unwrap(), b_real),
            (Dir::BtoA, sock_b.try_clone().unwrap(), sock_a.try_clone().unwrap(), a_real),
        ] {
            let (policy, captured, stop) = (Arc::clone(&policy), Arc::clone(&captured), Arc::clone(&stop));
            let mut rng = Rng(seed.wrapping_mul(2654435761).wrapping_add(dir as u64 + 1) | 1);
            threads.push(std::thread::spawn(move || {
                let mut queue: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>> = BinaryHeap::new();
                let mut n = 0u64;
                let mut free_at = Instant::now();
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    while queue.peek().is_some_and(|Reverse((due, _, _))| *due <= now) {
                        let Reverse((_, _, d)) = queue.pop().unwrap();
                        let _ = to_sock.send_to(&d, to);
                    }
                    let wait = queue
                        .peek()
                        .map(|Reverse((due, _, _))| due.saturating_duration_since(now))
                        .unwrap_or(Duration::from_millis(20))
                        .clamp(Duration::from_micros(200), Duration::from_millis(20));
                    from.set_read_timeout(Some(wait)).unwrap();
                    let Ok((len, _)) = from.recv_from(&mut buf) else { continue };
                    let p = *policy.lock();
                    {
                        // The first datagrams are what tests replay or inspect; a long
                        // transfer does not grow the copy without bound.
                        let mut c = captured.lock();
                        if c.len() < 20_000 {
                            c.push((dir, buf[..len].to_vec()));
                        }
                    }
                    if p.blocked || ((!p.loss_rtp_only || is_rtp(&buf[..len])) && rng.next() < p.loss) {
                        continue;
                    }
                    let mut at = Instant::now();
                    if dir == Dir::AtoB && p.rate_a_to_b > 0 {
                        let start = free_at.max(at);
                        if start.saturating_duration_since(at) > Duration::from_millis(200) {
                            continue;
                        }
                        free_at = start + Duration::from_secs_f64(len as f64 * 8.0 / p.rate_a_to_b as f64);
                        at = free_at;
                    }
                    let copies = if rng.next() < p.duplicate { 2 } else { 1 };
                    for _ in 0..copies {
                        let extra = p.jitter.mul_f64(rng.next());
                        n += 1;
                        queue.push(Reverse((at + p.delay + extra, n, buf[..len].to_vec())));
                    }
                }
            }));
        }
        Relay {
            for_a: sock_a.local_addr().unwrap(),
            for_b: sock_b.local_addr().unwrap(),
            policy,
            captured,
            sock_a,
            sock_b,
            a_real,
            b_real,
            stop,
            threads,
        }
    }

    pub fn set(&self, f: impl FnOnce(&mut Policy)) {
        f(&mut self.policy.lock());
    }

    /// Sends a datagram to B as if A sent it (through the relay's B-facing socket).
    pub fn inject_to_b(&self, data: &[u8]) {
        self.sock_b.send_to(data, self.b_real).unwrap();
    }

    /// Rewrites a candidate of A (so B reaches A through the relay) or of B.
    pub fn rewrite_candidate(candidate: &str, via: SocketAddr) -> String {
        let mut f: Vec<String> = candidate.split_whitespace().map(str::to_owned).collect();
        f[4] = via.ip().to_string();
        f[5] = via.port().to_string();
        f.join(" ")
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
