/*
 * peering.c — see peering.h.
 */
#include "k8s/peering.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/net.h"

/* Whether s is a domain name: 1-253 of [a-z0-9.-], labels not empty. */
static bool
domain_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n &&
	    s[0] != '.' && s[n - 1] != '.' && strstr(s, "..") == NULL;
}

/* Whether pem is one PEM certificate, nothing else that could be read. */
static bool
one_cert(const char *pem)
{
	const char *begin = strstr(pem, "-----BEGIN CERTIFICATE-----");

	return begin != NULL && strstr(begin + 1, "-----BEGIN ") == NULL &&
	    strstr(begin, "-----END CERTIFICATE-----") != NULL;
}

/* Parses line (cut in place) into e; NULL, or why it is left out. */
static const char *
parse_line(char *line, const jv *data, struct k8s_peering_entry *e)
{
	char *save = NULL, *name, *endpoint, *domain, *colon, key[48];
	struct sockaddr_in sin;
	const char *ca;

	name = strtok_r(line, " ", &save);
	endpoint = strtok_r(NULL, " ", &save);
	domain = strtok_r(NULL, " ", &save);
	if (name == NULL || endpoint == NULL || domain == NULL || strtok_r(NULL, " ", &save) != NULL)
		return "want NAME IP:PORT DOMAIN";
	if (!valid_name(name))
		return "the name is not a rack name";
	if (net_parse_addr(endpoint, &sin) == -1 || (colon = strrchr(endpoint, ':')) == NULL ||
	    (size_t)(colon - endpoint) >= sizeof(e->ip))
		return "the endpoint is not IPv4:PORT";
	if (!domain_ok(domain))
		return "the internal domain is not a domain name";
	snprintf(key, sizeof(key), "%s.pem", name);
	ca = jv_str(data, key);
	if (!one_cert(ca))
		return "its CA (key NAME.pem) is not one PEM certificate";
	str_copy(e->name, sizeof(e->name), name);
	snprintf(e->ip, sizeof(e->ip), "%.*s", (int)(colon - endpoint), endpoint);
	str_copy(e->port, sizeof(e->port), colon + 1);
	str_copy(e->domain, sizeof(e->domain), domain);
	e->ca = xstrdup(ca);
	return NULL;
}

int
k8s_peering_parse(const jv *cm, struct k8s_peering_entry **out, size_t *n,
    struct buf *warnings)
{
	const jv *data = jv_get(cm, "data"), *peers = jv_get(data, "peers");
	char *text, *save = NULL;
	size_t max = 1;

	*out = NULL;
	*n = 0;
	if (peers == NULL)
		return 0;
	if (!jv_is_string(peers))
		return -1;
	text = xstrdup(jv_str(data, "peers"));
	for (const char *c = text; *c != '\0'; c++)
		max += *c == '\n';
	*out = xcalloc(max, sizeof(**out));
	for (char *line = strtok_r(text, "\n", &save); line != NULL && *n < max;
	    line = strtok_r(NULL, "\n", &save)) {
		struct k8s_peering_entry *e = &(*out)[*n];
		char shown[80];
		const char *why;

		snprintf(shown, sizeof(shown), "%s", line);
		for (char *c = shown; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
				*c = '?';
		if ((why = parse_line(line, data, e)) == NULL) {
			for (size_t i = 0; i < *n && why == NULL; i++) {
				if (strcmp((*out)[i].name, e->name) == 0)
					why = "its name is an earlier peer's";
				else if (strcasecmp((*out)[i].domain, e->domain) == 0)
					why = "its internal domain is an earlier peer's";
			}
			if (why != NULL) {
				free(e->ca);
				memset(e, 0, sizeof(*e));
			}
		}
		if (why != NULL) {
			buf_addf(warnings, "configmap peers: line \"%s\" left out: %s\n", shown, why);
			continue;
		}
		(*n)++;
	}
	free(text);
	return 0;
}

void
k8s_peering_free(struct k8s_peering_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].ca);
	free(e);
}
