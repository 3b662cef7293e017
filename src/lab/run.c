/*
 * run.c — run `ip` and `nft` inside a network namespace, and enter one.
 *
 * A child is forked, joins the namespace with setns(2) (cheaper than
 * `ip -n`, which also remounts /sys), writes the namespace's sysctls under
 * /proc/sys/net (which shows the caller's network namespace), then execs the
 * tool with its batch on stdin. Commands are argv arrays, never shell
 * strings. The parent feeds stdin and collects stderr with poll, bounded by
 * a deadline after which the child is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "lab/lab_int.h"

#define RUN_TIMEOUT_MS 10000

void
lab_child_reset(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	}
	close_range(3, ~0u, 0);
}

static int
write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);
	int rc = 0;

	if (fd == -1)
		return -1;
	if (write(fd, value, len) != (ssize_t)len)
		rc = -1;
	close(fd);
	return rc;
}

static int
join_netns(const char *name)
{
	char path[PATH_MAX];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", LAB_NETNS_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	rc = setns(fd, CLONE_NEWNET);
	close(fd);
	return rc;
}

static _Noreturn void
child(int in, int errfd, const char *netns, const struct lab_sysctl *sysctls, char *const argv[])
{
	static const char *const dirs[] = { "/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/" };
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	dup2(in != -1 ? in : devnull, 0);
	dup2(devnull, 1);
	dup2(errfd, 2);
	lab_child_reset();
	if (netns != NULL && join_netns(netns) == -1) {
		dprintf(2, "cannot enter namespace %s: %s\n", netns, strerror(errno));
		_exit(126);
	}
	for (size_t i = 0; sysctls != NULL && sysctls[i].path != NULL; i++) {
		/* ENOENT: a kernel without that knob (IPv6 off at boot, say). */
		if (write_sysctl(sysctls[i].path, sysctls[i].value) == -1 && errno != ENOENT) {
			dprintf(2, "sysctl %s=%s: %s\n", sysctls[i].path, sysctls[i].value, strerror(errno));
			_exit(126);
		}
	}
	if (argv == NULL)
		_exit(0);
	execvp(argv[0], argv);
	/* A daemon's PATH may lack the sbin directories. */
	for (size_t i = 0; i < CX_ARRAY_LEN(dirs) && strchr(argv[0], '/') == NULL; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s%s", dirs[i], argv[0]);
		execv(path, argv);
	}
	dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int
lab_run(const char *netns, const struct lab_sysctl *sysctls, char *const argv[], const char *input,
    char *err, size_t errlen)
{
	int inpipe[2] = { -1, -1 }, errpipe[2] = { -1, -1 };
	const char *name = argv != NULL ? argv[0] : "sysctl";
	size_t inlen = input != NULL ? strlen(input) : 0, inoff = 0;
	char errbuf[2048];
	size_t errused = 0;
	int64_t deadline = now_ms() + RUN_TIMEOUT_MS;
	int status = 0, rc = -1;
	bool timed_out = false;
	pid_t pid;

	if (pipe2(errpipe, O_CLOEXEC) == -1 || (input != NULL && pipe2(inpipe, O_CLOEXEC) == -1)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(inpipe[0], errpipe[1], netns, sysctls, argv);
	close(errpipe[1]);
	errpipe[1] = -1;
	if (inpipe[0] != -1) {
		close(inpipe[0]);
		inpipe[0] = -1;
		set_nonblock(inpipe[1]);
	}
	while (errpipe[0] != -1) {
		struct pollfd pfd[2];
		int nfd = 0, left = (int)(deadline - now_ms());

		if (left <= 0) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		pfd[nfd++] = (struct pollfd){ .fd = errpipe[0], .events = POLLIN };
		if (inpipe[1] != -1)
			pfd[nfd++] = (struct pollfd){ .fd = inpipe[1], .events = POLLOUT };
		if (poll(pfd, (nfds_t)nfd, left) == -1) {
			if (errno == EINTR)
				continue;
			kill(pid, SIGKILL);
			break;
		}
		if (nfd == 2 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = write(inpipe[1], input + inoff, inlen - inoff);

			if (n > 0)
				inoff += (size_t)n;
			if ((n == -1 && errno != EAGAIN && errno != EINTR) || inoff == inlen) {
				close(inpipe[1]);
				inpipe[1] = -1;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char chunk[512];
			ssize_t n = read(errpipe[0], chunk, sizeof(chunk));

			if (n > 0) {
				size_t keep = sizeof(errbuf) - 1 - errused;

				if ((size_t)n < keep)
					keep = (size_t)n;
				memcpy(errbuf + errused, chunk, keep);
				errused += keep;
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(errpipe[0]);
				errpipe[0] = -1;
			}
		}
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	errbuf[errused] = '\0';
	if (timed_out) {
		snprintf(err, errlen, "%s%s%s: timed out after %d ms", name, netns ? " in " : "",
		    netns ? netns : "", RUN_TIMEOUT_MS);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = 0;
	} else {
		/* ip and nft put the useful line last ("RTNETLINK answers: File exists",
		 * "Command failed -:3" follows it); keep the first non-empty one. */
		char *line = errbuf;

		while (*line == '\n')
			line++;
		line[strcspn(line, "\n")] = '\0';
		snprintf(err, errlen, "%s%s%s: %s", name, netns ? " in " : "", netns ? netns : "",
		    line[0] != '\0' ? line : WIFEXITED(status) ? "failed" : "killed by a signal");
	}
out:
	for (int i = 0; i < 2; i++) {
		if (inpipe[i] != -1)
			close(inpipe[i]);
		if (errpipe[i] != -1)
			close(errpipe[i]);
	}
	return rc;
}

int
lab_ip(const char *netns, const char *batch, bool force, char *err, size_t errlen)
{
	char *argv_force[] = { "ip", "-force", "-batch", "-", NULL };
	char *argv[] = { "ip", "-batch", "-", NULL };

	return lab_run(netns, NULL, force ? argv_force : argv, batch, err, errlen);
}

int
lab_ip_sysctl(const char *netns, const struct lab_sysctl *sysctls, const char *batch, char *err,
    size_t errlen)
{
	char *argv[] = { "ip", "-batch", "-", NULL };

	return lab_run(netns, sysctls, argv, batch, err, errlen);
}

int
lab_nft(const char *netns, const char *ruleset, char *err, size_t errlen)
{
	char *argv[] = { "nft", "-f", "-", NULL };

	return lab_run(netns, NULL, argv, ruleset, err, errlen);
}

bool
lab_netns_exists(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", LAB_NETNS_DIR, name);
	return stat(path, &st) == 0;
}

int
lab_netns_del(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", LAB_NETNS_DIR, name);
	/* As `ip netns del`: detach the bind mount that keeps the namespace,
	 * then the file. The namespace itself lives on while a process is in it. */
	if (umount2(path, MNT_DETACH) == -1 && errno != EINVAL && errno != ENOENT)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

int
lab_netns_enter(const char *name, const char *resolv, char *err, size_t errlen)
{
	if (join_netns(name) == -1) {
		snprintf(err, errlen, "cannot enter network namespace %s: %s", name, strerror(errno));
		return -1;
	}
	if (unshare(CLONE_NEWNS) == -1) {
		snprintf(err, errlen, "unshare(CLONE_NEWNS): %s", strerror(errno));
		return -1;
	}
	/* Our mounts must not leak back into the host's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == -1) {
		snprintf(err, errlen, "making / a slave mount: %s", strerror(errno));
		return -1;
	}
	if (resolv != NULL && mount(resolv, "/etc/resolv.conf", NULL, MS_BIND, NULL) == -1) {
		snprintf(err, errlen, "bind-mounting %s on /etc/resolv.conf: %s", resolv, strerror(errno));
		return -1;
	}
	/* /sys shows the namespace that mounted it: remount so that
	 * /sys/class/net lists this namespace's links. Best effort, as in
	 * `ip netns exec`. */
	if (umount2("/sys", MNT_DETACH) == 0)
		mount("sysfs", "/sys", "sysfs", 0, NULL);
	return 0;
}
