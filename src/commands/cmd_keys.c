/*
 * cmd_keys.c - the keyspace commands of Redis's "generic" group (DEL,
 * EXISTS, EXPIRE and its family, TTL, RENAME, KEYS, SCAN, ...) plus the
 * whole-keyspace server commands DBSIZE, FLUSHDB and FLUSHALL.
 *
 * Handlers are written once for any shard layout (see cmd.h): multi-key
 * commands find each key's keyspace with cmd_db_arg(), which the runtime has
 * already taken, so DEL a b c is atomic across shards; CMD_ALL_SHARDS
 * commands walk every keyspace with cmd_db_at().  SCAN is the exception: it
 * is keyless but bound to the one shard its cursor names (scan_route), so a
 * SCAN never stops the other shards.
 *
 * Replies, errors and keyspace hit/miss counting follow Redis 7.0.15; each
 * surprising case is noted where it is handled.  This file does not log
 * effects for the AOF and knows nothing of the wire: it reads argv and
 * appends one reply.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/cmd.h"
#include "commands/notify.h"
#include "commands/fx.h"
#include "store/effect_argv.h"
#include "base/kv.h"
#include "commands/scan_args.h"
#include "store/store.h"

/* argv[i] looked up for writing: expires it if due, counts nothing (as
 * Redis's lookupKeyWrite). */
static struct kv_entry *lookup_write(const struct cmd_ctx *c, int i)
{
	return db_lookup(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len, c->now_ms);
}

/* argv[i] looked up for reading: also counts a keyspace hit or miss. */
static struct kv_entry *lookup_read(const struct cmd_ctx *c, int i)
{
	struct kv_entry *e = lookup_write(c, i);
	cmd_count_read(c, c->argv[i].ptr, c->argv[i].len, e != NULL);
	return e;
}

/* lookup_read that leaves the key's access clock alone: Redis's
 * LOOKUP_NOTOUCH, used by EXISTS, TYPE and the TTL family. */
static struct kv_entry *lookup_read_notouch(const struct cmd_ctx *c, int i)
{
	struct kv_entry *e = db_lookup_notouch(cmd_db_arg(c, i), c->argv[i].ptr,
					       c->argv[i].len, c->now_ms);
	cmd_count_read(c, c->argv[i].ptr, c->argv[i].len, e != NULL);
	return e;
}

static const char *type_name(enum kv_type t)
{
	switch (t) {
	case KV_TYPE_STRING: return "string";
	case KV_TYPE_LIST: return "list";
	case KV_TYPE_SET: return "set";
	case KV_TYPE_ZSET: return "zset";
	case KV_TYPE_HASH: return "hash";
	case KV_TYPE_STREAM: return "stream";
	}
	return "none";
}

static bool slice_eq(const struct kv_slice *a, const struct kv_slice *b)
{
	return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* ---- DEL UNLINK EXISTS TOUCH TYPE ---- */

static void del_generic(struct cmd_ctx *c)
{
	int64_t deleted = 0;

	/* A key whose deadline passed is expired first and not counted, so
	 * DEL of an expired key answers 0 as in Redis. */
	for (int i = 1; i < c->argc; i++) {
		if (lookup_write(c, i) &&
		    db_delete(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len)) {
			deleted++;
			cmd_notify_arg(c, NOTIFY_GENERIC, "del", i);
		}
	}
	resp_int(c->out, deleted);
}

static void cmd_del(struct cmd_ctx *c)
{
	del_generic(c);
}

/* Values are freed inline: kevy has no lazy-free thread (yet), and the reply
 * is the same. */
static void cmd_unlink(struct cmd_ctx *c)
{
	del_generic(c);
}

/* EXISTS and TOUCH: a key named twice counts twice, as in Redis. */
static void count_existing(struct cmd_ctx *c, bool touch)
{
	int64_t n = 0;

	for (int i = 1; i < c->argc; i++)
		if (touch ? lookup_read(c, i) : lookup_read_notouch(c, i))
			n++;
	resp_int(c->out, n);
}

static void cmd_exists(struct cmd_ctx *c)
{
	count_existing(c, false);
}

/* TOUCH is an access of each key: its LRU/LFU clock moves (OBJECT
 * IDLETIME / FREQ show it). */
static void cmd_touch(struct cmd_ctx *c)
{
	count_existing(c, true);
}

static void cmd_type(struct cmd_ctx *c)
{
	struct kv_entry *e = lookup_read_notouch(c, 1);

	resp_simple(c->out, e ? type_name(entry_type(e)) : "none");
}

/* ---- EXPIRE PEXPIRE EXPIREAT PEXPIREAT ---- */

enum {
	EXPIRE_NX = 1 << 0,
	EXPIRE_XX = 1 << 1,
	EXPIRE_GT = 1 << 2,
	EXPIRE_LT = 1 << 3,
};

/* Options after the time.  Redis checks them before the time itself, so
 * "EXPIRE k abc foo" is "Unsupported option foo", not an integer error. */
static bool expire_parse_flags(struct cmd_ctx *c, int *flags)
{
	*flags = 0;
	for (int i = 3; i < c->argc; i++) {
		const struct kv_slice *a = &c->argv[i];

		if (arg_is(a, "nx")) {
			*flags |= EXPIRE_NX;
		} else if (arg_is(a, "xx")) {
			*flags |= EXPIRE_XX;
		} else if (arg_is(a, "gt")) {
			*flags |= EXPIRE_GT;
		} else if (arg_is(a, "lt")) {
			*flags |= EXPIRE_LT;
		} else {
			resp_errorf(c->out, "ERR Unsupported option %.*s",
				    (int)a->len, a->ptr);
			return false;
		}
	}
	/* Repeating one option is fine ("NX NX"); mixing is not. */
	if ((*flags & EXPIRE_NX) && (*flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
		resp_error(c->out, "ERR NX and XX, GT or LT options at the same time "
			   "are not compatible");
		return false;
	}
	if ((*flags & EXPIRE_GT) && (*flags & EXPIRE_LT)) {
		resp_error(c->out, "ERR GT and LT options at the same time are not compatible");
		return false;
	}
	return true;
}

/* The absolute deadline in ms, or false after replying.  Like Redis, only
 * overflow is an error: a negative or past time is valid and deletes. */
static bool expire_deadline(struct cmd_ctx *c, int64_t base_ms, bool seconds,
			    const char *name, int64_t *when)
{
	if (!arg_to_int64(&c->argv[2], when)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return false;
	}
	if (seconds) {
		if (*when > INT64_MAX / 1000 || *when < INT64_MIN / 1000)
			goto invalid;
		*when *= 1000;
	}
	/* Only the upper bound is checked, as Redis does: "PEXPIRE k
	 * -9223372036854775808" is accepted and deletes the key. */
	if (*when > INT64_MAX - base_ms)
		goto invalid;
	*when += base_ms;
	return true;
invalid:
	resp_errorf(c->out, "ERR invalid expire time in '%s' command", name);
	return false;
}

/* Whether NX/XX/GT/LT let a key whose deadline is `cur` take `when`.  No
 * deadline counts as infinite: GT never passes then, LT always does. */
static bool expire_allowed(int flags, int64_t cur, int64_t when)
{
	bool has = cur != KV_NO_EXPIRE;

	if ((flags & EXPIRE_NX) && has)
		return false;
	if ((flags & EXPIRE_XX) && !has)
		return false;
	if ((flags & EXPIRE_GT) && (!has || when <= cur))
		return false;
	if ((flags & EXPIRE_LT) && has && when >= cur)
		return false;
	return true;
}

static void expire_generic(struct cmd_ctx *c, int64_t base_ms, bool seconds,
			   const char *name)
{
	int flags;
	int64_t when;

	if (!expire_parse_flags(c, &flags) ||
	    !expire_deadline(c, base_ms, seconds, name, &when))
		return;

	struct kv_db *db = cmd_db_arg(c, 1);
	struct kv_entry *e = lookup_write(c, 1);
	if (!e || !expire_allowed(flags, entry_expire(e), when)) {
		resp_int(c->out, 0);
		return;
	}
	/* A deadline already reached deletes the key now (and answers 1).  The
	 * effect is absolute (fx.h): DEL, or PEXPIREAT at the deadline. */
	char buf[EFFECT_NUM_MAX];
	struct kv_slice argv[3] = { { "DEL", 3 }, c->argv[1], effect_int(buf, when) };
	if (when <= c->now_ms) {
		db_delete(db, c->argv[1].ptr, c->argv[1].len);
		cmd_effect(c, 2, argv);
		cmd_notify_arg(c, NOTIFY_GENERIC, "del", 1);
	} else {
		db_set_expire(db, e, when);
		argv[0] = (struct kv_slice){ "PEXPIREAT", 9 };
		cmd_effect(c, 3, argv);
		cmd_notify_arg(c, NOTIFY_GENERIC, "expire", 1);
	}
	resp_int(c->out, 1);
}

static void cmd_expire(struct cmd_ctx *c)
{
	expire_generic(c, c->now_ms, true, "expire");
}

static void cmd_pexpire(struct cmd_ctx *c)
{
	expire_generic(c, c->now_ms, false, "pexpire");
}

static void cmd_expireat(struct cmd_ctx *c)
{
	expire_generic(c, 0, true, "expireat");
}

static void cmd_pexpireat(struct cmd_ctx *c)
{
	expire_generic(c, 0, false, "pexpireat");
}

/* ---- TTL PTTL EXPIRETIME PEXPIRETIME PERSIST ---- */

/* -2 no key, -1 no deadline; else the time left (or the deadline itself
 * when absolute), in ms or rounded to the nearest second. */
static void ttl_generic(struct cmd_ctx *c, bool ms, bool absolute)
{
	struct kv_entry *e = lookup_read_notouch(c, 1);

	if (!e) {
		resp_int(c->out, -2);
		return;
	}
	int64_t deadline = entry_expire(e);
	if (deadline == KV_NO_EXPIRE) {
		resp_int(c->out, -1);
		return;
	}
	int64_t t = absolute ? deadline : deadline - c->now_ms;
	if (t < 0)
		t = 0;
	/* Redis rounds with (t + 500) / 1000, which would overflow for
	 * PEXPIREAT k 9223372036854775807; this form gives the same
	 * 9223372036854776 that Redis answers there. */
	resp_int(c->out, ms ? t : t / 1000 + (t % 1000 >= 500));
}

static void cmd_ttl(struct cmd_ctx *c)
{
	ttl_generic(c, false, false);
}

static void cmd_pttl(struct cmd_ctx *c)
{
	ttl_generic(c, true, false);
}

static void cmd_expiretime(struct cmd_ctx *c)
{
	ttl_generic(c, false, true);
}

static void cmd_pexpiretime(struct cmd_ctx *c)
{
	ttl_generic(c, true, true);
}

static void cmd_persist(struct cmd_ctx *c)
{
	struct kv_entry *e = lookup_write(c, 1);

	if (!e || entry_expire(e) == KV_NO_EXPIRE) {
		resp_int(c->out, 0);
		return;
	}
	db_set_expire(cmd_db_arg(c, 1), e, KV_NO_EXPIRE);
	cmd_notify_arg(c, NOTIFY_GENERIC, "persist", 1);
	resp_int(c->out, 1);
}

/* ---- RENAME RENAMENX ---- */

static void rename_generic(struct cmd_ctx *c, bool nx)
{
	const struct kv_slice *src = &c->argv[1], *dst = &c->argv[2];

	/* A missing source is an error even when src == dst. */
	if (!lookup_write(c, 1)) {
		resp_error(c->out, RESP_ERR_NO_KEY);
		return;
	}
	if (slice_eq(src, dst)) {
		if (nx)
			resp_int(c->out, 0);
		else
			resp_ok(c->out);
		return;
	}
	/* The lookup also expires a due destination, so RENAMENX onto an
	 * expired key succeeds. */
	if (nx && lookup_write(c, 2)) {
		resp_int(c->out, 0);
		return;
	}
	db_rename(cmd_db_arg(c, 1), src->ptr, src->len, cmd_db_arg(c, 2),
		  dst->ptr, dst->len);
	cmd_notify_arg(c, NOTIFY_GENERIC, "rename_from", 1);
	cmd_notify_arg(c, NOTIFY_GENERIC, "rename_to", 2);
	if (nx)
		resp_int(c->out, 1);
	else
		resp_ok(c->out);
}

static void cmd_rename(struct cmd_ctx *c)
{
	rename_generic(c, false);
}

static void cmd_renamenx(struct cmd_ctx *c)
{
	rename_generic(c, true);
}

/* ---- KEYS ---- */

struct keys_walk {
	struct kv_buf *out;
	const struct kv_slice *pat;
	bool all;
	int64_t n;
};

static void keys_visit(void *arg, const struct kv_entry *e)
{
	struct keys_walk *w = arg;
	struct kv_slice k = entry_key(e);

	if (w->all || glob_match(w->pat->ptr, w->pat->len, k.ptr, k.len, false)) {
		resp_bulk(w->out, k.ptr, k.len);
		w->n++;
	}
}

static void cmd_keys(struct cmd_ctx *c)
{
	/* "*" alone takes a shortcut in Redis that also matches the empty key,
	 * which the matcher itself does not ("**" skips ""). */
	struct keys_walk w = {
		.out = c->out, .pat = &c->argv[1],
		.all = c->argv[1].len == 1 && c->argv[1].ptr[0] == '*',
	};
	size_t mark = resp_array_begin(c->out);

	/* A full cursor walk with no mutation in between reports every key
	 * exactly once; expired keys are skipped. */
	for (uint32_t s = 0; s < c->nshards; s++) {
		struct kv_db *db = cmd_db_at(c, s);
		uint64_t cursor = 0;
		do {
			cursor = db_scan(db, cursor, c->now_ms, keys_visit, &w);
		} while (cursor != 0);
	}
	resp_array_end(c->out, mark, w.n);
}

/* ---- SCAN ---- */

/*
 * Cursor layout: dict_cursor * nshards + shard.  The shard is the cursor's
 * remainder, so every value a client can send names a valid shard, and a
 * fresh "0" starts at shard 0.
 */
static uint32_t scan_route(int argc, const struct kv_slice *argv, uint32_t nshards)
{
	uint64_t cursor;

	/* A bad cursor is reported by the handler, wherever it runs. */
	if (argc < 2 || nshards == 0 || !scan_parse_cursor(&argv[1], &cursor))
		return 0;
	return (uint32_t)(cursor % nshards);
}

/* TYPE filter values besides enum kv_type. */
#define SCAN_ANY_TYPE (-1)
#define SCAN_NO_TYPE (-2)   /* "none" or an unknown name: matches nothing */

struct scan_opts {
	struct scan_args a;   /* COUNT, MATCH and the TYPE word */
	int type;             /* the TYPE filter, or SCAN_ANY_TYPE */
};

static int scan_type_filter(const struct kv_slice *a)
{
	static const enum kv_type types[] = {
		KV_TYPE_STRING, KV_TYPE_LIST, KV_TYPE_SET, KV_TYPE_ZSET, KV_TYPE_HASH, KV_TYPE_STREAM,
	};

	for (size_t i = 0; i < KV_ARRAY_LEN(types); i++)
		if (arg_is(a, type_name(types[i])))
			return (int)types[i];
	/* Redis 7.0 does not reject an unknown type (7.2 does): it just
	 * matches no key. */
	return SCAN_NO_TYPE;
}

/* Options come in pairs; the first bad pair decides the error. */
static bool scan_parse_opts(struct cmd_ctx *c, struct scan_opts *o)
{
	if (!scan_parse_args(c, 2, true, &o->a))
		return false;
	o->type = o->a.type ? scan_type_filter(o->a.type) : SCAN_ANY_TYPE;
	return true;
}

struct scan_walk {
	struct cmd_ctx *c;
	const struct scan_opts *o;
	struct kv_buf keys;   /* bulk replies of the keys kept */
	uint64_t visited;     /* keys seen, kept or not: what COUNT bounds */
	int64_t kept;
};

static void scan_visit(void *arg, const struct kv_entry *e)
{
	struct scan_walk *w = arg;
	struct kv_slice k = entry_key(e);

	w->visited++;
	const struct kv_slice *pat = w->o->a.pat;
	if (pat && !glob_match(pat->ptr, pat->len, k.ptr, k.len, false))
		return;
	if (w->o->type != SCAN_ANY_TYPE) {
		/* Redis checks the type with a read lookup, so each key that
		 * passed MATCH counts as a keyspace hit. */
		cmd_count_lookup(w->c, true);
		if (w->o->type != (int)entry_type(e))
			return;
	}
	resp_bulk(&w->keys, k.ptr, k.len);
	w->kept++;
}

/*
 * Walk buckets until about COUNT keys were seen.  Like Redis, at most
 * 10 * COUNT more buckets are visited, so a sparse table costs a bounded
 * amount of work per call (and may return no key with a non-zero cursor).
 */
static uint64_t scan_walk(struct kv_db *db, uint64_t cursor, struct scan_walk *w)
{
	uint64_t budget = scan_budget(w->o->a.count);

	do {
		cursor = db_scan(db, cursor, w->c->now_ms, scan_visit, w);
	} while (cursor != 0 && budget-- > 0 && w->visited < w->o->a.count);
	return cursor;
}

static void cmd_scan(struct cmd_ctx *c)
{
	uint64_t cursor;
	struct scan_opts o;

	if (!scan_parse_cursor(&c->argv[1], &cursor)) {
		resp_error(c->out, ERR_INVALID_CURSOR);
		return;
	}
	if (!scan_parse_opts(c, &o))
		return;

	uint32_t shard = (uint32_t)(cursor % c->nshards);
	struct scan_walk w = { .c = c, .o = &o };
	kv_buf_init(&w.keys);
	uint64_t next = scan_walk(cmd_db_at(c, shard), cursor / c->nshards, &w);

	/* A finished shard hands over to the next one; after the last, 0. */
	if (next == 0) {
		next = shard + 1 < c->nshards ? shard + 1 : 0;
	} else {
		/* dict cursors stay below the table size, far from overflow. */
		kv_assert(next <= (UINT64_MAX - shard) / c->nshards);
		next = next * c->nshards + shard;
	}
	scan_reply(c->out, next, w.kept, &w.keys);
	kv_buf_free(&w.keys);
}

/* ---- RANDOMKEY DBSIZE FLUSHDB FLUSHALL ---- */

static uint64_t keys_random(void)
{
	/* xorshift64*, one stream per thread; seeded lazily from the clock and
	 * the state's own address so shards do not share a sequence. */
	static _Thread_local uint64_t state;

	if (state == 0)
		state = (uint64_t)kv_mono_us() ^ (uint64_t)(uintptr_t)&state ^
			0x9E3779B97F4A7C15ULL;
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545F4914F6CDD1DULL;
}

static uint64_t total_size(const struct cmd_ctx *c)
{
	uint64_t n = 0;

	for (uint32_t s = 0; s < c->nshards; s++)
		n += db_size(cmd_db_at(c, s));
	return n;
}

/* A shard picked with probability proportional to its key count, so every
 * key is equally likely whatever shard holds it. */
static uint32_t pick_weighted_shard(const struct cmd_ctx *c, uint64_t total)
{
	uint64_t r = keys_random() % total;

	for (uint32_t s = 0; s < c->nshards; s++) {
		uint64_t n = db_size(cmd_db_at(c, s));
		if (r < n)
			return s;
		r -= n;
	}
	return c->nshards - 1;
}

static void cmd_randomkey(struct cmd_ctx *c)
{
	uint64_t total = total_size(c);

	if (total == 0) {
		resp_null(c->out);
		return;
	}
	/* db_random() returns NULL when it keeps drawing expired keys; then try
	 * the other shards in turn before answering nil. */
	uint32_t first = pick_weighted_shard(c, total);
	for (uint32_t i = 0; i < c->nshards; i++) {
		struct kv_db *db = cmd_db_at(c, (first + i) % c->nshards);
		const struct kv_entry *e = db_random(db, c->now_ms);
		if (e) {
			struct kv_slice k = entry_key(e);
			resp_bulk(c->out, k.ptr, k.len);
			return;
		}
	}
	resp_null(c->out);
}

static void cmd_dbsize(struct cmd_ctx *c)
{
	resp_int(c->out, (int64_t)total_size(c));
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: both flush at once, there being no lazy-free
 * thread; anything else, or more than one word, is a syntax error. */
static void flush_generic(struct cmd_ctx *c)
{
	if (c->argc > 2 ||
	    (c->argc == 2 && !arg_is(&c->argv[1], "sync") && !arg_is(&c->argv[1], "async"))) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	bool all = arg_is(&c->argv[0], "flushall");
	for (uint32_t s = 0; s < c->nshards; s++) {
		struct kv_dbs *dbs = cmd_dbs_at(c, s);
		/* An empty database has nothing to flush, no WATCH to touch and
		 * no effect to log; a snapshot in progress is not disturbed. */
		for (uint32_t d = all ? 0 : c->dbid; d < (all ? dbs->n : c->dbid + 1); d++)
			if (db_size(dbs->db[d]) > 0)
				db_flush(dbs->db[d]);
	}
	/* Redis tells tracking clients of every flush, empty or not. */
	if (c->rt && c->rt->tracking_flush)
		c->rt->tracking_flush(c);
	resp_ok(c->out);
}

static void cmd_flushdb(struct cmd_ctx *c)
{
	flush_generic(c);
}

static void cmd_flushall(struct cmd_ctx *c)
{
	flush_generic(c);
}

/* A database number argument: Redis's errors for a non-integer (err_not_int)
 * and for one out of range. */
static bool db_arg(struct cmd_ctx *c, int i, const char *err_not_int, uint32_t shard,
		   uint32_t *out)
{
	int64_t id;
	if (!arg_to_int64(&c->argv[i], &id) || id < INT32_MIN || id > INT32_MAX) {
		resp_error(c->out, err_not_int);
		return false;
	}
	if (!dbs_has(cmd_dbs_at(c, shard), id)) {
		resp_error(c->out, "ERR DB index is out of range");
		return false;
	}
	*out = (uint32_t)id;
	return true;
}

/* SWAPDB: on every shard at once (the command holds them all), each shard
 * logging the swap as its own effect. */
static void cmd_swapdb(struct cmd_ctx *c)
{
	/* Both numbers are parsed before either is checked against the range,
	 * which decides the error a call with two bad ones gets. */
	int64_t x, y;
	if (!arg_to_int64(&c->argv[1], &x) || x < INT32_MIN || x > INT32_MAX) {
		resp_error(c->out, "ERR invalid first DB index");
		return;
	}
	if (!arg_to_int64(&c->argv[2], &y) || y < INT32_MIN || y > INT32_MAX) {
		resp_error(c->out, "ERR invalid second DB index");
		return;
	}
	uint32_t a, b;
	if (!db_arg(c, 1, "ERR invalid first DB index", 0, &a) ||
	    !db_arg(c, 2, "ERR invalid second DB index", 0, &b))
		return;
	for (uint32_t s = 0; s < c->nshards; s++) {
		dbs_swap(cmd_dbs_at(c, s), a, b, c->now_ms);
		cmd_effect_shard(c, s, 3, c->argv);
	}
	resp_ok(c->out);
}

/* MOVE key db: the key's shard is the same in every database, so this is a
 * single-shard write, logged as sent (replay holds every database). */
static void cmd_move(struct cmd_ctx *c)
{
	uint32_t to;
	const struct kv_slice *k = &c->argv[1];
	uint32_t shard = cmd_key_shard(c, k->ptr, k->len);
	if (!db_arg(c, 2, RESP_ERR_NOT_INT, shard, &to))
		return;
	if (to == c->dbid) {
		resp_error(c->out, "ERR source and destination objects are the same");
		return;
	}
	struct kv_db *src = cmd_db(c, k->ptr, k->len);
	struct kv_db *dst = cmd_dbs_at(c, shard)->db[to];
	if (!db_lookup(src, k->ptr, k->len, c->now_ms) || db_lookup(dst, k->ptr, k->len, c->now_ms)) {
		resp_int(c->out, 0);
		return;
	}
	db_rename(src, k->ptr, k->len, dst, k->ptr, k->len);
	cmd_notify_arg(c, NOTIFY_GENERIC, "move_from", 1);
	cmd_notify_db(c, NOTIFY_GENERIC, "move_to", to, k->ptr, k->len);
	resp_int(c->out, 1);
}

/* ---- the table ---- */

#define GENERIC "generic"
#define ONE_KEY 1, 1, 1
#define ALL_KEYS 1, -1, 1
#define NO_KEYS 0, 0, 0
#define O1 "O(1)"

const struct kv_command cmd_table_keys[] = {
	{ "del", -2, CMD_WRITE, ALL_KEYS, cmd_del, NULL, NULL, GENERIC, "1.0.0",
	  "Delete a key",
	  "O(N) where N is the number of keys that will be removed. When a key to "
	  "remove holds a value other than a string, the individual complexity for "
	  "this key is O(M) where M is the number of elements in the list, set, "
	  "sorted set or hash. Removing a single key that holds a string value is "
	  "O(1).", NULL },
	{ "unlink", -2, CMD_WRITE | CMD_FAST, ALL_KEYS, cmd_unlink, NULL, NULL,
	  GENERIC, "4.0.0",
	  "Delete a key asynchronously in another thread. Otherwise it is just as "
	  "DEL, but non blocking.",
	  "O(1) for each key removed regardless of its size. Then the command does "
	  "O(N) work in a different thread in order to reclaim memory, where N is "
	  "the number of allocations the deleted objects where composed of.", NULL },
	{ "exists", -2, CMD_READONLY | CMD_FAST, ALL_KEYS, cmd_exists, NULL, NULL,
	  GENERIC, "1.0.0", "Determine if a key exists",
	  "O(N) where N is the number of keys to check.", NULL },
	{ "touch", -2, CMD_READONLY | CMD_FAST, ALL_KEYS, cmd_touch, NULL, NULL,
	  GENERIC, "3.2.1",
	  "Alters the last access time of a key(s). Returns the number of existing "
	  "keys specified.",
	  "O(N) where N is the number of keys that will be touched.", NULL },
	{ "type", 2, CMD_READONLY | CMD_FAST, ONE_KEY, cmd_type, NULL, NULL,
	  GENERIC, "1.0.0", "Determine the type stored at key", O1, NULL },
	{ "expire", -3, CMD_WRITE | CMD_FAST, ONE_KEY, cmd_expire, NULL, NULL,
	  GENERIC, "1.0.0", "Set a key's time to live in seconds", O1, NULL },
	{ "pexpire", -3, CMD_WRITE | CMD_FAST, ONE_KEY, cmd_pexpire, NULL, NULL,
	  GENERIC, "2.6.0", "Set a key's time to live in milliseconds", O1, NULL },
	{ "expireat", -3, CMD_WRITE | CMD_FAST, ONE_KEY, cmd_expireat, NULL, NULL,
	  GENERIC, "1.2.0", "Set the expiration for a key as a UNIX timestamp",
	  O1, NULL },
	{ "pexpireat", -3, CMD_WRITE | CMD_FAST, ONE_KEY, cmd_pexpireat, NULL, NULL,
	  GENERIC, "2.6.0",
	  "Set the expiration for a key as a UNIX timestamp specified in "
	  "milliseconds", O1, NULL },
	{ "ttl", 2, CMD_READONLY | CMD_FAST, ONE_KEY, cmd_ttl, NULL, NULL,
	  GENERIC, "1.0.0", "Get the time to live for a key in seconds", O1, NULL },
	{ "pttl", 2, CMD_READONLY | CMD_FAST, ONE_KEY, cmd_pttl, NULL, NULL,
	  GENERIC, "2.6.0", "Get the time to live for a key in milliseconds",
	  O1, NULL },
	{ "expiretime", 2, CMD_READONLY | CMD_FAST, ONE_KEY, cmd_expiretime, NULL,
	  NULL, GENERIC, "7.0.0", "Get the expiration Unix timestamp for a key",
	  O1, NULL },
	{ "pexpiretime", 2, CMD_READONLY | CMD_FAST, ONE_KEY, cmd_pexpiretime, NULL,
	  NULL, GENERIC, "7.0.0",
	  "Get the expiration Unix timestamp for a key in milliseconds", O1, NULL },
	{ "persist", 2, CMD_WRITE | CMD_FAST, ONE_KEY, cmd_persist, NULL, NULL,
	  GENERIC, "2.2.0", "Remove the expiration from a key", O1, NULL },
	{ "rename", 3, CMD_WRITE, 1, 2, 1, cmd_rename, NULL, NULL,
	  GENERIC, "1.0.0", "Rename a key", O1, NULL },
	{ "renamenx", 3, CMD_WRITE | CMD_FAST, 1, 2, 1, cmd_renamenx, NULL, NULL,
	  GENERIC, "1.0.0", "Rename a key, only if the new key does not exist",
	  O1, NULL },
	{ "keys", 2, CMD_READONLY | CMD_ALL_SHARDS, NO_KEYS, cmd_keys, NULL, NULL,
	  GENERIC, "1.0.0", "Find all keys matching the given pattern",
	  "O(N) with N being the number of keys in the database, under the "
	  "assumption that the key names in the database and the given pattern "
	  "have limited length.", NULL },
	{ "scan", -2, CMD_READONLY, NO_KEYS, cmd_scan, NULL, scan_route,
	  GENERIC, "2.8.0", "Incrementally iterate the keys space",
	  "O(1) for every call. O(N) for a complete iteration, including enough "
	  "command calls for the cursor to return back to 0. N is the number of "
	  "elements inside the collection.", NULL },
	{ "randomkey", 1, CMD_READONLY | CMD_ALL_SHARDS, NO_KEYS, cmd_randomkey,
	  NULL, NULL, GENERIC, "1.0.0", "Return a random key from the keyspace",
	  O1, NULL },
	/* Redis files these three under "server", not "generic". */
	{ "dbsize", 1, CMD_READONLY | CMD_FAST | CMD_ALL_SHARDS, NO_KEYS,
	  cmd_dbsize, NULL, NULL, "server", "1.0.0",
	  "Return the number of keys in the selected database", O1, NULL },
	{ "flushdb", -1, CMD_WRITE | CMD_ALL_SHARDS, NO_KEYS, cmd_flushdb, NULL,
	  NULL, "server", "1.0.0", "Remove all keys from the current database",
	  "O(N) where N is the number of keys in the selected database", NULL },
	{ "flushall", -1, CMD_WRITE | CMD_ALL_SHARDS, NO_KEYS, cmd_flushall, NULL,
	  NULL, "server", "1.0.0", "Remove all keys from all databases",
	  "O(N) where N is the total number of keys in all databases", NULL },
	{ "swapdb", 3, CMD_WRITE | CMD_FAST | CMD_ALL_SHARDS, NO_KEYS, cmd_swapdb, NULL, NULL,
	  "server", "4.0.0", "Swaps two Redis databases",
	  "O(N) where N is the count of clients watching or blocking on keys from both "
	  "databases.", NULL },
	{ "move", 3, CMD_WRITE | CMD_FAST, ONE_KEY, cmd_move, NULL, NULL, GENERIC, "1.0.0",
	  "Move a key to another database", O1, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
