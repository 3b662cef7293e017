/*
 * net.c — see net.h.
 */
#include "common/net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"

int
net_parse_addr(const char *s, struct sockaddr_in *sin)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (parse_long(colon + 1, 0, 65535, &port) == -1)
		return -1;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	return 0;
}

int
net_listen_tcp(const char *addr, bool reuseport, int backlog)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	if (net_parse_addr(addr, &sin) == -1) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, backlog) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
net_port_check(const char *addr)
{
	int fd = net_listen_tcp(addr, false, 1);

	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

/* The inode of a socket listening on TCP port in /proc/net/tcp or tcp6, 0 if none. */
static unsigned long
listen_inode(int port)
{
	static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	unsigned long inode = 0;

	for (size_t t = 0; t < CX_ARRAY_LEN(tables) && inode == 0; t++) {
		char *data = read_file(tables[t], 1 << 24, NULL), *save = NULL;

		if (data == NULL)
			continue;
		/* "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode" */
		for (char *l = strtok_r(data, "\n", &save); l != NULL && inode == 0;
		    l = strtok_r(NULL, "\n", &save)) {
			char local[64], st[8];
			unsigned int lport;
			unsigned long ino;
			char *colon;

			if (sscanf(l, " %*s %63s %*s %7s %*s %*s %*s %*s %*s %lu", local, st, &ino) != 3 ||
			    strcmp(st, "0A") != 0 || (colon = strrchr(local, ':')) == NULL ||
			    sscanf(colon + 1, "%x", &lport) != 1)
				continue;
			if ((int)lport == port)
				inode = ino;
		}
		free(data);
	}
	return inode;
}

void
net_port_holder(int port, char *out, size_t outlen)
{
	unsigned long inode = listen_inode(port);
	char want[64], path[300], link[64];
	struct dirent *p, *f;
	DIR *procs, *fds;

	out[0] = '\0';
	if (inode == 0 || (procs = opendir("/proc")) == NULL)
		return;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while (out[0] == '\0' && (p = readdir(procs)) != NULL) {
		long pid;

		if (parse_long(p->d_name, 1, INT32_MAX, &pid) == -1)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		if ((fds = opendir(path)) == NULL)
			continue;
		while ((f = readdir(fds)) != NULL) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%ld/fd/%s", pid, f->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				char *comm;

				snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
				comm = read_file(path, 64, NULL);
				if (comm != NULL)
					comm[strcspn(comm, "\n")] = '\0';
				snprintf(out, outlen, "pid %ld (%s)", pid, comm != NULL ? comm : "?");
				free(comm);
				break;
			}
		}
		closedir(fds);
	}
	closedir(procs);
}

int
net_listen_unix(const char *path, int mode)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, (mode_t)mode) == -1 || listen(fd, 128) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
net_connect_tcp(const struct sockaddr_in *sin)
{
	return net_connect_tcp_from(sin, NULL);
}

int
net_connect_tcp_from(const struct sockaddr_in *sin, const struct sockaddr_in *src)
{
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src != NULL && bind(fd, (const struct sockaddr *)src, sizeof(*src)) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1 &&
	    errno != EINPROGRESS) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
net_free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd, port = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

void
net_format_addr(const struct sockaddr_in *sin, char *out, size_t outlen)
{
	char host[INET_ADDRSTRLEN] = "?";

	inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
	snprintf(out, outlen, "%s:%u", host, ntohs(sin->sin_port));
}

size_t
net_read_within(int fd, char *buf, size_t size, int ms)
{
	size_t have = 0;
	int64_t end = now_ms() + ms;

	while (have < size - 1) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int64_t left = end - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, (int)left) != 1)
			break;
		n = read(fd, buf + have, size - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	return have;
}
