//! Memory under hostile SCTP input with valid checksums, from the peer itself (it passed DTLS):
//! 200,000 packets into a connected transport, half DATA with TSNs anywhere in the number
//! space, a quarter DATA scattered just above the acknowledged TSN, the rest random chunks.
//! sctp-proto alone kept every scattered chunk (26 MB per 100,000); with the TSN window of
//! `src/sctp` at most 16,384 wait out of order. Prints the RSS growth.

use std::time::Instant;

use webrtc_session::sctp::testing::{fix_checksum, pump};
use webrtc_session::sctp::{ChannelOptions, SctpTransport};

fn rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) * 4
}

#[test]
fn hostile_valid_checksum_packets_hold_bounded_memory() {
    let now = Instant::now();
    let (mut a, mut b) = (SctpTransport::new(true, 0), SctpTransport::new(false, 0));
    a.start(now).unwrap();
    pump(&mut a, &mut b, now);
    let id = a.open_channel(now, ChannelOptions { label: "probe".into(), ordered: true, ..Default::default() }).unwrap();
    pump(&mut a, &mut b, now);
    // A real packet of b's association as a template: its ports and verification tag.
    a.send(now, id, b"template", false).unwrap();
    let template = a.poll_packet().unwrap();
    b.handle_packet(now, &template);
    pump(&mut a, &mut b, now);
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let base_tsn = u32::from_be_bytes(template[16..20].try_into().unwrap());
    let start = rss_kb();
    let mut samples = vec![];
    for i in 0..200_000u32 {
        let mut p = template[..12].to_vec();
        // One DATA chunk (type 0) with a random TSN, stream and length, or random chunk bytes.
        let body_len = (rnd() % 1100) as usize;
        // Even packets: DATA with a TSN anywhere in the number space; every fourth: DATA with
        // a TSN scattered over the 16,000 above the last acknowledged one (what a peer may
        // legitimately have outstanding); the rest random chunk bytes.
        if i % 2 == 0 || i % 4 == 1 {
            let r = rnd();
            let tsn = if i % 2 == 0 { (r >> 8) as u32 } else { base_tsn.wrapping_add(2 + (r >> 8) as u32 % 16_000) };
            p.extend_from_slice(&[0, (r & 0x07) as u8]);
            p.extend_from_slice(&((16 + body_len) as u16).to_be_bytes());
            p.extend_from_slice(&tsn.to_be_bytes());
            p.extend_from_slice(&((r >> 40) as u16 % 1024).to_be_bytes()); // stream
            p.extend_from_slice(&((r >> 24) as u16).to_be_bytes()); // SSN
            p.extend_from_slice(&53u32.to_be_bytes()); // binary PPID
        }
        for _ in 0..body_len {
            p.push(rnd() as u8);
        }
        fix_checksum(&mut p);
        b.handle_packet(now, &p);
        while b.poll_packet().is_some() {}
        while b.poll_event().is_some() {}
        if i % 50_000 == 0 {
            samples.push(rss_kb().saturating_sub(start));
        }
    }
    let grown = rss_kb().saturating_sub(start);
    eprintln!("RSS growth over 200,000 hostile packets with valid checksums: {samples:?} ... {grown} KB");
    // At most 16,384 chunks wait out of order: about 1.2 KB each at the most here.
    assert!(grown < 32 * 1024, "grew {grown} KB");
    let growth_second_half = samples[3] - samples[2];
    assert!(growth_second_half < 4 * 1024, "still growing: {samples:?}");
}
