/* Trickle ICE between two sessions of one process: a candidate for a session whose remote
 * description is not applied yet waits in its inbox until it is. */
#ifndef WRS_EXAMPLES_TRICKLE_H
#define WRS_EXAMPLES_TRICKLE_H

#include <pthread.h>

#include "common.h"

#define INBOX_MAX 64

typedef struct {
    pthread_mutex_t lock;
    wrs_session *s;
    int remote_set;
    char *pending[INBOX_MAX];
    int npending;
} inbox;

static inline void inbox_init(inbox *in, wrs_session *s) {
    memset(in, 0, sizeof *in);
    pthread_mutex_init(&in->lock, NULL);
    in->s = s;
}

/* A candidate from the other session (called from its candidate callback). */
static inline void inbox_add(inbox *in, const char *candidate) {
    pthread_mutex_lock(&in->lock);
    if (in->remote_set) {
        CHECK(wrs_session_add_remote_candidate(in->s, candidate));
    } else if (in->npending < INBOX_MAX) {
        in->pending[in->npending++] = strdup(candidate);
    }
    pthread_mutex_unlock(&in->lock);
}

/* The remote description is applied: the candidates that waited for it go in. */
static inline void inbox_remote_applied(inbox *in) {
    int i;
    pthread_mutex_lock(&in->lock);
    in->remote_set = 1;
    for (i = 0; i < in->npending; i++) {
        CHECK(wrs_session_add_remote_candidate(in->s, in->pending[i]));
        free(in->pending[i]);
    }
    in->npending = 0;
    pthread_mutex_unlock(&in->lock);
}

static inline void inbox_destroy(inbox *in) {
    int i;
    for (i = 0; i < in->npending; i++) free(in->pending[i]);
    pthread_mutex_destroy(&in->lock);
}

#endif
