/*
 * test_rootfs.c — the pure parts of starting a process from its image: the
 * image's USER against its /etc/passwd and /etc/group, Convox's argv
 * (ENTRYPOINT + CMD, command: shell-split in place of CMD) and the
 * environment's order (image ENV, then the rack's; HOME and PATH filled in).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rackd/rootfs.h"

static const char passwd[] =
    "root:x:0:0:root:/root:/bin/bash\n"
    "# a comment\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "broken line without fields\n"
    "node:x:1000:1000::/home/node:/bin/sh\n"
    "nohome:x:1002:1002:::/bin/sh\n"
    "big:x:70000:70000::/home/big:/bin/sh\n";
static const char group[] =
    "root:x:0:\n"
    "tty:x:5:node\n"
    "node:x:1000:\n"
    "staff:x:50:daemon,node\n";

static void
user_by_name(void **state)
{
	struct rootfs_user u;
	char err[256];

	(void)state;
	assert_int_equal(rootfs_resolve_user("node", passwd, group, &u, err, sizeof(err)), 0);
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 1000);
	assert_string_equal(u.home, "/home/node");
	/* Its memberships: tty and staff. */
	assert_int_equal(u.ngroups, 2);
	assert_int_equal(u.groups[0], 5);
	assert_int_equal(u.groups[1], 50);
	assert_int_equal(rootfs_resolve_user("nohome", passwd, group, &u, err, sizeof(err)), 0);
	assert_string_equal(u.home, "/");
}

static void
user_root_and_numbers(void **state)
{
	struct rootfs_user u;
	char err[256];

	(void)state;
	assert_int_equal(rootfs_resolve_user(NULL, passwd, group, &u, err, sizeof(err)), 0);
	assert_int_equal(u.uid, 0);
	assert_string_equal(u.home, "/root");
	/* No /etc/passwd at all: root still is. */
	assert_int_equal(rootfs_resolve_user("", NULL, NULL, &u, err, sizeof(err)), 0);
	assert_string_equal(u.home, "/root");
	/* A uid in the file gets its group and home; one not in it gets 0 and /. */
	assert_int_equal(rootfs_resolve_user("1000", passwd, group, &u, err, sizeof(err)), 0);
	assert_int_equal(u.gid, 1000);
	assert_string_equal(u.home, "/home/node");
	assert_int_equal(rootfs_resolve_user("4242", passwd, group, &u, err, sizeof(err)), 0);
	assert_int_equal(u.uid, 4242);
	assert_int_equal(u.gid, 0);
	assert_string_equal(u.home, "/");
	assert_int_equal(rootfs_resolve_user("4242:77", passwd, group, &u, err, sizeof(err)), 0);
	assert_int_equal(u.gid, 77);
	assert_int_equal(rootfs_resolve_user("node:staff", passwd, group, &u, err, sizeof(err)), 0);
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 50);
}

static void
user_refused(void **state)
{
	struct rootfs_user u;
	char err[256];

	(void)state;
	assert_int_equal(rootfs_resolve_user("nobody-here", passwd, group, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "the image's USER nobody-here is not in its /etc/passwd");
	assert_int_equal(rootfs_resolve_user("node:wheel", passwd, group, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "the image's USER group wheel is not in its /etc/group");
	assert_int_equal(rootfs_resolve_user("big", passwd, group, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not mapped into the app's range"));
	assert_int_equal(rootfs_resolve_user(":5", passwd, group, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "names no user"));
}

static void
assert_words(char **v, const char *const *want)
{
	size_t i;

	assert_non_null(v);
	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(v[i]);
		assert_string_equal(v[i], want[i]);
	}
	assert_null(v[i]);
	rootfs_strv_free(v);
}

static void
split(void **state)
{
	char err[256];

	(void)state;
	assert_words(rootfs_split("  npm   start ", err, sizeof(err)),
	    (const char *const[]){ "npm", "start", NULL });
	assert_words(rootfs_split("sh -c 'echo $HOME && ls'", err, sizeof(err)),
	    (const char *const[]){ "sh", "-c", "echo $HOME && ls", NULL });
	assert_words(rootfs_split("a\" b \\\"c\\\"\"d e\\ f ''", err, sizeof(err)),
	    (const char *const[]){ "a b \"c\"d", "e f", "", NULL });
	assert_words(rootfs_split("", err, sizeof(err)), (const char *const[]){ NULL });
	assert_null(rootfs_split("echo 'open", err, sizeof(err)));
	assert_non_null(strstr(err, "unterminated quote"));
	assert_null(rootfs_split("echo \"open", err, sizeof(err)));
}

static void
argv_rules(void **state)
{
	char *ep[] = { "docker-entrypoint.sh", NULL }, *cmd[] = { "node", "server.js", NULL };
	char err[256];

	(void)state;
	assert_words(rootfs_argv(ep, cmd, NULL, err, sizeof(err)),
	    (const char *const[]){ "docker-entrypoint.sh", "node", "server.js", NULL });
	/* command: replaces CMD, not the ENTRYPOINT (Convox gives it as args). */
	assert_words(rootfs_argv(ep, cmd, "npm run worker", err, sizeof(err)),
	    (const char *const[]){ "docker-entrypoint.sh", "npm", "run", "worker", NULL });
	assert_words(rootfs_argv(NULL, cmd, NULL, err, sizeof(err)),
	    (const char *const[]){ "node", "server.js", NULL });
	assert_words(rootfs_argv(NULL, NULL, "bin/web", err, sizeof(err)),
	    (const char *const[]){ "bin/web", NULL });
	assert_null(rootfs_argv(NULL, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no ENTRYPOINT or CMD"));
	assert_null(rootfs_argv(NULL, NULL, "  ", err, sizeof(err)));
}

static void
env_order(void **state)
{
	char *image[] = { "PATH=/opt/bin:/usr/bin", "NODE_ENV=development", "KEEP=1", NULL };
	char *over[] = { "NODE_ENV=production", "PORT=3000", "APP=shop", NULL };
	char **v;

	(void)state;
	assert_words(rootfs_env(image, over, "/home/node"), (const char *const[]){
	    "PATH=/opt/bin:/usr/bin", "NODE_ENV=production", "KEEP=1", "PORT=3000", "APP=shop",
	    "HOME=/home/node", NULL });
	v = rootfs_env(NULL, NULL, "/root");
	assert_words(v, (const char *const[]){ "HOME=/root", "PATH=" ROOTFS_DEFAULT_PATH, NULL });
	/* An image's own HOME stays. */
	assert_words(rootfs_env((char *[]){ "HOME=/srv", NULL }, NULL, "/root"),
	    (const char *const[]){ "HOME=/srv", "PATH=" ROOTFS_DEFAULT_PATH, NULL });
}

static void
join(void **state)
{
	char *v[] = { "perl", "-e", "print 1", NULL }, *s = rootfs_join(v);

	(void)state;
	assert_string_equal(s, "perl -e print 1");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(user_by_name),
		cmocka_unit_test(user_root_and_numbers),
		cmocka_unit_test(user_refused),
		cmocka_unit_test(split),
		cmocka_unit_test(argv_rules),
		cmocka_unit_test(env_order),
		cmocka_unit_test(join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
