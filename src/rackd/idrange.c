/*
 * idrange.c — see idrange.h.
 *
 * Every change holds flock(DIR/idranges.lock) across read-modify-write and
 * replaces DIR/idranges atomically, so a crash leaves the old ledger or the
 * new one. The ledger is small (one line an app on the host): read whole.
 */
#include "rackd/idrange.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

#define LEDGER_MAX (1u << 20)

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

/* Locks and reads the ledger; entries whose owner is gone are dropped. */
static int
ledger_open(struct ledger *l, const char *dir, char *err, size_t errlen)
{
	char lock[4200], *text, *save = NULL;
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
	while (flock(l->lockfd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			snprintf(err, errlen, "flock %s: %s", lock, strerror(errno));
			ledger_close(l);
			return -1;
		}
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
			free(text);
			ledger_close(l);
			return -1;
		}
		if (stat(sp + 1, &sb) == -1 && errno == ENOENT)
			continue;       /* its app (or whole rack) is gone: the range is free */
		l->e = xrealloc(l->e, (l->n + 1) * sizeof(*l->e));
		l->e[l->n].base = (uint32_t)v;
		l->e[l->n].owner = xstrdup(sp + 1);
		l->n++;
	}
	free(text);
	return 0;
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
	if (want != 0 && valid_base(want)) {
		h = holder(&l, want);
		if (h != NULL && strcmp(h->owner, owner) == 0) {
			*base = want;
			rc = 0;
			goto out;
		}
		if (h == NULL)
			pick = want;
	}
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
	if (h != NULL && strcmp(h->owner, owner) == 0) {
		free(h->owner);
		*h = l.e[--l.n];
		rc = ledger_write(&l, err, errlen);
	}
	ledger_close(&l);
	return rc;
}
