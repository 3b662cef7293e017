/*
 * env.c — `cx env`, `cx env get|set|unset`. A change makes a new release and
 * promotes it, as `convox env set --promote` does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Posts the change, prints "Setting A, B... OK" / "Release: R", promotes. */
static int
change_env(struct cli *c, const char *verb, jv *body, const char **keys, size_t n)
{
	struct buf list;
	char *path, release[64];
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
	path = api_path("/apps/%s/environment", c->app);
	rc = api_call(c, "POST", path, body, &resp);
	free(path);
	if (rc == -1)
		return 1;
	out_ok();
	str_copy(release, sizeof(release), jv_str(resp, "release"));
	jv_free(resp);
	if (release[0] == '\0')
		return 0;       /* no build yet: the variables wait for the first deploy */
	printf("Release: %s\n", release);
	return cli_promote(c, release);
}

int
cmd_env_set(struct cli *c)
{
	const char **keys = xcalloc((size_t)c->argc, sizeof(*keys));
	char **names = xcalloc((size_t)c->argc, sizeof(*names));
	jv *body, *set;
	int rc;

	set = jv_object_new();
	for (int i = 0; i < c->argc; i++) {
		const char *eq = strchr(c->argv[i], '=');

		if (eq == NULL || !valid_key(c->argv[i], (size_t)(eq - c->argv[i]))) {
			rc = out_error("malformed variable \"%s\": use KEY=VALUE, KEY made of letters, "
			    "digits and underscores", c->argv[i]);
			jv_free(set);
			goto out;
		}
		names[i] = xstrndup(c->argv[i], (size_t)(eq - c->argv[i]));
		keys[i] = names[i];
		jv_set_str(set, names[i], eq + 1);
	}
	body = jv_object_new();
	jv_set_take(body, "set", set);
	rc = change_env(c, "Setting", body, keys, (size_t)c->argc);
	jv_free(body);
out:
	for (int i = 0; i < c->argc; i++)
		free(names[i]);
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
