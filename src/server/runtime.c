/*
 * runtime.c - the runtime's services to command handlers
 * (commands/runtime.h): statistics, the shards' AOF and snapshot state, the
 * client registry (CLIENT LIST/KILL/INFO), the calling client, shutdown.
 * Handlers reach them only through c->rt, which shard.c sets to
 * server_runtime; nothing here runs a command.
 *
 * The client registry is read across shards under each shard's
 * clients_lock; everything else is atomics or the shard's own thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "commands/acl.h"
#include "base/kv.h"
#include "commands/runtime.h"
#include "persist/aof.h"
#include "persist/snapshot.h"
#include "server/script.h"
#include "server/server.h"
#include "server/shard.h"

static struct shard_stats *rt_stats(uint32_t id)
{
	kv_assert(id < g_server.nshards);
	return &g_server.shards[id]->stats;
}

static void rt_reset_stats(void)
{
	/* Counters are single-writer; a reset races with increments by design,
	 * as CONFIG RESETSTAT does in Redis between event loop iterations. */
	script_reset_stats();
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard_stats *st = &g_server.shards[i]->stats;
		atomic_store(&st->connections_received, 0);
		atomic_store(&st->rejected_connections, 0);
		atomic_store(&st->commands_processed, 0);
		atomic_store(&st->keyspace_hits, 0);
		atomic_store(&st->keyspace_misses, 0);
		atomic_store(&st->net_input_bytes, 0);
		atomic_store(&st->net_output_bytes, 0);
		atomic_store(&st->forwarded_commands, 0);
		atomic_store(&st->migrated_connections, 0);
		atomic_store(&st->multi_shard_commands, 0);
		atomic_store(&st->chained_txns, 0);
		atomic_store(&st->chain_longest, 0);
		atomic_store(&st->short_chains, 0);
		atomic_store(&st->borrowed_keyspaces, 0);
		atomic_store(&st->total_error_replies, 0);
		atomic_store(&st->reads_processed, 0);
		atomic_store(&st->writes_processed, 0);
		/* Each counter is zeroed, not the tables: error names stay
		 * (INFO shows only counts above 0), so the owner thread, which
		 * may be adding one right now, never sees its entry vanish. */
		for (uint32_t k = 0; st->cmds && k < cmd_stat_count(); k++) {
			atomic_store(&st->cmds[k].calls, 0);
			atomic_store(&st->cmds[k].ticks, 0);
			atomic_store(&st->cmds[k].rejected, 0);
			atomic_store(&st->cmds[k].failed, 0);
			/* Histograms are zeroed, not freed, for the same reason:
			 * LATENCY HISTOGRAM shows only those with calls. */
			struct lat_hist *h = atomic_load_explicit(&st->cmds[k].hist,
								  memory_order_acquire);
			if (h)
				lat_hist_reset(h);
		}
		uint32_t nerr = atomic_load_explicit(&st->errors.n, memory_order_acquire);
		for (uint32_t k = 0; k < nerr; k++)
			atomic_store(&st->errors.e[k].count, 0);
	}
	repl_sync_counts_reset();
}

static const struct server_info *rt_info(void)
{
	return &g_server.info;
}

/* ---- clients ---- */

static void rt_conn_info(const struct conn *c, struct client_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	int64_t now = kv_time_ms();
	ci->id = c->id;
	snprintf(ci->addr, sizeof(ci->addr), "%s", c->addr);
	snprintf(ci->laddr, sizeof(ci->laddr), "%s", c->laddr);
	ci->fd = c->fd;
	snprintf(ci->name, sizeof(ci->name), "%s", c->name);
	ci->age_s = (now - c->created_ms) / 1000;
	ci->idle_s = (now - atomic_load_explicit(&c->last_active_ms, memory_order_relaxed)) / 1000;
	if (ci->age_s < 0)
		ci->age_s = 0;
	if (ci->idle_s < 0)
		ci->idle_s = 0;
	ci->shard = c->shard->id;
	uint32_t f = atomic_load_explicit(&c->info_flags, memory_order_relaxed);
	static const struct { uint32_t bit; char letter; } letters[] = {
		{ CONN_INFO_MONITOR, 'O' }, { CONN_INFO_PUBSUB, 'P' }, { CONN_INFO_MULTI, 'x' },
		{ CONN_INFO_BLOCKED | CONN_INFO_POSTPONED, 'b' }, { CONN_INFO_TRACKING, 't' },
		{ CONN_INFO_TRK_BROKEN, 'R' }, { CONN_INFO_TRK_BCAST, 'B' },
		{ CONN_INFO_CLOSE, 'c' }, { CONN_INFO_NO_EVICT, 'e' },
	};
	size_t nf = 0;
	for (size_t i = 0; i < KV_ARRAY_LEN(letters); i++)
		if (f & letters[i].bit)
			ci->flags[nf++] = letters[i].letter;
	if (atomic_load_explicit(&c->kill_requested, memory_order_relaxed) &&
	    !(f & CONN_INFO_CLOSE))
		ci->flags[nf++] = 'c';
	if (nf == 0)
		ci->flags[nf++] = 'N';
	ci->flags[nf] = '\0';
	ci->pubsub = f & CONN_INFO_PUBSUB;
	ci->db = atomic_load_explicit(&c->info_db, memory_order_relaxed);
	ci->sub = atomic_load_explicit(&c->info_sub, memory_order_relaxed);
	ci->psub = atomic_load_explicit(&c->info_psub, memory_order_relaxed);
	ci->ssub = atomic_load_explicit(&c->info_ssub, memory_order_relaxed);
	ci->multi = atomic_load_explicit(&c->info_multi, memory_order_relaxed);
	snprintf(ci->last_cmd, sizeof(ci->last_cmd), "%s",
		 atomic_load_explicit(&c->last_cmd, memory_order_relaxed));
	ci->qbuf = atomic_load_explicit(&c->qbuf_len, memory_order_relaxed);
	ci->qbuf_free = atomic_load_explicit(&c->qbuf_free, memory_order_relaxed);
	ci->obl = atomic_load_explicit(&c->obuf_len, memory_order_relaxed);
	ci->omem = ci->obl;
	ci->tot_mem = ci->qbuf + ci->qbuf_free + ci->obl + sizeof(*c);
	ci->resp = c->proto >= RESP_PROTO_3 ? 3 : 2;
	ci->redir = atomic_load_explicit(&c->info_redir, memory_order_relaxed);
	/* The caller holds the shard's clients_lock, or is the client's own
	 * thread: either way c->user stays put. */
	snprintf(ci->user, sizeof(ci->user), "%s", acl_user_name(c->user));
	ci->acl_user = c->user;
}

static void rt_clients_foreach(void (*fn)(void *arg, const struct client_info *ci), void *arg)
{
	/* Held throughout: no client moves between shards meanwhile, and
	 * those on their way are listed too (migrate.c). */
	conn_transit_lock();
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *s = g_server.shards[i];
		pthread_mutex_lock(&s->clients_lock);
		/* Newest first in the list; report oldest first like Redis. */
		struct conn *last = s->clients;
		while (last && last->all_next)
			last = last->all_next;
		for (struct conn *c = last; c; c = c->all_prev) {
			struct client_info ci;
			rt_conn_info(c, &ci);
			fn(arg, &ci);
		}
		pthread_mutex_unlock(&s->clients_lock);
	}
	for (struct conn *c = conn_transit_first(); c; c = c->mig_next) {
		struct client_info ci;
		rt_conn_info(c, &ci);
		fn(arg, &ci);
	}
	conn_transit_unlock();
}

/* Flag the clients of a list (a shard's, or the transit list) that match. */
static uint64_t rt_kill_matching(struct conn *list, bool transit,
				 bool (*match)(void *arg, const struct client_info *ci), void *arg,
				 uint64_t skip_id)
{
	uint64_t n = 0;
	for (struct conn *c = list; c; c = transit ? c->mig_next : c->all_next) {
		if (c->id == skip_id || atomic_load(&c->kill_requested))
			continue;
		struct client_info ci;
		rt_conn_info(c, &ci);
		if (!match(arg, &ci))
			continue;
		atomic_store(&c->kill_requested, true);
		n++;
	}
	return n;
}

static uint64_t rt_clients_kill(bool (*match)(void *arg, const struct client_info *ci),
			     void *arg, uint64_t skip_id)
{
	uint64_t killed = 0;
	conn_transit_lock();
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *s = g_server.shards[i];
		pthread_mutex_lock(&s->clients_lock);
		uint64_t n = rt_kill_matching(s->clients, false, match, arg, skip_id);
		pthread_mutex_unlock(&s->clients_lock);
		if (n) {
			killed += n;
			atomic_store(&s->kill_pending, true);
			shard_wake(s);
		}
	}
	/* One on its way to a shard: that shard acts on the flag when it
	 * takes the client in (migrate_adopt). */
	killed += rt_kill_matching(conn_transit_first(), true, match, arg, skip_id);
	conn_transit_unlock();
	return killed;
}

static uint64_t rt_conn_id(const struct conn *c)
{
	return c->id;
}

static const char *rt_conn_get_name(const struct conn *c)
{
	return c->name;
}

static void rt_conn_set_name(struct conn *c, const char *name, size_t len)
{
	if (len >= sizeof(c->name))
		len = sizeof(c->name) - 1;
	pthread_mutex_lock(&c->shard->clients_lock);
	memcpy(c->name, name, len);
	c->name[len] = '\0';
	pthread_mutex_unlock(&c->shard->clients_lock);
}

static bool rt_conn_authenticated(const struct conn *c)
{
	return c->authenticated;
}

static void rt_conn_set_authenticated(struct conn *c, bool yes)
{
	c->authenticated = yes;
	resp_parser_set_authenticated(&c->parser, yes);
}

static void rt_conn_set_user(struct conn *c, struct acl_user *u)
{
	acl_user_ref(u);
	pthread_mutex_lock(&c->shard->clients_lock);
	struct acl_user *old = c->user;
	c->user = u;
	pthread_mutex_unlock(&c->shard->clients_lock);
	acl_user_unref(old);
	rt_conn_set_authenticated(c, true);
}

static void rt_conn_info_line(const struct conn *c, struct kv_buf *out)
{
	struct client_info ci;
	rt_conn_info(c, &ci);
	cmd_client_line(out, &ci);
	if (out->len && out->data[out->len - 1] == '\n')
		out->len--;
}

static int rt_conn_proto(const struct conn *c)
{
	return c->proto >= RESP_PROTO_3 ? RESP_PROTO_3 : RESP_PROTO_2;
}

static void rt_conn_set_proto(struct conn *c, int proto)
{
	c->proto = (unsigned char)proto;
}

static void rt_conn_set_reply_mode(struct conn *c, int mode)
{
	if (mode == CONN_REPLY_ON) {
		c->reply_off = false;
		c->reply_skip_next = false;
		c->reply_skip_now = false;
	} else if (mode == CONN_REPLY_OFF) {
		c->reply_off = true;
	} else if (!c->reply_off) {
		c->reply_skip_next = true;
	}
}

static void rt_conn_set_no_evict(struct conn *c, bool on)
{
	c->no_evict = on;
}

static bool rt_client_unblock(uint64_t id, bool error)
{
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *s = g_server.shards[i];
		bool found = false;
		pthread_mutex_lock(&s->clients_lock);
		for (struct conn *c = s->clients; c; c = c->all_next) {
			if (c->id != id)
				continue;
			/* A client postponed by CLIENT PAUSE is not in a blocking
			 * command: nothing to unblock. */
			uint32_t f = atomic_load_explicit(&c->info_flags, memory_order_relaxed);
			if (f & CONN_INFO_BLOCKED) {
				atomic_store(&c->unblock_request,
					     error ? UNBLOCK_REQ_ERROR : UNBLOCK_REQ_TIMEOUT);
				found = true;
			}
			break;
		}
		pthread_mutex_unlock(&s->clients_lock);
		if (found) {
			shard_wake(s);
			return true;
		}
	}
	return false;
}

static void rt_clients_pause(int64_t end_ms, bool all)
{
	pthread_mutex_lock(&g_server.pause_lock);
	int64_t cur = atomic_load(&g_server.pause_end_ms);
	bool active = cur != 0 && kv_time_ms() < cur;
	if (!active || end_ms > cur)
		atomic_store(&g_server.pause_end_ms, end_ms);
	atomic_store(&g_server.pause_all, all || (active && atomic_load(&g_server.pause_all)));
	pthread_mutex_unlock(&g_server.pause_lock);
}

static void rt_clients_unpause(void)
{
	pthread_mutex_lock(&g_server.pause_lock);
	atomic_store(&g_server.pause_end_ms, 0);
	atomic_store(&g_server.pause_all, false);
	pthread_mutex_unlock(&g_server.pause_lock);
	/* Each shard resumes its postponed clients at its next turn. */
	for (uint32_t i = 0; i < g_server.nshards; i++)
		shard_wake(g_server.shards[i]);
}

static void rt_conn_close_after_reply(struct conn *c)
{
	c->close_after_reply = true;
}

/* ---- shards ---- */

static struct shard *rt_shard(uint32_t id)
{
	kv_assert(id < g_server.nshards);
	return g_server.shards[id];
}

static struct aof *rt_aof(uint32_t id)
{
	return &rt_shard(id)->aof;
}

static struct snapshot_job *rt_snapshot(uint32_t id)
{
	return &rt_shard(id)->snap;
}

static uint64_t rt_changes(uint32_t id)
{
	return atomic_load_explicit(&rt_shard(id)->changes, memory_order_relaxed);
}

static void rt_wake(uint32_t id)
{
	shard_wake(rt_shard(id));
}

static void rt_reload_all(struct conn *c)
{
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		atomic_store(&g_server.shards[i]->reload_wanted, true);
		shard_wake(g_server.shards[i]);
	}
	c->wait_shards = true;
}

static uint32_t rt_conn_subscriptions(const struct conn *c)
{
	return pubsub_count(c);
}

const struct cmd_runtime server_runtime = {
	.stats = rt_stats,
	.reset_stats = rt_reset_stats,
	.aof = rt_aof,
	.snapshot = rt_snapshot,
	.changes = rt_changes,
	.wake = rt_wake,
	.reload_all = rt_reload_all,
	.info = rt_info,
	.request_shutdown = shard_stop_all,
	.clients_foreach = rt_clients_foreach,
	.replicas_foreach = repl_replicas_foreach,
	.repl_status = replica_status,
	.clients_kill = rt_clients_kill,
	.conn_id = rt_conn_id,
	.conn_info = rt_conn_info,
	.conn_get_name = rt_conn_get_name,
	.conn_set_name = rt_conn_set_name,
	.conn_authenticated = rt_conn_authenticated,
	.conn_set_authenticated = rt_conn_set_authenticated,
	.conn_set_user = rt_conn_set_user,
	.conn_info_line = rt_conn_info_line,
	.conn_close_after_reply = rt_conn_close_after_reply,
	.conn_proto = rt_conn_proto,
	.conn_set_reply_mode = rt_conn_set_reply_mode,
	.conn_set_no_evict = rt_conn_set_no_evict,
	.client_unblock = rt_client_unblock,
	.clients_pause = rt_clients_pause,
	.clients_unpause = rt_clients_unpause,
	.conn_set_proto = rt_conn_set_proto,
	.conn_subscriptions = rt_conn_subscriptions,
	.publish = pubsub_notify_publish,
	.script_memory = script_memory,
	.scripts_evicted = script_evicted,
	.pubsub_counts = pubsub_info_counts,
	.client_tracking = tracking_client_cmd,
	.tracking_flush = tracking_flush_cmd,
	.tracking_info = tracking_info,
	.function_libraries = script_function_libraries,
};
