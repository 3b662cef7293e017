/*
 * discovery.c — see discovery.h.
 *
 * The wanted records are rendered as text ("NAME ADDR\n", sorted by service
 * order) and compared with what was last written; only a change touches the
 * lab's hosts file, one name at a time.
 */
#include "rackd/discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"

#define MAX_ADDRS 64

/* A host rack's names go to its own DNS (so do those of a loopback rack
 * whose processes have namespaces), a VPC rack's to the lab's. */
static int
dns_set_all(struct rack *r, const char *name, const char *const *addrs, size_t n)
{
	if (r->host || !r->vpc)
		return lab_rack_dns_set_all(r->home, r->name, name, addrs, n);
	return lab_dns_set_all(r->home, name, addrs, n);
}

static char *last;      /* the records last written, "NAME ADDR ADDR...\n" per name */
static char last_error[512];    /* why the newest records were not written, "" if they were */

/* The service's two names, each with its healthy processes (one-off runs
 * are not the service's listeners); -1 once b is full. */
static int
add_service(struct rack *r, struct app *a, const struct mf_service *s, struct buf *b)
{
	for (int kube = 0; kube <= 1; kube++) {
		int rc = kube ? buf_addf(b, "%s.%s-%s.svc.cluster.local", s->name, r->name, a->name)
			      : buf_addf(b, "%s.%s.%s.local", s->name, a->name, r->name);

		if (rc == -1)
			return -1;
		for (struct proc *p = a->procs; p != NULL; p = p->next) {
			if (proc_serves(a, p) && strcmp(p->st.service, s->name) == 0 &&
			    buf_addf(b, " %s", p->st.address) == -1)
				return -1;
		}
		if (buf_adds(b, "\n") == -1)
			return -1;
	}
	return 0;
}

int
discovery_records(struct rack *r, char **out, char *err, size_t errlen)
{
	struct buf b;

	*out = NULL;
	buf_init(&b, DISCOVERY_RECORDS_MAX);
	if (r->host || (!r->vpc && r->private_addr[0] != '\0')) {
		char domain[256], internal[256];
		int rc = 0;

		/* Processes of a host rack resolve the rack's own domains through
		 * its DNS: the public router's address, the internal router's. A
		 * loopback rack run as root has only the latter: the bridge's .2,
		 * which the lab maps to its internal router on 127.0.0.1 (its
		 * public router has no address on the bridge). */
		rack_param(r, "domain", domain, sizeof(domain));
		rack_param(r, "domain_internal", internal, sizeof(internal));
		if (r->host)
			rc = buf_addf(&b, "*.%s %s\n", domain, r->public_addr);
		if (rc == 0)
			rc = buf_addf(&b, "*.%s %s\n", internal, r->private_addr);
		if (rc == -1) {
			snprintf(err, errlen, "the rack's domains do not fit the DNS records");
			buf_free(&b);
			return -1;
		}
	}
	/* A Kubernetes rack's services resolve in its cluster's DNS. */
	for (struct app *a = r->apps; a != NULL && !r->kube; a = a->next) {
		if (a->manifest == NULL || a->deleting)
			continue;
		for (size_t i = 0; i < a->manifest->nservices; i++) {
			const struct mf_service *s = &a->manifest->services[i];

			if (s->port == 0)
				continue;
			if (add_service(r, a, s, &b) == -1) {
				snprintf(err, errlen, "the rack-only DNS records pass %d bytes at service"
				    " %s of app %s", DISCOVERY_RECORDS_MAX, s->name, a->name);
				buf_free(&b);
				return -1;
			}
		}
	}
	*out = buf_cstr(&b);
	return 0;
}

const char *
discovery_error(void)
{
	return last_error;
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
	dns_set_all(r, name, NULL, 0);
}

static void
apply_line(struct rack *r, const char *line, size_t len)
{
	char copy[4096], *save = NULL, *name;
	const char *addrs[MAX_ADDRS];
	size_t n = 0;

	if (len >= sizeof(copy)) {
		log_warnx("lab DNS: the record \"%.40s...\" is longer than %zu bytes; not set", line,
		    sizeof(copy) - 1);
		return;
	}
	memcpy(copy, line, len);
	copy[len] = '\0';
	name = strtok_r(copy, " ", &save);
	if (name == NULL)
		return;
	for (char *t = strtok_r(NULL, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
		if (n == MAX_ADDRS) {
			log_warnx("lab DNS: %s has more than %d addresses; it answers the first %d",
			    name, MAX_ADDRS, MAX_ADDRS);
			break;
		}
		addrs[n++] = t;
	}
	if (dns_set_all(r, name, addrs, n) == -1)
		log_warnx("lab DNS: cannot set %s", name);
}

void
discovery_sync(struct rack *r)
{
	char *want, why[512];

	if (!r->netns)
		return;
	if (discovery_records(r, &want, why, sizeof(why)) == -1) {
		/* Said once, not every tick; the lab DNS keeps what it has. */
		if (strcmp(last_error, why) != 0)
			log_warnx("rack %s: %s; the lab DNS keeps the last records", r->name, why);
		str_copy(last_error, sizeof(last_error), why);
		return;
	}
	if (last_error[0] != '\0')
		log_info("rack %s: the rack-only DNS records are current again", r->name);
	last_error[0] = '\0';
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
	if (!r->netns || last == NULL)
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
