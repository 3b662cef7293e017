/*
 * build.h — turning an upload into a build and its release. The upload is
 * unpacked and checked (safe paths, size cap, convox.yml, a command for every
 * service) in a child process, so a large or hostile archive never stalls the
 * daemon's loop or takes the daemon down; then the build and its release are
 * recorded in one transaction and the deferred API answer is sent.
 */
#ifndef CX_BUILD_H
#define CX_BUILD_H

struct rack;
struct app;
struct api_req;
struct api_resp;

/* Handles POST /apps/APP/builds for app a: answers at once on an early error,
 * else defers the answer until the child is done. */
void build_start(struct rack *r, struct app *a, struct api_req *q, struct api_resp *s);
/* Stops the builds of app (every build when app is NULL): kills the child,
 * removes its directory, answers the client with 409. */
void build_cancel(struct rack *r, const char *app);

#endif
