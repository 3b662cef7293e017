/*
 * env.c — `cx env`, `cx env get|set|unset`. A change makes a new release,
 * promoted only with --promote (-p), as Convox's. `env set` with no
 * KEY=VALUE argument reads KEY=VALUE lines from its standard input when that
 * is not a terminal; --replace makes the variables given the whole
 * environment. `env edit` opens the environment in $EDITOR (default vi) and
 * makes what is saved the whole environment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"

static int
get_env(struct cli *c, jv **resp)
{
	char *path;
	int rc;

	if (cli_select_app(c) == -1)
		return -1;
	path = api_path("/apps/%s/environment", c->app);
	rc = api_call(c, "GET", path, NULL, resp);
	free(path);
	return rc;
}

int
cmd_env(struct cli *c)
{
	jv *resp = NULL, *env;
	const char **keys;
	size_t n;

	if (get_env(c, &resp) == -1)
		return 1;
	env = jv_get(resp, "env");
	if (c->json) {
		jv_print(env, stdout);
	} else {
		keys = jv_keys_sorted(env, &n);
		for (size_t i = 0; i < n; i++)
			printf("%s=%s\n", keys[i], jv_str(env, keys[i]));
		free(keys);
	}
	jv_free(resp);
	return 0;
}

int
cmd_env_get(struct cli *c)
{
	jv *resp = NULL, *env;
	int rc = 0;

	if (get_env(c, &resp) == -1)
		return 1;
	env = jv_get(resp, "env");
	if (jv_get(env, c->argv[0]) == NULL)
		rc = out_error("env not found: %s (cx env -a %s lists them)", c->argv[0], c->app);
	else
		printf("%s\n", jv_str(env, c->argv[0]));
	jv_free(resp);
	return rc;
}

/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static bool
valid_key(const char *s, size_t n)
{
	if (n == 0 || n > 255 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Posts the change, prints "Setting A, B... OK" / "Release: R", promotes
 * with --promote. */
static int
change_env(struct cli *c, const char *verb, jv *body, const char **keys, size_t n)
{
	struct buf list;
	char *path, release[64], promotion[16];
	jv *resp = NULL;
	int rc;

	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	qsort(keys, n, sizeof(*keys), key_cmp);
	buf_init(&list, 0);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(keys[i], keys[i - 1]) == 0)
			continue;
		buf_addf(&list, "%s%s", list.len ? ", " : "", keys[i]);
	}
	out_step("%s %s", verb, buf_cstr(&list));
	buf_free(&list);
	/* With --promote the rack makes and promotes the release at once (or
	 * after the promotion under way): concurrent changes then all serve. */
	if (c->opt[OPT_PROMOTE] != NULL)
		jv_set_bool(body, "promote", true);
	path = api_path("/apps/%s/environment", c->app);
	rc = api_call(c, "POST", path, body, &resp);
	free(path);
	if (rc == -1)
		return 1;
	out_ok();
	str_copy(release, sizeof(release), jv_str(resp, "release"));
	str_copy(promotion, sizeof(promotion), jv_str(resp, "promotion"));
	jv_free(resp);
	if (release[0] == '\0')
		return 0;       /* no build yet: the variables wait for the first deploy */
	printf("Release: %s\n", release);
	if (c->opt[OPT_PROMOTE] == NULL)
		return 0;
	if (promotion[0] == '\0')
		return cli_promote(c, release, false);   /* a rack from before */
	out_step("Promoting %s%s", release, strcmp(promotion, "queued") == 0 ?
	    " (after the promotion under way)" : "");
	return cli_wait_release(c, release);
}

/* The KEY=VALUE lines of stdin (blank lines and # comments skipped), as
 * new strings in *out; -1 after printing. Only when stdin is not a terminal:
 * a user who typed no variable is told so rather than left waiting. */
static int
read_stdin_vars(char ***out, int *n)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int max = 0;

	*out = NULL;
	*n = 0;
	if (isatty(STDIN_FILENO)) {
		out_error("no variables given: use cx env set KEY=VALUE..., or pipe KEY=VALUE "
		    "lines to it");
		return -1;
	}
	while ((len = getline(&line, &cap, stdin)) != -1) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (*n == max) {
			max = max ? max * 2 : 16;
			*out = xrealloc(*out, (size_t)max * sizeof(**out));
		}
		(*out)[(*n)++] = xstrdup(line);
	}
	free(line);
	if (ferror(stdin)) {
		out_error("cannot read variables from stdin: %s", strerror(errno));
		return -1;
	}
	if (*n == 0) {
		out_error("no variables given: stdin had no KEY=VALUE line");
		return -1;
	}
	return 0;
}

int
cmd_env_set(struct cli *c)
{
	char **vars = c->argv, **piped = NULL;
	int nvars = c->argc, npiped = 0;
	const char **keys;
	char **names;
	jv *body, *set;
	int rc;

	if (nvars == 0) {
		if (read_stdin_vars(&piped, &npiped) == -1) {
			for (int i = 0; i < npiped; i++)
				free(piped[i]);
			free(piped);
			return 1;
		}
		vars = piped;
		nvars = npiped;
	}
	keys = xcalloc((size_t)nvars, sizeof(*keys));
	names = xcalloc((size_t)nvars, sizeof(*names));
	set = jv_object_new();
	for (int i = 0; i < nvars; i++) {
		const char *eq = strchr(vars[i], '=');

		if (eq == NULL || !valid_key(vars[i], (size_t)(eq - vars[i]))) {
			rc = out_error("malformed variable \"%s\": use KEY=VALUE, KEY made of letters, "
			    "digits and underscores", vars[i]);
			jv_free(set);
			goto out;
		}
		names[i] = xstrndup(vars[i], (size_t)(eq - vars[i]));
		keys[i] = names[i];
		jv_set_str(set, names[i], eq + 1);
	}
	body = jv_object_new();
	jv_set_take(body, "set", set);
	if (c->opt[OPT_REPLACE] != NULL)
		jv_set_bool(body, "replace", true);
	rc = change_env(c, "Setting", body, keys, (size_t)nvars);
	jv_free(body);
out:
	for (int i = 0; i < nvars; i++)
		free(names[i]);
	for (int i = 0; i < npiped; i++)
		free(piped[i]);
	free(piped);
	free(names);
	free(keys);
	return rc;
}

int
cmd_env_unset(struct cli *c)
{
	const char **keys = xcalloc((size_t)c->argc, sizeof(*keys));
	jv *body, *unset;
	int rc;

	unset = jv_array_new();
	for (int i = 0; i < c->argc; i++) {
		if (!valid_key(c->argv[i], strlen(c->argv[i]))) {
			jv_free(unset);
			free(keys);
			return out_error("malformed variable name \"%s\": use letters, digits and "
			    "underscores", c->argv[i]);
		}
		keys[i] = c->argv[i];
		jv_push_str(unset, c->argv[i]);
	}
	body = jv_object_new();
	jv_set_take(body, "unset", unset);
	rc = change_env(c, "Unsetting", body, keys, (size_t)c->argc);
	jv_free(body);
	free(keys);
	return rc;
}

/* Runs $EDITOR (default vi) on path as git runs it: the shell reads EDITOR,
 * so it may carry flags and quotes ("code -w", '"/opt/my ed" -n'). ^C and
 * ^\ go to the editor, not to us: the temporary file, which holds every
 * secret of the app, is removed whatever the editor does. Its exit
 * status, or -1. */
static int
run_editor(const char *path)
{
	const char *ed = getenv("EDITOR");
	struct sigaction ign, old_int, old_quit;
	char *cmd;
	int status = -1;
	pid_t pid;

	if (ed == NULL || ed[0] == '\0')
		ed = "vi";
	cmd = xasprintf("%s \"$@\"", ed);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	if ((pid = fork()) == 0) {
		cli_child_defaults();
		execl("/bin/sh", "sh", "-c", cmd, "sh", path, (char *)NULL);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	free(cmd);
	if (pid == -1 || status == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
cmd_env_edit(struct cli *c)
{
	char path[] = "/tmp/cx-env-XXXXXX", *before = NULL, *after = NULL;
	const char **keys = NULL;
	jv *resp = NULL, *env, *set, *body;
	size_t n = 0, nkeys = 0;
	FILE *f;
	int fd, rc = 1;

	if (get_env(c, &resp) == -1)
		return 1;
	env = jv_get(resp, "env");
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		rc = out_error("cannot make a temporary file: %s", strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(path);
		}
		jv_free(resp);
		return rc;
	}
	keys = jv_keys_sorted(env, &nkeys);
	for (size_t i = 0; i < nkeys; i++)
		fprintf(f, "%s=%s\n", keys[i], jv_str(env, keys[i]));
	free(keys);
	keys = NULL;
	jv_free(resp);
	if (fclose(f) != 0) {
		unlink(path);
		return out_error("cannot write %s: %s", path, strerror(errno));
	}
	before = read_file(path, 1 << 20, NULL);
	if (run_editor(path) != 0) {
		rc = out_error("the editor failed; nothing changed (set EDITOR to the one to use)");
		goto out;
	}
	after = read_file(path, 1 << 20, NULL);
	if (after == NULL) {
		rc = out_error("cannot read %s back: %s", path, strerror(errno));
		goto out;
	}
	if (before != NULL && strcmp(before, after) == 0) {
		printf("No change\n");
		rc = 0;
		goto out;
	}
	set = jv_object_new();
	keys = xcalloc(strlen(after) / 2 + 1, sizeof(*keys));
	for (char *save = NULL, *l = strtok_r(after, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');

		if (l[0] == '#' || l[0] == '\0')
			continue;
		if (eq == NULL || !valid_key(l, (size_t)(eq - l))) {
			rc = out_error("malformed line \"%s\": use KEY=VALUE; nothing changed", l);
			jv_free(set);
			goto out;
		}
		*eq = '\0';
		jv_set_str(set, l, eq + 1);
		keys[n++] = l;
	}
	body = jv_object_new();
	jv_set_take(body, "set", set);
	jv_set_bool(body, "replace", true);
	rc = change_env(c, "Setting", body, keys, n);
	jv_free(body);
out:
	unlink(path);
	free(keys);
	free(before);
	free(after);
	return rc;
}
