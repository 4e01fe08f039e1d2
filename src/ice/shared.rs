//! A shared port: many sessions on one UDP socket (`IceConfig::shared_port`), as a media
//! server runs behind one firewall rule. webrtc-ice's UDP mux already tells the agents apart by
//! ufrag for STUN; DTLS and SRTP carry nothing of the kind, so they are routed by the sender's
//! address, learned from the peer's connectivity checks (only those that authenticate with the
//! session's ICE password: a forged check must not steal another session's traffic) and from
//! the session's selected pair. Two peers behind one address and port cannot share the port with
//! each other; each needs its own address (browsers use a port per peer connection).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use once_cell::sync::Lazy;
use parking_lot::{Mutex, RwLock};
use webrtc_ice::udp_mux::UDPMuxDefault;

use super::{stun, Socket, TransportHandler};
use crate::fasthash::FastMap;

struct Member {
    pwd: String,
    handler: Weak<dyn TransportHandler>,
}

/// The shared socket's routing table.
#[derive(Default)]
pub(super) struct Routes {
    by_ufrag: RwLock<FastMap<String, Member>>,
    by_address: RwLock<FastMap<SocketAddr, Weak<dyn TransportHandler>>>,
}

impl Routes {
    /// The session the datagram from `from` belongs to.
    pub(super) fn handler(&self, from: SocketAddr) -> Option<Arc<dyn TransportHandler>> {
        self.by_address.read().get(&from).and_then(Weak::upgrade)
    }

    /// Looks at a STUN message on its way to the agents: a connectivity check for one of the
    /// sessions that authenticates with its password maps its source address to it.
    pub(super) fn learn(&self, m: &[u8], from: SocketAddr) {
        let Some(ufrag) = stun::request_local_ufrag(m) else { return };
        let handler = {
            let members = self.by_ufrag.read();
            let Some(member) = members.get(ufrag) else { return };
            if !stun::verify_integrity(m, member.pwd.as_bytes()) {
                return;
            }
            member.handler.clone()
        };
        self.add_address(from, handler);
    }

    /// Maps `addr` to `handler` (a check that authenticated, or the agent's selected pair).
    pub(super) fn add_address(&self, addr: SocketAddr, handler: Weak<dyn TransportHandler>) {
        if self.by_address.read().get(&addr).is_some_and(|h| h.ptr_eq(&handler)) {
            return;
        }
        self.by_address.write().insert(addr, handler);
    }

    pub(super) fn add_session(&self, ufrag: &str, pwd: &str, handler: Weak<dyn TransportHandler>) {
        self.by_ufrag.write().insert(ufrag.to_string(), Member { pwd: pwd.to_string(), handler });
    }

    /// Forgets a closing session: its ufrag and every address routed to it.
    pub(super) fn remove_session(&self, ufrag: &str, handler: &Weak<dyn TransportHandler>) {
        self.by_ufrag.write().remove(ufrag);
        self.by_address.write().retain(|_, h| !h.ptr_eq(handler) && h.strong_count() > 0);
    }
}

/// One shared socket and the UDP mux over it; alive while a session uses it.
pub(super) struct SharedSocket {
    pub(super) socket: Arc<Socket>,
    pub(super) mux: Arc<UDPMuxDefault>,
    key: SocketAddr,
}

impl Drop for SharedSocket {
    fn drop(&mut self) {
        // The socket closes with its last reference (the transports hold one each, the mux
        // only a weak one); the mux's reader ends when the socket's STUN channel does.
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
    create: impl FnOnce() -> crate::error::Result<(Arc<Socket>, Arc<UDPMuxDefault>)>,
) -> crate::error::Result<Arc<SharedSocket>> {
    let mut registry = REGISTRY.lock();
    if let Some(existing) = registry.get(&key).and_then(Weak::upgrade) {
        return Ok(existing);
    }
    let (socket, mux) = create()?;
    let shared = Arc::new(SharedSocket { socket, mux, key });
    registry.insert(key, Arc::downgrade(&shared));
    Ok(shared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ice::IceState;

    struct Nobody;
    impl TransportHandler for Nobody {
        fn on_datagram(&self, _: &mut [u8], _: SocketAddr) {}
        fn on_local_candidate(&self, _: String) {}
        fn on_gathering_complete(&self) {}
        fn on_ice_state(&self, _: IceState) {}
        fn on_selected_pair(&self, _: String, _: String) {}
    }

    fn check(username: &str, pwd: &str) -> Vec<u8> {
        use ::stun::integrity::MessageIntegrity;
        use ::stun::message::{Message, Setter, BINDING_REQUEST};
        use ::stun::textattrs::TextAttribute;
        let mut m = Message::new();
        let setters: Vec<Box<dyn Setter>> = vec![
            Box::new(BINDING_REQUEST),
            Box::new(::stun::agent::TransactionId::new()),
            Box::new(TextAttribute::new(::stun::attributes::ATTR_USERNAME, username.to_string())),
            Box::new(MessageIntegrity::new_short_term_integrity(pwd.to_string())),
        ];
        m.build(&setters).unwrap();
        m.raw
    }

    #[test]
    fn only_authenticated_checks_route_an_address() {
        let routes = Routes::default();
        let a: Arc<dyn TransportHandler> = Arc::new(Nobody);
        let b: Arc<dyn TransportHandler> = Arc::new(Nobody);
        routes.add_session("ufragA", "passwordA", Arc::downgrade(&a));
        routes.add_session("ufragB", "passwordB", Arc::downgrade(&b));
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let attacker: SocketAddr = "127.0.0.1:6666".parse().unwrap();

        routes.learn(&check("ufragA:x", "passwordA"), peer);
        assert!(Arc::ptr_eq(&routes.handler(peer).unwrap(), &a));
        // Knowing B's ufrag (it is in the SDP) but not its password moves nothing.
        routes.learn(&check("ufragB:x", "wrong"), peer);
        routes.learn(&check("ufragB:x", "passwordA"), attacker);
        routes.learn(&check("nobody:x", "passwordB"), attacker);
        assert!(Arc::ptr_eq(&routes.handler(peer).unwrap(), &a));
        assert!(routes.handler(attacker).is_none());
        // The peer's address moving to B with B's credentials (a new session for that peer).
        routes.learn(&check("ufragB:x", "passwordB"), peer);
        assert!(Arc::ptr_eq(&routes.handler(peer).unwrap(), &b));

        // A leaving session takes its addresses with it.
        routes.add_address(attacker, Arc::downgrade(&a));
        routes.remove_session("ufragA", &Arc::downgrade(&a));
        assert!(routes.handler(attacker).is_none());
        assert!(Arc::ptr_eq(&routes.handler(peer).unwrap(), &b));
        routes.learn(&check("ufragA:x", "passwordA"), attacker);
        assert!(routes.handler(attacker).is_none());
    }
}
