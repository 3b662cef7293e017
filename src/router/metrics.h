/*
 * metrics.h — per-worker counters and the Prometheus text rendering of all
 * workers' counters together (GET /_cx/metrics, see docs/router.md).
 *
 * Each worker writes only its own counters (plain loads and stores with
 * relaxed atomics, no locked instructions); the worker that serves a scrape
 * reads every worker's counters. The per-host table changes shape only under
 * its worker's mutex, which a scrape takes while it walks the table.
 */
#ifndef CX_ROUTER_METRICS_H
#define CX_ROUTER_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/http1.h"
#include "common/util.h"

#define METRICS_MAX_CODES 32

/* Single-writer counter update. */
#define M_ADD(x, v) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (v), \
    __ATOMIC_RELAXED)
#define M_INC(x) M_ADD(x, 1)
#define M_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Requests of one host; host "" counts requests that matched no route. */
struct host_stats {
	char *host, *app, *service;
	uint32_t ncodes;	/* published with release order */
	struct {
		int code;
		uint64_t n;
	} codes[METRICS_MAX_CODES];
	uint64_t bytes_in, bytes_out;
};

struct metrics {
	pthread_mutex_t lock;	/* guards the shape of hosts[] */
	struct host_stats **hosts;
	size_t nhosts, caphosts;
	uint64_t accepted, denied, active, requests, bad_requests, client_timeouts;
	uint64_t upstream_connects, upstream_connect_errors, upstream_reuses, upstream_retries;
	uint64_t upstream_timeouts, upstream_errors, pool_idle, reloads, reload_errors;
	uint64_t step_limits, tls_handshakes, tls_handshake_errors;
	uint64_t peer_handshakes, peer_handshake_errors, peer_revoked;
	uint64_t upstream_tls_handshakes, upstream_tls_errors;
	uint64_t accept_pauses_fd, accept_pauses_cap, conns_shed;
	uint64_t h2_conns, h2_streams, h2_goaways;
};

struct worker;
struct router_config;
struct routes;

void metrics_init(struct metrics *m);
void metrics_free(struct metrics *m);
/* The worker's stats for host (created on first use); only its owner calls this. */
struct host_stats *metrics_host(struct metrics *m, const char *host, const char *app,
    const char *service);
/* Counts one answered request. Owner only. */
void metrics_count(struct host_stats *hs, int code, uint64_t bytes_in, uint64_t bytes_out);
/* Appends the Prometheus text of all workers to out. */
/* True when a request of method for target (origin-form, any query) asks
 * for the metrics page: GET or HEAD /_cx/metrics. (Who may ask, Host _cx
 * from this host, is the exchange's to check.) */
bool metrics_endpoint(struct http_slice method, struct http_slice target);
void metrics_render(struct buf *out, struct worker **ws, int nworkers,
    const struct router_config *cfg, const struct routes *rt);

#endif
