/*
 * manifest.h — convox.yml parsing. libyaml stays inside manifest.c.
 *
 * manifest_parse() turns the text of a convox.yml into a struct manifest with
 * every Convox default applied, or refuses it with one line that names the
 * file, line and column of the offending node. What is honoured, ignored or
 * refused, key by key, is tabled at the top of manifest.c.
 *
 * Every string and array inside a struct manifest is owned by it and freed by
 * manifest_free(); callers read it and never free parts of it.
 */
#ifndef CX_MANIFEST_H
#define CX_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

/* Largest convox.yml manifest_parse() accepts. */
#define MF_MAX_FILE (1024 * 1024)
#define MF_MAX_NOTICES 64     /* keys named as not acted on, at most */

/*
 * One environment entry, as written: "K=V" has a default (has_value), a bare
 * "K" is required. key "*" (has_value false) passes every variable of the
 * app's environment through.
 */
struct mf_env {
	char *key;
	char *value;            /* NULL unless has_value */
	bool has_value;
};

/* A service's `resources:` entry: the resource and the variable that carries its URL. */
struct mf_resource_ref {
	char *name;             /* "database" */
	char *env;              /* "DATABASE_URL", or the ENV of "database:ENV" */
};

struct mf_service {
	char *name;
	char *build_path;       /* build: "." default, or build.path */
	char *dockerfile;       /* build.manifest, default "Dockerfile" */
	struct mf_env *build_args; /* build.args: "K=V" entries, as environment */
	size_t nbuild_args;
	char *image;            /* image: what the builder pulls, or NULL */
	char *command;          /* NULL when absent; a list is joined shell-quoted */
	int port;               /* 0: no port (worker) */
	char *port_scheme;      /* "http" (default), "https": the router speaks TLS to it,
				 * or "grpc": HTTP/2 (h2c) */
	bool grpc_health;       /* grpcHealthEnabled: probes call grpc.health.v1.Health/Check */
	bool tls_redirect;      /* tls.redirect, default true: a host rack's :80 answers 308 */
	struct mf_env *env;     /* service environment, as written (after ${} interpolation) */
	size_t nenv;
	char *health_path;      /* default "/" */
	int health_grace, health_interval, health_timeout; /* 5, =interval, =interval-1 */
	bool health_disabled;
	int scale_count;        /* default 1; scale: N, scale.count: N, "1-3"/min-max -> min */
	int scale_min, scale_max;
	int scale_cpu;          /* scale.cpu (1000 = a core, as Convox counts), default 250: the
				 * process's cpu share; a hard cap too when written (cgroup.h) */
	bool scale_cpu_set;     /* scale.cpu was written */
	int target_cpu;         /* scale.targets.cpu: the autoscaler's average CPU, % of the
				 * request (0: not written) */
	int target_memory;      /* scale.targets.memory, likewise (0: not written) */
	int scale_memory;       /* scale.memory (MB), default 512: the kernel kills a process
				 * over it (cgroup.h) */
	bool internal, internal_router;
	char **domains;         /* lower-cased; domain: string (comma separated) or list */
	size_t ndomains;
	int timeout;            /* default 60 */
	int termination_grace;  /* termination.grace, default 30 */
	int deploy_min, deploy_max; /* deployment.minimum/maximum, default 50/200 (0/100 for agent, singleton) */
	int progress_deadline;      /* deployment.progressDeadline, seconds (0: the rack's
				     * deploy_progress_deadline); Kubernetes racks only */

	/* additions */
	bool agent;             /* one process per rack; scale is fixed at 1 */
	bool singleton;         /* deploys stop old processes before starting new ones (0/100) */
	bool sticky;            /* asks the router for session affinity */
	char **links;           /* Generation 2 links: services this one calls (names checked) */
	size_t nlinks;
	struct mf_resource_ref *resources; /* each makes its env variable required */
	size_t nresources;
};

/* A top-level `resources:` declaration. The local provider provisions nothing. */
struct mf_resource {
	char *name;
	char *type;             /* "postgres", "redis", ... as written */
};

/* A top-level `timers:` entry: run `command` in a new process of `service`. */
struct mf_timer {
	char *name;
	char *schedule;         /* five cron fields; AWS "?" written as "*", a sixth (year) dropped */
	char *command;
	char *service;          /* names a service of this manifest */
	char *concurrency;      /* "allow", "forbid", ... or NULL (as written) */
};

struct manifest {
	struct mf_env *env;     /* top-level environment */
	size_t nenv;
	struct mf_service *services; /* in file order */
	size_t nservices;
	struct mf_resource *resources; /* in file order */
	size_t nresources;
	struct mf_timer *timers;       /* in file order */
	size_t ntimers;
	/* Keys accepted and not acted on, one line each, in file order:
	 * "convox.yml:LINE:COL: scale.targets (autoscaling) is not acted on by
	 * local racks" (at most MF_MAX_NOTICES). */
	char **notices;
	size_t nnotices;
};

/*
 * Parses a convox.yml held in buf (len bytes, need not be NUL-terminated,
 * at most MF_MAX_FILE). `filename` names the file in messages (NULL:
 * "convox.yml"). `lookup(name, ctx)` resolves ${NAME} in scalar values
 * (NULL result, or a NULL lookup: empty string); a value that interpolates
 * to "" counts as absent, as in Convox.
 * Returns a new manifest (free with manifest_free), or NULL with one line in
 * err: "convox.yml:LINE:COL: what is wrong" (1-based, at the offending node).
 * Never reads past len; bounded in depth, node count and alias expansion.
 */
struct manifest *manifest_parse(const char *buf, size_t len, const char *filename,
    const char *(*lookup)(const char *name, void *ctx), void *ctx, char *err, size_t errlen);

/* The keys the parser knows, for documentation and its test: where each
 * stands ("" top level, "services.NAME."), its name, and "acted on", "not
 * acted on" or "refused". Fills at most max; returns how many there are. */
struct mf_key {
	const char *section;
	const char *name;
	const char *decision;
};
size_t manifest_keys(struct mf_key *out, size_t max);

/* Frees m and everything in it; NULL is fine. */
void manifest_free(struct manifest *m);

/* The service called name, or NULL. Points into m. */
const struct mf_service *manifest_service(const struct manifest *m, const char *name);

/*
 * The environment of one service's processes. Only declared variables are
 * passed (as in Convox), unless "*" is declared: then every variable of
 * app_env is. A declared variable takes, last one winning: the top-level
 * default, the service default, the app's value (app_env: NULL-terminated
 * "K=V" array, may be NULL). A variable declared bare (or by a resource)
 * that ends up with no value fails with "required env: KEY[, KEY2...]"
 * (sorted) in err.
 * Returns a NULL-terminated malloc'd array of malloc'd "K=V" strings, declared
 * order first, then the rest of app_env for "*" (free with manifest_env_free),
 * or NULL with err set.
 */
char **manifest_service_env(const struct manifest *m, const struct mf_service *s,
    char *const *app_env, char *err, size_t errlen);

/* Frees what manifest_service_env returned; NULL is fine. */
void manifest_env_free(char **env);

#endif
