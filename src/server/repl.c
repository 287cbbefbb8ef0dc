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
 * shard count.  A matching kevy replica's link is served by the shard it
 * arrived on, with ring reads of the files and ring sends of the frames
 * (repl_format.c's frames): a full sync, or a
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
	 * replies are out, and the shard serves its socket as a replica's
	 * link (shard_conn_io_done -> repl_sender_start), which writes
	 * +FULLRESYNC and the files. */
	conn->repl_handoff = true;
	c->rt->conn_close_after_reply(conn);
}

/* ---- the sender: a replica's link, served by the shard it arrived on ----
 *
 * After PSYNC the shard that holds the replica's connection serves it for
 * as long as the link lasts.  Once the connection's earlier replies are out
 * the client goes away (shard_conn_io_done) and its socket gets a link of
 * its own: a hidden conn, not a client (not in CLIENT LIST, never
 * idle-timed-out, evicted or moved), whose frames leave through the
 * shard's reactor like replies and whose input (REPLCONF ACK) is read here.
 * Every byte of a data file is read with a READ on that shard's io_uring
 * (kvio_prep_pread; a synchronous pread on the epoll reactor), so a sync
 * or a stream costs the shard one submission per REPL_CHUNK and never a
 * blocking call on a data file.  The small files that say what to send
 * (kevy.dataset, the manifests, functions.kevy) are read with pread when
 * they changed.  The sender never touches a keyspace.
 *
 * A pass, run when a shard's durable LSN moves (and every REPL_IDLE_MS),
 * sends for every shard: a file the manifest names whole once it can no
 * longer change (a snapshot, a segment with a later one after it), the
 * current segment only up to its last record the shard has made durable;
 * the manifest itself after the files it names.  A pass spans loop turns:
 * it waits for each read, and for the socket once REPL_CHUNK bytes wait to
 * leave, so a link holds at most two chunks and the read buffer, and a
 * turn produces at most REPL_TURN_BYTES, so that the shard's clients are
 * served while a full sync streams.
 */

#define REPL_IDLE_MS 100
#define REPL_SYNC_POINT_MS 1000
#define REPL_CHUNK (1u << 20)
#define REPL_TURN_BYTES (4u << 20)
#define REPL_FILES_MAX 16
/* A manifest is read again when its shard committed a new one
 * (aof_info.manifest_commits), or once this old. */
#define REPL_MANIFEST_AGE_MS 100

struct repl_sent {
	char name[MANIFEST_NAME_MAX + 1];
	uint8_t kind;
	uint64_t generation;
	uint64_t off;           /* bytes sent */
	bool done;              /* committed: it will not change */
	bool seen;              /* named by the manifest of this pass */
	/* The segment being streamed, kept open: a snapshot that commits
	 * between two passes unlinks it, and its last records are still
	 * read from here (PH_UNNAMED).  fd -1: not open. */
	struct kvio_file file;
};

struct repl_shard_state {
	struct repl_sent files[REPL_FILES_MAX];
	uint32_t nfiles;
	struct kv_buf manifest;  /* the manifest bytes last sent */
	/* The manifest as last read, decoded, and the shard's commit count
	 * and the time then. */
	struct kv_buf man_raw;
	struct manifest man;
	bool man_valid;
	uint64_t man_commits;
	int64_t man_read_ms;
	/* Every record up to this LSN has been sent: the durable LSN the last
	 * complete pass read, but never past `covered`. */
	uint64_t sent_lsn;
	/* Every record up to this LSN was taken from the files sent so far:
	 * a snapshot's cut, a segment's start LSN once the files before it are
	 * sent, each record sent.  A pass that sees a durable LSN whose
	 * records it could not read yet (a segment not yet in the manifest it
	 * read, bytes past the size it read) never claims them. */
	uint64_t covered;
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

/* What a job's end means (job_end). */
enum { JOB_NONE, JOB_UNNAMED, JOB_ENTRY, JOB_RESUME };

/* Bytes of one file to send (or, for a resume, to walk), read REPL_CHUNK
 * at a time.  In a segment ("records") only whole records whose LSN is
 * durable are taken, a record's bytes as they come (a DATA frame may end
 * inside one): the walk reads each header from the bytes read, so it costs
 * no read of its own. */
struct repl_job {
	int what;
	struct repl_sent *f;
	struct kvio_file *file;  /* f->file, or own */
	struct kvio_file own;
	uint8_t kind;
	uint32_t shard;
	uint64_t gen;
	uint64_t pos;            /* the next byte to take */
	uint64_t size;           /* never read at or past it */
	uint64_t stop_at;        /* records: stop at the first boundary at or past it */
	uint64_t durable;        /* records: LSNs up to it */
	uint64_t rec_end;        /* records: the end of the record being taken */
	uint64_t rec_lsn;        /* records: that record's LSN */
	uint64_t taken_lsn;      /* records: the LSN of the last record taken whole */
	uint64_t cut;            /* a snapshot: its cut LSN (covered once committed) */
	bool records, send, ended, whole;
};

enum { RS_START, RS_RESUME, RS_FULL, RS_STREAM };
enum { PH_BEGIN, PH_UNNAMED, PH_ENTRIES, PH_MANIFEST };

struct repl_pass {
	bool active;
	uint32_t shard;          /* the shard being sent */
	int tries;               /* runs of this shard's pass that raced a commit */
	int phase;               /* PH_* */
	uint32_t k;
	uint64_t durable;        /* the shard's durable LSN as the pass began */
	int last_aof;
	uint64_t seq0;           /* the frame count as the pass began */
};

struct repl_sender {
	struct shard *host;
	struct conn *io;         /* the link's socket */
	bool closing;            /* its close began */
	bool io_done;            /* the reactor let go of it */
	struct repl_sender *host_next;   /* host->senders */
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
	 * acknowledged (g_repl_lock; zeros until one is). */
	uint64_t ping_off[REPL_PINGS_KEPT];
	uint64_t *ping_lsns;
	unsigned ping_next;
	uint64_t *acked_lsns;
	uint64_t getack_seen;    /* g_repl_getack when last answered */
	int64_t soft_since;      /* over the soft limit since (ms), 0: not over */
	struct repl_sender *next;   /* g_repl_list */

	/* The state machine (sender_turn). */
	int state;               /* RS_* */
	struct repl_pass pass;
	struct repl_job job;
	uint32_t resume_shard;
	/* The read buffer and its ring READ. */
	struct kvio_op rop;
	uint8_t *rbuf;
	bool read_out;           /* a READ is in flight */
	bool read_ready;         /* its result waits in read_res */
	ssize_t read_res;
	size_t turn_bytes;       /* read this loop turn */
	bool more_now;           /* stopped for the turn's budget: run again at once */
	uint64_t wake_seen;      /* g_wake_gen when the last pass began */
	int64_t last_pass_ms, last_ping_ms, progress_ms;
	uint64_t ping_seq;       /* the frame count just after the last PING */
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
/* Bumped when a shard's durable LSN moved: a sender whose last pass began
 * before runs another. */
static _Atomic uint64_t g_wake_gen;

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

/* What the replica sent: REPLCONF ACK <offset> records its offset; anything
 * else is ignored, as a Redis master ignores a replica's other chatter.
 * 0, or an error that ends the link. */
static int sender_input(struct repl_sender *rs, const char *p, size_t n)
{
	kv_buf_append(&rs->in, p, n);
	if (rs->in.len > (1u << 20))
		return KV_ELIMIT;
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
				unsigned q = (rs->ping_next + REPL_PINGS_KEPT - k) % REPL_PINGS_KEPT;
				if (rs->ping_off[q] != (uint64_t)off)
					continue;
				memcpy(rs->acked_lsns, rs->ping_lsns + (size_t)q * rs->nshards,
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
 * streams from the files and holds at most two chunks, so this is what
 * Redis's replica output buffer would hold. */
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
static bool sender_over_limit(struct repl_sender *rs, int64_t now)
{
	int64_t hard = atomic_load(&g_config.obuf_replica_hard);
	int64_t soft = atomic_load(&g_config.obuf_replica_soft);
	if (!hard && !soft)
		return false;
	uint64_t owed = sender_owed(rs);
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

/* Frames go to the link's output; the socket takes them as the reactor
 * sends (sender_turn stops making more once REPL_CHUNK bytes wait). */
static void sender_frame(struct repl_sender *rs, uint8_t type, uint8_t kind, uint32_t shard,
			 uint64_t gen, uint64_t off, const void *payload, uint32_t len)
{
	struct repl_frame f = { .type = type, .kind = kind, .shard = shard, .generation = gen,
				.offset = off, .seq = rs->seq++, .payload = payload,
				.payload_len = len };
	repl_frame_encode(&rs->io->out, &f);
}

/* A file held in memory, sent whole: FILE, its bytes as DATA frames of at
 * most REPL_CHUNK, COMMIT (kevy.dataset, a manifest, functions.kevy). */
static void sender_whole(struct repl_sender *rs, uint8_t kind, uint32_t shard, uint64_t gen,
			 const char *name, const void *data, size_t len)
{
	sender_frame(rs, REPL_FRAME_FILE, kind, shard, gen, 0, name, (uint32_t)strlen(name));
	for (size_t at = 0; at < len; at += REPL_CHUNK) {
		size_t n = len - at < REPL_CHUNK ? len - at : REPL_CHUNK;
		sender_frame(rs, REPL_FRAME_DATA, kind, shard, gen, at, (const char *)data + at,
			     (uint32_t)n);
	}
	sender_frame(rs, REPL_FRAME_COMMIT, kind, shard, gen, len, NULL, 0);
}

static bool sender_out_full(const struct repl_sender *rs)
{
	return rs->io->out.len >= REPL_CHUNK;
}

/* ---- jobs: one file's bytes ---- */

/* Start a job on f (its open descriptor, or path opened for the job) from
 * f->off.  size: bytes that may be read (UINT64_MAX: the file's size).
 * 0 or -errno (-ENOENT: the file is gone). */
static int job_start(struct repl_sender *rs, int what, struct repl_sent *f, const char *path,
		     uint32_t shard, bool records, uint64_t durable, uint64_t stop_at, uint64_t size,
		     bool send)
{
	struct repl_job *j = &rs->job;
	memset(j, 0, sizeof(*j));
	j->own.fd = -1;
	j->f = f;
	j->file = &f->file;
	if (f->file.fd < 0) {
		int rc = kvio_open(&j->own, path, O_RDONLY, 0);
		if (rc < 0)
			return rc;
		j->file = &j->own;
	}
	if (size == UINT64_MAX) {
		struct stat st;
		if (fstat(j->file->fd, &st) < 0) {
			int rc = -errno;
			kvio_close(&j->own);
			return rc;
		}
		size = (uint64_t)st.st_size;
	}
	j->what = what;
	j->kind = f->kind;
	j->shard = shard;
	j->gen = f->generation;
	j->pos = f->off;
	j->size = size;
	j->stop_at = stop_at;
	j->durable = durable;
	j->records = records;
	j->send = send;
	if (records && j->pos < AOF_HEADER_SIZE) {
		/* The file header goes with the first records. */
		j->pos = 0;
		if (size >= AOF_HEADER_SIZE)
			j->rec_end = AOF_HEADER_SIZE;
		else
			j->ended = true;
	}
	if (records && j->pos < size)
		/* Under appendfsync always the shard writes its segment with
		 * O_DIRECT (durability.md, "Direct writes"): drop cached pages
		 * from here on, so that this read cannot see a page cached
		 * before a direct write of its block. */
		(void)posix_fadvise(j->file->fd, (off_t)j->pos, 0, POSIX_FADV_DONTNEED);
	return 0;
}

static void job_close(struct repl_sender *rs)
{
	if (rs->job.own.fd >= 0)
		kvio_close(&rs->job.own);
	rs->job.own.fd = -1;
	rs->job.what = JOB_NONE;
}

/* n bytes read at the job's position are in rbuf: take what belongs (a
 * segment: records with a durable LSN, up to its end record; preallocated
 * zeros, a record past size or past a durable LSN end it).  The headers
 * are the server's own, written before: not verified here. */
static int job_take(struct repl_sender *rs, size_t n)
{
	struct repl_job *j = &rs->job;
	size_t take = n;
	if (j->records) {
		size_t p = 0;
		while (p < n) {
			uint64_t at = j->pos + p;
			if (at < j->rec_end) {
				p = j->rec_end - at < n - p ? (size_t)(j->rec_end - j->pos) : n;
				continue;
			}
			if (at >= j->stop_at) {
				j->ended = true;
				break;
			}
			if (n - p < AOF_RECORD_HEADER_SIZE) {
				/* A header cut by the read: read from it next, unless
				 * the read had no whole header at all (the end). */
				if (p == 0)
					j->ended = true;
				break;
			}
			const uint8_t *h = rs->rbuf + p;
			uint64_t next = at + AOF_RECORD_HEADER_SIZE + le_get32(h + 8);
			bool end_rec = h[12] == AOF_REC_SEGMENT_END;
			if (next > j->size || (!aof_rec_numbered(h[12]) && !end_rec) ||
			    le_get64(h + 16) > j->durable) {
				j->ended = true;
				break;
			}
			if (j->rec_end > j->pos && j->rec_end <= at && j->rec_lsn > j->taken_lsn)
				j->taken_lsn = j->rec_lsn;   /* the previous record, whole */
			j->rec_end = next;
			j->rec_lsn = le_get64(h + 16);
			if (end_rec)
				j->stop_at = next;
		}
		take = p;
	} else if (n == 0) {
		return -ENODATA;   /* shorter than it was */
	}
	if (take > 0 && j->send)
		sender_frame(rs, REPL_FRAME_DATA, j->kind, j->shard, j->gen, j->pos, rs->rbuf,
			     (uint32_t)take);
	j->pos += take;
	if (j->records && j->pos >= j->rec_end && j->rec_lsn > j->taken_lsn)
		j->taken_lsn = j->rec_lsn;
	if (j->pos >= j->size || (j->records && j->pos >= j->stop_at && j->pos >= j->rec_end))
		j->ended = true;
	return 0;
}

/* Drive the job: 1 when it is complete, 0 when it waits (a READ out, the
 * socket, or the turn's budget), <0 an error. */
static int job_step(struct repl_sender *rs)
{
	struct repl_job *j = &rs->job;
	for (;;) {
		if (rs->read_out)
			return 0;
		if (rs->read_ready) {
			rs->read_ready = false;
			ssize_t n = rs->read_res;
			if (n < 0)
				return (int)n;
			if (n == 0 && j->records)
				j->ended = true;
			else {
				int rc = job_take(rs, (size_t)n);
				if (rc < 0)
					return rc;
			}
			rs->turn_bytes += (size_t)n;
			continue;
		}
		if (j->ended || j->pos >= j->size)
			return 1;
		if (sender_out_full(rs))
			return 0;
		if (rs->turn_bytes >= REPL_TURN_BYTES) {
			rs->more_now = true;
			return 0;
		}
		uint64_t left = j->size - j->pos;
		size_t want = left < REPL_CHUNK ? (size_t)left : REPL_CHUNK;
		struct io_uring *ring = rs->host->aof.ring;
		if (ring) {
			struct io_uring_sqe *sqe = kvio_ring_sqe(ring);
			kvio_prep_pread(&rs->rop, sqe, NULL, j->file, rs->rbuf, want, j->pos);
			kvio_sqe_set_op(sqe, &rs->rop, rs->host->aof.ring_tag);
			rs->read_out = true;
			return 0;
		}
		rs->read_res = kvio_pread(j->file, rs->rbuf, want, j->pos);
		rs->read_ready = true;
	}
}

/* ---- passes: what every shard has that the replica has not ---- */

static const char *path_of(const struct repl_sender *rs, const char *name, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", rs->dir, name);
	return path;
}

/* Read shard i's manifest again when it may have changed (force: always).
 * 0, or <0 (the link is dropped). */
static int shard_manifest(struct repl_sender *rs, uint32_t i, bool force)
{
	struct repl_shard_state *st = &rs->shards[i];
	int64_t now = kv_time_ms();
	uint64_t commits = atomic_load(&rs->rt->aof(i)->info.manifest_commits);
	if (st->man_valid && !force && commits == st->man_commits &&
	    now - st->man_read_ms < REPL_MANIFEST_AGE_MS)
		return 0;
	char name[64], path[4200], msg[200];
	struct kv_buf raw = KV_BUF_INIT;
	struct manifest m;
	snprintf(name, sizeof(name), "kevy-s%u.manifest", i);
	int rc = manifest_read_file(path_of(rs, name, path, sizeof(path)), 1 << 20, &raw);
	if (rc == 0)
		rc = manifest_decode((const uint8_t *)raw.data, raw.len, &m, msg, sizeof(msg));
	if (rc < 0) {
		kv_buf_free(&raw);
		return rc;
	}
	if (st->man_valid)
		manifest_free(&st->man);
	kv_buf_free(&st->man_raw);
	st->man_raw = raw;
	st->man = m;
	st->man_valid = true;
	st->man_commits = commits;
	st->man_read_ms = now;
	return 0;
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
			else if (st->files[i].file.fd >= 0)
				kvio_close(&st->files[i].file);
		}
		st->nfiles = keep;
		if (keep == REPL_FILES_MAX)
			return NULL;
	}
	struct repl_sent *f = &st->files[st->nfiles++];
	memset(f, 0, sizeof(*f));
	f->file.fd = -1;
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->kind = kind;
	f->generation = gen;
	*fresh = true;
	return f;
}

static void sent_close(struct repl_sent *f)
{
	if (f->file.fd >= 0)
		kvio_close(&f->file);
	f->file.fd = -1;
}

/* A job ended: what it sent is the file's, and a file sent whole is
 * committed. */
static void job_end(struct repl_sender *rs)
{
	struct repl_job *j = &rs->job;
	struct repl_sent *f = j->f;
	f->off = j->pos;
	struct repl_shard_state *st = &rs->shards[j->shard];
	if (j->records && j->taken_lsn > st->covered)
		st->covered = j->taken_lsn;
	if (j->what == JOB_ENTRY && !j->whole)
		rs->shards[j->shard].live_sent = f->off;
	if (j->cut > st->covered)
		st->covered = j->cut;
	if (j->what == JOB_UNNAMED || j->whole) {
		sender_frame(rs, REPL_FRAME_COMMIT, f->kind, j->shard, f->generation, f->off, NULL, 0);
		f->done = true;
		sent_close(f);
	}
	job_close(rs);
}

/* A file the manifest named was gone when the pass opened it: a snapshot or
 * rewrite committed meanwhile and dropped what it replaced.  When the
 * manifest on disk changed, the shard's pass runs again from it
 * (-EAGAIN); otherwise the file is really missing. */
static int pass_gone(struct repl_sender *rs, uint32_t i)
{
	struct repl_shard_state *st = &rs->shards[i];
	struct kv_buf before = st->man_raw;
	st->man_raw = (struct kv_buf)KV_BUF_INIT;
	bool valid = st->man_valid;
	struct manifest m = st->man;
	st->man_valid = false;
	int rc = shard_manifest(rs, i, true);
	bool changed = rc == 0 && (st->man_raw.len != before.len ||
				   memcmp(st->man_raw.data, before.data, before.len) != 0);
	if (rc < 0) {
		st->man_raw = before;
		st->man = m;
		st->man_valid = valid;
		return rc;
	}
	if (valid)
		manifest_free(&m);
	kv_buf_free(&before);
	return changed ? -EAGAIN : -ENOENT;
}

/* Shard i's pass as far as it can go now: 1 done, 0 waiting, -EAGAIN run
 * it again (its manifest changed under it), <0 an error (the link is
 * dropped). */
static int pass_shard_step(struct repl_sender *rs)
{
	struct repl_pass *ps = &rs->pass;
	uint32_t i = ps->shard;
	struct repl_shard_state *st = &rs->shards[i];
	char path[4200];
	for (;;) {
		if (rs->job.what != JOB_NONE) {
			int rc = job_step(rs);
			if (rc <= 0)
				return rc;
			job_end(rs);
			continue;
		}
		if (sender_out_full(rs))
			return 0;
		switch (ps->phase) {
		case PH_BEGIN: {
			/* The durable LSN is read before the manifest: a segment
			 * the manifest names is then never judged by a newer LSN
			 * than its files show. */
			ps->durable = atomic_load(&rs->rt->aof(i)->info.durable_lsn);
			int rc = shard_manifest(rs, i, ps->tries > 0);
			if (rc < 0)
				return rc;
			const struct manifest *m = &st->man;
			bool snap = false, known = false;
			ps->last_aof = -1;
			for (uint32_t k = 0; k < m->nentries; k++) {
				if (m->entries[k].kind == MANIFEST_AOF)
					ps->last_aof = (int)k;
				snap |= m->entries[k].kind == MANIFEST_SNAPSHOT;
				for (uint32_t q = 0; q < st->nfiles; q++)
					known |= strcmp(st->files[q].name, m->entries[k].name) == 0;
			}
			if (st->nfiles > 0 && !snap && !known) {
				/* Every file replaced, and no snapshot: the AOF was
				 * rewritten (appendonly turned back on).  Its records
				 * restate the whole keyspace under new LSNs, which a
				 * replica cannot apply on top of what it has: it
				 * resyncs in full (its files are no longer named, so
				 * its next PSYNC gets a full sync). */
				log_notice("replica %s: shard %u's AOF was rewritten: the replica "
					   "resyncs in full", rs->peer, i);
				return KV_EMISMATCH;
			}
			ps->phase = PH_UNNAMED;
			ps->k = 0;
			break;
		}
		case PH_UNNAMED: {
			/* Segments this sender streamed that the manifest no
			 * longer names, not yet committed: a snapshot committed
			 * between two passes and dropped one before its last
			 * records were sent.  They are durable (the snapshot's
			 * commit waited for them) and, the descriptor being open,
			 * still readable: sent and committed now, before anything
			 * of the new manifest, so the replica receives every
			 * record in order. */
			const struct manifest *m = &st->man;
			for (; ps->k < st->nfiles; ps->k++) {
				struct repl_sent *f = &st->files[ps->k];
				bool named = false;
				for (uint32_t q = 0; q < m->nentries && !named; q++)
					named = strcmp(m->entries[q].name, f->name) == 0;
				if (!named && !f->done && f->file.fd >= 0 && f->kind == REPL_KIND_AOF)
					break;
			}
			if (ps->k == st->nfiles) {
				for (uint32_t q = 0; q < st->nfiles; q++)
					st->files[q].seen = false;
				ps->phase = PH_ENTRIES;
				ps->k = 0;
				break;
			}
			struct repl_sent *f = &st->files[ps->k++];
			int rc = job_start(rs, JOB_UNNAMED, f, NULL, i, true, UINT64_MAX, UINT64_MAX,
					   UINT64_MAX, true);
			if (rc < 0)
				return rc;
			break;
		}
		case PH_ENTRIES: {
			if (ps->k == st->man.nentries) {
				ps->phase = PH_MANIFEST;
				break;
			}
			uint32_t k = ps->k++;
			const struct manifest_entry *e = &st->man.entries[k];
			uint8_t kind = e->kind == MANIFEST_AOF ? REPL_KIND_AOF : REPL_KIND_SNAPSHOT;
			bool fresh;
			struct repl_sent *f = sent_find(st, e->name, kind, e->generation, &fresh);
			if (!f)
				return KV_ELIMIT;
			f->seen = true;
			if (fresh)
				sender_frame(rs, REPL_FRAME_FILE, kind, i, e->generation, 0, e->name,
					     (uint32_t)strlen(e->name));
			/* Every file before this one is sent whole: so is every
			 * record at or before a segment's start LSN. */
			if (kind == REPL_KIND_AOF && e->lsn > st->covered)
				st->covered = e->lsn;
			if (f->done) {
				if (kind == REPL_KIND_SNAPSHOT && e->lsn > st->covered)
					st->covered = e->lsn;
				break;
			}
			path_of(rs, e->name, path, sizeof(path));
			bool whole = (int)k != ps->last_aof;
			int rc;
			if (!whole) {
				if (st->live_gen && st->live_gen != e->generation)
					st->live_sent = st->base = 0;   /* a segment newer than the link */
				st->live_gen = e->generation;
				/* The live segment, kept open; read up to where the
				 * shard's writes end (its preallocated zeros are not
				 * read), records up to the durable LSN. */
				if (f->file.fd < 0 && (rc = kvio_open(&f->file, path, O_RDONLY, 0)) < 0) {
					f->file.fd = -1;
					return rc == -ENOENT ? pass_gone(rs, i) : rc;
				}
				uint64_t end = atomic_load(&rs->rt->aof(i)->info.current_size);
				if (end <= f->off) {
					st->live_sent = f->off;
					break;
				}
				rc = job_start(rs, JOB_ENTRY, f, path, i, true, ps->durable, UINT64_MAX,
					       end, true);
			} else {
				/* A snapshot whole; a closed segment's records, up to
				 * and with its end record. */
				rc = job_start(rs, JOB_ENTRY, f, path, i, kind == REPL_KIND_AOF,
					       UINT64_MAX, UINT64_MAX, UINT64_MAX, true);
			}
			if (rc == -ENOENT)
				return pass_gone(rs, i);
			if (rc < 0)
				return rc;
			rs->job.whole = whole;
			rs->job.cut = kind == REPL_KIND_SNAPSHOT ? e->lsn : 0;
			break;
		}
		case PH_MANIFEST: {
			const struct kv_buf *raw = &st->man_raw;
			if (raw->len != st->manifest.len ||
			    memcmp(raw->data, st->manifest.data, raw->len) != 0) {
				char name[64];
				snprintf(name, sizeof(name), "kevy-s%u.manifest", i);
				sender_whole(rs, REPL_KIND_MANIFEST, i, st->man.generation, name,
					     raw->data, raw->len);
				kv_buf_clear(&st->manifest);
				kv_buf_append(&st->manifest, raw->data, raw->len);
			}
			st->sent_lsn = KV_MIN(ps->durable, st->covered);
			return 1;
		}
		}
	}
}

static void pass_begin(struct repl_sender *rs)
{
	memset(&rs->pass, 0, sizeof(rs->pass));
	rs->pass.active = true;
	rs->pass.seq0 = rs->seq;
}

/* Every shard's pass in turn: 1 when all are done, 0 waiting, <0 error.
 * A shard's pass that raced with a snapshot or rewrite is run again; each
 * run reads the newer manifest, so a few runs suffice unless the shard
 * commits new files back to back. */
static int pass_step(struct repl_sender *rs)
{
	struct repl_pass *ps = &rs->pass;
	while (ps->shard < rs->nshards) {
		int rc = pass_shard_step(rs);
		if (rc == -EAGAIN && ps->tries < 16) {
			ps->tries++;
			ps->phase = PH_BEGIN;
			continue;
		}
		if (rc == -EAGAIN)
			rc = -ENOENT;
		if (rc <= 0)
			return rc;
		ps->shard++;
		ps->tries = 0;
		ps->phase = PH_BEGIN;
	}
	ps->active = false;
	return 1;
}

static int sender_dataset(struct repl_sender *rs)
{
	char path[4200];
	struct kv_buf raw = KV_BUF_INIT;
	const char *name = "kevy.dataset";
	int rc = manifest_read_file(path_of(rs, name, path, sizeof(path)), 1 << 16, &raw);
	if (rc == 0)
		sender_whole(rs, REPL_KIND_DATASET, REPL_NO_SHARD, 0, name, raw.data, raw.len);
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
	struct kvio_file f;
	struct stat st;
	struct kv_buf raw = KV_BUF_INIT;
	int rc = kvio_open(&f, path_of(rs, name, path, sizeof(path)), O_RDONLY, 0);
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
	if (rc == 0) {
		sender_whole(rs, REPL_KIND_FUNCTIONS, REPL_NO_SHARD, 0, name, raw.data, raw.len);
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

static bool sender_may_resume(const struct repl_sender *rs)
{
	if (!rs->pos)
		return false;
	for (uint32_t i = 0; i < rs->nshards; i++)
		if (!rs->pos[i].given)
			return false;
	return strcmp(rs->want, rs->replid) == 0 || sender_switch_ok(rs);
}

static void sender_forget_files(struct repl_sender *rs)
{
	for (uint32_t i = 0; i < rs->nshards; i++) {
		struct repl_shard_state *st = &rs->shards[i];
		for (uint32_t k = 0; k < st->nfiles; k++)
			sent_close(&st->files[k]);
		st->nfiles = 0;
	}
}

/* Check the replica's positions, shard by shard, walking the records of the
 * segment it names up to its length: 1 when every shard can resume, 2 when
 * one cannot (a full sync), 0 waiting for a read. */
static int resume_step(struct repl_sender *rs)
{
	for (;;) {
		if (rs->job.what == JOB_RESUME) {
			int rc = job_step(rs);
			if (rc == 0)
				return 0;
			struct repl_sent *f = rs->job.f;
			uint64_t want = rs->pos[rs->job.shard].offset;
			bool ok = rc == 1 && rs->job.pos == want;
			uint64_t covered = KV_MAX(rs->job.cut, rs->job.taken_lsn);
			job_close(rs);
			if (!ok)
				return 2;
			f->off = want;
			rs->shards[rs->job.shard].covered = covered;
			rs->resume_shard++;
			continue;
		}
		uint32_t i = rs->resume_shard;
		if (i == rs->nshards)
			return 1;
		struct repl_shard_state *st = &rs->shards[i];
		const struct repl_pos *p = &rs->pos[i];
		uint64_t durable = atomic_load(&rs->rt->aof(i)->info.durable_lsn);
		if (shard_manifest(rs, i, true) < 0)
			return 2;
		const struct manifest *m = &st->man;
		struct repl_sent *match = NULL;
		uint64_t match_start = 0;
		st->nfiles = 0;
		for (uint32_t k = 0; k < m->nentries && st->nfiles < REPL_FILES_MAX; k++) {
			const struct manifest_entry *e = &m->entries[k];
			bool aof = e->kind == MANIFEST_AOF;
			/* A snapshot and a segment of the same generation are
			 * made together, the snapshot sent first. */
			if (e->generation > p->generation)
				continue;
			struct repl_sent *f = &st->files[st->nfiles++];
			memset(f, 0, sizeof(*f));
			f->file.fd = -1;
			snprintf(f->name, sizeof(f->name), "%s", e->name);
			f->kind = aof ? REPL_KIND_AOF : REPL_KIND_SNAPSHOT;
			f->generation = e->generation;
			f->seen = true;
			if (aof && e->generation == p->generation) {
				match = f;
				match_start = e->lsn;
			} else {
				f->done = true;
			}
		}
		if (!match)
			return 2;
		char path[4200];
		/* Kept open for PH_UNNAMED, as the streamed segment is. */
		if (kvio_open(&match->file, path_of(rs, match->name, path, sizeof(path)), O_RDONLY,
			      0) < 0) {
			match->file.fd = -1;
			return 2;
		}
		if (job_start(rs, JOB_RESUME, match, path, i, true, durable, p->offset, UINT64_MAX,
			      false) < 0)
			return 2;
		rs->job.cut = match_start;   /* every record before the segment */
	}
}

bool repl_has_senders(void)
{
	return atomic_load_explicit(&g_repl_senders, memory_order_relaxed) != 0;
}

/* A shard's durable LSN moved (from: that shard, which runs its own
 * senders later in the same turn), or a WAIT asks for ACKs (NULL): every
 * shard that serves a replica runs a pass. */
void repl_wake_senders(struct shard *from)
{
	atomic_fetch_add(&g_wake_gen, 1);
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *s = g_server.shards[i];
		if (s != from && atomic_load_explicit(&s->repl_hosting, memory_order_relaxed))
			shard_wake(s);
	}
}

/* Under appendfsync no a shard never fsyncs on its own, and only durable
 * records are sent: ask every shard with records that are not durable yet
 * for an fsync once a second, so a replica is never more than about a
 * second behind (everysec and always fsync by themselves). */
static void sender_ask_fsync(struct repl_sender *rs, int64_t now)
{
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

static void sender_set_online(struct repl_sender *rs)
{
	pthread_mutex_lock(&g_repl_lock);
	rs->info.state = "online";
	pthread_mutex_unlock(&g_repl_lock);
	repl_refresh_good(kv_time_ms());
}

static void sender_full_begin(struct repl_sender *rs, int64_t now)
{
	char line[128];
	/* As Redis counts them: a PSYNC that named an id ("?" asks for a full
	 * sync on purpose) and could not resume is an error too. */
	atomic_fetch_add(&g_sync_full, 1);
	if (rs->want[0] && strcmp(rs->want, "?") != 0)
		atomic_fetch_add(&g_sync_partial_err, 1);
	snprintf(line, sizeof(line), "+FULLRESYNC %s %" PRIu64 "\r\n", rs->replid,
		 sender_offset(rs));
	kv_buf_append_str(&rs->io->out, line);
	rs->state = RS_FULL;
	rs->last_ping_ms = now;
	pass_begin(rs);
}

/* After a streaming pass: acknowledgements asked for, repl-timeout, the
 * PING.  0 or an error that ends the link. */
static int sender_pass_end(struct repl_sender *rs, int64_t now)
{
	/* A WAIT asks every replica for an acknowledgement now ... */
	uint64_t getack = atomic_load(&g_repl_getack);
	/* ... and, while one waits, after every pass that sent records. */
	bool asked = getack != rs->getack_seen ||
		     (rs->seq != rs->pass.seq0 && atomic_load(&g_repl_waiting) > 0);
	rs->getack_seen = getack;
	/* repl-timeout: a replica that acknowledged nothing for that long
	 * (stopped, or its network gone quiet) loses its link, as Redis's
	 * "timedout replica"; it resumes when it comes back. */
	int64_t timeout_ms = atomic_load(&g_config.repl_timeout) * 1000;
	if (timeout_ms > 0 && now - rs->ack_ms > timeout_ms) {
		log_warning("replica %s: no acknowledgement for %lld s (repl-timeout): "
			    "disconnecting it", rs->peer, (long long)(now - rs->ack_ms) / 1000);
		return -ETIMEDOUT;
	}
	/* A PING is both the link's heartbeat and the point an ACK names (its
	 * offset maps to what every shard had sent).  Every
	 * repl-ping-replica-period on a quiet link, as Redis; each second
	 * while records flow, so acknowledged offsets stay within a second of
	 * what was sent; at once for WAIT.  The replica acknowledges the
	 * newest one it has every second on its own, so its lag (INFO,
	 * min-replicas-max-lag) is not the period. */
	int64_t period_ms = atomic_load(&g_config.repl_ping_replica_period) * 1000;
	bool moved = rs->seq != rs->ping_seq;
	if (asked || now - rs->last_ping_ms >= period_ms ||
	    (moved && now - rs->last_ping_ms >= REPL_SYNC_POINT_MS)) {
		sender_frame(rs, REPL_FRAME_PING, REPL_KIND_NONE, REPL_NO_SHARD, 0,
			     sender_ping_offset(rs), NULL, 0);
		rs->last_ping_ms = now;
		rs->ping_seq = rs->seq;
	}
	return 0;
}

/* One loop turn of a sender: the microseconds until it wants its next turn
 * (0: at once), or <0 when the link is to be closed (logged). */
static int64_t sender_turn(struct repl_sender *rs, int64_t now)
{
	char line[128];
	rs->turn_bytes = 0;
	rs->more_now = false;
	if (atomic_load(&g_server.repl_role) != REPL_ROLE_PRIMARY) {
		/* Its files now follow another primary (REPLICAOF): a replica
		 * of this one starts over, as Redis disconnects its replicas
		 * then. */
		log_notice("replica %s: disconnecting it: this server became a replica", rs->peer);
		return -ECONNABORTED;
	}
	/* A replica that stopped reading (during a full sync too: no progress,
	 * not no ACK, as Redis's "timedout replica (full sync)") loses its
	 * link after repl-timeout. */
	if (rs->io->out.len == 0 && !rs->io->send_inflight)
		rs->progress_ms = now;
	int64_t timeout_ms = atomic_load(&g_config.repl_timeout) * 1000;
	if (timeout_ms > 0 && now - rs->progress_ms > timeout_ms) {
		log_warning("replica %s: not reading for %lld s (repl-timeout): disconnecting it",
			    rs->peer, (long long)(now - rs->progress_ms) / 1000);
		return -ETIMEDOUT;
	}
	if (sender_over_limit(rs, now))
		return -ENOBUFS;
	for (;;) {
		int rc;
		switch (rs->state) {
		case RS_START:
			for (uint32_t i = 0; i < rs->nshards; i++)
				rs->shards[i].base = atomic_load(&rs->rt->aof(i)->info.current_size);
			if (sender_may_resume(rs)) {
				rs->state = RS_RESUME;
				rs->resume_shard = 0;
			} else {
				sender_full_begin(rs, now);
				if ((rc = sender_dataset(rs)) < 0 || (rc = sender_functions(rs)) < 0)
					return rc;
			}
			continue;
		case RS_RESUME:
			rc = resume_step(rs);
			if (rc == 0)
				goto wait;
			if (rc == 2) {
				job_close(rs);
				sender_forget_files(rs);
				sender_full_begin(rs, now);
				if ((rc = sender_dataset(rs)) < 0 || (rc = sender_functions(rs)) < 0)
					return rc;
				continue;
			}
			atomic_fetch_add(&g_sync_partial_ok, 1);
			snprintf(line, sizeof(line), "+CONTINUE %s\r\n", rs->replid);
			kv_buf_append_str(&rs->io->out, line);
			log_notice("replica %s: partial resync from its own files, streaming", rs->peer);
			rs->state = RS_STREAM;
			rs->last_ping_ms = now;
			rs->ping_seq = rs->seq;
			sender_set_online(rs);
			continue;
		case RS_FULL:
			rc = pass_step(rs);
			if (rc < 0)
				return rc;
			if (rc == 0)
				goto wait;
			sender_frame(rs, REPL_FRAME_SYNCED, REPL_KIND_NONE, REPL_NO_SHARD, 0,
				     sender_ping_offset(rs), NULL, 0);
			log_notice("replica %s: full sync sent (%u shard(s)), streaming", rs->peer,
				   rs->nshards);
			rs->state = RS_STREAM;
			rs->ping_seq = rs->seq;
			rs->last_pass_ms = now;
			sender_set_online(rs);
			continue;
		case RS_STREAM:
			if (!rs->pass.active) {
				uint64_t gen = atomic_load(&g_wake_gen);
				bool due = gen != rs->wake_seen ||
					   atomic_load(&g_repl_getack) != rs->getack_seen ||
					   now - rs->last_pass_ms >= REPL_IDLE_MS;
				if (!due)
					goto wait;
				rs->wake_seen = gen;
				sender_ask_fsync(rs, now);
				if ((rc = sender_functions(rs)) < 0)
					return rc;
				pass_begin(rs);
			}
			rc = pass_step(rs);
			if (rc < 0)
				return rc;
			if (rc == 0)
				goto wait;
			rs->last_pass_ms = now;
			if ((rc = sender_pass_end(rs, now)) < 0)
				return rc;
			goto wait;
		}
	}
wait:
	if (rs->more_now)
		return 0;
	if (rs->state == RS_STREAM && !rs->pass.active) {
		int64_t left = rs->last_pass_ms + REPL_IDLE_MS - now;
		return left > 0 ? left * 1000 : 0;
	}
	/* Waiting for a read or the socket: their completions come as events;
	 * the timeouts above are looked at again by then. */
	return REPL_IDLE_MS * 1000;
}

/* Begin closing the link (err < 0: logged as why). */
static void sender_close(struct repl_sender *rs, int err)
{
	if (rs->closing)
		return;
	rs->closing = true;
	if (err < 0)
		log_warning("replica %s: link closed: %s", rs->peer, kv_strerror(err));
	sender_list(rs, false);
	repl_refresh_good(kv_time_ms());
	atomic_fetch_sub(&g_repl_senders, 1);
	atomic_fetch_sub(&rs->host->repl_hosting, 1);
	struct conn *io = rs->io;
	if (!io->close_started) {
		io->close_started = true;
		rs->host->reactor->conn_close(rs->host, io);
	}
}

static void sender_free(struct repl_sender *rs)
{
	struct conn *io = rs->io;
	kv_buf_free(&io->in);
	kv_buf_free(&io->out);
	kv_buf_free(&io->sending);
	free(io);
	job_close(rs);
	resp_parser_free(&rs->parser);
	kv_buf_free(&rs->in);
	for (uint32_t i = 0; i < rs->nshards; i++) {
		struct repl_shard_state *st = &rs->shards[i];
		kv_buf_free(&st->manifest);
		kv_buf_free(&st->man_raw);
		if (st->man_valid)
			manifest_free(&st->man);
		for (uint32_t k = 0; k < st->nfiles; k++)
			sent_close(&st->files[k]);
	}
	free(rs->shards);
	free(rs->ping_lsns);
	free(rs->acked_lsns);
	free(rs->pos);
	free(rs->rbuf);
	free(rs->dir);
	free(rs);
}

int64_t repl_senders_turn(struct shard *s)
{
	int64_t next = INT64_MAX;
	int64_t now = kv_time_ms();
	for (struct repl_sender **pp = &s->senders; *pp;) {
		struct repl_sender *rs = *pp;
		if (rs->closing) {
			/* Freed once the reactor let go of the socket and no
			 * READ of it is out. */
			if (rs->io_done && !rs->read_out) {
				*pp = rs->host_next;
				sender_free(rs);
				continue;
			}
			pp = &rs->host_next;
			continue;
		}
		pp = &rs->host_next;
		int64_t us = sender_turn(rs, now);
		if (us < 0) {
			sender_close(rs, (int)us);
			continue;
		}
		if (rs->io->out.len)
			s->reactor->conn_flush(s, rs->io);
		/* Stopped on a full output that the socket has since taken (the
		 * epoll reactor sends at once; io_uring moved it into the send in
		 * flight): make the next chunk now, not at the next event. */
		bool busy = rs->state != RS_STREAM || rs->pass.active;
		if (busy && !rs->read_out && !rs->closing && rs->io->out.len < REPL_CHUNK)
			us = 0;
		if (us < next)
			next = us;
	}
	return next;
}

void repl_senders_close(struct shard *s)
{
	for (struct repl_sender *rs = s->senders; rs; rs = rs->host_next)
		sender_close(rs, 0);
	repl_senders_turn(s);
}

bool repl_sender_read_done(struct shard *s, struct kvio_op *op, int res)
{
	for (struct repl_sender *rs = s->senders; rs; rs = rs->host_next) {
		if (op != &rs->rop)
			continue;
		rs->read_out = false;
		rs->read_res = kvio_op_complete(op, res);
		rs->read_ready = !rs->closing;
		return true;
	}
	return false;
}

void repl_sender_input(struct conn *c, const char *p, size_t n)
{
	struct repl_sender *rs = c->sender;
	if (rs->closing)
		return;
	int rc = sender_input(rs, p, n);
	if (rc < 0)
		sender_close(rs, rc);
}

void repl_sender_sent(struct conn *c)
{
	c->sender->progress_ms = kv_time_ms();
}

void repl_sender_hangup(struct conn *c)
{
	sender_close(c->sender, -ECONNRESET);
}

void repl_sender_io_done(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->io_closed = true;
	c->sender->io_done = true;
}

/* PSYNC was served and the connection's earlier replies are out: its socket
 * becomes a link served by this shard (the client itself goes away). */
void repl_sender_start(struct shard *s, struct conn *c, int fd)
{
	struct repl_sender *rs = kv_calloc(1, sizeof(*rs));
	struct conn *io = kv_calloc(1, sizeof(*io));
	io->id = c->id;
	io->fd = fd;
	io->shard = s;
	io->sender = rs;
	snprintf(io->addr, sizeof(io->addr), "%s", c->addr);
	rs->host = s;
	rs->io = io;
	rs->nshards = c->repl_shards;
	rs->rt = &server_runtime;
	rs->dir = strdup(g_config.dir);
	rs->rbuf = kv_malloc(REPL_CHUNK);
	rs->job.own.fd = -1;
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
	rs->ack_ms = rs->progress_ms = kv_time_ms();
	rs->wake_seen = atomic_load(&g_wake_gen);
	rs->getack_seen = atomic_load(&g_repl_getack);
	atomic_fetch_add(&g_repl_senders, 1);
	atomic_fetch_add(&s->repl_hosting, 1);
	sender_list(rs, true);
	rs->host_next = s->senders;
	s->senders = rs;
	log_notice("replica %s: sync starting (served by shard %u)", rs->peer, s->id);
	s->reactor->conn_start(s, io);
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
	repl_wake_senders(NULL);
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
