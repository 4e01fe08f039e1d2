//! getStats: the session's figures as an RTCStatsReport (`crate::stats`), with the W3C types
//! and member names: `codec`, `outbound-rtp`, `remote-inbound-rtp`, `inbound-rtp`,
//! `remote-outbound-rtp`, `transport`, `candidate-pair`, `local-candidate`,
//! `remote-candidate`, `certificate`, `data-channel`. Only members the library knows are
//! present (no zero stands in for a figure it does not have).

use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{ConnectionState, Session};
use crate::dtls::DtlsRole;
use crate::ice::IceState;
use crate::negotiation::MediaKind;
use crate::sctp::ChannelState;
use crate::stats::Report;

const TRANSPORT_ID: &str = "T01";
const PAIR_ID: &str = "CP01";

fn kind_name(k: MediaKind) -> &'static str {
    k.sdp_name()
}

/// NTP (RFC 3550 §4) to milliseconds since the Unix epoch.
fn ntp_to_unix_ms(ntp: u64) -> f64 {
    let secs = (ntp >> 32) as f64 - 2_208_988_800.0;
    let frac = (ntp & 0xffff_ffff) as f64 / 4_294_967_296.0;
    (secs + frac) * 1000.0
}

/// The fields of a `candidate:` line: foundation, protocol, priority, address, port, type.
fn candidate_fields(c: &str) -> Option<(&str, &str, &str, &str, &str, &str)> {
    let c = c.strip_prefix("a=").unwrap_or(c).strip_prefix("candidate:")?;
    let p: Vec<&str> = c.split_whitespace().collect();
    if p.len() < 8 || p[6] != "typ" {
        return None;
    }
    Some((p[0], p[2], p[3], p[4], p[5], p[7]))
}

impl Session {
    /// The session's statistics as JSON: an object from stats id to an RTCStats object (W3C
    /// webrtc-stats names), the shape of `RTCPeerConnection.getStats()`.
    pub fn get_stats(&self) -> String {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let mut r = Report::new(now_ms);
        self.codec_stats(&mut r);
        self.rtp_stats(&mut r);
        self.transport_stats(&mut r);
        self.channel_stats(&mut r);
        r.to_json()
    }

    fn codec_stats(&self, r: &mut Report) {
        let sig = self.signaling.lock();
        let mut seen = Vec::new();
        for t in sig.transceivers() {
            let Some(n) = &t.current else { continue };
            for c in &n.codecs {
                if seen.contains(&c.payload_type) {
                    continue;
                }
                seen.push(c.payload_type);
                let kind = kind_name(c.codec.kind());
                let s = r.add(format!("CO{}", c.payload_type), "codec");
                s.set("transportId", TRANSPORT_ID)
                    .set("payloadType", c.payload_type as u32)
                    .set("mimeType", format!("{kind}/{}", c.codec.encoding_name()))
                    .set("clockRate", c.codec.clock_rate())
                    .set_opt("channels", c.codec.channels().map(|ch| ch as u32))
                    .set_opt("sdpFmtpLine", c.fmtp.clone());
                if let Some(x) = c.rtx.filter(|x| !seen.contains(x)) {
                    seen.push(x);
                    r.add(format!("CO{x}"), "codec")
                        .set("transportId", TRANSPORT_ID)
                        .set("payloadType", x as u32)
                        .set("mimeType", format!("{kind}/rtx"))
                        .set("clockRate", c.codec.clock_rate())
                        .set("sdpFmtpLine", format!("apt={}", c.payload_type));
                }
            }
        }
    }

    fn rtp_stats(&self, r: &mut Report) {
        let tracks: Vec<_> = {
            let routes = self.routes.read();
            let mut t: Vec<_> = routes.tracks.iter().map(|(id, t)| (*id, std::sync::Arc::clone(t))).collect();
            t.sort_unstable_by_key(|(id, _)| *id);
            t
        };
        let rtcp = self.rtcp.lock();
        let engine = &rtcp.engine;
        for (id, t) in &tracks {
            if !t.negotiated {
                continue;
            }
            let kind = kind_name(t.kind);
            let codec = t.send_codec().map(|(pt, _)| format!("CO{pt}"));
            if t.can_send || t.counters.packets() > 0 {
                let inbound = engine.remote_inbound(t.ssrc);
                let s = r.add(format!("OT{}", t.ssrc), "outbound-rtp");
                s.set("ssrc", t.ssrc)
                    .set("kind", kind)
                    .set("mid", t.mid.clone())
                    .set("trackIdentifier", format!("{id}"))
                    .set("transportId", TRANSPORT_ID)
                    .set_opt("codecId", codec.clone())
                    .set("packetsSent", t.counters.packets())
                    .set("bytesSent", t.counters.octets())
                    .set_opt("remoteId", inbound.map(|_| format!("RI{}", t.ssrc)))
                    .set_opt("rtxSsrc", t.rtx.as_ref().map(|(ssrc, _)| *ssrc));
                if let Some(res) = &t.resend {
                    let res = res.lock();
                    s.set("nackCount", res.nack_count)
                        .set("retransmittedPacketsSent", res.retransmitted_packets)
                        .set("retransmittedBytesSent", res.retransmitted_bytes);
                }
                if let Some(i) = inbound {
                    let clock = t.clock_rate().max(1) as f64;
                    r.add(format!("RI{}", t.ssrc), "remote-inbound-rtp")
                        .set("ssrc", t.ssrc)
                        .set("kind", kind)
                        .set("transportId", TRANSPORT_ID)
                        .set_opt("codecId", codec.clone())
                        .set("localId", format!("OT{}", t.ssrc))
                        .set("packetsLost", i.block.cumulative_lost as i64)
                        .set("fractionLost", i.block.fraction_lost as f64 / 256.0)
                        .set("jitter", i.block.jitter as f64 / clock)
                        .set_opt("roundTripTime", i.round_trip.map(|d| d.as_secs_f64()))
                        .set("reportsReceived", i.reports);
                }
            }
            let mut sources: Vec<_> = engine.remote_sources().filter(|(_, s)| s.track == *id).collect();
            sources.sort_unstable_by_key(|(ssrc, _)| *ssrc);
            for (ssrc, src) in sources {
                let s = r.add(format!("IT{ssrc}"), "inbound-rtp");
                s.set("ssrc", ssrc)
                    .set("kind", kind)
                    .set("mid", t.mid.clone())
                    .set("trackIdentifier", format!("{id}"))
                    .set("transportId", TRANSPORT_ID)
                    .set_opt("codecId", codec.clone())
                    .set("packetsReceived", src.stats.packets_received())
                    .set("packetsLost", src.stats.cumulative_lost())
                    .set("jitter", src.stats.jitter() as f64 / src.stats.clock_rate().max(1) as f64)
                    .set_opt("remoteId", src.sender_report.map(|_| format!("RO{ssrc}")));
                if let Some(f) = self.frame_counters_of_source(ssrc) {
                    // Frames handed over whole, and those given up (incomplete, malformed,
                    // or held back for a keyframe).
                    s.set("framesReceived", f.frames_delivered).set("framesDropped", f.frames_dropped);
                }
                if src.nack.is_some() {
                    s.set("nackCount", src.nacks_sent).set("retransmittedPacketsReceived", src.retransmissions_received);
                }
                if let Some(sr) = src.sender_report {
                    r.add(format!("RO{ssrc}"), "remote-outbound-rtp")
                        .set("ssrc", ssrc)
                        .set("kind", kind)
                        .set("transportId", TRANSPORT_ID)
                        .set_opt("codecId", codec.clone())
                        .set("localId", format!("IT{ssrc}"))
                        .set("packetsSent", sr.packets)
                        .set("bytesSent", sr.octets)
                        .set("remoteTimestamp", ntp_to_unix_ms(sr.ntp))
                        .set("reportsSent", sr.reports);
                }
            }
        }
    }

    fn transport_stats(&self, r: &mut Report) {
        let (state, ice_state, dtls_connected, profile, role, version) = {
            let t = self.transport.lock();
            (t.state, t.ice_state, t.dtls_connected, t.srtp_profile, t.dtls_role, t.dtls_version)
        };
        let dtls_state = match (state, dtls_connected) {
            (ConnectionState::Closed, _) => "closed",
            (ConnectionState::Failed, _) => "failed",
            (_, true) => "connected",
            (ConnectionState::New, false) => "new",
            _ => "connecting",
        };
        let ice = match ice_state {
            IceState::New => "new",
            IceState::Checking => "checking",
            IceState::Connected => "connected",
            IceState::Disconnected => "disconnected",
            IceState::Failed => "failed",
            IceState::Closed => "closed",
        };
        let pair = self.ice.selected_pair();
        let remote_fp = self.remote_fingerprint().ok();
        let s = r.add(TRANSPORT_ID, "transport");
        s.set("dtlsState", dtls_state)
            .set("iceState", ice)
            .set_opt("selectedCandidatePairId", pair.as_ref().map(|_| PAIR_ID))
            .set_opt("srtpCipher", profile.map(|p| p.name()))
            .set_opt("tlsVersion", version.map(|v| if v == "DTLSv1.2" { "FEFD" } else { v }))
            .set_opt("dtlsRole", role.map(|r| if r == DtlsRole::Client { "client" } else { "server" }))
            .set("localCertificateId", "CFlocal")
            .set_opt("remoteCertificateId", remote_fp.as_ref().map(|_| "CFremote"))
            .set("packetsSent", self.stats.rtp_packets_sent.load(Relaxed) + self.stats.rtcp_packets_sent.load(Relaxed))
            .set("packetsReceived", self.stats.rtp_packets_received.load(Relaxed) + self.stats.rtcp_packets_received.load(Relaxed));
        for (id, fp) in [("CFlocal", Some(self.local_fingerprint())), ("CFremote", remote_fp)] {
            let Some(fp) = fp else { continue };
            let (alg, hex) = fp.split_once(' ').unwrap_or(("sha-256", fp.as_str()));
            r.add(id, "certificate").set("fingerprint", hex.to_string()).set("fingerprintAlgorithm", alg.to_string());
        }
        if let Some((local, remote)) = pair {
            let (rtt, estimate) = {
                let st = self.rtcp.lock();
                (st.engine.round_trip(), st.bwe.estimate())
            };
            r.add(PAIR_ID, "candidate-pair")
                .set("transportId", TRANSPORT_ID)
                .set("localCandidateId", "CL01")
                .set("remoteCandidateId", "CR01")
                .set("state", "succeeded")
                .set("nominated", true)
                .set_opt("currentRoundTripTime", rtt.map(|d| d.as_secs_f64()))
                .set_opt("availableOutgoingBitrate", estimate.map(|b| b as f64));
            for (id, kind, c) in [("CL01", "local-candidate", local), ("CR01", "remote-candidate", remote)] {
                let Some((foundation, protocol, priority, address, port, typ)) = candidate_fields(&c) else { continue };
                r.add(id, kind)
                    .set("transportId", TRANSPORT_ID)
                    .set("foundation", foundation)
                    .set("protocol", protocol.to_ascii_lowercase())
                    .set("priority", priority.parse::<u64>().unwrap_or(0))
                    .set("address", address)
                    .set("port", port.parse::<u64>().unwrap_or(0))
                    .set("candidateType", typ);
            }
        }
    }

    fn channel_stats(&self, r: &mut Report) {
        let data = self.data.lock();
        for key in data.keys() {
            let Ok(info) = data.info(key) else { continue };
            let state = match info.state {
                ChannelState::Connecting => "connecting",
                ChannelState::Open => "open",
                ChannelState::Closing => "closing",
                ChannelState::Closed => "closed",
            };
            r.add(format!("DC{key}"), "data-channel")
                .set("label", info.label)
                .set("protocol", info.protocol)
                .set_opt("dataChannelIdentifier", info.stream_id.map(|s| s as u32))
                .set("state", state)
                .set("messagesSent", info.messages_sent)
                .set("bytesSent", info.bytes_sent)
                .set("messagesReceived", info.messages_received)
                .set("bytesReceived", info.bytes_received);
        }
    }
}
