/*
 * render.h — an app's convox.yml as the Kubernetes objects a Kubernetes rack
 * applies (issue 14), made offline: a pure function of the manifest and the
 * options below, the same objects for the same input (so a second
 * server-side apply changes nothing).
 *
 * Per app, in this order:
 *   Namespace RACK-APP;
 *   per resource: Secret NAME-credentials (its generated password, stable:
 *     derived from the rack's seed), Service NAME, StatefulSet NAME with a
 *     PersistentVolumeClaim (memcached: none);
 *   per service: Secret SERVICE-env (the app's environment as the service
 *     sees it, resource URLs included), Deployment SERVICE (DaemonSet for
 *     `agent: true`) with rolling update from deployment.minimum/maximum,
 *     readiness from health, requests/limits from scale, termination.grace;
 *     a ClusterIP Service SERVICE when it has a port (so Convox's
 *     SERVICE.RACK-APP.svc.cluster.local works); an Ingress SERVICE of class
 *     cx (public) or cx-internal (internalRouter: true), none for
 *     internal: true;
 *   per timer: CronJob TIMER (batch/v1 from Kubernetes 1.21, batch/v1beta1
 *     before).
 * Every object carries the labels app.kubernetes.io/managed-by: cx,
 * cx.rack, cx.app (and cx.service / cx.resource / cx.timer).
 */
#ifndef CX_K8S_RENDER_H
#define CX_K8S_RENDER_H

#include <stddef.h>

#include "common/jv.h"
#include "rackd/manifest.h"

/* A service's count as `cx scale` set it. */
struct k8s_count {
	const char *service;
	int count;
};

struct k8s_render_opts {
	const char *rack;           /* the rack's name */
	const char *app;            /* the app's name (need not exist yet) */
	const char *registry;       /* where builds' images are: REGISTRY/RACK-APP:SERVICE.BUILD */
	const char *build;          /* the release's build id, or NULL: tag SERVICE.latest */
	const char *release;        /* the release's id (a label), or NULL */
	const char *domain;         /* the rack's domain: public hosts SERVICE.APP.DOMAIN */
	const char *domain_internal; /* its internal domain: internalRouter hosts */
	int kube_minor;             /* the server's 1.MINOR (e.g. 20); 0: the newest known */
	const char *seed;           /* the rack's secret seed for resource passwords */
	char *const *env;           /* the app's environment, "K=V" each */
	size_t nenv;
	const struct k8s_count *counts; /* cx scale's counts, over scale.count (may be NULL) */
	size_t ncounts;
	int progress_deadline;      /* a Deployment's progressDeadlineSeconds (0: unset, the
				     * cluster's default of 600) */
};

/* The objects, as a jv array (owned), or NULL with one line in err (a
 * required variable the app does not set, a resource type with no
 * Kubernetes form). */
jv *k8s_render(const struct manifest *m, const struct k8s_render_opts *o, char *err,
    size_t errlen);

/*
 * The rack's own objects on a cluster (a Kubernetes rack's install): in
 * Namespace RACK-system, the routers as the ingress data plane — IngressClass
 * cx and cx-internal, a ServiceAccount with the ClusterRole to read what
 * they route, Deployments router and router-internal — and three
 * LoadBalancer Services: router (public), router-internal (with the cloud's
 * internal load-balancer annotation) and peer (the TLS peering endpoint, as
 * `cx rack peer` reaches it), and a ClusterIP Service egress (port 80 to the
 * internal routers' egress listener on 8080: the way to peers' internal
 * names). The internal routers also listen for peers on 8443 and keep their
 * peer files in step with the peering's Secret and ConfigMap
 * (k8s_render_peering; cx-ingress --peers). cloud: aws, gcp, azure, do or generic (no
 * annotation: say so to the user). Uses o->rack, o->registry, o->kube_minor.
 * NULL with err for an unknown cloud.
 */
jv *k8s_render_rack(const struct k8s_render_opts *o, const char *cloud, char *err,
    size_t errlen);

/* A rack a Kubernetes rack is peered with over TLS (peers.h), as its
 * ConfigMap peers gives it to the internal routers' cx-ingress. */
struct k8s_peer {
	const char *name;            /* the peer rack's name */
	const char *endpoint;        /* its peer listener, IPv4:PORT */
	const char *internal_domain; /* the names its egress carries there */
	const char *ca;              /* its CA certificate, PEM */
};

/*
 * The rack's peering on its cluster, in Namespace RACK-system, as a jv
 * array (owned): Secret peer (type kubernetes.io/tls: tls.crt and tls.key,
 * the rack's peer identity; left out when cert is NULL) and ConfigMap
 * peers, whose key "peers" holds a line "NAME ENDPOINT DOMAIN" per peer
 * and key NAME.pem each peer's CA (k8s/peering.h reads it). The same
 * peers in the same order render the same objects. Uses o->rack.
 */
jv *k8s_render_peering(const struct k8s_render_opts *o, const char *cert, const char *key,
    const struct k8s_peer *peers, size_t n);

/* The image service s runs: its image: as given, else its build's as a
 * Kubernetes rack pushes it, REGISTRY/RACK-APP:SERVICE.BUILD (lower-case;
 * SERVICE.latest without o->build). Uses o->registry, rack, app, build. */
void k8s_image(const struct k8s_render_opts *o, const struct mf_service *s, char *out,
    size_t outlen);

/* The kinds of an app's objects in its Namespace on Kubernetes 1.minor (0:
 * the newest), each with its apiVersion there: what a deploy prunes (the
 * objects of these kinds a release no longer renders). At most max into
 * out; their count. */
struct k8s_kind {
	const char *api, *kind;
};
size_t k8s_app_kinds(int minor, struct k8s_kind *out, size_t max);

/* The name of the namespace of app o->app on rack o->rack: RACK-APP. */
void k8s_namespace(const char *rack, const char *app, char *out, size_t outlen);

#endif
