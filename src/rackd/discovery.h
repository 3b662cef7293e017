/*
 * discovery.h — rack-only service names in VPC racks, as Convox gives
 * `internal: true` services: SERVICE.APP.RACK.local answers, in the lab DNS,
 * the addresses of the service's healthy processes, reachable on the port
 * its convox.yml declares from inside the rack's own VPC only (peers and the
 * internet never reach a process address).
 */
#ifndef CX_DISCOVERY_H
#define CX_DISCOVERY_H

#include <stddef.h>

struct rack;

/* Brings the lab DNS in line with the healthy processes of every internal
 * service; cheap when nothing changed. No-op on loopback racks. */
void discovery_sync(struct rack *r);
/* Removes every name this rack registered (uninstall). */
void discovery_clear(struct rack *r);

#define DISCOVERY_RECORDS_MAX (1 << 20)
/* The records wanted now, "NAME ADDR ADDR...\n" per internal service, in
 * *out (malloc'd, caller frees). -1 with *out NULL and err naming where, if
 * they would pass DISCOVERY_RECORDS_MAX: names cut short would answer wrong. */
int discovery_records(struct rack *r, char **out, char *err, size_t errlen);
/* Why the last sync left the lab DNS as it was ("" when it did not). */
const char *discovery_error(void);

#endif
