/*
 * deploy.c — `cx deploy [DIR]`: pack DIR (pack.c), upload it as a build,
 * print the build's warnings, promote its release and wait for it.
 *
 *   Packaging source... OK
 *   Uploading source... OK
 *   Starting build... OK
 *   <warnings, e.g. RUN lines are not run by the local provider>
 *   Build:   BXXXXXXXX
 *   Release: RXXXXXXXX
 *   Promoting RXXXXXXXX... OK
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "cli/pack.h"

int
cmd_deploy(struct cli *c)
{
	const char *dir = c->argc > 0 ? c->argv[0] : ".";
	const char *desc = c->opt[OPT_DESCRIPTION] ? c->opt[OPT_DESCRIPTION] : "";
	const char *manifest = c->opt[OPT_MANIFEST];
	char path[PATH_MAX], err[1024], build[64], release[64];
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
	url = api_path("/apps/%s/builds?description=%s", c->app, desc);
	rc = api_upload(c, url, fd, (uint64_t)size, &resp);
	free(url);
	close(fd);
	if (rc == -1)
		return 1;
	out_ok();
	/* The rack builds while it takes the upload: the build is done by now. */
	out_step("Starting build");
	out_ok();
	warnings = jv_get(resp, "warnings");
	for (size_t i = 0; i < jv_len(warnings); i++)
		printf("%s\n", jv_string_value(jv_at(warnings, i)));
	str_copy(build, sizeof(build), jv_str(resp, "id"));
	str_copy(release, sizeof(release), jv_str(resp, "release"));
	jv_free(resp);
	if (release[0] == '\0')
		return out_error("the rack made build %s but no release", build);
	printf("Build:   %s\nRelease: %s\n", build, release);
	return cli_promote(c, release);
}
