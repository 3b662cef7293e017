/*
 * hosts.c — parse the lab DNS hosts file and look names up in it.
 * See hosts.h for the format. Tables are small (a few lines per rack), so a
 * lookup is a linear scan.
 */
#include "labdns/hosts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define HOSTS_FILE_MAX (4u << 20)

int
labdns_valid_name(const char *s)
{
	size_t len, label = 0;

	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	len = strlen(s);
	if (len == 0 || len > LABDNS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

int
labdns_hosts_parse(const char *text, struct labdns_hosts *out, char *err, size_t errlen)
{
	struct labdns_hosts h = { NULL, 0 };
	size_t cap = 0, lineno = 0;
	const char *p = text;

	out->v = NULL;
	out->n = 0;
	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t linelen = eol != NULL ? (size_t)(eol - p) : strlen(p);
		char line[512], name[512], addr[64], extra[2];
		struct in_addr in;
		int fields;

		lineno++;
		if (linelen >= sizeof(line)) {
			snprintf(err, errlen, "line %zu: too long", lineno);
			goto fail;
		}
		memcpy(line, p, linelen);
		line[linelen] = '\0';
		p += linelen + (eol != NULL ? 1 : 0);

		fields = sscanf(line, "%511s %63s %1s", name, addr, extra);
		if (fields <= 0 || name[0] == '#')
			continue;
		if (fields != 2) {
			snprintf(err, errlen, "line %zu: want \"NAME ADDR\"", lineno);
			goto fail;
		}
		if (!labdns_valid_name(name)) {
			snprintf(err, errlen, "line %zu: bad name \"%s\"", lineno, name);
			goto fail;
		}
		if (inet_pton(AF_INET, addr, &in) != 1) {
			snprintf(err, errlen, "line %zu: bad IPv4 address \"%s\"", lineno, addr);
			goto fail;
		}
		if (h.n == LABDNS_HOSTS_MAX) {
			snprintf(err, errlen, "more than %d names", LABDNS_HOSTS_MAX);
			goto fail;
		}
		if (h.n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			h.v = xrealloc(h.v, cap * sizeof(*h.v));
		}
		struct labdns_host *e = &h.v[h.n++];
		e->wildcard = strncmp(name, "*.", 2) == 0;
		str_copy(e->name, sizeof(e->name), name + (e->wildcard ? 2 : 0));
		lower(e->name);
		e->addr = in.s_addr;
	}
	*out = h;
	return 0;
fail:
	free(h.v);
	return -1;
}

int
labdns_hosts_load(const char *path, struct labdns_hosts *out, char *err, size_t errlen)
{
	char *text;
	int rc;

	text = read_file(path, HOSTS_FILE_MAX, NULL);
	if (text == NULL) {
		if (errno == ENOENT) {
			out->v = NULL;
			out->n = 0;
			return 0;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = labdns_hosts_parse(text, out, err, errlen);
	free(text);
	return rc;
}

void
labdns_hosts_free(struct labdns_hosts *h)
{
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

/* True if name is "<one or more labels>.suffix". */
static int
wildcard_match(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s + 1 && name[n - s - 1] == '.' && strcmp(name + n - s, suffix) == 0;
}

size_t
labdns_hosts_lookup(const struct labdns_hosts *h, const char *name, uint32_t *addrs, size_t max)
{
	size_t found = 0, best = 0;
	const char *best_suffix = NULL;

	for (size_t i = 0; i < h->n; i++) {
		if (!h->v[i].wildcard && strcmp(h->v[i].name, name) == 0) {
			if (found < max)
				addrs[found] = h->v[i].addr;
			found++;
		}
	}
	if (found > 0)
		return found;
	for (size_t i = 0; i < h->n; i++) {
		size_t len = strlen(h->v[i].name);

		if (h->v[i].wildcard && len > best && wildcard_match(name, h->v[i].name)) {
			best = len;
			best_suffix = h->v[i].name;
		}
	}
	if (best_suffix == NULL)
		return 0;
	for (size_t i = 0; i < h->n; i++) {
		if (h->v[i].wildcard && strcmp(h->v[i].name, best_suffix) == 0) {
			if (found < max)
				addrs[found] = h->v[i].addr;
			found++;
		}
	}
	return found;
}
