/*
 * cmd.h - the command table and the context a command runs in.
 *
 * A command handler is written once, whatever shards its keys live on.  The
 * runtime (shard.c) decides where it runs from the command's flags and keys:
 *   - CMD_LOCAL commands run on the client's own shard with `conn` set and
 *     touch no keyspace (PING, CLIENT, AUTH, ...);
 *   - a command whose keys all live on one shard runs on that shard's thread
 *     (forwarded there if it is not the client's shard; `conn` is NULL then);
 *   - a command whose keys span shards, or that is CMD_ALL_SHARDS, runs on the
 *     client's shard after it has taken the keyspace of every shard involved,
 *     in ascending shard order (so it is atomic and cannot deadlock).
 * In every case cmd_db() gives the keyspace that owns a key in the client's
 * database, and it is safe to use: the executing thread holds every database
 * of each shard involved.
 *
 * Handlers append exactly one RESP reply to c->out and report errors as error
 * replies; they never fail otherwise.
 */
#ifndef KV_CMD_H
#define KV_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/glob.h"      /* for handlers: glob_match */
#include "base/util_num.h"  /* for handlers: arg_is, arg_to_int64, ... */
#include "commands/runtime.h"
#include "proto/resp.h"
#include "store/store.h"

struct conn;
struct shard;
struct cmd_call;
struct acl_user;

enum cmd_flags {
	CMD_WRITE = 1u << 0,      /* may modify the keyspace */
	CMD_READONLY = 1u << 1,   /* reads the keyspace, never modifies it */
	CMD_DENYOOM = 1u << 2,    /* may grow memory */
	CMD_ADMIN = 1u << 3,
	CMD_FAST = 1u << 4,       /* O(1) or O(log N) */
	CMD_NOAUTH = 1u << 5,     /* allowed before AUTH (AUTH, HELLO, QUIT) */
	CMD_LOCAL = 1u << 6,      /* runs on the client's shard, no keyspace */
	CMD_ALL_SHARDS = 1u << 7, /* needs every shard's keyspace (DBSIZE, KEYS) */
	CMD_LOADING = 1u << 8,    /* allowed while loading */
	CMD_STALE = 1u << 9,
	CMD_NOSCRIPT = 1u << 10,
	CMD_RANDOM = 1u << 11,    /* reply depends on randomness/time (COMMAND INFO) */
	CMD_SORT_FOR_SCRIPT = 1u << 12,
	CMD_MAY_REPLICATE = 1u << 13,
	CMD_NO_MULTI = 1u << 14,
	CMD_PUBSUB = 1u << 15,
	CMD_BLOCKING = 1u << 16,
	CMD_WAIT_DURABLE = 1u << 17, /* reply only once every held shard's AOF is fsynced (WAITAOF) */
	CMD_WAIT_SNAPSHOT = 1u << 18, /* reply only once every held shard's snapshot is done (SAVE) */
	CMD_PROTECTED = 1u << 19, /* DEBUG, MODULE LOAD...: only as enable-debug/module-command allow */
	CMD_SKIP_MONITOR = 1u << 20, /* scripts: MONITOR shows the line before the script's commands */
};

struct cmd_ctx {
	int argc;
	const struct kv_slice *argv;
	struct kv_buf *out;          /* the reply is appended here */
	int64_t now_ms;              /* the command's clock (wall ms) */
	/* The runtime's services (commands/runtime.h) and the executing shard's
	 * counters; both NULL when no server runs the command (AOF replay, the
	 * tools, unit tests). */
	const struct cmd_runtime *rt;
	struct shard_stats *stats;
	struct shard *shard;         /* the executing thread: the runtime's, opaque here */
	struct conn *conn;           /* the client when running on its shard, else NULL */
	/* Keyspaces held for this command, indexed by shard id: each shard's
	 * databases, NULL where not held.  Private to the runtime: use
	 * cmd_db()/cmd_db_at()/cmd_dbs_at(). */
	struct kv_dbs **held;
	uint32_t nshards;
	/* The database the command runs in (the client's SELECT); cmd_db() and
	 * cmd_db_at() answer in it.  A handler may change it (SELECT inside a
	 * transaction changes it for the commands that follow). */
	uint32_t dbid;
	/* The ACL user the command runs as (commands/acl.h): the client's,
	 * carried with a forwarded call; NULL without a runtime (replay,
	 * tools), which runs everything. */
	struct acl_user *user;
	/* The client the call came from, also when it was forwarded here
	 * (then only for ACL LOG's client info, read under its shard's
	 * clients lock); NULL when there is none. */
	const struct conn *origin;
	/* A script's redis.call runs it (Redis's CLIENT_SCRIPT). */
	bool in_script;
};

/* Count a read lookup as a keyspace hit or miss (INFO stats), as Redis's
 * lookupKeyRead does; nothing to count without a runtime. */
static inline void cmd_count_lookup(const struct cmd_ctx *c, bool hit)
{
	if (c->stats)
		stat_add(hit ? &c->stats->keyspace_hits : &c->stats->keyspace_misses, 1);
}

/* The keyspace that owns `key`; the runtime guarantees it is held. */
struct kv_db *cmd_db(const struct cmd_ctx *c, const char *key, size_t klen);
static inline struct kv_db *cmd_db_arg(const struct cmd_ctx *c, int i)
{
	return cmd_db(c, c->argv[i].ptr, c->argv[i].len);
}
/* Keyspace of shard i in the command's database (CMD_ALL_SHARDS commands;
 * asserts it is held). */
struct kv_db *cmd_db_at(const struct cmd_ctx *c, uint32_t shard_id);
/* Every database of shard i (MOVE, COPY ... DB, SWAPDB, FLUSHALL, INFO
 * keyspace; asserts it is held). */
struct kv_dbs *cmd_dbs_at(const struct cmd_ctx *c, uint32_t shard_id);
/* Shard that owns a key. */
uint32_t cmd_key_shard(const struct cmd_ctx *c, const char *key, size_t klen);

/* What a txn read, per shard, for the header of a unit across shards
 * (docs/durability.md, "Units across shards"): between cmd_reads_begin and
 * cmd_reads_end on this thread, cmd_db() records each key it is asked for
 * (database and bytes, as an AOF key list: persist/aof_format.h), and
 * cmd_db_at() / cmd_dbs_at() mark the whole shard read. */
struct cmd_reads {
	bool all;
	uint64_t n;            /* keys in `keys` */
	struct kv_buf keys;    /* n times: varint db, varint length, bytes */
};
void cmd_reads_begin(uint32_t nshards);
/* The array (nshards entries) the caller frees with cmd_reads_free. */
struct cmd_reads *cmd_reads_end(void);
void cmd_reads_free(struct cmd_reads *r, uint32_t nshards);

typedef void (*cmd_proc)(struct cmd_ctx *c);
/* Custom key extraction: writes the argv indexes of the keys into idx
 * (at most max) and returns the count, or -1 when the arguments are
 * malformed in a way the handler itself will report. */
typedef int (*cmd_keys_fn)(int argc, const struct kv_slice *argv, int *idx, int max);
/* Custom routing for keyless commands bound to one shard (SCAN's cursor
 * names the shard): returns a shard id < nshards. */
typedef uint32_t (*cmd_route_fn)(int argc, const struct kv_slice *argv, uint32_t nshards);
/* Commands that always run on the client's shard, holding the keyspaces of
 * a set of shards derived from the connection (EXEC: its queued commands and
 * WATCHed keys).  Writes the sorted shard ids to out and returns the count;
 * 0 runs the command at once without any keyspace but the client's own. */
typedef uint32_t (*cmd_conn_shards_fn)(struct conn *c, int argc, const struct kv_slice *argv,
					uint32_t *out);
/* Calls that must hold every shard although they name few keys: keys they
 * will read are found only while they run (SORT ... BY/GET patterns, whose
 * key names come from the sorted elements).  Returns true when this call
 * needs every shard's keyspace, as a CMD_ALL_SHARDS command does; false
 * leaves the call to its keys.  Must be pure: the runtime asks it wherever
 * it computes a call's shards (dispatch, EXEC's queue, blocking). */
typedef bool (*cmd_all_shards_fn)(int argc, const struct kv_slice *argv);

struct kv_command {
	const char *name;        /* lower case */
	int arity;               /* Redis convention: N exactly, -N at least N (name included) */
	uint32_t flags;
	int first_key;           /* Redis legacy key spec: 0 when keyless */
	int last_key;            /* negative counts from the end (-1 = last arg) */
	int key_step;
	cmd_proc proc;
	cmd_keys_fn keys;        /* optional, overrides first/last/step */
	cmd_route_fn route;      /* optional, keyless single-shard routing */
	const char *group;       /* COMMAND DOCS group: string, generic, connection, server */
	const char *since;       /* Redis version that introduced it */
	const char *summary;     /* COMMAND DOCS summary */
	const char *complexity;
	const struct kv_command *subcommands; /* terminated by a NULL name */
	/* Optional fields below: tables may omit them (zero = absent). */
	cmd_conn_shards_fn conn_shards; /* runs on the client's shard (see above) */
	/* Broadcast commands (PUBLISH): run on every shard, each returning a
	 * count; the reply is their sum as an integer. */
	uint64_t (*bcast)(struct shard *s, const struct cmd_call *call);
	/* Every shard for some of its calls (see cmd_all_shards_fn). */
	cmd_all_shards_fn all_shards;
	/* Channel arguments Redis 7.0 describes as NOT_KEY key specs (SPUBLISH,
	 * SSUBSCRIBE, SUNSUBSCRIBE): positions first..last (negative from the
	 * end), for COMMAND INFO and GETKEYS only -- never routed by. */
	int8_t nk_first, nk_last;
};

/* Add a family (terminated by a NULL name) defined above this layer: the
 * runtime's MULTI/EXEC, pub/sub and blocking commands (server_commands_init).
 * Before cmd_table_init; the tools, which run no server, never add them. */
void cmd_table_add(const struct kv_command *family);
/* Build the lookup table from every module's table, and install the AOF's
 * replay hooks (fx_aof_effect_ops).  Call once at startup, before loading
 * any file. */
void cmd_table_init(void);
/* Case-insensitive lookup; NULL when unknown. */
const struct kv_command *cmd_lookup(const char *name, size_t len);
/* Every command, for COMMAND / COMMAND COUNT / COMMAND DOCS / COMMAND INFO. */
size_t cmd_count(void);
const struct kv_command *cmd_at(size_t i);

/* INFO commandstats: a dense id for every command and subcommand (each
 * subcommand, "config|get", counts apart from its container, as in Redis
 * 7.0), in [0, cmd_stat_count()); UINT32_MAX for an entry not in the
 * table.  cmd_stat_target() is the entry a call counts under: the
 * subcommand argv[1] names when the command is a container and the name is
 * known, else the command itself. */
uint32_t cmd_stat_count(void);
uint32_t cmd_stat_id(const struct kv_command *cmd);
const struct kv_command *cmd_stat_at(uint32_t id);
const struct kv_command *cmd_stat_target(const struct kv_command *cmd, int argc,
					 const struct kv_slice *argv);

/* Key argv indexes of a call (handles the legacy spec and custom keys_fn).
 * Returns the count (<= max) or -1 when malformed. */
int cmd_get_keys(const struct kv_command *cmd, int argc, const struct kv_slice *argv,
		 int *idx, int max);

/* Whether a call needs every shard's keyspace: CMD_ALL_SHARDS, or the
 * command's all_shards hook says so for these arguments. */
bool cmd_needs_all_shards(const struct kv_command *cmd, int argc, const struct kv_slice *argv);

/* Redis's HELP reply: "<UPPER> <subcommand> [<arg> [value] [opt] ...].
 * Subcommands are:", the given lines (NULL-terminated), then HELP and its
 * line. */
void cmd_reply_help(struct kv_buf *out, const char *upper, const char *const *lines);

/* Redis's errors for a call that cannot be dispatched, appended to out. */
void cmd_reply_unknown(struct kv_buf *out, int argc, const struct kv_slice *argv);
void cmd_reply_arity(struct kv_buf *out, const struct kv_command *cmd);
bool cmd_arity_ok(const struct kv_command *cmd, int argc);
/* The subcommand of that name in a container's table (case-insensitive);
 * NULL when there is none. */
const struct kv_command *cmd_find_sub(const struct kv_command *subs,
				      const struct kv_slice *name);
/* "ERR unknown subcommand 'name'. Try CONTAINER HELP.", as Redis words it
 * (container: the lower-case command name). */
void cmd_reply_unknown_sub(struct kv_buf *out, const char *container,
			   const struct kv_slice *name);
/* Run the subcommand named by argv[1], or reply Redis's error for an
 * unknown name or a wrong count: what every container command does. */
void cmd_run_sub(struct cmd_ctx *c, const struct kv_command *subs, const char *container);

/* One CLIENT LIST line of a client, with its newline (cmd_server.c). */
struct client_info;
void cmd_client_line(struct kv_buf *b, const struct client_info *ci);

/* Per-module tables, each terminated by an entry with a NULL name. */
extern const struct kv_command cmd_table_string[];
extern const struct kv_command cmd_table_bitmap[];
extern const struct kv_command cmd_table_keys[];
extern const struct kv_command cmd_table_dump[];
extern const struct kv_command cmd_table_server[];
extern const struct kv_command cmd_table_info[];
extern const struct kv_command cmd_table_introspect[];
extern const struct kv_command cmd_table_cluster[];
extern const struct kv_command cmd_table_migrate[];
extern const struct kv_command cmd_table_lolwut[];
extern const struct kv_command cmd_table_debug[];
extern const struct kv_command cmd_table_persist[];
extern const struct kv_command cmd_table_sort[];
extern const struct kv_command cmd_table_hll[];
extern const struct kv_command cmd_table_acl[];
/* Families of the data-type modules, linked in when their module is
 * present (weak: a missing module leaves the pointer NULL). */
extern const struct kv_command cmd_table_hash[] __attribute__((weak));
extern const struct kv_command cmd_table_list[] __attribute__((weak));
extern const struct kv_command cmd_table_set[] __attribute__((weak));
extern const struct kv_command cmd_table_zset[] __attribute__((weak));
extern const struct kv_command cmd_table_geo[] __attribute__((weak));
extern const struct kv_command cmd_table_stream[] __attribute__((weak));

#endif
