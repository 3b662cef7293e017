/*
 * kpeers.h — TLS peering (peers.h) for a Kubernetes rack, whose peer
 * listener is its internal routers' pods on the cluster, not a process
 * here. The rack's CA here signs its peer identity as for any rack; the
 * cluster holds what the pods need: Secret peer (the identity) and
 * ConfigMap peers (each peer's name, endpoint, internal domain and CA) in
 * RACK-system (k8s_render_peering), which cx-ingress --peers follows. Its
 * endpoint is the address the cloud gave the LoadBalancer Service peer.
 *
 * The calls ask the API server from the daemon's loop and wait for it
 * (httpc's bounds: 5 s to connect, 20 s in all).
 */
#ifndef CX_KPEERS_H
#define CX_KPEERS_H

#include <stddef.h>

#include "common/jv.h"

struct rack;

/* The rack's peering objects (Secret peer, ConfigMap peers) from its peer
 * identity (made when missing) and the store's peers, as a jv array
 * (owned), or NULL with err. */
jv *kpeers_render(struct rack *r, char *err, size_t errlen);

/* Applies kpeers_render's objects to the rack's cluster (server-side
 * apply, field manager cx-RACK). -1 with err: the server's refusal, or why
 * it could not be asked. */
int kpeers_apply(struct rack *r, char *err, size_t errlen);

/* The rack's peer endpoint, "IP:PORT" (or "HOSTNAME:PORT") of Service
 * RACK-system/peer's status.loadBalancer.ingress[0] and its port. -1 with
 * a one-line err when the Service is missing, the cloud has given it no
 * address yet, or the server cannot be asked. */
int kpeers_endpoint(struct rack *r, char *out, size_t outlen, char *err, size_t errlen);

#endif
