/*
 * dockerfile.c — see dockerfile.h. Only the instructions the local provider
 * honours are read; line continuations are joined; the exec form
 * (["a", "b"]) is turned into a shell-quoted command line.
 */
#include "rackd/dockerfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

static void
add_quoted(struct buf *b, const char *s, size_t n)
{
	buf_adds(b, "'");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'')
			buf_adds(b, "'\\''");
		else
			buf_add(b, &s[i], 1);
	}
	buf_adds(b, "'");
}

/* ["a", "b c"] -> 'a' 'b c'; a plain string is taken as a shell line. */
static char *
command_of(const char *arg)
{
	struct buf b;
	const char *p = arg;

	while (isspace((unsigned char)*p))
		p++;
	if (*p != '[')
		return xstrdup(p);
	buf_init(&b, 1 << 16);
	p++;
	for (;;) {
		struct buf word;

		while (isspace((unsigned char)*p) || *p == ',')
			p++;
		if (*p == ']' || *p == '\0')
			break;
		if (*p != '"') {
			buf_free(&b);
			return NULL;
		}
		p++;
		buf_init(&word, 1 << 16);
		while (*p != '\0' && *p != '"') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			buf_add(&word, p, 1);
			p++;
		}
		if (*p != '"') {
			buf_free(&word);
			buf_free(&b);
			return NULL;
		}
		p++;
		if (b.len > 0)
			buf_adds(&b, " ");
		add_quoted(&b, word.data ? word.data : "", word.len);
		buf_free(&word);
	}
	return buf_cstr(&b);
}

static void
add_env(struct dockerfile *df, size_t *n, const char *k, size_t kn, const char *v, size_t vn)
{
	df->env = xrealloc(df->env, (*n + 2) * sizeof(*df->env));
	df->env[*n] = xasprintf("%.*s=%.*s", (int)kn, k, (int)vn, v);
	(*n)++;
	df->env[*n] = NULL;
}

/* ENV K=V K2="v 2"  or the old form ENV K V. */
static void
parse_env(struct dockerfile *df, size_t *n, const char *arg)
{
	const char *p = arg, *eq = strchr(arg, '='), *sp = strpbrk(arg, " \t");

	if (eq == NULL || (sp != NULL && sp < eq)) {
		if (sp == NULL)
			return;
		while (*sp == ' ' || *sp == '\t')
			sp++;
		add_env(df, n, arg, (size_t)(strpbrk(arg, " \t") - arg), sp, strlen(sp));
		return;
	}
	while (*p != '\0') {
		const char *k = p, *v;
		size_t kn, vn;
		char q = 0;

		while (*p != '\0' && *p != '=')
			p++;
		if (*p != '=')
			return;
		kn = (size_t)(p - k);
		p++;
		if (*p == '"' || *p == '\'')
			q = *p++;
		v = p;
		while (*p != '\0' && (q ? *p != q : !isspace((unsigned char)*p)))
			p++;
		vn = (size_t)(p - v);
		add_env(df, n, k, kn, v, vn);
		if (q && *p == q)
			p++;
		while (isspace((unsigned char)*p))
			p++;
	}
}

int
dockerfile_read(const char *path, struct dockerfile *df, char *err, size_t errlen)
{
	char *data, *save = NULL, *cmd = NULL, *entry = NULL;
	size_t nenv = 0, nargs = 0, len;
	struct buf line;

	memset(df, 0, sizeof(*df));
	data = read_file(path, 1 << 20, &len);
	if (data == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	/* Join continuation lines. */
	buf_init(&line, 0);
	for (char *l = strtok_r(data, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(l);

		while (n > 0 && (l[n - 1] == '\r' || l[n - 1] == ' '))
			n--;
		if (n > 0 && l[n - 1] == '\\') {
			buf_add(&line, l, n - 1);
			buf_adds(&line, " ");
			continue;
		}
		buf_add(&line, l, n);
		{
			char *s = buf_cstr(&line), *arg;

			while (isspace((unsigned char)*s))
				s++;
			if (*s == '#' || *s == '\0') {
				buf_reset(&line);
				continue;
			}
			arg = s + strcspn(s, " \t");
			if (*arg != '\0')
				*arg++ = '\0';
			while (isspace((unsigned char)*arg))
				arg++;
			if (strcasecmp(s, "CMD") == 0) {
				free(cmd);
				cmd = command_of(arg);
			} else if (strcasecmp(s, "ENTRYPOINT") == 0) {
				free(entry);
				entry = command_of(arg);
			} else if (strcasecmp(s, "ENV") == 0) {
				parse_env(df, &nenv, arg);
			} else if (strcasecmp(s, "WORKDIR") == 0) {
				free(df->workdir);
				df->workdir = arg[0] == '/' ? NULL : xstrdup(arg);
			} else if (strcasecmp(s, "EXPOSE") == 0 && df->expose == 0) {
				long port;

				arg[strcspn(arg, "/ \t")] = '\0';
				if (parse_long(arg, 1, 65535, &port) == 0)
					df->expose = (int)port;
			} else if (strcasecmp(s, "RUN") == 0) {
				df->run_lines++;
			} else if (strcasecmp(s, "ARG") == 0 && nargs < 256) {
				size_t kn = strcspn(arg, "= \t");

				if (kn > 0) {
					df->args = xrealloc(df->args, (nargs + 2) * sizeof(*df->args));
					df->args[nargs++] = xstrndup(arg, kn);
					df->args[nargs] = NULL;
				}
			}
		}
		buf_reset(&line);
	}
	buf_free(&line);
	free(data);
	if (entry != NULL && cmd != NULL) {
		df->command = xasprintf("%s %s", entry, cmd);
		free(entry);
		free(cmd);
	} else {
		df->command = entry != NULL ? entry : cmd;
	}
	return 0;
}

void
dockerfile_free(struct dockerfile *df)
{
	free(df->command);
	free(df->workdir);
	if (df->env != NULL) {
		for (char **e = df->env; *e != NULL; e++)
			free(*e);
	}
	free(df->env);
	if (df->args != NULL) {
		for (char **a = df->args; *a != NULL; a++)
			free(*a);
	}
	free(df->args);
	memset(df, 0, sizeof(*df));
}
