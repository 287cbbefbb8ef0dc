/*
 * keydump.c - a key's current state as the commands that recreate it (see
 * keydump.h for the commands and their order).
 *
 * Collections are walked with their type's foreach and written in chunks so
 * no command grows past KEYDUMP_CHUNK elements or much past
 * KEYDUMP_CHUNK_BYTES: replay and redis-cli --pipe then never see a huge
 * command, whatever the size of the key.
 */
#include "store/keydump.h"

#include <string.h>

#include "store/effect_argv.h"
#include "base/kv.h"
#include "store/t_hash.h"
#include "store/t_list.h"
#include "store/t_set.h"
#include "store/t_zset.h"
#include "store/t_stream.h"

/* A chunked command under construction: argv[0] the command, argv[1] the key,
 * then elements (one argument each, or two for HSET and ZADD). */
struct chunker {
	struct effect_argv a;
	const char *cmd;
	struct kv_slice key;
	int elems;
	keydump_fn fn;
	void *arg;
};

static void chunk_start(struct chunker *k)
{
	effect_argv_reset(&k->a);
	effect_argv_add_str(&k->a, k->cmd);
	effect_argv_add(&k->a, k->key.ptr, k->key.len);
	k->elems = 0;
}

static void chunk_flush(struct chunker *k)
{
	if (k->elems == 0)
		return;
	k->fn(k->arg, k->a.argc, effect_argv_slices(&k->a));
	chunk_start(k);
}

/* Called after each element was added. */
static void chunk_added(struct chunker *k)
{
	k->elems++;
	if (k->elems >= KEYDUMP_CHUNK || effect_argv_bytes(&k->a) >= KEYDUMP_CHUNK_BYTES)
		chunk_flush(k);
}

static int list_elem(void *arg, const char *p, size_t len)
{
	struct chunker *k = arg;
	effect_argv_add(&k->a, p, len);
	chunk_added(k);
	return 0;
}

static bool set_member(void *arg, const char *m, size_t len)
{
	struct chunker *k = arg;
	effect_argv_add(&k->a, m, len);
	chunk_added(k);
	return true;
}

static void hash_elem(void *arg, struct kv_slice field, struct kv_slice value)
{
	struct chunker *k = arg;
	effect_argv_add(&k->a, field.ptr, field.len);
	effect_argv_add(&k->a, value.ptr, value.len);
	chunk_added(k);
}

static void zset_elem(void *arg, struct kv_slice member, double score)
{
	struct chunker *k = arg;
	effect_argv_add_score(&k->a, score);
	effect_argv_add(&k->a, member.ptr, member.len);
	chunk_added(k);
}

static void emit_del(struct kv_slice key, keydump_fn fn, void *arg)
{
	struct kv_slice argv[2] = { { "DEL", 3 }, key };
	fn(arg, 2, argv);
}

static void dump_string(const struct kv_entry *e, keydump_fn fn, void *arg)
{
	struct kv_slice key = entry_key(e);
	int64_t deadline = entry_expire(e);
	char buf[EFFECT_NUM_MAX];
	struct kv_slice argv[5] = { { "SET", 3 }, key, entry_str(e), { "PXAT", 4 } };
	if (deadline == KV_NO_EXPIRE) {
		fn(arg, 3, argv);
		return;
	}
	argv[4] = effect_int(buf, deadline);
	fn(arg, 5, argv);
}

static void emit_argv(struct effect_argv *a, keydump_fn fn, void *arg)
{
	fn(arg, a->argc, effect_argv_slices(a));
	effect_argv_reset(a);
}

static void add_id(struct effect_argv *a, struct stream_id id)
{
	char buf[STREAM_ID_STR_MAX];
	effect_argv_add(a, buf, stream_id_format(id, buf));
}

/* A stream, as Redis's AOF rewrite writes one: its entries (XADD each; an
 * empty stream is made by an XADD trimmed away), its counters (XSETID), then
 * each group (XGROUP CREATE), its consumers (XGROUP CREATECONSUMER) and its
 * pending entries (XCLAIM ... FORCE JUSTID with their delivery time and
 * count).  A pending entry whose stream entry was deleted cannot be made by
 * XCLAIM and is left out, as in Redis's rewrite. */
static void dump_stream(struct kv_slice key, const struct stream *s, keydump_fn fn, void *arg)
{
	struct effect_argv a;
	effect_argv_init(&a);
	struct stream_iter it;
	struct stream_id id;
	stream_iter_start(&it, s, STREAM_ID_MIN, STREAM_ID_MAX, false);
	while (stream_iter_next(&it, &id)) {
		effect_argv_add_str(&a, "XADD");
		effect_argv_add(&a, key.ptr, key.len);
		add_id(&a, id);
		for (size_t i = 0; i < it.nfields * 2; i++)
			effect_argv_add(&a, it.fv[i].ptr, it.fv[i].len);
		emit_argv(&a, fn, arg);
	}
	stream_iter_stop(&it);
	if (s->length == 0) {
		struct stream_id first = s->last_id;
		if (stream_id_is_zero(first))
			first.seq = 1;
		effect_argv_add_str(&a, "XADD");
		effect_argv_add(&a, key.ptr, key.len);
		effect_argv_add_str(&a, "MAXLEN");
		effect_argv_add_str(&a, "0");
		add_id(&a, first);
		effect_argv_add_str(&a, "x");
		effect_argv_add_str(&a, "y");
		emit_argv(&a, fn, arg);
	}
	effect_argv_add_str(&a, "XSETID");
	effect_argv_add(&a, key.ptr, key.len);
	add_id(&a, s->last_id);
	effect_argv_add_str(&a, "ENTRIESADDED");
	effect_argv_add_int(&a, (int64_t)s->entries_added);
	effect_argv_add_str(&a, "MAXDELETEDID");
	add_id(&a, s->max_deleted_id);
	emit_argv(&a, fn, arg);
	for (size_t g = 0; g < s->ngroups; g++) {
		const struct stream_group *gr = s->groups[g];
		effect_argv_add_str(&a, "XGROUP");
		effect_argv_add_str(&a, "CREATE");
		effect_argv_add(&a, key.ptr, key.len);
		effect_argv_add(&a, gr->name, gr->nlen);
		add_id(&a, gr->last_id);
		effect_argv_add_str(&a, "ENTRIESREAD");
		effect_argv_add_int(&a, gr->entries_read);
		emit_argv(&a, fn, arg);
		for (size_t c = 0; c < gr->ncons; c++) {
			const struct stream_consumer *sc = gr->cons[c];
			effect_argv_add_str(&a, "XGROUP");
			effect_argv_add_str(&a, "CREATECONSUMER");
			effect_argv_add(&a, key.ptr, key.len);
			effect_argv_add(&a, gr->name, gr->nlen);
			effect_argv_add(&a, sc->name, sc->nlen);
			emit_argv(&a, fn, arg);
		}
		for (size_t i = 0; i < gr->pel.len; i++) {
			const struct stream_nack *n = stream_pel_at(&gr->pel, i);
			if (!stream_exists(s, n->id))
				continue;
			effect_argv_add_str(&a, "XCLAIM");
			effect_argv_add(&a, key.ptr, key.len);
			effect_argv_add(&a, gr->name, gr->nlen);
			effect_argv_add(&a, n->consumer->name, n->consumer->nlen);
			effect_argv_add_str(&a, "0");
			add_id(&a, n->id);
			effect_argv_add_str(&a, "TIME");
			effect_argv_add_int(&a, n->delivery_time);
			effect_argv_add_str(&a, "RETRYCOUNT");
			effect_argv_add_int(&a, (int64_t)n->delivery_count);
			effect_argv_add_str(&a, "FORCE");
			effect_argv_add_str(&a, "JUSTID");
			emit_argv(&a, fn, arg);
		}
	}
	effect_argv_free(&a);
}

static void dump_collection(const struct kv_entry *e, keydump_fn fn, void *arg)
{
	struct kv_slice key = entry_key(e);
	struct chunker k = { .key = key, .fn = fn, .arg = arg };
	void *obj = entry_obj(e);

	emit_del(key, fn, arg);
	effect_argv_init(&k.a);
	switch (entry_type(e)) {
	case KV_TYPE_LIST:
		k.cmd = "RPUSH";
		chunk_start(&k);
		list_foreach(obj, list_elem, &k);
		break;
	case KV_TYPE_SET:
		k.cmd = "SADD";
		chunk_start(&k);
		set_foreach(obj, set_member, &k);
		break;
	case KV_TYPE_HASH:
		k.cmd = "HSET";
		chunk_start(&k);
		hash_foreach(obj, hash_elem, &k);
		break;
	case KV_TYPE_ZSET:
		k.cmd = "ZADD";
		chunk_start(&k);
		zset_foreach(obj, zset_elem, &k);
		break;
	case KV_TYPE_STREAM:
		dump_stream(key, obj, fn, arg);
		break;
	case KV_TYPE_STRING:
		kv_assert(!"not a collection");
	}
	chunk_flush(&k);
	effect_argv_free(&k.a);

	int64_t deadline = entry_expire(e);
	if (deadline != KV_NO_EXPIRE) {
		char buf[EFFECT_NUM_MAX];
		struct kv_slice argv[3] = { { "PEXPIREAT", 9 }, key, effect_int(buf, deadline) };
		fn(arg, 3, argv);
	}
}

void keydump_entry(const struct kv_entry *e, keydump_fn fn, void *arg)
{
	if (entry_type(e) == KV_TYPE_STRING)
		dump_string(e, fn, arg);
	else
		dump_collection(e, fn, arg);
}

void keydump_key(struct kv_db *db, const char *key, size_t klen, int64_t now_ms,
		 keydump_fn fn, void *arg)
{
	/* now_ms = 0: no lazy expiry here, which would change db. */
	struct kv_entry *e = db_lookup_notouch(db, key, klen, 0);
	int64_t deadline = e ? entry_expire(e) : KV_NO_EXPIRE;
	if (!e || (deadline != KV_NO_EXPIRE && deadline <= now_ms)) {
		emit_del((struct kv_slice){ key, klen }, fn, arg);
		return;
	}
	keydump_entry(e, fn, arg);
}
