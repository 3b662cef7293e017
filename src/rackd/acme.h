/*
 * acme.h — the rack's ACME client (RFC 8555): while rack param
 * acme_directory names a directory URL, every domain the public router
 * serves gets a certificate by HTTP-01, renewed once two thirds of its life
 * have passed; failures are retried with back-off (30 s doubling to 1 h).
 *
 * The protocol runs on a worker thread (blocking HTTPS with libcurl, kept
 * in acme.c alone), never on the daemon's loop. The loop hands it the
 * domains that need a certificate, publishes the challenges it answers as
 * `challenge TOKEN KEYAUTH` lines of the public router's snapshot, and
 * stores what it obtained (certs_add, source "acme"). Until then a domain is
 * served with its rack-CA certificate. The account key is
 * certs/acme/account.key (0600). The directory's own certificate is
 * verified against the file named by param acme_ca, or the system's CAs.
 */
#ifndef CX_RACK_ACME_H
#define CX_RACK_ACME_H

#include "common/util.h"

struct rack;

/* Called from the daemon's tick: collects what the worker finished, and
 * starts it on the domains due when it is idle. */
void acme_tick(struct rack *r);

/* Appends the challenge lines of the public router's snapshot to b (none
 * while no order is in flight). -1 once b is full. */
int acme_challenge_lines(struct rack *r, struct buf *b);

/* The last ACME failure, one line ("" when the last attempts worked or ACME
 * is off), for `cx rack` Warnings. */
const char *acme_error(struct rack *r);

/* Stops the worker (at most a few seconds: transfers are aborted) and frees
 * the state (daemon exit). */
void acme_stop(struct rack *r);

#endif
