/*
 * sandbox.h — the walls around an app's processes: the one place that says
 * what a process of an app may see and be. Every app process (a service's,
 * a timer's run, `cx run`) goes through sandbox_enter between fork and exec;
 * one of a service that has an image goes through sandbox_enter_image
 * instead, which starts it in its image's root filesystem (rootfs.h,
 * docs/images.md) and not the host's with the views below.
 *
 * On a rack run as root, a process runs as its app's own unprivileged ids
 * (idrange.h), with no_new_privs and no capabilities, in a private mount
 * namespace where:
 *   /srv/app   is its release's build, bind-mounted read-only (the rack's
 *              own directory stays 0700, root's)
 *   /srv/home  is its HOME, empty, its own
 *   /tmp, /var/tmp, /dev/shm, /run/lock (every directory anyone may write
 *              to) are fresh and its own, and so are its System V IPC and
 *              POSIX message queues (an IPC namespace)
 * so it cannot read the rack's state, other apps' builds, logs or
 * environment, and cannot signal or trace another app's processes (they are
 * another uid). What stays shared on a loopback rack is the host's network
 * namespace: loopback ports and abstract unix sockets (VPC racks give each
 * process a network namespace of its own). On a rack run by an unprivileged user there is nothing to
 * drop to: the process runs as that user in its build directory.
 */
#ifndef CX_SANDBOX_H
#define CX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rack;
struct cgroup_limits;

#define SANDBOX_APP_DIR "/srv/app"
#define SANDBOX_HOME "/srv/home"

/* A process started from its release's image (rootfs.h) instead of the
 * host's root filesystem. */
struct sandbox_image {
	const char *ref;                    /* the image (its layers are read at start) */
	const struct image_config *config;  /* its ENV, WORKDIR, USER */
	char *const *argv;                  /* ENTRYPOINT + CMD or command (rootfs_argv) */
	const char *proc_dir;               /* its private layer (rootfs_proc_dir) */
	const char *address;                /* its address, for /etc/hosts */
	const char *layers_cache;           /* file of the image id's layers, or NULL */
};

struct sandbox {
	uint32_t uid_base;      /* the app's ids; 0 on an unprivileged rack */
	const char *build_dir;  /* host path of the release's build */
	const char *workdir;    /* below the build ("" for its top) */
	const char *home;       /* lab: $CX_HOME, rack name and process id to enter (VPC racks) */
	const char *rack;
	const char *proc_id;    /* NULL: stay in the host's network namespace */
	const char *name;       /* the process id (its hostname) */
	const struct sandbox_image *image;  /* NULL: the host's root filesystem */
	const struct cgroup_limits *limits; /* its control group's (cgroup.h); NULL: none */
};

/* Whether this daemon gives apps ids of their own (it runs as root). */
bool sandbox_privileged(void);
/* The directory a process starts in, as it sees it; and its HOME. */
void sandbox_dir(const struct sandbox *sb, char *out, size_t outlen);
const char *sandbox_home(const struct sandbox *sb);

/*
 * In a forked child, before exec: enters the process's network namespace
 * (VPC racks), builds its view of the filesystem, hands its stdio (fds 0-2)
 * to its ids, drops to them and changes to its directory. Refuses to go on
 * as root. 0, or -1 with err (the child then reports it and exits).
 */
int sandbox_enter(const struct sandbox *sb, char *err, size_t errlen);

/*
 * The same for a process from an image (sb->image, on a rack run as root):
 * its network namespace (VPC racks; there ports from 0 up may be bound),
 * a private mount and IPC namespace, then rootfs_enter: the image's root,
 * its user inside the app's user namespace, WORKDIR. *u says who it is (its
 * HOME for the environment). 0, or -1 with err.
 */
struct rootfs_user;
int sandbox_enter_image(const struct sandbox *sb, struct rootfs_user *u, char *err,
    size_t errlen);

/* Gives app `app` of rack r its id range (keeping `want` when it still
 * holds it): creates the app's directory, which owns the range. *base is 0
 * on an unprivileged rack. 0, or -1 with err. */
int sandbox_claim_ids(struct rack *r, const char *app, uint32_t want, uint32_t *base,
    char *err, size_t errlen);
/* Hands app's range back to the host (app deleted). Logs a failure. */
void sandbox_release_ids(struct rack *r, const char *app, uint32_t base);

#endif
