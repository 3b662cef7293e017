/*
 * resources.c — `cx resources`: the databases and caches the rack runs for
 * an app (GET /apps/APP/resources), and their clients.
 *
 * console, export and import run the resource's client (psql, mariadb,
 * redis-cli, pg_dump, mysqldump) as a `cx run` of a service that lists the
 * resource: behind the app's walls, where its URL is in the environment and
 * the resource is reachable (the rack walls it off from everything else),
 * on loopback, VPC and remote racks alike. A redis import is the exception:
 * an RDB file is loaded by the server, so the rack puts it in place. The password goes from that
 * variable into the client's environment (PGPASSWORD, MYSQL_PWD,
 * REDISCLI_AUTH), never onto a command line, which other users can read.
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
cmd_resources(struct cli *c)
{
	static const struct out_col cols[] = {
		{ "NAME", "name", OUT_TEXT },
		{ "TYPE", "type", OUT_TEXT },
		{ "URL", "url", OUT_TEXT },
		{ "STATUS", "status", OUT_TEXT },
	};
	static const char *const extra[] = { "version", "error", "restarts", NULL };

	return cli_list_app(c, "resources", cols, CX_ARRAY_LEN(cols), extra);
}

/* GET /apps/APP/resources/NAME into *out. */
static int
get_resource(struct cli *c, jv **out)
{
	char *path;
	int rc;

	if (cli_select_app(c) == -1)
		return -1;
	path = api_path("/apps/%s/resources/%s", c->app, c->argv[0]);
	rc = api_call(c, "GET", path, NULL, out);
	free(path);
	return rc;
}

int
cmd_resources_info(struct cli *c)
{
	char port[16], restarts[16], services[512] = "";
	jv *r = NULL, *svcs;

	if (get_resource(c, &r) == -1)
		return 1;
	if (c->json) {
		jv_print(r, stdout);
		jv_free(r);
		return 0;
	}
	snprintf(port, sizeof(port), "%lld", (long long)jv_int(r, "port"));
	snprintf(restarts, sizeof(restarts), "%lld", (long long)jv_int(r, "restarts"));
	svcs = jv_get(r, "services");
	for (size_t i = 0; i < jv_len(svcs); i++) {
		size_t n = strlen(services);

		snprintf(services + n, sizeof(services) - n, "%s%s (%s)", i > 0 ? ", " : "",
		    jv_str(jv_at(svcs, i), "service"), jv_str(jv_at(svcs, i), "env"));
	}
	{
		struct kv kvs[] = {
			{ "Name", jv_str(r, "name") },
			{ "Type", jv_str(r, "type") },
			{ "Status", jv_str(r, "status") },
			{ "URL", jv_str(r, "url") },
			{ "Version", jv_str(r, "version") },
			{ "Host", jv_str(r, "host") },
			{ "Port", port },
			{ "Services", services },
			{ "Restarts", restarts },
			{ "Error", jv_str(r, "error") },
			{ "Data", jv_str(r, "dir") },
		};

		kv_print(kvs, CX_ARRAY_LEN(kvs), stdout);
	}
	jv_free(r);
	return 0;
}

int
cmd_resources_url(struct cli *c)
{
	jv *r = NULL;

	if (get_resource(c, &r) == -1)
		return 1;
	printf("%s\n", jv_str(r, "url"));
	jv_free(r);
	return 0;
}

/* The shell lines that split $VAR (SCHEME://[USER]:PASS@HOST:PORT[/DB]) into
 * $pw, $host and $port, then run `client`. */
static char *
client_line(const char *var, const char *client)
{
	return xasprintf("u=\"${%s#*://}\"; pw=\"${u%%%%@*}\"; pw=\"${pw#*:}\"; hp=\"${u#*@}\"; "
	    "hp=\"${hp%%%%/*}\"; host=\"${hp%%:*}\"; port=\"${hp##*:}\"; %s", var, client);
}

/* What runs for `what` on a resource of type type, or NULL. */
static const char *
client_for(const char *type, const char *what)
{
	static const struct {
		const char *type, *what, *cmd;
	} t[] = {
		{ "postgres", "console", "PGPASSWORD=\"$pw\" exec psql -h \"$host\" -p \"$port\" -U app app" },
		{ "postgres", "export", "PGPASSWORD=\"$pw\" exec pg_dump --no-owner --no-acl -h \"$host\" "
		  "-p \"$port\" -U app app" },
		{ "postgres", "import", "PGPASSWORD=\"$pw\" exec psql -X -q -v ON_ERROR_STOP=1 "
		  "-h \"$host\" -p \"$port\" -U app app" },
		{ "mysql", "console", "MYSQL_PWD=\"$pw\" exec mariadb -h \"$host\" -P \"$port\" -u app app" },
		{ "mysql", "export", "MYSQL_PWD=\"$pw\" exec mysqldump --single-transaction -h \"$host\" "
		  "-P \"$port\" -u app app" },
		{ "mysql", "import", "MYSQL_PWD=\"$pw\" exec mariadb -h \"$host\" -P \"$port\" -u app app" },
		{ "redis", "console", "REDISCLI_AUTH=\"$pw\" exec redis-cli -h \"$host\" -p \"$port\"" },
		{ "redis", "export", "REDISCLI_AUTH=\"$pw\" exec redis-cli -h \"$host\" -p \"$port\" "
		  "--rdb - 2>/dev/null" },
	};

	if (strcmp(type, "mariadb") == 0)
		type = "mysql";
	for (size_t i = 0; i < CX_ARRAY_LEN(t); i++)
		if (strcmp(t[i].type, type) == 0 && strcmp(t[i].what, what) == 0)
			return t[i].cmd;
	return NULL;
}

/* Runs the resource's client for `what` in a process of a service that
 * lists it, with stdin/stdout as they are (the caller redirected them). */
static int
run_client(struct cli *c, const char *what)
{
	const char *type, *cmd;
	char *line, *av[2];
	jv *r = NULL, *svcs;
	int rc;

	if (get_resource(c, &r) == -1)
		return 1;
	type = jv_str(r, "type");
	svcs = jv_get(r, "services");
	if ((cmd = client_for(type, what)) == NULL) {
		rc = out_error("a %s resource has no %s%s", type, what,
		    strcmp(type, "memcached") == 0 ? " (a cache: nothing to keep)" : "");
		jv_free(r);
		return rc;
	}
	if (jv_len(svcs) == 0) {
		rc = out_error("no service of %s's active release lists resource %s under its "
		    "resources:, so none can reach it", c->app, c->argv[0]);
		jv_free(r);
		return rc;
	}
	line = client_line(jv_str(jv_at(svcs, 0), "env"), cmd);
	av[0] = (char *)jv_str(jv_at(svcs, 0), "service");
	av[1] = line;
	c->argv = av;
	c->argc = 2;
	rc = cmd_run(c);
	free(line);
	jv_free(r);
	return rc;
}

int
cmd_resources_console(struct cli *c)
{
	return run_client(c, "console");
}

/* Puts FILE on fd (0 or 1) for the client. */
static int
redirect(const char *file, int fd)
{
	int f = fd == 0 ? open(file, O_RDONLY | O_CLOEXEC) :
	    open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (f == -1)
		return out_error("cannot open %s: %s", file, strerror(errno)), -1;
	if (dup2(f, fd) == -1) {
		close(f);
		return out_error("dup2: %s", strerror(errno)), -1;
	}
	close(f);
	return 0;
}

int
cmd_resources_export(struct cli *c)
{
	const char *file = c->opt[OPT_FILE];
	int rc;

	if (file == NULL)
		return out_error("where to? cx resources export %s -f FILE", c->argv[0]);
	if (redirect(file, 1) == -1)
		return 1;
	rc = run_client(c, "export");
	fflush(stdout);
	if (rc != 0)
		unlink(file);
	return rc;
}

/* A redis dump is an RDB file, which no client loads: the rack puts it in
 * place of the resource's data (POST .../import). */
static int
import_rdb(struct cli *c, const char *file)
{
	struct stat st;
	char *path;
	jv *ans = NULL;
	int fd, rc;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		rc = out_error("cannot open %s: %s", file, strerror(errno));
		if (fd != -1)
			close(fd);
		return rc;
	}
	out_step("Loading %s into %s", file, c->argv[0]);
	path = api_path("/apps/%s/resources/%s/import", c->app, c->argv[0]);
	rc = api_upload(c, path, fd, (uint64_t)st.st_size, &ans);
	free(path);
	close(fd);
	jv_free(ans);
	if (rc == -1)
		return 1;
	out_ok();
	return 0;
}

int
cmd_resources_import(struct cli *c)
{
	const char *file = c->opt[OPT_FILE];
	jv *r = NULL;
	bool rdb;

	if (file == NULL)
		return out_error("from where? cx resources import %s -f FILE", c->argv[0]);
	if (get_resource(c, &r) == -1)
		return 1;
	rdb = strcmp(jv_str(r, "type"), "redis") == 0;
	jv_free(r);
	if (rdb)
		return import_rdb(c, file);
	if (redirect(file, 0) == -1)
		return 1;
	return run_client(c, "import");
}
