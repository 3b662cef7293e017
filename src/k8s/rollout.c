/*
 * rollout.c — see rollout.h.
 *
 * One object's rollout, as the controller's status tells it:
 *
 *   WAITING --observedGeneration >= generation, all updated, none old,
 *             all available--> DONE
 *   WAITING --condition Progressing reason ProgressDeadlineExceeded--> FAILED
 *   DONE --a newer generation (another apply)--> WAITING
 *
 * k8s_rollout_wait asks for each object until every one is DONE, one is
 * FAILED, or its time is up.
 */
#include "k8s/rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s/apply.h"

/* The condition of type `type` in obj's status, or NULL. */
static const jv *
condition(const jv *obj, const char *type)
{
	const jv *conds = jv_get(jv_get(obj, "status"), "conditions");

	for (size_t i = 0; conds != NULL && i < jv_len(conds); i++)
		if (strcmp(jv_str(jv_at(conds, i), "type"), type) == 0)
			return jv_at(conds, i);
	return NULL;
}

enum k8s_rollout
k8s_rollout_state(const jv *obj, char *why, size_t whylen)
{
	const char *kind = jv_str(obj, "kind");
	const jv *st = jv_get(obj, "status"), *spec = jv_get(obj, "spec");
	int64_t gen = jv_int(jv_get(obj, "metadata"), "generation");
	int64_t want, updated, total, avail;
	bool daemon = strcmp(kind, "DaemonSet") == 0;

	if (!daemon && strcmp(kind, "Deployment") != 0)
		return K8S_ROLLOUT_DONE;
	if (st == NULL || jv_int(st, "observedGeneration") < gen) {
		snprintf(why, whylen, "the controller has not seen generation %lld yet", (long long)gen);
		return K8S_ROLLOUT_WAITING;
	}
	if (!daemon) {
		const jv *p = condition(obj, "Progressing");

		if (p != NULL && strcmp(jv_str(p, "reason"), "ProgressDeadlineExceeded") == 0) {
			snprintf(why, whylen, "ProgressDeadlineExceeded: %.400s", jv_str(p, "message"));
			return K8S_ROLLOUT_FAILED;
		}
		want = jv_is_int(jv_get(spec, "replicas")) ? jv_int(spec, "replicas") : 1;
		updated = jv_int(st, "updatedReplicas");
		total = jv_int(st, "replicas");
		avail = jv_int(st, "availableReplicas");
	} else {
		want = jv_int(st, "desiredNumberScheduled");
		updated = jv_int(st, "updatedNumberScheduled");
		total = want;
		avail = jv_int(st, "numberAvailable");
	}
	if (updated < want)
		snprintf(why, whylen, "%lld of %lld replicas updated", (long long)updated,
		    (long long)want);
	else if (total > updated)
		snprintf(why, whylen, "%lld old replicas still running", (long long)(total - updated));
	else if (avail < updated)
		snprintf(why, whylen, "%lld of %lld updated replicas available", (long long)avail,
		    (long long)updated);
	else
		return K8S_ROLLOUT_DONE;
	return K8S_ROLLOUT_WAITING;
}

int
k8s_rollout_wait(const struct kubeconfig *kc, const jv *docs, int64_t timeout_ms, int poll_ms,
    struct buf *out, char *err, size_t errlen)
{
	size_t n = jv_len(docs);
	bool *done = xcalloc(n + 1, sizeof(*done));
	int64_t t0 = now_ms();
	char why[600] = "";
	int rc = -1;

	for (;;) {
		size_t left = 0;
		const char *kind = NULL, *name = NULL;

		for (size_t i = 0; i < n; i++) {
			const jv *d = jv_at(docs, i);
			char path[512];
			long code;
			jv *obj;
			enum k8s_rollout s;

			if (done[i] || k8s_rollout_state(d, why, sizeof(why)) == K8S_ROLLOUT_DONE) {
				done[i] = true;     /* rolled out, or not a kind that rolls */
				continue;
			}
			if (k8s_object_path(d, path, sizeof(path)) == -1) {
				snprintf(err, errlen, "%s %s: no path to ask for it", jv_str(d, "kind"),
				    jv_str(jv_get(d, "metadata"), "name"));
				goto out;
			}
			if (k8s_get(kc, path, &code, &obj, err, errlen) == -1)
				goto out;
			if (code != 200) {
				snprintf(err, errlen, "%s %s: the API server answered %ld to GET %s",
				    jv_str(d, "kind"), jv_str(jv_get(d, "metadata"), "name"), code, path);
				jv_free(obj);
				goto out;
			}
			s = k8s_rollout_state(obj, why, sizeof(why));
			jv_free(obj);
			kind = jv_str(d, "kind");
			name = jv_str(jv_get(d, "metadata"), "name");
			if (s == K8S_ROLLOUT_FAILED) {
				snprintf(err, errlen, "%s %s did not roll out: %s", kind, name, why);
				goto out;
			}
			if (s == K8S_ROLLOUT_DONE) {
				done[i] = true;
				buf_addf(out, "rollout %s %s %lld\n", kind, name,
				    (long long)(now_ms() - t0));
				continue;
			}
			left++;
			break;      /* one unfinished object at a time: the rest wait anyway */
		}
		if (left == 0) {
			rc = 0;
			goto out;
		}
		if (now_ms() - t0 >= timeout_ms) {
			snprintf(err, errlen, "%s %s did not finish rolling out in %lld s: %s", kind, name,
			    (long long)(timeout_ms / 1000), why);
			goto out;
		}
		nanosleep(&(struct timespec){ poll_ms / 1000, (poll_ms % 1000) * 1000000L }, NULL);
	}
out:
	free(done);
	return rc;
}
