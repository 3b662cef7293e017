/*
 * prune.h — builds beyond an app's last releases are removed (issue 11):
 * after each promotion, and on demand (POST /apps/APP/builds/prune, cx builds
 * prune). A build goes with its store row, the releases made from it, its
 * source directory and its images; never one a kept release uses.
 */
#ifndef CX_PRUNE_H
#define CX_PRUNE_H

#include <stddef.h>

#include "common/jv.h"

struct rack;
struct app;

/* build_retention when unset: the releases whose builds are kept. */
#define PRUNE_DEFAULT_KEEP 10

/* The rack's build_retention (PRUNE_DEFAULT_KEEP when unset). */
int prune_keep(struct rack *r);
/* Removes app a's builds that store_build_prunable names for the rack's
 * build_retention, except any that a process of a (or the release queued
 * after the promotion under way) uses. Each one removed is appended to done
 * (an array; may be NULL) as {"build": ID, "releases": [ID...]}. 0, or -1
 * with err when the store could not say or record it (what was removed
 * before stays removed). */
int prune_builds(struct rack *r, struct app *a, jv *done, char *err, size_t errlen);

#endif
