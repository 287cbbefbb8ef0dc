/*
 * replica.c - kevy-server as a replica of a kevy primary: REPLICAOF and
 * SLAVEOF, ROLE, the link thread, and applying the primary's records.
 *
 * A kevy replica mirrors its primary's files (docs/replication.md): the
 * link (persist/repl_link.c) writes every verified frame into the data
 * directory, so the replica's files are always a byte for byte prefix of
 * the primary's.  This file keeps the keyspace in step with those files:
 *
 *   - Becoming a replica (REPLICAOF host port, or `replicaof` at startup):
 *     writes are refused at once (READONLY); every shard makes durable
 *     what it appended and then appends nothing more (shard.c,
 *     shard_repl_turn); only then does the link start writing files.
 *   - A full sync is staged in <dir>/replica-sync/ and swapped in whole
 *     (repl_mirror.c, crash-safe), while the old data is still served.
 *     The new keyspace is then built beside the live one: each shard's
 *     snapshot, then every record after its cut in the order below; it
 *     replaces the live one in one txn that holds every shard.
 *   - Streaming: each shard's current segment is parsed as its frames
 *     arrive (aof_reader: every record verified again), and records go to
 *     a queue per shard.  The queues are released in an order that keeps
 *     each shard's order and each unit across shards whole: a unit's part
 *     leaves only with its parts on the other shards; a shard's records
 *     behind a part still waiting wait too.  What is released is applied
 *     in one txn holding the shards it touches (route.c's ordered
 *     acquisition: no client ever sees half a unit), through the same
 *     effect replay recovery uses (aof_effect_ops).  A RESOLVE record (the
 *     primary's recovery dropped a unit it could not complete) removes
 *     those records from the queue.
 *   - Promotion (REPLICAOF NO ONE): the link stops, every shard's files are
 *     recovered as at startup (the recovery rule for units, a RESOLVE for
 *     what it drops) into a fresh keyspace that replaces the live one, and
 *     each shard's AOF is opened for appends; the former primary's id is
 *     kept as replid2 so its other replicas can resume here
 *     (repl_set_switch).
 *
 * Threads: the link thread owns the queues and the readers; the txns it
 * starts run on shard threads and own their batch; REPLICAOF runs on a
 * shard thread holding every shard (CMD_ALL_SHARDS) and joins the link
 * thread, which never waits for a shard once asked to stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "commands/cmd.h"
#include "commands/cmd_persist.h"
#include "commands/config.h"
#include "persist/aof.h"
#include "persist/aof_format.h"
#include "persist/aof_plan.h"
#include "persist/kvio.h"
#include "persist/manifest.h"
#include "persist/repl_format.h"
#include "persist/repl_link.h"
#include "persist/repl_mirror.h"
#include "proto/resp.h"
#include "server/script.h"
#include "server/server.h"
#include "server/shard.h"

enum { RS_NONE = 0, RS_CONNECT, RS_CONNECTING, RS_SYNC, RS_CONNECTED };
static const char *const rs_names[] = { "none", "connect", "connecting", "sync", "connected" };

/* One record waiting to be applied. */
struct rq_rec {
	struct rq_rec *next;
	uint32_t shard;
	uint8_t type;              /* AOF_REC_EFFECT or AOF_REC_UNIT */
	uint64_t lsn;
	struct aof_unit unit;      /* UNIT: decoded, pointing into payload */
	const uint8_t *effect;     /* the EFFECT payload to replay */
	size_t effect_len;
	size_t len;
	uint8_t payload[];
};

struct rq_list {
	struct rq_rec *head, *tail;
};

/* What one txn applies: records in order, and for a full sync the new
 * keyspaces it installs first.  Owned by the link thread until it is
 * handed to the txn; then by whoever sees the other side done. */
struct rq_batch {
	struct rq_list recs;
	struct kv_dbs *install;    /* [nshards] or NULL */
	uint64_t epoch;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, abandoned, failed;
};

static struct {
	pthread_mutex_t lock;      /* host, port, replid, the thread handle */
	char host[256];
	int64_t port;
	char replid[REPL_REPLID_LEN + 1];
	bool thread_on;
	pthread_t thread;
	int link_fd;               /* the link's socket, -1 none (under lock) */
	volatile int stop;
	_Atomic int state;
	_Atomic int64_t last_io_ms, down_since_ms;
	_Atomic bool syncing;
	_Atomic uint64_t epoch;    /* bumped when a link thread is stopped */
	uint32_t n;
	/* The link thread's (and, before any runs, startup's). */
	struct rq_list *q;
	_Atomic uint64_t *applied; /* per shard: the last LSN in the keyspace */
	uint64_t *seen;            /* per shard: the last LSN queued or applied */
	struct aof_reader *rd;     /* per shard: its current segment, as streamed */
	bool *rd_on;
	uint64_t *rd_gen, *rd_off;
	bool apply_failed;
	/* A batch was abandoned by a stop: the keyspace may lack records the
	 * queue counts as applied, so the next link must be a full sync. */
	bool need_full;
	char stage[4300];
	struct kvio_file dir_lock;
	bool dir_locked;
} g_rep = { .lock = PTHREAD_MUTEX_INITIALIZER, .link_fd = -1 };

static void replica_alloc(void)
{
	if (g_rep.q)
		return;
	uint32_t n = g_server.nshards;
	g_rep.n = n;
	g_rep.q = kv_calloc(n, sizeof(*g_rep.q));
	g_rep.applied = kv_calloc(n, sizeof(*g_rep.applied));
	g_rep.seen = kv_calloc(n, sizeof(*g_rep.seen));
	g_rep.rd = kv_calloc(n, sizeof(*g_rep.rd));
	g_rep.rd_on = kv_calloc(n, sizeof(*g_rep.rd_on));
	g_rep.rd_gen = kv_calloc(n, sizeof(*g_rep.rd_gen));
	g_rep.rd_off = kv_calloc(n, sizeof(*g_rep.rd_off));
}

static void rq_free_list(struct rq_rec *r)
{
	while (r) {
		struct rq_rec *next = r->next;
		if (r->type == AOF_REC_UNIT)
			aof_unit_free(&r->unit);
		free(r);
		r = next;
	}
}

static void rq_clear(void)
{
	for (uint32_t i = 0; i < g_rep.n; i++) {
		rq_free_list(g_rep.q[i].head);
		g_rep.q[i].head = g_rep.q[i].tail = NULL;
	}
}

static void rq_append(struct rq_list *l, struct rq_rec *r)
{
	r->next = NULL;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

static struct rq_rec *rq_pop(struct rq_list *l)
{
	struct rq_rec *r = l->head;
	if (r) {
		l->head = r->next;
		if (!l->head)
			l->tail = NULL;
		r->next = NULL;
	}
	return r;
}

/* A verified record of shard i, newer than any queued there.  A RESOLVE
 * record removes what it lists from the queue (the primary's recovery
 * dropped them); other unnumbered records change nothing.  0, or
 * KV_ECORRUPT with why in err. */
static int rq_push(uint32_t i, const struct aof_record *rec, char *err, size_t cap)
{
	if (rec->type == AOF_REC_RESOLVE) {
		int64_t t;
		uint64_t *lsns = NULL;
		size_t nl = 0, nids = 0;
		if (aof_resolve_decode(rec->payload, rec->payload_len, &t, &lsns, &nl, &nids) < 0) {
			snprintf(err, cap, "shard %u: a RESOLVE record (LSN %" PRIu64 ") does not decode",
				 i, rec->lsn);
			return KV_ECORRUPT;
		}
		struct rq_rec **link = &g_rep.q[i].head, *last = NULL;
		while (*link) {
			struct rq_rec *r = *link;
			bool drop = false;
			for (size_t k = 0; k < nl && !drop; k++)
				drop = lsns[k] == r->lsn;
			if (drop) {
				*link = r->next;
				r->next = NULL;
				rq_free_list(r);
			} else {
				last = r;
				link = &r->next;
			}
		}
		g_rep.q[i].tail = last;
		free(lsns);
		return 0;
	}
	if (rec->type != AOF_REC_EFFECT && rec->type != AOF_REC_UNIT)
		return 0;
	struct rq_rec *r = kv_malloc(sizeof(*r) + rec->payload_len);
	memset(r, 0, sizeof(*r));
	r->shard = i;
	r->type = rec->type;
	r->lsn = rec->lsn;
	r->len = rec->payload_len;
	memcpy(r->payload, rec->payload, rec->payload_len);
	r->effect = r->payload;
	r->effect_len = r->len;
	if (rec->type == AOF_REC_UNIT) {
		const char *why = "";
		if (aof_unit_decode(r->payload, r->len, &r->unit, &why) < 0) {
			snprintf(err, cap, "shard %u: unit part at LSN %" PRIu64 ": %s", i, rec->lsn,
				 why);
			free(r);
			return KV_ECORRUPT;
		}
		r->effect = r->unit.effect;
		r->effect_len = r->unit.effect_len;
	}
	rq_append(&g_rep.q[i], r);
	return 0;
}

/* Whether the unit part at the head of shard i's queue can go now: every
 * other part it names is applied already or at the head of its shard's
 * queue. */
static bool rq_unit_ready(const struct rq_rec *r)
{
	for (uint32_t k = 0; k < r->unit.nrows; k++) {
		const struct aof_unit_row *row = &r->unit.rows[k];
		if (row->role != AOF_UNIT_PART || row->shard == r->shard)
			continue;
		if (row->shard >= g_rep.n)
			return false;
		if (row->lsn <= atomic_load(&g_rep.applied[row->shard]))
			continue;
		const struct rq_rec *h = g_rep.q[row->shard].head;
		if (!h || h->lsn != row->lsn || h->type != AOF_REC_UNIT)
			return false;
	}
	return true;
}

/* Move what may be applied now to out, in an order that keeps every
 * shard's order and keeps a unit's parts together. */
static void rq_release(struct rq_list *out)
{
	bool progress = true;
	while (progress) {
		progress = false;
		for (uint32_t i = 0; i < g_rep.n; i++) {
			struct rq_rec *h;
			while ((h = g_rep.q[i].head) != NULL) {
				if (h->type == AOF_REC_UNIT && !rq_unit_ready(h))
					break;
				rq_append(out, rq_pop(&g_rep.q[i]));
				atomic_store(&g_rep.applied[i], h->lsn);
				progress = true;
				if (h->type != AOF_REC_UNIT)
					continue;
				for (uint32_t k = 0; k < h->unit.nrows; k++) {
					const struct aof_unit_row *row = &h->unit.rows[k];
					uint32_t j = row->shard;
					if (row->role != AOF_UNIT_PART || j == i ||
					    row->lsn <= atomic_load(&g_rep.applied[j]))
						continue;
					rq_append(out, rq_pop(&g_rep.q[j]));
					atomic_store(&g_rep.applied[j], row->lsn);
				}
			}
		}
	}
}

/* Replay out's records into dbs[shard] (each held by this thread).
 * 0, or the first failure (logged). */
static int rq_apply(struct rq_rec *r, struct kv_dbs **dbs)
{
	const struct aof_effect_ops *ops = aof_get_effect_ops();
	char err[600];
	for (; r; r = r->next) {
		int rc = ops->apply(dbs[r->shard], r->shard, g_rep.n, r->effect, r->effect_len, err,
				    sizeof(err));
		if (rc < 0) {
			log_warning("replica: the record at LSN %" PRIu64 " of shard %u did not apply: "
				    "%s; the next sync is a full one", r->lsn, r->shard, err);
			return rc;
		}
	}
	return 0;
}

/* Clients blocked on this replica (XREAD BLOCK: the blocking pops are
 * writes, refused here) are served by what was applied, as after a
 * client's write: each command of each record signals its keys. */
static void rq_wake_blocked(struct shard *home, struct rq_rec *r, struct kv_dbs **held)
{
	if (!blocking_any())
		return;   /* nobody waits: no payload is parsed twice */
	for (; r; r = r->next) {
		struct aof_payload_iter it;
		int argc;
		struct kv_slice *argv;
		uint32_t db = 0;
		aof_payload_iter_init(&it, r->effect, r->effect_len);
		while (aof_payload_next(&it, &argc, &argv) == 1) {
			int64_t n;
			if (argc == 2 && arg_is(&argv[0], "select") && arg_to_int64(&argv[1], &n) &&
			    n >= 0) {
				db = (uint32_t)n;
				continue;
			}
			const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
			if (!cmd)
				continue;
			struct cmd_call call = { .cmd = cmd, .argc = argc, .argv = argv,
						 .now_ms = it.time_ms, .dbid = db };
			blocking_after_write(home, &call, held);
		}
		aof_payload_iter_free(&it);
	}
}

static void batch_free(struct rq_batch *b)
{
	rq_free_list(b->recs.head);
	if (b->install) {
		for (uint32_t i = 0; i < g_rep.n; i++)
			dbs_free(&b->install[i]);
		free(b->install);
	}
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b);
}

/* The txn (route.c) runs this on its home shard with every shard of the
 * batch held.  Lookups here delete expired keys, as the primary did when
 * it logged these records; the replica's clients only hide them. */
static void replica_apply_txn(struct shard *home, struct kv_dbs **held, void *arg)
{
	struct rq_batch *b = arg;
	pthread_mutex_lock(&b->lock);
	bool live = !b->abandoned && b->epoch == atomic_load(&g_rep.epoch);
	pthread_mutex_unlock(&b->lock);
	bool failed = false;
	if (live) {
		bool keep = db_thread_keeps_expired();
		db_thread_keep_expired(false);
		if (b->install) {
			for (uint32_t i = 0; i < g_rep.n; i++)
				shard_install_dbs(g_server.shards[i], &b->install[i]);
			free(b->install);
			b->install = NULL;
		}
		failed = rq_apply(b->recs.head, held) < 0;
		db_thread_keep_expired(keep);
		if (!failed)
			rq_wake_blocked(home, b->recs.head, held);
	}
	pthread_mutex_lock(&b->lock);
	if (b->abandoned) {
		pthread_mutex_unlock(&b->lock);
		batch_free(b);
		return;
	}
	b->failed = failed;
	b->done = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

/* Hand recs (and install) to a txn over the shards they touch and wait
 * for it.  0, -1 (a record did not apply), or -ECANCELED (stopping). */
static int replica_run_batch(struct rq_list recs, struct kv_dbs *install)
{
	if (!recs.head && !install)
		return 0;
	uint32_t *shards = kv_calloc(g_rep.n, sizeof(uint32_t)), k = 0;
	bool *used = kv_calloc(g_rep.n, sizeof(bool));
	for (struct rq_rec *r = recs.head; r; r = r->next)
		used[r->shard] = true;
	for (uint32_t i = 0; i < g_rep.n; i++)
		if (used[i] || install)
			shards[k++] = i;
	free(used);
	struct rq_batch *b = kv_calloc(1, sizeof(*b));
	b->recs = recs;
	b->install = install;
	b->epoch = atomic_load(&g_rep.epoch);
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	struct txn *t = shard_sys_txn_new(shards, k, replica_apply_txn, b);
	shard_inbox_push(g_server.shards[shards[0]], &t->m);
	free(shards);
	pthread_mutex_lock(&b->lock);
	while (!b->done && !g_rep.stop && !atomic_load(&g_server.shutdown)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&b->cond, &b->lock, &ts);
	}
	if (!b->done) {
		/* The txn frees the batch when it runs (it applies nothing:
		 * the epoch moved on, or the server stops). */
		b->abandoned = true;
		pthread_mutex_unlock(&b->lock);
		g_rep.need_full = true;
		return -ECANCELED;
	}
	bool failed = b->failed;
	pthread_mutex_unlock(&b->lock);
	batch_free(b);
	return failed ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* the current segment of each shard, parsed as it streams */

static void reader_reset(uint32_t i, uint64_t gen)
{
	if (g_rep.rd_on[i])
		aof_reader_free(&g_rep.rd[i]);
	struct aof_reader_config cfg = { 0 };
	aof_reader_init(&g_rep.rd[i], &cfg);
	g_rep.rd_on[i] = true;
	g_rep.rd_gen[i] = gen;
	g_rep.rd_off[i] = 0;
}

/* Records the reader of shard i can give now go to its queue (newer than
 * what it holds).  0, or KV_ECORRUPT with why in err. */
static int reader_drain(uint32_t i, char *err, size_t cap)
{
	struct aof_record rec;
	for (;;) {
		int rc = aof_reader_next(&g_rep.rd[i], &rec);
		if (rc == AOF_NEED_MORE || rc == AOF_CLEAN_EOF)
			return 0;
		if (rc != AOF_RECORD) {
			const struct aof_verdict *v = aof_reader_verdict(&g_rep.rd[i]);
			snprintf(err, cap, "shard %u, segment generation %" PRIu64 ": %s at offset %" PRIu64,
				 i, g_rep.rd_gen[i], v->reason ? v->reason : "bad record", v->offset);
			return KV_ECORRUPT;
		}
		if (!aof_rec_numbered(rec.type) || rec.lsn <= g_rep.seen[i])
			continue;
		g_rep.seen[i] = rec.lsn;
		rc = rq_push(i, &rec, err, cap);
		if (rc < 0)
			return rc;
	}
}

static int reader_feed(uint32_t i, const uint8_t *p, size_t n, char *err, size_t cap)
{
	while (n > 0) {
		size_t took = aof_reader_feed(&g_rep.rd[i], p, n);
		p += took;
		n -= took;
		g_rep.rd_off[i] += took;
		int rc = reader_drain(i, err, cap);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Each shard's newest segment, read from the directory: the readers start
 * at its end, and its records newer than the queue's are queued. */
static int readers_from_files(const char *dir, char *err, size_t cap)
{
	for (uint32_t i = 0; i < g_rep.n; i++) {
		char name[64], path[4400];
		struct kv_buf raw = KV_BUF_INIT;
		struct manifest m;
		manifest_name(name, sizeof(name), i);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		int rc = manifest_read_file(path, 1 << 20, &raw);
		if (rc == 0)
			rc = manifest_decode((const uint8_t *)raw.data, raw.len, &m, err, cap);
		kv_buf_free(&raw);
		if (rc < 0) {
			if (!err[0])
				snprintf(err, cap, "%s: %s", path, kv_strerror(rc));
			return rc;
		}
		const struct manifest_entry *e = &m.entries[m.nentries - 1];
		reader_reset(i, e->generation);
		snprintf(path, sizeof(path), "%s/%s", dir, e->name);
		manifest_free(&m);
		struct kvio_file f;
		rc = kvio_open(&f, path, O_RDONLY, 0);
		if (rc < 0) {
			snprintf(err, cap, "%s: %s", path, kv_strerror(rc));
			return rc;
		}
		uint8_t *buf = kv_malloc(1 << 20);
		uint64_t off = 0;
		for (;;) {
			ssize_t got = kvio_pread(&f, buf, 1 << 20, off);
			if (got <= 0) {
				rc = (int)got;
				break;
			}
			off += (uint64_t)got;
			rc = reader_feed(i, buf, (size_t)got, err, cap);
			if (rc < 0)
				break;
		}
		free(buf);
		kvio_close(&f);
		if (rc < 0) {
			if (!err[0])
				snprintf(err, cap, "%s: %s", path, kv_strerror(rc));
			return rc;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* loading the files: after a full sync, and at startup as a replica */

struct scan_ctx {
	uint32_t shard;
	int rc;
	char *err;
	size_t cap;
	/* Until this shard's first unit part, its records depend on nothing
	 * of another shard, and no RESOLVE can name them (a dropped record's
	 * chain starts at a unit part on the same shard): they are applied at
	 * once, on this shard's loading thread. */
	struct kv_dbs *direct;
};

static void scan_record(void *arg, const struct aof_record *rec)
{
	struct scan_ctx *sc = arg;
	uint32_t i = sc->shard;
	if (sc->rc < 0 || !aof_rec_numbered(rec->type) || rec->lsn <= g_rep.seen[i])
		return;
	g_rep.seen[i] = rec->lsn;
	if (sc->direct && rec->type == AOF_REC_EFFECT) {
		sc->rc = aof_get_effect_ops()->apply(sc->direct, i, g_rep.n, rec->payload,
						     rec->payload_len, sc->err, sc->cap);
		atomic_store(&g_rep.applied[i], rec->lsn);
		return;
	}
	if (rec->type == AOF_REC_UNIT)
		sc->direct = NULL;
	sc->rc = rq_push(i, rec, sc->err, sc->cap);
}

struct load_job {
	const char *dir;
	const struct dataset_info *ds;
	uint32_t shard;
	struct kv_dbs *dbs;
	pthread_t th;
	int rc;
	char err[2400];
};

static void *load_shard(void *arg)
{
	struct load_job *j = arg;
	uint32_t i = j->shard;
	uint64_t cut = 0, cut2 = 0;
	char name[16];
	snprintf(name, sizeof(name), "kevy-rload-%u", i);
	pthread_setname_np(pthread_self(), name);
	j->rc = aof_load_base(j->dir, j->ds, i, j->dbs, &cut, j->err, sizeof(j->err));
	if (j->rc < 0)
		return NULL;
	g_rep.seen[i] = cut;
	atomic_store(&g_rep.applied[i], cut);
	struct scan_ctx sc = { .shard = i, .err = j->err, .cap = sizeof(j->err), .direct = j->dbs };
	j->rc = aof_scan_records(j->dir, j->ds, i, scan_record, &sc, &cut2, NULL, j->err,
				 sizeof(j->err));
	if (j->rc == KV_ETORN)
		j->rc = 0;   /* a frame may end mid record: the rest streams */
	if (j->rc == 0)
		j->rc = sc.rc;
	return NULL;
}

/* A keyspace per shard from dir's files: each shard's snapshot, then the
 * records after its cut, released in unit order; what waits for a part
 * not received yet stays queued.  fresh: [n] set up here.  0 or an error
 * with its line in err. */
static int replica_load(const char *dir, struct kv_dbs *fresh, char *err, size_t cap)
{
	struct dataset_info ds;
	int rc = aof_dataset_read(dir, &ds, err, cap);
	if (rc < 0)
		return rc;
	if (ds.shard_count != g_rep.n) {
		snprintf(err, cap, "the synced dataset has %u shard(s), this server runs %u",
			 ds.shard_count, g_rep.n);
		return KV_EMISMATCH;
	}
	rq_clear();
	/* Every shard on its own thread, as recovery does: a shard's loader
	 * touches only its own keyspace, queue and counters. */
	struct load_job *jobs = kv_calloc(g_rep.n, sizeof(*jobs));
	for (uint32_t i = 0; i < g_rep.n; i++) {
		dbs_init(&fresh[i], (uint32_t)g_config.databases);
		jobs[i] = (struct load_job){ .dir = dir, .ds = &ds, .shard = i, .dbs = &fresh[i] };
		int prc = pthread_create(&jobs[i].th, NULL, load_shard, &jobs[i]);
		kv_assert(prc == 0);
	}
	for (uint32_t i = 0; i < g_rep.n; i++) {
		pthread_join(jobs[i].th, NULL);
		if (jobs[i].rc < 0 && rc == 0) {
			rc = jobs[i].rc;
			snprintf(err, cap, "%s", jobs[i].err);
		}
	}
	free(jobs);
	if (rc == 0) {
		struct rq_list out = { 0 };
		rq_release(&out);
		struct kv_dbs **dbs = kv_calloc(g_rep.n, sizeof(*dbs));
		for (uint32_t i = 0; i < g_rep.n; i++)
			dbs[i] = &fresh[i];
		rc = rq_apply(out.head, dbs);
		free(dbs);
		rq_free_list(out.head);
		if (rc < 0)
			snprintf(err, cap, "a record of the synced files did not apply (logged above)");
	}
	if (rc < 0) {
		for (uint32_t i = 0; i < g_rep.n; i++)
			dbs_free(&fresh[i]);
		rq_clear();
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* the link thread */

static void replica_say(void *arg, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;
	(void)arg;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_notice("replica: %s", msg);
}

static void replica_on_fd(void *arg, int fd)
{
	(void)arg;
	pthread_mutex_lock(&g_rep.lock);
	g_rep.link_fd = fd;
	pthread_mutex_unlock(&g_rep.lock);
}

static void replica_set_state(int st)
{
	int was = atomic_exchange(&g_rep.state, st);
	if (was == RS_CONNECTED && st != RS_CONNECTED)
		atomic_store(&g_rep.down_since_ms, kv_time_ms());
	atomic_store(&g_rep.syncing, st == RS_SYNC);
	atomic_store(&g_server.repl_link_up, st == RS_CONNECTED);
}

static const char *replica_full_begin(void *arg, const char *replid)
{
	(void)arg;
	(void)replid;
	replica_set_state(RS_SYNC);
	int rc = repl_stage_prepare(g_config.dir, g_rep.stage, sizeof(g_rep.stage));
	if (rc < 0) {
		log_warning("replica: cannot prepare %s for a full sync: %s", g_rep.stage,
			    kv_strerror(rc));
		return NULL;
	}
	return g_rep.stage;
}

static void replica_adopt_replid(const char *replid)
{
	pthread_mutex_lock(&g_rep.lock);
	snprintf(g_rep.replid, sizeof(g_rep.replid), "%s", replid);
	pthread_mutex_unlock(&g_rep.lock);
}

static int replica_continue(void *arg, const char *replid)
{
	char err[600] = "";
	(void)arg;
	int rc = readers_from_files(g_config.dir, err, sizeof(err));
	if (rc == 0) {
		struct rq_list out = { 0 };
		rq_release(&out);
		rc = replica_run_batch(out, NULL);
	} else {
		log_warning("replica: cannot resume from this directory's files: %s", err);
	}
	if (rc < 0)
		return -1;
	replica_adopt_replid(replid);
	replica_set_state(RS_CONNECTED);
	return 0;
}

/* functions.kevy was installed (a full sync's swap, or replaced while
 * streaming): the libraries become its. */
static int replica_functions_load(void)
{
	char err[1200] = "";
	if (script_functions_recover(err, sizeof(err)) < 0) {
		log_warning("replica: the primary's function libraries do not load: %s", err);
		return -1;
	}
	return 0;
}

static int replica_synced(void *arg, const char *replid, uint64_t offset)
{
	char err[4800] = "";
	(void)arg;
	(void)offset;
	struct repl_state st;
	memset(&st, 0, sizeof(st));
	memcpy(st.replid, replid, REPL_REPLID_LEN);
	st.shard_count = g_rep.n;
	st.synced_ms = kv_time_ms();
	int rc = repl_state_write(g_rep.stage, &st);
	if (rc == 0)
		rc = repl_swap(g_config.dir);
	if (rc < 0) {
		log_warning("replica: cannot install the synced files in %s: %s", g_config.dir,
			    kv_strerror(rc));
		return rc;
	}
	/* The dataset file was replaced: lock the new one (the server's lock
	 * stays on the old file, which nothing names any more). */
	if (g_rep.dir_locked)
		kvio_close(&g_rep.dir_lock);
	g_rep.dir_locked = aof_dataset_lock(g_config.dir, true, &g_rep.dir_lock, err,
					    sizeof(err)) == 0;
	int64_t t0 = kv_mono_us();
	struct kv_dbs *fresh = kv_calloc(g_rep.n, sizeof(*fresh));
	rc = replica_load(g_config.dir, fresh, err, sizeof(err));
	if (rc < 0) {
		log_warning("replica: cannot load the synced files: %s", err);
		free(fresh);
		return rc;
	}
	uint64_t keys = 0;
	for (uint32_t i = 0; i < g_rep.n; i++)
		keys += dbs_size(&fresh[i]);
	rc = replica_run_batch((struct rq_list){ 0 }, fresh);
	if (rc == 0)
		rc = replica_functions_load();
	if (rc < 0)
		return rc;
	rc = readers_from_files(g_config.dir, err, sizeof(err));
	if (rc < 0) {
		log_warning("replica: cannot read the synced segments back: %s", err);
		return rc;
	}
	g_rep.need_full = false;
	replica_adopt_replid(replid);
	replica_set_state(RS_CONNECTED);
	log_notice("replica: loaded the synced dataset: %llu key(s) in %.3f seconds",
		   (unsigned long long)keys, (double)(kv_mono_us() - t0) / 1e6);
	return 0;
}

static int replica_frame(void *arg, const struct repl_frame *f)
{
	char err[600] = "";
	(void)arg;
	atomic_store(&g_rep.last_io_ms, kv_time_ms());
	if (f->kind == REPL_KIND_FUNCTIONS && f->type == REPL_FRAME_COMMIT)
		return replica_functions_load();
	if (f->kind != REPL_KIND_AOF || f->shard >= g_rep.n)
		return 0;
	uint32_t i = f->shard;
	if (f->type == REPL_FRAME_FILE) {
		reader_reset(i, f->generation);
		return 0;
	}
	if (f->type != REPL_FRAME_DATA)
		return 0;
	if (!g_rep.rd_on[i] || f->generation != g_rep.rd_gen[i] || f->offset != g_rep.rd_off[i]) {
		log_warning("replica: shard %u: bytes at offset %" PRIu64 " of segment generation %"
			    PRIu64 " do not follow what was received (generation %" PRIu64 ", %" PRIu64
			    " bytes)", i, f->offset, f->generation, g_rep.rd_gen[i], g_rep.rd_off[i]);
		return -1;
	}
	int rc = reader_feed(i, f->payload, f->payload_len, err, sizeof(err));
	if (rc < 0) {
		log_warning("replica: refused a record from the primary: %s", err);
		return -1;
	}
	return 0;
}

/* What the frames since the last call queued, applied in one txn. */
static int replica_flush(void *arg)
{
	(void)arg;
	struct rq_list out = { 0 };
	rq_release(&out);
	int rc = replica_run_batch(out, NULL);
	if (rc == -1)
		g_rep.apply_failed = true;
	return rc < 0 ? -1 : 0;
}

static void *replica_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "kevy-replica");
	/* The files become the link's only once no shard appends. */
	while (!g_rep.stop && !atomic_load(&g_server.shutdown) &&
	       atomic_load(&g_server.repl_quiesced) < g_server.nshards) {
		struct timespec ts = { 0, 1000000L };
		nanosleep(&ts, NULL);
	}
	if (g_rep.stop || atomic_load(&g_server.shutdown))
		return NULL;
	atomic_store(&g_server.repl_role, REPL_ROLE_REPLICA);
	bool full_next = g_rep.need_full;
	int backoff_ms = 100;
	char host[256], port[24], auth[512], user[256];
	while (!g_rep.stop && !atomic_load(&g_server.shutdown)) {
		pthread_mutex_lock(&g_rep.lock);
		snprintf(host, sizeof(host), "%s", g_rep.host);
		snprintf(port, sizeof(port), "%" PRId64, g_rep.port);
		pthread_mutex_unlock(&g_rep.lock);
		config_copy_masterauth(auth, sizeof(auth), user, sizeof(user));
		int64_t timeout = atomic_load(&g_config.repl_timeout);
		struct repl_link_cfg lc = {
			.host = host, .port = port, .auth = auth[0] ? auth : NULL,
			.user = user[0] ? user : NULL, .dir = g_config.dir, .nshards = g_rep.n,
			.timeout_s = timeout > 0 && timeout < 3600 ? (int)timeout : 60,
			.listening_port = atomic_load(&g_config.port), .stop = &g_rep.stop,
			.full_begin = replica_full_begin, .continue_begin = replica_continue,
			.synced = replica_synced, .frame = replica_frame, .flush = replica_flush,
			.say = replica_say, .on_fd = replica_on_fd,
		};
		bool synced = false;
		g_rep.apply_failed = false;
		replica_set_state(RS_CONNECTING);
		repl_link_run(&lc, &full_next, &synced);
		replica_set_state(RS_CONNECT);
		if (g_rep.apply_failed)
			full_next = true;
		if (synced)
			backoff_ms = 100;
		for (int waited = 0; waited < backoff_ms && !g_rep.stop; waited += 20) {
			struct timespec ts = { 0, 20 * 1000000L };
			nanosleep(&ts, NULL);
		}
		backoff_ms = backoff_ms < 1000 ? backoff_ms * 2 : 2000;
	}
	return NULL;
}

/* Stop the link thread and wait for it (it never waits for a shard once
 * asked to stop).  Its queue stays: the keyspace is where it left it. */
static void replica_link_stop(void)
{
	pthread_mutex_lock(&g_rep.lock);
	bool on = g_rep.thread_on;
	g_rep.thread_on = false;
	pthread_mutex_unlock(&g_rep.lock);
	if (!on)
		return;
	g_rep.stop = 1;
	atomic_fetch_add(&g_rep.epoch, 1);
	/* A read blocked on the socket returns at once. */
	pthread_mutex_lock(&g_rep.lock);
	if (g_rep.link_fd >= 0)
		shutdown(g_rep.link_fd, SHUT_RDWR);
	pthread_mutex_unlock(&g_rep.lock);
	pthread_join(g_rep.thread, NULL);
	g_rep.stop = 0;
	replica_set_state(RS_NONE);
}

static void replica_link_start(void)
{
	pthread_mutex_lock(&g_rep.lock);
	g_rep.thread_on = true;
	int rc = pthread_create(&g_rep.thread, NULL, replica_main, NULL);
	kv_assert(rc == 0);
	pthread_mutex_unlock(&g_rep.lock);
	replica_set_state(RS_CONNECT);
	atomic_store(&g_rep.down_since_ms, kv_time_ms());
}

/* Leave the primary role: writes are refused from now on, and the link
 * starts writing files once every shard has quiesced. */
static void replica_enter(void)
{
	if (atomic_load(&g_server.repl_role) != REPL_ROLE_PRIMARY)
		return;
	atomic_store(&g_server.repl_quiesced, 0);
	for (uint32_t i = 0; i < g_server.nshards; i++)
		atomic_store(&g_server.shards[i]->repl_quiesced, false);
	atomic_store(&g_server.repl_role, REPL_ROLE_ENTERING);
	for (uint32_t i = 0; i < g_server.nshards; i++)
		shard_wake(g_server.shards[i]);
}

void replica_follow(const char *host, int64_t port)
{
	replica_alloc();
	replica_link_stop();
	pthread_mutex_lock(&g_rep.lock);
	snprintf(g_rep.host, sizeof(g_rep.host), "%s", host);
	g_rep.port = port;
	pthread_mutex_unlock(&g_rep.lock);
	config_set_replicaof(host, port);
	replica_enter();
	log_notice("replica: following %s:%" PRId64, host, port);
	replica_link_start();
}

/* ------------------------------------------------------------------ */
/* promotion */

struct promote_job {
	struct shard *s;
	const struct dataset_info *ds;
	const struct aof_plan *plan;
	struct kv_dbs fresh;
	int rc;
	char err[2048];
};

static void *promote_shard(void *arg)
{
	struct promote_job *j = arg;
	struct aof_skip skip = aof_plan_skip(j->plan, j->s->id);
	aof_close(&j->s->aof);
	dbs_init(&j->fresh, (uint32_t)g_config.databases);
	j->rc = aof_recover(&j->s->aof, g_config.dir, j->ds, j->s->id, g_server.nshards, &skip,
			    &j->fresh, j->err, sizeof(j->err));
	if (j->rc == 0)
		j->rc = aof_plan_resolve(j->plan, j->s->id, &j->s->aof, j->err, sizeof(j->err));
	return NULL;
}

/* REPLICAOF NO ONE on a replica, holding every shard: the files become
 * this server's own.  0, or -1 with why in err (the server stays a
 * replica, its link stopped). */
static int replica_promote(char *err, size_t cap)
{
	replica_link_stop();
	uint32_t n = g_server.nshards;
	uint64_t *gens = kv_calloc(n, sizeof(uint64_t)), *offs = kv_calloc(n, sizeof(uint64_t));
	uint64_t offset = 0;
	char msg[300];
	int rc = 0;
	/* Where the mirrored bytes end (whole records): what another replica
	 * of the same primary may resume from. */
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		rc = repl_mirror_position(g_config.dir, i, &gens[i], &offs[i], msg, sizeof(msg));
		offset += atomic_load(&g_rep.applied[i]);
	}
	struct dataset_info ds;
	if (rc == 0)
		rc = aof_dataset_read(g_config.dir, &ds, err, cap);
	struct aof_plan plan;
	bool planned = false;
	if (rc == 0) {
		rc = aof_plan_build(g_config.dir, &ds, &plan);
		planned = true;
		if (rc < 0)
			snprintf(err, cap, "%s", plan.err);
	} else if (!err[0]) {
		snprintf(err, cap, "%s", msg);
	}
	struct promote_job *jobs = kv_calloc(n, sizeof(*jobs));
	if (rc == 0) {
		pthread_t *th = kv_calloc(n, sizeof(*th));
		for (uint32_t i = 0; i < n; i++) {
			jobs[i].s = g_server.shards[i];
			jobs[i].ds = &ds;
			jobs[i].plan = &plan;
			int prc = pthread_create(&th[i], NULL, promote_shard, &jobs[i]);
			kv_assert(prc == 0);
		}
		for (uint32_t i = 0; i < n; i++) {
			pthread_join(th[i], NULL);
			if (jobs[i].rc < 0 && rc == 0) {
				rc = jobs[i].rc;
				snprintf(err, cap, "shard %u: %s", i, jobs[i].err);
			}
		}
		free(th);
	}
	if (planned)
		aof_plan_free(&plan);
	if (rc < 0) {
		for (uint32_t i = 0; i < n; i++)
			if (jobs[i].s)
				dbs_free(&jobs[i].fresh);
		free(jobs);
		free(gens);
		free(offs);
		log_warning("replica: promotion failed: %s", err);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		shard_install_dbs(g_server.shards[i], &jobs[i].fresh);
		atomic_store(&g_server.shards[i]->repl_reattach, true);
	}
	free(jobs);
	rq_clear();
	for (uint32_t i = 0; i < n; i++)
		if (g_rep.rd_on[i]) {
			aof_reader_free(&g_rep.rd[i]);
			g_rep.rd_on[i] = false;
		}
	repl_state_remove(g_config.dir);
	char old[REPL_REPLID_LEN + 1];
	pthread_mutex_lock(&g_rep.lock);
	snprintf(old, sizeof(old), "%s", g_rep.replid);
	g_rep.host[0] = '\0';
	pthread_mutex_unlock(&g_rep.lock);
	if (repl_replid_ok(old, strlen(old)))
		repl_set_switch(old, gens, offs, n, offset);
	free(gens);
	free(offs);
	/* A new history starts here: a new replication id, as Redis gives a
	 * promoted replica. */
	kv_random_id(g_server.info.replid);
	config_set_replicaof(NULL, 0);
	atomic_store(&g_server.repl_role, REPL_ROLE_PRIMARY);
	for (uint32_t i = 0; i < n; i++)
		shard_wake(g_server.shards[i]);
	log_notice("replica: promoted: this server is a primary now (the former primary's "
		   "replicas may resume from offset %" PRIu64 ")", offset);
	return 0;
}

/* ------------------------------------------------------------------ */
/* startup */

bool replica_boot_prepare(void)
{
	char host[256];
	int64_t port;
	if (!config_replicaof(host, sizeof(host), &port))
		return false;
	replica_alloc();
	pthread_mutex_lock(&g_rep.lock);
	snprintf(g_rep.host, sizeof(g_rep.host), "%s", host);
	g_rep.port = port;
	pthread_mutex_unlock(&g_rep.lock);
	struct repl_state st;
	char err[300];
	return repl_state_read(g_config.dir, &st, err, sizeof(err)) == 0 &&
	       st.shard_count == g_server.nshards;
}

int replica_boot_load(void)
{
	char err[4800] = "";
	struct repl_state st;
	if (repl_state_read(g_config.dir, &st, err, sizeof(err)) == 0)
		replica_adopt_replid(st.replid);
	struct kv_dbs *fresh = kv_calloc(g_rep.n, sizeof(*fresh));
	int64_t t0 = kv_mono_us();
	int rc = replica_load(g_config.dir, fresh, err, sizeof(err));
	if (rc < 0) {
		log_warning("replica: cannot load %s: %s (refusing to start; see: kevy-check %s)",
			    g_config.dir, err, g_config.dir);
		free(fresh);
		return -1;
	}
	uint64_t keys = 0;
	for (uint32_t i = 0; i < g_rep.n; i++) {
		keys += dbs_size(&fresh[i]);
		shard_install_dbs(g_server.shards[i], &fresh[i]);
	}
	free(fresh);
	log_notice("replica: DB loaded from disk (a copy of %s:%" PRId64 "): %llu key(s), %.3f "
		   "seconds", g_rep.host, g_rep.port, (unsigned long long)keys,
		   (double)(kv_mono_us() - t0) / 1e6);
	return 0;
}

void replica_boot_start(void)
{
	char host[256];
	int64_t port;
	if (!config_replicaof(host, sizeof(host), &port))
		return;
	replica_alloc();
	replica_enter();
	log_notice("replica: following %s:%" PRId64, host, port);
	replica_link_start();
}

void replica_shutdown(void)
{
	replica_link_stop();
}

/* ------------------------------------------------------------------ */
/* what INFO and ROLE show */

void replica_status(struct repl_status *st)
{
	memset(st, 0, sizeof(*st));
	st->second_offset = repl_switch_get(st->replid2);
	repl_sync_counts(st);
	int role = atomic_load(&g_server.repl_role);
	if (role == REPL_ROLE_PRIMARY)
		return;
	st->replica = true;
	pthread_mutex_lock(&g_rep.lock);
	snprintf(st->host, sizeof(st->host), "%s", g_rep.host);
	st->port = g_rep.port;
	snprintf(st->replid, sizeof(st->replid), "%s", g_rep.replid);
	pthread_mutex_unlock(&g_rep.lock);
	int s = atomic_load(&g_rep.state);
	st->state = rs_names[s == RS_NONE ? RS_CONNECT : s];
	st->link_up = s == RS_CONNECTED;
	st->sync_in_progress = atomic_load(&g_rep.syncing);
	int64_t now = kv_time_ms(), io = atomic_load(&g_rep.last_io_ms);
	st->last_io_s = io ? (now - io) / 1000 : -1;
	st->down_since_s = (now - atomic_load(&g_rep.down_since_ms)) / 1000;
	for (uint32_t i = 0; g_rep.applied && i < g_rep.n; i++)
		st->offset += atomic_load(&g_rep.applied[i]);
}

/* ------------------------------------------------------------------ */
/* ROLE, REPLICAOF, SLAVEOF */

struct role_list {
	struct replica_info *v;
	uint32_t n, cap;
};

static void role_collect(void *arg, const struct replica_info *ri)
{
	struct role_list *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = kv_realloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = *ri;
}

/* ROLE: a master's offset and replicas as [ip, port, offset] (strings,
 * as Redis 7.0 writes them); a replica's primary, link state and offset. */
static void cmd_role(struct cmd_ctx *c)
{
	struct repl_status st;
	replica_status(&st);
	if (st.replica) {
		resp_array(c->out, 5);
		resp_bulk_str(c->out, "slave");
		resp_bulk_str(c->out, st.host);
		resp_int(c->out, st.port);
		resp_bulk_str(c->out, st.state);
		resp_int(c->out, st.link_up || st.offset ? (int64_t)st.offset : -1);
		return;
	}
	struct role_list l = { 0 };
	c->rt->replicas_foreach(role_collect, &l);
	resp_array(c->out, 3);
	resp_bulk_str(c->out, "master");
	resp_int(c->out, (int64_t)persist_repl_offset(c));
	resp_array(c->out, l.n);
	for (uint32_t i = 0; i < l.n; i++) {
		char port[24], o[24];
		snprintf(port, sizeof(port), "%" PRId64, l.v[i].port);
		snprintf(o, sizeof(o), "%" PRIu64, l.v[i].offset);
		resp_array(c->out, 3);
		resp_bulk_str(c->out, l.v[i].ip);
		resp_bulk_str(c->out, port);
		resp_bulk_str(c->out, o);
	}
	free(l.v);
}

/* REPLICAOF host port | NO ONE (and SLAVEOF), with Redis 7.0's replies.
 * It runs holding every shard (CMD_ALL_SHARDS): a promotion replaces every
 * keyspace, and no command may run half before, half after a role change. */
static void cmd_replicaof(struct cmd_ctx *c)
{
	if (c->conn && c->conn->repl_handoff) {
		resp_error(c->out, "ERR Command is not valid when client is a replica.");
		return;
	}
	if (arg_is(&c->argv[1], "no") && arg_is(&c->argv[2], "one")) {
		if (atomic_load(&g_server.repl_role) == REPL_ROLE_PRIMARY) {
			resp_ok(c->out);
			return;
		}
		char err[2400] = "";
		if (atomic_load(&g_server.repl_role) == REPL_ROLE_ENTERING) {
			/* Not a replica yet: nothing was written by a link. */
			replica_link_stop();
			atomic_store(&g_server.repl_role, REPL_ROLE_PRIMARY);
			config_set_replicaof(NULL, 0);
			pthread_mutex_lock(&g_rep.lock);
			g_rep.host[0] = '\0';
			pthread_mutex_unlock(&g_rep.lock);
			resp_ok(c->out);
			return;
		}
		if (replica_promote(err, sizeof(err)) < 0) {
			resp_errorf(c->out, "ERR promotion failed: %s", err);
			return;
		}
		resp_ok(c->out);
		return;
	}
	int64_t port;
	if (!arg_to_int64(&c->argv[2], &port) || port < 0 || port > 65535) {
		resp_error(c->out, "ERR Invalid master port");
		return;
	}
	char host[256];
	if (c->argv[1].len >= sizeof(host)) {
		resp_error(c->out, "ERR Invalid master host");
		return;
	}
	memcpy(host, c->argv[1].ptr, c->argv[1].len);
	host[c->argv[1].len] = '\0';
	if (atomic_load(&g_server.repl_role) != REPL_ROLE_PRIMARY) {
		pthread_mutex_lock(&g_rep.lock);
		bool same = strcasecmp(g_rep.host, host) == 0 && g_rep.port == port;
		pthread_mutex_unlock(&g_rep.lock);
		if (same) {
			resp_simple(c->out, "OK Already connected to specified master");
			return;
		}
	}
	replica_follow(host, port);
	resp_ok(c->out);
}

const struct kv_command cmd_table_replica[] = {
	{ .name = "role", .arity = 1,
	  .flags = CMD_LOCAL | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST,
	  .proc = cmd_role, .group = "server", .since = "2.8.12",
	  .summary = "Return the role of the instance in the context of replication",
	  .complexity = "O(1)" },
	{ .name = "replicaof", .arity = 3,
	  .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE | CMD_ALL_SHARDS,
	  .proc = cmd_replicaof, .group = "server", .since = "5.0.0",
	  .summary = "Make the server a replica of another instance, or promote it as master.",
	  .complexity = "O(1)" },
	{ .name = "slaveof", .arity = 3,
	  .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE | CMD_ALL_SHARDS,
	  .proc = cmd_replicaof, .group = "server", .since = "1.0.0",
	  .summary = "Make the server a replica of another instance, or promote it as master.",
	  .complexity = "O(1)" },
	{ NULL },
};
