/*
 * cgroup.h — the resource limits of app processes: scale.memory, scale.cpu
 * and the rack's process cap (param process_pids_max), enforced by the
 * kernel's control groups. Each process gets a group of its own under one
 * group of the rack's (cx-NAME-HASH, HASH from the rack's directory, so that
 * two homes with a rack of the same name do not meet), created below the
 * daemon's own group in each hierarchy. cgroup v2 where its unified hierarchy
 * has the memory, cpu and pids controllers; else cgroup v1's memory, cpu and
 * pids hierarchies; else none (an unprivileged rack, or a host without them):
 * `cx rack` says which. Never RLIMIT_AS, which counts address space reserved
 * and not used (Node, ASan) and kills such a process at start.
 *
 * The rack's groups are listed in RACK_DIR/cgroups, so that a daemon started
 * elsewhere (another group of its own) finds the same ones, and uninstall
 * removes them.
 */
#ifndef CX_CGROUP_H
#define CX_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

struct rack;

#define CGROUP_MAX_DIRS 3
/* cgroup v2 gives controllers to groups below only a group with no process
 * of its own: the daemon moves itself into this leaf of its group first. */
#define CGROUP_V2_LEAF "cx-rackd-leaf"
#define CGROUP_PIDS_DEFAULT 512

enum cgroup_mode { CGROUP_NONE, CGROUP_V1, CGROUP_V2 };

/* What the rack's groups are (struct rack embeds it). */
struct cgroup_rack {
	enum cgroup_mode mode;
	char why[256];                          /* CGROUP_NONE: why not */
	size_t ndirs;                           /* v2: 1; v1: one per controller */
	char ctrl[CGROUP_MAX_DIRS][16];         /* v1: its controller; v2: "" */
	char dirs[CGROUP_MAX_DIRS][4096];       /* the rack's group in each */
};

/* The limits of one process. */
struct cgroup_limits {
	int memory_mb;      /* scale.memory; 0: none */
	int cpu;            /* scale.cpu (1024: a core): its share, always */
	bool cpu_cap;       /* and a hard cap of cpu/1024 cores (scale.cpu written) */
	int pids_max;       /* tasks at once, threads included; 0: none */
};

/* Finds what this host offers and creates (or finds again, through
 * RACK_DIR/cgroups) the rack's groups: r->cg. Never fails: with none it
 * says why in r->cg.why (and logs it once). */
void cgroup_setup(struct rack *r);
/* "v2", "v1" or "none". */
const char *cgroup_mode_name(const struct cgroup_rack *cg);

/*
 * Creates process id's group with limits l and opens, close-on-exec, the
 * file that takes a process into it in each hierarchy: fds[0..*nfds-1]
 * (the caller closes them). A child writes "0" to each (cgroup_join) to go
 * in itself. With CGROUP_NONE: 0 and *nfds 0. 0, or -1 with err (nothing
 * left behind).
 */
int cgroup_proc_create(struct rack *r, const char *id, const struct cgroup_limits *l,
    int *fds, size_t *nfds, char *err, size_t errlen);
/* Opens, close-on-exec, the files that take a process into the existing
 * groups of process id (for `cx exec`: a command in a process counts in
 * its limits). With CGROUP_NONE, or no group for id (a process started
 * before groups were made): 0 and *nfds 0. 0, or -1 with err. */
int cgroup_proc_open(struct rack *r, const char *id, int *fds, size_t *nfds, char *err,
    size_t errlen);
/* In a forked child: moves the caller into the groups of fds. 0 or -1. */
int cgroup_join(const int *fds, size_t nfds);
/* Whether the kernel killed a process of id's group for its memory, and
 * the group's limit in MB (0 if none). */
bool cgroup_proc_oom(struct rack *r, const char *id, int *limit_mb);
/* Removes id's group (its processes are gone). Logs a failure. */
void cgroup_proc_remove(struct rack *r, const char *id);
/* Removes the groups of processes the rack holds no more (keep(r, id)
     * false), as after a daemon restart. */
void cgroup_sweep(struct rack *r, bool (*keep)(struct rack *r, const char *id));
/* Removes every group of the rack's, and the list (uninstall). */
void cgroup_remove_all(struct rack *r);

/* The group, in cgroup v2's hierarchy, whose children the rack's groups are,
 * for a daemon in group own (from /proc/self/cgroup): own, or its parent when
 * own is CGROUP_V2_LEAF (a daemon that moved itself there before), "/" at the
 * top. Into out (outlen); 0, or -1 if it does not fit. */
int cgroup_v2_base(const char *own, char *out, size_t outlen);

#endif
