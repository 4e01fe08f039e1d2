//! C callbacks: the per-session table of function pointers and the event handler that calls
//! them. The session's event gate serializes the calls; this table only maps events to them.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void, CString};

use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::channel::{wrs_data_channel, wrs_data_channel_callback, ChannelHandle, CHANNELS};
use super::poll::{wrs_event_type, PollQueue, Polled};
use super::types::{wrs_connection_state, wrs_gathering_state, wrs_ice_state, wrs_media_kind, wrs_signaling_state};
use crate::fasthash::FastMap;
use crate::session::{Event, EventHandler, Session};

/// A decrypted RTP packet for `track`. `packet` is borrowed for the call.
pub type wrs_rtp_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, track: u32, packet: *const u8, len: usize)>;
/// A decrypted RTCP (compound) packet. `packet` is borrowed for the call.
pub type wrs_rtcp_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, packet: *const u8, len: usize)>;
/// A local ICE candidate (`candidate:...`, without `a=`) and the mid to signal it with.
pub type wrs_ice_candidate_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, candidate: *const c_char, mid: *const c_char)>;
pub type wrs_connection_state_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, state: wrs_connection_state)>;
pub type wrs_ice_state_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, state: wrs_ice_state)>;
pub type wrs_gathering_state_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, state: wrs_gathering_state)>;
pub type wrs_signaling_state_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, state: wrs_signaling_state)>;
/// A track the remote side sends on (new tracks created for a remote offer included).
pub type wrs_track_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, track: u32, kind: wrs_media_kind, mid: *const c_char)>;

/// The peer asks for a keyframe on `track` (a track this session sends on).
pub type wrs_keyframe_request_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, track: u32)>;

/// The send-side bandwidth estimate in bits per second (the first, then each move of 5 % or
/// more): what the host's encoders may send in total.
pub type wrs_bandwidth_estimate_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, bitrate_bps: u64)>;

/// A complete received frame (frame delivery: `wrs_session_on_frame`). `data` is borrowed for
/// the call: VP8/VP9 frames as the encoder wrote them, H.264 as an Annex B stream (start
/// codes before each NAL unit), AV1 as OBUs in the low-overhead bitstream format (each with
/// its size field) after a temporal delimiter, audio as the packet's payload.
#[repr(C)]
pub struct wrs_frame {
    pub track: u32,
    pub ssrc: u32,
    pub codec: super::types::wrs_codec,
    /// RTP timestamp (the codec's clock).
    pub timestamp: u32,
    pub keyframe: bool,
    /// Sequence numbers of this source that never arrived since its previous frame (0 when
    /// nothing was lost).
    pub lost_packets: u32,
    pub data: *const u8,
    pub len: usize,
}

/// A complete received frame; `frame` and its data are borrowed for the call.
pub type wrs_frame_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, frame: *const wrs_frame)>;

/// One registered callback and its user data (kept as an address: the host owns it).
#[derive(Clone, Copy)]
pub(crate) struct Slot<F> {
    pub f: F,
    pub user_data: usize,
}

impl<F> Slot<Option<F>> {
    /// A registration, or None to unregister when `f` is NULL.
    pub fn new(f: Option<F>, user_data: *mut c_void) -> Option<Self> {
        f.is_some().then_some(Slot { f, user_data: user_data as usize })
    }
}

#[derive(Default)]
pub(crate) struct Table {
    pub rtp: Option<Slot<wrs_rtp_callback>>,
    pub rtcp: Option<Slot<wrs_rtcp_callback>>,
    pub ice_candidate: Option<Slot<wrs_ice_candidate_callback>>,
    pub connection_state: Option<Slot<wrs_connection_state_callback>>,
    pub ice_state: Option<Slot<wrs_ice_state_callback>>,
    pub gathering_state: Option<Slot<wrs_gathering_state_callback>>,
    pub signaling_state: Option<Slot<wrs_signaling_state_callback>>,
    pub track: Option<Slot<wrs_track_callback>>,
    pub data_channel: Option<Slot<wrs_data_channel_callback>>,
    pub keyframe_request: Option<Slot<wrs_keyframe_request_callback>>,
    pub bandwidth_estimate: Option<Slot<wrs_bandwidth_estimate_callback>>,
    pub frame: Option<Slot<wrs_frame_callback>>,
}

#[derive(Default)]
pub(crate) struct Callbacks {
    pub table: Mutex<Table>,
    /// The session's channel handles by channel key (until the channel closes).
    pub channels: Mutex<FastMap<u32, Arc<ChannelHandle>>>,
    /// Handles of closed channels the host may still hold: released with the session too.
    closed: Mutex<ClosedHandles>,
    pub session: once_cell::sync::OnceCell<Weak<Session>>,
    /// Set by `wrs_session_use_polling`: events go to this queue instead of the callbacks.
    pub poll: once_cell::sync::OnceCell<PollQueue>,
    /// Polling mode with frame delivery on: frames are queued instead of RTP packets.
    pub frames_only: std::sync::atomic::AtomicBool,
}

impl Callbacks {
    /// Invalidates every channel handle of the session (its session is being freed).
    pub fn release_channels(&self) {
        for (_, h) in self.channels.lock().drain() {
            CHANNELS.remove(Arc::as_ptr(&h) as *const wrs_data_channel);
        }
        for w in std::mem::take(&mut self.closed.lock().handles) {
            // The weak reference keeps the allocation, so the address is still this handle's
            // token if it is registered at all.
            CHANNELS.remove(w.as_ptr() as *const wrs_data_channel);
        }
    }

    fn channel(&self, key: u32) -> Option<Arc<ChannelHandle>> {
        self.channels.lock().get(&key).cloned()
    }

    /// Polling mode: the event, owned, into the queue (channel handles kept as the callbacks
    /// keep them: made for a peer's channel, retired when one closes).
    fn queue_event(&self, q: &PollQueue, event: Event<'_>) {
        let token = |h: &Arc<ChannelHandle>| Arc::as_ptr(h) as usize;
        let channel_event = |kind: wrs_event_type, key: u32| -> Option<Polled> {
            let h = self.channel(key)?;
            Some(Polled { channel: token(&h), ..Polled::new(kind) })
        };
        let e = match event {
            Event::Rtp { .. } if self.frames_only.load(std::sync::atomic::Ordering::Relaxed) => None,
            Event::Rtp { track, packet } => Some(Polled { track, data: packet.to_vec(), ..Polled::new(wrs_event_type::Rtp) }),
            Event::Frame { track, frame } => Some(Polled {
                track,
                data: frame.data.to_vec(),
                state: super::types::wrs_codec::from(frame.codec) as u32,
                value: frame.timestamp as u64,
                frame: (frame.keyframe, frame.lost_packets, frame.ssrc),
                ..Polled::new(wrs_event_type::Frame)
            }),
            Event::Rtcp { packet } => Some(Polled { data: packet.to_vec(), ..Polled::new(wrs_event_type::Rtcp) }),
            Event::LocalCandidate { candidate, mid } => Some(Polled {
                text: Some(c_string(candidate)),
                mid: Some(c_string(mid)),
                ..Polled::new(wrs_event_type::IceCandidate)
            }),
            Event::ConnectionState(s) => Some(Polled::connection(s)),
            Event::IceState(s) => Some(Polled::ice(s)),
            Event::GatheringState(s) => Some(Polled::gathering(s)),
            Event::SignalingState(s) => Some(Polled::signaling(s)),
            Event::Track { track, kind, mid } => Some(Polled {
                track,
                state: Polled::kind_of(kind),
                mid: Some(c_string(mid)),
                ..Polled::new(wrs_event_type::Track)
            }),
            Event::KeyframeRequest { track } => Some(Polled { track, ..Polled::new(wrs_event_type::KeyframeRequest) }),
            Event::BandwidthEstimate { bitrate } => Some(Polled { value: bitrate, ..Polled::new(wrs_event_type::BandwidthEstimate) }),
            Event::DataChannel { channel } => {
                let Some(session) = self.session.get().and_then(Weak::upgrade) else { return };
                let Some((h, t)) = ChannelHandle::register(&session, channel) else { return };
                self.channels.lock().insert(channel, h);
                Some(Polled { channel: t as usize, ..Polled::new(wrs_event_type::DataChannel) })
            }
            Event::ChannelOpen { channel } => channel_event(wrs_event_type::ChannelOpen, channel),
            Event::ChannelMessage { channel, data, text } => channel_event(wrs_event_type::ChannelMessage, channel)
                .map(|p| Polled { data: data.to_vec(), is_text: text, ..p }),
            Event::ChannelBufferedAmountLow { channel } => channel_event(wrs_event_type::ChannelBufferedAmountLow, channel),
            Event::ChannelError { channel, message } => {
                channel_event(wrs_event_type::ChannelError, channel).map(|p| Polled { text: Some(c_string(message)), ..p })
            }
            Event::ChannelClosed { channel } => {
                let Some(h) = self.channels.lock().remove(&channel) else { return };
                self.closed.lock().push(&h);
                Some(Polled { channel: token(&h), ..Polled::new(wrs_event_type::ChannelClosed) })
            }
        };
        if let Some(e) = e {
            q.push(e);
        }
    }

    /// Delivers a data channel event to the channel's own callbacks.
    fn on_channel_event(&self, event: Event<'_>) {
        macro_rules! slot {
            ($h:expr, $field:ident) => {{
                let t = $h.callbacks.lock();
                match t.$field {
                    Some(Slot { f: Some(f), user_data }) => Some((f, user_data as *mut c_void)),
                    _ => None,
                }
            }};
        }
        let token = |h: &Arc<ChannelHandle>| Arc::as_ptr(h) as *mut wrs_data_channel;
        // SAFETY (all calls): the host registered `f` with this signature and promised that
        // `user_data` stays valid while registered; pointers passed are valid for the call.
        unsafe {
            match event {
                Event::DataChannel { channel } => {
                    let Some(session) = self.session.get().and_then(Weak::upgrade) else { return };
                    let Some((h, t)) = ChannelHandle::register(&session, channel) else { return };
                    self.channels.lock().insert(channel, h);
                    let slot = {
                        let table = self.table.lock();
                        match table.data_channel {
                            Some(Slot { f: Some(f), user_data }) => Some((f, user_data as *mut c_void)),
                            _ => None,
                        }
                    };
                    if let Some((f, ud)) = slot {
                        f(ud, t);
                    }
                }
                Event::ChannelOpen { channel } => {
                    let Some(h) = self.channel(channel) else { return };
                    if let Some((f, ud)) = slot!(h, open) {
                        f(ud, token(&h));
                    }
                }
                Event::ChannelMessage { channel, data, text } => {
                    let Some(h) = self.channel(channel) else { return };
                    if let Some((f, ud)) = slot!(h, message) {
                        f(ud, token(&h), data.as_ptr(), data.len(), text);
                    }
                }
                Event::ChannelBufferedAmountLow { channel } => {
                    let Some(h) = self.channel(channel) else { return };
                    if let Some((f, ud)) = slot!(h, buffered_amount_low) {
                        f(ud, token(&h));
                    }
                }
                Event::ChannelError { channel, message } => {
                    let Some(h) = self.channel(channel) else { return };
                    if let Some((f, ud)) = slot!(h, error) {
                        let m = c_string(message);
                        f(ud, token(&h), m.as_ptr());
                    }
                }
                Event::ChannelClosed { channel } => {
                    // The handle stays registered (getters work) until the host frees it.
                    let Some(h) = self.channels.lock().remove(&channel) else { return };
                    self.closed.lock().push(&h);
                    if let Some((f, ud)) = slot!(h, close) {
                        f(ud, token(&h));
                    }
                }
                _ => {}
            }
        }
    }
}

/// Weak references to closed channels' handles; the ones the host freed are pruned as the
/// list grows, so a session that opens and closes channels all day holds only the live ones.
#[derive(Default)]
struct ClosedHandles {
    handles: Vec<Weak<ChannelHandle>>,
    pruned_len: usize,
}

impl ClosedHandles {
    fn push(&mut self, h: &Arc<ChannelHandle>) {
        if self.handles.len() >= 2 * self.pruned_len.max(16) {
            self.handles.retain(|w| w.strong_count() > 0);
            self.pruned_len = self.handles.len();
        }
        self.handles.push(Arc::downgrade(h));
    }
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl EventHandler for Callbacks {
    fn on_event(&self, event: Event<'_>) {
        if let Some(q) = self.poll.get() {
            self.queue_event(q, event);
            return;
        }
        // Copy the slot out, then call without holding the table lock.
        macro_rules! slot {
            ($field:ident) => {{
                let t = self.table.lock();
                match t.$field {
                    Some(Slot { f: Some(f), user_data }) => (f, user_data as *mut c_void),
                    _ => return,
                }
            }};
        }
        // SAFETY (all calls): the host registered `f` with this signature and promised that
        // `user_data` stays valid while registered; pointers passed are valid for the call.
        unsafe {
            match event {
                Event::Rtp { track, packet } => {
                    let (f, ud) = slot!(rtp);
                    f(ud, track, packet.as_ptr(), packet.len());
                }
                Event::Frame { track, frame } => {
                    let (f, ud) = slot!(frame);
                    let c = wrs_frame {
                        track,
                        ssrc: frame.ssrc,
                        codec: frame.codec.into(),
                        timestamp: frame.timestamp,
                        keyframe: frame.keyframe,
                        lost_packets: frame.lost_packets,
                        data: frame.data.as_ptr(),
                        len: frame.data.len(),
                    };
                    f(ud, &c);
                }
                Event::Rtcp { packet } => {
                    let (f, ud) = slot!(rtcp);
                    f(ud, packet.as_ptr(), packet.len());
                }
                Event::LocalCandidate { candidate, mid } => {
                    let (f, ud) = slot!(ice_candidate);
                    let (c, m) = (c_string(candidate), c_string(mid));
                    f(ud, c.as_ptr(), m.as_ptr());
                }
                Event::ConnectionState(s) => {
                    let (f, ud) = slot!(connection_state);
                    f(ud, s.into());
                }
                Event::IceState(s) => {
                    let (f, ud) = slot!(ice_state);
                    f(ud, s.into());
                }
                Event::GatheringState(s) => {
                    let (f, ud) = slot!(gathering_state);
                    f(ud, s.into());
                }
                Event::SignalingState(s) => {
                    let (f, ud) = slot!(signaling_state);
                    f(ud, s.into());
                }
                Event::Track { track, kind, mid } => {
                    let (f, ud) = slot!(track);
                    let m = c_string(mid);
                    f(ud, track, kind.into(), m.as_ptr());
                }
                Event::KeyframeRequest { track } => {
                    let (f, ud) = slot!(keyframe_request);
                    f(ud, track);
                }
                Event::BandwidthEstimate { bitrate } => {
                    let (f, ud) = slot!(bandwidth_estimate);
                    f(ud, bitrate);
                }
                e @ (Event::DataChannel { .. }
                | Event::ChannelOpen { .. }
                | Event::ChannelMessage { .. }
                | Event::ChannelBufferedAmountLow { .. }
                | Event::ChannelError { .. }
                | Event::ChannelClosed { .. }) => self.on_channel_event(e),
            }
        }
    }
}
