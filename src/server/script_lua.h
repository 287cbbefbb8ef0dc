/*
 * script_lua.h - the Lua side of scripting: one sandboxed Lua 5.1 state per
 * shard thread, the redis.* API a script calls, and the conversions between
 * Lua values and RESP replies (docs/scripting.md).
 *
 * An engine belongs to the shard thread that created it and is used only by
 * that thread; the few fields another thread reads (SCRIPT KILL) are
 * atomics.  A script runs inside script_lua_run with a struct script_run
 * that says which keyspaces are held and whether writes are allowed; every
 * redis.call goes through script_lua_call_hook, which script.c supplies, so
 * this file knows nothing of routing or shards.
 *
 * Not here: the script cache shared by the shards, the commands (script.c).
 */
#ifndef KV_SCRIPT_LUA_H
#define KV_SCRIPT_LUA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "base/buf.h"

struct lua_State;
struct script_run;
struct script_engine;
struct acl_user;

/* Script flags: the `#!lua flags=...` shebang (Redis 7.0's names). */
enum script_flag {
	SCRIPT_FLAG_COMPAT = 1u << 0,          /* no shebang: EVAL as before 7.0 */
	SCRIPT_FLAG_NO_WRITES = 1u << 1,
	SCRIPT_FLAG_ALLOW_OOM = 1u << 2,
	SCRIPT_FLAG_ALLOW_STALE = 1u << 3,
	SCRIPT_FLAG_NO_CLUSTER = 1u << 4,
	SCRIPT_FLAG_ALLOW_CROSS_SLOT = 1u << 5,
};

/* The next blank-separated word of a "#!" line in [*p, end): its start
 * (length in *len, *p moved past it), or NULL at the end. */
const char *script_shebang_word(const char **p, const char *end, size_t *len);
/* Parse the shebang of a script body.  Returns 0 with *flags and
 * *shebang_len (bytes to skip, the '\n' kept so line numbers stay), or -1
 * with Redis's error text (no "ERR " prefix) in err. */
int script_parse_shebang(const char *body, size_t len, uint32_t *flags, size_t *shebang_len,
			 char *err, size_t err_cap);
/* The flags named in a comma-separated list (flags=... of a shebang, or
 * redis.register_function's flags); -1 and the unknown name in err. */
int script_parse_flag_name(const char *name, size_t len, uint32_t *flags);

/* What redis.call asks of the runtime: run argv, append its RESP reply to
 * out.  Returns NULL, or an error text (the command did not run) that the
 * script sees as a Redis error; "-CODE msg" keeps its code, else "ERR". */
typedef const char *(*script_call_fn)(struct script_run *run, int argc,
				       const struct kv_slice *argv, struct kv_buf *out);

/* One script invocation: set by the caller, read by the API functions. */
struct script_run {
	script_call_fn call;
	void *arg;                /* the caller's (script.c: the command context) */
	bool readonly;            /* EVAL_RO, FCALL_RO, or a no-writes script */
	bool wrote;               /* a write command ran (SCRIPT KILL refuses then) */
	/* An allow-oom script (EVAL's compat mode excluded, as in Redis): its
	 * deny-oom commands are never refused for memory. */
	bool allow_oom;
	int resp;                 /* redis.setresp: 2 or 3 */
	const char *name;         /* the SHA (EVAL) or function name, for errors */
	struct script_engine *engine;  /* set while it runs */
	/* The calling client's ACL user (redis.acl_check_cmd); NULL: all
	 * allowed. */
	const struct acl_user *user;
};

struct script_engine {
	struct lua_State *L;
	uint64_t gen;             /* the script cache generation it compiled from */
	uint64_t evict_seen;      /* the cache's evictions it has applied (script.c) */
	size_t mem_bytes;         /* Lua heap, from its allocator */
	size_t mem_limit;         /* while a script runs: lua-memory-limit (0: none) */
	struct script_run *run;   /* the running script, or NULL */
	uint64_t gc_count;
	/* Read by SCRIPT KILL on other threads. */
	_Atomic int64_t started_ms;   /* 0 when idle */
	_Atomic bool busy;            /* running longer than busy-reply-threshold */
	_Atomic bool wrote;
	_Atomic bool kill;
	/* FUNCTION LOAD: the library's code is running (globals are the
	 * library API), its deadline, and who hears of each function. */
	bool functions;           /* FCALL's state (BUSY names FUNCTION KILL) */
	bool loading;
	int64_t load_deadline_ms;
	void (*on_function)(void *arg, const char *name, size_t nlen, const char *desc,
			    size_t dlen, uint32_t flags);
	void *on_function_arg;
	uint64_t fn_gen;          /* the function libraries generation it loaded */
	/* FUNCTION STATS from any thread: the running call (a RESP array of its
	 * arguments) and its function's name, under info_lock. */
	pthread_mutex_t info_lock;
	struct kv_buf info_cmd;
	char info_name[256];
	/* While busy: the owning shard answers its other clients (-BUSY,
	 * SCRIPT KILL, ...) from the script's hook (shard.c, shard_busy_turn). */
	void (*busy_turn)(void *arg);
	void *busy_arg;
	bool in_busy_turn;
};

/* While a script anywhere runs past busy-reply-threshold: Redis's -BUSY
 * error text (without the '-'); NULL otherwise.  Any thread. */
const char *script_busy_error(void);

/* A fresh sandboxed state; aborts only when Lua cannot allocate at all. */
struct script_engine *script_lua_new(void);
void script_lua_free(struct script_engine *e);

/* Compile body (shebang already stripped to shebang_len) as the function
 * named `fname` (f_<sha> or a library's), keeping its flags.  Returns 0, or
 * -1 with Lua's message in err. */
int script_lua_compile(struct script_engine *e, const char *fname, const char *body, size_t len,
		       size_t shebang_len, uint32_t flags, char *err, size_t err_cap);
/* Whether `fname` is compiled; its flags into *flags and the tag script.c
 * gave it (script_lua_set_tag, 0 if none) into *tag; either may be NULL. */
bool script_lua_has(struct script_engine *e, const char *fname, uint32_t *flags, uint64_t *tag);
/* Remember a number with a compiled script: script.c's handle on the
 * script's place in the shared cache (is it still there?). */
void script_lua_set_tag(struct script_engine *e, const char *fname, uint64_t tag);
/* Forget a compiled script (evicted from the cache): its code becomes
 * garbage for Lua's collector. */
void script_lua_drop(struct script_engine *e, const char *fname);

/* Run fname with KEYS and ARGV (EVAL's globals), its reply (or the error
 * Redis would give) appended to out. */
void script_lua_run(struct script_engine *e, struct script_run *run, const char *fname,
		    int nkeys, const struct kv_slice *keys, int nargs, const struct kv_slice *args,
		    struct kv_buf *out);

/* FUNCTION LOAD: run a library's code (after its shebang, the '\n' kept)
 * so it registers its functions into e (e->on_function hears each).
 * Returns 0, or -1 with Redis's error (no "ERR " prefix) in err. */
int script_lua_load_library(struct script_engine *e, const char *code, size_t len, char *err,
			    size_t err_cap);
/* FCALL: run function `name` with KEYS and ARGV as its two arguments.
 * Returns false (out untouched) when e has no such function. */
bool script_lua_fcall(struct script_engine *e, struct script_run *run, const char *name,
		      size_t nlen, int nkeys, const struct kv_slice *keys, int nargs,
		      const struct kv_slice *args, struct kv_buf *out);
bool script_lua_function_flags(struct script_engine *e, const char *name, size_t nlen,
			       uint32_t *flags);

#endif
