/*
 * peering.h — what an internal router pod learns of its rack's TLS peers
 * from the cluster: ConfigMap peers in RACK-system (k8s_render_peering
 * renders it; the rack's daemon applies it at each cx rack peer and
 * unpeer). cx-ingress --peers turns it into the router's "peer" and
 * "egress" lines (docs/routes.md) and a CA file per peer. Pure: the object
 * in, checked entries out. Everything read is checked before it goes into
 * a snapshot line: a space or a newline could otherwise write a line.
 */
#ifndef CX_K8S_PEERING_H
#define CX_K8S_PEERING_H

#include <stddef.h>

#include "common/jv.h"
#include "common/util.h"

/* One peer: its name, the IPv4 and port of its peer listener, its
 * internal domain and its CA certificate (PEM, owned). */
struct k8s_peering_entry {
	char name[32];
	char ip[16];
	char port[8];
	char domain[254];
	char *ca;
};

/*
 * The peers of ConfigMap cm (an object, or NULL: none) into *out (*n of
 * them; k8s_peering_free): a line "NAME IP:PORT DOMAIN" of data.peers each,
 * whose NAME is a rack name, IP:PORT an IPv4 address and port and DOMAIN a
 * domain name, and whose data.NAME.pem is one PEM certificate. A line that
 * is not so, or whose name or domain an earlier line has, is left out and
 * said in warnings (one line each, "\n"-ended). 0, or -1 when cm has
 * data.peers that is not text.
 */
int k8s_peering_parse(const jv *cm, struct k8s_peering_entry **out, size_t *n,
    struct buf *warnings);
void k8s_peering_free(struct k8s_peering_entry *e, size_t n);

#endif
