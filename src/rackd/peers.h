/*
 * peers.h — racks peered with this one over TLS: any two racks whose routers
 * can reach each other, on one machine or many (DESIGN.md, "Racks on many
 * hosts"). Lab VPC racks on one machine still peer by routing (lab.h).
 *
 * Each rack has a peer identity, peer.pem and peer.key (0600) in its
 * directory: CN and DNS name the rack's name, signed by the rack's CA, for
 * TLS server and client use. A peering gives each rack what the other is
 * willing to show (GET /system/peering): its name, its CA certificate, the
 * address of its peer listener and its internal domain. The rack keeps them
 * in the store and writes each peer's CA to peers/NAME.pem, where its peer
 * router reads it: the peer listener admits only client certificates
 * issued by a peer's CA (and names the calling rack from it), and the egress
 * listener carries requests for a peer's internal names to that peer.
 */
#ifndef CX_PEERS_H
#define CX_PEERS_H

#include <stdbool.h>
#include <stddef.h>

#include "rackd/store.h"

struct rack;
struct buf;

/* Loads or makes the rack's peer identity (peer.pem, peer.key). -1 with err. */
int peers_identity_ensure(struct rack *r, char *err, size_t errlen);

/* What this rack shows a rack it peers with: its peer listener "IP:PORT"
 * and its internal domain. */
void peers_endpoint(struct rack *r, char *out, size_t outlen);
void peers_internal_domain(struct rack *r, char *out, size_t outlen);

/* Checks what a rack gave of itself (p->created is set here): a DNS-label
 * name that is not this rack's, a CA certificate that is that rack's own
 * (CA:TRUE, subject "cx rack NAME CA"), an endpoint IPv4:PORT and a domain.
 * Stores it (replacing what that name had), writes its CA file and has the
 * routers synced. -1 with a one-line err naming what was wrong. */
int peers_add(struct rack *r, struct st_peer *p, char *err, size_t errlen);
/* Forgets peer `name` and removes its CA file. 1 if there was none. */
int peers_remove(struct rack *r, const char *name, char *err, size_t errlen);
/* Rewrites every peer's CA file from the store and removes the others
 * (at start, so that files follow the store). */
int peers_files_sync(struct rack *r, char *err, size_t errlen);

/* Whether the rack has a TLS peer (its peer router runs then). */
bool peers_any(struct rack *r);
/* Appends the peer router's "peer" and "egress" lines. -1 once b is full. */
int peers_snapshot_lines(struct rack *r, struct buf *b);

#endif
