//! A shared port: many sessions on one UDP socket (`IceConfig::shared_port`), as a media
//! server runs behind one firewall rule. A connectivity check names the session it is for (the
//! ufrag in its USERNAME); everything else (check responses, DTLS, SRTP) is routed by the
//! sender's address, learned from the peer's checks (only those that authenticate with the
//! session's ICE password: a forged check must not steal another session's traffic), from the
//! addresses the session's agent sends its checks to, and from its selected pair. Two peers
//! behind one address and port cannot share the port with each other; each needs its own
//! address (browsers use a port per peer connection).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use once_cell::sync::Lazy;
use parking_lot::{Mutex, RwLock};

use super::agent_conn::Member;
use super::{stun, Socket};
use crate::fasthash::FastMap;

/// The shared socket's routing table.
#[derive(Default)]
pub(super) struct Routes {
    by_ufrag: RwLock<FastMap<String, Arc<Member>>>,
    by_address: RwLock<FastMap<SocketAddr, Arc<Member>>>,
}

impl Routes {
    /// The session a datagram from `from` belongs to. A connectivity check goes by the ufrag
    /// it names (and, if it authenticates, maps its source address to that session); anything
    /// else by its source address.
    pub(super) fn member(&self, datagram: &[u8], stun: bool, from: SocketAddr) -> Option<Arc<Member>> {
        if stun {
            if let Some(ufrag) = stun::request_local_ufrag(datagram) {
                let member = self.by_ufrag.read().get(ufrag).cloned()?;
                if stun::verify_integrity(datagram, member.pwd.as_bytes()) {
                    self.add_address(from, &member);
                }
                return Some(member);
            }
        }
        self.by_address.read().get(&from).cloned()
    }

    /// Maps `addr` to `member` (a check that authenticated, an address its agent sends checks
    /// to, or its selected pair).
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
    use crate::ice::stun::tests::check;
    use crate::ice::{open_socket, Route};

    #[test]
    fn only_authenticated_checks_route_an_address() {
        let _guard = crate::runtime::handle().enter();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = open_socket(udp, Route::Shared(Routes::default())).unwrap();
        let Route::Shared(routes) = &socket.route else { unreachable!() };
        let (a, _conn_a) = agent_conn::new(&socket, "ufragA".into(), "passwordA".into());
        let (b, _conn_b) = agent_conn::new(&socket, "ufragB".into(), "passwordB".into());
        routes.add_session(&a);
        routes.add_session(&b);
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let attacker: SocketAddr = "127.0.0.1:6666".parse().unwrap();
        let media = [0x80u8, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        let to = |d: &[u8], from| routes.member(d, false, from).map(|m| m.ufrag.clone());
        let check_to = |d: &[u8], from| routes.member(d, true, from).map(|m| m.ufrag.clone());

        assert_eq!(check_to(&check("ufragA:x", "passwordA"), peer).as_deref(), Some("ufragA"));
        assert_eq!(to(&media, peer).as_deref(), Some("ufragA"));
        // Knowing B's ufrag (it is in the SDP) but not its password: the check goes to B's
        // agent (which drops it), no address moves.
        assert_eq!(check_to(&check("ufragB:x", "wrong"), peer).as_deref(), Some("ufragB"));
        check_to(&check("ufragB:x", "passwordA"), attacker);
        assert_eq!(check_to(&check("nobody:x", "passwordB"), attacker), None);
        assert_eq!(to(&media, peer).as_deref(), Some("ufragA"));
        assert_eq!(to(&media, attacker), None);
        // The peer's address moving to B with B's credentials.
        check_to(&check("ufragB:x", "passwordB"), peer);
        assert_eq!(to(&media, peer).as_deref(), Some("ufragB"));

        // A leaving session takes its addresses with it.
        routes.add_address(attacker, &a);
        routes.remove_session(&a);
        assert_eq!(to(&media, attacker), None);
        assert_eq!(to(&media, peer).as_deref(), Some("ufragB"));
        assert_eq!(check_to(&check("ufragA:x", "passwordA"), attacker), None);
        assert_eq!(to(&media, attacker), None);
    }
}
