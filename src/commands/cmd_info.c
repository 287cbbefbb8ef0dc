/*
 * cmd_info.c - INFO: Redis 7.0's sections and field names, with kevy's values
 * summed over every shard (INFO is CMD_ALL_SHARDS: it holds and reads every
 * keyspace) and a few kevy_* fields of its own (docs/config.md lists them).
 * The persistence section is cmd_persist.c's; the statistics come from the
 * runtime (c->rt), which keeps them per shard.
 */
#include "commands/cmd.h"
#include "commands/cmd_info.h"
#include "commands/cmd_persist.h"
#include "commands/config.h"
#include "base/alloc.h"
#include "base/kv.h"
#include "persist/aof.h"
#include "store/lru.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Redis 7.0's sections, in its order.  "default" is every section but
 * commandstats, latencystats and modules' own; "all" and "everything" are
 * every one (kevy has no module sections, so they are the same). */
enum srv_section {
	SEC_SERVER = 1u << 0,
	SEC_CLIENTS = 1u << 1,
	SEC_MEMORY = 1u << 2,
	SEC_PERSISTENCE = 1u << 3,
	SEC_STATS = 1u << 4,
	SEC_REPLICATION = 1u << 5,
	SEC_CPU = 1u << 6,
	SEC_MODULES = 1u << 7,
	SEC_COMMANDSTATS = 1u << 8,
	SEC_ERRORSTATS = 1u << 9,
	SEC_LATENCYSTATS = 1u << 10,
	SEC_CLUSTER = 1u << 11,
	SEC_KEYSPACE = 1u << 12,
	SEC_ALL = (1u << 13) - 1,
	SEC_DEFAULT = SEC_ALL & ~(SEC_COMMANDSTATS | SEC_LATENCYSTATS),
};

static const struct {
	const char *name;
	unsigned mask;
} srv_sections[] = {
	{ "server", SEC_SERVER }, { "clients", SEC_CLIENTS }, { "memory", SEC_MEMORY },
	{ "persistence", SEC_PERSISTENCE }, { "stats", SEC_STATS },
	{ "replication", SEC_REPLICATION }, { "cpu", SEC_CPU }, { "module_list", SEC_MODULES },
	{ "modules", SEC_MODULES }, { "commandstats", SEC_COMMANDSTATS },
	{ "errorstats", SEC_ERRORSTATS }, { "latencystats", SEC_LATENCYSTATS },
	{ "cluster", SEC_CLUSTER }, { "keyspace", SEC_KEYSPACE }, { "default", SEC_DEFAULT },
	{ "all", SEC_ALL }, { "everything", SEC_ALL },
};

/* Redis's bytesToHuman(). */
static void srv_bytes_human(char *buf, size_t cap, uint64_t n)
{
	static const char units[] = "KMGTP";
	if (n < 1024) {
		snprintf(buf, cap, "%lluB", (unsigned long long)n);
		return;
	}
	double d = (double)n;
	for (int i = 0; units[i]; i++) {
		d /= 1024;
		if (d < 1024 || !units[i + 1]) {
			snprintf(buf, cap, "%.2f%c", d, units[i]);
			return;
		}
	}
}

/* Totals of every shard's counters and keyspace. */
struct srv_totals {
	uint64_t conns_received, rejected, commands, hits, misses, net_in, net_out;
	uint64_t clients, blocked, forwarded, migrated, multi_shard, chained, chain_longest, short_chains, borrowed, errors, reads, writes, evicted_clients;
	uint64_t keys, expires, expired, evicted, dataset_bytes;
};

static void srv_sum(const struct cmd_ctx *c, struct srv_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t i = 0; i < c->nshards; i++) {
		struct shard_stats *st = c->rt->stats(i);
		t->conns_received += stat_get(&st->connections_received);
		t->rejected += stat_get(&st->rejected_connections);
		t->commands += stat_get(&st->commands_processed);
		t->hits += stat_get(&st->keyspace_hits);
		t->misses += stat_get(&st->keyspace_misses);
		t->net_in += stat_get(&st->net_input_bytes);
		t->net_out += stat_get(&st->net_output_bytes);
		t->clients += stat_get(&st->connected_clients);
		t->blocked += stat_get(&st->blocked_clients);
		t->forwarded += stat_get(&st->forwarded_commands);
		t->migrated += stat_get(&st->migrated_connections);
		t->multi_shard += stat_get(&st->multi_shard_commands);
		t->chained += stat_get(&st->chained_txns);
		uint64_t longest = stat_get(&st->chain_longest);
		t->chain_longest = longest > t->chain_longest ? longest : t->chain_longest;
		t->short_chains += stat_get(&st->short_chains);
		t->borrowed += stat_get(&st->borrowed_keyspaces);
		t->errors += stat_get(&st->total_error_replies);
		t->reads += stat_get(&st->reads_processed);
		t->writes += stat_get(&st->writes_processed);
		t->evicted_clients += stat_get(&st->evicted_clients);
	}
	for (uint32_t i = 0; i < c->nshards; i++) {
		const struct kv_dbs *dbs = cmd_dbs_at(c, i);
		for (uint32_t d = 0; d < dbs->n; d++) {
			const struct kv_db *db = dbs->db[d];
			t->keys += db_size(db);
			t->expires += db_expires_count(db);
			t->expired += db_get_stats(db)->expired_keys;
			t->evicted += db_get_stats(db)->evicted_keys;
			t->dataset_bytes += db_memory_used(db);
		}
	}
}

static const char *srv_str(const char *s)
{
	return s ? s : "";
}

static void srv_info_server(const struct cmd_ctx *c, struct kv_buf *b)
{
	const struct server_info *si = c->rt->info();
	struct utsname u;
	if (uname(&u) != 0)
		memset(&u, 0, sizeof(u));
	int64_t now_us = kv_time_us();
	int64_t up_s = (kv_mono_us() - si->start_mono_us) / 1000000;
	int64_t hz = atomic_load(&g_config.hz);
	kv_buf_printf(b, "# Server\r\n"
		      "redis_version:%s\r\n"
		      "kevy_version:%s\r\n"
		      "redis_mode:standalone\r\n"
		      "os:%s %s %s\r\n"
		      "arch_bits:%d\r\n"
		      "multiplexing_api:%s\r\n",
		      KV_REDIS_COMPAT_VERSION, KV_VERSION, u.sysname, u.release, u.machine,
		      (int)(sizeof(long) * 8), srv_str(si->io_mode));
#ifdef __GNUC__
	kv_buf_printf(b, "gcc_version:%d.%d.%d\r\n", __GNUC__, __GNUC_MINOR__,
		      __GNUC_PATCHLEVEL__);
#endif
	static const char *const supervised_names[] = { "upstart", "systemd", "unknown", "no" };
	kv_buf_printf(b, "process_id:%d\r\n"
		      "process_supervised:%s\r\n"
		      "run_id:%s\r\n"
		      "tcp_port:%d\r\n"
		      "server_time_usec:%lld\r\n"
		      "uptime_in_seconds:%lld\r\n"
		      "uptime_in_days:%lld\r\n"
		      "hz:%lld\r\n"
		      "configured_hz:%lld\r\n"
		      "executable:%s\r\n"
		      "config_file:%s\r\n"
		      "io_threads_active:0\r\n"
		      "kevy_shards:%u\r\n"
		      "kevy_io_reason:%s\r\n",
		      (int)getpid(),
		      si->supervised >= 0 && si->supervised <= KV_SUPERVISED_NO
			      ? supervised_names[si->supervised] : "no",
		      si->run_id, atomic_load(&g_config.port), (long long)now_us, (long long)up_s,
		      (long long)(up_s / 86400), (long long)hz, (long long)hz,
		      srv_str(si->executable), srv_str(si->config_file), c->nshards,
		      srv_str(si->io_reason));
}

/* Client-side caching's counts (server/tracking.c); zeros without a runtime. */
static void srv_tracking_counts(const struct cmd_ctx *c, uint64_t v[4])
{
	v[0] = v[1] = v[2] = v[3] = 0;
	if (c->rt && c->rt->tracking_info)
		c->rt->tracking_info(&v[0], &v[1], &v[2], &v[3]);
}

struct srv_client_peaks {
	uint64_t in, out;
};

static void srv_client_peak(void *arg, const struct client_info *ci)
{
	struct srv_client_peaks *p = arg;
	if (ci->qbuf + ci->qbuf_free > p->in)
		p->in = ci->qbuf + ci->qbuf_free;
	if (ci->omem > p->out)
		p->out = ci->omem;
}

/* Redis 7.0's fields.  client_recent_max_*: Redis keeps the peak of the
 * last seconds; kevy reports the largest buffers of the clients connected
 * now.  kevy has no cluster bus and keeps a blocked client's deadline
 * with its ticket rather than in a timeout table, so those two are 0
 * (docs/compatibility.md). */
static void srv_info_clients(const struct cmd_ctx *c, struct kv_buf *b,
			     const struct srv_totals *t)
{
	struct srv_client_peaks p = { 0, 0 };
	c->rt->clients_foreach(srv_client_peak, &p);
	uint64_t trk[4];
	srv_tracking_counts(c, trk);
	kv_buf_printf(b, "# Clients\r\n"
		      "connected_clients:%llu\r\n"
		      "cluster_connections:0\r\n"
		      "maxclients:%lld\r\n"
		      "client_recent_max_input_buffer:%llu\r\n"
		      "client_recent_max_output_buffer:%llu\r\n"
		      "blocked_clients:%llu\r\n"
		      "tracking_clients:%llu\r\n"
		      "clients_in_timeout_table:0\r\n",
		      (unsigned long long)t->clients, (long long)atomic_load(&g_config.maxclients),
		      (unsigned long long)p.in, (unsigned long long)p.out,
		      (unsigned long long)t->blocked, (unsigned long long)trk[0]);
}

/* Resident set size from /proc/self/statm (pages). */
static uint64_t srv_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size = 0, resident = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Bytes the process has allocated (the allocator's count: jemalloc's
 * stats.allocated, glibc's in-use bytes), the closest match to Redis's
 * used_memory; falls back to the keyspace's own count where the allocator
 * cannot say (sanitizer builds). */
uint64_t info_heap_bytes(uint64_t fallback)
{
	struct kv_alloc_counts n;
	return kv_alloc_counts(&n) == 0 ? n.allocated : fallback;
}

/* The highest used_memory INFO or MEMORY has seen (kevy samples the heap
 * only when asked: reading the allocator's counts is not free). */
static _Atomic uint64_t srv_peak_bytes;

static uint64_t srv_heap_sample(uint64_t used, uint64_t *peak)
{
	uint64_t old = atomic_load_explicit(&srv_peak_bytes, memory_order_relaxed);
	while (used > old &&
	       !atomic_compare_exchange_weak_explicit(&srv_peak_bytes, &old, used,
						      memory_order_relaxed, memory_order_relaxed))
		;
	*peak = used > old ? used : old;
	return used;
}

struct srv_memory {
	uint64_t used, peak, rss, dataset, keys, clients, aof_buffer, lua, functions, overhead;
	uint64_t active, resident; /* the allocator's pages (kv_alloc_counts) */
};
static void srv_memory_sum(const struct cmd_ctx *c, struct srv_memory *m);

/* Redis 7.0's fields, in its order.  The allocator_* fields are jemalloc's
 * counts (allocated, active, resident) and the ratios between them, as
 * Redis computes them; with glibc, which has no page counts, active is the
 * heap and resident the RSS.  The fields of things kevy does not have
 * (replication buffers, cluster links, active defrag, lazy free) are 0
 * (docs/compatibility.md). */
static void srv_info_memory(const struct cmd_ctx *c, struct kv_buf *b,
			    const struct srv_totals *t)
{
	char used_h[32], rss_h[32], sys_h[32], max_h[32], peak_h[32];
	uint64_t maxmem = (uint64_t)atomic_load_explicit(&kv_memory.maxmemory,
							 memory_order_relaxed);
	unsigned policy = (unsigned)kv_memory_policy();
	struct srv_memory m;
	srv_memory_sum(c, &m);
	uint64_t used = m.used, peak = m.peak, rss = m.rss;
	uint64_t startup = c->rt->info()->startup_memory;
	srv_bytes_human(peak_h, sizeof(peak_h), peak);
	struct sysinfo si;
	uint64_t sys = sysinfo(&si) == 0 ? (uint64_t)si.totalram * si.mem_unit : 0;
	srv_bytes_human(used_h, sizeof(used_h), used);
	srv_bytes_human(rss_h, sizeof(rss_h), rss);
	srv_bytes_human(sys_h, sizeof(sys_h), sys);
	srv_bytes_human(max_h, sizeof(max_h), maxmem);
	kv_buf_printf(b, "# Memory\r\n"
		      "used_memory:%llu\r\n"
		      "used_memory_human:%s\r\n"
		      "used_memory_rss:%llu\r\n"
		      "used_memory_rss_human:%s\r\n"
		      "used_memory_peak:%llu\r\n"
		      "used_memory_peak_human:%s\r\n"
		      "used_memory_peak_perc:%.2f%%\r\n"
		      "used_memory_overhead:%llu\r\n"
		      "used_memory_startup:%llu\r\n"
		      "used_memory_dataset:%llu\r\n"
		      "used_memory_dataset_perc:%.2f%%\r\n"
		      "allocator_allocated:%llu\r\n"
		      "allocator_active:%llu\r\n"
		      "allocator_resident:%llu\r\n"
		      "total_system_memory:%llu\r\n"
		      "total_system_memory_human:%s\r\n",
		      (unsigned long long)used, used_h, (unsigned long long)rss, rss_h,
		      (unsigned long long)peak, peak_h,
		      peak ? (double)used * 100.0 / (double)peak : 0.0,
		      (unsigned long long)m.overhead, (unsigned long long)startup,
		      (unsigned long long)t->dataset_bytes,
		      used ? (double)t->dataset_bytes * 100.0 / (double)used : 0.0,
		      (unsigned long long)used, (unsigned long long)m.active,
		      (unsigned long long)m.resident, (unsigned long long)sys, sys_h);
	uint64_t lua = 0, flua = 0, nscripts = 0, sbytes = 0;
	if (c->rt && c->rt->script_memory)
		c->rt->script_memory(&lua, &flua, &nscripts, &sbytes);
	char lua_h[32], vm_h[32], scripts_h[32];
	srv_bytes_human(lua_h, sizeof(lua_h), lua);
	srv_bytes_human(vm_h, sizeof(vm_h), lua + flua);
	srv_bytes_human(scripts_h, sizeof(scripts_h), sbytes);
	kv_buf_printf(b, "used_memory_lua:%llu\r\n"
		      "used_memory_lua_human:%s\r\n"
		      "used_memory_vm_eval:%llu\r\n"
		      "used_memory_vm_functions:%llu\r\n"
		      "used_memory_vm_total:%llu\r\n"
		      "used_memory_vm_total_human:%s\r\n"
		      "used_memory_scripts_eval:%llu\r\n"
		      "number_of_cached_scripts:%llu\r\n"
		      "used_memory_scripts:%llu\r\n"
		      "used_memory_scripts_human:%s\r\n",
		      (unsigned long long)lua, lua_h, (unsigned long long)lua,
		      (unsigned long long)flua, (unsigned long long)(lua + flua), vm_h,
		      (unsigned long long)sbytes, (unsigned long long)nscripts,
		      (unsigned long long)sbytes, scripts_h);
	long long frag_bytes = (long long)rss - (long long)used;
	long long afrag = (long long)m.active - (long long)used;
	long long arss = (long long)m.resident - (long long)m.active;
	long long rover = (long long)rss - (long long)m.resident;
	kv_buf_printf(b, "maxmemory:%llu\r\n"
		      "maxmemory_human:%s\r\n"
		      "maxmemory_policy:%s\r\n"
		      "allocator_frag_ratio:%.2f\r\n"
		      "allocator_frag_bytes:%lld\r\n"
		      "allocator_rss_ratio:%.2f\r\n"
		      "allocator_rss_bytes:%lld\r\n"
		      "rss_overhead_ratio:%.2f\r\n"
		      "rss_overhead_bytes:%lld\r\n"
		      "mem_fragmentation_ratio:%.2f\r\n"
		      "mem_fragmentation_bytes:%lld\r\n"
		      "mem_not_counted_for_evict:0\r\n"
		      "mem_replication_backlog:0\r\n"
		      "mem_total_replication_buffers:0\r\n"
		      "mem_clients_slaves:0\r\n"
		      "mem_clients_normal:%llu\r\n"
		      "mem_cluster_links:0\r\n"
		      "mem_aof_buffer:%llu\r\n"
		      "mem_allocator:%s\r\n"
		      "active_defrag_running:0\r\n"
		      "lazyfree_pending_objects:0\r\n"
		      "lazyfreed_objects:0\r\n",
		      (unsigned long long)maxmem, max_h,
		      policy <= EVICT_NOEVICTION ? evict_policy_names[policy] : "noeviction",
		      used ? (double)m.active / (double)used : 0.0, afrag,
		      m.active ? (double)m.resident / (double)m.active : 0.0, arss,
		      m.resident ? (double)rss / (double)m.resident : 0.0, rover,
		      used ? (double)rss / (double)used : 0.0, frag_bytes,
		      (unsigned long long)m.clients, (unsigned long long)m.aof_buffer, kv_alloc_name());
}

/* Redis 7.0's fields in its order.  The replication traffic, fork,
 * defrag, MIGRATE and io-thread counters are 0: kevy has none of those
 * mechanisms (docs/compatibility.md). */
static void srv_info_stats(const struct cmd_ctx *c, struct kv_buf *b, const struct srv_totals *t)
{
	uint64_t channels = 0, patterns = 0, schannels = 0;
	if (c->rt->pubsub_counts)
		c->rt->pubsub_counts(c, &channels, &patterns, &schannels);
	uint64_t trk[4];
	srv_tracking_counts(c, trk);
	struct repl_status repl;
	c->rt->repl_status(&repl);
	kv_buf_printf(b, "# Stats\r\n"
		      "total_connections_received:%llu\r\n"
		      "total_commands_processed:%llu\r\n"
		      "instantaneous_ops_per_sec:%lld\r\n"
		      "total_net_input_bytes:%llu\r\n"
		      "total_net_output_bytes:%llu\r\n"
		      "total_net_repl_input_bytes:0\r\n"
		      "total_net_repl_output_bytes:0\r\n"
		      "instantaneous_input_kbps:%.2f\r\n"
		      "instantaneous_output_kbps:%.2f\r\n"
		      "instantaneous_input_repl_kbps:0.00\r\n"
		      "instantaneous_output_repl_kbps:0.00\r\n"
		      "rejected_connections:%llu\r\n"
		      "sync_full:%llu\r\n"
		      "sync_partial_ok:%llu\r\n"
		      "sync_partial_err:%llu\r\n"
		      "expired_keys:%llu\r\n"
		      "expired_stale_perc:0.00\r\n"
		      "expired_time_cap_reached_count:0\r\n"
		      "evicted_keys:%llu\r\n"
		      "evicted_clients:%llu\r\n"
		      "evicted_scripts:%llu\r\n"
		      "keyspace_hits:%llu\r\n"
		      "keyspace_misses:%llu\r\n"
		      "pubsub_channels:%llu\r\n"
		      "pubsub_patterns:%llu\r\n"
		      "pubsubshard_channels:%llu\r\n"
		      "latest_fork_usec:0\r\n"
		      "total_forks:0\r\n"
		      "migrate_cached_sockets:0\r\n"
		      "slave_expires_tracked_keys:0\r\n"
		      "active_defrag_hits:0\r\n"
		      "active_defrag_misses:0\r\n"
		      "active_defrag_key_hits:0\r\n"
		      "active_defrag_key_misses:0\r\n"
		      "tracking_total_keys:%llu\r\n"
		      "tracking_total_items:%llu\r\n"
		      "tracking_total_prefixes:%llu\r\n"
		      "unexpected_error_replies:0\r\n"
		      "total_error_replies:%llu\r\n"
		      "dump_payload_sanitizations:0\r\n"
		      "total_reads_processed:%llu\r\n"
		      "total_writes_processed:%llu\r\n"
		      "io_threaded_reads_processed:0\r\n"
		      "io_threaded_writes_processed:0\r\n"
		      "kevy_forwarded_commands:%llu\r\n"
		      "kevy_multi_shard_commands:%llu\r\n"
		      "kevy_chained_commands:%llu\r\n"
		      "kevy_chain_longest:%llu\r\n"
		      "kevy_short_chains:%llu\r\n"
		      "kevy_borrowed_keyspaces:%llu\r\n"
		      "kevy_migrated_connections:%llu\r\n",
		      (unsigned long long)t->conns_received, (unsigned long long)t->commands,
		      (long long)stat_inst_ops_per_sec(),
		      (unsigned long long)t->net_in, (unsigned long long)t->net_out,
		      stat_inst_input_kbps(), stat_inst_output_kbps(),
		      (unsigned long long)t->rejected, (unsigned long long)repl.sync_full,
		      (unsigned long long)repl.sync_partial_ok,
		      (unsigned long long)repl.sync_partial_err, (unsigned long long)t->expired,
		      (unsigned long long)t->evicted, (unsigned long long)t->evicted_clients,
		      (unsigned long long)(c->rt->scripts_evicted ? c->rt->scripts_evicted() : 0),
		      (unsigned long long)t->hits, (unsigned long long)t->misses,
		      (unsigned long long)channels, (unsigned long long)patterns,
		      (unsigned long long)schannels,
		      (unsigned long long)trk[1], (unsigned long long)trk[2],
		      (unsigned long long)trk[3], (unsigned long long)t->errors,
		      (unsigned long long)t->reads, (unsigned long long)t->writes,
		      (unsigned long long)t->forwarded,
		      (unsigned long long)t->multi_shard, (unsigned long long)t->chained,
		      (unsigned long long)t->chain_longest, (unsigned long long)t->short_chains,
		      (unsigned long long)t->borrowed, (unsigned long long)t->migrated);
}

struct info_replicas {
	struct kv_buf lines;
	uint32_t n;
	uint32_t good;      /* online, acknowledged within min-replicas-max-lag */
	int64_t max_lag;
};

static void info_replica(void *arg, const struct replica_info *ri)
{
	struct info_replicas *r = arg;
	if (strcmp(ri->state, "online") == 0 && ri->lag_s <= r->max_lag)
		r->good++;
	kv_buf_printf(&r->lines, "slave%u:ip=%s,port=%" PRId64 ",state=%s,offset=%" PRIu64
		      ",lag=%" PRId64 "\r\n", r->n, ri->ip, ri->port, ri->state, ri->offset, ri->lag_s);
	r->n++;
}

/* What a Redis 7.0 master shows, with the replicas the shards' links
 * serve (docs/replication.md).  Its offset is real (persist_repl_offset:
 * durable LSNs summed over shards).  kevy's backlog is its files, not a
 * memory buffer: it is shown inactive and empty, its size the
 * repl-backlog-size default. */
static void srv_info_replication(const struct cmd_ctx *c, struct kv_buf *b)
{
	struct info_replicas r = { .lines = KV_BUF_INIT,
				   .max_lag = atomic_load(&g_config.min_replicas_max_lag) };
	struct repl_status st;
	c->rt->repl_status(&st);
	c->rt->replicas_foreach(info_replica, &r);
	uint64_t offset = persist_repl_offset(c);
	const char *replid = c->rt->info()->replid;
	if (st.replica) {
		/* A replica (server/replica.c): Redis 7.0's fields; its offset
		 * is what it applied, in the primary's units. */
		offset = st.offset;
		if (st.replid[0])
			replid = st.replid;
		kv_buf_printf(b, "# Replication\r\n"
			      "role:slave\r\n"
			      "master_host:%s\r\n"
			      "master_port:%" PRId64 "\r\n"
			      "master_link_status:%s\r\n"
			      "master_last_io_seconds_ago:%" PRId64 "\r\n"
			      "master_sync_in_progress:%d\r\n"
			      "slave_read_repl_offset:%" PRIu64 "\r\n"
			      "slave_repl_offset:%" PRIu64 "\r\n",
			      st.host, st.port, st.link_up ? "up" : "down", st.last_io_s,
			      st.sync_in_progress ? 1 : 0, st.offset, st.offset);
		if (!st.link_up)
			kv_buf_printf(b, "master_link_down_since_seconds:%" PRId64 "\r\n",
				      st.down_since_s);
		kv_buf_printf(b, "slave_priority:%" PRId64 "\r\n"
			      "slave_read_only:1\r\n"
			      "replica_announced:%d\r\n",
			      atomic_load(&g_config.replica_priority),
			      atomic_load(&g_config.replica_announced) ? 1 : 0);
	} else {
		kv_buf_printf(b, "# Replication\r\n"
			      "role:master\r\n");
	}
	kv_buf_printf(b, "connected_slaves:%u\r\n", r.n);
	if (!st.replica && atomic_load(&g_config.min_replicas_to_write) && r.max_lag)
		kv_buf_printf(b, "min_slaves_good_slaves:%u\r\n", r.good);
	kv_buf_append(b, r.lines.data, r.lines.len);
	kv_buf_free(&r.lines);
	kv_buf_printf(b, "master_failover_state:no-failover\r\n"
		      "master_replid:%s\r\n"
		      "master_replid2:%s\r\n"
		      "master_repl_offset:%" PRIu64 "\r\n"
		      "second_repl_offset:%" PRId64 "\r\n"
		      "repl_backlog_active:0\r\n"
		      "repl_backlog_size:%" PRId64 "\r\n"
		      "repl_backlog_first_byte_offset:0\r\n"
		      "repl_backlog_histlen:0\r\n",
		      replid, st.replid2, offset, st.second_offset,
		      atomic_load(&g_config.repl_backlog_size));
}

static void srv_info_cpu(struct kv_buf *b)
{
	struct rusage ru, ch, th;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		memset(&ru, 0, sizeof(ru));
	/* kevy forks no children (snapshots are taken in the shards): zeros,
	 * but the fields are there as in Redis. */
	if (getrusage(RUSAGE_CHILDREN, &ch) != 0)
		memset(&ch, 0, sizeof(ch));
	/* Redis's main thread is the one running INFO: here, this shard's. */
	if (getrusage(RUSAGE_THREAD, &th) != 0)
		memset(&th, 0, sizeof(th));
	kv_buf_printf(b, "# CPU\r\n"
		      "used_cpu_sys:%ld.%06ld\r\n"
		      "used_cpu_user:%ld.%06ld\r\n"
		      "used_cpu_sys_children:%ld.%06ld\r\n"
		      "used_cpu_user_children:%ld.%06ld\r\n"
		      "used_cpu_sys_main_thread:%ld.%06ld\r\n"
		      "used_cpu_user_main_thread:%ld.%06ld\r\n",
		      (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
		      (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
		      (long)ch.ru_stime.tv_sec, (long)ch.ru_stime.tv_usec,
		      (long)ch.ru_utime.tv_sec, (long)ch.ru_utime.tv_usec,
		      (long)th.ru_stime.tv_sec, (long)th.ru_stime.tv_usec,
		      (long)th.ru_utime.tv_sec, (long)th.ru_utime.tv_usec);
}

/* Redis's getSafeInfoString: INFO's separators cannot appear in a name. */
static void srv_append_safe(struct kv_buf *b, const char *s)
{
	for (; *s; s++)
		kv_buf_append_char(b, strchr("#:\n\r", *s) ? '_' : *s);
}

/* Every command and subcommand that was called, rejected or failed, with
 * every shard's counters summed (a forwarded command counts once, on the
 * shard that ran it). */
static void srv_info_commandstats(const struct cmd_ctx *c, struct kv_buf *b)
{
	kv_buf_append_str(b, "# Commandstats\r\n");
	uint32_t n = cmd_stat_count();
	for (uint32_t id = 0; id < n; id++) {
		uint64_t calls = 0, ticks = 0, rejected = 0, failed = 0;
		for (uint32_t i = 0; i < c->nshards; i++) {
			struct cmd_stat *cs = c->rt->stats(i)->cmds;
			if (!cs)
				continue;
			calls += stat_get(&cs[id].calls);
			ticks += stat_get(&cs[id].ticks);
			rejected += stat_get(&cs[id].rejected);
			failed += stat_get(&cs[id].failed);
		}
		if (!calls && !rejected && !failed)
			continue;
		double usec = kv_ticks_to_ns(ticks) / 1000.0;
		kv_buf_append_str(b, "cmdstat_");
		srv_append_safe(b, cmd_stat_at(id)->name);
		kv_buf_printf(b, ":calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
			      "failed_calls=%llu\r\n",
			      (unsigned long long)calls, (unsigned long long)usec,
			      calls ? usec / (double)calls : 0.0,
			      (unsigned long long)rejected, (unsigned long long)failed);
	}
}

/* Every command's duration percentiles (latency-tracking-info-percentiles)
 * from the histograms of every shard, in µs as Redis prints them: only
 * while latency-tracking is on, and only commands with calls. */
static void srv_info_latencystats(const struct cmd_ctx *c, struct kv_buf *b)
{
	kv_buf_append_str(b, "# Latencystats\r\n");
	if (!atomic_load_explicit(&lat_tracking, memory_order_relaxed))
		return;
	double pct[16];
	int npct = config_latency_percentiles(pct, 16);
	uint64_t *sum = kv_malloc(sizeof(uint64_t) * LAT_HIST_BUCKETS);
	for (uint32_t id = 0; id < cmd_stat_count(); id++) {
		memset(sum, 0, sizeof(uint64_t) * LAT_HIST_BUCKETS);
		uint64_t total = 0;
		for (uint32_t i = 0; i < c->nshards; i++) {
			struct cmd_stat *cs = c->rt->stats(i)->cmds;
			struct lat_hist *h = cs ? atomic_load_explicit(&cs[id].hist,
								       memory_order_acquire) : NULL;
			if (h)
				total += lat_hist_merge(sum, h);
		}
		if (!total)
			continue;
		kv_buf_append_str(b, "latency_percentiles_usec_");
		srv_append_safe(b, cmd_stat_at(id)->name);
		kv_buf_append_char(b, ':');
		for (int j = 0; j < npct; j++) {
			char t[64];
			int len = snprintf(t, sizeof(t), "%f", pct[j]);
			while (len > 1 && t[len - 1] == '0')
				len--;
			if (t[len - 1] == '.')
				len--;
			kv_buf_printf(b, "%sp%.*s=%.3f", j ? "," : "", len, t,
				      (double)lat_hist_percentile(sum, total, pct[j]) / 1000.0);
		}
		kv_buf_append_str(b, "\r\n");
	}
	free(sum);
}

struct srv_err_total {
	char name[ERR_STAT_NAME_MAX];
	uint64_t count;
};

static int srv_err_cmp(const void *a, const void *b)
{
	return strcmp(((const struct srv_err_total *)a)->name,
		      ((const struct srv_err_total *)b)->name);
}

/* Error replies by prefix, summed over the shards, in byte order (Redis
 * walks a radix tree); prefixes whose count is 0 (after RESETSTAT) are not
 * shown, as Redis forgets them. */
static void srv_info_errorstats(const struct cmd_ctx *c, struct kv_buf *b)
{
	kv_buf_append_str(b, "# Errorstats\r\n");
	size_t cap = (size_t)c->nshards * ERR_STATS_MAX, n = 0;
	struct srv_err_total *t = kv_calloc(cap, sizeof(*t));
	for (uint32_t i = 0; i < c->nshards; i++) {
		struct err_stats *es = &c->rt->stats(i)->errors;
		uint32_t m = atomic_load_explicit(&es->n, memory_order_acquire);
		for (uint32_t k = 0; k < m; k++) {
			size_t j = 0;
			while (j < n && strcmp(t[j].name, es->e[k].name) != 0)
				j++;
			if (j == n)
				memcpy(t[n++].name, es->e[k].name, ERR_STAT_NAME_MAX);
			t[j].count += stat_get(&es->e[k].count);
		}
	}
	qsort(t, n, sizeof(*t), srv_err_cmp);
	for (size_t j = 0; j < n; j++) {
		if (!t[j].count)
			continue;
		kv_buf_append_str(b, "errorstat_");
		srv_append_safe(b, t[j].name);
		kv_buf_printf(b, ":count=%llu\r\n", (unsigned long long)t[j].count);
	}
	free(t);
}

/* avg_ttl: Redis estimates it from the keys its expiry cycle samples;
 * kevy samples up to 64 keys with a deadline per shard when INFO asks,
 * weighted by each shard's count of such keys. */
#define SRV_TTL_SAMPLES 64
static void srv_info_keyspace(struct kv_buf *b, const struct cmd_ctx *c)
{
	kv_buf_append_str(b, "# Keyspace\r\n");
	uint32_t ndb = cmd_dbs_at(c, 0)->n;
	for (uint32_t d = 0; d < ndb; d++) {
		uint64_t keys = 0, expires = 0;
		double ttl_sum = 0;
		for (uint32_t i = 0; i < c->nshards; i++) {
			const struct kv_db *db = cmd_dbs_at(c, i)->db[d];
			keys += db_size(db);
			uint64_t e = db_expires_count(db);
			expires += e;
			if (e)
				ttl_sum += (double)db_avg_ttl_ms(db, c->now_ms, SRV_TTL_SAMPLES) * (double)e;
		}
		if (keys > 0)
			kv_buf_printf(b, "db%u:keys=%llu,expires=%llu,avg_ttl=%lld\r\n", d,
				      (unsigned long long)keys, (unsigned long long)expires,
				      expires ? (long long)(ttl_sum / (double)expires) : 0LL);
	}
}

/* Section names are case-insensitive; unknown ones are ignored, as in
 * Redis. */
static unsigned srv_info_sections(const struct cmd_ctx *c)
{
	if (c->argc == 1)
		return SEC_DEFAULT;
	unsigned mask = 0;
	for (int i = 1; i < c->argc; i++)
		for (size_t s = 0; s < KV_ARRAY_LEN(srv_sections); s++)
			if (arg_is(&c->argv[i], srv_sections[s].name))
				mask |= srv_sections[s].mask;
	return mask;
}

/* INFO [section ...]: sections in Redis's order, each once, separated by a
 * blank line. */
static void cmd_info(struct cmd_ctx *c)
{
	unsigned mask = srv_info_sections(c);
	struct srv_totals t;
	srv_sum(c, &t);
	struct kv_buf b = KV_BUF_INIT;
	for (unsigned bit = 1; bit & SEC_ALL; bit <<= 1) {
		if (!(mask & bit))
			continue;
		if (b.len)
			kv_buf_append_str(&b, "\r\n");
		switch (bit) {
		case SEC_SERVER: srv_info_server(c, &b); break;
		case SEC_CLIENTS: srv_info_clients(c, &b, &t); break;
		case SEC_MEMORY: srv_info_memory(c, &b, &t); break;
		case SEC_PERSISTENCE: persist_info(c, &b); break;
		case SEC_STATS: srv_info_stats(c, &b, &t); break;
		case SEC_REPLICATION: srv_info_replication(c, &b); break;
		case SEC_CPU: srv_info_cpu(&b); break;
		case SEC_MODULES: kv_buf_append_str(&b, "# Modules\r\n"); break;
		case SEC_COMMANDSTATS: srv_info_commandstats(c, &b); break;
		case SEC_ERRORSTATS: srv_info_errorstats(c, &b); break;
		case SEC_LATENCYSTATS: srv_info_latencystats(c, &b); break;
		case SEC_CLUSTER: kv_buf_append_str(&b, "# Cluster\r\ncluster_enabled:0\r\n"); break;
		case SEC_KEYSPACE: srv_info_keyspace(&b, c); break;
		}
	}
	resp_verbatim(c->out, "txt", b.data ? b.data : "", b.len);
	kv_buf_free(&b);
}

/* ---- MEMORY STATS, DOCTOR, MALLOC-STATS, PURGE ---- */

static void srv_client_mem(void *arg, const struct client_info *ci)
{
	*(uint64_t *)arg += ci->tot_mem;
}

static void srv_memory_sum(const struct cmd_ctx *c, struct srv_memory *m)
{
	struct srv_totals t;
	srv_sum(c, &t);
	memset(m, 0, sizeof(*m));
	struct kv_alloc_counts ac;
	m->rss = srv_rss_bytes();
	if (kv_alloc_counts(&ac) != 0)   /* no counts (resident 0): the keyspace's */
		ac.allocated = ac.active = t.dataset_bytes;
	m->used = srv_heap_sample(ac.allocated, &m->peak);
	m->active = ac.active;
	m->resident = ac.resident ? ac.resident : m->rss;
	m->keys = t.keys;
	c->rt->clients_foreach(srv_client_mem, &m->clients);
	for (uint32_t i = 0; i < c->nshards; i++) {
		struct aof *a = c->rt->aof(i);
		if (a)
			m->aof_buffer += atomic_load_explicit(&a->info.buffer_length,
							      memory_order_relaxed);
	}
	uint64_t nscripts = 0, sbytes = 0;
	if (c->rt->script_memory)
		c->rt->script_memory(&m->lua, &m->functions, &nscripts, &sbytes);
	/* What is not the keyspace's entries and values: the tables. */
	for (uint32_t i = 0; i < c->nshards; i++) {
		const struct kv_dbs *dbs = cmd_dbs_at(c, i);
		for (uint32_t d = 0; d < dbs->n; d++) {
			size_t main, exp;
			db_memory_overhead(dbs->db[d], &main, &exp);
			m->overhead += main + exp;
		}
	}
	m->dataset = t.dataset_bytes > m->overhead ? t.dataset_bytes - m->overhead : 0;
	m->overhead += m->clients + m->aof_buffer + m->lua + m->functions;
}

static void srv_stat(struct kv_buf *out, const char *name, uint64_t v)
{
	resp_bulk_str(out, name);
	resp_int(out, (int64_t)v);
}

static void srv_stat_double(struct kv_buf *out, const char *name, double v)
{
	resp_bulk_str(out, name);
	resp_double(out, v);
}

/* MEMORY STATS: Redis 7.0's fields, in its order, from what kevy counts:
 * the allocator's counts (as INFO's used_memory and allocator_*), the
 * keyspace's own accounting, clients' buffers, the AOF's unwritten bytes,
 * the Lua heaps.  kevy has no replication backlog or cluster: those fields
 * are 0. */
void cmd_memory_stats(struct cmd_ctx *c)
{
	struct srv_memory m;
	srv_memory_sum(c, &m);
	uint32_t ndb = cmd_dbs_at(c, 0)->n, shown = 0;
	for (uint32_t d = 0; d < ndb; d++) {
		uint64_t keys = 0;
		for (uint32_t i = 0; i < c->nshards; i++)
			keys += db_size(cmd_dbs_at(c, i)->db[d]);
		shown += keys > 0 || d == 0;
	}
	struct kv_buf *o = c->out;
	resp_map(o, 27 + shown);
	srv_stat(o, "peak.allocated", m.peak);
	srv_stat(o, "total.allocated", m.used);
	srv_stat(o, "startup.allocated", c->rt->info()->startup_memory);
	srv_stat(o, "replication.backlog", 0);
	srv_stat(o, "clients.slaves", 0);
	srv_stat(o, "clients.normal", m.clients);
	srv_stat(o, "cluster.links", 0);
	srv_stat(o, "aof.buffer", m.aof_buffer);
	srv_stat(o, "lua.caches", m.lua);
	srv_stat(o, "functions.caches", m.functions);
	for (uint32_t d = 0; d < ndb; d++) {
		size_t main = 0, exp = 0;
		uint64_t keys = 0;
		for (uint32_t i = 0; i < c->nshards; i++) {
			size_t a, b;
			db_memory_overhead(cmd_dbs_at(c, i)->db[d], &a, &b);
			main += a;
			exp += b;
			keys += db_size(cmd_dbs_at(c, i)->db[d]);
		}
		if (!keys && d != 0)
			continue;
		char name[32];
		snprintf(name, sizeof(name), "db.%u", d);
		resp_bulk_str(o, name);
		resp_map(o, 3);
		srv_stat(o, "overhead.hashtable.main", main);
		srv_stat(o, "overhead.hashtable.expires", exp);
		srv_stat(o, "overhead.hashtable.slot-to-keys", 0);
	}
	srv_stat(o, "overhead.total", m.overhead);
	srv_stat(o, "keys.count", m.keys);
	srv_stat(o, "keys.bytes-per-key", m.keys ? m.dataset / m.keys : 0);
	srv_stat(o, "dataset.bytes", m.dataset);
	srv_stat_double(o, "dataset.percentage",
			m.used ? (double)m.dataset * 100.0 / (double)m.used : 0.0);
	srv_stat_double(o, "peak.percentage", m.peak ? (double)m.used * 100.0 / (double)m.peak : 0.0);
	srv_stat(o, "allocator.allocated", m.used);
	srv_stat(o, "allocator.active", m.active);
	srv_stat(o, "allocator.resident", m.resident);
	srv_stat_double(o, "allocator-fragmentation.ratio",
			m.used ? (double)m.active / (double)m.used : 0.0);
	srv_stat(o, "allocator-fragmentation.bytes", m.active > m.used ? m.active - m.used : 0);
	srv_stat_double(o, "allocator-rss.ratio",
			m.active ? (double)m.resident / (double)m.active : 0.0);
	srv_stat(o, "allocator-rss.bytes", m.resident > m.active ? m.resident - m.active : 0);
	srv_stat_double(o, "rss-overhead.ratio",
			m.resident ? (double)m.rss / (double)m.resident : 0.0);
	srv_stat(o, "rss-overhead.bytes", m.rss > m.resident ? m.rss - m.resident : 0);
	srv_stat_double(o, "fragmentation", m.used ? (double)m.rss / (double)m.used : 0.0);
	srv_stat(o, "fragmentation.bytes", m.rss > m.used ? m.rss - m.used : 0);
}

/* MEMORY DOCTOR: kevy's own short report on what MEMORY STATS shows. */
void cmd_memory_doctor(struct cmd_ctx *c)
{
	struct srv_memory m;
	srv_memory_sum(c, &m);
	struct kv_buf b = KV_BUF_INIT;
	int issues = 0;
	if (m.used < (5u << 20)) {
		kv_buf_append_str(&b, "The instance uses less than 5 MB of memory: nothing to "
				      "diagnose at this size.\n");
	} else {
		if (m.peak > m.used + m.used / 2) {
			kv_buf_printf(&b, "* Peak memory: the heap once reached %llu bytes, over 150%% "
				      "of the %llu in use now; the RSS may stay high after a peak.\n",
				      (unsigned long long)m.peak, (unsigned long long)m.used);
			issues++;
		}
		if (m.rss > m.used * 14 / 10) {
			kv_buf_printf(&b, "* High fragmentation: the process holds %.2f times the "
				      "bytes it allocated; MEMORY PURGE returns free pages to the "
				      "system.\n", (double)m.rss / (double)m.used);
			issues++;
		}
		if (m.keys && m.dataset / m.keys > 0 && m.clients > m.dataset) {
			kv_buf_append_str(&b, "* Clients' buffers hold more memory than the "
					      "keyspace: check CLIENT LIST's omem and qbuf.\n");
			issues++;
		}
		if (!issues)
			kv_buf_append_str(&b, "No memory problem found.\n");
	}
	resp_verbatim(c->out, "txt", b.data, b.len);
	kv_buf_free(&b);
}

/* MEMORY MALLOC-STATS: the allocator's own report (jemalloc's
 * malloc_stats_print, glibc's malloc_info XML), else Redis's answer for an
 * allocator without statistics. */
void cmd_memory_malloc_stats(struct cmd_ctx *c)
{
	struct kv_buf b = KV_BUF_INIT;
	if (kv_alloc_report(&b) == 0) {
		resp_verbatim(c->out, "txt", b.data, b.len);
	} else {
		const char *msg = "Stats not supported for the current allocator";
		resp_verbatim(c->out, "txt", msg, strlen(msg));
	}
	kv_buf_free(&b);
}

/* MEMORY PURGE: give free heap pages back to the system. */
void cmd_memory_purge(struct cmd_ctx *c)
{
	kv_alloc_purge();
	resp_ok(c->out);
}

const struct kv_command cmd_table_info[] = {
	{ .name = "info", .arity = -1,
	  .flags = CMD_LOADING | CMD_STALE | CMD_RANDOM | CMD_ALL_SHARDS, .proc = cmd_info,
	  .group = "server", .since = "1.0.0",
	  .summary = "Get information and statistics about the server", .complexity = "O(1)" },
	{ NULL },
};
