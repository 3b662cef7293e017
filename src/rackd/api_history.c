/*
 * api_history.c — what an app's builds and releases were made of:
 * GET /apps/APP/builds/ID (a build's facts, its manifest and what the build
 * said; "running" while it builds, "failed" with its error),
 * GET /apps/APP/builds/ID/logs?since=OFFSET (the builder's output, from a
 * byte offset, the next in X-Cx-Offset: a client follows it while the build
 * runs) and GET /apps/APP/releases/ID/manifest (the convox.yml a release
 * runs), behind `cx builds info|logs`, `cx deploy` and `cx releases manifest`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "rackd/api.h"
#include "rackd/build.h"
#include "rackd/rack.h"
#include "rackd/store.h"

/* The oldest release made from build (its first), or -1 when none is. */
static int
first_release(struct rack *r, const char *app, const char *build, struct st_release *out)
{
	struct st_release *list;
	size_t n;
	int rc = -1;

	if (store_release_list(r->store, app, 0, &list, &n) == -1)
		return -1;
	for (size_t i = n; i-- > 0;) {
		if (strcmp(list[i].build, build) == 0) {
			rc = store_release_get(r->store, app, list[i].id, out);
			break;
		}
	}
	store_release_list_free(list, n);
	return rc;
}

void
api_build_get(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	struct st_release rel;
	struct st_build b;
	jv *j, *warnings;
	char *save = NULL;

	int64_t started;

	if (a == NULL)
		return;
	if (build_running(r, a->name, q->args[1], &started)) {
		j = jv_object_new();
		jv_set_str(j, "id", q->args[1]);
		jv_set_str(j, "status", "running");
		jv_set_int(j, "created", started);
		jv_set_int(j, "started", started);
		jv_set_int(j, "elapsed_ms", (now_unix() - started) * 1000);
		jv_set_str(j, "release", "");
		jv_set_str(j, "description", "");
		s->json = j;
		return;
	}
	if (store_build_get(r->store, a->name, q->args[1], &b) == -1) {
		api_error(s, 404, "no such build: %s (cx builds -a %s lists them)", q->args[1],
		    a->name);
		return;
	}
	j = jv_object_new();
	jv_set_str(j, "id", b.id);
	jv_set_str(j, "status", b.status[0] ? b.status : "complete");
	jv_set_str(j, "error", b.error);
	jv_set_int(j, "created", b.created);
	jv_set_int(j, "started", b.created);
	jv_set_int(j, "elapsed_ms", b.elapsed_ms);
	if (first_release(r, a->name, b.id, &rel) == 0) {
		jv_set_str(j, "release", rel.id);
		jv_set_str(j, "description", rel.description);
		store_release_free(&rel);
	} else {
		jv_set_str(j, "release", "");
		jv_set_str(j, "description", "");
	}
	jv_set_str(j, "manifest", b.manifest);
	{
		char path[4096];
		struct stat st;

		build_log_path(r, a->name, b.id, path, sizeof(path));
		jv_set_int(j, "log_bytes", stat(path, &st) == 0 ? (int64_t)st.st_size : 0);
	}
	warnings = jv_array_new();
	for (char *l = strtok_r(b.warnings, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
		jv_push_str(warnings, l);
	jv_set_take(j, "warnings", warnings);
	store_build_free(&b);
	s->json = j;
}

void
api_build_logs(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	char since[32], path[4096], chunk[65536];
	struct st_build b;
	long off = 0;
	int64_t next;
	ssize_t n;
	int fd;

	if (a == NULL)
		return;
	if (!build_running(r, a->name, q->args[1], NULL)) {
		if (store_build_get(r->store, a->name, q->args[1], &b) == -1) {
			api_error(s, 404, "no such build: %s (cx builds -a %s lists them)", q->args[1],
			    a->name);
			return;
		}
		store_build_free(&b);
	}
	if (api_query(q, "since", since, sizeof(since)) == 0 &&
	    parse_long(since, 0, INT64_MAX, &off) == -1) {
		api_error(s, 400, "since must be a byte offset");
		return;
	}
	s->is_text = true;
	next = off;
	build_log_path(r, a->name, q->args[1], path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 && errno != ENOENT) {
		api_error(s, 500, "cannot read the build's log: %s", strerror(errno));
		return;
	}
	/* At most 1 MiB an answer; the client asks again from X-Cx-Offset. */
	while (fd != -1 && s->text.len < (1u << 20) &&
	    (n = pread(fd, chunk, sizeof(chunk), (off_t)next)) > 0) {
		if (buf_add(&s->text, chunk, (size_t)n) == -1)
			break;
		next += n;
	}
	if (fd != -1)
		close(fd);
	snprintf(s->extra, sizeof(s->extra), "X-Cx-Offset: %lld\r\n", (long long)next);
}

void
api_release_manifest(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	struct st_release rel;
	struct st_build b;

	if (a == NULL || api_find_release(r, a, q->args[1], s, &rel) == -1)
		return;
	if (rel.build[0] == '\0' || store_build_get(r->store, a->name, rel.build, &b) == -1) {
		api_error(s, 404, "release %s has no build, so no manifest: it only set variables "
		    "before the app's first deploy", rel.id);
		store_release_free(&rel);
		return;
	}
	s->is_text = true;
	if (buf_adds(&s->text, b.manifest) == -1)
		api_error(s, 500, "cannot answer the manifest");
	store_build_free(&b);
	store_release_free(&rel);
}
