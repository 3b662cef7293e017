/*
 * access.c — see access.h.
 */
#include "rackd/access.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rackd/rack.h"

int
access_check_group(const char *group, char *err, size_t errlen)
{
	if (group[0] != '\0' && getgrnam(group) == NULL) {
		snprintf(err, errlen, "api_group: no group \"%s\" on this host; create it "
		    "(groupadd %s) or give \"\" for the rack's owner alone", group, group);
		return -1;
	}
	return 0;
}

/* path gets mode, and the group gid (-1: the owner's own). */
static int
set(const char *dir, const char *name, mode_t mode, gid_t gid, char *err, size_t errlen)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s%s%s", dir, name[0] ? "/" : "", name);
	if (chown(path, (uid_t)-1, gid == (gid_t)-1 ? getegid() : gid) == -1 ||
	    chmod(path, mode) == -1) {
		snprintf(err, errlen, "cannot give %s to its group: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
access_apply(struct rack *r, const char *group, char *err, size_t errlen)
{
	struct group *g;
	gid_t gid = (gid_t)-1;
	bool shared = group[0] != '\0';

	if (shared) {
		if ((g = getgrnam(group)) == NULL)
			return access_check_group(group, err, errlen);
		gid = g->gr_gid;
	}
	if (set(r->dir, "api.sock", shared ? 0660 : 0600, gid, err, errlen) == -1 ||
	    set(r->dir, "password", shared ? 0640 : 0600, gid, err, errlen) == -1 ||
	    set(r->dir, "", shared ? 0710 : 0700, gid, err, errlen) == -1)
		return -1;
	return 0;
}
