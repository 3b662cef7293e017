/*
 * image.h — OCI images through the host's image builder (podman): the one
 * module that runs it. A build turns a service's Dockerfile into an image of
 * the rack's storage (root's default, /var/lib/containers, so images imported
 * there by hand are found); an `image:` service's image is pulled by the
 * builder from whatever registry the host reaches. What a process needs to
 * start from an image (its configuration and its root filesystem's layers)
 * is read back here, so the rest of the daemon never parses podman's output.
 *
 * Every call forks podman and waits for it: call them from a build's child
 * process or a spawn path that may block, never from the event loop in a
 * hot path (image_config is cheap to keep: the store records it per build).
 */
#ifndef CX_IMAGE_H
#define CX_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What the image says about how to start it (OCI image config). Arrays are
 * NULL-terminated and malloc'd, like every string; NULL when the image has
 * none. */
struct image_config {
	char id[72];          /* "sha256:…" of the image */
	char **env;           /* "K=V" */
	char **entrypoint;
	char **cmd;
	char *workdir;        /* absolute, or NULL ("/") */
	char *user;           /* "name", "uid", "uid:gid", "name:group", or NULL (root) */
	int expose;           /* first exposed TCP port, 0 if none */
};

struct image_build_opts {
	const char *context;      /* absolute directory: the build's path */
	const char *dockerfile;   /* absolute path of the Dockerfile */
	const char *tag;          /* what to name the image */
	char *const *args;        /* "K=V" build args, NULL-terminated, may be NULL */
	bool no_cache;
	int log_fd;               /* the builder's output (stdout and stderr) goes here */
	const char *ca_dir;       /* host directory of extra CA certificates, seen read-only
	                           * at the same path by RUN steps (update-ca-certificates
	                           * adds them to the image's store), or NULL */
};

/* Whether this host has a builder this daemon can use (podman on PATH, and
 * the daemon runs as root). When false, *why says what is missing, as the
 * one line deploy prints ("no image builder: install podman (make deps)"). */
bool image_builder_available(char *why, size_t whylen);

/* Builds an image. 0, or -1 with err naming the failing step and the
 * builder's last output line. */
int image_build(const struct image_build_opts *o, char *err, size_t errlen);
/* 1 when ref is present locally, 0 when not, -1 with err when podman fails. */
int image_exists(const char *ref, char *err, size_t errlen);
/* Makes ref present locally (pulls it if missing; output to log_fd). */
int image_pull(const char *ref, int log_fd, char *err, size_t errlen);
/* Pushes local image ref to a registry as dest (HOST[:PORT]/PATH:TAG), with
 * the registry credentials of the daemon's user (podman login). tls_verify
 * false: plain http, or https without checking the certificate (a registry
 * on loopback, a lab's). Output to log_fd. 0, or -1 with err naming ref
 * and podman's last line. */
int image_push(const char *ref, const char *dest, bool tls_verify, int log_fd, char *err,
    size_t errlen);
/* Whether the registry's repository repo (HOST[:PORT]/PATH, no tag) lists
 * tag (podman search --list-tags, with the credentials of podman login):
 * 1 yes, 0 no (a repository the registry does not have counts as no), -1
 * with err naming repo and podman's reason when the registry cannot say
 * (unreachable, refused, podman missing). tls_verify as for image_push. */
int image_registry_has(const char *repo, const char *tag, bool tls_verify, char *err,
    size_t errlen);
/* The name a build gives service's image: localhost/cx-RACK/APP/SERVICE:BUILD,
 * lower-case (image names are). */
void image_build_ref(const char *rack, const char *app, const char *service, const char *build,
    char *out, size_t outlen);
/* Names the image from also to (podman tag). */
int image_tag(const char *from, const char *to, char *err, size_t errlen);
/* Reads ref's configuration into *c (free with image_config_free). */
int image_inspect(const char *ref, struct image_config *c, char *err, size_t errlen);
void image_config_free(struct image_config *c);
/* The image's layers for an overlay mount, top first, as host directories
 * (read-only to every user of them): *dirs is malloc'd, NULL-terminated. */
int image_layers(const char *ref, char ***dirs, char *err, size_t errlen);
/* Removes the images tagged with prefix (an app deleted). Logs failures. */
void image_remove_tagged(const char *prefix);
/* Removes these names (NULL-terminated); an image goes when its last name
 * does. Logs failures. */
void image_remove(char *const *refs);
/* The same in a detached process that first waits (two minutes at most)
 * until pids are gone: what still runs from the images keeps its layers. */
void image_remove_later(char *const *refs, const pid_t *pids, size_t npids);
/* Appends the names in a build's images text ({"SERVICE": {"ref": NAME}})
 * to *refs (NULL-terminated, *nrefs long; each entry and the array malloc'd). */
void image_refs_of(const char *images_text, char ***refs, size_t *nrefs);

/* What image_inspect and image_layers read, from the text of
 * `podman image inspect REF` (a JSON array of one image): either of c and
 * layers may be NULL. For the tests. */
int image_parse_inspect(const char *text, size_t len, struct image_config *c, char ***layers,
    char *err, size_t errlen);

/* The config as JSON text (malloc'd) and back, for the store. */
char *image_config_to_json(const struct image_config *c);
int image_config_from_json(const char *text, struct image_config *c, char *err, size_t errlen);

#endif
