/*
 * resource_fw.h — nftables walls around a resource's port. Where a server has
 * a network namespace of its own, inside it (resource_fw_allow). Where every
 * process shares the host's namespace (a loopback rack without lab
 * namespaces), a table of the rack's own (inet cx-res-RACK), whose output hook
 * rejects a connection to the port on 127.0.0.1 unless the socket's owner
 * (meta skuid) is root (the rack) or an id of the owning app's range.
 */
#ifndef CX_RESOURCE_FW_H
#define CX_RESOURCE_FW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct resource_fw_rule {
	int port;                   /* on 127.0.0.1 */
	uint32_t uid_first, uid_last; /* who may connect, besides root */
};

/* Replaces the rack's table with rules, atomically (one nft -f); no rules
 * removes the table. 0, or -1 with err (err may be NULL: then it is only
 * logged). */
int resource_fw_apply(const char *rack, const struct resource_fw_rule *rules, size_t n,
    char *err, size_t errlen);

/*
 * Where a server has a network namespace of its own (racks whose processes
 * do): its input is walled instead, inside that namespace (table inet
 * cx-res): port is accepted from addrs (its app's processes' addresses and the
 * rack's, dotted quads) alone and reset for anyone else. server is the
 * server's pid, whose namespace it is. 0, or -1 with err.
 */
int resource_fw_allow(pid_t server, int port, char *const *addrs, size_t n, char *err,
    size_t errlen);

/* The rack's table name into out ("cx-res-NAME"). */
void resource_fw_table(const char *rack, char *out, size_t outlen);

#endif
