//! What a peer can put in DTLS application data: SCTP packets into data channel transports
//! (fresh ones of both DTLS roles, and both ends of a pair with an association and an open
//! channel), and DCEP messages. Each input goes in as given and with its CRC32c checksum made
//! valid (sctp-proto drops a packet with a wrong one, so without the fix-up almost nothing
//! would reach the chunk parsers: INIT floods, chunk lengths past the packet, TSN gaps,
//! resets of unknown streams). Arbitrary bytes must never panic, and the pair keeps working.
#![no_main]
use std::sync::Mutex;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use once_cell::sync::Lazy;
use webrtc_session::sctp::testing::{fix_checksum, pump};
use webrtc_session::sctp::{dcep, ChannelOptions, SctpTransport};

struct Pair {
    a: SctpTransport,
    b: SctpTransport,
    id: u16,
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

/// `data` with a valid SCTP checksum.
fn with_checksum(data: &[u8]) -> Option<Vec<u8>> {
    (data.len() >= 12).then(|| {
        let mut p = data.to_vec();
        fix_checksum(&mut p);
        p
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = dcep::parse(data);
    let now = Instant::now();
    let fixed = with_checksum(data);
    let inputs: Vec<&[u8]> = std::iter::once(data).chain(fixed.as_deref()).collect();
    for input in &inputs {
        for client in [false, true] {
            let mut fresh = SctpTransport::new(client, 0);
            if client {
                let _ = fresh.start(now);
            }
            fresh.handle_packet(now, input);
            while fresh.poll_event().is_some() {}
            while fresh.poll_packet().is_some() {}
        }
    }
    let mut p = PAIR.lock().unwrap();
    let Pair { a, b, id } = &mut *p;
    for input in &inputs {
        b.handle_packet(now, input);
        a.handle_packet(now, input);
        pump(a, b, now);
    }
    if a.state(*id).is_some() && a.buffered_amount(*id) < 1 << 20 {
        let _ = a.send(now, *id, data, false);
        pump(a, b, now);
    }
});
