/*
 * kevy-mirror - keep a byte for byte copy of a kevy primary's data
 * directory over its replication stream.
 *
 *   kevy-mirror --host H --port P --dir D --threads N [--auth PASS]
 *               [--user NAME] [--timeout SECONDS]
 *   kevy-mirror --version
 *
 * It is the receiving half of a kevy replica without the keyspace: it
 * speaks the replica's handshake (REPLCONF capa kevy1, kevy-shards N,
 * PSYNC), verifies every frame (repl_format.c) and writes the files with
 * repl_mirror.c, the code a replica's link thread uses.  After a full sync
 * it writes kevy.replica (the primary's replication id); after a lost link
 * or a restart it asks for a partial resync from its own files (each
 * shard's newest segment, cut back to its last whole verified record).  A
 * frame that does not verify drops the link, is logged, and the next sync
 * is a full one.  A kevy started on the directory (after kevy-mirror
 * stops) loads the primary's data.  It reconnects with a backoff until
 * SIGTERM or SIGINT.  Exit: 0 on a signal, 2 on bad arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/kv.h"
#include "persist/repl_format.h"
#include "persist/repl_mirror.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void say(const char *fmt, ...)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s kevy-mirror: ", ts);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct opts {
	const char *host, *port, *dir, *auth, *user;
	uint32_t threads;
	int timeout_s;
};

static int dial(const struct opts *o)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int rc = getaddrinfo(o->host, o->port, &hints, &res);
	if (rc != 0) {
		say("cannot resolve %s: %s", o->host, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		struct timeval tv = { o->timeout_s, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

static int send_cmd(int fd, int argc, const char **argv)
{
	struct kv_buf b = KV_BUF_INIT;
	kv_buf_printf(&b, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++)
		kv_buf_printf(&b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
	size_t at = 0;
	int rc = 0;
	while (at < b.len) {
		ssize_t n = send(fd, b.data + at, b.len - at, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -1;
			break;
		}
		at += (size_t)n;
	}
	kv_buf_free(&b);
	return rc;
}

static int read_full(int fd, void *p, size_t n)
{
	size_t at = 0;
	while (at < n) {
		ssize_t r = recv(fd, (char *)p + at, n - at, 0);
		if (r < 0 && errno == EINTR && !g_stop)
			continue;
		if (r <= 0)
			return r == 0 ? -ECONNRESET : -errno;
		at += (size_t)r;
	}
	return 0;
}

/* One reply line (without CRLF), at most cap - 1 bytes. */
static int read_line(int fd, char *line, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char ch;
		int rc = read_full(fd, &ch, 1);
		if (rc < 0)
			return rc;
		if (ch == '\n')
			break;
		if (n + 1 < cap)
			line[n++] = ch;
	}
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

static int call(int fd, int argc, const char **argv, char *reply, size_t cap)
{
	if (send_cmd(fd, argc, argv) < 0)
		return -EPIPE;
	return read_line(fd, reply, cap);
}

/* One link: handshake, then frames until an error.  Returns 0 on a stop
 * signal, -1 otherwise; *full_next asks the next link for a full sync,
 * *synced says the primary accepted the sync (the backoff starts over). */
static int link_once(const struct opts *o, bool *full_next, bool *synced)
{
	char line[512], err[300], nshards[16];
	struct repl_state st;
	int fd = dial(o);
	if (fd < 0) {
		say("cannot connect to %s:%s: %s", o->host, o->port, strerror(errno));
		return -1;
	}
	if (o->auth) {
		const char *a2[] = { "AUTH", o->auth }, *a3[] = { "AUTH", o->user, o->auth };
		int rc = o->user ? call(fd, 3, a3, line, sizeof(line)) : call(fd, 2, a2, line, sizeof(line));
		if (rc < 0 || strcmp(line, "+OK") != 0) {
			say("AUTH refused by the primary (check masterauth/masteruser): %s", line);
			close(fd);
			return -1;
		}
	}
	snprintf(nshards, sizeof(nshards), "%u", o->threads);
	const char *hs[][3] = { { "REPLCONF", "capa", "kevy1" }, { "REPLCONF", "kevy-shards", nshards } };
	for (int i = 0; i < 2; i++) {
		if (call(fd, 3, hs[i], line, sizeof(line)) < 0 || strcmp(line, "+OK") != 0) {
			say("handshake refused: %s", line);
			close(fd);
			return -1;
		}
	}
	/* Resume from our own files when we hold a whole sync of this primary. */
	const char *want = "?";
	bool resume = !*full_next && repl_state_read(o->dir, &st, err, sizeof(err)) == 0 &&
		      st.shard_count == o->threads;
	for (uint32_t i = 0; resume && i < o->threads; i++) {
		uint64_t gen, off;
		char pos[96];
		if (repl_mirror_position(o->dir, i, &gen, &off, err, sizeof(err)) < 0) {
			resume = false;
			break;
		}
		snprintf(pos, sizeof(pos), "%u:%" PRIu64 ":%" PRIu64, i, gen, off);
		const char *a[] = { "REPLCONF", "kevy-pos", pos };
		if (call(fd, 3, a, line, sizeof(line)) < 0 || strcmp(line, "+OK") != 0) {
			say("REPLCONF kevy-pos refused: %s", line);
			close(fd);
			return -1;
		}
	}
	if (resume)
		want = st.replid;
	const char *ps[] = { "PSYNC", want, resume ? "0" : "-1" };
	if (call(fd, 3, ps, line, sizeof(line)) < 0) {
		say("no reply to PSYNC");
		close(fd);
		return -1;
	}
	char replid[REPL_REPLID_LEN + 1] = "";
	bool full;
	if (strncmp(line, "+FULLRESYNC ", 12) == 0 && repl_replid_ok(line + 12, REPL_REPLID_LEN)) {
		memcpy(replid, line + 12, REPL_REPLID_LEN);
		full = true;
		/* Until the sync ends the directory is no one's whole copy. */
		repl_state_remove(o->dir);
		say("full sync from %s:%s (replication id %s)", o->host, o->port, replid);
	} else if (strncmp(line, "+CONTINUE ", 10) == 0 && resume) {
		memcpy(replid, st.replid, sizeof(replid));
		full = false;
		say("partial resync from %s:%s (replication id %s)", o->host, o->port, replid);
	} else {
		say("the primary refused to sync: %s", line);
		close(fd);
		return -1;
	}
	*full_next = false;
	*synced = true;
	struct repl_mirror m;
	repl_mirror_init(&m, o->dir, o->threads);
	struct kv_buf payload = KV_BUF_INIT;
	int rc = 0;
	while (!g_stop) {
		uint8_t h[REPL_FRAME_HEADER_SIZE];
		struct repl_frame f;
		uint64_t check;
		rc = read_full(fd, h, sizeof(h));
		if (rc < 0)
			break;
		rc = repl_frame_decode_header(h, &f, &check, REPL_PAYLOAD_MAX, err, sizeof(err));
		if (rc == 0) {
			kv_buf_clear(&payload);
			kv_buf_reserve(&payload, f.payload_len + 1);
			rc = read_full(fd, payload.data, f.payload_len);
			if (rc < 0)
				break;
			rc = repl_frame_check_payload(&f, (uint8_t *)payload.data, check, err, sizeof(err));
		}
		if (rc == 0)
			rc = repl_mirror_apply(&m, &f, err, sizeof(err));
		if (rc < 0) {
			say("refused a frame from the primary: %s; dropping the link, the next sync is a "
			    "full one", err);
			*full_next = true;
			repl_state_remove(o->dir);
			break;
		}
		if (f.type == REPL_FRAME_SYNCED && full) {
			memset(&st, 0, sizeof(st));
			memcpy(st.replid, replid, sizeof(st.replid));
			st.shard_count = o->threads;
			st.synced_ms = kv_time_ms();
			repl_mirror_close(&m);
			repl_mirror_init(&m, o->dir, o->threads);
			m.seq = f.seq + 1;
			if (repl_state_write(o->dir, &st) < 0) {
				say("cannot write kevy.replica in %s", o->dir);
				rc = -EIO;
				break;
			}
			say("full sync done: offset %" PRIu64 ", streaming", f.offset);
		}
		if (f.type == REPL_FRAME_PING || f.type == REPL_FRAME_SYNCED) {
			char off[32];
			snprintf(off, sizeof(off), "%" PRIu64, f.offset);
			const char *ack[] = { "REPLCONF", "ACK", off };
			send_cmd(fd, 3, ack);
		}
	}
	if (!g_stop && rc < 0 && !*full_next)
		say("link lost: %s", rc == -EAGAIN ? "timeout" : kv_strerror(rc));
	kv_buf_free(&payload);
	repl_mirror_close(&m);
	close(fd);
	return g_stop ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: kevy-mirror --host H --port P --dir D --threads N [--auth PASS] "
			"[--user NAME] [--timeout SECONDS]\n       kevy-mirror --version\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .timeout_s = 60 };
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("kevy-mirror %s\n", KV_VERSION);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		const char *k = argv[i], *v = argv[++i];
		char *end;
		if (!strcmp(k, "--host")) o.host = v;
		else if (!strcmp(k, "--port")) o.port = v;
		else if (!strcmp(k, "--dir")) o.dir = v;
		else if (!strcmp(k, "--auth")) o.auth = v;
		else if (!strcmp(k, "--user")) o.user = v;
		else if (!strcmp(k, "--threads")) {
			unsigned long n = strtoul(v, &end, 10);
			if (*end || n < 1 || n > 1024)
				usage();
			o.threads = (uint32_t)n;
		} else if (!strcmp(k, "--timeout")) {
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > 3600)
				usage();
			o.timeout_s = (int)n;
		} else {
			usage();
		}
	}
	if (!o.host || !o.port || !o.dir || !o.threads)
		usage();
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	bool full_next = false;
	int backoff_ms = 100;
	while (!g_stop) {
		bool synced = false;
		if (link_once(&o, &full_next, &synced) == 0)
			break;
		if (synced)
			backoff_ms = 100;
		for (int waited = 0; waited < backoff_ms && !g_stop; waited += 50) {
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
		}
		backoff_ms = backoff_ms < 1000 ? backoff_ms * 2 : 2000;
	}
	say("stopping");
	return 0;
}
