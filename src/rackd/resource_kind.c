/*
 * resource_kind.c — the kinds of resource a rack runs and their Convox
 * options (see resource_kind.h and resource.h).
 *
 * Options. Convox's containerized resources take version and storage; its
 * cloud ones (rds-*, elasticache-*, and Generation 2's) class, durable,
 * encrypted and the rest below. A single host honours none of them as
 * asked: each is accepted (real convox.yml files carry them) with a one-line
 * note saying what becomes of it; anything else is refused.
 */
#include "rackd/resource.h"
#include "rackd/resource_kind.h"

#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

static const struct res_kind kinds[] = {
	{ "postgres", "postgresql", "postgres", "postgres", 5432, true, true },
	{ "mysql", "mariadb-server", "mariadbd", "mysql", 3306, true, true },
	{ "mariadb", "mariadb-server", "mariadbd", "mysql", 3306, true, true },
	{ "redis", "redis-server", "redis-server", "redis", 6379, true, true },
	{ "memcached", "memcached", "memcached", "memcached", 11211, false, false },
};

/* Types the parser knows but this module does not run: volumes, which the
 * manifest refuses where a service links one. */
static const char *const volume_types[] = { "efs", "volume" };

static const struct {
	const char *key;
	const char *note;       /* what it is for, and what becomes of it */
} options[] = {
	{ "version", "the rack runs the server Debian installed; cx resources info shows which" },
	{ "storage", "a size cap: the data grows on the rack's disk" },
	{ "durable", "a standby elsewhere: one host has one disk" },
	{ "class", "a cloud instance size: the server uses the host's CPU and memory" },
	{ "size", "a cloud instance size: the server uses the host's CPU and memory" },
	{ "nodes", "cluster nodes: one server process per resource" },
	{ "encrypted", "encryption at rest: the host disk's business" },
	{ "iops", "provisioned IOPS: the host's disk" },
	{ "deletionProtection", "cx apps delete removes the data" },
	{ "backupRetentionPeriod", "cloud backups: use cx resources export" },
	{ "preferredBackupWindow", "cloud backups: use cx resources export" },
	{ "preferredMaintenanceWindow", "a cloud maintenance window" },
};

const struct res_kind *
res_kind_find(const char *type)
{
	for (size_t i = 0; i < CX_ARRAY_LEN(kinds); i++)
		if (strcmp(kinds[i].type, type) == 0)
			return &kinds[i];
	return NULL;
}

int
resource_type_check(const char *type, char *err, size_t errlen)
{
	if (res_kind_find(type) != NULL)
		return 0;
	for (size_t i = 0; i < CX_ARRAY_LEN(volume_types); i++)
		if (strcmp(volume_types[i], type) == 0)
			return 0;
	snprintf(err, errlen, "unknown resource type %s; a local rack runs postgres, mysql, mariadb, "
	    "redis and memcached", type);
	return -1;
}

int
resource_option_check(const char *type, const char *key, const char *value, char *note,
    size_t notelen, char *err, size_t errlen)
{
	note[0] = '\0';
	if (res_kind_find(type) == NULL) {
		/* A volume's options (efs: path...) belong to volumes, refused where used. */
		return 0;
	}
	for (size_t i = 0; i < CX_ARRAY_LEN(options); i++) {
		if (strcmp(options[i].key, key) != 0)
			continue;
		if (strcmp(key, "storage") == 0 || strcmp(key, "iops") == 0 ||
		    strcmp(key, "nodes") == 0) {
			long n;

			if (parse_long(value, 1, 1000000, &n) == -1) {
				snprintf(err, errlen, "options.%s: expected a whole number from 1 to "
				    "1000000, found \"%s\"", key, value);
				return -1;
			}
		} else if (strcmp(key, "durable") == 0 || strcmp(key, "encrypted") == 0 ||
		    strcmp(key, "deletionProtection") == 0) {
			bool b;

			if (parse_bool(value, &b) == -1) {
				snprintf(err, errlen, "options.%s: expected true or false, found \"%s\"",
				    key, value);
				return -1;
			}
			if (!b)
				return 0;       /* false asks for nothing */
		}
		str_copy(note, notelen, options[i].note);
		return 0;
	}
	snprintf(err, errlen, "options.%s: unknown option of a %s resource; it takes version, "
	    "storage, durable, class, size, nodes, encrypted, iops, deletionProtection, "
	    "backupRetentionPeriod, preferredBackupWindow and preferredMaintenanceWindow", key, type);
	return -1;
}

static bool
is_exec(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The newest /usr/lib/postgresql/N/bin with a postgres in it. */
static int
pg_locate(char *out, size_t outlen, char *ver, size_t verlen)
{
	DIR *d = opendir("/usr/lib/postgresql");
	struct dirent *de;
	long best = -1;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char path[512];
		long n;

		if (parse_long(de->d_name, 1, 1000, &n) == -1 || n <= best)
			continue;
		snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin/postgres", de->d_name);
		if (is_exec(path))
			best = n;
	}
	closedir(d);
	if (best < 0)
		return -1;
	snprintf(out, outlen, "/usr/lib/postgresql/%ld/bin", best);
	snprintf(ver, verlen, "%ld", best);
	return 0;
}

/* "Redis server v=7.0.15 ..." -> "7.0.15": the installed package's version
 * from dpkg's status, which needs no process. */
static void
dpkg_version(const char *package, char *ver, size_t verlen)
{
	size_t len, plen = strlen(package);
	char *s = read_file("/var/lib/dpkg/status", 64u << 20, &len), *p;

	str_copy(ver, verlen, "?");
	if (s == NULL)
		return;
	for (p = s; (p = strstr(p, "Package: ")) != NULL; p += 9) {
		char *v, *e;

		if ((p != s && p[-1] != '\n') || strncmp(p + 9, package, plen) != 0 ||
		    p[9 + plen] != '\n')
			continue;
		v = strstr(p, "\nVersion: ");
		if (v == NULL)
			break;
		v += 10;
		if ((e = strchr(v, ':')) != NULL && e < strchr(v, '\n'))
			v = e + 1;          /* the epoch */
		e = v + strcspn(v, "-+~\n");
		snprintf(ver, verlen, "%.*s", (int)(e - v), v);
		break;
	}
	free(s);
}

int
res_kind_locate(const struct res_kind *k, char *out, size_t outlen, char *ver, size_t verlen,
    char *err, size_t errlen)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin" };

	if (strcmp(k->type, "postgres") == 0) {
		if (pg_locate(out, outlen, ver, verlen) == 0)
			return 0;
	} else {
		for (size_t i = 0; i < CX_ARRAY_LEN(dirs); i++) {
			char path[512];

			snprintf(path, sizeof(path), "%s/%s", dirs[i], k->server);
			if (is_exec(path)) {
				str_copy(out, outlen, dirs[i]);
				dpkg_version(k->package, ver, verlen);
				return 0;
			}
		}
	}
	snprintf(err, errlen, "a %s resource needs Debian's %s package on the rack's host: apt-get "
	    "install %s (or make deps)", k->type, k->package, k->package);
	return -1;
}

void
res_kind_files(const struct res_kind *k, const char *srv, const char *addr, int port,
    const char *pw, struct res_file *out, size_t *n)
{
	*n = 0;
	if (strcmp(k->type, "postgres") == 0) {
		/* initdb reads the password of user app from here, once. */
		out[(*n)++] = (struct res_file){ "pwfile", xasprintf("%s\n", pw) };
	} else if (strcmp(k->scheme, "mysql") == 0) {
		/* Run by mariadbd at every start: user app has the password, whatever
		 * was done to it by hand. */
		out[(*n)++] = (struct res_file){ "init.sql", xasprintf(
		    "CREATE DATABASE IF NOT EXISTS app;\n"
		    "CREATE USER IF NOT EXISTS 'app'@'%%' IDENTIFIED BY '%s';\n"
		    "ALTER USER 'app'@'%%' IDENTIFIED BY '%s';\n"
		    "GRANT ALL ON app.* TO 'app'@'%%';\n", pw, pw) };
	} else if (strcmp(k->type, "redis") == 0) {
		out[(*n)++] = (struct res_file){ "redis.conf", xasprintf(
		    "bind %s\nport %d\nprotected-mode yes\nrequirepass %s\n"
		    "dir %s/data\ndaemonize no\nlogfile \"\"\n"
		    "appendonly yes\nappendfsync everysec\nsave 3600 1 300 100 60 10000\n"
		    "dbfilename dump.rdb\n", addr, port, pw, srv) };
	}
}

char *
res_kind_provision_cmd(const struct res_kind *k, const char *srv)
{
	if (strcmp(k->type, "postgres") == 0)
		return xasprintf("initdb -D %s/data -U app --pwfile=%s/pwfile -A scram-sha-256 "
		    "-E UTF8 --locale=C.UTF-8 --no-instructions && rm -f %s/pwfile && "
		    /* initdb admits 127.0.0.1 only; on a VPC rack the app's processes
		     * come from their own addresses (a loopback rack's server listens
		     * on 127.0.0.1 alone, so there it changes nothing). */
		    "echo 'host all all 0.0.0.0/0 scram-sha-256' >> %s/data/pg_hba.conf && "
		    "echo 'CREATE DATABASE app OWNER app' | postgres --single -D %s/data postgres "
		    ">/dev/null", srv, srv, srv, srv, srv);
	if (strcmp(k->scheme, "mysql") == 0)
		return xasprintf("mariadb-install-db --no-defaults --datadir=%s/data "
		    "--auth-root-authentication-method=socket --skip-test-db >/dev/null", srv);
	if (strcmp(k->type, "redis") == 0)
		return xasprintf("mkdir -p %s/data", srv);
	return NULL;
}

char *
res_kind_start_cmd(const struct res_kind *k, const char *srv, const char *addr, int port)
{
	if (strcmp(k->type, "postgres") == 0)
		return xasprintf("exec postgres -D %s/data -c listen_addresses=%s -c port=%d "
		    "-c unix_socket_directories= -c logging_collector=off", srv, addr, port);
	if (strcmp(k->scheme, "mysql") == 0)
		return xasprintf("exec mariadbd --no-defaults --datadir=%s/data --port=%d "
		    "--bind-address=%s --socket=%s/mysqld.sock --pid-file=%s/mysqld.pid "
		    "--init-file=%s/init.sql --skip-name-resolve", srv, port, addr, srv, srv, srv);
	if (strcmp(k->type, "redis") == 0)
		return xasprintf("exec redis-server %s/redis.conf", srv);
	return xasprintf("exec memcached -l %s -p %d -U 0 -m 64", addr, port);
}

void
res_kind_url(const struct res_kind *k, const char *host, int port, const char *pw, char *out,
    size_t outlen)
{
	if (strcmp(k->scheme, "redis") == 0)
		snprintf(out, outlen, "redis://:%s@%s:%d/0", pw, host, port);
	else if (!k->password)
		snprintf(out, outlen, "%s://%s:%d", k->scheme, host, port);
	else
		snprintf(out, outlen, "%s://app:%s@%s:%d/app", k->scheme, pw, host, port);
}

/* The first bytes a ready server answers to probe (a TCP accept alone is not
 * ready: mariadbd and postgres listen before they serve). */
bool
res_kind_ready(const struct res_kind *k, int fd, int ms)
{
	/* postgres: a StartupMessage (protocol 3.0, user and database app) gets
	 * 'R' (authenticate) when ready, 'E' ("starting up") before. */
	static const char pg_startup[] = "\0\0\0\x1f\0\x03\0\0user\0app\0database\0app\0\0";
	const char *probe = NULL, *want;
	size_t plen = 0;
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	char got[16];
	ssize_t n;
	int soerr = 0;
	socklen_t slen = sizeof(soerr);

	if (strcmp(k->type, "postgres") == 0) {
		probe = pg_startup;
		plen = sizeof(pg_startup) - 1;
		want = "R";
	} else if (strcmp(k->scheme, "mysql") == 0) {
		want = "";          /* its greeting, whatever it says */
	} else if (strcmp(k->type, "redis") == 0) {
		probe = "PING\r\n";
		plen = 6;
		want = "-NOAUTH";   /* and not -LOADING */
	} else {
		probe = "version\r\n";
		plen = 9;
		want = "VERSION";
	}
	/* The connect first (it may be in progress). */
	pf.events = POLLOUT;
	if (poll(&pf, 1, ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == -1 ||
	    soerr != 0)
		return false;
	pf.events = POLLIN;
	if (probe != NULL && write(fd, probe, plen) != (ssize_t)plen)
		return false;
	if (poll(&pf, 1, ms) != 1 || (n = read(fd, got, sizeof(got) - 1)) <= 0)
		return false;
	got[n] = '\0';
	return strncmp(got, want, strlen(want)) == 0;
}
