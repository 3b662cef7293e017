/*
 * cx-ingress — cx's router as a Kubernetes ingress controller. It watches
 * the cluster's Ingresses, Services and Endpoints (src/k8s/watch.c), makes
 * the route snapshot of its ingress class from them (src/k8s/ingress.c),
 * and runs the router it was given after "--" as its child: each snapshot
 * that differs from the last is written to --routes (a temp file renamed
 * into place) and the router told with SIGHUP, as the rack's daemon does
 * on a host. The router starts once the first snapshot is written (or after
 * --start-wait seconds without the API server: it serves what it has,
 * nothing at first); the controller goes when the router goes, with its
 * status, and SIGTERM/SIGINT pass to the router. The router keeps serving
 * its last table while the API server is away.
 *
 *   cx-ingress --class cx --routes /run/cx/routes.public
 *       (--kubeconfig FILE [--context NAME] | --in-cluster)
 *       [--rack NAME [--peers DIR]] [--certs DIR] [--start-wait S] [--verbose]
 *       -- cx-router --routes /run/cx/routes.public [--listen-tls IP:443 --certs DIR] ...
 *
 * With --peers DIR (and --rack) it also keeps the router's peering in step
 * with the rack's Secret peer and ConfigMap peers in RACK-system: the
 * identity to DIR/peer.pem and DIR/peer.key (0600), each peer's CA to
 * DIR/peers/NAME.pem, and a "peer" and an "egress" line per peer in the
 * snapshot (k8s/peering.h); the router, run with --listen-peer and
 * --peer-cert DIR/peer.pem, serves the class's hosts to those peers. It
 * starts once the identity is written (or after --start-wait).
 *
 * With --rack only Ingresses labelled cx.rack=NAME are served: racks that
 * share a cluster share the class names. With --certs it also watches the cluster's kubernetes.io/tls Secrets and
 * writes the certificate of each host an Ingress lists in spec.tls to
 * DIR/HOST.pem and DIR/HOST.key (0600), before the snapshot that names it;
 * such hosts get flag redirect (docs/kubernetes.md).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "k8s/ingress.h"
#include "k8s/kubeconfig.h"
#include "k8s/peering.h"
#include "k8s/watch.h"

#define SA_DIR		"/var/run/secrets/kubernetes.io/serviceaccount"
#define SNAPSHOT_MAX	(1u << 20)	/* the router's ROUTES_MAX_FILE */
#define SETTLE_MS	50		/* events that come together make one snapshot */

enum { W_INGRESSES, W_SERVICES, W_ENDPOINTS, W_SECRETS, W_PEERS, W_IDENTITY, W_COUNT };
static char paths[W_COUNT][256] = {
	"/apis/networking.k8s.io/v1/ingresses", "/api/v1/services", "/api/v1/endpoints",
	/* Only certificates: the apps' other Secrets are none of the router's. */
	"/api/v1/secrets?fieldSelector=type%3Dkubernetes.io%2Ftls",
	/* --peers: the rack's peering, by name in RACK-system (set in main). */
	"", "",
};

/* What one pass writes, and what it wrote last. */
struct state {
	struct k8s_ingress_scope scope;		/* the class, and the rack or NULL */
	const char *routes, *certs_dir;		/* certs_dir NULL: no TLS, no Secrets */
	const char *peers_dir;			/* NULL: no peering */
	char peers_ns[64];			/* RACK-system */
	bool identity;				/* DIR/peer.pem and peer.key written */
	struct buf last, last_warn;
	char *last_hosts;			/* the certificate hosts written last, "\n"-ended */
};

static int sigpipe_fds[2] = { -1, -1 };

/* Whether watch i runs for st's options. */
static bool
watched(const struct state *st, int i)
{
	return i == W_SECRETS ? st->certs_dir != NULL : i >= W_PEERS ? st->peers_dir != NULL :
	    true;
}

static void
on_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int e = errno;

	if (write(sigpipe_fds[1], &c, 1) == -1) {
		/* full: a signal is pending there already */
	}
	errno = e;
}

static void
usage(void)
{
	fprintf(stderr, "usage: cx-ingress --class NAME --routes FILE (--kubeconfig FILE "
	    "[--context NAME] | --in-cluster)\n"
	    "                  [--rack NAME [--peers DIR]] [--certs DIR] [--start-wait SECONDS] "
	    "[--verbose] -- "
	    "ROUTER-COMMAND [ARG...]\n");
	exit(2);
}

/* Writes DIR/HOST.key then DIR/HOST.pem (each by rename: the router sees
 * a new file) when they differ from what is there; *changed when written.
 * -1 when one cannot be written (a full or read-only DIR): both are then
 * removed, as far as DIR lets, so that the router holds no key of one
 * certificate with the other's PEM. */
static int
write_cert(const char *dir, const struct k8s_ingress_cert *c, bool *changed)
{
	char path[4400], *have;
	size_t len;
	int rc = 0;
	const struct { const char *ext, *data; size_t n; } f[2] = {
		{ "key", c->key, c->key_len }, { "pem", c->cert, c->cert_len },
	};

	for (int i = 0; i < 2 && rc == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s.%s", dir, c->host, f[i].ext);
		have = read_file(path, 1u << 20, &len);
		if (have == NULL || len != f[i].n || memcmp(have, f[i].data, len) != 0) {
			if (write_file_atomic(path, f[i].data, f[i].n, 0600) == -1) {
				log_warn("cannot write %s: %s is served over plain HTTP only", path,
				    c->host);
				rc = -1;
			}
			*changed = true;
		}
		if (have != NULL)
			explicit_bzero(have, len);
		free(have);
	}
	for (int i = 0; i < 2 && rc == -1; i++) {
		snprintf(path, sizeof(path), "%s/%s.%s", dir, c->host, f[i].ext);
		unlink(path);
	}
	return rc;
}

/* Writes data to path (0600, by rename) unless it holds that already.
 * True when written. */
static bool
write_if_changed(const char *path, const char *data, size_t n)
{
	size_t len;
	char *have = read_file(path, 1u << 20, &len);
	bool changed = have == NULL || len != n || memcmp(have, data, n) != 0;

	if (have != NULL)
		explicit_bzero(have, len);
	free(have);
	if (changed && write_file_atomic(path, data, n, 0600) == -1) {
		log_warn("cannot write %s", path);
		return false;
	}
	return changed;
}

/* The rack's peer identity from Secret peer (its tls.crt and tls.key) to
 * DIR/peer.key then DIR/peer.pem. True when a file changed. */
static bool
write_identity(struct state *st, const jv *secrets)
{
	char key[128], path[4200];
	const jv *sec, *data;
	const char *const member[2] = { "tls.key", "tls.crt" }, *const file[2] = { "peer.key",
	    "peer.pem" };
	unsigned char *pem[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 };
	bool changed = false;

	snprintf(key, sizeof(key), "%s/peer", st->peers_ns);
	sec = jv_get(secrets, key);
	data = jv_get(sec, "data");
	for (int i = 0; i < 2; i++) {
		const char *b = jv_str(data, member[i]);

		pem[i] = b[0] != '\0' ? base64_decode(b, strlen(b), &len[i]) : NULL;
	}
	if (pem[0] == NULL || pem[1] == NULL) {
		if (st->identity || sec != NULL)
			log_warnx("Secret %s has no base64 tls.crt and tls.key: the peer listener keeps "
			    "the identity it has (none until one is there)", key);
	} else {
		for (int i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "%s/%s", st->peers_dir, file[i]);
			changed |= write_if_changed(path, (const char *)pem[i], len[i]);
		}
		st->identity = true;
	}
	for (int i = 0; i < 2; i++) {
		if (pem[i] != NULL)
			explicit_bzero(pem[i], len[i]);
		free(pem[i]);
	}
	return changed;
}

/* The peers of ConfigMap peers: their CAs to DIR/peers/NAME.pem (others
 * there removed) and their lines to text. True when a CA file changed;
 * *full when text could not take the lines. */
static bool
write_peers(struct state *st, const jv *cms, struct buf *text, struct buf *warn, bool *full)
{
	char key[128], dir[4200], path[4400];
	struct k8s_peering_entry *e;
	size_t n;
	bool changed = false;
	DIR *d;
	struct dirent *de;

	snprintf(key, sizeof(key), "%s/peers", st->peers_ns);
	if (k8s_peering_parse(jv_get(cms, key), &e, &n, warn) == -1)
		buf_addf(warn, "configmap %s: data.peers is not text: no peers\n", key);
	snprintf(dir, sizeof(dir), "%s/peers", st->peers_dir);
	if (mkdir_p(dir, 0700) == -1)
		log_warn("cannot make %s", dir);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s.pem", dir, e[i].name);
		changed |= write_if_changed(path, e[i].ca, strlen(e[i].ca));
		if (buf_addf(text, "peer %s %s\negress %s %s %s %s\n", e[i].name, path, e[i].domain,
		    e[i].name, e[i].ip, e[i].port) == -1)
			*full = true;
	}
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			bool known = false;

			if (de->d_name[0] == '.')
				continue;
			for (size_t i = 0; i < n && !known; i++) {
				snprintf(path, sizeof(path), "%s.pem", e[i].name);
				known = strcmp(de->d_name, path) == 0;
			}
			if (!known && unlinkat(dirfd(d), de->d_name, 0) == 0)
				changed = true;
		}
		closedir(d);
	}
	k8s_peering_free(e, n);
	return changed;
}

/* Removes the files of hosts written last that are not in now. */
static bool
remove_stale(const char *dir, const char *last, const char *now)
{
	char *copy = xstrdup(last != NULL ? last : ""), *save = NULL, path[4400], want[300];
	bool changed = false;

	for (char *h = strtok_r(copy, "\n", &save); h != NULL; h = strtok_r(NULL, "\n", &save)) {
		snprintf(want, sizeof(want), "\n%s\n", h);
		if (strstr(now, want) != NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s.pem", dir, h);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.key", dir, h);
		unlink(path);
		changed = true;
	}
	free(copy);
	return changed;
}

/* The hosts whose HOST.pem or HOST.key is in dir now, "\n"-separated as
 * remove_stale reads them: what an earlier run left, pruned at the first
 * snapshot unless a host is still served. */
static char *
certs_on_disk(const char *dir)
{
	struct buf b;
	struct dirent *e;
	DIR *d = opendir(dir);
	char *r;

	buf_init(&b, 0);
	buf_adds(&b, "\n");
	while (d != NULL && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		bool host = n > 4 && n - 4 <= 253 && e->d_name[0] != '.';

		for (size_t i = 0; host && i < n - 4; i++)
			host = isalnum((unsigned char)e->d_name[i]) || e->d_name[i] == '-' ||
			    e->d_name[i] == '.';
		if (host && (strcmp(e->d_name + n - 4, ".pem") == 0 ||
		    strcmp(e->d_name + n - 4, ".key") == 0))
			buf_addf(&b, "%.*s\n", (int)(n - 4), e->d_name);
	}
	if (d != NULL)
		closedir(d);
	r = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* The peering's files and lines (write_identity, write_peers); *reload
 * set when a file changed. True when text is full. */
static bool
peer_lines(struct state *st, jv **v, struct buf *text, struct buf *warn, bool *reload)
{
	bool full = false;

	*reload |= write_identity(st, v[W_IDENTITY]);
	*reload |= write_peers(st, v[W_PEERS], text, warn, &full);
	return full;
}

/* The snapshot made again into *text and *warn (emptied first) with the
 * hosts in unwritten ("\n"-framed) served over plain HTTP only: their
 * certificates could not be written, and a host flagged redirect without
 * one would answer neither way. 0, or -1 when it passes SNAPSHOT_MAX. */
static int
remake_without(jv **v, const struct state *st, const char *unwritten, struct buf *text,
    struct buf *warn)
{
	struct k8s_ingress_scope scope = st->scope;
	struct k8s_ingress_cert *certs = NULL;
	size_t ncerts = 0;
	int rc;

	scope.unwritten = unwritten;
	buf_reset(text);
	buf_reset(warn);
	rc = k8s_ingress_snapshot(v[0], v[1], v[2], v[W_SECRETS], &scope, text, warn, &certs,
	    &ncerts);
	k8s_ingress_certs_free(certs, ncerts);
	return rc;
}

/* Makes the snapshot of what the watches hold and writes what changed: the
 * certificates first, then the snapshot that names their hosts. True when
 * the router must reload; false when nothing changed, not everything is
 * listed yet, or the snapshot is too large (the last one stays). */
static bool
make_snapshot(struct k8s_watch *w, struct state *st)
{
	jv *v[W_COUNT] = { NULL };
	struct buf text, warn, unwritten;
	struct k8s_ingress_cert *certs = NULL;
	size_t ncerts = 0;
	bool reload = false;

	for (int i = 0; i < W_COUNT; i++) {
		if (watched(st, i) && (v[i] = k8s_watch_copy(&w[i])) == NULL)
			goto out;	/* not listed yet */
	}
	buf_init(&text, SNAPSHOT_MAX);
	buf_init(&warn, 64u << 10);
	buf_init(&unwritten, 0);
	buf_adds(&unwritten, "\n");
	if (k8s_ingress_snapshot(v[0], v[1], v[2], v[W_SECRETS], &st->scope, &text, &warn, &certs,
	    &ncerts) == -1 || (st->peers_dir != NULL && peer_lines(st, v, &text, &warn, &reload))) {
		log_warnx("the routes of class %s pass %u bytes: keeping the last table", st->scope.klass,
		    SNAPSHOT_MAX);
	} else {
		if (st->certs_dir != NULL) {
			struct buf hosts;

			buf_init(&hosts, 0);
			buf_adds(&hosts, "\n");
			for (size_t i = 0; i < ncerts; i++) {
				if (write_cert(st->certs_dir, &certs[i], &reload) == -1)
					buf_addf(&unwritten, "%s\n", certs[i].host);
				else
					buf_addf(&hosts, "%s\n", certs[i].host);
			}
			reload |= remove_stale(st->certs_dir, st->last_hosts, hosts.data);
			free(st->last_hosts);
			st->last_hosts = xstrdup(hosts.data);
			buf_free(&hosts);
		}
		/* Made again, the snapshot takes the peering's lines again too. */
		if (unwritten.len > 1 && (remake_without(v, st, unwritten.data, &text, &warn) == -1 ||
		    (st->peers_dir != NULL && peer_lines(st, v, &text, &warn, &reload)))) {
			log_warnx("the routes of class %s pass %u bytes: keeping the last table",
			    st->scope.klass, SNAPSHOT_MAX);
		} else if (st->last.len != text.len || memcmp(st->last.data, text.data, text.len) != 0) {
			if (write_file_atomic(st->routes, text.data, text.len, 0644) == -1) {
				log_warn("cannot write %s (again at the next change)", st->routes);
			} else {
				buf_free(&st->last);
				st->last = text;
				buf_init(&text, 0);
				reload = true;
			}
		}
	}
	/* What is left out is said once, when it changes. */
	if (warn.len != st->last_warn.len || (warn.len > 0 && memcmp(warn.data,
	    st->last_warn.data, warn.len) != 0)) {
		for (char *l = warn.data, *nl; l != NULL && (nl = memchr(l, '\n',
		    warn.len - (size_t)(l - warn.data))) != NULL; l = nl + 1)
			log_warnx("%.*s", (int)(nl - l), l);
		buf_free(&st->last_warn);
		st->last_warn = warn;
		buf_init(&warn, 0);
	}
	buf_free(&text);
	buf_free(&warn);
	buf_free(&unwritten);
	k8s_ingress_certs_free(certs, ncerts);
out:
	for (int i = 0; i < W_COUNT; i++)
		jv_free(v[i]);
	return reload;
}

static pid_t
start_router(char **argv)
{
	sigset_t all, old;
	pid_t pid;

	/* No signal is taken between the fork and the exec by our handler,
	 * which would write to our signal pipe (a SIGTERM for the router
	 * read as one for us). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		sigset_t hup;
		char msg[512];
		int n;

		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		/* SIGHUP stays blocked across exec: one sent before the router
		 * takes it (cx-router reads it from a signalfd) waits instead of
		 * killing it, its default. */
		sigemptyset(&hup);
		sigaddset(&hup, SIGHUP);
		sigprocmask(SIG_SETMASK, &hup, NULL);
		execvp(argv[0], argv);
		/* write(2), not stdio: a watch thread may have held stderr's
		 * lock at the fork, and this child has no such thread to free it. */
		n = snprintf(msg, sizeof(msg), "cx-ingress: cannot run %s: %s\n", argv[0],
		    strerror(errno));
		if (n > 0 && write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0)
			_exit(127);
		_exit(127);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid == -1)
		log_warn("fork");
	else
		log_info("router %s started (pid %d)", argv[0], (int)pid);
	return pid;
}

/* Counts the host lines of a snapshot, for the log. */
static size_t
hosts_of(const struct buf *b)
{
	size_t n = 0;

	for (size_t i = 0; i + 5 <= b->len; i++)
		n += (i == 0 || b->data[i - 1] == '\n') && memcmp(b->data + i, "host ", 5) == 0;
	return n;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "class", required_argument, NULL, 'c' },
		{ "routes", required_argument, NULL, 'r' },
		{ "rack", required_argument, NULL, 'R' },
		{ "certs", required_argument, NULL, 'C' },
		{ "peers", required_argument, NULL, 'p' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "context", required_argument, NULL, 'x' },
		{ "in-cluster", no_argument, NULL, 'i' },
		{ "start-wait", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *kubeconfig = NULL, *context = NULL;
	struct state st = { NULL };
	bool in_cluster = false, verbose = false;
	long start_wait = 10;
	struct kubeconfig kc;
	struct k8s_watch w[W_COUNT];
	int ev[2], c, status = 0, rc = 1;
	int64_t start_by, settle_at = -1;
	pid_t router = -1;
	char err[1024];

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'c': st.scope.klass = optarg; break;
		case 'R': st.scope.rack = optarg; break;
		case 'r': st.routes = optarg; break;
		case 'C': st.certs_dir = optarg; break;
		case 'p': st.peers_dir = optarg; break;
		case 'k': kubeconfig = optarg; break;
		case 'x': context = optarg; break;
		case 'i': in_cluster = true; break;
		case 'v': verbose = true; break;
		case 's':
			start_wait = strtol(optarg, &end, 10);
			if (*end != '\0' || start_wait < 0 || start_wait > 3600) {
				fprintf(stderr, "cx-ingress: --start-wait %s: want 0 to 3600 seconds\n",
				    optarg);
				return 2;
			}
			break;
		default: usage();
		}
	}
	if (st.scope.klass == NULL || st.routes == NULL || optind >= argc || (kubeconfig == NULL) == !in_cluster)
		usage();
	if (st.peers_dir != NULL && (st.scope.rack == NULL || !valid_name(st.scope.rack))) {
		fprintf(stderr, "cx-ingress: --peers needs --rack NAME (a rack name): the peering "
		    "is in Namespace RACK-system\n");
		return 2;
	}
	if (st.peers_dir != NULL) {
		snprintf(st.peers_ns, sizeof(st.peers_ns), "%s-system", st.scope.rack);
		snprintf(paths[W_PEERS], sizeof(paths[W_PEERS]),
		    "/api/v1/namespaces/%s/configmaps?fieldSelector=metadata.name%%3Dpeers", st.peers_ns);
		snprintf(paths[W_IDENTITY], sizeof(paths[W_IDENTITY]),
		    "/api/v1/namespaces/%s/secrets?fieldSelector=metadata.name%%3Dpeer", st.peers_ns);
	}
	log_init("cx-ingress", verbose);
	if ((in_cluster ? kubeconfig_in_cluster(SA_DIR, &kc, err, sizeof(err)) :
	    kubeconfig_load(kubeconfig, context, &kc, err, sizeof(err))) == -1) {
		fprintf(stderr, "cx-ingress: %s\n", err);
		kubeconfig_free(&kc);
		return 2;
	}
	if (pipe2(ev, O_CLOEXEC | O_NONBLOCK) == -1 || pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK)
	    == -1)
		fatal("pipe");
	{
		struct sigaction sa = { .sa_handler = on_signal };

		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGCHLD, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
	}
	if (st.certs_dir != NULL && mkdir_p(st.certs_dir, 0700) == -1)
		fatal("cannot make %s", st.certs_dir);
	if (st.certs_dir != NULL)
		st.last_hosts = certs_on_disk(st.certs_dir);
	if (st.peers_dir != NULL && mkdir_p(st.peers_dir, 0700) == -1)
		fatal("cannot make %s", st.peers_dir);
	for (int i = 0; i < W_COUNT; i++) {
		if (watched(&st, i) &&
		    k8s_watch_start(&w[i], &kc, paths[i], ev[1], err, sizeof(err)) == -1)
			fatalx("%s", err);
	}
	log_info("class %s%s%s: watching %s's Ingresses, Services, Endpoints%s; routes to %s",
	    st.scope.klass, st.scope.rack != NULL ? ", rack " : "", st.scope.rack != NULL ?
	    st.scope.rack : "", kc.server, st.certs_dir != NULL ? " and TLS Secrets" : "", st.routes);
	if (st.peers_dir != NULL)
		log_info("peering: Secret %s/peer and ConfigMap %s/peers to %s", st.peers_ns,
		    st.peers_ns, st.peers_dir);
	buf_init(&st.last, SNAPSHOT_MAX);
	buf_init(&st.last_warn, 0);
	start_by = now_ms() + start_wait * 1000;
	for (;;) {
		struct pollfd pf[2] = { { ev[0], POLLIN, 0 }, { sigpipe_fds[0], POLLIN, 0 } };
		int64_t now = now_ms(), wake = settle_at >= 0 ? settle_at : router == -1 ? start_by :
		    -1;
		unsigned char buf[64];

		if (poll(pf, 2, wake < 0 ? -1 : wake <= now ? 0 : (int)(wake - now)) == -1 &&
		    errno != EINTR)
			fatal("poll");
		if (pf[0].revents & POLLIN) {
			while (read(ev[0], buf, sizeof(buf)) > 0)
				;
			if (settle_at < 0)
				settle_at = now_ms() + SETTLE_MS;
		}
		if (pf[1].revents & POLLIN) {
			ssize_t n = read(sigpipe_fds[0], buf, sizeof(buf));
			bool term = false;

			for (ssize_t i = 0; i < n; i++)
				term |= buf[i] == SIGTERM || buf[i] == SIGINT;
			if (router > 0 && waitpid(router, &status, WNOHANG) == router) {
				log_warnx("the router (pid %d) exited %s %d", (int)router,
				    WIFSIGNALED(status) ? "on signal" : "with",
				    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
				rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
				router = -1;
				break;
			}
			if (term) {
				log_info("stopping: the router (pid %d) too", (int)router);
				if (router > 0) {
					kill(router, SIGTERM);
					for (int i = 0; i < 100 && waitpid(router, &status, WNOHANG) == 0;
					    i++)
						usleep(100000);
					if (waitpid(router, &status, WNOHANG) == 0) {
						kill(router, SIGKILL);
						waitpid(router, &status, 0);
					}
				}
				rc = 0;
				break;
			}
		}
		now = now_ms();
		if (settle_at >= 0 && now >= settle_at) {
			settle_at = -1;
			if (make_snapshot(w, &st)) {
				log_info("routes: %zu hosts", hosts_of(&st.last));
				if (router > 0)
					kill(router, SIGHUP);
			}
		}
		if (router == -1 && ((st.last.len > 0 && (st.peers_dir == NULL || st.identity)) ||
		    now >= start_by)) {
			if (st.last.len == 0)
				log_warnx("no routes from the API server after %ld s: the router "
				    "starts with none", start_wait);
			if (st.peers_dir != NULL && !st.identity)
				log_warnx("no peer identity (Secret %s/peer) after %ld s: the router "
				    "cannot listen for peers without it", st.peers_ns, start_wait);
			if ((router = start_router(argv + optind)) == -1)
				break;
		}
	}
	for (int i = 0; i < W_COUNT; i++) {
		if (watched(&st, i))
			k8s_watch_stop(&w[i]);
	}
	buf_free(&st.last);
	buf_free(&st.last_warn);
	free(st.last_hosts);
	kubeconfig_free(&kc);
	return rc;
}
