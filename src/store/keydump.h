/*
 * keydump.h - a key's current state as the commands that recreate it.
 *
 * Used where a command's effect cannot be logged as the command itself (keys
 * on several shards: the AOF logs each changed key's final state on its own
 * shard, fx.c) and by kevy-dump --resp.  The commands are plain Redis
 * commands, so they replay through kevy's own handlers and pipe into
 * redis-cli --pipe:
 *   absent (or expired at now_ms)  DEL key
 *   string                         SET key value [PXAT deadline]
 *   list / set / hash / zset       DEL key, then RPUSH / SADD / HSET / ZADD in
 *                                  chunks of at most KEYDUMP_CHUNK elements
 *                                  (and KEYDUMP_CHUNK_BYTES bytes), then
 *                                  PEXPIREAT key deadline if it has one
 *   stream                         DEL key, XADD per entry (an empty stream: one
 *                                  XADD ... MAXLEN 0), XSETID key last-id
 *                                  ENTRIESADDED n MAXDELETEDID id, then per
 *                                  group XGROUP CREATE ... ENTRIESREAD n, its
 *                                  XGROUP CREATECONSUMERs and an XCLAIM ...
 *                                  TIME t RETRYCOUNT n FORCE JUSTID per
 *                                  pending entry (Redis's AOF rewrite); a
 *                                  pending entry whose stream entry was
 *                                  deleted is left out, as there
 * Scores are written so they parse back to the same double (inf, -inf
 * included).
 */
#ifndef KV_KEYDUMP_H
#define KV_KEYDUMP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/resp.h"
#include "store/store.h"

#define KEYDUMP_CHUNK 128
#define KEYDUMP_CHUNK_BYTES (64 * 1024)

/* The index of the key in a command keydump emits: 2 for XGROUP (XGROUP
 * CREATE key ...), 1 for every other. */
static inline int keydump_key_arg(int argc, const struct kv_slice *argv)
{
	return argc > 2 && argv[0].len == 6 && memcmp(argv[0].ptr, "XGROUP", 6) == 0 ? 2 : 1;
}

/* Receives one command; argv is valid only during the call. */
typedef void (*keydump_fn)(void *arg, int argc, const struct kv_slice *argv);

/* Emit the commands that recreate key as it is in db at now_ms (a key whose
 * deadline is <= now_ms is absent).  Does not change db (no lazy expiry). */
void keydump_key(struct kv_db *db, const char *key, size_t klen, int64_t now_ms,
		 keydump_fn fn, void *arg);
/* Same for an entry in hand (walks, kevy-dump); emits nothing for a string's
 * DEL: the entry exists. */
void keydump_entry(const struct kv_entry *e, keydump_fn fn, void *arg);

#endif
