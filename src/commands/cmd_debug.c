/*
 * cmd_debug.c - the introspection commands OBJECT and DEBUG.
 *
 * OBJECT ENCODING names a value's encoding as Redis 7.0 would: a string's is
 * computed from its bytes ("int" for a canonical int64, "embstr" up to 44
 * bytes, else "raw"), or "raw" once it was changed in place (APPEND,
 * SETRANGE, ...: entry_str_is_raw); the other types ask their module.  FREQ and IDLETIME
 * read the key's 24-bit clock (store/lru.h) under the policy that gives it
 * a meaning, with Redis's errors under the other; kevy never shares values,
 * so REFCOUNT is 1.
 *
 * DEBUG implements the subcommands Redis's own test suite needs where kevy
 * can honestly give Redis 7.0's answer (docs/compatibility.md lists them and
 * the ones it leaves out); any other gets Redis's unknown-subcommand error.
 * The subcommands that read or change the dataset (DIGEST, DIGEST-VALUE,
 * POPULATE, OBJECT, RELOAD, LOADAOF; FAILPOINTS) hold every keyspace
 * (debug_all_shards, the table's all_shards hook), so they see and change
 * the whole dataset atomically.  The others run on the client's shard:
 * SLEEP stops that shard's thread (its connections, and every command on
 * its keys from anywhere), not the whole server as in Redis, and the
 * switches (SET-ACTIVE-EXPIRE, PAUSE-CRON, SET-DISABLE-DENY-SCRIPTS) are
 * process-wide atomics the runtime reads (cmd_debug.h).  As in Redis,
 * DEBUG runs only where enable-debug-command allows (route.c).
 *
 * The digest (DEBUG DIGEST) is kevy's own, not Redis's SHA1 mix; it is equal
 * for equal datasets whatever the shard count, insertion order or encodings:
 *
 *   value digest V (64 bits, XXH3 through kv_hash64):
 *     string  H(bytes)
 *     list    chained in order: d = H(elem, seed = d), from a list seed
 *     set     H(XOR of H(member), member count)            order-free
 *     hash    H(XOR of H(value, seed = H(field)), count)    order-free
 *     zset    chained in ascending (score, member) order:
 *             d = H(member, seed = d ^ H(score's 8 bytes, -0 taken as 0))
 *   key record R = { H(key name), type | database << 8, deadline in absolute
 *                    ms or -1, V }
 *   key digest = three 64-bit hashes of R under three seeds (160 bits used)
 *   DEBUG DIGEST = XOR of the key digests of every live key of every
 *                  database of every shard,
 *                  printed as 40 hex digits; all zeros when there is no key.
 *   DEBUG DIGEST-VALUE = the key digest with H(key name) = 0 (type, deadline
 *                  and value, as Redis mixes the expire in), zeros if absent.
 * Keys whose deadline has passed count as absent (they are not deleted: DEBUG
 * is no write).  The deadline enters with its value, so two datasets match
 * only when their keys expire at the same millisecond.
 *
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands/cmd.h"
#include "commands/cmd_debug.h"
#include "commands/cmd_persist.h"
#include "commands/cmd_info.h"
#include "base/kv.h"
#include "base/log.h"
#include "base/util_num.h"
#include "persist/aof.h"
#include "persist/kvio.h"
#include "commands/config.h"
#include "persist/snapshot.h"
#include "store/store.h"
#include "store/encoding.h"
#include "store/lru.h"
#include "store/rdb_value.h"
#include "store/t_hash.h"
#include "store/t_list.h"
#include "store/t_set.h"
#include "store/t_zset.h"
#include "store/t_stream.h"

struct debug_switches g_debug = { .active_expire = 1 };

static const char *object_encoding_name(const struct kv_entry *e);

/* Redis's limit on a string value (proto-max-bulk-len's default). */
#define DEBUG_MAX_STRING_BYTES (512ull * 1024 * 1024)
/* Redis builds POPULATE's key names in a 128-byte buffer: longer names are
 * cut to 127 bytes, which this keeps. */
#define DEBUG_POPULATE_KEY_MAX 127

/* ------------------------------------------------------------------ */
/* "ERR <prefix><arg><suffix>" with the argument cut at a NUL and at `max`
 * bytes, as Redis prints an sds with %.128s. */
static void debug_error_with_arg(struct kv_buf *out, const char *prefix,
				 const struct kv_slice *a, const char *suffix)
{
	size_t n = KV_MIN(a->len, (size_t)128);
	const char *nul = memchr(a->ptr, '\0', n);
	if (nul)
		n = (size_t)(nul - a->ptr);
	struct kv_buf msg = KV_BUF_INIT;
	kv_buf_append_str(&msg, prefix);
	kv_buf_append(&msg, a->ptr, n);
	kv_buf_append_str(&msg, suffix);
	resp_error(out, kv_buf_cstr(&msg));
	kv_buf_free(&msg);
}

static void debug_reply_lines(struct kv_buf *out, const char *const *lines)
{
	int64_t n = 0;
	while (lines[n])
		n++;
	resp_array(out, n);
	for (int64_t i = 0; i < n; i++)
		resp_simple(out, lines[i]);
}

/* ------------------------------------------------------------------ */
/* digests */

/* Seeds: arbitrary distinct constants, one per role, so that no two roles
 * can produce the same hash from the same bytes. */
#define DIGEST_SEED_KEY 0x6b65792d6e616d65ull
#define DIGEST_SEED_STRING 0x737472696e672d76ull
#define DIGEST_SEED_LIST 0x6c6973742d636861ull
#define DIGEST_SEED_SET_MEMBER 0x7365742d6d656d62ull
#define DIGEST_SEED_SET 0x7365742d66696e61ull
#define DIGEST_SEED_HASH_FIELD 0x686173682d666965ull
#define DIGEST_SEED_HASH 0x686173682d66696eull
#define DIGEST_SEED_ZSET 0x7a7365742d636861ull
#define DIGEST_SEED_SCORE 0x7a7365742d73636full
#define DIGEST_SEED_STREAM 0x73747265616d2d76ull
static const uint64_t digest_out_seeds[3] = {
	0x6b6576792d646730ull, 0x6b6576792d646731ull, 0x6b6576792d646732ull,
};

/* 160 bits (the low 32 of w[2] are not printed). */
struct debug_digest {
	uint64_t w[3];
};

/* An unordered collection folded to 64 bits: the XOR of its element hashes
 * and their count, so equal sets give equal digests in any order. */
struct digest_fold {
	uint64_t acc;
	uint64_t count;
};

static uint64_t digest_fold_final(const struct digest_fold *f, uint64_t seed)
{
	uint64_t v[2] = { f->acc, f->count };
	return kv_hash64(v, sizeof(v), seed);
}

static int digest_list_elem(void *arg, const char *p, size_t len)
{
	uint64_t *d = arg;
	*d = kv_hash64(p, len, *d);
	return 0;
}

static bool digest_set_member(void *arg, const char *m, size_t len)
{
	struct digest_fold *f = arg;
	f->acc ^= kv_hash64(m, len, DIGEST_SEED_SET_MEMBER);
	f->count++;
	return true;
}

static void digest_hash_elem(void *arg, struct kv_slice field, struct kv_slice value)
{
	struct digest_fold *f = arg;
	uint64_t hf = kv_hash64(field.ptr, field.len, DIGEST_SEED_HASH_FIELD);
	f->acc ^= kv_hash64(value.ptr, value.len, hf);
	f->count++;
}

static void digest_zset_elem(void *arg, struct kv_slice member, double score)
{
	uint64_t *d = arg;
	/* -0 and 0 reply alike ("0"), so they digest alike. */
	if (score == 0)
		score = 0;
	uint64_t hs = kv_hash64(&score, sizeof(score), DIGEST_SEED_SCORE);
	*d = kv_hash64(member.ptr, member.len, *d ^ hs);
}

/* A stream: its entries in order, its counters, and each group with its
 * PEL (consumer, delivery count; not delivery times, which differ between
 * two servers given the same commands). */
static uint64_t digest_stream(const struct stream *s)
{
	uint64_t d = DIGEST_SEED_STREAM;
	struct stream_iter it;
	struct stream_id id;
	stream_iter_start(&it, s, STREAM_ID_MIN, STREAM_ID_MAX, false);
	while (stream_iter_next(&it, &id)) {
		d = kv_hash64(&id, sizeof(id), d);
		for (size_t i = 0; i < it.nfields * 2; i++)
			d = kv_hash64(it.fv[i].ptr, it.fv[i].len, d ^ i);
	}
	stream_iter_stop(&it);
	uint64_t counters[6] = { s->last_id.ms, s->last_id.seq, s->entries_added,
				 s->max_deleted_id.ms, s->max_deleted_id.seq, s->ngroups };
	d = kv_hash64(counters, sizeof(counters), d);
	for (size_t g = 0; g < s->ngroups; g++) {
		const struct stream_group *gr = s->groups[g];
		d = kv_hash64(gr->name, gr->nlen, d);
		d = kv_hash64(&gr->last_id, sizeof(gr->last_id), d);
		for (size_t i = 0; i < gr->pel.len; i++) {
			const struct stream_nack *n = stream_pel_at(&gr->pel, i);
			d = kv_hash64(&n->id, sizeof(n->id), d ^ n->delivery_count);
			d = kv_hash64(n->consumer->name, n->consumer->nlen, d);
		}
	}
	return d;
}

/* The 64-bit value digest V of an entry (see the file comment). */
static uint64_t digest_value(const struct kv_entry *e)
{
	switch (entry_type(e)) {
	case KV_TYPE_STRING: {
		struct kv_slice s = entry_str(e);
		return kv_hash64(s.ptr, s.len, DIGEST_SEED_STRING);
	}
	case KV_TYPE_LIST: {
		uint64_t d = DIGEST_SEED_LIST;
		list_foreach(entry_obj(e), digest_list_elem, &d);
		return d;
	}
	case KV_TYPE_SET: {
		struct digest_fold f = { 0, 0 };
		set_foreach(entry_obj(e), digest_set_member, &f);
		return digest_fold_final(&f, DIGEST_SEED_SET);
	}
	case KV_TYPE_HASH: {
		struct digest_fold f = { 0, 0 };
		hash_foreach(entry_obj(e), digest_hash_elem, &f);
		return digest_fold_final(&f, DIGEST_SEED_HASH);
	}
	case KV_TYPE_ZSET: {
		uint64_t d = DIGEST_SEED_ZSET;
		zset_foreach(entry_obj(e), digest_zset_elem, &d);
		return d;
	}
	case KV_TYPE_STREAM:
		return digest_stream(entry_obj(e));
	}
	kv_assert(!"unknown value type");
	return 0;
}

/* The key digest of an entry; with_name = false leaves the name out
 * (DIGEST-VALUE). */
static struct debug_digest digest_entry(const struct kv_entry *e, bool with_name, uint32_t db)
{
	struct kv_slice k = entry_key(e);
	uint64_t rec[4] = {
		with_name ? kv_hash64(k.ptr, k.len, DIGEST_SEED_KEY) : 0,
		(uint64_t)entry_type(e) | ((uint64_t)db << 8),
		(uint64_t)entry_expire(e),
		digest_value(e),
	};
	struct debug_digest d;
	for (int i = 0; i < 3; i++)
		d.w[i] = kv_hash64(rec, sizeof(rec), digest_out_seeds[i]);
	return d;
}

static void digest_xor(struct debug_digest *acc, const struct debug_digest *d)
{
	for (int i = 0; i < 3; i++)
		acc->w[i] ^= d->w[i];
}

/* 40 hex digits, as a status reply. */
static void digest_reply(struct kv_buf *out, const struct debug_digest *d)
{
	char hex[41];
	snprintf(hex, sizeof(hex), "%016llx%016llx%08llx", (unsigned long long)d->w[0],
		 (unsigned long long)d->w[1], (unsigned long long)(d->w[2] >> 32));
	resp_simple(out, hex);
}

struct digest_walk {
	struct debug_digest acc;
	uint32_t db;
};

static void digest_visit(void *arg, const struct kv_entry *e)
{
	struct digest_walk *w = arg;
	struct debug_digest d = digest_entry(e, true, w->db);
	digest_xor(&w->acc, &d);
}

/* DEBUG DIGEST: every live key of every database of every shard.  A cursor
 * walk with no mutation in between reports each key exactly once, which the
 * XOR needs. */
static void debug_digest(struct cmd_ctx *c)
{
	struct digest_walk w = { { { 0, 0, 0 } }, 0 };
	for (uint32_t s = 0; s < c->nshards; s++) {
		const struct kv_dbs *dbs = cmd_dbs_at(c, s);
		for (w.db = 0; w.db < dbs->n; w.db++) {
			uint64_t cursor = 0;
			do {
				cursor = db_scan(dbs->db[w.db], cursor, c->now_ms, digest_visit, &w);
			} while (cursor != 0);
		}
	}
	digest_reply(c->out, &w.acc);
}

/* DEBUG DIGEST-VALUE key...: one status reply per key.  Looked up without
 * expiring (DEBUG writes nothing); an expired key counts as absent. */
static void debug_digest_value(struct cmd_ctx *c)
{
	resp_array(c->out, c->argc - 2);
	for (int i = 2; i < c->argc; i++) {
		struct debug_digest d = { { 0, 0, 0 } };
		const struct kv_entry *e = db_lookup_notouch(cmd_db_arg(c, i), c->argv[i].ptr,
							     c->argv[i].len, 0);
		if (e && (entry_expire(e) == KV_NO_EXPIRE || entry_expire(e) > c->now_ms))
			d = digest_entry(e, false, 0);
		digest_reply(c->out, &d);
	}
}

/* ------------------------------------------------------------------ */
/* DEBUG POPULATE */

/* Redis's getPositiveLongFromObjectOrReply: a strict integer >= 0, one error
 * text for both a bad number and a negative one. */
static bool debug_positive_arg(struct cmd_ctx *c, int i, int64_t *out)
{
	if (!arg_to_int64(&c->argv[i], out) || *out < 0) {
		resp_error(c->out, "ERR value is out of range, must be positive");
		return false;
	}
	return true;
}

/* Redis first grows its table to `count` entries and answers this when the
 * allocation fails (or aborts the server for counts past 2^60).  kevy
 * allocates as it inserts, so it refuses up front a count whose table alone
 * (8 bytes a slot, as Redis's) could not fit in physical memory. */
static bool debug_populate_fits(int64_t count)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || page <= 0)
		return count <= (INT64_C(1) << 32);
	return (uint64_t)count <= (uint64_t)pages * (uint64_t)page / 8;
}

/* DEBUG POPULATE count [prefix] [size]: string keys "<prefix>:<j>" holding
 * "value:<j>" (zero-padded or cut to `size` bytes when size > 0) for j in
 * [0, count), each in its own shard's keyspace; existing keys are left
 * alone.  The names are built exactly as Redis does, so the prefix stops at
 * a NUL byte and a name is cut to 127 bytes. */
static void debug_populate(struct cmd_ctx *c)
{
	int64_t count, size = 0;
	if (!debug_positive_arg(c, 2, &count))
		return;
	if (!debug_populate_fits(count)) {
		resp_error(c->out, "ERR OOM in dictTryExpand");
		return;
	}
	if (c->argc == 5 && !debug_positive_arg(c, 4, &size))
		return;
	if ((uint64_t)size > DEBUG_MAX_STRING_BYTES) {
		resp_error(c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
		return;
	}

	const char *prefix = "key";
	size_t plen = 3;
	if (c->argc >= 4) {
		prefix = c->argv[3].ptr;
		plen = c->argv[3].len;
		const char *nul = memchr(prefix, '\0', plen);
		if (nul)
			plen = (size_t)(nul - prefix);
		plen = KV_MIN(plen, (size_t)DEBUG_POPULATE_KEY_MAX);
	}

	/* With a size, every value is `size` bytes: "value:<j>" then zeros.
	 * j only grows, so each name overwrites at least the previous one's
	 * bytes and the tail stays zero. */
	char *padded = size > 0 ? kv_calloc(1, (size_t)size) : NULL;
	char key[DEBUG_POPULATE_KEY_MAX + 1], val[32];
	for (int64_t j = 0; j < count; j++) {
		int kn = snprintf(key, sizeof(key), "%.*s:%lld", (int)plen, prefix, (long long)j);
		size_t klen = KV_MIN((size_t)kn, (size_t)DEBUG_POPULATE_KEY_MAX);
		struct kv_db *db = cmd_db(c, key, klen);
		if (db_lookup_notouch(db, key, klen, c->now_ms))
			continue;
		int vn = snprintf(val, sizeof(val), "value:%lld", (long long)j);
		if (padded) {
			memcpy(padded, val, KV_MIN((size_t)vn, (size_t)size));
			db_set_string(db, key, klen, padded, (size_t)size, KV_NO_EXPIRE);
		} else {
			db_set_string(db, key, klen, val, (size_t)vn, KV_NO_EXPIRE);
		}
	}
	free(padded);
	resp_ok(c->out);
}

/* ------------------------------------------------------------------ */
/* DEBUG SLEEP, HELP and the dispatcher */

/* DEBUG SLEEP seconds: parsed with strtod and no validation, as Redis does
 * ("abc" sleeps 0 s, a negative time does not sleep).  The client's shard
 * thread sleeps holding its own keyspace: that shard stops (Redis stops the
 * whole server; kevy's other shards keep serving what does not need this
 * one).  Inside MULTI or a script it sleeps holding what they hold. */
static void debug_sleep(struct cmd_ctx *c)
{
	char num[64];
	size_t n = KV_MIN(c->argv[2].len, sizeof(num) - 1);
	memcpy(num, c->argv[2].ptr, n);
	num[n] = '\0';
	double s = strtod(num, NULL);
	/* Clamp before converting: a huge or NaN time is undefined as an int. */
	if (!(s > 0))
		s = 0;
	if (s > 1e9)
		s = 1e9;
	int64_t us = (int64_t)(s * 1e6);
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	resp_ok(c->out);
}

/* True when no database of any shard holds a key and no function library
 * is loaded: nothing a load without a flush could collide with. */
static bool debug_dataset_empty(struct cmd_ctx *c)
{
	for (uint32_t s = 0; s < c->nshards; s++) {
		const struct kv_dbs *dbs = cmd_dbs_at(c, s);
		for (uint32_t d = 0; d < dbs->n; d++)
			if (db_size(dbs->db[d]) > 0)
				return false;
	}
	return !c->rt || !c->rt->function_libraries || c->rt->function_libraries() == 0;
}

/* DEBUG RELOAD and DEBUG LOADAOF: every shard writes and fsyncs what it
 * appended, then replaces its keyspace with what its files load
 * (snapshot + AOF); the reply waits for every shard.  kevy's files always
 * hold the whole dataset, so RELOAD has nothing to save first and LOADAOF
 * is the same load. */
static void debug_reload_files(struct cmd_ctx *c, const char *name)
{
	if (persist_on_replica(c))
		return;
	if (!atomic_load(&g_config.appendonly)) {
		resp_errorf(c->out, "ERR DEBUG %s needs appendonly yes: the files would not "
			    "hold the dataset", name);
		return;
	}
	if (!c->conn || !c->rt) {
		resp_errorf(c->out, "ERR DEBUG %s needs a client", name);
		return;
	}
	for (uint32_t i = 0; i < c->nshards; i++)
		if (snapshot_running(c->rt->snapshot(i))) {
			resp_error(c->out, "ERR Background save already in progress");
			return;
		}
	c->rt->reload_all(c->conn);
	resp_ok(c->out);
}

/* DEBUG RELOAD [MERGE|NOFLUSH|NOSAVE ...].  NOSAVE and MERGE change nothing
 * (the files are always current; loading them over an empty keyspace leaves
 * nothing to merge).  NOFLUSH without MERGE loads the files over what is in
 * memory: every key and library in them is already there, so in Redis that
 * load fails on the first one ("Error trying to load the RDB dump" for a
 * library; a duplicate key even stops the server); kevy answers that error
 * and changes nothing, unless there is nothing to collide with. */
static void debug_reload(struct cmd_ctx *c)
{
	bool merge = false, flush = true;
	for (int i = 2; i < c->argc; i++) {
		if (arg_is(&c->argv[i], "merge")) {
			merge = true;
		} else if (arg_is(&c->argv[i], "noflush")) {
			flush = false;
		} else if (!arg_is(&c->argv[i], "nosave")) {
			resp_error(c->out, "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and "
					   "NOSAVE options.");
			return;
		}
	}
	if (!flush && !merge && !debug_dataset_empty(c)) {
		resp_error(c->out, "ERR Error trying to load the RDB dump");
		return;
	}
	debug_reload_files(c, "RELOAD");
}

/* DEBUG FAILPOINTS spec: the crash and fault tests change failpoints while
 * a server runs (after it has set up its files). */
static void debug_failpoints(struct cmd_ctx *c)
{
	char *spec = kv_strndup(c->argv[2].ptr, c->argv[2].len);
	int rc = kvio_failpoints_set(spec);
	free(spec);
	if (rc < 0)
		resp_error(c->out, "ERR invalid failpoint spec (grammar: docs/io.md)");
	else
		resp_ok(c->out);
}

/* DEBUG AOF-RECORD-LIMIT bytes: every shard refuses a record whose
 * payload is larger, as one over the format's limit (the shard then
 * refuses writes); 0 restores the format's limit.  For the tests of that
 * failure, which would otherwise need a gigabyte. */
static void debug_aof_record_limit(struct cmd_ctx *c)
{
	int64_t v;
	if (!arg_to_int64(&c->argv[2], &v) || v < 0) {
		resp_error(c->out, "ERR value is out of range, must be positive");
		return;
	}
	aof_set_record_limit((size_t)v);
	resp_ok(c->out);
}

/* The argument as a C string, cut at its first NUL (what Redis's functions
 * see of an sds they read as a C string); the caller frees it. */
static char *debug_arg_cstr(const struct kv_slice *a)
{
	const char *nul = memchr(a->ptr, '\0', a->len);
	return kv_strndup(a->ptr, nul ? (size_t)(nul - a->ptr) : a->len);
}

/* C's atoi, which Redis uses for DEBUG's switches: leading spaces, a sign,
 * digits up to the first other byte; 0 when there are none.  Saturates
 * instead of overflowing. */
static int debug_atoi(const struct kv_slice *a)
{
	size_t i = 0;
	while (i < a->len && (a->ptr[i] == ' ' || (a->ptr[i] >= '\t' && a->ptr[i] <= '\r')))
		i++;
	bool neg = false;
	if (i < a->len && (a->ptr[i] == '-' || a->ptr[i] == '+'))
		neg = a->ptr[i++] == '-';
	int64_t v = 0;
	for (; i < a->len && a->ptr[i] >= '0' && a->ptr[i] <= '9'; i++)
		if (v <= INT32_MAX)
			v = v * 10 + (a->ptr[i] - '0');
	if (neg)
		v = -v;
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int)v;
}

static void debug_set_switch(struct cmd_ctx *c, _Atomic int *sw)
{
	atomic_store(sw, debug_atoi(&c->argv[2]));
	resp_ok(c->out);
}

/* The length Redis's rdbSavedObjectLen gives: the value's RDB encoding,
 * without its type byte; here the DUMP payload less that byte and the
 * payload's footer (kevy writes Redis's encodings: rdb_value.h). */
static size_t debug_serialized_len(const struct kv_entry *e)
{
	struct kv_buf b = KV_BUF_INIT;
	rdb_value_dump(e, &b);
	size_t n = b.len > 1 + RDB_DUMP_FOOTER ? b.len - 1 - RDB_DUMP_FOOTER : 0;
	kv_buf_free(&b);
	return n;
}

/* DEBUG OBJECT key: Redis's line about a value.  The key is found as Redis
 * finds it there, without expiring it (a key past its deadline is still
 * shown until something deletes it).  "Value at" is the entry's address
 * (it stays the same while the value is changed in place), refcount 1
 * (kevy never shares values), encoding as OBJECT ENCODING, serializedlength
 * the RDB encoding's length, lru and lru_seconds_idle from the key's
 * 24-bit clock.  A list adds the quicklist figures from kevy's list nodes:
 * they are packed nodes like Redis's, never compressed. */
static void debug_object(struct cmd_ctx *c)
{
	const struct kv_entry *e = db_lookup_notouch(cmd_db_arg(c, 2), c->argv[2].ptr,
						     c->argv[2].len, 0);
	if (!e) {
		resp_error(c->out, "ERR no such key");
		return;
	}
	char extra[160] = "";
	if (entry_type(e) == KV_TYPE_LIST) {
		const struct list *l = entry_obj(e);
		size_t nodes = list_node_count(l);
		int64_t fill = atomic_load_explicit(&kv_encoding.list_max_listpack_size,
						    memory_order_relaxed);
		snprintf(extra, sizeof(extra),
			 " ql_nodes:%zu ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:0"
			 " ql_uncompressed_size:%zu",
			 nodes, nodes ? (double)list_len(l) / (double)nodes : 0.0, (int)fill,
			 list_data_bytes(l));
	}
	uint32_t clock = entry_clock(e);
	char line[400];
	snprintf(line, sizeof(line),
		 "Value at:%p refcount:1 encoding:%s serializedlength:%zu lru:%u "
		 "lru_seconds_idle:%llu%s",
		 (const void *)e, object_encoding_name(e), debug_serialized_len(e), clock,
		 (unsigned long long)(lru_idle_ms(clock, c->now_ms) / 1000), extra);
	resp_simple(c->out, line);
}

/* Redis's quicklist rule for its packed-node threshold: at most 4 GiB less
 * 1 MiB, 0 restoring the default. */
#define DEBUG_PACKED_THRESHOLD_MAX ((UINT64_C(1) << 32) - (UINT64_C(1) << 20))

/* DEBUG QUICKLIST-PACKED-THRESHOLD size: Redis stores an element larger
 * than this in a node of its own ("plain").  kevy's list nodes hold
 * elements of any size the same way, so the size is checked as Redis
 * checks it and changes nothing. */
static void debug_packed_threshold(struct cmd_ctx *c)
{
	char *text = debug_arg_cstr(&c->argv[2]);
	uint64_t sz;
	bool ok = config_memtoull(text, &sz) && sz <= DEBUG_PACKED_THRESHOLD_MAX;
	free(text);
	if (!ok)
		resp_error(c->out, "ERR argument must be a memory value bigger than 1 and smaller "
				   "than 4gb");
	else
		resp_ok(c->out);
}

/* DEBUG ERROR text: the text as an error reply, as given (no "ERR "), with
 * CR and LF turned into spaces. */
static void debug_error(struct cmd_ctx *c)
{
	const struct kv_slice *a = &c->argv[2];
	kv_buf_append_char(c->out, '-');
	size_t start = c->out->len;
	kv_buf_append(c->out, a->ptr, a->len);
	for (size_t i = start; i < c->out->len; i++)
		if (c->out->data[i] == '\r' || c->out->data[i] == '\n')
			c->out->data[i] = ' ';
	kv_buf_append(c->out, "\r\n", 2);
}

/* DEBUG LOG message: one warning line in the server's log. */
static void debug_log(struct cmd_ctx *c)
{
	char *msg = debug_arg_cstr(&c->argv[2]);
	log_warning("DEBUG LOG: %s", msg);
	free(msg);
	resp_ok(c->out);
}

static const char *const debug_help_lines[] = {
	"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"DIGEST",
	"    Output a hex signature representing the current DB content.",
	"DIGEST-VALUE <key> [<key> ...]",
	"    Output a hex signature of the values of all the specified keys.",
	"ERROR <string>",
	"    Return a Redis protocol error with <string> as message. Useful for clients",
	"    unit tests to simulate Redis errors.",
	"FAILPOINTS <spec>",
	"    Replace the I/O failpoints (KEVY_FAILPOINTS grammar, docs/io.md) and reset",
	"    the operation counters; \"\" clears them. For tests.",
	"AOF-RECORD-LIMIT <bytes>",
	"    Refuse every AOF record larger than <bytes> as over the record limit (the",
	"    shard then refuses writes); 0 restores the format's limit. For tests.",
	"LOADAOF",
	"    Write and fsync the AOF, then replace every shard's keyspace with what its",
	"    files load (snapshot + AOF); the same as RELOAD.",
	"LOG <message>",
	"    Write <message> to the server log.",
	"OBJECT <key>",
	"    Show low level info about `key` and associated value.",
	"PAUSE-CRON <0|1>",
	"    Stop periodic cron job processing.",
	"POPULATE <count> [<prefix>] [<size>]",
	"    Create <count> string keys named key:<num>. If <prefix> is specified then",
	"    it is used instead of the 'key' prefix. Each key is created on the shard",
	"    that owns it and is logged to the AOF as a SET.",
	"PROTOCOL <type>",
	"    Reply with a test value of the specified type. <type> can be: string,",
	"    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
	"    true, false.",
	"QUICKLIST-PACKED-THRESHOLD <size>",
	"    Checked as Redis checks it (up to 4GB); kevy's lists store elements of any",
	"    size alike, so it changes nothing.",
	"RELOAD [option ...]",
	"    Write and fsync the AOF, then replace every shard's keyspace with what its",
	"    files load (snapshot + AOF). MERGE and NOSAVE change nothing; NOFLUSH",
	"    without MERGE fails unless the dataset is empty.",
	"SET-ACTIVE-EXPIRE <0|1>",
	"    Setting it to 0 disables expiring keys in background when they are not",
	"    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
	"    default.",
	"SET-DISABLE-DENY-SCRIPTS <0|1>",
	"    Setting it to 1 lets scripts call DEBUG.",
	"SLEEP <seconds>",
	"    Stop the shard of the calling client for <seconds>. Decimals allowed.",
	"HELP",
	"    Prints this help.",
	NULL,
};

/* DEBUG PROTOCOL <type>: one reply of each RESP3 type, as Redis writes it
 * (RESP2 gets each type's RESP2 form; attrib and push are RESP3-only frames
 * followed by a plain reply, so a client that skips them still gets one). */
static void debug_protocol(struct cmd_ctx *c)
{
	const struct kv_slice *t = &c->argv[2];
	struct kv_buf *out = c->out;
	if (arg_is(t, "string")) {
		resp_bulk_str(out, "Hello World");
	} else if (arg_is(t, "integer")) {
		resp_int(out, 12345);
	} else if (arg_is(t, "double")) {
		resp_double(out, 3.141);
	} else if (arg_is(t, "bignum")) {
		resp_bignum(out, "1234567999999999999999999999999999999", 37);
	} else if (arg_is(t, "null")) {
		resp_null(out);
	} else if (arg_is(t, "array") || arg_is(t, "set")) {
		if (arg_is(t, "set"))
			resp_set(out, 3);
		else
			resp_array(out, 3);
		for (int j = 0; j < 3; j++)
			resp_int(out, j);
	} else if (arg_is(t, "map")) {
		resp_map(out, 3);
		for (int j = 0; j < 3; j++) {
			resp_int(out, j);
			resp_bool(out, j == 1);
		}
	} else if (arg_is(t, "attrib")) {
		if (resp_is3(out)) {
			resp_attribute(out, 1);
			resp_bulk_str(out, "key-popularity");
			resp_array(out, 2);
			resp_bulk_str(out, "key:123");
			resp_int(out, 90);
		}
		resp_bulk_str(out, "Some real reply following the attribute");
	} else if (arg_is(t, "push")) {
		if (!resp_is3(out)) {
			resp_error(out, "ERR RESP2 is not supported by this command");
			return;
		}
		resp_push(out, 2);
		resp_bulk_str(out, "server-cpu-usage");
		resp_int(out, 42);
		resp_bulk_str(out, "Some real reply following the push reply");
	} else if (arg_is(t, "true") || arg_is(t, "false")) {
		resp_bool(out, arg_is(t, "true"));
	} else if (arg_is(t, "verbatim")) {
		resp_verbatim(out, "txt", "This is a verbatim\nstring", 25);
	} else {
		resp_error(out, "ERR Wrong protocol type name. Please use one of the following: "
				"string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|"
				"true|false");
	}
}

/* Redis checks each subcommand's argument count where it matches the name
 * and answers one error for an unknown name and a wrong count alike. */
static void cmd_debug(struct cmd_ctx *c)
{
	const struct kv_slice *sub = &c->argv[1];
	if (arg_is(sub, "help") && c->argc == 2)
		debug_reply_lines(c->out, debug_help_lines);
	else if (arg_is(sub, "digest") && c->argc == 2)
		debug_digest(c);
	else if (arg_is(sub, "digest-value"))
		debug_digest_value(c);
	else if (arg_is(sub, "populate") && c->argc >= 3 && c->argc <= 5)
		debug_populate(c);
	else if (arg_is(sub, "sleep") && c->argc == 3)
		debug_sleep(c);
	else if (arg_is(sub, "failpoints") && c->argc == 3)
		debug_failpoints(c);
	else if (arg_is(sub, "aof-record-limit") && c->argc == 3)
		debug_aof_record_limit(c);
	else if (arg_is(sub, "protocol") && c->argc == 3)
		debug_protocol(c);
	else if (arg_is(sub, "reload"))
		debug_reload(c);
	else if (arg_is(sub, "loadaof"))
		debug_reload_files(c, "LOADAOF");
	else if (arg_is(sub, "object") && c->argc == 3)
		debug_object(c);
	else if (arg_is(sub, "set-active-expire") && c->argc == 3)
		debug_set_switch(c, &g_debug.active_expire);
	else if (arg_is(sub, "pause-cron") && c->argc == 3)
		debug_set_switch(c, &g_debug.pause_cron);
	else if (arg_is(sub, "set-disable-deny-scripts") && c->argc == 3)
		debug_set_switch(c, &g_debug.scripts_may_debug);
	else if (arg_is(sub, "quicklist-packed-threshold") && c->argc == 3)
		debug_packed_threshold(c);
	else if (arg_is(sub, "error") && c->argc == 3)
		debug_error(c);
	else if (arg_is(sub, "log") && c->argc == 3)
		debug_log(c);
	else
		debug_error_with_arg(c->out, "ERR unknown subcommand or wrong number of arguments for '",
				     sub, "'. Try DEBUG HELP.");
}

/* The calls that read or change the dataset hold every keyspace; the rest
 * (SLEEP, PROTOCOL, the switches, ...) run on the client's shard. */
static bool debug_all_shards(int argc, const struct kv_slice *argv)
{
	static const char *const whole[] = {
		"digest", "digest-value", "populate", "object", "reload", "loadaof", "failpoints",
	};
	if (argc < 2)
		return false;
	for (size_t i = 0; i < KV_ARRAY_LEN(whole); i++)
		if (arg_is(&argv[1], whole[i]))
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* OBJECT */

/* OBJECT's key, looked up as Redis's objectCommandLookup does: expired keys
 * are reclaimed and hits/misses counted, the access clock is not moved.
 * Replies a null bulk when absent. */
static struct kv_entry *object_lookup(struct cmd_ctx *c)
{
	struct kv_entry *e = db_lookup_notouch(cmd_db_arg(c, 2), c->argv[2].ptr, c->argv[2].len,
				       c->now_ms);
	cmd_count_lookup(c, e != NULL);
	if (!e)
		resp_null(c->out);
	return e;
}

/* Redis 7.0's tryObjectEncoding outcome for a string written by SET; a
 * string changed in place (APPEND, SETRANGE, ...) is "raw", as Redis's
 * dbUnshareStringValue leaves it. */
static const char *object_string_encoding(const struct kv_entry *e)
{
	struct kv_slice v = entry_str(e);
	int64_t n;
	if (entry_str_is_raw(e))
		return "raw";
	if (v.len <= 20 && arg_to_int64(&v, &n))
		return "int";
	return v.len <= 44 ? "embstr" : "raw";
}

static const char *object_encoding_name(const struct kv_entry *e)
{
	switch (entry_type(e)) {
	case KV_TYPE_STRING: return object_string_encoding(e);
	case KV_TYPE_LIST: return list_encoding(entry_obj(e));
	/* Redis 7.0 has no listpack sets: a set that is not an intset is a
	 * hashtable there, and kevy's small listpack is its own detail. */
	case KV_TYPE_SET: return set_encoding(entry_obj(e)) == SET_ENC_INTSET ? "intset"
									     : "hashtable";
	case KV_TYPE_HASH: return hash_encoding_name(entry_obj(e));
	case KV_TYPE_ZSET: return zset_encoding(entry_obj(e));
	case KV_TYPE_STREAM: return "stream";
	}
	kv_assert(!"unknown value type");
	return "unknown";
}

static void cmd_object_encoding(struct cmd_ctx *c)
{
	struct kv_entry *e = object_lookup(c);
	if (e)
		resp_bulk_str(c->out, object_encoding_name(e));
}

/* The key's LFU counter after the decay due now (not stored: OBJECT is
 * not an access).  Only meaningful under an LFU policy, as in Redis. */
static void cmd_object_freq(struct cmd_ctx *c)
{
	struct kv_entry *e = object_lookup(c);
	if (!e)
		return;
	if (!evict_policy_is_lfu(kv_memory_policy())) {
		resp_error(c->out, "ERR An LFU maxmemory policy is not selected, access "
			   "frequency not tracked. Please note that when switching between "
			   "policies at runtime LRU and LFU data will take some time to adjust.");
		return;
	}
	int64_t decay = atomic_load_explicit(&kv_memory.lfu_decay_time, memory_order_relaxed);
	resp_int(c->out, lfu_decayed(entry_clock(e), c->now_ms, decay));
}

/* Seconds since the key's last access (LRU clock); not tracked under an
 * LFU policy, whose clock holds a counter instead. */
static void cmd_object_idletime(struct cmd_ctx *c)
{
	struct kv_entry *e = object_lookup(c);
	if (!e)
		return;
	if (evict_policy_is_lfu(kv_memory_policy())) {
		resp_error(c->out, "ERR An LFU maxmemory policy is selected, idle time not "
			   "tracked. Please note that when switching between policies at "
			   "runtime LRU and LFU data will take some time to adjust.");
		return;
	}
	resp_int(c->out, (int64_t)(lru_idle_ms(entry_clock(e), c->now_ms) / 1000));
}

/* kevy never shares a value between keys (Redis answers 2147483647 for its
 * shared small integers). */
static void cmd_object_refcount(struct cmd_ctx *c)
{
	if (object_lookup(c))
		resp_int(c->out, 1);
}

static const char *const object_help_lines[] = {
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
	"HELP",
	"    Prints this help.",
	NULL,
};

static void cmd_object_help(struct cmd_ctx *c)
{
	debug_reply_lines(c->out, object_help_lines);
}

#define OBJECT_KEY_SUB(sub, fn, ver, sum)                                               \
	{ .name = "object|" sub, .arity = 3, .flags = CMD_READONLY | CMD_RANDOM,        \
	  .first_key = 2, .last_key = 2, .key_step = 1, .proc = fn, .group = "generic", \
	  .since = ver, .summary = sum, .complexity = "O(1)" }

static const struct kv_command object_subs[] = {
	OBJECT_KEY_SUB("encoding", cmd_object_encoding, "2.2.3",
		       "Inspect the internal encoding of a Redis object"),
	OBJECT_KEY_SUB("freq", cmd_object_freq, "4.0.0",
		       "Get the logarithmic access frequency counter of a Redis object"),
	{ .name = "object|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE,
	  .proc = cmd_object_help, .group = "generic", .since = "6.2.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	OBJECT_KEY_SUB("idletime", cmd_object_idletime, "2.2.3",
		       "Get the time since a Redis object was last accessed"),
	OBJECT_KEY_SUB("refcount", cmd_object_refcount, "2.2.3",
		       "Get the number of references to the value of the key"),
	{ .name = NULL },
};

/* Runs the subcommand named by argv[1], with Redis's errors for an unknown
 * name ("OBJECT" in the container's own case) and a wrong count. */
static void cmd_object(struct cmd_ctx *c)
{
	cmd_run_sub(c, object_subs, "object");
}

/* ---- MEMORY ---- */

/* MEMORY USAGE key [SAMPLES count]: the bytes the key and its value hold.
 * kevy counts every allocation of the value (its accounting is exact), so
 * SAMPLES is checked and then has nothing to sample. */
static void cmd_memory_usage(struct cmd_ctx *c)
{
	for (int i = 3; i < c->argc; i += 2) {
		int64_t n;
		if (!arg_is(&c->argv[i], "samples") || i + 1 >= c->argc) {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
		if (!arg_to_int64(&c->argv[i + 1], &n)) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return;
		}
		if (n < 0) {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	struct kv_entry *e = db_lookup_notouch(cmd_db_arg(c, 2), c->argv[2].ptr,
					       c->argv[2].len, c->now_ms);
	if (!e) {
		resp_null(c->out);
		return;
	}
	resp_int(c->out, (int64_t)entry_memory(e));
}

static const char *const memory_help_lines[] = {
	"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"DOCTOR",
	"    Return memory problems reports.",
	"MALLOC-STATS",
	"    Return internal statistics report from the memory allocator.",
	"PURGE",
	"    Attempt to purge dirty pages for reclamation by the allocator.",
	"STATS",
	"    Return information about the memory usage of the server.",
	"USAGE <key> [SAMPLES <count>]",
	"    Return memory in bytes used by <key> and its value. Nested values are",
	"    sampled up to <count> times (default: 5, 0 means sample all).",
	"HELP",
	"    Prints this help.",
	NULL,
};

static void cmd_memory_help(struct cmd_ctx *c)
{
	debug_reply_lines(c->out, memory_help_lines);
}

static const struct kv_command memory_subs[] = {
	{ .name = "memory|usage", .arity = -3, .flags = CMD_READONLY, .first_key = 2,
	  .last_key = 2, .key_step = 1, .proc = cmd_memory_usage, .group = "server",
	  .since = "4.0.0", .summary = "Estimate the memory usage of a key",
	  .complexity = "O(N) where N is the number of samples." },
	{ .name = "memory|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE,
	  .proc = cmd_memory_help, .group = "server", .since = "4.0.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = "memory|stats", .arity = 2, .flags = 0, .proc = cmd_memory_stats,
	  .group = "server", .since = "4.0.0", .summary = "Show memory usage details",
	  .complexity = "O(1)" },
	{ .name = "memory|doctor", .arity = 2, .flags = 0, .proc = cmd_memory_doctor,
	  .group = "server", .since = "4.0.0", .summary = "Outputs memory problems report",
	  .complexity = "O(1)" },
	{ .name = "memory|malloc-stats", .arity = 2, .flags = 0, .proc = cmd_memory_malloc_stats,
	  .group = "server", .since = "4.0.0", .summary = "Show allocator internal stats",
	  .complexity = "Depends on how much memory is allocated, could be slow" },
	{ .name = "memory|purge", .arity = 2, .flags = 0, .proc = cmd_memory_purge,
	  .group = "server", .since = "4.0.0", .summary = "Ask the allocator to release memory",
	  .complexity = "Depends on how much memory is allocated, could be slow" },
	{ .name = NULL },
};

/* MEMORY's subcommands: USAGE on its key's shard, STATS and DOCTOR holding
 * every shard (memory_all_shards), the rest wherever the client is. */
static void cmd_memory(struct cmd_ctx *c)
{
	cmd_run_sub(c, memory_subs, "memory");
}

static bool memory_all_shards(int argc, const struct kv_slice *argv)
{
	return argc == 2 && (arg_is(&argv[1], "stats") || arg_is(&argv[1], "doctor"));
}

/* OBJECT's routing key is argv[2] (every subcommand that takes a key has it
 * there); Redis's container itself declares no keys, so COMMAND INFO OBJECT
 * shows 2 2 1 here where Redis shows 0 0 0. */
const struct kv_command cmd_table_debug[] = {
	{ .name = "object", .arity = -2, .flags = 0, .first_key = 2, .last_key = 2,
	  .key_step = 1, .proc = cmd_object, .group = "generic", .since = "2.2.3",
	  .summary = "A container for object introspection commands",
	  .complexity = "Depends on subcommand.", .subcommands = object_subs },
	/* Routed by argv[2], the key of MEMORY USAGE (HELP has none). */
	{ .name = "memory", .arity = -2, .flags = 0, .first_key = 2, .last_key = 2,
	  .key_step = 1, .proc = cmd_memory, .group = "server", .since = "4.0.0",
	  .summary = "A container for memory diagnostics commands",
	  .complexity = "Depends on subcommand.", .subcommands = memory_subs,
	  .all_shards = memory_all_shards },
	{ .name = "debug", .arity = -2,
	  .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_PROTECTED,
	  .proc = cmd_debug, .group = "server", .since = "1.0.0",
	  .summary = "A container for debugging commands",
	  .complexity = "Depends on subcommand.", .all_shards = debug_all_shards },
	{ .name = NULL },
};
