/*
 * units.c - the recovery rule for units that span shards (see units.h and
 * docs/durability.md, "Units across shards").
 *
 * Input: per shard, the records after its snapshot cut in LSN order, each
 * described by its LSN, its unit header (id + participant table) or none,
 * and the keys of that shard it read and wrote.  Output: keep or drop for
 * every record, and a report of every dropped unit.
 *
 * How it decides, and why it is the rule:
 *
 *   1. Group the parts by unit id and check every participant table: each
 *      part names itself (its shard, its LSN) as a PART row, one row per
 *      shard, and all parts of a unit carry the same table.  For each row,
 *      find where it is: a PART row at an LSN at or below that shard's cut
 *      is inside the snapshot (a snapshot cut never holds a part of a unit
 *      that could still be dropped); above it, the record at that LSN must
 *      be this unit's part.  A PART row past the shard's last record, or a
 *      READ row past it, is *lost* (the tail that a crash cut): the unit is
 *      incomplete.  A PART row whose LSN holds another record is a hole in
 *      the middle of a log: corruption, unless an earlier recovery already
 *      dropped the unit (its LSN was then reused after the torn tail).
 *   2. Walk the shards' logs together in an order every serial execution
 *      agrees with: a one-shard record or a RESOLVE record when it is at its
 *      shard's head; a unit when every present part is at its shard's head
 *      and every shard it read has been walked up to the LSN it read at.
 *      Two-phase locking in acquisition order (docs/architecture.md) gives
 *      every shard's log the same order of units, so this walk never sticks
 *      on real logs; if it does, the logs are corrupt.
 *   3. At each step the *taint* of a shard is the set of keys written by
 *      the records dropped so far on it, since its last RESOLVE record.  A
 *      record depends on a dropped one exactly when it touches (reads or
 *      writes) a tainted key of its shard, or, for a unit's READ row, when a
 *      record dropped on that shard at or before the LSN it read at (after
 *      that shard's last RESOLVE before it) wrote a key it read.  Because
 *      the walk reaches a record only after every record it can depend on,
 *      the taint it sees is exactly the rule's.  A unit is dropped whole
 *      when it is incomplete, listed by a RESOLVE record, or any of its
 *      parts or rows depends on a dropped record; a dropped record's
 *      writes join its shard's taint.  Nothing else is dropped.
 *   4. For the log and the tools, every tainted key remembers the dropped
 *      unit it comes from (a unit's part: that unit; a one-shard record:
 *      the unit its own drop came from), so a dropped one-shard record is
 *      reported as a dependent of a unit, and a dropped unit names the unit
 *      it depends on.  This changes no verdict: it only labels one.
 *
 * Cost: the walk touches each record once per pass over the shards that
 * makes progress, each key lookup is a hash probe, and a READ row is
 * checked against the records dropped on its shard (none in the common
 * case).  Memory: a byte or two and an index per record, a group per unit,
 * and a hash table per shard sized to twice the keys its records write.
 */
#include "persist/units.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"

/* Where a row of a unit's table was found. */
enum ref_state {
	REF_IN_LOG = 1,      /* PART: the record is in its shard's log; READ: walk up to lsn */
	REF_IN_SNAPSHOT,     /* at or below the shard's cut */
	REF_LOST,            /* past the shard's last record: cut by the crash */
	REF_HOLE,            /* PART: its LSN holds another record */
};

struct group {
	struct units_id id;
	const struct units_unit *u;   /* the first part's table */
	uint8_t *state;               /* enum ref_state, per row */
	size_t *idx;                  /* PART rows in the log: the record's index */
	bool incomplete, hole, resolved, in_snapshot;
};

/* Causes: 0 none, else 1 + the index of a dropped unit in res->units. */
struct taint_slot {
	const struct units_key *k;
	uint32_t epoch;              /* valid only when it equals the shard's epoch */
	size_t cause;                /* of the first dropped record that wrote k */
};

struct shard_state {
	const struct units_log *log;
	uint64_t last_lsn;           /* of its last record, or the cut */
	size_t pos;                  /* the walk's head */
	int64_t *group_of;           /* per record: group index, -1 for none */
	uint8_t *listed;             /* per record: named by a later RESOLVE */
	/* Taint since the last RESOLVE record (epoch). */
	uint32_t epoch;
	struct taint_slot *taint;
	size_t taint_cap;            /* power of two */
	size_t taint_n;              /* keys in the current epoch */
	bool taint_all;              /* a dropped record wrote every key */
	uint32_t taint_all_epoch;
	size_t taint_all_cause;
	size_t taint_last_cause;     /* of the last key tainted (a record touching all keys) */
	/* Dropped EFFECT records in walk order (= LSN order), for READ rows. */
	size_t *dropped;
	size_t ndropped;
	size_t *cause;               /* per record, set when it is dropped */
};

struct ctx {
	uint32_t nshards;
	struct shard_state *sh;
	struct group *groups;
	size_t ngroups;
	size_t *gtab;                /* id -> group index + 1 (0: empty), power of two */
	size_t gcap;
	struct units_result *res;
};

static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->res->err, sizeof(c->res->err), fmt, ap);
	va_end(ap);
	return KV_ECORRUPT;
}

#define ID_FMT "%016" PRIx64 "-%" PRIu64
#define ID_ARGS(id) (id).boot, (id).seq

static size_t pow2_at_least(size_t n)
{
	size_t c = 8;
	while (c < n)
		c <<= 1;
	return c;
}

/* ---- keys ---- */

static uint64_t key_hash(const struct units_key *k)
{
	return kv_hash64(k->ptr, k->len, 0x756e697473ULL ^ k->db);
}

static bool key_eq(const struct units_key *a, const struct units_key *b)
{
	return a->db == b->db && a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

static bool keys_touch_any(const struct units_keys *k)
{
	return k->all || k->n > 0;
}

static bool taint_all_now(const struct shard_state *s)
{
	return s->taint_all && s->taint_all_epoch == s->epoch;
}

/* The slot of a tainted key, or NULL. */
static const struct taint_slot *taint_find(const struct shard_state *s, const struct units_key *k)
{
	if (!s->taint_cap)
		return NULL;
	size_t mask = s->taint_cap - 1;
	for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask) {
		const struct taint_slot *sl = &s->taint[i];
		if (sl->epoch != s->epoch || !sl->k)
			return NULL;
		if (key_eq(sl->k, k))
			return sl;
	}
}

static void taint_add(struct shard_state *s, const struct units_key *k, size_t cause)
{
	/* Sized to twice every key the shard's records write, so a probe
	 * always ends at a free slot. */
	kv_assert(s->taint_cap > 0 && s->taint_n < s->taint_cap / 2 + 1);
	size_t mask = s->taint_cap - 1;
	for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask) {
		struct taint_slot *sl = &s->taint[i];
		if (sl->epoch != s->epoch || !sl->k) {
			sl->k = k;
			sl->epoch = s->epoch;
			sl->cause = cause;
			s->taint_n++;
			s->taint_last_cause = cause;
			return;
		}
		if (key_eq(sl->k, k))
			return;
	}
}

/* Whether a record touching reads/writes depends on the shard's taint;
 * *cause gets the cause of a tainted key it touches. */
static bool depends_local(const struct shard_state *s, const struct units_keys *reads,
			  const struct units_keys *writes, size_t *cause)
{
	bool touches = keys_touch_any(reads) || keys_touch_any(writes);
	if (!touches)
		return false;
	if (taint_all_now(s)) {
		*cause = s->taint_all_cause;
		return true;
	}
	if (reads->all || writes->all) {
		*cause = s->taint_last_cause;
		return s->taint_n > 0;
	}
	const struct units_keys *sets[2] = { reads, writes };
	for (int j = 0; j < 2; j++)
		for (uint32_t i = 0; i < sets[j]->n; i++) {
			const struct taint_slot *sl = taint_find(s, &sets[j]->v[i]);
			if (sl) {
				*cause = sl->cause;
				return true;
			}
		}
	return false;
}

static bool keys_overlap(const struct units_keys *a, const struct units_keys *b)
{
	if (!keys_touch_any(a) || !keys_touch_any(b))
		return false;
	if (a->all || b->all)
		return true;
	for (uint32_t i = 0; i < a->n; i++)
		for (uint32_t j = 0; j < b->n; j++)
			if (key_eq(&a->v[i], &b->v[j]))
				return true;
	return false;
}

/* A READ row (shard q, lsn, keys): did a record dropped on q at or before
 * lsn, after q's last RESOLVE at or before lsn, write a key it read?  If
 * so *cause gets that record's. */
static bool depends_read(const struct ctx *c, const struct units_ref *r, size_t *cause)
{
	const struct shard_state *q = &c->sh[r->shard];
	const struct units_log *log = q->log;
	if (q->ndropped == 0)
		return false;   /* the common case: nothing dropped there */
	uint64_t barrier = 0;
	for (size_t i = 0; i < log->n && log->recs[i].lsn <= r->lsn; i++)
		if (log->recs[i].kind == UNITS_RESOLVE)
			barrier = log->recs[i].lsn;
	for (size_t i = q->ndropped; i-- > 0;) {
		const struct units_record *d = &log->recs[q->dropped[i]];
		if (d->lsn <= barrier)
			break;
		if (d->lsn <= r->lsn && keys_overlap(&d->writes, &r->reads)) {
			*cause = q->cause[q->dropped[i]];
			return true;
		}
	}
	return false;
}

static void drop_record(struct ctx *c, uint32_t shard, size_t i, size_t cause)
{
	struct shard_state *s = &c->sh[shard];
	const struct units_record *r = &s->log->recs[i];
	c->res->keep[shard][i] = 0;
	c->res->dropped_records++;
	s->dropped[s->ndropped++] = i;
	s->cause[i] = cause;
	if (r->writes.all && !taint_all_now(s)) {
		s->taint_all = true;
		s->taint_all_epoch = s->epoch;
		s->taint_all_cause = cause;
	}
	for (uint32_t k = 0; k < r->writes.n; k++)
		taint_add(s, &r->writes.v[k], cause);
}

/* A one-shard record dropped because of unit cause - 1. */
static void add_dep(struct ctx *c, size_t cause, uint32_t shard, uint64_t lsn)
{
	if (cause == 0)
		return;
	struct units_dropped *d = &c->res->units[cause - 1];
	size_t n = d->ndeps;
	if ((n & (n - 1)) == 0)   /* 0, 1, 2, 4, ...: grow to the next power of two */
		d->deps = kv_realloc(d->deps, (n ? 2 * n : 1) * sizeof(*d->deps));
	d->deps[n].shard = shard;
	d->deps[n].lsn = lsn;
	d->ndeps = n + 1;
}

static int cmp_dep(const void *a, const void *b)
{
	const struct units_dep *x = a, *y = b;
	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return x->lsn < y->lsn ? -1 : x->lsn > y->lsn;
}

/* ---- step 1: groups and rows ---- */

static bool id_eq(struct units_id a, struct units_id b)
{
	return a.boot == b.boot && a.seq == b.seq;
}

static size_t *group_slot(struct ctx *c, struct units_id id)
{
	size_t mask = c->gcap - 1;
	uint64_t h = kv_hash64(&id, sizeof(id), 0x67726f7570ULL);
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		size_t *sl = &c->gtab[i];
		if (*sl == 0 || id_eq(c->groups[*sl - 1].id, id))
			return sl;
	}
}

/* Record index of lsn in shard q's log, or -1. */
static int64_t find_lsn(const struct units_log *log, uint64_t lsn)
{
	size_t lo = 0, hi = log->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (log->recs[mid].lsn < lsn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < log->n && log->recs[lo].lsn == lsn ? (int64_t)lo : -1;
}

static int check_table(struct ctx *c, uint32_t shard, const struct units_record *r)
{
	const struct units_unit *u = r->unit;
	if (u->nrefs == 0 || u->nrefs > c->nshards || !u->refs)
		return fail(c, "shard %u LSN %" PRIu64 ": unit " ID_FMT " has %u participant(s) for %u "
			    "shard(s)", shard, r->lsn, ID_ARGS(u->id), u->nrefs, c->nshards);
	bool self = false;
	for (uint32_t i = 0; i < u->nrefs; i++) {
		const struct units_ref *f = &u->refs[i];
		if (f->shard >= c->nshards || (f->role != UNITS_PART && f->role != UNITS_READ))
			return fail(c, "shard %u LSN %" PRIu64 ": unit " ID_FMT " names shard %u as %u",
				    shard, r->lsn, ID_ARGS(u->id), f->shard, f->role);
		for (uint32_t j = 0; j < i; j++)
			if (u->refs[j].shard == f->shard)
				return fail(c, "shard %u LSN %" PRIu64 ": unit " ID_FMT " names shard %u "
					    "twice", shard, r->lsn, ID_ARGS(u->id), f->shard);
		if (f->shard == shard)
			self = f->role == UNITS_PART && f->lsn == r->lsn;
	}
	if (!self)
		return fail(c, "shard %u LSN %" PRIu64 ": unit " ID_FMT " does not name this record as "
			    "its part", shard, r->lsn, ID_ARGS(u->id));
	return 0;
}

static bool same_table(const struct units_unit *a, const struct units_unit *b)
{
	if (a->nrefs != b->nrefs)
		return false;
	for (uint32_t i = 0; i < a->nrefs; i++) {
		const struct units_ref *x = &a->refs[i], *y = &b->refs[i];
		if (x->shard != y->shard || x->role != y->role || x->lsn != y->lsn ||
		    x->reads.n != y->reads.n || x->reads.all != y->reads.all)
			return false;
	}
	return true;
}

static int build_groups(struct ctx *c, size_t nunit_recs)
{
	c->gcap = pow2_at_least(2 * nunit_recs + 1);
	c->gtab = kv_calloc(c->gcap, sizeof(*c->gtab));
	c->groups = kv_calloc(nunit_recs ? nunit_recs : 1, sizeof(*c->groups));
	for (uint32_t s = 0; s < c->nshards; s++) {
		const struct units_log *log = c->sh[s].log;
		for (size_t i = 0; i < log->n; i++) {
			const struct units_record *r = &log->recs[i];
			c->sh[s].group_of[i] = -1;
			if (r->kind != UNITS_EFFECT || !r->unit)
				continue;
			int rc = check_table(c, s, r);
			if (rc < 0)
				return rc;
			size_t *sl = group_slot(c, r->unit->id);
			if (*sl == 0) {
				struct group *g = &c->groups[c->ngroups++];
				g->id = r->unit->id;
				g->u = r->unit;
				g->state = kv_calloc(r->unit->nrefs, 1);
				g->idx = kv_calloc(r->unit->nrefs, sizeof(*g->idx));
				*sl = c->ngroups;
			} else if (!same_table(c->groups[*sl - 1].u, r->unit)) {
				return fail(c, "shard %u LSN %" PRIu64 ": the parts of unit " ID_FMT
					    " disagree on its participants", s, r->lsn,
					    ID_ARGS(r->unit->id));
			}
			c->sh[s].group_of[i] = (int64_t)(*sl - 1);
		}
	}
	return 0;
}

/* RESOLVE records: mark what they name (it stays dropped). */
static int mark_resolved(struct ctx *c)
{
	for (uint32_t s = 0; s < c->nshards; s++) {
		struct shard_state *sh = &c->sh[s];
		const struct units_log *log = sh->log;
		for (size_t j = 0; j < log->n; j++) {
			const struct units_record *r = &log->recs[j];
			if (r->kind != UNITS_RESOLVE)
				continue;
			for (uint32_t k = 0; k < r->nresolved; k++) {
				uint64_t lsn = r->resolved[k];
				if (lsn <= log->cut)
					continue;   /* compacted into the snapshot since */
				int64_t i = find_lsn(log, lsn);
				if (i < 0 || (size_t)i >= j || log->recs[i].kind != UNITS_EFFECT)
					return fail(c, "shard %u LSN %" PRIu64 ": RESOLVE names LSN %"
						    PRIu64 ", which is no earlier record", s, r->lsn, lsn);
				sh->listed[i] = 1;
				if (sh->group_of[i] >= 0)
					c->groups[sh->group_of[i]].resolved = true;
			}
		}
	}
	return 0;
}

static void locate_rows(struct ctx *c, struct group *g)
{
	for (uint32_t i = 0; i < g->u->nrefs; i++) {
		const struct units_ref *f = &g->u->refs[i];
		const struct shard_state *q = &c->sh[f->shard];
		if (f->lsn <= q->log->cut) {
			g->state[i] = REF_IN_SNAPSHOT;
			g->in_snapshot |= f->role == UNITS_PART;
			continue;
		}
		if (f->lsn > q->last_lsn) {
			g->state[i] = REF_LOST;
			g->incomplete = true;
			continue;
		}
		if (f->role == UNITS_READ) {
			g->state[i] = REF_IN_LOG;
			continue;
		}
		int64_t at = find_lsn(q->log, f->lsn);
		if (at >= 0 && q->group_of[at] >= 0 && id_eq(c->groups[q->group_of[at]].id, g->id)) {
			g->state[i] = REF_IN_LOG;
			g->idx[i] = (size_t)at;
		} else {
			g->state[i] = REF_HOLE;
			g->incomplete = true;
			g->hole = true;
		}
	}
}

/* ---- step 2 and 3: the walk ---- */

static bool shard_walked_past(const struct shard_state *q, uint64_t lsn)
{
	return q->pos >= q->log->n || q->log->recs[q->pos].lsn > lsn;
}

static bool group_ready(const struct ctx *c, const struct group *g)
{
	for (uint32_t i = 0; i < g->u->nrefs; i++) {
		const struct units_ref *f = &g->u->refs[i];
		const struct shard_state *q = &c->sh[f->shard];
		if (g->state[i] != REF_IN_LOG)
			continue;
		/* A unit an earlier recovery dropped reads nothing that matters,
		 * and the shard it read may since have reused the LSNs it names
		 * for records that come after its RESOLVE: do not wait for them. */
		if (f->role == UNITS_READ && g->resolved)
			continue;
		if (f->role == UNITS_PART ? q->pos != g->idx[i] : !shard_walked_past(q, f->lsn))
			return false;
	}
	return true;
}

static void report_unit(struct ctx *c, const struct group *g, uint8_t why, size_t on)
{
	struct units_result *res = c->res;
	struct units_dropped *d = &res->units[res->nunits++];
	d->id = g->id;
	d->why = why;
	d->depends_on = why == UNITS_DEPENDS && on ? on - 1 : UNITS_NONE;
	d->nparts = g->u->nrefs;
	d->parts = kv_calloc(g->u->nrefs, sizeof(*d->parts));
	for (uint32_t i = 0; i < g->u->nrefs; i++) {
		d->parts[i].shard = g->u->refs[i].shard;
		d->parts[i].role = g->u->refs[i].role;
		d->parts[i].lsn = g->u->refs[i].lsn;
		d->parts[i].present = g->state[i] == REF_IN_LOG || g->state[i] == REF_IN_SNAPSHOT;
	}
}

static int walk_group(struct ctx *c, struct group *g)
{
	bool depends = false;
	size_t on = 0;
	for (uint32_t i = 0; i < g->u->nrefs && !depends; i++) {
		const struct units_ref *f = &g->u->refs[i];
		if (g->state[i] != REF_IN_LOG || g->resolved)
			continue;
		if (f->role == UNITS_READ) {
			depends = depends_read(c, f, &on);
		} else {
			const struct units_record *r = &c->sh[f->shard].log->recs[g->idx[i]];
			depends = depends_local(&c->sh[f->shard], &r->reads, &r->writes, &on);
		}
	}
	bool drop = g->resolved || g->incomplete || depends;
	if (drop && !g->resolved && g->in_snapshot)
		return fail(c, "unit " ID_FMT " must be dropped (%s) but one of its parts is inside a "
			    "snapshot", ID_ARGS(g->id), g->incomplete ? "a part is missing"
			    : "it depends on a dropped record");
	/* Its parts' keys are tainted with this unit as their cause: the
	 * report it is about to get. */
	size_t self = c->res->nunits + 1;
	for (uint32_t i = 0; i < g->u->nrefs; i++) {
		const struct units_ref *f = &g->u->refs[i];
		if (g->state[i] != REF_IN_LOG || f->role != UNITS_PART)
			continue;
		struct shard_state *q = &c->sh[f->shard];
		if (drop)
			drop_record(c, f->shard, g->idx[i], self);
		q->pos++;
	}
	if (drop)
		report_unit(c, g, g->resolved ? UNITS_RESOLVED
				  : g->incomplete ? UNITS_INCOMPLETE : UNITS_DEPENDS, on);
	return 0;
}

/* Walk shard s from its head as far as it can go; returns records walked
 * or an error. */
static int64_t walk_shard(struct ctx *c, uint32_t s)
{
	struct shard_state *sh = &c->sh[s];
	int64_t n = 0;
	while (sh->pos < sh->log->n) {
		size_t i = sh->pos;
		const struct units_record *r = &sh->log->recs[i];
		if (r->kind == UNITS_RESOLVE) {
			/* Records after it ran on the state recovery left. */
			sh->epoch++;
			sh->taint_n = 0;
			sh->pos++;
		} else if (sh->group_of[i] < 0) {
			size_t cause = 0;
			bool depends = depends_local(sh, &r->reads, &r->writes, &cause);
			if (sh->listed[i] || depends) {
				drop_record(c, s, i, depends ? cause : 0);
				c->res->dropped_single++;
				add_dep(c, depends ? cause : 0, s, r->lsn);
			}
			sh->pos++;
		} else {
			struct group *g = &c->groups[sh->group_of[i]];
			if (!group_ready(c, g))
				break;
			int rc = walk_group(c, g);
			if (rc < 0)
				return rc;
		}
		n++;
	}
	return n;
}

static int check_logs(struct ctx *c, const struct units_log *logs, size_t *nunit_recs,
		      size_t *nwrites)
{
	for (uint32_t s = 0; s < c->nshards; s++) {
		const struct units_log *log = &logs[s];
		if (log->n && !log->recs)
			return fail(c, "shard %u: %zu records without an array", s, log->n);
		uint64_t prev = log->cut;
		for (size_t i = 0; i < log->n; i++) {
			const struct units_record *r = &log->recs[i];
			if (r->lsn <= prev)
				return fail(c, "shard %u: LSN %" PRIu64 " is not after %" PRIu64, s,
					    r->lsn, prev);
			prev = r->lsn;
			if (r->kind == UNITS_EFFECT) {
				*nunit_recs += r->unit != NULL;
				nwrites[s] += r->writes.n;
			} else if (r->kind != UNITS_RESOLVE) {
				return fail(c, "shard %u LSN %" PRIu64 ": unknown record kind %u", s,
					    r->lsn, r->kind);
			}
		}
	}
	return 0;
}

static void ctx_free(struct ctx *c)
{
	if (c->sh) {
		for (uint32_t s = 0; s < c->nshards; s++) {
			free(c->sh[s].group_of);
			free(c->sh[s].listed);
			free(c->sh[s].taint);
			free(c->sh[s].dropped);
			free(c->sh[s].cause);
		}
	}
	for (size_t g = 0; g < c->ngroups; g++) {
		free(c->groups[g].state);
		free(c->groups[g].idx);
	}
	free(c->groups);
	free(c->gtab);
	free(c->sh);
}

void units_result_free(struct units_result *res)
{
	if (res->keep)
		for (uint32_t s = 0; s < res->nshards; s++)
			free(res->keep[s]);
	free(res->keep);
	for (size_t i = 0; i < res->nunits; i++) {
		free(res->units[i].parts);
		free(res->units[i].deps);
	}
	free(res->units);
	res->keep = NULL;
	res->units = NULL;
	res->nunits = 0;
}

int units_decide(const struct units_log *logs, uint32_t nshards, struct units_result *res)
{
	memset(res, 0, sizeof(*res));
	struct ctx c = { .nshards = nshards, .res = res };
	size_t nunit_recs = 0;
	size_t *nwrites = kv_calloc(nshards ? nshards : 1, sizeof(*nwrites));
	int rc = check_logs(&c, logs, &nunit_recs, nwrites);
	if (rc < 0) {
		free(nwrites);
		return rc;
	}
	res->nshards = nshards;
	res->keep = kv_calloc(nshards ? nshards : 1, sizeof(*res->keep));
	res->units = kv_calloc(nunit_recs ? nunit_recs : 1, sizeof(*res->units));
	c.sh = kv_calloc(nshards ? nshards : 1, sizeof(*c.sh));
	for (uint32_t s = 0; s < nshards; s++) {
		struct shard_state *sh = &c.sh[s];
		const struct units_log *log = &logs[s];
		sh->log = log;
		sh->last_lsn = log->n ? log->recs[log->n - 1].lsn : log->cut;
		size_t n = log->n ? log->n : 1;
		sh->group_of = kv_calloc(n, sizeof(*sh->group_of));
		sh->listed = kv_calloc(n, 1);
		sh->dropped = kv_calloc(n, sizeof(*sh->dropped));
		sh->cause = kv_calloc(n, sizeof(*sh->cause));
		sh->epoch = 1;   /* slots start at epoch 0: empty */
		if (nwrites[s]) {
			sh->taint_cap = pow2_at_least(2 * nwrites[s] + 1);
			sh->taint = kv_calloc(sh->taint_cap, sizeof(*sh->taint));
		}
		res->keep[s] = kv_malloc(n);
		memset(res->keep[s], 1, n);
	}
	free(nwrites);
	rc = build_groups(&c, nunit_recs);
	if (rc == 0)
		rc = mark_resolved(&c);
	for (size_t g = 0; rc == 0 && g < c.ngroups; g++) {
		locate_rows(&c, &c.groups[g]);
		if (c.groups[g].hole && !c.groups[g].resolved) {
			const struct group *gr = &c.groups[g];
			uint32_t q = 0;
			uint64_t lsn = 0;
			for (uint32_t i = 0; i < gr->u->nrefs; i++)
				if (gr->state[i] == REF_HOLE) {
					q = gr->u->refs[i].shard;
					lsn = gr->u->refs[i].lsn;
				}
			rc = fail(&c, "unit " ID_FMT ": its part on shard %u at LSN %" PRIu64 " is missing "
				  "from the middle of that shard's log (the LSN holds another record)",
				  ID_ARGS(gr->id), q, lsn);
		}
	}
	/* The walk: repeat passes over the shards while any makes progress. */
	for (bool progress = true; rc == 0 && progress;) {
		progress = false;
		for (uint32_t s = 0; s < nshards && rc == 0; s++) {
			int64_t n = walk_shard(&c, s);
			if (n < 0)
				rc = (int)n;
			else if (n > 0)
				progress = true;
		}
	}
	for (uint32_t s = 0; rc == 0 && s < nshards; s++) {
		const struct shard_state *sh = &c.sh[s];
		if (sh->pos < sh->log->n)
			rc = fail(&c, "shard %u LSN %" PRIu64 ": the parts of the units in the logs are "
				  "in an order no serial execution gives", s, sh->log->recs[sh->pos].lsn);
	}
	for (size_t u = 0; rc == 0 && u < res->nunits; u++)
		if (res->units[u].ndeps > 1)
			qsort(res->units[u].deps, res->units[u].ndeps, sizeof(*res->units[u].deps),
			      cmp_dep);
	ctx_free(&c);
	if (rc < 0) {
		char err[sizeof(res->err)];
		memcpy(err, res->err, sizeof(err));
		units_result_free(res);
		memset(res, 0, sizeof(*res));
		memcpy(res->err, err, sizeof(err));
	}
	return rc;
}
