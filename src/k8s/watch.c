/*
 * watch.c — see watch.h (its states are drawn there). The list and the
 * watch are plain GETs (k8s_request); the watch's answer is a stream of
 * JSON lines, one event each, taken as they come (httpc on_line).
 */
#include "k8s/watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "k8s/request.h"

#define WATCH_SECONDS	290		/* the server ends a watch after this; we go on */
#define LIST_MAX	(64u << 20)	/* the largest list answer taken */
#define LINE_MAX_B	(8u << 20)	/* the largest event */
#define BACKOFF_MAX_MS	16000

/* The key of obj in items: "NAMESPACE/NAME" ("/NAME" for a cluster-wide
 * one), or false when it has no name. */
static bool
item_key(const jv *obj, char *out, size_t outlen)
{
	const jv *md = jv_get(obj, "metadata");
	const char *name = jv_str(md, "name");

	if (name == NULL || name[0] == '\0')
		return false;
	return (size_t)snprintf(out, outlen, "%s/%s", jv_str_or(md, "namespace", ""), name) <
	    outlen;
}

int
k8s_watch_event(jv *items, char *rv, size_t rvlen, const char *line, size_t len)
{
	jv *ev = jv_parse(line, len, NULL, 0), *obj;
	const char *type;
	char key[600];
	int rc = -1;

	if (ev == NULL)
		return -1;
	type = jv_str_or(ev, "type", "");
	obj = jv_get(ev, "object");
	if (strcmp(type, "ERROR") == 0 || !jv_is_object(obj))
		goto out;
	if (jv_str_or(jv_get(obj, "metadata"), "resourceVersion", NULL) != NULL)
		str_copy(rv, rvlen, jv_str_or(jv_get(obj, "metadata"), "resourceVersion", ""));
	if (strcmp(type, "BOOKMARK") == 0) {
		rc = 0;
	} else if (!item_key(obj, key, sizeof(key))) {
		rc = -1;
	} else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		jv_set_take(items, key, jv_copy(obj));
		rc = 1;
	} else if (strcmp(type, "DELETED") == 0) {
		rc = jv_get(items, key) != NULL;
		jv_del(items, key);
	}
out:
	jv_free(ev);
	return rc;
}

static void
notify(struct k8s_watch *w)
{
	char c = 1;

	if (write(w->notify_fd, &c, 1) == -1 && errno != EAGAIN)
		log_warn("watch %s: notify", w->path);
}

static bool
stopped(void *arg)
{
	const struct k8s_watch *w = arg;

	return w->stop;
}

/* A GET of path?query on w's server; on_line streams the answer. */
static int
get(struct k8s_watch *w, const char *query, long timeout_ms,
    bool (*on_line)(const char *, size_t, void *), long *code, struct buf *body, char *err,
    size_t errlen)
{
	struct k8s_req r = { .method = "GET", .path = w->path, .query = query,
		.timeout_ms = timeout_ms, .max_resp = on_line != NULL ? LINE_MAX_B : LIST_MAX,
		.cancelled = stopped, .cancel_arg = w, .on_line = on_line, .line_arg = w };

	return k8s_request(w->kc, &r, code, body, err, errlen);
}

/* Lists the collection into w->items. 0, or -1 with w->error. */
static int
list(struct k8s_watch *w)
{
	char err[512], key[600];
	struct buf body;
	long code;
	jv *ans = NULL, *items;
	int rc = -1;

	if (get(w, "limit=0", 60000, NULL, &code, &body, err, sizeof(err)) == -1)
		goto out;
	ans = jv_parse(body.data != NULL ? body.data : "", body.len, err, sizeof(err));
	if (code != 200 || ans == NULL) {
		snprintf(err, sizeof(err), "listing %s: the API server answered %ld: %.300s", w->path,
		    code, jv_str_or(ans, "message", "not a list"));
		goto out;
	}
	items = jv_object_new();
	for (size_t i = 0; i < jv_len(jv_get(ans, "items")); i++) {
		const jv *o = jv_at(jv_get(ans, "items"), i);

		if (item_key(o, key, sizeof(key)))
			jv_set_take(items, key, jv_copy(o));
	}
	pthread_mutex_lock(&w->mu);
	jv_free(w->items);
	w->items = items;
	str_copy(w->rv, sizeof(w->rv), jv_str_or(jv_get(ans, "metadata"), "resourceVersion", ""));
	w->synced = true;
	w->lists++;
	w->error[0] = '\0';
	pthread_mutex_unlock(&w->mu);
	notify(w);
	rc = 0;
out:
	if (rc == -1) {
		pthread_mutex_lock(&w->mu);
		str_copy(w->error, sizeof(w->error), err);
		pthread_mutex_unlock(&w->mu);
	}
	jv_free(ans);
	buf_free(&body);
	return rc;
}

/* One event line: false ends the watch (to list again). */
static bool
on_event(const char *line, size_t len, void *arg)
{
	struct k8s_watch *w = arg;
	int rc;

	if (len == 0)
		return true;
	pthread_mutex_lock(&w->mu);
	rc = k8s_watch_event(w->items, w->rv, sizeof(w->rv), line, len);
	if (rc == 1)
		w->events++;
	pthread_mutex_unlock(&w->mu);
	if (rc == 1)
		notify(w);
	return rc != -1;
}

/* Watches from w->rv until the server ends the stream (0: watch on) or
 * it breaks (-1: list again). */
static int
watch(struct k8s_watch *w)
{
	char query[256], err[512];
	struct buf body;
	long code;
	int rc;

	pthread_mutex_lock(&w->mu);
	snprintf(query, sizeof(query), "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&"
	    "resourceVersion=%s", WATCH_SECONDS, w->rv);
	pthread_mutex_unlock(&w->mu);
	rc = get(w, query, (WATCH_SECONDS + 30) * 1000L, on_event, &code, &body, err,
	    sizeof(err));
	buf_free(&body);
	if (rc == 0 && code == 200)
		return 0;
	if (!w->stop && strstr(err, "stopped") == NULL)
		log_info("watch %s: %s; listing again", w->path, rc == -1 ? err : "the server "
		    "refused the watch");
	return -1;
}

static void
sleep_ms(const struct k8s_watch *w, long ms)
{
	for (long t = 0; t < ms && !w->stop; t += 100) {
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
	}
}

static void *
run(void *arg)
{
	struct k8s_watch *w = arg;
	long backoff = 1000;

	while (!w->stop) {
		if (list(w) == -1) {
			if (!w->stop)
				log_warnx("watch %s: %s (again in %ld s)", w->path, w->error,
				    backoff / 1000);
			sleep_ms(w, backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		backoff = 1000;
		for (;;) {
			int64_t t0 = now_ms();

			if (w->stop || watch(w) == -1)
				break;
			if (now_ms() - t0 < 1000)
				sleep_ms(w, 1000);	/* a server that ends watches at once */
		}
	}
	return NULL;
}

int
k8s_watch_start(struct k8s_watch *w, const struct kubeconfig *kc, const char *path,
    int notify_fd, char *err, size_t errlen)
{
	int e;

	memset(w, 0, sizeof(*w));
	w->kc = kc;
	str_copy(w->path, sizeof(w->path), path);
	w->notify_fd = notify_fd;
	pthread_mutex_init(&w->mu, NULL);
	if (httpc_init() == -1) {
		snprintf(err, errlen, "cannot initialize libcurl");
		return -1;
	}
	if ((e = pthread_create(&w->thread, NULL, run, w)) != 0) {
		snprintf(err, errlen, "cannot start the watch of %s: %s", path, strerror(e));
		pthread_mutex_destroy(&w->mu);
		return -1;
	}
	return 0;
}

void
k8s_watch_stop(struct k8s_watch *w)
{
	w->stop = true;
	pthread_join(w->thread, NULL);
	jv_free(w->items);
	w->items = NULL;
	pthread_mutex_destroy(&w->mu);
}

jv *
k8s_watch_copy(struct k8s_watch *w)
{
	jv *c;

	pthread_mutex_lock(&w->mu);
	c = w->synced ? jv_copy(w->items) : NULL;
	pthread_mutex_unlock(&w->mu);
	return c;
}
