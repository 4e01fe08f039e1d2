//! A shared port: many sessions on one UDP socket (`IceConfig::shared_port`), as a media
//! server runs behind one firewall rule. A connectivity check names the session it is for (the
//! ufrag in its USERNAME); an answer to a check goes to the session that sent the check (by
//! transaction id); everything else (DTLS, SRTP) is routed by the sender's address, learned
//! only from checks and answers that authenticate with the session's ICE credentials (a
//! forged check, or a candidate naming another session's peer, must not steal its traffic). Two peers
//! behind one address and port cannot share the port with each other; each needs its own
//! address (browsers use a port per peer connection).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use once_cell::sync::Lazy;
use parking_lot::{Mutex, RwLock};

use super::agent_conn::Member;
use super::Socket;
use crate::fasthash::FastMap;

/// The shared socket's routing table.
#[derive(Default)]
pub(super) struct Routes {
    by_ufrag: RwLock<FastMap<String, Arc<Member>>>,
    by_address: RwLock<FastMap<SocketAddr, Arc<Member>>>,
}

impl Routes {
    /// The session whose ufrag a connectivity check names.
    pub(super) fn by_ufrag(&self, ufrag: &str) -> Option<Arc<Member>> {
        self.by_ufrag.read().get(ufrag).cloned()
    }

    /// The session a datagram from `from` belongs to: the last one `from` authenticated with.
    pub(super) fn by_address(&self, from: SocketAddr) -> Option<Arc<Member>> {
        self.by_address.read().get(&from).cloned()
    }

    /// Routes `addr` to `member`: only for an address that authenticated with the member's
    /// credentials (a check from it, or an answer from it to one of the member's checks).
    pub(super) fn add_address(&self, addr: SocketAddr, member: &Arc<Member>) {
        if self.by_address.read().get(&addr).is_some_and(|m| Arc::ptr_eq(m, member)) {
            return;
        }
        self.by_address.write().insert(addr, Arc::clone(member));
    }

    pub(super) fn add_session(&self, member: &Arc<Member>) {
        self.by_ufrag.write().insert(member.ufrag.clone(), Arc::clone(member));
    }

    /// Forgets a closing session: its ufrag and every address routed to it.
    pub(super) fn remove_session(&self, member: &Arc<Member>) {
        self.by_ufrag.write().remove(&member.ufrag);
        self.by_address.write().retain(|_, m| !Arc::ptr_eq(m, member));
    }
}

/// One shared socket; alive while a session uses it.
pub(super) struct SharedSocket {
    pub(super) socket: Arc<Socket>,
    key: SocketAddr,
}

impl Drop for SharedSocket {
    fn drop(&mut self) {
        // The socket closes with its last reference (the transports hold one each).
        self.socket.closed.store(true, std::sync::atomic::Ordering::Release);
        let mut registry = REGISTRY.lock();
        if registry.get(&self.key).is_some_and(|w| w.strong_count() == 0) {
            registry.remove(&self.key);
        }
    }
}

/// Shared sockets by the address they were asked to bind.
static REGISTRY: Lazy<Mutex<HashMap<SocketAddr, Weak<SharedSocket>>>> = Lazy::new(Default::default);

/// The shared socket bound to `key`, created by `create` if there is none yet.
pub(super) fn get_or_create(
    key: SocketAddr,
    create: impl FnOnce() -> crate::error::Result<Arc<Socket>>,
) -> crate::error::Result<Arc<SharedSocket>> {
    let mut registry = REGISTRY.lock();
    if let Some(existing) = registry.get(&key).and_then(Weak::upgrade) {
        return Ok(existing);
    }
    let socket = create()?;
    let shared = Arc::new(SharedSocket { socket, key });
    registry.insert(key, Arc::downgrade(&shared));
    Ok(shared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ice::agent_conn;
    use crate::ice::stun::tests::{check, response};
    use crate::ice::{open_socket, Route};
    use webrtc_util::Conn;

    #[test]
    fn only_authenticated_checks_and_answers_route_an_address() {
        let _guard = crate::runtime::handle().enter();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = open_socket(udp, Route::Shared(Routes::default())).unwrap();
        let Route::Shared(routes) = &socket.route else { unreachable!() };
        let (a, _conn_a) = agent_conn::new(&socket, "ufragA".into(), "passwordA");
        let (b, conn_b) = agent_conn::new(&socket, "ufragB".into(), "passwordB");
        routes.add_session(&a);
        routes.add_session(&b);
        b.set_remote_password("peerB-password");
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let attacker: SocketAddr = "127.0.0.1:6666".parse().unwrap();
        let owner = |from| routes.by_address(from).map(|m| m.ufrag.clone());

        assert!(socket.dispatch_stun(&check("ufragA:x", "passwordA"), peer));
        assert_eq!(owner(peer).as_deref(), Some("ufragA"));
        assert!(a.is_verified(peer));
        // Knowing B's ufrag (it is in the SDP) but not its password: dropped at the mux,
        // counted, no address moves.
        assert!(!socket.dispatch_stun(&check("ufragB:x", "wrong"), peer));
        assert!(!socket.dispatch_stun(&check("ufragB:x", "passwordA"), attacker));
        assert!(!socket.dispatch_stun(&check("nobody:x", "passwordB"), attacker));
        assert_eq!(b.counters.stun_rejected.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert_eq!(owner(peer).as_deref(), Some("ufragA"));
        assert_eq!(owner(attacker), None);

        // B's agent checking A's peer (a remote candidate naming it) moves nothing, and an
        // answer must match the check, come from where it went and carry B's peer's password.
        let request = check("remote:ufragB", "peerB-password");
        crate::runtime::block_on(conn_b.send_to(&request, peer)).unwrap();
        assert_eq!(owner(peer).as_deref(), Some("ufragA"));
        let id = crate::ice::stun::transaction_id(&request).unwrap();
        assert!(!socket.dispatch_stun(&response(&id, "not-the-password"), peer));
        crate::runtime::block_on(conn_b.send_to(&request, peer)).unwrap();
        assert!(!socket.dispatch_stun(&response(&id, "peerB-password"), attacker), "from elsewhere");
        assert!(!socket.dispatch_stun(&response(&[9; 12], "peerB-password"), peer), "no such check");
        assert_eq!(owner(peer).as_deref(), Some("ufragA"));
        crate::runtime::block_on(conn_b.send_to(&request, peer)).unwrap();
        assert!(socket.dispatch_stun(&response(&id, "peerB-password"), peer));
        assert_eq!(owner(peer).as_deref(), Some("ufragB"), "an authenticated answer moves it");
        assert!(!socket.dispatch_stun(&response(&id, "peerB-password"), peer), "answered once");

        // A leaving session takes its addresses with it.
        assert!(socket.dispatch_stun(&check("ufragA:x", "passwordA"), attacker));
        routes.remove_session(&a);
        assert_eq!(owner(attacker), None);
        assert_eq!(owner(peer).as_deref(), Some("ufragB"));
        assert!(!socket.dispatch_stun(&check("ufragA:x", "passwordA"), attacker));
    }
}
