//! RTCP (RFC 3550 §6, RFC 4585, RFC 5104), sans-IO: reading and writing the packets
//! (`packets.rs`) and the statistics reports carry (`stats.rs`). Issue #12 wires them into
//! sessions (report timers, NACK and RTX, keyframe requests); until then sessions send no
//! RTCP of their own and advertise no `a=rtcp-fb`.

pub mod packets;
pub mod stats;

pub use packets::{parse, Packet, ReportBlock, Writer};
pub use stats::{ntp_now, round_trip, ReceiveStats, SendStats};
