/*
 * resource_kind.h — what differs between the kinds of resource (inside the
 * resource module only): the Debian package and binaries each needs, the
 * files and shell commands that provision and run its server, its URL and
 * its clients. Every command runs inside the server's walls, where its
 * directory is RES_SRV (resource.c sets that up); no password is ever put on
 * a command line (other users see those): it goes in a file of the server's.
 */
#ifndef CX_RESOURCE_KIND_H
#define CX_RESOURCE_KIND_H

#include <stdbool.h>
#include <stddef.h>

/* The server's directory as the server sees it (a bind mount on root racks). */
#define RES_SRV_MOUNT "/srv/resource"

struct res_kind {
	const char *type;           /* "postgres" */
	const char *package;        /* the Debian package with its server */
	const char *server;         /* the binary that must be there */
	const char *scheme;         /* of its URL */
	int vpc_port;               /* where it listens in a namespace of its own */
	bool password;              /* memcached has none (its ASCII protocol has no auth) */
	bool durable;               /* has data worth keeping (memcached is a cache) */
};

/* The kind of type ("mariadb" and "mysql" are one kind), or NULL. */
const struct res_kind *res_kind_find(const char *type);

/* The directory of the server's binaries (postgres: the newest
 * /usr/lib/postgresql/N/bin; others /usr/bin or /usr/sbin) into out, and its
 * version ("15", "7.0.15") into ver. -1 with err naming the package to
 * install when the server is missing. */
int res_kind_locate(const struct res_kind *k, char *out, size_t outlen, char *ver, size_t verlen,
    char *err, size_t errlen);

/* Files to write (by the rack, owned by the server, 0600) in srv before each
 * start: name and content, for a server listening on addr:port with password
 * pw. Sets *n (at most 2); the contents are malloc'd, the caller frees them. */
struct res_file {
	const char *name;
	char *content;
};
void res_kind_files(const struct res_kind *k, const char *srv, const char *addr, int port,
    const char *pw, struct res_file *out, size_t *n);

/* The shell command that creates its data the first time (NULL: none), and
 * the one that runs the server (an `exec`). malloc'd. srv is the server's
 * directory as it sees it. */
char *res_kind_provision_cmd(const struct res_kind *k, const char *srv);
char *res_kind_start_cmd(const struct res_kind *k, const char *srv, const char *addr, int port);

/* Its URL: postgres://app:PW@HOST:PORT/app, mysql://..., redis://:PW@HOST:PORT/0,
 * memcached://HOST:PORT. */
void res_kind_url(const struct res_kind *k, const char *host, int port, const char *pw,
    char *out, size_t outlen);

/* Whether the server on connected socket fd answers its kind's probe as a
 * ready one within ms (fd is left to the caller to close). */
bool res_kind_ready(const struct res_kind *k, int fd, int ms);

#endif
