/*
 * resource.h — the databases and caches an app's convox.yml declares under
 * `resources:` (postgres, mysql/mariadb, redis, memcached), run by the rack
 * from Debian's server packages: one server process per resource, its data
 * under the app's directory, a generated password, listening where the app's
 * processes reach it: in a network namespace of its own, as one of the app's
 * lab processes, where processes have those (VPC, host, and loopback racks run
 * as root), else on 127.0.0.1; walled off from other apps either way by
 * resource_fw.c. The services that list a resource get its URL (NAME_URL) in
 * their environment.
 *
 * State lives in files, not the store: $RACK_DIR/apps/APP/resources/NAME/
 *   type, port, password, pid      the rack's (root, 0600): what it knows
 *   srv/                            the server's (the app's uid_base + 1,
 *                                   0700): data/, config, log
 * so a daemon restart finds every resource again (resource_init), and
 * deleting the app's directory deletes its data.
 *
 * resource_kind.c knows the kinds (options, commands, URLs); resource.c the
 * lifecycle (provision, start, watch, restart with back-off, adopt, stop).
 */
#ifndef CX_RESOURCE_H
#define CX_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rack;
struct manifest;
struct mf_service;

/* For the manifest parser. 0 if type is a kind a rack runs (or a volume
 * type, efs/volume, which the parser refuses where a service links it);
 * -1 with err ("unknown resource type X; a local rack runs postgres, ...")
 * otherwise. */
int resource_type_check(const char *type, char *err, size_t errlen);

/* For the manifest parser: option key = value of a resource of type type
 * (checked by resource_type_check first). 0 when accepted; then note is ""
 * or, for an option a single host does not honour (all of Convox's but a
 * false durable or encrypted), what it is for and what becomes of it ("a size
 * cap: the data grows on the rack's disk"). -1 with err ("options.X: ...")
 * for an unknown option or a bad value. */
int resource_option_check(const char *type, const char *key, const char *value, char *note,
    size_t notelen, char *err, size_t errlen);

/* At the daemon's start (before reconcile_init): finds every resource under
 * the rack's apps, adopts a server a previous daemon left running (its pid
 * file, checked against the process's start time) and starts the others
 * with their data. Failures are logged and retried by resource_tick. */
void resource_init(struct rack *r);

/* From the daemon's tick: notices servers that exited, starts them again
 * with back-off (1 s doubling to 30 s; reset after 60 s up). */
void resource_tick(struct rack *r);

/*
 * Before a release of app is promoted: every top-level resource of m that a
 * rack runs is provisioned if new (data directory, password, port; run as
 * uid_base + 1, or as the rack's user on an unprivileged rack) and running,
 * and accepting connections within 30 s. Blocks the caller while it
 * provisions (initdb: a few seconds). 0, or -1 with err naming the resource
 * and, for a missing server, the Debian package to install.
 */
int resource_app_ensure(struct rack *r, const char *app, uint32_t uid_base,
    const struct manifest *m, char *err, size_t errlen);

/*
 * app_env (NULL-terminated "K=V", may be NULL) plus, for each resource that
 * service s lists and the rack runs, ENV=URL (ENV is NAME_URL or the ref's
 * own), unless app_env sets ENV itself (an app may point at a database of its
 * own). A new array (free with resource_env_free); the strings are copies.
 */
char **resource_env(struct rack *r, const char *app, const struct mf_service *s,
    char *const *app_env);
void resource_env_free(char **env);

/* After app's processes are gone, before its directory is removed: stops
 * its servers (SIGTERM, SIGKILL after 10 s), drops their firewall rules and
 * forgets them. Their data goes with the app's directory. */
void resource_app_delete(struct rack *r, const char *app);

/* Stops every server of the rack (uninstall). */
void resource_stop_all(struct rack *r);

/* What `cx resources` shows of one resource. Strings point into the
 * resource's state, valid until the next call into this module. */
struct resource_info {
	const char *app, *name, *type;
	const char *url;            /* with the password */
	const char *status;         /* "running", "starting", "restarting", "failed" */
	const char *error;          /* why it last failed, "" */
	const char *version;        /* the server's, as installed ("15", "7.0.15") */
	const char *dir;            /* its data, on the rack */
	const char *host;           /* where the app's processes reach it */
	pid_t pid;
	int port;
	int restarts;
	uint32_t uid;
};

/* Calls fn for each resource of app, in name order. Returns how many. */
size_t resource_each(struct rack *r, const char *app,
    void (*fn)(const struct resource_info *ri, void *arg), void *arg);

/* The resource name of app into *out. 0, or -1 if there is none. */
int resource_get(struct rack *r, const char *app, const char *name, struct resource_info *out);

/* A redis resource's data replaced by the RDB file at path: its server
 * stops, the file takes the place of its data, it starts again from it and
 * writes its append-only file anew. 0, or -1 with err (not a redis, not an
 * RDB file; a failed start is retried by the tick). */
int resource_redis_import(struct rack *r, const char *app, const char *name, const char *path,
    char *err, size_t errlen);

#endif
