/*
 * test_k8s_rollout.c — k8s_rollout_state's transitions (k8s/rollout.c's
 * drawing): WAITING until the controller has seen the generation and every
 * replica is updated and available with no old one left, FAILED on
 * ProgressDeadlineExceeded, DONE again only for the generation seen; and
 * DaemonSets and kinds that do not roll. That the daemon waits on a real
 * API server is tests/e2e/kube-deploy.t's part.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "k8s/rollout.h"

/* The state of the object in JSON text t, with its why. */
static enum k8s_rollout
state_of(const char *t, char *why, size_t whylen)
{
	jv *o = jv_parse(t, strlen(t), NULL, 0);
	enum k8s_rollout s;

	assert_non_null(o);
	why[0] = '\0';
	s = k8s_rollout_state(o, why, whylen);
	jv_free(o);
	return s;
}

#define DEP(gen, rep, status) \
	"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"generation\":" #gen "}," \
	"\"spec\":{\"replicas\":" #rep "},\"status\":{" status "}}"

static void
test_deployment(void **state)
{
	char why[256];

	(void)state;
	/* Just applied: no status yet. */
	assert_int_equal(state_of("{\"kind\":\"Deployment\",\"metadata\":{\"generation\":1}}",
	    why, sizeof(why)), K8S_ROLLOUT_WAITING);
	assert_string_equal(why, "the controller has not seen generation 1 yet");
	/* A status of the generation before. */
	assert_int_equal(state_of(DEP(3, 2, "\"observedGeneration\":2,\"replicas\":2,"
	    "\"updatedReplicas\":2,\"availableReplicas\":2"), why, sizeof(why)), K8S_ROLLOUT_WAITING);
	assert_string_equal(why, "the controller has not seen generation 3 yet");
	assert_int_equal(state_of(DEP(3, 2, "\"observedGeneration\":3,\"replicas\":3,"
	    "\"updatedReplicas\":1,\"availableReplicas\":2"), why, sizeof(why)), K8S_ROLLOUT_WAITING);
	assert_string_equal(why, "1 of 2 replicas updated");
	assert_int_equal(state_of(DEP(3, 2, "\"observedGeneration\":3,\"replicas\":3,"
	    "\"updatedReplicas\":2,\"availableReplicas\":2"), why, sizeof(why)), K8S_ROLLOUT_WAITING);
	assert_string_equal(why, "1 old replicas still running");
	assert_int_equal(state_of(DEP(3, 2, "\"observedGeneration\":3,\"replicas\":2,"
	    "\"updatedReplicas\":2,\"availableReplicas\":1"), why, sizeof(why)), K8S_ROLLOUT_WAITING);
	assert_string_equal(why, "1 of 2 updated replicas available");
	assert_int_equal(state_of(DEP(3, 2, "\"observedGeneration\":3,\"replicas\":2,"
	    "\"updatedReplicas\":2,\"availableReplicas\":2"), why, sizeof(why)), K8S_ROLLOUT_DONE);
	/* Scaled to 0: done once seen. */
	assert_int_equal(state_of(DEP(4, 0, "\"observedGeneration\":4"), why, sizeof(why)),
	    K8S_ROLLOUT_DONE);
	/* The controller gave up: failed, with its message, even with replicas short. */
	assert_int_equal(state_of(DEP(5, 2, "\"observedGeneration\":5,\"replicas\":3,"
	    "\"updatedReplicas\":1,\"availableReplicas\":2,\"conditions\":[{\"type\":\"Available\","
	    "\"status\":\"True\"},{\"type\":\"Progressing\",\"status\":\"False\",\"reason\":"
	    "\"ProgressDeadlineExceeded\",\"message\":\"ReplicaSet \\\"web-1\\\" has timed out "
	    "progressing.\"}]"), why, sizeof(why)), K8S_ROLLOUT_FAILED);
	assert_string_equal(why, "ProgressDeadlineExceeded: ReplicaSet \"web-1\" has timed out "
	    "progressing.");
	/* Progressing for another reason is not a failure. */
	assert_int_equal(state_of(DEP(5, 1, "\"observedGeneration\":5,\"replicas\":1,"
	    "\"updatedReplicas\":1,\"availableReplicas\":1,\"conditions\":[{\"type\":"
	    "\"Progressing\",\"status\":\"True\",\"reason\":\"NewReplicaSetAvailable\"}]"), why,
	    sizeof(why)), K8S_ROLLOUT_DONE);
	/* No spec.replicas (an autoscaler's): one. */
	assert_int_equal(state_of("{\"kind\":\"Deployment\",\"metadata\":{\"generation\":1},"
	    "\"status\":{\"observedGeneration\":1}}", why, sizeof(why)), K8S_ROLLOUT_WAITING);
	assert_string_equal(why, "0 of 1 replicas updated");
}

static void
test_daemonset_and_others(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(state_of("{\"kind\":\"DaemonSet\",\"metadata\":{\"generation\":2},"
	    "\"status\":{\"observedGeneration\":2,\"desiredNumberScheduled\":3,"
	    "\"updatedNumberScheduled\":2,\"numberAvailable\":3}}", why, sizeof(why)),
	    K8S_ROLLOUT_WAITING);
	assert_string_equal(why, "2 of 3 replicas updated");
	assert_int_equal(state_of("{\"kind\":\"DaemonSet\",\"metadata\":{\"generation\":2},"
	    "\"status\":{\"observedGeneration\":2,\"desiredNumberScheduled\":3,"
	    "\"updatedNumberScheduled\":3,\"numberAvailable\":3}}", why, sizeof(why)),
	    K8S_ROLLOUT_DONE);
	assert_int_equal(state_of("{\"kind\":\"Service\",\"metadata\":{\"generation\":1}}", why,
	    sizeof(why)), K8S_ROLLOUT_DONE);
	assert_int_equal(state_of("{\"kind\":\"StatefulSet\",\"metadata\":{\"generation\":1}}", why,
	    sizeof(why)), K8S_ROLLOUT_DONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_daemonset_and_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
