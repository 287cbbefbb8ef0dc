/*
 * reactor_epoll.c - the readiness-based fallback reactor, used with
 * `io epoll` or when io_uring cannot be set up.  Same callbacks, same
 * command semantics as the io_uring reactor; only how bytes move differs:
 * sockets are non-blocking, reads drain until EAGAIN, writes go out at the
 * end of the loop turn and register EPOLLOUT only when the socket is full.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/kv.h"
#include "persist/kvio.h"
#include "base/log.h"
#include "server/shard.h"

#define EP_OP_MASK 7ull
enum { EP_ACCEPT = 1, EP_CONN = 2, EP_EVENTFD = 3 };
#define EP_MAX_EVENTS 256
#define EP_READ_SIZE (16 * 1024)
/* Reads per readiness event before other connections get a turn. */
#define EP_READS_PER_EVENT 16
#define EP_ACCEPTS_PER_EVENT 64

struct epoll_state {
	int epfd;
	struct epoll_event events[EP_MAX_EVENTS];
	char rbuf[EP_READ_SIZE];
};

static int ep_init(struct shard *s)
{
	struct epoll_state *e = kv_calloc(1, sizeof(*e));
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0) {
		int err = -errno;
		free(e);
		return err;
	}
	for (int i = 0; i < s->nlisten; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)i << 3) | EP_ACCEPT };
		if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, s->listen_fds[i], &ev) < 0) {
			int err = -errno;
			close(e->epfd);
			free(e);
			return err;
		}
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EP_EVENTFD };
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, s->event_fd, &ev) < 0) {
		int err = -errno;
		close(e->epfd);
		free(e);
		return err;
	}
	s->reactor_data = e;
	return 0;
}

static void ep_fini(struct shard *s)
{
	struct epoll_state *e = s->reactor_data;
	if (!e)
		return;
	close(e->epfd);
	free(e);
	s->reactor_data = NULL;
}

static void ep_conn_start(struct shard *s, struct conn *c)
{
	struct epoll_state *e = s->reactor_data;
	c->recv_paused = false;
	int flags = fcntl(c->fd, F_GETFL);
	fcntl(c->fd, F_SETFL, flags | O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = (uint64_t)(uintptr_t)c | EP_CONN };
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		log_warning("epoll_ctl add client failed: %s", strerror(errno));
		shard_on_hangup(s, c);
	}
}

static void ep_update_interest(struct epoll_state *e, struct conn *c)
{
	uint32_t events = (c->read_eof || c->recv_paused ? 0 : EPOLLIN | EPOLLRDHUP) |
			  (c->want_write ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = events,
				  .data.u64 = (uint64_t)(uintptr_t)c | EP_CONN };
	epoll_ctl(e->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void ep_set_writable_interest(struct epoll_state *e, struct conn *c, bool on)
{
	if (c->want_write == on)
		return;
	c->want_write = on;
	ep_update_interest(e, c);
}

/* Drop the first n bytes of c->out, which the socket took.  Only once they
 * outweigh what is left (or are all of it) are the rest moved to the front;
 * until then c->send_off marks them, so a client that reads its replies
 * slowly does not have megabytes of them moved on every partial send. */
static void ep_out_sent(struct conn *c, size_t n)
{
	if (n == c->out.len) {
		c->out.len = 0;
	} else if (n > c->out.len / 2) {
		kv_buf_consume(&c->out, n);
	} else {
		c->send_off = n;
		return;
	}
	c->out_traced = c->out_traced > n ? c->out_traced - n : 0;
	c->send_off = 0;
}

static void ep_conn_flush(struct shard *s, struct conn *c)
{
	struct epoll_state *e = s->reactor_data;
	if (c->close_started)
		return;
	size_t off = c->send_off;   /* out[0..send_off) has left already */
	if (c->out.len > c->out_traced && kvio_trace_enabled()) {
		/* Replies are traced once, when first offered to the socket. */
		kvio_trace_reply(c->id, c->out.data + c->out_traced, c->out.len - c->out_traced);
		c->out_traced = c->out.len;
	}
	while (off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + off, c->out.len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			shard_on_sent(s, c, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		ep_out_sent(c, off);
		shard_on_hangup(s, c);
		return;
	}
	ep_out_sent(c, off);
	ep_set_writable_interest(e, c, c->out.len > 0);
	if (c->out.len == 0) {
		kv_buf_shrink(&c->out, 1 << 20);
		shard_conn_drained(s, c);
	}
}

static void ep_conn_close(struct shard *s, struct conn *c)
{
	struct epoll_state *e = s->reactor_data;
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	shard_conn_io_done(s, c);
}

static void ep_conn_recv(struct shard *s, struct conn *c, bool on)
{
	if (c->recv_paused == !on)
		return;
	c->recv_paused = !on;
	ep_update_interest(s->reactor_data, c);
}

static void ep_conn_detach(struct shard *s, struct conn *c)
{
	struct epoll_state *e = s->reactor_data;
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->want_write = false;
	shard_conn_detached(s, c);
}

static void ep_on_readable(struct shard *s, struct epoll_state *e, struct conn *c)
{
	for (int i = 0; i < EP_READS_PER_EVENT && !c->close_started; i++) {
		ssize_t n = recv(c->fd, e->rbuf, sizeof(e->rbuf), 0);
		if (n > 0) {
			shard_on_data(s, c, e->rbuf, (size_t)n);
			if ((size_t)n < sizeof(e->rbuf))
				return;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == 0) {
			/* Half-closed: stop watching reads, finish the replies. */
			shard_on_eof(s, c);
			ep_update_interest(e, c);
		} else {
			shard_on_hangup(s, c);
		}
		return;
	}
}

static void ep_on_accept(struct shard *s, int lfd)
{
	for (int i = 0; i < EP_ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			shard_on_accept(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warning("shard %u: accept failed: %s", s->id, strerror(errno));
		return;
	}
}

static int ep_poll(struct shard *s, int64_t timeout_us)
{
	struct epoll_state *e = s->reactor_data;
	int timeout_ms = timeout_us <= 0 ? 0 : (int)((timeout_us + 999) / 1000);
	int n = epoll_wait(e->epfd, e->events, EP_MAX_EVENTS, timeout_ms);
	shard_unpark(s);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	int work = 0;
	for (int i = 0; i < n; i++) {
		uint64_t data = e->events[i].data.u64;
		uint32_t ev = e->events[i].events;
		switch (data & EP_OP_MASK) {
		case EP_ACCEPT:
			ep_on_accept(s, s->listen_fds[data >> 3]);
			work++;
			break;
		case EP_EVENTFD: {
			uint64_t v;
			ssize_t r = read(s->event_fd, &v, sizeof(v));
			(void)r;
			shard_on_wakeup(s);
			break;
		}
		case EP_CONN: {
			struct conn *c = (struct conn *)(uintptr_t)(data & ~EP_OP_MASK);
			if (c->close_started)
				break;
			if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) && !c->read_eof)
				ep_on_readable(s, e, c);
			else if ((ev & (EPOLLHUP | EPOLLERR)) && c->read_eof && !c->want_write)
				shard_on_hangup(s, c);
			if ((ev & EPOLLOUT) && !c->close_started)
				ep_conn_flush(s, c);
			work++;
			break;
		}
		}
	}
	return work;
}

/* No ring: the shard's file I/O is synchronous, at the end of each turn. */
static void ep_lend_files(struct shard *s)
{
	aof_attach(&s->aof, NULL, 0);
}

static void ep_relisten(struct shard *s, const int *old_fds, int nold)
{
	struct epoll_state *e = s->reactor_data;
	for (int i = 0; i < nold; i++) {
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, old_fds[i], NULL);
		shard_retire_listener(s, old_fds[i]);
	}
	for (int i = 0; i < s->nlisten; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)i << 3) | EP_ACCEPT };
		if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, s->listen_fds[i], &ev) < 0)
			log_warning("shard %u: cannot watch a new listener: %s", s->id, strerror(errno));
	}
}

const struct reactor_ops reactor_epoll_ops = {
	.name = "epoll",
	.init = ep_init,
	.fini = ep_fini,
	.lend_files = ep_lend_files,
	.poll = ep_poll,
	.conn_start = ep_conn_start,
	.conn_flush = ep_conn_flush,
	.conn_close = ep_conn_close,
	.conn_detach = ep_conn_detach,
	.conn_recv = ep_conn_recv,
	.relisten = ep_relisten,
};
