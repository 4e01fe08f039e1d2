//! Each session's events arrive in the order their changes happened, whatever thread delivers
//! them: 1,000 sessions gathering at once, with a handler slow enough that a runtime thread's
//! COMPLETE would overtake the caller's GATHERING if delivery were not ordered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use webrtc_session::negotiation::{Codec, Direction, MediaKind};
use webrtc_session::session::{Event, EventHandler, GatheringState, SdpType, Session, SessionConfig, SignalingState};

#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Signaling(SignalingState),
    Gathering(GatheringState),
    Candidate,
}

struct Slow(Mutex<Vec<Seen>>);
impl EventHandler for Slow {
    fn on_event(&self, e: Event<'_>) {
        let seen = match e {
            Event::SignalingState(s) => Seen::Signaling(s),
            Event::GatheringState(s) => Seen::Gathering(s),
            Event::LocalCandidate { .. } => Seen::Candidate,
            _ => return,
        };
        // Slow on purpose: a handler that logs, or a managed host marshalling the event.
        std::thread::sleep(Duration::from_micros(500));
        self.0.lock().push(seen);
    }
}

const SESSIONS: usize = 1000;
const THREADS: usize = 8;

#[test]
fn events_of_each_session_arrive_in_order_with_a_slow_handler() {
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(|| {
                let mut out = Vec::new();
                for _ in 0..SESSIONS / THREADS {
                    let mut cfg = SessionConfig::default();
                    cfg.ice.local_addresses = vec!["127.0.0.1".parse().unwrap()];
                    let s = Session::new(cfg).unwrap();
                    let h = Arc::new(Slow(Mutex::new(Vec::new())));
                    s.set_event_handler(Some(h.clone()));
                    s.add_track(MediaKind::Audio, &[Codec::Opus], Direction::SendRecv).unwrap();
                    let offer = s.create_offer().unwrap();
                    s.set_local_description(SdpType::Offer, Some(&offer)).unwrap();
                    out.push((s, h));
                }
                out
            })
        })
        .collect();
    let sessions: Vec<_> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sessions.iter().any(|(_, h)| !h.0.lock().contains(&Seen::Gathering(GatheringState::Complete))) {
        assert!(Instant::now() < deadline, "gathering did not complete everywhere");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out_of_order = 0;
    for (_, h) in &sessions {
        let seen = h.0.lock().clone();
        let expected_prefix = [Seen::Signaling(SignalingState::HaveLocalOffer), Seen::Gathering(GatheringState::Gathering)];
        let candidates = seen.iter().filter(|e| **e == Seen::Candidate).count();
        let ok = seen.len() >= 4
            && seen[..2] == expected_prefix
            && seen[2..seen.len() - 1].iter().all(|e| *e == Seen::Candidate)
            && candidates >= 1
            && seen.last() == Some(&Seen::Gathering(GatheringState::Complete));
        if !ok {
            out_of_order += 1;
            eprintln!("out of order: {seen:?}");
        }
    }
    println!("event order: {SESSIONS} sessions, {out_of_order} out of order, {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(out_of_order, 0);
    for (s, _) in &sessions {
        s.shutdown_events();
        s.close();
    }
}
