//! HMAC-SHA1 (RFC 2104) with the key's inner and outer pads absorbed once: SRTP's
//! authentication tag (RFC 3711) and STUN's MESSAGE-INTEGRITY (RFC 8489 §14.5) both start every
//! message from a copy of these two SHA-1 states instead of keying a new HMAC. The states are
//! as secret as the key and are wiped when dropped.

use openssl::sha::{sha1, Sha1};
use zeroize::Zeroize;

pub const SHA1_LEN: usize = 20;
const BLOCK: usize = 64;

pub struct HmacSha1 {
    inner: Sha1,
    outer: Sha1,
}

impl HmacSha1 {
    pub fn new(key: &[u8]) -> Self {
        // RFC 2104 §2: a key longer than the block is hashed first (ICE passwords may be up to
        // 256 characters).
        let mut hashed = [0u8; SHA1_LEN];
        let key = if key.len() > BLOCK {
            hashed = sha1(key);
            &hashed[..]
        } else {
            key
        };
        let mut ipad = [0x36u8; BLOCK];
        let mut opad = [0x5cu8; BLOCK];
        for (i, k) in key.iter().enumerate() {
            ipad[i] ^= k;
            opad[i] ^= k;
        }
        let mut inner = Sha1::new();
        inner.update(&ipad);
        let mut outer = Sha1::new();
        outer.update(&opad);
        ipad.zeroize();
        opad.zeroize();
        hashed.zeroize();
        HmacSha1 { inner, outer }
    }

    /// The MAC of the concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; SHA1_LEN] {
        let mut h = self.inner.clone();
        for p in parts {
            h.update(p);
        }
        let digest = h.finish();
        let mut o = self.outer.clone();
        o.update(&digest);
        o.finish()
    }
}

impl Clone for HmacSha1 {
    fn clone(&self) -> Self {
        HmacSha1 { inner: self.inner.clone(), outer: self.outer.clone() }
    }
}

/// Wipes a SHA-1 state in place (a plain C struct of integers: all zero is a valid value).
fn wipe(state: &mut Sha1) {
    // SAFETY: `Sha1` wraps `SHA_CTX`, plain data with no pointers and no Drop; the bytes are
    // ours for the duration of the call.
    let bytes = unsafe { std::slice::from_raw_parts_mut(state as *mut Sha1 as *mut u8, std::mem::size_of::<Sha1>()) };
    bytes.zeroize();
}

impl Drop for HmacSha1 {
    fn drop(&mut self) {
        wipe(&mut self.inner);
        wipe(&mut self.outer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(key: &[u8], data: &[u8]) -> Vec<u8> {
        let pkey = openssl::pkey::PKey::hmac(key).unwrap();
        let mut s = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha1(), &pkey).unwrap();
        s.update(data).unwrap();
        s.sign_to_vec().unwrap()
    }

    #[test]
    fn matches_openssl_hmac_for_short_and_long_keys() {
        for key_len in [1usize, 20, 24, 64, 65, 256] {
            let key: Vec<u8> = (0..key_len).map(|i| i as u8 ^ 0x5a).collect();
            let h = HmacSha1::new(&key);
            assert_eq!(h.mac(&[b"hello ", b"world"]).to_vec(), reference(&key, b"hello world"), "key of {key_len}");
            assert_eq!(h.clone().mac(&[]).to_vec(), reference(&key, b""));
        }
    }
}
