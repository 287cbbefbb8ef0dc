/*
 * repl.c - the replication commands a primary answers: ROLE, REPLCONF, and
 * the handshake's end, PSYNC and SYNC.
 *
 * kevy replicates physically (docs/replication.md): a replica mirrors its
 * primary's data files, so only a kevy replica with the same shard count can
 * follow a kevy primary.  A replica says it is one in the handshake Redis
 * replicas already use: `REPLCONF capa kevy1` and `REPLCONF kevy-shards N`
 * before PSYNC.  This file checks that handshake and refuses, with a reply
 * that says why, a replica that cannot follow this server: a redis-server
 * (no kevy capability: it logs our reply), and a kevy replica with another
 * shard count.  A matching kevy replica's socket goes to a sender thread
 * that streams the files (repl_format.c's frames): a full sync, or a
 * partial one from the positions the replica gave (REPLCONF kevy-pos),
 * then the newly durable records; it reads the replica's REPLCONF ACKs,
 * which INFO and ROLE show.  docs/replication.md lists what is done and
 * what is not (the replica side).
 *
 * REPLCONF answers a client's options as Redis 7.0 does: an option without
 * a value is a syntax error, an unknown option is named, listening-port
 * must be an integer, ACK from a connection that is not a replica gets no
 * reply at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/le.h"
#include "base/log.h"
#include "commands/cmd.h"
#include "commands/cmd_persist.h"
#include "commands/config.h"
#include "persist/aof.h"
#include "persist/aof_format.h"
#include "persist/fn_file.h"
#include "persist/kvio.h"
#include "persist/manifest.h"
#include "persist/repl_format.h"
#include "proto/resp.h"
#include "server/server.h"
#include "server/shard.h"

#define REPL_CAPA_KEVY "kevy1"
#define REPL_IP_MAX 256 /* Redis 7.0's NET_HOST_STR_LEN */

/* REPLCONF kevy-pos <shard>:<generation>:<offset>: the newest segment of
 * that shard a replica holds, and its length (partial resync). */
static int repl_parse_pos(struct cmd_ctx *c, const struct kv_slice *val)
{
	char tmp[80], *end;
	unsigned long long v[3];

	if (val->len == 0 || val->len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, val->ptr, val->len);
	tmp[val->len] = '\0';
	const char *p = tmp;
	for (int i = 0; i < 3; i++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (errno || *end != (i < 2 ? ':' : '\0'))
			return -EINVAL;
		p = end + 1;
	}
	if (v[0] >= c->nshards)
		return -EINVAL;
	struct conn *conn = c->conn;
	if (!conn->repl_pos)
		conn->repl_pos = kv_calloc(c->nshards, sizeof(*conn->repl_pos));
	conn->repl_pos[v[0]] = (struct repl_pos){ .generation = v[1], .offset = v[2], .given = true };
	return 0;
}

/* REPLCONF <option> <value> [<option> <value> ...] */
static void cmd_replconf(struct cmd_ctx *c)
{
	struct conn *conn = c->conn;

	if (c->argc % 2 == 0) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	for (int j = 1; j < c->argc; j += 2) {
		const struct kv_slice *opt = &c->argv[j], *val = &c->argv[j + 1];
		int64_t n;
		if (arg_is(opt, "listening-port")) {
			if (!arg_to_int64(val, &n)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
			conn->repl_port = n;
		} else if (arg_is(opt, "ip-address")) {
			if (val->len >= REPL_IP_MAX) {
				resp_errorf(c->out, "ERR REPLCONF ip-address provided by replica instance "
					    "is too long: %zu bytes", val->len);
				return;
			}
		} else if (arg_is(opt, "capa")) {
			/* Capabilities this server does not know are ignored, as
			 * Redis ignores them; eof and psync2 are Redis's. */
			if (arg_is(val, REPL_CAPA_KEVY))
				conn->repl_kevy = true;
		} else if (arg_is(opt, "kevy-shards")) {
			if (!arg_to_int64(val, &n) || n < 1 || n > UINT32_MAX) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
			conn->repl_shards = (uint32_t)n;
		} else if (arg_is(opt, "kevy-pos")) {
			if (repl_parse_pos(c, val) < 0) {
				resp_error(c->out, "ERR REPLCONF kevy-pos wants <shard>:<generation>:<offset> "
						   "with a shard below the shard count");
				return;
			}
		} else if (arg_is(opt, "ack") || arg_is(opt, "getack")) {
			/* From a connection that is not a replica's link, Redis
			 * answers nothing; a replica's link is its sender's, never
			 * a shard's connection. */
			return;
		} else if (arg_is(opt, "rdb-only")) {
			if (!arg_to_int64(val, &n) || n < 0 || n > 1) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
		} else {
			resp_errorf(c->out, "ERR Unrecognized REPLCONF option: %.*s", (int)opt->len,
				    opt->ptr);
			return;
		}
	}
	resp_ok(c->out);
}

/* Why this connection cannot be served as a replica.  A redis-server logs
 * the reply ("Unexpected reply to PSYNC from master: ..."), so it says what
 * to do. */
static void repl_handshake(struct cmd_ctx *c)
{
	struct conn *conn = c->conn;

	if (!conn->repl_kevy) {
		resp_error(c->out, "ERR kevy replicates only to kevy replicas (a kevy replica says "
				   "REPLCONF capa kevy1): a redis-server cannot be a replica of kevy");
		return;
	}
	if (conn->repl_shards != c->nshards) {
		if (conn->repl_shards == 0)
			resp_error(c->out, "ERR a kevy replica must say its shard count "
					   "(REPLCONF kevy-shards N) before PSYNC");
		else
			resp_errorf(c->out, "ERR the primary runs %" PRIu32 " shards, this replica %"
				    PRIu32 ": start the replica with --threads %" PRIu32, c->nshards,
				    conn->repl_shards, c->nshards);
		return;
	}
	if (!atomic_load(&g_config.appendonly)) {
		resp_error(c->out, "ERR kevy replicates its AOF files: turn appendonly on to serve replicas");
		return;
	}
	if (atomic_load(&g_server.repl_role) != REPL_ROLE_PRIMARY) {
		resp_error(c->out, "ERR this kevy is a replica: connect replicas to its primary "
				   "(kevy does not chain replicas)");
		return;
	}
	/* Served: no reply here.  The connection closes once its earlier
	 * replies are out, and the shard hands its socket to a sender thread
	 * (shard_conn_io_done -> repl_sender_start), which writes
	 * +FULLRESYNC and the files. */
	conn->repl_handoff = true;
	c->rt->conn_close_after_reply(conn);
}

/* ---- the sender: one thread per replica, files to the socket ----
 *
 * It owns the socket (handed over by the shard once the connection's
 * earlier replies are out: shard_conn_io_done) and only reads files and
 * writes frames; it never touches a keyspace.  Woken when a shard's durable
 * LSN moves (and every REPL_IDLE_MS), it reads every shard's manifest and
 * durable LSN: a file the manifest names
 * is sent whole when it can no longer change (a snapshot, a segment with a
 * later one after it), the current segment only up to its last record the
 * shard has made durable.  The manifest itself follows the files it names.
 */

#define REPL_IDLE_MS 100
#define REPL_SYNC_POINT_MS 1000
#define REPL_CHUNK (1u << 20)
#define REPL_FILES_MAX 16

struct repl_sent {
	char name[MANIFEST_NAME_MAX + 1];
	uint8_t kind;
	uint64_t generation;
	uint64_t off;           /* bytes sent */
	bool done;              /* committed: it will not change */
	bool seen;              /* named by the manifest of this pass */
	/* The segment being streamed, kept open: a snapshot that commits
	 * between two passes unlinks it, and its last records are still
	 * read from here (sent_flush_unnamed).  -1: not open. */
	int fd;
};

struct repl_shard_state {
	struct repl_sent files[REPL_FILES_MAX];
	uint32_t nfiles;
	struct kv_buf manifest;  /* the manifest bytes last sent */
	/* Every record up to this LSN has been sent (the durable LSN the last
	 * complete pass read). */
	uint64_t sent_lsn;
	/* client-output-buffer-limit replica (sender_owed): the bytes of its
	 * newest segment sent, and the shard's segment size when the link
	 * started (a sync's backlog is not counted, as Redis counts only what
	 * accumulates after its snapshot). */
	uint64_t live_sent, base, live_gen;
};

/* The PING and SYNCED frames carry an offset, the sum of the shards'
 * sent_lsn; a replica answers REPLCONF ACK <that offset> once it has
 * written everything before the frame.  The sender keeps the per-shard
 * LSNs behind its last few offsets, so an ACK says exactly which records
 * of which shard the replica holds (WAIT counts by them). */
#define REPL_PINGS_KEPT 8

struct repl_sender {
	int fd;
	uint32_t nshards;
	/* functions.kevy as last sent (it is replaced by a rename at each
	 * change, so its inode and times tell a new one). */
	bool fn_sent;
	uint64_t fn_ino, fn_size;
	int64_t fn_mtime_ns;
	const struct cmd_runtime *rt;
	char *dir;
	char replid[REPL_REPLID_LEN + 1];
	char peer[64];
	uint64_t seq;
	struct kv_buf out;
	struct repl_shard_state *shards;
	struct repl_pos *pos;    /* what the replica holds (REPLCONF kevy-pos), or NULL */
	char want[REPL_REPLID_LEN + 1]; /* PSYNC's replication id */
	/* What the replica sends: REPLCONF ACK <offset>. */
	struct kv_buf in;
	struct resp_parser parser;
	struct resp_limits limits;
	/* Shown by INFO and ROLE (g_repl_lock). */
	struct replica_info info;
	int64_t ack_ms;
	int64_t fsync_asked_ms;  /* sender_ask_fsync */
	/* The offsets of the last PING/SYNCED frames and their LSN vectors
	 * (REPL_PINGS_KEPT x nshards), and the vector the replica last
	 * acknowledged (g_repl_lock; NULL-filled zeros until one is). */
	uint64_t ping_off[REPL_PINGS_KEPT];
	uint64_t *ping_lsns;
	unsigned ping_next;
	uint64_t *acked_lsns;
	uint64_t getack_seen;    /* g_repl_getack when last answered */
	int64_t soft_since;      /* over the soft limit since (ms), 0: not over */
	struct repl_sender *next;
};

static _Atomic uint32_t g_repl_senders;
/* INFO's sync_full, sync_partial_ok, sync_partial_err. */
static _Atomic uint64_t g_sync_full, g_sync_partial_ok, g_sync_partial_err;
static pthread_mutex_t g_repl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct repl_sender *g_repl_list;
/* WAIT: how many clients wait on any shard (the senders wake the shards
 * on an ACK only then), and the generation a blocking WAIT bumps to make
 * every sender ask its replica for an ACK at once. */
static _Atomic int64_t g_repl_waiting;
static _Atomic uint64_t g_repl_getack;

/* min-replicas-to-write: the replicas online that acknowledged within
 * min-replicas-max-lag seconds, counted after each ACK, each link change
 * and by shard 0's cron (lag grows with no event). */
static _Atomic int64_t g_repl_good;

void repl_refresh_good(int64_t now_ms)
{
	int64_t max_lag = atomic_load(&g_config.min_replicas_max_lag);
	int64_t good = 0;
	pthread_mutex_lock(&g_repl_lock);
	for (struct repl_sender *rs = g_repl_list; rs; rs = rs->next)
		if (strcmp(rs->info.state, "online") == 0 && (now_ms - rs->ack_ms) / 1000 <= max_lag)
			good++;
	pthread_mutex_unlock(&g_repl_lock);
	atomic_store(&g_repl_good, good);
}

const char *repl_write_refused(void)
{
	/* A replica's keyspace changes only by its primary's records
	 * (server/replica.c); kevy's replicas are always read-only. */
	if (atomic_load_explicit(&g_server.repl_role, memory_order_relaxed) != REPL_ROLE_PRIMARY)
		return "READONLY You can't write against a read only replica.";
	int64_t min = atomic_load_explicit(&g_config.min_replicas_to_write, memory_order_relaxed);
	if (min <= 0 || atomic_load_explicit(&g_config.min_replicas_max_lag,
					     memory_order_relaxed) <= 0)
		return NULL;
	if (atomic_load_explicit(&g_repl_good, memory_order_relaxed) >= min)
		return NULL;
	return "NOREPLICAS Not enough good replicas to write.";
}

const char *repl_stale_refused(void)
{
	if (atomic_load_explicit(&g_server.repl_role, memory_order_relaxed) == REPL_ROLE_PRIMARY ||
	    atomic_load_explicit(&g_server.repl_link_up, memory_order_relaxed) ||
	    atomic_load_explicit(&g_config.replica_serve_stale_data, memory_order_relaxed))
		return NULL;
	return "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
}

static void repl_wake_waiters(const struct repl_sender *rs)
{
	for (uint32_t i = 0; i < rs->nshards; i++)
		rs->rt->wake(i);
}

void repl_replicas_foreach(void (*fn)(void *arg, const struct replica_info *ri), void *arg)
{
	int64_t now = kv_time_ms();
	pthread_mutex_lock(&g_repl_lock);
	for (struct repl_sender *rs = g_repl_list; rs; rs = rs->next) {
		struct replica_info ri = rs->info;
		ri.lag_s = (now - rs->ack_ms) / 1000;
		fn(arg, &ri);
	}
	pthread_mutex_unlock(&g_repl_lock);
}

static void sender_list(struct repl_sender *rs, bool add)
{
	pthread_mutex_lock(&g_repl_lock);
	struct repl_sender **pp = &g_repl_list;
	while (*pp && *pp != rs)
		pp = &(*pp)->next;
	if (add && !*pp)
		*pp = rs;
	else if (!add && *pp)
		*pp = rs->next;
	pthread_mutex_unlock(&g_repl_lock);
}

/* Read what the replica sent, without waiting: REPLCONF ACK <offset>
 * records its offset; anything else is ignored, as a Redis master ignores
 * a replica's other chatter.  0, or an error that ends the link. */
static int sender_read(struct repl_sender *rs)
{
	char tmp[4096];
	for (;;) {
		ssize_t n = recv(rs->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		kv_buf_append(&rs->in, tmp, (size_t)n);
		if (rs->in.len > (1u << 20))
			return KV_ELIMIT;
	}
	size_t at = 0;
	for (;;) {
		int argc;
		struct kv_slice *argv;
		const char *err;
		int64_t used = resp_parse(&rs->parser, rs->in.data + at, rs->in.len - at, &argc, &argv, &err);
		if (used == RESP_NEED_MORE)
			break;
		if (used < 0) {
			log_warning("replica %s: %s", rs->peer, err);
			return KV_EPROTO;
		}
		int64_t off;
		if (argc == 3 && arg_is(&argv[0], "replconf") && arg_is(&argv[1], "ack") &&
		    arg_to_int64(&argv[2], &off) && off >= 0) {
			pthread_mutex_lock(&g_repl_lock);
			rs->info.offset = (uint64_t)off;
			rs->ack_ms = kv_time_ms();
			/* The newest PING with that offset says what it covers. */
			for (unsigned k = 1; k <= REPL_PINGS_KEPT; k++) {
				unsigned p = (rs->ping_next + REPL_PINGS_KEPT - k) % REPL_PINGS_KEPT;
				if (rs->ping_off[p] != (uint64_t)off)
					continue;
				memcpy(rs->acked_lsns, rs->ping_lsns + (size_t)p * rs->nshards,
				       rs->nshards * sizeof(uint64_t));
				break;
			}
			pthread_mutex_unlock(&g_repl_lock);
			repl_refresh_good(kv_time_ms());
			if (atomic_load(&g_repl_waiting) > 0)
				repl_wake_waiters(rs);
		}
		at += (size_t)used;
	}
	kv_buf_consume(&rs->in, at);
	return 0;
}

/* What this replica's link owes it: bytes of records the shards wrote
 * since the link started that were not sent, counted in each shard's
 * current segment (a rotation starts the count again).  kevy's sender
 * streams from the files and holds one chunk, so this is what Redis's
 * replica output buffer would hold. */
static uint64_t sender_owed(const struct repl_sender *rs)
{
	uint64_t owed = 0;
	for (uint32_t i = 0; i < rs->nshards; i++) {
		uint64_t cur = atomic_load_explicit(&rs->rt->aof(i)->info.current_size,
						    memory_order_relaxed);
		uint64_t from = KV_MAX(rs->shards[i].live_sent, rs->shards[i].base);
		if (cur > from)
			owed += cur - from;
	}
	return owed;
}

/* client-output-buffer-limit replica <hard> <soft> <seconds>: the link is
 * cut when it owes hard bytes or more, or soft bytes or more for longer
 * than seconds, as Redis closes a replica over its limits.  The replica
 * then reconnects and resumes from its files, or syncs in full. */
static bool sender_over_limit(struct repl_sender *rs)
{
	int64_t hard = atomic_load(&g_config.obuf_replica_hard);
	int64_t soft = atomic_load(&g_config.obuf_replica_soft);
	if (!hard && !soft)
		return false;
	uint64_t owed = sender_owed(rs);
	int64_t now = kv_time_ms();
	if (hard && owed >= (uint64_t)hard) {
		log_warning("replica %s: %" PRIu64 " bytes of records not sent, over "
			    "client-output-buffer-limit replica's hard limit (%" PRId64 "): "
			    "disconnecting it", rs->peer, owed, hard);
		return true;
	}
	if (!soft || owed < (uint64_t)soft) {
		rs->soft_since = 0;
		return false;
	}
	int64_t secs = atomic_load(&g_config.obuf_replica_soft_s);
	if (!rs->soft_since)
		rs->soft_since = now;
	else if (now - rs->soft_since > secs * 1000) {
		log_warning("replica %s: %" PRIu64 " bytes of records not sent, over "
			    "client-output-buffer-limit replica's soft limit (%" PRId64 ") for %" PRId64
			    " s: disconnecting it", rs->peer, owed, soft, (now - rs->soft_since) / 1000);
		return true;
	}
	return false;
}

static int sender_flush(struct repl_sender *rs)
{
	size_t at = 0;
	int64_t stalled_since = 0;
	while (at < rs->out.len) {
		ssize_t n = send(rs->fd, rs->out.data + at, rs->out.len - at, MSG_NOSIGNAL);
		/* The send timeout (repl_sender_start) lets a sender stuck on a
		 * replica that stopped reading see the server stopping. */
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (atomic_load(&g_server.shutdown))
				return -ESHUTDOWN;
			if (sender_over_limit(rs))
				return -ENOBUFS;
			/* ... and a replica that stopped reading (during a full sync
			 * too: no progress, not no ACK, as Redis's "timedout replica
			 * (full sync)") loses its link after repl-timeout. */
			int64_t now = kv_time_ms();
			if (!stalled_since)
				stalled_since = now;
			if (now - stalled_since > atomic_load(&g_config.repl_timeout) * 1000) {
				log_warning("replica %s: not reading for %lld s (repl-timeout): "
					    "disconnecting it", rs->peer,
					    (long long)(now - stalled_since) / 1000);
				return -ETIMEDOUT;
			}
			continue;
		}
		stalled_since = 0;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		at += (size_t)n;
	}
	kv_buf_clear(&rs->out);
	return sender_over_limit(rs) ? -ENOBUFS : 0;
}

static int sender_frame(struct repl_sender *rs, uint8_t type, uint8_t kind, uint32_t shard,
			uint64_t gen, uint64_t off, const void *payload, uint32_t len)
{
	struct repl_frame f = { .type = type, .kind = kind, .shard = shard, .generation = gen,
				.offset = off, .seq = rs->seq++, .payload = payload,
				.payload_len = len };
	repl_frame_encode(&rs->out, &f);
	return rs->out.len >= REPL_CHUNK ? sender_flush(rs) : 0;
}

/* Send bytes [from, to) of path as DATA frames. */
static int sender_range(struct repl_sender *rs, const char *path, uint8_t kind, uint32_t shard,
			uint64_t gen, uint64_t from, uint64_t to)
{
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_RDONLY, 0);
	if (rc < 0)
		return rc;
	uint8_t *buf = kv_malloc(REPL_CHUNK);
	while (rc == 0 && from < to) {
		size_t want = to - from < REPL_CHUNK ? (size_t)(to - from) : REPL_CHUNK;
		ssize_t n = kvio_pread(&f, buf, want, from);
		if (n <= 0) {
			rc = n < 0 ? (int)n : -ENODATA;
			break;
		}
		rc = sender_frame(rs, REPL_FRAME_DATA, kind, shard, gen, from, buf, (uint32_t)n);
		from += (uint64_t)n;
	}
	free(buf);
	kvio_close(&f);
	return rc;
}

/* Where the records of a segment open as fd end, from off (a record
 * boundary): after the last whole record with an LSN the shard has fsynced
 * (<= durable_lsn) before limit, or after its SEGMENT_END; preallocated
 * zeros (type 0) end them too.  The headers are the server's own, written
 * before: not verified here. */
static int records_end(int fd, uint64_t off, uint64_t durable_lsn, uint64_t limit,
		       uint64_t *end)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* Under appendfsync always the shard writes its segment with O_DIRECT
	 * (durability.md, "Direct writes"): drop cached pages from off on, so
	 * that this read and the sender's cannot see a page cached before a
	 * direct write of its block. */
	(void)posix_fadvise(fd, (off_t)off, 0, POSIX_FADV_DONTNEED);
	uint64_t size = (uint64_t)st.st_size;
	if (off < AOF_HEADER_SIZE)
		off = size >= AOF_HEADER_SIZE ? AOF_HEADER_SIZE : 0;
	while (off && off < limit && off + AOF_RECORD_HEADER_SIZE <= size) {
		uint8_t h[AOF_RECORD_HEADER_SIZE];
		if (pread(fd, h, sizeof(h), (off_t)off) != (ssize_t)sizeof(h))
			break;
		uint64_t next = off + AOF_RECORD_HEADER_SIZE + le_get32(h + 8);
		bool end_rec = h[12] == AOF_REC_SEGMENT_END;
		if (next > size || (!aof_rec_numbered(h[12]) && !end_rec) ||
		    le_get64(h + 16) > durable_lsn)
			break;
		off = next;
		if (end_rec)
			break;
	}
	*end = off;
	return 0;
}

static int durable_end(const char *path, uint64_t off, uint64_t durable_lsn, uint64_t limit,
		       uint64_t *end)
{
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_RDONLY, 0);
	if (rc < 0)
		return rc;
	rc = records_end(f.fd, off, durable_lsn, limit, end);
	kvio_close(&f);
	return rc;
}

static struct repl_sent *sent_find(struct repl_shard_state *st, const char *name, uint8_t kind,
				   uint64_t gen, bool *fresh)
{
	*fresh = false;
	for (uint32_t i = 0; i < st->nfiles; i++)
		if (strcmp(st->files[i].name, name) == 0)
			return &st->files[i];
	/* Forget files the manifest no longer names to make room. */
	if (st->nfiles == REPL_FILES_MAX) {
		uint32_t keep = 0;
		for (uint32_t i = 0; i < st->nfiles; i++) {
			if (st->files[i].seen)
				st->files[keep++] = st->files[i];
			else if (st->files[i].fd >= 0)
				close(st->files[i].fd);
		}
		st->nfiles = keep;
		if (keep == REPL_FILES_MAX)
			return NULL;
	}
	struct repl_sent *f = &st->files[st->nfiles++];
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->kind = kind;
	f->generation = gen;
	*fresh = true;
	return f;
}

static const char *path_of_manifest(const struct repl_sender *rs, uint32_t i, char *path,
				    size_t cap)
{
	snprintf(path, cap, "%s/kevy-s%u.manifest", rs->dir, i);
	return path;
}

/* One pass over shard i: new bytes of its files, then its manifest if it
 * changed.  Returns 0, -EAGAIN when a file vanished because the manifest
 * changed under the pass (run it again), or -errno / KV_* (the link is
 * then dropped). */
/* Segments this sender streamed that the manifest no longer names, not yet
 * committed: a snapshot committed between two passes and dropped one
 * before its last records were sent.  They are durable (the snapshot's
 * commit waited for them) and, the descriptor being open, still readable:
 * sent and committed now, before anything of the new manifest, so the
 * replica receives every record in order. */
static int sent_flush_unnamed(struct repl_sender *rs, uint32_t i, const struct manifest *m)
{
	struct repl_shard_state *st = &rs->shards[i];
	int rc = 0;
	for (uint32_t k = 0; rc == 0 && k < st->nfiles; k++) {
		struct repl_sent *f = &st->files[k];
		bool named = false;
		for (uint32_t j = 0; j < m->nentries && !named; j++)
			named = strcmp(m->entries[j].name, f->name) == 0;
		if (named || f->done || f->fd < 0 || f->kind != REPL_KIND_AOF)
			continue;
		/* Its records, not the preallocated zeros after them. */
		uint64_t size = 0;
		rc = records_end(f->fd, f->off, UINT64_MAX, UINT64_MAX, &size);
		uint8_t *buf = rc == 0 ? kv_malloc(REPL_CHUNK) : NULL;
		while (rc == 0 && f->off < size) {
			uint64_t left = size - f->off;
			ssize_t n = pread(f->fd, buf, left < REPL_CHUNK ? (size_t)left : REPL_CHUNK,
					  (off_t)f->off);
			if (n <= 0) {
				rc = n < 0 ? -errno : -ENODATA;
				break;
			}
			rc = sender_frame(rs, REPL_FRAME_DATA, f->kind, i, f->generation, f->off, buf,
					  (uint32_t)n);
			f->off += (uint64_t)n;
		}
		free(buf);
		if (rc == 0)
			rc = sender_frame(rs, REPL_FRAME_COMMIT, f->kind, i, f->generation, f->off, NULL,
					  0);
		f->done = true;
		close(f->fd);
		f->fd = -1;
	}
	return rc;
}

static int sender_shard_pass(struct repl_sender *rs, uint32_t i)
{
	struct repl_shard_state *st = &rs->shards[i];
	char path[4200], name[64];
	struct kv_buf raw = KV_BUF_INIT;
	struct manifest m;
	char msg[200];

	snprintf(name, sizeof(name), "kevy-s%u.manifest", i);
	snprintf(path, sizeof(path), "%s/%s", rs->dir, name);
	/* The durable LSN is read before the manifest: a segment the manifest
	 * names is then never judged by a newer LSN than its files show. */
	uint64_t durable = atomic_load(&rs->rt->aof(i)->info.durable_lsn);
	int rc = manifest_read_file(path, 1 << 20, &raw);
	if (rc == 0)
		rc = manifest_decode((const uint8_t *)raw.data, raw.len, &m, msg, sizeof(msg));
	if (rc < 0) {
		kv_buf_free(&raw);
		return rc;
	}
	int last_aof = -1;
	bool snap = false, known = false;
	for (uint32_t k = 0; k < m.nentries; k++) {
		if (m.entries[k].kind == MANIFEST_AOF)
			last_aof = (int)k;
		snap |= m.entries[k].kind == MANIFEST_SNAPSHOT;
		for (uint32_t j = 0; j < st->nfiles; j++)
			known |= strcmp(st->files[j].name, m.entries[k].name) == 0;
	}
	if (st->nfiles > 0 && !snap && !known) {
		/* Every file replaced, and no snapshot: the AOF was rewritten
		 * (appendonly turned back on).  Its records restate the whole
		 * keyspace under new LSNs, which a replica cannot apply on top
		 * of what it has: it resyncs in full (its files are no longer
		 * named, so its next PSYNC gets a full sync). */
		log_notice("replica %s: shard %u's AOF was rewritten: the replica resyncs in full",
			   rs->peer, i);
		manifest_free(&m);
		kv_buf_free(&raw);
		return KV_EMISMATCH;
	}
	rc = sent_flush_unnamed(rs, i, &m);
	for (uint32_t k = 0; k < st->nfiles; k++)
		st->files[k].seen = false;
	for (uint32_t k = 0; rc == 0 && k < m.nentries; k++) {
		const struct manifest_entry *e = &m.entries[k];
		uint8_t kind = e->kind == MANIFEST_AOF ? REPL_KIND_AOF : REPL_KIND_SNAPSHOT;
		bool fresh;
		struct repl_sent *f = sent_find(st, e->name, kind, e->generation, &fresh);
		if (!f) {
			rc = KV_ELIMIT;
			break;
		}
		f->seen = true;
		if (fresh)
			rc = sender_frame(rs, REPL_FRAME_FILE, kind, i, e->generation, 0, e->name,
					  (uint32_t)strlen(e->name));
		if (rc < 0 || f->done)
			continue;
		snprintf(path, sizeof(path), "%s/%s", rs->dir, e->name);
		uint64_t end = 0;
		bool whole = (int)k != last_aof;
		if (!whole && st->live_gen && st->live_gen != e->generation)
			st->live_sent = st->base = 0;   /* a segment newer than the link */
		if (!whole)
			st->live_gen = e->generation;
		if (whole && kind == REPL_KIND_SNAPSHOT) {
			struct stat sb;
			rc = stat(path, &sb) < 0 ? -errno : 0;
			end = rc == 0 ? (uint64_t)sb.st_size : 0;
		} else if (whole) {
			/* A closed segment: its records, up to and with its end
			 * record, without the preallocated zeros after them. */
			rc = durable_end(path, f->off, UINT64_MAX, UINT64_MAX, &end);
		} else {
			if (f->fd < 0)
				f->fd = open(path, O_RDONLY | O_CLOEXEC);
			rc = durable_end(path, f->off, durable, UINT64_MAX, &end);
		}
		if (rc == 0 && end > f->off) {
			rc = sender_range(rs, path, kind, i, e->generation, f->off, end);
			f->off = end;
		}
		if (!whole)
			st->live_sent = f->off;
		if (rc == 0 && whole) {
			rc = sender_frame(rs, REPL_FRAME_COMMIT, kind, i, e->generation, f->off, NULL, 0);
			f->done = true;
			if (f->fd >= 0) {
				close(f->fd);
				f->fd = -1;
			}
		}
	}
	if (rc == -ENOENT) {
		/* A file the manifest named was removed since we read it: a
		 * snapshot or rewrite committed meanwhile and dropped what it
		 * replaced.  The new manifest no longer names it; say so, and
		 * the caller runs the pass again from the new one. */
		struct kv_buf now = KV_BUF_INIT;
		if (manifest_read_file(path_of_manifest(rs, i, path, sizeof(path)), 1 << 20,
				       &now) == 0 &&
		    (now.len != raw.len || memcmp(now.data, raw.data, raw.len) != 0))
			rc = -EAGAIN;
		kv_buf_free(&now);
	}
	if (rc == 0 && (raw.len != st->manifest.len || memcmp(raw.data, st->manifest.data, raw.len))) {
		rc = sender_frame(rs, REPL_FRAME_FILE, REPL_KIND_MANIFEST, i, m.generation, 0, name,
				  (uint32_t)strlen(name));
		if (rc == 0)
			rc = sender_frame(rs, REPL_FRAME_DATA, REPL_KIND_MANIFEST, i, m.generation, 0,
					  raw.data, (uint32_t)raw.len);
		if (rc == 0)
			rc = sender_frame(rs, REPL_FRAME_COMMIT, REPL_KIND_MANIFEST, i, m.generation,
					  raw.len, NULL, 0);
		kv_buf_clear(&st->manifest);
		kv_buf_append(&st->manifest, raw.data, raw.len);
	}
	if (rc == 0)
		st->sent_lsn = durable;
	manifest_free(&m);
	kv_buf_free(&raw);
	return rc;
}

/* A pass that raced with a snapshot or rewrite is run again; each run
 * reads the newer manifest, so a few runs suffice unless the shard commits
 * new files back to back. */
static int sender_shard(struct repl_sender *rs, uint32_t i)
{
	int rc;
	for (int tries = 0; (rc = sender_shard_pass(rs, i)) == -EAGAIN && tries < 16; tries++)
		;
	return rc == -EAGAIN ? -ENOENT : rc;
}

static int sender_dataset(struct repl_sender *rs)
{
	char path[4200];
	struct kv_buf raw = KV_BUF_INIT;
	const char *name = "kevy.dataset";

	snprintf(path, sizeof(path), "%s/%s", rs->dir, name);
	int rc = manifest_read_file(path, 1 << 16, &raw);
	if (rc == 0)
		rc = sender_frame(rs, REPL_FRAME_FILE, REPL_KIND_DATASET, REPL_NO_SHARD, 0, 0, name,
				  (uint32_t)strlen(name));
	if (rc == 0)
		rc = sender_frame(rs, REPL_FRAME_DATA, REPL_KIND_DATASET, REPL_NO_SHARD, 0, 0, raw.data,
				  (uint32_t)raw.len);
	if (rc == 0)
		rc = sender_frame(rs, REPL_FRAME_COMMIT, REPL_KIND_DATASET, REPL_NO_SHARD, 0, raw.len,
				  NULL, 0);
	kv_buf_free(&raw);
	return rc;
}

/* functions.kevy, the function libraries (FUNCTION LOAD ...): sent whole
 * first (an empty set of libraries when this primary has none, so that a
 * replica's own old ones go), then whenever it was replaced. */
static int sender_functions(struct repl_sender *rs)
{
	char path[4200];
	const char *name = FN_FILE;
	snprintf(path, sizeof(path), "%s/%s", rs->dir, name);
	struct kvio_file f;
	struct stat st;
	struct kv_buf raw = KV_BUF_INIT;
	int rc = kvio_open(&f, path, O_RDONLY, 0);
	bool opened = rc == 0;
	bool have = opened && fstat(f.fd, &st) == 0;
	int64_t mt = have ? (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec : 0;
	if (rs->fn_sent && (have ? (uint64_t)st.st_ino == rs->fn_ino &&
			    (uint64_t)st.st_size == rs->fn_size && mt == rs->fn_mtime_ns
			  : rs->fn_ino == 0)) {
		if (opened)
			kvio_close(&f);
		return 0;
	}
	if (have) {
		kv_buf_reserve(&raw, (size_t)st.st_size + 1);
		ssize_t got = kvio_pread(&f, raw.data, (size_t)st.st_size, 0);
		rc = got == (ssize_t)st.st_size ? 0 : got < 0 ? (int)got : -EIO;
		raw.len = rc == 0 ? (size_t)st.st_size : 0;
	} else if (opened) {
		rc = -EIO;   /* fstat failed */
	} else if (rc == -ENOENT) {
		struct kv_buf empty = KV_BUF_INIT;
		fn_payload_end(&empty);
		fn_file_encode(empty.data, empty.len, &raw);
		kv_buf_free(&empty);
		rc = 0;
	}
	if (opened)
		kvio_close(&f);
	if (rc == 0)
		rc = sender_frame(rs, REPL_FRAME_FILE, REPL_KIND_FUNCTIONS, REPL_NO_SHARD, 0, 0, name,
				  (uint32_t)strlen(name));
	for (size_t at = 0; rc == 0 && at < raw.len; at += 1u << 20) {
		size_t n = raw.len - at < (1u << 20) ? raw.len - at : (1u << 20);
		rc = sender_frame(rs, REPL_FRAME_DATA, REPL_KIND_FUNCTIONS, REPL_NO_SHARD, 0, at,
				  raw.data + at, (uint32_t)n);
	}
	if (rc == 0)
		rc = sender_frame(rs, REPL_FRAME_COMMIT, REPL_KIND_FUNCTIONS, REPL_NO_SHARD, 0, raw.len,
				  NULL, 0);
	if (rc == 0) {
		rs->fn_sent = true;
		rs->fn_ino = have ? (uint64_t)st.st_ino : 0;
		rs->fn_size = have ? (uint64_t)st.st_size : 0;
		rs->fn_mtime_ns = mt;
	}
	kv_buf_free(&raw);
	return rc;
}

static uint64_t sender_offset(struct repl_sender *rs)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < rs->nshards; i++)
		sum += atomic_load(&rs->rt->aof(i)->info.durable_lsn);
	return sum;
}

/* The offset a PING or SYNCED frame carries: what has been sent, per
 * shard, summed; remembered with its vector for the replica's ACK. */
static uint64_t sender_ping_offset(struct repl_sender *rs)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < rs->nshards; i++)
		sum += rs->shards[i].sent_lsn;
	pthread_mutex_lock(&g_repl_lock);
	unsigned at = rs->ping_next;
	rs->ping_off[at] = sum;
	for (uint32_t i = 0; i < rs->nshards; i++)
		rs->ping_lsns[(size_t)at * rs->nshards + i] = rs->shards[i].sent_lsn;
	rs->ping_next = (at + 1) % REPL_PINGS_KEPT;
	pthread_mutex_unlock(&g_repl_lock);
	return sum;
}

/* Partial resync: the replica asked for our replication id and said, for
 * every shard, the newest segment it holds and its length.  When each of
 * those segments is still named by the shard's manifest and the length ends
 * a durable record, the replica holds everything before it (files are sent
 * in manifest order, each whole before the next): mark it sent, and stream
 * from there.  Otherwise a full sync. */
/* A primary that was a replica (server/replica.c, promotion): its former
 * primary's replication id, and per shard the newest segment and the
 * length of whole records its mirrored files had when it was promoted.
 * Another replica of that primary holds the same bytes up to where it
 * got, so it may resume here if it is not past that point (Redis's replid2
 * and second_repl_offset); past it, the bytes differ: a full sync. */
static pthread_mutex_t g_switch_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_switch_replid[REPL_REPLID_LEN + 1];
static int64_t g_switch_offset = -1;
static struct repl_pos *g_switch_pos;
static uint32_t g_switch_n;

void repl_set_switch(const char *replid2, const uint64_t *gens, const uint64_t *offs, uint32_t n,
		     uint64_t offset)
{
	pthread_mutex_lock(&g_switch_lock);
	free(g_switch_pos);
	g_switch_pos = kv_calloc(n, sizeof(*g_switch_pos));
	for (uint32_t i = 0; i < n; i++)
		g_switch_pos[i] = (struct repl_pos){ .generation = gens[i], .offset = offs[i],
						     .given = true };
	g_switch_n = n;
	snprintf(g_switch_replid, sizeof(g_switch_replid), "%s", replid2);
	g_switch_offset = (int64_t)offset;
	pthread_mutex_unlock(&g_switch_lock);
}

int64_t repl_switch_get(char replid2[REPL_REPLID_LEN + 1])
{
	pthread_mutex_lock(&g_switch_lock);
	int64_t off = g_switch_offset;
	snprintf(replid2, REPL_REPLID_LEN + 1, "%s",
		 off >= 0 ? g_switch_replid : "0000000000000000000000000000000000000000");
	pthread_mutex_unlock(&g_switch_lock);
	return off;
}

/* PSYNC with the former primary's id: every position at or before the
 * promotion's. */
static bool sender_switch_ok(const struct repl_sender *rs)
{
	bool ok = false;
	pthread_mutex_lock(&g_switch_lock);
	if (g_switch_offset >= 0 && g_switch_n == rs->nshards &&
	    strcmp(rs->want, g_switch_replid) == 0) {
		ok = true;
		for (uint32_t i = 0; i < rs->nshards && ok; i++) {
			const struct repl_pos *p = &rs->pos[i], *w = &g_switch_pos[i];
			ok = p->generation < w->generation ||
			     (p->generation == w->generation && p->offset <= w->offset);
		}
	}
	pthread_mutex_unlock(&g_switch_lock);
	return ok;
}

void repl_sync_counts(struct repl_status *st)
{
	st->sync_full = atomic_load(&g_sync_full);
	st->sync_partial_ok = atomic_load(&g_sync_partial_ok);
	st->sync_partial_err = atomic_load(&g_sync_partial_err);
}

void repl_sync_counts_reset(void)
{
	atomic_store(&g_sync_full, 0);
	atomic_store(&g_sync_partial_ok, 0);
	atomic_store(&g_sync_partial_err, 0);
}

static bool sender_resume(struct repl_sender *rs)
{
	if (!rs->pos)
		return false;
	for (uint32_t i = 0; i < rs->nshards; i++)
		if (!rs->pos[i].given)
			return false;
	if (strcmp(rs->want, rs->replid) != 0 && !sender_switch_ok(rs))
		return false;
	for (uint32_t i = 0; i < rs->nshards; i++) {
		struct repl_shard_state *st = &rs->shards[i];
		const struct repl_pos *p = &rs->pos[i];
		char path[4200], msg[200];
		struct kv_buf raw = KV_BUF_INIT;
		struct manifest m;
		uint64_t durable = atomic_load(&rs->rt->aof(i)->info.durable_lsn);
		snprintf(path, sizeof(path), "%s/kevy-s%u.manifest", rs->dir, i);
		int rc = manifest_read_file(path, 1 << 20, &raw);
		if (rc == 0)
			rc = manifest_decode((const uint8_t *)raw.data, raw.len, &m, msg, sizeof(msg));
		kv_buf_free(&raw);
		if (rc < 0)
			return false;
		bool found = false;
		st->nfiles = 0;
		for (uint32_t k = 0; k < m.nentries && st->nfiles < REPL_FILES_MAX; k++) {
			const struct manifest_entry *e = &m.entries[k];
			bool aof = e->kind == MANIFEST_AOF;
			/* A snapshot and a segment of the same generation are
			 * made together, the snapshot sent first. */
			if (e->generation > p->generation)
				continue;
			struct repl_sent *f = &st->files[st->nfiles++];
			memset(f, 0, sizeof(*f));
			f->fd = -1;
			snprintf(f->name, sizeof(f->name), "%s", e->name);
			f->kind = aof ? REPL_KIND_AOF : REPL_KIND_SNAPSHOT;
			f->generation = e->generation;
			f->seen = true;
			if (aof && e->generation == p->generation) {
				uint64_t end = 0;
				snprintf(path, sizeof(path), "%s/%s", rs->dir, e->name);
				if (durable_end(path, 0, durable, p->offset, &end) < 0 || end != p->offset)
					break;
				f->off = p->offset;
				f->fd = open(path, O_RDONLY | O_CLOEXEC);   /* sent_flush_unnamed */
				found = true;
			} else {
				f->done = true;
			}
		}
		manifest_free(&m);
		if (!found) {
			for (uint32_t j = 0; j <= i; j++)
				rs->shards[j].nfiles = 0;
			return false;
		}
	}
	return true;
}

static pthread_mutex_t g_wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wake_cond = PTHREAD_COND_INITIALIZER;
static uint64_t g_wake_gen;

bool repl_has_senders(void)
{
	return atomic_load_explicit(&g_repl_senders, memory_order_relaxed) != 0;
}

void repl_wake_senders(void)
{
	pthread_mutex_lock(&g_wake_lock);
	g_wake_gen++;
	pthread_cond_broadcast(&g_wake_cond);
	pthread_mutex_unlock(&g_wake_lock);
}

/* Sleep until a shard's durable LSN moves (repl_wake_senders) or
 * REPL_IDLE_MS pass: the bound keeps acknowledgements read, pings sent and
 * manifest changes that move no LSN seen. */
static void sender_wait(uint64_t *seen)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* While a WAIT waits, the replica's ACK is read within a millisecond
	 * (it arrives on the socket, which this wait does not watch). */
	long ms = atomic_load(&g_repl_waiting) > 0 ? 1 : REPL_IDLE_MS;
	ts.tv_nsec += ms * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&g_wake_lock);
	while (g_wake_gen == *seen) {
		if (pthread_cond_timedwait(&g_wake_cond, &g_wake_lock, &ts) != 0)
			break;
	}
	*seen = g_wake_gen;
	pthread_mutex_unlock(&g_wake_lock);
}

/* Under appendfsync no a shard never fsyncs on its own, and only durable
 * records are sent: ask every shard with records that are not durable yet
 * for an fsync once a second, so a replica is never more than about a
 * second behind (everysec and always fsync by themselves). */
static void sender_ask_fsync(struct repl_sender *rs)
{
	int64_t now = kv_time_ms();
	if (atomic_load(&g_config.appendfsync) != AOF_FSYNC_NO || now - rs->fsync_asked_ms < 1000)
		return;
	rs->fsync_asked_ms = now;
	for (uint32_t i = 0; i < rs->nshards; i++) {
		struct aof *a = rs->rt->aof(i);
		if (atomic_load(&a->info.last_lsn) > atomic_load(&a->info.durable_lsn)) {
			aof_ask_fsync(a);
			rs->rt->wake(i);
		}
	}
}

static void *sender_main(void *arg)
{
	uint64_t wake_seen = 0;
	struct repl_sender *rs = arg;
	int64_t last_ping = kv_time_ms();
	uint64_t ping_seq = rs->seq;   /* the frame count just after the last PING */
	char line[128];

	int rc = 0;
	for (uint32_t i = 0; i < rs->nshards; i++)
		rs->shards[i].base = atomic_load(&rs->rt->aof(i)->info.current_size);
	if (sender_resume(rs)) {
		atomic_fetch_add(&g_sync_partial_ok, 1);
		snprintf(line, sizeof(line), "+CONTINUE %s\r\n", rs->replid);
		kv_buf_append_str(&rs->out, line);
		rc = sender_flush(rs);
		if (rc == 0)
			log_notice("replica %s: partial resync from its own files, streaming", rs->peer);
	} else {
		/* As Redis counts them: a PSYNC that named an id ("?" asks for a
		 * full sync on purpose) and could not resume is an error too. */
		atomic_fetch_add(&g_sync_full, 1);
		if (rs->want[0] && strcmp(rs->want, "?") != 0)
			atomic_fetch_add(&g_sync_partial_err, 1);
		snprintf(line, sizeof(line), "+FULLRESYNC %s %" PRIu64 "\r\n", rs->replid,
			 sender_offset(rs));
		kv_buf_append_str(&rs->out, line);
		rc = sender_dataset(rs);
		if (rc == 0)
			rc = sender_functions(rs);
		for (uint32_t i = 0; rc == 0 && i < rs->nshards; i++)
			rc = sender_shard(rs, i);
		if (rc == 0)
			rc = sender_frame(rs, REPL_FRAME_SYNCED, REPL_KIND_NONE, REPL_NO_SHARD, 0,
					  sender_ping_offset(rs), NULL, 0);
		if (rc == 0)
			rc = sender_flush(rs);
		if (rc == 0)
			log_notice("replica %s: full sync sent (%u shard(s)), streaming", rs->peer,
				   rs->nshards);
	}
	pthread_mutex_lock(&g_repl_lock);
	rs->info.state = "online";
	pthread_mutex_unlock(&g_repl_lock);
	repl_refresh_good(kv_time_ms());
	while (rc == 0 && !atomic_load(&g_server.shutdown)) {
		if (atomic_load(&g_server.repl_role) != REPL_ROLE_PRIMARY) {
			/* Its files now follow another primary (REPLICAOF): a
			 * replica of this one starts over, as Redis disconnects
			 * its replicas then. */
			log_notice("replica %s: disconnecting it: this server became a replica",
				   rs->peer);
			rc = -ECONNABORTED;
			break;
		}
		sender_wait(&wake_seen);
		sender_ask_fsync(rs);
		size_t before = rs->seq;
		rc = sender_read(rs);
		if (rc == 0)
			rc = sender_functions(rs);
		for (uint32_t i = 0; rc == 0 && i < rs->nshards; i++)
			rc = sender_shard(rs, i);
		int64_t now = kv_time_ms();
		/* A WAIT asks every replica for an acknowledgement now. */
		uint64_t getack = atomic_load(&g_repl_getack);
		/* ... and, while one waits, after every pass that sent records. */
		bool asked = getack != rs->getack_seen ||
			     (rs->seq != before && atomic_load(&g_repl_waiting) > 0);
		rs->getack_seen = getack;
		/* repl-timeout: a replica that acknowledged nothing for that
		 * long (stopped, or its network gone quiet) loses its link, as
		 * Redis's "timedout replica"; it resumes when it comes back. */
		int64_t timeout_ms = atomic_load(&g_config.repl_timeout) * 1000;
		if (rc == 0 && timeout_ms > 0 && now - rs->ack_ms > timeout_ms) {
			log_warning("replica %s: no acknowledgement for %lld s (repl-timeout): "
				    "disconnecting it", rs->peer, (long long)(now - rs->ack_ms) / 1000);
			rc = -ETIMEDOUT;
			break;
		}
		/* A PING is both the link's heartbeat and the point an ACK
		 * names (its offset maps to what every shard had sent).  Every
		 * repl-ping-replica-period on a quiet link, as Redis; each
		 * second while records flow, so acknowledged offsets stay within
		 * a second of what was sent; at once for WAIT.  The replica
		 * acknowledges the newest one it has every second on its own, so
		 * its lag (INFO, min-replicas-max-lag) is not the period. */
		int64_t period_ms = atomic_load(&g_config.repl_ping_replica_period) * 1000;
		bool moved = rs->seq != ping_seq;
		if (rc == 0 && (asked || now - last_ping >= period_ms ||
				(moved && now - last_ping >= REPL_SYNC_POINT_MS))) {
			rc = sender_frame(rs, REPL_FRAME_PING, REPL_KIND_NONE, REPL_NO_SHARD, 0,
					  sender_ping_offset(rs), NULL, 0);
			last_ping = now;
			ping_seq = rs->seq;
		}
		if (rc == 0)
			rc = sender_flush(rs);
	}
	if (rc < 0)
		log_warning("replica %s: link closed: %s", rs->peer, kv_strerror(rc));
	sender_list(rs, false);
	repl_refresh_good(kv_time_ms());
	close(rs->fd);
	resp_parser_free(&rs->parser);
	kv_buf_free(&rs->in);
	for (uint32_t i = 0; i < rs->nshards; i++) {
		kv_buf_free(&rs->shards[i].manifest);
		for (uint32_t k = 0; k < rs->shards[i].nfiles; k++)
			if (rs->shards[i].files[k].fd >= 0)
				close(rs->shards[i].files[k].fd);
	}
	free(rs->shards);
	free(rs->ping_lsns);
	free(rs->acked_lsns);
	free(rs->pos);
	kv_buf_free(&rs->out);
	free(rs->dir);
	free(rs);
	atomic_fetch_sub(&g_repl_senders, 1);
	return NULL;
}

/* At shutdown, before the shards' AOFs go away: the senders read them.
 * Each sees the stop within a poll or a send timeout. */
void repl_senders_wait(void)
{
	for (int i = 0; i < 200 && atomic_load(&g_repl_senders) > 0; i++) {
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

void repl_sender_start(struct conn *c, int fd)
{
	struct repl_sender *rs = kv_calloc(1, sizeof(*rs));
	rs->fd = fd;
	struct timeval tv = { 0, 100000 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rs->nshards = c->repl_shards;
	rs->rt = &server_runtime;
	rs->dir = strdup(g_config.dir);
	snprintf(rs->replid, sizeof(rs->replid), "%s", server_runtime.info()->replid);
	snprintf(rs->peer, sizeof(rs->peer), "%s", c->addr);
	rs->shards = kv_calloc(rs->nshards, sizeof(*rs->shards));
	rs->ping_lsns = kv_calloc((size_t)REPL_PINGS_KEPT * rs->nshards, sizeof(uint64_t));
	rs->acked_lsns = kv_calloc(rs->nshards, sizeof(uint64_t));
	for (unsigned k = 0; k < REPL_PINGS_KEPT; k++)
		rs->ping_off[k] = UINT64_MAX;   /* no offset acknowledged matches */
	rs->pos = c->repl_pos;   /* the sender owns it now */
	c->repl_pos = NULL;
	snprintf(rs->want, sizeof(rs->want), "%s", c->repl_want);
	resp_limits_default(&rs->limits);
	resp_parser_init(&rs->parser, &rs->limits);
	snprintf(rs->info.ip, sizeof(rs->info.ip), "%s", c->addr);
	char *colon = strrchr(rs->info.ip, ':');
	if (colon)
		*colon = '\0';
	rs->info.port = c->repl_port;
	rs->info.state = "wait_bgsave";
	rs->ack_ms = kv_time_ms();
	atomic_fetch_add(&g_repl_senders, 1);
	sender_list(rs, true);
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &attr, sender_main, rs);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		log_warning("replica %s: cannot start its sender thread: %s", rs->peer, strerror(rc));
		sender_list(rs, false);
		resp_parser_free(&rs->parser);
		close(fd);
		free(rs->shards);
		free(rs->pos);
		free(rs->dir);
		free(rs);
		atomic_fetch_sub(&g_repl_senders, 1);
		return;
	}
	log_notice("replica %s: sync starting", rs->peer);
}

/* PSYNC replid offset */

/* ------------------------------------------------------------------ */
/* WAIT numreplicas timeout */

/*
 * WAIT counts the replicas that acknowledged every record each shard had
 * appended when WAIT ran (its targets: the shards' last LSNs, read while
 * WAIT holds every keyspace, so the client's earlier writes are among
 * them).  A replica's acknowledgement is per shard (REPL_PINGS_KEPT), so a
 * replica ahead on one shard and behind on another is not counted.  As
 * in Redis, WAIT answers at once when enough replicas have them or inside
 * MULTI; otherwise its reply slot stays open (one ack held) in the
 * client's shard's list until enough have, the timeout passes (0: never),
 * or the client goes away, and every sender is asked for an ACK now.  Only
 * durable records are replicated, so a waiting WAIT also asks each shard
 * with newer records for an fsync.
 */
struct repl_wait {
	struct repl_wait *next;
	struct conn *conn;
	struct reply_slot *slot;
	bool aof;                     /* WAITAOF: [local, replicas] */
	int64_t local;                /* WAITAOF's first element */
	int64_t numreplicas;
	int64_t deadline_ms;          /* 0: none */
	uint32_t nshards;
	uint64_t targets[];
};

static int64_t repl_count_acked(const uint64_t *targets, uint32_t nshards)
{
	int64_t n = 0;
	pthread_mutex_lock(&g_repl_lock);
	for (struct repl_sender *rs = g_repl_list; rs; rs = rs->next) {
		if (rs->nshards != nshards)
			continue;
		bool all = true;
		for (uint32_t i = 0; i < nshards && all; i++)
			all = rs->acked_lsns[i] >= targets[i];
		n += all;
	}
	pthread_mutex_unlock(&g_repl_lock);
	return n;
}

static void repl_wait_reply(struct kv_buf *out, bool aof, int64_t local, int64_t acked)
{
	if (aof) {
		resp_array(out, 2);
		resp_int(out, local);
	}
	resp_int(out, acked);
}

/* WAIT's and WAITAOF's common part, once the arguments are checked. */
static void repl_wait_start(struct cmd_ctx *c, bool aof, int64_t local, int64_t numreplicas,
			    int64_t timeout)
{
	uint32_t n = c->nshards;
	struct repl_wait *w = kv_calloc(1, sizeof(*w) + n * sizeof(uint64_t));
	w->nshards = n;
	for (uint32_t i = 0; i < n; i++)
		w->targets[i] = atomic_load(&c->rt->aof(i)->info.last_lsn);
	int64_t acked = repl_count_acked(w->targets, n);
	if (acked >= numreplicas || !c->conn || c->conn->in_exec || c->conn->in_multi) {
		repl_wait_reply(c->out, aof, local, acked);
		free(w);
		return;
	}
	w->aof = aof;
	w->local = local;
	w->numreplicas = numreplicas;
	w->deadline_ms = timeout > 0 ? c->now_ms + timeout : 0;
	c->conn->wait_repl = w;   /* the runtime calls repl_wait_commit */
	atomic_fetch_add(&g_repl_waiting, 1);
	for (uint32_t i = 0; i < n; i++) {
		struct aof *a = c->rt->aof(i);
		if (atomic_load(&a->info.last_lsn) > atomic_load(&a->info.durable_lsn)) {
			aof_ask_fsync(a);
			c->rt->wake(i);
		}
	}
	atomic_fetch_add(&g_repl_getack, 1);
	repl_wake_senders();
}

static void cmd_wait(struct cmd_ctx *c)
{
	int64_t numreplicas, timeout;
	if (!arg_to_int64(&c->argv[1], &numreplicas)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	if (!arg_to_int64(&c->argv[2], &timeout)) {
		resp_error(c->out, "ERR timeout is not an integer or out of range");
		return;
	}
	if (timeout < 0) {
		resp_error(c->out, "ERR timeout is negative");
		return;
	}
	repl_wait_start(c, false, 0, numreplicas, timeout);
}

/*
 * WAITAOF numlocal numreplicas timeout (Redis 7.2's).  The local part is the
 * runtime's CMD_WAIT_DURABLE: the reply leaves once every shard's AOF is
 * fsynced up to what it held when WAITAOF ran, whatever appendfsync says,
 * and does not wait for the timeout.  The replica part counts as WAIT does:
 * a kevy replica fsyncs what it received before it acknowledges a PING
 * (repl_mirror.c), so an acknowledgement is also "made it durable".
 */
static void cmd_waitaof(struct cmd_ctx *c)
{
	int64_t numlocal, numreplicas, timeout;
	if (!arg_to_int64(&c->argv[1], &numlocal) || !arg_to_int64(&c->argv[2], &numreplicas) ||
	    !arg_to_int64(&c->argv[3], &timeout)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	if (timeout < 0) {
		resp_error(c->out, "ERR timeout is negative");
		return;
	}
	bool on = atomic_load(&g_config.appendonly) != 0;
	if (numlocal > 0 && !on) {
		resp_error(c->out, "ERR WAITAOF cannot be used when numlocal is set but "
				   "appendonly is disabled.");
		return;
	}
	repl_wait_start(c, true, on ? 1 : 0, numreplicas, timeout);
}

void repl_wait_commit(struct shard *s, struct conn *c, struct reply_slot *slot)
{
	struct repl_wait *w = c->wait_repl;
	c->wait_repl = NULL;
	w->conn = c;
	w->slot = slot;
	slot->acks++;
	c->inflight++;
	w->next = s->repl_waits;
	s->repl_waits = w;
	/* A blocked client, as Redis counts it: CLIENT LIST's 'b' flag,
	 * INFO's blocked_clients, and CLIENT UNBLOCK ends it. */
	c->wait_blocked = true;
	atomic_store_explicit(&c->unblock_request, UNBLOCK_REQ_NONE, memory_order_relaxed);
	atomic_fetch_or_explicit(&c->info_flags, CONN_INFO_BLOCKED, memory_order_relaxed);
	stat_add(&s->stats.blocked_clients, 1);
}

/* Answers the WAITs that can be answered; returns the time in us to the
 * next deadline (INT64_MAX: none).  force: answer every one (shutdown). */
int64_t repl_waits_turn(struct shard *s, bool force)
{
	int64_t next = INT64_MAX;
	for (struct repl_wait **pp = &s->repl_waits; *pp;) {
		struct repl_wait *w = *pp;
		struct conn *c = w->conn;
		int64_t acked = repl_count_acked(w->targets, w->nshards);
		bool gone = c->io_dead || c->read_eof || c->close_started;
		bool late = w->deadline_ms && s->now_ms >= w->deadline_ms;
		/* CLIENT UNBLOCK: as a timeout (the count), or with an error. */
		int req = atomic_exchange_explicit(&c->unblock_request, UNBLOCK_REQ_NONE,
						   memory_order_relaxed);
		if (!force && !gone && !late && req == UNBLOCK_REQ_NONE && acked < w->numreplicas) {
			if (w->deadline_ms) {
				int64_t us = (w->deadline_ms - s->now_ms) * 1000;
				if (us < next)
					next = us;
			}
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		atomic_fetch_sub(&g_repl_waiting, 1);
		c->wait_blocked = false;
		atomic_fetch_and_explicit(&c->info_flags, ~(uint32_t)CONN_INFO_BLOCKED,
					  memory_order_relaxed);
		stat_add(&s->stats.blocked_clients, (uint64_t)-1);
		if (req == UNBLOCK_REQ_ERROR)
			resp_error(&w->slot->buf, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
		else
			repl_wait_reply(&w->slot->buf, w->aof, w->local, acked);
		kv_assert(w->slot->acks > 0);
		w->slot->acks--;
		free(w);
		conn_drain_slots(s, c);
		conn_release_inflight(s, c);
	}
	return next;
}

/* ------------------------------------------------------------------ */
/* REPLICAOF, SLAVEOF, FAILOVER: a primary's answers */

/*
 * FAILOVER parses and checks as Redis 7.0 does (ABORT, TO, TIMEOUT, FORCE,
 * "requires connected replicas", an unknown target), then is refused: a
 * kevy primary does not hand its role over itself; a replica is promoted
 * with REPLICAOF NO ONE (server/replica.c), which is what Sentinel does.
 */
#define REPL_NO_FAILOVER "kevy does not hand a primary's role over by itself: promote a " \
			 "replica with REPLICAOF NO ONE (see docs/replication.md)"

struct failover_find {
	const struct kv_slice *host;
	int64_t port;
	int found;          /* 0 none, 1 not online, 2 online */
	uint32_t replicas;
};

static void failover_collect(void *arg, const struct replica_info *ri)
{
	struct failover_find *f = arg;
	f->replicas++;
	if (!f->host || f->host->len != strlen(ri->ip) ||
	    strncasecmp(f->host->ptr, ri->ip, f->host->len) != 0 || ri->port != f->port)
		return;
	int state = strcmp(ri->state, "online") == 0 ? 2 : 1;
	if (state > f->found)
		f->found = state;
}

static void cmd_failover(struct cmd_ctx *c)
{
	if (c->argc == 2 && arg_is(&c->argv[1], "abort")) {
		resp_error(c->out, "ERR No failover in progress.");
		return;
	}
	int64_t timeout_ms = 0, port = 0;
	bool force = false;
	const struct kv_slice *host = NULL;
	for (int j = 1; j < c->argc; j++) {
		if (arg_is(&c->argv[j], "timeout") && j + 1 < c->argc && timeout_ms == 0) {
			if (!arg_to_int64(&c->argv[j + 1], &timeout_ms)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
			if (timeout_ms <= 0) {
				resp_error(c->out, "ERR FAILOVER timeout must be greater than 0");
				return;
			}
			j++;
		} else if (arg_is(&c->argv[j], "to") && j + 2 < c->argc && !host) {
			if (!arg_to_int64(&c->argv[j + 2], &port)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
			host = &c->argv[j + 1];
			j += 2;
		} else if (arg_is(&c->argv[j], "force") && !force) {
			force = true;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	struct failover_find f = { .host = host, .port = port };
	repl_replicas_foreach(failover_collect, &f);
	if (f.replicas == 0) {
		resp_error(c->out, "ERR FAILOVER requires connected replicas.");
	} else if (force && (!timeout_ms || !host)) {
		resp_error(c->out, "ERR FAILOVER with force option requires both a timeout and "
				   "target HOST and IP.");
	} else if (host && f.found == 0) {
		resp_error(c->out, "ERR FAILOVER target HOST and PORT is not a replica.");
	} else if (host && f.found == 1) {
		resp_error(c->out, "ERR FAILOVER target replica is not online.");
	} else {
		resp_errorf(c->out, "ERR FAILOVER is not possible: %s", REPL_NO_FAILOVER);
	}
}

static void cmd_psync(struct cmd_ctx *c)
{
	const struct kv_slice *id = &c->argv[1];
	c->conn->repl_want[0] = '\0';
	if (repl_replid_ok(id->ptr, id->len)) {
		memcpy(c->conn->repl_want, id->ptr, id->len);
		c->conn->repl_want[id->len] = '\0';
	}
	repl_handshake(c);
}

/* SYNC: the pre-PSYNC handshake; a kevy replica never sends it. */
static void cmd_sync(struct cmd_ctx *c)
{
	repl_handshake(c);
}

const struct kv_command cmd_table_repl[] = {
	{ .name = "replconf", .arity = -1,
	  .flags = CMD_LOCAL | CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  .proc = cmd_replconf, .group = "server", .since = "3.0.0",
	  .summary = "An internal command for configuring the replication stream",
	  .complexity = "O(1)" },
	{ .name = "psync", .arity = -3,
	  .flags = CMD_LOCAL | CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI,
	  .proc = cmd_psync, .group = "server", .since = "2.8.0",
	  .summary = "Internal command used for replication", .complexity = NULL },
	{ .name = "wait", .arity = 3, .flags = CMD_ALL_SHARDS | CMD_NOSCRIPT,
	  .proc = cmd_wait, .group = "generic", .since = "3.0.0",
	  .summary = "Wait for the synchronous replication of all the write commands sent in "
		     "the context of the current connection",
	  .complexity = "O(1)" },
	{ .name = "waitaof", .arity = 4, .flags = CMD_NOSCRIPT | CMD_ALL_SHARDS | CMD_WAIT_DURABLE,
	  .proc = cmd_waitaof, .group = "generic", .since = "7.2.0",
	  .summary = "Blocks until all of the preceding write commands sent by the connection "
		     "are written to the append-only file of the master and/or replicas.",
	  .complexity = "O(1)" },
	{ .name = "failover", .arity = -1, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE,
	  .proc = cmd_failover, .group = "server", .since = "6.2.0",
	  .summary = "Start a coordinated failover between this server and one of its replicas.",
	  .complexity = "O(1)" },
	{ .name = "sync", .arity = 1,
	  .flags = CMD_LOCAL | CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI,
	  .proc = cmd_sync, .group = "server", .since = "1.0.0",
	  .summary = "Internal command used for replication", .complexity = NULL },
	{ NULL },
};
