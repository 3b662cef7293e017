/*
 * image.c — see image.h. Every call runs podman with an argv (never a
 * shell), stdin from /dev/null, and reads what it says through pipes with a
 * bound: a build's output goes on to the caller's log as it comes, and only
 * the last step and the last line of output are kept for the error; an
 * inspect's JSON is captured up to 4 MiB.
 */
#include "rackd/image.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/jv.h"
#include "common/log.h"
#include "common/util.h"

#define PODMAN "podman"
#define INSPECT_MAX (4u << 20)

/* What one podman run said. */
struct run {
	int log_fd;              /* a copy of the output, or -1 */
	bool capture;            /* stdout into out (stderr is only scanned) */
	struct buf out;
	char step[512];          /* the last "STEP N/M: ..." line */
	char last[512];          /* the last other line of output */
	char error[512];         /* podman's own "Error: ..." line */
	char line[1024];         /* the line being read */
	size_t linelen;
};

/* Whether line is podman's talk rather than the build's own output. */
static bool
is_podman_line(const char *l)
{
	return str_has_prefix(l, "--> ") || str_has_prefix(l, "COMMIT ") ||
	    str_has_prefix(l, "Successfully tagged ") || str_has_prefix(l, "subprocess exited") ||
	    (l[0] == '[' && strstr(l, "] COMMIT") != NULL) ||
	    strspn(l, "0123456789abcdef") == strlen(l);
}

static void
scan_line(struct run *r, char *l)
{
	const char *step;

	if (l[0] == '\0')
		return;
	/* "STEP 2/5: RUN ..." or, in a multi-stage build, "[1/2] STEP 2/5: ..." */
	step = strstr(l, "STEP ");
	if (step != NULL && (step == l || (l[0] == '[' && step - l < 16)) &&
	    strchr(step, ':') != NULL) {
		str_copy(r->step, sizeof(r->step), step);
		r->last[0] = '\0';
		return;
	}
	if (str_has_prefix(l, "Error: ")) {
		str_copy(r->error, sizeof(r->error), l + 7);
		return;
	}
	if (!is_podman_line(l))
		str_copy(r->last, sizeof(r->last), l);
}

static void
scan(struct run *r, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' || r->linelen + 1 >= sizeof(r->line)) {
			r->line[r->linelen] = '\0';
			utf8_sanitize(r->line);
			scan_line(r, r->line);
			r->linelen = 0;
			if (p[i] == '\n')
				continue;
		}
		if (p[i] != '\r')
			r->line[r->linelen++] = p[i];
	}
}

static void
log_copy(int fd, const char *p, size_t n)
{
	while (fd >= 0 && n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Runs podman argv; fills r. Returns its exit status (0-255), or -1 with err
 * when it could not run or was killed. */
static int
run_podman(char *const argv[], struct run *r, char *err, size_t errlen)
{
	int outp[2], errp[2], status, open_fds = 2;
	pid_t pid;

	if (pipe2(outp, O_CLOEXEC) == -1)
		goto fail;
	if (pipe2(errp, O_CLOEXEC) == -1) {
		close(outp[0]);
		close(outp[1]);
		goto fail;
	}
	if ((pid = fork()) == -1) {
		close(outp[0]);
		close(outp[1]);
		close(errp[0]);
		close(errp[1]);
		goto fail;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		signal(SIGPIPE, SIG_DFL);
		if (null == -1 || dup2(null, 0) == -1 || dup2(outp[1], 1) == -1 ||
		    dup2(r->capture ? errp[1] : outp[1], 2) == -1)
			_exit(127);
		close_range(3, ~0U, 0);    /* nothing of the caller's: its pipes, its log */
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(outp[1]);
	close(errp[1]);
	while (open_fds > 0) {
		struct pollfd pf[2] = { { outp[0], POLLIN, 0 }, { errp[0], POLLIN, 0 } };
		char chunk[8192];

		if (poll(pf, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pf[i].fd, chunk, sizeof(chunk));
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(i == 0 ? outp[0] : errp[0]);
				if (i == 0)
					outp[0] = -1;
				else
					errp[0] = -1;
				open_fds--;
				continue;
			}
			if (i == 0 && r->capture) {
				buf_add(&r->out, chunk, (size_t)n);    /* bounded: the rest is dropped */
				continue;
			}
			log_copy(r->log_fd, chunk, (size_t)n);
			scan(r, chunk, (size_t)n);
		}
	}
	if (outp[0] >= 0)
		close(outp[0]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (r->linelen > 0)
		scan(r, "\n", 1);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			snprintf(err, errlen, "cannot wait for %s: %s", argv[0], strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && strstr(r->last, "cannot run") != NULL) {
		snprintf(err, errlen, "%s", r->last);
		return -1;
	}
	if (!WIFEXITED(status)) {
		snprintf(err, errlen, "%s %s was killed by signal %d", argv[0], argv[1],
		    WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
fail:
	snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(errno));
	return -1;
}

static void
run_init(struct run *r, int log_fd, bool capture)
{
	memset(r, 0, sizeof(*r));
	r->log_fd = log_fd;
	r->capture = capture;
	buf_init(&r->out, INSPECT_MAX);
}

/* The one line naming why podman failed: its Error line, else its last. */
static const char *
run_why(const struct run *r)
{
	return r->error[0] ? r->error : r->last[0] ? r->last : "no output";
}

bool
image_builder_available(char *why, size_t whylen)
{
	const char *path = getenv("PATH");
	char dir[4096];

	if (geteuid() != 0) {
		snprintf(why, whylen, "no image builder: the rack does not run as root, and its "
		    "builder (podman) needs root's image storage");
		return false;
	}
	for (const char *p = path ? path : "/usr/bin:/bin"; *p != '\0';) {
		size_t n = strcspn(p, ":");

		snprintf(dir, sizeof(dir), "%.*s/" PODMAN, (int)n, p);
		if (n > 0 && access(dir, X_OK) == 0)
			return true;
		p += n;
		if (*p == ':')
			p++;
	}
	snprintf(why, whylen, "no image builder: install podman (make deps)");
	return false;
}

int
image_build(const struct image_build_opts *o, char *err, size_t errlen)
{
	char *argv[64 + 2 * 256];
	char volume[4200];
	struct run r;
	size_t n = 0;
	int rc;

	argv[n++] = PODMAN;
	argv[n++] = "build";
	argv[n++] = "--isolation=chroot";
	argv[n++] = "--layers";
	argv[n++] = "--pull=missing";
	argv[n++] = "-f";
	argv[n++] = (char *)o->dockerfile;
	argv[n++] = "-t";
	argv[n++] = (char *)o->tag;
	if (o->no_cache)
		argv[n++] = "--no-cache";
	if (o->ca_dir != NULL) {
		snprintf(volume, sizeof(volume), "%s:%s:ro", o->ca_dir, o->ca_dir);
		argv[n++] = "--volume";
		argv[n++] = volume;
	}
	for (size_t i = 0; o->args != NULL && o->args[i] != NULL; i++) {
		if (i >= 256) {
			snprintf(err, errlen, "more than 256 build args");
			return -1;
		}
		argv[n++] = "--build-arg";
		argv[n++] = o->args[i];
	}
	argv[n++] = (char *)o->context;
	argv[n] = NULL;
	run_init(&r, o->log_fd, false);
	rc = run_podman(argv, &r, err, errlen);
	buf_free(&r.out);
	if (rc == 0)
		return 0;
	if (rc > 0 && r.step[0] != '\0') {
		/* "STEP 8/9: RUN make" -> "STEP 8/9 (RUN make) failed with exit status 3: LAST" */
		const char *colon = strchr(r.step, ':'), *st = strstr(r.error, "exit status");

		snprintf(err, errlen, "%.*s (%s) failed%s%s: %s", (int)(colon - r.step), r.step,
		    colon[1] == ' ' ? colon + 2 : colon + 1, st ? " with " : "", st ? st : "",
		    r.last[0] ? r.last : run_why(&r));
	} else if (rc > 0) {
		snprintf(err, errlen, "the build failed: %s", run_why(&r));
	}
	return -1;
}

/* podman VERB args... with output to log_fd (-1: kept for the error only). */
static int
podman_simple(char *const argv[], int log_fd, char *err, size_t errlen)
{
	struct run r;
	int rc;

	run_init(&r, log_fd, false);
	rc = run_podman(argv, &r, err, errlen);
	buf_free(&r.out);
	if (rc > 0)
		snprintf(err, errlen, "podman %s %s: %s", argv[1], argv[2], run_why(&r));
	return rc == 0 ? 0 : -1;
}

int
image_exists(const char *ref, char *err, size_t errlen)
{
	char *exists[] = { PODMAN, "image", "exists", (char *)ref, NULL };
	struct run r;
	int rc;

	run_init(&r, -1, false);
	rc = run_podman(exists, &r, err, errlen);
	if (rc > 1)
		snprintf(err, errlen, "podman image exists %s: %s", ref, run_why(&r));
	buf_free(&r.out);
	return rc == 0 ? 1 : rc == 1 ? 0 : -1;
}

int
image_pull(const char *ref, int log_fd, char *err, size_t errlen)
{
	char *pull[] = { PODMAN, "pull", (char *)ref, NULL };
	/* When podman cannot even say, its pull says why. */
	if (image_exists(ref, err, errlen) == 1)
		return 0;
	return podman_simple(pull, log_fd, err, errlen);
}

int
image_push(const char *ref, const char *dest, bool tls_verify, int log_fd, char *err,
    size_t errlen)
{
	char *to = xasprintf("docker://%s", dest);
	/* The flags after the names, so that an error names the image. */
	char *argv[] = { PODMAN, "push", (char *)ref, to,
	    tls_verify ? "--tls-verify=true" : "--tls-verify=false", NULL };
	int rc = podman_simple(argv, log_fd, err, errlen);

	free(to);
	return rc;
}

int
image_registry_has(const char *repo, const char *tag, bool tls_verify, char *err,
    size_t errlen)
{
	char *argv[] = { PODMAN, "search", "--list-tags", "--limit", "100000",
	    tls_verify ? "--tls-verify=true" : "--tls-verify=false", (char *)repo, NULL };
	const char *why;
	struct run r;
	int rc, has = 0;

	run_init(&r, -1, true);
	rc = run_podman(argv, &r, err, errlen);
	/* "Error: 1 error occurred:" then "* getting repository tags: ...": the reason
	 * is the last line. */
	why = r.last[0] ? r.last : run_why(&r);
	why += strspn(why, "\t* ");
	if (rc > 0 && strstr(why, "404 (Not Found)") != NULL) {
		rc = 0;    /* no such repository: no tag either */
	} else if (rc > 0) {
		snprintf(err, errlen, "cannot list the tags of %s: %s", repo, why);
	} else if (rc == 0) {
		/* A table: "NAME TAG" then one "REPO TAG" line a tag. */
		char *save = NULL, *line = strtok_r(buf_cstr(&r.out), "\n", &save);

		while (line != NULL && (line = strtok_r(NULL, "\n", &save)) != NULL) {
			char *sp = strrchr(line, ' ');

			if (sp != NULL && strcmp(sp + 1, tag) == 0)
				has = 1;
		}
	}
	buf_free(&r.out);
	return rc == 0 ? has : -1;
}

void
image_build_ref(const char *rack, const char *app, const char *service, const char *build,
    char *out, size_t outlen)
{
	/* '/' apart: names hold '-', so app a's service b-web and app a-b's
	 * service web must not meet in one name. */
	snprintf(out, outlen, "localhost/cx-%s/%s/%s:%s", rack, app, service, build);
	for (char *p = out; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
}

int
image_tag(const char *from, const char *to, char *err, size_t errlen)
{
	char *argv[] = { PODMAN, "tag", (char *)from, (char *)to, NULL };

	return podman_simple(argv, -1, err, errlen);
}

/* A JSON array of strings as a NULL-terminated malloc'd array; NULL when
 * not an array. */
static char **
str_array(const jv *a)
{
	char **out;
	size_t n = jv_len(a);

	if (!jv_is_array(a))
		return NULL;
	out = xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(jv_string_value(jv_at(a, i)));
	return out;
}

static void
str_array_free(char **a)
{
	for (size_t i = 0; a != NULL && a[i] != NULL; i++)
		free(a[i]);
	free(a);
}

static jv *
str_array_json(char *const *a)
{
	jv *arr;

	if (a == NULL)
		return NULL;
	arr = jv_array_new();
	for (size_t i = 0; a[i] != NULL; i++)
		jv_push_str(arr, a[i]);
	return arr;
}

/* The first TCP port of an ExposedPorts object ({"8080/tcp": {}}). */
static int
first_tcp_port(const jv *ports)
{
	const char **keys;
	size_t n;
	int port = 0;

	keys = jv_keys(ports, &n);
	for (size_t i = 0; keys != NULL && i < n && port == 0; i++) {
		const char *slash = strchr(keys[i], '/');
		long v;

		if (slash != NULL && strcmp(slash, "/tcp") != 0)
			continue;
		if (parse_long_n(keys[i], slash ? (size_t)(slash - keys[i]) : strlen(keys[i]), 1,
		    65535, &v) == 0)
			port = (int)v;
	}
	free(keys);
	return port;
}

/* Reads an OCI-style config object (Env, Entrypoint, Cmd, WorkingDir, User,
 * ExposedPorts) into c, id aside. */
static void
config_read(const jv *cfg, struct image_config *c)
{
	const char *s;

	c->env = str_array(jv_get(cfg, "Env"));
	c->entrypoint = str_array(jv_get(cfg, "Entrypoint"));
	c->cmd = str_array(jv_get(cfg, "Cmd"));
	s = jv_str_or(cfg, "WorkingDir", "");
	c->workdir = s[0] ? xstrdup(s) : NULL;
	s = jv_str_or(cfg, "User", "");
	c->user = s[0] ? xstrdup(s) : NULL;
	c->expose = first_tcp_port(jv_get(cfg, "ExposedPorts"));
	if (c->expose == 0)
		c->expose = (int)jv_int(cfg, "Expose");    /* our own JSON */
}

int
image_parse_inspect(const char *text, size_t len, struct image_config *c, char ***layers,
    char *err, size_t errlen)
{
	char perr[256];
	const char *id, *upper, *lower;
	jv *top, *img, *data;

	top = jv_parse(text, len, perr, sizeof(perr));
	if (top == NULL) {
		snprintf(err, errlen, "podman image inspect said what is not JSON: %s", perr);
		return -1;
	}
	img = jv_is_array(top) ? jv_at(top, 0) : top;
	id = jv_str_or(img, "Id", "");
	if (!jv_is_object(img) || id[0] == '\0') {
		snprintf(err, errlen, "podman image inspect said no image (no Id)");
		jv_free(top);
		return -1;
	}
	if (c != NULL) {
		memset(c, 0, sizeof(*c));
		snprintf(c->id, sizeof(c->id), "%s%s", str_has_prefix(id, "sha256:") ? "" : "sha256:",
		    id);
		config_read(jv_get(img, "Config"), c);
	}
	if (layers != NULL) {
		struct buf all;
		size_t n = 0;
		char **out;

		data = jv_get(jv_get(img, "GraphDriver"), "Data");
		upper = jv_str_or(data, "UpperDir", "");
		lower = jv_str_or(data, "LowerDir", "");
		if (upper[0] == '\0') {
			snprintf(err, errlen, "image %s has no layer directory (GraphDriver.Data.UpperDir):"
			    " the rack needs podman's overlay storage", id);
			jv_free(top);
			if (c != NULL)
				image_config_free(c);
			return -1;
		}
		buf_init(&all, 0);
		buf_addf(&all, "%s%s%s", upper, lower[0] ? ":" : "", lower);
		out = xcalloc(strlen(buf_cstr(&all)) / 2 + 2, sizeof(*out));
		for (char *save = NULL, *t = strtok_r(all.data, ":", &save); t != NULL;
		    t = strtok_r(NULL, ":", &save))
			out[n++] = xstrdup(t);
		buf_free(&all);
		*layers = out;
	}
	jv_free(top);
	return 0;
}

/* `podman image inspect ref` parsed into c and/or layers. */
static int
inspect(const char *ref, struct image_config *c, char ***layers, char *err, size_t errlen)
{
	char *argv[] = { PODMAN, "image", "inspect", (char *)ref, NULL };
	struct run r;
	int rc;

	run_init(&r, -1, true);
	rc = run_podman(argv, &r, err, errlen);
	if (rc > 0)
		snprintf(err, errlen, "no image %s: %s", ref, run_why(&r));
	else if (rc == 0)
		rc = image_parse_inspect(buf_cstr(&r.out), r.out.len, c, layers, err, errlen);
	buf_free(&r.out);
	return rc == 0 ? 0 : -1;
}

int
image_inspect(const char *ref, struct image_config *c, char *err, size_t errlen)
{
	return inspect(ref, c, NULL, err, errlen);
}

int
image_layers(const char *ref, char ***dirs, char *err, size_t errlen)
{
	return inspect(ref, NULL, dirs, err, errlen);
}

void
image_config_free(struct image_config *c)
{
	str_array_free(c->env);
	str_array_free(c->entrypoint);
	str_array_free(c->cmd);
	free(c->workdir);
	free(c->user);
	c->env = c->entrypoint = c->cmd = NULL;
	c->workdir = c->user = NULL;
}

void
image_remove(char *const *refs)
{
	char err[1024];

	for (size_t i = 0; refs != NULL && refs[i] != NULL; i++) {
		char *argv[] = { PODMAN, "rmi", refs[i], NULL };

		if (podman_simple(argv, -1, err, sizeof(err)) == -1)
			log_warnx("cannot remove image %s: %s", refs[i], err);
	}
}

void
image_refs_of(const char *images_text, char ***refs, size_t *nrefs)
{
	char perr[128];
	jv *j = jv_parse(images_text, strlen(images_text), perr, sizeof(perr));
	size_t nk;
	const char **keys = jv_keys(j, &nk);

	for (size_t k = 0; keys != NULL && k < nk; k++) {
		const char *ref = jv_str_or(jv_get(j, keys[k]), "ref", "");

		if (ref[0] == '\0')
			continue;
		*refs = xrealloc(*refs, (*nrefs + 2) * sizeof(**refs));
		(*refs)[(*nrefs)++] = xstrdup(ref);
		(*refs)[*nrefs] = NULL;
	}
	free(keys);
	jv_free(j);
}

void
image_remove_later(char *const *refs, const pid_t *pids, size_t npids)
{
	pid_t pid;

	if (refs == NULL || refs[0] == NULL)
		return;
	/* Twice forked, so nobody waits on it: it waits (two minutes at most)
	 * until the processes, which may still run from these images' layers,
	 * are gone, then removes the names. */
	if ((pid = fork()) == 0) {
		if (fork() == 0) {
			setsid();
			close_range(3, ~0U, 0);
			for (int t = 0; t < 1200; t++) {
				size_t alive = 0;

				for (size_t i = 0; i < npids; i++)
					alive += pid_alive(pids[i]);
				if (alive == 0)
					break;
				usleep(100000);
			}
			image_remove(refs);
			_exit(0);
		}
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

void
image_remove_tagged(const char *prefix)
{
	char *argv[] = { PODMAN, "images", "--format", "{{.Repository}}:{{.Tag}}", NULL };
	char err[1024], **refs;
	size_t n = 0, cap = 16;
	struct run r;

	run_init(&r, -1, true);
	if (run_podman(argv, &r, err, sizeof(err)) != 0) {
		log_warnx("cannot list images to remove %s*: %s", prefix,
		    err[0] ? err : run_why(&r));
		buf_free(&r.out);
		return;
	}
	refs = xcalloc(cap, sizeof(*refs));
	for (char *save = NULL, *t = strtok_r(buf_cstr(&r.out), "\n", &save); t != NULL;
	    t = strtok_r(NULL, "\n", &save)) {
		if (!str_has_prefix(t, prefix))
			continue;
		if (n + 1 >= cap)
			refs = xrealloc(refs, (cap *= 2) * sizeof(*refs));
		refs[n++] = t;
	}
	refs[n] = NULL;
	image_remove(refs);
	free(refs);
	buf_free(&r.out);
}

char *
image_config_to_json(const struct image_config *c)
{
	jv *j = jv_object_new();
	char *text;

	jv_set_str(j, "Id", c->id);
	if (c->env != NULL)
		jv_set_take(j, "Env", str_array_json(c->env));
	if (c->entrypoint != NULL)
		jv_set_take(j, "Entrypoint", str_array_json(c->entrypoint));
	if (c->cmd != NULL)
		jv_set_take(j, "Cmd", str_array_json(c->cmd));
	if (c->workdir != NULL)
		jv_set_str(j, "WorkingDir", c->workdir);
	if (c->user != NULL)
		jv_set_str(j, "User", c->user);
	if (c->expose > 0)
		jv_set_int(j, "Expose", c->expose);
	text = jv_dump(j);
	jv_free(j);
	return text;
}

int
image_config_from_json(const char *text, struct image_config *c, char *err, size_t errlen)
{
	char perr[256];
	jv *j = jv_parse(text, strlen(text), perr, sizeof(perr));

	memset(c, 0, sizeof(*c));
	if (j == NULL || !jv_is_object(j)) {
		snprintf(err, errlen, "an image config that is not a JSON object: %s",
		    j == NULL ? perr : "another type");
		jv_free(j);
		return -1;
	}
	str_copy(c->id, sizeof(c->id), jv_str_or(j, "Id", ""));
	config_read(j, c);
	jv_free(j);
	return 0;
}
