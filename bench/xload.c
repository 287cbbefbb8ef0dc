/*
 * xload.c - a stream consumer-group load generator for bench/streams.sh:
 * several connections, each a consumer that reads a batch with
 * XREADGROUP ... COUNT n STREAMS key > and then XACKs exactly the IDs that
 * batch gave it, with several reads in flight per connection (pipelined
 * RESP over plain sockets).  It drives redis-server and kevy-server alike;
 * it is a benchmark tool, not part of the server.
 *
 *   xload [-h host] -p port fill STREAMS ENTRIES
 *       DEL xs0..xs{STREAMS-1}, then XADD ENTRIES entries spread over them
 *       (explicit IDs 1-0, 2-0, ...; one field "f", a 16-byte value), then
 *       XGROUP CREATE xsK g 0 on each.  Prints the entries added.
 *   xload [-h host] -p port consume -c CONNS -s STREAMS -n COUNT -d DEPTH
 *       CONNS connections; connection i is consumer c<i> of group g on
 *       stream xs<i % STREAMS>, with DEPTH XREADGROUP commands in flight;
 *       every batch read is XACKed as soon as its reply arrives, and a new
 *       read is sent; a connection stops reading once a read comes back
 *       empty.  At the end it checks that every group's PEL is empty (each
 *       entry read was acknowledged exactly once) and prints one line:
 *       "entries E commands C seconds S entries_per_s R commands_per_s Q".
 *
 * Exit 0 on success, 1 on a protocol or socket error, 2 on usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct buf {
	char *p;
	size_t len, cap, off;   /* off: bytes already consumed (read side) or sent */
};

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "xload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

#include "loadnet.h"   /* load_connect(); uses die() */

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	if (b->off) {   /* slide the unconsumed bytes to the front first */
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + more <= b->cap)
			return;
	}
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->len + more)
		cap *= 2;
	b->p = realloc(b->p, cap);
	if (!b->p)
		die("out of memory");
	b->cap = cap;
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_bulk(struct buf *b, const char *s, size_t n)
{
	char h[32];
	int k = snprintf(h, sizeof(h), "$%zu\r\n", n);
	buf_add(b, h, (size_t)k);
	buf_add(b, s, n);
	buf_add(b, "\r\n", 2);
}

static void buf_cmd(struct buf *b, int argc, const char **argv)
{
	char h[32];
	int k = snprintf(h, sizeof(h), "*%d\r\n", argc);
	buf_add(b, h, (size_t)k);
	for (int i = 0; i < argc; i++)
		buf_bulk(b, argv[i], strlen(argv[i]));
}

/* ---- RESP replies ---- */

/* The end of the line starting at p, or NULL when it is not all there. */
static const char *line_end(const char *p, const char *end)
{
	for (const char *q = p; q + 1 < end; q++)
		if (q[0] == '\r' && q[1] == '\n')
			return q;
	return NULL;
}

/* Skip one reply; NULL when incomplete.  *err is set on an error reply. */
static const char *skip_value(const char *p, const char *end, bool *err)
{
	if (p >= end)
		return NULL;
	const char *e = line_end(p, end);
	if (!e)
		return NULL;
	long long n = strtoll(p + 1, NULL, 10);
	switch (p[0]) {
	case '-':
		if (err)
			*err = true;
		/* fall through */
	case '+':
	case ':':
		return e + 2;
	case '$':
		if (n < 0)
			return e + 2;
		if (end - (e + 2) < n + 2)
			return NULL;
		return e + 2 + n + 2;
	case '*':
		p = e + 2;
		for (long long i = 0; i < n && p; i++)
			p = skip_value(p, end, err);
		return p;
	default:
		die("unexpected reply byte 0x%02x", (unsigned char)p[0]);
	}
	return NULL;
}

/* A bulk string at p: its bytes in *s, *n; returns the end, NULL if incomplete. */
static const char *bulk_at(const char *p, const char *end, const char **s, size_t *n)
{
	if (p >= end)
		return NULL;
	if (p[0] != '$')
		die("expected a bulk string, got 0x%02x", (unsigned char)p[0]);
	const char *e = line_end(p, end);
	if (!e)
		return NULL;
	long long len = strtoll(p + 1, NULL, 10);
	if (len < 0 || end - (e + 2) < len + 2)
		return NULL;
	*s = e + 2;
	*n = (size_t)len;
	return e + 2 + len + 2;
}

/* An XREADGROUP reply for one stream: *1 [*2 [key, *k [*2 [id, fields]]]],
 * or a null array.  Appends "XACK key g id..." to out when k > 0.  Returns
 * the end of the reply (NULL: incomplete) and the entry count in *k. */
static const char *parse_read(const char *p, const char *end, const char *key,
			      struct buf *out, long *k)
{
	const char *e = line_end(p, end);
	if (!e)
		return NULL;
	if (p[0] == '-')
		die("XREADGROUP: %.*s", (int)(e - p), p);
	if (p[0] != '*')
		die("XREADGROUP: unexpected reply");
	if (p[1] == '-') {
		*k = 0;
		return e + 2;
	}
	bool err = false;
	const char *q = skip_value(p, end, &err);
	if (!q)
		return NULL;
	size_t mark = out->len;
	/* Complete: walk it again, collecting the IDs. */
	p = line_end(e + 2, end) + 2;                /* *2 */
	const char *s;
	size_t n;
	p = bulk_at(p, end, &s, &n);                 /* key */
	e = line_end(p, end);
	long cnt = strtol(p + 1, NULL, 10);          /* *k */
	p = e + 2;
	char h[32];
	int hl = snprintf(h, sizeof(h), "*%ld\r\n", cnt + 3);
	buf_add(out, h, (size_t)hl);
	buf_bulk(out, "XACK", 4);
	buf_bulk(out, key, strlen(key));
	buf_bulk(out, "g", 1);
	for (long i = 0; i < cnt; i++) {
		p = line_end(p, end) + 2;            /* *2 */
		p = bulk_at(p, end, &s, &n);         /* id */
		buf_bulk(out, s, n);
		p = skip_value(p, end, &err);        /* fields */
	}
	if (cnt == 0)
		out->len = mark;   /* an empty batch: nothing to acknowledge */
	*k = cnt;
	return q;
}

/* ---- connections ---- */


static void write_all(int fd, struct buf *b)
{
	while (b->off < b->len) {
		ssize_t w = write(fd, b->p + b->off, b->len - b->off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write: %s", strerror(errno));
		b->off += (size_t)w;
	}
	b->len = b->off = 0;
}

/* Read and discard `n` replies; die on an error reply. */
static void read_replies(int fd, struct buf *in, long n)
{
	while (n > 0) {
		bool err = false;
		const char *p = in->p + in->off, *end = in->p + in->len;
		const char *q = in->len > in->off ? skip_value(p, end, &err) : NULL;
		if (q) {
			if (err)
				die("error reply: %.*s", (int)(line_end(p, end) - p), p);
			in->off = (size_t)(q - in->p);
			n--;
			continue;
		}
		buf_reserve(in, 65536);
		ssize_t r = read(fd, in->p + in->len, in->cap - in->len);
		if (r <= 0)
			die("read: %s", r ? strerror(errno) : "connection closed");
		in->len += (size_t)r;
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cmd_fill(const char *host, const char *port, int streams, long entries)
{
	int fd = load_connect(host, port, false);
	struct buf out = { 0 }, in = { 0 };
	char key[32], id[32];
	long pending = 0;
	for (int s = 0; s < streams; s++) {
		snprintf(key, sizeof(key), "xs%d", s);
		buf_cmd(&out, 2, (const char *[]){ "DEL", key });
		pending++;
	}
	for (long i = 0; i < entries; i++) {
		snprintf(key, sizeof(key), "xs%ld", i % streams);
		snprintf(id, sizeof(id), "%ld-0", i + 1);
		buf_cmd(&out, 5, (const char *[]){ "XADD", key, id, "f", "value-0123456789" });
		if (++pending == 1000) {
			write_all(fd, &out);
			read_replies(fd, &in, pending);
			pending = 0;
		}
	}
	for (int s = 0; s < streams; s++) {
		snprintf(key, sizeof(key), "xs%d", s);
		buf_cmd(&out, 5, (const char *[]){ "XGROUP", "CREATE", key, "g", "0" });
		pending++;
	}
	write_all(fd, &out);
	read_replies(fd, &in, pending);
	close(fd);
	printf("%ld\n", entries);
}

struct conn {
	int fd;
	char key[32], name[32];
	struct buf in, out;
	char *kinds;          /* ring of expected replies: 'R' read, 'A' ack */
	size_t khead, ktail, kcap;
	bool drained;         /* a read came back empty: send no more */
	long inflight_reads;
};

static void kind_push(struct conn *c, char k)
{
	if (c->ktail - c->khead == c->kcap)
		die("too many replies in flight");
	c->kinds[c->ktail++ % c->kcap] = k;
}

static void send_read(struct conn *c, const char *count)
{
	buf_cmd(&c->out, 9, (const char *[]){ "XREADGROUP", "GROUP", "g", c->name, "COUNT", count,
					      "STREAMS", c->key, ">" });
	kind_push(c, 'R');
	c->inflight_reads++;
}

static void cmd_consume(const char *host, const char *port, int nconn, int streams,
			const char *count, int depth)
{
	struct conn *cs = calloc((size_t)nconn, sizeof(*cs));
	struct pollfd *pf = calloc((size_t)nconn, sizeof(*pf));
	for (int i = 0; i < nconn; i++) {
		struct conn *c = &cs[i];
		c->fd = load_connect(host, port, false);
		fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
		snprintf(c->key, sizeof(c->key), "xs%d", i % streams);
		snprintf(c->name, sizeof(c->name), "c%d", i);
		c->kcap = (size_t)depth * 2 + 4;
		c->kinds = malloc(c->kcap);
	}
	long entries = 0, commands = 0;
	double t0 = now_s();
	for (int i = 0; i < nconn; i++)
		for (int d = 0; d < depth; d++)
			send_read(&cs[i], count);
	int live = nconn;
	while (live > 0) {
		for (int i = 0; i < nconn; i++) {
			struct conn *c = &cs[i];
			pf[i].fd = c->ktail > c->khead || c->out.len > c->out.off ? c->fd : -1;
			pf[i].events = POLLIN | (c->out.len > c->out.off ? POLLOUT : 0);
			pf[i].revents = 0;
		}
		if (poll(pf, (nfds_t)nconn, 10000) <= 0)
			die("poll: %s", errno ? strerror(errno) : "no reply in 10 s");
		for (int i = 0; i < nconn; i++) {
			struct conn *c = &cs[i];
			if (pf[i].fd < 0)
				continue;
			if (pf[i].revents & (POLLERR | POLLHUP | POLLNVAL))
				die("connection %d: socket error", i);
			if (pf[i].revents & POLLIN) {
				buf_reserve(&c->in, 65536);
				ssize_t r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
				if (r == 0)
					die("connection %d closed", i);
				if (r < 0 && errno != EAGAIN && errno != EINTR)
					die("read: %s", strerror(errno));
				if (r > 0)
					c->in.len += (size_t)r;
				/* Every complete reply, in order. */
				while (c->ktail > c->khead && c->in.len > c->in.off) {
					const char *p = c->in.p + c->in.off, *end = c->in.p + c->in.len;
					char kind = c->kinds[c->khead % c->kcap];
					const char *q;
					if (kind == 'R') {
						long k = 0;
						size_t mark = c->out.len;
						q = parse_read(p, end, c->key, &c->out, &k);
						if (!q) {
							c->out.len = mark;
							break;
						}
						c->inflight_reads--;
						commands++;
						if (k > 0) {
							entries += k;
							kind_push(c, 'A');
							if (!c->drained)
								send_read(c, count);
						} else {
							c->drained = true;
						}
					} else {
						bool err = false;
						q = skip_value(p, end, &err);
						if (!q)
							break;
						if (err || p[0] != ':')
							die("XACK: %.*s", (int)(line_end(p, end) - p), p);
						commands++;
					}
					c->khead++;
					c->in.off = (size_t)(q - c->in.p);
				}
			}
			if (c->out.len > c->out.off) {
				ssize_t w = write(c->fd, c->out.p + c->out.off, c->out.len - c->out.off);
				if (w < 0 && errno != EAGAIN && errno != EINTR)
					die("write: %s", strerror(errno));
				if (w > 0)
					c->out.off += (size_t)w;
				if (c->out.off == c->out.len)
					c->out.off = c->out.len = 0;
			}
			if (c->ktail == c->khead && c->out.len == c->out.off && c->drained) {
				live--;
				pf[i].fd = -1;
				c->khead = c->ktail = 0;
				c->drained = false;   /* counted once */
				c->inflight_reads = -1;
			}
		}
	}
	double secs = now_s() - t0;
	/* Every entry read was acknowledged exactly once: the PELs are empty. */
	for (int s = 0; s < streams; s++) {
		struct conn *c = &cs[s % nconn];
		int fl = fcntl(c->fd, F_GETFL);
		fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
		char key[32];
		snprintf(key, sizeof(key), "xs%d", s);
		struct buf out = { 0 };
		buf_cmd(&out, 3, (const char *[]){ "XPENDING", key, "g" });
		write_all(c->fd, &out);
		c->in.len = c->in.off = 0;
		for (;;) {
			bool err = false;
			const char *q = c->in.len ? skip_value(c->in.p, c->in.p + c->in.len, &err) : NULL;
			if (q)
				break;
			buf_reserve(&c->in, 4096);
			ssize_t r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
			if (r <= 0)
				die("read: %s", r ? strerror(errno) : "connection closed");
			c->in.len += (size_t)r;
		}
		if (strncmp(c->in.p, "*4\r\n:0\r\n", 8) != 0)
			die("%s: the PEL is not empty after the run: %.40s", key, c->in.p);
		free(out.p);
	}
	printf("entries %ld commands %ld seconds %.3f entries_per_s %.0f commands_per_s %.0f\n",
	       entries, commands, secs, (double)entries / secs, (double)commands / secs);
	for (int i = 0; i < nconn; i++) {
		close(cs[i].fd);
		free(cs[i].in.p);
		free(cs[i].out.p);
		free(cs[i].kinds);
	}
	free(cs);
	free(pf);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: xload [-h host] -p port fill STREAMS ENTRIES\n"
		"       xload [-h host] -p port consume -c CONNS -s STREAMS -n COUNT -d DEPTH\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port = NULL, *count = "10";
	int nconn = 50, streams = 4, depth = 4;
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "-h"))
			host = argv[i + 1];
		else if (!strcmp(argv[i], "-p"))
			port = argv[i + 1];
		else
			usage();
	}
	if (!port || i >= argc)
		usage();
	if (!strcmp(argv[i], "fill") && i + 2 < argc) {
		cmd_fill(host, port, atoi(argv[i + 1]), atol(argv[i + 2]));
		return 0;
	}
	if (strcmp(argv[i], "consume"))
		usage();
	for (i++; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-c"))
			nconn = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-s"))
			streams = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-n"))
			count = argv[i + 1];
		else if (!strcmp(argv[i], "-d"))
			depth = atoi(argv[i + 1]);
		else
			usage();
	}
	if (i != argc || nconn < 1 || streams < 1 || depth < 1 || atoi(count) < 1)
		usage();
	cmd_consume(host, port, nconn, streams, count, depth);
	return 0;
}
