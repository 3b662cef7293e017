/*
 * apply.h — Kubernetes objects to an API server by server-side apply
 * (PATCH, application/apply-patch+yaml, force: the rack's field manager
 * owns every field it sets), through httpc (libcurl); no kubectl. Each
 * object goes as the YAML cx renders (k8s_yaml_stream), so the server's
 * own reader judges what cx writes.
 */
#ifndef CX_K8S_APPLY_H
#define CX_K8S_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/jv.h"
#include "k8s/kubeconfig.h"

/* The server's minor version (GET /version: "minor": "20", or "20+"). -1
 * with err (unreachable, refused, not a Kubernetes API server). */
int k8s_server_minor(const struct kubeconfig *kc, int *minor, char *err, size_t errlen);

/* GET path: 0 with the server's status in *code and its answer in *answer
 * (owned; NULL when it is not JSON), or -1 with err when it could not be
 * asked. */
int k8s_get(const struct kubeconfig *kc, const char *path, long *code, jv **answer, char *err,
    size_t errlen);

/* The object's resource path, /api/v1/namespaces/NS/secrets/NAME and the
 * like, into out; -1 for a kind cx does not render. */
int k8s_object_path(const jv *obj, char *out, size_t outlen);

/* The path of the collection of kind (apiVersion api) in namespace ns ("":
 * cluster-wide), /apis/apps/v1/namespaces/NS/deployments and the like; -1
 * for a kind cx does not render or a part that is not a name. */
int k8s_collection_path(const char *api, const char *kind, const char *ns, char *out,
    size_t outlen);

/* Applies obj with field manager `manager` (dry_run: the server checks and
 * stores nothing). 0 with the stored resourceVersion in rv (empty on a dry
 * run of a new object), or -1 with err: the server's own message when it
 * refused, or why it could not be asked. */
int k8s_apply(const struct kubeconfig *kc, const jv *obj, const char *manager, bool dry_run,
    char *rv, size_t rvlen, char *err, size_t errlen);

/* Applies docs (an app's objects) so that a refusal changes as little as
 * can be: the Namespaces first, then every other object checked by the
 * server (dryRun=All), then each applied. A line "KIND NAME
 * RESOURCEVERSION" per object applied goes to out. 0, or -1 with err
 * naming the first object refused and the server's message. */
int k8s_apply_checked(const struct kubeconfig *kc, const jv *docs, const char *manager,
    struct buf *out, char *err, size_t errlen);

/* Deletes from namespace ns the objects of each of kinds (render.h
 * k8s_app_kinds) that carry selector (a labelSelector, URL-escaped) and
 * that docs do not hold: what a release no longer renders. A line "KIND
 * NAME deleted" per object to out. 0, or -1 with err at the first the
 * server refuses. */
struct k8s_kind;
int k8s_prune(const struct kubeconfig *kc, const jv *docs, const char *ns, const char *selector,
    const struct k8s_kind *kinds, size_t nkinds, struct buf *out, char *err, size_t errlen);

/* DELETE path (an object's, as k8s_object_path gives it): 0 when deleted,
 * being deleted or already gone (404); -1 with err (the server's message,
 * or why it could not be asked). */
int k8s_delete_object(const struct kubeconfig *kc, const char *path, char *err, size_t errlen);

/* Removes what rack applied to the cluster: every Namespace labelled
 * cx.rack=RACK (what is in them goes with them) and the cluster-wide objects
 * so labelled (IngressClasses, ClusterRoles, ClusterRoleBindings). Each
 * removal is written to out as "KIND NAME deleted". 0, or -1 with err (the
 * server unreachable or refusing). */
int k8s_delete_rack(const struct kubeconfig *kc, const char *rack, struct buf *out, char *err,
    size_t errlen);

#endif
