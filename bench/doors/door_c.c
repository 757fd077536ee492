/* The C door: blocking redlead_lock_try_acquire + redlead_lock_release
 * through libredlead, unfenced and fenced.
 *
 *   BENCH_URLS=redis://127.0.0.1:p1,... BENCH_N=3000 ./door_c
 * prints `BENCH c ...` and `BENCH c-fenced ...` lines. */
#include <redlead.h>
#include "bench_client.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double once(const redlead_client *client, const char *resource, uint32_t flags) {
  redlead_lock *lock = NULL;
  redlead_error *err = NULL;
  double t0 = now_us();
  enum redlead_status st = redlead_lock_try_acquire(client, resource, 10000, flags, &lock, &err);
  if (st == REDLEAD_OK) st = redlead_lock_release(lock, &err);
  double dt = now_us() - t0;
  if (st != REDLEAD_OK) {
    fprintf(stderr, "door_c: status %d: %s\n", (int)st, err ? redlead_error_message(err) : "");
    exit(1);
  }
  redlead_lock_free(lock);
  return dt;
}

static void report(const char *name, double *xs, int n) {
  qsort(xs, n, sizeof(double), cmp);
  printf("BENCH %s n=%d p50_us=%.1f p99_us=%.1f\n", name, n, xs[n / 2], xs[(int)(n * 0.99)]);
}

int main(void) {
  const char *urls = getenv("BENCH_URLS");
  int n = getenv("BENCH_N") ? atoi(getenv("BENCH_N")) : 3000;
  if (!urls || n <= 0) {
    fprintf(stderr, "usage: BENCH_URLS=redis://h:p,... [BENCH_N=3000] door_c\n");
    return 2;
  }
  redlead_client *client = bench_client(urls, "door_c");
  for (int i = 0; i < 200; i++) {
    once(client, "bench-c", 0);
    once(client, "bench-c-fenced", REDLEAD_LOCK_FENCED);
  }
  double *plain = malloc(sizeof(double) * n), *fenced = malloc(sizeof(double) * n);
  for (int i = 0; i < n; i++) {
    plain[i] = once(client, "bench-c", 0);
    fenced[i] = once(client, "bench-c-fenced", REDLEAD_LOCK_FENCED);
  }
  report("c", plain, n);
  report("c-fenced", fenced, n);
  redlead_client_free(client);
  return 0;
}
