/*
 * deploy.c — `cx deploy [DIR]` and `cx build [DIR]`: pack DIR (pack.c),
 * upload it as a build (?async=1: the rack answers at once with the build's
 * id), print the build's output as it comes (its log, followed until the
 * build ends); deploy then promotes its release and waits for it, build
 * stops there.
 *
 *   Packaging source... OK
 *   Uploading source... OK
 *   Starting build... OK
 *   <the builder's output and the build's warnings>
 *   Build:   BXXXXXXXX
 *   Release: RXXXXXXXX
 *   Promoting RXXXXXXXX... OK
 *
 * With --id all of that goes to stderr and stdout gets only the release's
 * id, as Convox's `deploy --id` for scripts. The description defaults to
 * "build SHA SUBJECT" of DIR's git HEAD when DIR is in a git work tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <time.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "common/pack.h"

#define BUILD_POLL_MS 250

int
cli_follow_build(struct cli *c, const char *id, bool follow, jv **build)
{
	char *logs = api_path("/apps/%s/builds/%s/logs", c->app, id);
	char *info = api_path("/apps/%s/builds/%s", c->app, id);
	bool ended = false;
	int64_t offset = 0, next;
	struct buf body;
	int rc = 0;

	*build = NULL;
	buf_init(&body, 0);
	for (;;) {
		char *path = xasprintf("%s?since=%lld", logs, (long long)offset);
		long st;

		buf_reset(&body);
		st = api_text(c, path, &body, &next);
		free(path);
		if (st == -1 || st == 404) {
			if (st == 404)
				out_error("no such build: %s (cx builds -a %s lists them)", id, c->app);
			rc = -1;
			break;
		}
		fwrite(body.data ? body.data : "", 1, body.len, stdout);
		fflush(stdout);
		if (next > offset) {
			offset = next;
			continue;           /* more may be there already */
		}
		if (ended)
			break;              /* drained after it ended */
		jv_free(*build);
		*build = NULL;
		if (api_call(c, "GET", info, NULL, build) == -1) {
			rc = -1;
			break;
		}
		if (strcmp(jv_str(*build, "status"), "running") != 0 || !follow) {
			ended = true;       /* one more read: what it said last */
			continue;
		}
		nanosleep(&(struct timespec){ 0, BUILD_POLL_MS * 1000000L }, NULL);
	}
	buf_free(&body);
	free(logs);
	free(info);
	if (rc == -1) {
		jv_free(*build);
		*build = NULL;
	}
	return rc;
}

/* "build SHA SUBJECT" of dir's git HEAD into out, or "" (no git, not a work
 * tree, no commit): git's own errors are not ours to print. */
static void
git_description(const char *dir, char *out, size_t outlen)
{
	char buf[512];
	size_t len = 0;
	ssize_t n;
	int p[2], status;
	pid_t pid;

	out[0] = '\0';
	if (pipe(p) == -1)
		return;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		cli_child_defaults();
		dup2(null, STDIN_FILENO);
		dup2(p[1], STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execlp("git", "git", "-C", dir, "log", "-n", "1", "--abbrev=10", "--pretty=%h %s",
		    (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len + 1 < sizeof(buf) && (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && buf[0] != '\0')
		snprintf(out, outlen, "build %s", buf);
}

/* Packs and uploads dir as a build of the selected app; fills release. 0, or
 * 1 after printing. */
static int
make_build(struct cli *c, const char *dir, char *release, size_t releaselen)
{
	const char *manifest = c->opt[OPT_MANIFEST];
	char path[PATH_MAX], err[1024], build[64], desc[512];
	struct pack_stats ps;
	struct stat st;
	jv *resp = NULL, *warnings;
	char *url;
	off_t size;
	int fd, rc;

	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return out_error("no such directory: %s", dir);
	if (manifest != NULL)
		str_copy(path, sizeof(path), manifest);
	else
		snprintf(path, sizeof(path), "%s/convox.yml", dir);
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return manifest != NULL ? out_error("no such manifest: %s", manifest) :
		    out_error("no convox.yml in %s (or name one with --manifest FILE)", dir);
	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	if (c->opt[OPT_DESCRIPTION] != NULL)
		str_copy(desc, sizeof(desc), c->opt[OPT_DESCRIPTION]);
	else
		git_description(dir, desc, sizeof(desc));

	out_step("Packaging source");
	if ((fd = pack_tmpfile()) == -1)
		return out_error("cannot make a temporary file: %s", strerror(errno));
	if (pack_dir_manifest(dir, manifest, fd, &ps, err, sizeof(err)) == -1) {
		close(fd);
		return out_error("%s", err);
	}
	if ((size = lseek(fd, 0, SEEK_END)) == -1) {
		close(fd);
		return out_error("cannot size the package: %s", strerror(errno));
	}
	out_ok();

	out_step("Uploading source");
	url = api_path("/apps/%s/builds?async=1&description=%s", c->app, desc);
	if (c->opt[OPT_NO_CACHE] != NULL) {
		char *u = xasprintf("%s&no_cache=1", url);

		free(url);
		url = u;
	}
	rc = api_upload(c, url, fd, (uint64_t)size, &resp);
	free(url);
	close(fd);
	if (rc == -1)
		return 1;
	out_ok();
	out_step("Starting build");
	out_ok();
	str_copy(build, sizeof(build), jv_str(resp, "id"));
	if (strcmp(jv_str(resp, "status"), "running") == 0) {
		/* The builder's output as it comes, then how the build ended. */
		jv_free(resp);
		if (cli_follow_build(c, build, true, &resp) == -1)
			return 1;
		if (strcmp(jv_str(resp, "status"), "complete") != 0) {
			rc = out_error("build %s %s: %s", build, jv_str(resp, "status"),
			    jv_str(resp, "error")[0] ? jv_str(resp, "error") : "no reason given");
			jv_free(resp);
			return rc;
		}
	} else {
		/* A rack that answers once the build is made. */
		warnings = jv_get(resp, "warnings");
		for (size_t i = 0; i < jv_len(warnings); i++)
			printf("%s\n", jv_string_value(jv_at(warnings, i)));
	}
	str_copy(release, releaselen, jv_str(resp, "release"));
	jv_free(resp);
	if (release[0] == '\0')
		return out_error("the rack made build %s but no release", build);
	printf("Build:   %s\nRelease: %s\n", build, release);
	return 0;
}

/* deploy (promote true) or build; with --id, what it prints goes to stderr
 * and the release id alone to stdout. */
static int
build_and_maybe_promote(struct cli *c, bool promote)
{
	const char *dir = c->argc > 0 ? c->argv[0] : ".";
	char release[64] = "";
	int out = -1, rc;

	if (c->opt[OPT_ID] != NULL) {
		fflush(stdout);
		if ((out = dup(STDOUT_FILENO)) == -1 || dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
			return out_error("cannot redirect output for --id: %s", strerror(errno));
	}
	rc = make_build(c, dir, release, sizeof(release));
	if (rc == 0 && promote)
		rc = cli_promote(c, release, true);
	if (out != -1) {
		fflush(stdout);
		dup2(out, STDOUT_FILENO);
		close(out);
		if (rc == 0)
			printf("%s\n", release);
	}
	return rc;
}

int
cmd_deploy(struct cli *c)
{
	return build_and_maybe_promote(c, true);
}

int
cmd_build(struct cli *c)
{
	return build_and_maybe_promote(c, false);
}
