/*
 * rack.h — the daemon's in-memory picture of one rack: its apps, their
 * processes and routers. The store holds what must survive a restart; this
 * holds what is running now. Everything here is touched from the loop's
 * thread only.
 */
#ifndef CX_RACK_H
#define CX_RACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/ev.h"
#include "rackd/cgroup.h"
#include "rackd/health.h"
#include "rackd/store.h"

struct manifest;
struct mf_service;

/*
 * A process's life (the reconciler moves it, on the supervisor's and the
 * health checks' reports):
 *
 *   STARTING --HEALTH_UP--> RUNNING <--HEALTH_DOWN / HEALTH_UP--> UNHEALTHY
 *      |                       |                                     |
 *      +--- stop, HEALTH_MISSED, HEALTH_REPLACE ---------------------+--> STOPPING --> gone
 *      +-- exit --> EXITED (kept until the reconciler looks at it)
 */
enum proc_state { PROC_STARTING, PROC_RUNNING, PROC_UNHEALTHY, PROC_STOPPING, PROC_EXITED };

struct proc {
	struct st_proc st;          /* persisted part */
	struct app *app;            /* back-pointer */
	enum proc_state state;
	int pidfd;                  /* -1 once exited */
	bool our_child;             /* false for processes adopted after a daemon restart */
	bool contained;             /* st.pid is cx-init, PID 1 of the process's PID namespace */
	int statfd;                 /* contained: our end of cx-init's status socket, else -1 */
	pid_t app_pid;              /* contained: the app's own process (host pid), 0 unknown */
	int app_status;             /* contained: the app's wait status as cx-init told it, -1 not yet */
	int oom_mb;                 /* its group's memory limit, when the kernel killed it over it */
	int exit_status;            /* waitpid status, -1 unknown */
	int64_t exited_at;          /* ms, when its exit was noticed */
	int64_t kill_at;            /* ms: SIGKILL if still alive (STOPPING) */
	struct health_check health; /* its checks (health.h); none for one-offs */
	unsigned gen;               /* the app generation that started it (see struct app) */
	bool oneoff;                /* a timer's run or `cx run`: not routed, not counted, not replaced */
	void (*on_exit)(struct proc *p);  /* told when it exits (cx run waits for it) */
	void *on_exit_arg;
	bool routed;                /* in the last route snapshot */
	/* cx services restart: a new process takes its place; it stops at
	 * replace_at (ms), set once enough new ones serve. Not persisted: a
	 * daemon restart ends the restart (scale stops what is then too many). */
	bool replaced;
	int64_t replace_at;
	bool retired;               /* replaced by the promotion under way (not by a
	                             * scale-down or a restart): a failed one routes it again */
	struct proc *next;
};

struct app {
	struct rack *rack;          /* back-pointer */
	char name[32];
	uint32_t uid_base;          /* its processes' uid and gid (sandbox.h); 0 on unprivileged racks */
	char active[16];            /* active release id */
	/*
	 * Generations tell processes apart when a release is promoted again
	 * (cx restart): each promotion starts a new generation, and a process
	 * belongs to the active (or promoting) release only if its gen matches.
	 */
	unsigned gen_counter;
	unsigned active_gen;
	unsigned promoting_gen;
	struct manifest *manifest;  /* of the active release, NULL when none */
	char build_dir[4096];       /* of the active release */
	char **release_env;         /* app env of the active release (K=V, NULL-terminated) */
	/* a promotion in flight */
	char promoting[16];
	struct manifest *p_manifest;
	char p_build_dir[4096];
	char **p_env;
	int64_t p_deadline;         /* ms: the whole promotion must be done by then */
	char queued[16];            /* an env change's release, promoted when this one ends */
	struct proc *procs;
	int64_t drain_at;           /* ms: old release's processes stop after this */
	int restarts;               /* crash restarts, for back-off */
	int64_t next_restart;       /* ms */
	bool deleting;
	char *restart_error;        /* why the last restart (re-promotion of the active release) failed */
	struct app *next;
};

struct router_proc {
	struct rack *rack;          /* back-pointer */
	const char *name;           /* "public", "internal" or "peer" */
	pid_t pid;
	int pidfd;
	char listen[64];
	char listen_tls[64];        /* "" : no TLS listener (VPC racks, the peer router) */
	char listen_peer[64];       /* the peer router: its mTLS listener for peers, and */
	char listen_egress[64];     /* its plain listener for the rack's own processes */
	char certs_dir[4096];
	char *cert_hosts;           /* its hosts whose certificates were last synced, or NULL */
	char *cert_synced;          /* what certs_sync was given then: these and the other TLS router's */
	char certs_error[512];      /* why they were not, "" if they were */
	char routes_path[4096];
	char pidfile[4096];
	char *snapshot;             /* last written content */
	char snapshot_error[512];   /* why the newest table did not reach the router, "" if it did */
	bool wanted;
	int64_t next_start;         /* ms, restart back-off */
};

/* A process group to SIGKILL at a deadline: what a stopped process leaves
 * behind gets its termination grace, then goes. */
struct group_kill {
	pid_t pgid;
	int64_t at;                 /* ms */
};

struct build_job;
struct kdeploy_job;
struct sup_ops;
struct tls_ctx;

enum { ROUTER_PUBLIC, ROUTER_INTERNAL, ROUTER_PEER, ROUTERS_N };

struct rack {
	char home[4096];
	char name[32];
	char dir[4096];             /* $CX_HOME/racks/NAME */
	char bin_dir[4096];         /* where cx-router lives */
	struct store *store;
	bool disk_vital;            /* the store's writes may spend the reserve (disk.h) */
	struct ev_loop *loop;
	char *ca_pem;               /* the rack's CA certificate (ca.h), PEM; owned */
	bool vpc;                   /* VPC and host racks: lab racks, routers on lab addresses */
	bool netns;                 /* processes in namespaces of their own: VPC, host racks and
				     * loopback racks run as root (lab_loopback_rack_create) */
	bool host;                  /* a host rack (lab.h lab_host_rack_create): routers on real addresses */
	bool kube;                  /* a Kubernetes rack (param kubeconfig, set at install): its
				     * apps run on the cluster (kdeploy.h), never here */
	char cidr[20];
	char public_addr[16];       /* the public router's address (host racks: public_address) */
	char private_addr[16];      /* the internal router's (host racks: private_address, else bridge
				     * .2; loopback racks run as root: bridge .2, DNATed to it) */
	char gateway_addr[16];      /* VPC and host racks: the processes' gateway (host racks: their DNS) */
	char egress_addr[16];       /* host racks and loopback racks run as root: where the
				     * processes reach TLS peers (bridge .3) */
	struct app *apps;
	struct router_proc routers[ROUTERS_N]; /* [0] public, [1] internal, [2] peer (peers.h) */
	bool exiting;
	int api_fd;
	int api_https_fd;           /* the API over HTTPS (api_tls.h), -1 when none */
	struct tls_ctx *api_tls;    /* its server context, owned */
	char api_https_listen[64];  /* "IP:PORT" it listens on, "" when none */
	char api_https_error[512];  /* why it does not listen where api_port says, "" */
	struct group_kill *kills;
	size_t nkills;
	struct build_job *builds;   /* builds being unpacked (build.c) */
	struct kdeploy_job *kjobs;  /* applies and deletions on the cluster (kdeploy.c) */
	const struct sup_ops *sup;  /* starts and stops app processes (supervisor.h) */
	/* Told when an app process exits (sup_set_exit_handler). */
	void (*proc_exited)(struct rack *r, struct proc *p);
	/* Told when a process's health changes (health_set_handler). */
	health_fn health_changed;
	/* What the routers and the lab DNS serve may have changed: sync them at
	 * the end of this loop turn (rack_routes_changed). */
	bool routes_changed;
	int64_t routes_retry_at;    /* ms: with routes_retry, not before then */
	bool routes_retry;          /* the last routers_sync left a router down or a table unwritten */
	struct acme *acme;          /* the ACME client (acme.h), NULL until acme_directory is set */
	struct cgroup_rack cg;      /* the rack's control groups (cgroup.h) */
};

/* Param with its default filled in (defaults depend on the rack). */
void rack_param(struct rack *r, const char *key, char *out, size_t outlen);
bool rack_param_bool(struct rack *r, const char *key);
/* The size at which each of the rack's logs rotates (log_max_mb), in bytes. */
int64_t rack_log_max(struct rack *r);

/* Says that what the routers or the lab DNS serve may have changed (a
 * process's state, an app's active release, an app gone): the daemon syncs
 * them once, at the end of the loop turn. */
void rack_routes_changed(struct rack *r);

struct app *rack_app_find(struct rack *r, const char *name);
/* The env of the app's newest release ("K=V\n" lines; "" if none), malloc'd. */
char *rack_latest_env(struct rack *r, const char *app);
/* Whether p belongs to the app's active release, or to the one being promoted. */
bool proc_is_active(const struct app *a, const struct proc *p);
bool proc_is_promoting(const struct app *a, const struct proc *p);
/* Whether the routers and the rack's DNS send p requests: a running process
 * of the active release or of the one being promoted (it passed its health
 * check), not a one-off, not draining. */
bool proc_serves(const struct app *a, const struct proc *p);
/* Whether p is out of the routes, waiting to be stopped: retired by a
 * rolling promotion, a scale-down or cx services restart (replace_at set). */
bool proc_draining(const struct proc *p);
/* Appends "allow CIDR" lines for every rack peered with r (VPC racks).
 * -1 if b refused one (full): the lines before it stay in b. */
struct buf;
int rack_peer_cidrs(struct rack *r, struct buf *b);
/* Starts a non-blocking connect from inside the rack's namespace (VPC racks),
 * from source address src when src is not NULL. */
struct sockaddr_in;
int rack_connect_in_vpc(struct rack *r, const struct sockaddr_in *sin,
    const struct sockaddr_in *src);

/* Hosts of a service: public domain, internal-router domain, rack-only domain. */
void rack_service_host(struct rack *r, const char *app, const char *service, bool internal_router,
    char *out, size_t outlen);

#endif
