/*
 * supervisor.h — starting, watching and stopping the rack's processes: app
 * processes (each PID 1 of a PID namespace of its own, cx-init, which runs
 * the app's own process and reaps what it leaves; in a control group of its
 * own, cgroup.h; output through a log shim) and the routers. Exits are noticed through pidfds on the loop and handed to
 * whoever registered for them (sup_set_exit_handler): the supervisor calls
 * no module above it.
 *
 * App processes are reached through struct sup_ops, so that a unit test can
 * put a fake supervisor in r->sup and drive the reconciler without forking.
 */
#ifndef CX_SUPERVISOR_H
#define CX_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rack;
struct proc;
struct router_proc;

struct sandbox;

struct sup_ops {
	/* Starts p (its st fields filled in: id, app, service, port...) running
	 * `/bin/sh -c command` with env (NULL-terminated K=V) behind the walls
	 * that sb describes (sandbox.h), and watches it: its exit reaches the
	 * exit handler. stdio NULL: stdin is /dev/null and output goes to the
	 * app's log; else stdio[0..2] become its stdin, stdout and stderr (the
	 * caller keeps its descriptors). Sets p->st.pid, p->pidfd, and records
	 * p in the store (store_proc_put) before its command can run: a daemon
	 * that dies before the record leaves the child to exit unrun. 0, or -1
	 * with err and nothing left running. */
	int (*spawn_app)(struct rack *r, struct proc *p, const struct sandbox *sb,
	    const char *command, char *const *env, const int *stdio, char *err, size_t errlen);
	/* Watches an adopted process (not our child) for its exit. -1 if it is gone. */
	int (*adopt)(struct rack *r, struct proc *p);
	/* SIGTERM to p's cx-init now (which passes it to every process of its
	 * namespace; to p's process group for a process not contained), SIGKILL
	 * after grace_s (see sup_tick), which ends the namespace. The caller has
	 * marked p PROC_STOPPING. */
	void (*stop)(struct rack *r, struct proc *p, int grace_s);
	/* Stops watching p (before p is freed); its exit is reported no more. */
	void (*forget)(struct rack *r, struct proc *p);
};

/* The real one: forks, signals, pidfds on the rack's loop. */
extern const struct sup_ops sup_processes;

/* Who is told when an app process exits (p->pidfd is -1 and p->exit_status
 * set by then). The owner of the rack registers it before any process starts. */
typedef void (*sup_exit_fn)(struct rack *r, struct proc *p);
void sup_set_exit_handler(struct rack *r, sup_exit_fn fn);

/* Sends SIGKILL to stopping processes whose grace ran out. */
void sup_tick(struct rack *r);
/* Starts a router process (cx-router) for rp and sets rp->pid; the caller
 * watches it. 0 or -1. */
int sup_spawn_router(struct rack *r, struct router_proc *rp);
/* fork(), the child in PID namespace ns (a descriptor of one), or PID 1 of
 * a new one (ns -1): *entered says whether it is (not without the
 * privilege: a plain fork then). As fork: -1 with errno, 0 in the child. */
pid_t sup_fork_pidns(int ns, bool *entered);
/* The host pid of p's app's own process: told by it at its start, even
 * once it is gone; for one adopted after a daemon restart, the first child
 * of its cx-init; st.pid itself when not contained or unknown. */
pid_t sup_app_pid(const struct proc *p);
/* A pidfd (the caller's to close) of p's app's own process, its pid in
 * *pid: proved to be that process, not one that took a freed pid (a child
 * of p's cx-init, or st.pid with its recorded start time). -1 with err once
 * the app has exited. */
int sup_app_pidfd(const struct proc *p, pid_t *pid, char *err, size_t errlen);
/* Process start time from /proc/PID/stat (clock ticks since boot), -1 if gone. */
int64_t sup_pid_starttime(pid_t pid);

#endif
