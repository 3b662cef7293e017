/*
 * test_promote.c — the reconciler's promotion state machine (drawn atop
 * reconcile.c) against a fake supervisor: nothing forks, nothing is
 * signalled. The store is real (SQLite in a temp dir), the health checks are
 * real but their probes never run (the loop is not run): the test hands
 * each process its probe results with health_result, and its exit through
 * the exit handler, as the supervisor would.
 *
 * Time-guarded steps (the old release's drain, the log shim's moment after
 * an exit, the first-pass deadline) are moved on by setting the deadline in
 * the past rather than by sleeping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "common/ev.h"
#include "common/util.h"
#include "rackd/health.h"
#include "rackd/kdeploy.h"
#include "rackd/rack.h"
#include "rackd/reconcile.h"
#include "rackd/routers.h"
#include "rackd/store.h"
#include "rackd/supervisor.h"

#define MAX_PROCS 32

/* What the fake supervisor was asked to do. */
static struct {
	int spawned, stopped;
	pid_t next_pid;
} fake;

/* The record of process id in the store, or -1 pid when it has none. */
static pid_t
recorded_pid(struct rack *r, const char *id)
{
	struct st_proc *ps;
	size_t n;
	pid_t pid = -1;

	assert_int_equal(store_proc_list(r->store, &ps, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ps[i].id, id) == 0)
			pid = ps[i].pid;
	}
	store_proc_list_free(ps, n);
	return pid;
}

static int
fake_spawn(struct rack *r, struct proc *p, const struct sandbox *sb, const char *command,
    char *const *env, const int *stdio, char *err, size_t errlen)
{
	bool marked = false;

	(void)sb, (void)command, (void)stdio, (void)err, (void)errlen;
	/* The reconciler records a process before it asks for it (pid 0: starting). */
	assert_int_equal(recorded_pid(r, p->st.id), 0);
	/* ...and marks its environment, so a daemon's start can find it on the host. */
	for (char *const *e = env; *e != NULL; e++) {
		if (strncmp(*e, "CX_RACK_PROCESS=", 16) == 0 && strstr(*e, p->st.id) != NULL)
			marked = true;
	}
	assert_true(marked);
	fake.spawned++;
	p->st.pid = ++fake.next_pid;    /* never signalled: the fake sends nothing */
	p->our_child = true;
	p->pidfd = 1000 + (int)p->st.pid;  /* "alive"; only the fake's forget touches it */
	/* As the real one: recorded with its pid before it runs. */
	assert_int_equal(store_proc_put(r->store, &p->st), 0);
	return 0;
}

static int
fake_adopt(struct rack *r, struct proc *p)
{
	(void)r, (void)p;
	return -1;
}

static void
fake_stop(struct rack *r, struct proc *p, int grace_s)
{
	(void)r, (void)grace_s;
	assert_int_equal(p->state, PROC_STOPPING);  /* the reconciler marks it first */
	fake.stopped++;
}

static void
fake_forget(struct rack *r, struct proc *p)
{
	(void)r;
	p->pidfd = -1;
}

static const struct sup_ops fake_sup = {
	.spawn_app = fake_spawn,
	.adopt = fake_adopt,
	.stop = fake_stop,
	.forget = fake_forget,
};

/* p exits with status (a waitpid status), as the supervisor reports it. */
static void
fake_exit(struct rack *r, struct proc *p, int status)
{
	assert_int_not_equal(p->pidfd, -1);
	p->pidfd = -1;
	p->exit_status = status;
	r->proc_exited(r, p);
}

static const char manifest[] =
    "services:\n"
    "  web:\n"
    "    command: ./serve\n"
    "    port: 3000\n"
    "    health:\n"
    "      path: /health\n"
    "      interval: 1\n"
    "    scale:\n"
    "      count: 2\n";

static char tmpdir[64];
static struct rack rack;

static int
setup(void **state)
{
	struct rack *r = &rack;
	struct st_build b = { .id = "B1", .app = "app1", .manifest = (char *)manifest,
		.warnings = "" };
	char path[4096], err[256];

	(void)state;
	memset(&fake, 0, sizeof(fake));
	fake.next_pid = 100000;
	memset(r, 0, sizeof(*r));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cx-unit.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	str_copy(r->home, sizeof(r->home), tmpdir);
	str_copy(r->name, sizeof(r->name), "unit");
	snprintf(r->dir, sizeof(r->dir), "%s/racks/unit", tmpdir);
	snprintf(path, sizeof(path), "%s/apps", r->dir);
	if (mkdir_p(path, 0700) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/state.db", r->dir);
	if ((r->store = store_open(path, err, sizeof(err))) == NULL)
		return -1;
	if ((r->loop = ev_new()) == NULL)
		return -1;
	r->sup = &fake_sup;
	sup_set_exit_handler(r, reconcile_proc_exited);
	health_set_handler(r, reconcile_health_changed);

	b.dir = tmpdir;     /* no Dockerfile there: the manifest's command runs */
	if (store_app_create(r->store, "app1", 0) == -1 || store_build_add(r->store, &b) == -1)
		return -1;
	for (int i = 1; i <= 2; i++) {
		struct st_release rel = { .app = "app1", .build = "B1", .status = "created",
			.env = "", .description = "", .error = "" };

		snprintf(rel.id, sizeof(rel.id), "R%d", i);
		if (store_release_add(r->store, &rel) == -1)
			return -1;
	}
	reconcile_app_add(r, "app1", 0);
	return 0;
}

static int
teardown(void **state)
{
	struct rack *r = &rack;

	(void)state;
	kdeploy_cancel(r, NULL);
	/* Delete the app; each process it stops exits; the app goes with the last. */
	if (r->apps != NULL)
		reconcile_app_delete(r, r->apps);
	while (r->apps != NULL) {
		struct proc *p = r->apps->procs;

		assert_non_null(p);
		fake_exit(r, p, 0);
	}
	store_close(r->store);
	ev_free(r->loop);
	return remove_tree(tmpdir);
}

/* The processes of the app's current promotion (gen), newest first. */
static int
procs_of(struct app *a, unsigned gen, struct proc **out)
{
	int n = 0;

	for (struct proc *p = a->procs; p != NULL && n < MAX_PROCS; p = p->next) {
		if (p->gen == gen)
			out[n++] = p;
	}
	return n;
}

static void
assert_release(const char *id, const char *status, const char *error_part)
{
	struct st_release rel;

	assert_int_equal(store_release_get(rack.store, "app1", id, &rel), 0);
	assert_string_equal(rel.status, status);
	if (error_part != NULL && strstr(rel.error, error_part) == NULL)
		fail_msg("release %s: error \"%s\" lacks \"%s\"", id, rel.error, error_part);
	store_release_free(&rel);
}

/* Whether the public router's table routes to p. */
static bool
routed(struct proc *p)
{
	char *snap, err[256], line[128];
	bool found;

	assert_int_equal(routers_snapshot(&rack, false, &snap, err, sizeof(err)), 0);
	snprintf(line, sizeof(line), "up %s %s %d\n", p->st.id, p->st.address, p->st.port);
	found = strstr(snap, line) != NULL;
	free(snap);
	return found;
}

/* Promotes id and passes every new process's first check: id is active. */
static void
promote_and_pass(struct app *a, const char *id, struct proc **out)
{
	int n;

	assert_int_equal(reconcile_promote(&rack, a, id, (char[256]){ 0 }, 256), 0);
	n = procs_of(a, a->promoting_gen, out);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++)
		health_result(&rack, out[i], true);
	assert_string_equal(a->active, id);
	assert_string_equal(a->promoting, "");
}

static void
test_all_pass_then_routes_switch_and_old_drain(void **state)
{
	struct app *a = rack.apps;
	struct proc *old[MAX_PROCS], *new[MAX_PROCS];
	char err[256];

	(void)state;
	/* idle --promote R1--> PROMOTING: two processes, starting, unrouted. */
	assert_int_equal(reconcile_promote(&rack, a, "R1", err, sizeof(err)), 0);
	assert_string_equal(a->promoting, "R1");
	assert_int_equal(procs_of(a, a->promoting_gen, old), 2);
	assert_int_equal(fake.spawned, 2);
	assert_release("R1", "promoting", NULL);
	assert_int_equal(old[0]->state, PROC_STARTING);
	assert_true(old[0]->st.promoting);
	assert_string_equal(reconcile_app_status(&rack, a), "updating");

	/* One passes: still PROMOTING, nothing routed yet. */
	health_result(&rack, old[0], true);
	assert_int_equal(old[0]->state, PROC_RUNNING);
	assert_string_equal(a->promoting, "R1");
	assert_false(routed(old[0]));

	/* All pass --> ACTIVE(R1): recorded, routed, and the routes were flagged. */
	rack.routes_changed = false;
	health_result(&rack, old[1], true);
	assert_string_equal(a->active, "R1");
	assert_string_equal(a->promoting, "");
	assert_release("R1", "active", NULL);
	assert_true(rack.routes_changed);
	assert_true(routed(old[0]) && routed(old[1]));
	assert_false(old[0]->st.promoting);
	assert_string_equal(reconcile_app_status(&rack, a), "running");

	/* R1 --promote R2--> ACTIVE(R2): routes switch to R2 at once... */
	promote_and_pass(a, "R2", new);
	assert_release("R2", "active", NULL);
	assert_release("R1", "replaced", NULL);
	assert_true(routed(new[0]) && routed(new[1]));
	assert_false(routed(old[0]) || routed(old[1]));
	/* ...and R1's processes are stopped only after the drain. */
	reconcile_tick(&rack);
	assert_int_equal(fake.stopped, 0);
	a->drain_at = now_ms() - 1;
	reconcile_tick(&rack);
	assert_int_equal(fake.stopped, 2);
	assert_int_equal(old[0]->state, PROC_STOPPING);
	assert_int_equal(old[1]->state, PROC_STOPPING);
	fake_exit(&rack, old[0], 0);
	fake_exit(&rack, old[1], 0);
	assert_int_equal(procs_of(a, a->active_gen, new), 2);
	assert_ptr_equal(a->procs->next->next, NULL);   /* the old ones are gone */
	assert_int_equal(fake.spawned, 4);              /* and none was replaced */
	assert_string_equal(reconcile_app_status(&rack, a), "running");
}

/* R1 active and serving, then a promotion of id begun: its processes in new. */
static void
promote_over_r1(struct app *a, const char *id, struct proc **old, struct proc **new)
{
	char err[256];

	promote_and_pass(a, "R1", old);
	assert_int_equal(reconcile_promote(&rack, a, id, err, sizeof(err)), 0);
	assert_int_equal(procs_of(a, a->promoting_gen, new), 2);
}

/* The promotion is over and R1 serves on, untouched, on both its processes. */
static void
assert_r1_serves(struct app *a, struct proc **old)
{
	assert_string_equal(a->promoting, "");
	assert_string_equal(a->active, "R1");
	assert_release("R1", "active", NULL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(old[i]->state, PROC_RUNNING);
		assert_true(routed(old[i]));
	}
}

/* After fake_exit, the reconciler gives the log shim a moment; move it on. */
static void
after_shim_flush(struct proc *p)
{
	p->exited_at -= 1000;
	reconcile_tick(&rack);
}

static void
test_exit_during_promotion_fails_it(void **state)
{
	struct app *a = rack.apps;
	struct proc *old[MAX_PROCS], *new[MAX_PROCS];

	(void)state;
	promote_over_r1(a, "R2", old, new);
	health_result(&rack, new[0], true);
	fake_exit(&rack, new[1], 3 << 8);       /* exit status 3 */
	assert_string_equal(a->promoting, "R2"); /* its last lines are still on their way */
	after_shim_flush(new[1]);

	/* PROMOTING --exit--> FAILED: R2 records why, R1 keeps serving. */
	assert_r1_serves(a, old);
	assert_release("R2", "failed", "exited with status 3 during promotion");
	assert_int_equal(new[0]->state, PROC_STOPPING);   /* R2's other process stops */
	assert_int_equal(fake.stopped, 1);
	assert_null(a->restart_error);
}

static void
test_cancel_fails_it_and_old_serves(void **state)
{
	struct app *a = rack.apps;
	struct proc *old[MAX_PROCS], *new[MAX_PROCS];
	char err[256];

	(void)state;
	promote_over_r1(a, "R2", old, new);
	health_result(&rack, new[0], true);

	/* PROMOTING --cancel--> FAILED: every new process stops, R1 serves on. */
	assert_int_equal(reconcile_cancel(&rack, a, err, sizeof(err)), 0);
	assert_r1_serves(a, old);
	assert_release("R2", "failed", "cancelled (cx apps cancel)");
	assert_int_equal(new[0]->state, PROC_STOPPING);
	assert_int_equal(new[1]->state, PROC_STOPPING);
	assert_int_equal(fake.stopped, 2);

	/* Nothing under way: nothing to cancel, and nothing changes. */
	assert_int_equal(reconcile_cancel(&rack, a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nothing to cancel"));
	assert_r1_serves(a, old);
}

static void
test_first_pass_deadline_missed_fails_it(void **state)
{
	struct app *a = rack.apps;
	struct proc *old[MAX_PROCS], *new[MAX_PROCS];

	(void)state;
	promote_over_r1(a, "R2", old, new);

	/* Failures before the deadline: it is probed again, still starting. */
	health_result(&rack, new[0], false);
	health_result(&rack, new[0], false);
	assert_int_equal(new[0]->state, PROC_STARTING);
	assert_string_equal(a->promoting, "R2");

	/* A failure past it --> FAILED, with the check that was missed. */
	new[0]->health.first_deadline = now_ms() - 1;
	health_result(&rack, new[0], false);
	assert_r1_serves(a, old);
	assert_release("R2", "failed", "did not pass its health check (GET /health)");
	assert_int_equal(new[0]->state, PROC_STOPPING);
	assert_int_equal(new[1]->state, PROC_STOPPING);
}

static void
test_failed_restart_leaves_release_active(void **state)
{
	struct app *a = rack.apps;
	struct proc *old[MAX_PROCS], *new[MAX_PROCS];
	unsigned active_gen;

	(void)state;
	/* cx restart: a promotion of the active release, in a new generation. */
	promote_over_r1(a, "R1", old, new);
	active_gen = a->active_gen;
	assert_int_not_equal(a->promoting_gen, active_gen);
	assert_false(proc_is_active(a, new[0]));
	fake_exit(&rack, new[0], 3 << 8);
	after_shim_flush(new[0]);

	/* FAILED, but R1 stays active: the app says why the restart failed. */
	assert_r1_serves(a, old);
	assert_int_equal(a->active_gen, active_gen);
	assert_non_null(a->restart_error);
	assert_non_null(strstr(a->restart_error, "exited with status 3 during promotion"));
	assert_int_equal(new[1]->state, PROC_STOPPING);
	assert_string_equal(reconcile_app_status(&rack, a), "updating");
	fake_exit(&rack, new[1], 0);
	assert_string_equal(reconcile_app_status(&rack, a), "running");
	assert_int_equal(fake.spawned, 4);
}

/*
 * A Kubernetes rack (kdeploy.h's machine): a promotion starts no process
 * but a child that applies; its word makes the release active or failed.
 * The rack's kubeconfig names a server on a loopback port nothing listens
 * on, so a child that asks is refused at once.
 */
static void
make_kube(struct rack *r)
{
	char path[4200];
	static const char kc[] = "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
	    "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n"
	    "contexts:\n- name: t\n  context: {cluster: c, user: u}\n"
	    "users:\n- name: u\n  user:\n    token: unit\n";

	snprintf(path, sizeof(path), "%s/kubeconfig", r->dir);
	assert_int_equal(write_file_atomic(path, kc, strlen(kc), 0600), 0);
	r->kube = true;
}

static void
poll_job(struct ev_loop *loop, void *arg)
{
	if (!kdeploy_applying(arg, "app1"))
		ev_stop(loop);
	else
		ev_timer_add(loop, 20, poll_job, arg);
}

static void
give_up(struct ev_loop *loop, void *arg)
{
	(void)arg;
	ev_stop(loop);
}

/* Runs the loop until app1's apply has reported (10 s at most). */
static void
run_until_applied(struct rack *r)
{
	struct ev_timer *guard = ev_timer_add(r->loop, 10000, give_up, NULL);

	ev_timer_add(r->loop, 20, poll_job, r);
	ev_run(r->loop);
	ev_timer_cancel(r->loop, guard);
	assert_false(kdeploy_applying(r, "app1"));
}

static void
test_kube_unreachable_fails_it(void **state)
{
	struct app *a = rack.apps;
	char err[256];

	(void)state;
	make_kube(&rack);
	assert_int_equal(reconcile_promote(&rack, a, "R1", err, sizeof(err)), 0);
	assert_int_equal(fake.spawned, 0);          /* no process here */
	assert_string_equal(a->promoting, "R1");
	assert_true(kdeploy_applying(&rack, "app1"));
	assert_release("R1", "promoting", NULL);
	run_until_applied(&rack);
	assert_release("R1", "failed", "release R1 was not applied to the cluster: "
	    "https://127.0.0.1:1/version: ");
	assert_string_equal(a->promoting, "");
	assert_string_equal(a->active, "");
	assert_int_equal(fake.spawned, 0);
}

static void
test_kube_applied_activates_and_late_words_drop(void **state)
{
	struct app *a = rack.apps;
	char err[256];

	(void)state;
	make_kube(&rack);
	assert_int_equal(reconcile_promote(&rack, a, "R1", err, sizeof(err)), 0);
	/* The child's "ok", as job_finish passes it on. */
	reconcile_applied(&rack, "app1", "R1", NULL);
	assert_string_equal(a->active, "R1");
	assert_string_equal(a->promoting, "");
	assert_release("R1", "active", NULL);
	assert_string_equal(reconcile_app_status(&rack, a), "running");
	/* A word for a promotion no longer under way changes nothing: the
	 * child still running reports that it could not connect. */
	reconcile_applied(&rack, "app1", "R2", "late");
	assert_release("R2", "created", NULL);
	run_until_applied(&rack);
	assert_string_equal(a->active, "R1");
	assert_release("R1", "active", NULL);
	assert_int_equal(fake.spawned, 0);
}

static void
test_kube_cancel_and_deadline_fail_it(void **state)
{
	struct app *a = rack.apps;
	char err[256];

	(void)state;
	make_kube(&rack);
	assert_int_equal(reconcile_promote(&rack, a, "R1", err, sizeof(err)), 0);
	assert_int_equal(reconcile_cancel(&rack, a, err, sizeof(err)), 0);
	assert_false(kdeploy_applying(&rack, "app1"));   /* the child is killed */
	assert_release("R1", "failed", "cancelled");
	assert_int_equal(reconcile_promote(&rack, a, "R2", err, sizeof(err)), 0);
	a->p_deadline = now_ms() - 1;
	reconcile_app(&rack, a);
	assert_false(kdeploy_applying(&rack, "app1"));
	assert_release("R2", "failed", "did not finish within 3120 s (deploy_timeout and two minutes)");
	assert_string_equal(a->active, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_pass_then_routes_switch_and_old_drain,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_during_promotion_fails_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_fails_it_and_old_serves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_pass_deadline_missed_fails_it, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failed_restart_leaves_release_active, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_kube_unreachable_fails_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kube_applied_activates_and_late_words_drop,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_kube_cancel_and_deadline_fail_it, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
