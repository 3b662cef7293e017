/*
 * rules.c — a rack's security groups as one nftables ruleset.
 *
 * A rack's table is defined whole when its namespace is new, and again from
 * the state when something else changes (whitelist, repair) in one `nft -f`
 * transaction: declare, delete, define, so there is never a moment without
 * rules. Peering only adds or deletes an element of set "peers": deleting
 * anything in nf_tables waits for an RCU grace period (~10 ms here), adding
 * does not. Every accept names its input interface, because a rule on the
 * source address alone let a spoofed SYN through in the prototype;
 * rp_filter=1 backs that up.
 *
 * Interfaces in a rack namespace: "pub" (veth to the internet bridge),
 * "vpc" (the VPC bridge), "peerN" (veth to rack N, one per peering).
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "lab/lab_int.h"

/* The element of set "peers" that rack r holds for its peer o. */
static void
peer_element(struct buf *b, const struct lab_rack *o)
{
	char onet[16];

	lab_ip4(o->net, onet, sizeof(onet));
	buf_addf(b, "\"peer%d\" . %s/%d", o->id, onet, o->prefix);
}

char *
lab_rules(const struct lab_state *st, const struct lab_rack *r, bool fresh)
{
	char cidr[32], net[16], pub[16], priv[16];
	size_t npeers = 0;
	struct buf b;

	lab_ip4(r->net, net, sizeof(net));
	snprintf(cidr, sizeof(cidr), "%s/%d", net, r->prefix);
	lab_ip4(lab_rack_public(r), pub, sizeof(pub));
	lab_ip4(lab_rack_private(r), priv, sizeof(priv));

	buf_init(&b, 0);
	if (!fresh)
		buf_adds(&b, "table inet cx {}\ndelete table inet cx\n");
	buf_adds(&b, "table inet cx {\n");

	/* (peer link, peer CIDR): who may reach the internal router, and where
	 * the VPC may go without NAT. Peering adds and removes elements. */
	buf_adds(&b, "\tset peers {\n\t\ttype ifname . ipv4_addr\n\t\tflags interval\n");
	for (size_t i = 0; i < st->npeers; i++) {
		const struct lab_peering *p = &st->peers[i];
		const char *other = strcmp(p->a, r->name) == 0 ? p->b
		    : strcmp(p->b, r->name) == 0               ? p->a
							       : NULL;
		const struct lab_rack *o;

		if (other == NULL || (o = lab_find_rack((struct lab_state *)st, other)) == NULL)
			continue;
		buf_adds(&b, npeers++ == 0 ? "\t\telements = { " : ", ");
		peer_element(&b, o);
	}
	if (npeers > 0)
		buf_adds(&b, " }\n");
	buf_adds(&b, "\t}\n");

	buf_adds(&b, "\tset whitelist {\n\t\ttype ipv4_addr\n\t\tflags interval\n");
	if (r->whitelist[0] != '\0')
		buf_addf(&b, "\t\tauto-merge\n\t\telements = { %s }\n", r->whitelist);
	buf_adds(&b, "\t}\n");

	/* To the rack itself: its routers. */
	buf_adds(&b, "\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n"
		     "\t\tiif \"lo\" accept\n"
		     "\t\tct state established,related accept\n"
		     "\t\tct state invalid drop\n");
	buf_addf(&b, "\t\tiifname \"vpc\" ip saddr %s accept\n", cidr);
	buf_addf(&b, "\t\tiifname \"pub\" ip daddr %s tcp dport { %s } accept\n", pub, LAB_ROUTER_PORTS);
	buf_addf(&b, "\t\tiifname . ip saddr @peers ip daddr %s tcp dport { %s } accept\n", priv,
	    LAB_ROUTER_PORTS);
	buf_addf(&b, "\t\tiifname \"peer*\" ip saddr @whitelist ip daddr %s tcp dport { %s } accept\n",
	    priv, LAB_ROUTER_PORTS);
	buf_adds(&b, "\t}\n");

	/* Through the rack: VPC to VPC (bridge netfilter shows bridged frames
	 * here), VPC out to the internet and to peers, replies back; nothing
	 * new from outside reaches a process. */
	buf_adds(&b, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n"
		     "\t\tiifname \"vpc\" oifname \"vpc\" accept\n"
		     "\t\tct state established,related accept\n"
		     "\t\tct state invalid drop\n");
	buf_addf(&b, "\t\tiifname \"vpc\" oifname \"pub\" ip saddr %s accept\n", cidr);
	buf_addf(&b, "\t\tiifname \"vpc\" oifname . ip daddr @peers ip saddr %s accept\n", cidr);
	buf_adds(&b, "\t}\n");

	/* The VPC reaches the internet (the lab DNS, other racks' public
	 * routers) from the rack's public address; peers see real addresses. */
	buf_adds(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	buf_addf(&b, "\t\toifname \"pub\" ip saddr %s masquerade\n", cidr);
	buf_adds(&b, "\t}\n}\n");
	return buf_cstr(&b);
}

char *
lab_rules_peer(const struct lab_rack *o, bool add)
{
	struct buf b;

	buf_init(&b, 0);
	buf_addf(&b, "%s element inet cx peers { ", add ? "add" : "delete");
	peer_element(&b, o);
	buf_adds(&b, " }\n");
	return buf_cstr(&b);
}
