/*
 * test_lab.c — the lab with real namespaces: three VPC racks, process
 * namespaces with listeners, a peering, the security groups, the lab DNS, a
 * forged route, and that nothing is left behind. Needs root (CI is root);
 * skips otherwise. The pure functions under it (state text, CIDR and allow
 * list checks, the nftables text) are tested as any user in test_labplan.c.
 *
 * Every check runs in a forked child that enters a namespace with the lab's
 * own lab_enter_* and reports through its exit status. Every wait is bounded;
 * silent drops (what security groups do) cost their full timeout, so the
 * checks that expect one are few and short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "lab/lab.h"
#include "lab/lab_int.h"

#define DROP_MS 300             /* how long a silent drop is waited for */

enum { V_OK = 10, V_REFUSED, V_UNREACH, V_TIMEOUT, V_OTHER, V_ENTER };

static const char *result_name[] = { "ok", "refused", "unreachable", "timeout", "other error",
	"cannot enter" };

enum { IN_INTERNET, IN_RACK, IN_PROC };
struct where {
	int kind;
	const char *rack;
	const char *proc;
};

static char home[PATH_MAX];
static char prefix[16];
static pid_t kids[32];
static size_t nkids;
static struct lab_rack_info ra, rb, rc_;
static char pa[16], pa2[16], pb[16], pc[16];
static int dns_pid;
static bool lab_ok;             /* the earlier steps worked: later ones make sense */

static const struct where in_internet = { IN_INTERNET, NULL, NULL };
static const struct where a_proc = { IN_PROC, "a", "web-1" };
static const struct where a_proc2 = { IN_PROC, "a", "web-2" };
static const struct where b_proc = { IN_PROC, "b", "web-1" };
static const struct where c_proc = { IN_PROC, "c", "web-1" };
static const struct where a_rack = { IN_RACK, "a", NULL };

static int
enter_where(const struct where *w, char *err, size_t errlen)
{
	switch (w->kind) {
	case IN_INTERNET:
		return lab_enter_internet(home, err, errlen);
	case IN_RACK:
		return lab_enter_rack(home, w->rack, err, errlen);
	default:
		return lab_enter_proc(home, w->rack, w->proc, err, errlen);
	}
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits for a child at most ms; kills it past that. Returns its exit status or -1. */
static int
wait_bounded(pid_t pid, int ms)
{
	int64_t deadline = now_ms() + ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r == -1 && errno != EINTR)
			return -1;
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sleep_ms(2);
	}
}

/* Starts a TCP listener on addr:port inside w that answers "ok\n" to every
 * connection; returns once it listens. */
static void
start_listener(const struct where *w, const char *addr, int port)
{
	int ready[2];
	char msg[300] = "";
	struct pollfd pfd;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		char err[256];
		int fd, one = 1;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		if (enter_where(w, err, sizeof(err)) == -1) {
			dprintf(ready[1], "E%s", err);
			_exit(1);
		}
		inet_pton(AF_INET, addr, &sin.sin_addr);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(fd, 16) == -1) {
			dprintf(ready[1], "Ebind %s:%d: %s", addr, port, strerror(errno));
			_exit(1);
		}
		if (write(ready[1], "R", 1) != 1)
			_exit(1);
		close(ready[1]);
		for (;;) {
			int c = accept(fd, NULL, NULL);

			if (c >= 0) {
				if (write(c, "ok\n", 3) != 3) {
					/* the peer left; nothing to do */
				}
				close(c);
			}
		}
	}
	kids[nkids++] = pid;
	close(ready[1]);
	pfd = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	if (poll(&pfd, 1, 3000) == 1 && (n = read(ready[0], msg, sizeof(msg) - 1)) > 0)
		msg[n] = '\0';
	close(ready[0]);
	if (msg[0] != 'R')
		fail_msg("listener %s:%d: %s", addr, port, msg[0] == 'E' ? msg + 1 : "did not start");
}

/* Connects from w to addr:port; the child's verdict (V_*). */
static int
try_connect(const struct where *w, const char *addr, int port, int timeout_ms)
{
	pid_t pid = fork();
	int r;

	assert_true(pid != -1);
	if (pid == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		struct pollfd pfd;
		char err[256], buf[8];
		socklen_t len = sizeof(int);
		int fd, e = 0;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (enter_where(w, err, sizeof(err)) == -1) {
			fprintf(stderr, "enter: %s\n", err);
			_exit(V_ENTER);
		}
		inet_pton(AF_INET, addr, &sin.sin_addr);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			if (errno != EINPROGRESS)
				e = errno;
			else {
				pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
				if (poll(&pfd, 1, timeout_ms) != 1)
					_exit(V_TIMEOUT);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
			}
		}
		if (e == ECONNREFUSED)
			_exit(V_REFUSED);
		if (e == ENETUNREACH || e == EHOSTUNREACH)
			_exit(V_UNREACH);
		if (e != 0)
			_exit(V_OTHER);
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, timeout_ms) != 1)
			_exit(V_TIMEOUT);
		_exit(read(fd, buf, sizeof(buf)) == 3 && memcmp(buf, "ok\n", 3) == 0 ? V_OK : V_OTHER);
	}
	r = wait_bounded(pid, timeout_ms * 2 + 3000);
	return r;
}

static const char *
rname(int r)
{
	return r >= V_OK && r <= V_ENTER ? result_name[r - V_OK] : "child failed";
}

#define EXPECT(w, addr, port, want, ms)                                                      \
	do {                                                                                 \
		int got_ = try_connect((w), (addr), (port), (ms));                           \
		if (got_ != (want))                                                          \
			fail_msg("%s -> %s:%d: got %s, want %s", #w, (addr), (port), rname(got_), \
			    rname(want));                                                    \
	} while (0)

/* Resolves name from inside w with the C library's resolver (which reads
 * the bind-mounted resolv.conf); returns the address or "" in out. */
static int
resolve_in(const struct where *w, const char *name, char *out, size_t outlen)
{
	int p[2];
	pid_t pid;
	ssize_t n;
	struct pollfd pfd;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
		char err[256], a[INET_ADDRSTRLEN] = "";

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		if (enter_where(w, err, sizeof(err)) == -1)
			_exit(2);
		if (getaddrinfo(name, NULL, &hints, &ai) == 0) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, a, sizeof(a));
			freeaddrinfo(ai);
		}
		if (write(p[1], a, strlen(a)) < 0)
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	out[0] = '\0';
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (poll(&pfd, 1, 5000) == 1 && (n = read(p[0], out, outlen - 1)) >= 0)
		out[n] = '\0';
	close(p[0]);
	return wait_bounded(pid, 5000);
}

static bool
netns_with_prefix(const char *pfx)
{
	size_t n = strlen(pfx);
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(LAB_NETNS_DIR);

	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, pfx, n) == 0 && de->d_name[n] == '-') {
			fprintf(stderr, "# left behind: %s\n", de->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

/* Running, not a zombie waiting for its reaper (init here may be slow). */
static bool
running(int pid)
{
	char path[64], buf[512], *rp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* ---- setup and teardown ------------------------------------------------ */

static int
find_labdns(void)
{
	char self[PATH_MAX], cand[PATH_MAX + 32];
	const char *rel[] = { "/cx-labdns", "/../bin/cx-labdns", "/../../bin/cx-labdns" };
	ssize_t n;

	if (getenv("CX_LABDNS") != NULL)
		return access(getenv("CX_LABDNS"), X_OK);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -1;
	self[n] = '\0';
	dirname(self);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s%s", self, rel[i]);
		if (access(cand, X_OK) == 0) {
			setenv("CX_LABDNS", cand, 1);
			return 0;
		}
	}
	return -1;
}

static int
group_setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/cx-test-lab-XXXXXX");
	if (mkdtemp(home) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	struct lab_rack_info *racks = NULL;
	size_t n = 0;
	char err[256];

	(void)state;
	for (size_t i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	nkids = 0;
	if (lab_racks(home, &racks, &n) == 0) {
		for (size_t i = n; i-- > 0;) {
			if (lab_rack_destroy(home, racks[i].name, err, sizeof(err)) == -1)
				fprintf(stderr, "# teardown: %s\n", err);
		}
	}
	free(racks);
	/* Whatever is still there (the state was lost?): by name and by pid. */
	if (prefix[0] != '\0') {
		DIR *d = opendir(LAB_NETNS_DIR);
		struct dirent *de;

		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
				lab_netns_del(de->d_name);
		}
		if (d != NULL)
			closedir(d);
	}
	if (dns_pid > 1 && running(dns_pid))
		kill(dns_pid, SIGKILL);
	remove_tree(home);
	return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void
test_privilege(void **state)
{
	char err[256];
	pid_t pid;

	(void)state;
	if (lab_check_privilege(err, sizeof(err)) == -1)
		skip();
	/* The no-root path never runs by itself here: drop to nobody in a child. */
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) == -1 || setresuid(65534, 65534, 65534) == -1)
			_exit(2);
		if (lab_check_privilege(err, sizeof(err)) != -1 ||
		    strstr(err, "VPC racks need root (CAP_NET_ADMIN and CAP_SYS_ADMIN)") == NULL)
			_exit(3);
		if (lab_rack_create("/nonexistent", "x", "10.9.0.0/16", NULL, err, sizeof(err)) != -1 ||
		    strstr(err, "need root") == NULL)
			_exit(4);
		_exit(0);
	}
	assert_int_equal(wait_bounded(pid, 5000), 0);
}

static void
test_refusals(void **state)
{
	char err[256];

	(void)state;
	if (lab_check_privilege(err, sizeof(err)) == -1)
		skip();
	assert_int_equal(lab_rack_create(home, "x", "10.1.0.1/16", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad CIDR"));
	assert_int_equal(lab_rack_create(home, "x", "10.1.0.0", NULL, err, sizeof(err)), -1);
	assert_int_equal(lab_rack_create(home, "x", "8.8.0.0/16", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a private range"));
	assert_int_equal(lab_rack_create(home, "x", "10.1.0.0/30", NULL, err, sizeof(err)), -1);
	assert_int_equal(lab_rack_create(home, "Bad_Name", "10.1.0.0/16", NULL, err, sizeof(err)), -1);
	assert_int_equal(lab_rack_get(home, "x", NULL), -1);
	/* Nothing was created by a refusal. */
	assert_int_equal(lab_prefix(home, prefix, sizeof(prefix)), -1);
}

static void
test_racks(void **state)
{
	struct lab_rack_info *list = NULL, again;
	struct timespec t0;
	char err[256];
	size_t n;

	(void)state;
	if (lab_check_privilege(err, sizeof(err)) == -1)
		skip();
	if (find_labdns() == -1)
		fail_msg("cx-labdns not found beside the test or in ../bin, ../../bin: build it or set CX_LABDNS");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (lab_rack_create(home, "a", "10.1.0.0/16", &ra, err, sizeof(err)) == -1)
		fail_msg("create a: %s", err);
	print_message("# lab_rack_create a (with internet + DNS): %.1f ms\n", ms_since(&t0));
	assert_int_equal(lab_prefix(home, prefix, sizeof(prefix)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (lab_rack_create(home, "b", "10.2.0.0/16", &rb, err, sizeof(err)) == -1)
		fail_msg("create b: %s", err);
	print_message("# lab_rack_create b: %.1f ms\n", ms_since(&t0));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (lab_rack_create(home, "c", "10.3.0.0/16", &rc_, err, sizeof(err)) == -1)
		fail_msg("create c: %s", err);
	print_message("# lab_rack_create c: %.1f ms\n", ms_since(&t0));

	assert_string_equal(rb.cidr, "10.2.0.0/16");
	assert_string_equal(rb.gateway_addr, "10.2.0.1");
	assert_string_equal(rb.private_addr, "10.2.0.2");
	assert_string_equal(ra.public_addr, "198.18.1.1");
	assert_string_equal(rb.public_addr, "198.18.1.2");
	assert_true(strncmp(rb.netns, prefix, strlen(prefix)) == 0);
	assert_true(lab_netns_exists(rb.netns));

	/* Overlaps, either way round, are refused and name the other rack. */
	assert_int_equal(lab_rack_create(home, "d", "10.2.0.0/16", NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "10.2.0.0/16 overlaps rack b's 10.2.0.0/16");
	assert_int_equal(lab_rack_create(home, "d", "10.0.0.0/8", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "overlaps rack a's 10.1.0.0/16"));
	assert_int_equal(lab_rack_create(home, "d", "10.2.128.0/24", NULL, err, sizeof(err)), -1);
	assert_int_equal(lab_rack_create(home, "b", "10.9.0.0/16", NULL, err, sizeof(err)), -1);
	/* The same again is fine (and repairs nothing, since nothing is missing). */
	assert_int_equal(lab_rack_create(home, "b", "10.2.0.0/16", &again, err, sizeof(err)), 0);
	assert_string_equal(again.netns, rb.netns);

	assert_int_equal(lab_racks(home, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[2].name, "c");
	free(list);

	/* Nothing in the host's namespace. */
	assert_int_equal(if_nametoindex("internet"), 0);
	assert_int_equal(if_nametoindex("vpc"), 0);
	assert_int_equal(if_nametoindex("pub"), 0);
	assert_int_equal(if_nametoindex("r1"), 0);
	lab_ok = true;
}

static void
test_procs(void **state)
{
	struct timespec t0;
	char err[256], again[16];

	(void)state;
	if (!lab_ok)
		skip();
	lab_ok = false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (lab_proc_create(home, "a", "web-1", pa, sizeof(pa), err, sizeof(err)) == -1)
		fail_msg("proc a: %s", err);
	print_message("# lab_proc_create: %.1f ms\n", ms_since(&t0));
	assert_int_equal(lab_proc_create(home, "a", "web-2", pa2, sizeof(pa2), err, sizeof(err)), 0);
	assert_int_equal(lab_proc_create(home, "b", "web-1", pb, sizeof(pb), err, sizeof(err)), 0);
	assert_int_equal(lab_proc_create(home, "c", "web-1", pc, sizeof(pc), err, sizeof(err)), 0);
	assert_string_equal(pa, "10.1.0.10");
	assert_string_equal(pa2, "10.1.0.11");
	assert_string_equal(pb, "10.2.0.10");
	assert_int_equal(lab_proc_create(home, "a", "web-1", again, sizeof(again), err, sizeof(err)), 0);
	assert_string_equal(again, pa);
	assert_int_equal(lab_proc_create(home, "a", "bad/id", again, sizeof(again), err, sizeof(err)), -1);
	assert_int_equal(lab_proc_create(home, "zz", "web-1", again, sizeof(again), err, sizeof(err)), -1);

	/* Apps listen on 0.0.0.0 in their namespace; routers on the rack's addresses. */
	start_listener(&a_proc, "0.0.0.0", 8080);
	start_listener(&b_proc, "0.0.0.0", 8080);
	start_listener(&c_proc, "0.0.0.0", 8080);
	for (int i = 0; i < 3; i++) {
		const struct lab_rack_info *r = i == 0 ? &ra : i == 1 ? &rb : &rc_;
		struct where w = { IN_RACK, r->name, NULL };

		start_listener(&w, r->private_addr, 80);
		start_listener(&w, r->public_addr, 80);
	}
	lab_ok = true;
}

static void
test_vpc_and_internet(void **state)
{
	(void)state;
	if (!lab_ok)
		skip();
	/* Inside a VPC: process to process over the bridge, to the internal router. */
	EXPECT(&a_proc2, pa, 8080, V_OK, 2000);
	EXPECT(&a_proc, ra.private_addr, 80, V_OK, 2000);
	/* Out to the internet (masqueraded): another rack's public router. */
	EXPECT(&a_proc, rb.public_addr, 80, V_OK, 2000);
	/* From the internet: the public router only; no route to any VPC. */
	EXPECT(&in_internet, rb.public_addr, 80, V_OK, 2000);
	EXPECT(&in_internet, rb.private_addr, 80, V_UNREACH, DROP_MS);
	EXPECT(&in_internet, pb, 8080, V_UNREACH, DROP_MS);
	/* No peering yet: A cannot reach B's VPC at all, and fails fast. */
	EXPECT(&a_proc, rb.private_addr, 80, V_UNREACH, DROP_MS);
}

static void
test_peering(void **state)
{
	struct timespec t0;
	char (*pairs)[2][32] = NULL;
	char err[256];
	size_t n;

	(void)state;
	if (!lab_ok)
		skip();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (lab_peer(home, "a", "b", err, sizeof(err)) == -1)
		fail_msg("peer a b: %s", err);
	print_message("# lab_peer: %.1f ms\n", ms_since(&t0));
	assert_int_equal(lab_peer(home, "b", "a", err, sizeof(err)), -1);
	assert_string_equal(err, "racks b and a are already peered");
	assert_int_equal(lab_peer(home, "a", "a", err, sizeof(err)), -1);
	assert_int_equal(lab_peers(home, "b", &pairs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(pairs[0][0], "a");
	assert_string_equal(pairs[0][1], "b");
	free(pairs);
	assert_int_equal(lab_peers(home, "c", &pairs, &n), 0);
	assert_int_equal(n, 0);

	/* The internal router across the peering, both ways, and from the rack
	 * itself (whose route carries src = its gateway). */
	EXPECT(&a_proc, rb.private_addr, 80, V_OK, 2000);
	EXPECT(&b_proc, ra.private_addr, 80, V_OK, 2000);
	EXPECT(&a_rack, rb.private_addr, 80, V_OK, 2000);
	/* Never a process directly: B drops it (silently, as a security group). */
	EXPECT(&a_proc, pb, 8080, V_TIMEOUT, DROP_MS);
	/* Not transitive, and C is not peered: C has no route. */
	EXPECT(&c_proc, rb.private_addr, 80, V_UNREACH, DROP_MS);
	/* Still nothing from the internet. */
	EXPECT(&in_internet, rb.private_addr, 80, V_UNREACH, DROP_MS);
}

static void
test_dns(void **state)
{
	char addr[64];
	struct lab l;
	char err[256];

	(void)state;
	if (!lab_ok)
		skip();
	assert_int_equal(lab_open(&l, home, false, err, sizeof(err)), 0);
	assert_true(lab_dns_running(&l, &dns_pid));
	lab_close(&l);

	assert_int_equal(resolve_in(&a_proc, "x.b-internal.cx.test", addr, sizeof(addr)), 0);
	assert_string_equal(addr, rb.private_addr);
	assert_int_equal(resolve_in(&a_proc, "web.app.b.cx.test", addr, sizeof(addr)), 0);
	assert_string_equal(addr, rb.public_addr);
	assert_int_equal(resolve_in(&in_internet, "web.app.c-internal.cx.test", addr, sizeof(addr)), 0);
	assert_string_equal(addr, rc_.private_addr);
	assert_int_equal(resolve_in(&a_proc, "nope.cx.test", addr, sizeof(addr)), 0);
	assert_string_equal(addr, "");
	/* Set, change and unset a name; the DNS rereads on SIGHUP. */
	assert_int_equal(lab_dns_set(home, "api.example.test", "198.18.1.3"), 0);
	assert_int_equal(lab_dns_set(home, "api.example.test", rc_.public_addr), 0);
	for (int i = 0; i < 100; i++) {
		resolve_in(&a_proc, "api.example.test", addr, sizeof(addr));
		if (strcmp(addr, rc_.public_addr) == 0)
			break;
		sleep_ms(10);
	}
	assert_string_equal(addr, rc_.public_addr);
	assert_int_equal(lab_dns_unset(home, "api.example.test"), 0);
	for (int i = 0; i < 100; i++) {
		resolve_in(&a_proc, "api.example.test", addr, sizeof(addr));
		if (addr[0] == '\0')
			break;
		sleep_ms(10);
	}
	assert_string_equal(addr, "");
	assert_int_equal(lab_dns_set(home, "bad name", "1.2.3.4"), -1);
}

static void
test_forged_route(void **state)
{
	char inet[64], batch[128], err[256];

	(void)state;
	if (!lab_ok)
		skip();
	/* A host on the internet that routes B's CIDR at B's public address
	 * still gets nothing: B accepts only its public router from there. */
	snprintf(inet, sizeof(inet), "%s-inet", prefix);
	snprintf(batch, sizeof(batch), "route add %s via %s\n", rb.cidr, rb.public_addr);
	if (lab_ip(inet, batch, false, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	EXPECT(&in_internet, rb.private_addr, 80, V_TIMEOUT, DROP_MS);
	EXPECT(&in_internet, pb, 8080, V_TIMEOUT, DROP_MS);
	snprintf(batch, sizeof(batch), "route del %s\n", rb.cidr);
	assert_int_equal(lab_ip(inet, batch, false, err, sizeof(err)), 0);
}

static void
test_whitelist(void **state)
{
	char err[256];

	(void)state;
	if (!lab_ok)
		skip();
	assert_int_equal(lab_rack_set_whitelist(home, "b", "10.9.0.0/16, 192.168.1.7", err, sizeof(err)), 0);
	assert_int_equal(lab_rack_get(home, "b", &rb), 0);
	assert_string_equal(rb.whitelist, "10.9.0.0/16,192.168.1.7/32");
	assert_int_equal(lab_rack_set_whitelist(home, "b", "10.9.0.0/33", err, sizeof(err)), -1);
	assert_int_equal(lab_rack_set_whitelist(home, "b", "", err, sizeof(err)), 0);
	/* The peering still works after the rules were rebuilt. */
	EXPECT(&a_proc, rb.private_addr, 80, V_OK, 2000);
}

static void
test_unpeer(void **state)
{
	char err[256];

	(void)state;
	if (!lab_ok)
		skip();
	assert_int_equal(lab_unpeer(home, "b", "a", err, sizeof(err)), 0);
	assert_int_equal(lab_unpeer(home, "a", "b", err, sizeof(err)), -1);
	assert_string_equal(err, "racks a and b are not peered");
	EXPECT(&a_proc, rb.private_addr, 80, V_UNREACH, DROP_MS);
	EXPECT(&b_proc, ra.private_addr, 80, V_UNREACH, DROP_MS);
	/* Peer again, then destroying a rack takes its peerings with it. */
	assert_int_equal(lab_peer(home, "a", "c", err, sizeof(err)), 0);
	EXPECT(&c_proc, ra.private_addr, 80, V_OK, 2000);
}

static void
test_proc_destroy(void **state)
{
	char err[256], addr[16], ns[LAB_NETNS_MAX];

	(void)state;
	if (!lab_ok)
		skip();
	snprintf(ns, sizeof(ns), "%s-r1-web-2", prefix);
	assert_true(lab_netns_exists(ns));
	assert_int_equal(lab_proc_destroy(home, "a", "web-2"), 0);
	assert_false(lab_netns_exists(ns));
	assert_int_equal(lab_proc_destroy(home, "a", "web-2"), 0);
	/* Addresses are not reused at once. */
	assert_int_equal(lab_proc_create(home, "a", "web-3", addr, sizeof(addr), err, sizeof(err)), 0);
	assert_string_equal(addr, "10.1.0.12");
	assert_int_equal(lab_proc_destroy(home, "a", "web-3"), 0);
}

/* After a reboot (or someone's `ip netns del`), lab_restore rebuilds what
 * the state records. First rack b's namespace is lost while processes keep
 * the old one alive (still plugged into the internet); then the internet
 * and the DNS are lost, and the racks that survive must be relinked. */
static void
test_restore(void **state)
{
	struct where b_rack = { IN_RACK, "b", NULL };
	char err[256], addr[64], inet[64];
	struct lab l;
	int pid;

	(void)state;
	if (!lab_ok)
		skip();
	assert_int_equal(lab_netns_del(rb.netns), 0);
	if (lab_restore(home, err, sizeof(err)) == -1)
		fail_msg("lab_restore (rack b lost): %s", err);
	assert_true(lab_netns_exists(rb.netns));
	/* b is new: its process namespace was forgotten, its rules are back. */
	assert_int_equal(lab_open(&l, home, false, err, sizeof(err)), 0);
	assert_null(lab_find_proc(&l.st, "b", "web-1"));
	assert_non_null(lab_find_proc(&l.st, "a", "web-1"));
	lab_close(&l);
	assert_int_equal(lab_proc_create(home, "b", "web-1", pb, sizeof(pb), err, sizeof(err)), 0);
	assert_string_equal(pb, "10.2.0.11");
	start_listener(&b_proc, "0.0.0.0", 8080);
	start_listener(&b_rack, rb.public_addr, 80);
	start_listener(&b_rack, rb.private_addr, 80);
	EXPECT(&in_internet, rb.public_addr, 80, V_OK, 2000);
	EXPECT(&in_internet, rb.private_addr, 80, V_UNREACH, DROP_MS);

	assert_int_equal(lab_open(&l, home, false, err, sizeof(err)), 0);
	assert_true(lab_dns_running(&l, &dns_pid));
	lab_close(&l);
	assert_true(dns_pid > 1); /* never kill(0) or kill(1) */
	kill(dns_pid, SIGKILL);
	for (int i = 0; i < 200 && running(dns_pid); i++)
		sleep_ms(5);
	snprintf(inet, sizeof(inet), "%s-inet", prefix);
	assert_int_equal(lab_netns_del(inet), 0);
	EXPECT(&a_proc, rc_.private_addr, 80, V_OK, 2000); /* the peering a-c does not need the internet */
	if (lab_restore(home, err, sizeof(err)) == -1)
		fail_msg("lab_restore (internet lost): %s", err);
	assert_int_equal(lab_open(&l, home, false, err, sizeof(err)), 0);
	assert_true(lab_dns_running(&l, &pid));
	lab_close(&l);
	assert_int_not_equal(pid, dns_pid);
	dns_pid = pid;
	assert_true(lab_netns_exists(inet));
	EXPECT(&in_internet, ra.public_addr, 80, V_OK, 2000);
	EXPECT(&in_internet, rb.public_addr, 80, V_OK, 2000);
	EXPECT(&a_proc, rc_.private_addr, 80, V_OK, 2000);
	assert_int_equal(resolve_in(&a_proc, "x.c-internal.cx.test", addr, sizeof(addr)), 0);
	assert_string_equal(addr, rc_.private_addr);

	assert_int_equal(lab_peer(home, "a", "b", err, sizeof(err)), 0);
	EXPECT(&a_proc, rb.private_addr, 80, V_OK, 2000);
	EXPECT(&a_proc, pb, 8080, V_TIMEOUT, DROP_MS);
}

static void
test_destroy(void **state)
{
	char err[256], (*pairs)[2][32] = NULL;
	struct lab_rack_info *list = NULL;
	size_t n;

	(void)state;
	if (prefix[0] == '\0')
		skip();
	for (size_t i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	nkids = 0;
	assert_int_equal(lab_rack_destroy(home, "a", err, sizeof(err)), 0);
	assert_int_equal(lab_peers(home, NULL, &pairs, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(lab_rack_destroy(home, "a", err, sizeof(err)), -1);
	assert_string_equal(err, "rack a is not a VPC rack");
	assert_int_equal(lab_rack_destroy(home, "b", err, sizeof(err)), 0);
	assert_true(dns_pid == 0 || running(dns_pid));
	assert_int_equal(lab_rack_destroy(home, "c", err, sizeof(err)), 0);
	assert_int_equal(lab_racks(home, &list, &n), 0);
	assert_int_equal(n, 0);
	assert_null(list);
	/* The last rack took the internet and the DNS with it. */
	assert_false(netns_with_prefix(prefix));
	if (dns_pid > 0)
		assert_false(running(dns_pid));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_privilege),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_racks),
		cmocka_unit_test(test_procs),
		cmocka_unit_test(test_vpc_and_internet),
		cmocka_unit_test(test_peering),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_forged_route),
		cmocka_unit_test(test_whitelist),
		cmocka_unit_test(test_unpeer),
		cmocka_unit_test(test_proc_destroy),
		cmocka_unit_test(test_restore),
		cmocka_unit_test(test_destroy),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
