//! RTCP (RFC 3550 §6, RFC 4585, RFC 5104), sans-IO: reading and writing the packets
//! (`packets.rs`), the statistics reports carry (`stats.rs`), the per-session engine
//! (`engine.rs`: reports, round-trip time, keyframe requests, NACKs) that
//! `session/feedback.rs` drives, the NACK generator of a received source (`nack.rs`) and the
//! send history that answers NACKs (`history.rs`). Transport-wide feedback is still to come
//! (issue #12).

pub mod bwe;
pub mod engine;
pub mod history;
pub mod nack;
pub mod packets;
pub mod stats;
pub mod twcc;

pub use packets::{parse, Packet, ReportBlock, Writer};
pub use stats::{ntp_now, round_trip, rtp_time_after, ReceiveStats};
