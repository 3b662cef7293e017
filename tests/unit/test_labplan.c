/*
 * test_labplan.c — the lab's pure functions, as any user: the state file's
 * text (parse, format, and the lines it refuses), the VPC CIDR and allow-list
 * checks, the nftables ruleset of a rack, the address plan and names, and
 * process address allocation. Nothing here touches a namespace, so nothing
 * needs root or skips; test_lab.c runs the same lab for real, as root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "lab/lab_int.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* A state of three racks, a-b peered, and two processes; its text as
 * lab_state_format writes it. */
static const char state_text[] =
    "# cx lab state: written whole under lab/lock; see src/lab/state.c\n"
    "lab cx1a2b 4 2\n"
    "rack a 1 10.1.0.0/16 12 -\n"
    "rack b 2 10.2.0.0/16 10 10.9.0.0/16,192.168.1.7/32\n"
    "rack c 3 172.16.0.0/28 10 -\n"
    "peer a b 1\n"
    "proc a web-1 10.1.0.10\n"
    "proc a web-2.x_y 10.1.0.11\n"
    "proc b api-3 10.2.0.10 shop\n";

static char *
must_format(const struct lab_state *st)
{
	char *text = lab_state_format(st);

	assert_non_null(text);
	return text;
}

/* ---- state: parse and format -------------------------------------------- */

static void
test_state_parse(void **state)
{
	struct lab_state st;
	char err[256] = "";

	(void)state;
	assert_int_equal(lab_state_parse(state_text, &st, err, sizeof(err)), 0);
	assert_string_equal(st.prefix, "cx1a2b");
	assert_int_equal(st.next_rack, 4);
	assert_int_equal(st.next_peer, 2);
	assert_int_equal(st.nracks, 3);
	assert_string_equal(st.racks[0].name, "a");
	assert_int_equal(st.racks[0].id, 1);
	assert_int_equal(st.racks[0].net, IP4(10, 1, 0, 0));
	assert_int_equal(st.racks[0].prefix, 16);
	assert_int_equal(st.racks[0].next_proc, 12);
	assert_string_equal(st.racks[0].whitelist, "");
	assert_string_equal(st.racks[1].whitelist, "10.9.0.0/16,192.168.1.7/32");
	assert_int_equal(st.racks[2].net, IP4(172, 16, 0, 0));
	assert_int_equal(st.racks[2].prefix, 28);
	assert_int_equal(st.npeers, 1);
	assert_string_equal(st.peers[0].a, "a");
	assert_string_equal(st.peers[0].b, "b");
	assert_int_equal(st.peers[0].id, 1);
	assert_int_equal(st.nprocs, 3);
	assert_string_equal(st.procs[1].rack, "a");
	assert_string_equal(st.procs[1].id, "web-2.x_y");
	assert_int_equal(st.procs[1].addr, IP4(10, 1, 0, 11));
	assert_string_equal(st.procs[1].app, "");      /* a probe's */
	assert_string_equal(st.procs[2].app, "shop");
	lab_state_free(&st);
}

static void
test_state_format_round_trip(void **state)
{
	struct lab_state st, again;
	char err[256] = "";
	char *text, *text2;

	(void)state;
	assert_int_equal(lab_state_parse(state_text, &st, err, sizeof(err)), 0);
	text = must_format(&st);
	assert_string_equal(text, state_text);
	assert_int_equal(lab_state_parse(text, &again, err, sizeof(err)), 0);
	text2 = must_format(&again);
	assert_string_equal(text2, text);
	free(text);
	free(text2);
	lab_state_free(&st);
	lab_state_free(&again);
}

static void
test_state_empty(void **state)
{
	struct lab_state st;
	char err[256] = "";
	char *text;

	(void)state;
	/* No file yet, blank lines, comments: an empty lab with ids from 1. */
	assert_int_equal(lab_state_parse("", &st, err, sizeof(err)), 0);
	assert_int_equal(st.next_rack, 1);
	assert_int_equal(st.next_peer, 1);
	assert_int_equal(st.nracks + st.npeers + st.nprocs, 0);
	assert_string_equal(st.prefix, "");
	text = must_format(&st);
	assert_string_equal(text,
	    "# cx lab state: written whole under lab/lock; see src/lab/state.c\nlab - 1 1\n");
	free(text);
	lab_state_free(&st);
	assert_int_equal(lab_state_parse("\n# a comment\n   \nlab - 3 5", &st, err, sizeof(err)), 0);
	assert_string_equal(st.prefix, "");
	assert_int_equal(st.next_rack, 3);
	assert_int_equal(st.next_peer, 5);
	lab_state_free(&st);
}

static void
test_state_refuses_malformed_lines(void **state)
{
	static const char *bad[] = {
		"frob a b c",                                   /* unknown record */
		"lab cx1a2b 1",                                 /* too few fields */
		"lab cx1a2b 1 1 extra",                         /* too many */
		"lab cx1a2b3c4d 1 1",                           /* prefix too long */
		"lab cx1a2b 0 1",                               /* ids start at 1 */
		"lab cx1a2b 1 16383",                           /* past LAB_PEERS_MAX */
		"lab cx1a2b x 1",
		"rack a 1 10.1.0.0/16 10",                      /* no whitelist field */
		"rack a 1 10.1.0.0/16 10 - extra",
		"rack Bad_Name 1 10.1.0.0/16 10 -",
		"rack a 0 10.1.0.0/16 10 -",
		"rack a 64517 10.1.0.0/16 10 -",                /* past LAB_RACKS_MAX */
		"rack a 1 10.1.0.1/16 10 -",                    /* host bits set */
		"rack a 1 10.1.0.0 10 -",
		"rack a 1 10.1.0.0/16 -1 -",
		"rack a 1 10.1.0.0/16 4294967296 -",
		"peer a b",
		"peer a B 1",
		"peer a b 0",
		"proc a web-1",
		"proc a .hidden 10.1.0.10",
		"proc a -dash 10.1.0.10",
		"proc a web/1 10.1.0.10",
		"proc a web-1 10.1.0.256",
		"proc A web-1 10.1.0.10",
		"proc a web-1 10.1.0.10 Shop",
		"proc a web-1 10.1.0.10 shop extra",
	};
	char err[256], text[300], want[300];
	struct lab_state st;

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(bad); i++) {
		/* A good line before the bad one: the whole parse fails and
		 * leaves nothing allocated behind. */
		snprintf(text, sizeof(text), "rack z 9 10.99.0.0/16 10 -\n%s\n", bad[i]);
		err[0] = '\0';
		if (lab_state_parse(text, &st, err, sizeof(err)) != -1)
			fail_msg("accepted the bad line \"%s\"", bad[i]);
		snprintf(want, sizeof(want), "bad line \"%s\"", bad[i]);
		assert_string_equal(err, want);
		assert_int_equal(st.nracks, 0);
		assert_null(st.racks);
	}
}

static void
test_state_refuses_long_line(void **state)
{
	char *text = malloc(2048), err[256] = "";
	struct lab_state st;

	(void)state;
	assert_non_null(text);
	memset(text, 'x', 2047);
	text[2047] = '\0';
	assert_int_equal(lab_state_parse(text, &st, err, sizeof(err)), -1);
	assert_string_equal(err, "line too long");
	assert_null(st.racks);
	free(text);
}

/* ---- the CIDR of a VPC ---------------------------------------------------- */

static void
test_cidr_check_accepts_private_ranges(void **state)
{
	static const struct {
		const char *cidr;
		uint32_t net;
		int prefix;
	} good[] = {
		{ "10.1.0.0/16", IP4(10, 1, 0, 0), 16 },
		{ "10.0.0.0/8", IP4(10, 0, 0, 0), 8 },
		{ "172.16.0.0/12", IP4(172, 16, 0, 0), 12 },
		{ "172.31.255.240/28", IP4(172, 31, 255, 240), 28 },
		{ "192.168.7.0/24", IP4(192, 168, 7, 0), 24 },
	};
	char err[256] = "";

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(good); i++) {
		uint32_t net = 0;
		int prefix = 0;

		if (lab_cidr_check(good[i].cidr, &net, &prefix, err, sizeof(err)) != 0)
			fail_msg("refused %s: %s", good[i].cidr, err);
		assert_int_equal(net, good[i].net);
		assert_int_equal(prefix, good[i].prefix);
	}
}

static void
test_cidr_check_refusals(void **state)
{
	static const struct {
		const char *cidr;
		const char *why;
	} bad[] = {
		{ "10.1.0.1/16", "bad CIDR \"10.1.0.1/16\"" },  /* host bits */
		{ "10.1.0.0", "bad CIDR" },
		{ "10.1.0.0/", "bad CIDR" },
		{ "10.1.0.0/33", "bad CIDR" },
		{ "ten/8", "bad CIDR" },
		{ "", "bad CIDR" },
		{ "10.1.0.0/29", "prefix must be /8 to /28" },
		{ "10.0.0.0/7", "prefix must be /8 to /28" },
		{ "0.0.0.0/0", "prefix must be /8 to /28" },
		{ "8.8.0.0/16", "CIDR 8.8.0.0/16 is not a private range" },
		{ "172.32.0.0/16", "not a private range" },     /* just past 172.16/12 */
		{ "172.0.0.0/11", "not a private range" },      /* holds 172.16/12, and more */
		{ "192.168.0.0/15", "not a private range" },
		{ "198.18.0.0/16", "not a private range" },     /* the lab's internet */
		{ "169.254.0.0/16", "not a private range" },    /* the peering links */
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(bad); i++) {
		uint32_t net;
		int prefix;

		err[0] = '\0';
		if (lab_cidr_check(bad[i].cidr, &net, &prefix, err, sizeof(err)) != -1)
			fail_msg("accepted %s", bad[i].cidr);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("%s: \"%s\" does not say \"%s\"", bad[i].cidr, err, bad[i].why);
	}
}

static void
test_cidr_overlap(void **state)
{
	(void)state;
	assert_true(lab_cidr_overlap(IP4(10, 2, 0, 0), 16, IP4(10, 2, 128, 0), 17));
	assert_true(lab_cidr_overlap(IP4(10, 2, 128, 0), 17, IP4(10, 2, 0, 0), 16));
	assert_true(lab_cidr_overlap(IP4(10, 0, 0, 0), 8, IP4(10, 200, 0, 0), 16));
	assert_true(lab_cidr_overlap(IP4(10, 1, 0, 0), 16, IP4(10, 1, 0, 0), 16));
	assert_false(lab_cidr_overlap(IP4(10, 1, 0, 0), 16, IP4(10, 2, 0, 0), 16));
	assert_false(lab_cidr_overlap(IP4(10, 2, 0, 0), 17, IP4(10, 2, 128, 0), 17));
	assert_false(lab_cidr_overlap(IP4(172, 16, 0, 0), 28, IP4(172, 16, 0, 16), 28));
}

/* ---- the allow list (internal_router_whitelist) ---------------------------- */

static void
test_whitelist_check_normalises(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "", "" },
		{ " , ,", "" },
		{ "10.9.0.0/16", "10.9.0.0/16" },
		{ "10.9.0.0/16, 192.168.1.7", "10.9.0.0/16,192.168.1.7/32" },
		{ "  203.0.113.0/24 ,127.0.0.2/32 ", "203.0.113.0/24,127.0.0.2/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },                   /* any range, not only private */
	};
	char out[256], err[256] = "";

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(good); i++) {
		memset(out, 'X', sizeof(out));
		if (lab_whitelist_check(good[i].in, out, sizeof(out), err, sizeof(err)) != 0)
			fail_msg("refused \"%s\": %s", good[i].in, err);
		assert_string_equal(out, good[i].out);
	}
}

static void
test_whitelist_check_refusals(void **state)
{
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "10.9.0.0/33", "bad CIDR \"10.9.0.0/33\" in the whitelist" },
		{ "10.9.0.1/16", "bad CIDR \"10.9.0.1/16\" in the whitelist" },
		{ "10.9.0.0/16,nope", "bad CIDR \"nope/32\" in the whitelist" },
		{ "10.9.0.0/16;10.8.0.0/16", "bad CIDR" },
		{ "1234567890.1234567890.1234567890/8", "bad CIDR" },  /* longer than a CIDR */
	};
	char out[256] = "unchanged", err[256];

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (lab_whitelist_check(bad[i].in, out, sizeof(out), err, sizeof(err)) != -1)
			fail_msg("accepted \"%s\"", bad[i].in);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("\"%s\": \"%s\" does not say \"%s\"", bad[i].in, err, bad[i].why);
		assert_string_equal(out, "unchanged");  /* a refusal leaves out alone */
	}
	/* What does not fit the rack's whitelist field is refused, not cut. */
	assert_int_equal(lab_whitelist_check("10.9.0.0/16,10.8.0.0/16", out, 16, err, sizeof(err)), -1);
	assert_string_equal(err, "whitelist too long (at most 15 bytes)");
	assert_string_equal(out, "unchanged");
}

/* ---- the security groups as nftables text ----------------------------------- */

static void
parse_or_fail(const char *text, struct lab_state *st)
{
	char err[256] = "";

	if (lab_state_parse(text, st, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static void
assert_has(const char *text, const char *want)
{
	if (strstr(text, want) == NULL)
		fail_msg("the ruleset lacks \"%s\":\n%s", want, text);
}

static void
assert_starts(const char *text, const char *want)
{
	if (strncmp(text, want, strlen(want)) != 0)
		fail_msg("the ruleset does not start with \"%s\":\n%s", want, text);
}

static void
test_rules_of_a_peered_rack(void **state)
{
	struct lab_state st;
	char *rules;

	(void)state;
	parse_or_fail(state_text, &st);
	rules = lab_rules(&st, lab_find_rack(&st, "b"), true);
	assert_non_null(rules);
	/* A new namespace has no table to replace. */
	assert_starts(rules, "table inet cx {\n");
	assert_null(strstr(rules, "delete"));
	/* b's peer a, on the link to rack 1, with a's CIDR; b's whitelist. */
	assert_has(rules, "\t\telements = { \"peer1\" . 10.1.0.0/16 }\n");
	assert_has(rules, "\t\tauto-merge\n\t\telements = { 10.9.0.0/16,192.168.1.7/32 }\n");
	/* Every accept names its input interface. */
	assert_has(rules, "\t\tiifname \"vpc\" ip saddr 10.2.0.0/16 accept\n");
	assert_has(rules, "\t\tiifname \"pub\" ip daddr 198.18.1.2 tcp dport { " LAB_ROUTER_PORTS " } accept\n");
	assert_has(rules, "\t\tiifname . ip saddr @peers ip daddr 10.2.0.2 tcp dport { "
	    LAB_ROUTER_PORTS " } accept\n");
	assert_has(rules, "\t\tiifname \"peer*\" ip saddr @whitelist ip daddr 10.2.0.2 tcp dport { "
	    LAB_ROUTER_PORTS " } accept\n");
	assert_has(rules, "\t\tiifname \"vpc\" oifname . ip daddr @peers ip saddr 10.2.0.0/16 accept\n");
	assert_has(rules, "\t\toifname \"pub\" ip saddr 10.2.0.0/16 masquerade\n");
	/* Nothing new from outside reaches a process: both filters drop. */
	assert_has(rules, "\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n");
	assert_has(rules, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n");
	assert_null(strstr(rules, "10.3."));    /* c is not b's peer */
	assert_null(strstr(rules, "172.16."));
	free(rules);

	/* Rebuilt in place: declare, delete, define, in one transaction. */
	rules = lab_rules(&st, lab_find_rack(&st, "a"), false);
	assert_starts(rules, "table inet cx {}\ndelete table inet cx\ntable inet cx {\n");
	assert_has(rules, "\t\telements = { \"peer2\" . 10.2.0.0/16 }\n");
	free(rules);
	lab_state_free(&st);
}

static void
test_rules_of_a_lone_rack(void **state)
{
	struct lab_state st;
	char *rules;

	(void)state;
	/* c has no peer and no whitelist; a peering that names a rack gone
	 * from the state is passed over. */
	parse_or_fail("rack c 3 172.16.0.0/28 10 -\npeer c gone 7\n", &st);
	rules = lab_rules(&st, &st.racks[0], true);
	assert_has(rules, "\tset peers {\n\t\ttype ifname . ipv4_addr\n\t\tflags interval\n\t}\n");
	assert_has(rules, "\tset whitelist {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n");
	assert_null(strstr(rules, "elements"));
	assert_has(rules, "\t\tiifname \"pub\" ip daddr 198.18.1.3 tcp dport");
	assert_has(rules, "\t\toifname \"pub\" ip saddr 172.16.0.0/28 masquerade\n");
	free(rules);
	lab_state_free(&st);
}

static void
test_rules_peer_element(void **state)
{
	struct lab_rack o = { .name = "a", .id = 12, .net = IP4(10, 1, 0, 0), .prefix = 16 };
	char *add = lab_rules_peer(&o, true), *del = lab_rules_peer(&o, false);

	(void)state;
	assert_string_equal(add, "add element inet cx peers { \"peer12\" . 10.1.0.0/16 }\n");
	assert_string_equal(del, "delete element inet cx peers { \"peer12\" . 10.1.0.0/16 }\n");
	free(add);
	free(del);
}

/* ---- the address plan and names ---------------------------------------------- */

static void
test_addresses_and_names(void **state)
{
	struct lab_state st = { .prefix = "cx1a2b" };
	struct lab_rack r1 = { .name = "a", .id = 1, .net = IP4(10, 1, 0, 0), .prefix = 16 };
	struct lab_rack r254 = { .id = 254 }, r255 = { .id = 255 };
	struct lab_peering p = { .id = 3 };
	struct lab_rack_info info;
	char s[LAB_NETNS_MAX];

	(void)state;
	assert_int_equal(lab_rack_public(&r1), IP4(198, 18, 1, 1));
	assert_int_equal(lab_rack_public(&r254), IP4(198, 18, 1, 254));
	assert_int_equal(lab_rack_public(&r255), IP4(198, 18, 2, 1));
	assert_int_equal(lab_rack_gateway(&r1), IP4(10, 1, 0, 1));
	assert_int_equal(lab_rack_private(&r1), IP4(10, 1, 0, 2));
	assert_int_equal(lab_peer_link(&p), IP4(169, 254, 0, 12));
	lab_ip4(IP4(198, 18, 0, 53), s, sizeof(s));
	assert_string_equal(s, "198.18.0.53");
	lab_mac(1, IP4(10, 1, 0, 10), s, sizeof(s));
	assert_string_equal(s, "02:01:0a:01:00:0a");
	lab_ns_internet(&st, s, sizeof(s));
	assert_string_equal(s, "cx1a2b-inet");
	lab_ns_rack(&st, &r1, s, sizeof(s));
	assert_string_equal(s, "cx1a2b-r1");
	lab_ns_proc(&st, &r1, "web-1", s, sizeof(s));
	assert_string_equal(s, "cx1a2b-r1-web-1");

	str_copy(r1.whitelist, sizeof(r1.whitelist), "10.9.0.0/16");
	lab_rack_fill(&st, &r1, &info);
	assert_string_equal(info.name, "a");
	assert_string_equal(info.cidr, "10.1.0.0/16");
	assert_string_equal(info.public_addr, "198.18.1.1");
	assert_string_equal(info.private_addr, "10.1.0.2");
	assert_string_equal(info.gateway_addr, "10.1.0.1");
	assert_string_equal(info.netns, "cx1a2b-r1");
	assert_string_equal(info.whitelist, "10.9.0.0/16");
	assert_int_equal(info.id, 1);
}

static void
test_proc_id_ok(void **state)
{
	char longest[LAB_PROC_ID_MAX + 2];

	(void)state;
	assert_true(lab_proc_id_ok("web-1"));
	assert_true(lab_proc_id_ok("exec-1234"));
	assert_true(lab_proc_id_ok("a.b_c-D9"));
	assert_false(lab_proc_id_ok(""));
	assert_false(lab_proc_id_ok(".hidden"));
	assert_false(lab_proc_id_ok("-flag"));
	assert_false(lab_proc_id_ok("a/b"));
	assert_false(lab_proc_id_ok("a b"));
	memset(longest, 'a', sizeof(longest));
	longest[LAB_PROC_ID_MAX] = '\0';
	assert_true(lab_proc_id_ok(longest));
	longest[LAB_PROC_ID_MAX] = 'a';
	longest[LAB_PROC_ID_MAX + 1] = '\0';
	assert_false(lab_proc_id_ok(longest));
}

/* ---- process addresses ---------------------------------------------------------- */

static void
test_proc_alloc(void **state)
{
	struct lab_state st;
	struct lab_rack *c;

	(void)state;
	/* c is a /28: hosts .1 to .14, processes from .10, so five of them. */
	parse_or_fail("rack c 3 172.16.0.0/28 10 -\n"
		      "proc c p10 172.16.0.10\n"
		      "proc c p11 172.16.0.11\n"
		      "proc other p12 172.16.0.12\n", &st);
	c = lab_find_rack(&st, "c");
	assert_non_null(c);
	/* Taken addresses are skipped; another rack's process does not count. */
	assert_int_equal(lab_proc_alloc(&st, c), 12);
	c->next_proc = 14;
	assert_int_equal(lab_proc_alloc(&st, c), 14);
	/* Past the last host, or below the first process address: wrap. */
	c->next_proc = 15;
	assert_int_equal(lab_proc_alloc(&st, c), 12);
	c->next_proc = 3;
	assert_int_equal(lab_proc_alloc(&st, c), 12);
	/* Full: 0, and the state is as it was. */
	for (uint32_t off = 12; off <= 14; off++) {
		struct lab_proc *p = lab_add_proc(&st);

		str_copy(p->rack, sizeof(p->rack), "c");
		snprintf(p->id, sizeof(p->id), "q%u", off);
		p->addr = IP4(172, 16, 0, 0) + off;
	}
	c->next_proc = 10;
	assert_int_equal(lab_proc_alloc(&st, c), 0);
	assert_int_equal(c->next_proc, 10);
	assert_int_equal(st.nprocs, 6);
	lab_state_free(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_parse),
		cmocka_unit_test(test_state_format_round_trip),
		cmocka_unit_test(test_state_empty),
		cmocka_unit_test(test_state_refuses_malformed_lines),
		cmocka_unit_test(test_state_refuses_long_line),
		cmocka_unit_test(test_cidr_check_accepts_private_ranges),
		cmocka_unit_test(test_cidr_check_refusals),
		cmocka_unit_test(test_cidr_overlap),
		cmocka_unit_test(test_whitelist_check_normalises),
		cmocka_unit_test(test_whitelist_check_refusals),
		cmocka_unit_test(test_rules_of_a_peered_rack),
		cmocka_unit_test(test_rules_of_a_lone_rack),
		cmocka_unit_test(test_rules_peer_element),
		cmocka_unit_test(test_addresses_and_names),
		cmocka_unit_test(test_proc_id_ok),
		cmocka_unit_test(test_proc_alloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
