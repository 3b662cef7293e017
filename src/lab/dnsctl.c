/*
 * dnsctl.c — the lab DNS from the lab's side: its hosts file
 * ($CX_HOME/lab/hosts, "NAME ADDR" lines), the resolv.conf that namespaces
 * get in place of the host's, and the cx-labdns daemon (start, signal, stop).
 *
 * A host rack has a DNS of its own as well (files lab/hosts-RACK,
 * dns-RACK.pid, dns-RACK.log, resolv-RACK.conf): cx-labdns on the rack's
 * gateway :53 in the host's namespace, forwarding what it does not know to
 * the host's resolvers.
 *
 * cx-labdns runs in the internet namespace on LAB_DNS_ADDR:53. It is started
 * daemonized (double fork, setsid, stdio on /dev/null and lab/dns.log, no
 * other descriptor of the caller kept: not its stdout, not the lab lock) and
 * is ready when it has written lab/dns.pid. The binary is $CX_LABDNS, else
 * cx-labdns beside the running executable.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "lab/lab_int.h"

#define HOSTS_MAX (4u << 20)
#define DNS_START_MS 3000
#define DNS_STOP_MS 1000

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void
lab_dns_path(const struct lab *l, const char *rack, const char *what, char *out, size_t outlen)
{
	static const struct {
		const char *what, *lab, *fmt;
	} files[] = {
		{ "hosts", "hosts", "hosts-%s" },
		{ "pid", "dns.pid", "dns-%s.pid" },
		{ "log", "dns.log", "dns-%s.log" },
		{ "resolv", "resolv.conf", "resolv-%s.conf" },
	};
	char name[64] = "";

	for (size_t i = 0; i < CX_ARRAY_LEN(files); i++) {
		if (strcmp(files[i].what, what) != 0)
			continue;
		if (rack == NULL)
			str_copy(name, sizeof(name), files[i].lab);
		else
			snprintf(name, sizeof(name), files[i].fmt, rack);
	}
	snprintf(out, outlen, "%s/%s", l->dir, name);
}

/* Same rule as cx-labdns's: optional "*.", labels of [A-Za-z0-9_-]. */
static bool
dns_name_ok(const char *s)
{
	size_t len, label = 0;

	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	len = strlen(s);
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((!isalnum(c) && c != '-' && c != '_') || ++label > 63) {
			return false;
		}
	}
	return label > 0;
}

/*
 * Rewrites the hosts file without the lines for drop_name (if not NULL) or
 * pointing at drop_addr (if not 0), then with "add_name ADDR" appended for
 * each of the nadd add_addrs, and signals the DNS. The caller holds the lab
 * lock.
 */
static int
hosts_rewrite(struct lab *l, const char *rack, const char *drop_name, uint32_t drop_addr,
    const char *add_name, const char *const *add_addrs, size_t nadd)
{
	char path[PATH_MAX + 16];
	char *text;
	const char *p;
	struct buf out;
	int rc, pid;

	lab_dns_path(l, rack, "hosts", path, sizeof(path));
	text = read_file(path, HOSTS_MAX, NULL);
	if (text == NULL && errno != ENOENT) {
		log_warn("%s", path);
		return -1;
	}
	buf_init(&out, 0);
	buf_adds(&out, "# lab DNS names: NAME ADDR (NAME may be *.suffix); written by the lab\n");
	for (p = text != NULL ? text : ""; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		char line[512], name[300], addr[64];
		struct in_addr in;
		bool drop = false;

		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (sscanf(line, "%299s %63s", name, addr) == 2 && name[0] != '#') {
				if (drop_name != NULL && strcasecmp(name, drop_name) == 0)
					drop = true;
				if (drop_addr != 0 && inet_pton(AF_INET, addr, &in) == 1 &&
				    ntohl(in.s_addr) == drop_addr)
					drop = true;
				if (!drop)
					buf_addf(&out, "%s %s\n", name, addr);
			}
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	for (size_t i = 0; add_name != NULL && i < nadd; i++)
		buf_addf(&out, "%s %s\n", add_name, add_addrs[i]);
	free(text);
	rc = write_file_atomic(path, out.data, out.len, 0644);
	if (rc == -1)
		log_warn("%s", path);
	buf_free(&out);
	if (rc == 0 && lab_dns_running_in(l, rack, &pid))
		kill(pid, SIGHUP);
	return rc;
}

int
lab_hosts_set(struct lab *l, const char *name, const char *addr)
{
	struct in_addr in;
	char lname[256];

	if (!dns_name_ok(name) || inet_pton(AF_INET, addr, &in) != 1) {
		log_warnx("lab DNS: refusing \"%s %s\": want NAME (or *.SUFFIX) and an IPv4 address",
		    name, addr);
		errno = EINVAL;
		return -1;
	}
	str_copy(lname, sizeof(lname), name);
	for (char *c = lname; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return hosts_rewrite(l, NULL, lname, 0, lname, &addr, 1);
}

int
lab_hosts_remove(struct lab *l, const char *name, uint32_t addr)
{
	return hosts_rewrite(l, NULL, name, addr, NULL, NULL, 0);
}

/* Sets name in the lab DNS (rack NULL) or in host rack rack's own DNS. */
static int
dns_set_all(const char *home, const char *rack, const char *name, const char *const *addrs,
    size_t n)
{
	struct lab l;
	struct lab_rack *r;
	char err[256], lname[256];
	struct in_addr in;
	int rc;

	if (!dns_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (inet_pton(AF_INET, addrs[i], &in) != 1) {
			errno = EINVAL;
			return -1;
		}
	}
	str_copy(lname, sizeof(lname), name);
	for (char *c = lname; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	if (lab_open(&l, home, true, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	if (rack != NULL && ((r = lab_find_rack(&l.st, rack)) == NULL || !r->host)) {
		log_warnx("rack %s is not a host rack: it has no DNS of its own", rack);
		lab_close(&l);
		errno = ENOENT;
		return -1;
	}
	rc = hosts_rewrite(&l, rack, lname, 0, lname, addrs, n);
	lab_close(&l);
	return rc;
}

int
lab_dns_set_all(const char *home, const char *name, const char *const *addrs, size_t n)
{
	return dns_set_all(home, NULL, name, addrs, n);
}

int
lab_rack_dns_set_all(const char *home, const char *rack, const char *name,
    const char *const *addrs, size_t n)
{
	return dns_set_all(home, rack, name, addrs, n);
}

int
lab_rack_dns_set(const char *home, const char *rack, const char *name, const char *addr)
{
	return dns_set_all(home, rack, name, &addr, 1);
}

int
lab_rack_dns_unset(const char *home, const char *rack, const char *name)
{
	return dns_set_all(home, rack, name, NULL, 0);
}

int
lab_dns_set(const char *home, const char *name, const char *addr)
{
	return lab_dns_set_all(home, name, &addr, 1);
}

int
lab_dns_unset(const char *home, const char *name)
{
	struct lab l;
	char err[256];
	int rc;

	if (lab_open(&l, home, true, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	rc = lab_hosts_remove(&l, name, 0);
	lab_close(&l);
	return rc;
}

/* Writes text to path unless it holds it already (namespaces bind it: a
 * file rewritten in place would change under them for nothing). */
static int
write_if_changed(const char *path, const char *text, char *err, size_t errlen)
{
	char *old = read_file(path, 4096, NULL);

	if (old != NULL && strcmp(old, text) == 0) {
		free(old);
		return 0;
	}
	free(old);
	if (write_file_atomic(path, text, strlen(text), 0644) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Writes the resolv.conf naming nameserver for the DNS of rack (NULL: the lab's). */
static int
write_resolv(struct lab *l, const char *rack, const char *nameserver, char *err, size_t errlen)
{
	char path[PATH_MAX + 16], text[256];

	snprintf(text, sizeof(text),
	    "# the %s DNS (cx); bind-mounted over /etc/resolv.conf in its namespaces\n"
	    "nameserver %s\n"
	    "options timeout:1 attempts:2\n", rack != NULL ? "rack's" : "lab", nameserver);
	lab_dns_path(l, rack, "resolv", path, sizeof(path));
	return write_if_changed(path, text, err, errlen);
}

void
lab_app_resolv_path(const struct lab *l, const char *rack, const char *app, char *out,
    size_t outlen)
{
	if (app == NULL)
		snprintf(out, outlen, "%s/resolv.d/%s", l->dir, rack);
	else
		snprintf(out, outlen, "%s/resolv.d/%s/%s.conf", l->dir, rack, app);
}

int
lab_app_resolv_write(struct lab *l, const struct lab_rack *r, const char *app, char *err,
    size_t errlen)
{
	char path[PATH_MAX + 64], ns[16], text[512];

	if (!valid_name(app)) {
		snprintf(err, errlen, "bad app name \"%s\": want [a-z][a-z0-9-]{0,29}", app);
		return -1;
	}
	if (r->host)
		lab_ip4(lab_rack_gateway(r), ns, sizeof(ns));
	else
		str_copy(ns, sizeof(ns), LAB_DNS_ADDR);
	/* ndots:1 (the default, said aloud): a bare SERVICE goes through the
	 * search list first, a dotted name is asked as it is first. */
	snprintf(text, sizeof(text),
	    "# app %s of rack %s (cx): its services by bare name; bind-mounted over\n"
	    "# /etc/resolv.conf in its processes' namespaces\n"
	    "nameserver %s\n"
	    "search %s.%s.local %s-%s.svc.cluster.local\n"
	    "options ndots:1 timeout:1 attempts:2\n", app, r->name, ns, app, r->name, r->name, app);
	lab_app_resolv_path(l, r->name, NULL, path, sizeof(path));
	if (mkdir_p(path, 0755) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	lab_app_resolv_path(l, r->name, app, path, sizeof(path));
	return write_if_changed(path, text, err, errlen);
}

void
lab_app_resolv_drop(struct lab *l, const char *rack, const char *app)
{
	char path[PATH_MAX + 64];

	if (app != NULL) {
		lab_app_resolv_path(l, rack, app, path, sizeof(path));
		unlink(path);
		return;
	}
	lab_app_resolv_path(l, rack, NULL, path, sizeof(path));
	remove_tree(path);
}

int
lab_write_resolv(struct lab *l, char *err, size_t errlen)
{
	return write_resolv(l, NULL, LAB_DNS_ADDR, err, errlen);
}

/* Alive and not a zombie. */
static bool
proc_alive(int pid)
{
	char path[64], buf[512];
	char *rp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* Is pid our cx-labdns, the one serving this lab's hosts file? */
static bool
pid_is_our_dns(struct lab *l, const char *rack, int pid)
{
	char path[64], hosts[PATH_MAX + 16], cmd[8192];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return false;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return false;
	cmd[n] = '\0';
	lab_dns_path(l, rack, "hosts", hosts, sizeof(hosts));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(cmd + i) + 1) {
		if (strcmp(cmd + i, hosts) == 0)
			return true;
	}
	return false;
}

int
lab_dns_pid(const char *home, const char *rack)
{
	struct lab l;
	char err[256];
	int pid = -1;

	if (lab_open(&l, home, false, err, sizeof(err)) == -1)
		return -1;
	if (!lab_dns_running_in(&l, rack, &pid))
		pid = -1;
	lab_close(&l);
	return pid;
}

bool
lab_dns_running(struct lab *l, int *pidp)
{
	return lab_dns_running_in(l, NULL, pidp);
}

bool
lab_dns_running_in(struct lab *l, const char *rack, int *pidp)
{
	char path[PATH_MAX + 16];
	char *text;
	int pid = 0;

	lab_dns_path(l, rack, "pid", path, sizeof(path));
	text = read_file(path, 64, NULL);
	if (text == NULL)
		return false;
	if (sscanf(text, "%d", &pid) != 1 || pid <= 0)
		pid = 0;
	free(text);
	if (pid == 0 || !proc_alive(pid) || !pid_is_our_dns(l, rack, pid))
		return false;
	if (pidp != NULL)
		*pidp = pid;
	return true;
}

static int
dns_binary(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *env = getenv("CX_LABDNS");
	char self[PATH_MAX];
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		str_copy(out, outlen, env);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n == -1) {
			snprintf(err, errlen, "readlink /proc/self/exe: %s", strerror(errno));
			return -1;
		}
		self[n] = '\0';
		snprintf(out, outlen, "%s/cx-labdns", dirname(self));
	}
	if (access(out, X_OK) == -1) {
		snprintf(err, errlen, "cannot run the lab DNS %s: %s (set CX_LABDNS to its path)", out,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Starts the DNS of rack (NULL: the lab's, in the internet namespace) on
 * listen; forward (may be NULL) is the resolv.conf whose nameservers get
 * the names it does not know. A host rack's runs in the caller's namespace. */
static int
dns_start(struct lab *l, const char *rack, const char *listen_at, const char *forward, char *err,
    size_t errlen)
{
	char bin[PATH_MAX], inet[LAB_NETNS_MAX], pidfile[PATH_MAX + 16], hosts[PATH_MAX + 16];
	char logfile[PATH_MAX + 16], nspath[PATH_MAX], listen[64], fwd[PATH_MAX];
	int64_t deadline;
	int status, pid;
	pid_t child;

	if (lab_dns_running_in(l, rack, NULL))
		return 0;
	if (dns_binary(bin, sizeof(bin), err, errlen) == -1)
		return -1;
	lab_ns_internet(&l->st, inet, sizeof(inet));
	snprintf(nspath, sizeof(nspath), "%s/%s", LAB_NETNS_DIR, inet);
	lab_dns_path(l, rack, "pid", pidfile, sizeof(pidfile));
	lab_dns_path(l, rack, "hosts", hosts, sizeof(hosts));
	lab_dns_path(l, rack, "log", logfile, sizeof(logfile));
	str_copy(listen, sizeof(listen), listen_at);
	str_copy(fwd, sizeof(fwd), forward != NULL ? forward : "");
	unlink(pidfile);

	child = fork();
	if (child == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (child == 0) {
		char *argv[] = { bin, "--listen", listen, "--hosts", hosts, "--pidfile", pidfile,
			forward != NULL ? "--forward" : NULL, fwd, NULL };
		int nsfd = rack == NULL ? open(nspath, O_RDONLY | O_CLOEXEC) : -2;
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int log = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (nsfd == -1 || in == -1 || log == -1 ||
		    (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) == -1))
			_exit(126);
		if (setsid() == -1)
			_exit(126);
		if (fork() != 0)
			_exit(0); /* the grandchild is nobody's child: init reaps it */
		dup2(in, 0);
		dup2(log, 1);
		dup2(log, 2);
		lab_child_reset();
		umask(022);
		if (chdir("/") == -1)
			_exit(126);
		execv(bin, argv);
		dprintf(2, "cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	while (waitpid(child, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (rack == NULL)
			snprintf(err, errlen, "cannot start the lab DNS in namespace %s", inet);
		else
			snprintf(err, errlen, "cannot start rack %s's DNS", rack);
		return -1;
	}
	deadline = now_ms() + DNS_START_MS;
	while (now_ms() < deadline) {
		if (lab_dns_running_in(l, rack, &pid))
			return 0;
		sleep_ms(2);
	}
	snprintf(err, errlen, "the %s DNS did not start within %d ms (see %s)",
	    rack != NULL ? rack : "lab", DNS_START_MS, logfile);
	return -1;
}

int
lab_dns_start(struct lab *l, char *err, size_t errlen)
{
	return dns_start(l, NULL, LAB_DNS_ADDR ":53", NULL, err, errlen);
}

int
lab_rack_dns_start(struct lab *l, const struct lab_rack *r, char *err, size_t errlen)
{
	char gw[16], listen[32];
	const char *upstream = getenv("CX_HOST_RESOLV");

	lab_ip4(lab_rack_gateway(r), gw, sizeof(gw));
	snprintf(listen, sizeof(listen), "%s:53", gw);
	if (write_resolv(l, r->name, gw, err, errlen) == -1)
		return -1;
	return dns_start(l, r->name, listen,
	    upstream != NULL && upstream[0] != '\0' ? upstream : "/etc/resolv.conf", err, errlen);
}

void
lab_dns_stop(struct lab *l)
{
	lab_dns_stop_in(l, NULL);
}

void
lab_dns_stop_in(struct lab *l, const char *rack)
{
	char pidfile[PATH_MAX + 16];
	int64_t deadline;
	int pid;

	if (!lab_dns_running_in(l, rack, &pid))
		return;
	kill(pid, SIGTERM);
	deadline = now_ms() + DNS_STOP_MS;
	while (proc_alive(pid) && now_ms() < deadline)
		sleep_ms(2);
	if (proc_alive(pid)) {
		log_warnx("%s DNS (pid %d) ignored SIGTERM; killing it", rack != NULL ? rack : "lab", pid);
		kill(pid, SIGKILL);
		deadline = now_ms() + DNS_STOP_MS;
		while (proc_alive(pid) && now_ms() < deadline)
			sleep_ms(2);
	}
	lab_dns_path(l, rack, "pid", pidfile, sizeof(pidfile));
	unlink(pidfile);
}
