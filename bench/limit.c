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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* GCM: 12-byte header as AAD, payload encrypted in place, 16-byte tag appended. */
static size_t protect_gcm(EVP_CIPHER_CTX *c, const uint8_t *key, uint8_t *pkt, size_t len, uint32_t seq) {
    uint8_t iv[12] = {0};
    int n;
    iv[8] = (uint8_t)(seq >> 8);
    iv[9] = (uint8_t)seq;
    (void)key;
    EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv);
    EVP_EncryptUpdate(c, NULL, &n, pkt, 12);
    EVP_EncryptUpdate(c, pkt + 12, &n, pkt + 12, (int)len - 12);
    EVP_EncryptFinal_ex(c, pkt + len, &n);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, pkt + len);
    return len + 16;
}

/* AES-CM: payload XORed with AES-128-CTR, HMAC-SHA1 over packet || ROC, 10 bytes appended. */
static size_t protect_cm(EVP_CIPHER_CTX *c, HMAC_CTX *h, const uint8_t *key, uint8_t *pkt, size_t len, uint32_t seq) {
    uint8_t iv[16] = {0}, roc[4] = {0}, mac[20];
    (void)key;
    unsigned int maclen;
    int n;
    iv[12] = (uint8_t)(seq >> 8);
    iv[13] = (uint8_t)seq;
    EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv);
    EVP_EncryptUpdate(c, pkt + 12, &n, pkt + 12, (int)len - 12);
    HMAC_Init_ex(h, NULL, 0, NULL, NULL);
    HMAC_Update(h, pkt, len);
    HMAC_Update(h, roc, 4);
    HMAC_Final(h, mac, &maclen);
    memcpy(pkt + len, mac, 10);
    return len + 10;
}

/* The unprotect side of protect_gcm / protect_cm; returns 0 when the tag does not verify. */
static int unprotect_gcm(EVP_CIPHER_CTX *c, const uint8_t *key, uint8_t *pkt, size_t len) {
    uint8_t iv[12] = {0};
    int n;
    iv[8] = pkt[2];
    iv[9] = pkt[3];
    (void)key;
    EVP_DecryptInit_ex(c, NULL, NULL, NULL, iv);
    EVP_DecryptUpdate(c, NULL, &n, pkt, 12);
    EVP_DecryptUpdate(c, pkt + 12, &n, pkt + 12, (int)len - 28);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, pkt + len - 16);
    return EVP_DecryptFinal_ex(c, pkt + len - 16, &n) > 0;
}

static int unprotect_cm(EVP_CIPHER_CTX *c, HMAC_CTX *h, const uint8_t *key, uint8_t *pkt, size_t len) {
    uint8_t iv[16] = {0}, roc[4] = {0}, mac[20];
    unsigned int maclen;
    int n;
    (void)key;
    HMAC_Init_ex(h, NULL, 0, NULL, NULL);
    HMAC_Update(h, pkt, len - 10);
    HMAC_Update(h, roc, 4);
    HMAC_Final(h, mac, &maclen);
    if (CRYPTO_memcmp(mac, pkt + len - 10, 10) != 0) return 0;
    iv[12] = pkt[2];
    iv[13] = pkt[3];
    EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv);
    EVP_EncryptUpdate(c, pkt + 12, &n, pkt + 12, (int)len - 22);
    return 1;
}

static double thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Up to 32 datagrams with their source addresses, as a thread serving many sockets reads. */
typedef struct {
    uint8_t buf[32][1500];
    struct sockaddr_storage addr[32];
    struct iovec iov[32];
    struct mmsghdr msgs[32];
} mmsg_batch;

/* The headers, set up once (as the library does). */
static void batch_init(mmsg_batch *b) {
    memset(b->msgs, 0, sizeof b->msgs);
    for (int j = 0; j < 32; j++) {
        b->iov[j].iov_base = b->buf[j];
        b->iov[j].iov_len = sizeof b->buf[j];
        b->msgs[j].msg_hdr.msg_iov = &b->iov[j];
        b->msgs[j].msg_hdr.msg_iovlen = 1;
        b->msgs[j].msg_hdr.msg_name = &b->addr[j];
    }
}

/* One recvmmsg into `b`; returns the count, or <= 0. */
static int recv_batch(int fd, mmsg_batch *b) {
    for (int j = 0; j < 32; j++) b->msgs[j].msg_hdr.msg_namelen = sizeof b->addr[j];
    return recvmmsg(fd, b->msgs, 32, MSG_DONTWAIT, NULL);
}

typedef struct {
    int fd, profile, unprotect;
    int epoll; /* read as a multi-socket server must: epoll_wait, then recvmmsg with addresses */
    const uint8_t *key;
    atomic_int stop;
    long received, verified;
    double cpu_ns;
} drain;

/* Reads (and, when asked, unprotects) until told to stop; measures its own CPU time. */
static void *drain_main(void *arg) {
    drain *d = arg;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    HMAC_CTX *h = HMAC_CTX_new();
    uint8_t buf[2048];
    struct timeval tv = {0, 20000};
    double t0;
    /* Keyed once; a packet sets only its IV (and HMAC restarts from the keyed state). */
    HMAC_Init_ex(h, d->key, 20, EVP_sha1(), NULL);
    if (d->profile == 0)
        EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, d->key, NULL);
    else
        EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, d->key, NULL);
    t0 = thread_cpu_ns();
    setsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (d->epoll) {
        static mmsg_batch b;
        struct epoll_event ev = {.events = EPOLLIN}, out;
        int ep = epoll_create1(0);
        batch_init(&b);
        ev.data.fd = d->fd;
        epoll_ctl(ep, EPOLL_CTL_ADD, d->fd, &ev);
        while (!atomic_load(&d->stop)) {
            int got;
            if (epoll_wait(ep, &out, 1, 20) <= 0) continue;
            do {
                got = recv_batch(d->fd, &b);
                for (int j = 0; j < got; j++) {
                    d->received++;
                    d->verified += d->profile == 0 ? unprotect_gcm(c, d->key, b.buf[j], b.msgs[j].msg_len)
                                                   : unprotect_cm(c, h, d->key, b.buf[j], b.msgs[j].msg_len);
                }
            } while (got == 32);
        }
        close(ep);
    }
    while (!d->epoll && !atomic_load(&d->stop)) {
        ssize_t n = recv(d->fd, buf, sizeof buf, 0);
        if (n <= 0) continue;
        d->received++;
        if (d->unprotect)
            d->verified += d->profile == 0 ? unprotect_gcm(c, d->key, buf, (size_t)n) : unprotect_cm(c, h, d->key, buf, (size_t)n);
    }
    d->cpu_ns = thread_cpu_ns() - t0;
    EVP_CIPHER_CTX_free(c);
    HMAC_CTX_free(h);
    return NULL;
}

/* A receiving socket on 127.0.0.1 with a 4 MB buffer, as the library's; `to` gets its address. */
static int fresh_sink(struct sockaddr_in *to) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 4 << 20;
    socklen_t len = sizeof *to;
    to->sin_port = 0;
    bind(fd, (struct sockaddr *)to, sizeof *to);
    getsockname(fd, (struct sockaddr *)to, &len);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    return fd;
}

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
    static uint8_t batch[32][1500];
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    HMAC_CTX *h = HMAC_CTX_new();
    const size_t payloads[] = {160, 1200};
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Keyed once, as the library keys its contexts once per session. */
    HMAC_Init_ex(h, key, 20, EVP_sha1(), NULL);
    for (int profile = 0; profile < 2; profile++) {
        if (profile == 0)
            EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL);
        else
            EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, NULL);
        for (int p = 0; p < 2; p++) {
            /* Protect alone (no send): the SRTP floor. Fastest of 15 runs of 20,000 (the
             * minimum is the stable estimate on a noisy machine). */
            size_t plen = 12 + payloads[p];
            double best = 1e18;
            for (int r = 0; r < 15; r++) {
                double t0 = now_ns();
                for (int i = 0; i < 20000; i++) {
                    memset(batch[0], 0x80, plen);
                    if (profile == 0)
                        protect_gcm(c, key, batch[0], plen, (uint32_t)i);
                    else
                        protect_cm(c, h, key, batch[0], plen, (uint32_t)i);
                }
                double t = (now_ns() - t0) / 20000;
                if (t < best) best = t;
            }
            printf("limit %s %zu protect %.0f\n", profile == 0 ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80", payloads[p], best);
        }
        for (int p = 0; p < (protect_only ? 0 : 2); p++) {
            size_t len = 12 + payloads[p];
            for (int gso = 0; gso < 2; gso++) {
                drain d = {.fd = fresh_sink(&to), .profile = profile, .key = key, .unprotect = 1};
                pthread_t reader;
                pthread_create(&reader, NULL, drain_main, &d);
                double t0 = now_ns();
                for (int i = 0; i < packets;) {
                    int k = gso ? 32 : 1, j;
                    size_t out = 0;
                    for (j = 0; j < k && i < packets; j++, i++) {
                        memset(batch[j], 0x80, len);
                        batch[j][2] = (uint8_t)(i >> 8);
                        batch[j][3] = (uint8_t)i;
                        out = profile == 0 ? protect_gcm(c, key, batch[j], len, (uint32_t)(i & 0xffff))
                                           : protect_cm(c, h, key, batch[j], len, (uint32_t)(i & 0xffff));
                    }
                    if (!gso) {
                        sendto(fd, batch[0], out, 0, (struct sockaddr *)&to, sizeof to);
                    } else {
                        /* One sendmsg of j equal segments. */
                        static uint8_t joined[32 * 1500];
                        char ctrl[CMSG_SPACE(sizeof(uint16_t))];
                        struct iovec iov;
                        struct msghdr msg;
                        struct cmsghdr *cm;
                        for (int m = 0; m < j; m++) memcpy(joined + (size_t)m * out, batch[m], out);
                        iov.iov_base = joined;
                        iov.iov_len = out * (size_t)j;
                        memset(&msg, 0, sizeof msg);
                        msg.msg_name = &to;
                        msg.msg_namelen = sizeof to;
                        msg.msg_iov = &iov;
                        msg.msg_iovlen = 1;
                        msg.msg_control = ctrl;
                        msg.msg_controllen = sizeof ctrl;
                        cm = CMSG_FIRSTHDR(&msg);
                        cm->cmsg_level = SOL_UDP;
                        cm->cmsg_type = UDP_SEGMENT;
                        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                        *(uint16_t *)CMSG_DATA(cm) = (uint16_t)out;
                        sendmsg(fd, &msg, 0);
                    }
                }
                double elapsed = now_ns() - t0;
                atomic_store(&d.stop, 1);
                pthread_join(reader, NULL);
                close(d.fd);
                if (d.verified != d.received) fprintf(stderr, "limit: profile %d payload %zu: %ld of %ld verified\n", profile, payloads[p], d.verified, d.received);
                printf("limit %s %zu %s %.0f\n", profile == 0 ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80",
                       payloads[p], gso ? "gso" : "single", elapsed / packets);
            }
            for (int epoll = 0; epoll < 2; epoll++) {
                /* Receive: protected packets paced at 100,000/s; the reader unprotects them. */
                drain d = {.fd = fresh_sink(&to), .profile = profile, .key = key, .unprotect = 1, .epoll = epoll};
                pthread_t reader;
                pthread_create(&reader, NULL, drain_main, &d);
                double t0 = now_ns();
                for (int i = 0; i < packets; i++) {
                    size_t out;
                    while (now_ns() < t0 + i * 10000.0) {
                    }
                    memset(batch[0], 0x80, len);
                    batch[0][2] = (uint8_t)(i >> 8);
                    batch[0][3] = (uint8_t)i;
                    out = profile == 0 ? protect_gcm(c, key, batch[0], len, (uint32_t)(i & 0xffff))
                                       : protect_cm(c, h, key, batch[0], len, (uint32_t)(i & 0xffff));
                    sendto(fd, batch[0], out, 0, (struct sockaddr *)&to, sizeof to);
                }
                usleep(100000);
                atomic_store(&d.stop, 1);
                pthread_join(reader, NULL);
                close(d.fd);
                printf("limit %s %zu %s %.0f\n", profile == 0 ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80",
                       payloads[p], epoll ? "recv_epoll" : "recv", d.received ? d.cpu_ns / (double)d.received : 0.0);
                if (d.verified != d.received) fprintf(stderr, "limit: profile %d payload %zu: %ld of %ld verified\n", profile, payloads[p], d.verified, d.received);
            }
        }
    }
    EVP_CIPHER_CTX_free(c);
    HMAC_CTX_free(h);
    close(fd);
    return 0;
}
