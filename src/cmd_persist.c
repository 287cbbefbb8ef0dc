/*
 * cmd_persist.c - WAITAOF and INFO persistence.
 *
 * WAITAOF numlocal numreplicas timeout runs holding every shard's keyspace
 * (CMD_ALL_SHARDS) with CMD_WAIT_DURABLE: the runtime (shard.c) asks each
 * shard for an fsync and releases the reply once every shard's AOF is
 * durable up to what it held when WAITAOF ran, whatever appendfsync says.
 * That covers the connection's earlier writes (they ran before, in order).
 * kevy has no replicas: numreplicas is accepted and the reply's second
 * element is always 0; the reply does not wait for the timeout to pass.
 *
 * INFO persistence prints Redis's aof_* fields with real values, summed over
 * shards (sizes, buffers, delayed fsyncs) or the worst of them (write status),
 * then kevy's own: the policy, records and fsyncs with their ratio (writes
 * per fsync: group commit), the fsync lag, and one line per shard.
 */
#include "cmd_persist.h"

#include <inttypes.h>
#include <stdio.h>

#include "aof.h"
#include "cmd.h"
#include "config.h"
#include "kv.h"
#include "resp.h"
#include "shard.h"

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void persist_info(struct kv_buf *b)
{
	bool on = atomic_load(&g_config.appendonly) != 0;
	int policy = atomic_load(&g_config.appendfsync);
	uint64_t size = 0, base = 0, buffer = 0, records = 0, synced = 0, fsyncs = 0, writes = 0;
	uint64_t delayed = 0, errors = 0, loaded = 0;
	int64_t now = kv_time_ms(), lag = 0, last_fsync = 0;
	int worst = AOF_OK, last_err = 0;
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct aof_info *in = &g_server.shards[i]->aof.info;
		size += LD(in->current_size);
		base += LD(in->base_size);
		buffer += LD(in->buffer_length);
		records += LD(in->records);
		synced += LD(in->records_synced);
		fsyncs += LD(in->fsyncs);
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
	const struct server_info *si = server_get_info();
	kv_buf_printf(b, "# Persistence\r\n"
		      "loading:0\r\n"
		      "async_loading:0\r\n"
		      "aof_enabled:%d\r\n"
		      "aof_rewrite_in_progress:0\r\n"
		      "aof_rewrite_scheduled:0\r\n"
		      "aof_last_rewrite_time_sec:-1\r\n"
		      "aof_current_rewrite_time_sec:-1\r\n"
		      "aof_last_bgrewrite_status:ok\r\n"
		      "aof_rewrites:0\r\n"
		      "aof_last_write_status:%s\r\n",
		      on ? 1 : 0, worst == AOF_OK ? "ok" : "err");
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
		      "aof_records_per_fsync:%.2f\r\n"
		      "aof_fsync_lag_ms:%" PRId64 "\r\n"
		      "aof_last_fsync_ms_ago:%" PRId64 "\r\n"
		      "aof_loaded_records:%" PRIu64 "\r\n"
		      "aof_load_time_ms:%" PRId64 "\r\n",
		      aof_fsync_name(policy),
		      worst == AOF_OK ? "ok" : worst == AOF_RETRYING ? "retrying" : "failed",
		      last_err ? kv_strerror(last_err) : "", errors, records, writes, fsyncs,
		      fsyncs ? (double)synced / (double)fsyncs : 0.0, lag,
		      last_fsync ? now - last_fsync : -1, loaded, si->load_us / 1000);
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct aof *a = &g_server.shards[i]->aof;
		int st = LD(a->info.state);
		kv_buf_printf(b, "aof_shard%u:status=%s,size=%" PRIu64 ",records=%" PRIu64
			      ",last_lsn=%" PRIu64 ",durable_lsn=%" PRIu64 "\r\n", i,
			      st == AOF_OK ? "ok" : st == AOF_RETRYING ? "retrying" : "failed",
			      LD(a->info.current_size), LD(a->info.records), LD(a->info.last_lsn),
			      LD(a->info.durable_lsn));
	}
}

/* WAITAOF numlocal numreplicas timeout */
static void cmd_waitaof(struct cmd_ctx *c)
{
	int64_t numlocal, numreplicas, timeout;
	if (!arg_to_int64(&c->argv[1], &numlocal) || !arg_to_int64(&c->argv[2], &numreplicas) ||
	    !arg_to_int64(&c->argv[3], &timeout)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	if (timeout < 0) {
		resp_error(c->out, "ERR timeout is negative");
		return;
	}
	bool on = atomic_load(&g_config.appendonly) != 0;
	if (numlocal > 0 && !on) {
		resp_error(c->out, "ERR WAITAOF cannot be used when numlocal is set but "
				   "appendonly is disabled.");
		return;
	}
	/* The runtime holds this reply until every shard has fsynced. */
	resp_array(c->out, 2);
	resp_int(c->out, on ? 1 : 0);
	resp_int(c->out, 0);
}

const struct kv_command cmd_table_persist[] = {
	{ "waitaof", 4, CMD_NOSCRIPT | CMD_ALL_SHARDS | CMD_WAIT_DURABLE, 0, 0, 0, cmd_waitaof,
	  NULL, NULL, "generic", "7.2.0",
	  "Blocks until all of the preceding write commands sent by the connection are written "
	  "to the append-only file of the master and/or replicas.", "O(1)", NULL },
	{ NULL },
};
