/*
 * cli.h — what the command groups of `cx` share: the parsed command line,
 * rack and app selection, and calls to the rack's API.
 *
 * The grammar lives in commands.c as one static table; each command group
 * (rack.c, apps.c, deploy.c, ...) exports its cmd_* handlers here. A handler
 * returns the process's exit status: 0, or 1 after printing "ERROR: ...".
 */
#ifndef CX_CLI_H
#define CX_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/jv.h"
#include "common/util.h"

/* Flags; a command lists the ones it takes as a mask of (1u << OPT_x). */
enum cli_opt_id {
	OPT_RACK,
	OPT_APP,
	OPT_JSON,
	OPT_HELP,
	OPT_VPC,
	OPT_DESCRIPTION,
	OPT_COUNT,
	OPT_FOLLOW,
	OPT_SINCE,
	OPT_FROM,
	OPT_MANIFEST,
	OPT_PASSWORD,
	OPT_CA,
	OPT_FINGERPRINT,
	OPT_PROMOTE,
	OPT_REPLACE,
	OPT_NO_FOLLOW,
	OPT_FILTER,
	OPT_SERVICE,
	OPT_RELEASE,
	OPT_LIMIT,
	OPT_ID,
	OPT_WAIT,
	OPT_NO_CACHE,
	OPT_FILE,
	OPT_KUBE_VERSION,
	OPT_CLOUD,
	OPT_DRY_RUN,
	OPT_MAX
};
#define O(x) (1u << OPT_##x)

struct cli;

struct cli_opt {
	enum cli_opt_id id;
	char short_name;        /* 0: none; one letter may mean one flag per command */
	const char *long_name;
	const char *value;      /* name of its value; NULL for a boolean flag */
	const char *help;
};

struct cli_cmd {
	const char *words;      /* "rack params set" */
	const char *args;       /* usage of the arguments: "KEY=VALUE..." */
	int min_args, max_args; /* max -1: any number */
	unsigned opts;          /* O(RACK) | O(APP) | ... (help is always accepted) */
	int raw_after;          /* > 0: after this many arguments the next one starts
	                           a command line passed through untouched */
	int (*fn)(struct cli *c);
	const char *summary;    /* one line for `cx help` */
	const char *help;       /* paragraphs for `cx COMMAND --help` */
};

struct cli {
	const struct cli_cmd *cmd;
	int argc;               /* arguments after the command's words */
	char **argv;
	const char *opt[OPT_MAX]; /* value of each flag given ("" for booleans), or NULL */
	bool json;

	char home[1024];        /* $CX_HOME or ~/.cx (socket paths under it must stay short) */
	char rack[300];         /* the selected rack, after cli_select_rack (a remote one
	                           selected by $RACK_URL and never logged in: HOST:PORT) */
	bool rack_url;          /* $RACK_URL selected it */
	char app[64];           /* the selected app, after cli_select_app */
	struct client *client;  /* opened on first use */
};

/* The grammar's tables (commands.c), for what is generated from them
 * (docgen.c: completion, the man page). */
const struct cli_cmd *cli_cmd_table(size_t *n);
const struct cli_opt *cli_opt_table(size_t *n);

/* Where command `words` differs from Convox's on purpose (differs.c), or
 * NULL when it does not. */
const char *cli_convox_differs(const char *words);
/* The first entry of that list that names no command (a stale one), or NULL. */
const char *cli_convox_differs_stale(void);

/* Entry point, called by main.c. Returns the exit status. */
int cli_main(int argc, char **argv);

/* --- selection (home.c) --- */

/* Fills c->home. -1 after printing an error. */
int cli_home(struct cli *c);
/* Path of a file in a rack's directory: HOME/racks/NAME/file ("" for the dir). */
void cli_rack_path(const struct cli *c, const char *rack, const char *file, char *out,
    size_t outlen);
bool cli_rack_exists(const struct cli *c, const char *rack);
/* Names of installed racks, sorted; *n set. Free with cli_names_free. */
char **cli_rack_names(const struct cli *c, size_t *n);
void cli_names_free(char **names, size_t n);
/* The rack to talk to: -r, else $RACK_URL (a remote rack for this command,
 * https://convox:PASSWORD@HOST:PORT), else $CX_RACK, else HOME/current, else
 * the only rack (local or remote). 0, or -1 after printing why none (quiet:
 * without printing). */
int cli_select_rack(struct cli *c);
int cli_select_rack_quiet(struct cli *c);
/* The app: -a, else the current directory's name. 0, or -1 after printing. */
int cli_select_app(struct cli *c);
/* Refuses names that are not [a-z][a-z0-9-]{0,29}; prints and returns -1. */
int cli_check_name(const char *what, const char *name);

/* --- the rack's API (api.c) --- */

/* A path with each %s argument percent-escaped (e.g. api_path("/apps/%s", app)).
 * Caller frees. */
char *api_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Calls the selected rack (selecting it first). body may be NULL. On a 2xx
 * answer returns 0 and, if out is not NULL, the parsed JSON (NULL when the
 * body is empty). Otherwise prints the error ("rack NAME is not running...",
 * "invalid password for rack NAME", or the daemon's own error) and returns -1.
 */
int api_call(struct cli *c, const char *method, const char *path, const jv *body, jv **out);
/* POST body to path on a connection of its own, handing fds to the daemon
 * (SCM_RIGHTS): returns the socket to poll for the answer, which comes later
 * (api_attach_answer reads it and prints any error); -1 after printing. */
int api_attach(struct cli *c, const char *path, const jv *body, const int *fds, size_t nfds);
int api_attach_answer(struct cli *c, int fd, jv **out);
/* The same for a remote rack, over HTTPS: the run's stdio relayed on the
 * connection (Upgrade: cx-attach). NULL after printing. */
struct client_stream;
struct client_stream *api_stream(struct cli *c, const char *path, const jv *body);
/* Same, uploading len bytes of fd as application/gzip, with a long timeout. */
int api_upload(struct cli *c, const char *path, int fd, uint64_t len, jv **out);
/* GET path, its 2xx body (not JSON) written to fd: 0, or -1 after an error line. */
int api_download(struct cli *c, const char *path, int fd);
/* DELETE path (taken: freed) under the step line "STEP... OK": 0, or 1
 * after printing. */
int api_delete_step(struct cli *c, char *path, const char *step);
/*
 * Same for a raw (text) answer: fills body and *offset (X-Cx-Offset, -1 if
 * absent). Returns the HTTP status for 2xx and 404 (the caller decides what
 * a missing app means); -1 after printing for anything else.
 */
long api_text(struct cli *c, const char *path, struct buf *body, int64_t *offset);
/* POSTs the JSON body to path; a 2xx answer's text is left in *out (a
 * buf_init'ed buffer). 0, or -1 after printing the error. */
int api_post_text(struct cli *c, const char *path, const jv *body, struct buf *out);
/* GET /system of rack `name` without printing anything: 0 if it answers
 * (and *out, if not NULL, gets the JSON), -2 if not running, -1 otherwise. */
int api_probe(struct cli *c, const char *name, long timeout_ms, jv **out);
/* Checks that the selected rack offers `feature` (GET /system "features");
 * -1 after printing which version the rack runs and what it lacks. */
int cli_require_feature(struct cli *c, const char *feature, const char *what);
/* Closes the connection (before the daemon is restarted, say). */
void api_close(struct cli *c);
/* A client for rack NAME, local (unix socket) or remote (registered by cx
 * login, or the one $RACK_URL selected): NULL with err in one line saying
 * why not. Caller frees (client_free). */
struct client *cli_rack_client(struct cli *c, const char *rack, char *err, size_t errlen);
/* Whether the selected rack is remote (reached over HTTPS). */
bool cli_rack_is_remote(struct cli *c);

struct out_col;
/* Lists one of the app's collections (what = "releases", "processes", ...):
 * GET /apps/APP/<what>, printed as a table of cols, or as JSON with extra
 * keys kept. Returns the exit status. */
int cli_list_app(struct cli *c, const char *what, const struct out_col *cols, size_t ncols,
    const char *const *extra);

/* Promotes release id of c->app and waits (bounded) until it is active.
 * Prints "Promoting ID... OK". 0, or 1 after printing the release's error.
 * discard: id was made for this promotion alone (deploy, rollback); if the
 * rack refuses it because another promotion runs, it removes the release. */
int cli_promote(struct cli *c, const char *id, bool discard);
/* Prints build id's log (deploy.c) from its start, following it while the
 * build runs when follow; *build gets the build as it ended (GET, owned).
 * 0, or -1 after printing. */
int cli_follow_build(struct cli *c, const char *id, bool follow, jv **build);
/* Polls release id of c->app until it is active (bounded), then prints "OK";
 * 0, or 1 after printing why not (the release's error when it failed). */
int cli_wait_release(struct cli *c, const char *id);
/* Waits until the app's status is "running" (bounded); 0 or 1 after printing. */
int cli_wait_app_running(struct cli *c, int64_t timeout_ms);
/* Sleeps ms milliseconds (polling loops). */
void cli_sleep_ms(long ms);

/* Asks rack `name`'s daemon, if it runs, to follow the lab's peer set
 * (POST /system/reconcile). 0, or -1 after printing (net.c). */
int cli_reconcile_rack(struct cli *c, const char *name);
/* `cx rack peer|unpeer A B` over TLS (tlspeer.c): the exit status, after
 * printing "Peering A and B over TLS... OK" or one error line. */
int cli_tls_peer_change(struct cli *c, const char *a, const char *b, bool peer);
/* Before rack `name` goes: each rack it is peered with over TLS that this
 * CLI reaches and that runs forgets it (its open connections close). Each
 * that is not told (not running, unknown here, or refusing) gets a line in
 * *untold (malloc'd, NULL if none) with the `cx rack unpeer` to run later:
 * nothing else tells it. -1 (said) if name's peers cannot be read. Leaves
 * name selected (tlspeer.c). */
int cli_forget_tls_peers(struct cli *c, const char *name, char **untold);

/* --- child processes (run.c) --- */

/* Waits for pid, leaving SIGINT and SIGQUIT to it; returns its exit status, or
 * 128 + the signal that killed it. */
int cli_relay_status(pid_t pid);
/* In a forked child: default signal dispositions, nothing blocked. */
void cli_child_defaults(void);

/* --- command handlers --- */
int cmd_help(struct cli *c);
int cmd_version(struct cli *c);

int cmd_rack(struct cli *c);
int cmd_racks(struct cli *c);
int cmd_rack_install(struct cli *c);
int cmd_rack_uninstall(struct cli *c);
int cmd_rack_start(struct cli *c);
int cmd_rack_params(struct cli *c);
int cmd_rack_params_set(struct cli *c);
int cmd_rack_logs(struct cli *c);
int cmd_rack_metrics(struct cli *c);
int cmd_rack_ca(struct cli *c);
int cmd_switch(struct cli *c);
int cmd_rack_ca_fingerprint(struct cli *c);
int cmd_login(struct cli *c);

int cmd_rack_peer(struct cli *c);
int cmd_rack_unpeer(struct cli *c);
int cmd_rack_peers(struct cli *c);
int cmd_net(struct cli *c);
int cmd_net_exec(struct cli *c);

int cmd_certs(struct cli *c);
int cmd_certs_import(struct cli *c);
int cmd_certs_generate(struct cli *c);
int cmd_certs_delete(struct cli *c);
int cmd_ssl(struct cli *c);
int cmd_ssl_update(struct cli *c);

int cmd_apps(struct cli *c);
int cmd_apps_create(struct cli *c);
int cmd_apps_delete(struct cli *c);
int cmd_apps_info(struct cli *c);

int cmd_deploy(struct cli *c);
int cmd_build(struct cli *c);
int cmd_ps_info(struct cli *c);
int cmd_ps_stop(struct cli *c);
int cmd_rack_ps(struct cli *c);
int cmd_rack_render(struct cli *c);
int cmd_rack_apply(struct cli *c);
/* kube.c: a kubeconfig that reaches a cluster (parsed, not asked): 0, or 1
 * after saying what is wrong with it. */
int kube_check_config(const char *path);
/* kube.c: the kubeconfig at from, its context's credentials inline, written
 * to to (0600). 0, or 1 after saying why. */
int kube_copy_config(const char *from, const char *to);
/* kube.c: the rack c->rack's own objects to its cluster (dry_run: printed
 * as YAML, no server asked). 0, or 1 after saying why. */
int kube_install_objects(struct cli *c, bool dry_run);
/* routerimage.c: makes the rack's router image REGISTRY/cx-router:VERSION
 * (images/router/Dockerfile, with this cx's cx-router and cx-ingress) and
 * pushes it to the rack's registry (params: its GET /system/params), when
 * the registry lacks that tag, or always with always. It says what it did
 * on stdout. What stops it (no registry set, podman missing, the registry
 * unreachable, the build or push refused) is one WARNING line on stderr
 * naming it: the rack's objects are applied all the same, and their
 * router pods start once the image is there. Returns 0 when the image is
 * in the registry, -1 after the warning. */
int kube_router_image(struct cli *c, const jv *params, bool always);
/* rack.c: the path of cx-rackd, $CX_RACKD, else next to this executable;
 * the rack's other programs (cx-router, cx-ingress) are beside it. -1 with
 * err set. */
int cli_find_rackd(char *out, size_t outlen, char *err, size_t errlen);
/* kube.c: uninstalling Kubernetes rack c->rack (its daemon up) removes what
 * it applied from its cluster; each removal, or a warning that the cluster
 * was not reached, is added to said. 0 (also for a rack of no cluster), -1
 * when the daemon did not answer. */
int kube_uninstall_objects(struct cli *c, struct buf *said);
int cmd_rack_render_system(struct cli *c);
int cmd_releases_manifest(struct cli *c);
int cmd_builds_info(struct cli *c);
int cmd_builds_logs(struct cli *c);
int cmd_builds_prune(struct cli *c);
int cmd_env_edit(struct cli *c);
int cmd_completion(struct cli *c);
int cmd_apps_cancel(struct cli *c);
int cmd_apps_export(struct cli *c);
int cmd_apps_import(struct cli *c);
int cmd_man(struct cli *c);
int cmd_services(struct cli *c);
int cmd_services_restart(struct cli *c);
int cmd_ps(struct cli *c);
int cmd_releases(struct cli *c);
int cmd_builds(struct cli *c);
int cmd_releases_info(struct cli *c);
int cmd_releases_promote(struct cli *c);
int cmd_releases_rollback(struct cli *c);
int cmd_env(struct cli *c);
int cmd_env_get(struct cli *c);
int cmd_env_set(struct cli *c);
int cmd_env_unset(struct cli *c);
int cmd_scale(struct cli *c);
int cmd_restart(struct cli *c);
int cmd_logs(struct cli *c);
int cmd_run(struct cli *c);
int cmd_exec(struct cli *c);
/* resources.c */
int cmd_resources(struct cli *c);
int cmd_resources_info(struct cli *c);
int cmd_resources_url(struct cli *c);
int cmd_resources_console(struct cli *c);
int cmd_resources_export(struct cli *c);
int cmd_resources_import(struct cli *c);

#endif
