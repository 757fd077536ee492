/* The floor every door is compared with: a raw-socket client, outside the
 * library, on the same nodes. One sample = two quorum round trips, each
 * "write PING to all nodes, time until the quorum-th reply" (an unfenced
 * acquire + release needs at least two such round trips). Before the next
 * round every node's reply is read, so no reply is left in flight.
 *
 *   BENCH_URLS=redis://127.0.0.1:p1,... BENCH_N=3000 ./floor
 * prints `BENCH floor2x n=.. p50_us=.. p99_us=..` and the one-round figure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 16
static const char PING[] = "*1\r\n$4\r\nPING\r\n";
static const size_t PONG_LEN = 7; /* "+PONG\r\n" */

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int connect_url(const char *url) {
  /* redis://host:port[/db]; the bench starts its nodes on 127.0.0.1. */
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  char host[64];
  int port;
  if (sscanf(p, "%63[^:]:%d", host, &port) != 2) return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* One round: PING everyone, return the time to the quorum-th full reply,
 * then drain the rest. */
static double round_trip(const int *fd, int n, int quorum) {
  struct pollfd pfd[MAX_NODES];
  size_t got[MAX_NODES] = {0};
  char buf[64];
  double t0 = now_us(), at_quorum = -1;
  for (int i = 0; i < n; i++) {
    if (write(fd[i], PING, sizeof PING - 1) != (ssize_t)(sizeof PING - 1)) {
      perror("write");
      exit(1);
    }
  }
  int done = 0;
  while (done < n) {
    int m = 0;
    int idx[MAX_NODES];
    for (int i = 0; i < n; i++)
      if (got[i] < PONG_LEN) {
        pfd[m] = (struct pollfd){.fd = fd[i], .events = POLLIN};
        idx[m++] = i;
      }
    if (poll(pfd, m, 5000) <= 0) {
      fprintf(stderr, "floor: no reply within 5 s\n");
      exit(1);
    }
    for (int k = 0; k < m; k++) {
      if (!(pfd[k].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      int i = idx[k];
      ssize_t r = read(fd[i], buf, PONG_LEN - got[i]);
      if (r <= 0) {
        fprintf(stderr, "floor: node %d closed\n", i);
        exit(1);
      }
      got[i] += (size_t)r;
      if (got[i] == PONG_LEN && ++done == quorum) at_quorum = now_us() - t0;
    }
  }
  return at_quorum;
}

int main(void) {
  const char *urls = getenv("BENCH_URLS");
  int n_samples = getenv("BENCH_N") ? atoi(getenv("BENCH_N")) : 3000;
  if (!urls || n_samples <= 0) {
    fprintf(stderr, "usage: BENCH_URLS=redis://h:p,... [BENCH_N=3000] floor\n");
    return 2;
  }
  int fd[MAX_NODES], n = 0;
  char *list = strdup(urls);
  for (char *tok = strtok(list, ","); tok && n < MAX_NODES; tok = strtok(NULL, ",")) {
    if ((fd[n] = connect_url(tok)) < 0) {
      fprintf(stderr, "floor: cannot connect to %s\n", tok);
      return 1;
    }
    n++;
  }
  int quorum = n / 2 + 1;
  for (int i = 0; i < 200; i++) round_trip(fd, n, quorum);
  double *one = malloc(sizeof(double) * n_samples * 2);
  double *two = malloc(sizeof(double) * n_samples);
  for (int i = 0; i < n_samples; i++) {
    one[2 * i] = round_trip(fd, n, quorum);
    one[2 * i + 1] = round_trip(fd, n, quorum);
    two[i] = one[2 * i] + one[2 * i + 1];
  }
  qsort(two, n_samples, sizeof(double), cmp);
  qsort(one, 2 * n_samples, sizeof(double), cmp);
  printf("BENCH floor2x n=%d p50_us=%.1f p99_us=%.1f\n", n_samples, two[n_samples / 2],
         two[(int)(n_samples * 0.99)]);
  printf("BENCH floor n=%d p50_us=%.1f p99_us=%.1f\n", 2 * n_samples, one[n_samples],
         one[(int)(2 * n_samples * 0.99)]);
  return 0;
}
