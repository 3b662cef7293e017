/*
 * build.h — turning an upload into a build and its release. The upload is
 * unpacked and checked (safe paths, size cap, convox.yml, a command for every
 * service) and each service's image built or pulled (image.h) in a child
 * process, so a large or hostile archive or a long build never stalls the
 * daemon's loop or takes the daemon down; then the build and its release are
 * recorded in one transaction and the deferred API answer is sent (or, with
 * ?async=1, the answer went at once and the client follows the build's log).
 */
#ifndef CX_BUILD_H
#define CX_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rack;
struct app;
struct api_req;
struct api_resp;

/* manifest_parse's lookup over ctx, an env as "K=V\n" lines: name's value
 * (in a static buffer, valid until the next call), or NULL. */
const char *build_env_lookup(const char *name, void *ctx);
/* Handles POST /apps/APP/builds for app a: answers at once on an early error,
 * else defers the answer until the child is done. */
void build_start(struct rack *r, struct app *a, struct api_req *q, struct api_resp *s);
/* Stops the builds of app (every build when app is NULL): kills the child,
 * removes its directory, answers the client with 409. */
void build_cancel(struct rack *r, const char *app);
/* Where build id of app keeps what it said (the rack's, not the app's). */
void build_log_path(struct rack *r, const char *app, const char *id, char *out, size_t outlen);
/* Whether build id of app is running now (and since when, unix seconds). */
bool build_running(struct rack *r, const char *app, const char *id, int64_t *started);
/* app's running builds, newest first, at most max: their count. */
struct build_running {
	char id[16];
	char description[512];
	int64_t started;
};
size_t build_list_running(struct rack *r, const char *app, struct build_running *out, size_t max);
/* Removes the images app a's builds made, once its processes are gone (in a
 * process of its own: never blocks). Call before the app's builds leave the
 * store. */
void build_remove_images(struct rack *r, struct app *a);

#endif
