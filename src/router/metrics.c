/*
 * metrics.c — see metrics.h. Rendering sums every worker's counters; per-host
 * series are merged by host name and status code.
 */
#include "router/metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/routes.h"
#include "router/worker.h"

void
metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

void
metrics_free(struct metrics *m)
{
	for (size_t i = 0; i < m->nhosts; i++) {
		free(m->hosts[i]->host);
		free(m->hosts[i]->app);
		free(m->hosts[i]->service);
		free(m->hosts[i]);
	}
	free(m->hosts);
	pthread_mutex_destroy(&m->lock);
}

struct host_stats *
metrics_host(struct metrics *m, const char *host, const char *app, const char *service)
{
	struct host_stats *hs;

	/* Owner only: the shape does not change under us, no lock to read. */
	for (size_t i = 0; i < m->nhosts; i++) {
		hs = m->hosts[i];
		if (strcmp(hs->host, host) == 0 && strcmp(hs->app, app) == 0 &&
		    strcmp(hs->service, service) == 0)
			return hs;
	}
	hs = xcalloc(1, sizeof(*hs));
	hs->host = xstrdup(host);
	hs->app = xstrdup(app);
	hs->service = xstrdup(service);
	pthread_mutex_lock(&m->lock);
	if (m->nhosts == m->caphosts) {
		m->caphosts = m->caphosts ? m->caphosts * 2 : 16;
		m->hosts = xrealloc(m->hosts, m->caphosts * sizeof(*m->hosts));
	}
	m->hosts[m->nhosts++] = hs;
	pthread_mutex_unlock(&m->lock);
	return hs;
}

void
metrics_count(struct host_stats *hs, int code, uint64_t bytes_in, uint64_t bytes_out)
{
	uint32_t n = hs->ncodes, i;

	for (i = 0; i < n; i++) {
		if (hs->codes[i].code == code)
			break;
	}
	if (i == n) {
		if (n == METRICS_MAX_CODES) {
			i = n - 1;	/* the last slot takes the overflow */
		} else {
			hs->codes[n].code = code;
			hs->codes[n].n = 0;
			__atomic_store_n(&hs->ncodes, n + 1, __ATOMIC_RELEASE);
		}
	}
	M_INC(hs->codes[i].n);
	M_ADD(hs->bytes_in, bytes_in);
	M_ADD(hs->bytes_out, bytes_out);
}

struct series {
	const char *host, *app, *service;
	int code;
	uint64_t n;
};

static int
series_cmp(const void *a, const void *b)
{
	const struct series *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	if (c == 0)
		c = strcmp(x->app, y->app);
	if (c == 0)
		c = strcmp(x->service, y->service);
	if (c == 0)
		c = x->code - y->code;
	return c;
}

/* One counter summed over the workers. */
static uint64_t
sum(struct worker **ws, int nworkers, size_t offset)
{
	uint64_t s = 0;

	for (int i = 0; i < nworkers; i++) {
		uint64_t *p = (uint64_t *)((char *)&ws[i]->m + offset);

		s += __atomic_load_n(p, __ATOMIC_RELAXED);
	}
	return s;
}
#define SUM(field) sum(ws, nworkers, offsetof(struct metrics, field))

static void
counter(struct buf *out, const char *labels, const char *name, const char *type,
    const char *help, uint64_t v)
{
	buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n%s{%s} %llu\n", name, help, name, type,
	    name, labels, (unsigned long long)v);
}

bool
metrics_endpoint(struct http_slice method, struct http_slice target)
{
	const char *q = memchr(target.p, '?', target.n);

	if (q != NULL)
		target.n = (size_t)(q - target.p);
	return http_slice_eq(target, "/_cx/metrics") &&
	    (http_slice_eq(method, "GET") || http_slice_eq(method, "HEAD"));
}

void
metrics_render(struct buf *out, struct worker **ws, int nworkers,
    const struct router_config *cfg, const struct routes *rt)
{
	struct series *s = NULL;
	size_t ns = 0, caps = 0;
	char labels[256];

	snprintf(labels, sizeof(labels), "rack=\"%s\",router=\"%s\"", cfg->rack, cfg->name);
	/* Every worker's table is locked while we copy it; the strings stay
	 * valid until the workers are freed. */
	for (int w = 0; w < nworkers; w++) {
		struct metrics *m = &ws[w]->m;

		pthread_mutex_lock(&m->lock);
		for (size_t i = 0; i < m->nhosts; i++) {
			struct host_stats *hs = m->hosts[i];
			uint32_t nc = __atomic_load_n(&hs->ncodes, __ATOMIC_ACQUIRE);

			for (uint32_t k = 0; k < nc; k++) {
				if (ns == caps) {
					caps = caps ? caps * 2 : 64;
					s = xrealloc(s, caps * sizeof(*s));
				}
				s[ns].host = hs->host;
				s[ns].app = hs->app;
				s[ns].service = hs->service;
				s[ns].code = hs->codes[k].code;
				s[ns].n = M_GET(hs->codes[k].n);
				ns++;
			}
		}
		pthread_mutex_unlock(&m->lock);
	}
	if (ns > 0)
		qsort(s, ns, sizeof(*s), series_cmp);
	buf_adds(out, "# HELP cx_router_requests_total Requests answered, by host and status "
	    "(host=\"\": no route matched).\n# TYPE cx_router_requests_total counter\n");
	for (size_t i = 0; i < ns;) {
		size_t j = i + 1;
		uint64_t n = s[i].n;

		while (j < ns && series_cmp(&s[i], &s[j]) == 0)
			n += s[j++].n;
		buf_addf(out, "cx_router_requests_total{%s,host=\"%s\",app=\"%s\",service=\"%s\","
		    "code=\"%d\"} %llu\n", labels, s[i].host, s[i].app, s[i].service, s[i].code,
		    (unsigned long long)n);
		i = j;
	}
	free(s);
	counter(out, labels, "cx_router_connections_accepted_total", "counter",
	    "Client connections accepted.", SUM(accepted));
	counter(out, labels, "cx_router_connections_denied_total", "counter",
	    "Client connections closed unanswered by the allow list.", SUM(denied));
	counter(out, labels, "cx_router_connections_active", "gauge",
	    "Open client connections.", SUM(active));
	counter(out, labels, "cx_router_bad_requests_total", "counter",
	    "Malformed requests refused (400/413/414/431/501/505).", SUM(bad_requests));
	counter(out, labels, "cx_router_client_timeouts_total", "counter",
	    "Client connections timed out reading a request (408).", SUM(client_timeouts));
	counter(out, labels, "cx_router_upstream_connects_total", "counter",
	    "New upstream connections opened.", SUM(upstream_connects));
	counter(out, labels, "cx_router_upstream_connect_errors_total", "counter",
	    "Upstream connects that failed (refused, timed out).", SUM(upstream_connect_errors));
	counter(out, labels, "cx_router_upstream_reuses_total", "counter",
	    "Requests sent on a pooled keep-alive upstream connection.", SUM(upstream_reuses));
	counter(out, labels, "cx_router_upstream_retries_total", "counter",
	    "Requests sent again: on a new connection after a pooled one turned out closed, "
	    "or to another upstream after one failed without answering.",
	    SUM(upstream_retries));
	counter(out, labels, "cx_router_upstream_timeouts_total", "counter",
	    "Upstreams that did not answer within the host's timeout (504).",
	    SUM(upstream_timeouts));
	counter(out, labels, "cx_router_upstream_errors_total", "counter",
	    "Upstream connections that failed mid-exchange or answered malformed.",
	    SUM(upstream_errors));
	counter(out, labels, "cx_router_upstream_pool_idle", "gauge",
	    "Idle keep-alive upstream connections in the pools.", SUM(pool_idle));
	counter(out, labels, "cx_router_reloads_total", "counter",
	    "Route snapshots loaded after SIGHUP.", SUM(reloads));
	counter(out, labels, "cx_router_reload_errors_total", "counter",
	    "Route snapshots refused as malformed (old table kept).", SUM(reload_errors));
	counter(out, labels, "cx_router_connection_step_limits_total", "counter",
	    "Times a connection used up its steps on one event and stopped until its next event.",
	    SUM(step_limits));
	counter(out, labels, "cx_router_tls_handshakes_total", "counter",
	    "TLS handshakes completed on the TLS listener.", SUM(tls_handshakes));
	counter(out, labels, "cx_router_tls_handshake_errors_total", "counter",
	    "TLS handshakes that failed (unknown name, no TLS 1.3, bad client, timeout).",
	    SUM(tls_handshake_errors));
	counter(out, labels, "cx_router_peer_handshakes_total", "counter",
	    "Peers admitted on the peer listener (handshake done with a peer's certificate).",
	    SUM(peer_handshakes));
	counter(out, labels, "cx_router_peer_handshake_errors_total", "counter",
	    "Peer listener handshakes refused (no client certificate, another CA, a CN that is "
	    "not the CA's peer, a removed peer, not TLS 1.3, timeout).", SUM(peer_handshake_errors));
	counter(out, labels, "cx_router_peer_connections_revoked_total", "counter",
	    "Peer connections closed because a reload removed their peer.", SUM(peer_revoked));
	counter(out, labels, "cx_router_upstream_tls_handshakes_total", "counter",
	    "TLS handshakes done with upstreams (tls-upstream hosts, egress to peers).",
	    SUM(upstream_tls_handshakes));
	counter(out, labels, "cx_router_upstream_tls_errors_total", "counter",
	    "TLS handshakes with upstreams that failed (e.g. a peer's certificate did not verify).",
	    SUM(upstream_tls_errors));
	counter(out, labels, "cx_router_accept_pauses_descriptors_total", "counter",
	    "Times a worker stopped accepting for a while because descriptors ran out (EMFILE, "
	    "ENFILE, ENOBUFS, ENOMEM).", SUM(accept_pauses_fd));
	counter(out, labels, "cx_router_accept_pauses_cap_total", "counter",
	    "Times a worker stopped accepting for a while at its connection cap, none idle.",
	    SUM(accept_pauses_cap));
	counter(out, labels, "cx_router_connections_shed_total", "counter",
	    "Idle client connections closed, oldest first, to admit new ones at the cap.",
	    SUM(conns_shed));
	counter(out, labels, "cx_router_http2_connections_total", "counter",
	    "Client connections served as HTTP/2 (ALPN h2, or h2c with prior knowledge).",
	    SUM(h2_conns));
	counter(out, labels, "cx_router_http2_streams_total", "counter",
	    "HTTP/2 request streams the clients opened.", SUM(h2_streams));
	counter(out, labels, "cx_router_http2_goaways_total", "counter",
	    "HTTP/2 connections sent GOAWAY and closed for breaking a limit (floods, rapid "
	    "reset, oversized header blocks).", SUM(h2_goaways));
	counter(out, labels, "cx_router_routes_hosts", "gauge",
	    "Hosts in the current route table.", rt->nhosts);
	counter(out, labels, "cx_router_workers", "gauge", "Worker threads.", (uint64_t)nworkers);
}
