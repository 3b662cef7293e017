/*
 * manifest.c — convox.yml, from text to struct manifest (see manifest.h).
 *
 * Two stages. yload() builds a small tree from libyaml's events, bounded in
 * depth, node count and anchors; an alias shares the node it names (so an
 * alias bomb costs nothing to load) and every node keeps its line and column.
 * The schema stage walks that tree key by key in file order, flattening `<<`
 * merge keys the way yaml.v2 (which Convox uses) does, under a work budget,
 * and stops at the first problem with "file:line:col: message". References
 * between sections (links, resources, timers) are checked once the whole file
 * is read.
 *
 * What the local provider does with each key (docs/manifest.md is the users'
 * page of it; test_manifest checks that it lists every key of the tables
 * below with their decision). Convox ignores keys it does not know; we
 * refuse them: on a local rack a typo, or a feature we cannot
 * provide, must fail the deploy rather than silently change what runs.
 *
 *  key                         decision  why
 *  Top level
 *  environment                 honoured  see "Environment" below
 *  services                    honoured  below
 *  timers                      parsed    manifest.timers; the service is checked, "?"
 *                                        becomes "*" and a sixth (year) field is
 *                                        dropped, as Convox v3 does; running them on
 *                                        schedule is rackd's job
 *  resources                   honoured  postgres, mysql, mariadb, redis, memcached run
 *                                        by the rack (resource.h); type and options
 *                                        checked there, options a host cannot honour
 *                                        noticed; efs and volume refused where linked
 *  appSettings                 ignored   AWS CloudWatch log retention
 *  budget                      ignored   cloud cost caps
 *  labels                      ignored   Kubernetes labels
 *  params                      ignored   cloud provider parameters
 *  version                     ignored   docker-compose leftover (Convox ignores it too)
 *  workflows                   ignored   Convox Console CI, not the rack's business
 *  balancers                   refused   TCP load balancers on public ports; the routers
 *                                        serve HTTP only
 *  configs                     refused   files mounted into containers
 *  anything else               refused   unknown
 *  Services
 *  build (path, manifest)      honoured  defaults "." and "Dockerfile"; must stay inside
 *                                        the app's source (relative, no "..")
 *  build.args                  refused   feeds RUN and ARG lines, which the local
 *                                        provider does not run
 *  command                     honoured  a list (Generation 2 exec form) is joined,
 *                                        shell-quoted
 *  domain                      honoured  a string (comma separated) or a list;
 *                                        lower-cased, checked as host names
 *  environment                 honoured  see "Environment" below
 *  health                      honoured  a path, or {path, grace, interval, timeout,
 *                                        disable}; interval 5, grace = interval,
 *                                        timeout = interval - 1 (at least 1)
 *  health.port                 refused   checks go to the process's one PORT
 *  internal, internalRouter    honoured  both true is an error, as in Convox
 *  port                        honoured  3000, "3000", http:3000, https:3000,
 *                                        grpc:3000 or {port, scheme}; grpc: the routers
 *                                        speak HTTP/2 (h2c) to the process, end to end
 *  grpcHealthEnabled           honoured  default false: health checks call
 *                                        grpc.health.v1.Health/Check (h2c) instead of
 *                                        GET health.path; only SERVING passes
 *  scale                       honoured  N, "MIN-MAX", {count: N | "MIN-MAX" | {min,
 *                                        max}} or {min, max}; a local rack runs the
 *                                        minimum
 *  scale.cpu                   honoured  1000 = a core, default 250: the process's
 *                                        cpu share (cgroup); written, a hard cap too
 *  scale.memory                honoured  MB, default 512: the kernel kills a process
 *                                        over it (cgroup)
 *  scale.gpu, limit, targets,  ignored   sizing and autoscaling: processes run on the
 *  autoscale, keda, vpa,                 host the rack has
 *  cooldown
 *  termination.grace           honoured  default 30
 *  timeout                     honoured  default 60
 *  deployment                  honoured  minimum 0-100, maximum 100-200, default 50/200;
 *                                        progressDeadline 0-86400 s (Kubernetes racks:
 *                                        progressDeadlineSeconds; 0: the rack's param)
 *  agent                       honoured  one process per rack (a rack is one node),
 *                                        deployment 0/100; Generation 2's {enabled,
 *                                        ports} is accepted, its ports checked, ignored
 *  singleton                   honoured  deployment 0/100 unless given, as in Convox
 *  sticky                      exposed   mf_service.sticky; the router decides
 *  links                       exposed   mf_service.links, names checked; Generation 2
 *                                        injected LINK_URL, which only the deployer knows
 *  resources                   honoured  NAME or NAME:VAR makes VAR (default NAME_URL)
 *                                        a required variable; a resource of type efs or
 *                                        volume is refused (it is a volume)
 *  ports                       ignored   extra ports the app opens itself: checked (N,
 *                                        N/tcp, N/udp), not published
 *  annotations, labels (a      ignored   Kubernetes and AWS metadata, scheduling,
 *  mapping), ingressAnnotations,         identity and security settings; app processes
 *  nodeSelectorLabels,                   already run unprivileged
 *  nodeAffinityLabels, dnsConfig,
 *  securityContext, accessControl,
 *  disableHostUsers, imagePullSecrets
 *  tls.redirect                honoured  default true: on a host rack the plain :80 of
 *                                        the routers answers 308 to https
 *  certificate                 ignored   certificates are the rack's (cx certs, cx ssl)
 *  drain                       ignored   load balancer draining; termination.grace applies
 *  init                        ignored   the supervisor reaps; no PID 1 shim is needed
 *  liveness, startupProbe      ignored   Kubernetes restarts on failed probes; the
 *                                        routers' health checks still take a failing
 *                                        process out of rotation
 *  test                        ignored   `convox test`
 *  image                       refused   needs a registry, which the local provider does
 *                                        not have
 *  initContainer               refused   needs an image
 *  labels (a list)             refused   Generation 1 (docker-compose) syntax whose
 *                                        convox.* labels changed health checks and ports
 *  volumes, volumeOptions,     refused   no containers, so nothing to mount (an empty
 *  configMounts                          list is fine)
 *  privileged: true            refused   app processes never get privileges
 *  lifecycle                   refused   preStop/postStart hooks are not run
 *  nlb                         refused   TCP load balancers on public ports
 *  whitelist                   refused   source allow lists are not enforced per
 *                                        service; use internal or internalRouter
 *  anything else               refused   unknown, here and inside build, health, port,
 *                                        scale, deployment, termination, agent, timers
 *                                        and resources
 *
 * Environment. An entry is "K=V" (a default), "K" (required) or "*" (every
 * variable of the app's environment). As in Convox, a service sees only the
 * variables declared for it, at the top level or its own, unless "*" is
 * declared; the app's value beats the service default, which beats the
 * top-level one. Unlike Convox, a variable declared bare at the top level and
 * given a default by the service is not required: the default is there to be
 * used. ${NAME} is interpolated in values, never in keys; a value that is null
 * or empty after interpolation counts as absent, so defaults apply (Convox,
 * which interpolates the text before parsing, ends up the same).
 *
 * Values. Numbers are whole decimal numbers, range-checked; booleans are YAML
 * 1.1's (true/false, yes/no, on/off, y/n). As in Convox, 0 for
 * health.interval, health.grace, health.timeout and timeout means "the
 * default"; termination.grace: 0 stays 0.
 */
#include "rackd/manifest.h"
#include "rackd/resource.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

enum {
	MF_MAX_DEPTH = 64,          /* nesting of lists and mappings */
	MF_MAX_NODES = 100000,      /* nodes plus aliases in one file */
	MF_MAX_ANCHORS = 200,
	MF_MAX_KEYS = 1000,         /* per mapping, after merges */
	MF_MAX_ITEMS = 1000,        /* per list we read (environment: after flattening) */
	MF_MAX_MERGE_DEPTH = 8,     /* `<<` inside merged mappings */
	MF_MAX_VALUE = 1024 * 1024, /* one value after interpolation */
	MF_MAX_VALUES = 16 * 1024 * 1024, /* all values read, aliases included */
	MF_MAX_DOMAINS = 100,
	MF_MAX_SECONDS = 86400,
	MF_MAX_SCALE = 1000,
	MF_MAX_NAME = 30,           /* service names, as rack and app names */
	MF_MAX_RESNAME = 63,        /* resource and timer names */
};
#define MF_WORK_BUDGET 10000000L /* node visits and key comparisons while reading the tree */

/* ---------------------------------------------------------------- tree */

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ykind kind;
	int line, col;              /* 1-based */
	bool quoted;                /* scalar not plain: never null */
	char *text;                 /* scalar, NUL-terminated (may hold NULs from escapes) */
	size_t len;
	struct ynode **kid;         /* list items; mapping: key, value, key, value, ... */
	size_t nkid, capkid;
	struct ynode *next;         /* all nodes, for freeing */
};

struct yanchor {
	char *name;
	struct ynode *node;
};

struct yframe {
	struct ynode *node;
	char *anchor;               /* registered when the collection ends */
};

struct ypair {
	const struct ynode *k, *v;
};

struct ypairs {
	struct ypair *p;
	size_t n, cap;
};

enum dfr_kind { DFR_LINK, DFR_RESOURCE, DFR_TIMER };

/* A reference checked once the whole file is read. */
struct deferred {
	enum dfr_kind kind;
	const struct ynode *n;      /* where to point the message */
	const char *name;           /* points into the manifest */
};

struct pctx {
	const char *file;
	const char *buf;
	size_t len;
	char *err;
	size_t errlen;
	bool failed;
	const char *(*lookup)(const char *, void *);
	void *lctx;
	long budget;
	size_t value_bytes;         /* read so far, against MF_MAX_VALUES */

	struct ynode *root, *all;
	size_t nnodes;
	struct yanchor *anchors;
	size_t nanchors, capanchors;

	struct manifest *m;
	struct deferred *dfr;
	size_t ndfr, capdfr;
};

static _Noreturn void
oom(void)
{
	fputs("manifest: out of memory\n", stderr);
	abort();
}

static void *
zalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

static char *
memdup0(const char *s, size_t n)
{
	char *p = zalloc(n + 1);

	memcpy(p, s, n);
	return p;
}

static char *
sdup(const char *s)
{
	return memdup0(s, strlen(s));
}

/* Array p holding n of *cap elements, with room for one more (zeroed). */
static void *
grow(void *p, size_t *cap, size_t n, size_t elsize)
{
	size_t ncap;
	void *q;

	if (n < *cap)
		return p;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / elsize)
		oom();
	q = realloc(p, ncap * elsize);
	if (q == NULL)
		oom();
	memset((char *)q + *cap * elsize, 0, (ncap - *cap) * elsize);
	*cap = ncap;
	return q;
}

/* ---------------------------------------------------------------- errors */

static int
failv(struct pctx *c, int line, int col, const char *fmt, va_list ap)
{
	char *p;
	int n;

	if (c->failed)
		return -1;
	c->failed = true;
	if (c->errlen == 0)
		return -1;
	n = snprintf(c->err, c->errlen, "%s:%d:%d: ", c->file, line, col);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - n, fmt, ap);
	for (p = c->err; *p; p++) /* one line, whatever a value held */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -1;
}

static int __attribute__((format(printf, 4, 5)))
failat(struct pctx *c, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(c, line, col, fmt, ap);
	va_end(ap);
	return -1;
}

/* Fails at node n (1:1 when n is NULL). Always returns -1. */
static int __attribute__((format(printf, 3, 4)))
fail(struct pctx *c, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(c, n ? n->line : 1, n ? n->col : 1, fmt, ap);
	va_end(ap);
	return -1;
}

/* Notes that key k (its path `name`, what it is for `what`) is accepted
 * and not acted on: "convox.yml:LINE:COL: NAME (WHAT) is not acted on by
 * local racks", one line per key, in m->notices. */
static void
notice(struct pctx *c, const struct ynode *k, const char *name, const char *what)
{
	struct manifest *m = c->m;

	char line[512];
	char **grown;

	if (m == NULL || m->nnotices >= MF_MAX_NOTICES)
		return;
	grown = realloc(m->notices, (m->nnotices + 1) * sizeof(*m->notices));
	if (grown == NULL)
		oom();
	m->notices = grown;
	snprintf(line, sizeof(line), "%s:%d:%d: %s (%s) is not acted on by local racks", c->file,
	    k->line, k->col, name, what);
	m->notices[m->nnotices++] = memdup0(line, strlen(line));
}

/* A printable, bounded copy of s for messages: one line, no control bytes. */
static const char *
shown(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 4 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		buf[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

#define SHOWN_MAX 48
#define KEYNAME(n, b) shown((n)->text, (n)->len, (b), sizeof(b))

/* ---------------------------------------------------------------- loading */

static struct ynode *
ynew(struct pctx *c, enum ykind kind, yaml_mark_t mark)
{
	struct ynode *n;

	if (++c->nnodes > MF_MAX_NODES) {
		failat(c, (int)mark.line + 1, (int)mark.column + 1,
		    "more than %d YAML nodes", MF_MAX_NODES);
		return NULL;
	}
	n = zalloc(sizeof(*n));
	n->kind = kind;
	n->line = (int)mark.line + 1;
	n->col = (int)mark.column + 1;
	n->next = c->all;
	c->all = n;
	return n;
}

static struct ynode *
yanchor_find(struct pctx *c, const char *name)
{
	size_t i;

	for (i = c->nanchors; i-- > 0;)
		if (strcmp(c->anchors[i].name, name) == 0)
			return c->anchors[i].node;
	return NULL;
}

/* Registers (or redefines) anchor name; takes ownership of name. */
static int
yanchor_add(struct pctx *c, char *name, struct ynode *n)
{
	size_t i;

	for (i = 0; i < c->nanchors; i++) {
		if (strcmp(c->anchors[i].name, name) == 0) {
			free(name);
			c->anchors[i].node = n;
			return 0;
		}
	}
	if (c->nanchors >= MF_MAX_ANCHORS) {
		free(name);
		return fail(c, n, "more than %d YAML anchors", MF_MAX_ANCHORS);
	}
	c->anchors = grow(c->anchors, &c->capanchors, c->nanchors, sizeof(*c->anchors));
	c->anchors[c->nanchors].name = name;
	c->anchors[c->nanchors].node = n;
	c->nanchors++;
	return 0;
}

/* Appends n to the open collection on top of the stack, or makes it the root. */
static void
yattach(struct pctx *c, struct yframe *stack, size_t depth, struct ynode *n)
{
	struct ynode *p;

	if (depth == 0) {
		c->root = n;
		return;
	}
	p = stack[depth - 1].node;
	p->kid = grow(p->kid, &p->capkid, p->nkid, sizeof(*p->kid));
	p->kid[p->nkid++] = n;
}

/* Byte offset -> 1-based line and column (columns count characters, as libyaml's). */
static void
offset_pos(const char *buf, size_t len, size_t off, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	if (off > len)
		off = len;
	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static int
ysyntax(struct pctx *c, const yaml_parser_t *p)
{
	int line, col;

	switch (p->error) {
	case YAML_READER_ERROR:
		offset_pos(c->buf, c->len, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			return failat(c, line, col, "%s (byte 0x%02x)", p->problem,
			    (unsigned)p->problem_value & 0xff);
		return failat(c, line, col, "%s", p->problem);
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		line = (int)p->problem_mark.line + 1;
		col = (int)p->problem_mark.column + 1;
		if (p->context)
			return failat(c, line, col, "%s (%s at line %d)", p->problem,
			    p->context, (int)p->context_mark.line + 1);
		return failat(c, line, col, "%s", p->problem ? p->problem : "syntax error");
	case YAML_MEMORY_ERROR:
		return failat(c, 1, 1, "out of memory while parsing YAML");
	default:
		return failat(c, 1, 1, "YAML error %d", (int)p->error);
	}
}

/* Builds the tree of c->buf into c->root (NULL for an empty stream). */
static int
yload(struct pctx *c)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct yframe stack[MF_MAX_DEPTH];
	size_t depth = 0, i;
	int ndocs = 0, rc = -1;
	bool done = false;

	if (!yaml_parser_initialize(&p))
		return failat(c, 1, 1, "out of memory while parsing YAML");
	yaml_parser_set_input_string(&p, (const unsigned char *)c->buf, c->len);
	while (!done) {
		struct ynode *n;
		const char *anchor = NULL;
		int bad = 0;

		if (!yaml_parser_parse(&p, &ev)) {
			ysyntax(c, &p);
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1)
				bad = failat(c, (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1,
				    "a second YAML document; convox.yml holds one");
			break;
		case YAML_ALIAS_EVENT: {
			const char *name = (const char *)ev.data.alias.anchor;

			if (++c->nnodes > MF_MAX_NODES) {
				bad = failat(c, (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1,
				    "more than %d YAML nodes", MF_MAX_NODES);
				break;
			}
			n = yanchor_find(c, name);
			if (n == NULL) {
				bool open = false;

				for (i = 0; i < depth; i++)
					if (stack[i].anchor && strcmp(stack[i].anchor, name) == 0)
						open = true;
				bad = failat(c, (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1,
				    open ? "alias *%.*s refers to a node that contains it"
					 : "undefined alias *%.*s", SHOWN_MAX, name);
				break;
			}
			yattach(c, stack, depth, n);
			break;
		}
		case YAML_SCALAR_EVENT:
			n = ynew(c, Y_SCALAR, ev.start_mark);
			if (n == NULL) {
				bad = -1;
				break;
			}
			n->text = memdup0((const char *)ev.data.scalar.value, ev.data.scalar.length);
			n->len = ev.data.scalar.length;
			n->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
			anchor = (const char *)ev.data.scalar.anchor;
			if (anchor && yanchor_add(c, sdup(anchor), n) < 0) {
				bad = -1;
				break;
			}
			yattach(c, stack, depth, n);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == MF_MAX_DEPTH) {
				bad = failat(c, (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1,
				    "nested deeper than %d levels", MF_MAX_DEPTH);
				break;
			}
			n = ynew(c, ev.type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP,
			    ev.start_mark);
			if (n == NULL) {
				bad = -1;
				break;
			}
			anchor = ev.type == YAML_SEQUENCE_START_EVENT
			    ? (const char *)ev.data.sequence_start.anchor
			    : (const char *)ev.data.mapping_start.anchor;
			stack[depth].node = n;
			stack[depth].anchor = anchor ? sdup(anchor) : NULL;
			depth++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth == 0) /* libyaml guarantees balance; be safe anyway */
				break;
			depth--;
			n = stack[depth].node;
			if (stack[depth].anchor) {
				char *a = stack[depth].anchor;

				stack[depth].anchor = NULL;
				if (yanchor_add(c, a, n) < 0) {
					bad = -1;
					break;
				}
			}
			yattach(c, stack, depth, n);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (bad < 0)
			goto out;
	}
	rc = 0;
out:
	for (i = 0; i < depth; i++)
		free(stack[i].anchor);
	yaml_parser_delete(&p);
	return rc;
}

static void
yfree(struct pctx *c)
{
	struct ynode *n, *next;
	size_t i;

	for (n = c->all; n; n = next) {
		next = n->next;
		free(n->text);
		free(n->kid);
		free(n);
	}
	c->all = c->root = NULL;
	for (i = 0; i < c->nanchors; i++)
		free(c->anchors[i].name);
	free(c->anchors);
	c->anchors = NULL;
	c->nanchors = 0;
}

/* ---------------------------------------------------------------- reading values */

/* Charges n steps of work at node at; false (err set) once the budget is gone. */
static bool
spend_n(struct pctx *c, const struct ynode *at, size_t n)
{
	if (c->budget >= 0 && (size_t)c->budget >= n) {
		c->budget -= (long)n;
		return true;
	}
	c->budget = -1;
	fail(c, at, "aliases and merges expand to more than %ld steps", MF_WORK_BUDGET);
	return false;
}

static bool
spend(struct pctx *c, const struct ynode *n)
{
	return spend_n(c, n, 1);
}

static bool
is_null(const struct ynode *n)
{
	if (n == NULL)
		return true;
	if (n->kind != Y_SCALAR || n->quoted)
		return false;
	return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	    strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

static const char *
kind_name(const struct ynode *n)
{
	switch (n->kind) {
	case Y_SEQ:
		return "a list";
	case Y_MAP:
		return "a mapping";
	default:
		return "a single value";
	}
}

static bool
key_is(const struct ynode *k, const char *name)
{
	size_t n = strlen(name);

	return k->len == n && memcmp(k->text, name, n) == 0;
}

/* Scalar n with every ${NAME} replaced by lookup(NAME), or "" when unset. */
static char *
interp(struct pctx *c, const struct ynode *n)
{
	const char *s = n->text, *end = n->text + n->len;
	char *out = NULL;
	size_t len = 0, cap = 0;

	if (memchr(n->text, '\0', n->len)) {
		fail(c, n, "value holds a NUL byte");
		return NULL;
	}
	while (s < end) {
		const char *open = strstr(s, "${"), *close = NULL, *add = s;
		size_t addn;

		if (open)
			close = memchr(open + 2, '}', (size_t)(end - open - 2));
		if (open == NULL || close == NULL) {
			addn = (size_t)(end - s);
			s = end;
		} else if (open > s) {
			addn = (size_t)(open - s);
			s = open;
		} else {
			char *name = memdup0(open + 2, (size_t)(close - open - 2));
			const char *v = c->lookup ? c->lookup(name, c->lctx) : NULL;

			free(name);
			add = v ? v : "";
			addn = strlen(add);
			s = close + 1;
		}
		if (len + addn > MF_MAX_VALUE) {
			free(out);
			fail(c, n, "value longer than %d bytes after interpolation", MF_MAX_VALUE);
			return NULL;
		}
		while (len + addn + 1 > cap) {
			char *q;

			cap = cap ? cap * 2 : 64;
			q = realloc(out, cap);
			if (q == NULL)
				oom();
			out = q;
		}
		memcpy(out + len, add, addn);
		len += addn;
	}
	c->value_bytes += len;
	if (c->value_bytes > MF_MAX_VALUES) {
		free(out);
		fail(c, n, "values add up to more than %d bytes (through aliases?)", MF_MAX_VALUES);
		return NULL;
	}
	if (out == NULL)
		return sdup("");
	out[len] = '\0';
	return out;
}

/*
 * The interpolated text of scalar n in *out (malloc'd): 1. Absent (null, or
 * empty after interpolation): 0 and *out NULL. Not a scalar: -1 with err set.
 */
static int
get_str(struct pctx *c, const struct ynode *n, const char *what, char **out)
{
	char *s;

	*out = NULL;
	if (is_null(n))
		return 0;
	if (n->kind != Y_SCALAR)
		return fail(c, n, "%s: expected a single value, found %s", what, kind_name(n));
	s = interp(c, n);
	if (s == NULL)
		return -1;
	if (*s == '\0') {
		free(s);
		return 0;
	}
	*out = s;
	return 1;
}

/* Whole decimal number with an optional sign; -1 on anything else. */
static int
parse_dec(const char *s, long long *out)
{
	long long v = 0;
	bool neg = false;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > 1000000000000LL)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (*s != '\0')
		return -1;
	*out = neg ? -v : v;
	return 0;
}

/* An integer in [min, max] into *out: 1; absent: 0 (*out untouched); -1 on error. */
static int
get_int(struct pctx *c, const struct ynode *n, const char *what, int min, int max, int *out)
{
	char *s, b[SHOWN_MAX];
	long long v;
	int r = get_str(c, n, what, &s);

	if (r <= 0)
		return r;
	if (parse_dec(s, &v) < 0 || v < min || v > max) {
		fail(c, n, "%s: expected a whole number from %d to %d, found \"%s\"", what,
		    min, max, shown(s, strlen(s), b, sizeof(b)));
		free(s);
		return -1;
	}
	free(s);
	*out = (int)v;
	return 1;
}

/* YAML 1.1's booleans, as yaml.v2 reads them */
static const char *const true_words[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on",
	"On", "ON", "y", "Y" };
static const char *const false_words[] = { "false", "False", "FALSE", "no", "No", "NO", "off",
	"Off", "OFF", "n", "N" };

static bool
word_in(const char *s, const char *const *words, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

#define IS_TRUE(s) word_in((s), true_words, sizeof(true_words) / sizeof(true_words[0]))
#define IS_FALSE(s) word_in((s), false_words, sizeof(false_words) / sizeof(false_words[0]))

/* A YAML 1.1 boolean into *out: 1; absent: 0; -1 on error. */
static int
get_bool(struct pctx *c, const struct ynode *n, const char *what, bool *out)
{
	char *s, b[SHOWN_MAX];
	int r = get_str(c, n, what, &s);

	if (r <= 0)
		return r;
	if (IS_TRUE(s) || IS_FALSE(s)) {
		*out = IS_TRUE(s);
		free(s);
		return 1;
	}
	fail(c, n, "%s: expected true or false, found \"%s\"", what,
	    shown(s, strlen(s), b, sizeof(b)));
	free(s);
	return -1;
}

/*
 * Set means something other than null, false, "" or an empty list or
 * mapping. Interpolation can fail (c->failed): callers check.
 */
static bool
is_set(struct pctx *c, const struct ynode *n)
{
	char *s;
	bool set;

	if (is_null(n))
		return false;
	if (n->kind != Y_SCALAR)
		return n->nkid > 0;
	s = interp(c, n);
	if (s == NULL)
		return true;
	set = *s != '\0' && !IS_FALSE(s);
	free(s);
	return set;
}

static void
pairs_add(struct ypairs *ps, const struct ynode *k, const struct ynode *v)
{
	ps->p = grow(ps->p, &ps->cap, ps->n, sizeof(*ps->p));
	ps->p[ps->n].k = k;
	ps->p[ps->n].v = v;
	ps->n++;
}

/* 1 when key k is among the first upto pairs, 0 when not, -1 (err set) past the budget. */
static int
pairs_has(struct pctx *c, const struct ypairs *ps, const struct ynode *k, size_t upto)
{
	size_t i;

	if (!spend_n(c, k, upto))
		return -1;
	for (i = 0; i < upto; i++)
		if (ps->p[i].k->len == k->len && memcmp(ps->p[i].k->text, k->text, k->len) == 0)
			return 1;
	return 0;
}

static int map_pairs_depth(struct pctx *c, const struct ynode *map, const char *what,
    struct ypairs *out, int depth);

/* Adds the pairs of merge source src (a mapping, or a list of them) not yet in out. */
static int
merge_into(struct pctx *c, const struct ynode *src, const char *what, struct ypairs *out,
    int depth)
{
	size_t i, j;

	if (src->kind == Y_SEQ) {
		for (i = 0; i < src->nkid; i++) {
			if (!spend(c, src->kid[i]))
				return -1;
			if (src->kid[i]->kind != Y_MAP)
				return fail(c, src->kid[i], "%s: <<: merges mappings only", what);
			if (merge_into(c, src->kid[i], what, out, depth) < 0)
				return -1;
		}
		return 0;
	}
	if (src->kind != Y_MAP)
		return fail(c, src, "%s: <<: merges mappings only", what);
	{
		struct ypairs sub = { 0 };
		size_t have = out->n;

		if (map_pairs_depth(c, src, what, &sub, depth + 1) < 0) {
			free(sub.p);
			return -1;
		}
		for (j = 0; j < sub.n; j++) {
			int has = pairs_has(c, out, sub.p[j].k, have);

			if (has < 0) {
				free(sub.p);
				return -1;
			}
			if (has)
				continue;
			if (out->n >= MF_MAX_KEYS) {
				free(sub.p);
				return fail(c, src, "%s: more than %d keys", what, MF_MAX_KEYS);
			}
			pairs_add(out, sub.p[j].k, sub.p[j].v);
		}
		free(sub.p);
	}
	return 0;
}

static int
map_pairs_depth(struct pctx *c, const struct ynode *map, const char *what, struct ypairs *out,
    int depth)
{
	size_t i;
	char b[SHOWN_MAX];

	out->n = 0;
	if (is_null(map))
		return 0;
	if (map->kind != Y_MAP)
		return fail(c, map, "%s: expected a mapping, found %s", what, kind_name(map));
	if (depth > MF_MAX_MERGE_DEPTH)
		return fail(c, map, "%s: <<: merges nested deeper than %d", what,
		    MF_MAX_MERGE_DEPTH);
	if (map->nkid / 2 > MF_MAX_KEYS)
		return fail(c, map, "%s: more than %d keys", what, MF_MAX_KEYS);
	for (i = 0; i + 1 < map->nkid; i += 2) {
		const struct ynode *k = map->kid[i];

		if (!spend(c, k))
			return -1;
		if (k->kind != Y_SCALAR)
			return fail(c, k, "%s: keys must be names, found %s", what, kind_name(k));
		if (key_is(k, "<<"))
			continue;
		switch (pairs_has(c, out, k, out->n)) {
		case -1:
			return -1;
		case 1:
			return fail(c, k, "%s: duplicate key %s", what, KEYNAME(k, b));
		}
		pairs_add(out, k, map->kid[i + 1]);
	}
	/* yaml.v2 merges after the mapping's own keys, which win */
	for (i = 0; i + 1 < map->nkid; i += 2) {
		const struct ynode *k = map->kid[i], *v = map->kid[i + 1];

		if (!key_is(k, "<<") || is_null(v))
			continue;
		if (merge_into(c, v, what, out, depth) < 0)
			return -1;
	}
	return 0;
}

/*
 * The key/value pairs of mapping map, `<<` merges flattened; null is an empty
 * mapping. out->p is malloc'd (free it, also after an error).
 */
static int
map_pairs(struct pctx *c, const struct ynode *map, const char *what, struct ypairs *out)
{
	memset(out, 0, sizeof(*out));
	return map_pairs_depth(c, map, what, out, 0);
}

/* List n (null: empty) of at most MF_MAX_ITEMS. Returns -1 (err set) otherwise. */
static int
want_list(struct pctx *c, const struct ynode *n, const char *what)
{
	if (is_null(n))
		return 0;
	if (n->kind != Y_SEQ)
		return fail(c, n, "%s: expected a list, found %s", what, kind_name(n));
	if (n->nkid > MF_MAX_ITEMS)
		return fail(c, n, "%s: more than %d entries", what, MF_MAX_ITEMS);
	return 0;
}

static size_t
list_len(const struct ynode *n)
{
	return is_null(n) ? 0 : n->nkid;
}

/* ---------------------------------------------------------------- names */

static bool
name_ok(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > max || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* Environment variable names: printable, no spaces, no '='; "*" alone is the wildcard. */
static bool
env_key_ok(const char *s)
{
	if (*s == '\0')
		return false;
	if (strcmp(s, "*") == 0)
		return true;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '*')
			return false;
	return true;
}

/* A host name of lower-case labels; the first label may be "*". */
static bool
domain_ok(const char *d)
{
	size_t n = strlen(d), lab = 0, i;

	if (n == 0 || n > 253)
		return false;
	if (strncmp(d, "*.", 2) == 0)
		i = 2;
	else
		i = 0;
	for (; i <= n; i++) {
		char ch = d[i];

		if (ch == '.' || ch == '\0') {
			if (lab == 0 || lab > 63)
				return false;
			lab = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
			ch == '_'))
			return false;
		lab++;
	}
	return true;
}

/* A path inside the app's source: relative, no ".." component. */
static bool
relpath_ok(const char *p)
{
	const char *s = p;

	if (*p == '/')
		return false;
	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return false;
		s += n;
		if (*s == '/')
			s++;
	}
	return true;
}

/* ---------------------------------------------------------------- environment */

/* Parses "K=V", "K" or "*" from scalar n and appends it to *env. */
static int
env_entry(struct pctx *c, const struct ynode *n, const char *what, struct mf_env **env,
    size_t *nenv, size_t *cap)
{
	char *s, *eq, b[SHOWN_MAX];
	struct mf_env *e;
	int r;

	if (n->kind != Y_SCALAR)
		return fail(c, n, "%s: expected KEY=VALUE or KEY, found %s", what, kind_name(n));
	if (*nenv >= MF_MAX_ITEMS)
		return fail(c, n, "%s: more than %d entries", what, MF_MAX_ITEMS);
	r = get_str(c, n, what, &s);
	if (r < 0)
		return -1;
	if (r == 0)
		return fail(c, n, "%s: empty entry; expected KEY=VALUE or KEY", what);
	eq = strchr(s, '=');
	if (eq)
		*eq = '\0';
	if (!env_key_ok(s) || (eq && strcmp(s, "*") == 0)) {
		fail(c, n, "%s: \"%s\" is not a variable name (KEY=VALUE, KEY, or \"*\" for "
			   "all of the app's environment)", what, shown(s, strlen(s), b, sizeof(b)));
		free(s);
		return -1;
	}
	*env = grow(*env, cap, *nenv, sizeof(**env));
	e = &(*env)[(*nenv)++];
	e->key = sdup(s);
	if (eq) {
		e->value = sdup(eq + 1);
		e->has_value = true;
	}
	free(s);
	return 0;
}

/* environment: a list of entries; a nested list (as an alias gives) is flattened once. */
static int
env_list(struct pctx *c, const struct ynode *v, const char *what, struct mf_env **env,
    size_t *nenv)
{
	size_t i, j, cap = *nenv;

	if (want_list(c, v, what) < 0)
		return -1;
	for (i = 0; i < list_len(v); i++) {
		const struct ynode *it = v->kid[i];

		if (!spend(c, it))
			return -1;
		if (it->kind != Y_SEQ) {
			if (env_entry(c, it, what, env, nenv, &cap) < 0)
				return -1;
			continue;
		}
		for (j = 0; j < it->nkid; j++) {
			if (!spend(c, it->kid[j]))
				return -1;
			if (env_entry(c, it->kid[j], what, env, nenv, &cap) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- services */

struct svc {
	struct mf_service *s;
	bool have_count, have_dmin, have_dmax;
	size_t caplinks, capres, capdom;
};

typedef int (*svc_fn)(struct pctx *, struct svc *, const struct ynode *, const struct ynode *);

static void
defer(struct pctx *c, enum dfr_kind kind, const struct ynode *n, const char *name)
{
	c->dfr = grow(c->dfr, &c->capdfr, c->ndfr, sizeof(*c->dfr));
	c->dfr[c->ndfr].kind = kind;
	c->dfr[c->ndfr].n = n;
	c->dfr[c->ndfr].name = name;
	c->ndfr++;
}

/* A list of PORT, PORT/tcp or PORT/udp. */
static int
check_ports(struct pctx *c, const struct ynode *v, const char *what)
{
	size_t i;

	if (want_list(c, v, what) < 0)
		return -1;
	for (i = 0; i < list_len(v); i++) {
		char *s, *slash;
		long long port;
		int bad;

		if (!spend(c, v->kid[i]) || get_str(c, v->kid[i], what, &s) < 0)
			return -1;
		if (s == NULL)
			continue;
		slash = strchr(s, '/');
		if (slash)
			*slash++ = '\0';
		bad = parse_dec(s, &port) < 0 || port < 1 || port > 65535 ||
		    (slash && strcmp(slash, "tcp") != 0 && strcmp(slash, "udp") != 0);
		free(s);
		if (bad)
			return fail(c, v->kid[i], "%s: expected PORT, PORT/tcp or PORT/udp", what);
	}
	return 0;
}

static int
sk_agent(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	struct ypairs ps;
	size_t i;
	int rc = 0;

	(void)k;
	if (is_null(v) || v->kind == Y_SCALAR)
		return get_bool(c, v, "agent", &sv->s->agent) < 0 ? -1 : 0;
	/* Generation 2: agent: {enabled: bool, ports: [8125/udp]} */
	sv->s->agent = true;
	if (map_pairs(c, v, "agent", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		const struct ynode *pk = ps.p[i].k, *pv = ps.p[i].v;
		char b[SHOWN_MAX];

		if (key_is(pk, "enabled")) {
			rc = get_bool(c, pv, "agent.enabled", &sv->s->agent) < 0 ? -1 : 0;
		} else if (key_is(pk, "ports")) {
			rc = check_ports(c, pv, "agent.ports");
		} else {
			rc = fail(c, pk, "agent.%s: unknown key; agent takes enabled and ports",
			    KEYNAME(pk, b));
		}
	}
	free(ps.p);
	return rc;
}

static int
sk_build(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	struct mf_service *s = sv->s;
	struct ypairs ps;
	char b[SHOWN_MAX];
	size_t i;
	int rc = 0;

	(void)k;
	if (is_null(v) || v->kind == Y_SCALAR) {
		if (get_str(c, v, "build", &s->build_path) < 0)
			return -1;
		if (s->build_path && !relpath_ok(s->build_path))
			return fail(c, v, "build: %s is outside the app's source; use a relative "
					  "path without ..", shown(s->build_path, strlen(s->build_path),
					  b, sizeof(b)));
		return 0;
	}
	if (map_pairs(c, v, "build", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		const struct ynode *pk = ps.p[i].k, *pv = ps.p[i].v;
		char **dst = NULL;

		if (key_is(pk, "path"))
			dst = &s->build_path;
		else if (key_is(pk, "manifest"))
			dst = &s->dockerfile;
		else if (key_is(pk, "args"))
			rc = is_set(c, pv) ? env_list(c, pv, "build.args", &s->build_args,
			    &s->nbuild_args) : 0;
		else
			rc = fail(c, pk, "build.%s: unknown key; build takes path, manifest and args",
			    KEYNAME(pk, b));
		if (dst == NULL)
			continue;
		free(*dst);
		if (get_str(c, pv, dst == &s->build_path ? "build.path" : "build.manifest", dst) < 0)
			rc = -1;
		else if (*dst && !relpath_ok(*dst))
			rc = fail(c, pv, "%s: %s is outside the app's source; use a relative path "
					 "without ..", dst == &s->build_path ? "build.path" : "build.manifest",
			    shown(*dst, strlen(*dst), b, sizeof(b)));
	}
	free(ps.p);
	return rc;
}

/* image: the builder pulls it (image.h); it wins over build:, as in Convox. */
static int
sk_image(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	struct mf_service *s = sv->s;
	char b[SHOWN_MAX];

	(void)k;
	if (get_str(c, v, "image", &s->image) < 0)
		return -1;
	if (s->image != NULL && (s->image[0] == '\0' || s->image[0] == '-' ||
	    strpbrk(s->image, " \t\n") != NULL))
		return fail(c, v, "image: %s is not an image name; write one as REGISTRY/NAME:TAG",
		    shown(s->image, strlen(s->image), b, sizeof(b)));
	return 0;
}

/* Appends arg to b, quoted for sh when it needs it. */
static void
sh_quote(char **b, size_t *len, size_t *cap, const char *arg)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_@%+=:,./-";
	size_t n = strlen(arg), need = n * 4 + 4, i;
	bool plain = n > 0 && strspn(arg, safe) == n;

	while (*len + need + 1 > *cap) {
		char *q;

		*cap = *cap ? *cap * 2 : 64;
		q = realloc(*b, *cap);
		if (q == NULL)
			oom();
		*b = q;
	}
	if (*len)
		(*b)[(*len)++] = ' ';
	if (plain) {
		memcpy(*b + *len, arg, n);
		*len += n;
		return;
	}
	(*b)[(*len)++] = '\'';
	for (i = 0; i < n; i++) {
		if (arg[i] == '\'') {
			memcpy(*b + *len, "'\\''", 4);
			*len += 4;
		} else {
			(*b)[(*len)++] = arg[i];
		}
	}
	(*b)[(*len)++] = '\'';
}

static int
sk_command(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	char *b = NULL, *arg;
	size_t len = 0, cap = 0, i;

	(void)k;
	if (is_null(v) || v->kind != Y_SEQ)
		return get_str(c, v, "command", &sv->s->command) < 0 ? -1 : 0;
	/* Generation 2 exec form: [bin/api, start] */
	if (want_list(c, v, "command") < 0)
		return -1;
	for (i = 0; i < v->nkid; i++) {
		const struct ynode *w = v->kid[i];

		if (!spend(c, w))
			goto err;
		if (w->kind != Y_SCALAR) {
			fail(c, w, "command: expected words, found %s", kind_name(w));
			goto err;
		}
		if (get_str(c, w, "command", &arg) < 0)
			goto err;
		if (len > MF_MAX_VALUE) {
			free(arg);
			fail(c, v, "command: longer than %d bytes", MF_MAX_VALUE);
			goto err;
		}
		sh_quote(&b, &len, &cap, arg ? arg : "");
		free(arg);
	}
	if (b) {
		b[len] = '\0';
		sv->s->command = b;
	}
	return 0;
err:
	free(b);
	return -1;
}

static int
add_domain(struct pctx *c, struct svc *sv, const struct ynode *n, const char *d, size_t len)
{
	struct mf_service *s = sv->s;
	char *dom, b[SHOWN_MAX];
	size_t i;

	while (len && isspace((unsigned char)*d)) {
		d++;
		len--;
	}
	while (len && isspace((unsigned char)d[len - 1]))
		len--;
	if (len == 0)
		return 0;
	dom = memdup0(d, len);
	for (i = 0; i < len; i++)
		dom[i] = (char)tolower((unsigned char)dom[i]);
	if (!domain_ok(dom)) {
		fail(c, n, "domain: \"%s\" is not a host name", shown(dom, len, b, sizeof(b)));
		free(dom);
		return -1;
	}
	if (s->ndomains >= MF_MAX_DOMAINS) {
		free(dom);
		return fail(c, n, "domain: more than %d domains", MF_MAX_DOMAINS);
	}
	s->domains = grow(s->domains, &sv->capdom, s->ndomains, sizeof(*s->domains));
	s->domains[s->ndomains++] = dom;
	return 0;
}

static int
sk_domain(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	size_t i;

	(void)k;
	if (is_null(v) || v->kind == Y_SCALAR) {
		char *s, *p;
		int rc = 0;

		if (get_str(c, v, "domain", &s) <= 0)
			return c->failed ? -1 : 0;
		for (p = s; rc == 0;) {
			size_t n = strcspn(p, ",");

			rc = add_domain(c, sv, v, p, n);
			if (p[n] == '\0')
				break;
			p += n + 1;
		}
		free(s);
		return rc;
	}
	if (want_list(c, v, "domain") < 0)
		return -1;
	for (i = 0; i < v->nkid; i++) {
		char *s;
		int rc;

		if (!spend(c, v->kid[i]))
			return -1;
		if (get_str(c, v->kid[i], "domain", &s) < 0)
			return -1;
		rc = s ? add_domain(c, sv, v->kid[i], s, strlen(s)) : 0;
		free(s);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int
sk_environment(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	(void)k;
	return env_list(c, v, "environment", &sv->s->env, &sv->s->nenv);
}

static int
check_health_path(struct pctx *c, const struct ynode *n, const char *what, const char *p)
{
	const char *s;

	if (p[0] != '/' || strlen(p) > 1024)
		return fail(c, n, "%s: a health check path starts with / (at most 1024 bytes)",
		    what);
	for (s = p; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return fail(c, n, "%s: a health check path is printable ASCII without spaces",
			    what);
	return 0;
}

static int
sk_health(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	struct mf_service *s = sv->s;
	struct ypairs ps;
	size_t i;
	int rc = 0;

	(void)k;
	if (is_null(v) || v->kind == Y_SCALAR) {
		if (get_str(c, v, "health", &s->health_path) < 0)
			return -1;
		return s->health_path ? check_health_path(c, v, "health", s->health_path) : 0;
	}
	if (map_pairs(c, v, "health", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		const struct ynode *pk = ps.p[i].k, *pv = ps.p[i].v;
		char b[SHOWN_MAX];

		if (key_is(pk, "path")) {
			free(s->health_path);
			rc = get_str(c, pv, "health.path", &s->health_path) < 0 ? -1 : 0;
			if (rc == 0 && s->health_path)
				rc = check_health_path(c, pv, "health.path", s->health_path);
		} else if (key_is(pk, "grace")) {
			rc = get_int(c, pv, "health.grace", 0, MF_MAX_SECONDS, &s->health_grace);
		} else if (key_is(pk, "interval")) {
			rc = get_int(c, pv, "health.interval", 0, MF_MAX_SECONDS, &s->health_interval);
		} else if (key_is(pk, "timeout")) {
			rc = get_int(c, pv, "health.timeout", 0, MF_MAX_SECONDS, &s->health_timeout);
		} else if (key_is(pk, "disable")) {
			rc = get_bool(c, pv, "health.disable", &s->health_disabled);
		} else if (key_is(pk, "port")) {
			rc = fail(c, pk, "health.port: health checks go to the process's PORT; the "
					 "local provider gives each process one");
		} else {
			rc = fail(c, pk, "health.%s: unknown key; health takes path, grace, interval, "
					 "timeout and disable", KEYNAME(pk, b));
		}
		rc = rc < 0 ? -1 : 0;
	}
	free(ps.p);
	return rc;
}

static int
sk_bool(struct pctx *c, const struct ynode *k, const struct ynode *v, bool *out)
{
	char b[SHOWN_MAX];

	return get_bool(c, v, KEYNAME(k, b), out) < 0 ? -1 : 0;
}

static int
sk_internal(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	return sk_bool(c, k, v, &sv->s->internal);
}

static int
sk_internal_router(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	return sk_bool(c, k, v, &sv->s->internal_router);
}

static int
sk_grpc_health(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	return sk_bool(c, k, v, &sv->s->grpc_health);
}

static int
sk_singleton(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	return sk_bool(c, k, v, &sv->s->singleton);
}

static int
sk_sticky(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	return sk_bool(c, k, v, &sv->s->sticky);
}

/* tls: {redirect: BOOL}, as in Convox. */
static int
sk_tls(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	struct ypairs ps;
	size_t i;
	int rc = 0;

	(void)k;
	if (map_pairs(c, v, "tls", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		char b[SHOWN_MAX];

		if (key_is(ps.p[i].k, "redirect"))
			rc = get_bool(c, ps.p[i].v, "tls.redirect", &sv->s->tls_redirect) < 0 ? -1 : 0;
		else
			rc = fail(c, ps.p[i].k, "tls.%s: unknown key; tls takes redirect",
			    KEYNAME(ps.p[i].k, b));
	}
	free(ps.p);
	return rc;
}

static int
sk_labels(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	(void)sv;
	if (is_null(v))
		return 0;
	if (v->kind == Y_MAP) {
		notice(c, k, "labels", "Kubernetes labels");
		return 0;
	}
	if (v->kind == Y_SEQ)
		return fail(c, k, "labels: a list of labels is Convox Generation 1 "
				  "(docker-compose) syntax; convox.yml labels are a mapping");
	return fail(c, v, "labels: expected a mapping, found %s", kind_name(v));
}

static int
sk_links(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	struct mf_service *s = sv->s;
	size_t i;

	(void)k;
	if (want_list(c, v, "links") < 0)
		return -1;
	for (i = 0; i < list_len(v); i++) {
		char *name;

		if (!spend(c, v->kid[i]) || get_str(c, v->kid[i], "links", &name) < 0)
			return -1;
		if (name == NULL)
			continue;
		s->links = grow(s->links, &sv->caplinks, s->nlinks, sizeof(*s->links));
		s->links[s->nlinks++] = name;
		defer(c, DFR_LINK, v->kid[i], name);
	}
	return 0;
}

/* Sets *scheme from text t (http, https or grpc, any case); others are refused. */
static int
set_scheme(struct pctx *c, const struct ynode *n, const char *what, const char *t, size_t len,
    char **scheme)
{
	char *sch = memdup0(t, len), b[SHOWN_MAX];
	size_t i;

	for (i = 0; i < len; i++)
		sch[i] = (char)tolower((unsigned char)sch[i]);
	if (strcmp(sch, "http") != 0 && strcmp(sch, "https") != 0 && strcmp(sch, "grpc") != 0) {
		fail(c, n, "%s: scheme \"%s\" is not http, https or grpc", what,
		    shown(sch, len, b, sizeof(b)));
		free(sch);
		return -1;
	}
	free(*scheme);
	*scheme = sch;
	return 0;
}

/* "3000", "http:3000", "https:3000" or "grpc:3000" into *port and *scheme. */
static int
port_text(struct pctx *c, const struct ynode *n, const char *what, const char *t, int *port,
    char **scheme)
{
	const char *colon = strchr(t, ':'), *num = colon ? colon + 1 : t;
	char b[SHOWN_MAX];
	long long v;

	if (colon && set_scheme(c, n, what, t, (size_t)(colon - t), scheme) < 0)
		return -1;
	if (parse_dec(num, &v) < 0 || v < 1 || v > 65535)
		return fail(c, n, "%s: expected a port from 1 to 65535, http:PORT, https:PORT or "
				  "grpc:PORT, "
				  "found \"%s\"", what, shown(t, strlen(t), b, sizeof(b)));
	*port = (int)v;
	return 0;
}

static int
sk_port(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	struct mf_service *s = sv->s;
	const struct ynode *portn = NULL, *schemen = NULL;
	struct ypairs ps;
	char *t;
	size_t i;
	int rc = 0, r;

	(void)k;
	if (is_null(v) || v->kind != Y_MAP) {
		r = get_str(c, v, "port", &t);
		if (r <= 0)
			return r;
		rc = port_text(c, v, "port", t, &s->port, &s->port_scheme);
		free(t);
		return rc;
	}
	/* port: {port: 3000, scheme: https} */
	if (map_pairs(c, v, "port", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		const struct ynode *pk = ps.p[i].k;
		char b[SHOWN_MAX];

		if (key_is(pk, "port"))
			portn = ps.p[i].v;
		else if (key_is(pk, "scheme"))
			schemen = ps.p[i].v;
		else
			rc = fail(c, pk, "port.%s: unknown key; port takes port and scheme",
			    KEYNAME(pk, b));
	}
	free(ps.p);
	if (rc < 0)
		return -1;
	r = get_str(c, portn, "port.port", &t);
	if (r < 0)
		return -1;
	if (r == 0)
		return fail(c, v, "port: needs port.port");
	rc = port_text(c, portn, "port.port", t, &s->port, &s->port_scheme);
	free(t);
	if (rc < 0)
		return -1;
	r = get_str(c, schemen, "port.scheme", &t);
	if (r <= 0)
		return r;
	rc = set_scheme(c, schemen, "port.scheme", t, strlen(t), &s->port_scheme);
	free(t);
	return rc;
}

/* ports: extra ports the app opens itself: checked, not published. */
static int
sk_ports(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	(void)sv;
	if (check_ports(c, v, "ports") < 0)
		return -1;
	if (list_len(v) > 0)
		notice(c, k, "ports", "extra ports the process opens: checked, not published");
	return 0;
}

/* resources: [name, name:ENV]: each makes ENV (default NAME_URL) required. */
static int
sk_resources(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	struct mf_service *s = sv->s;
	size_t i;

	(void)k;
	if (want_list(c, v, "resources") < 0)
		return -1;
	for (i = 0; i < list_len(v); i++) {
		struct mf_resource_ref *r;
		char *t, *colon, *env, b[SHOWN_MAX];

		if (!spend(c, v->kid[i]) || get_str(c, v->kid[i], "resources", &t) < 0)
			return -1;
		if (t == NULL)
			continue;
		colon = strchr(t, ':');
		if (colon) {
			size_t n;

			*colon++ = '\0';
			while (isspace((unsigned char)*colon))
				colon++;
			n = strlen(colon);
			while (n && isspace((unsigned char)colon[n - 1]))
				colon[--n] = '\0';
			env = sdup(colon);
		} else {
			size_t j;

			env = zalloc(strlen(t) + sizeof("_URL"));
			for (j = 0; t[j]; j++)
				env[j] = t[j] == '-' ? '_' : (char)toupper((unsigned char)t[j]);
			memcpy(env + j, "_URL", sizeof("_URL"));
		}
		if (!name_ok(t, MF_MAX_RESNAME) || !env_key_ok(env) || strcmp(env, "*") == 0) {
			fail(c, v->kid[i], "resources: expected NAME or NAME:VARIABLE, found \"%s\"",
			    KEYNAME(v->kid[i], b));
			free(t);
			free(env);
			return -1;
		}
		s->resources = grow(s->resources, &sv->capres, s->nresources, sizeof(*s->resources));
		r = &s->resources[s->nresources++];
		r->name = t;
		r->env = env;
		defer(c, DFR_RESOURCE, v->kid[i], r->name);
	}
	return 0;
}

/* "3", "1-3" into min and max. */
static int
count_text(struct pctx *c, const struct ynode *n, const char *what, const char *t, int *min,
    int *max)
{
	const char *dash = t[0] ? strchr(t + 1, '-') : NULL;
	char b[SHOWN_MAX];
	long long lo, hi;
	int bad;

	if (dash) {
		char *a = memdup0(t, (size_t)(dash - t));

		bad = parse_dec(a, &lo) < 0 || parse_dec(dash + 1, &hi) < 0;
		free(a);
	} else {
		bad = parse_dec(t, &lo) < 0;
		hi = lo;
	}
	if (bad || lo < 0 || hi < 0 || lo > MF_MAX_SCALE || hi > MF_MAX_SCALE)
		return fail(c, n, "%s: expected a count from 0 to %d or a range MIN-MAX, found "
				  "\"%s\"", what, MF_MAX_SCALE, shown(t, strlen(t), b, sizeof(b)));
	if (lo > hi)
		return fail(c, n, "%s: the minimum %lld is above the maximum %lld", what, lo, hi);
	*min = (int)lo;
	*max = (int)hi;
	return 0;
}

/* min/max of a mapping: a missing min is 1 (or max, if smaller), a missing max is min. */
static int
min_max(struct pctx *c, const struct ynode *at, const char *what, const struct ynode *minn,
    const struct ynode *maxn, int *min, int *max)
{
	char w[64];
	int lo = 0, hi = 0, rlo, rhi;

	snprintf(w, sizeof(w), "%s.min", what);
	rlo = get_int(c, minn, w, 0, MF_MAX_SCALE, &lo);
	if (rlo < 0)
		return -1;
	snprintf(w, sizeof(w), "%s.max", what);
	rhi = get_int(c, maxn, w, 0, MF_MAX_SCALE, &hi);
	if (rhi < 0)
		return -1;
	if (rlo == 0)
		lo = rhi == 1 && hi < 1 ? hi : 1;
	if (rhi == 0)
		hi = lo;
	if (lo > hi)
		return fail(c, at, "%s: the minimum %d is above the maximum %d", what, lo, hi);
	*min = lo;
	*max = hi;
	return 0;
}

static int
count_value(struct pctx *c, const struct ynode *n, const char *what, int *min, int *max)
{
	struct ypairs ps;
	const struct ynode *minn = NULL, *maxn = NULL;
	size_t i;
	char *t;
	int rc = 0, r;

	if (is_null(n) || n->kind != Y_MAP) {
		r = get_str(c, n, what, &t);
		if (r <= 0)
			return r;
		rc = count_text(c, n, what, t, min, max);
		free(t);
		return rc < 0 ? -1 : 1;
	}
	if (map_pairs(c, n, what, &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		char b[SHOWN_MAX];

		if (key_is(ps.p[i].k, "min"))
			minn = ps.p[i].v;
		else if (key_is(ps.p[i].k, "max"))
			maxn = ps.p[i].v;
		else
			rc = fail(c, ps.p[i].k, "%s.%s: unknown key; expected min and max", what,
			    KEYNAME(ps.p[i].k, b));
	}
	free(ps.p);
	if (rc < 0 || min_max(c, n, what, minn, maxn, min, max) < 0)
		return -1;
	return 1;
}

/* scale.targets: {cpu: PERCENT, memory: PERCENT}, each 1-1000. 0 or -1. */
static int
scale_targets(struct pctx *c, struct mf_service *s, const struct ynode *v)
{
	struct ypairs ps;
	char b[SHOWN_MAX];
	int rc = 0;

	if (is_null(v))
		return 0;
	if (v->kind != Y_MAP)
		return fail(c, v, "scale.targets must be a map like {cpu: 70, memory: 80} (percent "
				  "of the request)");
	if (map_pairs(c, v, "scale.targets", &ps) < 0) {
		free(ps.p);
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < ps.n; i++) {
		const struct ynode *pk = ps.p[i].k;

		if (key_is(pk, "cpu"))
			rc = get_int(c, ps.p[i].v, "scale.targets.cpu", 1, 1000, &s->target_cpu);
		else if (key_is(pk, "memory"))
			rc = get_int(c, ps.p[i].v, "scale.targets.memory", 1, 1000,
			    &s->target_memory);
		else if (key_is(pk, "requests") || key_is(pk, "custom") || key_is(pk, "external"))
			;       /* Convox's metrics-server and KEDA targets: not rendered yet */
		else
			rc = fail(c, pk, "scale.targets.%s: unknown key; targets takes cpu and memory "
					 "(percent of the request), requests, custom and external",
			    KEYNAME(pk, b));
		rc = rc < 0 ? -1 : 0;
	}
	free(ps.p);
	return rc;
}

static int
sk_scale(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	static const char *const ignored[][2] = {
		{ "gpu", "sizing" },
		{ "limit", "sizing" }, { "autoscale", "autoscaling" },
		{ "keda", "autoscaling" }, { "vpa", "autoscaling" }, { "cooldown", "autoscaling" },
	};
	struct mf_service *s = sv->s;
	const struct ynode *countn = NULL, *minn = NULL, *maxn = NULL;
	struct ypairs ps;
	size_t i, j;
	int rc = 0, r;

	(void)k;
	if (is_null(v) || v->kind != Y_MAP) {
		r = count_value(c, v, "scale", &s->scale_min, &s->scale_max);
		if (r > 0)
			sv->have_count = true;
		return r < 0 ? -1 : 0;
	}
	if (map_pairs(c, v, "scale", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		const struct ynode *pk = ps.p[i].k;
		char b[SHOWN_MAX];
		bool known = false;

		if (key_is(pk, "count"))
			countn = ps.p[i].v;
		else if (key_is(pk, "cpu")) {
			rc = get_int(c, ps.p[i].v, "scale.cpu", 0, 1 << 20, &s->scale_cpu) < 0 ? -1 : 0;
			s->scale_cpu_set = true;
		} else if (key_is(pk, "memory"))
			rc = get_int(c, ps.p[i].v, "scale.memory", 0, 1 << 24, &s->scale_memory) < 0 ? -1 : 0;
		else if (key_is(pk, "targets")) {
			/* Read for Kubernetes racks' autoscalers; a local rack does
			 * not autoscale, and says so. */
			notice(c, pk, "scale.targets", "autoscaling");
			rc = scale_targets(c, s, ps.p[i].v);
		} else if (key_is(pk, "min"))
			minn = ps.p[i].v;
		else if (key_is(pk, "max"))
			maxn = ps.p[i].v;
		else {
			for (j = 0; !known && j < sizeof(ignored) / sizeof(ignored[0]); j++) {
				if (key_is(pk, ignored[j][0])) {
					char name[32];

					snprintf(name, sizeof(name), "scale.%s", ignored[j][0]);
					notice(c, pk, name, ignored[j][1]);
					known = true;
				}
			}
			if (!known)
				rc = fail(c, pk, "scale.%s: unknown key; scale takes count (or min and "
						 "max), cpu, memory, gpu, limit, targets, autoscale, keda, "
						 "vpa and cooldown", KEYNAME(pk, b));
		}
	}
	free(ps.p);
	if (rc < 0)
		return -1;
	if (!is_null(countn) && (!is_null(minn) || !is_null(maxn)))
		return fail(c, v, "scale: give count or min and max, not both");
	if (!is_null(minn) || !is_null(maxn)) {
		if (min_max(c, v, "scale", minn, maxn, &s->scale_min, &s->scale_max) < 0)
			return -1;
		sv->have_count = true;
		return 0;
	}
	r = count_value(c, countn, "scale.count", &s->scale_min, &s->scale_max);
	if (r > 0)
		sv->have_count = true;
	return r < 0 ? -1 : 0;
}

static int
sk_deployment(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	struct ypairs ps;
	size_t i;
	int rc = 0, r;

	(void)k;
	if (map_pairs(c, v, "deployment", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		const struct ynode *pk = ps.p[i].k, *pv = ps.p[i].v;
		char b[SHOWN_MAX];

		if (key_is(pk, "minimum")) {
			r = get_int(c, pv, "deployment.minimum", 0, 100, &sv->s->deploy_min);
			sv->have_dmin = sv->have_dmin || r > 0;
		} else if (key_is(pk, "maximum")) {
			r = get_int(c, pv, "deployment.maximum", 100, 200, &sv->s->deploy_max);
			sv->have_dmax = sv->have_dmax || r > 0;
		} else if (key_is(pk, "progressDeadline")) {
			r = get_int(c, pv, "deployment.progressDeadline", 0, 86400,
			    &sv->s->progress_deadline);
		} else {
			r = fail(c, pk, "deployment.%s: unknown key; deployment takes minimum, "
					"maximum and progressDeadline", KEYNAME(pk, b));
		}
		rc = r < 0 ? -1 : 0;
	}
	free(ps.p);
	return rc;
}

static int
sk_termination(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	struct ypairs ps;
	size_t i;
	int rc = 0;

	(void)k;
	if (map_pairs(c, v, "termination", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		char b[SHOWN_MAX];

		if (key_is(ps.p[i].k, "grace"))
			rc = get_int(c, ps.p[i].v, "termination.grace", 0, MF_MAX_SECONDS,
			    &sv->s->termination_grace) < 0 ? -1 : 0;
		else
			rc = fail(c, ps.p[i].k, "termination.%s: unknown key; termination takes "
						"grace", KEYNAME(ps.p[i].k, b));
	}
	free(ps.p);
	return rc;
}

static int
sk_timeout(struct pctx *c, struct svc *sv, const struct ynode *k, const struct ynode *v)
{
	(void)k;
	return get_int(c, v, "timeout", 0, MF_MAX_SECONDS, &sv->s->timeout) < 0 ? -1 : 0;
}

enum key_class {
	K_HONOUR,       /* fn reads it */
	K_IGNORE,       /* accepted, not looked at */
	K_REFUSE,       /* refused whatever its value */
	K_REFUSE_SET,   /* refused unless null, false or empty */
};

struct key_rule {
	const char *name;
	enum key_class class;
	svc_fn fn;
	const char *why;            /* K_REFUSE*: the message after "KEY: ";
	                               K_IGNORE: what the key is for, in its notice */
};

/* Service keys; the table at the top of the file says why. */
static const struct key_rule svc_rules[] = {
	{ "accessControl", K_IGNORE, NULL, "access control" },
	{ "agent", K_HONOUR, sk_agent, NULL },
	{ "annotations", K_IGNORE, NULL, "Kubernetes annotations" },
	{ "build", K_HONOUR, sk_build, NULL },
	{ "certificate", K_IGNORE, NULL, "certificates are the rack's: cx certs, cx ssl" },
	{ "command", K_HONOUR, sk_command, NULL },
	{ "configMounts", K_REFUSE_SET, NULL,
	    "the local provider runs processes without containers and cannot mount files" },
	{ "deployment", K_HONOUR, sk_deployment, NULL },
	{ "disableHostUsers", K_IGNORE, NULL, "Kubernetes user namespaces" },
	{ "dnsConfig", K_IGNORE, NULL, "Kubernetes DNS settings" },
	{ "domain", K_HONOUR, sk_domain, NULL },
	{ "drain", K_IGNORE, NULL, "load balancer draining; termination.grace applies" },
	{ "environment", K_HONOUR, sk_environment, NULL },
	{ "grpcHealthEnabled", K_HONOUR, sk_grpc_health, NULL },
	{ "health", K_HONOUR, sk_health, NULL },
	{ "image", K_HONOUR, sk_image, NULL },
	{ "imagePullSecrets", K_IGNORE, NULL, "registry credentials" },
	{ "ingressAnnotations", K_IGNORE, NULL, "ingress annotations" },
	{ "init", K_IGNORE, NULL, "a PID 1 shim; the supervisor reaps" },
	{ "initContainer", K_REFUSE_SET, NULL,
	    "needs an image, and the local provider has no registry" },
	{ "internal", K_HONOUR, sk_internal, NULL },
	{ "internalRouter", K_HONOUR, sk_internal_router, NULL },
	{ "labels", K_HONOUR, sk_labels, NULL },
	{ "lifecycle", K_REFUSE_SET, NULL,
	    "preStop and postStart hooks are not run by the local provider" },
	{ "links", K_HONOUR, sk_links, NULL },
	{ "liveness", K_IGNORE, NULL, "Kubernetes liveness probe; health checks still apply" },
	{ "nlb", K_REFUSE_SET, NULL,
	    "TCP load balancers on public ports are not provided; the routers serve HTTP" },
	{ "nodeAffinityLabels", K_IGNORE, NULL, "node scheduling" },
	{ "nodeSelectorLabels", K_IGNORE, NULL, "node scheduling" },
	{ "port", K_HONOUR, sk_port, NULL },
	{ "ports", K_HONOUR, sk_ports, NULL },
	{ "privileged", K_REFUSE_SET, NULL,
	    "the local provider never runs app processes with privileges" },
	{ "resources", K_HONOUR, sk_resources, NULL },
	{ "scale", K_HONOUR, sk_scale, NULL },
	{ "securityContext", K_IGNORE, NULL, "Kubernetes security settings; processes run unprivileged" },
	{ "singleton", K_HONOUR, sk_singleton, NULL },
	{ "startupProbe", K_IGNORE, NULL, "Kubernetes startup probe; health checks still apply" },
	{ "sticky", K_HONOUR, sk_sticky, NULL },
	{ "termination", K_HONOUR, sk_termination, NULL },
	{ "test", K_IGNORE, NULL, "convox test" },
	{ "timeout", K_HONOUR, sk_timeout, NULL },
	{ "tls", K_HONOUR, sk_tls, NULL },
	{ "volumeOptions", K_REFUSE_SET, NULL,
	    "the local provider runs processes without containers and cannot mount volumes" },
	{ "volumes", K_REFUSE_SET, NULL,
	    "the local provider runs processes without containers and cannot mount volumes" },
	{ "whitelist", K_REFUSE_SET, NULL,
	    "per-service source allow lists are not enforced by the local routers; use "
	    "internal: true or internalRouter: true" },
};

static const struct key_rule *
rule_find(const struct key_rule *rules, size_t n, const struct ynode *k)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (key_is(k, rules[i].name))
			return &rules[i];
	return NULL;
}

/* Applies rule r (NULL: unknown key) to k: v. Returns 1 when r->fn must read it. */
static int
rule_check(struct pctx *c, const struct key_rule *r, const struct ynode *k,
    const struct ynode *v, const char *section)
{
	char b[SHOWN_MAX];

	if (r == NULL)
		return fail(c, k, "%s: unknown %s key", KEYNAME(k, b), section);
	switch (r->class) {
	case K_REFUSE:
		return fail(c, k, "%s: %s", r->name, r->why);
	case K_REFUSE_SET:
		if (is_set(c, v))
			return fail(c, k, "%s: %s", r->name, r->why);
		return c->failed ? -1 : 0;
	case K_IGNORE:
		notice(c, k, r->name, r->why);
		return 0;
	default:
		return 1;
	}
}

static int
parse_service(struct pctx *c, const struct ynode *k, const struct ynode *v, struct mf_service *s)
{
	struct svc sv = { .s = s };
	struct ypairs ps;
	char b[SHOWN_MAX];
	size_t i;
	int rc = 0;

	s->tls_redirect = true;	/* Convox's default; tls.redirect: false turns it off */
	s->name = memdup0(k->text, k->len);
	if (strlen(s->name) != k->len || !name_ok(s->name, MF_MAX_NAME))
		return fail(c, k, "service name %s: use up to %d lowercase letters, digits and "
				  "dashes, starting with a letter", KEYNAME(k, b), MF_MAX_NAME);
	if (map_pairs(c, v, s->name, &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		const struct key_rule *r = rule_find(svc_rules, sizeof(svc_rules) /
		    sizeof(svc_rules[0]), ps.p[i].k);

		rc = rule_check(c, r, ps.p[i].k, ps.p[i].v, "service");
		if (rc > 0)
			rc = r->fn(c, &sv, ps.p[i].k, ps.p[i].v);
		rc = rc < 0 ? -1 : 0;
	}
	free(ps.p);
	if (rc < 0)
		return -1;

	if (s->internal && s->internal_router)
		return fail(c, k, "%s: internal and internalRouter cannot both be true", s->name);

	/* Convox's defaults */
	if (s->build_path == NULL)
		s->build_path = sdup(".");
	if (s->dockerfile == NULL)
		s->dockerfile = sdup("Dockerfile");
	if (s->port_scheme == NULL)
		s->port_scheme = sdup("http");
	if (s->health_path == NULL)
		s->health_path = sdup("/");
	if (s->health_interval == 0)
		s->health_interval = 5;
	if (s->health_grace == 0)
		s->health_grace = s->health_interval;
	if (s->health_timeout == 0)
		s->health_timeout = s->health_interval > 1 ? s->health_interval - 1 : 1;
	if (!sv.have_count)
		s->scale_min = s->scale_max = 1;
	if (s->agent)
		s->scale_min = s->scale_max = 1; /* one per node; a rack is one node */
	s->scale_count = s->scale_min;
	if (s->timeout == 0)
		s->timeout = 60;
	if (!sv.have_dmin)
		s->deploy_min = s->agent || s->singleton ? 0 : 50;
	if (!sv.have_dmax)
		s->deploy_max = s->agent || s->singleton ? 100 : 200;
	return 0;
}

/* ---------------------------------------------------------------- top level */

typedef int (*top_fn)(struct pctx *, const struct ynode *, const struct ynode *);

static int
tk_environment(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	(void)k;
	return env_list(c, v, "environment", &c->m->env, &c->m->nenv);
}

static int
tk_services(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	struct manifest *m = c->m;
	struct ypairs ps;
	size_t i, cap = 0;
	int rc = 0;

	(void)k;
	if (map_pairs(c, v, "services", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		struct mf_service *s;

		m->services = grow(m->services, &cap, m->nservices, sizeof(*m->services));
		s = &m->services[m->nservices++];
		/* termination.grace: absent means 30, an explicit 0 stays 0 */
		s->termination_grace = 30;
		s->scale_cpu = 250;      /* Convox's defaults */
		s->scale_memory = 512;
		rc = parse_service(c, ps.p[i].k, ps.p[i].v, s);
	}
	free(ps.p);
	return rc;
}

/* resources.NAME.options: each checked by the resource module (resource.h);
 * one a single host cannot honour is named in a notice. */
static int
resource_options(struct pctx *c, const struct mf_resource *r, const struct ynode *v)
{
	struct ypairs op = { 0 };
	char what[160], b[SHOWN_MAX], note[256], e[512];
	int rc = 0;

	snprintf(what, sizeof(what), "resources.%s.options", r->name);
	if (map_pairs(c, v, what, &op) < 0) {
		free(op.p);     /* what it gathered before the failure */
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < op.n; i++) {
		char *val = NULL;

		snprintf(what, sizeof(what), "resources.%s.options.%s", r->name, KEYNAME(op.p[i].k, b));
		if (get_str(c, op.p[i].v, what, &val) < 0) {
			rc = -1;
			break;
		}
		if (val == NULL)
			continue;       /* empty after interpolation: absent */
		if (resource_option_check(r->type, KEYNAME(op.p[i].k, b), val, note, sizeof(note), e,
		    sizeof(e)) == -1)
			rc = fail(c, op.p[i].k, "resources.%s.%s", r->name, e);
		else if (note[0] != '\0')
			notice(c, op.p[i].k, what, note);
		free(val);
	}
	free(op.p);
	return rc;
}

static int
tk_resources(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	struct manifest *m = c->m;
	struct ypairs ps, rp = { 0 };
	const struct ynode *optn = NULL;
	size_t i, j, cap = 0;
	char e[512];
	int rc = 0;

	(void)k;
	if (map_pairs(c, v, "resources", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		const struct ynode *rk = ps.p[i].k;
		const struct ynode *typen = NULL;
		struct mf_resource *r;
		char b[SHOWN_MAX];

		m->resources = grow(m->resources, &cap, m->nresources, sizeof(*m->resources));
		r = &m->resources[m->nresources++];
		r->name = memdup0(rk->text, rk->len);
		if (strlen(r->name) != rk->len || !name_ok(r->name, MF_MAX_RESNAME)) {
			rc = fail(c, rk, "resource name %s: use lowercase letters, digits and dashes, "
					 "starting with a letter", KEYNAME(rk, b));
			break;
		}
		free(rp.p);
		if (map_pairs(c, ps.p[i].v, r->name, &rp) < 0) {
			rc = -1;
			break;
		}
		for (j = 0; rc == 0 && j < rp.n; j++) {
			if (key_is(rp.p[j].k, "type"))
				typen = rp.p[j].v;
			else if (key_is(rp.p[j].k, "options"))
				optn = rp.p[j].v;
			else
				rc = fail(c, rp.p[j].k, "resources.%s.%s: unknown key; a resource takes "
							"type and options", r->name, KEYNAME(rp.p[j].k, b));
		}
		if (rc == 0 && get_str(c, typen, "type", &r->type) < 0)
			rc = -1;
		else if (rc == 0 && r->type == NULL)
			rc = fail(c, rk, "resources.%s: needs a type", r->name);
		else if (rc == 0 && resource_type_check(r->type, e, sizeof(e)) == -1)
			rc = fail(c, typen, "resources.%s.type: %s", r->name, e);
		if (rc == 0 && !is_null(optn))
			rc = resource_options(c, r, optn);
		optn = NULL;
	}
	free(rp.p);
	free(ps.p);
	return rc;
}

/* Convox v3 cron: AWS "?" becomes "*", a sixth (year) field is dropped. */
static int
timer_schedule(struct pctx *c, const struct ynode *n, const char *name, char *sched,
    char **out)
{
	char *f[6], *save = NULL, *p, *o, *w;
	size_t nf = 0, i, len = 0;

	for (p = strtok_r(sched, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (nf == 6)
			break;
		f[nf++] = p;
	}
	if (nf < 5 || p != NULL)
		return fail(c, n, "timers.%s.schedule: expected five cron fields (minute hour day "
				  "month weekday)", name);
	if (nf > 5)
		nf = 5;
	for (i = 0; i < nf; i++)
		len += strlen(f[i]) + 1;
	o = zalloc(len);     /* each field and a space or the NUL */
	for (i = 0, w = o; i < nf; i++) {
		const char *fi = strcmp(f[i], "?") == 0 ? "*" : f[i];
		size_t fl = strlen(fi);

		if (i)
			*w++ = ' ';
		memcpy(w, fi, fl);
		w += fl;
	}
	*w = '\0';
	*out = o;
	return 0;
}

static int
tk_timers(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	struct manifest *m = c->m;
	struct ypairs ps, tp = { 0 };
	size_t i, j, cap = 0;
	int rc = 0;

	(void)k;
	if (map_pairs(c, v, "timers", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		const struct ynode *tk = ps.p[i].k, *schedn = NULL, *servn = NULL;
		struct mf_timer *t;
		char b[SHOWN_MAX], *sched = NULL;

		m->timers = grow(m->timers, &cap, m->ntimers, sizeof(*m->timers));
		t = &m->timers[m->ntimers++];
		t->name = memdup0(tk->text, tk->len);
		if (strlen(t->name) != tk->len || !name_ok(t->name, MF_MAX_RESNAME)) {
			rc = fail(c, tk, "timer name %s: use lowercase letters, digits and dashes, "
					 "starting with a letter", KEYNAME(tk, b));
			break;
		}
		free(tp.p);
		if (map_pairs(c, ps.p[i].v, t->name, &tp) < 0) {
			rc = -1;
			break;
		}
		for (j = 0; rc == 0 && j < tp.n; j++) {
			const struct ynode *pk = tp.p[j].k, *pv = tp.p[j].v;

			if (key_is(pk, "command")) {
				free(t->command);
				rc = get_str(c, pv, "command", &t->command);
			} else if (key_is(pk, "schedule")) {
				free(sched);
				schedn = pv;
				rc = get_str(c, pv, "schedule", &sched);
			} else if (key_is(pk, "service")) {
				free(t->service);
				servn = pv;
				rc = get_str(c, pv, "service", &t->service);
			} else if (key_is(pk, "concurrency")) {
				free(t->concurrency);
				rc = get_str(c, pv, "concurrency", &t->concurrency);
			} else if (!key_is(pk, "annotations") && !key_is(pk, "parallelCount")) {
				rc = fail(c, pk, "timers.%s.%s: unknown key; a timer takes command, "
						 "schedule, service and concurrency", t->name, KEYNAME(pk, b));
			}
			rc = rc < 0 ? -1 : 0;
		}
		if (rc == 0 && (t->command == NULL || sched == NULL || t->service == NULL))
			rc = fail(c, tk, "timers.%s: needs command, schedule and service", t->name);
		if (rc == 0)
			rc = timer_schedule(c, schedn, t->name, sched, &t->schedule);
		if (rc == 0)
			defer(c, DFR_TIMER, servn, t->service);
		free(sched);
	}
	free(tp.p);
	free(ps.p);
	return rc;
}

struct top_rule {
	const char *name;
	enum key_class class;
	top_fn fn;
	const char *why;
};

static const struct top_rule top_rules[] = {
	{ "appSettings", K_IGNORE, NULL, "CloudWatch log retention" },
	{ "balancers", K_REFUSE_SET, NULL,
	    "extra TCP load balancers on public ports are not provided; the routers serve "
	    "HTTP on each service's port" },
	{ "budget", K_IGNORE, NULL, "cloud cost caps" },
	{ "configs", K_REFUSE_SET, NULL,
	    "the local provider runs processes without containers and cannot mount files" },
	{ "environment", K_HONOUR, tk_environment, NULL },
	{ "labels", K_IGNORE, NULL, "Kubernetes labels" },
	{ "params", K_IGNORE, NULL, "cloud provider parameters" },
	{ "resources", K_HONOUR, tk_resources, NULL },
	{ "services", K_HONOUR, tk_services, NULL },
	{ "timers", K_HONOUR, tk_timers, NULL },
	{ "version", K_IGNORE, NULL, "a docker-compose leftover" },
	{ "workflows", K_IGNORE, NULL, "Convox Console CI" },
};

/* References that need the whole file: links, resources, timers' services. */
static int
check_deferred(struct pctx *c)
{
	const struct manifest *m = c->m;
	size_t i, j;

	for (i = 0; i < c->ndfr; i++) {
		const struct deferred *d = &c->dfr[i];
		char b[SHOWN_MAX];

		if (!spend_n(c, d->n, m->nservices + m->nresources))
			return -1;
		switch (d->kind) {
		case DFR_LINK:
		case DFR_TIMER:
			if (manifest_service(m, d->name) == NULL)
				return fail(c, d->n, "%s: no service named %s",
				    d->kind == DFR_LINK ? "links" : "service",
				    shown(d->name, strlen(d->name), b, sizeof(b)));
			break;
		case DFR_RESOURCE:
			for (j = 0; j < m->nresources; j++)
				if (strcmp(m->resources[j].name, d->name) == 0)
					break;
			if (j == m->nresources)
				return fail(c, d->n, "resources: no resource named %s under the top-level "
						     "resources:", d->name);
			if (strcmp(m->resources[j].type, "efs") == 0 ||
			    strcmp(m->resources[j].type, "volume") == 0)
				return fail(c, d->n, "resources: %s is a volume (type %s); the local "
						     "provider runs processes without containers and cannot "
						     "mount volumes", d->name, m->resources[j].type);
			break;
		}
	}
	return 0;
}

static int
parse_top(struct pctx *c)
{
	const struct ynode *root = c->root, *services = NULL;
	struct ypairs ps;
	size_t i;
	int rc = 0;

	if (is_null(root))
		return failat(c, 1, 1, "empty manifest; a convox.yml declares services:");
	if (root->kind != Y_MAP)
		return fail(c, root, "expected a mapping of services:, environment:, ... at the "
				     "top, found %s", kind_name(root));
	if (map_pairs(c, root, "convox.yml", &ps) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ps.n; i++) {
		const struct ynode *k = ps.p[i].k, *v = ps.p[i].v;
		const struct top_rule *r = NULL;
		char b[SHOWN_MAX];
		size_t j;

		for (j = 0; j < sizeof(top_rules) / sizeof(top_rules[0]); j++)
			if (key_is(k, top_rules[j].name))
				r = &top_rules[j];
		if (r == NULL) {
			rc = fail(c, k, "%s: unknown top-level key", KEYNAME(k, b));
		} else if (r->class == K_IGNORE) {
			notice(c, k, r->name, r->why);
		} else if (r->class == K_REFUSE_SET) {
			if (is_set(c, v))
				rc = fail(c, k, "%s: %s", r->name, r->why);
		} else if (r->class == K_HONOUR) {
			if (r->fn == tk_services)
				services = k;
			rc = r->fn(c, k, v);
		}
		rc = rc < 0 || c->failed ? -1 : 0;
	}
	free(ps.p);
	if (rc < 0)
		return -1;
	if (c->m->nservices == 0)
		return fail(c, services ? services : root, "no services; a convox.yml declares at "
							  "least one under services:");
	return check_deferred(c);
}

/* ---------------------------------------------------------------- API */

static const char *
class_name(enum key_class k)
{
	return k == K_HONOUR ? "acted on" : k == K_IGNORE ? "not acted on" : "refused";
}

size_t
manifest_keys(struct mf_key *out, size_t max)
{
	size_t n = 0, i;

	for (i = 0; i < sizeof(top_rules) / sizeof(top_rules[0]); i++, n++)
		if (n < max)
			out[n] = (struct mf_key){ "", top_rules[i].name,
			    class_name(top_rules[i].class) };
	for (i = 0; i < sizeof(svc_rules) / sizeof(svc_rules[0]); i++, n++)
		if (n < max)
			out[n] = (struct mf_key){ "services.NAME.", svc_rules[i].name,
			    class_name(svc_rules[i].class) };
	return n;
}

struct manifest *
manifest_parse(const char *buf, size_t len, const char *filename,
    const char *(*lookup)(const char *name, void *ctx), void *ctx, char *err, size_t errlen)
{
	struct pctx c = {
		.file = filename ? filename : "convox.yml",
		.buf = buf,
		.len = len,
		.err = err,
		.errlen = errlen,
		.lookup = lookup,
		.lctx = ctx,
		.budget = MF_WORK_BUDGET,
	};
	struct manifest *m = NULL;

	if (errlen)
		err[0] = '\0';
	if (buf == NULL && len > 0) {
		failat(&c, 1, 1, "no input");
		return NULL;
	}
	if (len > MF_MAX_FILE) {
		failat(&c, 1, 1, "larger than %d bytes", MF_MAX_FILE);
		return NULL;
	}
	if (buf == NULL)
		buf = c.buf = "";
	if (yload(&c) == 0) {
		c.m = zalloc(sizeof(*c.m));
		if (parse_top(&c) == 0 && !c.failed) {
			m = c.m;
			c.m = NULL;
		}
	}
	manifest_free(c.m);
	free(c.dfr);
	yfree(&c);
	return m;
}

static void
env_free(struct mf_env *env, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(env[i].key);
		free(env[i].value);
	}
	free(env);
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
manifest_free(struct manifest *m)
{
	size_t i, j;

	if (m == NULL)
		return;
	strv_free(m->notices, m->nnotices);
	env_free(m->env, m->nenv);
	for (i = 0; i < m->nservices; i++) {
		struct mf_service *s = &m->services[i];

		free(s->name);
		free(s->build_path);
		free(s->dockerfile);
		free(s->image);
		env_free(s->build_args, s->nbuild_args);
		free(s->command);
		free(s->port_scheme);
		env_free(s->env, s->nenv);
		free(s->health_path);
		strv_free(s->domains, s->ndomains);
		strv_free(s->links, s->nlinks);
		for (j = 0; j < s->nresources; j++) {
			free(s->resources[j].name);
			free(s->resources[j].env);
		}
		free(s->resources);
	}
	free(m->services);
	for (i = 0; i < m->nresources; i++) {
		free(m->resources[i].name);
		free(m->resources[i].type);
	}
	free(m->resources);
	for (i = 0; i < m->ntimers; i++) {
		free(m->timers[i].name);
		free(m->timers[i].schedule);
		free(m->timers[i].command);
		free(m->timers[i].service);
		free(m->timers[i].concurrency);
	}
	free(m->timers);
	free(m);
}

const struct mf_service *
manifest_service(const struct manifest *m, const char *name)
{
	size_t i;

	if (m == NULL || name == NULL)
		return NULL;
	for (i = 0; i < m->nservices; i++)
		if (m->services[i].name && strcmp(m->services[i].name, name) == 0)
			return &m->services[i];
	return NULL;
}

/* One variable being computed by manifest_service_env. */
struct envvar {
	const char *key;
	const char *def;            /* manifest default, NULL: none */
	const char *app;            /* app's value, NULL: unset */
	size_t keylen;
};

static struct envvar *
envvar_find(struct envvar *v, size_t n, const char *key, size_t keylen)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].keylen == keylen && memcmp(v[i].key, key, keylen) == 0)
			return &v[i];
	return NULL;
}

static void
declare(struct envvar **v, size_t *n, size_t *cap, const char *key, const char *def)
{
	size_t keylen = strlen(key);
	struct envvar *e = envvar_find(*v, *n, key, keylen);

	if (e == NULL) {
		*v = grow(*v, cap, *n, sizeof(**v));
		e = &(*v)[(*n)++];
		e->key = key;
		e->keylen = keylen;
	}
	if (def)
		e->def = def; /* service defaults come after top-level ones and win */
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char **
manifest_service_env(const struct manifest *m, const struct mf_service *s,
    char *const *app_env, char *err, size_t errlen)
{
	struct envvar *v = NULL;
	size_t nv = 0, cap = 0, ndeclared, i, nmissing = 0, nout = 0;
	const char **missing = NULL;
	char **out = NULL;
	bool all = false;

	if (errlen)
		err[0] = '\0';
	if (m == NULL || s == NULL) {
		if (errlen)
			snprintf(err, errlen, "no manifest or service");
		return NULL;
	}
	for (i = 0; i < m->nenv + s->nenv; i++) {
		const struct mf_env *e = i < m->nenv ? &m->env[i] : &s->env[i - m->nenv];

		if (strcmp(e->key, "*") == 0)
			all = true;
		else
			declare(&v, &nv, &cap, e->key, e->has_value ? e->value : NULL);
	}
	for (i = 0; i < s->nresources; i++)
		declare(&v, &nv, &cap, s->resources[i].env, NULL);
	ndeclared = nv;

	for (i = 0; app_env && app_env[i]; i++) {
		const char *eq = strchr(app_env[i], '=');
		struct envvar *e;

		if (eq == NULL || eq == app_env[i]) {
			if (errlen)
				snprintf(err, errlen, "app environment entry is not KEY=VALUE: %.64s",
				    app_env[i]);
			free(v);
			return NULL;
		}
		e = envvar_find(v, nv, app_env[i], (size_t)(eq - app_env[i]));
		if (e == NULL && all) {
			v = grow(v, &cap, nv, sizeof(*v));
			e = &v[nv++];
			e->key = app_env[i];
			e->keylen = (size_t)(eq - app_env[i]);
		}
		if (e)
			e->app = eq + 1; /* the last one wins */
	}

	for (i = 0; i < ndeclared; i++) {
		if (v[i].app == NULL && v[i].def == NULL) {
			missing = realloc(missing, (nmissing + 1) * sizeof(*missing));
			if (missing == NULL)
				oom();
			missing[nmissing++] = v[i].key;
		}
	}
	if (nmissing) {
		size_t o;

		qsort(missing, nmissing, sizeof(*missing), cmp_str);
		if (errlen) {
			o = (size_t)snprintf(err, errlen, "required env: ");
			for (i = 0; i < nmissing && o < errlen; i++)
				o += (size_t)snprintf(err + o, errlen - o, "%s%s", i ? ", " : "",
				    missing[i]);
		}
		free(missing);
		free(v);
		return NULL;
	}

	out = zalloc((nv + 1) * sizeof(*out));
	for (i = 0; i < nv; i++) {
		const char *val = v[i].app ? v[i].app : v[i].def;
		size_t vl = strlen(val);
		char *kv = zalloc(v[i].keylen + 1 + vl + 1);

		memcpy(kv, v[i].key, v[i].keylen);
		kv[v[i].keylen] = '=';
		memcpy(kv + v[i].keylen + 1, val, vl);
		out[nout++] = kv;
	}
	out[nout] = NULL;
	free(v);
	return out;
}

void
manifest_env_free(char **env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}
