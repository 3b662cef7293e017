/*
 * access.h — who may use a rack's API: its owner alone (the rack's directory
 * 0700, api.sock and password 0600), or also the members of the group that
 * rack param api_group names, as members of the docker group use dockerd:
 * then the directory is 0710, api.sock 0660 and password 0640, all of that
 * group. The state (state.db, logs, builds) stays the owner's alone.
 */
#ifndef CX_ACCESS_H
#define CX_ACCESS_H

#include <stddef.h>

struct rack;

/* Sets the modes and group above for group (api_group's value; "" for the
 * owner alone). 0, or -1 with err (no such group, or one the daemon cannot
 * give files to, as a user who is not in it). */
int access_apply(struct rack *r, const char *group, char *err, size_t errlen);
/* Whether group names a group of this host ("" always does: the owner's). */
int access_check_group(const char *group, char *err, size_t errlen);

#endif
