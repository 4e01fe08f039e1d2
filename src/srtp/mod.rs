//! SRTP/SRTCP contexts built from DTLS-exported keying material (RFC 5764 §4.2), on webrtc-srtp.

use webrtc_srtp::context::Context;
use webrtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use webrtc_srtp::protection_profile::ProtectionProfile;

use crate::error::{self, Result};

/// Replay window in packets (RFC 3711 asks for at least 64; libwebrtc uses 1024 for video).
const REPLAY_WINDOW: usize = 1024;

/// The SRTP protection profiles this library negotiates, with their IANA DTLS-SRTP ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpProfile {
    Aes128CmHmacSha1_80 = 1,
    AeadAes128Gcm = 7,
    AeadAes256Gcm = 8,
}

impl SrtpProfile {
    pub const DEFAULT_PREFERENCE: [SrtpProfile; 3] =
        [SrtpProfile::AeadAes128Gcm, SrtpProfile::AeadAes256Gcm, SrtpProfile::Aes128CmHmacSha1_80];

    pub fn from_id(id: u64) -> Option<Self> {
        match id {
            1 => Some(Self::Aes128CmHmacSha1_80),
            7 => Some(Self::AeadAes128Gcm),
            8 => Some(Self::AeadAes256Gcm),
            _ => None,
        }
    }
    /// The name OpenSSL uses in `SSL_CTX_set_tlsext_use_srtp`.
    pub fn openssl_name(self) -> &'static str {
        match self {
            Self::Aes128CmHmacSha1_80 => "SRTP_AES128_CM_SHA1_80",
            Self::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            Self::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
        }
    }
    /// The RFC name, for display.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Self::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }
    fn protection_profile(self) -> ProtectionProfile {
        match self {
            Self::Aes128CmHmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            Self::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            Self::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
        }
    }
    pub fn key_len(self) -> usize {
        self.protection_profile().key_len()
    }
    pub fn salt_len(self) -> usize {
        self.protection_profile().salt_len()
    }
    /// Bytes of the authentication tag SRTP and SRTCP append.
    pub fn auth_tag_len(self) -> usize {
        match self {
            Self::Aes128CmHmacSha1_80 => 10,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }
    /// Bytes of exported keying material this profile needs (both directions).
    pub fn keying_material_len(self) -> usize {
        2 * (self.key_len() + self.salt_len())
    }
}

/// Master keys and salts for both directions.
pub struct SrtpKeys {
    pub profile: SrtpProfile,
    pub local_key: Vec<u8>,
    pub local_salt: Vec<u8>,
    pub remote_key: Vec<u8>,
    pub remote_salt: Vec<u8>,
}

impl SrtpKeys {
    /// Splits exported material laid out as client key | server key | client salt | server salt.
    /// The DTLS client writes with the client half.
    pub fn from_exported(profile: SrtpProfile, material: &[u8], is_dtls_client: bool) -> Result<Self> {
        if material.len() != profile.keying_material_len() {
            return Err(error::crypto(format!(
                "{} needs {} bytes of keying material, got {}",
                profile.name(),
                profile.keying_material_len(),
                material.len()
            )));
        }
        let (k, s) = (profile.key_len(), profile.salt_len());
        let client_key = &material[..k];
        let server_key = &material[k..2 * k];
        let client_salt = &material[2 * k..2 * k + s];
        let server_salt = &material[2 * k + s..];
        let (lk, ls, rk, rs) = if is_dtls_client {
            (client_key, client_salt, server_key, server_salt)
        } else {
            (server_key, server_salt, client_key, client_salt)
        };
        Ok(SrtpKeys {
            profile,
            local_key: lk.to_vec(),
            local_salt: ls.to_vec(),
            remote_key: rk.to_vec(),
            remote_salt: rs.to_vec(),
        })
    }
}

/// Protects what this endpoint sends.
pub struct SrtpSender {
    ctx: Context,
}

/// Unprotects what the peer sends, with replay protection on.
pub struct SrtpReceiver {
    ctx: Context,
    tag_len: usize,
}

pub fn contexts(keys: &SrtpKeys) -> Result<(SrtpSender, SrtpReceiver)> {
    let p = keys.profile.protection_profile();
    let tx = Context::new(&keys.local_key, &keys.local_salt, p, None, None)
        .map_err(|e| error::crypto(format!("SRTP sender context: {e}")))?;
    let rx = Context::new(
        &keys.remote_key,
        &keys.remote_salt,
        p,
        Some(srtp_replay_protection(REPLAY_WINDOW)),
        Some(srtcp_replay_protection(REPLAY_WINDOW)),
    )
    .map_err(|e| error::crypto(format!("SRTP receiver context: {e}")))?;
    Ok((SrtpSender { ctx: tx }, SrtpReceiver { ctx: rx, tag_len: keys.profile.auth_tag_len() }))
}

impl SrtpSender {
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<bytes::Bytes> {
        self.ctx.encrypt_rtp(packet).map_err(|e| error::packet_rejected(format!("SRTP protect: {e}")))
    }
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<bytes::Bytes> {
        self.ctx.encrypt_rtcp(packet).map_err(|e| error::packet_rejected(format!("SRTCP protect: {e}")))
    }
}

/// The SRTCP index (E flag + 31 bits) that precedes the tag.
const SRTCP_INDEX_LEN: usize = 4;

// webrtc-srtp indexes into packets without checking their length (a 4-byte SRTCP packet
// panics it): lengths are checked here first, against the cleartext header and the tag.
impl SrtpReceiver {
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<bytes::Bytes> {
        let header = crate::rtp::RtpHeader::parse(packet)?;
        if packet.len() < header.header_len + self.tag_len {
            return Err(error::crypto("SRTP packet is shorter than its header and tag"));
        }
        self.ctx.decrypt_rtp(packet).map_err(|e| error::crypto(format!("SRTP unprotect: {e}")))
    }
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<bytes::Bytes> {
        if packet.len() < 8 + SRTCP_INDEX_LEN + self.tag_len {
            return Err(error::crypto("SRTCP packet is shorter than header, index and tag"));
        }
        self.ctx.decrypt_rtcp(packet).map_err(|e| error::crypto(format!("SRTCP unprotect: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp;

    fn material(profile: SrtpProfile) -> Vec<u8> {
        (0..profile.keying_material_len() as u8).collect()
    }

    #[test]
    fn key_layout_follows_rfc5764() {
        let p = SrtpProfile::Aes128CmHmacSha1_80;
        let m = material(p);
        let client = SrtpKeys::from_exported(p, &m, true).unwrap();
        let server = SrtpKeys::from_exported(p, &m, false).unwrap();
        assert_eq!(client.local_key, &m[0..16]);
        assert_eq!(client.remote_key, &m[16..32]);
        assert_eq!(client.local_salt, &m[32..46]);
        assert_eq!(client.remote_salt, &m[46..60]);
        assert_eq!(server.local_key, client.remote_key);
        assert_eq!(server.local_salt, client.remote_salt);
        assert!(SrtpKeys::from_exported(p, &m[1..], true).is_err());
    }

    #[test]
    fn protect_unprotect_and_replay_for_every_profile() {
        for p in SrtpProfile::DEFAULT_PREFERENCE {
            let m = material(p);
            let (mut ctx, _) = contexts(&SrtpKeys::from_exported(p, &m, true).unwrap()).unwrap();
            let (_, mut srx) = contexts(&SrtpKeys::from_exported(p, &m, false).unwrap()).unwrap();
            let mut pkt = [0u8; 212];
            let n = rtp::write_header(&mut pkt, 0, false, 7, 160, 42, None);
            for (i, b) in pkt[n..].iter_mut().enumerate() {
                *b = i as u8;
            }
            let protected = ctx.protect_rtp(&pkt).unwrap();
            assert_ne!(&protected[n..pkt.len()], &pkt[n..], "{p:?} payload is not encrypted");
            let plain = srx.unprotect_rtp(&protected).unwrap();
            assert_eq!(&plain[..], &pkt[..]);
            assert!(srx.unprotect_rtp(&protected).is_err(), "{p:?} replay accepted");
            let mut forged = protected.to_vec();
            let last = forged.len() - 1;
            forged[last] ^= 1;
            assert!(srx.unprotect_rtp(&forged).is_err(), "{p:?} forged tag accepted");
            let rr = [0x80, 201, 0, 1, 0, 0, 0, 42];
            let srtcp = ctx.protect_rtcp(&rr).unwrap();
            assert_eq!(&srx.unprotect_rtcp(&srtcp).unwrap()[..], &rr[..]);
            // Every truncation is an error, never a panic.
            for n in 0..srtcp.len() {
                assert!(srx.unprotect_rtcp(&srtcp[..n]).is_err(), "{p:?} SRTCP truncated to {n}");
            }
            let fresh = ctx.protect_rtp(&pkt).unwrap();
            for n in 0..fresh.len() {
                assert!(srx.unprotect_rtp(&fresh[..n]).is_err(), "{p:?} SRTP truncated to {n}");
            }
        }
    }
}
