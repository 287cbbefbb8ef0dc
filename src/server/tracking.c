/*
 * tracking.c - client-side caching (Redis's CLIENT TRACKING): which
 * clients cached which keys, and the invalidation messages they get when
 * those keys change (docs/tracking.md).
 *
 * Shard-native: a key's tracking table (key -> ids of the clients that
 * read it) belongs to the shard that owns the key and is touched only by
 * the thread holding that keyspace, exactly like the keys themselves.  A
 * client's tracking state (flags, REDIRECT, BCAST prefixes) belongs to the
 * client's own shard.  What one thread learns for another shard's clients
 * travels as records in the notification batch of the unit that made the
 * change (gate.c), so an invalidation reaches the client's output before
 * the reply of the write that caused it leaves, as in Redis.
 *
 * Records (internal memory, never from the network):
 *   'I' u64 target, u64 writer, u32 len, key   a tracked key changed
 *   'B' u64 writer, u32 len, key                any key changed (BCAST)
 *   'F'                                         a database was flushed
 *   'R' u64 target, u32 len, value             a message for a REDIRECT
 *                                               target on this shard
 * Not here: when a unit ends or how batches travel (gate.c, route.c).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/kv.h"
#include "base/util_num.h"
#include "commands/config.h"
#include "server/shard.h"
#include "store/dict.h"

#define TRK_CHANNEL "__redis__:invalidate"

/* A key some clients cached: their ids (no duplicates).  Most keys are
 * cached by one client: its id is kept inline, without an allocation. */
struct trk_key {
	struct dict_node node;
	union {
		uint64_t one;         /* cap <= 1 */
		uint64_t *many;       /* cap > 1 */
	} ids;
	uint32_t n, cap;
	uint32_t klen;
	char key[];
};

static uint64_t *trk_ids(struct trk_key *k)
{
	return k->cap <= 1 ? &k->ids.one : k->ids.many;
}

static void trk_ids_free(struct trk_key *k)
{
	if (k->cap > 1)
		free(k->ids.many);
}

/* A tracking client of this shard, found by id. */
struct trk_client {
	struct dict_node node;
	struct trk_client *prev, *next;   /* the shard's list, for walking */
	uint64_t id;
	struct conn *conn;
};

/* A key changed under a BCAST prefix since the prefix's last message, with
 * the client that changed it last (0: expiry, eviction, the server). */
struct trk_pkey {
	struct dict_node node;
	struct trk_pkey *next;        /* the prefix's list, for walking */
	uint64_t writer;
	uint32_t klen;
	char key[];
};

/* A BCAST prefix of this shard's clients. */
struct trk_prefix {
	struct conn **conns;
	uint32_t nconns, cap;
	struct dict keys;             /* trk_pkey */
	struct trk_pkey *list;        /* the same keys, linked */
	size_t len;
	char *p;
};

struct trk_shard {
	struct dict keys;             /* trk_key: this keyspace's tracked keys */
	_Atomic uint64_t nkeys, nitems;
	struct dict clients;          /* trk_client: this shard's tracking clients */
	struct trk_client *clist;     /* the same, linked */
	_Atomic uint64_t nclients;
	struct trk_prefix *prefixes;
	uint32_t nprefixes, prefixes_cap;
	_Atomic uint64_t nprefixes_pub;
	uint32_t evict_rounds;        /* cron runs that ended still over the limit */
	/* The outermost call this thread runs: who it runs for, whose keys it
	 * remembers, the client whose invalidations wait for its reply, and
	 * the records held back for that client. */
	bool in_call;
	bool flushed;                 /* its 'F' went out already */
	struct conn *cur;
	uint64_t caller, remember;
	const struct cmd_call *last_call;   /* the innermost call not from a script */
	struct kv_buf defer;
};

static _Atomic uint64_t trk_clients_total;   /* tracking clients on every shard */
static _Atomic uint64_t trk_bcast_total;     /* of them, in BCAST mode */
static _Atomic uint64_t trk_keys_total;      /* keys in every tracking table */
static _Thread_local struct shard *trk_self;

static struct kv_slice trk_key_of(const struct dict_node *n)
{
	const struct trk_key *k = (const struct trk_key *)n;
	return (struct kv_slice){ k->key, k->klen };
}

static struct kv_slice trk_client_of(const struct dict_node *n)
{
	const struct trk_client *c = (const struct trk_client *)n;
	return (struct kv_slice){ (const char *)&c->id, sizeof(c->id) };
}

static struct kv_slice trk_pkey_of(const struct dict_node *n)
{
	const struct trk_pkey *k = (const struct trk_pkey *)n;
	return (struct kv_slice){ k->key, k->klen };
}

static const struct dict_type trk_key_type = { trk_key_of };
static const struct dict_type trk_client_type = { trk_client_of };
static const struct dict_type trk_pkey_type = { trk_pkey_of };

void tracking_thread_set(struct shard *s)
{
	trk_self = s;
}

void tracking_shard_init(struct shard *s)
{
	struct trk_shard *t = kv_calloc(1, sizeof(*t));
	dict_init(&t->keys, &trk_key_type, 0x74726b6b65790001ull);
	dict_init(&t->clients, &trk_client_type, 0x74726b636c690001ull);
	s->trk = t;
}

static void trk_free_node(void *arg, struct dict_node *n)
{
	(void)arg;
	struct trk_key *k = (struct trk_key *)n;
	trk_ids_free(k);
	free(k);
}

static void trk_free_plain(void *arg, struct dict_node *n)
{
	(void)arg;
	free(n);
}

/* ---- records ---- */

static void put_u64(struct kv_buf *b, uint64_t v)
{
	kv_buf_append(b, &v, sizeof(v));
}

static void put_bytes(struct kv_buf *b, const char *p, size_t len)
{
	uint32_t n = (uint32_t)len;
	kv_buf_append(b, &n, sizeof(n));
	kv_buf_append(b, p, len);
}

struct trk_reader {
	const char *p;
	size_t len, off;
};

static uint64_t get_u64(struct trk_reader *r)
{
	uint64_t v;
	kv_assert(r->off + sizeof(v) <= r->len);
	memcpy(&v, r->p + r->off, sizeof(v));
	r->off += sizeof(v);
	return v;
}

static struct kv_slice get_bytes(struct trk_reader *r)
{
	uint32_t n;
	kv_assert(r->off + sizeof(n) <= r->len);
	memcpy(&n, r->p + r->off, sizeof(n));
	r->off += sizeof(n);
	kv_assert(r->off + n <= r->len);
	struct kv_slice v = { r->p + r->off, n };
	r->off += n;
	return v;
}

/* ---- finding clients ---- */

static struct conn *trk_client_find(struct shard *s, uint64_t id)
{
	struct trk_client *tc = (struct trk_client *)dict_find(&s->trk->clients, &id, sizeof(id));
	return tc ? tc->conn : NULL;
}

static bool trk_conn_alive(const struct conn *c)
{
	return !c->close_after_reply && !c->close_started && !c->io_dead &&
	       !atomic_load_explicit(&c->kill_requested, memory_order_relaxed);
}

/* A live client of this shard (the shard's own thread). */
static struct conn *trk_local_conn(struct shard *s, uint64_t id)
{
	for (struct conn *c = s->clients; c; c = c->all_next)
		if (c->id == id)
			return trk_conn_alive(c) ? c : NULL;
	return NULL;
}

static bool trk_remote_conn_alive(const struct conn *c)
{
	return !(atomic_load_explicit(&c->info_flags, memory_order_relaxed) & CONN_INFO_CLOSE) &&
	       !atomic_load_explicit(&c->kill_requested, memory_order_relaxed);
}

/* Whether client id lives on shard `sh` (or is on its way there) and is
 * not closing (any thread). */
static bool trk_remote_alive(uint32_t sh, uint64_t id)
{
	struct shard *o = g_server.shards[sh];
	bool alive = false, found = false;
	pthread_mutex_lock(&o->clients_lock);
	for (struct conn *c = o->clients; c; c = c->all_next) {
		if (c->id != id)
			continue;
		alive = trk_remote_conn_alive(c);
		found = true;
		break;
	}
	pthread_mutex_unlock(&o->clients_lock);
	if (!found && atomic_load(&g_server.conns_in_transit) > 0) {
		conn_transit_lock();
		for (struct conn *c = conn_transit_first(); c; c = c->mig_next)
			if (c->id == id && c->mig_to == sh)
				alive = trk_remote_conn_alive(c);
		conn_transit_unlock();
	}
	return alive;
}

/* The shard of client id, or -1 when there is no such client.  The client
 * found is pinned there: a REDIRECT target does not move (migrate.c).  One
 * in transit is found where it will live: taken in now when that is this
 * shard (s), else waited for (its shard takes it in at its next turn). */
static int64_t trk_find_shard(struct shard *s, uint64_t id)
{
	for (int tries = 0;; tries++) {
		int64_t where = -1;
		bool moving = false;
		conn_transit_lock();
		for (uint32_t i = 0; i < g_server.nshards && where < 0; i++) {
			struct shard *o = g_server.shards[i];
			pthread_mutex_lock(&o->clients_lock);
			for (struct conn *c = o->clients; c; c = c->all_next) {
				if (c->id == id) {
					atomic_store(&c->pinned, true);
					where = i;
					break;
				}
			}
			pthread_mutex_unlock(&o->clients_lock);
		}
		for (struct conn *c = conn_transit_first(); c && where < 0; c = c->mig_next) {
			if (c->id != id)
				continue;
			atomic_store(&c->pinned, true);
			where = c->mig_to;
			if (c->mig_to == s->id)
				migrate_adopt_early(s, c);
			else
				moving = tries < 20000;   /* ~1 s, then take it as found */
			break;
		}
		conn_transit_unlock();
		if (!moving)
			return where;
		struct timespec pause = { 0, 50 * 1000 };
		nanosleep(&pause, NULL);
	}
}

/* ---- sending messages ---- */

/* An invalidation message with `value` (a RESP array of keys, or a null)
 * to client x: a push in RESP3; a pub/sub message on __redis__:invalidate
 * in RESP2 when x is a REDIRECT target in pub/sub mode; nothing else. */
static void trk_push(struct shard *s, struct conn *x, const char *value, size_t vlen,
		     bool redirected)
{
	struct kv_buf *out;
	if (x->proto >= RESP_PROTO_3) {
		out = shard_conn_push_begin(s, x);
		resp_push(out, 2);
		resp_bulk_str(out, "invalidate");
	} else if (redirected && atomic_load_explicit(&x->info_sub, memory_order_relaxed) +
					 atomic_load_explicit(&x->info_psub, memory_order_relaxed) > 0) {
		/* In pub/sub mode, as its shard published after its last
		 * command (read here, not from pubsub.c, which runs PUBLISH
		 * through the calls that run this file). */
		out = shard_conn_push_begin(s, x);
		resp_push(out, 3);
		resp_bulk_str(out, "message");
		resp_bulk_str(out, TRK_CHANNEL);
	} else {
		return;
	}
	kv_buf_append(out, value, vlen);
	shard_conn_push_end(s, x);
}

/* The message for tracking client t of this shard, to t or to its
 * REDIRECT target (Redis's sendTrackingMessage). */
static void trk_send(struct shard *s, struct conn *t, const char *value, size_t vlen)
{
	if (!t->trk_redirect) {
		trk_push(s, t, value, vlen, false);
		return;
	}
	uint64_t rid = t->trk_redirect;
	if (t->trk_redirect_shard == s->id) {
		struct conn *r = trk_local_conn(s, rid);
		if (r) {
			trk_push(s, r, value, vlen, true);
			return;
		}
	} else if (trk_remote_alive(t->trk_redirect_shard, rid)) {
		struct kv_buf *o = &s->trk_out;
		kv_buf_append(o, "R", 1);
		put_u64(o, rid);
		put_bytes(o, value, vlen);
		return;
	}
	/* The target is gone: tell the tracking client, if it can hear. */
	t->trk_flags |= TRK_BROKEN;
	atomic_fetch_or_explicit(&t->info_flags, CONN_INFO_TRK_BROKEN, memory_order_relaxed);
	if (t->proto >= RESP_PROTO_3) {
		struct kv_buf *out = shard_conn_push_begin(s, t);
		resp_push(out, 2);
		resp_bulk_str(out, "tracking-redir-broken");
		resp_int(out, (int64_t)rid);
		shard_conn_push_end(s, t);
	}
}

static void trk_send_key(struct shard *s, struct conn *t, const char *key, size_t klen)
{
	struct kv_buf v = KV_BUF_INIT;
	resp_array(&v, 1);
	resp_bulk(&v, key, klen);
	trk_send(s, t, v.data, v.len);
	kv_buf_free(&v);
}

/* A flush: Redis sends the null of the tracking client's protocol. */
static void trk_send_flush(struct shard *s, struct conn *t)
{
	if (t->proto >= RESP_PROTO_3)
		trk_send(s, t, "_\r\n", 3);
	else
		trk_send(s, t, "$-1\r\n", 5);
}

/* ---- BCAST ---- */

static void trk_prefix_note(struct trk_prefix *p, uint64_t writer, const char *key, size_t klen)
{
	struct trk_pkey *k = (struct trk_pkey *)dict_find(&p->keys, key, klen);
	if (k) {
		k->writer = writer;   /* the last change decides NOLOOP, as Redis */
		return;
	}
	k = kv_malloc(sizeof(*k) + klen);
	k->writer = writer;
	k->klen = (uint32_t)klen;
	memcpy(k->key, key, klen);
	dict_add(&p->keys, &k->node);
	k->next = p->list;
	p->list = k;
}

static void trk_bcast_note(struct shard *s, uint64_t writer, const char *key, size_t klen)
{
	struct trk_shard *t = s->trk;
	for (uint32_t i = 0; i < t->nprefixes; i++) {
		struct trk_prefix *p = &t->prefixes[i];
		if (p->len <= klen && memcmp(p->p, key, p->len) == 0)
			trk_prefix_note(p, writer, key, klen);
	}
}

static int trk_pkey_cmp(const void *a, const void *b)
{
	const struct trk_pkey *x = *(struct trk_pkey *const *)a;
	const struct trk_pkey *y = *(struct trk_pkey *const *)b;
	size_t m = x->klen < y->klen ? x->klen : y->klen;
	int r = memcmp(x->key, y->key, m);
	return r ? r : (x->klen > y->klen) - (x->klen < y->klen);
}

/* The keys changed under a prefix, in key order (Redis's radix tree), but
 * those `skip` changed last (NOLOOP); returns how many it wrote. */
static uint32_t trk_keys_reply(struct kv_buf *v, struct trk_pkey **keys, uint32_t n,
			       uint64_t skip)
{
	uint32_t count = 0;
	for (uint32_t i = 0; i < n; i++)
		count += !(skip && keys[i]->writer == skip);
	if (count == 0)
		return 0;
	resp_array(v, count);
	for (uint32_t i = 0; i < n; i++)
		if (!(skip && keys[i]->writer == skip))
			resp_bulk(v, keys[i]->key, keys[i]->klen);
	return count;
}

/* One message per prefix with keys changed since its last one. */
static void trk_bcast_flush(struct shard *s)
{
	struct trk_shard *t = s->trk;
	for (uint32_t i = 0; i < t->nprefixes; i++) {
		struct trk_prefix *p = &t->prefixes[i];
		uint64_t n = dict_size(&p->keys);
		if (n == 0)
			continue;
		struct { struct trk_pkey **v; uint32_t n; } col = { kv_malloc(n * sizeof(*col.v)), 0 };
		for (struct trk_pkey *k = p->list; k; k = k->next)
			col.v[col.n++] = k;
		kv_assert(col.n == n);
		qsort(col.v, col.n, sizeof(*col.v), trk_pkey_cmp);
		struct kv_buf all = KV_BUF_INIT;
		trk_keys_reply(&all, col.v, col.n, 0);
		for (uint32_t j = 0; j < p->nconns; j++) {
			struct conn *c = p->conns[j];
			if (!(c->trk_flags & TRK_NOLOOP)) {
				trk_send(s, c, all.data, all.len);
				continue;
			}
			struct kv_buf own = KV_BUF_INIT;
			if (trk_keys_reply(&own, col.v, col.n, c->id))
				trk_send(s, c, own.data, own.len);
			kv_buf_free(&own);
		}
		kv_buf_free(&all);
		free(col.v);
		dict_clear(&p->keys, trk_free_plain, NULL);
		p->list = NULL;
	}
}

/* ---- delivering records on the clients' shard ---- */

static void trk_defer(struct shard *s, const char *rec, size_t len)
{
	kv_buf_append(&s->trk->defer, rec, len);
}

static void trk_deliver(struct shard *s, const char *data, size_t len)
{
	struct trk_shard *t = s->trk;
	struct trk_reader r = { data, len, 0 };
	while (r.off < r.len) {
		size_t at = r.off;
		char type = r.p[r.off++];
		switch (type) {
		case 'I': {
			uint64_t target = get_u64(&r), writer = get_u64(&r);
			struct kv_slice key = get_bytes(&r);
			struct conn *c = trk_client_find(s, target);
			/* Gone, off, or in BCAST now: keys it read before do not
			 * concern it any more (Redis's rule). */
			if (!c || !(c->trk_flags & TRK_ON) || (c->trk_flags & TRK_BCAST))
				break;
			if ((c->trk_flags & TRK_NOLOOP) && writer == c->id)
				break;
			if (c == t->cur)
				trk_defer(s, r.p + at, r.off - at);
			else
				trk_send_key(s, c, key.ptr, key.len);
			break;
		}
		case 'B': {
			uint64_t writer = get_u64(&r);
			struct kv_slice key = get_bytes(&r);
			trk_bcast_note(s, writer, key.ptr, key.len);
			break;
		}
		case 'F': {
			bool deferred = false;
			for (struct trk_client *tc = t->clist; tc; tc = tc->next) {
				struct conn *c = tc->conn;
				if (c != t->cur) {
					trk_send_flush(s, c);
				} else if (!deferred) {
					trk_defer(s, "F", 1);
					deferred = true;
				}
			}
			break;
		}
		case 'R': {
			uint64_t target = get_u64(&r);
			struct kv_slice v = get_bytes(&r);
			struct conn *c = trk_local_conn(s, target);
			if (c)
				trk_push(s, c, v.ptr, v.len, true);
			break;
		}
		default:
			kv_assert(!"unknown tracking record");
		}
	}
}

void tracking_deliver_batch(struct shard *s, const struct kv_buf *payload)
{
	if (payload->len == 0)
		return;
	trk_deliver(s, payload->data, payload->len);
	/* BCAST messages of the sender's unit now, before the batch is
	 * acknowledged: the writer's reply waits for that. */
	if (s->trk->nprefixes)
		trk_bcast_flush(s);
}

/* A record made on this thread: for its own clients now, for the other
 * shards' with the unit's batch. */
static void trk_emit(struct shard *self, const struct kv_buf *rec)
{
	trk_deliver(self, rec->data, rec->len);
	if (g_server.nshards > 1)
		kv_buf_append(&self->trk_out, rec->data, rec->len);
}

/* ---- the tracking table ---- */

/* Whether this call holds shard `owner`'s keyspace. */
static bool trk_holds(struct shard *s, struct kv_dbs **held, uint32_t owner)
{
	if (held == s->held_local)
		return owner == s->id;
	return held[owner] != NULL;
}


static void trk_key_free(struct trk_shard *o, struct trk_key *k, bool count_global)
{
	atomic_fetch_sub_explicit(&o->nitems, k->n, memory_order_relaxed);
	atomic_fetch_sub_explicit(&o->nkeys, 1, memory_order_relaxed);
	if (count_global)
		atomic_fetch_sub_explicit(&trk_keys_total, 1, memory_order_relaxed);
	trk_ids_free(k);
	free(k);
}

/* Key of shard `owner` changed (writer: the client it ran for, 0: none):
 * every client that cached it hears of it once, and forgets it. */
static void trk_invalidate(struct shard *self, uint32_t owner, const char *key, size_t klen,
			   uint64_t writer, bool bcast, bool count_global)
{
	struct trk_shard *o = g_server.shards[owner]->trk;
	struct trk_key *k = (struct trk_key *)dict_unlink(&o->keys, key, klen);
	if (k) {
		struct kv_buf rec = KV_BUF_INIT;
		const uint64_t *ids = trk_ids(k);
		for (uint32_t i = 0; i < k->n; i++) {
			rec.len = 0;
			kv_buf_append(&rec, "I", 1);
			put_u64(&rec, ids[i]);
			put_u64(&rec, writer);
			put_bytes(&rec, key, klen);
			trk_emit(self, &rec);
		}
		kv_buf_free(&rec);
		trk_key_free(o, k, count_global);
	}
	if (bcast && atomic_load_explicit(&trk_bcast_total, memory_order_relaxed) > 0) {
		struct kv_buf rec = KV_BUF_INIT;
		kv_buf_append(&rec, "B", 1);
		put_u64(&rec, writer);
		put_bytes(&rec, key, klen);
		trk_emit(self, &rec);
		kv_buf_free(&rec);
	}
}

static void trk_table_clear(struct trk_shard *o)
{
	uint64_t n = dict_size(&o->keys);
	dict_clear(&o->keys, trk_free_node, NULL);
	atomic_store_explicit(&o->nkeys, 0, memory_order_relaxed);
	atomic_store_explicit(&o->nitems, 0, memory_order_relaxed);
	atomic_fetch_sub_explicit(&trk_keys_total, n, memory_order_relaxed);
}

void tracking_key_changed(uint32_t owner, const char *key, size_t klen)
{
	struct shard *self = trk_self;
	if (!self)
		return;
	if (!key) {
		/* A flush empties the table (Redis frees it whole, for FLUSHDB
		 * too), even when nobody tracks any more: what clients read
		 * before they turned tracking off stays in it until then.  The
		 * message is FLUSHALL's and FLUSHDB's (tracking_flush_cmd). */
		if (dict_size(&g_server.shards[owner]->trk->keys))
			trk_table_clear(g_server.shards[owner]->trk);
		return;
	}
	if (atomic_load_explicit(&trk_clients_total, memory_order_relaxed) == 0)
		return;
	struct trk_shard *t = self->trk;
	trk_invalidate(self, owner, key, klen, t->in_call ? t->caller : 0, true, true);
}

void tracking_flush_cmd(struct cmd_ctx *ctx)
{
	struct shard *self = trk_self;
	if (!self)
		return;   /* not a serving shard thread: nobody to tell */
	kv_assert(self == ctx->shard);
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct trk_shard *o = g_server.shards[i]->trk;
		if (trk_holds(self, ctx->held, i) && dict_size(&o->keys))
			trk_table_clear(o);
	}
	struct trk_shard *t = self->trk;
	if (atomic_load_explicit(&trk_clients_total, memory_order_relaxed) == 0 ||
	    (t->in_call && t->flushed))
		return;
	/* Every tracking client gets one null message per command (a MULTI
	 * with two flushes sends two, as Redis: the flag is the outer call's
	 * and EXEC's commands run inside it, so only one there). */
	t->flushed = t->in_call;
	struct kv_buf rec = KV_BUF_INIT;
	kv_buf_append(&rec, "F", 1);
	trk_emit(self, &rec);
	kv_buf_free(&rec);
}

void tracking_key_gone(uint32_t owner, const char *key, size_t klen)
{
	struct shard *self = trk_self;
	if (!self || atomic_load_explicit(&trk_clients_total, memory_order_relaxed) == 0)
		return;
	trk_invalidate(self, owner, key, klen, 0, true, true);
}

static void trk_remember(uint32_t owner, uint64_t id, const char *key, size_t klen)
{
	struct trk_shard *o = g_server.shards[owner]->trk;
	struct trk_key *k = (struct trk_key *)dict_find(&o->keys, key, klen);
	if (!k) {
		k = kv_calloc(1, sizeof(*k) + klen);
		k->klen = (uint32_t)klen;
		memcpy(k->key, key, klen);
		dict_add(&o->keys, &k->node);
		atomic_fetch_add_explicit(&o->nkeys, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&trk_keys_total, 1, memory_order_relaxed);
	}
	uint64_t *ids = trk_ids(k);
	for (uint32_t i = 0; i < k->n; i++)
		if (ids[i] == id)
			return;
	if (k->n == k->cap) {
		if (k->cap == 0) {
			k->cap = 1;
		} else if (k->cap == 1) {
			uint64_t *many = kv_malloc(4 * sizeof(*many));
			many[0] = k->ids.one;
			k->ids.many = many;
			k->cap = 4;
		} else {
			k->cap *= 2;
			k->ids.many = kv_realloc(k->ids.many, k->cap * sizeof(*k->ids.many));
		}
		ids = trk_ids(k);
	}
	ids[k->n++] = id;
	atomic_fetch_add_explicit(&o->nitems, 1, memory_order_relaxed);
}

/* EVAL_RO and FCALL_RO are read-only, yet only the reads they make count
 * (Redis's rule): the scripts' own keys are remembered then. */
static bool trk_is_ro_script(const struct kv_command *cmd)
{
	return strcmp(cmd->name, "eval_ro") == 0 || strcmp(cmd->name, "evalsha_ro") == 0 ||
	       strcmp(cmd->name, "fcall_ro") == 0;
}

static void trk_remember_call(struct shard *s, const struct cmd_call *call, struct kv_dbs **held,
			      uint64_t id)
{
	const struct cmd_call *kc = call->in_script ? s->trk->last_call : call;
	if (!kc)
		return;
	int idx_stack[64];
	int *idx = idx_stack;
	int max = kc->argc < 64 ? 64 : kc->argc;
	if (max > 64)
		idx = kv_malloc((size_t)max * sizeof(int));
	int n = cmd_get_keys(kc->cmd, kc->argc, kc->argv, idx, max);
	for (int i = 0; i < n; i++) {
		const struct kv_slice *key = &kc->argv[idx[i]];
		uint32_t owner = kv_key_shard(key->ptr, key->len, g_server.nshards);
		if (trk_holds(s, held, owner))
			trk_remember(owner, id, key->ptr, key->len);
	}
	if (idx != idx_stack)
		free(idx);
}

uint64_t tracking_remember_id(const struct conn *c)
{
	uint32_t f = c->trk_flags;
	if (!(f & TRK_ON) || (f & TRK_BCAST))
		return 0;
	if ((f & TRK_OPTIN) && !(f & TRK_CACHING))
		return 0;
	if ((f & TRK_OPTOUT) && (f & TRK_CACHING))
		return 0;
	return c->id;
}

void tracking_call_begin(struct shard *s, const struct cmd_call *call, struct conn *conn,
			 struct trk_frame *f)
{
	struct trk_shard *t = s->trk;
	f->outer = !t->in_call;
	f->prev_call = t->last_call;
	if (f->outer) {
		t->in_call = true;
		t->flushed = false;
		t->cur = conn;
		t->caller = call->trk_caller ? call->trk_caller : conn ? conn->id : 0;
		t->remember = call->trk_remember;
	}
	if (!call->in_script)
		t->last_call = call;
}

void tracking_call_end(struct shard *s, const struct cmd_call *call, struct kv_dbs **held,
		       struct trk_frame *f)
{
	struct trk_shard *t = s->trk;
	const struct kv_command *cmd = call->cmd;
	if (t->remember && (cmd->flags & CMD_READONLY) && !(cmd->flags & CMD_PUBSUB) &&
	    !trk_is_ro_script(cmd))
		trk_remember_call(s, call, held, t->remember);
	t->last_call = f->prev_call;
	if (!f->outer)
		return;
	t->in_call = false;
	t->cur = NULL;
	t->caller = 0;
	t->remember = 0;
	/* The reply is out: what waited for it follows it. */
	if (t->defer.len) {
		struct kv_buf d = t->defer;
		kv_buf_init(&t->defer);
		trk_deliver(s, d.data, d.len);
		kv_buf_free(&d);
	}
	trk_bcast_flush(s);
}

void tracking_after_command(struct conn *c, const struct kv_slice *name)
{
	if ((c->trk_flags & TRK_CACHING) && !c->in_multi &&
	    !(name->len == 6 && strncasecmp(name->ptr, "client", 6) == 0))
		c->trk_flags &= ~TRK_CACHING;
}

void tracking_turn(struct shard *s)
{
	if (s->trk->nprefixes)
		trk_bcast_flush(s);
	if (s->trk_out.len)
		shard_notify_flush(s);
}

/* This shard's share of tracking-table-max-keys is not fixed: keys go,
 * one reserved at a time from the global count, while the total is over
 * the limit, so shards never drop more than the excess together. */
void tracking_cron(struct shard *s)
{
	struct trk_shard *t = s->trk;
	int64_t max = atomic_load_explicit(&g_config.tracking_table_max_keys,
					   memory_order_relaxed);
	if (max <= 0 || dict_size(&t->keys) == 0)
		return;
	uint32_t effort = 100 * (t->evict_rounds + 1);
	while (effort-- > 0 && dict_size(&t->keys) > 0) {
		uint64_t total = atomic_load_explicit(&trk_keys_total, memory_order_relaxed);
		if (total <= (uint64_t)max) {
			t->evict_rounds = 0;
			return;
		}
		if (!atomic_compare_exchange_weak(&trk_keys_total, &total, total - 1))
			continue;
		struct trk_key *k = (struct trk_key *)dict_random(&t->keys);
		kv_assert(k);
		trk_invalidate(s, s->id, k->key, k->klen, 0, false, false);
	}
	if (atomic_load_explicit(&trk_keys_total, memory_order_relaxed) > (uint64_t)max)
		t->evict_rounds++;
	else
		t->evict_rounds = 0;
}

/* ---- turning tracking on and off ---- */

static void trk_publish(struct conn *c)
{
	uint32_t bits = CONN_INFO_TRACKING | CONN_INFO_TRK_BROKEN | CONN_INFO_TRK_BCAST;
	uint32_t set = 0;
	if (c->trk_flags & TRK_ON)
		set |= CONN_INFO_TRACKING;
	if (c->trk_flags & TRK_BROKEN)
		set |= CONN_INFO_TRK_BROKEN;
	if (c->trk_flags & TRK_BCAST)
		set |= CONN_INFO_TRK_BCAST;
	atomic_fetch_and_explicit(&c->info_flags, ~bits, memory_order_relaxed);
	atomic_fetch_or_explicit(&c->info_flags, set, memory_order_relaxed);
	atomic_store_explicit(&c->info_redir,
			      (c->trk_flags & TRK_ON) ? (int64_t)c->trk_redirect : -1,
			      memory_order_relaxed);
}

static struct trk_prefix *trk_prefix_find(struct trk_shard *t, const char *p, size_t len)
{
	for (uint32_t i = 0; i < t->nprefixes; i++)
		if (t->prefixes[i].len == len && memcmp(t->prefixes[i].p, p, len) == 0)
			return &t->prefixes[i];
	return NULL;
}

static void trk_prefix_add(struct shard *s, struct conn *c, const char *p, size_t len)
{
	for (uint32_t i = 0; i < c->trk_nprefixes; i++)
		if (c->trk_prefixes[i].len == len && memcmp(c->trk_prefixes[i].ptr, p, len) == 0)
			return;
	struct trk_shard *t = s->trk;
	struct trk_prefix *e = trk_prefix_find(t, p, len);
	if (!e) {
		if (t->nprefixes == t->prefixes_cap) {
			t->prefixes_cap = t->prefixes_cap ? t->prefixes_cap * 2 : 4;
			t->prefixes = kv_realloc(t->prefixes, t->prefixes_cap * sizeof(*t->prefixes));
		}
		e = &t->prefixes[t->nprefixes++];
		memset(e, 0, sizeof(*e));
		dict_init(&e->keys, &trk_pkey_type, 0x74726b706b790001ull);
		e->p = kv_malloc(len + 1);
		memcpy(e->p, p, len);
		e->len = len;
		atomic_store_explicit(&t->nprefixes_pub, t->nprefixes, memory_order_relaxed);
	}
	if (e->nconns == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 2;
		e->conns = kv_realloc(e->conns, e->cap * sizeof(*e->conns));
	}
	e->conns[e->nconns++] = c;
	/* The client's own copy, kept sorted (TRACKINGINFO lists them so). */
	c->trk_prefixes = kv_realloc(c->trk_prefixes,
				     (c->trk_nprefixes + 1) * sizeof(*c->trk_prefixes));
	char *copy = kv_malloc(len + 1);
	memcpy(copy, p, len);
	copy[len] = '\0';
	uint32_t at = c->trk_nprefixes;
	while (at > 0) {
		const struct kv_slice *q = &c->trk_prefixes[at - 1];
		size_t m = q->len < len ? q->len : len;
		int r = memcmp(q->ptr, p, m);
		if (r < 0 || (r == 0 && q->len < len))
			break;
		c->trk_prefixes[at] = *q;
		at--;
	}
	c->trk_prefixes[at] = (struct kv_slice){ copy, len };
	c->trk_nprefixes++;
}

static void trk_prefixes_drop(struct shard *s, struct conn *c)
{
	struct trk_shard *t = s->trk;
	for (uint32_t i = 0; i < c->trk_nprefixes; i++) {
		struct trk_prefix *e = trk_prefix_find(t, c->trk_prefixes[i].ptr,
						       c->trk_prefixes[i].len);
		kv_assert(e);
		for (uint32_t j = 0; j < e->nconns; j++) {
			if (e->conns[j] == c) {
				e->conns[j] = e->conns[--e->nconns];
				break;
			}
		}
		if (e->nconns == 0) {
			dict_clear(&e->keys, trk_free_plain, NULL);
			e->list = NULL;
			free(e->conns);
			free(e->p);
			*e = t->prefixes[--t->nprefixes];
			atomic_store_explicit(&t->nprefixes_pub, t->nprefixes, memory_order_relaxed);
		}
		free((void *)c->trk_prefixes[i].ptr);
	}
	free(c->trk_prefixes);
	c->trk_prefixes = NULL;
	c->trk_nprefixes = 0;
}

void tracking_conn_off(struct shard *s, struct conn *c)
{
	if (!(c->trk_flags & TRK_ON)) {
		c->trk_flags = 0;
		return;
	}
	if (c->trk_flags & TRK_BCAST) {
		trk_prefixes_drop(s, c);
		atomic_fetch_sub_explicit(&trk_bcast_total, 1, memory_order_relaxed);
	}
	struct trk_client *tc =
		(struct trk_client *)dict_unlink(&s->trk->clients, &c->id, sizeof(c->id));
	kv_assert(tc && tc->conn == c);
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		s->trk->clist = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	free(tc);
	atomic_fetch_sub_explicit(&s->trk->nclients, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&trk_clients_total, 1, memory_order_relaxed);
	c->trk_flags = 0;
	c->trk_redirect = 0;
	trk_publish(c);
}

void tracking_conn_drop(struct shard *s, struct conn *c)
{
	tracking_conn_off(s, c);
	if (s->trk->cur == c)
		s->trk->cur = NULL;
}

static void trk_enable(struct shard *s, struct conn *c, uint64_t redir, uint32_t redir_shard,
		       uint32_t options, const struct kv_slice *prefixes, uint32_t nprefixes)
{
	if (!(c->trk_flags & TRK_ON)) {
		struct trk_client *tc = kv_malloc(sizeof(*tc));
		tc->id = c->id;
		tc->conn = c;
		dict_add(&s->trk->clients, &tc->node);
		tc->prev = NULL;
		tc->next = s->trk->clist;
		if (tc->next)
			tc->next->prev = tc;
		s->trk->clist = tc;
		atomic_fetch_add_explicit(&s->trk->nclients, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&trk_clients_total, 1, memory_order_relaxed);
	}
	bool was_bcast = c->trk_flags & TRK_BCAST;
	c->trk_flags &= ~(TRK_BROKEN | TRK_BCAST | TRK_OPTIN | TRK_OPTOUT | TRK_NOLOOP);
	c->trk_flags |= TRK_ON | (options & (TRK_OPTIN | TRK_OPTOUT | TRK_NOLOOP | TRK_BCAST));
	c->trk_redirect = redir;
	c->trk_redirect_shard = redir_shard;
	if (options & TRK_BCAST) {
		if (!was_bcast)
			atomic_fetch_add_explicit(&trk_bcast_total, 1, memory_order_relaxed);
		if (nprefixes == 0)
			trk_prefix_add(s, c, "", 0);
		for (uint32_t i = 0; i < nprefixes; i++)
			trk_prefix_add(s, c, prefixes[i].ptr, prefixes[i].len);
	}
	trk_publish(c);
}

/* ---- CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO ---- */

static bool trk_overlap(const struct kv_slice *a, const struct kv_slice *b)
{
	size_t m = a->len < b->len ? a->len : b->len;
	return memcmp(a->ptr, b->ptr, m) == 0;
}

static void trk_overlap_error(struct kv_buf *out, const struct kv_slice *a,
			      const struct kv_slice *b, const char *what)
{
	resp_errorf(out, "ERR Prefix '%.*s' overlaps with %s '%.*s'. Prefixes for a single "
		    "client must not overlap.", (int)a->len, a->ptr, what, (int)b->len, b->ptr);
}

/* Redis's checkPrefixCollisionsOrReply. */
static bool trk_prefixes_ok(struct cmd_ctx *ctx, struct conn *c, const struct kv_slice *p,
			    uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t j = 0; j < c->trk_nprefixes; j++) {
			if (trk_overlap(&c->trk_prefixes[j], &p[i])) {
				trk_overlap_error(ctx->out, &p[i], &c->trk_prefixes[j],
						  "an existing prefix");
				return false;
			}
		}
		for (uint32_t j = i + 1; j < n; j++) {
			if (trk_overlap(&p[i], &p[j])) {
				trk_overlap_error(ctx->out, &p[i], &p[j], "another provided prefix");
				return false;
			}
		}
	}
	return true;
}

static void trk_cmd_tracking(struct cmd_ctx *ctx, struct conn *c)
{
	struct shard *s = ctx->shard;
	int64_t redir = 0;
	int64_t redir_shard = -1;
	uint32_t options = 0;
	struct kv_slice *prefixes = kv_malloc((size_t)ctx->argc * sizeof(*prefixes));
	uint32_t nprefixes = 0;
	for (int j = 3; j < ctx->argc; j++) {
		const struct kv_slice *a = &ctx->argv[j];
		bool more = j + 1 < ctx->argc;
		if (arg_is(a, "redirect") && more) {
			j++;
			if (redir != 0) {
				resp_error(ctx->out,
					   "ERR A client can only redirect to a single other client");
				goto out;
			}
			if (!arg_to_int64(&ctx->argv[j], &redir)) {
				resp_error(ctx->out, "ERR value is not an integer or out of range");
				goto out;
			}
			redir_shard = redir > 0 ? trk_find_shard(s, (uint64_t)redir) : -1;
			if (redir_shard < 0) {
				resp_error(ctx->out,
					   "ERR The client ID you want redirect to does not exist");
				goto out;
			}
		} else if (arg_is(a, "bcast")) {
			options |= TRK_BCAST;
		} else if (arg_is(a, "optin")) {
			options |= TRK_OPTIN;
		} else if (arg_is(a, "optout")) {
			options |= TRK_OPTOUT;
		} else if (arg_is(a, "noloop")) {
			options |= TRK_NOLOOP;
		} else if (arg_is(a, "prefix") && more) {
			prefixes[nprefixes++] = ctx->argv[++j];
		} else {
			resp_error(ctx->out, "ERR syntax error");
			goto out;
		}
	}
	if (arg_is(&ctx->argv[2], "on")) {
		if (!(options & TRK_BCAST) && nprefixes) {
			resp_error(ctx->out, "ERR PREFIX option requires BCAST mode to be enabled");
			goto out;
		}
		if ((c->trk_flags & TRK_ON) &&
		    !!(c->trk_flags & TRK_BCAST) != !!(options & TRK_BCAST)) {
			resp_error(ctx->out, "ERR You can't switch BCAST mode on/off before "
					     "disabling tracking for this client, and then "
					     "re-enabling it with a different mode.");
			goto out;
		}
		if ((options & TRK_BCAST) && (options & (TRK_OPTIN | TRK_OPTOUT))) {
			resp_error(ctx->out, "ERR OPTIN and OPTOUT are not compatible with BCAST");
			goto out;
		}
		if ((options & TRK_OPTIN) && (options & TRK_OPTOUT)) {
			resp_error(ctx->out, "ERR You can't specify both OPTIN mode and OPTOUT mode");
			goto out;
		}
		if (((options & TRK_OPTIN) && (c->trk_flags & TRK_OPTOUT)) ||
		    ((options & TRK_OPTOUT) && (c->trk_flags & TRK_OPTIN))) {
			resp_error(ctx->out, "ERR You can't switch OPTIN/OPTOUT mode before "
					     "disabling tracking for this client, and then "
					     "re-enabling it with a different mode.");
			goto out;
		}
		if ((options & TRK_BCAST) && !trk_prefixes_ok(ctx, c, prefixes, nprefixes))
			goto out;
		trk_enable(s, c, (uint64_t)redir, redir_shard < 0 ? 0 : (uint32_t)redir_shard,
			   options, prefixes, nprefixes);
	} else if (arg_is(&ctx->argv[2], "off")) {
		tracking_conn_off(s, c);
	} else {
		resp_error(ctx->out, "ERR syntax error");
		goto out;
	}
	resp_ok(ctx->out);
out:
	free(prefixes);
}

static void trk_cmd_caching(struct cmd_ctx *ctx, struct conn *c)
{
	if (!(c->trk_flags & TRK_ON)) {
		resp_error(ctx->out, "ERR CLIENT CACHING can be called only when the client is "
				     "in tracking mode with OPTIN or OPTOUT mode enabled");
		return;
	}
	const struct kv_slice *opt = &ctx->argv[2];
	if (arg_is(opt, "yes")) {
		if (!(c->trk_flags & TRK_OPTIN)) {
			resp_error(ctx->out, "ERR CLIENT CACHING YES is only valid when tracking is "
					     "enabled in OPTIN mode.");
			return;
		}
	} else if (arg_is(opt, "no")) {
		if (!(c->trk_flags & TRK_OPTOUT)) {
			resp_error(ctx->out, "ERR CLIENT CACHING NO is only valid when tracking is "
					     "enabled in OPTOUT mode.");
			return;
		}
	} else {
		resp_error(ctx->out, "ERR syntax error");
		return;
	}
	c->trk_flags |= TRK_CACHING;
	resp_ok(ctx->out);
}

static void trk_cmd_info(struct cmd_ctx *ctx, struct conn *c)
{
	uint32_t f = c->trk_flags;
	struct kv_buf *out = ctx->out;
	resp_map(out, 3);
	resp_bulk_str(out, "flags");
	const char *names[8];
	uint32_t n = 0;
	names[n++] = (f & TRK_ON) ? "on" : "off";
	if (f & TRK_BCAST)
		names[n++] = "bcast";
	if (f & TRK_OPTIN) {
		names[n++] = "optin";
		if (f & TRK_CACHING)
			names[n++] = "caching-yes";
	}
	if (f & TRK_OPTOUT) {
		names[n++] = "optout";
		if (f & TRK_CACHING)
			names[n++] = "caching-no";
	}
	if (f & TRK_NOLOOP)
		names[n++] = "noloop";
	if (f & TRK_BROKEN)
		names[n++] = "broken_redirect";
	resp_set(out, n);
	for (uint32_t i = 0; i < n; i++)
		resp_bulk_str(out, names[i]);
	resp_bulk_str(out, "redirect");
	resp_int(out, (f & TRK_ON) ? (int64_t)c->trk_redirect : -1);
	resp_bulk_str(out, "prefixes");
	resp_array(out, c->trk_nprefixes);
	for (uint32_t i = 0; i < c->trk_nprefixes; i++)
		resp_bulk(out, c->trk_prefixes[i].ptr, c->trk_prefixes[i].len);
}

void tracking_client_cmd(struct cmd_ctx *ctx)
{
	struct conn *c = ctx->conn;
	const struct kv_slice *sub = &ctx->argv[1];
	if (arg_is(sub, "tracking"))
		trk_cmd_tracking(ctx, c);
	else if (arg_is(sub, "caching"))
		trk_cmd_caching(ctx, c);
	else if (arg_is(sub, "getredir"))
		resp_int(ctx->out, (c->trk_flags & TRK_ON) ? (int64_t)c->trk_redirect : -1);
	else if (arg_is(sub, "trackinginfo"))
		trk_cmd_info(ctx, c);
	else
		kv_assert(!"not a tracking subcommand");
}

void tracking_info(uint64_t *clients, uint64_t *keys, uint64_t *items, uint64_t *prefixes)
{
	*clients = *keys = *items = *prefixes = 0;
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct trk_shard *t = g_server.shards[i]->trk;
		if (!t)
			continue;
		*clients += atomic_load_explicit(&t->nclients, memory_order_relaxed);
		*keys += atomic_load_explicit(&t->nkeys, memory_order_relaxed);
		*items += atomic_load_explicit(&t->nitems, memory_order_relaxed);
		*prefixes += atomic_load_explicit(&t->nprefixes_pub, memory_order_relaxed);
	}
}
