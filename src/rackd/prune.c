/*
 * prune.c — removes builds beyond an app's last build_retention releases
 * (prune.h): the store's rows first (so a full disk that refuses them leaves
 * everything as it was), then the source directory, then the images once
 * nothing runs from them (image_remove_later).
 */
#include "rackd/prune.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "rackd/disk.h"
#include "rackd/image.h"
#include "rackd/rack.h"

/* Whether build id is one a process of a, or the release queued after the
 * promotion under way, runs or will run. */
static bool
build_held(struct rack *r, struct app *a, const char *id)
{
	struct st_release rel;
	bool held = false;

	if (a->queued[0] != '\0' && store_release_get(r->store, a->name, a->queued, &rel) == 0) {
		held = strcmp(rel.build, id) == 0;
		store_release_free(&rel);
	}
	for (struct proc *p = a->procs; p != NULL && !held; p = p->next) {
		if (p->state == PROC_EXITED ||
		    store_release_get(r->store, a->name, p->st.release, &rel) == -1)
			continue;
		held = strcmp(rel.build, id) == 0;
		store_release_free(&rel);
	}
	return held;
}

/* Removes a build's source directory when it lies where the rack puts
 * builds (apps/APP/builds/ID): a path elsewhere is not the rack's to remove. */
static void
remove_source(struct rack *r, const struct st_build *b)
{
	char want[4200];

	snprintf(want, sizeof(want), "%s/apps/%s/builds/%s", r->dir, b->app, b->id);
	if (b->dir == NULL || strcmp(b->dir, want) != 0) {
		log_warnx("build %s: its source %s is not under the rack's builds; left there",
		    b->id, b->dir ? b->dir : "");
		return;
	}
	if (remove_tree(b->dir) == -1)
		log_warnx("build %s: cannot remove %s", b->id, b->dir);
}

int
prune_keep(struct rack *r)
{
	char text[32];
	long keep = PRUNE_DEFAULT_KEEP;

	rack_param(r, "build_retention", text, sizeof(text));
	if (parse_long(text, 1, 1000000, &keep) == -1)
		keep = PRUNE_DEFAULT_KEEP;
	return (int)keep;
}

int
prune_builds(struct rack *r, struct app *a, jv *done, char *err, size_t errlen)
{
	char **ids = NULL, **refs = NULL;
	size_t n = 0, nrefs = 0;
	int rc = 0;

	if (store_build_prunable(r->store, a->name, prune_keep(r), a->promoting, &ids, &n) == -1) {
		snprintf(err, errlen, "cannot list app %s's builds: %s", a->name,
		    store_error(r->store));
		return -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct st_build b;
		char **rels = NULL;
		size_t nrels = 0;
		bool sourced;
		int pruned;

		if (build_held(r, a, ids[i]) || store_build_get(r->store, a->name, ids[i], &b) == -1)
			continue;
		sourced = true;
		pruned = store_build_prune(r->store, a->name, ids[i], &rels, &nrels);
		if (pruned == -1 && store_full(r->store)) {
			/* No room even to record it: its source (which no kept
			 * release uses) goes first, then once more. */
			remove_source(r, &b);
			sourced = false;
			pruned = store_build_prune(r->store, a->name, ids[i], &rels, &nrels);
		}
		if (pruned == -1) {
			char what[64];

			snprintf(what, sizeof(what), "cannot remove build %s", b.id);
			disk_store_error(r, what, err, errlen);
			store_build_free(&b);
			rc = -1;
			break;
		}
		log_info("app %s: removed build %s and %zu release(s) made from it", a->name, b.id,
		    nrels);
		if (sourced)
			remove_source(r, &b);
		if (b.images != NULL && b.images[0] != '\0')
			image_refs_of(b.images, &refs, &nrefs);
		if (done != NULL) {
			jv *row = jv_object_new(), *list = jv_array_new();

			jv_set_str(row, "build", b.id);
			for (size_t k = 0; k < nrels; k++)
				jv_push_str(list, rels[k]);
			jv_set_take(row, "releases", list);
			jv_push_take(done, row);
		}
		str_list_free(rels);
		store_build_free(&b);
	}
	str_list_free(ids);
	/* No process runs from these builds (build_held): nothing to wait for. */
	if (nrefs > 0)
		image_remove_later(refs, NULL, 0);
	str_list_free(refs);
	return rc;
}
