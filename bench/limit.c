/* The physical limit the library's media path is compared with.
 * Send: SRTP-like protect in place with OpenSSL (AES-128-GCM, or AES-128-CTR + HMAC-SHA1-80),
 * then one sendto per packet, or UDP GSO batches of 32 (UDP_SEGMENT), to a socket that a
 * second thread drains and unprotects (as the library's peer does).
 * Receive: packets paced at 100,000 per second; a thread recv()s and unprotects each (tag
 * checked, payload decrypted in place); its CPU time per packet is the receive limit.
 * recv_epoll: the same read as a thread serving many sockets must do it (epoll_wait, then
 * recvmmsg of up to 32 with source addresses until the socket is empty).
 * Prints one line per case:
 * Protect: the same protect without sending (fastest of 15 runs): the SRTP floor.
 *   limit <profile> <payload> <protect|single|gso|recv|recv_epoll> <ns/packet>
 * Scale: `limit <pairs> scale` prints the CPU seconds per second of the scale figure's limit;
 * `limit <pairs> scale-shared` the same with one side of every pair on one shared socket.
 * usage: limit <packets> [protect]   ("protect": only the SRTP floor)
 *        limit <pairs> scale|scale-shared */
#include <stdlib.h>
#include <sys/resource.h>

#include "floor.h"

typedef struct {
    int ep, nfds;
    const uint8_t *key;
    atomic_int stop;
    long received;
} scale_rx;

/* One thread for every socket: epoll, recvmmsg (up to 32), unprotect (GCM), as a minimal
 * multi-session server. */
static void *scale_rx_main(void *arg) {
    scale_rx *r = arg;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    struct epoll_event ev[64];
    static mmsg_batch b;
    batch_init(&b);
    EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, r->key, NULL);
    while (!atomic_load(&r->stop)) {
        int n = epoll_wait(r->ep, ev, 64, 20);
        for (int i = 0; i < n; i++) {
            int got;
            do {
                got = recv_batch(ev[i].data.fd, &b);
                for (int j = 0; j < got; j++) r->received += unprotect_gcm(c, r->key, b.buf[j], b.msgs[j].msg_len);
            } while (got == 32);
        }
    }
    EVP_CIPHER_CTX_free(c);
    return NULL;
}

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* The scale figure's limit: `pairs` pairs of UDP sockets on 127.0.0.1, each socket sending
 * 160-byte GCM-protected packets at 50/s to its partner (from one thread, as the library's
 * bench does), one epoll thread receiving and unprotecting all; 5 s. `shared`: the first side
 * of every pair is one socket for all (as sessions on a shared port). */
static void scale(int pairs, const uint8_t *key, int shared) {
    int n = 2 * pairs, ep = epoll_create1(0);
    int *fd = calloc((size_t)n, sizeof(int));
    struct sockaddr_in *addr = calloc((size_t)n, sizeof *addr);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t pkt[1500];
    scale_rx r = {.ep = ep, .nfds = n, .key = key};
    pthread_t rx;
    long sent = 0;
    double start, cpu0;
    struct rlimit nofile = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &nofile);
    for (int i = 0; i < n; i++) {
        struct epoll_event e = {.events = EPOLLIN};
        if (shared && i % 2 == 0 && i > 0) {
            fd[i] = fd[0];
            addr[i] = addr[0];
            continue;
        }
        addr[i].sin_family = AF_INET;
        addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd[i] = fresh_sink(&addr[i]);
        e.data.fd = fd[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &e);
    }
    EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL);
    pthread_create(&rx, NULL, scale_rx_main, &r);
    start = now_ns();
    cpu0 = cpu_seconds();
    for (int tick = 0; tick < 250; tick++) {
        for (int i = 0; i < n; i++) {
            size_t out;
            memset(pkt, 0x80, 12 + 160);
            pkt[2] = (uint8_t)(tick >> 8);
            pkt[3] = (uint8_t)tick;
            out = protect_gcm(c, key, pkt, 12 + 160, (uint32_t)tick);
            sendto(fd[i], pkt, out, 0, (struct sockaddr *)&addr[i ^ 1], sizeof addr[i]);
            sent++;
        }
        while (now_ns() < start + (tick + 1) * 20e6) usleep(200);
    }
    usleep(300000);
    atomic_store(&r.stop, 1);
    pthread_join(rx, NULL);
    printf("limit %s %d cpu %.3f\n", shared ? "scale-shared" : "scale", pairs, (cpu_seconds() - cpu0) / ((now_ns() - start) / 1e9));
    if (r.received != sent) fprintf(stderr, "limit scale: %ld of %ld received\n", r.received, sent);
    for (int i = 0; i < n; i++)
        if (!shared || i % 2 == 1 || i == 0) close(fd[i]);
    close(ep);
    free(fd);
    free(addr);
    EVP_CIPHER_CTX_free(c);
}

int main(int argc, char **argv) {
    int packets = argc > 1 ? atoi(argv[1]) : 100000;
    int protect_only = argc > 2 && strcmp(argv[2], "protect") == 0;
    if (argc > 2 && strncmp(argv[2], "scale", 5) == 0) {
        uint8_t k[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        scale(packets, k, strcmp(argv[2], "scale-shared") == 0);
        return 0;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to;
    uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    static uint8_t buf[1500];
    const size_t payloads[] = {160, 1200};
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int profile = 0; profile < 2; profile++) {
        /* Keyed once, as the library keys its contexts once per session. */
        floor_keys k;
        floor_keys_init(&k, profile, key);
        EVP_CIPHER_CTX *c = k.c;
        HMAC_CTX *h = k.h;
        for (int p = 0; p < 2; p++) {
            /* Protect alone (no send): the SRTP floor. Fastest of 15 runs of 20,000 (the
             * minimum is the stable estimate on a noisy machine). */
            size_t plen = 12 + payloads[p];
            double best = 1e18;
            for (int r = 0; r < 15; r++) {
                double t0 = now_ns();
                for (int i = 0; i < 20000; i++) {
                    memset(buf, 0x80, plen);
                    if (profile == 0)
                        protect_gcm(c, key, buf, plen, (uint32_t)i);
                    else
                        protect_cm(c, h, key, buf, plen, (uint32_t)i);
                }
                double t = (now_ns() - t0) / 20000;
                if (t < best) best = t;
            }
            printf("limit %s %zu protect %.0f\n", profile == 0 ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80", payloads[p], best);
        }
        for (int p = 0; p < (protect_only ? 0 : 2); p++) {
            size_t len = 12 + payloads[p];
            for (int gso = 0; gso < 2; gso++) {
                drain d;
                drain_start(&d, &to, profile, key, 0);
                double elapsed = floor_send(fd, &to, &k, len, packets, gso, 0);
                drain_stop(&d);
                printf("limit %s %zu %s %.0f\n", profile == 0 ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80",
                       payloads[p], gso ? "gso" : "single", elapsed);
            }
            for (int epoll = 0; epoll < 2; epoll++) {
                /* Receive: protected packets paced at 100,000/s; the reader unprotects them. */
                drain d;
                drain_start(&d, &to, profile, key, epoll);
                double t0 = now_ns();
                for (int i = 0; i < packets; i++) {
                    while (now_ns() < t0 + i * 10000.0) {
                    }
                    floor_send(fd, &to, &k, len, 1, 0, i);
                }
                usleep(100000);
                drain_stop(&d);
                printf("limit %s %zu %s %.0f\n", profile == 0 ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80",
                       payloads[p], epoll ? "recv_epoll" : "recv", d.received ? d.cpu_ns / (double)d.received : 0.0);
            }
        }
        floor_keys_free(&k);
    }
    close(fd);
    return 0;
}
