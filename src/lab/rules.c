/*
 * rules.c — a rack's security groups as one nftables ruleset.
 *
 * The whole table is rebuilt from the state on every change (rack create,
 * peer, unpeer, whitelist) and loaded in one `nft -f` transaction: declare,
 * delete, define, so there is never a moment without rules. Every accept
 * names its input interface, because a rule on the source address alone let
 * a spoofed SYN through in the prototype; rp_filter=1 backs that up.
 *
 * Interfaces in a rack namespace: "pub" (veth to the internet bridge),
 * "vpc" (the VPC bridge), "peerN" (veth to rack N, one per peering).
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "lab/lab_int.h"

char *
lab_rules(const struct lab_state *st, const struct lab_rack *r)
{
	char cidr[32], net[16], pub[16], priv[16];
	struct buf b;

	lab_ip4(r->net, net, sizeof(net));
	snprintf(cidr, sizeof(cidr), "%s/%d", net, r->prefix);
	lab_ip4(lab_rack_public(r), pub, sizeof(pub));
	lab_ip4(lab_rack_private(r), priv, sizeof(priv));

	buf_init(&b, 0);
	buf_adds(&b, "table inet cx {}\ndelete table inet cx\ntable inet cx {\n");

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
	for (size_t i = 0; i < st->npeers; i++) {
		const struct lab_peering *p = &st->peers[i];
		const char *other = strcmp(p->a, r->name) == 0 ? p->b
		    : strcmp(p->b, r->name) == 0               ? p->a
							       : NULL;
		const struct lab_rack *o;
		char onet[16];

		if (other == NULL || (o = lab_find_rack((struct lab_state *)st, other)) == NULL)
			continue;
		lab_ip4(o->net, onet, sizeof(onet));
		buf_addf(&b, "\t\tiifname \"peer%d\" ip saddr %s/%d ip daddr %s tcp dport { %s } accept\n",
		    o->id, onet, o->prefix, priv, LAB_ROUTER_PORTS);
	}
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
	for (size_t i = 0; i < st->npeers; i++) {
		const struct lab_peering *p = &st->peers[i];
		const char *other = strcmp(p->a, r->name) == 0 ? p->b
		    : strcmp(p->b, r->name) == 0               ? p->a
							       : NULL;
		const struct lab_rack *o;
		char onet[16];

		if (other == NULL || (o = lab_find_rack((struct lab_state *)st, other)) == NULL)
			continue;
		lab_ip4(o->net, onet, sizeof(onet));
		buf_addf(&b, "\t\tiifname \"vpc\" oifname \"peer%d\" ip saddr %s ip daddr %s/%d accept\n",
		    o->id, cidr, onet, o->prefix);
	}
	buf_adds(&b, "\t}\n");

	/* The VPC reaches the internet (the lab DNS, other racks' public
	 * routers) from the rack's public address; peers see real addresses. */
	buf_adds(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	buf_addf(&b, "\t\toifname \"pub\" ip saddr %s masquerade\n", cidr);
	buf_adds(&b, "\t}\n}\n");
	return buf_cstr(&b);
}
