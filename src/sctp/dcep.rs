//! The Data Channel Establishment Protocol (RFC 8832): DATA_CHANNEL_OPEN and DATA_CHANNEL_ACK,
//! carried on the channel's own stream with PPID 50. Every length is checked against the bytes
//! that are there.

use crate::error::{self, Result};

const MSG_OPEN: u8 = 0x03;
const MSG_ACK: u8 = 0x02;
/// Fixed part of DATA_CHANNEL_OPEN before label and protocol.
const OPEN_HEADER_LEN: usize = 12;

/// How a channel delivers (RFC 8832 §5.1 channel types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reliability {
    /// Every message, retransmitted until acknowledged.
    #[default]
    Reliable,
    /// At most this many retransmissions per message (RFC 3758 partial reliability).
    MaxRetransmits(u32),
    /// Retransmitted for at most this many milliseconds.
    MaxLifetimeMs(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub ordered: bool,
    pub reliability: Reliability,
    pub priority: u16,
    pub label: String,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Ack,
}

impl Open {
    fn channel_type(&self) -> (u8, u32) {
        let (kind, value) = match self.reliability {
            Reliability::Reliable => (0x00, 0),
            Reliability::MaxRetransmits(n) => (0x01, n),
            Reliability::MaxLifetimeMs(ms) => (0x02, ms),
        };
        (if self.ordered { kind } else { kind | 0x80 }, value)
    }

    pub fn write(&self) -> Result<Vec<u8>> {
        let (label, protocol) = (self.label.as_bytes(), self.protocol.as_bytes());
        if label.len() > u16::MAX as usize || protocol.len() > u16::MAX as usize {
            return Err(error::invalid_argument("a data channel label or protocol is longer than 65,535 bytes"));
        }
        let (channel_type, value) = self.channel_type();
        let mut m = Vec::with_capacity(OPEN_HEADER_LEN + label.len() + protocol.len());
        m.push(MSG_OPEN);
        m.push(channel_type);
        m.extend_from_slice(&self.priority.to_be_bytes());
        m.extend_from_slice(&value.to_be_bytes());
        m.extend_from_slice(&(label.len() as u16).to_be_bytes());
        m.extend_from_slice(&(protocol.len() as u16).to_be_bytes());
        m.extend_from_slice(label);
        m.extend_from_slice(protocol);
        Ok(m)
    }
}

pub fn ack() -> [u8; 1] {
    [MSG_ACK]
}

pub fn parse(m: &[u8]) -> Result<Message> {
    match m.first() {
        Some(&MSG_ACK) => Ok(Message::Ack),
        Some(&MSG_OPEN) => {
            if m.len() < OPEN_HEADER_LEN {
                return Err(error::invalid_argument(format!("DATA_CHANNEL_OPEN of {} bytes is truncated", m.len())));
            }
            let channel_type = m[1];
            let priority = u16::from_be_bytes([m[2], m[3]]);
            let value = u32::from_be_bytes([m[4], m[5], m[6], m[7]]);
            let label_len = u16::from_be_bytes([m[8], m[9]]) as usize;
            let protocol_len = u16::from_be_bytes([m[10], m[11]]) as usize;
            let end = OPEN_HEADER_LEN + label_len + protocol_len;
            if m.len() < end {
                return Err(error::invalid_argument("DATA_CHANNEL_OPEN is shorter than its label and protocol lengths"));
            }
            let text = |b: &[u8], what: &str| {
                String::from_utf8(b.to_vec())
                    .map_err(|_| error::invalid_argument(format!("DATA_CHANNEL_OPEN {what} is not UTF-8")))
            };
            let label = text(&m[OPEN_HEADER_LEN..OPEN_HEADER_LEN + label_len], "label")?;
            let protocol = text(&m[OPEN_HEADER_LEN + label_len..end], "protocol")?;
            let reliability = match channel_type & 0x7f {
                0x00 => Reliability::Reliable,
                0x01 => Reliability::MaxRetransmits(value),
                0x02 => Reliability::MaxLifetimeMs(value),
                other => {
                    return Err(error::invalid_argument(format!("DATA_CHANNEL_OPEN has unknown channel type {other:#04x}")))
                }
            };
            Ok(Message::Open(Open { ordered: channel_type & 0x80 == 0, reliability, priority, label, protocol }))
        }
        Some(other) => Err(error::invalid_argument(format!("unknown DCEP message type {other:#04x}"))),
        None => Err(error::invalid_argument("empty DCEP message")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_round_trips_for_every_channel_type() {
        for (ordered, reliability) in [
            (true, Reliability::Reliable),
            (false, Reliability::Reliable),
            (true, Reliability::MaxRetransmits(3)),
            (false, Reliability::MaxLifetimeMs(1500)),
        ] {
            let open = Open { ordered, reliability, priority: 256, label: "chat ✓".into(), protocol: "json".into() };
            let bytes = open.write().unwrap();
            assert_eq!(parse(&bytes).unwrap(), Message::Open(open.clone()));
            // Every truncation is an error, never a panic.
            for cut in 0..bytes.len() {
                assert!(parse(&bytes[..cut]).is_err(), "cut at {cut}");
            }
        }
        assert_eq!(parse(&ack()).unwrap(), Message::Ack);
        // RFC 8832 §5.1 example values: reliable unordered is 0x80.
        let unordered = Open { ordered: false, reliability: Reliability::Reliable, priority: 0, label: String::new(), protocol: String::new() };
        assert_eq!(unordered.write().unwrap()[1], 0x80);
        assert!(parse(&[0x03, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err(), "unknown channel type");
        assert!(parse(&[0x03, 0x00, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0]).is_err(), "label length past the end");
        assert!(parse(&[0x09]).is_err());
    }
}
