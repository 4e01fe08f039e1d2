//! DTLS 1.2 with the use_srtp extension (RFC 5764) over datagrams the caller moves: OpenSSL runs on
//! an in-memory pipe, the session feeds it what the ICE transport received and sends what it
//! wrote. The peer certificate is checked against the remote `a=fingerprint` during the
//! handshake, so a mismatch aborts it with an alert and a message that says so.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use foreign_types::ForeignTypeRef;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslStream, SslVerifyMode,
    SslVersion,
};
use parking_lot::Mutex;

use crate::cert::{Certificate, Fingerprint};
use crate::error::{self, Result};
use crate::srtp::{SrtpKeys, SrtpProfile};

/// Largest datagram OpenSSL may write; fits every path MTU that carries WebRTC.
const DTLS_MTU: u32 = 1200;
/// OpenSSL's `DTLS_CTRL_GET_TIMEOUT` and `DTLS_CTRL_HANDLE_TIMEOUT` (the `DTLSv1_*` macros).
const DTLS_CTRL_GET_TIMEOUT: libc::c_int = 73;
const DTLS_CTRL_HANDLE_TIMEOUT: libc::c_int = 74;

/// First DTLS retransmission timeout, then doubled per retransmission up to the maximum.
/// OpenSSL's own first timeout is 1 s: on a lossy link a lost flight then costs a second or
/// more (measured: 77 of 100 handshakes within 5 s at 20 % loss and 100 ms delay each way).
/// The maximum is 1 s, not OpenSSL's 60 s: a media session that waits longer than that between
/// tries is no use, and a run of losses no longer pushes the next try out by many seconds
/// (measured with `tests/reliability.rs`: 98/100 within 5 s, max 13 s with the 60 s cap;
/// 100/100, max 3.8-4.9 s, with 1 s). OpenSSL still gives up after its 12 tries.
const INITIAL_RETRANSMIT_US: libc::c_uint = 100_000;
const MAX_RETRANSMIT_US: libc::c_uint = 1_000_000;

/// OpenSSL asks this for the next retransmission timeout (`previous_us` 0 for the first).
/// The one `extern "C"` function outside `capi/`: a callback OpenSSL calls, not part of our ABI,
/// and not bound by openssl-sys.
unsafe extern "C" fn retransmit_timeout(_ssl: *mut openssl_sys::SSL, previous_us: libc::c_uint) -> libc::c_uint {
    if previous_us == 0 {
        INITIAL_RETRANSMIT_US
    } else {
        previous_us.saturating_mul(2).min(MAX_RETRANSMIT_US)
    }
}

type TimerCallback = unsafe extern "C" fn(*mut openssl_sys::SSL, libc::c_uint) -> libc::c_uint;

extern "C" {
    /// OpenSSL >= 1.1.1; not in openssl-sys.
    fn DTLS_set_timer_cb(ssl: *mut openssl_sys::SSL, cb: Option<TimerCallback>);
    /// OpenSSL >= 1.1.0; not in openssl-sys. Frees the record layer's read and write buffers
    /// when nothing is pending in them.
    fn SSL_free_buffers(ssl: *mut openssl_sys::SSL) -> libc::c_int;
    /// Allocates them again.
    fn SSL_alloc_buffers(ssl: *mut openssl_sys::SSL) -> libc::c_int;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    Client,
    Server,
}

/// Datagrams in both directions between OpenSSL and the session. OpenSSL writes one datagram per
/// `write` call on a datagram BIO, and reads one per `read`.
#[derive(Default)]
struct DatagramPipe {
    incoming: VecDeque<Vec<u8>>,
    outgoing: Vec<Vec<u8>>,
}

impl Read for DatagramPipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.incoming.pop_front() {
            Some(d) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Ok(n)
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for DatagramPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An OpenSSL context for one SRTP profile preference. Certificates are set per connection, so
/// every session with the same preference shares one context (an SSL_CTX is tens of KB).
pub struct DtlsContext {
    ctx: SslContext,
}

static SHARED: once_cell::sync::Lazy<Mutex<Vec<(Vec<SrtpProfile>, Arc<DtlsContext>)>>> =
    once_cell::sync::Lazy::new(|| Mutex::new(Vec::new()));

impl DtlsContext {
    /// The shared context for `profiles` (created on first use).
    pub fn shared(profiles: &[SrtpProfile]) -> Result<Arc<Self>> {
        let mut all = SHARED.lock();
        if let Some((_, ctx)) = all.iter().find(|(p, _)| p == profiles) {
            return Ok(Arc::clone(ctx));
        }
        let ctx = Arc::new(Self::new(profiles)?);
        all.push((profiles.to_vec(), Arc::clone(&ctx)));
        Ok(ctx)
    }

    fn new(profiles: &[SrtpProfile]) -> Result<Self> {
        if profiles.is_empty() {
            return Err(error::invalid_argument("at least one SRTP profile is needed"));
        }
        let mut b = SslContextBuilder::new(SslMethod::dtls())?;
        b.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
        let list: Vec<&str> = profiles.iter().map(|p| p.openssl_name()).collect();
        b.set_tlsext_use_srtp(&list.join(":"))?;
        b.set_options(SslOptions::NO_QUERY_MTU | SslOptions::NO_TICKET);
        Ok(DtlsContext { ctx: b.build() })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Handshaking,
    Connected,
    Closed,
    Failed,
}

/// What a call into the endpoint brought about.
pub enum DtlsEvent {
    Nothing,
    /// The handshake completed, the fingerprint matched and SRTP keys were exported.
    Connected(SrtpKeys),
    /// The peer sent close_notify.
    PeerClosed,
}

/// Application data records (SCTP packets, RFC 8261) waiting to be taken; past this many
/// more are dropped (SCTP retransmits what it still needs).
const MAX_QUEUED_APPLICATION_DATA: usize = 1024;

pub struct DtlsEndpoint {
    stream: SslStream<DatagramPipe>,
    role: DtlsRole,
    state: State,
    verify_failure: Arc<Mutex<Option<String>>>,
    /// Received application data, in order (`take_application_data`).
    application_data: VecDeque<Vec<u8>>,
    /// Application data flows (data channels): the record layer keeps its buffers.
    carries_data: bool,
}

impl DtlsEndpoint {
    pub fn new(ctx: &DtlsContext, cert: &Certificate, role: DtlsRole, remote_fingerprint: Fingerprint) -> Result<Self> {
        let mut ssl = Ssl::new(&ctx.ctx)?;
        ssl.set_certificate(&cert.cert)?;
        ssl.set_private_key(&cert.key)?;
        ssl.set_mtu(DTLS_MTU)?;
        // SAFETY: `ssl` is a live SSL object; the callback is a plain function.
        unsafe { DTLS_set_timer_cb(ssl.as_ptr(), Some(retransmit_timeout)) };
        let verify_failure = Arc::new(Mutex::new(None));
        let failure = Arc::clone(&verify_failure);
        // Self-signed certificates are the norm: the only check that matters is the fingerprint
        // signalled in SDP, done on the leaf certificate.
        ssl.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            move |_preverified, store| {
                if store.error_depth() != 0 {
                    return true;
                }
                let Some(cert) = store.current_cert() else {
                    *failure.lock() = Some("the peer sent no certificate".into());
                    return false;
                };
                if remote_fingerprint.matches(cert) {
                    true
                } else {
                    let actual = Fingerprint::of(cert, remote_fingerprint.algorithm)
                        .map(|f| f.to_string())
                        .unwrap_or_default();
                    *failure.lock() = Some(format!(
                        "DTLS fingerprint mismatch: the remote description announced '{remote_fingerprint}' but the peer's certificate is '{actual}'"
                    ));
                    false
                }
            },
        );
        match role {
            DtlsRole::Client => ssl.set_connect_state(),
            DtlsRole::Server => ssl.set_accept_state(),
        }
        let stream = SslStream::new(ssl, DatagramPipe::default())?;
        Ok(DtlsEndpoint {
            stream,
            role,
            state: State::Handshaking,
            verify_failure,
            application_data: VecDeque::new(),
            carries_data: false,
        })
    }

    pub fn role(&self) -> DtlsRole {
        self.role
    }

    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// The negotiated protocol version, e.g. "DTLSv1.2".
    pub fn version(&self) -> &'static str {
        self.stream.ssl().version_str()
    }

    /// Starts the handshake: the client writes its ClientHello, the server waits.
    pub fn start(&mut self) -> Result<DtlsEvent> {
        self.drive()
    }

    /// Feeds one received DTLS datagram.
    pub fn handle_datagram(&mut self, datagram: &[u8]) -> Result<DtlsEvent> {
        match self.state {
            State::Closed | State::Failed => return Ok(DtlsEvent::Nothing),
            _ => {}
        }
        self.stream.get_mut().incoming.push_back(datagram.to_vec());
        self.drive()
    }

    fn drive(&mut self) -> Result<DtlsEvent> {
        match self.state {
            State::Handshaking => match self.stream.do_handshake() {
                Ok(()) => self.on_handshake_done(),
                Err(e) if e.code() == ErrorCode::WANT_READ || e.code() == ErrorCode::WANT_WRITE => {
                    Ok(DtlsEvent::Nothing)
                }
                Err(e) => {
                    self.state = State::Failed;
                    Err(self.failure(format!("DTLS handshake failed: {e}")))
                }
            },
            State::Connected => {
                self.restore_buffers();
                let r = self.read_records();
                self.release_buffers();
                r
            }
            State::Closed | State::Failed => Ok(DtlsEvent::Nothing),
        }
    }

    /// After the handshake the record layer is idle for the life of the session: its read and
    /// write buffers go back to the heap, and come back for the rare record after that.
    fn release_buffers(&mut self) {
        if self.carries_data {
            return;
        }
        // SAFETY: a valid SSL owned by this stream; OpenSSL refuses (returns 0) while a record
        // is pending in a buffer.
        unsafe { SSL_free_buffers(self.stream.ssl().as_ptr()) };
    }

    fn restore_buffers(&mut self) {
        // SAFETY: a valid SSL owned by this stream; buffers that exist are kept. DTLS writes
        // (alerts) do not allocate a missing write buffer themselves.
        unsafe { SSL_alloc_buffers(self.stream.ssl().as_ptr()) };
    }

    fn failure(&self, fallback: String) -> error::Error {
        error::crypto(self.verify_failure.lock().take().unwrap_or(fallback))
    }

    fn on_handshake_done(&mut self) -> Result<DtlsEvent> {
        let result = self.export_keys();
        match result {
            Ok(keys) => {
                self.state = State::Connected;
                // Records that arrived together with the last flight (none in DTLS-SRTP) are
                // consumed so the pipe does not hold stale data.
                let _ = self.read_records()?;
                self.release_buffers();
                Ok(DtlsEvent::Connected(keys))
            }
            Err(e) => {
                self.state = State::Failed;
                let _ = self.stream.shutdown();
                Err(e)
            }
        }
    }

    fn export_keys(&self) -> Result<SrtpKeys> {
        let ssl = self.stream.ssl();
        if ssl.peer_certificate().is_none() {
            return Err(error::crypto("DTLS peer presented no certificate"));
        }
        // Checked again here: the verify callback is the guard, this is the invariant.
        if let Some(f) = self.verify_failure.lock().take() {
            return Err(error::crypto(f));
        }
        let profile = ssl
            .selected_srtp_profile()
            .ok_or_else(|| error::crypto("DTLS handshake completed without use_srtp: the peer negotiated no SRTP profile"))?;
        let profile = SrtpProfile::from_id(profile.id().as_raw() as u64).ok_or_else(|| {
            error::crypto(format!("the peer selected an unsupported SRTP profile {}", profile.name()))
        })?;
        let mut material = zeroize::Zeroizing::new(vec![0u8; profile.keying_material_len()]);
        ssl.export_keying_material(&mut material, "EXTRACTOR-dtls_srtp", None)?;
        SrtpKeys::from_exported(profile, &material, self.role == DtlsRole::Client)
    }

    /// Sends one application data record (an SCTP packet); the datagram is then in
    /// `drain_outgoing`.
    pub fn send_application_data(&mut self, data: &[u8]) -> Result<()> {
        if self.state != State::Connected {
            return Err(error::not_connected("DTLS is not established"));
        }
        self.carries_data = true;
        self.restore_buffers();
        self.stream.ssl_write(data).map(|_| ()).map_err(|e| error::crypto(format!("DTLS write: {e}")))
    }

    /// The next application data record received, in order.
    pub fn take_application_data(&mut self) -> Option<Vec<u8>> {
        self.application_data.pop_front()
    }

    /// After the handshake: application data (kept for `take_application_data`), alerts and
    /// handshake retransmissions. Reads until the pipe is empty.
    fn read_records(&mut self) -> Result<DtlsEvent> {
        let mut buf = [0u8; 16 * 1024 + 256];
        loop {
            match self.stream.ssl_read(&mut buf) {
                Ok(n) => {
                    if self.application_data.len() < MAX_QUEUED_APPLICATION_DATA {
                        self.carries_data = true;
                        self.application_data.push_back(buf[..n].to_vec());
                    }
                }
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.state = State::Closed;
                    return Ok(DtlsEvent::PeerClosed);
                }
                Err(e) if e.code() == ErrorCode::WANT_READ || e.code() == ErrorCode::WANT_WRITE => {
                    return Ok(DtlsEvent::Nothing)
                }
                Err(e) => {
                    // A bad record after the handshake is dropped, as RFC 6347 §4.1.2.7 allows.
                    if self.stream.get_ref().incoming.is_empty() {
                        let _ = e;
                        return Ok(DtlsEvent::Nothing);
                    }
                }
            }
        }
    }

    /// When the retransmission timer fires next, if it runs.
    pub fn next_timeout(&self) -> Option<Duration> {
        if self.state != State::Handshaking {
            return None;
        }
        let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
        // SAFETY: DTLSv1_get_timeout writes one struct timeval through parg.
        let active = unsafe {
            openssl_sys::SSL_ctrl(
                self.stream.ssl().as_ptr(),
                DTLS_CTRL_GET_TIMEOUT,
                0,
                &mut tv as *mut libc::timeval as *mut libc::c_void,
            )
        };
        (active == 1).then(|| Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64))
    }

    /// Retransmits the last flight if its timer expired.
    pub fn handle_timeout(&mut self) -> Result<()> {
        if self.state != State::Handshaking {
            return Ok(());
        }
        // SAFETY: DTLSv1_handle_timeout takes no argument.
        let r = unsafe {
            openssl_sys::SSL_ctrl(self.stream.ssl().as_ptr(), DTLS_CTRL_HANDLE_TIMEOUT, 0, std::ptr::null_mut())
        };
        if r < 0 {
            self.state = State::Failed;
            return Err(error::crypto("DTLS handshake timed out: the peer did not answer the retransmissions"));
        }
        Ok(())
    }

    /// Sends close_notify (graceful close).
    pub fn close(&mut self) {
        if self.state == State::Connected {
            self.restore_buffers();
            let _ = self.stream.shutdown();
        }
        self.state = State::Closed;
    }

    /// Hands every datagram OpenSSL wrote to `send`.
    pub fn drain_outgoing(&mut self, mut send: impl FnMut(&[u8])) {
        for d in self.stream.get_mut().outgoing.drain(..) {
            send(&d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Peer {
        ep: DtlsEndpoint,
        keys: Option<SrtpKeys>,
    }

    fn pair(
        client_profiles: &[SrtpProfile],
        server_profiles: &[SrtpProfile],
        tamper: bool,
    ) -> (Peer, Peer) {
        let cc = Certificate::generate().unwrap();
        let sc = Certificate::generate().unwrap();
        let server_fp = if tamper {
            Fingerprint::of(&Certificate::generate().unwrap().cert, crate::cert::HashAlgorithm::Sha256).unwrap()
        } else {
            sc.fingerprint().clone()
        };
        let client =
            DtlsEndpoint::new(&DtlsContext::shared(client_profiles).unwrap(), &cc, DtlsRole::Client, server_fp).unwrap();
        let server = DtlsEndpoint::new(
            &DtlsContext::shared(server_profiles).unwrap(),
            &sc,
            DtlsRole::Server,
            cc.fingerprint().clone(),
        )
        .unwrap();
        (Peer { ep: client, keys: None }, Peer { ep: server, keys: None })
    }

    /// Moves datagrams until both sides are quiet; `drop_first` drops the first n of the server.
    fn run(c: &mut Peer, s: &mut Peer, mut drop_server: usize) -> Result<()> {
        if let DtlsEvent::Connected(k) = c.ep.start()? {
            c.keys = Some(k);
        }
        for _ in 0..50 {
            let mut to_server = vec![];
            c.ep.drain_outgoing(|d| to_server.push(d.to_vec()));
            let mut to_client = vec![];
            for d in to_server {
                if let DtlsEvent::Connected(k) = s.ep.handle_datagram(&d)? {
                    s.keys = Some(k);
                }
            }
            s.ep.drain_outgoing(|d| to_client.push(d.to_vec()));
            let quiet = to_client.is_empty();
            for d in to_client {
                if drop_server > 0 {
                    drop_server -= 1;
                    continue;
                }
                if let DtlsEvent::Connected(k) = c.ep.handle_datagram(&d)? {
                    c.keys = Some(k);
                }
            }
            if c.keys.is_some() && s.keys.is_some() {
                return Ok(());
            }
            if quiet {
                // Nothing in flight: let the retransmission timers act as if they expired.
                assert!(c.ep.next_timeout().is_some() || s.ep.next_timeout().is_some());
                std::thread::sleep(c.ep.next_timeout().unwrap_or_default());
                c.ep.handle_timeout()?;
                std::thread::sleep(s.ep.next_timeout().unwrap_or_default());
                s.ep.handle_timeout()?;
            }
        }
        panic!("handshake did not finish");
    }

    /// After the handshake, application data records (SCTP packets for data channels) go both
    /// ways, in order, and the record layer stays ready for them.
    #[test]
    fn application_data_flows_both_ways_after_the_handshake() {
        let (mut c, mut s) = pair(&SrtpProfile::DEFAULT_PREFERENCE, &SrtpProfile::DEFAULT_PREFERENCE, false);
        run(&mut c, &mut s, 0).unwrap();
        assert!(c.ep.send_application_data(b"x").is_ok());
        let records: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 1100]).collect();
        for r in &records {
            c.ep.send_application_data(r).unwrap();
        }
        let mut wire = vec![];
        c.ep.drain_outgoing(|d| wire.push(d.to_vec()));
        for d in &wire {
            assert!(matches!(s.ep.handle_datagram(d).unwrap(), DtlsEvent::Nothing));
        }
        assert_eq!(s.ep.take_application_data().as_deref(), Some(&b"x"[..]));
        let got: Vec<Vec<u8>> = std::iter::from_fn(|| s.ep.take_application_data()).collect();
        assert_eq!(got, records);
        s.ep.send_application_data(b"back").unwrap();
        let mut wire = vec![];
        s.ep.drain_outgoing(|d| wire.push(d.to_vec()));
        for d in &wire {
            c.ep.handle_datagram(d).unwrap();
        }
        assert_eq!(c.ep.take_application_data().as_deref(), Some(&b"back"[..]));
        // Before the handshake there is nothing to write with.
        let (mut fresh, _) = pair(&SrtpProfile::DEFAULT_PREFERENCE, &SrtpProfile::DEFAULT_PREFERENCE, false);
        assert!(fresh.ep.send_application_data(b"early").is_err());
    }

    #[test]
    fn handshake_exports_matching_keys_for_each_profile() {
        for p in SrtpProfile::DEFAULT_PREFERENCE {
            let (mut c, mut s) = pair(&[p], &SrtpProfile::DEFAULT_PREFERENCE, false);
            run(&mut c, &mut s, 0).unwrap();
            let (ck, sk) = (c.keys.unwrap(), s.keys.unwrap());
            assert_eq!(ck.profile, p);
            assert_eq!(sk.profile, p);
            assert_eq!(ck.local_key, sk.remote_key);
            assert_eq!(ck.remote_salt, sk.local_salt);
            assert_ne!(ck.local_key, ck.remote_key);
            assert_eq!(c.ep.version(), "DTLSv1.2");
        }
    }

    #[test]
    fn lost_server_flight_is_retransmitted() {
        let (mut c, mut s) = pair(&SrtpProfile::DEFAULT_PREFERENCE, &SrtpProfile::DEFAULT_PREFERENCE, false);
        run(&mut c, &mut s, 2).unwrap();
        assert!(c.ep.is_connected() && s.ep.is_connected());
    }

    #[test]
    fn fingerprint_mismatch_fails_with_a_clear_message() {
        let (mut c, mut s) = pair(&SrtpProfile::DEFAULT_PREFERENCE, &SrtpProfile::DEFAULT_PREFERENCE, true);
        let err = run(&mut c, &mut s, 0).err().expect("must fail");
        assert!(err.message().contains("fingerprint mismatch"), "{}", err.message());
        assert!(c.keys.is_none());
    }

    #[test]
    fn no_common_srtp_profile_fails() {
        let (mut c, mut s) = pair(&[SrtpProfile::AeadAes128Gcm], &[SrtpProfile::Aes128CmHmacSha1_80], false);
        let err = run(&mut c, &mut s, 0).err().expect("must fail");
        assert!(err.message().contains("SRTP") || err.message().contains("srtp"), "{}", err.message());
    }

    /// A peer that speaks DTLS but not use_srtp: the handshake may complete, the connection
    /// must not (there are no SRTP keys to derive).
    #[test]
    fn dtls_without_use_srtp_fails() {
        let cc = Certificate::generate().unwrap();
        let sc = Certificate::generate().unwrap();
        let mut plain = SslContextBuilder::new(SslMethod::dtls()).unwrap();
        plain.set_options(SslOptions::NO_QUERY_MTU);
        let server_ctx = DtlsContext { ctx: plain.build() };
        let client = DtlsEndpoint::new(
            &DtlsContext::shared(&SrtpProfile::DEFAULT_PREFERENCE).unwrap(),
            &cc,
            DtlsRole::Client,
            sc.fingerprint().clone(),
        )
        .unwrap();
        let server = DtlsEndpoint::new(&server_ctx, &sc, DtlsRole::Server, cc.fingerprint().clone()).unwrap();
        let (mut c, mut s) = (Peer { ep: client, keys: None }, Peer { ep: server, keys: None });
        let err = run(&mut c, &mut s, 0).err().expect("must fail");
        assert!(err.message().contains("without use_srtp"), "{}", err.message());
        assert!(c.keys.is_none());
    }

    /// Also proves the record buffers, released after the handshake, come back for the alert.
    #[test]
    fn close_notify_reaches_the_peer() {
        let (mut c, mut s) = pair(&SrtpProfile::DEFAULT_PREFERENCE, &SrtpProfile::DEFAULT_PREFERENCE, false);
        run(&mut c, &mut s, 0).unwrap();
        c.ep.close();
        let mut out = vec![];
        c.ep.drain_outgoing(|d| out.push(d.to_vec()));
        assert!(!out.is_empty());
        let mut closed = false;
        for d in out {
            closed |= matches!(s.ep.handle_datagram(&d).unwrap(), DtlsEvent::PeerClosed);
        }
        assert!(closed);
    }
}
