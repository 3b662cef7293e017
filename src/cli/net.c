/*
 * net.c — the network lab from the CLI: `cx rack peer|unpeer|peers`,
 * `cx net` and `cx net exec`. The lab library (src/lab) owns the lab's
 * state; after a peering changes, each running daemon is asked to
 * reconcile (POST /system/reconcile) so that its internal router's allow
 * list follows the lab. Racks that are not two lab racks of this machine
 * peer over TLS instead (tlspeer.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "lab/lab.h"

/* Both racks exist and are VPC racks; prints and -1 otherwise. */
static int
check_vpc_racks(struct cli *c, const char *a, const char *b)
{
	const char *names[2] = { a, b };
	struct lab_rack_info info;

	if (cli_home(c) == -1)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (cli_check_name("rack", names[i]) == -1)
			return -1;
		if (!cli_rack_exists(c, names[i]))
			return out_error("no such rack: %s (cx racks lists them)", names[i]), -1;
		if (lab_rack_get(c->home, names[i], &info) == -1)
			return out_error("rack %s has no VPC to peer (install it with --vpc CIDR)",
			    names[i]), -1;
	}
	if (strcmp(a, b) == 0)
		return out_error("cannot peer rack %s with itself", a), -1;
	return 0;
}

/* Tells a rack's daemon to follow the lab's new peer set; a stopped daemon
 * reads it when it starts. */
int
cli_reconcile_rack(struct cli *c, const char *name)
{
	int r = api_probe(c, name, 2000, NULL);

	if (r == -2)
		return 0;
	api_close(c);
	c->rack[0] = '\0';
	str_copy(c->rack, sizeof(c->rack), name);
	r = api_call(c, "POST", "/system/reconcile", NULL, NULL);
	api_close(c);
	return r;
}

static int
peer_change(struct cli *c, bool peer)
{
	const char *a = c->argv[0], *b = c->argv[1];
	struct lab_rack_info ia, ib;
	char err[1024];
	int r;

	if (cli_home(c) == -1 || cli_check_name("rack", a) == -1 || cli_check_name("rack", b) == -1)
		return 1;
	if (strcmp(a, b) == 0)
		return out_error("cannot peer rack %s with itself", a);
	/* Two lab racks of this machine peer by routing, as VPCs do. */
	if (lab_rack_get(c->home, a, &ia) == -1 || lab_rack_get(c->home, b, &ib) == -1)
		return cli_tls_peer_change(c, a, b, peer);
	if (check_vpc_racks(c, a, b) == -1)
		return 1;
	if (lab_check_privilege(err, sizeof(err)) == -1)
		return out_error("%s", err);
	out_step("%s %s and %s", peer ? "Peering" : "Unpeering", a, b);
	r = peer ? lab_peer(c->home, a, b, err, sizeof(err)) :
	    lab_unpeer(c->home, a, b, err, sizeof(err));
	if (r == -1)
		return out_error("%s", err);
	if (cli_reconcile_rack(c, a) == -1 || cli_reconcile_rack(c, b) == -1)
		return 1;
	out_ok();
	return 0;
}

int
cmd_rack_peer(struct cli *c)
{
	return peer_change(c, true);
}

int
cmd_rack_unpeer(struct cli *c)
{
	return peer_change(c, false);
}

int
cmd_rack_peers(struct cli *c)
{
	static const struct out_col cols[] = {
		{ "RACK", "rack", OUT_TEXT },
		{ "PEER", "peer", OUT_TEXT },
		{ "CIDR", "cidr", OUT_TEXT },
		{ "VIA", "via", OUT_TEXT },
	};
	char (*pairs)[2][32] = NULL;
	struct lab_rack_info self;
	jv *rows, *tls = NULL;
	size_t n = 0;

	if (cli_select_rack(c) == -1)
		return 1;
	if (lab_peers(c->home, c->rack, &pairs, &n) == -1)
		return out_error("cannot read the lab's state in %s/lab", c->home);
	rows = jv_array_new();
	for (size_t i = 0; i < n; i++) {
		const char *peer = strcmp(pairs[i][0], c->rack) == 0 ? pairs[i][1] : pairs[i][0];
		struct lab_rack_info info;
		jv *o = jv_object_new();

		jv_set_str(o, "rack", c->rack);
		jv_set_str(o, "peer", peer);
		jv_set_str(o, "cidr", lab_rack_get(c->home, peer, &info) == 0 ? info.cidr : "");
		jv_set_str(o, "via", "routing");
		jv_push_take(rows, o);
	}
	free(pairs);
	/* Peers over TLS are the daemon's to know; lab racks have none. */
	if (lab_rack_get(c->home, c->rack, &self) == -1) {
		if (api_call(c, "GET", "/system/peers", NULL, &tls) == -1) {
			jv_free(rows);
			return 1;
		}
		for (size_t i = 0; i < jv_len(tls); i++) {
			jv *p = jv_at(tls, i), *o = jv_object_new();
			char via[128];

			snprintf(via, sizeof(via), "tls %s", jv_str_or(p, "endpoint", ""));
			jv_set_str(o, "rack", c->rack);
			jv_set_str(o, "peer", jv_str_or(p, "name", ""));
			jv_set_str(o, "cidr", "");
			jv_set_str(o, "via", via);
			jv_push_take(rows, o);
		}
		jv_free(tls);
	}
	out_list(cols, CX_ARRAY_LEN(cols), rows, c->json, NULL);
	jv_free(rows);
	return 0;
}

int
cmd_net(struct cli *c)
{
	static const struct out_col cols[] = {
		{ "RACK", "rack", OUT_TEXT },
		{ "CIDR", "cidr", OUT_TEXT },
		{ "PUBLIC", "public", OUT_TEXT },
		{ "PRIVATE", "private", OUT_TEXT },
	};
	struct lab_rack_info *racks = NULL;
	char (*pairs)[2][32] = NULL;
	size_t nr = 0, np = 0;
	jv *rows, *peerings;

	if (cli_home(c) == -1)
		return 1;
	if (lab_racks(c->home, &racks, &nr) == -1 || lab_peers(c->home, NULL, &pairs, &np) == -1) {
		free(racks);
		return out_error("cannot read the lab's state in %s/lab", c->home);
	}
	rows = jv_array_new();
	peerings = jv_array_new();
	if (nr > 0) {
		jv *o = jv_object_new();

		/* The internet is where `cx net exec internet` runs. */
		jv_set_str(o, "rack", "internet");
		jv_set_str(o, "cidr", LAB_INTERNET_CIDR);
		jv_set_str(o, "public", LAB_INTERNET_ADDR);
		jv_set_str(o, "private", "");
		jv_push_take(rows, o);
	}
	for (size_t i = 0; i < nr; i++) {
		jv *o = jv_object_new();

		jv_set_str(o, "rack", racks[i].name);
		jv_set_str(o, "cidr", racks[i].cidr);
		jv_set_str(o, "public", racks[i].public_addr);
		jv_set_str(o, "private", racks[i].private_addr);
		jv_push_take(rows, o);
	}
	for (size_t i = 0; i < np; i++) {
		jv *pair = jv_array_new();

		jv_push_str(pair, pairs[i][0]);
		jv_push_str(pair, pairs[i][1]);
		jv_push_take(peerings, pair);
	}
	if (c->json) {
		jv *doc = jv_object_new();

		jv_set_take(doc, "racks", rows);
		jv_set_take(doc, "peerings", peerings);
		jv_print(doc, stdout);
		jv_free(doc);
	} else if (nr == 0) {
		printf("No VPC racks (cx rack install local NAME --vpc CIDR makes one).\n");
		jv_free(rows);
		jv_free(peerings);
	} else {
		const char *hdr[] = { "PEERINGS" };
		struct table *t;

		out_list(cols, CX_ARRAY_LEN(cols), rows, false, NULL);
		printf("\n");
		t = table_new(1, hdr);
		for (size_t i = 0; i < np; i++) {
			char line[80];
			const char *row[] = { line };

			snprintf(line, sizeof(line), "%s <-> %s", pairs[i][0], pairs[i][1]);
			table_add(t, row);
		}
		table_print(t, stdout);
		table_free(t);
		jv_free(rows);
		jv_free(peerings);
	}
	free(racks);
	free(pairs);
	return 0;
}

static _Noreturn void
exec_child(struct cli *c, const char *where, const char *proc_id, char **argv)
{
	char err[512];
	int r;

	cli_child_defaults();
	r = proc_id == NULL ? lab_enter_internet(c->home, err, sizeof(err)) :
	    lab_enter_proc(c->home, where, proc_id, err, sizeof(err));
	if (r == -1) {
		fprintf(stderr, "ERROR: %s\n", err);
		_exit(126);
	}
	execvp(argv[0], argv);
	fprintf(stderr, "ERROR: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int
cmd_net_exec(struct cli *c)
{
	const char *where = c->argv[0];
	char proc_id[LAB_PROC_ID_MAX] = "", addr[64], err[1024];
	struct lab_rack_info info;
	char **argv;
	bool internet = strcmp(where, "internet") == 0;
	pid_t pid;
	int rc;

	if (cli_home(c) == -1)
		return 1;
	if (!internet) {
		if (!valid_name(where) || !cli_rack_exists(c, where))
			return out_error("no such place: %s (use internet or a VPC rack's name; cx net "
			    "lists them)", where);
		if (lab_rack_get(c->home, where, &info) == -1)
			return out_error("rack %s has no VPC (it runs on loopback: run the command "
			    "directly)", where);
	}
	if (lab_check_privilege(err, sizeof(err)) == -1)
		return out_error("%s", err);
	argv = xcalloc((size_t)c->argc, sizeof(*argv));
	for (int i = 1; i < c->argc; i++)
		argv[i - 1] = c->argv[i];
	if (!internet) {
		snprintf(proc_id, sizeof(proc_id), "exec-%d", (int)getpid());
		if (lab_proc_create(c->home, where, proc_id, addr, sizeof(addr), err,
		    sizeof(err)) == -1) {
			free(argv);
			return out_error("%s", err);
		}
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1)
		rc = out_error("fork: %s", strerror(errno));
	else if (pid == 0)
		exec_child(c, where, internet ? NULL : proc_id, argv);
	else
		rc = cli_relay_status(pid);
	if (!internet)
		lab_proc_destroy(c->home, where, proc_id);
	free(argv);
	return rc;
}
