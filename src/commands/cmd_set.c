/*
 * cmd_set.c - the set commands: SADD SREM SISMEMBER SMISMEMBER SMEMBERS
 * SCARD SPOP SRANDMEMBER SMOVE, the algebra SINTER SUNION SDIFF (and their
 * *STORE forms), SINTERCARD, and SSCAN.
 *
 * Replies, error texts and the order in which errors are detected are Redis
 * 7.0.15's for the same arguments (checked against redis-server).  Reply
 * order follows the set's encoding (t_set.h): sorted for an intset, which
 * is what Redis sends too; for other encodings Redis's order depends on its
 * hash function and clients must not rely on it.
 *
 * Memory: a set's byte count may change on any call into it, reads included
 * (a lookup can finish a rehash), so every handler measures set_mem around
 * its work and reports the difference with db_memory_adjust before it
 * deletes or replaces a key.  An emptied set deletes its key; a *STORE with
 * an empty result deletes the destination.
 *
 * Moving: a compact set is one block that may move when it changes (t_set.h,
 * mutation protocol).  struct set_ref keeps the object the store holds
 * (orig, passed as `pinned`) apart from the current one (s); set_settle
 * installs a moved set with db_set_object(..., KV_KEEP_EXPIRE), which frees
 * the old object and keeps the deadline.
 *
 * WATCH: each handler reports an in-place change (set_signal) exactly where
 * Redis 7.0 calls signalModifiedKey, only when the set really changed (SMOVE:
 * the destination only if it lacked the member); creating, replacing and
 * deleting a key the store reports itself.
 *
 * Not here: durability.  SPOP's effect is the SREM of the members it popped
 * (set_pop hands them out one by one for that purpose).
 */
#include "commands/cmd.h"
#include "commands/notify.h"
#include "commands/fx.h"
#include "store/effect_argv.h"
#include "base/kv.h"
#include "commands/scan_args.h"
#include "store/t_set.h"
#include "base/util_num.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_POSITIVE "ERR value is out of range, must be positive"

/* A set key in use by a command: where it lives and its size before. */
struct set_ref {
	struct kv_db *db;
	const struct kv_slice *key;
	struct kv_set *s;        /* the current set; NULL when the key is missing */
	struct kv_set *orig;     /* the object the store holds (pinned) */
	size_t mem_before;       /* set_mem(orig) when last settled */
	int dup;                 /* algebra: index of an earlier key naming s, or -1 */
};

/* Looks argv[i] up.  Returns 1 with ref filled, 0 when missing (ref->s is
 * NULL), -1 when the key holds another type (nothing replied yet).
 * read: counts a keyspace hit or miss, as Redis's lookupKeyRead. */
static int set_lookup(const struct cmd_ctx *c, int i, bool read, struct set_ref *ref)
{
	ref->db = cmd_db_arg(c, i);
	ref->key = &c->argv[i];
	ref->s = ref->orig = NULL;
	ref->mem_before = 0;
	struct kv_entry *e = db_lookup(ref->db, c->argv[i].ptr, c->argv[i].len, c->now_ms);
	if (read)
		cmd_count_read(c, c->argv[i].ptr, c->argv[i].len, e != NULL);
	if (!e)
		return 0;
	if (entry_type(e) != KV_TYPE_SET)
		return -1;
	ref->s = ref->orig = entry_obj(e);
	ref->mem_before = set_mem(ref->s);
	return 1;
}

/* Reports what the held object's byte count did since the lookup. */
static void set_adjust_orig(struct set_ref *ref)
{
	size_t now = set_mem(ref->orig);
	db_memory_adjust(ref->db, (int64_t)now - (int64_t)ref->mem_before);
	ref->mem_before = now;
}

/* Brings the store up to date: reports the change in size of the set, or
 * installs it in place of the held object when it moved. */
static void set_settle(struct set_ref *ref)
{
	if (!ref->s)
		return;
	set_adjust_orig(ref);
	if (ref->s != ref->orig) {
		/* Frees orig (its bytes leave the count) and counts s's. */
		db_set_object(ref->db, ref->key->ptr, ref->key->len, KV_TYPE_SET, ref->s,
			      KV_KEEP_EXPIRE);
		ref->orig = ref->s;
		ref->mem_before = set_mem(ref->s);
	}
}

/* Settles, or deletes the key when its set became empty. */
static void set_settle_or_delete(struct set_ref *ref)
{
	if (ref->s && set_size(ref->s) == 0) {
		set_adjust_orig(ref);
		if (ref->s != ref->orig)
			set_free(ref->s);   /* never seen by the store */
		db_delete(ref->db, ref->key->ptr, ref->key->len);
		ref->s = ref->orig = NULL;
		return;
	}
	set_settle(ref);
}

/* Reports an in-place change of the set at argv[i] to WATCH, where Redis
 * 7.0 calls signalModifiedKey: only when the set really changed.  The store
 * reports whole-key changes (creation, deletion, *STORE) itself. */
static void set_signal(const struct cmd_ctx *c, int i)
{
	db_signal_modified(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len);
}

static bool reply_bulk_member(void *arg, const char *m, size_t len)
{
	resp_bulk(arg, m, len);
	return true;
}

/* ---- single-key commands ---- */

static void cmd_sadd(struct cmd_ctx *c)
{
	struct set_ref ref;
	int r = set_lookup(c, 1, false, &ref);
	if (r < 0) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return;
	}
	bool created = r == 0;
	if (created)
		ref.s = set_create();
	int64_t added = 0;
	for (int i = 2; i < c->argc; i++)
		added += set_add(&ref.s, c->argv[i].ptr, c->argv[i].len, ref.orig);
	if (created)
		db_set_object(ref.db, c->argv[1].ptr, c->argv[1].len, KV_TYPE_SET, ref.s,
			      KV_NO_EXPIRE);
	else
		set_settle(&ref);
	if (!created && added > 0)
		set_signal(c, 1);
	if (added > 0)
		cmd_notify_arg(c, NOTIFY_SET, "sadd", 1);
	resp_int(c->out, added);
}

static void cmd_srem(struct cmd_ctx *c)
{
	struct set_ref ref;
	int r = set_lookup(c, 1, false, &ref);
	if (r <= 0) {
		if (r < 0)
			resp_error(c->out, RESP_ERR_WRONGTYPE);
		else
			resp_int(c->out, 0);
		return;
	}
	int64_t removed = 0;
	for (int i = 2; i < c->argc && set_size(ref.s) > 0; i++)
		removed += set_remove(&ref.s, c->argv[i].ptr, c->argv[i].len, ref.orig);
	if (removed > 0)
		set_signal(c, 1);
	set_settle_or_delete(&ref);
	if (removed > 0)
		notify_pop(c, NOTIFY_SET, "srem", ref.db, c->argv[1].ptr, c->argv[1].len);
	resp_int(c->out, removed);
}

static void cmd_sismember(struct cmd_ctx *c)
{
	struct set_ref ref;
	int r = set_lookup(c, 1, true, &ref);
	if (r < 0) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return;
	}
	bool in = r > 0 && set_contains(ref.s, c->argv[2].ptr, c->argv[2].len);
	set_settle(&ref);
	resp_int(c->out, in);
}

static void cmd_smismember(struct cmd_ctx *c)
{
	struct set_ref ref;
	int r = set_lookup(c, 1, true, &ref);
	if (r < 0) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return;
	}
	resp_array(c->out, c->argc - 2);
	for (int i = 2; i < c->argc; i++)
		resp_int(c->out, r > 0 && set_contains(ref.s, c->argv[i].ptr, c->argv[i].len));
	set_settle(&ref);
}

static void cmd_scard(struct cmd_ctx *c)
{
	struct set_ref ref;
	int r = set_lookup(c, 1, true, &ref);
	if (r < 0)
		resp_error(c->out, RESP_ERR_WRONGTYPE);
	else
		resp_int(c->out, r > 0 ? (int64_t)set_size(ref.s) : 0);
}

struct pop_effect {
	struct kv_buf *out;
	struct effect_argv srem;
};

static bool reply_and_log_member(void *arg, const char *m, size_t len)
{
	struct pop_effect *pe = arg;
	resp_bulk(pe->out, m, len);
	effect_argv_add(&pe->srem, m, len);
	return true;
}

static void cmd_spop(struct cmd_ctx *c)
{
	int64_t count = 1;
	bool with_count = c->argc == 3;

	if (c->argc > 3) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	if (with_count && (!arg_to_int64(&c->argv[2], &count) || count < 0)) {
		resp_error(c->out, ERR_POSITIVE);
		return;
	}
	struct set_ref ref;
	int r = set_lookup(c, 1, false, &ref);
	if (r < 0) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return;
	}
	/* With a count the reply is a set (RESP3's type), as in Redis. */
	if (r == 0 || count == 0) {
		if (with_count)
			resp_set(c->out, 0);
		else
			resp_null(c->out);
		return;
	}
	if (with_count)
		resp_set(c->out, (int64_t)KV_MIN((uint64_t)count, set_size(ref.s)));
	/* The effect is SREM of exactly what was popped: replay draws nothing. */
	struct pop_effect pe = { c->out };
	effect_argv_init(&pe.srem);
	effect_argv_add_str(&pe.srem, "SREM");
	effect_argv_add(&pe.srem, c->argv[1].ptr, c->argv[1].len);
	set_pop(&ref.s, (uint64_t)count, reply_and_log_member, &pe, ref.orig);
	set_signal(c, 1);   /* count > 0 of a non-empty set: something popped */
	set_settle_or_delete(&ref);
	notify_pop(c, NOTIFY_SET, "spop", cmd_db_arg(c, 1), c->argv[1].ptr, c->argv[1].len);
	cmd_effect(c, pe.srem.argc, effect_argv_slices(&pe.srem));
	effect_argv_free(&pe.srem);
}

struct rand_rep {
	struct kv_buf *out;
	char *m;          /* the last member drawn (SRANDMEMBER -count) */
	size_t len, cap;
};

static bool keep_member(void *arg, const char *m, size_t len)
{
	struct rand_rep *rr = arg;
	if (len > rr->cap) {
		rr->m = kv_realloc(rr->m, len);
		rr->cap = len;
	}
	if (len)
		memcpy(rr->m, m, len);
	rr->len = len;
	return true;
}

static void cmd_srandmember(struct cmd_ctx *c)
{
	int64_t count = 1;
	bool with_count = c->argc == 3;

	if (c->argc > 3) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	if (with_count) {
		if (!arg_to_int64(&c->argv[2], &count)) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return;
		}
		if (count == INT64_MIN) {
			resp_error(c->out, "ERR value is out of range, value must between "
					   "-9223372036854775807 and 9223372036854775807");
			return;
		}
	}
	struct set_ref ref;
	int r = set_lookup(c, 1, true, &ref);
	if (r < 0) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return;
	}
	if (r == 0) {
		if (with_count)
			resp_array(c->out, 0);
		else
			resp_null(c->out);
		return;
	}
	if (!with_count) {
		set_random(ref.s, reply_bulk_member, c->out);
	} else if (count >= 0) {
		resp_array(c->out, (int64_t)KV_MIN((uint64_t)count, set_size(ref.s)));
		set_random_distinct(ref.s, (uint64_t)count, reply_bulk_member, c->out);
	} else {
		/* Negative: -count draws, repetitions allowed. */
		struct rand_rep rr = { c->out, NULL, 0, 0 };
		resp_array(c->out, -count);
		for (int64_t i = 0; i < -count; i++) {
			set_random(ref.s, keep_member, &rr);
			resp_bulk(c->out, rr.m, rr.len);
		}
		free(rr.m);
	}
	set_settle(&ref);
}

/* Across shards SMOVE is logged per key (SREM on the source's shard, SADD
 * on the destination's) rather than as both sets' final state (fx.h rule 3),
 * which for a big set would be the whole set.  SADD of a member dst already
 * holds changes nothing, so it may always be logged. */
static void smove_effect(struct cmd_ctx *c)
{
	const struct kv_slice *a = c->argv;
	if (cmd_key_shard(c, a[1].ptr, a[1].len) == cmd_key_shard(c, a[2].ptr, a[2].len))
		return;   /* one shard: logged as sent */
	struct kv_slice srem[3] = { { "SREM", 4 }, a[1], a[3] };
	struct kv_slice sadd[3] = { { "SADD", 4 }, a[2], a[3] };
	cmd_effect(c, 3, srem);
	cmd_effect(c, 3, sadd);
}

static void cmd_smove(struct cmd_ctx *c)
{
	struct set_ref src, dst;
	int rs = set_lookup(c, 1, false, &src);
	int rd = set_lookup(c, 2, false, &dst);
	const struct kv_slice *m = &c->argv[3];

	if (rs == 0) {
		resp_int(c->out, 0);
		return;
	}
	if (rs < 0 || rd < 0) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return;
	}
	if (src.s == dst.s) {
		bool in = set_contains(src.s, m->ptr, m->len);
		set_settle(&src);
		resp_int(c->out, in);
		return;
	}
	if (!set_remove(&src.s, m->ptr, m->len, src.orig)) {
		set_settle(&src);
		set_settle(&dst);
		resp_int(c->out, 0);
		return;
	}
	set_settle(&dst);   /* the dst lookup itself may not change it, but be exact */
	set_signal(c, 1);
	set_settle_or_delete(&src);
	notify_pop(c, NOTIFY_SET, "srem", cmd_db_arg(c, 1), c->argv[1].ptr, c->argv[1].len);
	smove_effect(c);
	if (rd == 0) {
		struct kv_set *s = set_create();
		set_add(&s, m->ptr, m->len, NULL);
		db_set_object(dst.db, c->argv[2].ptr, c->argv[2].len, KV_TYPE_SET, s,
			      KV_NO_EXPIRE);
		cmd_notify_arg(c, NOTIFY_SET, "sadd", 2);
	} else {
		/* Like Redis, dst counts as modified only if it lacked the member. */
		if (set_add(&dst.s, m->ptr, m->len, dst.orig)) {
			set_signal(c, 2);
			cmd_notify_arg(c, NOTIFY_SET, "sadd", 2);
		}
		set_settle(&dst);
	}
	resp_int(c->out, 1);
}

/* ---- SINTER / SUNION / SDIFF and their STORE forms, SINTERCARD ---- */

enum set_op { OP_INTER, OP_UNION, OP_DIFF };

struct algebra {
	struct cmd_ctx *c;
	struct set_ref *refs;
	int nkeys;
	bool any_missing;
};

/* Looks up argv[first .. first+n) as sets.  Like Redis 7.0 every key is
 * type-checked before a missing one decides the result.  Returns false
 * after replying WRONGTYPE. */
static bool algebra_load(struct algebra *a, struct cmd_ctx *c, int first, int n, bool read)
{
	a->c = c;
	a->nkeys = n;
	a->any_missing = false;
	a->refs = kv_calloc((size_t)n, sizeof(*a->refs));
	for (int j = 0; j < n; j++) {
		int r = set_lookup(c, first + j, read, &a->refs[j]);
		if (r < 0) {
			resp_error(c->out, RESP_ERR_WRONGTYPE);
			return false;
		}
		/* The same set named twice is measured (settled) once. */
		a->refs[j].dup = -1;
		for (int k = 0; k < j && r > 0; k++) {
			if (a->refs[k].s == a->refs[j].s) {
				a->refs[j].dup = k;
				break;
			}
		}
		if (r == 0)
			a->any_missing = true;
	}
	return true;
}

static void algebra_done(struct algebra *a)
{
	for (int j = 0; j < a->nkeys; j++)
		if (a->refs[j].dup < 0)
			set_settle(&a->refs[j]);
	free(a->refs);
}

struct inter_walk {
	struct kv_set **others;
	int nothers;
	struct kv_set *dst;        /* add members here, or */
	struct kv_buf *out;        /* reply with them, or just count */
	uint64_t count, limit;     /* limit 0: none */
};

static bool inter_member(void *arg, const char *m, size_t len)
{
	struct inter_walk *w = arg;
	for (int j = 0; j < w->nothers; j++)
		if (!set_contains(w->others[j], m, len))
			return true;
	w->count++;
	if (w->dst)
		set_add(&w->dst, m, len, NULL);
	else if (w->out)
		resp_bulk(w->out, m, len);
	return w->limit == 0 || w->count < w->limit;
}

/* The intersection, walking the smallest set (ties keep key order) and
 * probing the others.  Missing keys were handled by the caller. */
static void inter_walk_run(struct algebra *a, struct inter_walk *w)
{
	struct kv_set *sets[a->nkeys];
	int n = 0;
	for (int j = 0; j < a->nkeys; j++) {
		if (a->refs[j].dup >= 0)
			continue;   /* a repeat of an earlier key */
		struct kv_set *s = a->refs[j].s;
		int k = n++;
		while (k > 0 && set_size(sets[k - 1]) > set_size(s)) {
			sets[k] = sets[k - 1];
			k--;
		}
		sets[k] = s;
	}
	w->others = sets + 1;
	w->nothers = n - 1;
	set_foreach(sets[0], inter_member, w);
}

struct add_walk {
	struct kv_set *dst;
	struct kv_set **others;   /* SDIFF: members found here are skipped */
	int nothers;
};

static bool add_member(void *arg, const char *m, size_t len)
{
	struct add_walk *w = arg;
	for (int j = 0; j < w->nothers; j++)
		if (set_contains(w->others[j], m, len))
			return true;
	set_add(&w->dst, m, len, NULL);
	return true;
}

/* The result of op as a new set (never NULL). */
static struct kv_set *algebra_result(struct algebra *a, enum set_op op)
{
	struct kv_set *dst = set_create();

	if (op == OP_INTER) {
		if (!a->any_missing) {
			struct inter_walk w = { .dst = dst };
			inter_walk_run(a, &w);
			dst = w.dst;   /* it moves as it grows */
		}
	} else if (op == OP_UNION) {
		struct add_walk w = { dst, NULL, 0 };
		for (int j = 0; j < a->nkeys; j++)
			if (a->refs[j].s && a->refs[j].dup < 0)
				set_foreach(a->refs[j].s, add_member, &w);
		dst = w.dst;
	} else if (a->refs[0].s) {
		struct kv_set *others[a->nkeys];
		int n = 0;
		bool self = false;
		for (int j = 1; j < a->nkeys; j++) {
			if (a->refs[j].dup == 0)
				self = true;   /* A - ... - A is empty */
			else if (a->refs[j].s && a->refs[j].dup < 0)
				others[n++] = a->refs[j].s;
		}
		if (!self) {
			struct add_walk w = { dst, others, n };
			set_foreach(a->refs[0].s, add_member, &w);
			dst = w.dst;
		}
	}
	return dst;
}

static void algebra_command(struct cmd_ctx *c, enum set_op op, bool store)
{
	struct algebra a;
	int first = store ? 2 : 1;

	/* Sources are reads, the stored forms' too (Redis's lookupKeyRead). */
	if (!algebra_load(&a, c, first, c->argc - first, true)) {
		free(a.refs);
		return;
	}
	if (!store && op == OP_INTER) {
		/* Replies straight from the walk, without building a set. */
		if (a.any_missing) {
			resp_set(c->out, 0);
		} else {
			size_t mark = resp_array_begin(c->out);
			struct inter_walk w = { .out = c->out };
			inter_walk_run(&a, &w);
			resp_set_end(c->out, mark, (int64_t)w.count);
		}
		algebra_done(&a);
		return;
	}
	struct kv_set *res = algebra_result(&a, op);
	algebra_done(&a);
	uint64_t n = set_size(res);
	if (!store) {
		resp_set(c->out, (int64_t)n);
		set_foreach(res, reply_bulk_member, c->out);
		set_free(res);
		return;
	}
	struct kv_db *db = cmd_db_arg(c, 1);
	if (n > 0) {
		db_set_object(db, c->argv[1].ptr, c->argv[1].len, KV_TYPE_SET, res, KV_NO_EXPIRE);
		static const char *const events[] = { "sinterstore", "sunionstore", "sdiffstore" };
		cmd_notify_arg(c, NOTIFY_SET, events[op], 1);
	} else {
		set_free(res);
		if (db_delete(db, c->argv[1].ptr, c->argv[1].len))
			cmd_notify_arg(c, NOTIFY_GENERIC, "del", 1);
	}
	resp_int(c->out, (int64_t)n);
}

static void cmd_sinter(struct cmd_ctx *c) { algebra_command(c, OP_INTER, false); }
static void cmd_sunion(struct cmd_ctx *c) { algebra_command(c, OP_UNION, false); }
static void cmd_sdiff(struct cmd_ctx *c) { algebra_command(c, OP_DIFF, false); }
static void cmd_sinterstore(struct cmd_ctx *c) { algebra_command(c, OP_INTER, true); }
static void cmd_sunionstore(struct cmd_ctx *c) { algebra_command(c, OP_UNION, true); }
static void cmd_sdiffstore(struct cmd_ctx *c) { algebra_command(c, OP_DIFF, true); }

/* SINTERCARD numkeys key [key ...] [LIMIT limit] */
static bool sintercard_numkeys(int argc, const struct kv_slice *argv, int64_t *n)
{
	return arg_to_int64(&argv[1], n) && *n >= 1 && *n <= argc - 2;
}

static int sintercard_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	int64_t n;
	if (argc < 3 || !sintercard_numkeys(argc, argv, &n))
		return -1;
	if (n > max)   /* as cmd_get_keys's legacy spec: never truncate */
		return -1;
	int count = 0;
	for (int64_t j = 0; j < n; j++)
		idx[count++] = (int)(2 + j);
	return count;
}

static void cmd_sintercard(struct cmd_ctx *c)
{
	int64_t n, limit = 0;

	if (!arg_to_int64(&c->argv[1], &n) || n < 1) {
		resp_error(c->out, "ERR numkeys should be greater than 0");
		return;
	}
	if (n > c->argc - 2) {
		resp_error(c->out, "ERR Number of keys can't be greater than number of args");
		return;
	}
	for (int j = 2 + (int)n; j < c->argc; j++) {
		if (arg_is(&c->argv[j], "limit") && j + 1 < c->argc) {
			j++;
			if (!arg_to_int64(&c->argv[j], &limit) || limit < 0) {
				resp_error(c->out, "ERR LIMIT can't be negative");
				return;
			}
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	struct algebra a;
	if (!algebra_load(&a, c, 2, (int)n, true)) {
		free(a.refs);
		return;
	}
	struct inter_walk w = { .limit = (uint64_t)limit };
	if (!a.any_missing)
		inter_walk_run(&a, &w);
	algebra_done(&a);
	resp_int(c->out, (int64_t)w.count);
}

/* ---- SSCAN ---- */

struct sscan_walk {
	struct kv_buf members;   /* bulk replies of the members kept */
	const struct kv_slice *pat;
	uint64_t visited;        /* what COUNT bounds, before MATCH */
	int64_t kept;
};

static bool sscan_member(void *arg, const char *m, size_t len)
{
	struct sscan_walk *w = arg;
	w->visited++;
	if (w->pat && !glob_match(w->pat->ptr, w->pat->len, m, len, false))
		return true;
	resp_bulk(&w->members, m, len);
	w->kept++;
	return true;
}

static void cmd_sscan(struct cmd_ctx *c)
{
	uint64_t cursor;
	struct scan_args o;
	struct sscan_walk w = { KV_BUF_INIT, NULL, 0, 0 };

	if (!scan_parse_cursor(&c->argv[2], &cursor)) {
		resp_error(c->out, ERR_INVALID_CURSOR);
		return;
	}
	struct set_ref ref;
	int r = set_lookup(c, 1, true, &ref);
	if (r < 0) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return;
	}
	if (r == 0) {
		/* Redis answers a missing key before looking at the options. */
		scan_reply_head(c->out, 0, 0);
		return;
	}
	if (!scan_parse_args(c, 3, false, &o))
		return;
	w.pat = o.pat;
	uint64_t budget = scan_budget(o.count);
	if (set_encoding(ref.s) != SET_ENC_HASHTABLE)
		cursor = 0;
	do {
		cursor = set_scan(ref.s, cursor, sscan_member, &w);
	} while (cursor != 0 && budget-- > 0 && w.visited < o.count);
	set_settle(&ref);

	scan_reply(c->out, cursor, w.kept, &w.members);
	kv_buf_free(&w.members);
}

/* ---- the table ---- */

#define KEYS(first, last, step) .first_key = (first), .last_key = (last), .key_step = (step)
#define RO (CMD_READONLY)
#define ROF (CMD_READONLY | CMD_FAST)
#define WF (CMD_WRITE | CMD_FAST)
#define WM (CMD_WRITE | CMD_DENYOOM)
#define INTER_COMPLEXITY                                                          \
	"O(N*M) worst case where N is the cardinality of the smallest set and M " \
	"is the number of sets."
#define TOTAL_COMPLEXITY "O(N) where N is the total number of elements in all given sets."

const struct kv_command cmd_table_set[] = {
	{ .name = "sadd", .arity = -3, .flags = WM | CMD_FAST, KEYS(1, 1, 1), .proc = cmd_sadd,
	  .group = "set", .since = "1.0.0", .summary = "Add one or more members to a set",
	  .complexity = "O(1) for each element added, so O(N) to add N elements when the "
			"command is called with multiple arguments." },
	{ .name = "srem", .arity = -3, .flags = WF, KEYS(1, 1, 1), .proc = cmd_srem,
	  .group = "set", .since = "1.0.0", .summary = "Remove one or more members from a set",
	  .complexity = "O(N) where N is the number of members to be removed." },
	{ .name = "sismember", .arity = 3, .flags = ROF, KEYS(1, 1, 1), .proc = cmd_sismember,
	  .group = "set", .since = "1.0.0",
	  .summary = "Determine if a given value is a member of a set", .complexity = "O(1)" },
	{ .name = "smismember", .arity = -3, .flags = ROF, KEYS(1, 1, 1),
	  .proc = cmd_smismember, .group = "set", .since = "6.2.0",
	  .summary = "Returns the membership associated with the given elements for a set",
	  .complexity = "O(N) where N is the number of elements being checked for membership" },
	{ .name = "smembers", .arity = 2, .flags = RO, KEYS(1, 1, 1), .proc = cmd_sinter,
	  .group = "set", .since = "1.0.0", .summary = "Get all the members in a set",
	  .complexity = "O(N) where N is the set cardinality." },
	{ .name = "scard", .arity = 2, .flags = ROF, KEYS(1, 1, 1), .proc = cmd_scard,
	  .group = "set", .since = "1.0.0", .summary = "Get the number of members in a set",
	  .complexity = "O(1)" },
	{ .name = "spop", .arity = -2, .flags = WF, KEYS(1, 1, 1), .proc = cmd_spop,
	  .group = "set", .since = "1.0.0",
	  .summary = "Remove and return one or multiple random members from a set",
	  .complexity = "Without the count argument O(1), otherwise O(N) where N is the "
			"value of the passed count." },
	{ .name = "srandmember", .arity = -2, .flags = RO, KEYS(1, 1, 1),
	  .proc = cmd_srandmember, .group = "set", .since = "1.0.0",
	  .summary = "Get one or multiple random members from a set",
	  .complexity = "Without the count argument O(1), otherwise O(N) where N is the "
			"absolute value of the passed count." },
	{ .name = "smove", .arity = 4, .flags = WF, KEYS(1, 2, 1), .proc = cmd_smove,
	  .group = "set", .since = "1.0.0", .summary = "Move a member from one set to another",
	  .complexity = "O(1)" },
	{ .name = "sinter", .arity = -2, .flags = RO, KEYS(1, -1, 1), .proc = cmd_sinter,
	  .group = "set", .since = "1.0.0", .summary = "Intersect multiple sets",
	  .complexity = INTER_COMPLEXITY },
	{ .name = "sintercard", .arity = -3, .flags = RO, KEYS(0, 0, 0),
	  .proc = cmd_sintercard, .keys = sintercard_keys, .group = "set", .since = "7.0.0",
	  .summary = "Intersect multiple sets and return the cardinality of the result",
	  .complexity = INTER_COMPLEXITY },
	{ .name = "sinterstore", .arity = -3, .flags = WM, KEYS(1, -1, 1),
	  .proc = cmd_sinterstore, .group = "set", .since = "1.0.0",
	  .summary = "Intersect multiple sets and store the resulting set in a key",
	  .complexity = INTER_COMPLEXITY },
	{ .name = "sunion", .arity = -2, .flags = RO, KEYS(1, -1, 1), .proc = cmd_sunion,
	  .group = "set", .since = "1.0.0", .summary = "Add multiple sets",
	  .complexity = TOTAL_COMPLEXITY },
	{ .name = "sunionstore", .arity = -3, .flags = WM, KEYS(1, -1, 1),
	  .proc = cmd_sunionstore, .group = "set", .since = "1.0.0",
	  .summary = "Add multiple sets and store the resulting set in a key",
	  .complexity = TOTAL_COMPLEXITY },
	{ .name = "sdiff", .arity = -2, .flags = RO, KEYS(1, -1, 1), .proc = cmd_sdiff,
	  .group = "set", .since = "1.0.0", .summary = "Subtract multiple sets",
	  .complexity = TOTAL_COMPLEXITY },
	{ .name = "sdiffstore", .arity = -3, .flags = WM, KEYS(1, -1, 1),
	  .proc = cmd_sdiffstore, .group = "set", .since = "1.0.0",
	  .summary = "Subtract multiple sets and store the resulting set in a key",
	  .complexity = TOTAL_COMPLEXITY },
	{ .name = "sscan", .arity = -3, .flags = RO, KEYS(1, 1, 1), .proc = cmd_sscan,
	  .group = "set", .since = "2.8.0", .summary = "Incrementally iterate Set elements",
	  .complexity = "O(1) for every call. O(N) for a complete iteration, including "
			"enough command calls for the cursor to return back to 0. N is the "
			"number of elements inside the collection.." },
	{ .name = NULL },
};
