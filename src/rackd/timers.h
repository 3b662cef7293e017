/*
 * timers.h — convox.yml `timers:`: at each minute whose schedule matches, a
 * new one-off process of the timer's service runs its command, with the
 * service's environment (UTC, as Convox). `concurrency: forbid` skips a run
 * while the previous one still runs.
 */
#ifndef CX_TIMERS_H
#define CX_TIMERS_H

struct rack;

/* Called on every tick; fires the timers of each minute once. */
void timers_tick(struct rack *r);

#endif
