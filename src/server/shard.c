/*
 * shard.c - one shard's thread: its loop, its clients, command dispatch and
 * the cross-shard protocol.  The reactors (reactor_uring.c, reactor_epoll.c)
 * only move bytes; everything a command means is decided here.
 *
 * Routing (see shard.h for the life of a command):
 *   - a command that needs no keyspace, or only this shard's, runs at once;
 *   - a command whose keys live on one other shard is copied into a MSG_EXEC
 *     and its reply comes back as MSG_REPLY;
 *   - a command over several shards runs here as a txn after taking the
 *     keyspace of every shard involved, in ascending shard order.  Ordered
 *     acquisition makes a wait-for cycle impossible, and shards never block:
 *     a held shard keeps draining its rings, parking what it cannot run yet
 *     in its deferred FIFO.
 *
 * Per-connection order: a connection's commands are dispatched in order;
 * while a txn of it is out it dispatches nothing more, and a command routed
 * to a shard goes through the same FIFO ring as that connection's earlier
 * commands to that shard, so a client always reads its own writes.  Replies
 * are released in command order through reply slots.
 */
#include "server/server.h"
#include "server/shard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "commands/config.h"
#include "commands/fx.h"
#include "base/kv.h"
#include "base/log.h"

/* Commands one connection may run per loop turn before others get a go. */
#define CONN_DISPATCH_BUDGET 512
/* Input beyond this is compacted to the buffer start once parsed. */
#define CONN_COMPACT_BYTES (64 * 1024)

static void shard_keyspace_freed(struct shard *s);
static void bcast_part_run(struct shard *s, struct bcast_part *part);
static void bcast_part_done(struct shard *s, struct bcast_part *part);
static void txn_acquire_next(struct shard *s, struct txn *t);
static void conn_schedule(struct shard *s, struct conn *c);
static bool slot_ready(struct shard *s, const struct reply_slot *sl);
static void shard_save_wait(struct shard *s, uint32_t home, struct conn *c,
			    struct reply_slot *slot);
static void conn_gate(struct shard *s, struct conn *c);

/* ------------------------------------------------------------------ */
/* messages */

void shard_send(struct shard *s, uint32_t to, struct shard_msg *m)
{
	m->from = s->id;
	m->next = NULL;
	struct shard *dst = g_server.shards[to];
	if (!s->ovf_head[to] && spsc_push(&dst->in[s->id], m)) {
		s->wake_pending[to] = true;
		return;
	}
	/* Ring full: keep order by queueing behind what already overflowed. */
	if (s->ovf_tail[to])
		s->ovf_tail[to]->next = m;
	else
		s->ovf_head[to] = m;
	s->ovf_tail[to] = m;
	s->ovf_count++;
}

static void shard_flush_overflow(struct shard *s)
{
	for (uint32_t to = 0; to < g_server.nshards; to++) {
		struct shard *dst = g_server.shards[to];
		while (s->ovf_head[to]) {
			struct shard_msg *m = s->ovf_head[to];
			if (!spsc_push(&dst->in[s->id], m))
				break;
			s->ovf_head[to] = m->next;
			if (!s->ovf_head[to])
				s->ovf_tail[to] = NULL;
			s->ovf_count--;
			s->wake_pending[to] = true;
		}
	}
	atomic_thread_fence(memory_order_seq_cst);
	for (uint32_t to = 0; to < g_server.nshards; to++) {
		if (!s->wake_pending[to])
			continue;
		s->wake_pending[to] = false;
		struct shard *dst = g_server.shards[to];
		if (atomic_load_explicit(&dst->sleeping, memory_order_relaxed))
			shard_wake(dst);
	}
}

void shard_wake(struct shard *s)
{
	uint64_t one = 1;
	ssize_t n = write(s->event_fd, &one, sizeof(one));
	(void)n; /* EAGAIN means the counter is already non-zero: awake anyway */
}

static void deferred_push(struct shard *s, struct shard_msg *m)
{
	msg_fifo_push(&s->deferred, m);
}

static struct shard_msg *deferred_pop(struct shard *s)
{
	return msg_fifo_pop(&s->deferred);
}

/* ------------------------------------------------------------------ */
/* replies in command order */

/* Where the reply of a command that runs now goes: straight to the output
 * when nothing before it is still out, else into a ready slot. */
static struct kv_buf *conn_reply_target(struct conn *c)
{
	if (!c->slots_head)
		return &c->out;
	struct reply_slot *slot = kv_calloc(1, sizeof(*slot));
	slot->done = true;
	c->slots_tail->next = slot;
	c->slots_tail = slot;
	return &slot->buf;
}

static struct reply_slot *conn_reserve_slot(struct conn *c)
{
	struct reply_slot *slot = kv_calloc(1, sizeof(*slot));
	if (c->slots_tail)
		c->slots_tail->next = slot;
	else
		c->slots_head = slot;
	c->slots_tail = slot;
	return slot;
}

static void conn_mark_flush(struct shard *s, struct conn *c)
{
	if (c->in_flush || c->io_closed)
		return;
	c->in_flush = true;
	c->flush_next = s->flush_head;
	s->flush_head = c;
}

/* Move every leading slot that may leave now into the output. */
static void conn_drain_slots(struct shard *s, struct conn *c)
{
	while (c->slots_head && slot_ready(s, c->slots_head)) {
		struct reply_slot *head = c->slots_head;
		kv_buf_append(&c->out, head->buf.data, head->buf.len);
		c->slots_head = head->next;
		if (!c->slots_head)
			c->slots_tail = NULL;
		kv_buf_free(&head->buf);
		free(head);
	}
	/* A finished reply held back only by the AOF: watch for durability. */
	if (c->slots_head && c->slots_head->done && c->slots_head->acks == 0)
		conn_gate(s, c);
	conn_mark_flush(s, c);
}

static void conn_fill_slot(struct shard *s, struct conn *c, struct reply_slot *slot,
			   struct kv_buf *reply)
{
	if (reply->len && reply->data[0] == '-')
		stat_add(&s->stats.total_error_replies, 1);
	kv_buf_free(&slot->buf);
	slot->buf = *reply;
	kv_buf_init(reply);
	slot->done = true;
	conn_drain_slots(s, c);
}

/* ------------------------------------------------------------------ */
/* durability: replies and messages held until the AOF is durable */

static bool aof_on(void)
{
	return atomic_load_explicit(&g_config.appendonly, memory_order_relaxed) != 0;
}

static enum aof_fsync aof_policy(void)
{
	return (enum aof_fsync)atomic_load_explicit(&g_config.appendfsync, memory_order_relaxed);
}

/* Under appendfsync always a reply leaves only once what it depends on is
 * durable (design.md §2).  After a fatal AOF error nothing more becomes
 * durable: the replies that waited were failed, later ones are not held. */
static bool shard_gates(const struct shard *s)
{
	return aof_on() && s->aof.state != AOF_FAILED;
}

/* What a reply may depend on when it leaves: under appendfsync always, what
 * is fsynced; under everysec and no, what is written to the file (in the
 * page cache, so a crash of the process loses nothing acknowledged, as with
 * Redis, which writes the AOF before it sends replies). */
static uint64_t shard_release_lsn(const struct shard *s)
{
	return aof_policy() == AOF_FSYNC_ALWAYS ? s->aof.durable_lsn : s->aof.written_lsn;
}

/* The LSN a reply produced now waits for (0: none).  A read is tagged too: it
 * may have observed a record that is not durable yet.  While the AOF is
 * refusing writes, new replies are not held (see docs/durability.md). */
static uint64_t shard_reply_tag(const struct shard *s)
{
	if (!shard_gates(s) || s->aof.state != AOF_OK)
		return 0;
	return s->aof.last_lsn > shard_release_lsn(s) ? s->aof.last_lsn : 0;
}

static bool lsn_ready(const struct shard *s, uint64_t lsn, bool durable)
{
	if (lsn == 0 || s->aof.durable_lsn >= lsn)
		return true;
	if (durable)
		return false;
	return !shard_gates(s) || shard_release_lsn(s) >= lsn;
}

static bool slot_ready(struct shard *s, const struct reply_slot *sl)
{
	return sl->done && sl->acks == 0 && lsn_ready(s, sl->lsn, sl->durable);
}

/* c has a finished reply waiting for this shard's AOF.  The gated list
 * holds a reference (inflight) so the connection outlives the wait. */
static void conn_gate(struct shard *s, struct conn *c)
{
	if (c->in_gated)
		return;
	c->in_gated = true;
	c->inflight++;
	c->gated_next = s->gated;
	s->gated = c;
}

/* Send m to shard `to` once this shard's AOF has made lsn durable. */
/* shard_send, or for a wake-up of this shard's own client the local list. */
static void shard_deliver(struct shard *s, uint32_t to, struct shard_msg *m)
{
	if (to != s->id) {
		shard_send(s, to, m);
		return;
	}
	kv_assert(m->type == MSG_WAKE);
	m->from = s->id;
	msg_fifo_push(&s->wakes, m);
}

static void shard_send_when_durable(struct shard *s, uint32_t to, struct shard_msg *m,
				    uint64_t lsn, bool durable)
{
	if (lsn_ready(s, lsn, durable)) {
		shard_deliver(s, to, m);
		return;
	}
	m->wait_to = to;
	m->wait_lsn = lsn;
	m->wait_durable = durable;
	msg_fifo_push(&s->dw, m);
}

static void reply_set_error(struct kv_buf *b, const char *msg)
{
	b->len = 0;
	resp_error(b, msg);
}

/* The AOF failed for good: every reply and message still waiting depends on
 * records that will never be durable, so each becomes the error. */
static void shard_fail_waiting(struct shard *s)
{
	const char *err = aof_write_error(&s->aof);
	for (struct conn *c = s->gated; c; c = c->gated_next)
		for (struct reply_slot *sl = c->slots_head; sl; sl = sl->next)
			if (sl->lsn > s->aof.durable_lsn) {
				reply_set_error(&sl->buf, err);
				sl->lsn = 0;
			}
	for (struct shard_msg *m = s->dw.head; m; m = m->next) {
		if (m->wait_lsn <= s->aof.durable_lsn)
			continue;
		if (m->type == MSG_REPLY) {
			reply_set_error(&((struct fwd_req *)m)->reply, err);
		} else if (m->type == MSG_DURABLE) {
			struct durable_ack *a = (struct durable_ack *)m;
			a->failed = true;
			snprintf(a->error, sizeof(a->error), "%s", err);
		}
		m->wait_lsn = 0;
	}
}

static void conn_release_inflight(struct shard *s, struct conn *c);

/* Durability moved (or the policy changed): let go of what may leave. */
static void shard_durability_advance(struct shard *s)
{
	if (s->aof.state == AOF_FAILED && !s->aof_failed_seen) {
		s->aof_failed_seen = true;
		shard_fail_waiting(s);
	}
	while (s->dw.head && lsn_ready(s, s->dw.head->wait_lsn, s->dw.head->wait_durable)) {
		struct shard_msg *m = msg_fifo_pop(&s->dw);
		shard_deliver(s, m->wait_to, m);
	}
	struct conn **pp = &s->gated;
	while (*pp) {
		struct conn *c = *pp;
		struct reply_slot *head = c->slots_head;
		if (head && head->done && head->acks == 0 && !slot_ready(s, head)) {
			pp = &c->gated_next;
			continue;
		}
		*pp = c->gated_next;
		c->in_gated = false;
		conn_drain_slots(s, c);
		conn_release_inflight(s, c);
	}
}

void shard_defer_wake(struct shard *exec, uint32_t owner, uint32_t home, struct shard_msg *m)
{
	m->from = owner;
	m->wait_to = home;
	msg_fifo_push(&exec->pw, m);
}

/* Wake-ups of the unit whose pops were on this shard's keyspace: they leave
 * once this shard's AOF holds the pops durably.  Those popping from another
 * shard's keyspace (a txn) go to `rels`, indexed by shard, or stay listed. */
static void shard_send_wakes(struct shard *s, struct release_msg **rels)
{
	struct shard_msg *m;
	while ((m = msg_fifo_pop(&s->pw)) != NULL) {
		uint32_t owner = m->from;
		if (owner == s->id) {
			shard_send_when_durable(s, m->wait_to, m, shard_reply_tag(s), false);
		} else {
			/* Only a txn touches another shard's keyspace. */
			kv_assert(rels && rels[owner]);
			m->next = rels[owner]->wakes;
			rels[owner]->wakes = m;
		}
	}
}

/* End of an atomic unit run on this thread: this shard's effects become one
 * AOF record.  (A txn takes the other shards' effects itself.) */
static void shard_unit_commit(struct shard *s)
{
	if (fx_pending()) {
		if (fx_take(s->id, &s->fx_payload)) {
			atomic_fetch_add_explicit(&s->changes, 1, memory_order_relaxed);
			if (aof_on())
				aof_append(&s->aof, s->fx_payload.data, s->fx_payload.len);
		}
		kv_assert(!fx_pending());
	}
	if (s->pw.head)
		shard_send_wakes(s, NULL);
}

/* Whether a write must be refused because a keyspace it would change
 * belongs to a shard whose AOF is failing. */
static const char *shard_write_refused(struct shard *s, struct kv_db **held)
{
	if (!aof_on())
		return NULL;
	if (held == s->held_local)
		return aof_write_error(&s->aof);
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		if (!held[i])
			continue;
		struct shard *o = g_server.shards[i];
		if (atomic_load_explicit(&o->aof.info.state, memory_order_relaxed) != AOF_OK)
			return o == s ? aof_write_error(&s->aof)
				      : "MISCONF Errors writing to the AOF file of another shard; "
					"writes are refused (see INFO persistence)";
	}
	return NULL;
}

void shard_on_file(struct shard *s, struct kvio_op *op, int res)
{
	if (snapshot_owns(&s->snap, op)) {
		snapshot_complete(&s->snap, op, res);
		return;
	}
	kv_assert(aof_owns(&s->aof, op));
	if (aof_complete(&s->aof, op, res, kv_time_ms()))
		shard_durability_advance(s);
}

/* ------------------------------------------------------------------ */
/* copied calls */

/* Allocates `head` bytes followed by a copy of the call's arguments; the
 * cmd_call inside the head is at offset call_off. */
void *shard_call_copy(size_t head, size_t call_off, const struct kv_command *cmd,
		       int argc, const struct kv_slice *argv, int64_t now_ms)
{
	size_t bytes = 0;
	for (int i = 0; i < argc; i++)
		bytes += argv[i].len + 1;
	head = (head + 7) & ~(size_t)7;
	char *block = kv_malloc(head + (size_t)argc * sizeof(struct kv_slice) + bytes);
	memset(block, 0, head);
	struct cmd_call *call = (struct cmd_call *)(block + call_off);
	struct kv_slice *copy = (struct kv_slice *)(block + head);
	char *data = (char *)(copy + argc);
	for (int i = 0; i < argc; i++) {
		memcpy(data, argv[i].ptr, argv[i].len);
		data[argv[i].len] = '\0';
		copy[i].ptr = data;
		copy[i].len = argv[i].len;
		data += argv[i].len + 1;
	}
	call->cmd = cmd;
	call->argc = argc;
	call->argv = copy;
	call->now_ms = now_ms;
	return block;
}

/*
 * After a write command: wake clients blocked on its keys.  (WATCH needs no
 * help here: the store reports whole-key changes, and each collection
 * handler reports its in-place changes exactly where Redis does.)
 */
static void shard_after_write(struct shard *s, const struct cmd_call *call, struct kv_db **held)
{
	blocking_after_write(s, call, held);
}

/* Tell the held keyspaces a write command runs (a snapshot in progress
 * then saves what it looks up before it can change in place). */
static void shard_set_writing(struct shard *s, struct kv_db **held, bool on)
{
	if (held == s->held_local) {
		db_set_writing(s->db, on);
		return;
	}
	for (uint32_t i = 0; i < g_server.nshards; i++)
		if (held[i])
			db_set_writing(held[i], on);
}

void shard_call_run(struct shard *s, const struct cmd_call *call, struct conn *conn,
		     struct kv_db **held, struct kv_buf *out)
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
		shard_set_writing(s, held, true);
	fx_cmd_begin(&fx, call->cmd, call->argc, call->argv, held, call->now_ms);
	call->cmd->proc(&ctx);
	fx_cmd_end(&fx);
	if (writing) {
		shard_after_write(s, call, held);
		shard_set_writing(s, held, false);
	}
}

/* ------------------------------------------------------------------ */
/* forwarded single-shard commands */

static void fwd_execute(struct shard *s, struct fwd_req *req)
{
	kv_assert(!s->holder);
	shard_call_run(s, &req->call, NULL, s->held_local, &req->reply);
	shard_unit_commit(s);
	req->m.type = MSG_REPLY;
	shard_send_when_durable(s, req->m.from, &req->m, shard_reply_tag(s), false);
}

static void conn_release_inflight(struct shard *s, struct conn *c)
{
	kv_assert(c->inflight > 0);
	c->inflight--;
	conn_schedule(s, c);
}

static void fwd_replied(struct shard *s, struct fwd_req *req)
{
	struct conn *c = req->call.conn;
	conn_fill_slot(s, c, req->call.slot, &req->reply);
	conn_release_inflight(s, c);
	free(req);
}

static void shard_forward(struct shard *s, struct conn *c, uint32_t to,
			  const struct kv_command *cmd, int argc, const struct kv_slice *argv)
{
	struct fwd_req *req = shard_call_copy(sizeof(*req), offsetof(struct fwd_req, call),
					cmd, argc, argv, s->now_ms);
	kv_buf_init(&req->reply);
	req->m.type = MSG_EXEC;
	req->call.conn = c;
	req->call.slot = conn_reserve_slot(c);
	c->inflight++;
	stat_add(&s->stats.forwarded_commands, 1);
	shard_send(s, to, &req->m);
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
	c->block_slot = slot;
	c->inflight++;
	c->blocked_prev = NULL;
	c->blocked_next = s->blocked_conns;
	if (s->blocked_conns)
		s->blocked_conns->blocked_prev = c;
	s->blocked_conns = c;
}

enum unblock_how { UNBLOCK_WOKEN, UNBLOCK_TIMEOUT, UNBLOCK_DEAD };

static void conn_unblock(struct shard *s, struct conn *c, enum unblock_how how,
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
	struct kv_buf reply = KV_BUF_INIT;
	if (how == UNBLOCK_TIMEOUT)
		resp_null_array(&reply);
	else if (served)
		reply = *served;
	if (how == UNBLOCK_WOKEN)
		c->block_slot->lsn = shard_reply_tag(s);
	conn_fill_slot(s, c, c->block_slot, &reply);
	c->block_slot = NULL;
	if (retry && !c->io_closed)
		c->retry_call = retry;
	else
		free(retry);
	conn_release_inflight(s, c);
}

/* A write on some shard claimed this shard's blocked client. */
static void shard_handle_wake(struct shard *s, struct shard_msg *m)
{
	struct conn *c = blocking_wake_conn(m);
	kv_assert(c->blocked);
	struct kv_buf reply = KV_BUF_INIT;
	struct cmd_call *retry;
	blocking_take_result(c, &reply, &retry);
	conn_unblock(s, c, UNBLOCK_WOKEN, &reply, retry);
}

static void shard_run_local_wakes(struct shard *s)
{
	struct shard_msg *m;
	while ((m = msg_fifo_pop(&s->wakes)) != NULL)
		shard_handle_wake(s, m);
}

/* Time out blocked clients; returns microseconds until the next deadline
 * (INT64_MAX when none). */
static int64_t shard_block_timeouts(struct shard *s)
{
	int64_t next = INT64_MAX;
	struct conn *c = s->blocked_conns;
	while (c) {
		struct conn *n = c->blocked_next;
		if (c->block_deadline_ms > 0) {
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
/* multi-shard transactions */

static void txn_execute(struct shard *s, struct txn *t)
{
	for (uint32_t i = 0; i < t->nshards; i++)
		s->txn_held[t->shards[i]] = g_server.shards[t->shards[i]]->db;
	struct kv_buf reply = KV_BUF_INIT;
	shard_call_run(s, &t->call, t->call.conn, s->txn_held, &reply);
	struct conn *c = t->call.conn;
	bool durable = t->call.cmd->flags & CMD_WAIT_DURABLE;
	/* SAVE waits for every shard's snapshot, unless it answered an error. */
	bool save_wait = ((t->call.cmd->flags & CMD_WAIT_SNAPSHOT) || c->wait_shards) &&
			 reply.len && reply.data[0] != '-';
	c->wait_shards = false;
	/* Each held shard acknowledges once what the reply depends on there is
	 * durable: under appendfsync always, or always for WAITAOF. */
	uint8_t ack = 0;
	if (!c->block_pending && aof_on())
		ack = durable ? 2 : 1;
	bool held_here = false;
	struct release_msg **rels = s->txn_rels;
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
		fx_take(id, &rel->effects);
		rel->ack = ack;
		if (ack) {
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
	if (s->pw.head)
		shard_send_wakes(s, rels);
	for (uint32_t i = 0; i < t->nshards; i++) {
		uint32_t id = t->shards[i];
		if (id != s->id) {
			shard_send(s, id, &rels[id]->m);
			rels[id] = NULL;
		}
	}
	if (held_here) {
		shard_unit_commit(s);
		struct reply_slot *slot = t->call.slot;
		if (durable && aof_on()) {
			aof_want_fsync(&s->aof);
			slot->lsn = s->aof.last_lsn > s->aof.durable_lsn ? s->aof.last_lsn : 0;
			slot->durable = true;
			if (slot->lsn && s->aof.state == AOF_FAILED) {
				reply_set_error(&reply, aof_write_error(&s->aof));
				slot->lsn = 0;
			}
		} else {
			slot->lsn = shard_reply_tag(s);
		}
	}
	kv_assert(!fx_pending());
	if (c->block_pending) {
		blocking_commit(s, c, t->call.cmd, t->call.argc, t->call.argv, t->call.slot);
		kv_buf_free(&reply);
	} else {
		conn_fill_slot(s, c, t->call.slot, &reply);
	}
	c->txn_inflight = false;
	conn_release_inflight(s, c);
	if (held_here) {
		kv_assert(s->holder == t);
		s->holder = NULL;
	}
	/* No message refers to t any more: RELEASE names it by id. */
	free(t);
	if (held_here)
		shard_keyspace_freed(s);
}

/* This shard takes its own keyspace for t (it is free). */
static void txn_take_local(struct shard *s, struct txn *t)
{
	kv_assert(!s->holder);
	s->holder = t;
	s->holder_id = t->id;
	t->acquired++;
}

static void txn_acquire_next(struct shard *s, struct txn *t)
{
	while (t->acquired < t->nshards) {
		uint32_t target = t->shards[t->acquired];
		if (target != s->id) {
			t->m.type = MSG_LOCK;
			shard_send(s, target, &t->m);
			return;
		}
		if (s->holder) {
			t->m.type = MSG_LOCK;
			t->m.from = s->id;
			deferred_push(s, &t->m);
			return;
		}
		txn_take_local(s, t);
	}
	txn_execute(s, t);
}

static void shard_start_txn(struct shard *s, struct conn *c, const struct kv_command *cmd,
			    int argc, const struct kv_slice *argv,
			    const uint32_t *shards, uint32_t nshards)
{
	size_t head = sizeof(struct txn) + nshards * sizeof(uint32_t);
	struct txn *t = shard_call_copy(head, offsetof(struct txn, call), cmd, argc, argv, s->now_ms);
	t->id = atomic_fetch_add_explicit(&g_server.next_txn_id, 1, memory_order_relaxed);
	t->home = s->id;
	t->nshards = nshards;
	t->acquired = 0;
	memcpy(t->shards, shards, nshards * sizeof(uint32_t));
	t->call.conn = c;
	t->call.slot = conn_reserve_slot(c);
	c->inflight++;
	c->txn_inflight = true;
	stat_add(&s->stats.multi_shard_commands, 1);
	txn_acquire_next(s, t);
}

/* Grant this shard's keyspace to a txn coordinated elsewhere. */
static void txn_grant_remote(struct shard *s, struct txn *t)
{
	kv_assert(!s->holder);
	s->holder = t;
	s->holder_id = t->id;
	t->m.type = MSG_GRANT;
	shard_send(s, t->home, &t->m);
}

static void shard_handle_lock(struct shard *s, struct shard_msg *m)
{
	struct txn *t = (struct txn *)m;
	if (s->holder) {
		deferred_push(s, m);
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
 * a txn takes it again; then let paused clients continue. */
static void shard_keyspace_freed(struct shard *s)
{
	while (!s->holder) {
		struct shard_msg *m = deferred_pop(s);
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

/* A txn from another shard released this keyspace: tell its home once the
 * effects (and whatever its reads saw) are durable here. */
static void shard_ack_txn(struct shard *s, const struct release_msg *rel, bool wrote,
			  uint64_t wrote_lsn)
{
	struct durable_ack *a = kv_calloc(1, sizeof(*a));
	a->m.type = MSG_DURABLE;
	a->conn = rel->conn;
	a->slot = rel->slot;
	bool durable = rel->ack == 2;
	/* Under the policy the rule is a reply's (shard_reply_tag): a read is
	 * not held while this shard refuses writes.  WAITAOF asks for an fsync
	 * and fails if none can be had. */
	uint64_t lsn = shard_reply_tag(s);
	/* But the txn's own records here (wrote_lsn) were let in while this
	 * shard still accepted writes, and it may have started refusing since
	 * (the txn ran on another thread): they wait for the retry like any
	 * write's, or fail with the AOF.  Acknowledging them at once let a
	 * kill -9 lose an acknowledged cross-shard EXEC (crash_kill). */
	if (wrote && aof_on() && !durable) {
		if (s->aof.state == AOF_FAILED) {
			a->failed = true;
			snprintf(a->error, sizeof(a->error), "%s", aof_write_error(&s->aof));
			lsn = 0;
		} else if (wrote_lsn > lsn && !lsn_ready(s, wrote_lsn, false)) {
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

static void shard_handle_durable(struct shard *s, struct durable_ack *a);

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
		reply_set_error(&slot->buf, a->error);
	free(a);
	conn_drain_slots(s, c);
	conn_release_inflight(s, c);
}

static void shard_handle_msg(struct shard *s, struct shard_msg *m)
{
	switch (m->type) {
	case MSG_EXEC:
		if (s->holder)
			deferred_push(s, m);
		else
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
		bool wrote = rel->effects.len > 0 && aof_on();
		if (rel->effects.len) {
			atomic_fetch_add_explicit(&s->changes, 1, memory_order_relaxed);
			if (aof_on())
				wrote_lsn = aof_append(&s->aof, rel->effects.data, rel->effects.len);
		}
		kv_buf_free(&rel->effects);
		if (rel->ack)
			shard_ack_txn(s, rel, wrote, wrote_lsn);
		if (rel->save_wait)
			shard_save_wait(s, rel->m.from, rel->conn, rel->slot);
		while (rel->wakes) {
			struct shard_msg *w = rel->wakes;
			rel->wakes = w->next;
			shard_send_when_durable(s, w->wait_to, w, shard_reply_tag(s), false);
		}
		s->holder = NULL;
		free(rel);
		shard_keyspace_freed(s);
		break;
	}
	case MSG_DURABLE:
		shard_handle_durable(s, (struct durable_ack *)m);
		break;
	default:
		kv_assert(!"unknown shard message");
	}
}

static int shard_drain_rings(struct shard *s)
{
	int n = 0;
	for (uint32_t from = 0; from < g_server.nshards; from++) {
		if (from == s->id)
			continue;
		struct shard_msg *m;
		int budget = SHARD_RING_SLOTS;
		while (budget-- > 0 && (m = spsc_pop(&s->in[from])) != NULL) {
			shard_handle_msg(s, m);
			n++;
		}
	}
	return n;
}

static bool shard_rings_pending(struct shard *s)
{
	for (uint32_t from = 0; from < g_server.nshards; from++)
		if (from != s->id && spsc_nonempty(&s->in[from]))
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* broadcasts (PUBLISH) */

static void bcast_finish(struct shard *s, struct bcast *b)
{
	struct conn *c = b->call.conn;
	if (c) {
		struct kv_buf reply = KV_BUF_INIT;
		resp_int(&reply, (int64_t)b->total);
		conn_fill_slot(s, c, b->call.slot, &reply);
		conn_release_inflight(s, c);
	}
	free(b);
}

/* Run a broadcast command's part on every shard that may care (here at
 * once, elsewhere through the rings).  With a client, its reply is the sum
 * of the parts' counts; without one (PUBLISH inside EXEC) the parts are sent
 * and forgotten.  `self` says whether this shard's part runs too. */
void shard_bcast(struct shard *s, struct conn *c, const struct kv_command *cmd, int argc,
		 const struct kv_slice *argv, bool self)
{
	struct bcast *b = shard_call_copy(sizeof(*b), offsetof(struct bcast, call), cmd, argc,
					  argv, s->now_ms);
	b->pending = 0;
	b->total = self ? cmd->bcast(s, &b->call) : 0;
	b->call.conn = c;
	if (c) {
		b->call.slot = conn_reserve_slot(c);
		c->inflight++;
	}
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *dst = g_server.shards[i];
		if (i == s->id || atomic_load_explicit(&dst->pubsub_subs, memory_order_relaxed) == 0)
			continue;
		struct bcast_part *part = kv_malloc(sizeof(*part));
		part->m.type = MSG_BCAST;
		part->b = b;
		part->count = 0;
		b->pending++;
		shard_send(s, i, &part->m);
	}
	if (b->pending == 0)
		bcast_finish(s, b);
}

static void bcast_part_run(struct shard *s, struct bcast_part *part)
{
	part->count = part->b->call.cmd->bcast(s, &part->b->call);
	part->m.type = MSG_BCAST_DONE;
	shard_send(s, part->m.from, &part->m);
}

static void bcast_part_done(struct shard *s, struct bcast_part *part)
{
	struct bcast *b = part->b;
	b->total += part->count;
	free(part);
	kv_assert(b->pending > 0);
	if (--b->pending == 0)
		bcast_finish(s, b);
}

/* ------------------------------------------------------------------ */
/* pushes and output limits */

struct kv_buf *shard_conn_push_begin(struct shard *s, struct conn *c)
{
	return conn_reply_target(c);
}

void shard_conn_push_end(struct shard *s, struct conn *c)
{
	conn_mark_flush(s, c);
}

/* client-output-buffer-limit: a client whose unsent output passes the hard
 * limit, or stays above the soft limit for the soft period, is closed. */
static bool conn_over_output_limit(struct shard *s, struct conn *c)
{
	bool pubsub = pubsub_count(c) > 0;
	int64_t hard = atomic_load_explicit(pubsub ? &g_config.obuf_pubsub_hard
						   : &g_config.obuf_normal_hard, memory_order_relaxed);
	int64_t soft = atomic_load_explicit(pubsub ? &g_config.obuf_pubsub_soft
						   : &g_config.obuf_normal_soft, memory_order_relaxed);
	int64_t soft_s = atomic_load_explicit(pubsub ? &g_config.obuf_pubsub_soft_s
						     : &g_config.obuf_normal_soft_s, memory_order_relaxed);
	uint64_t pending = c->out.len + c->sending.len - c->send_off;
	for (struct reply_slot *slot = c->slots_head; slot; slot = slot->next)
		pending += slot->buf.len;
	if (hard > 0 && pending > (uint64_t)hard)
		return true;
	if (soft > 0 && pending > (uint64_t)soft) {
		if (c->obuf_soft_since_ms == 0)
			c->obuf_soft_since_ms = s->now_ms;
		else if (s->now_ms - c->obuf_soft_since_ms >= soft_s * 1000)
			return true;
	} else {
		c->obuf_soft_since_ms = 0;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* dispatch */

enum dispatch_result { DISPATCH_DONE, DISPATCH_WAIT };

/* Sorted unique shards of the call's keys; returns the count (0 = keyless). */
uint32_t shard_call_shards(const struct kv_command *cmd, int argc, const struct kv_slice *argv,
			    uint32_t *out)
{
	uint32_t n = g_server.nshards;
	if (cmd->flags & CMD_ALL_SHARDS) {
		for (uint32_t i = 0; i < n; i++)
			out[i] = i;
		return n;
	}
	if (cmd->route) {
		out[0] = cmd->route(argc, argv, n) % n;
		return 1;
	}
	int idx_stack[64];
	int *idx = idx_stack;
	int max = argc < 64 ? 64 : argc;
	if (max > 64)
		idx = kv_malloc((size_t)max * sizeof(int));
	int nkeys = cmd_get_keys(cmd, argc, argv, idx, max);
	uint64_t seen[(SHARD_MAX + 63) / 64] = { 0 };
	uint32_t count = 0;
	for (int k = 0; k < nkeys; k++) {
		const struct kv_slice *key = &argv[idx[k]];
		uint32_t sh = kv_key_shard(key->ptr, key->len, n);
		if (!(seen[sh / 64] & (1ull << (sh % 64)))) {
			seen[sh / 64] |= 1ull << (sh % 64);
			count++;
		}
	}
	if (idx != idx_stack)
		free(idx);
	uint32_t j = 0;
	for (uint32_t sh = 0; sh < n && j < count; sh++)
		if (seen[sh / 64] & (1ull << (sh % 64)))
			out[j++] = sh;
	return count;
}

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
static void reply_hold(struct shard *s, struct conn *c, const struct kv_command *cmd,
		       struct reply_slot *slot, struct kv_buf *out, size_t before)
{
	bool durable = cmd->flags & CMD_WAIT_DURABLE;
	uint64_t tag = shard_reply_tag(s);
	if (durable && aof_on()) {
		aof_want_fsync(&s->aof);
		tag = s->aof.last_lsn > s->aof.durable_lsn ? s->aof.last_lsn : 0;
		if (tag && s->aof.state == AOF_FAILED) {
			reply_set_error(slot ? &slot->buf : out, aof_write_error(&s->aof));
			tag = 0;
		}
	}
	if (tag == 0)
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
	slot->durable = durable;
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
					 .now_ms = s->now_ms };
		shard_call_run(s, &call, c, s->held_local, &reply);
		shard_unit_commit(s);
		if (c->block_pending) {
			blocking_commit(s, c, cmd, argc, argv, slot);
			kv_buf_free(&reply);
		} else {
			slot->lsn = shard_reply_tag(s);
			conn_fill_slot(s, c, slot, &reply);
		}
		return;
	}
	struct kv_buf *out = conn_reply_target(c);
	struct reply_slot *slot = out == &c->out ? NULL : c->slots_tail;
	size_t before = out->len;
	struct cmd_call call = { .cmd = cmd, .argc = argc, .argv = (struct kv_slice *)argv,
				 .now_ms = s->now_ms };
	shard_call_run(s, &call, c, s->held_local, out);
	shard_unit_commit(s);
	if (out->len > before && out->data[before] == '-')
		stat_add(&s->stats.total_error_replies, 1);
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
		reply_hold(s, c, cmd, slot, out, before);
	if (out == &c->out || slot)
		conn_mark_flush(s, c);
}

static void reply_now(struct shard *s, struct conn *c, void (*fn)(struct kv_buf *, const void *),
		      const void *arg)
{
	struct kv_buf *out = conn_reply_target(c);
	fn(out, arg);
	stat_add(&s->stats.total_error_replies, 1);
	conn_mark_flush(s, c);
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

static void reply_arity(struct kv_buf *out, const void *cmd)
{
	cmd_reply_arity(out, cmd);
}

static enum dispatch_result shard_dispatch(struct shard *s, struct conn *c, int argc,
					   const struct kv_slice *argv)
{
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	/* A command rejected here also dooms an open MULTI (EXECABORT). */
	if (!cmd) {
		struct unknown_args u = { argc, argv };
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, reply_unknown, &u);
		return DISPATCH_DONE;
	}
	if (!c->authenticated && !(cmd->flags & CMD_NOAUTH) &&
	    atomic_load_explicit(&g_config.requirepass_set, memory_order_relaxed)) {
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, reply_error_str, RESP_ERR_NOAUTH);
		return DISPATCH_DONE;
	}
	if (!cmd_arity_ok(cmd, argc)) {
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, reply_arity, cmd);
		return DISPATCH_DONE;
	}
	if (c->pubsub && pubsub_count(c) > 0 && !pubsub_allowed_in_subscriber_mode(cmd)) {
		char msg[200];
		snprintf(msg, sizeof(msg), "ERR Can't execute '%s': only (P|S)SUBSCRIBE / "
			 "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
			 cmd->name);
		c->multi_dirty |= c->in_multi;
		reply_now(s, c, reply_error_str, msg);
		return DISPATCH_DONE;
	}
	if (c->in_multi && multi_queues(cmd)) {
		/* Between MULTI and EXEC everything but EXEC, DISCARD, MULTI,
		 * WATCH and QUIT is queued; the reply says so. */
		multi_queue(c, cmd, argc, argv, s->now_ms);
		resp_simple(conn_reply_target(c), "QUEUED");
		conn_mark_flush(s, c);
		return DISPATCH_DONE;
	}
	/* Recorded before running, as Redis does: CLIENT LIST shows itself. */
	atomic_store_explicit(&c->last_cmd, cmd->name, memory_order_relaxed);
	if (cmd->bcast) {
		shard_bcast(s, c, cmd, argc, argv, true);
		goto done;
	}
	if (cmd->flags & CMD_LOCAL) {
		run_here(s, c, cmd, argc, argv);
		goto done;
	}
	uint32_t shards[SHARD_MAX];
	uint32_t n;
	bool home_only = cmd->conn_shards != NULL;
	if (home_only)
		n = cmd->conn_shards(c, argc, argv, shards);
	else
		n = shard_call_shards(cmd, argc, argv, shards);
	if (n == 0 || (n == 1 && shards[0] == s->id)) {
		if (s->holder) {
			conn_pause(s, c);
			return DISPATCH_WAIT;
		}
		run_here(s, c, cmd, argc, argv);
	} else if (n == 1 && !home_only) {
		shard_forward(s, c, shards[0], cmd, argc, argv);
	} else {
		shard_start_txn(s, c, cmd, argc, argv, shards, n);
	}
done:
	stat_add(&s->stats.commands_processed, 1);
	return DISPATCH_DONE;
}

/* ------------------------------------------------------------------ */
/* connections */

static void conn_schedule(struct shard *s, struct conn *c)
{
	if (c->in_ready || c->io_closed)
		return;
	c->in_ready = true;
	c->ready_next = NULL;
	if (s->ready_tail)
		s->ready_tail->ready_next = c;
	else
		s->ready_head = c;
	s->ready_tail = c;
}

static void conn_begin_close(struct shard *s, struct conn *c)
{
	if (c->close_started)
		return;
	c->close_started = true;
	s->reactor->conn_close(s, c);
}

static void conn_protocol_error(struct shard *s, struct conn *c, const char *msg)
{
	struct kv_buf *out = conn_reply_target(c);
	resp_error(out, msg);
	stat_add(&s->stats.total_error_replies, 1);
	c->close_after_reply = true;
	conn_mark_flush(s, c);
	log_verbose("Protocol error (%s) from client id=%llu addr=%s", msg,
		    (unsigned long long)c->id, c->addr);
}

/* Parse and dispatch what a connection has buffered.  Returns commands run. */
static int conn_process(struct shard *s, struct conn *c)
{
	int done = 0;
	if (c->retry_call && !c->txn_inflight && !c->io_dead) {
		/* Woken from a block: run the command again before newer input. */
		struct cmd_call *call = c->retry_call;
		if (shard_dispatch(s, c, call->argc, call->argv) == DISPATCH_WAIT)
			return 0;
		c->retry_call = NULL;
		free(call);
		done++;
	}
	while (done < CONN_DISPATCH_BUDGET) {
		if (c->close_after_reply || c->io_dead || c->txn_inflight || c->paused || c->blocked ||
		    c->retry_call)
			break;
		if (s->ovf_count > SHARD_OVERFLOW_PAUSE)
			break;
		size_t avail = c->in.len - c->in_pos;
		if (avail == 0)
			break;
		int argc;
		struct kv_slice *argv;
		const char *err = NULL;
		int64_t n = resp_parse(&c->parser, c->in.data + c->in_pos, avail, &argc, &argv, &err);
		if (n == RESP_NEED_MORE)
			break;
		if (n < 0) {
			conn_protocol_error(s, c, err ? err : "ERR Protocol error");
			break;
		}
		if (argc > 0 && shard_dispatch(s, c, argc, argv) == DISPATCH_WAIT)
			break;
		c->in_pos += (size_t)n;
		done++;
	}
	if (c->in_pos == c->in.len) {
		c->in.len = 0;
		c->in_pos = 0;
	} else if (c->in_pos >= CONN_COMPACT_BYTES || c->in_pos > c->in.len / 2) {
		kv_buf_consume(&c->in, c->in_pos);
		c->in_pos = 0;
	}
	atomic_store_explicit(&c->qbuf_len, c->in.len - c->in_pos, memory_order_relaxed);
	/* More buffered commands wait for the next turn (fairness). */
	if (done == CONN_DISPATCH_BUDGET) {
		conn_schedule(s, c);
	} else if (c->read_eof && !c->txn_inflight && !c->paused && !c->close_after_reply &&
		   !c->blocked && !c->retry_call) {
		/* The peer is done sending and nothing more can be parsed: once
		 * the replies are out, close (a trailing partial request is
		 * dropped, as Redis does). */
		c->close_after_reply = true;
		conn_mark_flush(s, c);
	}
	return done;
}

static int shard_process_ready(struct shard *s)
{
	struct conn *list = s->ready_head;
	s->ready_head = s->ready_tail = NULL;
	int n = 0;
	while (list) {
		struct conn *c = list;
		list = c->ready_next;
		c->in_ready = false;
		if (!c->io_closed)
			n += conn_process(s, c);
	}
	return n;
}

static void conn_set_addrs(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	c->addr[0] = c->laddr[0] = '\0';
	for (int side = 0; side < 2; side++) {
		len = sizeof(ss);
		int rc = side == 0 ? getpeername(c->fd, (struct sockaddr *)&ss, &len)
				   : getsockname(c->fd, (struct sockaddr *)&ss, &len);
		char *dst = side == 0 ? c->addr : c->laddr;
		if (rc != 0)
			continue;
		int port = 0;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
			port = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
			port = ntohs(sin6->sin6_port);
		}
		snprintf(dst, sizeof(c->addr), "%s:%d", host, port);
	}
}

void shard_on_accept(struct shard *s, int fd)
{
	stat_add(&s->stats.connections_received, 1);
	uint64_t total = atomic_fetch_add(&g_server.total_clients, 1) + 1;
	if ((int64_t)total > atomic_load_explicit(&g_config.maxclients, memory_order_relaxed)) {
		static const char msg[] = "-ERR max number of clients reached\r\n";
		ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
		close(fd);
		atomic_fetch_sub(&g_server.total_clients, 1);
		stat_add(&s->stats.rejected_connections, 1);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int64_t keepalive = atomic_load_explicit(&g_config.tcp_keepalive_s, memory_order_relaxed);
	if (keepalive > 0)
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));

	struct conn *c = kv_calloc(1, sizeof(*c));
	c->id = atomic_fetch_add(&g_server.next_conn_id, 1);
	c->fd = fd;
	c->shard = s;
	c->created_ms = s->now_ms;
	atomic_store(&c->last_active_ms, s->now_ms);
	atomic_store(&c->last_cmd, "NULL");
	c->authenticated = !atomic_load(&g_config.requirepass_set);
	resp_parser_init(&c->parser, &s->resp_limits);
	resp_parser_set_authenticated(&c->parser, c->authenticated);
	conn_set_addrs(c);

	pthread_mutex_lock(&s->clients_lock);
	c->all_next = s->clients;
	if (s->clients)
		s->clients->all_prev = c;
	s->clients = c;
	s->nclients++;
	pthread_mutex_unlock(&s->clients_lock);
	stat_add(&s->stats.connected_clients, 1);
	s->reactor->conn_start(s, c);
}

void shard_on_data(struct shard *s, struct conn *c, const char *p, size_t n)
{
	if (c->close_started)
		return;
	kv_buf_append(&c->in, p, n);
	stat_add(&s->stats.net_input_bytes, n);
	atomic_store_explicit(&c->last_active_ms, s->now_ms, memory_order_relaxed);
	int64_t limit = atomic_load_explicit(&g_config.client_query_buffer_limit,
					     memory_order_relaxed);
	if (limit > 0 && (int64_t)(c->in.len - c->in_pos) > limit) {
		log_warning("Closing client that reached max query buffer length: id=%llu addr=%s "
			    "(qbuf initial bytes not shown)", (unsigned long long)c->id, c->addr);
		c->io_dead = true;
		conn_begin_close(s, c);
		return;
	}
	conn_schedule(s, c);
}

void shard_on_hangup(struct shard *s, struct conn *c)
{
	c->io_dead = true;
	conn_begin_close(s, c);
}

void shard_on_eof(struct shard *s, struct conn *c)
{
	/* A blocked client that hangs up is gone (as in Redis): it must not
	 * be served an element it will never read. */
	if (c->blocked) {
		shard_on_hangup(s, c);
		return;
	}
	c->read_eof = true;
	conn_schedule(s, c);
}

void shard_on_sent(struct shard *s, struct conn *c, size_t n)
{
	stat_add(&s->stats.net_output_bytes, n);
}

void shard_on_wakeup(struct shard *s)
{
	(void)s; /* the loop drains the rings every turn */
}

static void conn_unregister(struct shard *s, struct conn *c)
{
	pthread_mutex_lock(&s->clients_lock);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		s->clients = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	s->nclients--;
	pthread_mutex_unlock(&s->clients_lock);
	stat_add(&s->stats.connected_clients, (uint64_t)-1);
	atomic_fetch_sub(&g_server.total_clients, 1);
}

void shard_conn_io_done(struct shard *s, struct conn *c)
{
	kv_assert(!c->io_closed);
	c->io_closed = true;
	close(c->fd);
	c->fd = -1;
	conn_unregister(s, c);
	c->in_zombies = true;
	c->zombie_next = s->zombies;
	s->zombies = c;
}

static void conn_free(struct conn *c)
{
	kv_assert(!c->blocked);
	free(c->retry_call);
	multi_conn_free(c);
	resp_parser_free(&c->parser);
	kv_buf_free(&c->in);
	kv_buf_free(&c->out);
	kv_buf_free(&c->sending);
	while (c->slots_head) {
		struct reply_slot *slot = c->slots_head;
		c->slots_head = slot->next;
		kv_buf_free(&slot->buf);
		free(slot);
	}
	free(c);
}

/* Free closed connections nothing refers to any more: no reply or txn out,
 * not queued in any list of this turn. */
static void shard_reap_zombies(struct shard *s)
{
	struct conn **pp = &s->zombies;
	while (*pp) {
		struct conn *c = *pp;
		/* Subscription tables change only while the keyspace is free
		 * (PUBSUB NUMSUB may be reading them from another shard). */
		if (c->pubsub && !s->holder)
			pubsub_conn_drop(s, c);
		if (c->blocked && blocking_finish(c, false))
			conn_unblock(s, c, UNBLOCK_DEAD, NULL, NULL);
		if (c->nwatches > 0 && !c->txn_inflight) {
			/* WATCHes pin nodes in other shards' keyspaces: release them
			 * through the same path as UNWATCH before the conn goes. */
			uint32_t shards[SHARD_MAX];
			struct kv_slice name = { "unwatch", 7 };
			uint32_t n = multi_unwatch_command.conn_shards(c, 1, &name, shards);
			if (n == 1 && shards[0] == s->id && !s->holder) {
				struct kv_buf sink = KV_BUF_INIT;
				struct cmd_call call = { .cmd = &multi_unwatch_command, .argc = 1,
							 .argv = &name, .now_ms = s->now_ms };
				shard_call_run(s, &call, c, s->held_local, &sink);
				kv_buf_free(&sink);
			} else if (!(n == 1 && shards[0] == s->id)) {
				shard_start_txn(s, c, &multi_unwatch_command, 1, &name, shards, n);
			}
		}
		if (c->inflight == 0 && c->nwatches == 0 && !c->pubsub && !c->in_ready &&
		    !c->in_flush && !c->in_paused) {
			*pp = c->zombie_next;
			conn_free(c);
		} else {
			pp = &c->zombie_next;
		}
	}
}

static void shard_flush_conns(struct shard *s)
{
	struct conn *list = s->flush_head;
	s->flush_head = NULL;
	while (list) {
		struct conn *c = list;
		list = c->flush_next;
		c->in_flush = false;
		if (c->io_closed)
			continue;
		if (c->io_dead) {
			conn_begin_close(s, c);
			continue;
		}
		if (conn_over_output_limit(s, c)) {
			log_warning("Client id=%llu addr=%s closed for overcoming of output buffer limits.",
				    (unsigned long long)c->id, c->addr);
			c->io_dead = true;
			conn_begin_close(s, c);
			continue;
		}
		if (c->out.len)
			s->reactor->conn_flush(s, c);
		atomic_store_explicit(&c->obuf_len, c->out.len + c->sending.len - c->send_off,
				      memory_order_relaxed);
		/* QUIT and protocol errors close once their reply is out. */
		if (c->close_after_reply && !c->slots_head && c->out.len == 0 && !c->send_inflight)
			conn_begin_close(s, c);
	}
}

/* Called by reactors when a send completed and nothing more is queued. */
void shard_conn_drained(struct shard *s, struct conn *c)
{
	if (c->close_after_reply && !c->slots_head && c->out.len == 0)
		conn_begin_close(s, c);
}

/* ------------------------------------------------------------------ */
/* background work */

static void shard_kill_flagged(struct shard *s)
{
	if (!atomic_exchange(&s->kill_pending, false))
		return;
	struct conn *next;
	for (struct conn *c = s->clients; c; c = next) {
		next = c->all_next;   /* an epoll close unlinks c at once */
		if (!atomic_load(&c->kill_requested) || c->close_after_reply)
			continue;
		if (c->blocked) {
			/* A blocked client has no reply to finish: close it now,
			 * as Redis does. */
			shard_on_hangup(s, c);
			continue;
		}
		c->close_after_reply = true;
		conn_mark_flush(s, c);
	}
}

/* save rules and auto-aof-rewrite (Redis's serverCron checks), evaluated
 * by shard 0 for the whole server: a snapshot is started on every shard. */
static void persist_cron(struct shard *s)
{
	uint32_t n = g_server.nshards;
	int64_t now_s = s->now_ms / 1000, last_save = INT64_MAX, last_try = 0;
	uint64_t dirty = 0, cur = 0, base = 0;
	bool failed = false;
	for (uint32_t i = 0; i < n; i++) {
		struct shard *o = g_server.shards[i];
		if (snapshot_running(&o->snap))
			return;
		int64_t ls = atomic_load(&o->snap.last_save_s);
		last_save = ls < last_save ? ls : last_save;
		int64_t lt = atomic_load(&o->snap.last_try_s);
		last_try = lt > last_try ? lt : last_try;
		failed |= atomic_load(&o->snap.last_ok) == 0;
		dirty += atomic_load(&o->changes) - atomic_load(&o->snap.changes_saved);
		cur += atomic_load(&o->aof.info.current_size) + atomic_load(&o->aof.info.snapshot_bytes);
		base += atomic_load(&o->aof.info.growth_base);
	}
	/* After a failure, wait 5 s between tries, as Redis does. */
	if (failed && now_s - last_try < 5)
		return;
	bool go = false;
	int nrules = atomic_load(&g_config.save_nrules);
	for (int i = 0; i < nrules && !go; i++)
		go = dirty >= (uint64_t)atomic_load(&g_config.save_rules[i][1]) &&
		     now_s - last_save >= atomic_load(&g_config.save_rules[i][0]);
	int64_t pct = atomic_load(&g_config.auto_aof_rewrite_pct);
	if (!go && aof_on() && pct > 0 && base > 0 && cur > base &&
	    cur >= (uint64_t)atomic_load(&g_config.auto_aof_rewrite_min_size))
		go = (cur - base) * 100 / base >= (uint64_t)pct;
	if (!go)
		return;
	for (uint32_t i = 0; i < n; i++) {
		snapshot_request(&g_server.shards[i]->snap);
		shard_wake(g_server.shards[i]);
	}
}

static void shard_cron(struct shard *s)
{
	if (s->id == 0)
		persist_cron(s);
	int64_t hz = atomic_load_explicit(&g_config.hz, memory_order_relaxed);
	if (hz < 1)
		hz = 1;
	if (hz > 500)
		hz = 500;
	s->next_cron_us = kv_mono_us() + 1000000 / hz;
	if (!s->holder) {
		fx_set_clock(s->now_ms);
		db_active_expire(s->db, s->now_ms, s->cron_expire_budget);
		shard_unit_commit(s);
		/* Finish a table resize an idle keyspace would leave half done
		 * (both tables allocated), 1 ms a tick, as Redis's cron does. */
		db_rehash(s->db, 1000);
		blocking_sweep(s);
	}
	int64_t timeout = atomic_load_explicit(&g_config.timeout_s, memory_order_relaxed);
	if (timeout > 0) {
		struct conn *next;
		for (struct conn *c = s->clients; c; c = next) {
			next = c->all_next;
			int64_t idle = s->now_ms - atomic_load(&c->last_active_ms);
			if (idle / 1000 > timeout && c->inflight == 0 && !c->close_started) {
				c->io_dead = true;
				conn_begin_close(s, c);
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* the loop */

/* DEBUG RELOAD on this shard: everything appended is written and fsynced,
 * the files are loaded into a fresh keyspace, which replaces the old one
 * only if the load succeeds.  Like Redis's, it stops the shard while it
 * reads (synchronous file I/O: a debugging command). */
static void shard_reload(struct shard *s)
{
	if (s->holder || !aof_idle(&s->aof) || snapshot_running(&s->snap))
		return;   /* next turn */
	atomic_store(&s->reload_wanted, false);
	shard_unit_commit(s);
	char err[4800] = "";
	int rc = aof_flush_sync(&s->aof);
	struct kv_db *db = db_create();
	if (rc == 0)
		rc = aof_reload(&s->aof, db, err, sizeof(err));
	if (rc < 0) {
		log_warning("shard %u: DEBUG RELOAD failed, the keyspace is kept: %s", s->id,
			    err[0] ? err : kv_strerror(rc));
		db_destroy(db);
		shard_snapshot_done(s, false);
		return;
	}
	db_set_expire_hook(db, fx_on_expire, fx_shard_arg(s->id));
	db_set_change_hook(db, fx_on_change, fx_shard_arg(s->id));
	db_watch_move(s->db, db);
	struct kv_db *old = s->db;
	s->db = db;
	s->held_local[s->id] = db;
	s->snap.db = db;
	db_destroy(old);
	log_notice("shard %u: DEBUG RELOAD: %llu key(s) loaded from disk", s->id,
		   (unsigned long long)db_size(db));
	shard_snapshot_done(s, true);
}

/* End of a turn: the turn's records go out as one write (group commit). */
static void shard_aof_turn(struct shard *s)
{
	shard_unit_commit(s);
	bool on = aof_on();
	if (on && !s->aof_was_on) {
		/* Turned back on: the segment misses what changed while it was
		 * off, so the keyspace is rewritten into a fresh one first. */
		if (s->holder || !aof_idle(&s->aof))
			return;   /* next turn */
		aof_rewrite_start(&s->aof, s->db, s->now_ms);
	}
	s->aof_was_on = on;
	struct snapshot_turn st = {
		.keyspace_lent = s->holder != NULL,
		.busy = s->turn_work > 0,
		.changes = atomic_load(&s->changes),
		.inflight_max = (int)atomic_load_explicit(&g_config.snapshot_inflight_blocks,
							  memory_order_relaxed),
	};
	snapshot_turn(&s->snap, &st);
	if (atomic_load_explicit(&s->reload_wanted, memory_order_relaxed))
		shard_reload(s);
	if (on)
		aof_turn_end(&s->aof, s->now_ms, aof_policy());
	/* Synchronous I/O (epoll), a policy change, or a failure: release. */
	if (s->gated || s->dw.head || (s->aof.state == AOF_FAILED && !s->aof_failed_seen))
		shard_durability_advance(s);
}

/* Shutdown: retire the ring's file ops, then write and fsync what is left. */
static void shard_aof_shutdown(struct shard *s)
{
	shard_unit_commit(s);
	struct snapshot_job *j = &s->snap;
	for (int i = 0; i < 5000 && (!aof_idle(&s->aof) || j->inflight || j->open_inflight ||
				     j->fsync_inflight); i++)
		s->reactor->poll(s, 1000);
	if (db_snapshot_active(s->db))
		db_snapshot_end(s->db);   /* an unfinished snapshot is just dropped */
	if (!aof_idle(&s->aof)) {
		log_warning("shard %u: AOF operations still in flight at exit", s->id);
		s->aof_exit_error = 1;
		return;
	}
	if (!aof_on())
		return;
	if (!s->aof_was_on) {
		/* Turned on just before shutdown: rewrite now, synchronously. */
		aof_attach(&s->aof, NULL, 0);
		/* Parked on a full disk (aof_job_busy): no retry at exit. */
		if (aof_rewrite_start(&s->aof, s->db, kv_time_ms()) < 0 ||
		    aof_job_busy(&s->aof)) {
			s->aof_exit_error = 1;
			return;
		}
	}
	aof_want_fsync(&s->aof);
	int rc = aof_flush_sync(&s->aof);
	if (rc < 0) {
		log_warning("shard %u: could not flush the AOF at shutdown: %s", s->id,
			    kv_strerror(rc));
		s->aof_exit_error = 1;
	}
}

static void shard_close_all(struct shard *s)
{
	struct conn *next;
	for (struct conn *c = s->clients; c; c = next) {
		next = c->all_next;
		c->io_dead = true;
		if (!c->close_started) {
			c->close_started = true;
			s->reactor->conn_close(s, c);
		}
	}
}

/*
 * Busy-polling (turns that only ask the reactor for news) lowers latency when
 * the shard has a core to itself, and costs throughput when it does not: on a
 * 2-core machine with 2 shards and a client, spinning shards took the CPU the
 * peer shard and the client needed (measured: GET -P16 445k/s with 1024 spin
 * turns against 849k/s with none).  So the budget is time since the last
 * useful turn, and g_server.busy_poll_us defaults to 0 when shards >= CPUs.
 */
static void shard_loop(struct shard *s)
{
	int64_t last_work_us = kv_mono_us();
	s->next_cron_us = last_work_us;
	int64_t park_until_us = last_work_us;
	while (!atomic_load_explicit(&g_server.shutdown, memory_order_relaxed)) {
		int64_t timeout_us = 0;
		int64_t now_us = kv_mono_us();
		if (now_us - last_work_us >= g_server.busy_poll_us) {
			/* Park in the reactor: a peer's message arrives as an
			 * eventfd completion, so re-check the rings after
			 * announcing the nap (pairs with shard_flush_overflow). */
			atomic_store(&s->sleeping, 1);
			atomic_thread_fence(memory_order_seq_cst);
			if (!shard_rings_pending(s)) {
				timeout_us = park_until_us - now_us;
				if (timeout_us < 1)
					timeout_us = 1;
			}
		}
		int work = s->reactor->poll(s, timeout_us);
		atomic_store_explicit(&s->sleeping, 0, memory_order_relaxed);
		s->now_ms = kv_time_ms();
		s->resp_limits.max_bulk_len = atomic_load_explicit(&g_config.proto_max_bulk_len,
								   memory_order_relaxed);
		if (work < 0) {
			log_warning("shard %u: reactor failed: %s", s->id, kv_strerror(work));
			break;
		}
		int client_work = shard_drain_rings(s);
		if (atomic_load_explicit(&s->kill_pending, memory_order_relaxed))
			shard_kill_flagged(s);
		client_work += shard_process_ready(s);
		work += client_work;
		if (s->wakes.head) {
			shard_run_local_wakes(s);
			work++;
		}
		int64_t block_us = s->blocked_conns ? shard_block_timeouts(s) : INT64_MAX;
		if (kv_mono_us() >= s->next_cron_us)
			shard_cron(s);
		/* Park no longer than the next cron tick or block deadline. */
		park_until_us = s->next_cron_us;
		if (block_us < INT64_MAX && kv_mono_us() + block_us < park_until_us)
			park_until_us = kv_mono_us() + block_us;
		s->turn_work = client_work;
		shard_aof_turn(s);
		/* A snapshot walking the table is work: no nap between slices
		 * (waiting on its own I/O, the completion wakes the ring). */
		if (snapshot_wants_turn(&s->snap)) {
			park_until_us = kv_mono_us();
			work++;
		}
		shard_flush_conns(s);
		shard_flush_overflow(s);
		shard_reap_zombies(s);
		if (work > 0)
			last_work_us = kv_mono_us();
	}
}

void *shard_thread_main(void *arg)
{
	struct shard *s = arg;
	char name[16];
	snprintf(name, sizeof(name), "kevy-shard-%u", s->id);
	pthread_setname_np(pthread_self(), name);
	s->now_ms = kv_time_ms();
	int rc = s->reactor->init(s);
	if (rc < 0) {
		log_warning("shard %u: %s reactor setup failed: %s", s->id, s->reactor->name,
			    kv_strerror(rc));
		server_request_shutdown();
		return NULL;
	}
	if (s->reactor == &reactor_uring_ops)
		reactor_uring_lend_files(s);
	else
		aof_attach(&s->aof, NULL, 0);
	s->aof_was_on = aof_on();
	fx_thread_enable(g_server.nshards);
	shard_loop(s);
	shard_aof_shutdown(s);
	/* Shutdown: stop I/O on every client and let the reactor retire the
	 * operations still in flight (bounded). */
	shard_close_all(s);
	for (int i = 0; i < 100 && s->clients; i++)
		s->reactor->poll(s, 1000);
	s->reactor->fini(s);
	fx_thread_disable();
	kv_buf_free(&s->fx_payload);
	return NULL;
}

struct shard *shard_create(uint32_t id, uint32_t nshards)
{
	struct shard *s = kv_calloc(1, sizeof(*s));
	s->id = id;
	s->db = db_create();
	db_set_expire_hook(s->db, fx_on_expire, fx_shard_arg(id));
	db_set_change_hook(s->db, fx_on_change, fx_shard_arg(id));
	s->aof.seg.fd = -1;
	snapshot_init(&s->snap, kv_time_ms() / 1000, s->db, &s->aof, shard_snapshot_done, s);
	s->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	kv_assert(s->event_fd >= 0);
	s->in = kv_calloc(nshards, sizeof(*s->in));
	for (uint32_t i = 0; i < nshards; i++)
		if (i != id)
			spsc_init(&s->in[i], SHARD_RING_SLOTS);
	s->ovf_head = kv_calloc(nshards, sizeof(*s->ovf_head));
	s->ovf_tail = kv_calloc(nshards, sizeof(*s->ovf_tail));
	s->wake_pending = kv_calloc(nshards, sizeof(*s->wake_pending));
	s->held_local = kv_calloc(nshards, sizeof(*s->held_local));
	s->held_local[id] = s->db;
	s->txn_held = kv_calloc(nshards, sizeof(*s->txn_held));
	s->txn_rels = kv_calloc(nshards, sizeof(*s->txn_rels));
	pthread_mutex_init(&s->clients_lock, NULL);
	s->cron_expire_budget = 1000;
	resp_limits_default(&s->resp_limits);
	s->resp_limits.max_bulk_len = atomic_load(&g_config.proto_max_bulk_len);
	return s;
}
