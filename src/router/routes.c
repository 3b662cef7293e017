/*
 * routes.c — parsing a route snapshot into an immutable table, host
 * lookup (open addressing on FNV-1a), the allow list, reference counting.
 */
#include "router/routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/tls.h"
#include "common/tls_acme.h"
#include "common/util.h"

static uint64_t
fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static struct routes *
routes_alloc(int nworkers)
{
	struct routes *rt = xcalloc(1, sizeof(*rt));

	rt->refs = nworkers;
	rt->nworkers = nworkers;
	return rt;
}

struct routes *
routes_empty(int nworkers)
{
	return routes_alloc(nworkers);
}

static void
routes_free(struct routes *rt)
{
	for (size_t i = 0; i < rt->nhosts; i++) {
		struct route_host *h = &rt->hosts[i];

		free(h->name);
		free(h->app);
		free(h->service);
		free(h->health_path);
		for (size_t j = 0; j < h->nups; j++) {
			free(h->ups[j].id);
			free(h->ups[j].wup);
		}
		free(h->ups);
		free(h->rr);
		free(h->wstats);
		tls_id_free(h->tls);
	}
	for (size_t i = 0; i < rt->nchallenges; i++) {
		free(rt->challenges[i].token);
		free(rt->challenges[i].keyauth);
	}
	free(rt->challenges);
	free(rt->hosts);
	free(rt->slots);
	free(rt->allow_net);
	free(rt->allow_prefix);
	free(rt);
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

size_t
routes_load_certs(struct routes *rt, const struct routes *prev, const char *dir)
{
	size_t none = 0;

	for (size_t i = 0; i < rt->nhosts; i++) {
		struct route_host *h = &rt->hosts[i];
		const struct route_host *old;
		char cert[4352], key[4352], err[512];

		snprintf(cert, sizeof(cert), "%s/%s.pem", dir, h->name);
		snprintf(key, sizeof(key), "%s/%s.key", dir, h->name);
		old = prev != NULL ? routes_lookup(prev, h->name, strlen(h->name)) : NULL;
		if (stat(cert, &h->tls_st[0]) == 0 && stat(key, &h->tls_st[1]) == 0 &&
		    old != NULL && old->tls != NULL && same_file(&h->tls_st[0], &old->tls_st[0]) &&
		    same_file(&h->tls_st[1], &old->tls_st[1])) {
			h->tls = tls_id_share(old->tls);
			continue;
		}
		/* Stamps before reading: a file replaced in between is read again next time. */
		h->tls = tls_id_load_chain(cert, key, err, sizeof(err));
		if (h->tls == NULL) {
			log_warnx("host %s has no certificate, TLS handshakes for it are refused: %s",
			    h->name, err);
			none++;
		}
	}
	return none;
}

void
routes_hold(struct routes *rt)
{
	__atomic_add_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL);
}

void
routes_unref(struct routes *rt)
{
	if (rt != NULL && __atomic_sub_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL) == 0)
		routes_free(rt);
}

const struct route_host *
routes_lookup(const struct routes *rt, const char *host, size_t n)
{
	size_t i;

	if (rt->nslots == 0)
		return NULL;
	i = (size_t)fnv1a(host, n) & (rt->nslots - 1);
	for (;;) {
		uint32_t v = rt->slots[i];
		const struct route_host *h;

		if (v == 0)
			return NULL;
		h = &rt->hosts[v - 1];
		if (strlen(h->name) == n && memcmp(h->name, host, n) == 0)
			return h;
		i = (i + 1) & (rt->nslots - 1);
	}
}

bool
routes_allowed(const struct routes *rt, uint32_t addr)
{
	if (rt->nallow == 0)
		return true;
	for (size_t i = 0; i < rt->nallow; i++) {
		if (cidr_contains(rt->allow_net[i], rt->allow_prefix[i], addr))
			return true;
	}
	return false;
}

/* Splits line into at most max fields on single spaces; -1 on empty fields. */
static int
split(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *sp = strchr(p, ' ');

		if (n == max)
			return -1;
		f[n++] = p;
		if (*p == '\0' || p == sp)
			return -1;
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	return n;
}

static bool
valid_hostname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ROUTES_MAX_HOST)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_'))
			return false;
	}
	return true;
}

static bool
valid_field(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '"' || *s == '\\')
			return false;
	}
	return true;
}

/* An ACME token or key authorization: base64url characters and '.'. */
static bool
acme_token(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

const char *
routes_challenge(const struct routes *rt, const char *tok, size_t n)
{
	for (size_t i = 0; i < rt->nchallenges; i++)
		if (strlen(rt->challenges[i].token) == n && memcmp(rt->challenges[i].token, tok, n) == 0)
			return rt->challenges[i].keyauth;
	return NULL;
}

static void
set_err(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%d: %s", path, line, msg);
}

static void
build_index(struct routes *rt)
{
	size_t n = 16;

	while (n < rt->nhosts * 2)
		n *= 2;
	rt->nslots = n;
	rt->slots = xcalloc(n, sizeof(*rt->slots));
	for (size_t k = 0; k < rt->nhosts; k++) {
		const char *name = rt->hosts[k].name;
		size_t i = (size_t)fnv1a(name, strlen(name)) & (n - 1);

		while (rt->slots[i] != 0)
			i = (i + 1) & (n - 1);
		rt->slots[i] = (uint32_t)(k + 1);
	}
}

struct routes *
routes_load(const char *path, int nworkers, bool *missing, char *err, size_t errlen)
{
	struct routes *rt;
	struct route_host *cur = NULL;
	size_t len, caphosts = 0, capallow = 0;
	char *text, *p, *nl;
	int lineno = 0;

	*missing = false;
	text = read_file(path, ROUTES_MAX_FILE, &len);
	if (text == NULL) {
		if (errno == ENOENT) {
			*missing = true;
			return routes_empty(nworkers);
		}
		snprintf(err, errlen, "%s: %s", path, errno == EFBIG ? "larger than 1 MiB" :
		    strerror(errno));
		return NULL;
	}
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		free(text);
		return NULL;
	}
	rt = routes_alloc(nworkers);
	for (p = text; *p != '\0'; p = nl) {
		char *f[8];
		int nf;

		lineno++;
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		else
			nl = p + strlen(p);
		if (*p == '\0')
			continue;
		nf = split(p, f, 8);
		if (lineno == 1) {
			if (nf != 2 || strcmp(f[0], "cx-routes") != 0 || strcmp(f[1], "1") != 0) {
				set_err(err, errlen, path, lineno, "first line must be `cx-routes 1`");
				goto fail;
			}
			continue;
		}
		if (nf < 0) {
			set_err(err, errlen, path, lineno, "empty field (fields are separated by one space)");
			goto fail;
		}
		if (strcmp(f[0], "allow") == 0) {
			uint32_t net;
			int prefix;

			if (nf != 2 || parse_cidr(f[1], &net, &prefix) == -1) {
				set_err(err, errlen, path, lineno, "want `allow A.B.C.D/N` with host bits zero");
				goto fail;
			}
			if (rt->nallow == capallow) {
				capallow = capallow ? capallow * 2 : 8;
				rt->allow_net = xrealloc(rt->allow_net, capallow * sizeof(*rt->allow_net));
				rt->allow_prefix = xrealloc(rt->allow_prefix,
				    capallow * sizeof(*rt->allow_prefix));
			}
			rt->allow_net[rt->nallow] = net;
			rt->allow_prefix[rt->nallow++] = prefix;
		} else if (strcmp(f[0], "host") == 0) {
			int timeout;

			if (nf != 6) {
				set_err(err, errlen, path, lineno,
				    "want `host NAME APP SERVICE TIMEOUT_S HEALTH_PATH`");
				goto fail;
			}
			for (char *c = f[1]; *c != '\0'; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c + 32);
			if (!valid_hostname(f[1])) {
				set_err(err, errlen, path, lineno, "invalid host name `%s`", f[1]);
				goto fail;
			}
			if (!valid_field(f[2]) || !valid_field(f[3]) || !valid_field(f[5]) ||
			    f[5][0] != '/') {
				set_err(err, errlen, path, lineno, "invalid APP, SERVICE or HEALTH_PATH");
				goto fail;
			}
			if (parse_int(f[4], 1, 86400, &timeout) == -1) {
				set_err(err, errlen, path, lineno, "TIMEOUT_S must be 1..86400, not `%s`",
				    f[4]);
				goto fail;
			}
			for (size_t i = 0; i < rt->nhosts; i++) {
				if (strcmp(rt->hosts[i].name, f[1]) == 0) {
					set_err(err, errlen, path, lineno, "host `%s` listed twice", f[1]);
					goto fail;
				}
			}
			if (rt->nhosts == caphosts) {
				caphosts = caphosts ? caphosts * 2 : 16;
				rt->hosts = xrealloc(rt->hosts, caphosts * sizeof(*rt->hosts));
			}
			cur = &rt->hosts[rt->nhosts++];
			memset(cur, 0, sizeof(*cur));
			cur->name = xstrdup(f[1]);
			cur->app = xstrdup(f[2]);
			cur->service = xstrdup(f[3]);
			cur->timeout_s = timeout;
			cur->health_path = xstrdup(f[5]);
			cur->rr = xcalloc((size_t)nworkers, sizeof(*cur->rr));
			cur->wstats = xcalloc((size_t)nworkers, sizeof(*cur->wstats));
		} else if (strcmp(f[0], "challenge") == 0) {
			struct route_challenge *ch;

			if (nf != 3 || !acme_token(f[1], 256) || !acme_token(f[2], 512)) {
				set_err(err, errlen, path, lineno, "want `challenge TOKEN KEYAUTH` "
				    "(base64url and '.')");
				goto fail;
			}
			rt->challenges = xrealloc(rt->challenges,
			    (rt->nchallenges + 1) * sizeof(*rt->challenges));
			ch = &rt->challenges[rt->nchallenges++];
			ch->token = xstrdup(f[1]);
			ch->keyauth = xstrdup(f[2]);
		} else if (strcmp(f[0], "up") == 0) {
			struct route_up *u;
			int port;

			if (cur == NULL) {
				set_err(err, errlen, path, lineno, "`up` before any `host`");
				goto fail;
			}
			if (nf != 4 || !valid_field(f[1])) {
				set_err(err, errlen, path, lineno, "want `up PROCESS_ID IPV4 PORT`");
				goto fail;
			}
			cur->ups = xrealloc(cur->ups, (cur->nups + 1) * sizeof(*cur->ups));
			u = &cur->ups[cur->nups];
			memset(u, 0, sizeof(*u));
			if (parse_int(f[3], 1, 65535, &port) == -1 ||
			    inet_pton(AF_INET, f[2], &u->addr.sin_addr) != 1) {
				set_err(err, errlen, path, lineno, "invalid address `%s %s`", f[2], f[3]);
				goto fail;
			}
			u->addr.sin_family = AF_INET;
			u->addr.sin_port = htons((uint16_t)port);
			u->id = xstrdup(f[1]);
			u->wup = xcalloc((size_t)nworkers, sizeof(*u->wup));
			cur->nups++;
		} else {
			set_err(err, errlen, path, lineno, "unknown record `%s`", f[0]);
			goto fail;
		}
	}
	if (lineno == 0) {
		set_err(err, errlen, path, 1, "empty file (want `cx-routes 1`)");
		goto fail;
	}
	free(text);
	build_index(rt);
	return rt;
fail:
	free(text);
	routes_free(rt);
	return NULL;
}
