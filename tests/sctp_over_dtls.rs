//! The data channel layers composed as a session will compose them (RFC 8261): a DTLS 1.2
//! handshake between two endpoints, then SCTP packets as DTLS application data, DCEP open and
//! messages both ways. In memory, no sockets.

use std::time::{Duration, Instant};

use webrtc_session::cert::Certificate;
use webrtc_session::dtls::{DtlsContext, DtlsEndpoint, DtlsEvent, DtlsRole};
use webrtc_session::sctp::{ChannelEvent, ChannelOptions, SctpTransport};
use webrtc_session::srtp::SrtpProfile;

struct Side {
    dtls: DtlsEndpoint,
    sctp: SctpTransport,
    events: Vec<ChannelEvent>,
    connected: bool,
}

impl Side {
    /// SCTP packets out through DTLS; the datagrams that result.
    fn flush(&mut self) -> Vec<Vec<u8>> {
        while let Some(p) = self.sctp.poll_packet() {
            self.dtls.send_application_data(&p).unwrap();
        }
        let mut out = vec![];
        self.dtls.drain_outgoing(|d| out.push(d.to_vec()));
        out
    }

    fn receive(&mut self, now: Instant, datagram: &[u8]) {
        if let DtlsEvent::Connected(_) = self.dtls.handle_datagram(datagram).unwrap() {
            self.connected = true;
        }
        while let Some(record) = self.dtls.take_application_data() {
            self.sctp.handle_packet(now, &record);
        }
        self.events.extend(std::iter::from_fn(|| self.sctp.poll_event()));
    }
}

fn exchange(a: &mut Side, b: &mut Side, now: Instant) {
    for _ in 0..200 {
        let to_b = a.flush();
        let to_a = b.flush();
        if to_a.is_empty() && to_b.is_empty() {
            return;
        }
        for d in &to_b {
            b.receive(now, d);
        }
        for d in &to_a {
            a.receive(now, d);
        }
    }
}

#[test]
fn data_channel_over_dtls_application_data() {
    let (ca, cb) = (Certificate::generate().unwrap(), Certificate::generate().unwrap());
    let ctx = DtlsContext::shared(&SrtpProfile::DEFAULT_PREFERENCE).unwrap();
    let mut a = Side {
        dtls: DtlsEndpoint::new(&ctx, &ca, DtlsRole::Client, cb.fingerprint().clone()).unwrap(),
        sctp: SctpTransport::new(true, 0),
        events: vec![],
        connected: false,
    };
    let mut b = Side {
        dtls: DtlsEndpoint::new(&ctx, &cb, DtlsRole::Server, ca.fingerprint().clone()).unwrap(),
        sctp: SctpTransport::new(false, 0),
        events: vec![],
        connected: false,
    };
    let now = Instant::now();
    assert!(matches!(a.dtls.start().unwrap(), DtlsEvent::Nothing));
    exchange(&mut a, &mut b, now);
    assert!(a.connected && b.connected, "DTLS handshake");

    let id = a.sctp.open_channel(now, ChannelOptions { label: "telemetry".into(), ordered: true, ..Default::default() }).unwrap();
    a.sctp.start(now).unwrap();
    let mut t = now;
    for _ in 0..50 {
        exchange(&mut a, &mut b, t);
        if b.events.iter().any(|e| *e == ChannelEvent::PeerOpened { id }) {
            break;
        }
        t += Duration::from_millis(100);
        a.sctp.handle_timeout(t);
        b.sctp.handle_timeout(t);
    }
    assert!(a.events.contains(&ChannelEvent::Open { id }), "{:?}", a.events);
    assert!(b.events.contains(&ChannelEvent::PeerOpened { id }), "{:?}", b.events);
    assert_eq!(b.sctp.options(id).unwrap().label, "telemetry");

    a.sctp.send(t, id, b"{\"speed\": 3}", true).unwrap();
    b.sctp.send(t, id, &[0xde, 0xad], false).unwrap();
    exchange(&mut a, &mut b, t);
    assert!(b.events.contains(&ChannelEvent::Message { id, data: b"{\"speed\": 3}".to_vec(), text: true }));
    assert!(a.events.contains(&ChannelEvent::Message { id, data: vec![0xde, 0xad], text: false }));
}
