/*
 * listener.h — the worker's listening socket: accepts connections and drops
 * those from addresses outside the route table's allow list, without a byte.
 */
#ifndef CX_ROUTER_LISTENER_H
#define CX_ROUTER_LISTENER_H

#include <stdbool.h>

struct worker;

/* Opens w's listeners, each cfg->listen[kind] that is set (SO_REUSEPORT
 * when reuseport), and watches them; -1 (none open) on failure. */
int listener_open(struct worker *w, bool reuseport);
/* Stops accepting and closes the listeners. */
void listener_close(struct worker *w);

#endif
