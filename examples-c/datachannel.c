/* Data channels in C: two sessions in one process, data only. A creates a channel before its
 * offer; B gets it through the data-channel callback and echoes every message. A checks 1,000
 * echoed messages (text and binary) byte for byte, a 256 KB one, and then the error paths: a
 * message over the limit, a send on a closed channel, a freed channel handle, and channel
 * handles of a freed session. Prints one line per check and "N passed, N failed".
 *
 *   ./build/datachannel
 */
#include <pthread.h>
#include <stdbool.h>

#include "trickle.h"

#define COUNT 1000
#define BIG (256 * 1024)

typedef struct peer {
    const char *name;
    wrs_session *s;
    struct peer *other;
    pthread_mutex_t lock;
    inbox in;
    wrs_data_channel *channel;    /* A: the one it created; B: the one the peer opened */
    int opened, closed, echoed;
    int announced;                /* B: the data-channel callback ran */
    size_t received_bytes;
    int mismatches;
    uint32_t next_expected;
} peer;

static int passed, failed;
static void expect(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (ok) passed++; else failed++;
}

static void on_candidate(void *ud, const char *candidate, const char *mid) {
    peer *p = ud;
    (void)mid;
    inbox_add(&p->other->in, candidate);
}

/* Message i: even ones are text, odd ones binary, lengths vary. */
static size_t make_message(uint32_t i, uint8_t *buf, bool *text) {
    size_t len = 1 + i % 700, k;
    *text = i % 2 == 0;
    if (*text) {
        int n = snprintf((char *)buf, 64, "message %u ", i);
        for (k = (size_t)n; k < len + (size_t)n; k++) buf[k] = (uint8_t)('a' + (k + i) % 26);
        buf[k] = 0;
        return k;
    }
    fill_payload(buf, len + 4, i, 9);
    return len + 4;
}

static void on_open(void *ud, wrs_data_channel *c) {
    peer *p = ud;
    (void)c;
    pthread_mutex_lock(&p->lock);
    p->opened = 1;
    pthread_mutex_unlock(&p->lock);
}

static void on_close(void *ud, wrs_data_channel *c) {
    peer *p = ud;
    (void)c;
    pthread_mutex_lock(&p->lock);
    p->closed = 1;
    pthread_mutex_unlock(&p->lock);
}

/* B: echo on the same channel, same type. Called on a library thread. */
static void on_echo(void *ud, wrs_data_channel *c, const uint8_t *data, size_t len, bool is_text) {
    (void)ud;
    if (is_text) {
        char *copy = malloc(len + 1);
        memcpy(copy, data, len);
        copy[len] = 0;
        CHECK(wrs_data_channel_send_text(c, copy));
        free(copy);
    } else {
        CHECK(wrs_data_channel_send(c, data, len));
    }
}

/* A: checks each echoed message against what it sent. */
static void on_echoed(void *ud, wrs_data_channel *c, const uint8_t *data, size_t len, bool is_text) {
    peer *p = ud;
    static uint8_t want[BIG + 64];
    size_t want_len;
    bool text;
    (void)c;
    pthread_mutex_lock(&p->lock);
    if (p->next_expected < COUNT) {
        want_len = make_message(p->next_expected, want, &text);
    } else {
        want_len = BIG;
        text = false;
        fill_payload(want, BIG, 77, 3);
    }
    if (len != want_len || text != is_text || memcmp(want, data, len) != 0) p->mismatches++;
    p->next_expected++;
    p->echoed++;
    p->received_bytes += len;
    pthread_mutex_unlock(&p->lock);
}

static void on_data_channel(void *ud, wrs_data_channel *c) {
    peer *p = ud;
    CHECK(wrs_data_channel_on_message(c, on_echo, p));
    CHECK(wrs_data_channel_on_close(c, on_close, p));
    pthread_mutex_lock(&p->lock);
    p->channel = c;
    p->announced = 1;
    pthread_mutex_unlock(&p->lock);
}

static int wait_for(peer *p, int *flag, int want, double timeout_ms) {
    double end = now_ms() + timeout_ms;
    int v;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        v = *flag;
        pthread_mutex_unlock(&p->lock);
        if (v >= want || now_ms() > end) return v >= want;
        sleep_ms(2);
    }
}

static void init_peer(peer *p, const char *name, wrs_config *cfg) {
    memset(p, 0, sizeof *p);
    p->name = name;
    pthread_mutex_init(&p->lock, NULL);
    CHECK(wrs_session_new(cfg, &p->s));
    inbox_init(&p->in, p->s);
    CHECK(wrs_session_on_ice_candidate(p->s, on_candidate, p));
    CHECK(wrs_session_on_data_channel(p->s, on_data_channel, p));
}

int main(void) {
    peer a, b;
    wrs_config *cfg;
    wrs_data_channel_init *init;
    char *offer, *answer, *label = NULL;
    static uint8_t buf[BIG + 64];
    uint32_t i;
    size_t buffered = 0;
    wrs_data_channel_state st;
    wrs_data_channel *extra, *neg_a, *neg_b;
    bool ordered = true;
    int32_t max_rexmit = 0;
    uint16_t id = 0;
    double t0;
    wrs_result r;

    CHECK(wrs_config_new(&cfg));
    CHECK(wrs_config_add_local_address(cfg, "127.0.0.1"));
    init_peer(&a, "A", cfg);
    init_peer(&b, "B", cfg);
    a.other = &b;
    b.other = &a;

    CHECK(wrs_data_channel_init_new(&init));
    CHECK(wrs_data_channel_init_set_protocol(init, "echo"));
    CHECK(wrs_session_create_data_channel(a.s, "chat", init, &a.channel));
    wrs_data_channel_init_free(init);
    CHECK(wrs_data_channel_on_open(a.channel, on_open, &a));
    CHECK(wrs_data_channel_on_message(a.channel, on_echoed, &a));
    CHECK(wrs_data_channel_on_close(a.channel, on_close, &a));
    CHECK(wrs_data_channel_ready_state(a.channel, &st));
    expect(st == WRS_DATA_CHANNEL_STATE_CONNECTING, "a new channel is connecting");
    expect(wrs_data_channel_id(a.channel, &id) == WRS_RESULT_NOT_AVAILABLE, "its stream id is not known before negotiation");

    CHECK(wrs_session_create_offer(a.s, &offer));
    expect(strstr(offer, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel") != NULL && strstr(offer, "m=audio") == NULL,
           "a data-only offer has one application section");
    CHECK(wrs_session_set_local_description(a.s, WRS_SDP_TYPE_OFFER, offer));
    CHECK(wrs_session_set_remote_description(b.s, WRS_SDP_TYPE_OFFER, offer));
    inbox_remote_applied(&b.in);
    CHECK(wrs_session_create_answer(b.s, &answer));
    CHECK(wrs_session_set_local_description(b.s, WRS_SDP_TYPE_ANSWER, answer));
    CHECK(wrs_session_set_remote_description(a.s, WRS_SDP_TYPE_ANSWER, answer));
    inbox_remote_applied(&a.in);
    wrs_string_free(offer);
    wrs_string_free(answer);

    t0 = now_ms();
    expect(wait_for(&a, &a.opened, 1, 30000), "the channel opens");
    printf("     open %.1f ms after the answer\n", now_ms() - t0);
    /* The answerer's callback runs on its own thread: its ACK can reach the offerer (and open
     * the channel there) just before the answerer's callback has returned. */
    expect(wait_for(&b, &b.announced, 1, 5000), "the answerer got the channel through its data-channel callback");
    CHECK(wrs_data_channel_label(b.channel, &label));
    expect(strcmp(label, "chat") == 0, "with its label");
    wrs_string_free(label);
    CHECK(wrs_data_channel_protocol(b.channel, &label));
    expect(strcmp(label, "echo") == 0, "and its protocol");
    wrs_string_free(label);
    CHECK(wrs_data_channel_id(a.channel, &id));
    printf("     stream id %u\n", id);

    t0 = now_ms();
    for (i = 0; i < COUNT; i++) {
        bool text;
        size_t n = make_message(i, buf, &text);
        if (text) CHECK(wrs_data_channel_send_text(a.channel, (const char *)buf));
        else CHECK(wrs_data_channel_send(a.channel, buf, n));
    }
    fill_payload(buf, BIG, 77, 3);
    CHECK(wrs_data_channel_send(a.channel, buf, BIG));
    CHECK(wrs_data_channel_buffered_amount(a.channel, &buffered));
    printf("     buffered after sending: %zu bytes\n", buffered);
    expect(wait_for(&a, &a.echoed, COUNT + 1, 60000), "1,000 messages and a 256 KB one come back");
    printf("     echoed %d messages (%zu bytes) in %.1f ms\n", a.echoed, a.received_bytes, now_ms() - t0);
    expect(a.mismatches == 0, "byte for byte, in order, with their types");
    {
        uint64_t sent = 0, received = 0, bytes = 0;
        CHECK(wrs_session_stat(a.s, WRS_STAT_DATA_MESSAGES_SENT, &sent));
        CHECK(wrs_session_stat(a.s, WRS_STAT_DATA_MESSAGES_RECEIVED, &received));
        CHECK(wrs_session_stat(b.s, WRS_STAT_DATA_BYTES_RECEIVED, &bytes));
        expect(sent == COUNT + 1 && received == COUNT + 1 && bytes == a.received_bytes, "the data counters agree");
    }

    expect(wrs_data_channel_send(a.channel, buf, BIG + 1) == WRS_RESULT_PACKET_REJECTED, "a message past max-message-size is refused");
    expect(strstr(wrs_last_error_message(), "max-message-size") != NULL, "with a message that says why");

    /* Options that grow without an ABI change; a pre-negotiated pair. */
    CHECK(wrs_data_channel_init_new(&init));
    CHECK(wrs_data_channel_init_set_ordered(init, false));
    CHECK(wrs_data_channel_init_set_max_retransmits(init, 0));
    CHECK(wrs_session_create_data_channel(a.s, "fast", init, &extra));
    CHECK(wrs_data_channel_init_set_negotiated_id(init, 500));
    CHECK(wrs_session_create_data_channel(a.s, "neg", init, &neg_a));
    CHECK(wrs_session_create_data_channel(b.s, "neg", init, &neg_b));
    expect(wrs_session_create_data_channel(b.s, "neg", init, &extra) == WRS_RESULT_INVALID_ARGUMENT, "a negotiated id in use is refused");
    wrs_data_channel_init_free(init);
    CHECK(wrs_data_channel_ordered(neg_a, &ordered));
    CHECK(wrs_data_channel_max_retransmits(neg_a, &max_rexmit));
    CHECK(wrs_data_channel_id(neg_b, &id));
    expect(!ordered && max_rexmit == 0 && id == 500, "getters report the options");

    /* Close from A: B sees it; then A's handle stays valid for getters, sends fail. */
    CHECK(wrs_data_channel_close(a.channel));
    expect(wait_for(&b, &b.closed, 1, 30000), "the peer sees the close");
    expect(wait_for(&a, &a.closed, 1, 30000), "the closing side gets its close callback");
    CHECK(wrs_data_channel_ready_state(a.channel, &st));
    expect(st == WRS_DATA_CHANNEL_STATE_CLOSED, "state is closed");
    r = wrs_data_channel_send_text(a.channel, "late");
    if (r != WRS_RESULT_INVALID_STATE) printf("     got %s: %s\n", wrs_result_name(r), wrs_last_error_message());
    expect(r == WRS_RESULT_INVALID_STATE, "a closed channel refuses to send");
    wrs_data_channel_free(a.channel);
    expect(wrs_data_channel_send_text(a.channel, "freed") == WRS_RESULT_INVALID_HANDLE, "a freed channel handle is an error, not a crash");
    wrs_data_channel_free(a.channel); /* a second free is ignored */
    expect(wrs_data_channel_send(NULL, buf, 1) == WRS_RESULT_NULL_ARGUMENT, "a NULL channel is an error");

    /* Freeing a session releases its channels: their handles become invalid. */
    wrs_session_free(a.s);
    expect(wrs_data_channel_ready_state(neg_a, &st) == WRS_RESULT_INVALID_HANDLE, "channels of a freed session are invalid handles");
    wrs_data_channel_free(neg_a);
    wrs_data_channel_free(b.channel);
    wrs_data_channel_free(neg_b);
    wrs_session_free(b.s);
    wrs_config_free(cfg);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
