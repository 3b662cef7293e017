/*
 * hosts.h — the lab DNS's table of names: what $CX_HOME/lab/hosts says.
 *
 * The file holds one "NAME ADDR" per line: NAME is an exact name
 * ("api.example.test") or a wildcard ("*.b.cx.test", matching any name with
 * at least one more label, as a DNS wildcard does); ADDR is an IPv4 address.
 * Blank lines and lines starting with '#' are ignored. Names compare without
 * case. A name may have several lines (several A records).
 */
#ifndef CX_LABDNS_HOSTS_H
#define CX_LABDNS_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#define LABDNS_NAME_MAX   253   /* presentation form, without the trailing dot */
#define LABDNS_HOSTS_MAX  8192  /* lines kept; more is an error */
#define LABDNS_ANSWERS_MAX 8    /* A records in one answer; keeps it under 512 bytes */

struct labdns_host {
	char name[LABDNS_NAME_MAX + 1]; /* lower case; for a wildcard, the suffix after "*." */
	int wildcard;
	uint32_t addr;                  /* network byte order */
};

struct labdns_hosts {
	struct labdns_host *v;
	size_t n;
};

/* Parses the text of a hosts file into out (which the caller frees with
 * labdns_hosts_free). Refuses, leaving out empty, a malformed line, naming its
 * number in err. */
int labdns_hosts_parse(const char *text, struct labdns_hosts *out, char *err, size_t errlen);
/* Reads and parses path; a missing file is an empty table. */
int labdns_hosts_load(const char *path, struct labdns_hosts *out, char *err, size_t errlen);
void labdns_hosts_free(struct labdns_hosts *h);
/* Finds the A records of name (lower case, no trailing dot): the exact entries
 * if any, else those of the longest matching wildcard. Fills up to max
 * addresses and returns how many there are (0: name unknown). */
size_t labdns_hosts_lookup(const struct labdns_hosts *h, const char *name, uint32_t *addrs, size_t max);
/* True if s is a name the table accepts: "*." optional, then dot-separated
 * labels of [a-z0-9_-] (any case), 1..63 bytes each, 253 in all. */
int labdns_valid_name(const char *s);

#endif
