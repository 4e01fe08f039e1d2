//! `wrs_data_channel_*`: data channels (RTCDataChannel), and `wrs_data_channel_init_*`, the
//! options a channel is created with (an opaque object with setters, so options can be added
//! without breaking the ABI).
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};
use std::sync::{Arc, Weak};

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::callbacks::Slot;
use super::error::{wrs_result, FfiError, FfiResult};
use super::guard::{bytes_arg, check_out, guard, guard_void, out_string, str_arg, write_out};
use super::handle::Registry;
use crate::session::{ChannelOptions, ChannelState, Reliability, Session};

/// A data channel (opaque), an RTCDataChannel. Created by `wrs_session_create_data_channel` or
/// handed to the data-channel callback; released with `wrs_data_channel_free` (or with its
/// session).
pub struct wrs_data_channel {
    _private: [u8; 0],
}

/// Options of a new data channel (opaque): `wrs_data_channel_init_new`, the setters, then
/// `wrs_session_create_data_channel`; free it with `wrs_data_channel_init_free`.
pub struct wrs_data_channel_init {
    _private: [u8; 0],
}

/// State of a data channel, as RTCDataChannel.readyState.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_data_channel_state {
    Connecting = 0,
    Open = 1,
    Closing = 2,
    Closed = 3,
}

impl From<ChannelState> for wrs_data_channel_state {
    fn from(s: ChannelState) -> Self {
        match s {
            ChannelState::Connecting => Self::Connecting,
            ChannelState::Open => Self::Open,
            ChannelState::Closing => Self::Closing,
            ChannelState::Closed => Self::Closed,
        }
    }
}

/// A channel the peer opened: a new handle, owned by the host from now on.
pub type wrs_data_channel_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, channel: *mut wrs_data_channel)>;
/// Open, close and buffered-amount-low of a channel.
pub type wrs_data_channel_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, channel: *mut wrs_data_channel)>;
/// A message: `data` is borrowed for the call; `is_text` for a string message (UTF-8).
pub type wrs_data_channel_message_callback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, channel: *mut wrs_data_channel, data: *const u8, len: usize, is_text: bool),
>;
/// An error on the channel (it closes next); `message` is borrowed for the call.
pub type wrs_data_channel_error_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, channel: *mut wrs_data_channel, message: *const c_char)>;

#[derive(Default)]
pub(crate) struct ChannelTable {
    pub open: Option<Slot<wrs_data_channel_event_callback>>,
    pub message: Option<Slot<wrs_data_channel_message_callback>>,
    pub close: Option<Slot<wrs_data_channel_event_callback>>,
    pub buffered_amount_low: Option<Slot<wrs_data_channel_event_callback>>,
    pub error: Option<Slot<wrs_data_channel_error_callback>>,
}

/// What a channel handle holds: the session (weakly: a freed session makes its channels fail
/// with an error, not keep it alive), the channel's key in it, its callbacks, and the facts a
/// getter may still ask for after the channel closed.
pub(crate) struct ChannelHandle {
    pub session: Weak<Session>,
    pub key: u32,
    pub callbacks: Mutex<ChannelTable>,
    label: String,
    protocol: String,
    ordered: bool,
    reliability: Reliability,
    negotiated: bool,
}

pub(crate) static CHANNELS: Lazy<Registry<ChannelHandle>> = Lazy::new(|| Registry::new("wrs_data_channel"));
static INITS: Lazy<Registry<Mutex<ChannelOptions>>> = Lazy::new(|| Registry::new("wrs_data_channel_init"));

impl ChannelHandle {
    /// A handle for channel `key` of `session`, registered; returns it and its token.
    pub fn register(session: &Arc<Session>, key: u32) -> Option<(Arc<ChannelHandle>, *mut wrs_data_channel)> {
        let info = session.data_channel_info(key).ok()?;
        let h = Arc::new(ChannelHandle {
            session: Arc::downgrade(session),
            key,
            callbacks: Mutex::new(ChannelTable::default()),
            label: info.label,
            protocol: info.protocol,
            ordered: info.ordered,
            reliability: info.reliability,
            negotiated: info.negotiated,
        });
        let token = CHANNELS.insert(Arc::clone(&h));
        Some((h, token))
    }

    fn session(&self) -> FfiResult<Arc<Session>> {
        self.session.upgrade().ok_or_else(|| FfiError::new(wrs_result::Closed, "the channel's session was freed"))
    }
}

fn channel(c: *const wrs_data_channel) -> FfiResult<Arc<ChannelHandle>> {
    CHANNELS.get(c)
}

fn init(i: *const wrs_data_channel_init) -> FfiResult<Arc<Mutex<ChannelOptions>>> {
    INITS.get(i)
}

/// Creates data channel options with the defaults of RTCDataChannelInit: ordered, reliable,
/// protocol "", opened in band (DCEP), and writes them to `*out`.
#[no_mangle]
pub extern "C" fn wrs_data_channel_init_new(out: *mut *mut wrs_data_channel_init) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let options = ChannelOptions { ordered: true, ..Default::default() };
        let token = INITS.insert(Arc::new(Mutex::new(options)));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, token, "out") }
    })
}

/// Releases channel options. NULL is a no-op.
#[no_mangle]
pub extern "C" fn wrs_data_channel_init_free(i: *mut wrs_data_channel_init) {
    guard_void(|| {
        if !i.is_null() {
            INITS.remove(i);
        }
    })
}

fn set_init(i: *mut wrs_data_channel_init, f: impl FnOnce(&mut ChannelOptions) -> FfiResult<()>) -> wrs_result {
    guard(|| {
        let o = init(i)?;
        let mut o = o.lock();
        f(&mut o)
    })
}

/// Ordered delivery (true, the default) or unordered.
#[no_mangle]
pub extern "C" fn wrs_data_channel_init_set_ordered(i: *mut wrs_data_channel_init, ordered: bool) -> wrs_result {
    set_init(i, |o| {
        o.ordered = ordered;
        Ok(())
    })
}

/// Partial reliability: a message is retransmitted at most `max_retransmits` times (0: sent
/// once). Replaces a max packet lifetime set before.
#[no_mangle]
pub extern "C" fn wrs_data_channel_init_set_max_retransmits(i: *mut wrs_data_channel_init, max_retransmits: u16) -> wrs_result {
    set_init(i, |o| {
        o.reliability = Reliability::MaxRetransmits(max_retransmits as u32);
        Ok(())
    })
}

/// Partial reliability: a message is retransmitted for at most `milliseconds`. Replaces a max
/// retransmit count set before.
#[no_mangle]
pub extern "C" fn wrs_data_channel_init_set_max_packet_life_time(i: *mut wrs_data_channel_init, milliseconds: u16) -> wrs_result {
    set_init(i, |o| {
        o.reliability = Reliability::MaxLifetimeMs(milliseconds as u32);
        Ok(())
    })
}

/// The subprotocol name (at most 65,535 bytes of UTF-8).
#[no_mangle]
pub extern "C" fn wrs_data_channel_init_set_protocol(i: *mut wrs_data_channel_init, protocol: *const c_char) -> wrs_result {
    set_init(i, |o| {
        // SAFETY: a NUL-terminated string borrowed for the call.
        let p = unsafe { str_arg(protocol, "protocol") }?;
        if p.len() > crate::session::MAX_LABEL_LEN {
            return Err(FfiError::new(wrs_result::InvalidArgument, "the protocol is longer than 65535 bytes"));
        }
        o.protocol = p.to_string();
        Ok(())
    })
}

/// A channel negotiated out of band (RTCDataChannelInit.negotiated + id): both sides create
/// it with the same `id` (0..=1023) and no DCEP open is sent.
#[no_mangle]
pub extern "C" fn wrs_data_channel_init_set_negotiated_id(i: *mut wrs_data_channel_init, id: u16) -> wrs_result {
    set_init(i, |o| {
        if id as usize >= crate::sctp::MAX_CHANNELS {
            return Err(FfiError::new(wrs_result::InvalidArgument, format!("data channel id {id} is not below 1024")));
        }
        o.negotiated_id = Some(id);
        Ok(())
    })
}

/// The DCEP priority (RFC 8832 §5.1; 256 is "normal"). Sent to the peer; this library's SCTP
/// does not schedule by it.
#[no_mangle]
pub extern "C" fn wrs_data_channel_init_set_priority(i: *mut wrs_data_channel_init, priority: u16) -> wrs_result {
    set_init(i, |o| {
        o.priority = priority;
        Ok(())
    })
}

/// Creates a data channel `label` (UTF-8, may be "") with `init` (NULL: ordered, reliable, in
/// band) and writes its handle to `*out`. The first channel adds a data section to the next
/// offer; the channel opens (open callback) once the SCTP association is up, at once if it is.
/// Register the channel's callbacks right after this call: events are delivered from library
/// threads, none before this call returns. Errors: WRS_RESULT_INVALID_ARGUMENT (negotiated id
/// in use, label too long), WRS_RESULT_LIMIT_REACHED (1,024 channels), WRS_RESULT_CLOSED.
#[no_mangle]
pub extern "C" fn wrs_session_create_data_channel(
    s: *mut super::session::wrs_session,
    label: *const c_char,
    options: *const wrs_data_channel_init,
    out: *mut *mut wrs_data_channel,
) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = super::session::handle(s)?;
        // SAFETY: a NUL-terminated string borrowed for the call.
        let label = unsafe { str_arg(label, "label") }?;
        let mut o = if options.is_null() { ChannelOptions { ordered: true, ..Default::default() } } else { init(options)?.lock().clone() };
        o.label = label.to_string();
        // Hold the session's event gate: the channel's first events wait until the handle exists.
        let token = h.session.with_events_held(|| -> FfiResult<_> {
            let key = h.session.create_data_channel(o)?;
            let (handle, token) = ChannelHandle::register(&h.session, key)
                .ok_or_else(|| FfiError::new(wrs_result::Closed, "the data channel closed as it was created"))?;
            h.callbacks.channels.lock().insert(key, handle);
            Ok(token)
        })?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, token, "out") }
    })
}

/// Releases a channel handle; the channel is closed first if it is open. NULL is a no-op; a
/// handle that is not live is ignored. No callback of this channel runs after it returns
/// (when called outside one; from inside one, once that callback returns).
#[no_mangle]
pub extern "C" fn wrs_data_channel_free(c: *mut wrs_data_channel) {
    guard_void(|| {
        if c.is_null() {
            return;
        }
        if let Some(h) = CHANNELS.remove(c) {
            *h.callbacks.lock() = ChannelTable::default();
            if let Some(s) = h.session.upgrade() {
                let _ = s.close_data_channel(h.key);
                s.with_events_held(|| ());
            }
        }
    })
}

fn register(c: *mut wrs_data_channel, set: impl FnOnce(&mut ChannelTable)) -> wrs_result {
    guard(|| {
        let h = channel(c)?;
        set(&mut h.callbacks.lock());
        Ok(())
    })
}

/// Registers the open callback (the channel can carry messages). `cb` NULL unregisters;
/// `user_data` comes back as the first argument and must stay valid while registered.
#[no_mangle]
pub extern "C" fn wrs_data_channel_on_open(c: *mut wrs_data_channel, cb: wrs_data_channel_event_callback, user_data: *mut c_void) -> wrs_result {
    register(c, |t| t.open = Slot::new(cb, user_data))
}

/// Registers the message callback.
#[no_mangle]
pub extern "C" fn wrs_data_channel_on_message(
    c: *mut wrs_data_channel,
    cb: wrs_data_channel_message_callback,
    user_data: *mut c_void,
) -> wrs_result {
    register(c, |t| t.message = Slot::new(cb, user_data))
}

/// Registers the close callback (either side closed the channel, or the association or
/// session ended); no other callback of the channel follows it.
#[no_mangle]
pub extern "C" fn wrs_data_channel_on_close(c: *mut wrs_data_channel, cb: wrs_data_channel_event_callback, user_data: *mut c_void) -> wrs_result {
    register(c, |t| t.close = Slot::new(cb, user_data))
}

/// Registers the buffered-amount-low callback (the buffered amount fell to or below the
/// threshold set with `wrs_data_channel_set_buffered_amount_low_threshold`).
#[no_mangle]
pub extern "C" fn wrs_data_channel_on_buffered_amount_low(
    c: *mut wrs_data_channel,
    cb: wrs_data_channel_event_callback,
    user_data: *mut c_void,
) -> wrs_result {
    register(c, |t| t.buffered_amount_low = Slot::new(cb, user_data))
}

/// Registers the error callback (the association failed, or the data section was refused).
#[no_mangle]
pub extern "C" fn wrs_data_channel_on_error(c: *mut wrs_data_channel, cb: wrs_data_channel_error_callback, user_data: *mut c_void) -> wrs_result {
    register(c, |t| t.error = Slot::new(cb, user_data))
}

fn send(c: *mut wrs_data_channel, data: &[u8], text: bool) -> FfiResult<()> {
    let h = channel(c)?;
    h.session()?.send_data(h.key, data, text)?;
    Ok(())
}

/// Sends a binary message of `len` bytes (0 allowed; `data` may then be NULL). Errors:
/// WRS_RESULT_INVALID_STATE (not open), WRS_RESULT_PACKET_REJECTED (larger than the peer's
/// max-message-size), WRS_RESULT_LIMIT_REACHED (16 MB buffered: wait for buffered-amount-low).
#[no_mangle]
pub extern "C" fn wrs_data_channel_send(c: *mut wrs_data_channel, data: *const u8, len: usize) -> wrs_result {
    guard(|| {
        // SAFETY: NULL (with len 0) or `len` readable bytes borrowed for the call.
        let d = unsafe { bytes_arg(data, len, "data") }?;
        send(c, d, false)
    })
}

/// Sends a string message: `text` is NUL-terminated UTF-8 ("" allowed). Errors as
/// `wrs_data_channel_send`, and WRS_RESULT_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wrs_data_channel_send_text(c: *mut wrs_data_channel, text: *const c_char) -> wrs_result {
    guard(|| {
        // SAFETY: a NUL-terminated string borrowed for the call.
        let t = unsafe { str_arg(text, "text") }?;
        send(c, t.as_bytes(), true)
    })
}

/// Closes the channel (RTCDataChannel.close): its stream is reset, the peer sees the close,
/// and the close callback fires once both directions are reset. Idempotent; the handle stays
/// valid (getters work, sends fail) until `wrs_data_channel_free`.
#[no_mangle]
pub extern "C" fn wrs_data_channel_close(c: *mut wrs_data_channel) -> wrs_result {
    guard(|| {
        let h = channel(c)?;
        match h.session.upgrade() {
            Some(s) => s.close_data_channel(h.key).or_else(|e| if s.data_channel_state(h.key).is_ok() { Ok(()) } else { Err(e) })?,
            None => {}
        }
        Ok(())
    })
}

/// The channel's state (CLOSED once closed, also after its session was freed).
#[no_mangle]
pub extern "C" fn wrs_data_channel_ready_state(c: *mut wrs_data_channel, out: *mut wrs_data_channel_state) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = channel(c)?;
        let state = match h.session.upgrade() {
            Some(s) => s.data_channel_state(h.key).unwrap_or(ChannelState::Closed),
            None => ChannelState::Closed,
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, state.into(), "out") }
    })
}

/// The channel's label (free with `wrs_string_free`).
#[no_mangle]
pub extern "C" fn wrs_data_channel_label(c: *mut wrs_data_channel, out: *mut *mut c_char) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = channel(c)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, out_string(h.label.clone()), "out") }
    })
}

/// The channel's subprotocol (free with `wrs_string_free`).
#[no_mangle]
pub extern "C" fn wrs_data_channel_protocol(c: *mut wrs_data_channel, out: *mut *mut c_char) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = channel(c)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, out_string(h.protocol.clone()), "out") }
    })
}

/// The SCTP stream id. WRS_RESULT_NOT_AVAILABLE until it is known (an in-band channel gets it
/// once the DTLS role is negotiated).
#[no_mangle]
pub extern "C" fn wrs_data_channel_id(c: *mut wrs_data_channel, out: *mut u16) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = channel(c)?;
        let id = h.session()?.data_channel_info(h.key).ok().and_then(|i| i.stream_id);
        let id = id.ok_or_else(|| FfiError::new(wrs_result::NotAvailable, "the stream id is not known yet (or the channel closed)"))?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, id, "out") }
    })
}

/// Whether messages arrive in order.
#[no_mangle]
pub extern "C" fn wrs_data_channel_ordered(c: *mut wrs_data_channel, out: *mut bool) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = channel(c)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, h.ordered, "out") }
    })
}

/// Whether the channel was negotiated out of band.
#[no_mangle]
pub extern "C" fn wrs_data_channel_negotiated(c: *mut wrs_data_channel, out: *mut bool) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = channel(c)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, h.negotiated, "out") }
    })
}

/// The max retransmit count, or -1 when the channel is not limited by a count.
#[no_mangle]
pub extern "C" fn wrs_data_channel_max_retransmits(c: *mut wrs_data_channel, out: *mut i32) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = channel(c)?;
        let v = match h.reliability {
            Reliability::MaxRetransmits(n) => n as i32,
            _ => -1,
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, v, "out") }
    })
}

/// The max packet lifetime in milliseconds, or -1 when the channel is not limited by time.
#[no_mangle]
pub extern "C" fn wrs_data_channel_max_packet_life_time(c: *mut wrs_data_channel, out: *mut i32) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = channel(c)?;
        let v = match h.reliability {
            Reliability::MaxLifetimeMs(n) => n as i32,
            _ => -1,
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, v, "out") }
    })
}

/// Bytes queued on the channel and not yet acknowledged by the peer (0 once closed).
#[no_mangle]
pub extern "C" fn wrs_data_channel_buffered_amount(c: *mut wrs_data_channel, out: *mut usize) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = channel(c)?;
        let n = h.session.upgrade().and_then(|s| s.data_channel_buffered_amount(h.key).ok()).unwrap_or(0);
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, n, "out") }
    })
}

/// The threshold of the buffered-amount-low callback (default 0).
#[no_mangle]
pub extern "C" fn wrs_data_channel_set_buffered_amount_low_threshold(c: *mut wrs_data_channel, threshold: usize) -> wrs_result {
    guard(|| {
        let h = channel(c)?;
        h.session()?.set_data_channel_buffered_amount_low_threshold(h.key, threshold)?;
        Ok(())
    })
}
