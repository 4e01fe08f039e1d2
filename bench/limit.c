/* The physical limit the library's media path is compared with.
 * Send: SRTP-like protect in place with OpenSSL (AES-128-GCM, or AES-128-CTR + HMAC-SHA1-80),
 * then one sendto per packet, or UDP GSO batches of 32 (UDP_SEGMENT), to a socket that a
 * second thread drains (as the library's peer drains its socket).
 * Receive: packets paced at 100,000 per second; a thread recv()s and unprotects each (tag
 * checked, payload decrypted in place); its CPU time per packet is the receive limit.
 * Prints one line per case:
 * Protect: the same protect without sending (median of 9 runs): the SRTP floor.
 *   limit <profile> <payload> <protect|single|gso|recv> <ns/packet>
 * usage: limit <packets> */
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

typedef struct {
    int fd, profile, unprotect;
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
    while (!atomic_load(&d->stop)) {
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

int main(int argc, char **argv) {
    int packets = argc > 1 ? atoi(argv[1]) : 100000;
    int fd = socket(AF_INET, SOCK_DGRAM, 0), sink = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to;
    socklen_t tolen = sizeof to;
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
    bind(sink, (struct sockaddr *)&to, sizeof to);
    getsockname(sink, (struct sockaddr *)&to, &tolen);
    for (int profile = 0; profile < 2; profile++) {
        if (profile == 0)
            EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL);
        else
            EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, NULL);
        for (int p = 0; p < 2; p++) {
            /* Protect alone (no send): the SRTP floor. Median of 9 runs of 20,000. */
            size_t plen = 12 + payloads[p];
            double runs[9];
            for (int r = 0; r < 9; r++) {
                double t0 = now_ns();
                for (int i = 0; i < 20000; i++) {
                    memset(batch[0], 0x80, plen);
                    if (profile == 0)
                        protect_gcm(c, key, batch[0], plen, (uint32_t)i);
                    else
                        protect_cm(c, h, key, batch[0], plen, (uint32_t)i);
                }
                runs[r] = (now_ns() - t0) / 20000;
            }
            for (int x = 0; x < 9; x++)
                for (int y = x + 1; y < 9; y++)
                    if (runs[y] < runs[x]) {
                        double t = runs[x];
                        runs[x] = runs[y];
                        runs[y] = t;
                    }
            printf("limit %s %zu protect %.0f\n", profile == 0 ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80", payloads[p], runs[4]);
        }
        for (int p = 0; p < 2; p++) {
            size_t len = 12 + payloads[p];
            for (int gso = 0; gso < 2; gso++) {
                drain d = {.fd = fresh_sink(&to), .profile = profile, .key = key};
                pthread_t reader;
                pthread_create(&reader, NULL, drain_main, &d);
                double t0 = now_ns();
                for (int i = 0; i < packets;) {
                    int k = gso ? 32 : 1, j;
                    size_t out = 0;
                    for (j = 0; j < k && i < packets; j++, i++) {
                        memset(batch[j], 0x80, len);
                        out = profile == 0 ? protect_gcm(c, key, batch[j], len, (uint32_t)i)
                                           : protect_cm(c, h, key, batch[j], len, (uint32_t)i);
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
                printf("limit %s %zu %s %.0f\n", profile == 0 ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80",
                       payloads[p], gso ? "gso" : "single", elapsed / packets);
            }
            {
                /* Receive: protected packets paced at 100,000/s; the reader unprotects them. */
                drain d = {.fd = fresh_sink(&to), .profile = profile, .key = key, .unprotect = 1};
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
                printf("limit %s %zu recv %.0f\n", profile == 0 ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80",
                       payloads[p], d.received ? d.cpu_ns / (double)d.received : 0.0);
                if (d.verified != d.received) fprintf(stderr, "limit: profile %d payload %zu: %ld of %ld verified\n", profile, payloads[p], d.verified, d.received);
            }
        }
    }
    EVP_CIPHER_CTX_free(c);
    HMAC_CTX_free(h);
    close(fd);
    close(sink);
    return 0;
}
