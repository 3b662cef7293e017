/*
 * cx-rackd — the rack daemon: one per rack, the only writer of its state.
 *
 *   cx-rackd --home DIR --rack NAME [--daemon] [--no-keeper] [--verbose]
 *
 * With --daemon it detaches (setsid, output to rackd.log) and returns once
 * the API answers, or prints why it could not start. SIGTERM stops the daemon
 * but leaves apps and routers running; the next daemon adopts them. Unless
 * --no-keeper (a service manager keeps it instead), the daemon runs under a
 * keeper (keeper.c) that starts it again after kill -9 or a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/logfile.h"
#include "common/net.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/kdeploy.h"
#include "rackd/acme.h"
#include "rackd/access.h"
#include "rackd/api.h"
#include "rackd/appexport.h"
#include "rackd/build.h"
#include "rackd/ca.h"
#include "rackd/discovery.h"
#include "rackd/health.h"
#include "rackd/disk.h"
#include "rackd/keeper.h"
#include "rackd/peers.h"
#include "rackd/rack.h"
#include "rackd/cgroup.h"
#include "rackd/params.h"
#include "rackd/reconcile.h"
#include "rackd/resource.h"
#include "rackd/routers.h"
#include "rackd/sandbox.h"
#include "rackd/supervisor.h"
#include "rackd/timers.h"

/* The daemon's clock: what time alone moves on (kill deadlines, back-offs,
 * drains, promotion deadlines, timers, router restarts). */
#define TICK_MS 200

static void
usage(void)
{
	fprintf(stderr, "usage: cx-rackd --home DIR --rack NAME [--daemon] [--no-keeper] "
	    "[--verbose]\n");
	exit(2);
}

static void
on_term(struct ev_loop *loop, int signo, void *arg)
{
	(void)arg;
	log_info("signal %d: stopping the daemon; apps and routers keep running", signo);
	ev_stop(loop);
}

/* At the end of every loop turn: routes and rack-only names, once, if
 * anything in the turn changed what they serve (rack_routes_changed). */
static void
sync_routes(struct ev_loop *loop, void *arg)
{
	struct rack *r = arg;

	(void)loop;
	if (!r->routes_changed || r->exiting)
		return;
	r->routes_changed = false;
	routers_sync(r);
	discovery_sync(r);
}

static void
tick(struct ev_loop *loop, void *arg)
{
	static bool reconciled;
	struct rack *r = arg;

	if (r->exiting)
		return;
	sup_tick(r);
	resource_tick(r);
	reconcile_tick(r);
	if (!reconciled) {
		/* What docs/keeper.md measures a restart to. */
		log_info("rack %s: first reconcile pass done", r->name);
		reconciled = true;
	}
	timers_tick(r);
	acme_tick(r);
	if (r->routes_retry && now_ms() >= r->routes_retry_at)
		rack_routes_changed(r);    /* a router to restart, a table to write again */
	ev_timer_add(loop, TICK_MS, tick, r);
}

static int
ensure_password(const char *dir)
{
	char path[PATH_MAX], hex[33];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/password", dir);
	if (stat(path, &sb) == 0)
		return 0;
	if (random_hex(hex, 16) == -1)
		return -1;
	return write_file_atomic(path, hex, 32, 0600);
}

/* Makes what a rack of an earlier version left open its owner's alone:
 * directories 0700, files 0600, below dir (the state, password, logs). */
static int
lock_down(const char *dir)
{
	static const char *const files[] = { "state.db", "state.db-wal", "state.db-shm",
		"password", "ca.key", "rackd.log", "rackd.pid", "rackd.lock", "router-public.log",
		"router-internal.log" };
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	if (chmod(dir, 0700) == -1)
		return -1;
	for (size_t i = 0; i < CX_ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (chmod(path, 0600) == -1 && errno != ENOENT)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/apps", dir);
	if (chmod(path, 0700) == -1 || (d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/apps/%s", dir, de->d_name);
		chmod(path, 0700);
		snprintf(path, sizeof(path), "%s/apps/%s/app.log", dir, de->d_name);
		chmod(path, 0600);
	}
	closedir(d);
	return 0;
}

/* The params given at install (`cx rack install local NAME k=v...`), which
 * the CLI leaves in install.params ("k=v" lines) for the first start: each
 * is checked as `cx rack params set` would, then all are stored at once and
 * the file goes. -1 with err naming the first bad one: the rack does not
 * start (and install undoes itself). */
static int
install_params(struct rack *r, char *err, size_t errlen)
{
	char path[PATH_MAX], *text, *save = NULL;
	char *keys[32], *vals[32];
	size_t n = 0;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/install.params", r->dir);
	if ((text = read_file(path, 64 * 1024, NULL)) == NULL)
		return 0;
	for (char *l = strtok_r(text, "\n", &save); l != NULL && rc == 0;
	    l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');

		if (eq == NULL || eq == l) {
			snprintf(err, errlen, "install param \"%s\": want KEY=VALUE", l);
			rc = -1;
			break;
		}
		*eq = '\0';
		if (params_check(l, eq + 1, err, errlen) == -1) {
			rc = -1;
			break;
		}
		if (n == CX_ARRAY_LEN(keys)) {
			snprintf(err, errlen, "more than %zu install params", CX_ARRAY_LEN(keys));
			rc = -1;
			break;
		}
		keys[n] = l;
		vals[n++] = eq + 1;
	}
	if (rc == 0 && n > 0 && store_params_set(r->store, keys, vals, n) == -1) {
		snprintf(err, errlen, "cannot record the install params: %s", store_error(r->store));
		rc = -1;
	}
	if (rc == 0)
		unlink(path);
	free(text);
	return rc;
}

/* Free loopback ports for the routers, picked once and kept as params.
 * -1 with err if one cannot be recorded: the routers would have no port. */
static int
ensure_ports(struct rack *r, char *err, size_t errlen)
{
	static const char *keys[] = { "router_port", "router_internal_port", "router_tls_port",
		"router_internal_tls_port", "peer_port", "egress_port" };
	char v[16];

	if (r->vpc)
		return 0;
	for (size_t i = 0; i < CX_ARRAY_LEN(keys); i++) {
		char *k = (char *)keys[i], *val = v;
		int port;

		if (store_param_get(r->store, keys[i], v, sizeof(v)) == 0)
			continue;
		if ((port = net_free_port()) <= 0) {
			snprintf(err, errlen, "no free loopback port for %s", keys[i]);
			return -1;
		}
		snprintf(v, sizeof(v), "%d", port);
		if (store_params_set(r->store, &k, &val, 1) == -1) {
			snprintf(err, errlen, "cannot record %s: %s", keys[i], store_error(r->store));
			return -1;
		}
	}
	return 0;
}

/* Detaches; returns in the daemon with *ready_fd set, exits in the caller
 * once the daemon reports (through the pipe) that it is up or why not. The
 * detached process becomes the keeper, unless keep is false. */
static void
daemonize(const char *dir, const char *logpath, bool keep, int *ready_fd)
{
	int pfd[2], logfd, devnull;
	char msg[1024];
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) == -1)
		fatal("pipe");
	pid = fork();
	if (pid == -1)
		fatal("fork");
	if (pid > 0) {
		close(pfd[1]);
		n = read(pfd[0], msg, sizeof(msg) - 1);
		if (n == 2 && memcmp(msg, "ok", 2) == 0)
			exit(0);
		if (n > 0) {
			msg[n] = '\0';
			fprintf(stderr, "%s\n", msg);
		} else {
			fprintf(stderr, "cx-rackd exited during start-up; see %s\n", logpath);
		}
		exit(1);
	}
	close(pfd[0]);
	setsid();
	pid = fork();
	if (pid == -1)
		_exit(1);
	if (pid > 0)
		_exit(0);
	devnull = open("/dev/null", O_RDWR);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (devnull == -1 || logfd == -1)
		_exit(1);
	dup2(devnull, 0);
	dup2(logfd, 1);
	dup2(logfd, 2);
	close(devnull);
	close(logfd);
	/* The keeper's lines and the daemon's rotate alike (at the default
	 * cap until the daemon has read log_max_mb). */
	log_to_file(logpath, (int64_t)LOGFILE_DEFAULT_MB << 20);
	if (keep)
		keeper_run(dir, pfd[1], ready_fd);
	else
		*ready_fd = pfd[1];
}

static void
report(int ready_fd, const char *msg)
{
	if (ready_fd != -1 && write(ready_fd, msg, strlen(msg)) == -1)
		log_warn("cannot report start-up");
}

int
main(int argc, char **argv)
{
	static struct rack rack;
	struct rack *r = &rack;
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "rack", required_argument, NULL, 'r' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "no-keeper", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *name = NULL;
	bool daemon = false, verbose = false, keep = true;
	char path[PATH_MAX], exe[PATH_MAX], msg[1024], err[512];
	int ch, lockfd, ready_fd = -1;
	ssize_t n;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'H': home = optarg; break;
		case 'r': name = optarg; break;
		case 'd': daemon = true; break;
		case 'k': keep = false; break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	if (home == NULL || name == NULL || optind != argc)
		usage();
	log_init("cx-rackd", verbose);
	if (!valid_name(name))
		fatalx("invalid rack name \"%s\"", name);
	str_copy(r->home, sizeof(r->home), home);
	str_copy(r->name, sizeof(r->name), name);
	snprintf(r->dir, sizeof(r->dir), "%s/racks/%s", home, name);
	if (r->dir[0] != '/')
		fatalx("--home must be an absolute path: %s", home);
	/* The rack's state is its owner's alone (files 0600, directories 0700):
	 * apps reach their builds through their sandbox, never through here. */
	umask(077);
	snprintf(path, sizeof(path), "%s/tmp", r->dir);
	if (mkdir_p(path, 0700) == -1)
		fatal("cannot create %s", path);
	snprintf(path, sizeof(path), "%s/apps", r->dir);
	if (mkdir_p(path, 0700) == -1)
		fatal("cannot create %s", path);
	if (lock_down(r->dir) == -1)
		fatal("cannot make %s its owner's alone", r->dir);
	if (sandbox_privileged() && mkdir("/srv", 0755) == 0 && chmod("/srv", 0755) == -1)
		fatal("cannot make /srv, where apps see their builds, 0755");
	else if (sandbox_privileged() && access("/srv", F_OK) == -1)
		fatal("cannot create /srv, where apps see their builds");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		fatal("readlink /proc/self/exe");
	exe[n] = '\0';
	str_copy(r->bin_dir, sizeof(r->bin_dir), dirname(exe));
	if (getenv("CX_ROUTER_DIR") != NULL)
		str_copy(r->bin_dir, sizeof(r->bin_dir), getenv("CX_ROUTER_DIR"));

	if (daemon) {
		snprintf(path, sizeof(path), "%s/rackd.log", r->dir);
		daemonize(r->dir, path, keep, &ready_fd);
	} else if (keep) {
		keeper_run(r->dir, -1, &ready_fd);
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(path, sizeof(path), "%s/rackd.lock", r->dir);
	lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd == -1 || flock(lockfd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(msg, sizeof(msg), "rack %s is already running (its daemon holds %s)", name,
		    path);
		report(ready_fd, msg);
		log_warnx("%s", msg);
		exit(KEEPER_EXIT_HELD);
	}
	if (ensure_password(r->dir) == -1) {
		report(ready_fd, "cannot write the rack's password file");
		fatal("password");
	}
	{
		bool made;

		/* Made once, at the rack's first start; never made again over it. */
		r->ca_pem = ca_ensure(r->dir, name, &made, err, sizeof(err));
		if (r->ca_pem == NULL) {
			report(ready_fd, err);
			fatalx("%s", err);
		}
	}
	snprintf(path, sizeof(path), "%s/state.db", r->dir);
	r->store = store_open(path, err, sizeof(err));
	if (r->store == NULL) {
		report(ready_fd, err);
		fatalx("%s", err);
	}
	disk_init(r);
	if (daemon) {
		snprintf(path, sizeof(path), "%s/rackd.log", r->dir);
		log_to_file(path, rack_log_max(r));
	}
	{
		struct lab_rack_info info;

		if (lab_loopback_rack_get(home, name, &info) == 0) {
			/* A loopback rack run as root: only its processes live in the
			 * lab, each in a namespace of its own on the rack's bridge. */
			r->netns = true;
			str_copy(r->cidr, sizeof(r->cidr), info.cidr);
			str_copy(r->gateway_addr, sizeof(r->gateway_addr), info.gateway_addr);
			/* Where its processes reach its routers on 127.0.0.1, through
			 * the bridge (routers_gateway_sync). */
			str_copy(r->private_addr, sizeof(r->private_addr), info.private_addr);
			str_copy(r->egress_addr, sizeof(r->egress_addr), info.egress_addr);
			if (lab_restore(home, err, sizeof(err)) == -1)
				log_warnx("lab restore: %s", err);
		} else if (lab_rack_get(home, name, &info) == 0) {
			r->vpc = r->netns = true;
			r->host = info.host;
			str_copy(r->cidr, sizeof(r->cidr), info.cidr);
			str_copy(r->public_addr, sizeof(r->public_addr), info.public_addr);
			/* A host rack's internal router listens on the host's private
			 * network when it has one, else on the bridge's .2. */
			str_copy(r->private_addr, sizeof(r->private_addr),
			    info.host && info.host_private[0] != '\0' ? info.host_private :
			    info.private_addr);
			str_copy(r->gateway_addr, sizeof(r->gateway_addr), info.gateway_addr);
			str_copy(r->egress_addr, sizeof(r->egress_addr), info.host ? info.egress_addr : "");
			if (lab_restore(home, err, sizeof(err)) == -1)
				log_warnx("lab restore: %s", err);
		}
	}
	if (install_params(r, err, sizeof(err)) == -1) {
		report(ready_fd, err);
		fatalx("%s", err);
	}
	{
		char kubeconfig[16];

		/* Set at install only: what the rack is does not change. */
		rack_param(r, "kubeconfig", kubeconfig, sizeof(kubeconfig));
		r->kube = kubeconfig[0] != '\0';
	}
	if (ensure_ports(r, err, sizeof(err)) == -1) {
		report(ready_fd, err);
		fatalx("%s", err);
	}
	/* The peer router reads its peers' CAs from files that follow the store. */
	if (peers_files_sync(r, err, sizeof(err)) == -1)
		log_warnx("rack %s: %s; TLS peers are refused until it works", name, err);
	r->loop = ev_new();
	if (r->loop == NULL)
		fatal("epoll");
	ev_signal(r->loop, SIGTERM, on_term, r);
	ev_signal(r->loop, SIGINT, on_term, r);
	/* The wiring: modules below report up through handlers registered here,
	 * never by calling the modules above them. */
	r->sup = &sup_processes;
	sup_set_exit_handler(r, reconcile_proc_exited);
	health_set_handler(r, reconcile_health_changed);
	/* Apps first, so the routers' first snapshot already has their processes;
	 * their resources before them, so that their URLs are known. */
	cgroup_setup(r);
	resource_init(r);
	reconcile_init(r);
	routers_init(r);
	reach_init(r);
	ev_on_turn(r->loop, sync_routes, r);
	ev_timer_add(r->loop, TICK_MS, tick, r);
	if (api_listen(r) == -1) {
		snprintf(msg, sizeof(msg), "cannot listen on %s/api.sock: %s", r->dir, strerror(errno));
		report(ready_fd, msg);
		fatalx("%s", msg);
	}
	{
		char group[256];

		/* A group gone from the host since: the rack is its owner's alone
		 * (and says so) rather than not starting at all. */
		rack_param(r, "api_group", group, sizeof(group));
		if (access_apply(r, group, err, sizeof(err)) == -1) {
			log_warnx("%s; the rack's API admits its owner alone until api_group is set "
			    "again", err);
			if (access_apply(r, "", err, sizeof(err)) == -1) {
				report(ready_fd, err);
				fatalx("%s", err);
			}
		}
	}
	snprintf(path, sizeof(path), "%s/rackd.pid", r->dir);
	snprintf(msg, sizeof(msg), "%d\n", (int)getpid());
	if (disk_write_file(r->dir, path, msg) == -1) {
		/* Without it cx rack uninstall and the lab cannot name the daemon. */
		snprintf(msg, sizeof(msg), "cannot write %s: %s", path, strerror(errno));
		report(ready_fd, msg);
		fatalx("%s", msg);
	}
	log_info("rack %s running (%s%s%s)", name, r->host ? "host, public " : "",
	    r->host ? r->public_addr : "", r->host ? "" : r->vpc ? r->cidr : "loopback");
	report(ready_fd, "ok");
	if (ready_fd != -1)
		close(ready_fd);
	ev_run(r->loop);
	/* A change of the loop's last turn still reaches the routers, which
	 * serve on after us. */
	sync_routes(r->loop, r);
	api_https_close(r);
	build_cancel(r, NULL);      /* an unfinished build is not recorded: drop it */
	kdeploy_cancel(r, NULL);    /* an apply under way: the next daemon marks it failed */
	appexport_cancel_all(r);    /* nor an export or import under way */
	acme_stop(r);               /* an order in flight is tried again by the next daemon */
	snprintf(path, sizeof(path), "%s/api.sock", r->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/rackd.pid", r->dir);
	unlink(path);
	store_close(r->store);
	free(r->ca_pem);
	r->ca_pem = NULL;
	log_info("daemon stopped");
	return 0;
}
