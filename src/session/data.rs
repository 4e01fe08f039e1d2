//! The session's data channels: the glue between the sans-IO SCTP layer (`crate::sctp`) and the
//! session. Channels have session-wide keys (what the host holds) because a channel created
//! before negotiation has no stream id yet: the DTLS role decides its parity. This module
//! keeps that mapping, opens waiting channels once the association exists, turns SCTP events
//! into session events, and says when the association's timer must fire next. It does no I/O:
//! the session sends the packets it returns through DTLS.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::events::OwnedEvent;
use crate::error::{self, Result};
use crate::sctp::{ChannelEvent, ChannelOptions, ChannelState, Reliability, SctpTransport, MAX_CHANNELS};

/// Longest label or protocol accepted (DCEP carries 16-bit lengths; browsers allow 65,535).
pub const MAX_LABEL_LEN: usize = 65_535;

/// What a getter says of a channel.
#[derive(Debug, Clone)]
pub struct DataChannelInfo {
    pub label: String,
    pub protocol: String,
    pub ordered: bool,
    pub reliability: Reliability,
    pub negotiated: bool,
    /// The SCTP stream id, once known (at once for a negotiated channel; for an in-band one
    /// once the DTLS role is).
    pub stream_id: Option<u16>,
    pub state: ChannelState,
    /// What went each way on this channel (messages and payload bytes).
    pub messages_sent: u64,
    pub bytes_sent: u64,
    pub messages_received: u64,
    pub bytes_received: u64,
}

struct Entry {
    stream: Option<u16>,
    options: ChannelOptions,
    state: ChannelState,
    low_threshold: usize,
    /// messages sent, bytes sent, messages received, bytes received.
    moved: [u64; 4],
}

/// Data channel counters of a session.
#[derive(Debug, Clone, Copy, Default)]
pub struct DataCounters {
    pub messages_sent: u64,
    pub bytes_sent: u64,
    pub messages_received: u64,
    pub bytes_received: u64,
    /// SCTP packets dropped before the association (an INIT at the DTLS client, extra INITs
    /// at the server, anything after an internal failure).
    pub sctp_packets_dropped: u64,
}

/// Work for the session after a data operation: SCTP packets to send through DTLS and events
/// to post.
#[derive(Default)]
pub struct Output {
    pub packets: Vec<Vec<u8>>,
    pub events: Vec<OwnedEvent>,
}

pub struct DataChannels {
    sctp: Option<SctpTransport>,
    channels: BTreeMap<u32, Entry>,
    by_stream: HashMap<u16, u32>,
    next_key: u32,
    /// Why the association cannot exist or ended.
    failure: Option<String>,
    /// When the timer task was last told to wake.
    pub scheduled: Option<Instant>,
    counters: DataCounters,
    /// The session's number in log messages.
    pub log_id: u32,
}

impl Default for DataChannels {
    fn default() -> Self {
        DataChannels {
            log_id: 0,
            sctp: None,
            channels: BTreeMap::new(),
            by_stream: HashMap::new(),
            next_key: 1,
            failure: None,
            scheduled: None,
            counters: DataCounters::default(),
        }
    }
}

fn unknown(key: u32) -> error::Error {
    error::invalid_argument(format!("data channel {key} does not exist in this session (closed, or never created)"))
}

impl DataChannels {
    pub fn counters(&self) -> DataCounters {
        let mut c = self.counters;
        c.sctp_packets_dropped += self.sctp.as_ref().map_or(0, |s| s.dropped());
        c
    }

    pub fn is_configured(&self) -> bool {
        self.sctp.is_some()
    }

    /// Creates a channel; it opens once the association is up (at once if it is).
    pub fn create(&mut self, now: Instant, options: ChannelOptions, out: &mut Output) -> Result<u32> {
        if options.label.len() > MAX_LABEL_LEN || options.protocol.len() > MAX_LABEL_LEN {
            return Err(error::invalid_argument(format!("a data channel label or protocol is limited to {MAX_LABEL_LEN} bytes")));
        }
        if self.channels.len() >= MAX_CHANNELS {
            return Err(error::limit_reached(format!("{MAX_CHANNELS} data channels exist already in this session")));
        }
        if let Some(reason) = &self.failure {
            return Err(error::not_connected(format!("data channels cannot open: {reason}")));
        }
        if let Some(id) = options.negotiated_id {
            if id as usize >= MAX_CHANNELS {
                return Err(error::invalid_argument(format!("data channel id {id} is not below {MAX_CHANNELS}")));
            }
            if self.channels.values().any(|e| e.stream == Some(id)) {
                return Err(error::invalid_argument(format!("data channel id {id} is in use")));
            }
        }
        if let Reliability::MaxRetransmits(n) | Reliability::MaxLifetimeMs(n) = options.reliability {
            if n > u16::MAX as u32 {
                return Err(error::invalid_argument(format!("maxRetransmits / maxPacketLifeTime {n} is above 65535")));
            }
        }
        let key = self.next_key;
        self.next_key += 1;
        let mut entry = Entry { stream: options.negotiated_id, options, state: ChannelState::Connecting, low_threshold: 0, moved: [0; 4] };
        if let Some(sctp) = self.sctp.as_mut() {
            let id = sctp.open_channel(now, entry.options.clone())?;
            entry.stream = Some(id);
            self.by_stream.insert(id, key);
        }
        self.channels.insert(key, entry);
        self.collect(out);
        Ok(key)
    }

    /// Negotiation agreed on data channels: the association is created with our DTLS role and
    /// the peer's max-message-size, and waiting channels get their stream ids.
    pub fn configure(&mut self, now: Instant, dtls_client: bool, remote_max_message_size: u32, out: &mut Output) {
        if self.sctp.is_some() {
            return;
        }
        let mut sctp = SctpTransport::new(dtls_client, remote_max_message_size);
        let waiting: Vec<u32> = self.channels.keys().copied().collect();
        // Negotiated ids first, so an in-band channel does not take an id the host chose.
        let (fixed, free): (Vec<u32>, Vec<u32>) = waiting.into_iter().partition(|k| self.channels[k].options.negotiated_id.is_some());
        for key in fixed.into_iter().chain(free) {
            let entry = self.channels.get_mut(&key).expect("listed above");
            match sctp.open_channel(now, entry.options.clone()) {
                Ok(id) => {
                    entry.stream = Some(id);
                    self.by_stream.insert(id, key);
                }
                Err(e) => {
                    self.channels.remove(&key);
                    out.events.push(OwnedEvent::ChannelError { channel: key, message: e.message().to_string() });
                    out.events.push(OwnedEvent::ChannelClosed { channel: key });
                }
            }
        }
        self.sctp = Some(sctp);
        self.collect(out);
    }

    /// DTLS is up: the DTLS client starts the association.
    pub fn start(&mut self, now: Instant, out: &mut Output) {
        if let Some(sctp) = self.sctp.as_mut() {
            if let Err(e) = sctp.start(now) {
                self.fail(e.message().to_string(), out);
                return;
            }
        }
        self.collect(out);
    }

    /// The data section was refused, or the transport ended: every channel closes.
    pub fn fail(&mut self, reason: String, out: &mut Output) {
        if self.sctp.is_some() || !self.channels.is_empty() {
            crate::wlog!(Warn, Sctp, "session {}: data channels end: {}", self.log_id, reason);
        }
        self.failure.get_or_insert(reason.clone());
        self.counters.sctp_packets_dropped += self.sctp.take().map_or(0, |s| s.dropped());
        self.by_stream.clear();
        for key in std::mem::take(&mut self.channels).into_keys() {
            out.events.push(OwnedEvent::ChannelError { channel: key, message: reason.clone() });
            out.events.push(OwnedEvent::ChannelClosed { channel: key });
        }
    }

    /// The session closed: every channel closes without an error.
    pub fn close_all(&mut self, out: &mut Output) {
        self.failure.get_or_insert_with(|| "the session is closed".into());
        self.counters.sctp_packets_dropped += self.sctp.take().map_or(0, |s| s.dropped());
        self.by_stream.clear();
        for key in std::mem::take(&mut self.channels).into_keys() {
            out.events.push(OwnedEvent::ChannelClosed { channel: key });
        }
    }

    pub fn handle_packet(&mut self, now: Instant, packet: &[u8], out: &mut Output) {
        if let Some(sctp) = self.sctp.as_mut() {
            sctp.handle_packet(now, packet);
            self.collect(out);
        }
    }

    /// A received packet whose processing output waits for `flush` (the end of the receive
    /// thread's batch); returns whether there is something to flush.
    pub fn handle_packet_deferred(&mut self, now: Instant, packet: &[u8]) -> bool {
        match self.sctp.as_mut() {
            Some(sctp) => {
                sctp.handle_packet_deferred(now, packet);
                true
            }
            None => false,
        }
    }

    pub fn flush(&mut self, now: Instant, out: &mut Output) {
        if let Some(sctp) = self.sctp.as_mut() {
            sctp.flush(now);
            self.collect(out);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Output) {
        if let Some(sctp) = self.sctp.as_mut() {
            sctp.handle_timeout(now);
            self.collect(out);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sctp.as_ref().and_then(|s| s.poll_timeout())
    }

    /// The error for a key with no entry: closed if it existed, unknown otherwise.
    fn missing(&self, key: u32) -> error::Error {
        if key > 0 && key < self.next_key {
            error::invalid_state(format!("data channel {key} is closed"))
        } else {
            unknown(key)
        }
    }

    fn stream_of(&self, key: u32) -> Result<u16> {
        let e = self.channels.get(&key).ok_or_else(|| self.missing(key))?;
        match (e.state, e.stream) {
            (ChannelState::Open, Some(id)) => Ok(id),
            (state, _) => Err(error::invalid_state(format!(
                "data channel {key} is {}, not open",
                match state {
                    ChannelState::Connecting => "connecting",
                    ChannelState::Open => "open",
                    ChannelState::Closing => "closing",
                    ChannelState::Closed => "closed",
                }
            ))),
        }
    }

    pub fn send(&mut self, now: Instant, key: u32, data: &[u8], text: bool, out: &mut Output) -> Result<()> {
        let id = self.stream_of(key)?;
        let sctp = self.sctp.as_mut().ok_or_else(|| error::not_connected("the SCTP association is not up"))?;
        sctp.send(now, id, data, text)?;
        self.counters.messages_sent += 1;
        self.counters.bytes_sent += data.len() as u64;
        if let Some(e) = self.channels.get_mut(&key) {
            e.moved[0] += 1;
            e.moved[1] += data.len() as u64;
        }
        self.collect(out);
        Ok(())
    }

    pub fn close(&mut self, now: Instant, key: u32, out: &mut Output) -> Result<()> {
        let e = self.channels.get_mut(&key).ok_or_else(|| unknown(key))?;
        if matches!(e.state, ChannelState::Closing | ChannelState::Closed) {
            return Ok(());
        }
        match (self.sctp.as_mut(), e.stream) {
            (Some(sctp), Some(id)) => {
                e.state = ChannelState::Closing;
                sctp.close_channel(now, id)?;
            }
            _ => {
                self.channels.remove(&key);
                out.events.push(OwnedEvent::ChannelClosed { channel: key });
            }
        }
        self.collect(out);
        Ok(())
    }

    /// The keys of the channels this session knows (open, connecting or closing).
    pub fn keys(&self) -> Vec<u32> {
        self.channels.keys().copied().collect()
    }

    pub fn info(&self, key: u32) -> Result<DataChannelInfo> {
        let e = self.channels.get(&key).ok_or_else(|| unknown(key))?;
        Ok(DataChannelInfo {
            label: e.options.label.clone(),
            protocol: e.options.protocol.clone(),
            ordered: e.options.ordered,
            reliability: e.options.reliability,
            negotiated: e.options.negotiated_id.is_some(),
            stream_id: e.stream,
            state: e.state,
            messages_sent: e.moved[0],
            bytes_sent: e.moved[1],
            messages_received: e.moved[2],
            bytes_received: e.moved[3],
        })
    }

    /// The state of a channel, `Closed` for one that existed and is gone.
    pub fn state(&self, key: u32) -> Result<ChannelState> {
        match self.channels.get(&key) {
            Some(e) => Ok(e.state),
            None if key > 0 && key < self.next_key => Ok(ChannelState::Closed),
            None => Err(unknown(key)),
        }
    }

    pub fn buffered_amount(&mut self, key: u32) -> Result<usize> {
        let e = self.channels.get(&key).ok_or_else(|| unknown(key))?;
        Ok(match (self.sctp.as_mut(), e.stream, e.state) {
            (Some(sctp), Some(id), ChannelState::Open | ChannelState::Closing) => sctp.buffered_amount(id),
            _ => 0,
        })
    }

    pub fn set_low_threshold(&mut self, key: u32, threshold: usize) -> Result<()> {
        let e = self.channels.get_mut(&key).ok_or_else(|| unknown(key))?;
        e.low_threshold = threshold;
        if let (Some(sctp), Some(id), ChannelState::Open) = (self.sctp.as_mut(), e.stream, e.state) {
            sctp.set_buffered_amount_low_threshold(id, threshold)?;
        }
        Ok(())
    }

    /// Moves what the association produced into `out`, translating stream ids to keys.
    fn collect(&mut self, out: &mut Output) {
        let Some(sctp) = self.sctp.as_mut() else { return };
        while let Some(p) = sctp.poll_packet() {
            out.packets.push(p);
        }
        while let Some(event) = sctp.poll_event() {
            match event {
                ChannelEvent::Connected => crate::wlog!(Info, Sctp, "session {}: SCTP association established", self.log_id),
                ChannelEvent::Open { id } => {
                    let Some(&key) = self.by_stream.get(&id) else { continue };
                    if let Some(e) = self.channels.get_mut(&key) {
                        e.state = ChannelState::Open;
                        if e.low_threshold > 0 {
                            let _ = sctp.set_buffered_amount_low_threshold(id, e.low_threshold);
                        }
                        crate::wlog!(Debug, Sctp, "session {}: channel {} ({:?}) open on stream {}", self.log_id, key, e.options.label, id);
                        out.events.push(OwnedEvent::ChannelOpen { channel: key });
                    }
                }
                ChannelEvent::PeerOpened { id } => {
                    let Some(options) = sctp.options(id).cloned() else { continue };
                    let key = self.next_key;
                    self.next_key += 1;
                    self.channels.insert(key, Entry { stream: Some(id), options, state: ChannelState::Open, low_threshold: 0, moved: [0; 4] });
                    self.by_stream.insert(id, key);
                    out.events.push(OwnedEvent::DataChannel { channel: key });
                    out.events.push(OwnedEvent::ChannelOpen { channel: key });
                }
                ChannelEvent::Message { id, data, text } => {
                    self.counters.messages_received += 1;
                    self.counters.bytes_received += data.len() as u64;
                    if let Some(&key) = self.by_stream.get(&id) {
                        if let Some(e) = self.channels.get_mut(&key) {
                            e.moved[2] += 1;
                            e.moved[3] += data.len() as u64;
                        }
                        out.events.push(OwnedEvent::ChannelMessage { channel: key, data, text });
                    }
                }
                ChannelEvent::BufferedAmountLow { id } => {
                    if let Some(&key) = self.by_stream.get(&id) {
                        out.events.push(OwnedEvent::ChannelBufferedAmountLow { channel: key });
                    }
                }
                ChannelEvent::Closed { id } => {
                    if let Some(key) = self.by_stream.remove(&id) {
                        self.channels.remove(&key);
                        out.events.push(OwnedEvent::ChannelClosed { channel: key });
                    }
                }
                ChannelEvent::Failed { reason } => {
                    self.failure.get_or_insert(reason.clone());
                    for (key, _) in std::mem::take(&mut self.channels) {
                        out.events.push(OwnedEvent::ChannelError { channel: key, message: reason.clone() });
                        out.events.push(OwnedEvent::ChannelClosed { channel: key });
                    }
                    self.by_stream.clear();
                }
            }
        }
    }
}
