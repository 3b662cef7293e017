/*
 * discovery.h — rack-only service names in VPC racks, as Convox gives
 * `internal: true` services: SERVICE.APP.RACK.local answers, in the lab DNS,
 * the addresses of the service's healthy processes, reachable on the port
 * its convox.yml declares from inside the rack's own VPC only (peers and the
 * internet never reach a process address).
 */
#ifndef CX_DISCOVERY_H
#define CX_DISCOVERY_H

struct rack;

/* Brings the lab DNS in line with the healthy processes of every internal
 * service; cheap when nothing changed. No-op on loopback racks. */
void discovery_sync(struct rack *r);
/* Removes every name this rack registered (uninstall). */
void discovery_clear(struct rack *r);

#endif
