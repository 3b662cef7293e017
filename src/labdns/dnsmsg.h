/*
 * dnsmsg.h — one DNS query in, one answer out: the lab DNS's whole protocol.
 *
 * Only what the lab needs: class IN, A records from the hosts table, with
 * the authoritative bit. The question must be exactly one, uncompressed, and
 * complete; anything else malformed gets FORMERR. An unknown name gets
 * NXDOMAIN; a known name asked for another type (AAAA, MX...) gets NOERROR
 * with no records, so resolvers stop asking. Any records after the question
 * (an EDNS OPT, say) are ignored and not echoed.
 */
#ifndef CX_LABDNS_DNSMSG_H
#define CX_LABDNS_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

#include "labdns/hosts.h"

#define LABDNS_UDP_MAX 512      /* answers fit here: a question is at most 271 bytes */
#define LABDNS_TTL     5        /* seconds; the lab changes under running tests */

enum {
	LABDNS_NOERROR = 0,
	LABDNS_FORMERR = 1,
	LABDNS_NXDOMAIN = 3,
	LABDNS_NOTIMP = 4,
	LABDNS_REFUSED = 5,
};

/* Answers the query q (qlen bytes as received; truncated says the datagram
 * was larger than q) into out (outcap >= LABDNS_UDP_MAX). Returns the
 * answer's length, or 0 when no answer is due: a datagram shorter than a
 * header, or a response rather than a query. */
size_t labdns_answer(const struct labdns_hosts *h, const uint8_t *q, size_t qlen, int truncated,
    uint8_t *out, size_t outcap);

/* True if query q asks a name under "local." (the rack's own names: a rack
 * DNS answers them, NXDOMAIN included, and never forwards them upstream,
 * where .local means multicast DNS). False for a malformed question. */
int labdns_query_is_local(const uint8_t *q, size_t qlen);

#endif
