/*
 * store.h — the rack's state in SQLite (WAL, foreign keys, busy timeout,
 * migrations by PRAGMA user_version). All SQL lives in store.c; one
 * connection, owned by the daemon's loop. Every write is one transaction, so
 * a deploy, env change or param change either happened or did not.
 *
 * Strings returned inside structs are malloc'd and owned by the caller; free
 * them with the matching *_free / *_list_free.
 */
#ifndef CX_STORE_H
#define CX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store;

struct st_app {
	char name[32];
	char release[16];   /* active release, "" when none */
	int64_t created;
	uint32_t uid_base;  /* first of its ids (idrange.h), 0 when it runs as the rack's user */
};

struct st_build {
	char id[16];
	char app[32];
	char *dir;          /* unpacked source */
	char *manifest;     /* convox.yml text */
	char *warnings;     /* "\n"-separated, may be "" */
	int64_t created;    /* unix seconds: when it started */
	int64_t elapsed_ms; /* how long it took (0: made before this was kept) */
	char *images;       /* {"SERVICE": {"ref": R, "config": C}} (image.h); "" or "{}": none */
	char status[16];    /* "complete" or "failed" ("" when adding: complete) */
	char *error;        /* why it failed, "" */
};

struct st_release {
	char id[16];
	char app[32];
	char build[16];     /* "" when the release only changes env before any build */
	char *env;          /* "K=V\n" lines, sorted */
	char status[16];    /* created promoting active failed replaced */
	char *description;
	char *error;
	int64_t created;
};

struct st_proc {
	char id[48];
	char app[32];
	char service[32];
	char release[16];
	pid_t pid;
	int64_t pid_start;  /* /proc/PID/stat starttime, to detect pid reuse on adoption */
	pid_t shim_pid;
	int port;
	char address[16];
	char *command;
	int64_t started;
	bool promoting;     /* started by a promotion not yet done: a daemon restart stops it */
	bool stopping;      /* sent SIGTERM: a daemon restart lets it finish its grace */
	char oneoff[8];     /* "" a service's process; "timer" a timer's run; "run" cx run's */
};

/* A rack peered with this one over TLS: what it gave of itself (peers.h). */
struct st_peer {
	char name[32];
	char *ca;               /* its CA certificate, PEM */
	char endpoint[64];      /* its peer listener, "IP:PORT" */
	char internal_domain[256]; /* its services' internal names end in this */
	int64_t created;
};

/* Opens (creating and migrating) the database at path. NULL with err set. */
struct store *store_open(const char *path, char *err, size_t errlen);
void store_close(struct store *st);
/* The last SQLite error, for log lines. */
const char *store_error(struct store *st);
/* fn(arg) is called when a write fails because the disk is full; it returns
 * 0 when it freed room (the write is then tried again, once), -1 when it
 * had none to free. */
void store_set_full_handler(struct store *st, int (*fn)(void *), void *arg);
/* Whether the last write failed because the disk is full. */
bool store_full(struct store *st);

/* Params: 0 found, -1 absent. */
int store_param_get(struct store *st, const char *key, char *out, size_t outlen);
/* Sets every pair in one transaction. */
int store_params_set(struct store *st, char *const *keys, char *const *values, size_t n);

int store_app_create(struct store *st, const char *name, uint32_t uid_base);
int store_app_set_uid_base(struct store *st, const char *name, uint32_t uid_base);
int store_app_delete(struct store *st, const char *name);  /* cascades releases, builds, scale, procs */
int store_app_get(struct store *st, const char *name, struct st_app *out); /* 0 found, -1 not */
int store_app_list(struct store *st, struct st_app **out, size_t *n);
int store_app_set_release(struct store *st, const char *app, const char *release);

int store_build_add(struct store *st, const struct st_build *b);
int store_build_get(struct store *st, const char *app, const char *id, struct st_build *out);
void store_build_free(struct st_build *b);
/* app's failed builds, newest first: id, created, elapsed_ms, status and
 * error set. Free each with store_build_free, then the array. */
int store_build_failed_list(struct store *st, const char *app, struct st_build **out, size_t *n);
/* The images texts of app's builds that have any, NULL-terminated; the
 * caller frees each and the array. */
int store_build_images_list(struct store *st, const char *app, char ***out, size_t *n);

/* The ids of app's builds that may go (builds_prune), oldest first,
 * NULL-terminated (the caller frees each and the array): complete builds
 * none of its newest keep releases uses, and failed ones made before its
 * newest keep releases; never one that its active release, the release
 * being promoted (promoting, may be "") or a release marked promoting
 * uses. */
int store_build_prunable(struct store *st, const char *app, int keep, const char *promoting,
    char ***out, size_t *n);
/* Removes build id of app and the releases made from it, in one
 * transaction; *releases (NULL-terminated, *n long; str_list_free) names those.
 * -1 when the app's active release uses it (nothing removed), no such build,
 * or the store failed. */
int store_build_prune(struct store *st, const char *app, const char *id, char ***releases,
    size_t *n);

int store_release_add(struct store *st, const struct st_release *r);
int store_release_get(struct store *st, const char *app, const char *id, struct st_release *out);
/* Newest first; at most limit (0 = all). */
int store_release_list(struct store *st, const char *app, size_t limit, struct st_release **out, size_t *n);
int store_release_set_status(struct store *st, const char *app, const char *id, const char *status, const char *error);
/* Removes release id of app if it was never promoted (status "created")
 * and is not the app's active one. 0 removed, 1 not (another status, or
 * no such release), -1 error. */
int store_release_discard(struct store *st, const char *app, const char *id);
/* Marks every release of app (every app's when NULL) still "promoting" as
 * failed with error (daemon start). */
int store_release_fail_promoting(struct store *st, const char *app, const char *error);
/* Records a build and its release in one transaction. */
int store_build_release_add(struct store *st, const struct st_build *b, const struct st_release *r);
/* The app whose build or release has this id (ids are the rack's, not an
 * app's): 0 found, -1 none. */
int store_id_owner(struct store *st, const char *id, char *app, size_t applen);
/* Records an imported app's builds, releases (oldest first: they keep that
 * order) and app's scale overrides (service names and counts) in one
 * transaction. The app row must exist; every row names it. */
int store_app_import(struct store *st, const char *app, const struct st_build *b, size_t nb,
    const struct st_release *r, size_t nr, char *const *scale_services, const int *scale_counts,
    size_t nscale);
/* Marks `id` active, the previously active one replaced, and points the app at it, atomically. */
int store_release_activate(struct store *st, const char *app, const char *id);
void store_release_free(struct st_release *r);
void store_release_list_free(struct st_release *r, size_t n);

/* Scale overrides set with `cx scale`; -1 when none. */
int store_scale_get(struct store *st, const char *app, const char *service);
int store_scale_set(struct store *st, const char *app, const char *service, int count);

int store_proc_put(struct store *st, const struct st_proc *p);   /* insert or replace */
int store_proc_delete(struct store *st, const char *id);
int store_proc_list(struct store *st, struct st_proc **out, size_t *n);
void store_proc_list_free(struct st_proc *p, size_t n);

/* A certificate the rack knows (certs.h): its files, what it names, whence. */
struct st_cert {
	char id[16];        /* cert-xxxxxxxx */
	char *domains;      /* its names, comma-separated */
	int64_t expires;    /* unix seconds (notAfter) */
	char source[16];    /* rack-ca (a domain's own), generated, imported, acme */
	char *cert_path;    /* PEM: the certificate, then its chain */
	char *key_path;     /* PEM, 0600 */
	int64_t created;
};

/* Insert or replace by id. */
int store_cert_put(struct store *st, const struct st_cert *c);
/* 0 found (out filled, free with store_cert_free), -1 not. */
int store_cert_get(struct store *st, const char *id, struct st_cert *out);
/* Oldest first. */
int store_cert_list(struct store *st, struct st_cert **out, size_t *n);
/* Fails (FOREIGN KEY) while an endpoint is bound to it. */
int store_cert_delete(struct store *st, const char *id);
void store_cert_free(struct st_cert *c);
void store_cert_list_free(struct st_cert *c, size_t n);

/* A service endpoint (SERVICE:PORT of an app) served with a chosen
 * certificate (cx ssl update); goes with its app. */
struct st_binding {
	char app[32];
	char service[32];
	int port;
	char cert[16];
};
int store_binding_set(struct store *st, const struct st_binding *b);
/* Every binding (caller frees the array). */
int store_binding_list(struct store *st, struct st_binding **out, size_t *n);

/* A new random id: prefix + 8 characters of [A-Z0-9] (upper) or [0-9a-f] (lower). */
int store_peer_put(struct store *st, const struct st_peer *p);   /* insert or replace */
int store_peer_delete(struct store *st, const char *name);      /* 1 if there was none */
int store_peer_list(struct store *st, struct st_peer **out, size_t *n);
void store_peer_list_free(struct st_peer *p, size_t n);

void store_new_id(char *out, size_t outlen, const char *prefix, bool upper);

#endif
