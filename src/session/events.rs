//! Events a session reports, and the gate that delivers them: one event at a time per session,
//! never while a session lock is held, and never after `shutdown` returned.

use std::cell::RefCell;
use std::sync::Arc;

use parking_lot::ReentrantMutex;

use super::{ConnectionState, GatheringState, SignalingState};
use crate::ice::IceState;
use crate::negotiation::MediaKind;

#[derive(Debug)]
pub enum Event<'a> {
    /// A decrypted RTP packet for `track`.
    Rtp { track: u32, packet: &'a [u8] },
    /// A decrypted (compound) RTCP packet.
    Rtcp { packet: &'a [u8] },
    /// A local ICE candidate (`candidate:` line) for the m-section `mid`.
    LocalCandidate { candidate: &'a str, mid: &'a str },
    ConnectionState(ConnectionState),
    /// The ICE transport's own state (connection state combines it with DTLS).
    IceState(IceState),
    GatheringState(GatheringState),
    SignalingState(SignalingState),
    /// A track the remote side sends on, first known when a description was applied.
    Track { track: u32, kind: MediaKind, mid: &'a str },
}

/// Receives a session's events. Called on library threads (and on the caller's thread for
/// state changes caused by an API call), one at a time per session.
pub trait EventHandler: Send + Sync {
    fn on_event(&self, event: Event<'_>);
}

/// An event whose data outlives the lock it was produced under.
#[derive(Debug, Clone)]
pub(crate) enum OwnedEvent {
    GatheringState(GatheringState),
    SignalingState(SignalingState),
    Track { track: u32, kind: MediaKind, mid: String },
}

pub(crate) struct Emitter {
    // Reentrant: a callback may call into the session, which may emit again on the same thread.
    gate: ReentrantMutex<RefCell<Option<Arc<dyn EventHandler>>>>,
}

impl Emitter {
    pub fn new() -> Self {
        Emitter { gate: ReentrantMutex::new(RefCell::new(None)) }
    }

    pub fn set_handler(&self, handler: Option<Arc<dyn EventHandler>>) {
        let g = self.gate.lock();
        *g.borrow_mut() = handler;
    }

    pub fn emit(&self, event: Event<'_>) {
        let g = self.gate.lock();
        let handler = g.borrow().clone();
        if let Some(h) = handler {
            h.on_event(event);
        }
    }

    pub fn emit_owned(&self, events: Vec<OwnedEvent>) {
        for e in events {
            match e {
                OwnedEvent::GatheringState(s) => self.emit(Event::GatheringState(s)),
                OwnedEvent::SignalingState(s) => self.emit(Event::SignalingState(s)),
                OwnedEvent::Track { track, kind, mid } => self.emit(Event::Track { track, kind, mid: &mid }),
            }
        }
    }

    /// Waits for a callback running on another thread to return, then detaches the handler:
    /// no event is delivered after this returns.
    pub fn shutdown(&self) {
        let g = self.gate.lock();
        g.borrow_mut().take();
    }
}
