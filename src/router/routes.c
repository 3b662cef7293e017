/*
 * routes.c — parsing a route snapshot into an immutable table, host
 * lookup (open addressing on FNV-1a), the allow list, reference counting.
 */
#include "router/routes.h"

#include <arpa/inet.h>
#include <ctype.h>
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
host_free(struct route_host *h)
{
	free(h->name);
	free(h->app);
	free(h->service);
	free(h->health_path);
	free(h->peer);
	for (size_t j = 0; j < h->nups; j++) {
		free(h->ups[j].id);
		free(h->ups[j].wup);
	}
	free(h->ups);
	free(h->rr);
	free(h->wstats);
	tls_id_free(h->tls);
}

static void
routes_free(struct routes *rt)
{
	for (size_t i = 0; i < rt->nhosts; i++)
		host_free(&rt->hosts[i]);
	for (size_t i = 0; i < rt->negress; i++)
		host_free(&rt->egress[i]);
	for (size_t i = 0; i < rt->npeers; i++) {
		free(rt->peers[i].name);
		free(rt->peers[i].ca_path);
		tls_id_free(rt->peers[i].ca);
		tls_ctx_free(rt->peers[i].client);
	}
	for (size_t i = 0; i < rt->nchallenges; i++) {
		free(rt->challenges[i].token);
		free(rt->challenges[i].keyauth);
	}
	free(rt->hosts);
	free(rt->egress);
	free(rt->peers);
	free(rt->challenges);
	tls_ctx_free(rt->peer_server);
	tls_ctx_free(rt->insecure);
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

size_t
routes_load_peers(struct routes *rt, const struct tls_id *id)
{
	const struct tls_id **cas = xcalloc(rt->npeers + 1, sizeof(*cas));
	const char **names = xcalloc(rt->npeers + 1, sizeof(*names));
	size_t n = 0, none = 0;
	char err[512];

	for (size_t i = 0; i < rt->npeers; i++) {
		struct route_peer *p = &rt->peers[i];

		p->ca = tls_id_load(p->ca_path, NULL, err, sizeof(err));
		if (p->ca == NULL || !tls_id_is_ca(p->ca)) {
			log_warnx("peer %s is not trusted until its CA loads: %s", p->name,
			    p->ca != NULL ? "the certificate is not a CA's" : err);
			tls_id_free(p->ca);
			p->ca = NULL;
			none++;
			continue;
		}
		tls_id_fingerprint(p->ca, p->ca_fp);
		cas[n] = p->ca;
		names[n++] = p->name;
		if (id != NULL) {
			char *pem = tls_id_cert_pem(p->ca, NULL);

			p->client = tls_ctx_client_new(pem, id, err, sizeof(err));
			free(pem);
			if (p->client == NULL)
				log_warnx("egress to peer %s: %s", p->name, err);
		}
	}
	if (id != NULL) {
		rt->peer_server = tls_ctx_peers_new(id, cas, names, n, err, sizeof(err));
		if (rt->peer_server == NULL)
			log_warnx("peer listener: %s", err);
	}
	for (size_t i = 0; i < rt->negress; i++) {
		const struct route_peer *p = routes_peer(rt, rt->egress[i].peer);

		rt->egress[i].up_ctx = p != NULL ? p->client : NULL;
	}
	for (size_t i = 0; i < rt->nhosts; i++) {
		if (rt->hosts[i].up_tls != ROUTE_TLS_ANY)
			continue;
		if (rt->insecure == NULL) {
			rt->insecure = tls_ctx_client_insecure_new(err, sizeof(err));
			if (rt->insecure == NULL) {
				log_warnx("tls-upstream hosts: %s", err);
				break;
			}
		}
		rt->hosts[i].up_ctx = rt->insecure;
	}
	free(cas);
	free(names);
	return none;
}

const struct route_host *
routes_egress(const struct routes *rt, const char *host, size_t n)
{
	const struct route_host *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < rt->negress; i++) {
		const struct route_host *h = &rt->egress[i];
		size_t d = strlen(h->name);

		if (n > d + 1 && host[n - d - 1] == '.' && memcmp(host + n - d, h->name, d) == 0 &&
		    d > best_len) {
			best = h;
			best_len = d;
		}
	}
	return best;
}

const struct route_peer *
routes_peer(const struct routes *rt, const char *name)
{
	for (size_t i = 0; i < rt->npeers; i++) {
		if (strcmp(rt->peers[i].name, name) == 0)
			return &rt->peers[i];
	}
	return NULL;
}

const char *
routes_challenge(const struct routes *rt, const char *token, size_t n)
{
	for (size_t i = 0; i < rt->nchallenges; i++) {
		const struct route_challenge *ch = &rt->challenges[i];

		if (strlen(ch->token) == n && memcmp(ch->token, token, n) == 0)
			return ch->keyauth;
	}
	return NULL;
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

/* A peer (rack) name: a DNS label, lower case. */
static bool
valid_peer_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	}
	return true;
}

/* An ACME token: base64url characters (RFC 8555 8.3), 1..256. */
static bool
valid_token(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 256)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	}
	return true;
}

/* FLAGS of a host line: comma-separated, each known. -1 on an unknown one. */
static int
parse_host_flags(char *flags, struct route_host *h)
{
	char *save = NULL;

	for (char *f = strtok_r(flags, ",", &save); f != NULL; f = strtok_r(NULL, ",", &save)) {
		if (strcmp(f, "redirect") == 0)
			h->redirect = true;
		else if (strcmp(f, "tls-upstream") == 0)
			h->up_tls = ROUTE_TLS_ANY;
		else if (strcmp(f, "grpc") == 0)
			h->grpc = true;
		else
			return -1;
	}
	return 0;
}

/* The address of an `up` or `egress` line. */
static int
parse_up(struct route_up *u, const char *ip, const char *port_s)
{
	int port;

	if (parse_int(port_s, 1, 65535, &port) == -1 ||
	    inet_pton(AF_INET, ip, &u->addr.sin_addr) != 1)
		return -1;
	u->addr.sin_family = AF_INET;
	u->addr.sin_port = htons((uint16_t)port);
	return 0;
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

			if (nf != 6 && nf != 7) {
				set_err(err, errlen, path, lineno,
				    "want `host NAME APP SERVICE TIMEOUT_S HEALTH_PATH [FLAGS]`");
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
			if (nf == 7 && parse_host_flags(f[6], cur) == -1) {
				set_err(err, errlen, path, lineno, "unknown host flag in `%s` (known: "
				    "redirect, tls-upstream, grpc)", f[6]);
				goto fail;
			}
		} else if (strcmp(f[0], "peer") == 0) {
			struct route_peer *pe;

			if (nf != 3 || !valid_peer_name(f[1]) || !valid_field(f[2])) {
				set_err(err, errlen, path, lineno, "want `peer NAME CAFILE`");
				goto fail;
			}
			if (routes_peer(rt, f[1]) != NULL) {
				set_err(err, errlen, path, lineno, "peer `%s` listed twice", f[1]);
				goto fail;
			}
			rt->peers = xrealloc(rt->peers, (rt->npeers + 1) * sizeof(*rt->peers));
			pe = &rt->peers[rt->npeers++];
			memset(pe, 0, sizeof(*pe));
			pe->name = xstrdup(f[1]);
			pe->ca_path = xstrdup(f[2]);
		} else if (strcmp(f[0], "egress") == 0) {
			struct route_host *eg;
			struct route_up u;

			memset(&u, 0, sizeof(u));
			if (nf != 5 || !valid_hostname(f[1]) || !valid_peer_name(f[2]) ||
			    parse_up(&u, f[3], f[4]) == -1) {
				set_err(err, errlen, path, lineno, "want `egress DOMAIN NAME IPV4 PORT`");
				goto fail;
			}
			for (size_t i = 0; i < rt->negress; i++) {
				if (strcmp(rt->egress[i].name, f[1]) == 0) {
					set_err(err, errlen, path, lineno, "egress `%s` listed twice", f[1]);
					goto fail;
				}
			}
			rt->egress = xrealloc(rt->egress, (rt->negress + 1) * sizeof(*rt->egress));
			eg = &rt->egress[rt->negress++];
			memset(eg, 0, sizeof(*eg));
			eg->name = xstrdup(f[1]);
			eg->app = xstrdup("");
			eg->service = xstrdup("");
			eg->health_path = xstrdup("/");
			eg->timeout_s = 60;
			eg->peer = xstrdup(f[2]);
			eg->up_tls = ROUTE_TLS_PEER;
			eg->rr = xcalloc((size_t)nworkers, sizeof(*eg->rr));
			eg->wstats = xcalloc((size_t)nworkers, sizeof(*eg->wstats));
			eg->ups = xcalloc(1, sizeof(*eg->ups));
			eg->ups[0] = u;
			eg->ups[0].id = xstrdup(f[2]);
			eg->ups[0].wup = xcalloc((size_t)nworkers, sizeof(*eg->ups[0].wup));
			eg->ups[0].tls = ROUTE_TLS_PEER;
			eg->ups[0].tls_name = eg->peer;
			eg->nups = 1;
		} else if (strcmp(f[0], "challenge") == 0) {
			struct route_challenge *ch;

			if (nf != 3 || !valid_token(f[1]) || !valid_field(f[2]) || strlen(f[2]) > 1024) {
				set_err(err, errlen, path, lineno, "want `challenge TOKEN KEYAUTH`");
				goto fail;
			}
			rt->challenges = xrealloc(rt->challenges,
			    (rt->nchallenges + 1) * sizeof(*rt->challenges));
			ch = &rt->challenges[rt->nchallenges++];
			ch->token = xstrdup(f[1]);
			ch->keyauth = xstrdup(f[2]);
		} else if (strcmp(f[0], "up") == 0) {
			struct route_up *u;

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
			if (parse_up(u, f[2], f[3]) == -1) {
				set_err(err, errlen, path, lineno, "invalid address `%s %s`", f[2], f[3]);
				goto fail;
			}
			u->tls = cur->up_tls;
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
	for (size_t i = 0; i < rt->negress; i++) {
		if (routes_peer(rt, rt->egress[i].peer) == NULL) {
			snprintf(err, errlen, "%s: egress %s goes to peer %s, which has no `peer` line",
			    path, rt->egress[i].name, rt->egress[i].peer);
			goto fail;
		}
	}
	free(text);
	build_index(rt);
	return rt;
fail:
	free(text);
	routes_free(rt);
	return NULL;
}
