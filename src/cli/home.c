/*
 * home.c — where the CLI finds racks: $CX_HOME (default ~/.cx), the rack
 * directories under it, and which rack and app a command is about.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "cli/remote.h"

int
cli_home(struct cli *c)
{
	const char *h = getenv("CX_HOME");
	char cwd[PATH_MAX];

	if (c->home[0] != '\0')
		return 0;
	if (h != NULL && h[0] != '\0') {
		if (h[0] == '/') {
			if (str_copy(c->home, sizeof(c->home), h) == -1)
				return out_error("CX_HOME is too long (at most %zu bytes)",
				    sizeof(c->home) - 1), -1;
		} else {
			/* The daemon gets this path and does not share our cwd. */
			if (getcwd(cwd, sizeof(cwd)) == NULL ||
			    snprintf(c->home, sizeof(c->home), "%s/%s", cwd, h) >= (int)sizeof(c->home))
				return out_error("cannot make CX_HOME=%s absolute", h), -1;
		}
	} else {
		const char *u = getenv("HOME");

		if (u == NULL || u[0] == '\0') {
			struct passwd *pw = getpwuid(getuid());

			u = pw ? pw->pw_dir : NULL;
		}
		if (u == NULL)
			return out_error("cannot find a home directory; set CX_HOME"), -1;
		snprintf(c->home, sizeof(c->home), "%s/.cx", u);
	}
	/* trailing slashes would double up in every path */
	for (size_t n = strlen(c->home); n > 1 && c->home[n - 1] == '/'; n--)
		c->home[n - 1] = '\0';
	return 0;
}

void
cli_rack_path(const struct cli *c, const char *rack, const char *file, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/racks/%s%s%s", c->home, rack, file[0] ? "/" : "", file);
}

bool
cli_rack_exists(const struct cli *c, const char *rack)
{
	char path[PATH_MAX];
	struct stat st;

	if (!valid_name(rack))
		return false;
	cli_rack_path(c, rack, "", path, sizeof(path));
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
is_rack(const char *name, void *arg)
{
	return valid_name(name) && cli_rack_exists(arg, name);
}

char **
cli_rack_names(const struct cli *c, size_t *n)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/racks", c->home);
	return dir_names(path, is_rack, (void *)c, n);
}

void
cli_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
cli_check_name(const char *what, const char *name)
{
	if (valid_name(name))
		return 0;
	out_error("invalid %s name \"%s\": use lower-case letters, digits and dashes, starting "
	    "with a letter, at most 30 characters", what, name);
	return -1;
}

/* $RACK_URL: the remote rack it names, by the name it was logged in under
 * when it was, else as HOST:PORT. */
static int
select_rack_url(struct cli *c, bool quiet)
{
	char url[REMOTE_URL_MAX], pw[256], err[512], name[64];

	if (remote_parse_rack_url(getenv("RACK_URL"), url, sizeof(url), pw, sizeof(pw), err,
	    sizeof(err)) == -1) {
		explicit_bzero(pw, sizeof(pw));
		if (!quiet)
			out_error("%s", err);
		return -1;
	}
	explicit_bzero(pw, sizeof(pw));
	if (remote_find_url(c->home, url, name, sizeof(name)) == 0)
		str_copy(c->rack, sizeof(c->rack), name);
	else
		str_copy(c->rack, sizeof(c->rack), url + strlen("https://"));
	c->rack_url = true;
	return 0;
}

static int
select_rack(struct cli *c, bool quiet)
{
	const char *name = c->opt[OPT_RACK];
	char path[PATH_MAX], *cur = NULL;
	char **names;
	size_t n;

	if (c->rack[0] != '\0')
		return 0;
	if (cli_home(c) == -1)
		return -1;
	if (name == NULL && getenv("RACK_URL") != NULL && getenv("RACK_URL")[0] != '\0')
		return select_rack_url(c, quiet);
	if (name == NULL && getenv("CX_RACK") != NULL && getenv("CX_RACK")[0] != '\0')
		name = getenv("CX_RACK");
	if (name == NULL) {
		snprintf(path, sizeof(path), "%s/current", c->home);
		cur = read_file(path, 256, NULL);
		if (cur != NULL) {
			cur[strcspn(cur, " \t\r\n")] = '\0';
			if (cur[0] != '\0')
				name = cur;
		}
	}
	if (name != NULL) {
		if (!cli_rack_exists(c, name) && !remote_exists(c->home, name)) {
			if (!quiet)
				out_error("no such rack: %s (cx racks lists them)", name);
			free(cur);
			return -1;
		}
		str_copy(c->rack, sizeof(c->rack), name);
		free(cur);
		return 0;
	}
	names = cli_rack_names(c, &n);
	{
		size_t nr;
		char **remotes = remote_names(c->home, &nr);

		for (size_t i = 0; i < nr; i++) {
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = remotes[i];
		}
		free(remotes);
	}
	if (n == 1) {
		str_copy(c->rack, sizeof(c->rack), names[0]);
		cli_names_free(names, n);
		return 0;
	}
	if (!quiet && n == 0)
		out_error("no rack installed in %s; install one with: cx rack install local NAME",
		    c->home);
	else if (!quiet)
		out_error("no rack selected among %zu racks; choose one with -r NAME, $CX_RACK or "
		    "cx switch NAME (cx racks lists them)", n);
	cli_names_free(names, n);
	return -1;
}

int
cli_select_app(struct cli *c)
{
	const char *name = c->opt[OPT_APP];
	char cwd[PATH_MAX];

	if (c->app[0] != '\0')
		return 0;
	if (name != NULL) {
		if (cli_check_name("app", name) == -1)
			return -1;
		str_copy(c->app, sizeof(c->app), name);
		return 0;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return out_error("no app given (-a APP) and the current directory is unreadable: %s",
		    strerror(errno)), -1;
	name = strrchr(cwd, '/');
	name = name ? name + 1 : cwd;
	if (!valid_name(name)) {
		out_error("no app given and the current directory's name \"%s\" is not an app name; "
		    "use -a APP", name);
		return -1;
	}
	str_copy(c->app, sizeof(c->app), name);
	return 0;
}

int
cli_select_rack(struct cli *c)
{
	return select_rack(c, false);
}

int
cli_select_rack_quiet(struct cli *c)
{
	return select_rack(c, true);
}
