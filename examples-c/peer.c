/* peer: one side of a call across two processes (the SIPSorcery WebRtcSession scenario).
 *
 * The two processes exchange complete descriptions (every candidate inside, no trickle)
 * through files:  peer offer  OFFER_FILE ANSWER_FILE [seconds]
 *                 peer answer OFFER_FILE ANSWER_FILE [seconds]
 * The offerer writes OFFER_FILE and waits for ANSWER_FILE; the answerer waits for OFFER_FILE
 * and writes ANSWER_FILE ("-" means stdout / stdin). Both then send PCMU audio and 1200-byte
 * video for `seconds` (default 2) and report what arrived; exit 0 if at least 98 % did.
 */
#include <pthread.h>
#include <unistd.h>

#include "common.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static stream_stats audio_rx, video_rx;
static uint32_t audio_track, video_track;
static uint8_t remote_stream; /* pattern id base of what the other side sends */
static double t0;

static void on_rtp(void *user_data, uint32_t track, const uint8_t *packet, size_t len) {
    (void)user_data;
    pthread_mutex_lock(&lock);
    if (track == audio_track)
        count_packet(&audio_rx, packet, len, AUDIO_PAYLOAD, remote_stream, now_ms() - t0);
    else if (track == video_track)
        count_packet(&video_rx, packet, len, VIDEO_PAYLOAD, (uint8_t)(remote_stream + 1), now_ms() - t0);
    pthread_mutex_unlock(&lock);
}

static void on_ice_state(void *user_data, wrs_ice_state state) {
    (void)user_data;
    if (state == WRS_ICE_STATE_CONNECTED) fprintf(stderr, "ICE connected %.1f ms after start\n", now_ms() - t0);
}

static char *read_file_when_ready(const char *path, double timeout_ms) {
    double deadline = now_ms() + timeout_ms;
    for (;;) {
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
        if (f) {
            size_t cap = 1 << 16, n = 0, got;
            char *buf = malloc(cap);
            while (buf && (got = fread(buf + n, 1, cap - 1 - n, f)) > 0) {
                n += got;
                if (n == cap - 1) buf = realloc(buf, cap *= 2);
            }
            if (f != stdin) fclose(f);
            if (!buf) exit(2);
            buf[n] = 0;
            return buf;
        }
        if (now_ms() > deadline) {
            fprintf(stderr, "timed out waiting for %s\n", path);
            exit(2);
        }
        sleep_ms(10);
    }
}

/* Written under a temporary name and renamed, so the reader never sees half a file. */
static void write_file(const char *path, const char *text) {
    char tmp[4096];
    FILE *f;
    if (strcmp(path, "-") == 0) {
        fputs(text, stdout);
        fflush(stdout);
        return;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        perror(path);
        exit(2);
    }
}

/* Waits for gathering to complete, then returns the local description with every candidate. */
static char *complete_local_description(wrs_session *s) {
    wrs_gathering_state g = WRS_GATHERING_STATE_NEW;
    char *sdp = NULL;
    double deadline = now_ms() + 5000;
    while (g != WRS_GATHERING_STATE_COMPLETE && now_ms() < deadline) {
        CHECK(wrs_session_gathering_state(s, &g));
        sleep_ms(1);
    }
    CHECK(wrs_session_local_description(s, &sdp));
    fprintf(stderr, "gathering complete %.1f ms after start\n", now_ms() - t0);
    return sdp;
}

static void add_tracks(wrs_session *s) {
    uint32_t audio[] = {WRS_CODEC_PCMU}, video[] = {WRS_CODEC_VP8};
    CHECK(wrs_session_add_track(s, WRS_MEDIA_KIND_AUDIO, audio, 1, WRS_DIRECTION_SEND_RECV, &audio_track));
    CHECK(wrs_session_add_track(s, WRS_MEDIA_KIND_VIDEO, video, 1, WRS_DIRECTION_SEND_RECV, &video_track));
}

int main(int argc, char **argv) {
    int offerer;
    double seconds, start, deadline;
    wrs_config *cfg = NULL;
    wrs_session *s = NULL;
    wrs_connection_state st = WRS_CONNECTION_STATE_NEW;
    char *text = NULL, *local = NULL;
    uint8_t local_stream, buf[VIDEO_PAYLOAD];
    uint32_t tick, ticks, i;
    uint64_t expect_audio, expect_video;
    int ok;

    if (argc < 4 || (strcmp(argv[1], "offer") != 0 && strcmp(argv[1], "answer") != 0)) {
        fprintf(stderr, "usage: %s offer|answer OFFER_FILE ANSWER_FILE [seconds]\n", argv[0]);
        return 2;
    }
    offerer = strcmp(argv[1], "offer") == 0;
    seconds = argc > 4 ? atof(argv[4]) : 2.0;
    local_stream = offerer ? 1 : 3;
    remote_stream = offerer ? 3 : 1;
    t0 = now_ms();

    CHECK(wrs_config_new(&cfg));
    CHECK(wrs_config_add_local_address(cfg, "127.0.0.1"));
    CHECK(wrs_session_new(cfg, &s));
    wrs_config_free(cfg);
    CHECK(wrs_session_on_rtp(s, on_rtp, NULL));
    CHECK(wrs_session_on_ice_state(s, on_ice_state, NULL));

    if (offerer) {
        add_tracks(s);
        CHECK(wrs_session_create_offer(s, &text));
        CHECK(wrs_session_set_local_description(s, WRS_SDP_TYPE_OFFER, text));
        wrs_string_free(text);
        local = complete_local_description(s);
        write_file(argv[2], local);
        text = read_file_when_ready(argv[3], 30000);
        CHECK(wrs_session_set_remote_description(s, WRS_SDP_TYPE_ANSWER, text));
    } else {
        text = read_file_when_ready(argv[2], 30000);
        CHECK(wrs_session_set_remote_description(s, WRS_SDP_TYPE_OFFER, text));
        add_tracks(s);
        free(text);
        CHECK(wrs_session_create_answer(s, &text));
        CHECK(wrs_session_set_local_description(s, WRS_SDP_TYPE_ANSWER, text));
        wrs_string_free(text);
        local = complete_local_description(s);
        write_file(argv[3], local);
        text = NULL;
    }
    free(text);
    wrs_string_free(local);

    deadline = now_ms() + 10000;
    while (st != WRS_CONNECTION_STATE_CONNECTED && st != WRS_CONNECTION_STATE_FAILED && now_ms() < deadline) {
        CHECK(wrs_session_connection_state(s, &st));
        sleep_ms(1);
    }
    if (st != WRS_CONNECTION_STATE_CONNECTED) {
        fprintf(stderr, "%s: not connected (state %u)\n", argv[1], (unsigned)st);
        return 1;
    }
    fprintf(stderr, "%s: connected %.1f ms after start\n", argv[1], now_ms() - t0);

    ticks = (uint32_t)(seconds * 50);
    start = now_ms();
    for (tick = 0; tick < ticks; tick++) {
        fill_payload(buf, AUDIO_PAYLOAD, tick, local_stream);
        CHECK(wrs_session_send_media(s, audio_track, buf, AUDIO_PAYLOAD, tick * 160u, false));
        for (i = 0; i < VIDEO_PER_TICK; i++) {
            fill_payload(buf, VIDEO_PAYLOAD, tick * VIDEO_PER_TICK + i, (uint8_t)(local_stream + 1));
            CHECK(wrs_session_send_media(s, video_track, buf, VIDEO_PAYLOAD, tick * 1800u, i == VIDEO_PER_TICK - 1));
        }
        sleep_ms(start + (tick + 1) * 20.0 - now_ms());
    }
    sleep_ms(1000); /* the other process may have started a little later */

    expect_audio = ticks;
    expect_video = (uint64_t)ticks * VIDEO_PER_TICK;
    pthread_mutex_lock(&lock);
    ok = audio_rx.corrupt == 0 && video_rx.corrupt == 0 && audio_rx.packets * 100 >= expect_audio * 98 &&
         video_rx.packets * 100 >= expect_video * 98;
    fprintf(stderr, "%s: received audio %llu/%llu, video %llu/%llu, corrupt %llu\n", argv[1],
            (unsigned long long)audio_rx.packets, (unsigned long long)expect_audio,
            (unsigned long long)video_rx.packets, (unsigned long long)expect_video,
            (unsigned long long)(audio_rx.corrupt + video_rx.corrupt));
    pthread_mutex_unlock(&lock);
    wrs_session_free(s);
    return ok ? 0 : 1;
}
