/*
 * msg.c - messages between shards: each shard has one single-producer,
 * single-consumer ring per peer; a full ring overflows into a per-peer list
 * kept in order and flushed every turn; a parked peer is woken through its
 * eventfd.  Also the process-wide stop (SHUTDOWN, signals).
 *
 * Not here: what a message means (route.c handles them).
 */
#include <stdatomic.h>
#include <unistd.h>

#include "base/kv.h"
#include "server/shard.h"


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

void shard_flush_overflow(struct shard *s)
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

void shard_deferred_push(struct shard *s, struct shard_msg *m)
{
	msg_fifo_push(&s->deferred, m);
}

struct shard_msg *shard_deferred_pop(struct shard *s)
{
	return msg_fifo_pop(&s->deferred);
}

void shard_inbox_push(struct shard *s, struct shard_msg *m)
{
	pthread_mutex_lock(&s->inbox_lock);
	msg_fifo_push(&s->inbox, m);
	atomic_store(&s->inbox_any, true);
	pthread_mutex_unlock(&s->inbox_lock);
	shard_wake(s);
}

struct shard_msg *shard_inbox_take(struct shard *s)
{
	if (!atomic_load_explicit(&s->inbox_any, memory_order_acquire))
		return NULL;
	pthread_mutex_lock(&s->inbox_lock);
	struct shard_msg *head = s->inbox.head;
	s->inbox.head = s->inbox.tail = NULL;
	atomic_store(&s->inbox_any, false);
	pthread_mutex_unlock(&s->inbox_lock);
	return head;
}

bool shard_rings_pending(struct shard *s)
{
	if (atomic_load_explicit(&s->inbox_any, memory_order_relaxed))
		return true;
	for (uint32_t from = 0; from < g_server.nshards; from++)
		if (from != s->id && spsc_nonempty(&s->in[from]))
			return true;
	return false;
}

void shard_stop_all(void)
{
	atomic_store(&g_server.shutdown, true);
	for (uint32_t i = 0; i < g_server.nshards; i++)
		if (g_server.shards && g_server.shards[i])
			shard_wake(g_server.shards[i]);
}
