/*
 * notify.c - keyspace notifications: the class string of
 * notify-keyspace-events and the two messages of an event (notify.h).
 * Delivery is the runtime's (server/pubsub.c).
 */
#include <stdio.h>
#include <string.h>

#include "commands/notify.h"

_Atomic int notify_flags;

static _Thread_local notify_publish_fn tls_publish;
static _Thread_local struct shard *tls_shard;

void notify_thread_set(notify_publish_fn publish, struct shard *shard)
{
	tls_publish = publish;
	tls_shard = shard;
}

void notify_here_slow(int type, const char *event, uint32_t dbid, const char *key, size_t klen)
{
	notify_event(tls_publish, tls_shard, type, event, dbid, key, klen);
}

int notify_classes_parse(const char *s, size_t len)
{
	int flags = 0;
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case 'A': flags |= NOTIFY_ALL; break;
		case 'g': flags |= NOTIFY_GENERIC; break;
		case '$': flags |= NOTIFY_STRING; break;
		case 'l': flags |= NOTIFY_LIST; break;
		case 's': flags |= NOTIFY_SET; break;
		case 'h': flags |= NOTIFY_HASH; break;
		case 'z': flags |= NOTIFY_ZSET; break;
		case 'x': flags |= NOTIFY_EXPIRED; break;
		case 'e': flags |= NOTIFY_EVICTED; break;
		case 'K': flags |= NOTIFY_KEYSPACE; break;
		case 'E': flags |= NOTIFY_KEYEVENT; break;
		case 't': flags |= NOTIFY_STREAM; break;
		case 'm': flags |= NOTIFY_KEY_MISS; break;
		case 'd': flags |= NOTIFY_MODULE; break;
		case 'n': flags |= NOTIFY_NEW; break;
		default: return -1;
		}
	}
	return flags;
}

size_t notify_classes_format(int flags, char *buf)
{
	size_t n = 0;
	/* Redis prints "A" alone when every class of A is on, and then drops
	 * n even when it is set ("KEAn" reads back as "AKE"): kept, because
	 * clients compare CONFIG GET's string. */
	if ((flags & NOTIFY_ALL) == NOTIFY_ALL) {
		buf[n++] = 'A';
	} else {
		static const struct { int flag; char c; } types[] = {
			{ NOTIFY_GENERIC, 'g' }, { NOTIFY_STRING, '$' }, { NOTIFY_LIST, 'l' },
			{ NOTIFY_SET, 's' }, { NOTIFY_HASH, 'h' }, { NOTIFY_ZSET, 'z' },
			{ NOTIFY_EXPIRED, 'x' }, { NOTIFY_EVICTED, 'e' }, { NOTIFY_STREAM, 't' },
			{ NOTIFY_MODULE, 'd' }, { NOTIFY_NEW, 'n' },
		};
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (flags & types[i].flag)
				buf[n++] = types[i].c;
	}
	if (flags & NOTIFY_KEYSPACE)
		buf[n++] = 'K';
	if (flags & NOTIFY_KEYEVENT)
		buf[n++] = 'E';
	if (flags & NOTIFY_KEY_MISS)
		buf[n++] = 'm';
	buf[n] = '\0';
	return n;
}

void notify_event(notify_publish_fn publish, struct shard *shard, int type, const char *event,
		  uint32_t dbid, const char *key, size_t klen)
{
	int flags = atomic_load_explicit(&notify_flags, memory_order_relaxed);
	if (!(flags & type) || !publish)
		return;
	size_t elen = strlen(event);
	char prefix[40];
	struct kv_buf chan = KV_BUF_INIT;
	/* Keyspace before keyevent, as Redis publishes them. */
	if (flags & NOTIFY_KEYSPACE) {
		int n = snprintf(prefix, sizeof(prefix), "__keyspace@%u__:", dbid);
		kv_buf_append(&chan, prefix, (size_t)n);
		kv_buf_append(&chan, key, klen);
		publish(shard, chan.data, chan.len, event, elen);
		chan.len = 0;
	}
	if (flags & NOTIFY_KEYEVENT) {
		int n = snprintf(prefix, sizeof(prefix), "__keyevent@%u__:", dbid);
		kv_buf_append(&chan, prefix, (size_t)n);
		kv_buf_append(&chan, event, elen);
		publish(shard, chan.data, chan.len, key, klen);
	}
	kv_buf_free(&chan);
}

void notify_key(const struct cmd_ctx *c, int type, const char *event, uint32_t dbid,
		const char *key, size_t klen)
{
	if (c)
		cmd_notify_db(c, type, event, dbid, key, klen);
	else
		notify_here(type, event, dbid, key, klen);
}

void notify_pop(const struct cmd_ctx *c, int type, const char *event, struct kv_db *db,
		const char *key, size_t klen)
{
	if (!notify_wanted(type | NOTIFY_GENERIC))
		return;
	uint32_t dbid = db_index(db);
	notify_key(c, type, event, dbid, key, klen);
	if (!db_lookup(db, key, klen, 0))
		notify_key(c, NOTIFY_GENERIC, "del", dbid, key, klen);
}
