/*
 * routerimage.c — the image a Kubernetes rack's router Deployments run,
 * REGISTRY/cx-router:VERSION (k8s/render.c names it): built here, where the
 * rack's objects are applied from (kube.c), and pushed to the rack's
 * registry. The context is a directory of our own in $TMPDIR holding
 * images/router/Dockerfile (built into cx: the make rule turns it into
 * router_dockerfile.h) and the cx-router and cx-ingress beside this cx's
 * cx-rackd, so the image runs the very programs that are installed. podman
 * does the work, behind rackd/image.c, as for an app's build.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/version.h"
#include "rackd/image.h"
#include "router_dockerfile.h"

#define PROGRAM_MAX (512u << 20)

/* The runtimes of the sanitizers a `make SAN=1` cx and its router link. */
#if defined(__SANITIZE_ADDRESS__)
#define EXTRA_PACKAGES "EXTRA_PACKAGES=libasan8 libubsan1"
#else
#define EXTRA_PACKAGES "EXTRA_PACKAGES="
#endif

static const char *const programs[] = { "cx-router", "cx-ingress" };

/* Writes the build's context into dir: the Dockerfile and the programs from
 * bindir. -1 with err. */
static int
write_context(const char *dir, const char *bindir, char *err, size_t errlen)
{
	char from[PATH_MAX], to[PATH_MAX];

	snprintf(to, sizeof(to), "%s/Dockerfile", dir);
	if (write_file_atomic(to, router_dockerfile, strlen(router_dockerfile), 0644) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", to, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < CX_ARRAY_LEN(programs); i++) {
		size_t len = 0;
		char *data;
		int rc;

		snprintf(from, sizeof(from), "%s/%s", bindir, programs[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, programs[i]);
		if ((data = read_file(from, PROGRAM_MAX, &len)) == NULL) {
			snprintf(err, errlen, "cannot read %s, which the image holds: %s", from,
			    strerror(errno));
			return -1;
		}
		rc = write_file_atomic(to, data, len, 0755);
		free(data);
		if (rc == -1) {
			snprintf(err, errlen, "cannot write %s: %s", to, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void
remove_context(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/Dockerfile", dir);
	unlink(path);
	for (size_t i = 0; i < CX_ARRAY_LEN(programs); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, programs[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* Builds localhost/cx-router:TAG from this cx's programs and pushes it as
 * ref; says how long each took. -1 with err. */
static int
build_and_push(const char *ref, bool tls_verify, char *err, size_t errlen)
{
	char rackd[PATH_MAX], dir[PATH_MAX], dockerfile[PATH_MAX + 16], local[128];
	char *args[] = { EXTRA_PACKAGES, NULL };
	const char *tmp = getenv("TMPDIR");
	struct image_build_opts o = { .args = args, .log_fd = -1 };
	int64_t t0, built;
	int rc;

	if (cli_find_rackd(rackd, sizeof(rackd), err, errlen) == -1)
		return -1;
	snprintf(dir, sizeof(dir), "%s/cx-router-image.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		snprintf(err, errlen, "cannot make the build's directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	snprintf(local, sizeof(local), "localhost/cx-router:%s", CX_VERSION_TAG);
	snprintf(dockerfile, sizeof(dockerfile), "%s/Dockerfile", dir);
	o.context = dir;
	o.dockerfile = dockerfile;
	o.tag = local;
	printf("Building the router image %s... ", ref);
	fflush(stdout);
	t0 = now_ms();
	rc = write_context(dir, dirname(rackd), err, errlen);
	if (rc == 0)
		rc = image_build(&o, err, errlen);
	remove_context(dir);
	if (rc == -1) {
		printf("ERROR\n");
		return -1;
	}
	built = now_ms();
	printf("OK (%lld ms)\nPushing %s... ", (long long)(built - t0), ref);
	fflush(stdout);
	if (image_push(local, ref, tls_verify, -1, err, errlen) == -1) {
		printf("ERROR\n");
		return -1;
	}
	printf("OK (%lld ms)\n", (long long)(now_ms() - built));
	return 0;
}

int
kube_router_image(struct cli *c, const jv *params, bool always)
{
	const char *registry = jv_str(params, "registry");
	bool tls_verify = strcmp(jv_str(params, "registry_insecure"), "true") != 0;
	char repo[512], ref[600], err[2048];
	int has;

	if (registry[0] == '\0') {
		fprintf(stderr, "WARNING: rack %s has no registry, so its router image "
		    "cx-router:%s is not built: set one with cx rack params set "
		    "registry=HOST:PORT/PATH -r %s, then cx rack apply -r %s\n", c->rack,
		    CX_VERSION_TAG, c->rack, c->rack);
		return -1;
	}
	snprintf(repo, sizeof(repo), "%s/cx-router", registry);
	snprintf(ref, sizeof(ref), "%s:%s", repo, CX_VERSION_TAG);
	if (!image_builder_available(err, sizeof(err)) ||
	    (has = image_registry_has(repo, CX_VERSION_TAG, tls_verify, err, sizeof(err))) == -1 ||
	    ((always || has == 0) && build_and_push(ref, tls_verify, err, sizeof(err)) == -1)) {
		fflush(stdout);
		fprintf(stderr, "WARNING: router image %s: %s; the routers' pods start once it is "
		    "in the registry (cx rack apply -r %s tries again)\n", ref, err, c->rack);
		return -1;
	}
	if (!always && has == 1)
		printf("Router image %s: in the registry\n", ref);
	return fflush(stdout) == 0 ? 0 : -1;
}
