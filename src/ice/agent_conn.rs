//! What one session's ICE agent reads and writes through. The agent is given a UDP mux
//! (`AgentMux`) whose only connection (`AgentConn`) receives the STUN that the media receive
//! thread routed to this session and sends on the session's socket. Our own, rather than
//! webrtc-ice's `UDPMuxDefault`: that one runs a reader task per socket with an 8 KB buffer in
//! it and copies every STUN message through a second buffer; here the receive thread already
//! has the datagram in hand and knows whose it is.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use once_cell::sync::OnceCell;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, watch};
use webrtc_ice::udp_mux::UDPMux;
use webrtc_util::Conn;

use super::{stun, Socket, TransportHandler};
use crate::hmac::HmacSha1;

/// STUN datagrams waiting for the agent beyond which more are dropped (a flood must not grow
/// memory; checks and consent need a handful).
const MAX_QUEUED_STUN: usize = 256;

/// Remote addresses remembered as verified per session (a peer has a handful: one per path it
/// checks from). Only an authenticated check adds one, so only the peer itself can push one out.
const MAX_VERIFIED: usize = 16;

/// Connectivity-check pacing (RFC 8445 §14.2): on average one new check every `TA`, at most
/// `CHECK_BURST` at once; a check refused here is not sent (the agent sends it again later).
pub const TA: Duration = Duration::from_millis(10);
pub const CHECK_BURST: u32 = 16;

/// A STUN datagram on its way to the agent. Boxed: the channel allocates its slots in blocks
/// of 32, and a session holds one block.
type StunItem = Box<(Vec<u8>, SocketAddr)>;

/// What a session's part of the transport counted.
#[derive(Default)]
pub struct IceCounters {
    /// Non-STUN datagrams (DTLS, SRTP) from an address that has not passed an authenticated
    /// check of this session: dropped before they reach DTLS or SRTP.
    pub unverified_dropped: AtomicU64,
    /// STUN that failed authentication or answered nothing we sent: dropped before the agent.
    pub stun_rejected: AtomicU64,
    /// Connectivity checks (Binding requests) sent, and those the pacer held back.
    pub checks_sent: AtomicU64,
    pub checks_paced: AtomicU64,
    /// Responses to our checks that authenticated.
    pub responses_received: AtomicU64,
}

/// The check pacer: a token bucket of `CHECK_BURST` refilled at one token per `TA`. While the
/// bucket is more than half full every check goes; below that a destination waits
/// `TA` × (destinations) since its last check, so that every pair gets its turn in rotation
/// instead of the first ones in the agent's list taking every token.
struct Pacer {
    tokens: f64,
    refilled: Instant,
    last_check: HashMap<SocketAddr, Instant>,
}

impl Pacer {
    fn new() -> Self {
        Pacer { tokens: CHECK_BURST as f64, refilled: Instant::now(), last_check: HashMap::new() }
    }

    fn allow(&mut self, to: SocketAddr, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed / TA.as_secs_f64()).min(CHECK_BURST as f64);
        self.refilled = now;
        if self.tokens < 1.0 {
            return false;
        }
        if self.tokens < (CHECK_BURST / 2) as f64 {
            let spacing = TA * self.last_check.len().max(1) as u32;
            if self.last_check.get(&to).is_some_and(|t| now.saturating_duration_since(*t) < spacing) {
                return false;
            }
        }
        self.tokens -= 1.0;
        self.last_check.insert(to, now);
        if self.last_check.len() > 4 * super::DEFAULT_MAX_REMOTE_CANDIDATES {
            self.last_check.retain(|_, t| now.saturating_duration_since(*t) < Duration::from_secs(10));
        }
        true
    }
}

/// One session as the receive thread sees it: its credentials, the remote addresses that
/// proved them, and where its STUN and its media go.
pub(super) struct Member {
    pub(super) ufrag: String,
    /// HMAC key of our password: what the peer's checks must carry.
    pub(super) local_key: HmacSha1,
    /// HMAC key of the peer's password: what answers to our checks must carry (set when the
    /// checks start).
    pub(super) remote_key: RwLock<Option<HmacSha1>>,
    verified: RwLock<Vec<SocketAddr>>,
    pub(super) handler: OnceCell<Weak<dyn TransportHandler>>,
    pub(super) counters: IceCounters,
    pacer: Mutex<Pacer>,
    stun_tx: mpsc::UnboundedSender<StunItem>,
    /// Queued and not yet taken by the agent (bounded by `MAX_QUEUED_STUN`).
    stun_queued: AtomicUsize,
}

impl Member {
    /// Queues a STUN datagram for the agent; false if it was dropped (queue full or closed).
    pub(super) fn push_stun(&self, datagram: &[u8], from: SocketAddr) -> bool {
        if self.stun_queued.fetch_add(1, Ordering::AcqRel) < MAX_QUEUED_STUN
            && self.stun_tx.send(Box::new((datagram.to_vec(), from))).is_ok()
        {
            return true;
        }
        self.stun_queued.fetch_sub(1, Ordering::AcqRel);
        false
    }

    pub(super) fn handler(&self) -> Option<Arc<dyn TransportHandler>> {
        self.handler.get().and_then(Weak::upgrade)
    }

    /// Whether `addr` passed an authenticated check of this session.
    pub(super) fn is_verified(&self, addr: SocketAddr) -> bool {
        self.verified.read().contains(&addr)
    }

    /// Remembers `addr` as verified (most recent last; the oldest goes when the list is full).
    pub(super) fn mark_verified(&self, addr: SocketAddr) {
        if self.verified.read().last() == Some(&addr) {
            return;
        }
        let mut v = self.verified.write();
        v.retain(|a| *a != addr);
        if v.len() >= MAX_VERIFIED {
            v.remove(0);
        }
        v.push(addr);
    }

    pub(super) fn set_remote_password(&self, pwd: &str) {
        *self.remote_key.write() = Some(HmacSha1::new(pwd.as_bytes()));
    }
}

/// The agent's connection: receives what was queued for it, sends on the socket.
pub(super) struct AgentConn {
    socket: Weak<Socket>,
    member: Arc<Member>,
    stun_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<StunItem>>,
    local: SocketAddr,
    closed: watch::Sender<bool>,
}

/// A session's routing entry and its agent's connection.
pub(super) fn new(socket: &Arc<Socket>, ufrag: String, pwd: &str) -> (Arc<Member>, Arc<AgentConn>) {
    let (stun_tx, stun_rx) = mpsc::unbounded_channel();
    let member = Arc::new(Member {
        ufrag,
        local_key: HmacSha1::new(pwd.as_bytes()),
        remote_key: RwLock::new(None),
        verified: RwLock::new(Vec::new()),
        handler: OnceCell::new(),
        counters: IceCounters::default(),
        pacer: Mutex::new(Pacer::new()),
        stun_tx,
        stun_queued: AtomicUsize::new(0),
    });
    let conn = Arc::new(AgentConn {
        socket: Arc::downgrade(socket),
        member: Arc::clone(&member),
        stun_rx: tokio::sync::Mutex::new(stun_rx),
        local: socket.local,
        closed: watch::channel(false).0,
    });
    (member, conn)
}

impl AgentConn {
    /// Ends every pending and later `recv_from` (the agent's read loops then stop).
    pub(super) fn shut(&self) {
        self.closed.send_replace(true);
    }
}

fn not_connected() -> webrtc_util::Error {
    io::Error::from(io::ErrorKind::NotConnected).into()
}

#[async_trait]
impl Conn for AgentConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported).into())
    }
    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }
    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let mut closed = self.closed.subscribe();
        let next = tokio::select! {
            item = async { self.stun_rx.lock().await.recv().await } => item,
            _ = closed.wait_for(|c| *c) => None,
        };
        let item = next.ok_or_else(not_connected)?;
        self.member.stun_queued.fetch_sub(1, Ordering::AcqRel);
        let (d, from) = &*item;
        let n = d.len().min(buf.len());
        buf[..n].copy_from_slice(&d[..n]);
        Ok((n, *from))
    }
    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(not_connected())
    }
    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if *self.closed.borrow() {
            return Err(not_connected());
        }
        let socket = self.socket.upgrade().ok_or_else(not_connected)?;
        // A check is paced, and its transaction remembered: only an authenticated answer to it,
        // from where it went, verifies that address (sending to an address proves nothing).
        if stun::binding_class(buf) == Some(stun::Class::Request) {
            if !self.member.pacer.lock().allow(target, Instant::now()) {
                self.member.counters.checks_paced.fetch_add(1, Ordering::Relaxed);
                return Ok(buf.len());
            }
            if let Some(id) = stun::transaction_id(buf) {
                socket.expect_response(id, &self.member, target);
            }
            self.member.counters.checks_sent.fetch_add(1, Ordering::Relaxed);
        }
        Ok(socket.send_to(buf, target)?)
    }
    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }
    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }
    async fn close(&self) -> webrtc_util::Result<()> {
        self.shut();
        Ok(())
    }
    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// The UDP mux handed to the agent: one connection, this session's.
pub(super) struct AgentMux(pub(super) Arc<AgentConn>);

#[async_trait]
impl UDPMux for AgentMux {
    async fn close(&self) -> Result<(), webrtc_util::Error> {
        self.0.shut();
        Ok(())
    }
    async fn get_conn(self: Arc<Self>, _ufrag: &str) -> Result<Arc<dyn Conn + Send + Sync>, webrtc_util::Error> {
        Ok(Arc::clone(&self.0) as Arc<dyn Conn + Send + Sync>)
    }
    async fn remove_conn_by_ufrag(&self, _ufrag: &str) {
        self.0.shut();
    }
}
