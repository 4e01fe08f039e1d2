//! What one session's ICE agent reads and writes through. The agent is given a UDP mux
//! (`AgentMux`) whose only connection (`AgentConn`) receives the STUN that the media receive
//! thread routed to this session and sends on the session's socket. Our own, rather than
//! webrtc-ice's `UDPMuxDefault`: that one runs a reader task per socket with an 8 KB buffer in
//! it and copies every STUN message through a second buffer; here the receive thread already
//! has the datagram in hand and knows whose it is.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use once_cell::sync::OnceCell;
use tokio::sync::{mpsc, watch};
use webrtc_ice::udp_mux::UDPMux;
use webrtc_util::Conn;

use super::{Route, Socket, TransportHandler};

/// STUN datagrams waiting for the agent beyond which more are dropped (a flood must not grow
/// memory; checks and consent need a handful).
const MAX_QUEUED_STUN: usize = 256;

/// A STUN datagram on its way to the agent. Boxed: the channel allocates its slots in blocks
/// of 32, and a session holds one block.
type StunItem = Box<(Vec<u8>, SocketAddr)>;

/// One session as the receive thread sees it: where its STUN and its media go.
pub(super) struct Member {
    pub(super) ufrag: String,
    pub(super) pwd: String,
    pub(super) handler: OnceCell<Weak<dyn TransportHandler>>,
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
pub(super) fn new(socket: &Arc<Socket>, ufrag: String, pwd: String) -> (Arc<Member>, Arc<AgentConn>) {
    let (stun_tx, stun_rx) = mpsc::unbounded_channel();
    let member = Arc::new(Member { ufrag, pwd, handler: OnceCell::new(), stun_tx, stun_queued: AtomicUsize::new(0) });
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
        // On a shared port, answers from where this agent sends its checks are its own.
        if let Route::Shared(routes) = &socket.route {
            routes.add_address(target, &self.member);
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
