/*
 * timers.c — see timers.h. Schedules are parsed when a minute is checked:
 * the manifest module has accepted them already, and a minute has time.
 */
#include "rackd/timers.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "rackd/applog.h"
#include "rackd/cron.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"
#include "rackd/reconcile.h"

static int64_t last_minute = -1;

/* Is a run of this timer (id "timer-NAME-XXXXXXXX") still going? */
static bool
running(struct app *a, const char *prefix)
{
	size_t n = strlen(prefix);

	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		if (p->oneoff && strncmp(p->st.id, prefix, n) == 0 && p->st.id[n] == '-' &&
		    p->state != PROC_EXITED)
			return true;
	}
	return false;
}

static void
fire(struct rack *r, struct app *a, const struct mf_timer *t)
{
	const struct mf_service *s = manifest_service(a->manifest, t->service);
	char prefix[48], err[512];

	snprintf(prefix, sizeof(prefix), "timer-%s", t->name);
	if (s == NULL)
		return;
	if (t->concurrency != NULL && strcmp(t->concurrency, "forbid") == 0 && running(a, prefix)) {
		applog_system(r, a->name, "Timer %s: the last run still runs; skipped (forbid)", t->name);
		return;
	}
	if (reconcile_spawn_oneoff(r, a, s, prefix, t->command, NULL, NULL, err, sizeof(err)) == -1)
		applog_system(r, a->name, "Timer %s could not start: %s", t->name, err);
	else
		applog_system(r, a->name, "Timer %s: running %s", t->name, t->command);
}

void
timers_tick(struct rack *r)
{
	time_t now = time(NULL);
	int64_t minute = (int64_t)now / 60;
	struct tm tm;

	if (minute == last_minute)
		return;
	/* The first tick only notes the minute: a restart must not fire twice. */
	if (last_minute == -1) {
		last_minute = minute;
		return;
	}
	last_minute = minute;
	gmtime_r(&now, &tm);
	for (struct app *a = r->apps; a != NULL && !r->kube; a = a->next) {
		/* A Kubernetes rack's timers are CronJobs on its cluster. */
		if (a->manifest == NULL || a->deleting)
			continue;
		for (size_t i = 0; i < a->manifest->ntimers; i++) {
			const struct mf_timer *t = &a->manifest->timers[i];
			struct cron c;
			char err[256];

			if (cron_parse(t->schedule, &c, err, sizeof(err)) == -1) {
				log_warnx("app %s timer %s: %s", a->name, t->name, err);
				continue;
			}
			if (cron_match(&c, &tm))
				fire(r, a, t);
		}
	}
}
