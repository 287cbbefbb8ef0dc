/*
 * fx.h - effects: what a command changed, written as deterministic commands
 * for the owning shard's AOF, and their replay.
 *
 * A record in the AOF is an *effect*, not the command a client sent: replay
 * must give the same keyspace whatever the clock and randomness (design.md
 * §3 rule 2).  How each command's effect is found:
 *
 *   1. A handler that is not deterministic on replay emits its effect itself
 *      with cmd_effect() (SET ... EX as SET ... PXAT, SPOP as SREM of what it
 *      popped, INCRBYFLOAT as SET ... KEEPTTL, EXPIRE in the past as DEL, ...).
 *      Any cmd_effect() call during a command replaces the default below.
 *   2. Otherwise a write command whose keys all live on one shard, and that
 *      changed something (the store reports every change of a key), is logged
 *      as sent: it is deterministic given the shard's state, which replay
 *      rebuilds in the same order.
 *   3. Otherwise (keys on several shards, or keyless like DEBUG POPULATE) the
 *      final state of every key the command changed is logged on that key's
 *      shard (keydump.h): each shard's record then holds only its own keys.
 *   The store's expiry of a key (lazy or active) and its eviction under
 *   maxmemory are logged as DEL on the key's shard, and a flush of a
 *   database as FLUSHDB.
 *
 * Databases: a payload starts in database 0, and `SELECT n` inside it moves
 * the commands after it to database n; fx_emit writes one whenever the
 * database of the next effect differs from the payload's current one, so a
 * record replays alone, whatever came before it.  FLUSHDB, FLUSHALL and
 * SWAPDB a b are database effects that replay applies directly.
 *
 * Effects go to per-thread pending payloads, one per target shard, and are
 * taken out by the runtime at the end of each atomic unit (a command, a
 * MULTI/EXEC, a cron expiry pass): its own shard's payload becomes one AOF
 * record; another shard's payload travels in the MSG_RELEASE that gives that
 * shard its keyspace back, and becomes one record there.  While a unit is
 * open the executing thread holds every keyspace it emits for.
 *
 * fx does no I/O and knows nothing of files: aof.c frames and writes records,
 * and calls back into fx_apply/fx_validate to replay them (aof_effect_ops).
 */
#ifndef KV_FX_H
#define KV_FX_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "persist/aof.h"
#include "commands/cmd.h"
#include "proto/resp.h"
#include "store/store.h"

/* One command's bookkeeping, on the runner's stack between fx_cmd_begin and
 * fx_cmd_end.  Frames nest (EXEC runs its queued commands as inner frames;
 * the outer EXEC logs nothing itself). */
struct fx_cmd {
	struct fx_cmd *outer;
	const struct kv_command *cmd;
	int argc;
	const struct kv_slice *argv;
	struct kv_dbs **held;
	uint32_t dbid;            /* the database the command runs in */
	int64_t target;           /* shard for a verbatim log; -1: track keys */
	bool custom;              /* the handler emitted its own effects */
	uint64_t changes;         /* key changes the store reported */
	/* Keys changed, when target < 0: shard id + copy, in `keys`. */
	struct kv_buf keys;
	uint32_t nkeys;
};

/* ---- per thread ---- */

/* Enable effect capture on this thread for a process of nshards shards.
 * Without it (replay, tools) every fx call is a no-op. */
void fx_thread_enable(uint32_t nshards);
void fx_thread_disable(void);
bool fx_enabled(void);

/* The clock effects are stamped with (the command's now_ms). */
void fx_set_clock(int64_t now_ms);

/* Store hooks: install on every keyspace of the process (shard id as arg);
 * they report to the thread that runs the change. */
void fx_on_expire(void *shard_id, uint32_t dbid, const char *key, size_t klen);
/* The eviction hook (db_set_evict_hook): a DEL effect, and the point where
 * the "evicted" keyspace event belongs. */
void fx_on_evict(void *shard_id, uint32_t dbid, const char *key, size_t klen);
void fx_on_change(void *shard_id, uint32_t dbid, const char *key, size_t klen);
/* Told of every key the store changes while effects are captured, on the
 * thread that holds the key's keyspace: shard, database, key (key NULL:
 * every key of the database; dbid UINT32_MAX: of every database); and,
 * while records() says records are kept, of every key each logged effect
 * command names as recovery counts them (fx_keys).  The runtime's key tags
 * (server/gate.c).  Set once, before any shard runs. */
typedef void (*fx_touch_fn)(uint32_t shard, uint32_t dbid, const char *key, size_t klen);
void fx_set_touch_hook(fx_touch_fn fn, bool (*records)(void));
/* A pointer that carries a shard id as the hooks' arg. */
static inline void *fx_shard_arg(uint32_t id) { return (void *)(uintptr_t)id; }

/* ---- around each command ---- */

void fx_cmd_begin(struct fx_cmd *f, const struct kv_command *cmd, int argc,
		  const struct kv_slice *argv, struct kv_dbs **held, uint32_t dbid,
		  int64_t now_ms);
/* Logs the command's effects (rule 2 or 3 above) and pops the frame. */
void fx_cmd_end(struct fx_cmd *f);

/* ---- emitting (handlers, blocking.c) ---- */

/* Log argv (argc >= 2, argv[1] a key) as an effect on the key's shard in
 * the command's database (c->dbid), in place of the running command's
 * default. */
void cmd_effect(struct cmd_ctx *c, int argc, const struct kv_slice *argv);
/* cmd_effect for a command whose key is argv[key_arg] (XGROUP SETID key
 * ...: argv[2]). */
void cmd_effect_at_key(struct cmd_ctx *c, int key_arg, int argc, const struct kv_slice *argv);
/* Log a database effect (SWAPDB a b) on `shard`, in place of the running
 * command's default. */
void cmd_effect_shard(struct cmd_ctx *c, uint32_t shard, int argc, const struct kv_slice *argv);
/* Same as cmd_effect, for code that runs outside a handler (a blocked client
 * served by another command's write): does not change the running command's
 * default. */
void fx_emit_key(uint32_t db, int argc, const struct kv_slice *argv);
/* For fx_emit: the effect does not depend on the current database. */
#define FX_ANY_DB UINT32_MAX
/* Append an effect to `shard`'s pending payload, to run in database db
 * (preceded by SELECT db when the payload is in another one). */
void fx_emit(uint32_t shard, uint32_t db, int argc, const struct kv_slice *argv);

/* ---- units (runtime) ---- */

/* Take shard `id`'s pending payload (a complete EFFECT payload: time, then
 * commands) into *out, leaving it empty.  Returns false (out untouched) when
 * nothing is pending for it. */
bool fx_take(uint32_t id, struct kv_buf *out);
/* Whether anything is pending for any shard. */
bool fx_pending(void);
/* Whether anything is pending for shard `id`; how many shards have some. */
bool fx_pending_on(uint32_t id);
uint32_t fx_pending_shards(void);

/* ---- replay ---- */

/* Apply one EFFECT payload to shard `shard_id`'s databases (of nshards).
 * Runs each command through the command table with the payload's time as
 * the clock.  Returns 0, or KV_ECORRUPT with a line in err for a payload that
 * is not a valid effect here (unknown or non-write command, wrong arity, a
 * key of another shard, a command that replies with an error). */
int fx_apply(struct kv_dbs *dbs, uint32_t shard_id, uint32_t nshards, const void *payload,
	     size_t len, char *err, size_t err_cap);

/* The same checks as fx_apply without a keyspace (kevy-check): each command
 * is a known write effect with its arity whose keys belong to shard_id.
 * Cannot see a command that would fail on replay. */
int fx_validate(uint32_t shard_id, uint32_t nshards, const void *payload, size_t len,
		char *err, size_t err_cap);

/* fx_apply and fx_validate as the AOF's replay hooks (persist/aof.h);
 * cmd_table_init installs them. */
extern const struct aof_effect_ops fx_aof_effect_ops;

#endif
