/*
 * forward.h — cx-labdns's forwarding mode: the queries its hosts table
 * cannot answer (NXDOMAIN) go to upstream resolvers, and their answers come
 * back to the asker unchanged but for the id.
 *
 * A host rack's DNS runs like this on the rack's gateway: it answers the
 * rack's own names and the names the daemon sets, and forwards the rest to
 * the host's resolvers (the nameservers of the host's /etc/resolv.conf).
 * Each upstream is tried once in turn, LABDNS_FWD_TRY_MS each; when none
 * answers the asker gets SERVFAIL. At most LABDNS_FWD_PENDING queries are in
 * flight; past that a query gets SERVFAIL at once.
 */
#ifndef CX_LABDNS_FORWARD_H
#define CX_LABDNS_FORWARD_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/ev.h"

#define LABDNS_FWD_MAX      3       /* upstreams, as glibc's MAXNS */
#define LABDNS_FWD_TRY_MS   1000
#define LABDNS_FWD_PENDING  512

struct labdns_fwd;

/* Parses the text of a resolv.conf: the IPv4 "nameserver" lines, in order,
 * at most max, port 53, skipping self (our own listen address, so that we
 * never forward to ourselves; self NULL skips nothing). Returns how many. */
size_t labdns_resolv_parse(const char *text, const struct sockaddr_in *self,
    struct sockaddr_in *out, size_t max);

/* A forwarder answering through client_fd (our listening socket, which the
 * caller keeps), to the upstreams named in the resolv.conf at resolv_path.
 * NULL with err when the file cannot be read, names no IPv4 nameserver,
 * or the upstream socket cannot be made. Owned by the caller:
 * labdns_fwd_free. */
struct labdns_fwd *labdns_fwd_new(struct ev_loop *loop, int client_fd, const char *resolv_path,
    const struct sockaddr_in *self, char *err, size_t errlen);
void labdns_fwd_free(struct labdns_fwd *f);
/* How many upstreams f has. */
size_t labdns_fwd_count(const struct labdns_fwd *f);
/* Sends query q (qlen bytes, as received from `from`) upstream. */
void labdns_fwd_query(struct labdns_fwd *f, const uint8_t *q, size_t qlen,
    const struct sockaddr_storage *from, socklen_t fromlen);
/* Writes a SERVFAIL answer to query q into out (at least 12 bytes); returns
 * its length, 0 if q is shorter than a header. */
size_t labdns_servfail(const uint8_t *q, size_t qlen, uint8_t *out, size_t outcap);

#endif
