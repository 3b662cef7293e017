/*
 * cx-hammer — sends N GET requests one after another on one keep-alive
 * connection and prints latency percentiles. Used by bench/peering.sh to
 * compare a request that crosses a peering with one made inside the rack.
 *
 *   cx-hammer IP:PORT HOST N
 *
 * Prints: "requests N  p50 X us  p90 X us  p99 X us  max X us  errors E".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/net.h"
#include "common/util.h"

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
dial(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct timeval tv = { .tv_sec = 5 };

	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads one response with a Content-Length body; 0 on a 2xx. */
static int
read_response(int fd, char *buf, size_t size)
{
	size_t have = 0;
	long clen = -1;
	char *end;

	for (;;) {
		ssize_t n = read(fd, buf + have, size - 1 - have);

		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end == NULL)
			continue;
		if (clen < 0) {
			char *cl = strcasestr(buf, "\r\nContent-Length:");

			if (cl == NULL || cl > end)
				return -1;
			clen = strtol(cl + 17, NULL, 10);
		}
		if (have >= (size_t)(end + 4 - buf) + (size_t)clen)
			return strncmp(buf + 9, "2", 1) == 0 ? 0 : -1;
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	char req[512], buf[65536];
	int64_t *lat;
	long n;
	int fd, errors = 0, len;

	if (argc != 4 || net_parse_addr(argv[1], &sin) == -1 ||
	    parse_long(argv[3], 1, 10000000, &n) == -1) {
		fprintf(stderr, "usage: cx-hammer IP:PORT HOST N\n");
		return 2;
	}
	len = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: cx-hammer\r\n\r\n",
	    argv[2]);
	lat = xcalloc((size_t)n, sizeof(*lat));
	fd = dial(&sin);
	if (fd == -1) {
		fprintf(stderr, "cx-hammer: cannot connect to %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (long i = 0; i < n; i++) {
		int64_t t0 = now_us();

		if (write(fd, req, (size_t)len) != len || read_response(fd, buf, sizeof(buf)) == -1) {
			errors++;
			close(fd);
			fd = dial(&sin);
			if (fd == -1 || errors > 100) {
				fprintf(stderr, "cx-hammer: too many errors\n");
				return 1;
			}
		}
		lat[i] = now_us() - t0;
	}
	close(fd);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
	printf("requests %ld  p50 %lld us  p90 %lld us  p99 %lld us  max %lld us  errors %d\n", n,
	    (long long)lat[n / 2], (long long)lat[n * 9 / 10], (long long)lat[n * 99 / 100],
	    (long long)lat[n - 1], errors);
	free(lat);
	return errors > 0;
}
