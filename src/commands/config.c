/*
 * config.c - server settings: defaults, the redis.conf-style file, command
 * line flags, and CONFIG GET / CONFIG SET (see config.h and docs/config.md).
 *
 * One table (cfg_table) drives everything.  Each entry names a setting, how
 * its text is parsed (integer, memory size, yes/no, one of a list, a string,
 * or a list of words), where the value is stored in g_config, and whether it
 * may change at runtime.  Reading a file line, a "--name value" flag and a
 * CONFIG SET pair all go through the same two steps: cfg_parse() turns the
 * text into a struct cfg_value or an error message (the messages are Redis
 * 7.0's), and cfg_store() writes it.  Keeping the steps apart is what makes
 * CONFIG SET all-or-nothing: every pair is parsed before any is stored, and
 * storing cannot fail.
 *
 * Runtime-changeable scalars are atomics that shard threads read without a
 * lock.  The runtime-changeable strings (requirepass, bind, save, ...) are
 * written and read under cfg_lock.
 *
 * port and bind are the settings whose change can fail after parsing (the
 * port is in use): CONFIG SET moves the listeners through the server's hook
 * before it stores anything, so a refusal leaves every setting as it was.
 *
 * Not here: opening the log file, writing the pid file and listening on the
 * port (main.c / server.c read the values from g_config; server.c moves the
 * listeners on CONFIG SET).
 */
#include "commands/config.h"
#include "commands/acl.h"
#include "persist/aof.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands/cmd.h"
#include "commands/notify.h"
#include "base/alloc.h"
#include "base/kv.h"
#include "base/log.h"
#include "persist/kvio.h"
#include "store/encoding.h"
#include "store/lru.h"

/* Same bound as the runtime's SHARD_MAX (shard.h). */
#define CFG_THREADS_MAX 256
/* File descriptors kept for listeners, rings, eventfds and data files on top
 * of one per client: Redis keeps 32 (CONFIG_MIN_RESERVED_FDS); kevy adds a
 * few per shard. */
#define CFG_RESERVED_FDS 32
#define CFG_RESERVED_FDS_PER_SHARD 8
/* Redis clamps hz to this range (CONFIG_MIN_HZ / CONFIG_MAX_HZ). */
#define CFG_HZ_MIN 1
#define CFG_HZ_MAX 500
#define CFG_INCLUDE_DEPTH_MAX 10
/* A shard spinning longer than this after work would only burn the CPU. */
#define CFG_BUSY_POLL_MAX_US 1000000
#define CFG_MAX_ARGS 64
#define CFG_PERCENTILES_MAX 16

struct kv_config g_config = {
	.port = 6379,
	.bind = (char *)"127.0.0.1",
	.dir = (char *)".",
	.config_file = NULL,
	.threads = 0,
	.io = KV_IO_AUTO,
	.tcp_backlog = 511,
	.logfile = (char *)"",
	.pidfile = (char *)"",
	.databases = 16,
	.busy_poll_us = -1,
	.supervised = KV_SUPERVISED_NO,
	.protected_mode = 1,
	.maxclients = 10000,
	.proto_max_bulk_len = 512ll << 20,
	.client_query_buffer_limit = 1ll << 30,
	.timeout_s = 0,
	.tracking_table_max_keys = 1000000,
	.tcp_keepalive_s = 300,
	.hz = 10,
	.loglevel = LOG_NOTICE,
	.appendonly = 1,
	.appendfsync = 1,
	.aof_use_rdb_preamble = 1,
	.save = (char *)"3600 1 300 100 60 10000",
	.auto_aof_rewrite_pct = 100,
	.auto_aof_rewrite_min_size = 64ll << 20,
	.aof_preallocate = 1ll << 20,
	.aof_direct_io = 1,
	.snapshot_inflight_blocks = 4,
	.lua_memory_limit = 512ll << 20,
	.repl_backlog_size = 1ll << 20,
	.min_replicas_max_lag = 10,
	.repl_timeout = 60,
	.repl_ping_replica_period = 10,
	.requirepass = NULL,
	.requirepass_set = false,
};

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
/* The static initializer above points the strings at literals; the first
 * config_load() replaces them with heap copies, which later loads free. */
static bool cfg_strings_owned;
/* daemonize is accepted only as "no"; kept so CONFIG GET can show it. */
static bool cfg_daemonize;
/* io-threads is accepted only as 1 (Redis's default: no I/O threads beside
 * the main one), so CONFIG GET and monitoring (redis_exporter's
 * redis_config_io_threads) see what kevy has: no separate I/O threads. */
static int cfg_io_threads = 1;
/* replicaof: always empty, as a Redis master shows it; kevy-server cannot
 * follow a primary yet (docs/replication.md), so a config file that names
 * one is refused rather than ignored. */
static char *cfg_replicaof;
/* The primary's password and user for a replica's AUTH (server/replica.c
 * reads them when it connects: config_copy_masterauth). */
static char *cfg_masterauth, *cfg_masteruser;

/* ------------------------------------------------------------------ */
/* the table */

enum cfg_type {
	CFG_INT,        /* strict decimal integer in [min, max] */
	CFG_MEM,        /* memory size with an optional unit, in [min, max] */
	CFG_BOOL,       /* yes | no */
	CFG_ENUM,       /* one of names[] */
	CFG_STR,        /* one string argument */
	CFG_WORDS,      /* one or more arguments, stored space-separated (bind) */
	CFG_NOTIFY,     /* keyspace event classes (commands/notify.h), an _Atomic int */
	CFG_MEMPCT,     /* a memory size, or "N%" (stored as -N; "0%" is 0) */
};

enum cfg_field {
	FLD_INT,        /* int */
	FLD_U32,        /* uint32_t */
	FLD_I64,        /* int64_t, written only at load */
	FLD_AI64,       /* _Atomic int64_t */
	FLD_AINT,       /* _Atomic int */
	FLD_IO,         /* enum kv_io_mode */
	FLD_BOOL,       /* bool */
	FLD_STR,        /* char *, written only at load */
	FLD_PASS,       /* requirepass: char * under cfg_lock + requirepass_set */
};

enum {
	CFG_IMMUTABLE = 1u << 0,
	/* Immutable here, but Redis changes it at run time (port, bind, dir,
	 * client-output-buffer-limit), or it is kevy's own: CONFIG SET to the
	 * value it has is accepted and changes nothing, as in Redis a set that
	 * changes nothing.  Redis's own immutable settings refuse even that. */
	CFG_SAME_OK = 1u << 1,
	/* Redis's hidden settings: CONFIG GET answers them by exact name only,
	 * never for a pattern (so not in CONFIG GET * or CONFIG REWRITE). */
	CFG_HIDDEN = 1u << 2,
	/* port and bind: a change moves the listeners (config_listen_fn),
	 * which can fail; the same value changes nothing. */
	CFG_LISTEN = 1u << 3,
};

enum cfg_origin { ORIGIN_LOAD, ORIGIN_SET };

struct cfg_value {
	int64_t num;
	char *str;      /* heap, owned by the value until stored */
};

struct cfg_def {
	const char *name;
	enum cfg_type type;
	unsigned flags;
	int64_t min, max;
	const char *const *names;       /* CFG_ENUM, NULL-terminated */
	enum cfg_field field;
	void *ptr;
	/* Extra validation after the generic parse: may adjust v; returns NULL
	 * or the error text (in errbuf or static). */
	const char *(*check)(struct cfg_value *v, enum cfg_origin origin,
			     char *errbuf, size_t errlen);
	/* Runs after the value was stored. */
	void (*applied)(void);
	/* Redis's older name for the same setting (hash-max-ziplist-entries);
	 * optional. */
	const char *alias;
};

static const char *const cfg_loglevel_names[] = { "debug", "verbose", "notice", "warning", NULL };
static const char *const cfg_io_names[] = { "auto", "io_uring", "epoll", NULL };
static const char *const cfg_yesno_names[] = { "no", "yes", NULL };
/* Indexes are enum aof_fsync (aof.h). */
static const char *const cfg_appendfsync_names[] = { "no", "everysec", "always", NULL };
/* Indexes are enum kv_supervised (config.h). */
static const char *const cfg_protected_names[] = { "no", "yes", "local", NULL };
static const char *const cfg_supervised_names[] = { "upstart", "systemd", "auto", "no", NULL };

static const char *cfg_check_hz(struct cfg_value *v, enum cfg_origin o, char *e, size_t n);
static const char *cfg_check_dir(struct cfg_value *v, enum cfg_origin o, char *e, size_t n);
static const char *cfg_check_databases(struct cfg_value *v, enum cfg_origin o, char *e, size_t n);
static const char *cfg_check_daemonize(struct cfg_value *v, enum cfg_origin o, char *e, size_t n);
static const char *cfg_check_maxclients(struct cfg_value *v, enum cfg_origin o, char *e, size_t n);
static const char *cfg_check_io_threads(struct cfg_value *v, enum cfg_origin o, char *e, size_t n);
static const char *cfg_check_replicaof(struct cfg_value *v, enum cfg_origin o, char *e,
				       size_t n);
static const char *cfg_check_replica_read_only(struct cfg_value *v, enum cfg_origin o, char *e,
					       size_t n);
static void cfg_applied_loglevel(void);
static const char *cfg_check_appendonly(struct cfg_value *v, enum cfg_origin o, char *e, size_t n);
static const char *cfg_check_save(struct cfg_value *v, enum cfg_origin o, char *e, size_t n);
static void cfg_applied_save(void);
static void cfg_applied_acllog(void);
static void cfg_applied_key_load_delay(void);
static const char *cfg_check_obuf(struct cfg_value *v, enum cfg_origin o, char *e, size_t n);
static void cfg_applied_obuf(void);
static const char *cfg_check_percentiles(struct cfg_value *v, enum cfg_origin o, char *e,
					 size_t n);

static const struct cfg_def cfg_table[] = {
	{ "port", CFG_INT, CFG_LISTEN, 0, 65535, NULL, FLD_AINT, &g_config.port, NULL, NULL },
	{ "bind", CFG_WORDS, CFG_LISTEN, 1, 16, NULL, FLD_STR, &g_config.bind, NULL, NULL },
	{ "dir", CFG_STR, CFG_IMMUTABLE | CFG_SAME_OK, 0, 0, NULL, FLD_STR, &g_config.dir,
	  cfg_check_dir, NULL },
	{ "threads", CFG_INT, CFG_IMMUTABLE | CFG_SAME_OK, 0, CFG_THREADS_MAX, NULL, FLD_U32,
	  &g_config.threads, NULL, NULL },
	{ "io", CFG_ENUM, CFG_IMMUTABLE | CFG_SAME_OK, 0, 0, cfg_io_names, FLD_IO, &g_config.io,
	  NULL, NULL },
	{ "tcp-backlog", CFG_INT, CFG_IMMUTABLE, 0, INT_MAX, NULL, FLD_INT, &g_config.tcp_backlog,
	  NULL, NULL },
	{ "busy-poll-us", CFG_INT, CFG_IMMUTABLE | CFG_SAME_OK, -1, CFG_BUSY_POLL_MAX_US, NULL,
	  FLD_I64, &g_config.busy_poll_us, NULL, NULL },
	{ "migrate-connections", CFG_ENUM, 0, 0, 0, cfg_yesno_names, FLD_AINT,
	  &g_config.migrate_connections, NULL, NULL },
	{ "maxclients", CFG_INT, 0, 1, UINT_MAX, NULL, FLD_AI64, &g_config.maxclients,
	  cfg_check_maxclients, NULL },
	{ "proto-max-bulk-len", CFG_MEM, 0, 1 << 20, INT64_MAX, NULL, FLD_AI64,
	  &g_config.proto_max_bulk_len, NULL, NULL },
	{ "client-query-buffer-limit", CFG_MEM, 0, 1 << 20, INT64_MAX, NULL, FLD_AI64,
	  &g_config.client_query_buffer_limit, NULL, NULL },
	{ "timeout", CFG_INT, 0, 0, INT_MAX, NULL, FLD_AI64, &g_config.timeout_s, NULL, NULL },
	{ "tracking-table-max-keys", CFG_INT, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &g_config.tracking_table_max_keys, NULL, NULL },
	{ "tcp-keepalive", CFG_INT, 0, 0, INT_MAX, NULL, FLD_AI64, &g_config.tcp_keepalive_s,
	  NULL, NULL },
	{ "hz", CFG_INT, 0, 0, INT_MAX, NULL, FLD_AI64, &g_config.hz, cfg_check_hz, NULL },
	{ "loglevel", CFG_ENUM, 0, 0, 0, cfg_loglevel_names, FLD_AINT, &g_config.loglevel, NULL,
	  cfg_applied_loglevel },
	{ "lua-allow-undeclared-keys", CFG_ENUM, 0, 0, 0, cfg_yesno_names, FLD_AINT,
	  &g_config.lua_allow_undeclared_keys, NULL, NULL },
	{ "busy-reply-threshold", CFG_INT, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &g_config.busy_reply_threshold_ms, NULL, NULL, "lua-time-limit" },
	{ "lua-memory-limit", CFG_MEM, 0, 0, INT64_MAX, NULL, FLD_AI64, &g_config.lua_memory_limit,
	  NULL, NULL },
	{ "appendonly", CFG_ENUM, 0, 0, 0, cfg_yesno_names, FLD_AINT, &g_config.appendonly,
	  cfg_check_appendonly, NULL },
	{ "appendfsync", CFG_ENUM, 0, 0, 0, cfg_appendfsync_names, FLD_AINT, &g_config.appendfsync,
	  NULL, NULL },
	{ "aof-use-rdb-preamble", CFG_ENUM, 0, 0, 0, cfg_yesno_names, FLD_AINT,
	  &g_config.aof_use_rdb_preamble, NULL, NULL },
	{ "save", CFG_WORDS, 0, 0, 16, NULL, FLD_STR, &g_config.save, cfg_check_save,
	  cfg_applied_save },
	{ "auto-aof-rewrite-percentage", CFG_INT, 0, 0, INT_MAX, NULL, FLD_AI64,
	  &g_config.auto_aof_rewrite_pct, NULL, NULL },
	{ "auto-aof-rewrite-min-size", CFG_MEM, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &g_config.auto_aof_rewrite_min_size, NULL, NULL },
	{ "aof-preallocate", CFG_MEM, 0, 0, AOF_PREALLOC_MAX, NULL, FLD_AI64,
	  &g_config.aof_preallocate, NULL, NULL },
	{ "aof-direct-io", CFG_ENUM, 0, 0, 0, cfg_yesno_names, FLD_AINT, &g_config.aof_direct_io,
	  NULL, NULL },
	{ "snapshot-inflight-blocks", CFG_INT, 0, 1, 16, NULL, FLD_AI64,
	  &g_config.snapshot_inflight_blocks, NULL, NULL },
	{ "logfile", CFG_STR, CFG_IMMUTABLE, 0, 0, NULL, FLD_STR, &g_config.logfile, NULL, NULL },
	{ "pidfile", CFG_STR, CFG_IMMUTABLE, 0, 0, NULL, FLD_STR, &g_config.pidfile, NULL, NULL },
	{ "databases", CFG_INT, CFG_IMMUTABLE, 1, INT_MAX, NULL, FLD_INT, &g_config.databases,
	  cfg_check_databases, NULL },
	{ "repl-backlog-size", CFG_MEM, 0, 1, INT64_MAX, NULL, FLD_AI64,
	  &g_config.repl_backlog_size, NULL, NULL },
	{ "min-replicas-to-write", CFG_INT, 0, 0, INT_MAX, NULL, FLD_AI64,
	  &g_config.min_replicas_to_write, NULL, NULL, "min-slaves-to-write" },
	{ "min-replicas-max-lag", CFG_INT, 0, 0, INT_MAX, NULL, FLD_AI64,
	  &g_config.min_replicas_max_lag, NULL, NULL, "min-slaves-max-lag" },
	{ "repl-timeout", CFG_INT, 0, 1, INT_MAX, NULL, FLD_AI64, &g_config.repl_timeout, NULL,
	  NULL },
	{ "repl-ping-replica-period", CFG_INT, 0, 1, INT_MAX, NULL, FLD_AI64,
	  &g_config.repl_ping_replica_period, NULL, NULL, "repl-ping-slave-period" },
	{ "replicaof", CFG_WORDS, CFG_IMMUTABLE, 2, 2, NULL, FLD_STR, &cfg_replicaof,
	  cfg_check_replicaof, NULL, "slaveof" },
	{ "masterauth", CFG_STR, 0, 0, 0, NULL, FLD_STR, &cfg_masterauth, NULL, NULL },
	{ "masteruser", CFG_STR, 0, 0, 0, NULL, FLD_STR, &cfg_masteruser, NULL, NULL },
	{ "replica-read-only", CFG_ENUM, 0, 0, 0, cfg_yesno_names, FLD_AINT,
	  &g_config.replica_read_only, cfg_check_replica_read_only, NULL, "slave-read-only" },
	{ "replica-serve-stale-data", CFG_ENUM, 0, 0, 0, cfg_yesno_names, FLD_AINT,
	  &g_config.replica_serve_stale_data, NULL, NULL, "slave-serve-stale-data" },
	{ "replica-priority", CFG_INT, 0, 0, INT_MAX, NULL, FLD_AI64, &g_config.replica_priority,
	  NULL, NULL, "slave-priority" },
	{ "replica-announced", CFG_ENUM, 0, 0, 0, cfg_yesno_names, FLD_AINT,
	  &g_config.replica_announced, NULL, NULL },
	{ "io-threads", CFG_INT, CFG_IMMUTABLE, 1, 128, NULL, FLD_INT, &cfg_io_threads,
	  cfg_check_io_threads, NULL },
	{ "daemonize", CFG_BOOL, CFG_IMMUTABLE, 0, 0, NULL, FLD_BOOL, &cfg_daemonize,
	  cfg_check_daemonize, NULL },
	{ "requirepass", CFG_STR, 0, 0, 0, NULL, FLD_PASS, &g_config.requirepass, NULL, NULL },
	{ "protected-mode", CFG_BOOL, 0, 0, 0, NULL, FLD_AINT, &g_config.protected_mode, NULL,
	  NULL },
	{ "supervised", CFG_ENUM, CFG_IMMUTABLE, 0, 0, cfg_supervised_names, FLD_INT,
	  &g_config.supervised, NULL, NULL },
	{ "enable-debug-command", CFG_ENUM, CFG_IMMUTABLE, 0, 0, cfg_protected_names, FLD_INT,
	  &g_config.enable_debug_cmd, NULL, NULL },
	{ "enable-module-command", CFG_ENUM, CFG_IMMUTABLE, 0, 0, cfg_protected_names, FLD_INT,
	  &g_config.enable_module_cmd, NULL, NULL },
	/* ACL (docs/acl.md): the users file, and ACL LOG's length. */
	{ "aclfile", CFG_STR, CFG_IMMUTABLE, 0, 0, NULL, FLD_STR, &g_config.aclfile, NULL, NULL },
	{ "acllog-max-len", CFG_INT, 0, 0, INT64_MAX, NULL, FLD_AI64, &g_config.acllog_max_len,
	  NULL, cfg_applied_acllog },
	/* Hidden, as in Redis: a slower load for tests (persist/aof.c). */
	{ "key-load-delay", CFG_INT, CFG_HIDDEN, INT_MIN, INT_MAX, NULL, FLD_AI64,
	  &g_config.key_load_delay_us, NULL, cfg_applied_key_load_delay },
	/* Compact encodings (store/encoding.h): read by every insert. */
	{ "hash-max-listpack-entries", CFG_INT, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &kv_encoding.hash_max_listpack_entries, NULL, NULL, "hash-max-ziplist-entries" },
	{ "hash-max-listpack-value", CFG_MEM, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &kv_encoding.hash_max_listpack_value, NULL, NULL, "hash-max-ziplist-value" },
	{ "set-max-intset-entries", CFG_INT, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &kv_encoding.set_max_intset_entries, NULL, NULL },
	{ "zset-max-listpack-entries", CFG_INT, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &kv_encoding.zset_max_listpack_entries, NULL, NULL, "zset-max-ziplist-entries" },
	{ "zset-max-listpack-value", CFG_MEM, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &kv_encoding.zset_max_listpack_value, NULL, NULL, "zset-max-ziplist-value" },
	{ "list-max-listpack-size", CFG_INT, 0, INT_MIN, INT_MAX, NULL, FLD_AI64,
	  &kv_encoding.list_max_listpack_size, NULL, NULL, "list-max-ziplist-size" },
	{ "list-compress-depth", CFG_INT, 0, 0, INT_MAX, NULL, FLD_AI64,
	  &kv_encoding.list_compress_depth, NULL, NULL },
	{ "hll-sparse-max-bytes", CFG_MEM, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &kv_encoding.hll_sparse_max_bytes, NULL, NULL },
	{ "stream-node-max-bytes", CFG_MEM, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &kv_encoding.stream_node_max_bytes, NULL, NULL },
	{ "stream-node-max-entries", CFG_INT, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &kv_encoding.stream_node_max_entries, NULL, NULL },
	{ "notify-keyspace-events", CFG_NOTIFY, 0, 0, 0, NULL, FLD_AINT, &notify_flags, NULL, NULL },
	{ "client-output-buffer-limit", CFG_WORDS, 0, 4, 12, NULL, FLD_STR,
	  &g_config.client_output_buffer_limit, cfg_check_obuf, cfg_applied_obuf },
	/* Memory limit and eviction (store/lru.h, docs/memory.md): read by
	 * every write and every key access, so they live in the store. */
	{ "maxmemory", CFG_MEM, 0, 0, INT64_MAX, NULL, FLD_AI64, &kv_memory.maxmemory, NULL,
	  NULL },
	{ "maxmemory-policy", CFG_ENUM, 0, 0, 0, evict_policy_names, FLD_AINT,
	  &kv_memory.policy, NULL, NULL },
	{ "maxmemory-samples", CFG_INT, 0, 1, 64, NULL, FLD_AI64, &kv_memory.samples, NULL,
	  NULL },
	{ "maxmemory-clients", CFG_MEMPCT, 0, 0, 0, NULL, FLD_AI64, &g_config.maxmemory_clients,
	  NULL, NULL },
	{ "maxmemory-eviction-tenacity", CFG_INT, 0, 0, 100, NULL, FLD_AI64,
	  &kv_memory.tenacity, NULL, NULL },
	{ "lfu-log-factor", CFG_INT, 0, 0, INT_MAX, NULL, FLD_AI64, &kv_memory.lfu_log_factor,
	  NULL, NULL },
	{ "lfu-decay-time", CFG_INT, 0, 0, INT_MAX, NULL, FLD_AI64, &kv_memory.lfu_decay_time,
	  NULL, NULL },
	/* Introspection (docs/config.md, "INFO and introspection"): read by
	 * every command, so they live beside what they drive. */
	{ "slowlog-log-slower-than", CFG_INT, 0, -1, INT64_MAX, NULL, FLD_AI64,
	  &slowlog_slower_than_us, NULL, NULL },
	{ "slowlog-max-len", CFG_INT, 0, 0, INT64_MAX, NULL, FLD_AI64, &slowlog_max_len, NULL,
	  NULL },
	{ "latency-monitor-threshold", CFG_INT, 0, 0, INT64_MAX, NULL, FLD_AI64,
	  &lat_threshold_ms, NULL, NULL },
	{ "latency-tracking", CFG_ENUM, 0, 0, 0, cfg_yesno_names, FLD_AINT, &lat_tracking, NULL,
	  NULL },
	{ "latency-tracking-info-percentiles", CFG_WORDS, 0, 0, CFG_PERCENTILES_MAX, NULL,
	  FLD_STR, &g_config.latency_percentiles, cfg_check_percentiles, NULL },
};

/* redis.conf settings kevy refuses with a pointer to what to use instead,
 * rather than the bare "Bad directive". */
static const struct {
	const char *name;
	const char *why;
} cfg_refused[] = {
	{ "io-threads-do-reads", "kevy runs one thread per shard: use 'threads' instead" },
};

static bool cfg_name_is(const char *n, const char *name, size_t len)
{
	return n && strlen(n) == len && strncasecmp(n, name, len) == 0;
}

/* The setting of that name or alias. */
static const struct cfg_def *cfg_find(const char *name, size_t len)
{
	for (size_t i = 0; i < KV_ARRAY_LEN(cfg_table); i++)
		if (cfg_name_is(cfg_table[i].name, name, len) ||
		    cfg_name_is(cfg_table[i].alias, name, len))
			return &cfg_table[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* parsing values */

/* Redis's memtoull(): digits then an optional unit (b, k, kb, m, mb, g, gb;
 * k/m/g are powers of 1000, kb/mb/gb of 1024), case-insensitive.  Overflow
 * saturates and wraps exactly as Redis's does, so the range check that
 * follows reports what Redis reports. */
bool config_memtoull(const char *p, uint64_t *out)
{
	if (strchr(p, '-'))
		return false;
	const char *u = p;
	while (*u && isdigit((unsigned char)*u))
		u++;
	uint64_t mul;
	if (*u == '\0' || strcasecmp(u, "b") == 0)
		mul = 1;
	else if (strcasecmp(u, "k") == 0)
		mul = 1000;
	else if (strcasecmp(u, "kb") == 0)
		mul = 1024;
	else if (strcasecmp(u, "m") == 0)
		mul = 1000ull * 1000;
	else if (strcasecmp(u, "mb") == 0)
		mul = 1024ull * 1024;
	else if (strcasecmp(u, "g") == 0)
		mul = 1000ull * 1000 * 1000;
	else if (strcasecmp(u, "gb") == 0)
		mul = 1024ull * 1024 * 1024;
	else
		return false;
	if (u - p >= 128)
		return false;
	uint64_t v = 0;
	for (const char *d = p; d < u; d++) {
		unsigned digit = (unsigned)(*d - '0');
		if (v > (UINT64_MAX - digit) / 10) {
			v = UINT64_MAX;
			break;
		}
		v = v * 10 + digit;
	}
	*out = v * mul;
	return true;
}

static void cfg_value_free(struct cfg_value *v)
{
	free(v->str);
	v->str = NULL;
}

static const char *cfg_check_range(const struct cfg_def *d, int64_t v, char *errbuf,
				   size_t errlen)
{
	if (v >= d->min && v <= d->max)
		return NULL;
	snprintf(errbuf, errlen, "argument must be between %lld and %lld inclusive",
		 (long long)d->min, (long long)d->max);
	return errbuf;
}

/* Parses the arguments of one setting.  Returns NULL, or the error text
 * (static, or written into errbuf). */
static const char *cfg_parse(const struct cfg_def *d, int nargs, const struct kv_slice *args,
			     enum cfg_origin origin, struct cfg_value *v, char *errbuf, size_t errlen)
{
	v->num = 0;
	v->str = NULL;
	/* CFG_WORDS uses min/max as the number of words allowed.  Like Redis 7,
	 * a single argument is split on spaces ("--bind 'a b'", CONFIG SET
	 * client-output-buffer-limit "normal 0 0 0"). */
	int words = nargs;
	if (d->type == CFG_WORDS && nargs == 1) {
		words = 0;
		bool in_word = false;
		for (size_t i = 0; i < args[0].len; i++) {
			bool space = args[0].ptr[i] == ' ';
			words += !space && !in_word;
			in_word = !space;
		}
	}
	if (d->type == CFG_WORDS ? (words < d->min || words > d->max) : nargs != 1)
		return "wrong number of arguments";
	/* Every text value is a C string from here on, as in Redis. */
	char *text = kv_strndup(args[0].ptr, strnlen(args[0].ptr, args[0].len));
	const char *err = NULL;
	switch (d->type) {
	case CFG_INT:
		if (!arg_to_int64(&args[0], &v->num))
			err = "argument couldn't be parsed into an integer";
		else
			err = cfg_check_range(d, v->num, errbuf, errlen);
		break;
	case CFG_MEM: {
		uint64_t u;
		if (!config_memtoull(text, &u))
			err = "argument must be a memory value";
		else
			err = cfg_check_range(d, v->num = (int64_t)u, errbuf, errlen);
		break;
	}
	case CFG_MEMPCT: {
		size_t n = strlen(text);
		uint64_t u;
		if (n > 1 && text[n - 1] == '%') {
			struct kv_slice pct = { text, n - 1 };
			int64_t p;
			if (!arg_to_int64(&pct, &p) || p < 0 || text[0] == '+')
				err = "argument must be a memory or percent value";
			else if (p > 100)
				err = "percentage argument must be less or equal to 100";
			else
				v->num = -p;
		} else if (!config_memtoull(text, &u) || u > INT64_MAX) {
			err = "argument must be a memory or percent value";
		} else {
			v->num = (int64_t)u;
		}
		break;
	}
	case CFG_BOOL:
		if (strcasecmp(text, "yes") == 0)
			v->num = 1;
		else if (strcasecmp(text, "no") == 0)
			v->num = 0;
		else
			err = "argument must be 'yes' or 'no'";
		break;
	case CFG_ENUM: {
		int i;
		/* "uring" is accepted for io_uring (shorter on the command line). */
		if (d->names == cfg_io_names && strcasecmp(text, "uring") == 0) {
			v->num = KV_IO_URING;
			break;
		}
		for (i = 0; d->names[i]; i++)
			if (strcasecmp(text, d->names[i]) == 0)
				break;
		if (d->names[i]) {
			v->num = i;
			break;
		}
		int n = snprintf(errbuf, errlen, "argument(s) must be one of the following: ");
		for (i = 0; d->names[i] && n >= 0 && (size_t)n < errlen; i++)
			n += snprintf(errbuf + n, errlen - (size_t)n, "%s%s", i ? ", " : "",
				      d->names[i]);
		err = errbuf;
		break;
	}
	case CFG_NOTIFY:
		v->num = notify_classes_parse(text, strlen(text));
		if (v->num < 0)
			err = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
		break;
	case CFG_STR:
		v->str = text;
		text = NULL;
		break;
	case CFG_WORDS: {
		struct kv_buf b = KV_BUF_INIT;
		for (int i = 0; i < nargs; i++) {
			if (i)
				kv_buf_append_char(&b, ' ');
			kv_buf_append(&b, args[i].ptr, strnlen(args[i].ptr, args[i].len));
		}
		v->str = kv_strndup(b.len ? b.data : "", b.len);
		kv_buf_free(&b);
		break;
	}
	}
	free(text);
	if (!err && d->check)
		err = d->check(v, origin, errbuf, errlen);
	if (err)
		cfg_value_free(v);
	return err;
}

/* ------------------------------------------------------------------ */
/* storing and reading values */

/* Strings change under the config lock (CONFIG GET may read from another
 * shard's thread). */
static void cfg_set_str(char **slot, char *s)
{
	pthread_mutex_lock(&cfg_lock);
	if (cfg_strings_owned)
		free(*slot);
	*slot = s;
	pthread_mutex_unlock(&cfg_lock);
}

/* requirepass is the default user's password, as in Redis: CONFIG SET
 * changes the user too (at startup the server hands it over once the ACL
 * exists: acl_set_default_password ignores it before). */
static void cfg_store_password(char *s)
{
	pthread_mutex_lock(&cfg_lock);
	free(g_config.requirepass);
	g_config.requirepass = s;
	atomic_store(&g_config.requirepass_set, s && *s);
	acl_set_default_password(s, s ? strlen(s) : 0);
	pthread_mutex_unlock(&cfg_lock);
}

static void cfg_applied_key_load_delay(void)
{
	aof_set_key_load_delay(atomic_load(&g_config.key_load_delay_us));
}

static void cfg_applied_acllog(void)
{
	acl_set_log_max_len((uint64_t)atomic_load(&g_config.acllog_max_len));
}

/* Stores a parsed value; takes ownership of v->str.  Cannot fail. */
static void cfg_store(const struct cfg_def *d, struct cfg_value *v)
{
	switch (d->field) {
	case FLD_INT:
		*(int *)d->ptr = (int)v->num;
		break;
	case FLD_U32:
		*(uint32_t *)d->ptr = (uint32_t)v->num;
		break;
	case FLD_I64:
		*(int64_t *)d->ptr = v->num;
		break;
	case FLD_AI64:
		atomic_store((_Atomic int64_t *)d->ptr, v->num);
		break;
	case FLD_AINT:
		atomic_store((_Atomic int *)d->ptr, (int)v->num);
		break;
	case FLD_IO:
		*(enum kv_io_mode *)d->ptr = (enum kv_io_mode)v->num;
		break;
	case FLD_BOOL:
		*(bool *)d->ptr = v->num != 0;
		break;
	case FLD_STR:
		cfg_set_str((char **)d->ptr, v->str);
		v->str = NULL;
		break;
	case FLD_PASS:
		cfg_store_password(v->str);
		v->str = NULL;
		break;
	}
	if (d->applied)
		d->applied();
}

static int64_t cfg_get_num(const struct cfg_def *d)
{
	switch (d->field) {
	case FLD_INT: return *(int *)d->ptr;
	case FLD_U32: return *(uint32_t *)d->ptr;
	case FLD_I64: return *(int64_t *)d->ptr;
	case FLD_AI64: return atomic_load((_Atomic int64_t *)d->ptr);
	case FLD_AINT: return atomic_load((_Atomic int *)d->ptr);
	case FLD_IO: return *(enum kv_io_mode *)d->ptr;
	case FLD_BOOL: return *(bool *)d->ptr;
	case FLD_STR:
	case FLD_PASS:
		break;
	}
	return 0;
}

/* Appends the value of a setting as CONFIG GET shows it, as a bulk string. */
static void cfg_reply_value(struct kv_buf *out, const struct cfg_def *d)
{
	char num[32];
	switch (d->type) {
	case CFG_INT:
	case CFG_MEM:
		resp_bulk_int(out, cfg_get_num(d));
		return;
	case CFG_MEMPCT: {
		int64_t v = cfg_get_num(d);
		if (v >= 0) {
			resp_bulk_int(out, v);
		} else {
			snprintf(num, sizeof(num), "%lld%%", (long long)-v);
			resp_bulk_str(out, num);
		}
		return;
	}
	case CFG_BOOL:
		resp_bulk_str(out, cfg_get_num(d) ? "yes" : "no");
		return;
	case CFG_ENUM: {
		int64_t i = cfg_get_num(d);
		snprintf(num, sizeof(num), "%lld", (long long)i);
		resp_bulk_str(out, i >= 0 && d->names[i] ? d->names[i] : num);
		return;
	}
	case CFG_NOTIFY: {
		char classes[NOTIFY_CLASSES_MAX];
		resp_bulk(out, classes, notify_classes_format((int)cfg_get_num(d), classes));
		return;
	}
	case CFG_STR:
	case CFG_WORDS:
		break;
	}
	if (d->field == FLD_PASS) {
		pthread_mutex_lock(&cfg_lock);
		resp_bulk_str(out, g_config.requirepass ? g_config.requirepass : "");
		pthread_mutex_unlock(&cfg_lock);
		return;
	}
	pthread_mutex_lock(&cfg_lock);
	const char *s = *(char **)d->ptr;
	resp_bulk_str(out, s ? s : "");
	pthread_mutex_unlock(&cfg_lock);
}

/* ------------------------------------------------------------------ */
/* per-setting rules */

/* While the shards' rewrites for turning appendonly on are under way they
 * must all commit or none (docs/durability.md, "Turning appendonly on"):
 * turning it off then is refused rather than abandoning them. */
static const char *cfg_check_appendonly(struct cfg_value *v, enum cfg_origin o, char *e, size_t n)
{
	(void)o;
	(void)e;
	(void)n;
	if (v->num == 0 && atomic_load(&g_config.aof_turnon_open))
		return "appendonly is being turned on (every shard is rewriting its AOF); try "
		       "again once INFO persistence shows aof_rewrite_in_progress:0";
	return NULL;
}

static const char *cfg_check_hz(struct cfg_value *v, enum cfg_origin o, char *e, size_t n)
{
	/* Redis accepts any non-negative hz and clamps it silently. */
	if (v->num < CFG_HZ_MIN)
		v->num = CFG_HZ_MIN;
	if (v->num > CFG_HZ_MAX)
		v->num = CFG_HZ_MAX;
	return NULL;
}

/* The data directory is resolved once, so CONFIG GET dir shows an absolute
 * path (as Redis's does after its chdir) and the persistence layer does not
 * depend on the working directory.  kevy does not chdir. */
static const char *cfg_check_dir(struct cfg_value *v, enum cfg_origin o, char *e, size_t n)
{
	char *abs = realpath(v->str, NULL);
	if (!abs)
		return strerror(errno);
	struct stat st;
	if (stat(abs, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(abs);
		return strerror(ENOTDIR);
	}
	free(v->str);
	v->str = abs;
	return NULL;
}

static const char *cfg_check_databases(struct cfg_value *v, enum cfg_origin o, char *e, size_t n)
{
	if (v->num > (int64_t)KV_DB_MAX) {
		snprintf(e, n, "kevy supports at most %u databases", KV_DB_MAX);
		return e;
	}
	return NULL;
}

static const char *cfg_check_daemonize(struct cfg_value *v, enum cfg_origin o, char *e, size_t n)
{
	if (v->num)
		return "kevy does not daemonize itself: run it under a service manager "
		       "(systemd, supervisord) or in the background";
	return NULL;
}

static const char *cfg_check_io_threads(struct cfg_value *v, enum cfg_origin o, char *e,
					size_t n)
{
	if (v->num != 1)
		return "kevy runs one thread per shard: use 'threads' instead";
	return NULL;
}

/* replicaof <host> <port> | no one: the config file's (REPLICAOF changes
 * it at run time through config_set_replicaof, so CONFIG REWRITE keeps
 * the role, as Sentinel expects). */
static const char *cfg_check_replicaof(struct cfg_value *v, enum cfg_origin o, char *e,
				       size_t n)
{
	(void)o;
	(void)e;
	(void)n;
	if (strcasecmp(v->str, "no one") == 0) {
		free(v->str);
		v->str = kv_strndup("", 0);
		return NULL;
	}
	const char *sp = strrchr(v->str, ' ');
	char *end;
	long port = sp ? strtol(sp + 1, &end, 10) : -1;
	if (!sp || sp == v->str || *end || port < 0 || port > 65535)
		return "Invalid master port";
	return NULL;
}

/* kevy's replicas are read-only (docs/replication.md): a write applied on
 * a replica only would have no file to go to. */
static const char *cfg_check_replica_read_only(struct cfg_value *v, enum cfg_origin o, char *e,
					       size_t n)
{
	(void)o;
	(void)e;
	(void)n;
	if (v->num == 0)
		return "kevy replicas are read-only: a write on a replica could not be made "
		       "durable (its files are its primary's); see docs/replication.md";
	return NULL;
}

void config_set_replicaof(const char *host, int64_t port)
{
	char buf[400];
	if (host)
		snprintf(buf, sizeof(buf), "%s %lld", host, (long long)port);
	else
		buf[0] = '\0';
	cfg_set_str(&cfg_replicaof, kv_strndup(buf, strlen(buf)));
}

bool config_replicaof(char *host, size_t cap, int64_t *port)
{
	bool set = false;
	pthread_mutex_lock(&cfg_lock);
	const char *v = cfg_replicaof ? cfg_replicaof : "";
	const char *sp = strrchr(v, ' ');
	if (sp && sp != v && (size_t)(sp - v) < cap) {
		memcpy(host, v, (size_t)(sp - v));
		host[sp - v] = '\0';
		*port = strtol(sp + 1, NULL, 10);
		set = true;
	}
	pthread_mutex_unlock(&cfg_lock);
	return set;
}

static void cfg_copy_locked(char *const *slot, char *out, size_t cap)
{
	pthread_mutex_lock(&cfg_lock);
	snprintf(out, cap, "%s", *slot ? *slot : "");
	pthread_mutex_unlock(&cfg_lock);
}

void config_copy_masterauth(char *auth, size_t acap, char *user, size_t ucap)
{
	cfg_copy_locked(&cfg_masterauth, auth, acap);
	cfg_copy_locked(&cfg_masteruser, user, ucap);
}

static int64_t cfg_reserved_fds(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t shards = g_config.threads ? g_config.threads : (cpus > 0 ? cpus : 1);
	return CFG_RESERVED_FDS + CFG_RESERVED_FDS_PER_SHARD * shards;
}

/* Raises RLIMIT_NOFILE towards `want` if needed and possible.  Returns the
 * soft limit in force afterwards.  The hard limit is never lowered (that
 * could not be undone by an unprivileged process). */
static int64_t cfg_raise_nofile(int64_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return want;
	if (rl.rlim_cur == RLIM_INFINITY || (int64_t)rl.rlim_cur >= want)
		return want;
	struct rlimit nl = rl;
	nl.rlim_cur = (rlim_t)want;
	if (rl.rlim_max != RLIM_INFINITY && (int64_t)rl.rlim_max < want)
		nl.rlim_max = (rlim_t)want;
	if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
		return want;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max > rl.rlim_cur) {
		nl = rl;
		nl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
			return (int64_t)nl.rlim_cur;
	}
	return (int64_t)rl.rlim_cur;
}

/* CONFIG SET maxclients: like Redis, raising it must fit the open files
 * limit, else the error says what would. */
/* save: "" (no rules) or up to 8 pairs of "<seconds> <changes>", each > 0. */
static int cfg_save_parse(const char *s, int64_t rules[8][2])
{
	int n = 0, w = 0;
	const char *p = s;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p || (*end && *end != ' ') || v <= 0 || n >= 8)
			return -1;
		rules[n][w] = v;
		if (++w == 2) {
			w = 0;
			n++;
		}
		p = end;
	}
	return w == 0 ? n : -1;
}

static const char *cfg_check_save(struct cfg_value *v, enum cfg_origin o, char *e, size_t n)
{
	int64_t rules[8][2];
	return cfg_save_parse(v->str ? v->str : "", rules) < 0 ? "Invalid save parameters" : NULL;
}

static void cfg_applied_save(void)
{
	int64_t rules[8][2];
	pthread_mutex_lock(&cfg_lock);
	int n = cfg_save_parse(g_config.save ? g_config.save : "", rules);
	pthread_mutex_unlock(&cfg_lock);
	if (n < 0)
		return;
	atomic_store(&g_config.save_nrules, 0);
	for (int i = 0; i < n; i++) {
		atomic_store(&g_config.save_rules[i][0], rules[i][0]);
		atomic_store(&g_config.save_rules[i][1], rules[i][1]);
	}
	atomic_store(&g_config.save_nrules, n);
}

/* Percentiles as Redis 7.0 reads them: numbers from 0 to 100, stored
 * in its canonical form ("%f" without trailing zeros: "50 99 99.9"). */
static int cfg_percentiles_parse(const char *s, double *out, int max)
{
	int n = 0;
	while (*s) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		const char *end = strchr(s, ' ');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		struct kv_slice w = { s, len };
		long double ld;
		if (n == max || !arg_to_long_double(&w, &ld))
			return -1;
		double d = (double)ld;
		if (d < 0.0 || d > 100.0)
			return -2;
		out[n++] = d;
		s += len;
	}
	return n;
}

static const char *cfg_check_percentiles(struct cfg_value *v, enum cfg_origin o, char *e,
					 size_t n)
{
	(void)o;
	(void)e;
	(void)n;
	double p[CFG_PERCENTILES_MAX];
	int np = cfg_percentiles_parse(v->str, p, CFG_PERCENTILES_MAX);
	if (np == -1)
		return "Invalid latency-tracking-info-percentiles parameters";
	if (np == -2)
		return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
	struct kv_buf b = KV_BUF_INIT;
	for (int i = 0; i < np; i++) {
		char t[64];
		int len = snprintf(t, sizeof(t), "%f", p[i]);
		while (len > 1 && t[len - 1] == '0')
			len--;
		if (t[len - 1] == '.')
			len--;
		if (i)
			kv_buf_append_char(&b, ' ');
		kv_buf_append(&b, t, (size_t)len);
	}
	free(v->str);
	v->str = kv_strndup(b.len ? b.data : "", b.len);
	kv_buf_free(&b);
	return NULL;
}

int config_latency_percentiles(double *out, int max)
{
	pthread_mutex_lock(&cfg_lock);
	int n = cfg_percentiles_parse(g_config.latency_percentiles ? g_config.latency_percentiles
								   : "", out, max);
	pthread_mutex_unlock(&cfg_lock);
	return n < 0 ? 0 : n;
}

static const char *cfg_check_maxclients(struct cfg_value *v, enum cfg_origin o, char *e, size_t n)
{
	if (o != ORIGIN_SET || v->num <= atomic_load(&g_config.maxclients))
		return NULL;
	int64_t reserved = cfg_reserved_fds();
	int64_t limit = cfg_raise_nofile(v->num + reserved);
	if (limit - reserved >= v->num)
		return NULL;
	snprintf(e, n, "The operating system is not able to handle the specified number of "
		 "clients, try with %lld", (long long)(limit - reserved > 1 ? limit - reserved : 1));
	return e;
}

/* At startup a too-high maxclients is lowered to what the limit allows, with
 * a warning, as Redis's adjustOpenFilesLimit() does. */
static void cfg_adjust_open_files(void)
{
	int64_t want = atomic_load(&g_config.maxclients);
	int64_t reserved = cfg_reserved_fds();
	int64_t limit = cfg_raise_nofile(want + reserved);
	if (limit - reserved >= want)
		return;
	int64_t best = limit - reserved > 1 ? limit - reserved : 1;
	fprintf(stderr, "Current maximum open files is %lld. maxclients has been reduced to "
		"%lld to compensate for low ulimit. If you need higher maxclients increase "
		"'ulimit -n'.\n", (long long)limit, (long long)best);
	atomic_store(&g_config.maxclients, best);
}

static void cfg_applied_loglevel(void)
{
	log_set_level(atomic_load(&g_config.loglevel));
}

/* ------------------------------------------------------------------ */
/* defaults */

static void cfg_reset(void)
{
	cfg_set_str(&g_config.bind, kv_strndup("127.0.0.1", 9));
	cfg_set_str(&g_config.dir, realpath(".", NULL));
	if (!g_config.dir)
		cfg_set_str(&g_config.dir, kv_strndup(".", 1));
	cfg_set_str(&g_config.logfile, kv_strndup("", 0));
	cfg_set_str(&g_config.pidfile, kv_strndup("", 0));
	static const char obuf_default[] =
		"normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
	cfg_set_str(&g_config.client_output_buffer_limit,
		    kv_strndup(obuf_default, sizeof(obuf_default) - 1));
	cfg_set_str(&g_config.latency_percentiles, kv_strndup("50 99 99.9", 10));
	static const char save_default[] = "3600 1 300 100 60 10000";
	cfg_set_str(&g_config.save, kv_strndup(save_default, sizeof(save_default) - 1));
	if (cfg_strings_owned)
		free(g_config.config_file);
	g_config.config_file = NULL;
	cfg_strings_owned = true;

	g_config.port = 6379;
	g_config.threads = 0;
	g_config.io = KV_IO_AUTO;
	g_config.tcp_backlog = 511;
	g_config.databases = 16;
	g_config.busy_poll_us = -1;
	g_config.enable_debug_cmd = KV_PROTECTED_NO;
	g_config.enable_module_cmd = KV_PROTECTED_NO;
	cfg_daemonize = false;
	atomic_store(&g_config.maxclients, 10000);
	atomic_store(&g_config.proto_max_bulk_len, 512ll << 20);
	atomic_store(&g_config.client_query_buffer_limit, 1ll << 30);
	atomic_store(&g_config.timeout_s, 0);
	atomic_store(&g_config.tracking_table_max_keys, 1000000);
	atomic_store(&g_config.tcp_keepalive_s, 300);
	atomic_store(&g_config.hz, 10);
	atomic_store(&g_config.loglevel, LOG_NOTICE);
	atomic_store(&g_config.appendonly, 1);
	atomic_store(&g_config.appendfsync, 1);
	atomic_store(&g_config.aof_use_rdb_preamble, 1);
	atomic_store(&g_config.lua_allow_undeclared_keys, 0);
	atomic_store(&g_config.busy_reply_threshold_ms, 5000);
	atomic_store(&g_config.lua_memory_limit, 512ll << 20);
	atomic_store(&g_config.repl_backlog_size, 1ll << 20);
	atomic_store(&g_config.min_replicas_to_write, 0);
	atomic_store(&g_config.min_replicas_max_lag, 10);
	atomic_store(&g_config.repl_timeout, 60);
	atomic_store(&g_config.repl_ping_replica_period, 10);
	cfg_set_str(&cfg_replicaof, kv_strndup("", 0));
	cfg_set_str(&cfg_masterauth, kv_strndup("", 0));
	cfg_set_str(&cfg_masteruser, kv_strndup("", 0));
	atomic_store(&g_config.replica_read_only, 1);
	atomic_store(&g_config.replica_serve_stale_data, 1);
	atomic_store(&g_config.replica_priority, 100);
	atomic_store(&g_config.replica_announced, 1);
	atomic_store(&g_config.migrate_connections, 1);
	atomic_store(&g_config.auto_aof_rewrite_pct, 100);
	atomic_store(&g_config.auto_aof_rewrite_min_size, 64ll << 20);
	atomic_store(&g_config.aof_preallocate, 1ll << 20);
	atomic_store(&g_config.aof_direct_io, 1);
	atomic_store(&g_config.snapshot_inflight_blocks, 4);
	atomic_store(&notify_flags, 0);
	atomic_store(&slowlog_slower_than_us, 10000);
	atomic_store(&slowlog_max_len, 128);
	atomic_store(&g_config.acllog_max_len, 128);
	atomic_store(&g_config.key_load_delay_us, 0);
	atomic_store(&g_config.maxmemory_clients, 0);
	aof_set_key_load_delay(0);
	atomic_store(&lat_threshold_ms, 0);
	atomic_store(&lat_tracking, 1);
	cfg_store_password(NULL);
	cfg_applied_obuf();
	cfg_applied_save();
}

/* ------------------------------------------------------------------ */
/* the file and the command line */

/* Where a setting came from, for the error report. */
struct cfg_src {
	const char *file;       /* NULL: the command line */
	int line;
	const char *text;       /* the line as written, or the flag */
};

static void cfg_report(const struct cfg_src *src, const char *err)
{
	fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (kevy %s) ***\n", KV_VERSION);
	if (src->file)
		fprintf(stderr, "Reading the configuration file '%s', at line %d\n", src->file,
			src->line);
	else
		fprintf(stderr, "Reading the command line\n");
	fprintf(stderr, ">>> '%s'\n%s\n", src->text, err);
}

/* Split arguments, each NUL-terminated in its own allocation. */
struct cfg_args {
	int argc;
	char *argv[CFG_MAX_ARGS];
	size_t len[CFG_MAX_ARGS];
};

static void cfg_args_free(struct cfg_args *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	a->argc = 0;
}

static int cfg_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One escape inside double quotes at *p (which is a backslash); appends the
 * byte it stands for and returns how many input bytes it used. */
static size_t cfg_unescape(const char *p, struct kv_buf *cur)
{
	if (p[1] == 'x' && cfg_hexval(p[2]) >= 0 && cfg_hexval(p[3]) >= 0) {
		kv_buf_append_char(cur, (char)(cfg_hexval(p[2]) * 16 + cfg_hexval(p[3])));
		return 4;
	}
	char c;
	switch (p[1]) {
	case 'n': c = '\n'; break;
	case 'r': c = '\r'; break;
	case 't': c = '\t'; break;
	case 'b': c = '\b'; break;
	case 'a': c = '\a'; break;
	default: c = p[1]; break;
	}
	kv_buf_append_char(cur, c);
	return 2;
}

/* Reads one argument at *pp with redis.conf's quoting rules (sdssplitargs):
 * "double quotes" with \n \r \t \b \a \xHH escapes, 'single quotes' with \',
 * a closing quote must end the argument.  Returns 0, or -1 on unbalanced
 * quotes. */
static int cfg_next_arg(const char **pp, struct kv_buf *cur)
{
	const char *p = *pp;
	int inq = 0, insq = 0;
	for (;;) {
		if (inq) {
			if (*p == '\0')
				return -1;
			if (*p == '\\' && p[1]) {
				p += cfg_unescape(p, cur);
				continue;
			}
			if (*p == '"') {
				if (p[1] && !isspace((unsigned char)p[1]))
					return -1;
				p++;
				break;
			}
			kv_buf_append_char(cur, *p++);
		} else if (insq) {
			if (*p == '\0')
				return -1;
			if (*p == '\\' && p[1] == '\'') {
				kv_buf_append_char(cur, '\'');
				p += 2;
				continue;
			}
			if (*p == '\'') {
				if (p[1] && !isspace((unsigned char)p[1]))
					return -1;
				p++;
				break;
			}
			kv_buf_append_char(cur, *p++);
		} else {
			if (*p == '\0' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
				break;
			if (*p == '"')
				inq = 1;
			else if (*p == '\'')
				insq = 1;
			else
				kv_buf_append_char(cur, *p);
			p++;
		}
	}
	*pp = p;
	return 0;
}

/* Splits a line into arguments.  Returns 0, or an error text. */
static const char *cfg_split(const char *line, struct cfg_args *a)
{
	a->argc = 0;
	const char *p = line;
	for (;;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			return NULL;
		if (a->argc == CFG_MAX_ARGS) {
			cfg_args_free(a);
			return "Too many arguments in configuration line";
		}
		struct kv_buf cur = KV_BUF_INIT;
		if (cfg_next_arg(&p, &cur) < 0) {
			kv_buf_free(&cur);
			cfg_args_free(a);
			return "Unbalanced quotes in configuration line";
		}
		a->len[a->argc] = cur.len;
		a->argv[a->argc] = kv_strndup(cur.len ? cur.data : "", cur.len);
		a->argc++;
		kv_buf_free(&cur);
	}
}

static int cfg_load_file(const char *path, int depth);

/* Set by the first "save" line of a start (file or flag). */
static bool cfg_save_loaded;

/* Redis's rule for "save" at load: the first save line replaces the
 * default rules, each later one (the file's next lines, then --save flags)
 * adds its rules to them, and save "" clears them; so the one-line-per-rule
 * file CONFIG REWRITE writes reads back whole.  Returns NULL or the error. */
static const char *cfg_save_add_up(struct cfg_value *v)
{
	bool first = !cfg_save_loaded;
	cfg_save_loaded = true;
	if (first || !v->str[0])
		return NULL;
	pthread_mutex_lock(&cfg_lock);
	const char *old = g_config.save ? g_config.save : "";
	size_t olen = strlen(old), nlen = strlen(v->str);
	char *sum = kv_malloc(olen + 1 + nlen + 1);
	memcpy(sum, old, olen);
	sum[olen] = olen ? ' ' : '\0';
	memcpy(sum + olen + (olen ? 1 : 0), v->str, nlen + 1);
	pthread_mutex_unlock(&cfg_lock);
	free(v->str);
	v->str = sum;
	return cfg_check_save(v, ORIGIN_LOAD, NULL, 0);
}

/* Applies one setting read at load time.  Returns 0, or -1 after reporting. */
static int cfg_apply_load(const struct cfg_src *src, const char *name, int nargs,
			  const struct kv_slice *args, int depth)
{
	char errbuf[256];
	size_t nlen = strlen(name);
	if (nlen == 4 && strncasecmp(name, "user", 4) == 0 && nargs >= 1) {
		/* Checked now, created at startup (acl_load_startup). */
		char aerr[1024];
		if (acl_config_user(nargs, args, aerr, sizeof(aerr)) < 0) {
			cfg_report(src, aerr);
			return -1;
		}
		return 0;
	}
	if (nlen == 7 && strncasecmp(name, "include", 7) == 0) {
		if (nargs != 1) {
			cfg_report(src, "wrong number of arguments");
			return -1;
		}
		return cfg_load_file(args[0].ptr, depth + 1);
	}
	for (size_t i = 0; i < KV_ARRAY_LEN(cfg_refused); i++) {
		if (strcasecmp(name, cfg_refused[i].name) == 0) {
			cfg_report(src, cfg_refused[i].why);
			return -1;
		}
	}
	const struct cfg_def *d = cfg_find(name, nlen);
	if (!d) {
		cfg_report(src, "Bad directive or wrong number of arguments");
		return -1;
	}
	struct cfg_value v;
	const char *err = cfg_parse(d, nargs, args, ORIGIN_LOAD, &v, errbuf, sizeof(errbuf));
	if (!err && d->ptr == (void *)&g_config.save && (err = cfg_save_add_up(&v)) != NULL)
		cfg_value_free(&v);
	if (err) {
		cfg_report(src, err);
		return -1;
	}
	cfg_store(d, &v);
	return 0;
}

static void cfg_args_to_slices(const struct cfg_args *a, int from, struct kv_slice *out)
{
	for (int i = from; i < a->argc; i++) {
		out[i - from].ptr = a->argv[i];
		out[i - from].len = a->len[i];
	}
}

/* Applies one line of a config file.  Returns 0 or -1 (reported). */
static int cfg_load_line(const char *path, int lineno, char *line, int depth)
{
	/* Trim like Redis (" \t\r\n" at both ends), skip blanks and comments. */
	while (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\n')
		line++;
	size_t n = strlen(line);
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r' ||
		     line[n - 1] == '\n'))
		line[--n] = '\0';
	if (n == 0 || line[0] == '#')
		return 0;
	struct cfg_src src = { path, lineno, line };
	struct cfg_args a;
	const char *err = cfg_split(line, &a);
	if (err) {
		cfg_report(&src, err);
		return -1;
	}
	if (a.argc == 0)
		return 0;
	struct kv_slice args[CFG_MAX_ARGS];
	cfg_args_to_slices(&a, 1, args);
	int rc = cfg_apply_load(&src, a.argv[0], a.argc - 1, args, depth);
	cfg_args_free(&a);
	return rc;
}

static int cfg_load_file(const char *path, int depth)
{
	if (depth > CFG_INCLUDE_DEPTH_MAX) {
		fprintf(stderr, "Fatal error, too many nested includes at '%s'\n", path);
		return -1;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "Fatal error, can't open config file '%s': %s\n", path,
			strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;
	while (rc == 0 && getline(&line, &cap, f) >= 0)
		rc = cfg_load_line(path, ++lineno, line, depth);
	free(line);
	fclose(f);
	return rc;
}

/* The text of flag arguments [i, j) for the error report. */
static char *cfg_flag_text(char **argv, int i, int j)
{
	struct kv_buf b = KV_BUF_INIT;
	for (int k = i; k < j; k++) {
		if (k > i)
			kv_buf_append_char(&b, ' ');
		kv_buf_append_str(&b, argv[k]);
	}
	char *s = kv_strndup(b.len ? b.data : "", b.len);
	kv_buf_free(&b);
	return s;
}

/* Applies the flag starting at argv[i], whose values end before argv[j]. */
static int cfg_load_flag(char **argv, int i, int j)
{
	char *text = cfg_flag_text(argv, i, j);
	struct cfg_src src = { NULL, 0, text };
	struct cfg_args a;
	const char *err = cfg_split(argv[i] + 2, &a);
	if (!err && a.argc == 0)
		err = "Bad directive or wrong number of arguments";
	if (!err && a.argc - 1 + (j - i - 1) > CFG_MAX_ARGS) {
		cfg_args_free(&a);
		err = "Too many arguments in configuration line";
	}
	if (err) {
		cfg_report(&src, err);
		free(text);
		return -1;
	}
	struct kv_slice args[2 * CFG_MAX_ARGS];
	cfg_args_to_slices(&a, 1, args);
	int nargs = a.argc - 1;
	for (int k = i + 1; k < j; k++) {
		args[nargs].ptr = argv[k];
		args[nargs].len = strlen(argv[k]);
		nargs++;
	}
	int rc = cfg_apply_load(&src, a.argv[0], nargs, args, 0);
	cfg_args_free(&a);
	free(text);
	return rc;
}

/* "--name value..." flags.  As in Redis 7, the argument right after a name is
 * always its value (even if it starts with "--"); later ones are values until
 * the next "--"; "--name value" may also come as one argument. */
static int cfg_load_flags(int argc, char **argv, int i)
{
	while (i < argc) {
		if (strncmp(argv[i], "--", 2) != 0) {
			struct cfg_src src = { NULL, 0, argv[i] };
			cfg_report(&src, "Invalid argument: settings are given as --name value");
			return -1;
		}
		int j = i + 1;
		bool name_only = strpbrk(argv[i] + 2, " \t") == NULL;
		if (name_only && j < argc)
			j++;
		while (j < argc && strncmp(argv[j], "--", 2) != 0)
			j++;
		if (cfg_load_flag(argv, i, j) < 0)
			return -1;
		i = j;
	}
	return 0;
}

static void cfg_take_defaults(void);

static void cfg_print_version(void)
{
	printf("kevy-server v=%s redis-compat=%s bits=%d malloc=%s", KV_VERSION,
	       KV_REDIS_COMPAT_VERSION, (int)(sizeof(long) * 8), kv_alloc_name());
#ifdef __GNUC__
	printf(" cc=gcc-%d.%d.%d", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
	printf("\n");
}

static void cfg_print_usage(void)
{
	printf("Usage: kevy-server [/path/to/kevy.conf] [--name value ...]\n"
	       "       kevy-server -v | --version\n"
	       "       kevy-server -h | --help\n"
	       "\n"
	       "The file uses redis.conf syntax: one setting per line, 'name value...',\n"
	       "'#' comments, \"double\" or 'single' quotes, 'include /other.conf'.\n"
	       "Flags override the file: --port 7000 --threads 4 --io epoll.\n"
	       "Sizes take units: 1k 1kb 1m 1mb 1g 1gb.  Settings: docs/config.md.\n"
	       "\n"
	       "Examples:\n"
	       "       kevy-server\n"
	       "       kevy-server /etc/kevy/kevy.conf --loglevel verbose\n"
	       "       kevy-server --port 7777 --bind 127.0.0.1 ::1 --requirepass secret\n");
}

int config_load(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
		cfg_print_version();
		exit(0);
	}
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		cfg_print_usage();
		exit(0);
	}
	cfg_reset();
	cfg_take_defaults();
	cfg_save_loaded = false;
	int i = 1;
	if (argc >= 2 && argv[1][0] != '-') {
		if (cfg_load_file(argv[1], 0) < 0)
			return -1;
		g_config.config_file = realpath(argv[1], NULL);
		if (!g_config.config_file)
			g_config.config_file = kv_strndup(argv[1], strlen(argv[1]));
		i = 2;
	}
	if (cfg_load_flags(argc, argv, i) < 0)
		return -1;
	cfg_adjust_open_files();
	log_set_level(atomic_load(&g_config.loglevel));
	return 0;
}

/* ------------------------------------------------------------------ */
/* AUTH */

bool config_check_password(const char *p, size_t n)
{
	pthread_mutex_lock(&cfg_lock);
	const char *pw = g_config.requirepass;
	size_t plen = pw ? strlen(pw) : 0;
	/* The loop's length depends only on the attempt, and every byte is
	 * compared, so timing says nothing about where a mismatch is. */
	unsigned diff = plen != n;
	if (plen > 0)
		for (size_t i = 0; i < n; i++)
			diff |= (unsigned char)p[i] ^ (unsigned char)pw[i % plen];
	bool ok = plen > 0 && diff == 0;
	pthread_mutex_unlock(&cfg_lock);
	return ok;
}

/* ------------------------------------------------------------------ */
/* CONFIG GET / CONFIG SET */

static bool cfg_has_glob(const struct kv_slice *s)
{
	for (size_t i = 0; i < s->len; i++)
		if (s->ptr[i] == '*' || s->ptr[i] == '?' || s->ptr[i] == '[')
			return true;
	return false;
}

void config_get_reply(struct kv_buf *out, int npat, const struct kv_slice *pats)
{
	/* Names and aliases are answered apart, as Redis 7.0 does: a pattern
	 * matching both ("*of", "hash-max-*") lists both. */
	bool seen[KV_ARRAY_LEN(cfg_table)] = { false };
	bool seen_alias[KV_ARRAY_LEN(cfg_table)] = { false };
	size_t mark = resp_array_begin(out);
	int64_t n = 0;
	for (int p = 0; p < npat; p++) {
		const struct kv_slice *pat = &pats[p];
		if (!cfg_has_glob(pat)) {
			/* Redis answers a plain name with the name as it was asked. */
			const struct cfg_def *d = cfg_find(pat->ptr, pat->len);
			if (!d)
				continue;
			bool *done = d->alias && strlen(d->alias) == pat->len &&
						 strncasecmp(d->alias, pat->ptr, pat->len) == 0
					     ? &seen_alias[d - cfg_table] : &seen[d - cfg_table];
			if (*done)
				continue;
			*done = true;
			resp_bulk(out, pat->ptr, pat->len);
			cfg_reply_value(out, d);
			n += 2;
			continue;
		}
		for (size_t i = 0; i < KV_ARRAY_LEN(cfg_table); i++) {
			const struct cfg_def *d = &cfg_table[i];
			if (d->flags & CFG_HIDDEN)
				continue;
			const char *names[2] = { d->name, d->alias };
			bool *done[2] = { &seen[i], &seen_alias[i] };
			for (int k = 0; k < 2; k++) {
				if (!names[k] || *done[k] ||
				    !glob_match(pat->ptr, pat->len, names[k], strlen(names[k]), true))
					continue;
				*done[k] = true;
				resp_bulk_str(out, names[k]);
				cfg_reply_value(out, d);
				n += 2;
			}
		}
	}
	resp_map_end(out, mark, n / 2);
}

/* Whether text is the value CONFIG GET shows for d now, byte for byte. */
static bool cfg_is_current(const struct cfg_def *d, const struct kv_slice *text)
{
	struct kv_buf now = KV_BUF_INIT, given = KV_BUF_INIT;
	cfg_reply_value(&now, d);
	resp_bulk(&given, text->ptr, text->len);
	bool same = now.len == given.len && memcmp(now.data, given.data, now.len) == 0;
	kv_buf_free(&now);
	kv_buf_free(&given);
	return same;
}

/* First pass of CONFIG SET: every name is known and given once, and every
 * setting that cannot change at run time is given the value it has, where
 * CFG_SAME_OK allows that (such a pair is marked in same[] and left
 * alone).  Returns true, or false after appending Redis's error. */
static bool cfg_set_lookup(struct kv_buf *out, int npairs, const struct kv_slice *args,
			   const struct cfg_def **defs, bool *same)
{
	const struct kv_slice *unknown = NULL, *bad = NULL;
	const char *why = NULL;
	for (int i = 0; i < npairs; i++) {
		const struct kv_slice *name = &args[2 * i];
		defs[i] = cfg_find(name->ptr, name->len);
		if (!defs[i]) {
			if (!unknown && !bad)
				unknown = name;
			continue;
		}
		if (unknown || bad)
			continue;
		if (defs[i]->flags & CFG_LISTEN) {
			same[i] = cfg_is_current(defs[i], &args[2 * i + 1]);
		} else if (defs[i]->flags & CFG_IMMUTABLE) {
			same[i] = (defs[i]->flags & CFG_SAME_OK) &&
				  cfg_is_current(defs[i], &args[2 * i + 1]);
			if (!same[i]) {
				bad = name;
				why = "can't set immutable config";
				continue;
			}
		}
		for (int j = 0; j < i; j++) {
			if (defs[j] == defs[i]) {
				bad = name;
				why = "duplicate parameter";
				break;
			}
		}
	}
	if (unknown) {
		resp_errorf(out, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
			    (int)unknown->len, unknown->ptr);
		return false;
	}
	if (bad) {
		resp_errorf(out, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
			    (int)bad->len, bad->ptr, why);
		return false;
	}
	return true;
}

static config_listen_fn cfg_listen_hook;
/* One listener change at a time, held from the move to the store, so two
 * CONFIG SETs on different shards leave the values of the one that moved
 * the listeners last. */
static pthread_mutex_t cfg_listen_lock = PTHREAD_MUTEX_INITIALIZER;

void config_set_listen_hook(config_listen_fn fn)
{
	cfg_listen_hook = fn;
}

/* Second step of CONFIG SET when port or bind changes: every value parsed,
 * none stored yet, move the listeners to the new pair.  On failure append
 * Redis's error, naming the first of the two given, and return false; on
 * success return true with cfg_listen_lock held (*locked) until the caller
 * has stored the values. */
static bool cfg_set_listeners(struct kv_buf *out, int npairs, const struct kv_slice *args,
			      const struct cfg_def **defs, const struct cfg_value *vals,
			      const bool *same, bool *locked)
{
	int first = -1;
	const char *bind = NULL;
	int port = -1;
	for (int i = 0; i < npairs; i++) {
		if (same[i] || !(defs[i]->flags & CFG_LISTEN))
			continue;
		if (first < 0)
			first = i;
		if (defs[i]->ptr == (void *)&g_config.port)
			port = (int)vals[i].num;
		else
			bind = vals[i].str;
	}
	if (first < 0)
		return true;
	pthread_mutex_lock(&cfg_listen_lock);
	if (!cfg_listen_hook) {
		*locked = true;
		return true;
	}
	/* Nothing is stored yet: the settings still name what the server
	 * listens on. */
	int old_port = atomic_load(&g_config.port);
	if (port < 0)
		port = old_port;
	pthread_mutex_lock(&cfg_lock);
	char *old_bind = kv_strndup(g_config.bind, strlen(g_config.bind));
	pthread_mutex_unlock(&cfg_lock);
	int rc = cfg_listen_hook(old_bind, old_port, bind ? bind : old_bind, port);
	free(old_bind);
	if (rc < 0) {
		pthread_mutex_unlock(&cfg_listen_lock);
		bool is_port = defs[first]->ptr == (void *)&g_config.port;
		resp_errorf(out, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
			    defs[first]->name, is_port ? "Unable to listen on this port. Check server logs."
				    : "Failed to bind to specified addresses.");
		return false;
	}
	*locked = true;
	return true;
}

void config_set_reply(struct kv_buf *out, int nargs, const struct kv_slice *args)
{
	if (nargs < 2 || nargs % 2 != 0) {
		resp_error(out, RESP_ERR_SYNTAX);
		return;
	}
	int npairs = nargs / 2;
	const struct cfg_def **defs = kv_calloc((size_t)npairs, sizeof(*defs));
	struct cfg_value *vals = kv_calloc((size_t)npairs, sizeof(*vals));
	bool *same = kv_calloc((size_t)npairs, sizeof(*same));
	int parsed = 0;
	if (!cfg_set_lookup(out, npairs, args, defs, same))
		goto done;
	char errbuf[256];
	for (; parsed < npairs; parsed++) {
		if (same[parsed])
			continue;
		const char *err = cfg_parse(defs[parsed], 1, &args[2 * parsed + 1], ORIGIN_SET,
					    &vals[parsed], errbuf, sizeof(errbuf));
		if (err) {
			/* Redis names the setting as it knows it, in lower case:
			 * by its alias when that is what was given. */
			const struct kv_slice *arg = &args[2 * parsed];
			const struct cfg_def *d = defs[parsed];
			bool by_alias = cfg_name_is(d->alias, arg->ptr, arg->len);
			resp_errorf(out, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
				    by_alias ? d->alias : d->name, err);
			goto done;
		}
	}
	bool listen_locked = false;
	if (!cfg_set_listeners(out, npairs, args, defs, vals, same, &listen_locked))
		goto done;
	for (int i = 0; i < npairs; i++)
		if (!same[i])
			cfg_store(defs[i], &vals[i]);
	if (listen_locked)
		pthread_mutex_unlock(&cfg_listen_lock);
	resp_ok(out);
done:
	for (int i = 0; i < parsed; i++)
		cfg_value_free(&vals[i]);
	free(same);
	free(vals);
	free(defs);
}

/* ---- client-output-buffer-limit ----
 * Redis's syntax: groups of "class hard soft seconds", class one of normal,
 * replica (slave), pubsub; sizes take memory units.  Parsed twice: check()
 * validates without side effects, applied() stores the limits. */
static bool cfg_obuf_parse(const char *text, int64_t out[3][3])
{
	char *copy = kv_strndup(text, strlen(text));
	char *save = NULL;
	char *tok[12];
	int n = 0;
	for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (n == 12) {
			free(copy);
			return false;
		}
		tok[n++] = t;
	}
	bool ok = n > 0 && n % 4 == 0;
	for (int i = 0; ok && i < n; i += 4) {
		int cls = strcasecmp(tok[i], "normal") == 0 ? 0
			: strcasecmp(tok[i], "pubsub") == 0 ? 2
			: (strcasecmp(tok[i], "replica") == 0 || strcasecmp(tok[i], "slave") == 0) ? 1
			: -1;
		uint64_t hard, soft;
		struct kv_slice sec = { tok[i + 3], strlen(tok[i + 3]) };
		int64_t secs;
		ok = cls >= 0 && config_memtoull(tok[i + 1], &hard) &&
		     config_memtoull(tok[i + 2], &soft) && hard <= INT64_MAX &&
		     soft <= INT64_MAX && arg_to_int64(&sec, &secs) && secs >= 0;
		if (ok) {
			out[cls][0] = (int64_t)hard;
			out[cls][1] = (int64_t)soft;
			out[cls][2] = secs;
		}
	}
	free(copy);
	return ok;
}

/* A value names some classes; the others keep the limits they have, and
 * the value stored (what CONFIG GET and CONFIG REWRITE show) is Redis's
 * canonical form: every class, in bytes. */
/* The value now, copied under cfg_lock (CONFIG SET on another shard may
 * replace it). */
static char *cfg_obuf_current(void)
{
	pthread_mutex_lock(&cfg_lock);
	const char *cur = g_config.client_output_buffer_limit;
	char *copy = cur ? kv_strndup(cur, strlen(cur)) : NULL;
	pthread_mutex_unlock(&cfg_lock);
	return copy;
}

static const char *cfg_check_obuf(struct cfg_value *v, enum cfg_origin o, char *e, size_t n)
{
	int64_t lim[3][3] = { { 0, 0, 0 }, { 256 << 20, 64 << 20, 60 }, { 32 << 20, 8 << 20, 60 } };
	char *cur = cfg_obuf_current();
	if (cur)
		(void)cfg_obuf_parse(cur, lim);
	free(cur);
	if (!cfg_obuf_parse(v->str, lim))
		return "Invalid argument";
	char buf[256];
	snprintf(buf, sizeof(buf), "normal %lld %lld %lld slave %lld %lld %lld pubsub %lld %lld %lld",
		 (long long)lim[0][0], (long long)lim[0][1], (long long)lim[0][2],
		 (long long)lim[1][0], (long long)lim[1][1], (long long)lim[1][2],
		 (long long)lim[2][0], (long long)lim[2][1], (long long)lim[2][2]);
	free(v->str);
	v->str = kv_strndup(buf, strlen(buf));
	return NULL;
}

static void cfg_applied_obuf(void)
{
	int64_t lim[3][3] = { { 0, 0, 0 }, { 256 << 20, 64 << 20, 60 }, { 32 << 20, 8 << 20, 60 } };
	char *cur = cfg_obuf_current();
	bool ok = cur && cfg_obuf_parse(cur, lim);
	free(cur);
	if (!ok)
		return;
	atomic_store(&g_config.obuf_normal_hard, lim[0][0]);
	atomic_store(&g_config.obuf_normal_soft, lim[0][1]);
	atomic_store(&g_config.obuf_normal_soft_s, lim[0][2]);
	atomic_store(&g_config.obuf_pubsub_hard, lim[2][0]);
	atomic_store(&g_config.obuf_pubsub_soft, lim[2][1]);
	atomic_store(&g_config.obuf_pubsub_soft_s, lim[2][2]);
	atomic_store(&g_config.obuf_replica_hard, lim[1][0]);
	atomic_store(&g_config.obuf_replica_soft, lim[1][1]);
	atomic_store(&g_config.obuf_replica_soft_s, lim[1][2]);
}

/* ------------------------------------------------------------------ */
/* CONFIG REWRITE
 *
 * Redis 7.0's rules (config.c, rewriteConfig): the file the server was
 * started with is read line by line; each line naming a setting (or its
 * alias) is remembered under the setting's name.  Every setting is then
 * rewritten: its first remembered line gets the current value in place,
 * lines it no longer needs (a second "bind", or "save" lines beyond the
 * current rules) become blank, and a value that is in no line is appended
 * after "# Generated by CONFIG REWRITE" only if it differs from the
 * default.  Comments, blank lines and "include" lines stay; an included
 * file is never written; a line kevy does not understand stays as a
 * "# ??? " comment, so the next start does not refuse it.  Runs of blank
 * lines become one.
 */

#define CFG_REWRITE_SIGNATURE "# Generated by CONFIG REWRITE"

/* Each setting's value at startup, before the file and the flags: what
 * "default" means to the rewrite.  Taken once, so a test that loads twice
 * compares with the real defaults. */
static char *cfg_default_text[KV_ARRAY_LEN(cfg_table)];
static bool cfg_defaults_taken;
/* One rewrite at a time: CONFIG runs on the client's own shard, and two
 * shards' clients could otherwise race on the temporary file. */
static pthread_mutex_t cfg_rewrite_lock = PTHREAD_MUTEX_INITIALIZER;

/* Redis's rewriteConfigFormatMemory(): the largest of gb, mb, kb (powers of
 * 1024, which kevy reads back as such) that divides the value. */
static void cfg_format_memory(struct kv_buf *b, int64_t v)
{
	static const struct {
		const char *unit;
		int64_t size;
	} units[] = { { "gb", 1ll << 30 }, { "mb", 1ll << 20 }, { "kb", 1ll << 10 } };
	for (size_t i = 0; v && i < KV_ARRAY_LEN(units); i++) {
		if (v % units[i].size == 0) {
			kv_buf_printf(b, "%lld%s", (long long)(v / units[i].size), units[i].unit);
			return;
		}
	}
	kv_buf_printf(b, "%lld", (long long)v);
}

/* Redis's sdscatrepr(): a double-quoted string that the file's parser
 * (cfg_next_arg) reads back byte for byte. */
static void cfg_append_repr(struct kv_buf *b, const char *s)
{
	kv_buf_append_char(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '\\': kv_buf_append_str(b, "\\\\"); break;
		case '"': kv_buf_append_str(b, "\\\""); break;
		case '\n': kv_buf_append_str(b, "\\n"); break;
		case '\r': kv_buf_append_str(b, "\\r"); break;
		case '\t': kv_buf_append_str(b, "\\t"); break;
		case '\a': kv_buf_append_str(b, "\\a"); break;
		case '\b': kv_buf_append_str(b, "\\b"); break;
		default:
			if (isprint(*p))
				kv_buf_append_char(b, (char)*p);
			else
				kv_buf_printf(b, "\\x%02x", *p);
		}
	}
	kv_buf_append_char(b, '"');
}

/* A word of a list setting (bind, client-output-buffer-limit) as is, or
 * quoted when reading it back would otherwise split or unescape it. */
static void cfg_append_word(struct kv_buf *b, const char *w, size_t n)
{
	bool plain = n > 0;
	for (size_t i = 0; plain && i < n; i++)
		plain = isgraph((unsigned char)w[i]) && w[i] != '"' && w[i] != '\'';
	if (plain) {
		kv_buf_append(b, w, n);
		return;
	}
	char *copy = kv_strndup(w, n);
	cfg_append_repr(b, copy);
	free(copy);
}

/* The setting's current string (heap copy; "" when unset). */
static char *cfg_get_str(const struct cfg_def *d)
{
	pthread_mutex_lock(&cfg_lock);
	const char *s = *(char **)d->ptr;
	char *copy = kv_strndup(s ? s : "", s ? strlen(s) : 0);
	pthread_mutex_unlock(&cfg_lock);
	return copy;
}

/* The value of a setting as the file would hold it (what follows the name);
 * equal values give equal texts, which is how defaults are recognized. */
static void cfg_format_value(struct kv_buf *b, const struct cfg_def *d)
{
	switch (d->type) {
	case CFG_INT:
		kv_buf_printf(b, "%lld", (long long)cfg_get_num(d));
		return;
	case CFG_MEM:
		cfg_format_memory(b, cfg_get_num(d));
		return;
	case CFG_MEMPCT: {
		int64_t v = cfg_get_num(d);
		if (v >= 0)
			cfg_format_memory(b, v);
		else
			kv_buf_printf(b, "%lld%%", (long long)-v);
		return;
	}
	case CFG_BOOL:
		kv_buf_append_str(b, cfg_get_num(d) ? "yes" : "no");
		return;
	case CFG_ENUM: {
		int64_t i = cfg_get_num(d);
		if (i >= 0 && d->names[i])
			kv_buf_append_str(b, d->names[i]);
		else
			kv_buf_printf(b, "%lld", (long long)i);
		return;
	}
	case CFG_NOTIFY: {
		/* The canonical class string CONFIG GET prints, quoted as a string
		 * (it may be empty). */
		char classes[NOTIFY_CLASSES_MAX + 1];
		size_t n = notify_classes_format((int)cfg_get_num(d), classes);
		classes[n] = '\0';
		cfg_append_repr(b, classes);
		return;
	}
	case CFG_STR: {
		char *s = cfg_get_str(d);
		cfg_append_repr(b, s);
		free(s);
		return;
	}
	case CFG_WORDS: {
		char *s = cfg_get_str(d);
		bool first = true;
		for (char *p = s; *p;) {
			while (*p == ' ')
				p++;
			size_t n = strcspn(p, " ");
			if (n == 0)
				break;
			if (!first)
				kv_buf_append_char(b, ' ');
			cfg_append_word(b, p, n);
			first = false;
			p += n;
		}
		if (first)
			kv_buf_append_str(b, "\"\"");
		free(s);
		return;
	}
	}
}

static void cfg_take_defaults(void)
{
	if (cfg_defaults_taken)
		return;
	for (size_t i = 0; i < KV_ARRAY_LEN(cfg_table); i++) {
		struct kv_buf b = KV_BUF_INIT;
		cfg_format_value(&b, &cfg_table[i]);
		cfg_default_text[i] = kv_strndup(b.len ? b.data : "", b.len);
		kv_buf_free(&b);
	}
	cfg_defaults_taken = true;
}

/* The file being rewritten: its lines, and for each setting the numbers of
 * the lines that named it (first to last), of which `used` were reused. */
struct cfg_rewrite {
	char **lines;
	size_t nlines, cap;
	struct {
		size_t *at;
		size_t n, cap, used;
	} opt[KV_ARRAY_LEN(cfg_table) + 1];   /* the last: `user` lines */
	bool needs_signature;
};

/* `user` lines are not a setting of cfg_table: their slot is past it. */
#define CFG_RW_USERS KV_ARRAY_LEN(cfg_table)

static void cfg_rw_append(struct cfg_rewrite *rw, char *line)
{
	if (rw->nlines == rw->cap) {
		rw->cap = rw->cap ? rw->cap * 2 : 64;
		rw->lines = kv_realloc(rw->lines, rw->cap * sizeof(*rw->lines));
	}
	rw->lines[rw->nlines++] = line;
}

static void cfg_rw_free(struct cfg_rewrite *rw)
{
	for (size_t i = 0; i < rw->nlines; i++)
		free(rw->lines[i]);
	free(rw->lines);
	for (size_t i = 0; i <= CFG_RW_USERS; i++)
		free(rw->opt[i].at);
}

/* One line of the old file, trimmed as Redis trims it. */
static void cfg_rw_read_line(struct cfg_rewrite *rw, const char *raw, size_t n)
{
	while (n && strchr(" \t\r\n", raw[0])) {
		raw++;
		n--;
	}
	while (n && strchr(" \t\r\n", raw[n - 1]))
		n--;
	char *line = kv_strndup(raw, n);
	if (n == 0 || line[0] == '#') {
		if (strcmp(line, CFG_REWRITE_SIGNATURE) == 0)
			rw->needs_signature = false;
		cfg_rw_append(rw, line);
		return;
	}
	struct cfg_args a;
	const struct cfg_def *d = NULL;
	bool known = false, user = false;
	if (!cfg_split(line, &a) && a.argc > 0) {
		d = cfg_find(a.argv[0], a.len[0]);
		user = strcasecmp(a.argv[0], "user") == 0;
		known = d || user || strcasecmp(a.argv[0], "include") == 0;
		cfg_args_free(&a);
	}
	if (!known) {
		/* Unparsable, or a directive kevy does not know (edited in after
		 * the start): kept, as a comment, as Redis keeps it. */
		size_t len = n + 6;
		char *c = kv_malloc(len + 1);
		snprintf(c, len + 1, "# ??? %s", line);
		free(line);
		cfg_rw_append(rw, c);
		return;
	}
	if (d || user) {
		size_t k = d ? (size_t)(d - cfg_table) : CFG_RW_USERS;
		if (rw->opt[k].n == rw->opt[k].cap) {
			rw->opt[k].cap = rw->opt[k].cap ? rw->opt[k].cap * 2 : 4;
			rw->opt[k].at = kv_realloc(rw->opt[k].at, rw->opt[k].cap * sizeof(size_t));
		}
		rw->opt[k].at[rw->opt[k].n++] = rw->nlines;
	}
	cfg_rw_append(rw, line);
}

/* Reads the old file; a missing one is an empty file, as in Redis.
 * Returns 0 or -errno. */
static int cfg_rw_read(struct cfg_rewrite *rw, const char *path)
{
	memset(rw, 0, sizeof(*rw));
	rw->needs_signature = true;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	struct kv_buf text = KV_BUF_INIT;
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		kv_buf_append(&text, chunk, got);
	int rc = ferror(f) ? -EIO : 0;
	fclose(f);
	/* Split on '\n'.  Unlike Redis, the end of the last line is not the
	 * start of an empty one, so a second rewrite gives the same file. */
	if (rc == 0 && text.len) {
		size_t start = 0, end = text.len - (text.data[text.len - 1] == '\n');
		for (size_t i = 0; i <= end; i++) {
			if (i == end || text.data[i] == '\n') {
				cfg_rw_read_line(rw, text.data + start, i - start);
				start = i + 1;
			}
		}
	}
	kv_buf_free(&text);
	return rc;
}

/* Redis's rewriteConfigRewriteLine(): the setting's next line of the old
 * file takes `line`; without one, it is appended when forced. */
static void cfg_rw_line(struct cfg_rewrite *rw, size_t k, struct kv_buf *line, bool force)
{
	char *text = kv_strndup(line->data, line->len);
	if (rw->opt[k].used < rw->opt[k].n) {
		size_t at = rw->opt[k].at[rw->opt[k].used++];
		free(rw->lines[at]);
		rw->lines[at] = text;
		return;
	}
	if (!force) {
		free(text);
		return;
	}
	if (rw->needs_signature) {
		/* A blank line sets what is generated apart from what was
		 * written by hand. */
		if (rw->nlines && rw->lines[rw->nlines - 1][0])
			cfg_rw_append(rw, kv_strndup("", 0));
		cfg_rw_append(rw, kv_strndup(CFG_REWRITE_SIGNATURE, strlen(CFG_REWRITE_SIGNATURE)));
		rw->needs_signature = false;
	}
	cfg_rw_append(rw, text);
}

/* Settings whose empty value means "not set": no line at all, as Redis
 * writes none for a NULL requirepass or pidfile. */
static bool cfg_empty_is_unset(const struct cfg_def *d)
{
	return d->field == FLD_PASS || d->ptr == (void *)&g_config.pidfile ||
	       d->ptr == (void *)&cfg_replicaof || d->ptr == (void *)&cfg_masterauth ||
	       d->ptr == (void *)&cfg_masteruser;
}

static void cfg_rw_setting(struct cfg_rewrite *rw, size_t k)
{
	const struct cfg_def *d = &cfg_table[k];
	struct kv_buf value = KV_BUF_INIT, line = KV_BUF_INIT;
	cfg_format_value(&value, d);
	kv_buf_append_char(&value, '\0');
	value.len--;
	bool force = strcmp(value.data, cfg_default_text[k]) != 0;
	if (d->ptr == (void *)&g_config.dir) {
		/* Always written, as Redis does: the default is wherever the
		 * server was started, so the file pins the data directory. */
		force = true;
	}
	if (cfg_empty_is_unset(d) && strcmp(value.data, "\"\"") == 0) {
		kv_buf_free(&value);
		return;
	}
	if (d->ptr == (void *)&g_config.save && strcmp(value.data, "\"\"") != 0) {
		/* One "save <seconds> <changes>" line per rule, as Redis writes
		 * them; the loader adds the lines of one file up again. */
		const char *p = value.data;
		long long sec, chg;
		int used;
		while (sscanf(p, " %lld %lld%n", &sec, &chg, &used) == 2) {
			kv_buf_clear(&line);
			kv_buf_printf(&line, "save %lld %lld", sec, chg);
			cfg_rw_line(rw, k, &line, force);
			p += used;
		}
	} else {
		kv_buf_printf(&line, "%s %s", d->name, value.data);
		cfg_rw_line(rw, k, &line, force);
	}
	kv_buf_free(&line);
	kv_buf_free(&value);
}

/* The ACL users as `user` lines (Redis's rewriteConfigUserOption): every
 * user as ACL LIST shows it, in the old lines' places first; none when an
 * aclfile holds them (its users are not the config file's). */
static void cfg_rw_users(struct cfg_rewrite *rw)
{
	size_t k = CFG_RW_USERS;
	if (!acl_file()[0]) {
		struct kv_buf all = KV_BUF_INIT, line = KV_BUF_INIT;
		acl_config_lines(&all);
		size_t start = 0;
		for (size_t i = 0; i < all.len; i++) {
			if (all.data[i] != '\n')
				continue;
			kv_buf_clear(&line);
			kv_buf_append(&line, all.data + start, i - start);
			cfg_rw_line(rw, k, &line, true);
			start = i + 1;
		}
		kv_buf_free(&all);
		kv_buf_free(&line);
	}
	for (size_t u = rw->opt[k].used; u < rw->opt[k].n; u++)
		rw->lines[rw->opt[k].at[u]][0] = '\0';
}

/* The new file: every line, runs of blank lines folded into one. */
static void cfg_rw_content(const struct cfg_rewrite *rw, struct kv_buf *out)
{
	bool was_empty = false;
	for (size_t i = 0; i < rw->nlines; i++) {
		bool empty = rw->lines[i][0] == '\0';
		if (empty && was_empty)
			continue;
		was_empty = empty;
		kv_buf_append_str(out, rw->lines[i]);
		kv_buf_append_char(out, '\n');
	}
}

/* A read-only file is a statement that it must not change: the rename
 * below would replace it anyway (and root ignores the mode), so refuse. */
static int cfg_rw_check_writable(const char *path, mode_t *mode)
{
	struct stat st;
	*mode = 0644;
	if (stat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	*mode = st.st_mode & 07777;
	if (access(path, W_OK) != 0)
		return -errno;
	if (!(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)))
		return -EACCES;
	return 0;
}

/*
 * Replaces the file atomically: the content goes to a temporary file in the
 * same directory (rename is atomic only within one file system), which is
 * fsynced before the rename, so a crash leaves either the old file or the
 * whole new one, never a truncated mix; then the directory is fsynced, so
 * the rename itself survives a crash.  Every step goes through the I/O layer
 * (its failpoints reach it); on any failure the temporary file is removed
 * and the old file is untouched.  The file keeps its permissions (one that
 * holds a requirepass stays private).
 */
static int cfg_rw_replace(const char *path, const struct kv_buf *content, mode_t mode)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.rewrite-%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	struct kvio_file f;
	int rc = kvio_open(&f, tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (rc < 0)
		return rc;
	ssize_t n = kvio_pwrite(&f, content->data, content->len, 0);
	if (n != (ssize_t)content->len)
		rc = n < 0 ? (int)n : -EIO;
	if (rc == 0)
		rc = kvio_fsync(&f);
	kvio_close(&f);
	if (rc == 0)
		rc = kvio_rename(tmp, path);
	if (rc < 0) {
		kvio_unlink(tmp);
		return rc;
	}
	char *dir = kv_strndup(path, strlen(path));
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	rc = kvio_fsync_dir(slash ? dir : ".");
	free(dir);
	return rc;
}

int config_rewrite(const char *path)
{
	pthread_mutex_lock(&cfg_rewrite_lock);
	mode_t mode;
	struct cfg_rewrite rw;
	int rc = cfg_rw_check_writable(path, &mode);
	if (rc == 0)
		rc = cfg_rw_read(&rw, path);
	else
		memset(&rw, 0, sizeof(rw));
	if (rc == 0) {
		for (size_t k = 0; k < KV_ARRAY_LEN(cfg_table); k++) {
			cfg_rw_setting(&rw, k);
			/* Lines of this setting it did not reuse are dropped
			 * (Redis's rewriteConfigRemoveOrphaned). */
			for (size_t u = rw.opt[k].used; u < rw.opt[k].n; u++)
				rw.lines[rw.opt[k].at[u]][0] = '\0';
		}
		cfg_rw_users(&rw);
		struct kv_buf content = KV_BUF_INIT;
		cfg_rw_content(&rw, &content);
		rc = cfg_rw_replace(path, &content, mode);
		kv_buf_free(&content);
	}
	cfg_rw_free(&rw);
	pthread_mutex_unlock(&cfg_rewrite_lock);
	return rc;
}

void config_rewrite_reply(struct kv_buf *out)
{
	const char *path = g_config.config_file;
	if (!path) {
		resp_error(out, "ERR The server is running without a config file");
		return;
	}
	int rc = config_rewrite(path);
	if (rc < 0) {
		log_warning("CONFIG REWRITE failed: %s", kv_strerror(rc));
		resp_errorf(out, "ERR Rewriting config file: %s", kv_strerror(rc));
		return;
	}
	log_notice("CONFIG REWRITE executed with success.");
	resp_ok(out);
}
