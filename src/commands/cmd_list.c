/*
 * cmd_list.c - the list commands (non-blocking): LPUSH RPUSH LPUSHX RPUSHX
 * LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH
 * LMPOP, with Redis 7.0.15's replies, errors and order of checks.
 *
 * Every mutation is bracketed by list_mem() so the keyspace's memory count
 * follows the list (db_memory_adjust); a list that becomes empty is deleted
 * with its key, as in Redis.  The pop and move effects are exported through
 * t_list.h (list_pop_reply, list_move_reply) so the blocking commands can
 * reuse them once the runtime can park clients.
 *
 * Reads that Redis counts as keyspace hits or misses (lookupKeyRead: LLEN,
 * LRANGE, LINDEX, LPOS) are counted the same way here.
 */
#include "commands/cmd.h"
#include "commands/notify.h"
#include "commands/fx.h"
#include "store/effect_argv.h"
#include "base/kv.h"
#include "store/store.h"
#include "store/t_list.h"

#include <string.h>

/* ---- shared helpers, also used by the blocking variants ---- */

struct list *list_lookup(struct kv_db *db, const char *key, size_t klen, int64_t now_ms,
			 bool *wrongtype)
{
	struct kv_entry *e = db_lookup(db, key, klen, now_ms);
	*wrongtype = e && entry_type(e) != KV_TYPE_LIST;
	return e && !*wrongtype ? entry_obj(e) : NULL;
}

/* Applies the memory change of a list since `before` to db. */
static void account(struct kv_db *db, const struct list *l, size_t before)
{
	db_memory_adjust(db, (int64_t)list_mem(l) - (int64_t)before);
}

/* Deletes the key when its list has emptied. */
static void delete_if_empty(struct kv_db *db, const char *key, size_t klen, const struct list *l)
{
	if (list_len(l) == 0)
		db_delete(db, key, klen);
}

uint64_t list_pop_reply(struct kv_db *db, const char *key, size_t klen, enum list_where where,
			uint64_t count, enum list_pop_style style, struct kv_buf *out)
{
	bool wrongtype;
	struct list *l = list_lookup(db, key, klen, 0, &wrongtype);
	kv_assert(l && list_len(l) > 0);
	if (style == LIST_POP_BULK || style == LIST_POP_KEY_BULK)
		count = 1;
	count = KV_MIN(count, list_len(l));
	if (style == LIST_POP_KEY_BULK || style == LIST_POP_KEY_ARRAY) {
		resp_array(out, 2);
		resp_bulk(out, key, klen);
	}
	if (style == LIST_POP_ARRAY || style == LIST_POP_KEY_ARRAY)
		resp_array(out, (int64_t)count);

	struct kv_buf el = KV_BUF_INIT;
	size_t before = list_mem(l);
	for (uint64_t i = 0; i < count; i++) {
		kv_buf_clear(&el);
		list_pop(l, where, &el);
		resp_bulk(out, el.data, el.len);
	}
	kv_buf_free(&el);
	account(db, l, before);
	/* Redis signals every pop (count >= 1 here: the list is not empty). */
	db_signal_modified(db, key, klen);
	delete_if_empty(db, key, klen, l);
	return count;
}

/* The list at key for a push, created (empty) if absent. */
static struct list *list_for_push(struct kv_db *db, const char *key, size_t klen,
				  int64_t now_ms)
{
	bool wrongtype;
	struct list *l = list_lookup(db, key, klen, now_ms, &wrongtype);
	kv_assert(!wrongtype);
	if (!l) {
		l = list_new();
		db_set_object(db, key, klen, KV_TYPE_LIST, l, KV_NO_EXPIRE);
	}
	return l;
}

void list_move_reply(struct kv_db *sdb, const char *src, size_t slen, struct kv_db *ddb,
		     const char *dst, size_t dlen, enum list_where from, enum list_where to,
		     int64_t now_ms, struct kv_buf *out)
{
	bool wrongtype;
	struct list *s = list_lookup(sdb, src, slen, 0, &wrongtype);
	kv_assert(s && list_len(s) > 0);
	struct kv_buf el = KV_BUF_INIT;
	size_t before = list_mem(s);
	list_pop(s, from, &el);
	account(sdb, s, before);

	/* The source stays in the keyspace until the push: with src == dst
	 * the element goes back into the same (possibly one-element) list. */
	struct list *d = list_for_push(ddb, dst, dlen, now_ms);
	before = list_mem(d);
	list_push(d, to, el.data, el.len);
	account(ddb, d, before);
	resp_bulk(out, el.data, el.len);
	kv_buf_free(&el);

	/* As Redis's lmoveHandlePush and lmoveGenericCommand: both keys are
	 * signalled (the same key twice when src == dst). */
	db_signal_modified(ddb, dst, dlen);
	db_signal_modified(sdb, src, slen);
	s = list_lookup(sdb, src, slen, 0, &wrongtype);
	if (s)
		delete_if_empty(sdb, src, slen, s);
}

/* An effect from a handler (c) or from outside one (c NULL: fx.h), on the
 * key's keyspace db. */
static void list_effect(struct cmd_ctx *c, const struct kv_db *db, int argc,
			const struct kv_slice *argv)
{
	if (c)
		cmd_effect(c, argc, argv);
	else
		fx_emit_key(db_index(db), argc, argv);
}

/* LMOVE's events, as Redis's lmoveGenericCommand: the push on the
 * destination, the pop on the source, "del" when that emptied it. */
static void list_move_notify(const struct cmd_ctx *c, struct kv_db *sdb,
			     const struct kv_slice *src, struct kv_db *ddb,
			     const struct kv_slice *dst, enum list_where from, enum list_where to)
{
	notify_key(c, NOTIFY_LIST, to == LIST_HEAD ? "lpush" : "rpush", db_index(ddb), dst->ptr,
		   dst->len);
	notify_pop(c, NOTIFY_LIST, from == LIST_HEAD ? "lpop" : "rpop", sdb, src->ptr, src->len);
}

void list_move_logged(struct cmd_ctx *c, struct kv_db *sdb, const struct kv_slice *src,
		      struct kv_db *ddb, const struct kv_slice *dst, enum list_where from,
		      enum list_where to, int64_t now_ms, struct kv_buf *out)
{
	static const struct kv_slice side[2] = { { "LEFT", 4 }, { "RIGHT", 5 } };
	static const struct kv_slice pop[2] = { { "LPOP", 4 }, { "RPOP", 4 } };
	static const struct kv_slice push[2] = { { "LPUSH", 5 }, { "RPUSH", 5 } };

	if (sdb == ddb) {
		list_move_reply(sdb, src->ptr, src->len, ddb, dst->ptr, dst->len, from, to,
				now_ms, out);
		struct kv_slice argv[5] = { { "LMOVE", 5 }, *src, *dst, side[from], side[to] };
		list_effect(c, sdb, 5, argv);
		list_move_notify(c, sdb, src, ddb, dst, from, to);
		return;
	}
	/* The element is copied before the move: the push effect needs it. */
	bool wrongtype;
	struct list *l = list_lookup(sdb, src->ptr, src->len, 0, &wrongtype);
	struct list_elem el;
	bool found = l && list_index(l, from == LIST_HEAD ? 0 : -1, &el);
	kv_assert(found);
	struct kv_buf elem = KV_BUF_INIT;
	kv_buf_append(&elem, el.ptr, el.len);
	list_move_reply(sdb, src->ptr, src->len, ddb, dst->ptr, dst->len, from, to, now_ms, out);
	struct kv_slice pop_argv[2] = { pop[from], *src };
	struct kv_slice push_argv[3] = { push[to], *dst, { elem.data ? elem.data : "", elem.len } };
	list_effect(c, sdb, 2, pop_argv);
	list_effect(c, ddb, 3, push_argv);
	kv_buf_free(&elem);
	list_move_notify(c, sdb, src, ddb, dst, from, to);
}

/* argv[i] as a list for writing (lookupKeyWrite: nothing counted).  Returns
 * NULL when absent, or when not a list after replying WRONGTYPE
 * (*replied set). */
static struct list *lookup_write(struct cmd_ctx *c, int i, bool *replied)
{
	bool wrongtype;
	struct list *l = list_lookup(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len,
				     c->now_ms, &wrongtype);
	*replied = wrongtype;
	if (wrongtype)
		resp_error(c->out, RESP_ERR_WRONGTYPE);
	return l;
}

/* Like lookup_write but counts a keyspace hit or miss (lookupKeyRead). */
static struct list *lookup_read(struct cmd_ctx *c, int i, bool *replied)
{
	struct list *l = lookup_write(c, i, replied);
	cmd_count_read(c, c->argv[i].ptr, c->argv[i].len, l != NULL || *replied);
	return l;
}

static bool get_int(struct cmd_ctx *c, int i, int64_t *v)
{
	if (arg_to_int64(&c->argv[i], v))
		return true;
	resp_error(c->out, RESP_ERR_NOT_INT);
	return false;
}

/* LEFT / RIGHT; replies a syntax error otherwise. */
static bool get_where(struct cmd_ctx *c, int i, enum list_where *w)
{
	if (arg_is(&c->argv[i], "left"))
		*w = LIST_HEAD;
	else if (arg_is(&c->argv[i], "right"))
		*w = LIST_TAIL;
	else {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return false;
	}
	return true;
}

static void reply_elem(struct cmd_ctx *c, const struct list_elem *el)
{
	resp_bulk(c->out, el->ptr, el->len);
}

static bool elem_eq(const struct list_elem *el, const struct kv_slice *s)
{
	return el->len == s->len && memcmp(el->ptr, s->ptr, s->len) == 0;
}

/* ---- push ---- */

static void push_generic(struct cmd_ctx *c, enum list_where where, bool only_existing)
{
	struct kv_db *db = cmd_db_arg(c, 1);
	bool replied;
	struct list *l = lookup_write(c, 1, &replied);
	if (replied)
		return;
	if (!l) {
		if (only_existing) {
			resp_int(c->out, 0);
			return;
		}
		l = list_for_push(db, c->argv[1].ptr, c->argv[1].len, c->now_ms);
	}
	size_t before = list_mem(l);
	for (int i = 2; i < c->argc; i++)
		list_push(l, where, c->argv[i].ptr, c->argv[i].len);
	account(db, l, before);
	db_signal_modified(db, c->argv[1].ptr, c->argv[1].len);
	cmd_notify_arg(c, NOTIFY_LIST, where == LIST_HEAD ? "lpush" : "rpush", 1);
	resp_int(c->out, (int64_t)list_len(l));
}

static void cmd_lpush(struct cmd_ctx *c) { push_generic(c, LIST_HEAD, false); }
static void cmd_rpush(struct cmd_ctx *c) { push_generic(c, LIST_TAIL, false); }
static void cmd_lpushx(struct cmd_ctx *c) { push_generic(c, LIST_HEAD, true); }
static void cmd_rpushx(struct cmd_ctx *c) { push_generic(c, LIST_TAIL, true); }

/* ---- pop ---- */

/* Redis's getPositiveLongFromObjectOrReply with its default message, which
 * also answers a non-integer. */
static bool get_positive(struct cmd_ctx *c, int i, int64_t *v)
{
	if (arg_to_int64(&c->argv[i], v) && *v >= 0)
		return true;
	resp_error(c->out, "ERR value is out of range, must be positive");
	return false;
}

static void pop_generic(struct cmd_ctx *c, enum list_where where)
{
	int64_t count = 1;
	bool has_count = c->argc == 3, replied;

	if (c->argc > 3) {
		resp_errorf(c->out, "ERR wrong number of arguments for '%s' command",
			    where == LIST_HEAD ? "lpop" : "rpop");
		return;
	}
	if (has_count && !get_positive(c, 2, &count))
		return;
	struct list *l = lookup_write(c, 1, &replied);
	if (replied)
		return;
	if (!l) {
		if (has_count)
			resp_null_array(c->out);
		else
			resp_null(c->out);
		return;
	}
	if (has_count && count == 0) {
		resp_array(c->out, 0);
		return;
	}
	list_pop_reply(cmd_db_arg(c, 1), c->argv[1].ptr, c->argv[1].len, where,
		       (uint64_t)count, has_count ? LIST_POP_ARRAY : LIST_POP_BULK, c->out);
	notify_pop(c, NOTIFY_LIST, where == LIST_HEAD ? "lpop" : "rpop", cmd_db_arg(c, 1),
		   c->argv[1].ptr, c->argv[1].len);
}

static void cmd_lpop(struct cmd_ctx *c) { pop_generic(c, LIST_HEAD); }
static void cmd_rpop(struct cmd_ctx *c) { pop_generic(c, LIST_TAIL); }

/* ---- reads ---- */

static void cmd_llen(struct cmd_ctx *c)
{
	bool replied;
	struct list *l = lookup_read(c, 1, &replied);
	if (!replied)
		resp_int(c->out, l ? (int64_t)list_len(l) : 0);
}

static void cmd_lindex(struct cmd_ctx *c)
{
	bool replied;
	int64_t index;
	struct list_elem el;
	struct list *l = lookup_read(c, 1, &replied);
	if (replied)
		return;
	if (!l) {
		resp_null(c->out);
		return;
	}
	if (!get_int(c, 2, &index))
		return;
	if (list_index(l, index, &el))
		reply_elem(c, &el);
	else
		resp_null(c->out);
}

/* Redis's range normalisation (LRANGE, LTRIM): false when the range is empty. */
static bool norm_range(int64_t len, int64_t *start, int64_t *end)
{
	if (*start < 0)
		*start += len;
	if (*end < 0)
		*end += len;
	if (*start < 0)
		*start = 0;
	if (*start > *end || *start >= len)
		return false;
	if (*end >= len)
		*end = len - 1;
	return true;
}

static void cmd_lrange(struct cmd_ctx *c)
{
	int64_t start, end;
	bool replied;
	if (!get_int(c, 2, &start) || !get_int(c, 3, &end))
		return;
	struct list *l = lookup_read(c, 1, &replied);
	if (replied)
		return;
	if (!l || !norm_range((int64_t)list_len(l), &start, &end)) {
		resp_array(c->out, 0);
		return;
	}
	int64_t n = end - start + 1;
	struct list_iter it;
	struct list_elem el;
	resp_array(c->out, n);
	list_iter_init(&it, l, (uint64_t)start, true);
	while (n-- > 0 && list_iter_next(&it, &el))
		reply_elem(c, &el);
}

/* ---- in-place writes ---- */

static void cmd_lset(struct cmd_ctx *c)
{
	struct kv_db *db = cmd_db_arg(c, 1);
	int64_t index;
	bool replied;
	struct list *l = lookup_write(c, 1, &replied);
	if (replied)
		return;
	if (!l) {
		resp_error(c->out, RESP_ERR_NO_KEY);
		return;
	}
	if (!get_int(c, 2, &index))
		return;
	size_t before = list_mem(l);
	bool ok = list_set(l, index, c->argv[3].ptr, c->argv[3].len);
	account(db, l, before);
	if (ok) {
		db_signal_modified(db, c->argv[1].ptr, c->argv[1].len);
		cmd_notify_arg(c, NOTIFY_LIST, "lset", 1);
		resp_ok(c->out);
	} else {
		resp_error(c->out, "ERR index out of range");
	}
}

static void cmd_linsert(struct cmd_ctx *c)
{
	struct kv_db *db = cmd_db_arg(c, 1);
	bool after, replied;
	if (arg_is(&c->argv[2], "after")) {
		after = true;
	} else if (arg_is(&c->argv[2], "before")) {
		after = false;
	} else {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	struct list *l = lookup_write(c, 1, &replied);
	if (replied)
		return;
	if (!l) {
		resp_int(c->out, 0);
		return;
	}
	struct list_iter it;
	struct list_elem el;
	list_iter_init(&it, l, 0, true);
	while (list_iter_next(&it, &el)) {
		if (elem_eq(&el, &c->argv[3])) {
			size_t before = list_mem(l);
			list_iter_insert(&it, after, c->argv[4].ptr, c->argv[4].len);
			account(db, l, before);
			db_signal_modified(db, c->argv[1].ptr, c->argv[1].len);
			cmd_notify_arg(c, NOTIFY_LIST, "linsert", 1);
			resp_int(c->out, (int64_t)list_len(l));
			return;
		}
	}
	resp_int(c->out, -1);
}

static void cmd_lrem(struct cmd_ctx *c)
{
	struct kv_db *db = cmd_db_arg(c, 1);
	int64_t count, removed = 0;
	bool replied;
	if (!get_int(c, 2, &count))
		return;
	struct list *l = lookup_write(c, 1, &replied);
	if (replied)
		return;
	if (!l) {
		resp_int(c->out, 0);
		return;
	}
	struct list_iter it;
	struct list_elem el;
	bool forward = count >= 0;
	uint64_t limit = count == 0 ? UINT64_MAX
		       : count > 0 ? (uint64_t)count : (uint64_t)-(count + 1) + 1;
	size_t before = list_mem(l);
	list_iter_init(&it, l, forward ? 0 : list_len(l) - 1, forward);
	while ((uint64_t)removed < limit && list_iter_next(&it, &el)) {
		if (elem_eq(&el, &c->argv[3])) {
			list_iter_delete(&it);
			removed++;
		}
	}
	if (removed) {
		list_compact(l);
		db_signal_modified(db, c->argv[1].ptr, c->argv[1].len);
	}
	account(db, l, before);
	delete_if_empty(db, c->argv[1].ptr, c->argv[1].len, l);
	if (removed)
		notify_pop(c, NOTIFY_LIST, "lrem", db, c->argv[1].ptr, c->argv[1].len);
	resp_int(c->out, removed);
}

static void cmd_ltrim(struct cmd_ctx *c)
{
	struct kv_db *db = cmd_db_arg(c, 1);
	int64_t start, end;
	bool replied;
	if (!get_int(c, 2, &start) || !get_int(c, 3, &end))
		return;
	struct list *l = lookup_write(c, 1, &replied);
	if (replied)
		return;
	if (!l) {
		resp_ok(c->out);
		return;
	}
	int64_t len = (int64_t)list_len(l), ltrim, rtrim;
	if (norm_range(len, &start, &end)) {
		ltrim = start;
		rtrim = len - end - 1;
	} else {
		ltrim = len;
		rtrim = 0;
	}
	size_t before = list_mem(l);
	list_delete_range(l, 0, (uint64_t)ltrim);
	list_delete_range(l, list_len(l) - (uint64_t)rtrim, (uint64_t)rtrim);
	account(db, l, before);
	/* Redis signals an existing key even when nothing was trimmed. */
	db_signal_modified(db, c->argv[1].ptr, c->argv[1].len);
	delete_if_empty(db, c->argv[1].ptr, c->argv[1].len, l);
	notify_pop(c, NOTIFY_LIST, "ltrim", db, c->argv[1].ptr, c->argv[1].len);
	resp_ok(c->out);
}

/* ---- LPOS ---- */

static void cmd_lpos(struct cmd_ctx *c)
{
	int64_t rank = 1, count = -1, maxlen = 0;
	bool replied;

	for (int j = 3; j < c->argc; j++) {
		bool more = j + 1 < c->argc;
		if (arg_is(&c->argv[j], "rank") && more) {
			if (!get_int(c, ++j, &rank))
				return;
			if (rank == 0) {
				resp_error(c->out, "ERR RANK can't be zero: use 1 to start from the "
					   "first match, 2 from the second ... or use negative to "
					   "start from the end of the list");
				return;
			}
		} else if (arg_is(&c->argv[j], "count") && more) {
			/* getPositiveLongFromObjectOrReply: a non-integer gets
			 * the same message as a negative. */
			if (!arg_to_int64(&c->argv[++j], &count) || count < 0) {
				resp_error(c->out, "ERR COUNT can't be negative");
				return;
			}
		} else if (arg_is(&c->argv[j], "maxlen") && more) {
			if (!arg_to_int64(&c->argv[++j], &maxlen) || maxlen < 0) {
				resp_error(c->out, "ERR MAXLEN can't be negative");
				return;
			}
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	struct list *l = lookup_read(c, 1, &replied);
	if (replied)
		return;
	if (!l) {
		if (count != -1)
			resp_array(c->out, 0);
		else
			resp_null(c->out);
		return;
	}

	bool forward = rank > 0;
	/* Redis negates RANK in a long: LONG_MIN stays negative there, so every
	 * match from the tail qualifies and COUNT never stops the walk.  Kept
	 * for identical replies. */
	bool rank_min = rank == INT64_MIN;
	uint64_t skip = rank_min ? 1 : rank > 0 ? (uint64_t)rank : (uint64_t)-rank;
	uint64_t len = list_len(l), index = 0, matches = 0, found = 0;
	size_t mark = 0;
	struct list_iter it;
	struct list_elem el;

	if (count != -1)
		mark = resp_array_begin(c->out);
	list_iter_init(&it, l, forward ? 0 : len - 1, forward);
	while ((maxlen == 0 || index < (uint64_t)maxlen) && list_iter_next(&it, &el)) {
		if (elem_eq(&el, &c->argv[2]) && ++matches >= skip) {
			int64_t pos = (int64_t)(forward ? index : len - index - 1);
			if (count == -1) {
				resp_int(c->out, pos);
				return;
			}
			resp_int(c->out, pos);
			found++;
			if (count && !rank_min && found >= (uint64_t)count)
				break;
		}
		index++;
	}
	if (count != -1)
		resp_array_end(c->out, mark, (int64_t)found);
	else
		resp_null(c->out);
}

/* ---- LMOVE, RPOPLPUSH ---- */

static void move_generic(struct cmd_ctx *c, enum list_where from, enum list_where to)
{
	bool replied;
	struct list *s = lookup_write(c, 1, &replied);
	if (replied)
		return;
	if (!s) {
		resp_null(c->out);
		return;
	}
	lookup_write(c, 2, &replied);
	if (replied)
		return;
	list_move_logged(c, cmd_db_arg(c, 1), &c->argv[1], cmd_db_arg(c, 2), &c->argv[2], from, to,
			 c->now_ms, c->out);
}

static void cmd_lmove(struct cmd_ctx *c)
{
	enum list_where from, to;
	if (get_where(c, 3, &from) && get_where(c, 4, &to))
		move_generic(c, from, to);
}

static void cmd_rpoplpush(struct cmd_ctx *c)
{
	move_generic(c, LIST_TAIL, LIST_HEAD);
}

/* ---- LMPOP ---- */

/* Redis's getRangeLongFromObjectOrReply(1, LONG_MAX, msg): any failure
 * replies with msg. */
static bool get_at_least_one(struct cmd_ctx *c, int i, const char *msg, int64_t *v)
{
	if (arg_to_int64(&c->argv[i], v) && *v >= 1)
		return true;
	resp_error(c->out, msg);
	return false;
}

/* Keys of LMPOP: argv[2 .. 2+numkeys). */
static int lmpop_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	int64_t numkeys;
	if (argc < 3 || !arg_to_int64(&argv[1], &numkeys) || numkeys < 1 ||
	    numkeys > argc - 3)
		return -1;
	/* More keys than idx holds: -1, as cmd_get_keys's legacy spec (a
	 * truncated list would hide keys of other shards from fx.c). */
	if (numkeys > max)
		return -1;
	int n = 0;
	for (int64_t i = 0; i < numkeys; i++)
		idx[n++] = (int)(2 + i);
	return n;
}

static void cmd_lmpop(struct cmd_ctx *c)
{
	int64_t numkeys, count = -1;
	enum list_where where;
	bool replied;

	if (!get_at_least_one(c, 1, "ERR numkeys should be greater than 0", &numkeys))
		return;
	if (numkeys >= c->argc - 2) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	int where_idx = (int)(2 + numkeys);
	if (!get_where(c, where_idx, &where))
		return;
	for (int j = where_idx + 1; j < c->argc; j++) {
		if (count == -1 && arg_is(&c->argv[j], "count") && j + 1 < c->argc) {
			if (!get_at_least_one(c, ++j, "ERR count should be greater than 0", &count))
				return;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	if (count == -1)
		count = 1;
	for (int i = 2; i < where_idx; i++) {
		struct list *l = lookup_write(c, i, &replied);
		if (replied)
			return;
		if (!l)
			continue;
		list_pop_reply(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len, where,
			       (uint64_t)count, LIST_POP_KEY_ARRAY, c->out);
		notify_pop(c, NOTIFY_LIST, where == LIST_HEAD ? "lpop" : "rpop", cmd_db_arg(c, i),
			   c->argv[i].ptr, c->argv[i].len);
		return;
	}
	resp_null_array(c->out);
}

/* ---- the table (arity, flags and key specs as Redis 7.0's COMMAND INFO) ---- */

#define KEYS(first, last, step) .first_key = (first), .last_key = (last), .key_step = (step)
#define W_OOM_FAST (CMD_WRITE | CMD_DENYOOM | CMD_FAST)
#define PUSH_COMPLEXITY                                                            \
	"O(1) for each element added, so O(N) to add N elements when the command is " \
	"called with multiple arguments."

const struct kv_command cmd_table_list[] = {
	{ .name = "lpush", .arity = -3, .flags = W_OOM_FAST, KEYS(1, 1, 1), .proc = cmd_lpush,
	  .group = "list", .since = "1.0.0",
	  .summary = "Prepend one or multiple elements to a list",
	  .complexity = PUSH_COMPLEXITY },
	{ .name = "rpush", .arity = -3, .flags = W_OOM_FAST, KEYS(1, 1, 1), .proc = cmd_rpush,
	  .group = "list", .since = "1.0.0",
	  .summary = "Append one or multiple elements to a list",
	  .complexity = PUSH_COMPLEXITY },
	{ .name = "lpushx", .arity = -3, .flags = W_OOM_FAST, KEYS(1, 1, 1), .proc = cmd_lpushx,
	  .group = "list", .since = "2.2.0",
	  .summary = "Prepend an element to a list, only if the list exists",
	  .complexity = PUSH_COMPLEXITY },
	{ .name = "rpushx", .arity = -3, .flags = W_OOM_FAST, KEYS(1, 1, 1), .proc = cmd_rpushx,
	  .group = "list", .since = "2.2.0",
	  .summary = "Append an element to a list, only if the list exists",
	  .complexity = PUSH_COMPLEXITY },
	{ .name = "lpop", .arity = -2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
	  .proc = cmd_lpop, .group = "list", .since = "1.0.0",
	  .summary = "Remove and get the first elements in a list",
	  .complexity = "O(N) where N is the number of elements returned" },
	{ .name = "rpop", .arity = -2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
	  .proc = cmd_rpop, .group = "list", .since = "1.0.0",
	  .summary = "Remove and get the last elements in a list",
	  .complexity = "O(N) where N is the number of elements returned" },
	{ .name = "llen", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
	  .proc = cmd_llen, .group = "list", .since = "1.0.0",
	  .summary = "Get the length of a list", .complexity = "O(1)" },
	{ .name = "lrange", .arity = 4, .flags = CMD_READONLY, KEYS(1, 1, 1), .proc = cmd_lrange,
	  .group = "list", .since = "1.0.0", .summary = "Get a range of elements from a list",
	  .complexity = "O(S+N) where S is the distance of start offset from HEAD for small "
			"lists, from nearest end (HEAD or TAIL) for large lists; and N is "
			"the number of elements in the specified range." },
	{ .name = "lindex", .arity = 3, .flags = CMD_READONLY, KEYS(1, 1, 1), .proc = cmd_lindex,
	  .group = "list", .since = "1.0.0", .summary = "Get an element from a list by its index",
	  .complexity = "O(N) where N is the number of elements to traverse to get to the "
			"element at index. This makes asking for the first or the last "
			"element of the list O(1)." },
	{ .name = "lset", .arity = 4, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 1, 1),
	  .proc = cmd_lset, .group = "list", .since = "1.0.0",
	  .summary = "Set the value of an element in a list by its index",
	  .complexity = "O(N) where N is the length of the list. Setting either the first "
			"or the last element of the list is O(1)." },
	{ .name = "linsert", .arity = 5, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 1, 1),
	  .proc = cmd_linsert, .group = "list", .since = "2.2.0",
	  .summary = "Insert an element before or after another element in a list",
	  .complexity = "O(N) where N is the number of elements to traverse before seeing "
			"the value pivot. This means that inserting somewhere on the left "
			"end on the list (head) can be considered O(1) and inserting "
			"somewhere on the right end (tail) is O(N)." },
	{ .name = "lrem", .arity = 4, .flags = CMD_WRITE, KEYS(1, 1, 1), .proc = cmd_lrem,
	  .group = "list", .since = "1.0.0", .summary = "Remove elements from a list",
	  .complexity = "O(N+M) where N is the length of the list and M is the number of "
			"elements removed." },
	{ .name = "ltrim", .arity = 4, .flags = CMD_WRITE, KEYS(1, 1, 1), .proc = cmd_ltrim,
	  .group = "list", .since = "1.0.0", .summary = "Trim a list to the specified range",
	  .complexity = "O(N) where N is the number of elements to be removed by the "
			"operation." },
	{ .name = "lpos", .arity = -3, .flags = CMD_READONLY, KEYS(1, 1, 1), .proc = cmd_lpos,
	  .group = "list", .since = "6.0.6",
	  .summary = "Return the index of matching elements on a list",
	  .complexity = "O(N) where N is the number of elements in the list, for the "
			"average case. When searching for elements near the head or the "
			"tail of the list, or when the MAXLEN option is provided, the "
			"command may run in constant time." },
	{ .name = "lmove", .arity = 5, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 2, 1),
	  .proc = cmd_lmove, .group = "list", .since = "6.2.0",
	  .summary = "Pop an element from a list, push it to another list and return it",
	  .complexity = "O(1)" },
	{ .name = "rpoplpush", .arity = 3, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 2, 1),
	  .proc = cmd_rpoplpush, .group = "list", .since = "1.2.0",
	  .summary = "Remove the last element in a list, prepend it to another list and "
		     "return it",
	  .complexity = "O(1)" },
	{ .name = "lmpop", .arity = -4, .flags = CMD_WRITE, KEYS(0, 0, 0), .proc = cmd_lmpop,
	  .keys = lmpop_keys, .group = "list", .since = "7.0.0",
	  .summary = "Pop elements from a list",
	  .complexity = "O(N+M) where N is the number of provided keys and M is the number "
			"of elements returned." },
	{ .name = NULL },
};
