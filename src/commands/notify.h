/*
 * notify.h - keyspace notifications (Redis's notify.c): the classes of the
 * notify-keyspace-events setting, and the events commands and the store
 * raise, published as pub/sub messages on
 *   __keyspace@<db>__:<key>    with the event name as the message (K), and
 *   __keyevent@<db>__:<event>  with the key name as the message (E).
 *
 * This module decides *whether* and *what* to publish; the runtime decides
 * how a message reaches the subscribers of every shard (c->rt->publish,
 * server/pubsub.c) and when the command's reply may leave after it
 * (docs/notifications.md).  Without a runtime (AOF replay, the tools, unit
 * tests) nothing is published: notifications are not durable state.
 *
 * Disabled (the default, notify-keyspace-events ""), an event costs one
 * relaxed load and one branch (cmd_notify is inline).
 */
#ifndef KV_NOTIFY_H
#define KV_NOTIFY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commands/cmd.h"

/* The classes, with Redis's bit values (server.h). */
enum notify_class {
	NOTIFY_KEYSPACE = 1 << 0,   /* K */
	NOTIFY_KEYEVENT = 1 << 1,   /* E */
	NOTIFY_GENERIC = 1 << 2,    /* g */
	NOTIFY_STRING = 1 << 3,     /* $ */
	NOTIFY_LIST = 1 << 4,       /* l */
	NOTIFY_SET = 1 << 5,        /* s */
	NOTIFY_HASH = 1 << 6,       /* h */
	NOTIFY_ZSET = 1 << 7,       /* z */
	NOTIFY_EXPIRED = 1 << 8,    /* x */
	NOTIFY_EVICTED = 1 << 9,    /* e */
	NOTIFY_STREAM = 1 << 10,    /* t */
	NOTIFY_KEY_MISS = 1 << 11,  /* m: not part of A */
	NOTIFY_MODULE = 1 << 13,    /* d */
	NOTIFY_NEW = 1 << 14,       /* n: not part of A */
};
/* "A": every class but m and n (as in Redis 7.0). */
#define NOTIFY_ALL (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | \
		    NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)

/* The classes in effect (CONFIG SET notify-keyspace-events), read by every
 * shard thread. */
extern _Atomic int notify_flags;

/* Parse a class string ("KEA", "Elg$"); returns the flags, or -1 when it
 * holds a character that names no class (Redis's error then). */
int notify_classes_parse(const char *s, size_t len);
/* The canonical string of flags, as CONFIG GET shows it: "A" or the type
 * classes in Redis's order, then K, E, m.  buf needs NOTIFY_CLASSES_MAX
 * bytes; returns the length (NUL-terminated). */
#define NOTIFY_CLASSES_MAX 24
size_t notify_classes_format(int flags, char *buf);

/* How the runtime publishes a message to every shard's subscribers, from
 * the thread that runs the change (shard: that thread's, opaque here). */
typedef void (*notify_publish_fn)(struct shard *shard, const char *chan, size_t clen,
				  const char *msg, size_t mlen);

/* Publish `event` on `key` of database dbid, if class `type` is on:
 * the keyspace and keyevent messages, as the flags ask. */
void notify_event(notify_publish_fn publish, struct shard *shard, int type, const char *event,
		  uint32_t dbid, const char *key, size_t klen);

/* Events raised outside a handler, on the thread that makes the change:
 * the store's expiry and new-key hooks, a blocked client served by another
 * client's write, eviction (call notify_here(NOTIFY_EVICTED, "evicted",
 * dbid, key, klen) once the key is gone).  The runtime sets the thread's
 * publisher while it serves (NULL: nothing is published, as while files
 * load); handlers use cmd_notify instead, which goes through c->rt. */
void notify_thread_set(notify_publish_fn publish, struct shard *shard);
void notify_here_slow(int type, const char *event, uint32_t dbid, const char *key,
		      size_t klen);

static inline bool notify_wanted(int type)
{
	return (atomic_load_explicit(&notify_flags, memory_order_relaxed) & type) != 0;
}

static inline void notify_here(int type, const char *event, uint32_t dbid, const char *key,
			       size_t klen)
{
	if (notify_wanted(type))
		notify_here_slow(type, event, dbid, key, klen);
}

/* A handler's event on a key of the command's database. */
static inline void cmd_notify(const struct cmd_ctx *c, int type, const char *event,
			      const char *key, size_t klen)
{
	if (notify_wanted(type) && c->rt)
		notify_event(c->rt->publish, c->shard, type, event, c->dbid, key, klen);
}

/* A read lookup of key (Redis's lookupKeyRead): counts a keyspace hit or
 * miss, and a miss raises "keymiss" (class m). */
static inline void cmd_count_read(const struct cmd_ctx *c, const char *key, size_t klen,
				  bool hit)
{
	cmd_count_lookup(c, hit);
	if (!hit)
		cmd_notify(c, NOTIFY_KEY_MISS, "keymiss", key, klen);
}

/* The same for argv[i]. */
static inline void cmd_notify_arg(const struct cmd_ctx *c, int type, const char *event, int i)
{
	cmd_notify(c, type, event, c->argv[i].ptr, c->argv[i].len);
}

/* An event on a key of another database (MOVE, COPY ... DB). */
static inline void cmd_notify_db(const struct cmd_ctx *c, int type, const char *event,
				 uint32_t dbid, const char *key, size_t klen)
{
	if (notify_wanted(type) && c->rt)
		notify_event(c->rt->publish, c->shard, type, event, dbid, key, klen);
}

/* For code that runs both in a handler (c) and outside one (c NULL: a
 * blocked client served by another write): cmd_notify_db or notify_here. */
void notify_key(const struct cmd_ctx *c, int type, const char *event, uint32_t dbid,
		const char *key, size_t klen);
/* A pop's events (Redis's listElementsRemoved, genericZpopCommand, ...):
 * `event` of class `type` on key of db, then "del" when the pop emptied the
 * key (it is gone from db). */
void notify_pop(const struct cmd_ctx *c, int type, const char *event, struct kv_db *db,
		const char *key, size_t klen);

#endif
