//! What a peer can put in DTLS application data: SCTP packets into a data channel transport
//! (a fresh one waiting for INIT, and one with an association and an open channel), and DCEP
//! messages. Arbitrary bytes must never panic, and the connected pair keeps working.
#![no_main]
use std::sync::Mutex;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use once_cell::sync::Lazy;
use webrtc_session::sctp::{dcep, ChannelOptions, SctpTransport};

struct Pair {
    a: SctpTransport,
    b: SctpTransport,
    id: u16,
}

fn pump(a: &mut SctpTransport, b: &mut SctpTransport, now: Instant) {
    for _ in 0..100 {
        let mut moved = false;
        while let Some(p) = a.poll_packet() {
            b.handle_packet(now, &p);
            moved = true;
        }
        while let Some(p) = b.poll_packet() {
            a.handle_packet(now, &p);
            moved = true;
        }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if !moved {
            return;
        }
    }
}

static PAIR: Lazy<Mutex<Pair>> = Lazy::new(|| {
    let now = Instant::now();
    let (mut a, mut b) = (SctpTransport::new(true, 0), SctpTransport::new(false, 0));
    a.start(now).unwrap();
    pump(&mut a, &mut b, now);
    let id = a.open_channel(now, ChannelOptions { label: "fuzz".into(), ordered: true, ..Default::default() }).unwrap();
    pump(&mut a, &mut b, now);
    Mutex::new(Pair { a, b, id })
});

fuzz_target!(|data: &[u8]| {
    let _ = dcep::parse(data);
    let now = Instant::now();
    let mut fresh = SctpTransport::new(false, 0);
    fresh.handle_packet(now, data);
    while fresh.poll_event().is_some() {}
    while fresh.poll_packet().is_some() {}
    let mut p = PAIR.lock().unwrap();
    let Pair { a, b, id } = &mut *p;
    b.handle_packet(now, data);
    pump(a, b, now);
    if a.state(*id).is_some() && a.buffered_amount(*id) < 1 << 20 {
        let _ = a.send(now, *id, data, false);
        pump(a, b, now);
    }
});
