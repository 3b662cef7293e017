/*
 * net.h — socket helpers shared by the daemon, the routers and the CLI.
 * Every socket returned is non-blocking unless said otherwise, and close-on-exec.
 */
#ifndef CX_NET_H
#define CX_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* Reads what fd (blocking or not) sends into buf until it closes, buf is
 * full or ms have passed; NUL-terminates (size > 0) and returns the count. */
size_t net_read_within(int fd, char *buf, size_t size, int ms);

/* Parses "A.B.C.D:PORT" into sin; -1 on junk. */
int net_parse_addr(const char *s, struct sockaddr_in *sin);
/* Listens on TCP addr ("127.0.0.1:8080"); reuseport adds SO_REUSEPORT. -1 with errno. */
int net_listen_tcp(const char *addr, bool reuseport, int backlog);
/* Whether TCP addr can be listened on now by a socket that shares its port
 * with no one (no SO_REUSEPORT): 0, or -1 with errno (EADDRINUSE: something
 * listens there). */
int net_port_check(const char *addr);
/* What listens on TCP port (any address), as "pid 1234 (perl)", into out;
 * "" when it cannot tell (nothing listens, or not this user's to see). */
void net_port_holder(int port, char *out, size_t outlen);
/* Listens on a unix socket path (removing a stale one first), mode applied with chmod. */
int net_listen_unix(const char *path, int mode);
/* Starts a non-blocking connect; returns the fd (connection may be in progress). */
int net_connect_tcp(const struct sockaddr_in *sin);
/* The same from source address src (port 0: any), when src is not NULL. */
int net_connect_tcp_from(const struct sockaddr_in *sin, const struct sockaddr_in *src);
/* Binds port 0 on 127.0.0.1 to learn a free port; returns it or -1. */
int net_free_port(void);
/* Formats sin as "A.B.C.D:PORT" into out. */
void net_format_addr(const struct sockaddr_in *sin, char *out, size_t outlen);

#endif
