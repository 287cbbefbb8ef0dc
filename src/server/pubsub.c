/*
 * pubsub.c - SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB,
 * and the shard channels of Redis 7.0: SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH.
 *
 * A subscription lives on the subscriber's own shard: each shard keeps a
 * table channel -> its local subscribers and a list of local pattern
 * subscriptions, so subscribing never crosses threads.  PUBLISH is a
 * broadcast: the publisher's shard delivers to its own subscribers and sends
 * the message to every other shard that has any subscription; each delivers
 * locally and answers with a count, and the publisher's reply is the sum
 * (the number of clients reached, as in Redis).  Messages from one publisher
 * reach a subscriber in publish order: they travel the same FIFO ring.
 *
 * PUBSUB CHANNELS/NUMSUB/NUMPAT read every shard's tables while holding every
 * keyspace (CMD_ALL_SHARDS); the tables change only on their own thread while
 * its keyspace is free (subscribe commands pause like keyspace commands, and
 * a closed client's subscriptions are dropped at reaping time).
 *
 * Shard channels are a namespace of their own (SPUBLISH reaches only
 * SSUBSCRIBE subscribers, "smessage"), kept like channels: in a standalone
 * Redis they behave so, and kevy is one standalone server whatever its
 * shard count, so SPUBLISH is a broadcast like PUBLISH.
 *
 * A subscriber that does not read its messages is disconnected once its
 * output passes client-output-buffer-limit's pubsub class (shard.c).
 */
#include <stdlib.h>
#include <string.h>

#include "commands/cmd.h"
#include "store/dict.h"
#include "base/kv.h"
#include "server/shard.h"

struct ps_channel {
	struct dict_node node;
	struct conn **subs;
	uint32_t nsubs, cap;
	size_t len;
	char name[];
};

struct ps_pattern {
	struct conn *conn;
	size_t len;
	char *pat;
};

struct pubsub_shard {
	struct dict channels;
	struct dict schannels;       /* shard channels */
	struct ps_pattern *patterns;
	uint32_t npatterns, cap;
};

/* A client's own subscriptions: short lists, in subscription order. */
struct pubsub_conn {
	struct kv_slice *channels;
	uint32_t nchannels, ccap;
	struct kv_slice *patterns;
	uint32_t npatterns, pcap;
	struct kv_slice *schannels;
	uint32_t nschannels, scap;
};

static struct kv_slice ps_channel_key(const struct dict_node *n)
{
	const struct ps_channel *ch = (const struct ps_channel *)n;
	return (struct kv_slice){ ch->name, ch->len };
}

static const struct dict_type ps_channel_type = { ps_channel_key };

static struct pubsub_shard *ps_of(struct shard *s)
{
	if (!s->pubsub) {
		s->pubsub = kv_calloc(1, sizeof(struct pubsub_shard));
		dict_init(&s->pubsub->channels, &ps_channel_type, 0x7075627375620001ull);
		dict_init(&s->pubsub->schannels, &ps_channel_type, 0x7075627375620002ull);
	}
	return s->pubsub;
}

static struct pubsub_conn *psc_of(struct conn *c)
{
	if (!c->pubsub)
		c->pubsub = kv_calloc(1, sizeof(struct pubsub_conn));
	return c->pubsub;
}

uint32_t pubsub_count(const struct conn *c)
{
	return c->pubsub ? c->pubsub->nchannels + c->pubsub->npatterns + c->pubsub->nschannels
			 : 0;
}

/* What (UN)SUBSCRIBE's and P(UN)SUBSCRIBE's replies count: channels and
 * patterns; shard channels count apart (Redis 7.0). */
static uint32_t ps_reply_count(const struct conn *c)
{
	return c->pubsub ? c->pubsub->nchannels + c->pubsub->npatterns : 0;
}

static uint32_t ps_shard_count(const struct conn *c)
{
	return c->pubsub ? c->pubsub->nschannels : 0;
}

void pubsub_counts(const struct conn *c, uint32_t *channels, uint32_t *patterns,
		   uint32_t *shard_channels)
{
	*channels = c->pubsub ? c->pubsub->nchannels : 0;
	*patterns = c->pubsub ? c->pubsub->npatterns : 0;
	*shard_channels = ps_shard_count(c);
}

static void shard_subs_changed(struct shard *s, int64_t delta)
{
	atomic_fetch_add_explicit(&s->pubsub_subs, (uint64_t)delta, memory_order_relaxed);
}

/* ---- per-client lists ---- */

static int slice_find(const struct kv_slice *v, uint32_t n, const char *p, size_t len)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i].len == len && memcmp(v[i].ptr, p, len) == 0)
			return (int)i;
	return -1;
}

static void slice_push(struct kv_slice **v, uint32_t *n, uint32_t *cap, const char *p, size_t len)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*v = kv_realloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = (struct kv_slice){ kv_strndup(p, len), len };
}

static void slice_remove(struct kv_slice *v, uint32_t *n, uint32_t i)
{
	free((void *)v[i].ptr);
	memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
	(*n)--;
}

/* ---- shard tables ---- */

static struct dict *ps_table(struct shard *s, bool shard_channels)
{
	struct pubsub_shard *ps = ps_of(s);
	return shard_channels ? &ps->schannels : &ps->channels;
}

static void table_add(struct shard *s, struct dict *d, struct conn *c, const char *name,
		      size_t len)
{
	struct ps_channel *ch = (struct ps_channel *)dict_find(d, name, len);
	if (!ch) {
		ch = kv_calloc(1, sizeof(*ch) + len);
		ch->len = len;
		memcpy(ch->name, name, len);
		dict_add(d, &ch->node);
	}
	if (ch->nsubs == ch->cap) {
		ch->cap = ch->cap ? ch->cap * 2 : 4;
		ch->subs = kv_realloc(ch->subs, ch->cap * sizeof(*ch->subs));
	}
	ch->subs[ch->nsubs++] = c;
	shard_subs_changed(s, 1);
}

static void table_remove(struct shard *s, struct dict *d, struct conn *c, const char *name,
			 size_t len)
{
	struct ps_channel *ch = (struct ps_channel *)dict_find(d, name, len);
	kv_assert(ch);
	for (uint32_t i = 0; i < ch->nsubs; i++) {
		if (ch->subs[i] == c) {
			memmove(&ch->subs[i], &ch->subs[i + 1], (ch->nsubs - i - 1) * sizeof(c));
			ch->nsubs--;
			break;
		}
	}
	if (ch->nsubs == 0) {
		dict_unlink(d, name, len);
		free(ch->subs);
		free(ch);
	}
	shard_subs_changed(s, -1);
}

static void channel_add(struct shard *s, struct conn *c, const char *name, size_t len)
{
	table_add(s, ps_table(s, false), c, name, len);
}

static void channel_remove(struct shard *s, struct conn *c, const char *name, size_t len)
{
	table_remove(s, ps_table(s, false), c, name, len);
}

static void schannel_add(struct shard *s, struct conn *c, const char *name, size_t len)
{
	table_add(s, ps_table(s, true), c, name, len);
}

static void schannel_remove(struct shard *s, struct conn *c, const char *name, size_t len)
{
	table_remove(s, ps_table(s, true), c, name, len);
}

static void pattern_add(struct shard *s, struct conn *c, const char *pat, size_t len)
{
	struct pubsub_shard *ps = ps_of(s);
	if (ps->npatterns == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 4;
		ps->patterns = kv_realloc(ps->patterns, ps->cap * sizeof(*ps->patterns));
	}
	ps->patterns[ps->npatterns++] = (struct ps_pattern){ c, len, kv_strndup(pat, len) };
	shard_subs_changed(s, 1);
}

static void pattern_remove(struct shard *s, struct conn *c, const char *pat, size_t len)
{
	struct pubsub_shard *ps = ps_of(s);
	for (uint32_t i = 0; i < ps->npatterns; i++) {
		struct ps_pattern *p = &ps->patterns[i];
		if (p->conn == c && p->len == len && memcmp(p->pat, pat, len) == 0) {
			free(p->pat);
			memmove(p, p + 1, (ps->npatterns - i - 1) * sizeof(*p));
			ps->npatterns--;
			shard_subs_changed(s, -1);
			return;
		}
	}
	kv_assert(!"pattern subscription not found");
}

/* ---- replies ---- */

/* A (un)subscribe confirmation.  Redis sends it as a push, which reaches a
 * client even with CLIENT REPLY OFF: then it bypasses the command's reply. */
static void reply_sub(struct cmd_ctx *ctx, const char *kind, const char *p, size_t len,
		      uint32_t count)
{
	struct conn *c = ctx->conn;
	struct kv_buf *out = c->reply_silenced ? shard_conn_push_begin(ctx->shard, c) : ctx->out;
	resp_push(out, 3);
	resp_bulk_str(out, kind);
	if (p)
		resp_bulk(out, p, len);
	else
		resp_null(out);
	resp_int(out, count);
	if (c->reply_silenced)
		shard_conn_push_end(ctx->shard, c);
}

static void cmd_subscribe(struct cmd_ctx *ctx)
{
	struct conn *c = ctx->conn;
	struct pubsub_conn *pc = psc_of(c);
	for (int i = 1; i < ctx->argc; i++) {
		const struct kv_slice *a = &ctx->argv[i];
		if (slice_find(pc->channels, pc->nchannels, a->ptr, a->len) < 0) {
			slice_push(&pc->channels, &pc->nchannels, &pc->ccap, a->ptr, a->len);
			channel_add(ctx->shard, c, a->ptr, a->len);
		}
		reply_sub(ctx, "subscribe", a->ptr, a->len, ps_reply_count(c));
	}
}

static void cmd_psubscribe(struct cmd_ctx *ctx)
{
	struct conn *c = ctx->conn;
	struct pubsub_conn *pc = psc_of(c);
	for (int i = 1; i < ctx->argc; i++) {
		const struct kv_slice *a = &ctx->argv[i];
		if (slice_find(pc->patterns, pc->npatterns, a->ptr, a->len) < 0) {
			slice_push(&pc->patterns, &pc->npatterns, &pc->pcap, a->ptr, a->len);
			pattern_add(ctx->shard, c, a->ptr, a->len);
		}
		reply_sub(ctx, "psubscribe", a->ptr, a->len, ps_reply_count(c));
	}
}

static void cmd_ssubscribe(struct cmd_ctx *ctx)
{
	struct conn *c = ctx->conn;
	struct pubsub_conn *pc = psc_of(c);
	for (int i = 1; i < ctx->argc; i++) {
		const struct kv_slice *a = &ctx->argv[i];
		if (slice_find(pc->schannels, pc->nschannels, a->ptr, a->len) < 0) {
			slice_push(&pc->schannels, &pc->nschannels, &pc->scap, a->ptr, a->len);
			schannel_add(ctx->shard, c, a->ptr, a->len);
		}
		reply_sub(ctx, "ssubscribe", a->ptr, a->len, ps_shard_count(c));
	}
}

enum ps_kind { PS_CHANNELS, PS_PATTERNS, PS_SHARD };

static uint32_t ps_kind_count(const struct conn *c, enum ps_kind k)
{
	return k == PS_SHARD ? ps_shard_count(c) : ps_reply_count(c);
}

/* UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE: named ones, or all when none
 * is named. */
static void unsubscribe_generic(struct cmd_ctx *ctx, enum ps_kind k)
{
	struct conn *c = ctx->conn;
	struct pubsub_conn *pc = psc_of(c);
	static const char *const kinds[] = { "unsubscribe", "punsubscribe", "sunsubscribe" };
	const char *kind = kinds[k];
	struct kv_slice **list = k == PS_PATTERNS ? &pc->patterns
				 : k == PS_SHARD ? &pc->schannels : &pc->channels;
	uint32_t *n = k == PS_PATTERNS ? &pc->npatterns
		      : k == PS_SHARD ? &pc->nschannels : &pc->nchannels;
	void (*remove)(struct shard *, struct conn *, const char *, size_t) =
		k == PS_PATTERNS ? pattern_remove : k == PS_SHARD ? schannel_remove : channel_remove;
	if (ctx->argc == 1) {
		if (*n == 0)
			reply_sub(ctx, kind, NULL, 0, ps_kind_count(c, k));
		while (*n > 0) {
			struct kv_slice name = (*list)[0];
			remove(ctx->shard, c, name.ptr, name.len);
			(*list)[0].ptr = NULL;
			memmove(&(*list)[0], &(*list)[1], (*n - 1) * sizeof(**list));
			(*n)--;
			reply_sub(ctx, kind, name.ptr, name.len, ps_kind_count(c, k));
			free((void *)name.ptr);
		}
		return;
	}
	for (int i = 1; i < ctx->argc; i++) {
		const struct kv_slice *a = &ctx->argv[i];
		int at = slice_find(*list, *n, a->ptr, a->len);
		if (at >= 0) {
			remove(ctx->shard, c, a->ptr, a->len);
			slice_remove(*list, n, (uint32_t)at);
		}
		reply_sub(ctx, kind, a->ptr, a->len, ps_kind_count(c, k));
	}
}

static void cmd_unsubscribe(struct cmd_ctx *ctx)
{
	unsubscribe_generic(ctx, PS_CHANNELS);
}

static void cmd_punsubscribe(struct cmd_ctx *ctx)
{
	unsubscribe_generic(ctx, PS_PATTERNS);
}

static void cmd_sunsubscribe(struct cmd_ctx *ctx)
{
	unsubscribe_generic(ctx, PS_SHARD);
}

void pubsub_conn_drop(struct shard *s, struct conn *c)
{
	struct pubsub_conn *pc = c->pubsub;
	if (!pc)
		return;
	for (uint32_t i = 0; i < pc->nchannels; i++) {
		channel_remove(s, c, pc->channels[i].ptr, pc->channels[i].len);
		free((void *)pc->channels[i].ptr);
	}
	for (uint32_t i = 0; i < pc->npatterns; i++) {
		pattern_remove(s, c, pc->patterns[i].ptr, pc->patterns[i].len);
		free((void *)pc->patterns[i].ptr);
	}
	for (uint32_t i = 0; i < pc->nschannels; i++) {
		schannel_remove(s, c, pc->schannels[i].ptr, pc->schannels[i].len);
		free((void *)pc->schannels[i].ptr);
	}
	free(pc->channels);
	free(pc->patterns);
	free(pc->schannels);
	free(pc);
	c->pubsub = NULL;
}

/* ---- delivery (runs on every shard for each PUBLISH) ---- */

/* kind ("message", "smessage") to every subscriber of channel in table d
 * on this shard; returns how many. */
static uint64_t deliver_table(struct shard *s, struct dict *d, const char *kind,
			      const struct kv_slice *channel, const struct kv_slice *msg)
{
	struct ps_channel *ch = (struct ps_channel *)dict_find(d, channel->ptr, channel->len);
	for (uint32_t i = 0; ch && i < ch->nsubs; i++) {
		struct conn *c = ch->subs[i];
		struct kv_buf *out = shard_conn_push_begin(s, c);
		resp_push(out, 3);
		resp_bulk_str(out, kind);
		resp_bulk(out, channel->ptr, channel->len);
		resp_bulk(out, msg->ptr, msg->len);
		shard_conn_push_end(s, c);
	}
	return ch ? ch->nsubs : 0;
}

uint64_t pubsub_deliver(struct shard *s, const struct kv_slice *channel,
			const struct kv_slice *msg)
{
	struct pubsub_shard *ps = s->pubsub;
	if (!ps)
		return 0;
	uint64_t n = deliver_table(s, &ps->channels, "message", channel, msg);
	for (uint32_t i = 0; i < ps->npatterns; i++) {
		struct ps_pattern *p = &ps->patterns[i];
		if (!glob_match(p->pat, p->len, channel->ptr, channel->len, false))
			continue;
		struct kv_buf *out = shard_conn_push_begin(s, p->conn);
		resp_push(out, 4);
		resp_bulk_str(out, "pmessage");
		resp_bulk(out, p->pat, p->len);
		resp_bulk(out, channel->ptr, channel->len);
		resp_bulk(out, msg->ptr, msg->len);
		shard_conn_push_end(s, p->conn);
		n++;
	}
	return n;
}

/* SPUBLISH's delivery on one shard: its shard-channel subscribers. */
static uint64_t pubsub_sdeliver(struct shard *s, const struct kv_slice *channel,
				const struct kv_slice *msg)
{
	struct pubsub_shard *ps = s->pubsub;
	return ps ? deliver_table(s, &ps->schannels, "smessage", channel, msg) : 0;
}

/* ---- keyspace notifications (commands/notify.h, docs/notifications.md) ---- */

static void notify_put(struct kv_buf *b, const char *p, size_t len)
{
	uint32_t n = (uint32_t)len;
	kv_buf_append(b, &n, sizeof(n));
	kv_buf_append(b, p, len);
}

/* In a batch, a shard-channel message's channel length has this bit set. */
#define NOTIFY_SHARD_CHANNEL 0x80000000u

void pubsub_notify_publish(struct shard *s, const char *chan, size_t clen, const char *msg,
			   size_t mlen)
{
	struct kv_slice ch = { chan, clen }, m = { msg, mlen };
	pubsub_deliver(s, &ch, &m);
	/* The other shards get it with the unit's batch (gate.c), which goes
	 * only to shards that have subscriptions then. */
	if (g_server.nshards > 1) {
		notify_put(&s->notify_out, chan, clen);
		notify_put(&s->notify_out, msg, mlen);
	}
}

void pubsub_notify_spublish(struct shard *s, const char *chan, size_t clen, const char *msg,
			    size_t mlen)
{
	struct kv_slice ch = { chan, clen }, m = { msg, mlen };
	pubsub_sdeliver(s, &ch, &m);
	if (g_server.nshards > 1) {
		uint32_t n = (uint32_t)clen | NOTIFY_SHARD_CHANNEL;
		kv_buf_append(&s->notify_out, &n, sizeof(n));
		kv_buf_append(&s->notify_out, chan, clen);
		notify_put(&s->notify_out, msg, mlen);
	}
}

static struct kv_slice notify_get(const struct kv_buf *b, size_t *off, bool *shard)
{
	uint32_t n;
	kv_assert(*off + sizeof(n) <= b->len);
	memcpy(&n, b->data + *off, sizeof(n));
	*off += sizeof(n);
	if (shard)
		*shard = n & NOTIFY_SHARD_CHANNEL;
	n &= ~NOTIFY_SHARD_CHANNEL;
	kv_assert(*off + n <= b->len);
	struct kv_slice v = { b->data + *off, n };
	*off += n;
	return v;
}

void pubsub_deliver_batch(struct shard *s, const struct kv_buf *payload)
{
	size_t off = 0;
	while (off < payload->len) {
		bool shard_channel;
		struct kv_slice ch = notify_get(payload, &off, &shard_channel);
		struct kv_slice m = notify_get(payload, &off, NULL);
		if (shard_channel)
			pubsub_sdeliver(s, &ch, &m);
		else
			pubsub_deliver(s, &ch, &m);
	}
}

/* PUBLISH's per-shard part; the runtime sums the counts into the reply. */
static uint64_t publish_bcast(struct shard *s, const struct cmd_call *call)
{
	return pubsub_deliver(s, &call->argv[1], &call->argv[2]);
}

uint64_t pubsub_receivers(struct shard *s, const struct kv_slice *channel)
{
	struct pubsub_shard *ps = s->pubsub;
	if (!ps)
		return 0;
	struct ps_channel *ch = (struct ps_channel *)dict_find(&ps->channels, channel->ptr,
							       channel->len);
	uint64_t n = ch ? ch->nsubs : 0;
	for (uint32_t i = 0; i < ps->npatterns; i++)
		n += glob_match(ps->patterns[i].pat, ps->patterns[i].len, channel->ptr,
				channel->len, false);
	return n;
}

static uint64_t spublish_bcast(struct shard *s, const struct cmd_call *call)
{
	return pubsub_sdeliver(s, &call->argv[1], &call->argv[2]);
}

uint64_t pubsub_sreceivers(struct shard *s, const struct kv_slice *channel)
{
	struct pubsub_shard *ps = s->pubsub;
	if (!ps)
		return 0;
	struct ps_channel *ch = (struct ps_channel *)dict_find(&ps->schannels, channel->ptr,
							       channel->len);
	return ch ? ch->nsubs : 0;
}

/* Outside MULTI, PUBLISH never gets here: the runtime broadcasts it and
 * sums the counts.  Inside EXEC it runs holding every keyspace (it is
 * CMD_ALL_SHARDS), which keeps every shard's subscription table still: count
 * the receivers from the tables, deliver here, and send the message to the
 * other shards without waiting for them. */
static void cmd_publish(struct cmd_ctx *ctx)
{
	uint64_t n = pubsub_deliver(ctx->shard, &ctx->argv[1], &ctx->argv[2]);
	for (uint32_t i = 0; i < ctx->nshards; i++) {
		if (i == ctx->shard->id)
			continue;
		cmd_db_at(ctx, i);
		n += pubsub_receivers(g_server.shards[i], &ctx->argv[1]);
	}
	shard_bcast(ctx->shard, NULL, cmd_lookup("publish", 7), ctx->argc, ctx->argv, false);
	resp_int(ctx->out, (int64_t)n);
}

/* SPUBLISH inside EXEC: as PUBLISH above. */
static void cmd_spublish(struct cmd_ctx *ctx)
{
	uint64_t n = pubsub_sdeliver(ctx->shard, &ctx->argv[1], &ctx->argv[2]);
	for (uint32_t i = 0; i < ctx->nshards; i++) {
		if (i == ctx->shard->id)
			continue;
		cmd_db_at(ctx, i);
		n += pubsub_sreceivers(g_server.shards[i], &ctx->argv[1]);
	}
	shard_bcast(ctx->shard, NULL, cmd_lookup("spublish", 8), ctx->argc, ctx->argv, false);
	resp_int(ctx->out, (int64_t)n);
}

/* ---- PUBSUB ---- */

/* PUBSUB CHANNELS gathers names from every shard (a channel with
 * subscribers on several shards is listed once). */
struct channels_walk {
	const struct kv_slice *pattern;
	struct kv_slice *names;
	size_t n, cap;
};

static void channels_walk_fn(void *arg, struct dict_node *n)
{
	struct channels_walk *w = arg;
	struct ps_channel *ch = (struct ps_channel *)n;
	if (w->pattern && !glob_match(w->pattern->ptr, w->pattern->len, ch->name, ch->len, false))
		return;
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->names = kv_realloc(w->names, w->cap * sizeof(*w->names));
	}
	w->names[w->n++] = (struct kv_slice){ ch->name, ch->len };
}

static int slice_cmp(const void *a, const void *b)
{
	const struct kv_slice *x = a, *y = b;
	int c = memcmp(x->ptr, y->ptr, KV_MIN(x->len, y->len));
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static uint64_t numsub(struct cmd_ctx *ctx, const struct kv_slice *channel, bool shard)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < ctx->nshards; i++) {
		cmd_db_at(ctx, i); /* asserts the shard is held */
		struct pubsub_shard *ps = g_server.shards[i]->pubsub;
		if (!ps)
			continue;
		struct ps_channel *ch = (struct ps_channel *)dict_find(
			shard ? &ps->schannels : &ps->channels, channel->ptr, channel->len);
		if (ch)
			n += ch->nsubs;
	}
	return n;
}

/* Channels with subscribers on any shard (matching pattern when given),
 * each once, sorted; *names (the caller frees) points into the tables. */
static size_t unique_channels(const struct cmd_ctx *ctx, const struct kv_slice *pattern,
			      bool shard, struct kv_slice **names)
{
	struct channels_walk w = { pattern, NULL, 0, 0 };
	for (uint32_t i = 0; i < ctx->nshards; i++) {
		cmd_db_at(ctx, i);
		struct pubsub_shard *ps = g_server.shards[i]->pubsub;
		if (!ps)
			continue;
		/* A scan reports each element exactly once only on a table
		 * that is not being rehashed. */
		struct dict *d = shard ? &ps->schannels : &ps->channels;
		while (dict_is_rehashing(d))
			dict_rehash_step(d, 1024);
		uint64_t cursor = 0;
		do {
			cursor = dict_scan(d, cursor, channels_walk_fn, &w);
		} while (cursor);
	}
	if (w.n > 1)
		qsort(w.names, w.n, sizeof(*w.names), slice_cmp);
	size_t unique = 0;
	for (size_t i = 0; i < w.n; i++)
		if (i == 0 || slice_cmp(&w.names[i - 1], &w.names[i]) != 0)
			w.names[unique++] = w.names[i];
	*names = w.names;
	return unique;
}

/* Unique patterns, as Redis counts them: the lists hold one entry per
 * subscription, and a pattern may be on several shards. */
static size_t unique_patterns(const struct cmd_ctx *ctx)
{
	size_t total = 0;
	for (uint32_t i = 0; i < ctx->nshards; i++) {
		cmd_db_at(ctx, i);
		struct pubsub_shard *ps = g_server.shards[i]->pubsub;
		total += ps ? ps->npatterns : 0;
	}
	struct kv_slice *pats = kv_calloc(total ? total : 1, sizeof(*pats));
	size_t n = 0;
	for (uint32_t i = 0; i < ctx->nshards; i++) {
		struct pubsub_shard *ps = g_server.shards[i]->pubsub;
		for (uint32_t j = 0; ps && j < ps->npatterns; j++)
			pats[n++] = (struct kv_slice){ ps->patterns[j].pat, ps->patterns[j].len };
	}
	if (n > 1)
		qsort(pats, n, sizeof(*pats), slice_cmp);
	size_t unique = 0;
	for (size_t i = 0; i < n; i++)
		unique += i == 0 || slice_cmp(&pats[i - 1], &pats[i]) != 0;
	free(pats);
	return unique;
}

void pubsub_info_counts(const struct cmd_ctx *ctx, uint64_t *channels, uint64_t *patterns,
			uint64_t *shard_channels)
{
	struct kv_slice *names;
	*channels = unique_channels(ctx, NULL, false, &names);
	free(names);
	*shard_channels = unique_channels(ctx, NULL, true, &names);
	free(names);
	*patterns = unique_patterns(ctx);
}

/* PUBSUB CHANNELS / SHARDCHANNELS [pattern]: Redis 7.0 checks the
 * argument count itself, with its own wording. */
static void pubsub_list(struct cmd_ctx *ctx, bool shard)
{
	if (ctx->argc > 3) {
		struct kv_buf msg = KV_BUF_INIT;
		kv_buf_append_str(&msg, "ERR unknown subcommand or wrong number of arguments for '");
		kv_buf_append(&msg, ctx->argv[1].ptr, KV_MIN(ctx->argv[1].len, 128));
		kv_buf_append_str(&msg, "'. Try PUBSUB HELP.");
		resp_error(ctx->out, kv_buf_cstr(&msg));
		kv_buf_free(&msg);
		return;
	}
	struct kv_slice *names;
	size_t unique = unique_channels(ctx, ctx->argc == 3 ? &ctx->argv[2] : NULL, shard, &names);
	resp_array(ctx->out, (int64_t)unique);
	for (size_t i = 0; i < unique; i++)
		resp_bulk(ctx->out, names[i].ptr, names[i].len);
	free(names);
}

static void pubsub_numsub(struct cmd_ctx *ctx, bool shard)
{
	resp_array(ctx->out, (int64_t)(ctx->argc - 2) * 2);
	for (int i = 2; i < ctx->argc; i++) {
		resp_bulk(ctx->out, ctx->argv[i].ptr, ctx->argv[i].len);
		resp_int(ctx->out, (int64_t)numsub(ctx, &ctx->argv[i], shard));
	}
}

static void cmd_pubsub_channels(struct cmd_ctx *ctx)
{
	pubsub_list(ctx, false);
}

static void cmd_pubsub_shardchannels(struct cmd_ctx *ctx)
{
	pubsub_list(ctx, true);
}

static void cmd_pubsub_numsub(struct cmd_ctx *ctx)
{
	pubsub_numsub(ctx, false);
}

static void cmd_pubsub_shardnumsub(struct cmd_ctx *ctx)
{
	pubsub_numsub(ctx, true);
}

static void cmd_pubsub_numpat(struct cmd_ctx *ctx)
{
	resp_int(ctx->out, (int64_t)unique_patterns(ctx));
}

static void cmd_pubsub_help(struct cmd_ctx *ctx)
{
	static const char *const lines[] = {
		"CHANNELS [<pattern>]",
		"    Return the currently active channels matching a <pattern> (default: '*').",
		"NUMPAT",
		"    Return number of subscriptions to patterns.",
		"NUMSUB [<channel> ...]",
		"    Return the number of subscribers for the specified channels, excluding",
		"    pattern subscriptions(default: no channels).",
		"SHARDCHANNELS [<pattern>]",
		"    Return the currently active shard level channels matching a <pattern> (default: '*').",
		"SHARDNUMSUB [<shardchannel> ...]",
		"    Return the number of subscribers for the specified shard level channel(s)",
		NULL,
	};
	cmd_reply_help(ctx->out, "PUBSUB", lines);
}

#define PSQ_FLAGS (CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_ALL_SHARDS)

static const struct kv_command pubsub_subs[] = {
	{ .name = "pubsub|channels", .arity = -2, .flags = PSQ_FLAGS, .proc = cmd_pubsub_channels,
	  .group = "pubsub", .since = "2.8.0", .summary = "List active channels",
	  .complexity = "O(N) where N is the number of active channels, and assuming constant "
			"time pattern matching (relatively short channels and patterns)" },
	{ .name = "pubsub|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE | CMD_LOCAL,
	  .proc = cmd_pubsub_help, .group = "pubsub", .since = "6.2.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = "pubsub|numpat", .arity = 2, .flags = PSQ_FLAGS, .proc = cmd_pubsub_numpat,
	  .group = "pubsub", .since = "2.8.0",
	  .summary = "Get the count of unique patterns pattern subscriptions", .complexity = "O(1)" },
	{ .name = "pubsub|numsub", .arity = -2, .flags = PSQ_FLAGS, .proc = cmd_pubsub_numsub,
	  .group = "pubsub", .since = "2.8.0", .summary = "Get the count of subscribers for channels",
	  .complexity = "O(N) for the NUMSUB subcommand, where N is the number of requested "
			"channels" },
	{ .name = "pubsub|shardchannels", .arity = -2, .flags = PSQ_FLAGS,
	  .proc = cmd_pubsub_shardchannels, .group = "pubsub", .since = "7.0.0",
	  .summary = "List active shard channels",
	  .complexity = "O(N) where N is the number of active shard channels, and assuming "
			"constant time pattern matching (relatively short shard channels)." },
	{ .name = "pubsub|shardnumsub", .arity = -2, .flags = PSQ_FLAGS,
	  .proc = cmd_pubsub_shardnumsub, .group = "pubsub", .since = "7.0.0",
	  .summary = "Get the count of subscribers for shard channels",
	  .complexity = "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested "
			"shard channels" },
	{ .name = NULL },
};

static void cmd_pubsub(struct cmd_ctx *ctx)
{
	cmd_run_sub(ctx, pubsub_subs, "pubsub");
}

bool pubsub_allowed_in_subscriber_mode(const struct kv_command *cmd)
{
	static const char *const ok[] = { "subscribe", "psubscribe", "unsubscribe",
					  "punsubscribe", "ssubscribe", "sunsubscribe", "ping",
					  "quit", "reset" };
	for (size_t i = 0; i < KV_ARRAY_LEN(ok); i++)
		if (strcmp(cmd->name, ok[i]) == 0)
			return true;
	return false;
}

#define PS_FLAGS (CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

const struct kv_command cmd_table_pubsub[] = {
	{ .name = "subscribe", .arity = -2, .flags = PS_FLAGS, .proc = cmd_subscribe,
	  .group = "pubsub", .since = "2.0.0",
	  .summary = "Listen for messages published to the given channels",
	  .complexity = "O(N) where N is the number of channels to subscribe to." },
	{ .name = "psubscribe", .arity = -2, .flags = PS_FLAGS, .proc = cmd_psubscribe,
	  .group = "pubsub", .since = "2.0.0",
	  .summary = "Listen for messages published to channels matching the given patterns",
	  .complexity = "O(N) where N is the number of patterns the client is already subscribed to." },
	{ .name = "unsubscribe", .arity = -1, .flags = PS_FLAGS, .proc = cmd_unsubscribe,
	  .group = "pubsub", .since = "2.0.0",
	  .summary = "Stop listening for messages posted to the given channels",
	  .complexity = "O(N) where N is the number of clients already subscribed to a channel." },
	{ .name = "punsubscribe", .arity = -1, .flags = PS_FLAGS, .proc = cmd_punsubscribe,
	  .group = "pubsub", .since = "2.0.0",
	  .summary = "Stop listening for messages posted to channels matching the given patterns",
	  .complexity = "O(N+M) where N is the number of patterns the client is already "
			"subscribed and M is the number of total patterns subscribed in the system (by any client)." },
	{ .name = "publish", .arity = 3,
	  .flags = CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_MAY_REPLICATE |
		   CMD_ALL_SHARDS,
	  .proc = cmd_publish, .group = "pubsub", .since = "2.0.0",
	  .summary = "Post a message to a channel",
	  .complexity = "O(N+M) where N is the number of clients subscribed to the receiving "
			"channel and M is the total number of subscribed patterns (by any client).",
	  .bcast = publish_bcast },
	{ .name = "pubsub", .arity = -2, .flags = CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_ALL_SHARDS,
	  .proc = cmd_pubsub, .group = "pubsub", .since = "2.8.0",
	  .summary = "A container for Pub/Sub commands", .complexity = "Depends on subcommand.",
	  .subcommands = pubsub_subs },
	{ .name = "ssubscribe", .arity = -2, .flags = PS_FLAGS, .proc = cmd_ssubscribe,
	  .group = "pubsub", .since = "7.0.0", .nk_first = 1, .nk_last = -1,
	  .summary = "Listen for messages published to the given shard channels",
	  .complexity = "O(N) where N is the number of shard channels to subscribe to." },
	{ .name = "sunsubscribe", .arity = -1, .flags = PS_FLAGS, .proc = cmd_sunsubscribe,
	  .group = "pubsub", .since = "7.0.0", .nk_first = 1, .nk_last = -1,
	  .summary = "Stop listening for messages posted to the given shard channels",
	  .complexity = "O(N) where N is the number of clients already subscribed to a shard "
			"channel." },
	{ .name = "spublish", .arity = 3,
	  .flags = CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_MAY_REPLICATE |
		   CMD_ALL_SHARDS,
	  .proc = cmd_spublish, .group = "pubsub", .since = "7.0.0", .nk_first = 1, .nk_last = 1,
	  .summary = "Post a message to a shard channel",
	  .complexity = "O(N) where N is the number of clients subscribed to the receiving shard "
			"channel.",
	  .bcast = spublish_bcast },
	{ .name = NULL },
};
