// Data channels through the C++17 RAII wrapper (webrtc_session.hpp): two sessions, data only;
// the answerer echoes, the offerer checks 500 messages byte for byte, then closes.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "webrtc_session.hpp"

static int passed = 0, failed = 0;
static void expect(bool ok, const char *what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    (ok ? passed : failed)++;
}

template <class F> static bool wait_until(F done, int ms = 30000) {
    for (int i = 0; i < ms / 2; i++) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return done();
}

static std::string message(int i) { return "message " + std::to_string(i) + std::string(static_cast<size_t>(i % 200), 'q'); }

int main() {
    wrs::config cfg;
    cfg.local_address("127.0.0.1");
    wrs::session a(&cfg), b(&cfg);
    std::mutex lock;
    std::vector<std::string> candidates_for_a, candidates_for_b;
    a.on_ice_candidate([&](const std::string &c, const std::string &) { std::lock_guard<std::mutex> g(lock); candidates_for_b.push_back(c); });
    b.on_ice_candidate([&](const std::string &c, const std::string &) { std::lock_guard<std::mutex> g(lock); candidates_for_a.push_back(c); });

    std::shared_ptr<wrs::data_channel> remote;
    std::atomic<bool> remote_closed{false};
    b.on_data_channel([&](std::shared_ptr<wrs::data_channel> ch) {
        wrs::data_channel *raw = ch.get();
        ch->on_message([raw](const uint8_t *d, size_t n, bool text) {
            if (text) raw->send_text(std::string(reinterpret_cast<const char *>(d), n));
            else raw->send(d, n);
        });
        ch->on_close([&] { remote_closed = true; });
        std::lock_guard<std::mutex> g(lock);
        remote = ch;
    });

    wrs::data_channel_init init;
    init.protocol = "cpp";
    auto chat = a.create_data_channel("chat", init);
    std::atomic<bool> open{false};
    std::vector<std::string> echoed;
    chat->on_open([&] { open = true; });
    chat->on_message([&](const uint8_t *d, size_t n, bool text) {
        std::lock_guard<std::mutex> g(lock);
        echoed.emplace_back((text ? "T" : "B") + std::string(reinterpret_cast<const char *>(d), n));
    });
    expect(chat->state() == WRS_DATA_CHANNEL_STATE_CONNECTING && !chat->id(), "connecting, no stream id yet");

    std::string offer = a.create_offer();
    a.set_local_description(WRS_SDP_TYPE_OFFER, offer);
    b.set_remote_description(WRS_SDP_TYPE_OFFER, offer);
    std::string answer = b.create_answer();
    b.set_local_description(WRS_SDP_TYPE_ANSWER, answer);
    a.set_remote_description(WRS_SDP_TYPE_ANSWER, answer);
    bool up = wait_until([&] {
        std::vector<std::string> fa, fb;
        {
            std::lock_guard<std::mutex> g(lock);
            fa.swap(candidates_for_a);
            fb.swap(candidates_for_b);
        }
        for (auto &c : fa) a.add_remote_candidate(c);
        for (auto &c : fb) b.add_remote_candidate(c);
        return open.load();
    });
    expect(up, "the channel opens");
    {
        std::lock_guard<std::mutex> g(lock);
        expect(remote && remote->label() == "chat" && remote->protocol() == "cpp", "the peer's channel has label and protocol");
    }
    for (int i = 0; i < 500; i++) {
        if (i % 2) {
            std::vector<uint8_t> bin(static_cast<size_t>(1 + i), static_cast<uint8_t>(i));
            chat->send(bin);
        } else {
            chat->send_text(message(i));
        }
    }
    expect(wait_until([&] { std::lock_guard<std::mutex> g(lock); return echoed.size() == 500; }), "500 messages come back");
    bool same = true;
    for (int i = 0; i < 500; i++) {
        std::string want = i % 2 ? "B" + std::string(static_cast<size_t>(1 + i), static_cast<char>(i)) : "T" + message(i);
        if (echoed[static_cast<size_t>(i)] != want) same = false;
    }
    expect(same, "byte for byte, in order, text as text and binary as binary");
    try {
        chat->send(std::vector<uint8_t>(256 * 1024 + 1));
        expect(false, "an oversized message throws");
    } catch (const wrs::error &e) {
        expect(e.code == WRS_RESULT_PACKET_REJECTED, "an oversized message throws wrs::error(PACKET_REJECTED)");
    }
    chat->close();
    expect(wait_until([&] { return remote_closed.load(); }), "the peer sees the close");
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
