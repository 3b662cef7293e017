/*
 * ev.h — a small epoll event loop: file descriptors, one-shot timers and
 * signals, for one thread. Used by the rack daemon, the routers and the lab
 * DNS. Callbacks run on the loop's thread; none of them may block.
 */
#ifndef CX_EV_H
#define CX_EV_H

#include <stdint.h>
#include <sys/epoll.h>

#define EV_READ  EPOLLIN
#define EV_WRITE EPOLLOUT
/* Reported in `events` of a callback on hang-up or error. */
#define EV_ERROR (EPOLLERR | EPOLLHUP)

struct ev_loop;
struct ev_timer;

typedef void (*ev_fd_cb)(struct ev_loop *loop, int fd, uint32_t events, void *arg);
typedef void (*ev_timer_cb)(struct ev_loop *loop, void *arg);
typedef void (*ev_signal_cb)(struct ev_loop *loop, int signo, void *arg);
typedef void (*ev_turn_cb)(struct ev_loop *loop, void *arg);

/* Returns a new loop, or NULL with errno set. Free with ev_free. */
struct ev_loop *ev_new(void);
void ev_free(struct ev_loop *loop);

/* Watches fd for EV_READ/EV_WRITE; one watcher per fd. -1 with errno on failure. */
int ev_add(struct ev_loop *loop, int fd, uint32_t events, ev_fd_cb cb, void *arg);
/* Changes the events watched for fd. */
int ev_mod(struct ev_loop *loop, int fd, uint32_t events);
/* Stops watching fd (call before close). Safe to call from any callback. */
void ev_del(struct ev_loop *loop, int fd);

/* Calls cb once after ms milliseconds. The handle is valid until the timer
 * fires or is cancelled; after cb returns the loop frees it. */
struct ev_timer *ev_timer_add(struct ev_loop *loop, int64_t ms, ev_timer_cb cb, void *arg);
/* Cancels a pending timer and frees it; NULL is a no-op. */
void ev_timer_cancel(struct ev_loop *loop, struct ev_timer *t);

/* Delivers signo through the loop (signalfd); the signal is blocked for the
 * thread. One callback per signal. */
int ev_signal(struct ev_loop *loop, int signo, ev_signal_cb cb, void *arg);

/* Calls cb at the end of every turn of the loop, after that turn's fd
 * callbacks and timers, unless the loop is stopping: work that many
 * callbacks ask for is done there once. One per loop; cb NULL removes it. */
void ev_on_turn(struct ev_loop *loop, ev_turn_cb cb, void *arg);

/* Runs until ev_stop; returns 0, or -1 if epoll_wait fails. */
int ev_run(struct ev_loop *loop);
void ev_stop(struct ev_loop *loop);
/* The loop's cached monotonic time in ms, refreshed each iteration. */
int64_t ev_now(struct ev_loop *loop);

#endif
