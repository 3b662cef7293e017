/*
 * keeper.h — the rack daemon's keeper: a small parent process that starts
 * cx-rackd and starts it again, with a growing back-off, when it dies by a
 * signal or a failure (kill -9, a crash, fatal()). A clean stop (exit 0:
 * SIGTERM, `cx rack uninstall`) ends the keeper too.
 *
 * The keeper is forked before the daemon opens anything, so it holds none of
 * the daemon's descriptors (lock, store, sockets) and no app state: the new
 * daemon adopts what still runs, as after any restart. It writes keeper.pid
 * in the rack's directory and answers three signals: SIGTERM/SIGINT (stop
 * the daemon cleanly, then exit), SIGUSR1 (let go: exit, leaving the daemon
 * running unkept — what `cx rack uninstall` sends first).
 */
#ifndef CX_KEEPER_H
#define CX_KEEPER_H

#include <stdint.h>

/* The daemon's exit status when another daemon holds the rack's lock: the
 * keeper leaves that rack to the other one rather than retrying. */
#define KEEPER_EXIT_HELD 3
/* A daemon that ran this long before it died is restarted at once. */
#define KEEPER_STABLE_MS 5000
#define KEEPER_BACKOFF_FIRST_MS 250
#define KEEPER_BACKOFF_MAX_MS 30000

/* The delay before restart number `failures` (0-based) of a daemon that
 * keeps dying young: 0 for the first, then 250 ms doubling to 30 s. */
int64_t keeper_backoff_ms(int failures);

/*
 * Forks the daemon and keeps it. Returns only in the daemon (the child):
 * *ready_fd is then where it reports its first start ("ok" or why not), -1
 * on a restart (nobody waits for it). report_fd is where the keeper passes
 * the first start's report on (the CLI waiting in `cx-rackd --daemon`), or
 * -1. In the keeper it never returns: it exits 0 after a clean stop or
 * SIGUSR1, 1 when the first start failed.
 */
void keeper_run(const char *dir, int report_fd, int *ready_fd);

#endif
