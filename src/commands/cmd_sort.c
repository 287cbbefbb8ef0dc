/*
 * cmd_sort.c - SORT and SORT_RO: the elements of a list, set or sorted set,
 * sorted as numbers or strings, by themselves or by the values of other keys
 * (BY pattern), windowed (LIMIT), replaced by the values of other keys (GET
 * pattern), replied or stored as a list (STORE, SORT only).
 *
 * The rules follow Redis 7.0.15, learned by reading its src/sort.c and by
 * asking a redis-server (docs/compatibility.md lists what differs):
 *   - options are read left to right before the key is looked up, so a bad
 *     option wins over WRONGTYPE; the last LIMIT and STORE count; a BY
 *     pattern without '*' anywhere turns sorting off for good ("BY nosort"),
 *     whatever later BY says;
 *   - a pattern names a value per element: "#" is the element, a pattern
 *     without '*' names nothing, otherwise its first '*' becomes the element
 *     to make a key name, read as a string, or as a hash field when "->field"
 *     (non-empty) follows the '*';
 *   - unsorted, a list and a sorted set keep their order (DESC walks it
 *     backwards, LIMIT is a range of it) and a set keeps its iteration order,
 *     except that a set to be stored is sorted ALPHA so the stored list does
 *     not depend on the set's layout;
 *   - numeric sorting parses each value with strtod and fails the whole
 *     call on junk; equal scores fall back to byte order; ALPHA compares with
 *     strcoll, except that a STORE compares bytes (so the stored list does
 *     not depend on the locale);
 *   - the sort is stable, as glibc's qsort is for Redis.
 *
 * Shards: the BY and GET patterns name keys known only once the elements
 * are read, and they may live on any shard, so a call whose patterns look
 * keys up holds every shard (sort_all_shards, the table's all_shards hook).
 * Such a STORE is not replayable on the destination's shard alone, so its
 * effect is the destination's final state (keydump), not the command; a
 * STORE without lookups keeps fx.h's default rules (it is deterministic).
 *
 * Not done: Redis converts a sorted set it sorts to the skiplist encoding;
 * kevy leaves the encoding alone.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "commands/cmd.h"
#include "commands/notify.h"
#include "commands/fx.h"
#include "store/keydump.h"
#include "store/store.h"
#include "store/t_hash.h"
#include "store/t_list.h"
#include "store/t_set.h"
#include "store/t_zset.h"

/* ---- options ---- */

struct sort_opts {
	bool desc;
	bool alpha;
	bool dontsort;          /* a BY pattern without '*' was given */
	bool get_lookups;       /* some GET pattern dereferences keys */
	int64_t limit_start;
	int64_t limit_count;    /* -1: to the end */
	int by;                 /* argv index of the last BY pattern, 0: none */
	int store;              /* argv index of the STORE destination, 0: none */
	int ngets;
	int *gets;              /* argv indexes of the GET patterns; NULL: not kept */
};

enum sort_parse_err { SORT_PARSE_OK, SORT_PARSE_SYNTAX, SORT_PARSE_NOT_INT };

/* Length of a pattern as a C string: Redis searches patterns with strchr
 * and strstr, so bytes after a NUL are never searched. */
static size_t sort_cstr_len(const struct kv_slice *p)
{
	const char *nul = memchr(p->ptr, '\0', p->len);
	return nul ? (size_t)(nul - p->ptr) : p->len;
}

static bool sort_has_star(const struct kv_slice *p)
{
	return memchr(p->ptr, '*', sort_cstr_len(p)) != NULL;
}

static bool sort_is_self(const struct kv_slice *p)
{
	return p->len > 0 && p->ptr[0] == '#' && sort_cstr_len(p) == 1;
}

/* Reads the options after the key.  gets, when not NULL, has room for argc
 * indexes.  SORT_RO knows no STORE: it is a syntax error there. */
static enum sort_parse_err sort_parse(int argc, const struct kv_slice *argv, bool readonly,
				      struct sort_opts *o, int *gets)
{
	memset(o, 0, sizeof(*o));
	o->limit_count = -1;
	o->gets = gets;
	for (int j = 2; j < argc; j++) {
		int left = argc - j - 1;
		const struct kv_slice *a = &argv[j];
		if (arg_is(a, "asc")) {
			o->desc = false;
		} else if (arg_is(a, "desc")) {
			o->desc = true;
		} else if (arg_is(a, "alpha")) {
			o->alpha = true;
		} else if (arg_is(a, "limit") && left >= 2) {
			if (!arg_to_int64(&argv[j + 1], &o->limit_start) ||
			    !arg_to_int64(&argv[j + 2], &o->limit_count))
				return SORT_PARSE_NOT_INT;
			j += 2;
		} else if (!readonly && arg_is(a, "store") && left >= 1) {
			o->store = ++j;
		} else if (arg_is(a, "by") && left >= 1) {
			o->by = ++j;
			if (!sort_has_star(&argv[j]))
				o->dontsort = true;
		} else if (arg_is(a, "get") && left >= 1) {
			j++;
			if (sort_has_star(&argv[j]) && !sort_is_self(&argv[j]))
				o->get_lookups = true;
			if (o->gets)
				o->gets[o->ngets] = j;
			o->ngets++;
		} else {
			return SORT_PARSE_SYNTAX;
		}
	}
	return SORT_PARSE_OK;
}

/* Whether the call reads keys named by its patterns (BY only matters when
 * it sorts; a set sorted for STORE drops its BY, but only when not sorting
 * anyway). */
static bool sort_looks_up(const struct sort_opts *o)
{
	return (o->by && !o->dontsort) || o->get_lookups;
}

static bool sort_all_shards_generic(int argc, const struct kv_slice *argv, bool readonly)
{
	struct sort_opts o;
	return sort_parse(argc, argv, readonly, &o, NULL) == SORT_PARSE_OK && sort_looks_up(&o);
}

static bool sort_all_shards(int argc, const struct kv_slice *argv)
{
	return sort_all_shards_generic(argc, argv, false);
}

static bool sort_ro_all_shards(int argc, const struct kv_slice *argv)
{
	return sort_all_shards_generic(argc, argv, true);
}

/* SORT's keys: the sorted key and the STORE destination the handler will
 * use (the last one).  A call whose options do not parse gets only its
 * first key: the handler replies the error without touching a keyspace. */
static int sort_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	struct sort_opts o;
	if (max < 1)
		return -1;
	idx[0] = 1;
	if (sort_parse(argc, argv, false, &o, NULL) != SORT_PARSE_OK || !o.store)
		return 1;
	if (max < 2)
		return -1;
	idx[1] = o.store;
	return 2;
}

/* SORT_RO's one declared key.  A function, not a range, because the keys
 * BY and GET patterns name are found only while it runs: Redis marks it
 * movablekeys for that reason too (COMMAND INFO). */
static int sort_ro_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	(void)argv;
	if (max < 1 || argc < 2)
		return -1;
	idx[0] = 1;
	return 1;
}

/* ---- the elements ---- */

/* One element to sort.  Bytes live in the arena (offsets: it grows), each
 * followed by a NUL for strcoll. */
struct sort_item {
	size_t off, len;        /* the element */
	size_t cmp_off, cmp_len; /* ALPHA BY: the value sorted by */
	bool has_cmp;
	double score;           /* numeric sorting */
};

struct sort_vec {
	struct sort_item *items;
	size_t n, cap;
	struct kv_buf arena;
};

static size_t sort_arena_add(struct sort_vec *v, const char *p, size_t len)
{
	size_t off = v->arena.len;
	kv_buf_append(&v->arena, p, len);
	kv_buf_append_char(&v->arena, '\0');
	return off;
}

static void sort_vec_add(struct sort_vec *v, const char *p, size_t len)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->items = kv_realloc(v->items, v->cap * sizeof(*v->items));
	}
	struct sort_item *it = &v->items[v->n++];
	memset(it, 0, sizeof(*it));
	it->off = sort_arena_add(v, p, len);
	it->len = len;
}

static const char *sort_elem(const struct sort_vec *v, const struct sort_item *it)
{
	return v->arena.data + it->off;
}

static int sort_list_elem(void *arg, const char *p, size_t len)
{
	sort_vec_add(arg, p, len);
	return 0;
}

static bool sort_set_member(void *arg, const char *m, size_t len)
{
	sort_vec_add(arg, m, len);
	return true;
}

static void sort_zset_member(void *arg, struct kv_slice member, double score)
{
	(void)score;
	sort_vec_add(arg, member.ptr, member.len);
}

/* The window [start, end] of n elements that LIMIT selects, as Redis
 * clamps it: an empty window has end < start. */
static void sort_window(const struct sort_opts *o, int64_t n, int64_t *start, int64_t *end)
{
	int64_t s = KV_MIN(KV_MAX(o->limit_start, 0), n);
	int64_t count = KV_MIN(KV_MAX(o->limit_count, -1), n);
	int64_t e = count < 0 ? n - 1 : s + count - 1;
	if (s >= n) {
		s = n - 1;
		e = n - 2;
	}
	if (e >= n)
		e = n - 1;
	*start = s;
	*end = e;
}

/* Loads the elements of obj (type t) into v.  Unsorted lists and sorted
 * sets load only the window, walked backwards for DESC; then the window
 * becomes the whole vector. */
static void sort_load(struct sort_vec *v, enum kv_type t, void *obj, const struct sort_opts *o,
		      int64_t *start, int64_t *end)
{
	if (t == KV_TYPE_LIST && o->dontsort) {
		struct list *l = obj;
		int64_t len = (int64_t)list_len(l);
		if (*end >= *start) {
			struct list_iter it;
			struct list_elem el;
			int64_t first = o->desc ? len - 1 - *start : *start;
			list_iter_init(&it, l, (uint64_t)first, !o->desc);
			for (int64_t i = *start; i <= *end && list_iter_next(&it, &el); i++)
				sort_vec_add(v, el.ptr, el.len);
		}
		*end -= *start;
		*start = 0;
	} else if (t == KV_TYPE_ZSET && o->dontsort) {
		if (*end >= *start) {
			struct zset_iter it;
			struct kv_slice m;
			double score;
			zset_iter_init(obj, &it, (size_t)*start, o->desc);
			for (int64_t i = *start; i <= *end && zset_iter_next(&it, &m, &score); i++)
				sort_vec_add(v, m.ptr, m.len);
		}
		*end -= *start;
		*start = 0;
	} else if (t == KV_TYPE_LIST) {
		list_foreach(obj, sort_list_elem, v);
	} else if (t == KV_TYPE_SET) {
		set_foreach(obj, sort_set_member, v);
	} else if (t == KV_TYPE_ZSET) {
		zset_foreach(obj, sort_zset_member, v);
	}
}

/* ---- patterns ---- */

/*
 * The value pattern pat names for element el (see the top of the file).
 * Returns false when it names nothing: no '*', a missing or expired key, a
 * key of another type, a missing field.  *val is valid until the next
 * keyspace call.  name is scratch space for the key name.
 */
static bool sort_deref(struct cmd_ctx *c, const struct kv_slice *pat, const char *el, size_t elen,
		       struct kv_buf *name, struct kv_slice *val)
{
	if (sort_is_self(pat)) {
		*val = (struct kv_slice){ el, elen };
		return true;
	}
	size_t clen = sort_cstr_len(pat);
	const char *star = memchr(pat->ptr, '*', clen);
	if (!star)
		return false;
	/* "->" after the '*' with at least one byte after it: a hash field. */
	const char *arrow = NULL;
	for (const char *p = star + 1; p + 1 < pat->ptr + clen; p++) {
		if (p[0] == '-' && p[1] == '>') {
			arrow = p;
			break;
		}
	}
	if (arrow && arrow + 2 == pat->ptr + clen)
		arrow = NULL;
	size_t prefix = (size_t)(star - pat->ptr);
	const char *post = star + 1;
	size_t postlen = (arrow ? (size_t)(arrow - pat->ptr) : pat->len) - prefix - 1;
	kv_buf_clear(name);
	kv_buf_append(name, pat->ptr, prefix);
	kv_buf_append(name, el, elen);
	kv_buf_append(name, post, postlen);

	/* kv_buf_cstr: a valid pointer even for the empty key name ("*" of ""). */
	const char *k = kv_buf_cstr(name);
	struct kv_entry *e = db_lookup(cmd_db(c, k, name->len), k, name->len, c->now_ms);
	cmd_count_read(c, k, name->len, e != NULL);
	if (!e)
		return false;
	if (arrow) {
		if (entry_type(e) != KV_TYPE_HASH)
			return false;
		const char *field = arrow + 2;
		return hash_get(entry_obj(e), field, (size_t)(pat->ptr + pat->len - field), val);
	}
	if (entry_type(e) != KV_TYPE_STRING)
		return false;
	*val = entry_str(e);
	return true;
}

/* ---- sorting ---- */

struct sort_order {
	const struct sort_vec *v;
	bool alpha, by, binary, desc;
};

/* Bytes first, then length: Redis's binary string comparison. */
static int sort_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, KV_MIN(alen, blen));
	if (r)
		return r;
	return alen < blen ? -1 : alen > blen;
}

static int sort_cmp(const struct sort_order *o, const struct sort_item *a,
		    const struct sort_item *b)
{
	const struct sort_vec *v = o->v;
	int r;
	if (!o->alpha) {
		if (a->score != b->score)
			r = a->score > b->score ? 1 : -1;
		else
			r = sort_bytes_cmp(sort_elem(v, a), a->len, sort_elem(v, b), b->len);
	} else if (o->by) {
		/* A missing BY value sorts first. */
		if (!a->has_cmp || !b->has_cmp)
			r = (int)a->has_cmp - (int)b->has_cmp;
		else if (o->binary)
			r = sort_bytes_cmp(v->arena.data + a->cmp_off, a->cmp_len,
					   v->arena.data + b->cmp_off, b->cmp_len);
		else
			r = strcoll(v->arena.data + a->cmp_off, v->arena.data + b->cmp_off);
	} else if (o->binary) {
		r = sort_bytes_cmp(sort_elem(v, a), a->len, sort_elem(v, b), b->len);
	} else {
		r = strcoll(sort_elem(v, a), sort_elem(v, b));
	}
	return o->desc ? -r : r;
}

/* Stable merge sort of items[0, n) through tmp (n items of room). */
static void sort_merge(const struct sort_order *o, struct sort_item *items, struct sort_item *tmp,
		       size_t n)
{
	if (n < 2)
		return;
	size_t mid = n / 2;
	sort_merge(o, items, tmp, mid);
	sort_merge(o, items + mid, tmp, n - mid);
	if (sort_cmp(o, &items[mid - 1], &items[mid]) <= 0)
		return;
	memcpy(tmp, items, mid * sizeof(*items));
	size_t i = 0, j = mid, k = 0;
	while (i < mid && j < n) {
		if (sort_cmp(o, &items[j], &tmp[i]) < 0)
			items[k++] = items[j++];
		else
			items[k++] = tmp[i++];
	}
	while (i < mid)
		items[k++] = tmp[i++];
}

/* Strtod as Redis applies it to a sort weight: the whole C string must
 * parse, and neither overflow nor NaN is a score. */
static bool sort_parse_score(const char *s, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return end[0] == '\0' && errno != ERANGE && !isnan(*out);
}

/* Gives every element its weight (a score, or an ALPHA BY value).  Returns
 * false when a numeric weight does not parse (every weight is still read,
 * as Redis does). */
static bool sort_weigh(struct cmd_ctx *c, struct sort_vec *v, const struct sort_opts *o,
		       struct kv_buf *name)
{
	bool ok = true;
	struct kv_buf tmp = KV_BUF_INIT;
	for (size_t j = 0; j < v->n; j++) {
		struct sort_item *it = &v->items[j];
		const char *el = sort_elem(v, it);
		if (o->by) {
			struct kv_slice val;
			if (!sort_deref(c, &c->argv[o->by], el, it->len, name, &val))
				continue;
			if (o->alpha) {
				/* The arena may move: copy first, then append. */
				kv_buf_clear(&tmp);
				kv_buf_append(&tmp, val.ptr, val.len);
				it->cmp_len = tmp.len;
				it->cmp_off = sort_arena_add(v, tmp.data, tmp.len);
				it->has_cmp = true;
			} else {
				kv_buf_clear(&tmp);
				kv_buf_append(&tmp, val.ptr, val.len);
				ok &= sort_parse_score(kv_buf_cstr(&tmp), &it->score);
			}
		} else if (!o->alpha) {
			ok &= sort_parse_score(el, &it->score);
		}
	}
	kv_buf_free(&tmp);
	return ok;
}

/* ---- output ---- */

static void sort_reply(struct cmd_ctx *c, const struct sort_vec *v, const struct sort_opts *o,
		       int64_t start, int64_t end, struct kv_buf *name)
{
	int64_t n = end - start + 1;
	resp_array(c->out, o->ngets ? o->ngets * n : n);
	for (int64_t j = start; j <= end; j++) {
		const struct sort_item *it = &v->items[j];
		const char *el = sort_elem(v, it);
		if (!o->ngets)
			resp_bulk(c->out, el, it->len);
		for (int g = 0; g < o->ngets; g++) {
			struct kv_slice val;
			if (sort_deref(c, &c->argv[o->gets[g]], el, it->len, name, &val))
				resp_bulk(c->out, val.ptr, val.len);
			else
				resp_null(c->out);
		}
	}
}

static void sort_emit(void *arg, int argc, const struct kv_slice *argv)
{
	cmd_effect(arg, argc, argv);
}

/* STORE: the window (or its GET values, "" for nothing) replaces the
 * destination as a list; an empty result deletes it. */
static void sort_store(struct cmd_ctx *c, const struct sort_vec *v, const struct sort_opts *o,
		       int64_t start, int64_t end, struct kv_buf *name)
{
	const struct kv_slice *dst = &c->argv[o->store];
	struct kv_db *db = cmd_db(c, dst->ptr, dst->len);
	int64_t n = end - start + 1;
	int64_t outlen = o->ngets ? o->ngets * n : n;
	bool changed;
	if (outlen > 0) {
		struct list *l = list_new();
		for (int64_t j = start; j <= end; j++) {
			const struct sort_item *it = &v->items[j];
			const char *el = sort_elem(v, it);
			if (!o->ngets)
				list_push(l, LIST_TAIL, el, it->len);
			for (int g = 0; g < o->ngets; g++) {
				struct kv_slice val;
				if (!sort_deref(c, &c->argv[o->gets[g]], el, it->len, name, &val))
					val = (struct kv_slice){ "", 0 };
				list_push(l, LIST_TAIL, val.ptr, val.len);
			}
		}
		db_set_object(db, dst->ptr, dst->len, KV_TYPE_LIST, l, KV_NO_EXPIRE);
		changed = true;
		cmd_notify(c, NOTIFY_LIST, "sortstore", dst->ptr, dst->len);
	} else {
		changed = db_delete(db, dst->ptr, dst->len) > 0;
		if (changed)
			cmd_notify(c, NOTIFY_GENERIC, "del", dst->ptr, dst->len);
	}
	/* Lookups read other shards: replaying this SORT on the destination's
	 * shard could not, so the effect is the destination's final state. */
	if (changed && sort_looks_up(o))
		keydump_key(db, dst->ptr, dst->len, c->now_ms, sort_emit, c);
	resp_int(c->out, outlen);
}

/* ---- the command ---- */

static void sort_generic(struct cmd_ctx *c, bool readonly)
{
	struct sort_opts o;
	int *gets = kv_malloc((size_t)c->argc * sizeof(int));
	switch (sort_parse(c->argc, c->argv, readonly, &o, gets)) {
	case SORT_PARSE_OK:
		break;
	case SORT_PARSE_SYNTAX:
		resp_error(c->out, RESP_ERR_SYNTAX);
		free(gets);
		return;
	case SORT_PARSE_NOT_INT:
		resp_error(c->out, RESP_ERR_NOT_INT);
		free(gets);
		return;
	}

	const struct kv_slice *key = &c->argv[1];
	struct kv_entry *e = db_lookup(cmd_db(c, key->ptr, key->len), key->ptr, key->len,
				       c->now_ms);
	cmd_count_read(c, key->ptr, key->len, e != NULL);
	enum kv_type t = e ? entry_type(e) : KV_TYPE_LIST;
	if (t != KV_TYPE_LIST && t != KV_TYPE_SET && t != KV_TYPE_ZSET) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		free(gets);
		return;
	}
	void *obj = e ? entry_obj(e) : NULL;
	int64_t len = !obj ? 0
		    : t == KV_TYPE_LIST ? (int64_t)list_len(obj)
		    : t == KV_TYPE_SET ? (int64_t)set_size(obj)
				       : (int64_t)zset_len(obj);

	/* A stored set must not depend on the set's layout: sort it. */
	if (o.dontsort && t == KV_TYPE_SET && o.store) {
		o.dontsort = false;
		o.alpha = true;
		o.by = 0;
	}

	int64_t start, end;
	sort_window(&o, len, &start, &end);
	struct sort_vec v = { .arena = KV_BUF_INIT };
	if (obj)
		sort_load(&v, t, obj, &o, &start, &end);
	/* The element bytes are copies: lookups below may expire keys anywhere,
	 * and the destination may be the sorted key itself. */
	e = NULL;
	obj = NULL;

	struct kv_buf name = KV_BUF_INIT;
	bool scores_ok = true;
	if (!o.dontsort) {
		scores_ok = sort_weigh(c, &v, &o, &name);
		struct sort_order ord = {
			.v = &v, .alpha = o.alpha, .by = o.by != 0,
			.binary = o.store != 0, .desc = o.desc,
		};
		struct sort_item *tmp = kv_malloc((v.n / 2 + 1) * sizeof(*tmp));
		sort_merge(&ord, v.items, tmp, v.n);
		free(tmp);
	}

	if (!scores_ok)
		resp_error(c->out, "ERR One or more scores can't be converted into double");
	else if (o.store)
		sort_store(c, &v, &o, start, end, &name);
	else
		sort_reply(c, &v, &o, start, end, &name);

	kv_buf_free(&name);
	kv_buf_free(&v.arena);
	free(v.items);
	free(gets);
}

static void cmd_sort(struct cmd_ctx *c)
{
	sort_generic(c, false);
}

static void cmd_sort_ro(struct cmd_ctx *c)
{
	sort_generic(c, true);
}

#define SORT_COMPLEXITY \
	"O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M " \
	"the number of returned elements. When the elements are not sorted, complexity is O(N)."

const struct kv_command cmd_table_sort[] = {
	{ .name = "sort", .arity = -2, .flags = CMD_WRITE | CMD_DENYOOM,
	  .first_key = 1, .last_key = 1, .key_step = 1, .proc = cmd_sort, .keys = sort_keys,
	  .group = "generic", .since = "1.0.0",
	  .summary = "Sort the elements in a list, set or sorted set",
	  .complexity = SORT_COMPLEXITY, .all_shards = sort_all_shards },
	{ .name = "sort_ro", .arity = -2, .flags = CMD_READONLY,
	  .first_key = 1, .last_key = 1, .key_step = 1, .proc = cmd_sort_ro, .keys = sort_ro_keys,
	  .group = "generic", .since = "7.0.0",
	  .summary = "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
	  .complexity = SORT_COMPLEXITY, .all_shards = sort_ro_all_shards },
	{ .name = NULL },
};
