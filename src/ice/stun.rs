//! The few STUN messages this library builds itself: Binding requests to STUN servers to learn
//! the server-reflexive address of the session's socket (RFC 8489), and their responses.
//! Connectivity checks and consent are webrtc-ice's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;

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
    let len = u16::from_be_bytes([m[2], m[3]]) as usize;
    let mut attrs = m.get(20..20 + len)?;
    let mut mapped = None;
    while attrs.len() >= 4 {
        let typ = u16::from_be_bytes([attrs[0], attrs[1]]);
        let alen = u16::from_be_bytes([attrs[2], attrs[3]]) as usize;
        let value = attrs.get(4..4 + alen)?;
        match typ {
            ATTR_XOR_MAPPED_ADDRESS => return decode_address(value, Some(&m[4..20])),
            ATTR_MAPPED_ADDRESS => mapped = decode_address(value, None),
            _ => {}
        }
        let padded = 4 + alen.div_ceil(4) * 4;
        attrs = attrs.get(padded..).unwrap_or(&[]);
    }
    mapped
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
mod tests {
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
}
