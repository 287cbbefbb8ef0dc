/*
 * exec.c - running one call on this thread with the keyspaces it holds:
 * the command context (runtime services, statistics), the refusal of writes
 * while an involved shard's AOF fails, the effect frame around the handler
 * (commands/fx.h), snapshot copy-before-write, and the wake-up of clients
 * blocked on the keys a write touched.
 *
 * Not here: where a call runs (route.c) or when its reply leaves (gate.c).
 */
#include "commands/fx.h"
#include "server/server.h"
#include "server/shard.h"

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

void shard_call_run(struct shard *s, const struct cmd_call *call, struct conn *conn,
		     struct kv_dbs **held, struct kv_buf *out)
{
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
	};
	if (call->cmd->flags & CMD_WRITE) {
		const char *refused = shard_write_refused(s, held);
		if (refused) {
			resp_error(out, refused);
			return;
		}
	}
	struct fx_cmd fx;
	bool writing = call->cmd->flags & CMD_WRITE;
	if (writing)
		shard_set_writing(s, held, call->dbid, true);
	fx_cmd_begin(&fx, call->cmd, call->argc, call->argv, held, call->dbid, call->now_ms);
	call->cmd->proc(&ctx);
	fx_cmd_end(&fx);
	if (writing) {
		/* Inside EXEC the clients blocked on these keys are served once
		 * the whole transaction ran (shard_call_wake), as in Redis: a key
		 * pushed and deleted again by the same EXEC wakes nobody. */
		if (!(conn && conn->in_exec))
			shard_after_write(s, call, held);
		shard_set_writing(s, held, call->dbid, false);
	}
	/* SELECT (inside EXEC too) moves the client for what follows. */
	if (conn && ctx.dbid != call->dbid)
		conn->db = ctx.dbid;
}

void shard_call_wake(struct shard *s, const struct cmd_call *call, struct kv_dbs **held)
{
	if (!(call->cmd->flags & CMD_WRITE))
		return;
	shard_set_writing(s, held, call->dbid, true);
	shard_after_write(s, call, held);
	shard_set_writing(s, held, call->dbid, false);
}
