//! `wrs_config_*`: session configuration built through functions, so that new options never
//! change the ABI.

use std::ffi::c_char;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::error::{wrs_result, FfiError};
use super::guard::{bytes_arg, guard, guard_void, null, str_arg, write_out};
use super::handle::Registry;
use super::types;
use crate::cert::Certificate;
use crate::ice::check_stun_url;
use crate::session::SessionConfig;

/// Configuration for new sessions (opaque). Create with `wrs_config_new`, release with
/// `wrs_config_free`. A config can be used for any number of sessions; sessions copy it.
#[allow(non_camel_case_types)]
pub struct wrs_config {
    _private: [u8; 0],
}

pub(crate) static CONFIGS: Lazy<Registry<Mutex<SessionConfig>>> = Lazy::new(|| Registry::new("wrs_config"));

pub(crate) fn config_snapshot(cfg: *const wrs_config) -> super::error::FfiResult<SessionConfig> {
    Ok(CONFIGS.get(cfg)?.lock().clone())
}

fn with_config(
    cfg: *mut wrs_config,
    f: impl FnOnce(&mut SessionConfig) -> super::error::FfiResult<()>,
) -> super::error::FfiResult<()> {
    let c = CONFIGS.get(cfg)?;
    let mut c = c.lock();
    f(&mut c)
}

/// Creates a configuration with the defaults: gather on every non-loopback IPv4 address, any
/// UDP port, no STUN server, a generated ECDSA P-256 certificate per session, SRTP profiles
/// AEAD_AES_128_GCM, AEAD_AES_256_GCM, AES_CM_128_HMAC_SHA1_80 (in that order), DTLS role
/// AUTO, ICE timeouts 5 s (disconnected) / 25 s (failed) / 2 s (keepalive).
///
/// On success writes the new handle to `*out`. Thread-safe.
#[no_mangle]
pub extern "C" fn wrs_config_new(out: *mut *mut wrs_config) -> wrs_result {
    guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        let handle = CONFIGS.insert(Arc::new(Mutex::new(SessionConfig::default())));
        // SAFETY: checked non-NULL; the caller provides a writable pointer.
        unsafe { write_out(out, handle, "out") }
    })
}

/// Releases a configuration. NULL is a no-op; sessions created from it are not affected.
#[no_mangle]
pub extern "C" fn wrs_config_free(cfg: *mut wrs_config) {
    guard_void(|| {
        CONFIGS.remove(cfg);
    })
}

/// Adds an ICE server URL. Only `stun:host[:port]` is supported (TURN gives
/// WRS_RESULT_INVALID_ARGUMENT); the session asks it for a server-reflexive candidate.
#[no_mangle]
pub extern "C" fn wrs_config_add_ice_server(cfg: *mut wrs_config, url: *const c_char) -> wrs_result {
    guard(|| {
        // SAFETY: NUL-terminated string borrowed for the call.
        let url = unsafe { str_arg(url, "url") }?;
        check_stun_url(url)?;
        with_config(cfg, |c| {
            c.ice.stun_servers.push(url.to_string());
            Ok(())
        })
    })
}

/// Restricts host candidates to this local IP address (call again to add more). The first
/// address's family decides the socket family. Tests use "127.0.0.1".
#[no_mangle]
pub extern "C" fn wrs_config_add_local_address(cfg: *mut wrs_config, ip: *const c_char) -> wrs_result {
    guard(|| {
        // SAFETY: NUL-terminated string borrowed for the call.
        let text = unsafe { str_arg(ip, "ip") }?;
        let ip: IpAddr = text
            .parse()
            .map_err(|_| FfiError::new(wrs_result::InvalidArgument, format!("'{text}' is not an IP address")))?;
        with_config(cfg, |c| {
            if !c.ice.local_addresses.contains(&ip) {
                c.ice.local_addresses.push(ip);
            }
            Ok(())
        })
    })
}

/// Limits the session's UDP port to `min..=max` (0, 0 = any port).
#[no_mangle]
pub extern "C" fn wrs_config_set_port_range(cfg: *mut wrs_config, min: u16, max: u16) -> wrs_result {
    guard(|| {
        if (min == 0) != (max == 0) || min > max {
            return Err(FfiError::new(
                wrs_result::InvalidArgument,
                format!("port range {min}..={max} is invalid (both 0, or 1 <= min <= max)"),
            ));
        }
        with_config(cfg, |c| {
            c.ice.port_min = min;
            c.ice.port_max = max;
            Ok(())
        })
    })
}

/// Shares one UDP port among every session made with this port (from any config): one socket,
/// one ICE mux, one firewall rule, as media servers run. The sessions are told apart by ICE
/// username for STUN and by the peer's address for DTLS and SRTP, learned from the peer's
/// connectivity checks once they authenticate with the session's ICE password. Two peers at the
/// same address and port cannot both use the shared port (browsers use a port per connection).
/// The socket is bound when the first such session is created and closed when the last one is
/// freed; WRS_RESULT_IO if another program holds the port. 0 turns sharing off; the port range
/// is not used while it is on. The datagrams-dropped statistic counts the whole port.
#[no_mangle]
pub extern "C" fn wrs_config_set_shared_port(cfg: *mut wrs_config, port: u16) -> wrs_result {
    guard(|| {
        with_config(cfg, |c| {
            c.ice.shared_port = port;
            Ok(())
        })
    })
}

fn set_certificate(cfg: *mut wrs_config, cert: &[u8], key: &[u8]) -> super::error::FfiResult<()> {
    let certificate = Certificate::from_pem(cert, key)?;
    with_config(cfg, |c| {
        c.certificate = Some(certificate);
        Ok(())
    })
}

/// Uses the certificate and private key in these PEM files for every session made from this
/// config (instead of a generated one). Errors: WRS_RESULT_IO (unreadable file),
/// WRS_RESULT_CRYPTO (bad PEM, or key not matching the certificate).
#[no_mangle]
pub extern "C" fn wrs_config_set_certificate_pem_files(
    cfg: *mut wrs_config,
    cert_path: *const c_char,
    key_path: *const c_char,
) -> wrs_result {
    guard(|| {
        CONFIGS.get(cfg)?;
        // SAFETY: NUL-terminated strings borrowed for the call.
        let (cp, kp) = unsafe { (str_arg(cert_path, "cert_path")?, str_arg(key_path, "key_path")?) };
        let read = |p: &str| {
            std::fs::read(p).map_err(|e| FfiError::new(wrs_result::Io, format!("cannot read '{p}': {e}")))
        };
        set_certificate(cfg, &read(cp)?, &read(kp)?)
    })
}

/// Like `wrs_config_set_certificate_pem_files`, with the PEM text itself.
#[no_mangle]
pub extern "C" fn wrs_config_set_certificate_pem(
    cfg: *mut wrs_config,
    cert_pem: *const c_char,
    key_pem: *const c_char,
) -> wrs_result {
    guard(|| {
        // SAFETY: NUL-terminated strings borrowed for the call.
        let (c, k) = unsafe { (str_arg(cert_pem, "cert_pem")?, str_arg(key_pem, "key_pem")?) };
        set_certificate(cfg, c.as_bytes(), k.as_bytes())
    })
}

/// Sets the SRTP profiles offered in DTLS, most preferred first (`wrs_srtp_profile` values).
/// `profiles` points to `count` values; count must be at least 1.
#[no_mangle]
pub extern "C" fn wrs_config_set_srtp_profiles(cfg: *mut wrs_config, profiles: *const u32, count: usize) -> wrs_result {
    guard(|| {
        if count == 0 {
            return Err(FfiError::new(wrs_result::InvalidArgument, "at least one SRTP profile is needed"));
        }
        // SAFETY: `count` readable values, borrowed for the call.
        let raw = unsafe { bytes_arg(profiles as *const u8, count * 4, "profiles") }?;
        let mut list = Vec::with_capacity(count);
        for chunk in raw.chunks_exact(4) {
            let p = types::srtp_profile(u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))?;
            if !list.contains(&p) {
                list.push(p);
            }
        }
        with_config(cfg, |c| {
            c.srtp_profiles = list;
            Ok(())
        })
    })
}

/// DTLS role to take when answering an `actpass` offer: WRS_DTLS_ROLE_CLIENT (a=setup:active,
/// the default with AUTO) or WRS_DTLS_ROLE_SERVER (a=setup:passive). Offers always say actpass.
#[no_mangle]
pub extern "C" fn wrs_config_set_dtls_role(cfg: *mut wrs_config, role: u32) -> wrs_result {
    guard(|| {
        let role = types::dtls_role_preference(role)?;
        with_config(cfg, |c| {
            c.dtls_role = role;
            Ok(())
        })
    })
}

/// The library's own RTCP reports (default on): a sender report per sending track, report
/// blocks for what is received, SDES CNAME, BYE on close, round-trip time. Off for a host
/// that writes its own reports with `wrs_session_send_rtcp`; received RTCP reaches the
/// `on_rtcp` callback either way.
#[no_mangle]
pub extern "C" fn wrs_config_set_rtcp_reports(cfg: *mut wrs_config, on: bool) -> wrs_result {
    guard(|| {
        with_config(cfg, |c| {
            c.rtcp.reports = on;
            Ok(())
        })
    })
}

/// Keyframe requests (default on): video sections advertise `a=rtcp-fb:* nack pli` and
/// `ccm fir`, the peer's PLI/FIR reach `on_keyframe_request`, `wrs_session_request_keyframe`
/// sends them. Off: nothing is advertised and the request call fails.
#[no_mangle]
pub extern "C" fn wrs_config_set_keyframe_requests(cfg: *mut wrs_config, on: bool) -> wrs_result {
    guard(|| {
        with_config(cfg, |c| {
            c.rtcp.keyframe_requests = on;
            Ok(())
        })
    })
}

/// Generic NACK and RTX for video (default on): video sections advertise `a=rtcp-fb:* nack`
/// and an `rtx/90000` format per codec with `a=ssrc-group:FID`; gaps in what is received are
/// asked for (at once, then every round trip, 10 times at most), the peer's NACKs are answered
/// from a per-track send history, and received RTX is unwrapped to the original SSRC and
/// sequence number before `on_rtp`. Off: none of this is advertised or done.
#[no_mangle]
pub extern "C" fn wrs_config_set_nack(cfg: *mut wrs_config, on: bool) -> wrs_result {
    guard(|| {
        with_config(cfg, |c| {
            c.rtcp.nack = on;
            Ok(())
        })
    })
}

/// Transport-wide congestion control (default on): every section advertises
/// `a=rtcp-fb:* transport-cc` and the transport-wide sequence number header extension. For
/// what arrives carrying it, the library sends a feedback packet about every 100 ms (arrival
/// times, losses), so the sender's bandwidth estimation (a browser's) works against this
/// library. Every packet the library sends carries the extension (added to host-built
/// packets' headers, 8 bytes at most), and the peer's feedback, with its REMB if it sends
/// one, drives the send-side estimate (`wrs_session_bandwidth_estimate`,
/// `wrs_session_on_bandwidth_estimate`).
#[no_mangle]
pub extern "C" fn wrs_config_set_transport_cc(cfg: *mut wrs_config, on: bool) -> wrs_result {
    guard(|| {
        with_config(cfg, |c| {
            c.rtcp.transport_cc = on;
            Ok(())
        })
    })
}

/// The send-side bandwidth estimate's start, floor and ceiling in bits per second (defaults
/// 300,000, 30,000 and 10,000,000; `min_bps` <= `start_bps` <= `max_bps`, `min_bps` at
/// least 10,000).
#[no_mangle]
pub extern "C" fn wrs_config_set_bandwidth_estimate(cfg: *mut wrs_config, start_bps: u64, min_bps: u64, max_bps: u64) -> wrs_result {
    guard(|| {
        if min_bps < 10_000 || !(min_bps <= start_bps && start_bps <= max_bps) {
            return Err(FfiError::new(
                wrs_result::InvalidArgument,
                format!("bandwidth estimate start {start_bps}, min {min_bps}, max {max_bps}: need 10000 <= min <= start <= max"),
            ));
        }
        with_config(cfg, |c| {
            c.rtcp.bandwidth = crate::rtcp::bwe::BweConfig { start_bps, min_bps, max_bps };
            Ok(())
        })
    })
}

/// Paces `wrs_session_send_frame`: when `on`, a frame's packets are queued and leave at
/// `bitrate_bps` (0: two and a half times the bandwidth estimate) instead of in one burst, so
/// a large keyframe does not overflow a queue on the path. The call returns once the frame is
/// queued (WRS_RESULT_LIMIT_REACHED when the 8 MB queue cannot take it); a packet that cannot
/// be sent when its turn comes is counted in WRS_STAT_PACED_PACKETS_DROPPED. Off by default.
#[no_mangle]
pub extern "C" fn wrs_config_set_pacer(cfg: *mut wrs_config, on: bool, bitrate_bps: u64) -> wrs_result {
    guard(|| {
        if on && bitrate_bps != 0 && bitrate_bps < 100_000 {
            return Err(FfiError::new(wrs_result::InvalidArgument, format!("a pacing rate of {bitrate_bps} bit/s is below 100,000 (0 follows the bandwidth estimate)")));
        }
        with_config(cfg, |c| {
            c.pacer = on.then_some(crate::session::PacerConfig { bitrate_bps });
            Ok(())
        })
    })
}

/// The jitter buffers of frame delivery: how long the packet after a gap waits for the
/// missing one (a retransmission) before the incomplete frame is given up (1..=5000 ms,
/// default 150; make it longer than the round-trip time for NACK to help), and whether video
/// frames after a loss are held back until a keyframe (default true: a decoder cannot use
/// them without the frames they refer to).
#[no_mangle]
pub extern "C" fn wrs_config_set_jitter_buffer(cfg: *mut wrs_config, latency_ms: u32, keyframe_after_loss: bool) -> wrs_result {
    guard(|| {
        if !(1..=5000).contains(&latency_ms) {
            return Err(FfiError::new(wrs_result::InvalidArgument, format!("a jitter buffer latency of {latency_ms} ms is not within 1..=5000")));
        }
        with_config(cfg, |c| {
            c.jitter = crate::rtp::jitter::JitterConfig {
                latency: std::time::Duration::from_millis(latency_ms as u64),
                keyframe_after_loss,
            };
            Ok(())
        })
    })
}

/// The send history of each video track whose peer negotiated NACK (defaults 512 packets,
/// 1000 ms): `packets` slots (1..=8192), each holding one sent packet (about 1.2 KB for a
/// full-size video packet, so about 620 KB per track at the default), and the age past which
/// a packet is no longer sent again (1..=10000 ms). Retransmissions are also capped: at most
/// the bytes sent plus 256 KB, over any period, however many NACKs arrive.
#[no_mangle]
pub extern "C" fn wrs_config_set_nack_history(cfg: *mut wrs_config, packets: u32, max_age_ms: u32) -> wrs_result {
    guard(|| {
        if !(1..=crate::rtcp::history::MAX_HISTORY_PACKETS as u32).contains(&packets) {
            return Err(FfiError::new(wrs_result::InvalidArgument, format!("a history of {packets} packets is not within 1..=8192")));
        }
        if !(1..=10_000).contains(&max_age_ms) {
            return Err(FfiError::new(wrs_result::InvalidArgument, format!("a history age of {max_age_ms} ms is not within 1..=10000")));
        }
        with_config(cfg, |c| {
            c.rtcp.history_packets = packets as usize;
            c.rtcp.history_age = Duration::from_millis(max_age_ms as u64);
            Ok(())
        })
    })
}

/// The bundle policy of this session's offers (`wrs_bundle_policy`; default BALANCED). With
/// MAX_BUNDLE every section after the first is offered as `port 0` + `a=bundle-only`.
#[no_mangle]
pub extern "C" fn wrs_config_set_bundle_policy(cfg: *mut wrs_config, policy: u32) -> wrs_result {
    guard(|| {
        let max = types::max_bundle(policy)?;
        with_config(cfg, |c| {
            c.max_bundle = max;
            Ok(())
        })
    })
}

/// Remote candidates a session accepts at most (default 100, RFC 8445 §6.1.2.5; 1 to 10,000).
/// One more, trickled, fails with WRS_RESULT_LIMIT_REACHED; in a description it is skipped.
/// Either way it is counted (WRS_STAT_REMOTE_CANDIDATES_REFUSED). This bounds the destinations
/// a hostile description can make the session send checks to.
#[no_mangle]
pub extern "C" fn wrs_config_set_max_remote_candidates(cfg: *mut wrs_config, max: u32) -> wrs_result {
    guard(|| {
        if max == 0 || max > 10_000 {
            return Err(FfiError::new(wrs_result::InvalidArgument, format!("max remote candidates {max}: must be 1..=10000")));
        }
        with_config(cfg, |c| {
            c.ice.max_remote_candidates = max as usize;
            Ok(())
        })
    })
}

/// ICE timers in milliseconds: no answer from the peer for `disconnected_ms` → disconnected,
/// for `failed_ms` → failed; keepalive/consent checks every `keepalive_ms`. Each must be > 0,
/// and disconnected_ms <= failed_ms.
#[no_mangle]
pub extern "C" fn wrs_config_set_ice_timeouts(
    cfg: *mut wrs_config,
    disconnected_ms: u32,
    failed_ms: u32,
    keepalive_ms: u32,
) -> wrs_result {
    guard(|| {
        if disconnected_ms == 0 || failed_ms == 0 || keepalive_ms == 0 || disconnected_ms > failed_ms {
            return Err(FfiError::new(
                wrs_result::InvalidArgument,
                format!("ICE timeouts {disconnected_ms}/{failed_ms}/{keepalive_ms} ms: all must be > 0 and disconnected <= failed"),
            ));
        }
        with_config(cfg, |c| {
            c.ice.disconnected_timeout = Duration::from_millis(disconnected_ms as u64);
            c.ice.failed_timeout = Duration::from_millis(failed_ms as u64);
            c.ice.keepalive_interval = Duration::from_millis(keepalive_ms as u64);
            Ok(())
        })
    })
}
