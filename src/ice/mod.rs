//! The ICE transport: one UDP socket per session, shared by every bundled m-section, or one
//! socket shared by many sessions (`shared.rs`). webrtc-ice runs gathering, connectivity
//! checks and consent over it through a UDP mux of ours (`agent_conn.rs`). The media receive
//! thread (`poller.rs`) reads every socket, queues STUN for the session's agent, and passes
//! DTLS and SRTP datagrams straight to the session (RFC 7983 demultiplexing) without a hop
//! through the agent's buffers. Sending is a direct `sendto` on the caller's thread to the selected
//! pair's remote address.

mod agent_conn;
mod poller;
mod shared;
pub mod stun;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use once_cell::sync::OnceCell;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use webrtc_ice::agent::agent_config::AgentConfig;
use webrtc_ice::agent::Agent;
use webrtc_ice::candidate::candidate_base::unmarshal_candidate;
use webrtc_ice::candidate::{Candidate, CandidateType};
use webrtc_ice::mdns::MulticastDnsMode;
use webrtc_ice::network_type::NetworkType;
use webrtc_ice::state::ConnectionState;
use webrtc_ice::udp_mux::UDPMux;
use webrtc_ice::udp_network::UDPNetwork;

use crate::error::{self, Result};
use crate::fasthash::FastMap;
use crate::rtp::{classify, DatagramKind};
use crate::runtime;

/// Largest datagram accepted from the network.
pub const RECEIVE_MTU: usize = 1500;

/// Remote candidates a session accepts by default (RFC 8445 §6.1.2.5 suggests limiting the
/// checklist to about 100 pairs; a session has one local candidate per family).
pub const DEFAULT_MAX_REMOTE_CANDIDATES: usize = 100;

pub use agent_conn::{IceCounters, CHECK_BURST, TA};

#[derive(Debug, Clone)]
pub struct IceConfig {
    /// Addresses to gather host candidates on; empty means every non-loopback IPv4 address.
    pub local_addresses: Vec<IpAddr>,
    pub port_min: u16,
    pub port_max: u16,
    /// `stun:host[:port]` URLs used to learn server-reflexive candidates.
    pub stun_servers: Vec<String>,
    pub disconnected_timeout: Duration,
    pub failed_timeout: Duration,
    pub keepalive_interval: Duration,
    /// Non-zero: share this UDP port with every other session that asks for it (one socket;
    /// see `shared.rs`). `port_min`/`port_max` are then ignored.
    pub shared_port: u16,
    /// Remote candidates accepted at most; more are refused (`LimitReached`).
    pub max_remote_candidates: usize,
}

impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            local_addresses: vec![],
            port_min: 0,
            port_max: 0,
            stun_servers: vec![],
            disconnected_timeout: Duration::from_secs(5),
            failed_timeout: Duration::from_secs(25),
            keepalive_interval: Duration::from_secs(2),
            shared_port: 0,
            max_remote_candidates: DEFAULT_MAX_REMOTE_CANDIDATES,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    New,
    Checking,
    Connected,
    Disconnected,
    Failed,
    Closed,
}

/// What the transport reports to its owner: datagrams on the media receive thread, ICE events
/// on runtime threads.
pub trait TransportHandler: Send + Sync {
    /// A DTLS, RTP or RTCP datagram arrived.
    fn on_datagram(&self, datagram: &mut [u8], from: SocketAddr);
    /// A local candidate, as a `candidate:` line.
    fn on_local_candidate(&self, candidate: String);
    fn on_gathering_complete(&self);
    fn on_ice_state(&self, state: IceState);
    /// The remote address media now goes to.
    fn on_selected_pair(&self, local: String, remote: String);
    /// The receive thread finished a batch of datagrams of this session's own socket (not
    /// called for a shared port): work deferred per datagram can run now.
    fn on_batch_end(&self) {}
}

/// A check awaiting its answer.
struct PendingCheck {
    member: Weak<agent_conn::Member>,
    to: SocketAddr,
    sent: std::time::Instant,
}

/// How long an unanswered check is remembered (webrtc-ice gives up on one after 4 s).
const PENDING_CHECK_LIFETIME: Duration = Duration::from_secs(5);
/// Checks remembered per socket at most: paced at one per `agent_conn::TA` per session, 5 s of
/// checks of 32 sessions at full rate, or of 5,000 connected sessions' consent checks.
const MAX_PENDING_CHECKS: usize = 16_384;

/// Whose a socket's datagrams are.
enum Route {
    /// The socket is one session's (set right after the socket is made).
    Own(OnceCell<Arc<agent_conn::Member>>),
    /// The socket is shared: by ICE ufrag and by the sender's address.
    Shared(shared::Routes),
}

/// A transport socket: read by the media receive thread, which routes what arrives (`Route`);
/// written synchronously by any thread.
struct Socket {
    /// Non-blocking; read by the media receive thread (`poller.rs`), written by any thread.
    udp: UdpSocket,
    local: SocketAddr,
    route: Route,
    /// Binding requests sent to STUN servers, answered here rather than by the agent.
    stun_queries: Mutex<HashMap<stun::TransactionId, mpsc::UnboundedSender<SocketAddr>>>,
    /// Connectivity checks the agents on this socket sent and await an answer to.
    pending: Mutex<FastMap<stun::TransactionId, PendingCheck>>,
    closed: AtomicBool,
    pub datagrams_dropped: AtomicUsize,
    /// Cleared when the kernel refuses UDP_SEGMENT; sends then go one by one.
    gso: AtomicBool,
    /// The receive thread's registration, undone on close.
    poll_token: AtomicU64,
}

impl Drop for Socket {
    fn drop(&mut self) {
        poller::unregister(self.udp.as_raw_fd(), self.poll_token.load(Ordering::Acquire));
    }
}

/// Stops the media receive thread (see `poller.rs`); part of `wrs_shutdown`.
pub fn shutdown_receive_thread() {
    poller::shutdown();
}

/// Datagrams read per `recvmmsg`.
const RECV_BATCH: usize = 32;

/// The receive thread's buffers, shared by every socket (memory does not grow with sessions),
/// with the `recvmmsg` headers pointing into them set up once. Every part is boxed, so the
/// pointers stay valid when the struct moves.
pub(crate) struct RecvBuffers {
    /// Owned here, used only through the headers' pointers.
    _data: Box<[[u8; RECEIVE_MTU]; RECV_BATCH]>,
    _addrs: Box<[libc::sockaddr_storage; RECV_BATCH]>,
    _iovs: Box<[libc::iovec; RECV_BATCH]>,
    msgs: Box<[libc::mmsghdr; RECV_BATCH]>,
}

/// A boxed array of plain data, all zero.
fn zeroed_box<T>() -> Box<T> {
    // SAFETY: only used for arrays of C structs (sockaddr_storage, iovec, mmsghdr) for which
    // all-zero is a valid value.
    unsafe { Box::new_zeroed().assume_init() }
}

// SAFETY: the raw pointers in the headers point only into this value's own boxed buffers,
// which do not move with it; they are used only through `&mut self`, so one thread at a time.
unsafe impl Send for RecvBuffers {}

impl RecvBuffers {
    pub(crate) fn new() -> Self {
        let mut data: Box<[[u8; RECEIVE_MTU]; RECV_BATCH]> = zeroed_box();
        let mut addrs: Box<[libc::sockaddr_storage; RECV_BATCH]> = zeroed_box();
        let mut iovs: Box<[libc::iovec; RECV_BATCH]> = zeroed_box();
        let mut msgs: Box<[libc::mmsghdr; RECV_BATCH]> = zeroed_box();
        for i in 0..RECV_BATCH {
            iovs[i] = libc::iovec { iov_base: data[i].as_mut_ptr() as *mut libc::c_void, iov_len: RECEIVE_MTU };
            msgs[i].msg_hdr.msg_name = &mut addrs[i] as *mut _ as *mut libc::c_void;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        RecvBuffers { _data: data, _addrs: addrs, _iovs: iovs, msgs }
    }
}

fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in for this family.
            let a = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(a.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(ip, u16::from_be(a.sin6_port), a.sin6_flowinfo, a.sin6_scope_id)))
        }
        _ => None,
    }
}

impl Socket {
    /// Reads what is queued, up to `RECV_BATCH` datagrams with one `recvmmsg`, and dispatches
    /// it. The socket is watched level-triggered: what remains is reported again.
    pub(crate) fn receive_batch(&self, bufs: &mut RecvBuffers) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        // The kernel overwrote the address lengths of the slots the last call filled.
        for m in bufs.msgs.iter_mut() {
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        }
        // SAFETY: a valid socket and RECV_BATCH headers pointing into `bufs` (see `new`).
        let n = unsafe {
            libc::recvmmsg(self.udp.as_raw_fd(), bufs.msgs.as_mut_ptr(), RECV_BATCH as libc::c_uint, libc::MSG_DONTWAIT, std::ptr::null_mut())
        };
        for i in 0..n.max(0) as usize {
            let len = bufs.msgs[i].msg_len as usize;
            let truncated = bufs.msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            let hdr = &bufs.msgs[i].msg_hdr;
            // SAFETY: the kernel filled this slot's address and `len` bytes of its buffer; both
            // are read through the pointers it wrote through, nothing else refers to them.
            let (addr, data) = unsafe {
                let data = (*hdr.msg_iov).iov_base as *mut u8;
                (&*(hdr.msg_name as *const libc::sockaddr_storage), std::slice::from_raw_parts_mut(data, len.min(RECEIVE_MTU)))
            };
            match socket_addr(addr) {
                Some(from) if !truncated => self.dispatch(data, from),
                _ => {
                    self.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if n > 0 {
            if let Route::Own(m) = &self.route {
                if let Some(h) = m.get().and_then(|m| m.handler()) {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.on_batch_end()));
                }
            }
        }
    }

    /// Whether this socket's session hears `on_batch_end` (its own socket, not a shared one).
    pub(crate) fn signals_batch_end(&self) -> bool {
        matches!(self.route, Route::Own(_))
    }

    /// RFC 7983: STUN to the agent (or to a pending server-reflexive query), DTLS and SRTP to
    /// the session, anything else dropped. Nothing reaches DTLS or SRTP from an address that
    /// has not passed an authenticated check of the session (`verify_stun`).
    fn dispatch(&self, datagram: &mut [u8], from: SocketAddr) {
        let delivered = match classify(datagram) {
            DatagramKind::Unknown => false,
            DatagramKind::Stun => self.answer_stun_query(datagram) || self.dispatch_stun(datagram, from),
            _ => match &self.route {
                Route::Own(m) => m.get().is_some_and(|m| deliver_media(m, datagram, from)),
                Route::Shared(routes) => routes.by_address(from).is_some_and(|m| deliver_media(&m, datagram, from)),
            },
        };
        if !delivered {
            self.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Connectivity checks and their answers, authenticated here before the agent sees them:
    /// a request must name a session's ufrag and carry MESSAGE-INTEGRITY under its password;
    /// a response must answer a check this socket sent (by transaction id), come from where
    /// the check went, and carry MESSAGE-INTEGRITY under the peer's password. Either verifies
    /// the sender's address for that session. Anything else is dropped and counted; a flood of
    /// forged checks therefore costs one HMAC each and never fills the agent's queue.
    fn dispatch_stun(&self, datagram: &[u8], from: SocketAddr) -> bool {
        let Some(class) = stun::binding_class(datagram) else { return false };
        let member = match class {
            stun::Class::Request => {
                let Some(ufrag) = stun::request_local_ufrag(datagram) else { return false };
                let Some(m) = (match &self.route {
                    Route::Own(m) => m.get().filter(|m| m.ufrag == ufrag).cloned(),
                    Route::Shared(routes) => routes.by_ufrag(ufrag),
                }) else {
                    return false;
                };
                if !stun::verify_integrity(datagram, &m.local_key) {
                    m.counters.stun_rejected.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                self.verified(&m, from);
                m
            }
            stun::Class::Success | stun::Class::Error => {
                let Some(id) = stun::transaction_id(datagram) else { return false };
                let Some((m, to)) = self.pending.lock().remove(&id).and_then(|p| Some((p.member.upgrade()?, p.to))) else {
                    return false;
                };
                let authentic = to == from && m.remote_key.read().as_ref().is_some_and(|k| stun::verify_integrity(datagram, k));
                if !authentic {
                    m.counters.stun_rejected.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                m.counters.responses_received.fetch_add(1, Ordering::Relaxed);
                if class == stun::Class::Success {
                    self.verified(&m, from);
                }
                m
            }
            stun::Class::Indication => {
                let m = match &self.route {
                    Route::Own(m) => m.get().cloned(),
                    Route::Shared(routes) => routes.by_address(from),
                };
                match m {
                    Some(m) if m.is_verified(from) => m,
                    _ => return false,
                }
            }
        };
        member.push_stun(datagram, from)
    }

    /// `from` proved it speaks for `member`'s peer: accept its traffic, and on a shared port
    /// route it there.
    fn verified(&self, member: &Arc<agent_conn::Member>, from: SocketAddr) {
        member.mark_verified(from);
        if let Route::Shared(routes) = &self.route {
            routes.add_address(from, member);
        }
    }

    /// Remembers a check `member`'s agent sends to `to`, so that its answer is recognised.
    /// Bounded: unanswered checks are forgotten after `PENDING_CHECK_LIFETIME`, and past
    /// `MAX_PENDING_CHECKS` a check goes unrecorded (its answer is then dropped).
    fn expect_response(&self, id: stun::TransactionId, member: &Arc<agent_conn::Member>, to: SocketAddr) {
        let now = std::time::Instant::now();
        let mut pending = self.pending.lock();
        if pending.len() >= MAX_PENDING_CHECKS / 2 {
            pending.retain(|_, p| now.saturating_duration_since(p.sent) < PENDING_CHECK_LIFETIME);
        }
        if pending.len() < MAX_PENDING_CHECKS {
            pending.insert(id, PendingCheck { member: Arc::downgrade(member), to, sent: now });
        }
    }

    /// A STUN server's answer to one of our server-reflexive queries.
    fn answer_stun_query(&self, datagram: &[u8]) -> bool {
        let Some(id) = stun::transaction_id(datagram) else { return false };
        let Some(tx) = self.stun_queries.lock().remove(&id) else { return false };
        if let Some(mapped) = stun::parse_binding_success(datagram) {
            let _ = tx.send(mapped);
        }
        true
    }
}

/// Hands a DTLS or SRTP datagram to its session if `from` is verified for it (else counts it).
fn deliver_media(member: &agent_conn::Member, datagram: &mut [u8], from: SocketAddr) -> bool {
    if !member.is_verified(from) {
        member.counters.unverified_dropped.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    let Some(h) = member.handler() else { return false };
    // A panic in packet processing must not end the receive loop (the session would go
    // deaf): the datagram is dropped instead.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.on_datagram(datagram, from))).is_ok()
}

impl Socket {
    fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        loop {
            match self.udp.send_to(data, to) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The send buffer is full: wait (briefly) until the kernel drains it.
                    let mut pfd = libc::pollfd { fd: self.udp.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
                    // SAFETY: one valid pollfd for the duration of the call.
                    let n = unsafe { libc::poll(&mut pfd, 1, 100) };
                    if n <= 0 {
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

/// `UDP_SEGMENT` (linux/udp.h): the segment size of a GSO send. Not in the libc crate.
const UDP_SEGMENT: libc::c_int = 103;
/// The kernel's limit on segments in one GSO send.
const GSO_MAX_SEGMENTS: usize = 64;

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr = libc::in6_addr { s6_addr: a.ip().octets() };
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

impl Socket {
    /// One `sendmsg` of `data` cut by the kernel into `segment`-byte datagrams (UDP GSO).
    fn send_gso(&self, data: &[u8], segment: usize, to: SocketAddr) -> io::Result<()> {
        let (addr, addr_len) = sockaddr(to);
        let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
        // u64-aligned room for one cmsg carrying a u16.
        let mut control = [0u64; 4];
        // SAFETY: msghdr is plain data; every pointer set below outlives the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = &addr as *const _ as *mut libc::c_void;
        msg.msg_namelen = addr_len;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        // SAFETY: CMSG_* compute sizes and walk the control buffer set above.
        unsafe {
            msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) as _;
            let cm = libc::CMSG_FIRSTHDR(&msg);
            (*cm).cmsg_level = libc::SOL_UDP;
            (*cm).cmsg_type = UDP_SEGMENT;
            (*cm).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cm) as *mut u16, segment as u16);
        }
        loop {
            // SAFETY: a valid socket and a fully initialised msghdr.
            let n = unsafe { libc::sendmsg(self.udp.as_raw_fd(), &msg, 0) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    let mut pfd = libc::pollfd { fd: self.udp.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
                    // SAFETY: one valid pollfd for the duration of the call.
                    if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
                        return Err(e);
                    }
                }
                _ => return Err(e),
            }
        }
    }
}

pub struct IceTransport {
    socket: Arc<Socket>,
    /// Keeps the shared socket this transport uses open (`IceConfig::shared_port`).
    _shared: Option<Arc<shared::SharedSocket>>,
    /// This session's routing entry: its handler and its agent's STUN queue.
    member: Arc<agent_conn::Member>,
    conn: Arc<agent_conn::AgentConn>,
    /// This transport is closed (its socket may live on for other sessions).
    closed: AtomicBool,
    agent: Arc<Agent>,
    config: IceConfig,
    pub local_ufrag: String,
    pub local_pwd: String,
    remote: RwLock<Option<SocketAddr>>,
    /// Where to send until ICE reports its selected pair: the source of the peer's DTLS.
    fallback_remote: RwLock<Option<SocketAddr>>,
    selected: Mutex<Option<(String, String)>>,
    /// Addresses of our host candidates (a remote candidate naming one is refused).
    host_addresses: RwLock<Vec<SocketAddr>>,
    /// Remote candidates given to the agent, and those refused (invalid address or over the
    /// cap).
    remote_candidates: Mutex<Vec<SocketAddr>>,
    pub remote_candidates_refused: AtomicU64,
    started: AtomicBool,
    gathering: AtomicBool,
    cancel: Mutex<Option<mpsc::Sender<()>>>,
}

fn random_ice_string(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = vec![0u8; len];
    let _ = openssl::rand::rand_bytes(&mut bytes);
    bytes.iter().map(|b| ALPHABET[(*b & 63) as usize] as char).collect()
}

/// The address to bind: the one local address asked for, else the wildcard of its family.
fn bind_ip(config: &IceConfig) -> IpAddr {
    match config.local_addresses.as_slice() {
        [one] => *one,
        list if list.iter().any(IpAddr::is_ipv6) && !list.iter().any(IpAddr::is_ipv4) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

fn bind(config: &IceConfig) -> Result<UdpSocket> {
    let ip = bind_ip(config);
    if config.port_min == 0 && config.port_max == 0 {
        return Ok(UdpSocket::bind(SocketAddr::new(ip, 0))?);
    }
    let (lo, hi) = (config.port_min.max(1), if config.port_max == 0 { u16::MAX } else { config.port_max });
    let span = (hi - lo) as u32 + 1;
    let mut r = [0u8; 4];
    let _ = openssl::rand::rand_bytes(&mut r);
    let start = u32::from_be_bytes(r) % span;
    let mut last = None;
    for i in 0..span {
        let port = lo + ((start + i) % span) as u16;
        match UdpSocket::bind(SocketAddr::new(ip, port)) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(error::io(format!(
        "no free UDP port on {ip} in {lo}..={hi}: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

/// Bytes of kernel receive buffer asked for: a video key frame burst (hundreds of packets)
/// must not overflow the default ~200 KB while the receive task is busy.
const RECEIVE_BUFFER: libc::c_int = 4 * 1024 * 1024;

fn grow_receive_buffer(socket: &UdpSocket) {
    let fd = socket.as_raw_fd();
    let size = RECEIVE_BUFFER;
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let ptr = &size as *const libc::c_int as *const libc::c_void;
    // SAFETY: fd is a live socket; option value is one c_int. SO_RCVBUFFORCE needs
    // CAP_NET_ADMIN and exceeds net.core.rmem_max; without it SO_RCVBUF is capped there.
    unsafe {
        if libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, ptr, len) != 0 {
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, ptr, len);
        }
    }
}

/// Makes `udp` a transport socket: non-blocking, a large receive buffer, watched by the media
/// receive thread.
fn open_socket(udp: UdpSocket, route: Route) -> Result<Arc<Socket>> {
    udp.set_nonblocking(true)?;
    grow_receive_buffer(&udp);
    let local = udp.local_addr()?;
    let socket = Arc::new(Socket {
        udp,
        local,
        route,
        stun_queries: Mutex::new(HashMap::new()),
        pending: Mutex::new(FastMap::default()),
        closed: AtomicBool::new(false),
        datagrams_dropped: AtomicUsize::new(0),
        gso: AtomicBool::new(true),
        poll_token: AtomicU64::new(0),
    });
    let token = poller::register(socket.udp.as_raw_fd(), Arc::downgrade(&socket))?;
    socket.poll_token.store(token, Ordering::Release);
    Ok(socket)
}

fn map_state(s: ConnectionState) -> IceState {
    match s {
        ConnectionState::Unspecified | ConnectionState::New => IceState::New,
        ConnectionState::Checking => IceState::Checking,
        ConnectionState::Connected | ConnectionState::Completed => IceState::Connected,
        ConnectionState::Disconnected => IceState::Disconnected,
        ConnectionState::Failed => IceState::Failed,
        ConnectionState::Closed => IceState::Closed,
    }
}

impl IceTransport {
    /// Binds the socket and creates the agent. Must run on the library runtime.
    pub async fn new(config: IceConfig) -> Result<Self> {
        let (socket, shared) = if config.shared_port != 0 {
            let key = SocketAddr::new(bind_ip(&config), config.shared_port);
            let shared = shared::get_or_create(key, || {
                let udp = UdpSocket::bind(key).map_err(|e| error::io(format!("shared port {key}: {e}")))?;
                open_socket(udp, Route::Shared(shared::Routes::default()))
            })?;
            (Arc::clone(&shared.socket), Some(shared))
        } else {
            (open_socket(bind(&config)?, Route::Own(OnceCell::new()))?, None)
        };
        let local = socket.local;
        let local_ufrag = random_ice_string(8);
        let local_pwd = random_ice_string(24);
        let (member, conn) = agent_conn::new(&socket, local_ufrag.clone(), &local_pwd);
        match &socket.route {
            Route::Own(m) => {
                let _ = m.set(Arc::clone(&member));
            }
            Route::Shared(routes) => routes.add_session(&member),
        }
        let mux: Arc<dyn UDPMux + Send + Sync> = Arc::new(agent_conn::AgentMux(Arc::clone(&conn)));

        let wanted = config.local_addresses.clone();
        let include_loopback = wanted.iter().any(IpAddr::is_loopback);
        let network_types = if local.is_ipv6() { vec![NetworkType::Udp6] } else { vec![NetworkType::Udp4] };
        let agent = Agent::new(AgentConfig {
            udp_network: UDPNetwork::Muxed(mux),
            local_ufrag: local_ufrag.clone(),
            local_pwd: local_pwd.clone(),
            multicast_dns_mode: MulticastDnsMode::Disabled,
            network_types,
            candidate_types: vec![CandidateType::Host],
            include_loopback,
            ip_filter: Arc::new(if wanted.is_empty() {
                None
            } else {
                Some(Box::new(move |ip: IpAddr| wanted.contains(&ip)))
            }),
            disconnected_timeout: Some(config.disconnected_timeout),
            failed_timeout: Some(config.failed_timeout),
            keepalive_interval: Some(config.keepalive_interval),
            check_interval: Duration::from_millis(50),
            // Keep checking a pair until the failed timeout (the agent's default gives up on a
            // pair after 8 checks, about 0.4 s, and then waits silently for the timeout); the
            // rate is bounded by our pacer (`agent_conn::Pacer`).
            max_binding_requests: Some(u16::MAX),
            // The agent's defaults hold back nomination of a pair whose remote side was learned
            // from an incoming check (1 s) or a STUN server (0.5 s); with trickle ICE that is
            // the common case, and the wait only delays media.
            prflx_acceptance_min_wait: Some(Duration::ZERO),
            srflx_acceptance_min_wait: Some(Duration::ZERO),
            ..Default::default()
        })
        .await
        .map_err(|e| error::ice(format!("ICE agent: {e}")))?;
        let agent = Arc::new(agent);
        Ok(IceTransport {
            socket,
            _shared: shared,
            member,
            conn,
            closed: AtomicBool::new(false),
            agent,
            config,
            local_ufrag,
            local_pwd,
            remote: RwLock::new(None),
            fallback_remote: RwLock::new(None),
            selected: Mutex::new(None),
            host_addresses: RwLock::new(Vec::new()),
            remote_candidates: Mutex::new(Vec::new()),
            remote_candidates_refused: AtomicU64::new(0),
            started: AtomicBool::new(false),
            gathering: AtomicBool::new(false),
            cancel: Mutex::new(None),
        })
    }

    /// Connects the transport to its owner; done once, right after `new`.
    pub fn attach(&self, handler: Weak<dyn TransportHandler>) {
        let h = handler.clone();
        self.agent.on_connection_state_change(Box::new(move |s| {
            if let Some(h) = h.upgrade() {
                h.on_ice_state(map_state(s));
            }
            Box::pin(async {})
        }));
        let _ = self.member.handler.set(handler);
    }

    /// Whether the session hears `TransportHandler::on_batch_end` (its own socket).
    pub fn signals_batch_end(&self) -> bool {
        self.socket.signals_batch_end()
    }

    /// Takes this transport's own socket off the media receive thread, for a host that reads
    /// it from its own thread (`receive_now`; polling mode). Returns the socket's descriptor
    /// to watch, or None for a shared socket (which stays with the receive thread).
    pub(crate) fn take_over_receive(&self) -> Option<std::os::fd::RawFd> {
        if !matches!(self.socket.route, Route::Own(_)) {
            return None;
        }
        let token = self.socket.poll_token.swap(0, Ordering::AcqRel);
        if token != 0 {
            poller::unregister(self.socket.udp.as_raw_fd(), token);
        }
        Some(self.socket.udp.as_raw_fd())
    }

    /// Reads and handles one batch of what waits on the socket, on the calling thread (after
    /// `take_over_receive`); returns at once when nothing waits.
    pub(crate) fn receive_now(&self, bufs: &mut RecvBuffers) {
        self.socket.receive_batch(bufs);
    }

    pub fn local_address(&self) -> SocketAddr {
        self.socket.local
    }

    /// Starts gathering host candidates (the agent) and server-reflexive ones (our STUN
    /// queries); `on_gathering_complete` follows once both are done. Runs once.
    pub fn gather(self: &Arc<Self>) -> Result<()> {
        if self.gathering.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let handler = self.member.handler.get().cloned().ok_or_else(|| error::ice("no handler"))?;
        // One for the agent's host gathering, one per STUN server.
        let pending = Arc::new(AtomicUsize::new(1 + self.config.stun_servers.len()));
        let finish = {
            let pending = Arc::clone(&pending);
            let handler = handler.clone();
            move || {
                if pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some(h) = handler.upgrade() {
                        h.on_gathering_complete();
                    }
                }
            }
        };
        let h = handler.clone();
        let host_done = finish.clone();
        let this = Arc::downgrade(self);
        self.agent.on_candidate(Box::new(move |c: Option<Arc<dyn Candidate + Send + Sync>>| {
            match c {
                Some(c) => {
                    if let Some(this) = this.upgrade() {
                        this.host_addresses.write().push(c.addr());
                    }
                    if let Some(h) = h.upgrade() {
                        h.on_local_candidate(candidate_line(&*c));
                    }
                }
                None => host_done(),
            }
            Box::pin(async {})
        }));
        // Weak: the agent keeps its handlers for its whole life, and it is ours.
        let this = Arc::downgrade(self);
        self.agent.on_selected_candidate_pair_change(Box::new(move |local, remote| {
            if let Some(this) = this.upgrade() {
                *this.remote.write() = Some(remote.addr());
                let pair = (candidate_line(&**local), candidate_line(&**remote));
                *this.selected.lock() = Some(pair.clone());
                // The agent selects only pairs whose checks were answered (authenticated above).
                this.socket.verified(&this.member, remote.addr());
                if let Some(h) = this.member.handler() {
                    h.on_selected_pair(pair.0, pair.1);
                }
            }
            Box::pin(async {})
        }));
        let _guard = runtime::handle().enter();
        self.agent.gather_candidates().map_err(|e| error::ice(format!("ICE gathering: {e}")))?;
        for url in self.config.stun_servers.clone() {
            let this = Arc::clone(self);
            let done = finish.clone();
            runtime::spawn(async move {
                if let Some(c) = this.query_stun_server(&url).await {
                    if let Some(h) = this.member.handler() {
                        h.on_local_candidate(c);
                    }
                }
                done();
            });
        }
        Ok(())
    }

    /// Sends Binding requests to one STUN server (RFC 8489 retransmission, 3 tries) and returns
    /// the server-reflexive candidate line, if the server answered.
    async fn query_stun_server(&self, url: &str) -> Option<String> {
        let server = resolve_stun_url(url).await?;
        if server.is_ipv4() != self.socket.local.is_ipv4() {
            return None;
        }
        let mut id = [0u8; 12];
        openssl::rand::rand_bytes(&mut id).ok()?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.socket.stun_queries.lock().insert(id, tx);
        let request = stun::binding_request(&id);
        let mut rto = Duration::from_millis(250);
        let mut mapped = None;
        for _ in 0..3 {
            if self.socket.send_to(&request, server).is_err() {
                break;
            }
            if let Ok(Some(addr)) = tokio::time::timeout(rto, rx.recv()).await {
                mapped = Some(addr);
                break;
            }
            rto *= 2;
        }
        self.socket.stun_queries.lock().remove(&id);
        let mapped = mapped?;
        let base = self.socket.local;
        // RFC 8445 §5.1.3: a server-reflexive candidate equal to its base is redundant (no NAT
        // between us and the server): not signalled.
        if mapped == base || self.host_addresses.read().contains(&mapped) {
            return None;
        }
        // RFC 8445 §5.1.2: type preference 100 for server-reflexive, local preference 65535.
        let priority: u32 = (100 << 24) | (65535 << 8) | 255;
        let foundation = fnv1a(format!("srflx{}{}", base.ip(), server).as_bytes());
        Some(format!(
            "candidate:{foundation} 1 udp {priority} {} {} typ srflx raddr {} rport {}",
            mapped.ip(),
            mapped.port(),
            base.ip(),
            base.port()
        ))
    }

    /// Adds a remote candidate (trickled or from SDP). Candidates this transport cannot use
    /// (TCP, another address family, mDNS names) are ignored, as browsers do. A candidate
    /// whose address must never be a destination (unspecified, multicast, broadcast, port 0,
    /// this session's own socket) is refused with `InvalidArgument`, one past
    /// `max_remote_candidates` with `LimitReached`; both are counted.
    pub fn add_remote_candidate(&self, line: &str) -> Result<bool> {
        let r = self.add_remote_candidate_checked(line);
        if matches!(&r, Err(e) if matches!(e.kind(), error::ErrorKind::InvalidArgument | error::ErrorKind::LimitReached)) {
            self.remote_candidates_refused.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    fn add_remote_candidate_checked(&self, line: &str) -> Result<bool> {
        let line = line.trim();
        let body = line.strip_prefix("a=").unwrap_or(line);
        let body = body.strip_prefix("candidate:").ok_or_else(|| {
            error::invalid_argument(format!("'{line}' is not a candidate line (it must start with 'candidate:')"))
        })?;
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() < 8 || fields[6] != "typ" {
            return Err(error::invalid_argument(format!(
                "candidate '{line}' needs foundation, component, transport, priority, address, port and 'typ <type>'"
            )));
        }
        if !fields[2].eq_ignore_ascii_case("udp") || fields[4].ends_with(".local") {
            return Ok(false);
        }
        let c = unmarshal_candidate(body).map_err(|e| error::invalid_argument(format!("candidate '{line}': {e}")))?;
        let addr = c.addr();
        if addr.is_ipv4() != self.socket.local.is_ipv4() {
            return Ok(false);
        }
        if let Some(why) = forbidden_destination(addr, self.socket.local, &self.host_addresses.read()) {
            return Err(error::invalid_argument(format!("candidate '{line}' is refused: {why}")));
        }
        {
            let mut known = self.remote_candidates.lock();
            if known.contains(&addr) {
                return Ok(false);
            }
            if known.len() >= self.config.max_remote_candidates {
                return Err(error::limit_reached(format!(
                    "candidate '{line}' is refused: this session already has {} remote candidates, its limit \
                     (wrs_config_set_max_remote_candidates)",
                    known.len()
                )));
            }
            known.push(addr);
        }
        let c: Arc<dyn Candidate + Send + Sync> = Arc::new(c);
        let _guard = runtime::handle().enter();
        self.agent.add_remote_candidate(&c).map_err(|e| error::ice(format!("candidate '{line}': {e}")))?;
        Ok(true)
    }

    /// Starts connectivity checks once both descriptions are applied. Runs once.
    pub fn start(&self, controlling: bool, remote_ufrag: String, remote_pwd: String) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        self.member.set_remote_password(&remote_pwd);
        let (tx, rx) = mpsc::channel(1);
        *self.cancel.lock() = Some(tx);
        let agent = Arc::clone(&self.agent);
        runtime::spawn(async move {
            // Success and failure are both reported through the state callback.
            let _ = if controlling {
                agent.dial(rx, remote_ufrag, remote_pwd).await.map(|_| ())
            } else {
                agent.accept(rx, remote_ufrag, remote_pwd).await.map(|_| ())
            };
        });
    }

    /// The remote address of the selected pair, once there is one.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        *self.remote.read()
    }

    pub fn selected_pair(&self) -> Option<(String, String)> {
        self.selected.lock().clone()
    }

    /// Remembers the address the peer's DTLS came from: the agent's pair-selected event can
    /// trail its connected state, and media may flow in between.
    pub fn set_fallback_remote(&self, addr: SocketAddr) {
        let mut f = self.fallback_remote.write();
        if f.is_none() {
            *f = Some(addr);
        }
    }

    /// The selected pair's remote address or, until there is one, the fallback.
    fn destination(&self) -> Result<SocketAddr> {
        self.remote_address()
            .or_else(|| *self.fallback_remote.read())
            .ok_or_else(|| error::not_connected("ICE has no selected candidate pair yet"))
    }

    /// Sends to the selected pair's remote address (or, until there is one, to the fallback).
    pub fn send(&self, data: &[u8]) -> Result<()> {
        let to = self.destination()?;
        self.send_to(data, to)
    }

    /// Sends consecutive datagrams of `lens` bytes each, laid end to end in `data`: runs of
    /// equal size go out as one GSO send, the rest (or all, without GSO) one by one.
    pub fn send_segments(&self, data: &[u8], lens: &[usize]) -> Result<()> {
        let to = self.destination()?;
        if self.closed.load(Ordering::Acquire) {
            return Err(error::closed("the transport is closed"));
        }
        let (mut offset, mut i) = (0, 0);
        while i < lens.len() {
            let size = lens[i];
            let mut run = 1;
            while i + run < lens.len() && run < GSO_MAX_SEGMENTS && lens[i + run] == size {
                run += 1;
            }
            let chunk = &data[offset..offset + size * run];
            if run > 1 && self.socket.gso.load(Ordering::Relaxed) {
                match self.socket.send_gso(chunk, size, to) {
                    Ok(()) => {
                        offset += chunk.len();
                        i += run;
                        continue;
                    }
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EIO | libc::ENOPROTOOPT | libc::EOPNOTSUPP)) => {
                        self.socket.gso.store(false, Ordering::Relaxed);
                    }
                    Err(e) => return Err(error::io(format!("sendmsg (GSO) to {to}: {e}"))),
                }
            }
            for d in chunk.chunks(size) {
                self.send_to(d, to)?;
            }
            offset += chunk.len();
            i += run;
        }
        Ok(())
    }

    pub fn send_to(&self, data: &[u8], to: SocketAddr) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(error::closed("the transport is closed"));
        }
        self.socket.send_to(data, to).map(|_| ()).map_err(|e| error::io(format!("sendto {to}: {e}")))
    }

    pub fn datagrams_dropped(&self) -> usize {
        self.socket.datagrams_dropped.load(Ordering::Relaxed)
    }

    pub fn counters(&self) -> &IceCounters {
        &self.member.counters
    }

    /// Why ICE failed, in terms of what was tried: for the failure reason.
    pub fn failure_summary(&self, was_connected: bool) -> String {
        let c = &self.member.counters;
        let remotes = self.remote_candidates.lock();
        let shown: Vec<String> = remotes.iter().take(4).map(|a| a.to_string()).collect();
        let more = if remotes.len() > shown.len() { format!(" and {} more", remotes.len() - shown.len()) } else { String::new() };
        let tried = format!(
            "{} checks sent to {} remote candidate(s) ({}{more}), {} authenticated answer(s); {} STUN message(s) failed authentication, {} datagram(s) from unverified addresses dropped",
            c.checks_sent.load(Ordering::Relaxed),
            remotes.len(),
            if shown.is_empty() { "none: no candidate in the remote description and none trickled".to_string() } else { shown.join(", ") },
            c.responses_received.load(Ordering::Relaxed),
            c.stun_rejected.load(Ordering::Relaxed),
            c.unverified_dropped.load(Ordering::Relaxed),
        );
        if was_connected {
            format!("ICE failed: consent expired (the selected pair stopped answering); {tried}")
        } else {
            format!("ICE failed: no candidate pair answered within the timeout; {tried}")
        }
    }

    /// Stops checks, closes the agent and the socket (a shared socket: this session's part of
    /// it). Idempotent.
    pub async fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Route::Own(_) = self.socket.route {
            self.socket.closed.store(true, Ordering::Release);
            poller::unregister(self.socket.udp.as_raw_fd(), self.socket.poll_token.load(Ordering::Acquire));
        }
        self.cancel.lock().take();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.agent.close()).await;
        self.conn.shut();
        if let Route::Shared(routes) = &self.socket.route {
            routes.remove_session(&self.member);
        }
    }
}

async fn resolve_stun_url(url: &str) -> Option<SocketAddr> {
    let (host, port) = parse_stun_url(url).ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    tokio::net::lookup_host((host, port)).await.ok()?.next()
}

/// The host and port of a `stun:` URL (RFC 7064: `stun:host[:port]`, default port 3478). A
/// `?transport=udp` query, which browsers accept and some configurations carry, is allowed;
/// another transport is refused (STUN here runs over UDP).
fn parse_stun_url(url: &str) -> Result<(&str, u16)> {
    let rest = url
        .strip_prefix("stun:")
        .ok_or_else(|| error::invalid_argument(format!("ICE server '{url}' is not a stun: URL (TURN is not supported yet)")))?;
    let rest = match rest.split_once('?') {
        None => rest,
        Some((r, q)) if q.eq_ignore_ascii_case("transport=udp") => r,
        Some(_) => return Err(error::invalid_argument(format!("ICE server '{url}': only '?transport=udp' is supported"))),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, _)) if !h.ends_with(']') && h.contains(':') => (rest, None),
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    if host.is_empty() || host.contains('/') || host.contains('?') {
        return Err(error::invalid_argument(format!("ICE server '{url}' has no valid host")));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| error::invalid_argument(format!("ICE server '{url}' has an invalid port '{p}'")))?,
        None => 3478,
    };
    Ok((host, port))
}

/// Validates a `stun:` URL without resolving it.
pub fn check_stun_url(url: &str) -> Result<()> {
    parse_stun_url(url).map(|_| ())
}

/// Why `addr` must never be sent checks, if it must not: unspecified, multicast or broadcast
/// addresses, port 0, or our own socket (a session checking itself).
fn forbidden_destination(addr: SocketAddr, local: SocketAddr, hosts: &[SocketAddr]) -> Option<&'static str> {
    let ip = addr.ip();
    if addr.port() == 0 {
        return Some("port 0");
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_multicast() {
        return Some("a multicast address");
    }
    if let IpAddr::V4(v4) = ip {
        if v4.is_broadcast() {
            return Some("a broadcast address");
        }
    }
    if addr == local || hosts.contains(&addr) || (local.ip().is_unspecified() && ip.is_loopback() && addr.port() == local.port()) {
        return Some("this session's own socket");
    }
    None
}

/// A candidate as an SDP `candidate:` attribute value. Our own rendering: the agent's omits
/// nothing, so a peer-reflexive candidate learned from a check came out as
/// `typ prflx raddr  rport 0`.
fn candidate_line(c: &(dyn Candidate + Send + Sync)) -> String {
    let mut line = format!(
        "candidate:{} {} udp {} {} {} typ {}",
        c.foundation(),
        c.component(),
        c.priority(),
        c.address(),
        c.port(),
        c.candidate_type()
    );
    if let Some(r) = c.related_address().filter(|r| !r.address.is_empty()) {
        line.push_str(&format!(" raddr {} rport {}", r.address, r.port));
    }
    line
}

fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, b| (h ^ *b as u32).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stun_urls_are_checked() {
        assert!(check_stun_url("stun:127.0.0.1:3478").is_ok());
        assert!(check_stun_url("stun:stun.example.org").is_ok());
        assert!(check_stun_url("stun:[::1]:3478").is_ok());
        assert!(check_stun_url("turn:x:1").is_err());
        assert!(check_stun_url("stun:host:0").is_err());
        assert!(check_stun_url("stun:").is_err());
        assert_eq!(parse_stun_url("stun:host:5349?transport=udp").unwrap(), ("host", 5349));
        assert_eq!(parse_stun_url("stun:[::1]?transport=UDP").unwrap(), ("[::1]", 3478));
        assert!(check_stun_url("stun:host:3478?transport=tcp").is_err());
    }

    /// A peer-reflexive candidate learned from a check has no related address (the agent
    /// leaves it empty): rendered without `raddr  rport 0`.
    #[test]
    fn prflx_candidate_renders_without_an_empty_related_address() {
        use webrtc_ice::candidate::candidate_base::CandidateBaseConfig;
        use webrtc_ice::candidate::candidate_peer_reflexive::CandidatePeerReflexiveConfig;
        let c = CandidatePeerReflexiveConfig {
            base_config: CandidateBaseConfig {
                network: "udp".into(),
                address: "127.0.0.1".into(),
                port: 5000,
                component: 1,
                ..Default::default()
            },
            rel_addr: String::new(),
            rel_port: 0,
        }
        .new_candidate_peer_reflexive()
        .unwrap();
        let line = candidate_line(&c);
        assert!(line.ends_with("127.0.0.1 5000 typ prflx"), "{line}");
        let srflx = unmarshal_candidate("1 1 udp 1694498815 192.0.2.7 6000 typ srflx raddr 127.0.0.1 rport 5000").unwrap();
        assert!(candidate_line(&srflx).ends_with("typ srflx raddr 127.0.0.1 rport 5000"));
    }

    #[test]
    fn forbidden_destinations_are_named() {
        let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let f = |a: &str| forbidden_destination(a.parse().unwrap(), local, &[]);
        assert_eq!(f("255.255.255.255:9"), Some("a broadcast address"));
        assert_eq!(f("224.0.0.251:5353"), Some("a multicast address"));
        assert_eq!(f("239.255.255.250:1900"), Some("a multicast address"));
        assert_eq!(f("[ff02::1]:9"), Some("a multicast address"));
        assert_eq!(f("0.0.0.0:9"), Some("an unspecified address"));
        assert_eq!(f("127.0.0.1:0"), Some("port 0"));
        assert_eq!(f("127.0.0.1:4000"), Some("this session's own socket"));
        assert_eq!(f("127.0.0.1:4001"), None);
        assert_eq!(f("10.0.1.255:9"), None, "may be a host in a larger subnet");
    }
}
