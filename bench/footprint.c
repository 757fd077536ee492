/* What a process pays to hold many locks through libredlead: resident memory,
 * threads, and CPU, for one client holding LOCKS auto-extended locks
 * (default 1000, ttl 3 s, extended every second) for HOLD_S seconds
 * (default 10). Prints one `FOOTPRINT key=value ...` line per stage:
 *
 *   start         before the first redlead call
 *   client        after redlead_client_new (runtime and connections up)
 *   held          all locks acquired (auto-extend running)
 *   holding       after HOLD_S s of extensions; cpu_pct = process CPU over
 *                 the hold (user + system) / wall time, all threads
 *   released      every lock released and freed
 *
 * Threads are listed by name (/proc/self/task/N/comm), so the line shows
 * which ones the library started. RSS is VmRSS of /proc/self/status.
 *
 *   BENCH_URLS=redis://127.0.0.1:p1,... [LOCKS=1000] [HOLD_S=10] ./footprint */
#include <dirent.h>
#include <redlead.h>
#include "doors/bench_client.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  if (f) fclose(f);
  return kib;
}

/* "main redlead-io-0 redlead-cb x2 ..." : thread names with counts. */
static int threads(char *out, size_t cap) {
  char names[256][20];
  int counts[256], kinds = 0, total = 0;
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[300], comm[20] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
    fclose(f);
    total++;
    int k = 0;
    while (k < kinds && strcmp(names[k], comm) != 0) k++;
    if (k == kinds && kinds < 256) {
      strcpy(names[kinds], comm);
      counts[kinds++] = 0;
    }
    if (k < kinds) counts[k]++;
  }
  if (d) closedir(d);
  size_t len = 0;
  out[0] = 0;
  for (int k = 0; k < kinds && len < cap; k++)
    len += snprintf(out + len, cap - len, "%s%s", k ? "," : "", names[k]),
        len += counts[k] > 1 && len < cap ? snprintf(out + len, cap - len, "x%d", counts[k]) : 0;
  return total;
}

static void stage(const char *name, const char *extra) {
  char names[1024];
  int n = threads(names, sizeof names);
  printf("FOOTPRINT stage=%s rss_kib=%ld threads=%d names=%s%s%s\n", name, rss_kib(), n, names, extra ? " " : "",
         extra ? extra : "");
  fflush(stdout);
}

static void die(const char *what, redlead_error *err) {
  fprintf(stderr, "footprint: %s: %s\n", what, err ? redlead_error_message(err) : "");
  exit(1);
}

int main(void) {
  const char *urls = getenv("BENCH_URLS");
  int locks = getenv("LOCKS") ? atoi(getenv("LOCKS")) : 1000;
  int hold_s = getenv("HOLD_S") ? atoi(getenv("HOLD_S")) : 10;
  if (!urls || locks <= 0 || hold_s <= 0) {
    fprintf(stderr, "usage: BENCH_URLS=redis://h:p,... [LOCKS=1000] [HOLD_S=10] footprint\n");
    return 2;
  }
  stage("start", NULL);
  redlead_client *client = bench_client(urls, "footprint");
  redlead_error *err = NULL;
  stage("client", NULL);

  redlead_lock_options *o = redlead_lock_options_new();
  /* ttl 3 s, extended every second, for at most an hour. */
  if (redlead_lock_options_set_auto_extend(o, 3600 * 1000, 0, 1000, &err) != REDLEAD_OK) die("options", err);
  redlead_lock **held = calloc((size_t)locks, sizeof *held);
  double t0 = now_s();
  for (int i = 0; i < locks; i++) {
    char res[64];
    snprintf(res, sizeof res, "footprint-%d-%d", (int)getpid(), i);
    if (redlead_lock_acquire_with(client, res, 3000, 0, o, NULL, &held[i], &err) != REDLEAD_OK) die("acquire", err);
  }
  char extra[128];
  snprintf(extra, sizeof extra, "acquire_s=%.2f", now_s() - t0);
  stage("held", extra);

  double c0 = cpu_s(), w0 = now_s();
  sleep((unsigned)hold_s);
  double cpu = cpu_s() - c0, wall = now_s() - w0;
  int alive = 0;
  for (int i = 0; i < locks; i++) {
    if (redlead_lock_validity_ms(held[i]) > 0) alive++;
  }
  snprintf(extra, sizeof extra, "cpu_pct=%.1f still_valid=%d/%d", 100 * cpu / wall, alive, locks);
  stage("holding", extra);
  if (alive != locks) {
    fprintf(stderr, "footprint: %d of %d locks were not kept alive\n", locks - alive, locks);
    return 1;
  }

  for (int i = 0; i < locks; i++) {
    if (redlead_lock_release(held[i], &err) != REDLEAD_OK) die("release", err);
    redlead_lock_free(held[i]);
  }
  redlead_lock_options_free(o);
  stage("released", NULL);
  redlead_client_free(client);
  free(held);
  return 0;
}
