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
 *       [--start-wait S] [--verbose] -- cx-router --routes /run/cx/routes.public ...
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
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
#include "k8s/watch.h"

#define SA_DIR		"/var/run/secrets/kubernetes.io/serviceaccount"
#define SNAPSHOT_MAX	(1u << 20)	/* the router's ROUTES_MAX_FILE */
#define SETTLE_MS	50		/* events that come together make one snapshot */

enum { W_INGRESSES, W_SERVICES, W_ENDPOINTS, W_COUNT };
static const char *const paths[W_COUNT] = {
	"/apis/networking.k8s.io/v1/ingresses", "/api/v1/services", "/api/v1/endpoints",
};

static int sigpipe_fds[2] = { -1, -1 };

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
	    "                  [--start-wait SECONDS] [--verbose] -- ROUTER-COMMAND [ARG...]\n");
	exit(2);
}

/* Makes the snapshot of what the watches hold: 1 when it differs from last
 * (which then holds it), 0 when not or not all listed yet, -1 too large. */
static int
make_snapshot(struct k8s_watch *w, const char *klass, struct buf *last, struct buf *last_warn)
{
	jv *v[W_COUNT];
	struct buf text, warn;
	int rc = 0;

	for (int i = 0; i < W_COUNT; i++)
		v[i] = k8s_watch_copy(&w[i]);
	if (v[0] == NULL || v[1] == NULL || v[2] == NULL)
		goto out;
	buf_init(&text, SNAPSHOT_MAX);
	buf_init(&warn, 64u << 10);
	if (k8s_ingress_snapshot(v[0], v[1], v[2], klass, &text, &warn) == -1) {
		log_warnx("the routes of class %s pass %u bytes: keeping the last table", klass,
		    SNAPSHOT_MAX);
		rc = -1;
	} else if (last->len != text.len || (text.len > 0 && memcmp(last->data, text.data,
	    text.len) != 0)) {
		buf_free(last);
		*last = text;
		buf_init(&text, 0);
		rc = 1;
	}
	/* What is left out is said once, when it changes. */
	if (warn.len != last_warn->len || (warn.len > 0 && memcmp(warn.data, last_warn->data,
	    warn.len) != 0)) {
		for (char *l = warn.data, *nl; l != NULL && (nl = memchr(l, '\n',
		    warn.len - (size_t)(l - warn.data))) != NULL; l = nl + 1)
			log_warnx("%.*s", (int)(nl - l), l);
		buf_free(last_warn);
		*last_warn = warn;
		buf_init(&warn, 0);
	}
	buf_free(&text);
	buf_free(&warn);
out:
	for (int i = 0; i < W_COUNT; i++)
		jv_free(v[i]);
	return rc;
}

static pid_t
start_router(char **argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "cx-ingress: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
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
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "context", required_argument, NULL, 'x' },
		{ "in-cluster", no_argument, NULL, 'i' },
		{ "start-wait", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *klass = NULL, *routes = NULL, *kubeconfig = NULL, *context = NULL;
	bool in_cluster = false, verbose = false;
	long start_wait = 10;
	struct kubeconfig kc;
	struct k8s_watch w[W_COUNT];
	struct buf last, last_warn;
	int ev[2], c, status = 0, rc = 1;
	int64_t start_by, settle_at = -1;
	pid_t router = -1;
	char err[1024];

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'c': klass = optarg; break;
		case 'r': routes = optarg; break;
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
	if (klass == NULL || routes == NULL || optind >= argc || (kubeconfig == NULL) == !in_cluster)
		usage();
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
	for (int i = 0; i < W_COUNT; i++) {
		if (k8s_watch_start(&w[i], &kc, paths[i], ev[1], err, sizeof(err)) == -1)
			fatalx("%s", err);
	}
	log_info("class %s: watching %s's Ingresses, Services and Endpoints; routes to %s", klass,
	    kc.server, routes);
	buf_init(&last, SNAPSHOT_MAX);
	buf_init(&last_warn, 0);
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
			int made = make_snapshot(w, klass, &last, &last_warn);

			settle_at = -1;
			if (made == 1 && write_file_atomic(routes, last.data, last.len, 0644) == -1) {
				log_warn("cannot write %s (again at the next change)", routes);
				buf_free(&last);
				buf_init(&last, SNAPSHOT_MAX);
			} else if (made == 1) {
				log_info("routes: %zu hosts", hosts_of(&last));
				if (router > 0)
					kill(router, SIGHUP);
			}
		}
		if (router == -1 && (last.len > 0 || now >= start_by)) {
			if (last.len == 0)
				log_warnx("no routes from the API server after %ld s: the router "
				    "starts with none", start_wait);
			if ((router = start_router(argv + optind)) == -1)
				break;
		}
	}
	for (int i = 0; i < W_COUNT; i++)
		k8s_watch_stop(&w[i]);
	buf_free(&last);
	buf_free(&last_warn);
	kubeconfig_free(&kc);
	return rc;
}
