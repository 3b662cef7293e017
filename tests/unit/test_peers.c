/*
 * test_peers.c — TLS peers in a temporary rack directory with a real store
 * and real CAs: what a rack accepts of another (its own CA, an endpoint, a
 * domain) and refuses in one line, the CA files that follow the store (and
 * only once the store has the peer), the peer identity it makes, the lines
 * its peer router is given, its own domains kept off its peers', and the
 * names a host rack's DNS answers for its peers (a lab state of one host
 * rack, the lab library's own files).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/ca.h"
#include "rackd/peers.h"
#include "rackd/rack.h"
#include "rackd/store.h"

static char root[64];
static struct rack rack;
static char *ca_r2, *ca_r3;

/* The CA of a rack named `name`, made in its own directory under root. */
static char *
other_ca(const char *name)
{
	char dir[128], err[512];
	bool made;

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	if (mkdir(dir, 0700) == -1)
		return NULL;
	return ca_ensure(dir, name, &made, err, sizeof(err));
}

static int
setup(void **state)
{
	char path[4200], err[512];
	bool made;

	(void)state;
	log_init("test_peers", false);
	snprintf(root, sizeof(root), "/tmp/cx-peers.XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	memset(&rack, 0, sizeof(rack));
	str_copy(rack.name, sizeof(rack.name), "r1");
	snprintf(rack.dir, sizeof(rack.dir), "%s/r1", root);
	if (mkdir(rack.dir, 0700) == -1)
		return -1;
	rack.ca_pem = ca_ensure(rack.dir, "r1", &made, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/state.db", rack.dir);
	rack.store = store_open(path, err, sizeof(err));
	ca_r2 = other_ca("r2");
	ca_r3 = other_ca("r3");
	return rack.ca_pem && rack.store && ca_r2 && ca_r3 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	store_close(rack.store);
	free(rack.ca_pem);
	free(ca_r2);
	free(ca_r3);
	return remove_tree(root);
}

static struct st_peer
peer(const char *name, char *ca, const char *endpoint, const char *domain)
{
	struct st_peer p;

	memset(&p, 0, sizeof(p));
	str_copy(p.name, sizeof(p.name), name);
	p.ca = ca;
	str_copy(p.endpoint, sizeof(p.endpoint), endpoint);
	str_copy(p.internal_domain, sizeof(p.internal_domain), domain);
	return p;
}

static void
refused(struct st_peer p, const char *why)
{
	char err[1024] = "";

	assert_int_equal(peers_add(&rack, &p, err, sizeof(err)), -1);
	if (strstr(err, why) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, why);
	assert_false(peers_any(&rack));
}

static void
test_refuses_what_is_not_a_peer(void **state)
{
	(void)state;
	refused(peer("R2", ca_r2, "127.0.0.1:9", "r2-internal.localhost"), "is not a rack name");
	refused(peer("r1", rack.ca_pem, "127.0.0.1:9", "r1-internal.localhost"),
	    "cannot peer rack r1 with itself");
	/* r3's CA offered as r2's: the subject says whose it is. */
	refused(peer("r2", ca_r3, "127.0.0.1:9", "r2-internal.localhost"),
	    "not the CA of rack r2 (\"cx rack r2 CA\")");
	refused(peer("r2", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	    "127.0.0.1:9", "r2-internal.localhost"), "its CA certificate does not parse");
	refused(peer("r2", ca_r2, "somewhere:9", "r2-internal.localhost"),
	    "endpoint \"somewhere:9\" is not IPv4:PORT");
	refused(peer("r2", ca_r2, "127.0.0.1:9", "not a domain"), "is not a domain name");
	/* Its domain must not take this rack's names. */
	refused(peer("r2", ca_r2, "127.0.0.1:9", "r1-internal.localhost"),
	    "overlaps this rack's domain_internal r1-internal.localhost");
	refused(peer("r2", ca_r2, "127.0.0.1:9", "localhost"), "overlaps this rack's domain");
}

/* The peer router's lines are r2's alone (at 198.51.100.12:8443). */
static void
only_r2_in_snapshot(void)
{
	char want[4200], *lines;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(peers_snapshot_lines(&rack, &b), 0);
	lines = buf_cstr(&b);
	snprintf(want, sizeof(want), "peer r2 %s/peers/r2.pem\n"
	    "egress r2-internal.example.com r2 198.51.100.12 8443\n", rack.dir);
	assert_string_equal(lines, want);
	free(lines);
}

/* Runs sql on the rack's database through a connection of its own. */
static void
sql(const char *text)
{
	char path[4200], *msg = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/state.db", rack.dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", text, msg);
	sqlite3_close(db);
}

static bool
exists(const char *fmt, const char *arg)
{
	char path[4200];

	snprintf(path, sizeof(path), fmt, rack.dir, arg);
	return access(path, F_OK) == 0;
}

static void
test_ca_form_and_store_failure(void **state)
{
	char err[1024] = "", *two;
	struct st_peer p;

	(void)state;
	/* One certificate: the router would read the first and nothing after. */
	two = xasprintf("%s%s", ca_r2, ca_r3);  /* the two PEMs differ in length */
	refused(peer("r2", two, "127.0.0.1:9", "r2-internal.localhost"),
	    "its CA holds more than one PEM block");
	free(two);

	/* A store that refuses the row: no CA file is left for a router. */
	sql("CREATE TRIGGER no_peers BEFORE INSERT ON peers BEGIN SELECT RAISE(ABORT, 'full'); END");
	p = peer("r2", ca_r2, "127.0.0.1:9", "r2-internal.example.com");
	assert_int_equal(peers_add(&rack, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot record peer r2"));
	assert_false(exists("%s/peers/%s.pem", "r2"));
	assert_false(exists("%s/peers/%s.pem.new", "r2"));
	sql("DROP TRIGGER no_peers");
	assert_false(peers_any(&rack));
}

static void
test_own_domains_and_duplicates(void **state)
{
	char err[1024] = "";
	struct st_peer p = peer("r2", ca_r2, "198.51.100.12:8443", "r2-internal.example.com");
	struct st_peer q;

	(void)state;
	/* The rack's service names (SERVICE.APP.r1.local) are its own too. */
	refused(peer("r2", ca_r2, "127.0.0.1:9", "local"), "overlaps this rack's service names "
	    "r1.local");
	refused(peer("r2", ca_r2, "127.0.0.1:9", "app.r1.local"), "overlaps this rack's service "
	    "names r1.local");
	assert_int_equal(peers_add(&rack, &p, err, sizeof(err)), 0);

	/* This rack's domains may not become the peer's, nor hold them. */
	assert_int_equal(peers_check_own_domain(&rack, "domain_internal", "example.com", err,
	    sizeof(err)), -1);
	if (strstr(err, "domain_internal example.com overlaps the internal domain "
	    "r2-internal.example.com of peer r2") == NULL)
		fail_msg("%s", err);
	assert_int_equal(peers_check_own_domain(&rack, "domain", "x.r2-internal.example.com", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "cx rack unpeer r1 r2"));
	assert_int_equal(peers_check_own_domain(&rack, "domain", "r1.example.org", err,
	    sizeof(err)), 0);
	assert_int_equal(peers_check_own_domain(&rack, "build_max_mb", "example.com", err,
	    sizeof(err)), 0);

	/* Two peers with one domain (a store written by other means): the
	 * router would refuse the table, so the second is left out. */
	q = peer("r3", ca_r3, "198.51.100.13:8443", "r2-internal.example.com");
	q.created = now_unix() + 60;   /* the peer peered first keeps its domain */
	assert_int_equal(store_peer_put(rack.store, &q), 0);
	only_r2_in_snapshot();
	assert_int_equal(store_peer_delete(rack.store, "r3"), 0);
	assert_int_equal(peers_remove(&rack, "r2", err, sizeof(err)), 0);
}

/* Whether host rack r1's DNS (its hosts file in the lab) has line. */
static bool
dns_has(const char *line)
{
	char path[4200], *text;
	bool has;

	snprintf(path, sizeof(path), "%s/lab/hosts-r1", root);
	text = read_file(path, 1 << 20, NULL);
	has = text != NULL && strstr(text, line) != NULL;
	free(text);
	return has;
}

static void
test_host_rack_dns(void **state)
{
	char err[1024] = "", path[4200];
	struct st_peer p = peer("r2", ca_r2, "198.51.100.12:8443", "a.example.com");
	static const char lab_state[] = "lab cxt 2 1\n"
	    "rack r1 1 10.200.0.0/16 1 - host 198.51.100.11 -\n";

	(void)state;
	snprintf(path, sizeof(path), "%s/lab", root);
	assert_int_equal(mkdir_p(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/lab/state", root);
	assert_int_equal(write_file_atomic(path, lab_state, strlen(lab_state), 0644), 0);
	/* A name of the rack's own, not a peer's: never touched here. */
	snprintf(path, sizeof(path), "%s/lab/hosts-r1", root);
	assert_int_equal(write_file_atomic(path, "*.r1.example 198.51.100.11\n", 27, 0644), 0);
	str_copy(rack.home, sizeof(rack.home), root);
	str_copy(rack.egress_addr, sizeof(rack.egress_addr), "10.200.0.3");
	rack.host = true;

	assert_int_equal(peers_add(&rack, &p, err, sizeof(err)), 0);
	assert_true(dns_has("*.a.example.com 10.200.0.3\n"));
	/* Peered again with another domain: the old names go. */
	str_copy(p.internal_domain, sizeof(p.internal_domain), "b.example.com");
	assert_int_equal(peers_add(&rack, &p, err, sizeof(err)), 0);
	assert_true(dns_has("*.b.example.com 10.200.0.3\n"));
	assert_false(dns_has("a.example.com"));

	/* A name set for a peer the store no longer has (the daemon stopped
	 * in between, say) goes at the start-up sync. */
	assert_int_equal(lab_rack_dns_set(root, "r1", "*.gone.example.com", "10.200.0.3"), 0);
	snprintf(path, sizeof(path), "%s/peers-dns", rack.dir);
	assert_int_equal(write_file_atomic(path, "*.b.example.com\n*.gone.example.com\n", 35,
	    0644), 0);
	assert_int_equal(peers_files_sync(&rack, err, sizeof(err)), 0);
	assert_false(dns_has("gone.example.com"));
	assert_true(dns_has("*.b.example.com 10.200.0.3\n"));

	assert_int_equal(peers_remove(&rack, "r2", err, sizeof(err)), 0);
	assert_false(dns_has("example.com 10.200.0.3"));
	assert_true(dns_has("*.r1.example 198.51.100.11\n"));
	rack.host = false;
}

static void
test_peer_files_identity_and_lines(void **state)
{
	char err[1024], path[4200], cn[64], *onfile;
	struct st_peer p = peer("r2", ca_r2, "198.51.100.12:8443", "r2-internal.example.com");
	struct tls_id *id;
	struct stat sb;

	(void)state;
	assert_int_equal(peers_add(&rack, &p, err, sizeof(err)), 0);
	assert_true(peers_any(&rack));
	{
		/* r3 may not take r2's names (a parent domain of them). */
		struct st_peer q = peer("r3", ca_r3, "198.51.100.13:8443", "example.com");

		assert_int_equal(peers_add(&rack, &q, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "overlaps peer r2's r2-internal.example.com"));
	}
	/* r2's CA on file for the router; r1's own identity made, key 0600. */
	snprintf(path, sizeof(path), "%s/peers/r2.pem", rack.dir);
	onfile = read_file(path, 1 << 16, NULL);
	assert_non_null(onfile);
	assert_string_equal(onfile, ca_r2);
	free(onfile);
	snprintf(path, sizeof(path), "%s/peer.key", rack.dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);
	{
		char cert[4200];

		snprintf(cert, sizeof(cert), "%s/peer.pem", rack.dir);
		id = tls_id_load(cert, path, err, sizeof(err));
	}
	assert_non_null(id);
	tls_id_cn(id, cn, sizeof(cn));
	assert_string_equal(cn, "r1");
	tls_id_free(id);

	only_r2_in_snapshot();

	/* A stray CA file goes at the next sync; r2's is written again. */
	snprintf(path, sizeof(path), "%s/peers/r9.pem", rack.dir);
	assert_int_equal(write_file_atomic(path, "x", 1, 0644), 0);
	snprintf(path, sizeof(path), "%s/peers/r2.pem", rack.dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(peers_files_sync(&rack, err, sizeof(err)), 0);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/peers/r9.pem", rack.dir);
	assert_int_equal(access(path, F_OK), -1);

	assert_int_equal(peers_remove(&rack, "r2", err, sizeof(err)), 0);
	assert_int_equal(peers_remove(&rack, "r2", err, sizeof(err)), 1);
	assert_false(peers_any(&rack));
	snprintf(path, sizeof(path), "%s/peers/r2.pem", rack.dir);
	assert_int_equal(access(path, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_what_is_not_a_peer),
		cmocka_unit_test(test_peer_files_identity_and_lines),
		cmocka_unit_test(test_ca_form_and_store_failure),
		cmocka_unit_test(test_own_domains_and_duplicates),
		cmocka_unit_test(test_host_rack_dns),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
