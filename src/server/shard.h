/*
 * shard.h - the runtime's internal structures: a shard (one thread, one
 * keyspace, one reactor), its connections, and the messages shards exchange.
 *
 * Life of a command (see docs/architecture.md):
 *   recv -> conn input buffer -> resp_parse -> shard_dispatch:
 *     CMD_LOCAL or keys on this shard   -> run now, reply in order;
 *     keys on one other shard           -> MSG_EXEC to it, reply comes back as
 *                                          MSG_REPLY and fills a reply slot;
 *     keys on several shards/all shards -> a txn takes each shard's keyspace
 *                                          in ascending order (MSG_LOCK /
 *                                          MSG_GRANT), runs here, MSG_RELEASE.
 *   Replies leave a connection in command order: a reply that is ready while
 *   an earlier one is still out waits in a slot.
 *
 * A shard's keyspace is "held" while a txn owns it.  Nothing else touches the
 * keyspace then: local commands pause, incoming MSG_EXEC and MSG_LOCK wait in
 * the shard's deferred queue (FIFO), background expiry skips the turn.
 */
#ifndef KV_SHARD_H
#define KV_SHARD_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "persist/aof.h"
#include "base/buf.h"
#include "commands/acl.h"
#include "commands/cmd.h"
#include "proto/resp.h"
#include "server/server.h"
#include "persist/snapshot.h"
#include "base/spsc.h"
#include "store/evict.h"
#include "store/store.h"

#define SHARD_MAX 256
#define SHARD_RING_SLOTS 4096
/* Messages a shard may keep in its overflow lists before it stops reading
 * new commands from its clients (backpressure that cannot deadlock: the
 * rings are always drained by their consumers). */
#define SHARD_OVERFLOW_PAUSE 8192

struct shard;
struct script_engine;
struct conn;
struct reactor_ops;
struct monitor_inbox;
struct trk_shard;
struct repl_wait;
struct repl_sender;
struct kvio_op;
struct key_tags;

/* ---- messages between shards ---- */
enum msg_type {
	MSG_EXEC = 1,     /* run a single-shard command for a client of `from` */
	MSG_REPLY,        /* the reply of a MSG_EXEC coming back */
	MSG_LOCK,         /* a txn asks for this shard's keyspace */
	MSG_GRANT,        /* ... and gets it */
	MSG_RELEASE,      /* the txn is done with this shard's keyspace */
	MSG_BCAST,        /* run a broadcast command's part here (PUBLISH) */
	MSG_BCAST_DONE,   /* ... and its count coming back */
	MSG_WAKE,         /* a blocked client of this shard was claimed by a write */
	MSG_DURABLE,      /* the effects of a txn on the sender are durable */
	MSG_NOTIFY,       /* keyspace notifications to deliver to this shard's subscribers */
	MSG_NOTIFY_DONE,  /* ... delivered */
	MSG_UNIT_STABLE,  /* every part of a unit across shards is durable (or never will be) */
	MSG_CONN_ADOPT,   /* a connection moves to this shard (migrate.c) */
};

struct shard_msg {
	struct shard_msg *next;   /* overflow, deferred and durability-wait lists */
	enum msg_type type;
	uint32_t from;            /* sender shard */
	/* While held back until the sender's AOF is durable (appendfsync
	 * always): the destination and the LSN it waits for. */
	uint32_t wait_to;
	bool wait_durable;        /* wait for an fsync whatever the policy (WAITAOF) */
	uint64_t wait_lsn;
	bool wait_split;          /* as a reply slot's split and dep */
	uint64_t wait_dep;
	/* ... and until the sender's keyspace notifications up to this batch
	 * were delivered on every shard (0: none). */
	uint64_t wait_nseq;
};

/* A FIFO of messages linked through `next`. */
struct msg_fifo {
	struct shard_msg *head, *tail;
};

static inline void msg_fifo_push(struct msg_fifo *q, struct shard_msg *m)
{
	m->next = NULL;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
}

static inline struct shard_msg *msg_fifo_pop(struct msg_fifo *q)
{
	struct shard_msg *m = q->head;
	if (m) {
		q->head = m->next;
		if (!q->head)
			q->tail = NULL;
	}
	return m;
}

/* A reply waiting for its turn on a connection.  It leaves when it is done,
 * every remote shard it depends on has acknowledged durability (acks), this
 * shard's AOF has made LSN `lsn` durable (under appendfsync always, or
 * always when `durable`, for WAITAOF), and this shard's keyspace
 * notifications up to batch `nseq` were delivered on every shard. */
struct reply_slot {
	struct reply_slot *next;
	bool done;
	bool durable;
	bool discard;             /* CLIENT REPLY OFF/SKIP: leaves as nothing */
	bool keep;                /* a push (shard_conn_push_begin): never discarded */
	uint32_t acks;
	uint64_t lsn;
	uint64_t nseq;
	/* split: lsn is only the reply's own record (it waits to be released),
	 * and the watermark must pass dep instead (a write's key tags). */
	bool split;
	uint64_t dep;
	struct kv_buf buf;
};

/* Keyspace notifications a unit published for other shards' subscribers
 * (gate.c): one payload, read-only while its parts are out, freed by the
 * sender once every part came back.  Payload: (u32 length, channel,
 * u32 length, message) repeated. */
struct notify_batch {
	struct notify_batch *next;    /* the sender's FIFO of batches out */
	uint64_t seq;
	uint32_t pending;             /* parts not back yet (sender only) */
	struct kv_buf payload;
	/* Client-side caching records for the same shards (tracking.c). */
	struct kv_buf trk;
};

struct notify_part {
	struct shard_msg m;           /* MSG_NOTIFY, back as MSG_NOTIFY_DONE */
	struct notify_batch *b;
};

/* A command with copied arguments, executed away from the client's input
 * buffer: forwarded (MSG_EXEC) or run as a multi-shard txn. */
struct cmd_call {
	const struct kv_command *cmd;
	int argc;
	struct kv_slice *argv;    /* points into data[] */
	int64_t now_ms;
	uint32_t dbid;            /* the database it runs in (the client's SELECT) */
	/* The protocol the reply is written in (RESP_PROTO_*); 0: the
	 * connection's when it runs on the client's shard, else RESP2. */
	unsigned char proto;
	struct conn *conn;        /* owning client (home shard only) */
	/* The client's ACL user, referenced, for a call forwarded to another
	 * shard (a script there checks its commands against it); NULL
	 * elsewhere, where the connection's own is used. */
	struct acl_user *user;
	struct reply_slot *slot;
	/* Run by the runtime for itself (a closing client's UNWATCH): not
	 * counted in INFO commandstats. */
	bool internal;
	/* A script's redis.call: tracking remembers the script's keys. */
	bool in_script;
	/* A script's call that Redis's scriptVerifyOOM lets through whatever
	 * the memory: one of an allow-oom script, or after the script's first
	 * write (a script is not stopped half-way). */
	bool allow_oom;
	/* Client-side caching (tracking.c), set where a client's command
	 * becomes a call: the client it runs for (NOLOOP), and the client
	 * whose cache the keys it reads go to (0: nobody). */
	uint64_t trk_caller;
	uint64_t trk_remember;
};

struct fwd_req {
	struct shard_msg m;
	struct cmd_call call;
	struct kv_buf reply;
	int64_t duration_us;      /* the owner's run, for the client's slow log */
};

struct txn {
	struct shard_msg m;       /* travels as MSG_LOCK / MSG_GRANT */
	uint64_t id;              /* unique per process, names the holder */
	struct cmd_call call;
	uint32_t home;
	uint32_t nshards;         /* shards involved, ascending */
	uint32_t acquired;        /* how many of them are held */
	/* Each shard's last LSN when it was taken: the unit header's rows
	 * (a held shard appends nothing until released, so its part, if
	 * any, is the next LSN there). */
	uint64_t *lsns;
	/* Turning appendonly on (shard.c, "turn-on"): -1 no keyspace granted
	 * yet; 0 granted by shards that had not rewritten their AOF (counted
	 * in g_server.turnon_txns until the txn ends); 1 granted by shards
	 * that had. */
	int8_t side;
	/* A txn of the server itself (a replica applying its primary's
	 * records, server/replica.c): no client, no command; sys_fn runs on
	 * the home shard with every shard held (txn_held) and nothing it
	 * changes is logged.  NULL for a client's txn. */
	void (*sys_fn)(struct shard *home, struct kv_dbs **held, void *arg);
	void *sys_arg;
	/* Chains (route.c): txns of the same home over the same shards that
	 * started while this one was acquiring them, run right after it under
	 * the same hold, in order; then the last one releases. */
	struct txn *chain_head, *chain_tail, *chain_next;
	uint32_t chain_len;
	uint32_t chain_work;      /* its members' arguments (route.c: txn_work) */
	uint32_t chain_cap;       /* the most members it may have */
	/* A shard it took had single-key commands waiting since the txn
	 * before (shard.held_waits): set by each granting shard. */
	bool contended;
	uint32_t shards[];        /* ids; then lsns; cmd_call arguments follow */
};

/* A broadcast command: one shared, read-only call; one part per target. */
struct bcast {
	uint32_t pending;         /* parts not back yet (home thread only) */
	uint64_t total;
	struct cmd_call call;     /* argv follows in the same allocation */
};

struct bcast_part {
	struct shard_msg m;
	struct bcast *b;
	uint64_t count;
};

struct release_msg {
	struct shard_msg m;
	uint64_t txn_id;          /* the txn is freed by its home after sending */
	struct kv_buf effects;    /* the txn's effects on this shard: one AOF record */
	uint64_t unit_lsn;        /* != 0: effects is a UNIT part, to take this LSN */
	/* != 0: the keyspace stays held, now by this txn of the same home,
	 * which runs next under the same hold (route.c, "chains"). */
	uint64_t next_txn_id;
	bool predicted;           /* unit_lsn was foreseen by the home (a chain's member) */
	struct unit_track *track; /* a unit across shards: its tracker at home */
	/* Acknowledge (MSG_DURABLE) once they are durable: 0 no, 1 under the
	 * policy (always), 2 with an fsync whatever the policy (WAITAOF). */
	uint8_t ack;
	bool save_wait;           /* SAVE: acknowledge when this shard's snapshot ends */
	bool blind;               /* the command observes no key (shard_cmd_observes) */
	struct conn *conn;        /* the txn's client and reply slot at home */
	struct reply_slot *slot;
	struct shard_msg *wakes;  /* wake-ups popping from this shard, to send once durable */
};

/* A unit across shards, at its home (gate.c, "commit-wait"): which
 * participants still owe their acknowledgement, and where its parts are. */
struct unit_track {
	struct unit_track *next;  /* the home's units, in the order they ran */
	uint32_t pending;         /* acknowledgements not back yet */
	bool failed;              /* a part can never be durable */
	bool failed_before;       /* failed because a unit before it did */
	struct unit_wait *home_w; /* the home's own part's wait, or NULL */
	bool home_ready;          /* ... and that part is ready */
	uint32_t nparts;
	uint32_t *part_shards;    /* the other shards with a part */
	uint64_t *part_lsns;
	/* The reply, which leaves only once the unit is stable (one of its
	 * slot's acks), or NULL. */
	struct conn *conn;
	struct reply_slot *slot;
};

/* A part of a unit across shards on this shard, not yet stable: replies
 * tagged at or after its LSN wait (the watermark). */
struct unit_wait {
	struct unit_wait *next;
	uint64_t lsn;
	bool stable;
	bool durable;             /* WAITAOF: the ack wants an fsync */
	struct durable_ack *ack;  /* a participant's acknowledgement, sent when ready */
	uint32_t home;            /* its unit's home (where the ack goes) */
	struct unit_track *track; /* the home's own part */
};

struct unit_stable_msg {
	struct shard_msg m;
	uint64_t lsn;             /* the part on the receiver */
	bool failed;
};

struct durable_ack {
	struct shard_msg m;
	struct conn *conn;
	struct reply_slot *slot;
	struct unit_track *track; /* a unit across shards: counts toward its stability */
	bool failed;              /* the effects could not be made durable */
	char error[200];
};

/* A command queued between MULTI and EXEC (arguments copied). */
struct queued_call {
	struct queued_call *next;
	struct cmd_call call;     /* argv follows in the same allocation */
};

/* An EXEC's transaction, taken from its connection when the EXEC starts a
 * txn (multi.c: multi_exec_detach): the connection may queue its next
 * MULTI block while this one waits in a chain. */
struct exec_batch {
	struct exec_batch *next;
	struct queued_call *head;
	uint32_t count;
	uint32_t flags;           /* the queued commands' flags, or-ed */
	bool in_multi;            /* false: EXEC without MULTI */
	bool dirty;               /* a queued command was rejected: EXECABORT */
};

/* A key under WATCH: where it lives and the version seen. */
struct watched_key {
	char *key;
	size_t klen;
	uint32_t shard;
	uint32_t db;
	uint64_t version;
	bool stale;               /* its transaction was aborted (-BUSY): released, never checked */
};

/* ---- connections ---- */
struct conn {
	uint64_t id;
	int fd;
	struct shard *shard;
	struct conn *all_prev, *all_next;     /* shard's client list */
	struct conn *ready_next;              /* dispatch queue */
	bool in_ready;

	struct kv_buf in;                     /* received bytes */
	size_t in_pos;                        /* first unparsed byte */
	size_t in_peak;                       /* most bytes in `in` since the last cron */
	struct resp_parser parser;

	struct kv_buf out;                    /* replies in order, unsent */
	size_t out_traced;                    /* epoll: head of out already traced */
	struct reply_slot *slots_head, *slots_tail;
	uint32_t inflight;                    /* forwarded commands and txns out */
	uint32_t fwd_out;                     /* of them, commands forwarded (MSG_EXEC) */
	uint32_t txn_inflight;                /* multi-shard commands out */
	/* The chain its last txn started or joined while it may still grow
	 * (route.c: shard_txn_may_follow), else 0. */
	uint64_t chain_id;
	bool dispatching;                     /* conn_process is running its command */
	/* ... and it is the last complete one received: no pipeline behind it
	 * (route.c, fwd_borrows). */
	bool dispatching_last;
	bool paused;                          /* waiting for the keyspace */

	bool authenticated;
	bool local;             /* from 127.0.0.1 or ::1 (Redis's islocalClient) */
	/* The ACL user it runs as (referenced; commands/acl.h): the default
	 * user until AUTH or HELLO AUTH.  Changed on its own thread under
	 * clients_lock, so CLIENT LIST on another shard reads it safely. */
	struct acl_user *user;
	bool close_after_reply;               /* QUIT, protocol error, CLIENT KILL */
	bool reply_off;                       /* CLIENT REPLY OFF */
	bool reply_skip_next;                 /* CLIENT REPLY SKIP: the next command's reply */
	bool reply_skip_now;                  /* ... which is the running command */
	bool reply_silenced;                  /* the running command's reply may be dropped */
	bool no_evict;                        /* CLIENT NO-EVICT (shown in CLIENT LIST) */
	bool monitor;                         /* MONITOR: gets every command (monitor.c) */
	bool in_retry;                        /* running its woken blocked command again */
	struct conn *monitor_next;            /* the shard's monitors */
	bool pause_wait;                      /* postponed by CLIENT PAUSE */
	uint32_t db;                          /* SELECTed database */
	/* HELLO's protocol: 0 (never said) or 2: RESP2, 3: RESP3.  Written by
	 * the shard's thread only; CLIENT LIST on another shard reads it. */
	_Atomic unsigned char proto;

	/* What a replica said in its handshake (repl.c). */
	bool repl_kevy;                       /* REPLCONF capa kevy1 */
	uint32_t repl_shards;                 /* REPLCONF kevy-shards N, 0 unsaid */
	int64_t repl_port;                    /* REPLCONF listening-port */
	bool repl_handoff;                    /* PSYNC served: the socket goes to a sender */
	struct repl_sender *sender;           /* a replica's link, not a client (repl.c) */
	struct repl_pos *repl_pos;            /* REPLCONF kevy-pos, per shard, or NULL */
	char repl_want[41];                   /* PSYNC's replication id, or "" */
	struct repl_wait *wait_repl;          /* WAIT asked to wait (repl.c) */
	bool wait_blocked;                    /* ... and waits (CLIENT LIST 'b', UNBLOCK) */

	/* MULTI/EXEC (multi.c). */
	bool in_multi;
	bool multi_dirty;                     /* a queued command was rejected */
	struct queued_call *mq_head, *mq_tail;
	uint32_t mq_count;
	uint32_t mq_flags;                    /* the queued commands' flags, or-ed */
	uint32_t mq_args;                     /* the queued commands' arguments */
	bool mq_plain;                        /* every queued command pipelines */
	/* EXECs started as txns and not yet run, oldest first: each takes
	 * its own batch when it runs. */
	struct exec_batch *eb_head, *eb_tail;
	struct watched_key *watches;
	uint32_t nwatches, watches_cap;

	/* Blocking commands (blocking.c). */
	bool in_exec;                         /* running EXEC's queue: never block */
	/* The command now running is a woken client's retry (set until the
	 * connection dispatches its next input: nothing else of it runs in
	 * between, even when the retry is a txn); XREADGROUP's errors for a
	 * reader whose key or group went away depend on it. */
	bool block_retry;
	bool block_pending;                   /* the running command asked to block */
	int64_t block_duration_us;            /* its run before it blocked (SLOWLOG) */
	bool blocked;                         /* waiting for a key: no dispatch */
	struct block_ticket *block_ticket;
	int64_t block_deadline_ms;            /* 0 = no timeout */
	struct reply_slot *block_slot;
	struct conn *blocked_next, *blocked_prev;
	struct cmd_call *retry_call;          /* woken: run this before more input */

	/* Pub/sub (pubsub.c); NULL until the first subscription. */
	struct pubsub_conn *pubsub;
	/* CLIENT TRACKING (tracking.c): TRK_* flags, REDIRECT's client and
	 * the shard it lives on, BCAST's prefixes (sorted owned copies). */
	uint32_t trk_flags;
	uint64_t trk_redirect;
	uint32_t trk_redirect_shard;
	struct kv_slice *trk_prefixes;
	uint32_t trk_nprefixes;
	int64_t obuf_soft_since_ms;           /* output above the soft limit since */
	bool io_dead;                         /* socket failed or peer closed */
	bool read_eof;                        /* peer sent FIN: finish, then close */
	bool io_closed;                       /* reactor is done, fd closed */
	bool in_flush;
	struct conn *flush_next;
	bool in_paused;
	struct conn *paused_next;
	bool in_zombies;
	struct conn *zombie_next;
	bool in_gated;                        /* has a slot waiting for durability */
	bool wait_shards;                     /* the running command's reply waits for
						 every shard's snapshot or reload */
	struct conn *gated_next;

	/* Moving to the shard its keys live on (migrate.c): MIG_* state, the
	 * shard it goes to, forwarded commands in a row to one shard, when it
	 * last moved, and the shard's list of connections on their way out.
	 * `pinned`: another client's CLIENT TRACKING REDIRECT names it, so it
	 * stays where that client found it (set under the clients lock). */
	uint8_t mig_state;
	uint32_t mig_to;
	uint32_t mig_streak;
	int64_t mig_last_ms;
	struct conn *mig_next;
	_Atomic bool pinned;

	/* Reactor state. */
	bool recv_armed;
	bool recv_paused;                     /* input backpressure: not reading (conn_recv) */
	bool send_inflight;
	bool close_started;
	struct kv_buf sending;                /* io_uring: bytes of the send in flight */
	size_t send_off;                      /* io_uring: into sending; epoll: out[0..send_off) sent */
	bool want_write;                      /* epoll: EPOLLOUT registered */

	/* Introspection (CLIENT LIST from any shard): name is written under the
	 * shard's clients lock, the rest are relaxed atomics or immutable. */
	char name[128];
	_Atomic(const char *) last_cmd;
	char addr[64];
	char laddr[64];
	int64_t created_ms;
	_Atomic int64_t last_active_ms;
	_Atomic uint64_t qbuf_len;            /* unparsed input bytes */
	_Atomic uint64_t qbuf_free;           /* room left in `in` (its capacity) */
	_Atomic uint64_t obuf_len;
	_Atomic bool kill_requested;
	/* CLIENT UNBLOCK from any shard: UNBLOCK_REQ_*, acted on by the
	 * client's shard in its next turn (shard_block_timeouts). */
	_Atomic int unblock_request;
	/* What CLIENT LIST shows of the connection's state, published by its
	 * shard after each command and when it blocks or unblocks
	 * (conn_publish_info): CONN_INFO_* flags, db, subscriptions, MULTI's
	 * queue length (-1: not in MULTI). */
	_Atomic uint32_t info_flags;
	_Atomic uint32_t info_db;
	_Atomic uint32_t info_sub, info_psub, info_ssub;
	_Atomic int32_t info_multi;
	_Atomic int64_t info_redir;           /* CLIENT LIST's redir (-1: not tracking) */
};

enum { UNBLOCK_REQ_NONE = 0, UNBLOCK_REQ_TIMEOUT = 1, UNBLOCK_REQ_ERROR = 2 };
enum {
	CONN_INFO_PUBSUB = 1u << 0,    /* P */
	CONN_INFO_MULTI = 1u << 1,     /* x */
	CONN_INFO_BLOCKED = 1u << 2,   /* b */
	CONN_INFO_CLOSE = 1u << 3,     /* c */
	CONN_INFO_NO_EVICT = 1u << 4,  /* e */
	CONN_INFO_POSTPONED = 1u << 5, /* b too: waiting for CLIENT PAUSE to end */
	CONN_INFO_MONITOR = 1u << 6,   /* O */
	CONN_INFO_TRACKING = 1u << 7,  /* t */
	CONN_INFO_TRK_BROKEN = 1u << 8, /* R */
	CONN_INFO_TRK_BCAST = 1u << 9, /* B */
};

/* CLIENT TRACKING's flags (conn.trk_flags). */
enum {
	TRK_ON = 1u << 0,
	TRK_BCAST = 1u << 1,
	TRK_OPTIN = 1u << 2,
	TRK_OPTOUT = 1u << 3,
	TRK_NOLOOP = 1u << 4,
	TRK_CACHING = 1u << 5,        /* CLIENT CACHING yes|no, for the next command */
	TRK_BROKEN = 1u << 6,         /* the REDIRECT client went away */
};

/* ---- shards ---- */
struct shard {
	uint32_t id;
	pthread_t thread;
	struct kv_dbs dbs;                    /* its databases (SELECT 0 .. databases-1) */
	struct shard_stats stats;

	int listen_fds[16];                   /* one SO_REUSEPORT socket per bind address */
	int nlisten;
	uint32_t listen_gen;                  /* bumped by each swap: tags the accepts armed */
	/* CONFIG SET port/bind (server.c, server_relisten): the new listeners
	 * this shard takes at its next turn, under g_server.listen_lock. */
	_Atomic bool listen_pending;
	int pending_fds[16];
	int npending;
	int event_fd;                         /* cross-shard wake-up */
	_Atomic int sleeping;                 /* parked in the reactor */
	/* SHARD_PARKED from just before the reactor's wait until it returns
	 * (shard_unpark): meanwhile a txn's home may grant itself this
	 * keyspace, holding it SHARD_LENT for that (route.c, "borrowing"). */
	_Atomic int park;

	/* Incoming rings: in[from] is written by shard `from`. */
	struct spsc_ring *in;
	/* Outgoing overflow per destination, when out ring is full. */
	struct shard_msg **ovf_head, **ovf_tail;
	uint64_t ovf_count;
	bool *wake_pending;

	/* Keyspace ownership. */
	struct txn *holder;                   /* txn holding this keyspace, or NULL */
	uint64_t holder_id;
	struct msg_fifo deferred;
	/* Paused clients run before the deferred queue (route.c,
	 * shard_keyspace_freed): on until the ready clients of a turn that
	 * began with it on (yield_ready) have run. */
	bool yielding, yield_ready;
	struct kv_dbs **held_local;           /* held[] with only this shard's keyspace */

	/* maxmemory (exec.c, docs/memory.md): this shard's eviction candidates,
	 * used by whichever thread holds the keyspace; the keyspace's bytes
	 * after the last command that ran on it, and whether its last eviction
	 * found nothing to evict while over its share, both for MULTI's
	 * queue-time check on another thread. */
	struct evict_pool evict_pool;
	_Atomic uint64_t mem_used;
	_Atomic bool evict_failed;

	/* Connections. */
	pthread_mutex_t clients_lock;         /* guards the list for CLIENT LIST/KILL */
	struct conn *clients;
	uint64_t nclients;
	struct conn *ready_head, *ready_tail;
	struct conn *batch_head;              /* what shard_process_ready still runs this turn */
	bool in_busy_turn;                    /* shard_busy_turn is running */
	/* shard_busy_turn, for the script engines of this thread (script.c
	 * reaches it through here: shard.c calls into the scripts, not back). */
	void (*busy_turn)(void *shard);
	struct conn *flush_head;
	struct conn *paused_head;             /* resumed when the keyspace frees */
	struct conn *zombies;                 /* closed, freed once nothing refers to them */
	struct conn *migrating;               /* leaving for another shard (migrate.c) */
	_Atomic bool kill_pending;            /* CLIENT KILL flagged some clients */
	struct kv_dbs **txn_held;             /* scratch held[] for txns run here */
	struct release_msg **txn_rels;        /* scratch: a txn's release per shard */
	uint8_t *txn_role;                    /* scratch: SHARD_TXN_* per shard (route.c) */
	struct txn *txn_open;                 /* a txn of this home still acquiring: chains may join it */
	/* Single-key commands that waited for this shard's keyspace (paused
	 * clients, deferred forwarded calls) since a txn last took it; the
	 * next txn to take it learns whether any did (txn.contended). */
	uint32_t held_waits;
	/* What shard_txn_may_follow found for the call it let through, which
	 * dispatch runs next: its command and, for a txn, its shards (n is
	 * UINT32_MAX when not computed).  Used once, then cleared. */
	struct {
		const struct conn *c;
		const struct kv_slice *argv;
		const struct kv_command *cmd;
		uint32_t n;
		uint32_t shards[SHARD_MAX];
	} follow;
	/* Until then this home's chains stay short: one of its txns found
	 * commands that had waited on a shard it took (route.c, chain_cap). */
	int64_t chain_short_until;
	uint64_t *chain_lsn;                  /* scratch: each held shard's last LSN along a chain */
	bool chain_aof;                       /* appendonly as the chain's first txn saw it */
	bool chain_home;                      /* the running chain holds this shard's keyspace */

	/* Blocking: waiters per key of this keyspace, this shard's blocked
	 * clients, and wake-ups for them produced on this thread. */
	struct block_table *blocked;
	uint64_t blocked_sweep_cursor;
	struct conn *blocked_conns;
	struct msg_fifo wakes;

	/* Scripting (script.c): this thread's Lua state, created by the first
	 * script it runs; other threads only read it (SCRIPT KILL). */
	_Atomic(struct script_engine *) script;
	_Atomic(struct script_engine *) script_fn;   /* FCALL's, with the libraries */
	_Atomic uint64_t script_mem, script_fn_mem;  /* their Lua heaps after the last run */
	/* MONITOR (monitor.c): this shard's monitors, their count (read by
	 * every shard) and the lines other shards left for them. */
	struct conn *monitors;
	_Atomic uint32_t nmonitors;
	_Atomic(struct monitor_inbox *) monitor_inbox;

	/* Pub/sub: this shard's subscriptions (pubsub.c). */
	struct pubsub_shard *pubsub;
	_Atomic uint64_t pubsub_subs;         /* channel + pattern subscriptions here */

	/* Client-side caching (tracking.c): the tracking table of this
	 * keyspace's keys and this shard's tracking clients; records for
	 * other shards, sent with the notification batch (gate.c). */
	struct trk_shard *trk;
	struct kv_buf trk_out;

	/* Reactor. */
	struct resp_limits resp_limits;       /* refreshed from g_config every turn */
	const struct reactor_ops *reactor;
	void *reactor_data;
	int64_t now_ms;
	int64_t next_cron_us;
	/* kv_ticks() to ns, refreshed each cron tick: converting each
	 * command's duration (SLOWLOG, histograms) costs a multiply, not the
	 * clock read kv_ticks_to_ns() makes. */
	double ns_per_tick;
	uint64_t cron_expire_budget;
	bool stopping;
	struct repl_wait *repl_waits;         /* WAITs of this shard's clients (repl.c) */
	struct repl_sender *senders;          /* replicas' links this shard serves (repl.c) */
	_Atomic uint32_t repl_hosting;        /* how many of them are open */
	uint64_t repl_told_lsn;             /* durable LSN the senders were woken for (repl.c) */

	/* Durability (aof.c): this shard's AOF, the connections with replies
	 * waiting for it, and messages held back until it is durable (FIFO,
	 * non-decreasing wait_lsn). */
	struct aof aof;
	struct snapshot_job snap;             /* BGSAVE / BGREWRITEAOF (snapshot.c) */
	struct msg_fifo save_waiters;         /* SAVE acknowledgements owed at its end */
	_Atomic bool reload_wanted;           /* DEBUG RELOAD asked for this shard */
	int turn_work;                        /* commands and messages this turn handled */
	_Atomic uint64_t changes;             /* effect records logged (Redis's dirty) */
	struct kv_buf fx_payload;             /* scratch for effect payloads */
	struct conn *gated;
	/* Parts of units across shards not yet stable, in LSN order (gate.c):
	 * the watermark is just below the first. */
	struct unit_wait *uw_head, *uw_tail;
	/* The first one units_advance has not found ready yet (NULL: none);
	 * every one before it is stable or was found ready. */
	struct unit_wait *uw_scan;
	/* The units this shard coordinates that are not stable, in the order
	 * they ran (gate.c, units_settle). */
	struct unit_track *ut_head, *ut_tail;
	/* Key tags (gate.c): per (database, key) fingerprint, the LSN of the
	 * newest record that changed it, while a reply could still have to
	 * wait for that record.  Written by whichever thread holds the
	 * keyspace (pending), read and pruned by the shard's own thread. */
	struct key_tags *ktags;
	/* A snapshot's commit waits until every other shard made durable what
	 * it had appended once this shard's units up to the cut were stable
	 * (shard.c, shard_snapshot_commit_ok); 0: not measured yet. */
	uint64_t *snap_targets;
	bool snap_targets_set;
	struct msg_fifo dw;
	/* Messages with a split tag (key tags): each leaves when its own
	 * condition holds, in any order (dw's LSNs never decrease; these do
	 * not follow one another). */
	struct msg_fifo dws;
	struct msg_fifo pw;                   /* wake-ups of the running unit */
	/* Keyspace notifications (gate.c): what this thread published for
	 * other shards since the unit began, and the batches out (sent: the
	 * last batch's seq; acked: every batch up to it was delivered). */
	struct kv_buf notify_out;
	uint64_t notify_sent, notify_acked;
	struct notify_batch *nb_head, *nb_tail;
	bool aof_failed_seen;                 /* replies were failed for AOF_FAILED */
	bool aof_was_on;                      /* appendonly as this shard last saw it */
	/* Turning appendonly on (shard.c, "turn-on"): where this shard is in
	 * the episode (enum turnon_phase), and the txns whose grant waits for
	 * this shard's rewrite to start (route.c). */
	uint8_t turnon_phase;
	uint64_t turnon_epoch;                /* the episode it last joined */
	struct msg_fifo turnon_locks;
	int aof_exit_error;                   /* shutdown could not flush the AOF */
	/* Messages from threads that are not shards (a replica's link:
	 * server/replica.c), handled with the rings' (shard_inbox_push). */
	pthread_mutex_t inbox_lock;
	struct msg_fifo inbox;
	_Atomic bool inbox_any;
	/* Replica role (server/replica.c): this shard made every record it
	 * had durable and appends nothing more (its files are its primary's
	 * from now on); and, at a promotion, its AOF was opened again by
	 * another thread and must be lent this shard's ring. */
	_Atomic bool repl_quiesced;
	_Atomic bool repl_reattach;
};

/* ---- the process ---- */
struct kv_server {
	uint32_t nshards;
	struct shard **shards;
	struct server_info info;
	_Atomic bool shutdown;
	_Atomic uint64_t next_conn_id;
	_Atomic uint64_t next_txn_id;
	uint64_t boot_id;         /* random, != 0: unit ids are (boot_id, txn id) */
	int64_t busy_poll_us;                 /* spin this long after work, then park */
	/* CLIENT PAUSE: until pause_end_ms (wall clock; 0: not paused), every
	 * command (pause_all) or only those that write.  Written under
	 * pause_lock (CLIENT PAUSE keeps the later end and the wider type, as
	 * Redis), read by every shard before it runs a command. */
	pthread_mutex_t pause_lock;
	/* CONFIG SET port/bind: one change at a time, and each shard's
	 * pending_fds (server_relisten, shard_take_listeners). */
	pthread_mutex_t listen_lock;
	_Atomic uint32_t monitors;            /* MONITOR clients on every shard */
	_Atomic int64_t pause_end_ms;
	_Atomic bool pause_all;
	_Atomic uint64_t total_clients;       /* across shards, for maxclients */
	/* Connections moving between shards (migrate.c): in no shard's client
	 * list but in this one (linked by mig_next), under transit_lock. */
	pthread_mutex_t transit_lock;
	struct conn *transit;
	_Atomic uint32_t conns_in_transit;
	/* Shards whose reactor is up and whose loop runs: when it reaches
	 * nshards the server tells its supervisor it is ready (server.c). */
	_Atomic uint32_t shards_serving;
	/* Turning appendonly on (shard.c, "turn-on"): txns holding a keyspace
	 * granted before its shard rewrote (no shard starts its rewrite while
	 * any is in flight), and the episode every shard's rewrite joins. */
	_Atomic int64_t turnon_txns;
	_Atomic uint64_t turnon_epoch;        /* bumped when an episode opens */
	pthread_mutex_t turnon_lock;
	/* Replication role (enum repl_role, server/replica.c), and how many
	 * shards have quiesced since it left REPL_ROLE_PRIMARY. */
	_Atomic int repl_role;
	_Atomic uint32_t repl_quiesced;
	_Atomic bool repl_link_up;            /* a replica's link is streaming */
	struct turnon_episode {
		uint32_t joined, ready, done;
		bool failed, decided, abandoned;
		bool uncommitted;           /* decided, but a member's commit failed */
		struct kv_buf *mans;          /* each shard's next manifest */
	} turnon;
};

enum repl_role {
	REPL_ROLE_PRIMARY = 0,
	REPL_ROLE_ENTERING,   /* becoming a replica: writes refused, shards quiescing */
	REPL_ROLE_REPLICA,    /* following a primary: only its records change the keyspace */
};

enum turnon_phase {
	TURNON_NONE = 0,
	TURNON_REWRITING,   /* joined; its segment is being written */
	TURNON_READY,       /* its segment is durable; waiting for the others */
	TURNON_DECIDED,     /* kevy.turnon is durable; committing its manifest */
};

extern struct kv_server g_server;

/* ---- reactor interface (reactor_uring.c, reactor_epoll.c) ---- */
struct reactor_ops {
	const char *name;
	/* Set up this shard's reactor on its own thread; 0 or -errno. */
	int (*init)(struct shard *s);
	void (*fini)(struct shard *s);
	/* Lend the reactor's ring (if any) to the shard's file I/O: aof_attach
	 * with the tag its completions will carry, or no ring (synchronous). */
	void (*lend_files)(struct shard *s);
	/* Submit queued I/O and collect completions, waiting at most timeout_us
	 * (0: do not wait).  Completions are handed to the shard_on_* callbacks. */
	int (*poll)(struct shard *s, int64_t timeout_us);
	/* Start receiving on a new connection. */
	void (*conn_start)(struct shard *s, struct conn *c);
	/* Send c->out if nothing is in flight. */
	void (*conn_flush)(struct shard *s, struct conn *c);
	/* Stop all I/O on c; shard_conn_io_done() is called once no operation
	 * refers to it any more. */
	void (*conn_close)(struct shard *s, struct conn *c);
	/* Input backpressure: stop (on = false) or resume receiving on c.
	 * Bytes already on their way are still delivered. */
	void (*conn_recv)(struct shard *s, struct conn *c, bool on);
	/* Stop receiving on c, which has nothing to send, so that another
	 * shard's reactor can take its socket: shard_conn_detached() is called
	 * once no operation refers to c (at once, or from a completion). */
	void (*conn_detach)(struct shard *s, struct conn *c);
	/* s->listen_fds now holds new listeners (listen_gen bumped): stop
	 * accepting on the old ones (closing them) and accept on the new. */
	void (*relisten)(struct shard *s, const int *old_fds, int nold);
};

extern const struct reactor_ops reactor_uring_ops;
extern const struct reactor_ops reactor_epoll_ops;
/* Why io_uring cannot be used here, or NULL if it can. */
const char *reactor_uring_unavailable(void);
/* Take the listeners CONFIG SET port/bind left for this shard (server.c). */
void shard_take_listeners(struct shard *s);

/*
 * The runtime's files, each calling only those listed before it (the
 * layers check, scripts/check-layers.py --cycles, keeps it so):
 *   msg.c     messages between shards, wake-ups, the process-wide stop
 *   call.c    copied calls and the shards of a call's keys
 *   gate.c    reply order and the durability gate; the end of a unit
 *   migrate.c connections moving to the shard their keys live on
 *   bcast.c   broadcast commands (PUBLISH)
 *   blocking.c, exec.c, monitor.c, multi.c, pubsub.c, repl.c, tracking.c
 *             blocking pops; running one call; MONITOR; MULTI/EXEC (and
 *             the connection-state commands RESET, MONITOR); pub/sub;
 *             the replication handshake (ROLE, REPLCONF, PSYNC, SYNC);
 *             client-side caching (CLIENT TRACKING, invalidations)
 *   script_msgpack.c, script_lua.c, script.c
 *             the Lua state of a shard; EVAL and SCRIPT
 *   route.c   dispatch and the cross-shard protocol
 *   shard.c   the loop, connections, cron, the AOF and snapshot turn
 *   reactor_uring.c, reactor_epoll.c, runtime.c, supervise.c, server.c,
 *   main.c
 */

/* ---- msg.c ---- */
/* Push a message to another shard's ring (or its overflow list). */
void shard_send(struct shard *s, uint32_t to, struct shard_msg *m);
/* Move overflowed messages into the rings and wake the peers that park. */
void shard_flush_overflow(struct shard *s);
/* Whether a peer's ring holds a message for s. */
bool shard_rings_pending(struct shard *s);
/* Park a message until this shard's keyspace is free (FIFO). */
/* route.c: whether this shard may grant its keyspace to t now, given a
 * turn-on in progress; and the grants that waited, once it rewrote. */
bool shard_turnon_defers(struct shard *s, struct txn *t);
void shard_turnon_grants(struct shard *s);
void shard_deferred_push(struct shard *s, struct shard_msg *m);
void shard_yield_mark(struct shard *s);
bool shard_yield_end(struct shard *s);
struct shard_msg *shard_deferred_pop(struct shard *s);
/* Wake a shard's reactor from any thread. */
void shard_wake(struct shard *s);
enum { SHARD_RUN = 0, SHARD_PARKED, SHARD_LENT };
/* The reactor's wait returned: take the thread's state back from a peer
 * that may be borrowing it (route.c), before any completion is handled. */
void shard_unpark(struct shard *s);
/* A txn of the server's own over shards (ascending, >= 1): fn runs on
 * shards[0]'s thread with each of them held.  Start it by queueing its
 * message (t->m) in shards[0]'s inbox; it frees itself once it ran. */
struct txn *shard_sys_txn_new(const uint32_t *shards, uint32_t nshards,
			      void (*fn)(struct shard *home, struct kv_dbs **held, void *arg),
			      void *arg);
/* From a thread that is no shard: queue m for s (handled as a ring's
 * message), and wake it.  The shard takes the whole queue at once. */
void shard_inbox_push(struct shard *s, struct shard_msg *m);
struct shard_msg *shard_inbox_take(struct shard *s);
/* Ask every shard to finish its loop turn and exit (SHUTDOWN, a signal, a
 * shard whose reactor cannot start). */
void shard_stop_all(void);

/* ---- call.c ---- */
/* Sorted unique shards a call's keys live on (all shards when
 * cmd_needs_all_shards: CMD_ALL_SHARDS, or the command's all_shards hook
 * for these arguments); 0 when keyless. */
uint32_t shard_call_shards(const struct kv_command *cmd, int argc, const struct kv_slice *argv,
			   uint32_t *out);
/* Copy a call for later execution, in one allocation of `head` bytes (the
 * cmd_call sits at call_off) followed by the arguments. */
void *shard_call_copy(size_t head, size_t call_off, const struct kv_command *cmd, int argc,
		      const struct kv_slice *argv, int64_t now_ms);

/* ---- migrate.c ---- */
enum { MIG_NONE = 0, MIG_DRAINING, MIG_DETACHING, MIG_DETACHED };
/* Dispatch's view of c's last command with keys: forwarded to shard `to`,
 * or run here (to == s->id).  Enough in a row to one other shard starts a
 * move there. */
void migrate_note(struct shard *s, struct conn *c, uint32_t to);
/* Each loop turn: advance the moves this shard started. */
void migrate_turn(struct shard *s);
/* The reactor let go of c's socket (shard_conn_detached). */
void migrate_detached(struct shard *s, struct conn *c);
/* MSG_CONN_ADOPT: a connection is this shard's now. */
void migrate_adopt(struct shard *s, struct shard_msg *m);
/* On s's thread, the transit lock held: c, in transit to s, is taken in
 * now (a lookup that must find it where it will live: TRACKING REDIRECT);
 * its MSG_CONN_ADOPT then finds it gone and does nothing. */
void migrate_adopt_early(struct shard *s, struct conn *c);
/* A search of every shard's clients that must not miss one on its way
 * (CLIENT LIST, CLIENT KILL, TRACKING REDIRECT) holds the transit lock
 * around the search and looks at the connections in transit too (lock
 * order: the transit lock, then a shard's clients lock). */
void conn_transit_lock(void);
/* A shard's client list (newest first); the caller holds its clients lock. */
void conn_list_link(struct shard *s, struct conn *c);
void conn_list_unlink(struct shard *s, struct conn *c);
void conn_transit_unlock(void);
struct conn *conn_transit_first(void);

/* ---- gate.c ---- */
bool shard_aof_on(void);
enum aof_fsync shard_aof_policy(void);
/* Where the reply of a command that runs now goes: the output, or a ready
 * slot behind replies still out. */
struct kv_buf *conn_reply_target(struct conn *c);
/* A slot for a reply that comes later (forwarded, txn, blocked). */
struct reply_slot *conn_reserve_slot(struct conn *c);
/* Fill a reserved slot with reply (taken over) and release what may leave. */
void conn_fill_slot(struct shard *s, struct conn *c, struct reply_slot *slot,
		    struct kv_buf *reply);
/* Move every leading slot that may leave now into the output. */
void conn_drain_slots(struct shard *s, struct conn *c);
/* c has a finished reply waiting for this shard's AOF. */
void conn_gate(struct shard *s, struct conn *c);
/* Queue c for a send at the end of the turn. */
void conn_mark_flush(struct shard *s, struct conn *c);
/* Queue c to parse and dispatch its input this turn. */
void conn_schedule(struct shard *s, struct conn *c);
/* Something c waited for came back (a reply, an acknowledgement). */
void conn_release_inflight(struct shard *s, struct conn *c);
/* Append an out-of-band push (a pub/sub message) to a client of this shard,
 * after any reply still owed; push_end schedules the send. */
struct kv_buf *shard_conn_push_begin(struct shard *s, struct conn *c);
void shard_conn_push_end(struct shard *s, struct conn *c);
/* The LSN a reply produced now waits for (0: none). */
uint64_t shard_reply_tag(const struct shard *s);
/* What a reply waits for: lsn (shard_lsn_ready), or, split, lsn released
 * and the watermark past dep (shard_tag_ready). */
struct reply_tag {
	uint64_t lsn;
	uint64_t dep;
	bool split;
};
/* The tag of a command that ran here on this shard's own keyspace
 * (keyspace free, its unit committed; lsn_before: the shard's last LSN
 * before it ran; wdep: what shard_write_dep gave before it ran, or NULL).
 * A single-shard write of declared keys gets a split tag: its own record
 * released, and what its keys and its record's keys depend on stable (its
 * keys' entries get that dep).  A read-only command of declared keys gets
 * one too: what its keys depend on, not the shard's newest record (key
 * tags, below); one that reads no key waits for nothing (shard_blind_tag). */
struct reply_tag shard_call_tag(struct shard *s, const struct cmd_call *call,
				const struct reply_tag *wdep, uint64_t lsn_before);
/* Whether a command can observe keys (flagged read or write, or one that
 * runs others or looks at values: EXEC, scripts, DEBUG, OBJECT ...).  One
 * that cannot (PING, INFO, CONFIG, CLIENT ...) is "blind": its reply waits
 * for nothing of the AOF (shard_blind_tag: 0 unless it appended a record
 * after all, lsn_before being the shard's last LSN before it ran), so a
 * full disk or a unit waiting on another shard does not hold INFO. */
bool shard_cmd_observes(const struct kv_command *cmd);
uint64_t shard_blind_tag(const struct shard *s, uint64_t lsn_before);
/* Whether writes get key tags: with an AOF, and more than one shard (with
 * one there are no units, and a write's own record is its shard's newest:
 * the tag would change nothing).  Also whether fx reports the keys of the
 * records it logs (fx_set_touch_hook). */
bool shard_write_tags_on(void);
/* Before a single-shard write of declared keys runs here (keyspace free):
 * what its keys depend on (it is dropped by recovery only with a record
 * that named one of them); false: not such a write, or no AOF rule
 * applies (its reply is tagged as before).  Pass it to shard_call_tag. */
bool shard_write_dep(struct shard *s, const struct kv_command *cmd, int argc,
		     const struct kv_slice *argv, uint32_t dbid, struct reply_tag *out);
/* What a txn is to each shard, for shard_keys_clean. */
enum { SHARD_TXN_NONE = 0, SHARD_TXN_READ, SHARD_TXN_CHANGED };
/* From the thread that holds the keyspaces of shards[0..n) (a txn's home,
 * from the grants to the releases): whether, on each of them that the txn
 * only read (role[id] SHARD_TXN_READ; role is indexed by shard id), no
 * record that changed one of call's declared keys of that shard can be
 * dropped by a later recovery (each is fsynced and every unit part at or
 * before it is stable), judged by the key tags under appendfsync always.
 * False when it cannot tell: another policy, a command that reads keys it
 * does not declare, an AOF that failed, every key pending, or (when some
 * table has entries and the keys are looked at) a key of a shard the txn
 * does not hold, which a txn built from the same key spec never has.  A txn that changed nothing on such a shard
 * needs then neither a READ row there nor its acknowledgement (route.c,
 * txn_unit_parts). */
bool shard_keys_clean(const struct cmd_call *call, const uint32_t *shards, uint32_t n,
		      const uint8_t *role);
/* The store changed a key of shard `shard` (key NULL: every key of database
 * dbid; dbid UINT32_MAX: of every database), on the thread that holds its
 * keyspace (fx's touch hook). */
void shard_key_touched(uint32_t shard, uint32_t dbid, const char *key, size_t klen);
/* On s's thread with its keyspace free: give the keys touched since the
 * last call the shard's last LSN, and forget those whose records every
 * reply may now depend on. */
void shard_key_tags_turn(struct shard *s);
/* The same right after one write whose dep is known committed here. */
void shard_key_tags_wrote(struct shard *s, uint64_t dep);
void shard_key_tags_free(struct shard *s);
/* The notification batch a reply produced now waits for (0: none). */
uint64_t shard_notify_tag(const struct shard *s);
/* Tag a reply slot filled now with both (it waits for each). */
void shard_tag_slot(const struct shard *s, struct reply_slot *slot);
/* Send the notifications published since the last flush to every other
 * shard with subscribers, as one batch (end of each unit). */
void shard_notify_flush(struct shard *s);
/* A batch's part came back delivered: let go of what waited for it. */
void shard_notify_part_done(struct shard *s, struct notify_part *part);
/* Whether what was tagged lsn may leave (durable: only once fsynced). */
bool shard_lsn_ready(const struct shard *s, uint64_t lsn, bool durable);
/* The same for a split tag (split false: shard_lsn_ready). */
bool shard_tag_ready(const struct shard *s, uint64_t lsn, bool split, uint64_t dep, bool durable);
/* shard_send_when_durable for a reply's tag (shard_call_tag), split or not. */
void shard_send_tagged(struct shard *s, uint32_t to, struct shard_msg *m,
		       const struct reply_tag *tag);
/* Send m to shard `to` once this shard's AOF has made lsn durable and the
 * notifications published here so far were delivered. */
void shard_send_when_durable(struct shard *s, uint32_t to, struct shard_msg *m, uint64_t lsn,
			     bool durable);
/* Replace a reply with the error msg. */
void shard_reply_error(struct shard *s, struct kv_buf *b, const char *msg);
/* The same for a reply that starts at b[at]: what is before it stays. */
void shard_reply_error_at(struct shard *s, struct kv_buf *b, size_t at, const char *msg);
/* Durability moved (or the policy changed): let go of what may leave. */
void shard_durability_advance(struct shard *s);
/* Commit-wait for units across shards (gate.c): a part appended here at
 * lsn, waiting to be stable.  A participant's acknowledgement (ack, to the
 * unit's home) leaves when the part is ready; the home's own part carries
 * the unit's tracker. */
void shard_unit_part_wait(struct shard *s, uint64_t lsn, bool durable, struct durable_ack *ack,
			  uint32_t home, struct unit_track *track);
/* A unit this shard coordinates ran: it becomes stable after every unit
 * of this home that ran before it (units_settle).  With a slot, its reply
 * waits for that (one more of the slot's acks). */
void shard_unit_track_add(struct shard *s, struct unit_track *t, struct conn *c,
			  struct reply_slot *slot);
/* An acknowledgement of a participant reached the home. */
void shard_unit_ack_in(struct shard *s, struct unit_track *t, bool failed);
void shard_on_unit_stable(struct shard *s, struct unit_stable_msg *m);
/* A wake-up produced on exec for a waiter of shard `home`, carrying a pop
 * from shard `owner`'s keyspace: sent once owner's AOF made it durable. */
void shard_defer_wake(struct shard *exec, uint32_t owner, uint32_t home, struct shard_msg *m);
/* Send the wake-ups of the unit just run (rels: a txn's release messages,
 * indexed by shard, which carry those of the other shards). */
void shard_send_wakes(struct shard *s, struct release_msg **rels);
/* End of an atomic unit run on this thread: its effects on this shard
 * become one AOF record. */
void shard_unit_commit(struct shard *s);
/* The error a write gets while a shard it would change refuses writes, or NULL. */
const char *shard_write_refused(struct shard *s, struct kv_dbs **held);
/* A file op of this shard's AOF or snapshot completed on its ring. */
void shard_on_file(struct shard *s, struct kvio_op *op, int res);

/* ---- bcast.c ---- */
/* Broadcast a command's part to every shard with subscribers. */
void shard_bcast(struct shard *s, struct conn *c, const struct kv_command *cmd, int argc,
		 const struct kv_slice *argv, bool self);
void bcast_part_run(struct shard *s, struct bcast_part *part);
void bcast_part_done(struct shard *s, struct bcast_part *part);

/* ---- blocking.c ---- */
void blocking_after_write(struct shard *exec, const struct cmd_call *call, struct kv_dbs **held);
/* Whether any client is blocked on a key, on any shard. */
bool blocking_any(void);
/* Whether a call of a blocking command can never wait: XREAD / XREADGROUP
 * without BLOCK.  Such a call is routed as any command on its keys (a
 * single-key one is forwarded to the key's shard) instead of running on
 * the client's shard holding the keyspaces of its keys. */
bool blocking_never_waits(const struct kv_command *cmd, int argc, const struct kv_slice *argv);
void blocking_sweep(struct shard *s);
/* End a client's wait: true if this caller won (the client was not claimed,
 * or claimed_ok because the caller handles the claim's wake-up). */
bool blocking_finish(struct conn *c, bool claimed_ok);
struct conn *blocking_wake_conn(struct shard_msg *wake);
/* After a wake-up: the reply the claimer produced, or (reply empty) a copy
 * of the command to run again; releases the client's ticket. */
void blocking_take_result(struct conn *c, struct kv_buf *reply, struct cmd_call **retry);
/* The blocked command of c when a write served it (its reply is ready), else
 * NULL; valid until blocking_take_result. */
const struct cmd_call *blocking_served_call(const struct conn *c);

/* ---- exec.c ---- */
/* Cache hints for the keys of calls about to run (db_prefetch): a call
 * with several keys gets them in shard_call_run; EXEC adds every queued
 * call's before it runs the first.  At most CALL_PREFETCH_MAX keys; more
 * are not hinted. */
#define CALL_PREFETCH_MAX 64
struct call_prefetch {
	size_t n;
	struct kv_db *dbs[CALL_PREFETCH_MAX];
	const struct kv_slice *keys[CALL_PREFETCH_MAX];
};
void call_prefetch_add(struct call_prefetch *p, const struct cmd_call *call, uint32_t dbid,
		       struct kv_dbs **held);
void call_prefetch_run(const struct call_prefetch *p);
/* Run a call on this thread with the given keyspaces; returns how long the
 * handler ran, in µs (0 when the call was refused). */
int64_t shard_call_run(struct shard *s, const struct cmd_call *call, struct conn *conn,
		       struct kv_dbs **held, struct kv_buf *out);
/* An ACL denial into ACL LOG: the object is the command's full name
 * (target) or argv[pos]; the client info is c's (any thread: read under
 * its shard's clients_lock), empty without a client. */
void shard_acl_log(const struct conn *c, const struct acl_user *u, enum acl_verdict v,
		   enum acl_log_ctx ctx, const struct kv_command *target,
		   const struct kv_slice *argv, int pos);
/* Log a call of client c (on c's shard) in the slow log if it took long
 * enough (not EXEC). */
void shard_slowlog(struct shard *s, const struct conn *c, const struct kv_command *cmd,
		   int argc, const struct kv_slice *argv, int64_t duration_us);
/* Serve the clients blocked on the keys a write call touched: what
 * shard_call_run does after a write, deferred to the end of an EXEC. */
void shard_call_wake(struct shard *s, const struct cmd_call *call, struct kv_dbs **held);
/* INFO commandstats: this shard's counters of a command or subcommand
 * (NULL when it has none); count a call refused before it ran (its error
 * reply bytes go to errorstats). */
struct cmd_stat *shard_cmd_stat(struct shard *s, const struct kv_command *cmd);
void shard_count_rejected(struct shard *s, struct cmd_stat *cs, const char *reply, size_t len);
/* Redis's reply to a command refused under maxmemory. */
#define SHARD_ERR_OOM "OOM command not allowed when used memory > 'maxmemory'."
/* maxmemory before a command that may grow memory: evict from every held
 * keyspace over its share until it fits.  Returns NULL, or SHARD_ERR_OOM
 * when some held keyspace stays over its share (noeviction, or nothing
 * left to evict).  Evictions are effects of the running unit. */
const char *shard_oom_refused(struct shard *s, struct kv_dbs **held, int64_t now_ms);
/* MULTI queueing a command under maxmemory: whether a shard the command
 * would touch (this one for a keyless command) is over its share and
 * cannot evict (Redis refuses any command queued while out of memory). */
bool shard_oom_at_queue(struct shard *s, const struct kv_command *cmd, int argc,
			const struct kv_slice *argv);
/* Cron: bring this shard's keyspace back under its share (a unit of its
 * own), within the time maxmemory-eviction-tenacity allows. */
void shard_evict_cron(struct shard *s);

/* ---- multi.c ---- */
/* Whether a command is queued inside MULTI; queue it; free a connection's
 * queue and watches at close. */
bool multi_queues(const struct kv_command *cmd);
void multi_queue(struct conn *c, const struct kv_command *cmd, int argc,
		 const struct kv_slice *argv, int64_t now_ms);
void multi_conn_free(struct conn *c);
extern const struct kv_command multi_unwatch_command;
/* EXEC refused while a script is busy: Redis's execCommandAbort.  The
 * queue is dropped; the WATCHes, which may pin other shards' keyspaces,
 * stay until the next EXEC, DISCARD or UNWATCH releases them, never
 * checked again. */
void multi_abort(struct conn *c);
bool multi_is_exec(const struct kv_command *cmd);
/* Whether the EXEC c would send now may run as a member of a chain
 * after c's earlier txns: no WATCH, nothing rejected, and only commands
 * that pipeline queued (route.c: shard_cmd_pipelines). */
bool multi_exec_pipelines(const struct conn *c);
/* The arguments of the commands c has queued since MULTI. */
uint32_t multi_queued_args(const struct conn *c);
/* An EXEC starts a txn: its transaction leaves the connection. */
void multi_exec_detach(struct conn *c);
/* What a command does to c's MULTI state while c's pipelined txns are out
 * (route.c: shard_txn_may_follow). */
enum multi_follow {
	MULTI_FOLLOW_NO,      /* it waits until c's txns have run */
	MULTI_FOLLOW_LOCAL,   /* MULTI, a queued command, DISCARD: runs now */
	MULTI_FOLLOW_EXEC,    /* an EXEC that may join the chain */
	MULTI_FOLLOW_CALL,    /* not in MULTI: the plain-call rule decides */
};
enum multi_follow multi_may_follow(const struct conn *c, const struct kv_command *cmd);

/* ---- pubsub.c ---- */
uint64_t pubsub_receivers(struct shard *s, const struct kv_slice *channel);
/* Publish a keyspace notification from the thread running the change: to
 * this shard's subscribers now, to the others with the unit's batch
 * (struct cmd_runtime's publish). */
void pubsub_notify_publish(struct shard *s, const char *chan, size_t clen, const char *msg,
			   size_t mlen);
/* The same for SPUBLISH from a script: a shard channel's subscribers. */
void pubsub_notify_spublish(struct shard *s, const char *chan, size_t clen, const char *msg,
			    size_t mlen);
/* Receivers of a shard channel on shard s (its keyspace held). */
uint64_t pubsub_sreceivers(struct shard *s, const struct kv_slice *channel);
/* Deliver a notification batch from another shard to this one's subscribers. */
void pubsub_deliver_batch(struct shard *s, const struct kv_buf *payload);
/* ---- tracking.c (docs/tracking.md) ---- */
/* The thread's own shard (set once the thread serves), for the store's
 * hooks, which run on whichever thread holds a keyspace. */
void tracking_thread_set(struct shard *s);
void tracking_shard_init(struct shard *s);
/* The store's hooks: key of shard `owner` changed, expired or was evicted
 * (key NULL: a database of it was flushed). */
void tracking_key_changed(uint32_t owner, const char *key, size_t klen);
void tracking_key_gone(uint32_t owner, const char *key, size_t klen);
/* FLUSHALL / FLUSHDB (cmd_runtime): the held shards' tables are emptied,
 * every tracking client gets a null invalidation. */
void tracking_flush_cmd(struct cmd_ctx *ctx);
/* Whose cache the keys read by c's next command go to (0: none). */
uint64_t tracking_remember_id(const struct conn *c);
/* Around a call that shard_call_run runs: the outermost one sets who the
 * changes are for (NOLOOP) and which client's invalidations wait for its
 * reply; every read-only one remembers the keys it read. */
struct trk_frame {
	bool outer;
	const struct cmd_call *prev_call;
};
void tracking_call_begin(struct shard *s, const struct cmd_call *call, struct conn *conn,
			 struct trk_frame *f);
void tracking_call_end(struct shard *s, const struct cmd_call *call, struct kv_dbs **held,
		       struct trk_frame *f);
/* CLIENT CACHING applies to the next command (or MULTI ... EXEC). */
void tracking_after_command(struct conn *c, const struct kv_slice *name);
/* Records another shard sent with a notification batch (what they make
 * for REDIRECT targets on other shards is left in s->trk_out). */
void tracking_deliver_batch(struct shard *s, const struct kv_buf *payload);
/* End of a loop turn: BCAST invalidations collected, records sent. */
void tracking_turn(struct shard *s);
/* Cron: keep the tracking table under tracking-table-max-keys. */
void tracking_cron(struct shard *s);
/* CLIENT TRACKING off (RESET), and a connection that goes away. */
void tracking_conn_off(struct shard *s, struct conn *c);
void tracking_conn_drop(struct shard *s, struct conn *c);
/* CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO (cmd_runtime). */
void tracking_client_cmd(struct cmd_ctx *ctx);
/* INFO: tracking clients, keys, items and prefixes over every shard. */
void tracking_info(uint64_t *clients, uint64_t *keys, uint64_t *items, uint64_t *prefixes);

/* ---- repl.c ---- */
/* What a replica holds of one shard: its newest segment and its length. */
struct repl_pos {
	uint64_t generation, offset;
	bool given;
};
/* c, a replica's connection whose PSYNC was served, is gone: its socket fd
 * becomes a replica's link that s serves (s->senders). */
void repl_sender_start(struct shard *s, struct conn *c, int fd);
/* Run every link s serves for this loop turn (and free those closed):
 * microseconds until one wants the next turn (0: at once, INT64_MAX: none). */
int64_t repl_senders_turn(struct shard *s);
/* Close every link s serves (shutdown); repl_senders_turn frees them. */
void repl_senders_close(struct shard *s);
/* A ring file op completed: if it is a link's READ, take it (true). */
bool repl_sender_read_done(struct shard *s, struct kvio_op *op, int res);
/* The reactor's events on a link's socket (c->sender set). */
void repl_sender_input(struct conn *c, const char *p, size_t n);
void repl_sender_sent(struct conn *c);
void repl_sender_hangup(struct conn *c);
void repl_sender_io_done(struct conn *c);
/* A replica was promoted (server/replica.c): PSYNC with its former
 * primary's id replid2 is served from positions at or before gens/offs
 * (per shard), the replication offset then being offset. */
void repl_set_switch(const char *replid2, const uint64_t *gens, const uint64_t *offs, uint32_t n,
		     uint64_t offset);
/* The former primary's id (40 zeros when none) and the offset it was
 * promoted at (-1 when none): INFO's master_replid2, second_repl_offset. */
int64_t repl_switch_get(char replid2[41]);
/* The syncs served since start or CONFIG RESETSTAT (struct repl_status's
 * sync_* fields), and their reset. */
void repl_sync_counts(struct repl_status *st);
void repl_sync_counts_reset(void);
/* Whether any sender runs (a relaxed load), and wake them all: a shard's
 * durable LSN moved (from: that shard, which runs its own links later in
 * the turn), or a WAIT wants acknowledgements (NULL). */
bool repl_has_senders(void);
/* While replicas are attached, the longest a shard leaves records not
 * durable (they are streamed once durable). */
#define REPL_FSYNC_MS 10
void repl_wake_senders(struct shard *from);
/* min-replicas-to-write: recount the good replicas (shard 0's cron, and
 * the senders on every ACK and link change); the refusal a write gets
 * while too few are good, or NULL. */
void repl_refresh_good(int64_t now_ms);
const char *repl_write_refused(void);
/* A replica whose link is down while replica-serve-stale-data is no (Redis's
 * "running stale"): Redis's MASTERDOWN error for what may not be served
 * stale; NULL otherwise. */
const char *repl_stale_refused(void);
/* WAIT: the running command (c->wait_repl) waits in this shard's list,
 * its reply slot held; repl_waits_turn answers those that can be (all
 * when force) and returns the microseconds to the next deadline. */
void repl_wait_commit(struct shard *s, struct conn *c, struct reply_slot *slot);
int64_t repl_waits_turn(struct shard *s, bool force);
/* fn for every replica a sender serves (INFO, ROLE), under the list's lock. */
void repl_replicas_foreach(void (*fn)(void *arg, const struct replica_info *ri), void *arg);

/* ---- monitor.c ---- */
/* Make c a monitor of every command (MONITOR); drop it (reaping). */
void monitor_add(struct shard *s, struct conn *c);
void monitor_conn_drop(struct shard *s, struct conn *c);
/* The line of a command client c runs, to every monitor (when any). */
void monitor_feed(struct shard *s, const struct conn *c, uint32_t db,
		  const struct kv_command *cmd, int argc, const struct kv_slice *argv);
/* The same for a command that `who` runs ("lua": a script's redis.call). */
void monitor_feed_from(struct shard *s, const char *who, uint32_t db,
		       const struct kv_command *cmd, int argc, const struct kv_slice *argv);
static inline bool monitor_any(void)
{
	return atomic_load_explicit(&g_server.monitors, memory_order_relaxed) != 0;
}
/* Deliver the lines other shards left for this shard's monitors. */
void monitor_turn(struct shard *s);
void monitor_shard_free(struct shard *s);

uint32_t pubsub_count(const struct conn *c);
/* Channels and patterns apart (CLIENT LIST's sub and psub). */
void pubsub_counts(const struct conn *c, uint32_t *channels, uint32_t *patterns,
		   uint32_t *shard_channels);
/* INFO stats' pubsub_channels and pubsub_patterns (every shard held). */
void pubsub_info_counts(const struct cmd_ctx *ctx, uint64_t *channels, uint64_t *patterns,
			uint64_t *shard_channels);
void pubsub_conn_drop(struct shard *s, struct conn *c);
bool pubsub_allowed_in_subscriber_mode(const struct kv_command *cmd);

/* ---- route.c ---- */
enum dispatch_result { DISPATCH_DONE, DISPATCH_WAIT };
/* Look a parsed command up and run or route it; DISPATCH_WAIT: the
 * keyspace is held, the connection pauses and the command is retried. */
enum dispatch_result shard_dispatch(struct shard *s, struct conn *c, int argc,
				    const struct kv_slice *argv);
/* Handle the messages peers sent; returns how many. */
int shard_drain_rings(struct shard *s);
/* Whether c, with a txn of its own still out, may dispatch this call now:
 * a txn that joins that txn's chain, or what only touches c's MULTI state
 * (route.c). */
bool shard_txn_may_follow(struct shard *s, struct conn *c, int argc,
			  const struct kv_slice *argv);
/* Whether a command's txn lets its connection's next commands follow it
 * into the same chain: one plain call (call.c). */
bool shard_cmd_pipelines(const struct kv_command *cmd);
/* Start a txn for a command over several shards. */
void shard_start_txn(struct shard *s, struct conn *c, const struct kv_command *cmd, int argc,
		     const struct kv_slice *argv, const uint32_t *shards, uint32_t nshards);
enum unblock_how { UNBLOCK_WOKEN, UNBLOCK_TIMEOUT, UNBLOCK_DEAD, UNBLOCK_ERROR };
/* End a blocked client's wait with served (or a timeout's null reply). */
void conn_unblock(struct shard *s, struct conn *c, enum unblock_how how, struct kv_buf *served,
		  struct cmd_call *retry);
/* Serve this shard's own blocked clients woken this turn. */
void shard_run_local_wakes(struct shard *s);
/* Time out blocked clients (and those CLIENT UNBLOCK named);
 * microseconds until the next deadline. */
int64_t shard_block_timeouts(struct shard *s);
/* Publish what CLIENT LIST shows of c (its shard's thread only). */
void conn_publish_info(struct conn *c);
/* Resume the clients CLIENT PAUSE postponed once the pause is over;
 * microseconds until it ends while it lasts (INT64_MAX: nothing waits). */
int64_t shard_client_pause_turn(struct shard *s);
/* Replace s's keyspace with fresh (moved from; the old one is freed, its
 * WATCHes carried over).  On s's thread, or while s is held. */
void shard_install_dbs(struct shard *s, struct kv_dbs *fresh);
/* A snapshot of this shard ended (snapshot.c's done callback, DEBUG
 * RELOAD): answer SAVE's waiters. */
void shard_snapshot_done(void *shard, bool ok);

/* ---- shard.c: the callbacks the reactors call, and the lifecycle ---- */
void shard_on_accept(struct shard *s, int fd);
void shard_retire_listener(struct shard *s, int fd);
void shard_on_data(struct shard *s, struct conn *c, const char *p, size_t n);
/* The socket failed: nothing more can be read or sent. */
void shard_on_hangup(struct shard *s, struct conn *c);
/* The peer finished sending (clean EOF): run what it sent, reply, close. */
void shard_on_eof(struct shard *s, struct conn *c);
void shard_on_sent(struct shard *s, struct conn *c, size_t n);
void shard_on_wakeup(struct shard *s);
/* A file op completed on the ring: a replica link's READ, or the AOF's or
 * snapshot's (shard_on_file). */
void shard_on_ring_file(struct shard *s, struct kvio_op *op, int res);
void shard_conn_io_done(struct shard *s, struct conn *c);
/* A send completed and nothing else is queued on c. */
void shard_conn_drained(struct shard *s, struct conn *c);
/* conn_detach finished: nothing of c is in the reactor any more. */
void shard_conn_detached(struct shard *s, struct conn *c);
struct shard *shard_create(uint32_t id, uint32_t nshards);
void *shard_thread_main(void *arg);

/* Start the shards and serve until shutdown (server.c).  Returns the exit
 * status for main(). */
int server_run(const char *executable);

#endif
