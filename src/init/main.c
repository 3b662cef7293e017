/*
 * cx-init — the first process of every app process's PID namespace (see
 * rackd/supervisor.c). An app is seldom written to be PID 1: the kernel
 * gives PID 1 no default action for SIGTERM, and nobody would reap what it
 * orphans. So the rack puts this in front of it: it reaps every process of
 * the namespace, forwards the signals it gets to the app, and leaves when the
 * app does, with the app's status (exited N: N; killed by signal S: 128+S).
 * Its leaving ends the namespace: the kernel kills whatever the app left
 * running, in a session of its own or not.
 *
 *   cx-init PID [FD]  PID: the app's pid in the namespace (the rack forks it
 *                     before it execs this), already running
 *                     FD: the rack's socket; just before leaving, the app's
 *                     wait status goes there as one datagram "status N", so
 *                     that the rack tells "exit 130" from a death by SIGINT
 *                     (an exit code cannot, and PID 1 cannot kill itself)
 *
 * It starts with every signal blocked (so none sent before it is ready is
 * lost) and takes them with sigwaitinfo. A stop (SIGTERM, SIGINT, SIGQUIT,
 * SIGHUP) goes to every process of the namespace, as a stop of a process
 * group did before; then it waits for all of them, not only the app, so that
 * children keep their grace (the rack sends SIGKILL when it ends). It runs
 * with no environment (the rack's exec gives it none) and holds nothing of
 * the app's but its stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int
status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

/* Sends the app's wait status st to the rack on fd, as "status N". */
static void
report_status(int fd, int st)
{
	char msg[32];
	int n = snprintf(msg, sizeof(msg), "status %d", st);

	/* Refused: a daemon that restarted since, which adopted us unseen. */
	if (n > 0 && send(fd, msg, (size_t)n, MSG_NOSIGNAL) == -1 && errno != ECONNREFUSED)
		perror("cx-init: cannot tell the rack the app's status");
}

int
main(int argc, char **argv)
{
	static const int forwarded[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2,
		SIGWINCH, SIGALRM, SIGCONT };
	sigset_t set;
	char *end;
	long app, statfd = -1;
	int app_status = 0, devnull;
	bool app_done = false, stopping = false;

	if (argc < 2 || argc > 3 || (app = strtol(argv[1], &end, 10)) <= 1 || *end != '\0' ||
	    (argc == 3 && ((statfd = strtol(argv[2], &end, 10)) < 3 || *end != '\0'))) {
		fprintf(stderr, "cx-init: usage: cx-init PID [FD] (the app's pid in this namespace; "
		    "the descriptor, 3 or more, its status goes to)\n");
		return 127;
	}
	/* Every signal stays blocked: they are taken below, one at a time. */
	sigfillset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	prctl(PR_SET_NAME, "cx-init", 0, 0, 0);
	if ((devnull = open("/dev/null", O_RDWR)) != -1) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		if (devnull > 2)
			close(devnull);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	for (;;) {
		siginfo_t si;
		pid_t w;
		int st;

		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w == (pid_t)app) {
				app_done = true;
				app_status = st;
				/* Told at once: a child that holds the stop past
				 * the grace gets us killed, the app's status kept. */
				if (statfd != -1)
					report_status((int)statfd, app_status);
			}
		}
		/* The app is gone: leave now (the kernel ends the rest), or, when
		 * stopping, once the rest has ended too. */
		if (app_done && (!stopping || (w == -1 && errno == ECHILD)))
			return status_code(app_status);
		if (sigwaitinfo(&set, &si) == -1 || si.si_signo == SIGCHLD)
			continue;
		if (si.si_signo == SIGTERM || si.si_signo == SIGINT || si.si_signo == SIGQUIT ||
		    si.si_signo == SIGHUP) {
			stopping = true;
			kill(-1, si.si_signo);  /* every process of the namespace but this one */
		} else if (!app_done) {
			kill((pid_t)app, si.si_signo);
		}
	}
}
