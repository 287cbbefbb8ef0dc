/*
 * cmd_hash.c - the hash commands: HSET/HMSET/HSETNX, HGET/HMGET, HDEL,
 * HEXISTS, HLEN, HSTRLEN, HKEYS/HVALS/HGETALL, HINCRBY/HINCRBYFLOAT, HSCAN
 * and HRANDFIELD.
 *
 * Replies, error texts and the order in which errors win are Redis
 * 7.0.15's for the same arguments (checked against redis-server).  Reads
 * that Redis makes through lookupKeyRead count as keyspace hits or misses;
 * the lookups of writes do not.
 *
 * The value object and its encodings are t_hash.c's.  Every command opens
 * its key through struct hkey and closes it through hkey_close, which is the
 * one place that keeps the store's view right: it reports the object's
 * change in size (db_memory_adjust; even a read can finish an incremental
 * rehash and free a bucket array), installs a replacement object, creates a
 * new key, or deletes a key whose hash became empty.
 */
#include "commands/cmd.h"
#include "commands/notify.h"
#include "commands/fx.h"
#include "store/effect_argv.h"
#include "base/kv.h"
#include "commands/scan_args.h"
#include "store/t_hash.h"
#include "base/util_num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* cmd.h declares cmd_table_hash weak, and a weak reference does not pull an
 * object out of a static library: a program links this module by
 * referencing this strong symbol (the unit tests do), or by linking libkevy
 * whole. */
const struct kv_command *cmd_hash_table(void);

/* ---- opening and closing a hash key ---- */

struct hkey {
	struct kv_db *db;
	const struct kv_slice *key;
	struct hash_obj *orig;   /* the object the store holds; NULL: no key */
	struct hash_obj *cur;    /* the object holding the result */
	size_t orig_mem;         /* hash_mem(orig) when opened */
};

enum { HKEY_WRONGTYPE = -1, HKEY_MISSING = 0, HKEY_FOUND = 1 };

/* Looks argv[1] up.  for_read counts a keyspace hit or miss.  Replies
 * WRONGTYPE (and returns HKEY_WRONGTYPE) for a key of another type. */
static int hkey_open(struct cmd_ctx *c, struct hkey *k, bool for_read)
{
	k->db = cmd_db_arg(c, 1);
	k->key = &c->argv[1];
	k->orig = k->cur = NULL;
	k->orig_mem = 0;
	struct kv_entry *e = db_lookup(k->db, k->key->ptr, k->key->len, c->now_ms);
	if (for_read)
		cmd_count_read(c, k->key->ptr, k->key->len, e != NULL);
	if (!e)
		return HKEY_MISSING;
	if (entry_type(e) != KV_TYPE_HASH) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return HKEY_WRONGTYPE;
	}
	k->orig = k->cur = entry_obj(e);
	k->orig_mem = hash_mem(k->orig);
	return HKEY_FOUND;
}

static void hkey_set(struct hkey *k, const struct kv_slice *f, const void *v, size_t vlen,
		     bool *added)
{
	if (!k->cur)
		k->cur = hash_new();
	struct hash_obj *n = hash_set(k->cur, f->ptr, f->len, v, vlen, added);
	if (n != k->cur) {
		/* An intermediate object the store never saw is ours to free. */
		if (k->cur != k->orig)
			hash_free(k->cur);
		k->cur = n;
	}
}

static void hkey_close(struct hkey *k)
{
	struct kv_db *db = k->db;
	if (k->orig) {
		int64_t delta = (int64_t)hash_mem(k->orig) - (int64_t)k->orig_mem;
		if (delta)
			db_memory_adjust(db, delta);
		if (k->cur != k->orig && hash_len(k->cur) > 0)
			db_set_object(db, k->key->ptr, k->key->len, KV_TYPE_HASH, k->cur,
				      KV_KEEP_EXPIRE);
		else if (hash_len(k->cur) == 0)
			db_delete(db, k->key->ptr, k->key->len);
		if (k->cur != k->orig && hash_len(k->cur) == 0)
			hash_free(k->cur);
	} else if (k->cur) {
		if (hash_len(k->cur) > 0)
			db_set_object(db, k->key->ptr, k->key->len, KV_TYPE_HASH, k->cur,
				      KV_NO_EXPIRE);
		else
			hash_free(k->cur);
	}
	k->orig = k->cur = NULL;
}

/* Reports an in-place change of the value to WATCH (Redis's
 * signalModifiedKey); call it exactly when the command changed the hash. */
static void hkey_signal(struct hkey *k)
{
	db_signal_modified(k->db, k->key->ptr, k->key->len);
}

static bool hkey_get(struct hkey *k, const struct kv_slice *f, struct kv_slice *v)
{
	return k->cur && hash_get(k->cur, f->ptr, f->len, v);
}

/* ---- reply helpers ---- */

static void emit_field(void *arg, struct kv_slice f, struct kv_slice v)
{
	resp_bulk(arg, f.ptr, f.len);
}

static void emit_value(void *arg, struct kv_slice f, struct kv_slice v)
{
	resp_bulk(arg, v.ptr, v.len);
}

static void emit_pair(void *arg, struct kv_slice f, struct kv_slice v)
{
	resp_bulk(arg, f.ptr, f.len);
	resp_bulk(arg, v.ptr, v.len);
}

/* HRANDFIELD ... WITHVALUES: in RESP3 each pair is an array of its own. */
static void emit_nested_pair(void *arg, struct kv_slice f, struct kv_slice v)
{
	resp_pair(arg);
	resp_bulk(arg, f.ptr, f.len);
	resp_bulk(arg, v.ptr, v.len);
}

/* ---- HSET, HMSET, HSETNX ---- */

static void hset_generic(struct cmd_ctx *c, const char *name, bool reply_ok)
{
	if (c->argc % 2 == 1) {
		resp_errorf(c->out, "ERR wrong number of arguments for '%s' command", name);
		return;
	}
	struct hkey k;
	if (hkey_open(c, &k, false) == HKEY_WRONGTYPE)
		return;
	int64_t created = 0;
	for (int i = 2; i < c->argc; i += 2) {
		bool added;
		hkey_set(&k, &c->argv[i], c->argv[i + 1].ptr, c->argv[i + 1].len, &added);
		created += added;
	}
	hkey_close(&k);
	hkey_signal(&k);   /* Redis signals every HSET/HMSET, even a no-op */
	cmd_notify_arg(c, NOTIFY_HASH, "hset", 1);
	if (reply_ok)
		resp_ok(c->out);
	else
		resp_int(c->out, created);
}

static void cmd_hset(struct cmd_ctx *c)
{
	hset_generic(c, "hset", false);
}

static void cmd_hmset(struct cmd_ctx *c)
{
	hset_generic(c, "hmset", true);
}

static void cmd_hsetnx(struct cmd_ctx *c)
{
	struct hkey k;
	struct kv_slice v;
	if (hkey_open(c, &k, false) == HKEY_WRONGTYPE)
		return;
	bool added = false;
	if (!hkey_get(&k, &c->argv[2], &v))
		hkey_set(&k, &c->argv[2], c->argv[3].ptr, c->argv[3].len, &added);
	hkey_close(&k);
	if (added) {
		hkey_signal(&k);
		cmd_notify_arg(c, NOTIFY_HASH, "hset", 1);
	}
	resp_int(c->out, added);
}

/* ---- reads of single fields ---- */

static void cmd_hget(struct cmd_ctx *c)
{
	struct hkey k;
	struct kv_slice v;
	if (hkey_open(c, &k, true) == HKEY_WRONGTYPE)
		return;
	if (hkey_get(&k, &c->argv[2], &v))
		resp_bulk(c->out, v.ptr, v.len);
	else
		resp_null(c->out);
	hkey_close(&k);
}

static void cmd_hmget(struct cmd_ctx *c)
{
	struct hkey k;
	struct kv_slice v;
	/* Unlike MGET, a key of another type is an error. */
	if (hkey_open(c, &k, true) == HKEY_WRONGTYPE)
		return;
	resp_array(c->out, c->argc - 2);
	for (int i = 2; i < c->argc; i++) {
		if (hkey_get(&k, &c->argv[i], &v))
			resp_bulk(c->out, v.ptr, v.len);
		else
			resp_null(c->out);
	}
	hkey_close(&k);
}

static void cmd_hexists(struct cmd_ctx *c)
{
	struct hkey k;
	struct kv_slice v;
	if (hkey_open(c, &k, true) == HKEY_WRONGTYPE)
		return;
	resp_int(c->out, hkey_get(&k, &c->argv[2], &v));
	hkey_close(&k);
}

static void cmd_hstrlen(struct cmd_ctx *c)
{
	struct hkey k;
	struct kv_slice v;
	if (hkey_open(c, &k, true) == HKEY_WRONGTYPE)
		return;
	resp_int(c->out, hkey_get(&k, &c->argv[2], &v) ? (int64_t)v.len : 0);
	hkey_close(&k);
}

static void cmd_hlen(struct cmd_ctx *c)
{
	struct hkey k;
	if (hkey_open(c, &k, true) == HKEY_WRONGTYPE)
		return;
	resp_int(c->out, k.cur ? (int64_t)hash_len(k.cur) : 0);
	hkey_close(&k);
}

/* ---- HDEL ---- */

static void cmd_hdel(struct cmd_ctx *c)
{
	struct hkey k;
	int64_t deleted = 0;
	if (hkey_open(c, &k, false) == HKEY_WRONGTYPE)
		return;
	for (int i = 2; k.cur && i < c->argc; i++) {
		deleted += hash_delete(k.cur, c->argv[i].ptr, c->argv[i].len);
		if (hash_len(k.cur) == 0)
			break;
	}
	hkey_close(&k);   /* deletes the key if the hash is now empty */
	if (deleted) {
		hkey_signal(&k);
		notify_pop(c, NOTIFY_HASH, "hdel", k.db, c->argv[1].ptr, c->argv[1].len);
	}
	resp_int(c->out, deleted);
}

/* ---- whole-hash reads ---- */

/* HKEYS and HVALS reply an array, HGETALL a map (pairs: 2 per element). */
static void getall_generic(struct cmd_ctx *c, hash_elem_fn emit, int per_elem)
{
	struct hkey k;
	if (hkey_open(c, &k, true) == HKEY_WRONGTYPE)
		return;
	int64_t n = k.cur ? (int64_t)hash_len(k.cur) : 0;
	if (per_elem == 2)
		resp_map(c->out, n);
	else
		resp_array(c->out, n);
	if (!k.cur)
		return;
	hash_foreach(k.cur, emit, c->out);
	hkey_close(&k);
}

static void cmd_hkeys(struct cmd_ctx *c)
{
	getall_generic(c, emit_field, 1);
}

static void cmd_hvals(struct cmd_ctx *c)
{
	getall_generic(c, emit_value, 1);
}

static void cmd_hgetall(struct cmd_ctx *c)
{
	getall_generic(c, emit_pair, 2);
}

/* ---- HINCRBY, HINCRBYFLOAT ---- */

/* The increment is parsed before the key is looked up, so a bad increment
 * beats WRONGTYPE, as in Redis. */
static void cmd_hincrby(struct cmd_ctx *c)
{
	int64_t incr, value = 0;
	struct kv_slice old;
	struct hkey k;

	if (!arg_to_int64(&c->argv[3], &incr)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	if (hkey_open(c, &k, false) == HKEY_WRONGTYPE)
		return;
	if (hkey_get(&k, &c->argv[2], &old) && !arg_to_int64(&old, &value)) {
		hkey_close(&k);
		resp_error(c->out, "ERR hash value is not an integer");
		return;
	}
	if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
	    (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
		hkey_close(&k);
		resp_error(c->out, RESP_ERR_OVERFLOW);
		return;
	}
	value += incr;
	char buf[FMT_INT64_MAX];
	size_t n = fmt_int64(buf, value);
	bool added;
	hkey_set(&k, &c->argv[2], buf, n, &added);
	hkey_close(&k);
	hkey_signal(&k);
	cmd_notify_arg(c, NOTIFY_HASH, "hincrby", 1);
	resp_int(c->out, value);
}

static void cmd_hincrbyfloat(struct cmd_ctx *c)
{
	long double incr, value = 0;
	struct kv_slice old;
	struct hkey k;

	if (!arg_to_long_double(&c->argv[3], &incr)) {
		resp_error(c->out, RESP_ERR_NOT_FLOAT);
		return;
	}
	if (isnan(incr) || isinf(incr)) {
		resp_error(c->out, "ERR value is NaN or Infinity");
		return;
	}
	if (hkey_open(c, &k, false) == HKEY_WRONGTYPE)
		return;
	if (hkey_get(&k, &c->argv[2], &old) && !arg_to_long_double(&old, &value)) {
		hkey_close(&k);
		resp_error(c->out, "ERR hash value is not a float");
		return;
	}
	value += incr;
	if (isnan(value) || isinf(value)) {
		hkey_close(&k);
		resp_error(c->out, "ERR increment would produce NaN or Infinity");
		return;
	}
	char buf[FMT_LONG_DOUBLE_MAX];
	int n = fmt_long_double(buf, sizeof(buf), value);
	bool added;
	hkey_set(&k, &c->argv[2], buf, (size_t)n, &added);
	hkey_close(&k);
	hkey_signal(&k);
	/* The result, not the increment (as INCRBYFLOAT). */
	struct kv_slice argv[4] = { { "HSET", 4 }, c->argv[1], c->argv[2], { buf, (size_t)n } };
	cmd_effect(c, 4, argv);
	cmd_notify_arg(c, NOTIFY_HASH, "hincrbyfloat", 1);
	resp_bulk(c->out, buf, (size_t)n);
}

/* ---- HSCAN ---- */

struct hscan_walk {
	const struct kv_slice *pat;   /* NULL: no pattern */
	struct kv_buf items;          /* bulk replies of the pairs kept */
	uint64_t collected;           /* elements seen (2 per pair), kept or not */
	int64_t kept;                 /* pairs kept */
};

static void hscan_visit(void *arg, struct kv_slice f, struct kv_slice v)
{
	struct hscan_walk *w = arg;
	w->collected += 2;
	if (w->pat && !glob_match(w->pat->ptr, w->pat->len, f.ptr, f.len, false))
		return;
	emit_pair(&w->items, f, v);
	w->kept++;
}

static void cmd_hscan(struct cmd_ctx *c)
{
	uint64_t cursor;
	struct scan_args o;
	struct hkey k;

	if (!scan_parse_cursor(&c->argv[2], &cursor)) {
		resp_error(c->out, ERR_INVALID_CURSOR);
		return;
	}
	int found = hkey_open(c, &k, true);
	if (found == HKEY_WRONGTYPE)
		return;
	if (found == HKEY_MISSING) {
		/* Redis answers a missing key before looking at the options. */
		scan_reply_head(c->out, 0, 0);
		return;
	}
	/* Options come in pairs; TYPE belongs to SCAN only. */
	if (!scan_parse_args(c, 3, false, &o)) {
		hkey_close(&k);
		return;
	}
	struct hscan_walk w = { .pat = o.pat };
	kv_buf_init(&w.items);
	if (hash_encoding(k.cur) == HASH_ENC_PACKED) {
		/* A packed hash is returned whole, whatever COUNT says. */
		cursor = hash_scan(k.cur, 0, hscan_visit, &w);
	} else {
		/* As Redis: about COUNT elements (a pair is two), at most
		 * 10 * COUNT more buckets. */
		uint64_t budget = scan_budget(o.count);
		do {
			cursor = hash_scan(k.cur, cursor, hscan_visit, &w);
		} while (cursor != 0 && budget-- > 0 && w.collected < o.count);
	}
	hkey_close(&k);
	scan_reply(c->out, cursor, w.kept * 2, &w.items);
	kv_buf_free(&w.items);
}

/* ---- HRANDFIELD ---- */

static void cmd_hrandfield(struct cmd_ctx *c)
{
	struct hkey k;
	int64_t l = 0;
	bool withvalues = false;

	if (c->argc >= 3) {
		if (!arg_to_int64(&c->argv[2], &l)) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return;
		}
		if (l == INT64_MIN) {
			resp_error(c->out, "ERR value is out of range, value must between "
					   "-9223372036854775807 and 9223372036854775807");
			return;
		}
		if (c->argc > 4 || (c->argc == 4 && !arg_is(&c->argv[3], "withvalues"))) {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
		if (c->argc == 4) {
			withvalues = true;
			/* The reply holds 2 * |count| elements. */
			if (l < -INT64_MAX / 2 || l > INT64_MAX / 2) {
				resp_error(c->out, "ERR value is out of range");
				return;
			}
		}
	}
	int found = hkey_open(c, &k, true);
	if (found == HKEY_WRONGTYPE)
		return;
	if (c->argc == 2) {
		if (found == HKEY_MISSING)
			resp_null(c->out);
		else
			hash_random(k.cur, 1, true, emit_field, c->out);
		hkey_close(&k);
		return;
	}
	if (found == HKEY_MISSING || l == 0) {
		resp_array(c->out, 0);
		hkey_close(&k);
		return;
	}
	bool unique = l > 0;
	uint64_t count = unique ? (uint64_t)l : (uint64_t)-l;
	uint64_t len = hash_len(k.cur);
	uint64_t n = unique && count > len ? len : count;
	resp_array(c->out, (int64_t)(withvalues && !resp_is3(c->out) ? n * 2 : n));
	uint64_t made = hash_random(k.cur, count, unique,
				    withvalues ? emit_nested_pair : emit_field, c->out);
	kv_assert(made == n);
	hkey_close(&k);
}

/* ---- table ---- */

#define KEY1 .first_key = 1, .last_key = 1, .key_step = 1
#define H_RO_FAST (CMD_READONLY | CMD_FAST)
#define H_W_FAST (CMD_WRITE | CMD_DENYOOM | CMD_FAST)
#define H_ALL_COMPLEXITY "O(N) where N is the size of the hash."

const struct kv_command cmd_table_hash[] = {
	{ .name = "hset", .arity = -4, .flags = H_W_FAST, KEY1, .proc = cmd_hset,
	  .group = "hash", .since = "2.0.0", .summary = "Set the string value of a hash field",
	  .complexity = "O(1) for each field/value pair added, so O(N) to add N field/value "
			"pairs when the command is called with multiple field/value pairs." },
	{ .name = "hsetnx", .arity = 4, .flags = H_W_FAST, KEY1, .proc = cmd_hsetnx,
	  .group = "hash", .since = "2.0.0",
	  .summary = "Set the value of a hash field, only if the field does not exist",
	  .complexity = "O(1)" },
	{ .name = "hget", .arity = 3, .flags = H_RO_FAST, KEY1, .proc = cmd_hget,
	  .group = "hash", .since = "2.0.0", .summary = "Get the value of a hash field",
	  .complexity = "O(1)" },
	{ .name = "hmget", .arity = -3, .flags = H_RO_FAST, KEY1, .proc = cmd_hmget,
	  .group = "hash", .since = "2.0.0",
	  .summary = "Get the values of all the given hash fields",
	  .complexity = "O(N) where N is the number of fields being requested." },
	{ .name = "hmset", .arity = -4, .flags = H_W_FAST, KEY1, .proc = cmd_hmset,
	  .group = "hash", .since = "2.0.0",
	  .summary = "Set multiple hash fields to multiple values",
	  .complexity = "O(N) where N is the number of fields being set." },
	{ .name = "hdel", .arity = -3, .flags = CMD_WRITE | CMD_FAST, KEY1, .proc = cmd_hdel,
	  .group = "hash", .since = "2.0.0", .summary = "Delete one or more hash fields",
	  .complexity = "O(N) where N is the number of fields to be removed." },
	{ .name = "hexists", .arity = 3, .flags = H_RO_FAST, KEY1, .proc = cmd_hexists,
	  .group = "hash", .since = "2.0.0", .summary = "Determine if a hash field exists",
	  .complexity = "O(1)" },
	{ .name = "hlen", .arity = 2, .flags = H_RO_FAST, KEY1, .proc = cmd_hlen,
	  .group = "hash", .since = "2.0.0", .summary = "Get the number of fields in a hash",
	  .complexity = "O(1)" },
	{ .name = "hstrlen", .arity = 3, .flags = H_RO_FAST, KEY1, .proc = cmd_hstrlen,
	  .group = "hash", .since = "3.2.0",
	  .summary = "Get the length of the value of a hash field", .complexity = "O(1)" },
	{ .name = "hkeys", .arity = 2, .flags = CMD_READONLY, KEY1, .proc = cmd_hkeys,
	  .group = "hash", .since = "2.0.0", .summary = "Get all the fields in a hash",
	  .complexity = H_ALL_COMPLEXITY },
	{ .name = "hvals", .arity = 2, .flags = CMD_READONLY, KEY1, .proc = cmd_hvals,
	  .group = "hash", .since = "2.0.0", .summary = "Get all the values in a hash",
	  .complexity = H_ALL_COMPLEXITY },
	{ .name = "hgetall", .arity = 2, .flags = CMD_READONLY, KEY1, .proc = cmd_hgetall,
	  .group = "hash", .since = "2.0.0",
	  .summary = "Get all the fields and values in a hash",
	  .complexity = H_ALL_COMPLEXITY },
	{ .name = "hincrby", .arity = 4, .flags = H_W_FAST, KEY1, .proc = cmd_hincrby,
	  .group = "hash", .since = "2.0.0",
	  .summary = "Increment the integer value of a hash field by the given number",
	  .complexity = "O(1)" },
	{ .name = "hincrbyfloat", .arity = 4, .flags = H_W_FAST, KEY1,
	  .proc = cmd_hincrbyfloat, .group = "hash", .since = "2.6.0",
	  .summary = "Increment the float value of a hash field by the given amount",
	  .complexity = "O(1)" },
	{ .name = "hscan", .arity = -3, .flags = CMD_READONLY, KEY1, .proc = cmd_hscan,
	  .group = "hash", .since = "2.8.0",
	  .summary = "Incrementally iterate hash fields and associated values",
	  .complexity = "O(1) for every call. O(N) for a complete iteration, including "
			"enough command calls for the cursor to return back to 0. N is "
			"the number of elements inside the collection.." },
	{ .name = "hrandfield", .arity = -2, .flags = CMD_READONLY, KEY1,
	  .proc = cmd_hrandfield, .group = "hash", .since = "6.2.0",
	  .summary = "Get one or multiple random fields from a hash",
	  .complexity = "O(N) where N is the number of fields returned" },
	{ .name = NULL },
};

const struct kv_command *cmd_hash_table(void)
{
	return cmd_table_hash;
}
