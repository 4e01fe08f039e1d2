// webrtc_session.hpp: a thin C++17 RAII layer over webrtc_session.h (header only).
// Errors become wrs::error exceptions with the library's message; sessions and configs are
// released by their destructors; callbacks are std::function (an exception thrown by one is
// swallowed at the C boundary, which it must never cross).
// SPDX-License-Identifier: MIT OR Apache-2.0
#ifndef WEBRTC_SESSION_HPP
#define WEBRTC_SESSION_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "webrtc_session.h"

namespace wrs {

struct error : std::runtime_error {
    wrs_result code;
    error(wrs_result c, const char *message) : std::runtime_error(message), code(c) {}
};

inline void check(wrs_result r) {
    if (r != WRS_RESULT_OK) throw error(r, wrs_last_error_message());
}

/// Copies and releases a string the library allocated.
inline std::string take(char *s) {
    std::string out(s ? s : "");
    wrs_string_free(s);
    return out;
}

/// The library version ("MAJOR.MINOR.PATCH").
inline std::string version() { return wrs_version(); }
/// The name of a result code ("WRS_RESULT_...").
inline std::string result_name(wrs_result r) { return wrs_result_name(r); }
/// Stops the library's runtime (after every session is freed; optional at exit).
inline void shutdown() { wrs_shutdown(); }

/// The library's log messages, process-wide (level, area, message), from library threads.
using log_fn = std::function<void(wrs_log_level, wrs_log_area, const char *message)>;
namespace detail {
inline log_fn *&log_handler() {
    static log_fn *h = nullptr;
    return h;
}
inline void log_trampoline(void *ud, wrs_log_level l, wrs_log_area a, const char *m) noexcept {
    try { (*static_cast<log_fn *>(ud))(l, a, m); } catch (...) {}
}
}  // namespace detail
/// Sets (or with an empty function clears) the log handler. The previous handler is kept
/// alive (never freed) since a library thread may still be inside it.
inline void set_log_handler(log_fn f, wrs_log_level max_level = WRS_LOG_LEVEL_INFO) {
    if (!f) {
        check(wrs_set_log_callback(nullptr, nullptr, max_level));
        return;
    }
    auto *h = new log_fn(std::move(f));
    check(wrs_set_log_callback(&detail::log_trampoline, h, max_level));
    detail::log_handler() = h;
}

class config {
  public:
    config() {
        wrs_config *c = nullptr;
        check(wrs_config_new(&c));
        c_.reset(c);
    }
    config &local_address(const std::string &ip) { check(wrs_config_add_local_address(get(), ip.c_str())); return *this; }
    config &ice_server(const std::string &url) { check(wrs_config_add_ice_server(get(), url.c_str())); return *this; }
    config &port_range(uint16_t lo, uint16_t hi) { check(wrs_config_set_port_range(get(), lo, hi)); return *this; }
    config &shared_port(uint16_t port) { check(wrs_config_set_shared_port(get(), port)); return *this; }
    config &dtls_role(wrs_dtls_role r) { check(wrs_config_set_dtls_role(get(), r)); return *this; }
    config &bundle_policy(wrs_bundle_policy p) { check(wrs_config_set_bundle_policy(get(), p)); return *this; }
    config &max_remote_candidates(uint32_t n) { check(wrs_config_set_max_remote_candidates(get(), n)); return *this; }
    config &certificate_pem(const std::string &cert, const std::string &key) {
        check(wrs_config_set_certificate_pem(get(), cert.c_str(), key.c_str()));
        return *this;
    }
    config &certificate_pem_files(const std::string &cert_path, const std::string &key_path) {
        check(wrs_config_set_certificate_pem_files(get(), cert_path.c_str(), key_path.c_str()));
        return *this;
    }
    config &srtp_profiles(const std::vector<wrs_srtp_profile> &profiles) {
        std::vector<uint32_t> list(profiles.begin(), profiles.end());
        check(wrs_config_set_srtp_profiles(get(), list.data(), list.size()));
        return *this;
    }
    config &ice_timeouts(uint32_t disconnected_ms, uint32_t failed_ms, uint32_t keepalive_ms) {
        check(wrs_config_set_ice_timeouts(get(), disconnected_ms, failed_ms, keepalive_ms));
        return *this;
    }
    config &rtcp_reports(bool on) { check(wrs_config_set_rtcp_reports(get(), on)); return *this; }
    config &keyframe_requests(bool on) { check(wrs_config_set_keyframe_requests(get(), on)); return *this; }
    config &nack(bool on) { check(wrs_config_set_nack(get(), on)); return *this; }
    config &nack_history(uint32_t packets, uint32_t max_age_ms) { check(wrs_config_set_nack_history(get(), packets, max_age_ms)); return *this; }
    config &transport_cc(bool on) { check(wrs_config_set_transport_cc(get(), on)); return *this; }
    /// Pace send_frame at `bitrate_bps` (0: 2.5 x the bandwidth estimate).
    config &pacer(uint64_t bitrate_bps) { check(wrs_config_set_pacer(get(), true, bitrate_bps)); return *this; }
    /// Frame delivery's jitter buffers: wait for a missing packet, video waits for a keyframe.
    config &jitter_buffer(uint32_t latency_ms, bool keyframe_after_loss = true) {
        check(wrs_config_set_jitter_buffer(get(), latency_ms, keyframe_after_loss));
        return *this;
    }
    config &bandwidth_estimate(uint64_t start_bps, uint64_t min_bps, uint64_t max_bps) {
        check(wrs_config_set_bandwidth_estimate(get(), start_bps, min_bps, max_bps));
        return *this;
    }
    wrs_config *get() const { return c_.get(); }

  private:
    struct deleter { void operator()(wrs_config *c) const { wrs_config_free(c); } };
    std::unique_ptr<wrs_config, deleter> c_;
};

/// Options of a new data channel (RTCDataChannelInit).
struct data_channel_init {
    bool ordered = true;
    std::optional<uint16_t> max_retransmits;
    std::optional<uint16_t> max_packet_life_time;
    std::optional<uint16_t> negotiated_id;
    std::string protocol;
    std::optional<uint16_t> priority;
};

/// A data channel (RTCDataChannel). Owned through std::shared_ptr (the session hands out
/// shared pointers); the handle is released when the last one goes, after which none of its
/// callbacks runs.
class data_channel {
  public:
    using message_fn = std::function<void(const uint8_t *data, size_t len, bool is_text)>;
    using event_fn = std::function<void()>;
    using error_fn = std::function<void(const std::string &message)>;

    /// Takes ownership of `c`.
    explicit data_channel(wrs_data_channel *c) : handlers_(std::make_unique<handlers>()), c_(c) {}

    void on_open(event_fn f) { handlers_->open = std::move(f); check(wrs_data_channel_on_open(get(), &open_tramp, handlers_.get())); }
    void on_close(event_fn f) { handlers_->close = std::move(f); check(wrs_data_channel_on_close(get(), &close_tramp, handlers_.get())); }
    void on_buffered_amount_low(event_fn f) {
        handlers_->low = std::move(f);
        check(wrs_data_channel_on_buffered_amount_low(get(), &low_tramp, handlers_.get()));
    }
    void on_message(message_fn f) {
        handlers_->message = std::move(f);
        check(wrs_data_channel_on_message(get(), &message_tramp, handlers_.get()));
    }
    void on_error(error_fn f) { handlers_->error = std::move(f); check(wrs_data_channel_on_error(get(), &error_tramp, handlers_.get())); }

    void send(const uint8_t *data, size_t len) { check(wrs_data_channel_send(get(), data, len)); }
    void send(const std::vector<uint8_t> &data) { send(data.data(), data.size()); }
    /// A string message (UTF-8, no NUL inside).
    void send_text(const std::string &text) { check(wrs_data_channel_send_text(get(), text.c_str())); }
    void close() { check(wrs_data_channel_close(get())); }

    wrs_data_channel_state state() const {
        wrs_data_channel_state st = WRS_DATA_CHANNEL_STATE_CLOSED;
        check(wrs_data_channel_ready_state(get(), &st));
        return st;
    }
    std::string label() const { char *s = nullptr; check(wrs_data_channel_label(get(), &s)); return take(s); }
    std::string protocol() const { char *s = nullptr; check(wrs_data_channel_protocol(get(), &s)); return take(s); }
    /// The SCTP stream id, once known.
    std::optional<uint16_t> id() const {
        uint16_t v = 0;
        wrs_result r = wrs_data_channel_id(get(), &v);
        if (r == WRS_RESULT_NOT_AVAILABLE) return std::nullopt;
        check(r);
        return v;
    }
    bool ordered() const { bool v = true; check(wrs_data_channel_ordered(get(), &v)); return v; }
    bool negotiated() const { bool v = false; check(wrs_data_channel_negotiated(get(), &v)); return v; }
    /// The retransmission limit, if the channel has one.
    std::optional<uint16_t> max_retransmits() const {
        int32_t v = -1;
        check(wrs_data_channel_max_retransmits(get(), &v));
        if (v < 0) return std::nullopt;
        return static_cast<uint16_t>(v);
    }
    /// The packet lifetime limit in milliseconds, if the channel has one.
    std::optional<uint16_t> max_packet_life_time() const {
        int32_t v = -1;
        check(wrs_data_channel_max_packet_life_time(get(), &v));
        if (v < 0) return std::nullopt;
        return static_cast<uint16_t>(v);
    }
    size_t buffered_amount() const { size_t v = 0; check(wrs_data_channel_buffered_amount(get(), &v)); return v; }
    void set_buffered_amount_low_threshold(size_t n) { check(wrs_data_channel_set_buffered_amount_low_threshold(get(), n)); }
    wrs_data_channel *get() const { return c_.get(); }

  private:
    struct handlers {
        event_fn open, close, low;
        message_fn message;
        error_fn error;
    };
    static handlers *h(void *ud) { return static_cast<handlers *>(ud); }
    static void open_tramp(void *ud, wrs_data_channel *) noexcept { try { if (h(ud)->open) h(ud)->open(); } catch (...) {} }
    static void close_tramp(void *ud, wrs_data_channel *) noexcept { try { if (h(ud)->close) h(ud)->close(); } catch (...) {} }
    static void low_tramp(void *ud, wrs_data_channel *) noexcept { try { if (h(ud)->low) h(ud)->low(); } catch (...) {} }
    static void message_tramp(void *ud, wrs_data_channel *, const uint8_t *d, size_t n, bool text) noexcept {
        try { if (h(ud)->message) h(ud)->message(d, n, text); } catch (...) {}
    }
    static void error_tramp(void *ud, wrs_data_channel *, const char *m) noexcept {
        try { if (h(ud)->error) h(ud)->error(m); } catch (...) {}
    }
    struct deleter { void operator()(wrs_data_channel *c) const { wrs_data_channel_free(c); } };
    // Declared before c_, destroyed after it: wrs_data_channel_free returns before handlers go.
    std::unique_ptr<handlers> handlers_;
    std::unique_ptr<wrs_data_channel, deleter> c_;
};

class session {
  public:
    using rtp_fn = std::function<void(uint32_t track, const uint8_t *packet, size_t len)>;
    using candidate_fn = std::function<void(const std::string &candidate, const std::string &mid)>;
    using state_fn = std::function<void(wrs_connection_state)>;
    using data_channel_fn = std::function<void(std::shared_ptr<data_channel>)>;
    using bandwidth_fn = std::function<void(uint64_t bitrate_bps)>;
    using rtcp_fn = std::function<void(const uint8_t *packet, size_t len)>;
    using track_fn = std::function<void(uint32_t track, wrs_media_kind kind, const std::string &mid)>;
    /// A complete received frame; `f.data` is borrowed for the call.
    using frame_fn = std::function<void(const wrs_frame &f)>;

    explicit session(const config *cfg = nullptr) : handlers_(std::make_unique<handlers>()) {
        wrs_session *s = nullptr;
        check(wrs_session_new(cfg ? cfg->get() : nullptr, &s));
        s_.reset(s);
    }

    void on_rtp(rtp_fn f) {
        handlers_->rtp = std::move(f);
        check(wrs_session_on_rtp(get(), &rtp_trampoline, handlers_.get()));
    }
    /// Complete frames from the jitter buffers (turns frame delivery on; nullptr turns it off).
    void on_frame(frame_fn f) {
        bool on = static_cast<bool>(f);
        handlers_->frame = std::move(f);
        check(wrs_session_on_frame(get(), on ? &frame_trampoline : nullptr, handlers_.get()));
    }
    /// Frame delivery for polling mode (WRS_EVENT_TYPE_FRAME instead of RTP events).
    void receive_frames(bool on) { check(wrs_session_receive_frames(get(), on)); }
    void on_ice_candidate(candidate_fn f) {
        handlers_->candidate = std::move(f);
        check(wrs_session_on_ice_candidate(get(), &candidate_trampoline, handlers_.get()));
    }
    void on_connection_state(state_fn f) {
        handlers_->state = std::move(f);
        check(wrs_session_on_connection_state(get(), &state_trampoline, handlers_.get()));
    }

    /// The send-side bandwidth estimate (first, then each move of 5 % or more).
    void on_bandwidth_estimate(bandwidth_fn f) {
        handlers_->bandwidth = std::move(f);
        check(wrs_session_on_bandwidth_estimate(get(), &bandwidth_trampoline, handlers_.get()));
    }
    void on_rtcp(rtcp_fn f) {
        handlers_->rtcp = std::move(f);
        check(wrs_session_on_rtcp(get(), &rtcp_trampoline, handlers_.get()));
    }
    void on_ice_state(std::function<void(wrs_ice_state)> f) {
        handlers_->ice_state = std::move(f);
        check(wrs_session_on_ice_state(get(), &ice_state_trampoline, handlers_.get()));
    }
    void on_gathering_state(std::function<void(wrs_gathering_state)> f) {
        handlers_->gathering_state = std::move(f);
        check(wrs_session_on_gathering_state(get(), &gathering_state_trampoline, handlers_.get()));
    }
    void on_signaling_state(std::function<void(wrs_signaling_state)> f) {
        handlers_->signaling_state = std::move(f);
        check(wrs_session_on_signaling_state(get(), &signaling_state_trampoline, handlers_.get()));
    }
    /// A track the remote side sends on (kind, mid).
    void on_track(track_fn f) {
        handlers_->track = std::move(f);
        check(wrs_session_on_track(get(), &track_trampoline, handlers_.get()));
    }
    /// The peer asks for a keyframe on a track we send.
    void on_keyframe_request(std::function<void(uint32_t track)> f) {
        handlers_->keyframe = std::move(f);
        check(wrs_session_on_keyframe_request(get(), &keyframe_trampoline, handlers_.get()));
    }
    /// Channels the peer opens (ondatachannel). Register the channel's callbacks inside `f`:
    /// its open callback follows right after.
    void on_data_channel(data_channel_fn f) {
        handlers_->data_channel = std::move(f);
        check(wrs_session_on_data_channel(get(), &data_channel_trampoline, handlers_.get()));
    }

    std::shared_ptr<data_channel> create_data_channel(const std::string &label, const data_channel_init &init = {}) {
        wrs_data_channel_init *o = nullptr;
        check(wrs_data_channel_init_new(&o));
        std::unique_ptr<wrs_data_channel_init, void (*)(wrs_data_channel_init *)> guard(o, &wrs_data_channel_init_free);
        check(wrs_data_channel_init_set_ordered(o, init.ordered));
        if (init.max_retransmits) check(wrs_data_channel_init_set_max_retransmits(o, *init.max_retransmits));
        if (init.max_packet_life_time) check(wrs_data_channel_init_set_max_packet_life_time(o, *init.max_packet_life_time));
        if (init.negotiated_id) check(wrs_data_channel_init_set_negotiated_id(o, *init.negotiated_id));
        if (!init.protocol.empty()) check(wrs_data_channel_init_set_protocol(o, init.protocol.c_str()));
        if (init.priority) check(wrs_data_channel_init_set_priority(o, *init.priority));
        wrs_data_channel *c = nullptr;
        check(wrs_session_create_data_channel(get(), label.c_str(), o, &c));
        return std::make_shared<data_channel>(c);
    }

    uint32_t add_track(wrs_media_kind kind, const std::vector<wrs_codec> &codecs, wrs_direction dir = WRS_DIRECTION_SEND_RECV) {
        std::vector<uint32_t> list(codecs.begin(), codecs.end());
        uint32_t id = 0;
        check(wrs_session_add_track(get(), kind, list.data(), list.size(), dir, &id));
        return id;
    }
    std::string create_offer() { char *s = nullptr; check(wrs_session_create_offer(get(), &s)); return take(s); }
    std::string create_answer() { char *s = nullptr; check(wrs_session_create_answer(get(), &s)); return take(s); }
    void set_local_description(wrs_sdp_type t, const std::string &sdp) { check(wrs_session_set_local_description(get(), t, sdp.c_str())); }
    void set_remote_description(wrs_sdp_type t, const std::string &sdp) { check(wrs_session_set_remote_description(get(), t, sdp.c_str())); }
    void add_remote_candidate(const std::string &c) { check(wrs_session_add_remote_candidate(get(), c.c_str())); }
    void send_media(uint32_t track, const uint8_t *payload, size_t len, uint32_t ts, bool marker = false) {
        check(wrs_session_send_media(get(), track, payload, len, ts, marker));
    }
    void send_rtp(uint32_t track, const uint8_t *packet, size_t len) { check(wrs_session_send_rtp(get(), track, packet, len)); }
    /// One encoded frame, packetized by the library (audio: one packet; VP8: RFC 7741).
    void send_frame(uint32_t track, const uint8_t *frame, size_t len, uint32_t ts) { check(wrs_session_send_frame(get(), track, frame, len, ts)); }
    /// Many host-built packets in one call (UDP GSO for runs of equal size); all or none.
    void send_rtp_batch(const std::vector<wrs_packet> &packets) { check(wrs_session_send_rtp_batch(get(), packets.data(), packets.size())); }
    void send_rtcp(const uint8_t *packet, size_t len) { check(wrs_session_send_rtcp(get(), packet, len)); }
    /// Graceful close (DTLS close_notify, BYE); the destructor frees.
    void close() { check(wrs_session_close(get())); }
    std::string local_description() const { char *s = nullptr; check(wrs_session_local_description(get(), &s)); return take(s); }
    std::string remote_description() const { char *s = nullptr; check(wrs_session_remote_description(get(), &s)); return take(s); }
    std::string remote_fingerprint() const { char *s = nullptr; check(wrs_session_remote_fingerprint(get(), &s)); return take(s); }
    std::string dtls_version() const { char *s = nullptr; check(wrs_session_dtls_version(get(), &s)); return take(s); }
    std::string failure_reason() const { char *s = nullptr; check(wrs_session_failure_reason(get(), &s)); return take(s); }
    /// (local, remote) candidate lines of the selected pair.
    std::pair<std::string, std::string> selected_candidate_pair() const {
        char *l = nullptr, *r = nullptr;
        check(wrs_session_selected_candidate_pair(get(), &l, &r));
        std::string local = take(l);
        return {local, take(r)};
    }
    wrs_dtls_role dtls_role() const { wrs_dtls_role v = WRS_DTLS_ROLE_AUTO; check(wrs_session_dtls_role(get(), &v)); return v; }
    wrs_ice_state ice_state() const { wrs_ice_state v = WRS_ICE_STATE_NEW; check(wrs_session_ice_state(get(), &v)); return v; }
    wrs_gathering_state gathering_state() const { wrs_gathering_state v = WRS_GATHERING_STATE_NEW; check(wrs_session_gathering_state(get(), &v)); return v; }
    wrs_signaling_state signaling_state() const { wrs_signaling_state v = WRS_SIGNALING_STATE_STABLE; check(wrs_session_signaling_state(get(), &v)); return v; }
    std::string track_mid(uint32_t track) const { char *s = nullptr; check(wrs_session_track_mid(get(), track, &s)); return take(s); }
    uint32_t track_ssrc(uint32_t track) const { uint32_t v = 0; check(wrs_session_track_ssrc(get(), track, &v)); return v; }
    uint8_t track_payload_type(uint32_t track) const { uint8_t v = 0; check(wrs_session_track_payload_type(get(), track, &v)); return v; }
    /// Polling mode: no callback runs from now on; returns the descriptor (owned by the
    /// session) that is readable while events wait for next_event().
    int use_polling() { int fd = -1; check(wrs_session_use_polling(get(), &fd)); return fd; }
    /// The oldest waiting event (kind WRS_EVENT_TYPE_NONE when none); its pointers live until
    /// the next call.
    wrs_event next_event() {
        wrs_event e{};
        check(wrs_session_next_event(get(), &e));
        return e;
    }
    struct codec_info { wrs_codec codec; uint8_t payload_type; uint32_t clock_rate; };
    /// The first negotiated codec of `track`, its payload type and clock rate.
    /// Sends this negotiated payload type (and its codec) with send_media and send_frame.
    void set_send_codec(uint32_t track, uint8_t payload_type) { check(wrs_session_set_send_codec(get(), track, payload_type)); }
    codec_info track_codec(uint32_t track) const {
        codec_info c{WRS_CODEC_PCMU, 0, 0};
        check(wrs_session_track_codec(get(), track, &c.codec, &c.payload_type, &c.clock_rate));
        return c;
    }
    wrs_connection_state connection_state() const {
        wrs_connection_state st = WRS_CONNECTION_STATE_NEW;
        check(wrs_session_connection_state(get(), &st));
        return st;
    }
    wrs_srtp_profile srtp_profile() const {
        wrs_srtp_profile p = WRS_SRTP_PROFILE_AEAD_AES128_GCM;
        check(wrs_session_srtp_profile(get(), &p));
        return p;
    }
    std::string local_fingerprint() const { char *s = nullptr; check(wrs_session_local_fingerprint(get(), &s)); return take(s); }
    uint64_t stat(wrs_stat which) const { uint64_t v = 0; check(wrs_session_stat(get(), which, &v)); return v; }
    /// getStats() as JSON (W3C webrtc-stats types and names).
    std::string stats_json() const { char *s = nullptr; check(wrs_session_get_stats(get(), &s)); return take(s); }
    /// Asks the peer for a keyframe on receiving `track` (PLI, or FIR if only that is negotiated).
    void request_keyframe(uint32_t track) { check(wrs_session_request_keyframe(get(), track)); }
    /// The latest RTCP round-trip time in milliseconds; throws while no report gave one.
    double round_trip_time_ms() const { double v = 0; check(wrs_session_round_trip_time(get(), &v)); return v; }
    /// The send-side bandwidth estimate in bits per second; throws while no feedback gave one.
    uint64_t bandwidth_estimate_bps() const { uint64_t v = 0; check(wrs_session_bandwidth_estimate(get(), &v)); return v; }
    wrs_session *get() const { return s_.get(); }

  private:
    struct handlers {
        rtp_fn rtp;
        candidate_fn candidate;
        state_fn state;
        data_channel_fn data_channel;
        bandwidth_fn bandwidth;
        rtcp_fn rtcp;
        std::function<void(wrs_ice_state)> ice_state;
        std::function<void(wrs_gathering_state)> gathering_state;
        std::function<void(wrs_signaling_state)> signaling_state;
        track_fn track;
        std::function<void(uint32_t)> keyframe;
        frame_fn frame;
    };
    static void frame_trampoline(void *ud, const wrs_frame *f) noexcept { try { hs(ud)->frame(*f); } catch (...) {} }
    static handlers *hs(void *ud) { return static_cast<handlers *>(ud); }
    static void rtcp_trampoline(void *ud, const uint8_t *p, size_t n) noexcept { try { hs(ud)->rtcp(p, n); } catch (...) {} }
    static void ice_state_trampoline(void *ud, wrs_ice_state s) noexcept { try { hs(ud)->ice_state(s); } catch (...) {} }
    static void gathering_state_trampoline(void *ud, wrs_gathering_state s) noexcept { try { hs(ud)->gathering_state(s); } catch (...) {} }
    static void signaling_state_trampoline(void *ud, wrs_signaling_state s) noexcept { try { hs(ud)->signaling_state(s); } catch (...) {} }
    static void track_trampoline(void *ud, uint32_t t, wrs_media_kind k, const char *mid) noexcept { try { hs(ud)->track(t, k, mid); } catch (...) {} }
    static void keyframe_trampoline(void *ud, uint32_t t) noexcept { try { hs(ud)->keyframe(t); } catch (...) {} }
    static void bandwidth_trampoline(void *ud, uint64_t bps) noexcept {
        try { static_cast<handlers *>(ud)->bandwidth(bps); } catch (...) {}
    }
    static void data_channel_trampoline(void *ud, wrs_data_channel *c) noexcept {
        // Owned from here on, also if the handler throws or is missing.
        auto ch = std::make_shared<data_channel>(c);
        try { if (static_cast<handlers *>(ud)->data_channel) static_cast<handlers *>(ud)->data_channel(ch); } catch (...) {}
    }
    static void rtp_trampoline(void *ud, uint32_t track, const uint8_t *p, size_t n) noexcept {
        try { static_cast<handlers *>(ud)->rtp(track, p, n); } catch (...) {}
    }
    static void candidate_trampoline(void *ud, const char *c, const char *mid) noexcept {
        try { static_cast<handlers *>(ud)->candidate(c, mid); } catch (...) {}
    }
    static void state_trampoline(void *ud, wrs_connection_state s) noexcept {
        try { static_cast<handlers *>(ud)->state(s); } catch (...) {}
    }
    struct deleter { void operator()(wrs_session *s) const { wrs_session_free(s); } };
    // Declared before s_, destroyed after it: wrs_session_free returns before handlers go away.
    std::unique_ptr<handlers> handlers_;
    std::unique_ptr<wrs_session, deleter> s_;
};

}  // namespace wrs

#endif
