//! SRTP alone, per packet: the library's in-place transforms next to webrtc-srtp 0.17.2 (what
//! the library used before), for each profile and 160 / 1200-byte payloads. The OpenSSL floor
//! is `limit ... protect` from bench/limit.c; scripts/bench.sh prints the ratios.
//! Run: `cargo bench --bench srtp` (part of `make bench`). Fastest of 15 runs of 20,000 packets.

use std::time::Instant;

use webrtc_session::rtp;
use webrtc_session::srtp::{contexts, SrtpKeys, SrtpProfile};
use webrtc_srtp::protection_profile::ProtectionProfile;

const N: usize = 20_000;
const RUNS: usize = 15;

/// The fastest of the runs: on a shared, noisy machine the minimum is the stable estimate of
/// what the code costs (limit.c reports its floor the same way).
fn best(runs: Vec<f64>) -> f64 {
    runs.into_iter().fold(f64::INFINITY, f64::min)
}

fn time(mut f: impl FnMut(usize)) -> f64 {
    best(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                for i in 0..N {
                    f(i);
                }
                t.elapsed().as_nanos() as f64 / N as f64
            })
            .collect(),
    )
}

fn main() {
    for (profile, reference) in [
        (SrtpProfile::AeadAes128Gcm, ProtectionProfile::AeadAes128Gcm),
        (SrtpProfile::Aes128CmHmacSha1_80, ProtectionProfile::Aes128CmHmacSha1_80),
    ] {
        let material: Vec<u8> = (0..profile.keying_material_len() as u8).collect();
        let keys = SrtpKeys::from_exported(profile, &material, true).unwrap();
        for payload in [160usize, 1200] {
            let mut plain = vec![0u8; 12 + payload];
            let n = rtp::write_header(&mut plain, 96, false, 0, 0, 42, None);
            plain.truncate(n + payload);
            let name = profile.name();

            // In place: protect into a buffer with room for the tag.
            let (mut tx, _) = contexts(&keys).unwrap();
            let mut buf = vec![0u8; plain.len() + 16];
            let ns = time(|i| {
                buf[..plain.len()].copy_from_slice(&plain);
                buf[2..4].copy_from_slice(&(i as u16).to_be_bytes());
                tx.protect_rtp(&mut buf, plain.len()).unwrap();
            });
            println!("bench srtp_protect_{name}_{payload} {ns:.0} ns/packet");

            // Unprotect what a sender protected, in place; a fresh receiver per run (replay).
            let (mut tx, _) = contexts(&keys).unwrap();
            let protected: Vec<Vec<u8>> = (0..N)
                .map(|i| {
                    let mut b = vec![0u8; plain.len() + 16];
                    b[..plain.len()].copy_from_slice(&plain);
                    b[2..4].copy_from_slice(&(i as u16).to_be_bytes());
                    let m = tx.protect_rtp(&mut b, plain.len()).unwrap();
                    b.truncate(m);
                    b
                })
                .collect();
            let mut runs = Vec::new();
            for _ in 0..RUNS {
                let (_, mut rx) = contexts(&SrtpKeys::from_exported(profile, &material, false).unwrap()).unwrap();
                let mut work = protected.clone();
                let t = Instant::now();
                for b in work.iter_mut() {
                    rx.unprotect_rtp(b).unwrap();
                }
                runs.push(t.elapsed().as_nanos() as f64 / N as f64);
            }
            println!("bench srtp_unprotect_{name}_{payload} {:.0} ns/packet", best(runs));

            // webrtc-srtp, the reference: allocates the output per packet.
            let mut ctx =
                webrtc_srtp::context::Context::new(&keys.local_key, &keys.local_salt, reference, None, None).unwrap();
            let mut p = plain.clone();
            let ns = time(|i| {
                p[2..4].copy_from_slice(&(i as u16).to_be_bytes());
                ctx.encrypt_rtp(&p).unwrap();
            });
            println!("bench webrtc_srtp_protect_{name}_{payload} {ns:.0} ns/packet");
        }
    }
}
