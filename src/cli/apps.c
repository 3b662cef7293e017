/*
 * apps.c — `cx apps`, `cx apps create|delete|info|cancel|export|import`.
 *
 * An export is written next to FILE and renamed onto it once whole, so a
 * failed export leaves no half archive; it is 0600, as it holds the app's
 * env. An import uploads the archive, then promotes the release the rack
 * names, as a deploy does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"

int
cmd_apps(struct cli *c)
{
	static const struct out_col cols[] = {
		{ "APP", "name", OUT_TEXT },
		{ "STATUS", "status", OUT_TEXT },
		{ "RELEASE", "release", OUT_TEXT },
	};
	jv *apps = NULL;

	if (api_call(c, "GET", "/apps", NULL, &apps) == -1)
		return 1;
	out_list(cols, CX_ARRAY_LEN(cols), apps, c->json, NULL);
	jv_free(apps);
	return 0;
}

/* The app named by the command's argument, else -a, else the directory. */
static int
app_from_arg(struct cli *c)
{
	if (c->argc > 0) {
		if (cli_check_name("app", c->argv[0]) == -1)
			return -1;
		str_copy(c->app, sizeof(c->app), c->argv[0]);
		return 0;
	}
	return cli_select_app(c);
}

int
cmd_apps_create(struct cli *c)
{
	jv *body;
	int rc;

	if (app_from_arg(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	body = jv_object_new();
	jv_set_str(body, "name", c->app);
	out_step("Creating %s", c->app);
	rc = api_call(c, "POST", "/apps", body, NULL);
	jv_free(body);
	if (rc == -1)
		return 1;
	out_ok();
	return 0;
}

int
cmd_apps_delete(struct cli *c)
{
	char step[96];

	if (app_from_arg(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	snprintf(step, sizeof(step), "Deleting %s", c->app);
	return api_delete_step(c, api_path("/apps/%s", c->app), step);
}

int
cmd_apps_info(struct cli *c)
{
	jv *app = NULL;
	char *path;
	int rc;

	if (app_from_arg(c) == -1)
		return 1;
	path = api_path("/apps/%s", c->app);
	rc = api_call(c, "GET", path, NULL, &app);
	free(path);
	if (rc == -1)
		return 1;
	if (c->json) {
		jv_print(app, stdout);
	} else {
		/* Convox's fields: a local rack is of Convox's third generation, and
		 * cx has no termination protection (Locked is always false). */
		struct kv kvs[] = {
			{ "Name", jv_str(app, "name") },
			{ "Status", jv_str(app, "status") },
			{ "Generation", "3" },
			{ "Locked", "false" },
			{ "Release", jv_str(app, "release") },
		};

		kv_print(kvs, CX_ARRAY_LEN(kvs), stdout);
	}
	jv_free(app);
	return 0;
}

int
cmd_apps_cancel(struct cli *c)
{
	char *path;
	int rc;

	if (app_from_arg(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	out_step("Cancelling deployment of %s", c->app);
	path = api_path("/apps/%s/cancel", c->app);
	rc = api_call(c, "POST", path, NULL, NULL);
	free(path);
	if (rc == -1)
		return 1;
	out_ok();
	return 0;
}

int
cmd_apps_export(struct cli *c)
{
	const char *file = c->opt[OPT_FILE];
	char tmp[4096], *path;
	int fd, rc;

	if (app_from_arg(c) == -1)
		return 1;
	if (file == NULL)
		return out_error("where to? cx apps export %s -f FILE", c->app);
	if (cli_select_rack(c) == -1)
		return 1;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file) >= sizeof(tmp))
		return out_error("file name too long: %s", file);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return out_error("cannot write %s: %s", file, strerror(errno));
	out_step("Exporting app %s", c->app);
	path = api_path("/apps/%s/export", c->app);
	rc = api_download(c, path, fd);
	free(path);
	if (rc == 0 && (fsync(fd) == -1 || close(fd) == -1)) {
		rc = out_error("cannot write %s: %s", file, strerror(errno));
		fd = -1;
	} else if (rc == 0) {
		fd = -1;
		if (rename(tmp, file) == -1)
			rc = out_error("cannot write %s: %s", file, strerror(errno));
	}
	if (fd != -1)
		close(fd);
	if (rc != 0) {
		unlink(tmp);
		return 1;
	}
	out_ok();
	return 0;
}

int
cmd_apps_import(struct cli *c)
{
	const char *file = c->opt[OPT_FILE];
	char *path, id[32];
	struct stat st;
	jv *ans = NULL;
	int fd, rc;

	if (app_from_arg(c) == -1)
		return 1;
	if (file == NULL)
		return out_error("from where? cx apps import %s -f FILE", c->app);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		rc = out_error("cannot read %s: %s", file, strerror(errno));
		if (fd != -1)
			close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return out_error("cannot read %s: not a file (give what cx apps export wrote)", file);
	}
	if (cli_select_rack(c) == -1) {
		close(fd);
		return 1;
	}
	out_step("Importing app %s", c->app);
	path = api_path("/apps/%s/import", c->app);
	rc = api_upload(c, path, fd, (uint64_t)st.st_size, &ans);
	free(path);
	close(fd);
	if (rc == -1)
		return 1;
	str_copy(id, sizeof(id), jv_str(ans, "release"));
	jv_free(ans);
	out_ok();
	if (id[0] == '\0')
		return 0;     /* nothing to serve: no release has a build */
	return cli_promote(c, id, false);
}
