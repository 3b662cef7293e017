/*
 * api_peers.c — peering over TLS through the API (peers.h): what a rack
 * shows of itself, and the peers it trusts. `cx rack peer A B` reads each
 * rack's GET /system/peering and gives it to the other (POST /system/peers);
 * only public material crosses.
 */
#include <stdio.h>
#include <string.h>

#include "rackd/api.h"
#include "rackd/kpeers.h"
#include "rackd/peers.h"
#include "rackd/rack.h"
#include "rackd/store.h"

/* Lab VPC racks on one machine peer by routing (lab.h), not here. */
static bool
refuse_lab(struct rack *r, struct api_resp *s)
{
	if (!r->vpc || r->host)
		return false;
	api_error(s, 400, "rack %s is a lab VPC rack: it peers with other lab racks by routing "
	    "(cx rack peer between two lab racks), not over TLS", r->name);
	return true;
}

/* "endpoint" is where the rack's peer listener is reached: its public
 * address, or 127.0.0.1 on a rack without one ("loopback": true), which only
 * racks on the same machine reach; `cx rack peer` refuses to give such an
 * endpoint to a rack elsewhere. */
void
api_peering_get(struct rack *r, struct api_req *q, struct api_resp *s)
{
	char endpoint[300], domain[256], err[1024];

	(void)q;
	if (refuse_lab(r, s))
		return;
	if (peers_identity_ensure(r, err, sizeof(err)) == -1) {
		api_error(s, 500, "%s", err);
		return;
	}
	/* A Kubernetes rack's: the address its cloud gave Service peer. */
	if (!r->kube)
		peers_endpoint(r, endpoint, sizeof(endpoint));
	else if (kpeers_endpoint(r, endpoint, sizeof(endpoint), err, sizeof(err)) == -1) {
		api_error(s, 409, "%s", err);
		return;
	}
	peers_internal_domain(r, domain, sizeof(domain));
	s->json = jv_object_new();
	jv_set_str(s->json, "name", r->name);
	jv_set_str(s->json, "ca", r->ca_pem);
	jv_set_str(s->json, "endpoint", endpoint);
	jv_set_str(s->json, "internal_domain", domain);
	jv_set_bool(s->json, "loopback", strncmp(endpoint, "127.", 4) == 0);
	jv_set_bool(s->json, "kubernetes", r->kube);
}

void
api_peers_list(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct st_peer *list;
	size_t n;

	(void)q;
	if (store_peer_list(r->store, &list, &n) == -1) {
		api_error(s, 500, "cannot read peers: %s", store_error(r->store));
		return;
	}
	s->json = jv_array_new();
	for (size_t i = 0; i < n; i++) {
		jv *o = jv_object_new();

		jv_set_str(o, "name", list[i].name);
		jv_set_str(o, "ca", list[i].ca);
		jv_set_str(o, "endpoint", list[i].endpoint);
		jv_set_str(o, "internal_domain", list[i].internal_domain);
		jv_set_int(o, "created", list[i].created);
		jv_push_take(s->json, o);
	}
	store_peer_list_free(list, n);
}

void
api_peers_add(struct rack *r, struct api_req *q, struct api_resp *s)
{
	jv *body;
	struct st_peer p;
	char err[1024];

	if (refuse_lab(r, s) || (body = api_json_body(q, s)) == NULL)
		return;
	memset(&p, 0, sizeof(p));
	if (str_copy(p.name, sizeof(p.name), jv_str_or(body, "name", "")) == -1 ||
	    str_copy(p.endpoint, sizeof(p.endpoint), jv_str_or(body, "endpoint", "")) == -1 ||
	    str_copy(p.internal_domain, sizeof(p.internal_domain),
	    jv_str_or(body, "internal_domain", "")) == -1) {
		api_error(s, 400, "a peer's name, endpoint or internal_domain is too long");
		jv_free(body);
		return;
	}
	p.ca = (char *)jv_str_or(body, "ca", "");
	if (strlen(p.ca) > API_PEM_MAX) {
		api_error(s, 400, "peer %s: its ca is %zu bytes; a rack's CA certificate (PEM) is at "
		    "most %d", p.name, strlen(p.ca), API_PEM_MAX);
		jv_free(body);
		return;
	}
	if (peers_add(r, &p, err, sizeof(err)) == -1)
		api_error(s, 400, "%s", err);
	else
		s->status = 201;
	jv_free(body);
}

void
api_peers_delete(struct rack *r, struct api_req *q, struct api_resp *s)
{
	char err[512];
	int rc = peers_remove(r, q->args[0], err, sizeof(err));

	if (rc == -1)
		api_error(s, 500, "%s", err);
	else if (rc == 1)
		api_error(s, 404, "rack %s is not peered with %s (GET /system/peers lists its peers)",
		    r->name, q->args[0]);
}
