/*
 * rollout.h — whether a release's Deployments and DaemonSets have rolled
 * out on the cluster, as `kubectl rollout status` judges it: the
 * controller has seen the newest spec (status.observedGeneration), every
 * wanted replica runs the new template and is available, and no old one
 * is left; or the controller gave up (condition Progressing, reason
 * ProgressDeadlineExceeded, after spec.progressDeadlineSeconds).
 */
#ifndef CX_K8S_ROLLOUT_H
#define CX_K8S_ROLLOUT_H

#include <stddef.h>

#include "common/jv.h"
#include "common/util.h"
#include "k8s/kubeconfig.h"

enum k8s_rollout { K8S_ROLLOUT_DONE, K8S_ROLLOUT_WAITING, K8S_ROLLOUT_FAILED };

/* The state of obj (a Deployment or DaemonSet as the server answers it,
 * with its status; any other kind is DONE). For WAITING and FAILED, why
 * says in one line what is awaited or what the controller said. Pure. */
enum k8s_rollout k8s_rollout_state(const jv *obj, char *why, size_t whylen);

/* Waits until each Deployment and DaemonSet of docs (rendered objects) has
 * rolled out, asking the server every poll_ms, for at most timeout_ms. A
 * line "rollout KIND NAME MS" per object goes to out as it finishes. 0; or
 * -1 with err: a rollout the controller gave up on, one still unfinished at
 * the timeout (saying what it waits for), or the server unreachable. */
int k8s_rollout_wait(const struct kubeconfig *kc, const jv *docs, int64_t timeout_ms,
    int poll_ms, struct buf *out, char *err, size_t errlen);

#endif
