/*
 * lab.h — the network lab that VPC racks live in: a namespace playing the
 * public internet (a bridge on 198.18.0.0/16 with the lab DNS on it), one
 * namespace per rack (public address on the internet, a bridge for its VPC),
 * one namespace per app process on that bridge, peerings between racks, and
 * the security groups (nftables in each rack namespace).
 *
 * One owner for everything that spans racks: state under $CX_HOME/lab/
 * (see docs/network.md for the layout, the address plan and the rules).
 * Changes take flock($CX_HOME/lab/lock); readers read the state file, which
 * is only ever replaced whole (rename), without the lock.
 *
 * Host racks (lab_host_rack_create) live here too: the same process
 * namespaces, but on a bridge in the host's own namespace, with a DNS of
 * their own (lab_rack_dns_set) instead of the lab's.
 *
 * Every function needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) except the
 * getters, lab_dns_set/unset, lab_rack_dns_set/unset and lab_prefix. Errors come back as one line in
 * the caller's err buffer, naming what was wrong.
 */
#ifndef CX_LAB_H
#define CX_LAB_H

#include <stddef.h>

#define LAB_INTERNET_CIDR "198.18.0.0/16"
#define LAB_INTERNET_ADDR "198.18.0.1"   /* the internet's own host: `cx net exec internet` */
#define LAB_DNS_ADDR      "198.18.0.53"  /* the lab DNS, port 53/udp */
#define LAB_ROUTER_PORTS  "80, 443"      /* what the security groups open to the routers */
#define LAB_PROC_ID_MAX   48             /* [A-Za-z0-9_.-], not starting with '.' */

struct lab_rack_info {
	char name[32];
	char cidr[20];          /* "10.1.0.0/16" */
	char public_addr[16];   /* on the internet bridge, 198.18.x.y: the public router listens here */
	char private_addr[16];  /* CIDR .2, on the VPC bridge: the internal router listens here */
	char gateway_addr[16];  /* CIDR .1 on the VPC bridge; processes' default route */
	char netns[16];         /* rack namespace name ("cx1a2b-r1") */
	int id;                 /* lab-wide rack number (names, public address) */
	char whitelist[256];    /* extra CIDRs allowed to the internal router, comma-separated, "" none */
	/* Host racks (lab_host_rack_create): the rack's namespace is the host's
	 * own, netns is "", public_addr is public_address, private_addr the
	 * bridge's .2. */
	bool host;
	char host_private[16];  /* private_address, "" if none */
	char egress_addr[16];   /* CIDR .3 on the bridge (host racks): the egress listener's */
	char bridge[16];        /* the bridge's name in the host namespace ("cx1a2b-b3") */
	char nft_table[32];     /* table inet NAME in the host namespace ("cx1a2b-h3") */
	bool loopback;          /* a host rack on 127.0.0.1: a loopback rack's processes' home */
};

/* 0 if this process is root with CAP_NET_ADMIN and CAP_SYS_ADMIN; else -1 and
 * err = "VPC racks need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run as root or
 * install without --vpc". */
int lab_check_privilege(char *err, size_t errlen);

/* Creates rack's VPC with cidr (RFC 1918, prefix /8../28, not overlapping
 * another rack's). Brings the internet namespace and the lab DNS up first if
 * this is the lab's first rack. Sets the DNS names *.RACK.cx.test (public
 * address) and *.RACK-internal.cx.test (private address). Fills out (may be
 * NULL). Calling it again for an existing rack with the same CIDR repairs
 * what is missing (lab_restore) and succeeds; a different CIDR is refused. */
int lab_rack_create(const char *home, const char *rack, const char *cidr, struct lab_rack_info *out,
    char *err, size_t errlen);
/* A host rack: its processes each get a network namespace on a bridge in
 * the caller's (the host's) namespace, gateway .1 with the rack's DNS on
 * :53, .2 and .3 for the internal router and the egress listener; egress
 * masqueraded; a nftables table of its own that lets the processes reach,
 * on the host, only tcp 80/443 of .2, .3, public_addr and private_addr (may
 * be NULL or "") and the DNS. cidr NULL or "": a free /16 in 10.128.0.0/9
 * not overlapping a route of the host or another rack. Turns ip_forward on
 * in the host namespace (left on at destroy: other things may need it).
 * Host racks take no lab peering (lab_peer refuses them). */
int lab_host_rack_create(const char *home, const char *rack, const char *cidr,
    const char *public_addr, const char *private_addr, struct lab_rack_info *out, char *err,
    size_t errlen);
/* A loopback rack run as root: a host rack whose public address is
 * 127.0.0.1 (no router listens on the bridge; the rack's routers stay on
 * loopback ports and reach its processes on their own addresses). Its
 * lab_rack_info says loopback. */
int lab_loopback_rack_create(const char *home, const char *rack, struct lab_rack_info *out,
    char *err, size_t errlen);
/* Where a loopback rack's routers listen on the host's 127.0.0.1 (0: not
 * at all), which its processes, each in a namespace of its own, cannot
 * reach there: lab_loopback_gateway maps the bridge's addresses to them. */
struct lab_gateway_ports {
	int egress;             /* the peer router's egress listener: bridge .3:80 */
	int internal;           /* the internal router: bridge .2:80 */
	int internal_tls;       /* the internal router's TLS: bridge .2:443 */
};
/* Makes loopback rack rack's bridge answer for its routers: a table of the
 * rack's own in the host namespace (inet PREFIX-gN-RACK) whose prerouting
 * DNATs what the rack's CIDR sends to .3:80, .2:80 and .2:443 to
 * 127.0.0.1:ports (those given), with route_localnet=1 on the bridge (the
 * kernel drops a packet from it to 127.0.0.1 otherwise). Replaces what was
 * there atomically, so it is safe to call again; ports NULL removes the
 * table (and route_localnet). lab_rack_destroy removes it too. -1 with err
 * if rack is no loopback rack run as root, or nft fails. */
int lab_loopback_gateway(const char *home, const char *rack, const struct lab_gateway_ports *ports,
    char *err, size_t errlen);
/* Held while a network is picked and its bridge made, by every $CX_HOME. */
#define LAB_HOST_NETS_LOCK "/run/cx-host-nets.lock"
/* The first /16 of 10.128.0.0/9 that overlaps none of the n networks given;
 * 0 with *out set, -1 if every one is taken. */
int lab_cidr_pick(const uint32_t *nets, const int *prefixes, size_t n, uint32_t *out);

/* Removes rack's peerings first, then its process namespaces, its links and
 * its namespace, and its DNS names. The last rack takes the internet and the
 * lab DNS with it. Processes still running inside are not killed (their
 * supervisor does that): they are left in an unnamed namespace with no links.
 * -1 if rack is not a VPC rack. */
int lab_rack_destroy(const char *home, const char *rack, char *err, size_t errlen);
/* 0 and *out filled if rack is a VPC rack, else -1. No privilege needed. */
int lab_rack_get(const char *home, const char *rack, struct lab_rack_info *out);
/* The same for a loopback rack (lab_loopback_rack_create), which the lab
 * holds for its processes only: lab_rack_get and lab_racks leave it out,
 * lab_rack_destroy removes it. */
int lab_loopback_rack_get(const char *home, const char *rack, struct lab_rack_info *out);
/* Every VPC rack, in creation order; *out is malloc'd (caller frees), NULL when *n is 0. */
int lab_racks(const char *home, struct lab_rack_info **out, size_t *n);
/* Sets the CIDRs (comma-separated, "" for none) that may reach the internal
 * router besides the rack's own VPC and its peers': rack param
 * internal_router_whitelist, enforced here in nftables as the router enforces
 * it in its own allow list. They are accepted from peer links only: the
 * internet never reaches a private address. */
int lab_rack_set_whitelist(const char *home, const char *rack, const char *cidrs, char *err,
    size_t errlen);

/* A network namespace for one process on rack's VPC bridge, with its own
 * address from the CIDR (from .10 up, not reused until the range wraps) and a
 * default route via the gateway. Writes the address ("10.1.0.10") to addr_out.
 * An existing proc_id keeps its address. */
int lab_proc_create(const char *home, const char *rack, const char *proc_id, char *addr_out,
    size_t addrlen, char *err, size_t errlen);
/* The same for a process of app: the lab records the app, and the process
 * gets the app's resolv.conf (lab_proc_resolv). */
int lab_app_proc_create(const char *home, const char *rack, const char *app, const char *proc_id,
    char *addr_out, size_t addrlen, char *err, size_t errlen);
/* The path of the file a process namespace's /etc/resolv.conf is (what
 * lab_enter_proc binds there; an image's root filesystem binds the same):
 * for an app's process, lab/resolv.d/RACK/APP.conf, naming the rack's DNS
 * with `search APP.RACK.local RACK-APP.svc.cluster.local` so that a bare
 * SERVICE resolves to the app's own service; else the lab's (VPC racks) or
 * the rack DNS's (host racks) resolv.conf. Writes the app's file if it is
 * missing. -1 with err if rack or proc_id is unknown. No privilege needed. */
int lab_proc_resolv(const char *home, const char *rack, const char *proc_id, char *out,
    size_t outlen, char *err, size_t errlen);
/* Removes the process namespace and its link. 0 also if there was none. */
int lab_proc_destroy(const char *home, const char *rack, const char *proc_id);
/* The ids of rack's process namespaces that start with prefix, into *ids
 * (caller frees); -1 when the lab cannot be read. */
int lab_proc_ids(const char *home, const char *rack, const char *prefix,
    char (**ids)[LAB_PROC_ID_MAX + 1], size_t *n);

/* For a forked child, before exec: join the namespace (setns), take a private
 * mount namespace (unshare CLONE_NEWNS, / made rslave), bind the lab's
 * resolv.conf (nameserver LAB_DNS_ADDR; for an app's process its own,
 * lab_proc_resolv) over /etc/resolv.conf and mount a
 * sysfs for the namespace on /sys, as `ip netns exec` does. Changes only the
 * calling process. lab_enter_rack is for the routers (they listen on the
 * rack's public and private addresses); lab_enter_internet is for
 * `cx net exec internet`. */
int lab_enter_proc(const char *home, const char *rack, const char *proc_id, char *err, size_t errlen);
int lab_enter_rack(const char *home, const char *rack, char *err, size_t errlen);
int lab_enter_internet(const char *home, char *err, size_t errlen);

/* Peers racks a and b: a veth pair between their namespaces on a /30 from
 * 169.254.0.0/16, a route each way to the other's CIDR with src = own
 * gateway, and in each rack's nftables: its VPC may reach the peer CIDR (no
 * NAT), and the peer CIDR may reach only the internal router (private
 * address, ports LAB_ROUTER_PORTS) from that link. Not transitive. Refuses a
 * rack peered with itself or a pair already peered. */
int lab_peer(const char *home, const char *a, const char *b, char *err, size_t errlen);
/* Undoes lab_peer (in either order of a and b). -1 if they are not peered. */
int lab_unpeer(const char *home, const char *a, const char *b, char *err, size_t errlen);
/* The peerings involving rack (NULL = all), as (a, b) pairs in the order they
 * were made; *pairs is malloc'd (caller frees), NULL when *n is 0. */
int lab_peers(const char *home, const char *rack, char (**pairs)[2][32], size_t *n);

/* Names the lab DNS answers: name is exact ("api.example.test") or a wildcard
 * ("*.b.cx.test"), addr an IPv4 address; set replaces what name had. Rewrites
 * $CX_HOME/lab/hosts and signals cx-labdns (SIGHUP) when it runs. Unsetting an
 * unknown name succeeds. No privilege needed. */
int lab_dns_set(const char *home, const char *name, const char *addr);
int lab_dns_unset(const char *home, const char *name);
/* Makes name answer exactly these n addresses (n = 0: not at all). */
int lab_dns_set_all(const char *home, const char *name, const char *const *addrs, size_t n);
/* The same for host rack rack's own DNS (what its processes resolve with):
 * the names the daemon sets for the rack (its domains, its rack-only
 * names) and those of its peers. -1 (errno ENOENT) if rack is not a host
 * rack. No privilege needed. */
int lab_rack_dns_set(const char *home, const char *rack, const char *name, const char *addr);
/* The pid of the DNS a rack's processes ask: a host rack's own (rack), or
 * the lab's (rack NULL); -1 when it does not run. */
int lab_dns_pid(const char *home, const char *rack);
int lab_rack_dns_unset(const char *home, const char *rack, const char *name);
int lab_rack_dns_set_all(const char *home, const char *rack, const char *name,
    const char *const *addrs, size_t n);

/* Re-creates what the state records but the kernel lacks — after a reboot,
 * say: the internet, the DNS, rack namespaces and their peerings. Process
 * namespaces that are gone are forgotten (their processes are gone too). */
int lab_restore(const char *home, char *err, size_t errlen);

/* The name prefix of this $CX_HOME's namespaces ("cx1a2b"); every lab
 * namespace is named PREFIX-something. -1 if the lab never came up. */
int lab_prefix(const char *home, char *out, size_t outlen);

#endif
