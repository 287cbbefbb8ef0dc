/*
 * bcast.c - broadcast commands (PUBLISH): the part on this shard runs at
 * once, the other shards with subscribers run theirs from a MSG_BCAST and
 * answer with a count; the client's reply is the sum.  Messages of one
 * publisher reach a subscriber in order because they travel one FIFO ring.
 */
#include <stdlib.h>

#include "base/kv.h"
#include "server/shard.h"

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
	/* A client's PUBLISH counts here, once, with the time of its part on
	 * this shard (inside EXEC its handler runs, and counts, instead). */
	struct cmd_stat *cs = c ? shard_cmd_stat(s, cmd) : NULL;
	uint64_t start = cs ? kv_ticks() : 0;
	b->total = self ? cmd->bcast(s, &b->call) : 0;
	if (cs) {
		stat_add(&cs->calls, 1);
		stat_add(&cs->ticks, kv_ticks() - start);
	}
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

void bcast_part_run(struct shard *s, struct bcast_part *part)
{
	part->count = part->b->call.cmd->bcast(s, &part->b->call);
	part->m.type = MSG_BCAST_DONE;
	shard_send(s, part->m.from, &part->m);
}

void bcast_part_done(struct shard *s, struct bcast_part *part)
{
	struct bcast *b = part->b;
	b->total += part->count;
	free(part);
	kv_assert(b->pending > 0);
	if (--b->pending == 0)
		bcast_finish(s, b);
}
