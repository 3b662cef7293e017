/*
 * rootfs.h — a process started from its release's image, with the rack's own
 * namespaces (no OCI runtime): the image's layers, made idmapped onto the
 * app's id range, under a private writable layer of the process; a minimal
 * /dev, /proc, and the rack's /etc/resolv.conf, /etc/hosts, /etc/hostname;
 * pivot_root into it; a user namespace mapping ids 0-65535 onto the app's
 * range, so the image's root is root only inside it. docs/images.md tells
 * the whole story.
 *
 * The pure parts (the image's /etc/passwd and /etc/group, Convox's argv and
 * environment rules) are exported for the unit tests.
 */
#ifndef CX_ROOTFS_H
#define CX_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ROOTFS_GROUPS_MAX 64
#define ROOTFS_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Who a process of an image runs as, inside its user namespace. */
struct rootfs_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[ROOTFS_GROUPS_MAX];   /* supplementary, from /etc/group */
	size_t ngroups;
	char home[256];
};

/*
 * Resolves an image's USER (NULL or "" is root; "name", "uid", "name:group",
 * "uid:gid") against the text of its /etc/passwd and /etc/group (either may be
 * NULL: the image has none). A name must be in them; a number need not be (its
 * group is then 0 and its home "/", as Docker does). Ids must fall in the
 * mapped range 0-65535. 0, or -1 with err naming what was not found.
 */
int rootfs_resolve_user(const char *spec, const char *passwd, const char *group,
    struct rootfs_user *u, char *err, size_t errlen);

/* Splits command as a POSIX shell splits words, without expansions: blanks
 * separate, '…' is literal, "…" keeps \" \\ \$ \` escapes, \ quotes the next
 * character. A NULL-terminated malloc'd array (rootfs_strv_free), or NULL
 * with err (an unterminated quote, or more than 256 words). */
char **rootfs_split(const char *command, char *err, size_t errlen);

/* Convox's argv: the image's ENTRYPOINT, then command (convox.yml `command:`
 * or `cx run`'s, shell-split) in place of the image's CMD. NULL with err when
 * the result is empty. */
char **rootfs_argv(char *const *entrypoint, char *const *cmd, const char *command, char *err,
    size_t errlen);

/* The environment: the image's ENV, then over (convox.yml's and the rack's)
 * replacing by name; HOME (home) and PATH (ROOTFS_DEFAULT_PATH) when neither
 * set them. Malloc'd, NULL-terminated. */
char **rootfs_env(char *const *image_env, char *const *over, const char *home);

/* argv joined by spaces, for `cx ps` (malloc'd). */
char *rootfs_join(char *const *argv);
void rootfs_strv_free(char **v);

/* What rootfs_enter builds. */
struct rootfs_spec {
	char *const *layers;   /* the image's layer directories, top first */
	const char *proc_dir;  /* host directory for the process's private layer (made here) */
	uint32_t uid_base;     /* the app's first host id */
	const char *hostname;  /* the process id */
	const char *address;   /* its address, for /etc/hosts */
	const char *workdir;   /* the image's WORKDIR, NULL for / */
	const char *user;      /* the image's USER */
};

/*
 * In a forked child that already has its own mount namespace (a slave of the
 * host's) and, where the rack gives one, its network namespace: builds the
 * root filesystem, pivots into it, hands stdio pipes to the image user's host
 * ids, enters the user namespace and becomes the image's user there (root
 * keeps a container's default capabilities inside it; anyone else none),
 * sets no_new_privs and changes to WORKDIR. *u says who it became. 0, or -1
 * with err.
 */
int rootfs_enter(const struct rootfs_spec *s, struct rootfs_user *u, char *err, size_t errlen);

/* execve of argv[0] looked up in env's PATH (ROOTFS_DEFAULT_PATH without
 * one). Returns only on failure, with err. */
int rootfs_exec(char *const *argv, char *const *env, char *err, size_t errlen);

/*
 * In a forked child, for `cx exec`: joins running process pid of an app whose
 * ids start at uid_base — its IPC, network and mount namespaces, its root and
 * directory, its user namespace (a process from an image) and its ids there,
 * with the same capabilities rootfs_enter gives; no_new_privs. Refuses a
 * process outside the app's range, and one that pidfd (a pidfd of pid)
 * shows was reaped before all was opened: its pid may name another now.
 * 0, or -1 with err.
 */
int rootfs_join_process(pid_t pid, int pidfd, uint32_t uid_base, char *err, size_t errlen);

/* Where process proc_id of app keeps its private layer on the host. */
void rootfs_proc_dir(const char *rack_dir, const char *app, const char *proc_id, char *out,
    size_t outlen);

#endif
