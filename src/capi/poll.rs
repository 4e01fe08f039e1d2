//! Polling mode: no library thread calls into the host. A session's events wait in its queue,
//! in order; an eventfd is readable while any waits; the host drains them with
//! `wrs_session_next_event` from its own loop (epoll, asyncio, a GUI's main loop).
//!
//! Bounded: past `MAX_QUEUED_BYTES` of waiting packets and messages, RTP and RTCP are dropped
//! and counted (`WRS_STAT_POLL_EVENTS_DROPPED`); past `MAX_QUEUED_EVENTS` events or twice
//! the bytes, any event is (a host that stopped draining cannot make the library grow).
#![allow(non_camel_case_types)]

use std::collections::VecDeque;
use std::ffi::{c_char, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::channel::wrs_data_channel;
use super::error::{wrs_result, FfiError, FfiResult};
use super::guard::{check_out, guard, write_out};
use super::session::{handle, wrs_session};
use super::types::{wrs_connection_state, wrs_gathering_state, wrs_ice_state, wrs_media_kind, wrs_signaling_state};

/// Events waiting at most.
pub const MAX_QUEUED_EVENTS: usize = 65_536;
/// Bytes of packets and messages waiting before media is dropped.
pub const MAX_QUEUED_BYTES: usize = 16 << 20;

/// What a `wrs_event` reports.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wrs_event_type {
    /// No event waits.
    None = 0,
    /// `track`, `data`/`len`: a decrypted RTP packet.
    Rtp = 1,
    /// `data`/`len`: a decrypted compound RTCP packet.
    Rtcp = 2,
    /// `text`: a local candidate line, `mid`: its m-section.
    IceCandidate = 3,
    /// `state`: a `wrs_connection_state`.
    ConnectionState = 4,
    /// `state`: a `wrs_ice_state`.
    IceState = 5,
    /// `state`: a `wrs_gathering_state`.
    GatheringState = 6,
    /// `state`: a `wrs_signaling_state`.
    SignalingState = 7,
    /// `track`, `state` (a `wrs_media_kind`), `mid`: a track the remote side sends on.
    Track = 8,
    /// `channel`: a channel the peer opened, now the host's (free it with
    /// `wrs_data_channel_free`); CHANNEL_OPEN for it follows.
    DataChannel = 9,
    /// `channel` can carry messages.
    ChannelOpen = 10,
    /// `channel`, `data`/`len`, `is_text`: a message.
    ChannelMessage = 11,
    /// `channel`: its buffered amount fell to its low threshold.
    ChannelBufferedAmountLow = 12,
    /// `channel`, `text`: what failed (the channel closes next).
    ChannelError = 13,
    /// `channel` is closed.
    ChannelClosed = 14,
    /// `track`: the peer asks for a keyframe on it.
    KeyframeRequest = 15,
    /// `value`: the send-side bandwidth estimate in bits per second.
    BandwidthEstimate = 16,
    /// `track`, `data`/`len`: a complete received frame (frame delivery on:
    /// `wrs_session_receive_frames`); `state`: its `wrs_codec`, `value`: its RTP timestamp,
    /// `is_keyframe`, `lost_packets`, `ssrc`.
    Frame = 17,
}

/// One event drained by `wrs_session_next_event`. Members a type does not use are 0 or NULL.
/// The pointers stay valid until the next `wrs_session_next_event` on the session or its free.
#[repr(C)]
pub struct wrs_event {
    pub kind: wrs_event_type,
    pub track: u32,
    pub state: u32,
    pub is_text: bool,
    pub value: u64,
    pub channel: *mut wrs_data_channel,
    pub data: *const u8,
    pub len: usize,
    pub text: *const c_char,
    pub mid: *const c_char,
    /// FRAME: a keyframe.
    pub is_keyframe: bool,
    /// FRAME: sequence numbers that never arrived since the source's previous frame.
    pub lost_packets: u32,
    /// FRAME: the source.
    pub ssrc: u32,
}

/// An event as queued (owned).
pub(crate) struct Polled {
    pub kind: wrs_event_type,
    pub track: u32,
    pub state: u32,
    pub is_text: bool,
    pub value: u64,
    pub channel: usize,
    pub data: Vec<u8>,
    pub text: Option<CString>,
    pub mid: Option<CString>,
    /// FRAME: keyframe, lost packets, SSRC.
    pub frame: (bool, u32, u32),
}

impl Polled {
    pub fn new(kind: wrs_event_type) -> Self {
        Polled {
            kind,
            track: 0,
            state: 0,
            is_text: false,
            value: 0,
            channel: 0,
            data: Vec::new(),
            text: None,
            mid: None,
            frame: (false, 0, 0),
        }
    }

    pub fn state(kind: wrs_event_type, state: u32) -> Self {
        Polled { state, ..Polled::new(kind) }
    }

    pub fn connection(s: crate::session::ConnectionState) -> Self {
        Polled::state(wrs_event_type::ConnectionState, wrs_connection_state::from(s) as u32)
    }
    pub fn ice(s: crate::ice::IceState) -> Self {
        Polled::state(wrs_event_type::IceState, wrs_ice_state::from(s) as u32)
    }
    pub fn gathering(s: crate::session::GatheringState) -> Self {
        Polled::state(wrs_event_type::GatheringState, wrs_gathering_state::from(s) as u32)
    }
    pub fn signaling(s: crate::session::SignalingState) -> Self {
        Polled::state(wrs_event_type::SignalingState, wrs_signaling_state::from(s) as u32)
    }
    pub fn kind_of(k: crate::negotiation::MediaKind) -> u32 {
        wrs_media_kind::from(k) as u32
    }

    fn bytes(&self) -> usize {
        self.data.len() + self.text.as_ref().map_or(0, |t| t.as_bytes().len()) + 64
    }

    fn is_media(&self) -> bool {
        matches!(self.kind, wrs_event_type::Rtp | wrs_event_type::Rtcp | wrs_event_type::Frame)
    }
}

struct Queue {
    events: VecDeque<Polled>,
    bytes: usize,
}

/// A session's event queue and its eventfd.
pub(crate) struct PollQueue {
    fd: OwnedFd,
    queue: Mutex<Queue>,
    /// The event the host drained last (its pointers live here until the next call).
    current: Mutex<Option<Polled>>,
    pub dropped: AtomicU64,
    /// When the host's thread reads the session's own socket: an epoll descriptor watching
    /// the eventfd and the socket (what the host polls), and the receive buffers.
    host: once_cell::sync::OnceCell<HostReceive>,
}

struct HostReceive {
    epoll: OwnedFd,
    bufs: Mutex<Option<Box<crate::ice::RecvBuffers>>>,
}

impl PollQueue {
    fn new() -> FfiResult<Self> {
        // SAFETY: eventfd has no pointer arguments; a non-negative result is a new descriptor
        // that this OwnedFd then owns.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(FfiError::new(wrs_result::Io, format!("eventfd: {}", std::io::Error::last_os_error())));
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(PollQueue {
            fd,
            queue: Mutex::new(Queue { events: VecDeque::new(), bytes: 0 }),
            current: Mutex::new(None),
            dropped: AtomicU64::new(0),
            host: once_cell::sync::OnceCell::new(),
        })
    }

    /// What the host polls: the epoll descriptor when its thread reads the socket, else the
    /// eventfd.
    pub fn raw_fd(&self) -> RawFd {
        self.host.get().map_or(self.fd.as_raw_fd(), |h| h.epoll.as_raw_fd())
    }

    /// Watches the eventfd and the session's socket `socket` with one epoll descriptor, which
    /// becomes what the host polls.
    fn drive(&self, socket: RawFd) -> FfiResult<()> {
        let io = |what: &str| FfiError::new(wrs_result::Io, format!("{what}: {}", std::io::Error::last_os_error()));
        // SAFETY: plain syscall; a non-negative result is a new descriptor owned right away.
        let e = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if e < 0 {
            return Err(io("epoll_create1"));
        }
        // SAFETY: `e` was just created and is owned by nobody else.
        let epoll = unsafe { OwnedFd::from_raw_fd(e) };
        for fd in [self.fd.as_raw_fd(), socket] {
            let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: fd as u64 };
            // SAFETY: valid descriptors and event.
            if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
                return Err(io("epoll_ctl"));
            }
        }
        let _ = self.host.set(HostReceive { epoll, bufs: Mutex::new(None) });
        Ok(())
    }

    /// When nothing waits and the host's thread reads the socket: one batch of what arrived,
    /// handled here (its events land in the queue).
    fn receive_if_idle(&self, session: &crate::session::Session) {
        let Some(h) = self.host.get() else { return };
        if !self.queue.lock().events.is_empty() {
            return;
        }
        let mut bufs = h.bufs.lock();
        let b = bufs.get_or_insert_with(|| Box::new(crate::ice::RecvBuffers::new()));
        session.receive_now(b);
    }

    /// Queues an event (or drops and counts it past the bounds) and makes the fd readable.
    pub fn push(&self, e: Polled) {
        let mut q = self.queue.lock();
        let size = e.bytes();
        let over = q.events.len() >= MAX_QUEUED_EVENTS
            || q.bytes + size > 2 * MAX_QUEUED_BYTES
            || (e.is_media() && q.bytes + size > MAX_QUEUED_BYTES);
        if over {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.bytes += size;
        q.events.push_back(e);
        if q.events.len() == 1 {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our eventfd. EAGAIN (counter full)
            // cannot happen with one write per empty-to-non-empty change.
            unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    /// Takes the oldest event into `current`; the fd stays readable while more wait. Under the
    /// queue lock, so a push racing with the last pop cannot leave an event behind an unread
    /// descriptor.
    fn pop(&self) -> bool {
        let mut q = self.queue.lock();
        let e = q.events.pop_front();
        if let Some(e) = &e {
            q.bytes -= e.bytes();
        }
        if q.events.is_empty() {
            let mut v: u64 = 0;
            // SAFETY: reads 8 bytes into a live u64 from our non-blocking eventfd (EAGAIN when
            // already clear, which is fine).
            unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        }
        let some = e.is_some();
        *self.current.lock() = e;
        some
    }

    fn fill(&self, out: &mut wrs_event) {
        let cur = self.current.lock();
        let Some(e) = cur.as_ref() else {
            *out = wrs_event::empty();
            return;
        };
        *out = wrs_event {
            kind: e.kind,
            track: e.track,
            state: e.state,
            is_text: e.is_text,
            value: e.value,
            channel: e.channel as *mut wrs_data_channel,
            data: if e.data.is_empty() { std::ptr::null() } else { e.data.as_ptr() },
            len: e.data.len(),
            text: e.text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
            mid: e.mid.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
            is_keyframe: e.frame.0,
            lost_packets: e.frame.1,
            ssrc: e.frame.2,
        };
    }
}

impl Default for wrs_event {
    fn default() -> Self {
        wrs_event::empty()
    }
}

impl wrs_event {
    /// No event: every member 0 or NULL.
    pub fn empty() -> Self {
        wrs_event {
            kind: wrs_event_type::None,
            track: 0,
            state: 0,
            is_text: false,
            value: 0,
            channel: std::ptr::null_mut(),
            data: std::ptr::null(),
            len: 0,
            text: std::ptr::null(),
            mid: std::ptr::null(),
            is_keyframe: false,
            lost_packets: 0,
            ssrc: 0,
        }
    }
}

/// Switches the session to polling mode and writes its event descriptor to `*out_fd`: from
/// now on no library thread calls the session's callbacks (nor its channels'); every event
/// waits, in order, for `wrs_session_next_event`, and `*out_fd` (owned by the session: do not
/// close it, do not use it after `wrs_session_free`) is readable while any waits.
///
/// A session with its own socket (no shared port) also hands that socket to the host's
/// thread: `*out_fd` is then an epoll descriptor that is readable too while datagrams wait,
/// and `wrs_session_next_event` reads and handles them (so a packet wakes one thread, not
/// two; it may then return WRS_EVENT_TYPE_NONE when what arrived was only ICE traffic). Keep
/// draining while the call lasts: ICE consent checks are answered from there. On a shared
/// port `*out_fd` is an eventfd and the media receive thread keeps reading.
///
/// Call it before negotiating so that no event goes to a callback first; calling it again
/// returns the same descriptor. Errors: WRS_RESULT_IO if no descriptor can be made.
#[no_mangle]
pub extern "C" fn wrs_session_use_polling(s: *mut wrs_session, out_fd: *mut i32) -> wrs_result {
    guard(|| {
        check_out(out_fd, "out_fd")?;
        let h = handle(s)?;
        let q = match h.callbacks.poll.get() {
            Some(q) => q,
            None => {
                let q = PollQueue::new()?;
                // The session's own socket moves to the host's thread: an arriving packet
                // then wakes the host once, as a callback would, not the receive thread and
                // then the host. A shared port stays with the receive thread.
                if let Some(socket) = h.session.take_over_receive() {
                    q.drive(socket)?;
                }
                let _ = h.callbacks.poll.set(q);
                h.callbacks.poll.get().ok_or_else(|| FfiError::new(wrs_result::InvalidState, "the poll queue vanished"))?
            }
        };
        // SAFETY: NULL is rejected; otherwise a writable pointer.
        unsafe { write_out(out_fd, q.raw_fd(), "out_fd") }
    })
}

/// Takes the oldest waiting event into `*out` (`kind` WRS_EVENT_TYPE_NONE when none waits).
/// Its pointers stay valid until the next call on this session or its free. Drain from one
/// thread at a time. Errors: WRS_RESULT_INVALID_STATE when the session is not in polling
/// mode (`wrs_session_use_polling`).
#[no_mangle]
pub extern "C" fn wrs_session_next_event(s: *mut wrs_session, out: *mut wrs_event) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = handle(s)?;
        let q = h
            .callbacks
            .poll
            .get()
            .ok_or_else(|| FfiError::new(wrs_result::InvalidState, "the session is not in polling mode: call wrs_session_use_polling first"))?;
        q.receive_if_idle(&h.session);
        q.pop();
        // SAFETY: NULL is rejected above; the host passes a writable wrs_event.
        unsafe { q.fill(&mut *out) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd for the call.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    #[test]
    fn the_queue_is_bounded_and_the_descriptor_follows_it() {
        let Ok(q) = PollQueue::new() else { panic!("eventfd") };
        assert!(!readable(q.raw_fd()));
        // Media past the byte bound is dropped; state events still fit.
        for _ in 0..20_000 {
            q.push(Polled { data: vec![0; 1200], ..Polled::new(wrs_event_type::Rtp) });
        }
        let media = q.queue.lock().events.len();
        assert!(media * 1264 <= MAX_QUEUED_BYTES && media > 10_000, "{media}");
        assert!(q.dropped.load(Ordering::Relaxed) > 0);
        q.push(Polled::new(wrs_event_type::KeyframeRequest));
        assert_eq!(q.queue.lock().events.len(), media + 1, "a state event is not media");
        // And the count bound holds for anything.
        for _ in 0..MAX_QUEUED_EVENTS {
            q.push(Polled::new(wrs_event_type::KeyframeRequest));
        }
        assert_eq!(q.queue.lock().events.len(), MAX_QUEUED_EVENTS);
        assert!(readable(q.raw_fd()));
        while q.pop() {}
        assert!(!readable(q.raw_fd()), "drained: quiet");
        assert_eq!(q.queue.lock().bytes, 0);
        q.push(Polled::new(wrs_event_type::ChannelOpen));
        assert!(readable(q.raw_fd()));
        let mut e = wrs_event::empty();
        assert!(q.pop());
        q.fill(&mut e);
        assert_eq!(e.kind, wrs_event_type::ChannelOpen);
        assert!(!readable(q.raw_fd()));
    }
}
