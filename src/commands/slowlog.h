/*
 * slowlog.h - one shard's slow log (SLOWLOG GET/LEN/RESET).
 *
 * Each shard keeps the commands it saw finish slower than
 * slowlog-log-slower-than, newest first, at most slowlog-max-len of them.
 * Ids come from one process-wide counter, so SLOWLOG GET can merge every
 * shard's log newest first and the ids stay unique and ordered server-wide.
 * The owner thread adds; any thread reads or resets, under the log's
 * mutex, taken only when a command is logged or SLOWLOG runs.
 *
 * An entry keeps at most SLOWLOG_ARGC_MAX arguments (the last then says
 * how many more there were) and at most SLOWLOG_ARG_MAX bytes of each (then
 * how many more), and the secrets of AUTH, HELLO ... AUTH and CONFIG SET
 * requirepass are "(redacted)", as Redis 7.0 stores them.
 */
#ifndef KV_SLOWLOG_H
#define KV_SLOWLOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"

#define SLOWLOG_ARGC_MAX 32
#define SLOWLOG_ARG_MAX 128

/* slowlog-log-slower-than (µs; negative: off, 0: every command) and
 * slowlog-max-len. */
extern _Atomic int64_t slowlog_slower_than_us;
extern _Atomic int64_t slowlog_max_len;

struct slowlog_entry {
	struct slowlog_entry *next;   /* older */
	uint64_t id;
	int64_t time_s;
	int64_t duration_us;
	int argc;
	struct kv_slice *argv;        /* into the same allocation */
	struct kv_slice peer, name;
};

struct slowlog {
	pthread_mutex_t lock;
	struct slowlog_entry *head;   /* newest */
	uint64_t len;
};

void slowlog_init(struct slowlog *l);
void slowlog_free(struct slowlog *l);
/* Whether a command that took duration_us is to be logged. */
static inline bool slowlog_wants(int64_t duration_us)
{
	int64_t t = atomic_load_explicit(&slowlog_slower_than_us, memory_order_relaxed);
	return t >= 0 && duration_us >= t;
}
/* Log a command (argv as the client sent it) with its client's address
 * ("ip:port") and name ("" when none). */
void slowlog_push(struct slowlog *l, int argc, const struct kv_slice *argv, int64_t duration_us,
		  const char *peer, const char *name);
/* Drop every entry. */
void slowlog_reset(struct slowlog *l);

/* SLOWLOG GET/LEN over the logs of n shards: the newest `count` entries
 * (count < 0: all), at most slowlog-max-len. */
void slowlog_reply_get(struct kv_buf *out, struct slowlog **logs, uint32_t n, int64_t count);
uint64_t slowlog_len(struct slowlog **logs, uint32_t n);

#endif
