/*
 * route.c - where a command runs, and the cross-shard protocol.
 *
 * shard_dispatch looks the command up, checks auth, arity and the
 * subscriber and MULTI states, then routes it (docs/architecture.md, "Where
 * a command runs"):
 *   - a command that needs no keyspace, or only this shard's, runs here;
 *   - a command whose keys live on one other shard is copied into a
 *     MSG_EXEC and its reply comes back as MSG_REPLY (or, with the AOF off
 *     and that shard parked, runs here as a txn of it: fwd_borrows);
 *   - a command over several shards runs here as a txn after taking the
 *     keyspace of every shard involved, in ascending shard order (a parked
 *     shard's without asking it: txn_borrow).  Ordered
 *     acquisition makes a wait-for cycle impossible, and shards never block:
 *     a held shard keeps draining its rings, parking what it cannot run yet
 *     in its deferred FIFO.
 * Every message a shard receives is handled here (shard_handle_msg): the
 * forwarded calls and their replies, the lock/grant/release of txns and
 * their durability acknowledgements, wake-ups of blocked clients, broadcast
 * parts, and SAVE's waits for every shard's snapshot.
 *
 * Per-connection order: a connection's commands are dispatched in order;
 * while a txn of it is out it dispatches nothing more, and a command routed
 * to a shard goes through the same FIFO ring as that connection's earlier
 * commands to that shard, so a client always reads its own writes.
 *
 * Not here: the loop, sockets and parsing (shard.c); reply order and the
 * durability gate (gate.c); running a call (exec.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/acl.h"
#include "base/kv.h"
#include "base/log.h"
#include "commands/config.h"
#include "commands/fx.h"
#include "server/script.h"
#include "server/script_lua.h"
#include "server/shard.h"

static void shard_keyspace_freed(struct shard *s);
static void shard_save_wait(struct shard *s, uint32_t home, struct conn *c,
			    struct reply_slot *slot);
static void shard_handle_durable(struct shard *s, struct durable_ack *a);
static void blocking_commit(struct shard *s, struct conn *c, const struct kv_command *cmd,
			    int argc, const struct kv_slice *argv, struct reply_slot *slot);

/* ------------------------------------------------------------------ */
/* forwarded single-shard commands */

static void fwd_execute(struct shard *s, struct fwd_req *req)
{
	kv_assert(!s->holder);
	uint64_t lsn_before = s->aof.last_lsn;
	struct reply_tag wdep;
	bool wkeys = shard_write_dep(s, req->call.cmd, req->call.argc, req->call.argv,
				     req->call.dbid, &wdep);
	req->duration_us = shard_call_run(s, &req->call, NULL, s->held_local, &req->reply);
	shard_unit_commit(s);
	req->m.type = MSG_REPLY;
	struct reply_tag tag = shard_call_tag(s, &req->call, wkeys ? &wdep : NULL, lsn_before);
	shard_send_tagged(s, req->m.from, &req->m, &tag);
}

static void fwd_replied(struct shard *s, struct fwd_req *req)
{
	struct conn *c = req->call.conn;
	shard_slowlog(s, c, req->call.cmd, req->call.argc, req->call.argv, req->duration_us);
	conn_fill_slot(s, c, req->call.slot, &req->reply);
	kv_assert(c->fwd_out > 0);
	c->fwd_out--;
	conn_release_inflight(s, c);
	acl_user_unref(req->call.user);
	free(req);
}

/* Something this shard sent shard `to` is still unread there: a message
 * from here may not pass it (a connection's order). */
static bool shard_sent_unread(struct shard *s, uint32_t to)
{
	return s->ovf_head[to] || spsc_nonempty(&g_server.shards[to]->in[s->id]);
}

/*
 * A call of one other shard's keys whose owner is parked runs here as a txn
 * of that shard alone, which borrows its keyspace (txn_borrow), instead of
 * waking the owner and then this shard (MSG_EXEC, MSG_REPLY).  Only:
 *   - with the AOF off: with it on, the owner must log the effects and the
 *     reply waits for that anyway, and a forwarded read is tagged by its
 *     own keys (gate.c) where a txn's reply waits for the owner's ack;
 *   - for a connection's last command received: in a pipeline, MSG_EXECs
 *     share one wake-up, and a borrowed call among them (a txn, its
 *     release, the owner's clients paused meanwhile) cost INCR -c 50 -P 16
 *     8% (docs/benchmarks.md, "Session 21");
 *   - with nothing of this connection out on a shard, and no chain of this
 *     home open (the txn would join it): order;
 *   - not for scripts, which the owner's Lua state runs;
 *   - not behind a message of this shard the owner has not read yet (an
 *     earlier borrow's MSG_RELEASE): MSG_EXEC queues behind it, where the
 *     txn would wait for MSG_LOCK's round trip.
 * If the owner wakes before the borrow, the txn takes the keyspace with
 * MSG_LOCK: slower, never wrong.
 */
static bool fwd_borrows(struct shard *s, const struct conn *c, const struct kv_command *cmd,
			uint32_t to)
{
	return !shard_aof_on() && c->dispatching_last && c->fwd_out == 0 && c->txn_inflight == 0 &&
	       !s->txn_open && !(cmd->flags & CMD_SKIP_MONITOR) &&
	       atomic_load_explicit(&g_server.shards[to]->park, memory_order_relaxed) ==
		       SHARD_PARKED &&
	       !shard_sent_unread(s, to);
}

static void shard_forward(struct shard *s, struct conn *c, uint32_t to,
			  const struct kv_command *cmd, int argc, const struct kv_slice *argv)
{
	struct fwd_req *req = shard_call_copy(sizeof(*req), offsetof(struct fwd_req, call),
					cmd, argc, argv, s->now_ms);
	kv_buf_init(&req->reply);
	req->m.type = MSG_EXEC;
	req->call.dbid = c->db;
	req->call.proto = c->proto;
	req->call.conn = c;
	req->call.trk_caller = c->id;
	req->call.trk_remember = tracking_remember_id(c);
	req->call.user = c->user;
	acl_user_ref(c->user);
	req->call.slot = conn_reserve_slot(c);
	c->inflight++;
	c->fwd_out++;
	stat_add(&s->stats.forwarded_commands, 1);
	shard_send(s, to, &req->m);
}

/* ------------------------------------------------------------------ */
/* multi-shard transactions */

/*
 * A txn over several shards, with the AOF on, is a unit across shards: each
 * shard it changed logs a UNIT record, its part, whose header names every
 * shard the txn held with the LSN of its part there (PART) or the LSN it
 * read at (READ), so that recovery keeps all of it or none
 * (docs/durability.md, "Units across shards").  Reads are recorded as
 * "every key of the shard" (no per-key read tracking yet): recovery may then
 * drop a unit that read a shard after a dropped record there although it
 * did not read that record's keys -- more than needed, never less.
 * Returns each held shard's part (index as t->shards; empty: no changes
 * there), or NULL when this is not such a unit (the effects stay in fx).
 */
static void put_reads(struct kv_buf *b, const struct cmd_reads *r)
{
	if (!r || r->all) {
		aof_keys_put_all(b);
		return;
	}
	aof_keys_put(b, r->n);
	kv_buf_append(b, r->keys.data, r->keys.len);
}

/*
 * A txn that changed at most one shard needs no unit when what it read on
 * every other shard can never be dropped by recovery (shard_keys_clean:
 * under appendfsync always, each record that changed one of those keys is
 * fsynced, and every unit part before it stable): its effects, if any, are
 * one plain record of their shard, logged and acknowledged as that shard's
 * own writes are, and the shards it only read owe it no acknowledgement.
 * A DEL of 10 keys across two shards that found keys on one of them only,
 * or an MGET, is then no longer held by the other shard's fsyncs and
 * commit-wait round (docs/durability.md, "Clean reads").
 */
static bool txn_reads_clean(struct shard *s, const struct txn *t, const struct cmd_reads *reads)
{
	if (!reads || fx_pending_shards() > 1)
		return false;
	uint8_t *role = s->txn_role;
	memset(role, SHARD_TXN_NONE, g_server.nshards);
	for (uint32_t i = 0; i < t->nshards; i++) {
		uint32_t id = t->shards[i];
		role[id] = fx_pending_on(id) ? SHARD_TXN_CHANGED : SHARD_TXN_READ;
		if (role[id] == SHARD_TXN_READ && reads[id].all)
			return false;
	}
	return shard_keys_clean(&t->call, t->shards, t->nshards, role);
}

/* *clean: no unit, as above (NULL returned). */
static struct kv_buf *txn_unit_parts(struct shard *s, struct txn *t, const struct cmd_reads *reads,
				     bool *clean)
{
	*clean = false;
	if (t->nshards < 2 || !shard_aof_on())
		return NULL;
	if (txn_reads_clean(s, t, reads)) {
		*clean = true;
		return NULL;
	}
	if (!fx_pending())
		return NULL;
	struct kv_buf *eff = kv_calloc(t->nshards, sizeof(*eff));
	uint32_t nparts = 0;
	for (uint32_t i = 0; i < t->nshards; i++)
		nparts += fx_take(t->shards[i], &eff[i]);
	struct kv_buf head = KV_BUF_INIT;
	aof_unit_begin(&head, g_server.boot_id, t->id, t->nshards);
	for (uint32_t i = 0; i < t->nshards; i++) {
		if (eff[i].len) {
			aof_unit_row(&head, t->shards[i], AOF_UNIT_PART, t->lsns[i] + 1);
		} else {
			aof_unit_row(&head, t->shards[i], AOF_UNIT_READ, t->lsns[i]);
			put_reads(&head, reads ? &reads[t->shards[i]] : NULL);
		}
	}
	struct kv_buf *parts = kv_calloc(t->nshards, sizeof(*parts));
	for (uint32_t i = 0; i < t->nshards && nparts; i++) {
		if (!eff[i].len)
			continue;
		kv_buf_append(&parts[i], head.data, head.len);
		/* The part's own reads: the keys of its shard the txn asked
		 * for (those its effects name are counted again: harmless). */
		put_reads(&parts[i], reads ? &reads[t->shards[i]] : NULL);
		kv_buf_append(&parts[i], eff[i].data, eff[i].len);
		kv_buf_free(&eff[i]);
	}
	kv_buf_free(&head);
	free(eff);
	return parts;
}

/* The end of a txn on the other shards it held: the wake-ups of clients it
 * served ride with the releases (rels[id], made by the caller), which
 * leave after what the home shard's reply depends on. */
static void txn_send_releases(struct shard *s, struct txn *t, struct release_msg **rels)
{
	if (s->pw.head)
		shard_send_wakes(s, rels);
	for (uint32_t i = 0; i < t->nshards; i++) {
		uint32_t id = t->shards[i];
		if (id != s->id) {
			shard_send_when_durable(s, id, &rels[id]->m, 0, false);
			rels[id] = NULL;
		}
	}
}

/* A txn of the server's own (sys_fn): no client, no reply, nothing
 * logged; the other shards are released as soon as it ran. */
static void txn_sys_execute(struct shard *s, struct txn *t)
{
	for (uint32_t i = 0; i < t->nshards; i++)
		s->txn_held[t->shards[i]] = &g_server.shards[t->shards[i]]->dbs;
	t->sys_fn(s, s->txn_held, t->sys_arg);
	shard_notify_flush(s);
	struct release_msg **rels = s->txn_rels;
	bool held_here = false;
	for (uint32_t i = 0; i < t->nshards; i++) {
		uint32_t id = t->shards[i];
		s->txn_held[id] = NULL;
		if (id == s->id) {
			held_here = true;
			continue;
		}
		rels[id] = kv_calloc(1, sizeof(*rels[id]));
		rels[id]->m.type = MSG_RELEASE;
		rels[id]->txn_id = t->id;
	}
	/* Clients it served (XREAD BLOCK on a replica) are woken after it. */
	txn_send_releases(s, t, rels);
	if (t->side == 0)
		atomic_fetch_sub(&g_server.turnon_txns, 1);
	kv_assert(held_here && s->holder == t);
	s->holder = NULL;
	free(t);
	shard_keyspace_freed(s);
}

/*
 * Chains.  Every txn takes its shards' keyspaces with a round trip per
 * other shard, and nothing else runs on a keyspace while it is held, so
 * under many clients of multi-shard commands (MSET at -P 16) the round
 * trips, not the commands, set the rate.  So a txn that starts on a home
 * while another txn of that home is still acquiring all of its shards
 * (and maybe more) joins it (txn_open) instead of asking for them itself:
 * once the
 * first holds them all, it runs, then each member in the order they
 * joined, under the same hold; each sends its own releases (effects, acks,
 * wake-ups), each naming the next member that holds that shard
 * (next_txn_id; none: the shard is free), so the other shards log and
 * acknowledge each member's part as its own txn's, in order, and free the
 * keyspace once.  The home's own keyspace, if the first txn holds it,
 * stays held until the last member ends.
 *
 * - Isolation is unchanged: each member runs with every keyspace it
 *   names held, as if it had acquired them right after the previous one.
 * - A connection's order: a txn joins only if none of the connection's
 *   commands is still out on another shard (fwd_out); such a command went
 *   through the ring before the first txn's LOCK may have, and must run
 *   first.  Txns of different connections have no order between them.
 * - Unit headers (txn_unit_parts) name each shard's LSN of the part: for a
 *   member the home foresees it, as the first txn's LSN there plus the
 *   records the earlier members sent there (chain_lsn), since a held shard
 *   appends nothing else.  The shard checks it; where it does not hold
 *   (appendonly switched while the chain ran, or a record over the limit
 *   failed the AOF), the part is not logged and the txn fails, never
 *   acknowledged.
 * - Bounded: at most TXN_CHAIN_MAX members and TXN_CHAIN_WORK arguments
 *   (an EXEC counts its queued commands'), so a chain holds the keyspaces
 *   for a bounded run of commands (about half a millisecond of 10-key
 *   MSETs on this machine).  Short while others wait: a shard counts the
 *   single-key commands that waited for its keyspace (held_waits: paused
 *   clients, deferred forwarded calls) and, when TXN_CHAIN_WAITS or more
 *   did during one hold, tells the next txn that takes it (txn.contended);
 *   that txn's home then opens its chains with TXN_CHAIN_CONTENDED members
 *   at most for the next TXN_CHAIN_SHORT_MS.  Not on one wait: an MSET
 *   whose keys all fall on one shard waits too, and a load of MSETs would
 *   keep itself short; not chain by chain: long and short chains then
 *   alternated and the waiting clients got fewer turns.  Long chains mean
 *   fewer holds and thread hand-offs for a load of multi-shard commands;
 *   short ones give other clients' commands their turns between holds
 *   (docs/benchmarks.md, "Session 18").
 * - Turning appendonly on: members take the first txn's side and are
 *   counted before it ends (shard_turnon_defers).
 */
#define TXN_CHAIN_MAX 256
#define TXN_CHAIN_CONTENDED 32
#define TXN_CHAIN_SHORT_MS 100
#define TXN_CHAIN_WAITS 4
#define TXN_CHAIN_WORK 8192

/* What a txn adds to its chain's run: its arguments, and an EXEC's
 * queued commands' (read before the EXEC takes them). */
static uint32_t txn_work(const struct conn *c, const struct kv_command *cmd, int argc)
{
	return (uint32_t)argc + (multi_is_exec(cmd) ? multi_queued_args(c) : 0);
}

static bool chain_has_room(const struct txn *l, uint32_t work)
{
	return l->chain_len < l->chain_cap && l->chain_work + work <= TXN_CHAIN_WORK;
}

/* Whether every shard of a call or txn (ascending) is one of l's. */
static bool shards_within(const uint32_t *shards, uint32_t n, const struct txn *l)
{
	uint32_t j = 0;
	for (uint32_t i = 0; i < n; i++) {
		while (j < l->nshards && l->shards[j] < shards[i])
			j++;
		if (j == l->nshards || l->shards[j] != shards[i])
			return false;
	}
	return true;
}

/*
 * A connection with a txn out dispatches nothing else (its later commands
 * could run before it), except a txn that joins the same chain while that
 * chain is still acquiring: members run in the order they joined, so the
 * connection's order holds, and a client that pipelines multi-key
 * commands (MSET at -P 16) puts its whole batch under one hold instead of
 * one hold per command.  Under appendfsync always that is what keeps
 * chains long: a client's batch otherwise crossed one chain per command
 * while the replies of other clients' batches waited for their fsyncs.
 */
/* Dispatch runs the call shard_txn_may_follow let through right after it:
 * it takes the command and shards found here instead of finding them
 * again (follow_take). */
static void follow_note(struct shard *s, const struct conn *c, const struct kv_slice *argv,
			const struct kv_command *cmd, uint32_t n, const uint32_t *shards)
{
	s->follow.c = c;
	s->follow.argv = argv;
	s->follow.cmd = cmd;
	s->follow.n = n;
	if (shards)
		memcpy(s->follow.shards, shards, n * sizeof(*shards));
}

/* The command shard_txn_may_follow found for this call, or NULL; the
 * memo is used once. */
static const struct kv_command *follow_take(struct shard *s, const struct conn *c,
					    const struct kv_slice *argv, uint32_t *n,
					    uint32_t *shards)
{
	*n = UINT32_MAX;
	if (s->follow.argv != argv || s->follow.c != c)
		return NULL;
	s->follow.argv = NULL;
	s->follow.c = NULL;
	*n = s->follow.n;
	if (*n != UINT32_MAX)
		memcpy(shards, s->follow.shards, *n * sizeof(*shards));
	return s->follow.cmd;
}

bool shard_txn_may_follow(struct shard *s, struct conn *c, int argc,
			  const struct kv_slice *argv)
{
	if (!c->chain_id || c->reply_off || c->reply_skip_next || c->monitor || argc < 1)
		return false;
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	if (!cmd || !cmd_arity_ok(cmd, argc))
		return false;
	uint32_t shards[SHARD_MAX];
	uint32_t n = 0;
	switch (multi_may_follow(c, cmd)) {
	case MULTI_FOLLOW_NO:
		return false;
	case MULTI_FOLLOW_LOCAL:
		follow_note(s, c, argv, cmd, UINT32_MAX, NULL);
		return true;
	case MULTI_FOLLOW_EXEC:
		/* Its shards may be this one alone: it still joins (dispatch
		 * starts a txn for a follower), it must run after the chain's
		 * earlier members. */
		n = cmd->conn_shards(c, argc, argv, shards);
		break;
	case MULTI_FOLLOW_CALL:
		if (!shard_cmd_pipelines(cmd))
			return false;
		n = shard_call_shards(cmd, argc, argv, shards);
		if (n < 2)
			return false;
		break;
	}
	const struct txn *l = s->txn_open;
	if (!l || c->chain_id != l->id || !chain_has_room(l, txn_work(c, cmd, argc)) ||
	    c->fwd_out || n < 1 || !shards_within(shards, n, l))
		return false;
	follow_note(s, c, argv, cmd, n, shards);
	return true;
}

static bool txn_chain_join(struct shard *s, struct conn *c, struct txn *t, uint32_t work)
{
	struct txn *l = s->txn_open;
	if (!l || c->fwd_out || !chain_has_room(l, work) ||
	    !shards_within(t->shards, t->nshards, l))
		return false;
	t->acquired = t->nshards;
	if (l->chain_tail)
		l->chain_tail->chain_next = t;
	else
		l->chain_head = t;
	l->chain_tail = t;
	l->chain_len++;
	l->chain_work += work;
	stat_add(&s->stats.chained_txns, 1);
	if (l->chain_len + 1 > stat_get(&s->stats.chain_longest))
		atomic_store_explicit(&s->stats.chain_longest, l->chain_len + 1,
				      memory_order_relaxed);
	return true;
}

/* The first txn of a chain holds every shard: the LSNs its members start
 * from, and their side of a turn-on, counted before the first one ends. */
static void txn_chain_begin(struct shard *s, struct txn *t)
{
	s->chain_aof = shard_aof_on();
	for (uint32_t i = 0; i < t->nshards; i++)
		s->chain_lsn[t->shards[i]] = t->lsns[i];
	for (struct txn *m = t->chain_head; m; m = m->chain_next) {
		m->side = t->side;
		if (m->side == 0)
			atomic_fetch_add(&g_server.turnon_txns, 1);
	}
}

static void txn_acquire_next(struct shard *s, struct txn *t);

/* appendonly changed while a chain ran: what the other shards log for the
 * next member could differ from what this home foresees, so the chain ends
 * here and each member left acquires its shards itself (they are held by
 * t, so they queue behind it). */
static void txn_chain_detach(struct shard *s, struct txn *t)
{
	struct txn *m = t->chain_head;
	t->chain_head = t->chain_tail = NULL;
	while (m) {
		struct txn *n = m->chain_next;
		m->chain_next = NULL;
		m->acquired = 0;
		if (m->side == 0)
			atomic_fetch_sub(&g_server.turnon_txns, 1);
		m->side = -1;
		txn_acquire_next(s, m);
		m = n;
	}
}

/* The txn after t in its chain that holds shard id next (0: none, the
 * shard is free once t releases it). */
static uint64_t txn_chain_next_on(const struct txn *t, uint32_t id)
{
	for (const struct txn *m = t->chain_head; m; m = m->chain_next)
		for (uint32_t i = 0; i < m->nshards && m->shards[i] <= id; i++)
			if (m->shards[i] == id)
				return m->id;
	return 0;
}

/* The next member runs now: each shard's LSN at its start. */
static struct txn *txn_chain_pass(struct shard *s, struct txn *t)
{
	struct txn *next = t->chain_head;
	if (!next)
		return NULL;
	next->chain_head = next->chain_next;
	next->chain_tail = next->chain_head ? t->chain_tail : NULL;
	next->chain_next = NULL;
	for (uint32_t i = 0; i < next->nshards; i++) {
		uint32_t id = next->shards[i];
		next->lsns[i] = id == s->id ? s->aof.last_lsn : s->chain_lsn[id];
	}
	return next;
}

static struct txn *txn_run(struct shard *s, struct txn *t, bool predicted);

static void txn_execute(struct shard *s, struct txn *t)
{
	if (t->sys_fn) {
		txn_sys_execute(s, t);
		return;
	}
	if (s->txn_open == t)
		s->txn_open = NULL;
	if (t->contended)
		s->chain_short_until = s->now_ms + TXN_CHAIN_SHORT_MS;
	/* This shard stays held from the first txn to the last of its chain
	 * if the first holds it, whichever members name it. */
	s->chain_home = false;
	for (uint32_t i = 0; i < t->nshards; i++)
		s->chain_home |= t->shards[i] == s->id;
	if (t->chain_head)
		txn_chain_begin(s, t);
	bool predicted = false;
	while (t) {
		t = txn_run(s, t, predicted);
		predicted = true;
	}
}

static struct txn *txn_run(struct shard *s, struct txn *t, bool predicted)
{
	if (t->chain_head && shard_aof_on() != s->chain_aof)
		txn_chain_detach(s, t);
	struct txn *next = t->chain_head;
	for (uint32_t i = 0; i < t->nshards; i++)
		s->txn_held[t->shards[i]] = &g_server.shards[t->shards[i]]->dbs;
	struct kv_buf reply = KV_BUF_INIT;
	/* A unit across shards names what it read (txn_unit_parts). */
	bool note_reads = shard_aof_on();
	if (note_reads)
		cmd_reads_begin(g_server.nshards);
	shard_call_run(s, &t->call, t->call.conn, s->txn_held, &reply);
	struct cmd_reads *reads = note_reads ? cmd_reads_end() : NULL;
	/* Its notifications leave before the releases below: the next unit on
	 * a released shard publishes after them (gate.c). */
	shard_notify_flush(s);
	struct conn *c = t->call.conn;
	bool durable = t->call.cmd->flags & CMD_WAIT_DURABLE;
	/* SAVE waits for every shard's snapshot, unless it answered an error. */
	bool save_wait = ((t->call.cmd->flags & CMD_WAIT_SNAPSHOT) || c->wait_shards) &&
			 reply.len && reply.data[0] != '-';
	c->wait_shards = false;
	/* Each held shard acknowledges once what the reply depends on there is
	 * durable: under appendfsync always, or always for WAITAOF. */
	uint8_t ack = 0;
	if (!c->block_pending && shard_aof_on())
		ack = durable ? 2 : 1;
	bool held_here = false;
	struct release_msg **rels = s->txn_rels;
	bool clean;
	struct kv_buf *parts = txn_unit_parts(s, t, reads, &clean);
	cmd_reads_free(reads, g_server.nshards);
	struct unit_track *track = NULL;
	if (parts) {
		/* Commit-wait (gate.c): every other participant acknowledges;
		 * the unit is stable when all have and the home's part is. */
		if (!ack)
			ack = 1;
		track = kv_calloc(1, sizeof(*track));
		track->part_shards = kv_calloc(t->nshards, sizeof(uint32_t));
		track->part_lsns = kv_calloc(t->nshards, sizeof(uint64_t));
		for (uint32_t i = 0; i < t->nshards; i++) {
			if (t->shards[i] == s->id)
				continue;   /* its part's wait sets home_w */
			track->pending++;
			if (parts[i].len) {
				track->part_shards[track->nparts] = t->shards[i];
				track->part_lsns[track->nparts++] = t->lsns[i] + 1;
			}
		}
		/* Its reply leaves once it is stable: after this home's units
		 * before it (gate.c). */
		shard_unit_track_add(s, track, c, c->block_pending ? NULL : t->call.slot);
	}
	for (uint32_t i = 0; i < t->nshards; i++) {
		uint32_t id = t->shards[i];
		s->txn_held[id] = NULL;
		if (id == s->id) {
			held_here = true;
			continue;
		}
		struct release_msg *rel = kv_calloc(1, sizeof(*rel));
		rels[id] = rel;
		rel->m.type = MSG_RELEASE;
		rel->txn_id = t->id;
		rel->next_txn_id = next ? txn_chain_next_on(t, id) : 0;
		rel->predicted = predicted;
		if (parts) {
			rel->effects = parts[i];
			kv_buf_init(&parts[i]);
			if (rel->effects.len)
				rel->unit_lsn = t->lsns[i] + 1;
			rel->track = track;
		} else {
			fx_take(id, &rel->effects);
		}
		/* What that shard will log for it: one record, if any. */
		s->chain_lsn[id] = t->lsns[i] + (rel->effects.len && shard_aof_on());
		/* A shard it only read, clean: nothing there to wait for. */
		rel->ack = clean && !rel->effects.len && ack == 1 ? 0 : ack;
		rel->blind = !shard_cmd_observes(t->call.cmd);
		if (rel->ack) {
			rel->conn = c;
			rel->slot = t->call.slot;
			t->call.slot->acks++;
			c->inflight++;
		}
		if (save_wait) {
			rel->save_wait = true;
			rel->conn = c;
			rel->slot = t->call.slot;
			t->call.slot->acks++;
			c->inflight++;
		}
	}
	if (save_wait && held_here) {
		shard_save_wait(s, s->id, c, t->call.slot);
		t->call.slot->acks++;
		c->inflight++;
	}
	txn_send_releases(s, t, rels);
	if (parts) {
		for (uint32_t i = 0; i < t->nshards; i++) {
			if (t->shards[i] != s->id || !parts[i].len)
				continue;
			atomic_fetch_add_explicit(&s->changes, 1, memory_order_relaxed);
			uint64_t lsn = aof_append_typed(&s->aof, AOF_REC_UNIT, parts[i].data,
							parts[i].len);
			kv_assert(lsn == 0 || lsn == t->lsns[i] + 1);
			if (lsn == 0)
				track->failed = true;
			shard_unit_part_wait(s, t->lsns[i] + 1, durable, NULL, 0, track);
		}
		kv_assert(track->pending > 0);   /* a unit has two shards */
		for (uint32_t i = 0; i < t->nshards; i++)
			kv_buf_free(&parts[i]);
		free(parts);
	}
	if (held_here) {
		bool home_fx = fx_pending_on(s->id);
		shard_unit_commit(s);
		struct reply_slot *slot = t->call.slot;
		if (durable && shard_aof_on()) {
			aof_want_fsync(&s->aof);
			slot->lsn = s->aof.last_lsn > s->aof.durable_lsn ? s->aof.last_lsn : 0;
			slot->durable = true;
			if (slot->lsn && s->aof.state == AOF_FAILED) {
				shard_reply_error(s, &reply, aof_write_error(&s->aof));
				slot->lsn = 0;
			}
		} else {
			uint64_t before = s->aof.last_lsn;
			for (uint32_t i = 0; i < t->nshards; i++)
				if (t->shards[i] == s->id)
					before = t->lsns[i];
			slot->lsn = shard_cmd_observes(t->call.cmd) ? shard_reply_tag(s)
								    : shard_blind_tag(s, before);
			/* Clean and nothing logged here: it read nothing that
			 * waits (txn_reads_clean). */
			if (clean && !home_fx)
				slot->lsn = 0;
		}
	}
	t->call.slot->nseq = shard_notify_tag(s);
	kv_assert(!fx_pending());
	if (c->wait_repl)
		repl_wait_commit(s, c, t->call.slot);
	if (c->block_pending) {
		blocking_commit(s, c, t->call.cmd, t->call.argc, t->call.argv, t->call.slot);
		kv_buf_free(&reply);
	} else {
		conn_fill_slot(s, c, t->call.slot, &reply);
	}
	kv_assert(c->txn_inflight > 0);
	c->txn_inflight--;
	conn_release_inflight(s, c);
	next = txn_chain_pass(s, t);
	bool home_held = s->chain_home;
	if (home_held) {
		kv_assert(s->holder == t);
		s->holder = next;
		s->holder_id = next ? next->id : 0;
	}
	if (t->side == 0)
		atomic_fetch_sub(&g_server.turnon_txns, 1);
	/* No message refers to t any more: RELEASE names it by id. */
	free(t);
	if (home_held && !next)
		shard_keyspace_freed(s);
	return next;
}

/* This shard takes its own keyspace for t (it is free). */
/* Shard o's keyspace becomes t's: what every grant does, on o's thread or
 * (txn_borrow) on the home's while o is parked. */
static void txn_hold(struct shard *o, struct txn *t)
{
	kv_assert(!o->holder);
	o->holder = t;
	o->holder_id = t->id;
	t->lsns[t->acquired] = o->aof.last_lsn;
	t->contended |= o->held_waits >= TXN_CHAIN_WAITS;
	o->held_waits = 0;
}

static void txn_take_local(struct shard *s, struct txn *t)
{
	txn_hold(s, t);
	t->acquired++;
}

/*
 * Turning appendonly on rewrites every shard's keyspace into a fresh
 * segment, each shard on its own thread, and the rewrites commit together
 * (shard.c, "turn-on").  A txn must then not hold one shard from before
 * that shard's rewrite and another from after its own: its effects would
 * be in the first shard's rewritten keyspace but only in the second's log,
 * where a failure could still lose them (one shard's part on disk, the
 * other's not).  So, once appendonly is on, a shard that has not rewritten
 * grants only txns that already hold a shard from before (side 0: counted
 * in turnon_txns, and no shard starts its rewrite while any is in flight);
 * the others wait in turnon_locks until its rewrite has started.  The count
 * is taken before appendonly is read (sequentially consistent), so a shard
 * that saw appendonly on and then no txn counted cannot meet a txn that
 * was granted from before a rewrite and has not ended.
 */
bool shard_turnon_defers(struct shard *s, struct txn *t)
{
	if (s->aof_was_on) {
		if (t->side < 0)
			t->side = 1;
		return false;
	}
	if (t->side == 0)
		return false;
	if (t->side < 0) {
		atomic_fetch_add(&g_server.turnon_txns, 1);
		if (!shard_aof_on()) {
			t->side = 0;
			return false;
		}
		atomic_fetch_sub(&g_server.turnon_txns, 1);
		return true;
	}
	/* Granted by shards that rewrote: wait for this one's rewrite (unless
	 * appendonly went off again, when no promise is made on disk). */
	return shard_aof_on();
}

static void turnon_defer(struct shard *s, struct txn *t)
{
	t->m.type = MSG_LOCK;
	t->m.from = s->id;
	msg_fifo_push(&s->turnon_locks, &t->m);
}

static void shard_handle_lock(struct shard *s, struct shard_msg *m);

void shard_turnon_grants(struct shard *s)
{
	struct msg_fifo q = s->turnon_locks;
	s->turnon_locks.head = s->turnon_locks.tail = NULL;
	struct shard_msg *m;
	while ((m = msg_fifo_pop(&q)) != NULL)
		shard_handle_lock(s, m);
}

/*
 * Borrowing.  A shard parked in its reactor's wait runs nothing until the
 * wait returns, and then takes its state back first (shard_unpark).  So
 * while it is parked, a txn's home may do on its behalf what it would do
 * on MSG_LOCK with its keyspace free: make the txn its holder
 * (txn_grant_remote) -- without the two wake-ups of MSG_LOCK and
 * MSG_GRANT.  Everything after is the ordinary protocol: the owner, when
 * it next runs, finds its keyspace held, and MSG_RELEASE gives it back.
 * The home holds the owner's state (park = SHARD_LENT) only for the grant
 * itself, and only when the owner would grant at once: no holder, no
 * yield, nothing deferred or waiting for the turn-on rewrite, no
 * notification of its own unacknowledged (the grant would wait for it),
 * and nothing this home sent it before still unread (its order).
 */
static bool txn_borrow(struct shard *s, struct txn *t, uint32_t target)
{
	struct shard *o = g_server.shards[target];
	/* A plain load first: a busy owner's park word is not pulled into this
	 * core's cache for writing by a CAS bound to fail. */
	if (atomic_load_explicit(&o->park, memory_order_relaxed) != SHARD_PARKED ||
	    shard_sent_unread(s, target))
		return false;
	int st = SHARD_PARKED;
	if (!atomic_compare_exchange_strong_explicit(&o->park, &st, SHARD_LENT,
						     memory_order_acquire, memory_order_relaxed))
		return false;
	bool ok = !o->holder && !o->yielding && !o->deferred.head && !o->turnon_locks.head &&
		  shard_notify_tag(o) == 0 && !shard_turnon_defers(o, t);
	if (ok)
		txn_hold(o, t);
	atomic_store_explicit(&o->park, SHARD_PARKED, memory_order_release);
	if (ok)
		stat_add(&s->stats.borrowed_keyspaces, 1);
	return ok;
}

static void txn_acquire_next(struct shard *s, struct txn *t)
{
	while (t->acquired < t->nshards) {
		uint32_t target = t->shards[t->acquired];
		if (target != s->id && txn_borrow(s, t, target)) {
			t->acquired++;
			continue;
		}
		if (target != s->id) {
			t->m.type = MSG_LOCK;
			shard_send(s, target, &t->m);
			return;
		}
		if (s->holder || s->yielding) {
			t->m.type = MSG_LOCK;
			t->m.from = s->id;
			shard_deferred_push(s, &t->m);
			return;
		}
		if (shard_turnon_defers(s, t)) {
			turnon_defer(s, t);
			return;
		}
		txn_take_local(s, t);
	}
	txn_execute(s, t);
}

void shard_start_txn(struct shard *s, struct conn *c, const struct kv_command *cmd,
			    int argc, const struct kv_slice *argv,
			    const uint32_t *shards, uint32_t nshards)
{
	size_t lsn_off = (sizeof(struct txn) + nshards * sizeof(uint32_t) + 7) & ~(size_t)7;
	size_t head = lsn_off + nshards * sizeof(uint64_t);
	struct txn *t = shard_call_copy(head, offsetof(struct txn, call), cmd, argc, argv, s->now_ms);
	t->lsns = (uint64_t *)((char *)t + lsn_off);
	t->id = atomic_fetch_add_explicit(&g_server.next_txn_id, 1, memory_order_relaxed);
	t->home = s->id;
	t->nshards = nshards;
	t->acquired = 0;
	t->side = -1;
	memcpy(t->shards, shards, nshards * sizeof(uint32_t));
	t->call.dbid = c->db;
	t->call.conn = c;
	t->call.trk_caller = c->id;
	t->call.trk_remember = tracking_remember_id(c);
	t->call.slot = conn_reserve_slot(c);
	c->inflight++;
	c->txn_inflight++;
	/* One shard: a call of another shard's keys (fwd_borrows). */
	stat_add(nshards > 1 ? &s->stats.multi_shard_commands : &s->stats.forwarded_commands, 1);
	bool exec = multi_is_exec(cmd);
	bool follows = exec ? multi_exec_pipelines(c) : shard_cmd_pipelines(cmd);
	uint32_t work = txn_work(c, cmd, argc);
	if (exec)
		multi_exec_detach(c);
	if (txn_chain_join(s, c, t, work)) {
		c->chain_id = follows ? s->txn_open->id : 0;
		return;
	}
	t->chain_work = work;
	t->chain_cap = TXN_CHAIN_MAX;
	if (s->now_ms < s->chain_short_until) {
		t->chain_cap = TXN_CHAIN_CONTENDED;
		stat_add(&s->stats.short_chains, 1);
	}
	c->chain_id = follows ? t->id : 0;
	s->txn_open = t;
	txn_acquire_next(s, t);
}

struct txn *shard_sys_txn_new(const uint32_t *shards, uint32_t nshards,
			      void (*fn)(struct shard *home, struct kv_dbs **held, void *arg),
			      void *arg)
{
	kv_assert(nshards >= 1);
	size_t lsn_off = (sizeof(struct txn) + nshards * sizeof(uint32_t) + 7) & ~(size_t)7;
	struct txn *t = kv_calloc(1, lsn_off + nshards * sizeof(uint64_t));
	t->lsns = (uint64_t *)((char *)t + lsn_off);
	t->id = atomic_fetch_add_explicit(&g_server.next_txn_id, 1, memory_order_relaxed);
	t->home = shards[0];
	t->nshards = nshards;
	t->side = -1;
	t->sys_fn = fn;
	t->sys_arg = arg;
	t->m.type = MSG_LOCK;
	t->m.from = shards[0];
	memcpy(t->shards, shards, nshards * sizeof(uint32_t));
	return t;
}

/* Grant this shard's keyspace to a txn coordinated elsewhere. */
static void txn_grant_remote(struct shard *s, struct txn *t)
{
	txn_hold(s, t);
	t->m.type = MSG_GRANT;
	/* After the notifications of what ran here before (gate.c). */
	shard_send_when_durable(s, t->home, &t->m, 0, false);
}

static void shard_handle_lock(struct shard *s, struct shard_msg *m)
{
	struct txn *t = (struct txn *)m;
	if (s->holder || s->yielding) {
		shard_deferred_push(s, m);
		return;
	}
	if (shard_turnon_defers(s, t)) {
		turnon_defer(s, t);
		return;
	}
	if (t->home == s->id) {
		txn_take_local(s, t);
		txn_acquire_next(s, t);
	} else {
		txn_grant_remote(s, t);
	}
}

/* The keyspace became free: run what waited for it, in arrival order, until
 * a txn takes it again; then let paused clients continue.
 *
 * Fairness: when both this shard's own clients (paused on the hold) and
 * other shards' txns or forwarded commands (deferred) wait, the clients go
 * first, for one turn of the loop (yielding; shard_yield_end): without it
 * a steady stream of txns (chains of MSETs from two homes) takes the
 * keyspace again at every release and the paused clients wait until the
 * stream stops.  While yielding, whatever would be deferred behind a
 * holder is deferred behind the queue, so the queue keeps its order. */
static void keyspace_free_run(struct shard *s, bool may_yield)
{
	if (may_yield && !s->yielding && s->paused_head && s->deferred.head) {
		s->yielding = true;
		s->yield_ready = false;
	} else {
		s->yielding = false;
	}
	while (!s->holder && !s->yielding) {
		struct shard_msg *m = shard_deferred_pop(s);
		if (!m)
			break;
		if (m->type == MSG_EXEC)
			fwd_execute(s, (struct fwd_req *)m);
		else
			shard_handle_lock(s, m);
	}
	if (s->holder)
		return;
	while (s->paused_head) {
		struct conn *c = s->paused_head;
		s->paused_head = c->paused_next;
		c->in_paused = false;
		c->paused = false;
		conn_schedule(s, c);
	}
}

static void shard_keyspace_freed(struct shard *s)
{
	keyspace_free_run(s, true);
}

/* Around the loop's ready clients (shard.c): mark notes a yield on before
 * they run; end, after them, ends such a yield and runs the deferred
 * queue.  Returns whether a yield is still on (the loop must turn again
 * rather than park). */
void shard_yield_mark(struct shard *s)
{
	s->yield_ready = s->yielding;
}

bool shard_yield_end(struct shard *s)
{
	if (!s->yielding)
		return false;
	if (!s->yield_ready)
		return true;   /* began during this turn's clients: after the next */
	kv_assert(!s->holder);
	keyspace_free_run(s, false);
	return false;
}

/* A txn from another shard released this keyspace: tell its home once the
 * effects (and whatever its reads saw) are durable here. */
static void shard_ack_txn(struct shard *s, const struct release_msg *rel, bool wrote,
			  uint64_t wrote_lsn, bool lost)
{
	struct durable_ack *a = kv_calloc(1, sizeof(*a));
	a->m.type = MSG_DURABLE;
	a->conn = rel->conn;
	a->slot = rel->slot;
	a->track = rel->track;
	bool durable = rel->ack == 2;
	if (lost) {
		/* Its part here was not logged (the chain's check above). */
		a->failed = true;
		snprintf(a->error, sizeof(a->error),
			 "ERR the command's effects on shard %u could not be logged; retry it", s->id);
		shard_send_when_durable(s, rel->m.from, &a->m, 0, false);
		return;
	}
	if (rel->unit_lsn && wrote_lsn && s->aof.state != AOF_FAILED) {
		/* A part of a unit across shards: acknowledged when ready
		 * (gate.c, commit-wait). */
		if (durable)
			aof_want_fsync(&s->aof);
		shard_unit_part_wait(s, wrote_lsn, durable, a, rel->m.from, NULL);
		shard_durability_advance(s);
		return;
	}
	/* Under the policy the rule is a reply's (shard_reply_tag): a read is
	 * not held while this shard refuses writes.  WAITAOF asks for an fsync
	 * and fails if none can be had. */
	uint64_t lsn = rel->blind && !wrote ? 0 : shard_reply_tag(s);
	/* But the txn's own records here (wrote_lsn) were let in while this
	 * shard still accepted writes, and it may have started refusing since
	 * (the txn ran on another thread): they wait for the retry like any
	 * write's, or fail with the AOF.  Acknowledging them at once let a
	 * kill -9 lose an acknowledged cross-shard EXEC (crash_kill). */
	if (wrote && shard_aof_on() && !durable) {
		if (s->aof.state == AOF_FAILED) {
			a->failed = true;
			snprintf(a->error, sizeof(a->error), "%s", aof_write_error(&s->aof));
			lsn = 0;
		} else if (wrote_lsn > lsn && !shard_lsn_ready(s, wrote_lsn, false)) {
			lsn = s->aof.last_lsn;
		}
	}
	if (durable) {
		aof_want_fsync(&s->aof);
		lsn = s->aof.last_lsn > s->aof.durable_lsn ? s->aof.last_lsn : 0;
		if (lsn && s->aof.state == AOF_FAILED) {
			a->failed = true;
			snprintf(a->error, sizeof(a->error), "%s", aof_write_error(&s->aof));
			lsn = 0;
		}
	}
	shard_send_when_durable(s, rel->m.from, &a->m, lsn, durable);
}

/* ------------------------------------------------------------------ */
/* SAVE: waiting for every shard's snapshot */

/* SAVE: an acknowledgement to `home` once this shard's snapshot ends. */
static void shard_save_wait(struct shard *s, uint32_t home, struct conn *c,
			    struct reply_slot *slot)
{
	struct durable_ack *a = kv_calloc(1, sizeof(*a));
	a->m.type = MSG_DURABLE;
	a->m.wait_to = home;
	a->conn = c;
	a->slot = slot;
	msg_fifo_push(&s->save_waiters, &a->m);
}

void shard_snapshot_done(void *shard, bool ok)
{
	struct shard *s = shard;
	struct shard_msg *m;
	while ((m = msg_fifo_pop(&s->save_waiters)) != NULL) {
		struct durable_ack *a = (struct durable_ack *)m;
		if (!ok) {
			a->failed = true;
			snprintf(a->error, sizeof(a->error), "ERR Background save failed: see the log");
		}
		if (m->wait_to == s->id)
			shard_handle_durable(s, a);
		else
			shard_send(s, m->wait_to, m);
	}
}

static void shard_handle_durable(struct shard *s, struct durable_ack *a)
{
	struct conn *c = a->conn;
	struct reply_slot *slot = a->slot;
	kv_assert(slot->acks > 0);
	slot->acks--;
	if (a->failed)
		shard_reply_error(s, &slot->buf, a->error);
	if (a->track)
		shard_unit_ack_in(s, a->track, a->failed);
	free(a);
	conn_drain_slots(s, c);
	conn_release_inflight(s, c);
}

/* ------------------------------------------------------------------ */
/* blocked clients */

/* The command that just ran asked to block: keep its reply slot open and
 * a copy of it to run again when woken; dispatch nothing more meanwhile. */
static void blocking_commit(struct shard *s, struct conn *c, const struct kv_command *cmd,
			    int argc, const struct kv_slice *argv, struct reply_slot *slot)
{
	c->block_pending = false;
	c->blocked = true;
	/* A CLIENT UNBLOCK that came too late for an earlier block is void. */
	atomic_store_explicit(&c->unblock_request, UNBLOCK_REQ_NONE, memory_order_relaxed);
	stat_add(&s->stats.blocked_clients, 1);
	c->block_slot = slot;
	c->inflight++;
	c->blocked_prev = NULL;
	c->blocked_next = s->blocked_conns;
	if (s->blocked_conns)
		s->blocked_conns->blocked_prev = c;
	s->blocked_conns = c;
	conn_publish_info(c);   /* a txn blocks after its dispatch returned */
}

void conn_unblock(struct shard *s, struct conn *c, enum unblock_how how,
			 struct kv_buf *served, struct cmd_call *retry)
{
	if (c->blocked_prev)
		c->blocked_prev->blocked_next = c->blocked_next;
	else
		s->blocked_conns = c->blocked_next;
	if (c->blocked_next)
		c->blocked_next->blocked_prev = c->blocked_prev;
	c->blocked_next = c->blocked_prev = NULL;
	c->blocked = false;
	stat_add(&s->stats.blocked_clients, (uint64_t)-1);
	struct kv_buf reply = KV_BUF_INIT;
	if (how == UNBLOCK_TIMEOUT) {
		reply.proto = c->proto;
		resp_null_array(&reply);
	} else if (how == UNBLOCK_ERROR) {
		resp_error(&reply, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
		stat_error(&s->stats, reply.data, reply.len);
	}
	else if (served)
		reply = *served;
	if (how == UNBLOCK_WOKEN)
		shard_tag_slot(s, c->block_slot);
	conn_fill_slot(s, c, c->block_slot, &reply);
	c->block_slot = NULL;
	if (retry && !c->io_closed)
		c->retry_call = retry;
	else
		free(retry);
	conn_release_inflight(s, c);
	conn_publish_info(c);
}

/* A write on some shard claimed this shard's blocked client. */
static void shard_handle_wake(struct shard *s, struct shard_msg *m)
{
	struct conn *c = blocking_wake_conn(m);
	kv_assert(c->blocked);
	struct kv_buf reply = KV_BUF_INIT;
	struct cmd_call *retry;
	/* Served: the slow log gets the command as the client sent it, now,
	 * with the time it ran before blocking (Redis logs a blocked command
	 * when it is unblocked).  One to run again is logged when it runs. */
	const struct cmd_call *bc = blocking_served_call(c);
	const struct kv_command *served = bc ? bc->cmd : NULL;
	if (bc)
		shard_slowlog(s, c, bc->cmd, bc->argc, bc->argv, c->block_duration_us);
	blocking_take_result(c, &reply, &retry);
	if (served && reply.len > 0 && reply.data[0] == '-') {
		/* A read served where the stream lives replied an error (its
		 * group or key went away): counted as the run that failed (the
		 * call itself was counted when it blocked). */
		stat_error(&s->stats, reply.data, reply.len);
		struct cmd_stat *cs = shard_cmd_stat(s, served);
		if (cs)
			stat_add(&cs->failed, 1);
	}
	conn_unblock(s, c, UNBLOCK_WOKEN, &reply, retry);
}

void shard_run_local_wakes(struct shard *s)
{
	struct shard_msg *m;
	while ((m = msg_fifo_pop(&s->wakes)) != NULL)
		shard_handle_wake(s, m);
}

/* Time out blocked clients; returns microseconds until the next deadline
 * (INT64_MAX when none). */
int64_t shard_block_timeouts(struct shard *s)
{
	int64_t next = INT64_MAX;
	struct conn *c = s->blocked_conns;
	while (c) {
		struct conn *n = c->blocked_next;
		int req = atomic_exchange_explicit(&c->unblock_request, UNBLOCK_REQ_NONE,
						   memory_order_relaxed);
		if (req != UNBLOCK_REQ_NONE) {
			/* CLIENT UNBLOCK: as a timeout, or with an error. */
			if (blocking_finish(c, false))
				conn_unblock(s, c, req == UNBLOCK_REQ_ERROR ? UNBLOCK_ERROR
									     : UNBLOCK_TIMEOUT, NULL, NULL);
		} else if (c->block_deadline_ms > 0) {
			if (s->now_ms >= c->block_deadline_ms) {
				if (blocking_finish(c, false))
					conn_unblock(s, c, UNBLOCK_TIMEOUT, NULL, NULL);
			} else {
				int64_t us = (c->block_deadline_ms - s->now_ms) * 1000;
				next = us < next ? us : next;
			}
		}
		c = n;
	}
	return next;
}

/* ------------------------------------------------------------------ */
/* messages from other shards */

static void shard_handle_msg(struct shard *s, struct shard_msg *m)
{
	switch (m->type) {
	case MSG_EXEC:
		if (s->holder || s->yielding) {
			s->held_waits++;
			shard_deferred_push(s, m);
		} else
			fwd_execute(s, (struct fwd_req *)m);
		break;
	case MSG_REPLY:
		fwd_replied(s, (struct fwd_req *)m);
		break;
	case MSG_LOCK:
		shard_handle_lock(s, m);
		break;
	case MSG_GRANT: {
		struct txn *t = (struct txn *)m;
		t->acquired++;
		txn_acquire_next(s, t);
		break;
	}
	case MSG_WAKE:
		shard_handle_wake(s, m);
		break;
	case MSG_BCAST:
		bcast_part_run(s, (struct bcast_part *)m);
		break;
	case MSG_BCAST_DONE:
		bcast_part_done(s, (struct bcast_part *)m);
		break;
	case MSG_RELEASE: {
		struct release_msg *rel = (struct release_msg *)m;
		kv_assert(s->holder && s->holder_id == rel->txn_id);
		/* The txn's effects here are logged before anything else can
		 * touch the keyspace, so the AOF keeps the keyspace's order. */
		uint64_t wrote_lsn = 0;   /* 0 and FAILED: over the record limit */
		bool wrote = rel->effects.len > 0 && shard_aof_on();
		bool lost = false;
		if (rel->effects.len) {
			atomic_fetch_add_explicit(&s->changes, 1, memory_order_relaxed);
			if (shard_aof_on() && rel->unit_lsn && rel->predicted &&
			    rel->unit_lsn != s->aof.last_lsn + 1) {
				/* A chain's member whose LSN here was foreseen wrong
				 * (route.c, "chains"): its header would name another
				 * record, so the part is not logged and the txn fails. */
				log_warning("shard %u: a unit's part expected LSN %" PRIu64
					    " but the next is %" PRIu64 "; not logged, its command fails",
					    s->id, rel->unit_lsn, s->aof.last_lsn + 1);
				lost = true;
			} else if (shard_aof_on() && rel->unit_lsn) {
				wrote_lsn = aof_append_typed(&s->aof, AOF_REC_UNIT, rel->effects.data,
							     rel->effects.len);
				/* Invariant H (docs/durability.md): nothing was
				 * appended here while the txn held the keyspace. */
				kv_assert(wrote_lsn == 0 || wrote_lsn == rel->unit_lsn);
			} else if (shard_aof_on()) {
				wrote_lsn = aof_append(&s->aof, rel->effects.data, rel->effects.len);
			}
		}
		kv_buf_free(&rel->effects);
		if (rel->ack)
			shard_ack_txn(s, rel, wrote, wrote_lsn, lost);
		if (rel->save_wait)
			shard_save_wait(s, rel->m.from, rel->conn, rel->slot);
		while (rel->wakes) {
			struct shard_msg *w = rel->wakes;
			rel->wakes = w->next;
			shard_send_when_durable(s, w->wait_to, w, shard_reply_tag(s), false);
		}
		if (rel->next_txn_id) {
			/* A chain goes on: the next txn of the same home holds it. */
			s->holder_id = rel->next_txn_id;
			free(rel);
			break;
		}
		s->holder = NULL;
		free(rel);
		shard_keyspace_freed(s);
		break;
	}
	case MSG_DURABLE:
		shard_handle_durable(s, (struct durable_ack *)m);
		break;
	case MSG_UNIT_STABLE:
		shard_on_unit_stable(s, (struct unit_stable_msg *)m);
		break;
	case MSG_NOTIFY:
		/* Delivered at once, whoever holds the keyspace: the sender's
		 * replies wait for it (gate.c). */
		pubsub_deliver_batch(s, &((struct notify_part *)m)->b->payload);
		tracking_deliver_batch(s, &((struct notify_part *)m)->b->trk);
		m->type = MSG_NOTIFY_DONE;
		if (s->trk_out.len) {
			/* Invalidations for REDIRECT targets on other shards: they
			 * go now, and the sender's reply waits for them too. */
			shard_notify_flush(s);
			shard_send_when_durable(s, m->from, m, 0, false);
		} else {
			shard_send(s, m->from, m);
		}
		break;
	case MSG_NOTIFY_DONE:
		shard_notify_part_done(s, (struct notify_part *)m);
		break;
	case MSG_CONN_ADOPT:
		migrate_adopt(s, m);
		break;
	default:
		kv_assert(!"unknown shard message");
	}
}

int shard_drain_rings(struct shard *s)
{
	int n = 0;
	struct shard_msg *m = shard_inbox_take(s);
	while (m) {
		struct shard_msg *next = m->next;
		shard_handle_msg(s, m);
		m = next;
		n++;
	}
	for (uint32_t from = 0; from < g_server.nshards; from++) {
		if (from == s->id)
			continue;
		int budget = SHARD_RING_SLOTS;
		while (budget-- > 0 && (m = spsc_pop(&s->in[from])) != NULL) {
			shard_handle_msg(s, m);
			n++;
		}
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* dispatch */

static void conn_pause(struct shard *s, struct conn *c)
{
	c->paused = true;
	if (c->in_paused)
		return;
	c->in_paused = true;
	c->paused_next = s->paused_head;
	s->paused_head = c;
}

/* After a command ran here: its reply (in slot, or at out[before..] when
 * it went straight to the output) waits for the AOF if it must. */
static void reply_hold(struct shard *s, struct conn *c, const struct cmd_call *call,
		       struct reply_slot *slot, struct kv_buf *out, size_t before,
		       uint64_t lsn_before, const struct reply_tag *wdep)
{
	const struct kv_command *cmd = call->cmd;
	bool durable = cmd->flags & CMD_WAIT_DURABLE;
	struct reply_tag rt = shard_call_tag(s, call, wdep, lsn_before);
	bool split = rt.split;
	uint64_t tag = rt.lsn;
	if (durable && shard_aof_on()) {
		aof_want_fsync(&s->aof);
		split = false;
		tag = s->aof.last_lsn > s->aof.durable_lsn ? s->aof.last_lsn : 0;
		if (tag && s->aof.state == AOF_FAILED) {
			/* Straight to the output: only this command's reply (from
			 * `before`) is replaced; earlier unsent replies stay. */
			if (slot)
				shard_reply_error(s, &slot->buf, aof_write_error(&s->aof));
			else
				shard_reply_error_at(s, out, before, aof_write_error(&s->aof));
			tag = 0;
		}
	}
	uint64_t nseq = shard_notify_tag(s);
	if (nseq == 0 && (split ? shard_tag_ready(s, tag, true, rt.dep, false) : tag == 0))
		return;
	if (!slot) {
		/* Move the reply out of the output into a slot of its own. */
		kv_assert(out == &c->out && !c->slots_head);
		slot = conn_reserve_slot(c);
		kv_buf_append(&slot->buf, out->data + before, out->len - before);
		out->len = before;
		slot->done = true;
	}
	slot->lsn = tag;
	slot->nseq = nseq;
	slot->durable = durable;
	slot->split = split;
	slot->dep = split ? rt.dep : 0;
	conn_gate(s, c);
}

static void run_here(struct shard *s, struct conn *c, const struct kv_command *cmd,
		     int argc, const struct kv_slice *argv)
{
	if (cmd->flags & CMD_BLOCKING) {
		/* It may block: its reply must be able to wait in a slot. */
		struct reply_slot *slot = conn_reserve_slot(c);
		struct kv_buf reply = KV_BUF_INIT;
		struct cmd_call call = { .cmd = cmd, .argc = argc, .argv = (struct kv_slice *)argv,
					 .now_ms = s->now_ms, .dbid = c->db, .trk_caller = c->id,
					 .trk_remember = tracking_remember_id(c) };
		shard_call_run(s, &call, c, s->held_local, &reply);
		shard_unit_commit(s);
		if (c->block_pending) {
			blocking_commit(s, c, cmd, argc, argv, slot);
			kv_buf_free(&reply);
		} else {
			shard_tag_slot(s, slot);
			conn_fill_slot(s, c, slot, &reply);
		}
		return;
	}
	struct kv_buf *out = conn_reply_target(c);
	struct reply_slot *slot = out == &c->out ? NULL : c->slots_tail;
	size_t before = out->len;
	struct cmd_call call = { .cmd = cmd, .argc = argc, .argv = (struct kv_slice *)argv,
				 .now_ms = s->now_ms, .dbid = c->db, .trk_caller = c->id,
				 .trk_remember = tracking_remember_id(c) };
	uint64_t lsn_before = s->aof.last_lsn;
	struct reply_tag wdep;
	bool wkeys = shard_write_dep(s, cmd, argc, argv, c->db, &wdep);
	shard_call_run(s, &call, c, s->held_local, out);
	shard_unit_commit(s);
	if (c->wait_repl) {
		/* WAIT waits for replicas: its reply (written later) gets a
		 * slot of its own, held open. */
		if (!slot) {
			slot = conn_reserve_slot(c);
			slot->done = true;
		}
		repl_wait_commit(s, c, slot);
	}
	bool wait_shards = (cmd->flags & CMD_WAIT_SNAPSHOT) || c->wait_shards;
	c->wait_shards = false;
	if (wait_shards && out->len > before && out->data[before] != '-') {
		/* SAVE on a one-shard server: the reply waits for the snapshot. */
		if (!slot) {
			slot = conn_reserve_slot(c);
			kv_buf_append(&slot->buf, out->data + before, out->len - before);
			out->len = before;
			slot->done = true;
		}
		slot->acks++;
		c->inflight++;
		shard_save_wait(s, s->id, c, slot);
	}
	if (!(cmd->flags & CMD_LOCAL) || (cmd->flags & CMD_WAIT_DURABLE))
		reply_hold(s, c, &call, slot, out, before, lsn_before, wkeys ? &wdep : NULL);
	if (out == &c->out || slot)
		conn_mark_flush(s, c);
}

/* A command refused before it ran: its error, counted as a rejected call of
 * stat_cmd (NULL: an unknown command or subcommand, which Redis counts
 * nowhere but in errorstats). */
static void reply_now(struct shard *s, struct conn *c, const struct kv_command *stat_cmd,
		      void (*fn)(struct kv_buf *, const void *), const void *arg)
{
	struct kv_buf *out = conn_reply_target(c);
	size_t at = out->len;
	fn(out, arg);
	shard_count_rejected(s, stat_cmd ? shard_cmd_stat(s, stat_cmd) : NULL, out->data + at,
			     out->len - at);
	conn_mark_flush(s, c);
}

static void reply_execabort(struct kv_buf *out, const void *why)
{
	resp_errorf(out, "EXECABORT Transaction discarded because of: %s", (const char *)why);
}

static void reply_error_str(struct kv_buf *out, const void *msg)
{
	resp_error(out, msg);
}

struct unknown_args {
	int argc;
	const struct kv_slice *argv;
};

static void reply_unknown(struct kv_buf *out, const void *arg)
{
	const struct unknown_args *u = arg;
	cmd_reply_unknown(out, u->argc, u->argv);
}

struct unknown_sub {
	const struct kv_command *cmd;
	const struct kv_slice *name;
};

static void reply_unknown_sub(struct kv_buf *out, const void *arg)
{
	const struct unknown_sub *u = arg;
	cmd_reply_unknown_sub(out, u->cmd->name, u->name);
}

struct acl_denial {
	enum acl_verdict v;
	const struct kv_command *target;
};

static void reply_acl_denied(struct kv_buf *out, const void *arg)
{
	const struct acl_denial *d = arg;
	acl_reply_denied(out, d->v, d->target);
}

static void reply_arity(struct kv_buf *out, const void *cmd)
{
	cmd_reply_arity(out, cmd);
}

/* CLIENT PAUSE: whether cmd must wait now.  WRITE pauses what may write
 * or replicate (an EXEC by what it queued), ALL every command, as in Redis
 * 7.0 (the pausing client too; the pause ends by its timeout or UNPAUSE). */
static bool client_paused_for(struct shard *s, const struct conn *c,
			      const struct kv_command *cmd)
{
	int64_t end = atomic_load_explicit(&g_server.pause_end_ms, memory_order_relaxed);
	if (end == 0 || kv_time_ms() >= end)
		return false;
	(void)s;
	if (atomic_load_explicit(&g_server.pause_all, memory_order_relaxed))
		return true;
	uint32_t flags = cmd->flags;
	if (strcmp(cmd->name, "exec") == 0)
		flags |= c->mq_flags;
	return flags & (CMD_WRITE | CMD_MAY_REPLICATE);
}

int64_t shard_client_pause_turn(struct shard *s)
{
	if (!s->paused_head || s->holder)
		return INT64_MAX;
	int64_t end = atomic_load_explicit(&g_server.pause_end_ms, memory_order_relaxed);
	int64_t now = kv_time_ms();
	bool waiting = false;
	for (struct conn *c = s->paused_head; c && !waiting; c = c->paused_next)
		waiting = c->pause_wait;
	if (!waiting)
		return INT64_MAX;
	if (end != 0 && now < end)
		return (end - now) * 1000;
	/* Over: every postponed client runs its command again (one paused for
	 * another reason would pause again, harmlessly). */
	while (s->paused_head) {
		struct conn *c = s->paused_head;
		s->paused_head = c->paused_next;
		c->in_paused = false;
		c->paused = false;
		c->pause_wait = false;
		conn_schedule(s, c);
	}
	return INT64_MAX;
}

void conn_publish_info(struct conn *c)
{
	uint32_t f = 0, sub, psub, ssub;
	pubsub_counts(c, &sub, &psub, &ssub);
	if (sub + psub + ssub > 0)
		f |= CONN_INFO_PUBSUB;
	if (c->in_multi)
		f |= CONN_INFO_MULTI;
	if (c->blocked || c->wait_blocked)
		f |= CONN_INFO_BLOCKED;
	if (c->pause_wait)
		f |= CONN_INFO_POSTPONED;
	if (c->close_after_reply)
		f |= CONN_INFO_CLOSE;
	if (c->no_evict)
		f |= CONN_INFO_NO_EVICT;
	if (c->monitor)
		f |= CONN_INFO_MONITOR;
	if (c->trk_flags & TRK_ON)
		f |= CONN_INFO_TRACKING;
	if (c->trk_flags & TRK_BROKEN)
		f |= CONN_INFO_TRK_BROKEN;
	if (c->trk_flags & TRK_BCAST)
		f |= CONN_INFO_TRK_BCAST;
	atomic_store_explicit(&c->info_flags, f, memory_order_relaxed);
	atomic_store_explicit(&c->info_redir, (c->trk_flags & TRK_ON) ? (int64_t)c->trk_redirect : -1,
			      memory_order_relaxed);
	atomic_store_explicit(&c->info_db, c->db, memory_order_relaxed);
	atomic_store_explicit(&c->info_sub, sub, memory_order_relaxed);
	atomic_store_explicit(&c->info_psub, psub, memory_order_relaxed);
	atomic_store_explicit(&c->info_ssub, ssub, memory_order_relaxed);
	atomic_store_explicit(&c->info_multi, c->in_multi ? (int32_t)c->mq_count : -1,
			      memory_order_relaxed);
}

/* MONITOR sees a command as it starts to run (not when MULTI queues it,
 * nor again when a woken blocked command runs again); EXEC shows itself
 * after its queued commands (multi.c). */
static void dispatch_monitor(struct shard *s, const struct conn *c,
			     const struct kv_command *cmd, int argc, const struct kv_slice *argv)
{
	/* Admin commands are hidden by their own flags: a subcommand's
	 * (CONFIG GET), as in Redis. */
	if (monitor_any() && !c->in_retry && strcmp(cmd->name, "exec") != 0)
		monitor_feed(s, c, c->db, cmd_stat_target(cmd, argc, argv), argc, argv);
}

static enum dispatch_result dispatch_command(struct shard *s, struct conn *c, int argc,
					     const struct kv_slice *argv)
{
	uint32_t shards[SHARD_MAX];
	uint32_t n;
	const struct kv_command *cmd = follow_take(s, c, argv, &n, shards);
	if (!cmd)
		cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	/* A command rejected here also dooms an open MULTI (EXECABORT). */
	if (!cmd) {
		struct unknown_args u = { argc, argv };
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, NULL, reply_unknown, &u);
		return DISPATCH_DONE;
	}
	if (!c->authenticated && !(cmd->flags & CMD_NOAUTH) && acl_auth_required()) {
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, cmd_stat_target(cmd, argc, argv), reply_error_str,
			  RESP_ERR_NOAUTH);
		return DISPATCH_DONE;
	}
	if (!cmd_arity_ok(cmd, argc)) {
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, cmd, reply_arity, cmd);
		return DISPATCH_DONE;
	}
	/* A container's subcommand is checked here too, as Redis's lookup does,
	 * so MULTI refuses to queue CONFIG GET_XX instead of failing in EXEC. */
	if (cmd->subcommands && argc >= 2) {   /* COMMAND alone lists every command */
		const struct kv_command *sub = cmd_find_sub(cmd->subcommands, &argv[1]);
		if (!sub) {
			struct unknown_sub u = { cmd, &argv[1] };
			c->multi_dirty |= c->in_multi;
			reply_now(s, c, NULL, reply_unknown_sub, &u);
			return DISPATCH_DONE;
		}
		if (!cmd_arity_ok(sub, argc)) {
			c->multi_dirty |= c->in_multi;
			reply_now(s, c, sub, reply_arity, sub);
			return DISPATCH_DONE;
		}
	}
	/* Redis's protected commands: DEBUG and MODULE LOAD/LOADEX/UNLOAD run
	 * only where enable-debug-command / enable-module-command allow. */
	if ((cmd->flags | cmd_stat_target(cmd, argc, argv)->flags) & CMD_PROTECTED) {
		bool debug = strcmp(cmd->name, "debug") == 0;
		int allow = debug ? g_config.enable_debug_cmd : g_config.enable_module_cmd;
		if (allow != KV_PROTECTED_YES && !(allow == KV_PROTECTED_LOCAL && c->local)) {
			char msg[320];
			snprintf(msg, sizeof(msg), "ERR %s command not allowed. If the %s option is "
				 "set to \"local\", you can run it from a local connection, otherwise "
				 "you need to set this option in the configuration file, and then "
				 "restart the server.", debug ? "DEBUG" : "MODULE",
				 debug ? "enable-debug-command" : "enable-module-command");
			c->multi_dirty |= c->in_multi;
			reply_now(s, c, cmd_stat_target(cmd, argc, argv), reply_error_str, msg);
			return DISPATCH_DONE;
		}
	}
	/* ACL (docs/acl.md): checked here, on the client's shard, before the
	 * call is queued, forwarded or locks anything, so a denied command
	 * never reaches another shard.  Inside MULTI it is checked again at
	 * EXEC, as Redis does, in case the rules changed in between. */
	int acl_pos;
	enum acl_verdict acl = acl_check(c->user, cmd, argc, argv, &acl_pos);
	if (acl != ACL_OK) {
		const struct kv_command *target = cmd_stat_target(cmd, argc, argv);
		shard_acl_log(c, c->user, acl, c->in_multi ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL,
			      target, argv, acl_pos);
		struct acl_denial d = { acl, target };
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, target, reply_acl_denied, &d);
		return DISPATCH_DONE;
	}
	/* A script past busy-reply-threshold on any shard: Redis's -BUSY to
	 * all but what can end it (docs/scripting.md). */
	const char *busy = script_busy_error();
	if (busy && !script_allowed_while_busy(cmd, argc, argv)) {
		if (c->in_multi && strcmp(cmd->name, "exec") == 0) {
			/* Redis's execCommandAbort: the transaction is gone. */
			multi_abort(c);
			reply_now(s, c, cmd, reply_execabort, busy);
			return DISPATCH_DONE;
		}
		c->multi_dirty |= c->in_multi;   /* EXECABORT later, as Redis */
		reply_now(s, c, cmd_stat_target(cmd, argc, argv), reply_error_str, busy);
		return DISPATCH_DONE;
	}
	if (s->in_busy_turn && !(cmd->flags & CMD_LOCAL)) {
		/* Allowed while busy but needing keyspaces (WATCH, UNWATCH,
		 * DISCARD, RESET), on the busy script's own shard: it runs
		 * once the script ends (a later turn). */
		conn_schedule(s, c);
		return DISPATCH_WAIT;
	}
	/* Recorded before running (and before queueing in MULTI), as Redis
	 * does: CLIENT LIST shows itself, by its full name ("client|list"). */
	atomic_store_explicit(&c->last_cmd, cmd_stat_target(cmd, argc, argv)->name,
			      memory_order_relaxed);
	/* Only RESP2 mixes messages and replies on one stream; a RESP3 client
	 * tells them apart by type (pushes) and may run any command. */
	if (c->pubsub && c->proto < RESP_PROTO_3 && pubsub_count(c) > 0 &&
	    !pubsub_allowed_in_subscriber_mode(cmd)) {
		char msg[200];
		snprintf(msg, sizeof(msg), "ERR Can't execute '%s': only (P|S)SUBSCRIBE / "
			 "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
			 cmd->name);
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, cmd_stat_target(cmd, argc, argv), reply_error_str, msg);
		return DISPATCH_DONE;
	}
	if (client_paused_for(s, c, cmd)) {
		/* CLIENT PAUSE: the command waits, unparsed, until the pause ends
		 * (shard_client_pause_turn), as Redis postpones it. */
		c->pause_wait = true;
		conn_pause(s, c);
		return DISPATCH_WAIT;
	}
	if (c->monitor && (cmd->flags & (CMD_WRITE | CMD_READONLY | CMD_MAY_REPLICATE))) {
		/* A monitor is a replica to Redis, which keeps it off the keyspace. */
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, cmd_stat_target(cmd, argc, argv), reply_error_str,
			  "ERR Replica can't interact with the keyspace");
		return DISPATCH_DONE;
	}
	const char *stale;
	if (!((cmd->flags | cmd_stat_target(cmd, argc, argv)->flags) & CMD_STALE) &&
	    (stale = repl_stale_refused()) != NULL) {
		/* replica-serve-stale-data no: a replica without its primary
		 * answers only what Redis's CMD_STALE commands are (a script
		 * checks its own flags: server/script.c). */
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, cmd_stat_target(cmd, argc, argv), reply_error_str, stale);
		return DISPATCH_DONE;
	}
	if (c->in_multi && (cmd->flags & CMD_NO_MULTI)) {
		/* SAVE and SHUTDOWN are refused inside MULTI, as in Redis. */
		c->multi_dirty = true;
		reply_now(s, c, cmd_stat_target(cmd, argc, argv), reply_error_str,
			  "ERR Command not allowed inside a transaction");
		return DISPATCH_DONE;
	}
	bool queues = c->in_multi && multi_queues(cmd);
	if (queues && shard_oom_at_queue(s, cmd, argc, argv)) {
		/* Out of memory, Redis refuses to queue anything (even a read):
		 * the queue could grow without bound.  EXEC then aborts. */
		c->multi_dirty = true;
		reply_now(s, c, cmd_stat_target(cmd, argc, argv), reply_error_str,
			  SHARD_ERR_OOM);
		return DISPATCH_DONE;
	}
	const char *norepl;
	if (queues &&
	    ((cmd->flags | cmd_stat_target(cmd, argc, argv)->flags) & CMD_WRITE) &&
	    (norepl = repl_write_refused()) != NULL) {
		/* min-replicas-to-write: a write is refused, not queued, as in
		 * Redis; EXEC then aborts. */
		c->multi_dirty = true;
		reply_now(s, c, cmd_stat_target(cmd, argc, argv), reply_error_str, norepl);
		return DISPATCH_DONE;
	}
	if (queues) {
		/* Between MULTI and EXEC everything but EXEC, DISCARD, MULTI,
		 * WATCH and QUIT is queued; the reply says so. */
		multi_queue(c, cmd, argc, argv, s->now_ms);
		resp_simple(conn_reply_target(c), "QUEUED");
		conn_mark_flush(s, c);
		return DISPATCH_DONE;
	}
	if (cmd->bcast) {
		dispatch_monitor(s, c, cmd, argc, argv);
		shard_bcast(s, c, cmd, argc, argv, true);
		goto done;
	}
	if (cmd->flags & CMD_LOCAL) {
		/* After it ran: SELECT shows the database it moved to. */
		run_here(s, c, cmd, argc, argv);
		dispatch_monitor(s, c, cmd, argc, argv);
		goto done;
	}
	bool home_only = cmd->conn_shards != NULL && !blocking_never_waits(cmd, argc, argv);
	if (n != UINT32_MAX)
		;   /* found by shard_txn_may_follow */
	else if (home_only)
		n = cmd->conn_shards(c, argc, argv, shards);
	else
		n = shard_call_shards(cmd, argc, argv, shards);
	/* With a txn of its own out, it is a txn that shard_txn_may_follow let
	 * join the chain, even on this shard alone. */
	bool follower = c->txn_inflight > 0 && n > 0;
	if (!follower && (n == 0 || (n == 1 && shards[0] == s->id))) {
		if (s->holder) {
			/* A transaction of this shard alone is the load itself,
			 * not traffic that long chains would starve. */
			if (!multi_is_exec(cmd))
				s->held_waits++;
			conn_pause(s, c);
			return DISPATCH_WAIT;
		}
		/* Logged after it ran, as Redis's call() does (RESET that ends
		 * MONITOR is not shown to that monitor), but a script's line
		 * (CMD_SKIP_MONITOR: Redis writes it itself, before the script
		 * runs) first: its own commands follow its EVAL/FCALL line. */
		bool script = (cmd->flags & CMD_SKIP_MONITOR) && monitor_any();
		if (script)
			dispatch_monitor(s, c, cmd, argc, argv);
		run_here(s, c, cmd, argc, argv);
		if (!script)
			dispatch_monitor(s, c, cmd, argc, argv);
		if (n == 1)
			migrate_note(s, c, s->id);
	} else if (n == 1 && !home_only && !follower) {
		dispatch_monitor(s, c, cmd, argc, argv);
		if (fwd_borrows(s, c, cmd, shards[0]))
			shard_start_txn(s, c, cmd, argc, argv, shards, 1);
		else
			shard_forward(s, c, shards[0], cmd, argc, argv);
		migrate_note(s, c, shards[0]);
	} else {
		dispatch_monitor(s, c, cmd, argc, argv);
		shard_start_txn(s, c, cmd, argc, argv, shards, n);
		migrate_note(s, c, s->id);
	}
done:
	stat_add(&s->stats.commands_processed, 1);
	return DISPATCH_DONE;
}

/*
 * CLIENT REPLY OFF / SKIP.  A command whose reply must not be sent still
 * runs as any other (forwarded, as a txn, blocked); its reply is dropped
 * where replies leave in order: an empty slot (the barrier) is reserved
 * before it runs, so everything the command replies lands in slots after
 * it, and those slots are marked to leave as nothing.  Whether to drop is
 * decided after the command ran, because CLIENT REPLY ON is answered
 * (Redis clears the flag, then replies).  Messages that arrive later (pub/sub
 * pushes) go to slots of their own and are sent, as Redis sends pushes to a
 * client with replies off.
 */
enum dispatch_result shard_dispatch(struct shard *s, struct conn *c, int argc,
				    const struct kv_slice *argv)
{
	c->pause_wait = false;   /* running again: no longer postponed */
	bool skip = c->reply_skip_next;
	if (!skip && !c->reply_off) {
		enum dispatch_result r = dispatch_command(s, c, argc, argv);
		if (r == DISPATCH_DONE)
			tracking_after_command(c, &argv[0]);
		conn_publish_info(c);
		return r;
	}
	c->reply_skip_next = false;
	c->reply_skip_now = skip;      /* CLIENT REPLY ON clears it, and is answered */
	struct reply_slot *barrier = conn_reserve_slot(c);
	c->reply_silenced = true;
	enum dispatch_result r = dispatch_command(s, c, argc, argv);
	c->reply_silenced = false;
	bool discard = r == DISPATCH_DONE && (c->reply_skip_now || c->reply_off);
	c->reply_skip_now = false;
	if (r != DISPATCH_DONE)
		c->reply_skip_next = skip;   /* it runs again: the skip is still due */
	for (struct reply_slot *sl = barrier; sl; sl = sl->next)
		sl->discard = discard && !sl->keep;
	barrier->done = true;
	conn_drain_slots(s, c);
	if (r == DISPATCH_DONE)
		tracking_after_command(c, &argv[0]);
	conn_publish_info(c);
	return r;
}
