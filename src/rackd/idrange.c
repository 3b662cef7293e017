/*
 * idrange.c — see idrange.h.
 *
 * Every change holds flock(DIR/idranges.lock) across read-modify-write and
 * replaces DIR/idranges atomically, so a crash leaves the old ledger or the
 * new one. The ledger is small (one line an app on the host): read whole.
 * A range whose owner is gone is free only once no process runs as one of
 * its ids: a rack home removed under running apps must not hand their uid
 * (and the right to signal and trace them) to the next app.
 */
#include "rackd/idrange.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

#define LEDGER_MAX (1u << 20)
#define LOCK_WAIT_MS 5000

struct entry {
	uint32_t base;
	char *owner;
};

struct ledger {
	int lockfd;
	char path[4096];
	struct entry *e;
	size_t n;
};

static void
ledger_close(struct ledger *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].owner);
	free(l->e);
	l->e = NULL;
	l->n = 0;
	if (l->lockfd != -1)
		close(l->lockfd);   /* releases the flock */
	l->lockfd = -1;
}

static bool
valid_base(long v)
{
	return v >= (long)IDRANGE_FIRST && v < (long)IDRANGE_FIRST + (long)IDRANGE_COUNT *
	    (long)IDRANGE_SIZE && ((unsigned long)v - IDRANGE_FIRST) % IDRANGE_SIZE == 0;
}

/* Marks in live[] every range one of whose ids a running process has. */
static void
live_ranges(bool *live)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[300], *text, *u;
		unsigned long uid;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if ((text = read_file(path, 8192, NULL)) == NULL)
			continue;
		u = strstr(text, "\nUid:");
		if (u != NULL && sscanf(u + 5, "%lu", &uid) == 1 && uid >= IDRANGE_FIRST &&
		    uid < (unsigned long)IDRANGE_FIRST + (unsigned long)IDRANGE_COUNT * IDRANGE_SIZE)
			live[(uid - IDRANGE_FIRST) / IDRANGE_SIZE] = true;
		free(text);
	}
	closedir(d);
}

bool
idrange_in_use(uint32_t base)
{
	bool *live = xcalloc(IDRANGE_COUNT, sizeof(*live));
	bool is;

	live_ranges(live);
	is = live[(base - IDRANGE_FIRST) / IDRANGE_SIZE];
	free(live);
	return is;
}

/* Locks and reads the ledger; entries whose owner is gone (and whose ids no
 * process runs as) are dropped. The lock is waited for a bounded time. */
static int
ledger_open(struct ledger *l, const char *dir, char *err, size_t errlen)
{
	char lock[4200], *text, *save = NULL;
	bool *live = NULL;
	struct stat sb;

	memset(l, 0, sizeof(*l));
	l->lockfd = -1;
	if (mkdir_p(dir, 0700) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(lock, sizeof(lock), "%s/idranges.lock", dir);
	snprintf(l->path, sizeof(l->path), "%s/idranges", dir);
	l->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (l->lockfd == -1) {
		snprintf(err, errlen, "cannot open %s: %s", lock, strerror(errno));
		return -1;
	}
	for (int64_t until = now_ms() + LOCK_WAIT_MS; flock(l->lockfd, LOCK_EX | LOCK_NB) == -1;) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || now_ms() > until) {
			snprintf(err, errlen, "cannot lock %s: %s", lock, errno == EWOULDBLOCK ?
			    "another process holds it for more than 5 s" : strerror(errno));
			ledger_close(l);
			return -1;
		}
		usleep(10000);
	}
	text = read_file(l->path, LEDGER_MAX, NULL);
	if (text == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read %s: %s", l->path, strerror(errno));
		ledger_close(l);
		return -1;
	}
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		long v;

		if (sp == NULL || sp[1] != '/' || parse_long_n(line, (size_t)(sp - line), 0,
		    INT64_MAX, &v) == -1 || !valid_base(v)) {
			snprintf(err, errlen, "%s: malformed line \"%.80s\" (want \"BASE /OWNER/PATH\")",
			    l->path, line);
			free(live);
			free(text);
			ledger_close(l);
			return -1;
		}
		if (stat(sp + 1, &sb) == -1 && errno == ENOENT) {
			/* Its app (or whole rack) is gone: the range is free, unless
			 * something still runs as it. */
			if (live == NULL) {
				live = xcalloc(IDRANGE_COUNT, sizeof(*live));
				live_ranges(live);
			}
			if (!live[((uint32_t)v - IDRANGE_FIRST) / IDRANGE_SIZE])
				continue;
		}
		l->e = xrealloc(l->e, (l->n + 1) * sizeof(*l->e));
		l->e[l->n].base = (uint32_t)v;
		l->e[l->n].owner = xstrdup(sp + 1);
		l->n++;
	}
	free(live);
	free(text);
	return 0;
}

static struct entry *
held_by(struct ledger *l, const char *owner)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->e[i].owner, owner) == 0)
			return &l->e[i];
	}
	return NULL;
}

static int
ledger_write(struct ledger *l, char *err, size_t errlen)
{
	struct buf b;
	int rc;

	buf_init(&b, 0);
	for (size_t i = 0; i < l->n; i++)
		buf_addf(&b, "%u %s\n", l->e[i].base, l->e[i].owner);
	rc = write_file_atomic(l->path, b.data ? b.data : "", b.len, 0600);
	if (rc == -1)
		snprintf(err, errlen, "cannot write %s: %s", l->path, strerror(errno));
	buf_free(&b);
	return rc;
}

static struct entry *
holder(struct ledger *l, uint32_t base)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->e[i].base == base)
			return &l->e[i];
	}
	return NULL;
}

int
idrange_claim(const char *dir, const char *owner, uint32_t want, uint32_t *base,
    char *err, size_t errlen)
{
	struct ledger l;
	struct entry *h;
	uint32_t pick = 0;
	int rc = -1;

	if (owner[0] != '/' || strchr(owner, '\n') != NULL) {
		snprintf(err, errlen, "id range owner must be an absolute path: %s", owner);
		return -1;
	}
	if (ledger_open(&l, dir, err, errlen) == -1)
		return -1;
	/* An owner holds one range: the one it has, else the one it asks for. */
	if ((h = held_by(&l, owner)) != NULL) {
		*base = h->base;
		rc = 0;
		goto out;
	}
	if (want != 0 && valid_base(want) && holder(&l, want) == NULL)
		pick = want;
	for (uint32_t i = 0; pick == 0 && i < IDRANGE_COUNT; i++) {
		if (holder(&l, IDRANGE_FIRST + i * IDRANGE_SIZE) == NULL)
			pick = IDRANGE_FIRST + i * IDRANGE_SIZE;
	}
	if (pick == 0) {
		snprintf(err, errlen, "all %u id ranges of this host are in use (%s/idranges); "
		    "delete an app or uninstall a rack", IDRANGE_COUNT, dir);
		goto out;
	}
	l.e = xrealloc(l.e, (l.n + 1) * sizeof(*l.e));
	l.e[l.n].base = pick;
	l.e[l.n].owner = xstrdup(owner);
	l.n++;
	if (ledger_write(&l, err, errlen) == -1)
		goto out;
	*base = pick;
	rc = 0;
out:
	ledger_close(&l);
	return rc;
}

int
idrange_release(const char *dir, const char *owner, uint32_t base, char *err, size_t errlen)
{
	struct ledger l;
	struct entry *h;
	int rc = 0;

	if (ledger_open(&l, dir, err, errlen) == -1)
		return -1;
	h = holder(&l, base);
	if (h != NULL && strcmp(h->owner, owner) == 0 && !idrange_in_use(base)) {
		free(h->owner);
		*h = l.e[--l.n];
		rc = ledger_write(&l, err, errlen);
	}
	ledger_close(&l);
	return rc;
}
