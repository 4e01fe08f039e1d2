//! The datagram path of a connected session: RFC 7983 demux, then DTLS, SRTP or SRTCP, then
//! RTP routing. A pair is connected once on 127.0.0.1; inputs are fed to one side as if they
//! came from the network.
#![no_main]
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use once_cell::sync::Lazy;
use webrtc_session::ice::TransportHandler;
use webrtc_session::negotiation::{Codec, Direction, MediaKind};
use webrtc_session::session::{ConnectionState, Event, EventHandler, SdpType, Session, SessionConfig};

/// Hands a session's candidates to the other one.
struct Trickle(Arc<Session>);
impl EventHandler for Trickle {
    fn on_event(&self, e: Event<'_>) {
        if let Event::LocalCandidate { candidate, .. } = e {
            let _ = self.0.add_remote_candidate(candidate);
        }
    }
}

static PAIR: Lazy<(Arc<Session>, Arc<Session>)> = Lazy::new(|| {
    let mut cfg = SessionConfig::default();
    cfg.ice.local_addresses = vec!["127.0.0.1".parse().unwrap()];
    let a = Session::new(cfg.clone()).unwrap();
    let b = Session::new(cfg).unwrap();
    a.set_event_handler(Some(Arc::new(Trickle(Arc::clone(&b)))));
    b.set_event_handler(Some(Arc::new(Trickle(Arc::clone(&a)))));
    a.add_track(MediaKind::Video, &[Codec::Vp8], Direction::SendRecv).unwrap();
    let offer = a.create_offer().unwrap();
    b.set_remote_description(SdpType::Offer, &offer).unwrap();
    a.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
    b.add_track(MediaKind::Video, &[Codec::Vp8], Direction::SendRecv).unwrap();
    let answer = b.create_answer().unwrap();
    a.set_remote_description(SdpType::Answer, &answer).unwrap();
    b.set_local_description(SdpType::Answer, Some(&answer)).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while b.connection_state() != ConnectionState::Connected && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    (a, b)
});

fuzz_target!(|data: &[u8]| {
    let (a, b) = &*PAIR;
    let from: SocketAddr = a.local_address();
    // Datagrams are unprotected in place, as the receive loop's buffer is.
    let mut buf = data.to_vec();
    b.on_datagram(&mut buf, from);
});
