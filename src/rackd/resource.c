/*
 * resource.c — the lifecycle of an app's resources (see resource.h): state
 * files, provisioning, the server's walls, watching and restarting, adoption
 * after a daemon restart, stopping.
 *
 * A resource's life:
 *
 *   (new) --provision--> STOPPED --start--> STARTING --port answers--> RUNNING
 *                           ^                  |                          |
 *                           +---- back-off ----+------- exit -------------+
 *                                 (RESTARTING)
 *
 * Provisioning and the first start block the caller (a promotion): the
 * release's processes need the server up. Later restarts happen on the tick.
 *
 * The walls. On a rack run as root a server runs as its app's uid_base + 1:
 * an id of the app's own range that none of the app's processes has, so they
 * can neither read its files nor signal it, and no other app can either. Its
 * directory (srv/) is bind-mounted on RES_SRV_MOUNT in a private mount
 * namespace (the rack's own directory stays 0700, root's), with /etc/passwd
 * and /etc/group naming that id (initdb and mariadb-install-db want a user
 * name) and a /tmp of its own. No capability, no_new_privs.
 */
#include "rackd/resource.h"
#include "rackd/resource_fw.h"
#include "rackd/resource_kind.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"
#include "rackd/store.h"
#include "rackd/supervisor.h"

#define READY_MS 30000          /* a start must answer on its port within this */
#define PROVISION_MS 120000     /* initdb / mariadb-install-db */
#define STOP_GRACE_MS 10000
#define BACKOFF_MAX_MS 30000
#define UP_RESETS_MS 60000      /* up this long: the back-off starts over */

enum res_state { RES_STOPPED, RES_STARTING, RES_RUNNING, RES_RESTARTING, RES_FAILED };
static const char *const state_names[] = { "stopped", "starting", "running", "restarting",
	"failed" };

struct res {
	char app[32];
	char name[64];
	char type[16];
	const struct res_kind *kind;
	char dir[4096];             /* apps/APP/resources/NAME */
	char bindir[256];           /* the server's binaries */
	char version[32];
	char password[65];
	char host[64];              /* where the app's processes reach it */
	char listen[64];            /* what it binds */
	char netns_id[64];          /* VPC racks: its lab process namespace's id, else "" */
	char url[512];
	int port;
	uint32_t uid;               /* its ids; 0 on an unprivileged rack */
	enum res_state state;
	pid_t pid;                  /* 0 when not running */
	int64_t pid_start;
	bool our_child;
	int64_t started_ms;
	int restarts;
	int64_t next_start;         /* ms, RES_RESTARTING */
	char error[256];
	bool aof_off;               /* redis: the next start loads dump.rdb (an import) */
	char *allowed;              /* namespaced: the addresses last let in, "\n"-separated */
	struct res *next;
};

/* One rack per daemon: its resources, in no order. */
static struct res *all;

static void res_allow_sync(struct rack *r, struct res *x, bool force);

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static void
path_of(const struct res *x, const char *file, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", x->dir, file);
}

/* The server's directory as it sees it. */
static const char *
srv_seen(const struct res *x, char *buf, size_t buflen)
{
	if (x->uid != 0)
		return RES_SRV_MOUNT;
	snprintf(buf, buflen, "%s/srv", x->dir);
	return buf;
}

static int
read_small(const struct res *x, const char *file, char *out, size_t outlen)
{
	char path[4200], *s;
	size_t len;

	path_of(x, file, path, sizeof(path));
	if ((s = read_file(path, 4096, &len)) == NULL)
		return -1;
	s[strcspn(s, "\n")] = '\0';
	str_copy(out, outlen, s);
	free(s);
	return 0;
}

static int
write_small(const struct res *x, const char *file, const char *text)
{
	char path[4200];

	path_of(x, file, path, sizeof(path));
	if (write_file_atomic(path, text, strlen(text), 0600) == -1) {
		log_warn("resource %s/%s: cannot write %s", x->app, x->name, path);
		return -1;
	}
	return 0;
}

static void
set_url(struct res *x)
{
	res_kind_url(x->kind, x->host, x->port, x->password, x->url, sizeof(x->url));
}

static struct res *
res_find(const char *app, const char *name)
{
	for (struct res *x = all; x != NULL; x = x->next)
		if (strcmp(x->app, app) == 0 && strcmp(x->name, name) == 0)
			return x;
	return NULL;
}

static void
gen_password(char *out, size_t outlen)
{
	if (outlen < 33 || random_hex(out, 16) == -1)
		fatal("cannot make a password: no random bytes");
}

/* Where it listens: its own network namespace's address on racks whose
 * processes have namespaces (VPC, host, and loopback racks run as root:
 * lab.h), as one of the app's processes; 127.0.0.1 on an unprivileged
 * loopback rack. */
static int
res_place(struct rack *r, struct res *x, char *err, size_t errlen)
{
	if (r->netns) {
		char addr[64];

		snprintf(x->netns_id, sizeof(x->netns_id), "res-%s-%s", x->app, x->name);
		if (strlen(x->netns_id) > 40)   /* lab process ids are short */
			snprintf(x->netns_id, sizeof(x->netns_id), "res-%.16s-%.16s", x->app, x->name);
		if (lab_app_proc_create(r->home, r->name, x->app, x->netns_id, addr, sizeof(addr),
		    err, errlen) == -1)
			return -1;
		str_copy(x->host, sizeof(x->host), addr);
		str_copy(x->listen, sizeof(x->listen), "0.0.0.0");
		x->port = x->kind->vpc_port;
	} else {
		str_copy(x->host, sizeof(x->host), "127.0.0.1");
		str_copy(x->listen, sizeof(x->listen), "127.0.0.1");
	}
	return 0;
}

/* A /etc/passwd and /etc/group that name the server's id (as "app"). */
static int
write_ids_files(const struct res *x, char *err, size_t errlen)
{
	static const char *const files[][2] = { { "/etc/passwd", "passwd" },
		{ "/etc/group", "group" } };

	for (size_t i = 0; i < CX_ARRAY_LEN(files); i++) {
		size_t len;
		char *host = read_file(files[i][0], 1 << 20, &len), *text, path[4200];

		if (host == NULL)
			FAIL("cannot read %s: %s", files[i][0], strerror(errno));
		if (i == 0)
			text = xasprintf("%s%sapp:x:%u:%u:cx resource:" RES_SRV_MOUNT
			    ":/usr/sbin/nologin\n", host, len > 0 && host[len - 1] != '\n' ? "\n" : "",
			    x->uid, x->uid);
		else
			text = xasprintf("%s%sapp:x:%u:\n", host,
			    len > 0 && host[len - 1] != '\n' ? "\n" : "", x->uid);
		free(host);
		path_of(x, files[i][1], path, sizeof(path));
		if (write_file_atomic(path, text, strlen(text), 0644) == -1) {
			free(text);
			FAIL("cannot write %s: %s", path, strerror(errno));
		}
		free(text);
	}
	return 0;
}

/* The files the server reads at each start, its own (0600). */
static int
write_server_files(const struct res *x, char *err, size_t errlen)
{
	struct res_file f[2];
	char srvbuf[4200], path[4300];
	const char *srv = srv_seen(x, srvbuf, sizeof(srvbuf));
	size_t n;
	int rc = 0;

	res_kind_files(x->kind, srv, x->listen, x->port, x->password, f, &n);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/srv/%s", x->dir, f[i].name);
		if (rc == 0 && (write_file_atomic(path, f[i].content, strlen(f[i].content), 0600) == -1 ||
		    (x->uid != 0 && chown(path, x->uid, x->uid) == -1))) {
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
			rc = -1;
		}
		free(f[i].content);
	}
	return rc;
}

/* In the forked child: the server's walls, then exec cmd. Never returns. */
static void
child_exec(struct rack *r, const struct res *x, const char *cmd)
{
	char err[512], path[4200], srvbuf[4200], env_path[512], env_home[4300];
	const char *srv = srv_seen(x, srvbuf, sizeof(srvbuf));
	char *envp[] = { env_path, env_home, "LANG=C.UTF-8", "LC_ALL=C.UTF-8", NULL };
	int fd;

	setsid();
	/* Its output, for `cx resources info` to point at. */
	snprintf(path, sizeof(path), "%s/srv/log", x->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd != -1) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd != -1)
		dup2(fd, 0);
	if (x->netns_id[0] != '\0') {
		if (lab_enter_proc(r->home, r->name, x->netns_id, err, sizeof(err)) == -1)
			goto fail;
	} else if (x->uid != 0 && (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == -1)) {
		snprintf(err, sizeof(err), "a mount namespace of its own: %s", strerror(errno));
		goto fail;
	}
	if (x->uid != 0) {
		static const char *const ids[][2] = { { "passwd", "/etc/passwd" },
			{ "group", "/etc/group" } };

		snprintf(path, sizeof(path), "%s/srv", x->dir);
		if (mount("tmpfs", "/srv", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") == -1 ||
		    mkdir(RES_SRV_MOUNT, 0755) == -1 ||
		    mount(path, RES_SRV_MOUNT, NULL, MS_BIND, NULL) == -1) {
			snprintf(err, sizeof(err), "mounting %s on " RES_SRV_MOUNT ": %s", path,
			    strerror(errno));
			goto fail;
		}
		for (size_t i = 0; i < CX_ARRAY_LEN(ids); i++) {
			path_of(x, ids[i][0], path, sizeof(path));
			if (mount(path, ids[i][1], NULL, MS_BIND, NULL) == -1) {
				snprintf(err, sizeof(err), "mounting %s on %s: %s", path, ids[i][1],
				    strerror(errno));
				goto fail;
			}
		}
		if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m") == -1) {
			snprintf(err, sizeof(err), "a /tmp of its own: %s", strerror(errno));
			goto fail;
		}
		for (int cap = 0; prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0; cap++)
			;
		if (setgroups(0, NULL) == -1 || setresgid(x->uid, x->uid, x->uid) == -1 ||
		    setresuid(x->uid, x->uid, x->uid) == -1) {
			snprintf(err, sizeof(err), "dropping to uid %u: %s", x->uid, strerror(errno));
			goto fail;
		}
	} else if (geteuid() == 0) {
		snprintf(err, sizeof(err), "refusing to run a resource's server as root");
		goto fail;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 || chdir(srv) == -1) {
		snprintf(err, sizeof(err), "entering %s: %s", srv, strerror(errno));
		goto fail;
	}
	umask(077);
	snprintf(env_path, sizeof(env_path), "PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin", x->bindir);
	snprintf(env_home, sizeof(env_home), "HOME=%s", srv);
	execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, envp);
	snprintf(err, sizeof(err), "exec /bin/sh: %s", strerror(errno));
fail:
	dprintf(2, "cx-rackd: resource %s/%s: %s\n", x->app, x->name, err);
	_exit(127);
}

static pid_t
res_spawn(struct rack *r, const struct res *x, const char *cmd, char *err, size_t errlen)
{
	pid_t pid = fork();

	if (pid == -1)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0)
		child_exec(r, x, cmd);
	return pid;
}

/* The last line of the server's log, for an error message. */
static void
log_tail(const struct res *x, char *out, size_t outlen)
{
	char path[4200], *s, *e;
	size_t len;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/srv/log", x->dir);
	if ((s = read_file(path, 4u << 20, &len)) == NULL)
		return;
	while (len > 0 && s[len - 1] == '\n')
		s[--len] = '\0';
	e = strrchr(s, '\n');
	snprintf(out, outlen, "%.200s", e != NULL ? e + 1 : s);
	free(s);
}

/* Runs the kind's provisioning command and waits for it. */
static int
res_provision(struct rack *r, struct res *x, char *err, size_t errlen)
{
	char srvbuf[4200], *cmd, tail[256];
	int64_t until = now_ms() + PROVISION_MS, t0 = now_ms();
	int status = 0;
	pid_t pid;

	if (write_server_files(x, err, errlen) == -1)
		return -1;
	cmd = res_kind_provision_cmd(x->kind, srv_seen(x, srvbuf, sizeof(srvbuf)));
	if (cmd == NULL) {
		if (write_small(x, "provisioned", "1\n") == -1)
			FAIL("cannot record that it is provisioned");
		return 0;
	}
	pid = res_spawn(r, x, cmd, err, errlen);
	free(cmd);
	if (pid == -1)
		return -1;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > until) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			FAIL("provisioning took more than %d s", PROVISION_MS / 1000);
		}
		usleep(20000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_tail(x, tail, sizeof(tail));
		FAIL("provisioning failed (%s)", tail[0] != '\0' ? tail : "no output");
	}
	log_info("resource %s/%s: provisioned a %s in %.1f s", x->app, x->name, x->type,
	    (double)(now_ms() - t0) / 1000.0);
	if (write_small(x, "provisioned", "1\n") == -1)
		FAIL("cannot record that it is provisioned");
	return 0;
}

/* Whether its server answers as a ready one (resource_kind.c's probe). */
static int
res_connect(struct rack *r, const struct res *x, const struct sockaddr_in *sin)
{
	/* On VPC racks it listens in a namespace on the rack's bridge, which the
	 * host's own network does not reach. */
	return x->netns_id[0] != '\0' && r->vpc ? rack_connect_in_vpc(r, sin, NULL) :
	    net_connect_tcp(sin);
}

static bool
port_answers(struct rack *r, const struct res *x)
{
	struct sockaddr_in sin;
	char addr[96];
	bool ready;
	int fd;

	snprintf(addr, sizeof(addr), "%s:%d", x->host, x->port);
	if (net_parse_addr(addr, &sin) == -1)
		return false;
	fd = res_connect(r, x, &sin);
	if (fd == -1)
		return false;
	ready = res_kind_ready(x->kind, fd, 500);
	close(fd);
	return ready;
}

/* Whether pid is still the process that started at start (clock ticks), and
 * not a zombie: an adopted server's parent (the host's init) may be slow to
 * reap it, or never do it in a container. */
static bool
pid_is(pid_t pid, int64_t start)
{
	char path[64], *s, *p;
	size_t len;
	bool live;

	if (sup_pid_starttime(pid) != start)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((s = read_file(path, 4096, &len)) == NULL)
		return false;
	p = strrchr(s, ')');
	live = p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	free(s);
	return live;
}

/* Whether its server still runs (reaps it if it is our child). */
static bool
res_alive(struct res *x, int *status)
{
	*status = -1;
	if (x->pid <= 0)
		return false;
	if (x->our_child) {
		pid_t w = waitpid(x->pid, status, WNOHANG);

		if (w == x->pid || (w == -1 && errno == ECHILD))
			return false;
		return true;
	}
	return pid_is(x->pid, x->pid_start);
}

/* redis.conf with appendonly no: with an append-only file on, redis would
 * start from that (none, after an import) and ignore dump.rdb. */
static int
aof_off_conf(const struct res *x, char *err, size_t errlen)
{
	char path[4300], *conf, *at;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/srv/redis.conf", x->dir);
	if ((conf = read_file(path, 1 << 16, &len)) == NULL)
		FAIL("cannot read %s: %s", path, strerror(errno));
	if ((at = strstr(conf, "appendonly yes")) != NULL)
		memcpy(at, "appendonly no ", 14);
	rc = write_file_atomic(path, conf, len, 0600);
	free(conf);
	if (rc == -1 || chown(path, x->uid, x->uid) == -1)
		FAIL("cannot write %s: %s", path, strerror(errno));
	return 0;
}

static int
res_start(struct rack *r, struct res *x, char *err, size_t errlen)
{
	char srvbuf[4200], *cmd, line[64];

	if (write_server_files(x, err, errlen) == -1 || (x->aof_off && aof_off_conf(x, err,
	    errlen) == -1))
		return -1;
	cmd = res_kind_start_cmd(x->kind, srv_seen(x, srvbuf, sizeof(srvbuf)), x->listen, x->port);
	x->pid = res_spawn(r, x, cmd, err, errlen);
	free(cmd);
	if (x->pid == -1) {
		x->pid = 0;
		return -1;
	}
	x->our_child = true;
	x->pid_start = sup_pid_starttime(x->pid);
	x->started_ms = now_ms();
	x->state = RES_STARTING;
	snprintf(line, sizeof(line), "%d %lld\n", (int)x->pid, (long long)x->pid_start);
	write_small(x, "pid", line);
	log_info("resource %s/%s: started %s (pid %d, %s:%d)", x->app, x->name, x->type,
	    (int)x->pid, x->host, x->port);
	res_allow_sync(r, x, true);
	return 0;
}

/* After a start: waits until its port answers. */
static int
res_wait_ready(struct rack *r, struct res *x, char *err, size_t errlen)
{
	int64_t until = now_ms() + READY_MS;
	char tail[256];
	int status;

	while (now_ms() < until) {
		if (!res_alive(x, &status)) {
			x->pid = 0;
			log_tail(x, tail, sizeof(tail));
			FAIL("its server exited at start (%s)", tail[0] != '\0' ? tail : "no output");
		}
		if (port_answers(r, x)) {
			x->state = RES_RUNNING;
			x->error[0] = '\0';
			return 0;
		}
		usleep(20000);
	}
	FAIL("its server does not answer on %s:%d after %d s", x->host, x->port, READY_MS / 1000);
}

/* Stops its server: SIGTERM (postgres: SIGINT, its fast shutdown), SIGKILL
 * after STOP_GRACE_MS. */
static void
res_stop(struct res *x)
{
	int64_t until = now_ms() + STOP_GRACE_MS;
	int sig = strcmp(x->type, "postgres") == 0 ? SIGINT : SIGTERM, status;
	char path[4200];

	if (x->pid > 0 && res_alive(x, &status)) {
		kill(x->pid, sig);
		while (res_alive(x, &status) && now_ms() < until)
			usleep(20000);
		if (res_alive(x, &status)) {
			kill(-x->pid, SIGKILL);
			kill(x->pid, SIGKILL);
			if (x->our_child)
				waitpid(x->pid, NULL, 0);
		}
		log_info("resource %s/%s: stopped (pid %d)", x->app, x->name, (int)x->pid);
	}
	x->pid = 0;
	x->state = RES_STOPPED;
	path_of(x, "pid", path, sizeof(path));
	unlink(path);
}

static void
res_free(struct rack *r, struct res *x)
{
	if (x->netns_id[0] != '\0')
		lab_proc_destroy(r->home, r->name, x->netns_id);
	free(x->allowed);
	free(x);
}

/* Loads what dir holds into a new res (NULL, logged, if it is unreadable). */
static struct res *
res_load(const char *app, const char *name, const char *dir)
{
	struct res *x = xcalloc(1, sizeof(*x));
	char buf[64], err[512];
	long n;

	str_copy(x->app, sizeof(x->app), app);
	str_copy(x->name, sizeof(x->name), name);
	str_copy(x->dir, sizeof(x->dir), dir);
	if (read_small(x, "type", x->type, sizeof(x->type)) == -1 ||
	    (x->kind = res_kind_find(x->type)) == NULL ||
	    read_small(x, "password", x->password, sizeof(x->password)) == -1 ||
	    read_small(x, "port", buf, sizeof(buf)) == -1 || parse_int(buf, 1, 65535, &x->port) == -1 ||
	    read_small(x, "uid", buf, sizeof(buf)) == -1 ||
	    parse_long(buf, 0, 0xffffffffL, &n) == -1) {
		log_warnx("resource %s/%s: %s is incomplete; leaving it alone", app, name, dir);
		free(x);
		return NULL;
	}
	x->uid = (uint32_t)n;
	read_small(x, "host", x->host, sizeof(x->host));
	read_small(x, "listen", x->listen, sizeof(x->listen));
	read_small(x, "netns", x->netns_id, sizeof(x->netns_id));
	if (res_kind_locate(x->kind, x->bindir, sizeof(x->bindir), x->version, sizeof(x->version),
	    err, sizeof(err)) == -1) {
		x->state = RES_FAILED;
		str_copy(x->error, sizeof(x->error), err);
	}
	set_url(x);
	return x;
}

/* A new resource: its directories, password, port and ids, recorded. */
static struct res *
res_create(struct rack *r, const char *app, uint32_t uid_base, const struct mf_resource *mr,
    const struct res_kind *k, char *err, size_t errlen)
{
	struct res *x = xcalloc(1, sizeof(*x));
	char path[4200], buf[64];

	str_copy(x->app, sizeof(x->app), app);
	str_copy(x->name, sizeof(x->name), mr->name);
	str_copy(x->type, sizeof(x->type), mr->type);
	x->kind = k;
	x->uid = uid_base != 0 ? uid_base + 1 : 0;
	snprintf(x->dir, sizeof(x->dir), "%s/apps/%s/resources/%s", r->dir, app, mr->name);
	if (res_kind_locate(k, x->bindir, sizeof(x->bindir), x->version, sizeof(x->version), err,
	    errlen) == -1)
		goto fail;
	snprintf(path, sizeof(path), "%s/srv", x->dir);
	remove_tree(x->dir);        /* what a provisioning cut short left */
	if (mkdir_p(path, 0700) == -1 || (x->uid != 0 && chown(path, x->uid, x->uid) == -1)) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		goto fail;
	}
	if (res_place(r, x, err, errlen) == -1)
		goto fail;
	if (!r->netns && (x->port = net_free_port()) <= 0) {
		snprintf(err, errlen, "no free port on 127.0.0.1");
		goto fail;
	}
	gen_password(x->password, sizeof(x->password));
	if (x->uid != 0 && write_ids_files(x, err, errlen) == -1)
		goto fail;
	snprintf(buf, sizeof(buf), "%d\n", x->port);
	if (write_small(x, "password", x->password) == -1 || write_small(x, "port", buf) == -1 ||
	    write_small(x, "host", x->host) == -1 || write_small(x, "listen", x->listen) == -1 ||
	    write_small(x, "netns", x->netns_id) == -1) {
		snprintf(err, errlen, "cannot record it under %s", x->dir);
		goto fail;
	}
	snprintf(buf, sizeof(buf), "%u\n", x->uid);
	/* type last: a directory without it is a creation cut short. */
	if (write_small(x, "uid", buf) == -1 || write_small(x, "type", x->type) == -1) {
		snprintf(err, errlen, "cannot record it under %s", x->dir);
		goto fail;
	}
	set_url(x);
	return x;
fail:
	res_free(r, x);
	return NULL;
}

/* Whether pid has entered a network namespace other than ours: a server
 * just forked has not yet, and rules written through its pid then would be
 * the host's. */
static bool
in_own_netns(pid_t pid)
{
	char path[64];
	struct stat theirs, ours;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	return stat(path, &theirs) == 0 && stat("/proc/self/ns/net", &ours) == 0 &&
	    (theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev);
}

/* A namespaced server's wall: its app's processes' addresses and the
 * rack's own (the daemon's probes, from the bridge's gateway), applied when
 * they changed (or always, with force: a new server). */
static void
res_allow_sync(struct rack *r, struct res *x, bool force)
{
	struct app *a = rack_app_find(r, x->app);
	char *addrs[257], err[512];
	size_t n = 0;
	struct buf b;

	/* No app yet (the daemon's start, before reconcile_init): the rules the
	 * namespace kept from the last daemon stand until the tick. */
	if (x->netns_id[0] == '\0' || x->pid <= 0 || a == NULL || !in_own_netns(x->pid))
		return;
	buf_init(&b, 0);
	if (r->gateway_addr[0] != '\0')
		addrs[n++] = r->gateway_addr;
	for (struct proc *p = a != NULL ? a->procs : NULL; p != NULL && n < 256; p = p->next)
		if (p->st.address[0] != '\0' && strcmp(p->st.address, "127.0.0.1") != 0)
			addrs[n++] = p->st.address;
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s\n", addrs[i]);
	if (!force && x->allowed != NULL && strcmp(x->allowed, buf_cstr(&b)) == 0) {
		buf_free(&b);
		return;
	}
	if (resource_fw_allow(x->pid, x->port, addrs, n, err, sizeof(err)) == -1) {
		log_warnx("resource %s/%s: cannot wall off its port: %s", x->app, x->name, err);
		buf_free(&b);
		return;
	}
	free(x->allowed);
	x->allowed = xstrdup(buf_cstr(&b));
	buf_free(&b);
}

static void
res_fw_sync(struct rack *r)
{
	struct resource_fw_rule rules[256];
	size_t n = 0;
	char err[512];

	for (struct res *x = all; x != NULL && n < CX_ARRAY_LEN(rules); x = x->next) {
		if (x->uid == 0 || x->netns_id[0] != '\0')
			continue;
		/* The app's range: its processes (uid_base) and the server itself. */
		rules[n++] = (struct resource_fw_rule){ .port = x->port, .uid_first = x->uid - 1,
			.uid_last = x->uid - 1 + 65535 };
	}
	if (resource_fw_apply(r->name, rules, n, err, sizeof(err)) == -1)
		log_warnx("resources: cannot wall off their ports from other apps: %s", err);
}

int
resource_app_ensure(struct rack *r, const char *app, uint32_t uid_base,
    const struct manifest *m, char *err, size_t errlen)
{
	bool changed = false;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < m->nresources; i++) {
		const struct mf_resource *mr = &m->resources[i];
		const struct res_kind *k = res_kind_find(mr->type);
		struct res *x = res_find(app, mr->name);
		char e[512];
		int64_t t0 = now_ms();

		if (k == NULL)
			continue;       /* a volume: the manifest refuses it where it is used */
		if (geteuid() == 0 && uid_base == 0) {
			snprintf(err, errlen, "resource %s: app %s has no ids of its own, so its "
			    "server cannot run", mr->name, app);
			rc = -1;
			break;
		}
		if (x != NULL && x->kind != k && strcmp(x->kind->package, k->package) != 0) {
			snprintf(err, errlen, "resource %s is a %s; its type cannot change to %s (its "
			    "data is a %s's): give the new one another name", mr->name, x->type,
			    mr->type, x->type);
			rc = -1;
			break;
		}
		if (x == NULL) {
			if ((x = res_create(r, app, uid_base, mr, k, e, sizeof(e))) == NULL) {
				snprintf(err, errlen, "resource %s: %s", mr->name, e);
				rc = -1;
				break;
			}
			x->next = all;
			all = x;
			changed = true;
		}
		if (x->state == RES_RUNNING || x->state == RES_STARTING ||
		    x->state == RES_RESTARTING)
			continue;           /* the tick brings a restarting one back */
		{
			char flag[8];

			if (read_small(x, "provisioned", flag, sizeof(flag)) == -1 &&
			    res_provision(r, x, e, sizeof(e)) == -1)
				goto failed;
		}
		if (res_start(r, x, e, sizeof(e)) == -1 || res_wait_ready(r, x, e, sizeof(e)) == -1)
			goto failed;
		log_info("resource %s/%s: ready in %.1f s", app, mr->name,
		    (double)(now_ms() - t0) / 1000.0);
		changed = true;
		continue;
failed:
		res_stop(x);
		x->state = RES_FAILED;
		str_copy(x->error, sizeof(x->error), e);
		snprintf(err, errlen, "resource %s (%s): %s", mr->name, mr->type, e);
		rc = -1;
	}
	if (changed)
		res_fw_sync(r);
	return rc;
}

static bool
env_has(char *const *env, const char *key)
{
	size_t n = strlen(key);

	for (char *const *e = env; e != NULL && *e != NULL; e++)
		if (strncmp(*e, key, n) == 0 && (*e)[n] == '=')
			return true;
	return false;
}

char **
resource_env(struct rack *r, const char *app, const struct mf_service *s, char *const *app_env)
{
	size_t n = 0, cap = s->nresources + 1;
	char **env;

	/* The process about to start has its address: let it in first. */
	for (struct res *x = all; r != NULL && x != NULL; x = x->next)
		if (strcmp(x->app, app) == 0)
			res_allow_sync(r, x, false);
	for (char *const *e = app_env; e != NULL && *e != NULL; e++)
		cap++;
	env = xcalloc(cap, sizeof(*env));
	for (char *const *e = app_env; e != NULL && *e != NULL; e++)
		env[n++] = xstrdup(*e);
	for (size_t i = 0; i < s->nresources; i++) {
		struct res *x = res_find(app, s->resources[i].name);

		if (x != NULL && !env_has(app_env, s->resources[i].env))
			env[n++] = xasprintf("%s=%s", s->resources[i].env, x->url);
	}
	env[n] = NULL;
	return env;
}

void
resource_env_free(char **env)
{
	if (env == NULL)
		return;
	for (char **e = env; *e != NULL; e++)
		free(*e);
	free(env);
}

static void
res_unlink(struct rack *r, struct res *x)
{
	for (struct res **px = &all; *px != NULL; px = &(*px)->next) {
		if (*px == x) {
			*px = x->next;
			break;
		}
	}
	res_free(r, x);
}

void
resource_app_delete(struct rack *r, const char *app)
{
	bool any = false;

	for (struct res *x = all, *next; x != NULL; x = next) {
		next = x->next;
		if (strcmp(x->app, app) != 0)
			continue;
		res_stop(x);
		log_info("resource %s/%s: deleted with its app", x->app, x->name);
		res_unlink(r, x);
		any = true;
	}
	if (any)
		res_fw_sync(r);
}

void
resource_stop_all(struct rack *r)
{
	for (struct res *x = all, *next; x != NULL; x = next) {
		next = x->next;
		res_stop(x);
		res_unlink(r, x);
	}
	resource_fw_apply(r->name, NULL, 0, NULL, 0);
}

/* Adopts x's server if its pid file names a process that still is it. */
static bool
res_adopt(struct res *x)
{
	char line[64], *sp;
	int pid;
	long long start;

	if (read_small(x, "pid", line, sizeof(line)) == -1 || (sp = strchr(line, ' ')) == NULL)
		return false;
	*sp = '\0';
	if (parse_int(line, 1, 1 << 30, &pid) == -1 || sscanf(sp + 1, "%lld", &start) != 1)
		return false;
	if (!pid_is(pid, start))
		return false;
	x->pid = pid;
	x->pid_start = start;
	x->our_child = false;
	x->state = RES_RUNNING;
	x->started_ms = now_ms();
	log_info("resource %s/%s: adopted its server (pid %d)", x->app, x->name, pid);
	return true;
}

void
resource_init(struct rack *r)
{
	char path[4200];
	DIR *d, *rd;
	struct dirent *de, *re;

	snprintf(path, sizeof(path), "%s/apps", r->dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char rpath[4400];
		struct st_app sa;
		bool gone;

		if (de->d_name[0] == '.')
			continue;
		snprintf(rpath, sizeof(rpath), "%s/apps/%s/resources", r->dir, de->d_name);
		if ((rd = opendir(rpath)) == NULL)
			continue;
		/* Its app deleted while no daemon ran: its servers stop (reconcile_init
		 * removes the directory). */
		gone = store_app_get(r->store, de->d_name, &sa) == -1;
		while ((re = readdir(rd)) != NULL) {
			char dir[4700], flag[8], err[512];
			struct res *x;

			if (re->d_name[0] == '.')
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", rpath, re->d_name);
			if ((x = res_load(de->d_name, re->d_name, dir)) == NULL)
				continue;
			if (gone) {
				if (res_adopt(x))
					res_stop(x);
				res_free(r, x);
				continue;
			}
			x->next = all;
			all = x;
			if (x->state == RES_FAILED)
				continue;
			if (res_adopt(x))
				continue;
			if (read_small(x, "provisioned", flag, sizeof(flag)) == -1) {
				/* Cut short: the next promotion provisions it again. */
				x->state = RES_STOPPED;
				continue;
			}
			if (x->netns_id[0] != '\0' && lab_app_proc_create(r->home, r->name, x->app,
			    x->netns_id, x->host, sizeof(x->host), err, sizeof(err)) == -1) {
				x->state = RES_FAILED;
				str_copy(x->error, sizeof(x->error), err);
				continue;
			}
			/* Not blocking the daemon's start: the tick sees it answer. */
			if (res_start(r, x, err, sizeof(err)) == -1) {
				x->state = RES_RESTARTING;
				x->next_start = now_ms() + 1000;
				str_copy(x->error, sizeof(x->error), err);
			}
		}
		closedir(rd);
	}
	closedir(d);
	res_fw_sync(r);
}

void
resource_tick(struct rack *r)
{
	int64_t now = now_ms();

	for (struct res *x = all; x != NULL; x = x->next) {
		char err[512];
		int status;

		res_allow_sync(r, x, false);    /* processes that went */
		switch (x->state) {
		case RES_STARTING:
		case RES_RUNNING:
			if (!res_alive(x, &status)) {
				int64_t delay = 1000;

				if (now - x->started_ms > UP_RESETS_MS)
					x->restarts = 0;
				for (int i = 0; i < x->restarts && delay < BACKOFF_MAX_MS; i++)
					delay *= 2;
				if (delay > BACKOFF_MAX_MS)
					delay = BACKOFF_MAX_MS;
				if (status == -1)
					snprintf(x->error, sizeof(x->error), "its server (pid %d) exited",
					    (int)x->pid);
				else if (WIFSIGNALED(status))
					snprintf(x->error, sizeof(x->error), "its server (pid %d) was "
					    "killed by signal %d", (int)x->pid, WTERMSIG(status));
				else
					snprintf(x->error, sizeof(x->error), "its server (pid %d) exited "
					    "with status %d", (int)x->pid, WEXITSTATUS(status));
				log_warnx("resource %s/%s: %s; starting it again in %lld ms", x->app,
				    x->name, x->error, (long long)delay);
				x->restarts++;
				x->pid = 0;
				x->state = RES_RESTARTING;
				x->next_start = now + delay;
			} else if (x->state == RES_STARTING && port_answers(r, x)) {
				x->state = RES_RUNNING;
			} else if (x->state == RES_STARTING && now - x->started_ms > READY_MS) {
				log_warnx("resource %s/%s: no answer on %s:%d after %d s; stopping it",
				    x->app, x->name, x->host, x->port, READY_MS / 1000);
				res_stop(x);
				x->state = RES_RESTARTING;
				x->next_start = now + BACKOFF_MAX_MS;
			}
			break;
		case RES_RESTARTING:
			if (now < x->next_start)
				break;
			if (res_start(r, x, err, sizeof(err)) == -1) {
				str_copy(x->error, sizeof(x->error), err);
				x->next_start = now + BACKOFF_MAX_MS;
			}
			break;
		default:
			break;
		}
	}
}

static void
res_info(const struct res *x, struct resource_info *ri)
{
	*ri = (struct resource_info){ .app = x->app, .name = x->name, .type = x->type,
		.url = x->url, .status = state_names[x->state], .error = x->error,
		.version = x->version, .dir = x->dir, .pid = x->pid, .port = x->port,
		.restarts = x->restarts, .uid = x->uid, .host = x->host };
}

static int
res_cmp(const void *a, const void *b)
{
	const struct res *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

size_t
resource_each(struct rack *r, const char *app,
    void (*fn)(const struct resource_info *ri, void *arg), void *arg)
{
	struct res **v;
	size_t n = 0, i = 0;

	(void)r;
	for (struct res *x = all; x != NULL; x = x->next)
		if (strcmp(x->app, app) == 0)
			n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (struct res *x = all; x != NULL; x = x->next)
		if (strcmp(x->app, app) == 0)
			v[i++] = x;
	qsort(v, n, sizeof(*v), res_cmp);
	for (i = 0; i < n; i++) {
		struct resource_info ri;

		res_info(v[i], &ri);
		fn(&ri, arg);
	}
	free(v);
	return n;
}

int
resource_get(struct rack *r, const char *app, const char *name, struct resource_info *out)
{
	struct res *x = res_find(app, name);

	(void)r;
	if (x == NULL)
		return -1;
	res_info(x, out);
	return 0;
}

/* Sends AUTH and one command to x's redis; 0 if both answer +OK. */
static int
redis_command(struct rack *r, const struct res *x, const char *cmd, char *err, size_t errlen)
{
	struct sockaddr_in sin;
	char addr[96], *req, got[256];
	size_t n = 0;
	int fd, oks = 0;
	int64_t until = now_ms() + 5000;

	snprintf(addr, sizeof(addr), "%s:%d", x->host, x->port);
	if (net_parse_addr(addr, &sin) == -1 || (fd = res_connect(r, x, &sin)) == -1)
		FAIL("cannot connect to %s", addr);
	req = xasprintf("AUTH %s\r\n%s\r\n", x->password, cmd);
	set_nonblock(fd);
	for (size_t off = 0, len = strlen(req); off < len && now_ms() < until;) {
		ssize_t w = write(fd, req + off, len - off);

		if (w > 0)
			off += (size_t)w;
		else
			usleep(10000);
	}
	free(req);
	while (oks < 2 && n < sizeof(got) - 1 && now_ms() < until) {
		ssize_t got_n = read(fd, got + n, sizeof(got) - 1 - n);

		if (got_n == 0)
			break;
		if (got_n < 0) {
			usleep(10000);
			continue;
		}
		n += (size_t)got_n;
		got[n] = '\0';
		oks = 0;
		for (char *p = got; (p = strstr(p, "+OK\r\n")) != NULL; p += 5)
			oks++;
	}
	close(fd);
	if (oks < 2) {
		got[n] = '\0';
		got[strcspn(got, "\r\n")] = '\0';
		FAIL("redis answered \"%s\" to %s", got, cmd);
	}
	return 0;
}

int
resource_redis_import(struct rack *r, const char *app, const char *name, const char *path,
    char *err, size_t errlen)
{
	struct res *x = res_find(app, name);
	char dst[4300], magic[5];
	int in, out = -1, rc = -1;

	if (x == NULL)
		FAIL("no such resource: %s", name);
	if (strcmp(x->type, "redis") != 0)
		FAIL("resource %s is a %s: its dumps are loaded by its client, not as an RDB file",
		    name, x->type);
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		FAIL("cannot open the upload: %s", strerror(errno));
	if (read(in, magic, 5) != 5 || memcmp(magic, "REDIS", 5) != 0) {
		close(in);
		FAIL("not an RDB file (it starts with REDIS; cx resources export gives one)");
	}
	lseek(in, 0, SEEK_SET);
	res_stop(x);
	snprintf(dst, sizeof(dst), "%s/srv/data/appendonlydir", x->dir);
	remove_tree(dst);
	snprintf(dst, sizeof(dst), "%s/srv/data/dump.rdb", x->dir);
	unlink(dst);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out == -1 || (x->uid != 0 && fchown(out, x->uid, x->uid) == -1)) {
		snprintf(err, errlen, "cannot write %s: %s", dst, strerror(errno));
		goto out;
	}
	for (;;) {
		char buf[65536];
		ssize_t n = read(in, buf, sizeof(buf));

		if (n == 0)
			break;
		if (n < 0 || write(out, buf, (size_t)n) != n) {
			snprintf(err, errlen, "cannot copy the upload to %s: %s", dst, strerror(errno));
			goto out;
		}
	}
	if (fsync(out) == -1) {
		snprintf(err, errlen, "fsync %s: %s", dst, strerror(errno));
		goto out;
	}
	x->aof_off = true;
	if (res_start(r, x, err, errlen) == -1 || res_wait_ready(r, x, err, errlen) == -1)
		goto out;
	/* Its append-only file on again, rewritten from what it loaded. */
	if (redis_command(r, x, "CONFIG SET appendonly yes", err, errlen) == -1)
		goto out;
	log_info("resource %s/%s: loaded an RDB file", app, name);
	rc = 0;
out:
	x->aof_off = false;
	if (rc == -1 && x->pid == 0) {
		x->state = RES_RESTARTING;
		x->next_start = now_ms() + 1000;
	}
	close(in);
	if (out != -1)
		close(out);
	return rc;
}
