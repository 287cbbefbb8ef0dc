/*
 * runtime.h - what the runtime (server/) offers command handlers, and the
 * only way a handler reaches it: through its context (c->rt, c->stats).
 *
 * The command layer sits below the runtime, so it cannot call shard.c or
 * server.c; the runtime fills a struct cmd_runtime with its services and
 * hands it to every command it runs.  A handler run without a runtime
 * (replay of the AOF, the tools, unit tests) sees c->rt and c->stats NULL:
 * the data commands never need it (statistics are skipped), and the
 * commands that do (CLIENT, INFO, SAVE, DEBUG RELOAD, ...) only run in a
 * server.
 *
 * Statistics are per shard and single-writer: the shard's own thread updates
 * them with relaxed atomic stores, any thread may read them (INFO sums them).
 */
#ifndef KV_RUNTIME_H
#define KV_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/latency.h"
#include "commands/slowlog.h"

struct aof;
struct cmd_ctx;
struct conn;
struct shard;
struct snapshot_job;
struct acl_user;
struct kv_buf;

/* One command's counters for INFO commandstats (a subcommand, like
 * "config|get", has its own): indexed by cmd_stat_id(). */
struct cmd_stat {
	_Atomic uint64_t calls;     /* ran (failed ones included, as in Redis) */
	_Atomic uint64_t ticks;     /* time in the handler, kv_ticks() units */
	_Atomic uint64_t rejected;  /* refused before running: arity, auth, OOM, MULTI, write refused */
	_Atomic uint64_t failed;    /* ran and replied an error */
	/* Durations of its calls (LATENCY HISTOGRAM, INFO latencystats):
	 * allocated by the owner thread at its first call while
	 * latency-tracking is on, then kept; NULL before. */
	_Atomic(struct lat_hist *) hist;
};

/* Error replies by their first word, for INFO errorstats.  The prefixes
 * come from kevy's own error texts, a small fixed set; the table is bounded
 * anyway, and a prefix that finds it full is counted only in
 * total_error_replies.  Entries are only ever added (the owner thread
 * writes the name, then publishes n with a release store), so a reader on
 * another thread never sees a half-written name; RESETSTAT zeroes counts. */
#define ERR_STATS_MAX 64
#define ERR_STAT_NAME_MAX 32
struct err_stat {
	char name[ERR_STAT_NAME_MAX];
	_Atomic uint64_t count;
};
struct err_stats {
	_Atomic uint32_t n;
	struct err_stat e[ERR_STATS_MAX];
};

struct shard_stats {
	_Atomic uint64_t connections_received;
	_Atomic uint64_t rejected_connections;
	_Atomic uint64_t commands_processed;
	_Atomic uint64_t keyspace_hits;
	_Atomic uint64_t keyspace_misses;
	_Atomic uint64_t net_input_bytes;
	_Atomic uint64_t net_output_bytes;
	_Atomic uint64_t connected_clients;
	_Atomic uint64_t blocked_clients;      /* a gauge: clients waiting in a blocking pop */
	_Atomic uint64_t forwarded_commands;   /* sent to another shard */
	_Atomic uint64_t migrated_connections; /* moved here from another shard */
	_Atomic uint64_t multi_shard_commands; /* took several keyspaces */
	_Atomic uint64_t chained_txns;         /* of them, ran in another's chain (route.c) */
	_Atomic uint64_t chain_longest;        /* the most txns one chain ran (a high mark) */
	_Atomic uint64_t short_chains;         /* chains kept short: others waited (route.c) */
	_Atomic uint64_t borrowed_keyspaces;   /* a parked peer's, granted by its txn's home (route.c) */
	_Atomic uint64_t total_error_replies;  /* always with errors (stat_error) */
	/* Redis's total_reads_processed / total_writes_processed: each recv
	 * completion with bytes, each send completion. */
	_Atomic uint64_t reads_processed;
	_Atomic uint64_t writes_processed;
	/* Clients closed by maxmemory-clients (client eviction). */
	_Atomic uint64_t evicted_clients;
	/* A gauge: this shard's clients' memory (buffers and state), as the
	 * client eviction counts it; published every cron tick. */
	_Atomic uint64_t clients_memory;
	/* cmd_stat_count() entries, or NULL when the runtime keeps none. */
	struct cmd_stat *cmds;
	struct err_stats errors;
	/* SLOWLOG and LATENCY: this shard's entries and events, each under its
	 * own mutex (any thread reads them). */
	struct slowlog slowlog;
	struct lat_monitor latency;
};

static inline void stat_add(_Atomic uint64_t *s, uint64_t n)
{
	atomic_store_explicit(s, atomic_load_explicit(s, memory_order_relaxed) + n,
			      memory_order_relaxed);
}
static inline uint64_t stat_get(_Atomic uint64_t *s)
{
	return atomic_load_explicit(s, memory_order_relaxed);
}

/* Count an error reply (the RESP bytes, starting with '-') in
 * total_error_replies and under its first word in errorstats, as Redis's
 * afterErrorReply does.  Only the stats' own shard thread may call it. */
void stat_error(struct shard_stats *st, const char *reply, size_t len);

/* INFO stats' instantaneous rates: one thread calls stat_inst_sample with
 * the server's totals (it keeps one sample per 100 ms); any thread reads
 * the mean of the last 16 samples. */
void stat_inst_sample(uint64_t ops, uint64_t net_in, uint64_t net_out, int64_t now_ms);
double stat_inst_ops_per_sec(void);
double stat_inst_input_kbps(void);
double stat_inst_output_kbps(void);

/* Process-level facts for INFO server. */
struct server_info {
	int64_t start_time_us;      /* wall clock at start */
	int64_t start_mono_us;
	const char *io_mode;        /* "io_uring" or "epoll" */
	const char *io_reason;      /* why epoll was chosen, or "" */
	char run_id[41];
	char replid[41];            /* INFO replication's master_replid */
	const char *executable;
	const char *config_file;
	int64_t load_us;            /* startup recovery time */
	int supervised;             /* enum kv_supervised in force (server/supervise.c) */
	uint64_t startup_memory;    /* heap bytes before loading (used_memory_startup) */
};
/* A client as CLIENT LIST / CLIENT INFO show it. */
/* This server's side of replication (INFO replication, ROLE):
 * server/replica.c. */
struct repl_status {
	bool replica;               /* following a primary */
	char host[256];             /* the primary */
	int64_t port;
	const char *state;          /* ROLE's "connect", "connecting", "sync", "connected" */
	bool link_up;
	bool sync_in_progress;
	int64_t last_io_s;          /* seconds since the link last read; -1 never */
	int64_t down_since_s;       /* seconds the link has been down */
	uint64_t offset;            /* the replica's offset: records applied, summed over shards */
	char replid[41];            /* the id of the primary it follows */
	/* A primary that was a replica: its former primary's id and the offset
	 * it was promoted at (PSYNC with that id is served up to there). */
	char replid2[41];
	int64_t second_offset;      /* -1: none */
	/* As a primary (INFO stats): syncs served in full, resumed, and
	 * PSYNCs that asked to resume and got a full sync (Redis's sync_full,
	 * sync_partial_ok, sync_partial_err; CONFIG RESETSTAT zeroes them). */
	uint64_t sync_full, sync_partial_ok, sync_partial_err;
};

/* A replica a shard's link serves (INFO replication, ROLE). */
struct replica_info {
	char ip[64];
	int64_t port;               /* REPLCONF listening-port */
	const char *state;          /* "wait_bgsave" during a full sync, then "online" */
	uint64_t offset;            /* the offset the replica acknowledged (REPLCONF ACK) */
	int64_t lag_s;              /* seconds since its last acknowledgement */
};

struct client_info {
	uint64_t id;
	char addr[64];      /* "ip:port" of the peer */
	char laddr[64];     /* "ip:port" of our end */
	int fd;
	char name[128];     /* "" when unset */
	int64_t age_s;
	int64_t idle_s;
	uint32_t shard;
	char flags[16];     /* Redis's letters: O P x b t R B c e, or N */
	uint32_t db;
	uint32_t sub, psub, ssub; /* channel, pattern and shard channel subscriptions */
	int32_t multi;      /* commands queued in MULTI, -1 outside */
	bool pubsub;        /* CLIENT KILL/LIST TYPE pubsub (else normal) */
	char last_cmd[32];  /* lower-case name of the last command, "NULL" initially */
	uint64_t qbuf;      /* unparsed input bytes */
	uint64_t qbuf_free; /* the input buffer's room beyond its bytes */
	uint64_t obl;       /* output bytes waiting */
	uint64_t omem;
	uint64_t tot_mem;
	int resp;           /* protocol version: 2 or 3 */
	int64_t redir;      /* CLIENT TRACKING's REDIRECT id, 0 none, -1 not tracking */
	char user[128];     /* the ACL user's name (truncated) */
	const struct acl_user *acl_user; /* its handle: compare, never dereference */
};

struct cmd_runtime {
	/* ---- shards (ids below the context's nshards) ---- */
	struct shard_stats *(*stats)(uint32_t shard);
	/* Zero every shard's resettable counters (CONFIG RESETSTAT). */
	void (*reset_stats)(void);
	/* The shard's AOF and snapshot job: their info fields are atomics any
	 * thread may read; snapshot_request needs the shard's keyspace held
	 * (a CMD_ALL_SHARDS command holds them all). */
	struct aof *(*aof)(uint32_t shard);
	struct snapshot_job *(*snapshot)(uint32_t shard);
	/* Effect records the shard logged since start (Redis's dirty count). */
	uint64_t (*changes)(uint32_t shard);
	/* Make the shard run a loop turn soon (after snapshot_request). */
	void (*wake)(uint32_t shard);
	/* DEBUG RELOAD: every shard reloads its files at its next turn, and the
	 * reply to client c waits until all have. */
	void (*reload_all)(struct conn *c);

	/* ---- the process ---- */
	const struct server_info *(*info)(void);
	/* Every shard finishes its loop turn and exits. */
	void (*request_shutdown)(void);

	/* ---- clients ---- */
	/* Call fn for every connected client on every shard (consistent per shard). */
	void (*clients_foreach)(void (*fn)(void *arg, const struct client_info *ci), void *arg);
	/* Every replica being served, in the order they connected. */
	void (*replicas_foreach)(void (*fn)(void *arg, const struct replica_info *ri), void *arg);
	void (*repl_status)(struct repl_status *st);
	/* Close every client for which match() returns true, except the one
	 * with id skip_id (0 = none).  Returns how many were closed.  A client
	 * is closed by its own shard after its pending replies; this returns
	 * before that. */
	uint64_t (*clients_kill)(bool (*match)(void *arg, const struct client_info *ci), void *arg,
				 uint64_t skip_id);

	/* ---- the calling client (CMD_LOCAL handlers, where c->conn is set) ---- */
	uint64_t (*conn_id)(const struct conn *c);
	void (*conn_info)(const struct conn *c, struct client_info *ci);
	/* The name set by CLIENT SETNAME / HELLO SETNAME; "" when unset. */
	const char *(*conn_get_name)(const struct conn *c);
	void (*conn_set_name)(struct conn *c, const char *name, size_t len);
	bool (*conn_authenticated)(const struct conn *c);
	void (*conn_set_authenticated)(struct conn *c, bool yes);
	/* AUTH / HELLO AUTH: the connection runs as user u from now on (the
	 * connection takes its own reference) and is authenticated. */
	void (*conn_set_user)(struct conn *c, struct acl_user *u);
	/* The CLIENT LIST line of the calling client, without the newline
	 * (ACL LOG's client-info). */
	void (*conn_info_line)(const struct conn *c, struct kv_buf *out);
	/* The protocol the client speaks (2 or 3: HELLO); setting it applies
	 * from the next reply on (HELLO also sets its own reply's, c->out). */
	int (*conn_proto)(const struct conn *c);
	void (*conn_set_proto)(struct conn *c, int proto);
#define CONN_REPLY_ON 0
#define CONN_REPLY_OFF 1
#define CONN_REPLY_SKIP 2
	/* Close the connection once the reply of the current command was sent (QUIT). */
	void (*conn_close_after_reply)(struct conn *c);
	/* Channels and patterns the client is subscribed to. */
	uint32_t (*conn_subscriptions)(const struct conn *c);
	/* CLIENT REPLY: from the next command on, replies are sent (ON), not
	 * sent (OFF), or the next one only is not (SKIP; ignored while OFF). */
	void (*conn_set_reply_mode)(struct conn *c, int mode);
	/* CLIENT NO-EVICT ON|OFF: kevy evicts no clients; CLIENT LIST shows it. */
	void (*conn_set_no_evict)(struct conn *c, bool on);

	/* ---- clients on any shard ---- */
	/* CLIENT UNBLOCK: if client id is blocked in a blocking command, it is
	 * answered as for a timeout (or with an UNBLOCKED error) by its own
	 * shard at its next turn; returns whether it was blocked. */
	bool (*client_unblock)(uint64_t id, bool error);
	/* CLIENT PAUSE until end_ms (wall clock): every command (all) or the
	 * writing ones wait; a later end and ALL win over an earlier pause.
	 * CLIENT UNPAUSE ends it at once. */
	void (*clients_pause)(int64_t end_ms, bool all);
	void (*clients_unpause)(void);

	/* ---- pub/sub ---- */
	/* Publish a message to the subscribers of every shard, from the thread
	 * that runs the command (shard: the context's); keyspace notifications
	 * (commands/notify.h).  Local subscribers get it at once, the others
	 * before the command's reply leaves (docs/notifications.md). */
	void (*publish)(struct shard *shard, const char *chan, size_t clen, const char *msg,
			size_t mlen);
	/* INFO stats: channels with subscribers and distinct patterns, over
	 * every shard (the caller holds every shard's keyspace, which keeps
	 * the subscription tables still). */
	void (*pubsub_counts)(const struct cmd_ctx *c, uint64_t *channels, uint64_t *patterns,
			      uint64_t *shard_channels);

	/* ---- client-side caching (server/tracking.c) ---- */
	/* CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO for c->conn
	 * (argv[1] names which). */
	void (*client_tracking)(struct cmd_ctx *c);
	/* FLUSHALL / FLUSHDB ran (whether or not a key was there): the
	 * clients' caches are void. */
	void (*tracking_flush)(struct cmd_ctx *c);
	/* INFO: tracking clients, tracked keys, (key, client) items and BCAST
	 * prefixes, over every shard. */
	void (*tracking_info)(uint64_t *clients, uint64_t *keys, uint64_t *items,
			      uint64_t *prefixes);

	/* ---- scripting (docs/scripting.md) ---- */
	/* INFO memory: the Lua heaps of EVAL's states (all shards), of the
	 * function states, the scripts in the cache and their bytes. */
	void (*script_memory)(uint64_t *eval_lua, uint64_t *func_lua, uint64_t *scripts,
			      uint64_t *script_bytes);
	/* INFO stats evicted_scripts: EVAL scripts evicted from the cache. */
	uint64_t (*scripts_evicted)(void);
	/* The function libraries loaded (FUNCTION LOAD), for DEBUG RELOAD. */
	uint64_t (*function_libraries)(void);
};

#endif
