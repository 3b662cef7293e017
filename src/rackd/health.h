/*
 * health.h — active health checks of app processes: a non-blocking
 * `GET <health.path>` to the process's address; 2xx and 3xx pass. New
 * processes are probed every 200 ms from their start until the first pass;
 * then every `health.interval`. Results go to reconcile_health().
 */
#ifndef CX_HEALTH_H
#define CX_HEALTH_H

#include <stdbool.h>

struct rack;
struct proc;

/* Schedules the next probe of p after ms milliseconds. */
void health_schedule(struct rack *r, struct proc *p, int ms);
/* Cancels any probe of p (before it stops or is freed). */
void health_cancel(struct rack *r, struct proc *p);

#endif
