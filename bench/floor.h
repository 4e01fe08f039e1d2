/* The physical limit's building blocks, shared by bench/limit.c (the limit alone) and
 * bench/bench.c (the library next to the limit in the same process): SRTP-like protect and
 * unprotect in place with OpenSSL (AES-128-GCM, or AES-128-CTR + HMAC-SHA1-80), a receiving
 * sink with a draining thread, and the sender (protect + sendto, or + UDP GSO).
 * Needs _GNU_SOURCE (recvmmsg); link with -lcrypto -lpthread. */
#ifndef WRS_BENCH_FLOOR_H
#define WRS_BENCH_FLOOR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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
    int fd, profile;
    int epoll; /* read as a multi-socket server must: epoll_wait, then recvmmsg with addresses */
    const uint8_t *key;
    atomic_int stop;
    atomic_int tid;         /* the draining thread's id, for per-interval CPU from /proc */
    atomic_long received;   /* written with plain relaxed stores: readable while it runs */
    long verified;
    double cpu_ns;
    pthread_t thread;
} drain;

/* One more packet received (a relaxed load and store: no locked instruction per packet). */
static void drain_count(drain *d) {
    atomic_store_explicit(&d->received, atomic_load_explicit(&d->received, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* Reads and unprotects until told to stop; measures its own CPU time. */
static void *drain_main(void *arg) {
    drain *d = arg;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    HMAC_CTX *h = HMAC_CTX_new();
    uint8_t buf[2048];
    atomic_store(&d->tid, (int)syscall(SYS_gettid));
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
                    drain_count(d);
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
        drain_count(d);
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

/* A sink on 127.0.0.1 (its address written to `to`) and its thread, reading as `epoll` says. */
static void drain_start(drain *d, struct sockaddr_in *to, int profile, const uint8_t *key, int epoll) {
    memset(d, 0, sizeof *d);
    memset(to, 0, sizeof *to);
    to->sin_family = AF_INET;
    to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d->fd = fresh_sink(to);
    d->profile = profile;
    d->key = key;
    d->epoll = epoll;
    pthread_create(&d->thread, NULL, drain_main, d);
}

/* Stops and joins the sink's thread; complains if a packet failed to verify. */
static void drain_stop(drain *d) {
    atomic_store(&d->stop, 1);
    pthread_join(d->thread, NULL);
    close(d->fd);
    if (d->verified != atomic_load(&d->received))
        fprintf(stderr, "floor: sink (profile %d) verified %ld of %ld\n", d->profile, d->verified, (long)atomic_load(&d->received));
}

/* The sender's keys: one cipher context (and HMAC for AES-CM), keyed once. */
typedef struct {
    EVP_CIPHER_CTX *c;
    HMAC_CTX *h;
    const uint8_t *key;
    int profile; /* 0 = AEAD_AES_128_GCM, 1 = AES_CM_128_HMAC_SHA1_80 */
} floor_keys;

static void floor_keys_init(floor_keys *k, int profile, const uint8_t *key) {
    k->c = EVP_CIPHER_CTX_new();
    k->h = HMAC_CTX_new();
    k->key = key;
    k->profile = profile;
    HMAC_Init_ex(k->h, key, 20, EVP_sha1(), NULL);
    EVP_EncryptInit_ex(k->c, profile == 0 ? EVP_aes_128_gcm() : EVP_aes_128_ctr(), NULL, key, NULL);
}

static void floor_keys_free(floor_keys *k) {
    EVP_CIPHER_CTX_free(k->c);
    HMAC_CTX_free(k->h);
}

/* One sendmsg of `count` equal segments of `size` bytes, laid end to end in `data`. */
static void send_gso(int fd, const struct sockaddr_in *to, const uint8_t *data, size_t size, int count) {
    char ctrl[CMSG_SPACE(sizeof(uint16_t))];
    struct iovec iov = {.iov_base = (void *)data, .iov_len = size * (size_t)count};
    struct msghdr msg;
    struct cmsghdr *cm;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = (void *)to;
    msg.msg_namelen = sizeof *to;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof ctrl;
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    *(uint16_t *)CMSG_DATA(cm) = (uint16_t)size;
    sendmsg(fd, &msg, 0);
}

/* The floor's send path: `packets` packets of `len` bytes (sequence numbers from `seq0`)
 * protected in place, each sent with sendto, or (gso) 32 at a time protected into one buffer
 * and sent with one UDP GSO sendmsg. Returns the wall time per packet in ns. */
static double floor_send(int fd, const struct sockaddr_in *to, floor_keys *k, size_t len, int packets, int gso, int seq0) {
    static uint8_t joined[32 * 1500];
    double t0 = now_ns();
    for (int i = 0; i < packets;) {
        int count = 0;
        size_t out = 0;
        for (; count < (gso ? 32 : 1) && i < packets; count++, i++) {
            uint8_t *pkt = joined + (size_t)count * (len + 16);
            int seq = seq0 + i;
            memset(pkt, 0x80, len);
            pkt[2] = (uint8_t)(seq >> 8);
            pkt[3] = (uint8_t)seq;
            out = k->profile == 0 ? protect_gcm(k->c, k->key, pkt, len, (uint32_t)(seq & 0xffff))
                                  : protect_cm(k->c, k->h, k->key, pkt, len, (uint32_t)(seq & 0xffff));
        }
        if (!gso) {
            sendto(fd, joined, out, 0, (const struct sockaddr *)to, sizeof *to);
        } else {
            /* Segments sit len + 16 apart; close the gaps the AES-CM tag (10 bytes) left. */
            if (out != len + 16)
                for (int m = 1; m < count; m++) memmove(joined + (size_t)m * out, joined + (size_t)m * (len + 16), out);
            send_gso(fd, to, joined, out, count);
        }
    }
    return (now_ns() - t0) / packets;
}

#endif
