/*
 * commands.c — the grammar of `cx`: one static table of commands and one of
 * flags, from which the parser, `cx help` and `cx COMMAND --help` are all
 * made, so the help can never disagree with what is accepted.
 *
 * A command line is: command words, then arguments, with flags anywhere.
 * The longest run of leading words that names a command wins ("rack params
 * set" over "rack params"). Commands that pass a command line through (run,
 * net exec) stop parsing flags at the first word of that command line, or
 * after "--".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "cli/reach.h"
#include "common/version.h"

static const struct cli_opt opts[] = {
	{ OPT_APP, 'a', "app", "APP", "app name (default: the current directory's name)" },
	{ OPT_RACK, 'r', "rack", "NAME",
	  "rack to use (default: $RACK_URL, $CX_RACK, then the one `cx switch` chose, then the only one)" },
	{ OPT_JSON, 0, "json", NULL, "print one JSON document instead of a table" },
	{ OPT_VPC, 0, "vpc", "CIDR",
	  "give the rack its own private network (e.g. 10.1.0.0/16); needs root" },
	{ OPT_DESCRIPTION, 'd', "description", "TEXT", "description of the release" },
	{ OPT_COUNT, 'c', "count", "N", "number of processes to run (0 to 100)" },
	{ OPT_FOLLOW, 'f', "follow", NULL, "keep printing new lines until interrupted (the default)" },
	{ OPT_NO_FOLLOW, 0, "no-follow", NULL, "print what is there and exit" },
	{ OPT_SINCE, 0, "since", "DURATION",
	  "only lines newer than this (e.g. 30s, 10m, 2h, 1d; default 2m)" },
	{ OPT_FILTER, 0, "filter", "TEXT", "only lines that contain TEXT" },
	{ OPT_SERVICE, 's', "service", "SERVICE", "only this service's" },
	{ OPT_RELEASE, 0, "release", "ID", "only this release's processes" },
	{ OPT_LIMIT, 0, "limit", "N", "at most N rows, newest first" },
	{ OPT_PROMOTE, 'p', "promote", NULL, "promote the new release" },
	{ OPT_REPLACE, 0, "replace", NULL, "replace the whole environment with the variables given" },
	{ OPT_ID, 0, "id", NULL, "print only the release's id on stdout (progress goes to stderr)" },
	{ OPT_WAIT, 0, "wait", NULL, "wait until the release is active (what cx does anyway)" },
	{ OPT_NO_CACHE, 0, "no-cache", NULL,
	  "build without the image builder's cache: every Dockerfile step runs again" },
	{ OPT_FROM, 0, "from", "WHERE",
	  "where to try from: internet, a VPC rack's name or a rack peered over TLS (default: "
	  "internet); local for loopback racks" },
	{ OPT_MANIFEST, 'm', "manifest", "FILE", "the convox.yml to deploy (default: DIR/convox.yml)" },
	{ OPT_PASSWORD, 'p', "password", "PASSWORD", "the rack's API password" },
	{ OPT_CA, 0, "ca", "FILE", "the rack's CA certificate (PEM) to verify it against" },
	{ OPT_FINGERPRINT, 0, "fingerprint", "SHA256",
	  "the SHA-256 fingerprint of the rack's CA (cx rack ca fingerprint prints it)" },
	{ OPT_FILE, 'f', "file", "FILE", "the file to write (export) or read (import)" },
	{ OPT_KUBE_VERSION, 0, "kube-version", "1.N",
	  "the Kubernetes version to render for (default: the newest; 1.20 gets batch/v1beta1 CronJobs)" },
	{ OPT_CLOUD, 0, "cloud", "CLOUD",
	  "aws, gcp, azure, do or generic: which internal load balancer annotation (default generic)" },
	{ OPT_DRY_RUN, 0, "dry-run", NULL,
	  "Kubernetes racks: print (install) or have the API server check (apply) the objects, "
	  "storing none" },
	{ OPT_HELP, 'h', "help", NULL, "show this help" },
};

#define APP_CMD (O(APP) | O(RACK))

static const struct cli_cmd cmds[] = {
	/* racks */
	{ "racks", "", 0, 0, O(JSON), 0, cmd_racks, "list the racks installed here and logged in to",
	  "Lists the racks under $CX_HOME (default ~/.cx), installed here or logged in to\n"
	  "(cx login), with their provider, status (running or stopped; unreachable for a\n"
	  "remote rack that did not answer) and LOCATION: local, or https://HOST:PORT.\n"
	  "--json prints [{\"name\",\"provider\",\"status\",\"location\"}]." },
	{ "login", "HOST[:PORT]", 1, 1, O(PASSWORD) | O(CA) | O(FINGERPRINT), 0, cmd_login,
	  "register a rack on another machine",
	  "Registers the rack whose API answers over HTTPS at HOST:PORT (default port\n"
	  "5443; its param api_port) under the rack's own name, for -r NAME, cx switch\n"
	  "and every command. Its certificate must be issued by the CA in --ca FILE, or\n"
	  "by a CA whose SHA-256 fingerprint is --fingerprint (cx rack ca fingerprint on\n"
	  "the rack's host prints it); with neither, the CA the rack sends is trusted on\n"
	  "first use and its fingerprint printed: compare it. Later commands verify the\n"
	  "rack against that CA. Kept in $CX_HOME/remotes/NAME (url, password, ca.pem).\n"
	  "RACK_URL=https://convox:PASSWORD@HOST:PORT selects a remote rack for one\n"
	  "command instead, verified against the CA pinned when HOST:PORT was logged\n"
	  "in, else the CA file $RACK_CA, else the system's CAs." },
	{ "rack", "", 0, 0, O(RACK) | O(JSON), 0, cmd_rack, "show the selected rack",
	  "Shows Name, Provider, Router, RouterInternal (while param internal_router is\n"
	  "true), Status and Version of the rack." },
	{ "rack install", "local|kubernetes NAME [KEY=VALUE...]", 2, 34, O(VPC) | O(DRY_RUN), 0,
	  cmd_rack_install,
	  "install a rack",
	  "Installs a rack named NAME (lower-case letters, digits and dashes, starting\n"
	  "with a letter, at most 30 characters) and starts its daemon in the background.\n"
	  "Without --vpc the rack lives on 127.0.0.1 and needs no privilege; with\n"
	  "--vpc CIDR it gets its own network in the lab (see `cx net`), which needs root.\n"
	  "KEY=VALUE pairs are rack params set before the first start. With\n"
	  "public_address=IP (an address of this host; root) it is a host rack: the\n"
	  "public router listens on IP :80 and :443 (TLS), the internal router on\n"
	  "private_address=IP when given (else only the rack's processes reach it), and\n"
	  "each process gets its own network namespace on a bridge of the host, its\n"
	  "network --vpc CIDR (default: a free /16 in 10.128.0.0/9). public_address and\n"
	  "private_address are set at install only.\n"
	  "cx rack install kubernetes NAME kubeconfig=FILE [cloud=aws|gcp|azure|do|generic]\n"
	  "installs a Kubernetes rack: its daemon (state and API) runs here, as a local\n"
	  "rack's does; it keeps a copy of FILE and applies its own objects (see cx rack\n"
	  "render system) to the cluster FILE's current context reaches, by server-side\n"
	  "apply with field manager cx-NAME. --dry-run asks no server and prints them." },
	{ "rack uninstall", "NAME", 1, 1, 0, 0, cmd_rack_uninstall, "remove a rack",
	  "Stops every process and router of the rack, removes its peerings and its\n"
	  "network (VPC racks), then its state under $CX_HOME/racks/NAME." },
	{ "rack start", "NAME", 1, 1, 0, 0, cmd_rack_start, "run a rack's daemon in the foreground",
	  "Runs the rack's daemon in the foreground (logs on stderr) until interrupted.\n"
	  "Apps and routers keep running when the daemon stops; the next daemon adopts them." },
	{ "rack params", "", 0, 0, O(RACK) | O(JSON), 0, cmd_rack_params, "show the rack's parameters",
	  "Shows every parameter with its value, sorted by name." },
	{ "rack params set", "KEY=VALUE...", 1, -1, O(RACK), 0, cmd_rack_params_set,
	  "change rack parameters",
	  "Sets one or more parameters at once; nothing changes unless every one is valid.\n"
	  "Example: cx rack params set internal_router=true" },
	{ "rack logs", "", 0, 0, O(RACK) | O(FOLLOW) | O(NO_FOLLOW) | O(SINCE) | O(FILTER), 0,
	  cmd_rack_logs, "print the rack daemon's log",
	  "Prints the rack daemon's own log: processes started and stopped, promotions,\n"
	  "routers, params; from 2 minutes back (--since), then new lines until\n"
	  "interrupted, unless --no-follow." },
	{ "rack ps", "", 0, 0, O(RACK) | O(JSON), 0, cmd_rack_ps, "list the rack's own processes",
	  "Lists NAME PID STATUS LISTEN of the rack's own processes: its daemon, each\n"
	  "router it runs (public, internal, peer) and the DNS its processes ask." },
	{ "rack render", "", 0, 0, APP_CMD | O(MANIFEST) | O(KUBE_VERSION), 0, cmd_rack_render,
	  "print an app's Kubernetes objects (YAML)",
	  "Prints the Kubernetes objects a Kubernetes rack would apply for the app: a\n"
	  "Namespace RACK-APP; per service a Secret SERVICE-env, a Deployment (DaemonSet\n"
	  "for agent: true), a ClusterIP Service and an Ingress of class cx (cx-internal\n"
	  "for internalRouter: true; none for internal: true); per timer a CronJob; per\n"
	  "resource a Secret NAME-credentials, a Service and a StatefulSet with a volume.\n"
	  "Works offline (no Kubernetes server is asked) and for an app not created yet:\n"
	  "--manifest FILE (default: the active release's convox.yml). Only YAML goes to\n"
	  "stdout. Images are REGISTRY/RACK-APP:SERVICE.BUILD (rack param registry).\n"
	  "Example: cx rack render -a shop --manifest convox.yml | kubectl apply -f -" },
	{ "rack apply", "", 0, 0, O(RACK) | O(APP) | O(MANIFEST) | O(DRY_RUN), 0, cmd_rack_apply,
	  "apply the rack's own objects, or an app's, to its Kubernetes cluster",
	  "Applies what cx rack render system (no -a) or cx rack render -a APP prints to\n"
	  "the cluster of a Kubernetes rack (its param kubeconfig), rendered for the\n"
	  "server's version: server-side apply, field manager cx-RACK, one line per\n"
	  "object (KIND NAME applied RESOURCEVERSION). --dry-run has the server check\n"
	  "each object and store none. It stops at the first object the server refuses,\n"
	  "with the server's reason.\n"
	  "Example: cx rack apply -a shop --manifest convox.yml" },
	{ "rack render system", "", 0, 0, O(RACK) | O(CLOUD), 0, cmd_rack_render_system,
	  "print the rack's own Kubernetes objects (YAML)",
	  "Prints what a Kubernetes rack installs for itself, in Namespace RACK-system:\n"
	  "IngressClasses cx and cx-internal, the routers' ServiceAccount and\n"
	  "ClusterRole, Deployments router and router-internal (cx-router from the rack's\n"
	  "registry), and LoadBalancer Services router, router-internal and peer (the TLS\n"
	  "peering endpoint). --cloud picks the internal load balancer's annotation:\n"
	  "aws (aws-load-balancer-scheme: internal), gcp (load-balancer-type: Internal),\n"
	  "azure (azure-load-balancer-internal), do (do-loadbalancer-network: INTERNAL);\n"
	  "generic has none, so router-internal is as public as the cluster's LBs are.\n"
	  "Example: cx rack render system --cloud gcp | kubectl apply -f -" },
	{ "rack metrics", "", 0, 0, O(RACK), 0, cmd_rack_metrics,
	  "print the routers' metrics (Prometheus text)",
	  "Prints the counters of the rack's running routers in Prometheus text format:\n"
	  "requests by host and status, upstream connections and reuse, bytes." },
	{ "rack ca", "", 0, 0, O(RACK), 0, cmd_rack_ca, "print the rack's CA certificate (PEM)",
	  "Prints the certificate of the rack's own certificate authority, made when the\n"
	  "rack's daemon first started: what clients and other racks are given to trust\n"
	  "the rack. Its key stays in the rack's directory (ca.key, its owner's alone).\n"
	  "Example: cx rack ca > rack.pem; openssl x509 -in rack.pem -noout -subject" },
	{ "rack ca fingerprint", "", 0, 0, O(RACK), 0, cmd_rack_ca_fingerprint,
	  "print the SHA-256 fingerprint of the rack's CA",
	  "Prints SHA256:AB:CD:... of the rack's CA certificate: what cx login HOST\n"
	  "--fingerprint takes, and what it prints when it trusts a rack on first use." },
	{ "rack peer", "RACK1 RACK2", 2, 2, 0, 0, cmd_rack_peer, "peer two racks",
	  "Two lab VPC racks of this machine are linked as VPC peering does: routes both\n"
	  "ways, and each rack's internal router accepts the other's addresses (needs\n"
	  "root). Any other two racks the CLI reaches are peered over TLS: each rack's\n"
	  "API gives its CA and peer endpoint to the other, and each rack's processes\n"
	  "reach the other's internal services by name through TLS 1.3 with mutual\n"
	  "authentication." },
	{ "rack unpeer", "RACK1 RACK2", 2, 2, 0, 0, cmd_rack_unpeer, "undo a peering",
	  "Removes the peering of two racks: the link of two lab racks (needs root), or\n"
	  "the trust of two racks peered over TLS (their open connections close)." },
	{ "rack peers", "", 0, 0, O(RACK) | O(JSON), 0, cmd_rack_peers, "list a rack's peerings",
	  "Lists the racks peered with the selected rack (RACK PEER CIDR)." },
	{ "switch", "[NAME]", 0, 1, 0, 0, cmd_switch, "select the rack commands use by default",
	  "Makes NAME (installed here, or logged in to) the rack that commands use when\n"
	  "neither -r, $RACK_URL nor $CX_RACK says. Without NAME, prints the rack\n"
	  "commands use now." },
	{ "net", "", 0, 0, O(JSON), 0, cmd_net, "show the network lab",
	  "Shows the lab's VPC racks (RACK CIDR PUBLIC PRIVATE) and their PEERINGS." },
	{ "net exec", "WHERE [--] COMMAND...", 2, -1, 0, 1, cmd_net_exec,
	  "run a command from the internet or inside a rack's VPC",
	  "Runs COMMAND (e.g. curl) from WHERE: `internet` (the lab's public side) or the\n"
	  "name of a VPC rack (a temporary address in its private network). Exits with\n"
	  "COMMAND's status. Needs root." },

	/* certificates */
	{ "certs", "", 0, 0, O(RACK) | O(JSON), 0, cmd_certs, "list the rack's certificates",
	  "Lists ID DOMAIN EXPIRES of every certificate the rack holds: each public\n"
	  "domain's own (signed by the rack's CA, or obtained by ACME when the rack\n"
	  "param acme_directory is set), and those imported or generated. --json adds\n"
	  "\"domains\" (every name) and \"source\" (rack-ca, acme, imported, generated)." },
	{ "certs import", "CERT KEY", 2, 2, O(RACK), 0, cmd_certs_import,
	  "import a certificate and its key (PEM files)",
	  "Imports the PEM certificate CERT (optionally followed by its chain) and its\n"
	  "PEM private key KEY. Refused unless the key is the certificate's and the\n"
	  "certificate is valid now. Serve it with cx ssl update." },
	{ "certs generate", "DOMAIN...", 1, -1, O(RACK), 0, cmd_certs_generate,
	  "issue a certificate signed by the rack's CA",
	  "Issues a certificate for every DOMAIN given (subjectAltName; the first is\n"
	  "also its subject), signed by the rack's CA and valid for a year." },
	{ "certs delete", "ID", 1, 1, O(RACK), 0, cmd_certs_delete, "delete a certificate",
	  "Deletes an imported, generated or ACME certificate. Refused while an\n"
	  "endpoint is bound to it (cx ssl update another first)." },
	{ "ssl", "", 0, 0, APP_CMD | O(JSON), 0, cmd_ssl, "list an app's endpoints and certificates",
	  "Lists ENDPOINT (SERVICE:443) CERTIFICATE DOMAIN EXPIRES: the certificate the\n"
	  "public router serves for each public service of the app." },
	{ "ssl update", "SERVICE:PORT CERT_ID", 2, 2, APP_CMD, 0, cmd_ssl_update,
	  "serve an endpoint with a chosen certificate",
	  "Binds certificate CERT_ID (cx certs) to the service's endpoint: the public\n"
	  "router serves it for the service's domains it names, instead of their own.\n"
	  "Refused when it does not name the service's domain(s).\n"
	  "Example: cx ssl update web:443 cert-0123abcd -a shop" },

	/* apps */
	{ "apps", "", 0, 0, O(RACK) | O(JSON), 0, cmd_apps, "list apps",
	  "Lists the rack's apps (APP STATUS RELEASE). Status is running, updating,\n"
	  "failed or idle (no release yet)." },
	{ "apps create", "[APP]", 0, 1, APP_CMD, 0, cmd_apps_create, "create an app",
	  "Creates an app (default: the current directory's name)." },
	{ "apps delete", "APP", 1, 1, O(RACK), 0, cmd_apps_delete, "delete an app",
	  "Stops the app's processes, drops its routes and removes its files." },
	{ "apps info", "[APP]", 0, 1, APP_CMD | O(JSON), 0, cmd_apps_info, "show an app",
	  "Shows the app's Name, Status, Generation, Locked and Release, as Convox's.\n"
	  "--json adds \"promoting\" (the release being deployed, if any) and \"error\"." },
	{ "apps cancel", "[APP]", 0, 1, APP_CMD, 0, cmd_apps_cancel, "cancel a deployment under way",
	  "Stops the promotion in progress: its new processes stop, its release is marked\n"
	  "failed (cancelled), and the release that served before serves on." },
	{ "apps export", "[APP]", 0, 1, APP_CMD | O(FILE), 0, cmd_apps_export,
	  "write an app, its releases and builds to one archive",
	  "Writes FILE (-f, required; 0600): a gzipped tar of app.json (the app's\n"
	  "releases, each with its manifest, description and env, in plain text: the\n"
	  "archive holds the app's secrets; its builds' image names; its scale) and\n"
	  "builds/BID.tgz, the source each build ran from. Images are named, not\n"
	  "carried. cx apps import makes the same app on another rack." },
	{ "apps import", "[APP]", 0, 1, APP_CMD | O(FILE), 0, cmd_apps_import,
	  "make an app from what cx apps export wrote",
	  "Creates APP (it must not exist) from FILE (-f, required): its builds,\n"
	  "releases (same ids) and scale, then promotes the release that was active\n"
	  "where it came from (else the newest with a build), as a deploy does. The\n"
	  "archive goes through the checks a deploy's source does (no absolute paths,\n"
	  "no .., no links out, no devices, build_max_mb, at most 1024 entries), and a\n"
	  "build with an image needs that image on this host; anything refused leaves\n"
	  "nothing behind. Refused when a release or build id is taken on the rack." },

	{ "deploy", "[DIR]", 0, 1, APP_CMD | O(DESCRIPTION) | O(MANIFEST) | O(ID) | O(WAIT) |
	  O(NO_CACHE), 0, cmd_deploy, "build DIR and promote it",
	  "Packs DIR (default: the current directory) as the rack's build source, leaving\n"
	  "out what DIR/.dockerignore excludes, makes a build and a release from it and\n"
	  "promotes the release: new processes start and must pass their health check\n"
	  "before old ones stop. The rack builds each service's Dockerfile into an image\n"
	  "(podman, docs/builds.md), printing its output as it comes; a failing step\n"
	  "fails the deploy, and the serving release serves on. DIR must hold a\n"
	  "convox.yml. The description defaults, as Convox's, to \"build SHA SUBJECT\" of\n"
	  "DIR's git HEAD. cx always waits for\n"
	  "the promotion (--wait is accepted for Convox's scripts)." },
	{ "build", "[DIR]", 0, 1, APP_CMD | O(DESCRIPTION) | O(MANIFEST) | O(ID) | O(WAIT) |
	  O(NO_CACHE), 0, cmd_build, "build DIR into a release without promoting it",
	  "As deploy, but stops at the release: cx releases promote ID serves it." },
	{ "services", "", 0, 0, APP_CMD | O(JSON), 0, cmd_services, "list an app's services",
	  "Lists SERVICE DOMAIN PORTS, where PORTS is ROUTERPORT:PORT. When a service is\n"
	  "served by the internal router (internalRouter: true) a ROUTER column says\n"
	  "which router serves each one: public, internal, or none (rack-only or worker).\n"
	  "--json always has \"router\" and adds \"url\"." },
	{ "services reach", "SERVICE", 1, 1, APP_CMD | O(FROM), 0, cmd_services_reach,
	  "prove hop by hop whether a service can be reached",
	  "Tries SERVICE with real packets from WHERE (the lab's internet, or a temporary\n"
	  "address in a VPC rack's network) and prints each hop: name (the lab DNS gives\n"
	  "the router's address), route, allow (security groups and the router's allow\n"
	  "list) and http. The first hop that fails says why; the exit status is 0 only\n"
	  "when every hop passes. On loopback racks the hops run from this host.\n\n"
	  "--from A where A is peered with the rack over TLS (local or remote racks, any\n"
	  "but two lab VPC racks of this machine): A's daemon walks from A's side and\n"
	  "the hops are name (SERVICE's internal name must resolve, as A's processes\n"
	  "resolve it, to A's egress listener), egress (a connection to it), tls (a TLS\n"
	  "1.3 handshake from A to the rack's peer endpoint with A's peer certificate:\n"
	  "the rack's certificate CN, its issuer, the CA file A verified it against, and\n"
	  "whether the rack admitted A's certificate), router and process (a request\n"
	  "through A's egress, answered by one of SERVICE's processes). Only\n"
	  "internalRouter services are reached across a peering." },
	{ "services restart", "SERVICE", 1, 1, APP_CMD, 0, cmd_services_restart,
	  "restart every process of a service",
	  "Replaces each process of SERVICE with a new one, rolling, as a deploy does:\n"
	  "the new ones must pass their health check before the old ones stop (after a\n"
	  "short drain, with their termination grace). Prints Restarting SERVICE... OK\n"
	  "once the old ones are stopping; refused while a deploy is under way." },
	{ "ps", "", 0, 0, APP_CMD | O(JSON) | O(SERVICE) | O(RELEASE), 0, cmd_ps,
	  "list an app's processes",
	  "Lists ID SERVICE STATUS RELEASE STARTED COMMAND (only SERVICE's with -s, only\n"
	  "release ID's with --release). --json adds \"pid\", \"port\" and \"address\",\n"
	  "and gives STARTED in unix seconds." },
	{ "ps info", "ID", 1, 1, APP_CMD | O(JSON), 0, cmd_ps_info, "show one process",
	  "Shows the process ID (as cx ps lists it): its command, release, service,\n"
	  "when it started, status, pid, address and port." },
	{ "ps stop", "ID", 1, 1, APP_CMD, 0, cmd_ps_stop, "stop a process",
	  "Stops process ID with its service's termination grace; as for any process\n"
	  "that ends, the rack starts another so the service keeps its count." },
	{ "releases", "", 0, 0, APP_CMD | O(JSON) | O(LIMIT), 0, cmd_releases,
	  "list an app's releases",
	  "Lists ID STATUS BUILD CREATED DESCRIPTION, newest first (at most N with\n"
	  "--limit N)." },
	{ "builds", "", 0, 0, APP_CMD | O(JSON), 0, cmd_builds, "list an app's builds",
	  "Lists ID STATUS RELEASE CREATED, newest first: one row per deployed source." },
	{ "releases manifest", "ID", 1, 1, APP_CMD, 0, cmd_releases_manifest,
	  "print a release's convox.yml",
	  "Prints the convox.yml that release ID runs, as it was deployed." },
	{ "builds info", "ID", 1, 1, APP_CMD | O(JSON), 0, cmd_builds_info, "show a build",
	  "Shows build ID: its status, the release made from it, its description and\n"
	  "when it started. --json adds the manifest and the build's warnings." },
	{ "builds logs", "ID", 1, 1, APP_CMD, 0, cmd_builds_logs, "print what a build said",
	  "Prints what build ID said (the image builder's output and the build's\n"
	  "warnings), following it while the build runs, then its result." },
	{ "builds prune", "", 0, 0, APP_CMD | O(JSON), 0, cmd_builds_prune,
	  "remove builds older than the last releases",
	  "Removes the app's builds that none of its last build_retention releases\n"
	  "(default 10), its active one nor one being promoted uses: their sources,\n"
	  "images and the releases made from them. Prints each build removed. The rack\n"
	  "does the same after each promotion." },
	{ "releases info", "ID", 1, 1, APP_CMD | O(JSON), 0, cmd_releases_info, "show a release",
	  "Shows a release, and why its promotion failed if it did." },
	{ "releases promote", "[ID]", 0, 1, APP_CMD, 0, cmd_releases_promote,
	  "promote a release",
	  "Promotes release ID (default: the newest) and waits until it is active." },
	{ "releases rollback", "ID", 1, 1, APP_CMD, 0, cmd_releases_rollback,
	  "copy an old release forward and promote it",
	  "Makes a new release with ID's build and environment and promotes it." },
	{ "env", "", 0, 0, APP_CMD | O(JSON), 0, cmd_env, "list an app's environment",
	  "Prints the app's environment as KEY=VALUE lines, sorted." },
	{ "env get", "KEY", 1, 1, APP_CMD, 0, cmd_env_get, "print one variable",
	  "Prints the value of KEY." },
	{ "env set", "[KEY=VALUE...]", 0, -1, APP_CMD | O(PROMOTE) | O(REPLACE), 0, cmd_env_set,
	  "set variables",
	  "Sets variables in a new release, and promotes it with --promote (when the app\n"
	  "has a build). Without KEY=VALUE arguments, reads KEY=VALUE lines from stdin\n"
	  "(when it is not a terminal). --replace makes the variables given the whole\n"
	  "environment, removing the others." },
	{ "env edit", "", 0, 0, APP_CMD | O(PROMOTE), 0, cmd_env_edit,
	  "edit the environment in $EDITOR",
	  "Opens the app's environment as KEY=VALUE lines in $EDITOR (default vi);\n"
	  "what is saved becomes the whole environment, in a new release promoted with\n"
	  "--promote. Nothing changes when the file is saved unchanged." },
	{ "env unset", "KEY...", 1, -1, APP_CMD | O(PROMOTE), 0, cmd_env_unset,
	  "remove variables",
	  "Removes variables in a new release, and promotes it with --promote (when the\n"
	  "app has a build)." },
	{ "scale", "[SERVICE]", 0, 1, APP_CMD | O(COUNT) | O(JSON), 0, cmd_scale,
	  "show or change process counts",
	  "Without --count lists SERVICE DESIRED RUNNING CPU MEMORY, as Convox: CPU and\n"
	  "MEMORY are each process's scale.cpu (1000 = one core) and scale.memory (MB)\n"
	  "from convox.yml, Convox's 250 and 512 when unset. --json prints\n"
	  "[{\"service\",\"desired\",\"running\",\"cpu\",\"memory\"}]. With SERVICE --count N\n"
	  "runs N processes of SERVICE and waits until the app is running again." },
	{ "restart", "", 0, 0, APP_CMD, 0, cmd_restart, "restart every process of an app",
	  "Replaces every process with a new one, rolling: new ones must pass their\n"
	  "health check before old ones stop." },
	{ "logs", "", 0, 0, APP_CMD | O(FOLLOW) | O(NO_FOLLOW) | O(SINCE) | O(FILTER) | O(SERVICE),
	  0, cmd_logs, "print an app's logs",
	  "Prints the app's log from 2 minutes back (or --since), then keeps printing new\n"
	  "lines until interrupted or the app is deleted, unless --no-follow. -s keeps\n"
	  "one service's lines, --filter the lines that contain TEXT." },
	{ "run", "SERVICE [COMMAND...]", 1, -1, APP_CMD, 1, cmd_run,
	  "run a one-off command as a process of a service",
	  "Runs COMMAND (with /bin/sh -c) in SERVICE's directory with its environment, as\n"
	  "an unprivileged user, in the rack's network (a VPC address on VPC racks), and\n"
	  "exits with its status. Without COMMAND, runs the service's own command." },
	{ "exec", "PID COMMAND...", 2, -1, APP_CMD, 1, cmd_exec,
	  "run a command inside a running process",
	  "Runs COMMAND (with /bin/sh -c) inside process PID (its ID in cx ps): its root\n"
	  "filesystem, namespaces, user and environment, and exits with its status." },

	{ "resources", "", 0, 0, APP_CMD | O(JSON), 0, cmd_resources,
	  "list the databases and caches the rack runs for an app",
	  "Lists NAME TYPE URL STATUS of the app's resources: one server process each\n"
	  "(postgres, mysql/mariadb, redis, memcached) from the host's Debian packages,\n"
	  "made on the first deploy that declares it, its data kept under the rack until\n"
	  "the app is deleted. STATUS is starting, running, restarting (it crashed; the\n"
	  "rack starts it again with back-off), failed or stopped. The URL carries the\n"
	  "password: it is what the services listing the resource get as NAME_URL." },
	{ "resources info", "NAME", 1, 1, APP_CMD | O(JSON), 0, cmd_resources_info,
	  "show one resource",
	  "Shows resource NAME: type, status, URL, the server's version, host and port,\n"
	  "the services that get its URL (and as which variable), restarts, the last\n"
	  "error and where its data lies on the rack." },
	{ "resources url", "NAME", 1, 1, APP_CMD, 0, cmd_resources_url, "print a resource's URL",
	  "Prints the URL of resource NAME, password included." },
	{ "resources console", "NAME", 1, 1, APP_CMD, 0, cmd_resources_console,
	  "open the resource's client (psql, mariadb, redis-cli)",
	  "Runs the client of resource NAME attached to this terminal, as a cx run of a\n"
	  "service that lists the resource (the rack lets no one else reach it)." },
	{ "resources export", "NAME", 1, 1, APP_CMD | O(FILE), 0, cmd_resources_export,
	  "dump a resource's data to a file",
	  "Writes resource NAME's data to FILE: pg_dump's SQL (postgres), mysqldump's\n"
	  "(mysql, mariadb) or an RDB file (redis), made by a cx run of a service that\n"
	  "lists it. A memcached resource is a cache and has none." },
	{ "resources import", "NAME", 1, 1, APP_CMD | O(FILE), 0, cmd_resources_import,
	  "load a dump into a resource",
	  "Feeds FILE (what cx resources export wrote, from this rack or another) to\n"
	  "resource NAME's client (psql, mariadb). A redis resource's data is replaced\n"
	  "by the RDB file: the rack restarts its server from it." },

	{ "completion", "SHELL", 1, 1, 0, 0, cmd_completion,
	  "print a completion script for bash or zsh",
	  "Prints the completion script of SHELL (bash or zsh), made from the same table\n"
	  "as this help. make install puts both where Debian's packages put theirs.\n"
	  "Example: source <(cx completion bash)" },
	{ "man", "", 0, 0, 0, 0, cmd_man, "print the cx(1) manual page (roff)",
	  "Prints cx(1), made from the same table as this help.\n"
	  "Example: cx man | man -l -" },
	{ "help", "[COMMAND...]", 0, -1, 0, 0, cmd_help, "show help",
	  "Lists the commands, or shows the help of one." },
	{ "version", "", 0, 0, O(RACK), 0, cmd_version, "print the versions of cx and the rack",
	  "Prints the version of this client and, when a rack is selected, of the rack." },
};

const struct cli_cmd *
cli_cmd_table(size_t *n)
{
	*n = CX_ARRAY_LEN(cmds);
	return cmds;
}

const struct cli_opt *
cli_opt_table(size_t *n)
{
	*n = CX_ARRAY_LEN(opts);
	return opts;
}

static int
word_count(const char *words)
{
	int n = 1;

	for (; *words != '\0'; words++)
		n += *words == ' ';
	return n;
}

/* Does cmd's words equal pos[0..k-1]? Sets *k. */
static bool
cmd_matches(const struct cli_cmd *cmd, char **pos, int npos, int *k)
{
	const char *w = cmd->words;
	int i = 0;

	while (*w != '\0') {
		size_t len = strcspn(w, " ");

		if (i >= npos || strlen(pos[i]) != len || strncmp(pos[i], w, len) != 0)
			return false;
		i++;
		w += len;
		if (*w == ' ')
			w++;
	}
	*k = i;
	return true;
}

/* The command named by the longest run of leading words in pos[0..npos-1]. */
static const struct cli_cmd *
find_cmd(char **pos, int npos, int *nwords)
{
	const struct cli_cmd *best = NULL;
	int bestk = 0, k;

	for (size_t i = 0; i < CX_ARRAY_LEN(cmds); i++) {
		if (cmd_matches(&cmds[i], pos, npos, &k) && k > bestk) {
			best = &cmds[i];
			bestk = k;
		}
	}
	*nwords = bestk;
	return best;
}

/*
 * The command closest to `typed` among those with `depth` words that start
 * with `prefix` words ("" for top level); NULL if none is close enough.
 * Candidates are compared as whole word strings.
 */
static const char *
suggest_cmd(const char *typed, int depth, const char *prefix)
{
	static char best[64];
	size_t bestd = SIZE_MAX, limit = strlen(typed) / 3 + 2;

	best[0] = '\0';
	for (size_t i = 0; i < CX_ARRAY_LEN(cmds); i++) {
		const char *w = cmds[i].words;
		char cand[64];
		size_t d;
		int n = 0;

		if (prefix[0] != '\0' && (!str_has_prefix(w, prefix) || w[strlen(prefix)] != ' '))
			continue;
		/* the candidate's first `depth` words */
		for (size_t j = 0; w[j] != '\0' && j + 1 < sizeof(cand); j++) {
			if (w[j] == ' ' && ++n == depth)
				break;
			cand[j] = w[j];
			cand[j + 1] = '\0';
		}
		if (word_count(cand) != depth)
			continue;
		d = str_edit_distance(typed, cand);
		if (d < bestd) {
			bestd = d;
			str_copy(best, sizeof(best), cand);
		}
	}
	return bestd <= limit ? best : NULL;
}

static int
unknown_command(const char *typed, int depth, const char *prefix)
{
	const char *s = suggest_cmd(typed, depth, prefix);

	if (s != NULL)
		return out_error("unknown command \"%s\"; did you mean \"%s\"?", typed, s);
	return out_error("unknown command \"%s\" (cx help lists the commands)", typed);
}

static const struct cli_opt *
find_opt_long(const char *name, size_t len)
{
	for (size_t i = 0; i < CX_ARRAY_LEN(opts); i++)
		if (strlen(opts[i].long_name) == len && strncmp(opts[i].long_name, name, len) == 0)
			return &opts[i];
	return NULL;
}

/*
 * A short flag's letter may mean different flags for different commands (-p
 * is --promote for env set, --password for login, as in Convox): the command
 * named so far (cmd, NULL if none yet) decides. NULL if it cannot: *ambiguous
 * then says whether the letter is known at all.
 */
static const struct cli_opt *
find_opt_short(char c, const struct cli_cmd *cmd, bool *ambiguous)
{
	const struct cli_opt *only = NULL;
	int n = 0;

	*ambiguous = false;
	for (size_t i = 0; i < CX_ARRAY_LEN(opts); i++) {
		if (opts[i].short_name == 0 || opts[i].short_name != c)
			continue;
		if (cmd != NULL && (cmd->opts & (1u << opts[i].id)))
			return &opts[i];
		only = &opts[i];
		n++;
	}
	if (n > 1) {
		*ambiguous = true;
		return NULL;
	}
	return only;
}

static int
unknown_flag(const char *arg)
{
	const char *name = arg + strspn(arg, "-");
	size_t len = strcspn(name, "="), bestd = SIZE_MAX;
	const char *best = NULL;
	char typed[64];

	snprintf(typed, sizeof(typed), "%.*s", (int)(len < 60 ? len : 60), name);
	for (size_t i = 0; i < CX_ARRAY_LEN(opts); i++) {
		size_t d = str_edit_distance(typed, opts[i].long_name);

		if (d < bestd) {
			bestd = d;
			best = opts[i].long_name;
		}
	}
	if (best != NULL && len > 1 && bestd <= len / 3 + 1)
		return out_error("unknown flag \"%s\"; did you mean \"--%s\"?", arg, best);
	return out_error("unknown flag \"%s\" (cx help lists the flags of each command)", arg);
}

/* Parses the flag at argv[*i] (consuming its value); cmd is the command
 * named so far, if any. 0, or 1 after printing. */
static int
parse_flag(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *val = NULL;
	const struct cli_opt *o;

	if (arg[1] == '-') {
		const char *name = arg + 2, *eq = strchr(name, '=');

		o = find_opt_long(name, eq ? (size_t)(eq - name) : strlen(name));
		if (o == NULL)
			return unknown_flag(arg);
		if (eq != NULL) {
			if (o->value == NULL)
				return out_error("flag --%s takes no value", o->long_name);
			val = eq + 1;
		}
	} else {
		bool ambiguous;

		o = find_opt_short(arg[1], cmd, &ambiguous);
		if (o == NULL && ambiguous)
			return out_error("flag -%c means something else for each command: put it "
			    "after the command's name (cx env set -p ..., cx login HOST -p ...)", arg[1]);
		if (o == NULL)
			return unknown_flag(arg);
		if (arg[2] != '\0') {
			if (o->value == NULL)
				return out_error("unknown flag \"%s\" (flags cannot be grouped; "
				    "write -%c and -%c separately)", arg, arg[1], arg[2]);
			val = arg + 2;
		}
	}
	if (o->value != NULL && val == NULL) {
		if (*i + 1 >= argc)
			return out_error("flag --%s needs a value (%s)", o->long_name, o->value);
		val = argv[++*i];
	}
	c->opt[o->id] = o->value != NULL ? val : "";
	return 0;
}

static void
usage_line(const struct cli_cmd *cmd, char *out, size_t outlen)
{
	bool flags = (cmd->opts & ~O(HELP)) != 0;

	snprintf(out, outlen, "cx %s%s%s%s", cmd->words, cmd->args[0] ? " " : "", cmd->args,
	    flags ? " [flags]" : "");
}

static void
print_cmd_help(const struct cli_cmd *cmd)
{
	char line[256];
	size_t w = 0;

	usage_line(cmd, line, sizeof(line));
	printf("Usage: %s\n\n%s\n", line, cmd->help);
	if (cli_convox_differs(cmd->words) != NULL)
		printf("\nWhere cx differs from Convox, on purpose:\n%s\n",
		    cli_convox_differs(cmd->words));
	for (size_t i = 0; i < CX_ARRAY_LEN(opts); i++) {
		size_t n;

		if (!((cmd->opts | O(HELP)) & (1u << opts[i].id)))
			continue;
		n = 4 + strlen(opts[i].long_name) + 2 + (opts[i].value ? strlen(opts[i].value) + 1 : 0);
		if (n > w)
			w = n;
	}
	printf("\nFlags:\n");
	for (size_t i = 0; i < CX_ARRAY_LEN(opts); i++) {
		char f[64];

		if (!((cmd->opts | O(HELP)) & (1u << opts[i].id)))
			continue;
		snprintf(f, sizeof(f), "%c%c%s--%s%s%s", opts[i].short_name ? '-' : ' ',
		    opts[i].short_name ? opts[i].short_name : ' ', opts[i].short_name ? ", " : "  ",
		    opts[i].long_name, opts[i].value ? " " : "", opts[i].value ? opts[i].value : "");
		printf("  %-*s  %s\n", (int)w, f, opts[i].help);
	}
}

static void
print_help(void)
{
	size_t w = 0;

	for (size_t i = 0; i < CX_ARRAY_LEN(cmds); i++) {
		size_t n = strlen(cmds[i].words) + (cmds[i].args[0] ? 1 + strlen(cmds[i].args) : 0);

		if (n > w)
			w = n;
	}
	printf("cx runs apps on racks installed on this machine, with Convox's commands.\n\n"
	    "Usage: cx COMMAND [ARGUMENTS] [flags]\n\nCommands:\n");
	for (size_t i = 0; i < CX_ARRAY_LEN(cmds); i++) {
		char left[128];

		snprintf(left, sizeof(left), "%s%s%s", cmds[i].words, cmds[i].args[0] ? " " : "",
		    cmds[i].args);
		printf("  %-*s  %s\n", (int)w, left, cmds[i].summary);
	}
	printf("\nMost commands take -r/--rack NAME and -a/--app APP; listings take --json.\n"
	    "State lives in $CX_HOME (default ~/.cx).\n"
	    "Run \"cx COMMAND --help\" for a command's arguments and flags.\n");
}

int
cmd_help(struct cli *c)
{
	const struct cli_cmd *cmd;
	int k;

	if (c->argc == 0) {
		print_help();
		return 0;
	}
	cmd = find_cmd(c->argv, c->argc, &k);
	if (cmd == NULL || k < c->argc) {
		struct buf typed;
		int rc;

		buf_init(&typed, 256);
		for (int i = 0; i < c->argc; i++)
			buf_addf(&typed, "%s%s", i > 0 ? " " : "", c->argv[i]);
		rc = unknown_command(buf_cstr(&typed), c->argc, "");
		buf_free(&typed);
		return rc;
	}
	print_cmd_help(cmd);
	return 0;
}

int
cmd_version(struct cli *c)
{
	jv *sys = NULL;
	int r;

	(void)cx_features;      /* the rack's to announce; the client only prints */
	printf("client: %s\n", CX_VERSION);
	if (cli_home(c) == -1 || cli_select_rack_quiet(c) == -1) {
		fflush(stderr);
		printf("server: none\n");      /* as Convox's, without a rack */
		return 0;
	}
	r = api_probe(c, c->rack, 2000, &sys);
	printf("server: %s\n", r == 0 ? jv_str(sys, "version") : r == -2 ? "not running" :
	    "unknown");
	jv_free(sys);
	return 0;
}

static bool
has_subcommands(const struct cli_cmd *cmd)
{
	size_t n = strlen(cmd->words);

	for (size_t i = 0; i < CX_ARRAY_LEN(cmds); i++)
		if (strncmp(cmds[i].words, cmd->words, n) == 0 && cmds[i].words[n] == ' ')
			return true;
	return false;
}

/*
 * Takes the flags out of the command line, leaving the words and arguments
 * in pos. Flags stop at "--", and for a command that passes a command line
 * through (raw_after > 0) at the first word of that command line.
 */
static int
parse(struct cli *c, int argc, char **argv, char **pos, int *npos)
{
	bool flags_done = false;

	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct cli_cmd *cmd;
		int k;

		if (!flags_done && strcmp(a, "--") == 0) {
			flags_done = true;
			continue;
		}
		cmd = find_cmd(pos, *npos, &k);
		if (!flags_done && a[0] == '-' && a[1] != '\0') {
			if (parse_flag(c, cmd, argc, argv, &i) != 0)
				return -1;
			continue;
		}
		if (cmd != NULL && cmd->raw_after > 0 && *npos - k == cmd->raw_after)
			flags_done = true;
		pos[(*npos)++] = argv[i];
	}
	return 0;
}

int
cli_main(int argc, char **argv)
{
	static struct cli cli;
	struct cli *c = &cli;
	const struct cli_cmd *cmd;
	char **pos = xcalloc((size_t)argc + 1, sizeof(*pos));
	int npos, k, rc;

	if (parse(c, argc, argv, pos, &npos) == -1) {
		rc = 1;
		goto out;
	}
	if (npos == 0) {
		print_help();
		rc = 0;
		goto out;
	}
	cmd = find_cmd(pos, npos, &k);
	if (cmd == NULL) {
		rc = unknown_command(pos[0], 1, "");
		goto out;
	}
	if (npos > k && cmd->max_args == 0 && has_subcommands(cmd) && c->opt[OPT_HELP] == NULL) {
		char typed[256];

		snprintf(typed, sizeof(typed), "%s %s", cmd->words, pos[k]);
		rc = unknown_command(typed, k + 1, cmd->words);
		goto out;
	}
	if (c->opt[OPT_HELP] != NULL) {
		print_cmd_help(cmd);
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < CX_ARRAY_LEN(opts); i++) {
		if (c->opt[opts[i].id] != NULL && !(cmd->opts & (1u << opts[i].id))) {
			rc = out_error("flag --%s does not apply to \"cx %s\" (cx %s --help lists its "
			    "flags)", opts[i].long_name, cmd->words, cmd->words);
			goto out;
		}
	}
	c->cmd = cmd;
	c->argc = npos - k;
	c->argv = pos + k;
	c->json = c->opt[OPT_JSON] != NULL;
	if (c->argc < cmd->min_args || (cmd->max_args >= 0 && c->argc > cmd->max_args)) {
		char line[256];

		usage_line(cmd, line, sizeof(line));
		rc = out_error("%s; usage: %s", c->argc < cmd->min_args ? "missing arguments" :
		    "too many arguments", line);
		goto out;
	}
	rc = cmd->fn(c);
out:
	api_close(c);
	free(pos);
	return rc;
}
