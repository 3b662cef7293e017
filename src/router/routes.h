/*
 * routes.h — the route table of one router, loaded from a snapshot file
 * (docs/routes.md) and shared read-only by every worker thread.
 *
 * A table is immutable once loaded. Workers hold counted references: the
 * loader hands one reference to each worker, and a worker drops its own
 * once the table is no longer current and its last request on it has
 * ended; the last drop frees the table.
 */
#ifndef CX_ROUTER_ROUTES_H
#define CX_ROUTER_ROUTES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTES_MAX_FILE	(1 << 20)
#define ROUTES_MAX_HOST	253

struct upstream;
struct host_stats;
struct tls_id;
struct tls_ctx;

/* How a router speaks to a host's processes. */
enum route_tls {
	ROUTE_PLAIN,		/* plain HTTP */
	ROUTE_TLS_ANY,		/* host flag tls-upstream: TLS, the process's certificate unchecked */
	ROUTE_TLS_PEER,		/* an egress line: TLS 1.3 to a peer, verified, with our client cert */
};

/* One process behind a host. */
struct route_up {
	char *id;			/* PROCESS_ID */
	struct sockaddr_in addr;
	/* Per-worker cache of the worker's upstream for addr; slot i is
	 * written only by worker i. */
	struct upstream **wup;
	enum route_tls tls;		/* the host's */
	const char *tls_name;		/* ROUTE_TLS_PEER: the peer's name (the host's) */
};

/* Round-robin position of one worker, alone on its cache line. */
struct rr_slot {
	unsigned next;
	char pad[60];
};

struct route_host {
	char *name;			/* lower case, no port */
	char *app, *service, *health_path;
	int timeout_s;
	struct route_up *ups;
	size_t nups;
	struct rr_slot *rr;		/* [nworkers] */
	struct host_stats **wstats;	/* [nworkers], per-worker metrics cache */
	struct tls_id *tls;		/* its certificate and key (routes_load_certs), or NULL */
	struct stat tls_st[2];		/* of the .pem and .key files tls came from */
	bool redirect;			/* flag redirect: the plain listener answers 308 to https */
	bool grpc;			/* flag grpc: HTTP/2 to its processes (h2c), end to end */
	enum route_tls up_tls;		/* how its processes are spoken to */
	char *peer;			/* an egress host (name = DOMAIN): the peer's name */
	/* The client context of up_tls (the table's, routes_load_peers), or
	 * NULL: plain, or TLS that cannot be set up (502). */
	struct tls_ctx *up_ctx;
};

/* A peered rack (`peer NAME CAFILE`). */
struct route_peer {
	char *name, *ca_path;
	struct tls_id *ca;		/* routes_load_peers; NULL when the file is bad */
	char ca_fp[96];			/* its SHA-256 fingerprint ("" without ca) */
	struct tls_ctx *client;		/* egress to it: trusts ca, presents our peer identity */
};

/* An ACME HTTP-01 answer (`challenge TOKEN KEYAUTH`). */
struct route_challenge {
	char *token, *keyauth;
};

struct routes {
	int refs;			/* atomic */
	uint64_t generation;
	struct route_host *hosts;
	size_t nhosts;
	uint32_t *slots;		/* open addressing: host index + 1, 0 = empty */
	size_t nslots;
	uint32_t *allow_net;		/* host order */
	int *allow_prefix;
	size_t nallow;
	int nworkers;
	struct route_host *egress;	/* `egress DOMAIN NAME IP PORT`, as hosts named DOMAIN */
	size_t negress;
	struct route_peer *peers;
	size_t npeers;
	struct route_challenge *challenges;
	size_t nchallenges;
	struct tls_ctx *peer_server;	/* the peer listener's (routes_load_peers), or NULL */
	struct tls_ctx *insecure;	/* for tls-upstream hosts, or NULL */
};

/*
 * Loads the snapshot at path for nworkers workers, with refs = nworkers.
 * A missing file gives an empty table (every host 404) and *missing = true.
 * On a malformed file returns NULL and writes "path:line: what" into err.
 */
struct routes *routes_load(const char *path, int nworkers, bool *missing, char *err, size_t errlen);
/*
 * Gives each host of rt (not yet shared with the workers) its certificate,
 * dir/NAME.pem, with its key dir/NAME.key. A host whose files are missing
 * or bad has none (its TLS handshakes are refused) and is named in one log
 * line each. Files that are those prev (the table loaded before, or NULL)
 * read for the same host, unchanged since (same inode, size, mtime and
 * ctime), are not parsed again: OpenSSL 3 takes about 1 ms per key. Returns
 * how many hosts have none.
 */
size_t routes_load_certs(struct routes *rt, const struct routes *prev, const char *dir);
/*
 * Reads each peer's CA file and makes the TLS contexts the table needs: the
 * peer listener's (presenting id, trusting every peer's CA for its own
 * name) and an egress client context per peer (trusting its CA, presenting
 * id), when id is not NULL; the unverifying client context when a host has
 * tls-upstream. A peer whose CA file is missing or bad is left out of the
 * trust (its clients fail the handshake, egress to it answers 502) and named
 * in a log line. Returns how many peers have no CA.
 */
size_t routes_load_peers(struct routes *rt, const struct tls_id *id);
/* The egress host whose DOMAIN host (lower case, no port) is under: X.DOMAIN,
 * X not empty; the longest DOMAIN wins. NULL if none. */
const struct route_host *routes_egress(const struct routes *rt, const char *host, size_t n);
/* The peer named name, or NULL. */
const struct route_peer *routes_peer(const struct routes *rt, const char *name);
/* The key authorization of an ACME token, or NULL. */
const char *routes_challenge(const struct routes *rt, const char *token, size_t n);
/* One more reference (for a holder other than the workers). Thread-safe. */
void routes_hold(struct routes *rt);
/* An empty table with refs = nworkers. */
struct routes *routes_empty(int nworkers);
/* Drops one reference; the last frees the table. Thread-safe. */
void routes_unref(struct routes *rt);

/* Host name (lower case, no port) -> route, or NULL. */
const struct route_host *routes_lookup(const struct routes *rt, const char *host, size_t n);
/* True if addr (host order) may connect: no allow lines, or inside one. */
bool routes_allowed(const struct routes *rt, uint32_t addr);

#endif
