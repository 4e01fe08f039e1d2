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

    explicit session(const config *cfg = nullptr) : handlers_(std::make_unique<handlers>()) {
        wrs_session *s = nullptr;
        check(wrs_session_new(cfg ? cfg->get() : nullptr, &s));
        s_.reset(s);
    }

    void on_rtp(rtp_fn f) {
        handlers_->rtp = std::move(f);
        check(wrs_session_on_rtp(get(), &rtp_trampoline, handlers_.get()));
    }
    void on_ice_candidate(candidate_fn f) {
        handlers_->candidate = std::move(f);
        check(wrs_session_on_ice_candidate(get(), &candidate_trampoline, handlers_.get()));
    }
    void on_connection_state(state_fn f) {
        handlers_->state = std::move(f);
        check(wrs_session_on_connection_state(get(), &state_trampoline, handlers_.get()));
    }

    /// Channels the peer opens (ondatachannel). Register the channel's callbacks inside `f`:
    /// its open callback follows right after.
    /// The send-side bandwidth estimate (first, then each move of 5 % or more).
    void on_bandwidth_estimate(bandwidth_fn f) {
        handlers_->bandwidth = std::move(f);
        check(wrs_session_on_bandwidth_estimate(get(), &bandwidth_trampoline, handlers_.get()));
    }
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
    };
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
