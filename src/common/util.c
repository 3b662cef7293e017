/*
 * util.c — see util.h.
 */
#include "common/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static _Noreturn void
oom(void)
{
	fputs("out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom();
	return q;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		oom();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	return s;
}

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t want, cap;

	if (n > SIZE_MAX - b->len - 1)
		return -1;
	want = b->len + n + 1;
	if (b->max != 0 && want > b->max + 1)
		return -1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	if (b->max != 0 && cap > b->max + 1)
		cap = b->max + 1;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];

	if (nbytes > sizeof(raw) || getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
		return -1;
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	out[2 * nbytes] = '\0';
	return 0;
}

int
buf_fill_fd(struct buf *b, int fd)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n > 0)
			buf_add(b, chunk, (size_t)n);   /* bounded; the rest is dropped */
		else if (n == -1 && errno == EINTR)
			continue;
		else
			return n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

char *
buf_cstr(struct buf *b)
{
	if (b->data == NULL) {
		b->data = xmalloc(1);
		b->cap = 1;
	}
	b->data[b->len] = '\0';
	return b->data;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int
parse_long_n(const char *s, size_t n, long min, long max, long *out)
{
	long v = 0;
	size_t i = 0;
	bool neg = false;

	if (n == 0)
		return -1;
	if (s[0] == '-') {
		neg = true;
		i = 1;
		if (n == 1)
			return -1;
	}
	for (; i < n; i++) {
		int d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = s[i] - '0';
		if (v > (LONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (neg)
		v = -v;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_long(const char *s, long min, long max, long *out)
{
	if (s == NULL)
		return -1;
	return parse_long_n(s, strlen(s), min, max, out);
}

int
parse_int(const char *s, int min, int max, int *out)
{
	long v;

	if (parse_long(s, min, max, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

int
parse_bool(const char *s, bool *out)
{
	static const char *yes[] = { "true", "yes", "1", "on" };
	static const char *no[] = { "false", "no", "0", "off" };

	for (size_t i = 0; i < CX_ARRAY_LEN(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int
parse_cidr(const char *s, uint32_t *net, int *prefix)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	long p;
	uint32_t mask;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(addr))
		return -1;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1)
		return -1;
	if (parse_long(slash + 1, 0, 32, &p) == -1)
		return -1;
	mask = p == 0 ? 0 : 0xffffffffu << (32 - p);
	if ((ntohl(in.s_addr) & ~mask) != 0)
		return -1;
	*net = ntohl(in.s_addr);
	*prefix = (int)p;
	return 0;
}

bool
cidr_contains(uint32_t net, int prefix, uint32_t addr)
{
	uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);

	return (addr & mask) == net;
}

size_t
str_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof(*row));
	size_t d;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	d = row[lb];
	free(row);
	return d;
}

bool
link_target_inside(const char *target, int depth)
{
	const char *p = target;
	bool named = false;
	int up = 0;

	if (target[0] == '\0' || target[0] == '/')
		return false;
	while (*p != '\0') {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (named || ++up > depth)
				return false;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			named = true;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return true;
}

bool
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 30 || !islower((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
			return false;
	}
	return s[n - 1] != '-';
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static size_t
utf8_seq(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void
utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p != '\0') {
		size_t n = utf8_seq(p);

		if (n == 0) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

int
str_copy(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (dstlen == 0)
		return -1;
	if (n >= dstlen) {
		memcpy(dst, src, dstlen - 1);
		dst[dstlen - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

bool
str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
now_unix(void)
{
	return (int64_t)time(NULL);
}

char *
read_file(const char *path, size_t max, size_t *len)
{
	struct buf b;
	char chunk[65536];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	buf_init(&b, max);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) == -1) {
			n = -1;
			errno = EFBIG;
			break;
		}
	}
	close(fd);
	if (n == -1) {
		int saved = errno;

		buf_free(&b);
		errno = saved;
		return NULL;
	}
	if (len != NULL)
		*len = b.len;
	return buf_cstr(&b);
}

int
write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	/* The mode asked for, whatever the umask (the daemon's is 077). */
	if (fchmod(fd, mode) == -1)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	{
		int saved = errno;

		if (fd != -1)
			close(fd);
		unlink(tmp);
		errno = saved;
	}
	return -1;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	if (str_copy(tmp, sizeof(tmp), path) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
remove_tree(const char *path)
{
	if (path == NULL || path[0] == '\0' || strcmp(path, "/") == 0) {
		errno = EINVAL;
		return -1;
	}
	if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
set_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

pid_t
lock_holder(const char *path)
{
	char line[256], want[96];
	struct stat st;
	pid_t holder = 0;
	FILE *f;

	if (stat(path, &st) == -1 || (f = fopen("/proc/locks", "re")) == NULL)
		return -1;
	/* "1: FLOCK  ADVISORY  WRITE 4242 00:2f:1234 0 EOF"; "1: -> ..." lines
	 * are processes waiting for it. The device is MAJOR:MINOR in hex. */
	snprintf(want, sizeof(want), "%02x:%02x:%llu", major(st.st_dev), minor(st.st_dev),
	    (unsigned long long)st.st_ino);
	while (holder == 0 && fgets(line, sizeof(line), f) != NULL) {
		char kind[16], mode[16], rw[16], id[96];
		long pid;

		if (strstr(line, "->") != NULL ||
		    sscanf(line, "%*s %15s %15s %15s %ld %95s", kind, mode, rw, &pid, id) != 5)
			continue;
		if (strcmp(id, want) == 0 && pid > 0)
			holder = (pid_t)pid;
	}
	fclose(f);
	return holder;
}

bool
pid_alive(pid_t pid)
{
	if (pid <= 0)
		return false;
	return kill(pid, 0) == 0 || errno == EPERM;
}

bool
pidfd_alive(int pidfd)
{
	return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 || errno == EPERM;
}

void
base64_encode(const unsigned char *in, size_t n, char *out)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
}

/* The value of base64 character ch, or -1. */
static int
base64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

unsigned char *
base64_decode(const char *in, size_t n, size_t *outlen)
{
	unsigned char *out = xmalloc(n / 4 * 3 + 3);
	unsigned v = 0;
	size_t o = 0, bits = 0, pad = 0, seen = 0;

	for (size_t i = 0; i < n; i++) {
		int d;

		if (in[i] == ' ' || in[i] == '\n' || in[i] == '\r' || in[i] == '\t')
			continue;
		if (in[i] == '=') {
			pad++;
			seen++;
			continue;
		}
		if (pad > 0 || (d = base64_value((unsigned char)in[i])) == -1)
			goto bad;
		seen++;
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	if (seen % 4 != 0 || pad > 2)
		goto bad;
	out[o] = '\0';
	*outlen = o;
	return out;
bad:
	free(out);
	return NULL;
}

static int
dir_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
str_list_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

char **
dir_names(const char *dir, bool (*keep)(const char *name, void *arg), void *arg, size_t *n)
{
	char **names = NULL;
	struct dirent *de;
	DIR *d;

	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (!keep(de->d_name, arg))
			continue;
		names = xrealloc(names, (*n + 1) * sizeof(*names));
		names[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(names, *n, sizeof(*names), dir_name_cmp);
	return names;
}
