/*
 * cmd_zset.c - the sorted set commands (Redis's "sorted-set" group, minus the
 * blocking BZPOPMIN/BZPOPMAX/BZMPOP, which live in server/blocking.c and
 * share ZMPOP's parse and pop through cmd_zset.h).
 *
 * Replies, error texts and the order in which errors are found are Redis
 * 7.0.15's for the same arguments (each checked against redis-server): the
 * order of parse, lookup and type check decides which error a client sees.
 * Scores print as Redis's d2string (zset_fmt_score).
 *
 * Value objects are zsets (t_zset.h) owned by the store.  Every in-place
 * change reports its memory delta through db_memory_adjust() before the key
 * is deleted when the change emptied it (an empty zset never stays in the
 * keyspace).  ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE name keys after numkeys, so
 * they carry a custom key function; the runtime then holds every keyspace
 * involved.  Plain sets (t_set.h) are accepted as their inputs with score 1.
 *
 * WATCH: each handler reports an in-place change (zset_signal) exactly where
 * Redis 7.0 calls signalModifiedKey, only when the zset really changed (a
 * ZADD/ZINCRBY that leaves the score as it was is no change); creating,
 * replacing and deleting a key the store reports itself.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/cmd.h"
#include "commands/cmd_zset.h"
#include "commands/fx.h"
#include "commands/notify.h"
#include "base/kv.h"
#include "store/effect_argv.h"
#include "commands/scan_args.h"
#include "store/store.h"
#include "store/t_set.h"
#include "store/t_zset.h"

__attribute__((constructor)) static void zset_type_register_at_start(void)
{
	zset_register_type();
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

/* The zset at argv[i]: *z = NULL when absent.  Returns false after replying
 * WRONGTYPE. */
static bool get_zset(struct cmd_ctx *c, int i, bool read, struct zset **z)
{
	struct kv_entry *e = read ? lookup_read(c, i) : lookup_write(c, i);
	*z = NULL;
	if (!e)
		return true;
	if (entry_type(e) != KV_TYPE_ZSET) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return false;
	}
	*z = entry_obj(e);
	return true;
}

/* After an in-place change of the zset at argv[i]: reports the memory delta
 * and deletes the key if the zset became empty. */
static void zset_changed(struct cmd_ctx *c, int i, struct zset *z, size_t mem_before)
{
	struct kv_db *db = cmd_db_arg(c, i);
	db_memory_adjust(db, (int64_t)zset_mem(z) - (int64_t)mem_before);
	if (zset_len(z) == 0)
		db_delete(db, c->argv[i].ptr, c->argv[i].len);
}

/* Reports an in-place change of the zset at argv[i] to WATCH, where Redis
 * 7.0 calls signalModifiedKey: only when the value really changed (the store
 * reports whole-key changes, creation and deletion, itself). */
static void zset_signal(const struct cmd_ctx *c, int i)
{
	db_signal_modified(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len);
}

/* After zset_add calls on the zset `orig` of argv[i] (created: orig is new
 * and not in the store yet) that left the zset in z: stores z, which may be
 * a new object (ZADD_OUT_MOVED), and accounts for the change. */
static void zset_commit(struct cmd_ctx *c, int i, struct zset *orig, struct zset *z,
			size_t mem_before, bool created)
{
	struct kv_db *db = cmd_db_arg(c, i);
	if (created) {
		if (z != orig)
			zset_free(orig);
		if (zset_len(z) > 0)
			db_set_object(db, c->argv[i].ptr, c->argv[i].len, KV_TYPE_ZSET, z,
				      KV_NO_EXPIRE);
		else
			zset_free(z);
		return;
	}
	if (z == orig) {
		zset_changed(c, i, z, mem_before);
		return;
	}
	/* orig may have changed in place before it moved; the store then
	 * subtracts its current size and frees it. */
	db_memory_adjust(db, (int64_t)zset_mem(orig) - (int64_t)mem_before);
	db_set_object(db, c->argv[i].ptr, c->argv[i].len, KV_TYPE_ZSET, z, KV_KEEP_EXPIRE);
}

/* zset_add on *zp that frees intermediate copies: orig stays allocated
 * (it is the store's), every later superseded copy is freed. */
static int add_tracked(struct zset *orig, struct zset **zp, double score,
		       const struct kv_slice *m, int flags, double *newscore)
{
	struct zset *before = *zp;
	int out = zset_add(zp, score, m->ptr, m->len, flags, newscore);
	if (*zp != before && before != orig)
		zset_free(before);
	return out;
}

/* A score as Redis's addReplyDouble writes it: a bulk in RESP2, a double
 * in RESP3 (same digits). */
static void reply_score(struct kv_buf *out, double score)
{
	char buf[ZSET_SCORE_MAX];
	int n = zset_fmt_score(buf, score);
	resp_double_text(out, buf, (size_t)n);
}

/* ZSCAN's scores are bulks in both protocols, as in Redis. */
static void reply_score_bulk(struct kv_buf *out, double score)
{
	char buf[ZSET_SCORE_MAX];
	int n = zset_fmt_score(buf, score);
	resp_bulk(out, buf, (size_t)n);
}

/* The header of a reply of n members, WITHSCORES or not: RESP2 flattens the
 * (member, score) pairs into one array of 2n, RESP3 nests them (n arrays of
 * 2: resp_pair before each). */
static void reply_members_header(struct kv_buf *out, size_t n, bool withscores)
{
	resp_array(out, (int64_t)(withscores && !resp_is3(out) ? 2 * n : n));
}

/* One member with its score, nested in RESP3. */
static void reply_elem_cb(void *arg, struct kv_slice m, double score)
{
	struct kv_buf *out = arg;
	resp_pair(out);
	resp_bulk(out, m.ptr, m.len);
	reply_score(out, score);
}

/* One member with its score, flat in both protocols (ZPOPMIN without a
 * count). */
static void reply_flat_elem_cb(void *arg, struct kv_slice m, double score)
{
	struct kv_buf *out = arg;
	resp_bulk(out, m.ptr, m.len);
	reply_score(out, score);
}

/* Redis compares option words as C strings: cut at the first NUL. */
static bool opt_is(const struct kv_slice *a, const char *word)
{
	const char *nul = memchr(a->ptr, '\0', a->len);
	struct kv_slice cut = { a->ptr, nul ? (size_t)(nul - a->ptr) : a->len };
	return arg_is(&cut, word);
}

/* A NUL-terminated copy of an argument cut at its first NUL, as Redis's
 * C-string parsers see it.  Returns false if it does not fit. */
static bool arg_cstr(const struct kv_slice *a, char *buf, size_t cap, size_t skip)
{
	const char *p = a->ptr + skip;
	size_t n = a->len - skip;
	const char *nul = memchr(p, '\0', n);
	if (nul)
		n = (size_t)(nul - p);
	if (n + 1 > cap)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

/* Redis's getDoubleFromObject: strtod over the whole argument; no leading
 * space, no NaN, no overflow or underflow to zero. */
static bool arg_to_double(const struct kv_slice *a, double *out)
{
	char buf[512];
	if (a->len == 0 || a->len >= sizeof(buf))
		return false;
	memcpy(buf, a->ptr, a->len);
	buf[a->len] = '\0';
	char *end;
	errno = 0;
	double v = strtod(buf, &end);
	if (isspace((unsigned char)buf[0]) || (size_t)(end - buf) != a->len ||
	    (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0)) || isnan(v))
		return false;
	*out = v;
	return true;
}

/* Redis's zslParseRange item: "(" for exclusive, then strtod of the rest as
 * a C string; trailing bytes or NaN are errors (and nothing else is). */
static bool parse_score_bound(const struct kv_slice *a, double *v, bool *ex)
{
	char buf[512];
	*ex = a->len > 0 && a->ptr[0] == '(';
	if (!arg_cstr(a, buf, sizeof(buf), *ex ? 1 : 0))
		return false;
	char *end;
	*v = strtod(buf, &end);
	return *end == '\0' && !isnan(*v);
}

static bool parse_score_range(const struct kv_slice *min, const struct kv_slice *max,
			      struct zset_score_range *r)
{
	return parse_score_bound(min, &r->min, &r->minex) &&
	       parse_score_bound(max, &r->max, &r->maxex);
}

static bool parse_lex_bound(const struct kv_slice *a, struct zset_lex_bound *b)
{
	b->inf = 0;
	b->ex = false;
	b->s = (struct kv_slice){ NULL, 0 };
	if (a->len == 0)
		return false;
	switch (a->ptr[0]) {
	case '+':
	case '-':
		if (a->len > 1 && a->ptr[1] != '\0')
			return false;
		b->inf = a->ptr[0] == '+' ? 1 : -1;
		return true;
	case '(':
	case '[':
		b->ex = a->ptr[0] == '(';
		b->s = (struct kv_slice){ a->ptr + 1, a->len - 1 };
		return true;
	default:
		return false;
	}
}

static bool parse_lex_range(const struct kv_slice *min, const struct kv_slice *max,
			    struct zset_lex_range *r)
{
	return parse_lex_bound(min, &r->min) && parse_lex_bound(max, &r->max);
}

#define ERR_NOT_FLOAT_RANGE "ERR min or max is not a float"
#define ERR_NOT_LEX_RANGE "ERR min or max not valid string range item"
#define ERR_NAN "ERR resulting score is not a number (NaN)"

/* ---- ZADD / ZINCRBY ---- */

/* ZADD's effect once its arguments are parsed: scores[j] goes with the
 * member at argv[first + stride * j].  Also ZINCRBY's (== ZADD key INCR
 * incr m) and GEOADD's (cmd_zset.h). */
void zset_add_members(struct cmd_ctx *c, int flags, bool ch, const double *scores,
		      int elements, int first, int stride)
{
	bool xx = flags & ZADD_IN_XX, incr = flags & ZADD_IN_INCR;
	struct zset *z;
	if (!get_zset(c, 1, false, &z))
		return;
	bool created = false;
	int64_t added = 0, updated = 0, processed = 0;
	double score = 0;
	size_t mem_before = 0;
	bool nan_err = false;
	if (!z) {
		if (xx)
			goto reply;
		z = zset_new();
		created = true;
	} else {
		mem_before = zset_mem(z);
	}
	struct zset *orig = z;
	for (int j = 0; j < elements; j++) {
		const struct kv_slice *m = &c->argv[first + stride * j];
		int out = add_tracked(orig, &z, scores[j], m, flags, &score);
		if (out & ZADD_OUT_NAN) {
			nan_err = true;
			break;
		}
		if (out & ZADD_OUT_ADDED) added++;
		if (out & ZADD_OUT_UPDATED) updated++;
		if (!(out & ZADD_OUT_NOP)) processed++;
	}
	zset_commit(c, 1, orig, z, mem_before, created);
	/* A score set to its current value (ZADD INCR 0 included) is no change. */
	if (!created && (added || updated))
		zset_signal(c, 1);
	if (added || updated)
		cmd_notify_arg(c, NOTIFY_ZSET, incr ? "zincr" : "zadd", 1);
	if (nan_err) {
		resp_error(c->out, ERR_NAN);
		return;
	}
reply:
	if (incr) {
		if (processed)
			reply_score(c->out, score);
		else
			resp_null(c->out);
	} else {
		resp_int(c->out, ch ? added + updated : added);
	}
}

static void zadd_generic(struct cmd_ctx *c, int flags)
{
	int idx = 2;
	bool ch = false;
	for (; idx < c->argc; idx++) {
		const struct kv_slice *a = &c->argv[idx];
		if (opt_is(a, "nx")) flags |= ZADD_IN_NX;
		else if (opt_is(a, "xx")) flags |= ZADD_IN_XX;
		else if (opt_is(a, "ch")) ch = true;
		else if (opt_is(a, "incr")) flags |= ZADD_IN_INCR;
		else if (opt_is(a, "gt")) flags |= ZADD_IN_GT;
		else if (opt_is(a, "lt")) flags |= ZADD_IN_LT;
		else break;
	}
	int elements = c->argc - idx;
	if (elements == 0 || elements % 2) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	elements /= 2;
	bool nx = flags & ZADD_IN_NX, xx = flags & ZADD_IN_XX, gt = flags & ZADD_IN_GT,
	     lt = flags & ZADD_IN_LT, incr = flags & ZADD_IN_INCR;
	if (nx && xx) {
		resp_error(c->out, "ERR XX and NX options at the same time are not compatible");
		return;
	}
	if ((gt && nx) || (lt && nx) || (gt && lt)) {
		resp_error(c->out, "ERR GT, LT, and/or NX options at the same time are not compatible");
		return;
	}
	if (incr && elements > 1) {
		resp_error(c->out, "ERR INCR option supports a single increment-element pair");
		return;
	}
	double *scores = kv_malloc((size_t)elements * sizeof(double));
	for (int j = 0; j < elements; j++) {
		if (!arg_to_double(&c->argv[idx + 2 * j], &scores[j])) {
			resp_error(c->out, RESP_ERR_NOT_FLOAT);
			free(scores);
			return;
		}
	}
	zset_add_members(c, flags, ch, scores, elements, idx + 1, 2);
	free(scores);
}

static void cmd_zadd(struct cmd_ctx *c) { zadd_generic(c, 0); }

static void cmd_zincrby(struct cmd_ctx *c)
{
	/* ZINCRBY key increment member == ZADD key INCR increment member. */
	double incr;
	if (!arg_to_double(&c->argv[2], &incr)) {
		resp_error(c->out, RESP_ERR_NOT_FLOAT);
		return;
	}
	zset_add_members(c, ZADD_IN_INCR, false, &incr, 1, 3, 2);
}

/* ---- simple reads and removal ---- */

static void cmd_zrem(struct cmd_ctx *c)
{
	struct zset *z;
	if (!get_zset(c, 1, false, &z))
		return;
	if (!z) {
		resp_int(c->out, 0);
		return;
	}
	size_t before = zset_mem(z);
	int64_t deleted = 0;
	for (int j = 2; j < c->argc && zset_len(z) > 0; j++)
		deleted += zset_del(z, c->argv[j].ptr, c->argv[j].len);
	if (deleted)
		zset_signal(c, 1);
	zset_changed(c, 1, z, before);
	if (deleted)
		notify_pop(c, NOTIFY_ZSET, "zrem", cmd_db_arg(c, 1), c->argv[1].ptr, c->argv[1].len);
	resp_int(c->out, deleted);
}

static void cmd_zscore(struct cmd_ctx *c)
{
	struct zset *z;
	double s;
	if (!get_zset(c, 1, true, &z))
		return;
	if (z && zset_score(z, c->argv[2].ptr, c->argv[2].len, &s))
		reply_score(c->out, s);
	else
		resp_null(c->out);
}

static void cmd_zmscore(struct cmd_ctx *c)
{
	struct zset *z;
	double s;
	if (!get_zset(c, 1, true, &z))
		return;
	resp_array(c->out, c->argc - 2);
	for (int j = 2; j < c->argc; j++) {
		if (z && zset_score(z, c->argv[j].ptr, c->argv[j].len, &s))
			reply_score(c->out, s);
		else
			resp_null(c->out);
	}
}

static void cmd_zcard(struct cmd_ctx *c)
{
	struct zset *z;
	if (!get_zset(c, 1, true, &z))
		return;
	resp_int(c->out, z ? (int64_t)zset_len(z) : 0);
}

static void cmd_zcount(struct cmd_ctx *c)
{
	struct zset_score_range r;
	if (!parse_score_range(&c->argv[2], &c->argv[3], &r)) {
		resp_error(c->out, ERR_NOT_FLOAT_RANGE);
		return;
	}
	struct zset *z;
	if (!get_zset(c, 1, true, &z))
		return;
	size_t first;
	resp_int(c->out, z ? (int64_t)zset_score_span(z, &r, false, &first) : 0);
}

static void cmd_zlexcount(struct cmd_ctx *c)
{
	struct zset_lex_range r;
	if (!parse_lex_range(&c->argv[2], &c->argv[3], &r)) {
		resp_error(c->out, ERR_NOT_LEX_RANGE);
		return;
	}
	struct zset *z;
	if (!get_zset(c, 1, true, &z))
		return;
	resp_int(c->out, z ? (int64_t)zset_lex_count(z, &r) : 0);
}

static void zrank_generic(struct cmd_ctx *c, bool rev)
{
	struct zset *z;
	if (!get_zset(c, 1, true, &z))
		return;
	int64_t r = z ? zset_rank(z, c->argv[2].ptr, c->argv[2].len, rev, NULL) : -1;
	if (r < 0)
		resp_null(c->out);
	else
		resp_int(c->out, r);
}

static void cmd_zrank(struct cmd_ctx *c) { zrank_generic(c, false); }
static void cmd_zrevrank(struct cmd_ctx *c) { zrank_generic(c, true); }

/* ---- ZRANGE and its family ---- */

enum range_type { RANGE_AUTO, RANGE_RANK, RANGE_SCORE, RANGE_LEX };
enum range_dir { DIR_AUTO, DIR_FORWARD, DIR_REVERSE };

/* Replies with count elements from rank first (direction rev). */
static void reply_ranks(struct cmd_ctx *c, struct zset *z, size_t first, size_t count,
			bool rev, bool withscores)
{
	reply_members_header(c->out, count, withscores);
	if (count == 0)
		return;
	struct zset_iter *it = kv_malloc(sizeof(*it));
	zset_iter_init(z, it, first, rev);
	struct kv_slice m;
	double s;
	for (size_t i = 0; i < count && zset_iter_next(it, &m, &s); i++) {
		if (withscores)
			resp_pair(c->out);
		resp_bulk(c->out, m.ptr, m.len);
		if (withscores)
			reply_score(c->out, s);
	}
	free(it);
}

/* ZRANGESTORE's result: count elements from rank first (direction rev) of
 * z, or nothing when z is NULL, stored at argv[1] (an empty result deletes
 * it, as Redis); replies with the size.  by_rank: the range was given as
 * ranks, so Redis knew its length before storing (see below). */
static void store_ranks(struct cmd_ctx *c, struct zset *z, size_t first, size_t count,
			bool rev, bool by_rank)
{
	struct kv_db *db = cmd_db_arg(c, 1);
	const struct kv_slice *dst = &c->argv[1];
	if (!z || count == 0) {
		if (db_delete(db, dst->ptr, dst->len))
			cmd_notify_arg(c, NOTIFY_GENERIC, "del", 1);
		resp_int(c->out, 0);
		return;
	}
	/* As Redis's ZRANGESTORE: a skiplist when a rank range has more
	 * elements than zset-max-listpack-entries, else packed, converting as
	 * it goes (too many elements, a long member).  A BYSCORE or BYLEX range
	 * always starts packed: Redis does not count it first.  Which matters
	 * for -0: the packed form keeps none, so an element added before a
	 * conversion ends at 0. */
	struct zset *res = zset_new_for(by_rank ? count : 0);
	struct zset_iter *it = kv_malloc(sizeof(*it));
	zset_iter_init(z, it, first, rev);
	struct kv_slice m;
	double s;
	size_t n = 0;
	for (; n < count && zset_iter_next(it, &m, &s); n++) {
		struct zset *before = res;
		if (zset_add(&res, s, m.ptr, m.len, 0, NULL) & ZADD_OUT_MOVED)
			zset_free(before);   /* grown or converted: the old copy is ours */
	}
	free(it);
	zset_pack_if_fits(&res);
	db_set_object(db, dst->ptr, dst->len, KV_TYPE_ZSET, res, KV_NO_EXPIRE);
	cmd_notify_arg(c, NOTIFY_ZSET, "zrangestore", 1);
	resp_int(c->out, (int64_t)n);
}

/* Where a range goes: the reply, or (store) ZRANGESTORE's destination. */
static void range_emit(struct cmd_ctx *c, bool store, struct zset *z, size_t first,
		       size_t count, bool rev, bool withscores, bool by_rank)
{
	if (store)
		store_ranks(c, z, first, count, rev, by_rank);
	else
		reply_ranks(c, z, first, z ? count : 0, rev, withscores);
}

/* Z[REV]RANGE[BYSCORE|BYLEX] and ZRANGESTORE: the source key is argv[k],
 * min and max follow it, then the options; store: ZRANGESTORE, whose
 * destination is argv[1] (it takes no WITHSCORES). */
static void zrange_generic(struct cmd_ctx *c, int k, bool store, enum range_type type,
			   enum range_dir dir)
{
	bool withscores = false;
	int64_t offset = 0, limit = -1;
	int minidx = k + 1, maxidx = k + 2;
	for (int j = k + 3; j < c->argc; j++) {
		int left = c->argc - j - 1;
		const struct kv_slice *a = &c->argv[j];
		if (!store && opt_is(a, "withscores")) {
			withscores = true;
		} else if (opt_is(a, "limit") && left >= 2) {
			if (!arg_to_int64(&c->argv[j + 1], &offset) ||
			    !arg_to_int64(&c->argv[j + 2], &limit)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
			j += 2;
		} else if (dir == DIR_AUTO && opt_is(a, "rev")) {
			dir = DIR_REVERSE;
		} else if (type == RANGE_AUTO && opt_is(a, "bylex")) {
			type = RANGE_LEX;
		} else if (type == RANGE_AUTO && opt_is(a, "byscore")) {
			type = RANGE_SCORE;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	if (dir == DIR_AUTO)
		dir = DIR_FORWARD;
	if (type == RANGE_AUTO)
		type = RANGE_RANK;
	bool rev = dir == DIR_REVERSE;
	/* Redis 7.0 rejects only a count other than -1 here: a rank range
	 * ignores LIMIT <offset> -1. */
	if (limit != -1 && type == RANGE_RANK) {
		resp_error(c->out, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
		return;
	}
	if (withscores && type == RANGE_LEX) {
		resp_error(c->out, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
		return;
	}
	if (rev && type != RANGE_RANK) {
		minidx = k + 2;
		maxidx = k + 1;
	}
	int64_t start = 0, end = 0;
	struct zset_score_range sr;
	struct zset_lex_range lr;
	if (type == RANGE_RANK) {
		if (!arg_to_int64(&c->argv[minidx], &start) || !arg_to_int64(&c->argv[maxidx], &end)) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return;
		}
	} else if (type == RANGE_SCORE) {
		if (!parse_score_range(&c->argv[minidx], &c->argv[maxidx], &sr)) {
			resp_error(c->out, ERR_NOT_FLOAT_RANGE);
			return;
		}
	} else if (!parse_lex_range(&c->argv[minidx], &c->argv[maxidx], &lr)) {
		resp_error(c->out, ERR_NOT_LEX_RANGE);
		return;
	}
	struct zset *z;
	/* Redis reads the source with lookupKeyRead even for ZRANGESTORE. */
	if (!get_zset(c, k, true, &z))
		return;
	if (!z) {
		range_emit(c, store, NULL, 0, 0, rev, withscores, type == RANGE_RANK);
		return;
	}
	int64_t len = (int64_t)zset_len(z);
	if (type == RANGE_RANK) {
		if (start < 0) start += len;
		if (end < 0) end += len;
		if (start < 0) start = 0;
		if (start > end || start >= len) {
			range_emit(c, store, z, 0, 0, rev, withscores, true);
			return;
		}
		if (end >= len) end = len - 1;
		range_emit(c, store, z, (size_t)start, (size_t)(end - start + 1), rev,
			   withscores, true);
		return;
	}
	size_t first = 0, count;
	/* A negative offset skips everything; a negative limit means no limit. */
	if (offset < 0) {
		range_emit(c, store, z, 0, 0, rev, withscores, false);
		return;
	}
	if (type == RANGE_SCORE) {
		count = zset_score_span(z, &sr, rev, &first);
		if ((uint64_t)offset >= count) {
			range_emit(c, store, z, 0, 0, rev, withscores, false);
			return;
		}
		first += (size_t)offset;
		count -= (size_t)offset;
	} else {
		count = zset_lex_span(z, &lr, rev, (uint64_t)offset, &first);
	}
	if (limit >= 0 && (uint64_t)limit < count)
		count = (size_t)limit;
	range_emit(c, store, z, first, count, rev, withscores, false);
}

static void cmd_zrange(struct cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_AUTO, DIR_AUTO); }
static void cmd_zrangestore(struct cmd_ctx *c) { zrange_generic(c, 2, true, RANGE_AUTO, DIR_AUTO); }
static void cmd_zrevrange(struct cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_RANK, DIR_REVERSE); }
static void cmd_zrangebyscore(struct cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_SCORE, DIR_FORWARD); }
static void cmd_zrevrangebyscore(struct cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_SCORE, DIR_REVERSE); }
static void cmd_zrangebylex(struct cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_LEX, DIR_FORWARD); }
static void cmd_zrevrangebylex(struct cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_LEX, DIR_REVERSE); }

/* ---- ZREMRANGEBY* ---- */

static void zremrange_generic(struct cmd_ctx *c, enum range_type type)
{
	int64_t start = 0, end = 0;
	struct zset_score_range sr;
	struct zset_lex_range lr;
	if (type == RANGE_RANK) {
		if (!arg_to_int64(&c->argv[2], &start) || !arg_to_int64(&c->argv[3], &end)) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return;
		}
	} else if (type == RANGE_SCORE) {
		if (!parse_score_range(&c->argv[2], &c->argv[3], &sr)) {
			resp_error(c->out, ERR_NOT_FLOAT_RANGE);
			return;
		}
	} else if (!parse_lex_range(&c->argv[2], &c->argv[3], &lr)) {
		resp_error(c->out, ERR_NOT_LEX_RANGE);
		return;
	}
	struct zset *z;
	if (!get_zset(c, 1, false, &z))
		return;
	if (!z) {
		resp_int(c->out, 0);
		return;
	}
	int64_t len = (int64_t)zset_len(z);
	size_t first, count;
	if (type == RANGE_RANK) {
		if (start < 0) start += len;
		if (end < 0) end += len;
		if (start < 0) start = 0;
		if (start > end || start >= len) {
			resp_int(c->out, 0);
			return;
		}
		if (end >= len) end = len - 1;
		first = (size_t)start;
		count = (size_t)(end - start + 1);
	} else if (type == RANGE_SCORE) {
		count = zset_score_span(z, &sr, false, &first);
	} else {
		count = zset_lex_span(z, &lr, false, 0, &first);
	}
	if (count > 0) {
		size_t before = zset_mem(z);
		zset_delete_rank_range(z, first, first + count - 1);
		zset_signal(c, 1);
		zset_changed(c, 1, z, before);
		static const char *const events[] = {
			[RANGE_RANK] = "zremrangebyrank", [RANGE_SCORE] = "zremrangebyscore",
			[RANGE_LEX] = "zremrangebylex",
		};
		notify_pop(c, NOTIFY_ZSET, events[type], cmd_db_arg(c, 1), c->argv[1].ptr,
			   c->argv[1].len);
	}
	resp_int(c->out, (int64_t)count);
}

static void cmd_zremrangebyrank(struct cmd_ctx *c) { zremrange_generic(c, RANGE_RANK); }
static void cmd_zremrangebyscore(struct cmd_ctx *c) { zremrange_generic(c, RANGE_SCORE); }
static void cmd_zremrangebylex(struct cmd_ctx *c) { zremrange_generic(c, RANGE_LEX); }

/* ---- ZPOPMIN / ZPOPMAX ---- */

static void zpop_generic(struct cmd_ctx *c, bool max)
{
	int64_t count = 1;
	if (c->argc > 3) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	if (c->argc == 3 && (!arg_to_int64(&c->argv[2], &count) || count < 0)) {
		resp_error(c->out, "ERR value is out of range, must be positive");
		return;
	}
	struct zset *z;
	if (!get_zset(c, 1, false, &z))
		return;
	if (!z || count == 0) {
		resp_array(c->out, 0);
		return;
	}
	size_t len = zset_len(z);
	size_t n = (uint64_t)count < len ? (size_t)count : len;
	size_t before = zset_mem(z);
	/* In RESP3 Redis nests the pairs only when a count was given. */
	bool nested = c->argc == 3 && resp_is3(c->out);
	resp_array(c->out, (int64_t)(nested ? n : 2 * n));
	zset_pop(z, max, n, nested ? reply_elem_cb : reply_flat_elem_cb, c->out);
	zset_signal(c, 1);   /* n > 0: the zset is not empty */
	zset_changed(c, 1, z, before);
	notify_pop(c, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", cmd_db_arg(c, 1), c->argv[1].ptr,
		   c->argv[1].len);
}

static void cmd_zpopmin(struct cmd_ctx *c) { zpop_generic(c, false); }
static void cmd_zpopmax(struct cmd_ctx *c) { zpop_generic(c, true); }

/* ---- ZMPOP (and BZMPOP's parse and pop, cmd_zset.h) ---- */

const char *zset_mpop_parse(int argc, const struct kv_slice *argv, int numkeys_idx,
			    int64_t *numkeys, bool *max, int64_t *count)
{
	if (!arg_to_int64(&argv[numkeys_idx], numkeys) || *numkeys < 1)
		return "ERR numkeys should be greater than 0";
	/* Compared before adding: numkeys may be near INT64_MAX. */
	if (*numkeys >= argc - numkeys_idx - 1)
		return RESP_ERR_SYNTAX;
	int where_idx = numkeys_idx + 1 + (int)*numkeys;
	if (opt_is(&argv[where_idx], "min"))
		*max = false;
	else if (opt_is(&argv[where_idx], "max"))
		*max = true;
	else
		return RESP_ERR_SYNTAX;
	*count = -1;
	for (int j = where_idx + 1; j < argc; j++) {
		if (*count == -1 && opt_is(&argv[j], "count") && j + 1 < argc) {
			j++;
			if (!arg_to_int64(&argv[j], count) || *count < 1)
				return "ERR count should be greater than 0";
		} else {
			return RESP_ERR_SYNTAX;
		}
	}
	if (*count == -1)
		*count = 1;
	return NULL;
}

static void mpop_elem_cb(void *arg, struct kv_slice m, double score)
{
	struct kv_buf *out = arg;
	resp_array(out, 2);
	resp_bulk(out, m.ptr, m.len);
	reply_score(out, score);
}

size_t zset_mpop_reply(struct kv_db *db, const char *key, size_t klen, struct zset *z,
		       bool max, size_t count, struct kv_buf *out)
{
	size_t len = zset_len(z);
	size_t n = count < len ? count : len;
	kv_assert(n > 0);
	size_t before = zset_mem(z);
	resp_array(out, 2);
	resp_bulk(out, key, klen);
	resp_array(out, (int64_t)n);
	zset_pop(z, max, n, mpop_elem_cb, out);
	db_memory_adjust(db, (int64_t)zset_mem(z) - (int64_t)before);
	db_signal_modified(db, key, klen);
	if (zset_len(z) == 0)
		db_delete(db, key, klen);
	return n;
}

/* Keys of ZMPOP: argv[2 .. 2+numkeys); -1 when numkeys is not a usable
 * count (the handler says why) or more keys than idx holds (a truncated
 * list would hide keys of other shards from the runtime). */
static int zmpop_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	int64_t numkeys;
	if (argc < 3 || !arg_to_int64(&argv[1], &numkeys) || numkeys < 1 ||
	    numkeys > argc - 3 || numkeys > max)
		return -1;
	for (int64_t i = 0; i < numkeys; i++)
		idx[i] = (int)(2 + i);
	return (int)numkeys;
}

static void cmd_zmpop(struct cmd_ctx *c)
{
	int64_t numkeys, count;
	bool max;
	const char *err = zset_mpop_parse(c->argc, c->argv, 1, &numkeys, &max, &count);
	if (err) {
		resp_error(c->out, err);
		return;
	}
	/* The first key that exists decides, as Redis's genericZpopCommand:
	 * a wrong type after it is never looked at. */
	for (int i = 2; i < 2 + (int)numkeys; i++) {
		struct zset *z;
		if (!get_zset(c, i, false, &z))
			return;
		if (!z)
			continue;
		const struct kv_slice *key = &c->argv[i];
		size_t n = zset_mpop_reply(cmd_db_arg(c, i), key->ptr, key->len, z, max,
					   (size_t)count, c->out);
		/* Logged as ZPOPMIN/ZPOPMAX key n on the key's own shard, as Redis
		 * propagates it: replay needs no other shard's keys. */
		char buf[EFFECT_NUM_MAX];
		struct kv_slice argv[3] = {
			max ? (struct kv_slice){ "ZPOPMAX", 7 } : (struct kv_slice){ "ZPOPMIN", 7 },
			*key,
			effect_int(buf, (int64_t)n),
		};
		cmd_effect(c, 3, argv);
		notify_pop(c, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", cmd_db_arg(c, i), key->ptr,
			   key->len);
		return;
	}
	resp_null_array(c->out);
}

/* ---- ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE ---- */

enum setop { OP_UNION, OP_INTER, OP_DIFF };
enum aggr { AGGR_SUM, AGGR_MIN, AGGR_MAX };

/* Keys: the destination, then numkeys sources.  -1 when numkeys is not a
 * usable count; the handler reports why. */
static int zset_setop_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	int64_t numkeys;
	if (argc < 3 || !arg_to_int64(&argv[2], &numkeys) || numkeys < 1 ||
	    numkeys > argc - 3)
		return max >= 1 ? (idx[0] = 1, 1) : -1;
	if (numkeys + 1 > max)
		return -1;
	idx[0] = 1;
	for (int64_t i = 0; i < numkeys; i++)
		idx[i + 1] = (int)(3 + i);
	return (int)numkeys + 1;
}

struct setop_src {
	struct zset *z;
	struct kv_set *s;
	double weight;
	size_t len;
};

static bool src_score(struct setop_src *src, const char *m, size_t mlen, double *score)
{
	if (src->z)
		return zset_score(src->z, m, mlen, score);
	if (src->s && set_contains(src->s, m, mlen)) {
		*score = 1.0;
		return true;
	}
	return false;
}

static double aggregate(enum aggr a, double cur, double v)
{
	if (a == AGGR_SUM) {
		double r = cur + v;
		return isnan(r) ? 0.0 : r;   /* inf + -inf counts as 0, as Redis */
	}
	if (a == AGGR_MIN)
		return v < cur ? v : cur;
	return v > cur ? v : cur;
}

struct setop_walk {
	struct zset *dst;
	struct setop_src *srcs;
	int nsrc;
	int self;              /* index of the source being walked */
	enum setop op;
	enum aggr aggr;
};

static void setop_elem(struct setop_walk *w, const char *m, size_t mlen, double score)
{
	struct setop_src *me = &w->srcs[w->self];
	double v = me->weight * score;
	if (isnan(v))
		v = 0;
	if (w->op == OP_UNION) {
		double cur;
		if (zset_score(w->dst, m, mlen, &cur))
			v = aggregate(w->aggr, cur, v);
		zset_add(&w->dst, v, m, mlen, ZADD_IN_EXACT, NULL);
	} else if (w->op == OP_INTER) {
		for (int j = 0; j < w->nsrc; j++) {
			if (j == w->self)
				continue;
			double s;
			if (!src_score(&w->srcs[j], m, mlen, &s))
				return;
			/* Only the walked set's product is cleared of NaN; here a
			 * NaN product reaches the aggregate (SUM turns it into 0). */
			v = aggregate(w->aggr, v, w->srcs[j].weight * s);
		}
		zset_add(&w->dst, v, m, mlen, 0, NULL);
	} else {
		for (int j = 1; j < w->nsrc; j++) {
			double s;
			if (src_score(&w->srcs[j], m, mlen, &s))
				return;
		}
		zset_add(&w->dst, score, m, mlen, 0, NULL);
	}
}

static void setop_zset_cb(void *arg, struct kv_slice m, double score)
{
	setop_elem(arg, m.ptr, m.len, score);
}

static bool setop_set_cb(void *arg, const char *m, size_t len)
{
	setop_elem(arg, m, len, 1.0);
	return true;
}

static int cmp_src_len(const void *a, const void *b)
{
	const struct setop_src *x = a, *y = b;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* What a set operation does with its result: store it at argv[1] (numkeys
 * at argv[2]), reply with it, or reply with its size (numkeys at argv[1]). */
enum setop_out { OUT_STORE, OUT_REPLY, OUT_CARD };

static void setop_reply_member_cb(void *arg, struct kv_slice m, double score)
{
	resp_bulk(arg, m.ptr, m.len);
}

static void setop_generic(struct cmd_ctx *c, enum setop op, enum setop_out to,
			  const char *name)
{
	int numidx = to == OUT_STORE ? 2 : 1;
	int64_t numkeys;
	if (!arg_to_int64(&c->argv[numidx], &numkeys)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	if (numkeys < 1) {
		resp_errorf(c->out, "ERR at least 1 input key is needed for '%s' command", name);
		return;
	}
	if (numkeys > c->argc - (numidx + 1)) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	int n = (int)numkeys;
	int first = numidx + 1;
	struct setop_src *srcs = kv_calloc((size_t)n, sizeof(*srcs));
	for (int i = 0; i < n; i++) {
		/* Sources are reads (keyspace hits, "keymiss"), the stored forms'
		 * too: Redis 7.0 looks them up with lookupKeyRead. */
		struct kv_entry *e = lookup_read(c, first + i);
		srcs[i].weight = 1.0;
		if (!e)
			continue;
		if (entry_type(e) == KV_TYPE_ZSET) {
			srcs[i].z = entry_obj(e);
			srcs[i].len = zset_len(srcs[i].z);
		} else if (entry_type(e) == KV_TYPE_SET) {
			srcs[i].s = entry_obj(e);
			srcs[i].len = (size_t)set_size(srcs[i].s);
		} else {
			resp_error(c->out, RESP_ERR_WRONGTYPE);
			goto done;
		}
	}
	enum aggr aggr = AGGR_SUM;
	bool withscores = false;
	int64_t limit = 0;
	int j = first + n;
	int remaining = c->argc - j;
	while (remaining) {
		if (to == OUT_CARD) {
			if (remaining >= 2 && opt_is(&c->argv[j], "limit")) {
				/* Redis gives this one error for any bad LIMIT. */
				if (!arg_to_int64(&c->argv[j + 1], &limit) || limit < 0) {
					resp_error(c->out, "ERR LIMIT can't be negative");
					goto done;
				}
				j += 2;
				remaining -= 2;
				continue;
			}
			resp_error(c->out, RESP_ERR_SYNTAX);
			goto done;
		}
		if (to == OUT_REPLY && opt_is(&c->argv[j], "withscores")) {
			withscores = true;
			j++;
			remaining--;
		} else if (op != OP_DIFF && remaining >= n + 1 && opt_is(&c->argv[j], "weights")) {
			j++;
			remaining--;
			for (int i = 0; i < n; i++, j++, remaining--) {
				if (!arg_to_double(&c->argv[j], &srcs[i].weight)) {
					resp_error(c->out, "ERR weight value is not a float");
					goto done;
				}
			}
		} else if (op != OP_DIFF && remaining >= 2 && opt_is(&c->argv[j], "aggregate")) {
			const struct kv_slice *a = &c->argv[j + 1];
			if (opt_is(a, "sum")) aggr = AGGR_SUM;
			else if (opt_is(a, "min")) aggr = AGGR_MIN;
			else if (opt_is(a, "max")) aggr = AGGR_MAX;
			else {
				resp_error(c->out, RESP_ERR_SYNTAX);
				goto done;
			}
			j += 2;
			remaining -= 2;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			goto done;
		}
	}
	/* Smallest input first: fewer lookups for an intersection. */
	if (op != OP_DIFF)
		qsort(srcs, (size_t)n, sizeof(*srcs), cmp_src_len);
	struct setop_walk w = { zset_new_skiplist(), srcs, n, 0, op, aggr };
	int walk_to = op == OP_UNION ? n : 1;
	bool skip = op == OP_INTER && srcs[0].len == 0;
	for (int i = 0; i < walk_to && !skip; i++) {
		w.self = i;
		if (srcs[i].z)
			zset_foreach(srcs[i].z, setop_zset_cb, &w);
		else if (srcs[i].s)
			set_foreach(srcs[i].s, setop_set_cb, &w);
	}
	size_t len = zset_len(w.dst);
	if (to == OUT_CARD) {
		resp_int(c->out, (int64_t)(limit > 0 && (uint64_t)limit < len ? (size_t)limit : len));
		zset_free(w.dst);
		goto done;
	}
	if (to == OUT_REPLY) {
		reply_members_header(c->out, len, withscores);
		zset_foreach(w.dst, withscores ? reply_elem_cb : setop_reply_member_cb, c->out);
		zset_free(w.dst);
		goto done;
	}
	struct kv_db *db = cmd_db_arg(c, 1);
	zset_pack_if_fits(&w.dst);
	if (len > 0) {
		db_set_object(db, c->argv[1].ptr, c->argv[1].len, KV_TYPE_ZSET, w.dst,
			      KV_NO_EXPIRE);
		cmd_notify_arg(c, NOTIFY_ZSET, name, 1);   /* "zunionstore", ... */
	} else {
		zset_free(w.dst);
		if (db_delete(db, c->argv[1].ptr, c->argv[1].len))
			cmd_notify_arg(c, NOTIFY_GENERIC, "del", 1);
	}
	resp_int(c->out, (int64_t)len);
done:
	free(srcs);
}

static void cmd_zunionstore(struct cmd_ctx *c) { setop_generic(c, OP_UNION, OUT_STORE, "zunionstore"); }
static void cmd_zinterstore(struct cmd_ctx *c) { setop_generic(c, OP_INTER, OUT_STORE, "zinterstore"); }
static void cmd_zdiffstore(struct cmd_ctx *c) { setop_generic(c, OP_DIFF, OUT_STORE, "zdiffstore"); }
static void cmd_zunion(struct cmd_ctx *c) { setop_generic(c, OP_UNION, OUT_REPLY, "zunion"); }
static void cmd_zinter(struct cmd_ctx *c) { setop_generic(c, OP_INTER, OUT_REPLY, "zinter"); }
static void cmd_zdiff(struct cmd_ctx *c) { setop_generic(c, OP_DIFF, OUT_REPLY, "zdiff"); }
static void cmd_zintercard(struct cmd_ctx *c) { setop_generic(c, OP_INTER, OUT_CARD, "zintercard"); }

/* Keys of ZUNION/ZINTER/ZDIFF/ZINTERCARD: numkeys at argv[1], then the
 * sources; -1 when numkeys is not a usable count (the handler says why). */
static int zset_setop_read_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	int64_t numkeys;
	if (argc < 3 || !arg_to_int64(&argv[1], &numkeys) || numkeys < 1 ||
	    numkeys > argc - 2 || numkeys > max)
		return -1;
	for (int64_t i = 0; i < numkeys; i++)
		idx[i] = (int)(2 + i);
	return (int)numkeys;
}

/* ---- ZRANDMEMBER ---- */

static uint64_t rand_next(void)
{
	static _Thread_local uint64_t s;
	if (!s)
		s = (uint64_t)kv_time_us() ^ 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&s;
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return s * 0x2545F4914F6CDD1DULL;
}

static void reply_rank(struct cmd_ctx *c, struct zset *z, struct zset_iter *it,
		       size_t rank, bool withscores)
{
	struct kv_slice m;
	double s;
	zset_iter_init(z, it, rank, false);
	if (!zset_iter_next(it, &m, &s))
		return;
	if (withscores)
		resp_pair(c->out);
	resp_bulk(c->out, m.ptr, m.len);
	if (withscores)
		reply_score(c->out, s);
}

static void zrandmember_count(struct cmd_ctx *c, int64_t count, bool withscores)
{
	struct zset *z;
	if (!get_zset(c, 1, true, &z))
		return;
	if (!z || count == 0) {
		resp_array(c->out, 0);
		return;
	}
	size_t len = zset_len(z);
	struct zset_iter *it = kv_malloc(sizeof(*it));
	if (count < 0) {
		/* Repetitions allowed: |count| independent draws. */
		uint64_t n = (uint64_t)(-count);
		reply_members_header(c->out, n, withscores);
		for (uint64_t i = 0; i < n; i++)
			reply_rank(c, z, it, (size_t)(rand_next() % len), withscores);
	} else if ((uint64_t)count >= len) {
		/* The whole zset, highest score first, as Redis replies. */
		reply_members_header(c->out, len, withscores);
		zset_iter_init(z, it, 0, true);
		struct kv_slice m;
		double s;
		while (zset_iter_next(it, &m, &s)) {
			if (withscores)
				resp_pair(c->out);
			resp_bulk(c->out, m.ptr, m.len);
			if (withscores)
				reply_score(c->out, s);
		}
	} else {
		/* Distinct ranks by Floyd's algorithm over a bitmap of ranks. */
		size_t n = (size_t)count;
		uint64_t *bits = kv_calloc((len + 63) / 64, sizeof(uint64_t));
		size_t *picked = kv_malloc(n * sizeof(size_t));
		size_t k = 0;
		for (size_t j = len - n; j < len; j++) {
			size_t r = (size_t)(rand_next() % (j + 1));
			if (bits[r / 64] & (1ull << (r % 64)))
				r = j;
			bits[r / 64] |= 1ull << (r % 64);
			picked[k++] = r;
		}
		reply_members_header(c->out, n, withscores);
		for (size_t i = 0; i < n; i++)
			reply_rank(c, z, it, picked[i], withscores);
		free(picked);
		free(bits);
	}
	free(it);
}

static void cmd_zrandmember(struct cmd_ctx *c)
{
	if (c->argc >= 3) {
		int64_t l;
		if (!arg_to_int64(&c->argv[2], &l)) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return;
		}
		if (l == INT64_MIN) {
			resp_error(c->out, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
			return;
		}
		bool withscores = false;
		if (c->argc > 4 || (c->argc == 4 && !opt_is(&c->argv[3], "withscores"))) {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
		if (c->argc == 4) {
			withscores = true;
			if (l < -INT64_MAX / 2 || l > INT64_MAX / 2) {
				resp_error(c->out, "ERR value is out of range");
				return;
			}
		}
		zrandmember_count(c, l, withscores);
		return;
	}
	struct zset *z;
	if (!get_zset(c, 1, true, &z))
		return;
	if (!z) {
		resp_null(c->out);
		return;
	}
	struct zset_iter *it = kv_malloc(sizeof(*it));
	reply_rank(c, z, it, (size_t)(rand_next() % zset_len(z)), false);
	free(it);
}

/* ---- ZSCAN ---- */

struct zscan_acc {
	struct kv_buf *out;
	const struct kv_slice *pat;
	size_t n;                  /* elements reported (pairs) */
	size_t seen;               /* elements visited */
};

static void zscan_cb(void *arg, struct kv_slice m, double score)
{
	struct zscan_acc *a = arg;
	a->seen++;
	if (a->pat && !glob_match(a->pat->ptr, a->pat->len, m.ptr, m.len, false))
		return;
	resp_bulk(a->out, m.ptr, m.len);
	reply_score_bulk(a->out, score);
	a->n++;
}

static void cmd_zscan(struct cmd_ctx *c)
{
	uint64_t cursor;
	if (!scan_parse_cursor(&c->argv[2], &cursor)) {
		resp_error(c->out, ERR_INVALID_CURSOR);
		return;
	}
	struct zset *z;
	if (!get_zset(c, 1, true, &z))
		return;
	if (!z) {
		/* Redis answers a missing key before looking at the options. */
		scan_reply_head(c->out, 0, 0);
		return;
	}
	struct scan_args o;
	if (!scan_parse_args(c, 3, false, &o))
		return;
	/* Elements go to a side buffer first: the array length is known only
	 * after the walk. */
	struct kv_buf body = KV_BUF_INIT;
	struct zscan_acc acc = { &body, o.pat, 0, 0 };
	uint64_t budget = scan_budget(o.count);
	do {
		cursor = zset_scan(z, cursor, zscan_cb, &acc);
	/* Redis counts members and scores alike against COUNT, so a step
	 * stops after about COUNT/2 members. */
	} while (cursor && budget-- > 0 && 2 * acc.seen < o.count);
	scan_reply(c->out, cursor, (int64_t)(2 * acc.n), &body);
	kv_buf_free(&body);
}

/* ---- the table (arity, flags, key specs and docs of Redis 7.0.15) ---- */

#define G "sorted-set"
#define RANGE_CPLX "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."
#define REMRANGE_CPLX "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."
#define POP_CPLX "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."

const struct kv_command cmd_table_zset[] = {
	{ "zadd", -4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, cmd_zadd, NULL, NULL, G, "1.2.0",
	  "Add one or more members to a sorted set, or update its score if it already exists",
	  "O(log(N)) for each item added, where N is the number of elements in the sorted set.", NULL },
	{ "zrem", -3, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_zrem, NULL, NULL, G, "1.2.0",
	  "Remove one or more members from a sorted set",
	  "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", NULL },
	{ "zscore", 3, CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_zscore, NULL, NULL, G, "1.2.0",
	  "Get the score associated with the given member in a sorted set",
	  "O(1)", NULL },
	{ "zmscore", -3, CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_zmscore, NULL, NULL, G, "6.2.0",
	  "Get the score associated with the given members in a sorted set",
	  "O(N) where N is the number of members being requested.", NULL },
	{ "zincrby", 4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, cmd_zincrby, NULL, NULL, G, "1.2.0",
	  "Increment the score of a member in a sorted set",
	  "O(log(N)) where N is the number of elements in the sorted set.", NULL },
	{ "zcard", 2, CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_zcard, NULL, NULL, G, "1.2.0",
	  "Get the number of members in a sorted set",
	  "O(1)", NULL },
	{ "zcount", 4, CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_zcount, NULL, NULL, G, "2.0.0",
	  "Count the members in a sorted set with scores within the given values",
	  "O(log(N)) with N being the number of elements in the sorted set.", NULL },
	{ "zlexcount", 4, CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_zlexcount, NULL, NULL, G, "2.8.9",
	  "Count the number of members in a sorted set between a given lexicographical range",
	  "O(log(N)) with N being the number of elements in the sorted set.", NULL },
	{ "zrank", 3, CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_zrank, NULL, NULL, G, "2.0.0",
	  "Determine the index of a member in a sorted set",
	  "O(log(N))", NULL },
	{ "zrevrank", 3, CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_zrevrank, NULL, NULL, G, "2.0.0",
	  "Determine the index of a member in a sorted set, with scores ordered from high to low",
	  "O(log(N))", NULL },
	{ "zrange", -4, CMD_READONLY, 1, 1, 1, cmd_zrange, NULL, NULL, G, "1.2.0",
	  "Return a range of members in a sorted set",
	  "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", NULL },
	{ "zrangestore", -5, CMD_WRITE | CMD_DENYOOM, 1, 2, 1, cmd_zrangestore, NULL, NULL, G, "6.2.0",
	  "Store a range of members from sorted set into another key",
	  "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", NULL },
	{ "zrangebyscore", -4, CMD_READONLY, 1, 1, 1, cmd_zrangebyscore, NULL, NULL, G, "1.0.5",
	  "Return a range of members in a sorted set, by score", RANGE_CPLX, NULL },
	{ "zrevrangebyscore", -4, CMD_READONLY, 1, 1, 1, cmd_zrevrangebyscore, NULL, NULL, G, "2.2.0",
	  "Return a range of members in a sorted set, by score, with scores ordered from high to low",
	  RANGE_CPLX, NULL },
	{ "zrangebylex", -4, CMD_READONLY, 1, 1, 1, cmd_zrangebylex, NULL, NULL, G, "2.8.9",
	  "Return a range of members in a sorted set, by lexicographical range", RANGE_CPLX, NULL },
	{ "zrevrangebylex", -4, CMD_READONLY, 1, 1, 1, cmd_zrevrangebylex, NULL, NULL, G, "2.8.9",
	  "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
	  RANGE_CPLX, NULL },
	{ "zrevrange", -4, CMD_READONLY, 1, 1, 1, cmd_zrevrange, NULL, NULL, G, "1.2.0",
	  "Return a range of members in a sorted set, by index, with scores ordered from high to low",
	  "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", NULL },
	{ "zpopmin", -2, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_zpopmin, NULL, NULL, G, "5.0.0",
	  "Remove and return members with the lowest scores in a sorted set", POP_CPLX, NULL },
	{ "zpopmax", -2, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_zpopmax, NULL, NULL, G, "5.0.0",
	  "Remove and return members with the highest scores in a sorted set", POP_CPLX, NULL },
	{ "zmpop", -4, CMD_WRITE, 0, 0, 0, cmd_zmpop, zmpop_keys, NULL, G, "7.0.0",
	  "Remove and return members with scores in a sorted set",
	  "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", NULL },
	{ "zremrangebyrank", 4, CMD_WRITE, 1, 1, 1, cmd_zremrangebyrank, NULL, NULL, G, "2.0.0",
	  "Remove all members in a sorted set within the given indexes", REMRANGE_CPLX, NULL },
	{ "zremrangebyscore", 4, CMD_WRITE, 1, 1, 1, cmd_zremrangebyscore, NULL, NULL, G, "1.2.0",
	  "Remove all members in a sorted set within the given scores", REMRANGE_CPLX, NULL },
	{ "zremrangebylex", 4, CMD_WRITE, 1, 1, 1, cmd_zremrangebylex, NULL, NULL, G, "2.8.9",
	  "Remove all members in a sorted set between the given lexicographical range", REMRANGE_CPLX, NULL },
	{ "zunionstore", -4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_zunionstore, zset_setop_keys, NULL, G, "2.0.0",
	  "Add multiple sorted sets and store the resulting sorted set in a new key",
	  "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", NULL },
	{ "zinterstore", -4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_zinterstore, zset_setop_keys, NULL, G, "2.0.0",
	  "Intersect multiple sorted sets and store the resulting sorted set in a new key",
	  "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", NULL },
	{ "zdiffstore", -4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_zdiffstore, zset_setop_keys, NULL, G, "6.2.0",
	  "Subtract multiple sorted sets and store the resulting sorted set in a new key",
	  "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", NULL },
	{ "zunion", -3, CMD_READONLY, 0, 0, 0, cmd_zunion, zset_setop_read_keys, NULL, G, "6.2.0",
	  "Add multiple sorted sets",
	  "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", NULL },
	{ "zinter", -3, CMD_READONLY, 0, 0, 0, cmd_zinter, zset_setop_read_keys, NULL, G, "6.2.0",
	  "Intersect multiple sorted sets",
	  "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", NULL },
	{ "zdiff", -3, CMD_READONLY, 0, 0, 0, cmd_zdiff, zset_setop_read_keys, NULL, G, "6.2.0",
	  "Subtract multiple sorted sets",
	  "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", NULL },
	{ "zintercard", -3, CMD_READONLY, 0, 0, 0, cmd_zintercard, zset_setop_read_keys, NULL, G, "7.0.0",
	  "Intersect multiple sorted sets and return the cardinality of the result",
	  "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", NULL },
	{ "zrandmember", -2, CMD_READONLY, 1, 1, 1, cmd_zrandmember, NULL, NULL, G, "6.2.0",
	  "Get one or multiple random elements from a sorted set",
	  "O(N) where N is the number of elements returned", NULL },
	{ "zscan", -3, CMD_READONLY, 1, 1, 1, cmd_zscan, NULL, NULL, G, "2.8.0",
	  "Incrementally iterate sorted sets elements and associated scores",
	  "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
