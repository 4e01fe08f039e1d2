//! A test peer on the Rust API (`Session` with an event handler), for tests that need what the
//! C ABI does not show (the session's socket address, its counters) and the relay.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::relay::{Policy, Relay};
use crossbeam_channel::{unbounded, Receiver, Sender};
use webrtc_session::ice::IceState;
use webrtc_session::negotiation::{Codec, Direction, MediaKind};
use webrtc_session::session::{ConnectionState, Event, EventHandler, SdpType, Session, SessionConfig};

pub enum Ev {
    Candidate(String),
    State(ConnectionState),
    Ice(IceState),
    Rtp(Vec<u8>),
    Channel(Ch),
    Rtcp(Vec<u8>),
    Keyframe(u32),
    Bandwidth(u64),
    Frame(Frame),
}

/// A complete frame the session handed over.
#[derive(Debug, Clone)]
pub struct Frame {
    pub track: u32,
    pub data: Vec<u8>,
    pub timestamp: u32,
    pub keyframe: bool,
    pub lost_packets: u32,
}

/// A data channel event, as the test records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ch {
    PeerOpened(u32),
    Open(u32),
    Message(u32, Vec<u8>, bool),
    Low(u32),
    Error(u32, String),
    Closed(u32),
}

pub struct Forward(pub Sender<Ev>);
impl EventHandler for Forward {
    fn on_event(&self, e: Event<'_>) {
        let _ = self.0.send(match e {
            Event::LocalCandidate { candidate, .. } => Ev::Candidate(candidate.to_string()),
            Event::ConnectionState(s) => Ev::State(s),
            Event::IceState(s) => Ev::Ice(s),
            Event::Rtp { packet, .. } => Ev::Rtp(packet.to_vec()),
            Event::DataChannel { channel } => Ev::Channel(Ch::PeerOpened(channel)),
            Event::ChannelOpen { channel } => Ev::Channel(Ch::Open(channel)),
            Event::ChannelMessage { channel, data, text } => Ev::Channel(Ch::Message(channel, data.to_vec(), text)),
            Event::ChannelBufferedAmountLow { channel } => Ev::Channel(Ch::Low(channel)),
            Event::ChannelError { channel, message } => Ev::Channel(Ch::Error(channel, message.to_string())),
            Event::ChannelClosed { channel } => Ev::Channel(Ch::Closed(channel)),
            Event::Rtcp { packet } => Ev::Rtcp(packet.to_vec()),
            Event::KeyframeRequest { track } => Ev::Keyframe(track),
            Event::BandwidthEstimate { bitrate } => Ev::Bandwidth(bitrate),
            Event::Frame { track, frame } => Ev::Frame(Frame {
                track,
                data: frame.data.to_vec(),
                timestamp: frame.timestamp,
                keyframe: frame.keyframe,
                lost_packets: frame.lost_packets,
            }),
            _ => return,
        });
    }
}

pub struct Peer {
    pub s: Arc<Session>,
    pub rx: Receiver<Ev>,
    pub track: u32,
    pub states: Vec<(Instant, ConnectionState)>,
    pub ice: Vec<(Instant, IceState)>,
    pub rtp: Vec<Vec<u8>>,
    pub channel_events: Vec<Ch>,
    pub rtcp: Vec<Vec<u8>>,
    pub keyframes: Vec<u32>,
    /// Bandwidth estimates the library reported (bits per second).
    pub estimates: Vec<u64>,
    pub frames: Vec<Frame>,
}

pub fn peer(tweak: impl Fn(&mut SessionConfig)) -> Peer {
    let mut cfg = SessionConfig::default();
    cfg.ice.local_addresses = vec!["127.0.0.1".parse().unwrap()];
    tweak(&mut cfg);
    let s = Session::new(cfg).unwrap();
    let (tx, rx) = unbounded();
    s.set_event_handler(Some(Arc::new(Forward(tx))));
    Peer { s, rx, track: 0, states: vec![], ice: vec![], rtp: vec![], channel_events: vec![], rtcp: vec![], keyframes: vec![], estimates: vec![], frames: vec![] }
}

impl Peer {
    /// Handles queued events; candidates go to `other` rewritten to point at `via`.
    pub fn pump(&mut self, other: &Session, via: SocketAddr) {
        while let Ok(e) = self.rx.try_recv() {
            match e {
                Ev::Candidate(c) => {
                    let _ = other.add_remote_candidate(&Relay::rewrite_candidate(&c, via));
                }
                Ev::State(s) => self.states.push((Instant::now(), s)),
                Ev::Ice(s) => self.ice.push((Instant::now(), s)),
                Ev::Rtp(p) => self.rtp.push(p),
                Ev::Channel(c) => self.channel_events.push(c),
                Ev::Rtcp(p) => self.rtcp.push(p),
                Ev::Keyframe(t) => self.keyframes.push(t),
                Ev::Bandwidth(b) => self.estimates.push(b),
                Ev::Frame(f) => self.frames.push(f),
            }
        }
    }
    pub fn state(&self) -> ConnectionState {
        self.s.connection_state()
    }
}

/// Tracks and offer/answer between `a` and `b` (no candidates yet); returns when the answer was
/// applied.
pub fn negotiate(a: &mut Peer, b: &mut Peer) -> Instant {
    negotiate_track(a, b, MediaKind::Audio, Codec::Pcmu)
}

/// `negotiate` with one sendrecv track of `kind` and `codec` on each side.
pub fn negotiate_track(a: &mut Peer, b: &mut Peer, kind: MediaKind, codec: Codec) -> Instant {
    negotiate_track_with(a, b, kind, codec, |o| o.to_string())
}

/// `negotiate_track` where b sees the offer as `munge` rewrites it (a peer that offers less).
pub fn negotiate_track_with(a: &mut Peer, b: &mut Peer, kind: MediaKind, codec: Codec, munge: impl Fn(&str) -> String) -> Instant {
    a.track = a.s.add_track(kind, &[codec], Direction::SendRecv).unwrap();
    let offer = a.s.create_offer().unwrap();
    b.s.set_remote_description(SdpType::Offer, &munge(&offer)).unwrap();
    a.s.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
    b.track = b.s.add_track(kind, &[codec], Direction::SendRecv).unwrap();
    let answer = b.s.create_answer().unwrap();
    let t0 = Instant::now();
    a.s.set_remote_description(SdpType::Answer, &answer).unwrap();
    b.s.set_local_description(SdpType::Answer, Some(&answer)).unwrap();
    t0
}

/// A data-only offer/answer (the offerer created `channels` before offering, as browsers
/// do); returns when the answer was applied.
pub fn negotiate_data(a: &mut Peer, b: &mut Peer) -> Instant {
    let offer = a.s.create_offer().unwrap();
    b.s.set_remote_description(SdpType::Offer, &offer).unwrap();
    a.s.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
    let answer = b.s.create_answer().unwrap();
    let t0 = Instant::now();
    a.s.set_remote_description(SdpType::Answer, &answer).unwrap();
    b.s.set_local_description(SdpType::Answer, Some(&answer)).unwrap();
    t0
}

/// Two sessions connected through a relay with `policy`; returns them with the relay and the
/// instant the answer was applied.
pub fn call(policy: Policy, seed: u64, tweak: impl Fn(&mut SessionConfig) + Copy) -> (Peer, Peer, Relay, Instant) {
    let mut a = peer(tweak);
    let mut b = peer(tweak);
    let relay = Relay::new(a.s.local_address(), b.s.local_address(), policy, seed);
    let t0 = negotiate(&mut a, &mut b);
    (a, b, relay, t0)
}

/// Pumps events until `done` or the deadline.
pub fn run_until(a: &mut Peer, b: &mut Peer, relay: &Relay, deadline: Duration, mut done: impl FnMut(&Peer, &Peer) -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        a.pump(&b.s, relay.for_b);
        b.pump(&a.s, relay.for_a);
        if done(a, b) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

pub fn connected(a: &Peer, b: &Peer) -> bool {
    a.state() == ConnectionState::Connected && b.state() == ConnectionState::Connected
}

pub fn sdp_attr(sdp: &str, key: &str) -> String {
    sdp.lines().find_map(|l| l.strip_prefix(key)).unwrap().trim().to_string()
}

/// A Binding request (USE-CANDIDATE, ICE-CONTROLLING) from an address nobody signalled, with the
/// right username and integrity keyed by `password`.
pub fn rogue_check(username: &str, password: &str) -> Vec<u8> {
    use stun::agent::TransactionId;
    use stun::fingerprint::FINGERPRINT;
    use stun::integrity::MessageIntegrity;
    use stun::message::{Message, Setter, BINDING_REQUEST};
    use stun::textattrs::TextAttribute;
    use webrtc_ice::control::AttrControlling;
    use webrtc_ice::priority::PriorityAttr;
    use webrtc_ice::use_candidate::UseCandidateAttr;
    let mut m = Message::new();
    let setters: Vec<Box<dyn Setter>> = vec![
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId::new()),
        Box::new(TextAttribute::new(stun::attributes::ATTR_USERNAME, username.to_string())),
        Box::new(UseCandidateAttr::new()),
        Box::new(AttrControlling(42)),
        Box::new(PriorityAttr(0x7fff_ffff)),
        Box::new(MessageIntegrity::new_short_term_integrity(password.to_string())),
        Box::new(FINGERPRINT),
    ];
    m.build(&setters).unwrap();
    m.raw
}

