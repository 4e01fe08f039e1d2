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

class session {
  public:
    using rtp_fn = std::function<void(uint32_t track, const uint8_t *packet, size_t len)>;
    using candidate_fn = std::function<void(const std::string &candidate, const std::string &mid)>;
    using state_fn = std::function<void(wrs_connection_state)>;

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
    wrs_session *get() const { return s_.get(); }

  private:
    struct handlers {
        rtp_fn rtp;
        candidate_fn candidate;
        state_fn state;
    };
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
