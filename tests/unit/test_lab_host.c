/*
 * test_lab_host.c — the pure parts of host racks: the default CIDR choice,
 * the state line of a host rack, its nftables table, and the DNS
 * forwarder's reading of resolv.conf and its SERVFAIL.
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

#include "common/util.h"
#include "lab/lab_int.h"
#include "labdns/forward.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static void
test_cidr_pick_first_free(void **state)
{
	uint32_t nets[3] = { IP4(10, 128, 0, 0), IP4(10, 129, 5, 0), IP4(192, 168, 0, 0) };
	int prefixes[3] = { 16, 24, 16 };
	uint32_t out = 0;

	(void)state;
	assert_int_equal(lab_cidr_pick(NULL, NULL, 0, &out), 0);
	assert_int_equal(out, IP4(10, 128, 0, 0));
	/* 10.128/16 taken, 10.129.5/24 makes 10.129/16 overlap: 10.130. */
	assert_int_equal(lab_cidr_pick(nets, prefixes, 3, &out), 0);
	assert_int_equal(out, IP4(10, 130, 0, 0));
}

static void
test_cidr_pick_none_left(void **state)
{
	uint32_t nets[2] = { IP4(10, 0, 0, 0), IP4(0, 0, 0, 0) };
	int prefixes[2] = { 8, 1 };
	uint32_t out = 0;

	(void)state;
	/* 10/8 covers all of 10.128.0.0/9. */
	assert_int_equal(lab_cidr_pick(nets, prefixes, 1, &out), -1);
	/* 0.0.0.0/1 holds the whole of 10.0.0.0/8. */
	assert_int_equal(lab_cidr_pick(&nets[1], &prefixes[1], 1, &out), -1);
}

static void
test_state_host_line(void **state)
{
	const char *text = "lab cx1234 3 1\n"
			   "rack h1 2 10.128.0.0/16 12 - host 198.51.100.1 192.0.2.1\n"
			   "rack h2 1 10.129.0.0/16 10 - host 198.51.100.2 -\n"
			   "rack v 3 10.1.0.0/16 10 -\n";
	struct lab_state st;
	struct lab_rack_info info;
	char err[128], *again;

	(void)state;
	assert_int_equal(lab_state_parse(text, &st, err, sizeof(err)), 0);
	assert_int_equal(st.nracks, 3);
	assert_true(st.racks[0].host);
	assert_int_equal(st.racks[0].pub, IP4(198, 51, 100, 1));
	assert_int_equal(st.racks[0].priv, IP4(192, 0, 2, 1));
	assert_true(st.racks[1].host);
	assert_int_equal(st.racks[1].priv, 0);
	assert_false(st.racks[2].host);
	again = lab_state_format(&st);
	assert_non_null(strstr(again, "rack h1 2 10.128.0.0/16 12 - host 198.51.100.1 192.0.2.1\n"));
	assert_non_null(strstr(again, "rack h2 1 10.129.0.0/16 10 - host 198.51.100.2 -\n"));
	assert_non_null(strstr(again, "rack v 3 10.1.0.0/16 10 -\n"));
	free(again);

	lab_rack_fill(&st, &st.racks[0], &info);
	assert_true(info.host);
	assert_string_equal(info.public_addr, "198.51.100.1");
	assert_string_equal(info.host_private, "192.0.2.1");
	assert_string_equal(info.private_addr, "10.128.0.2");
	assert_string_equal(info.gateway_addr, "10.128.0.1");
	assert_string_equal(info.egress_addr, "10.128.0.3");
	assert_string_equal(info.bridge, "cx1234-b2");
	assert_string_equal(info.nft_table, "cx1234-h2");
	assert_string_equal(info.netns, "");
	lab_state_free(&st);

	/* A host line needs both addresses. */
	assert_int_equal(lab_state_parse("rack h 1 10.128.0.0/16 10 - host 1.2.3 -\n", &st, err,
	    sizeof(err)), -1);
	assert_int_equal(lab_state_parse("rack h 1 10.128.0.0/16 10 - guest 1.2.3.4 -\n", &st, err,
	    sizeof(err)), -1);
}

static void
test_host_rules(void **state)
{
	struct lab_state st = { .prefix = "cx1234" };
	struct lab_rack r = { .name = "h1", .id = 2, .net = IP4(10, 128, 0, 0), .prefix = 16,
		.host = true, .pub = IP4(198, 51, 100, 1) };
	char link[16], *rules;

	(void)state;
	rules = lab_host_rules(&st, &r, true);
	assert_non_null(strstr(rules, "table inet cx1234-h2 {"));
	assert_null(strstr(rules, "delete table"));
	/* DNS on the gateway only; router ports on the router addresses only. */
	assert_non_null(strstr(rules, "iifname \"cx1234-b2\" ip daddr 10.128.0.1 meta l4proto { tcp, udp } th dport 53 accept"));
	assert_non_null(strstr(rules, "iifname \"cx1234-b2\" ip daddr { 10.128.0.2, 10.128.0.3, 198.51.100.1 } tcp dport { 80, 443 } accept"));
	/* What the gateway table DNATed from .2/.3's router ports, before the drop. */
	assert_non_null(strstr(rules, "iifname \"cx1234-b2\" meta l4proto tcp ct status dnat ct original ip daddr { 10.128.0.2, 10.128.0.3 } ct original proto-dst { 80, 443 } accept\n\t\tiifname \"cx1234-b2\" drop"));
	assert_non_null(strstr(rules, "iifname \"cx1234-b2\" drop"));
	assert_non_null(strstr(rules, "oifname \"cx1234-b2\" drop"));
	assert_non_null(strstr(rules, "ip saddr 10.128.0.0/16 oifname != \"cx1234-b2\" masquerade"));
	free(rules);
	r.priv = IP4(192, 0, 2, 1);
	rules = lab_host_rules(&st, &r, false);
	assert_non_null(strstr(rules, "delete table inet cx1234-h2\n"));
	assert_non_null(strstr(rules, "{ 10.128.0.2, 10.128.0.3, 198.51.100.1, 192.0.2.1 }"));
	free(rules);
	/* Process links: the address in hex, 15 bytes at most. */
	lab_host_proc_link(&st, IP4(10, 255, 255, 254), link, sizeof(link));
	assert_string_equal(link, "cx1234v0afffffe");
	assert_int_equal(strlen(link), 15);
}

/* A loopback rack's gateway table: the bridge's .3:80 and .2:80/443 to the
 * routers' ports on 127.0.0.1, from the rack's CIDR; a port 0 maps nothing;
 * no ports: the table only goes. */
static void
test_gateway_rules(void **state)
{
	struct lab_state st = { .prefix = "cx1234" };
	struct lab_rack r = { .name = "lo1", .id = 3, .net = IP4(10, 130, 0, 0), .prefix = 16,
		.host = true, .pub = IP4(127, 0, 0, 1) };
	struct lab_gateway_ports ports = { .egress = 4001, .internal = 4002, .internal_tls = 4003 };
	char table[64], *rules;

	(void)state;
	lab_host_gw_table(&st, &r, table, sizeof(table));
	assert_string_equal(table, "cx1234-g3-lo1");
	rules = lab_host_gw_rules(&st, &r, &ports);
	assert_true(str_has_prefix(rules, "table inet cx1234-g3-lo1 {}\ndelete table inet cx1234-g3-lo1\n"
	    "table inet cx1234-g3-lo1 {\n"));
	assert_non_null(strstr(rules, "type nat hook prerouting priority dstnat; policy accept;"));
	assert_non_null(strstr(rules, "ip saddr 10.130.0.0/16 ip daddr 10.130.0.3 tcp dport 80 dnat ip to 127.0.0.1:4001\n"));
	assert_non_null(strstr(rules, "ip saddr 10.130.0.0/16 ip daddr 10.130.0.2 tcp dport 80 dnat ip to 127.0.0.1:4002\n"));
	assert_non_null(strstr(rules, "ip saddr 10.130.0.0/16 ip daddr 10.130.0.2 tcp dport 443 dnat ip to 127.0.0.1:4003\n"));
	free(rules);
	ports.internal_tls = 0;
	rules = lab_host_gw_rules(&st, &r, &ports);
	assert_null(strstr(rules, "dport 443"));
	assert_non_null(strstr(rules, "dnat ip to 127.0.0.1:4002"));
	free(rules);
	rules = lab_host_gw_rules(&st, &r, NULL);
	assert_string_equal(rules, "table inet cx1234-g3-lo1 {}\ndelete table inet cx1234-g3-lo1\n");
	free(rules);
}

static void
test_resolv_parse(void **state)
{
	const char *text = "# a comment\n"
			   "search example.test\n"
			   "nameserver 192.0.2.53\n"
			   "nameserver ::1\n"
			   "  nameserver\t198.51.100.10  \n"
			   "nameserver 10.128.0.1\n"
			   "nameserver 203.0.113.1\n"
			   "nameserver 203.0.113.2\n"
			   "options timeout:1\n";
	struct sockaddr_in out[LABDNS_FWD_MAX], self = { .sin_family = AF_INET };
	size_t n;

	(void)state;
	inet_pton(AF_INET, "10.128.0.1", &self.sin_addr);
	self.sin_port = htons(53);
	n = labdns_resolv_parse(text, &self, out, LABDNS_FWD_MAX);
	assert_int_equal(n, 3);
	assert_string_equal(inet_ntoa(out[0].sin_addr), "192.0.2.53");
	assert_string_equal(inet_ntoa(out[1].sin_addr), "198.51.100.10");
	/* Ourselves skipped, so the third is the next one. */
	assert_string_equal(inet_ntoa(out[2].sin_addr), "203.0.113.1");
	assert_int_equal(ntohs(out[0].sin_port), 53);
	assert_int_equal(labdns_resolv_parse("", NULL, out, LABDNS_FWD_MAX), 0);
	assert_int_equal(labdns_resolv_parse("nameserver ::1\n", NULL, out, LABDNS_FWD_MAX), 0);
}

static void
test_servfail(void **state)
{
	uint8_t q[12] = { 0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 }, a[12];

	(void)state;
	assert_int_equal(labdns_servfail(q, 11, a, sizeof(a)), 0);
	assert_int_equal(labdns_servfail(q, sizeof(q), a, sizeof(a)), 12);
	assert_int_equal(a[0], 0xab);
	assert_int_equal(a[1], 0xcd);
	assert_int_equal(a[2], 0x81);      /* QR and RD kept */
	assert_int_equal(a[3] & 0x0f, 2);  /* SERVFAIL */
	assert_int_equal(a[5], 0);         /* no question echoed */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_pick_first_free),
		cmocka_unit_test(test_cidr_pick_none_left),
		cmocka_unit_test(test_state_host_line),
		cmocka_unit_test(test_host_rules),
		cmocka_unit_test(test_gateway_rules),
		cmocka_unit_test(test_resolv_parse),
		cmocka_unit_test(test_servfail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
