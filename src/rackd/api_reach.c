/*
 * api_reach.c — POST /system/reach {"rack": B, "domain": D, "service": S}:
 * walks from this rack to service S of peer B over the TLS peering
 * (reach.h) and answers {"rack", "peer", "hops": [...], "reached"}.
 *
 * The walk blocks, so it runs off the loop: a keeper child (a process group
 * of its own) makes the temporary process namespace on host racks, forks
 * the walker, kills it if it outlives REACH_WALK_MS, removes the namespace
 * and exits; the walker writes its JSON into a pipe. The daemon waits for
 * the keeper's exit (pidfd) and kills the whole group if even the keeper
 * outlives REACH_WALK_MS + REACH_GRACE_MS, so a hang cannot wedge it.
 *
 *   handler --fork--> KEEPER --fork--> WALKER --JSON on the pipe, exit-->
 *   KEEPER --namespace removed, exit--> answer (the pipe's JSON)
 *   timer --kill the group--> answer 504 (the keeper is still reaped)
 *   KEEPER killed or died on a host rack --fork--> CLEANER (removes
 *   reach-<keeper pid>, exits) --> the job ends
 *
 * The keeper's REACH_WALK_MS counts from its own start (the lab's lock may
 * be slow to come): it is always killed before the daemon's limit. At most
 * REACH_MAX walks run at once (429 beyond); a daemon starting on a host
 * rack removes the reach-* namespaces a former one left (reach_init).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/api.h"
#include "rackd/rack.h"
#include "rackd/reach.h"
#include "rackd/store.h"

#define REACH_GRACE_MS 5000
#define REACH_OUT_MAX (64 * 1024)
#define REACH_MAX 4
#define REACH_PREFIX "reach-"

static int walks;                 /* jobs running, cleaners included */

struct reach_job {
	struct rack *rack;
	struct api_pending *pending;  /* NULL once answered */
	pid_t keeper;
	int pidfd;
	int out;                      /* the pipe's read end */
	struct ev_timer *deadline;
	bool host;                    /* the keeper makes a namespace: reach-<keeper> */
	char peer[32];
};

/* The peer row for name into p (p->ca left NULL); 0 found, -1 not. */
static int
peer_find(struct rack *r, const char *name, struct st_peer *p)
{
	struct st_peer *list;
	size_t n;
	int rc = -1;

	if (store_peer_list(r->store, &list, &n) == -1)
		return -1;
	for (size_t i = 0; i < n && rc == -1; i++) {
		if (strcmp(list[i].name, name) == 0) {
			*p = list[i];
			p->ca = NULL;
			rc = 0;
		}
	}
	store_peer_list_free(list, n);
	return rc;
}

static bool
domain_chars(const char *s)
{
	if (s[0] == '\0' || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	}
	return true;
}

static void
write_all(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = write(fd, s + off, len - off);

		if (n <= 0 && errno != EINTR)
			return;
		if (n > 0)
			off += (size_t)n;
	}
}

/* One failed hop as the whole answer (the walk could not start). */
static void
write_failure(int fd, const char *hop, const char *detail)
{
	jv *o = jv_object_new(), *hops = jv_array_new(), *h = jv_object_new();
	char *text;

	jv_set_str(h, "hop", hop);
	jv_set_bool(h, "ok", false);
	jv_set_int(h, "us", 0);
	jv_set_str(h, "detail", detail);
	jv_push_take(hops, h);
	jv_set_take(o, "hops", hops);
	jv_set_bool(o, "reached", false);
	text = jv_dump(o);
	write_all(fd, text);
	free(text);
	jv_free(o);
}

/* The keeper: never returns. */
static void
keeper_run(struct reach_plan *plan, int out)
{
	char addr[64], err[512];
	int64_t end;
	pid_t walker;
	int status = 0, rc = 0;

	end = now_ms() + REACH_WALK_MS;   /* from the keeper's start: the lab may be slow */
	if (plan->host) {
		snprintf(plan->proc_id, sizeof(plan->proc_id), REACH_PREFIX "%d", (int)getpid());
		if (lab_proc_create(plan->home, plan->rack, plan->proc_id, addr, sizeof(addr), err,
		    sizeof(err)) == -1) {
			char what[700];

			snprintf(what, sizeof(what), "cannot take a place among %s's processes: %s",
			    plan->rack, err);
			write_failure(out, "name", what);
			_exit(0);
		}
	}
	walker = fork();
	if (walker == 0) {
		jv *res = reach_walk(plan);
		char *text = jv_dump(res);

		write_all(out, text);
		_exit(0);
	}
	if (walker == -1) {
		write_failure(out, "name", "cannot fork the walk");
	} else {
		while (waitpid(walker, &status, WNOHANG) == 0) {
			if (now_ms() >= end) {
				kill(walker, SIGKILL);
				waitpid(walker, &status, 0);
				rc = 3;
				break;
			}
			usleep(20 * 1000);
		}
	}
	if (plan->host)
		lab_proc_destroy(plan->home, plan->rack, plan->proc_id);
	_exit(rc);
}

static void
job_answer(struct reach_job *j, int status, jv *json, const char *error)
{
	if (j->pending == NULL) {
		jv_free(json);
		return;
	}
	if (json != NULL)
		api_finish(j->pending, status, json);
	else
		api_finish_error(j->pending, status, error);
	j->pending = NULL;
}

static void
job_free(struct reach_job *j)
{
	ev_timer_cancel(j->rack->loop, j->deadline);
	if (j->pidfd != -1) {
		ev_del(j->rack->loop, j->pidfd);
		close(j->pidfd);
	}
	if (j->out != -1)
		close(j->out);
	free(j);
	walks--;
}

/* The cleaner's exit: the job ends. */
static void
on_cleaner_exit(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct reach_job *j = arg;

	(void)loop;
	(void)fd;
	(void)events;
	waitpid(j->keeper, NULL, 0);
	job_free(j);
}

/* A keeper killed or dead before it removed its namespace: a short-lived
 * child of nothing of the daemon's removes reach-<keeper> (the lab's lock
 * may be slow to come); the job ends when it exits. 0 when it runs. */
static int
cleaner_start(struct reach_job *j)
{
	char id[LAB_PROC_ID_MAX + 1];
	pid_t pid;
	int pidfd;

	snprintf(id, sizeof(id), REACH_PREFIX "%d", (int)j->keeper);
	if ((pid = fork()) == -1) {
		log_warn("rack %s: cannot fork to remove the walk's namespace %s", j->rack->name, id);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		close_range(3, ~0U, 0);
		_exit(lab_proc_destroy(j->rack->home, j->rack->name, id) == 0 ? 0 : 1);
	}
	if ((pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) == -1) {
		waitpid(pid, NULL, 0);
		return -1;
	}
	ev_del(j->rack->loop, j->pidfd);
	close(j->pidfd);
	j->pidfd = pidfd;
	j->keeper = pid;
	if (ev_add(j->rack->loop, j->pidfd, EV_READ, on_cleaner_exit, j) == -1) {
		waitpid(pid, NULL, 0);
		return -1;
	}
	return 0;
}

static void
on_deadline(struct ev_loop *loop, void *arg)
{
	struct reach_job *j = arg;
	char msg[256];

	(void)loop;
	j->deadline = NULL;
	kill(-j->keeper, SIGKILL);
	log_warnx("rack %s: the reach walk to %s outlived %d ms; killed", j->rack->name, j->peer,
	    REACH_WALK_MS + REACH_GRACE_MS);
	snprintf(msg, sizeof(msg), "the walk from %s to %s did not end within %d ms", j->rack->name,
	    j->peer, REACH_WALK_MS + REACH_GRACE_MS);
	job_answer(j, 504, NULL, msg);
}

static void
on_keeper_exit(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct reach_job *j = arg;
	struct buf b;
	char chunk[4096], err[256];
	int status = 0;
	ssize_t n;
	jv *res;

	(void)loop;
	(void)fd;
	(void)events;
	waitpid(j->keeper, &status, 0);
	buf_init(&b, REACH_OUT_MAX);
	while ((n = read(j->out, chunk, sizeof(chunk))) > 0)
		if (buf_add(&b, chunk, (size_t)n) == -1)
			break;
	res = b.len > 0 ? jv_parse(buf_cstr(&b), b.len, err, sizeof(err)) : NULL;
	buf_free(&b);
	if (res == NULL || !jv_is_object(res)) {
		char msg[256];

		jv_free(res);
		snprintf(msg, sizeof(msg), "the walk from %s to %s ended without a verdict (%s)",
		    j->rack->name, j->peer, WIFEXITED(status) && WEXITSTATUS(status) == 3 ?
		    "it outlived its time and was killed" : "it died");
		job_answer(j, 504, NULL, msg);
	} else {
		jv_set_str(res, "rack", j->rack->name);
		jv_set_str(res, "peer", j->peer);
		job_answer(j, 200, res, NULL);
	}
	/* 0 and 3 are the keeper's own ends, its namespace removed. */
	if (j->host && !(WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
	    WEXITSTATUS(status) == 3)) && cleaner_start(j) == 0)
		return;
	job_free(j);
}

/* Fills the plan from the request and the rack; -1 with s set. */
static int
plan_fill(struct rack *r, struct api_req *q, struct api_resp *s, struct reach_plan *plan)
{
	struct st_peer peer;
	jv *body;
	int rc = -1;

	memset(plan, 0, sizeof(*plan));
	if ((body = api_json_body(q, s)) == NULL)
		return -1;
	if (str_copy(plan->peer, sizeof(plan->peer), jv_str_or(body, "rack", "")) == -1 ||
	    !valid_name(plan->peer)) {
		api_error(s, 400, "\"rack\" must name the peer to walk to ([a-z][a-z0-9-]{0,29})");
		goto out;
	}
	if (str_copy(plan->domain, sizeof(plan->domain), jv_str_or(body, "domain", "")) == -1 ||
	    !domain_chars(plan->domain)) {
		api_error(s, 400, "\"domain\" must be the service's internal name on %s, as GET "
		    "/apps/APP/services there gives it", plan->peer);
		goto out;
	}
	if (str_copy(plan->service, sizeof(plan->service), jv_str_or(body, "service", "")) == -1 ||
	    !valid_name(plan->service)) {
		api_error(s, 400, "\"service\" must name the service on %s ([a-z][a-z0-9-]{0,29})",
		    plan->peer);
		goto out;
	}
	str_copy(plan->rack, sizeof(plan->rack), r->name);
	str_copy(plan->home, sizeof(plan->home), r->home);
	plan->host = r->host;
	if (r->host) {
		snprintf(plan->egress, sizeof(plan->egress), "%s:80", r->egress_addr);
	} else {
		char port[16];

		rack_param(r, "egress_port", port, sizeof(port));
		snprintf(plan->egress, sizeof(plan->egress), "127.0.0.1:%s", port);
	}
	if (peer_find(r, plan->peer, &peer) == 0) {
		plan->peered = true;
		str_copy(plan->endpoint, sizeof(plan->endpoint), peer.endpoint);
		str_copy(plan->internal_domain, sizeof(plan->internal_domain), peer.internal_domain);
	}
	snprintf(plan->ca_file, sizeof(plan->ca_file), "%s/peers/%s.pem", r->dir, plan->peer);
	snprintf(plan->cert_file, sizeof(plan->cert_file), "%s/peer.pem", r->dir);
	snprintf(plan->key_file, sizeof(plan->key_file), "%s/peer.key", r->dir);
	rc = 0;
out:
	jv_free(body);
	return rc;
}

void
api_system_reach(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct reach_plan plan;
	struct reach_job *j;
	int pfd[2];

	if (r->vpc && !r->host) {
		api_error(s, 400, "rack %s is a lab VPC rack: it peers by routing; cx services reach "
		    "--from %s walks it from the CLI", r->name, r->name);
		return;
	}
	if (plan_fill(r, q, s, &plan) == -1)
		return;
	if (walks >= REACH_MAX) {
		api_error(s, 429, "rack %s is walking %d reach walks already, the most it runs at "
		    "once: try again when one ends (each ends within %d s)", r->name, REACH_MAX,
		    (REACH_WALK_MS + REACH_GRACE_MS) / 1000);
		return;
	}
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		api_error(s, 500, "cannot start the walk: pipe: %s", strerror(errno));
		return;
	}
	j = xcalloc(1, sizeof(*j));
	walks++;
	j->rack = r;
	j->host = plan.host;
	j->pidfd = -1;
	j->out = pfd[0];
	str_copy(j->peer, sizeof(j->peer), plan.peer);
	j->keeper = fork();
	if (j->keeper == 0) {
		sigset_t none;

		/* Nothing of the daemon's: not its lock, sockets, store or blocked
		 * signals (a restart must not find them held); a group of its own. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_IGN);   /* a reset connection is a verdict */
		setpgid(0, 0);
		if (dup2(pfd[1], 3) == -1)
			_exit(1);
		close_range(4, ~0U, 0);
		keeper_run(&plan, 3);
	}
	close(pfd[1]);
	if (j->keeper == -1) {
		api_error(s, 500, "cannot start the walk: fork: %s", strerror(errno));
		job_free(j);
		return;
	}
	setpgid(j->keeper, j->keeper);
	set_nonblock(j->out);
	j->pidfd = (int)syscall(SYS_pidfd_open, j->keeper, 0);
	if (j->pidfd == -1 || ev_add(r->loop, j->pidfd, EV_READ, on_keeper_exit, j) == -1) {
		api_error(s, 500, "cannot watch the walk: %s", strerror(errno));
		kill(-j->keeper, SIGKILL);
		waitpid(j->keeper, NULL, 0);
		if (j->pidfd != -1)
			close(j->pidfd);
		j->pidfd = -1;
		job_free(j);
		return;
	}
	j->deadline = ev_timer_add(r->loop, REACH_WALK_MS + REACH_GRACE_MS, on_deadline, j);
	j->pending = api_defer(q, s);
}

void
reach_init(struct rack *r)
{
	char (*ids)[LAB_PROC_ID_MAX + 1] = NULL;
	size_t n = 0;

	if (!r->host || lab_proc_ids(r->home, r->name, REACH_PREFIX, &ids, &n) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		log_info("rack %s: removing %s, a reach walk's namespace a former daemon left",
		    r->name, ids[i]);
		lab_proc_destroy(r->home, r->name, ids[i]);
	}
	free(ids);
}
