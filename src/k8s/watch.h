/*
 * watch.h — one collection of a Kubernetes API server (every Ingress, say)
 * kept current in memory, as a controller does: list it, then watch from
 * the list's resourceVersion, applying each event as it streams in; list
 * again when the server says the version is too old (410) or the stream
 * breaks. Each watch runs in a thread of its own and writes a byte to a
 * descriptor of the caller's at each change, so one poll() loop can follow
 * several. The copy the caller takes is its own.
 *
 *   START -> LISTING --ok--> WATCHING --event--> WATCHING (notify)
 *               ^  |             |  timeout/end: WATCHING again, same version
 *               |  fail          |  410 Gone, a broken stream: LISTING
 *               |  v             v
 *               BACKOFF (1 s, doubling to 16 s; stop ends any state)
 */
#ifndef CX_K8S_WATCH_H
#define CX_K8S_WATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/jv.h"
#include "k8s/kubeconfig.h"

struct k8s_watch {
	const struct kubeconfig *kc;	/* not owned; outlives the watch */
	char path[256];			/* the collection: /apis/networking.k8s.io/v1/ingresses,
					 * maybe with a query (?fieldSelector=...) */
	int notify_fd;			/* a byte is written to it at each change */
	pthread_t thread;
	pthread_mutex_t mu;		/* guards what follows */
	jv *items;			/* "NAMESPACE/NAME" -> the object */
	bool synced;			/* listed once at least */
	char rv[64];			/* the version the watch goes on from */
	char error[512];		/* the last failure, "" once it works again */
	unsigned lists, events;		/* counts, for the log */
	atomic_bool stop;
};

/* Starts watching path on kc's server. 0, or -1 with err (no thread). */
int k8s_watch_start(struct k8s_watch *w, const struct kubeconfig *kc, const char *path,
    int notify_fd, char *err, size_t errlen);
/* Ends the watch (its request is cancelled within a second) and frees
 * what it holds. */
void k8s_watch_stop(struct k8s_watch *w);
/* A copy of the items (owned by the caller), or NULL until it listed once. */
jv *k8s_watch_copy(struct k8s_watch *w);

/* One watch event line applied to items (exposed for the tests): ADDED and
 * MODIFIED set the object, DELETED removes it, BOOKMARK only moves rv;
 * each sets rv from the object's resourceVersion. 1 when items changed, 0
 * when not, -1 when the stream must be listed again (an ERROR event, such
 * as 410 Gone, or a line that is not an event). */
int k8s_watch_event(jv *items, char *rv, size_t rvlen, const char *line, size_t len);

#endif
