/*
 * cmd_hll.c - the HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG
 * and PFSELFTEST, with Redis 7.0.15's replies, errors and their order.
 *
 * An HLL is a string value in Redis's own bytes (store/hll.h does the
 * representation); a handler copies the value, changes the copy and stores
 * it back only when a register changed, so a corrupt string answers
 * INVALIDOBJ and is left as it was.
 *
 * Effects (fx.h): a sparse HLL's bytes depend on hll-sparse-max-bytes as
 * well as on the elements, and that setting may differ when the AOF is
 * replayed.  So PFADD that starts from a sparse (or missing) HLL, and every
 * PFMERGE, log the destination's final bytes as SET ... KEEPTTL; PFADD on a
 * dense HLL is logged as sent (rule 2: it does not depend on the setting).
 * PFCOUNT of one key stores the estimate in the value's header, as Redis
 * does: the store reports that change, and the default rule logs the key's
 * final state.  PFDEBUG GETREG/TODENSE convert to dense, which is logged as
 * sent (conversion does not depend on the setting either).
 */
#include "commands/cmd.h"
#include "commands/notify.h"
#include "commands/fx.h"
#include "base/kv.h"
#include "store/encoding.h"
#include "store/hll.h"

#include <stdlib.h>
#include <string.h>

#define ERR_INVALIDOBJ "INVALIDOBJ Corrupted HLL object detected"
#define ERR_NOT_HLL "WRONGTYPE Key is not a valid HyperLogLog string value."

static size_t sparse_max(void)
{
	int64_t v = atomic_load_explicit(&kv_encoding.hll_sparse_max_bytes,
					 memory_order_relaxed);
	return v < 0 ? 0 : (size_t)v;
}

static struct kv_entry *lookup_write(const struct cmd_ctx *c, int i)
{
	return db_lookup(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len, c->now_ms);
}

static struct kv_entry *lookup_read(const struct cmd_ctx *c, int i)
{
	struct kv_entry *e = lookup_write(c, i);
	cmd_count_read(c, c->argv[i].ptr, c->argv[i].len, e != NULL);
	return e;
}

/* Redis's isHLLObjectOrReply: the value's bytes in *v, or false after the
 * error reply (WRONGTYPE for another type, then the HLL check). */
static bool hll_value(struct cmd_ctx *c, const struct kv_entry *e, struct kv_slice *v)
{
	if (entry_type(e) != KV_TYPE_STRING) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return false;
	}
	*v = entry_str(e);
	if (!hll_is_hll(v->ptr, v->len)) {
		resp_error(c->out, ERR_NOT_HLL);
		return false;
	}
	return true;
}

/* Store h as key argv[i]'s value, keeping its deadline. */
static void store_back(struct cmd_ctx *c, int i, const struct hll *h)
{
	db_set_string(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len, h->p, h->len,
		      KV_KEEP_EXPIRE);
}

/* The effect SET key <bytes> KEEPTTL: the value as it is now. */
static void effect_final_bytes(struct cmd_ctx *c, int i, const struct hll *h)
{
	struct kv_slice argv[4] = {
		{ "SET", 3 }, c->argv[i], { (const char *)h->p, h->len }, { "KEEPTTL", 7 },
	};
	cmd_effect(c, 4, argv);
}

/* PFADD into a dense HLL, in place: each register that grows is rewritten
 * in the one or two bytes that hold it (Redis's HLL_DENSE_SET_REGISTER), no
 * copy of the 12 KB string.  Its effect is the PFADD itself (a dense HLL's
 * registers depend only on the elements).  Returns whether one grew. */
static bool pfadd_dense(struct cmd_ctx *c, struct kv_entry *e)
{
	struct kv_db *db = cmd_db_arg(c, 1);
	bool grew = false;
	for (int j = 2; j < c->argc; j++) {
		long index;
		int count = hll_pat_len(c->argv[j].ptr, c->argv[j].len, &index);
		const uint8_t *regs = (const uint8_t *)entry_str(e).ptr + HLL_HDR_SIZE;
		if (hll_dense_get(regs, index) >= count)
			continue;
		size_t bit = (size_t)index * HLL_BITS, byte = bit / 8;
		unsigned fb = (unsigned)(bit & 7);
		size_t n = fb + HLL_BITS > 8 ? 2 : 1;   /* the register spans a byte boundary */
		uint8_t b[2] = { regs[byte], n == 2 ? regs[byte + 1] : 0 };
		unsigned v = (unsigned)count, max = (1u << HLL_BITS) - 1;
		b[0] = (uint8_t)((b[0] & ~(max << fb)) | (v << fb));
		if (n == 2)
			b[1] = (uint8_t)((b[1] & ~(max >> (8 - fb))) | (v >> (8 - fb)));
		e = db_string_write(db, e, HLL_HDR_SIZE + byte, b, n);
		grew = true;
	}
	if (grew) {
		uint8_t cache_byte = (uint8_t)entry_str(e).ptr[15];
		if (!(cache_byte & 0x80)) {
			cache_byte |= 0x80;   /* the cached estimate is stale */
			db_string_write(db, e, 15, &cache_byte, 1);
		}
	}
	return grew;
}

/* PFADD key [element ...]: 1 when the key was created or a register grew. */
static void cmd_pfadd(struct cmd_ctx *c)
{
	struct kv_entry *e = lookup_write(c, 1);
	struct hll h;
	int updated = 0;
	bool was_dense = false;
	if (e && entry_type(e) == KV_TYPE_STRING && hll_is_hll(entry_str(e).ptr, entry_str(e).len) &&
	    hll_encoding_of(entry_str(e).ptr) == HLL_DENSE) {
		bool grew = pfadd_dense(c, e);
		if (grew)
			cmd_notify_arg(c, NOTIFY_STRING, "pfadd", 1);
		resp_int(c->out, grew ? 1 : 0);
		return;
	}
	if (!e) {
		hll_init_empty(&h);
		updated++;
	} else {
		struct kv_slice v;
		if (!hll_value(c, e, &v))
			return;
		was_dense = hll_encoding_of(v.ptr) == HLL_DENSE;
		hll_init_copy(&h, v.ptr, v.len);
	}
	size_t max = sparse_max();
	for (int j = 2; j < c->argc; j++) {
		int r = hll_add(&h, c->argv[j].ptr, c->argv[j].len, max);
		if (r == HLL_CORRUPT) {
			/* Redis edits a sparse string in place: what the elements
			 * before this one changed stays (each sparse change also
			 * drops the cached estimate), although PFADD answers an
			 * error and signals nothing.  kevy keeps the same bytes and
			 * logs them, so memory and disk agree. */
			if (updated) {
				hll_invalidate_cache(h.p);
				store_back(c, 1, &h);
				effect_final_bytes(c, 1, &h);
			}
			resp_error(c->out, ERR_INVALIDOBJ);
			hll_free(&h);
			return;
		}
		updated += r;
	}
	if (updated) {
		hll_invalidate_cache(h.p);
		store_back(c, 1, &h);
		if (!was_dense)
			effect_final_bytes(c, 1, &h);
		cmd_notify_arg(c, NOTIFY_STRING, "pfadd", 1);
	}
	hll_free(&h);
	resp_int(c->out, updated ? 1 : 0);
}

/* PFCOUNT key [key ...]: one key answers (and caches) its estimate; several
 * answer the estimate of their union, caching nothing. */
static void cmd_pfcount(struct cmd_ctx *c)
{
	if (c->argc > 2) {
		uint8_t *max = kv_calloc(1, HLL_REGISTERS);
		for (int j = 1; j < c->argc; j++) {
			struct kv_entry *e = lookup_read(c, j);
			struct kv_slice v;
			if (!e)
				continue;
			if (!hll_value(c, e, &v)) {
				free(max);
				return;
			}
			if (hll_merge(max, v.ptr, v.len) == HLL_CORRUPT) {
				resp_error(c->out, ERR_INVALIDOBJ);
				free(max);
				return;
			}
		}
		resp_int(c->out, (int64_t)hll_count_raw(max));
		free(max);
		return;
	}
	struct kv_entry *e = lookup_read(c, 1);
	struct kv_slice v;
	if (!e) {
		resp_int(c->out, 0);
		return;
	}
	if (!hll_value(c, e, &v))
		return;
	uint64_t card;
	if (!hll_cached((const uint8_t *)v.ptr, &card)) {
		if (hll_count(v.ptr, v.len, &card) == HLL_CORRUPT) {
			resp_error(c->out, ERR_INVALIDOBJ);
			return;
		}
		uint8_t cache[8];
		hll_cache_bytes(card, cache);
		db_string_write(cmd_db_arg(c, 1), e, 8, cache, sizeof(cache));
	}
	resp_int(c->out, (int64_t)card);
}

/* PFMERGE destkey [sourcekey ...]: the destination (a source too) becomes
 * the union; dense when any input was dense. */
static void cmd_pfmerge(struct cmd_ctx *c)
{
	uint8_t *max = kv_calloc(1, HLL_REGISTERS);
	bool use_dense = false;
	for (int j = 1; j < c->argc; j++) {
		struct kv_entry *e = lookup_read(c, j);
		struct kv_slice v;
		if (!e)
			continue;
		if (!hll_value(c, e, &v)) {
			free(max);
			return;
		}
		if (hll_encoding_of(v.ptr) == HLL_DENSE)
			use_dense = true;
		if (hll_merge(max, v.ptr, v.len) == HLL_CORRUPT) {
			resp_error(c->out, ERR_INVALIDOBJ);
			free(max);
			return;
		}
	}
	struct kv_entry *e = lookup_write(c, 1);
	struct hll h;
	if (!e) {
		hll_init_empty(&h);
	} else {
		struct kv_slice v = entry_str(e);   /* checked as a source above */
		hll_init_copy(&h, v.ptr, v.len);
	}
	if (use_dense && hll_to_dense(&h) == HLL_CORRUPT) {
		resp_error(c->out, ERR_INVALIDOBJ);
		hll_free(&h);
		free(max);
		return;
	}
	size_t smax = sparse_max();
	for (long j = 0; j < HLL_REGISTERS; j++)
		if (max[j])
			hll_set(&h, j, max[j], smax);
	free(max);
	hll_invalidate_cache(h.p);
	store_back(c, 1, &h);
	effect_final_bytes(c, 1, &h);
	/* Redis publishes "pfadd" for PFMERGE too: a mass add of elements. */
	cmd_notify_arg(c, NOTIFY_STRING, "pfadd", 1);
	hll_free(&h);
	resp_ok(c->out);
}

/* PFDEBUG GETREG and TODENSE turn a sparse HLL dense in place; Redis logs
 * that (dirty++) but signals no change, so a WATCH of the key holds. */
static void pfdebug_store_dense(struct cmd_ctx *c, const struct hll *h)
{
	struct kv_db *db = cmd_db_arg(c, 2);
	uint64_t version = db_watch_peek(db, c->argv[2].ptr, c->argv[2].len);
	store_back(c, 2, h);
	db_watch_unchanged(db, c->argv[2].ptr, c->argv[2].len, version);
}

static void pfdebug_getreg(struct cmd_ctx *c, struct hll *h)
{
	int r = hll_to_dense(h);
	if (r == HLL_CORRUPT) {
		resp_error(c->out, ERR_INVALIDOBJ);
		return;
	}
	if (r == 1)
		pfdebug_store_dense(c, h);
	resp_array(c->out, HLL_REGISTERS);
	for (long j = 0; j < HLL_REGISTERS; j++)
		resp_int(c->out, hll_dense_get(h->p + HLL_HDR_SIZE, j));
}

/* PFDEBUG GETREG|DECODE|ENCODING|TODENSE key. */
static void cmd_pfdebug(struct cmd_ctx *c)
{
	const struct kv_slice *sub = &c->argv[1];
	struct kv_entry *e = lookup_write(c, 2);
	struct kv_slice v;
	if (!e) {
		resp_error(c->out, "ERR The specified key does not exist");
		return;
	}
	if (!hll_value(c, e, &v))
		return;
	struct hll h;
	hll_init_copy(&h, v.ptr, v.len);
	if (arg_is(sub, "getreg")) {
		pfdebug_getreg(c, &h);
	} else if (arg_is(sub, "decode")) {
		if (hll_encoding_of(h.p) != HLL_SPARSE) {
			resp_error(c->out, "ERR HLL encoding is not sparse");
		} else {
			size_t n;
			char *s = hll_decode_sparse(h.p, h.len, &n);
			resp_bulk(c->out, s, n);
			free(s);
		}
	} else if (arg_is(sub, "encoding")) {
		resp_simple(c->out, hll_encoding_of(h.p) == HLL_DENSE ? "dense" : "sparse");
	} else if (arg_is(sub, "todense")) {
		int r = hll_to_dense(&h);
		if (r == HLL_CORRUPT) {
			resp_error(c->out, ERR_INVALIDOBJ);
		} else {
			if (r == 1)
				pfdebug_store_dense(c, &h);
			resp_int(c->out, r);
		}
	} else {
		resp_errorf(c->out, "ERR Unknown PFDEBUG subcommand '%.*s'", (int)sub->len,
			    sub->ptr);
	}
	hll_free(&h);
}

static void cmd_pfselftest(struct cmd_ctx *c)
{
	const char *err = hll_selftest(sparse_max());
	if (err)
		resp_error(c->out, err);
	else
		resp_ok(c->out);
}

#define KEYS(first, last, step) .first_key = (first), .last_key = (last), .key_step = (step)

const struct kv_command cmd_table_hll[] = {
	{ .name = "pfadd", .arity = -2, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
	  KEYS(1, 1, 1), .proc = cmd_pfadd, .group = "hyperloglog", .since = "2.8.9",
	  .summary = "Adds the specified elements to the specified HyperLogLog.",
	  .complexity = "O(1) to add every element." },
	{ .name = "pfcount", .arity = -2, .flags = CMD_READONLY | CMD_MAY_REPLICATE,
	  KEYS(1, -1, 1), .proc = cmd_pfcount, .group = "hyperloglog", .since = "2.8.9",
	  .summary = "Return the approximated cardinality of the set(s) observed by the "
		     "HyperLogLog at key(s).",
	  .complexity = "O(1) with a very small average constant time when called with a "
			"single key. O(N) with N being the number of keys, and much bigger "
			"constant times, when called with multiple keys." },
	{ .name = "pfmerge", .arity = -2, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, -1, 1),
	  .proc = cmd_pfmerge, .group = "hyperloglog", .since = "2.8.9",
	  .summary = "Merge N different HyperLogLogs into a single one.",
	  .complexity = "O(N) to merge N HyperLogLogs, but with high constant times." },
	{ .name = "pfdebug", .arity = 3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_ADMIN,
	  KEYS(2, 2, 1), .proc = cmd_pfdebug, .group = "hyperloglog", .since = "2.8.9",
	  .summary = "Internal commands for debugging HyperLogLog values",
	  .complexity = "N/A" },
	{ .name = "pfselftest", .arity = 1, .flags = CMD_ADMIN | CMD_LOCAL, .proc = cmd_pfselftest,
	  .group = "hyperloglog", .since = "2.8.9",
	  .summary = "An internal command for testing HyperLogLog values",
	  .complexity = "N/A" },
	{ .name = NULL },
};
