/*
 * tlspeer.c — peering over TLS from the CLI, for any two racks it reaches
 * (lab VPC racks of one machine peer by routing instead: net.c). Each
 * rack's API gives what the rack shows of itself (GET /system/peering: its
 * CA, peer endpoint and internal domain) and is given the other's (POST
 * /system/peers); only public material crosses. Also what `cx rack
 * uninstall` tells a rack's TLS peers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "cli/remote.h"

/* Points the CLI's API calls at rack `name`. */
static void
use_rack(struct cli *c, const char *name)
{
	api_close(c);
	str_copy(c->rack, sizeof(c->rack), name);
}

/* Whether this CLI reaches rack `name`: a local rack or a cx login one. */
static bool
known_rack(struct cli *c, const char *name)
{
	return cli_rack_exists(c, name) || remote_exists(c->home, name);
}

/* Where rack `name` runs, as far as this CLI can tell: "" for this machine
 * (a local rack, or a remote one reached on a loopback address), else the
 * host of its URL. */
static void
rack_machine(struct cli *c, const char *name, char *out, size_t outlen)
{
	struct remote r;
	char err[512], *colon;
	const char *host;

	out[0] = '\0';
	if (cli_rack_exists(c, name))
		return;
	if (remote_load(c->home, name, &r, err, sizeof(err)) == -1) {
		snprintf(out, outlen, "?%s", name);   /* unknown: elsewhere than any other */
		return;
	}
	host = strncmp(r.url, "https://", 8) == 0 ? r.url + 8 : r.url;
	str_copy(out, outlen, host);
	if ((colon = strrchr(out, ':')) != NULL)
		*colon = '\0';
	if (strncmp(out, "127.", 4) == 0 || strcmp(out, "localhost") == 0)
		out[0] = '\0';
}

static bool
loopback_endpoint(const jv *info)
{
	return strncmp(jv_str_or(info, "endpoint", ""), "127.", 4) == 0;
}

/* A rack without a public address gives 127.0.0.1 as its peer endpoint,
 * which only racks on its own machine reach: refused (said) for a rack on
 * another. */
static int
check_reachable(struct cli *c, const char *a, const jv *ia, const char *b, const jv *ib)
{
	char ma[300], mb[300];
	const char *x = NULL, *y = NULL;
	const jv *ix = NULL;

	rack_machine(c, a, ma, sizeof(ma));
	rack_machine(c, b, mb, sizeof(mb));
	if (strcmp(ma, mb) == 0)
		return 0;
	if (loopback_endpoint(ia)) {
		x = a, y = b, ix = ia;
	} else if (loopback_endpoint(ib)) {
		x = b, y = a, ix = ib;
	}
	if (x == NULL)
		return 0;
	out_error("rack %s's peer endpoint is %s (it has no public_address), which rack %s on "
	    "another machine cannot reach; racks on different machines peer when each has a "
	    "public address (cx rack install local NAME public_address=IP)", x,
	    jv_str_or(ix, "endpoint", ""), y);
	return -1;
}

/* A Kubernetes rack's pods do not reach a loopback endpoint (127.0.0.1 of
 * the machine where the other rack runs): peering works one way only,
 * into the Kubernetes rack. Said on stderr. */
static void
warn_one_way(const char *a, const jv *ia, const char *b, const jv *ib)
{
	for (int i = 0; i < 2; i++) {
		const char *k = i == 0 ? a : b, *o = i == 0 ? b : a;
		const jv *ik = i == 0 ? ia : ib, *io = i == 0 ? ib : ia;

		if (jv_bool(ik, "kubernetes") && loopback_endpoint(io))
			fprintf(stderr, "WARNING: rack %s's peer endpoint is %s (loopback), which Kubernetes "
			    "rack %s's pods cannot reach: %s reaches %s's internal services, not the other "
			    "way (give %s a public_address)\n", o, jv_str_or(io, "endpoint", ""), k, o, k,
			    o);
	}
}

/* What rack `name` shows a rack it peers with (GET /system/peering), or NULL
 * (said). */
static jv *
peering_of(struct cli *c, const char *name)
{
	jv *info = NULL;

	use_rack(c, name);
	if (api_call(c, "GET", "/system/peering", NULL, &info) == -1)
		return NULL;
	if (strcmp(jv_str_or(info, "name", ""), name) != 0) {
		out_error("rack %s calls itself \"%s\" in its peering; re-register it under its own "
		    "name", name, jv_str_or(info, "name", ""));
		jv_free(info);
		return NULL;
	}
	return info;
}

static int
forget_peer(struct cli *c, const char *on, const char *peer)
{
	char *path = api_path("/system/peers/%s", peer);
	int rc;

	use_rack(c, on);
	rc = api_call(c, "DELETE", path, NULL, NULL);
	free(path);
	return rc;
}

/* The row of peers (GET /system/peers) named name, or NULL. */
static jv *
peer_row(jv *peers, const char *name)
{
	for (size_t i = 0; i < jv_len(peers); i++)
		if (strcmp(jv_str_or(jv_at(peers, i), "name", ""), name) == 0)
			return jv_at(peers, i);
	return NULL;
}

/*
 * Gives a b's peering and b a's. If b refuses, a is put back as it was:
 * b's old row given again if a had one (a valid peering stays), else b
 * forgotten; the one error line says whether that worked.
 */
static int
tls_peer(struct cli *c, const char *a, const char *b)
{
	jv *ia = NULL, *ib = NULL, *before = NULL, *had;
	char why[1024], undo[1024];
	int rc = 1, undone;

	out_step("Peering %s and %s over TLS", a, b);
	if ((ia = peering_of(c, a)) == NULL || (ib = peering_of(c, b)) == NULL ||
	    check_reachable(c, a, ia, b, ib) == -1)
		goto out;
	use_rack(c, a);
	if (api_call(c, "GET", "/system/peers", NULL, &before) == -1 ||
	    api_call(c, "POST", "/system/peers", ib, NULL) == -1)
		goto out;
	had = peer_row(before, b);
	use_rack(c, b);
	out_capture(why, sizeof(why));
	if (api_call(c, "POST", "/system/peers", ia, NULL) == 0) {
		out_capture(NULL, 0);
		out_ok();
		warn_one_way(a, ia, b, ib);
		rc = 0;
		goto out;
	}
	out_capture(undo, sizeof(undo));
	if (had != NULL) {
		use_rack(c, a);
		undone = api_call(c, "POST", "/system/peers", had, NULL);
	} else {
		undone = forget_peer(c, a, b);
	}
	out_capture(NULL, 0);
	if (undone == 0)
		out_error("%s (rack %s was left as it was)", why, a);
	else if (had != NULL)
		out_error("%s; and rack %s could not be put back as it was (%s): it has what %s gives "
		    "now; run cx rack peer %s %s again once both answer", why, a, undo, b, a, b);
	else
		out_error("%s; and rack %s could not forget %s again (%s): it trusts %s alone; run "
		    "cx rack unpeer %s %s once it answers", why, a, b, undo, b, a, b);
out:
	api_close(c);
	jv_free(ia);
	jv_free(ib);
	jv_free(before);
	return rc;
}

/* Each of a and b forgets the other; a rack this CLI does not know (gone,
 * say) is passed over, so that the other forgets it still. */
static int
tls_unpeer(struct cli *c, const char *a, const char *b)
{
	bool ka = known_rack(c, a), kb = known_rack(c, b);
	int ra, rb;

	out_step("Unpeering %s and %s over TLS", a, b);
	if (!ka && !kb)
		return out_error("no such rack: %s nor %s (cx racks lists them)", a, b);
	ra = ka ? forget_peer(c, a, b) : 0;
	rb = kb ? forget_peer(c, b, a) : 0;
	api_close(c);
	if (ra == -1 || rb == -1)
		return 1;
	if (ka && kb)
		out_ok();
	else
		printf("OK (rack %s is not known here: only %s forgot it)\n", ka ? b : a, ka ? a : b);
	return 0;
}

int
cli_tls_peer_change(struct cli *c, const char *a, const char *b, bool peer)
{
	return peer ? tls_peer(c, a, b) : tls_unpeer(c, a, b);
}

int
cli_forget_tls_peers(struct cli *c, const char *name, char **untold)
{
	jv *peers = NULL;
	struct buf notes;

	*untold = NULL;
	use_rack(c, name);
	if (api_call(c, "GET", "/system/peers", NULL, &peers) == -1)
		return -1;
	buf_init(&notes, 0);
	for (size_t i = 0; i < jv_len(peers); i++) {
		const char *p = jv_str_or(jv_at(peers, i), "name", "");
		char why[1024] = "";

		if (!known_rack(c, p)) {
			str_copy(why, sizeof(why), "this CLI does not know it");
		} else if (api_probe(c, p, 2000, NULL) == -2) {
			str_copy(why, sizeof(why), "it is not running");
		} else {
			out_capture(why, sizeof(why));
			if (forget_peer(c, p, name) == 0)
				why[0] = '\0';
			out_capture(NULL, 0);
		}
		/* Nothing tells it later: it trusts name's CA until told. */
		if (why[0] != '\0')
			buf_addf(&notes, "rack %s was not told that %s goes (%s); to make it forget %s, "
			    "run: cx rack unpeer %s %s\n", p, name, why, name, p, name);
	}
	jv_free(peers);
	use_rack(c, name);
	*untold = notes.len > 0 ? buf_cstr(&notes) : NULL;
	if (*untold == NULL)
		buf_free(&notes);
	return 0;
}
