/*
 * rack.c — `cx racks`, `cx rack`, `cx rack install|uninstall|start`,
 * `cx rack params [set]` and `cx switch`.
 *
 * The CLI owns the rack's directory ($CX_HOME/racks/NAME: it exists from
 * install to uninstall) and the VPC (through the lab library); the daemon
 * owns everything inside the directory and every process it starts. So
 * install makes the directory and the VPC, then starts the daemon (under its
 * keeper, which starts it again if it dies: rackd/keeper.c); uninstall
 * starts the daemon if it is down (only it knows its processes), tells the
 * keeper to let go, asks the daemon to stop what it started, then removes
 * the VPC and the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "common/net.h"
#include "cli/remote.h"
#include "lab/lab.h"

#define START_TIMEOUT_MS 10000      /* until GET /system answers */
#define START_POLL_MS 20
#define STOP_TIMEOUT_MS 60000       /* until the daemon has stopped everything */

int
cli_find_rackd(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *env = getenv("CX_RACKD");
	char exe[PATH_MAX];
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		str_copy(out, outlen, env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0) {
			snprintf(err, errlen, "cannot find cx-rackd: readlink /proc/self/exe: %s",
			    strerror(errno));
			return -1;
		}
		exe[n] = '\0';
		snprintf(out, outlen, "%s/cx-rackd", dirname(exe));
	}
	if (access(out, X_OK) == -1) {
		snprintf(err, errlen, "cannot run the rack daemon %s: %s (set CX_RACKD to its path)",
		    out, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Starts `cx-rackd --home HOME --rack NAME --daemon`, which detaches and
 * exits once its API answers (or prints why it could not start), then waits
 * until GET /system answers. 0, or -1 with the reason in err.
 */
static int
start_daemon(struct cli *c, const char *name, char *err, size_t errlen)
{
	char rackd[PATH_MAX], msg[1024];
	size_t got = 0;
	int pfd[2], status, devnull;
	int64_t deadline;
	pid_t pid;

	if (cli_find_rackd(rackd, sizeof(rackd), err, errlen) == -1)
		return -1;
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		/* Its start-up errors come to us; after that it writes its own log. */
		devnull = open("/dev/null", O_RDWR);
		if (devnull != -1) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		dup2(pfd[1], 2);
		execl(rackd, "cx-rackd", "--home", c->home, "--rack", name, "--daemon", (char *)NULL);
		dprintf(2, "cannot run %s: %s", rackd, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	deadline = now_ms() + START_TIMEOUT_MS + 20000;
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(pfd[0], msg + got, sizeof(msg) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(msg) - 1)
			break;
	}
	close(pfd[0]);
	msg[got] = '\0';
	while (got > 0 && (msg[got - 1] == '\n' || msg[got - 1] == '\r'))
		msg[--got] = '\0';
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *last = strrchr(msg, '\n');

		snprintf(err, errlen, "%s", msg[0] ? (last ? last + 1 : msg) :
		    "the rack daemon exited during start-up");
		return -1;
	}
	deadline = now_ms() + START_TIMEOUT_MS;
	for (;;) {
		if (api_probe(c, name, 1000, NULL) == 0)
			return 0;
		if (now_ms() > deadline)
			break;
		cli_sleep_ms(START_POLL_MS);
	}
	snprintf(err, errlen, "rack %s did not answer within %d seconds (see %s/racks/%s/rackd.log)",
	    name, START_TIMEOUT_MS / 1000, c->home, name);
	return -1;
}

static pid_t
read_pid(struct cli *c, const char *name, const char *file)
{
	char path[PATH_MAX], *s;
	long v = 0;

	cli_rack_path(c, name, file, path, sizeof(path));
	if ((s = read_file(path, 64, NULL)) == NULL)
		return -1;
	s[strcspn(s, " \r\n")] = '\0';
	if (parse_long(s, 1, 1L << 22, &v) == -1)
		v = -1;
	free(s);
	return (pid_t)v;
}

/* Waits (bounded) for pid to exit, reaping it if it is our child. */
static bool
wait_gone(pid_t pid, int64_t timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (pid > 0) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!pid_alive(pid))
			return true;
		if (now_ms() > deadline)
			return false;
		cli_sleep_ms(START_POLL_MS);
	}
	return true;
}

/* The rack's keeper (keeper.pid, checked to be a keeper, not a pid reused),
 * or -1. */
static pid_t
keeper_of(struct cli *c, const char *name)
{
	char path[64], *comm;
	pid_t pid = read_pid(c, name, "keeper.pid");
	bool keeper;

	if (pid <= 0 || !pid_alive(pid))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((comm = read_file(path, 64, NULL)) == NULL)
		return -1;
	keeper = strcmp(comm, "cx-keeper\n") == 0;
	free(comm);
	return keeper ? pid : -1;
}

/* Tells the rack's keeper to let go of its daemon (SIGUSR1) and waits until
 * it has, so that nothing starts the daemon again behind an uninstall. */
static int
release_keeper(struct cli *c, const char *name, char *err, size_t errlen)
{
	pid_t pid = keeper_of(c, name);

	if (pid <= 0)
		return 0;
	if (kill(pid, SIGUSR1) == -1 && errno != ESRCH) {
		snprintf(err, errlen, "cannot signal rack %s's keeper (pid %d): %s", name, (int)pid,
		    strerror(errno));
		return -1;
	}
	if (!wait_gone(pid, 5000)) {
		snprintf(err, errlen, "rack %s's keeper (pid %d) did not let go within 5 seconds",
		    name, (int)pid);
		return -1;
	}
	return 0;
}

/* After a failed install: stop whatever the daemon started (it records each
 * of its processes, routers included, in a *.pid file of the rack's dir). */
static void
kill_leftovers(struct cli *c, const char *name)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	cli_rack_path(c, name, "", dir, sizeof(dir));
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		pid_t pid;

		if (n < 5 || strcmp(de->d_name + n - 4, ".pid") != 0)
			continue;
		if ((pid = read_pid(c, name, de->d_name)) > 0 && pid_alive(pid)) {
			kill(pid, SIGTERM);
			if (!wait_gone(pid, 3000))
				kill(pid, SIGKILL);
		}
	}
	closedir(d);
}

/* One row of cx racks: name, provider, status (from GET /system), location. */
static jv *
rack_row(struct cli *c, const char *name, const char *location)
{
	jv *sys = NULL, *o = jv_object_new();
	int r = api_probe(c, name, 2000, &sys);
	const char *provider = jv_str(sys, "provider");
	bool remote = strcmp(location, "local") != 0;

	jv_set_str(o, "name", name);
	jv_set_str(o, "provider", provider[0] ? provider : "local");
	jv_set_str(o, "status", r == 0 ? (jv_str(sys, "status")[0] ? jv_str(sys, "status") :
	    "running") : remote ? "unreachable" : r == -2 ? "stopped" : "unknown");
	jv_set_str(o, "location", location);
	jv_free(sys);
	return o;
}

int
cmd_racks(struct cli *c)
{
	const char *headers[] = { "NAME", "PROVIDER", "STATUS", "LOCATION" };
	struct table *t;
	char **names, **remotes;
	size_t n, nr;
	jv *arr;

	if (cli_home(c) == -1)
		return 1;
	names = cli_rack_names(c, &n);
	remotes = remote_names(c->home, &nr);
	arr = jv_array_new();
	for (size_t i = 0; i < n; i++)
		jv_push_take(arr, rack_row(c, names[i], "local"));
	for (size_t i = 0; i < nr; i++) {
		struct remote r;
		char err[512];

		if (remote_load(c->home, remotes[i], &r, err, sizeof(err)) == -1) {
			fprintf(stderr, "WARNING: %s\n", err);
			continue;
		}
		explicit_bzero(r.password, sizeof(r.password));
		/* A local rack of the same name wins -r NAME: the remote is not reachable by it. */
		if (!cli_rack_exists(c, remotes[i]))
			jv_push_take(arr, rack_row(c, remotes[i], r.url));
	}
	if (c->json) {
		jv_print(arr, stdout);
	} else {
		t = table_new(4, headers);
		for (size_t i = 0; i < jv_len(arr); i++) {
			const jv *o = jv_at(arr, i);
			const char *row[] = { jv_str(o, "name"), jv_str(o, "provider"),
				jv_str(o, "status"), jv_str(o, "location") };

			table_add(t, row);
		}
		table_print(t, stdout);
		table_free(t);
	}
	jv_free(arr);
	cli_names_free(names, n);
	cli_names_free(remotes, nr);
	return 0;
}

int
cmd_rack(struct cli *c)
{
	jv *sys = NULL;
	const char *ri;

	if (api_call(c, "GET", "/system", NULL, &sys) == -1)
		return 1;
	if (c->json) {
		jv_print(sys, stdout);
	} else {
		struct kv kvs[16];
		char api[128], cgroups[320];
		struct buf features, warnings;
		jv *f = jv_get(sys, "features"), *w = jv_get(sys, "warnings");
		size_t n = 0;

		kvs[n++] = (struct kv){ "Name", jv_str(sys, "name") };
		kvs[n++] = (struct kv){ "Provider", jv_str(sys, "provider") };
		kvs[n++] = (struct kv){ "Router", jv_str(sys, "router") };
		ri = jv_str(sys, "router_internal");
		if (ri[0] != '\0')
			kvs[n++] = (struct kv){ "RouterInternal", ri };
		kvs[n++] = (struct kv){ "Status", jv_str(sys, "status") };
		kvs[n++] = (struct kv){ "Version", jv_str(sys, "version") };
		/* Ours, after Convox's lines: what this rack's version can do. */
		buf_init(&features, 0);
		for (size_t i = 0; i < jv_len(f); i++)
			buf_addf(&features, "%s%s", i > 0 ? " " : "", jv_string_value(jv_at(f, i)));
		if (features.len > 0)
			kvs[n++] = (struct kv){ "Features", buf_cstr(&features) };
		if (jv_str(sys, "vpc")[0] != '\0')
			kvs[n++] = (struct kv){ "VPC", jv_str(sys, "vpc") };
		if (jv_str(sys, "cgroups")[0] != '\0') {
			snprintf(cgroups, sizeof(cgroups), "%s%s%s%s", jv_str(sys, "cgroups"),
			    jv_str(sys, "cgroups_why")[0] ? " (" : "", jv_str(sys, "cgroups_why"),
			    jv_str(sys, "cgroups_why")[0] ? ")" : "");
			kvs[n++] = (struct kv){ "Cgroups", cgroups };
		}
		if (jv_str(sys, "public_address")[0] != '\0')
			kvs[n++] = (struct kv){ "PublicAddress", jv_str(sys, "public_address") };
		if (jv_str(sys, "private_address")[0] != '\0')
			kvs[n++] = (struct kv){ "PrivateAddress", jv_str(sys, "private_address") };
		if (jv_str(sys, "api_address")[0] != '\0') {
			snprintf(api, sizeof(api), "https://%s", jv_str(sys, "api_address"));
			kvs[n++] = (struct kv){ "API", api };
		}
		/* Absent from older racks: jv_len of a missing member is 0. */
		buf_init(&warnings, 0);
		for (size_t i = 0; i < jv_len(w); i++)
			buf_addf(&warnings, "%s%s", i > 0 ? "; " : "", jv_string_value(jv_at(w, i)));
		if (warnings.len > 0)
			kvs[n++] = (struct kv){ "Warnings", buf_cstr(&warnings) };
		kv_print(kvs, n, stdout);
		buf_free(&features);
		buf_free(&warnings);
	}
	jv_free(sys);
	return 0;
}

/* Whether addr is an address of this host (one we can bind). */
static bool
host_has_addr(const char *addr)
{
	struct sockaddr_in sin;
	char probe[32];
	int fd, rc;

	snprintf(probe, sizeof(probe), "%s:0", addr);
	if (strlen(addr) > 15 || net_parse_addr(probe, &sin) == -1)
		return false;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	rc = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return rc == 0;
}

int
cmd_rack_install(struct cli *c)
{
	const char *provider = c->argv[0], *name = c->argv[1], *cidr = c->opt[OPT_VPC];
	const char *pub = NULL, *priv = NULL, *kubeconfig = NULL;
	char dir[PATH_MAX], path[PATH_MAX + 32], err[2048];
	bool vpc_made = false, kube;
	struct buf params;
	uint32_t net;
	int prefix;

	if (strcmp(provider, "local") != 0 && strcmp(provider, "kubernetes") != 0)
		return out_error("unknown provider \"%s\": cx installs local racks (cx rack install "
		    "local NAME) and Kubernetes racks (cx rack install kubernetes NAME "
		    "kubeconfig=FILE)", provider);
	kube = strcmp(provider, "kubernetes") == 0;
	if (c->opt[OPT_DRY_RUN] != NULL && !kube)
		return out_error("--dry-run is for Kubernetes racks (cx rack install kubernetes NAME "
		    "kubeconfig=FILE --dry-run)");
	if (cli_check_name("rack", name) == -1 || cli_home(c) == -1)
		return 1;
	for (int i = 2; i < c->argc; i++) {
		const char *eq = strchr(c->argv[i], '=');

		if (eq == NULL || eq == c->argv[i] || strchr(c->argv[i], '\n') != NULL)
			return out_error("install param \"%s\": want KEY=VALUE, like public_address=%s",
			    c->argv[i], "198.51.100.7");
		if (str_has_prefix(c->argv[i], "public_address="))
			pub = eq + 1;
		if (str_has_prefix(c->argv[i], "private_address="))
			priv = eq + 1;
		if (str_has_prefix(c->argv[i], "kubeconfig="))
			kubeconfig = eq + 1;
	}
	if (kube && (kubeconfig == NULL || kubeconfig[0] == '\0'))
		return out_error("a Kubernetes rack needs its cluster: give kubeconfig=FILE (like "
		    "kubeconfig=$HOME/.kube/config)");
	if (!kube && kubeconfig != NULL)
		return out_error("kubeconfig is for Kubernetes racks: cx rack install kubernetes %s "
		    "kubeconfig=FILE", name);
	if (kube && (pub != NULL || cidr != NULL))
		return out_error("a Kubernetes rack's network is its cluster's: %s is for local racks",
		    pub != NULL ? "public_address" : "--vpc");
	if (kube && kube_check_config(kubeconfig) != 0)
		return 1;
	if (priv != NULL && pub == NULL)
		return out_error("private_address is for host racks: give public_address too");
	if (pub != NULL) {
		if (lab_check_privilege(err, sizeof(err)) == -1)
			return out_error("host racks need root (CAP_NET_ADMIN and CAP_SYS_ADMIN): run as "
			    "root or install without public_address");
		if (!host_has_addr(pub))
			return out_error("public_address %s is not an address of this host", pub);
		if (priv != NULL && !host_has_addr(priv))
			return out_error("private_address %s is not an address of this host", priv);
		if (priv != NULL && strcmp(priv, pub) == 0)
			return out_error("private_address must differ from public_address: internal "
			    "services are never served on the public address");
	}
	if (cli_rack_exists(c, name))
		return out_error("rack %s already exists (cx rack uninstall %s removes it)", name,
		    name);
	if (cidr != NULL) {
		if (parse_cidr(cidr, &net, &prefix) == -1)
			return out_error("invalid CIDR \"%s\": give a network and a prefix length with "
			    "the host bits zero, like 10.1.0.0/16", cidr);
		if (pub == NULL && lab_check_privilege(err, sizeof(err)) == -1)
			return out_error("%s", err);
	}
	snprintf(dir, sizeof(dir), "%s/racks", c->home);
	/* Traversable, not listable: each rack's own directory decides who may
	 * reach it (its owner, or its api_group). */
	if (mkdir_p(dir, 0711) == -1)
		return out_error("cannot create %s: %s", dir, strerror(errno));
	cli_rack_path(c, name, "", dir, sizeof(dir));
	if (mkdir(dir, 0700) == -1) {
		if (errno == EEXIST)
			return out_error("rack %s already exists (cx rack uninstall %s removes it)",
			    name, name);
		return out_error("cannot create %s: %s", dir, strerror(errno));
	}

	out_step("Installing rack %s", name);
	/* The daemon checks and stores them at its first start. */
	buf_init(&params, 0);
	for (int i = 2; i < c->argc; i++)
		if (!str_has_prefix(c->argv[i], "kubeconfig="))
			buf_addf(&params, "%s\n", c->argv[i]);
	if (kube) {
		/* The rack keeps its own copy, credentials inline: the user's file
		 * (and files it names) may change or go. */
		snprintf(path, sizeof(path), "%s/kubeconfig", dir);
		if (kube_copy_config(kubeconfig, path) != 0) {
			snprintf(err, sizeof(err), "the kubeconfig was not copied into the rack");
			buf_free(&params);
			goto fail;
		}
		buf_addf(&params, "kubeconfig=%s\n", path);
	}
	snprintf(path, sizeof(path), "%s/install.params", dir);
	if (params.len > 0 && write_file_atomic(path, params.data, params.len, 0600) == -1) {
		snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
		buf_free(&params);
		goto fail;
	}
	buf_free(&params);
	if (pub != NULL) {
		if (lab_host_rack_create(c->home, name, cidr, pub, priv, NULL, err, sizeof(err)) == -1)
			goto fail;
		vpc_made = true;
	} else if (cidr != NULL) {
		if (lab_rack_create(c->home, name, cidr, NULL, err, sizeof(err)) == -1)
			goto fail;
		vpc_made = true;
	} else if (!kube && lab_check_privilege(err, sizeof(err)) == 0) {
		/* Run as root, a loopback rack gives each process a network
		 * namespace of its own, where it listens on its manifest's port. */
		if (lab_loopback_rack_create(c->home, name, NULL, err, sizeof(err)) == -1)
			goto fail;
		vpc_made = true;
	}
	if (start_daemon(c, name, err, sizeof(err)) == -1)
		goto fail;
	out_ok();
	if (kube) {
		c->opt[OPT_RACK] = name;
		str_copy(c->rack, sizeof(c->rack), name);
		if (c->opt[OPT_DRY_RUN] == NULL)
			printf("Applying the rack's own objects to %s:\n", kubeconfig);
		if (kube_install_objects(c, c->opt[OPT_DRY_RUN] != NULL) != 0)
			return out_error("rack %s is installed, but its objects are not all on the "
			    "cluster: cx rack apply -r %s tries again, cx rack uninstall %s removes "
			    "the rack", name, name, name);
	}
	return 0;
fail:
	/* Undo what this install made, then say why it failed. */
	kill_leftovers(c, name);
	if (vpc_made) {
		char err2[512];

		if (lab_rack_destroy(c->home, name, err2, sizeof(err2)) == -1)
			out_error("%s", err2);
	}
	remove_tree(dir);
	return out_error("%s", err);
}

int
cmd_rack_start(struct cli *c)
{
	const char *name = c->argv[0];
	char rackd[PATH_MAX], err[PATH_MAX + 128];

	if (cli_check_name("rack", name) == -1 || cli_home(c) == -1)
		return 1;
	if (!cli_rack_exists(c, name))
		return out_error("no such rack: %s (cx racks lists them)", name);
	if (cli_find_rackd(rackd, sizeof(rackd), err, sizeof(err)) == -1)
		return out_error("%s", err);
	if (api_probe(c, name, 1000, NULL) == 0) {
		char lock[PATH_MAX];

		cli_rack_path(c, name, "rackd.lock", lock, sizeof(lock));
		return out_error("rack %s is already running; stop its daemon first (pid %d, which "
		    "holds %s) or use it as it is", name, (int)lock_holder(lock), lock);
	}
	api_close(c);
	fflush(stdout);
	execl(rackd, "cx-rackd", "--home", c->home, "--rack", name, (char *)NULL);
	return out_error("cannot run %s: %s", rackd, strerror(errno));
}

/* Uninstalls rack name; *untold: cli_forget_tls_peers's; said: what a
 * Kubernetes rack removed from its cluster. The exit status. */
static int
uninstall(struct cli *c, const char *name, char **untold, struct buf *said)
{
	struct lab_rack_info info;
	char dir[PATH_MAX], path[PATH_MAX], err[2048];
	bool vpc, in_lab;
	pid_t pid;

	if (cli_check_name("rack", name) == -1 || cli_home(c) == -1)
		return 1;
	if (!cli_rack_exists(c, name))
		return out_error("no such rack: %s (cx racks lists them)", name);
	/* A loopback rack run as root is in the lab for its processes only:
	 * it peers over TLS, as every loopback rack. */
	vpc = lab_rack_get(c->home, name, &info) == 0;
	in_lab = vpc || lab_loopback_rack_get(c->home, name, &info) == 0;
	if (in_lab && lab_check_privilege(err, sizeof(err)) == -1)
		return out_error("%s", err);

	out_step("Uninstalling rack %s", name);
	/* Only the daemon knows which processes are the rack's: start it to stop them. */
	if (api_probe(c, name, 2000, NULL) == -2 && start_daemon(c, name, err, sizeof(err)) == -1)
		return out_error("cannot start rack %s to stop its processes: %s", name, err);
	if (release_keeper(c, name, err, sizeof(err)) == -1)
		return out_error("%s", err);
	/* The daemon is the process that holds the rack's lock: its pid file may
	 * name a dead one (a full disk kept a new daemon from writing it). */
	cli_rack_path(c, name, "rackd.lock", path, sizeof(path));
	pid = lock_holder(path);
	str_copy(c->rack, sizeof(c->rack), name);
	/* Its TLS peers stop trusting it first, as lab peerings go first; those
	 * not told now are named at the end, with what to run. */
	if (!vpc && cli_forget_tls_peers(c, name, untold) == -1)
		return 1;
	if (kube_uninstall_objects(c, said) == -1)
		return 1;
	if (api_call(c, "POST", "/system/uninstall", NULL, NULL) == -1)
		return 1;
	api_close(c);
	if (pid > 0 && !wait_gone(pid, STOP_TIMEOUT_MS))
		return out_error("rack %s's daemon (pid %d) did not stop within %d seconds", name,
		    (int)pid, STOP_TIMEOUT_MS / 1000);
	if (pid <= 0) {
		/* No lock holder known: wait for the API to go away instead. */
		int64_t deadline = now_ms() + STOP_TIMEOUT_MS;

		while (api_probe(c, name, 1000, NULL) != -2) {
			if (now_ms() > deadline)
				return out_error("rack %s's daemon did not stop within %d seconds", name,
				    STOP_TIMEOUT_MS / 1000);
			cli_sleep_ms(START_POLL_MS);
		}
	}
	if (in_lab) {
		char (*pairs)[2][32] = NULL;
		size_t npairs = 0;

		/* Its peers' routers must drop its CIDR from their allow lists too. */
		lab_peers(c->home, name, &pairs, &npairs);
		if (lab_rack_destroy(c->home, name, err, sizeof(err)) == -1) {
			free(pairs);
			return out_error("%s", err);
		}
		for (size_t i = 0; i < npairs; i++)
			cli_reconcile_rack(c, strcmp(pairs[i][0], name) == 0 ? pairs[i][1] : pairs[i][0]);
		free(pairs);
	}
	/* Never remove the directory under a daemon that still runs. */
	if ((pid = lock_holder(path)) > 0)
		return out_error("rack %s's daemon (pid %d) still holds %s; its directory stays", name,
		    (int)pid, path);
	cli_rack_path(c, name, "", dir, sizeof(dir));
	if (remove_tree(dir) == -1)
		return out_error("cannot remove %s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/current", c->home);
	{
		char *cur = read_file(path, 256, NULL);

		if (cur != NULL) {
			cur[strcspn(cur, " \t\r\n")] = '\0';
			if (strcmp(cur, name) == 0)
				unlink(path);
			free(cur);
		}
	}
	out_ok();
	return 0;
}

int
cmd_rack_uninstall(struct cli *c)
{
	char *untold = NULL;
	struct buf said;
	int rc;

	buf_init(&said, 0);
	rc = uninstall(c, c->argv[0], &untold, &said);
	fwrite(said.data != NULL ? said.data : "", 1, said.len, stdout);
	if (untold != NULL)
		fputs(untold, stdout);
	free(untold);
	buf_free(&said);
	return rc;
}

int
cmd_rack_params(struct cli *c)
{
	jv *resp = NULL, *params;
	const char **keys;
	struct kv *kvs;
	size_t n;

	if (api_call(c, "GET", "/system/params", NULL, &resp) == -1)
		return 1;
	params = jv_get(resp, "params");
	if (c->json) {
		jv_print(params, stdout);
		jv_free(resp);
		return 0;
	}
	keys = jv_keys_sorted(params, &n);
	kvs = xcalloc(n + 1, sizeof(*kvs));
	for (size_t i = 0; i < n; i++) {
		kvs[i].key = keys[i];
		kvs[i].val = xstrdup(jv_str(params, keys[i]));
	}
	kv_print(kvs, n, stdout);
	for (size_t i = 0; i < n; i++)
		free((char *)kvs[i].val);
	free(kvs);
	free(keys);
	jv_free(resp);
	return 0;
}

static bool
valid_param_key(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int
cmd_rack_params_set(struct cli *c)
{
	jv *body, *params;
	int rc;

	params = jv_object_new();
	for (int i = 0; i < c->argc; i++) {
		const char *eq = strchr(c->argv[i], '=');
		char key[72];

		if (eq == NULL || !valid_param_key(c->argv[i], (size_t)(eq - c->argv[i]))) {
			jv_free(params);
			return out_error("malformed parameter \"%s\": use KEY=VALUE with a lower-case "
			    "KEY (cx rack params lists them)", c->argv[i]);
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - c->argv[i]), c->argv[i]);
		jv_set_str(params, key, eq + 1);
	}
	if (cli_select_rack(c) == -1) {
		jv_free(params);
		return 1;
	}
	if ((jv_get(params, "internal_router") != NULL ||
	    jv_get(params, "internal_router_whitelist") != NULL) &&
	    cli_require_feature(c, "internal_router", "internal router") == -1) {
		jv_free(params);
		return 1;
	}
	body = jv_object_new();
	jv_set_take(body, "params", params);
	out_step("Updating parameters");
	rc = api_call(c, "PUT", "/system/params", body, NULL);
	jv_free(body);
	if (rc == -1)
		return 1;
	out_ok();
	return 0;
}

int
cmd_switch(struct cli *c)
{
	const char *name = c->argv[0];
	char path[PATH_MAX], line[64];

	if (cli_home(c) == -1)
		return 1;
	if (c->argc == 0) {
		/* As Convox: the rack that commands use now, and nothing else. */
		if (cli_select_rack(c) == -1)
			return 1;
		printf("%s\n", c->rack);
		return 0;
	}
	if (!cli_rack_exists(c, name) && !remote_exists(c->home, name))
		return out_error("no such rack: %s (cx racks lists them)", name);
	snprintf(path, sizeof(path), "%s/current", c->home);
	snprintf(line, sizeof(line), "%s\n", name);
	if (write_file_atomic(path, line, strlen(line), 0600) == -1)
		return out_error("cannot write %s: %s", path, strerror(errno));
	printf("Switched to %s\n", name);
	return 0;
}
