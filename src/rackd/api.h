/*
 * api.h — the rack API server: HTTP/1.1 over the rack's unix socket, Basic
 * auth, JSON bodies (docs/api.md). api.c holds the connection handling and
 * the route table; api_system.c and api_apps.c the handlers.
 */
#ifndef CX_API_H
#define CX_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jv.h"
#include "common/util.h"

struct rack;

struct api_req {
	const char *method;
	const char *path;         /* without the query */
	const char *query;        /* after '?', or "" */
	const char *args[4];      /* captures of :name segments, in order */
	struct buf *body;         /* JSON requests */
	const char *body_path;    /* uploads (builds): the body spooled to this file */
	int64_t body_len;
	void *conn;               /* the connection, for api_defer */
	int *fds;                 /* descriptors sent with the request; a handler */
	size_t nfds;              /* that keeps one sets its slot to -1 */
	bool attach;              /* Upgrade: cx-attach asked (api_attach) */
};

#define API_MAX_FDS 3
/* The most a PEM field of a request body may hold (certificates, keys). */
#define API_PEM_MAX (128 * 1024)

struct api_resp {
	int status;
	jv *json;                 /* owned; serialized compactly */
	struct buf text;          /* text/plain body when json is NULL */
	bool is_text;             /* answer text/plain even when text is empty */
	bool deferred;            /* set by api_defer: the answer comes later */
	char extra[256];          /* extra header lines, each ending "\r\n" */
	void (*after)(struct rack *r);  /* called once the response is written */
};

/* Listens on the rack's api.sock, and over HTTPS when param api_port is
 * set (a port taken is a warning in the log and GET /system, not a
 * failure). -1 with errno. */
int api_listen(struct rack *r);
/* Makes the HTTPS listener follow port ("" none): opens api_tls_address's
 * port with a new certificate, then closes the old listener; open
 * connections go on. Nothing changes on failure: -1 with err (the port is
 * taken, the CA cannot sign). 0 when already listening there. */
int api_https_listen(struct rack *r, const char *port, char *err, size_t errlen);
/* Stops listening over HTTPS (at exit). */
void api_https_close(struct rack *r);
/* Sets the error body: {"error": "..."} with status. */
void api_error(struct api_resp *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Value of query parameter key into out; -1 if absent. */
int api_query(const struct api_req *q, const char *key, char *out, size_t outlen);
/*
 * For a handler that answers later (work done off the loop): marks s deferred
 * and returns the handle to answer with. The connection waits; if the client
 * goes away first, api_finish drops the answer. The request's body file stays
 * until the answer is written.
 */
struct api_pending;
struct api_pending *api_defer(struct api_req *q, struct api_resp *s);
/* Calls gone(arg) if the client goes away before the answer (api_finish
 * must still be called, and then frees p). */
void api_pending_on_gone(struct api_pending *p, void (*gone)(void *arg), void *arg);
/*
 * For a handler that streams a process's stdio on the connection itself
 * (q->attach: `Upgrade: cx-attach`, what `cx run` asks over HTTPS, which
 * carries no descriptors): answers 101 at once, then relays frames (docs/
 * api.md) between the connection and fds (ours: the write end of the
 * process's stdin, the read ends of its stdout and stderr; taken). Returns
 * the handle api_finish gives the process's end to: the exit frame goes out
 * once its output is drained (a second at most), and the connection closes.
 */
struct api_pending *api_attach(struct api_req *q, struct api_resp *s, const int fds[3]);
/* Sends the deferred answer (json is taken; NULL answers {}) and frees p. */
void api_finish(struct api_pending *p, int status, jv *json);
/* Answers 200 with the len bytes of fd (from its offset) as the body, of
 * Content-Type ctype, streamed as the client takes them; fd is taken (and
 * closed when sent, or when the client went away). Frees p. */
void api_finish_file(struct api_pending *p, const char *ctype, int fd, int64_t len);
/* api_finish with the body {"error": msg}. */
void api_finish_error(struct api_pending *p, int status, const char *msg);

/* Parses the JSON body into an owned object; on failure sets a 400 and
 * returns NULL. */
jv *api_json_body(const struct api_req *q, struct api_resp *s);

/* The app named in the path (args[0]), or NULL after a 404. */
struct app *api_find_app(struct rack *r, struct api_req *q, struct api_resp *s);
/* Release id of app a into out (free with store_release_free), or -1 after
 * a 404 naming it. */
struct st_release;
int api_find_release(struct rack *r, struct app *a, const char *id, struct api_resp *s,
    struct st_release *out);

/* Handlers (api_system.c, api_apps.c, api_history.c, ...). */
typedef void (*api_handler)(struct rack *r, struct api_req *q, struct api_resp *s);
void api_system_get(struct rack *r, struct api_req *q, struct api_resp *s);
void api_params_get(struct rack *r, struct api_req *q, struct api_resp *s);
void api_params_put(struct rack *r, struct api_req *q, struct api_resp *s);
void api_uninstall(struct rack *r, struct api_req *q, struct api_resp *s);
void api_reconcile(struct rack *r, struct api_req *q, struct api_resp *s);
void api_system_logs(struct rack *r, struct api_req *q, struct api_resp *s);
void api_system_metrics(struct rack *r, struct api_req *q, struct api_resp *s);
void api_system_ca(struct rack *r, struct api_req *q, struct api_resp *s);
/* api_reach.c */
void api_system_reach(struct rack *r, struct api_req *q, struct api_resp *s);
/* At the daemon's start, before the API: removes the reach-* namespaces of
 * this host rack a former daemon's walks left. */
void reach_init(struct rack *r);
/* api_peers.c */
void api_peering_get(struct rack *r, struct api_req *q, struct api_resp *s);
void api_peers_list(struct rack *r, struct api_req *q, struct api_resp *s);
void api_peers_add(struct rack *r, struct api_req *q, struct api_resp *s);
void api_peers_delete(struct rack *r, struct api_req *q, struct api_resp *s);
void api_certs_list(struct rack *r, struct api_req *q, struct api_resp *s);
void api_certs_import(struct rack *r, struct api_req *q, struct api_resp *s);
void api_certs_generate(struct rack *r, struct api_req *q, struct api_resp *s);
void api_certs_delete(struct rack *r, struct api_req *q, struct api_resp *s);
void api_ssl_list(struct rack *r, struct api_req *q, struct api_resp *s);
void api_ssl_update(struct rack *r, struct api_req *q, struct api_resp *s);
void api_apps_list(struct rack *r, struct api_req *q, struct api_resp *s);
void api_apps_create(struct rack *r, struct api_req *q, struct api_resp *s);
void api_app_get(struct rack *r, struct api_req *q, struct api_resp *s);
void api_app_delete(struct rack *r, struct api_req *q, struct api_resp *s);
void api_app_export(struct rack *r, struct api_req *q, struct api_resp *s);
void api_app_import(struct rack *r, struct api_req *q, struct api_resp *s);
void api_builds_create(struct rack *r, struct api_req *q, struct api_resp *s);
void api_builds_list(struct rack *r, struct api_req *q, struct api_resp *s);
/* POST /apps/APP/builds/prune: 200 {"removed": [{"build","releases"}], "keep": N}
 * (prune.h); 500 with one line when the store refused. */
void api_builds_prune(struct rack *r, struct api_req *q, struct api_resp *s);
void api_releases_list(struct rack *r, struct api_req *q, struct api_resp *s);
void api_release_get(struct rack *r, struct api_req *q, struct api_resp *s);
void api_release_promote(struct rack *r, struct api_req *q, struct api_resp *s);
void api_release_rollback(struct rack *r, struct api_req *q, struct api_resp *s);
void api_services_list(struct rack *r, struct api_req *q, struct api_resp *s);
void api_processes_list(struct rack *r, struct api_req *q, struct api_resp *s);
/* api_resources.c */
void api_resources_list(struct rack *r, struct api_req *q, struct api_resp *s);
void api_resource_get(struct rack *r, struct api_req *q, struct api_resp *s);
void api_resource_import(struct rack *r, struct api_req *q, struct api_resp *s);
void api_env_get(struct rack *r, struct api_req *q, struct api_resp *s);
void api_env_set(struct rack *r, struct api_req *q, struct api_resp *s);
void api_scale(struct rack *r, struct api_req *q, struct api_resp *s);
void api_restart(struct rack *r, struct api_req *q, struct api_resp *s);
void api_service_restart(struct rack *r, struct api_req *q, struct api_resp *s);
void api_logs(struct rack *r, struct api_req *q, struct api_resp *s);
void api_run(struct rack *r, struct api_req *q, struct api_resp *s);
void api_exec(struct rack *r, struct api_req *q, struct api_resp *s);   /* api_exec.c */
/* Kills and reaps every `cx exec` command running (the rack is stopping: a
 * contained process's namespace cannot end while one of them is unreaped). */
void api_exec_stop_all(struct rack *r);
void api_app_cancel(struct rack *r, struct api_req *q, struct api_resp *s);
void api_process_stop(struct rack *r, struct api_req *q, struct api_resp *s);
void api_build_get(struct rack *r, struct api_req *q, struct api_resp *s);
void api_build_logs(struct rack *r, struct api_req *q, struct api_resp *s);
void api_release_manifest(struct rack *r, struct api_req *q, struct api_resp *s);
void api_render(struct rack *r, struct api_req *q, struct api_resp *s);
void api_system_processes(struct rack *r, struct api_req *q, struct api_resp *s);

#endif
