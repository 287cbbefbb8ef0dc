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
 * body into its own Lua state the first time it runs it.  SCRIPT FLUSH
 * empties the cache and bumps a generation; a shard whose state is older
 * starts a fresh one before its next script.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "base/sha1.h"
#include "commands/config.h"
#include "server/script.h"
#include "server/script_lua.h"
#include "server/shard.h"

/* ---- the cache, shared by the shards ---- */

struct script_entry {
	struct script_entry *next;
	char sha[41];
	uint32_t flags;
	size_t len;
	char body[];
};

#define SCRIPT_BUCKETS 4096u

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct script_entry *cache[SCRIPT_BUCKETS];
static uint64_t cache_count, cache_bytes;
static _Atomic uint64_t cache_gen = 1;

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

static void cache_add(const char *sha, uint32_t flags, const char *body, size_t len)
{
	pthread_mutex_lock(&cache_lock);
	if (!cache_find_locked(sha)) {
		struct script_entry *e = kv_malloc(sizeof(*e) + len + 1);
		memcpy(e->sha, sha, 41);
		e->flags = flags;
		e->len = len;
		memcpy(e->body, body, len);
		e->body[len] = '\0';
		uint32_t b = sha_bucket(sha);
		e->next = cache[b];
		cache[b] = e;
		cache_count++;
		cache_bytes += len + 40;
	}
	pthread_mutex_unlock(&cache_lock);
}

/* A copy of the body (caller frees) and its flags, or NULL. */
static char *cache_get(const char *sha, size_t *len, uint32_t *flags)
{
	char *copy = NULL;
	pthread_mutex_lock(&cache_lock);
	struct script_entry *e = cache_find_locked(sha);
	if (e) {
		copy = kv_malloc(e->len + 1);
		memcpy(copy, e->body, e->len + 1);
		*len = e->len;
		if (flags)
			*flags = e->flags;
	}
	pthread_mutex_unlock(&cache_lock);
	return copy;
}

static bool cache_flags(const char *sha, uint32_t *flags)
{
	pthread_mutex_lock(&cache_lock);
	struct script_entry *e = cache_find_locked(sha);
	if (e)
		*flags = e->flags;
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
			free(e);
		}
	}
	cache_count = cache_bytes = 0;
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

/* ---- the engine of this thread ---- */

static struct script_engine *engine_get(struct shard *s)
{
	struct script_engine *e = atomic_load(&s->script);
	uint64_t gen = atomic_load(&cache_gen);
	if (e && e->gen != gen) {
		atomic_store(&s->script, NULL);
		script_lua_free(e);
		e = NULL;
	}
	if (!e) {
		e = script_lua_new();
		e->gen = gen;
		atomic_store(&s->script, e);
	}
	return e;
}

static void lower_sha(char *dst, const char *src)
{
	for (int i = 0; i < 40; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[40] = '\0';
}

/* Make sure `sha`'s function exists in e; body may be NULL (EVALSHA: take
 * it from the cache).  Returns 0 with its flags, 1 for no such script, or
 * -1 with the error reply appended to out. */
static int engine_load(struct script_engine *e, const char *sha, const char *body, size_t len,
		       uint32_t *flags, struct kv_buf *out)
{
	char fname[43] = "f_";
	memcpy(fname + 2, sha, 41);
	if (script_lua_has(e, fname, flags))
		return 0;
	char *owned = NULL;
	if (!body) {
		owned = cache_get(sha, &len, NULL);
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
	} else if (!owned) {
		cache_add(sha, *flags, body, len);
	}
	free(owned);
	return rc;
}

/* ---- redis.call ---- */

struct script_ctx {
	struct cmd_ctx *c;
	uint32_t dbid;
};

#define SCRIPT_ERR_UNDECLARED \
	"Script attempted to access a key of a shard it does not hold: declare every key " \
	"in KEYS, or allow undeclared keys (the allow-cross-slot-keys flag, or CONFIG SET " \
	"lua-allow-undeclared-keys yes)"

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
	 * (CLIENT, PUBLISH, the connection's MULTI state) are refused as
	 * Redis refuses its noscript commands. */
	if ((flags & CMD_NOSCRIPT) || cmd->bcast || strcmp(cmd->name, "client") == 0 ||
	    ((flags & CMD_LOCAL) && cmd->subcommands == NULL && strcmp(cmd->name, "ping") != 0 &&
	     strcmp(cmd->name, "echo") != 0 && strcmp(cmd->name, "select") != 0 &&
	     strcmp(cmd->name, "time") != 0))
		return "This Redis command is not allowed from script";
	if (run->readonly && (flags & (CMD_WRITE | CMD_MAY_REPLICATE)))
		return "Write commands are not allowed from read-only scripts.";
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
	};
	size_t before = out->len;
	shard_call_run(s, &call, NULL, c->held, out);
	if (strcmp(cmd->name, "select") == 0 && out->len > before && out->data[before] == '+') {
		int64_t id;
		if (arg_to_int64(&argv[1], &id))
			sc->dbid = (uint32_t)id;
	}
	if (flags & CMD_WRITE) {
		run->wrote = true;
		struct script_engine *e = atomic_load(&s->script);
		atomic_store(&e->wrote, true);
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
		if (body->len != 40)
			return false;
		char s[41];
		lower_sha(s, body->ptr);
		if (!cache_flags(s, &flags))
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

static void eval_generic(struct cmd_ctx *c, bool evalsha, bool ro)
{
	int64_t numkeys;
	if (!arg_to_int64(&c->argv[2], &numkeys)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	if (numkeys > c->argc - 3) {
		resp_error(c->out, "ERR Number of keys can't be greater than number of args");
		return;
	}
	if (numkeys < 0) {
		resp_error(c->out, "ERR Number of keys can't be negative");
		return;
	}
	struct shard *s = c->shard;
	struct script_engine *e = engine_get(s);
	char sha[41];
	const struct kv_slice *body = &c->argv[1];
	uint32_t flags = 0;
	int rc;
	if (evalsha) {
		if (body->len != 40) {
			resp_error(c->out, "NOSCRIPT No matching script. Please use EVAL.");
			return;
		}
		lower_sha(sha, body->ptr);
		rc = engine_load(e, sha, NULL, 0, &flags, c->out);
	} else {
		sha1_hex(body->ptr, body->len, sha);
		rc = engine_load(e, sha, body->ptr, body->len, &flags, c->out);
	}
	if (rc < 0)
		return;
	if (rc > 0) {
		resp_error(c->out, "NOSCRIPT No matching script. Please use EVAL.");
		return;
	}
	if (!(flags & SCRIPT_FLAG_COMPAT) && !(flags & SCRIPT_FLAG_NO_WRITES)) {
		const char *refused = shard_write_refused(s, c->held);
		if (refused) {
			resp_errorf(c->out, "%s", refused);
			return;
		}
		if (ro) {
			resp_error(c->out, "ERR Can not execute a script with write flag using *_ro "
					   "command.");
			return;
		}
	}
	if (!(flags & SCRIPT_FLAG_COMPAT) &&
	    !(flags & (SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_NO_WRITES)) &&
	    shard_oom_refused(s, c->held, c->now_ms)) {
		resp_error(c->out, "OOM allow-oom flag is not set on the script, can not run it "
				   "when used memory > 'maxmemory'");
		return;
	}
	struct script_ctx sc = { .c = c, .dbid = c->dbid };
	struct script_run run = {
		.call = script_call,
		.arg = &sc,
		.readonly = ro || (flags & SCRIPT_FLAG_NO_WRITES),
		.name = sha,
	};
	char fname[43] = "f_";
	memcpy(fname + 2, sha, 41);
	int nk = (int)numkeys;
	script_lua_run(e, &run, fname, nk, c->argv + 3, c->argc - 3 - nk, c->argv + 3 + nk,
		       c->out);
}

static void cmd_eval(struct cmd_ctx *c) { eval_generic(c, false, false); }
static void cmd_evalsha(struct cmd_ctx *c) { eval_generic(c, true, false); }
static void cmd_eval_ro(struct cmd_ctx *c) { eval_generic(c, false, true); }
static void cmd_evalsha_ro(struct cmd_ctx *c) { eval_generic(c, true, true); }

/* ---- SCRIPT ---- */

static void cmd_script_load(struct cmd_ctx *c)
{
	struct script_engine *e = engine_get(c->shard);
	char sha[41];
	uint32_t flags;
	sha1_hex(c->argv[2].ptr, c->argv[2].len, sha);
	if (engine_load(e, sha, c->argv[2].ptr, c->argv[2].len, &flags, c->out) < 0)
		return;
	/* Compiled here before (so not added by engine_load), but maybe
	 * flushed from the cache since: make sure every shard can find it. */
	cache_add(sha, flags, c->argv[2].ptr, c->argv[2].len);
	resp_bulk(c->out, sha, 40);
}

static void cmd_script_exists(struct cmd_ctx *c)
{
	resp_array(c->out, c->argc - 2);
	for (int i = 2; i < c->argc; i++) {
		uint32_t flags;
		char sha[41];
		bool found = false;
		if (c->argv[i].len == 40) {
			lower_sha(sha, c->argv[i].ptr);
			found = cache_flags(sha, &flags);
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

/* SCRIPT KILL / FUNCTION KILL: stop the script that has run past
 * busy-reply-threshold on any shard, unless it wrote. */
void script_kill(struct cmd_ctx *c, bool function)
{
	(void)function;
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct script_engine *e = atomic_load(&g_server.shards[i]->script);
		if (!e || !atomic_load(&e->started_ms) || !atomic_load(&e->busy))
			continue;
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

static void cmd_script_debug(struct cmd_ctx *c)
{
	resp_error(c->out, "ERR SCRIPT DEBUG is not supported by kevy");
}

static void cmd_script_help(struct cmd_ctx *c)
{
	static const char *const lines[] = {
		"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"DEBUG (YES|SYNC|NO)",
		"    Set the debug mode for subsequent scripts executed (not supported by kevy).",
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
	  .complexity = "O(N) with N being the number of scripts to check" },
	{ .name = "script|flush", .arity = -2, .flags = CMD_LOCAL | CMD_NOSCRIPT,
	  .proc = cmd_script_flush, .group = "scripting", .since = "2.6.0",
	  .summary = "Remove all the scripts from the script cache.", .complexity = "O(N)" },
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

#define EVAL_FLAGS (CMD_NOSCRIPT | CMD_STALE | CMD_MAY_REPLICATE)

const struct kv_command cmd_table_script[] = {
	{ .name = "eval", .arity = -3, .flags = EVAL_FLAGS, .proc = cmd_eval, .keys = eval_keys,
	  .all_shards = eval_all_shards, .group = "scripting", .since = "2.6.0",
	  .summary = "Execute a Lua script server side", .complexity = "Depends on the script that is executed." },
	{ .name = "evalsha", .arity = -3, .flags = EVAL_FLAGS, .proc = cmd_evalsha,
	  .keys = eval_keys, .all_shards = evalsha_all_shards, .group = "scripting",
	  .since = "2.6.0", .summary = "Execute a Lua script server side",
	  .complexity = "Depends on the script that is executed." },
	{ .name = "eval_ro", .arity = -3, .flags = CMD_NOSCRIPT | CMD_STALE | CMD_READONLY,
	  .proc = cmd_eval_ro, .keys = eval_keys, .all_shards = eval_all_shards,
	  .group = "scripting", .since = "7.0.0",
	  .summary = "Execute a read-only Lua script server side",
	  .complexity = "Depends on the script that is executed." },
	{ .name = "evalsha_ro", .arity = -3, .flags = CMD_NOSCRIPT | CMD_STALE | CMD_READONLY,
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
