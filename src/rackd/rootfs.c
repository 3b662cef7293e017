/*
 * rootfs.c — see rootfs.h.
 *
 * rootfs_enter, in order (everything before the user namespace needs the
 * host's root; nothing after it can undo the walls):
 *   1. a user namespace, made by a helper child that unshares one and waits
 *      while we write its maps (0-65535 -> uid_base…, uids and gids);
 *   2. each layer cloned (open_tree) and idmapped onto it (mount_setattr), so
 *      a file root owns in the image is uid_base's on the host and root's
 *      inside; the clones become an overlay's lower layers by descriptor, with
 *      the process's own upper and work directories;
 *   3. /etc/resolv.conf, hosts and hostname, /proc (hidepid: another uid's
 *      processes are invisible), a read-only /sys, a /dev of its own, every
 *      target resolved inside the new root (openat2 RESOLVE_IN_ROOT), so an
 *      image's symlink cannot point a mount at the host;
 *   4. pivot_root, the old root detached;
 *   5. the image's USER read from its own /etc/passwd and /etc/group (after
 *      the pivot: their symlinks resolve in the image);
 *   6. setns into the user namespace, the bounding set cut to the default set,
 *      groups, gid, uid; no_new_privs; WORKDIR.
 */
#include "rackd/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "common/util.h"
#include "rackd/idrange.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)
#define WORDS_MAX 256
#define ETC_MAX (1 << 20)

/* ---- pure parts --------------------------------------------------------- */

void
rootfs_strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

static size_t
strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/* Field i (0-based) of a ':'-separated line into out; -1 if missing. */
static int
field(const char *line, size_t len, int i, char *out, size_t outlen)
{
	const char *p = line, *end = line + len;

	for (; i > 0; i--) {
		p = memchr(p, ':', (size_t)(end - p));
		if (p == NULL)
			return -1;
		p++;
	}
	const char *q = memchr(p, ':', (size_t)(end - p));
	size_t n = (size_t)((q != NULL ? q : end) - p);

	if (n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Calls fn(line, len, arg) for each line of text until it returns true. */
static bool
each_line(const char *text, bool (*fn)(const char *, size_t, void *), void *arg)
{
	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (n > 0 && p[0] != '#' && fn(p, n, arg))
			return true;
		p = nl != NULL ? nl + 1 : NULL;
	}
	return false;
}

static int
parse_id(const char *s, uint32_t *out)
{
	long v;

	if (parse_long(s, 0, UINT32_MAX, &v) == -1)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A passwd or group entry searched by name (key) or id. */
struct lookup {
	const char *name;     /* NULL: by id */
	uint32_t id;
	int id_field;         /* 2 in both files */
	bool found;
	char got_name[256];
	uint32_t got_id, got_gid;
	char home[256];
};

static bool
passwd_match(const char *line, size_t len, void *arg)
{
	struct lookup *l = arg;
	char name[256], uid[32], gid[32];
	uint32_t u, g;

	if (field(line, len, 0, name, sizeof(name)) == -1 || field(line, len, 2, uid,
	    sizeof(uid)) == -1 || field(line, len, 3, gid, sizeof(gid)) == -1 ||
	    parse_id(uid, &u) == -1 || parse_id(gid, &g) == -1)
		return false;
	if (l->name != NULL ? strcmp(name, l->name) != 0 : u != l->id)
		return false;
	l->found = true;
	str_copy(l->got_name, sizeof(l->got_name), name);
	l->got_id = u;
	l->got_gid = g;
	if (field(line, len, 5, l->home, sizeof(l->home)) == -1 || l->home[0] != '/')
		str_copy(l->home, sizeof(l->home), "/");
	return true;
}

static bool
group_match(const char *line, size_t len, void *arg)
{
	struct lookup *l = arg;
	char name[256], gid[32];
	uint32_t g;

	if (field(line, len, 0, name, sizeof(name)) == -1 || field(line, len, 2, gid,
	    sizeof(gid)) == -1 || parse_id(gid, &g) == -1)
		return false;
	if (l->name != NULL ? strcmp(name, l->name) != 0 : g != l->id)
		return false;
	l->found = true;
	l->got_id = g;
	return true;
}

/* Groups listing user as a member: the supplementary groups. */
struct members {
	const char *user;
	struct rootfs_user *u;
};

static bool
group_lists_user(const char *line, size_t len, void *arg)
{
	struct members *m = arg;
	char gid[32], list[4096], *save = NULL;
	uint32_t g;

	if (field(line, len, 2, gid, sizeof(gid)) == -1 || parse_id(gid, &g) == -1 ||
	    field(line, len, 3, list, sizeof(list)) == -1)
		return false;
	for (char *w = strtok_r(list, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, m->user) == 0 && m->u->ngroups < ROOTFS_GROUPS_MAX && g < IDRANGE_SIZE) {
			m->u->groups[m->u->ngroups++] = g;
			break;
		}
	}
	return false;
}

int
rootfs_resolve_user(const char *spec, const char *passwd, const char *group,
    struct rootfs_user *u, char *err, size_t errlen)
{
	char user[256] = "root", grp[256] = "";
	struct lookup pl = { 0 }, gl = { 0 };
	uint32_t id;
	const char *colon;

	memset(u, 0, sizeof(*u));
	if (spec != NULL && spec[0] != '\0') {
		colon = strchr(spec, ':');
		if ((colon != NULL ? (size_t)(colon - spec) : strlen(spec)) >= sizeof(user) ||
		    (colon != NULL && strlen(colon + 1) >= sizeof(grp)))
			FAIL("the image's USER is too long: %.64s…", spec);
		snprintf(user, sizeof(user), "%.*s", colon != NULL ? (int)(colon - spec) :
		    (int)strlen(spec), spec);
		if (colon != NULL)
			str_copy(grp, sizeof(grp), colon + 1);
		if (user[0] == '\0')
			FAIL("the image's USER %s names no user (want name, uid, name:group or uid:gid)",
			    spec);
	}
	if (parse_id(user, &id) == 0) {
		pl.id = id;
		each_line(passwd, passwd_match, &pl);
		u->uid = id;
		u->gid = pl.found ? pl.got_gid : 0;
		str_copy(u->home, sizeof(u->home), pl.found ? pl.home : "/");
	} else {
		pl.name = user;
		if (!each_line(passwd, passwd_match, &pl)) {
			if (strcmp(user, "root") != 0)
				FAIL("the image's USER %s is not in its /etc/passwd", user);
			pl.got_id = pl.got_gid = 0;
			str_copy(pl.home, sizeof(pl.home), "/root");
		}
		u->uid = pl.got_id;
		u->gid = pl.got_gid;
		str_copy(u->home, sizeof(u->home), pl.home);
	}
	if (grp[0] != '\0') {
		if (parse_id(grp, &id) == 0) {
			u->gid = id;
		} else {
			gl.name = grp;
			if (!each_line(group, group_match, &gl))
				FAIL("the image's USER group %s is not in its /etc/group", grp);
			u->gid = gl.got_id;
		}
	}
	if (u->uid >= IDRANGE_SIZE || u->gid >= IDRANGE_SIZE)
		FAIL("the image's USER %s is uid %u gid %u: ids above %u are not mapped into the"
		    " app's range", spec, (unsigned)u->uid, (unsigned)u->gid, IDRANGE_SIZE - 1);
	/* A name listed as a member of groups gets them too. */
	if (pl.found || pl.name != NULL) {
		struct members m = { pl.name != NULL ? pl.name : pl.got_name, u };

		if (grp[0] == '\0')
			each_line(group, group_lists_user, &m);
	}
	return 0;
}

char **
rootfs_split(const char *command, char *err, size_t errlen)
{
	char **v = xcalloc(WORDS_MAX + 1, sizeof(*v));
	struct buf w;
	size_t n = 0;
	const char *p = command;

	buf_init(&w, 0);
	for (;;) {
		bool in_word = false;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		buf_reset(&w);
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n') {
			in_word = true;
			if (*p == '\'') {
				const char *q = strchr(p + 1, '\'');

				if (q == NULL)
					goto unterminated;
				buf_add(&w, p + 1, (size_t)(q - p - 1));
				p = q + 1;
			} else if (*p == '"') {
				for (p++; *p != '"'; p++) {
					if (*p == '\0')
						goto unterminated;
					if (*p == '\\' && strchr("\"\\$`", p[1]) != NULL && p[1] != '\0')
						p++;
					buf_add(&w, p, 1);
				}
				p++;
			} else if (*p == '\\') {
				if (p[1] == '\0')
					break;
				buf_add(&w, p + 1, 1);
				p += 2;
			} else {
				buf_add(&w, p++, 1);
			}
		}
		if (!in_word)
			break;
		if (n == WORDS_MAX) {
			snprintf(err, errlen, "the command has more than %d words", WORDS_MAX);
			goto fail;
		}
		v[n++] = xstrdup(w.len > 0 ? buf_cstr(&w) : "");
	}
	buf_free(&w);
	return v;
unterminated:
	snprintf(err, errlen, "the command has an unterminated quote: %.80s", command);
fail:
	buf_free(&w);
	rootfs_strv_free(v);
	return NULL;
}

char **
rootfs_argv(char *const *entrypoint, char *const *cmd, const char *command, char *err,
    size_t errlen)
{
	char **args = NULL, **v;
	char *const *tail;
	size_t n = 0, ne = strv_len(entrypoint);

	if (command != NULL) {
		if ((args = rootfs_split(command, err, errlen)) == NULL)
			return NULL;
		tail = args;
	} else {
		tail = cmd;
	}
	v = xcalloc(ne + strv_len(tail) + 1, sizeof(*v));
	for (size_t i = 0; i < ne; i++)
		v[n++] = xstrdup(entrypoint[i]);
	for (size_t i = 0; tail != NULL && tail[i] != NULL; i++)
		v[n++] = xstrdup(tail[i]);
	rootfs_strv_free(args);
	if (n == 0) {
		snprintf(err, errlen, "nothing to run: the image has no ENTRYPOINT or CMD and the"
		    " service no command: in convox.yml");
		free(v);
		return NULL;
	}
	return v;
}

/* Index of the entry of v naming the same variable as kv, or -1. */
static long
env_find(char *const *v, size_t n, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t k = eq != NULL ? (size_t)(eq - kv) : strlen(kv);

	for (size_t i = 0; i < n; i++) {
		if (strncmp(v[i], kv, k) == 0 && v[i][k] == '=')
			return (long)i;
	}
	return -1;
}

char **
rootfs_env(char *const *image_env, char *const *over, const char *home)
{
	size_t cap = strv_len(image_env) + strv_len(over) + 3, n = 0;
	char **v = xcalloc(cap, sizeof(*v));
	char *const *lists[2] = { image_env, over };

	for (int l = 0; l < 2; l++) {
		for (size_t i = 0; lists[l] != NULL && lists[l][i] != NULL; i++) {
			long at;

			if (strchr(lists[l][i], '=') == NULL)
				continue;
			at = env_find(v, n, lists[l][i]);
			if (at >= 0) {
				free(v[at]);
				v[at] = xstrdup(lists[l][i]);
			} else {
				v[n++] = xstrdup(lists[l][i]);
			}
		}
	}
	if (env_find(v, n, "HOME=") < 0)
		v[n++] = xasprintf("HOME=%s", home);
	if (env_find(v, n, "PATH=") < 0)
		v[n++] = xstrdup("PATH=" ROOTFS_DEFAULT_PATH);
	v[n] = NULL;
	return v;
}

char *
rootfs_join(char *const *argv)
{
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; argv != NULL && argv[i] != NULL; i++) {
		if (i > 0)
			buf_adds(&b, " ");
		buf_adds(&b, argv[i]);
	}
	buf_adds(&b, "");
	return buf_cstr(&b);
}

void
rootfs_proc_dir(const char *rack_dir, const char *app, const char *proc_id, char *out,
    size_t outlen)
{
	snprintf(out, outlen, "%s/apps/%s/procs/%s", rack_dir, app, proc_id);
}

int
rootfs_exec(char *const *argv, char *const *env, char *err, size_t errlen)
{
	const char *path = ROOTFS_DEFAULT_PATH;
	char full[PATH_MAX];
	int saved = ENOENT;

	for (size_t i = 0; env[i] != NULL; i++) {
		if (str_has_prefix(env[i], "PATH="))
			path = env[i] + 5;
	}
	if (strchr(argv[0], '/') != NULL) {
		execve(argv[0], argv, env);
		FAIL("exec %s: %s", argv[0], strerror(errno));
	}
	for (const char *p = path; ; ) {
		const char *c = strchr(p, ':');
		size_t n = c != NULL ? (size_t)(c - p) : strlen(p);

		if (snprintf(full, sizeof(full), "%.*s/%s", (int)n, n > 0 ? p : ".", argv[0]) <
		    (int)sizeof(full)) {
			execve(full, argv, env);
			if (errno != ENOENT && errno != ENOTDIR)
				saved = errno;
		}
		if (c == NULL)
			break;
		p = c + 1;
	}
	FAIL("exec %s: %s (PATH=%s)", argv[0], strerror(saved), path);
}

/* ---- the namespaces and mounts ------------------------------------------ */

/* A user namespace mapping 0-65535 onto base…: its descriptor, or -1. */
static int
make_userns(uint32_t base, char *err, size_t errlen)
{
	int up[2], down[2], fd = -1;
	char path[64], map[64], c = 0;
	pid_t pid;

	if (pipe2(up, O_CLOEXEC) == -1)
		FAIL("pipe: %s", strerror(errno));
	if (pipe2(down, O_CLOEXEC) == -1) {
		close(up[0]);
		close(up[1]);
		FAIL("pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		c = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
		if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (read(up[0], &c, 1) != 1 || c != 'y') {
		snprintf(err, errlen, "cannot make a user namespace (unshare CLONE_NEWUSER)");
		goto out;
	}
	snprintf(map, sizeof(map), "0 %u %u\n", (unsigned)base, IDRANGE_SIZE);
	for (int i = 0; i < 2; i++) {
		int mfd;

		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, i == 0 ? "uid_map" : "gid_map");
		mfd = open(path, O_WRONLY | O_CLOEXEC);
		if (mfd == -1 || write(mfd, map, strlen(map)) != (ssize_t)strlen(map)) {
			snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
			if (mfd != -1)
				close(mfd);
			goto out;
		}
		close(mfd);
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		snprintf(err, errlen, "opening %s: %s", path, strerror(errno));
out:
	close(up[0]);
	close(down[1]);     /* the helper's read ends: it exits */
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return fd;
}

/* path resolved inside root (the new root's descriptor), O_PATH; -1. */
static int
in_root(int rootfd, const char *path)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };

	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* A mount point inside root: path, made (a directory or an empty file) when
 * missing. Its descriptor, or -1 with err. */
static int
target(int rootfd, const char *path, bool dir, char *err, size_t errlen)
{
	char parent[PATH_MAX], *slash;
	int fd = in_root(rootfd, path), pfd;
	struct stat st;

	if (fd != -1) {
		if (fstat(fd, &st) == 0 && (S_ISDIR(st.st_mode) == dir) &&
		    (dir || S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)))
			return fd;
		close(fd);
		FAIL("the image's %s is not a %s", path, dir ? "directory" : "file");
	}
	if (errno != ENOENT)
		FAIL("the image's %s: %s", path, strerror(errno));
	str_copy(parent, sizeof(parent), path);
	slash = strrchr(parent, '/');
	if (slash == NULL || slash == parent)
		str_copy(parent, sizeof(parent), "/");
	else
		*slash = '\0';
	pfd = in_root(rootfd, parent);
	if (pfd == -1)
		FAIL("the image has no %s: %s", parent, strerror(errno));
	/* An O_PATH descriptor of a directory is a dirfd for mkdirat/openat. */
	if (dir) {
		if (mkdirat(pfd, strrchr(path, '/') + 1, 0755) == -1 && errno != EEXIST) {
			close(pfd);
			FAIL("cannot make %s in the image: %s", path, strerror(errno));
		}
	} else {
		int f = openat(pfd, strrchr(path, '/') + 1, O_WRONLY | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, 0644);

		if (f == -1) {
			close(pfd);
			FAIL("cannot make %s in the image: %s", path, strerror(errno));
		}
		close(f);
	}
	close(pfd);
	if ((fd = in_root(rootfd, path)) == -1)
		FAIL("the image's %s: %s", path, strerror(errno));
	return fd;
}

/* mount(2) onto a descriptor from target(). */
static int
mount_on(int fd, const char *src, const char *type, unsigned long flags, const char *opts)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return mount(src, p, type, flags, opts);
}

static int
mount_at(int rootfd, const char *path, bool dir, const char *src, const char *type,
    unsigned long flags, const char *opts, char *err, size_t errlen)
{
	int fd = target(rootfd, path, dir, err, errlen), rc;

	if (fd == -1)
		return -1;
	rc = mount_on(fd, src, type, flags, opts);
	close(fd);
	/* A bind is read-only by a remount of it: of the path again, since fd
	 * is the file under it. */
	if (rc == 0 && (flags & MS_BIND) != 0 && (flags & MS_RDONLY) != 0) {
		rc = -1;
		if ((fd = in_root(rootfd, path)) != -1) {
			rc = mount_on(fd, NULL, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID |
			    MS_NODEV, NULL);
			close(fd);
		}
	}
	if (rc == -1)
		FAIL("mounting %s on %s: %s", type != NULL ? type : src, path, strerror(errno));
	return 0;
}

/* The overlay of the idmapped layers and the process's own upper, on root. */
static int
mount_layers(const struct rootfs_spec *s, int userns, const char *upper, const char *work,
    const char *root, char *err, size_t errlen)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY,
		.userns_fd = (uint64_t)userns };
	char dir[PATH_MAX];
	int fs, mnt, rc = -1;

	if ((fs = fsopen("overlay", FSOPEN_CLOEXEC)) == -1)
		FAIL("fsopen overlay: %s", strerror(errno));
	for (size_t i = 0; s->layers[i] != NULL; i++) {
		int l = open_tree(AT_FDCWD, s->layers[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

		if (l == -1) {
			snprintf(err, errlen, "layer %s: %s", s->layers[i], strerror(errno));
			goto out;
		}
		if (mount_setattr(l, "", AT_EMPTY_PATH, &attr, sizeof(attr)) == -1) {
			snprintf(err, errlen, "idmapping layer %s: %s", s->layers[i], strerror(errno));
			close(l);
			goto out;
		}
		/* Overlayfs clones its layers and takes only attached mounts: each
		 * goes on a directory of the process's first (it goes with the host's
		 * root at the pivot). */
		snprintf(dir, sizeof(dir), "%s/lower/%zu", s->proc_dir, i);
		if (mkdir_p(dir, 0700) == -1 || move_mount(l, "", AT_FDCWD, dir,
		    MOVE_MOUNT_F_EMPTY_PATH) == -1) {
			snprintf(err, errlen, "mounting layer %s on %s: %s", s->layers[i], dir,
			    strerror(errno));
			close(l);
			goto out;
		}
		if (fsconfig(fs, FSCONFIG_SET_FD, "lowerdir+", NULL, l) == -1) {
			snprintf(err, errlen, "overlay lower layer %s: %s", s->layers[i],
			    strerror(errno));
			close(l);
			goto out;
		}
		close(l);
	}
	if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) == -1 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) == -1 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == -1) {
		char why[256];
		int e = errno;
		ssize_t n = read(fs, why, sizeof(why) - 1);

		/* The kernel's own words, when it left some ("e overlayfs: …"). */
		why[n > 0 ? n : 0] = '\0';
		snprintf(err, errlen, "creating the overlay: %s%s%s", strerror(e),
		    n > 0 ? ": " : "", why);
		goto out;
	}
	if ((mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID)) == -1) {
		snprintf(err, errlen, "fsmount overlay: %s", strerror(errno));
		goto out;
	}
	rc = move_mount(mnt, "", AT_FDCWD, root, MOVE_MOUNT_F_EMPTY_PATH);
	if (rc == -1)
		snprintf(err, errlen, "mounting the overlay on %s: %s", root, strerror(errno));
	close(mnt);
out:
	close(fs);
	return rc;
}

/* The host devices a process gets, bound from the host's /dev. */
static const char *const devices[] = { "null", "zero", "full", "random", "urandom", "tty" };

static int
make_dev(int rootfd, uint32_t base, char *err, size_t errlen)
{
	char opts[128], host[64], path[64];
	int dfd;
	static const char *const links[][2] = { { "fd", "/proc/self/fd" },
		{ "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
		{ "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" } };

	if (mount_at(rootfd, "/dev", true, "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC,
	    "mode=0755,size=64k", err, errlen) == -1)
		return -1;
	if ((dfd = in_root(rootfd, "/dev")) == -1)
		FAIL("the new /dev: %s", strerror(errno));
	for (size_t i = 0; i < CX_ARRAY_LEN(devices); i++) {
		snprintf(host, sizeof(host), "/dev/%s", devices[i]);
		snprintf(path, sizeof(path), "/dev/%s", devices[i]);
		if (mount_at(rootfd, path, false, host, NULL, MS_BIND, NULL, err, errlen) == -1) {
			close(dfd);
			return -1;
		}
	}
	for (size_t i = 0; i < CX_ARRAY_LEN(links); i++)
		(void)symlinkat(links[i][1], dfd, links[i][0]);
	close(dfd);
	/* Its own ptys (group tty, 5 inside), shared memory and queues. */
	snprintf(opts, sizeof(opts), "newinstance,ptmxmode=0666,mode=0620,gid=%u",
	    (unsigned)base + 5);
	if (mount_at(rootfd, "/dev/pts", true, "devpts", "devpts", MS_NOSUID | MS_NOEXEC, opts,
	    err, errlen) == -1 ||
	    mount_at(rootfd, "/dev/shm", true, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,"
	    "size=64m", err, errlen) == -1 ||
	    mount_at(rootfd, "/dev/mqueue", true, "mqueue", "mqueue", MS_NOSUID | MS_NODEV |
	    MS_NOEXEC, NULL, err, errlen) == -1)
		return -1;
	return 0;
}

/* /etc/hosts and /etc/hostname, written beside the private layer and bound
 * read-only; /etc/resolv.conf is the one this process sees now (the lab's
 * resolver in a network namespace of its own, else the host's). */
static int
make_etc(int rootfd, const struct rootfs_spec *s, char *err, size_t errlen)
{
	char path[PATH_MAX], *text;
	int rc;

	text = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	    "%s\t%s\n", s->address != NULL && s->address[0] != '\0' ? s->address : "127.0.1.1",
	    s->hostname);
	snprintf(path, sizeof(path), "%s/hosts", s->proc_dir);
	rc = write_file_atomic(path, text, strlen(text), 0644);
	free(text);
	if (rc == -1)
		FAIL("writing %s: %s", path, strerror(errno));
	if (mount_at(rootfd, "/etc/hosts", false, path, NULL, MS_BIND | MS_RDONLY, NULL, err,
	    errlen) == -1)
		return -1;
	text = xasprintf("%s\n", s->hostname);
	snprintf(path, sizeof(path), "%s/hostname", s->proc_dir);
	rc = write_file_atomic(path, text, strlen(text), 0644);
	free(text);
	if (rc == -1)
		FAIL("writing %s: %s", path, strerror(errno));
	if (mount_at(rootfd, "/etc/hostname", false, path, NULL, MS_BIND | MS_RDONLY, NULL, err,
	    errlen) == -1)
		return -1;
	return mount_at(rootfd, "/etc/resolv.conf", false, "/etc/resolv.conf", NULL,
	    MS_BIND | MS_RDONLY, NULL, err, errlen);
}

/* A container's default capabilities (Docker's set), kept by the image's
 * root inside its user namespace; they reach nothing of the host's. */
static const int default_caps[] = { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER,
	CAP_MKNOD, CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP,
	CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE };

static bool
default_cap(int cap)
{
	for (size_t i = 0; i < CX_ARRAY_LEN(default_caps); i++) {
		if (default_caps[i] == cap)
			return true;
	}
	return false;
}

static int
become(const struct rootfs_user *u, char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };

	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (!default_cap(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EINVAL)
			FAIL("dropping capability %d: %s", cap, strerror(errno));
	}
	if (setgroups(u->ngroups, u->groups) == -1 || setresgid(u->gid, u->gid, u->gid) == -1 ||
	    setresuid(u->uid, u->uid, u->uid) == -1)
		FAIL("becoming uid %u gid %u in the app's user namespace: %s", (unsigned)u->uid,
		    (unsigned)u->gid, strerror(errno));
	/* Root keeps the default set; any other uid lost them all in setresuid. */
	if (u->uid == 0) {
		for (size_t i = 0; i < CX_ARRAY_LEN(default_caps); i++) {
			int c = default_caps[i];

			d[c / 32].effective |= 1U << (c % 32);
		}
		d[0].permitted = d[0].inheritable = d[0].effective;
		d[1].permitted = d[1].inheritable = d[1].effective;
		if (syscall(SYS_capset, &h, d) == -1)
			FAIL("setting the default capabilities: %s", strerror(errno));
	}
	return 0;
}

/* The image's own /etc/passwd and /etc/group (after the pivot). */
static int
resolve_user(const char *spec, struct rootfs_user *u, char *err, size_t errlen)
{
	char *passwd = read_file("/etc/passwd", ETC_MAX, NULL);
	char *group = read_file("/etc/group", ETC_MAX, NULL);
	int rc = rootfs_resolve_user(spec, passwd, group, u, err, errlen);

	free(passwd);
	free(group);
	return rc;
}

int
rootfs_enter(const struct rootfs_spec *s, struct rootfs_user *u, char *err, size_t errlen)
{
	char upper[PATH_MAX], work[PATH_MAX], root[PATH_MAX];
	uid_t base = (uid_t)s->uid_base;
	int userns, rootfd = -1, rc = -1;

	if (s->layers == NULL || s->layers[0] == NULL)
		FAIL("the image has no layers");
	snprintf(upper, sizeof(upper), "%s/upper", s->proc_dir);
	snprintf(work, sizeof(work), "%s/work", s->proc_dir);
	snprintf(root, sizeof(root), "%s/root", s->proc_dir);
	/* The daemon's umask (077) would make / and the files below ours 0700. */
	umask(022);
	if (mkdir_p(upper, 0755) == -1 || mkdir_p(work, 0700) == -1 || mkdir_p(root, 0700) == -1)
		FAIL("making %s: %s", s->proc_dir, strerror(errno));
	/* The top of its private layer is /, root's inside. */
	if (chown(upper, base, base) == -1)
		FAIL("chown %s: %s", upper, strerror(errno));
	if ((userns = make_userns(s->uid_base, err, errlen)) == -1)
		return -1;
	if (mount_layers(s, userns, upper, work, root, err, errlen) == -1)
		goto out;
	if ((rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		goto out;
	}
	/* /etc first: its files resolve in the image's own tree, before any
	 * mount of ours could be what a symlink of the image points into. */
	if (make_etc(rootfd, s, err, errlen) == -1 ||
	    mount_at(rootfd, "/proc", true, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    "hidepid=invisible", err, errlen) == -1 ||
	    mount_at(rootfd, "/sys", true, "sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV |
	    MS_NOEXEC, NULL, err, errlen) == -1 ||
	    make_dev(rootfd, s->uid_base, err, errlen) == -1)
		goto out;
	if (fchdir(rootfd) == -1 || syscall(SYS_pivot_root, ".", ".") == -1) {
		snprintf(err, errlen, "pivot_root into %s: %s", root, strerror(errno));
		goto out;
	}
	/* The old root sits under the new one: gone, with every host mount. */
	if (umount2(".", MNT_DETACH) == -1 || chdir("/") == -1) {
		snprintf(err, errlen, "detaching the host's root: %s", strerror(errno));
		goto out;
	}
	if (resolve_user(s->user, u, err, errlen) == -1)
		goto out;
	for (int fd = 0; fd <= 2; fd++) {
		struct stat st;

		/* Its stdio pipes become its own ids' (for /dev/stdout). */
		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fchown(fd, base + u->uid,
		    base + u->gid) == -1) {
			snprintf(err, errlen, "giving fd %d to uid %u: %s", fd, (unsigned)(base + u->uid),
			    strerror(errno));
			goto out;
		}
	}
	if (setns(userns, CLONE_NEWUSER) == -1) {
		snprintf(err, errlen, "entering the app's user namespace: %s", strerror(errno));
		goto out;
	}
	if (become(u, err, errlen) == -1)
		goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
		goto out;
	}
	umask(022);
	if (chdir(s->workdir != NULL && s->workdir[0] != '\0' ? s->workdir : "/") == -1) {
		snprintf(err, errlen, "cannot enter the image's WORKDIR %s: %s", s->workdir,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rootfd != -1)
		close(rootfd);
	close(userns);
	return rc;
}

/* ---- joining a running process (cx exec) -------------------------------- */

/* Its real uid and gid, as the host sees them. */
static int
host_ids(pid_t pid, uid_t *uid, gid_t *gid)
{
	char path[64], *st, *u, *g;
	unsigned long vu, vg;
	int rc = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((st = read_file(path, 65536, NULL)) == NULL)
		return -1;
	u = strstr(st, "\nUid:");
	g = strstr(st, "\nGid:");
	if (u != NULL && g != NULL && sscanf(u, "\nUid: %lu", &vu) == 1 &&
	    sscanf(g, "\nGid: %lu", &vg) == 1) {
		*uid = (uid_t)vu;
		*gid = (gid_t)vg;
		rc = 0;
	}
	free(st);
	return rc;
}

static bool
same_ns(pid_t pid, const char *ns)
{
	char a[64], b[64];
	struct stat sa, sb;

	snprintf(a, sizeof(a), "/proc/self/ns/%s", ns);
	snprintf(b, sizeof(b), "/proc/%d/ns/%s", (int)pid, ns);
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino &&
	    sa.st_dev == sb.st_dev;
}

/* Whether the namespace fd holds (opened from a process's ns/NS) is ours. */
static bool
same_ns_fd(int fd, const char *ns)
{
	char a[64];
	struct stat sa, sb;

	snprintf(a, sizeof(a), "/proc/self/ns/%s", ns);
	return stat(a, &sa) == 0 && fstat(fd, &sb) == 0 && sa.st_ino == sb.st_ino &&
	    sa.st_dev == sb.st_dev;
}

int
rootfs_join_process(pid_t pid, int pidfd, uint32_t uid_base, char *err, size_t errlen)
{
	static const char *const kinds[] = { "ipc", "net", "mnt" };
	static const int flags[] = { CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS };
	char path[64];
	int fds[3] = { -1, -1, -1 }, userns = -1, rootfd = -1, cwdfd = -1, rc = -1;
	bool in_userns = !same_ns(pid, "user");
	struct rootfs_user u = { 0 };
	uid_t huid;
	gid_t hgid;

	if (host_ids(pid, &huid, &hgid) == -1)
		FAIL("process %d is gone", (int)pid);
	if (huid < uid_base || huid - uid_base >= IDRANGE_SIZE || hgid < uid_base ||
	    hgid - uid_base >= IDRANGE_SIZE)
		FAIL("process %d runs as uid %u, outside its app's range: refusing to join it",
		    (int)pid, (unsigned)huid);
	for (size_t i = 0; i < CX_ARRAY_LEN(kinds); i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, kinds[i]);
		if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if (in_userns && (userns = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	cwdfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd == -1 || cwdfd == -1) {
		snprintf(err, errlen, "process %d's root or directory: %s", (int)pid, strerror(errno));
		goto out;
	}
	if (!pidfd_alive(pidfd)) {
		snprintf(err, errlen, "process %d has exited", (int)pid);
		goto out;
	}
	/* The namespaces compared are those opened (proved the process's by
	 * its pidfd above), never the pid's again: a pid reused since could
	 * be a host process's, and its namespaces ours. */
	for (size_t i = 0; i < CX_ARRAY_LEN(kinds); i++) {
		if (!same_ns_fd(fds[i], kinds[i]) && setns(fds[i], flags[i]) == -1) {
			snprintf(err, errlen, "entering process %d's %s namespace: %s", (int)pid,
			    kinds[i], strerror(errno));
			goto out;
		}
	}
	if (fchdir(rootfd) == -1 || chroot(".") == -1) {
		snprintf(err, errlen, "entering process %d's root: %s", (int)pid, strerror(errno));
		goto out;
	}
	for (int fd = 0; fd <= 2; fd++) {
		struct stat st;

		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fchown(fd, huid, hgid) == -1) {
			snprintf(err, errlen, "giving fd %d to uid %u: %s", fd, (unsigned)huid,
			    strerror(errno));
			goto out;
		}
	}
	if (in_userns) {
		/* Its ids as its user namespace has them. */
		u.uid = huid - uid_base;
		u.gid = hgid - uid_base;
		if (setns(userns, CLONE_NEWUSER) == -1) {
			snprintf(err, errlen, "entering process %d's user namespace: %s", (int)pid,
			    strerror(errno));
			goto out;
		}
		if (become(&u, err, errlen) == -1)
			goto out;
	} else {
		/* A host process of the app: its uid, no capabilities. */
		for (int cap = 0; prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0; cap++)
			;
		if (setgroups(0, NULL) == -1 || setresgid(hgid, hgid, hgid) == -1 ||
		    setresuid(huid, huid, huid) == -1) {
			snprintf(err, errlen, "dropping to uid %u: %s", (unsigned)huid, strerror(errno));
			goto out;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 || fchdir(cwdfd) == -1) {
		snprintf(err, errlen, "no_new_privs or its directory: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < CX_ARRAY_LEN(fds); i++) {
		if (fds[i] != -1)
			close(fds[i]);
	}
	if (userns != -1)
		close(userns);
	if (rootfd != -1)
		close(rootfd);
	if (cwdfd != -1)
		close(cwdfd);
	return rc;
}
