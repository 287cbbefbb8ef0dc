/*
 * config.h - server settings: defaults, the redis.conf-style file, command
 * line flags ("--port 7000"), and CONFIG GET/SET at runtime.
 *
 * Names follow redis.conf wherever a setting has a Redis equivalent; kevy's
 * own settings are `threads` and `io`.  Settings that can change at runtime
 * are read by every shard thread, so they are atomics (scalars) or guarded by
 * the config lock (strings); read them through the accessors.
 */
#ifndef KV_CONFIG_H
#define KV_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/resp.h"

enum kv_io_mode { KV_IO_AUTO = 0, KV_IO_URING = 1, KV_IO_EPOLL = 2 };
/* supervised: Redis's names in Redis's order (CONFIG SET's error lists them
 * so). */
enum kv_supervised {
	KV_SUPERVISED_UPSTART = 0,
	KV_SUPERVISED_SYSTEMD = 1,
	KV_SUPERVISED_AUTO = 2,
	KV_SUPERVISED_NO = 3,
};

/* enable-debug-command, enable-module-command: who may run a protected
 * command (Redis's order of names). */
enum kv_protected_action {
	KV_PROTECTED_NO = 0,
	KV_PROTECTED_YES = 1,
	KV_PROTECTED_LOCAL = 2,
};

struct kv_config {
	/* Fixed at startup. */
	_Atomic int port;            /* 6379; CONFIG SET moves the listeners */
	char *bind;                  /* space-separated addresses: "127.0.0.1" */
	char *dir;                   /* data directory: "." */
	char *config_file;           /* absolute path or NULL */
	uint32_t threads;            /* shards; 0 = online CPUs */
	enum kv_io_mode io;
	int tcp_backlog;             /* 511 */
	char *logfile;               /* "" = stderr */
	char *pidfile;
	int databases;               /* 16: SELECT 0 .. databases-1 */
	int64_t busy_poll_us;        /* busy-poll-us: -1 = auto (0 when shards >= CPUs, else 50) */
	int supervised;              /* enum kv_supervised: no */
	int enable_debug_cmd;        /* enum kv_protected_action: no */
	int enable_module_cmd;       /* enum kv_protected_action: no */

	/* Changeable at runtime (CONFIG SET). */
	_Atomic int64_t maxclients;          /* 10000 */
	_Atomic int64_t proto_max_bulk_len;  /* 512 MiB */
	_Atomic int64_t client_query_buffer_limit; /* 1 GiB */
	_Atomic int64_t timeout_s;           /* idle client timeout, 0 = never */
	/* Keys the tracking tables of every shard hold at most (0: no limit;
	 * server/tracking.c). */
	_Atomic int64_t tracking_table_max_keys;   /* 1000000 */
	_Atomic int64_t tcp_keepalive_s;     /* 300 */
	_Atomic int64_t hz;                  /* 10: background task frequency */
	_Atomic int loglevel;                /* 0 debug 1 verbose 2 notice 3 warning */
	/* Persistence (aof.c): appendonly 0 no / 1 yes; appendfsync enum aof_fsync. */
	_Atomic int appendonly;              /* yes */
	/* Not a setting: appendonly is being turned on (every shard rewrites,
	 * shard.c "turn-on"); turning it off meanwhile is refused. */
	_Atomic bool aof_turnon_open;
	_Atomic int appendfsync;             /* everysec */
	/* aof-use-rdb-preamble: kept and shown only; a kevy rewrite always
	 * starts from a snapshot (docs/config.md). */
	_Atomic int aof_use_rdb_preamble;    /* yes */
	/* save "<seconds> <changes> ..." (Redis's default); parsed into pairs. */
	char *save;                          /* under the config lock */
	_Atomic int save_nrules;
	_Atomic int64_t save_rules[8][2];    /* seconds, changes */
	_Atomic int64_t auto_aof_rewrite_pct;      /* 100; 0 = off */
	_Atomic int64_t auto_aof_rewrite_min_size; /* 64 MiB */
	_Atomic int64_t aof_preallocate;           /* 1 MiB; 0: off */
	_Atomic int aof_direct_io;                 /* yes */
	_Atomic int64_t snapshot_inflight_blocks;  /* 4: snapshot blocks written at once per shard */
	/* client-output-buffer-limit (fixed at startup): "class hard soft secs"
	 * groups; kevy enforces the normal and pubsub classes. */
	char *client_output_buffer_limit;
	_Atomic int64_t obuf_normal_hard, obuf_normal_soft, obuf_normal_soft_s;
	_Atomic int64_t obuf_pubsub_hard, obuf_pubsub_soft, obuf_pubsub_soft_s;
	/* replica: bytes of records a replica's sender owes it (repl.c) */
	_Atomic int64_t obuf_replica_hard, obuf_replica_soft, obuf_replica_soft_s;
	/* requirepass: guarded by the config lock; use config_check_password. */
	char *requirepass;                   /* NULL or "" = no password */
	_Atomic bool requirepass_set;
	/* protected-mode: without a password, only clients from 127.0.0.1 and
	 * ::1 are served (shard_on_accept; docs/operations.md). */
	_Atomic int protected_mode;          /* yes */
	_Atomic int64_t key_load_delay_us;   /* 0; hidden (persist/aof.c) */
	/* maxmemory-clients: bytes (>= 0), or -N for N% of maxmemory; 0 off. */
	_Atomic int64_t maxmemory_clients;
	/* ACL (commands/acl.h): the users file ("" or NULL: none, fixed at
	 * startup) and ACL LOG's length (applied to acl.c on change). */
	char *aclfile;
	_Atomic int64_t acllog_max_len;      /* 128 */
	/* Scripting (docs/scripting.md): whether a script may touch keys it
	 * did not declare in KEYS (it then holds every shard), and
	 * busy-reply-threshold (alias lua-time-limit) in ms, after which a
	 * running script can be stopped with SCRIPT KILL. */
	_Atomic int lua_allow_undeclared_keys;   /* no */
	_Atomic int64_t busy_reply_threshold_ms; /* 5000 */
	/* Bytes one Lua state (a shard's EVAL or FCALL engine) may hold; 0:
	 * no limit.  Past it an allocation fails: "not enough memory". */
	_Atomic int64_t lua_memory_limit;        /* 512mb */
	/* Redis's replication backlog size (1mb): kept and shown; a kevy
	 * replica resumes from the primary's AOF segments instead
	 * (docs/replication.md). */
	_Atomic int64_t repl_backlog_size;
	/* Writes are refused (NOREPLICAS) while fewer than min_replicas_to_write
	 * replicas acknowledged within min_replicas_max_lag seconds; 0 in
	 * either turns the rule off (docs/replication.md). */
	_Atomic int64_t min_replicas_to_write;   /* 0 */
	_Atomic int64_t min_replicas_max_lag;    /* 10 */
	/* A replica that acknowledged nothing for this many seconds has its
	 * link closed by the primary (it resumes when it comes back). */
	_Atomic int64_t repl_timeout;            /* 60 */
	_Atomic int64_t repl_ping_replica_period;  /* 10: seconds between a primary's PINGs */
	/* A replica (server/replica.c): read-only (only yes is accepted),
	 * whether it serves its data while its link is down, and what INFO
	 * shows Sentinel (priority, announced). */
	_Atomic int replica_read_only;           /* yes */
	_Atomic int replica_serve_stale_data;    /* yes */
	_Atomic int64_t replica_priority;        /* 100 */
	_Atomic int replica_announced;           /* yes */
	/* migrate-connections (server/migrate.c): a client whose commands all
	 * go to another shard moves there. */
	_Atomic int migrate_connections;         /* yes */
	/* latency-tracking-info-percentiles: under the config lock; read
	 * through config_latency_percentiles.  (The other introspection
	 * settings are base/latency.h's and commands/slowlog.h's atomics.) */
	char *latency_percentiles;           /* "50 99 99.9" */
};

extern struct kv_config g_config;

/* Defaults, then the config file (if argv names one first), then flags.
 * Returns 0, or -1 after printing the reason to stderr.  Handles --help and
 * --version itself (prints and exits 0). */
int config_load(int argc, char **argv);
/* INFO latencystats: the percentiles to print (at most max); returns how
 * many. */
int config_latency_percentiles(double *out, int max);
/* Constant-time comparison against requirepass. */
bool config_check_password(const char *p, size_t n);

/* Redis's memtoull(): a NUL-terminated memory amount (digits, then b, k,
 * kb, m, mb, g or gb, any case) into *out; false when it does not parse.
 * CONFIG SET's sizes and DEBUG QUICKLIST-PACKED-THRESHOLD share it. */
bool config_memtoull(const char *p, uint64_t *out);

/* CONFIG GET pattern...: appends the flat RESP2 array of name/value pairs. */
void config_get_reply(struct kv_buf *out, int npat, const struct kv_slice *pats);
/* CONFIG SET name value [name value ...]: all or nothing, Redis's replies. */
void config_set_reply(struct kv_buf *out, int nargs, const struct kv_slice *args);
/* The server's way to move its listeners when CONFIG SET changes port or
 * bind (from the pair it listens on now, old_bind/old_port): 0 once every
 * shard has its new listeners, or -errno with nothing changed.  Set once at
 * startup; without it (tools, unit tests) the values are only stored. */
typedef int (*config_listen_fn)(const char *old_bind, int old_port, const char *bind,
				int port);
void config_set_listen_hook(config_listen_fn fn);

/* CONFIG REWRITE: rewrites the config file at path with the settings in
 * force, keeping its comments and order (Redis 7.0's rules,
 * docs/config.md), and replaces it atomically.  Returns 0 or -errno; on
 * failure the file is untouched. */
int config_rewrite(const char *path);
/* CONFIG REWRITE's reply: OK, or Redis's errors (no config file; the
 * reason the file could not be rewritten). */
void config_rewrite_reply(struct kv_buf *out);

/* replicaof: set (host, port) or clear (host NULL) what CONFIG GET and
 * CONFIG REWRITE show; read it back: false when it names no primary. */
void config_set_replicaof(const char *host, int64_t port);
bool config_replicaof(char *host, size_t cap, int64_t *port);
/* masterauth and masteruser, copied under the config lock ("" unset). */
void config_copy_masterauth(char *auth, size_t acap, char *user, size_t ucap);

#endif
