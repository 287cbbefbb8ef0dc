/*
 * cmd_geo.c - the geo commands (GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH,
 * GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and the _RO forms) with
 * Redis 7.0's replies and errors.
 *
 * A geo set is a sorted set whose scores are 52-bit geohashes
 * (store/geohash.h), so every sorted set command works on it and GEOADD is
 * ZADD with computed scores (it shares ZADD's work and its "zadd" event).
 * A search reads the score ranges of up to nine geohash cells, keeps the
 * members inside the exact shape, and sorts them by distance when asked.
 *
 * Effects: GEOADD is deterministic given its arguments (the score is pure
 * IEEE arithmetic on the parsed coordinates), so it is logged as sent; the
 * STORE forms are deterministic given the source (cell order and the
 * sorted set's order), so they too are logged as sent when both keys share
 * a shard, and as the destination's final state otherwise (fx.h rule 3).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "commands/cmd.h"
#include "commands/cmd_zset.h"
#include "commands/notify.h"
#include "store/geohash.h"
#include "store/store.h"
#include "store/t_zset.h"

/* ---- arguments ---- */

/* Redis compares option words as C strings: cut at the first NUL. */
static bool opt_is(const struct kv_slice *a, const char *word)
{
	const char *nul = memchr(a->ptr, '\0', a->len);
	struct kv_slice cut = { a->ptr, nul ? (size_t)(nul - a->ptr) : a->len };
	return arg_is(&cut, word);
}

/* Redis's getDoubleFromObject: strtod over the whole argument; no leading
 * space, no NaN, no overflow, no underflow to zero. */
static bool geo_arg_double(const struct kv_slice *a, double *out)
{
	char small[128];
	if (a->len == 0)
		return false;
	char *buf = a->len < sizeof(small) ? small : kv_malloc(a->len + 1);
	memcpy(buf, a->ptr, a->len);
	buf[a->len] = '\0';
	char *end;
	errno = 0;
	double v = strtod(buf, &end);
	bool ok = !isspace((unsigned char)buf[0]) && (size_t)(end - buf) == a->len &&
		  !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0)) && !isnan(v);
	if (buf != small)
		free(buf);
	if (ok)
		*out = v;
	return ok;
}

/* A float argument, or Redis's error: msg, or the generic one when NULL. */
static bool double_or_reply(struct cmd_ctx *c, const struct kv_slice *a, double *v,
			    const char *msg)
{
	if (geo_arg_double(a, v))
		return true;
	resp_error(c->out, msg ? msg : RESP_ERR_NOT_FLOAT);
	return false;
}

/* "longitude latitude" at argv[i], checked against the indexable area. */
static bool lonlat_or_reply(struct cmd_ctx *c, int i, double xy[2])
{
	if (!double_or_reply(c, &c->argv[i], &xy[0], NULL) ||
	    !double_or_reply(c, &c->argv[i + 1], &xy[1], NULL))
		return false;
	if (xy[0] < GEO_LONG_MIN || xy[0] > GEO_LONG_MAX || xy[1] < GEO_LAT_MIN ||
	    xy[1] > GEO_LAT_MAX) {
		resp_errorf(c->out, "ERR invalid longitude,latitude pair %f,%f", xy[0], xy[1]);
		return false;
	}
	return true;
}

/* Meters per unit, or -1 after replying the error. */
static double unit_or_reply(struct cmd_ctx *c, const struct kv_slice *u)
{
	if (opt_is(u, "m")) return 1;
	if (opt_is(u, "km")) return 1000;
	if (opt_is(u, "ft")) return 0.3048;
	if (opt_is(u, "mi")) return 1609.34;
	resp_error(c->out, "ERR unsupported unit provided. please use M, KM, FT, MI");
	return -1;
}

/* "radius unit" at argv[i]. */
static bool radius_or_reply(struct cmd_ctx *c, int i, struct geo_shape *s)
{
	double r;
	if (!double_or_reply(c, &c->argv[i], &r, "ERR need numeric radius"))
		return false;
	if (r < 0) {
		resp_error(c->out, "ERR radius cannot be negative");
		return false;
	}
	s->radius = r;
	s->to_meters = unit_or_reply(c, &c->argv[i + 1]);
	return s->to_meters >= 0;
}

/* "width height unit" at argv[i]. */
static bool box_or_reply(struct cmd_ctx *c, int i, struct geo_shape *s)
{
	double w, h;
	if (!double_or_reply(c, &c->argv[i], &w, "ERR need numeric width") ||
	    !double_or_reply(c, &c->argv[i + 1], &h, "ERR need numeric height"))
		return false;
	if (h < 0 || w < 0) {
		resp_error(c->out, "ERR height or width cannot be negative");
		return false;
	}
	s->width = w;
	s->height = h;
	s->to_meters = unit_or_reply(c, &c->argv[i + 2]);
	return s->to_meters >= 0;
}

/* The zset at argv[i] for reading: *z NULL when absent; false after
 * replying WRONGTYPE. */
static bool read_zset(struct cmd_ctx *c, int i, struct zset **z)
{
	struct kv_entry *e = db_lookup(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len,
				       c->now_ms);
	cmd_count_read(c, c->argv[i].ptr, c->argv[i].len, e != NULL);
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

/* The position of a member; false when it is absent. */
static bool member_pos(struct zset *z, const struct kv_slice *m, double xy[2])
{
	double score;
	return zset_score(z, m->ptr, m->len, &score) && geo_score_decode(score, xy);
}

/* ---- replies ---- */

/* A distance with four decimals, rounded as Redis's fixedpoint_d2string
 * (llrint of the value times 10^4). */
static void reply_distance(struct kv_buf *out, double d)
{
	char buf[48];
	long long v = d == 0 ? 0 : llrint(d * 10000.0);
	unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	int n = snprintf(buf, sizeof(buf), "%s%llu.%04llu", v < 0 ? "-" : "", mag / 10000,
			 mag % 10000);
	resp_bulk(out, buf, (size_t)n);
}

/* A coordinate as Redis's addReplyHumanLongDouble prints it: a bulk, a double
 * in RESP3. */
static void reply_coord(struct kv_buf *out, double v)
{
	char buf[FMT_LONG_DOUBLE_MAX];
	int n = fmt_long_double(buf, sizeof(buf), (long double)v);
	resp_double_text(out, buf, (size_t)n);
}

/* ---- GEOADD key [NX|XX] [CH] longitude latitude member ... ---- */

static void cmd_geoadd(struct cmd_ctx *c)
{
	bool nx = false, xx = false, ch = false;
	int first = 2;
	for (; first < c->argc; first++) {
		const struct kv_slice *a = &c->argv[first];
		if (opt_is(a, "nx")) nx = true;
		else if (opt_is(a, "xx")) xx = true;
		else if (opt_is(a, "ch")) ch = true;
		else break;
	}
	int left = c->argc - first;
	if (left == 0 || left % 3 || (nx && xx)) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	int elements = left / 3;
	double *scores = kv_malloc((size_t)elements * sizeof(double));
	for (int j = 0; j < elements; j++) {
		double xy[2];
		if (!lonlat_or_reply(c, first + 3 * j, xy)) {
			free(scores);
			return;
		}
		scores[j] = (double)geo_score_of(xy[0], xy[1]);
	}
	zset_add_members(c, (nx ? ZADD_IN_NX : 0) | (xx ? ZADD_IN_XX : 0), ch, scores, elements,
			 first + 2, 3);
	free(scores);
}

/* ---- GEOPOS, GEODIST, GEOHASH ---- */

static void cmd_geopos(struct cmd_ctx *c)
{
	struct zset *z;
	if (!read_zset(c, 1, &z))
		return;
	resp_array(c->out, c->argc - 2);
	for (int j = 2; j < c->argc; j++) {
		double xy[2];
		if (!z || !member_pos(z, &c->argv[j], xy)) {
			resp_null_array(c->out);
			continue;
		}
		resp_array(c->out, 2);
		reply_coord(c->out, xy[0]);
		reply_coord(c->out, xy[1]);
	}
}

static void cmd_geodist(struct cmd_ctx *c)
{
	double to_meters = 1;
	if (c->argc == 5) {
		to_meters = unit_or_reply(c, &c->argv[4]);
		if (to_meters < 0)
			return;
	} else if (c->argc > 5) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	struct zset *z;
	if (!read_zset(c, 1, &z))
		return;
	double a[2], b[2];
	if (!z || !member_pos(z, &c->argv[2], a) || !member_pos(z, &c->argv[3], b)) {
		resp_null(c->out);
		return;
	}
	reply_distance(c->out, geo_distance(a[0], a[1], b[0], b[1]) / to_meters);
}

static void cmd_geohash(struct cmd_ctx *c)
{
	struct zset *z;
	if (!read_zset(c, 1, &z))
		return;
	resp_array(c->out, c->argc - 2);
	for (int j = 2; j < c->argc; j++) {
		double score;
		char buf[11];
		if (!z || !zset_score(z, c->argv[j].ptr, c->argv[j].len, &score) ||
		    !geo_score_to_string(score, buf)) {
			resp_null(c->out);
			continue;
		}
		resp_bulk(c->out, buf, sizeof(buf));
	}
}

/* ---- the searches ---- */

enum {
	SEARCH_AT_COORDS = 1 << 0,   /* GEORADIUS: longitude latitude radius unit */
	SEARCH_AT_MEMBER = 1 << 1,   /* GEORADIUSBYMEMBER: member radius unit */
	SEARCH_NO_STORE = 1 << 2,    /* the _RO forms */
	SEARCH_GEOSEARCH = 1 << 3,   /* FROM... BY... options */
	SEARCH_STORE_FORM = 1 << 4,  /* GEOSEARCHSTORE */
};
enum search_order { ORDER_NONE, ORDER_ASC, ORDER_DESC };

/* One match: the member's bytes stay in the source zset, which nothing
 * modifies until the result is stored. */
struct geo_hit {
	struct kv_slice member;
	double score;
	double dist;
	double xy[2];
};

struct geo_hits {
	struct geo_hit *v;
	size_t n, cap;
};

static void hits_push(struct geo_hits *h, const struct geo_hit *hit)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 8;
		h->v = kv_realloc(h->v, h->cap * sizeof(*h->v));
	}
	h->v[h->n++] = *hit;
}

/* Adds the members of z whose scores lie in the cell and inside the shape,
 * stopping once limit hits are held (0: no limit). */
static void hits_in_cell(struct zset *z, struct geohash cell, const struct geo_shape *s,
			 struct geo_hits *h, size_t limit, struct zset_iter *it)
{
	uint64_t min, max;
	geo_cell_scores(cell, &min, &max);
	struct zset_score_range r = { (double)min, (double)max, false, true };
	size_t first;
	size_t n = zset_score_span(z, &r, false, &first);
	if (n == 0)
		return;
	zset_iter_init(z, it, first, false);
	struct geo_hit hit;
	for (size_t i = 0; i < n && zset_iter_next(it, &hit.member, &hit.score); i++) {
		if (geo_within(s, hit.score, hit.xy, &hit.dist))
			hits_push(h, &hit);
		if (limit && h->n >= limit)
			break;
	}
}

/* Every member inside the shape, reading the cells in Redis's order and
 * skipping a cell equal to the one read before it (huge radii make
 * neighbours coincide). */
static void hits_collect(struct zset *z, const struct geo_shape *s, struct geo_hits *h,
			 size_t limit)
{
	struct geo_cells cells;
	geo_cells_for(s, &cells);
	struct zset_iter *it = kv_malloc(sizeof(*it));
	int last = -1;
	for (int i = 0; i < 9; i++) {
		struct geohash cell = cells.cell[i];
		if (cell.bits == 0 && cell.step == 0)
			continue;
		if (last > 0 && cell.bits == cells.cell[last].bits &&
		    cell.step == cells.cell[last].step)
			continue;
		if (limit && h->n >= limit)
			break;
		hits_in_cell(z, cell, s, h, limit, it);
		last = i;
	}
	free(it);
}

static int hit_cmp_asc(const void *a, const void *b)
{
	double x = ((const struct geo_hit *)a)->dist, y = ((const struct geo_hit *)b)->dist;
	return x > y ? 1 : x == y ? 0 : -1;
}

static int hit_cmp_desc(const void *a, const void *b) { return -hit_cmp_asc(a, b); }

typedef int (*hit_cmp_fn)(const void *, const void *);

static void hit_swap(struct geo_hit *v, size_t i, size_t j)
{
	struct geo_hit t = v[i];
	v[i] = v[j];
	v[j] = t;
}

/* Swaps the runs of n hits at i and j (which do not overlap). */
static void hit_swap_runs(struct geo_hit *v, size_t i, size_t j, size_t n)
{
	for (size_t k = 0; k < n; k++)
		hit_swap(v, i + k, j + k);
}

static size_t hit_median3(const struct geo_hit *v, size_t a, size_t b, size_t c, hit_cmp_fn cmp)
{
	if (cmp(&v[a], &v[b]) < 0)
		return cmp(&v[b], &v[c]) < 0 ? b : cmp(&v[a], &v[c]) < 0 ? c : a;
	return cmp(&v[b], &v[c]) > 0 ? b : cmp(&v[a], &v[c]) < 0 ? a : c;
}

/* Whether the hits [lo, lo + n) hold any of the ranks [0, last]. */
static bool holds_wanted(size_t lo, size_t n, size_t last) { return lo <= last && n > 0; }

/* Puts the hits that a full sort would place at ranks [0, last] there, in
 * order, doing exactly what Redis's partial sort (pqsort: Bentley and
 * McIlroy's three-way quicksort that skips the parts outside the wanted
 * ranks) does, so equal distances come out in Redis's order too. */
static void hits_partial_sort(struct geo_hit *v, size_t lo, size_t n, size_t last, hit_cmp_fn cmp)
{
	for (;;) {
		if (n < 7) {
			for (size_t m = lo + 1; m < lo + n; m++)
				for (size_t l = m; l > lo && cmp(&v[l - 1], &v[l]) > 0; l--)
					hit_swap(v, l, l - 1);
			return;
		}
		size_t m = lo + n / 2;
		if (n > 7) {
			size_t l = lo, r = lo + n - 1;
			if (n > 40) {
				size_t d = n / 8;
				l = hit_median3(v, l, l + d, l + 2 * d, cmp);
				m = hit_median3(v, m - d, m, m + d, cmp);
				r = hit_median3(v, r - 2 * d, r - d, r, cmp);
			}
			m = hit_median3(v, l, m, r, cmp);
		}
		/* The pivot goes first; equal keys gather at both ends. */
		hit_swap(v, lo, m);
		size_t pa = lo + 1, pb = lo + 1, pc = lo + n - 1, pd = lo + n - 1;
		for (;;) {
			int r;
			while (pb <= pc && (r = cmp(&v[pb], &v[lo])) <= 0) {
				if (r == 0)
					hit_swap(v, pa++, pb);
				pb++;
			}
			while (pb <= pc && (r = cmp(&v[pc], &v[lo])) >= 0) {
				if (r == 0)
					hit_swap(v, pc, pd--);
				pc--;
			}
			if (pb > pc)
				break;
			hit_swap(v, pb++, pc--);
		}
		size_t end = lo + n;
		size_t k = pa - lo < pb - pa ? pa - lo : pb - pa;
		hit_swap_runs(v, lo, pb - k, k);
		k = pd - pc < end - pd - 1 ? pd - pc : end - pd - 1;
		hit_swap_runs(v, pb, end - k, k);
		/* The smaller keys, then the larger ones (as a loop). */
		size_t nless = pb - pa, nmore = pd - pc;
		if (nless > 1 && holds_wanted(lo, nless, last))
			hits_partial_sort(v, lo, nless, last, cmp);
		if (nmore <= 1 || !holds_wanted(end - nmore, nmore, last))
			return;
		lo = end - nmore;
		n = nmore;
	}
}

/* Stores the first n hits at the key (their distances, or their hashes) and
 * replies with n; no hits delete the key, as Redis does. */
static void store_hits(struct cmd_ctx *c, const struct kv_slice *key, struct geo_hits *h,
		       size_t n, bool storedist, const char *event)
{
	struct kv_db *db = cmd_db(c, key->ptr, key->len);
	if (n == 0) {
		if (db_delete(db, key->ptr, key->len))
			cmd_notify(c, NOTIFY_GENERIC, "del", key->ptr, key->len);
		resp_int(c->out, 0);
		return;
	}
	/* Built as a skiplist and packed at the end if it fits, like the other
	 * *STORE results; every member is copied before the store replaces a
	 * destination that may be the source itself. */
	struct zset *res = zset_new_skiplist();
	for (size_t i = 0; i < n; i++) {
		const struct geo_hit *hit = &h->v[i];
		zset_add(&res, storedist ? hit->dist : hit->score, hit->member.ptr,
			 hit->member.len, 0, NULL);
	}
	zset_pack_if_fits(&res);
	db_set_object(db, key->ptr, key->len, KV_TYPE_ZSET, res, KV_NO_EXPIRE);
	cmd_notify(c, NOTIFY_ZSET, event, key->ptr, key->len);
	resp_int(c->out, (int64_t)n);
}

static void reply_hits(struct cmd_ctx *c, const struct geo_hits *h, size_t n, bool withdist,
		       bool withhash, bool withcoord)
{
	int extra = withdist + withhash + withcoord;
	resp_array(c->out, (int64_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct geo_hit *hit = &h->v[i];
		if (extra)
			resp_array(c->out, extra + 1);
		resp_bulk(c->out, hit->member.ptr, hit->member.len);
		if (withdist)
			reply_distance(c->out, hit->dist);
		if (withhash)
			resp_int(c->out, (int64_t)hit->score);
		if (withcoord) {
			resp_array(c->out, 2);
			reply_coord(c->out, hit->xy[0]);
			reply_coord(c->out, hit->xy[1]);
		}
	}
}

/* What a search's options say. */
struct search_opts {
	bool withdist, withhash, withcoord, any, storedist;
	bool frommember, fromlonlat, byradius, bybox;
	enum search_order order;
	int64_t count;                   /* 0: no limit */
	const struct kv_slice *storekey; /* NULL: reply, not store */
};

/* Parses the options from argv[base] on, as Redis does, reading
 * FROMMEMBER's position from z (NULL: absent source, positions unread).
 * Returns false after replying an error. */
static bool parse_search_opts(struct cmd_ctx *c, int base, int flags, struct zset *z,
			      struct geo_shape *s, struct search_opts *o)
{
	bool geosearch = flags & SEARCH_GEOSEARCH;
	bool store_args = !(flags & SEARCH_NO_STORE) && !geosearch;
	for (int i = base; i < c->argc; i++) {
		const struct kv_slice *a = &c->argv[i];
		int left = c->argc - i - 1;   /* arguments after this one */
		if (opt_is(a, "withdist")) {
			o->withdist = true;
		} else if (opt_is(a, "withhash")) {
			o->withhash = true;
		} else if (opt_is(a, "withcoord")) {
			o->withcoord = true;
		} else if (opt_is(a, "any")) {
			o->any = true;
		} else if (opt_is(a, "asc")) {
			o->order = ORDER_ASC;
		} else if (opt_is(a, "desc")) {
			o->order = ORDER_DESC;
		} else if (opt_is(a, "count") && left >= 1) {
			if (!arg_to_int64(&c->argv[i + 1], &o->count)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return false;
			}
			if (o->count <= 0) {
				resp_error(c->out, "ERR COUNT must be > 0");
				return false;
			}
			i++;
		} else if ((opt_is(a, "store") || opt_is(a, "storedist")) && left >= 1 &&
			   store_args) {
			o->storekey = &c->argv[i + 1];
			o->storedist = opt_is(a, "storedist");
			i++;
		} else if (opt_is(a, "storedist") && (flags & SEARCH_STORE_FORM)) {
			o->storedist = true;
		} else if (opt_is(a, "frommember") && left >= 1 && geosearch && !o->fromlonlat) {
			/* An absent source is answered once every option parsed. */
			if (z && !member_pos(z, &c->argv[i + 1], s->xy)) {
				resp_error(c->out, "ERR could not decode requested zset member");
				return false;
			}
			o->frommember = true;
			i++;
		} else if (opt_is(a, "fromlonlat") && left >= 2 && geosearch && !o->frommember) {
			if (!lonlat_or_reply(c, i + 1, s->xy))
				return false;
			o->fromlonlat = true;
			i += 2;
		} else if (opt_is(a, "byradius") && left >= 2 && geosearch && !o->bybox) {
			if (!radius_or_reply(c, i + 1, s))
				return false;
			s->kind = GEO_SHAPE_CIRCLE;
			o->byradius = true;
			i += 2;
		} else if (opt_is(a, "bybox") && left >= 3 && geosearch && !o->byradius) {
			if (!box_or_reply(c, i + 1, s))
				return false;
			s->kind = GEO_SHAPE_BOX;
			o->bybox = true;
			i += 3;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return false;
		}
	}
	if (o->storekey && (o->withdist || o->withhash || o->withcoord)) {
		resp_errorf(c->out, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
			    (flags & SEARCH_STORE_FORM) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
		return false;
	}
	const struct kv_slice *name = &c->argv[0];
	if (geosearch && !(o->frommember || o->fromlonlat)) {
		resp_errorf(c->out, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
			    (int)name->len, name->ptr);
		return false;
	}
	if (geosearch && !(o->byradius || o->bybox)) {
		resp_errorf(c->out, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
			    (int)name->len, name->ptr);
		return false;
	}
	if (o->any && !o->count) {
		resp_error(c->out, "ERR the ANY argument requires COUNT argument");
		return false;
	}
	return true;
}

/* Every search command: the source key is argv[src]. */
static void geo_search(struct cmd_ctx *c, int src, int flags)
{
	struct zset *z;
	if (!read_zset(c, src, &z))
		return;
	struct geo_shape s = { 0 };
	struct search_opts o = { 0 };
	int base;
	if (flags & SEARCH_AT_COORDS) {
		base = 6;
		s.kind = GEO_SHAPE_CIRCLE;
		if (!lonlat_or_reply(c, 2, s.xy) || !radius_or_reply(c, 4, &s))
			return;
	} else if (flags & SEARCH_AT_MEMBER) {
		base = 5;
		s.kind = GEO_SHAPE_CIRCLE;
		/* An absent source still parses the options, to know the reply. */
		if (z) {
			if (!member_pos(z, &c->argv[2], s.xy)) {
				resp_error(c->out, "ERR could not decode requested zset member");
				return;
			}
			if (!radius_or_reply(c, 3, &s))
				return;
		}
	} else {
		base = (flags & SEARCH_STORE_FORM) ? 3 : 2;
		if (flags & SEARCH_STORE_FORM)
			o.storekey = &c->argv[1];
	}
	if (!parse_search_opts(c, base, flags, z, &s, &o))
		return;
	const char *event = (flags & SEARCH_GEOSEARCH) ? "geosearchstore" : "georadiusstore";
	if (!z) {
		if (o.storekey)
			store_hits(c, o.storekey, NULL, 0, false, event);
		else
			resp_array(c->out, 0);
		return;
	}
	/* COUNT keeps the nearest ones, unless ANY asks for the first found. */
	if (o.count && o.order == ORDER_NONE && !o.any)
		o.order = ORDER_ASC;

	struct geo_hits h = { 0 };
	hits_collect(z, &s, &h, o.any ? (size_t)o.count : 0);
	size_t n = (o.count == 0 || h.n < (size_t)o.count) ? h.n : (size_t)o.count;
	if (o.order != ORDER_NONE && h.n > 1) {
		hit_cmp_fn cmp = o.order == ORDER_ASC ? hit_cmp_asc : hit_cmp_desc;
		/* Redis sorts all with the C library's qsort, or only the
		 * returned head with its own partial sort: the same calls give
		 * the same order among equal distances. */
		if (n == h.n)
			qsort(h.v, h.n, sizeof(*h.v), cmp);
		else
			hits_partial_sort(h.v, 0, h.n, n - 1, cmp);
	}
	for (size_t i = 0; i < n; i++)
		h.v[i].dist /= s.to_meters;
	if (o.storekey)
		store_hits(c, o.storekey, &h, n, o.storedist, event);
	else
		reply_hits(c, &h, n, o.withdist, o.withhash, o.withcoord);
	free(h.v);
}

static void cmd_georadius(struct cmd_ctx *c) { geo_search(c, 1, SEARCH_AT_COORDS); }
static void cmd_georadius_ro(struct cmd_ctx *c)
{
	geo_search(c, 1, SEARCH_AT_COORDS | SEARCH_NO_STORE);
}
static void cmd_georadiusbymember(struct cmd_ctx *c) { geo_search(c, 1, SEARCH_AT_MEMBER); }
static void cmd_georadiusbymember_ro(struct cmd_ctx *c)
{
	geo_search(c, 1, SEARCH_AT_MEMBER | SEARCH_NO_STORE);
}
static void cmd_geosearch(struct cmd_ctx *c) { geo_search(c, 1, SEARCH_GEOSEARCH); }
static void cmd_geosearchstore(struct cmd_ctx *c)
{
	geo_search(c, 2, SEARCH_GEOSEARCH | SEARCH_STORE_FORM);
}

/* GEORADIUS[BYMEMBER]'s keys: the source, and the key of the last STORE or
 * STOREDIST option (Redis's georadiusGetKeys scans from argv[5]). */
static int georadius_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	int store = 0;
	for (int i = 5; i < argc; i++) {
		if ((opt_is(&argv[i], "store") || opt_is(&argv[i], "storedist")) && i + 1 < argc) {
			store = i + 1;
			i++;
		}
	}
	int n = 0;
	if (n < max)
		idx[n++] = 1;
	if (store && n < max)
		idx[n++] = store;
	return n;
}

/* ---- the table (arity, flags, key specs and docs of Redis 7.0.15) ---- */

#define G "geo"
#define SEARCH_CPLX "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."
#define GEOSEARCH_CPLX "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape"

const struct kv_command cmd_table_geo[] = {
	{ "geoadd", -5, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_geoadd, NULL, NULL, G, "3.2.0",
	  "Add one or more geospatial items in the geospatial index represented using a sorted set",
	  "O(log(N)) for each item added, where N is the number of elements in the sorted set.", NULL },
	{ "geodist", -4, CMD_READONLY, 1, 1, 1, cmd_geodist, NULL, NULL, G, "3.2.0",
	  "Returns the distance between two members of a geospatial index", "O(log(N))", NULL },
	{ "geohash", -2, CMD_READONLY, 1, 1, 1, cmd_geohash, NULL, NULL, G, "3.2.0",
	  "Returns members of a geospatial index as standard geohash strings",
	  "O(log(N)) for each member requested, where N is the number of elements in the sorted set.", NULL },
	{ "geopos", -2, CMD_READONLY, 1, 1, 1, cmd_geopos, NULL, NULL, G, "3.2.0",
	  "Returns longitude and latitude of members of a geospatial index",
	  "O(N) where N is the number of members requested.", NULL },
	{ "georadius", -6, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_georadius, georadius_keys, NULL, G,
	  "3.2.0",
	  "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
	  SEARCH_CPLX, NULL },
	{ "georadius_ro", -6, CMD_READONLY, 1, 1, 1, cmd_georadius_ro, NULL, NULL, G, "3.2.10",
	  "A read-only variant for GEORADIUS", SEARCH_CPLX, NULL },
	{ "georadiusbymember", -5, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_georadiusbymember,
	  georadius_keys, NULL, G, "3.2.0",
	  "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
	  SEARCH_CPLX, NULL },
	{ "georadiusbymember_ro", -5, CMD_READONLY, 1, 1, 1, cmd_georadiusbymember_ro, NULL, NULL, G,
	  "3.2.10", "A read-only variant for GEORADIUSBYMEMBER", SEARCH_CPLX, NULL },
	{ "geosearch", -7, CMD_READONLY, 1, 1, 1, cmd_geosearch, NULL, NULL, G, "6.2.0",
	  "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
	  GEOSEARCH_CPLX, NULL },
	{ "geosearchstore", -8, CMD_WRITE | CMD_DENYOOM, 1, 2, 1, cmd_geosearchstore, NULL, NULL, G,
	  "6.2.0",
	  "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
	  GEOSEARCH_CPLX, NULL },
	{ NULL },
};
