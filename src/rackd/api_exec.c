/*
 * api_exec.c — POST /apps/APP/processes/ID/exec {"command": "..."}: `cx exec`,
 * Convox's exec. A command runs inside a running process's walls (its
 * namespaces, root, ids: rootfs_join_process) with its environment, through
 * /bin/sh -c as Convox's exec does, with its stdio attached as `cx run`'s is
 * (three descriptors on the unix socket, or Upgrade: cx-attach frames); the
 * answer is its exit status. It is not a process of the app's: the reconciler
 * neither counts nor replaces it, and it ends when the client goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <unistd.h>

#include "common/jv.h"
#include "common/log.h"
#include "common/util.h"
#include "rackd/api.h"
#include "rackd/cgroup.h"
#include "rackd/rack.h"
#include "rackd/supervisor.h"
#include "rackd/rootfs.h"

#define ENVIRON_MAX (1 << 20)

struct exec_run {
	struct rack *r;
	struct api_pending *pending;
	pid_t pid;
	int pidfd;
	struct exec_run *next;
};

/* The commands running, for api_exec_stop_all. */
static struct exec_run *runs;

static void
runs_remove(struct exec_run *x)
{
	for (struct exec_run **pp = &runs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			return;
		}
	}
}

void
api_exec_stop_all(struct rack *r)
{
	while (runs != NULL) {
		struct exec_run *x = runs;

		runs = x->next;
		kill(-x->pid, SIGKILL);
		kill(x->pid, SIGKILL);
		waitpid(x->pid, NULL, 0);
		ev_del(r->loop, x->pidfd);
		close(x->pidfd);
		if (x->pending != NULL)
			api_finish_error(x->pending, 503, "the rack is stopping");
		free(x);
	}
}

/* The environment of pid (its /proc/PID/environ), NULL-terminated. */
static char **
environ_of(pid_t pid)
{
	char path[64], *data;
	size_t len = 0, n = 0;
	char **v;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	data = read_file(path, ENVIRON_MAX, &len);
	v = xcalloc(len / 2 + 2, sizeof(*v));
	for (size_t i = 0; data != NULL && i < len; i += strlen(data + i) + 1) {
		if (data[i] != '\0')
			v[n++] = xstrdup(data + i);
	}
	free(data);
	return v;
}

static void
exec_done(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct exec_run *x = arg;
	int st = -1;
	jv *j = jv_object_new();

	(void)events;
	ev_del(loop, fd);
	close(fd);
	if (waitpid(x->pid, &st, 0) == -1)
		st = -1;
	kill(-x->pid, SIGKILL);    /* what it left behind in its session */
	if (st != -1 && WIFEXITED(st))
		jv_set_int(j, "exit", WEXITSTATUS(st));
	else if (st != -1 && WIFSIGNALED(st))
		jv_set_int(j, "signal", WTERMSIG(st));
	if (x->pending != NULL)
		api_finish(x->pending, 200, j);
	else
		jv_free(j);
	runs_remove(x);
	free(x);
}

/* The client went away: so does its command. */
static void
exec_client_gone(void *arg)
{
	struct exec_run *x = arg;

	api_finish(x->pending, 0, NULL);
	x->pending = NULL;
	kill(-x->pid, SIGKILL);
}

/* Forks the command into process target (held by pidfd target_fd); 0 with
 * *x, or -1 with err. */
static int
exec_start(struct rack *r, pid_t target, int target_fd, uint32_t base, const char *id, const char *command,
    const int fds[3],
    struct exec_run **out, char *err, size_t errlen)
{
	int errp[2];
	char msg[512];
	ssize_t n;
	pid_t pid;
	int pidns, cg[CGROUP_MAX_DIRS];
	size_t ncg = 0;
	bool in_ns;
	char **env = environ_of(target);

	if (pipe2(errp, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		rootfs_strv_free(env);
		return -1;
	}
	/* Into the process's PID namespace too: it sees the same /proc, and it
	 * stops with the process. */
	snprintf(msg, sizeof(msg), "/proc/%d/ns/pid", (int)target);
	if ((pidns = open(msg, O_RDONLY | O_CLOEXEC)) == -1) {
		/* Gone (or no descriptor left): never a namespace of its own. */
		snprintf(err, errlen, "cannot enter the process's namespaces: %s", strerror(errno));
		close(errp[0]);
		close(errp[1]);
		rootfs_strv_free(env);
		return -1;
	}
	/* Its groups too: what runs in the process counts in its limits. */
	if (cgroup_proc_open(r, id, cg, &ncg, msg, sizeof(msg)) == -1) {
		snprintf(err, errlen, "cannot enter the process's groups: %s", msg);
		ncg = 0;
	} else if (!pidfd_alive(target_fd)) {
		/* What was opened by its pid is its own only if it lives on. */
		snprintf(err, errlen, "process %d has exited", (int)target);
	} else {
		err[0] = '\0';
	}
	if (err[0] != '\0') {
		for (size_t i = 0; i < ncg; i++)
			close(cg[i]);
		close(pidns);
		close(errp[0]);
		close(errp[1]);
		rootfs_strv_free(env);
		return -1;
	}
	pid = sup_fork_pidns(pidns, &in_ns);
	close(pidns);
	if (pid == 0 && cgroup_join(cg, ncg) == -1)
		_exit(127);
	for (size_t i = 0; i < ncg; i++)
		close(cg[i]);
	if (pid == 0) {
		sigset_t none;
		char *argv[] = { "sh", "-c", (char *)command, NULL };

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		if (dup2(fds[0], 0) == -1 || dup2(fds[1], 1) == -1 || dup2(fds[2], 2) == -1)
			_exit(127);
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		if (rootfs_join_process(target, target_fd, base, msg, sizeof(msg)) == 0) {
			execve("/bin/sh", argv, env);
			snprintf(msg, sizeof(msg), "exec /bin/sh in the process: %s", strerror(errno));
		}
		if (write(errp[1], msg, strlen(msg)) < 0)
			_exit(127);
		_exit(127);
	}
	rootfs_strv_free(env);
	close(errp[1]);
	if (pid == -1) {
		close(errp[0]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	n = read(errp[0], msg, sizeof(msg) - 1);
	close(errp[0]);
	if (n > 0) {
		msg[n] = '\0';
		snprintf(err, errlen, "%s", msg);
		waitpid(pid, NULL, 0);
		return -1;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->r = r;
	(*out)->pid = pid;
	(*out)->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if ((*out)->pidfd == -1 || ev_add(r->loop, (*out)->pidfd, EV_READ, exec_done, *out) == -1) {
		snprintf(err, errlen, "cannot watch the command: %s", strerror(errno));
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if ((*out)->pidfd != -1)
			close((*out)->pidfd);
		free(*out);
		return -1;
	}
	set_cloexec((*out)->pidfd);
	(*out)->next = runs;
	runs = *out;
	return 0;
}

/* An anonymous pipe open for want: what the command's stdio may be (it is
 * handed to the process's ids; a named FIFO would give away a host node). */
static bool
sent_pipe(int fd, int want)
{
	char link[64], target[64];
	int fl = fcntl(fd, F_GETFL);
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0 || fl == -1 || (fl & O_ACCMODE) != want)
		return false;
	target[n] = '\0';
	return str_has_prefix(target, "pipe:[");
}

void
api_exec(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 }, theirs[3], ours[3];
	const int *fds = q->fds;
	const char *command;
	struct exec_run *x;
	struct proc *p;
	char err[1024];
	pid_t target;
	int target_fd, rc;
	jv *body;

	if (a == NULL)
		return;
	for (p = a->procs; p != NULL; p = p->next) {
		if (strcmp(p->st.id, q->args[1]) == 0)
			break;
	}
	if (p == NULL || p->state == PROC_EXITED || p->st.pid <= 0) {
		api_error(s, 404, "no such process: %s (cx ps -a %s lists them)", q->args[1], a->name);
		return;
	}
	if (a->uid_base == 0) {
		api_error(s, 400, "cx exec needs a rack run as root (its app's processes have no walls"
		    " to enter here)");
		return;
	}
	if (!(q->attach && q->nfds == 0) && q->nfds != 3) {
		api_error(s, 400, "an exec needs the command's stdin, stdout and stderr sent with the "
		    "request (SCM_RIGHTS) or Upgrade: cx-attach; %zu descriptors came", q->nfds);
		return;
	}
	for (size_t i = 0; i < q->nfds; i++) {
		if (!sent_pipe(q->fds[i], i == 0 ? O_RDONLY : O_WRONLY)) {
			api_error(s, 400, "descriptor %zu must be an anonymous pipe open for %s", i,
			    i == 0 ? "reading" : "writing");
			return;
		}
	}
	if ((body = api_json_body(q, s)) == NULL)
		return;
	command = jv_str_or(body, "command", "");
	if (command[0] == '\0') {
		api_error(s, 400, "exec needs a command: cx exec %s COMMAND", p->st.id);
		goto out;
	}
	if (q->nfds == 0) {
		if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
		    pipe2(er, O_CLOEXEC) == -1) {
			api_error(s, 500, "cannot make the exec's pipes: %s", strerror(errno));
			goto out;
		}
		theirs[0] = in[0];
		theirs[1] = out[1];
		theirs[2] = er[1];
		fds = theirs;
	}
	/* Into the app's own process (its environment, its namespaces). */
	if ((target_fd = sup_app_pidfd(p, &target, err, sizeof(err))) == -1) {
		api_error(s, 409, "cannot exec in %s: %s", p->st.id, err);
		goto out;
	}
	rc = exec_start(r, target, target_fd, a->uid_base, p->st.id, command, fds, &x, err,
	    sizeof(err));
	close(target_fd);
	if (rc == -1) {
		api_error(s, 400, "cannot exec in %s: %s", p->st.id, err);
		goto out;
	}
	if (q->nfds == 0) {
		close(in[0]);
		close(out[1]);
		close(er[1]);
		in[0] = out[1] = er[1] = -1;
		ours[0] = in[1];
		ours[1] = out[0];
		ours[2] = er[0];
		in[1] = out[0] = er[0] = -1;
		x->pending = api_attach(q, s, ours);
	} else {
		for (size_t i = 0; i < q->nfds; i++) {
			close(q->fds[i]);
			q->fds[i] = -1;
		}
		x->pending = api_defer(q, s);
	}
	log_info("app %s: exec in process %s: %s", a->name, p->st.id, command);
	api_pending_on_gone(x->pending, exec_client_gone, x);
out:
	jv_free(body);
	for (int i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
		if (er[i] != -1)
			close(er[i]);
	}
}
