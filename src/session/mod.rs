//! The session: the RTCPeerConnection state machine. It owns the transceivers and the signaling
//! state, applies descriptions, and drives ICE → DTLS → SRTP as the transport progresses. The
//! media fast paths (`send_*`, datagram receive) take only short, uncontended locks.

mod data;
mod events;
mod feedback;
mod frames;
mod pacer;
mod negotiate;
mod stats;

pub use data::{DataChannelInfo, DataCounters, MAX_LABEL_LEN};
pub use events::{Event, EventHandler};
pub use feedback::{ReceivedSource, RtcpConfig, TrackRtcp};
pub use frames::{FrameView, MAX_SOURCES as MAX_FRAME_SOURCES};
pub use pacer::{PacerConfig, MAX_QUEUED_BYTES as MAX_PACER_BYTES};
pub use crate::rtp::jitter::{FrameCounters, JitterConfig};
pub use crate::sctp::{ChannelOptions, ChannelState, Reliability};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;
use parking_lot::{Mutex, RwLock};

use crate::cert::Certificate;
use crate::dtls::{DtlsContext, DtlsEndpoint, DtlsEvent, DtlsRole};
use crate::error::{self, Result};
use crate::fasthash::FastMap;
use crate::ice::{IceConfig, IceState, IceTransport, TransportHandler, RECEIVE_MTU};
use crate::negotiation::{Codec, Direction, LocalDescription, MediaKind, RemoteDescription};
use crate::rtp::{self, classify, DatagramKind, RtpHeader};
use crate::rtcp::bwe::SendLog;
use crate::runtime;
use crate::srtp::{self, SrtpProfile, SrtpReceiver, SrtpSender};
use events::{Emitter, OwnedEvent};

/// Largest RTP/RTCP packet accepted for sending, before SRTP adds its tag (fits a 1500-byte MTU
/// with IPv6 and UDP headers).
pub const MAX_PACKET_LEN: usize = 1400;
/// Sessions are numbered in log messages ("session 3: ...").
static NEXT_LOG_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
/// A packet plus the largest protection overhead (SRTCP index and a 16-byte tag).
/// A packet's room: the largest plain packet, the transport-wide element the library may
/// add to a host-built header, RTX's two bytes, and SRTP's tag.
const PROTECT_ROOM: usize = MAX_PACKET_LEN + rtp::TRANSPORT_SEQUENCE_ROOM + 2 + 20;

/// Per-thread scratch space of `send_rtp_batch`, reused across calls.
#[derive(Default)]
struct Batch {
    out: Vec<u8>,
    lens: Vec<usize>,
    /// Per packet: the track's SSRC, the packet's header length and its RTP timestamp.
    checked: Vec<(u32, usize, u32)>,
}

thread_local! {
    static BATCH: std::cell::RefCell<Batch> = std::cell::RefCell::new(Batch::default());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    New,
    Connecting,
    Connected,
    Disconnected,
    Failed,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatheringState {
    New,
    Gathering,
    Complete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalingState {
    Stable,
    HaveLocalOffer,
    HaveRemoteOffer,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpType {
    Offer,
    Answer,
    Rollback,
}

/// Which DTLS role to take when this side answers an `actpass` offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRolePreference {
    /// Active (DTLS client), as browsers do.
    Auto,
    Client,
    Server,
}

#[derive(Clone)]
pub struct SessionConfig {
    pub ice: IceConfig,
    pub certificate: Option<Certificate>,
    pub srtp_profiles: Vec<SrtpProfile>,
    pub dtls_role: DtlsRolePreference,
    /// Offers use `bundlePolicy: "max-bundle"` (see `LocalDescription::bundle_only`).
    pub max_bundle: bool,
    /// The library's own RTCP (reports, keyframe requests), on by default.
    pub rtcp: RtcpConfig,
    /// The jitter buffers of frame delivery (`receive_frames`).
    pub jitter: JitterConfig,
    /// Pace `send_frame`'s packets (off by default).
    pub pacer: Option<PacerConfig>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            ice: IceConfig::default(),
            certificate: None,
            srtp_profiles: SrtpProfile::DEFAULT_PREFERENCE.to_vec(),
            dtls_role: DtlsRolePreference::Auto,
            max_bundle: false,
            rtcp: RtcpConfig::default(),
            jitter: JitterConfig::default(),
            pacer: None,
        }
    }
}

/// Counters, readable at any time.
#[derive(Default)]
pub struct Stats {
    pub rtp_packets_sent: AtomicU64,
    pub rtp_bytes_sent: AtomicU64,
    pub rtp_packets_received: AtomicU64,
    pub rtp_bytes_received: AtomicU64,
    pub rtcp_packets_sent: AtomicU64,
    pub rtcp_packets_received: AtomicU64,
    /// SRTP/SRTCP packets that failed authentication or replay checks.
    pub srtp_unprotect_failures: AtomicU64,
    /// Decrypted RTP packets that no track claims (unknown SSRC, mid and payload type).
    pub rtp_unroutable: AtomicU64,
    /// Media datagrams that arrived before SRTP keys existed, or were malformed.
    pub datagrams_dropped: AtomicU64,
    /// Packets (and their RTP bytes) sent again for the peer's NACKs, over RTX or plainly.
    pub retransmitted_packets_sent: AtomicU64,
    pub retransmitted_bytes_sent: AtomicU64,
    /// NACKed packets not sent again: no longer in the history (or never sent), and those
    /// held back by the per-packet interval or the retransmission budget.
    pub nack_requests_unanswered: AtomicU64,
    pub nack_requests_limited: AtomicU64,
    /// RTX packets unwrapped to their original stream, and RTX packets dropped (padding
    /// only, or no original stream known).
    pub rtx_packets_received: AtomicU64,
    pub rtx_packets_dropped: AtomicU64,
    /// Complete frames handed to the host (frame delivery on).
    pub frames_received: AtomicU64,
    /// Packets not given a jitter buffer: their source would exceed `MAX_FRAME_SOURCES`.
    pub frame_packets_dropped: AtomicU64,
    /// Packets the pacer could not send when their turn came (the session closed, ...).
    pub paced_packets_dropped: AtomicU64,
}

/// The send side of a track as the fast path sees it.
struct SendTrack {
    ssrc: u32,
    kind: MediaKind,
    can_send: bool,
    negotiated: bool,
    /// The peer accepts PLI / FIR for what it sends on this track (negotiated rtcp-fb).
    peer_pli: bool,
    peer_fir: bool,
    /// For sender reports; kept across renegotiations like the sequence number.
    counters: Arc<feedback::SendCounters>,
    /// The send history and RTX sequence, for a video track whose peer negotiated generic
    /// NACK (and NACK is on); kept across renegotiations.
    resend: Option<Arc<Mutex<feedback::Resender>>>,
    /// The RTX SSRC and, per primary payload type, its RTX payload type, when negotiated.
    rtx: Option<(u32, Vec<(u8, u8)>)>,
    direction: Direction,
    payload_types: Vec<u8>,
    mid: String,
    mid_extension_id: Option<u8>,
    /// The negotiated codecs by payload type, in the negotiation's order, and whether each is
    /// H.264 in packetization mode 0 (single NAL units only).
    codecs: Vec<(u8, Codec, bool)>,
    /// Which of them `send_media` and `send_frame` send (`set_send_codec`; the first by
    /// default), kept across renegotiations while still negotiated.
    send_index: std::sync::atomic::AtomicUsize,
    /// The transport-wide sequence number extension's id and the session's send log, when
    /// negotiated (transport-cc on).
    twcc: Option<(u8, Arc<SendLog>)>,
    sequence: AtomicU16,
}

impl SendTrack {
    /// The payload type and codec `send_media` and `send_frame` send.
    fn send_codec(&self) -> Option<(u8, Codec)> {
        self.send_format().map(|(pt, c, _)| (pt, c))
    }

    fn send_format(&self) -> Option<(u8, Codec, bool)> {
        self.codecs.get(self.send_index.load(Ordering::Relaxed)).or(self.codecs.first()).copied()
    }

    /// Clock rate of the codec sent (90 kHz before negotiation).
    fn clock_rate(&self) -> u32 {
        self.send_codec().map_or(90_000, |(_, c)| c.clock_rate())
    }

    /// Numbers the packet whose header is `buf[..header_len]` on the transport, when
    /// negotiated (the extension placed in the header), then writes `payload` after the
    /// header. Returns the packet's and header's lengths.
    fn number(&self, buf: &mut [u8], header_len: usize, payload: &[&[u8]], at_us: u64) -> (usize, usize) {
        let mut h = header_len;
        let mut seq_at = None;
        if let Some((id, _)) = &self.twcc {
            if let Some((nh, at)) = rtp::add_transport_sequence(buf, header_len, *id) {
                h = nh;
                seq_at = Some(at);
            }
        }
        let mut len = h;
        for part in payload {
            buf[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        if let (Some(at), Some((_, log))) = (seq_at, &self.twcc) {
            let seq = log.record(len, at_us);
            buf[at..at + 2].copy_from_slice(&seq.to_be_bytes());
        }
        (len, h)
    }

    /// Keeps a packet as sent (plain, with the track's SSRC) for the peer's NACKs.
    fn remember(&self, packet: &[u8], now: Instant) {
        if let Some(r) = &self.resend {
            let seq = u16::from_be_bytes([packet[2], packet[3]]);
            let mut r = r.lock();
            let stored = r.history.store(seq, packet, now);
            rtp::set_ssrc(stored, self.ssrc);
        }
    }
}

/// Routing tables, rebuilt whenever a negotiation completes.
#[derive(Default)]
struct Routes {
    tracks: FastMap<u32, Arc<SendTrack>>,
    by_ssrc: FastMap<u32, u32>,
    by_mid: FastMap<Vec<u8>, u32>,
    /// Payload types that belong to exactly one receiving track.
    by_payload_type: FastMap<u8, u32>,
    /// What the receive path needs of each negotiated payload type.
    payloads: FastMap<u8, PayloadInfo>,
    /// The peer's retransmission SSRCs and the primary SSRC each repairs (`ssrc-group:FID`).
    rtx_primary: FastMap<u32, u32>,
    mid_extension_id: Option<u8>,
    /// The transport-wide sequence number extension, when negotiated (one for the bundle).
    twcc_extension_id: Option<u8>,
}

/// A received payload type: its clock (for jitter), whether gaps are NACKed, and for an RTX
/// format the payload type it carries.
#[derive(Debug, Clone, Copy)]
pub(super) struct PayloadInfo {
    clock_rate: u32,
    /// The payload format (None for a payload type not negotiated).
    codec: Option<Codec>,
    nack: bool,
    apt: Option<u8>,
}

const UNKNOWN_PAYLOAD: PayloadInfo = PayloadInfo { clock_rate: 90_000, codec: None, nack: false, apt: None };

/// Facts about the connection, for getters and state transitions.
struct Transport {
    state: ConnectionState,
    ice_state: IceState,
    dtls_connected: bool,
    dtls_started: bool,
    failure: Option<String>,
    srtp_profile: Option<SrtpProfile>,
    dtls_role: Option<DtlsRole>,
    dtls_version: Option<&'static str>,
    /// Where the last DTLS datagram came from: replies go there until ICE selects a pair.
    dtls_peer: Option<SocketAddr>,
    /// DTLS datagrams that arrived before the remote description set up the endpoint.
    early_dtls: Vec<(Vec<u8>, SocketAddr)>,
}

struct Gathering {
    state: GatheringState,
    candidates: Vec<String>,
}

pub struct Session {
    config: SessionConfig,
    certificate: Certificate,
    dtls_context: Arc<DtlsContext>,
    ice: Arc<IceTransport>,
    emitter: Emitter,
    signaling: Mutex<negotiate::Signaling>,
    routes: RwLock<Routes>,
    dtls: Mutex<Option<DtlsEndpoint>>,
    srtp_tx: Mutex<Option<SrtpSender>>,
    srtp_rx: Mutex<Option<SrtpReceiver>>,
    transport: Mutex<Transport>,
    gathering: Mutex<Gathering>,
    /// Data channels; locked before `dtls` when both are needed.
    data: Mutex<data::DataChannels>,
    /// Wakes the SCTP timer task (earlier deadline, or the session ended).
    data_timer: Arc<tokio::sync::Notify>,
    /// SCTP packets were taken in during this receive batch; `on_batch_end` runs the output.
    sctp_dirty: AtomicBool,
    /// The RTCP engine (reports, keyframe requests, NACKs), its timer's flag and wake-up
    /// (a new NACK deadline, or the session closed).
    rtcp: Mutex<feedback::RtcpState>,
    rtcp_running: AtomicBool,
    rtcp_wake: Arc<tokio::sync::Notify>,
    /// Our transport-wide sequence numbers (made when first negotiated, kept across
    /// renegotiations: one numbering per transport).
    send_log: OnceCell<Arc<SendLog>>,
    /// Frame delivery (`receive_frames`) and its jitter buffers.
    frames_on: AtomicBool,
    frames: frames::FrameReceiver,
    pacer: Option<pacer::Pacer>,
    closed: AtomicBool,
    /// This session's number in log messages.
    log_id: u32,
    me: once_cell::sync::OnceCell<Weak<Session>>,
    pub stats: Stats,
}

impl Session {
    pub fn new(config: SessionConfig) -> Result<Arc<Self>> {
        let pacer_config = config.pacer;
        crate::logging::init_from_env();
        runtime::check_running()?;
        let log_id = NEXT_LOG_ID.fetch_add(1, Ordering::Relaxed);
        let certificate = match &config.certificate {
            Some(c) => c.clone(),
            None => Certificate::generate()?,
        };
        let dtls_context = DtlsContext::shared(&config.srtp_profiles)?;
        let ice = Arc::new(runtime::block_on(IceTransport::new(config.ice.clone()))?);
        let mut signaling = negotiate::Signaling::new(&ice.local_ufrag, &ice.local_pwd, certificate.fingerprint().to_string());
        signaling.max_bundle = config.max_bundle;
        signaling.keyframe_feedback = config.rtcp.keyframe_requests;
        signaling.nack = config.rtcp.nack;
        signaling.transport_cc = config.rtcp.transport_cc;
        let rtcp = Mutex::new(feedback::RtcpState::new(signaling.cname(), config.rtcp.bandwidth));
        let session = Arc::new(Session {
            config,
            certificate,
            dtls_context,
            ice,
            emitter: Emitter::new(),
            signaling: Mutex::new(signaling),
            routes: RwLock::new(Routes::default()),
            dtls: Mutex::new(None),
            srtp_tx: Mutex::new(None),
            srtp_rx: Mutex::new(None),
            transport: Mutex::new(Transport {
                state: ConnectionState::New,
                ice_state: IceState::New,
                dtls_connected: false,
                dtls_started: false,
                failure: None,
                srtp_profile: None,
                dtls_role: None,
                dtls_version: None,
                dtls_peer: None,
                early_dtls: Vec::new(),
            }),
            gathering: Mutex::new(Gathering { state: GatheringState::New, candidates: Vec::new() }),
            data: Mutex::new({
                let mut d = data::DataChannels::default();
                d.log_id = log_id;
                d
            }),
            data_timer: Arc::new(tokio::sync::Notify::new()),
            sctp_dirty: AtomicBool::new(false),
            rtcp,
            rtcp_running: AtomicBool::new(false),
            rtcp_wake: Arc::new(tokio::sync::Notify::new()),
            send_log: OnceCell::new(),
            frames_on: AtomicBool::new(false),
            frames: Default::default(),
            pacer: pacer_config.map(pacer::Pacer::new),
            closed: AtomicBool::new(false),
            log_id,
            me: once_cell::sync::OnceCell::new(),
            stats: Stats::default(),
        });
        let _ = session.me.set(Arc::downgrade(&session));
        let weak: Weak<dyn TransportHandler> = Arc::downgrade(&session) as Weak<dyn TransportHandler>;
        session.ice.attach(weak);
        Ok(session)
    }

    pub fn set_event_handler(&self, handler: Option<Arc<dyn EventHandler>>) {
        self.emitter.set_handler(handler);
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(error::closed("the session is closed"))
        } else {
            Ok(())
        }
    }

    /// NotConnected until SRTP keys exist.
    fn check_media_ready(&self) -> Result<()> {
        if self.srtp_tx.lock().is_none() {
            return Err(media_not_ready());
        }
        Ok(())
    }

    // ---- tracks and descriptions ----------------------------------------------------------

    /// Adds a track that sends and/or receives `codecs` (in preference order); returns its id.
    pub fn add_track(&self, kind: MediaKind, codecs: &[Codec], direction: Direction) -> Result<u32> {
        self.check_open()?;
        if codecs.is_empty() {
            return Err(error::invalid_argument("a track needs at least one codec"));
        }
        if let Some(c) = codecs.iter().find(|c| c.kind() != kind) {
            return Err(error::invalid_argument(format!(
                "codec {} is {} but the track is {}",
                c.encoding_name(),
                c.kind().sdp_name(),
                kind.sdp_name()
            )));
        }
        if direction == Direction::Inactive {
            return Err(error::invalid_argument("a track must send, receive or both"));
        }
        let mut sig = self.signaling.lock();
        let id = sig.add_track(kind, codecs, direction)?;
        let routes = self.build_routes(&sig);
        drop(sig);
        *self.routes.write() = routes;
        Ok(id)
    }

    pub fn create_offer(&self) -> Result<String> {
        self.check_open()?;
        let mut sig = self.signaling.lock();
        let d = sig.create_offer()?;
        Ok(self.render(&d))
    }

    pub fn create_answer(&self) -> Result<String> {
        self.check_open()?;
        let mut sig = self.signaling.lock();
        let d = sig.create_answer(self.config.dtls_role)?;
        Ok(self.render(&d))
    }

    fn render(&self, d: &LocalDescription) -> String {
        let g = self.gathering.lock();
        d.render(&g.candidates, g.state == GatheringState::Complete)
    }

    /// The local description currently applied, with every candidate gathered so far.
    pub fn local_description(&self) -> Result<String> {
        let sig = self.signaling.lock();
        let d = sig.local_description().ok_or_else(|| error::not_available("no local description is set"))?;
        Ok(self.render(d))
    }

    pub fn remote_description(&self) -> Result<String> {
        let sig = self.signaling.lock();
        sig.remote_text().map(str::to_owned).ok_or_else(|| error::not_available("no remote description is set"))
    }

    pub fn set_local_description(&self, kind: SdpType, sdp: Option<&str>) -> Result<()> {
        self.check_open()?;
        let mut sig = self.signaling.lock();
        let outcome = sig.set_local(kind, sdp)?;
        self.after_negotiation_step(sig, outcome)
    }

    pub fn set_remote_description(&self, kind: SdpType, sdp: &str) -> Result<()> {
        self.check_open()?;
        let mut sig = self.signaling.lock();
        let outcome = sig.set_remote(kind, sdp).inspect_err(|e| {
            crate::wlog!(Info, Session, "session {}: remote {:?} refused: {}", self.log_id, kind, e.message());
        })?;
        crate::wlog!(Debug, Session, "session {}: remote {:?} applied", self.log_id, kind);
        self.after_negotiation_step(sig, outcome)
    }

    /// Applies what a description step decided: routes, transport start, candidates, events.
    fn after_negotiation_step(
        &self,
        sig: parking_lot::MutexGuard<'_, negotiate::Signaling>,
        outcome: negotiate::Outcome,
    ) -> Result<()> {
        let routes = self.build_routes(&sig);
        let remote = sig.remote_description().cloned();
        drop(sig);
        let reporter = routes.tracks.iter().min_by_key(|(id, _)| **id).map(|(_, t)| t.ssrc);
        *self.routes.write() = routes;
        if let Some(ssrc) = reporter {
            self.rtcp.lock().reporter = ssrc;
        }
        self.emitter.post_all(outcome.events);
        if outcome.gather {
            let started = {
                let mut g = self.gathering.lock();
                let first = g.state == GatheringState::New;
                if first {
                    g.state = GatheringState::Gathering;
                    // Queued before gathering starts: its candidates and COMPLETE come after.
                    self.emitter.post(OwnedEvent::GatheringState(GatheringState::Gathering));
                }
                first
            };
            if started {
                if let Err(e) = self.ice.gather() {
                    self.emitter.flush();
                    return Err(e);
                }
            }
        }
        if let Some(remote) = &remote {
            if outcome.add_remote_candidates {
                self.add_candidates_from(remote);
            }
        }
        if let Some(reason) = outcome.data_refused {
            self.with_data(|d, _, out| {
                d.fail(reason, out);
                Ok(())
            })?;
        }
        if let (Some(params), Some(start)) = (outcome.data, outcome.start_transport) {
            self.configure_data(start.dtls_role, params.max_message_size);
        }
        let started = match (outcome.start_transport, &remote) {
            (Some(start), Some(remote)) => self.start_transport(start, remote),
            _ => Ok(()),
        };
        self.emitter.flush();
        started
    }

    fn add_candidates_from(&self, remote: &RemoteDescription) {
        for m in remote.media.iter().filter(|m| !m.rejected) {
            for c in &m.candidates {
                // A candidate the agent cannot parse is skipped, as a browser skips it.
                let _ = self.ice.add_remote_candidate(c);
            }
        }
    }

    fn start_transport(&self, start: negotiate::TransportStart, remote: &RemoteDescription) -> Result<()> {
        // Under the DTLS lock, so a datagram cannot slip into `early_dtls` after it was taken.
        let early = {
            let mut dtls = self.dtls.lock();
            if dtls.is_none() {
                *dtls = Some(DtlsEndpoint::new(&self.dtls_context, &self.certificate, start.dtls_role, remote.fingerprint.clone())?);
                let mut t = self.transport.lock();
                t.dtls_role = Some(start.dtls_role);
                std::mem::take(&mut t.early_dtls)
            } else {
                Vec::new()
            }
        };
        for (d, from) in early {
            self.handle_dtls(&d, from);
        }
        self.ice.start(start.ice_controlling, remote.ice_ufrag.clone(), remote.ice_pwd.clone());
        self.set_state(|t| {
            if t.state == ConnectionState::New {
                t.state = ConnectionState::Connecting;
            }
        });
        // ICE may have connected already (the peer's checks reach us first).
        self.start_dtls_if_ready();
        Ok(())
    }

    /// Adds a trickled remote candidate; an empty line (or `end-of-candidates`) ends trickling.
    pub fn add_remote_candidate(&self, candidate: &str) -> Result<()> {
        self.check_open()?;
        let c = candidate.trim();
        if c.is_empty() || c == "end-of-candidates" || c == "a=end-of-candidates" {
            return Ok(());
        }
        if self.signaling.lock().remote_description().is_none() {
            return Err(error::invalid_state("add_remote_candidate needs a remote description first"));
        }
        let added = self.ice.add_remote_candidate(c).map(|_| ());
        match &added {
            Ok(()) => crate::wlog!(Debug, Ice, "session {}: remote candidate {}", self.log_id, c),
            Err(e) => crate::wlog!(Info, Ice, "session {}: remote candidate refused ({}): {}", self.log_id, e.message(), c),
        }
        added
    }

    fn build_routes(&self, sig: &negotiate::Signaling) -> Routes {
        let old = self.routes.read();
        let mut r = Routes::default();
        let mut pt_owner: HashMap<u8, Option<u32>> = HashMap::new();
        for t in sig.transceivers() {
            let negotiated = t.current.as_ref();
            let direction = negotiated.map(|n| n.direction).unwrap_or(t.direction);
            let payload_types: Vec<u8> = negotiated.map(|n| n.codecs.iter().map(|c| c.payload_type).collect()).unwrap_or_default();
            let mid_extension_id = negotiated.and_then(|n| n.mid_extension_id);
            let twcc = negotiated
                .and_then(|n| n.twcc_extension_id)
                .filter(|_| self.config.rtcp.transport_cc)
                .map(|id| (id, Arc::clone(self.send_log.get_or_init(Default::default))));
            // Keep the sequence counter and the report counters across renegotiations.
            let seq = old.tracks.get(&t.id).map(|s| s.sequence.load(Ordering::Relaxed)).unwrap_or_else(random_u16);
            let counters = old.tracks.get(&t.id).map(|s| Arc::clone(&s.counters)).unwrap_or_default();
            let has_feedback = |fb: &str| negotiated.is_some_and(|n| n.codecs.iter().any(|c| c.has_feedback(fb)));
            let nack_on = self.config.rtcp.nack;
            let peer_nack = nack_on && t.kind == MediaKind::Video && has_feedback("nack");
            let resend = peer_nack.then(|| {
                old.tracks.get(&t.id).and_then(|s| s.resend.clone()).unwrap_or_else(|| {
                    Arc::new(Mutex::new(feedback::Resender::new(self.config.rtcp.history_packets, self.config.rtcp.history_age)))
                })
            });
            let rtx_pts: Vec<(u8, u8)> = negotiated
                .map(|n| n.codecs.iter().filter_map(|c| c.rtx.map(|x| (c.payload_type, x))).collect())
                .unwrap_or_default();
            let rtx = (peer_nack && !rtx_pts.is_empty()).then(|| (t.rtx_ssrc, rtx_pts.clone()));
            if let Some(n) = negotiated {
                for c in &n.codecs {
                    let clock_rate = c.codec.clock_rate();
                    r.payloads.insert(c.payload_type, PayloadInfo { clock_rate, codec: Some(c.codec), nack: nack_on && c.has_feedback("nack"), apt: None });
                    if let Some(x) = c.rtx.filter(|_| nack_on) {
                        r.payloads.insert(x, PayloadInfo { clock_rate, codec: Some(c.codec), nack: false, apt: Some(c.payload_type) });
                    }
                }
            }
            r.tracks.insert(
                t.id,
                Arc::new(SendTrack {
                    ssrc: t.ssrc,
                    kind: t.kind,
                    peer_pli: has_feedback("nack pli"),
                    peer_fir: has_feedback("ccm fir"),
                    counters,
                    resend,
                    rtx,
                    can_send: negotiated.is_some() && direction.sends() && !payload_types.is_empty(),
                    negotiated: negotiated.is_some(),
                    direction,
                    payload_types: payload_types.clone(),
                    mid: t.mid.clone().unwrap_or_default(),
                    mid_extension_id,
                    send_index: {
                        // The host's choice survives a renegotiation that keeps its payload type.
                        let chosen = old.tracks.get(&t.id).and_then(|s| s.send_codec()).filter(|_| old.tracks.get(&t.id).is_some_and(|s| s.send_index.load(Ordering::Relaxed) != 0));
                        let i = chosen.and_then(|(pt, _)| negotiated.and_then(|n| n.codecs.iter().position(|c| c.payload_type == pt)));
                        std::sync::atomic::AtomicUsize::new(i.unwrap_or(0))
                    },
                    codecs: negotiated
                        .map(|n| {
                            n.codecs
                                .iter()
                                .map(|c| {
                                    let single = c.codec == Codec::H264 && crate::negotiation::h264_packetization_mode(c.fmtp.as_deref()) == 0;
                                    (c.payload_type, c.codec, single)
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    twcc,
                    sequence: AtomicU16::new(seq),
                }),
            );
            let Some(n) = negotiated else { continue };
            if !n.direction.receives() {
                continue;
            }
            if mid_extension_id.is_some() {
                r.mid_extension_id = mid_extension_id;
            }
            if let Some(id) = n.twcc_extension_id.filter(|_| self.config.rtcp.transport_cc) {
                r.twcc_extension_id = Some(id);
            }
            if let Some(mid) = &t.mid {
                r.by_mid.insert(mid.as_bytes().to_vec(), t.id);
            }
            for ssrc in &n.remote_ssrcs {
                r.by_ssrc.insert(*ssrc, t.id);
            }
            if nack_on {
                for (primary, rtx) in &n.remote_rtx {
                    r.by_ssrc.insert(*rtx, t.id);
                    r.rtx_primary.insert(*rtx, *primary);
                }
            }
            let rtx_receive = rtx_pts.iter().map(|(_, x)| *x).filter(|_| nack_on);
            for pt in payload_types.into_iter().chain(rtx_receive) {
                pt_owner.entry(pt).and_modify(|o| *o = None).or_insert(Some(t.id));
            }
        }
        // SSRCs learned from traffic stay routed while their track still receives.
        for (ssrc, id) in &old.by_ssrc {
            if r.by_mid.values().any(|t| t == id) || r.by_ssrc.values().any(|t| t == id) {
                r.by_ssrc.entry(*ssrc).or_insert(*id);
            }
        }
        r.by_payload_type = pt_owner.into_iter().filter_map(|(pt, o)| o.map(|id| (pt, id))).collect();
        r
    }

    // ---- sending ----------------------------------------------------------------------------

    /// The track if it may send now, checked under the caller's routes lock (no clone).
    fn sendable(routes: &Routes, track: u32) -> Result<&SendTrack> {
        let t = routes.tracks.get(&track).ok_or_else(|| error::unknown_track(format!("track {track} does not exist in this session")))?;
        if !t.can_send {
            return Err(if !t.negotiated {
                error::invalid_state(format!("track {track} is not negotiated yet: complete an offer/answer first"))
            } else {
                error::invalid_state(format!("track {track} does not send (negotiated direction {})", t.direction.sdp_name()))
            });
        }
        Ok(t)
    }

    /// Checks a host-built RTP packet against its track; returns the track's SSRC, the
    /// packet's header length and its RTP timestamp.
    fn check_rtp<'r>(routes: &'r Routes, track: u32, packet: &[u8]) -> Result<(&'r SendTrack, usize, u32)> {
        let t = Self::sendable(routes, track)?;
        let header = RtpHeader::parse(packet)?;
        if !t.payload_types.contains(&header.payload_type()) {
            return Err(error::packet_rejected(format!(
                "payload type {} is not negotiated for track {track} (negotiated: {:?})",
                header.payload_type(),
                t.payload_types
            )));
        }
        if packet.len() > MAX_PACKET_LEN {
            return Err(error::packet_rejected(format!(
                "RTP packet of {} bytes exceeds the {MAX_PACKET_LEN}-byte limit",
                packet.len()
            )));
        }
        Ok((t, header.header_len, header.timestamp()))
    }

    /// Protects and sends a host-built RTP packet on `track`. The SSRC is set to the track's; the
    /// payload type must be one negotiated for the track.
    pub fn send_rtp(&self, track: u32, packet: &[u8]) -> Result<()> {
        self.check_open()?;
        let mut buf = [0u8; PROTECT_ROOM];
        let (len, header_len) = {
            let routes = self.routes.read();
            let (t, header_len, ts) = Self::check_rtp(&routes, track, packet)?;
            let now = Instant::now();
            let at_us = feedback::clock_us(now);
            t.counters.sent(packet.len() - header_len, ts, at_us);
            buf[..header_len].copy_from_slice(&packet[..header_len]);
            rtp::set_ssrc(&mut buf, t.ssrc);
            let (len, header_len) = t.number(&mut buf, header_len, &[&packet[header_len..]], at_us);
            t.remember(&buf[..len], now);
            (len, header_len)
        };
        self.protect_and_send_rtp(&mut buf, len, header_len)
    }

    /// Sends many host-built RTP packets (of one or several tracks) in one call: all are checked
    /// first (nothing is sent if one is refused), then protected into one buffer and sent with
    /// UDP GSO where the kernel has it (runs of equal-size packets in one `sendmsg`).
    pub fn send_rtp_batch(&self, packets: &[(u32, &[u8])]) -> Result<()> {
        self.check_open()?;
        BATCH.with(|scratch| {
            // A thread's scratch buffers are reused across calls: no allocation per packet.
            let mut scratch = scratch.borrow_mut();
            let Batch { out, lens, checked } = &mut *scratch;
            out.clear();
            lens.clear();
            checked.clear();
            let mut bytes = 0u64;
            {
                let routes = self.routes.read();
                for (i, (track, p)) in packets.iter().enumerate() {
                    let (t, header_len, ts) = Self::check_rtp(&routes, *track, p)
                        .map_err(|e| error::Error::new(e.kind(), format!("packet {i} of the batch: {}", e.message())))?;
                    checked.push((t.ssrc, header_len, ts));
                }
                // All are accepted: count them for the sender reports, number them on the
                // transport, keep them for NACKs, and protect them in place (the routes lock
                // is taken before the SRTP one, as everywhere).
                let now = Instant::now();
                let at_us = feedback::clock_us(now);
                let mut tx = self.srtp_tx.lock();
                let tx = tx.as_mut().ok_or_else(media_not_ready)?;
                let room = tx.rtp_overhead() + rtp::TRANSPORT_SEQUENCE_ROOM;
                for ((track, p), &(_, header_len, ts)) in packets.iter().zip(checked.iter()) {
                    let Some(t) = routes.tracks.get(track) else { continue };
                    t.counters.sent(p.len() - header_len, ts, at_us);
                    let at = out.len();
                    out.resize(at + p.len() + room, 0);
                    out[at..at + header_len].copy_from_slice(&p[..header_len]);
                    rtp::set_ssrc(&mut out[at..], t.ssrc);
                    let (len, header_len) = t.number(&mut out[at..], header_len, &[&p[header_len..]], at_us);
                    t.remember(&out[at..at + len], now);
                    let n = tx.protect_parsed_rtp(&mut out[at..], len, header_len)?;
                    out.truncate(at + n);
                    lens.push(n);
                    bytes += len as u64;
                }
            }
            self.ice.send_segments(out, lens)?;
            self.stats.rtp_packets_sent.fetch_add(packets.len() as u64, Ordering::Relaxed);
            self.stats.rtp_bytes_sent.fetch_add(bytes, Ordering::Relaxed);
            Ok(())
        })
    }

    /// Builds the RTP header (sequence number, SSRC, first negotiated payload type, mid
    /// extension) around `payload` and sends it on `track`.
    pub fn send_media(&self, track: u32, payload: &[u8], timestamp: u32, marker: bool) -> Result<()> {
        self.check_open()?;
        self.send_payload(track, &[payload], timestamp, marker)
    }

    /// One packet whose payload is `parts` end to end (a payload descriptor and a fragment,
    /// say): header, transport-wide number, history, SRTP, in one stack buffer.
    fn send_payload(&self, track: u32, parts: &[&[u8]], timestamp: u32, marker: bool) -> Result<()> {
        let mut buf = [0u8; PROTECT_ROOM];
        let payload_len: usize = parts.iter().map(|p| p.len()).sum();
        let (len, header_len) = {
            let routes = self.routes.read();
            let t = Self::sendable(&routes, track)?;
            let mid = t.mid_extension_id.map(|id| (id, t.mid.as_bytes()));
            let header_room = rtp::RTP_HEADER_LEN + 4 + 4 * (1 + t.mid.len()).div_ceil(4);
            if payload_len + header_room > MAX_PACKET_LEN {
                return Err(error::packet_rejected(format!(
                    "payload of {payload_len} bytes does not fit a {MAX_PACKET_LEN}-byte RTP packet"
                )));
            }
            let seq = t.sequence.fetch_add(1, Ordering::Relaxed);
            let now = Instant::now();
            let at_us = feedback::clock_us(now);
            t.counters.sent(payload_len, timestamp, at_us);
            let pt = t.send_codec().map_or(t.payload_types[0], |(pt, _)| pt);
            let n = rtp::write_header(&mut buf, pt, marker, seq, timestamp, t.ssrc, mid);
            let (len, header_len) = t.number(&mut buf, n, parts, at_us);
            t.remember(&buf[..len], now);
            (len, header_len)
        };
        self.protect_and_send_rtp(&mut buf, len, header_len)
    }

    /// Sends one encoded frame on `track` with the RTP timestamp `timestamp` (on the codec's
    /// clock), packetized for the track's send codec (`crate::rtp::packetize`; the first
    /// negotiated unless `set_send_codec` chose another): one packet for an audio frame,
    /// RFC 7741 fragments for VP8, RFC 9628 for VP9, RFC 6184 for H.264 (Annex B in), OBU
    /// elements for AV1, the marker on the last. The frame is copied once, into each
    /// packet's SRTP buffer. Errors: PacketRejected (empty, too large, malformed for its
    /// codec, an audio frame over one packet); as `send_media`.
    pub fn send_frame(&self, track: u32, frame: &[u8], timestamp: u32) -> Result<()> {
        self.check_open()?;
        let format = {
            let routes = self.routes.read();
            Self::sendable(&routes, track)?.send_format()
        };
        let (_, codec, single_nal_units) = format.ok_or_else(|| error::invalid_state(format!("track {track} has no negotiated codec")))?;
        let video = codec.kind() == MediaKind::Video;
        if let Some(p) = &self.pacer {
            // Checked now, so a frame that cannot be sent is refused rather than dropped later.
            self.check_media_ready()?;
            return self.pace_frame(p, track, frame.len(), timestamp, |push| {
                crate::rtp::packetize::packetize_with(codec, single_nal_units, frame, |parts, last| push(parts, last && video))
            });
        }
        crate::rtp::packetize::packetize_with(codec, single_nal_units, frame, |parts, last| self.send_payload(track, parts, timestamp, last && video))
    }

    /// Protects `buf[..len]` in place and sends it.
    fn protect_and_send_rtp(&self, buf: &mut [u8], len: usize, header_len: usize) -> Result<()> {
        let n = {
            let mut tx = self.srtp_tx.lock();
            let tx = tx.as_mut().ok_or_else(media_not_ready)?;
            tx.protect_parsed_rtp(buf, len, header_len)?
        };
        self.ice.send(&buf[..n])?;
        self.stats.rtp_packets_sent.fetch_add(1, Ordering::Relaxed);
        self.stats.rtp_bytes_sent.fetch_add(len as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Protects and sends a compound RTCP packet.
    pub fn send_rtcp(&self, packet: &[u8]) -> Result<()> {
        self.check_open()?;
        rtp::validate_rtcp(packet)?;
        if packet.len() > MAX_PACKET_LEN {
            return Err(error::packet_rejected(format!("RTCP packet of {} bytes is too large", packet.len())));
        }
        let mut buf = [0u8; PROTECT_ROOM];
        buf[..packet.len()].copy_from_slice(packet);
        let n = {
            let mut tx = self.srtp_tx.lock();
            let tx = tx.as_mut().ok_or_else(|| error::not_connected("RTCP can be sent once DTLS-SRTP is established"))?;
            tx.protect_rtcp(&mut buf, packet.len())?
        };
        self.ice.send(&buf[..n])?;
        self.stats.rtcp_packets_sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    // ---- receiving --------------------------------------------------------------------------

    /// Unprotects in place with the receive context, counting what cannot be: before keys
    /// exist, or a failed authentication or replay check. Returns the plain length.
    fn unprotect(&self, datagram: &mut [u8], f: impl FnOnce(&mut SrtpReceiver, &mut [u8]) -> Result<usize>) -> Option<usize> {
        let mut rx = self.srtp_rx.lock();
        let Some(rx) = rx.as_mut() else {
            self.stats.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let plain = f(rx, datagram);
        if let Err(e) = &plain {
            self.stats.srtp_unprotect_failures.fetch_add(1, Ordering::Relaxed);
            crate::wlog!(Trace, Srtp, "session {}: packet dropped: {}", self.log_id, e.message());
        }
        plain.ok()
    }

    fn handle_rtp(&self, datagram: &mut [u8]) {
        let Some(n) = self.unprotect(datagram, SrtpReceiver::unprotect_rtp) else { return };
        let (track, apt, rtx) = {
            let plain = &datagram[..n];
            let Ok(header) = RtpHeader::parse(plain) else {
                self.stats.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let Some((track, info, twcc)) = self.route(&header) else {
                self.stats.rtp_unroutable.fetch_add(1, Ordering::Relaxed);
                return;
            };
            if let Some(seq) = twcc.and_then(|id| header.extension(id)).filter(|v| v.len() == 2) {
                self.rtcp_on_transport_sequence(u16::from_be_bytes([seq[0], seq[1]]));
            }
            let Some(apt) = info.apt else {
                self.stats.rtp_packets_received.fetch_add(1, Ordering::Relaxed);
                self.stats.rtp_bytes_received.fetch_add(plain.len() as u64, Ordering::Relaxed);
                if self.config.rtcp.reports || self.config.rtcp.nack {
                    self.rtcp_on_rtp(track, info, &header);
                }
                self.emitter.emit(Event::Rtp { track, packet: plain });
                if let Some(codec) = info.codec.filter(|_| self.receives_frames()) {
                    self.frames_on_rtp(track, codec, plain);
                }
                return;
            };
            // RTX (RFC 4588 §4): the payload starts with the original sequence number; one
            // with no room for it is padding (a bandwidth probe) and carries nothing.
            let payload = header.payload();
            if payload.len() < 2 {
                self.stats.rtx_packets_dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            (track, (apt, info.codec), (header.ssrc(), header.header_len, u16::from_be_bytes([payload[0], payload[1]])))
        };
        let (apt, codec) = apt;
        let (rtx_ssrc, header_len, original_seq) = rtx;
        let Some(primary) = self.rtx_primary(rtx_ssrc, track) else {
            self.stats.rtx_packets_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        // Unwrapped in place: the original payload type, sequence number and SSRC, and the
        // payload (with any padding) moved back over the two bytes.
        datagram.copy_within(header_len + 2..n, header_len);
        let n = n - 2;
        datagram[1] = (datagram[1] & 0x80) | apt;
        datagram[2..4].copy_from_slice(&original_seq.to_be_bytes());
        rtp::set_ssrc(datagram, primary);
        self.stats.rtx_packets_received.fetch_add(1, Ordering::Relaxed);
        self.stats.rtp_packets_received.fetch_add(1, Ordering::Relaxed);
        self.stats.rtp_bytes_received.fetch_add(n as u64, Ordering::Relaxed);
        self.rtcp_on_retransmission(primary, original_seq);
        self.emitter.emit(Event::Rtp { track, packet: &datagram[..n] });
        if let Some(codec) = codec.filter(|_| self.receives_frames()) {
            self.frames_on_rtp(track, codec, &datagram[..n]);
        }
    }

    /// SSRC first, then the mid header extension, then a payload type unique to one track
    /// (RFC 8843 §9.2); what mid or payload type resolved is remembered by SSRC. Returns the
    /// track and what the receive path needs of the packet's payload type.
    fn route(&self, header: &RtpHeader<'_>) -> Option<(u32, PayloadInfo, Option<u8>)> {
        let ssrc = header.ssrc();
        let (learned, info, twcc) = {
            let r = self.routes.read();
            let info = r.payloads.get(&header.payload_type()).copied().unwrap_or(UNKNOWN_PAYLOAD);
            if let Some(t) = r.by_ssrc.get(&ssrc) {
                return Some((*t, info, r.twcc_extension_id));
            }
            let by_mid = r.mid_extension_id.and_then(|id| header.extension(id)).and_then(|mid| r.by_mid.get(mid).copied());
            (by_mid.or_else(|| r.by_payload_type.get(&header.payload_type()).copied())?, info, r.twcc_extension_id)
        };
        self.routes.write().by_ssrc.insert(ssrc, learned);
        Some((learned, info, twcc))
    }

    /// The primary SSRC an RTX SSRC repairs: the peer's `ssrc-group:FID`, or else the source
    /// that last sent on the track.
    fn rtx_primary(&self, rtx_ssrc: u32, track: u32) -> Option<u32> {
        if let Some(p) = self.routes.read().rtx_primary.get(&rtx_ssrc) {
            return Some(*p);
        }
        self.rtcp.lock().engine.latest_source(track).filter(|s| *s != rtx_ssrc)
    }

    fn handle_rtcp(&self, datagram: &mut [u8]) {
        let Some(n) = self.unprotect(datagram, SrtpReceiver::unprotect_rtcp) else { return };
        self.stats.rtcp_packets_received.fetch_add(1, Ordering::Relaxed);
        self.emitter.emit(Event::Rtcp { packet: &datagram[..n] });
        self.rtcp_on_rtcp(&datagram[..n]);
    }

    // ---- DTLS -------------------------------------------------------------------------------

    fn handle_dtls(&self, datagram: &[u8], from: SocketAddr) {
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut records: Vec<Vec<u8>> = Vec::new();
        let result = {
            let mut dtls = self.dtls.lock();
            let Some(ep) = dtls.as_mut() else {
                let mut t = self.transport.lock();
                if t.early_dtls.len() < 16 {
                    t.early_dtls.push((datagram.to_vec(), from));
                }
                return;
            };
            let r = ep.handle_datagram(datagram);
            ep.drain_outgoing(|d| out.push(d.to_vec()));
            while let Some(record) = ep.take_application_data() {
                records.push(record);
            }
            r
        };
        self.transport.lock().dtls_peer = Some(from);
        if matches!(result, Ok(DtlsEvent::Connected(_))) {
            self.ice.set_fallback_remote(from);
        }
        for d in &out {
            let _ = self.ice.send_to(d, from);
        }
        self.on_dtls_result(result);
        if !records.is_empty() {
            if self.ice.signals_batch_end() {
                // Deferred to the end of the receive batch (`on_batch_end`): one SCTP transmit
                // pass per batch instead of one per packet.
                let mut d = self.data.lock();
                let now = Instant::now();
                for r in &records {
                    if d.handle_packet_deferred(now, r) {
                        self.sctp_dirty.store(true, Ordering::Release);
                    }
                }
            } else {
                let _ = self.with_data(|d, now, out| {
                    for r in &records {
                        d.handle_packet(now, r, out);
                    }
                    Ok(())
                });
            }
        }
    }

    fn on_dtls_result(&self, result: Result<DtlsEvent>) {
        match result {
            Ok(DtlsEvent::Nothing) => {}
            Ok(DtlsEvent::Connected(keys)) => match srtp::contexts(&keys) {
                Ok((tx, rx)) => {
                    *self.srtp_tx.lock() = Some(tx);
                    *self.srtp_rx.lock() = Some(rx);
                    self.start_rtcp();
                    let version = self.dtls.lock().as_ref().map(|d| d.version());
                    crate::wlog!(Info, Dtls, "session {}: DTLS connected ({}), SRTP {:?}", self.log_id, version.unwrap_or("?"), keys.profile);
                    self.set_state(|t| {
                        t.dtls_connected = true;
                        t.srtp_profile = Some(keys.profile);
                        t.dtls_version = version;
                        if t.ice_state == IceState::Connected {
                            t.state = ConnectionState::Connected;
                        }
                    });
                    let _ = self.with_data(|d, now, out| {
                        d.start(now, out);
                        Ok(())
                    });
                }
                Err(e) => self.fail(e.message().to_string()),
            },
            Ok(DtlsEvent::PeerClosed) => {
                let _ = self.with_data(|d, _, out| {
                    d.close_all(out);
                    Ok(())
                });
                self.set_state(|t| {
                    t.failure.get_or_insert_with(|| "the peer closed the DTLS association".into());
                    t.state = ConnectionState::Closed;
                })
            }
            Err(e) => self.fail(e.message().to_string()),
        }
    }

    fn fail(&self, reason: String) {
        crate::wlog!(Warn, Dtls, "session {}: DTLS/SRTP set-up failed: {}", self.log_id, reason);
        *self.srtp_tx.lock() = None;
        *self.srtp_rx.lock() = None;
        let _ = self.with_data(|d, _, out| {
            d.fail(reason.clone(), out);
            Ok(())
        });
        self.set_state(|t| {
            t.failure.get_or_insert(reason);
            t.state = ConnectionState::Failed;
        });
    }

    /// Starts the DTLS handshake once ICE has a pair and the endpoint exists; as client this
    /// sends the ClientHello. Both roles run the retransmission timer task.
    fn start_dtls_if_ready(&self) {
        if self.ice.remote_address().is_none() {
            return; // called again when ICE selects a pair
        }
        let begin = {
            let dtls = self.dtls.lock();
            let mut t = self.transport.lock();
            if dtls.is_none() || t.dtls_started {
                false
            } else {
                t.dtls_started = true;
                true
            }
        };
        if !begin {
            return;
        }
        crate::wlog!(Debug, Dtls, "session {}: DTLS handshake starting with {:?}", self.log_id, self.ice.remote_address());
        let mut out = Vec::new();
        let result = {
            let mut dtls = self.dtls.lock();
            let Some(ep) = dtls.as_mut() else { return };
            let r = if ep.role() == DtlsRole::Client { ep.start() } else { Ok(DtlsEvent::Nothing) };
            ep.drain_outgoing(|d| out.push(d.to_vec()));
            r
        };
        for d in &out {
            let _ = self.ice.send(d);
        }
        self.on_dtls_result(result);
        self.spawn_dtls_timer();
    }

    fn spawn_dtls_timer(&self) {
        let weak = self.self_weak();
        runtime::spawn(async move {
            loop {
                let wait = {
                    let Some(s) = live(&weak) else { return };
                    let dtls = s.dtls.lock();
                    match dtls.as_ref() {
                        Some(ep) if !ep.is_connected() => ep.next_timeout().unwrap_or(Duration::from_millis(100)),
                        _ => return,
                    }
                };
                tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                let Some(s) = weak.upgrade() else { return };
                let mut out = Vec::new();
                let result = {
                    let mut dtls = s.dtls.lock();
                    let Some(ep) = dtls.as_mut() else { return };
                    if ep.is_connected() {
                        return;
                    }
                    let r = ep.handle_timeout();
                    ep.drain_outgoing(|d| out.push(d.to_vec()));
                    r
                };
                let peer = s.transport.lock().dtls_peer;
                for d in &out {
                    let _ = match peer {
                        Some(p) => s.ice.send_to(d, p),
                        None => s.ice.send(d),
                    };
                }
                if let Err(e) = result {
                    s.fail(e.message().to_string());
                    return;
                }
            }
        });
    }

    fn self_weak(&self) -> Weak<Session> {
        self.me.get().cloned().unwrap_or_default()
    }

    // ---- data channels ----------------------------------------------------------------------

    /// Runs a data channel operation: the SCTP packets it produced go out through DTLS (under
    /// the data lock, so they leave in the order SCTP made them), its events are queued in that
    /// order too, and the timer task learns of an earlier deadline.
    fn with_data<R>(&self, f: impl FnOnce(&mut data::DataChannels, Instant, &mut data::Output) -> Result<R>) -> Result<R> {
        let mut out = data::Output::default();
        let (r, dtls) = {
            let mut d = self.data.lock();
            let r = f(&mut d, Instant::now(), &mut out);
            if let Some(t) = d.poll_timeout() {
                if d.scheduled.map_or(true, |s| t < s) {
                    d.scheduled = Some(t);
                    self.data_timer.notify_one();
                }
            }
            if !out.events.is_empty() {
                self.emitter.post_all(std::mem::take(&mut out.events));
            }
            // Hand over hand: the DTLS lock is taken before the data lock is released, so
            // packets go into DTLS in the order SCTP made them, while the other thread can
            // already run SCTP again during the encryption.
            let dtls = (!out.packets.is_empty()).then(|| self.dtls.lock());
            (r, dtls)
        };
        if let Some(dtls) = dtls {
            self.send_sctp_packets(dtls, &out.packets);
        }
        self.emitter.flush();
        r
    }

    /// SCTP packets as DTLS application data records, to the selected pair.
    fn send_sctp_packets(&self, mut dtls: parking_lot::MutexGuard<'_, Option<DtlsEndpoint>>, packets: &[Vec<u8>]) {
        let mut datagrams = Vec::with_capacity(packets.len());
        {
            let Some(ep) = dtls.as_mut() else { return };
            for p in packets {
                if ep.send_application_data(p).is_err() {
                    break;
                }
                ep.drain_outgoing(|d| datagrams.push(d.to_vec()));
            }
        }
        drop(dtls);
        for d in &datagrams {
            let _ = self.ice.send(d);
        }
    }

    /// Offer and answer agreed on data channels: the association gets our DTLS role, waiting
    /// channels their stream ids, and the timer task starts. If DTLS is up already (data added
    /// by a renegotiation), the association starts too.
    fn configure_data(&self, role: DtlsRole, remote_max_message_size: u32) {
        let fresh = !self.data.lock().is_configured();
        let dtls_up = self.transport.lock().dtls_connected;
        let _ = self.with_data(|d, now, out| {
            d.configure(now, role == DtlsRole::Client, remote_max_message_size, out);
            if dtls_up {
                d.start(now, out);
            }
            Ok(())
        });
        if fresh {
            self.spawn_sctp_timer();
        }
    }

    /// One task per session with data channels: sleeps until the association's next timer
    /// (retransmission, delayed ack, heartbeat) or until an operation set an earlier one.
    fn spawn_sctp_timer(&self) {
        let weak = self.self_weak();
        let notify = Arc::clone(&self.data_timer);
        runtime::spawn(async move {
            loop {
                let deadline = {
                    let Some(s) = live(&weak) else { return };
                    let mut d = s.data.lock();
                    let t = d.poll_timeout();
                    d.scheduled = t;
                    t
                };
                match deadline {
                    Some(t) => {
                        let _ = tokio::time::timeout_at(tokio::time::Instant::from_std(t), notify.notified()).await;
                    }
                    None => notify.notified().await,
                }
                let Some(s) = weak.upgrade() else { return };
                let _ = s.with_data(|d, now, out| {
                    if d.poll_timeout().is_some_and(|t| t <= now) {
                        d.handle_timeout(now, out);
                    }
                    Ok(())
                });
            }
        });
    }

    /// Creates a data channel (RTCPeerConnection.createDataChannel); returns its key. The
    /// first one asks for a data section in the next offer; the channel opens once the
    /// association is up (at once if it is), with `ChannelOpen`.
    pub fn create_data_channel(&self, options: ChannelOptions) -> Result<u32> {
        self.check_open()?;
        self.signaling.lock().want_data();
        self.with_data(|d, now, out| d.create(now, options, out))
    }

    /// Sends one message; `text` marks a string message (the bytes are sent as given).
    /// Errors: InvalidState (not open), PacketRejected (past the peer's max-message-size),
    /// LimitReached (the channel's buffered amount would pass 16 MB).
    pub fn send_data(&self, channel: u32, data: &[u8], text: bool) -> Result<()> {
        self.check_open()?;
        self.with_data(|d, now, out| d.send(now, channel, data, text, out))
    }

    /// Closes a channel by resetting its stream; `ChannelClosed` follows.
    pub fn close_data_channel(&self, channel: u32) -> Result<()> {
        self.with_data(|d, now, out| d.close(now, channel, out))
    }

    pub fn data_channel_info(&self, channel: u32) -> Result<DataChannelInfo> {
        self.data.lock().info(channel)
    }

    pub fn data_counters(&self) -> DataCounters {
        self.data.lock().counters()
    }

    pub fn data_channel_state(&self, channel: u32) -> Result<ChannelState> {
        self.data.lock().state(channel)
    }

    pub fn data_channel_buffered_amount(&self, channel: u32) -> Result<usize> {
        self.data.lock().buffered_amount(channel)
    }

    pub fn set_data_channel_buffered_amount_low_threshold(&self, channel: u32, threshold: usize) -> Result<()> {
        self.data.lock().set_low_threshold(channel, threshold)
    }

    // ---- state ------------------------------------------------------------------------------

    /// Applies `change` to the transport facts and emits the connection state if it changed.
    /// Failed and Closed are final (Failed may still become Closed).
    fn set_state(&self, change: impl FnOnce(&mut Transport)) {
        {
            let mut t = self.transport.lock();
            let before = t.state;
            change(&mut t);
            if before == ConnectionState::Closed || (before == ConnectionState::Failed && t.state != ConnectionState::Closed) {
                t.state = before;
            }
            if before != t.state {
                self.emitter.post(OwnedEvent::ConnectionState(t.state));
                crate::wlog!(Info, Session, "session {}: connection {:?} -> {:?}", self.log_id, before, t.state);
                if t.state == ConnectionState::Failed {
                    crate::wlog!(Warn, Session, "session {}: failed: {}", self.log_id, t.failure.as_deref().unwrap_or("no reason recorded"));
                }
            }
        }
        self.emitter.flush();
    }

    pub fn connection_state(&self) -> ConnectionState {
        self.transport.lock().state
    }
    pub fn ice_state(&self) -> IceState {
        self.transport.lock().ice_state
    }
    pub fn gathering_state(&self) -> GatheringState {
        self.gathering.lock().state
    }
    pub fn signaling_state(&self) -> SignalingState {
        self.signaling.lock().state()
    }
    /// Why the connection failed or closed, if it did.
    pub fn failure_reason(&self) -> Option<String> {
        self.transport.lock().failure.clone()
    }
    pub fn selected_candidate_pair(&self) -> Result<(String, String)> {
        self.ice.selected_pair().ok_or_else(|| error::not_available("ICE has not selected a candidate pair yet"))
    }
    pub fn local_fingerprint(&self) -> String {
        self.certificate.fingerprint().to_string()
    }
    pub fn remote_fingerprint(&self) -> Result<String> {
        self.signaling
            .lock()
            .remote_description()
            .map(|r| r.fingerprint.to_string())
            .ok_or_else(|| error::not_available("no remote description is set"))
    }
    pub fn srtp_profile(&self) -> Result<SrtpProfile> {
        self.transport.lock().srtp_profile.ok_or_else(|| error::not_available("DTLS-SRTP is not established yet"))
    }
    pub fn dtls_role(&self) -> Result<DtlsRole> {
        self.transport.lock().dtls_role.ok_or_else(|| error::not_available("the DTLS role is known once offer and answer are applied"))
    }
    pub fn dtls_version(&self) -> Result<&'static str> {
        self.transport.lock().dtls_version.ok_or_else(|| error::not_available("DTLS is not established yet"))
    }
    /// Datagrams the transport dropped before they reached the session (unknown kind, or from
    /// an unverified address).
    pub fn transport_datagrams_dropped(&self) -> u64 {
        self.ice.datagrams_dropped() as u64
    }
    /// Polling mode: the host's thread reads this session's own socket (`receive_now`)
    /// instead of the media receive thread, so an arriving packet wakes one thread, not two.
    /// Returns the socket's descriptor; None on a shared port.
    pub(crate) fn take_over_receive(&self) -> Option<std::os::fd::RawFd> {
        self.ice.take_over_receive()
    }

    /// Reads and handles one batch of waiting datagrams on the calling thread.
    pub(crate) fn receive_now(&self, bufs: &mut crate::ice::RecvBuffers) {
        if !self.closed.load(Ordering::Acquire) {
            self.ice.receive_now(bufs);
        }
    }

    pub fn ice_counters(&self) -> &crate::ice::IceCounters {
        self.ice.counters()
    }
    pub fn remote_candidates_refused(&self) -> u64 {
        self.ice.remote_candidates_refused.load(Ordering::Relaxed)
    }
    pub fn local_address(&self) -> SocketAddr {
        self.ice.local_address()
    }
    pub fn track_mid(&self, track: u32) -> Result<Option<String>> {
        let sig = self.signaling.lock();
        let t = sig.transceiver(track).ok_or_else(|| error::unknown_track(format!("track {track} does not exist in this session")))?;
        Ok(t.mid.clone())
    }
    pub fn track_ssrc(&self, track: u32) -> Result<u32> {
        let sig = self.signaling.lock();
        Ok(sig.transceiver(track).ok_or_else(|| error::unknown_track(format!("track {track} does not exist in this session")))?.ssrc)
    }
    /// The first (preferred) negotiated codec of `track`, its payload type and clock rate;
    /// None before negotiation.
    pub fn track_codec(&self, track: u32) -> Result<Option<(Codec, u8, u32)>> {
        let r = self.routes.read();
        let t = r.tracks.get(&track).ok_or_else(|| error::unknown_track(format!("track {track} does not exist in this session")))?;
        Ok(t.send_codec().map(|(pt, c)| (c, pt, c.clock_rate())))
    }

    /// Chooses which negotiated payload type of `track` `send_media` and `send_frame` send
    /// (the first negotiated by default); kept across renegotiations that keep it.
    /// Errors: UnknownTrack; InvalidState before negotiation; InvalidArgument for a payload
    /// type the track did not negotiate.
    pub fn set_send_codec(&self, track: u32, payload_type: u8) -> Result<()> {
        let r = self.routes.read();
        let t = r.tracks.get(&track).ok_or_else(|| error::unknown_track(format!("track {track} does not exist in this session")))?;
        if t.codecs.is_empty() {
            return Err(error::invalid_state(format!("track {track} has no negotiated codec yet")));
        }
        let i = t.codecs.iter().position(|(pt, _, _)| *pt == payload_type).ok_or_else(|| {
            error::invalid_argument(format!(
                "payload type {payload_type} is not negotiated on track {track} (negotiated: {:?})",
                t.codecs.iter().map(|(pt, _, _)| *pt).collect::<Vec<_>>()
            ))
        })?;
        t.send_index.store(i, Ordering::Relaxed);
        Ok(())
    }

    pub fn track_payload_types(&self, track: u32) -> Result<Vec<u8>> {
        let r = self.routes.read();
        let t = r.tracks.get(&track).ok_or_else(|| error::unknown_track(format!("track {track} does not exist in this session")))?;
        Ok(t.payload_types.clone())
    }

    /// Graceful close: DTLS close_notify, ICE and socket closed, state Closed. Idempotent.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.stop_rtcp();
        let mut out = Vec::new();
        if let Some(ep) = self.dtls.lock().as_mut() {
            ep.close();
            ep.drain_outgoing(|d| out.push(d.to_vec()));
        }
        for d in &out {
            let _ = self.ice.send(d);
        }
        *self.srtp_tx.lock() = None;
        *self.srtp_rx.lock() = None;
        {
            let mut out = data::Output::default();
            self.data.lock().close_all(&mut out);
            self.emitter.post_all(out.events);
        }
        self.data_timer.notify_one();
        let ice = Arc::clone(&self.ice);
        if tokio::runtime::Handle::try_current().is_ok() {
            // On a library thread (inside a callback): the agent may be the caller; close later.
            runtime::spawn(async move { ice.close().await });
        } else {
            runtime::block_on(async move { ice.close().await });
        }
        let signaling_changed = self.signaling.lock().close();
        if signaling_changed {
            self.emitter.post(OwnedEvent::SignalingState(SignalingState::Closed));
        }
        self.set_state(|t| t.state = ConnectionState::Closed);
    }

    /// Runs `f` with event delivery suspended (see `Emitter::hold`), then delivers what it
    /// queued: a binding registers the handle of a channel it creates before its events run.
    pub fn with_events_held<R>(&self, f: impl FnOnce() -> R) -> R {
        self.emitter.hold(f)
    }

    /// Stops all event delivery; returns once no callback of this session is running on
    /// another thread.
    pub fn shutdown_events(&self) {
        self.emitter.shutdown();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Acquire) {
            self.closed.store(true, Ordering::Release);
            let ice = Arc::clone(&self.ice);
            runtime::spawn(async move { ice.close().await });
        }
        self.data_timer.notify_one();
        self.rtcp_wake.notify_one();
    }
}

/// The session a timer task works for, while it lives and is not closed.
fn live(weak: &Weak<Session>) -> Option<Arc<Session>> {
    weak.upgrade().filter(|s| !s.closed.load(Ordering::Acquire))
}

fn media_not_ready() -> error::Error {
    error::not_connected("media can be sent once DTLS-SRTP is established")
}

fn random_u16() -> u16 {
    let mut b = [0u8; 2];
    let _ = openssl::rand::rand_bytes(&mut b);
    u16::from_be_bytes(b)
}

impl TransportHandler for Session {
    fn on_datagram(&self, datagram: &mut [u8], from: SocketAddr) {
        if datagram.len() > RECEIVE_MTU {
            self.stats.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match classify(datagram) {
            DatagramKind::Dtls => self.handle_dtls(datagram, from),
            DatagramKind::Rtp => self.handle_rtp(datagram),
            DatagramKind::Rtcp => self.handle_rtcp(datagram),
            DatagramKind::Stun | DatagramKind::Unknown => {
                self.stats.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn on_local_candidate(&self, candidate: String) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let mid = self.signaling.lock().first_mid().unwrap_or_else(|| "0".into());
        {
            let mut g = self.gathering.lock();
            g.candidates.push(candidate.clone());
            self.emitter.post(OwnedEvent::LocalCandidate { candidate, mid });
        }
        self.emitter.flush();
    }

    fn on_gathering_complete(&self) {
        {
            let mut g = self.gathering.lock();
            g.state = GatheringState::Complete;
            self.emitter.post(OwnedEvent::GatheringState(GatheringState::Complete));
        }
        self.emitter.flush();
    }

    fn on_ice_state(&self, state: IceState) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        crate::wlog!(Info, Ice, "session {}: ICE {:?}", self.log_id, state);
        self.set_state(|t| {
            t.ice_state = state;
            self.emitter.post(OwnedEvent::IceState(state));
            match state {
                IceState::Checking if t.state == ConnectionState::New => t.state = ConnectionState::Connecting,
                IceState::Connected if t.dtls_connected => t.state = ConnectionState::Connected,
                IceState::Disconnected => t.state = ConnectionState::Disconnected,
                IceState::Failed => {
                    let was_connected = t.dtls_started;
                    t.failure.get_or_insert_with(|| self.ice.failure_summary(was_connected));
                    t.state = ConnectionState::Failed;
                }
                _ => {}
            }
        });
        if state == IceState::Connected {
            self.start_dtls_if_ready();
        }
    }

    fn on_selected_pair(&self, local: String, remote: String) {
        crate::wlog!(Info, Ice, "session {}: selected pair {} <-> {}", self.log_id, local, remote);
        self.start_dtls_if_ready();
    }

    fn on_batch_end(&self) {
        if self.sctp_dirty.swap(false, Ordering::AcqRel) {
            let _ = self.with_data(|d, now, out| {
                d.flush(now, out);
                Ok(())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(ssrc: u32, pt: u8, mid: Option<&[u8]>) -> Vec<u8> {
        let mut buf = vec![0u8; 64];
        let n = rtp::write_header(&mut buf, pt, false, 1, 0, ssrc, mid.map(|m| (4, m)));
        buf.truncate(n + 4);
        buf
    }

    /// Routing order: known SSRC, then the mid extension, then a payload type that belongs to
    /// one track; an SSRC none of these claims is not routed (so not delivered, but counted).
    #[test]
    fn rtp_routing_by_ssrc_mid_and_payload_type() {
        let mut cfg = SessionConfig::default();
        cfg.ice.local_addresses = vec!["127.0.0.1".parse().unwrap()];
        let s = Session::new(cfg).unwrap();
        {
            let mut r = s.routes.write();
            r.by_ssrc.insert(1, 7);
            r.by_mid.insert(b"0".to_vec(), 7);
            r.by_payload_type.insert(96, 8);
            r.mid_extension_id = Some(4);
        }
        let route = |p: &[u8]| s.route(&RtpHeader::parse(p).unwrap()).map(|(track, ..)| track);
        assert_eq!(route(&packet(1, 0, None)), Some(7));
        assert_eq!(route(&packet(2, 111, Some(b"0"))), Some(7), "by mid");
        assert_eq!(s.routes.read().by_ssrc.get(&2), Some(&7), "learned");
        assert_eq!(route(&packet(3, 96, None)), Some(8), "by payload type");
        assert_eq!(route(&packet(4, 100, None)), None, "unknown SSRC, no mid, foreign payload type");
        assert_eq!(route(&packet(5, 100, Some(b"9"))), None, "unknown mid");
        assert!(!s.routes.read().by_ssrc.contains_key(&4));
        s.close();
    }
}
