/*
 * aof_plan.c - the recovery rule for units across shards, applied to a data
 * directory (see aof_plan.h; the rule itself is units.c, the record formats
 * aof_format.c).
 *
 * Two passes, the second only when needed: the first describes every record
 * with its unit header and no keys.  With no keys no record depends on
 * another, so what that decision drops is exactly the incomplete units and
 * what earlier RESOLVE records named.  If no unit is newly incomplete, the
 * keys could not change the verdict (dependents of what a RESOLVE names were
 * named with it) and the plan is done; otherwise the records are read again
 * with their keys and decided again.
 *
 * Keys are fingerprints: XXH3-64 of the key's bytes, with its database; a
 * collision can only drop more, never keep a dependent.
 */
#include "persist/aof_plan.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "base/le.h"
#include "base/log.h"
#include "persist/aof.h"
#include "persist/aof_format.h"

/* ---- an arena: everything the records point at, freed at once ---- */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct arena_block *head;
};

static void *arena_alloc(struct arena *ar, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct arena_block *b = ar->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		b = kv_malloc(sizeof(*b) + cap);
		b->next = ar->head;
		b->used = 0;
		b->cap = cap;
		ar->head = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

static void arena_free(struct arena *ar)
{
	while (ar->head) {
		struct arena_block *b = ar->head;
		ar->head = b->next;
		free(b);
	}
}

/* ---- one shard's records ---- */

struct keyvec {
	struct units_key *v;
	uint32_t n, cap;
	bool all;
};

struct scan_shard {
	struct arena *ar;
	bool with_keys;
	/* Point in time (kevy-dump --until-lsn/--until-time): the log is cut
	 * before the first record past the bound, as a crash would cut it;
	 * what follows is listed in `beyond` (never applied). */
	uint64_t until_lsn;
	int64_t until_ms;
	bool past;
	uint64_t *beyond;
	size_t nbeyond, capbeyond;
	struct units_record *recs;
	size_t n, cap;
	bool any_unit;
	int err;               /* a malformed record the reader let through */
};

static void keyvec_push(struct keyvec *kv, uint32_t db, const void *key, size_t klen)
{
	if (kv->n == kv->cap) {
		kv->cap = kv->cap ? kv->cap * 2 : 8;
		kv->v = kv_realloc(kv->v, kv->cap * sizeof(*kv->v));
	}
	struct units_key *k = &kv->v[kv->n++];
	k->db = db;
	k->len = klen;
	k->ptr = key;
}

/* Copy a key vector into the arena as fingerprints. */
static struct units_keys keyvec_seal(struct arena *ar, struct keyvec *kv)
{
	struct units_keys out = { .all = kv->all };
	if (kv->all || kv->n == 0)
		return out;
	struct units_key *v = arena_alloc(ar, kv->n * sizeof(*v));
	uint64_t *fp = arena_alloc(ar, kv->n * sizeof(*fp));
	for (uint32_t i = 0; i < kv->n; i++) {
		fp[i] = kv_hash64(kv->v[i].ptr, kv->v[i].len, 0x6b657973ULL);
		v[i].db = kv->v[i].db;
		v[i].len = sizeof(fp[i]);
		v[i].ptr = &fp[i];
	}
	out.v = v;
	out.n = kv->n;
	return out;
}

static void emit_key(void *arg, uint32_t db, const void *key, size_t klen)
{
	keyvec_push(arg, db, key, klen);
}

static void emit_all(void *arg)
{
	((struct keyvec *)arg)->all = true;
}

/* A key list of a unit header into kv; KV_ECORRUPT if malformed. */
static int keylist_add(struct keyvec *kv, const uint8_t *p, size_t len)
{
	struct aof_keys_iter it;
	if (aof_keys_iter_init(&it, p, len) < 0)
		return KV_ECORRUPT;
	if (it.all)
		kv->all = true;
	uint32_t db;
	const uint8_t *k;
	size_t kl;
	int rc;
	while ((rc = aof_keys_next(&it, &db, &k, &kl)) == 1)
		keyvec_push(kv, db, k, kl);
	return rc;
}

static void effect_keys(struct keyvec *kv, const void *payload, size_t len)
{
	const struct aof_effect_ops *ops = aof_get_effect_ops();
	if (!ops || !ops->keys) {
		kv->all = true;   /* no command table: every key, the safe side */
		return;
	}
	ops->keys(payload, len, emit_key, emit_all, kv);
}

/* The time a record's commands ran with (0 for none). */
static int64_t record_time(const struct aof_record *rec)
{
	const uint8_t *p = rec->payload;
	size_t len = rec->payload_len;
	struct aof_unit u;
	const char *why;
	int64_t t = 0;
	if (rec->type == AOF_REC_UNIT) {
		if (aof_unit_decode(p, len, &u, &why) < 0)
			return 0;
		if (u.effect_len >= 8)
			t = (int64_t)le_get64(u.effect);
		aof_unit_free(&u);
		return t;
	}
	return len >= 8 ? (int64_t)le_get64(p) : 0;
}

static void on_record(void *arg, const struct aof_record *rec)
{
	struct scan_shard *sc = arg;
	if (sc->err)
		return;
	if (!sc->past && ((sc->until_lsn && rec->lsn > sc->until_lsn) ||
			  (sc->until_ms && record_time(rec) > sc->until_ms)))
		sc->past = true;
	if (sc->past) {
		if (sc->nbeyond == sc->capbeyond) {
			sc->capbeyond = sc->capbeyond ? sc->capbeyond * 2 : 64;
			sc->beyond = kv_realloc(sc->beyond, sc->capbeyond * sizeof(*sc->beyond));
		}
		sc->beyond[sc->nbeyond++] = rec->lsn;
		return;
	}
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 256;
		sc->recs = kv_realloc(sc->recs, sc->cap * sizeof(*sc->recs));
	}
	struct units_record *r = &sc->recs[sc->n];
	memset(r, 0, sizeof(*r));
	r->lsn = rec->lsn;
	if (rec->type == AOF_REC_RESOLVE) {
		uint64_t *lsns;
		size_t n, nids;
		if (aof_resolve_decode(rec->payload, rec->payload_len, NULL, &lsns, &n, &nids) < 0) {
			sc->err = KV_ECORRUPT;
			return;
		}
		uint64_t *copy = arena_alloc(sc->ar, n * sizeof(*copy));
		memcpy(copy, lsns, n * sizeof(*copy));
		free(lsns);
		r->kind = UNITS_RESOLVE;
		r->resolved = copy;
		r->nresolved = (uint32_t)n;
		sc->any_unit = true;
		sc->n++;
		return;
	}
	r->kind = UNITS_EFFECT;
	struct keyvec w = { 0 }, rd = { 0 };
	if (rec->type == AOF_REC_UNIT) {
		struct aof_unit u;
		const char *why;
		if (aof_unit_decode(rec->payload, rec->payload_len, &u, &why) < 0) {
			sc->err = KV_ECORRUPT;
			return;
		}
		struct units_unit *uu = arena_alloc(sc->ar, sizeof(*uu));
		struct units_ref *refs = arena_alloc(sc->ar, u.nrows * sizeof(*refs));
		uu->id.boot = u.boot;
		uu->id.seq = u.seq;
		uu->nrefs = u.nrows;
		uu->refs = refs;
		for (uint32_t i = 0; i < u.nrows; i++) {
			memset(&refs[i], 0, sizeof(refs[i]));
			refs[i].shard = u.rows[i].shard;
			refs[i].role = u.rows[i].role == AOF_UNIT_PART ? UNITS_PART : UNITS_READ;
			refs[i].lsn = u.rows[i].lsn;
			if (sc->with_keys && u.rows[i].role == AOF_UNIT_READ) {
				struct keyvec rk = { 0 };
				if (keylist_add(&rk, u.rows[i].keys, u.rows[i].keys_len) < 0)
					sc->err = KV_ECORRUPT;
				refs[i].reads = keyvec_seal(sc->ar, &rk);
				free(rk.v);
			}
		}
		r->unit = uu;
		if (sc->with_keys) {
			effect_keys(&w, u.effect, u.effect_len);
			if (keylist_add(&rd, u.reads, u.reads_len) < 0)
				sc->err = KV_ECORRUPT;
		}
		aof_unit_free(&u);
		sc->any_unit = true;
	} else if (sc->with_keys) {
		effect_keys(&w, rec->payload, rec->payload_len);
	}
	if (sc->with_keys) {
		/* What a record writes it also reads. */
		for (uint32_t i = 0; i < w.n; i++)
			keyvec_push(&rd, w.v[i].db, w.v[i].ptr, w.v[i].len);
		rd.all |= w.all;
		r->writes = keyvec_seal(sc->ar, &w);
		r->reads = keyvec_seal(sc->ar, &rd);
	}
	free(w.v);
	free(rd.v);
	sc->n++;
}

/* ---- the plan ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool in_sorted(const uint64_t *v, size_t n, uint64_t x)
{
	return bsearch(&x, v, n, sizeof(*v), cmp_u64) != NULL;
}

/* Scan every shard (keys or not) and decide.  1: decided; 0: nothing to
 * decide (no units); < 0: refused, or files that cannot be read (p->err
 * has recovery's own line about them). */
static int plan_pass(const char *dir, const struct dataset_info *ds, struct aof_plan *p,
		     bool with_keys, struct arena *ar, struct scan_shard *sc,
		     struct units_log *logs, uint64_t until_lsn, int64_t until_ms)
{
	bool any = false;
	for (uint32_t i = 0; i < ds->shard_count; i++) {
		memset(&sc[i], 0, sizeof(sc[i]));
		sc[i].ar = ar;
		sc[i].with_keys = with_keys;
		sc[i].until_lsn = until_lsn;
		sc[i].until_ms = until_ms;
		uint64_t cut = 0;
		manifest_free(&p->shards[i].man);
		int rc = aof_scan_records(dir, ds, i, on_record, &sc[i], &cut, &p->shards[i].man,
					  p->err, sizeof(p->err));
		if (rc < 0 && rc != KV_ETORN)
			return rc;
		p->shards[i].torn = rc == KV_ETORN;
		if (sc[i].err) {
			snprintf(p->err, sizeof(p->err), "shard %u: a unit or resolve record does not "
				 "decode", i);
			return KV_ECORRUPT;
		}
		logs[i].cut = cut;
		logs[i].recs = sc[i].recs;
		logs[i].n = sc[i].n;
		p->shards[i].cut = cut;
		p->shards[i].last_lsn = sc[i].n ? sc[i].recs[sc[i].n - 1].lsn : cut;
		any |= sc[i].any_unit;
	}
	if (!any)
		return 0;
	if (p->decided)
		units_result_free(&p->res);
	p->decided = false;
	int rc = units_decide(logs, ds->shard_count, &p->res);
	if (rc < 0) {
		snprintf(p->err, sizeof(p->err), "units across shards: %s", p->res.err);
		return rc;
	}
	p->decided = true;
	return 1;
}

static void free_scans(struct scan_shard *sc, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		free(sc[i].recs);
		sc[i].recs = NULL;
		free(sc[i].beyond);
		sc[i].beyond = NULL;
	}
}

static bool unit_new(const struct units_dropped *d)
{
	return d->why != UNITS_RESOLVED;
}

int aof_plan_build(const char *dir, const struct dataset_info *ds, struct aof_plan *p)
{
	return aof_plan_build_until(dir, ds, 0, 0, p);
}

int aof_plan_build_until(const char *dir, const struct dataset_info *ds, uint64_t until_lsn,
			 int64_t until_ms, struct aof_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->nshards = ds->shard_count;
	p->shards = kv_calloc(ds->shard_count, sizeof(*p->shards));
	struct arena ar = { 0 };
	struct scan_shard *sc = kv_calloc(ds->shard_count, sizeof(*sc));
	struct units_log *logs = kv_calloc(ds->shard_count, sizeof(*logs));
	int rc = plan_pass(dir, ds, p, false, &ar, sc, logs, until_lsn, until_ms);
	if (rc == 1) {
		bool incomplete = false;
		for (size_t i = 0; i < p->res.nunits; i++)
			incomplete |= unit_new(&p->res.units[i]);
		if (incomplete) {
			free_scans(sc, ds->shard_count);
			arena_free(&ar);
			p->with_keys = true;
			rc = plan_pass(dir, ds, p, true, &ar, sc, logs, until_lsn, until_ms);
		}
	}
	if (rc == 0 && (until_lsn || until_ms)) {
		/* No units to decide, but a bound: what lies past it (a prefix
		 * per shard) is not applied. */
		for (uint32_t s = 0; s < ds->shard_count; s++) {
			struct aof_plan_shard *ps = &p->shards[s];
			ps->skip = kv_malloc((sc[s].nbeyond + 1) * sizeof(*ps->skip));
			if (sc[s].nbeyond)
				memcpy(ps->skip, sc[s].beyond, sc[s].nbeyond * sizeof(*ps->skip));
			ps->nskip = sc[s].nbeyond;
		}
	}
	if (rc == 1) {
		rc = 0;
		for (uint32_t s = 0; s < ds->shard_count; s++) {
			struct aof_plan_shard *ps = &p->shards[s];
			const struct scan_shard *ss = &sc[s];
			/* What earlier RESOLVE records name stays dropped: not new. */
			size_t nres = 0;
			for (size_t i = 0; i < ss->n; i++)
				nres += ss->recs[i].kind == UNITS_RESOLVE ? ss->recs[i].nresolved : 0;
			uint64_t *named = kv_malloc((nres + 1) * sizeof(*named));
			nres = 0;
			for (size_t i = 0; i < ss->n; i++)
				if (ss->recs[i].kind == UNITS_RESOLVE)
					for (uint32_t j = 0; j < ss->recs[i].nresolved; j++)
						named[nres++] = ss->recs[i].resolved[j];
			qsort(named, nres, sizeof(*named), cmp_u64);
			ps->skip = kv_malloc((ss->n + ss->nbeyond + 1) * sizeof(*ps->skip));
			ps->resolve = kv_malloc((ss->n + 1) * sizeof(*ps->resolve));
			for (size_t i = 0; i < ss->n; i++) {
				if (p->res.keep[s][i] || ss->recs[i].kind == UNITS_RESOLVE)
					continue;
				ps->skip[ps->nskip++] = ss->recs[i].lsn;
				if (!in_sorted(named, nres, ss->recs[i].lsn))
					ps->resolve[ps->nresolve++] = ss->recs[i].lsn;
			}
			/* After every kept or dropped record: still sorted. */
			if (ss->nbeyond)
				memcpy(ps->skip + ps->nskip, ss->beyond,
				       ss->nbeyond * sizeof(*ps->skip));
			ps->nskip += ss->nbeyond;
			free(named);
			ps->ids = kv_malloc((p->res.nunits + 1) * sizeof(*ps->ids));
			for (size_t u = 0; u < p->res.nunits; u++) {
				const struct units_dropped *d = &p->res.units[u];
				if (!unit_new(d))
					continue;
				for (uint32_t k = 0; k < d->nparts; k++)
					if (d->parts[k].shard == s && d->parts[k].role == UNITS_PART) {
						ps->ids[ps->nids][0] = d->id.boot;
						ps->ids[ps->nids][1] = d->id.seq;
						ps->nids++;
						break;
					}
			}
		}
		for (size_t u = 0; u < p->res.nunits; u++)
			p->new_units += unit_new(&p->res.units[u]);
	}
	free_scans(sc, ds->shard_count);
	free(sc);
	free(logs);
	arena_free(&ar);
	return rc;
}

/* Whether every segment of every shard predates UNIT and RESOLVE records
 * (read from their headers; anything unreadable: no). */
static bool segments_predate_units(const char *dir, const struct dataset_info *ds)
{
	for (uint32_t s = 0; s < ds->shard_count; s++) {
		uint16_t version;
		if (aof_segments_version(dir, ds, s, &version) < 0 ||
		    version >= AOF_FORMAT_UNITS_VERSION)
			return false;
	}
	return true;
}

int aof_plan_build_recovery(const char *dir, const struct dataset_info *ds, struct aof_plan *p)
{
	/* One shard: a unit's table can name no other shard (the rule
	 * refuses one that does), so every part it names is there and none
	 * is incomplete; and a RESOLVE record is written only where a
	 * recovery dropped something, which with one shard it never does.
	 * Neither record belongs in such a dataset; should one be there
	 * (files from elsewhere), the load stops at it (-EAGAIN) and the
	 * caller plans after all, so the verdict is always the plan's.
	 * Older segments: their reader refuses both types as corruption,
	 * the same verdict the plan's own scan reaches. */
	if (ds->shard_count != 1 && !segments_predate_units(dir, ds))
		return aof_plan_build(dir, ds, p);
	memset(p, 0, sizeof(*p));
	p->nshards = ds->shard_count;
	p->shards = kv_calloc(ds->shard_count, sizeof(*p->shards));
	p->unplanned = true;
	return 0;
}

void aof_plan_free(struct aof_plan *p)
{
	if (p->decided)
		units_result_free(&p->res);
	for (uint32_t i = 0; p->shards && i < p->nshards; i++) {
		free(p->shards[i].skip);
		free(p->shards[i].resolve);
		free(p->shards[i].ids);
		manifest_free(&p->shards[i].man);
	}
	free(p->shards);
	memset(p, 0, sizeof(*p));
}

const char *aof_plan_file(const struct aof_plan *p, uint32_t s, uint64_t lsn)
{
	if (!p->shards || s >= p->nshards || p->shards[s].man.nentries == 0)
		return NULL;
	const struct aof_plan_shard *ps = &p->shards[s];
	const struct manifest *m = &ps->man;
	if (lsn <= ps->cut) {
		/* Compacted into the last snapshot, or, without one, into the
		 * rewritten segment the manifest starts with. */
		for (uint32_t i = m->nentries; i-- > 0;)
			if (m->entries[i].kind == MANIFEST_SNAPSHOT)
				return m->entries[i].name;
		return m->entries[0].name;
	}
	/* A segment's start LSN is the last one before it: the record is in
	 * the last segment that starts below it (past the end: the last). */
	const char *in = NULL;
	for (uint32_t i = 0; i < m->nentries; i++)
		if (m->entries[i].kind == MANIFEST_AOF && (!in || m->entries[i].lsn < lsn))
			in = m->entries[i].name;
	return in;
}

/* snprintf at out + n, keeping the snprintf-style total in the result. */
static size_t put(char *out, size_t cap, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static size_t put(char *out, size_t cap, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(n < cap ? out + n : NULL, n < cap ? cap - n : 0, fmt, ap);
	va_end(ap);
	return n + (k > 0 ? (size_t)k : 0);
}

/* Where participant r of a dropped unit is, in words. */
static size_t describe_part(const struct aof_plan *p, const struct units_part_report *r,
			    char *out, size_t cap, size_t n)
{
	const char *file = aof_plan_file(p, r->shard, r->lsn);
	const struct aof_plan_shard *ps = r->shard < p->nshards ? &p->shards[r->shard] : NULL;
	if (!file || !ps)
		return put(out, cap, n, "%s", r->present ? "present"
			   : r->role == UNITS_PART ? "missing (past the end of that shard's log)"
			   : "missing (that shard's log ends before it)");
	if (r->present)
		return put(out, cap, n, "present in %s", file);
	if (r->lsn <= ps->last_lsn)
		/* Only a unit an earlier recovery dropped: its lost LSN was used
		 * again after that restart. */
		return put(out, cap, n, "missing (its LSN holds a later record in %s)", file);
	return put(out, cap, n, "missing (%s %s%s)",
		   r->role == UNITS_PART ? "past the end of" : "the shard's log ends before it, in",
		   file, ps->torn ? ", whose torn tail recovery cuts" : "");
}

/* At most this many dependents' LSNs in a line; the rest as a count. */
#define DESCRIBE_DEPS_MAX 32

size_t aof_plan_describe(const struct aof_plan *p, size_t i, char *out, size_t cap)
{
	const struct units_dropped *d = &p->res.units[i];
	static const char *const why[] = { "?", "incomplete", "depends on a dropped record",
					   "resolved by an earlier recovery" };
	if (cap)
		out[0] = '\0';
	size_t n = put(out, cap, 0, "unit %016" PRIx64 "-%" PRIu64 " dropped (%s):", d->id.boot,
		       d->id.seq, why[d->why <= 3 ? d->why : 0]);
	for (uint32_t k = 0; k < d->nparts; k++) {
		const struct units_part_report *r = &d->parts[k];
		n = put(out, cap, n, "%s shard %u %s at LSN %" PRIu64 " ", k ? "," : "", r->shard,
			r->role == UNITS_PART ? "part" : "read", r->lsn);
		n = describe_part(p, r, out, cap, n);
	}
	if (d->depends_on < p->res.nunits) {
		const struct units_dropped *on = &p->res.units[d->depends_on];
		n = put(out, cap, n, "; it depends on unit %016" PRIx64 "-%" PRIu64, on->id.boot,
			on->id.seq);
	}
	if (d->ndeps) {
		n = put(out, cap, n, "; with it %zu dependent one-shard record(s):", d->ndeps);
		size_t shown = d->ndeps < DESCRIBE_DEPS_MAX ? d->ndeps : DESCRIBE_DEPS_MAX;
		for (size_t k = 0; k < shown; k++) {
			bool same = k && d->deps[k - 1].shard == d->deps[k].shard;
			if (same)
				n = put(out, cap, n, ", %" PRIu64, d->deps[k].lsn);
			else
				n = put(out, cap, n, "%s shard %u LSN %" PRIu64, k ? ";" : "",
					d->deps[k].shard, d->deps[k].lsn);
		}
		if (shown < d->ndeps)
			n = put(out, cap, n, " and %zu more", d->ndeps - shown);
	}
	return n;
}

struct aof_skip aof_plan_skip(const struct aof_plan *p, uint32_t s)
{
	struct aof_skip k = { 0 };
	if (p->shards && s < p->nshards) {
		k.lsns = p->shards[s].skip;
		k.n = p->shards[s].nskip;
	}
	k.unplanned = p->unplanned;
	return k;
}

int aof_plan_resolve(const struct aof_plan *p, uint32_t s, struct aof *a, char *err,
		     size_t err_cap)
{
	if (!p->decided || s >= p->nshards)
		return 0;
	const struct aof_plan_shard *ps = &p->shards[s];
	for (size_t i = 0; i < p->res.nunits; i++) {
		const struct units_dropped *d = &p->res.units[i];
		/* Each unit once, by its first participant. */
		if (d->why == UNITS_RESOLVED || d->nparts == 0 || d->parts[0].shard != s)
			continue;
		char line[1024];
		aof_plan_describe(p, i, line, sizeof(line));
		log_warning("%s", line);
	}
	if (ps->nresolve == 0)
		return 0;
	log_warning("shard %u: recovery dropped %zu record(s) of incomplete units across shards "
		    "and what depended on them (%zu unit(s)); a RESOLVE record keeps that verdict",
		    s, ps->nresolve, ps->nids);
	int rc = aof_resolve_sync(a, ps->resolve, ps->nresolve, (const uint64_t (*)[2])ps->ids,
				  ps->nids);
	if (rc < 0)
		snprintf(err, err_cap, "shard %u: cannot write the RESOLVE record: %s", s,
			 kv_strerror(rc));
	return rc;
}

int aof_load_dir(const char *dir, uint64_t until_lsn, int64_t until_ms, aof_report_fn fn,
		 void *arg, struct kv_dbs **dbs, uint32_t *nshards, char *err, size_t err_cap)
{
	struct dataset_info ds;
	struct aof_plan p;
	struct aof_skip *skips = NULL;
	/* A re-shard decided and not completed: half the shard files are the
	 * new dataset's; read nothing half-moved. */
	int rc = aof_reshard_recover(dir, false, NULL, NULL, err, err_cap);
	if (rc > 0) {
		snprintf(err, err_cap, "%s/%s: a re-shard was decided and not completed; start the "
			 "server or run kevy-check --fix %s first", dir, RESHARD_FILE, dir);
		return KV_ECORRUPT;
	}
	if (rc < 0)
		return rc;
	rc = aof_dataset_read(dir, &ds, err, err_cap);
	if (rc < 0)
		return rc;
	/* A decided turn-on not committed everywhere: the shards' manifests
	 * disagree until recovery commits it; read nothing half-moved. */
	rc = aof_turnon_recover(dir, &ds, false, NULL, NULL, err, err_cap);
	if (rc > 0) {
		snprintf(err, err_cap, "%s/%s: turning appendonly on was decided but %d shard(s) "
			 "had not committed it; start the server or run kevy-check --fix %s first",
			 dir, TURNON_FILE, rc, dir);
		return KV_ECORRUPT;
	}
	if (rc < 0)
		return rc;
	rc = aof_plan_build_until(dir, &ds, until_lsn, until_ms, &p);
	if (rc < 0) {
		snprintf(err, err_cap, "%s", p.err);
		aof_plan_free(&p);
		return rc;
	}
	skips = kv_calloc(ds.shard_count, sizeof(*skips));
	for (uint32_t i = 0; i < ds.shard_count; i++)
		skips[i] = aof_plan_skip(&p, i);
	rc = aof_load_dir_skip(dir, until_lsn, until_ms, fn, arg, skips, dbs, nshards, err,
			       err_cap);
	free(skips);
	aof_plan_free(&p);
	return rc;
}

struct resolved_scan {
	uint64_t *v;
	size_t n, cap;
};

static void on_resolve_record(void *arg, const struct aof_record *rec)
{
	struct resolved_scan *rs = arg;
	uint64_t *lsns;
	size_t n, nids;
	if (rec->type != AOF_REC_RESOLVE ||
	    aof_resolve_decode(rec->payload, rec->payload_len, NULL, &lsns, &n, &nids) < 0)
		return;
	if (rs->n + n > rs->cap) {
		rs->cap = (rs->n + n) * 2;
		rs->v = kv_realloc(rs->v, rs->cap * sizeof(*rs->v));
	}
	memcpy(rs->v + rs->n, lsns, n * sizeof(*lsns));
	rs->n += n;
	free(lsns);
}

int aof_plan_resolved(const char *dir, const struct dataset_info *ds, uint32_t shard,
		      uint64_t **lsns, size_t *n, char *err, size_t err_cap)
{
	struct resolved_scan rs = { 0 };
	uint64_t cut;
	int rc = aof_scan_records(dir, ds, shard, on_resolve_record, &rs, &cut, NULL, err,
				  err_cap);
	if (rc < 0 && rc != KV_ETORN) {
		free(rs.v);
		return rc;
	}
	if (rs.n)
		qsort(rs.v, rs.n, sizeof(*rs.v), cmp_u64);
	*lsns = rs.v;
	*n = rs.n;
	return 0;
}

int aof_plan_fix(const char *dir, char *err, size_t err_cap)
{
	struct dataset_info ds;
	int rc = aof_dataset_read(dir, &ds, err, err_cap);
	if (rc < 0)
		return rc;
	struct aof_plan p;
	rc = aof_plan_build(dir, &ds, &p);
	if (rc < 0)
		snprintf(err, err_cap, "%s", p.err);
	for (uint32_t i = 0; rc == 0 && i < ds.shard_count; i++) {
		if (!p.decided || p.shards[i].nresolve == 0)
			continue;
		struct aof a;
		struct kv_dbs dbs;
		memset(&a, 0, sizeof(a));
		dbs_init(&dbs, 1);
		dbs.growable = true;
		struct aof_skip skip = aof_plan_skip(&p, i);
		rc = aof_recover(&a, dir, &ds, i, ds.shard_count, &skip, &dbs, err, err_cap);
		if (rc == 0)
			rc = aof_plan_resolve(&p, i, &a, err, err_cap);
		aof_close(&a);
		dbs_free(&dbs);
	}
	aof_plan_free(&p);
	return rc;
}

int aof_reshard(const char *dir, uint32_t nshards, char *err, size_t err_cap)
{
	struct dataset_info old;
	int rc = aof_dataset_read(dir, &old, err, err_cap);
	if (rc < 0)
		return rc;
	struct kv_dbs *dbs = NULL;
	uint32_t nsrc = 0;
	int64_t t0 = kv_mono_us();
	log_notice("%s: re-sharding the dataset from %u to %u shard(s): loading it", dir,
		   old.shard_count, nshards);
	rc = aof_load_dir(dir, 0, 0, NULL, NULL, &dbs, &nsrc, err, err_cap);
	if (rc < 0)
		return rc;
	uint64_t keys = 0;
	for (uint32_t i = 0; i < nsrc; i++)
		for (uint32_t d = 0; d < dbs[i].n; d++)
			keys += db_size(dbs[i].db[d]);
	log_notice("%s: loaded %" PRIu64 " key(s); writing them as %u shard(s)", dir, keys,
		   nshards);
	rc = aof_reshard_decide(dir, &old, nshards, dbs, nsrc, err, err_cap);
	for (uint32_t i = 0; i < nsrc; i++)
		dbs_free(&dbs[i]);
	free(dbs);
	if (rc < 0)
		return rc;
	rc = aof_reshard_recover(dir, true, NULL, NULL, err, err_cap);
	if (rc < 0)
		return rc;
	log_notice("%s: re-sharding took %.3f seconds", dir, (double)(kv_mono_us() - t0) / 1e6);
	return 0;
}
