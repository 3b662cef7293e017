/*
 * forward.c — see forward.h.
 *
 * One unconnected UDP socket speaks to every upstream. Each query in flight
 * holds a slot: the asker's address and id, the id we gave it upstream
 * (random, unique among the slots), which upstream has it and until when.
 * A reply is taken only from the upstream that has the slot, with the
 * slot's id; anything else is dropped. A timer runs while slots are taken,
 * moving a query on to the next upstream, then answering SERVFAIL.
 */
#include "labdns/forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define HDR_LEN  12
#define TICK_MS  100
#define QUERY_MAX 1500

struct slot {
	bool used;
	uint16_t id;                /* ours, upstream */
	uint8_t orig[2];            /* the asker's id, as it sent it */
	size_t server;              /* index of the upstream that has it */
	int64_t deadline;           /* ms */
	struct sockaddr_storage from;
	socklen_t fromlen;
	uint8_t q[QUERY_MAX];       /* kept to send to the next upstream */
	size_t qlen;
};

struct labdns_fwd {
	struct ev_loop *loop;
	int client_fd;
	int up_fd;
	struct sockaddr_in servers[LABDNS_FWD_MAX];
	size_t nservers;
	struct slot *slots;
	size_t used;
	struct ev_timer *timer;
};

size_t
labdns_resolv_parse(const char *text, const struct sockaddr_in *self, struct sockaddr_in *out,
    size_t max)
{
	size_t n = 0;

	for (const char *p = text; *p != '\0' && n < max;) {
		size_t len = strcspn(p, "\n");
		char line[256], word[32], addr[64];
		struct in_addr in;

		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (sscanf(line, " %31s %63s", word, addr) == 2 && strcmp(word, "nameserver") == 0 &&
			    inet_pton(AF_INET, addr, &in) == 1 &&
			    (self == NULL || self->sin_addr.s_addr != in.s_addr ||
			    self->sin_port != htons(53))) {
				memset(&out[n], 0, sizeof(out[n]));
				out[n].sin_family = AF_INET;
				out[n].sin_addr = in;
				out[n].sin_port = htons(53);
				n++;
			}
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	return n;
}

size_t
labdns_servfail(const uint8_t *q, size_t qlen, uint8_t *out, size_t outcap)
{
	if (qlen < HDR_LEN || outcap < HDR_LEN)
		return 0;
	memcpy(out, q, 2);
	/* QR, the asker's opcode and RD, RA, rcode 2 (SERVFAIL); no sections. */
	out[2] = (uint8_t)(0x80 | (q[2] & 0x79));
	out[3] = 0x80 | 2;
	memset(out + 4, 0, 8);
	return HDR_LEN;
}

static void
answer_servfail(struct labdns_fwd *f, const uint8_t *q, size_t qlen,
    const struct sockaddr_storage *from, socklen_t fromlen)
{
	uint8_t a[HDR_LEN];
	size_t n = labdns_servfail(q, qlen, a, sizeof(a));

	if (n > 0 && sendto(f->client_fd, a, n, 0, (const struct sockaddr *)from, fromlen) == -1)
		log_warn("sendto");
}

static void
slot_free(struct labdns_fwd *f, struct slot *s)
{
	s->used = false;
	f->used--;
}

/* Sends slot s's query to its upstream; false if it could not be sent. */
static bool
send_up(struct labdns_fwd *f, struct slot *s)
{
	const struct sockaddr_in *up = &f->servers[s->server];

	s->q[0] = (uint8_t)(s->id >> 8);
	s->q[1] = (uint8_t)s->id;
	s->deadline = now_ms() + LABDNS_FWD_TRY_MS;
	if (sendto(f->up_fd, s->q, s->qlen, 0, (const struct sockaddr *)up, sizeof(*up)) == -1) {
		log_warn("forwarding to %s", inet_ntoa(up->sin_addr));
		return false;
	}
	return true;
}

/* Moves s on to the next upstream, or answers SERVFAIL when none is left. */
static void
next_server(struct labdns_fwd *f, struct slot *s)
{
	while (++s->server < f->nservers) {
		if (send_up(f, s))
			return;
	}
	memcpy(s->q, s->orig, 2);
	answer_servfail(f, s->q, s->qlen, &s->from, s->fromlen);
	slot_free(f, s);
}

static void arm(struct labdns_fwd *f);

static void
on_tick(struct ev_loop *loop, void *arg)
{
	struct labdns_fwd *f = arg;
	int64_t now = now_ms();

	(void)loop;
	f->timer = NULL;
	for (size_t i = 0; i < LABDNS_FWD_PENDING; i++) {
		struct slot *s = &f->slots[i];

		if (s->used && now >= s->deadline)
			next_server(f, s);
	}
	arm(f);
}

static void
arm(struct labdns_fwd *f)
{
	if (f->timer == NULL && f->used > 0)
		f->timer = ev_timer_add(f->loop, TICK_MS, on_tick, f);
}

static void
on_reply(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct labdns_fwd *f = arg;

	(void)loop;
	(void)events;
	for (int round = 0; round < 64; round++) {
		uint8_t a[4096];
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, a, sizeof(a), 0, (struct sockaddr *)&from, &fromlen);
		uint16_t id;

		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("recvfrom (upstream)");
			return;
		}
		if (n < HDR_LEN || fromlen != sizeof(from) || !(a[2] & 0x80))
			continue;
		id = (uint16_t)(a[0] << 8 | a[1]);
		for (size_t i = 0; i < LABDNS_FWD_PENDING; i++) {
			struct slot *s = &f->slots[i];
			const struct sockaddr_in *up;

			if (!s->used || s->id != id)
				continue;
			up = &f->servers[s->server];
			if (up->sin_addr.s_addr != from.sin_addr.s_addr || up->sin_port != from.sin_port)
				break;   /* not from the upstream we asked: a spoof, or late */
			memcpy(a, s->orig, 2);
			if (sendto(f->client_fd, a, (size_t)n, 0, (struct sockaddr *)&s->from,
			    s->fromlen) == -1)
				log_warn("sendto");
			slot_free(f, s);
			break;
		}
	}
}

static bool
id_taken(const struct labdns_fwd *f, uint16_t id)
{
	for (size_t i = 0; i < LABDNS_FWD_PENDING; i++) {
		if (f->slots[i].used && f->slots[i].id == id)
			return true;
	}
	return false;
}

void
labdns_fwd_query(struct labdns_fwd *f, const uint8_t *q, size_t qlen,
    const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct slot *s = NULL;
	uint16_t id;

	if (qlen < HDR_LEN)
		return;
	if (qlen > QUERY_MAX || f->used == LABDNS_FWD_PENDING) {
		answer_servfail(f, q, qlen, from, fromlen);
		return;
	}
	for (size_t i = 0; i < LABDNS_FWD_PENDING && s == NULL; i++) {
		if (!f->slots[i].used)
			s = &f->slots[i];
	}
	do {
		if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
			id = (uint16_t)(now_ms() ^ (int64_t)f->used);
	} while (id_taken(f, id));
	s->used = true;
	f->used++;
	s->id = id;
	memcpy(s->orig, q, 2);
	memcpy(s->q, q, qlen);
	s->qlen = qlen;
	memcpy(&s->from, from, fromlen);
	s->fromlen = fromlen;
	s->server = 0;
	if (!send_up(f, s))
		next_server(f, s);
	arm(f);
}

struct labdns_fwd *
labdns_fwd_new(struct ev_loop *loop, int client_fd, const char *resolv_path,
    const struct sockaddr_in *self, char *err, size_t errlen)
{
	struct labdns_fwd *f;
	char *text = read_file(resolv_path, 64 * 1024, NULL);

	if (text == NULL) {
		snprintf(err, errlen, "%s: %s", resolv_path, strerror(errno));
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	f->loop = loop;
	f->client_fd = client_fd;
	f->nservers = labdns_resolv_parse(text, self, f->servers, LABDNS_FWD_MAX);
	free(text);
	if (f->nservers == 0) {
		snprintf(err, errlen, "%s names no IPv4 nameserver to forward to", resolv_path);
		free(f);
		return NULL;
	}
	f->up_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->up_fd == -1 || ev_add(loop, f->up_fd, EV_READ, on_reply, f) == -1) {
		snprintf(err, errlen, "upstream socket: %s", strerror(errno));
		if (f->up_fd != -1)
			close(f->up_fd);
		free(f);
		return NULL;
	}
	f->slots = xcalloc(LABDNS_FWD_PENDING, sizeof(*f->slots));
	return f;
}

size_t
labdns_fwd_count(const struct labdns_fwd *f)
{
	return f->nservers;
}

void
labdns_fwd_free(struct labdns_fwd *f)
{
	if (f == NULL)
		return;
	ev_timer_cancel(f->loop, f->timer);
	ev_del(f->loop, f->up_fd);
	close(f->up_fd);
	free(f->slots);
	free(f);
}
