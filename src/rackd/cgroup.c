/*
 * cgroup.c — see cgroup.h.
 *
 * The daemon's own group in each hierarchy comes from /proc/self/cgroup and
 * the hierarchy's mount point from /proc/self/mountinfo; the rack's group is
 * created below the daemon's (a host may let us write there and nowhere
 * above). A process's group is named by its process id, so a sweep after a
 * restart knows whose each one is.
 */
#include "rackd/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "rackd/rack.h"

/* v1: the controllers we use, one hierarchy each. */
static const char *const v1_ctrls[] = { "memory", "cpu", "pids" };

#define CPU_PERIOD_US 100000

const char *
cgroup_mode_name(const struct cgroup_rack *cg)
{
	return cg->mode == CGROUP_V2 ? "v2" : cg->mode == CGROUP_V1 ? "v1" : "none";
}

/* Whether list (comma separated) holds word. */
static bool
list_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p != NULL && *p != '\0'; ) {
		const char *c = strchr(p, ',');
		size_t len = c != NULL ? (size_t)(c - p) : strlen(p);

		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p = c != NULL ? c + 1 : NULL;
	}
	return false;
}

/* The daemon's group in the hierarchy of ctrl ("" for v2's unified one),
 * from /proc/self/cgroup. 0 or -1. */
static int
own_group(const char *ctrl, char *out, size_t outlen)
{
	char *data = read_file("/proc/self/cgroup", 65536, NULL), *save = NULL;
	int rc = -1;

	if (data == NULL)
		return -1;
	for (char *line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;

		if (c2 == NULL)
			continue;
		*c2 = '\0';
		if (ctrl[0] == '\0' ? (strcmp(line, "0") == 0 && c1[1] == '\0') : list_has(c1 + 1, ctrl)) {
			rc = str_copy(out, outlen, c2 + 1) < 0 ? -1 : 0;
			break;
		}
	}
	free(data);
	return rc;
}

/* Where the hierarchy of ctrl ("" for cgroup2) is mounted, from
 * /proc/self/mountinfo. 0 or -1. */
static int
mount_point(const char *ctrl, char *out, size_t outlen)
{
	char *data = read_file("/proc/self/mountinfo", 1 << 20, NULL), *save = NULL;
	int rc = -1;

	if (data == NULL)
		return -1;
	for (char *line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char root[4096], mnt[4096], fstype[64], opts[1024];
		char *dash = strstr(line, " - ");

		/* id parent maj:min root mount-point options [tags] - type source super-options */
		if (dash == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%63s %*s %1023s", fstype, opts) != 2 || strcmp(root, "/") != 0)
			continue;
		if (ctrl[0] == '\0' ? strcmp(fstype, "cgroup2") == 0 :
		    (strcmp(fstype, "cgroup") == 0 && list_has(opts, ctrl))) {
			rc = str_copy(out, outlen, mnt) < 0 ? -1 : 0;
			break;
		}
	}
	free(data);
	return rc;
}

static int
write_str(const char *dir, const char *file, const char *value)
{
	char path[4200];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* The rack's group's name: cx-NAME-HASH, HASH from the rack's directory. */
static void
rack_group_name(struct rack *r, char *out, size_t outlen)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (const char *p = r->dir; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(out, outlen, "cx-%s-%08x", r->name, h);
}

static void
list_path(struct rack *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/cgroups", r->dir);
}

/* The groups RACK_DIR/cgroups names, if they all still exist: "MODE\n"
 * then "CTRL DIR\n" lines. 0 or -1. */
static int
read_list(struct rack *r, struct cgroup_rack *cg)
{
	char path[4200], *data, *save = NULL, *line;
	struct stat st;

	list_path(r, path, sizeof(path));
	if ((data = read_file(path, 65536, NULL)) == NULL)
		return -1;
	*cg = (struct cgroup_rack){ 0 };
	line = strtok_r(data, "\n", &save);
	cg->mode = line == NULL ? CGROUP_NONE : strcmp(line, "v2") == 0 ? CGROUP_V2 :
	    strcmp(line, "v1") == 0 ? CGROUP_V1 : CGROUP_NONE;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL && cg->ndirs < CGROUP_MAX_DIRS) {
		char *sp = strchr(line, ' ');

		if (sp == NULL)
			break;
		*sp = '\0';
		str_copy(cg->ctrl[cg->ndirs], sizeof(cg->ctrl[0]), strcmp(line, "-") == 0 ? "" : line);
		str_copy(cg->dirs[cg->ndirs], sizeof(cg->dirs[0]), sp + 1);
		if (stat(cg->dirs[cg->ndirs], &st) == -1 || !S_ISDIR(st.st_mode))
			break;
		cg->ndirs++;
	}
	free(data);
	if (cg->mode == CGROUP_NONE || cg->ndirs != (cg->mode == CGROUP_V2 ? 1 : CX_ARRAY_LEN(v1_ctrls)))
		return -1;
	return 0;
}

static void
write_list(struct rack *r, const struct cgroup_rack *cg)
{
	char path[4200], buf[16384];
	size_t len = 0;

	len += (size_t)snprintf(buf, sizeof(buf), "%s\n", cgroup_mode_name(cg));
	for (size_t i = 0; i < cg->ndirs && len < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s %s\n",
		    cg->ctrl[i][0] != '\0' ? cg->ctrl[i] : "-", cg->dirs[i]);
	list_path(r, path, sizeof(path));
	if (len >= sizeof(buf) || write_file_atomic(path, buf, len, 0600) == -1)
		log_warnx("cannot write %s: %s", path, strerror(errno));
}

int
cgroup_v2_base(const char *own, char *out, size_t outlen)
{
	size_t n = strlen(own), leaf = strlen("/" CGROUP_V2_LEAF);

	if (n >= leaf && strcmp(own + n - leaf, "/" CGROUP_V2_LEAF) == 0)
		n -= leaf;
	if (n == 0)
		return str_copy(out, outlen, "/") < 0 ? -1 : 0;
	if (n >= outlen)
		return -1;
	memmove(out, own, n);   /* out may be own */
	out[n] = '\0';
	return 0;
}

/* The rack's group below the daemon's own in the hierarchy mounted at mnt
 * (for v2, below the group whose leaf the daemon is in: cgroup_v2_base). */
static int
make_rack_dir(struct rack *r, const char *ctrl, char *out, size_t outlen, char *why,
    size_t whylen)
{
	char mnt[4096], own[4096], name[64];

	if (mount_point(ctrl, mnt, sizeof(mnt)) == -1) {
		snprintf(why, whylen, "no %s%s hierarchy is mounted", ctrl, ctrl[0] ? "" : "cgroup2");
		return -1;
	}
	if (own_group(ctrl, own, sizeof(own)) == -1 ||
	    (ctrl[0] == '\0' && cgroup_v2_base(own, own, sizeof(own)) == -1)) {
		snprintf(why, whylen, "/proc/self/cgroup names no %s group", ctrl[0] ? ctrl : "cgroup2");
		return -1;
	}
	rack_group_name(r, name, sizeof(name));
	if (snprintf(out, outlen, "%s%s/%s", mnt, strcmp(own, "/") == 0 ? "" : own, name) >=
	    (int)outlen) {
		snprintf(why, whylen, "the %s group's path is too long", ctrl);
		return -1;
	}
	if (mkdir(out, 0755) == -1 && errno != EEXIST) {
		snprintf(why, whylen, "mkdir %s: %s", out, strerror(errno));
		return -1;
	}
	return 0;
}

/* A group other than the top one gives controllers below only if it holds
 * no process of its own: unless at the top or there already, the daemon
 * moves itself into parent's CGROUP_V2_LEAF (parent: its group's dir). */
static int
enter_v2_leaf(const char *parent, char *why, size_t whylen)
{
	char own[4096], base[4096], leaf[4200], pid[32];

	if (own_group("", own, sizeof(own)) == -1 || strcmp(own, "/") == 0 ||
	    cgroup_v2_base(own, base, sizeof(base)) == -1 || strcmp(base, own) != 0)
		return 0;
	snprintf(leaf, sizeof(leaf), "%s/%s", parent, CGROUP_V2_LEAF);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if ((mkdir(leaf, 0755) == -1 && errno != EEXIST) ||
	    write_str(leaf, "cgroup.procs", pid) == -1) {
		snprintf(why, whylen, "cannot move the daemon into %s (its group must hold no "
		    "process to give controllers below): %s", leaf, strerror(errno));
		return -1;
	}
	return 0;
}

/* cgroup v2: its unified hierarchy, if the daemon's group offers memory,
 * cpu and pids to groups below it. */
static int
setup_v2(struct rack *r, struct cgroup_rack *cg, char *why, size_t whylen)
{
	char dir[4096], parent[4096], *ctl;
	bool ok;

	if (make_rack_dir(r, "", dir, sizeof(dir), why, whylen) == -1)
		return -1;
	str_copy(parent, sizeof(parent), dir);
	*strrchr(parent, '/') = '\0';
	snprintf(cg->dirs[0], sizeof(cg->dirs[0]), "%s/cgroup.controllers", parent);
	ctl = read_file(cg->dirs[0], 4096, NULL);
	ok = ctl != NULL && strstr(ctl, "memory") != NULL && strstr(ctl, "cpu") != NULL &&
	    strstr(ctl, "pids") != NULL;
	free(ctl);
	if (ok && enter_v2_leaf(parent, why, whylen) == -1) {
		rmdir(dir);
		return -1;
	}
	if (!ok || write_str(parent, "cgroup.subtree_control", "+memory +cpu +pids") == -1 ||
	    write_str(dir, "cgroup.subtree_control", "+memory +cpu +pids") == -1) {
		snprintf(why, whylen, "cgroup v2 at %s does not give memory, cpu and pids", parent);
		rmdir(dir);
		return -1;
	}
	cg->mode = CGROUP_V2;
	cg->ndirs = 1;
	cg->ctrl[0][0] = '\0';
	str_copy(cg->dirs[0], sizeof(cg->dirs[0]), dir);
	return 0;
}

static int
setup_v1(struct rack *r, struct cgroup_rack *cg, char *why, size_t whylen)
{
	for (size_t i = 0; i < CX_ARRAY_LEN(v1_ctrls); i++) {
		if (make_rack_dir(r, v1_ctrls[i], cg->dirs[i], sizeof(cg->dirs[i]), why, whylen) == -1) {
			for (size_t j = 0; j < i; j++)
				rmdir(cg->dirs[j]);
			return -1;
		}
		str_copy(cg->ctrl[i], sizeof(cg->ctrl[i]), v1_ctrls[i]);
	}
	cg->mode = CGROUP_V1;
	cg->ndirs = CX_ARRAY_LEN(v1_ctrls);
	return 0;
}

void
cgroup_setup(struct rack *r)
{
	struct cgroup_rack *cg = &r->cg;
	char why2[256] = "";

	if (read_list(r, cg) == 0) {
		log_info("cgroup %s: the rack's groups are %s...", cgroup_mode_name(cg), cg->dirs[0]);
		return;
	}
	*cg = (struct cgroup_rack){ 0 };
	if (geteuid() != 0) {
		str_copy(cg->why, sizeof(cg->why), "the rack does not run as root");
	} else if (setup_v2(r, cg, cg->why, sizeof(cg->why)) == -1 &&
	    setup_v1(r, cg, why2, sizeof(why2)) == -1) {
		cg->mode = CGROUP_NONE;
		cg->ndirs = 0;
		snprintf(cg->why + strlen(cg->why), sizeof(cg->why) - strlen(cg->why), "; v1: %s", why2);
	}
	if (cg->mode == CGROUP_NONE) {
		log_warnx("cgroups: none (%s): scale.memory, scale.cpu and process_pids_max are not "
		    "enforced", cg->why);
		return;
	}
	cg->why[0] = '\0';
	write_list(r, cg);
	log_info("cgroup %s: the rack's groups are %s...", cgroup_mode_name(cg), cg->dirs[0]);
}

static void
proc_dir(const struct cgroup_rack *cg, size_t i, const char *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", cg->dirs[i], id);
}

/* Writes l into the group dir of controller ctrl ("" for v2: all). */
static int
set_limits(const char *dir, const char *ctrl, const struct cgroup_limits *l, char *err,
    size_t errlen)
{
	char v[64];
	bool v2 = ctrl[0] == '\0';
	long long quota = (long long)l->cpu * CPU_PERIOD_US / 1024;

	if (v2 || strcmp(ctrl, "memory") == 0) {
		if (l->memory_mb > 0) {
			snprintf(v, sizeof(v), "%lld", (long long)l->memory_mb << 20);
			if (write_str(dir, v2 ? "memory.max" : "memory.limit_in_bytes", v) == -1)
				goto fail;
			/* No swap beyond it: over its memory, it is killed, not slowed. */
			if (v2)
				write_str(dir, "memory.swap.max", "0");
			else
				write_str(dir, "memory.memsw.limit_in_bytes", v);
		}
	}
	if (v2 || strcmp(ctrl, "cpu") == 0) {
		long long shares = l->cpu < 2 ? 2 : l->cpu > 262144 ? 262144 : l->cpu;

		if (v2)     /* weight 1..10000 for shares 2..262144, as systemd maps them */
			snprintf(v, sizeof(v), "%lld", 1 + (shares - 2) * 9999 / 262142);
		else
			snprintf(v, sizeof(v), "%lld", shares);
		if (write_str(dir, v2 ? "cpu.weight" : "cpu.shares", v) == -1)
			goto fail;
		if (l->cpu_cap && quota > 0) {
			if (quota < 1000)
				quota = 1000;    /* the kernel's least */
			if (v2)
				snprintf(v, sizeof(v), "%lld %d", quota, CPU_PERIOD_US);
			else
				snprintf(v, sizeof(v), "%lld", quota);
			if (write_str(dir, v2 ? "cpu.max" : "cpu.cfs_quota_us", v) == -1)
				goto fail;
		}
	}
	if ((v2 || strcmp(ctrl, "pids") == 0) && l->pids_max > 0) {
		snprintf(v, sizeof(v), "%d", l->pids_max);
		if (write_str(dir, "pids.max", v) == -1)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "cannot set the limits of group %s: %s", dir, strerror(errno));
	return -1;
}

int
cgroup_proc_create(struct rack *r, const char *id, const struct cgroup_limits *l, int *fds,
    size_t *nfds, char *err, size_t errlen)
{
	const struct cgroup_rack *cg = &r->cg;
	char dir[4200];
	size_t i;

	*nfds = 0;
	for (i = 0; i < cg->ndirs; i++) {
		proc_dir(cg, i, id, dir, sizeof(dir));
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
			goto fail;
		}
		if (set_limits(dir, cg->ctrl[i], l, err, errlen) == -1)
			goto fail;
		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/cgroup.procs");
		if ((fds[i] = open(dir, O_WRONLY | O_CLOEXEC)) == -1) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			goto fail;
		}
		*nfds = i + 1;
	}
	return 0;
fail:
	for (size_t j = 0; j < *nfds; j++)
		close(fds[j]);
	*nfds = 0;
	cgroup_proc_remove(r, id);
	return -1;
}

int
cgroup_proc_open(struct rack *r, const char *id, int *fds, size_t *nfds, char *err,
    size_t errlen)
{
	const struct cgroup_rack *cg = &r->cg;
	char dir[4200];

	*nfds = 0;
	for (size_t i = 0; i < cg->ndirs; i++) {
		proc_dir(cg, i, id, dir, sizeof(dir));
		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/cgroup.procs");
		if ((fds[i] = open(dir, O_WRONLY | O_CLOEXEC)) == -1) {
			int e = errno;

			for (size_t j = 0; j < i; j++)
				close(fds[j]);
			*nfds = 0;
			if (e == ENOENT && i == 0)
				return 0;       /* started before it had groups: none to join */
			snprintf(err, errlen, "%s: %s", dir, strerror(e));
			return -1;
		}
		*nfds = i + 1;
	}
	return 0;
}

int
cgroup_join(const int *fds, size_t nfds)
{
	for (size_t i = 0; i < nfds; i++) {
		if (write(fds[i], "0", 1) != 1)
			return -1;
	}
	return 0;
}

bool
cgroup_proc_oom(struct rack *r, const char *id, int *limit_mb)
{
	const struct cgroup_rack *cg = &r->cg;
	char path[4200], *data, *k;
	long long kills = 0, limit = 0;

	*limit_mb = 0;
	for (size_t i = 0; i < cg->ndirs; i++) {
		bool v2 = cg->ctrl[i][0] == '\0';

		if (!v2 && strcmp(cg->ctrl[i], "memory") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", cg->dirs[i], id,
		    v2 ? "memory.events" : "memory.oom_control");
		if ((data = read_file(path, 4096, NULL)) != NULL) {
			if ((k = strstr(data, "oom_kill ")) != NULL)
				kills = strtoll(k + 9, NULL, 10);
			free(data);
		}
		snprintf(path, sizeof(path), "%s/%s/%s", cg->dirs[i], id,
		    v2 ? "memory.max" : "memory.limit_in_bytes");
		if ((data = read_file(path, 64, NULL)) != NULL) {
			limit = strtoll(data, NULL, 10);
			free(data);
		}
	}
	if (limit > 0 && limit < (1LL << 50))
		*limit_mb = (int)(limit >> 20);
	return kills > 0;
}

void
cgroup_proc_remove(struct rack *r, const char *id)
{
	const struct cgroup_rack *cg = &r->cg;
	char dir[4200];

	for (size_t i = 0; i < cg->ndirs; i++) {
		proc_dir(cg, i, id, dir, sizeof(dir));
		/* Its last tasks may still be leaving: a moment's retries. */
		for (int t = 0; rmdir(dir) == -1 && errno == EBUSY && t < 50; t++)
			usleep(2000);
		if (access(dir, F_OK) == 0)
			log_warnx("cannot remove group %s: %s", dir, strerror(errno));
	}
}

void
cgroup_sweep(struct rack *r, bool (*keep)(struct rack *r, const char *id))
{
	const struct cgroup_rack *cg = &r->cg;

	for (size_t i = 0; i < cg->ndirs; i++) {
		DIR *d = opendir(cg->dirs[i]);
		struct dirent *e;
		char dir[4200];

		if (d == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			if (e->d_type != DT_DIR || e->d_name[0] == '.' || (keep != NULL && keep(r, e->d_name)))
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", cg->dirs[i], e->d_name);
			if (rmdir(dir) == -1)
				log_warnx("cannot remove group %s: %s", dir, strerror(errno));
		}
		closedir(d);
	}
}

void
cgroup_remove_all(struct rack *r)
{
	char path[4200];

	cgroup_sweep(r, NULL);
	for (size_t i = 0; i < r->cg.ndirs; i++) {
		if (rmdir(r->cg.dirs[i]) == -1 && errno != ENOENT)
			log_warnx("cannot remove group %s: %s", r->cg.dirs[i], strerror(errno));
	}
	r->cg.ndirs = 0;
	r->cg.mode = CGROUP_NONE;
	list_path(r, path, sizeof(path));
	unlink(path);
}
