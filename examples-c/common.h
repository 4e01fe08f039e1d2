/* Helpers shared by the C examples: timing, a payload pattern receivers can verify, and
 * per-stream counters. */
#ifndef WRS_EXAMPLES_COMMON_H
#define WRS_EXAMPLES_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "webrtc_session.h"

static inline double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline void sleep_ms(double ms) {
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
    nanosleep(&ts, NULL);
}

/* Exits with the library's message when a call fails. */
#define CHECK(call)                                                                          \
    do {                                                                                     \
        wrs_result r_ = (call);                                                              \
        if (r_ != WRS_RESULT_OK) {                                                           \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,             \
                    wrs_last_error_message());                                               \
            exit(2);                                                                         \
        }                                                                                    \
    } while (0)

/* Payload i of a stream: a 4-byte index, then bytes derived from index and stream. */
static inline void fill_payload(uint8_t *p, size_t len, uint32_t index, uint8_t stream) {
    size_t j;
    p[0] = (uint8_t)(index >> 24);
    p[1] = (uint8_t)(index >> 16);
    p[2] = (uint8_t)(index >> 8);
    p[3] = (uint8_t)index;
    for (j = 4; j < len; j++) p[j] = (uint8_t)(j * 31u + index + stream);
}

/* Offset of the payload in an RTP packet (after CSRCs and header extension), or 0 if bad. */
static inline size_t rtp_payload_offset(const uint8_t *pkt, size_t len) {
    size_t off;
    if (len < 12) return 0;
    off = 12 + 4u * (pkt[0] & 0x0f);
    if (pkt[0] & 0x10) {
        if (len < off + 4) return 0;
        off += 4 + 4u * (((size_t)pkt[off + 2] << 8) | pkt[off + 3]);
    }
    return off <= len ? off : 0;
}

/* Counters for one received stream. */
typedef struct {
    uint64_t packets;
    uint64_t bytes;
    uint64_t corrupt;
    double first_ms;
} stream_stats;

/* Checks a received packet against the pattern of `stream` and counts it. */
static inline void count_packet(stream_stats *st, const uint8_t *pkt, size_t len, size_t payload_len,
                                uint8_t stream, double t) {
    uint8_t expect[1400];
    size_t off = rtp_payload_offset(pkt, len);
    uint32_t index;
    if (off == 0 || len - off != payload_len || payload_len > sizeof expect) {
        st->corrupt++;
        return;
    }
    index = ((uint32_t)pkt[off] << 24) | ((uint32_t)pkt[off + 1] << 16) | ((uint32_t)pkt[off + 2] << 8) |
            pkt[off + 3];
    fill_payload(expect, payload_len, index, stream);
    if (memcmp(expect, pkt + off, payload_len) != 0) {
        st->corrupt++;
        return;
    }
    if (st->packets == 0) st->first_ms = t;
    st->packets++;
    st->bytes += len;
}

static inline const char *srtp_name(wrs_srtp_profile p) {
    switch (p) {
    case WRS_SRTP_PROFILE_AES128_CM_HMAC_SHA1_80: return "AES_CM_128_HMAC_SHA1_80";
    case WRS_SRTP_PROFILE_AEAD_AES128_GCM: return "AEAD_AES_128_GCM";
    case WRS_SRTP_PROFILE_AEAD_AES256_GCM: return "AEAD_AES_256_GCM";
    }
    return "?";
}

#define AUDIO_PAYLOAD 160  /* 20 ms of PCMU */
#define VIDEO_PAYLOAD 1200 /* a full-size video packet */
#define VIDEO_PER_TICK 5   /* video packets per 20 ms tick: 250 packets/s, 2.4 Mbit/s */

#endif
