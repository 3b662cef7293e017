/*
 * listener.h — the worker's listening socket: accepts connections and drops
 * those from addresses outside the route table's allow list, without a byte.
 * Out of descriptors, or at the worker's connection cap with none idle, it
 * pauses accepting for a moment instead of spinning.
 */
#ifndef CX_ROUTER_LISTENER_H
#define CX_ROUTER_LISTENER_H

#include <stdbool.h>

struct worker;

/* Opens w's listeners, each cfg->listen[kind] that is set (SO_REUSEPORT
 * when reuseport), and watches them; -1 (none open) on failure. */
int listener_open(struct worker *w, bool reuseport);
/* Watches w's listeners again if accepting was paused (a flood: see
 * listener.c); called when a connection closes. */
void listener_resume(struct worker *w);
/* Stops accepting and closes the listeners. */
void listener_close(struct worker *w);

#endif
