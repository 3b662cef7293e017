/*
 * main.c — cx-router: the rack's HTTP router (data plane). Parses the
 * command line, loads the route snapshot, starts the workers (worker 0 runs
 * on this thread and also handles signals) and waits for them to stop.
 *
 * With --listen-tls it also speaks TLS 1.3 there: each handshake presents
 * the certificate of the host the client names (SNI), CERTS/HOST.pem with
 * CERTS/HOST.key, loaded with each snapshot; a name without a route or
 * without a certificate fails the handshake (unrecognized_name alert).
 *
 * With --listen-peer it is a peered rack's entrance: TLS 1.3 with a client
 * certificate from one of the snapshot's `peer` CAs; with --listen-egress
 * the way out to peers (plain HTTP in, TLS 1.3 out with --peer-cert). Both
 * are described in docs/router.md, "Peering".
 *
 *   SIGHUP   reload the snapshot (and certificates); requests in flight
 *            finish on the old table. A snapshot refused keeps the old
 *            table, but a peer router then takes an empty one instead
 *            (fails closed): the refused one may have removed a peer.
 *   SIGTERM  stop accepting, let requests in flight finish (5 s), exit 0
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/net.h"
#include "common/tls.h"
#include "common/tls_acme.h"
#include "common/util.h"
#include "router/conn.h"
#include "router/routes.h"
#include "router/worker.h"

#define MAX_WORKERS 64
#define MAX_CONNS 1000000
#define IDLE_S 60		/* --idle-timeout by default */
#define MAX_IDLE_S 86400
#define FD_RESERVE 64	/* listeners, logs, snapshot reads, pooled upstreams beyond the cap */

static struct router_config cfg;
static struct worker *workers;
/* The table whose certificates the next load may reuse (held for that). */
static struct routes *certs_from;
static const char *pidfile;
/* --peer-cert and --peer-key, read again at each reload. */
static struct tls_id *peer_id;

/* Without --max-conns: half the descriptors left after FD_RESERVE, as a
 * connection being proxied holds two (client and upstream), so the cap
 * comes before EMFILE does. */
static size_t
default_max_conns(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 2 * (rlim_t)MAX_CONNS + FD_RESERVE)
		return MAX_CONNS;
	if (rl.rlim_cur < FD_RESERVE + 32)
		return 16;
	return (size_t)(rl.rlim_cur - FD_RESERVE) / 2;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: cx-router --name public|internal|peer --rack NAME --routes FILE\n"
	    "                 [--listen IP:PORT] [--listen-tls IP:PORT --certs DIR]\n"
	    "                 [--listen-peer IP:PORT] [--listen-egress IP:PORT]\n"
	    "                 [--peer-cert FILE --peer-key FILE]\n"
	    "                 [--workers N] [--max-conns N] [--access-log FILE] [--pidfile FILE]\n"
	    "                 [--log-max-mb N] [--idle-timeout SECONDS] [--verbose]\n"
	    "       (at least one listener; --listen-peer and --listen-egress need --peer-cert"
	    " and --peer-key)\n");
	exit(2);
}

/* With --log-max-mb, the router's own log (its stderr, when that is a
 * file, as the rack daemon starts it) rotates at max bytes. */
static void
rotate_stderr(int64_t max)
{
	char path[4096];
	struct stat sb;
	ssize_t n;

	if (fstat(2, &sb) == -1 || !S_ISREG(sb.st_mode))
		return;
	n = readlink("/proc/self/fd/2", path, sizeof(path) - 1);
	if (n <= 0 || path[0] != '/')
		return;
	path[n] = '\0';
	log_to_file(path, max);
}

/* Loads rt's certificates, reusing the last table's for unchanged files,
 * and keeps rt as the next one's source. */
static void
keep_certs(struct routes *rt)
{
	routes_load_certs(rt, certs_from, cfg.certs_dir);
	routes_unref(certs_from);
	routes_hold(rt);
	certs_from = rt;
}

/* Reads --peer-cert/--peer-key again (kept as they were when they fail)
 * and gives rt its peers' trust and contexts. */
static void
load_peers(struct routes *rt)
{
	char err[512];
	struct tls_id *id;

	if (cfg.peer_cert != NULL) {
		id = tls_id_load(cfg.peer_cert, cfg.peer_key, err, sizeof(err));
		if (id == NULL) {
			log_warnx("keeping the peer certificate loaded before: %s", err);
		} else {
			tls_id_free(peer_id);
			peer_id = id;
		}
	}
	routes_load_peers(rt, peer_id);
}

/* Whether this router is a peer router (a peer or egress listener). */
static bool
peers_listen(void)
{
	return cfg.listen[LK_PEER] != NULL || cfg.listen[LK_EGRESS] != NULL;
}

static void
on_hup(struct ev_loop *loop, int signo, void *arg)
{
	char err[512];
	bool missing;
	struct routes *rt;

	(void)loop;
	(void)signo;
	(void)arg;
	rt = routes_load(cfg.routes_path, cfg.nworkers, &missing, err, sizeof(err));
	if (rt == NULL && !peers_listen()) {
		log_warnx("reload refused, keeping the current routes: %s", err);
		M_INC(workers[0].m.reload_errors);
		return;
	}
	if (rt == NULL) {
		/* The refused table may have been the one that removes a peer:
		 * keeping the old one would go on trusting it. Fail closed. */
		log_warnx("reload refused: %s; trusting no peer until a table loads (peer "
		    "connections closed, every peer's handshake refused, egress 404)", err);
		M_INC(workers[0].m.reload_errors);
		rt = routes_empty(cfg.nworkers);
		load_peers(rt);
		for (int i = 0; i < cfg.nworkers; i++)
			worker_post_routes(&workers[i], rt);
		return;
	}
	if (missing)
		log_warnx("reload: %s does not exist; no routes (every host 404)", cfg.routes_path);
	if (cfg.listen[LK_TLS] != NULL)
		keep_certs(rt);
	load_peers(rt);
	log_info("reload: %zu hosts, %zu allow rules, %zu peers, %zu egress domains", rt->nhosts,
	    rt->nallow, rt->npeers, rt->negress);
	M_INC(workers[0].m.reloads);
	for (int i = 0; i < cfg.nworkers; i++)
		worker_post_routes(&workers[i], rt);
}

static void
on_term(struct ev_loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)arg;
	log_info("%s: stopping (in-flight requests get %d ms)", strsignal(signo),
	    cfg.stop_grace_ms);
	for (int i = 0; i < cfg.nworkers; i++)
		worker_post_stop(&workers[i]);
}

static void *
worker_thread(void *arg)
{
	worker_run(arg);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "rack", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-tls", required_argument, NULL, 't' },
		{ "listen-peer", required_argument, NULL, 'P' },
		{ "listen-egress", required_argument, NULL, 'E' },
		{ "peer-cert", required_argument, NULL, 'C' },
		{ "peer-key", required_argument, NULL, 'K' },
		{ "certs", required_argument, NULL, 'c' },
		{ "routes", required_argument, NULL, 'R' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "access-log", required_argument, NULL, 'a' },
		{ "log-max-mb", required_argument, NULL, 'L' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *access_log = NULL;
	struct sockaddr_in sin;
	struct routes *rt;
	char err[512], progname[64], listeners[512] = "";
	bool verbose = false, missing;
	long max_conns = -1, log_mb = 0;
	int ch, idle_s;

	cfg.nworkers = 1;
	cfg.access_fd = -1;
	cfg.stop_grace_ms = 5000;
	cfg.idle_timeout_ms = IDLE_S * 1000;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': cfg.name = optarg; break;
		case 'r': cfg.rack = optarg; break;
		case 'l': cfg.listen[LK_PLAIN] = optarg; break;
		case 't': cfg.listen[LK_TLS] = optarg; break;
		case 'P': cfg.listen[LK_PEER] = optarg; break;
		case 'E': cfg.listen[LK_EGRESS] = optarg; break;
		case 'C': cfg.peer_cert = optarg; break;
		case 'K': cfg.peer_key = optarg; break;
		case 'c': cfg.certs_dir = optarg; break;
		case 'R': cfg.routes_path = optarg; break;
		case 'w':
			if (parse_int(optarg, 1, MAX_WORKERS, &cfg.nworkers) == -1) {
				fprintf(stderr, "cx-router: --workers must be 1..%d\n", MAX_WORKERS);
				exit(2);
			}
			break;
		case 'm':
			if (parse_long(optarg, 0, MAX_CONNS, &max_conns) == -1) {
				fprintf(stderr, "cx-router: --max-conns must be 0 (no cap) to %d, not %s\n",
				    MAX_CONNS, optarg);
				exit(2);
			}
			break;
		case 'a': access_log = optarg; break;
		case 'L':
			if (parse_long(optarg, 1, 10240, &log_mb) == -1) {
				fprintf(stderr, "cx-router: --log-max-mb must be 1 to 10240 (MiB), not %s\n",
				    optarg);
				exit(2);
			}
			break;
		case 'i':
			if (parse_int(optarg, 1, MAX_IDLE_S, &idle_s) == -1) {
				fprintf(stderr, "cx-router: --idle-timeout must be 1 to %d (seconds), "
				    "not %s\n", MAX_IDLE_S, optarg);
				exit(2);
			}
			cfg.idle_timeout_ms = idle_s * 1000;
			break;
		case 'p': pidfile = optarg; break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc || cfg.name == NULL || cfg.rack == NULL || cfg.routes_path == NULL ||
	    (cfg.listen[LK_PLAIN] == NULL && cfg.listen[LK_TLS] == NULL &&
	    cfg.listen[LK_PEER] == NULL && cfg.listen[LK_EGRESS] == NULL))
		usage();
	if (strcmp(cfg.name, "public") != 0 && strcmp(cfg.name, "internal") != 0 &&
	    strcmp(cfg.name, "peer") != 0) {
		fprintf(stderr, "cx-router: --name must be public, internal or peer, not %s\n",
		    cfg.name);
		exit(2);
	}
	if (!valid_name(cfg.rack)) {
		fprintf(stderr, "cx-router: --rack %s is not a rack name ([a-z][a-z0-9-]{0,29})\n",
		    cfg.rack);
		exit(2);
	}
	for (int k = 0; k < LK_COUNT; k++) {
		static const char *const flag[LK_COUNT] = { "--listen", "--listen-tls",
		    "--listen-peer", "--listen-egress" };

		if (cfg.listen[k] == NULL)
			continue;
		if (net_parse_addr(cfg.listen[k], &sin) == -1) {
			fprintf(stderr, "cx-router: %s wants IP:PORT, not %s\n", flag[k], cfg.listen[k]);
			exit(2);
		}
		cfg.listen_port[k] = ntohs(sin.sin_port);
	}
	if ((cfg.listen[LK_TLS] == NULL) != (cfg.certs_dir == NULL)) {
		fprintf(stderr, "cx-router: --listen-tls and --certs go together\n");
		exit(2);
	}
	if ((cfg.peer_cert == NULL) != (cfg.peer_key == NULL) ||
	    ((cfg.listen[LK_PEER] != NULL || cfg.listen[LK_EGRESS] != NULL) &&
	    cfg.peer_cert == NULL)) {
		fprintf(stderr, "cx-router: --listen-peer and --listen-egress need --peer-cert and "
		    "--peer-key\n");
		exit(2);
	}
	cfg.max_conns = max_conns >= 0 ? (size_t)max_conns : default_max_conns();
	snprintf(progname, sizeof(progname), "cx-router[%s]", cfg.name);
	log_init(progname, verbose);
	signal(SIGPIPE, SIG_IGN);

	cfg.log_max = (int64_t)log_mb << 20;
	if (log_mb > 0)
		rotate_stderr(cfg.log_max);
	if (access_log != NULL) {
		cfg.access_path = access_log;
		cfg.access_fd = open(access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (cfg.access_fd == -1)
			fatal("access log %s", access_log);
	}
	rt = routes_load(cfg.routes_path, cfg.nworkers, &missing, err, sizeof(err));
	if (rt == NULL)
		fatalx("%s", err);
	if (missing)
		log_info("%s does not exist yet: no routes (every host 404)", cfg.routes_path);
	if (cfg.listen[LK_TLS] != NULL) {
		cfg.tls = tls_ctx_sni_new(conn_tls_pick, err, sizeof(err));
		if (cfg.tls == NULL)
			fatalx("%s", err);
		tls_ctx_send_chains(cfg.tls);
		{
			static const char *const alpn[] = { "h2", "http/1.1" };

			if (tls_ctx_set_alpn(cfg.tls, alpn, 2, err, sizeof(err)) == -1)
				fatalx("%s", err);
		}
		keep_certs(rt);
	}
	if (cfg.peer_cert != NULL) {
		peer_id = tls_id_load(cfg.peer_cert, cfg.peer_key, err, sizeof(err));
		if (peer_id == NULL)
			fatalx("%s", err);
	}
	routes_load_peers(rt, peer_id);

	for (int k = 0; k < LK_COUNT; k++) {
		static const char *const what[LK_COUNT] = { "", "TLS on ", "peers on ",
		    "egress on " };
		size_t len = strlen(listeners);

		if (cfg.listen[k] != NULL)
			snprintf(listeners + len, sizeof(listeners) - len, "%s%s%s", len > 0 ? ", " : "",
			    what[k], cfg.listen[k]);
	}
	workers = xcalloc((size_t)cfg.nworkers, sizeof(*workers));
	router_workers = xcalloc((size_t)cfg.nworkers, sizeof(*router_workers));
	for (int i = 0; i < cfg.nworkers; i++) {
		router_workers[i] = &workers[i];
		if (worker_init(&workers[i], i, &cfg, rt) == -1)
			fatal("worker %d: listen on %s", i, listeners);
	}
	/* Signals go to worker 0's loop; they are blocked before the other
	 * threads start, so those inherit the mask. */
	if (ev_signal(workers[0].loop, SIGHUP, on_hup, NULL) == -1 ||
	    ev_signal(workers[0].loop, SIGTERM, on_term, NULL) == -1 ||
	    ev_signal(workers[0].loop, SIGINT, on_term, NULL) == -1)
		fatal("signals");
	if (pidfile != NULL) {
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

		if (write_file_atomic(pidfile, pid, (size_t)n, 0644) == -1)
			fatal("pidfile %s", pidfile);
	}
	log_info("listening on %s (rack %s, %d worker%s, %zu hosts, %zu peers, connection cap "
	    "%zu%s)", listeners, cfg.rack, cfg.nworkers, cfg.nworkers == 1 ? "" : "s",
	    rt->nhosts, rt->npeers, cfg.max_conns, cfg.max_conns == 0 ? ": none" : "");
	for (int i = 1; i < cfg.nworkers; i++) {
		int e = pthread_create(&workers[i].thread, NULL, worker_thread, &workers[i]);

		if (e != 0) {
			errno = e;
			fatal("worker thread");
		}
	}
	worker_run(&workers[0]);
	for (int i = 1; i < cfg.nworkers; i++)
		pthread_join(workers[i].thread, NULL);
	for (int i = 0; i < cfg.nworkers; i++)
		worker_free(&workers[i]);
	free(workers);
	free(router_workers);
	routes_unref(certs_from);
	tls_ctx_free(cfg.tls);
	tls_id_free(peer_id);
	if (cfg.access_fd != -1)
		close(cfg.access_fd);
	if (pidfile != NULL)
		unlink(pidfile);
	log_info("stopped");
	return 0;
}
