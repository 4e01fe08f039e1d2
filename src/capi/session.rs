//! `wrs_session_*`: the peer connection.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use once_cell::sync::Lazy;

use super::callbacks::*;
use super::config::{config_snapshot, wrs_config};
use super::error::{wrs_result, FfiError, FfiResult};
use super::guard::{bytes_arg, check_out, guard, guard_void, null, opt_str_arg, out_string, write_out};
use super::handle::Registry;
use super::types::{self, *};
use crate::session::{Session, SessionConfig};

/// A WebRTC session (opaque): the equivalent of an RTCPeerConnection.
#[allow(non_camel_case_types)]
pub struct wrs_session {
    _private: [u8; 0],
}

pub(crate) struct SessionHandle {
    pub session: Arc<Session>,
    pub callbacks: Arc<Callbacks>,
}

static SESSIONS: Lazy<Registry<SessionHandle>> = Lazy::new(|| Registry::new("wrs_session"));

fn session(s: *const wrs_session) -> FfiResult<Arc<SessionHandle>> {
    SESSIONS.get(s)
}

pub(crate) fn handle(s: *const wrs_session) -> FfiResult<Arc<SessionHandle>> {
    SESSIONS.get(s)
}

/// Writes the figure `f` reads to `*out`, or fails with InvalidState and `missing` while the
/// session has none yet.
fn figure_getter<T>(s: *mut wrs_session, out: *mut T, name: &str, missing: &str, f: impl FnOnce(&Session) -> Option<T>) -> wrs_result {
    guard(|| {
        check_out(out, name)?;
        let v = f(&session(s)?.session).ok_or_else(|| FfiError::new(wrs_result::InvalidState, missing))?;
        // SAFETY: NULL is rejected; otherwise a writable pointer.
        unsafe { write_out(out, v, name) }
    })
}

/// Runs `f` on the session and writes its string result to `*out` (freed with wrs_string_free).
fn string_getter(
    s: *mut wrs_session,
    out: *mut *mut c_char,
    f: impl FnOnce(&Session) -> crate::error::Result<String>,
) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = session(s)?;
        let text = f(&h.session)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, out_string(text), "out") }
    })
}

/// Creates a session from `cfg` (NULL = defaults) and writes its handle to `*out`. This binds
/// the UDP socket and prepares the ICE agent and certificate; nothing is sent until a
/// description is set. Errors: WRS_RESULT_INVALID_HANDLE (cfg), WRS_RESULT_IO (no port),
/// WRS_RESULT_CRYPTO, WRS_RESULT_ICE. Thread-safe.
#[no_mangle]
pub extern "C" fn wrs_session_new(cfg: *const wrs_config, out: *mut *mut wrs_session) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let config = if cfg.is_null() { SessionConfig::default() } else { config_snapshot(cfg)? };
        let session = Session::new(config)?;
        let callbacks = Arc::new(Callbacks::default());
        let _ = callbacks.session.set(Arc::downgrade(&session));
        session.set_event_handler(Some(Arc::clone(&callbacks) as Arc<dyn crate::session::EventHandler>));
        let handle = SESSIONS.insert(Arc::new(SessionHandle { session, callbacks }));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, handle, "out") }
    })
}

/// Closes the session gracefully: DTLS close_notify to the peer, ICE stopped, socket closed,
/// connection and signaling state CLOSED (their callbacks fire). Idempotent. The handle stays
/// valid (getters work) until `wrs_session_free`. May be called from a callback.
#[no_mangle]
pub extern "C" fn wrs_session_close(s: *mut wrs_session) -> wrs_result {
    guard(|| {
        session(s)?.session.close();
        Ok(())
    })
}

/// Closes (if needed) and releases the session. NULL is a no-op; a handle that is not live is
/// ignored. Callbacks are detached first, so the close it performs reports nothing; when
/// called outside a callback, no callback of this session runs after it returns (it waits for
/// one running on another thread to finish). Called from inside one of this session's
/// callbacks, the release completes once that callback returns.
#[no_mangle]
pub extern "C" fn wrs_session_free(s: *mut wrs_session) {
    guard_void(|| {
        if s.is_null() {
            return;
        }
        if let Some(h) = SESSIONS.remove(s) {
            // Detach the callbacks first: a host releasing a session (a .NET finalizer, a
            // Python __del__) must not be called back while it does, not even with CLOSED.
            h.session.shutdown_events();
            h.session.close();
            h.callbacks.release_channels();
        }
    })
}

/// Adds a track of `kind` (a `wrs_media_kind`) that can use `codecs` (`count` `wrs_codec`
/// values, most preferred first) in `direction` (a `wrs_direction`), and writes its id to
/// `*out_track`. While a remote offer is pending, a section of that offer with the same kind
/// that no track sends on yet takes the track (its id is the one `on_track` reported).
/// Errors: WRS_RESULT_INVALID_ARGUMENT (enum values, empty list, codec of the other kind),
/// WRS_RESULT_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wrs_session_add_track(
    s: *mut wrs_session,
    kind: u32,
    codecs: *const u32,
    count: usize,
    direction: u32,
    out_track: *mut u32,
) -> wrs_result {
    guard(|| {
        check_out(out_track, "out_track")?;
        let h = session(s)?;
        let kind = types::media_kind(kind)?;
        let direction = types::direction(direction)?;
        if codecs.is_null() {
            return Err(null("codecs"));
        }
        if count == 0 || count > 64 {
            return Err(FfiError::new(wrs_result::InvalidArgument, format!("codec count {count} must be 1..=64")));
        }
        // SAFETY: `count` readable values, borrowed for the call.
        let raw = unsafe { std::slice::from_raw_parts(codecs, count) };
        let list = raw.iter().map(|c| types::codec(*c)).collect::<FfiResult<Vec<_>>>()?;
        let id = h.session.add_track(kind, &list, direction)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out_track, id, "out_track") }
    })
}

/// Creates an offer covering every track and writes it to `*out` (free with
/// `wrs_string_free`). Candidates gathered so far are included. Allowed in stable and
/// have-local-offer. Errors: WRS_RESULT_INVALID_STATE (no track, wrong state).
#[no_mangle]
pub extern "C" fn wrs_session_create_offer(s: *mut wrs_session, out: *mut *mut c_char) -> wrs_result {
    string_getter(s, out, Session::create_offer)
}

/// Creates the answer to the remote offer (the intersection of its codecs with the tracks')
/// and writes it to `*out`. Allowed in have-remote-offer.
#[no_mangle]
pub extern "C" fn wrs_session_create_answer(s: *mut wrs_session, out: *mut *mut c_char) -> wrs_result {
    string_getter(s, out, Session::create_answer)
}

/// Applies this side's description: `sdp` must be what create_offer/create_answer returned
/// (candidate lines may differ), or NULL for that one. Starts ICE gathering (candidates arrive
/// through the ice-candidate callback) and, for an answer, connectivity checks and DTLS.
/// `type` is a `wrs_sdp_type`; ROLLBACK discards a pending local offer.
#[no_mangle]
pub extern "C" fn wrs_session_set_local_description(s: *mut wrs_session, r#type: u32, sdp: *const c_char) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        let kind = types::sdp_type(r#type)?;
        // SAFETY: NULL or a NUL-terminated string borrowed for the call.
        let sdp = unsafe { opt_str_arg(sdp, "sdp") }?;
        h.session.set_local_description(kind, sdp)?;
        Ok(())
    })
}

/// Applies the peer's description (`type` a `wrs_sdp_type`; for ROLLBACK `sdp` may be NULL).
/// An offer may create receive-only tracks (reported by the track callback); an answer starts
/// ICE checks and DTLS. Candidates in the SDP are used. Errors: WRS_RESULT_INVALID_SDP with a
/// message naming the problem, WRS_RESULT_INVALID_STATE, WRS_RESULT_UNSUPPORTED (ICE restart);
/// the session is unchanged after an error.
#[no_mangle]
pub extern "C" fn wrs_session_set_remote_description(s: *mut wrs_session, r#type: u32, sdp: *const c_char) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        let kind = types::sdp_type(r#type)?;
        // SAFETY: NULL or a NUL-terminated string borrowed for the call.
        let sdp = unsafe { opt_str_arg(sdp, "sdp") }?;
        let sdp = match (kind, sdp) {
            (_, Some(t)) => t,
            (crate::session::SdpType::Rollback, None) => "",
            (_, None) => return Err(null("sdp")),
        };
        h.session.set_remote_description(kind, sdp)?;
        Ok(())
    })
}

/// The applied local description with every candidate gathered so far (and
/// a=end-of-candidates once gathering completed): what to send a peer that does not trickle.
/// WRS_RESULT_NOT_AVAILABLE before set_local_description.
#[no_mangle]
pub extern "C" fn wrs_session_local_description(s: *mut wrs_session, out: *mut *mut c_char) -> wrs_result {
    string_getter(s, out, Session::local_description)
}

/// The applied remote description, as given. WRS_RESULT_NOT_AVAILABLE before one is set.
#[no_mangle]
pub extern "C" fn wrs_session_remote_description(s: *mut wrs_session, out: *mut *mut c_char) -> wrs_result {
    string_getter(s, out, Session::remote_description)
}

/// Adds a trickled remote candidate (`candidate:...`, with or without `a=`). NULL or "" means
/// end-of-candidates. TCP, mDNS and other-family candidates are ignored (WRS_RESULT_OK).
/// Errors: WRS_RESULT_INVALID_ARGUMENT (malformed), WRS_RESULT_INVALID_STATE (no remote
/// description yet).
#[no_mangle]
pub extern "C" fn wrs_session_add_remote_candidate(s: *mut wrs_session, candidate: *const c_char) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        // SAFETY: NULL or a NUL-terminated string borrowed for the call.
        let c = unsafe { opt_str_arg(candidate, "candidate") }?.unwrap_or("");
        h.session.add_remote_candidate(c)?;
        Ok(())
    })
}

/// Sends a host-built RTP packet on `track`: the library sets the track's SSRC, checks that the
/// payload type was negotiated for the track, protects it with SRTP and sends it. At most 1400
/// bytes. Thread-safe; may be called from any thread, including callbacks.
/// Errors: WRS_RESULT_UNKNOWN_TRACK, WRS_RESULT_PACKET_REJECTED, WRS_RESULT_INVALID_STATE
/// (track not negotiated or not sending), WRS_RESULT_NOT_CONNECTED, WRS_RESULT_IO.
#[no_mangle]
pub extern "C" fn wrs_session_send_rtp(s: *mut wrs_session, track: u32, packet: *const u8, len: usize) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        // SAFETY: `len` readable bytes, borrowed for the call.
        let p = unsafe { bytes_arg(packet, len, "packet") }?;
        h.session.send_rtp(track, p)?;
        Ok(())
    })
}

/// One packet of a batch: the track and a borrowed RTP packet.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wrs_packet {
    pub track: u32,
    pub data: *const u8,
    pub len: usize,
}

/// Most packets in one `wrs_session_send_rtp_batch` call.
pub const WRS_MAX_BATCH: usize = 1024;

/// Sends `count` host-built RTP packets (one or several tracks) in one call, each handled as by
/// `wrs_session_send_rtp`. All are checked first: if one is refused, nothing is sent and the
/// message names its index. Equal-size runs go out as one UDP GSO send where the kernel has it
/// (falling back to one `sendto` each). At most WRS_MAX_BATCH packets. Thread-safe.
#[no_mangle]
pub extern "C" fn wrs_session_send_rtp_batch(s: *mut wrs_session, packets: *const wrs_packet, count: usize) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        if count > WRS_MAX_BATCH {
            return Err(FfiError::new(wrs_result::InvalidArgument, format!("batch of {count} packets exceeds {WRS_MAX_BATCH}")));
        }
        // SAFETY: `count` readable wrs_packet values, borrowed for the call.
        let raw = unsafe { bytes_arg(packets as *const u8, count * std::mem::size_of::<wrs_packet>(), "packets") }?;
        let list = raw.as_ptr() as *const wrs_packet;
        let mut batch = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: within the `count` packets checked above; each `data` borrowed for the call.
            let p = unsafe { &*list.add(i) };
            let data = unsafe { bytes_arg(p.data, p.len, "packets[].data") }?;
            batch.push((p.track, data));
        }
        h.session.send_rtp_batch(&batch)?;
        Ok(())
    })
}

/// Sends one encoded frame on `track`, packetized for the track's first negotiated codec:
/// an audio frame (Opus, PCMU, PCMA, G722) as one packet, a VP8 frame as RFC 7741 fragments of
/// at most 1,200 payload bytes, an H.264 access unit (Annex B) as RFC 6184 STAP-A / single NAL
/// / FU-A packets, the marker on the last, all with `rtp_timestamp` (the codec's clock). The
/// frame is copied once, into the packets. Errors: WRS_RESULT_PACKET_REJECTED (empty, over
/// 4 MB, an audio frame over one packet, H.264 without a start code); WRS_RESULT_UNSUPPORTED
/// (VP9, AV1: still to come, use send_rtp); as send_rtp.
#[no_mangle]
pub extern "C" fn wrs_session_send_frame(s: *mut wrs_session, track: u32, frame: *const u8, len: usize, rtp_timestamp: u32) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        // SAFETY: `len` readable bytes, borrowed for the call.
        let f = unsafe { bytes_arg(frame, len, "frame") }?;
        h.session.send_frame(track, f, rtp_timestamp)?;
        Ok(())
    })
}

/// Sends `payload` on `track` in an RTP packet the library builds: next sequence number, the
/// track's SSRC, its first negotiated payload type, the mid header extension when negotiated,
/// `rtp_timestamp` and `marker` as given. Same errors as `wrs_session_send_rtp`.
#[no_mangle]
pub extern "C" fn wrs_session_send_media(
    s: *mut wrs_session,
    track: u32,
    payload: *const u8,
    len: usize,
    rtp_timestamp: u32,
    marker: bool,
) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        // SAFETY: `len` readable bytes, borrowed for the call.
        let p = unsafe { bytes_arg(payload, len, "payload") }?;
        h.session.send_media(track, p, rtp_timestamp, marker)?;
        Ok(())
    })
}

/// Sends a (compound) RTCP packet, protected with SRTCP. Thread-safe.
#[no_mangle]
pub extern "C" fn wrs_session_send_rtcp(s: *mut wrs_session, packet: *const u8, len: usize) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        // SAFETY: `len` readable bytes, borrowed for the call.
        let p = unsafe { bytes_arg(packet, len, "packet") }?;
        h.session.send_rtcp(p)?;
        Ok(())
    })
}

/// Stores a callback registration in the session's table.
fn register(s: *mut wrs_session, set: impl FnOnce(&mut Table)) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        set(&mut h.callbacks.table.lock());
        Ok(())
    })
}

/// Registers the callback for decrypted RTP packets (with the track they belong to, found
/// by SSRC, mid header extension or payload type).
///
/// `cb` NULL unregisters. `user_data` is passed back as the first argument and must stay valid
/// while registered. Callbacks of one session run one at a time and in order; they may call
/// the API but must return quickly. Which thread each comes from: the header's "Callbacks".
#[no_mangle]
pub extern "C" fn wrs_session_on_rtp(s: *mut wrs_session, cb: wrs_rtp_callback, user_data: *mut c_void) -> wrs_result {
    register(s, |t| t.rtp = Slot::new(cb, user_data))
}

/// Registers the callback for complete received frames and turns frame delivery on (NULL
/// unregisters and turns it off): each received source gets a jitter buffer that reorders,
/// waits for late and retransmitted packets (`wrs_config_set_jitter_buffer`), and hands over
/// only complete frames, in order, after their last packet's RTP callback. After a loss the
/// incomplete frame is dropped and counted (`WRS_STAT_FRAMES_DROPPED`), the next frame says
/// how many packets never came, and for video, by default, nothing is handed over until a
/// keyframe, which the library asks the peer for (PLI or FIR, at most every 500 ms).
#[no_mangle]
pub extern "C" fn wrs_session_on_frame(s: *mut wrs_session, cb: super::callbacks::wrs_frame_callback, user_data: *mut c_void) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        h.callbacks.table.lock().frame = Slot::new(cb, user_data);
        h.session.receive_frames(cb.is_some());
        Ok(())
    })
}

/// Turns frame delivery on or off without a callback, for polling mode: while on, the
/// queue holds WRS_EVENT_TYPE_FRAME events instead of RTP packets (RTCP and everything else
/// as before). In callback mode, `wrs_session_on_frame` does this.
#[no_mangle]
pub extern "C" fn wrs_session_receive_frames(s: *mut wrs_session, on: bool) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        h.callbacks.frames_only.store(on, std::sync::atomic::Ordering::Relaxed);
        h.session.receive_frames(on);
        Ok(())
    })
}

/// Registers the callback for data channels the peer opens (RTCPeerConnection.ondatachannel).
/// The channel handle it receives belongs to the host: register its callbacks inside this
/// callback (its open callback follows right after), and free it with `wrs_data_channel_free`
/// (or let the session's free release it). `cb` NULL unregisters (channels still open; their
/// handles are released with the session).
#[no_mangle]
pub extern "C" fn wrs_session_on_data_channel(
    s: *mut wrs_session,
    cb: super::channel::wrs_data_channel_callback,
    user_data: *mut c_void,
) -> wrs_result {
    register(s, |t| t.data_channel = Slot::new(cb, user_data))
}

/// Registers the callback for decrypted RTCP packets.
///
/// `cb` NULL unregisters. `user_data` is passed back as the first argument and must stay valid
/// while registered. Callbacks of one session run one at a time and in order; they may call
/// the API but must return quickly. Which thread each comes from: the header's "Callbacks".
#[no_mangle]
pub extern "C" fn wrs_session_on_rtcp(s: *mut wrs_session, cb: wrs_rtcp_callback, user_data: *mut c_void) -> wrs_result {
    register(s, |t| t.rtcp = Slot::new(cb, user_data))
}

/// Registers the callback for local ICE candidates (trickle ICE): send each to the peer.
///
/// `cb` NULL unregisters. `user_data` is passed back as the first argument and must stay valid
/// while registered. Callbacks of one session run one at a time and in order; they may call
/// the API but must return quickly. Which thread each comes from: the header's "Callbacks".
#[no_mangle]
pub extern "C" fn wrs_session_on_ice_candidate(s: *mut wrs_session, cb: wrs_ice_candidate_callback, user_data: *mut c_void) -> wrs_result {
    register(s, |t| t.ice_candidate = Slot::new(cb, user_data))
}

/// Registers the callback for connection state changes.
///
/// `cb` NULL unregisters. `user_data` is passed back as the first argument and must stay valid
/// while registered. Callbacks of one session run one at a time and in order; they may call
/// the API but must return quickly. Which thread each comes from: the header's "Callbacks".
#[no_mangle]
pub extern "C" fn wrs_session_on_connection_state(s: *mut wrs_session, cb: wrs_connection_state_callback, user_data: *mut c_void) -> wrs_result {
    register(s, |t| t.connection_state = Slot::new(cb, user_data))
}

/// Registers the callback for ICE transport state changes (CONNECTED: a candidate pair
/// works; DTLS follows).
///
/// `cb` NULL unregisters. `user_data` is passed back as the first argument and must stay valid
/// while registered. Callbacks of one session run one at a time and in order; they may call
/// the API but must return quickly. Which thread each comes from: the header's "Callbacks".
#[no_mangle]
pub extern "C" fn wrs_session_on_ice_state(s: *mut wrs_session, cb: wrs_ice_state_callback, user_data: *mut c_void) -> wrs_result {
    register(s, |t| t.ice_state = Slot::new(cb, user_data))
}

/// Registers the callback for ICE gathering state changes (COMPLETE: the local description
/// now holds every candidate).
///
/// `cb` NULL unregisters. `user_data` is passed back as the first argument and must stay valid
/// while registered. Callbacks of one session run one at a time and in order; they may call
/// the API but must return quickly. Which thread each comes from: the header's "Callbacks".
#[no_mangle]
pub extern "C" fn wrs_session_on_gathering_state(s: *mut wrs_session, cb: wrs_gathering_state_callback, user_data: *mut c_void) -> wrs_result {
    register(s, |t| t.gathering_state = Slot::new(cb, user_data))
}

/// Registers the callback for signaling state changes.
///
/// `cb` NULL unregisters. `user_data` is passed back as the first argument and must stay valid
/// while registered. Callbacks of one session run one at a time and in order; they may call
/// the API but must return quickly. Which thread each comes from: the header's "Callbacks".
#[no_mangle]
pub extern "C" fn wrs_session_on_signaling_state(s: *mut wrs_session, cb: wrs_signaling_state_callback, user_data: *mut c_void) -> wrs_result {
    register(s, |t| t.signaling_state = Slot::new(cb, user_data))
}

/// Registers the callback for tracks the remote side sends on.
///
/// `cb` NULL unregisters. `user_data` is passed back as the first argument and must stay valid
/// while registered. Callbacks of one session run one at a time and in order; they may call
/// the API but must return quickly. Which thread each comes from: the header's "Callbacks".
#[no_mangle]
pub extern "C" fn wrs_session_on_track(s: *mut wrs_session, cb: wrs_track_callback, user_data: *mut c_void) -> wrs_result {
    register(s, |t| t.track = Slot::new(cb, user_data))
}

/// Registers the callback for keyframe requests: the peer sent a PLI or FIR for `track` (a
/// track we send on). Requests for one track closer together than 100 ms arrive as one; a
/// FIR that repeats its sequence number is none. Comes from the media receive thread.
#[no_mangle]
pub extern "C" fn wrs_session_on_keyframe_request(
    s: *mut wrs_session,
    cb: wrs_keyframe_request_callback,
    user_data: *mut c_void,
) -> wrs_result {
    register(s, |t| t.keyframe_request = Slot::new(cb, user_data))
}

/// Registers the callback for the send-side bandwidth estimate (bits per second): the first
/// estimate once the peer's transport-wide feedback (or REMB) arrives, then each time it
/// moves by 5 % or more. Comes from the media receive thread.
#[no_mangle]
pub extern "C" fn wrs_session_on_bandwidth_estimate(
    s: *mut wrs_session,
    cb: wrs_bandwidth_estimate_callback,
    user_data: *mut c_void,
) -> wrs_result {
    register(s, |t| t.bandwidth_estimate = Slot::new(cb, user_data))
}

/// Writes the send-side bandwidth estimate in bits per second to `*out_bps`: what the path
/// carries for all our media together, estimated from the peer's transport-wide feedback
/// (delay and loss, in the spirit of GCC) and capped by its REMB. It grows only while the
/// host sends near it. Errors: WRS_RESULT_INVALID_STATE while no feedback has arrived
/// (transport-cc not negotiated or switched off, nothing sent yet).
#[no_mangle]
pub extern "C" fn wrs_session_bandwidth_estimate(s: *mut wrs_session, out_bps: *mut u64) -> wrs_result {
    figure_getter(s, out_bps, "out_bps", "no bandwidth estimate yet: no transport-wide feedback or REMB has arrived", |s| {
        s.bandwidth_estimate()
    })
}

/// Asks the peer for a keyframe on receiving `track`: a PLI (RFC 4585), or a FIR (RFC 5104)
/// when the peer negotiated only `ccm fir`, for the source that last sent on the track.
/// Errors: WRS_RESULT_UNKNOWN_TRACK; WRS_RESULT_INVALID_STATE (keyframe requests switched
/// off, the peer negotiated neither, nothing received on the track yet);
/// WRS_RESULT_NOT_CONNECTED.
#[no_mangle]
pub extern "C" fn wrs_session_request_keyframe(s: *mut wrs_session, track: u32) -> wrs_result {
    guard(|| Ok(session(s)?.session.request_keyframe(track)?))
}

/// The session's statistics as JSON, the shape of `RTCPeerConnection.getStats()`: an object
/// from stats id to an RTCStats object with the W3C webrtc-stats type and member names
/// (`codec`, `outbound-rtp`, `remote-inbound-rtp`, `inbound-rtp`, `remote-outbound-rtp`,
/// `transport`, `candidate-pair`, `local-candidate`, `remote-candidate`, `certificate`,
/// `data-channel`); only members the library knows are present. Free with `wrs_string_free`.
#[no_mangle]
pub extern "C" fn wrs_session_get_stats(s: *mut wrs_session, out_json: *mut *mut c_char) -> wrs_result {
    string_getter(s, out_json, |s| Ok(s.get_stats()))
}

/// Writes the latest round-trip time in milliseconds to `*out_ms`, from the peer's report
/// blocks that echo one of our sender reports (RFC 3550 §6.4.1). Needs a track that sends.
/// Errors: WRS_RESULT_INVALID_STATE while no report has given one.
#[no_mangle]
pub extern "C" fn wrs_session_round_trip_time(s: *mut wrs_session, out_ms: *mut f64) -> wrs_result {
    figure_getter(s, out_ms, "out_ms", "no round-trip time yet: no report of the peer echoed a sender report of ours", |s| {
        s.round_trip_time().map(|rtt| rtt.as_secs_f64() * 1000.0)
    })
}

/// Writes the connection state to `*out`.
#[no_mangle]
pub extern "C" fn wrs_session_connection_state(s: *mut wrs_session, out: *mut wrs_connection_state) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let st = session(s)?.session.connection_state();
        // SAFETY: NULL is rejected; otherwise a writable pointer.
        unsafe { write_out(out, st.into(), "out") }
    })
}

/// Writes the ICE transport state to `*out`.
#[no_mangle]
pub extern "C" fn wrs_session_ice_state(s: *mut wrs_session, out: *mut wrs_ice_state) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let st = session(s)?.session.ice_state();
        // SAFETY: NULL is rejected; otherwise a writable pointer.
        unsafe { write_out(out, st.into(), "out") }
    })
}

/// Writes the ICE gathering state to `*out`.
#[no_mangle]
pub extern "C" fn wrs_session_gathering_state(s: *mut wrs_session, out: *mut wrs_gathering_state) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let st = session(s)?.session.gathering_state();
        // SAFETY: as above.
        unsafe { write_out(out, st.into(), "out") }
    })
}

/// Writes the signaling state to `*out`.
#[no_mangle]
pub extern "C" fn wrs_session_signaling_state(s: *mut wrs_session, out: *mut wrs_signaling_state) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let st = session(s)?.session.signaling_state();
        // SAFETY: as above.
        unsafe { write_out(out, st.into(), "out") }
    })
}

/// Why the connection failed or closed (e.g. "DTLS fingerprint mismatch: ..."), to `*out`.
/// WRS_RESULT_NOT_AVAILABLE while nothing failed.
#[no_mangle]
pub extern "C" fn wrs_session_failure_reason(s: *mut wrs_session, out: *mut *mut c_char) -> wrs_result {
    string_getter(s, out, |s| s.failure_reason().ok_or_else(|| crate::error::not_available("the connection has not failed")))
}

/// The selected ICE candidate pair as two `candidate:` lines (free both with
/// wrs_string_free). WRS_RESULT_NOT_AVAILABLE before ICE selects one.
#[no_mangle]
pub extern "C" fn wrs_session_selected_candidate_pair(
    s: *mut wrs_session,
    out_local: *mut *mut c_char,
    out_remote: *mut *mut c_char,
) -> wrs_result {
    guard(|| {
        check_out(out_local, "out_local")?;
        check_out(out_remote, "out_remote")?;
        let (l, r) = session(s)?.session.selected_candidate_pair()?;
        // SAFETY: both checked non-NULL above.
        unsafe {
            write_out(out_local, out_string(l), "out_local")?;
            write_out(out_remote, out_string(r), "out_remote")
        }
    })
}

/// This side's certificate fingerprint ("sha-256 AB:CD:...").
#[no_mangle]
pub extern "C" fn wrs_session_local_fingerprint(s: *mut wrs_session, out: *mut *mut c_char) -> wrs_result {
    string_getter(s, out, |s| Ok(s.local_fingerprint()))
}

/// The peer's fingerprint from its description. WRS_RESULT_NOT_AVAILABLE before one is set.
#[no_mangle]
pub extern "C" fn wrs_session_remote_fingerprint(s: *mut wrs_session, out: *mut *mut c_char) -> wrs_result {
    string_getter(s, out, Session::remote_fingerprint)
}

/// The negotiated DTLS version ("DTLSv1.2"). WRS_RESULT_NOT_AVAILABLE before DTLS completes.
#[no_mangle]
pub extern "C" fn wrs_session_dtls_version(s: *mut wrs_session, out: *mut *mut c_char) -> wrs_result {
    string_getter(s, out, |s| s.dtls_version().map(str::to_owned))
}

/// The negotiated SRTP profile. WRS_RESULT_NOT_AVAILABLE before DTLS completes.
#[no_mangle]
pub extern "C" fn wrs_session_srtp_profile(s: *mut wrs_session, out: *mut wrs_srtp_profile) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let p = session(s)?.session.srtp_profile()?;
        // SAFETY: NULL is rejected; otherwise a writable pointer.
        unsafe { write_out(out, p.into(), "out") }
    })
}

/// This side's DTLS role (CLIENT or SERVER). WRS_RESULT_NOT_AVAILABLE before offer and answer
/// are both applied.
#[no_mangle]
pub extern "C" fn wrs_session_dtls_role(s: *mut wrs_session, out: *mut wrs_dtls_role) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let r = session(s)?.session.dtls_role()?;
        // SAFETY: as above.
        unsafe { write_out(out, r.into(), "out") }
    })
}

/// The mid of `track` (assigned by create_offer or by a remote offer).
/// WRS_RESULT_NOT_AVAILABLE before it has one.
#[no_mangle]
pub extern "C" fn wrs_session_track_mid(s: *mut wrs_session, track: u32, out: *mut *mut c_char) -> wrs_result {
    string_getter(s, out, |s| s.track_mid(track)?.ok_or_else(|| crate::error::not_available(format!("track {track} has no mid yet"))))
}

/// The SSRC `track` sends with.
#[no_mangle]
pub extern "C" fn wrs_session_track_ssrc(s: *mut wrs_session, track: u32, out: *mut u32) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let v = session(s)?.session.track_ssrc(track)?;
        // SAFETY: NULL is rejected; otherwise a writable pointer.
        unsafe { write_out(out, v, "out") }
    })
}

/// The payload type `track` sends (the first, preferred, one negotiated unless
/// `wrs_session_set_send_codec` chose another): what a host building its own RTP packets puts
/// in them. WRS_RESULT_NOT_AVAILABLE before negotiation.
#[no_mangle]
pub extern "C" fn wrs_session_track_payload_type(s: *mut wrs_session, track: u32, out: *mut u8) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let (_, pt, _) = session(s)?
            .session
            .track_codec(track)?
            .ok_or_else(|| FfiError::new(wrs_result::NotAvailable, format!("track {track} has no negotiated codec yet")))?;
        // SAFETY: NULL is rejected; otherwise a writable pointer.
        unsafe { write_out(out, pt, "out") }
    })
}

/// Chooses which of `track`'s negotiated payload types `wrs_session_send_media` and
/// `wrs_session_send_frame` send (the first negotiated by default); kept across
/// renegotiations that keep it. Errors: WRS_RESULT_UNKNOWN_TRACK; WRS_RESULT_INVALID_STATE
/// before negotiation; WRS_RESULT_INVALID_ARGUMENT for a payload type not negotiated.
#[no_mangle]
pub extern "C" fn wrs_session_set_send_codec(s: *mut wrs_session, track: u32, payload_type: u8) -> wrs_result {
    guard(|| {
        let h = session(s)?;
        h.session.set_send_codec(track, payload_type)?;
        Ok(())
    })
}

/// The codec `track` sends (the first, preferred, one negotiated unless
/// `wrs_session_set_send_codec` chose another), with its payload type and clock rate (Hz):
/// what the host encodes, and the clock of its RTP timestamps. No SDP parsing needed.
/// Errors: WRS_RESULT_UNKNOWN_TRACK; WRS_RESULT_NOT_AVAILABLE before negotiation.
#[no_mangle]
pub extern "C" fn wrs_session_track_codec(
    s: *mut wrs_session,
    track: u32,
    out_codec: *mut wrs_codec,
    out_payload_type: *mut u8,
    out_clock_rate: *mut u32,
) -> wrs_result {
    guard(|| {
        check_out(out_codec, "out_codec")?;
        check_out(out_payload_type, "out_payload_type")?;
        check_out(out_clock_rate, "out_clock_rate")?;
        let (codec, pt, clock) = session(s)?
            .session
            .track_codec(track)?
            .ok_or_else(|| FfiError::new(wrs_result::NotAvailable, format!("track {track} has no negotiated codec yet")))?;
        // SAFETY: NULL is rejected for each; otherwise writable pointers.
        unsafe {
            write_out(out_codec, codec.into(), "out_codec")?;
            write_out(out_payload_type, pt, "out_payload_type")?;
            write_out(out_clock_rate, clock, "out_clock_rate")
        }
    })
}

/// Reads one counter (`which` a `wrs_stat`).
#[no_mangle]
pub extern "C" fn wrs_session_stat(s: *mut wrs_session, which: u32, out: *mut u64) -> wrs_result {
    guard(|| {
        check_out(out, "out")?;
        let h = session(s)?;
        let st = &h.session.stats;
        use std::sync::atomic::Ordering::Relaxed;
        let v = match which {
            0 => st.rtp_packets_sent.load(Relaxed),
            1 => st.rtp_bytes_sent.load(Relaxed),
            2 => st.rtp_packets_received.load(Relaxed),
            3 => st.rtp_bytes_received.load(Relaxed),
            4 => st.rtcp_packets_sent.load(Relaxed),
            5 => st.rtcp_packets_received.load(Relaxed),
            6 => st.srtp_unprotect_failures.load(Relaxed),
            7 => st.rtp_unroutable.load(Relaxed),
            8 => st.datagrams_dropped.load(Relaxed) + h.session.transport_datagrams_dropped(),
            9 => h.session.ice_counters().unverified_dropped.load(Relaxed),
            10 => h.session.ice_counters().stun_rejected.load(Relaxed),
            11 => h.session.remote_candidates_refused(),
            12 => h.session.ice_counters().checks_sent.load(Relaxed),
            13 => h.session.ice_counters().checks_paced.load(Relaxed),
            14 => h.session.data_counters().messages_sent,
            15 => h.session.data_counters().bytes_sent,
            16 => h.session.data_counters().messages_received,
            17 => h.session.data_counters().bytes_received,
            18 => h.session.data_counters().sctp_packets_dropped,
            27 | 28 | 35 | 36 => {
                let c = h.session.rtcp_counters();
                match which {
                    27 => c.nack_sent,
                    28 => c.nack_sequences_sent,
                    35 => c.nack_recovered,
                    _ => c.nack_gave_up,
                }
            }
            41 => h.callbacks.poll.get().map_or(0, |q| q.dropped.load(Relaxed)),
            42 => st.frames_received.load(Relaxed),
            47 => st.paced_packets_dropped.load(Relaxed),
            43..=46 => {
                let c = h.session.frame_counters(None);
                match which {
                    43 => c.frames_dropped,
                    44 => c.frames_malformed,
                    45 => c.packets_lost,
                    _ => c.packets_late + st.frame_packets_dropped.load(Relaxed),
                }
            }
            37..=40 => {
                let c = h.session.bandwidth_counters();
                match which {
                    37 => c.feedback_received,
                    38 => c.remb_received,
                    39 => c.overuse_detected,
                    _ => c.packets_unknown,
                }
            }
            29 => st.retransmitted_packets_sent.load(Relaxed),
            30 => st.retransmitted_bytes_sent.load(Relaxed),
            31 => st.nack_requests_unanswered.load(Relaxed),
            32 => st.nack_requests_limited.load(Relaxed),
            33 => st.rtx_packets_received.load(Relaxed),
            34 => st.rtx_packets_dropped.load(Relaxed),
            19..=26 => {
                let c = h.session.rtcp_counters();
                match which {
                    19 => c.reports_sent,
                    20 => c.reports_received,
                    21 => c.pli_received,
                    22 => c.fir_received,
                    23 => c.keyframe_requests_merged,
                    24 => c.pli_sent + c.fir_sent,
                    25 => c.nack_received,
                    _ => c.sources_refused + c.foreign_feedback,
                }
            }
            _ => return Err(FfiError::new(wrs_result::InvalidArgument, format!("{which} is not a valid wrs_stat value"))),
        };
        // SAFETY: NULL is rejected; otherwise a writable pointer.
        unsafe { write_out(out, v, "out") }
    })
}
