/*
 * addr.c — the lab's address plan and names, all derived from the state so
 * that every caller computes the same ones (docs/network.md has the table):
 *
 *   internet        198.18.0.0/16; its host 198.18.0.1, the DNS 198.18.0.53
 *   rack N public   198.18.(1 + (N-1)/254).(1 + (N-1)%254)
 *   VPC             CIDR .1 gateway, .2 internal router, processes from .10
 *   peering P       169.254.0.0 + 4P, a /30: .1 on rack a's side, .2 on b's
 *   namespaces      PREFIX-inet, PREFIX-rN, PREFIX-rN-PROCID
 *   host racks      bridge PREFIX-bN (.1 gateway and DNS, .2 internal
 *                   router, .3 egress), table inet PREFIX-hN, process
 *                   links PREFIXvADDR (hex) in the host namespace
 *   MACs            02:KIND:ADDR (4 bytes) for the links that hold an
 *                   address others cache: a rebuilt link keeps its MAC,
 *                   so neighbours' ARP entries stay right
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "lab/lab_int.h"

#define HOST_SUFFIX "/32"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

void
lab_ip4(uint32_t addr, char *out, size_t outlen)
{
	snprintf(out, outlen, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
	    addr & 0xff);
}

void
lab_mac(unsigned kind, uint32_t addr, char *out, size_t outlen)
{
	snprintf(out, outlen, "02:%02x:%02x:%02x:%02x:%02x", kind & 0xff, addr >> 24,
	    (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff);
}

void
lab_ns_internet(const struct lab_state *st, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-inet", st->prefix);
}

void
lab_ns_rack(const struct lab_state *st, const struct lab_rack *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-r%d", st->prefix, r->id);
}

void
lab_ns_proc(const struct lab_state *st, const struct lab_rack *r, const char *proc_id, char *out,
    size_t outlen)
{
	snprintf(out, outlen, "%s-r%d-%s", st->prefix, r->id, proc_id);
}

uint32_t
lab_rack_public(const struct lab_rack *r)
{
	return IP4(198, 18, 1 + (r->id - 1) / 254, 1 + (r->id - 1) % 254);
}

uint32_t
lab_rack_gateway(const struct lab_rack *r)
{
	return r->net + 1;
}

uint32_t
lab_rack_private(const struct lab_rack *r)
{
	return r->net + 2;
}

uint32_t
lab_peer_link(const struct lab_peering *p)
{
	return IP4(169, 254, 0, 0) + 4u * (uint32_t)p->id;
}

void
lab_rack_fill(const struct lab_state *st, const struct lab_rack *r, struct lab_rack_info *out)
{
	char net[INET_ADDRSTRLEN];

	memset(out, 0, sizeof(*out));
	str_copy(out->name, sizeof(out->name), r->name);
	lab_ip4(r->net, net, sizeof(net));
	snprintf(out->cidr, sizeof(out->cidr), "%s/%d", net, r->prefix);
	lab_ip4(lab_rack_public(r), out->public_addr, sizeof(out->public_addr));
	lab_ip4(lab_rack_private(r), out->private_addr, sizeof(out->private_addr));
	lab_ip4(lab_rack_gateway(r), out->gateway_addr, sizeof(out->gateway_addr));
	lab_ns_rack(st, r, out->netns, sizeof(out->netns));
	out->id = r->id;
	str_copy(out->whitelist, sizeof(out->whitelist), r->whitelist);
	if (r->host) {
		out->host = true;
		out->netns[0] = '\0';
		lab_ip4(r->pub, out->public_addr, sizeof(out->public_addr));
		out->loopback = lab_rack_loopback(r);
		if (r->priv != 0)
			lab_ip4(r->priv, out->host_private, sizeof(out->host_private));
		lab_ip4(lab_rack_egress(r), out->egress_addr, sizeof(out->egress_addr));
		lab_host_bridge(st, r, out->bridge, sizeof(out->bridge));
		lab_host_table(st, r, out->nft_table, sizeof(out->nft_table));
	}
}

bool
lab_rack_loopback(const struct lab_rack *r)
{
	return r->host && r->pub == 0x7f000001u;   /* 127.0.0.1 */
}

bool
lab_cidr_overlap(uint32_t n1, int p1, uint32_t n2, int p2)
{
	int p = p1 < p2 ? p1 : p2;
	uint32_t mask = p == 0 ? 0 : 0xffffffffu << (32 - p);

	return (n1 & mask) == (n2 & mask);
}

int
lab_cidr_check(const char *cidr, uint32_t *net, int *prefix, char *err, size_t errlen)
{
	static const struct {
		uint32_t net;
		int prefix;
	} private[] = {
		{ IP4(10, 0, 0, 0), 8 },
		{ IP4(172, 16, 0, 0), 12 },
		{ IP4(192, 168, 0, 0), 16 },
	};

	if (parse_cidr(cidr, net, prefix) == -1) {
		snprintf(err, errlen, "bad CIDR \"%s\": want a network like 10.1.0.0/16 (host bits zero)",
		    cidr);
		return -1;
	}
	if (*prefix < 8 || *prefix > 28) {
		snprintf(err, errlen, "CIDR %s: prefix must be /8 to /28", cidr);
		return -1;
	}
	for (size_t i = 0; i < CX_ARRAY_LEN(private); i++) {
		if (*prefix >= private[i].prefix &&
		    lab_cidr_overlap(*net, *prefix, private[i].net, private[i].prefix))
			return 0;
	}
	snprintf(err, errlen,
	    "CIDR %s is not a private range: use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
	    cidr);
	return -1;
}

int
lab_whitelist_check(const char *cidrs, char *out, size_t outlen, char *err, size_t errlen)
{
	struct buf b;
	const char *p = cidrs;
	int rc = 0;

	if (outlen < 2) {
		/* buf's maximum of 0 would mean "none". */
		snprintf(err, errlen, "no room for a whitelist");
		return -1;
	}
	buf_init(&b, outlen - 1);
	while (*p != '\0') {
		char one[32], norm[INET_ADDRSTRLEN];
		size_t len = strcspn(p, ",");
		size_t s = 0, e = len;
		uint32_t net;
		int prefix;

		while (s < e && isspace((unsigned char)p[s]))
			s++;
		while (e > s && isspace((unsigned char)p[e - 1]))
			e--;
		if (e > s) {
			size_t n = e - s;
			/* A bare address is a host: it gets "/32", which must fit too. */
			size_t suffix = memchr(p + s, '/', n) == NULL ? strlen(HOST_SUFFIX) : 0;

			if (n + suffix >= sizeof(one)) {
				snprintf(err, errlen, "bad CIDR \"%.*s\" in the whitelist",
				    n > 40 ? 40 : (int)n, p + s);
				rc = -1;
				break;
			}
			memcpy(one, p + s, n);
			memcpy(one + n, HOST_SUFFIX, suffix);
			one[n + suffix] = '\0';
			if (parse_cidr(one, &net, &prefix) == -1) {
				snprintf(err, errlen,
				    "bad CIDR \"%s\" in the whitelist: want networks like 10.9.0.0/16, comma-separated",
				    one);
				rc = -1;
				break;
			}
			lab_ip4(net, norm, sizeof(norm));
			if (buf_addf(&b, "%s%s/%d", b.len > 0 ? "," : "", norm, prefix) == -1) {
				snprintf(err, errlen, "whitelist too long (at most %zu bytes)", outlen - 1);
				rc = -1;
				break;
			}
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (rc == 0)
		str_copy(out, outlen, b.len > 0 ? buf_cstr(&b) : "");
	buf_free(&b);
	return rc;
}

bool
lab_proc_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > LAB_PROC_ID_MAX || id[0] == '.' || id[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}
