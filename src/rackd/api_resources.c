/*
 * api_resources.c — GET /apps/APP/resources and GET /apps/APP/resources/NAME:
 * what the rack runs for an app's `resources:` (resource.h), with each one's
 * URL (its password in it: the API is the rack's owner's), status, and the
 * services of the active release that list it under the variable they get
 * (`cx resources console` runs its client in one of them).
 */
#include <stdio.h>
#include <string.h>

#include "common/jv.h"
#include "rackd/api.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"
#include "rackd/resource.h"

struct list_ctx {
	const struct app *a;
	jv *out;
};

static jv *
info_json(const struct app *a, const struct resource_info *ri)
{
	jv *o = jv_object_new(), *svcs = jv_array_new();

	jv_set_str(o, "name", ri->name);
	jv_set_str(o, "type", ri->type);
	jv_set_str(o, "url", ri->url);
	jv_set_str(o, "status", ri->status);
	jv_set_str(o, "error", ri->error);
	jv_set_str(o, "version", ri->version);
	jv_set_str(o, "host", ri->host);
	jv_set_int(o, "port", ri->port);
	jv_set_int(o, "pid", ri->pid);
	jv_set_int(o, "restarts", ri->restarts);
	jv_set_int(o, "uid", ri->uid);
	jv_set_str(o, "dir", ri->dir);
	for (size_t i = 0; a->manifest != NULL && i < a->manifest->nservices; i++) {
		const struct mf_service *s = &a->manifest->services[i];

		for (size_t j = 0; j < s->nresources; j++) {
			jv *e;

			if (strcmp(s->resources[j].name, ri->name) != 0)
				continue;
			e = jv_object_new();
			jv_set_str(e, "service", s->name);
			jv_set_str(e, "env", s->resources[j].env);
			jv_push_take(svcs, e);
		}
	}
	jv_set_take(o, "services", svcs);
	return o;
}

static void
add_one(const struct resource_info *ri, void *arg)
{
	struct list_ctx *c = arg;

	jv_push_take(c->out, info_json(c->a, ri));
}

void
api_resources_list(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	struct list_ctx c;

	if (a == NULL)
		return;
	c = (struct list_ctx){ .a = a, .out = jv_array_new() };
	resource_each(r, a->name, add_one, &c);
	s->json = c.out;
}

void
api_resource_get(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	struct resource_info ri;

	if (a == NULL)
		return;
	if (resource_get(r, a->name, q->args[1], &ri) == -1) {
		api_error(s, 404, "no such resource: %s (cx resources -a %s lists them)", q->args[1],
		    a->name);
		return;
	}
	s->json = info_json(a, &ri);
}

/* POST /apps/APP/resources/NAME/import with an RDB file as the body (a
 * redis resource; the others load their dumps through their clients). */
void
api_resource_import(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	struct resource_info ri;
	char err[512];

	if (a == NULL)
		return;
	if (resource_get(r, a->name, q->args[1], &ri) == -1) {
		api_error(s, 404, "no such resource: %s (cx resources -a %s lists them)", q->args[1],
		    a->name);
		return;
	}
	if (resource_redis_import(r, a->name, q->args[1], q->body_path, err, sizeof(err)) == -1) {
		api_error(s, 400, "%s", err);
		return;
	}
	s->json = jv_object_new();
	jv_set_str(s->json, "imported", q->args[1]);
}
