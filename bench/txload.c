/*
 * txload.c - a pipelined MULTI/EXEC load generator for bench/multikey.sh:
 * several connections, each keeping several small transactions in flight
 * (pipelined RESP over plain sockets), for a fixed time.  It drives
 * redis-server and kevy-server alike; it is a benchmark tool, not part of
 * the server.
 *
 *   txload [-h host] -p port -c CONNS -d DEPTH -s SECONDS -r KEYSPACE multi
 *       CONNS connections, each with DEPTH transactions in flight.  One
 *       transaction is four commands sent back to back:
 *           MULTI
 *           SET key:<r1> xxx
 *           SET key:<r2> xxx
 *           EXEC
 *       with r1, r2 independent uniform random integers in [0, KEYSPACE),
 *       formatted like redis-benchmark's keys (key:%012d).  The replies
 *       must be exactly +OK, +QUEUED, +QUEUED and the EXEC array *2 of +OK,
 *       +OK; anything else is a protocol error (printed, exit 1).  As each
 *       transaction completes the connection sends the next one, until
 *       SECONDS have passed; then it stops sending, waits for the replies
 *       still in flight, and prints one line:
 *       "txns T seconds S txns_per_s R" (R = T / S, S from the first send
 *       to the last reply).
 *
 * Exit 0 on success, 1 on a protocol or socket error, 2 on usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One transaction's request is at most ~120 bytes (keys of up to 20
 * digits); its reply is 37 bytes.  The output buffer holds DEPTH of them,
 * the input buffer a fixed window that complete lines are consumed from. */
#define TXN_MAX 192
#define IN_CAP 65536
#define STALL_MS 10000   /* no transaction completes for this long: fail */

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "txload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

#include "loadnet.h"   /* load_connect(); uses die() */

/* ---- random keys (xorshift64*, one state per connection) ---- */

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n): rejection sampling, no modulo bias. */
static long rnd_below(uint64_t *s, long n)
{
	uint64_t un = (uint64_t)n, lim = UINT64_MAX - UINT64_MAX % un;
	uint64_t x;
	do
		x = rnd_next(s);
	while (x >= lim);
	return (long)(x % un);
}

/* ---- connections ---- */

/* The reply lines of one transaction, in order. */
static const char *const expect[] = { "+OK", "+QUEUED", "+QUEUED", "*2", "+OK", "+OK" };
#define NEXPECT (sizeof(expect) / sizeof(expect[0]))

struct conn {
	int fd;
	uint64_t rng;
	char *out;               /* pending request bytes: [off, len) */
	size_t out_len, out_off, out_cap;
	char in[IN_CAP];         /* received, unparsed bytes: [0, in_len) */
	size_t in_len;
	long inflight;           /* transactions sent (or queued) and not complete */
	unsigned line;           /* index into expect[] of the next reply line */
};


/* Append one transaction to the connection's output buffer. */
static void queue_txn(struct conn *c, long keyspace)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + TXN_MAX > c->out_cap) {   /* slide the unsent bytes down */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + TXN_MAX > c->out_cap)
		die("output buffer full");   /* cannot happen: sized for DEPTH txns */
	long r1 = rnd_below(&c->rng, keyspace), r2 = rnd_below(&c->rng, keyspace);
	int n = snprintf(c->out + c->out_len, c->out_cap - c->out_len,
			 "*1\r\n$5\r\nMULTI\r\n"
			 "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%012ld\r\n$3\r\nxxx\r\n"
			 "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%012ld\r\n$3\r\nxxx\r\n"
			 "*1\r\n$4\r\nEXEC\r\n",
			 snprintf(NULL, 0, "key:%012ld", r1), r1,
			 snprintf(NULL, 0, "key:%012ld", r2), r2);
	if (n < 0 || (size_t)n >= c->out_cap - c->out_len)
		die("transaction does not fit its buffer");
	c->out_len += (size_t)n;
	c->inflight++;
}

/* Consume every complete reply line in c->in; returns the transactions
 * completed.  Any line other than the expected one is a protocol error. */
static long parse_replies(struct conn *c, int idx)
{
	long done = 0;
	size_t pos = 0;
	for (;;) {
		char *nl = memchr(c->in + pos, '\n', c->in_len - pos);
		if (!nl)
			break;
		size_t end = (size_t)(nl - c->in), len = end - pos;
		if (len == 0 || c->in[end - 1] != '\r')
			die("connection %d: malformed reply line: %.*s", idx,
			    (int)(len > 200 ? 200 : len), c->in + pos);
		len--;   /* without the \r */
		const char *want = expect[c->line];
		if (c->inflight == 0 || len != strlen(want) || memcmp(c->in + pos, want, len) != 0)
			die("connection %d: protocol error: expected %s, got: %.*s", idx, want,
			    (int)(len > 200 ? 200 : len), c->in + pos);
		pos = end + 1;
		if (++c->line == NEXPECT) {
			c->line = 0;
			c->inflight--;
			done++;
		}
	}
	if (pos) {
		memmove(c->in, c->in + pos, c->in_len - pos);
		c->in_len -= pos;
	}
	if (c->in_len == IN_CAP)
		die("connection %d: reply line longer than %d bytes: %.60s", idx, IN_CAP, c->in);
	return done;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_multi(const char *host, const char *port, int nconn, int depth,
		      double seconds, long keyspace)
{
	struct conn *cs = calloc((size_t)nconn, sizeof(*cs));
	struct pollfd *pf = calloc((size_t)nconn, sizeof(*pf));
	if (!cs || !pf)
		die("out of memory");
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	for (int i = 0; i < nconn; i++) {
		struct conn *c = &cs[i];
		c->fd = load_connect(host, port, true);
		c->rng = (seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1)) | 1;
		c->out_cap = (size_t)depth * TXN_MAX;
		c->out = malloc(c->out_cap);
		if (!c->out)
			die("out of memory");
	}

	long txns = 0;
	double t0 = now_s(), deadline = t0 + seconds, last_progress = t0;
	bool stopping = false;
	for (int i = 0; i < nconn; i++)
		for (int d = 0; d < depth; d++)
			queue_txn(&cs[i], keyspace);

	for (;;) {
		double t = now_s();
		if (!stopping && t >= deadline)
			stopping = true;
		long inflight = 0;
		for (int i = 0; i < nconn; i++) {
			struct conn *c = &cs[i];
			inflight += c->inflight;
			bool want_out = c->out_len > c->out_off;
			pf[i].fd = c->inflight > 0 ? c->fd : -1;
			pf[i].events = (short)(POLLIN | (want_out ? POLLOUT : 0));
			pf[i].revents = 0;
		}
		if (stopping && inflight == 0)
			break;
		if (t - last_progress > STALL_MS / 1000.0)
			die("no reply in %d s (%ld transactions in flight)", STALL_MS / 1000,
			    inflight);
		int timeout = stopping ? 100 : (int)((deadline - t) * 1000) + 1;
		if (timeout > 100)
			timeout = 100;
		int rc = poll(pf, (nfds_t)nconn, timeout);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		for (int i = 0; i < nconn && rc > 0; i++) {
			struct conn *c = &cs[i];
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			if (pf[i].revents & POLLNVAL)
				die("connection %d: invalid socket", i);
			if (pf[i].revents & (POLLIN | POLLERR | POLLHUP)) {
				ssize_t r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
				if (r == 0)
					die("connection %d closed by the server", i);
				if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
					die("connection %d: read: %s", i, strerror(errno));
				if (r > 0) {
					c->in_len += (size_t)r;
					long done = parse_replies(c, i);
					if (done) {
						txns += done;
						last_progress = now_s();
					}
					if (!stopping)
						for (long k = 0; k < done; k++)
							queue_txn(c, keyspace);
				}
			}
			if (c->out_len > c->out_off) {
				ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
				if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
					die("connection %d: write: %s", i, strerror(errno));
				if (w > 0)
					c->out_off += (size_t)w;
				if (c->out_off == c->out_len)
					c->out_off = c->out_len = 0;
			}
		}
	}
	double secs = now_s() - t0;
	printf("txns %ld seconds %.3f txns_per_s %.0f\n", txns, secs,
	       secs > 0 ? (double)txns / secs : 0.0);
	for (int i = 0; i < nconn; i++) {
		close(cs[i].fd);
		free(cs[i].out);
	}
	free(cs);
	free(pf);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: txload [-h host] -p port -c CONNS -d DEPTH -s SECONDS -r KEYSPACE multi\n");
	exit(2);
}

/* A whole decimal number in [lo, hi], or a usage error. */
static long num_arg(const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port = NULL;
	long nconn = -1, depth = -1, seconds = -1, keyspace = -1;
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		if (!strcmp(o, "-h"))
			host = v;
		else if (!strcmp(o, "-p"))
			port = v;
		else if (!strcmp(o, "-c"))
			nconn = num_arg(v, 1, 10000);
		else if (!strcmp(o, "-d"))
			depth = num_arg(v, 1, 100000);
		else if (!strcmp(o, "-s"))
			seconds = num_arg(v, 1, 86400);
		else if (!strcmp(o, "-r"))
			keyspace = num_arg(v, 1, LONG_MAX);
		else
			usage();
	}
	if (!port || !*port || nconn < 0 || depth < 0 || seconds < 0 || keyspace < 0 ||
	    i + 1 != argc || strcmp(argv[i], "multi"))
		usage();
	signal(SIGPIPE, SIG_IGN);   /* a closed socket is reported by write() */
	run_multi(host, port, (int)nconn, (int)depth, (double)seconds, keyspace);
	return 0;
}
