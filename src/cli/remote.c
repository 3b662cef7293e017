/*
 * remote.c — see remote.h: addresses, fingerprints and the registry of
 * remote racks, with no network and no output.
 */
#include "cli/remote.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"

static bool
valid_host(const char *h, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253 || h[0] == '.' || h[n - 1] == '.' || h[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

int
remote_parse_address(const char *arg, char *url, size_t urllen, char *err, size_t errlen)
{
	const char *h = arg, *colon;
	char host[254];
	size_t n;
	long port = REMOTE_DEFAULT_PORT;

	if (strncasecmp(h, "https://", 8) == 0)
		h += 8;
	else if (strstr(h, "://") != NULL) {
		snprintf(err, errlen, "\"%s\": a rack's API is reached over https only (HOST[:PORT])",
		    arg);
		return -1;
	}
	n = strlen(h);
	if (n > 0 && h[n - 1] == '/')
		n--;
	if (h[0] == '[') {
		snprintf(err, errlen, "\"%s\": IPv6 addresses are not supported yet; give an IPv4 "
		    "address or a host name", arg);
		return -1;
	}
	colon = memchr(h, ':', n);
	if (colon != NULL) {
		if (parse_long_n(colon + 1, n - (size_t)(colon - h) - 1, 1, 65535, &port) == -1) {
			snprintf(err, errlen, "\"%s\": the port must be a number from 1 to 65535", arg);
			return -1;
		}
		n = (size_t)(colon - h);
	}
	if (!valid_host(h, n)) {
		snprintf(err, errlen, "\"%s\" is not HOST[:PORT] (an IPv4 address or a host name, "
		    "then an optional port)", arg);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[n] = '\0';
	if (snprintf(url, urllen, "https://%s:%ld", host, port) >= (int)urllen) {
		snprintf(err, errlen, "\"%s\" is too long", arg);
		return -1;
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
remote_parse_rack_url(const char *rack_url, char *url, size_t urllen, char *password,
    size_t pwlen, char *err, size_t errlen)
{
	const char *rest, *at, *colon;
	size_t o = 0;

	if (strncasecmp(rack_url, "https://", 8) != 0) {
		snprintf(err, errlen, "RACK_URL must be https://convox:PASSWORD@HOST[:PORT]: cx "
		    "speaks to remote racks over HTTPS only");
		return -1;
	}
	rest = rack_url + 8;
	at = strrchr(rest, '@');
	colon = at != NULL ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
	if (at == NULL || colon == NULL || colon + 1 == at) {
		snprintf(err, errlen, "RACK_URL has no password: give it as "
		    "https://convox:PASSWORD@HOST[:PORT]");
		return -1;
	}
	for (const char *p = colon + 1; p < at; p++) {
		int hi, lo;

		if (o + 1 >= pwlen) {
			snprintf(err, errlen, "RACK_URL's password is too long");
			return -1;
		}
		if (*p == '%' && p + 2 < at && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
			password[o++] = (char)(hi * 16 + lo);
			p += 2;
		} else {
			password[o++] = *p;
		}
	}
	password[o] = '\0';
	if (remote_parse_address(at + 1, url, urllen, err, errlen) == -1) {
		char why[512];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "RACK_URL: %s", why);
		return -1;
	}
	return 0;
}

int
remote_parse_fingerprint(const char *in, char out[REMOTE_FP_SIZE])
{
	unsigned char md[32];
	size_t n = 0;
	int hi = -1;

	if (strncasecmp(in, "SHA256:", 7) == 0)
		in += 7;
	else if (strncasecmp(in, "SHA256=", 7) == 0)
		in += 7;
	for (; *in != '\0'; in++) {
		int v;

		if (*in == ':' && hi == -1)
			continue;
		if ((v = hexval(*in)) == -1 || n == sizeof(md))
			return -1;
		if (hi == -1) {
			hi = v;
		} else {
			md[n++] = (unsigned char)(hi * 16 + v);
			hi = -1;
		}
	}
	if (n != sizeof(md) || hi != -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
	return 0;
}

static void
remote_path(const char *home, const char *name, const char *file, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/remotes/%s%s%s", home, name, file[0] ? "/" : "", file);
}

bool
remote_exists(const char *home, const char *name)
{
	char path[4200];
	struct stat st;

	if (!valid_name(name))
		return false;
	remote_path(home, name, "url", path, sizeof(path));
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first line of a small file into out; -1 with err. */
static int
read_line(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	char *s = read_file(path, 4096, NULL);

	if (s == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	s[strcspn(s, "\r\n")] = '\0';
	if (str_copy(out, outlen, s) == -1 || s[0] == '\0') {
		snprintf(err, errlen, "%s is %s", path, s[0] ? "too long" : "empty");
		explicit_bzero(s, strlen(s));
		free(s);
		return -1;
	}
	explicit_bzero(s, strlen(s));
	free(s);
	return 0;
}

int
remote_load(const char *home, const char *name, struct remote *r, char *err, size_t errlen)
{
	char path[4200], check[REMOTE_URL_MAX];
	struct stat st;

	memset(r, 0, sizeof(*r));
	if (!valid_name(name) || str_copy(r->name, sizeof(r->name), name) == -1) {
		snprintf(err, errlen, "invalid rack name \"%s\"", name);
		return -1;
	}
	remote_path(home, name, "url", path, sizeof(path));
	if (read_line(path, r->url, sizeof(r->url), err, errlen) == -1)
		return -1;
	if (remote_parse_address(r->url, check, sizeof(check), err, errlen) == -1 ||
	    strcmp(check, r->url) != 0) {
		snprintf(err, errlen, "%s does not hold https://HOST:PORT; log in again with cx login",
		    path);
		return -1;
	}
	remote_path(home, name, "password", path, sizeof(path));
	if (read_line(path, r->password, sizeof(r->password), err, errlen) == -1)
		return -1;
	remote_path(home, name, "ca.pem", r->ca_path, sizeof(r->ca_path));
	if (stat(r->ca_path, &st) == -1) {
		snprintf(err, errlen, "cannot read %s: %s; log in again with cx login", r->ca_path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
remote_save(const char *home, const char *name, const char *url, const char *password,
    const char *ca_pem, char *err, size_t errlen)
{
	const char *files[3] = { "ca.pem", "password", "url" };
	const char *data[3] = { ca_pem, password, url };
	char path[4200];

	if (!valid_name(name)) {
		snprintf(err, errlen, "the rack's name \"%s\" is not a rack name", name);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/remotes", home);
	if (mkdir_p(path, 0700) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	remote_path(home, name, "", path, sizeof(path));
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	/* url last: a remote exists (remote_exists) once all of it is there. */
	for (int i = 0; i < 3; i++) {
		char line[REMOTE_URL_MAX + 300];
		const char *d = data[i];
		size_t len = strlen(d);

		if (i > 0) {
			snprintf(line, sizeof(line), "%s\n", d);
			d = line;
			len = strlen(line);
		}
		remote_path(home, name, files[i], path, sizeof(path));
		if (write_file_atomic(path, d, len, 0600) == -1) {
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
			if (i > 0)
				explicit_bzero(line, sizeof(line));
			return -1;
		}
		if (i > 0)
			explicit_bzero(line, sizeof(line));
	}
	return 0;
}

static bool
is_remote(const char *name, void *arg)
{
	return remote_exists(arg, name);
}

char **
remote_names(const char *home, size_t *n)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/remotes", home);
	return dir_names(path, is_remote, (void *)home, n);
}

int
remote_find_url(const char *home, const char *url, char *name, size_t namelen)
{
	char **names, path[4200], got[REMOTE_URL_MAX], err[512];
	size_t n;
	int rc = -1;

	names = remote_names(home, &n);
	for (size_t i = 0; i < n; i++) {
		remote_path(home, names[i], "url", path, sizeof(path));
		if (rc == -1 && read_line(path, got, sizeof(got), err, sizeof(err)) == 0 &&
		    strcmp(got, url) == 0) {
			str_copy(name, namelen, names[i]);
			rc = 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
