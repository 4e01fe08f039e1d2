/* The library's figures through its C ABI (issue #6 baseline): setup time, send and receive
 * cost per packet, send -> on_rtp latency, memory and threads per connected session.
 * Prints one line per figure:  bench <name> <value> <unit>
 * usage: bench [pairs_for_memory]   (default 100) */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <dirent.h>
#include <sys/resource.h>

#include "../examples-c/common.h"
#include "floor.h"

typedef struct side {
    wrs_session *s;
    struct side *other;
    uint32_t track;
    atomic_int connected;
    atomic_long received;
    double first_rx;
    double *lat;        /* latency samples (ms), when measuring */
    atomic_long nlat;
} side;

static void on_candidate(void *ud, const char *c, const char *mid) {
    (void)mid;
    wrs_session_add_remote_candidate(((side *)ud)->other->s, c);
}
static void on_state(void *ud, wrs_connection_state st) {
    if (st == WRS_CONNECTION_STATE_CONNECTED) atomic_store(&((side *)ud)->connected, 1);
}
static void on_rtp(void *ud, uint32_t track, const uint8_t *p, size_t len) {
    side *x = (side *)ud;
    (void)track;
    long n = atomic_fetch_add(&x->received, 1);
    if (n == 0) x->first_rx = now_ms();
    if (x->lat && len >= 12 + 8 + 8) {
        double sent;
        memcpy(&sent, p + len - 8, sizeof sent);
        long i = atomic_fetch_add(&x->nlat, 1);
        if (i < 100000) x->lat[i] = now_ms() - sent;
    }
}

/* The latency part's traffic: `n` 160-byte packets 0.5 ms apart, each carrying its send time
 * (ms) in its last 8 bytes. */
static void send_timestamped(side *x, int n) {
    uint8_t payload[160];
    for (int i = 0; i < n; i++) {
        double t = now_ms();
        memset(payload, 0, sizeof payload);
        memcpy(payload + sizeof payload - 8, &t, sizeof t);
        CHECK(wrs_session_send_media(x->s, x->track, payload, sizeof payload, (uint32_t)i, false));
        sleep_ms(0.5);
    }
}

/* Polling mode's drain loop for the latency part: poll() on the session's eventfd, then
 * wrs_session_next_event until none waits, timing each RTP event against the send time in
 * its payload. */
typedef struct {
    wrs_session *s;
    int fd;
    double *lat;
    long n;
    atomic_int stop;
} poller;

static void *poll_loop(void *arg) {
    poller *p = (poller *)arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd pfd = {p->fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0) continue;
        for (;;) {
            wrs_event e;
            if (wrs_session_next_event(p->s, &e) != WRS_RESULT_OK || e.kind == WRS_EVENT_TYPE_NONE) break;
            if (e.kind == WRS_EVENT_TYPE_RTP && e.len >= 12 + 8 + 8 && p->n < 100000) {
                double sent;
                memcpy(&sent, e.data + e.len - 8, sizeof sent);
                p->lat[p->n++] = now_ms() - sent;
            }
        }
    }
    return NULL;
}

/* WRS_BENCH_SHARED_PORT: every offerer of connect_pair on this one UDP port.
 * WRS_BENCH_KEEPALIVE_MS: ICE consent checks this often (default 2000; disconnected and failed
 * after 5 and 25 s as by default). */
static uint16_t shared_port;
static uint32_t keepalive_ms;

static void make(side *x, uint32_t profile, uint16_t port) {
    wrs_config *cfg;
    uint32_t codecs[] = {WRS_CODEC_VP8};
    memset(x, 0, sizeof *x);
    CHECK(wrs_config_new(&cfg));
    CHECK(wrs_config_add_local_address(cfg, "127.0.0.1"));
    if (profile) CHECK(wrs_config_set_srtp_profiles(cfg, &profile, 1));
    CHECK(wrs_config_set_shared_port(cfg, port));
    if (keepalive_ms) CHECK(wrs_config_set_ice_timeouts(cfg, 5000, 25000, keepalive_ms));
    /* WRS_BENCH_TWCC=0: no transport-wide numbering (to show what it costs the send path). */
    if (getenv("WRS_BENCH_TWCC") && atoi(getenv("WRS_BENCH_TWCC")) == 0) CHECK(wrs_config_set_transport_cc(cfg, false));
    /* WRS_BENCH_NACK=0: no send history (to compare the send path with and without it). */
    if (getenv("WRS_BENCH_NACK") && atoi(getenv("WRS_BENCH_NACK")) == 0) CHECK(wrs_config_set_nack(cfg, false));
    /* WRS_BENCH_RTCP=0: none of the library's RTCP (no report timer), for the idle cost. */
    if (getenv("WRS_BENCH_RTCP") && atoi(getenv("WRS_BENCH_RTCP")) == 2) CHECK(wrs_config_set_rtcp_reports(cfg, false));
    if (getenv("WRS_BENCH_RTCP") && atoi(getenv("WRS_BENCH_RTCP")) == 0) {
        CHECK(wrs_config_set_rtcp_reports(cfg, false));
        CHECK(wrs_config_set_nack(cfg, false));
    }
    CHECK(wrs_session_new(cfg, &x->s));
    wrs_config_free(cfg);
    CHECK(wrs_session_on_ice_candidate(x->s, on_candidate, x));
    CHECK(wrs_session_on_connection_state(x->s, on_state, x));
    CHECK(wrs_session_on_rtp(x->s, on_rtp, x));
    CHECK(wrs_session_add_track(x->s, WRS_MEDIA_KIND_VIDEO, codecs, 1, WRS_DIRECTION_SEND_RECV, &x->track));
}

/* Connects a and b; returns ms from applying the answer to both connected. */
static double connect_pair(side *a, side *b, uint32_t profile, double *t_offer) {
    char *offer, *answer;
    double t;
    make(a, profile, shared_port);
    make(b, 0, 0);
    a->other = b;
    b->other = a;
    *t_offer = now_ms();
    CHECK(wrs_session_create_offer(a->s, &offer));
    CHECK(wrs_session_set_remote_description(b->s, WRS_SDP_TYPE_OFFER, offer));
    CHECK(wrs_session_set_local_description(a->s, WRS_SDP_TYPE_OFFER, offer));
    CHECK(wrs_session_create_answer(b->s, &answer));
    t = now_ms();
    CHECK(wrs_session_set_remote_description(a->s, WRS_SDP_TYPE_ANSWER, answer));
    CHECK(wrs_session_set_local_description(b->s, WRS_SDP_TYPE_ANSWER, answer));
    wrs_string_free(offer);
    wrs_string_free(answer);
    while (!(atomic_load(&a->connected) && atomic_load(&b->connected))) {
        if (now_ms() - t > 10000) {
            fprintf(stderr, "pair did not connect\n");
            exit(1);
        }
        sleep_ms(0.05);
    }
    return now_ms() - t;
}

/* Connects a pair with `profile` and writes an RTP header for a's track into `pkt`. */
static void stream_pair(side *a, side *b, uint32_t profile, uint8_t *pkt) {
    double t_offer;
    uint8_t pt = 0;
    connect_pair(a, b, profile, &t_offer);
    CHECK(wrs_session_track_payload_type(a->s, a->track, &pt));
    memset(pkt, 0, 12);
    pkt[0] = 0x80;
    pkt[1] = pt;
}

static int cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* The median of n values (sorts them). */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long rss_kb(void) {
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    if (f) fclose(f);
    return rss * 4;
}

static int threads(void) {
    char line[256];
    int n = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

/* CPU time (ns, from the scheduler's per-thread accounting) of the library's own threads (the
 * media receive thread and the runtime): during a one-way stream, the receive path's cost. */
/* A thread's CPU time (ns) from /proc/self/task/<tid>/schedstat. */
static double thread_cpu_of(int tid) {
    char path[64];
    unsigned long long run_ns = 0;
    FILE *f;
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
    if (!(f = fopen(path, "r"))) return 0;
    if (fscanf(f, "%llu", &run_ns) != 1) run_ns = 0;
    fclose(f);
    return (double)run_ns;
}

static double library_cpu_ns(void) {
    double total = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], comm[64] = {0};
        unsigned long long run_ns = 0;
        FILE *f;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if (!(f = fopen(path, "r"))) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
        fclose(f);
        if (strncmp(comm, "wrs-runtime", 11) != 0 && strncmp(comm, "wrs-media", 9) != 0) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        if (!(f = fopen(path, "r"))) continue;
        if (fscanf(f, "%llu", &run_ns) == 1) total += (double)run_ns;
        fclose(f);
    }
    if (d) closedir(d);
    return total;
}

static void free_pair(side *a, side *b) {
    wrs_session_free(a->s);
    wrs_session_free(b->s);
}

int main(int argc, char **argv) {
    int pairs = argc > 1 ? atoi(argv[1]) : 100;
    const uint32_t profiles[] = {WRS_SRTP_PROFILE_AEAD_AES128_GCM, WRS_SRTP_PROFILE_AES128_CM_HMAC_SHA1_80};
    const char *names[] = {"AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80"};
    const size_t payloads[] = {160, 1200};
    static double setup[100], first_media[100];
    struct rlimit nofile = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &nofile);

    const char *only = getenv("WRS_BENCH_ONLY"); /* setup, send, receive, latency or memory */
    if (getenv("WRS_BENCH_SHARED_PORT")) shared_port = (uint16_t)atoi(getenv("WRS_BENCH_SHARED_PORT"));
    if (getenv("WRS_BENCH_KEEPALIVE_MS")) keepalive_ms = (uint32_t)atoi(getenv("WRS_BENCH_KEEPALIVE_MS"));
#define PART(name) (!only || strcmp(only, name) == 0)
    /* Setup: 100 pairs, one after the other. */
    for (int i = 0; i < (PART("setup") ? 100 : 0); i++) {
        side a, b;
        double t_offer;
        uint8_t payload[160] = {0};
        setup[i] = connect_pair(&a, &b, 0, &t_offer);
        CHECK(wrs_session_send_media(a.s, a.track, payload, sizeof payload, 0, false));
        while (atomic_load(&b.received) == 0) sleep_ms(0.02);
        first_media[i] = b.first_rx - t_offer;
        free_pair(&a, &b);
    }
    if (PART("setup")) {
        qsort(setup, 100, sizeof(double), cmp);
        qsort(first_media, 100, sizeof(double), cmp);
        printf("bench setup_answer_to_connected_median %.2f ms\n", setup[50]);
        printf("bench setup_answer_to_connected_p95 %.2f ms\n", setup[95]);
        printf("bench setup_offer_to_first_media_median %.2f ms\n", first_media[50]);
        printf("bench setup_offer_to_first_media_p95 %.2f ms\n", first_media[95]);
    }

    /* Send, per profile and size: the library's send_rtp (and send_rtp_batch, 32 packets per
     * call) next to the limit (floor.h: OpenSSL protect in place + sendto, or + one UDP GSO
     * sendmsg per 32) in this same process, in alternating blocks of SEND_BLOCK packets for
     * SEND_ROUNDS rounds (which goes first alternates too). The machine's noise moves both
     * sides of a round alike, so the median of the rounds' ratios is the stable figure; the
     * medians of the times are printed too. Each side's packets go to a receiver that
     * unprotects them: the peer session, or a sink thread (floor.h's drain). */
    for (int p = 0; p < (PART("send") ? 2 : 0); p++) {
        for (int z = 0; z < 2; z++) {
            enum { SEND_ROUNDS = 9, SEND_BLOCK = 8000 };
            static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
            static uint8_t many[32][12 + 1200];
            side a, b;
            uint8_t pkt[12 + 1200] = {0};
            wrs_packet batch[32];
            double lib[2][SEND_ROUNDS], lim[2][SEND_ROUNDS], ratio[2][SEND_ROUNDS];
            struct sockaddr_in sink;
            floor_keys k;
            drain d;
            long seq = 0, floor_seq = 0;
            int fd = socket(AF_INET, SOCK_DGRAM, 0);
            size_t len = 12 + payloads[z];
            stream_pair(&a, &b, profiles[p], pkt);
            drain_start(&d, &sink, p, key, 0);
            floor_keys_init(&k, p, key);
            for (int j = 0; j < 32; j++) {
                memcpy(many[j], pkt, sizeof pkt);
                batch[j].track = a.track;
                batch[j].data = many[j];
                batch[j].len = len;
            }
            for (int r = 0; r < SEND_ROUNDS; r++) {
                for (int gso = 0; gso < 2; gso++) {
                    for (int turn = 0; turn < 2; turn++) {
                        if ((turn + r) % 2 == 1) {
                            lim[gso][r] = floor_send(fd, &sink, &k, len, SEND_BLOCK, gso, (int)floor_seq);
                            floor_seq += SEND_BLOCK;
                            continue;
                        }
                        double t0 = now_ns();
                        for (int i = 0; i < SEND_BLOCK; i += gso ? 32 : 1, seq += gso ? 32 : 1) {
                            if (!gso) {
                                pkt[2] = (uint8_t)(seq >> 8);
                                pkt[3] = (uint8_t)seq;
                                CHECK(wrs_session_send_rtp(a.s, a.track, pkt, len));
                                continue;
                            }
                            for (int j = 0; j < 32; j++) {
                                many[j][2] = (uint8_t)((seq + j) >> 8);
                                many[j][3] = (uint8_t)(seq + j);
                            }
                            CHECK(wrs_session_send_rtp_batch(a.s, batch, 32));
                        }
                        lib[gso][r] = (now_ns() - t0) / SEND_BLOCK;
                    }
                    ratio[gso][r] = lib[gso][r] / lim[gso][r];
                }
            }
            sleep_ms(300);
            drain_stop(&d);
            close(fd);
            floor_keys_free(&k);
            for (int gso = 0; gso < 2; gso++) {
                const char *what = gso ? "send_rtp_batch" : "send_rtp";
                printf("bench %s_%s_%zu %.0f ns/packet\n", what, names[p], payloads[z], median(lib[gso], SEND_ROUNDS));
                printf("bench %s_limit_%s_%zu %.0f ns/packet\n", what, names[p], payloads[z], median(lim[gso], SEND_ROUNDS));
                printf("bench %s_ratio_%s_%zu %.2f x (median of %d rounds)\n", what, names[p], payloads[z], median(ratio[gso], SEND_ROUNDS), SEND_ROUNDS);
            }
            printf("bench received_%s_%zu %.1f %% (sent as fast as possible)\n", names[p], payloads[z],
                   100.0 * (double)atomic_load(&b.received) / (double)seq);
            free_pair(&a, &b);
        }
    }

    /* Receive, per profile and size: packets paced at 100,000 per second, in alternating
     * blocks of RECV_BLOCK packets for RECV_ROUNDS rounds, to the library's receiving session
     * (its threads' CPU time per packet received) and to two limits in this same process
     * (floor.h's drain thread's CPU time per packet): a thread blocking in recv() on one
     * socket, and one reading as a multi-socket server must (epoll_wait + recvmmsg). Prints the
     * medians and the median of the rounds' ratios; loss is over the library's blocks. */
    for (int p = 0; p < (PART("receive") ? 2 : 0); p++) {
        for (int z = 0; z < 2; z++) {
            enum { RECV_ROUNDS = 7, RECV_BLOCK = 20000 };
            static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
            side a, b;
            uint8_t pkt[12 + 1200] = {0};
            size_t len = 12 + payloads[z];
            double lib[RECV_ROUNDS], lim[2][RECV_ROUNDS], ratio[2][RECV_ROUNDS];
            struct sockaddr_in sink[2];
            drain d[2];
            floor_keys k;
            long seq = 0, floor_seq = 0, sent = 0, got = 0;
            int fd = socket(AF_INET, SOCK_DGRAM, 0);
            stream_pair(&a, &b, profiles[p], pkt);
            floor_keys_init(&k, p, key);
            for (int e = 0; e < 2; e++) drain_start(&d[e], &sink[e], p, key, e);
            sleep_ms(50);
            for (int r = 0; r < RECV_ROUNDS; r++) {
                for (int turn = 0; turn < 3; turn++) {
                    int who = (turn + r) % 3; /* 0: library, 1: recv limit, 2: epoll limit */
                    long before = who ? atomic_load(&d[who - 1].received) : atomic_load(&b.received);
                    double cpu0 = who ? thread_cpu_of(atomic_load(&d[who - 1].tid)) : library_cpu_ns();
                    double t0 = now_ms();
                    for (int i = 0; i < RECV_BLOCK; i++) {
                        while (now_ms() < t0 + i * 0.01) {
                        }
                        if (who) {
                            floor_send(fd, &sink[who - 1], &k, len, 1, 0, (int)floor_seq++);
                            continue;
                        }
                        pkt[2] = (uint8_t)(seq >> 8);
                        pkt[3] = (uint8_t)seq++;
                        CHECK(wrs_session_send_rtp(a.s, a.track, pkt, len));
                    }
                    sleep_ms(30);
                    long n = (who ? atomic_load(&d[who - 1].received) : atomic_load(&b.received)) - before;
                    double cpu = (who ? thread_cpu_of(atomic_load(&d[who - 1].tid)) : library_cpu_ns()) - cpu0;
                    double per = n ? cpu / (double)n : 0.0;
                    if (who) {
                        lim[who - 1][r] = per;
                    } else {
                        lib[r] = per;
                        sent += RECV_BLOCK;
                        got += n;
                    }
                }
                ratio[0][r] = lib[r] / lim[0][r];
                ratio[1][r] = lib[r] / lim[1][r];
            }
            for (int e = 0; e < 2; e++) drain_stop(&d[e]);
            close(fd);
            floor_keys_free(&k);
            printf("bench receive_%s_%zu %.0f ns/packet\n", names[p], payloads[z], median(lib, RECV_ROUNDS));
            printf("bench receive_limit_%s_%zu %.0f ns/packet\n", names[p], payloads[z], median(lim[0], RECV_ROUNDS));
            printf("bench receive_ratio_%s_%zu %.2f x (median of %d rounds)\n", names[p], payloads[z], median(ratio[0], RECV_ROUNDS), RECV_ROUNDS);
            printf("bench receive_limit_epoll_%s_%zu %.0f ns/packet\n", names[p], payloads[z], median(lim[1], RECV_ROUNDS));
            printf("bench receive_ratio_epoll_%s_%zu %.2f x (median of %d rounds)\n", names[p], payloads[z], median(ratio[1], RECV_ROUNDS), RECV_ROUNDS);
            printf("bench receive_loss_100kpps_%s_%zu %.3f %%\n", names[p], payloads[z], 100.0 * (double)(sent - got) / (double)sent);
            free_pair(&a, &b);
        }
    }

    /* Latency: paced packets carrying their send time. */
    if (PART("latency")) {
        side a, b;
        double t_offer;
        static double lat[100000];
        connect_pair(&a, &b, 0, &t_offer);
        b.lat = lat;
        send_timestamped(&a, 2000);
        sleep_ms(100);
        long n = atomic_load(&b.nlat);
        qsort(lat, (size_t)n, sizeof(double), cmp);
        double cb50 = lat[n / 2], cb99 = lat[n * 99 / 100];
        printf("bench latency_send_to_on_rtp_p50 %.1f us\n", cb50 * 1000);
        printf("bench latency_send_to_on_rtp_p99 %.1f us\n", cb99 * 1000);
        free_pair(&a, &b);
        /* The same through polling mode: b's events drained by a thread of the host's from
         * its eventfd (no library thread calls the host). */
        {
            static double plat[100000];
            side c, d;
            poller pl = {0};
            pthread_t th;
            connect_pair(&c, &d, 0, &t_offer);
            pl.s = d.s;
            pl.lat = plat;
            CHECK(wrs_session_use_polling(d.s, &pl.fd));
            pthread_create(&th, NULL, poll_loop, &pl);
            send_timestamped(&c, 2000);
            sleep_ms(100);
            atomic_store(&pl.stop, 1);
            pthread_join(th, NULL);
            qsort(plat, (size_t)pl.n, sizeof(double), cmp);
            if (pl.n > 0) {
                double p50 = plat[pl.n / 2], p99 = plat[pl.n * 99 / 100];
                printf("bench latency_send_to_polled_event_p50 %.1f us\n", p50 * 1000);
                printf("bench latency_send_to_polled_event_p99 %.1f us\n", p99 * 1000);
                printf("bench latency_polled_vs_callback_ratio_p50 %.2f x (goal <= 1.5)\n", p50 / cb50);
                printf("bench latency_polled_vs_callback_ratio_p99 %.2f x (goal <= 1.5)\n", p99 / cb99);
            }
            free_pair(&c, &d);
        }
    }

    /* A 1 MB VP8 keyframe through send_frame (the library's RFC 7741 packetizer) against the
     * same packets prebuilt and sent with send_media, alternately in one run (goal: at most
     * 1.1x; issue #14). */
    if (PART("frame")) {
        enum { FRAME = 1 << 20, CHUNK = 1199, MAXP = FRAME / CHUNK + 1, ROUNDS = 9 };
        static uint8_t frame[FRAME];
        static uint8_t prebuilt[MAXP][CHUNK + 1];
        static size_t lens[MAXP];
        double lib[ROUNDS], pre[ROUNDS], ratio[ROUNDS], t_offer;
        int n = 0;
        side a, b;
        for (size_t i = 0; i < FRAME; i++) frame[i] = (uint8_t)(i * 31 + 7);
        for (size_t off = 0; off < FRAME; off += CHUNK, n++) {
            size_t len = FRAME - off < CHUNK ? FRAME - off : CHUNK;
            prebuilt[n][0] = off == 0 ? 0x10 : 0x00;
            memcpy(prebuilt[n] + 1, frame + off, len);
            lens[n] = len + 1;
        }
        connect_pair(&a, &b, 0, &t_offer);
        for (int r = 0; r < ROUNDS; r++) {
            for (int turn = 0; turn < 2; turn++) {
                double t0 = now_ms();
                if ((turn + r) % 2 == 0) {
                    CHECK(wrs_session_send_frame(a.s, a.track, frame, FRAME, (uint32_t)(r * 6000)));
                    lib[r] = now_ms() - t0;
                } else {
                    for (int k = 0; k < n; k++)
                        CHECK(wrs_session_send_media(a.s, a.track, prebuilt[k], lens[k], (uint32_t)(r * 6000 + 3000), k == n - 1));
                    pre[r] = now_ms() - t0;
                }
                sleep_ms(50);
            }
            ratio[r] = lib[r] / pre[r];
        }
        printf("bench send_frame_1mb_vp8 %.2f ms (%d packets)\n", median(lib, ROUNDS), n);
        printf("bench send_prebuilt_1mb_vp8 %.2f ms\n", median(pre, ROUNDS));
        printf("bench send_frame_vs_prebuilt_ratio %.2f x (median of %d rounds; goal <= 1.1)\n", median(ratio, ROUNDS), ROUNDS);
        free_pair(&a, &b);
    }

    /* Idle: `pairs` pairs of connected video sessions sending nothing, CPU time over 5 s
     * (ICE consent, and with RTCP on a report per session every 0.5-1.5 s). scripts/bench.sh
     * runs it with RTCP on and off (WRS_BENCH_RTCP=0): the difference is the report timers. */
    if (only && strcmp(only, "idle") == 0) {
        side *all = calloc((size_t)pairs * 2, sizeof(side));
        struct rusage r0, r1;
        double start, cpu0, cpu1, t_offer;
        for (int i = 0; i < pairs; i++) connect_pair(&all[2 * i], &all[2 * i + 1], 0, &t_offer);
        sleep_ms(2000);
        start = now_ms();
        getrusage(RUSAGE_SELF, &r0);
        sleep_ms(5000);
        getrusage(RUSAGE_SELF, &r1);
        cpu0 = (double)r0.ru_utime.tv_sec + (double)r0.ru_stime.tv_sec + (r0.ru_utime.tv_usec + r0.ru_stime.tv_usec) / 1e6;
        cpu1 = (double)r1.ru_utime.tv_sec + (double)r1.ru_stime.tv_sec + (r1.ru_utime.tv_usec + r1.ru_stime.tv_usec) / 1e6;
        printf("bench idle_%d_sessions_rtcp_%s_cpu %.4f cpu-seconds/second\n", 2 * pairs,
               getenv("WRS_BENCH_RTCP") && atoi(getenv("WRS_BENCH_RTCP")) == 0 ? "off" : "on",
               (cpu1 - cpu0) / ((now_ms() - start) / 1000.0));
        for (int i = 0; i < pairs; i++) free_pair(&all[2 * i], &all[2 * i + 1]);
        free(all);
        return 0;
    }

    /* Memory and threads per connected session: `pairs` pairs connected, then as many again.
     * The first figure includes the process's one-off costs (runtime, OpenSSL tables, malloc
     * arenas) spread over the sessions; the marginal one is what each further session adds. */
    if (PART("memory")) {
        side *all = calloc((size_t)pairs * 4, sizeof(side));
        long before = rss_kb(), middle;
        double t_offer;
        for (int i = 0; i < pairs; i++) connect_pair(&all[2 * i], &all[2 * i + 1], 0, &t_offer);
        sleep_ms(500);
        middle = rss_kb();
        printf("bench rss_per_connected_session_first_%d_pairs %.1f KB\n", pairs, (double)(middle - before) / (2.0 * pairs));
        for (int i = pairs; i < 2 * pairs; i++) connect_pair(&all[2 * i], &all[2 * i + 1], 0, &t_offer);
        sleep_ms(500);
        printf("bench rss_per_connected_session_marginal_%d_to_%d_pairs %.1f KB\n", pairs, 2 * pairs,
               (double)(rss_kb() - middle) / (2.0 * pairs));
        printf("bench threads_at_%d_pairs %d threads\n", 2 * pairs, threads());
        for (int i = pairs; i < 2 * pairs; i++) free_pair(&all[2 * i], &all[2 * i + 1]);
        {
            /* Connected but silent: the cost of keeping the sessions alive (ICE consent, timers). */
            struct rusage r0, r1;
            double start = now_ms(), cpu0, cpu1;
            getrusage(RUSAGE_SELF, &r0);
            sleep_ms(3000);
            getrusage(RUSAGE_SELF, &r1);
            cpu0 = (double)r0.ru_utime.tv_sec + (double)r0.ru_stime.tv_sec + (r0.ru_utime.tv_usec + r0.ru_stime.tv_usec) / 1e6;
            cpu1 = (double)r1.ru_utime.tv_sec + (double)r1.ru_stime.tv_sec + (r1.ru_utime.tv_usec + r1.ru_stime.tv_usec) / 1e6;
            printf("bench idle_%d_pairs_cpu %.3f cpu-seconds/second\n", pairs, (cpu1 - cpu0) / ((now_ms() - start) / 1000.0));
        }
        /* Scale: every session sends 160-byte audio at 50 packets/s for 5 s (both directions of
         * every pair), from this one thread; CPU seconds per wall second for the whole process. */
        {
            struct rusage r0, r1;
            uint8_t payload[160] = {0};
            long sent = 0, received = 0;
            double start = now_ms(), cpu0, cpu1;
            for (int i = 0; i < 2 * pairs; i++) atomic_store(&all[i].received, 0);
            getrusage(RUSAGE_SELF, &r0);
            for (uint32_t tick = 0; tick < 250; tick++) {
                for (int i = 0; i < 2 * pairs; i++) {
                    if (wrs_session_send_media(all[i].s, all[i].track, payload, sizeof payload, tick * 160u, false) == WRS_RESULT_OK)
                        sent++;
                }
                sleep_ms(start + (tick + 1) * 20.0 - now_ms());
            }
            sleep_ms(300);
            getrusage(RUSAGE_SELF, &r1);
            for (int i = 0; i < 2 * pairs; i++) received += atomic_load(&all[i].received);
            cpu0 = (double)r0.ru_utime.tv_sec + (double)r0.ru_stime.tv_sec + (r0.ru_utime.tv_usec + r0.ru_stime.tv_usec) / 1e6;
            cpu1 = (double)r1.ru_utime.tv_sec + (double)r1.ru_stime.tv_sec + (r1.ru_utime.tv_usec + r1.ru_stime.tv_usec) / 1e6;
            printf("bench scale_%d_pairs_50pps_cpu %.2f cpu-seconds/second\n", pairs, (cpu1 - cpu0) / ((now_ms() - start) / 1000.0));
            printf("bench scale_%d_pairs_50pps_loss %.3f %%\n", pairs, sent ? 100.0 * (double)(sent - received) / (double)sent : 100.0);
        }
        for (int i = 0; i < pairs; i++) free_pair(&all[2 * i], &all[2 * i + 1]);
        free(all);
    }
    return 0;
}
