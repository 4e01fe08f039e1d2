/* loopback: two webrtc-session sessions in one process, connected over 127.0.0.1.
 *
 * Offer/answer by passing strings, trickle ICE through the candidate callbacks, then PCMU
 * audio (20 ms packets) and 1200-byte video packets both ways for a few seconds. Prints the
 * time to ICE connected, DTLS done and first media, per-direction counts, the SRTP profile
 * and the fingerprints. Exits non-zero if anything was lost or corrupted.
 *
 * usage: loopback [seconds]   (default 3)
 */
#include <pthread.h>

#include "trickle.h"


typedef struct peer {
    const char *name;
    wrs_session *s;
    struct peer *other;
    uint32_t audio, video;
    uint8_t audio_stream, video_stream; /* pattern ids of what this side sends */
    pthread_mutex_t lock;
    inbox in;                          /* candidates waiting for our remote description */
    double t0, t_ice, t_connected;
    stream_stats audio_rx, video_rx;
    uint64_t audio_sent, video_sent;
} peer;

static void on_candidate(void *user_data, const char *candidate, const char *mid) {
    peer *from = (peer *)user_data;
    (void)mid;
    inbox_add(&from->other->in, candidate);
}

static void on_ice_state(void *user_data, wrs_ice_state state) {
    peer *p = (peer *)user_data;
    if (state == WRS_ICE_STATE_CONNECTED && p->t_ice == 0) p->t_ice = now_ms() - p->t0;
}

static void on_connection_state(void *user_data, wrs_connection_state state) {
    peer *p = (peer *)user_data;
    if (state == WRS_CONNECTION_STATE_CONNECTED && p->t_connected == 0) p->t_connected = now_ms() - p->t0;
}

static void on_rtp(void *user_data, uint32_t track, const uint8_t *packet, size_t len) {
    peer *p = (peer *)user_data;
    double t = now_ms() - p->t0;
    pthread_mutex_lock(&p->lock);
    if (track == p->audio)
        count_packet(&p->audio_rx, packet, len, AUDIO_PAYLOAD, p->other->audio_stream, t);
    else if (track == p->video)
        count_packet(&p->video_rx, packet, len, VIDEO_PAYLOAD, p->other->video_stream, t);
    pthread_mutex_unlock(&p->lock);
}

static void init_peer(peer *p, const char *name, wrs_config *cfg, uint8_t stream) {
    memset(p, 0, sizeof *p);
    p->name = name;
    p->audio_stream = stream;
    p->video_stream = (uint8_t)(stream + 1);
    pthread_mutex_init(&p->lock, NULL);
    CHECK(wrs_session_new(cfg, &p->s));
    inbox_init(&p->in, p->s);
    CHECK(wrs_session_on_ice_candidate(p->s, on_candidate, p));
    CHECK(wrs_session_on_ice_state(p->s, on_ice_state, p));
    CHECK(wrs_session_on_connection_state(p->s, on_connection_state, p));
    CHECK(wrs_session_on_rtp(p->s, on_rtp, p));
}

static void add_tracks(peer *p) {
    uint32_t audio_codecs[] = {WRS_CODEC_PCMU};
    uint32_t video_codecs[] = {WRS_CODEC_VP8};
    CHECK(wrs_session_add_track(p->s, WRS_MEDIA_KIND_AUDIO, audio_codecs, 1, WRS_DIRECTION_SEND_RECV, &p->audio));
    CHECK(wrs_session_add_track(p->s, WRS_MEDIA_KIND_VIDEO, video_codecs, 1, WRS_DIRECTION_SEND_RECV, &p->video));
}

static void send_tick(peer *p, uint32_t tick) {
    uint8_t buf[VIDEO_PAYLOAD];
    int i;
    fill_payload(buf, AUDIO_PAYLOAD, tick, p->audio_stream);
    CHECK(wrs_session_send_media(p->s, p->audio, buf, AUDIO_PAYLOAD, tick * 160u, false));
    p->audio_sent++;
    for (i = 0; i < VIDEO_PER_TICK; i++) {
        fill_payload(buf, VIDEO_PAYLOAD, tick * VIDEO_PER_TICK + (uint32_t)i, p->video_stream);
        CHECK(wrs_session_send_media(p->s, p->video, buf, VIDEO_PAYLOAD, tick * 1800u, i == VIDEO_PER_TICK - 1));
        p->video_sent++;
    }
}

static int report_direction(const char *kind, const peer *from, const peer *to, uint64_t sent, const stream_stats *rx) {
    uint64_t lost = sent > rx->packets ? sent - rx->packets : 0;
    printf("  %-5s %s -> %s: sent %llu, received %llu, lost %llu (%.2f%%), corrupt %llu\n", kind, from->name,
           to->name, (unsigned long long)sent, (unsigned long long)rx->packets, (unsigned long long)lost,
           sent ? 100.0 * (double)lost / (double)sent : 0.0, (unsigned long long)rx->corrupt);
    return lost == 0 && rx->corrupt == 0 && sent > 0;
}

static void print_facts(peer *p) {
    char *fp = NULL, *local = NULL, *remote = NULL, *version = NULL;
    wrs_srtp_profile profile;
    wrs_dtls_role role;
    CHECK(wrs_session_local_fingerprint(p->s, &fp));
    CHECK(wrs_session_srtp_profile(p->s, &profile));
    CHECK(wrs_session_dtls_role(p->s, &role));
    CHECK(wrs_session_dtls_version(p->s, &version));
    CHECK(wrs_session_selected_candidate_pair(p->s, &local, &remote));
    printf("%s: fingerprint %s\n", p->name, fp);
    printf("%s: %s as DTLS %s, SRTP %s\n", p->name, version, role == WRS_DTLS_ROLE_CLIENT ? "client" : "server",
           srtp_name(profile));
    printf("%s: selected pair %s  <->  %s\n", p->name, local, remote);
    wrs_string_free(fp);
    wrs_string_free(local);
    wrs_string_free(remote);
    wrs_string_free(version);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    peer a, b;
    wrs_config *cfg = NULL;
    char *offer = NULL, *answer = NULL;
    double deadline, start;
    uint32_t tick, ticks;
    int ok = 1;
    wrs_connection_state sa = WRS_CONNECTION_STATE_NEW, sb = WRS_CONNECTION_STATE_NEW;

    printf("webrtc-session %s loopback: two sessions on 127.0.0.1, %.1f s of media\n", wrs_version(), seconds);
    CHECK(wrs_config_new(&cfg));
    CHECK(wrs_config_add_local_address(cfg, "127.0.0.1"));
    init_peer(&a, "offerer", cfg, 1);
    init_peer(&b, "answerer", cfg, 3);
    wrs_config_free(cfg);
    a.other = &b;
    b.other = &a;

    add_tracks(&a);
    a.t0 = b.t0 = now_ms();
    CHECK(wrs_session_create_offer(a.s, &offer));
    CHECK(wrs_session_set_local_description(a.s, WRS_SDP_TYPE_OFFER, offer));
    CHECK(wrs_session_set_remote_description(b.s, WRS_SDP_TYPE_OFFER, offer));
    inbox_remote_applied(&b.in);
    add_tracks(&b); /* after the offer, so the tracks take its sections and the answer sends */
    CHECK(wrs_session_create_answer(b.s, &answer));
    CHECK(wrs_session_set_local_description(b.s, WRS_SDP_TYPE_ANSWER, answer));
    CHECK(wrs_session_set_remote_description(a.s, WRS_SDP_TYPE_ANSWER, answer));
    inbox_remote_applied(&a.in);
    wrs_string_free(offer);
    wrs_string_free(answer);

    deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        CHECK(wrs_session_connection_state(a.s, &sa));
        CHECK(wrs_session_connection_state(b.s, &sb));
        if ((sa == WRS_CONNECTION_STATE_CONNECTED && sb == WRS_CONNECTION_STATE_CONNECTED) ||
            sa == WRS_CONNECTION_STATE_FAILED || sb == WRS_CONNECTION_STATE_FAILED)
            break;
        sleep_ms(0.2);
    }
    if (sa != WRS_CONNECTION_STATE_CONNECTED || sb != WRS_CONNECTION_STATE_CONNECTED) {
        char *why = NULL;
        if (wrs_session_failure_reason(sa != WRS_CONNECTION_STATE_CONNECTED ? a.s : b.s, &why) == WRS_RESULT_OK) {
            fprintf(stderr, "not connected: %s\n", why);
            wrs_string_free(why);
        } else {
            fprintf(stderr, "not connected within 10 s\n");
        }
        return 1;
    }
    print_facts(&a);
    print_facts(&b);

    /* 20 ms ticks, each side sending one audio and VIDEO_PER_TICK video packets per tick. */
    ticks = (uint32_t)(seconds * 50);
    start = now_ms();
    for (tick = 0; tick < ticks; tick++) {
        send_tick(&a, tick);
        send_tick(&b, tick);
        sleep_ms(start + (tick + 1) * 20.0 - now_ms());
    }
    sleep_ms(300); /* let the last packets land */

    pthread_mutex_lock(&a.lock);
    pthread_mutex_lock(&b.lock);
    printf("timeline (ms from create_offer): ICE connected %.2f / %.2f, DTLS done %.2f / %.2f, first media %.2f / %.2f "
           "(offerer / answerer)\n",
           a.t_ice, b.t_ice, a.t_connected, b.t_connected, a.audio_rx.first_ms, b.audio_rx.first_ms);
    printf("media:\n");
    ok &= report_direction("audio", &a, &b, a.audio_sent, &b.audio_rx);
    ok &= report_direction("video", &a, &b, a.video_sent, &b.video_rx);
    ok &= report_direction("audio", &b, &a, b.audio_sent, &a.audio_rx);
    ok &= report_direction("video", &b, &a, b.video_sent, &a.video_rx);
    pthread_mutex_unlock(&b.lock);
    pthread_mutex_unlock(&a.lock);

    CHECK(wrs_session_close(a.s));
    wrs_session_free(a.s);
    wrs_session_free(b.s);
    pthread_mutex_destroy(&a.lock);
    inbox_destroy(&a.in);
    pthread_mutex_destroy(&b.lock);
    inbox_destroy(&b.in);
    printf("%s\n", ok ? "result: every packet arrived intact" : "result: FAILED (loss or corruption)");
    return ok ? 0 : 1;
}
