/*
 * state.c — the lab's state file ($CX_HOME/lab/state) and its lock.
 *
 * One record per line, fields separated by single spaces:
 *
 *   lab PREFIX NEXT_RACK NEXT_PEER      namespace prefix, next ids to hand out
 *   rack NAME ID CIDR NEXT_PROC WL [host PUB PRIV]
 *                                       WL: whitelist CIDRs "a,b" or "-";
 *                                       a host rack's public and private
 *                                       addresses (PRIV "-" for none)
 *   peer A B ID                         a peering (A took the /30's .1)
 *   proc RACK PROC_ID ADDR [APP]        a process namespace, its address and
 *                                       the app it belongs to (none: a probe's)
 *
 * Writers hold flock(lab/lock) across read-modify-write and replace the file
 * whole (temp + rename), so readers need no lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "lab/lab_int.h"

#define STATE_MAX (8u << 20)

void
lab_state_free(struct lab_state *st)
{
	free(st->racks);
	free(st->peers);
	free(st->procs);
	memset(st, 0, sizeof(*st));
}

struct lab_rack *
lab_add_rack(struct lab_state *st)
{
	st->racks = xrealloc(st->racks, (st->nracks + 1) * sizeof(*st->racks));
	memset(&st->racks[st->nracks], 0, sizeof(*st->racks));
	return &st->racks[st->nracks++];
}

struct lab_peering *
lab_add_peering(struct lab_state *st)
{
	st->peers = xrealloc(st->peers, (st->npeers + 1) * sizeof(*st->peers));
	memset(&st->peers[st->npeers], 0, sizeof(*st->peers));
	return &st->peers[st->npeers++];
}

struct lab_proc *
lab_add_proc(struct lab_state *st)
{
	st->procs = xrealloc(st->procs, (st->nprocs + 1) * sizeof(*st->procs));
	memset(&st->procs[st->nprocs], 0, sizeof(*st->procs));
	return &st->procs[st->nprocs++];
}

void
lab_del_rack(struct lab_state *st, struct lab_rack *r)
{
	size_t i = (size_t)(r - st->racks);

	memmove(r, r + 1, (st->nracks - i - 1) * sizeof(*r));
	st->nracks--;
}

void
lab_del_peering(struct lab_state *st, struct lab_peering *p)
{
	size_t i = (size_t)(p - st->peers);

	memmove(p, p + 1, (st->npeers - i - 1) * sizeof(*p));
	st->npeers--;
}

void
lab_del_proc(struct lab_state *st, struct lab_proc *p)
{
	size_t i = (size_t)(p - st->procs);

	memmove(p, p + 1, (st->nprocs - i - 1) * sizeof(*p));
	st->nprocs--;
}

struct lab_rack *
lab_find_rack(struct lab_state *st, const char *name)
{
	for (size_t i = 0; i < st->nracks; i++)
		if (strcmp(st->racks[i].name, name) == 0)
			return &st->racks[i];
	return NULL;
}

struct lab_rack *
lab_find_rack_id(struct lab_state *st, int id)
{
	for (size_t i = 0; i < st->nracks; i++)
		if (st->racks[i].id == id)
			return &st->racks[i];
	return NULL;
}

struct lab_peering *
lab_find_peering(struct lab_state *st, const char *a, const char *b)
{
	for (size_t i = 0; i < st->npeers; i++) {
		struct lab_peering *p = &st->peers[i];

		if ((strcmp(p->a, a) == 0 && strcmp(p->b, b) == 0) ||
		    (strcmp(p->a, b) == 0 && strcmp(p->b, a) == 0))
			return p;
	}
	return NULL;
}

struct lab_proc *
lab_find_proc(struct lab_state *st, const char *rack, const char *id)
{
	for (size_t i = 0; i < st->nprocs; i++)
		if (strcmp(st->procs[i].rack, rack) == 0 && strcmp(st->procs[i].id, id) == 0)
			return &st->procs[i];
	return NULL;
}

static int
parse_line(struct lab_state *st, char *line, char *err, size_t errlen)
{
	char f[9][300];
	char extra[2];
	int n;
	long v1, v2;

	n = sscanf(line, "%299s %299s %299s %299s %299s %299s %299s %299s %299s %1s", f[0], f[1], f[2],
	    f[3], f[4], f[5], f[6], f[7], f[8], extra);
	if (n <= 0 || f[0][0] == '#')
		return 0;
	if (strcmp(f[0], "lab") == 0 && n == 4) {
		if (strlen(f[1]) >= sizeof(st->prefix) ||
		    parse_long(f[2], 1, LAB_RACKS_MAX, &v1) == -1 ||
		    parse_long(f[3], 1, LAB_PEERS_MAX, &v2) == -1)
			goto bad;
		str_copy(st->prefix, sizeof(st->prefix), strcmp(f[1], "-") == 0 ? "" : f[1]);
		st->next_rack = (int)v1;
		st->next_peer = (int)v2;
		return 0;
	}
	if (strcmp(f[0], "rack") == 0 && (n == 6 || (n == 9 && strcmp(f[6], "host") == 0))) {
		struct lab_rack r = { 0 };

		if (n == 9) {
			struct in_addr in;

			if (inet_pton(AF_INET, f[7], &in) != 1)
				goto bad;
			r.host = true;
			r.pub = ntohl(in.s_addr);
			if (strcmp(f[8], "-") != 0) {
				if (inet_pton(AF_INET, f[8], &in) != 1)
					goto bad;
				r.priv = ntohl(in.s_addr);
			}
		}
		if (!valid_name(f[1]) || parse_long(f[2], 1, LAB_RACKS_MAX, &v1) == -1 ||
		    parse_cidr(f[3], &r.net, &r.prefix) == -1 ||
		    parse_long(f[4], 0, UINT32_MAX, &v2) == -1 ||
		    strlen(f[5]) >= sizeof(r.whitelist))
			goto bad;
		str_copy(r.name, sizeof(r.name), f[1]);
		r.id = (int)v1;
		r.next_proc = (uint32_t)v2;
		str_copy(r.whitelist, sizeof(r.whitelist), strcmp(f[5], "-") == 0 ? "" : f[5]);
		*lab_add_rack(st) = r;
		return 0;
	}
	if (strcmp(f[0], "peer") == 0 && n == 4) {
		struct lab_peering p = { 0 };

		if (!valid_name(f[1]) || !valid_name(f[2]) ||
		    parse_long(f[3], 1, LAB_PEERS_MAX, &v1) == -1)
			goto bad;
		str_copy(p.a, sizeof(p.a), f[1]);
		str_copy(p.b, sizeof(p.b), f[2]);
		p.id = (int)v1;
		*lab_add_peering(st) = p;
		return 0;
	}
	if (strcmp(f[0], "proc") == 0 && (n == 4 || n == 5)) {
		struct lab_proc p = { 0 };
		struct in_addr in;

		if (!valid_name(f[1]) || !lab_proc_id_ok(f[2]) || inet_pton(AF_INET, f[3], &in) != 1 ||
		    (n == 5 && !valid_name(f[4])))
			goto bad;
		str_copy(p.rack, sizeof(p.rack), f[1]);
		str_copy(p.id, sizeof(p.id), f[2]);
		if (n == 5)
			str_copy(p.app, sizeof(p.app), f[4]);
		p.addr = ntohl(in.s_addr);
		*lab_add_proc(st) = p;
		return 0;
	}
bad:
	snprintf(err, errlen, "bad line \"%.80s\"", line);
	return -1;
}

int
lab_state_parse(const char *text, struct lab_state *st, char *err, size_t errlen)
{
	const char *p = text;

	memset(st, 0, sizeof(*st));
	st->next_rack = 1;
	st->next_peer = 1;
	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
		char line[1024];

		if (len >= sizeof(line)) {
			snprintf(err, errlen, "line too long");
			lab_state_free(st);
			return -1;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (eol != NULL ? 1 : 0);
		if (parse_line(st, line, err, errlen) == -1) {
			lab_state_free(st);
			return -1;
		}
	}
	return 0;
}

char *
lab_state_format(const struct lab_state *st)
{
	struct buf b;
	char a[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN];

	buf_init(&b, 0);
	buf_adds(&b, "# cx lab state: written whole under lab/lock; see src/lab/state.c\n");
	buf_addf(&b, "lab %s %d %d\n", st->prefix[0] != '\0' ? st->prefix : "-", st->next_rack,
	    st->next_peer);
	for (size_t i = 0; i < st->nracks; i++) {
		const struct lab_rack *r = &st->racks[i];

		lab_ip4(r->net, cidr, sizeof(cidr));
		buf_addf(&b, "rack %s %d %s/%d %u %s", r->name, r->id, cidr, r->prefix,
		    r->next_proc, r->whitelist[0] != '\0' ? r->whitelist : "-");
		if (r->host) {
			char pub[INET_ADDRSTRLEN], priv[INET_ADDRSTRLEN] = "-";

			lab_ip4(r->pub, pub, sizeof(pub));
			if (r->priv != 0)
				lab_ip4(r->priv, priv, sizeof(priv));
			buf_addf(&b, " host %s %s", pub, priv);
		}
		buf_adds(&b, "\n");
	}
	for (size_t i = 0; i < st->npeers; i++)
		buf_addf(&b, "peer %s %s %d\n", st->peers[i].a, st->peers[i].b, st->peers[i].id);
	for (size_t i = 0; i < st->nprocs; i++) {
		lab_ip4(st->procs[i].addr, a, sizeof(a));
		buf_addf(&b, "proc %s %s %s%s%s\n", st->procs[i].rack, st->procs[i].id, a,
		    st->procs[i].app[0] != '\0' ? " " : "", st->procs[i].app);
	}
	return buf_cstr(&b);
}

static int
load(struct lab *l, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	char perr[160];
	char *text;

	snprintf(path, sizeof(path), "%s/state", l->dir);
	text = read_file(path, STATE_MAX, NULL);
	if (text == NULL) {
		if (errno == ENOENT)
			return lab_state_parse("", &l->st, err, errlen);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (lab_state_parse(text, &l->st, perr, sizeof(perr)) == -1) {
		snprintf(err, errlen, "%s: %s", path, perr);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

int
lab_open(struct lab *l, const char *home, bool lock, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];

	memset(l, 0, sizeof(*l));
	l->lockfd = -1;
	if (home == NULL || home[0] == '\0') {
		snprintf(err, errlen, "no CX_HOME given to the lab");
		return -1;
	}
	if (snprintf(l->dir, sizeof(l->dir), "%s/lab", home) >= (int)sizeof(l->dir) - 32) {
		snprintf(err, errlen, "CX_HOME path too long");
		return -1;
	}
	if (lock) {
		if (mkdir_p(l->dir, 0700) == -1) {
			snprintf(err, errlen, "%s: %s", l->dir, strerror(errno));
			return -1;
		}
		snprintf(path, sizeof(path), "%s/lock", l->dir);
		l->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (l->lockfd == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		while (flock(l->lockfd, LOCK_EX) == -1) {
			if (errno != EINTR) {
				snprintf(err, errlen, "flock %s: %s", path, strerror(errno));
				close(l->lockfd);
				l->lockfd = -1;
				return -1;
			}
		}
	}
	if (load(l, err, errlen) == -1) {
		lab_close(l);
		return -1;
	}
	return 0;
}

int
lab_save(struct lab *l, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	char *text = lab_state_format(&l->st);
	int rc;

	snprintf(path, sizeof(path), "%s/state", l->dir);
	rc = write_file_atomic(path, text, strlen(text), 0600);
	if (rc == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	free(text);
	return rc;
}

void
lab_close(struct lab *l)
{
	if (l->lockfd != -1) {
		close(l->lockfd); /* releases the flock */
		l->lockfd = -1;
	}
	lab_state_free(&l->st);
}
