/*
 * health.h — active health checks of app processes: a non-blocking
 * `GET <health.path>` to the process's address (over TLS, the certificate
 * unchecked, when its port is https); 2xx and 3xx pass. With
 * grpcHealthEnabled, grpc.health.v1.Health/Check over h2c instead: only
 * grpc-status 0 with SERVING passes. New processes are probed every 200 ms from their start until the first pass;
 * then every `health.interval`.
 *
 * Health owns when probes run and how failures count; like relayd's checker
 * it tells its owner only of changes (health_set_handler): the first pass,
 * a fall to unhealthy and back, a missed first-pass deadline, and "replace
 * me" after too many failures in a row.
 */
#ifndef CX_HEALTH_H
#define CX_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

struct rack;
struct proc;
struct probe;
struct ev_timer;
struct mf_service;

/* Failures in a row that make a passing process unhealthy, and replaced. */
#define HEALTH_UNHEALTHY_AFTER 2
#define HEALTH_REPLACE_AFTER 6
/* How often a new process is probed until its first pass. */
#define HEALTH_FIRST_PROBE_MS 200

enum health_event {
	HEALTH_UP,          /* its first pass, or passing again after HEALTH_DOWN */
	HEALTH_DOWN,        /* HEALTH_UNHEALTHY_AFTER failures in a row */
	HEALTH_MISSED,      /* no pass by its first-pass deadline; checks stop */
	HEALTH_REPLACE,     /* HEALTH_REPLACE_AFTER failures in a row; checks stop */
};

enum health_state { HEALTH_FIRST, HEALTH_PASSING, HEALTH_FAILING, HEALTH_DONE };

/* A process's checks (embedded in struct proc). */
struct health_check {
	int port;                   /* to probe; 0: a worker, which passes while it runs */
	char path[256];
	bool tls;                   /* port: https:N: probed over TLS, the certificate unchecked */
	bool grpc;                  /* grpcHealthEnabled: grpc.health.v1.Health/Check over h2c */
	int interval_ms, timeout_ms;
	int64_t first_deadline;     /* ms: its first pass is due by then (grace + timeout) */
	enum health_state state;
	int fails;                  /* failures in a row */
	struct ev_timer *timer;     /* the next probe */
	struct probe *probe;        /* the probe in flight */
};

/* Who is told of changes; registered once by the rack's owner. */
typedef void (*health_fn)(struct rack *r, struct proc *p, enum health_event ev);
void health_set_handler(struct rack *r, health_fn fn);

/* Starts checking p as service s says (p->st.port and address set): from its
 * first pass on, or, when serving (a process adopted from the last daemon),
 * as a process that passes already. Probes at once. */
void health_start(struct rack *r, struct proc *p, const struct mf_service *s, bool serving);
/* Stops checking p (before it stops or is freed). */
void health_cancel(struct rack *r, struct proc *p);
/* One probe's result: counts it, schedules the next probe, and reports a
 * change to the handler. The probes call it; a unit test may too. */
void health_result(struct rack *r, struct proc *p, bool ok);

#endif
