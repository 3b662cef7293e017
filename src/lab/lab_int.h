/*
 * lab_int.h — what the lab's files share and nobody else sees: the state
 * (racks, peerings, process namespaces, as kept in $CX_HOME/lab/state), the
 * names and addresses derived from it, and the helpers that run `ip` and
 * `nft` inside a namespace.
 */
#ifndef CX_LAB_INT_H
#define CX_LAB_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/lab.h"

#define LAB_NETNS_DIR "/run/netns"
#define LAB_NETNS_MAX 96        /* namespace names: prefix, rack id, proc id */
#define LAB_RACKS_MAX (254 * 254)
#define LAB_PEERS_MAX 16382     /* /30s in 169.254.0.0/16, skipping the first and last */
#define LAB_PROC_FIRST 10       /* first process address offset in a VPC */

struct lab_rack {
	char name[32];
	int id;
	uint32_t net;           /* host byte order */
	int prefix;
	uint32_t next_proc;     /* next address offset to try */
	char whitelist[256];    /* comma-separated CIDRs, "" none */
	bool host;              /* a host rack: its "rack namespace" is the host's own (host.c) */
	uint32_t pub;           /* host racks: public_address, host order */
	uint32_t priv;          /* host racks: private_address, 0 if none */
};

struct lab_peering {
	char a[32];
	char b[32];
	int id;
};

struct lab_proc {
	char rack[32];
	char id[LAB_PROC_ID_MAX + 1];
	uint32_t addr;          /* host byte order */
	char app[32];           /* the app it runs for; "" for a probe (cx net exec, reach) */
};

struct lab_state {
	char prefix[8];         /* "cx1a2b"; "" until the lab first comes up */
	int next_rack;
	int next_peer;
	struct lab_rack *racks;
	size_t nracks;
	struct lab_peering *peers;
	size_t npeers;
	struct lab_proc *procs;
	size_t nprocs;
};

/* An open lab: its directory, the lock (when held) and the state read under it. */
struct lab {
	char dir[PATH_MAX];     /* $CX_HOME/lab */
	int lockfd;             /* -1 when not locked */
	struct lab_state st;
};

/* state.c */
/* Opens $CX_HOME/lab (creating it, mode 0700) and reads the state; with lock,
 * first takes flock(lab/lock) exclusively, held until lab_close. */
int lab_open(struct lab *l, const char *home, bool lock, char *err, size_t errlen);
/* Writes the state (temp file + rename). */
int lab_save(struct lab *l, char *err, size_t errlen);
void lab_close(struct lab *l);
void lab_state_free(struct lab_state *st);
/* Parses / formats the state file's text. */
int lab_state_parse(const char *text, struct lab_state *st, char *err, size_t errlen);
char *lab_state_format(const struct lab_state *st);

struct lab_rack *lab_find_rack(struct lab_state *st, const char *name);
struct lab_rack *lab_find_rack_id(struct lab_state *st, int id);
struct lab_peering *lab_find_peering(struct lab_state *st, const char *a, const char *b);
struct lab_proc *lab_find_proc(struct lab_state *st, const char *rack, const char *id);
struct lab_rack *lab_add_rack(struct lab_state *st);
struct lab_peering *lab_add_peering(struct lab_state *st);
struct lab_proc *lab_add_proc(struct lab_state *st);
void lab_del_rack(struct lab_state *st, struct lab_rack *r);
void lab_del_peering(struct lab_state *st, struct lab_peering *p);
void lab_del_proc(struct lab_state *st, struct lab_proc *p);

/* The next free process address offset in r's VPC from r->next_proc,
 * wrapping past the last host to LAB_PROC_FIRST; 0 if every one is taken
 * (lab.c). Changes nothing. */
uint32_t lab_proc_alloc(struct lab_state *st, struct lab_rack *r);

/* Names and addresses (addr.c). */
void lab_ip4(uint32_t addr, char *out, size_t outlen);  /* host order -> dotted quad */
/* A stable locally administered MAC for the link holding addr: kind 0 a
 * rack's public link, 1 a process's eth0. */
void lab_mac(unsigned kind, uint32_t addr, char *out, size_t outlen);
void lab_ns_internet(const struct lab_state *st, char *out, size_t outlen);
void lab_ns_rack(const struct lab_state *st, const struct lab_rack *r, char *out, size_t outlen);
void lab_ns_proc(const struct lab_state *st, const struct lab_rack *r, const char *proc_id,
    char *out, size_t outlen);
uint32_t lab_rack_public(const struct lab_rack *r);
uint32_t lab_rack_gateway(const struct lab_rack *r);
uint32_t lab_rack_private(const struct lab_rack *r);
uint32_t lab_peer_link(const struct lab_peering *p); /* the /30's network address */
void lab_rack_fill(const struct lab_state *st, const struct lab_rack *r, struct lab_rack_info *out);
/* A loopback rack's (lab_loopback_rack_create): a host rack on 127.0.0.1. */
bool lab_rack_loopback(const struct lab_rack *r);
/* Checks a VPC CIDR: syntax, RFC 1918, prefix 8..28. */
int lab_cidr_check(const char *cidr, uint32_t *net, int *prefix, char *err, size_t errlen);
bool lab_cidr_overlap(uint32_t n1, int p1, uint32_t n2, int p2);
/* "a,b,c" of CIDRs (any range), normalised into out; "" is fine. */
int lab_whitelist_check(const char *cidrs, char *out, size_t outlen, char *err, size_t errlen);
bool lab_proc_id_ok(const char *id);

/* Running commands in namespaces (run.c). */
struct lab_sysctl {
	const char *path;       /* under /proc/sys */
	const char *value;
};
/* Forks; the child joins netns (NULL: stays in the caller's), writes the
 * sysctls there, then execs argv (NULL: just exits) with input on stdin and
 * stdout on /dev/null. Waits at most 10 s. 0 if it exits 0, else -1 with the
 * first line of its stderr in err. */
int lab_run(const char *netns, const struct lab_sysctl *sysctls, char *const argv[],
    const char *input, char *err, size_t errlen);
/* `ip -batch -` (with force: `-force`, going on past errors) in netns. */
int lab_ip(const char *netns, const char *batch, bool force, char *err, size_t errlen);
int lab_ip_sysctl(const char *netns, const struct lab_sysctl *sysctls, const char *batch,
    char *err, size_t errlen);
/* `nft -f -` in netns. */
int lab_nft(const char *netns, const char *ruleset, char *err, size_t errlen);
bool lab_netns_exists(const char *name);
/* Removes a namespace's name as `ip netns del` does; 0 also if it was gone. */
int lab_netns_del(const char *name);
/* Joins the named network namespace (this process), then the private mount
 * namespace with resolv (if not NULL) over /etc/resolv.conf. */
int lab_netns_enter(const char *name, const char *resolv, char *err, size_t errlen);
/* Resets what a forked child inherits and exec must not: blocked and ignored
 * signals, and every descriptor above 2. */
void lab_child_reset(void);

/* The security groups of one rack as an nft ruleset (rules.c); fresh: for a
 * new namespace (no table to replace). Returns a malloc'd string. */
char *lab_rules(const struct lab_state *st, const struct lab_rack *r, bool fresh);
/* Adds (or deletes) rack o as a peer in a rack's set "peers". Malloc'd. */
char *lab_rules_peer(const struct lab_rack *o, bool add);

/* Host racks (host.c): a bridge, the process links and a nftables table in
 * the caller's own namespace (the host's). */
void lab_host_bridge(const struct lab_state *st, const struct lab_rack *r, char *out, size_t outlen);
void lab_host_table(const struct lab_state *st, const struct lab_rack *r, char *out, size_t outlen);
void lab_host_proc_link(const struct lab_state *st, uint32_t addr, char *out, size_t outlen);
uint32_t lab_rack_egress(const struct lab_rack *r);   /* CIDR .3 */
bool lab_link_exists(const char *ifname);
/* The host rack's table as one nft ruleset (fresh: none to replace). Malloc'd. */
char *lab_host_rules(const struct lab_state *st, const struct lab_rack *r, bool fresh);
/* A loopback rack's gateway table (lab_loopback_gateway), "PREFIX-gN-RACK". */
void lab_host_gw_table(const struct lab_state *st, const struct lab_rack *r, char *out,
    size_t outlen);
/* Its ruleset: the table replaced by one with ports's DNAT rules, or only
 * removed (ports NULL). Malloc'd. */
char *lab_host_gw_rules(const struct lab_state *st, const struct lab_rack *r,
    const struct lab_gateway_ports *ports);
/* Creates the bridge, its addresses, the table and the rack's DNS. */
int lab_host_build(struct lab *l, const struct lab_rack *r, char *err, size_t errlen);
/* Removes the process links, the bridge, the tables and the DNS. Best effort. */
void lab_host_teardown(struct lab *l, const struct lab_rack *r);
/* The networks routed in the caller's namespace (from /proc/net/route, the
 * default route left out) into nets/prefixes; returns how many, at most max. */
size_t lab_host_routes(uint32_t *nets, int *prefixes, size_t max);

/* DNS: the hosts file and cx-labdns (dnsctl.c). A DNS is the lab's (rack
 * NULL) or a host rack's own (rack its name); each has its files in lab/:
 * what = "hosts", "pid", "log" or "resolv". */
void lab_dns_path(const struct lab *l, const char *rack, const char *what, char *out, size_t outlen);
bool lab_dns_running_in(struct lab *l, const char *rack, int *pid);
/* Starts r's DNS on its gateway :53 in the caller's namespace, forwarding
 * to the nameservers of $CX_HOST_RESOLV (default /etc/resolv.conf), and
 * writes the resolv.conf its processes get. */
int lab_rack_dns_start(struct lab *l, const struct lab_rack *r, char *err, size_t errlen);
void lab_dns_stop_in(struct lab *l, const char *rack);
int lab_hosts_set(struct lab *l, const char *name, const char *addr);
/* Removes the lines for name (if not NULL) and those pointing at addr (if not 0). */
int lab_hosts_remove(struct lab *l, const char *name, uint32_t addr);
bool lab_dns_running(struct lab *l, int *pid);
int lab_dns_start(struct lab *l, char *err, size_t errlen);
void lab_dns_stop(struct lab *l);
int lab_write_resolv(struct lab *l, char *err, size_t errlen);
/* An app's resolv.conf: lab/resolv.d/RACK/APP.conf (app NULL: the
 * directory of rack's). */
void lab_app_resolv_path(const struct lab *l, const char *rack, const char *app, char *out,
    size_t outlen);
/* Writes app's resolv.conf for rack r (unless it is current): r's DNS, and
 * search APP.RACK.local RACK-APP.svc.cluster.local. */
int lab_app_resolv_write(struct lab *l, const struct lab_rack *r, const char *app, char *err,
    size_t errlen);
/* Removes app's resolv.conf (app NULL: every one of rack's). */
void lab_app_resolv_drop(struct lab *l, const char *rack, const char *app);

#endif
