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
