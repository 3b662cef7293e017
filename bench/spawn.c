/*
 * spawn.c — what the walls cost at process start, without the CLI and API
 * around them: fork, then either sandbox_enter (the app's ids, a private
 * mount namespace, the build read-only at /srv/app, private /tmp, /var/tmp,
 * /dev/shm, stdio given away, no_new_privs) or only chdir, then exec
 * /bin/true and wait. Alternating, medians of N each. Root only.
 *
 *   cx-spawnbench BUILD_DIR [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "rackd/idrange.h"
#include "rackd/sandbox.h"

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One start: fork, walls or not, exec /bin/true, wait. Microseconds. */
static int64_t
one(const struct sandbox *sb, const char *dir)
{
	char err[512];
	int64_t t0 = now_us();
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		if (sb != NULL ? sandbox_enter(sb, err, sizeof(err)) == -1 : chdir(dir) == -1) {
			fprintf(stderr, "%s\n", sb != NULL ? err : "chdir");
			_exit(1);
		}
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	if (pid == -1 || waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "cx-spawnbench: a start failed\n");
		exit(1);
	}
	return now_us() - t0;
}

int
main(int argc, char **argv)
{
	struct sandbox sb = { .uid_base = IDRANGE_FIRST + (IDRANGE_COUNT - 1) * IDRANGE_SIZE,
		.workdir = "" };
	long n = 201;
	int64_t *w, *p;

	if (argc < 2 || (argc > 2 && parse_long(argv[2], 1, 100000, &n) == -1)) {
		fprintf(stderr, "usage: cx-spawnbench BUILD_DIR [N]\n");
		return 2;
	}
	if (!sandbox_privileged()) {
		fprintf(stderr, "cx-spawnbench: root only\n");
		return 2;
	}
	sb.build_dir = argv[1];
	w = xcalloc((size_t)n, sizeof(*w));
	p = xcalloc((size_t)n, sizeof(*p));
	for (long i = 0; i < n; i++) {
		w[i] = one(&sb, NULL);
		p[i] = one(NULL, argv[1]);
	}
	qsort(w, (size_t)n, sizeof(*w), cmp64);
	qsort(p, (size_t)n, sizeof(*p), cmp64);
	printf("process start (fork, exec /bin/true, wait), %ld alternating runs each: walled median "
	    "%lld us (p90 %lld), plain median %lld us (p90 %lld); the walls add %lld us\n", n,
	    (long long)w[n / 2], (long long)w[n * 9 / 10], (long long)p[n / 2],
	    (long long)p[n * 9 / 10], (long long)(w[n / 2] - p[n / 2]));
	free(w);
	free(p);
	return 0;
}
