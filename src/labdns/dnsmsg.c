/*
 * dnsmsg.c — parse a DNS query (RFC 1035 section 4) and build its answer.
 *
 * Bounded everywhere: the question is read label by label against qlen, a
 * name never passes 255 wire bytes, and the answer is built in a buffer of
 * known size. Compression pointers have no business in a query's question
 * and are refused rather than followed.
 */
#include "labdns/dnsmsg.h"

#include <ctype.h>
#include <string.h>

#define HDR_LEN   12
#define QR        0x8000
#define OPCODE(f) (((f) >> 11) & 0xf)
#define AA        0x0400
#define RD        0x0100

#define TYPE_A    1
#define TYPE_ANY  255
#define CLASS_IN  1
#define CLASS_ANY 255

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t
header(uint8_t *out, const uint8_t *q, int rcode, uint16_t qd, uint16_t an)
{
	uint16_t flags = get16(q + 2);

	memcpy(out, q, 2); /* id */
	put16(out + 2, (uint16_t)(QR | (flags & 0x7800) | AA | (flags & RD) | rcode));
	put16(out + 4, qd);
	put16(out + 6, an);
	put16(out + 8, 0);
	put16(out + 10, 0);
	return HDR_LEN;
}

/*
 * Reads the question's name at q+HDR_LEN into name (presentation form, lower
 * case, no trailing dot). Returns the wire length of the name, 0 if
 * malformed. *printable is cleared when a label holds bytes no hosts entry
 * can have (dots, spaces, non-ASCII), so the name is simply unknown.
 */
static size_t
read_qname(const uint8_t *q, size_t qlen, char *name, int *printable)
{
	size_t off = HDR_LEN, out = 0;

	*printable = 1;
	for (;;) {
		uint8_t len;

		if (off >= qlen)
			return 0;
		len = q[off++];
		if (len == 0)
			break;
		if ((len & 0xc0) != 0 || len > 63)
			return 0;
		if (off + len > qlen || off - HDR_LEN + len > 254)
			return 0;
		if (out > 0)
			name[out++] = '.';
		for (size_t i = 0; i < len; i++) {
			unsigned char c = q[off + i];

			if (!isalnum(c) && c != '-' && c != '_')
				*printable = 0;
			name[out++] = (char)tolower(c);
		}
		off += len;
	}
	name[out] = '\0';
	return off - HDR_LEN;
}

size_t
labdns_answer(const struct labdns_hosts *h, const uint8_t *q, size_t qlen, int truncated,
    uint8_t *out, size_t outcap)
{
	char name[256];
	uint32_t addrs[LABDNS_ANSWERS_MAX];
	size_t namelen, qend, n = 0, off;
	uint16_t flags, qtype, qclass;
	int printable, rcode;

	if (qlen < HDR_LEN || outcap < LABDNS_UDP_MAX)
		return 0;
	flags = get16(q + 2);
	if (flags & QR)
		return 0;
	if (OPCODE(flags) != 0)
		return header(out, q, LABDNS_NOTIMP, 0, 0);
	if (truncated || get16(q + 4) != 1)
		return header(out, q, LABDNS_FORMERR, 0, 0);
	namelen = read_qname(q, qlen, name, &printable);
	if (namelen == 0 || HDR_LEN + namelen + 4 > qlen)
		return header(out, q, LABDNS_FORMERR, 0, 0);
	qend = HDR_LEN + namelen + 4;
	qtype = get16(q + HDR_LEN + namelen);
	qclass = get16(q + HDR_LEN + namelen + 2);

	if (qclass != CLASS_IN && qclass != CLASS_ANY) {
		rcode = LABDNS_REFUSED;
	} else {
		if (printable && name[0] != '\0')
			n = labdns_hosts_lookup(h, name, addrs, LABDNS_ANSWERS_MAX);
		if (n > LABDNS_ANSWERS_MAX)
			n = LABDNS_ANSWERS_MAX;
		rcode = n > 0 ? LABDNS_NOERROR : LABDNS_NXDOMAIN;
		if (qtype != TYPE_A && qtype != TYPE_ANY)
			n = 0; /* NODATA for a known name, NXDOMAIN stays */
	}
	off = header(out, q, rcode, 1, (uint16_t)n);
	memcpy(out + off, q + HDR_LEN, qend - HDR_LEN);
	off = qend;
	for (size_t i = 0; i < n; i++) {
		put16(out + off, 0xc000 | HDR_LEN); /* pointer to the question's name */
		put16(out + off + 2, TYPE_A);
		put16(out + off + 4, CLASS_IN);
		put16(out + off + 6, 0);
		put16(out + off + 8, LABDNS_TTL);
		put16(out + off + 10, 4);
		memcpy(out + off + 12, &addrs[i], 4);
		off += 16;
	}
	return off;
}

int
labdns_query_is_local(const uint8_t *q, size_t qlen)
{
	char name[256];
	size_t n;
	int printable;

	if (qlen < HDR_LEN || read_qname(q, qlen, name, &printable) == 0)
		return 0;
	n = strlen(name);
	return strcmp(name, "local") == 0 || (n > 6 && strcmp(name + n - 6, ".local") == 0);
}
