//! The few STUN messages this library builds itself: Binding requests to STUN servers to learn
//! the server-reflexive address of the session's socket (RFC 8489), and their responses; and
//! for a shared port, the USERNAME and MESSAGE-INTEGRITY of incoming connectivity checks, which
//! say which session a peer's address belongs to. Connectivity checks and consent are
//! webrtc-ice's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::hmac::HmacSha1;

const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
/// HMAC-SHA1 length (RFC 8489 §14.5).
const INTEGRITY_LEN: usize = 20;

pub type TransactionId = [u8; 12];

pub fn binding_request(id: &TransactionId) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[0..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    m[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    m[8..20].copy_from_slice(id);
    m
}

/// The transaction id of a STUN message with the magic cookie, if `m` is one.
pub fn transaction_id(m: &[u8]) -> Option<TransactionId> {
    if m.len() < 20 || m[4..8] != MAGIC_COOKIE.to_be_bytes() {
        return None;
    }
    m[8..20].try_into().ok()
}

/// The mapped address of a Binding success response, if `m` is one.
pub fn parse_binding_success(m: &[u8]) -> Option<SocketAddr> {
    if m.len() < 20 || u16::from_be_bytes([m[0], m[1]]) != BINDING_SUCCESS {
        return None;
    }
    let mut mapped = None;
    for (_, typ, value) in attributes(m) {
        match typ {
            ATTR_XOR_MAPPED_ADDRESS => return decode_address(value, Some(&m[4..20])),
            ATTR_MAPPED_ADDRESS => mapped = decode_address(value, None),
            _ => {}
        }
    }
    mapped
}

/// The attributes of a well-formed STUN message: (offset of the attribute header, type, value).
fn attributes(m: &[u8]) -> impl Iterator<Item = (usize, u16, &[u8])> {
    let len = if m.len() >= 20 { u16::from_be_bytes([m[2], m[3]]) as usize } else { 0 };
    let end = if 20 + len <= m.len() { 20 + len } else { 20 };
    let mut at = 20;
    std::iter::from_fn(move || {
        if at + 4 > end {
            return None;
        }
        let typ = u16::from_be_bytes([m[at], m[at + 1]]);
        let alen = u16::from_be_bytes([m[at + 2], m[at + 3]]) as usize;
        let value = m.get(at + 4..at + 4 + alen).filter(|_| at + 4 + alen <= end)?;
        let item = (at, typ, value);
        at += 4 + alen.div_ceil(4) * 4;
        Some(item)
    })
}

/// The local ufrag a Binding request is addressed to: the part of its USERNAME
/// (`local:remote`, RFC 8445 §7.2.2) before the colon.
pub fn request_local_ufrag(m: &[u8]) -> Option<&str> {
    if !is_binding_request(m) {
        return None;
    }
    let (_, _, username) = attributes(m).find(|(_, t, _)| *t == ATTR_USERNAME)?;
    let username = std::str::from_utf8(username).ok()?;
    username.split_once(':').map(|(local, _)| local)
}

/// Whether the message's MESSAGE-INTEGRITY is the HMAC-SHA1 of what precedes it under `key`
/// (short-term credentials: the key is the password, RFC 8489 §14.5: the header's length field
/// counts up to the end of MESSAGE-INTEGRITY, attributes after it are not covered). The key's
/// pads are absorbed once per session (`HmacSha1::new`), not per message.
pub fn verify_integrity(m: &[u8], key: &HmacSha1) -> bool {
    let Some((at, _, value)) = attributes(m).find(|(_, t, _)| *t == ATTR_MESSAGE_INTEGRITY) else { return false };
    if value.len() != INTEGRITY_LEN {
        return false;
    }
    let covered_len = (at + 4 + INTEGRITY_LEN - 20) as u16;
    let mac = key.mac(&[&m[..2], &covered_len.to_be_bytes(), &m[4..at]]);
    openssl::memcmp::eq(&mac, value)
}

/// The class of a STUN message (RFC 8489 §5: the C1 and C0 bits of the message type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

/// The class of a STUN message with the magic cookie whose method is Binding, if `m` is one.
pub fn binding_class(m: &[u8]) -> Option<Class> {
    transaction_id(m)?;
    let t = u16::from_be_bytes([m[0], m[1]]);
    if t & 0xc000 != 0 || t & !0x0110 != 0x0001 {
        return None;
    }
    Some(match t & 0x0110 {
        0x0000 => Class::Request,
        0x0010 => Class::Indication,
        0x0100 => Class::Success,
        _ => Class::Error,
    })
}

/// Decodes a (XOR-)MAPPED-ADDRESS value; `xor` is cookie + transaction id for the XOR form.
fn decode_address(v: &[u8], xor: Option<&[u8]>) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let mask = |i: usize| xor.map(|x| x[i]).unwrap_or(0);
    let port = u16::from_be_bytes([v[2] ^ mask(0), v[3] ^ mask(1)]);
    let ip = match v[1] {
        1 if v.len() >= 8 => {
            let b: [u8; 4] = std::array::from_fn(|i| v[4 + i] ^ mask(i));
            IpAddr::V4(Ipv4Addr::from(b))
        }
        2 if v.len() >= 20 => {
            let b: [u8; 16] = std::array::from_fn(|i| v[4 + i] ^ mask(i));
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// A Binding success response carrying XOR-MAPPED-ADDRESS, as a STUN server sends (tests use it
/// to run a STUN server of their own on loopback).
pub fn binding_success(id: &TransactionId, mapped: SocketAddr) -> Vec<u8> {
    let mut xor = [0u8; 16];
    xor[0..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    xor[4..16].copy_from_slice(id);
    let mut value = vec![0, if mapped.is_ipv4() { 1 } else { 2 }];
    value.extend_from_slice(&(mapped.port() ^ 0x2112).to_be_bytes());
    match mapped.ip() {
        IpAddr::V4(ip) => value.extend(ip.octets().iter().enumerate().map(|(i, b)| b ^ xor[i])),
        IpAddr::V6(ip) => value.extend(ip.octets().iter().enumerate().map(|(i, b)| b ^ xor[i])),
    }
    let mut m = Vec::with_capacity(24 + value.len());
    m.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    m.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
    m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    m.extend_from_slice(id);
    m.extend_from_slice(&ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
    m.extend_from_slice(&(value.len() as u16).to_be_bytes());
    m.extend_from_slice(&value);
    m
}

/// Whether `m` is a Binding request (what a test STUN server answers).
pub fn is_binding_request(m: &[u8]) -> bool {
    m.len() >= 20 && u16::from_be_bytes([m[0], m[1]]) == BINDING_REQUEST && transaction_id(m).is_some()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn request_and_response_round_trip() {
        let id = [7u8; 12];
        let req = binding_request(&id);
        assert!(is_binding_request(&req));
        assert_eq!(transaction_id(&req), Some(id));
        for addr in ["203.0.113.9:54321", "[2001:db8::1]:3478"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let resp = binding_success(&id, addr);
            assert_eq!(parse_binding_success(&resp), Some(addr));
        }
        assert_eq!(parse_binding_success(&req), None);
        assert_eq!(parse_binding_success(&[1, 1, 0, 200]), None);
    }

    /// A connectivity check as webrtc-ice builds it (the `stun` crate): USERNAME, then
    /// MESSAGE-INTEGRITY, then FINGERPRINT.
    pub(crate) fn check(username: &str, pwd: &str) -> Vec<u8> {
        use ::stun::fingerprint::FINGERPRINT;
        use ::stun::integrity::MessageIntegrity;
        use ::stun::message::{Message, Setter, BINDING_REQUEST};
        use ::stun::textattrs::TextAttribute;
        let mut m = Message::new();
        let setters: Vec<Box<dyn Setter>> = vec![
            Box::new(BINDING_REQUEST),
            Box::new(::stun::agent::TransactionId::new()),
            Box::new(TextAttribute::new(::stun::attributes::ATTR_USERNAME, username.to_string())),
            Box::new(MessageIntegrity::new_short_term_integrity(pwd.to_string())),
            Box::new(FINGERPRINT),
        ];
        m.build(&setters).unwrap();
        m.raw
    }

    /// A Binding success response to transaction `id`, authenticated with `pwd`.
    pub(crate) fn response(id: &TransactionId, pwd: &str) -> Vec<u8> {
        use ::stun::fingerprint::FINGERPRINT;
        use ::stun::integrity::MessageIntegrity;
        use ::stun::message::{Message, Setter, BINDING_SUCCESS};
        let mut m = Message::new();
        let setters: Vec<Box<dyn Setter>> = vec![
            Box::new(BINDING_SUCCESS),
            Box::new(::stun::agent::TransactionId(*id)),
            Box::new(MessageIntegrity::new_short_term_integrity(pwd.to_string())),
            Box::new(FINGERPRINT),
        ];
        m.build(&setters).unwrap();
        m.raw
    }

    #[test]
    fn checks_are_attributed_and_authenticated() {
        let m = check("localUF:remoteUF", "the-local-password-24chr");
        assert_eq!(request_local_ufrag(&m), Some("localUF"));
        let key = HmacSha1::new(b"the-local-password-24chr");
        assert!(verify_integrity(&m, &key));
        assert!(!verify_integrity(&m, &HmacSha1::new(b"another-password-24chars")));
        assert_eq!(binding_class(&m), Some(Class::Request));
        assert_eq!(binding_class(&binding_success(&[1; 12], "127.0.0.1:9".parse().unwrap())), Some(Class::Success));
        assert_eq!(binding_class(&[0x01, 0x11, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Some(Class::Error));
        assert_eq!(binding_class(&[0x00, 0x11, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Some(Class::Indication));
        // Allocate (TURN, method 3) is not a Binding message.
        assert_eq!(binding_class(&[0x00, 0x03, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        // Any change to the covered bytes breaks it; FINGERPRINT (after it) is not covered.
        let mut tampered = m.clone();
        tampered[25] ^= 1;
        assert!(!verify_integrity(&tampered, &key));
        let mut after = m.clone();
        let last = after.len() - 1;
        after[last] ^= 1;
        assert!(verify_integrity(&after, &key));
        // Not a request, no username, truncated or lying lengths: no answer, no panic.
        assert_eq!(request_local_ufrag(&binding_success(&[1; 12], "127.0.0.1:9".parse().unwrap())), None);
        assert_eq!(request_local_ufrag(&binding_request(&[1; 12])), None);
        assert!(!verify_integrity(&binding_request(&[1; 12]), &HmacSha1::new(b"x")));
        for cut in 0..m.len() {
            let _ = request_local_ufrag(&m[..cut]);
            assert!(!verify_integrity(&m[..cut], &key) || cut == m.len());
        }
        let mut long = m.clone();
        long[2] = 0xff;
        assert_eq!(request_local_ufrag(&long), None);
    }
}
