/*
 * kpeers.c — see kpeers.h.
 */
#include "rackd/kpeers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "k8s/apply.h"
#include "k8s/kubeconfig.h"
#include "k8s/render.h"
#include "rackd/peers.h"
#include "rackd/rack.h"
#include "rackd/store.h"

#define PEM_MAX	(64u << 10)

jv *
kpeers_render(struct rack *r, char *err, size_t errlen)
{
	struct k8s_render_opts o = { .rack = r->name };
	struct k8s_peer *kp;
	struct st_peer *list;
	char path[4200];
	char *cert, *key;
	size_t n;
	jv *docs;

	if (peers_identity_ensure(r, err, errlen) == -1)
		return NULL;
	if (store_peer_list(r->store, &list, &n) == -1) {
		snprintf(err, errlen, "cannot read peers: %s", store_error(r->store));
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/peer.pem", r->dir);
	cert = read_file(path, PEM_MAX, NULL);
	snprintf(path, sizeof(path), "%s/peer.key", r->dir);
	key = read_file(path, PEM_MAX, NULL);
	if (cert == NULL || key == NULL) {
		snprintf(err, errlen, "cannot read the rack's peer identity (%s/peer.pem, peer.key)",
		    r->dir);
		free(cert);
		free(key);
		store_peer_list_free(list, n);
		return NULL;
	}
	kp = xcalloc(n + 1, sizeof(*kp));
	for (size_t i = 0; i < n; i++)
		kp[i] = (struct k8s_peer){ list[i].name, list[i].endpoint, list[i].internal_domain,
		    list[i].ca };
	docs = k8s_render_peering(&o, cert, key, kp, n);
	explicit_bzero(key, strlen(key));
	free(key);
	free(cert);
	free(kp);
	store_peer_list_free(list, n);
	return docs;
}

/* The rack's kubeconfig (its own copy) into kc. -1 with err. */
static int
load_kubeconfig(struct rack *r, struct kubeconfig *kc, char *err, size_t errlen)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/kubeconfig", r->dir);
	if (kubeconfig_load(path, NULL, kc, err, errlen) == -1) {
		kubeconfig_free(kc);
		return -1;
	}
	return 0;
}

int
kpeers_apply(struct rack *r, char *err, size_t errlen)
{
	struct kubeconfig kc;
	char manager[64], rv[64], why[1024];
	jv *docs;
	int rc = 0;

	if ((docs = kpeers_render(r, err, errlen)) == NULL)
		return -1;
	if (load_kubeconfig(r, &kc, err, errlen) == -1) {
		jv_free(docs);
		return -1;
	}
	snprintf(manager, sizeof(manager), "cx-%s", r->name);
	for (size_t i = 0; i < jv_len(docs) && rc == 0; i++) {
		const jv *d = jv_at(docs, i);

		if (k8s_apply(&kc, d, manager, false, rv, sizeof(rv), why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s %s-system/%s: %s", jv_str(d, "kind"), r->name,
			    jv_str(jv_get(d, "metadata"), "name"), why);
			rc = -1;
		}
	}
	kubeconfig_free(&kc);
	jv_free(docs);
	return rc;
}

int
kpeers_endpoint(struct rack *r, char *out, size_t outlen, char *err, size_t errlen)
{
	struct kubeconfig kc;
	char path[256], why[1024];
	const jv *lb, *ports;
	const char *addr;
	long code = 0;
	jv *svc = NULL;
	int64_t port;

	if (load_kubeconfig(r, &kc, err, errlen) == -1)
		return -1;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s-system/services/peer", r->name);
	if (k8s_get(&kc, path, &code, &svc, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "rack %s cannot ask its cluster for its peer endpoint: %s",
		    r->name, why);
		kubeconfig_free(&kc);
		return -1;
	}
	kubeconfig_free(&kc);
	if (code == 404) {
		snprintf(err, errlen, "rack %s has no Service %s-system/peer on its cluster, its peer "
		    "endpoint: cx rack apply -r %s applies the rack's objects", r->name, r->name,
		    r->name);
		jv_free(svc);
		return -1;
	}
	if (code != 200) {
		snprintf(err, errlen, "rack %s: the API server answered %ld to GET %s%s%s", r->name,
		    code, path, jv_str(svc, "message")[0] != '\0' ? ": " : "", jv_str(svc, "message"));
		jv_free(svc);
		return -1;
	}
	lb = jv_at(jv_get(jv_get(jv_get(svc, "status"), "loadBalancer"), "ingress"), 0);
	addr = jv_str(lb, "ip");
	ports = jv_at(jv_get(jv_get(svc, "spec"), "ports"), 0);
	port = jv_int(ports, "port");
	/* A peer's egress dials IPv4:PORT (its router's egress lines): a
	 * load balancer known by name alone (AWS's) cannot be given yet. */
	if (addr[0] == '\0' && jv_str(lb, "hostname")[0] != '\0') {
		snprintf(err, errlen, "rack %s's LoadBalancer Service %s-system/peer is known by the "
		    "hostname %.200s alone, and peers reach an IPv4 address: give it a load balancer "
		    "with an IP address (docs/kubernetes.md, Peering)", r->name, r->name,
		    jv_str(lb, "hostname"));
		jv_free(svc);
		return -1;
	}
	if (addr[0] == '\0' || strspn(addr, "0123456789.") != strlen(addr) || port < 1 ||
	    port > 65535) {
		snprintf(err, errlen, "rack %s's peer endpoint is not known yet: the cloud has given "
		    "its LoadBalancer Service %s-system/peer no address (status.loadBalancer.ingress "
		    "is empty); peer once it has one (kubectl -n %s-system get service peer)",
		    r->name, r->name, r->name);
		jv_free(svc);
		return -1;
	}
	snprintf(out, outlen, "%s:%d", addr, (int)port);
	jv_free(svc);
	return 0;
}
