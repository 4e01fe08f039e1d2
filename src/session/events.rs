//! Events a session reports, and the gate that delivers them: one event at a time per session,
//! never while a session lock is held, and never after `shutdown` returned.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use std::collections::VecDeque;

use parking_lot::{Mutex, ReentrantMutex};

use super::{ConnectionState, GatheringState, SignalingState};
use crate::ice::IceState;
use crate::negotiation::MediaKind;

#[derive(Debug)]
pub enum Event<'a> {
    /// A decrypted RTP packet for `track`.
    Rtp { track: u32, packet: &'a [u8] },
    /// A decrypted (compound) RTCP packet.
    Rtcp { packet: &'a [u8] },
    /// A complete frame from the jitter buffer of one of `track`'s sources (frame delivery
    /// on, `Session::receive_frames`); it follows its last packet's `Rtp` event.
    Frame { track: u32, frame: super::FrameView<'a> },
    /// A local ICE candidate (`candidate:` line) for the m-section `mid`.
    LocalCandidate { candidate: &'a str, mid: &'a str },
    ConnectionState(ConnectionState),
    /// The ICE transport's own state (connection state combines it with DTLS).
    IceState(IceState),
    GatheringState(GatheringState),
    SignalingState(SignalingState),
    /// A track the remote side sends on, first known when a description was applied.
    Track { track: u32, kind: MediaKind, mid: &'a str },
    /// The peer opened a data channel (in band, with DCEP); `ChannelOpen` for it follows.
    DataChannel { channel: u32 },
    /// A data channel can carry messages.
    ChannelOpen { channel: u32 },
    /// A message on a data channel: `text` for a string message (UTF-8 as the peer sent it).
    ChannelMessage { channel: u32, data: &'a [u8], text: bool },
    /// The channel's buffered amount fell to or below its low threshold.
    ChannelBufferedAmountLow { channel: u32 },
    /// Something failed on the channel (it closes next).
    ChannelError { channel: u32, message: &'a str },
    /// The channel is closed (by either side, or because the association or session ended);
    /// nothing more is reported for it.
    ChannelClosed { channel: u32 },
    /// The peer asks for a keyframe on `track` (a PLI or FIR; requests closer together than
    /// 100 ms are merged into one).
    KeyframeRequest { track: u32 },
    /// The send-side bandwidth estimate, in bits per second: the first one, then whenever it
    /// moves by 5 % or more (from the peer's transport-wide feedback or REMB).
    BandwidthEstimate { bitrate: u64 },
}

/// Receives a session's events, one at a time per session and in the order they happened.
/// Which thread: whichever thread made the change or next delivers queued events. Media
/// (`Rtp`, `Rtcp`) and DTLS-driven connection changes come from the media receive thread;
/// ICE states, gathering and candidates from a runtime thread; signaling, track and the first
/// gathering/connecting events from the thread calling `set_*_description` (inside that call);
/// and any queued event from any of these, when it delivers what another thread queued.
pub trait EventHandler: Send + Sync {
    fn on_event(&self, event: Event<'_>);
}

/// A state event, queued at the moment of its change (under the lock that made the change) and
/// delivered in queue order by whichever thread next holds the gate.
#[derive(Debug, Clone)]
pub(crate) enum OwnedEvent {
    GatheringState(GatheringState),
    SignalingState(SignalingState),
    ConnectionState(ConnectionState),
    IceState(IceState),
    LocalCandidate { candidate: String, mid: String },
    Track { track: u32, kind: MediaKind, mid: String },
    DataChannel { channel: u32 },
    ChannelOpen { channel: u32 },
    ChannelMessage { channel: u32, data: Vec<u8>, text: bool },
    ChannelBufferedAmountLow { channel: u32 },
    ChannelError { channel: u32, message: String },
    ChannelClosed { channel: u32 },
    KeyframeRequest { track: u32 },
    BandwidthEstimate { bitrate: u64 },
}

/// Delivers a session's events one at a time and in the order they happened, whatever thread
/// produced them: state events are queued where the change is made (`post`) and delivered by
/// `flush`, which the producing thread calls once it holds no session lock; whoever holds the
/// gate drains the queue. Media events (`emit`) are not queued (no copy of the packet); they
/// first deliver what is queued, so they never overtake an earlier state change.
pub(crate) struct Emitter {
    // Reentrant: a callback may call into the session, which may emit again on the same thread.
    gate: ReentrantMutex<Gate>,
    /// Bounded by what producers have posted and not yet flushed: each producer flushes right
    /// after it posts, so at most a few events per thread wait here.
    queue: Mutex<VecDeque<OwnedEvent>>,
}

/// What the gate guards: the handler, and whether the thread holding it suspended delivery.
struct Gate {
    handler: RefCell<Option<Arc<dyn EventHandler>>>,
    held: Cell<u32>,
}

impl Emitter {
    pub fn new() -> Self {
        Emitter {
            gate: ReentrantMutex::new(Gate { handler: RefCell::new(None), held: Cell::new(0) }),
            queue: Mutex::new(VecDeque::new()),
        }
    }

    pub fn set_handler(&self, handler: Option<Arc<dyn EventHandler>>) {
        let g = self.gate.lock();
        *g.handler.borrow_mut() = handler;
    }

    /// Runs `f` with delivery suspended (events it causes are queued, and no other thread
    /// delivers meanwhile), then delivers them. Also waits for a callback running on another
    /// thread to return.
    pub fn hold<R>(&self, f: impl FnOnce() -> R) -> R {
        let g = self.gate.lock();
        g.held.set(g.held.get() + 1);
        let r = f();
        g.held.set(g.held.get() - 1);
        self.drain(&g);
        r
    }

    /// Queues a state event; call where the change is made, then `flush` once no session lock
    /// is held.
    pub fn post(&self, event: OwnedEvent) {
        self.queue.lock().push_back(event);
    }

    pub fn post_all(&self, events: Vec<OwnedEvent>) {
        self.queue.lock().extend(events);
    }

    /// Delivers every queued event, in order.
    pub fn flush(&self) {
        let g = self.gate.lock();
        self.drain(&g);
    }

    fn drain(&self, g: &Gate) {
        if g.held.get() > 0 {
            return;
        }
        loop {
            let Some(e) = self.queue.lock().pop_front() else { return };
            let handler = g.handler.borrow().clone();
            let Some(h) = handler else { continue };
            match e {
                OwnedEvent::GatheringState(s) => h.on_event(Event::GatheringState(s)),
                OwnedEvent::SignalingState(s) => h.on_event(Event::SignalingState(s)),
                OwnedEvent::ConnectionState(s) => h.on_event(Event::ConnectionState(s)),
                OwnedEvent::IceState(s) => h.on_event(Event::IceState(s)),
                OwnedEvent::LocalCandidate { candidate, mid } => {
                    h.on_event(Event::LocalCandidate { candidate: &candidate, mid: &mid })
                }
                OwnedEvent::Track { track, kind, mid } => h.on_event(Event::Track { track, kind, mid: &mid }),
                OwnedEvent::DataChannel { channel } => h.on_event(Event::DataChannel { channel }),
                OwnedEvent::ChannelOpen { channel } => h.on_event(Event::ChannelOpen { channel }),
                OwnedEvent::ChannelMessage { channel, data, text } => {
                    h.on_event(Event::ChannelMessage { channel, data: &data, text })
                }
                OwnedEvent::ChannelBufferedAmountLow { channel } => h.on_event(Event::ChannelBufferedAmountLow { channel }),
                OwnedEvent::ChannelError { channel, message } => h.on_event(Event::ChannelError { channel, message: &message }),
                OwnedEvent::ChannelClosed { channel } => h.on_event(Event::ChannelClosed { channel }),
                OwnedEvent::KeyframeRequest { track } => h.on_event(Event::KeyframeRequest { track }),
                OwnedEvent::BandwidthEstimate { bitrate } => h.on_event(Event::BandwidthEstimate { bitrate }),
            }
        }
    }

    /// Delivers a media event (after anything queued before it).
    pub fn emit(&self, event: Event<'_>) {
        let g = self.gate.lock();
        self.drain(&g);
        let handler = g.handler.borrow().clone();
        if let Some(h) = handler {
            h.on_event(event);
        }
    }

    /// Waits for a callback running on another thread to return, then detaches the handler:
    /// no event is delivered after this returns.
    pub fn shutdown(&self) {
        let g = self.gate.lock();
        g.handler.borrow_mut().take();
        self.queue.lock().clear();
    }
}
