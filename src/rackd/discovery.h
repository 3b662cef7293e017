/*
 * discovery.h — rack-only service names in VPC and host racks, as Convox
 * gives them (and in loopback racks run as root, whose processes have
 * namespaces of their own too): every service with a port has SERVICE.APP.RACK.local and
 * SERVICE.RACK-APP.svc.cluster.local (its Kubernetes name), answering, in
 * the lab DNS (a host rack's own), the addresses of the service's healthy
 * processes, reachable on the port its convox.yml declares from inside the
 * rack only (peers and the internet never reach a process address). An
 * app's processes search APP.RACK.local and RACK-APP.svc.cluster.local
 * (lab_proc_resolv), so the bare SERVICE is their own app's; another app's
 * service of the same rack resolves by its full name.
 */
#ifndef CX_DISCOVERY_H
#define CX_DISCOVERY_H

#include <stddef.h>

struct rack;

/* Brings the lab DNS in line with the healthy processes of every service
 * with a port; cheap when nothing changed. No-op where processes share the
 * host's network namespace (loopback racks not run as root). */
void discovery_sync(struct rack *r);
/* Removes every name this rack registered (uninstall). */
void discovery_clear(struct rack *r);

#define DISCOVERY_RECORDS_MAX (1 << 20)
/* The records wanted now, "NAME ADDR ADDR...\n" per name of each service, in
 * *out (malloc'd, caller frees). -1 with *out NULL and err naming where, if
 * they would pass DISCOVERY_RECORDS_MAX: names cut short would answer wrong. */
int discovery_records(struct rack *r, char **out, char *err, size_t errlen);
/* Why the last sync left the lab DNS as it was ("" when it did not). */
const char *discovery_error(void);

#endif
