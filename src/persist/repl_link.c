/*
 * repl_link.c - the replica's end of a replication link (repl_link.h).
 *
 * The handshake is Redis's plus kevy's lines (docs/replication.md): AUTH
 * when a password is set, REPLCONF listening-port (so the primary's INFO
 * and ROLE name the replica's port, which Sentinel uses to find it),
 * REPLCONF capa kevy1, REPLCONF kevy-shards N, then for a resume every
 * shard's position (REPLCONF kevy-pos shard:generation:offset, read from
 * the directory's own files) and PSYNC <replid> 0; a full sync asks PSYNC
 * ? -1.  Every frame is verified before it is written; one that does not
 * verify drops the link and asks the next one for a full sync.
 */
#include "persist/repl_link.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/kv.h"

static int link_dial(const struct repl_link_cfg *o)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int rc = getaddrinfo(o->host, o->port, &hints, &res);
	if (rc != 0) {
		o->say(o->arg, "cannot resolve %s: %s", o->host, gai_strerror(rc));
		return -1;
	}
	int fd = -1, err = 0;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		o->say(o->arg, "cannot connect to %s:%s: %s", o->host, o->port, strerror(err));
		return -1;
	}
	/* Reads wait a second at a time, so a stop is seen within one. */
	struct timeval tv = { o->timeout_s, 0 }, rtv = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof(rtv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int link_send(int fd, int argc, const char **argv)
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

/* The replica's acknowledgements.  It answers every PING and SYNCED frame
 * with REPLCONF ACK of its offset, and sends the newest such offset again
 * each second on its own (as a Redis replica acknowledges from its cron):
 * the primary's view of its lag then does not depend on how often the
 * primary pings (repl-ping-replica-period). */
struct link_acker {
	bool have;               /* a PING or SYNCED frame has been answered */
	uint64_t off;
	int64_t sent_ms;
};

static void link_ack(int fd, struct link_acker *ak, uint64_t off)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRIu64, off);
	const char *ack[] = { "REPLCONF", "ACK", s };
	link_send(fd, 3, ack);
	ak->have = true;
	ak->off = off;
	ak->sent_ms = kv_time_ms();
}

/* The once-a-second repeat, when one is due. */
static void link_ack_tick(int fd, struct link_acker *ak)
{
	if (ak && ak->have && kv_time_ms() - ak->sent_ms >= 1000)
		link_ack(fd, ak, ak->off);
}

/* n bytes; the socket's receive timeout is one second, so an idle link
 * also gives the acker its turn (ak may be NULL). */
static int link_read(const struct repl_link_cfg *o, int fd, void *p, size_t n,
		     struct link_acker *ak)
{
	size_t at = 0;
	int idle_s = 0;
	while (at < n) {
		ssize_t r = recv(fd, (char *)p + at, n - at, 0);
		if (r < 0 && errno == EINTR && !*o->stop)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (*o->stop)
				return -ECANCELED;
			link_ack_tick(fd, ak);
			if (++idle_s < o->timeout_s)
				continue;
			return -EAGAIN;   /* timeout */
		}
		if (r <= 0)
			return r == 0 ? -ECONNRESET : -errno;
		at += (size_t)r;
		idle_s = 0;
	}
	return 0;
}

/* One reply line (without CRLF), at most cap - 1 bytes. */
static int link_line(const struct repl_link_cfg *o, int fd, char *line, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char ch;
		int rc = link_read(o, fd, &ch, 1, NULL);
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

static int link_call(const struct repl_link_cfg *o, int fd, int argc, const char **argv,
		     char *reply, size_t cap)
{
	if (link_send(fd, argc, argv) < 0)
		return -EPIPE;
	return link_line(o, fd, reply, cap);
}

/* AUTH, REPLCONF lines, resume positions.  0, or -1 after saying why. */
static int link_handshake(const struct repl_link_cfg *o, int fd, bool resume, char *line,
			  size_t cap)
{
	if (o->auth) {
		const char *a2[] = { "AUTH", o->auth }, *a3[] = { "AUTH", o->user, o->auth };
		int rc = o->user ? link_call(o, fd, 3, a3, line, cap) : link_call(o, fd, 2, a2, line, cap);
		if (rc < 0 || strcmp(line, "+OK") != 0) {
			o->say(o->arg, "AUTH refused by the primary (check masterauth/masteruser): %s",
			       line);
			return -1;
		}
	}
	char nshards[16], lport[24];
	snprintf(nshards, sizeof(nshards), "%u", o->nshards);
	snprintf(lport, sizeof(lport), "%" PRId64, o->listening_port);
	const char *hs[][3] = { { "REPLCONF", "listening-port", lport },
				{ "REPLCONF", "capa", "kevy1" },
				{ "REPLCONF", "kevy-shards", nshards } };
	for (int i = o->listening_port > 0 ? 0 : 1; i < 3; i++) {
		if (link_call(o, fd, 3, hs[i], line, cap) < 0 || strcmp(line, "+OK") != 0) {
			o->say(o->arg, "handshake refused by %s:%s: %s", o->host, o->port, line);
			return -1;
		}
	}
	for (uint32_t i = 0; resume && i < o->nshards; i++) {
		uint64_t gen, off;
		char pos[96], err[300];
		if (repl_mirror_position(o->dir, i, &gen, &off, err, sizeof(err)) < 0)
			return 1;   /* no position: a full sync */
		snprintf(pos, sizeof(pos), "%u:%" PRIu64 ":%" PRIu64, i, gen, off);
		const char *a[] = { "REPLCONF", "kevy-pos", pos };
		if (link_call(o, fd, 3, a, line, cap) < 0 || strcmp(line, "+OK") != 0) {
			o->say(o->arg, "REPLCONF kevy-pos refused: %s", line);
			return -1;
		}
	}
	return 0;
}

static int link_session(const struct repl_link_cfg *o, int fd, bool *full_next, bool *synced);

int repl_link_run(const struct repl_link_cfg *o, bool *full_next, bool *synced)
{
	int fd = link_dial(o);
	if (fd < 0)
		return -1;
	if (o->on_fd)
		o->on_fd(o->arg, fd);
	int rc = link_session(o, fd, full_next, synced);
	if (o->on_fd)
		o->on_fd(o->arg, -1);
	close(fd);
	return rc;
}

/* Everything after the connect; the caller closes fd. */
static int link_session(const struct repl_link_cfg *o, int fd, bool *full_next, bool *synced)
{
	char line[512], err[300];
	struct repl_state st;
	/* Resume from our own files when they are a whole sync of a primary. */
	bool resume = !*full_next && repl_state_read(o->dir, &st, err, sizeof(err)) == 0 &&
		      st.shard_count == o->nshards;
	int hs = link_handshake(o, fd, resume, line, sizeof(line));
	if (hs < 0)
		return -1;
	if (hs > 0)
		resume = false;
	const char *ps[] = { "PSYNC", resume ? st.replid : "?", resume ? "0" : "-1" };
	if (link_call(o, fd, 3, ps, line, sizeof(line)) < 0) {
		o->say(o->arg, "no reply to PSYNC from %s:%s", o->host, o->port);
		return -1;
	}
	char replid[REPL_REPLID_LEN + 1] = "";
	const char *into = o->dir;
	bool full;
	if (strncmp(line, "+FULLRESYNC ", 12) == 0 && repl_replid_ok(line + 12, REPL_REPLID_LEN)) {
		memcpy(replid, line + 12, REPL_REPLID_LEN);
		full = true;
		o->say(o->arg, "full sync from %s:%s (replication id %s)", o->host, o->port, replid);
		into = o->full_begin(o->arg, replid);
	} else if (strncmp(line, "+CONTINUE", 9) == 0 && resume) {
		memcpy(replid, st.replid, sizeof(replid));
		full = false;
		/* A promoted replica resumes its former primary's replicas
		 * under its own id: keep that one from now on. */
		if (line[9] == ' ' && repl_replid_ok(line + 10, REPL_REPLID_LEN) &&
		    memcmp(line + 10, replid, REPL_REPLID_LEN) != 0) {
			memcpy(replid, line + 10, REPL_REPLID_LEN);
			memcpy(st.replid, replid, sizeof(st.replid));
			if (repl_state_write(o->dir, &st) < 0) {
				o->say(o->arg, "cannot write kevy.replica in %s", o->dir);
				return -1;
			}
		}
		o->say(o->arg, "partial resync from %s:%s (replication id %s)", o->host, o->port,
		       replid);
		if (o->continue_begin(o->arg, replid) < 0)
			into = NULL;
	} else {
		o->say(o->arg, "the primary %s:%s refused to sync: %s", o->host, o->port, line);
		return -1;
	}
	if (!into) {
		*full_next = true;
		return -1;
	}
	*full_next = false;
	*synced = true;
	struct repl_mirror m;
	repl_mirror_init(&m, into, o->nshards);
	struct kv_buf payload = KV_BUF_INIT;
	int rc = 0;
	bool streaming = !full;
	struct link_acker acker = { 0 };
	while (!*o->stop) {
		uint8_t h[REPL_FRAME_HEADER_SIZE];
		struct repl_frame f;
		uint64_t check;
		rc = link_read(o, fd, h, sizeof(h), &acker);
		if (rc < 0)
			break;
		rc = repl_frame_decode_header(h, &f, &check, REPL_PAYLOAD_MAX, err, sizeof(err));
		if (rc == 0) {
			kv_buf_clear(&payload);
			kv_buf_reserve(&payload, f.payload_len + 1);
			rc = link_read(o, fd, payload.data, f.payload_len, &acker);
			if (rc < 0)
				break;
			rc = repl_frame_check_payload(&f, (uint8_t *)payload.data, check, err,
						      sizeof(err));
		}
		bool local = false;   /* this side's disk failed, not the stream */
		if (rc == 0) {
			rc = repl_mirror_apply(&m, &f, err, sizeof(err));
			local = rc < 0 && rc > KV_ERR_BASE;
		}
		if (rc == 0 && streaming && o->frame && o->frame(o->arg, &f) < 0) {
			if (*o->stop)
				break;   /* stopping, not a bad frame */
			snprintf(err, sizeof(err), "its records could not be applied");
			rc = KV_ECORRUPT;
		}
		/* Apply in batches: when nothing more is waiting, and always
		 * before an acknowledgement. */
		if (rc == 0 && streaming && o->flush) {
			char peek;
			bool ack = f.type == REPL_FRAME_PING || f.type == REPL_FRAME_SYNCED;
			if ((ack || recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) &&
			    o->flush(o->arg) < 0) {
				if (*o->stop)
					break;
				snprintf(err, sizeof(err), "its records could not be applied");
				rc = KV_ECORRUPT;
			}
		}
		if (rc < 0 && local) {
			o->say(o->arg, "could not store what the primary sent (%s); dropping the "
			       "link, the next sync is a full one", err);
			*full_next = true;
			repl_state_remove(o->dir);
			break;
		}
		if (rc < 0) {
			o->say(o->arg, "refused a frame from the primary: %s; dropping the link, the "
			       "next sync is a full one", err);
			*full_next = true;
			repl_state_remove(o->dir);
			break;
		}
		if (f.type == REPL_FRAME_SYNCED && full && !streaming) {
			repl_mirror_close(&m);
			rc = o->synced(o->arg, replid, f.offset);
			if (rc < 0) {
				*full_next = true;
				break;
			}
			repl_mirror_init(&m, o->dir, o->nshards);
			m.seq = f.seq + 1;
			streaming = true;
			o->say(o->arg, "full sync done: offset %" PRIu64 ", streaming", f.offset);
		}
		if (f.type == REPL_FRAME_PING || f.type == REPL_FRAME_SYNCED)
			link_ack(fd, &acker, f.offset);
		else
			link_ack_tick(fd, &acker);
	}
	if (!*o->stop && rc < 0 && !*full_next)
		o->say(o->arg, "link lost: %s (primary %s:%s)",
		       rc == -EAGAIN ? "timeout" : kv_strerror(rc), o->host, o->port);
	kv_buf_free(&payload);
	repl_mirror_close(&m);
	return *o->stop ? 0 : -1;
}
