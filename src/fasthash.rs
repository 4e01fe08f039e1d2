//! A hasher for the maps looked up on every packet: routing tables (track ids, SSRCs, payload
//! types, short mids) and the C ABI's handle registry (object addresses). FNV-1a for bytes, a
//! multiply-shift for whole integers. SipHash's resistance to chosen keys is not needed: the
//! keys come from our own negotiation, from packets that passed SRTP authentication, or from
//! our own allocations.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct FastHasher(u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { FNV_OFFSET } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(FNV_PRIME);
        }
        self.0 = h;
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_right(29);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_distinct() {
        let mut m: FastMap<u32, u32> = FastMap::default();
        for i in 0..10_000 {
            m.insert(i * 4096, i);
        }
        assert_eq!(m.len(), 10_000);
        assert!((0..10_000).all(|i| m.get(&(i * 4096)) == Some(&i)));
        let mut b: FastMap<Vec<u8>, u8> = FastMap::default();
        b.insert(b"0".to_vec(), 0);
        b.insert(b"audio".to_vec(), 1);
        assert_eq!(b.get(&b"audio"[..]), Some(&1));
    }
}
