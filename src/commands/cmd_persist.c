/*
 * cmd_persist.c - SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE and INFO persistence.
 * (WAITAOF waits for replicas too: it is server/repl.c's, beside WAIT.)
 *
 * INFO persistence prints Redis's aof_* fields with real values, summed over
 * shards (sizes, buffers, delayed fsyncs) or the worst of them (write status),
 * then kevy's own: the policy, records and fsyncs with their ratio (writes
 * per fsync: group commit), the fsync lag, and one line per shard.
 */
#include "commands/cmd_persist.h"

#include <inttypes.h>
#include <stdio.h>

#include "persist/aof.h"
#include "commands/cmd.h"
#include "commands/config.h"
#include "base/kv.h"
#include "proto/resp.h"
#include "persist/snapshot.h"

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void persist_info(const struct cmd_ctx *c, struct kv_buf *b)
{
	const struct cmd_runtime *rt = c->rt;
	bool on = atomic_load(&g_config.appendonly) != 0;
	int policy = atomic_load(&g_config.appendfsync);
	uint64_t size = 0, base = 0, buffer = 0, records = 0, synced = 0, fsyncs = 0, writes = 0;
	uint64_t delayed = 0, errors = 0, loaded = 0, direct = 0;
	int64_t now = kv_time_ms(), lag = 0, last_fsync = 0;
	int worst = AOF_OK, last_err = 0;
	for (uint32_t i = 0; i < c->nshards; i++) {
		struct aof_info *in = &rt->aof(i)->info;
		size += LD(in->current_size);
		base += LD(in->base_size);
		buffer += LD(in->buffer_length);
		records += LD(in->records);
		synced += LD(in->records_synced);
		fsyncs += LD(in->fsyncs);
		direct += LD(in->direct_writes);
		writes += LD(in->writes);
		delayed += LD(in->delayed_fsync);
		errors += LD(in->write_errors);
		loaded += LD(in->replayed_records);
		int st = LD(in->state);
		if (st > worst)
			worst = st;
		if (LD(in->last_write_err))
			last_err = LD(in->last_write_err);
		int64_t oldest = LD(in->oldest_unsynced_ms);
		if (oldest && now - oldest > lag)
			lag = now - oldest;
		int64_t lf = LD(in->last_fsync_ms);
		if (lf > last_fsync)
			last_fsync = lf;
	}
	const struct server_info *si = rt->info();
	/* Snapshots: in progress if any shard's is; the last save is the
	 * oldest shard's; ok only if every shard's last one was. */
	bool running = false, last_ok = true;
	int64_t last_save = INT64_MAX, last_dur = -1, cur_start = 0;
	uint64_t saves = UINT64_MAX, snap_bytes = 0, snap_keys = 0, dirty = 0;
	uint64_t prog_keys = 0, prog_bytes = 0;
	for (uint32_t i = 0; i < c->nshards; i++) {
		struct snapshot_job *j = rt->snapshot(i);
		dirty += rt->changes(i) - LD(j->changes_saved);
		running |= snapshot_running(j);
		last_ok &= LD(j->last_ok) != 0;
		int64_t ls = LD(j->last_save_s);
		if (ls < last_save)
			last_save = ls;
		int64_t d = LD(j->last_duration_ms);
		if (d > last_dur)
			last_dur = d;
		int64_t cs = LD(j->current_start_ms);
		if (cs && (!cur_start || cs < cur_start))
			cur_start = cs;
		uint64_t n = LD(j->saves);
		if (n < saves)
			saves = n;
		snap_bytes += LD(j->last_bytes);
		snap_keys += LD(j->last_keys);
		prog_keys += LD(j->progress_keys);
		prog_bytes += LD(j->progress_bytes);
	}
	if (c->nshards == 0)
		last_save = 0, saves = 0;
	/* The copy-on-write and module fork fields are 0: kevy snapshots
	 * without forking (docs/snapshots.md). */
	kv_buf_printf(b, "# Persistence\r\n"
		      "loading:0\r\n"
		      "async_loading:0\r\n"
		      "rdb_changes_since_last_save:%" PRIu64 "\r\n"
		      "rdb_bgsave_in_progress:%d\r\n"
		      "rdb_last_save_time:%" PRId64 "\r\n"
		      "rdb_last_bgsave_status:%s\r\n"
		      "rdb_last_bgsave_time_sec:%" PRId64 "\r\n"
		      "rdb_current_bgsave_time_sec:%" PRId64 "\r\n"
		      "rdb_saves:%" PRIu64 "\r\n"
		      "rdb_last_cow_size:0\r\n"
		      "kevy_snapshot_bytes:%" PRIu64 "\r\n"
		      "kevy_snapshot_keys:%" PRIu64 "\r\n"
		      "kevy_snapshot_progress_keys:%" PRIu64 "\r\n"
		      "kevy_snapshot_progress_bytes:%" PRIu64 "\r\n"
		      "aof_enabled:%d\r\n"
		      "aof_rewrite_in_progress:%d\r\n"
		      "aof_rewrite_scheduled:0\r\n"
		      "aof_last_rewrite_time_sec:%" PRId64 "\r\n"
		      "aof_current_rewrite_time_sec:%" PRId64 "\r\n"
		      "aof_last_bgrewrite_status:%s\r\n"
		      "aof_rewrites:%" PRIu64 "\r\n"
		      "aof_last_write_status:%s\r\n"
		      "aof_last_cow_size:0\r\n"
		      "module_fork_in_progress:0\r\n"
		      "module_fork_last_cow_size:0\r\n",
		      dirty, running ? 1 : 0, last_save, last_ok ? "ok" : "err",
		      last_dur < 0 ? -1 : last_dur / 1000,
		      cur_start ? (now - cur_start) / 1000 : -1, saves, snap_bytes, snap_keys,
		      running ? prog_keys : 0, running ? prog_bytes : 0,
		      on ? 1 : 0, running || atomic_load(&g_config.aof_turnon_open) ? 1 : 0, last_dur < 0 ? -1 : last_dur / 1000,
		      cur_start ? (now - cur_start) / 1000 : -1, last_ok ? "ok" : "err", saves,
		      worst == AOF_OK ? "ok" : "err");
	if (on)
		kv_buf_printf(b, "aof_current_size:%" PRIu64 "\r\n"
			      "aof_base_size:%" PRIu64 "\r\n"
			      "aof_pending_rewrite:0\r\n"
			      "aof_buffer_length:%" PRIu64 "\r\n"
			      "aof_pending_bio_fsync:0\r\n"
			      "aof_delayed_fsync:%" PRIu64 "\r\n",
			      size, base, buffer, delayed);
	kv_buf_printf(b, "aof_fsync_policy:%s\r\n"
		      "aof_write_state:%s\r\n"
		      "aof_last_write_error:%s\r\n"
		      "aof_write_errors:%" PRIu64 "\r\n"
		      "aof_records:%" PRIu64 "\r\n"
		      "aof_writes:%" PRIu64 "\r\n"
		      "aof_fsyncs:%" PRIu64 "\r\n"
		      "aof_direct_writes:%" PRIu64 "\r\n"
		      "aof_records_per_fsync:%.2f\r\n"
		      "aof_fsync_lag_ms:%" PRId64 "\r\n"
		      "aof_last_fsync_ms_ago:%" PRId64 "\r\n"
		      "aof_loaded_records:%" PRIu64 "\r\n"
		      "aof_load_time_ms:%" PRId64 "\r\n",
		      aof_fsync_name(policy),
		      worst == AOF_OK ? "ok" : worst == AOF_RETRYING ? "retrying" : "failed",
		      last_err ? kv_strerror(last_err) : "", errors, records, writes, fsyncs, direct,
		      fsyncs ? (double)synced / (double)fsyncs : 0.0, lag,
		      last_fsync ? now - last_fsync : -1, loaded, si->load_us / 1000);
	for (uint32_t i = 0; i < c->nshards; i++) {
		struct aof *a = rt->aof(i);
		int st = LD(a->info.state);
		kv_buf_printf(b, "aof_shard%u:status=%s,size=%" PRIu64 ",records=%" PRIu64
			      ",last_lsn=%" PRIu64 ",durable_lsn=%" PRIu64 "\r\n", i,
			      st == AOF_OK ? "ok" : st == AOF_RETRYING ? "retrying" : "failed",
			      LD(a->info.current_size), LD(a->info.records), LD(a->info.last_lsn),
			      LD(a->info.durable_lsn));
	}
}

uint64_t persist_repl_offset(const struct cmd_ctx *c)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < c->nshards; i++)
		sum += LD(c->rt->aof(i)->info.durable_lsn);
	return sum;
}

/* A replica's files are its primary's, written by its link
 * (docs/replication.md): it takes no snapshot of its own. */
bool persist_on_replica(struct cmd_ctx *c)
{
	struct repl_status st;
	if (!c->rt || !c->rt->repl_status)
		return false;
	c->rt->repl_status(&st);
	if (st.replica)
		resp_error(c->out, "ERR this server is a replica: its files are its primary's "
				   "(they change only by the replication link; REPLICAOF NO ONE first)");
	return st.replica;
}

/* Start a snapshot on every shard (the caller holds every keyspace), or
 * say one runs already. */
static bool persist_start_all(struct cmd_ctx *c, const char *busy)
{
	if (persist_on_replica(c))
		return false;
	for (uint32_t i = 0; i < c->nshards; i++)
		if (snapshot_running(c->rt->snapshot(i))) {
			resp_error(c->out, busy);
			return false;
		}
	for (uint32_t i = 0; i < c->nshards; i++) {
		snapshot_request(c->rt->snapshot(i));
		c->rt->wake(i);
	}
	return true;
}

/* BGSAVE [SCHEDULE]: a fork-less snapshot of every shard, which is also
 * kevy's AOF rewrite (snapshot + fresh segment in one manifest commit). */
static void cmd_bgsave(struct cmd_ctx *c)
{
	if (c->argc > 2 || (c->argc == 2 && !arg_is(&c->argv[1], "schedule"))) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	if (persist_start_all(c, "ERR Background save already in progress"))
		resp_simple(c->out, "Background saving started");
}

/* SAVE: the same snapshot, with the reply held until every shard's is
 * committed (CMD_WAIT_SNAPSHOT).  Unlike Redis's SAVE it does not stop the
 * server: only this client waits. */
static void cmd_save(struct cmd_ctx *c)
{
	if (persist_start_all(c, "ERR Background save already in progress"))
		resp_ok(c->out);
}

static void cmd_bgrewriteaof(struct cmd_ctx *c)
{
	if (persist_start_all(c, "ERR Background append only file rewriting already in progress"))
		resp_simple(c->out, "Background append only file rewriting started");
}

/* LASTSAVE: when every shard last completed a snapshot (the server's start
 * time until the first). */
static void cmd_lastsave(struct cmd_ctx *c)
{
	int64_t t = INT64_MAX;
	for (uint32_t i = 0; i < c->nshards; i++) {
		int64_t s = atomic_load(&c->rt->snapshot(i)->last_save_s);
		if (s < t)
			t = s;
	}
	resp_int(c->out, c->nshards ? t : 0);
}

const struct kv_command cmd_table_persist[] = {
	{ "bgsave", -1, CMD_NOSCRIPT | CMD_ADMIN | CMD_ALL_SHARDS, 0, 0, 0, cmd_bgsave, NULL, NULL,
	  "server", "1.0.0", "Asynchronously save the dataset to disk", "O(1)", NULL },
	{ "save", 1, CMD_NOSCRIPT | CMD_ADMIN | CMD_NO_MULTI | CMD_ALL_SHARDS | CMD_WAIT_SNAPSHOT, 0, 0, 0, cmd_save,
	  NULL, NULL, "server", "1.0.0", "Synchronously save the dataset to disk",
	  "O(N) where N is the total number of keys in all databases",
	  NULL },
	{ "bgrewriteaof", 1, CMD_NOSCRIPT | CMD_ADMIN | CMD_ALL_SHARDS, 0, 0, 0, cmd_bgrewriteaof,
	  NULL, NULL, "server", "1.0.0", "Asynchronously rewrite the append-only file",
	  "O(1)", NULL },
	{ "lastsave", 1, CMD_FAST | CMD_RANDOM | CMD_LOCAL, 0, 0, 0, cmd_lastsave, NULL, NULL,
	  "server", "1.0.0", "Get the UNIX time stamp of the last successful save to disk",
	  "O(1)", NULL },
	{ NULL },
};
