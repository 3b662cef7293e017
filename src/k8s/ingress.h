/*
 * ingress.h — what a cx router serves on a Kubernetes cluster: its route
 * snapshot (docs/routes.md) made from the cluster's Ingresses of one class,
 * the Services they name and those Services' Endpoints. Pure: objects in,
 * snapshot text out, with a line for each thing left out (the controller,
 * src/ingress/main.c, logs them). Everything read from the cluster is
 * checked before it goes into a line of the snapshot: a name with a space
 * or a newline could otherwise write a line of its own.
 */
#ifndef CX_K8S_INGRESS_H
#define CX_K8S_INGRESS_H

#include "common/jv.h"
#include "common/util.h"

/* A certificate and key (PEM, owned) to serve for host over TLS. */
struct k8s_ingress_cert {
	char host[256];
	char *cert, *key;
	size_t cert_len, key_len;
};

/* Which Ingresses a router serves: those of class klass and, when rack is
 * not NULL, labelled cx.rack=RACK (two racks on one cluster share the class
 * names; each serves its own apps). */
struct k8s_ingress_scope {
	const char *klass, *rack;
	/* Hosts whose certificate could not be written (the controller's
	 * --certs), "\n"-framed ("\na.example\nb.example\n"), NULL: none. */
	const char *unwritten;
};

/*
 * The snapshot of scope's Ingresses into out: a host line per rule host
 * of each Ingress of the class (spec.ingressClassName, or the older
 * kubernetes.io/ingress.class annotation) and rack, its up lines the ready IPv4
 * addresses of the backend Service's Endpoints on the Service port's target.
 * ingresses, services, endpoints and secrets (kubernetes.io/tls ones; NULL:
 * none) are objects keyed "NAMESPACE/NAME". A host two Ingresses claim goes
 * to the older (creationTimestamp, then name). A host an Ingress lists in
 * spec.tls gets the certificate of the Secret named there in *certs (*ncerts
 * of them, k8s_ingress_certs_free) and flag redirect (plain HTTP answers 308
 * to https), unless annotation cx.dev/ssl-redirect is "false". cx routes by
 * host: a path other than "/" is left out, said in warnings (one line each,
 * "\n"-ended), as is a rule with no host, a backend whose Service or port
 * is missing, a TLS Secret that is missing or not a certificate and key,
 * a host in scope->unwritten (neither in *certs nor flagged: served over
 * plain HTTP only, as the router has no certificate for it), and a value
 * not safe in a snapshot line. 0, or -1 when out would pass
 * its maximum.
 */
int k8s_ingress_snapshot(const jv *ingresses, const jv *services, const jv *endpoints,
    const jv *secrets, const struct k8s_ingress_scope *scope, struct buf *out, struct buf *warnings,
    struct k8s_ingress_cert **certs, size_t *ncerts);
void k8s_ingress_certs_free(struct k8s_ingress_cert *c, size_t n);

#endif
