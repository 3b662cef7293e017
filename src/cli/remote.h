/*
 * remote.h — racks on other machines, reached over HTTPS: their addresses
 * (HOST[:PORT], RACK_URL), the fingerprints users compare, and the registry
 * `cx login` keeps under $CX_HOME:
 *
 *   remotes/NAME/          0700, NAME the rack's own name (GET /system)
 *   remotes/NAME/url       0600  "https://HOST:PORT"
 *   remotes/NAME/password  0600  the rack's API password
 *   remotes/NAME/ca.pem    0600  the CA its certificate must be issued by
 *
 * Nothing here talks to the network or prints: remote.c is pure over files,
 * so it is unit-tested alone (tests/unit/test_remote.c); login.c uses it.
 */
#ifndef CX_CLI_REMOTE_H
#define CX_CLI_REMOTE_H

#include <stdbool.h>
#include <stddef.h>

#define REMOTE_DEFAULT_PORT 5443
/* "https://" + a DNS name (253) + ":65535" */
#define REMOTE_URL_MAX 280
/* "AB:CD:..." of a SHA-256 digest (as tls.h's TLS_FINGERPRINT_SIZE) */
#define REMOTE_FP_SIZE 96

struct remote {
	char name[32];
	char url[REMOTE_URL_MAX];
	char password[256];
	char ca_path[4200];     /* remotes/NAME/ca.pem */
};

/* "HOST", "HOST:PORT" or "https://HOST[:PORT]" (HOST an IPv4 address or a
 * DNS name, PORT 1-65535, default REMOTE_DEFAULT_PORT) into the canonical
 * "https://HOST:PORT", lower-cased. -1 with err (one line) otherwise. */
int remote_parse_address(const char *arg, char *url, size_t urllen, char *err, size_t errlen);

/* RACK_URL, as Convox's CLI takes it: "https://USER:PASSWORD@HOST[:PORT]"
 * (USER is ignored, as the rack's is always "convox"; PASSWORD may be
 * percent-encoded). Fills url (canonical, as above) and password. -1 with
 * err: not https, no password, a bad address. */
int remote_parse_rack_url(const char *rack_url, char *url, size_t urllen, char *password,
    size_t pwlen, char *err, size_t errlen);

/* A SHA-256 fingerprint as users paste it ("SHA256:ab:cd:...", with or
 * without colons or the prefix, any case) into "AB:CD:..." (as
 * `openssl x509 -fingerprint -sha256` prints it). -1 if not 32 bytes of hex. */
int remote_parse_fingerprint(const char *in, char out[REMOTE_FP_SIZE]);

/* Whether HOME/remotes/NAME is a registered remote rack. */
bool remote_exists(const char *home, const char *name);
/* Reads remote NAME. -1 with err naming what is missing or unreadable. */
int remote_load(const char *home, const char *name, struct remote *r, char *err, size_t errlen);
/* Registers (or replaces) remote NAME: url, password and the CA's PEM text,
 * each file written atomically, 0600 in a 0700 directory. -1 with err. */
int remote_save(const char *home, const char *name, const char *url, const char *password,
    const char *ca_pem, char *err, size_t errlen);
/* Names of the registered remotes, sorted; *n set; free with cli_names_free
 * (or each, then the array). NULL when none. */
char **remote_names(const char *home, size_t *n);
/* The registered remote whose url is url (canonical) into name: 0, or -1
 * when none is. */
int remote_find_url(const char *home, const char *url, char *name, size_t namelen);

#endif
