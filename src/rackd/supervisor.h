/*
 * supervisor.h — starting, watching and stopping the rack's processes: app
 * processes (each in its own session, output through a log shim) and the
 * routers. Exits are noticed through pidfds on the loop and handed to the
 * reconciler (reconcile_proc_exited) or the routers module.
 */
#ifndef CX_SUPERVISOR_H
#define CX_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rack;
struct proc;
struct router_proc;

/* Starts p (its st fields filled in: id, app, service, port...) running
 * `/bin/sh -c command` with env (NULL-terminated K=V) behind the walls that
 * sb describes (sandbox.h). stdio NULL: stdin is /dev/null and output goes
 * to the app's log; else stdio[0..2] become its stdin, stdout and stderr
 * (the caller keeps its descriptors). 0, or -1 with err. */
struct sandbox;
int sup_spawn_app(struct rack *r, struct proc *p, const struct sandbox *sb, const char *command,
    char *const *env, const int *stdio, char *err, size_t errlen);
/* Watches an adopted process (not our child) for its exit. -1 if it is gone. */
int sup_adopt(struct rack *r, struct proc *p);
/* SIGTERM to the process group now, SIGKILL after grace_s (see sup_tick). */
void sup_stop(struct rack *r, struct proc *p, int grace_s);
/* Sends SIGKILL to stopping processes whose grace ran out. */
void sup_tick(struct rack *r);
/* Starts a router process (cx-router) for rp. 0 or -1. */
int sup_spawn_router(struct rack *r, struct router_proc *rp);
/* Process start time from /proc/PID/stat (clock ticks since boot), -1 if gone. */
int64_t sup_pid_starttime(pid_t pid);

#endif
