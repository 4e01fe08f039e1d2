// loopback.cpp: the loopback call in C++17 through the RAII wrapper (include/webrtc_session.hpp):
// two sessions, trickle ICE, 20 ms audio packets both ways for one second.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "webrtc_session.hpp"

int main() {
    using clock = std::chrono::steady_clock;
    try {
        std::atomic<int> warnings{0}, tracks{0};
        wrs::set_log_handler([&](wrs_log_level, wrs_log_area, const char *) { ++warnings; }, WRS_LOG_LEVEL_WARN);
        wrs::config cfg;
        cfg.local_address("127.0.0.1").nack(true).transport_cc(true).bandwidth_estimate(300000, 30000, 5000000).jitter_buffer(100);
        wrs::session a(&cfg), b(&cfg);
        std::atomic<int> at_a{0}, at_b{0};
        b.on_track([&](uint32_t, wrs_media_kind kind, const std::string &) { tracks += kind == WRS_MEDIA_KIND_AUDIO; });
        a.on_ice_candidate([&](const std::string &c, const std::string &) { b.add_remote_candidate(c); });
        b.on_ice_candidate([&](const std::string &c, const std::string &) { a.add_remote_candidate(c); });
        a.on_rtp([&](uint32_t, const uint8_t *, size_t) { ++at_a; });
        b.on_rtp([&](uint32_t, const uint8_t *, size_t) { ++at_b; });
        // The same packets as whole frames from b's jitter buffer (audio: a frame a packet).
        std::atomic<int> frames_at_b{0};
        b.on_frame([&](const wrs_frame &f) { frames_at_b += f.len == 160 && f.codec == WRS_CODEC_OPUS && f.lost_packets == 0; });

        auto t0 = clock::now();
        uint32_t ta = a.add_track(WRS_MEDIA_KIND_AUDIO, {WRS_CODEC_OPUS, WRS_CODEC_PCMU});
        std::string offer = a.create_offer();
        b.set_remote_description(WRS_SDP_TYPE_OFFER, offer);  // before a gathers: no early candidate
        a.set_local_description(WRS_SDP_TYPE_OFFER, offer);
        uint32_t tb = b.add_track(WRS_MEDIA_KIND_AUDIO, {WRS_CODEC_OPUS, WRS_CODEC_PCMU});
        std::string answer = b.create_answer();
        a.set_remote_description(WRS_SDP_TYPE_ANSWER, answer);
        b.set_local_description(WRS_SDP_TYPE_ANSWER, answer);
        while (a.connection_state() != WRS_CONNECTION_STATE_CONNECTED || b.connection_state() != WRS_CONNECTION_STATE_CONNECTED) {
            if (clock::now() - t0 > std::chrono::seconds(10)) {
                std::fprintf(stderr, "not connected\n");
                return 1;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
        auto codec = a.track_codec(ta);
        auto pair = a.selected_candidate_pair();
        std::printf("C++: %s, %s, codec %u pt %u at %u Hz, pair %s\n", wrs::version().c_str(), a.dtls_version().c_str(),
                    (unsigned)codec.codec, (unsigned)codec.payload_type, (unsigned)codec.clock_rate, pair.first.c_str());
        if (codec.codec != WRS_CODEC_OPUS || codec.clock_rate != 48000 || a.ice_state() != WRS_ICE_STATE_CONNECTED ||
            a.remote_fingerprint().empty() || b.track_mid(tb) != "0" || tracks != 1)
            return 1;
        uint8_t payload[160] = {};
        for (uint32_t i = 0; i < 50; i++) {
            a.send_media(ta, payload, sizeof payload, i * 960);
            b.send_media(tb, payload, sizeof payload, i * 960);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::printf("C++: connected in %.1f ms, packets a->b %d/50, b->a %d/50, frames at b %d/50\n", ms, at_b.load(), at_a.load(), frames_at_b.load());
        // getStats JSON names a's sending stream with what it sent.
        std::string stats = a.stats_json();
        bool stats_ok = stats.find("\"type\":\"outbound-rtp\"") != std::string::npos && stats.find("\"packetsSent\":50") != std::string::npos;
        std::printf("C++: getStats %zu bytes, outbound-rtp with 50 packets: %s\n", stats.size(), stats_ok ? "yes" : "no");
        if (!stats_ok) return 1;
        try {
            a.send_media(99, payload, sizeof payload, 0);
        } catch (const wrs::error &e) {
            std::printf("C++: unknown track -> %s (%s)\n", e.what(), wrs::result_name(e.code).c_str());
        }
        a.close();
        b.close();
        wrs::set_log_handler(nullptr);
        std::printf("C++: %d warnings logged\n", warnings.load());
        return at_a == 50 && at_b == 50 && frames_at_b == 50 && warnings == 0 ? 0 : 1;
    } catch (const wrs::error &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
}
