/*
 * test_units.c - the recovery rule for units across shards (persist/units.c)
 * over enumerated histories of two and three shards and every way a crash
 * can cut each shard's log, checked against an oracle that applies the rule
 * in the global order of execution, and by replaying what is kept; then
 * hand-written cases (a dependent chain across shards, FLUSHDB, an
 * independent write kept, RESOLVE records, corruption).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "persist/units.h"

/* ------------------------------------------------------------------ */
/* a model: a history of events, each shard's log of it */

#define MAXS 3          /* shards */
#define NK 3            /* keys per shard */
#define MAXEV 32        /* events of a world (both phases) */
#define MAXREC 40       /* records of a shard's log */

/* One shard's share of an event: the keys (bit masks of key numbers) it
 * read and wrote there; `all` touches every key (FLUSHDB). */
struct part {
	uint8_t shard, rmask, wmask;
	bool all;
};
/* A shard the event only read (a unit's READ row). */
struct rrow {
	uint8_t shard, rmask;
	bool all;
};
struct event {
	uint8_t nparts, nreads;
	struct part p[MAXS];
	struct rrow r[MAXS];
	bool unit;          /* logged with a unit header */
};

struct rec {
	int ev;             /* -1: a RESOLVE record */
	int part;
	uint64_t lsn;
};

struct world {
	uint32_t ns;
	int nev;
	struct event ev[MAXEV];
	int phase_start;                /* first event of the second phase */
	int pidx[MAXEV][MAXS];          /* record index of each part, -1 once lost */
	uint64_t plsn[MAXEV][MAXS];     /* LSN of each part */
	uint64_t rlsn[MAXEV][MAXS];     /* LSN each READ row read at */
	int nrec[MAXS];
	struct rec recs[MAXS][MAXREC];
	uint64_t resolved[MAXS][MAXREC];
	int nresolved[MAXS];
	/* What units_decide is given. */
	struct units_record ur[MAXS][MAXREC];
	struct units_key rk[MAXS][MAXREC][NK], wk[MAXS][MAXREC][NK];
	struct units_unit uu[MAXEV];
	struct units_ref uref[MAXEV][2 * MAXS];
	struct units_key refk[MAXEV][MAXS][NK];
	uint64_t boot;
};

static char key_name[MAXS][NK][8];

static void key_names_init(void)
{
	for (int s = 0; s < MAXS; s++)
		for (int k = 0; k < NK; k++)
			snprintf(key_name[s][k], sizeof(key_name[s][k]), "s%dk%d", s, k);
}

static uint64_t shard_last_lsn(const struct world *w, uint32_t s)
{
	return w->nrec[s] ? w->recs[s][w->nrec[s] - 1].lsn : 0;
}

static uint32_t fill_keys(struct units_key *out, uint32_t shard, uint8_t mask)
{
	uint32_t n = 0;
	for (int k = 0; k < NK; k++)
		if (mask & (1u << k))
			out[n++] = (struct units_key){ .db = 0, .len = strlen(key_name[shard][k]),
						       .ptr = key_name[shard][k] };
	return n;
}

/* Execute e: each part becomes the next record of its shard. */
static void world_append(struct world *w, const struct event *e)
{
	int id = w->nev++;
	kv_assert(id < MAXEV);
	w->ev[id] = *e;
	struct units_unit *u = &w->uu[id];
	u->id = (struct units_id){ .boot = w->boot, .seq = (uint64_t)id + 1 };
	u->refs = w->uref[id];
	u->nrefs = 0;
	for (int j = 0; j < e->nreads; j++) {
		w->rlsn[id][j] = shard_last_lsn(w, e->r[j].shard);
	}
	for (int j = 0; j < e->nparts; j++) {
		uint32_t s = e->p[j].shard;
		int i = w->nrec[s]++;
		kv_assert(i < MAXREC);
		w->recs[s][i] = (struct rec){ .ev = id, .part = j, .lsn = (i ? w->recs[s][i - 1].lsn : 0) + 1 };
		w->pidx[id][j] = i;
		w->plsn[id][j] = w->recs[s][i].lsn;
		w->uref[id][u->nrefs++] = (struct units_ref){ .shard = s, .role = UNITS_PART,
							      .lsn = w->plsn[id][j] };
	}
	for (int j = 0; j < e->nreads; j++) {
		struct units_ref *f = &w->uref[id][u->nrefs++];
		*f = (struct units_ref){ .shard = e->r[j].shard, .role = UNITS_READ, .lsn = w->rlsn[id][j] };
		f->reads.v = w->refk[id][j];
		f->reads.n = fill_keys(w->refk[id][j], e->r[j].shard, e->r[j].rmask);
		f->reads.all = e->r[j].all;
	}
}

/* A crash kept only the first n records of shard s; later ones are lost. */
static void world_truncate(struct world *w, uint32_t s, int n)
{
	for (int i = n; i < w->nrec[s]; i++)
		if (w->recs[s][i].ev >= 0)
			w->pidx[w->recs[s][i].ev][w->recs[s][i].part] = -1;
	w->nrec[s] = n;
}

/* Recovery's RESOLVE record on shard s, naming w->resolved[s]. */
static void world_resolve(struct world *w, uint32_t s)
{
	uint64_t lsn = shard_last_lsn(w, s) + 1;
	w->recs[s][w->nrec[s]++] = (struct rec){ .ev = -1, .lsn = lsn };
}

/* The input of units_decide: shard s's records [cut[s], pre[s]). */
static void world_logs(struct world *w, const int *cut, const int *pre, struct units_log *logs)
{
	for (uint32_t s = 0; s < w->ns; s++) {
		logs[s].cut = cut[s] ? w->recs[s][cut[s] - 1].lsn : 0;
		logs[s].recs = &w->ur[s][cut[s]];
		logs[s].n = (size_t)(pre[s] - cut[s]);
		for (int i = cut[s]; i < pre[s]; i++) {
			const struct rec *r = &w->recs[s][i];
			struct units_record *u = &w->ur[s][i];
			memset(u, 0, sizeof(*u));
			u->lsn = r->lsn;
			if (r->ev < 0) {
				u->kind = UNITS_RESOLVE;
				u->resolved = w->resolved[s];
				u->nresolved = (uint32_t)w->nresolved[s];
				continue;
			}
			const struct event *e = &w->ev[r->ev];
			const struct part *p = &e->p[r->part];
			u->kind = UNITS_EFFECT;
			u->unit = e->unit ? &w->uu[r->ev] : NULL;
			u->reads.v = w->rk[s][i];
			u->reads.n = fill_keys(w->rk[s][i], s, p->rmask);
			u->reads.all = p->all;
			u->writes.v = w->wk[s][i];
			u->writes.n = fill_keys(w->wk[s][i], s, p->wmask);
			u->writes.all = p->all;
		}
	}
}

/* Recovery may first decide without any keys: when that drops nothing but
 * what RESOLVE records name, the keys cannot change the verdict
 * (docs/durability.md, section 4).  Check it on this crash state. */
static void check_keyless_shortcut(struct world *w, const int *cut, const int *pre,
				   const struct units_result *full)
{
	struct units_log logs[MAXS];
	struct units_result res;
	world_logs(w, cut, pre, logs);
	for (uint32_t s = 0; s < w->ns; s++)
		for (int i = cut[s]; i < pre[s]; i++) {
			w->ur[s][i].reads = (struct units_keys){ 0 };
			w->ur[s][i].writes = (struct units_keys){ 0 };
		}
	uint32_t saved[MAXEV][2 * MAXS];
	bool saved_all[MAXEV][2 * MAXS];
	for (int e = 0; e < w->nev; e++)
		for (uint32_t j = 0; j < w->uu[e].nrefs; j++) {
			saved[e][j] = w->uref[e][j].reads.n;
			saved_all[e][j] = w->uref[e][j].reads.all;
			w->uref[e][j].reads.n = 0;
			w->uref[e][j].reads.all = false;
		}
	assert_int_equal(units_decide(logs, w->ns, &res), 0);
	bool only_listed = true;
	for (uint32_t s = 0; s < w->ns; s++)
		for (int i = cut[s]; i < pre[s]; i++) {
			bool listed = false;
			for (int k = 0; k < w->nresolved[s]; k++)
				listed |= w->resolved[s][k] == w->recs[s][i].lsn;
			if (!res.keep[s][i - cut[s]] && !listed)
				only_listed = false;
		}
	if (only_listed)
		for (uint32_t s = 0; s < w->ns; s++)
			if (memcmp(res.keep[s], full->keep[s], (size_t)(pre[s] - cut[s])) != 0)
				fail_msg("deciding without keys dropped nothing new, with keys it did");
	units_result_free(&res);
	for (int e = 0; e < w->nev; e++)
		for (uint32_t j = 0; j < w->uu[e].nrefs; j++) {
			w->uref[e][j].reads.n = saved[e][j];
			w->uref[e][j].reads.all = saved_all[e][j];
		}
}

/* ------------------------------------------------------------------ */
/* the oracle: the rule applied in the global order of execution */

static uint8_t part_touch(const struct part *p)
{
	return p->all ? (uint8_t)((1u << NK) - 1) : (uint8_t)(p->rmask | p->wmask);
}

struct verdicts {
	bool present[MAXEV];     /* some part is in a log or a snapshot */
	bool complete[MAXEV];
	bool dropped[MAXEV];
};

/* Events [e0, e1) against records present up to pre[s] (record counts). */
static void oracle(const struct world *w, const int *pre, int e0, int e1, struct verdicts *v)
{
	uint8_t taint[MAXS] = { 0 };
	uint8_t full = (uint8_t)((1u << NK) - 1);
	for (int e = e0; e < e1; e++) {
		const struct event *ev = &w->ev[e];
		bool present = false, complete = true, dep = false;
		for (int j = 0; j < ev->nparts; j++) {
			int i = w->pidx[e][j];
			bool here = i >= 0 && i < pre[ev->p[j].shard];
			present |= here;
			complete &= here;
			dep |= (part_touch(&ev->p[j]) & taint[ev->p[j].shard]) != 0;
		}
		for (int j = 0; j < ev->nreads; j++) {
			uint32_t q = ev->r[j].shard;
			uint64_t reach = pre[q] ? w->recs[q][pre[q] - 1].lsn : 0;
			complete &= w->rlsn[e][j] <= reach;
			uint8_t rm = ev->r[j].all ? full : ev->r[j].rmask;
			dep |= (rm & taint[q]) != 0;
		}
		v->present[e] = present;
		v->complete[e] = complete;
		v->dropped[e] = present && (!complete || dep);
		if (v->dropped[e] || !complete)
			for (int j = 0; j < ev->nparts; j++)
				taint[ev->p[j].shard] |= ev->p[j].all ? full : ev->p[j].wmask;
	}
}

/* ------------------------------------------------------------------ */
/* replay: what is kept must see exactly what it saw when it ran */

struct values {
	int v[MAXS][NK];
};

static void seen_of(const struct event *ev, const struct values *st, int seen[2 * MAXS][NK])
{
	memset(seen, 0xff, sizeof(int[2 * MAXS][NK]));
	for (int j = 0; j < ev->nparts; j++)
		for (int k = 0; k < NK; k++)
			seen[j][k] = (part_touch(&ev->p[j]) >> k) & 1 ? st->v[ev->p[j].shard][k] : -1;
	for (int j = 0; j < ev->nreads; j++)
		for (int k = 0; k < NK; k++)
			seen[MAXS + j][k] = ev->r[j].all || ((ev->r[j].rmask >> k) & 1)
				? st->v[ev->r[j].shard][k] : -1;
}

static void apply_event(int e, const struct event *ev, struct values *st)
{
	for (int j = 0; j < ev->nparts; j++)
		for (int k = 0; k < NK; k++)
			if (ev->p[j].all)
				st->v[ev->p[j].shard][k] = (e + 1) * 100 + 50 + k;
			else if ((ev->p[j].wmask >> k) & 1)
				st->v[ev->p[j].shard][k] = (e + 1) * 100 + k + 1;
}

/* Run events [e0, e1) from *base (the original execution: every event),
 * then replay from *base only the events kept (kept[e]) and check that
 * each sees what it saw.  *base becomes the replayed state. */
static void replay_check(const struct world *w, int e0, int e1, const bool *kept,
			 struct values *base)
{
	static int seen[MAXEV][2 * MAXS][NK];
	struct values st = *base;
	for (int e = e0; e < e1; e++) {
		seen_of(&w->ev[e], &st, seen[e]);
		apply_event(e, &w->ev[e], &st);
	}
	st = *base;
	for (int e = e0; e < e1; e++) {
		if (!kept[e])
			continue;
		int now[2 * MAXS][NK];
		seen_of(&w->ev[e], &st, now);
		if (memcmp(now, seen[e], sizeof(now)) != 0)
			fail_msg("replay: kept event %d sees another state than when it ran", e);
		apply_event(e, &w->ev[e], &st);
	}
	*base = st;
}

/* ------------------------------------------------------------------ */
/* one crash state: decide, compare with the oracle, check invariants */

static uint64_t g_states;         /* crash states checked */
static uint64_t g_states_drop;    /* of which something was dropped */

/* Check res for events [e0, e1) given the verdicts; fills kept[] and adds
 * the records and units it expects dropped to *recs and *units. */
static void check_result(const struct world *w, const int *cut, const int *pre,
			 const struct units_result *res, int e0, int e1,
			 const struct verdicts *v, bool *kept, size_t *recs, size_t *units)
{
	size_t dropped_recs = 0, dropped_units = 0;
	for (int e = e0; e < e1; e++) {
		const struct event *ev = &w->ev[e];
		bool any_log = false, any_keep = false, any_drop = false;
		bool in_snapshot = false;
		for (int j = 0; j < ev->nparts; j++) {
			uint32_t s = ev->p[j].shard;
			int i = w->pidx[e][j];
			if (i < 0 || i >= pre[s])
				continue;
			if (i < cut[s]) {
				in_snapshot = true;
				continue;
			}
			any_log = true;
			if (res->keep[s][i - cut[s]])
				any_keep = true;
			else
				any_drop = true;
		}
		/* A unit is whole or absent: its parts agree. */
		if (any_keep && any_drop)
			fail_msg("event %d: some parts kept, some dropped", e);
		if (in_snapshot && any_drop)
			fail_msg("event %d: dropped while a part is in a snapshot", e);
		if (any_log && !v->complete[e] && any_keep)
			fail_msg("event %d: incomplete but kept", e);
		/* Exactly the oracle's verdict: nothing that does not depend on
		 * a dropped unit is dropped, everything that does is. */
		if (any_log && any_drop != v->dropped[e])
			fail_msg("event %d: %s, the rule says %s", e, any_drop ? "dropped" : "kept",
				 v->dropped[e] ? "drop" : "keep");
		kept[e] = v->present[e] && v->complete[e] && !v->dropped[e];
		if (any_drop) {
			for (int j = 0; j < ev->nparts; j++) {
				int i = w->pidx[e][j];
				dropped_recs += i >= 0 && i < pre[ev->p[j].shard];
			}
			if (ev->unit) {
				dropped_units++;
				bool found = false;
				for (size_t d = 0; d < res->nunits; d++) {
					const struct units_dropped *du = &res->units[d];
					if (du->id.boot != w->uu[e].id.boot || du->id.seq != w->uu[e].id.seq)
						continue;
					found = true;
					assert_int_equal(du->nparts, ev->nparts + ev->nreads);
					if (!v->complete[e])
						assert_int_equal(du->why, UNITS_INCOMPLETE);
					else
						assert_int_equal(du->why, UNITS_DEPENDS);
					for (int j = 0; j < ev->nparts; j++) {
						int i = w->pidx[e][j];
						assert_int_equal(du->parts[j].shard, ev->p[j].shard);
						assert_int_equal(du->parts[j].lsn, w->plsn[e][j]);
						assert_int_equal(du->parts[j].present,
								 i >= 0 && i < pre[ev->p[j].shard]);
					}
				}
				if (!found)
					fail_msg("dropped unit %d is not reported", e);
			}
		}
	}
	*recs += dropped_recs;
	*units += dropped_units;
}

/* Every crash of a world (one phase): each shard's log cut after any
 * number of records from floor[s] to all of them. */
static void every_crash(struct world *w, const int *cut, const int *floor_,
			void (*each)(struct world *, const int *, const int *, void *), void *arg)
{
	int pre[MAXS];
	for (uint32_t s = 0; s < w->ns; s++)
		pre[s] = floor_[s];
	for (;;) {
		each(w, cut, pre, arg);
		uint32_t s = 0;
		while (s < w->ns && pre[s] == w->nrec[s]) {
			pre[s] = floor_[s];
			s++;
		}
		if (s == w->ns)
			return;
		pre[s]++;
	}
}

static void check_crash(struct world *w, const int *cut, const int *pre, void *arg)
{
	(void)arg;
	struct units_log logs[MAXS];
	struct units_result res;
	struct verdicts v;
	bool kept[MAXEV];
	world_logs(w, cut, pre, logs);
	int rc = units_decide(logs, w->ns, &res);
	if (rc != 0)
		fail_msg("units_decide: %s", res.err);
	oracle(w, pre, 0, w->nev, &v);
	size_t recs = 0, units = 0;
	check_result(w, cut, pre, &res, 0, w->nev, &v, kept, &recs, &units);
	assert_int_equal(res.dropped_records, recs);
	assert_int_equal(res.nunits, units);
	/* Snapshot contents are kept whatever the logs say. */
	struct values base = { 0 };
	replay_check(w, 0, w->nev, kept, &base);
	check_keyless_shortcut(w, cut, pre, &res);
	g_states++;
	g_states_drop += res.dropped_records > 0;
	units_result_free(&res);
}

/* ------------------------------------------------------------------ */
/* event alphabets */

static struct event single(uint8_t s, uint8_t r, uint8_t wm)
{
	struct event e = { .nparts = 1 };
	e.p[0] = (struct part){ .shard = s, .rmask = r, .wmask = wm };
	return e;
}

static struct event flushdb(uint8_t s)
{
	struct event e = { .nparts = 1 };
	e.p[0] = (struct part){ .shard = s, .all = true };
	return e;
}

static struct event unit2(uint8_t s0, uint8_t w0, uint8_t s1, uint8_t w1)
{
	struct event e = { .nparts = 2, .unit = true };
	e.p[0] = (struct part){ .shard = s0, .wmask = w0 };
	e.p[1] = (struct part){ .shard = s1, .wmask = w1 };
	return e;
}

/* Two shards: enough to cover every relation between two events. */
static struct event alpha2(int i)
{
	switch (i) {
	case 0: return single(0, 0, 1);              /* SET a0 */
	case 1: return single(0, 0, 2);              /* SET b0 */
	case 2: return single(1, 0, 1);              /* SET a1 */
	case 3: return unit2(0, 1, 1, 1);            /* MSET a0 a1 */
	case 4: return unit2(0, 2, 1, 2);            /* MSET b0 b1 */
	case 5: {                                    /* SUNIONSTORE b1 a0: reads shard 0 */
		struct event e = { .nparts = 1, .nreads = 1, .unit = true };
		e.p[0] = (struct part){ .shard = 1, .wmask = 2 };
		e.r[0] = (struct rrow){ .shard = 0, .rmask = 1 };
		return e;
	}
	case 6: return flushdb(1);                   /* FLUSHDB on shard 1 */
	default: return single(0, 1, 2);             /* LMOVE a0 b0 */
	}
}
#define NALPHA2 8

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Three shards: a random event (units over 2 or 3 shards with reads). */
static struct event random_event(uint64_t *rng, uint32_t ns)
{
	struct event e = { 0 };
	unsigned kind = (unsigned)(rng_next(rng) % 10);
	if (kind < 4) {
		uint8_t s = (uint8_t)(rng_next(rng) % ns);
		uint8_t wm = (uint8_t)(1u << (rng_next(rng) % NK));
		uint8_t r = (uint8_t)(rng_next(rng) % 3 == 0 ? 1u << (rng_next(rng) % NK) : 0);
		return single(s, r, wm);
	}
	if (kind == 4)
		return flushdb((uint8_t)(rng_next(rng) % ns));
	/* A unit: every shard writes (a part), reads only, or stays out. */
	e.unit = true;
	uint8_t first = (uint8_t)(rng_next(rng) % ns);
	for (uint32_t k = 0; k < ns; k++) {
		uint8_t s = (uint8_t)((first + k) % ns);
		unsigned role = k == 0 ? 0 : (unsigned)(rng_next(rng) % 3);
		uint8_t m = (uint8_t)(1u << (rng_next(rng) % NK));
		if (role == 0)
			e.p[e.nparts++] = (struct part){ .shard = s, .wmask = m,
				.rmask = (uint8_t)(rng_next(rng) % 2 ? 1u << (rng_next(rng) % NK) : 0) };
		else if (role == 1)
			e.r[e.nreads++] = (struct rrow){ .shard = s, .rmask = m };
	}
	if (e.nparts == 1 && e.nreads == 0)
		e.unit = false;
	return e;
}

static void world_init(struct world *w, uint32_t ns)
{
	memset(w, 0, sizeof(*w));
	w->ns = ns;
	w->boot = 0xb001;
	memset(w->pidx, 0xff, sizeof(w->pidx));
}

/* ------------------------------------------------------------------ */
/* enumerated interleavings */

/* Every history of up to five events over the two-shard alphabet, every
 * crash of each. */
static void test_units_two_shards_every_history(void **state)
{
	uint64_t before = g_states;
	for (int len = 1; len <= 5; len++) {
		int total = 1;
		for (int i = 0; i < len; i++)
			total *= NALPHA2;
		for (int code = 0; code < total; code++) {
			struct world w;
			world_init(&w, 2);
			for (int i = 0, c = code; i < len; i++, c /= NALPHA2) {
				struct event e = alpha2(c % NALPHA2);
				world_append(&w, &e);
			}
			int cut[MAXS] = { 0 }, floor_[MAXS] = { 0 };
			every_crash(&w, cut, floor_, check_crash, NULL);
		}
	}
	print_message("two shards, every history of 1-5 events: %llu crash states\n",
		      (unsigned long long)(g_states - before));
	assert_true(g_states - before > 500000);
}

/* Random longer histories over two and three shards, every crash of each. */
static void test_units_random_histories(void **state)
{
	uint64_t before = g_states, drop_before = g_states_drop;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 4000; round++) {
		uint32_t ns = round % 3 == 0 ? 2 : 3;
		struct world w;
		world_init(&w, ns);
		int len = 4 + (int)(rng_next(&rng) % (ns == 2 ? 6 : 4));
		for (int i = 0; i < len; i++) {
			struct event e = random_event(&rng, ns);
			world_append(&w, &e);
		}
		int cut[MAXS] = { 0 }, floor_[MAXS] = { 0 };
		every_crash(&w, cut, floor_, check_crash, NULL);
	}
	print_message("random histories of 2 and 3 shards: %llu crash states, %llu with drops\n",
		      (unsigned long long)(g_states - before),
		      (unsigned long long)(g_states_drop - drop_before));
	assert_true(g_states_drop - drop_before > 1000);
}

/* Snapshots: each shard's cut at a consistent point of the history (its
 * records of the first g events), some shards at a later round g2 than
 * others; a crash keeps at least every shard's records up to the g2 cut
 * (that round's commit waited for them) and anything after. */
static void test_units_snapshot_cuts(void **state)
{
	uint64_t before = g_states;
	uint64_t rng = 0x1234567;
	for (int round = 0; round < 3000; round++) {
		uint32_t ns = round % 2 ? 2 : 3;
		struct world w;
		world_init(&w, ns);
		int len = 5 + (int)(rng_next(&rng) % 4);
		int count_at[MAXEV + 1][MAXS];
		memset(count_at[0], 0, sizeof(count_at[0]));
		for (int i = 0; i < len; i++) {
			struct event e = random_event(&rng, ns);
			world_append(&w, &e);
			for (uint32_t s = 0; s < ns; s++)
				count_at[i + 1][s] = w.nrec[s];
		}
		int g1 = (int)(rng_next(&rng) % (uint64_t)(len + 1));
		int g2 = g1 + (int)(rng_next(&rng) % (uint64_t)(len - g1 + 1));
		int cut[MAXS], floor_[MAXS];
		for (uint32_t s = 0; s < ns; s++) {
			bool later = rng_next(&rng) % 2;
			cut[s] = count_at[later ? g2 : g1][s];
			floor_[s] = count_at[g2][s];
		}
		every_crash(&w, cut, floor_, check_crash, NULL);
	}
	print_message("snapshot cuts: %llu crash states\n", (unsigned long long)(g_states - before));
	assert_true(g_states - before > 10000);
}

/* A crash, a recovery that writes RESOLVE records where it dropped
 * something, new work on the recovered state (reusing the LSNs the crash
 * cut), and every crash of that: the first recovery's decisions stay, and
 * nothing after a RESOLVE is tainted by what it resolved. */
struct second {
	int pre1[MAXS];
	bool kept1[MAXEV];
	struct values after1;
	int nev1;
	uint64_t states;
};

static void check_second_crash(struct world *w, const int *cut, const int *pre, void *arg)
{
	struct second *sc = arg;
	struct units_log logs[MAXS];
	struct units_result res;
	world_logs(w, cut, pre, logs);
	int rc = units_decide(logs, w->ns, &res);
	if (rc != 0) {
		for (uint32_t s = 0; s < w->ns; s++) {
			fprintf(stderr, "shard %u cut %d pre %d nrec %d:", s, cut[s], pre[s], w->nrec[s]);
			for (int i = 0; i < w->nrec[s]; i++)
				fprintf(stderr, " %d:%llu", w->recs[s][i].ev, (unsigned long long)w->recs[s][i].lsn);
			fprintf(stderr, "\n");
		}
		fail_msg("units_decide after a recovery: %s", res.err);
	}
	/* The first phase: exactly what the first recovery decided. */
	size_t recs = 0, units = 0;
	bool unit_counted[MAXEV] = { false };
	for (uint32_t s = 0; s < w->ns; s++)
		for (int i = 0; i < sc->pre1[s]; i++) {
			const struct rec *r = &w->recs[s][i];
			if (r->ev < 0)
				continue;
			if (res.keep[s][i] != sc->kept1[r->ev])
				fail_msg("shard %u record %d: the second recovery changed its verdict", s, i);
			if (!sc->kept1[r->ev]) {
				recs++;
				if (w->ev[r->ev].unit && !unit_counted[r->ev]) {
					unit_counted[r->ev] = true;
					units++;
				}
			}
		}
	/* The second phase: the rule from the recovered state. */
	struct verdicts v;
	bool kept[MAXEV];
	oracle(w, pre, w->phase_start, w->nev, &v);
	check_result(w, cut, pre, &res, w->phase_start, w->nev, &v, kept, &recs, &units);
	assert_int_equal(res.dropped_records, recs);
	assert_int_equal(res.nunits, units);
	struct values base = sc->after1;
	replay_check(w, w->phase_start, w->nev, kept, &base);
	/* What the first recovery dropped is reported as resolved. */
	for (size_t d = 0; d < res.nunits; d++)
		if (res.units[d].id.boot == 0xb001) {
			assert_false(sc->kept1[res.units[d].id.seq - 1]);
			assert_int_equal(res.units[d].why, UNITS_RESOLVED);
		}
	check_keyless_shortcut(w, cut, pre, &res);
	sc->states++;
	g_states++;
	units_result_free(&res);
}

static void test_units_second_recovery(void **state)
{
	uint64_t rng = 0xabcdef;
	uint64_t states = 0;
	for (int round = 0; round < 2000; round++) {
		uint32_t ns = round % 2 ? 2 : 3;
		struct world w;
		world_init(&w, ns);
		int len = 4 + (int)(rng_next(&rng) % 4);
		for (int i = 0; i < len; i++) {
			struct event e = random_event(&rng, ns);
			world_append(&w, &e);
		}
		/* The first crash: random cut of each shard. */
		struct second sc = { 0 };
		int cut[MAXS] = { 0 };
		for (uint32_t s = 0; s < ns; s++)
			sc.pre1[s] = (int)(rng_next(&rng) % (uint64_t)(w.nrec[s] + 1));
		struct units_log logs[MAXS];
		struct units_result res;
		world_logs(&w, cut, sc.pre1, logs);
		assert_int_equal(units_decide(logs, ns, &res), 0);
		struct verdicts v;
		size_t recs = 0, units = 0;
		oracle(&w, sc.pre1, 0, w.nev, &v);
		check_result(&w, cut, sc.pre1, &res, 0, w.nev, &v, sc.kept1, &recs, &units);
		assert_int_equal(res.dropped_records, recs);
		replay_check(&w, 0, w.nev, sc.kept1, &sc.after1);
		/* Recovery: RESOLVE where it dropped, fsynced before serving. */
		for (uint32_t s = 0; s < ns; s++) {
			world_truncate(&w, s, sc.pre1[s]);
			w.nresolved[s] = 0;
			for (int i = 0; i < sc.pre1[s]; i++)
				if (!res.keep[s][i])
					w.resolved[s][w.nresolved[s]++] = w.recs[s][i].lsn;
			if (w.nresolved[s]) {
				world_resolve(&w, s);
				sc.pre1[s]++;
			}
		}
		units_result_free(&res);
		/* Serving again: a new process (boot id), LSNs go on from the cut. */
		w.phase_start = w.nev;
		w.boot = 0xb002;
		int len2 = 2 + (int)(rng_next(&rng) % 3);
		for (int i = 0; i < len2; i++) {
			struct event e = random_event(&rng, ns);
			world_append(&w, &e);
		}
		every_crash(&w, cut, sc.pre1, check_second_crash, &sc);
		states += sc.states;
	}
	print_message("second recoveries: %llu crash states\n", (unsigned long long)states);
	assert_true(states > 10000);
}

/* ------------------------------------------------------------------ */
/* hand-written cases */

static void decide_world(struct world *w, const int *pre, struct units_result *res)
{
	int cut[MAXS] = { 0 };
	struct units_log logs[MAXS];
	world_logs(w, cut, pre, logs);
	int rc = units_decide(logs, w->ns, res);
	if (rc != 0)
		fail_msg("units_decide: %s", res->err);
}

/* Unit A over shards 0 and 1 loses its part on shard 0; on shard 1 unit B
 * (shards 1 and 2) reads A's key, so B goes too, on shard 2 as well; a
 * record on shard 2 reading B's key goes; one on another key stays. */
static void test_units_dependent_chain_across_shards(void **state)
{
	struct world w;
	world_init(&w, 3);
	struct event e;
	e = single(0, 0, 4);  world_append(&w, &e);         /* 0: SET c0, kept */
	e = unit2(0, 1, 1, 1); world_append(&w, &e);        /* 1: A: a0 a1 */
	e = unit2(1, 2, 2, 1); e.p[0].rmask = 1;            /* 2: B: reads a1, writes b1 a2 */
	world_append(&w, &e);
	e = single(2, 1, 2);  world_append(&w, &e);         /* 3: reads a2 (B's), writes b2 */
	e = single(2, 0, 4);  world_append(&w, &e);         /* 4: SET c2: independent */
	e = single(1, 0, 4);  world_append(&w, &e);         /* 5: SET c1: independent */
	int pre[MAXS] = { 1, w.nrec[1], w.nrec[2] };        /* shard 0 lost A's part */
	struct units_result res;
	decide_world(&w, pre, &res);
	assert_int_equal(res.keep[0][0], 1);                /* SET c0 */
	assert_int_equal(res.keep[1][0], 0);                /* A on shard 1 */
	assert_int_equal(res.keep[1][1], 0);                /* B on shard 1 */
	assert_int_equal(res.keep[1][2], 1);                /* SET c1 */
	assert_int_equal(res.keep[2][0], 0);                /* B on shard 2 */
	assert_int_equal(res.keep[2][1], 0);                /* reads B's a2 */
	assert_int_equal(res.keep[2][2], 1);                /* SET c2 */
	assert_int_equal(res.dropped_records, 4);
	assert_int_equal(res.dropped_single, 1);
	assert_int_equal(res.nunits, 2);
	assert_int_equal(res.units[0].id.seq, 2);           /* A */
	assert_int_equal(res.units[0].why, UNITS_INCOMPLETE);
	assert_int_equal(res.units[0].nparts, 2);
	assert_int_equal(res.units[0].parts[0].shard, 0);
	assert_false(res.units[0].parts[0].present);
	assert_int_equal(res.units[0].parts[0].lsn, 2);
	assert_true(res.units[0].parts[1].present);
	assert_int_equal(res.units[1].id.seq, 3);           /* B */
	assert_int_equal(res.units[1].why, UNITS_DEPENDS);
	units_result_free(&res);

	/* With shard 0 whole, nothing is dropped. */
	pre[0] = w.nrec[0];
	decide_world(&w, pre, &res);
	assert_int_equal(res.dropped_records, 0);
	assert_int_equal(res.nunits, 0);
	units_result_free(&res);
}

/* What the tools report with a dropped unit: the one-shard records dropped
 * because of it (directly, or through another dropped one-shard record),
 * sorted by shard and LSN, and for a unit dropped as a dependent the unit
 * it depends on.  The labels follow the verdict, never change it. */
static void test_units_dependents_reported(void **state)
{
	struct world w;
	world_init(&w, 3);
	struct event e;
	e = unit2(0, 1, 1, 1); world_append(&w, &e);        /* A: a0 a1 */
	e = single(1, 1, 2);  world_append(&w, &e);         /* reads a1 (A's), writes b1 */
	e = single(1, 2, 2);  world_append(&w, &e);         /* reads b1 (dropped above) */
	e = single(1, 0, 4);  world_append(&w, &e);         /* SET c1: independent */
	e = unit2(1, 2, 2, 1); e.p[0].rmask = 2;            /* B: reads b1, writes b1 a2 */
	world_append(&w, &e);
	e = single(2, 1, 2);  world_append(&w, &e);         /* reads a2 (B's), writes b2 */
	e = single(0, 0, 2);  world_append(&w, &e);         /* SET b0 */
	int pre[MAXS] = { 0, w.nrec[1], w.nrec[2] };        /* shard 0 lost both its records */
	struct units_result res;
	decide_world(&w, pre, &res);
	assert_int_equal(res.nunits, 2);
	const struct units_dropped *a = &res.units[0], *b = &res.units[1];
	assert_int_equal(a->why, UNITS_INCOMPLETE);
	assert_true(a->depends_on == UNITS_NONE);
	assert_int_equal(a->ndeps, 2);
	assert_int_equal(a->deps[0].shard, 1);
	assert_int_equal(a->deps[0].lsn, w.recs[1][1].lsn);
	assert_int_equal(a->deps[1].shard, 1);
	assert_int_equal(a->deps[1].lsn, w.recs[1][2].lsn);
	assert_int_equal(b->why, UNITS_DEPENDS);
	assert_int_equal(b->depends_on, 0);                 /* through b1, a dependent of A */
	assert_int_equal(b->ndeps, 1);
	assert_int_equal(b->deps[0].shard, 2);
	assert_int_equal(b->deps[0].lsn, w.recs[2][1].lsn);
	assert_int_equal(res.dropped_single, 3);
	assert_int_equal(res.keep[1][3], 1);                /* SET c1 */
	units_result_free(&res);
}

/* A unit that only reads a shard depends on it: its READ row names the
 * LSN it read at; a crash that cut that shard before it drops the unit,
 * and so does a dropped write of the key it read. */
static void test_units_read_only_participant(void **state)
{
	struct world w;
	world_init(&w, 2);
	struct event e;
	e = single(0, 0, 1);  world_append(&w, &e);   /* shard 0 LSN 1: SET a0 */
	e = alpha2(5);        world_append(&w, &e);   /* shard 1 LSN 1: b1 := f(a0 at LSN 1) */
	int pre[MAXS] = { 0, 1 };
	struct units_result res;
	decide_world(&w, pre, &res);
	assert_int_equal(res.keep[1][0], 0);          /* what it read was lost */
	assert_int_equal(res.units[0].why, UNITS_INCOMPLETE);
	assert_int_equal(res.units[0].parts[1].role, UNITS_READ);
	assert_false(res.units[0].parts[1].present);
	units_result_free(&res);
	pre[0] = 1;
	decide_world(&w, pre, &res);
	assert_int_equal(res.keep[1][0], 1);
	units_result_free(&res);
}

/* FLUSHDB touches every key: after an incomplete unit on its shard it is
 * dropped, and so is everything after it there; before it, it stays. */
static void test_units_flushdb_after_incomplete_unit(void **state)
{
	struct world w;
	world_init(&w, 2);
	struct event e;
	e = flushdb(0);        world_append(&w, &e);   /* s0 LSN 1: kept (before) */
	e = unit2(0, 1, 1, 1); world_append(&w, &e);   /* s0 LSN 2, s1 LSN 1: A */
	e = flushdb(0);        world_append(&w, &e);   /* s0 LSN 3 */
	e = single(0, 0, 4);   world_append(&w, &e);   /* s0 LSN 4: SET c0 after the flush */
	e = single(1, 0, 2);   world_append(&w, &e);   /* s1 LSN 2: lost with A's part */
	int pre[MAXS] = { w.nrec[0], 0 };
	struct units_result res;
	decide_world(&w, pre, &res);
	assert_int_equal(res.keep[0][0], 1);
	assert_int_equal(res.keep[0][1], 0);
	assert_int_equal(res.keep[0][2], 0);
	assert_int_equal(res.keep[0][3], 0);
	assert_int_equal(res.dropped_single, 2);
	units_result_free(&res);

	/* Without the incomplete unit the same FLUSHDB stays. */
	pre[1] = 1;
	decide_world(&w, pre, &res);
	assert_int_equal(res.dropped_records, 0);
	units_result_free(&res);
}

/* An acknowledged SET of another key after an incomplete unit on the same
 * shard is kept; a SET of the unit's key is dropped. */
static void test_units_independent_write_kept(void **state)
{
	struct world w;
	world_init(&w, 2);
	struct event e;
	e = unit2(0, 1, 1, 1); world_append(&w, &e);   /* A: a0 a1 */
	e = single(0, 0, 2);   world_append(&w, &e);   /* SET b0: independent */
	e = single(0, 0, 1);   world_append(&w, &e);   /* SET a0: A's key */
	e = single(0, 2, 4);   world_append(&w, &e);   /* reads b0, writes c0 */
	int pre[MAXS] = { w.nrec[0], 0 };
	struct units_result res;
	decide_world(&w, pre, &res);
	assert_int_equal(res.keep[0][0], 0);
	assert_int_equal(res.keep[0][1], 1);
	assert_int_equal(res.keep[0][2], 0);
	assert_int_equal(res.keep[0][3], 1);
	assert_int_equal(res.nunits, 1);
	assert_int_equal(res.dropped_single, 1);
	units_result_free(&res);
}

/* After a recovery dropped A (RESOLVE on shard 0), shard 1 reused the LSN
 * of A's lost part: A stays dropped, no hole is reported, and a SET of A's
 * key after the RESOLVE is kept. */
static void test_units_resolve_barrier(void **state)
{
	struct units_key a0 = { 0, 2, "a0" }, z1 = { 0, 2, "z1" };
	struct units_ref refs_a[2] = { { .shard = 0, .role = UNITS_PART, .lsn = 1 },
				       { .shard = 1, .role = UNITS_PART, .lsn = 1 } };
	struct units_unit ua = { { 7, 1 }, 2, refs_a };
	uint64_t listed[1] = { 1 };
	struct units_record s0[3] = {
		{ .lsn = 1, .kind = UNITS_EFFECT, .unit = &ua, .writes = { &a0, 1, false } },
		{ .lsn = 2, .kind = UNITS_RESOLVE, .resolved = listed, .nresolved = 1 },
		{ .lsn = 3, .kind = UNITS_EFFECT, .writes = { &a0, 1, false } },
	};
	struct units_record s1[1] = {
		{ .lsn = 1, .kind = UNITS_EFFECT, .writes = { &z1, 1, false } },
	};
	struct units_log logs[2] = { { 0, s0, 3 }, { 0, s1, 1 } };
	struct units_result res;
	assert_int_equal(units_decide(logs, 2, &res), 0);
	assert_int_equal(res.keep[0][0], 0);
	assert_int_equal(res.keep[0][1], 1);
	assert_int_equal(res.keep[0][2], 1);
	assert_int_equal(res.keep[1][0], 1);
	assert_int_equal(res.nunits, 1);
	assert_int_equal(res.units[0].why, UNITS_RESOLVED);
	units_result_free(&res);

	/* Without the RESOLVE the reused LSN is a hole in the middle: refused. */
	struct units_record s0b[2] = { s0[0], s0[2] };
	s0b[1].lsn = 2;
	logs[0] = (struct units_log){ 0, s0b, 2 };
	assert_int_equal(units_decide(logs, 2, &res), KV_ECORRUPT);
	assert_non_null(strstr(res.err, "middle"));
	assert_null(res.keep);

}

/* A part inside a snapshot counts as present; a part that would have to be
 * dropped while its sibling is inside a snapshot is refused. */
static void test_units_snapshot_part(void **state)
{
	struct units_key a1 = { 0, 2, "a1" };
	struct units_ref refs[2] = { { .shard = 0, .role = UNITS_PART, .lsn = 5 },
				     { .shard = 1, .role = UNITS_PART, .lsn = 3 } };
	struct units_unit u = { { 9, 4 }, 2, refs };
	struct units_record s1[1] = {
		{ .lsn = 3, .kind = UNITS_EFFECT, .unit = &u, .writes = { &a1, 1, false } },
	};
	struct units_log logs[2] = { { 5, NULL, 0 }, { 2, s1, 1 } };
	struct units_result res;
	assert_int_equal(units_decide(logs, 2, &res), 0);
	assert_int_equal(res.keep[1][0], 1);
	units_result_free(&res);

	/* The same unit with a third part lost: it cannot be dropped whole. */
	struct units_ref refs3[3] = { refs[0], refs[1], { .shard = 2, .role = UNITS_PART, .lsn = 1 } };
	struct units_unit u3 = { { 9, 4 }, 3, refs3 };
	s1[0].unit = &u3;
	struct units_log logs3[3] = { { 5, NULL, 0 }, { 2, s1, 1 }, { 0, NULL, 0 } };
	assert_int_equal(units_decide(logs3, 3, &res), KV_ECORRUPT);
	assert_non_null(strstr(res.err, "snapshot"));
}

/* Malformed input is refused with a line, never guessed at. */
static void test_units_corrupt_inputs(void **state)
{
	struct units_key a0 = { 0, 2, "a0" }, a1 = { 0, 2, "a1" };
	struct units_result res;
	/* LSNs not increasing. */
	struct units_record r2[2] = { { .lsn = 2, .kind = UNITS_EFFECT }, { .lsn = 2, .kind = UNITS_EFFECT } };
	struct units_log one = { 0, r2, 2 };
	assert_int_equal(units_decide(&one, 1, &res), KV_ECORRUPT);
	/* A record at or below the cut. */
	one = (struct units_log){ 2, r2, 1 };
	assert_int_equal(units_decide(&one, 1, &res), KV_ECORRUPT);
	/* A part that does not name itself. */
	struct units_ref bad[2] = { { .shard = 0, .role = UNITS_PART, .lsn = 9 },
				    { .shard = 1, .role = UNITS_PART, .lsn = 1 } };
	struct units_unit ub = { { 1, 1 }, 2, bad };
	struct units_record rb[1] = { { .lsn = 1, .kind = UNITS_EFFECT, .unit = &ub } };
	struct units_log lb[2] = { { 0, rb, 1 }, { 0, NULL, 0 } };
	assert_int_equal(units_decide(lb, 2, &res), KV_ECORRUPT);
	assert_non_null(strstr(res.err, "does not name"));
	/* A shard named twice, or past the shard count. */
	struct units_ref twice[2] = { { .shard = 0, .role = UNITS_PART, .lsn = 1 },
				      { .shard = 0, .role = UNITS_READ, .lsn = 0 } };
	ub.refs = twice;
	assert_int_equal(units_decide(lb, 2, &res), KV_ECORRUPT);
	struct units_ref far[2] = { { .shard = 0, .role = UNITS_PART, .lsn = 1 },
				    { .shard = 5, .role = UNITS_PART, .lsn = 1 } };
	ub.refs = far;
	assert_int_equal(units_decide(lb, 2, &res), KV_ECORRUPT);
	/* Two parts that disagree on the table. */
	struct units_ref t0[2] = { { .shard = 0, .role = UNITS_PART, .lsn = 1 },
				   { .shard = 1, .role = UNITS_PART, .lsn = 1 } };
	struct units_ref t1[2] = { { .shard = 0, .role = UNITS_PART, .lsn = 2 },
				   { .shard = 1, .role = UNITS_PART, .lsn = 1 } };
	struct units_unit u0 = { { 3, 3 }, 2, t0 }, u1 = { { 3, 3 }, 2, t1 };
	struct units_record p0[1] = { { .lsn = 1, .kind = UNITS_EFFECT, .unit = &u0, .writes = { &a0, 1, false } } };
	struct units_record p1[1] = { { .lsn = 1, .kind = UNITS_EFFECT, .unit = &u1, .writes = { &a1, 1, false } } };
	struct units_log lp[2] = { { 0, p0, 1 }, { 0, p1, 1 } };
	assert_int_equal(units_decide(lp, 2, &res), KV_ECORRUPT);
	assert_non_null(strstr(res.err, "disagree"));
	/* Two units whose parts are in opposite orders on two shards. */
	struct units_ref tx[2] = { { .shard = 0, .role = UNITS_PART, .lsn = 1 },
				   { .shard = 1, .role = UNITS_PART, .lsn = 2 } };
	struct units_ref ty[2] = { { .shard = 0, .role = UNITS_PART, .lsn = 2 },
				   { .shard = 1, .role = UNITS_PART, .lsn = 1 } };
	struct units_unit ux = { { 4, 1 }, 2, tx }, uy = { { 4, 2 }, 2, ty };
	struct units_record c0[2] = { { .lsn = 1, .kind = UNITS_EFFECT, .unit = &ux },
				      { .lsn = 2, .kind = UNITS_EFFECT, .unit = &uy } };
	struct units_record c1[2] = { { .lsn = 1, .kind = UNITS_EFFECT, .unit = &uy },
				      { .lsn = 2, .kind = UNITS_EFFECT, .unit = &ux } };
	struct units_log lc[2] = { { 0, c0, 2 }, { 0, c1, 2 } };
	assert_int_equal(units_decide(lc, 2, &res), KV_ECORRUPT);
	assert_non_null(strstr(res.err, "serial"));
	/* A RESOLVE naming no earlier record. */
	uint64_t nothing[1] = { 7 };
	struct units_record rr[2] = { { .lsn = 1, .kind = UNITS_EFFECT },
				      { .lsn = 2, .kind = UNITS_RESOLVE, .resolved = nothing, .nresolved = 1 } };
	struct units_log lr = { 0, rr, 2 };
	assert_int_equal(units_decide(&lr, 1, &res), KV_ECORRUPT);
	assert_non_null(strstr(res.err, "RESOLVE"));
	/* An unknown record kind. */
	rr[1].kind = 9;
	assert_int_equal(units_decide(&lr, 1, &res), KV_ECORRUPT);
}

/* No shards, or shards without records: nothing to decide. */
static void test_units_empty(void **state)
{
	struct units_result res;
	assert_int_equal(units_decide(NULL, 0, &res), 0);
	assert_int_equal(res.dropped_records, 0);
	units_result_free(&res);
	struct units_log logs[2] = { { 0, NULL, 0 }, { 17, NULL, 0 } };
	assert_int_equal(units_decide(logs, 2, &res), 0);
	assert_int_equal(res.nunits, 0);
	units_result_free(&res);
}

int main(void)
{
	key_names_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units_dependent_chain_across_shards),
		cmocka_unit_test(test_units_dependents_reported),
		cmocka_unit_test(test_units_read_only_participant),
		cmocka_unit_test(test_units_flushdb_after_incomplete_unit),
		cmocka_unit_test(test_units_independent_write_kept),
		cmocka_unit_test(test_units_resolve_barrier),
		cmocka_unit_test(test_units_snapshot_part),
		cmocka_unit_test(test_units_corrupt_inputs),
		cmocka_unit_test(test_units_empty),
		cmocka_unit_test(test_units_two_shards_every_history),
		cmocka_unit_test(test_units_random_histories),
		cmocka_unit_test(test_units_snapshot_cuts),
		cmocka_unit_test(test_units_second_recovery),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
