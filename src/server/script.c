/*
 * script.c - EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: where a script
 * runs, what it may touch, and the script cache (docs/scripting.md).
 *
 * Where: EVAL's keys are its declared KEYS, so the runtime routes it like
 * any multi-key command: on the one shard that owns them all, or as a txn
 * holding every shard they live on, taken in ascending order.  A script
 * whose flags (allow-cross-slot-keys) or the server (lua-allow-undeclared-
 * keys yes) allow undeclared keys holds every shard instead.  The script
 * runs on the thread that holds them, in that thread's Lua state.
 *
 * What: each redis.call is checked (known command, arity, allowed in
 * scripts, no writes from a read-only script) and its keys must live on
 * held shards; it then runs through shard_call_run like a command inside
 * EXEC, so its effects are logged by fx as EXEC's are, and the whole script
 * is one unit per shard.
 *
 * The cache: SHA -> body, process-wide behind a mutex, so SCRIPT LOAD on any
 * connection makes the script known to every shard; each shard compiles a
 * body into its own Lua state the first time it runs it.  It keeps at most
 * 500 scripts that EVAL added (least recently run evicted first, as Redis
 * 7.4), and every SCRIPT LOAD'ed one.  SCRIPT FLUSH empties the cache and
 * bumps a generation; a shard whose state is older starts a fresh one
 * before its next script.
 *
 * Before a script runs, its flags are checked as Redis checks them (OOM,
 * READONLY on a replica, MASTERDOWN without allow-stale on a replica
 * running stale), before it is even compiled when they are known.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/acl.h"
#include "base/kv.h"
#include "base/log.h"
#include "base/sha1.h"
#include "commands/cmd_debug.h"
#include "commands/config.h"
#include "server/script.h"
#include "persist/fn_file.h"
#include "server/script_lua.h"
#include "persist/kvio.h"
#include "server/shard.h"

/* ---- the cache, shared by the shards ---- */

/*
 * SHA -> body, one table for the process behind cache_lock.  Two kinds of
 * entries, as in Redis 7.4: those SCRIPT LOAD added stay until SCRIPT
 * FLUSH; those EVAL added are bounded, at most SCRIPT_EVAL_MAX, and adding
 * one more evicts the one run least recently.  A client that EVALs
 * generated scripts (a value pasted into the body) would otherwise grow
 * the cache, and every shard's Lua state, forever.
 *
 * An EVAL script holds a slot of eval_slots: its id (unique over the
 * process's life) and when it last ran, both atomics that a shard reads
 * and stamps without the lock on every run.  A shard remembers with each
 * function it compiled a tag: 0 for a SCRIPT LOAD script, else slot and id
 * (tag_of).  The function is still cached exactly while its slot holds
 * that id (tag_alive): that is how EVALSHA of an evicted script answers
 * NOSCRIPT on a shard that compiled it before.  Evicted SHAs also go to a
 * log; each shard, before its next script, drops those functions from its
 * Lua state (engine_sync), or starts a fresh state when it fell more than
 * the log behind, so the Lua states stay bounded too.
 */

struct script_entry {
	struct script_entry *next;
	char sha[41];
	uint32_t flags;
	int32_t slot;             /* its eval_slots index, or -1: never evicted */
	size_t len;
	char body[];
};

#define SCRIPT_BUCKETS 4096u
/* Redis 7.4's LRU_LIST_LENGTH. */
#define SCRIPT_EVAL_MAX 500
/* A tag is id * TAG_SLOTS + slot. */
#define TAG_SLOTS 512u
_Static_assert(SCRIPT_EVAL_MAX <= TAG_SLOTS, "a slot fits a tag");
#define EVICT_LOG 1024u

struct eval_slot {
	_Atomic uint64_t id;      /* 0: free */
	_Atomic uint64_t used;    /* lru_clock when it last ran */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct script_entry *cache[SCRIPT_BUCKETS];
static uint64_t cache_count, cache_bytes;
static _Atomic uint64_t cache_gen = 1;
/* Whether any cached script / loaded function has allow-cross-slot-keys:
 * until one does, routing never takes a lock to find a script's flags. */
static _Atomic bool cache_cross_slot, lib_cross_slot;

static struct eval_slot eval_slots[SCRIPT_EVAL_MAX];
static struct script_entry *eval_entries[SCRIPT_EVAL_MAX];   /* under cache_lock */
static uint64_t eval_last_id;                                /* under cache_lock */
static _Atomic uint64_t lru_clock;
/* The evicted SHAs, the last EVICT_LOG of them: evict_log[n % EVICT_LOG]
 * is the n-th eviction (under cache_lock); evict_seq counts them. */
static char evict_log[EVICT_LOG][41];
static _Atomic uint64_t evict_seq;
/* INFO stats evicted_scripts (CONFIG RESETSTAT zeroes it). */
static _Atomic uint64_t evicted_scripts;

static uint32_t sha_bucket(const char *sha)
{
	uint32_t h = 0;
	for (int i = 0; i < 8; i++)
		h = h * 16 + (uint32_t)(isdigit((unsigned char)sha[i]) ? sha[i] - '0' : sha[i] - 'a' + 10);
	return h % SCRIPT_BUCKETS;
}

static struct script_entry *cache_find_locked(const char *sha)
{
	for (struct script_entry *e = cache[sha_bucket(sha)]; e; e = e->next)
		if (memcmp(e->sha, sha, 40) == 0)
			return e;
	return NULL;
}

static uint64_t tag_of(const struct script_entry *e)
{
	if (e->slot < 0)
		return 0;
	return atomic_load(&eval_slots[e->slot].id) * TAG_SLOTS + (uint64_t)e->slot;
}

/* Whether the script a shard compiled with this tag is still cached. */
static bool tag_alive(uint64_t tag)
{
	return tag == 0 || atomic_load_explicit(&eval_slots[tag % TAG_SLOTS].id,
						memory_order_acquire) == tag / TAG_SLOTS;
}

/* It ran: now the most recently used.  A script that runs again before
 * anything else does keeps its stamp, so one hot script costs no write to
 * the shared clock. */
static void tag_touch(uint64_t tag)
{
	if (tag == 0)
		return;
	struct eval_slot *sl = &eval_slots[tag % TAG_SLOTS];
	uint64_t now = atomic_load_explicit(&lru_clock, memory_order_relaxed);
	if (atomic_load_explicit(&sl->used, memory_order_relaxed) != now)
		atomic_store_explicit(&sl->used, atomic_fetch_add(&lru_clock, 1) + 1,
				      memory_order_relaxed);
}

static void cache_unlink_locked(struct script_entry *e)
{
	struct script_entry **pp = &cache[sha_bucket(e->sha)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	cache_count--;
	cache_bytes -= e->len + 40;
}

/* Free e's slot: every shard's tag for it dies. */
static void slot_release_locked(struct script_entry *e)
{
	atomic_store_explicit(&eval_slots[e->slot].id, 0, memory_order_release);
	eval_entries[e->slot] = NULL;
	e->slot = -1;
}

/* A slot for a new EVAL script: a free one, else the least recently run
 * script's, evicted. */
static int32_t slot_take_locked(void)
{
	int32_t best = -1;
	uint64_t oldest = UINT64_MAX;
	for (int32_t i = 0; i < SCRIPT_EVAL_MAX; i++) {
		if (!eval_entries[i])
			return i;
		uint64_t u = atomic_load_explicit(&eval_slots[i].used, memory_order_relaxed);
		if (u < oldest) {
			oldest = u;
			best = i;
		}
	}
	struct script_entry *victim = eval_entries[best];
	uint64_t n = atomic_load(&evict_seq);
	memcpy(evict_log[n % EVICT_LOG], victim->sha, 41);
	atomic_store_explicit(&evict_seq, n + 1, memory_order_release);
	atomic_fetch_add_explicit(&evicted_scripts, 1, memory_order_relaxed);
	slot_release_locked(victim);
	cache_unlink_locked(victim);
	free(victim);
	return best;
}

enum cache_kind { CACHE_EVAL, CACHE_LOAD };

/* Add a script (or find it: EVAL marks it run, SCRIPT LOAD makes it
 * permanent).  Returns its tag. */
static uint64_t cache_add(const char *sha, uint32_t flags, const char *body, size_t len,
			  enum cache_kind kind)
{
	pthread_mutex_lock(&cache_lock);
	struct script_entry *e = cache_find_locked(sha);
	if (e) {
		/* SCRIPT LOAD of a script EVAL added: kept from now on (Redis
		 * 7.4 leaves it evictable; a client that loads a script expects
		 * its EVALSHA to keep working). */
		if (kind == CACHE_LOAD && e->slot >= 0)
			slot_release_locked(e);
	} else {
		e = kv_malloc(sizeof(*e) + len + 1);
		memcpy(e->sha, sha, 41);
		e->flags = flags;
		e->slot = -1;
		e->len = len;
		memcpy(e->body, body, len);
		e->body[len] = '\0';
		uint32_t b = sha_bucket(sha);
		e->next = cache[b];
		cache[b] = e;
		cache_count++;
		cache_bytes += len + 40;
		if (!(flags & SCRIPT_FLAG_COMPAT) && (flags & SCRIPT_FLAG_ALLOW_CROSS_SLOT))
			atomic_store(&cache_cross_slot, true);
		if (kind == CACHE_EVAL) {
			int32_t i = slot_take_locked();
			e->slot = i;
			eval_entries[i] = e;
			atomic_store_explicit(&eval_slots[i].used, atomic_fetch_add(&lru_clock, 1) + 1,
					      memory_order_relaxed);
			atomic_store_explicit(&eval_slots[i].id, ++eval_last_id, memory_order_release);
		}
	}
	uint64_t tag = tag_of(e);
	pthread_mutex_unlock(&cache_lock);
	tag_touch(tag);
	return tag;
}

/* A copy of the body (caller frees), its flags and tag, or NULL. */
static char *cache_get(const char *sha, size_t *len, uint32_t *flags, uint64_t *tag)
{
	char *copy = NULL;
	pthread_mutex_lock(&cache_lock);
	struct script_entry *e = cache_find_locked(sha);
	if (e) {
		copy = kv_malloc(e->len + 1);
		memcpy(copy, e->body, e->len + 1);
		*len = e->len;
		*flags = e->flags;
		*tag = tag_of(e);
	}
	pthread_mutex_unlock(&cache_lock);
	return copy;
}

/* Whether sha is cached; its flags and tag (either may be NULL). */
static bool cache_lookup(const char *sha, uint32_t *flags, uint64_t *tag)
{
	pthread_mutex_lock(&cache_lock);
	struct script_entry *e = cache_find_locked(sha);
	if (e && flags)
		*flags = e->flags;
	if (e && tag)
		*tag = tag_of(e);
	pthread_mutex_unlock(&cache_lock);
	return e != NULL;
}

static void cache_flush(void)
{
	pthread_mutex_lock(&cache_lock);
	for (uint32_t b = 0; b < SCRIPT_BUCKETS; b++) {
		while (cache[b]) {
			struct script_entry *e = cache[b];
			cache[b] = e->next;
			if (e->slot >= 0)
				slot_release_locked(e);
			free(e);
		}
	}
	cache_count = cache_bytes = 0;
	atomic_store(&cache_cross_slot, false);
	atomic_fetch_add(&cache_gen, 1);
	pthread_mutex_unlock(&cache_lock);
}

void script_cache_stats(uint64_t *count, uint64_t *bytes)
{
	pthread_mutex_lock(&cache_lock);
	*count = cache_count;
	*bytes = cache_bytes;
	pthread_mutex_unlock(&cache_lock);
}

uint64_t script_evicted(void)
{
	return atomic_load_explicit(&evicted_scripts, memory_order_relaxed);
}

void script_reset_stats(void)
{
	atomic_store(&evicted_scripts, 0);
}

void script_memory(uint64_t *eval_lua, uint64_t *func_lua, uint64_t *scripts,
		   uint64_t *script_bytes)
{
	*eval_lua = *func_lua = 0;
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *o = g_server.shards[i];
		*eval_lua += atomic_load_explicit(&o->script_mem, memory_order_relaxed);
		*func_lua += atomic_load_explicit(&o->script_fn_mem, memory_order_relaxed);
	}
	script_cache_stats(scripts, script_bytes);
}

/* ---- the engine of this thread ---- */

static void fname_of(char fname[43], const char *sha)
{
	fname[0] = 'f';
	fname[1] = '_';
	memcpy(fname + 2, sha, 41);
}

/* Drop from e the functions of the scripts evicted since it last looked.
 * Returns false when it fell more than the log behind (start afresh). */
static bool engine_sync(struct script_engine *e)
{
	enum { BATCH = 32 };
	while (atomic_load_explicit(&evict_seq, memory_order_acquire) != e->evict_seen) {
		char shas[BATCH][41];
		uint32_t n = 0;
		pthread_mutex_lock(&cache_lock);
		uint64_t seq = atomic_load(&evict_seq);
		if (seq - e->evict_seen > EVICT_LOG) {
			pthread_mutex_unlock(&cache_lock);
			return false;
		}
		for (; n < BATCH && e->evict_seen + n < seq; n++)
			memcpy(shas[n], evict_log[(e->evict_seen + n) % EVICT_LOG], 41);
		pthread_mutex_unlock(&cache_lock);
		for (uint32_t i = 0; i < n; i++) {
			char fname[43];
			uint64_t tag;
			fname_of(fname, shas[i]);
			/* Unless it is there again (EVAL'd or loaded since). */
			if (script_lua_has(e, fname, NULL, &tag) && !tag_alive(tag))
				script_lua_drop(e, fname);
		}
		e->evict_seen += n;
	}
	return true;
}

static struct script_engine *engine_get(struct shard *s)
{
	struct script_engine *e = atomic_load(&s->script);
	uint64_t gen = atomic_load(&cache_gen);
	if (e && (e->gen != gen || !engine_sync(e))) {
		atomic_store(&s->script, NULL);
		script_lua_free(e);
		e = NULL;
	}
	if (!e) {
		e = script_lua_new();
		e->gen = gen;
		e->evict_seen = atomic_load(&evict_seq);
		e->busy_turn = s->busy_turn;
		e->busy_arg = s;
		atomic_store(&s->script, e);
		atomic_store_explicit(&s->script_mem, e->mem_bytes, memory_order_relaxed);
	}
	return e;
}

static void lower_sha(char *dst, const char *src)
{
	for (int i = 0; i < 40; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[40] = '\0';
}

/* Whether e has sha's function and the cache still has the script; its
 * flags and tag.  A function whose script was evicted is dropped; one
 * evicted and added again since (or loaded) takes its new tag. */
static bool engine_find(struct script_engine *e, const char *sha, uint32_t *flags,
			uint64_t *tag)
{
	char fname[43];
	fname_of(fname, sha);
	if (!script_lua_has(e, fname, flags, tag))
		return false;
	if (tag_alive(*tag))
		return true;
	if (cache_lookup(sha, NULL, tag)) {
		script_lua_set_tag(e, fname, *tag);
		return true;
	}
	script_lua_drop(e, fname);
	return false;
}

/* Compile sha's script into e: body, or (NULL, EVALSHA) the cache's, and
 * record it in the cache as `kind` says.  Returns 0 with its flags and
 * tag, 1 when the cache has no such script, or -1 with the error reply
 * appended to out. */
static int engine_compile(struct script_engine *e, const char *sha, const char *body, size_t len,
			  enum cache_kind kind, uint32_t *flags, uint64_t *tag, struct kv_buf *out)
{
	char fname[43];
	fname_of(fname, sha);
	char *owned = NULL;
	if (!body) {
		owned = cache_get(sha, &len, flags, tag);
		if (!owned)
			return 1;
		body = owned;
	}
	char err[512];
	size_t skip;
	int rc = 0;
	if (script_parse_shebang(body, len, flags, &skip, err, sizeof(err)) < 0) {
		resp_errorf(out, "ERR %s", err);
		rc = -1;
	} else if (script_lua_compile(e, fname, body, len, skip, *flags, err, sizeof(err)) < 0) {
		resp_errorf(out, "ERR Error compiling script (new function): %s", err);
		rc = -1;
	} else {
		if (!owned)
			*tag = cache_add(sha, *flags, body, len, kind);
		script_lua_set_tag(e, fname, *tag);
	}
	free(owned);
	return rc;
}

/* ---- redis.call ---- */

struct script_ctx {
	struct cmd_ctx *c;
	uint32_t dbid;
	/* The writes that may wake blocked clients, kept to wake them once
	 * the script ended, as Redis serves them after the command
	 * (script_wake_blocked). */
	struct cmd_call **writes;
	size_t nwrites, cap;
};

/* Wake the clients blocked on what the script wrote, now that it ended. */
static void script_wake_blocked(struct script_ctx *sc)
{
	for (size_t i = 0; i < sc->nwrites; i++) {
		shard_call_wake(sc->c->shard, sc->writes[i], sc->c->held);
		free(sc->writes[i]);
	}
	free(sc->writes);
	sc->writes = NULL;
	sc->nwrites = sc->cap = 0;
}

#define SCRIPT_ERR_UNDECLARED \
	"Script attempted to access a key of a shard it does not hold: declare every key " \
	"in KEYS, or allow undeclared keys (the allow-cross-slot-keys flag, or CONFIG SET " \
	"lua-allow-undeclared-keys yes)"

/* "The user executing the script " and Redis's reason. */
static const char *script_acl_error(enum acl_verdict v)
{
	switch (v) {
	case ACL_DENIED_CMD:
		return "The user executing the script can't run this command or subcommand";
	case ACL_DENIED_KEY:
		return "The user executing the script can't access at least one of the keys "
		       "mentioned in the command arguments";
	case ACL_DENIED_CHANNEL:
		return "The user executing the script can't publish to the channel mentioned in "
		       "the command";
	default:
		return "The user executing the script lacking the permissions for the command";
	}
}

static const char *script_call(struct script_run *run, int argc, const struct kv_slice *argv,
			       struct kv_buf *out)
{
	struct script_ctx *sc = run->arg;
	struct cmd_ctx *c = sc->c;
	struct shard *s = c->shard;
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	if (!cmd)
		return "Unknown Redis command called from script";
	if (!cmd_arity_ok(cmd, argc))
		return "Wrong number of args calling Redis command from script";
	uint32_t flags = cmd->flags;
	if (cmd->subcommands && argc >= 2) {
		const struct kv_command *sub = cmd_find_sub(cmd->subcommands, &argv[1]);
		if (!sub)
			return "Unknown Redis command called from script";
		if (!cmd_arity_ok(sub, argc))
			return "Wrong number of args calling Redis command from script";
		flags |= sub->flags;
	}
	/* Commands that need a client connection or the shards' messaging
	 * (CLIENT, the connection's MULTI state) are refused as Redis refuses
	 * its noscript commands.  PUBLISH is handled below.  DEBUG
	 * SET-DISABLE-DENY-SCRIPTS lifts the refusal for DEBUG, the one such
	 * command that can run here (its subcommands that need every shard
	 * still need a script that holds them, below). */
	if (strcmp(cmd->name, "debug") == 0 &&
	    atomic_load_explicit(&g_debug.scripts_may_debug, memory_order_relaxed))
		flags &= ~(uint32_t)CMD_NOSCRIPT;
	bool spublish = strcmp(cmd->name, "spublish") == 0;
	bool publish = spublish || strcmp(cmd->name, "publish") == 0;
	if ((flags & CMD_NOSCRIPT) || (cmd->bcast && !publish) || strcmp(cmd->name, "client") == 0 ||
	    ((flags & CMD_LOCAL) && cmd->subcommands == NULL && strcmp(cmd->name, "ping") != 0 &&
	     strcmp(cmd->name, "echo") != 0 && strcmp(cmd->name, "select") != 0 &&
	     strcmp(cmd->name, "time") != 0))
		return "This Redis command is not allowed from script";
	/* Only an allow-stale script runs on a replica running stale (the
	 * others were refused before they ran); it may call only what may be
	 * served stale, as Redis's scriptVerifyAllowStale. */
	if (!((flags | cmd_stat_target(cmd, argc, argv)->flags) & CMD_STALE) &&
	    repl_stale_refused())
		return "Can not execute the command on a stale replica";
	/* The caller's ACL user, as Redis's scriptVerifyACL: logged with the
	 * "lua" context. */
	if (c->user) {
		int pos;
		enum acl_verdict v = acl_check(c->user, cmd, argc, argv, &pos);
		if (v != ACL_OK) {
			shard_acl_log(c->origin, c->user, v, ACL_CTX_LUA,
				      cmd_stat_target(cmd, argc, argv), argv, pos);
			return script_acl_error(v);
		}
	}
	if (run->readonly && (flags & (CMD_WRITE | CMD_MAY_REPLICATE)))
		return "Write commands are not allowed from read-only scripts.";
	if (publish) {
		/* Delivered here now and on every other shard with the unit's
		 * notification batch (after the script, in order with its
		 * keyspace events).  The reply counts the receivers on the
		 * shards the script holds (all of them when it took every
		 * shard), as a Redis Cluster node counts its own clients
		 * (docs/scripting.md). */
		uint64_t (*receivers)(struct shard *, const struct kv_slice *) =
			spublish ? pubsub_sreceivers : pubsub_receivers;
		uint64_t n = receivers(s, &argv[1]);
		for (uint32_t i = 0; i < g_server.nshards; i++)
			if (i != s->id && c->held[i])
				n += receivers(g_server.shards[i], &argv[1]);
		if (monitor_any())
			monitor_feed_from(s, "lua", sc->dbid, cmd, argc,
					  (const struct kv_slice *)argv);
		(spublish ? pubsub_notify_spublish : pubsub_notify_publish)(
			s, argv[1].ptr, argv[1].len, argv[2].ptr, argv[2].len);
		resp_int(out, (int64_t)n);
		return NULL;
	}
	/* Every shard the call needs must be held by this script. */
	if (!(flags & CMD_LOCAL)) {
		uint32_t shards[SHARD_MAX];
		uint32_t n = shard_call_shards(cmd, argc, argv, shards);
		if (n == 0) {
			shards[0] = s->id;
			n = 1;
		}
		for (uint32_t i = 0; i < n; i++)
			if (!c->held[shards[i]])
				return SCRIPT_ERR_UNDECLARED;
	}
	struct cmd_call call = {
		.cmd = cmd,
		.argc = argc,
		.argv = (struct kv_slice *)argv,
		.now_ms = c->now_ms,
		.dbid = sc->dbid,
		/* The command answers in the script's protocol (redis.setresp). */
		.proto = run->resp == 3 ? RESP_PROTO_3 : RESP_PROTO_2,
		.in_script = true,
		.allow_oom = run->allow_oom || run->wrote,
	};
	size_t before = out->len;
	/* MONITOR shows a script's commands as Redis does: from "lua". */
	if (monitor_any())
		monitor_feed_from(s, "lua", sc->dbid, cmd, argc, (const struct kv_slice *)argv);
	/* min-replicas-to-write is checked before a script's first write
	 * only, as Redis does: once it wrote, it runs to its end. */
	const char *norepl = (flags & CMD_WRITE) && !run->wrote ? repl_write_refused() : NULL;
	if (norepl) {
		resp_error(out, norepl);
		return NULL;
	}
	shard_call_run(s, &call, NULL, c->held, out);
	/* Nobody can start waiting while the script holds its shards, so
	 * with nobody blocked now there is nothing to wake later. */
	if ((flags & CMD_WRITE) && blocking_any()) {
		if (sc->nwrites == sc->cap) {
			sc->cap = sc->cap ? sc->cap * 2 : 8;
			sc->writes = kv_realloc(sc->writes, sc->cap * sizeof(*sc->writes));
		}
		struct cmd_call *w = shard_call_copy(sizeof(struct cmd_call), 0, cmd, argc, argv,
						     c->now_ms);
		w->dbid = sc->dbid;
		sc->writes[sc->nwrites++] = w;
	}
	if (strcmp(cmd->name, "select") == 0 && out->len > before && out->data[before] == '+') {
		int64_t id;
		if (arg_to_int64(&argv[1], &id))
			sc->dbid = (uint32_t)id;
	}
	if (flags & CMD_WRITE) {
		run->wrote = true;
		atomic_store(&run->engine->wrote, true);
	}
	return NULL;
}

/* ---- routing hooks ---- */

/* EVAL's keys: argv[3 .. 3+numkeys); -1 (the handler reports it) when
 * numkeys is not a valid count. */
static int eval_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	int64_t n;
	if (argc < 3 || !arg_to_int64(&argv[2], &n) || n < 0 || n > argc - 3)
		return -1;
	int count = 0;
	for (int64_t i = 0; i < n && count < max; i++)
		idx[count++] = (int)(3 + i);
	return count;
}

static bool script_wants_all(const struct kv_slice *body, bool sha)
{
	if (atomic_load_explicit(&g_config.lua_allow_undeclared_keys, memory_order_relaxed))
		return true;
	uint32_t flags = 0;
	if (sha) {
		if (body->len != 40 || !atomic_load_explicit(&cache_cross_slot, memory_order_relaxed))
			return false;
		char s[41];
		lower_sha(s, body->ptr);
		if (!cache_lookup(s, &flags, NULL))
			return false;
	} else {
		size_t skip;
		char err[256];
		if (script_parse_shebang(body->ptr, body->len, &flags, &skip, err, sizeof(err)) < 0)
			return false;
	}
	return !(flags & SCRIPT_FLAG_COMPAT) && (flags & SCRIPT_FLAG_ALLOW_CROSS_SLOT);
}

static bool eval_all_shards(int argc, const struct kv_slice *argv)
{
	return argc >= 3 && script_wants_all(&argv[1], false);
}

static bool evalsha_all_shards(int argc, const struct kv_slice *argv)
{
	return argc >= 3 && script_wants_all(&argv[1], true);
}

/* ---- EVAL ---- */

/* EVAL's and FCALL's numkeys (argv[2]): false after replying the error
 * (not_int when it is not an integer, as each command words it). */
static bool script_numkeys(struct cmd_ctx *c, const char *not_int, int64_t *numkeys)
{
	if (!arg_to_int64(&c->argv[2], numkeys)) {
		resp_error(c->out, not_int);
		return false;
	}
	if (*numkeys > c->argc - 3) {
		resp_error(c->out, "ERR Number of keys can't be greater than number of args");
		return false;
	}
	if (*numkeys < 0) {
		resp_error(c->out, "ERR Number of keys can't be negative");
		return false;
	}
	return true;
}

/* What Redis refuses before a script with flags (a shebang, or a
 * function's) runs: its processCommand reads the flags as the command's,
 * so a script without allow-oom or no-writes is refused past maxmemory
 * (OOM), one without no-writes is a write (MISCONF, READONLY on a replica,
 * NOREPLICAS), and one without allow-stale is not served by a replica
 * running stale (MASTERDOWN); in that order.  NULL, or the error. */
static const char *script_refused_upfront(struct cmd_ctx *c, uint32_t flags)
{
	const char *refused = NULL;
	/* Inside EXEC, where the queue was checked already, in
	 * scriptPrepareForRun's own words. */
	if (!(flags & (SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_NO_WRITES)) &&
	    shard_oom_refused(c->shard, c->held, c->now_ms))
		refused = c->conn && c->conn->in_exec
				  ? "OOM allow-oom flag is not set on the script, can not run it "
				    "when used memory > 'maxmemory'"
				  : SHARD_ERR_OOM;
	if (!refused && !(flags & SCRIPT_FLAG_NO_WRITES)) {
		refused = shard_write_refused(c->shard, c->held);
		if (!refused)
			refused = repl_write_refused();
	}
	if (!refused && !(flags & SCRIPT_FLAG_ALLOW_STALE))
		refused = repl_stale_refused();
	return refused;
}

/* What scriptPrepareForRun refuses once the script is compiled: a script
 * with write flags from *_RO, and a script without a shebang on a replica
 * running stale.  Returns false after replying the error. */
static bool script_prepare(struct cmd_ctx *c, uint32_t flags, bool ro)
{
	const char *refused = NULL;
	if (flags & SCRIPT_FLAG_COMPAT)
		refused = repl_stale_refused();
	else if (ro && !(flags & SCRIPT_FLAG_NO_WRITES))
		refused = "ERR Can not execute a script with write flag using *_ro command.";
	if (refused)
		resp_error(c->out, refused);
	return refused == NULL;
}

static void eval_generic(struct cmd_ctx *c, bool evalsha, bool ro)
{
	const struct kv_slice *body = &c->argv[1];
	if (evalsha && body->len != 40) {
		resp_error(c->out, "NOSCRIPT No matching script. Please use EVAL.");
		return;
	}
	struct shard *s = c->shard;
	struct script_engine *e = engine_get(s);
	char sha[41];
	if (evalsha)
		lower_sha(sha, body->ptr);
	else
		sha1_hex(body->ptr, body->len, sha);
	/* The flags, to refuse what Redis refuses before the script is even
	 * compiled: from this shard's function, the cache, or the shebang. */
	uint32_t flags = SCRIPT_FLAG_COMPAT;
	uint64_t tag = 0;
	bool have = engine_find(e, sha, &flags, &tag);
	bool known = have || cache_lookup(sha, &flags, NULL);
	if (!known && !evalsha) {
		size_t skip;
		char err[256];
		known = script_parse_shebang(body->ptr, body->len, &flags, &skip, err,
					     sizeof(err)) == 0;
	}
	const char *refused = known && !(flags & SCRIPT_FLAG_COMPAT)
				      ? script_refused_upfront(c, flags) : NULL;
	if (refused) {
		resp_errorf(c->out, "%s", refused);
		return;
	}
	int64_t numkeys;
	if (!script_numkeys(c, RESP_ERR_NOT_INT, &numkeys))
		return;
	if (!have) {
		int rc = evalsha ? engine_compile(e, sha, NULL, 0, CACHE_EVAL, &flags, &tag, c->out)
				 : engine_compile(e, sha, body->ptr, body->len, CACHE_EVAL, &flags,
						  &tag, c->out);
		if (rc < 0)
			return;
		if (rc > 0) {
			resp_error(c->out, "NOSCRIPT No matching script. Please use EVAL.");
			return;
		}
	}
	if (!known && !(flags & SCRIPT_FLAG_COMPAT) &&
	    (refused = script_refused_upfront(c, flags)) != NULL) {
		/* EVALSHA of a script another shard cached meanwhile. */
		resp_errorf(c->out, "%s", refused);
		return;
	}
	if (!script_prepare(c, flags, ro))
		return;
	struct script_ctx sc = { .c = c, .dbid = c->dbid };
	struct script_run run = {
		.call = script_call,
		.arg = &sc,
		.readonly = ro || (flags & SCRIPT_FLAG_NO_WRITES),
		.allow_oom = !(flags & SCRIPT_FLAG_COMPAT) && (flags & SCRIPT_FLAG_ALLOW_OOM),
		.name = sha,
		.user = c->user,
	};
	char fname[43];
	fname_of(fname, sha);
	int nk = (int)numkeys;
	script_lua_run(e, &run, fname, nk, c->argv + 3, c->argc - 3 - nk, c->argv + 3 + nk,
		       c->out);
	script_wake_blocked(&sc);
	/* EVAL and EVALSHA both make the script the most recently used. */
	tag_touch(tag);
	atomic_store_explicit(&s->script_mem, e->mem_bytes, memory_order_relaxed);
}

static void cmd_eval(struct cmd_ctx *c) { eval_generic(c, false, false); }
static void cmd_evalsha(struct cmd_ctx *c) { eval_generic(c, true, false); }
static void cmd_eval_ro(struct cmd_ctx *c) { eval_generic(c, false, true); }
static void cmd_evalsha_ro(struct cmd_ctx *c) { eval_generic(c, true, true); }

/* ---- SCRIPT ---- */

static void cmd_script_load(struct cmd_ctx *c)
{
	struct script_engine *e = engine_get(c->shard);
	char sha[41], fname[43];
	uint32_t flags;
	uint64_t tag;
	sha1_hex(c->argv[2].ptr, c->argv[2].len, sha);
	fname_of(fname, sha);
	if (script_lua_has(e, fname, &flags, NULL)) {
		/* Compiled here before, but maybe evicted or flushed from the
		 * cache since: the cache keeps it now, for every shard. */
		tag = cache_add(sha, flags, c->argv[2].ptr, c->argv[2].len, CACHE_LOAD);
		script_lua_set_tag(e, fname, tag);
	} else if (engine_compile(e, sha, c->argv[2].ptr, c->argv[2].len, CACHE_LOAD, &flags,
				  &tag, c->out) < 0) {
		return;
	}
	resp_bulk(c->out, sha, 40);
}

static void cmd_script_exists(struct cmd_ctx *c)
{
	resp_array(c->out, c->argc - 2);
	for (int i = 2; i < c->argc; i++) {
		char sha[41];
		bool found = false;
		if (c->argv[i].len == 40) {
			lower_sha(sha, c->argv[i].ptr);
			found = cache_lookup(sha, NULL, NULL);
		}
		resp_int(c->out, found);
	}
}

static void cmd_script_flush(struct cmd_ctx *c)
{
	if (c->argc > 3 || (c->argc == 3 && !arg_is(&c->argv[2], "sync") &&
			    !arg_is(&c->argv[2], "async"))) {
		resp_error(c->out, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
		return;
	}
	cache_flush();
	resp_ok(c->out);
}

bool script_allowed_while_busy(const struct kv_command *cmd, int argc,
			       const struct kv_slice *argv)
{
	/* Redis 7.0's allow-busy commands (transactions' included: a client
	 * pipelining MULTI ... EXEC must not lose its MULTI to -BUSY). */
	const char *n = cmd->name;
	if (!strcmp(n, "shutdown") || !strcmp(n, "auth") || !strcmp(n, "hello") ||
	    !strcmp(n, "quit") || !strcmp(n, "reset") || !strcmp(n, "multi") ||
	    !strcmp(n, "discard") || !strcmp(n, "watch") || !strcmp(n, "unwatch"))
		return true;
	if (argc < 2)
		return false;
	if (!strcmp(n, "script"))
		return arg_is(&argv[1], "kill");
	if (!strcmp(n, "function"))
		return arg_is(&argv[1], "kill") || arg_is(&argv[1], "stats");
	return false;
}

/* SCRIPT KILL / FUNCTION KILL: stop the script that has run past
 * busy-reply-threshold on any shard, unless it wrote. */
void script_kill(struct cmd_ctx *c, bool function)
{
	for (uint32_t k = 0; k < 2 * g_server.nshards; k++) {
		struct shard *o = g_server.shards[k / 2];
		struct script_engine *e = atomic_load(k % 2 ? &o->script_fn : &o->script);
		if (!e || !atomic_load(&e->started_ms) || !atomic_load(&e->busy))
			continue;
		/* Each kind is killed by its own command, as in Redis. */
		if (e->functions != function) {
			resp_errorf(c->out, "%s", script_busy_error() ? script_busy_error() :
				    "NOTBUSY No scripts in execution right now.");
			return;
		}
		if (atomic_load(&e->wrote)) {
			resp_error(c->out, "UNKILLABLE Sorry the script already executed write "
					   "commands against the dataset. You can either wait the "
					   "script termination or kill the server in a hard way "
					   "using the SHUTDOWN NOSAVE command.");
			return;
		}
		atomic_store(&e->kill, true);
		resp_ok(c->out);
		return;
	}
	resp_error(c->out, "NOTBUSY No scripts in execution right now.");
}

static void cmd_script_kill(struct cmd_ctx *c)
{
	script_kill(c, false);
}

/* kevy has no Lua debugger (LDB): NO, the mode every client starts in, is
 * answered as Redis answers it; YES and SYNC are refused, since a client
 * that believed it was debugging would wait for a debugger session that
 * never comes (docs/scripting.md). */
static void cmd_script_debug(struct cmd_ctx *c)
{
	if (arg_is(&c->argv[2], "no"))
		resp_ok(c->out);
	else if (arg_is(&c->argv[2], "yes") || arg_is(&c->argv[2], "sync"))
		resp_error(c->out, "ERR SCRIPT DEBUG YES and SYNC are not supported: kevy has no "
				   "Lua debugger (SCRIPT DEBUG NO is accepted)");
	else
		resp_error(c->out, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
}

static void cmd_script_help(struct cmd_ctx *c)
{
	static const char *const lines[] = {
		"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"DEBUG (YES|SYNC|NO)",
		"    Set the debug mode for subsequent scripts executed (kevy: only NO).",
		"EXISTS <sha1> [<sha1> ...]",
		"    Return information about the existence of the scripts in the script cache.",
		"FLUSH [ASYNC|SYNC]",
		"    Flush the Lua scripts cache. Very dangerous on replicas.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the scripts cache.",
		"    * SYNC: Synchronously flush the scripts cache.",
		"KILL",
		"    Kill the currently executing Lua script.",
		"LOAD <script>",
		"    Load a script into the scripts cache without executing it.",
		"HELP",
		"    Prints this help.",
	};
	size_t n = sizeof(lines) / sizeof(lines[0]);
	resp_array(c->out, (int64_t)n);
	for (size_t i = 0; i < n; i++)
		resp_simple(c->out, lines[i]);
}

static const struct kv_command script_subs[] = {
	{ .name = "script|load", .arity = 3, .flags = CMD_LOCAL | CMD_NOSCRIPT | CMD_STALE,
	  .proc = cmd_script_load, .group = "scripting", .since = "2.6.0",
	  .summary = "Load the specified Lua script into the script cache.",
	  .complexity = "O(N) with N being the length in bytes of the script body." },
	{ .name = "script|exists", .arity = -3, .flags = CMD_LOCAL | CMD_NOSCRIPT,
	  .proc = cmd_script_exists, .group = "scripting", .since = "2.6.0",
	  .summary = "Check existence of scripts in the script cache.",
	  .complexity = "O(N) with N being the number of scripts to check (so checking a "
			"single script is an O(1) operation)." },
	{ .name = "script|flush", .arity = -2, .flags = CMD_LOCAL | CMD_NOSCRIPT,
	  .proc = cmd_script_flush, .group = "scripting", .since = "2.6.0",
	  .summary = "Remove all the scripts from the script cache.",
	  .complexity = "O(N) with N being the number of scripts in cache" },
	{ .name = "script|kill", .arity = 2, .flags = CMD_LOCAL | CMD_NOSCRIPT,
	  .proc = cmd_script_kill, .group = "scripting", .since = "2.6.0",
	  .summary = "Kill the script currently in execution.", .complexity = "O(1)" },
	{ .name = "script|debug", .arity = 3, .flags = CMD_LOCAL | CMD_NOSCRIPT,
	  .proc = cmd_script_debug, .group = "scripting", .since = "3.2.0",
	  .summary = "Set the debug mode for executed scripts.", .complexity = "O(1)" },
	{ .name = "script|help", .arity = 2, .flags = CMD_LOCAL | CMD_LOADING | CMD_STALE,
	  .proc = cmd_script_help, .group = "scripting", .since = "5.0.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = NULL },
};

static void cmd_script(struct cmd_ctx *c)
{
	cmd_run_sub(c, script_subs, "script");
}

#define EVAL_FLAGS (CMD_NOSCRIPT | CMD_STALE | CMD_MAY_REPLICATE | CMD_SKIP_MONITOR)

const struct kv_command cmd_table_script[] = {
	{ .name = "eval", .arity = -3, .flags = EVAL_FLAGS, .proc = cmd_eval, .keys = eval_keys,
	  .all_shards = eval_all_shards, .group = "scripting", .since = "2.6.0",
	  .summary = "Execute a Lua script server side", .complexity = "Depends on the script that is executed." },
	{ .name = "evalsha", .arity = -3, .flags = EVAL_FLAGS, .proc = cmd_evalsha,
	  .keys = eval_keys, .all_shards = evalsha_all_shards, .group = "scripting",
	  .since = "2.6.0", .summary = "Execute a Lua script server side",
	  .complexity = "Depends on the script that is executed." },
	{ .name = "eval_ro", .arity = -3, .flags = CMD_NOSCRIPT | CMD_STALE | CMD_READONLY | CMD_SKIP_MONITOR,
	  .proc = cmd_eval_ro, .keys = eval_keys, .all_shards = eval_all_shards,
	  .group = "scripting", .since = "7.0.0",
	  .summary = "Execute a read-only Lua script server side",
	  .complexity = "Depends on the script that is executed." },
	{ .name = "evalsha_ro", .arity = -3, .flags = CMD_NOSCRIPT | CMD_STALE | CMD_READONLY | CMD_SKIP_MONITOR,
	  .proc = cmd_evalsha_ro, .keys = eval_keys, .all_shards = evalsha_all_shards,
	  .group = "scripting", .since = "7.0.0",
	  .summary = "Execute a read-only Lua script server side",
	  .complexity = "Depends on the script that is executed." },
	{ .name = "script", .arity = -2, .flags = CMD_LOCAL, .proc = cmd_script,
	  .group = "scripting", .since = "2.6.0",
	  .summary = "A container for Lua scripts management commands",
	  .complexity = "Depends on subcommand.", .subcommands = script_subs },
	{ .name = NULL },
};

/* ================================================================== */
/* Functions: FUNCTION LOAD ... and FCALL (docs/scripting.md)          */
/* ================================================================== */

/*
 * The libraries are process-wide like the script cache: a list behind a
 * mutex and a generation.  FUNCTION LOAD runs the library's code in a
 * scratch Lua state first (its errors are the reply, nothing changes);
 * each shard then reloads every library into its own function state the
 * next time it runs FCALL after a change of generation.
 */

struct fn_info {
	char *name;
	char *desc;               /* NULL when not given */
	uint32_t flags;
};

struct fn_lib {
	struct fn_lib *next;
	char *name;
	char *code;               /* the whole payload, shebang included */
	size_t code_len;
	size_t body_off;          /* where the code after the shebang starts */
	uint32_t nfn, capfn;
	struct fn_info *fn;
};

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fn_lib *libs, **libs_tail = &libs;
static _Atomic uint64_t lib_gen = 1;

static void fn_lib_free(struct fn_lib *l)
{
	if (!l)
		return;
	for (uint32_t i = 0; i < l->nfn; i++) {
		free(l->fn[i].name);
		free(l->fn[i].desc);
	}
	free(l->fn);
	free(l->name);
	free(l->code);
	free(l);
}

static struct fn_lib **lib_find_locked(const char *name, size_t len)
{
	for (struct fn_lib **p = &libs; *p; p = &(*p)->next)
		if (strlen((*p)->name) == len && strncasecmp((*p)->name, name, len) == 0)
			return p;
	return NULL;
}

static struct fn_info *lib_fn_find_locked(const char *name, size_t len, struct fn_lib **lib)
{
	for (struct fn_lib *l = libs; l; l = l->next)
		for (uint32_t i = 0; i < l->nfn; i++)
			if (strlen(l->fn[i].name) == len && strncasecmp(l->fn[i].name, name, len) == 0) {
				if (lib)
					*lib = l;
				return &l->fn[i];
			}
	return NULL;
}

static void libs_unlink_locked(struct fn_lib **p)
{
	struct fn_lib *l = *p;
	*p = l->next;
	if (libs_tail == &l->next)
		libs_tail = p;
}

static void libs_append_locked(struct fn_lib *l)
{
	l->next = NULL;
	*libs_tail = l;
	libs_tail = &l->next;
}

static void libs_flush_locked(void)
{
	while (libs) {
		struct fn_lib *l = libs;
		libs = l->next;
		fn_lib_free(l);
	}
	libs_tail = &libs;
}

static void on_function(void *arg, const char *name, size_t nlen, const char *desc, size_t dlen,
			uint32_t flags)
{
	struct fn_lib *l = arg;
	if (l->nfn == l->capfn) {
		l->capfn = l->capfn ? l->capfn * 2 : 4;
		l->fn = kv_realloc(l->fn, l->capfn * sizeof(*l->fn));
	}
	struct fn_info *f = &l->fn[l->nfn++];
	f->name = kv_strndup(name, nlen);
	f->desc = desc ? kv_strndup(desc, dlen) : NULL;
	f->flags = flags;
}

static bool lib_name_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Parse the library's "#!lua name=<name>" line.  Returns the library (no
 * functions yet) or NULL with the error text in err. */
static struct fn_lib *lib_parse(const char *code, size_t len, char *err, size_t cap)
{
	if (len < 2 || code[0] != '#' || code[1] != '!') {
		snprintf(err, cap, "Missing library metadata");
		return NULL;
	}
	const char *nl = memchr(code, '\n', len);
	if (!nl) {
		snprintf(err, cap, "Invalid library metadata");
		return NULL;
	}
	/* The shebang line is split as Redis splits it (sdssplitargs): quotes
	 * and escapes are resolved, so name="foo" names foo. */
	size_t shebang_len = (size_t)(nl - code), at = 0;
	char engine[64] = "";
	char *name = NULL;
	size_t name_len = 0;
	int part = 0, rc;   /* -1: unbalanced quotes, -2: err already written */
	struct kv_buf w = KV_BUF_INIT;
	while ((rc = resp_split_word(&w, code, shebang_len, &at)) > 0) {
		if (part++ == 0) {
			int el = (int)KV_MIN(w.len - 2, 60);
			snprintf(engine, sizeof(engine), "%.*s", el, w.data + 2);
		} else if (w.len >= 5 && strncasecmp(w.data, "name=", 5) == 0) {
			if (name) {
				snprintf(err, cap, "Invalid metadata value, name argument was given "
						   "multiple times");
				rc = -2;
				break;
			}
			name_len = w.len - 5;
			name = kv_strndup(w.data + 5, name_len);
		} else {
			snprintf(err, cap, "Invalid metadata value given: %.*s",
				 (int)KV_MIN(w.len, 200), w.data);
			rc = -2;
			break;
		}
		kv_buf_clear(&w);
	}
	kv_buf_free(&w);
	if (rc != 0) {
		if (rc == -1)
			snprintf(err, cap, "Invalid library metadata");
		free(name);
		return NULL;
	}
	if (!name) {
		snprintf(err, cap, "Library name was not given");
		return NULL;
	}
	if (!lib_name_ok(name, name_len)) {
		free(name);
		snprintf(err, cap, "Library names can only contain letters, numbers, or "
				   "underscores(_) and must be at least one character long");
		return NULL;
	}
	if (strcasecmp(engine, "lua") != 0) {
		free(name);
		snprintf(err, cap, "Engine '%s' not found", engine);
		return NULL;
	}
	struct fn_lib *l = kv_calloc(1, sizeof(*l));
	l->name = name;
	l->code = kv_malloc(len + 1);
	memcpy(l->code, code, len);
	l->code[len] = '\0';
	l->code_len = len;
	l->body_off = (size_t)(nl - code);
	return l;
}

/* Create a library from its code: parse, run in a scratch state, check
 * names.  On success the library is installed (replacing one of the same
 * name when `replace`) and its name copied to name_out.  Returns 0, 1 when
 * REPLACE gave the code already loaded (nothing changed), or -1 with the
 * error text.  `restoring`: FUNCTION RESTORE's words for a name clash
 * (Redis's libraryJoin writes the name without LOAD's quotes). */
static int lib_create(const char *code, size_t len, bool replace, bool restoring, char *err,
		      size_t cap, char *name_out, size_t name_cap)
{
	const char *clash_fmt = restoring ? "Library %s already exists"
					  : "Library '%s' already exists";
	struct fn_lib *l = lib_parse(code, len, err, cap);
	if (!l)
		return -1;
	pthread_mutex_lock(&lib_lock);
	struct fn_lib **cur = lib_find_locked(l->name, strlen(l->name));
	bool exists = cur != NULL;
	/* REPLACE with the very same code changes nothing: no reload of every
	 * shard's functions, no rewrite of the libraries file. */
	bool same = exists && replace && (*cur)->code_len == len &&
		    memcmp((*cur)->code, code, len) == 0 && strcmp((*cur)->name, l->name) == 0;
	pthread_mutex_unlock(&lib_lock);
	if (same) {
		snprintf(name_out, name_cap, "%s", l->name);
		fn_lib_free(l);
		return 1;
	}
	if (exists && !replace) {
		snprintf(err, cap, clash_fmt, l->name);
		fn_lib_free(l);
		return -1;
	}
	struct script_engine *scratch = script_lua_new();
	scratch->on_function = on_function;
	scratch->on_function_arg = l;
	int rc = script_lua_load_library(scratch, l->code + l->body_off, l->code_len - l->body_off,
					 err, cap);
	script_lua_free(scratch);
	if (rc < 0) {
		fn_lib_free(l);
		return -1;
	}
	if (l->nfn == 0) {
		snprintf(err, cap, "No functions registered");
		fn_lib_free(l);
		return -1;
	}
	pthread_mutex_lock(&lib_lock);
	struct fn_lib **old = lib_find_locked(l->name, strlen(l->name));
	if (old && !replace) {
		pthread_mutex_unlock(&lib_lock);
		snprintf(err, cap, clash_fmt, l->name);
		fn_lib_free(l);
		return -1;
	}
	for (uint32_t i = 0; i < l->nfn; i++) {
		struct fn_lib *owner = NULL;
		if (lib_fn_find_locked(l->fn[i].name, strlen(l->fn[i].name), &owner) &&
		    (!old || owner != *old)) {
			pthread_mutex_unlock(&lib_lock);
			snprintf(err, cap, "Function %s already exists", l->fn[i].name);
			fn_lib_free(l);
			return -1;
		}
	}
	if (old) {
		struct fn_lib *o = *old;
		libs_unlink_locked(old);
		fn_lib_free(o);
	}
	libs_append_locked(l);
	for (uint32_t i = 0; i < l->nfn; i++)
		if (l->fn[i].flags & SCRIPT_FLAG_ALLOW_CROSS_SLOT)
			atomic_store(&lib_cross_slot, true);   /* never cleared: only a hint */
	atomic_fetch_add(&lib_gen, 1);
	snprintf(name_out, name_cap, "%s", l->name);
	pthread_mutex_unlock(&lib_lock);
	return 0;
}

/* This thread's function state, with every library loaded. */
static struct script_engine *engine_fn_get(struct shard *s)
{
	struct script_engine *e = atomic_load(&s->script_fn);
	uint64_t gen = atomic_load(&lib_gen);
	if (e && e->fn_gen == gen)
		return e;
	if (e) {
		atomic_store(&s->script_fn, NULL);
		script_lua_free(e);
	}
	e = script_lua_new();
	e->functions = true;
	e->busy_turn = s->busy_turn;
	e->busy_arg = s;
	pthread_mutex_lock(&lib_lock);
	e->fn_gen = atomic_load(&lib_gen);
	for (struct fn_lib *l = libs; l; l = l->next) {
		char err[512];
		if (script_lua_load_library(e, l->code + l->body_off, l->code_len - l->body_off, err,
					    sizeof(err)) < 0)
			log_warning("function library %s failed to load: %s", l->name, err);
	}
	pthread_mutex_unlock(&lib_lock);
	atomic_store(&s->script_fn, e);
	return e;
}

static bool fn_flags_of(const struct kv_slice *name, uint32_t *flags)
{
	pthread_mutex_lock(&lib_lock);
	struct fn_info *f = lib_fn_find_locked(name->ptr, name->len, NULL);
	if (f)
		*flags = f->flags;
	pthread_mutex_unlock(&lib_lock);
	return f != NULL;
}

static bool fcall_all_shards(int argc, const struct kv_slice *argv)
{
	if (argc < 3)
		return false;
	if (atomic_load_explicit(&g_config.lua_allow_undeclared_keys, memory_order_relaxed))
		return true;
	uint32_t flags;
	if (!atomic_load_explicit(&lib_cross_slot, memory_order_relaxed))
		return false;
	return fn_flags_of(&argv[1], &flags) && (flags & SCRIPT_FLAG_ALLOW_CROSS_SLOT);
}

static void fcall_generic(struct cmd_ctx *c, bool ro)
{
	struct shard *s = c->shard;
	struct script_engine *e = engine_fn_get(s);
	const struct kv_slice *name = &c->argv[1];
	uint32_t flags;
	if (!script_lua_function_flags(e, name->ptr, name->len, &flags)) {
		resp_error(c->out, "ERR Function not found");
		return;
	}
	const char *refused = script_refused_upfront(c, flags);
	if (refused) {
		resp_errorf(c->out, "%s", refused);
		return;
	}
	int64_t numkeys;
	if (!script_numkeys(c, "ERR Bad number of keys provided", &numkeys))
		return;
	if (!script_prepare(c, flags, ro))
		return;
	char fname[256];
	snprintf(fname, sizeof(fname), "%.*s", (int)(name->len < 255 ? name->len : 255), name->ptr);
	struct script_ctx sc = { .c = c, .dbid = c->dbid };
	struct script_run run = {
		.call = script_call,
		.arg = &sc,
		.readonly = ro || (flags & SCRIPT_FLAG_NO_WRITES),
		.allow_oom = !(flags & SCRIPT_FLAG_COMPAT) && (flags & SCRIPT_FLAG_ALLOW_OOM),
		.name = fname,
		.user = c->user,
	};
	pthread_mutex_lock(&e->info_lock);
	kv_buf_clear(&e->info_cmd);
	resp_array(&e->info_cmd, c->argc);
	for (int i = 0; i < c->argc; i++)
		resp_bulk(&e->info_cmd, c->argv[i].ptr, c->argv[i].len);
	snprintf(e->info_name, sizeof(e->info_name), "%s", fname);
	pthread_mutex_unlock(&e->info_lock);
	int nk = (int)numkeys;
	script_lua_fcall(e, &run, name->ptr, name->len, nk, c->argv + 3, c->argc - 3 - nk,
			 c->argv + 3 + nk, c->out);
	script_wake_blocked(&sc);
	atomic_store_explicit(&s->script_fn_mem, e->mem_bytes, memory_order_relaxed);
}

static void cmd_fcall(struct cmd_ctx *c) { fcall_generic(c, false); }
static void cmd_fcall_ro(struct cmd_ctx *c) { fcall_generic(c, true); }

/* ---- durability of the libraries ---- */

/*
 * The libraries live in one file of the data directory, FN_FILE
 * (persist/fn_file.c has its format), replaced whole on every change (write
 * a temporary file, fsync, rename, fsync the directory, all through the I/O
 * layer).  A change is acknowledged only once the file holds it; if the
 * file cannot be written the libraries go back to what they were and the
 * command fails.  Startup loads the file before any shard serves (a missing
 * file is no library; a damaged one refuses to start, naming the file).  A
 * script's writes are logged as the commands it ran, so replaying the AOF
 * never needs a library.  The file is written synchronously by the shard
 * thread that runs the FUNCTION command: a rare administrative command,
 * the one place scripting blocks a reactor on a file (docs/scripting.md).
 */
enum fn_policy { FN_APPEND, FN_REPLACE, FN_FLUSH };

static void fn_payload(struct kv_buf *b);
static int libs_restore(const uint8_t *p, size_t len, enum fn_policy policy, char *err,
			size_t cap);

static pthread_mutex_t persist_lock = PTHREAD_MUTEX_INITIALIZER;

static int functions_write(void)
{
	struct kv_buf payload = KV_BUF_INIT, file = KV_BUF_INIT;
	fn_payload(&payload);
	fn_file_encode(payload.data, payload.len, &file);
	kv_buf_free(&payload);
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/%s", g_config.dir, FN_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	struct kvio_file f;
	int rc = kvio_open(&f, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (rc == 0) {
		ssize_t n = kvio_pwrite(&f, file.data, file.len, 0);
		if (n != (ssize_t)file.len)
			rc = n < 0 ? (int)n : -EIO;
		if (rc == 0)
			rc = kvio_fsync(&f);
		kvio_close(&f);
		if (rc == 0)
			rc = kvio_rename(tmp, path);
		if (rc < 0)
			kvio_unlink(tmp);
		else
			rc = kvio_fsync_dir(g_config.dir);
	}
	kv_buf_free(&file);
	return rc;
}

int script_functions_recover(char *err, size_t cap)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", g_config.dir, FN_FILE);
	struct kv_buf payload = KV_BUF_INIT;
	int rc = fn_file_read(path, &payload, err, cap);
	if (rc == -ENOENT) {
		kv_buf_free(&payload);
		return 0;
	}
	if (rc == 0) {
		char e2[1100];
		rc = libs_restore((const uint8_t *)payload.data, payload.len, FN_FLUSH, e2,
				  sizeof(e2));
		if (rc < 0) {
			snprintf(err, cap, "%s: %s", path, e2);
			rc = KV_ECORRUPT;
		}
	}
	kv_buf_free(&payload);
	return rc;
}

/* A change of the libraries: serialized process-wide, made durable before
 * it is acknowledged. */
struct fn_change {
	struct kv_buf before;
};

static void fn_change_begin(struct fn_change *ch)
{
	pthread_mutex_lock(&persist_lock);
	kv_buf_init(&ch->before);
	fn_payload(&ch->before);
}

/* ok: the change was made.  Returns true once it is durable; false when it
 * was not made or could not be written (then the libraries are as before
 * and the error reply is in out). */
static bool fn_change_end(struct fn_change *ch, bool ok, struct kv_buf *out)
{
	if (ok) {
		int rc = functions_write();
		if (rc < 0) {
			char e2[1100];
			log_warning("function libraries could not be written to %s: %s", FN_FILE,
				    strerror(-rc));
			libs_restore((const uint8_t *)ch->before.data, ch->before.len, FN_FLUSH, e2,
				     sizeof(e2));
			resp_errorf(out, "ERR function libraries could not be made durable (%s); "
					 "nothing changed", strerror(-rc));
			ok = false;
		}
	}
	kv_buf_free(&ch->before);
	pthread_mutex_unlock(&persist_lock);
	return ok;
}

/* ---- FUNCTION ---- */

static void cmd_function_load(struct cmd_ctx *c)
{
	bool replace = false;
	int i = 2;
	for (; i < c->argc - 1; i++) {
		if (arg_is(&c->argv[i], "replace")) {
			replace = true;
			continue;
		}
		resp_errorf(c->out, "ERR Unknown option given: %.*s", (int)c->argv[i].len,
			    c->argv[i].ptr);
		return;
	}
	if (i >= c->argc) {
		resp_error(c->out, "ERR Function code is missing");
		return;
	}
	char err[1024], name[256];
	struct fn_change ch;
	fn_change_begin(&ch);
	int rc = lib_create(c->argv[i].ptr, c->argv[i].len, replace, false, err, sizeof(err),
			    name, sizeof(name));
	if (rc < 0) {
		fn_change_end(&ch, false, c->out);
		resp_errorf(c->out, "ERR %s", err);
		return;
	}
	if (fn_change_end(&ch, rc == 0, c->out) || rc == 1)
		resp_bulk_str(c->out, name);
}

static void cmd_function_delete(struct cmd_ctx *c)
{
	struct fn_change ch;
	fn_change_begin(&ch);
	pthread_mutex_lock(&lib_lock);
	struct fn_lib **p = lib_find_locked(c->argv[2].ptr, c->argv[2].len);
	if (p) {
		struct fn_lib *l = *p;
		libs_unlink_locked(p);
		fn_lib_free(l);
		atomic_fetch_add(&lib_gen, 1);
	}
	pthread_mutex_unlock(&lib_lock);
	if (!fn_change_end(&ch, p != NULL, c->out)) {
		if (!p)
			resp_error(c->out, "ERR Library not found");
		return;
	}
	resp_ok(c->out);
}

/* Redis's addReplySubcommandSyntaxError for a FUNCTION subcommand given
 * too many arguments: the subcommand as the client typed it. */
static void fn_subcommand_syntax_error(struct cmd_ctx *c)
{
	resp_errorf(c->out, "ERR unknown subcommand or wrong number of arguments for "
		    "'%.*s'. Try FUNCTION HELP.",
		    (int)KV_MIN(c->argv[1].len, 128), c->argv[1].ptr);
}

static void cmd_function_flush(struct cmd_ctx *c)
{
	if (c->argc > 3) {
		fn_subcommand_syntax_error(c);
		return;
	}
	if (c->argc == 3 && !arg_is(&c->argv[2], "sync") && !arg_is(&c->argv[2], "async")) {
		resp_error(c->out, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
		return;
	}
	struct fn_change ch;
	fn_change_begin(&ch);
	pthread_mutex_lock(&lib_lock);
	libs_flush_locked();
	atomic_fetch_add(&lib_gen, 1);
	pthread_mutex_unlock(&lib_lock);
	if (fn_change_end(&ch, true, c->out))
		resp_ok(c->out);
}

static void reply_fn_flags(struct kv_buf *out, uint32_t flags)
{
	static const struct {
		uint32_t f;
		const char *name;
	} names[] = {
		{ SCRIPT_FLAG_NO_WRITES, "no-writes" },
		{ SCRIPT_FLAG_ALLOW_OOM, "allow-oom" },
		{ SCRIPT_FLAG_ALLOW_STALE, "allow-stale" },
		{ SCRIPT_FLAG_NO_CLUSTER, "no-cluster" },
		{ SCRIPT_FLAG_ALLOW_CROSS_SLOT, "allow-cross-slot-keys" },
	};
	int n = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		n += (flags & names[i].f) != 0;
	resp_set(out, n);   /* a set in RESP3, as Redis 7.0 */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].f)
			resp_simple(out, names[i].name);
}

static void cmd_function_list(struct cmd_ctx *c)
{
	bool with_code = false;
	const struct kv_slice *pattern = NULL;
	for (int i = 2; i < c->argc; i++) {
		if (!with_code && arg_is(&c->argv[i], "withcode")) {
			with_code = true;
			continue;
		}
		if (!pattern && arg_is(&c->argv[i], "libraryname")) {
			if (i >= c->argc - 1) {
				resp_error(c->out, "ERR library name argument was not given");
				return;
			}
			pattern = &c->argv[++i];
			continue;
		}
		resp_errorf(c->out, "ERR Unknown argument %.*s", (int)c->argv[i].len, c->argv[i].ptr);
		return;
	}
	pthread_mutex_lock(&lib_lock);
	size_t mark = resp_array_begin(c->out);
	int64_t count = 0;
	for (struct fn_lib *l = libs; l; l = l->next) {
		if (pattern && !glob_match(pattern->ptr, pattern->len, l->name, strlen(l->name), true))
			continue;
		count++;
		/* Maps in RESP3, flat pairs in RESP2, as Redis 7.0. */
		resp_map(c->out, with_code ? 4 : 3);
		resp_bulk_str(c->out, "library_name");
		resp_bulk_str(c->out, l->name);
		resp_bulk_str(c->out, "engine");
		resp_bulk_str(c->out, "LUA");
		resp_bulk_str(c->out, "functions");
		resp_array(c->out, l->nfn);
		for (uint32_t i = 0; i < l->nfn; i++) {
			resp_map(c->out, 3);
			resp_bulk_str(c->out, "name");
			resp_bulk_str(c->out, l->fn[i].name);
			resp_bulk_str(c->out, "description");
			if (l->fn[i].desc)
				resp_bulk_str(c->out, l->fn[i].desc);
			else
				resp_null(c->out);
			resp_bulk_str(c->out, "flags");
			reply_fn_flags(c->out, l->fn[i].flags);
		}
		if (with_code) {
			resp_bulk_str(c->out, "library_code");
			resp_bulk(c->out, l->code, l->code_len);
		}
	}
	pthread_mutex_unlock(&lib_lock);
	resp_array_end(c->out, mark, count);
}

uint64_t script_function_libraries(void)
{
	uint64_t n = 0;
	pthread_mutex_lock(&lib_lock);
	for (struct fn_lib *l = libs; l; l = l->next)
		n++;
	pthread_mutex_unlock(&lib_lock);
	return n;
}

static void cmd_function_stats(struct cmd_ctx *c)
{
	uint64_t nlib = 0, nfn = 0;
	pthread_mutex_lock(&lib_lock);
	for (struct fn_lib *l = libs; l; l = l->next) {
		nlib++;
		nfn += l->nfn;
	}
	pthread_mutex_unlock(&lib_lock);
	resp_map(c->out, 2);
	resp_bulk_str(c->out, "running_script");
	bool shown = false;
	for (uint32_t i = 0; i < g_server.nshards && !shown; i++) {
		struct script_engine *e = atomic_load(&g_server.shards[i]->script_fn);
		if (!e)
			continue;
		pthread_mutex_lock(&e->info_lock);
		int64_t started = atomic_load(&e->started_ms);
		if (started && e->info_cmd.len) {
			resp_map(c->out, 3);
			resp_bulk_str(c->out, "name");
			resp_bulk_str(c->out, e->info_name);
			resp_bulk_str(c->out, "command");
			kv_buf_append(c->out, e->info_cmd.data, e->info_cmd.len);
			resp_bulk_str(c->out, "duration_ms");
			resp_int(c->out, kv_time_ms() - started);
			shown = true;
		}
		pthread_mutex_unlock(&e->info_lock);
	}
	if (!shown)
		resp_null(c->out);
	resp_bulk_str(c->out, "engines");
	resp_map(c->out, 1);
	resp_bulk_str(c->out, "LUA");
	resp_map(c->out, 2);
	resp_bulk_str(c->out, "libraries_count");
	resp_int(c->out, (int64_t)nlib);
	resp_bulk_str(c->out, "functions_count");
	resp_int(c->out, (int64_t)nfn);
}

static void cmd_function_kill(struct cmd_ctx *c)
{
	script_kill(c, true);
}

static void fn_payload(struct kv_buf *b);

static void cmd_function_dump(struct cmd_ctx *c)
{
	struct kv_buf b = KV_BUF_INIT;
	fn_payload(&b);
	resp_bulk(c->out, b.data, b.len);
	kv_buf_free(&b);
}

/* The DUMP payload of every library (persist/fn_file.c: Redis's format). */
static void fn_payload(struct kv_buf *b)
{
	pthread_mutex_lock(&lib_lock);
	for (struct fn_lib *l = libs; l; l = l->next)
		fn_payload_put(b, l->code, l->code_len);
	pthread_mutex_unlock(&lib_lock);
	fn_payload_end(b);
}

/* Install the libraries of a DUMP payload.  Returns 0, or -1 with the
 * error reply text in err and nothing changed. */
static int libs_restore(const uint8_t *p, size_t len, enum fn_policy policy, char *err,
			size_t cap)
{
	/* Parse every library first: a bad payload changes nothing. */
	struct fn_code *items;
	size_t n;
	int rc = fn_payload_parse(p, len, &items, &n, err, cap);
	if (rc == 0) {
		/* Build the new list aside (the old one moved away), and put the
		 * old one back if any library fails. */
		pthread_mutex_lock(&lib_lock);
		struct fn_lib *saved = libs, **saved_tail = libs_tail;
		libs = NULL;
		libs_tail = &libs;
		pthread_mutex_unlock(&lib_lock);
		char name[256], e2[1024];
		if (policy != FN_FLUSH)
			for (struct fn_lib *l = saved; l; l = l->next)
				lib_create(l->code, l->code_len, false, true, e2, sizeof(e2), name,
					   sizeof(name));
		for (size_t i = 0; i < n; i++) {
			if (lib_create(items[i].code, items[i].len, policy == FN_REPLACE, true, e2,
				       sizeof(e2), name, sizeof(name)) < 0) {
				snprintf(err, cap, "ERR %s", e2);
				rc = -1;
				break;
			}
		}
		pthread_mutex_lock(&lib_lock);
		struct fn_lib *built = libs, **built_tail = libs_tail;
		if (rc < 0) {
			libs_flush_locked();
			libs = saved;
			libs_tail = saved ? saved_tail : &libs;
		} else {
			libs = saved;
			libs_tail = saved_tail;
			libs_flush_locked();
			libs = built;
			libs_tail = built ? built_tail : &libs;
		}
		atomic_fetch_add(&lib_gen, 1);
		pthread_mutex_unlock(&lib_lock);
	}
	fn_codes_free(items, n);
	return rc;
}

static void cmd_function_restore(struct cmd_ctx *c)
{
	enum fn_policy policy = FN_APPEND;
	if (c->argc > 4) {
		fn_subcommand_syntax_error(c);
		return;
	}
	if (c->argc == 4) {
		if (arg_is(&c->argv[3], "append"))
			policy = FN_APPEND;
		else if (arg_is(&c->argv[3], "replace"))
			policy = FN_REPLACE;
		else if (arg_is(&c->argv[3], "flush"))
			policy = FN_FLUSH;
		else {
			resp_error(c->out, "ERR Wrong restore policy given, value should be either "
					   "FLUSH, APPEND or REPLACE.");
			return;
		}
	}
	struct fn_change ch;
	fn_change_begin(&ch);
	char err[1100];
	if (libs_restore((const uint8_t *)c->argv[2].ptr, c->argv[2].len, policy, err,
			 sizeof(err)) < 0) {
		fn_change_end(&ch, false, c->out);
		resp_error(c->out, err);
		return;
	}
	if (fn_change_end(&ch, true, c->out))
		resp_ok(c->out);
}

static void cmd_function_help(struct cmd_ctx *c)
{
	static const char *const lines[] = {
		"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"LOAD [REPLACE] <FUNCTION CODE>",
		"    Create a new library with the given library name and code.",
		"DELETE <LIBRARY NAME>",
		"    Delete the given library.",
		"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
		"    Return general information on all the libraries:",
		"    * Library name",
		"    * The engine used to run the Library",
		"    * Library description",
		"    * Functions list",
		"    * Library code (if WITHCODE is given)",
		"    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
		"STATS",
		"    Return information about the current function running:",
		"    * Function name",
		"    * Command used to run the function",
		"    * Duration in MS that the function is running",
		"    If no function is running, return nil",
		"    In addition, returns a list of available engines.",
		"KILL",
		"    Kill the current running function.",
		"FLUSH [ASYNC|SYNC]",
		"    Delete all the libraries.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the libraries.",
		"    * SYNC: Synchronously flush the libraries.",
		"DUMP",
		"    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
		"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
		"    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
		"    control how to handle existing libraries (default APPEND):",
		"    * FLUSH: delete all existing libraries.",
		"    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
		"    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
		"      libraries with the new libraries (notice that even on this option there is a chance of failure",
		"      in case of functions name collision with another library).",
		"HELP",
		"    Prints this help.",
	};
	size_t n = sizeof(lines) / sizeof(lines[0]);
	resp_array(c->out, (int64_t)n);
	for (size_t i = 0; i < n; i++)
		resp_simple(c->out, lines[i]);
}

#define FN_FLAGS (CMD_LOCAL | CMD_NOSCRIPT)

static const struct kv_command function_subs[] = {
	{ .name = "function|load", .arity = -3, .flags = FN_FLAGS | CMD_WRITE | CMD_DENYOOM,
	  .proc = cmd_function_load, .group = "scripting", .since = "7.0.0",
	  .summary = "Create a function with the given arguments (name, code, description)",
	  .complexity = "O(1) (considering compilation time is redundant)" },
	{ .name = "function|delete", .arity = 3, .flags = FN_FLAGS | CMD_WRITE,
	  .proc = cmd_function_delete, .group = "scripting", .since = "7.0.0",
	  .summary = "Delete a function by name", .complexity = "O(1)" },
	{ .name = "function|flush", .arity = -2, .flags = FN_FLAGS | CMD_WRITE,
	  .proc = cmd_function_flush, .group = "scripting", .since = "7.0.0",
	  .summary = "Deleting all functions", .complexity = "O(N) where N is the number of functions deleted" },
	{ .name = "function|list", .arity = -2, .flags = FN_FLAGS,
	  .proc = cmd_function_list, .group = "scripting", .since = "7.0.0",
	  .summary = "List information about all the functions", .complexity = "O(N) where N is the number of functions" },
	{ .name = "function|stats", .arity = 2, .flags = FN_FLAGS,
	  .proc = cmd_function_stats, .group = "scripting", .since = "7.0.0",
	  .summary = "Return information about the function currently running (name, description, duration)",
	  .complexity = "O(1)" },
	{ .name = "function|kill", .arity = 2, .flags = FN_FLAGS,
	  .proc = cmd_function_kill, .group = "scripting", .since = "7.0.0",
	  .summary = "Kill the function currently in execution.", .complexity = "O(1)" },
	{ .name = "function|dump", .arity = 2, .flags = FN_FLAGS,
	  .proc = cmd_function_dump, .group = "scripting", .since = "7.0.0",
	  .summary = "Dump all functions into a serialized binary payload",
	  .complexity = "O(N) where N is the number of functions" },
	{ .name = "function|restore", .arity = -3, .flags = FN_FLAGS | CMD_WRITE | CMD_DENYOOM,
	  .proc = cmd_function_restore, .group = "scripting", .since = "7.0.0",
	  .summary = "Restore all the functions on the given payload",
	  .complexity = "O(N) where N is the number of functions on the payload" },
	{ .name = "function|help", .arity = 2, .flags = CMD_LOCAL | CMD_LOADING | CMD_STALE,
	  .proc = cmd_function_help, .group = "scripting", .since = "7.0.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = NULL },
};

static void cmd_function(struct cmd_ctx *c)
{
	cmd_run_sub(c, function_subs, "function");
}

const struct kv_command cmd_table_function[] = {
	{ .name = "fcall", .arity = -3, .flags = EVAL_FLAGS, .proc = cmd_fcall, .keys = eval_keys,
	  .all_shards = fcall_all_shards, .group = "scripting", .since = "7.0.0",
	  .summary = "Invoke a function", .complexity = "Depends on the function that is executed." },
	{ .name = "fcall_ro", .arity = -3, .flags = CMD_NOSCRIPT | CMD_STALE | CMD_READONLY | CMD_SKIP_MONITOR,
	  .proc = cmd_fcall_ro, .keys = eval_keys, .all_shards = fcall_all_shards,
	  .group = "scripting", .since = "7.0.0", .summary = "Invoke a read-only function",
	  .complexity = "Depends on the function that is executed." },
	{ .name = "function", .arity = -2, .flags = CMD_LOCAL, .proc = cmd_function,
	  .group = "scripting", .since = "7.0.0",
	  .summary = "A container for function commands", .complexity = "Depends on subcommand.",
	  .subcommands = function_subs },
	{ .name = NULL },
};
