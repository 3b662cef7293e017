/*
 * test_labdns.c — the lab DNS's protocol and hosts table, without sockets:
 * queries as bytes in, answers as bytes out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labdns/dnsmsg.h"
#include "labdns/hosts.h"

static struct labdns_hosts hosts;

static const char hosts_text[] = "# comment\n"
				 "\n"
				 "*.b.cx.test 198.18.1.2\n"
				 "*.b-internal.cx.test 10.2.0.2\n"
				 "*.deep.b.cx.test 198.18.9.9\n"
				 "Exact.Example.test 1.2.3.4\n"
				 "multi.test 10.0.0.1\n"
				 "multi.test 10.0.0.2\n";

static int
setup(void **state)
{
	char err[128];

	(void)state;
	return labdns_hosts_parse(hosts_text, &hosts, err, sizeof(err));
}

static int
teardown(void **state)
{
	(void)state;
	labdns_hosts_free(&hosts);
	return 0;
}

/* Builds a query for name (dotted) and qtype; returns its length. */
static size_t
query(uint8_t *q, const char *name, uint16_t qtype, uint16_t qclass)
{
	size_t off = 12;
	const char *p = name;

	memset(q, 0, 12);
	q[0] = 0xab;
	q[1] = 0xcd;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	while (*p != '\0') {
		size_t len = strcspn(p, ".");

		q[off++] = (uint8_t)len;
		memcpy(q + off, p, len);
		off += len;
		p += len;
		if (*p == '.')
			p++;
	}
	q[off++] = 0;
	q[off++] = (uint8_t)(qtype >> 8);
	q[off++] = (uint8_t)qtype;
	q[off++] = (uint8_t)(qclass >> 8);
	q[off++] = (uint8_t)qclass;
	return off;
}

static int
rcode(const uint8_t *a)
{
	return a[3] & 0x0f;
}

static int
ancount(const uint8_t *a)
{
	return a[6] << 8 | a[7];
}

/* The address of answer i (answers are fixed 16 bytes after the question). */
static void
answer_addr(const uint8_t *a, size_t qlen, int i, char *out)
{
	inet_ntop(AF_INET, a + qlen + (size_t)i * 16 + 12, out, INET_ADDRSTRLEN);
}

static void
test_wildcard_and_exact(void **state)
{
	uint8_t q[600], a[LABDNS_UDP_MAX];
	char addr[INET_ADDRSTRLEN];
	size_t qlen, alen;

	(void)state;
	qlen = query(q, "web.app.b-internal.cx.test", 1, 1);
	alen = labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(alen, qlen + 16);
	assert_int_equal(a[0], 0xab);
	assert_int_equal(a[1], 0xcd);
	assert_true(a[2] & 0x80); /* QR */
	assert_true(a[2] & 0x04); /* AA */
	assert_true(a[2] & 0x01); /* RD copied */
	assert_int_equal(rcode(a), 0);
	assert_int_equal(ancount(a), 1);
	assert_memory_equal(a + 12, q + 12, qlen - 12); /* the question, as asked */
	answer_addr(a, qlen, 0, addr);
	assert_string_equal(addr, "10.2.0.2");

	/* Case does not matter; the longest wildcard wins. */
	qlen = query(q, "X.DEEP.b.cx.test", 1, 1);
	alen = labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	answer_addr(a, qlen, 0, addr);
	assert_string_equal(addr, "198.18.9.9");
	qlen = query(q, "exact.example.TEST", 1, 1);
	alen = labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	answer_addr(a, qlen, 0, addr);
	assert_string_equal(addr, "1.2.3.4");
	/* A wildcard needs at least one label in front. */
	qlen = query(q, "b.cx.test", 1, 1);
	alen = labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_NXDOMAIN);
	assert_int_equal(alen, qlen);
	/* Several lines, several records. */
	qlen = query(q, "multi.test", 1, 1);
	alen = labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(ancount(a), 2);
	assert_int_equal(alen, qlen + 32);
}

static void
test_nxdomain_nodata_refused(void **state)
{
	uint8_t q[600], a[LABDNS_UDP_MAX];
	size_t qlen, alen;

	(void)state;
	qlen = query(q, "nope.cx.test", 1, 1);
	alen = labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_NXDOMAIN);
	assert_int_equal(ancount(a), 0);
	assert_int_equal(alen, qlen);
	/* AAAA of a known name: NOERROR, no records. */
	qlen = query(q, "x.b.cx.test", 28, 1);
	alen = labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_NOERROR);
	assert_int_equal(ancount(a), 0);
	/* AAAA of an unknown one: NXDOMAIN. */
	qlen = query(q, "nope.test", 28, 1);
	labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_NXDOMAIN);
	/* ANY gets the A records. */
	qlen = query(q, "x.b.cx.test", 255, 1);
	labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(ancount(a), 1);
	/* Class CHAOS: refused. */
	qlen = query(q, "x.b.cx.test", 1, 3);
	labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_REFUSED);
	/* Odd bytes in a label: simply unknown. */
	qlen = query(q, "a b.b.cx.test", 1, 1);
	labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_NXDOMAIN);
	/* Trailing records (EDNS OPT) are ignored. */
	qlen = query(q, "x.b.cx.test", 1, 1);
	q[11] = 1;
	memcpy(q + qlen, "\0\0\x29\x10\0\0\0\0\0\0\0", 11);
	alen = labdns_answer(&hosts, q, qlen + 11, 0, a, sizeof(a));
	assert_int_equal(alen, qlen + 16);
	assert_int_equal(a[11], 0); /* ARCOUNT: nothing echoed */
}

/* A rack DNS keeps .local names (the rack's own) from its upstreams. */
static void
test_local_names(void **state)
{
	uint8_t q[600];
	size_t qlen;

	(void)state;
	qlen = query(q, "api.shop.dev.local", 1, 1);
	assert_true(labdns_query_is_local(q, qlen));
	qlen = query(q, "API.dev-shop.svc.cluster.LOCAL", 1, 1);
	assert_true(labdns_query_is_local(q, qlen));
	qlen = query(q, "local", 1, 1);
	assert_true(labdns_query_is_local(q, qlen));
	qlen = query(q, "example.localhost", 1, 1);
	assert_false(labdns_query_is_local(q, qlen));
	qlen = query(q, "notlocal", 1, 1);
	assert_false(labdns_query_is_local(q, qlen));
	assert_false(labdns_query_is_local(q, 5));       /* no question: not ours to keep */
}

static void
test_malformed(void **state)
{
	uint8_t q[600], a[LABDNS_UDP_MAX];
	size_t qlen;

	(void)state;
	/* Too short for a header, or a response: no answer at all. */
	assert_int_equal(labdns_answer(&hosts, (const uint8_t *)"\x12\x34", 2, 0, a, sizeof(a)), 0);
	qlen = query(q, "x.b.cx.test", 1, 1);
	q[2] |= 0x80;
	assert_int_equal(labdns_answer(&hosts, q, qlen, 0, a, sizeof(a)), 0);

	/* Truncated question. */
	qlen = query(q, "x.b.cx.test", 1, 1);
	assert_int_equal(labdns_answer(&hosts, q, qlen - 3, 0, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), LABDNS_FORMERR);
	assert_int_equal(a[5], 0); /* no question echoed */
	/* Label running past the end. */
	qlen = query(q, "x.b.cx.test", 1, 1);
	q[12] = 60;
	assert_int_equal(labdns_answer(&hosts, q, qlen, 0, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), LABDNS_FORMERR);
	/* A compression pointer in the question. */
	memcpy(q + 12, "\xc0\x0c\0\x01\0\x01", 6);
	assert_int_equal(labdns_answer(&hosts, q, 18, 0, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), LABDNS_FORMERR);
	/* Two questions, or none. */
	qlen = query(q, "x.b.cx.test", 1, 1);
	q[5] = 2;
	labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_FORMERR);
	q[5] = 0;
	labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_FORMERR);
	/* A name longer than 255 bytes on the wire. */
	memset(q, 0, sizeof(q));
	q[5] = 1;
	qlen = 12;
	for (int i = 0; i < 5; i++) {
		q[qlen++] = 63;
		memset(q + qlen, 'a', 63);
		qlen += 63;
	}
	q[qlen++] = 0;
	qlen += 4;
	labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_FORMERR);
	/* A datagram that did not fit the receive buffer. */
	qlen = query(q, "x.b.cx.test", 1, 1);
	labdns_answer(&hosts, q, qlen, 1, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_FORMERR);
	/* Another opcode (NOTIFY). */
	q[2] = 4 << 3;
	labdns_answer(&hosts, q, qlen, 0, a, sizeof(a));
	assert_int_equal(rcode(a), LABDNS_NOTIMP);
}

/* Every prefix and every single-byte corruption of a query: never a crash,
 * never an answer longer than allowed (ASan watches the reads). */
static void
test_fuzzish(void **state)
{
	uint8_t q[600], a[LABDNS_UDP_MAX];
	size_t qlen = query(q, "web.app.b-internal.cx.test", 1, 1);

	(void)state;
	for (size_t n = 0; n <= qlen; n++) {
		uint8_t *copy = malloc(n > 0 ? n : 1);

		memcpy(copy, q, n);
		assert_true(labdns_answer(&hosts, copy, n, 0, a, sizeof(a)) <= LABDNS_UDP_MAX);
		free(copy);
	}
	for (size_t i = 0; i < qlen; i++) {
		for (int v = 0; v < 256; v += 7) {
			uint8_t *copy = malloc(qlen);

			memcpy(copy, q, qlen);
			copy[i] = (uint8_t)v;
			assert_true(labdns_answer(&hosts, copy, qlen, 0, a, sizeof(a)) <= LABDNS_UDP_MAX);
			free(copy);
		}
	}
}

static void
test_hosts_file(void **state)
{
	struct labdns_hosts h;
	char err[128];
	uint32_t addrs[4];

	(void)state;
	assert_int_equal(labdns_hosts_parse("x.test 1.2.3.4 extra\n", &h, err, sizeof(err)), -1);
	assert_string_equal(err, "line 1: want \"NAME ADDR\"");
	assert_int_equal(labdns_hosts_parse("\nx.test 1.2.3\n", &h, err, sizeof(err)), -1);
	assert_string_equal(err, "line 2: bad IPv4 address \"1.2.3\"");
	assert_int_equal(labdns_hosts_parse("x..test 1.2.3.4\n", &h, err, sizeof(err)), -1);
	assert_int_equal(labdns_hosts_parse("*.*.test 1.2.3.4\n", &h, err, sizeof(err)), -1);
	assert_int_equal(labdns_hosts_parse("x.test 1.2.3.4", &h, err, sizeof(err)), 0);
	assert_int_equal(labdns_hosts_lookup(&h, "x.test", addrs, 4), 1);
	labdns_hosts_free(&h);
	assert_int_equal(labdns_hosts_load("/nonexistent/hosts", &h, err, sizeof(err)), 0);
	assert_int_equal(h.n, 0);
	assert_true(labdns_valid_name("*.b-internal.cx.test"));
	assert_false(labdns_valid_name("*."));
	assert_false(labdns_valid_name("a.b."));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wildcard_and_exact),
		cmocka_unit_test(test_nxdomain_nodata_refused),
		cmocka_unit_test(test_local_names),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_fuzzish),
		cmocka_unit_test(test_hosts_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
