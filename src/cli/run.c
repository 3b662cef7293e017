/*
 * run.c — `cx run SERVICE [COMMAND...]`: a one-off process of a service,
 * started by the CLI itself from the rack's run spec (directory,
 * environment, VPC or not), attached to the terminal, exiting with the
 * process's status.
 *
 * The process gets what app processes get: on a VPC rack its own network
 * namespace with an address in the VPC (removed afterwards) and the lab's
 * resolver; as root, the unprivileged user 65534 with no_new_privs.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "lab/lab.h"

#define NOBODY 65534

int
cli_relay_status(pid_t pid)
{
	struct sigaction ign, old_int, old_quit;
	int status, rc;

	/* The terminal's ^C goes to the child; we wait for it to act on it. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	if (status == -1)
		rc = 1;
	else if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
	else
		rc = 1;
	return rc;
}

void
cli_child_defaults(void)
{
	sigset_t none;

	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In the child: one line, and the shell's statuses for "not found" (127)
 * and "cannot run" (126). */
static _Noreturn void
child_fail(const char *what, const char *arg, int errnum)
{
	fprintf(stderr, "ERROR: %s%s%s%s%s\n", what, arg[0] ? " " : "", arg,
	    errnum ? ": " : "", errnum ? strerror(errnum) : "");
	_exit(errnum == ENOENT ? 127 : 126);
}

static _Noreturn void
run_child(struct cli *c, const char *dir, char *const *env, const char *cmd, const char *proc_id)
{
	char *const argv[] = { "sh", "-c", (char *)cmd, NULL };
	char err[512];
	int dfd;

	cli_child_defaults();
	if (proc_id != NULL && lab_enter_proc(c->home, c->rack, proc_id, err, sizeof(err)) == -1)
		child_fail(err, "", 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1 || fchdir(dfd) == -1)
		child_fail("cannot enter the service's directory", dir, errno);
	close(dfd);
	if (geteuid() == 0) {
		if (setgroups(0, NULL) == -1 || setresgid(NOBODY, NOBODY, NOBODY) == -1 ||
		    setresuid(NOBODY, NOBODY, NOBODY) == -1)
			child_fail("cannot drop privileges to uid", "65534", errno);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		child_fail("cannot set no_new_privs", "", errno);
	execve("/bin/sh", argv, env);
	child_fail("cannot run", "/bin/sh", errno);
}

int
cmd_run(struct cli *c)
{
	const char *svc = c->argv[0];
	char proc_id[LAB_PROC_ID_MAX], addr[64], err[512];
	char *path, *dir = NULL, *cmd = NULL, **env = NULL;
	jv *spec = NULL, *envs;
	bool vpc;
	size_t n;
	pid_t pid;
	int rc;

	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	path = api_path("/apps/%s/services/%s/runspec", c->app, svc);
	rc = api_call(c, "GET", path, NULL, &spec);
	free(path);
	if (rc == -1)
		return 1;
	api_close(c);   /* no socket of ours in the child */

	if (c->argc == 2) {
		/* One argument is a shell command line, as in `cx run web "ls | wc -l"`. */
		cmd = xstrdup(c->argv[1]);
	} else if (c->argc > 2) {
		/* Several are a command and its arguments: quote each for the shell. */
		struct buf b;

		buf_init(&b, 0);
		for (int i = 1; i < c->argc; i++) {
			buf_adds(&b, i > 1 ? " '" : "'");
			for (const char *p = c->argv[i]; *p != '\0'; p++) {
				if (*p == '\'')
					buf_adds(&b, "'\\''");
				else
					buf_add(&b, p, 1);
			}
			buf_adds(&b, "'");
		}
		cmd = buf_cstr(&b);
	} else {
		cmd = xstrdup(jv_str(spec, "command"));
		if (cmd[0] == '\0') {
			rc = out_error("service %s has no command of its own; give one: cx run %s "
			    "COMMAND", svc, svc);
			goto out;
		}
	}
	dir = xstrdup(jv_str(spec, "dir"));
	envs = jv_get(spec, "env");
	n = jv_len(envs);
	env = xcalloc(n + 1, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		env[i] = xstrdup(jv_string_value(jv_at(envs, i)));
	vpc = jv_bool(spec, "vpc");

	proc_id[0] = '\0';
	if (vpc) {
		if (lab_check_privilege(err, sizeof(err)) == -1) {
			rc = out_error("%s", err);
			goto out;
		}
		snprintf(proc_id, sizeof(proc_id), "run-%s-%d", svc, (int)getpid());
		if (lab_proc_create(c->home, c->rack, proc_id, addr, sizeof(addr), err,
		    sizeof(err)) == -1) {
			rc = out_error("%s", err);
			goto out;
		}
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1) {
		rc = out_error("fork: %s", strerror(errno));
	} else if (pid == 0) {
		run_child(c, dir, env, cmd, vpc ? proc_id : NULL);
	} else {
		rc = cli_relay_status(pid);
	}
	if (vpc)
		lab_proc_destroy(c->home, c->rack, proc_id);
out:
	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
	free(dir);
	free(cmd);
	jv_free(spec);
	return rc;
}
