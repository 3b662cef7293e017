/*
 * sandbox.c — see sandbox.h.
 *
 * The order in sandbox_enter matters: namespaces and mounts need root, so
 * they come first; the stdio pipes are given to the app's ids while we may
 * still chown them (so that the app can open /dev/stdout and /dev/stderr,
 * as Apache's `ErrorLog /dev/stderr` does); the ids are dropped last, group
 * before user, and no_new_privs keeps a setuid binary from taking them back.
 */
#include "rackd/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/idrange.h"
#include "rackd/image.h"
#include "rackd/rack.h"
#include "rackd/rootfs.h"

#define SANDBOX_ROOT "/srv"
/* Upper bounds: tmpfs takes memory only as it is written. */
#define SRV_OPTS "mode=0755,size=16m"
#define TMP_OPTS "mode=1777,size=256m"
/* Every directory of the host that anyone may write to: each process gets
 * its own, so that nothing passes between apps through them. */
static const char *const shared_dirs[] = { "/tmp", "/var/tmp", "/dev/shm", "/run/lock",
	"/var/crash" };

bool
sandbox_privileged(void)
{
	return geteuid() == 0;
}

void
sandbox_dir(const struct sandbox *sb, char *out, size_t outlen)
{
	const char *top = sb->uid_base != 0 ? SANDBOX_APP_DIR : sb->build_dir;

	snprintf(out, outlen, "%s%s%s", top, sb->workdir[0] != '\0' ? "/" : "", sb->workdir);
}

const char *
sandbox_home(const struct sandbox *sb)
{
	return sb->uid_base != 0 ? SANDBOX_HOME : "/tmp";
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

/* A fresh tmpfs on dir, if dir exists (a host without /var/tmp keeps none). */
static int
private_tmp(const char *dir, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode))
		return 0;
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, TMP_OPTS) == -1)
		FAIL("mounting a private %s: %s", dir, strerror(errno));
	return 0;
}

static int
build_view(const struct sandbox *sb, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	unsigned long ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
	struct stat st;

	if (mount("tmpfs", SANDBOX_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, SRV_OPTS) == -1)
		FAIL("mounting a tmpfs on " SANDBOX_ROOT ": %s", strerror(errno));
	if (mkdir(SANDBOX_APP_DIR, 0755) == -1 || mkdir(SANDBOX_HOME, 0700) == -1 ||
	    chown(SANDBOX_HOME, uid, gid) == -1)
		FAIL("preparing " SANDBOX_ROOT ": %s", strerror(errno));
	if (mount(sb->build_dir, SANDBOX_APP_DIR, NULL, MS_BIND | MS_REC, NULL) == -1 ||
	    mount(NULL, SANDBOX_APP_DIR, NULL, ro, NULL) == -1)
		FAIL("bind-mounting %s read-only on " SANDBOX_APP_DIR ": %s", sb->build_dir,
		    strerror(errno));
	for (size_t i = 0; i < CX_ARRAY_LEN(shared_dirs); i++) {
		if (private_tmp(shared_dirs[i], err, errlen) == -1)
			return -1;
	}
	/* The queues of its own IPC namespace, where a host shows them. */
	if (stat("/dev/mqueue", &st) == 0 && S_ISDIR(st.st_mode) &&
	    mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == -1)
		FAIL("mounting a private /dev/mqueue: %s", strerror(errno));
	return 0;
}

/* Its own namespaces before its root: the lab's network namespace (with
 * its resolver on /etc/resolv.conf) or a private mount namespace alone. */
static int
enter_namespaces(const struct sandbox *sb, char *err, size_t errlen)
{
	if (sb->proc_id != NULL) {
		if (lab_enter_proc(sb->home, sb->rack, sb->proc_id, err, errlen) == -1)
			return -1;
	} else {
		if (unshare(CLONE_NEWNS) == -1)
			FAIL("unshare(CLONE_NEWNS): %s", strerror(errno));
		/* Our mounts must not leak back into the host's mount namespace. */
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == -1)
			FAIL("making / a slave mount: %s", strerror(errno));
	}
	/* System V IPC and POSIX message queues of its own. */
	if (unshare(CLONE_NEWIPC) == -1)
		FAIL("unshare(CLONE_NEWIPC): %s", strerror(errno));
	/* PID 1 of a PID namespace of its own (supervisor.c): a /proc of that
	 * namespace, where its pids mean what its processes (and the user
	 * namespace's helper, rootfs.c) take them to. */
	if (getpid() == 1 && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL) == -1)
		FAIL("mounting its PID namespace's /proc: %s", strerror(errno));
	return 0;
}

int
sandbox_enter(const struct sandbox *sb, char *err, size_t errlen)
{
	uid_t uid = (uid_t)sb->uid_base;
	gid_t gid = (gid_t)sb->uid_base;
	char dir[4096];
	int dfd;

	if ((sb->uid_base != 0 || sb->proc_id != NULL) && enter_namespaces(sb, err, errlen) == -1)
		return -1;
	if (sb->uid_base != 0) {
		if (build_view(sb, uid, gid, err, errlen) == -1)
			return -1;
		for (int fd = 0; fd <= 2; fd++) {
			struct stat st;

			/* Anonymous pipes (the daemon's, or checked by api_run to be) become
			 * the app's; /dev/null stays root's. */
			if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fchown(fd, uid, gid) == -1)
				FAIL("giving fd %d to uid %u: %s", fd, (unsigned)uid, strerror(errno));
		}
		/* No capability can come back, even through a file's. */
		for (int cap = 0; prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0; cap++)
			;
		if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			FAIL("dropping to uid %u: %s", (unsigned)uid, strerror(errno));
	} else if (sandbox_privileged()) {
		FAIL("refusing to run an app process as root: its app has no ids of its own");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		FAIL("no_new_privs: %s", strerror(errno));
	umask(022);
	sandbox_dir(sb, dir, sizeof(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1 || fchdir(dfd) == -1)
		FAIL("cannot enter %s: %s", dir, strerror(errno));
	close(dfd);
	return 0;
}

/* In a network namespace of its own, the image's root (uid_base outside,
 * not root of the host) may bind port 80, as in a container. */
static int
open_low_ports(char *err, size_t errlen)
{
	int fd = open("/proc/sys/net/ipv4/ip_unprivileged_port_start", O_WRONLY | O_CLOEXEC);

	if (fd == -1 || write(fd, "0\n", 2) != 2) {
		snprintf(err, errlen, "setting net.ipv4.ip_unprivileged_port_start=0 in its network"
		    " namespace: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The layers of image id as a previous start listed them in cache (one
 * directory a line), if every one is still there; NULL otherwise. */
static char **
cached_layers(const char *cache)
{
	char *text = read_file(cache, 65536, NULL), *save = NULL;
	char **v = NULL;
	size_t n = 0;
	struct stat st;

	if (text == NULL)
		return NULL;
	v = xcalloc(1, sizeof(*v));
	for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		if (l[0] != '/' || stat(l, &st) == -1 || !S_ISDIR(st.st_mode)) {
			rootfs_strv_free(v);
			free(text);
			return NULL;
		}
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = xstrdup(l);
		v[n] = NULL;
	}
	free(text);
	if (n == 0) {
		free(v);
		return NULL;
	}
	return v;
}

/* The image's layers: from the cache (an image id's layers never change),
 * else from the builder (a podman call, a few hundred ms), then cached. */
static int
image_layer_dirs(const struct sandbox_image *im, char ***layers, char *err, size_t errlen)
{
	struct buf b;

	if (im->layers_cache != NULL && (*layers = cached_layers(im->layers_cache)) != NULL)
		return 0;
	if (image_layers(im->ref, layers, err, errlen) == -1)
		return -1;
	if (im->layers_cache == NULL)
		return 0;
	buf_init(&b, 0);
	for (size_t i = 0; (*layers)[i] != NULL; i++)
		buf_addf(&b, "%s\n", (*layers)[i]);
	if (write_file_atomic(im->layers_cache, b.data, b.len, 0600) == -1)
		log_warn("cannot cache the layers of %s in %s", im->ref, im->layers_cache);
	buf_free(&b);
	return 0;
}

int
sandbox_enter_image(const struct sandbox *sb, struct rootfs_user *u, char *err, size_t errlen)
{
	const struct sandbox_image *im = sb->image;
	struct rootfs_spec spec;
	char **layers = NULL;
	int rc;

	if (sb->uid_base == 0)
		FAIL("a process from an image needs a rack run as root (the app's own ids)");
	if (image_layer_dirs(im, &layers, err, errlen) == -1)
		return -1;
	rc = enter_namespaces(sb, err, errlen);
	if (rc == 0 && sb->proc_id != NULL)
		rc = open_low_ports(err, errlen);
	if (rc == 0) {
		spec = (struct rootfs_spec){ .layers = layers, .proc_dir = im->proc_dir,
			.uid_base = sb->uid_base, .hostname = sb->name, .address = im->address,
			.workdir = im->config->workdir, .user = im->config->user };
		rc = rootfs_enter(&spec, u, err, errlen);
	}
	rootfs_strv_free(layers);
	return rc;
}

int
sandbox_claim_ids(struct rack *r, const char *app, uint32_t want, uint32_t *base, char *err,
    size_t errlen)
{
	char dir[4096];

	*base = 0;
	if (!sandbox_privileged())
		return 0;
	char real[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/apps/%s", r->dir, app);
	if (mkdir_p(dir, 0700) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	/* One spelling of the owner, however --home was written. */
	if (realpath(dir, real) == NULL) {
		snprintf(err, errlen, "cannot resolve %s: %s", dir, strerror(errno));
		return -1;
	}
	return idrange_claim(IDRANGE_DIR, real, want, base, err, errlen);
}

/* SIGKILL to every process running as uid: what an app's processes left
 * behind, even in sessions of their own, goes before its ids do. As that
 * uid, kill(-1) reaches exactly those (and not the caller). */
static void
kill_all_as(uid_t uid)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (setgroups(0, NULL) == -1 || setresgid(uid, uid, uid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			_exit(1);
		kill(-1, SIGKILL);
		_exit(0);
	}
	if (pid == -1 || waitpid(pid, NULL, 0) == -1)
		log_warn("cannot stop what still runs as uid %u", (unsigned)uid);
}

void
sandbox_release_ids(struct rack *r, const char *app, uint32_t base)
{
	char dir[4096], real[PATH_MAX], err[512];

	if (base == 0)
		return;
	kill_all_as(base);
	snprintf(dir, sizeof(dir), "%s/apps/%s", r->dir, app);
	/* Its directory may be gone already (then its entry is free anyway). */
	if (realpath(dir, real) == NULL)
		return;
	if (idrange_release(IDRANGE_DIR, real, base, err, sizeof(err)) == -1)
		log_warnx("app %s: cannot hand back ids %u-%u: %s", app, base,
		    base + IDRANGE_SIZE - 1, err);
}
