/*
 * aof_plan.h - which records of a data directory recovery replays: the
 * recovery rule for units across shards (persist/units.h) applied to what
 * every shard's files hold (docs/durability.md, "Units across shards").
 *
 * Recovery, kevy-check and kevy-dump call aof_plan_build() once, before any
 * shard is loaded (the rule needs every shard's log: it is the barrier
 * between "scan" and "apply").  It reads each shard's records after its
 * snapshot, first their unit headers only; only when a unit is incomplete
 * does it read them again with the keys every record touches (as 64-bit
 * fingerprints), so the usual restart costs one read of the headers.
 *
 * Its result per shard: the LSNs not to apply (struct aof's skip), and what
 * a RESOLVE record must name so that a later recovery keeps the verdict.
 */
#ifndef KV_AOF_PLAN_H
#define KV_AOF_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "persist/aof.h"
#include "persist/manifest.h"
#include "persist/units.h"

struct aof_plan_shard {
	uint64_t cut;            /* the snapshot's cut LSN */
	uint64_t last_lsn;       /* of the last record read (cut if none) */
	uint64_t *skip;          /* sorted: records recovery must not apply */
	size_t nskip;
	uint64_t *resolve;       /* sorted: of them, those no RESOLVE names yet */
	size_t nresolve;
	uint64_t (*ids)[2];      /* ids of the newly dropped units with a part here */
	size_t nids;
	/* Where its records are, to name the file of an LSN (aof_plan_file):
	 * its manifest as the scan read it, and whether its last segment ends
	 * in a torn tail that recovery cuts. */
	struct manifest man;
	bool torn;
};

struct aof_plan {
	uint32_t nshards;
	struct aof_plan_shard *shards;
	bool decided;            /* some shard holds units or RESOLVE records */
	bool with_keys;          /* the second, keyed pass ran */
	struct units_result res; /* valid when decided */
	size_t new_units;        /* dropped units no RESOLVE names yet */
	bool unplanned;          /* aof_plan_build_recovery read nothing (see there) */
	char err[600];
};

/* Build the plan for dir (every shard of ds).  Returns 0 (nothing to drop,
 * or p says what), or an error with p->err: files recovery would refuse
 * (its own line), or units' records that contradict each other in a way no
 * crash produces (units_decide's rule 4, KV_ECORRUPT).  A torn tail is not
 * an error: the records before it are what recovery keeps.  Free with
 * aof_plan_free in every case. */
int aof_plan_build(const char *dir, const struct dataset_info *ds, struct aof_plan *p);
/* The same for a point in time (kevy-dump --until-lsn / --until-time, 0: no
 * bound): each shard's log is cut before its first record past the bound,
 * as a crash would cut it, and the rule applied to what is left; what lies
 * past the bound is in the skip lists too. */
int aof_plan_build_until(const char *dir, const struct dataset_info *ds, uint64_t until_lsn,
			 int64_t until_ms, struct aof_plan *p);
void aof_plan_free(struct aof_plan *p);

/* Server recovery's plan: aof_plan_build, unless no record of dir can be
 * one the rule decides about, so the plan could drop nothing and its pass
 * over every segment is saved (docs/durability.md, "What a restart does not
 * read twice"): a dataset of one shard (no unit spans shards), or one whose
 * segments are all of a version before UNIT and RESOLVE records.  Then p is
 * an empty plan with p->unplanned set, and a load with its skip
 * (aof_plan_skip) stops with -EAGAIN at a UNIT or RESOLVE record: the
 * caller then builds the plan with aof_plan_build and loads again.  0 or
 * aof_plan_build's error; free with aof_plan_free in every case. */
int aof_plan_build_recovery(const char *dir, const struct dataset_info *ds, struct aof_plan *p);

/* What shard s must not apply (for aof_recover). */
struct aof_skip aof_plan_skip(const struct aof_plan *p, uint32_t s);

/* After shard s recovered (a ready to append): log each unit dropped with a
 * part there, and append and fsync the RESOLVE record naming what this
 * recovery dropped on s, if anything.  0 or an error with a line in err.
 * Every shard's RESOLVE must be durable before any shard serves. */
int aof_plan_resolve(const struct aof_plan *p, uint32_t s, struct aof *a, char *err,
		     size_t err_cap);

/* Offline load of a directory (kevy-dump, tests) through the plan: like
 * recovery, without changing anything.  Arguments as aof_load_dir_skip. */
int aof_load_dir(const char *dir, uint64_t until_lsn, int64_t until_ms, aof_report_fn fn,
		 void *arg, struct kv_dbs **dbs, uint32_t *nshards, char *err, size_t err_cap);

/* Re-shard dir's dataset to nshards shards in place (the server at startup
 * when `threads` differs from the dataset's count): load it as recovery
 * does (the recovery rule for units across shards applied), write the new
 * shards' files beside the old ones, record the decision, complete it
 * (aof.h: aof_reshard_decide, aof_reshard_recover).  A crash before the
 * decision leaves the old dataset whole; after it, the next start
 * completes it.  0 or an error with a line in err. */
int aof_reshard(const char *dir, uint32_t nshards, char *err, size_t err_cap);

/* What RESOLVE records of one shard name (DEBUG RELOAD of a shard while
 * the others run: what an earlier recovery dropped stays dropped).  *lsns
 * sorted, owned by the caller (free).  0 or an error with a line in err. */
int aof_plan_resolved(const char *dir, const struct dataset_info *ds, uint32_t shard,
		      uint64_t **lsns, size_t *n, char *err, size_t err_cap);

/* kevy-check --fix: what recovery does about units across shards and
 * nothing more -- every shard whose plan drops records not named yet is
 * recovered (into memory that is then freed) and gets its RESOLVE record.
 * Torn tails must have been cut first.  0 or an error with a line in err. */
int aof_plan_fix(const char *dir, char *err, size_t err_cap);

/* The file of shard s where LSN lsn is, as its manifest names it (a name
 * inside the data directory, owned by p): for an LSN at or below the
 * shard's cut, the snapshot (or the rewritten segment the manifest starts
 * with) that holds it; in the log, the segment holding it; past the
 * shard's last record, its last segment, where the record would have
 * been.  NULL when the manifest was not read. */
const char *aof_plan_file(const struct aof_plan *p, uint32_t s, uint64_t lsn);

/* One human line about dropped unit i of p->res (snprintf-style): its id,
 * why, each participant with its LSN and file, the unit it depends on, and
 * the one-shard records dropped with it (the first 32 LSNs, then a count).
 * Recovery logs it; kevy-check prints it. */
size_t aof_plan_describe(const struct aof_plan *p, size_t i, char *out, size_t cap);

#endif
