/* Example: take a fenced lock, work within its validity, release it.
 * Usage: example_c redis://127.0.0.1:7001 ... (one URL per Redis master) */
#include <stdio.h>

#include "redlead.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL...\n", argv[0]);
        return 2;
    }
    redlead_client *client = NULL;
    redlead_lock *lock = NULL;
    redlead_error *err = NULL;
    int rc = 1;

    if (redlead_client_new((const char *const *)(argv + 1), (size_t)(argc - 1), NULL, &client, &err) !=
        REDLEAD_OK) {
        fprintf(stderr, "client: %s\n", redlead_error_message(err));
        goto out;
    }
    redlead_status st =
        redlead_lock_acquire(client, "example-job", 10000, 2000, REDLEAD_LOCK_FENCED, &lock, &err);
    if (st == REDLEAD_NOT_ACQUIRED) {
        printf("busy: someone else holds example-job\n");
        rc = 0;
        goto out;
    }
    if (st != REDLEAD_OK) {
        fprintf(stderr, "acquire: %s\n", redlead_error_message(err));
        goto out;
    }
    printf("holding example-job: token %llu, %llu ms left\n",
           (unsigned long long)redlead_lock_fencing_token(lock),
           (unsigned long long)redlead_lock_validity_ms(lock));
    /* ... do the work, passing the fencing token to the protected resource ... */
    if (redlead_lock_release(lock, &err) != REDLEAD_OK) {
        fprintf(stderr, "release: %s\n", redlead_error_message(err));
        goto out;
    }
    rc = 0;
out:
    redlead_error_free(err);
    redlead_lock_free(lock);
    redlead_client_free(client);
    return rc;
}
