//! Data channel figures (issue #11), each next to a limit measured in the same run:
//! - reliable ordered throughput between two sessions on 127.0.0.1, against DTLS application
//!   data alone (two DTLS endpoints over two UDP sockets on the same path, records of the
//!   size SCTP hands DTLS, no SCTP): `data_throughput_ratio`;
//! - the rate of 100-byte messages;
//! - RSS per connected data-only session (one channel open) and per further open channel.
//! Prints `bench <name> <value> <unit>` lines like bench/bench.c. Run: `cargo bench --bench data`
//! (part of `make bench`). `WRS_BENCH_DATA_MB` sets the transfer size (default 64).

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use webrtc_session::cert::Certificate;
use webrtc_session::dtls::{DtlsContext, DtlsEndpoint, DtlsEvent, DtlsRole};
use webrtc_session::session::{ChannelOptions, ConnectionState, Event, EventHandler, SdpType, Session, SessionConfig};
use webrtc_session::srtp::SrtpProfile;

/// What an SCTP packet through DTLS is at most (sctp/mod.rs MAX_SCTP_PACKET).
const RECORD: usize = 1150;

#[derive(Default)]
struct Counters {
    bytes: AtomicU64,
    messages: AtomicU64,
    opened: AtomicU64,
    peer_opened: AtomicU64,
    connected: AtomicBool,
    candidates: parking_lot::Mutex<Vec<String>>,
}

struct Handler(Arc<Counters>);
impl EventHandler for Handler {
    fn on_event(&self, e: Event<'_>) {
        match e {
            Event::ChannelMessage { data, .. } => {
                self.0.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                self.0.messages.fetch_add(1, Ordering::Relaxed);
            }
            Event::ChannelOpen { .. } => {
                self.0.opened.fetch_add(1, Ordering::Relaxed);
            }
            Event::DataChannel { .. } => {
                self.0.peer_opened.fetch_add(1, Ordering::Relaxed);
            }
            Event::ConnectionState(ConnectionState::Connected) => self.0.connected.store(true, Ordering::Relaxed),
            Event::LocalCandidate { candidate, .. } => self.0.candidates.lock().push(candidate.to_string()),
            _ => {}
        }
    }
}

struct Pair {
    a: Arc<Session>,
    b: Arc<Session>,
    ca: Arc<Counters>,
    cb: Arc<Counters>,
    channel: u32,
}

fn session(c: &Arc<Counters>) -> Arc<Session> {
    let mut cfg = SessionConfig::default();
    cfg.ice.local_addresses = vec!["127.0.0.1".parse().unwrap()];
    let s = Session::new(cfg).unwrap();
    s.set_event_handler(Some(Arc::new(Handler(Arc::clone(c)))));
    s
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A connected data-only pair with one open channel from a to b.
fn pair() -> Pair {
    let (ca, cb) = (Arc::new(Counters::default()), Arc::new(Counters::default()));
    let (a, b) = (session(&ca), session(&cb));
    let channel = a.create_data_channel(ChannelOptions { label: "bench".into(), ordered: true, ..Default::default() }).unwrap();
    let offer = a.create_offer().unwrap();
    b.set_remote_description(SdpType::Offer, &offer).unwrap();
    a.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
    let answer = b.create_answer().unwrap();
    a.set_remote_description(SdpType::Answer, &answer).unwrap();
    b.set_local_description(SdpType::Answer, Some(&answer)).unwrap();
    wait("connected and open", || {
        for c in ca.candidates.lock().drain(..) {
            let _ = b.add_remote_candidate(&c);
        }
        for c in cb.candidates.lock().drain(..) {
            let _ = a.add_remote_candidate(&c);
        }
        ca.opened.load(Ordering::Relaxed) >= 1 && cb.peer_opened.load(Ordering::Relaxed) >= 1
    });
    Pair { a, b, ca, cb, channel }
}

/// Reliable ordered transfer of `total` bytes in `message`-byte messages; bytes per second
/// received, and messages per second.
fn transfer(p: &Pair, total: u64, message: usize) -> (f64, f64) {
    let buf = vec![0x5au8; message];
    let (b0, m0) = (p.cb.bytes.load(Ordering::Relaxed), p.cb.messages.load(Ordering::Relaxed));
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        if p.a.data_channel_buffered_amount(p.channel).unwrap() > 4 << 20 {
            std::thread::sleep(Duration::from_micros(100));
            continue;
        }
        p.a.send_data(p.channel, &buf, false).unwrap();
        sent += message as u64;
    }
    wait("transfer", || p.cb.bytes.load(Ordering::Relaxed) - b0 >= total);
    let s = start.elapsed().as_secs_f64();
    ((p.cb.bytes.load(Ordering::Relaxed) - b0) as f64 / s, (p.cb.messages.load(Ordering::Relaxed) - m0) as f64 / s)
}

/// The limit: DTLS application data records of RECORD bytes between two endpoints over two
/// UDP sockets on 127.0.0.1, as fast as the sender can encrypt and send; bytes per second the
/// receiver decrypted (what the path carries without SCTP).
fn dtls_limit(total: u64) -> f64 {
    let ctx = DtlsContext::shared(&SrtpProfile::DEFAULT_PREFERENCE).unwrap();
    let (ca, cb) = (Certificate::generate().unwrap(), Certificate::generate().unwrap());
    let mut client = DtlsEndpoint::new(&ctx, &ca, DtlsRole::Client, cb.fingerprint().clone()).unwrap();
    let mut server = DtlsEndpoint::new(&ctx, &cb, DtlsRole::Server, ca.fingerprint().clone()).unwrap();
    let (sa, sb) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    sa.connect(sb.local_addr().unwrap()).unwrap();
    sb.connect(sa.local_addr().unwrap()).unwrap();
    // Handshake in memory, then the record flow over the sockets.
    client.start().unwrap();
    for _ in 0..20 {
        let mut to_server = vec![];
        client.drain_outgoing(|d| to_server.push(d.to_vec()));
        for d in to_server {
            let _ = server.handle_datagram(&d);
        }
        let mut to_client = vec![];
        server.drain_outgoing(|d| to_client.push(d.to_vec()));
        for d in to_client {
            let _ = client.handle_datagram(&d);
        }
        if client.is_connected() && server.is_connected() {
            break;
        }
    }
    assert!(client.is_connected() && server.is_connected());
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let rx = {
        let (received, stop) = (Arc::clone(&received), Arc::clone(&stop));
        std::thread::spawn(move || {
            sb.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let mut buf = [0u8; 2048];
            let mut first = None;
            while !stop.load(Ordering::Relaxed) {
                let Ok(n) = sb.recv(&mut buf) else { continue };
                first.get_or_insert_with(Instant::now);
                if let Ok(DtlsEvent::Nothing) = server.handle_datagram(&buf[..n]) {}
                while let Some(r) = server.take_application_data() {
                    received.fetch_add(r.len() as u64, Ordering::Relaxed);
                }
            }
            first
        })
    };
    let record = vec![0x5au8; RECORD];
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        client.send_application_data(&record).unwrap();
        client.drain_outgoing(|d| {
            let _ = sa.send(d);
        });
        sent += RECORD as u64;
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let _ = rx.join();
    received.load(Ordering::Relaxed) as f64 / (start.elapsed().as_secs_f64() - 0.1)
}

fn rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) * 4
}

fn main() {
    let mb: u64 = std::env::var("WRS_BENCH_DATA_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let total = mb << 20;
    let p = pair();
    // Warm-up, then alternate limit and library in seven rounds (this machine's noise moves a
    // single round by up to 2x); the ratio is the median round's.
    let _ = transfer(&p, total / 8, 64 * 1024);
    let mut ratios = vec![];
    let (mut best_lib, mut best_limit) = (0f64, 0f64);
    for _ in 0..7 {
        let limit = dtls_limit(total / 4);
        let (lib, _) = transfer(&p, total / 4, 64 * 1024);
        ratios.push(lib / limit);
        best_lib = best_lib.max(lib);
        best_limit = best_limit.max(limit);
    }
    ratios.sort_by(|x, y| x.partial_cmp(y).unwrap());
    println!("bench data_throughput_64k {:.1} MB/s", best_lib / 1e6);
    println!("bench data_throughput_limit_64k {:.1} MB/s", best_limit / 1e6);
    println!("bench data_throughput_ratio_64k {:.2} x", ratios[ratios.len() / 2]);
    let (_, rate) = transfer(&p, 100 * 200_000, 100);
    println!("bench data_messages_100b {:.0} msgs/s", rate);
    drop(p);

    // Memory: connected data-only sessions (a pair each, one channel open), then channels.
    let n: usize = std::env::args().nth(1).and_then(|v| v.parse().ok()).unwrap_or(50);
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kb();
    let pairs: Vec<Pair> = (0..n).map(|_| pair()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let after = rss_kb();
    println!("bench data_rss_per_connected_session {:.1} KB", (after - before) as f64 / (2 * n) as f64);
    let p = &pairs[0];
    let before = rss_kb();
    let channels = 500;
    for i in 0..channels {
        p.a.create_data_channel(ChannelOptions { label: format!("c{i}"), ordered: true, ..Default::default() }).unwrap();
    }
    wait("500 channels open", || p.cb.peer_opened.load(Ordering::Relaxed) >= 1 + channels as u64);
    std::thread::sleep(Duration::from_millis(200));
    let after = rss_kb();
    // Both ends of each channel are in this process.
    println!("bench data_rss_per_open_channel {:.2} KB", (after - before) as f64 / (2 * channels) as f64);
    for p in &pairs {
        p.a.close();
        p.b.close();
    }
    let _ = &p.ca;
    let _ = &p.b;
}
