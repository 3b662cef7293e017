/*
 * lab.c — the lab's operations: racks, process namespaces, peerings,
 * entering namespaces, and repair after a reboot. See lab.h for the
 * contracts and docs/network.md for the picture.
 *
 * Every change runs under the lab lock as: read state, change the kernel
 * (`ip -batch`, `nft -f`, each run inside the namespace it configures),
 * write state. A failure half-way undoes the kernel side, so the state
 * never records what does not exist. For VPC racks nothing is ever
 * created in, or linked to, the caller's own namespace: veth pairs are
 * made with both ends already in lab namespaces. Host racks (host.c) are
 * the exception by design: the caller's namespace is the host's, and their
 * bridge, process links and table live there.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "lab/lab_int.h"

#define LAB_ERR(...) snprintf(err, errlen, __VA_ARGS__)

/* Locally administered MAC for bridges, so that a bridge's address does not
 * follow its lowest port's as ports come and go. */
#define BRIDGE_MAC "02:c0:00:00:00:01"

static const struct lab_sysctl internet_sysctls[] = {
	{ "/proc/sys/net/ipv6/conf/all/disable_ipv6", "1" },
	{ "/proc/sys/net/ipv6/conf/default/disable_ipv6", "1" },
	{ NULL, NULL },
};

static const struct lab_sysctl rack_sysctls[] = {
	{ "/proc/sys/net/ipv4/ip_forward", "1" },
	{ "/proc/sys/net/ipv4/conf/all/rp_filter", "1" },
	{ "/proc/sys/net/ipv4/conf/default/rp_filter", "1" },
	{ "/proc/sys/net/ipv6/conf/all/disable_ipv6", "1" },
	{ "/proc/sys/net/ipv6/conf/default/disable_ipv6", "1" },
	{ NULL, NULL },
};

int
lab_check_privilege(char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	bool ok = false;

	memset(data, 0, sizeof(data));
	if (geteuid() == 0 && syscall(SYS_capget, &hdr, data) == 0) {
		ok = (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) &&
		    (data[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32)));
	}
	if (ok)
		return 0;
	LAB_ERR("VPC racks need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run as root or install without --vpc");
	return -1;
}

/* ---- names ---------------------------------------------------------- */

static uint32_t
fnv1a(const char *s, uint32_t salt)
{
	uint32_t h = 2166136261u ^ salt;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static bool
prefix_in_use(const char *prefix)
{
	size_t n = strlen(prefix);
	struct dirent *de;
	bool used = false;
	DIR *d;

	if ((d = opendir(LAB_NETNS_DIR)) == NULL)
		return false;
	while (!used && (de = readdir(d)) != NULL)
		used = strncmp(de->d_name, prefix, n) == 0 && de->d_name[n] == '-';
	closedir(d);
	return used;
}

/* "cx" + 4 hex digits of a hash of $CX_HOME; a different salt if namespaces
 * with that prefix exist already (another home's, or leftovers). */
static void
choose_prefix(struct lab *l)
{
	char real[PATH_MAX];
	const char *home = realpath(l->dir, real) != NULL ? real : l->dir;

	for (uint32_t salt = 0; salt < 64; salt++) {
		snprintf(l->st.prefix, sizeof(l->st.prefix), "cx%04x", fnv1a(home, salt) & 0xffff);
		if (!prefix_in_use(l->st.prefix))
			return;
	}
}

/* ---- the internet ---------------------------------------------------- */

/* Brings up the internet namespace, its bridge and the DNS if missing.
 * *created says the namespace is new (racks that survived must relink). */
static int
internet_up(struct lab *l, bool *created, char *err, size_t errlen)
{
	char inet[LAB_NETNS_MAX], batch[1024];

	*created = false;
	if (l->st.prefix[0] == '\0')
		choose_prefix(l);
	lab_ns_internet(&l->st, inet, sizeof(inet));
	if (!lab_netns_exists(inet)) {
		snprintf(batch, sizeof(batch), "netns add %s\n", inet);
		if (lab_ip(NULL, batch, false, err, errlen) == -1)
			return -1;
		snprintf(batch, sizeof(batch),
		    "link set lo up\n"
		    "link add internet address " BRIDGE_MAC " type bridge\n"
		    "link set internet up\n"
		    "addr add %s/16 dev internet\n"
		    "addr add %s/16 dev internet\n",
		    LAB_INTERNET_ADDR, LAB_DNS_ADDR);
		if (lab_ip_sysctl(inet, internet_sysctls, batch, err, errlen) == -1) {
			lab_netns_del(inet);
			return -1;
		}
		*created = true;
	}
	if (lab_write_resolv(l, err, errlen) == -1 || lab_dns_start(l, err, errlen) == -1) {
		if (*created)
			lab_netns_del(inet);
		return -1;
	}
	return 0;
}

static void
internet_down(struct lab *l)
{
	char inet[LAB_NETNS_MAX], err[256];

	lab_dns_stop(l);
	lab_ns_internet(&l->st, inet, sizeof(inet));
	/* Delete the bridge explicitly: a process still inside (a `cx net exec
	 * internet` shell) would keep the namespace, but with no links. */
	if (lab_netns_exists(inet) && lab_ip(inet, "link del internet\n", true, err, sizeof(err)) == -1)
		log_warnx("%s", err);
	if (lab_netns_del(inet) == -1)
		log_warn("removing namespace %s", inet);
	/* Host racks keep their numbers (their names hold them). */
	if (l->st.nracks == 0)
		l->st.next_rack = 1;
	l->st.next_peer = 1;
}

/* VPC racks (in the internet) in the state; host racks do not count. */
static size_t
vpc_racks(const struct lab_state *st)
{
	size_t n = 0;

	for (size_t i = 0; i < st->nracks; i++)
		n += !st->racks[i].host;
	return n;
}

/* ---- racks ----------------------------------------------------------- */

/* The veth from the internet bridge ("rN" there) to the rack ("pub"), with
 * the rack's public address. With new_ns, also creates the rack namespace. */
static int
rack_link_public(struct lab *l, const struct lab_rack *r, bool new_ns, char *err, size_t errlen)
{
	char inet[LAB_NETNS_MAX], ns[LAB_NETNS_MAX], pub[16], mac[18], batch[1024];

	lab_ns_internet(&l->st, inet, sizeof(inet));
	lab_ns_rack(&l->st, r, ns, sizeof(ns));
	lab_ip4(lab_rack_public(r), pub, sizeof(pub));
	lab_mac(0x00, lab_rack_public(r), mac, sizeof(mac));
	snprintf(batch, sizeof(batch),
	    "%s%s%s"
	    "link add r%d type veth peer name pub address %s netns %s\n"
	    "link set r%d master internet\n"
	    "link set r%d alias rack:%s\n"
	    "link set r%d up\n",
	    new_ns ? "netns add " : "", new_ns ? ns : "", new_ns ? "\n" : "", r->id, mac, ns, r->id,
	    r->id, r->name, r->id);
	if (lab_ip(inet, batch, false, err, errlen) == -1)
		return -1;
	if (new_ns)
		return 0; /* rack_build configures pub with the rest */
	snprintf(batch, sizeof(batch), "link set pub up\naddr add %s/16 dev pub\n", pub);
	return lab_ip(ns, batch, false, err, errlen);
}

/* Feeds rules (taken, freed here) to nft in r's namespace. */
static int
nft_in_rack(struct lab *l, const struct lab_rack *r, char *rules, char *err, size_t errlen)
{
	char ns[LAB_NETNS_MAX];
	int rc;

	lab_ns_rack(&l->st, r, ns, sizeof(ns));
	rc = lab_nft(ns, rules, err, errlen);
	free(rules);
	return rc;
}

/* Loads r's whole table (fresh: into a new namespace). */
static int
rack_nft(struct lab *l, const struct lab_rack *r, bool fresh, char *err, size_t errlen)
{
	return nft_in_rack(l, r, lab_rules(&l->st, r, fresh), err, errlen);
}

/* Adds (add) or removes peer o in r's set "peers". */
static int
peer_nft(struct lab *l, const struct lab_rack *r, const struct lab_rack *o, bool add, char *err,
    size_t errlen)
{
	return nft_in_rack(l, r, lab_rules_peer(o, add), err, errlen);
}

/* Removes the rack's links (so that a process still inside is cut off) and
 * its namespace's name. Best effort: it is what undoing is made of. */
static void
rack_teardown(struct lab *l, const struct lab_rack *r)
{
	char ns[LAB_NETNS_MAX], err[256];
	struct buf b;

	lab_ns_rack(&l->st, r, ns, sizeof(ns));
	if (!lab_netns_exists(ns))
		return;
	buf_init(&b, 0);
	buf_adds(&b, "link del pub\nlink del vpc\n");
	for (size_t i = 0; i < l->st.npeers; i++) {
		const struct lab_peering *p = &l->st.peers[i];
		const char *other = strcmp(p->a, r->name) == 0 ? p->b : strcmp(p->b, r->name) == 0 ? p->a : NULL;
		struct lab_rack *o = other != NULL ? lab_find_rack(&l->st, other) : NULL;

		if (o != NULL)
			buf_addf(&b, "link del peer%d\n", o->id);
	}
	for (size_t i = 0; i < l->st.nprocs; i++) {
		if (strcmp(l->st.procs[i].rack, r->name) == 0)
			buf_addf(&b, "link del p%u\n", l->st.procs[i].addr - r->net);
	}
	/* -force goes on past links that are already gone; its status means nothing. */
	lab_ip(ns, buf_cstr(&b), true, err, sizeof(err));
	buf_free(&b);
	if (lab_netns_del(ns) == -1)
		log_warn("removing namespace %s", ns);
}

/* Creates the rack's namespace and everything in it. */
static int
rack_build(struct lab *l, const struct lab_rack *r, char *err, size_t errlen)
{
	char ns[LAB_NETNS_MAX], gw[16], priv[16], pub[16], batch[1024];

	lab_ns_rack(&l->st, r, ns, sizeof(ns));
	if (lab_netns_exists(ns))
		lab_netns_del(ns); /* a leftover name: start clean */
	if (rack_link_public(l, r, true, err, errlen) == -1) {
		lab_netns_del(ns);
		return -1;
	}
	lab_ip4(lab_rack_gateway(r), gw, sizeof(gw));
	lab_ip4(lab_rack_private(r), priv, sizeof(priv));
	lab_ip4(lab_rack_public(r), pub, sizeof(pub));
	snprintf(batch, sizeof(batch),
	    "link set lo up\n"
	    "link add vpc address " BRIDGE_MAC " type bridge\n"
	    "link set vpc alias vpc:%s\n"
	    "link set vpc up\n"
	    "addr add %s/%d dev vpc\n"
	    "addr add %s/%d dev vpc\n"
	    "link set pub up\n"
	    "addr add %s/16 dev pub\n",
	    r->name, gw, r->prefix, priv, r->prefix, pub);
	/* Sysctls first: no IPv6 on the links, forwarding, strict rp_filter. */
	if (lab_ip_sysctl(ns, rack_sysctls, batch, err, errlen) == -1 ||
	    rack_nft(l, r, true, err, errlen) == -1) {
		rack_teardown(l, r);
		return -1;
	}
	return 0;
}

static int
rack_dns_names(struct lab *l, const struct lab_rack *r)
{
	char name[128], pub[16], priv[16];
	int rc = 0;

	lab_ip4(lab_rack_public(r), pub, sizeof(pub));
	lab_ip4(lab_rack_private(r), priv, sizeof(priv));
	snprintf(name, sizeof(name), "*.%s.cx.test", r->name);
	rc |= lab_hosts_set(l, name, pub);
	snprintf(name, sizeof(name), "*.%s-internal.cx.test", r->name);
	rc |= lab_hosts_set(l, name, priv);
	return rc;
}

/* ---- peerings -------------------------------------------------------- */

static int
peer_build(struct lab *l, const struct lab_peering *p, char *err, size_t errlen)
{
	struct lab_rack *a = lab_find_rack(&l->st, p->a), *b = lab_find_rack(&l->st, p->b);
	char nsa[LAB_NETNS_MAX], nsb[LAB_NETNS_MAX], batch[1024];
	char la[16], lb[16], gwa[16], gwb[16], neta[16], netb[16];
	uint32_t link = lab_peer_link(p);

	if (a == NULL || b == NULL) {
		LAB_ERR("peering %s-%s: rack missing from the lab state", p->a, p->b);
		return -1;
	}
	lab_ns_rack(&l->st, a, nsa, sizeof(nsa));
	lab_ns_rack(&l->st, b, nsb, sizeof(nsb));
	lab_ip4(link + 1, la, sizeof(la));
	lab_ip4(link + 2, lb, sizeof(lb));
	lab_ip4(lab_rack_gateway(a), gwa, sizeof(gwa));
	lab_ip4(lab_rack_gateway(b), gwb, sizeof(gwb));
	lab_ip4(a->net, neta, sizeof(neta));
	lab_ip4(b->net, netb, sizeof(netb));

	/* src = own gateway: traffic the rack starts itself comes from an
	 * address the peer allows, not from the link's. */
	snprintf(batch, sizeof(batch),
	    "link add peer%d type veth peer name peer%d netns %s\n"
	    "link set peer%d alias peer:%s\n"
	    "link set peer%d up\n"
	    "addr add %s/30 dev peer%d\n"
	    "route add %s/%d via %s dev peer%d src %s\n",
	    b->id, a->id, nsb, b->id, b->name, b->id, la, b->id, netb, b->prefix, lb, b->id, gwa);
	if (lab_ip(nsa, batch, false, err, errlen) == -1)
		return -1;
	snprintf(batch, sizeof(batch),
	    "link set peer%d alias peer:%s\n"
	    "link set peer%d up\n"
	    "addr add %s/30 dev peer%d\n"
	    "route add %s/%d via %s dev peer%d src %s\n",
	    a->id, a->name, a->id, lb, a->id, neta, a->prefix, la, a->id, gwb);
	if (lab_ip(nsb, batch, false, err, errlen) == -1 || peer_nft(l, a, b, true, err, errlen) == -1 ||
	    peer_nft(l, b, a, true, err, errlen) == -1) {
		char e2[256];

		snprintf(batch, sizeof(batch), "link del peer%d\n", b->id);
		lab_ip(nsa, batch, true, e2, sizeof(e2));
		return -1;
	}
	return 0;
}

/* Deletes the link (its routes go with it) and the peering from the state,
 * then takes each rack (but dying) out of the other's set "peers". */
static int
peer_remove(struct lab *l, struct lab_peering *p, const char *dying, char *err, size_t errlen)
{
	struct lab_rack *a = lab_find_rack(&l->st, p->a), *b = lab_find_rack(&l->st, p->b);
	char nsa[LAB_NETNS_MAX], batch[64];
	int rc = 0;

	lab_del_peering(&l->st, p);
	if (a == NULL || b == NULL)
		return 0;
	lab_ns_rack(&l->st, a, nsa, sizeof(nsa));
	snprintf(batch, sizeof(batch), "link del peer%d\n", b->id);
	if (lab_netns_exists(nsa) && lab_ip(nsa, batch, false, err, errlen) == -1)
		rc = -1;
	/* A rack being destroyed needs no new rules. */
	if (strcmp(a->name, dying) != 0 && peer_nft(l, a, b, false, err, errlen) == -1)
		rc = -1;
	if (strcmp(b->name, dying) != 0 && peer_nft(l, b, a, false, err, errlen) == -1)
		rc = -1;
	return rc;
}

/* ---- public API: racks ----------------------------------------------- */

static int restore_locked(struct lab *l, char *err, size_t errlen);

/* flock(LAB_HOST_NETS_LOCK): held by whoever picks a network for a bridge
 * in the host's namespace, whatever its $CX_HOME. The descriptor, or -1. */
static int
host_nets_lock(char *err, size_t errlen)
{
	int fd = open(LAB_HOST_NETS_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd == -1) {
		LAB_ERR("%s: %s", LAB_HOST_NETS_LOCK, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			LAB_ERR("locking %s: %s", LAB_HOST_NETS_LOCK, strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Creates a VPC rack (host NULL) or a host rack (host: its public and
 * private addresses, host order, priv 0 for none). */
static int
rack_create(const char *home, const char *rack, const char *cidr, const uint32_t *host,
    struct lab_rack_info *out, char *err, size_t errlen)
{
	struct lab l;
	struct lab_rack nr = { 0 }, *r;
	bool inet_created = false;
	int rc = -1, hostlock = -1;

	if (lab_check_privilege(err, errlen) == -1)
		return -1;
	if (!valid_name(rack)) {
		LAB_ERR("bad rack name \"%s\": want [a-z][a-z0-9-]{0,29}", rack);
		return -1;
	}
	if (cidr != NULL && lab_cidr_check(cidr, &nr.net, &nr.prefix, err, errlen) == -1)
		return -1;
	if (lab_open(&l, home, true, err, errlen) == -1)
		return -1;

	if ((r = lab_find_rack(&l.st, rack)) != NULL) {
		if (cidr == NULL && r->host && host != NULL) {
			nr.net = r->net;
			nr.prefix = r->prefix;
		}
		if (r->net != nr.net || r->prefix != nr.prefix || r->host != (host != NULL)) {
			char have[20];

			lab_ip4(r->net, have, sizeof(have));
			LAB_ERR("rack %s already has %s %s/%d", rack, r->host ? "host network" : "VPC",
			    have, r->prefix);
			goto out;
		}
		/* Again with the same CIDR: make sure it is all there. */
		if (restore_locked(&l, err, errlen) == -1)
			goto out;
		r = lab_find_rack(&l.st, rack);
		goto done;
	}
	if (host != NULL) {
		/* The host's own routes are taken too: a bridge on a network the
		 * host already reaches another way would steal its traffic. Other
		 * homes' racks pick from the same routes: one picks at a time,
		 * holding the host-wide lock until its bridge is up. */
		uint32_t nets[256 + 64];
		int prefixes[256 + 64];
		size_t n;

		if ((hostlock = host_nets_lock(err, errlen)) == -1)
			goto out;
		n = lab_host_routes(nets, prefixes, 256);
		for (size_t i = 0; i < l.st.nracks && n < CX_ARRAY_LEN(nets); i++, n++) {
			nets[n] = l.st.racks[i].net;
			prefixes[n] = l.st.racks[i].prefix;
		}
		if (cidr == NULL) {
			if (lab_cidr_pick(nets, prefixes, n, &nr.net) == -1) {
				LAB_ERR("no free /16 left in 10.128.0.0/9 for rack %s: give one with --vpc", rack);
				goto out;
			}
			nr.prefix = 16;
		}
		for (size_t i = 0; i < n; i++) {
			if (lab_cidr_overlap(nr.net, nr.prefix, nets[i], prefixes[i])) {
				char onet[20], mine[20];

				lab_ip4(nets[i], onet, sizeof(onet));
				lab_ip4(nr.net, mine, sizeof(mine));
				LAB_ERR("%s/%d overlaps %s/%d, which this host routes already", mine, nr.prefix,
				    onet, prefixes[i]);
				goto out;
			}
		}
		nr.host = true;
		nr.pub = host[0];
		nr.priv = host[1];
	}
	for (size_t i = 0; i < l.st.nracks; i++) {
		struct lab_rack *o = &l.st.racks[i];

		if (lab_cidr_overlap(nr.net, nr.prefix, o->net, o->prefix)) {
			char onet[20];

			lab_ip4(o->net, onet, sizeof(onet));
			LAB_ERR("%s overlaps rack %s's %s/%d", cidr, o->name, onet, o->prefix);
			goto out;
		}
	}
	if (l.st.next_rack > LAB_RACKS_MAX) {
		LAB_ERR("the lab has handed out all its %d rack numbers; remove every VPC rack to start over",
		    LAB_RACKS_MAX);
		goto out;
	}
	if (l.st.nracks > 0 && restore_locked(&l, err, errlen) == -1)
		goto out;
	if (host == NULL && internet_up(&l, &inet_created, err, errlen) == -1)
		goto out;
	if (l.st.prefix[0] == '\0')
		choose_prefix(&l);
	str_copy(nr.name, sizeof(nr.name), rack);
	nr.id = l.st.next_rack;
	nr.next_proc = LAB_PROC_FIRST;
	if (host != NULL ? lab_host_build(&l, &nr, err, errlen) == -1 :
	    rack_build(&l, &nr, err, errlen) == -1) {
		if (host == NULL && vpc_racks(&l.st) == 0)
			internet_down(&l);
		goto out;
	}
	l.st.next_rack++;
	r = lab_add_rack(&l.st);
	*r = nr;
	if (lab_save(&l, err, errlen) == -1) {
		if (r->host)
			lab_host_teardown(&l, r);
		else
			rack_teardown(&l, r);
		goto out;
	}
	if (!r->host && rack_dns_names(&l, r) == -1)
		log_warnx("rack %s: could not set its lab DNS names", rack);
done:
	if (out != NULL)
		lab_rack_fill(&l.st, r, out);
	rc = 0;
out:
	if (hostlock != -1)
		close(hostlock);
	lab_close(&l);
	return rc;
}

int
lab_rack_create(const char *home, const char *rack, const char *cidr, struct lab_rack_info *out,
    char *err, size_t errlen)
{
	if (cidr == NULL) {
		LAB_ERR("a VPC rack needs a CIDR");
		return -1;
	}
	return rack_create(home, rack, cidr, NULL, out, err, errlen);
}

int
lab_host_rack_create(const char *home, const char *rack, const char *cidr,
    const char *public_addr, const char *private_addr, struct lab_rack_info *out, char *err,
    size_t errlen)
{
	struct in_addr in;
	uint32_t host[2] = { 0, 0 };

	if (public_addr == NULL || inet_pton(AF_INET, public_addr, &in) != 1) {
		LAB_ERR("public_address must be an IPv4 address of this host, not \"%s\"",
		    public_addr != NULL ? public_addr : "");
		return -1;
	}
	host[0] = ntohl(in.s_addr);
	if (private_addr != NULL && private_addr[0] != '\0') {
		if (inet_pton(AF_INET, private_addr, &in) != 1) {
			LAB_ERR("private_address must be an IPv4 address of this host, not \"%s\"",
			    private_addr);
			return -1;
		}
		host[1] = ntohl(in.s_addr);
	}
	return rack_create(home, rack, cidr != NULL && cidr[0] != '\0' ? cidr : NULL, host, out, err,
	    errlen);
}

int
lab_loopback_rack_create(const char *home, const char *rack, struct lab_rack_info *out,
    char *err, size_t errlen)
{
	return lab_host_rack_create(home, rack, NULL, "127.0.0.1", NULL, out, err, errlen);
}

int
lab_rack_destroy(const char *home, const char *rack, char *err, size_t errlen)
{
	struct lab l;
	struct lab_rack *r;
	char ns[LAB_NETNS_MAX], e2[256];
	bool was_host;
	int rc = -1;

	/* Not a VPC rack is an answer even without privilege. */
	if (lab_rack_get(home, rack, NULL) == -1 && lab_loopback_rack_get(home, rack, NULL) == -1) {
		LAB_ERR("rack %s is not a VPC rack", rack);
		return -1;
	}
	if (lab_check_privilege(err, errlen) == -1)
		return -1;
	if (lab_open(&l, home, true, err, errlen) == -1)
		return -1;
	if ((r = lab_find_rack(&l.st, rack)) == NULL) {
		LAB_ERR("rack %s is not a VPC rack", rack);
		goto out;
	}
	/* Peerings first, so the other side's rules and routes forget us. */
	for (size_t i = l.st.npeers; i-- > 0;) {
		struct lab_peering *p = &l.st.peers[i];

		if (strcmp(p->a, rack) == 0 || strcmp(p->b, rack) == 0) {
			if (peer_remove(&l, p, rack, e2, sizeof(e2)) == -1)
				log_warnx("unpeering %s: %s", rack, e2);
			r = lab_find_rack(&l.st, rack);
		}
	}
	for (size_t i = 0; i < l.st.nprocs; i++) {
		if (strcmp(l.st.procs[i].rack, rack) == 0) {
			lab_ns_proc(&l.st, r, l.st.procs[i].id, ns, sizeof(ns));
			lab_netns_del(ns);
		}
	}
	was_host = r->host;
	if (was_host)
		lab_host_teardown(&l, r);
	else
		rack_teardown(&l, r);
	for (size_t i = l.st.nprocs; i-- > 0;) {
		if (strcmp(l.st.procs[i].rack, rack) == 0)
			lab_del_proc(&l.st, &l.st.procs[i]);
	}
	lab_app_resolv_drop(&l, rack, NULL);
	if (!was_host) {
		lab_hosts_remove(&l, NULL, lab_rack_public(r));
		lab_hosts_remove(&l, NULL, lab_rack_private(r));
	}
	lab_del_rack(&l.st, r);
	if (!was_host && vpc_racks(&l.st) == 0)
		internet_down(&l);
	else if (l.st.nracks == 0)
		l.st.next_rack = 1;
	rc = lab_save(&l, err, errlen);
out:
	lab_close(&l);
	return rc;
}

/* Fills out for rack if it is in the lab as a loopback rack (loopback) or
 * as a VPC or host rack (!loopback). */
static int
rack_get(const char *home, const char *rack, bool loopback, struct lab_rack_info *out)
{
	struct lab l;
	struct lab_rack *r;
	char err[256];
	int rc = -1;

	if (lab_open(&l, home, false, err, sizeof(err)) == -1)
		return -1;
	if ((r = lab_find_rack(&l.st, rack)) != NULL && lab_rack_loopback(r) == loopback) {
		if (out != NULL)
			lab_rack_fill(&l.st, r, out);
		rc = 0;
	}
	lab_close(&l);
	return rc;
}

int
lab_rack_get(const char *home, const char *rack, struct lab_rack_info *out)
{
	return rack_get(home, rack, false, out);
}

int
lab_loopback_rack_get(const char *home, const char *rack, struct lab_rack_info *out)
{
	return rack_get(home, rack, true, out);
}

int
lab_racks(const char *home, struct lab_rack_info **out, size_t *n)
{
	struct lab l;
	char err[256];

	*out = NULL;
	*n = 0;
	if (lab_open(&l, home, false, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	if (l.st.nracks > 0) {
		*out = xcalloc(l.st.nracks, sizeof(**out));
		for (size_t i = 0; i < l.st.nracks; i++) {
			if (!lab_rack_loopback(&l.st.racks[i]))
				lab_rack_fill(&l.st, &l.st.racks[i], &(*out)[(*n)++]);
		}
	}
	lab_close(&l);
	return 0;
}

int
lab_rack_set_whitelist(const char *home, const char *rack, const char *cidrs, char *err,
    size_t errlen)
{
	struct lab l;
	struct lab_rack *r;
	char norm[sizeof(r->whitelist)], old[sizeof(r->whitelist)];
	int rc = -1;

	if (lab_check_privilege(err, errlen) == -1)
		return -1;
	if (lab_whitelist_check(cidrs != NULL ? cidrs : "", norm, sizeof(norm), err, errlen) == -1)
		return -1;
	if (lab_open(&l, home, true, err, errlen) == -1)
		return -1;
	if ((r = lab_find_rack(&l.st, rack)) == NULL) {
		LAB_ERR("rack %s is not a VPC rack", rack);
		goto out;
	}
	str_copy(old, sizeof(old), r->whitelist);
	str_copy(r->whitelist, sizeof(r->whitelist), norm);
	/* A host rack's internal router is reached by the host's own networks:
	 * its router's allow list is the only wall, as on a cloud host. */
	if (!r->host && rack_nft(&l, r, false, err, errlen) == -1) {
		str_copy(r->whitelist, sizeof(r->whitelist), old);
		goto out;
	}
	rc = lab_save(&l, err, errlen);
out:
	lab_close(&l);
	return rc;
}

/* ---- public API: processes -------------------------------------------- */

/* The next free address offset from r->next_proc (see lab_int.h). */
uint32_t
lab_proc_alloc(struct lab_state *st, struct lab_rack *r)
{
	uint32_t last = (1u << (32 - r->prefix)) - 2, span = last - LAB_PROC_FIRST + 1;
	uint32_t off = r->next_proc;

	for (uint32_t tries = 0; tries < span; tries++, off++) {
		bool used = false;

		if (off < LAB_PROC_FIRST || off > last)
			off = LAB_PROC_FIRST;
		for (size_t i = 0; i < st->nprocs && !used; i++)
			used = strcmp(st->procs[i].rack, r->name) == 0 && st->procs[i].addr == r->net + off;
		if (!used)
			return off;
	}
	return 0;
}

/* The process's namespace and its veth to the rack's bridge: "vpc" in the
 * rack's namespace, or a host rack's bridge in the host's (host.c names). */
static int
proc_build(struct lab *l, const struct lab_rack *r, const char *proc_id, uint32_t addr, char *err,
    size_t errlen)
{
	char rns[LAB_NETNS_MAX], pns[LAB_NETNS_MAX], a[16], gw[16], mac[18], batch[1024];
	char link[16], master[16];
	const char *outer = NULL;   /* where the bridge is; NULL: the host's namespace */

	if (r->host) {
		lab_host_proc_link(&l->st, addr, link, sizeof(link));
		lab_host_bridge(&l->st, r, master, sizeof(master));
	} else {
		lab_ns_rack(&l->st, r, rns, sizeof(rns));
		outer = rns;
		snprintf(link, sizeof(link), "p%u", addr - r->net);
		str_copy(master, sizeof(master), "vpc");
	}
	lab_ns_proc(&l->st, r, proc_id, pns, sizeof(pns));
	lab_ip4(addr, a, sizeof(a));
	lab_ip4(lab_rack_gateway(r), gw, sizeof(gw));
	if (lab_netns_exists(pns))
		lab_netns_del(pns);
	if (r->host && lab_link_exists(link)) {
		snprintf(batch, sizeof(batch), "link del %s\n", link);
		lab_ip(NULL, batch, true, err, errlen);
	}
	lab_mac(0x01, addr, mac, sizeof(mac));
	snprintf(batch, sizeof(batch),
	    "netns add %s\n"
	    "link add %s type veth peer name eth0 address %s netns %s\n"
	    "%s%s%s"
	    "link set %s master %s\n"
	    "link set %s up\n",
	    pns, link, mac, pns, r->host ? "link set " : "", r->host ? link : "",
	    r->host ? " addrgenmode none\n" : "", link, master, link);
	if (lab_ip(outer, batch, false, err, errlen) == -1) {
		lab_netns_del(pns);
		return -1;
	}
	snprintf(batch, sizeof(batch),
	    "link set lo up\n"
	    "link set eth0 addrgenmode none\n"
	    "link set eth0 up\n"
	    "addr add %s/%d dev eth0\n"
	    "route add default via %s\n",
	    a, r->prefix, gw);
	if (lab_ip(pns, batch, false, err, errlen) == -1) {
		char e2[256];

		snprintf(batch, sizeof(batch), "link del %s\n", link);
		lab_ip(outer, batch, true, e2, sizeof(e2));
		lab_netns_del(pns);
		return -1;
	}
	return 0;
}

/* lab_proc_create, for app (NULL: a probe's namespace, no app's names). */
static int
proc_create(const char *home, const char *rack, const char *app, const char *proc_id,
    char *addr_out, size_t addrlen, char *err, size_t errlen)
{
	struct lab l;
	struct lab_rack *r;
	struct lab_proc *p;
	char pns[LAB_NETNS_MAX];
	uint32_t off;
	int rc = -1;

	if (lab_check_privilege(err, errlen) == -1)
		return -1;
	if (!lab_proc_id_ok(proc_id)) {
		LAB_ERR("bad process id \"%s\": want 1 to %d of [A-Za-z0-9_.-]", proc_id, LAB_PROC_ID_MAX);
		return -1;
	}
	if (lab_open(&l, home, true, err, errlen) == -1)
		return -1;
	if ((r = lab_find_rack(&l.st, rack)) == NULL) {
		LAB_ERR("rack %s is not a VPC rack", rack);
		goto out;
	}
	if (app != NULL && lab_app_resolv_write(&l, r, app, err, errlen) == -1)
		goto out;
	if ((p = lab_find_proc(&l.st, rack, proc_id)) != NULL) {
		lab_ns_proc(&l.st, r, proc_id, pns, sizeof(pns));
		if (!lab_netns_exists(pns) && proc_build(&l, r, proc_id, p->addr, err, errlen) == -1)
			goto out;
		if (strcmp(p->app, app != NULL ? app : "") != 0) {
			str_copy(p->app, sizeof(p->app), app != NULL ? app : "");
			if (lab_save(&l, err, errlen) == -1)
				goto out;
		}
		lab_ip4(p->addr, addr_out, addrlen);
		rc = 0;
		goto out;
	}
	if ((off = lab_proc_alloc(&l.st, r)) == 0) {
		char net[16];

		lab_ip4(r->net, net, sizeof(net));
		LAB_ERR("rack %s's VPC %s/%d has no free address left", rack, net, r->prefix);
		goto out;
	}
	if (proc_build(&l, r, proc_id, r->net + off, err, errlen) == -1)
		goto out;
	p = lab_add_proc(&l.st);
	str_copy(p->rack, sizeof(p->rack), rack);
	str_copy(p->id, sizeof(p->id), proc_id);
	str_copy(p->app, sizeof(p->app), app != NULL ? app : "");
	p->addr = r->net + off;
	r->next_proc = off + 1;
	if (lab_save(&l, err, errlen) == -1) {
		lab_close(&l);
		lab_proc_destroy(home, rack, proc_id);
		return -1;
	}
	lab_ip4(p->addr, addr_out, addrlen);
	rc = 0;
out:
	lab_close(&l);
	return rc;
}

int
lab_proc_create(const char *home, const char *rack, const char *proc_id, char *addr_out,
    size_t addrlen, char *err, size_t errlen)
{
	return proc_create(home, rack, NULL, proc_id, addr_out, addrlen, err, errlen);
}

int
lab_app_proc_create(const char *home, const char *rack, const char *app, const char *proc_id,
    char *addr_out, size_t addrlen, char *err, size_t errlen)
{
	return proc_create(home, rack, app, proc_id, addr_out, addrlen, err, errlen);
}

/* Does any process namespace of rack other than except run for app? */
static bool
app_has_procs(const struct lab_state *st, const char *rack, const char *app,
    const struct lab_proc *except)
{
	for (size_t i = 0; i < st->nprocs; i++) {
		const struct lab_proc *q = &st->procs[i];

		if (q != except && strcmp(q->rack, rack) == 0 && strcmp(q->app, app) == 0)
			return true;
	}
	return false;
}

int
lab_proc_destroy(const char *home, const char *rack, const char *proc_id)
{
	struct lab l;
	struct lab_rack *r;
	struct lab_proc *p;
	char rns[LAB_NETNS_MAX], pns[LAB_NETNS_MAX], a[16], batch[256], err[256];
	int rc = 0;

	if (lab_open(&l, home, true, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	if ((r = lab_find_rack(&l.st, rack)) == NULL || (p = lab_find_proc(&l.st, rack, proc_id)) == NULL)
		goto out;
	lab_ns_rack(&l.st, r, rns, sizeof(rns));
	lab_ns_proc(&l.st, r, proc_id, pns, sizeof(pns));
	lab_ip4(p->addr, a, sizeof(a));
	/* The link first: the namespace may outlive its name if a process is
	 * still inside, and must not stay on the bridge. */
	if (r->host) {
		char link[16], br[16];

		lab_host_proc_link(&l.st, p->addr, link, sizeof(link));
		lab_host_bridge(&l.st, r, br, sizeof(br));
		snprintf(batch, sizeof(batch), "link del %s\nneigh flush to %s dev %s\n", link, a, br);
		lab_ip(NULL, batch, true, err, sizeof(err));
	} else {
		snprintf(batch, sizeof(batch), "link del p%u\nneigh flush to %s dev vpc\n",
		    p->addr - r->net, a);
		if (lab_netns_exists(rns))
			lab_ip(rns, batch, true, err, sizeof(err));
	}
	if (lab_netns_del(pns) == -1) {
		log_warn("removing namespace %s", pns);
		rc = -1;
	}
	if (p->app[0] != '\0' && !app_has_procs(&l.st, rack, p->app, p))
		lab_app_resolv_drop(&l, rack, p->app);
	lab_del_proc(&l.st, p);
	if (lab_save(&l, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		rc = -1;
	}
out:
	lab_close(&l);
	return rc;
}

/* ---- public API: entering --------------------------------------------- */

/* The resolv.conf a process of rack r gets: its app's (written if it is
 * missing), else the rack's DNS's (host racks) or the lab's. */
static int
resolv_of(struct lab *l, const struct lab_rack *r, const struct lab_proc *p, char *out,
    size_t outlen, char *err, size_t errlen)
{
	if (p != NULL && p->app[0] != '\0') {
		lab_app_resolv_path(l, r->name, p->app, out, outlen);
		return access(out, R_OK) == 0 ? 0 : lab_app_resolv_write(l, r, p->app, err, errlen);
	}
	lab_dns_path(l, r != NULL && r->host ? r->name : NULL, "resolv", out, outlen);
	return 0;
}

static int
enter(const char *home, const char *rack, const char *proc_id, char *err, size_t errlen)
{
	struct lab l;
	struct lab_rack *r = NULL;
	struct lab_proc *p = NULL;
	char ns[LAB_NETNS_MAX], resolv[PATH_MAX + 64];
	int rc = -1;

	if (lab_open(&l, home, false, err, errlen) == -1)
		return -1;
	if (l.st.prefix[0] == '\0') {
		LAB_ERR("the lab is not up: no VPC rack exists");
		goto out;
	}
	if (rack != NULL && (r = lab_find_rack(&l.st, rack)) == NULL) {
		LAB_ERR("rack %s is not a VPC rack", rack);
		goto out;
	}
	if (proc_id != NULL && (p = lab_find_proc(&l.st, rack, proc_id)) == NULL) {
		LAB_ERR("rack %s has no process namespace %s", rack, proc_id);
		goto out;
	}
	if (r != NULL && r->host && proc_id == NULL) {
		rc = 0;   /* a host rack's namespace is the host's: already there */
		goto out;
	}
	if (proc_id != NULL)
		lab_ns_proc(&l.st, r, proc_id, ns, sizeof(ns));
	else if (r != NULL)
		lab_ns_rack(&l.st, r, ns, sizeof(ns));
	else
		lab_ns_internet(&l.st, ns, sizeof(ns));
	if (resolv_of(&l, r, p, resolv, sizeof(resolv), err, errlen) == 0)
		rc = lab_netns_enter(ns, resolv, err, errlen);
out:
	lab_close(&l);
	return rc;
}

int
lab_proc_resolv(const char *home, const char *rack, const char *proc_id, char *out,
    size_t outlen, char *err, size_t errlen)
{
	struct lab l;
	struct lab_rack *r;
	struct lab_proc *p;
	int rc = -1;

	if (lab_open(&l, home, false, err, errlen) == -1)
		return -1;
	if ((r = lab_find_rack(&l.st, rack)) == NULL)
		LAB_ERR("rack %s is not a VPC rack", rack);
	else if ((p = lab_find_proc(&l.st, rack, proc_id)) == NULL)
		LAB_ERR("rack %s has no process namespace %s", rack, proc_id);
	else
		rc = resolv_of(&l, r, p, out, outlen, err, errlen);
	lab_close(&l);
	return rc;
}

int
lab_enter_proc(const char *home, const char *rack, const char *proc_id, char *err, size_t errlen)
{
	return enter(home, rack, proc_id, err, errlen);
}

int
lab_enter_rack(const char *home, const char *rack, char *err, size_t errlen)
{
	return enter(home, rack, NULL, err, errlen);
}

int
lab_enter_internet(const char *home, char *err, size_t errlen)
{
	return enter(home, NULL, NULL, err, errlen);
}

/* ---- public API: peerings --------------------------------------------- */

int
lab_peer(const char *home, const char *a, const char *b, char *err, size_t errlen)
{
	struct lab l;
	struct lab_peering *p;
	int rc = -1;

	if (lab_check_privilege(err, errlen) == -1)
		return -1;
	if (strcmp(a, b) == 0) {
		LAB_ERR("cannot peer rack %s with itself", a);
		return -1;
	}
	if (lab_open(&l, home, true, err, errlen) == -1)
		return -1;
	if (lab_find_rack(&l.st, a) == NULL || lab_find_rack(&l.st, b) == NULL) {
		LAB_ERR("rack %s is not a VPC rack", lab_find_rack(&l.st, a) == NULL ? a : b);
		goto out;
	}
	if (lab_find_rack(&l.st, a)->host || lab_find_rack(&l.st, b)->host) {
		LAB_ERR("rack %s is a host rack: it peers over TLS, not by lab routing",
		    lab_find_rack(&l.st, a)->host ? a : b);
		goto out;
	}
	if (lab_find_peering(&l.st, a, b) != NULL) {
		LAB_ERR("racks %s and %s are already peered", a, b);
		goto out;
	}
	if (l.st.next_peer > LAB_PEERS_MAX) {
		LAB_ERR("the lab has handed out all its %d peering links; remove every VPC rack to start over",
		    LAB_PEERS_MAX);
		goto out;
	}
	p = lab_add_peering(&l.st);
	str_copy(p->a, sizeof(p->a), a);
	str_copy(p->b, sizeof(p->b), b);
	p->id = l.st.next_peer;
	if (peer_build(&l, p, err, errlen) == -1) {
		char e2[256];

		lab_del_peering(&l.st, lab_find_peering(&l.st, a, b));
		/* The rules of both racks may have been rewritten with the peering. */
		rack_nft(&l, lab_find_rack(&l.st, a), false, e2, sizeof(e2));
		rack_nft(&l, lab_find_rack(&l.st, b), false, e2, sizeof(e2));
		goto out;
	}
	l.st.next_peer++;
	rc = lab_save(&l, err, errlen);
out:
	lab_close(&l);
	return rc;
}

int
lab_unpeer(const char *home, const char *a, const char *b, char *err, size_t errlen)
{
	struct lab l;
	struct lab_peering *p;
	int rc = -1;

	if (lab_check_privilege(err, errlen) == -1)
		return -1;
	if (lab_open(&l, home, true, err, errlen) == -1)
		return -1;
	if ((p = lab_find_peering(&l.st, a, b)) == NULL) {
		LAB_ERR("racks %s and %s are not peered", a, b);
		goto out;
	}
	rc = peer_remove(&l, p, "", err, errlen);
	if (lab_save(&l, err, errlen) == -1)
		rc = -1;
out:
	lab_close(&l);
	return rc;
}

int
lab_peers(const char *home, const char *rack, char (**pairs)[2][32], size_t *n)
{
	struct lab l;
	char err[256];

	*pairs = NULL;
	*n = 0;
	if (lab_open(&l, home, false, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	for (size_t i = 0; i < l.st.npeers; i++) {
		struct lab_peering *p = &l.st.peers[i];

		if (rack != NULL && strcmp(p->a, rack) != 0 && strcmp(p->b, rack) != 0)
			continue;
		*pairs = xrealloc(*pairs, (*n + 1) * sizeof(**pairs));
		str_copy((*pairs)[*n][0], 32, p->a);
		str_copy((*pairs)[*n][1], 32, p->b);
		(*n)++;
	}
	lab_close(&l);
	return 0;
}

int
lab_proc_ids(const char *home, const char *rack, const char *prefix,
    char (**ids)[LAB_PROC_ID_MAX + 1], size_t *n)
{
	struct lab l;
	char err[256];

	*ids = NULL;
	*n = 0;
	if (lab_open(&l, home, false, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	for (size_t i = 0; i < l.st.nprocs; i++) {
		struct lab_proc *p = &l.st.procs[i];

		if (strcmp(p->rack, rack) != 0 || strncmp(p->id, prefix, strlen(prefix)) != 0)
			continue;
		*ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
		str_copy((*ids)[*n], sizeof((*ids)[*n]), p->id);
		(*n)++;
	}
	lab_close(&l);
	return 0;
}

/* ---- public API: repair ----------------------------------------------- */

static int
restore_locked(struct lab *l, char *err, size_t errlen)
{
	bool inet_created = false, changed = false;
	bool *rebuilt;
	int rc = -1;

	if (l->st.nracks == 0)
		return 0;
	if (vpc_racks(&l->st) > 0 && internet_up(l, &inet_created, err, errlen) == -1)
		return -1;
	rebuilt = xcalloc(l->st.nracks, sizeof(*rebuilt));
	for (size_t i = 0; i < l->st.nracks; i++) {
		struct lab_rack *r = &l->st.racks[i];
		char ns[LAB_NETNS_MAX], e2[256];

		if (r->host) {
			char br[16];

			lab_host_bridge(&l->st, r, br, sizeof(br));
			if (!lab_link_exists(br)) {
				log_info("lab: re-creating host rack %s's bridge %s", r->name, br);
				if (lab_host_build(l, r, err, errlen) == -1)
					goto out;
				rebuilt[i] = true;
				changed = true;
			} else if (lab_rack_dns_start(l, r, err, errlen) == -1) {
				goto out;
			}
			continue;
		}
		lab_ns_rack(&l->st, r, ns, sizeof(ns));
		if (!lab_netns_exists(ns)) {
			log_info("lab: re-creating rack %s's namespace %s", r->name, ns);
			if (!inet_created) {
				/* The lost namespace may live on (a process inside),
				 * still holding the internet's port for it. */
				char inet[LAB_NETNS_MAX], batch[32];

				lab_ns_internet(&l->st, inet, sizeof(inet));
				snprintf(batch, sizeof(batch), "link del r%d\n", r->id);
				lab_ip(inet, batch, true, e2, sizeof(e2));
			}
			if (rack_build(l, r, err, errlen) == -1)
				goto out;
			rebuilt[i] = true;
			changed = true;
		} else if (inet_created) {
			/* The old internet took the public link with it. */
			log_info("lab: relinking rack %s to the new internet", r->name);
			lab_ip(ns, "link del pub\n", true, e2, sizeof(e2));
			if (rack_link_public(l, r, false, err, errlen) == -1)
				goto out;
		}
	}
	for (size_t i = 0; i < l->st.npeers; i++) {
		struct lab_peering *p = &l->st.peers[i];
		struct lab_rack *a = lab_find_rack(&l->st, p->a), *b = lab_find_rack(&l->st, p->b);

		if (a != NULL && b != NULL && (rebuilt[a - l->st.racks] || rebuilt[b - l->st.racks])) {
			char nsa[LAB_NETNS_MAX], e2[256], batch[64];

			/* The surviving side may still hold its half. */
			snprintf(batch, sizeof(batch), "link del peer%d\n", b->id);
			lab_ns_rack(&l->st, a, nsa, sizeof(nsa));
			lab_ip(nsa, batch, true, e2, sizeof(e2));
			snprintf(batch, sizeof(batch), "link del peer%d\n", a->id);
			lab_ns_rack(&l->st, b, nsa, sizeof(nsa));
			lab_ip(nsa, batch, true, e2, sizeof(e2));
			if (peer_build(l, p, err, errlen) == -1)
				goto out;
		}
	}
	for (size_t i = l->st.nprocs; i-- > 0;) {
		struct lab_proc *p = &l->st.procs[i];
		struct lab_rack *r = lab_find_rack(&l->st, p->rack);
		char ns[LAB_NETNS_MAX];

		if (r == NULL) {
			lab_del_proc(&l->st, p);
			continue;
		}
		lab_ns_proc(&l->st, r, p->id, ns, sizeof(ns));
		if (rebuilt[r - l->st.racks] || !lab_netns_exists(ns)) {
			lab_netns_del(ns);
			lab_del_proc(&l->st, p);
			changed = true;
		}
	}
	for (size_t i = 0; i < l->st.nracks; i++) {
		if (rebuilt[i] && !l->st.racks[i].host && rack_dns_names(l, &l->st.racks[i]) == -1)
			log_warnx("rack %s: could not set its lab DNS names", l->st.racks[i].name);
	}
	rc = changed ? lab_save(l, err, errlen) : 0;
out:
	free(rebuilt);
	return rc;
}

int
lab_restore(const char *home, char *err, size_t errlen)
{
	struct lab l;
	int rc;

	if (lab_check_privilege(err, errlen) == -1)
		return -1;
	if (lab_open(&l, home, true, err, errlen) == -1)
		return -1;
	rc = restore_locked(&l, err, errlen);
	lab_close(&l);
	return rc;
}

int
lab_prefix(const char *home, char *out, size_t outlen)
{
	struct lab l;
	char err[256];
	int rc = -1;

	if (lab_open(&l, home, false, err, sizeof(err)) == -1)
		return -1;
	if (l.st.prefix[0] != '\0') {
		str_copy(out, outlen, l.st.prefix);
		rc = 0;
	}
	lab_close(&l);
	return rc;
}
