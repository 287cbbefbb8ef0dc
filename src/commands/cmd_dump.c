/*
 * cmd_dump.c - DUMP and RESTORE: a key's value in Redis's serialization
 * format (store/rdb_value.h), with Redis 7.0.15's options, replies and
 * errors.
 *
 * RESTORE's effect (fx.h) is the keydump of the key after the command (SET
 * ... PXAT, or DEL + RPUSH/SADD/HSET/ZADD chunks + PEXPIREAT), never the
 * RESTORE itself: the logged commands carry absolute deadlines, so replay
 * does not depend on the clock, and every logged argument is one that
 * fx_validate and fx_apply already check, so the AOF never holds a payload
 * that only a replay could find broken.  A RESTORE whose deadline has
 * passed logs DEL when it removed a key (REPLACE), and nothing otherwise.
 *
 * IDLETIME and FREQ are parsed and validated as Redis does and set the
 * key's access clock as Redis's objectSetLRUOrLFU does: FREQ under an LFU
 * policy, IDLETIME under any other (the clock is not logged: clocks are
 * not persisted, store/lru.h).
 *
 * COPY lives here too: it duplicates a value through the same codec (a
 * payload written and read back is a deep copy with the encoding the
 * type's rules choose), into any database and onto any shard.
 */
#include <stdint.h>
#include <string.h>

#include "base/kv.h"
#include "commands/cmd.h"
#include "commands/notify.h"
#include "commands/fx.h"
#include "store/keydump.h"
#include "store/lru.h"
#include "store/rdb_value.h"
#include "store/store.h"
#include "store/t_stream.h"

static void cmd_dump(struct cmd_ctx *c)
{
	struct kv_entry *e = db_lookup(cmd_db_arg(c, 1), c->argv[1].ptr, c->argv[1].len,
				       c->now_ms);
	cmd_count_read(c, c->argv[1].ptr, c->argv[1].len, e != NULL);
	if (!e) {
		resp_null(c->out);
		return;
	}
	struct kv_buf payload = KV_BUF_INIT;
	rdb_value_dump(e, &payload);
	resp_bulk(c->out, payload.data, payload.len);
	kv_buf_free(&payload);
}

struct restore_opts {
	bool replace, absttl;
	int64_t idle_s, freq;   /* -1 when absent */
};

/* The options after the payload, in Redis's order of checks: IDLETIME and
 * FREQ exclude each other (the second is a syntax error). */
static bool restore_parse_opts(struct cmd_ctx *c, struct restore_opts *o)
{
	*o = (struct restore_opts){ .idle_s = -1, .freq = -1 };
	for (int j = 4; j < c->argc; j++) {
		const struct kv_slice *a = &c->argv[j];
		bool more = j + 1 < c->argc;
		if (arg_is(a, "replace")) {
			o->replace = true;
		} else if (arg_is(a, "absttl")) {
			o->absttl = true;
		} else if (arg_is(a, "idletime") && more && o->freq == -1) {
			if (!arg_to_int64(&c->argv[++j], &o->idle_s)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return false;
			}
			if (o->idle_s < 0) {
				resp_error(c->out, "ERR Invalid IDLETIME value, must be >= 0");
				return false;
			}
		} else if (arg_is(a, "freq") && more && o->idle_s == -1) {
			if (!arg_to_int64(&c->argv[++j], &o->freq)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return false;
			}
			if (o->freq < 0 || o->freq > 255) {
				resp_error(c->out, "ERR Invalid FREQ value, must be >= 0 and <= 255");
				return false;
			}
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return false;
		}
	}
	return true;
}

static void restore_log(void *arg, int argc, const struct kv_slice *argv)
{
	cmd_effect_at_key(arg, keydump_key_arg(argc, argv), argc, argv);
}

/* The restored key's clock from FREQ or IDLETIME (-1: not given).  An
 * IDLETIME beyond the clock's range wraps as in Redis. */
static void restore_set_clock(struct kv_db *db, const struct kv_slice *key,
			      const struct restore_opts *o, int64_t now_ms)
{
	struct kv_entry *e = db_lookup_notouch(db, key->ptr, key->len, 0);
	if (!e)
		return;
	if (evict_policy_is_lfu(kv_memory_policy())) {
		if (o->freq >= 0)
			entry_set_clock(e, lfu_make(lfu_minutes_at(now_ms), (uint8_t)o->freq));
	} else if (o->idle_s >= 0) {
		int64_t at = (int64_t)lru_clock_at(now_ms) - o->idle_s;
		if (at < 0)
			at += LRU_CLOCK_MAX;
		entry_set_clock(e, (uint32_t)at & LRU_CLOCK_MAX);
	}
}

static void cmd_restore(struct cmd_ctx *c)
{
	struct restore_opts o;
	const struct kv_slice *key = &c->argv[1];
	struct kv_db *db = cmd_db_arg(c, 1);
	int64_t ttl;

	if (!restore_parse_opts(c, &o))
		return;
	if (!o.replace && db_lookup(db, key->ptr, key->len, c->now_ms)) {
		resp_error(c->out, "BUSYKEY Target key name already exists.");
		return;
	}
	if (!arg_to_int64(&c->argv[2], &ttl)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	if (ttl < 0) {
		resp_error(c->out, "ERR Invalid TTL value, must be >= 0");
		return;
	}
	const struct kv_slice *payload = &c->argv[3];
	if (rdb_payload_verify(payload->ptr, payload->len) != 0) {
		resp_error(c->out, "ERR DUMP payload version or checksum are wrong");
		return;
	}
	struct rdb_value v;
	if (rdb_value_load(payload->ptr, payload->len, &v) != 0) {
		resp_error(c->out, "ERR Bad data format");
		return;
	}

	/* The deadline: ttl 0 is none; a relative one is counted from the
	 * command's clock.  Redis's sum would wrap past int64 and count as
	 * expired; kevy says so without the overflow. */
	int64_t deadline = KV_NO_EXPIRE;
	bool expired = false;
	if (ttl > 0) {
		if (o.absttl)
			deadline = ttl;
		else if (__builtin_add_overflow(ttl, c->now_ms, &deadline))
			expired = true;
		expired = expired || deadline <= c->now_ms;
	}
	if (expired) {
		/* Nothing is created; a replaced key is gone (Redis propagates
		 * DEL then, and so does the keydump of an absent key). */
		rdb_value_release(&v);
		if (o.replace && db_delete(db, key->ptr, key->len)) {
			keydump_key(db, key->ptr, key->len, c->now_ms, restore_log, c);
			cmd_notify_arg(c, NOTIFY_GENERIC, "del", 1);
		}
		resp_ok(c->out);
		return;
	}
	/* Replaced, the key is created anew (Redis's dbDelete then dbAdd: a
	 * "new" event even when it existed). */
	if (o.replace)
		db_delete(db, key->ptr, key->len);
	if (v.type == KV_TYPE_STRING) {
		db_set_string(db, key->ptr, key->len, v.str.data, v.str.len, deadline);
		rdb_value_release(&v);
	} else {
		db_set_object(db, key->ptr, key->len, v.type, v.obj, deadline);
		v.obj = NULL;
		rdb_value_release(&v);
	}
	restore_set_clock(db, key, &o, c->now_ms);
	keydump_key(db, key->ptr, key->len, c->now_ms, restore_log, c);
	cmd_notify_arg(c, NOTIFY_GENERIC, "restore", 1);
	resp_ok(c->out);
}

/* COPY source destination [DB destination-db] [REPLACE].  Its effect is the
 * default (fx.h): logged as sent when both keys live on one shard (replay
 * holds every database of it), else the destination's final state. */
static void cmd_copy(struct cmd_ctx *c)
{
	const struct kv_slice *src = &c->argv[1], *dst = &c->argv[2];
	uint32_t dst_shard = cmd_key_shard(c, dst->ptr, dst->len);
	uint32_t dbid = c->dbid;
	bool replace = false;
	for (int i = 3; i < c->argc; i++) {
		if (arg_is(&c->argv[i], "replace")) {
			replace = true;
		} else if (arg_is(&c->argv[i], "db") && i + 1 < c->argc) {
			int64_t id;
			if (!arg_to_int64(&c->argv[++i], &id)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
			if (!dbs_has(cmd_dbs_at(c, dst_shard), id)) {
				resp_error(c->out, "ERR DB index is out of range");
				return;
			}
			dbid = (uint32_t)id;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	if (dbid == c->dbid && src->len == dst->len && memcmp(src->ptr, dst->ptr, src->len) == 0) {
		resp_error(c->out, "ERR source and destination objects are the same");
		return;
	}
	struct kv_db *sdb = cmd_db(c, src->ptr, src->len);
	struct kv_db *ddb = cmd_dbs_at(c, dst_shard)->db[dbid];
	struct kv_entry *e = db_lookup(sdb, src->ptr, src->len, c->now_ms);
	cmd_count_read(c, src->ptr, src->len, e != NULL);
	if (!e) {
		resp_int(c->out, 0);
		return;
	}
	/* Taken before the destination is touched: entries move on change. */
	enum kv_type type = entry_type(e);
	bool raw = type == KV_TYPE_STRING && entry_str_is_raw(e);
	int64_t deadline = entry_expire(e);
	struct kv_buf bytes = KV_BUF_INIT;
	struct stream *copy = NULL;
	if (type == KV_TYPE_STRING) {
		struct kv_slice v = entry_str(e);
		kv_buf_append(&bytes, v.ptr, v.len);
	} else if (type == KV_TYPE_STREAM) {
		copy = stream_dup(entry_obj(e));
	} else {
		rdb_value_dump(e, &bytes);
	}
	if (db_lookup(ddb, dst->ptr, dst->len, c->now_ms)) {
		if (!replace) {
			stream_free(copy);
			kv_buf_free(&bytes);
			resp_int(c->out, 0);
			return;
		}
		db_delete(ddb, dst->ptr, dst->len);
	}
	if (type == KV_TYPE_STRING) {
		struct kv_entry *ne = db_set_string(ddb, dst->ptr, dst->len,
						    bytes.data ? bytes.data : "", bytes.len, deadline);
		if (raw)   /* Redis's dupStringObject keeps a raw string raw */
			db_string_write(ddb, ne, 0, NULL, 0);
	} else if (copy) {
		db_set_object(ddb, dst->ptr, dst->len, type, copy, deadline);
	} else {
		struct rdb_value v;
		/* kevy's own payload of a value it holds: it cannot fail. */
		int rc = rdb_value_load(bytes.data, bytes.len, &v);
		kv_assert(rc == 0 && v.type == type);
		db_set_object(ddb, dst->ptr, dst->len, type, v.obj, deadline);
	}
	kv_buf_free(&bytes);
	cmd_notify_db(c, NOTIFY_GENERIC, "copy_to", dbid, dst->ptr, dst->len);
	resp_int(c->out, 1);
}

const struct kv_command cmd_table_dump[] = {
	{ "copy", -3, CMD_WRITE | CMD_DENYOOM, 1, 2, 1, cmd_copy, NULL, NULL, "generic", "6.2.0",
	  "Copy a key", "O(N) worst case for collections, where N is the number of nested "
	  "items. O(1) for string values.", NULL },
	{ "dump", 2, CMD_READONLY, 1, 1, 1, cmd_dump, NULL, NULL, "generic", "2.6.0",
	  "Return a serialized version of the value stored at the specified key.",
	  "O(1) to access the key and additional O(N*M) to serialize it, where N is the "
	  "number of Redis objects composing the value and M their average size. For "
	  "small string values the time complexity is thus O(1)+O(1*M) where M is small, "
	  "so simply O(1).", NULL },
	{ "restore", -4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_restore, NULL, NULL, "generic",
	  "2.6.0",
	  "Create a key using the provided serialized value, previously obtained using DUMP.",
	  "O(1) to create the new key and additional O(N*M) to reconstruct the serialized "
	  "value, where N is the number of Redis objects composing the value and M their "
	  "average size. For small string values the time complexity is thus O(1)+O(1*M) "
	  "where M is small, so simply O(1). However for sorted set values the complexity "
	  "is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", NULL },
	/* What a cluster's MIGRATE sends; a standalone server (kevy is one)
	 * runs it as RESTORE, as Redis does. */
	{ "restore-asking", -4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_restore, NULL, NULL,
	  "server", "3.0.0", "An internal command for migrating keys in a cluster",
	  "O(1) to create the new key and additional O(N*M) to reconstruct the serialized "
	  "value, where N is the number of Redis objects composing the value and M their "
	  "average size. For small string values the time complexity is thus O(1)+O(1*M) "
	  "where M is small, so simply O(1). However for sorted set values the complexity "
	  "is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};
