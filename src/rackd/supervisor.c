/*
 * supervisor.c — see supervisor.h.
 *
 * App processes are our children (so we get their exit status) in their own
 * session (so a stop reaches every process they started, and a daemon crash
 * does not take them down). Their stdout and stderr go into a pipe read by a
 * detached log shim (applog.c). After a daemon restart, processes recorded in
 * the store are adopted: watched by pidfd, not reaped by us.
 *
 * No process runs unrecorded: a forked child waits on a pipe until the
 * daemon has written its pid to the store, and exits unrun if the pipe
 * closes first (the daemon died in between).
 */
#include "rackd/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/applog.h"
#include "rackd/cgroup.h"
#include "rackd/rack.h"
#include "rackd/image.h"
#include "rackd/rootfs.h"
#include "rackd/routers.h"
#include "rackd/sandbox.h"

static int
pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Field n (n > 2) of /proc/pid/stat as a number, -1 if gone. */
static long long
stat_field(pid_t pid, int n)
{
	char path[64], *data, *p;
	long long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	data = read_file(path, 4096, NULL);
	if (data == NULL)
		return -1;
	/* Skip past the command name (field 2), which may hold spaces. */
	p = strrchr(data, ')');
	if (p != NULL) {
		int field = 2;

		for (; *p != '\0' && field < n; p++) {
			if (*p == ' ')
				field++;
		}
		if (sscanf(p, "%lld", &v) != 1)
			v = -1;
	}
	free(data);
	return v;
}

int64_t
sup_pid_starttime(pid_t pid)
{
	return stat_field(pid, 22);
}

/* Takes what p's cx-init sent on p->statfd so far: the app's pid (a
 * datagram "p" from the app's process at its start, its credentials
 * attached by the kernel in our namespace) into p->app_pid, and "status N"
 * (from cx-init itself, as soon as it reaped the app), the app's own wait
 * status, into p->app_status. Whatever else comes, or from another sender,
 * is dropped. */
static void
init_read(struct proc *p)
{
	char buf[64], cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t n;

	if (p->statfd == -1)
		return;
	for (;;) {
		pid_t from = 0;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		if ((n = recvmsg(p->statfd, &mh, MSG_DONTWAIT)) <= 0)
			return;
		buf[n] = '\0';
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			struct ucred uc;

			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				memcpy(&uc, CMSG_DATA(c), sizeof(uc));
				from = uc.pid;
			}
		}
		if (strcmp(buf, "p") == 0 && p->app_pid == 0 && from > 0) {
			p->app_pid = from;
		} else if (strncmp(buf, "status ", 7) == 0 && from == p->st.pid) {
			char *end;
			long v = strtol(buf + 7, &end, 10);

			if (*end == '\0' && end != buf + 7 && v >= 0 && v <= 0xffff)
				p->app_status = (int)v;
		}
	}
}

static void
proc_exited(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct proc *p = arg;
	struct rack *r = p->app->rack;
	int status = -1;

	(void)events;
	ev_del(loop, fd);
	close(fd);
	p->pidfd = -1;
	if (p->our_child && waitpid(p->st.pid, &status, WNOHANG) <= 0)
		status = -1;
	/* Contained, cx-init's own status says nothing sure of the app's (it
	 * exits 128+S for an app killed by S, and 130 for "exit 130"): the app's
	 * own, when cx-init sent it, does. Without it (cx-init itself was
	 * killed), cx-init's. */
	init_read(p);
	if (status != -1 && p->app_status != -1)
		status = p->app_status;
	if (p->statfd != -1) {
		close(p->statfd);
		p->statfd = -1;
	}
	p->exit_status = status;
	/* Whether its memory got it killed, before its groups go: only what
	 * ended by SIGKILL (or unseen: adopted) can be, whatever else of its
	 * group the kernel killed before. */
	p->oom_mb = 0;
	if ((status != -1 && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) ||
	    !cgroup_proc_oom(r, p->st.id, &p->oom_mb))
		p->oom_mb = 0;
	else if (p->oom_mb == 0)
		p->oom_mb = -1;
	cgroup_proc_remove(r, p->st.id);
	/* As when a container's first process ends: whatever it left running in
	 * its session goes too, so no orphan outlives its process. A process being
	 * stopped may have left children that are still in their grace: they get
	 * it, then SIGKILL (sup_tick). */
	if (p->contained) {
		/* Its namespace ended with cx-init: nothing is left, and the pid
		 * (a group id no more) may soon be another's. */
	} else if (p->state == PROC_STOPPING && p->kill_at > now_ms()) {
		r->kills = xrealloc(r->kills, (r->nkills + 1) * sizeof(*r->kills));
		r->kills[r->nkills++] = (struct group_kill){ p->st.pid, p->kill_at };
	} else {
		kill(-p->st.pid, SIGKILL);
	}
	if (r->proc_exited == NULL) {
		log_warnx("process %s exited, but nobody registered to hear of it", p->st.id);
		return;
	}
	r->proc_exited(r, p);
}

void
sup_set_exit_handler(struct rack *r, sup_exit_fn fn)
{
	r->proc_exited = fn;
}

static int
watch(struct rack *r, struct proc *p)
{
	p->pidfd = pidfd_open_(p->st.pid);
	if (p->pidfd == -1)
		return -1;
	set_cloexec(p->pidfd);
	if (ev_add(r->loop, p->pidfd, EV_READ, proc_exited, p) == -1) {
		close(p->pidfd);
		p->pidfd = -1;
		return -1;
	}
	return 0;
}

/* Whether pid runs cx-init (a process adopted after a restart). */
static bool
runs_init(pid_t pid)
{
	char path[64], *comm;
	bool yes;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((comm = read_file(path, 64, NULL)) == NULL)
		return false;
	yes = strcmp(comm, "cx-init\n") == 0;
	free(comm);
	return yes;
}

static int
sup_adopt(struct rack *r, struct proc *p)
{
	int64_t start = sup_pid_starttime(p->st.pid);

	if (start == -1 || start != p->st.pid_start)
		return -1;
	p->our_child = false;
	p->contained = runs_init(p->st.pid);
	return watch(r, p);
}

/* In the child: report a failure through the error pipe and exit. */
static _Noreturn void
child_fail(int errfd, const char *what)
{
	char msg[512];
	int n = errno != 0 ? snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno)) :
	    snprintf(msg, sizeof(msg), "%s", what);

	if (n > 0 && write(errfd, msg, (size_t)n) == -1)
		_exit(127);
	_exit(127);
}

/* True if the shell would run command as one simple command, so that
 * "exec command" makes the app itself the process we signal and watch. */
static bool
simple_command(const char *command)
{
	/* Quotes are fine (exec 'perl' 'server.pl'); operators, expansions and
	 * leading assignments are not. */
	return strpbrk(command, ";&|<>()$`\n*?[]{}~#=") == NULL;
}

pid_t
sup_fork_pidns(int ns, bool *entered)
{
	static int own_ns = -2;
	pid_t pid;

	/* The daemon moves its next child alone (unshare or setns change the
	 * namespace of the children made after them, not its own), forks with
	 * glibc's fork (safe with the daemon's other threads), and goes back to
	 * its own namespace for the children after it. */
	if (own_ns == -2)
		own_ns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	*entered = own_ns != -1 && (ns == -1 ? unshare(CLONE_NEWPID) : setns(ns, CLONE_NEWPID)) == 0;
	pid = fork();
	if (pid != 0 && *entered && setns(own_ns, CLONE_NEWPID) == -1)
		fatal("cannot go back to the daemon's own PID namespace");
	return pid;
}

/* In the child, its walls entered, just before it execs the app: when
 * contained (it is PID 1 of its namespace), forks the app's own process,
 * which tells the daemon its pid on statfd and returns, and becomes cx-init
 * (initfd) with no environment, its status going to statfd; else returns at
 * once. */
static void
split_init(bool contained, int initfd, int statfd, int errfd)
{
	char arg[16], fdarg[16];
	char *argv[] = { "cx-init", arg, fdarg, NULL };
	char *envp[] = { NULL };
	sigset_t none;
	pid_t app;

	if (!contained)
		return;
	if ((app = fork()) == -1)
		child_fail(errfd, "fork");
	if (app == 0) {
		/* Its credentials go with it: the daemon reads its pid in its own
		 * namespace. The socket closes on the exec. */
		if (send(statfd, "p", 1, MSG_NOSIGNAL) == -1)
			child_fail(errfd, "telling the daemon the app's pid");
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		return;
	}
	/* Still with every signal blocked: cx-init takes what came meanwhile. */
	snprintf(arg, sizeof(arg), "%d", (int)app);
	snprintf(fdarg, sizeof(fdarg), "%d", statfd);
	if (fcntl(statfd, F_SETFD, 0) == -1)
		child_fail(errfd, "the status socket");
	syscall(SYS_execveat, initfd, "", argv, envp, AT_EMPTY_PATH);
	kill(app, SIGKILL);
	child_fail(errfd, "exec cx-init");
}

pid_t
sup_app_pid(const struct proc *p)
{
	char path[96], *data;
	long v = 0;

	if (!p->contained || p->st.pid <= 0)
		return p->st.pid;
	/* Told at its start (init_read); a process adopted after a daemon
	 * restart was not. */
	if (p->app_pid > 0)
		return p->app_pid;
	/* cx-init's first child is the app's process: it forked it first, and
	 * leaves when it goes. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)p->st.pid, (int)p->st.pid);
	if ((data = read_file(path, 4096, NULL)) != NULL) {
		v = strtol(data, NULL, 10);
		free(data);
	}
	return v > 0 ? (pid_t)v : p->st.pid;
}

int
sup_app_pidfd(const struct proc *p, pid_t *pidp, char *err, size_t errlen)
{
	pid_t pid = sup_app_pid(p);
	bool same;
	int fd;

	if (p->st.pid <= 0 || (p->contained && p->app_status != -1) ||
	    (fd = pidfd_open_(pid)) == -1) {
		snprintf(err, errlen, "its process has exited");
		return -1;
	}
	/* The pid names the process the descriptor holds only while that one
	 * lives: what /proc says of the pid is proved by its being alive after. */
	if (pid != p->st.pid)
		same = stat_field(pid, 4) == (long long)p->st.pid;  /* a child of its cx-init */
	else
		same = sup_pid_starttime(pid) == p->st.pid_start;
	if (!same || !pidfd_alive(fd)) {
		close(fd);
		snprintf(err, errlen, "its process %d has exited", (int)pid);
		return -1;
	}
	*pidp = pid;
	return fd;
}

static int
sup_spawn_app(struct rack *r, struct proc *p, const struct sandbox *sb, const char *command,
    char *const *env, const int *stdio, char *err, size_t errlen)
{
	char source[128], msg[512];
	char shell_line[8192], initpath[4200];
	int out[2] = { -1, -1 }, errp[2], gop[2] = { -1, -1 }, sfd[2] = { -1, -1 }, initfd = -1;
	int cgfds[CGROUP_MAX_DIRS];
	size_t ncg = 0;
	bool contained;
	pid_t pid;
	ssize_t n;

	/* With "exec", the app replaces the shell: its stop signal reaches it
	 * directly and its grace is its own. Compound commands keep their shell. */
	if (snprintf(shell_line, sizeof(shell_line), "%s%s", simple_command(command) ? "exec " : "",
	    command) >= (int)sizeof(shell_line)) {
		snprintf(err, errlen, "the command of %s is longer than 8 KiB", p->st.id);
		return -1;
	}
	/* By descriptor: an image's process no longer sees the host's files
	 * when it execs it. */
	snprintf(initpath, sizeof(initpath), "%s/cx-init", r->bin_dir);
	if ((initfd = open(initpath, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s (it is built and installed with cx-rackd)", initpath,
		    strerror(errno));
		return -1;
	}
	if (pipe2(errp, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(initfd);
		return -1;
	}
	p->st.shim_pid = 0;
	if (sb->limits != NULL && cgroup_proc_create(r, p->st.id, sb->limits, cgfds, &ncg, err,
	    errlen) == -1)
		goto fail;
	if (stdio == NULL) {
		/* Output goes to the app's log through a shim that outlives us. */
		if (pipe2(out, O_CLOEXEC) == -1) {
			snprintf(err, errlen, "pipe: %s", strerror(errno));
			goto fail;
		}
		snprintf(source, sizeof(source), "service/%s/%s", p->st.service, p->st.id);
		p->st.shim_pid = applog_shim(r, p->st.app, source, out[0]);
		close(out[0]);
		out[0] = -1;
		if (p->st.shim_pid == -1) {
			snprintf(err, errlen, "cannot start the log shim: %s", strerror(errno));
			goto fail;
		}
	}
	if (pipe2(gop, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	/* cx-init's word to us: the app's pid, then its status (init_read). */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sfd) == -1 ||
	    setsockopt(sfd[0], SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int)) == -1) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		goto fail;
	}
	/* PID 1 of a namespace of its own: what the app starts cannot leave it,
	 * setsid or not, and ends with it. Without the privilege (a rack not run
	 * as root), a session of its own. */
	pid = sup_fork_pidns(-1, &contained);
	if (pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		int devnull = -1, in_fd, out_fd, err_fd;
		sigset_t mask;
		char go = 0;

		/* cx-init takes its signals with every one blocked; the app's
		 * process unblocks them (split_init). */
		if (contained)
			sigfillset(&mask);
		else
			sigemptyset(&mask);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		signal(SIGPIPE, SIG_DFL);   /* an ignored signal would survive the exec */
		setsid();
		/* Nothing runs before the daemon has recorded us: without its word
		 * (it died before writing it), exit unrun. */
		close(gop[1]);
		while ((n = read(gop[0], &go, 1)) == -1 && errno == EINTR)
			;
		if (n != 1 || go != 'g')
			_exit(127);
		close(gop[0]);
		/* Into its control groups before it starts anything. */
		if (cgroup_join(cgfds, ncg) == -1)
			child_fail(errp[1], "joining its control groups");
		if (stdio == NULL) {
			devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
			in_fd = devnull;
			out_fd = err_fd = out[1];
		} else {
			in_fd = stdio[0];
			out_fd = stdio[1];
			err_fd = stdio[2];
		}
		/* dup2 clears close-on-exec on 0-2; nothing else of the daemon's
		 * survives the exec. */
		if (in_fd == -1 || dup2(in_fd, 0) == -1 || dup2(out_fd, 1) == -1 ||
		    dup2(err_fd, 2) == -1)
			child_fail(errp[1], "stdio");
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		if (sb->image != NULL) {
			struct rootfs_user u;
			char **ienv;

			/* From its image: its argv, through the image's PATH. */
			if (sandbox_enter_image(sb, &u, msg, sizeof(msg)) == 0) {
				ienv = rootfs_env(sb->image->config->env, env, u.home);
				split_init(contained, initfd, sfd[1], errp[1]);
				rootfs_exec(sb->image->argv, ienv, msg, sizeof(msg));
			}
			errno = 0;
			child_fail(errp[1], msg);
		}
		if (sandbox_enter(sb, msg, sizeof(msg)) == -1) {
			errno = 0;
			child_fail(errp[1], msg);
		}
		split_init(contained, initfd, sfd[1], errp[1]);
		execle("/bin/sh", "sh", "-c", shell_line, (char *)NULL, env);
		child_fail(errp[1], "exec /bin/sh");
	}
	if (out[1] != -1)
		close(out[1]);
	close(errp[1]);
	close(gop[0]);
	close(sfd[1]);
	close(initfd);
	for (size_t i = 0; i < ncg; i++)
		close(cgfds[i]);
	p->st.pid = pid;
	p->our_child = true;
	p->contained = contained;
	p->app_pid = 0;
	p->app_status = -1;
	if (contained) {
		p->statfd = sfd[0];
	} else {
		close(sfd[0]);
		p->statfd = -1;
	}
	/* Its start time is set at the fork: the record can name it now. */
	p->st.pid_start = sup_pid_starttime(pid);
	if (store_proc_put(r->store, &p->st) == -1) {
		snprintf(err, errlen, "cannot record process %s: %s", p->st.id, store_error(r->store));
		close(gop[1]);      /* it exits unrun */
		close(errp[0]);
		waitpid(pid, NULL, 0);
		cgroup_proc_remove(r, p->st.id);
		return -1;
	}
	n = write(gop[1], "g", 1);
	close(gop[1]);
	if (n != 1) {
		snprintf(err, errlen, "cannot start %s: %s", p->st.id, strerror(errno));
		close(errp[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		cgroup_proc_remove(r, p->st.id);
		return -1;
	}
	/* The error pipe closes on exec (cx-init's and the app's): an empty
	 * read means the command started. */
	n = read(errp[0], msg, sizeof(msg) - 1);
	close(errp[0]);
	/* The app's process told its pid before its exec closed the pipe. */
	init_read(p);
	if (n > 0) {
		msg[n] = '\0';
		snprintf(err, errlen, "cannot start %s: %s", p->st.id, msg);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		cgroup_proc_remove(r, p->st.id);
		return -1;
	}
	if (watch(r, p) == -1) {
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		cgroup_proc_remove(r, p->st.id);
		return -1;
	}
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] != -1)
			close(out[i]);
		if (gop[i] != -1)
			close(gop[i]);
		if (sfd[i] != -1)
			close(sfd[i]);
	}
	for (size_t i = 0; i < ncg; i++)
		close(cgfds[i]);
	if (ncg > 0)
		cgroup_proc_remove(r, p->st.id);
	close(errp[0]);
	close(errp[1]);
	close(initfd);
	return -1;
}

static void
sup_stop(struct rack *r, struct proc *p, int grace_s)
{
	(void)r;
	p->kill_at = now_ms() + (int64_t)grace_s * 1000;
	if (p->pidfd == -1)
		return;
	/* Contained: to cx-init only, which passes it on to every process of
	 * the namespace. Else to its process group. */
	if (p->contained || kill(-p->st.pid, SIGTERM) == -1)
		kill(p->st.pid, SIGTERM);
}

static void
sup_forget(struct rack *r, struct proc *p)
{
	if (p->statfd != -1) {
		close(p->statfd);
		p->statfd = -1;
	}
	if (p->pidfd == -1)
		return;
	ev_del(r->loop, p->pidfd);
	close(p->pidfd);
	p->pidfd = -1;
}

const struct sup_ops sup_processes = {
	.spawn_app = sup_spawn_app,
	.adopt = sup_adopt,
	.stop = sup_stop,
	.forget = sup_forget,
};

void
sup_tick(struct rack *r)
{
	int64_t now = now_ms();

	for (size_t i = 0; i < r->nkills;) {
		struct group_kill *k = &r->kills[i];

		if (kill(-k->pgid, 0) == -1 && errno == ESRCH) {
			*k = r->kills[--r->nkills];      /* the group is empty */
			continue;
		}
		if (now >= k->at) {
			kill(-k->pgid, SIGKILL);
			*k = r->kills[--r->nkills];
			continue;
		}
		i++;
	}

	for (struct app *a = r->apps; a != NULL; a = a->next) {
		for (struct proc *p = a->procs; p != NULL; p = p->next) {
			if (p->state == PROC_STOPPING && p->pidfd != -1 && now >= p->kill_at) {
				kill(-p->st.pid, SIGKILL);
				kill(p->st.pid, SIGKILL);
				p->kill_at = now + 1000;
			}
		}
	}
}

int
sup_spawn_router(struct rack *r, struct router_proc *rp)
{
	char exe[4096], logpath[4096], labmsg[256], *argv[24];
	int errp[2];
	pid_t pid;
	ssize_t n;

	snprintf(exe, sizeof(exe), "%s/cx-router", r->bin_dir);
	snprintf(logpath, sizeof(logpath), "%s/router-%s.log", r->dir, rp->name);
	if (pipe2(errp, O_CLOEXEC) == -1)
		return -1;
	pid = fork();
	if (pid == -1) {
		close(errp[0]);
		close(errp[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		setsid();
		if (devnull == -1 || logfd == -1 || dup2(devnull, 0) == -1 ||
		    dup2(logfd, 1) == -1 || dup2(logfd, 2) == -1)
			child_fail(errp[1], logpath);
		if (r->vpc && !r->host && lab_enter_rack(r->home, r->name, labmsg, sizeof(labmsg)) == -1) {
			errno = 0;
			child_fail(errp[1], labmsg);
		}
		routers_argv(r, rp, argv, CX_ARRAY_LEN(argv));
		execv(exe, argv);
		child_fail(errp[1], exe);
	}
	close(errp[1]);
	n = read(errp[0], labmsg, sizeof(labmsg) - 1);
	close(errp[0]);
	if (n > 0) {
		labmsg[n] = '\0';
		log_warnx("router %s: %s", rp->name, labmsg);
		waitpid(pid, NULL, 0);
		return -1;
	}
	rp->pid = pid;
	return 0;
}
