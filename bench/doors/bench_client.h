/* The C bench programs' one client: BENCH_URLS (comma-separated) -> a
 * redlead_client, or exit(1) with the library's message. */
#ifndef REDLEAD_BENCH_CLIENT_H
#define REDLEAD_BENCH_CLIENT_H
#include <redlead.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static redlead_client *bench_client(const char *urls, const char *prog) {
  const char *url[16];
  int k = 0;
  char *list = strdup(urls); /* the client copies the URLs; freed below */
  for (char *tok = strtok(list, ","); tok && k < 16; tok = strtok(NULL, ",")) url[k++] = tok;
  redlead_client *client = NULL;
  redlead_error *err = NULL;
  enum redlead_status st = redlead_client_new(url, (size_t)k, NULL, &client, &err);
  free(list);
  if (st != REDLEAD_OK) {
    fprintf(stderr, "%s: %s\n", prog, redlead_error_message(err));
    exit(1);
  }
  return client;
}
#endif
