//! DTLS certificates: a generated ECDSA P-256 self-signed certificate, or one loaded from PEM,
//! and the `a=fingerprint` values derived from them.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509NameBuilder, X509Ref, X509};

use crate::error::{self, Result};

#[derive(Clone)]
pub struct Certificate {
    pub cert: X509,
    pub key: PKey<Private>,
    fingerprint: Fingerprint,
}

impl Certificate {
    /// A fresh ECDSA P-256 self-signed certificate valid for 30 days, as browsers make.
    pub fn generate() -> Result<Self> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_nid(Nid::COMMONNAME, "webrtc-session")?;
        let name = name.build();
        let mut serial = BigNum::new()?;
        serial.rand(64, MsbOption::MAYBE_ZERO, false)?;
        let mut b = X509::builder()?;
        b.set_version(2)?;
        let serial = serial.to_asn1_integer()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(30)?);
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;
        b.sign(&key, MessageDigest::sha256())?;
        Self::from_parts(b.build(), key)
    }

    /// A certificate and its private key from PEM text.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self> {
        let cert = X509::from_pem(cert_pem)
            .map_err(|e| error::crypto(format!("certificate PEM cannot be parsed: {e}")))?;
        let key = PKey::private_key_from_pem(key_pem)
            .map_err(|e| error::crypto(format!("private key PEM cannot be parsed: {e}")))?;
        let public = cert.public_key()?;
        if !public.public_eq(&key) {
            return Err(error::crypto("the private key does not belong to the certificate"));
        }
        Self::from_parts(cert, key)
    }

    fn from_parts(cert: X509, key: PKey<Private>) -> Result<Self> {
        let fingerprint = Fingerprint::of(&cert, HashAlgorithm::Sha256)?;
        Ok(Certificate { cert, key, fingerprint })
    }

    /// The SHA-256 fingerprint announced in `a=fingerprint`.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "sha-1" => Self::Sha1,
            "sha-224" => Self::Sha224,
            "sha-256" => Self::Sha256,
            "sha-384" => Self::Sha384,
            "sha-512" => Self::Sha512,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha-1",
            Self::Sha224 => "sha-224",
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }
    fn digest(self) -> MessageDigest {
        match self {
            Self::Sha1 => MessageDigest::sha1(),
            Self::Sha224 => MessageDigest::sha224(),
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
            Self::Sha512 => MessageDigest::sha512(),
        }
    }
}

/// A certificate fingerprint as in RFC 8122 (`sha-256 AB:CD:...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub algorithm: HashAlgorithm,
    pub digest: Vec<u8>,
}

impl Fingerprint {
    pub fn of(cert: &X509Ref, algorithm: HashAlgorithm) -> Result<Self> {
        Ok(Fingerprint { algorithm, digest: cert.digest(algorithm.digest())?.to_vec() })
    }

    /// Parses the value of an `a=fingerprint:` attribute.
    pub fn parse(value: &str) -> Result<Self> {
        let mut parts = value.split_whitespace();
        let (Some(algo), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(error::invalid_sdp(format!(
                "a=fingerprint must be '<hash> <hex:pairs>', got '{value}'"
            )));
        };
        let algorithm = HashAlgorithm::from_name(algo).ok_or_else(|| {
            error::invalid_sdp(format!(
                "a=fingerprint hash '{algo}' is not supported (sha-1, sha-224, sha-256, sha-384, sha-512 are)"
            ))
        })?;
        let digest = hex
            .split(':')
            .map(|pair| {
                if pair.len() == 2 {
                    u8::from_str_radix(pair, 16).ok()
                } else {
                    None
                }
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| error::invalid_sdp(format!("a=fingerprint value '{hex}' is not colon-separated hex")))?;
        if digest.len() != algorithm.digest().size() {
            return Err(error::invalid_sdp(format!(
                "a=fingerprint {} has {} bytes, expected {}",
                algorithm.name(),
                digest.len(),
                algorithm.digest().size()
            )));
        }
        Ok(Fingerprint { algorithm, digest })
    }

    /// Whether `cert` has this fingerprint.
    pub fn matches(&self, cert: &X509Ref) -> bool {
        cert.digest(self.algorithm.digest())
            .map(|d| openssl::memcmp::eq(&d, &self.digest))
            .unwrap_or(false)
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ", self.algorithm.name())?;
        for (i, b) in self.digest.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_fingerprint_round_trips() {
        let c = Certificate::generate().unwrap();
        let text = c.fingerprint().to_string();
        assert!(text.starts_with("sha-256 "));
        assert_eq!(text.len(), "sha-256 ".len() + 32 * 3 - 1);
        let parsed = Fingerprint::parse(&text).unwrap();
        assert!(parsed.matches(&c.cert));
        let other = Certificate::generate().unwrap();
        assert!(!parsed.matches(&other.cert));
    }

    #[test]
    fn pem_round_trip_and_key_mismatch() {
        let c = Certificate::generate().unwrap();
        let cert_pem = c.cert.to_pem().unwrap();
        let key_pem = c.key.private_key_to_pem_pkcs8().unwrap();
        let loaded = Certificate::from_pem(&cert_pem, &key_pem).unwrap();
        assert_eq!(loaded.fingerprint(), c.fingerprint());
        let other = Certificate::generate().unwrap();
        let other_key = other.key.private_key_to_pem_pkcs8().unwrap();
        let err = Certificate::from_pem(&cert_pem, &other_key).err().unwrap();
        assert!(err.message().contains("does not belong"));
    }

    #[test]
    fn fingerprint_parse_errors_are_specific() {
        assert!(Fingerprint::parse("md5 AB:CD").unwrap_err().message().contains("not supported"));
        assert!(Fingerprint::parse("sha-256 AB:CD").unwrap_err().message().contains("expected 32"));
        assert!(Fingerprint::parse("sha-256 ZZ").unwrap_err().message().contains("hex"));
        assert!(Fingerprint::parse("sha-256").is_err());
    }
}
