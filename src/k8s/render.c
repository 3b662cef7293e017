/*
 * render.c — convox.yml to Kubernetes objects (see render.h). Each object is
 * built as a jv value in the key order `kubectl get -o yaml` shows, so the
 * YAML reads as people expect. Nothing here talks to a server.
 */
#include "k8s/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tls.h"
#include "common/util.h"

#define MANAGER "cx"

/* What a resource type runs as on Kubernetes: its image, port, where its
 * data lives, and how its URL is made. */
struct kind {
	const char *type;
	const char *image;
	int port;
	const char *data_dir;   /* NULL: no volume (memcached) */
	const char *scheme;     /* URL scheme */
};

static const struct kind kinds[] = {
	{ "postgres", "postgres:15", 5432, "/var/lib/postgresql/data", "postgres" },
	{ "mysql", "mysql:8.0", 3306, "/var/lib/mysql", "mysql" },
	{ "mariadb", "mariadb:10.11", 3306, "/var/lib/mysql", "mysql" },
	{ "redis", "redis:7", 6379, "/data", "redis" },
	{ "memcached", "memcached:1.6", 11211, NULL, "memcached" },
};

static const struct kind *
kind_of(const char *type)
{
	for (size_t i = 0; i < CX_ARRAY_LEN(kinds); i++)
		if (strcmp(kinds[i].type, type) == 0)
			return &kinds[i];
	return NULL;
}

void
k8s_namespace(const char *rack, const char *app, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-%s", rack, app);
}

/* The apiVersions that change with the server's 1.minor (0: the newest). */
static const char *
hpa_api(int minor)
{
	return minor != 0 && minor < 23 ? "autoscaling/v2beta2" : "autoscaling/v2";
}

static const char *
cronjob_api(int minor)
{
	return minor != 0 && minor < 21 ? "batch/v1beta1" : "batch/v1";
}

size_t
k8s_app_kinds(int minor, struct k8s_kind *out, size_t max)
{
	const struct k8s_kind all[] = {
		{ "v1", "Secret" }, { "v1", "Service" }, { "apps/v1", "Deployment" },
		{ "apps/v1", "DaemonSet" }, { "apps/v1", "StatefulSet" },
		{ "networking.k8s.io/v1", "Ingress" }, { cronjob_api(minor), "CronJob" },
		{ hpa_api(minor), "HorizontalPodAutoscaler" },
	};
	size_t n = 0;

	for (; n < CX_ARRAY_LEN(all) && n < max; n++)
		out[n] = all[n];
	return n;
}

/* ---- small builders ---- */

static jv *
labels(const struct k8s_render_opts *o, const char *what, const char *name)
{
	jv *l = jv_object_new();

	jv_set_str(l, "app.kubernetes.io/managed-by", MANAGER);
	jv_set_str(l, "cx.rack", o->rack);
	jv_set_str(l, "cx.app", o->app);
	if (what != NULL)
		jv_set_str(l, what, name);
	return l;
}

/* {apiVersion, kind, metadata: {name, namespace, labels}}; ns NULL for a
 * cluster-wide object. */
static jv *
object(const char *api, const char *kind, const char *name, const char *ns, jv *lab)
{
	jv *o = jv_object_new(), *md = jv_object_new();

	jv_set_str(o, "apiVersion", api);
	jv_set_str(o, "kind", kind);
	jv_set_str(md, "name", name);
	if (ns != NULL)
		jv_set_str(md, "namespace", ns);
	jv_set_take(md, "labels", lab);
	jv_set_take(o, "metadata", md);
	return o;
}

/* The selector's labels of what `what: name` names. */
static jv *
selector(const struct k8s_render_opts *o, const char *what, const char *name)
{
	jv *l = jv_object_new();

	jv_set_str(l, "cx.app", o->app);
	jv_set_str(l, what, name);
	return l;
}

static jv *
strv(const char *a, const char *b, const char *c)
{
	jv *arr = jv_array_new();

	jv_push_str(arr, a);
	if (b != NULL)
		jv_push_str(arr, b);
	if (c != NULL)
		jv_push_str(arr, c);
	return arr;
}

/* A Secret of "K=V" entries, in data (base64) rather than stringData: the
 * server keeps no stringData, so applying it again would change the object
 * every time. */
static jv *
secret(const struct k8s_render_opts *o, const char *ns, const char *name, const char *what,
    const char *owner, char *const *kv)
{
	jv *s = object("v1", "Secret", name, ns, labels(o, what, owner)), *data = jv_object_new();

	jv_set_str(s, "type", "Opaque");
	for (size_t i = 0; kv != NULL && kv[i] != NULL; i++) {
		const char *eq = strchr(kv[i], '=');
		size_t vlen;
		char *k, *b64;

		if (eq == NULL)
			continue;
		vlen = strlen(eq + 1);
		k = xstrndup(kv[i], (size_t)(eq - kv[i]));
		b64 = xmalloc(4 * ((vlen + 2) / 3) + 1);
		base64_encode((const unsigned char *)eq + 1, vlen, b64);
		jv_set_str(data, k, b64);
		free(b64);
		free(k);
	}
	if (kv != NULL && kv[0] != NULL)
		jv_set_take(s, "data", data);  /* an empty map is stored as none */
	else
		jv_free(data);
	return s;
}

/* A Service port; app_protocol (appProtocol, GA since Kubernetes 1.20) or NULL. */
static jv *
service_port(const char *name, int port, int target, const char *app_protocol)
{
	jv *p = jv_object_new();

	jv_set_str(p, "name", name);
	jv_set_str(p, "protocol", "TCP");
	if (app_protocol != NULL)
		jv_set_str(p, "appProtocol", app_protocol);
	jv_set_int(p, "port", port);
	jv_set_int(p, "targetPort", target);
	return p;
}

/* A ClusterIP Service NAME in front of the pods selected by what: name;
 * app_protocol as service_port's. */
static jv *
cluster_service(const struct k8s_render_opts *o, const char *ns, const char *what,
    const char *name, const char *port_name, int port, const char *app_protocol)
{
	jv *s = object("v1", "Service", name, ns, labels(o, what, name)), *spec = jv_object_new();
	jv *ports = jv_array_new();

	jv_set_str(spec, "type", "ClusterIP");
	jv_set_take(spec, "selector", selector(o, what, name));
	jv_push_take(ports, service_port(port_name, port, port, app_protocol));
	jv_set_take(spec, "ports", ports);
	jv_set_take(s, "spec", spec);
	return s;
}

/* ---- resources ---- */

/* The resource's password: stable for a rack, app and name (the rack's
 * seed keyed), so that applying twice changes nothing. */
static void
resource_password(const struct k8s_render_opts *o, const char *name, char *out, size_t outlen)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "k8s-resource/%s/%s/%s", o->rack, o->app, name);
	tls_hmac_hex(o->seed, msg, out, outlen < 33 ? outlen : 33);
}

static void
resource_url(const struct k8s_render_opts *o, const struct mf_resource *res, const struct kind *k,
    char *out, size_t outlen)
{
	char pw[64], ns[80];

	k8s_namespace(o->rack, o->app, ns, sizeof(ns));
	resource_password(o, res->name, pw, sizeof(pw));
	if (strcmp(k->type, "memcached") == 0)
		snprintf(out, outlen, "memcached://%s.%s.svc.cluster.local:%d", res->name, ns, k->port);
	else if (strcmp(k->type, "redis") == 0)
		snprintf(out, outlen, "redis://:%s@%s.%s.svc.cluster.local:%d/0", pw, res->name, ns,
		    k->port);
	else
		snprintf(out, outlen, "%s://app:%s@%s.%s.svc.cluster.local:%d/app", k->scheme, pw,
		    res->name, ns, k->port);
}

static jv *
env_from_secret(const char *var, const char *secret_name, const char *key)
{
	jv *e = jv_object_new(), *from = jv_object_new(), *ref = jv_object_new();

	jv_set_str(e, "name", var);
	jv_set_str(ref, "name", secret_name);
	jv_set_str(ref, "key", key);
	jv_set_take(from, "secretKeyRef", ref);
	jv_set_take(e, "valueFrom", from);
	return e;
}

static jv *
env_value(const char *var, const char *value)
{
	jv *e = jv_object_new();

	jv_set_str(e, "name", var);
	jv_set_str(e, "value", value);
	return e;
}

/* The container's environment for a server of kind k, its password read
 * from the credentials Secret. */
static jv *
resource_env(const struct kind *k, const char *creds)
{
	jv *env = jv_array_new();

	if (strcmp(k->type, "postgres") == 0) {
		jv_push_take(env, env_value("POSTGRES_USER", "app"));
		jv_push_take(env, env_value("POSTGRES_DB", "app"));
		jv_push_take(env, env_from_secret("POSTGRES_PASSWORD", creds, "password"));
		jv_push_take(env, env_value("PGDATA", "/var/lib/postgresql/data/pgdata"));
	} else if (strcmp(k->type, "mysql") == 0 || strcmp(k->type, "mariadb") == 0) {
		const char *p = strcmp(k->type, "mysql") == 0 ? "MYSQL" : "MARIADB";
		char v[32];

		snprintf(v, sizeof(v), "%s_USER", p);
		jv_push_take(env, env_value(v, "app"));
		snprintf(v, sizeof(v), "%s_DATABASE", p);
		jv_push_take(env, env_value(v, "app"));
		snprintf(v, sizeof(v), "%s_PASSWORD", p);
		jv_push_take(env, env_from_secret(v, creds, "password"));
		snprintf(v, sizeof(v), "%s_RANDOM_ROOT_PASSWORD", p);
		jv_push_take(env, env_value(v, "yes"));
	} else if (strcmp(k->type, "redis") == 0) {
		jv_push_take(env, env_from_secret("REDIS_PASSWORD", creds, "password"));
	}
	return env;
}

static jv *
container_port(const char *name, int port)
{
	jv *ports = jv_array_new(), *p = jv_object_new();

	jv_set_str(p, "name", name);
	jv_set_int(p, "containerPort", port);
	jv_set_str(p, "protocol", "TCP");
	jv_push_take(ports, p);
	return ports;
}

static jv *
resource_statefulset(const struct k8s_render_opts *o, const char *ns,
    const struct mf_resource *res, const struct kind *k, const char *creds)
{
	jv *ss = object("apps/v1", "StatefulSet", res->name, ns, labels(o, "cx.resource", res->name));
	jv *spec = jv_object_new(), *sel = jv_object_new(), *tpl = jv_object_new();
	jv *tmd = jv_object_new(), *pod = jv_object_new(), *cs = jv_array_new(), *c = jv_object_new();
	jv *env;

	jv_set_str(spec, "serviceName", res->name);
	jv_set_int(spec, "replicas", 1);
	jv_set_take(sel, "matchLabels", selector(o, "cx.resource", res->name));
	jv_set_take(spec, "selector", sel);
	jv_set_take(tmd, "labels", labels(o, "cx.resource", res->name));
	jv_set_take(tpl, "metadata", tmd);
	jv_set_str(c, "name", k->type);
	jv_set_str(c, "image", k->image);
	if (strcmp(k->type, "redis") == 0)
		jv_set_take(c, "args", strv("--requirepass", "$(REDIS_PASSWORD)", NULL));
	jv_set_take(c, "ports", container_port("main", k->port));
	env = resource_env(k, creds);
	if (jv_len(env) > 0)            /* an empty list is stored as none: a change each apply */
		jv_set_take(c, "env", env);
	else
		jv_free(env);
	if (k->data_dir != NULL) {
		jv *mounts = jv_array_new(), *mnt = jv_object_new();

		jv_set_str(mnt, "name", "data");
		jv_set_str(mnt, "mountPath", k->data_dir);
		jv_push_take(mounts, mnt);
		jv_set_take(c, "volumeMounts", mounts);
	}
	jv_push_take(cs, c);
	jv_set_take(pod, "containers", cs);
	jv_set_take(tpl, "spec", pod);
	jv_set_take(spec, "template", tpl);
	if (k->data_dir != NULL) {
		jv *claims = jv_array_new(), *pvc = jv_object_new(), *pmd = jv_object_new();
		jv *pspec = jv_object_new(), *res_ = jv_object_new(), *req = jv_object_new();

		jv *st = jv_object_new();

		/* The list is atomic to server-side apply: written as the server
		 * stores it (its defaults included), or each apply replaces it. */
		jv_set_str(pvc, "apiVersion", "v1");
		jv_set_str(pvc, "kind", "PersistentVolumeClaim");
		jv_set_str(pmd, "name", "data");
		jv_set_null(pmd, "creationTimestamp");
		jv_set_take(pvc, "metadata", pmd);
		jv_set_take(pspec, "accessModes", strv("ReadWriteOnce", NULL, NULL));
		jv_set_str(req, "storage", "10Gi");
		jv_set_take(res_, "requests", req);
		jv_set_take(pspec, "resources", res_);
		jv_set_str(pspec, "volumeMode", "Filesystem");
		jv_set_take(pvc, "spec", pspec);
		jv_set_str(st, "phase", "Pending");
		jv_set_take(pvc, "status", st);
		jv_push_take(claims, pvc);
		jv_set_take(spec, "volumeClaimTemplates", claims);
	}
	jv_set_take(ss, "spec", spec);
	return ss;
}

static int
render_resources(const struct manifest *m, const struct k8s_render_opts *o, const char *ns,
    jv *docs, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->nresources; i++) {
		const struct mf_resource *res = &m->resources[i];
		const struct kind *k = kind_of(res->type);
		char creds[96], pw[64], url[512], kv_pw[80], kv_url[600];
		char *kv[3] = { kv_pw, kv_url, NULL };

		if (k == NULL) {
			snprintf(err, errlen, "resource %s: type %s has no Kubernetes form (postgres, "
			    "mysql, mariadb, redis or memcached)", res->name, res->type);
			return -1;
		}
		snprintf(creds, sizeof(creds), "%s-credentials", res->name);
		resource_password(o, res->name, pw, sizeof(pw));
		resource_url(o, res, k, url, sizeof(url));
		snprintf(kv_pw, sizeof(kv_pw), "password=%s", pw);
		snprintf(kv_url, sizeof(kv_url), "url=%s", url);
		jv_push_take(docs, secret(o, ns, creds, "cx.resource", res->name, kv));
		jv_push_take(docs, cluster_service(o, ns, "cx.resource", res->name, "main", k->port,
		    NULL));
		jv_push_take(docs, resource_statefulset(o, ns, res, k, creds));
	}
	return 0;
}

/* ---- services ---- */

void
k8s_image(const struct k8s_render_opts *o, const struct mf_service *s, char *out, size_t outlen)
{
	char tag[64];

	if (s->image != NULL) {
		str_copy(out, outlen, s->image);
		return;
	}
	snprintf(tag, sizeof(tag), "%s.%s", s->name, o->build != NULL ? o->build : "latest");
	for (char *p = tag; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	snprintf(out, outlen, "%s/%s-%s:%s", o->registry, o->rack, o->app, tag);
}

/* The app's environment plus each resource's URL the app does not set,
 * NULL-terminated; *nadded strings after the first o->nenv are malloc'd. */
static char **
env_with_resources(const struct manifest *m, const struct k8s_render_opts *o, size_t *nadded)
{
	char **env = xcalloc(o->nenv + 1, sizeof(*env));
	size_t n = 0;

	for (size_t i = 0; i < o->nenv; i++)
		env[n++] = o->env[i];
	*nadded = 0;
	for (size_t i = 0; i < m->nservices; i++) {
		const struct mf_service *s = &m->services[i];

		for (size_t r = 0; r < s->nresources; r++) {
			const struct mf_resource *res = NULL;
			size_t vlen = strlen(s->resources[r].env);
			bool have = false;
			char url[512];

			for (size_t k = 0; k < m->nresources; k++)
				if (strcmp(m->resources[k].name, s->resources[r].name) == 0)
					res = &m->resources[k];
			for (size_t k = 0; k < n; k++)
				have |= strncmp(env[k], s->resources[r].env, vlen) == 0 &&
				    env[k][vlen] == '=';
			if (res == NULL || have || kind_of(res->type) == NULL)
				continue;
			resource_url(o, res, kind_of(res->type), url, sizeof(url));
			env = xrealloc(env, (n + 2) * sizeof(*env));
			env[n++] = xasprintf("%s=%s", s->resources[r].env, url);
			env[n] = NULL;
			(*nadded)++;
		}
	}
	env[n] = NULL;
	return env;
}

static bool
is_grpc(const struct mf_service *s)
{
	return s->port_scheme != NULL && strcmp(s->port_scheme, "grpc") == 0;
}

/* The readiness probe: GET health.path, or for a gRPC port a TCP connect
 * (a gRPC server refuses HTTP/1.1, and probes of kind grpc came only with
 * Kubernetes 1.24). */
static jv *
probe(const struct mf_service *s)
{
	jv *p = jv_object_new(), *get = jv_object_new();

	jv_set_str(get, "port", "main");
	if (is_grpc(s)) {
		jv_set_take(p, "tcpSocket", get);
	} else {
		jv_set_str(get, "path", s->health_path != NULL ? s->health_path : "/");
		jv_set_str(get, "scheme", s->port_scheme != NULL &&
		    strcmp(s->port_scheme, "https") == 0 ? "HTTPS" : "HTTP");
		jv_set_take(p, "httpGet", get);
	}
	jv_set_int(p, "initialDelaySeconds", s->health_grace);
	jv_set_int(p, "periodSeconds", s->health_interval > 0 ? s->health_interval : 5);
	jv_set_int(p, "timeoutSeconds", s->health_timeout > 0 ? s->health_timeout : 1);
	jv_set_int(p, "failureThreshold", 3);
	return p;
}

static jv *
resources_of(const struct mf_service *s)
{
	jv *r = jv_object_new(), *req = jv_object_new(), *lim = jv_object_new();
	char v[32];

	/* scale.cpu counts 1000 per core, as Convox's docs do: millicores. */
	snprintf(v, sizeof(v), "%dm", s->scale_cpu > 0 ? s->scale_cpu : 1);
	jv_set_str(req, "cpu", v);
	snprintf(v, sizeof(v), "%dMi", s->scale_memory);
	jv_set_str(req, "memory", v);
	jv_set_str(lim, "memory", v);
	jv_set_take(r, "requests", req);
	jv_set_take(r, "limits", lim);
	return r;
}

/* The pod template of service s: its container from the image, command,
 * environment (from the service's Secret), port, readiness and limits. */
static jv *
pod_template(const struct k8s_render_opts *o, const struct mf_service *s, const char *command,
    bool job)
{
	jv *tpl = jv_object_new(), *md = jv_object_new(), *spec = jv_object_new();
	jv *cs = jv_array_new(), *c = jv_object_new(), *from = jv_array_new(), *ref = jv_object_new();
	jv *sec = jv_object_new();
	char image[512], env_secret[96];

	jv_set_take(md, "labels", labels(o, "cx.service", s->name));
	if (o->release != NULL) {
		jv *ann = jv_object_new();

		jv_set_str(ann, "cx.release", o->release);
		jv_set_take(md, "annotations", ann);
	}
	jv_set_take(tpl, "metadata", md);
	k8s_image(o, s, image, sizeof(image));
	jv_set_str(c, "name", s->name);
	jv_set_str(c, "image", image);
	if (command != NULL)
		jv_set_take(c, "command", strv("/bin/sh", "-c", command));
	snprintf(env_secret, sizeof(env_secret), "%s-env", s->name);
	jv_set_str(sec, "name", env_secret);
	jv_set_take(ref, "secretRef", sec);
	jv_push_take(from, ref);
	jv_set_take(c, "envFrom", from);
	if (s->port > 0 && !job) {
		jv_set_take(c, "ports", container_port("main", s->port));
		if (!s->health_disabled)
			jv_set_take(c, "readinessProbe", probe(s));
	}
	jv_set_take(c, "resources", resources_of(s));
	jv_push_take(cs, c);
	jv_set_take(spec, "containers", cs);
	if (job)
		jv_set_str(spec, "restartPolicy", "Never");
	jv_set_int(spec, "terminationGracePeriodSeconds", s->termination_grace);
	jv_set_take(tpl, "spec", spec);
	return tpl;
}

/* scale.count as a range (min-max): a HorizontalPodAutoscaler's. */
static bool
autoscaled(const struct mf_service *s)
{
	return !s->agent && s->scale_max > s->scale_min;
}

/* One metric of an autoscaler: resource name at percent of the request. */
static jv *
utilization(const char *name, int percent)
{
	jv *m = jv_object_new(), *res = jv_object_new(), *target = jv_object_new();

	jv_set_str(m, "type", "Resource");
	jv_set_str(res, "name", name);
	jv_set_str(target, "type", "Utilization");
	jv_set_int(target, "averageUtilization", percent);
	jv_set_take(res, "target", target);
	jv_set_take(m, "resource", res);
	return m;
}

/* The autoscaler of service s: scale.count's range, on scale.targets (cpu,
 * memory: percent of the request), CPU at 70% when it names none; memory
 * first.
 * autoscaling/v2 from 1.23, v2beta2 before. */
static jv *
autoscaler(const struct k8s_render_opts *o, const char *ns, const struct mf_service *s)
{
	jv *h = object(hpa_api(o->kube_minor), "HorizontalPodAutoscaler", s->name, ns,
	    labels(o, "cx.service", s->name));
	jv *spec = jv_object_new(), *ref = jv_object_new(), *metrics = jv_array_new();

	jv_set_str(ref, "apiVersion", "apps/v1");
	jv_set_str(ref, "kind", "Deployment");
	jv_set_str(ref, "name", s->name);
	jv_set_take(spec, "scaleTargetRef", ref);
	jv_set_int(spec, "minReplicas", s->scale_min > 0 ? s->scale_min : 1);
	jv_set_int(spec, "maxReplicas", s->scale_max);
	/* Memory first: a server that stores autoscaling/v1 (1.20) keeps the
	 * others in an annotation and puts CPU back last, so any other order
	 * would change the object at every apply. */
	if (s->target_memory > 0)
		jv_push_take(metrics, utilization("memory", s->target_memory));
	if (s->target_cpu > 0 || s->target_memory == 0)
		jv_push_take(metrics, utilization("cpu", s->target_cpu > 0 ? s->target_cpu : 70));
	jv_set_take(spec, "metrics", metrics);
	jv_set_take(h, "spec", spec);
	return h;
}

/* The replicas of service s: cx scale's count, else scale.count. */
static int
count_of(const struct k8s_render_opts *o, const struct mf_service *s)
{
	for (size_t i = 0; i < o->ncounts; i++)
		if (strcmp(o->counts[i].service, s->name) == 0)
			return o->counts[i].count;
	return s->scale_count;
}

static jv *
workload(const struct k8s_render_opts *o, const char *ns, const struct mf_service *s)
{
	jv *d = object("apps/v1", s->agent ? "DaemonSet" : "Deployment", s->name, ns,
	    labels(o, "cx.service", s->name));
	jv *spec = jv_object_new(), *sel = jv_object_new(), *strat = jv_object_new();
	jv *ru = jv_object_new();
	char v[16];

	/* With a range the autoscaler owns replicas: setting them too would
	 * undo its work at each apply. */
	if (!s->agent && !autoscaled(s))
		jv_set_int(spec, "replicas", count_of(o, s));
	/* The service's deployment.progressDeadline wins, then the rack's. */
	if (!s->agent && (s->progress_deadline > 0 || o->progress_deadline > 0))
		jv_set_int(spec, "progressDeadlineSeconds", s->progress_deadline > 0 ?
		    s->progress_deadline : o->progress_deadline);
	jv_set_take(sel, "matchLabels", selector(o, "cx.service", s->name));
	jv_set_take(spec, "selector", sel);
	/* deployment.minimum: the share that keeps serving; maximum: the share
	 * that may run at once (Convox's 50/200). */
	jv_set_str(strat, "type", "RollingUpdate");
	snprintf(v, sizeof(v), "%d%%", 100 - s->deploy_min);
	if (s->agent && s->deploy_min >= 100)
		jv_set_int(ru, "maxUnavailable", 1);    /* a DaemonSet must let one go */
	else
		jv_set_str(ru, "maxUnavailable", v);
	if (!s->agent && s->deploy_min >= 100 && s->deploy_max <= 100) {
		jv_set_int(ru, "maxSurge", 1);  /* both 0 cannot roll: one more at a time */
	} else if (!s->agent) {
		snprintf(v, sizeof(v), "%d%%", s->deploy_max - 100);
		jv_set_str(ru, "maxSurge", v);
	}
	jv_set_take(strat, "rollingUpdate", ru);
	jv_set_take(spec, s->agent ? "updateStrategy" : "strategy", strat);
	jv_set_take(spec, "template", pod_template(o, s, s->command, false));
	jv_set_take(d, "spec", spec);
	return d;
}

static jv *
ingress(const struct k8s_render_opts *o, const char *ns, const struct mf_service *s)
{
	jv *in = object("networking.k8s.io/v1", "Ingress", s->name, ns,
	    labels(o, "cx.service", s->name));
	jv *spec = jv_object_new(), *rules = jv_array_new();
	char host[256];
	size_t nhosts = s->ndomains > 0 ? s->ndomains + 1 : 1;

	jv_set_str(spec, "ingressClassName", s->internal_router ? "cx-internal" : "cx");
	for (size_t h = 0; h < nhosts; h++) {
		jv *rule = jv_object_new(), *http = jv_object_new(), *paths = jv_array_new();
		jv *p = jv_object_new(), *be = jv_object_new(), *svc = jv_object_new();
		jv *port = jv_object_new();

		if (h == 0)
			snprintf(host, sizeof(host), "%s.%s.%s", s->name, o->app, s->internal_router ?
			    o->domain_internal : o->domain);
		else
			str_copy(host, sizeof(host), s->domains[h - 1]);
		jv_set_str(rule, "host", host);
		jv_set_str(p, "path", "/");
		jv_set_str(p, "pathType", "Prefix");
		jv_set_str(svc, "name", s->name);
		jv_set_int(port, "number", s->port);
		jv_set_take(svc, "port", port);
		jv_set_take(be, "service", svc);
		jv_set_take(p, "backend", be);
		jv_push_take(paths, p);
		jv_set_take(http, "paths", paths);
		jv_set_take(rule, "http", http);
		jv_push_take(rules, rule);
	}
	jv_set_take(spec, "rules", rules);
	jv_set_take(in, "spec", spec);
	return in;
}

static int
render_services(const struct manifest *m, const struct k8s_render_opts *o, const char *ns,
    jv *docs, char *err, size_t errlen)
{
	size_t nadded;
	char **app_env = env_with_resources(m, o, &nadded);
	int rc = 0;

	for (size_t i = 0; i < m->nservices && rc == 0; i++) {
		const struct mf_service *s = &m->services[i];
		char name[96], e2[512];
		char **env = manifest_service_env(m, s, app_env, e2, sizeof(e2));

		if (env == NULL) {
			snprintf(err, errlen, "service %s: %s (cx env set KEY=VALUE -a %s)", s->name, e2,
			    o->app);
			rc = -1;
			break;
		}
		snprintf(name, sizeof(name), "%s-env", s->name);
		jv_push_take(docs, secret(o, ns, name, "cx.service", s->name, env));
		manifest_env_free(env);
		jv_push_take(docs, workload(o, ns, s));
		if (autoscaled(s))
			jv_push_take(docs, autoscaler(o, ns, s));
		if (s->port > 0)
			jv_push_take(docs, cluster_service(o, ns, "cx.service", s->name, "main", s->port,
			    is_grpc(s) ? "grpc" : NULL));
		if (s->port > 0 && !s->internal)
			jv_push_take(docs, ingress(o, ns, s));
	}
	for (size_t i = o->nenv; i < o->nenv + nadded; i++)
		free(app_env[i]);
	free(app_env);
	return rc;
}

/* ---- timers ---- */

static jv *
cronjob(const struct k8s_render_opts *o, const char *ns, const struct manifest *m,
    const struct mf_timer *t)
{
	jv *cj = object(cronjob_api(o->kube_minor), "CronJob", t->name, ns,
	    labels(o, "cx.timer", t->name));
	jv *spec = jv_object_new(), *jt = jv_object_new(), *js = jv_object_new();
	const struct mf_service *s = manifest_service(m, t->service);
	const char *cc = t->concurrency != NULL ? t->concurrency : "allow";

	jv_set_str(spec, "schedule", t->schedule);
	jv_set_str(spec, "concurrencyPolicy", strcmp(cc, "forbid") == 0 ? "Forbid" :
	    strcmp(cc, "replace") == 0 ? "Replace" : "Allow");
	jv_set_int(js, "backoffLimit", 0);
	jv_set_take(js, "template", pod_template(o, s, t->command, true));
	jv_set_take(jt, "spec", js);
	jv_set_take(spec, "jobTemplate", jt);
	jv_set_take(cj, "spec", spec);
	return cj;
}

jv *
k8s_render(const struct manifest *m, const struct k8s_render_opts *o, char *err, size_t errlen)
{
	jv *docs = jv_array_new();
	char ns[80];

	/* Rack and app names are 30 characters at most: a namespace fits 63. */
	k8s_namespace(o->rack, o->app, ns, sizeof(ns));
	jv_push_take(docs, object("v1", "Namespace", ns, NULL, labels(o, NULL, NULL)));
	if (render_resources(m, o, ns, docs, err, errlen) == -1 ||
	    render_services(m, o, ns, docs, err, errlen) == -1) {
		jv_free(docs);
		return NULL;
	}
	for (size_t i = 0; i < m->ntimers; i++)
		if (manifest_service(m, m->timers[i].service) != NULL)
			jv_push_take(docs, cronjob(o, ns, m, &m->timers[i]));
	return docs;
}

/* ---- the rack's own objects ---- */

/* Each cloud's annotation that makes a LoadBalancer Service internal. */
static const struct {
	const char *cloud, *key, *value;
} internal_lb[] = {
	{ "aws", "service.beta.kubernetes.io/aws-load-balancer-scheme", "internal" },
	{ "gcp", "networking.gke.io/load-balancer-type", "Internal" },
	{ "azure", "service.beta.kubernetes.io/azure-load-balancer-internal", "true" },
	{ "do", "service.beta.kubernetes.io/do-loadbalancer-network", "INTERNAL" },
	{ "generic", NULL, NULL },
};

static jv *
rack_labels(const struct k8s_render_opts *o, const char *component)
{
	jv *l = jv_object_new();

	jv_set_str(l, "app.kubernetes.io/managed-by", MANAGER);
	jv_set_str(l, "cx.rack", o->rack);
	if (component != NULL)
		jv_set_str(l, "cx.component", component);
	return l;
}

static jv *
ingress_class(const struct k8s_render_opts *o, const char *name)
{
	jv *ic = object("networking.k8s.io/v1", "IngressClass", name, NULL, rack_labels(o, NULL));
	jv *spec = jv_object_new();

	jv_set_str(spec, "controller", "cx.dev/router");
	jv_set_take(ic, "spec", spec);
	return ic;
}

static jv *
rbac_rule(const char *group, const char *r1, const char *r2)
{
	jv *rule = jv_object_new();

	jv_set_take(rule, "apiGroups", strv(group, NULL, NULL));
	jv_set_take(rule, "resources", strv(r1, r2, NULL));
	jv_set_take(rule, "verbs", strv("get", "list", "watch"));
	return rule;
}

static void
router_rbac(const struct k8s_render_opts *o, const char *ns, jv *docs)
{
	char name[96];
	jv *role, *rules = jv_array_new(), *bind, *ref = jv_object_new(), *subj = jv_array_new();
	jv *sa = jv_object_new();

	jv_push_take(docs, object("v1", "ServiceAccount", "router", ns, rack_labels(o, "router")));
	snprintf(name, sizeof(name), "cx-%s-router", o->rack);
	role = object("rbac.authorization.k8s.io/v1", "ClusterRole", name, NULL,
	    rack_labels(o, "router"));
	jv_push_take(rules, rbac_rule("networking.k8s.io", "ingresses", "ingressclasses"));
	jv_push_take(rules, rbac_rule("", "services", "endpoints"));
	jv_push_take(rules, rbac_rule("", "secrets", NULL));	/* cx-ingress asks for kubernetes.io/tls ones */
	jv_push_take(rules, rbac_rule("", "configmaps", NULL));	/* the internal routers' peers */
	jv_set_take(role, "rules", rules);
	jv_push_take(docs, role);
	bind = object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", name, NULL,
	    rack_labels(o, "router"));
	jv_set_str(ref, "apiGroup", "rbac.authorization.k8s.io");
	jv_set_str(ref, "kind", "ClusterRole");
	jv_set_str(ref, "name", name);
	jv_set_take(bind, "roleRef", ref);
	jv_set_str(sa, "kind", "ServiceAccount");
	jv_set_str(sa, "name", "router");
	jv_set_str(sa, "namespace", ns);
	jv_push_take(subj, sa);
	jv_set_take(bind, "subjects", subj);
	jv_push_take(docs, bind);
}

/* Where an internal router pod keeps its peer files (cx-ingress --peers),
 * and the ports of its peer and egress listeners. */
#define PEER_DIR	"/run/cx/peer"
#define PEER_PORT	8443
#define EGRESS_PORT	8080

/* A router Deployment: two replicas of cx-ingress (the controller: it
 * watches the Ingresses of its class with the pod's service account) in
 * front of cx-router, from the rack's registry, serving 80 and, with the
 * certificates of the Ingresses' TLS Secrets, 443; the snapshot and the
 * certificates live in an emptyDir. The internal one also serves its
 * hosts to peers on 8443 (mutual TLS, the peers of the rack's ConfigMap
 * peers) and carries its pods' requests for peers' names from 8080. */
static jv *
router_deployment(const struct k8s_render_opts *o, const char *ns, const char *name,
    const char *role)
{
	jv *d = object("apps/v1", "Deployment", name, ns, rack_labels(o, name));
	jv *spec = jv_object_new(), *sel = jv_object_new(), *ml = jv_object_new();
	jv *tpl = jv_object_new(), *md = jv_object_new(), *pod = jv_object_new();
	jv *cs = jv_array_new(), *c = jv_object_new(), *ports = jv_array_new();
	jv *cmd = jv_array_new(), *vols = jv_array_new(), *vol = jv_object_new();
	jv *mounts = jv_array_new(), *mount = jv_object_new();
	char image[512];
	bool internal = strcmp(role, "cx") != 0;
	const char *const names[] = { "http", "https", "peer", "egress" };
	const int nums[] = { 80, 443, PEER_PORT, EGRESS_PORT };
	const char *const ingress[] = { "cx-ingress", "--in-cluster", "--class", role, "--rack",
		o->rack, "--routes", "/run/cx/routes", "--certs", "/run/cx/certs" };
	const char *const router[] = { "--", "cx-router", "--name", internal ? "internal" :
		"public", "--rack", o->rack, "--routes", "/run/cx/routes", "--listen", "0.0.0.0:80",
		"--listen-tls", "0.0.0.0:443", "--certs", "/run/cx/certs" };
	const char *const peer[] = { "--listen-peer", "0.0.0.0:8443", "--listen-egress",
		"0.0.0.0:8080", "--peer-cert", PEER_DIR "/peer.pem", "--peer-key",
		PEER_DIR "/peer.key" };

	jv_set_int(spec, "replicas", 2);
	jv_set_str(ml, "cx.rack", o->rack);
	jv_set_str(ml, "cx.component", name);
	jv_set_take(sel, "matchLabels", ml);
	jv_set_take(spec, "selector", sel);
	jv_set_take(md, "labels", rack_labels(o, name));
	jv_set_take(tpl, "metadata", md);
	jv_set_str(pod, "serviceAccountName", "router");
	snprintf(image, sizeof(image), "%s/cx-router:%s", o->registry, o->release != NULL ?
	    o->release : "latest");
	jv_set_str(c, "name", "router");
	jv_set_str(c, "image", image);
	for (size_t i = 0; i < CX_ARRAY_LEN(ingress); i++)
		jv_push_str(cmd, ingress[i]);
	if (internal) {
		jv_push_str(cmd, "--peers");
		jv_push_str(cmd, PEER_DIR);
	}
	for (size_t i = 0; i < CX_ARRAY_LEN(router); i++)
		jv_push_str(cmd, router[i]);
	for (size_t i = 0; internal && i < CX_ARRAY_LEN(peer); i++)
		jv_push_str(cmd, peer[i]);
	jv_set_take(c, "command", cmd);
	jv_set_str(mount, "name", "routes");
	jv_set_str(mount, "mountPath", "/run/cx");
	jv_push_take(mounts, mount);
	jv_set_take(c, "volumeMounts", mounts);
	for (size_t i = 0; i < (internal ? 4u : 2u); i++) {
		jv *p = jv_object_new();

		jv_set_str(p, "name", names[i]);
		jv_set_int(p, "containerPort", nums[i]);
		jv_set_str(p, "protocol", "TCP");
		jv_push_take(ports, p);
	}
	jv_set_take(c, "ports", ports);
	jv_push_take(cs, c);
	jv_set_take(pod, "containers", cs);
	jv_set_str(vol, "name", "routes");
	jv_set_take(vol, "emptyDir", jv_object_new());
	jv_push_take(vols, vol);
	jv_set_take(pod, "volumes", vols);
	jv_set_take(tpl, "spec", pod);
	jv_set_take(spec, "template", tpl);
	jv_set_take(d, "spec", spec);
	return d;
}

/* A Service of type (LoadBalancer, ClusterIP) in front of component's
 * pods, port ports[i] to targets[i]; annotation key (or NULL) makes a load
 * balancer internal. */
static jv *
rack_service(const struct k8s_render_opts *o, const char *ns, const char *name,
    const char *type, const char *component, const char *key, const char *value,
    const int *ports, const int *targets, size_t n)
{
	jv *s = object("v1", "Service", name, ns, rack_labels(o, name));
	jv *spec = jv_object_new(), *sel = jv_object_new(), *pl = jv_array_new();

	if (key != NULL) {
		jv *ann = jv_object_new();

		jv_set_str(ann, key, value);
		jv_set_take(jv_get(s, "metadata"), "annotations", ann);
	}
	jv_set_str(spec, "type", type);
	jv_set_str(sel, "cx.rack", o->rack);
	jv_set_str(sel, "cx.component", component);
	jv_set_take(spec, "selector", sel);
	for (size_t i = 0; i < n; i++) {
		char pname[16];

		snprintf(pname, sizeof(pname), "p%d", ports[i]);
		jv_push_take(pl, service_port(pname, ports[i], targets[i], NULL));
	}
	jv_set_take(spec, "ports", pl);
	jv_set_take(s, "spec", spec);
	return s;
}

jv *
k8s_render_rack(const struct k8s_render_opts *o, const char *cloud, char *err, size_t errlen)
{
	static const int web[] = { 80, 443 }, peer[] = { PEER_PORT }, egress[] = { 80 };
	static const int egress_to[] = { EGRESS_PORT };
	const char *key = NULL, *value = NULL;
	bool known = false;
	char ns[64];
	jv *docs;

	for (size_t i = 0; i < CX_ARRAY_LEN(internal_lb); i++) {
		if (strcmp(internal_lb[i].cloud, cloud) == 0) {
			key = internal_lb[i].key;
			value = internal_lb[i].value;
			known = true;
		}
	}
	if (!known) {
		snprintf(err, errlen, "cloud %.32s is not one of aws, gcp, azure, do or generic", cloud);
		return NULL;
	}
	snprintf(ns, sizeof(ns), "%s-system", o->rack);
	docs = jv_array_new();
	jv_push_take(docs, object("v1", "Namespace", ns, NULL, rack_labels(o, NULL)));
	jv_push_take(docs, ingress_class(o, "cx"));
	jv_push_take(docs, ingress_class(o, "cx-internal"));
	router_rbac(o, ns, docs);
	jv_push_take(docs, router_deployment(o, ns, "router", "cx"));
	jv_push_take(docs, router_deployment(o, ns, "router-internal", "cx-internal"));
	jv_push_take(docs, rack_service(o, ns, "router", "LoadBalancer", "router", NULL, NULL, web,
	    web, 2));
	jv_push_take(docs, rack_service(o, ns, "router-internal", "LoadBalancer",
	    "router-internal", key, value, web, web, 2));
	/* The peering endpoint: other racks reach it over TLS, wherever they are. */
	jv_push_take(docs, rack_service(o, ns, "peer", "LoadBalancer", "router-internal", NULL,
	    NULL, peer, peer, 1));
	/* The way out to peers, for the cluster's pods: plain HTTP in, with
	 * a peer's internal name as Host. */
	jv_push_take(docs, rack_service(o, ns, "egress", "ClusterIP", "router-internal", NULL,
	    NULL, egress, egress_to, 1));
	return docs;
}

/* base64 of the n bytes at p (malloc'd). */
static char *
b64(const char *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	base64_encode((const unsigned char *)p, n, out);
	return out;
}

jv *
k8s_render_peering(const struct k8s_render_opts *o, const char *cert, const char *key,
    const struct k8s_peer *peers, size_t n)
{
	jv *docs = jv_array_new(), *cm, *data = jv_object_new();
	struct buf lines;
	char ns[64];

	snprintf(ns, sizeof(ns), "%s-system", o->rack);
	if (cert != NULL && key != NULL) {
		jv *s = object("v1", "Secret", "peer", ns, rack_labels(o, "peer"));
		jv *sd = jv_object_new();
		char *c = b64(cert, strlen(cert)), *k = b64(key, strlen(key));

		jv_set_str(s, "type", "kubernetes.io/tls");
		jv_set_str(sd, "tls.crt", c);
		jv_set_str(sd, "tls.key", k);
		explicit_bzero(k, strlen(k));
		free(c);
		free(k);
		jv_set_take(s, "data", sd);
		jv_push_take(docs, s);
	}
	buf_init(&lines, 0);
	for (size_t i = 0; i < n; i++) {
		char pem[64];

		buf_addf(&lines, "%s %s %s\n", peers[i].name, peers[i].endpoint,
		    peers[i].internal_domain);
		snprintf(pem, sizeof(pem), "%s.pem", peers[i].name);
		jv_set_str(data, pem, peers[i].ca);
	}
	jv_set_str(data, "peers", buf_cstr(&lines));
	buf_free(&lines);
	cm = object("v1", "ConfigMap", "peers", ns, rack_labels(o, "peer"));
	jv_set_take(cm, "data", data);
	jv_push_take(docs, cm);
	return docs;
}
