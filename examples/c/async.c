/* Example: the asynchronous acquire with a cancellation handle, as a binding
 * for a language with its own event loop (Go, .NET, ...) would use it.
 * Takes a lock without blocking this thread, then tries again while it is
 * held and cancels that wait after 100 ms.
 * Usage: example_async redis://127.0.0.1:7001 ... (one URL per Redis master) */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "redlead.h"

/* One pending operation: the completion fills it in and signals. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    redlead_status status;
    redlead_lock *lock;
} pending;

static void on_complete(void *ctx, redlead_status status, redlead_lock *lock, redlead_error *error) {
    pending *p = ctx; /* runs on a redlead-cb thread */
    if (error) fprintf(stderr, "  completion: %s\n", redlead_error_message(error));
    redlead_error_free(error);
    pthread_mutex_lock(&p->mu);
    p->status = status;
    p->lock = lock; /* ours now: freed below */
    p->done = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void wait_done(pending *p) {
    pthread_mutex_lock(&p->mu);
    while (!p->done) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL...\n", argv[0]);
        return 2;
    }
    redlead_client *client = NULL;
    redlead_error *err = NULL;
    if (redlead_client_new((const char *const *)(argv + 1), (size_t)(argc - 1), NULL, &client, &err) !=
        REDLEAD_OK) {
        fprintf(stderr, "client: %s\n", redlead_error_message(err));
        redlead_error_free(err);
        return 1;
    }
    int rc = 1;
    pending first = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, REDLEAD_OK, NULL};
    redlead_completion c1 = {&first, on_complete, NULL};
    if (redlead_lock_acquire_async(client, "example-async", 10000, 2000, NULL, NULL, c1, &err) != REDLEAD_OK) {
        fprintf(stderr, "start: %s\n", redlead_error_message(err));
        goto out;
    }
    wait_done(&first); /* an event loop would do other work meanwhile */
    if (first.status != REDLEAD_OK) goto out;
    printf("holding example-async, %llu ms left\n", (unsigned long long)redlead_lock_validity_ms(first.lock));

    /* A second acquire waits for the held lock; cancel it after 100 ms. */
    pending second = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, REDLEAD_OK, NULL};
    redlead_completion c2 = {&second, on_complete, NULL};
    redlead_cancel *cancel = redlead_cancel_new();
    redlead_lock_acquire_async(client, "example-async", 10000, 10000, NULL, cancel, c2, NULL);
    struct timespec t = {0, 100 * 1000000L};
    nanosleep(&t, NULL);
    redlead_cancel_cancel(cancel, NULL);
    wait_done(&second);
    printf("second acquire: %s\n", redlead_status_str(second.status));
    redlead_cancel_free(cancel);
    redlead_lock_free(second.lock); /* NULL unless it won the race */
    rc = second.status == REDLEAD_ERR_CANCELLED ? 0 : 1;
    if (redlead_lock_release(first.lock, &err) != REDLEAD_OK) {
        fprintf(stderr, "release: %s\n", redlead_error_message(err));
        rc = 1;
    }
out:
    redlead_error_free(err);
    redlead_lock_free(first.lock);
    redlead_client_free(client);
    return rc;
}
