/* Tiny test reporting shared by the C and C++ tests: one line per check,
 * "PASS name" or "FAIL name: why", counted by ffi/tests/run.sh. */
#ifndef REDLEAD_TEST_COMMON_H
#define REDLEAD_TEST_COMMON_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "redlead.h"

static int g_failed = 0;
static int g_passed = 0;

#define CHECK(name, cond)                                                        \
    do {                                                                         \
        if (cond) {                                                              \
            g_passed++;                                                          \
            printf("PASS %s\n", name);                                           \
        } else {                                                                 \
            g_failed++;                                                          \
            printf("FAIL %s: %s (%s:%d)\n", name, #cond, __FILE__, __LINE__);    \
        }                                                                        \
        fflush(stdout);                                                          \
    } while (0)

/* Takes `errp` (read after the call has run, whatever the argument
 * evaluation order). Checks that a call failed with `want` and produced a non-empty message;
 * frees the error. */
static inline void check_status(const char *name, redlead_status got, redlead_status want,
                         redlead_error **errp) {
    redlead_error *err = *errp;
    *errp = NULL;
    int ok = got == want;
    const char *msg = err ? redlead_error_message(err) : NULL;
    if (want != REDLEAD_OK) {
        ok = ok && err != NULL && msg != NULL && msg[0] != '\0' && redlead_error_code(err) == want;
    } else {
        ok = ok && err == NULL;
    }
    if (ok) {
        g_passed++;
        printf("PASS %s -> %s%s%s\n", name, redlead_status_str(got), msg ? ": " : "", msg ? msg : "");
    } else {
        g_failed++;
        printf("FAIL %s: got %d (%s), want %d; message: %s\n", name, (int)got,
               redlead_status_str(got), (int)want, msg ? msg : "(none)");
    }
    fflush(stdout);
    redlead_error_free(err);
}
#endif
