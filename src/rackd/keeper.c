/*
 * keeper.c — see keeper.h.
 *
 *   start ──fork──▶ RUNNING ──daemon exits 0──────────────▶ exit 0
 *                     │  ▲   ──SIGTERM: pass it on, then exit when it has
 *      abnormal exit  │  │ delay over (fork again)
 *                     ▼  │
 *                   WAITING ──SIGTERM──▶ exit 0
 *   SIGUSR1 in either state: exit 0, the daemon (if any) runs on unkept.
 *
 * All signals are blocked and taken with sigtimedwait, whose timeout is the
 * back-off: one loop, no handlers, no race between a check and a wait.
 */
#include "rackd/keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "rackd/disk.h"

int64_t
keeper_backoff_ms(int failures)
{
	int64_t d = KEEPER_BACKOFF_FIRST_MS;

	if (failures <= 0)
		return 0;
	for (int i = 1; i < failures && d < KEEPER_BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < KEEPER_BACKOFF_MAX_MS ? d : KEEPER_BACKOFF_MAX_MS;
}

/* How a daemon ended, for the log: "was killed by signal 9", "exited with status 1". */
static void
describe(int status, char *out, size_t outlen)
{
	if (WIFSIGNALED(status))
		snprintf(out, outlen, "was killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
}

/* Exits, removing keeper.pid if it still names this keeper (a keeper
 * started since, after a clean stop, has written its own). */
static _Noreturn void
keeper_exit(const char *pidpath, int code)
{
	char *text = read_file(pidpath, 64, NULL);
	long pid = 0;

	if (text != NULL) {
		text[strcspn(text, "\n")] = '\0';
		if (parse_long(text, 1, INT32_MAX, &pid) == 0 && (pid_t)pid == getpid())
			unlink(pidpath);
		free(text);
	}
	exit(code);
}

/* Forks the daemon: 0 in the child (signals as before the keeper), its pid
 * in the keeper, -1 if fork failed. */
static pid_t
spawn(const sigset_t *old)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_NAME, "cx-rackd");
		sigprocmask(SIG_SETMASK, old, NULL);
	}
	return pid;
}

/* The first start: waits for the daemon's report on fd (it writes "ok" or
 * why it could not start, then closes), passes it on to report_fd. */
static bool
first_report(int fd, int report_fd)
{
	char msg[1024];
	ssize_t n;

	do
		n = read(fd, msg, sizeof(msg));
	while (n == -1 && errno == EINTR);
	close(fd);
	if (report_fd != -1) {
		if (n > 0 && write(report_fd, msg, (size_t)n) == -1)
			log_warn("keeper: cannot pass the daemon's report on");
		close(report_fd);
	}
	return n == 2 && memcmp(msg, "ok", 2) == 0;
}

void
keeper_run(const char *dir, int report_fd, int *ready_fd)
{
	char pidpath[4096], line[32], how[128];
	sigset_t set, old;
	int pfd[2], failures = 0;
	int64_t started, restart_at = 0;
	pid_t child;
	bool stopping = false;

	/* Nothing inherited beyond stdio and the report pipe: a descriptor of
	 * whoever started us must not live as long as the rack. */
	if (report_fd > 3)
		close_range(3, (unsigned)report_fd - 1, 0);
	close_range(report_fd >= 3 ? (unsigned)report_fd + 1 : 3, ~0U, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &old) == -1)
		fatal("keeper: sigprocmask");
	if (pipe2(pfd, O_CLOEXEC) == -1)
		fatal("keeper: pipe");
	child = spawn(&old);
	if (child == -1)
		fatal("keeper: fork");
	if (child == 0) {
		close(pfd[0]);
		if (report_fd != -1)
			close(report_fd);
		*ready_fd = pfd[1];
		return;
	}
	prctl(PR_SET_NAME, "cx-keeper");
	snprintf(pidpath, sizeof(pidpath), "%s/keeper.pid", dir);
	snprintf(line, sizeof(line), "%d\n", (int)getpid());
	close(pfd[1]);
	if (disk_write_file(dir, pidpath, line) == -1) {
		/* Unnamed, the keeper could not be told to let go (cx rack
		 * uninstall): no start rather than one nothing can stop. */
		char msg[4200];

		snprintf(msg, sizeof(msg), "cannot write %s: %s", pidpath, strerror(errno));
		log_warnx("keeper: %s", msg);
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
		close(pfd[0]);
		if (report_fd != -1) {
			if (write(report_fd, msg, strlen(msg)) == -1)
				log_warn("keeper: cannot report start-up");
			close(report_fd);
		}
		exit(1);
	}
	started = now_ms();
	if (!first_report(pfd[0], report_fd)) {
		/* A start that never worked is the user's to see, not to retry. */
		waitpid(child, NULL, 0);
		keeper_exit(pidpath, 1);
	}
	log_info("keeper (pid %d) keeps the daemon (pid %d)", (int)getpid(), (int)child);
	for (;;) {
		struct timespec ts = { 1, 0 };
		siginfo_t si;
		int signo, status;

		if (child <= 0) {
			int64_t left = restart_at - now_ms();

			if (left <= 0) {
				if ((child = spawn(&old)) == 0) {
					*ready_fd = -1;
					return;
				}
				if (child == -1) {
					log_warn("keeper: fork");
					restart_at = now_ms() + keeper_backoff_ms(++failures);
					continue;
				}
				started = now_ms();
				log_info("keeper: started the daemon again (pid %d)", (int)child);
				continue;
			}
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000L;
		}
		signo = sigtimedwait(&set, &si, &ts);
		if (signo == -1)
			continue;       /* EAGAIN (the delay is over) or EINTR */
		if (signo == SIGUSR1) {
			log_info("keeper: letting go; the daemon (pid %d) runs on unkept", (int)child);
			keeper_exit(pidpath, 0);
		}
		if (signo == SIGTERM || signo == SIGINT) {
			if (child <= 0)
				keeper_exit(pidpath, 0);
			/* The daemon may have had the signal too (a terminal's ^C): harmless. */
			kill(child, SIGTERM);
			stopping = true;
			continue;
		}
		if (signo != SIGCHLD)
			continue;
		if (child <= 0 || waitpid(child, &status, WNOHANG) != child)
			continue;
		child = 0;
		if (stopping || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			log_info("keeper: the daemon stopped; so does its keeper");
			keeper_exit(pidpath, 0);
		}
		describe(status, how, sizeof(how));
		if (WIFEXITED(status) && WEXITSTATUS(status) == KEEPER_EXIT_HELD) {
			log_warnx("keeper: the daemon %s: another daemon holds the rack; the keeper "
			    "leaves it to that one", how);
			keeper_exit(pidpath, 0);
		}
		if (now_ms() - started >= KEEPER_STABLE_MS)
			failures = 0;
		restart_at = now_ms() + keeper_backoff_ms(failures);
		log_warnx("keeper: the daemon %s after %lld ms; starting it again in %lld ms "
		    "(restart %d)", how, (long long)(now_ms() - started),
		    (long long)keeper_backoff_ms(failures), failures + 1);
		failures++;
	}
}
