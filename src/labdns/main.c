/*
 * cx-labdns — the lab's public DNS: answers A queries over UDP from the hosts
 * file that the lab module writes ($CX_HOME/lab/hosts), and rereads it on
 * SIGHUP. The lab starts it inside the internet namespace, daemonized, with
 * its output in $CX_HOME/lab/dns.log; it writes its pid once it is listening.
 * With --forward RESOLV (a host rack's DNS, on the rack's gateway) the names
 * the table does not know go to the nameservers RESOLV names (forward.h),
 * except those under .local: the rack's own, answered NXDOMAIN here.
 *
 *   cx-labdns --listen ADDR:PORT --hosts FILE [--forward RESOLV] [--pidfile FILE] [-v]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "labdns/dnsmsg.h"
#include "labdns/forward.h"
#include "labdns/hosts.h"

struct server {
	const char *hosts_path;
	const char *pidfile;
	struct labdns_hosts hosts;
	struct labdns_fwd *fwd;     /* NULL: answer NXDOMAIN for unknown names */
	int fd;
};

static void
usage(void)
{
	fprintf(stderr, "usage: cx-labdns --listen ADDR:PORT --hosts FILE [--forward RESOLV] [--pidfile FILE] [-v]\n");
	exit(2);
}

static void
reload(struct server *s)
{
	struct labdns_hosts h;
	char err[256];

	if (labdns_hosts_load(s->hosts_path, &h, err, sizeof(err)) == -1) {
		log_warnx("%s: %s; keeping the %zu names loaded before", s->hosts_path, err,
		    s->hosts.n);
		return;
	}
	labdns_hosts_free(&s->hosts);
	s->hosts = h;
	log_info("loaded %zu names from %s", h.n, s->hosts_path);
}

static void
on_signal(struct ev_loop *loop, int signo, void *arg)
{
	struct server *s = arg;

	if (signo == SIGHUP) {
		reload(s);
		return;
	}
	log_info("signal %d, exiting", signo);
	ev_stop(loop);
}

static void
on_query(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct server *s = arg;
	uint8_t q[1500], a[LABDNS_UDP_MAX];
	struct sockaddr_storage from;

	(void)loop;
	(void)events;
	/* Drain what is queued, bounded so signals still get their turn. */
	for (int i = 0; i < 64; i++) {
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, q, sizeof(q), MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
		size_t alen;

		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("recvfrom");
			return;
		}
		alen = labdns_answer(&s->hosts, q, (size_t)n > sizeof(q) ? sizeof(q) : (size_t)n,
		    (size_t)n > sizeof(q), a, sizeof(a));
		/* Byte 3's low nibble is the rcode: a name we do not know goes
		 * upstream, unless it is one of the rack's own (.local). */
		if (s->fwd != NULL && alen > 3 && (a[3] & 0x0f) == LABDNS_NXDOMAIN &&
		    !labdns_query_is_local(q, (size_t)n > sizeof(q) ? sizeof(q) : (size_t)n)) {
			labdns_fwd_query(s->fwd, q, (size_t)n, &from, fromlen);
			continue;
		}
		if (alen > 0 && sendto(fd, a, alen, 0, (struct sockaddr *)&from, fromlen) == -1)
			log_warn("sendto");
	}
}

static int
write_pidfile(const char *path)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());

	return write_file_atomic(path, line, (size_t)n, 0644);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "hosts", required_argument, NULL, 'H' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "forward", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct server s = { .fd = -1 };
	struct sockaddr_in sin;
	struct ev_loop *loop;
	const char *listen_addr = NULL, *forward = NULL;
	char err[256];
	bool verbose = false;
	int c, one = 1;

	while ((c = getopt_long(argc, argv, "l:H:p:f:v", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_addr = optarg; break;
		case 'H': s.hosts_path = optarg; break;
		case 'p': s.pidfile = optarg; break;
		case 'f': forward = optarg; break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc || listen_addr == NULL || s.hosts_path == NULL)
		usage();
	log_init("cx-labdns", verbose);
	signal(SIGPIPE, SIG_IGN);

	if (net_parse_addr(listen_addr, &sin) == -1)
		fatalx("--listen %s: want ADDR:PORT, e.g. 198.18.0.53:53", listen_addr);
	if (labdns_hosts_load(s.hosts_path, &s.hosts, err, sizeof(err)) == -1)
		fatalx("%s", err);

	s.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s.fd == -1)
		fatal("socket");
	setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s.fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fatal("bind %s", listen_addr);

	if ((loop = ev_new()) == NULL)
		fatal("ev_new");
	if (forward != NULL &&
	    (s.fwd = labdns_fwd_new(loop, s.fd, forward, &sin, err, sizeof(err))) == NULL)
		fatalx("--forward: %s", err);
	if (ev_add(loop, s.fd, EV_READ, on_query, &s) == -1 ||
	    ev_signal(loop, SIGHUP, on_signal, &s) == -1 ||
	    ev_signal(loop, SIGTERM, on_signal, &s) == -1 ||
	    ev_signal(loop, SIGINT, on_signal, &s) == -1)
		fatal("event loop");
	/* The pid file says "ready": the lab waits for it before going on. */
	if (s.pidfile != NULL && write_pidfile(s.pidfile) == -1)
		fatal("%s", s.pidfile);
	log_info("listening on %s (udp), %zu names from %s%s%s", listen_addr, s.hosts.n, s.hosts_path,
	    s.fwd != NULL ? ", forwarding the rest to the nameservers of " : "",
	    s.fwd != NULL ? forward : "");

	ev_run(loop);

	if (s.pidfile != NULL) {
		char *text = read_file(s.pidfile, 64, NULL);
		int pid;

		/* Remove it only if it is still ours (a successor may have replaced it). */
		if (text != NULL && sscanf(text, "%d", &pid) == 1 && pid == (int)getpid())
			unlink(s.pidfile);
		free(text);
	}
	labdns_fwd_free(s.fwd);
	ev_free(loop);
	close(s.fd);
	labdns_hosts_free(&s.hosts);
	return 0;
}
