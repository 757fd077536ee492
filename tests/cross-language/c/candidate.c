/* Cross-language election candidate in C (tests/cross-language/README.md has
 * the protocol and the argument). Usage:
 *   candidate-c ID RECORD_FILE RESOURCE TTL_MS NODE_TIMEOUT_MS URL...
 * Campaigns for RESOURCE as ID; while leading, appends
 * "<term> <id> <seq> <t0_ns> <t1_ns>\n" to RECORD_FILE every few ms, where
 * [t0, t1] brackets the is_leader() call that answered 1 (CLOCK_MONOTONIC,
 * which every process on the host shares). Commands come one per line on
 * stdin, each answered by one line on stdout. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "redlead.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void reply(const char *fmt, const char *arg) {
    printf(fmt, arg);
    putchar('\n');
    fflush(stdout);
}

static void die(const char *what, redlead_status st, redlead_error *err) {
    fprintf(stderr, "candidate-c: %s: %s\n", what, err ? redlead_error_message(err) : redlead_status_str(st));
    exit(3);
}

/* Election events are not needed (leadership is polled with is_leader()
 * right before each append), but the closure's call must not be NULL. */
static void on_event(void *ctx, const redlead_event *ev) {
    (void)ctx;
    (void)ev;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s ID RECORD_FILE RESOURCE TTL_MS NODE_TIMEOUT_MS URL...\n", argv[0]);
        return 2;
    }
    const char *id = argv[1];
    const char *resource = argv[3];
    uint64_t ttl_ms = strtoull(argv[4], NULL, 10);
    uint64_t node_timeout_ms = strtoull(argv[5], NULL, 10);
    /* O_APPEND: each record is one write() at the end of the file, so the
     * kernel orders the records of all processes in the order of their
     * write calls, and a record is never torn or overwritten. */
    int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) {
        perror("candidate-c: open record file");
        return 3;
    }

    redlead_error *err = NULL;
    redlead_status st;
    redlead_config *cfg = redlead_config_new();
    if ((st = redlead_config_set_node_timeout_ms(cfg, node_timeout_ms, &err)) != REDLEAD_OK) die("config", st, err);
    redlead_client *client = NULL;
    if ((st = redlead_client_new((const char *const *)(argv + 6), (size_t)(argc - 6), cfg, &client, &err)) != REDLEAD_OK)
        die("client", st, err);
    redlead_config_free(cfg);

    redlead_election_config *ecfg = redlead_election_config_new();
    if ((st = redlead_election_config_set_ttl_ms(ecfg, ttl_ms, &err)) != REDLEAD_OK) die("election config", st, err);
    redlead_event_closure closure = {NULL, on_event, NULL};
    redlead_election *election = NULL;
    if ((st = redlead_election_start(client, resource, id, ecfg, closure, &election, &err)) != REDLEAD_OK)
        die("election", st, err);
    redlead_election_config_free(ecfg);
    reply("ready %s", id);

    redlead_lock *held = NULL;
    uint64_t seq = 0;
    char buf[4096];
    size_t len = 0;
    int running = 1;
    while (running) {
        /* Commands and appends run on this one thread: after `resign`
         * returns, no append of the resigned term can follow. */
        struct pollfd pfd = {0, POLLIN, 0};
        int n = poll(&pfd, 1, 5);
        if (n > 0) {
            ssize_t r = read(0, buf + len, sizeof buf - 1 - len);
            if (r <= 0) {
                running = 0; /* EOF: the driver went away */
            } else {
                len += (size_t)r;
            }
            char *nl;
            while (running && (nl = memchr(buf, '\n', len)) != NULL) {
                *nl = '\0';
                char cmd[64] = "", arg[512] = "";
                unsigned long long num = 0;
                sscanf(buf, "%63s %511s %llu", cmd, arg, &num);
                if (strcmp(cmd, "resign") == 0) {
                    uint8_t resigned = 0;
                    st = redlead_election_resign(election, &resigned, &err);
                    if (st != REDLEAD_OK) {
                        reply("error %s", redlead_error_message(err));
                        redlead_error_free(err);
                        err = NULL;
                    } else {
                        reply("resigned %s", resigned ? "1" : "0");
                    }
                } else if (strcmp(cmd, "lock") == 0 || strcmp(cmd, "try") == 0) {
                    redlead_lock *l = NULL;
                    st = redlead_lock_try_acquire(client, arg, num ? num : 1000, 0, &l, &err);
                    if (st == REDLEAD_OK) {
                        if (strcmp(cmd, "try") == 0) {
                            /* A try that wins is a failure for the driver; give it back. */
                            redlead_lock_release(l, NULL);
                            redlead_lock_free(l);
                        } else {
                            redlead_lock_free(held);
                            held = l;
                        }
                        reply("%s", "acquired");
                    } else if (st == REDLEAD_NOT_ACQUIRED) {
                        reply("%s", "not-acquired");
                    } else {
                        reply("error %s", err ? redlead_error_message(err) : redlead_status_str(st));
                    }
                    redlead_error_free(err);
                    err = NULL;
                } else if (strcmp(cmd, "unlock") == 0) {
                    st = held ? redlead_lock_release(held, &err) : REDLEAD_ERR_CLOSED;
                    if (st == REDLEAD_OK) {
                        reply("%s", "released");
                    } else {
                        reply("error %s", err ? redlead_error_message(err) : redlead_status_str(st));
                    }
                    redlead_error_free(err);
                    err = NULL;
                    redlead_lock_free(held);
                    held = NULL;
                } else if (strcmp(cmd, "quit") == 0) {
                    running = 0;
                } else {
                    reply("error unknown command %s", cmd);
                }
                size_t used = (size_t)(nl - buf) + 1;
                memmove(buf, nl + 1, len - used);
                len -= used;
            }
            if (len == sizeof buf - 1) len = 0; /* an absurd line: drop it */
        }
        if (!running) break;
        /* term, is_leader, term: the answer 1 belongs to term t1 only if the
         * term did not change around it (terms never repeat). */
        uint64_t t0 = now_ns();
        uint64_t term1 = redlead_election_term(election);
        int leading = redlead_election_is_leader(election);
        uint64_t term2 = redlead_election_term(election);
        uint64_t t1 = now_ns();
        if (term1 != 0 && leading && term1 == term2) {
            char rec[400];
            int m = snprintf(rec, sizeof rec, "%" PRIu64 " %s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", term1, id,
                             ++seq, t0, t1);
            if (write(fd, rec, (size_t)m) != m) {
                perror("candidate-c: append");
                return 3;
            }
        }
    }
    redlead_lock_free(held);
    st = redlead_election_free(election, &err);
    if (st != REDLEAD_OK) die("election free", st, err);
    redlead_client_free(client);
    close(fd);
    reply("%s", "bye");
    return 0;
}
