/*
 * units.h - the recovery rule for units that span shards: given what every
 * shard's AOF holds after its snapshot cut, which records to replay.
 *
 * A unit (MULTI/EXEC, MSET, a cross-shard RENAME, ...) writes one record, a
 * *part*, on each shard it changed; every part carries the unit's id and its
 * participant table: for each shard it wrote, the LSN of its part there; for
 * each shard it only read, that shard's last LSN when it ran and the keys it
 * read.  After a crash a part may be missing (that shard's tail was lost).
 * The rule (docs/durability.md, "Units across shards"):
 *
 *   - a unit is *complete* when every part it names is present (in the log,
 *     or inside the shard's snapshot) and every shard it read still reaches
 *     the LSN it read at;
 *   - an incomplete unit is dropped on every shard;
 *   - a record that reads or writes a key a dropped record wrote (on its
 *     shard, at or before its position; for a unit's read-only shards, at
 *     or before the LSN it read at) is dropped too, and so is every part of
 *     its unit: transitively, across shards;
 *   - a record listed by a RESOLVE record (what an earlier recovery dropped)
 *     stays dropped, and a RESOLVE record is a barrier: records after it ran
 *     on the recovered state, so nothing before it taints them;
 *   - nothing else is dropped: a write logged after an incomplete unit on the
 *     same shard that touches none of its keys is kept.
 *
 * Pure logic: no I/O, no server state, no clock.  The caller (recovery,
 * kevy-check, kevy-dump) reads every shard's records, describes them here
 * with the keys each one touches, and applies only those kept.  Memory is
 * proportional to the records and keys given (a few words per record and
 * per written key); the caller's arrays are only read, and every pointer in
 * the result is owned by the result.
 */
#ifndef KV_UNITS_H
#define KV_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A key of one shard: its database and its bytes (not copied: the caller's
 * memory must outlive units_decide). */
struct units_key {
	uint32_t db;
	size_t len;
	const void *ptr;
};

/* A set of keys of one shard; `all` stands for every key of every database
 * of that shard (FLUSHDB, FLUSHALL, SWAPDB, KEYS inside a unit). */
struct units_keys {
	const struct units_key *v;
	uint32_t n;
	bool all;
};

/* Unique across restarts: the boot id is drawn at each start, seq counts
 * the units of that process. */
struct units_id {
	uint64_t boot;
	uint64_t seq;
};

enum units_role {
	UNITS_PART = 1,   /* the unit wrote a part on this shard, at lsn */
	UNITS_READ = 2,   /* the unit only read this shard, at lsn (its last LSN then) */
};

/* One row of a unit's participant table. */
struct units_ref {
	uint32_t shard;
	uint8_t role;              /* enum units_role */
	uint64_t lsn;
	struct units_keys reads;   /* UNITS_READ: the keys read there */
};

struct units_unit {
	struct units_id id;
	uint32_t nrefs;            /* >= 1; one row per shard, one of them this part */
	const struct units_ref *refs;
};

enum units_kind {
	UNITS_EFFECT = 1,          /* an EFFECT record: one shard's changes */
	UNITS_RESOLVE = 2,         /* what an earlier recovery dropped on this shard */
};

struct units_record {
	uint64_t lsn;
	uint8_t kind;              /* enum units_kind */
	/* EFFECT: the unit header (NULL for a one-shard record) and the keys of
	 * this shard the record read and wrote. */
	const struct units_unit *unit;
	struct units_keys reads, writes;
	/* RESOLVE: LSNs of earlier records of this shard that stay dropped. */
	const uint64_t *resolved;
	uint32_t nresolved;
};

/* One shard's records after its snapshot cut, in LSN order (all > cut). */
struct units_log {
	uint64_t cut;              /* the snapshot's cut LSN, 0 without one */
	const struct units_record *recs;
	size_t n;
};

enum units_why {
	UNITS_INCOMPLETE = 1,      /* a part (or a shard it read) is missing */
	UNITS_DEPENDS = 2,         /* it read or wrote a key a dropped record wrote */
	UNITS_RESOLVED = 3,        /* an earlier recovery dropped it (RESOLVE) */
};

/* A participant of a dropped unit, for the log and kevy-check. */
struct units_part_report {
	uint32_t shard;
	uint8_t role;              /* enum units_role */
	uint64_t lsn;
	bool present;              /* PART: found (log or snapshot); READ: that shard reaches lsn */
};

/* A one-shard record dropped because of a dropped unit. */
struct units_dep {
	uint32_t shard;
	uint64_t lsn;
};

#define UNITS_NONE SIZE_MAX

struct units_dropped {
	struct units_id id;
	uint8_t why;               /* enum units_why */
	uint32_t nparts;
	struct units_part_report *parts;
	/* UNITS_DEPENDS: the dropped unit (index in units) whose key it read or
	 * wrote, directly or through dropped one-shard records; UNITS_NONE for
	 * the other reasons, or when the key was a one-shard record's that a
	 * RESOLVE record named. */
	size_t depends_on;
	/* The one-shard records dropped because they read or wrote a key this
	 * unit wrote (directly or through other such records), sorted by shard
	 * then LSN.  Units dropped for the same reason are in `units` with
	 * depends_on naming this one. */
	struct units_dep *deps;
	size_t ndeps;
};

struct units_result {
	uint32_t nshards;
	/* keep[s][i] for record i of shard s: 1 replay it, 0 drop it.  RESOLVE
	 * records are always 1 (they change no key). */
	uint8_t **keep;
	size_t dropped_records;    /* EFFECT records dropped, every shard */
	size_t dropped_single;     /* of which one-shard records */
	struct units_dropped *units;   /* dropped units, in the order decided */
	size_t nunits;
	char err[512];             /* why, when units_decide returns KV_ECORRUPT */
};

/* Decide which records of logs[0..nshards) to keep.  Returns 0 with *res
 * filled (free it with units_result_free), or KV_ECORRUPT with a line in
 * res->err and nothing else to free: LSNs not increasing or not after the
 * cut, a malformed participant table, two parts of one unit that disagree
 * on it, a part missing from the middle of a log (its LSN holds another
 * record and no earlier recovery resolved the unit), a RESOLVE naming no
 * earlier record, a unit that must be dropped while one of its parts is
 * inside a snapshot, or parts in an order no serial execution gives. */
int units_decide(const struct units_log *logs, uint32_t nshards, struct units_result *res);

void units_result_free(struct units_result *res);

#endif
