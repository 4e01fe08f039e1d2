//! Data channels (RFC 8831) as a sans-IO layer: SCTP (sctp-proto) over whatever carries its
//! packets (DTLS application data, RFC 8261), DCEP for in-band open (RFC 8832, `dcep.rs`),
//! stream ids by DTLS role (client even, server odd), binary and string messages including
//! empty ones, partial reliability, close by stream reset, buffered amounts.
//!
//! The owner feeds SCTP packets in (`handle_packet`), calls `handle_timeout` at
//! `poll_timeout`, and sends what `poll_packet` returns; `poll_event` says what happened.
//! Nothing here knows about sockets or clocks beyond the `Instant`s it is given.
//!
//! Why sctp-proto: it is sans-IO (our DTLS already runs on in-memory datagrams), maintained,
//! used by str0m against browsers, and implements RFC 3758 partial reliability and RFC 6525
//! stream reset, which data channels need; the webrtc-rs `webrtc-sctp` crate needs tokio
//! tasks per association, and `rtc-sctp` is the same sans-IO code base under another name.

pub mod dcep;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sctp_proto::{
    Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig, EndpointEvent, Event, Payload,
    PayloadProtocolIdentifier as Ppi, ReliabilityType, ServerConfig, StreamEvent, TransportConfig,
};

use crate::error::{self, Result};
pub use dcep::Reliability;

/// What we accept, and advertise as `a=max-message-size` (RFC 8841).
pub const DEFAULT_MAX_MESSAGE_SIZE: u32 = 256 * 1024;
/// Channels one association may have open at once (stream ids 0..=1023 are enough for every
/// browser's default).
pub const MAX_CHANNELS: usize = 1024;
/// Bytes a channel may have queued and unacknowledged; a send past it is refused (the sender
/// waits for `BufferedAmountLow`), so a host that sends faster than the path carries does not
/// grow memory without bound. Browsers close a channel at 16 MB.
pub const MAX_BUFFERED_AMOUNT: usize = 16 * 1024 * 1024;
/// Largest SCTP packet handed to DTLS: fits a 1200-byte path with DTLS and UDP overhead.
const MAX_SCTP_PACKET: u32 = 1150;
/// The receive window (bytes the peer may have in flight to us): 1 MB carries about 20 MB/s
/// at 50 ms of round-trip time.
const RECEIVE_WINDOW: u32 = 1024 * 1024;
/// Chunk type of INIT (RFC 9260 §3.3.2), the first chunk after the 12-byte common header.
const CHUNK_INIT: u8 = 1;
/// The association's peer address as sctp-proto wants one; only a tag here, never a
/// destination (the packets go into DTLS).
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);

#[derive(Debug, Clone, Default)]
pub struct ChannelOptions {
    pub label: String,
    pub protocol: String,
    pub ordered: bool,
    pub reliability: Reliability,
    /// `Some(id)`: negotiated out of band (both sides create it with this id; no DCEP).
    pub negotiated_id: Option<u16>,
    pub priority: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    Connecting,
    Open,
    Closing,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// The association is up (channels created before it now open).
    Connected,
    /// A channel of ours (or a negotiated one) can carry messages.
    Open { id: u16 },
    /// The peer opened a channel with DCEP; it is open.
    PeerOpened { id: u16 },
    Message { id: u16, data: Vec<u8>, text: bool },
    /// The channel's buffered amount fell to or below its low threshold.
    BufferedAmountLow { id: u16 },
    /// The channel is closed (either side reset its stream).
    Closed { id: u16 },
    /// The association failed or was closed by the peer; every channel is closed.
    Failed { reason: String },
}

struct Channel {
    options: ChannelOptions,
    state: ChannelState,
}

pub struct SctpTransport {
    endpoint: Endpoint,
    association: Option<(AssociationHandle, Association)>,
    dtls_client: bool,
    transport: Arc<TransportConfig>,
    connected: bool,
    channels: BTreeMap<u16, Channel>,
    next_id: u16,
    remote_max_message_size: u32,
    events: VecDeque<ChannelEvent>,
    packets: VecDeque<Vec<u8>>,
    /// DCEP ACKs that could not be written yet (bounded by MAX_CHANNELS).
    pending_acks: Vec<u16>,
    dropped: u64,
    /// The SCTP stack failed internally: nothing more goes in.
    failed: bool,
    tsn_window: TsnWindow,
}

/// How far above the cumulative TSN we acknowledged a DATA chunk may be.
const TSN_WINDOW: u32 = 16_384;

/// Bounds what sctp-proto holds out of order. It accepts a DATA chunk below the highest TSN
/// received even when its receive buffer is full ("a missing chunk"), so a peer sending DATA
/// with TSNs scattered over the number space makes it store every one (measured: 26 MB per
/// 100,000 such chunks). Here a packet with a DATA chunk more than `TSN_WINDOW` above our
/// last cumulative TSN ack (read from the SACKs we send; before the first, from the peer's
/// initial TSN) is dropped, so at most `TSN_WINDOW` chunks wait out of order. A real peer
/// never gets that far ahead: our receive window is 1 MB, and `TSN_WINDOW` chunks of even 64
/// bytes are more.
#[derive(Default)]
struct TsnWindow {
    cumulative: Option<u32>,
}

/// The chunks of an SCTP packet: (type, chunk bytes); stops at a malformed length.
fn chunks(packet: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut at = 12;
    std::iter::from_fn(move || {
        let header = packet.get(at..at + 4)?;
        let len = u16::from_be_bytes([header[2], header[3]]) as usize;
        if len < 4 {
            return None;
        }
        let chunk = packet.get(at..at + len)?;
        at += len.div_ceil(4) * 4;
        Some((header[0], chunk))
    })
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
}

impl TsnWindow {
    /// A packet we send: a SACK (3) moves the window to its cumulative TSN ack.
    fn sent(&mut self, packet: &[u8]) {
        for (kind, chunk) in chunks(packet) {
            if kind == 3 {
                if let Some(c) = be32(chunk, 4) {
                    self.cumulative = Some(c);
                }
            }
        }
    }

    /// Whether a received packet may go to the association.
    fn admits(&mut self, packet: &[u8]) -> bool {
        for (kind, chunk) in chunks(packet) {
            match kind {
                // INIT (1) and INIT ACK (2) carry the peer's initial TSN.
                1 | 2 if self.cumulative.is_none() => {
                    if let Some(initial) = be32(chunk, 16) {
                        self.cumulative = Some(initial.wrapping_sub(1));
                    }
                }
                // DATA (0) and I-DATA (64): the TSN follows the chunk header.
                0 | 64 => {
                    let (Some(tsn), Some(cum)) = (be32(chunk, 4), self.cumulative) else { continue };
                    let ahead = tsn.wrapping_sub(cum);
                    if ahead > TSN_WINDOW && ahead < 1 << 31 {
                        return false;
                    }
                }
                _ => {}
            }
        }
        true
    }
}

fn sctp_err(what: &str, e: impl std::fmt::Display) -> error::Error {
    error::invalid_state(format!("{what}: {e}"))
}

impl SctpTransport {
    /// `dtls_client`: our DTLS role (the client starts the association and uses even stream
    /// ids). `remote_max_message_size`: the peer's `a=max-message-size` (0: unlimited per RFC
    /// 8841 §6.1, taken as our own limit).
    pub fn new(dtls_client: bool, remote_max_message_size: u32) -> Self {
        let transport = Arc::new(
            TransportConfig::default()
                .with_max_receive_message_size(DEFAULT_MAX_MESSAGE_SIZE)
                .with_max_receive_buffer_size(RECEIVE_WINDOW)
                .with_max_send_message_size(if remote_max_message_size == 0 { DEFAULT_MAX_MESSAGE_SIZE } else { remote_max_message_size })
                .with_max_num_inbound_streams(MAX_CHANNELS as u16)
                .with_max_num_outbound_streams(MAX_CHANNELS as u16)
                .with_max_init_retransmits(None)
                .with_rto_initial_ms(500)
                .with_rto_min_ms(200),
        );
        let mut config = EndpointConfig::new();
        config.max_payload_size(MAX_SCTP_PACKET);
        let server = (!dtls_client).then(|| {
            let mut server = ServerConfig::new();
            server.transport = Arc::clone(&transport);
            Arc::new(server)
        });
        SctpTransport {
            endpoint: Endpoint::new(Arc::new(config), server),
            association: None,
            dtls_client,
            transport,
            connected: false,
            channels: BTreeMap::new(),
            next_id: if dtls_client { 0 } else { 1 },
            remote_max_message_size: if remote_max_message_size == 0 { DEFAULT_MAX_MESSAGE_SIZE } else { remote_max_message_size },
            events: VecDeque::new(),
            packets: VecDeque::new(),
            pending_acks: Vec::new(),
            dropped: 0,
            failed: false,
            tsn_window: TsnWindow::default(),
        }
    }

    /// Starts the association (as DTLS client; the server waits for the INIT).
    pub fn start(&mut self, now: Instant) -> Result<()> {
        if !self.dtls_client || self.association.is_some() {
            return Ok(());
        }
        let mut config = ClientConfig::new();
        config.transport = Arc::clone(&self.transport);
        let (h, a) = self.endpoint.connect(config, PEER).map_err(|e| sctp_err("SCTP connect", e))?;
        self.association = Some((h, a));
        self.drive(now);
        Ok(())
    }

    /// An SCTP packet from the peer (a DTLS application data record).
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.receive(now, packet, true);
    }

    /// Like `handle_packet`, but the association's output (replies, events) waits for the
    /// next `flush`: a batch of received packets then costs one transmit pass, not one each.
    pub fn handle_packet_deferred(&mut self, now: Instant, packet: &[u8]) {
        self.receive(now, packet, false);
    }

    /// Runs what `handle_packet_deferred` left waiting.
    pub fn flush(&mut self, now: Instant) {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.drive(now)));
        if run.is_err() {
            self.fail_internally(now);
        }
    }

    fn receive(&mut self, now: Instant, packet: &[u8], drive: bool) {
        // An INIT at the DTLS client: the peer also started the association (usrsctp, in
        // Firefox, does). The client's INIT wins: the peer answers it with an INIT ACK (RFC
        // 9260 §5.2.1), and sctp-proto's client endpoint cannot take an INIT (it would panic).
        if self.dtls_client && packet.get(12) == Some(&CHUNK_INIT) {
            self.dropped += 1;
            return;
        }
        if self.failed {
            self.dropped += 1;
            return;
        }
        if !self.tsn_window.admits(packet) {
            self.dropped += 1;
            return;
        }
        // sctp-proto is not ours: should it panic on some input, the association fails
        // instead of the panic unwinding into the session.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle_packet_inner(now, packet, drive)));
        if run.is_err() {
            self.fail_internally(now);
        }
    }

    fn fail_internally(&mut self, _now: Instant) {
        self.failed = true;
        self.association = None;
        self.connected = false;
        self.events.push_back(ChannelEvent::Failed { reason: "SCTP association: internal error in the SCTP stack".into() });
        let ids: Vec<u16> = self.channels.keys().copied().collect();
        for id in ids {
            self.finish_close(id);
        }
    }

    /// SCTP packets dropped before the association saw them.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn handle_packet_inner(&mut self, now: Instant, packet: &[u8], drive: bool) {
        if let Some((h, event)) = self.endpoint.handle(now, PEER, None, None, Bytes::copy_from_slice(packet)) {
            match event {
                DatagramEvent::NewAssociation(a) => {
                    if self.association.is_none() {
                        self.association = Some((h, a));
                    } else {
                        // Another INIT (another initiate tag): one association per transport;
                        // the endpoint forgets the extra one, so an INIT flood holds no memory.
                        drop(a);
                        self.endpoint.handle_event(h, EndpointEvent::drained());
                        self.dropped += 1;
                    }
                }
                DatagramEvent::AssociationEvent(e) => {
                    if let Some((ours, a)) = self.association.as_mut() {
                        if *ours == h {
                            a.handle_event(e);
                        }
                    }
                }
            }
        }
        if drive {
            self.drive(now);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if let Some((_, a)) = self.association.as_mut() {
                a.handle_timeout(now);
            }
            self.drive(now);
        }));
        if run.is_err() {
            self.fail_internally(now);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.association.as_ref().and_then(|(_, a)| a.poll_timeout())
    }

    /// The next SCTP packet to send to the peer.
    pub fn poll_packet(&mut self) -> Option<Vec<u8>> {
        let p = self.packets.pop_front()?;
        self.tsn_window.sent(&p);
        Some(p)
    }

    pub fn poll_event(&mut self) -> Option<ChannelEvent> {
        self.events.pop_front()
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Creates a channel; returns its stream id. Before the association is up the channel
    /// waits in `Connecting` and opens with it.
    pub fn open_channel(&mut self, now: Instant, options: ChannelOptions) -> Result<u16> {
        if self.channels.len() >= MAX_CHANNELS {
            return Err(error::limit_reached(format!("{MAX_CHANNELS} data channels are open already")));
        }
        let id = match options.negotiated_id {
            Some(id) => {
                if self.channels.contains_key(&id) {
                    return Err(error::invalid_argument(format!("data channel id {id} is in use")));
                }
                if id as usize >= MAX_CHANNELS {
                    return Err(error::invalid_argument(format!("data channel id {id} is not below {MAX_CHANNELS}")));
                }
                id
            }
            None => self.free_id()?,
        };
        self.channels.insert(id, Channel { options, state: ChannelState::Connecting });
        if self.connected {
            self.establish(id)?;
        }
        self.drive(now);
        Ok(id)
    }

    /// The next unused id of our parity (RFC 8832 §6).
    fn free_id(&mut self) -> Result<u16> {
        let parity = if self.dtls_client { 0 } else { 1 };
        let start = self.next_id;
        let mut id = start;
        loop {
            if !self.channels.contains_key(&id) {
                self.next_id = (id + 2) % MAX_CHANNELS as u16;
                return Ok(id);
            }
            id = (id + 2) % MAX_CHANNELS as u16;
            if id == start || id % 2 != parity {
                return Err(error::limit_reached("no free data channel stream id"));
            }
        }
    }

    /// Opens the stream of channel `id` with its reliability; sends DCEP OPEN unless negotiated.
    fn establish(&mut self, id: u16) -> Result<()> {
        let Some((_, a)) = self.association.as_mut() else { return Ok(()) };
        let Some(ch) = self.channels.get_mut(&id) else { return Ok(()) };
        let (rel, value) = reliability_params(ch.options.reliability);
        let mut stream = match a.stream(id) {
            Ok(s) => s,
            Err(_) => a.open_stream(id, Ppi::Binary).map_err(|e| sctp_err("SCTP stream", e))?,
        };
        stream.set_reliability_params(!ch.options.ordered, rel, value).map_err(|e| sctp_err("SCTP stream", e))?;
        if ch.options.negotiated_id.is_none() {
            let open = dcep::Open {
                ordered: ch.options.ordered,
                reliability: ch.options.reliability,
                priority: ch.options.priority,
                label: ch.options.label.clone(),
                protocol: ch.options.protocol.clone(),
            };
            stream.write_sctp(&Bytes::from(open.write()?), Ppi::Dcep).map_err(|e| sctp_err("DCEP open", e))?;
        }
        ch.state = ChannelState::Open;
        self.events.push_back(ChannelEvent::Open { id });
        Ok(())
    }

    /// Sends one message: `text` picks the string PPIDs. Empty messages use the empty PPIDs
    /// with one padding byte (RFC 8831 §6.6).
    pub fn send(&mut self, now: Instant, id: u16, data: &[u8], text: bool) -> Result<()> {
        let state = self.channels.get(&id).map(|c| c.state).ok_or_else(|| error::invalid_argument(format!("no data channel {id}")))?;
        if state != ChannelState::Open {
            return Err(error::invalid_state(format!("data channel {id} is {state:?}, not open")));
        }
        if data.len() > self.remote_max_message_size as usize {
            return Err(error::packet_rejected(format!(
                "a message of {} bytes exceeds the peer's max-message-size of {}",
                data.len(),
                self.remote_max_message_size
            )));
        }
        let (_, a) = self.association.as_mut().ok_or_else(|| error::not_connected("the SCTP association is not up"))?;
        let mut stream = a.stream(id).map_err(|e| sctp_err("SCTP stream", e))?;
        let buffered = stream.buffered_amount().unwrap_or(0);
        if buffered + data.len() > MAX_BUFFERED_AMOUNT {
            return Err(error::limit_reached(format!(
                "data channel {id} has {buffered} bytes buffered; {} more would pass the {MAX_BUFFERED_AMOUNT}-byte limit (wait for buffered-amount-low)",
                data.len()
            )));
        }
        let (ppi, payload) = match (text, data.is_empty()) {
            (true, false) => (Ppi::String, Bytes::copy_from_slice(data)),
            (false, false) => (Ppi::Binary, Bytes::copy_from_slice(data)),
            (true, true) => (Ppi::StringEmpty, Bytes::from_static(&[0])),
            (false, true) => (Ppi::BinaryEmpty, Bytes::from_static(&[0])),
        };
        stream.write_sctp(&payload, ppi).map_err(|e| sctp_err(&format!("data channel {id}"), e))?;
        self.drive(now);
        Ok(())
    }

    /// Closes a channel by resetting its stream (RFC 8831 §6.7); `Closed` follows once the peer
    /// has reset its side.
    pub fn close_channel(&mut self, now: Instant, id: u16) -> Result<()> {
        let ch = self.channels.get_mut(&id).ok_or_else(|| error::invalid_argument(format!("no data channel {id}")))?;
        if matches!(ch.state, ChannelState::Closing | ChannelState::Closed) {
            return Ok(());
        }
        let was_open = ch.state == ChannelState::Open;
        ch.state = ChannelState::Closing;
        match self.association.as_mut() {
            Some((_, a)) if was_open => {
                if let Ok(mut s) = a.stream(id) {
                    s.close().map_err(|e| sctp_err("SCTP stream reset", e))?;
                }
            }
            _ => self.finish_close(id),
        }
        self.drive(now);
        Ok(())
    }

    fn finish_close(&mut self, id: u16) {
        if let Some(mut ch) = self.channels.remove(&id) {
            ch.state = ChannelState::Closed;
            self.events.push_back(ChannelEvent::Closed { id });
        }
    }

    pub fn state(&self, id: u16) -> Option<ChannelState> {
        self.channels.get(&id).map(|c| c.state)
    }

    pub fn options(&self, id: u16) -> Option<&ChannelOptions> {
        self.channels.get(&id).map(|c| &c.options)
    }

    pub fn buffered_amount(&mut self, id: u16) -> usize {
        self.association.as_mut().and_then(|(_, a)| a.stream(id).ok()?.buffered_amount().ok()).unwrap_or(0)
    }

    pub fn set_buffered_amount_low_threshold(&mut self, id: u16, threshold: usize) -> Result<()> {
        let (_, a) = self.association.as_mut().ok_or_else(|| error::not_connected("the SCTP association is not up"))?;
        let mut s = a.stream(id).map_err(|e| sctp_err("SCTP stream", e))?;
        s.set_buffered_amount_low_threshold(threshold).map_err(|e| sctp_err("SCTP stream", e))
    }

    /// Runs the association: its events into ours, its packets into the queue.
    fn drive(&mut self, now: Instant) {
        while let Some(t) = self.endpoint.poll_transmit() {
            self.queue_transmit(t);
        }
        loop {
            let Some((h, a)) = self.association.as_mut() else { return };
            let h = *h;
            let mut progressed = false;
            while let Some(e) = a.poll_endpoint_event() {
                if let Some(back) = self.endpoint.handle_event(h, e) {
                    a.handle_event(back);
                }
                progressed = true;
            }
            let Some((_, a)) = self.association.as_mut() else { return };
            // One gather takes everything the windows allow (control chunks, retransmissions,
            // new data). A second call would find nothing new but still walk the whole
            // in-flight queue (sctp-proto looks up every outstanding TSN), which is what
            // bounded throughput: so once per pass, and again only after an event.
            if let Some(t) = a.poll_transmit(now) {
                if let Payload::RawEncode(contents) = t.payload {
                    self.packets.extend(contents.into_iter().map(|b| b.to_vec()));
                }
            }
            let Some((_, a)) = self.association.as_mut() else { return };
            let Some(event) = a.poll() else {
                if progressed {
                    continue;
                }
                return;
            };
            self.on_association_event(now, event);
        }
    }

    fn queue_transmit(&mut self, t: sctp_proto::Transmit) {
        if let Payload::RawEncode(contents) = t.payload {
            self.packets.extend(contents.into_iter().map(|b| b.to_vec()));
        }
    }

    fn on_association_event(&mut self, _now: Instant, event: Event) {
        match event {
            Event::Connected => {
                self.connected = true;
                self.events.push_back(ChannelEvent::Connected);
                for id in std::mem::take(&mut self.pending_acks) {
                    if let Some((_, a)) = self.association.as_mut() {
                        if let Ok(mut stream) = a.stream(id) {
                            let _ = stream.write_sctp(&Bytes::copy_from_slice(&dcep::ack()), Ppi::Dcep);
                        }
                    }
                }
                let waiting: Vec<u16> =
                    self.channels.iter().filter(|(_, c)| c.state == ChannelState::Connecting).map(|(id, _)| *id).collect();
                for id in waiting {
                    if let Err(e) = self.establish(id) {
                        self.events.push_back(ChannelEvent::Failed { reason: e.message().to_string() });
                    }
                }
            }
            Event::HandshakeFailed { reason } | Event::AssociationLost { reason } => {
                self.connected = false;
                // Failed first, so the owner can report the error on each channel it closes.
                self.events.push_back(ChannelEvent::Failed { reason: format!("SCTP association: {reason}") });
                let ids: Vec<u16> = self.channels.keys().copied().collect();
                for id in ids {
                    self.finish_close(id);
                }
            }
            Event::Stream(StreamEvent::Readable { id }) | Event::Stream(StreamEvent::Opened { id }) => self.read_stream(id),
            Event::Stream(StreamEvent::BufferedAmountLow { id }) => {
                if self.channels.get(&id).is_some_and(|c| c.state == ChannelState::Open) {
                    self.events.push_back(ChannelEvent::BufferedAmountLow { id });
                }
            }
            Event::Stream(StreamEvent::Finished { id }) => {
                // The peer reset its stream: reset ours too (RFC 8831 §6.7), then it is closed.
                if let Some((_, a)) = self.association.as_mut() {
                    if let Ok(mut s) = a.stream(id) {
                        let _ = s.close();
                    }
                }
                self.finish_close(id);
            }
            _ => {}
        }
    }

    /// Reads every complete message of stream `id`.
    fn read_stream(&mut self, id: u16) {
        loop {
            let Some((_, a)) = self.association.as_mut() else { return };
            let Ok(mut stream) = a.stream(id) else { return };
            let chunks = match stream.read_sctp() {
                Ok(Some(c)) => c,
                _ => return,
            };
            let mut data = vec![0u8; chunks.len()];
            if chunks.read(&mut data).is_err() {
                continue;
            }
            match chunks.ppi {
                Ppi::Dcep => self.on_dcep(id, &data),
                Ppi::String | Ppi::Binary | Ppi::StringEmpty | Ppi::BinaryEmpty => {
                    if self.channels.get(&id).is_some_and(|c| c.state == ChannelState::Open) {
                        let text = matches!(chunks.ppi, Ppi::String | Ppi::StringEmpty);
                        let data = if matches!(chunks.ppi, Ppi::StringEmpty | Ppi::BinaryEmpty) { Vec::new() } else { data };
                        self.events.push_back(ChannelEvent::Message { id, data, text });
                    }
                }
                // Unknown PPIDs are dropped.
                _ => {}
            }
        }
    }

    fn on_dcep(&mut self, id: u16, data: &[u8]) {
        match dcep::parse(data) {
            Ok(dcep::Message::Open(open)) => {
                // The peer's ids have the other parity; one taken already is a protocol error.
                if self.channels.contains_key(&id) || self.channels.len() >= MAX_CHANNELS {
                    return;
                }
                let options = ChannelOptions {
                    label: open.label,
                    protocol: open.protocol,
                    ordered: open.ordered,
                    reliability: open.reliability,
                    negotiated_id: None,
                    priority: open.priority,
                };
                let (rel, value) = reliability_params(options.reliability);
                let Some((_, a)) = self.association.as_mut() else { return };
                let Ok(mut stream) = a.stream(id) else { return };
                let _ = stream.set_reliability_params(!options.ordered, rel, value);
                // The OPEN can arrive before this side saw the association established (its
                // COOKIE ACK lost): the channel opens now, the ACK goes once it can be sent.
                if stream.write_sctp(&Bytes::copy_from_slice(&dcep::ack()), Ppi::Dcep).is_err() {
                    self.pending_acks.push(id);
                }
                self.channels.insert(id, Channel { options, state: ChannelState::Open });
                self.events.push_back(ChannelEvent::PeerOpened { id });
            }
            // Our channel is open from the moment its OPEN was sent; the ACK adds nothing.
            Ok(dcep::Message::Ack) | Err(_) => {}
        }
    }
}

/// Helpers shared by the fuzz target and the tests that feed transports hostile packets.
#[doc(hidden)]
pub mod testing {
    use super::SctpTransport;
    use std::time::Instant;

    /// CRC32c (Castagnoli), SCTP's checksum (RFC 9260 appendix B).
    pub fn crc32c(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// Writes a valid checksum into an SCTP packet (the field zeroed, the CRC little-endian).
    pub fn fix_checksum(packet: &mut [u8]) {
        if packet.len() >= 12 {
            packet[8..12].fill(0);
            let c = crc32c(packet);
            packet[8..12].copy_from_slice(&c.to_le_bytes());
        }
    }

    /// Moves packets between two transports until none moves (at most 100 rounds).
    pub fn pump(a: &mut SctpTransport, b: &mut SctpTransport, now: Instant) {
        for _ in 0..100 {
            let mut moved = false;
            while let Some(p) = a.poll_packet() {
                b.handle_packet(now, &p);
                moved = true;
            }
            while let Some(p) = b.poll_packet() {
                a.handle_packet(now, &p);
                moved = true;
            }
            while a.poll_event().is_some() {}
            while b.poll_event().is_some() {}
            if !moved {
                return;
            }
        }
    }
}

fn reliability_params(r: Reliability) -> (ReliabilityType, u32) {
    match r {
        Reliability::Reliable => (ReliabilityType::Reliable, 0),
        Reliability::MaxRetransmits(n) => (ReliabilityType::Rexmit, n),
        Reliability::MaxLifetimeMs(ms) => (ReliabilityType::Timed, ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Two transports joined in memory, with simulated time.
    struct Pair {
        a: SctpTransport,
        b: SctpTransport,
        now: Instant,
        a_events: Vec<ChannelEvent>,
        b_events: Vec<ChannelEvent>,
    }

    impl Pair {
        fn new() -> Pair {
            let now = Instant::now();
            let mut p = Pair { a: SctpTransport::new(true, 0), b: SctpTransport::new(false, 0), now, a_events: vec![], b_events: vec![] };
            p.a.start(now).unwrap();
            p.run();
            assert!(p.a.is_connected() && p.b.is_connected());
            p
        }

        /// Moves packets both ways and fires timers (advancing simulated time by at most 10 s)
        /// until nothing moves.
        fn run(&mut self) {
            let horizon = self.now + Duration::from_secs(10);
            for _ in 0..100_000 {
                let mut moved = false;
                while let Some(pkt) = self.a.poll_packet() {
                    self.b.handle_packet(self.now, &pkt);
                    moved = true;
                }
                while let Some(pkt) = self.b.poll_packet() {
                    self.a.handle_packet(self.now, &pkt);
                    moved = true;
                }
                self.a_events.extend(std::iter::from_fn(|| self.a.poll_event()));
                self.b_events.extend(std::iter::from_fn(|| self.b.poll_event()));
                if !moved {
                    let next = [self.a.poll_timeout(), self.b.poll_timeout()].into_iter().flatten().min();
                    match next {
                        Some(t) if t <= horizon && self.pending() => {
                            self.now = self.now.max(t);
                            self.a.handle_timeout(self.now);
                            self.b.handle_timeout(self.now);
                        }
                        _ => return,
                    }
                }
            }
        }

        /// Whether either side still has data in flight (a timer then matters).
        fn pending(&mut self) -> bool {
            let ids: Vec<u16> = self.a.channels.keys().chain(self.b.channels.keys()).copied().collect();
            ids.iter().any(|id| self.a.buffered_amount(*id) > 0 || self.b.buffered_amount(*id) > 0)
                || !self.a.is_connected()
                || !self.b.is_connected()
                || self.a.channels.values().chain(self.b.channels.values()).any(|c| c.state == ChannelState::Closing)
        }

        fn messages(events: &[ChannelEvent], id: u16) -> Vec<(Vec<u8>, bool)> {
            events
                .iter()
                .filter_map(|e| match e {
                    ChannelEvent::Message { id: i, data, text } if *i == id => Some((data.clone(), *text)),
                    _ => None,
                })
                .collect()
        }
    }

    fn opts(label: &str) -> ChannelOptions {
        ChannelOptions { label: label.into(), ordered: true, ..Default::default() }
    }

    #[test]
    fn dcep_open_messages_of_every_kind_and_close() {
        let mut p = Pair::new();
        let id = p.a.open_channel(p.now, ChannelOptions { protocol: "chat".into(), ..opts("one") }).unwrap();
        assert_eq!(id % 2, 0, "the DTLS client uses even ids");
        p.run();
        assert!(p.b_events.contains(&ChannelEvent::PeerOpened { id }));
        assert_eq!(p.b.options(id).map(|o| (o.label.as_str(), o.protocol.as_str())), Some(("one", "chat")));
        p.a.send(p.now, id, b"hello", true).unwrap();
        p.a.send(p.now, id, &[1, 2, 3], false).unwrap();
        p.a.send(p.now, id, b"", true).unwrap();
        p.a.send(p.now, id, b"", false).unwrap();
        let big: Vec<u8> = (0..DEFAULT_MAX_MESSAGE_SIZE).map(|i| (i * 7) as u8).collect();
        p.a.send(p.now, id, &big, false).unwrap();
        p.run();
        let got = Pair::messages(&p.b_events, id);
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], (b"hello".to_vec(), true));
        assert_eq!(got[1], (vec![1, 2, 3], false));
        assert_eq!(got[2], (vec![], true), "empty string");
        assert_eq!(got[3], (vec![], false), "empty binary");
        assert!(got[4].0 == big, "256 KB intact");
        let e = p.a.send(p.now, id, &vec![0; DEFAULT_MAX_MESSAGE_SIZE as usize + 1], false).unwrap_err();
        assert!(e.message().contains("max-message-size"), "{}", e.message());
        // A sender that outruns the path is stopped at the buffered-amount limit.
        let chunk = vec![7u8; DEFAULT_MAX_MESSAGE_SIZE as usize];
        let mut sent = 0;
        let refused = loop {
            match p.a.send(p.now, id, &chunk, false) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent <= MAX_BUFFERED_AMOUNT / chunk.len(), "no limit");
        };
        assert_eq!(refused.kind(), crate::error::ErrorKind::LimitReached, "{}", refused.message());
        p.run();
        assert_eq!(Pair::messages(&p.b_events, id).len(), 5 + sent, "what was accepted arrives");

        // The answering side's channel: odd id, back the other way.
        let back = p.b.open_channel(p.now, opts("two")).unwrap();
        assert_eq!(back % 2, 1);
        p.run();
        p.b.send(p.now, back, b"pong", true).unwrap();
        p.run();
        assert_eq!(Pair::messages(&p.a_events, back), vec![(b"pong".to_vec(), true)]);

        p.a.close_channel(p.now, id).unwrap();
        p.run();
        assert!(p.a_events.contains(&ChannelEvent::Closed { id }) && p.b_events.contains(&ChannelEvent::Closed { id }));
        assert_eq!(p.a.state(id), None);
        assert!(p.a.send(p.now, id, b"x", true).is_err());
        assert_eq!(p.b.state(back), Some(ChannelState::Open), "the other channel is untouched");
    }

    #[test]
    fn a_hundred_channels_negotiated_and_in_band_with_partial_reliability() {
        let mut p = Pair::new();
        let mut ids = Vec::new();
        for i in 0..100 {
            let reliability = match i % 3 {
                0 => Reliability::Reliable,
                1 => Reliability::MaxRetransmits(2),
                _ => Reliability::MaxLifetimeMs(500),
            };
            ids.push(p.a.open_channel(p.now, ChannelOptions { ordered: i % 2 == 0, reliability, ..opts(&format!("c{i}")) }).unwrap());
        }
        // A negotiated channel: both sides create it with the same id, no DCEP.
        let neg = ChannelOptions { negotiated_id: Some(900), ..opts("neg") };
        assert_eq!(p.a.open_channel(p.now, neg.clone()).unwrap(), 900);
        assert_eq!(p.b.open_channel(p.now, neg).unwrap(), 900);
        p.run();
        assert_eq!(p.b_events.iter().filter(|e| matches!(e, ChannelEvent::PeerOpened { .. })).count(), 100);
        assert_eq!(p.b.options(ids[1]).unwrap().reliability, Reliability::MaxRetransmits(2));
        assert!(!p.b.options(ids[1]).unwrap().ordered);
        for (n, id) in ids.iter().enumerate() {
            p.a.send(p.now, *id, format!("m{n}").as_bytes(), true).unwrap();
        }
        p.b.send(p.now, 900, b"negotiated", false).unwrap();
        p.run();
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(Pair::messages(&p.b_events, *id), vec![(format!("m{n}").into_bytes(), true)]);
        }
        assert_eq!(Pair::messages(&p.a_events, 900), vec![(b"negotiated".to_vec(), false)]);
        assert!(p.a.open_channel(p.now, ChannelOptions { negotiated_id: Some(900), ..opts("dup") }).is_err());
    }

    #[test]
    fn order_survives_loss_on_a_reliable_channel_and_buffered_amount_drains() {
        let mut p = Pair::new();
        let id = p.a.open_channel(p.now, opts("file")).unwrap();
        p.run();
        p.a.set_buffered_amount_low_threshold(id, 64 * 1024).unwrap();
        for i in 0..200u32 {
            p.a.send(p.now, id, &[i as u8; 4000], false).unwrap();
        }
        assert!(p.a.buffered_amount(id) > 64 * 1024);
        // Drop every fifth packet from a to b for a while; retransmission repairs it.
        let mut n = 0;
        for _ in 0..200 {
            while let Some(pkt) = p.a.poll_packet() {
                n += 1;
                if n % 5 != 0 {
                    p.b.handle_packet(p.now, &pkt);
                }
            }
            while let Some(pkt) = p.b.poll_packet() {
                p.a.handle_packet(p.now, &pkt);
            }
            p.now += Duration::from_millis(20);
            p.a.handle_timeout(p.now);
            p.b.handle_timeout(p.now);
        }
        p.run();
        p.a_events.extend(std::iter::from_fn(|| p.a.poll_event()));
        p.b_events.extend(std::iter::from_fn(|| p.b.poll_event()));
        let got = Pair::messages(&p.b_events, id);
        assert_eq!(got.len(), 200);
        assert!(got.iter().enumerate().all(|(i, (d, _))| d.len() == 4000 && d[0] == i as u8), "in order and intact");
        assert!(p.a_events.contains(&ChannelEvent::BufferedAmountLow { id }));
        assert_eq!(p.a.buffered_amount(id), 0);
    }

    /// max-retransmits 0 (RFC 3758): what is lost stays lost, and what follows still arrives
    /// (no head-of-line stall), unordered.
    #[test]
    fn partially_reliable_channel_abandons_lost_messages() {
        let mut p = Pair::new();
        let id = p.a.open_channel(p.now, ChannelOptions { ordered: false, reliability: Reliability::MaxRetransmits(0), ..opts("game") }).unwrap();
        p.run();
        p.a.send(p.now, id, b"lost", false).unwrap();
        while p.a.poll_packet().is_some() {} // the network eats it
        for _ in 0..20 {
            p.now += Duration::from_millis(100);
            p.a.handle_timeout(p.now);
            p.b.handle_timeout(p.now);
            while let Some(pkt) = p.a.poll_packet() {
                p.b.handle_packet(p.now, &pkt);
            }
            while let Some(pkt) = p.b.poll_packet() {
                p.a.handle_packet(p.now, &pkt);
            }
        }
        p.a.send(p.now, id, b"later", false).unwrap();
        p.run();
        let got: Vec<Vec<u8>> = Pair::messages(&p.b_events, id).into_iter().map(|(d, _)| d).collect();
        assert!(got.contains(&b"later".to_vec()), "{got:?}");
        assert!(got.len() <= 2);
    }

    #[test]
    fn hostile_packets_are_ignored() {
        let mut p = Pair::new();
        for junk in [&[][..], &[0u8; 3][..], &[0xff; 12][..], &[0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 1, 0, 0, 4][..]] {
            p.a.handle_packet(p.now, junk);
            p.b.handle_packet(p.now, junk);
        }
        let id = p.a.open_channel(p.now, opts("still")).unwrap();
        p.run();
        p.a.send(p.now, id, b"ok", true).unwrap();
        p.run();
        assert_eq!(Pair::messages(&p.b_events, id), vec![(b"ok".to_vec(), true)]);
    }

    /// Both sides send an INIT (usrsctp does, as Firefox's DTLS server): the DTLS client drops
    /// the peer's INIT (sctp-proto's client endpoint would panic on it) and the association
    /// comes up from the client's own INIT.
    #[test]
    fn an_init_from_the_peer_at_the_dtls_client_is_dropped() {
        let now = Instant::now();
        let mut other_client = SctpTransport::new(true, 0);
        other_client.start(now).unwrap();
        let init = other_client.poll_packet().expect("an INIT");
        assert_eq!(init[12], CHUNK_INIT);
        let mut p = Pair::new();
        p.a.handle_packet(p.now, &init);
        assert_eq!(p.a.dropped(), 1);
        let mut fresh = SctpTransport::new(true, 0);
        fresh.handle_packet(now, &init);
        assert_eq!(fresh.dropped(), 1);
        let id = p.a.open_channel(p.now, opts("after")).unwrap();
        p.run();
        p.a.send(p.now, id, b"fine", false).unwrap();
        p.run();
        assert_eq!(Pair::messages(&p.b_events, id), vec![(b"fine".to_vec(), false)]);
    }

    /// An INIT flood at the DTLS server (each INIT with its own initiate tag) creates no
    /// association beyond the first and leaves the live one working.
    #[test]
    fn an_init_flood_at_the_server_holds_no_state() {
        let mut p = Pair::new();
        let now = p.now;
        for _ in 0..2000 {
            let mut attacker = SctpTransport::new(true, 0);
            attacker.start(now).unwrap();
            let init = attacker.poll_packet().unwrap();
            p.b.handle_packet(now, &init);
            while p.b.poll_packet().is_some() {}
        }
        assert_eq!(p.b.dropped(), 2000);
        let id = p.a.open_channel(p.now, opts("after the flood")).unwrap();
        p.run();
        p.a.send(p.now, id, b"alive", true).unwrap();
        p.run();
        assert_eq!(Pair::messages(&p.b_events, id), vec![(b"alive".to_vec(), true)]);
    }

    /// Writes real packets of an association's life (INIT, INIT ACK, COOKIE ECHO, DCEP OPEN,
    /// DATA, SACK, RECONFIG) as fuzz seeds: `cargo test --release --lib write_fuzz_seeds -- --ignored`.
    #[test]
    #[ignore]
    fn write_fuzz_seeds() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/sctp");
        std::fs::create_dir_all(&dir).unwrap();
        let now = Instant::now();
        let (mut a, mut b) = (SctpTransport::new(true, 0), SctpTransport::new(false, 0));
        let mut n = 0;
        let mut save = |p: &[u8]| {
            std::fs::write(dir.join(format!("packet-{n:02}")), p).unwrap();
            n += 1;
        };
        a.start(now).unwrap();
        let id = a.open_channel(now, opts("seed")).unwrap();
        for step in 0..40 {
            if step == 10 {
                a.send(now, id, b"hello", true).unwrap();
                a.send(now, id, &[7u8; 3000], false).unwrap();
            }
            if step == 20 {
                a.close_channel(now, id).unwrap();
            }
            while let Some(p) = a.poll_packet() {
                save(&p);
                b.handle_packet(now, &p);
            }
            while let Some(p) = b.poll_packet() {
                save(&p);
                a.handle_packet(now, &p);
            }
        }
        assert!(n >= 6, "{n} packets");
    }
}
