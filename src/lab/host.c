/*
 * host.c — host racks: a rack whose "rack namespace" is the host's own.
 *
 * Docker-like: a bridge in the host's namespace (PREFIX-bN) holds the
 * gateway .1 (the rack's DNS listens there, :53), .2 (the internal router)
 * and .3 (the egress listener of the peer router); each process has its own
 * namespace, joined to the bridge by a veth whose host end is PREFIXvADDR
 * (the address in hex, so the name is unique in the host and fits 15
 * bytes). A nftables table of the rack's own (PREFIX-hN, inet) in the
 * host's namespace:
 *
 *   input   from the bridge: replies; DNS on .1; tcp 80/443 on the router
 *           addresses (.2, .3, public_address, private_address); nothing
 *           else of the host (its API port, its sshd) is reachable
 *   forward bridge to bridge; from the bridge out, from the rack's CIDR;
 *           to the bridge only replies: nothing new reaches a process
 *   nat     from the CIDR to anything but the bridge: masquerade
 *
 * A loopback rack's routers stay on the host's 127.0.0.1, which its
 * processes cannot reach (theirs is their own): a second table of the rack's
 * (PREFIX-gN-RACK, lab_loopback_gateway) DNATs .2:80/.2:443 and .3:80 there,
 * and the input chain above accepts what was DNATed from those.
 *
 * The chains' policy is accept: the table decides only what touches the
 * bridge and leaves the rest of the host's traffic to the host's own rules.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "lab/lab_int.h"

#define ROUTE_LINE_MAX 512

void
lab_host_bridge(const struct lab_state *st, const struct lab_rack *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-b%d", st->prefix, r->id);
}

void
lab_host_table(const struct lab_state *st, const struct lab_rack *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-h%d", st->prefix, r->id);
}

void
lab_host_proc_link(const struct lab_state *st, uint32_t addr, char *out, size_t outlen)
{
	snprintf(out, outlen, "%sv%08x", st->prefix, addr);
}

void
lab_host_gw_table(const struct lab_state *st, const struct lab_rack *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-g%d-%s", st->prefix, r->id, r->name);
}

uint32_t
lab_rack_egress(const struct lab_rack *r)
{
	return r->net + 3;
}

bool
lab_link_exists(const char *ifname)
{
	return if_nametoindex(ifname) != 0;
}

int
lab_cidr_pick(const uint32_t *nets, const int *prefixes, size_t n, uint32_t *out)
{
	for (uint32_t second = 128; second < 256; second++) {
		uint32_t cand = (10u << 24) | (second << 16);
		bool taken = false;

		for (size_t i = 0; i < n && !taken; i++)
			taken = lab_cidr_overlap(cand, 16, nets[i], prefixes[i]);
		if (!taken) {
			*out = cand;
			return 0;
		}
	}
	return -1;
}

size_t
lab_host_routes(uint32_t *nets, int *prefixes, size_t max)
{
	char *text = read_file("/proc/net/route", 1 << 20, NULL);
	size_t n = 0;

	if (text == NULL)
		return 0;
	for (const char *p = strchr(text, '\n'); p != NULL && *p != '\0' && n < max;) {
		char line[ROUTE_LINE_MAX], ifname[32];
		unsigned dest, gw, flags, refcnt, use, metric, mask;
		size_t len;

		p++;
		len = strcspn(p, "\n");
		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (sscanf(line, "%31s %x %x %x %u %u %u %x", ifname, &dest, &gw, &flags, &refcnt,
			    &use, &metric, &mask) == 8 && mask != 0) {
				/* The kernel prints the network-order words as numbers. */
				nets[n] = ntohl(dest);
				prefixes[n] = __builtin_popcount(mask);
				n++;
			}
		}
		p = strchr(p, '\n');
	}
	free(text);
	return n;
}

char *
lab_host_rules(const struct lab_state *st, const struct lab_rack *r, bool fresh)
{
	char table[32], br[16], net[16], gw[16], priv[16], egress[16], pub[16], hpriv[16];
	struct buf b;

	lab_host_table(st, r, table, sizeof(table));
	lab_host_bridge(st, r, br, sizeof(br));
	lab_ip4(r->net, net, sizeof(net));
	lab_ip4(lab_rack_gateway(r), gw, sizeof(gw));
	lab_ip4(lab_rack_private(r), priv, sizeof(priv));
	lab_ip4(lab_rack_egress(r), egress, sizeof(egress));
	lab_ip4(r->pub, pub, sizeof(pub));
	lab_ip4(r->priv, hpriv, sizeof(hpriv));

	buf_init(&b, 0);
	if (!fresh)
		buf_addf(&b, "table inet %s {}\ndelete table inet %s\n", table, table);
	buf_addf(&b, "table inet %s {\n", table);
	buf_addf(&b, "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
		     "\t\tiifname \"%s\" ct state established,related accept\n"
		     "\t\tiifname \"%s\" ct state invalid drop\n"
		     "\t\tiifname \"%s\" ip daddr %s meta l4proto { tcp, udp } th dport 53 accept\n"
		     "\t\tiifname \"%s\" ip daddr { %s, %s, %s%s%s } tcp dport { %s } accept\n"
		     /* What the gateway table sent on to the routers on 127.0.0.1. */
		     "\t\tiifname \"%s\" meta l4proto tcp ct status dnat ct original ip daddr { %s, %s }"
		     " ct original proto-dst { %s } accept\n"
		     "\t\tiifname \"%s\" drop\n"
		     /* The bridge's own addresses are the rack's, not the world's. */
		     "\t\tiifname != \"lo\" ip daddr { %s, %s, %s } drop\n\t}\n",
	    br, br, br, gw, br, priv, egress, pub, r->priv != 0 ? ", " : "", r->priv != 0 ? hpriv : "",
	    LAB_ROUTER_PORTS, br, priv, egress, LAB_ROUTER_PORTS, br, gw, priv, egress);
	buf_addf(&b, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n"
		     "\t\tiifname \"%s\" oifname \"%s\" accept\n"
		     "\t\toifname \"%s\" ct state established,related accept\n"
		     "\t\toifname \"%s\" drop\n"
		     "\t\tiifname \"%s\" ip saddr %s/%d accept\n"
		     "\t\tiifname \"%s\" drop\n\t}\n",
	    br, br, br, br, br, net, r->prefix, br);
	buf_addf(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		     "\t\tip saddr %s/%d oifname != \"%s\" masquerade\n\t}\n}\n",
	    net, r->prefix, br);
	return buf_cstr(&b);
}

char *
lab_host_gw_rules(const struct lab_state *st, const struct lab_rack *r,
    const struct lab_gateway_ports *ports)
{
	char table[64], net[16], priv[16], egress[16];
	const struct { uint32_t addr; int from; int to; } maps[] = {
		{ lab_rack_egress(r), 80, ports != NULL ? ports->egress : 0 },
		{ lab_rack_private(r), 80, ports != NULL ? ports->internal : 0 },
		{ lab_rack_private(r), 443, ports != NULL ? ports->internal_tls : 0 },
	};
	struct buf b;

	lab_host_gw_table(st, r, table, sizeof(table));
	lab_ip4(r->net, net, sizeof(net));
	lab_ip4(lab_rack_private(r), priv, sizeof(priv));
	lab_ip4(lab_rack_egress(r), egress, sizeof(egress));
	buf_init(&b, 0);
	/* Creating it first makes the delete succeed when there was none. */
	buf_addf(&b, "table inet %s {}\ndelete table inet %s\n", table, table);
	if (ports == NULL)
		return buf_cstr(&b);
	/* By source and address, not iifname: bridge netfilter may show the
	 * port a packet came in by. Only the bridge has route_localnet, so
	 * nothing DNATed from another interface is delivered. */
	buf_addf(&b, "table inet %s {\n\tchain prerouting {\n\t\ttype nat hook prerouting priority "
	    "dstnat; policy accept;\n", table);
	for (size_t i = 0; i < CX_ARRAY_LEN(maps); i++) {
		char to[16];

		if (maps[i].to <= 0)
			continue;
		lab_ip4(maps[i].addr, to, sizeof(to));
		buf_addf(&b, "\t\tip saddr %s/%d ip daddr %s tcp dport %d dnat ip to 127.0.0.1:%d\n",
		    net, r->prefix, to, maps[i].from, maps[i].to);
	}
	buf_adds(&b, "\t}\n}\n");
	return buf_cstr(&b);
}

int
lab_loopback_gateway(const char *home, const char *rack, const struct lab_gateway_ports *ports,
    char *err, size_t errlen)
{
	char br[16], path[96], *rules;
	struct lab_sysctl localnet[] = { { path, ports != NULL ? "1" : "0" }, { NULL, NULL } };
	struct lab l;
	struct lab_rack *r;
	int rc = -1;

	if (lab_check_privilege(err, errlen) == -1)
		return -1;
	if (lab_open(&l, home, false, err, errlen) == -1)
		return -1;
	if ((r = lab_find_rack(&l.st, rack)) == NULL || !lab_rack_loopback(r)) {
		snprintf(err, errlen, "rack %s is not a loopback rack run as root: it has no bridge",
		    rack);
		goto out;
	}
	lab_host_bridge(&l.st, r, br, sizeof(br));
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", br);
	rules = lab_host_gw_rules(&l.st, r, ports);
	/* route_localnet before the rules that need it, and off after them. */
	if (ports != NULL && lab_link_exists(br) && lab_run(NULL, localnet, NULL, NULL, err,
	    errlen) == -1) {
		free(rules);
		goto out;
	}
	rc = lab_nft(NULL, rules, err, errlen);
	free(rules);
	if (rc == -1 && ports != NULL && lab_link_exists(br)) {
		/* No rules: route_localnet back off, as without a gateway. */
		char e2[256];

		localnet[0].value = "0";
		if (lab_run(NULL, localnet, NULL, NULL, e2, sizeof(e2)) == -1)
			log_warnx("%s", e2);
	}
	if (rc == 0 && ports == NULL && lab_link_exists(br))
		rc = lab_run(NULL, localnet, NULL, NULL, err, errlen);
out:
	lab_close(&l);
	return rc;
}

static const struct lab_sysctl host_sysctls[] = {
	{ "/proc/sys/net/ipv4/ip_forward", "1" },
	{ NULL, NULL },
};

void
lab_host_teardown(struct lab *l, const struct lab_rack *r)
{
	char br[16], table[32], link[16], err[256];
	struct buf b;

	lab_dns_stop_in(l, r->name);
	lab_host_bridge(&l->st, r, br, sizeof(br));
	lab_host_table(&l->st, r, table, sizeof(table));
	buf_init(&b, 0);
	for (size_t i = 0; i < l->st.nprocs; i++) {
		if (strcmp(l->st.procs[i].rack, r->name) == 0) {
			lab_host_proc_link(&l->st, l->st.procs[i].addr, link, sizeof(link));
			if (lab_link_exists(link))
				buf_addf(&b, "link del %s\n", link);
		}
	}
	if (lab_link_exists(br))
		buf_addf(&b, "link del %s\n", br);
	if (b.len > 0 && lab_ip(NULL, buf_cstr(&b), true, err, sizeof(err)) == -1)
		log_warnx("%s", err);
	buf_free(&b);
	{
		char *gw = lab_host_gw_rules(&l->st, r, NULL);
		char *rules = xasprintf("table inet %s {}\ndelete table inet %s\n%s", table, table, gw);

		if (lab_nft(NULL, rules, err, sizeof(err)) == -1)
			log_warnx("%s", err);
		free(rules);
		free(gw);
	}
	for (const char *what = "hosts"; what != NULL; what = strcmp(what, "hosts") == 0 ? "resolv" : NULL) {
		char path[PATH_MAX + 32];

		lab_dns_path(l, r->name, what, path, sizeof(path));
		unlink(path);
	}
}

/* A loopback rack's bridge built anew while its gateway table lives on (the
 * bridge was lost, the table is not tied to it): route_localnet on again,
 * which the DNAT to 127.0.0.1 needs and a new bridge lacks. */
static int
gateway_localnet_again(const struct lab_state *st, const struct lab_rack *r, const char *br,
    char *err, size_t errlen)
{
	char table[64], path[96], nerr[256];
	char *list[] = { "nft", "list", "table", "inet", table, NULL };
	struct lab_sysctl localnet[] = { { path, "1" }, { NULL, NULL } };

	lab_host_gw_table(st, r, table, sizeof(table));
	if (lab_run(NULL, NULL, list, NULL, nerr, sizeof(nerr)) == -1)
		return 0;       /* no gateway: route_localnet stays off */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", br);
	return lab_run(NULL, localnet, NULL, NULL, err, errlen);
}

int
lab_host_build(struct lab *l, const struct lab_rack *r, char *err, size_t errlen)
{
	char br[16], gw[16], priv[16], egress[16], mac[18], batch[1024], v6[96];
	struct lab_sysctl br_sysctls[] = { { v6, "1" }, { NULL, NULL } };
	char *rules;
	int rc;

	lab_host_bridge(&l->st, r, br, sizeof(br));
	lab_ip4(lab_rack_gateway(r), gw, sizeof(gw));
	lab_ip4(lab_rack_private(r), priv, sizeof(priv));
	lab_ip4(lab_rack_egress(r), egress, sizeof(egress));
	lab_mac(0x02, lab_rack_gateway(r), mac, sizeof(mac));
	if (lab_link_exists(br))
		lab_host_teardown(l, r); /* a leftover: start clean */
	snprintf(batch, sizeof(batch),
	    "link add %s address %s type bridge\n"
	    "link set %s alias host-rack:%s\n"
	    "link set %s addrgenmode none\n"
	    "link set %s up\n"
	    "addr add %s/%d dev %s\n"
	    "addr add %s/%d dev %s\n"
	    "addr add %s/%d dev %s\n",
	    br, mac, br, r->name, br, br, gw, r->prefix, br, priv, r->prefix, br, egress, r->prefix,
	    br);
	if (lab_ip_sysctl(NULL, host_sysctls, batch, err, errlen) == -1) {
		lab_host_teardown(l, r);
		return -1;
	}
	snprintf(v6, sizeof(v6), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", br);
	rules = lab_host_rules(&l->st, r, true);
	rc = lab_run(NULL, br_sysctls, NULL, NULL, err, errlen);
	if (rc == 0)
		rc = lab_nft(NULL, rules, err, errlen);
	free(rules);
	if (rc == 0)
		rc = lab_rack_dns_start(l, r, err, errlen);
	if (rc == 0 && lab_rack_loopback(r))
		rc = gateway_localnet_again(&l->st, r, br, err, errlen);
	if (rc == -1)
		lab_host_teardown(l, r);
	return rc;
}
