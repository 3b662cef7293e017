/*
 * discovery.c — see discovery.h.
 *
 * The wanted records are rendered as text ("NAME ADDR\n", sorted by service
 * order) and compared with what was last written; only a change touches the
 * lab's hosts file, one name at a time.
 */
#include "rackd/discovery.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"

#define MAX_ADDRS 64

static char *last;      /* the records last written, "NAME ADDR ADDR...\n" per name */

/* Appends one line per internal service: its name and its healthy processes. */
static char *
wanted(struct rack *r)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	for (struct app *a = r->apps; a != NULL; a = a->next) {
		if (a->manifest == NULL || a->deleting)
			continue;
		for (size_t i = 0; i < a->manifest->nservices; i++) {
			const struct mf_service *s = &a->manifest->services[i];

			if (!s->internal || s->port == 0)
				continue;
			buf_addf(&b, "%s.%s.%s.local", s->name, a->name, r->name);
			for (struct proc *p = a->procs; p != NULL; p = p->next) {
				if (proc_is_active(a, p) && p->state == PROC_RUNNING &&
				    strcmp(p->st.service, s->name) == 0)
					buf_addf(&b, " %s", p->st.address);
			}
			buf_adds(&b, "\n");
		}
	}
	return buf_cstr(&b);
}

/* Does text have a line for name? */
static bool
has_name(const char *text, const char *name, size_t n)
{
	for (const char *l = text; l != NULL && *l != '\0';) {
		if (strncmp(l, name, n) == 0 && (l[n] == ' ' || l[n] == '\n'))
			return true;
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	return false;
}

/* Removes the name that starts line (up to a space or the line's end). */
static void
drop_name(struct rack *r, const char *line)
{
	size_t n = strcspn(line, " \n");
	char name[512];

	if (n >= sizeof(name))
		return;
	memcpy(name, line, n);
	name[n] = '\0';
	lab_dns_set_all(r->home, name, NULL, 0);
}

static void
apply_line(struct rack *r, const char *line, size_t len)
{
	char copy[4096], *save = NULL, *name;
	const char *addrs[MAX_ADDRS];
	size_t n = 0;

	if (len >= sizeof(copy))
		return;
	memcpy(copy, line, len);
	copy[len] = '\0';
	name = strtok_r(copy, " ", &save);
	if (name == NULL)
		return;
	for (char *t = strtok_r(NULL, " ", &save); t != NULL && n < MAX_ADDRS;
	    t = strtok_r(NULL, " ", &save))
		addrs[n++] = t;
	if (lab_dns_set_all(r->home, name, addrs, n) == -1)
		log_warnx("lab DNS: cannot set %s", name);
}

void
discovery_sync(struct rack *r)
{
	char *want;

	if (!r->vpc)
		return;
	want = wanted(r);
	if (last != NULL && strcmp(last, want) == 0) {
		free(want);
		return;
	}
	/* Names that went away (an app deleted, a service renamed). */
	for (const char *l = last; l != NULL && *l != '\0';) {
		if (!has_name(want, l, strcspn(l, " \n")))
			drop_name(r, l);
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	/* Names whose addresses changed. */
	for (const char *l = want; *l != '\0';) {
		size_t len = strcspn(l, "\n");
		bool same = false;

		for (const char *o = last; o != NULL && *o != '\0';) {
			size_t olen = strcspn(o, "\n");

			if (olen == len && strncmp(o, l, len) == 0)
				same = true;
			o += olen;
			if (*o == '\n')
				o++;
		}
		if (!same)
			apply_line(r, l, len);
		l += len;
		if (*l == '\n')
			l++;
	}
	free(last);
	last = want;
}

void
discovery_clear(struct rack *r)
{
	if (!r->vpc || last == NULL)
		return;
	for (const char *l = last; *l != '\0';) {
		drop_name(r, l);
		l = strchr(l, '\n');
		if (l == NULL)
			break;
		l++;
	}
	free(last);
	last = NULL;
}
