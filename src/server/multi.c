/*
 * multi.c - transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
 *
 * Between MULTI and EXEC a connection's commands are checked (existence,
 * arity, auth: a rejection dooms the transaction) and copied into a queue.
 * EXEC runs on the client's shard after the runtime has taken the keyspace
 * of every shard that a queued command or a WATCHed key lives on, in
 * ascending shard order; so a transaction is atomic across shards: no other
 * client sees part of it, and a WATCHed key cannot change between the check
 * and the commands.
 *
 * WATCH records each key's version in the keyspace that owns it
 * (store.h db_watch_*); EXEC aborts with a null reply if any version moved or
 * the key expired since.  Watches are released by EXEC, DISCARD, UNWATCH and
 * when the connection closes (shard.c runs UNWATCH for a closing client).
 *
 * An EXEC that starts a txn takes its queue with it (multi_exec_detach), so a
 * client may pipeline MULTI blocks: the next block is queued while the EXEC
 * before waits in a chain, and its EXEC may join that chain
 * (multi_may_follow; docs/architecture.md, "Chains").
 *
 * Not here: blocking commands inside MULTI (they run non-blocking there once
 * they exist), pub/sub state.
 */
#include <stdlib.h>
#include <string.h>

#include "commands/acl.h"
#include "commands/cmd.h"
#include "commands/config.h"
#include "base/kv.h"
#include "server/shard.h"

static void cmd_multi(struct cmd_ctx *ctx);
static void cmd_exec(struct cmd_ctx *ctx);
static void cmd_discard(struct cmd_ctx *ctx);
static void cmd_watch(struct cmd_ctx *ctx);
static void cmd_reset(struct cmd_ctx *ctx);

bool multi_queues(const struct kv_command *cmd)
{
	/* By handler (every queued command asks); QUIT's is in commands/. */
	return cmd->proc != NULL && cmd->proc != cmd_exec && cmd->proc != cmd_discard &&
	       cmd->proc != cmd_multi && cmd->proc != cmd_watch && cmd->proc != cmd_reset &&
	       strcmp(cmd->name, "quit") != 0;
}

void multi_queue(struct conn *c, const struct kv_command *cmd, int argc,
		 const struct kv_slice *argv, int64_t now_ms)
{
	struct queued_call *q = shard_call_copy(sizeof(*q), offsetof(struct queued_call, call),
						cmd, argc, argv, now_ms);
	q->next = NULL;
	if (c->mq_tail)
		c->mq_tail->next = q;
	else
		c->mq_head = q;
	c->mq_tail = q;
	c->mq_count++;
	/* A subcommand's flags count too (FUNCTION LOAD is deny-oom). */
	c->mq_flags |= cmd->flags | cmd_stat_target(cmd, argc, argv)->flags;
	c->mq_plain = c->mq_plain && shard_cmd_pipelines(cmd);
	c->mq_args += (uint32_t)argc;
}

static void queue_free(struct queued_call *q)
{
	while (q) {
		struct queued_call *next = q->next;
		free(q);
		q = next;
	}
}

/* The connection's transaction moves to b; the connection is out of MULTI. */
static void multi_take(struct conn *c, struct exec_batch *b)
{
	b->next = NULL;
	b->head = c->mq_head;
	b->count = c->mq_count;
	b->flags = c->mq_flags;
	b->in_multi = c->in_multi;
	b->dirty = c->multi_dirty;
	c->mq_head = c->mq_tail = NULL;
	c->mq_count = 0;
	c->mq_flags = 0;
	c->mq_args = 0;
	c->mq_plain = false;
	c->in_multi = false;
	c->multi_dirty = false;
}

static void multi_discard_queue(struct conn *c)
{
	struct exec_batch b;
	multi_take(c, &b);
	queue_free(b.head);
}

void multi_abort(struct conn *c)
{
	multi_discard_queue(c);
	for (uint32_t i = 0; i < c->nwatches; i++)
		c->watches[i].stale = true;
}

void multi_conn_free(struct conn *c)
{
	multi_discard_queue(c);
	/* Every EXEC started ran before the connection could be freed. */
	kv_assert(c->eb_head == NULL);
	/* Watches were released through UNWATCH before the conn is freed; only
	 * the local copies remain. */
	kv_assert(c->nwatches == 0);
	free(c->watches);
	c->watches = NULL;
}

bool multi_is_exec(const struct kv_command *cmd)
{
	return cmd->proc == cmd_exec;
}

bool multi_exec_pipelines(const struct conn *c)
{
	return c->in_multi && !c->multi_dirty && c->mq_plain && c->nwatches == 0;
}

uint32_t multi_queued_args(const struct conn *c)
{
	return c->mq_args;
}

void multi_exec_detach(struct conn *c)
{
	struct exec_batch *b = kv_malloc(sizeof(*b));
	multi_take(c, b);
	if (c->eb_tail)
		c->eb_tail->next = b;
	else
		c->eb_head = b;
	c->eb_tail = b;
}

/* The batch the running EXEC takes: its own, detached when it started a
 * txn (EXECs of one connection run in the order they were dispatched), or
 * the connection's, when it runs where it was dispatched. */
static void exec_take(struct conn *c, struct exec_batch *out)
{
	struct exec_batch *b = c->eb_head;
	if (!b) {
		multi_take(c, out);
		return;
	}
	c->eb_head = b->next;
	if (!c->eb_head)
		c->eb_tail = NULL;
	*out = *b;
	free(b);
}

/*
 * While c's pipelined txns are out (its earlier EXECs took their batches
 * with them), MULTI, the commands it queues and DISCARD touch only c's
 * MULTI state, so they run at once and their replies wait in slots behind
 * the txns'.  Not with WATCHes (the earlier EXEC releases them when it
 * runs) nor for a tracking client (CLIENT CACHING applies to the next
 * command that runs).
 */
enum multi_follow multi_may_follow(const struct conn *c, const struct kv_command *cmd)
{
	if (c->nwatches || c->trk_flags)
		return MULTI_FOLLOW_NO;
	if (cmd->proc == cmd_multi)
		return c->in_multi ? MULTI_FOLLOW_NO : MULTI_FOLLOW_LOCAL;
	if (!c->in_multi)
		return MULTI_FOLLOW_CALL;
	if (cmd->proc == cmd_exec)
		return multi_exec_pipelines(c) ? MULTI_FOLLOW_EXEC : MULTI_FOLLOW_NO;
	if (cmd->proc == cmd_discard || multi_queues(cmd))
		return MULTI_FOLLOW_LOCAL;
	return MULTI_FOLLOW_NO;
}

/* ---- shard sets ---- */

static void shard_set_add(uint64_t *bits, uint32_t id)
{
	bits[id / 64] |= 1ull << (id % 64);
}

static uint32_t shard_set_list(const uint64_t *bits, uint32_t *out)
{
	uint32_t n = 0;
	for (uint32_t id = 0; id < g_server.nshards; id++)
		if (bits[id / 64] & (1ull << (id % 64)))
			out[n++] = id;
	return n;
}

static void add_watched_shards(const struct conn *c, uint64_t *bits)
{
	for (uint32_t i = 0; i < c->nwatches; i++)
		shard_set_add(bits, c->watches[i].shard);
}

static uint32_t watched_shards(struct conn *c, int argc, const struct kv_slice *argv,
			       uint32_t *out)
{
	uint64_t bits[SHARD_MAX / 64] = { 0 };
	add_watched_shards(c, bits);
	return shard_set_list(bits, out);
}

/* EXEC holds every shard a queued command or a watched key lives on.  Without
 * MULTI it needs nothing: the handler only replies an error. */
static uint32_t exec_shards(struct conn *c, int argc, const struct kv_slice *argv,
			    uint32_t *out)
{
	if (!c->in_multi)
		return 0;
	uint64_t bits[SHARD_MAX / 64] = { 0 };
	add_watched_shards(c, bits);
	if (!c->multi_dirty) {
		uint32_t ids[SHARD_MAX];
		for (struct queued_call *q = c->mq_head; q; q = q->next) {
			uint32_t n = shard_call_shards(q->call.cmd, q->call.argc, q->call.argv, ids);
			for (uint32_t i = 0; i < n; i++)
				shard_set_add(bits, ids[i]);
		}
	}
	return shard_set_list(bits, out);
}

static uint32_t discard_shards(struct conn *c, int argc, const struct kv_slice *argv,
			       uint32_t *out)
{
	return c->in_multi ? watched_shards(c, argc, argv, out) : 0;
}

/* WATCH inside MULTI only replies an error: no keyspace needed. */
static uint32_t watch_shards(struct conn *c, int argc, const struct kv_slice *argv,
			     uint32_t *out)
{
	if (c->in_multi)
		return 0;
	uint64_t bits[SHARD_MAX / 64] = { 0 };
	uint32_t n = g_server.nshards;
	for (int i = 1; i < argc; i++)
		shard_set_add(bits, kv_key_shard(argv[i].ptr, argv[i].len, n));
	return shard_set_list(bits, out);
}

/* ---- watches ---- */

static void unwatch_all(struct cmd_ctx *ctx, struct conn *c)
{
	for (uint32_t i = 0; i < c->nwatches; i++) {
		struct watched_key *w = &c->watches[i];
		db_watch_release(cmd_dbs_at(ctx, w->shard)->db[w->db], w->key, w->klen);
		free(w->key);
	}
	c->nwatches = 0;
}

/* True if a watched key changed (or expired) since WATCH. */
static bool watches_broken(struct cmd_ctx *ctx, struct conn *c)
{
	for (uint32_t i = 0; i < c->nwatches; i++) {
		struct watched_key *w = &c->watches[i];
		if (w->stale)
			continue;
		struct kv_db *db = cmd_dbs_at(ctx, w->shard)->db[w->db];
		/* A lookup expires the key lazily, which bumps its version. */
		db_lookup_notouch(db, w->key, w->klen, ctx->now_ms);
		if (db_watch_version(db, w->key, w->klen) != w->version)
			return true;
	}
	return false;
}

/* ---- commands ---- */

static void cmd_multi(struct cmd_ctx *ctx)
{
	struct conn *c = ctx->conn;
	if (c->in_multi) {
		resp_error(ctx->out, "ERR MULTI calls can not be nested");
		return;
	}
	c->in_multi = true;
	c->multi_dirty = false;
	c->mq_plain = true;
	resp_ok(ctx->out);
}

static void cmd_discard(struct cmd_ctx *ctx)
{
	struct conn *c = ctx->conn;
	if (!c->in_multi) {
		resp_error(ctx->out, "ERR DISCARD without MULTI");
		return;
	}
	multi_discard_queue(c);
	unwatch_all(ctx, c);
	resp_ok(ctx->out);
}

static void exec_run(struct cmd_ctx *ctx);

/* EXEC shows in MONITOR after the commands it ran, as in Redis. */
static const char *multi_acl_reason(enum acl_verdict v)
{
	switch (v) {
	case ACL_DENIED_CMD: return "no permission to execute the command or subcommand";
	case ACL_DENIED_KEY: return "no permission to touch the specified keys";
	case ACL_DENIED_CHANNEL:
		return "no permission to access one of the channels used as arguments";
	default: return "no permission";
	}
}

static void cmd_exec(struct cmd_ctx *ctx)
{
	exec_run(ctx);
	if (monitor_any())
		monitor_feed(ctx->shard, ctx->conn, ctx->conn->db, cmd_lookup("exec", 4), ctx->argc,
			     ctx->argv);
}

static void exec_run(struct cmd_ctx *ctx)
{
	struct conn *c = ctx->conn;
	struct exec_batch b;
	exec_take(c, &b);
	if (!b.in_multi) {
		resp_error(ctx->out, "ERR EXEC without MULTI");
		return;
	}
	if (b.dirty) {
		resp_error(ctx->out, "EXECABORT Transaction discarded because of previous errors.");
		queue_free(b.head);
		unwatch_all(ctx, c);
		return;
	}
	/* A transaction that may grow memory is refused as a whole when the
	 * keyspaces it holds cannot be brought under maxmemory (Redis checks
	 * EXEC with its queued commands' flags; read-only ones still run). */
	if (b.flags & (CMD_DENYOOM | CMD_WRITE)) {
		/* ... and so is one that writes while too few replicas are good
		 * (min-replicas-to-write): all of it or none. */
		const char *oom = (b.flags & CMD_WRITE) ? repl_write_refused() : NULL;
		if (!oom && (b.flags & CMD_DENYOOM))
			oom = shard_oom_refused(ctx->shard, ctx->held, ctx->now_ms);
		if (oom) {
			resp_errorf(ctx->out, "EXECABORT Transaction discarded because of: %s",
				       oom);
			queue_free(b.head);
			unwatch_all(ctx, c);
			return;
		}
	}
	bool broken = watches_broken(ctx, c);
	unwatch_all(ctx, c);
	if (broken) {
		resp_null_array(ctx->out);
		queue_free(b.head);
		return;
	}
	struct queued_call *q = b.head;
	resp_array(ctx->out, b.count);
	/* Blocking commands inside EXEC answer at once, as in Redis. */
	c->in_exec = true;
	struct call_prefetch pf;
	pf.n = 0;
	for (struct queued_call *it = q; it && pf.n < CALL_PREFETCH_MAX; it = it->next)
		call_prefetch_add(&pf, &it->call, c->db, ctx->held);
	call_prefetch_run(&pf);
	for (struct queued_call *it = q; it; it = it->next) {
		it->call.now_ms = ctx->now_ms;
		it->call.dbid = c->db;   /* a queued SELECT moves the ones after it */
		if (monitor_any())
			monitor_feed(ctx->shard, c, c->db, it->call.cmd, it->call.argc,
				     it->call.argv);
		/* The rules may have changed since it was queued: checked
		 * again, as Redis's EXEC does. */
		int pos;
		enum acl_verdict v = acl_check(c->user, it->call.cmd, it->call.argc, it->call.argv,
					       &pos);
		if (v != ACL_OK) {
			shard_acl_log(c, c->user, v, ACL_CTX_MULTI,
				      cmd_stat_target(it->call.cmd, it->call.argc, it->call.argv),
				      it->call.argv, pos);
			resp_errorf(ctx->out, "NOPERM ACLs rules changed between the moment the "
					      "transaction was accumulated and the EXEC call. This "
					      "command is no longer allowed for the following reason: %s",
				    multi_acl_reason(v));
			continue;
		}
		shard_call_run(ctx->shard, &it->call, c, ctx->held, ctx->out);
	}
	c->in_exec = false;
	/* Blocked clients are served once the transaction is whole, in the
	 * order its commands touched their keys (Redis's ready keys). */
	while (q) {
		struct queued_call *next = q->next;
		shard_call_wake(ctx->shard, &q->call, ctx->held);
		free(q);
		q = next;
	}
}

static void cmd_watch(struct cmd_ctx *ctx)
{
	struct conn *c = ctx->conn;
	if (c->in_multi) {
		resp_error(ctx->out, "ERR WATCH inside MULTI is not allowed");
		return;
	}
	for (int i = 1; i < ctx->argc; i++) {
		const struct kv_slice *k = &ctx->argv[i];
		uint32_t shard = cmd_key_shard(ctx, k->ptr, k->len);
		bool dup = false;
		for (uint32_t j = 0; j < c->nwatches && !dup; j++)
			dup = c->watches[j].db == ctx->dbid && c->watches[j].klen == k->len &&
			      memcmp(c->watches[j].key, k->ptr, k->len) == 0;
		if (dup)
			continue;
		struct kv_db *db = cmd_db_at(ctx, shard);
		/* An already expired key is gone before the version is taken, so
		 * its later expiry cannot abort the EXEC (as in Redis). */
		db_lookup_notouch(db, k->ptr, k->len, ctx->now_ms);
		if (c->nwatches == c->watches_cap) {
			c->watches_cap = c->watches_cap ? c->watches_cap * 2 : 4;
			c->watches = kv_realloc(c->watches, c->watches_cap * sizeof(*c->watches));
		}
		struct watched_key *w = &c->watches[c->nwatches++];
		w->key = kv_strndup(k->ptr, k->len);
		w->klen = k->len;
		w->shard = shard;
		w->db = ctx->dbid;
		w->version = db_watch_add(db, k->ptr, k->len);
		w->stale = false;
	}
	resp_ok(ctx->out);
}

static void cmd_unwatch(struct cmd_ctx *ctx)
{
	unwatch_all(ctx, ctx->conn);
	resp_ok(ctx->out);
}

/* RESET: the connection as it was when it connected (Redis's
 * clearClientConnectionState): no MULTI, no WATCH, no subscriptions,
 * database 0, RESP2, replies on, no name, not evict-protected, and not
 * authenticated when a password is required.  Runs holding the shards of
 * its WATCHed keys, as UNWATCH. */
static void cmd_reset(struct cmd_ctx *ctx)
{
	struct conn *c = ctx->conn;
	multi_discard_queue(c);
	unwatch_all(ctx, c);
	pubsub_conn_drop(ctx->shard, c);
	monitor_conn_drop(ctx->shard, c);
	tracking_conn_off(ctx->shard, c);
	ctx->dbid = 0;
	c->proto = 0;
	resp_set_proto(ctx->out, 0);
	c->reply_off = false;
	c->reply_skip_next = false;
	c->no_evict = false;
	server_runtime.conn_set_name(c, "", 0);
	/* Back to the default user, authenticated only if it needs no
	 * password (Redis's clearClientConnectionState). */
	server_runtime.conn_set_user(c, acl_default_user());
	server_runtime.conn_set_authenticated(c, !acl_auth_required());
	resp_simple(ctx->out, "RESET");
}

/* MONITOR: every command any client runs from now on (monitor.c). */
static void cmd_monitor(struct cmd_ctx *ctx)
{
	struct conn *c = ctx->conn;
	if (c->in_exec) {
		/* A client that expects one reply per command cannot monitor. */
		resp_error(ctx->out, "ERR MONITOR isn't allowed for DENY BLOCKING client");
		return;
	}
	if (c->monitor)
		return;
	monitor_add(ctx->shard, c);
	resp_ok(ctx->out);
}

const struct kv_command multi_unwatch_command = {
	.name = "unwatch", .arity = 1,
	.flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST,
	.proc = cmd_unwatch, .conn_shards = watched_shards,
	.group = "transactions", .since = "2.2.0",
	.summary = "Forget about all watched keys", .complexity = "O(1)",
};

const struct kv_command cmd_table_multi[] = {
	{ .name = "multi", .arity = 1,
	  .flags = CMD_LOCAL | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST,
	  .proc = cmd_multi, .group = "transactions", .since = "1.2.0",
	  .summary = "Mark the start of a transaction block", .complexity = "O(1)" },
	{ .name = "exec", .arity = 1,
	  .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  .proc = cmd_exec, .conn_shards = exec_shards, .group = "transactions",
	  .since = "1.2.0", .summary = "Execute all commands issued after MULTI",
	  .complexity = "Depends on commands in the transaction" },
	{ .name = "discard", .arity = 1,
	  .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST,
	  .proc = cmd_discard, .conn_shards = discard_shards, .group = "transactions",
	  .since = "2.0.0", .summary = "Discard all commands issued after MULTI",
	  .complexity = "O(N), when N is the number of queued commands" },
	{ .name = "watch", .arity = -2,
	  .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST,
	  .first_key = 1, .last_key = -1, .key_step = 1,
	  .proc = cmd_watch, .conn_shards = watch_shards, .group = "transactions",
	  .since = "2.2.0",
	  .summary = "Watch the given keys to determine execution of the MULTI/EXEC block",
	  .complexity = "O(1) for every key." },
	{ .name = "unwatch", .arity = 1,
	  .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST,
	  .proc = cmd_unwatch, .conn_shards = watched_shards, .group = "transactions",
	  .since = "2.2.0", .summary = "Forget about all watched keys", .complexity = "O(1)" },
	{ .name = "monitor", .arity = 1,
	  .flags = CMD_LOCAL | CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  .proc = cmd_monitor, .group = "server", .since = "1.0.0",
	  .summary = "Listen for all requests received by the server in real time" },
	{ .name = "reset", .arity = 1,
	  .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NOAUTH,
	  .proc = cmd_reset, .conn_shards = watched_shards, .group = "connection",
	  .since = "6.2.0", .summary = "Reset the connection", .complexity = "O(1)" },
	{ .name = NULL },
};
