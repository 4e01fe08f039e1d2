//! The signaling state machine (RFC 8829's JSEP, the parts a media endpoint needs): transceivers,
//! offers and answers, rollback, and the negotiated result per m-section.

use super::events::OwnedEvent;
use super::{DtlsRolePreference, SdpType, SignalingState};
use crate::dtls::DtlsRole;
use crate::error::{self, Result};
use crate::negotiation::{
    remote, Codec, DataParams, Direction, LocalDescription, LocalMedia, MediaKind, MediaType, NegotiatedCodec,
    RemoteDescription, SectionKind, Setup,
};
use crate::sctp::DEFAULT_MAX_MESSAGE_SIZE;
use crate::rtcp::twcc::TWCC_URI;
use crate::rtp::MID_EXTENSION_URI;

/// The header extension ids this side uses when it offers (Chromium's numbers).
const MID_EXTENSION_ID: u8 = 4;
const TWCC_EXTENSION_ID: u8 = 3;

#[derive(Debug, Clone)]
pub struct NegotiatedMedia {
    pub codecs: Vec<NegotiatedCodec>,
    /// This side's direction after negotiation.
    pub direction: Direction,
    pub remote_ssrcs: Vec<u32>,
    /// The peer's `ssrc-group:FID` pairs (primary, retransmission).
    pub remote_rtx: Vec<(u32, u32)>,
    pub mid_extension_id: Option<u8>,
    pub twcc_extension_id: Option<u8>,
}

#[derive(Debug, Clone)]
pub struct Transceiver {
    pub id: u32,
    pub kind: MediaKind,
    /// Codecs in this side's order of preference.
    pub codecs: Vec<Codec>,
    /// The direction this side wants.
    pub direction: Direction,
    pub mid: Option<String>,
    pub ssrc: u32,
    /// The SSRC retransmissions go out on when RTX is negotiated.
    pub rtx_ssrc: u32,
    track_label: String,
    /// Added by the host (true) or created for a remote offer's section (false).
    has_sender: bool,
    pub current: Option<NegotiatedMedia>,
    announced: bool,
}

/// The data channel m-section, wanted once the host creates a channel or the peer offers one.
#[derive(Debug, Clone, Default)]
pub struct DataSection {
    pub mid: Option<String>,
    /// Its index among the m-sections, fixed by the first description that had it.
    position: Option<usize>,
    /// The peer's parameters once offer and answer agreed on the section.
    pub current: Option<DataParams>,
    /// Why the section was not agreed (rejected by the peer, or a port we cannot use).
    pub refused: Option<String>,
}

#[derive(Clone, Copy)]
pub struct TransportStart {
    pub dtls_role: DtlsRole,
    pub ice_controlling: bool,
}

/// What applying a description asks the session to do next.
#[derive(Default)]
pub struct Outcome {
    pub events: Vec<OwnedEvent>,
    pub gather: bool,
    pub add_remote_candidates: bool,
    pub start_transport: Option<TransportStart>,
    /// Data channels agreed: the peer's SCTP parameters.
    pub data: Option<DataParams>,
    /// The data section was refused: channels waiting for it fail with this reason.
    pub data_refused: Option<String>,
}

struct Pending {
    kind: SdpType,
    description: LocalDescription,
    /// For an answer: the negotiated result per transceiver id, applied by set_local.
    negotiated: Vec<(u32, Option<NegotiatedMedia>)>,
    /// For an answer: what it says of the data section.
    data: Option<DataSection>,
    dtls_role: Option<DtlsRole>,
}

#[derive(Clone)]
struct Snapshot {
    transceivers: Vec<Transceiver>,
    local: Option<LocalDescription>,
    remote: Option<(RemoteDescription, String)>,
    data: Option<DataSection>,
}

pub struct Signaling {
    /// Our offers are max-bundle (`LocalDescription::bundle_only`).
    pub max_bundle: bool,
    /// Keyframe-request feedback (`nack pli`, `ccm fir`) is advertised and answered.
    pub keyframe_feedback: bool,
    /// Generic NACK (`nack`) and RTX are advertised and answered.
    pub nack: bool,
    /// Transport-wide feedback (`transport-cc` and its header extension).
    pub transport_cc: bool,
    state: SignalingState,
    transceivers: Vec<Transceiver>,
    next_id: u32,
    next_mid: u32,
    session_id: u64,
    version: u64,
    ice_ufrag: String,
    ice_pwd: String,
    fingerprint: String,
    cname: String,
    stream_id: String,
    pending: Option<Pending>,
    local: Option<LocalDescription>,
    remote: Option<(RemoteDescription, String)>,
    snapshot: Option<Snapshot>,
    dtls_role: Option<DtlsRole>,
    data: Option<DataSection>,
}

pub(super) fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = openssl::rand::rand_bytes(&mut b);
    u32::from_be_bytes(b)
}

fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = vec![0u8; len];
    let _ = openssl::rand::rand_bytes(&mut b);
    b.iter().map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char).collect()
}

fn state_name(s: SignalingState) -> &'static str {
    match s {
        SignalingState::Stable => "stable",
        SignalingState::HaveLocalOffer => "have-local-offer",
        SignalingState::HaveRemoteOffer => "have-remote-offer",
        SignalingState::Closed => "closed",
    }
}

/// SDP text without candidate lines and line-ending differences, for comparing descriptions.
fn normalized(sdp: &str) -> Vec<&str> {
    sdp.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with("a=candidate") && !l.starts_with("a=end-of-candidates"))
        .collect()
}

impl Signaling {
    /// The CNAME this session's SDES and `a=ssrc` lines carry.
    pub fn cname(&self) -> &str {
        &self.cname
    }

    pub fn new(ice_ufrag: &str, ice_pwd: &str, fingerprint: String) -> Self {
        Signaling {
            max_bundle: false,
            keyframe_feedback: true,
            nack: true,
            transport_cc: true,
            state: SignalingState::Stable,
            transceivers: Vec::new(),
            next_id: 1,
            next_mid: 0,
            session_id: (random_u32() as u64) << 20 | random_u32() as u64 & 0xfffff,
            version: 1,
            ice_ufrag: ice_ufrag.to_string(),
            ice_pwd: ice_pwd.to_string(),
            fingerprint,
            cname: random_token(16),
            stream_id: random_token(12),
            pending: None,
            local: None,
            remote: None,
            snapshot: None,
            dtls_role: None,
            data: None,
        }
    }

    pub fn state(&self) -> SignalingState {
        self.state
    }
    pub fn transceivers(&self) -> &[Transceiver] {
        &self.transceivers
    }
    pub fn transceiver(&self, id: u32) -> Option<&Transceiver> {
        self.transceivers.iter().find(|t| t.id == id)
    }
    pub fn local_description(&self) -> Option<&LocalDescription> {
        self.local.as_ref()
    }
    pub fn remote_description(&self) -> Option<&RemoteDescription> {
        self.remote.as_ref().map(|(d, _)| d)
    }
    pub fn remote_text(&self) -> Option<&str> {
        self.remote.as_ref().map(|(_, t)| t.as_str())
    }
    /// The mid of the first m-section (the one candidates are signalled with).
    pub fn first_mid(&self) -> Option<String> {
        let described = self.local.as_ref().or(self.pending.as_ref().map(|p| &p.description));
        described
            .and_then(|d| d.media.iter().find(|m| !matches!(m.kind, SectionKind::Rejected { .. })).map(|m| m.mid.clone()))
            .or_else(|| self.transceivers.iter().find_map(|t| t.mid.clone()))
            .or_else(|| self.data.as_ref().and_then(|d| d.mid.clone()))
    }

    /// Asks for a data channel section in the next offer (idempotent).
    pub fn want_data(&mut self) {
        self.data.get_or_insert_with(DataSection::default);
    }


    pub fn close(&mut self) -> bool {
        let changed = self.state != SignalingState::Closed;
        self.state = SignalingState::Closed;
        changed
    }

    fn check_state(&self, allowed: &[SignalingState], what: &str) -> Result<()> {
        if allowed.contains(&self.state) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|s| state_name(*s)).collect();
        Err(error::invalid_state(format!(
            "{what} needs signaling state {}, but the session is in {}",
            names.join(" or "),
            state_name(self.state)
        )))
    }

    pub fn add_track(&mut self, kind: MediaKind, codecs: &[Codec], direction: Direction) -> Result<u32> {
        self.check_state(&[SignalingState::Stable, SignalingState::HaveRemoteOffer], "add_track")?;
        // A section the remote offered that nothing sends on yet takes the track (as
        // RTCPeerConnection.addTrack reuses such a transceiver), so the answer can send.
        if let Some(t) = self.transceivers.iter_mut().find(|t| !t.has_sender && t.kind == kind) {
            t.has_sender = true;
            t.codecs = codecs.to_vec();
            t.direction = direction;
            return Ok(t.id);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.transceivers.push(Transceiver {
            id,
            kind,
            codecs: codecs.to_vec(),
            direction,
            mid: None,
            ssrc: random_u32(),
            rtx_ssrc: random_u32(),
            track_label: format!("{}-{id}", kind.sdp_name()),
            has_sender: true,
            current: None,
            announced: false,
        });
        Ok(id)
    }

    fn new_mid(&mut self) -> String {
        loop {
            let mid = self.next_mid.to_string();
            self.next_mid += 1;
            let data_mid = self.data.as_ref().and_then(|d| d.mid.as_deref());
            if !self.transceivers.iter().any(|t| t.mid.as_deref() == Some(&mid)) && data_mid != Some(mid.as_str()) {
                return mid;
            }
        }
    }

    fn description(&mut self, setup: Setup, media: Vec<LocalMedia>) -> LocalDescription {
        self.version += 1;
        LocalDescription {
            session_id: self.session_id,
            session_version: self.version,
            ice_ufrag: self.ice_ufrag.clone(),
            ice_pwd: self.ice_pwd.clone(),
            fingerprint: self.fingerprint.clone(),
            setup,
            cname: self.cname.clone(),
            media,
            bundle_only: false,
        }
    }

    pub fn create_offer(&mut self) -> Result<LocalDescription> {
        self.check_state(&[SignalingState::Stable, SignalingState::HaveLocalOffer], "create_offer")?;
        if self.transceivers.is_empty() && self.data.is_none() {
            return Err(error::invalid_state(
                "create_offer needs at least one track or data channel: call add_track or create_data_channel first",
            ));
        }
        for i in 0..self.transceivers.len() {
            if self.transceivers[i].mid.is_none() {
                let mid = self.new_mid();
                self.transceivers[i].mid = Some(mid);
            }
        }
        if self.data.as_ref().is_some_and(|d| d.mid.is_none()) {
            let mid = self.new_mid();
            let position = self.transceivers.len();
            let d = self.data.as_mut().expect("checked");
            d.mid = Some(mid);
            d.position.get_or_insert(position);
        }
        let mut media: Vec<LocalMedia> = self
            .transceivers
            .iter()
            .map(|t| LocalMedia {
                mid: t.mid.clone().unwrap_or_default(),
                kind: SectionKind::Rtp(t.kind),
                direction: t.direction,
                codecs: match &t.current {
                    Some(n) if !n.codecs.is_empty() => n.codecs.clone(),
                    _ => t
                        .codecs
                        .iter()
                        .map(|c| {
                            let mut n = NegotiatedCodec::local_default(*c);
                            n.feedback.retain(|f| self.feedback_on(f));
                            if !self.nack {
                                n.rtx = None;
                            }
                            n
                        })
                        .collect(),
                },
                mid_extension_id: Some(t.current.as_ref().and_then(|n| n.mid_extension_id).unwrap_or(MID_EXTENSION_ID)),
                twcc_extension_id: match &t.current {
                    Some(n) => n.twcc_extension_id,
                    None => self.transport_cc.then_some(TWCC_EXTENSION_ID),
                },
                ssrc: Some(t.ssrc),
                rtx_ssrc: Some(t.rtx_ssrc),
                msid: (self.stream_id.clone(), t.track_label.clone()),
            })
            .collect();
        if let Some(data) = &self.data {
            let at = data.position.unwrap_or(media.len()).min(media.len());
            media.insert(at, self.data_media(data.mid.clone().unwrap_or_default()));
        }
        let mut d = self.description(Setup::ActPass, media);
        d.bundle_only = self.max_bundle;
        self.pending = Some(Pending { kind: SdpType::Offer, description: d.clone(), negotiated: vec![], data: None, dtls_role: None });
        Ok(d)
    }

    fn data_media(&self, mid: String) -> LocalMedia {
        LocalMedia {
            mid,
            kind: SectionKind::Data { max_message_size: DEFAULT_MAX_MESSAGE_SIZE },
            direction: Direction::SendRecv,
            codecs: vec![],
            mid_extension_id: None,
            twcc_extension_id: None,
            ssrc: None,
            rtx_ssrc: None,
            msid: (self.stream_id.clone(), String::new()),
        }
    }

    /// Whether this side advertises and answers the feedback `fb`.
    fn feedback_on(&self, fb: &str) -> bool {
        match fb {
            "nack" => self.nack,
            "nack pli" | "ccm fir" => self.keyframe_feedback,
            "transport-cc" | "goog-remb" => self.transport_cc,
            _ => false,
        }
    }

    pub fn create_answer(&mut self, preference: DtlsRolePreference) -> Result<LocalDescription> {
        self.check_state(&[SignalingState::HaveRemoteOffer], "create_answer")?;
        let (offer, _) = self.remote.clone().ok_or_else(|| error::invalid_state("no remote offer"))?;
        let role = self.dtls_role.unwrap_or(match (offer.setup, preference) {
            (Setup::Active, _) => DtlsRole::Server,
            (Setup::Passive, _) => DtlsRole::Client,
            (Setup::ActPass, DtlsRolePreference::Server) => DtlsRole::Server,
            (Setup::ActPass, _) => DtlsRole::Client,
        });
        let setup = if role == DtlsRole::Client { Setup::Active } else { Setup::Passive };
        let mut media = Vec::with_capacity(offer.media.len());
        let mut negotiated = Vec::new();
        let mut data_answer = self.data.clone();
        for rm in &offer.media {
            if let (Some(params), Some(data)) = (rm.data, data_answer.as_mut()) {
                if data.mid.as_deref() == Some(rm.mid.as_str()) {
                    let usable = !rm.rejected && params.sctp_port == 5000;
                    if usable {
                        data.current = Some(params);
                        data.refused = None;
                        media.push(self.data_media(rm.mid.clone()));
                        continue;
                    }
                    data.current = None;
                    data.refused = Some(if rm.rejected {
                        "the peer rejected the data channel section".to_string()
                    } else {
                        format!("the peer's a=sctp-port:{} is not 5000, the only port this library speaks", params.sctp_port)
                    });
                }
            }
            let t = self.transceivers.iter().find(|t| t.mid.as_deref() == Some(rm.mid.as_str()));
            let result = match (t, rm.rejected) {
                (Some(t), false) => answer_section(t, rm, |f| self.feedback_on(f), self.nack, self.transport_cc),
                _ => None,
            };
            match (t, result) {
                (Some(t), Some(n)) => {
                    media.push(LocalMedia {
                        mid: rm.mid.clone(),
                        kind: SectionKind::Rtp(t.kind),
                        direction: n.direction,
                        codecs: n.codecs.clone(),
                        mid_extension_id: n.mid_extension_id,
                        twcc_extension_id: n.twcc_extension_id,
                        ssrc: Some(t.ssrc),
                        rtx_ssrc: Some(t.rtx_ssrc),
                        msid: (self.stream_id.clone(), t.track_label.clone()),
                    });
                    negotiated.push((t.id, Some(n)));
                }
                (t, _) => {
                    if let Some(t) = t {
                        negotiated.push((t.id, None));
                    }
                    let media_name = match &rm.media_type {
                        MediaType::Audio => "audio".to_string(),
                        MediaType::Video => "video".to_string(),
                        MediaType::Other(o) => o.clone(),
                    };
                    media.push(LocalMedia {
                        mid: rm.mid.clone(),
                        kind: SectionKind::Rejected {
                            media: media_name,
                            protocol: rm.protocol.clone(),
                            formats: rm.formats.clone(),
                        },
                        direction: Direction::Inactive,
                        codecs: vec![],
                        mid_extension_id: None,
                        twcc_extension_id: None,
                        ssrc: None,
                        rtx_ssrc: None,
                        msid: (self.stream_id.clone(), String::new()),
                    });
                }
            }
        }
        let d = self.description(setup, media);
        self.pending =
            Some(Pending { kind: SdpType::Answer, description: d.clone(), negotiated, data: data_answer, dtls_role: Some(role) });
        Ok(d)
    }

    pub fn set_local(&mut self, kind: SdpType, sdp: Option<&str>) -> Result<Outcome> {
        if kind == SdpType::Rollback {
            return self.rollback(SignalingState::HaveLocalOffer);
        }
        let (allowed, what): (&[SignalingState], _) = match kind {
            SdpType::Offer => (&[SignalingState::Stable, SignalingState::HaveLocalOffer], "set_local_description(offer)"),
            _ => (&[SignalingState::HaveRemoteOffer], "set_local_description(answer)"),
        };
        self.check_state(allowed, what)?;
        let pending = match &self.pending {
            Some(p) if p.kind == kind => p,
            _ => {
                return Err(error::invalid_state(format!(
                    "{what} needs the description from {} first",
                    if kind == SdpType::Offer { "create_offer" } else { "create_answer" }
                )))
            }
        };
        if let Some(text) = sdp {
            let ours = pending.description.render(&[], false);
            if normalized(text) != normalized(&ours) {
                return Err(error::invalid_argument(format!(
                    "{what}: the description differs from the one {} returned; SDP munging is not supported",
                    if kind == SdpType::Offer { "create_offer" } else { "create_answer" }
                )));
            }
        }
        let pending = self.pending.take().expect("checked above");
        let mut out = Outcome { gather: true, ..Default::default() };
        match kind {
            SdpType::Offer => {
                if self.state == SignalingState::Stable {
                    self.snapshot = Some(self.take_snapshot());
                }
                self.local = Some(pending.description);
                self.state = SignalingState::HaveLocalOffer;
            }
            _ => {
                for (id, n) in pending.negotiated {
                    if let Some(t) = self.transceivers.iter_mut().find(|t| t.id == id) {
                        t.current = n;
                    }
                }
                if let Some(data) = pending.data {
                    out.data = data.current;
                    out.data_refused = data.refused.clone();
                    self.data = Some(data);
                }
                let role = pending.dtls_role.expect("answers carry a role");
                self.dtls_role = Some(role);
                self.local = Some(pending.description);
                self.state = SignalingState::Stable;
                self.snapshot = None;
                let lite = self.remote_description().map(|r| r.ice_lite).unwrap_or(false);
                out.start_transport = Some(TransportStart { dtls_role: role, ice_controlling: lite });
                self.announce_tracks(&mut out);
            }
        }
        out.events.insert(0, OwnedEvent::SignalingState(self.state));
        Ok(out)
    }

    fn announce_tracks(&mut self, out: &mut Outcome) {
        for t in self.transceivers.iter_mut() {
            if let (Some(n), Some(mid), false) = (&t.current, &t.mid, t.announced) {
                if n.direction.receives() {
                    t.announced = true;
                    out.events.push(OwnedEvent::Track { track: t.id, kind: t.kind, mid: mid.clone() });
                }
            }
        }
    }

    pub fn set_remote(&mut self, kind: SdpType, text: &str) -> Result<Outcome> {
        if kind == SdpType::Rollback {
            return self.rollback(SignalingState::HaveRemoteOffer);
        }
        let what = if kind == SdpType::Offer { "set_remote_description(offer)" } else { "set_remote_description(answer)" };
        match kind {
            SdpType::Offer => self.check_state(&[SignalingState::Stable, SignalingState::HaveRemoteOffer], what)?,
            _ => self.check_state(&[SignalingState::HaveLocalOffer], what)?,
        }
        let rd = remote::parse(text)?;
        if let Some(prev) = self.remote_description() {
            if prev.ice_ufrag != rd.ice_ufrag || prev.ice_pwd != rd.ice_pwd {
                return Err(error::unsupported("the new description changes ice-ufrag/ice-pwd: ICE restart is not supported"));
            }
            if prev.fingerprint != rd.fingerprint {
                return Err(error::unsupported("the new description changes the DTLS fingerprint: DTLS restart is not supported"));
            }
        }
        let mut out = Outcome { add_remote_candidates: true, ..Default::default() };
        match kind {
            SdpType::Offer => {
                if self.state == SignalingState::HaveRemoteOffer {
                    self.restore_snapshot();
                }
                let snapshot = self.take_snapshot();
                self.associate_offer(&rd)?;
                self.snapshot = Some(snapshot);
                self.remote = Some((rd, text.to_string()));
                self.pending = None;
                self.state = SignalingState::HaveRemoteOffer;
            }
            _ => {
                let role = self.apply_answer(&rd)?;
                if let Some(data) = &self.data {
                    out.data = data.current;
                    out.data_refused = data.refused.clone();
                }
                self.remote = Some((rd, text.to_string()));
                self.state = SignalingState::Stable;
                self.snapshot = None;
                self.pending = None;
                out.start_transport = Some(TransportStart { dtls_role: role, ice_controlling: true });
                self.announce_tracks(&mut out);
            }
        }
        out.events.insert(0, OwnedEvent::SignalingState(self.state));
        Ok(out)
    }

    /// Binds each offered audio/video section to a transceiver: the one with its mid, else one
    /// the host added that has no mid yet, else a new receive-only one.
    fn associate_offer(&mut self, rd: &RemoteDescription) -> Result<()> {
        for (index, rm) in rd.media.iter().enumerate() {
            if rm.rejected || rm.data.is_none() {
                continue;
            }
            // The first data section offered is the association's (a second one is rejected).
            let data = self.data.get_or_insert_with(DataSection::default);
            match &data.mid {
                None => {
                    data.mid = Some(rm.mid.clone());
                    data.position = Some(index);
                }
                Some(m) if *m == rm.mid => {}
                Some(_) => {}
            }
            break;
        }
        for rm in rd.media.iter().filter(|m| !m.rejected) {
            let kind = match rm.media_type {
                MediaType::Audio => MediaKind::Audio,
                MediaType::Video => MediaKind::Video,
                MediaType::Other(_) => continue,
            };
            if let Some(t) = self.transceivers.iter().find(|t| t.mid.as_deref() == Some(rm.mid.as_str())) {
                if t.kind != kind {
                    return Err(error::invalid_sdp(format!("m-section {} changed from {} to {}", rm.mid, t.kind.sdp_name(), kind.sdp_name())));
                }
                continue;
            }
            if let Some(t) = self.transceivers.iter_mut().find(|t| t.mid.is_none() && t.kind == kind) {
                t.mid = Some(rm.mid.clone());
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.transceivers.push(Transceiver {
                id,
                kind,
                codecs: Codec::ALL.iter().copied().filter(|c| c.kind() == kind).collect(),
                direction: Direction::RecvOnly,
                mid: Some(rm.mid.clone()),
                ssrc: random_u32(),
                rtx_ssrc: random_u32(),
                track_label: format!("{}-{id}", kind.sdp_name()),
                has_sender: false,
                current: None,
                announced: false,
            });
        }
        Ok(())
    }

    fn apply_answer(&mut self, rd: &RemoteDescription) -> Result<DtlsRole> {
        let offer = self.local.as_ref().ok_or_else(|| error::invalid_state("no local offer"))?;
        if rd.media.len() != offer.media.len() {
            return Err(error::invalid_sdp(format!(
                "the answer has {} m-sections but the offer had {}",
                rd.media.len(),
                offer.media.len()
            )));
        }
        for (i, (rm, lm)) in rd.media.iter().zip(&offer.media).enumerate() {
            if !rm.rejected && rm.mid != lm.mid {
                return Err(error::invalid_sdp(format!("answer m-section {i} has mid '{}', the offer's is '{}'", rm.mid, lm.mid)));
            }
        }
        let role = match rd.setup {
            Setup::Active => DtlsRole::Server,
            Setup::Passive => DtlsRole::Client,
            Setup::ActPass => return Err(error::invalid_sdp("an answer must say a=setup:active or passive, not actpass")),
        };
        if self.dtls_role.is_some_and(|r| r != role) {
            return Err(error::unsupported("the answer changes the DTLS role: DTLS restart is not supported"));
        }
        let mut data_result = None;
        for (rm, lm) in rd.media.iter().zip(&offer.media) {
            if matches!(lm.kind, SectionKind::Data { .. }) {
                data_result = Some(match rm.data {
                    Some(p) if !rm.rejected && p.sctp_port == 5000 => (Some(p), None),
                    Some(p) if !rm.rejected => (None, Some(format!("the peer's a=sctp-port:{} is not 5000, the only port this library speaks", p.sctp_port))),
                    _ => (None, Some("the peer rejected the data channel section".to_string())),
                });
            }
        }
        let mut results = Vec::new();
        for (rm, lm) in rd.media.iter().zip(&offer.media) {
            let Some(t) = self.transceivers.iter().find(|t| t.mid.as_deref() == Some(lm.mid.as_str())) else { continue };
            if rm.rejected {
                results.push((t.id, None));
                continue;
            }
            let mut codecs = Vec::new();
            for rc in &rm.codecs {
                if let Some(ours) = lm.codecs.iter().find(|c| c.payload_type == rc.payload_type) {
                    if ours.codec.encoding_name().eq_ignore_ascii_case(&rc.name) {
                        codecs.push(NegotiatedCodec {
                            codec: ours.codec,
                            payload_type: rc.payload_type,
                            fmtp: rc.fmtp.clone().or_else(|| ours.fmtp.clone()),
                            feedback: rc.feedback.iter().filter(|f| ours.feedback.contains(f)).cloned().collect(),
                            // RTX as offered, if the answer kept it for this codec.
                            rtx: ours.rtx.and(rm.rtx_for(rc.payload_type)),
                        });
                    }
                }
            }
            if codecs.is_empty() {
                return Err(error::invalid_sdp(format!("the answer's m-section {} accepts none of the offered codecs", rm.mid)));
            }
            let direction = Direction::from_flags(
                lm.direction.sends() && rm.direction.receives(),
                lm.direction.receives() && rm.direction.sends(),
            );
            results.push((
                t.id,
                Some(NegotiatedMedia {
                    codecs,
                    direction,
                    remote_ssrcs: rm.ssrcs.clone(),
                    remote_rtx: rm.rtx_ssrcs.clone(),
                    mid_extension_id: rm.extmap_id(MID_EXTENSION_URI),
                    twcc_extension_id: lm.twcc_extension_id.and(rm.extmap_id(TWCC_URI)),
                }),
            ));
        }
        for (id, n) in results {
            if let Some(t) = self.transceivers.iter_mut().find(|t| t.id == id) {
                t.current = n;
            }
        }
        if let (Some((current, refused)), Some(data)) = (data_result, self.data.as_mut()) {
            data.current = current;
            data.refused = refused;
        }
        self.dtls_role = Some(role);
        Ok(role)
    }

    fn take_snapshot(&self) -> Snapshot {
        Snapshot {
            transceivers: self.transceivers.clone(),
            local: self.local.clone(),
            remote: self.remote.clone(),
            data: self.data.clone(),
        }
    }

    fn restore_snapshot(&mut self) {
        if let Some(s) = self.snapshot.take() {
            self.transceivers = s.transceivers;
            self.local = s.local;
            self.remote = s.remote;
            self.data = s.data;
        }
    }

    fn rollback(&mut self, from: SignalingState) -> Result<Outcome> {
        if self.state != from {
            return Err(error::invalid_state(format!(
                "rollback of a {} description needs signaling state {}, but the session is in {}",
                if from == SignalingState::HaveLocalOffer { "local" } else { "remote" },
                state_name(from),
                state_name(self.state)
            )));
        }
        self.restore_snapshot();
        self.pending = None;
        self.state = SignalingState::Stable;
        Ok(Outcome { events: vec![OwnedEvent::SignalingState(self.state)], ..Default::default() })
    }
}

/// This side's answer to one offered section, or None when no codec is in common.
fn answer_section(
    t: &Transceiver,
    rm: &remote::RemoteMedia,
    feedback: impl Fn(&str) -> bool,
    rtx: bool,
    transport_cc: bool,
) -> Option<NegotiatedMedia> {
    let mut codecs: Vec<NegotiatedCodec> = Vec::new();
    for ours in &t.codecs {
        // The first matching format, but for H.264 one with packetization mode 1 (STAP-A and
        // FU-A) before mode 0 (single NAL units only) when the offer has both.
        let mut matching = rm.codecs.iter().filter(|rc| ours.matches(&rc.name, rc.clock_rate, rc.channels, rc.fmtp.as_deref()));
        let found = match ours {
            Codec::H264 => {
                let all: Vec<_> = matching.collect();
                all.iter().find(|rc| crate::negotiation::h264_packetization_mode(rc.fmtp.as_deref()) == 1).or(all.first()).copied()
            }
            _ => matching.next(),
        };
        if let Some(rc) = found {
            codecs.push(NegotiatedCodec {
                codec: *ours,
                payload_type: rc.payload_type,
                fmtp: ours.answer_fmtp(rc.fmtp.as_deref()),
                feedback: rc.feedback.iter().filter(|f| feedback(f) && ours.feedback().contains(&f.as_str())).cloned().collect(),
                rtx: rm.rtx_for(rc.payload_type).filter(|_| rtx && ours.kind() == MediaKind::Video),
            });
        }
    }
    if codecs.is_empty() {
        return None;
    }
    Some(NegotiatedMedia {
        codecs,
        direction: Direction::from_flags(
            t.direction.sends() && rm.direction.receives(),
            t.direction.receives() && rm.direction.sends(),
        ),
        remote_ssrcs: rm.ssrcs.clone(),
        remote_rtx: rm.rtx_ssrcs.clone(),
        mid_extension_id: rm.extmap_id(MID_EXTENSION_URI),
        twcc_extension_id: rm.extmap_id(TWCC_URI).filter(|_| transport_cc),
    })
}
