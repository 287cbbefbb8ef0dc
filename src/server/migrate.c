/*
 * migrate.c - a connection moves to the shard its keys live on.
 *
 * The kernel spreads connections over the shards' SO_REUSEPORT listeners
 * without knowing their keys.  A client that works on one key (a counter, a
 * bitmap, a HyperLogLog) or on one {tag}ged group therefore sits on another
 * shard than its keys (half the time with two shards), and then every
 * command of it is forwarded: a message to the owner, the reply back, two
 * threads touched per command.  When MIGRATE_STREAK commands with keys in a
 * row went to one other shard, the connection moves there:
 *
 *   DRAINING   it dispatches nothing more (what it sent stays buffered)
 *              until no command of it is out (forwarded, txn, gated) and
 *              every reply has left (slots, output, the send in flight);
 *   DETACHING  the reactor stops receiving (io_uring cancels the multishot
 *              recv; bytes it still delivers are appended to c->in);
 *   DETACHED   nothing of c is in this shard's reactor.  At the end of the
 *              turn it leaves the shard's client list for the transit list
 *              and goes to the new shard in a MSG_CONN_ADOPT message, which
 *              links it into that shard's list, starts receiving there and
 *              runs what is buffered.
 *
 * Ownership passes with the message: before it only the old shard's thread
 * touches c, after it only the new one's.  A search of the clients that
 * must not miss one (CLIENT LIST, CLIENT KILL, CLIENT TRACKING REDIRECT)
 * holds the transit lock and looks at the transit list too.
 *
 * A connection with state tied to its shard never moves: MULTI, WATCH,
 * pub/sub, tracking, a REDIRECT target (`pinned`), MONITOR, blocked, WAIT,
 * a replica's link, CLIENT REPLY OFF/SKIP, closing or killed.  One moves at
 * most once per MIGRATE_COOLDOWN_MS, so a client alternating between
 * shards stays put and is forwarded, which is always correct.  Replies
 * keep their order: nothing of the client is out when it leaves.
 * docs/architecture.md, "Connections that move".
 */
#include <pthread.h>
#include <stdlib.h>

#include "base/kv.h"
#include "commands/config.h"
#include "server/shard.h"

/* Forwarded commands in a row to one shard before the client moves there. */
#define MIGRATE_STREAK 64
/* The least time between two moves of one client. */
#define MIGRATE_COOLDOWN_MS 1000

struct conn_adopt {
	struct shard_msg m;
	struct conn *conn;
};

void conn_transit_lock(void)
{
	pthread_mutex_lock(&g_server.transit_lock);
}

void conn_transit_unlock(void)
{
	pthread_mutex_unlock(&g_server.transit_lock);
}

struct conn *conn_transit_first(void)
{
	return g_server.transit;
}

void conn_list_link(struct shard *s, struct conn *c)
{
	c->all_prev = NULL;
	c->all_next = s->clients;
	if (s->clients)
		s->clients->all_prev = c;
	s->clients = c;
	s->nclients++;
}

void conn_list_unlink(struct shard *s, struct conn *c)
{
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		s->clients = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	s->nclients--;
}

/* Nothing about c ties it to this shard beyond what a move carries. */
static bool mig_movable(const struct conn *c)
{
	return !c->in_multi && c->nwatches == 0 && !c->pubsub && c->trk_flags == 0 &&
	       !c->monitor && !c->blocked && !c->wait_blocked && !c->wait_repl &&
	       !c->retry_call && !c->in_exec && !c->pause_wait &&
	       !c->repl_kevy && c->repl_shards == 0 && c->repl_port == 0 && !c->repl_pos &&
	       !c->repl_want[0] && !c->repl_handoff &&
	       !c->reply_off && !c->reply_skip_next &&
	       !c->close_after_reply && !c->io_dead && !c->read_eof && !c->close_started &&
	       !c->io_closed &&
	       !atomic_load_explicit(&c->pinned, memory_order_relaxed) &&
	       !atomic_load_explicit(&c->kill_requested, memory_order_relaxed);
}

/* No command of c is out and every reply of it has left. */
static bool mig_quiet(const struct conn *c)
{
	return c->inflight == 0 && !c->txn_inflight && !c->slots_head && c->out.len == 0 &&
	       !c->send_inflight && !c->in_gated && !c->paused && !c->in_paused &&
	       !c->dispatching;
}

void migrate_note(struct shard *s, struct conn *c, uint32_t to)
{
	if (to == s->id) {
		c->mig_streak = 0;
		return;
	}
	if (c->mig_to != to) {
		c->mig_to = to;
		c->mig_streak = 0;
	}
	if (++c->mig_streak < MIGRATE_STREAK || c->mig_state != MIG_NONE)
		return;
	if (!atomic_load_explicit(&g_config.migrate_connections, memory_order_relaxed))
		return;
	if (c->mig_last_ms != 0 && s->now_ms - c->mig_last_ms < MIGRATE_COOLDOWN_MS)
		return;
	if (!mig_movable(c))
		return;
	c->mig_state = MIG_DRAINING;
	c->mig_next = s->migrating;
	s->migrating = c;
}

void migrate_detached(struct shard *s, struct conn *c)
{
	(void)s;
	if (c->mig_state == MIG_DETACHING)
		c->mig_state = MIG_DETACHED;
}

/* Hand c to its new shard; false when it must stay after all (killed, or
 * named by a REDIRECT since it started to drain). */
static bool mig_handoff(struct shard *s, struct conn *c)
{
	conn_transit_lock();
	pthread_mutex_lock(&s->clients_lock);
	if (atomic_load(&c->kill_requested) || atomic_load(&c->pinned)) {
		pthread_mutex_unlock(&s->clients_lock);
		conn_transit_unlock();
		return false;
	}
	conn_list_unlink(s, c);
	pthread_mutex_unlock(&s->clients_lock);
	c->mig_next = g_server.transit;
	g_server.transit = c;
	atomic_fetch_add(&g_server.conns_in_transit, 1);
	conn_transit_unlock();
	stat_add(&s->stats.connected_clients, (uint64_t)-1);
	struct conn_adopt *m = kv_calloc(1, sizeof(*m));
	m->m.type = MSG_CONN_ADOPT;
	m->conn = c;
	shard_send(s, c->mig_to, &m->m);
	return true;
}

/* The move is off: c goes on here. */
static void mig_abort(struct shard *s, struct conn *c)
{
	bool detached = c->mig_state == MIG_DETACHED;
	c->mig_state = MIG_NONE;
	c->mig_streak = 0;
	c->mig_last_ms = s->now_ms;   /* no new try before the cooldown */
	if (c->io_closed)
		return;
	if (detached && !c->io_dead && !c->read_eof && !c->close_started)
		s->reactor->conn_start(s, c);
	conn_schedule(s, c);
}

void migrate_turn(struct shard *s)
{
	struct conn **pp = &s->migrating;
	while (*pp) {
		struct conn *c = *pp;
		struct conn *next = c->mig_next;   /* a handoff relinks c in transit */
		bool leave = false;
		if (c->io_closed) {
			c->mig_state = MIG_NONE;
			leave = true;
		} else if (c->mig_state == MIG_DRAINING && !mig_movable(c)) {
			mig_abort(s, c);
			leave = true;
		} else if (c->mig_state == MIG_DRAINING && mig_quiet(c)) {
			c->mig_state = MIG_DETACHING;
			s->reactor->conn_detach(s, c);   /* may detach at once (epoll) */
		}
		if (!leave && c->mig_state == MIG_DETACHED && !c->in_ready && !c->in_flush) {
			leave = true;
			if (!mig_movable(c) || !mig_handoff(s, c))
				mig_abort(s, c);
		}
		if (leave)
			*pp = next;
		else
			pp = &c->mig_next;
	}
}

/* Take c, on its way to s, off the transit list into s's client list
 * (the transit lock held), then make it s's (s's thread). */
static bool mig_take(struct shard *s, struct conn *c)
{
	struct conn **pp = &g_server.transit;
	while (*pp && *pp != c)
		pp = &(*pp)->mig_next;
	if (!*pp)
		return false;   /* migrate_adopt_early took it in already */
	*pp = c->mig_next;
	c->mig_next = NULL;
	pthread_mutex_lock(&s->clients_lock);
	c->shard = s;
	conn_list_link(s, c);
	pthread_mutex_unlock(&s->clients_lock);
	atomic_fetch_sub(&g_server.conns_in_transit, 1);
	return true;
}

static void mig_settle(struct shard *s, struct conn *c);

void migrate_adopt(struct shard *s, struct shard_msg *m)
{
	/* Only compared, not followed, until found in transit: when
	 * migrate_adopt_early took it in, it may be gone by now. */
	struct conn *c = ((struct conn_adopt *)m)->conn;
	free(m);
	conn_transit_lock();
	bool mine = mig_take(s, c);
	conn_transit_unlock();
	if (mine)
		mig_settle(s, c);
}

void migrate_adopt_early(struct shard *s, struct conn *c)
{
	kv_assert(c->mig_to == s->id);
	if (mig_take(s, c))
		mig_settle(s, c);
}

static void mig_settle(struct shard *s, struct conn *c)
{
	stat_add(&s->stats.connected_clients, 1);
	stat_add(&s->stats.migrated_connections, 1);
	resp_parser_set_limits(&c->parser, &s->resp_limits);
	c->mig_state = MIG_NONE;
	c->mig_streak = 0;
	c->mig_last_ms = s->now_ms;
	/* CLIENT KILL found it in transit: it flagged c, this shard acts. */
	if (atomic_load(&c->kill_requested))
		atomic_store(&s->kill_pending, true);
	s->reactor->conn_start(s, c);
	if (c->in.len > c->in_pos)
		conn_schedule(s, c);
}
