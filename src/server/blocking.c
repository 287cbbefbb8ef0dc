/*
 * blocking.c - BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX,
 * BZMPOP.
 *
 * A blocking command first runs like its non-blocking twin, holding the
 * keyspace of every shard its keys live on.  If nothing can be popped, the
 * client blocks: a ticket is queued on every key it waits for, in the table
 * of the shard that owns the key, and the client dispatches nothing more.
 *
 * A write to a key with waiters (any command, on any shard) claims the
 * oldest waiting tickets, as many as the key has elements, by an atomic
 * WAITING -> CLAIMED exchange on the ticket (a client blocked on several keys
 * is claimed once), and wakes each claimed client's shard.  The woken client
 * runs its command again from the start: it pops, or blocks again if another
 * client took the element in between.  Running again (instead of popping on
 * the waker's shard) is what makes BLMOVE between shards atomic: the retry
 * takes the keyspaces of source and destination like any LMOVE.  A
 * blocked XREAD / XREADGROUP is read again by the claimer when it holds
 * every stream the read names (serve_stream_now), else it runs again too.
 *
 * A timeout (checked by the client's shard every loop turn) and a
 * disconnect race with claims through the same exchange (WAITING -> DONE);
 * whoever wins finishes the client.  Tickets left in key queues by finished
 * clients are dropped when the key is next signalled or by the periodic
 * sweep.  A ticket is freed when its last reference goes (the client's and
 * one per queue it sits in).
 *
 * Differences from Redis 7.0, documented in docs/compatibility.md: a client
 * woken by a push but beaten to the element by a non-blocking pop re-queues
 * behind later waiters; a push inside MULTI wakes waiters at once (they see
 * the state after EXEC, and may re-block).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands/cmd.h"
#include "commands/cmd_zset.h"
#include "commands/cmd_stream.h"
#include "store/effect_argv.h"
#include "store/dict.h"
#include "commands/fx.h"
#include "commands/notify.h"
#include "base/kv.h"
#include "server/server.h"
#include "server/shard.h"
#include "store/t_list.h"
#include "store/t_zset.h"

enum { BT_WAITING = 0, BT_CLAIMED = 1, BT_DONE = 2 };

struct block_ticket {
	struct shard_msg wake;     /* MSG_WAKE to the home shard, sent once */
	_Atomic int state;
	_Atomic uint32_t refs;
	uint32_t home;
	enum kv_type want;         /* KV_TYPE_LIST, KV_TYPE_ZSET or KV_TYPE_STREAM */
	struct conn *conn;         /* dereferenced only on the home shard */
	struct cmd_call *call;     /* the blocked command; read-only once queued */
	bool served;               /* the claimer ran it: reply holds the answer */
	struct kv_buf reply;
};

struct bk_node {
	struct dict_node node;
	struct block_ticket **q;
	uint32_t len, cap;
	size_t klen;
	char key[];
};

struct block_table {
	struct dict keys;
};

/* Any ticket queued anywhere: lets writes skip the check when nobody waits. */
static _Atomic uint64_t blocked_queued;

static struct kv_slice bk_node_key(const struct dict_node *n)
{
	const struct bk_node *b = (const struct bk_node *)n;
	return (struct kv_slice){ b->key, b->klen };
}

static const struct dict_type bk_dict_type = { bk_node_key };

static void ticket_unref(struct block_ticket *t)
{
	if (atomic_fetch_sub(&t->refs, 1) == 1) {
		free(t->call);
		kv_buf_free(&t->reply);
		free(t);
	}
}

static struct block_table *table_of(struct shard *s)
{
	if (!s->blocked) {
		s->blocked = kv_calloc(1, sizeof(*s->blocked));
		dict_init(&s->blocked->keys, &bk_dict_type, 0x626c6f636b6564ull);
	}
	return s->blocked;
}

/* A table's key is the database number (4 bytes) then the key: a waiter
 * on a key of database 3 is not served by a push to database 0. */
#define BK_DB_BYTES 4

static struct bk_node *bk_find(struct block_table *bt, uint32_t dbid, const char *key,
			       size_t klen)
{
	char stack[256];
	char *k = klen + BK_DB_BYTES <= sizeof(stack) ? stack : kv_malloc(klen + BK_DB_BYTES);
	memcpy(k, &dbid, BK_DB_BYTES);
	memcpy(k + BK_DB_BYTES, key, klen);
	struct bk_node *n = (struct bk_node *)dict_find(&bt->keys, k, klen + BK_DB_BYTES);
	if (k != stack)
		free(k);
	return n;
}

/* Queue t on key of database dbid in shard s's table (s's keyspace is held
 * by the caller). */
static void bk_register(struct shard *s, uint32_t dbid, const char *key, size_t klen,
			struct block_ticket *t)
{
	struct block_table *bt = table_of(s);
	struct bk_node *n = bk_find(bt, dbid, key, klen);
	if (!n) {
		n = kv_calloc(1, sizeof(*n) + klen + BK_DB_BYTES);
		n->klen = klen + BK_DB_BYTES;
		memcpy(n->key, &dbid, BK_DB_BYTES);
		memcpy(n->key + BK_DB_BYTES, key, klen);
		dict_add(&bt->keys, &n->node);
	}
	if (n->len == n->cap) {
		n->cap = n->cap ? n->cap * 2 : 4;
		n->q = kv_realloc(n->q, n->cap * sizeof(*n->q));
	}
	n->q[n->len++] = t;
	atomic_fetch_add(&t->refs, 1);
	atomic_fetch_add_explicit(&blocked_queued, 1, memory_order_relaxed);
}

static void bk_node_drop(struct block_table *bt, struct bk_node *n)
{
	dict_unlink(&bt->keys, n->key, n->klen);
	free(n->q);
	free(n);
}

/* Remove tickets [0, upto) for which keep[] is false, preserving order. */
static void bk_compact(struct bk_node *n, const bool *remove)
{
	uint32_t w = 0;
	for (uint32_t r = 0; r < n->len; r++) {
		if (remove[r]) {
			ticket_unref(n->q[r]);
			atomic_fetch_sub_explicit(&blocked_queued, 1, memory_order_relaxed);
		} else {
			n->q[w++] = n->q[r];
		}
	}
	n->len = w;
}

/* How many elements a waiter wanting `want` could take from key now. */
static uint64_t key_available(struct kv_db *db, const char *key, size_t klen, int64_t now_ms,
			      enum kv_type want)
{
	struct kv_entry *e = db_lookup(db, key, klen, now_ms);
	if (!e || entry_type(e) != want)
		return 0;
	return want == KV_TYPE_LIST ? list_len(entry_obj(e)) : zset_len(entry_obj(e));
}

static bool parse_where_word(const struct kv_slice *a, enum list_where *w)
{
	if (arg_is(a, "left"))
		*w = LIST_HEAD;
	else if (arg_is(a, "right"))
		*w = LIST_TAIL;
	else
		return false;
	return true;
}

/* ---- effects (fx.h) ----
 * A blocking command is logged as the non-blocking twin of what it did, with
 * what it actually took: replay never blocks and does not depend on which
 * waiter was served.  ctx is the handler's context, or NULL in serve_now,
 * which runs outside the handler of the command it serves. */

static void bk_effect(struct cmd_ctx *ctx, uint32_t dbid, int argc, const struct kv_slice *argv)
{
	if (ctx)
		cmd_effect(ctx, argc, argv);
	else
		fx_emit_key(dbid, argc, argv);
}

/* LPOP/RPOP key [count]; count only when the command had one (BLMPOP). */
static void log_list_pop(struct cmd_ctx *ctx, uint32_t dbid, const char *key, size_t klen,
			 enum list_where where, uint64_t popped, bool with_count)
{
	char buf[EFFECT_NUM_MAX];
	struct kv_slice argv[3] = {
		where == LIST_HEAD ? (struct kv_slice){ "LPOP", 4 } : (struct kv_slice){ "RPOP", 4 },
		{ key, klen },
		effect_int(buf, (int64_t)popped),
	};
	bk_effect(ctx, dbid, with_count ? 3 : 2, argv);
}

/* ZPOPMIN/ZPOPMAX key [count]; count only for BZMPOP (count >= 0). */
static void log_zpop(struct cmd_ctx *ctx, uint32_t dbid, const char *key, size_t klen, bool max,
		     int64_t count)
{
	char buf[EFFECT_NUM_MAX];
	struct kv_slice argv[3] = {
		max ? (struct kv_slice){ "ZPOPMAX", 7 } : (struct kv_slice){ "ZPOPMIN", 7 },
		{ key, klen },
		effect_int(buf, count),
	};
	bk_effect(ctx, dbid, count >= 0 ? 3 : 2, argv);
}

struct zpop_reply {
	struct kv_buf *out;
	const struct kv_slice *key;
};

static void zpop_reply_cb(void *arg, struct kv_slice m, double score)
{
	struct zpop_reply *r = arg;
	char buf[ZSET_SCORE_MAX];
	int n = zset_fmt_score(buf, score);
	resp_array(r->out, 3);
	resp_bulk(r->out, r->key->ptr, r->key->len);
	resp_bulk(r->out, m.ptr, m.len);
	resp_double_text(r->out, buf, (size_t)n);
}

/* BZPOPMIN/BZPOPMAX's pop of one member from the zset z stored at key:
 * reply, account the memory, report the change, delete an emptied key. */
static void zpop_one(struct kv_db *db, const char *key, size_t klen, void *z, bool max,
		     struct kv_buf *out)
{
	struct kv_slice k = { key, klen };
	size_t before = zset_mem(z);
	struct zpop_reply r = { out, &k };
	zset_pop(z, max, 1, zpop_reply_cb, &r);
	db_memory_adjust(db, (int64_t)zset_mem(z) - (int64_t)before);
	db_signal_modified(db, key, klen);
	if (zset_len(z) == 0)
		db_delete(db, key, klen);
}

/* Pop the oldest claimed waiter's share of `key` right here, in queue order,
 * so waiters are served first come first served whatever their shards.
 * Returns false when the command needs a keyspace not held here (BLMOVE to
 * another shard): the client then runs its command again itself. */
static bool serve_now(struct kv_db *db, const char *key, size_t klen, struct kv_dbs **held,
		      struct block_ticket *t, int64_t now_ms, struct kv_buf *moved_to)
{
	const struct cmd_call *call = t->call;
	const char *name = call->cmd->name;
	struct kv_buf *out = &t->reply;
	out->proto = call->proto;
	if (strcmp(name, "blpop") == 0 || strcmp(name, "brpop") == 0) {
		enum list_where where = name[1] == 'l' ? LIST_HEAD : LIST_TAIL;
		list_pop_reply(db, key, klen, where, 1, LIST_POP_KEY_BULK, out);
		log_list_pop(NULL, call->dbid, key, klen, where, 1, false);
		notify_pop(NULL, NOTIFY_LIST, where == LIST_HEAD ? "lpop" : "rpop", db, key, klen);
	} else if (strcmp(name, "blmpop") == 0) {
		int64_t numkeys = 1, count = 1;
		enum list_where where = LIST_HEAD;
		arg_to_int64(&call->argv[2], &numkeys);
		int w = (int)(3 + numkeys);
		parse_where_word(&call->argv[w], &where);
		if (w + 2 < call->argc)
			arg_to_int64(&call->argv[w + 2], &count);
		uint64_t popped = list_pop_reply(db, key, klen, where, (uint64_t)count,
						 LIST_POP_KEY_ARRAY, out);
		log_list_pop(NULL, call->dbid, key, klen, where, popped, true);
		notify_pop(NULL, NOTIFY_LIST, where == LIST_HEAD ? "lpop" : "rpop", db, key, klen);
	} else if (strcmp(name, "bzpopmin") == 0 || strcmp(name, "bzpopmax") == 0) {
		struct kv_entry *e = db_lookup(db, key, klen, now_ms);
		zpop_one(db, key, klen, entry_obj(e), name[5] == 'a', out);
		log_zpop(NULL, call->dbid, key, klen, name[5] == 'a', -1);
		notify_pop(NULL, NOTIFY_ZSET, name[5] == 'a' ? "zpopmax" : "zpopmin", db, key, klen);
		return (t->served = true);
	} else if (strcmp(name, "bzmpop") == 0) {
		/* Its arguments were checked when it blocked. */
		int64_t numkeys, count;
		bool max;
		zset_mpop_parse(call->argc, call->argv, 2, &numkeys, &max, &count);
		struct kv_entry *e = db_lookup(db, key, klen, now_ms);
		size_t n = zset_mpop_reply(db, key, klen, entry_obj(e), max, (size_t)count, out);
		log_zpop(NULL, call->dbid, key, klen, max, (int64_t)n);
		notify_pop(NULL, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", db, key, klen);
		return (t->served = true);
	} else {
		/* BLMOVE / BRPOPLPUSH: needs the destination's keyspace. */
		const struct kv_slice *dst = &call->argv[2];
		struct kv_dbs *dheld = held[kv_key_shard(dst->ptr, dst->len, g_server.nshards)];
		if (!dheld)
			return false;
		struct kv_db *ddb = dheld->db[call->dbid];
		struct kv_entry *de = db_lookup(ddb, dst->ptr, dst->len, now_ms);
		if (de && entry_type(de) != KV_TYPE_LIST)
			return false;   /* the retry replies WRONGTYPE */
		enum list_where from = LIST_TAIL, to = LIST_HEAD;
		if (strcmp(name, "blmove") == 0) {
			parse_where_word(&call->argv[3], &from);
			parse_where_word(&call->argv[4], &to);
		}
		struct kv_slice src = { key, klen };
		list_move_logged(NULL, db, &src, ddb, dst, from, to, now_ms, out);
		db_signal_modified(ddb, dst->ptr, dst->len);
		/* The destination got an element: its own waiters are served
		 * next (bk_signal), as Redis's ready keys are.  A list moved
		 * onto itself is this loop's own business. */
		if (dst->len != klen || memcmp(dst->ptr, key, klen) != 0) {
			uint64_t len = dst->len;
			kv_buf_append(moved_to, &len, sizeof(len));
			kv_buf_append(moved_to, dst->ptr, dst->len);
		}
	}
	db_signal_modified(db, key, klen);
	t->served = true;
	return true;
}

/* Run a claimed XREAD / XREADGROUP here, in the writer's unit, when every
 * stream it names is held: as in Redis, the reader is served before the
 * writer's client (or anyone) runs another command, so an XINFO right after
 * the XADD sees the delivery and the consumer it created.  Its effects
 * follow the writer's in the same record (its own fx frame).  Nothing to
 * read (the write added nothing past its ID), or a stream on a shard not
 * held: the client runs the command again itself, as before. */
static void serve_stream_now(struct shard *exec, struct kv_dbs **held, struct block_ticket *t,
			     int64_t now_ms)
{
	const struct cmd_call *call = t->call;
	int idx_stack[16];
	int max = call->argc < 16 ? 16 : call->argc;
	int *idx = max > 16 ? kv_malloc((size_t)max * sizeof(int)) : idx_stack;
	int n = cmd_stream_read_keys(call->argc, call->argv, idx, max);
	bool all_held = n > 0;
	for (int i = 0; i < n && all_held; i++) {
		const struct kv_slice *k = &call->argv[idx[i]];
		all_held = held[kv_key_shard(k->ptr, k->len, g_server.nshards)] != NULL;
	}
	if (idx != idx_stack)
		free(idx);
	if (!all_held)
		return;
	struct kv_buf *out = &t->reply;
	out->proto = call->proto;
	struct cmd_ctx ctx = {
		.argc = call->argc,
		.argv = call->argv,
		.out = out,
		.now_ms = now_ms,
		.rt = &server_runtime,
		.stats = &exec->stats,
		.shard = exec,
		.held = held,
		.nshards = g_server.nshards,
		.dbid = call->dbid,
		.user = call->user,
	};
	/* It changes its group in place: a snapshot under way must save
	 * what it looks up first, whatever database the writer ran in. */
	bool was[g_server.nshards];
	for (uint32_t i = 0; i < g_server.nshards; i++)
		was[i] = held[i] && db_set_writing(held[i]->db[call->dbid], true);
	struct fx_cmd fx;
	fx_cmd_begin(&fx, call->cmd, call->argc, call->argv, held, call->dbid, now_ms);
	struct stream_read_wait w;
	t->served = cmd_stream_read(&ctx, &w, true);
	fx_cmd_end(&fx);
	if (!t->served) {
		cmd_stream_read_wait_free(&w);
		out->len = 0;
	}
	for (uint32_t i = 0; i < g_server.nshards; i++)
		if (held[i])
			db_set_writing(held[i]->db[call->dbid], was[i]);
}

/* Tell the waiter's home.  A waiter served here on this shard's own key is
 * woken in this turn; any other wake-up leaves through the key's owner once
 * the pop it carries is durable (shard_defer_wake). */
static void wake(struct shard *from, struct shard *owner, struct block_ticket *t)
{
	t->wake.type = MSG_WAKE;
	if (t->home == from->id && owner == from) {
		t->wake.from = from->id;
		msg_fifo_push(&from->wakes, &t->wake);
	} else {
		shard_defer_wake(from, owner->id, t->home, &t->wake);
	}
}

/* A write touched key of database dbid (owned by shard `owner`, held by
 * the executing shard `exec`): claim waiters the key can now serve. */
static void bk_signal(struct shard *exec, struct shard *owner, uint32_t dbid,
		      struct kv_dbs **held, const char *key, size_t klen, int64_t now_ms)
{
	struct block_table *bt = owner->blocked;
	if (!bt)
		return;
	struct bk_node *n = bk_find(bt, dbid, key, klen);
	if (!n)
		return;
	struct kv_db *db = held[owner->id]->db[dbid];
	uint64_t avail[2] = { key_available(db, key, klen, now_ms, KV_TYPE_LIST),
			      key_available(db, key, klen, now_ms, KV_TYPE_ZSET) };
	bool remove_stack[64];
	bool *remove = n->len <= 64 ? remove_stack : kv_calloc(n->len, sizeof(bool));
	struct kv_buf moved_to = KV_BUF_INIT;   /* (u64 length, bytes) of each destination */
	for (uint32_t i = 0; i < n->len; i++) {
		struct block_ticket *t = n->q[i];
		remove[i] = false;
		if (atomic_load(&t->state) != BT_WAITING) {
			remove[i] = true;
			continue;
		}
		if (t->want == KV_TYPE_STREAM) {
			/* A stream reader reads again: the write may have added
			 * what it waits for, or removed its group or key
			 * (XREADGROUP then replies the error). */
			int expect = BT_WAITING;
			remove[i] = true;
			if (atomic_compare_exchange_strong(&t->state, &expect, BT_CLAIMED)) {
				serve_stream_now(exec, held, t, now_ms);
				wake(exec, owner, t);
			}
			continue;
		}
		uint64_t *a = &avail[t->want == KV_TYPE_ZSET];
		if (*a == 0)
			continue;
		int expect = BT_WAITING;
		remove[i] = true;
		if (!atomic_compare_exchange_strong(&t->state, &expect, BT_CLAIMED))
			continue;
		if (serve_now(db, key, klen, held, t, now_ms, &moved_to)) {
			avail[0] = key_available(db, key, klen, now_ms, KV_TYPE_LIST);
			avail[1] = key_available(db, key, klen, now_ms, KV_TYPE_ZSET);
		} else {
			(*a)--;
		}
		wake(exec, owner, t);
	}
	bk_compact(n, remove);
	if (remove != remove_stack)
		free(remove);
	if (n->len == 0)
		bk_node_drop(bt, n);
	/* Chained wake-ups: each one serves a waiting ticket, so the chain ends. */
	for (size_t off = 0; off < moved_to.len;) {
		uint64_t len;
		memcpy(&len, moved_to.data + off, sizeof(len));
		const char *dst = moved_to.data + off + sizeof(len);
		off += sizeof(len) + len;
		uint32_t id = kv_key_shard(dst, len, g_server.nshards);
		if (held[id])
			bk_signal(exec, g_server.shards[id], dbid, held, dst, len, now_ms);
	}
	kv_buf_free(&moved_to);
}

/* The database a MOVE or COPY ... DB writes its key into, when that is not
 * the call's own; false otherwise. */
static bool other_db_target(const struct cmd_call *call, uint32_t *db, int *key_arg)
{
	int64_t v = -1;
	if (arg_is(&call->argv[0], "move") && call->argc == 3) {
		arg_to_int64(&call->argv[2], &v);
		*key_arg = 1;
	} else if (arg_is(&call->argv[0], "copy")) {
		for (int i = 3; i + 1 < call->argc; i++)
			if (arg_is(&call->argv[i], "db"))
				arg_to_int64(&call->argv[++i], &v);
		*key_arg = 2;
	}
	if (v < 0 || v >= (int64_t)g_server.shards[0]->dbs.n || (uint32_t)v == call->dbid)
		return false;
	*db = (uint32_t)v;
	return true;
}

struct swap_keys {
	uint32_t a, b;
	struct kv_buf keys;     /* (u32 db, u64 length, bytes) of each waited-on key */
};

static void collect_swapped(void *arg, struct dict_node *n)
{
	struct swap_keys *sk = arg;
	const struct bk_node *b = (const struct bk_node *)n;
	uint32_t db;
	memcpy(&db, b->key, BK_DB_BYTES);
	if (sk->a != UINT32_MAX && db != sk->a && db != sk->b)
		return;
	uint64_t len = b->klen - BK_DB_BYTES;
	kv_buf_append(&sk->keys, &db, sizeof(db));
	kv_buf_append(&sk->keys, &len, sizeof(len));
	kv_buf_append(&sk->keys, b->key + BK_DB_BYTES, len);
}

/* SWAPDB a b: every waiter of either database may now find its key (Redis
 * scans both for ready keys).  The keys are collected first: serving a
 * waiter changes the table being walked. */
static void signal_dbs(struct shard *exec, const struct cmd_call *call, struct kv_dbs **held,
		       int64_t a, int64_t b)
{
	for (uint32_t id = 0; id < g_server.nshards; id++) {
		struct shard *owner = g_server.shards[id];
		if (!held[id] || !owner->blocked)
			continue;
		struct swap_keys sk = { a < 0 ? UINT32_MAX : (uint32_t)a, (uint32_t)b, KV_BUF_INIT };
		uint64_t cursor = 0;
		do {
			cursor = dict_scan(&owner->blocked->keys, cursor, collect_swapped, &sk);
		} while (cursor);
		for (size_t off = 0; off < sk.keys.len;) {
			uint32_t db;
			uint64_t len;
			memcpy(&db, sk.keys.data + off, sizeof(db));
			memcpy(&len, sk.keys.data + off + sizeof(db), sizeof(len));
			const char *key = sk.keys.data + off + sizeof(db) + sizeof(len);
			off += sizeof(db) + sizeof(len) + len;
			bk_signal(exec, owner, db, held, key, len, call->now_ms);
		}
		kv_buf_free(&sk.keys);
	}
}

bool blocking_any(void)
{
	return atomic_load_explicit(&blocked_queued, memory_order_relaxed) != 0;
}

void blocking_after_write(struct shard *exec, const struct cmd_call *call, struct kv_dbs **held)
{
	if (!blocking_any())
		return;
	/* A read of a stream group changes it but gives no other reader
	 * anything: waking them would only make blocked readers wake each
	 * other for ever. */
	if (arg_is(&call->argv[0], "xreadgroup") || arg_is(&call->argv[0], "xread"))
		return;
	if (arg_is(&call->argv[0], "swapdb")) {
		int64_t a, b;
		if (call->argc == 3 && arg_to_int64(&call->argv[1], &a) &&
		    arg_to_int64(&call->argv[2], &b) && a >= 0 && b >= 0)
			signal_dbs(exec, call, held, a, b);
		return;
	}
	/* A flush wakes stream readers (a blocked XREADGROUP learns its key
	 * is gone); list and zset waiters find nothing and stay. */
	if (arg_is(&call->argv[0], "flushall")) {
		signal_dbs(exec, call, held, -1, 0);
		return;
	}
	if (arg_is(&call->argv[0], "flushdb")) {
		signal_dbs(exec, call, held, call->dbid, call->dbid);
		return;
	}
	uint32_t other;
	int key_arg = 1;
	if (other_db_target(call, &other, &key_arg)) {
		/* The key arrived in another database than the call's. */
		const struct kv_slice *k = &call->argv[key_arg];
		uint32_t id = kv_key_shard(k->ptr, k->len, g_server.nshards);
		if (held[id])
			bk_signal(exec, g_server.shards[id], other, held, k->ptr, k->len,
				  call->now_ms);
	}
	int idx_stack[64];
	int max = call->argc < 64 ? 64 : call->argc;
	int *idx = max > 64 ? kv_malloc((size_t)max * sizeof(int)) : idx_stack;
	int n = cmd_get_keys(call->cmd, call->argc, call->argv, idx, max);
	uint32_t nshards = g_server.nshards;
	for (int i = 0; i < n; i++) {
		const struct kv_slice *k = &call->argv[idx[i]];
		uint32_t id = kv_key_shard(k->ptr, k->len, nshards);
		if (held[id])
			bk_signal(exec, g_server.shards[id], call->dbid, held, k->ptr, k->len,
				  call->now_ms);
	}
	if (idx != idx_stack)
		free(idx);
}

/* Drop finished tickets from this shard's queues, bounded work per call
 * (the keyspace must be free: the tables follow the keyspace's rules). */
struct sweep_ctx {
	struct block_table *bt;
	struct bk_node *empty[64];
	int nempty;
};

static void sweep_node(void *arg, struct dict_node *dn)
{
	struct sweep_ctx *sc = arg;
	struct bk_node *n = (struct bk_node *)dn;
	bool remove_stack[64];
	bool *remove = n->len <= 64 ? remove_stack : kv_calloc(n->len, sizeof(bool));
	for (uint32_t i = 0; i < n->len; i++)
		remove[i] = atomic_load(&n->q[i]->state) != BT_WAITING;
	bk_compact(n, remove);
	if (remove != remove_stack)
		free(remove);
	if (n->len == 0 && sc->nempty < 64)
		sc->empty[sc->nempty++] = n;
}

void blocking_sweep(struct shard *s)
{
	if (!s->blocked || s->holder || dict_size(&s->blocked->keys) == 0)
		return;
	struct sweep_ctx sc = { s->blocked, { 0 }, 0 };
	for (int step = 0; step < 16; step++) {
		s->blocked_sweep_cursor = dict_scan(&s->blocked->keys, s->blocked_sweep_cursor,
						    sweep_node, &sc);
		if (s->blocked_sweep_cursor == 0)
			break;
	}
	for (int i = 0; i < sc.nempty; i++)
		bk_node_drop(s->blocked, sc.empty[i]);
}

/* ---- the client side (home shard) ---- */

/* Called by a handler that found nothing to pop.  Returns false when the
 * client may not block (inside EXEC, or no client): the handler then
 * replies as for a timeout. */
static bool block_client(struct cmd_ctx *ctx, const int *key_idx, int nkeys, int64_t deadline_ms,
			 enum kv_type want)
{
	struct conn *c = ctx->conn;
	if (!c || c->in_exec)
		return false;
	struct block_ticket *t = kv_calloc(1, sizeof(*t));
	atomic_init(&t->state, BT_WAITING);
	atomic_init(&t->refs, 1);
	t->home = ctx->shard->id;
	t->want = want;
	t->conn = c;
	t->call = shard_call_copy(sizeof(struct cmd_call), 0,
				  cmd_lookup(ctx->argv[0].ptr, ctx->argv[0].len), ctx->argc,
				  ctx->argv, ctx->now_ms);
	t->call->dbid = ctx->dbid;
	t->call->proto = ctx->out->proto;   /* the client's: the reply is written elsewhere */
	for (int i = 0; i < nkeys; i++) {
		const struct kv_slice *k = &ctx->argv[key_idx[i]];
		bool dup = false;
		for (int j = 0; j < i && !dup; j++)
			dup = ctx->argv[key_idx[j]].len == k->len &&
			      memcmp(ctx->argv[key_idx[j]].ptr, k->ptr, k->len) == 0;
		if (dup)
			continue;
		uint32_t id = cmd_key_shard(ctx, k->ptr, k->len);
		cmd_db_at(ctx, id); /* asserts the key's keyspace is held */
		bk_register(g_server.shards[id], ctx->dbid, k->ptr, k->len, t);
	}
	c->block_ticket = t;
	c->block_deadline_ms = deadline_ms;
	c->block_pending = true;
	return true;
}

bool blocking_finish(struct conn *c, bool claimed_ok)
{
	struct block_ticket *t = c->block_ticket;
	if (!t)
		return false;
	int expect = BT_WAITING;
	if (!claimed_ok && !atomic_compare_exchange_strong(&t->state, &expect, BT_DONE))
		return false;   /* claimed: the wake-up is on its way */
	c->block_ticket = NULL;
	ticket_unref(t);
	return true;
}

const struct cmd_call *blocking_served_call(const struct conn *c)
{
	const struct block_ticket *t = c->block_ticket;
	return t && t->served ? t->call : NULL;
}

void blocking_take_result(struct conn *c, struct kv_buf *reply, struct cmd_call **retry)
{
	struct block_ticket *t = c->block_ticket;
	kv_assert(t && atomic_load(&t->state) == BT_CLAIMED);
	*retry = NULL;
	if (t->served) {
		*reply = t->reply;
		kv_buf_init(&t->reply);
	} else {
		const struct cmd_call *call = t->call;
		*retry = shard_call_copy(sizeof(struct cmd_call), 0, call->cmd, call->argc, call->argv,
					 call->now_ms);
		(*retry)->dbid = call->dbid;
		(*retry)->proto = call->proto;
	}
	c->block_ticket = NULL;
	ticket_unref(t);
}

struct conn *blocking_wake_conn(struct shard_msg *m)
{
	struct block_ticket *t = (struct block_ticket *)m;
	return t->conn;
}

/* ---- timeouts ---- */

/* Redis 7.0's timeout rules: seconds as a long double, times 1000,
 * truncated; what does not fit a long long reads as negative. */
static bool parse_timeout(struct cmd_ctx *ctx, const struct kv_slice *a, int64_t *deadline_ms)
{
	long double secs;
	if (!arg_to_long_double(a, &secs)) {
		resp_error(ctx->out, "ERR timeout is not a float or out of range");
		return false;
	}
	long double ms = secs * 1000.0L;
	if (!isfinite((double)ms) || ms >= 9.2233720368547758e18L || ms <= -9.2233720368547758e18L ||
	    (int64_t)ms < 0) {
		resp_error(ctx->out, "ERR timeout is negative");
		return false;
	}
	/* Rounded up, as Redis does: 0.001 s is 0.99999... ms in binary, and
	 * truncated it would mean "block for ever". */
	int64_t t = (int64_t)ceill(ms);
	*deadline_ms = t > 0 ? ctx->now_ms + t : 0;
	return true;
}

/* ---- commands ---- */

static bool lookup_typed(struct cmd_ctx *ctx, int i, enum kv_type want, void **obj)
{
	struct kv_entry *e = db_lookup(cmd_db_arg(ctx, i), ctx->argv[i].ptr, ctx->argv[i].len,
				       ctx->now_ms);
	*obj = NULL;
	if (!e)
		return true;
	if (entry_type(e) != want) {
		resp_error(ctx->out, RESP_ERR_WRONGTYPE);
		return false;
	}
	*obj = entry_obj(e);
	return true;
}

/* The first key of argv[from, to) holding a non-empty value of type want,
 * as Redis scans a blocking command's keys: returns its index with its
 * object in *obj, 0 when none (the keys to wait on are then in idx[0..*n)),
 * or -1 after replying WRONGTYPE. */
static int first_ready(struct cmd_ctx *ctx, int from, int to, enum kv_type want, int *idx,
		       int *n, void **obj)
{
	*n = 0;
	for (int i = from; i < to; i++) {
		if (!lookup_typed(ctx, i, want, obj))
			return -1;
		if (*obj)
			return i;
		idx[(*n)++] = i;
	}
	return 0;
}

static void bpop_generic(struct cmd_ctx *ctx, enum list_where where)
{
	int64_t deadline;
	if (!parse_timeout(ctx, &ctx->argv[ctx->argc - 1], &deadline))
		return;
	int idx[ctx->argc], n;
	void *l;
	int i = first_ready(ctx, 1, ctx->argc - 1, KV_TYPE_LIST, idx, &n, &l);
	if (i > 0) {
		list_pop_reply(cmd_db_arg(ctx, i), ctx->argv[i].ptr, ctx->argv[i].len, where, 1,
			       LIST_POP_KEY_BULK, ctx->out);
		log_list_pop(ctx, ctx->dbid, ctx->argv[i].ptr, ctx->argv[i].len, where, 1, false);
		notify_pop(ctx, NOTIFY_LIST, where == LIST_HEAD ? "lpop" : "rpop",
			   cmd_db_arg(ctx, i), ctx->argv[i].ptr, ctx->argv[i].len);
	} else if (i == 0 && !block_client(ctx, idx, n, deadline, KV_TYPE_LIST))
		resp_null_array(ctx->out);
}

static void cmd_blpop(struct cmd_ctx *ctx) { bpop_generic(ctx, LIST_HEAD); }
static void cmd_brpop(struct cmd_ctx *ctx) { bpop_generic(ctx, LIST_TAIL); }

static bool parse_where(struct cmd_ctx *ctx, int i, enum list_where *w)
{
	if (arg_is(&ctx->argv[i], "left"))
		*w = LIST_HEAD;
	else if (arg_is(&ctx->argv[i], "right"))
		*w = LIST_TAIL;
	else {
		resp_error(ctx->out, RESP_ERR_SYNTAX);
		return false;
	}
	return true;
}

static void bmove_generic(struct cmd_ctx *ctx, enum list_where from, enum list_where to,
			  int timeout_idx)
{
	int64_t deadline;
	if (!parse_timeout(ctx, &ctx->argv[timeout_idx], &deadline))
		return;
	void *src, *dst;
	if (!lookup_typed(ctx, 1, KV_TYPE_LIST, &src))
		return;
	if (!src) {
		int idx[1] = { 1 };
		if (!block_client(ctx, idx, 1, deadline, KV_TYPE_LIST))
			resp_null_array(ctx->out);
		return;
	}
	if (!lookup_typed(ctx, 2, KV_TYPE_LIST, &dst))
		return;
	list_move_logged(ctx, cmd_db_arg(ctx, 1), &ctx->argv[1], cmd_db_arg(ctx, 2),
			 &ctx->argv[2], from, to, ctx->now_ms, ctx->out);
}

static void cmd_blmove(struct cmd_ctx *ctx)
{
	enum list_where from, to;
	if (parse_where(ctx, 3, &from) && parse_where(ctx, 4, &to))
		bmove_generic(ctx, from, to, 5);
}

static void cmd_brpoplpush(struct cmd_ctx *ctx)
{
	bmove_generic(ctx, LIST_TAIL, LIST_HEAD, 3);
}

/* BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count] */
static int blmpop_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	int64_t numkeys;
	if (argc < 4 || !arg_to_int64(&argv[2], &numkeys) || numkeys < 1 || numkeys > argc - 4)
		return -1;
	if (numkeys > max)   /* as cmd_get_keys's legacy spec: never truncate */
		return -1;
	int n = 0;
	for (int64_t i = 0; i < numkeys; i++)
		idx[n++] = (int)(3 + i);
	return n;
}

static void cmd_blmpop(struct cmd_ctx *ctx)
{
	int64_t deadline, numkeys, count = -1;
	if (!parse_timeout(ctx, &ctx->argv[1], &deadline))
		return;
	if (!arg_to_int64(&ctx->argv[2], &numkeys) || numkeys < 1) {
		resp_error(ctx->out, "ERR numkeys should be greater than 0");
		return;
	}
	if (numkeys >= ctx->argc - 3) {
		resp_error(ctx->out, RESP_ERR_SYNTAX);
		return;
	}
	int where_idx = (int)(3 + numkeys);
	enum list_where where;
	if (!parse_where(ctx, where_idx, &where))
		return;
	for (int j = where_idx + 1; j < ctx->argc; j++) {
		if (count == -1 && arg_is(&ctx->argv[j], "count") && j + 1 < ctx->argc) {
			if (!arg_to_int64(&ctx->argv[++j], &count) || count < 1) {
				resp_error(ctx->out, "ERR count should be greater than 0");
				return;
			}
		} else {
			resp_error(ctx->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	if (count == -1)
		count = 1;
	int idx[ctx->argc], n;
	void *l;
	int i = first_ready(ctx, 3, where_idx, KV_TYPE_LIST, idx, &n, &l);
	if (i > 0) {
		uint64_t popped = list_pop_reply(cmd_db_arg(ctx, i), ctx->argv[i].ptr,
						 ctx->argv[i].len, where, (uint64_t)count,
						 LIST_POP_KEY_ARRAY, ctx->out);
		log_list_pop(ctx, ctx->dbid, ctx->argv[i].ptr, ctx->argv[i].len, where, popped, true);
		notify_pop(ctx, NOTIFY_LIST, where == LIST_HEAD ? "lpop" : "rpop",
			   cmd_db_arg(ctx, i), ctx->argv[i].ptr, ctx->argv[i].len);
	} else if (i == 0 && !block_client(ctx, idx, n, deadline, KV_TYPE_LIST))
		resp_null_array(ctx->out);
}

static void bzpop_generic(struct cmd_ctx *ctx, bool max)
{
	int64_t deadline;
	if (!parse_timeout(ctx, &ctx->argv[ctx->argc - 1], &deadline))
		return;
	int idx[ctx->argc], n;
	void *z;
	int i = first_ready(ctx, 1, ctx->argc - 1, KV_TYPE_ZSET, idx, &n, &z);
	if (i > 0) {
		zpop_one(cmd_db_arg(ctx, i), ctx->argv[i].ptr, ctx->argv[i].len, z, max, ctx->out);
		log_zpop(ctx, ctx->dbid, ctx->argv[i].ptr, ctx->argv[i].len, max, -1);
		notify_pop(ctx, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", cmd_db_arg(ctx, i),
			   ctx->argv[i].ptr, ctx->argv[i].len);
	} else if (i == 0 && !block_client(ctx, idx, n, deadline, KV_TYPE_ZSET))
		resp_null_array(ctx->out);
}

static void cmd_bzpopmin(struct cmd_ctx *ctx) { bzpop_generic(ctx, false); }
static void cmd_bzpopmax(struct cmd_ctx *ctx) { bzpop_generic(ctx, true); }

/* BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count] */
static int bzmpop_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	int64_t numkeys;
	if (argc < 4 || !arg_to_int64(&argv[2], &numkeys) || numkeys < 1 || numkeys > argc - 4 ||
	    numkeys > max)
		return -1;
	for (int64_t i = 0; i < numkeys; i++)
		idx[i] = (int)(3 + i);
	return (int)numkeys;
}

static void cmd_bzmpop(struct cmd_ctx *ctx)
{
	int64_t numkeys, count, deadline;
	bool max;
	/* Redis checks the arguments before the timeout. */
	const char *err = zset_mpop_parse(ctx->argc, ctx->argv, 2, &numkeys, &max, &count);
	if (err) {
		resp_error(ctx->out, err);
		return;
	}
	if (!parse_timeout(ctx, &ctx->argv[1], &deadline))
		return;
	int idx[ctx->argc], n;
	void *z;
	int i = first_ready(ctx, 3, 3 + (int)numkeys, KV_TYPE_ZSET, idx, &n, &z);
	if (i > 0) {
		const struct kv_slice *key = &ctx->argv[i];
		size_t popped = zset_mpop_reply(cmd_db_arg(ctx, i), key->ptr, key->len, z, max,
						(size_t)count, ctx->out);
		log_zpop(ctx, ctx->dbid, key->ptr, key->len, max, (int64_t)popped);
	} else if (i == 0 && !block_client(ctx, idx, n, deadline, KV_TYPE_ZSET))
		resp_null_array(ctx->out);
}

/* XREAD / XREADGROUP: the read is cmd_stream.c's; here only the waiting.
 * A blocked reader waits on every key it names; any write to one of them
 * makes it run again (with "$" already turned into the ID it stood for),
 * and it blocks again if there is still nothing for it. */
static void xread_generic(struct cmd_ctx *ctx)
{
	struct stream_read_wait w;
	if (cmd_stream_read(ctx, &w, ctx->conn && ctx->conn->block_retry))
		return;
	if (w.timeout_ms < 0) {
		resp_null_array(ctx->out);
		cmd_stream_read_wait_free(&w);
		return;
	}
	int idx[w.nstreams];
	for (int i = 0; i < w.nstreams; i++)
		idx[i] = w.streams_arg + i;
	int64_t deadline = w.timeout_ms > 0 ? ctx->now_ms + w.timeout_ms : 0;
	/* A woken reader that blocks again keeps its first deadline: writes
	 * that bring it nothing must not push its timeout back. */
	if (ctx->conn && ctx->conn->block_retry && deadline > 0 &&
	    ctx->conn->block_deadline_ms > 0) {
		deadline = ctx->conn->block_deadline_ms;
		if (ctx->now_ms >= deadline) {
			resp_null_array(ctx->out);
			cmd_stream_read_wait_free(&w);
			return;
		}
	}
	const struct kv_slice *argv = ctx->argv;
	if (w.argv)
		ctx->argv = w.argv;
	bool blocked = block_client(ctx, idx, w.nstreams, deadline, KV_TYPE_STREAM);
	ctx->argv = argv;
	if (!blocked)
		resp_null_array(ctx->out);
	cmd_stream_read_wait_free(&w);
}

static void cmd_xread(struct cmd_ctx *ctx);
static void cmd_xreadgroup(struct cmd_ctx *ctx);

bool blocking_never_waits(const struct kv_command *cmd, int argc, const struct kv_slice *argv)
{
	if (cmd->proc != cmd_xread && cmd->proc != cmd_xreadgroup)
		return false;
	/* The options before STREAMS, as cmd_stream_read reads them; anything
	 * it would refuse counts as "may wait" (the old route answers it). */
	for (int i = 1; i < argc; i++) {
		const struct kv_slice *a = &argv[i];
		if (arg_is(a, "streams"))
			return true;
		if (arg_is(a, "block"))
			return false;
		if (arg_is(a, "count"))
			i++;
		else if (arg_is(a, "group"))
			i += 2;
		else if (!arg_is(a, "noack"))
			return false;
	}
	return false;
}

static void cmd_xread(struct cmd_ctx *ctx) { xread_generic(ctx); }
static void cmd_xreadgroup(struct cmd_ctx *ctx) { xread_generic(ctx); }

/* Blocking commands run on the client's shard (they may block it), holding
 * the keyspaces of their keys. */
static uint32_t blocking_shards(struct conn *c, int argc, const struct kv_slice *argv,
				uint32_t *out);

#define BLK_FLAGS (CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING)

const struct kv_command cmd_table_blocking[] = {
	{ .name = "blpop", .arity = -3, .flags = BLK_FLAGS, .first_key = 1, .last_key = -2,
	  .key_step = 1, .proc = cmd_blpop, .group = "list", .since = "2.0.0",
	  .summary = "Remove and get the first element in a list, or block until one is available",
	  .complexity = "O(N) where N is the number of provided keys.",
	  .conn_shards = blocking_shards },
	{ .name = "brpop", .arity = -3, .flags = BLK_FLAGS, .first_key = 1, .last_key = -2,
	  .key_step = 1, .proc = cmd_brpop, .group = "list", .since = "2.0.0",
	  .summary = "Remove and get the last element in a list, or block until one is available",
	  .complexity = "O(N) where N is the number of provided keys.",
	  .conn_shards = blocking_shards },
	{ .name = "blmove", .arity = 6, .flags = BLK_FLAGS | CMD_DENYOOM, .first_key = 1,
	  .last_key = 2, .key_step = 1, .proc = cmd_blmove, .group = "list", .since = "6.2.0",
	  .summary = "Pop an element from a list, push it to another list and return it; or "
		     "block until one is available",
	  .complexity = "O(1)", .conn_shards = blocking_shards },
	{ .name = "brpoplpush", .arity = 4, .flags = BLK_FLAGS | CMD_DENYOOM, .first_key = 1,
	  .last_key = 2, .key_step = 1, .proc = cmd_brpoplpush, .group = "list", .since = "2.2.0",
	  .summary = "Pop an element from a list, push it to another list and return it; or "
		     "block until one is available",
	  .complexity = "O(1)", .conn_shards = blocking_shards },
	{ .name = "blmpop", .arity = -5, .flags = BLK_FLAGS, .keys = blmpop_keys,
	  .proc = cmd_blmpop, .group = "list", .since = "7.0.0",
	  .summary = "Pop elements from a list, or block until one is available",
	  .complexity = "O(N+M) where N is the number of provided keys and M is the number of "
			"elements returned.",
	  .conn_shards = blocking_shards },
	{ .name = "bzpopmin", .arity = -3, .flags = BLK_FLAGS | CMD_FAST, .first_key = 1,
	  .last_key = -2, .key_step = 1, .proc = cmd_bzpopmin, .group = "sorted-set",
	  .since = "5.0.0",
	  .summary = "Remove and return the member with the lowest score from one or more "
		     "sorted sets, or block until one is available",
	  .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
	  .conn_shards = blocking_shards },
	{ .name = "bzpopmax", .arity = -3, .flags = BLK_FLAGS | CMD_FAST, .first_key = 1,
	  .last_key = -2, .key_step = 1, .proc = cmd_bzpopmax, .group = "sorted-set",
	  .since = "5.0.0",
	  .summary = "Remove and return the member with the highest score from one or more "
		     "sorted sets, or block until one is available",
	  .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
	  .conn_shards = blocking_shards },
	{ .name = "bzmpop", .arity = -5, .flags = BLK_FLAGS, .keys = bzmpop_keys,
	  .proc = cmd_bzmpop, .group = "sorted-set", .since = "7.0.0",
	  .summary = "Remove and return members with scores in a sorted set or block until "
		     "one is available",
	  .complexity = "O(K) + O(M*log(N)) where K is the number of provided keys, N being "
			"the number of elements in the sorted set, and M being the number of "
			"elements popped.",
	  .conn_shards = blocking_shards },
	{ .name = "xread", .arity = -4, .flags = CMD_READONLY | CMD_BLOCKING,
	  .keys = cmd_stream_read_keys, .proc = cmd_xread, .group = "stream", .since = "5.0.0",
	  .summary = "Return never seen elements in multiple streams, with IDs greater than the "
		     "ones reported by the caller for each stream. Can block.",
	  .complexity = "For each stream mentioned: O(N) with N being the number of elements "
			"being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note "
			"that when the BLOCK option is used, XADD will pay O(M) time in order to "
			"serve the M clients blocked on the stream getting new data.",
	  .conn_shards = blocking_shards },
	{ .name = "xreadgroup", .arity = -7, .flags = CMD_WRITE | CMD_BLOCKING,
	  .keys = cmd_stream_read_keys, .proc = cmd_xreadgroup, .group = "stream",
	  .since = "5.0.0",
	  .summary = "Return new entries from a stream using a consumer group, or access the "
		     "history of the pending entries for a given consumer. Can block.",
	  .complexity = "For each stream mentioned: O(M) with M being the number of elements "
			"returned. If M is constant (e.g. always asking for the first 10 "
			"elements with COUNT), you can consider it O(1). On the other side when "
			"XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N "
			"clients blocked on the stream getting new data.",
	  .conn_shards = blocking_shards },
	{ .name = NULL },
};

static uint32_t blocking_shards(struct conn *c, int argc, const struct kv_slice *argv,
				uint32_t *out)
{
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	kv_assert(cmd);
	return shard_call_shards(cmd, argc, argv, out);
}
