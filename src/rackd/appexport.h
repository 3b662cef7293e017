/*
 * appexport.h — `cx apps export` and `cx apps import`: an app, its releases
 * (manifest, env, description) and builds (source trees, image names) as
 * one gzipped tar, and that archive made into the same app on another rack.
 *
 * The archive holds app.json (what the store holds of the app: the format
 * below) and builds/BID.tgz for each build a release runs: its source tree
 * as the build unpacked it, packed the way `cx deploy` packs a directory
 * (common/pack.h). An import unpacks the archive, then each build's, with
 * unpack.h's checks, the ones a deploy's upload goes through: a hostile
 * archive is refused with the line unpack gives, before the app exists.
 * Image-built services carry their image's name, not the image: an import
 * names the same local image for the new rack, and refuses when the host
 * lacks it.
 *
 * Both run in a child process (packing and unpacking never stall the
 * daemon's loop); the answer waits for it.
 */
#ifndef CX_APPEXPORT_H
#define CX_APPEXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rackd/store.h"

#define APPEXPORT_FORMAT "cx-app-export/1"
/* The outer archive's entries: app.json, builds/ and one per build. */
#define APPEXPORT_MAX_ENTRIES 1024
#define APPEXPORT_META_MAX (16u << 20)

struct rack;
struct app;
struct api_req;
struct api_resp;

/* What app.json says: the app as its rack's store holds it. */
struct appexport_meta {
	char app[32];
	char rack[32];             /* the rack it was exported from */
	char active[16];           /* its active release there, "" */
	struct st_release *releases; /* oldest first */
	size_t nreleases;
	struct st_build *builds;   /* dir "" (the archive has the tree) */
	size_t nbuilds;
	char **scale_services;     /* cx scale overrides */
	int *scale_counts;
	size_t nscale;
};

/* app.json's text for m (exported now), owned. */
char *appexport_meta_dump(const struct appexport_meta *m, int64_t exported);
/*
 * Reads app.json's text (len bytes). Refuses, with one line naming what is
 * wrong: another format, a bad app name, release and build ids not of the
 * rack's form or given twice, a release naming a build the archive lacks,
 * an env line that is not KEY=VALUE, a build without a manifest, an image
 * name that is not one, a scale count out of 0-100. Owned (free with
 * appexport_meta_free), or NULL with err.
 */
struct appexport_meta *appexport_meta_parse(const char *text, size_t len, char *err,
    size_t errlen);
void appexport_meta_free(struct appexport_meta *m);
/* The release an import promotes: the one active where it came from when
 * it has a build, else the newest with one; NULL when none has. */
const struct st_release *appexport_target(const struct appexport_meta *m);

/* GET /apps/APP/export for app a: answers with the archive (application/gzip)
 * once the child has packed it, or an error. */
void appexport_export(struct rack *r, struct app *a, struct api_req *q, struct api_resp *s);
/* POST /apps/NAME/import (the archive is the upload): NAME must be free
 * (the caller checks). Answers 201 {"app","release","releases","builds"}
 * once the app is recorded (release: the one to promote, "" when none), or
 * 400 with the line that refused the archive, nothing created. */
void appexport_import(struct rack *r, const char *name, struct api_req *q, struct api_resp *s);
/* Whether an import of app name is under way. */
bool appexport_importing(const char *name);
/* Stops every export and import (the daemon stops): children killed,
 * their directories removed, their clients answered 409. */
void appexport_cancel_all(struct rack *r);

#endif
