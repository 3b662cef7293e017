/*
 * ev.c — epoll loop with a timer min-heap and a signalfd.
 *
 * Watchers live in an array indexed by fd. A callback may delete any watcher,
 * its own included: events already fetched for a deleted fd are skipped by
 * checking the watcher's generation before dispatch. A turn is one
 * epoll_wait, its fd callbacks, the timers due, then the turn callback.
 */
#include "common/ev.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/util.h"

struct ev_watch {
	ev_fd_cb cb;
	void *arg;
	uint32_t gen;   /* bumped on every add/del so stale events are skipped */
	bool active;
};

struct ev_timer {
	int64_t when;
	size_t idx;
	ev_timer_cb cb;
	void *arg;
};

#define EV_MAX_SIGNAL 65

struct ev_loop {
	int epfd;
	struct ev_watch *w;
	size_t nw;
	struct ev_timer **heap;
	size_t nheap, capheap;
	int sigfd;
	sigset_t sigs;
	ev_signal_cb sigcb[EV_MAX_SIGNAL];
	void *sigarg[EV_MAX_SIGNAL];
	int64_t now;
	bool stop;
	ev_turn_cb turn_cb;
	void *turn_arg;
};

struct ev_loop *
ev_new(void)
{
	struct ev_loop *loop = xcalloc(1, sizeof(*loop));

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd == -1) {
		free(loop);
		return NULL;
	}
	loop->sigfd = -1;
	sigemptyset(&loop->sigs);
	loop->now = now_ms();
	return loop;
}

void
ev_free(struct ev_loop *loop)
{
	if (loop == NULL)
		return;
	for (size_t i = 0; i < loop->nheap; i++)
		free(loop->heap[i]);
	free(loop->heap);
	free(loop->w);
	if (loop->sigfd != -1)
		close(loop->sigfd);
	close(loop->epfd);
	free(loop);
}

static struct ev_watch *
watch_slot(struct ev_loop *loop, int fd)
{
	if (fd < 0)
		return NULL;
	if ((size_t)fd >= loop->nw) {
		size_t n = loop->nw ? loop->nw : 64;

		while (n <= (size_t)fd)
			n *= 2;
		loop->w = xrealloc(loop->w, n * sizeof(*loop->w));
		memset(loop->w + loop->nw, 0, (n - loop->nw) * sizeof(*loop->w));
		loop->nw = n;
	}
	return &loop->w[fd];
}

int
ev_add(struct ev_loop *loop, int fd, uint32_t events, ev_fd_cb cb, void *arg)
{
	struct ev_watch *w = watch_slot(loop, fd);
	struct epoll_event ee = { .events = events };

	if (w == NULL) {
		errno = EBADF;
		return -1;
	}
	w->gen++;
	ee.data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)w->gen << 32);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee) == -1)
		return -1;
	w->cb = cb;
	w->arg = arg;
	w->active = true;
	return 0;
}

int
ev_mod(struct ev_loop *loop, int fd, uint32_t events)
{
	struct epoll_event ee = { .events = events };

	if (fd < 0 || (size_t)fd >= loop->nw || !loop->w[fd].active) {
		errno = EBADF;
		return -1;
	}
	ee.data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)loop->w[fd].gen << 32);
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ee);
}

void
ev_del(struct ev_loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->nw || !loop->w[fd].active)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->w[fd].active = false;
	loop->w[fd].gen++;
}

/* Timer heap: smallest `when` at index 0. */
static void
heap_swap(struct ev_loop *loop, size_t a, size_t b)
{
	struct ev_timer *t = loop->heap[a];

	loop->heap[a] = loop->heap[b];
	loop->heap[b] = t;
	loop->heap[a]->idx = a;
	loop->heap[b]->idx = b;
}

static void
heap_up(struct ev_loop *loop, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (loop->heap[parent]->when <= loop->heap[i]->when)
			break;
		heap_swap(loop, parent, i);
		i = parent;
	}
}

static void
heap_down(struct ev_loop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < loop->nheap && loop->heap[l]->when < loop->heap[m]->when)
			m = l;
		if (r < loop->nheap && loop->heap[r]->when < loop->heap[m]->when)
			m = r;
		if (m == i)
			break;
		heap_swap(loop, i, m);
		i = m;
	}
}

static void
heap_remove(struct ev_loop *loop, size_t i)
{
	loop->nheap--;
	if (i != loop->nheap) {
		loop->heap[i] = loop->heap[loop->nheap];
		loop->heap[i]->idx = i;
		heap_down(loop, i);
		heap_up(loop, i);
	}
}

struct ev_timer *
ev_timer_add(struct ev_loop *loop, int64_t ms, ev_timer_cb cb, void *arg)
{
	struct ev_timer *t = xmalloc(sizeof(*t));

	if (loop->nheap == loop->capheap) {
		loop->capheap = loop->capheap ? loop->capheap * 2 : 64;
		loop->heap = xrealloc(loop->heap, loop->capheap * sizeof(*loop->heap));
	}
	t->when = now_ms() + (ms < 0 ? 0 : ms);
	t->cb = cb;
	t->arg = arg;
	t->idx = loop->nheap;
	loop->heap[loop->nheap++] = t;
	heap_up(loop, t->idx);
	return t;
}

void
ev_timer_cancel(struct ev_loop *loop, struct ev_timer *t)
{
	if (t == NULL)
		return;
	heap_remove(loop, t->idx);
	free(t);
}

static void
signal_read(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int signo = (int)si.ssi_signo;

		if (signo > 0 && signo < EV_MAX_SIGNAL && loop->sigcb[signo] != NULL)
			loop->sigcb[signo](loop, signo, loop->sigarg[signo]);
	}
}

int
ev_signal(struct ev_loop *loop, int signo, ev_signal_cb cb, void *arg)
{
	if (signo <= 0 || signo >= EV_MAX_SIGNAL) {
		errno = EINVAL;
		return -1;
	}
	sigaddset(&loop->sigs, signo);
	if (sigprocmask(SIG_BLOCK, &loop->sigs, NULL) == -1)
		return -1;
	if (loop->sigfd == -1) {
		loop->sigfd = signalfd(-1, &loop->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
		if (loop->sigfd == -1)
			return -1;
		if (ev_add(loop, loop->sigfd, EV_READ, signal_read, NULL) == -1)
			return -1;
	} else if (signalfd(loop->sigfd, &loop->sigs, 0) == -1) {
		return -1;
	}
	loop->sigcb[signo] = cb;
	loop->sigarg[signo] = arg;
	return 0;
}

static int
next_timeout(struct ev_loop *loop)
{
	int64_t d;

	if (loop->nheap == 0)
		return -1;
	d = loop->heap[0]->when - now_ms();
	if (d < 0)
		return 0;
	return d > 60000 ? 60000 : (int)d;
}

static void
run_timers(struct ev_loop *loop)
{
	int64_t now = now_ms();

	while (loop->nheap > 0 && loop->heap[0]->when <= now && !loop->stop) {
		struct ev_timer *t = loop->heap[0];

		heap_remove(loop, 0);
		t->cb(loop, t->arg);
		free(t);
	}
}

int
ev_run(struct ev_loop *loop)
{
	struct epoll_event evs[256];

	loop->stop = false;
	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, evs, (int)CX_ARRAY_LEN(evs), next_timeout(loop));

		if (n == -1 && errno != EINTR)
			return -1;
		loop->now = now_ms();
		for (int i = 0; i < n && !loop->stop; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
			struct ev_watch *w = &loop->w[fd];

			if (!w->active || w->gen != gen)
				continue;
			w->cb(loop, fd, evs[i].events, w->arg);
		}
		run_timers(loop);
		if (loop->turn_cb != NULL && !loop->stop)
			loop->turn_cb(loop, loop->turn_arg);
	}
	return 0;
}

void
ev_on_turn(struct ev_loop *loop, ev_turn_cb cb, void *arg)
{
	loop->turn_cb = cb;
	loop->turn_arg = arg;
}

void
ev_stop(struct ev_loop *loop)
{
	loop->stop = true;
}

int64_t
ev_now(struct ev_loop *loop)
{
	return loop->now;
}
