use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, Sender};
use webrtc_session::negotiation::{Codec, Direction, MediaKind};
use webrtc_session::session::{ConnectionState, Event, EventHandler, SdpType, Session, SessionConfig};

enum Ev {
    Cand(String),
    State(ConnectionState),
    Rtp(u32, Vec<u8>),
}
struct H(Sender<Ev>);
impl EventHandler for H {
    fn on_event(&self, e: Event<'_>) {
        let _ = match e {
            Event::LocalCandidate { candidate, .. } => self.0.send(Ev::Cand(candidate.to_string())),
            Event::ConnectionState(s) => self.0.send(Ev::State(s)),
            Event::Rtp { track, packet } => self.0.send(Ev::Rtp(track, packet.to_vec())),
            _ => Ok(()),
        };
    }
}

fn session() -> (Arc<Session>, Receiver<Ev>) {
    let mut cfg = SessionConfig::default();
    cfg.ice.local_addresses = vec!["127.0.0.1".parse().unwrap()];
    let s = Session::new(cfg).unwrap();
    let (tx, rx) = unbounded();
    s.set_event_handler(Some(Arc::new(H(tx))));
    (s, rx)
}

#[test]
fn two_sessions_connect_and_exchange_media() {
    let t0 = Instant::now();
    let (a, arx) = session();
    let (b, brx) = session();
    let ta = a.add_track(MediaKind::Audio, &[Codec::Pcmu], Direction::SendRecv).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
    b.set_remote_description(SdpType::Offer, &offer).unwrap();
    let tb = b.add_track(MediaKind::Audio, &[Codec::Pcmu], Direction::SendRecv).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(SdpType::Answer, Some(&answer)).unwrap();
    a.set_remote_description(SdpType::Answer, &answer).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut ac, mut bc) = (false, false);
    while !(ac && bc) && Instant::now() < deadline {
        while let Ok(e) = arx.try_recv() {
            match e {
                Ev::Cand(c) => b.add_remote_candidate(&c).unwrap(),
                Ev::State(s) => { eprintln!("a state {s:?} at {:?}", t0.elapsed()); ac |= s == ConnectionState::Connected }
                _ => {}
            }
        }
        while let Ok(e) = brx.try_recv() {
            match e {
                Ev::Cand(c) => a.add_remote_candidate(&c).unwrap(),
                Ev::State(s) => { eprintln!("b state {s:?} at {:?}", t0.elapsed()); bc |= s == ConnectionState::Connected }
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(ac && bc, "a {:?} b {:?} {:?} {:?}", a.connection_state(), b.connection_state(), a.failure_reason(), b.failure_reason());
    for i in 0..100u32 {
        a.send_media(ta, &i.to_be_bytes(), i * 160, false).unwrap();
        b.send_media(tb, &i.to_be_bytes(), i * 160, false).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let got = |rx: &Receiver<Ev>, track: u32| {
        rx.try_iter().filter(|e| matches!(e, Ev::Rtp(t, p) if *t == track && p.len() == 12 + 12 + 4)).count()
    };
    assert_eq!((got(&arx, ta), got(&brx, tb)), (100, 100));
    a.close();
    b.close();
}
