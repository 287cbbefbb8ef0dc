/*
 * exec.c - running one call on this thread with the keyspaces it holds:
 * the command context (runtime services, statistics), the refusal of writes
 * while an involved shard's AOF fails, the effect frame around the handler
 * (commands/fx.h), snapshot copy-before-write, and the wake-up of clients
 * blocked on the keys a write touched.
 *
 * It also enforces maxmemory (docs/memory.md): each shard gets an equal
 * share of the limit and evicts only from its own keyspace, before a
 * command that may grow memory runs on it and from its cron.
 *
 * Not here: where a call runs (route.c) or when its reply leaves (gate.c).
 */
#include "commands/acl.h"
#include "commands/fx.h"
#include "server/server.h"
#include "server/shard.h"
#include "store/evict.h"

/* ---- maxmemory ---- */

/* This shard's share of maxmemory, or false when there is no limit.  The
 * share may be 0 (maxmemory 1 on several shards): then any keyspace is over,
 * as Redis is over a 1-byte limit. */
static bool shard_mem_share(uint64_t *share)
{
	int64_t max = atomic_load_explicit(&kv_memory.maxmemory, memory_order_relaxed);
	if (max <= 0)
		return false;
	*share = (uint64_t)max / g_server.nshards;
	return true;
}

/* Evict from every database of shard o (held by this thread) until they
 * fit `share`. */
static enum evict_result shard_evict(struct shard *o, struct kv_dbs *dbs, uint64_t share,
				     int64_t now_ms)
{
	struct evict_params p;
	uint64_t evicted = 0;
	evict_params_from_settings(&p, (size_t)share, now_ms);
	fx_set_clock(now_ms);
	enum evict_result r = evict_run(&o->evict_pool, dbs->db, dbs->n, &p, &evicted);
	atomic_store_explicit(&o->evict_failed, r == EVICT_FAIL, memory_order_relaxed);
	atomic_store_explicit(&o->mem_used, evict_used(dbs->db, dbs->n), memory_order_relaxed);
	return r;
}

const char *shard_oom_refused(struct shard *s, struct kv_dbs **held, int64_t now_ms)
{
	uint64_t share;
	if (!shard_mem_share(&share))
		return NULL;
	const char *err = NULL;
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		if (held == s->held_local && i != s->id)
			continue;
		if (held[i] && shard_evict(g_server.shards[i], held[i], share, now_ms) == EVICT_FAIL)
			err = SHARD_ERR_OOM;
	}
	return err;
}

bool shard_oom_at_queue(struct shard *s, const struct kv_command *cmd, int argc,
			const struct kv_slice *argv)
{
	uint64_t share;
	if (!shard_mem_share(&share))
		return false;
	uint32_t shards[SHARD_MAX];
	uint32_t n = 0;
	if (!(cmd->flags & (CMD_LOCAL | CMD_ALL_SHARDS)) && !cmd->conn_shards && !cmd->bcast)
		n = shard_call_shards(cmd, argc, argv, shards);
	if (n == 0) {
		shards[0] = s->id;
		n = 1;
	}
	/* The owner shards evict on their own threads; from here only what they
	 * published can be read.  Under an evicting policy a shard over its
	 * share is not out of memory until its eviction failed. */
	bool noevict = kv_memory_policy() == EVICT_NOEVICTION;
	for (uint32_t i = 0; i < n; i++) {
		struct shard *o = g_server.shards[shards[i]];
		if (atomic_load_explicit(&o->mem_used, memory_order_relaxed) > share &&
		    (noevict || atomic_load_explicit(&o->evict_failed, memory_order_relaxed)))
			return true;
	}
	return false;
}

void shard_evict_cron(struct shard *s)
{
	uint64_t share;
	if (!shard_mem_share(&share)) {
		atomic_store_explicit(&s->mem_used, evict_used(s->dbs.db, s->dbs.n),
				      memory_order_relaxed);
		return;
	}
	shard_evict(s, &s->dbs, share, s->now_ms);
	shard_unit_commit(s);
}

/* ---- INFO commandstats and errorstats ---- */

struct cmd_stat *shard_cmd_stat(struct shard *s, const struct kv_command *cmd)
{
	uint32_t id = cmd_stat_id(cmd);
	return s->stats.cmds && id != UINT32_MAX ? &s->stats.cmds[id] : NULL;
}

void shard_count_rejected(struct shard *s, struct cmd_stat *cs, const char *reply, size_t len)
{
	stat_error(&s->stats, reply, len);
	if (cs)
		stat_add(&cs->rejected, 1);
}

/* What MULTI's queue-time check reads of each keyspace this call held. */
static void shard_mem_publish(struct shard *s, struct kv_dbs **held)
{
	uint64_t share;
	if (!shard_mem_share(&share))
		return;   /* no limit: nothing reads it (the cron keeps it current) */
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		if (held == s->held_local && i != s->id)
			continue;
		if (held[i])
			atomic_store_explicit(&g_server.shards[i]->mem_used,
					      evict_used(held[i]->db, held[i]->n),
					      memory_order_relaxed);
	}
}

/*
 * After a write command: wake clients blocked on its keys.  (WATCH needs no
 * help here: the store reports whole-key changes, and each collection
 * handler reports its in-place changes exactly where Redis does.)
 */
static void shard_after_write(struct shard *s, const struct cmd_call *call, struct kv_dbs **held)
{
	blocking_after_write(s, call, held);
}

/* Tell the held keyspaces a write command runs (a snapshot in progress
 * then saves what it looks up before it can change in place).  Only the
 * command's database: what a command does to another one (MOVE, COPY ...
 * DB, FLUSHALL) goes through store calls that save it first anyway. */
static void shard_set_writing(struct shard *s, struct kv_dbs **held, uint32_t dbid, bool on)
{
	if (held == s->held_local) {
		db_set_writing(s->dbs.db[dbid], on);
		return;
	}
	for (uint32_t i = 0; i < g_server.nshards; i++)
		if (held[i])
			db_set_writing(held[i]->db[dbid], on);
}

/* ---- SLOWLOG, LATENCY, LATENCY HISTOGRAM ---- */

/* The call's duration into its histogram, allocated at the first one. */
static void shard_track_latency(struct cmd_stat *cs, uint64_t ns)
{
	if (!atomic_load_explicit(&lat_tracking, memory_order_relaxed))
		return;
	struct lat_hist *h = atomic_load_explicit(&cs->hist, memory_order_relaxed);
	if (!h) {
		h = kv_calloc(1, sizeof(*h));
		/* Publishes the zeroed histogram to readers on other threads. */
		atomic_store_explicit(&cs->hist, h, memory_order_release);
	}
	lat_hist_add(h, ns);
}

void shard_acl_log(const struct conn *c, const struct acl_user *u, enum acl_verdict v,
		   enum acl_log_ctx ctx, const struct kv_command *target,
		   const struct kv_slice *argv, int pos)
{
	struct kv_buf ci;
	kv_buf_init(&ci);
	if (c) {
		pthread_mutex_lock(&c->shard->clients_lock);
		server_runtime.conn_info_line(c, &ci);
		pthread_mutex_unlock(&c->shard->clients_lock);
	}
	const char *obj = target->name;
	size_t olen = strlen(obj);
	if (v == ACL_DENIED_KEY || v == ACL_DENIED_CHANNEL) {
		obj = argv[pos].ptr;
		olen = argv[pos].len;
	}
	const char *name = acl_user_name(u);
	acl_log_add(v, ctx, obj, olen, name, strlen(name), ci.data ? ci.data : "", ci.len);
	kv_buf_free(&ci);
}

void shard_slowlog(struct shard *s, const struct conn *c, const struct kv_command *cmd,
		   int argc, const struct kv_slice *argv, int64_t duration_us)
{
	/* EXEC is not logged, the commands it ran are (Redis's SKIP_SLOWLOG). */
	if (!slowlog_wants(duration_us) || strcmp(cmd->name, "exec") == 0)
		return;
	slowlog_push(&s->stats.slowlog, argc, argv, duration_us, c->addr, c->name);
}

void call_prefetch_add(struct call_prefetch *p, const struct cmd_call *call, uint32_t dbid,
		       struct kv_dbs **held)
{
	if (call->cmd->first_key <= 0 || p->n == CALL_PREFETCH_MAX)
		return;
	int idx[CALL_PREFETCH_MAX];
	int n = cmd_get_keys(call->cmd, call->argc, call->argv, idx, CALL_PREFETCH_MAX);
	for (int i = 0; i < n && p->n < CALL_PREFETCH_MAX; i++) {
		const struct kv_slice *k = &call->argv[idx[i]];
		struct kv_dbs *d = held[kv_key_shard(k->ptr, k->len, g_server.nshards)];
		if (!d || dbid >= d->n)
			continue;
		p->dbs[p->n] = d->db[dbid];
		p->keys[p->n++] = k;
	}
}

void call_prefetch_run(const struct call_prefetch *p)
{
	db_prefetch(p->dbs, p->keys, p->n);
}

/* A call with several keys (MSET, MGET, DEL, SUNION, ...) asks for the
 * cache lines of all its lookups before the handler makes them one by one:
 * with a keyspace larger than the cache each lookup is a miss or two, and
 * this way they overlap. */
static void shard_call_prefetch(const struct cmd_call *call, struct kv_dbs **held)
{
	const struct kv_command *cmd = call->cmd;
	if (cmd->first_key <= 0 || call->argc < 3 ||
	    (!cmd->keys && cmd->last_key > 0 && cmd->last_key == cmd->first_key))
		return;
	struct call_prefetch p;
	p.n = 0;
	call_prefetch_add(&p, call, call->dbid, held);
	if (p.n >= 2)
		call_prefetch_run(&p);
}

int64_t shard_call_run(struct shard *s, const struct cmd_call *call, struct conn *conn,
		       struct kv_dbs **held, struct kv_buf *out)
{
	/* The reply speaks the protocol the call carries when it names one (a
	 * forwarded call; a script's own calls, which want RESP2), else the
	 * connection's: HELLO may change it between EXEC's queued commands. */
	unsigned char proto = resp_set_proto(out, call->proto ? call->proto
							  : conn ? conn->proto : 0);
	struct cmd_ctx ctx = {
		.argc = call->argc,
		.argv = call->argv,
		.out = out,
		.now_ms = call->now_ms,
		.rt = &server_runtime,
		.stats = &s->stats,
		.shard = s,
		.conn = conn,
		.held = held,
		.nshards = g_server.nshards,
		.dbid = call->dbid,
		.user = call->user ? call->user : conn ? conn->user : NULL,
		.origin = call->conn ? call->conn : conn,
		.in_script = call->in_script,
	};
	/* INFO commandstats: this shard's counters of the entry the call
	 * counts under; calls the runtime makes for itself count nowhere. */
	struct cmd_stat *cs = NULL;
	const char *refused = NULL;
	/* A container's write subcommand (FUNCTION LOAD, XGROUP CREATE, ...)
	 * is a write too. */
	const struct kv_command *target = cmd_stat_target(call->cmd, call->argc, call->argv);
	if (!call->internal)
		cs = shard_cmd_stat(s, target);
	if ((call->cmd->flags | target->flags) & CMD_WRITE) {
		refused = shard_write_refused(s, held);
		/* EXEC checked its queue as a whole and a script checks before
		 * its first write: a replica's ACK arriving mid-way must not
		 * split either. */
		if (!refused && !(conn && conn->in_exec) && !call->in_script)
			refused = repl_write_refused();
	}
	/* EXEC's queued commands were checked as a whole by EXEC.  A
	 * container's deny-oom subcommand (FUNCTION LOAD, XGROUP CREATE, ...)
	 * is refused too, as Redis reads the subcommand's flags. */
	if (!refused && ((call->cmd->flags | target->flags) & CMD_DENYOOM) &&
	    !(conn && conn->in_exec) && !call->allow_oom)
		refused = shard_oom_refused(s, held, call->now_ms);
	if (refused) {
		size_t at = out->len;
		resp_error(out, refused);
		shard_count_rejected(s, cs, out->data + at, out->len - at);
		out->proto = proto;
		return 0;
	}
	shard_call_prefetch(call, held);
	struct fx_cmd fx;
	bool writing = call->cmd->flags & CMD_WRITE;
	if (writing)
		shard_set_writing(s, held, call->dbid, true);
	fx_cmd_begin(&fx, call->cmd, call->argc, call->argv, held, call->dbid, call->now_ms);
	size_t before = out->len;
	struct trk_frame trk;
	tracking_call_begin(s, call, conn, &trk);
	uint64_t start = kv_ticks();
	call->cmd->proc(&ctx);
	uint64_t ticks = kv_ticks() - start;
	double ns = (double)ticks * s->ns_per_tick;
	int64_t duration_us = (int64_t)(ns / 1000);
	if (cs) {
		stat_add(&cs->calls, 1);
		stat_add(&cs->ticks, ticks);
		shard_track_latency(cs, (uint64_t)ns);
	}
	/* Redis's "command" and "fast-command" latency events. */
	if (!call->internal)
		lat_note(&s->stats.latency, (call->cmd->flags & CMD_FAST) ? "fast-command" : "command",
			 duration_us / 1000);
	/* The slow log names the client: only here, on its own shard (a
	 * forwarded call is logged there when its reply comes back), and not
	 * while the command blocks (it is logged when it is served). */
	if (conn && !call->internal) {
		if (conn->block_pending)
			conn->block_duration_us = duration_us;
		else
			shard_slowlog(s, conn, call->cmd, call->argc, call->argv, duration_us);
	}
	/* Every error a handler replies is counted here, on the shard that ran
	 * it (inside EXEC, each queued command's own). */
	if (out->len > before && out->data[before] == '-') {
		stat_error(&s->stats, out->data + before, out->len - before);
		if (cs)
			stat_add(&cs->failed, 1);
	}
	fx_cmd_end(&fx);
	/* After the reply: what the command read is remembered, and the
	 * client's own invalidations follow its reply (docs/tracking.md). */
	tracking_call_end(s, call, held, &trk);
	if (writing) {
		/* Inside EXEC the clients blocked on these keys are served once
		 * the whole transaction ran (shard_call_wake), as in Redis: a key
		 * pushed and deleted again by the same EXEC wakes nobody.  A
		 * script's writes wake them once the script ended (script.c):
		 * no waiter may see, or change, a script's keys half way. */
		if (!(conn && conn->in_exec) && !call->in_script)
			shard_after_write(s, call, held);
		shard_set_writing(s, held, call->dbid, false);
		shard_mem_publish(s, held);
	}
	/* SELECT (inside EXEC too) moves the client for what follows. */
	if (conn && ctx.dbid != call->dbid)
		conn->db = ctx.dbid;
	out->proto = proto;
	return duration_us;
}

void shard_call_wake(struct shard *s, const struct cmd_call *call, struct kv_dbs **held)
{
	if (!(call->cmd->flags & CMD_WRITE))
		return;
	shard_set_writing(s, held, call->dbid, true);
	shard_after_write(s, call, held);
	shard_set_writing(s, held, call->dbid, false);
}
