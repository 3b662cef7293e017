/*
 * test_remote.c — remote.c alone: addresses (HOST[:PORT], RACK_URL),
 * fingerprints as users paste them, and the registry under a temporary
 * $CX_HOME (modes, what exists when, lookup by URL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/remote.h"
#include "common/util.h"

static void
test_address(void **state)
{
	char url[REMOTE_URL_MAX], err[512];

	(void)state;
	assert_int_equal(remote_parse_address("10.0.0.5", url, sizeof(url), err, sizeof(err)), 0);
	assert_string_equal(url, "https://10.0.0.5:5443");
	assert_int_equal(remote_parse_address("127.0.0.1:8443", url, sizeof(url), err, sizeof(err)), 0);
	assert_string_equal(url, "https://127.0.0.1:8443");
	assert_int_equal(remote_parse_address("HTTPS://Rack.Example.COM:1/", url, sizeof(url), err,
	    sizeof(err)), 0);
	assert_string_equal(url, "https://rack.example.com:1");
	assert_int_equal(remote_parse_address("http://h:1", url, sizeof(url), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "https only"));
	assert_int_equal(remote_parse_address("h:0", url, sizeof(url), err, sizeof(err)), -1);
	assert_int_equal(remote_parse_address("h:65536", url, sizeof(url), err, sizeof(err)), -1);
	assert_int_equal(remote_parse_address("h:12x", url, sizeof(url), err, sizeof(err)), -1);
	assert_int_equal(remote_parse_address("", url, sizeof(url), err, sizeof(err)), -1);
	assert_int_equal(remote_parse_address("a..b", url, sizeof(url), err, sizeof(err)), -1);
	assert_int_equal(remote_parse_address("a b", url, sizeof(url), err, sizeof(err)), -1);
	assert_int_equal(remote_parse_address("h/x", url, sizeof(url), err, sizeof(err)), -1);
	assert_int_equal(remote_parse_address("[::1]:5443", url, sizeof(url), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IPv6"));
}

static void
test_rack_url(void **state)
{
	char url[REMOTE_URL_MAX], pw[64], err[512];

	(void)state;
	assert_int_equal(remote_parse_rack_url("https://convox:s3cret@10.0.0.5:5443", url,
	    sizeof(url), pw, sizeof(pw), err, sizeof(err)), 0);
	assert_string_equal(url, "https://10.0.0.5:5443");
	assert_string_equal(pw, "s3cret");
	/* Percent-encoded, with an '@' and a ':' inside; the last '@' ends it. */
	assert_int_equal(remote_parse_rack_url("https://u:a%40b:c@rack", url, sizeof(url), pw,
	    sizeof(pw), err, sizeof(err)), 0);
	assert_string_equal(pw, "a@b:c");
	assert_string_equal(url, "https://rack:5443");
	assert_int_equal(remote_parse_rack_url("http://convox:p@h", url, sizeof(url), pw,
	    sizeof(pw), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "https://"));
	assert_int_equal(remote_parse_rack_url("https://h:5443", url, sizeof(url), pw, sizeof(pw),
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no password"));
	assert_int_equal(remote_parse_rack_url("https://convox:@h", url, sizeof(url), pw,
	    sizeof(pw), err, sizeof(err)), -1);
	assert_int_equal(remote_parse_rack_url("https://convox:p@h:99999", url, sizeof(url), pw,
	    sizeof(pw), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "RACK_URL: "));
	assert_int_equal(remote_parse_rack_url("https://c:0123456789@h", url, sizeof(url), pw, 8,
	    err, sizeof(err)), -1);
}

static void
test_fingerprint(void **state)
{
	const char *want = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
	    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
	char out[REMOTE_FP_SIZE];

	(void)state;
	assert_int_equal(remote_parse_fingerprint(want, out), 0);
	assert_string_equal(out, want);
	assert_int_equal(remote_parse_fingerprint("SHA256:00112233445566778899aabbccddeeff"
	    "00112233445566778899AABBCCDDEEFF", out), 0);
	assert_string_equal(out, want);
	assert_int_equal(remote_parse_fingerprint("sha256=00:11:22:33:44:55:66:77:88:99:aa:bb:cc:"
	    "dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff", out), 0);
	assert_string_equal(out, want);
	assert_int_equal(remote_parse_fingerprint("00:11", out), -1);
	assert_int_equal(remote_parse_fingerprint("", out), -1);
	/* 33 bytes, an odd digit, a colon inside a byte, a non-hex digit */
	assert_int_equal(remote_parse_fingerprint("00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff00", out), -1);
	assert_int_equal(remote_parse_fingerprint("0112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff", out), -1);
	assert_int_equal(remote_parse_fingerprint("0:0112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff", out), -1);
	assert_int_equal(remote_parse_fingerprint("g0112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff", out), -1);
}

static void
test_registry(void **state)
{
	char home[64], path[256], err[512], name[64];
	struct remote r;
	struct stat st;
	char **names;
	size_t n;

	(void)state;
	snprintf(home, sizeof(home), "/tmp/cx-remote.XXXXXX");
	assert_non_null(mkdtemp(home));
	assert_false(remote_exists(home, "far"));
	assert_null(remote_names(home, &n));
	assert_int_equal(n, 0);
	assert_int_equal(remote_load(home, "far", &r, err, sizeof(err)), -1);

	assert_int_equal(remote_save(home, "far", "https://10.0.0.5:5443", "pw1",
	    "-----BEGIN CERTIFICATE-----\n", err, sizeof(err)), 0);
	assert_int_equal(remote_save(home, "alpha", "https://10.0.0.6:5443", "pw2", "ca\n", err,
	    sizeof(err)), 0);
	assert_int_equal(remote_save(home, "Bad Name", "https://h:1", "p", "c", err, sizeof(err)),
	    -1);
	assert_true(remote_exists(home, "far"));
	assert_false(remote_exists(home, "../far"));
	snprintf(path, sizeof(path), "%s/remotes/far", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/remotes/far/password", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(remote_load(home, "far", &r, err, sizeof(err)), 0);
	assert_string_equal(r.name, "far");
	assert_string_equal(r.url, "https://10.0.0.5:5443");
	assert_string_equal(r.password, "pw1");
	snprintf(path, sizeof(path), "%s/remotes/far/ca.pem", home);
	assert_string_equal(r.ca_path, path);

	names = remote_names(home, &n);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "alpha");
	assert_string_equal(names[1], "far");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);

	assert_int_equal(remote_find_url(home, "https://10.0.0.6:5443", name, sizeof(name)), 0);
	assert_string_equal(name, "alpha");
	assert_int_equal(remote_find_url(home, "https://10.0.0.7:5443", name, sizeof(name)), -1);

	/* Logging in again replaces what was stored. */
	assert_int_equal(remote_save(home, "far", "https://10.0.0.9:1", "pw3", "ca\n", err,
	    sizeof(err)), 0);
	assert_int_equal(remote_load(home, "far", &r, err, sizeof(err)), 0);
	assert_string_equal(r.url, "https://10.0.0.9:1");
	assert_string_equal(r.password, "pw3");

	/* A url file that is not canonical is refused, naming it. */
	snprintf(path, sizeof(path), "%s/remotes/far/url", home);
	assert_int_equal(write_file_atomic(path, "http://x\n", 9, 0600), 0);
	assert_int_equal(remote_load(home, "far", &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_int_equal(remove_tree(home), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_rack_url),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
