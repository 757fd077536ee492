/* C tests of libredlead against real redis-server nodes.
 * Usage: test_c URL... (5 node URLs); REDLEAD_CARGO_VERSION=x.y.z in the env.
 * Each property is named in its check; ffi/tests/run.sh counts the lines. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <dirent.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_common.h"

static const char *const *g_urls;
static size_t g_n;

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static redlead_client *new_client(void) {
    redlead_config *cfg = redlead_config_new();
    redlead_config_set_retry_delay_ms(cfg, 2, NULL);
    redlead_config_set_retry_jitter_ms(cfg, 5, NULL);
    redlead_client *c = NULL;
    redlead_error *err = NULL;
    redlead_status st = redlead_client_new(g_urls, g_n, cfg, &c, &err);
    redlead_config_free(cfg);
    if (st != REDLEAD_OK) {
        printf("FAIL client_new: %s\n", err ? redlead_error_message(err) : "?");
        redlead_error_free(err);
        exit(1);
    }
    return c;
}

static void test_version(void) {
    const char *want = getenv("REDLEAD_CARGO_VERSION");
    char macros[64];
    snprintf(macros, sizeof macros, "%d.%d.%d", REDLEAD_VERSION_MAJOR, REDLEAD_VERSION_MINOR,
             REDLEAD_VERSION_PATCH);
    CHECK("version_macros_match_cargo", want != NULL && strcmp(macros, want) == 0);
    CHECK("version_string_macro_matches_numbers", strcmp(REDLEAD_VERSION, macros) == 0);
    CHECK("loaded_library_version_matches_header", strcmp(redlead_version(), REDLEAD_VERSION) == 0);
    CHECK("abi_version_matches_header", redlead_abi_version() == REDLEAD_ABI_VERSION);
    int all = 1;
    for (int s = REDLEAD_OK; s <= REDLEAD_ERR_INTERNAL; s++) {
        const char *t = redlead_status_str((redlead_status)s);
        all = all && t != NULL && t[0] != '\0';
    }
    CHECK("every_status_has_static_text", all);
}

static void test_lock_round_trip(redlead_client *c) {
    redlead_lock *a = NULL, *b = (redlead_lock *)0x1;
    redlead_error *err = NULL;
    check_status("round_trip_try_acquire", redlead_lock_try_acquire(c, "c-rt", 10000, 0, &a, &err),
                 REDLEAD_OK, &err);
    uint64_t v = redlead_lock_validity_ms(a);
    CHECK("round_trip_validity_within_ttl", v > 9000 && v <= 10000);
    CHECK("unfenced_lock_has_no_token", redlead_lock_fencing_token(a) == 0);

    err = NULL;
    redlead_status st = redlead_lock_try_acquire(c, "c-rt", 10000, 0, &b, &err);
    CHECK("held_lock_is_not_acquired_again", st == REDLEAD_NOT_ACQUIRED);
    CHECK("not_acquired_leaves_lock_out_untouched", b == (redlead_lock *)0x1);
    CHECK("not_acquired_carries_node_outcomes", err && redlead_error_node_count(err) == g_n);
    if (err && redlead_error_node_count(err) > 0) {
        const char *node = NULL, *msg = NULL;
        redlead_outcome kind = REDLEAD_OUTCOME_OK;
        redlead_status s2 = redlead_error_node_outcome(err, 0, &node, &kind, &msg, NULL);
        CHECK("node_outcome_names_node_and_kind",
              s2 == REDLEAD_OK && node && strstr(node, "127.0.0.1") && msg && msg[0] &&
                  (kind == REDLEAD_OUTCOME_HELD || kind == REDLEAD_OUTCOME_NOT_AWAITED));
        redlead_error *e2 = NULL;
        s2 = redlead_error_node_outcome(err, 99, &node, &kind, &msg, &e2);
        check_status("node_outcome_index_out_of_range", s2, REDLEAD_ERR_INVALID_ARGUMENT, &e2);
    }
    redlead_error_free(err);

    err = NULL;
    check_status("round_trip_extend", redlead_lock_extend(a, 20000, &err), REDLEAD_OK, &err);
    CHECK("extend_moves_validity", redlead_lock_validity_ms(a) > 15000);
    err = NULL;
    check_status("round_trip_release", redlead_lock_release(a, &err), REDLEAD_OK, &err);
    err = NULL;
    check_status("release_twice_is_closed", redlead_lock_release(a, &err), REDLEAD_ERR_CLOSED, &err);
    err = NULL;
    check_status("extend_after_release_is_closed", redlead_lock_extend(a, 1000, &err),
                 REDLEAD_ERR_CLOSED, &err);
    CHECK("released_lock_has_no_validity", redlead_lock_validity_ms(a) == 0);
    redlead_lock_free(a);

    redlead_lock *d = NULL;
    err = NULL;
    check_status("released_resource_can_be_taken_again",
                 redlead_lock_try_acquire(c, "c-rt", 10000, 0, &d, &err), REDLEAD_OK, &err);
    redlead_lock_free(d); /* releases it */
    d = NULL;
    err = NULL;
    check_status("lock_free_releases_a_held_lock",
                 redlead_lock_try_acquire(c, "c-rt", 10000, 0, &d, &err), REDLEAD_OK, &err);
    redlead_lock_free(d);
}

/* Mutual exclusion: a plain (non-atomic) counter read-modify-written inside
 * the critical section by several threads loses no update. */
#define MX_THREADS 4
#define MX_ITERS 20
static volatile long g_counter = 0;
static atomic_int g_mx_errors = 0;

static void *mx_worker(void *arg) {
    redlead_client *c = arg;
    for (int i = 0; i < MX_ITERS; i++) {
        redlead_lock *l = NULL;
        redlead_error *err = NULL;
        redlead_status st = redlead_lock_acquire(c, "c-counter", 5000, 20000, 0, &l, &err);
        if (st != REDLEAD_OK) {
            printf("  mutual exclusion acquire failed: %s\n", redlead_error_message(err));
            redlead_error_free(err);
            atomic_fetch_add(&g_mx_errors, 1);
            continue;
        }
        long v = g_counter;
        sleep_ms(1);
        g_counter = v + 1;
        if (redlead_lock_release(l, NULL) != REDLEAD_OK) atomic_fetch_add(&g_mx_errors, 1);
        redlead_lock_free(l);
    }
    return NULL;
}

static void test_mutual_exclusion(redlead_client *c) {
    pthread_t t[MX_THREADS];
    for (int i = 0; i < MX_THREADS; i++) pthread_create(&t[i], NULL, mx_worker, c);
    for (int i = 0; i < MX_THREADS; i++) pthread_join(t[i], NULL);
    printf("  counter %ld after %d x %d locked increments, %d errors\n", g_counter, MX_THREADS,
           MX_ITERS, atomic_load(&g_mx_errors));
    CHECK("mutual_exclusion_loses_no_update",
          g_counter == MX_THREADS * MX_ITERS && atomic_load(&g_mx_errors) == 0);
}

static void test_fencing(redlead_client *c) {
    uint64_t prev = 0;
    int increasing = 1;
    for (int i = 0; i < 5; i++) {
        redlead_lock *l = NULL;
        redlead_error *err = NULL;
        if (redlead_lock_try_acquire(c, "c-fence", 5000, REDLEAD_LOCK_FENCED, &l, &err) != REDLEAD_OK) {
            printf("  fenced acquire failed: %s\n", redlead_error_message(err));
            redlead_error_free(err);
            increasing = 0;
            break;
        }
        uint64_t t = redlead_lock_fencing_token(l);
        printf("  fencing token %llu\n", (unsigned long long)t);
        increasing = increasing && t > prev;
        prev = t;
        redlead_lock_release(l, NULL);
        redlead_lock_free(l);
    }
    CHECK("fencing_tokens_strictly_increase", increasing && prev > 0);
}

static void test_client_freed_while_lock_lives(void) {
    redlead_client *c = new_client();
    redlead_lock *l = NULL;
    redlead_lock_try_acquire(c, "c-orphan", 5000, 0, &l, NULL);
    redlead_client_free(c);
    redlead_error *err = NULL;
    check_status("lock_outlives_its_client_extend", redlead_lock_extend(l, 5000, &err), REDLEAD_OK, &err);
    err = NULL;
    check_status("lock_outlives_its_client_release", redlead_lock_release(l, &err), REDLEAD_OK, &err);
    redlead_lock_free(l);
}

static void test_bad_inputs(redlead_client *c) {
    redlead_client *cl = (redlead_client *)0x1;
    redlead_lock *l = (redlead_lock *)0x1;
    redlead_error *err = NULL;
    const char *bad_utf8 = "\xff\xfe-lock";
    const char *one[] = {g_urls[0]};

#define BAD(name, call, want)                 \
    do {                                      \
        err = NULL;                           \
        check_status(name, call, want, &err);  \
    } while (0)

    BAD("client_new_null_urls", redlead_client_new(NULL, 5, NULL, &cl, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("client_new_zero_nodes", redlead_client_new(one, 0, NULL, &cl, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    const char *empty[] = {""};
    BAD("client_new_empty_url", redlead_client_new(empty, 1, NULL, &cl, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    const char *bad[] = {"not a url at all"};
    BAD("client_new_bad_url", redlead_client_new(bad, 1, NULL, &cl, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    const char *nul_entry[] = {g_urls[0], NULL};
    BAD("client_new_null_url_entry", redlead_client_new(nul_entry, 2, NULL, &cl, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    const char *utf[] = {bad_utf8};
    BAD("client_new_invalid_utf8_url", redlead_client_new(utf, 1, NULL, &cl, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("client_new_null_client_out", redlead_client_new(one, 1, NULL, NULL, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    CHECK("failed_client_new_leaves_client_out_untouched", cl == (redlead_client *)0x1);

    BAD("try_acquire_null_client", redlead_lock_try_acquire(NULL, "x", 1000, 0, &l, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("try_acquire_null_resource", redlead_lock_try_acquire(c, NULL, 1000, 0, &l, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("try_acquire_empty_resource", redlead_lock_try_acquire(c, "", 1000, 0, &l, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("try_acquire_invalid_utf8_resource", redlead_lock_try_acquire(c, bad_utf8, 1000, 0, &l, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("try_acquire_ttl_zero", redlead_lock_try_acquire(c, "x", 0, 0, &l, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("try_acquire_absurd_ttl", redlead_lock_try_acquire(c, "x", UINT64_MAX, 0, &l, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("try_acquire_ttl_below_node_timeout", redlead_lock_try_acquire(c, "x", 10, 0, &l, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("try_acquire_unknown_flags", redlead_lock_try_acquire(c, "x", 1000, 0x80, &l, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("try_acquire_null_lock_out", redlead_lock_try_acquire(c, "x", 1000, 0, NULL, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("acquire_absurd_wait", redlead_lock_acquire(c, "x", 1000, UINT64_MAX, 0, &l, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("acquire_wrong_handle_type", redlead_lock_acquire((const redlead_client *)redlead_version(), "x", 1000, 10, 0, &l, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    CHECK("failed_acquire_leaves_lock_out_untouched", l == (redlead_lock *)0x1);
    BAD("extend_null_lock", redlead_lock_extend(NULL, 1000, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("release_null_lock", redlead_lock_release(NULL, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    CHECK("validity_of_null_lock_is_zero", redlead_lock_validity_ms(NULL) == 0);

    redlead_lock *held = NULL;
    redlead_lock_try_acquire(c, "c-bad-extend", 5000, 0, &held, NULL);
    BAD("extend_ttl_zero", redlead_lock_extend(held, 0, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    redlead_lock_free(held);

    redlead_config *cfg = redlead_config_new();
    BAD("config_node_timeout_zero", redlead_config_set_node_timeout_ms(cfg, 0, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("config_drift_factor_out_of_range", redlead_config_set_drift_factor(cfg, 0.7, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("config_absurd_connect_timeout", redlead_config_set_connect_timeout_ms(cfg, UINT64_MAX, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("config_key_prefix_invalid_utf8", redlead_config_set_key_prefix(cfg, bad_utf8, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("config_runtime_threads_after_runtime_built", redlead_config_set_runtime_threads(cfg, 7, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("config_setter_null_config", redlead_config_set_retry_count(NULL, 3, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("config_setter_wrong_handle_type", redlead_config_set_retry_count((redlead_config *)c, 3, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    BAD("config_valid_setter", redlead_config_set_key_prefix(cfg, "c-test:", &err), REDLEAD_OK);
    redlead_config_free(cfg);

    redlead_election_config *ecfg = redlead_election_config_new();
    BAD("election_config_ttl_zero", redlead_election_config_set_ttl_ms(ecfg, 0, &err), REDLEAD_ERR_INVALID_ARGUMENT);
    redlead_election_config_free(ecfg);

    BAD("panic_becomes_status", redlead_test_panic(&err), REDLEAD_ERR_PANIC);
    CHECK("panic_without_error_out", redlead_test_panic(NULL) == REDLEAD_ERR_PANIC);
    CHECK("failure_without_error_out_returns_status",
          redlead_lock_try_acquire(NULL, "x", 1000, 0, &l, NULL) == REDLEAD_ERR_INVALID_ARGUMENT);
    CHECK("error_accessors_accept_null",
          redlead_error_code(NULL) == REDLEAD_ERR_INVALID_ARGUMENT && redlead_error_message(NULL)[0] &&
              redlead_error_node_count(NULL) == 0);
    redlead_error_free(NULL);
    redlead_lock_free(NULL);
    redlead_client_free(NULL);
    redlead_config_free(NULL);
#undef BAD
}

/* ---- elections ---- */

typedef struct {
    const char *name;
    pthread_mutex_t mu;
    int kinds[64];
    uint64_t terms[64];
    int reasons[64];
    char leaders[64][32];
    int n;
    atomic_int drops;
    atomic_int calls_after_drop;
    atomic_int elected;
    _Atomic(redlead_election *) self; /* for the free-from-callback test */
    atomic_int free_from_callback_status;
} recorder;

static void rec_init(recorder *r, const char *name) {
    memset(r, 0, sizeof *r);
    r->name = name;
    pthread_mutex_init(&r->mu, NULL);
    atomic_store(&r->free_from_callback_status, -1);
}

static void rec_call(void *ctx, const redlead_event *ev) {
    recorder *r = ctx;
    if (atomic_load(&r->drops) > 0) atomic_fetch_add(&r->calls_after_drop, 1);
    pthread_mutex_lock(&r->mu);
    if (r->n < 64) {
        r->kinds[r->n] = ev->kind;
        r->terms[r->n] = ev->term;
        r->reasons[r->n] = ev->reason;
        snprintf(r->leaders[r->n], 32, "%s", ev->leader_id ? ev->leader_id : "");
        r->n++;
    }
    pthread_mutex_unlock(&r->mu);
    printf("  [%s] event kind=%d leader=%s term=%llu reason=%d\n", r->name, ev->kind,
           ev->leader_id ? ev->leader_id : "(none)", (unsigned long long)ev->term, ev->reason);
    if (ev->kind == REDLEAD_EVENT_ELECTED) atomic_fetch_add(&r->elected, 1);
}

static void rec_drop(void *ctx) {
    recorder *r = ctx;
    atomic_fetch_add(&r->drops, 1);
}

/* Calls redlead_election_free on its own election from inside the callback. */
static void self_free_call(void *ctx, const redlead_event *ev) {
    recorder *r = ctx;
    rec_call(ctx, ev);
    if (atomic_load(&r->free_from_callback_status) != -1) return;
    redlead_election *self = NULL;
    for (int i = 0; i < 400 && !(self = atomic_load(&r->self)); i++) sleep_ms(5);
    redlead_error *err = NULL;
    redlead_status st = redlead_election_free(self, &err);
    printf("  free from inside the callback -> %s: %s\n", redlead_status_str(st),
           err ? redlead_error_message(err) : "");
    redlead_error_free(err);
    atomic_store(&r->free_from_callback_status, (int)st);
}

static int wait_for(atomic_int *v, int want, int ms) {
    for (int i = 0; i < ms / 10 && atomic_load(v) < want; i++) sleep_ms(10);
    return atomic_load(v) >= want;
}

/* Checks the order invariant: ELECTED and REVOKED alternate, starting with ELECTED. */
static int alternates(recorder *r) {
    int leading = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n; i++) {
        if (r->kinds[i] == REDLEAD_EVENT_ELECTED) {
            if (leading) { pthread_mutex_unlock(&r->mu); return 0; }
            leading = 1;
        } else if (r->kinds[i] == REDLEAD_EVENT_REVOKED) {
            if (!leading) { pthread_mutex_unlock(&r->mu); return 0; }
            leading = 0;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return 1;
}

/* The reason of the last REVOKED event (-1 if none); every event after it
 * must be a LEADER_CHANGED. */
static int last_revoke_reason(recorder *r) {
    int reason = -1;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n; i++) {
        if (r->kinds[i] == REDLEAD_EVENT_REVOKED) reason = r->reasons[i];
        else if (r->kinds[i] == REDLEAD_EVENT_ELECTED) reason = -1;
    }
    pthread_mutex_unlock(&r->mu);
    return reason;
}

static void test_election(redlead_client *c) {
    static recorder ra, rb, rc, rbad;
    rec_init(&ra, "A");
    rec_init(&rb, "B");
    rec_init(&rc, "C");
    rec_init(&rbad, "bad");
    redlead_election_config *cfg = redlead_election_config_new();
    redlead_election_config_set_ttl_ms(cfg, 1500, NULL);
    redlead_election_config_set_retry_interval_ms(cfg, 100, NULL);
    redlead_error *err = NULL;

    redlead_election *a = NULL, *b = NULL, *cc = NULL;
    redlead_event_closure ca = {&ra, rec_call, rec_drop};
    check_status("election_start_a", redlead_election_start(c, "c-election", "A", cfg, ca, &a, &err), REDLEAD_OK, &err);
    CHECK("candidate_a_is_elected", wait_for(&ra.elected, 1, 5000));
    CHECK("is_leader_after_elected", redlead_election_is_leader(a) == 1);
    uint64_t term_a = redlead_election_term(a);
    CHECK("leader_has_a_term", term_a > 0);
    CHECK("election_is_healthy", redlead_election_is_healthy(a) == 1);

    redlead_event_closure cb = {&rb, rec_call, rec_drop};
    err = NULL;
    check_status("election_start_b", redlead_election_start(c, "c-election", "B", cfg, cb, &b, &err), REDLEAD_OK, &err);
    sleep_ms(300);
    CHECK("follower_is_not_leader", redlead_election_is_leader(b) == 0 && redlead_election_term(b) == 0);

    char buf[32];
    size_t needed = 0;
    err = NULL;
    check_status("leader_query", redlead_election_leader(b, buf, sizeof buf, &needed, &err), REDLEAD_OK, &err);
    CHECK("leader_query_names_a", needed == 2 && strcmp(buf, "A") == 0);
    char tiny[1] = {'x'};
    needed = 0;
    redlead_election_leader(b, tiny, sizeof tiny, &needed, NULL);
    CHECK("leader_query_too_small_buffer_reports_size", needed == 2 && tiny[0] == 'x');

    uint8_t resigned = 0;
    err = NULL;
    check_status("resign_leader", redlead_election_resign(a, &resigned, &err), REDLEAD_OK, &err);
    CHECK("resign_reports_it_ended_leadership", resigned == 1);
    CHECK("resigned_leader_gets_revoked_resigned", last_revoke_reason(&ra) == REDLEAD_REVOKE_RESIGNED);
    CHECK("follower_takes_over_after_resign", wait_for(&rb.elected, 1, 3000));
    CHECK("new_term_is_greater", redlead_election_term(b) > term_a);
    CHECK("transitions_counted", redlead_election_transitions(b) >= 1);

    /* Free from inside the callback must not deadlock. */
    redlead_event_closure ccl = {&rc, self_free_call, rec_drop};
    err = NULL;
    check_status("election_start_c", redlead_election_start(c, "c-election-2", "C", cfg, ccl, &cc, &err), REDLEAD_OK, &err);
    atomic_store(&rc.self, cc);
    for (int i = 0; i < 300 && atomic_load(&rc.free_from_callback_status) == -1; i++) sleep_ms(10);
    CHECK("free_from_inside_callback_is_wrong_thread",
          atomic_load(&rc.free_from_callback_status) == REDLEAD_ERR_WRONG_THREAD);

    err = NULL;
    check_status("free_a", redlead_election_free(a, &err), REDLEAD_OK, &err);
    err = NULL;
    check_status("free_b_while_leading", redlead_election_free(b, &err), REDLEAD_OK, &err);
    err = NULL;
    check_status("free_c", redlead_election_free(cc, &err), REDLEAD_OK, &err);
    CHECK("stopped_leader_gets_revoked_stopped", last_revoke_reason(&rb) == REDLEAD_REVOKE_STOPPED);
    CHECK("closure_dropped_exactly_once",
          atomic_load(&ra.drops) == 1 && atomic_load(&rb.drops) == 1 && atomic_load(&rc.drops) == 1);
    sleep_ms(100);
    CHECK("no_call_after_drop",
          atomic_load(&ra.calls_after_drop) == 0 && atomic_load(&rb.calls_after_drop) == 0 &&
              atomic_load(&rc.calls_after_drop) == 0 && atomic_load(&ra.drops) == 1);
    CHECK("elected_and_revoked_alternate", alternates(&ra) && alternates(&rb) && alternates(&rc));

    /* Failed starts still drop the closure exactly once. */
    redlead_event_closure cbad = {&rbad, rec_call, rec_drop};
    redlead_election *e = (redlead_election *)0x1;
    err = NULL;
    check_status("election_start_null_resource", redlead_election_start(c, NULL, "X", cfg, cbad, &e, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    redlead_election_config *tiny_ttl = redlead_election_config_new();
    redlead_election_config_set_ttl_ms(tiny_ttl, 20, NULL);
    err = NULL;
    check_status("election_start_ttl_below_node_timeout",
                 redlead_election_start(c, "c-election-3", "X", tiny_ttl, cbad, &e, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    redlead_event_closure nocall = {&rbad, NULL, rec_drop};
    err = NULL;
    check_status("election_start_null_call", redlead_election_start(c, "c-election-3", "X", cfg, nocall, &e, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    CHECK("failed_start_drops_closure_once_each", atomic_load(&rbad.drops) == 3 && rbad.n == 0);
    CHECK("failed_start_leaves_election_out_untouched", e == (redlead_election *)0x1);
    redlead_election_config_free(tiny_ttl);
    redlead_election_config_free(cfg);
    CHECK("election_free_null_is_ok", redlead_election_free(NULL, NULL) == REDLEAD_OK);
}

static void test_fork(redlead_client *c) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        redlead_lock *l = NULL;
        redlead_status st = redlead_lock_try_acquire(c, "c-fork", 1000, 0, &l, NULL);
        _exit(st == REDLEAD_ERR_FORKED ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK("calls_in_forked_child_return_forked", WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A forked child believes nothing of its parent's: the parent leads and holds
 * a fenced lock; the child's accessors all answer 0 (fail safe). */
static void test_fork_leader(redlead_client *c) {
    static recorder rl;
    rec_init(&rl, "L");
    redlead_election_config *cfg = redlead_election_config_new();
    redlead_election_config_set_ttl_ms(cfg, 2000, NULL);
    redlead_election *e = NULL;
    redlead_event_closure cl = {&rl, rec_call, rec_drop};
    redlead_error *err = NULL;
    check_status("fork_leader_start", redlead_election_start(c, "c-fork-leader", "parent", cfg, cl, &e, &err),
                 REDLEAD_OK, &err);
    CHECK("fork_parent_is_elected", wait_for(&rl.elected, 1, 5000));
    redlead_lock *l = NULL;
    err = NULL;
    check_status("fork_parent_lock", redlead_lock_try_acquire(c, "c-fork-lock", 5000, REDLEAD_LOCK_FENCED, &l, &err),
                 REDLEAD_OK, &err);
    err = NULL;
    check_status("fork_parent_extends", redlead_lock_extend(l, 5000, &err), REDLEAD_OK, &err);
    CHECK("fork_parent_counts_extensions", redlead_lock_extensions(l) == 1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(5);
        int bad = 0;
        bad |= redlead_election_is_leader(e) != 0;
        bad |= (redlead_election_term(e) != 0) << 1;
        bad |= (redlead_election_is_healthy(e) != 0) << 2;
        bad |= (redlead_lock_is_held(l) != 0) << 3;
        bad |= (redlead_lock_fencing_token(l) != 0) << 4;
        bad |= (redlead_lock_validity_ms(l) != 0) << 5;
        /* The core does not zero this one itself: the boundary does. */
        bad |= (redlead_lock_extensions(l) != 0) << 8;
        bad |= (redlead_lock_extend(l, 5000, NULL) != REDLEAD_ERR_FORKED) << 6;
        /* What touches no runtime object still works in the child. */
        redlead_error *ferr = NULL;
        redlead_status fst = redlead_election_resign(e, NULL, &ferr);
        bad |= (fst != REDLEAD_ERR_FORKED || redlead_error_code(ferr) != REDLEAD_ERR_FORKED ||
                strstr(redlead_error_message(ferr), "fork") == NULL ||
                strcmp(redlead_status_str(REDLEAD_OK), "ok") != 0)
               << 7;
        redlead_error_free(ferr);
        redlead_lock_free(l); /* leaks in the child: the parent keeps its lock */
        _exit(bad ? 1 + (bad & 0x7f) + ((bad >> 8) ? 128 : 0) : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        printf("forked child accessor failures: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CHECK("forked_child_reports_no_leadership_lock_or_token", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK("parent_keeps_leadership_and_lock_after_fork",
          redlead_election_is_leader(e) == 1 && redlead_lock_is_held(l) == 1 &&
              redlead_lock_fencing_token(l) > 0);
    redlead_lock_free(l);
    err = NULL;
    check_status("fork_leader_free", redlead_election_free(e, &err), REDLEAD_OK, &err);
    redlead_election_config_free(cfg);
}

/* A handle freed by one thread while another waits in a call on it: the
 * call keeps the object alive and returns normally (ASan would see a use
 * after free otherwise). */
typedef struct {
    redlead_client *client;
    redlead_status st;
} waiter_arg;

static void *wait_in_acquire(void *p) {
    waiter_arg *a = p;
    redlead_lock *l = NULL;
    a->st = redlead_lock_acquire(a->client, "c-freed-under-me", 5000, 800, 0, &l, NULL);
    redlead_lock_free(l);
    return NULL;
}

static void test_free_while_waiting(redlead_client *c) {
    redlead_lock *holder = NULL;
    redlead_error *err = NULL;
    check_status("free_while_waiting_hold", redlead_lock_try_acquire(c, "c-freed-under-me", 5000, 0, &holder, &err),
                 REDLEAD_OK, &err);
    waiter_arg a = {new_client(), REDLEAD_OK};
    pthread_t t;
    pthread_create(&t, NULL, wait_in_acquire, &a);
    sleep_ms(200); /* the waiter retries against the held resource */
    redlead_client_free(a.client);
    pthread_join(t, NULL);
    printf("  acquire whose client was freed 200 ms into its wait: %s\n", redlead_status_str(a.st));
    CHECK("client_freed_during_a_waiting_acquire_returns_normally", a.st == REDLEAD_NOT_ACQUIRED);
    redlead_lock_free(holder);
}

/* Double frees and uses after free answer INVALID_ARGUMENT (freed handles
 * are quarantined, so this is clean under ASan too). */
static void test_double_free(redlead_client *c) {
    redlead_lock *l = NULL;
    redlead_error *err = NULL;
    check_status("double_free_lock_acquire", redlead_lock_try_acquire(c, "c-double-free", 5000, 0, &l, &err),
                 REDLEAD_OK, &err);
    redlead_lock_free(l);
    redlead_lock_free(l);
    CHECK("freed_lock_is_not_held", redlead_lock_is_held(l) == 0 && redlead_lock_fencing_token(l) == 0);
    err = NULL;
    check_status("extend_after_free_is_invalid_argument", redlead_lock_extend(l, 1000, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    err = NULL;
    check_status("release_after_free_is_invalid_argument", redlead_lock_release(l, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);

    static recorder rd;
    rec_init(&rd, "D");
    redlead_election *e = NULL;
    redlead_event_closure cl = {&rd, rec_call, rec_drop};
    err = NULL;
    check_status("double_free_election_start", redlead_election_start(c, "c-double-free-e", "D", NULL, cl, &e, &err),
                 REDLEAD_OK, &err);
    err = NULL;
    check_status("double_free_election_first", redlead_election_free(e, &err), REDLEAD_OK, &err);
    err = NULL;
    check_status("double_free_election_second", redlead_election_free(e, &err), REDLEAD_ERR_INVALID_ARGUMENT, &err);
    CHECK("double_free_election_drops_once", atomic_load(&rd.drops) == 1);

    redlead_config *cfg = redlead_config_new();
    redlead_config_free(cfg);
    redlead_config_free(cfg);
    err = NULL;
    check_status("config_setter_after_free", redlead_config_set_retry_count(cfg, 3, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    redlead_error *e1 = NULL;
    redlead_lock_extend(NULL, 1, &e1);
    redlead_error_free(e1);
    redlead_error_free(e1);
    CHECK("error_double_free_is_a_no_op", redlead_error_code(e1) == REDLEAD_ERR_INVALID_ARGUMENT);
}

/* Every handle passed where another type is expected is refused
 * (REDLEAD_ERR_INVALID_ARGUMENT, or a no-op for the frees) and stays usable.
 * Under AddressSanitizer this also looks for reads outside the handle:
 * before the magic number sat at offset 0 of every handle, checking a
 * redlead_cancel passed to redlead_election_config_free read past the
 * cancel's end (found by fuzz/ c_abi). Whether such a read lands in a
 * redzone depends on the heap, so the regression test that always catches
 * it is every_handle_starts_with_its_magic_number in ffi/src/boundary.rs. */
static void test_wrong_handle_types(redlead_client *c) {
    enum { N = 9 };
    redlead_error *err = NULL;
    redlead_lock *l = NULL;
    check_status("wrong_type_lock", redlead_lock_try_acquire(c, "c-wrong-type", 5000, 0, &l, &err),
                 REDLEAD_OK, &err);
    static recorder rd;
    rec_init(&rd, "W");
    redlead_event_closure cl = {&rd, rec_call, rec_drop};
    redlead_election *el = NULL;
    err = NULL;
    check_status("wrong_type_election", redlead_election_start(c, "c-wrong-type-e", "W", NULL, cl, &el, &err),
                 REDLEAD_OK, &err);
    redlead_outcomes *o = NULL;
    err = NULL;
    check_status("wrong_type_outcomes", redlead_client_ping(c, &o, &err), REDLEAD_OK, &err);
    redlead_error *e0 = NULL;
    redlead_lock_extend(NULL, 1000, &e0);
    void *h[N] = {redlead_config_new(), redlead_election_config_new(), redlead_lock_options_new(),
                  redlead_cancel_new(), c, l, el, o, e0};
    int probes = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            if (i == j) continue;
            redlead_error *e = NULL;
            const char *node = NULL, *msg = NULL;
            redlead_outcome oc;
            uint8_t flag = 0;
            redlead_outcomes *o2 = NULL;
            redlead_status st = REDLEAD_OK;
            switch (j) {
            case 0: st = redlead_config_set_retry_count((redlead_config *)h[i], 3, &e); break;
            case 1: st = redlead_election_config_set_ttl_ms((redlead_election_config *)h[i], 1000, &e); break;
            case 2: st = redlead_lock_options_set_fenced((redlead_lock_options *)h[i], 1, &e); break;
            case 3: st = redlead_cancel_cancel((redlead_cancel *)h[i], &e); break;
            case 4: st = redlead_client_ping((redlead_client *)h[i], &o2, &e); break;
            case 5: st = redlead_lock_extend((redlead_lock *)h[i], 5000, &e); break;
            case 6: st = redlead_election_resign((redlead_election *)h[i], &flag, &e); break;
            case 7: st = redlead_outcomes_get((redlead_outcomes *)h[i], 0, &node, &oc, &msg, &e); break;
            case 8: st = redlead_error_node_outcome((redlead_error *)h[i], 0, &node, &oc, &msg, &e); break;
            }
            probes++;
            if (st == REDLEAD_ERR_INVALID_ARGUMENT && e && strstr(redlead_error_message(e), "is not a"))
                refused++;
            else
                printf("  handle %d taken as type %d: status %d\n", i, j, (int)st);
            redlead_error_free(e);
            redlead_outcomes_free(o2);
            switch (j) {
            case 0: redlead_config_free((redlead_config *)h[i]); break;
            case 1: redlead_election_config_free((redlead_election_config *)h[i]); break;
            case 2: redlead_lock_options_free((redlead_lock_options *)h[i]); break;
            case 3: redlead_cancel_free((redlead_cancel *)h[i]); break;
            case 4: redlead_client_free((redlead_client *)h[i]); break;
            case 5: redlead_lock_free((redlead_lock *)h[i]); break;
            case 6: e = NULL; redlead_election_free((redlead_election *)h[i], &e); redlead_error_free(e); break;
            case 7: redlead_outcomes_free((redlead_outcomes *)h[i]); break;
            case 8: redlead_error_free((redlead_error *)h[i]); break;
            }
        }
    }
    CHECK("every_handle_taken_as_another_type_is_refused", probes == N * (N - 1) && refused == probes);
    err = NULL;
    CHECK("handles_outlive_frees_of_another_type",
          redlead_lock_is_held(l) == 1 && redlead_outcomes_count(o) == g_n &&
              redlead_error_code(e0) == REDLEAD_ERR_INVALID_ARGUMENT &&
              redlead_config_set_retry_count(h[0], 3, &err) == REDLEAD_OK);
    redlead_config_free(h[0]);
    redlead_election_config_free(h[1]);
    redlead_lock_options_free(h[2]);
    redlead_cancel_free(h[3]);
    check_status("wrong_type_lock_release", redlead_lock_release(l, &err), REDLEAD_OK, &err);
    redlead_lock_free(l);
    err = NULL;
    check_status("wrong_type_election_free", redlead_election_free(el, &err), REDLEAD_OK, &err);
    redlead_outcomes_free(o);
    redlead_error_free(e0);
}

/* ---- raw Redis access, to look at the keys themselves ---- */

/* Number of nodes among g_urls where `key` exists (EXISTS over a raw socket). */
static int nodes_with_key(const char *key) {
    int n = 0;
    for (size_t i = 0; i < g_n; i++) {
        int port = atoi(strrchr(g_urls[i], ':') + 1);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            continue;
        }
        char cmd[512], reply[64] = {0};
        int len = snprintf(cmd, sizeof cmd, "*2\r\n$6\r\nEXISTS\r\n$%zu\r\n%s\r\n", strlen(key), key);
        if (write(fd, cmd, (size_t)len) == len && read(fd, reply, sizeof reply - 1) > 0 &&
            strncmp(reply, ":1", 2) == 0)
            n++;
        close(fd);
    }
    return n;
}

/* ---- options: owner label, holder, auto-extend, lost callback ---- */

typedef struct {
    atomic_int calls;
    atomic_int drops;
    atomic_int held_at_call; /* redlead_lock_is_held when lost fired */
    redlead_lock *lock;
} lost_probe;

static void lost_call(void *ctx) {
    lost_probe *p = ctx;
    if (p->lock) atomic_store(&p->held_at_call, redlead_lock_is_held(p->lock));
    atomic_fetch_add(&p->calls, 1);
}
static void lost_drop(void *ctx) {
    lost_probe *p = ctx;
    atomic_fetch_add(&p->drops, 1);
}

static void test_owner_and_holder(redlead_client *c) {
    redlead_lock_options *o = redlead_lock_options_new();
    redlead_error *err = NULL;
    check_status("options_set_owner", redlead_lock_options_set_owner(o, "worker-7", &err), REDLEAD_OK, &err);
    check_status("options_set_fenced", redlead_lock_options_set_fenced(o, 1, &err), REDLEAD_OK, &err);
    redlead_lock *l = NULL;
    check_status("acquire_with_owner", redlead_lock_acquire_with(c, "c-owned", 5000, 0, o, NULL, &l, &err),
                 REDLEAD_OK, &err);
    CHECK("owned_lock_is_fenced", redlead_lock_fencing_token(l) > 0);
    uint8_t held = 9;
    char *owner = NULL;
    check_status("holder_query", redlead_client_holder(c, "c-owned", &held, &owner, &err), REDLEAD_OK, &err);
    printf("  holder of c-owned: held=%d owner=%s\n", held, owner ? owner : "(none)");
    CHECK("holder_names_the_owner_label", held == 1 && owner && strcmp(owner, "worker-7") == 0);
    redlead_string_free(owner);
    redlead_lock_release(l, NULL);
    redlead_lock_free(l);
    owner = (char *)0x1;
    check_status("holder_after_release", redlead_client_holder(c, "c-owned", &held, &owner, &err), REDLEAD_OK, &err);
    CHECK("nobody_holds_after_release", held == 0 && owner == NULL);
    /* unlabelled holder: held, no owner */
    redlead_lock_try_acquire(c, "c-unlabelled", 5000, 0, &l, NULL);
    owner = (char *)0x1;
    redlead_client_holder(c, "c-unlabelled", &held, &owner, NULL);
    CHECK("unlabelled_holder_is_held_without_owner", held == 1 && owner == NULL);
    redlead_lock_free(l);

    check_status("owner_invalid_utf8", redlead_lock_options_set_owner(o, "\xff\xfe", &err), REDLEAD_ERR_INVALID_ARGUMENT, &err);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    redlead_lock_options_set_owner(o, longname, NULL);
    l = (redlead_lock *)0x1;
    check_status("owner_too_long_rejected_at_acquire", redlead_lock_acquire_with(c, "c-owned-long", 5000, 0, o, NULL, &l, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    check_status("holder_null_resource", redlead_client_holder(c, NULL, &held, &owner, &err), REDLEAD_ERR_INVALID_ARGUMENT, &err);
    check_status("auto_extend_needs_a_cap", redlead_lock_options_set_auto_extend(o, 0, 0, 0, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    check_status("options_setter_null", redlead_lock_options_set_fenced(NULL, 1, &err), REDLEAD_ERR_INVALID_ARGUMENT, &err);
    redlead_lock_options_free(o);
    redlead_lock_options_free(o); /* detected, ignored */
}

static void test_auto_extend_and_lost(redlead_client *c) {
    redlead_lock_options *o = redlead_lock_options_new();
    redlead_error *err = NULL;
    /* ttl 600 ms, extended every 200 ms for at most 1500 ms in all. */
    check_status("options_auto_extend", redlead_lock_options_set_auto_extend(o, 1500, 0, 0, &err), REDLEAD_OK, &err);
    redlead_lock *l = NULL;
    check_status("acquire_auto_extended", redlead_lock_acquire_with(c, "c-auto", 600, 0, o, NULL, &l, &err),
                 REDLEAD_OK, &err);
    static lost_probe p;
    p.lock = l;
    atomic_store(&p.held_at_call, -1);
    redlead_lost_closure cl = {&p, lost_call, lost_drop};
    check_status("on_lost_register", redlead_lock_on_lost(l, cl, &err), REDLEAD_OK, &err);
    sleep_ms(1000);
    printf("  after 1000 ms (ttl 600): held=%d extensions=%u\n", redlead_lock_is_held(l), redlead_lock_extensions(l));
    CHECK("auto_extend_keeps_lock_past_its_ttl", redlead_lock_is_held(l) == 1 && redlead_lock_extensions(l) >= 3);
    CHECK("not_lost_while_extended", atomic_load(&p.calls) == 0);
    /* The cap ends extension at 1500 ms; the lost signal fires before the validity ends. */
    for (int i = 0; i < 300 && atomic_load(&p.calls) == 0; i++) sleep_ms(10);
    CHECK("lost_callback_fires_once_after_the_cap", atomic_load(&p.calls) == 1);
    CHECK("lost_fires_when_is_held_turned_0", atomic_load(&p.held_at_call) == 0);
    for (int i = 0; i < 100 && atomic_load(&p.drops) == 0; i++) sleep_ms(10);
    CHECK("lost_closure_dropped_once_after_call", atomic_load(&p.drops) == 1);
    redlead_lock_free(l);
    redlead_lock_options_free(o);

    /* Released first: drop without call. Registered after release: CLOSED, dropped. */
    static lost_probe q;
    redlead_lock_try_acquire(c, "c-lost-released", 5000, 0, &l, NULL);
    redlead_lost_closure cq = {&q, lost_call, lost_drop};
    check_status("on_lost_then_release", redlead_lock_on_lost(l, cq, &err), REDLEAD_OK, &err);
    redlead_lock_release(l, NULL);
    for (int i = 0; i < 100 && atomic_load(&q.drops) == 0; i++) sleep_ms(10);
    CHECK("released_lock_drops_lost_closure_without_call", atomic_load(&q.drops) == 1 && atomic_load(&q.calls) == 0);
    check_status("on_lost_after_release_is_closed", redlead_lock_on_lost(l, cq, &err), REDLEAD_ERR_CLOSED, &err);
    CHECK("failed_on_lost_drops_closure", atomic_load(&q.drops) == 2 && atomic_load(&q.calls) == 0);
    redlead_lost_closure nocall = {&q, NULL, lost_drop};
    check_status("on_lost_null_call", redlead_lock_on_lost(l, nocall, &err), REDLEAD_ERR_INVALID_ARGUMENT, &err);
    redlead_lock_free(l);
    /* Freed first: drop without call. */
    static lost_probe r;
    redlead_lock_try_acquire(c, "c-lost-freed", 5000, 0, &l, NULL);
    redlead_lost_closure cr = {&r, lost_call, lost_drop};
    redlead_lock_on_lost(l, cr, NULL);
    redlead_lock_free(l);
    for (int i = 0; i < 100 && atomic_load(&r.drops) == 0; i++) sleep_ms(10);
    CHECK("freed_lock_drops_lost_closure_without_call", atomic_load(&r.drops) == 1 && atomic_load(&r.calls) == 0);
}

static void test_ping(redlead_client *c) {
    redlead_outcomes *o = NULL;
    redlead_error *err = NULL;
    check_status("ping", redlead_client_ping(c, &o, &err), REDLEAD_OK, &err);
    size_t n = redlead_outcomes_count(o), ok = 0;
    for (size_t i = 0; i < n; i++) {
        const char *node = NULL, *msg = NULL;
        redlead_outcome k = REDLEAD_OUTCOME_ERROR;
        if (redlead_outcomes_get(o, i, &node, &k, &msg, NULL) == REDLEAD_OK && k == REDLEAD_OUTCOME_OK) ok++;
    }
    const char *node = NULL, *msg = NULL;
    redlead_outcome k;
    check_status("ping_outcome_out_of_range", redlead_outcomes_get(o, n, &node, &k, &msg, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    CHECK("ping_reports_every_node_ok", n == g_n && ok == g_n);
    redlead_outcomes_free(o);
    check_status("ping_null_out", redlead_client_ping(c, NULL, &err), REDLEAD_ERR_INVALID_ARGUMENT, &err);
}

/* ---- cancellation ---- */

typedef struct {
    redlead_client *client;
    redlead_cancel *cancel;
    redlead_status st;
    long took_ms;
} cancel_arg;

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *acquire_until_cancelled(void *p) {
    cancel_arg *a = p;
    redlead_lock *l = NULL;
    long t0 = now_ms();
    a->st = redlead_lock_acquire_with(a->client, "c-cancel-held", 5000, 10000, NULL, a->cancel, &l, NULL);
    a->took_ms = now_ms() - t0;
    redlead_lock_free(l);
    return NULL;
}

typedef struct {
    atomic_int calls;
    atomic_int drops;
    atomic_int status;
    atomic_int off_caller_thread;
    atomic_int on_callback_thread;
    pthread_t caller;
    redlead_lock *_Atomic lock;
    atomic_int release_in_callback; /* blocking call from inside the completion */
} completion_probe;

static void comp_call(void *ctx, redlead_status st, redlead_lock *lock, redlead_error *err) {
    completion_probe *p = ctx;
    char name[32] = {0};
    pthread_getname_np(pthread_self(), name, sizeof name);
    atomic_store(&p->on_callback_thread, strcmp(name, "redlead-cb") == 0);
    atomic_store(&p->off_caller_thread, !pthread_equal(pthread_self(), p->caller));
    atomic_store(&p->status, (int)st);
    if (st != REDLEAD_OK && (err == NULL || redlead_error_code(err) != st)) atomic_store(&p->status, -2);
    redlead_error_free(err);
    if (lock && atomic_load(&p->release_in_callback)) {
        atomic_store(&p->release_in_callback, (int)redlead_lock_release(lock, NULL) + 100);
        redlead_lock_free(lock);
        lock = NULL;
    }
    atomic_store(&p->lock, lock);
    atomic_fetch_add(&p->calls, 1);
}
static void comp_drop(void *ctx) {
    completion_probe *p = ctx;
    atomic_fetch_add(&p->drops, 1);
}
static void comp_init(completion_probe *p) {
    memset(p, 0, sizeof *p);
    atomic_store(&p->status, -1);
    p->caller = pthread_self();
}
static int comp_wait(completion_probe *p, int ms) {
    for (int i = 0; i < ms / 5 && atomic_load(&p->drops) == 0; i++) sleep_ms(5);
    return atomic_load(&p->calls) == 1 && atomic_load(&p->drops) == 1;
}

static void test_cancel(redlead_client *c) {
    redlead_lock *holder = NULL;
    redlead_lock_try_acquire(c, "c-cancel-held", 5000, 0, &holder, NULL);
    cancel_arg a = {c, redlead_cancel_new(), REDLEAD_OK, 0};
    pthread_t t;
    pthread_create(&t, NULL, acquire_until_cancelled, &a);
    sleep_ms(200);
    redlead_error *err = NULL;
    check_status("cancel_a_waiting_acquire", redlead_cancel_cancel(a.cancel, &err), REDLEAD_OK, &err);
    pthread_join(t, NULL);
    printf("  waiting acquire (wait 10 s) cancelled after 200 ms: %s after %ld ms\n", redlead_status_str(a.st), a.took_ms);
    CHECK("cancelled_acquire_returns_cancelled_promptly", a.st == REDLEAD_ERR_CANCELLED && a.took_ms < 1000);
    CHECK("cancel_is_cancelled", redlead_cancel_is_cancelled(a.cancel) == 1);
    check_status("cancel_twice_is_fine", redlead_cancel_cancel(a.cancel, &err), REDLEAD_OK, &err);
    redlead_lock *l = (redlead_lock *)0x1;
    check_status("already_cancelled_acquire_does_not_start",
                 redlead_lock_acquire_with(c, "c-cancel-free", 5000, 1000, NULL, a.cancel, &l, &err),
                 REDLEAD_ERR_CANCELLED, &err);
    CHECK("cancelled_acquire_leaves_lock_out_untouched", l == (redlead_lock *)0x1);
    redlead_cancel_free(a.cancel);
    check_status("cancel_after_free_is_invalid_argument", redlead_cancel_cancel(a.cancel, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    check_status("cancel_null_is_invalid_argument", redlead_cancel_cancel(NULL, &err), REDLEAD_ERR_INVALID_ARGUMENT, &err);
    redlead_cancel_free(a.cancel); /* double free: detected, ignored */
    CHECK("freed_cancel_is_not_cancelled", redlead_cancel_is_cancelled(a.cancel) == 0);
    redlead_lock_free(holder);

    /* Cancel right after starting an acquire on a free resource, many times:
     * whatever moment the cancel lands, a cancelled acquire leaves no key. */
    int cancelled = 0, acquired = 0, leftover = 0;
    for (int i = 0; i < 30; i++) {
        char res[64], key[96];
        snprintf(res, sizeof res, "c-cancel-race-%d", i);
        snprintf(key, sizeof key, "redlead:{%s}", res);
        completion_probe p;
        comp_init(&p);
        redlead_cancel *k = redlead_cancel_new();
        redlead_completion cc = {&p, comp_call, comp_drop};
        redlead_lock_acquire_async(c, res, 5000, 0, NULL, k, cc, NULL);
        if (i % 3) sleep_ms(i % 2); /* land the cancel at different moments */
        redlead_cancel_cancel(k, NULL);
        redlead_cancel_free(k);
        comp_wait(&p, 3000);
        if (atomic_load(&p.status) == REDLEAD_ERR_CANCELLED) {
            cancelled++;
            sleep_ms(100); /* the abandoned attempt releases what it took */
            if (nodes_with_key(key) != 0) leftover++;
        } else if (atomic_load(&p.status) == REDLEAD_OK) {
            acquired++;
            redlead_lock_free(atomic_load(&p.lock));
        }
    }
    printf("  30 acquires cancelled at once: %d cancelled, %d completed first, %d left a key\n", cancelled, acquired,
           leftover);
    CHECK("cancelled_acquires_leave_no_key", cancelled > 0 && leftover == 0 && cancelled + acquired == 30);
}

static void test_async(redlead_client *c) {
    completion_probe p;
    comp_init(&p);
    redlead_completion cc = {&p, comp_call, comp_drop};
    redlead_error *err = NULL;
    redlead_lock_options *o = redlead_lock_options_new();
    redlead_lock_options_set_fenced(o, 1, NULL);
    check_status("acquire_async_starts", redlead_lock_acquire_async(c, "c-async", 5000, 0, o, NULL, cc, &err),
                 REDLEAD_OK, &err);
    redlead_lock_options_free(o); /* copied: may be freed at once */
    CHECK("acquire_async_completes_once_then_drops", comp_wait(&p, 3000));
    CHECK("completion_runs_on_a_redlead_callback_thread",
          atomic_load(&p.on_callback_thread) == 1 && atomic_load(&p.off_caller_thread) == 1);
    redlead_lock *l = atomic_load(&p.lock);
    CHECK("acquire_async_gives_a_fenced_lock", atomic_load(&p.status) == REDLEAD_OK && l &&
                                                  redlead_lock_fencing_token(l) > 0);

    comp_init(&p);
    check_status("extend_async_starts", redlead_lock_extend_async(l, 8000, cc, &err), REDLEAD_OK, &err);
    CHECK("extend_async_completes_ok", comp_wait(&p, 3000) && atomic_load(&p.status) == REDLEAD_OK &&
                                           atomic_load(&p.lock) == NULL && redlead_lock_validity_ms(l) > 6000);
    comp_init(&p);
    check_status("release_async_starts", redlead_lock_release_async(l, cc, &err), REDLEAD_OK, &err);
    redlead_lock_free(l); /* freeing right after starting is fine */
    CHECK("release_async_completes_ok", comp_wait(&p, 3000) && atomic_load(&p.status) == REDLEAD_OK);

    /* Held elsewhere: the completion carries NOT_ACQUIRED and its error. */
    redlead_lock *holder = NULL;
    redlead_lock_try_acquire(c, "c-async-held", 5000, 0, &holder, NULL);
    comp_init(&p);
    redlead_lock_acquire_async(c, "c-async-held", 5000, 0, NULL, NULL, cc, NULL);
    CHECK("acquire_async_not_acquired_carries_error",
          comp_wait(&p, 3000) && atomic_load(&p.status) == REDLEAD_NOT_ACQUIRED);
    redlead_lock_free(holder);

    /* A blocking call from inside a completion works (not a runtime thread). */
    comp_init(&p);
    atomic_store(&p.release_in_callback, 1);
    redlead_lock_acquire_async(c, "c-async-nested", 5000, 0, NULL, NULL, cc, NULL);
    CHECK("blocking_release_inside_a_completion_works",
          comp_wait(&p, 3000) && atomic_load(&p.release_in_callback) == 100 + REDLEAD_OK);

    /* Bad input: nothing starts, drop has run, call never runs. */
    comp_init(&p);
    check_status("acquire_async_ttl_zero", redlead_lock_acquire_async(c, "c-async", 0, 0, NULL, NULL, cc, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    check_status("acquire_async_null_resource", redlead_lock_acquire_async(c, NULL, 1000, 0, NULL, NULL, cc, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    check_status("acquire_async_bad_utf8", redlead_lock_acquire_async(c, "\xff", 1000, 0, NULL, NULL, cc, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    redlead_completion nocall = {&p, NULL, comp_drop};
    check_status("acquire_async_null_call", redlead_lock_acquire_async(c, "c-async", 1000, 0, NULL, NULL, nocall, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    check_status("extend_async_null_lock", redlead_lock_extend_async(NULL, 1000, cc, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    check_status("release_async_freed_lock", redlead_lock_release_async(l, cc, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    sleep_ms(50);
    CHECK("failed_async_starts_drop_without_call", atomic_load(&p.drops) == 6 && atomic_load(&p.calls) == 0);
}

/* ---- log callback ---- */

typedef struct {
    pthread_mutex_t mu;
    atomic_int records;
    atomic_int drops;
    int saw_acquire_failed;
    int level_ok;
    char thread[32];
    atomic_int clear_inside; /* 1: call redlead_log_clear from the callback */
    atomic_int clear_inside_status;
} log_probe;

static void log_call(void *ctx, const redlead_log_record *r) {
    log_probe *p = ctx;
    pthread_mutex_lock(&p->mu);
    if (strstr(r->message, "acquire failed") && strncmp(r->target, "redlead", 7) == 0) {
        p->saw_acquire_failed = 1;
        p->level_ok = r->level == REDLEAD_LOG_DEBUG;
        pthread_getname_np(pthread_self(), p->thread, sizeof p->thread);
    }
    pthread_mutex_unlock(&p->mu);
    if (atomic_exchange(&p->clear_inside, 0) == 1) atomic_store(&p->clear_inside_status, (int)redlead_log_clear(NULL));
    atomic_fetch_add(&p->records, 1);
}
static void log_drop(void *ctx) {
    log_probe *p = ctx;
    atomic_fetch_add(&p->drops, 1);
}

/* Threads of this process whose name is `name` (/proc/self/task/N/comm). */
static int threads_named(const char *name) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[32] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof comm, f)) {
            comm[strcspn(comm, "\n")] = 0;
            if (strcmp(comm, name) == 0) n++;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

static int wait_threads_named(const char *name, int want, int ms) {
    int n = threads_named(name);
    for (int i = 0; i < ms && n != want; i++) {
        sleep_ms(1);
        n = threads_named(name);
    }
    return n;
}

static void test_log(redlead_client *c) {
    static log_probe p = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, {0}, 0, -1};
    static log_probe bad = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, {0}, 0, -1};
    redlead_error *err = NULL;
    redlead_log_closure lb = {&bad, log_call, log_drop};
    check_status("log_bad_level", redlead_log_set_callback(lb, 9, &err), REDLEAD_ERR_INVALID_ARGUMENT, &err);
    CHECK("log_failed_set_drops_closure", atomic_load(&bad.drops) == 1);
    redlead_log_closure lc = {&p, log_call, log_drop};
    check_status("log_set_debug", redlead_log_set_callback(lc, REDLEAD_LOG_DEBUG, &err), REDLEAD_OK, &err);
    redlead_lock *holder = NULL, *l = NULL;
    redlead_lock_try_acquire(c, "c-log", 5000, 0, &holder, NULL);
    redlead_lock_try_acquire(c, "c-log", 5000, 0, &l, NULL); /* NOT_ACQUIRED: the core logs "acquire failed" */
    for (int i = 0; i < 200 && !p.saw_acquire_failed; i++) sleep_ms(5);
    pthread_mutex_lock(&p.mu);
    printf("  log records: %d, 'acquire failed' seen: %d on thread %s\n", atomic_load(&p.records),
           p.saw_acquire_failed, p.thread);
    CHECK("log_callback_sees_core_events_with_level_and_target", p.saw_acquire_failed && p.level_ok);
    CHECK("log_callback_runs_on_the_log_thread", strcmp(p.thread, "redlead-log") == 0);
    pthread_mutex_unlock(&p.mu);
    atomic_store(&p.clear_inside, 1);
    redlead_lock_try_acquire(c, "c-log", 5000, 0, &l, NULL);
    for (int i = 0; i < 200 && atomic_load(&p.clear_inside_status) == -1; i++) sleep_ms(5);
    CHECK("log_clear_from_inside_the_callback_is_wrong_thread",
          atomic_load(&p.clear_inside_status) == REDLEAD_ERR_WRONG_THREAD);
    check_status("log_clear", redlead_log_clear(&err), REDLEAD_OK, &err);
    CHECK("log_clear_drops_closure_once", atomic_load(&p.drops) == 1);
    int before = atomic_load(&p.records);
    redlead_lock_try_acquire(c, "c-log", 5000, 0, &l, NULL);
    sleep_ms(100);
    CHECK("no_log_call_after_clear", atomic_load(&p.records) == before);
    check_status("log_clear_twice_is_fine", redlead_log_clear(&err), REDLEAD_OK, &err);
    /* Runtimes that wait at exit for every native thread that ran their code
     * (Mono) need the library's threads to end when asked. */
    CHECK("log_clear_ends_the_log_thread", threads_named("redlead-log") == 0);
    static log_probe again = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, {0}, 0, -1};
    redlead_log_closure la = {&again, log_call, log_drop};
    check_status("log_set_after_clear", redlead_log_set_callback(la, REDLEAD_LOG_DEBUG, &err), REDLEAD_OK, &err);
    redlead_lock_try_acquire(c, "c-log", 5000, 0, &l, NULL);
    for (int i = 0; i < 200 && !again.saw_acquire_failed; i++) sleep_ms(5);
    CHECK("log_set_after_clear_starts_a_new_log_thread",
          again.saw_acquire_failed && threads_named("redlead-log") == 1);
    check_status("log_clear_again", redlead_log_clear(&err), REDLEAD_OK, &err);
    CHECK("log_clear_again_drops_and_ends", atomic_load(&again.drops) == 1 && threads_named("redlead-log") == 0);
    redlead_lock_free(holder);
    /* test_async just ran its completions on redlead-cb threads (idle for 10 s). */
    int cb_before = threads_named("redlead-cb");
    size_t asked = redlead_release_idle_threads();
    int cb_after = wait_threads_named("redlead-cb", 0, 2000);
    printf("  redlead-cb threads: %d before redlead_release_idle_threads, %zu asked, %d after\n", cb_before,
           asked, cb_after);
    CHECK("release_idle_threads_ends_the_idle_callback_threads", cb_before > 0 && asked > 0 && cb_after == 0);
}

static void test_metrics(redlead_client *c) {
    char *text = NULL;
    redlead_error *err = NULL;
    CHECK("metrics_render_before_enable_is_invalid",
          redlead_metrics_render(&text, &err) == REDLEAD_ERR_INVALID_ARGUMENT && text == NULL &&
              err != NULL && strstr(redlead_error_message(err), "redlead_metrics_enable") != NULL);
    redlead_error_free(err);
    err = NULL;
    CHECK("metrics_enable", redlead_metrics_enable(&err) == REDLEAD_OK);
    CHECK("metrics_enable_twice_is_fine", redlead_metrics_enable(NULL) == REDLEAD_OK);
    redlead_lock *l = NULL;
    CHECK("metrics_acquire", redlead_lock_try_acquire(c, "c-metrics", 5000, 0, &l, NULL) == REDLEAD_OK);
    redlead_lock *again = NULL;
    CHECK("metrics_acquire_held",
          redlead_lock_try_acquire(c, "c-metrics", 5000, 0, &again, NULL) == REDLEAD_NOT_ACQUIRED);
    redlead_lock_release(l, NULL);
    redlead_lock_free(l);
    CHECK("metrics_render", redlead_metrics_render(&text, NULL) == REDLEAD_OK && text != NULL);
    if (text) {
        printf("  metrics (%zu bytes), e.g. %.*s\n", strlen(text), 120, strstr(text, "redlead_node_replies_total") ? strstr(text, "redlead_node_replies_total") : text);
        CHECK("metrics_have_acquire_latency_by_result",
              strstr(text, "redlead_acquire_duration_seconds_count{") != NULL &&
                  strstr(text, "result=\"acquired\"") != NULL && strstr(text, "result=\"not_acquired\"") != NULL);
        CHECK("metrics_have_node_replies_by_outcome",
              strstr(text, "redlead_node_replies_total{") != NULL && strstr(text, "outcome=\"held\"") != NULL &&
                  strstr(text, g_urls[0] + strlen("redis://")) != NULL);
    }
    redlead_string_free(text);
    CHECK("metrics_render_null_out_is_invalid", redlead_metrics_render(NULL, NULL) == REDLEAD_ERR_INVALID_ARGUMENT);
}

typedef struct {
    pthread_mutex_t mu;
    char last[300];
    int calls;
    int has_leader;
    atomic_int dropped;
    redlead_observer *self; /* set: the next callback tries to free it */
    redlead_status free_from_callback;
    int tried_free;
} observe_ctx;

static void observe_call(void *ctx, const char *leader) {
    observe_ctx *o = ctx;
    pthread_mutex_lock(&o->mu);
    o->calls++;
    o->has_leader = leader != NULL;
    snprintf(o->last, sizeof o->last, "%s", leader ? leader : "");
    if (o->self && !o->tried_free) {
        o->tried_free = 1;
        o->free_from_callback = redlead_observer_free(o->self, NULL);
    }
    pthread_mutex_unlock(&o->mu);
}

static void observe_drop(void *ctx) { atomic_fetch_add(&((observe_ctx *)ctx)->dropped, 1); }

/* Waits up to 2 s for the last callback to name `want` (NULL: no leader). */
static int observed(observe_ctx *o, const char *want) {
    for (int i = 0; i < 400; i++) {
        pthread_mutex_lock(&o->mu);
        int ok = want ? (o->has_leader && strcmp(o->last, want) == 0) : (o->calls > 0 && !o->has_leader);
        pthread_mutex_unlock(&o->mu);
        if (ok) return 1;
        sleep_ms(5);
    }
    return 0;
}

static redlead_lock *acquire_owned(redlead_client *c, const char *resource, const char *owner) {
    redlead_lock_options *opts = redlead_lock_options_new();
    redlead_lock_options_set_owner(opts, owner, NULL);
    redlead_lock *l = NULL;
    redlead_lock_acquire_with(c, resource, 5000, 2000, opts, NULL, &l, NULL);
    redlead_lock_options_free(opts);
    return l;
}

static void test_observer(redlead_client *c) {
    static observe_ctx o = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0, 0, NULL, REDLEAD_OK, 0};
    redlead_error *err = NULL;
    redlead_lock *a = acquire_owned(c, "c-observed", "obs-a");
    CHECK("observer_lock_a_acquired", a != NULL);
    redlead_observe_closure cl = {&o, observe_call, observe_drop};
    redlead_observer *ob = NULL;
    check_status("observer_start", redlead_observer_start(c, "c-observed", 50, cl, &ob, &err), REDLEAD_OK, &err);
    char buf[257];
    size_t needed = 0;
    check_status("observer_leader", redlead_observer_leader(ob, buf, sizeof buf, &needed, &err), REDLEAD_OK, &err);
    CHECK("observer_leader_is_the_owner_a_quorum_holds", needed == 6 && strcmp(buf, "obs-a") == 0);
    CHECK("observer_first_call_names_the_leader_at_start", observed(&o, "obs-a"));
    pthread_mutex_lock(&o.mu);
    o.self = ob;
    pthread_mutex_unlock(&o.mu);
    redlead_lock_release(a, NULL);
    redlead_lock_free(a);
    CHECK("observer_sees_no_leader_after_the_release", observed(&o, NULL));
    redlead_lock *b = acquire_owned(c, "c-observed", "obs-b");
    CHECK("observer_sees_the_next_holder", observed(&o, "obs-b"));
    pthread_mutex_lock(&o.mu);
    CHECK("observer_free_from_its_callback_is_refused", o.tried_free && o.free_from_callback == REDLEAD_ERR_WRONG_THREAD);
    pthread_mutex_unlock(&o.mu);
    check_status("observer_free", redlead_observer_free(ob, &err), REDLEAD_OK, &err);
    CHECK("observer_closure_dropped_once_by_free", atomic_load(&o.dropped) == 1);
    check_status("observer_double_free", redlead_observer_free(ob, &err), REDLEAD_ERR_INVALID_ARGUMENT, &err);
    check_status("observer_leader_after_free", redlead_observer_leader(ob, buf, sizeof buf, &needed, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    redlead_lock_release(b, NULL);
    redlead_lock_free(b);

    static observe_ctx bad = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0, 0, NULL, REDLEAD_OK, 0};
    redlead_observe_closure bcl = {&bad, observe_call, observe_drop};
    ob = NULL;
    check_status("observer_start_null_resource", redlead_observer_start(c, NULL, 0, bcl, &ob, &err),
                 REDLEAD_ERR_INVALID_ARGUMENT, &err);
    CHECK("observer_closure_dropped_when_start_fails", atomic_load(&bad.dropped) == 1 && ob == NULL);
    redlead_observe_closure none = {NULL, NULL, NULL};
    check_status("observer_start_without_callback", redlead_observer_start(c, "c-observed", 0, none, &ob, &err),
                 REDLEAD_OK, &err);
    check_status("observer_leader_none", redlead_observer_leader(ob, NULL, 0, &needed, &err), REDLEAD_OK, &err);
    CHECK("observer_no_leader_is_size_zero", needed == 0);
    check_status("observer_free_without_callback", redlead_observer_free(ob, &err), REDLEAD_OK, &err);
    check_status("observer_free_null", redlead_observer_free(NULL, &err), REDLEAD_OK, &err);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL...\n", argv[0]);
        return 2;
    }
    g_urls = (const char *const *)(argv + 1);
    g_n = (size_t)(argc - 1);
    test_version();
    redlead_client *c = new_client();
    test_metrics(c);
    test_lock_round_trip(c);
    test_mutual_exclusion(c);
    test_fencing(c);
    test_client_freed_while_lock_lives();
    test_bad_inputs(c);
    test_election(c);
    test_owner_and_holder(c);
    test_observer(c);
    test_auto_extend_and_lost(c);
    test_ping(c);
    test_cancel(c);
    test_async(c);
    test_log(c);
    test_free_while_waiting(c);
    test_double_free(c);
    test_wrong_handle_types(c);
    test_fork(c);
    test_fork_leader(c);
    redlead_client_free(c);
    printf("c: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
