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
 * listener carries requests for a peer's internal names to that peer. A
 * host rack's DNS answers each peer's *.DOMAIN with its egress listener; the
 * names it was given are recorded in peers-dns, so that those no longer
 * wanted are unset.
 *
 * What a rack checks of a peer's CA is its form alone (peers_add): nothing
 * proves that it is that rack's. That is the operator's word: `cx rack
 * peer` reads it from that rack's own API.
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
 * and its internal domain. A rack without a public address gives
 * 127.0.0.1: only racks on its own machine can reach that. */
void peers_endpoint(struct rack *r, char *out, size_t outlen);
void peers_internal_domain(struct rack *r, char *out, size_t outlen);

/* Checks what a rack gave of itself (p->created is set here): a DNS-label
 * name that is not this rack's; one certificate that has the form of that
 * rack's CA (self-signed, CA:TRUE, subject CN "cx rack NAME CA": its form,
 * not who made it); an endpoint IPv4:PORT; a domain that overlaps none of
 * this rack's names (domain, domain_internal, RACK.local) nor another
 * peer's. Stores it (replacing what that name had), then puts its CA file
 * in place, sets its names in a host rack's DNS (unsetting those it had
 * before) and has the routers synced. A Kubernetes rack then gives its
 * cluster its peering (kpeers_apply); a refusal undoes the peer here too.
 * -1 with a one-line err naming what was wrong; the store and the files
 * are then as they were. */
int peers_add(struct rack *r, struct st_peer *p, char *err, size_t errlen);
/* Forgets peer `name` (the store first), then removes its CA file and its
 * DNS names; a Kubernetes rack then gives its cluster the peers left (-1
 * with err when that fails: forgotten here, still trusted there until
 * cx rack apply). 1 if there was none. */
int peers_remove(struct rack *r, const char *name, char *err, size_t errlen);
/* Rewrites every peer's CA file from the store and removes the others,
 * and makes a host rack's DNS answer the store's peers' names and no
 * former one's (at start, so that files and names follow the store). */
int peers_files_sync(struct rack *r, char *err, size_t errlen);

/* Whether this rack's param key (domain or domain_internal; others pass)
 * may become value: not overlapping any peer's internal domain. -1 with a
 * one-line err naming the peer. */
int peers_check_own_domain(struct rack *r, const char *key, const char *value, char *err,
    size_t errlen);

/* Whether the rack has a TLS peer (its peer router runs then). */
bool peers_any(struct rack *r);
/* Appends the peer router's "peer" and "egress" lines; a peer whose domain
 * an earlier one has is left out (logged), since the router refuses a table
 * with a domain twice. -1 once b is full. */
int peers_snapshot_lines(struct rack *r, struct buf *b);

#endif
