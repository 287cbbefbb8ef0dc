/*
 * store.c - one shard's keyspace (store.h) on top of dict.h.
 *
 * Each key is ONE heap allocation, laid out as
 *
 *   offset 0  next       8 bytes   dict chain pointer (struct dict_node)
 *   offset 8  flags      1 byte    bits 0-2 type code, bit 3 has deadline,
 *                                  bits 4-5 length format, bit 6 wide
 *                                  deadline, bit 7 reserved (snapshot mark)
 *   offset 9  clock      3 bytes   the 24-bit LRU/LFU access clock (lru.h)
 *   offset 12 lengths    1/2/6/12  format 0: klen<<4|vlen (both <= 15)
 *                                  format 1: klen u8,  vlen u8
 *                                  format 2: klen u16, vlen u32
 *                                  format 3: klen u32, vlen u64
 *   [expiry]  slot u32 + deadline u48 (u64 if wide), only with a deadline
 *   key       klen bytes
 *   value     strings: vlen bytes inline; other types: the object pointer
 *
 * All multi-byte fields are little-endian and unaligned.  A 16-byte key with a
 * 3-byte value is 33 bytes (a 48-byte glibc chunk), 43 with a deadline (a
 * 64-byte one); an 8-byte key ("key:1234") with a 3-byte value is 24 bytes,
 * the smallest (32-byte) chunk.  The clock costs 3 bytes a key: the header
 * had no padding to hide them in (the flags byte is full and the lengths are
 * packed), and it moves a key to the next 16-byte chunk size only when the
 * key and value sizes sit within 3 bytes of a boundary.  Nothing else is
 * allocated per key: the bucket slot (8 bytes
 * at load factor 1/2..1) and, for keys with a deadline, one pointer in the
 * dense expiry array are the only other costs.
 *
 * The expiry array lists every entry that carries a deadline; an entry
 * stores its index there (`slot`) so removal is a swap with the last element
 * and sampling for active expiry is O(1) per sample.  Whenever an entry is
 * reallocated, its dict link and its expiry slot are pointed at the new
 * address (entry_moved).
 *
 * Memory is accounted per allocation as kv_heap_bytes (malloc_usable_size
 * plus the allocator's chunk header), i.e. what the heap really spends;
 * value objects of other types report their bytes through the registered
 * mem function and db_memory_adjust().
 *
 * Not here: command semantics (the callers decide what an error is),
 * persistence (the AOF hears about expiries and evictions through hooks),
 * choosing what to evict (evict.c: this file only samples and deletes).
 */
#include "store/store.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/dict.h"
#include "base/alloc.h"
#include "base/kv.h"
#include "store/lru.h"

/* The table hash seed: any non-zero value makes bucket bits independent of
 * the unseeded hash that chooses the shard. */
#define STORE_HASH_SEED 0x6b6576792e6b6579ULL   /* "kevy.key" */

#define ENTRY_TYPE_MASK 0x07u
/* Type code of a string whose bytes were changed in place (APPEND,
 * SETRANGE, SETBIT, BITFIELD, PFADD): Redis unshares such a value into a
 * raw sds, so OBJECT ENCODING answers "raw" whatever its bytes are.  Any
 * other code is the value's enum kv_type. */
#define ENTRY_CODE_RAW_STRING 0x07u
#define ENTRY_HAS_EXPIRE 0x08u
#define ENTRY_LENFMT_SHIFT 4
#define ENTRY_WIDE_DEADLINE 0x40u
/* Snapshot mark: an entry is saved in the running snapshot when its mark
 * equals db->snap_mark (see db_snapshot_begin). */
#define ENTRY_SNAP_MARK 0x80u
#define DEADLINE48_MAX ((INT64_C(1) << 48) - 1)
#define SLOT_BYTES 4u

/* Appends that outgrow an entry reserve this much room beyond the new size
 * (half again, at most 1 MiB) so a run of APPENDs reallocates O(log n) times. */
#define GROW_SLACK_MAX ((size_t)1 << 20)
#define EXP_ARRAY_MIN 16u
/* db_random gives up after reclaiming this many expired keys in a row. */
#define RANDOM_EXPIRED_TRIES 100
/* Active expiry: keys sampled per round; another round follows while more
 * than a quarter of a round had expired. */
#define ACTIVE_EXPIRE_SAMPLE 20u

struct kv_entry {
	struct dict_node node;
	uint8_t flags;
	uint8_t clock[3];            /* 24-bit access clock, little-endian */
	unsigned char data[];
};

#define ENTRY_HDR offsetof(struct kv_entry, data)
_Static_assert(offsetof(struct kv_entry, node) == 0,
	       "a dict node pointer is an entry pointer");
_Static_assert(offsetof(struct kv_entry, clock) == 9 &&
	       offsetof(struct kv_entry, data) == 12,
	       "the clock follows the flags byte, the length fields follow the clock");
_Static_assert(KV_TYPE_STREAM < ENTRY_CODE_RAW_STRING,
	       "types and the raw string code fit in three bits");

static const uint8_t lenfmt_bytes[4] = {1, 2, 6, 12};

struct kv_db {
	struct dict keys;
	struct kv_entry **exp;       /* entries with a deadline, unordered */
	uint64_t exp_len, exp_cap;
	size_t entry_bytes;          /* heap bytes of all entries */
	int64_t obj_bytes;           /* bytes of value objects (other types) */
	db_expire_hook hook;
	void *hook_arg;
	db_expire_hook evict_fn;
	void *evict_arg;
	db_change_hook change_fn;
	void *change_arg;
	db_change_hook new_fn;       /* a key was created (keyspace notifications) */
	void *new_arg;
	/* Point-in-time snapshot in progress: every entry whose mark differs
	 * from snap_mark still holds its value at the cut and is handed to
	 * snap_fn before it changes or goes (copy before write). */
	db_snap_fn snap_fn;
	void *snap_arg;
	uint8_t snap_mark;
	bool writing;                /* the running command may change entries */
	struct db_stats stats;
	uint64_t rng;
	int64_t clock_ms;            /* now_ms of the last lookup that gave one */
	struct dict *watched;        /* WATCHed keys and their versions, or NULL */
	uint32_t index;              /* its number in the shard's struct kv_dbs */
};

static void watch_touch(struct kv_db *db, const char *key, size_t klen);

/* Copy before write: an entry not yet saved by the running snapshot is
 * handed to it before anything changes it. */
static void snap_touch(struct kv_db *db, struct kv_entry *e)
{
	if (db->snap_fn && (e->flags & ENTRY_SNAP_MARK) != db->snap_mark) {
		db->snap_fn(db->snap_arg, e);
		e->flags = (uint8_t)((e->flags & ~ENTRY_SNAP_MARK) | db->snap_mark);
	}
}

/* An entry just written by a change: saved (its value at the cut, if it
 * had one, went to the snapshot first) or created after the cut. */
static void snap_saved(struct kv_db *db, struct kv_entry *e)
{
	e->flags = (uint8_t)((e->flags & ~ENTRY_SNAP_MARK) | db->snap_mark);
}

/* Every change of a key but its expiry (which has a hook of its own). */
static void key_changed(struct kv_db *db, const char *key, size_t klen)
{
	watch_touch(db, key, klen);
	if (db->change_fn)
		db->change_fn(db->change_arg, db->index, key, klen);
}

/* Per-type handling of value objects; set at startup, before any shard
 * thread runs, and read-only afterwards. */
static void (*type_free_fn[ENTRY_TYPE_MASK + 1])(void *obj);
static size_t (*type_mem_fn[ENTRY_TYPE_MASK + 1])(const void *obj);

void store_register_type_free(enum kv_type type, void (*free_fn)(void *obj))
{
	kv_assert(type != KV_TYPE_STRING && (unsigned)type <= ENTRY_TYPE_MASK);
	type_free_fn[type] = free_fn;
}

void store_register_type_mem(enum kv_type type, size_t (*mem_fn)(const void *obj))
{
	kv_assert(type != KV_TYPE_STRING && (unsigned)type <= ENTRY_TYPE_MASK);
	type_mem_fn[type] = mem_fn;
}

static size_t obj_mem(enum kv_type type, const void *obj);

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* ---- little-endian unaligned fields ---- */

static uint64_t get_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- entry layout ---- */

struct layout {
	uint8_t flags;
	size_t klen;
	size_t vlen;       /* string bytes; 0 for object types */
	size_t exp_off;    /* slot, then deadline */
	size_t key_off;
	size_t val_off;
	size_t val_bytes;  /* vlen, or the size of the object pointer */
	size_t total;
};

/* The type code (bits 0-2): an enum kv_type, or ENTRY_CODE_RAW_STRING. */
static unsigned flags_code(uint8_t flags)
{
	return flags & ENTRY_TYPE_MASK;
}

static enum kv_type code_type(unsigned code)
{
	return code == ENTRY_CODE_RAW_STRING ? KV_TYPE_STRING : (enum kv_type)code;
}

static enum kv_type flags_type(uint8_t flags)
{
	return code_type(flags_code(flags));
}

static void layout_finish(struct layout *l)
{
	unsigned fmt = (l->flags >> ENTRY_LENFMT_SHIFT) & 3u;
	size_t exp = 0;
	if (l->flags & ENTRY_HAS_EXPIRE)
		exp = SLOT_BYTES + ((l->flags & ENTRY_WIDE_DEADLINE) ? 8 : 6);
	l->exp_off = ENTRY_HDR + lenfmt_bytes[fmt];
	l->key_off = l->exp_off + exp;
	l->val_off = l->key_off + l->klen;
	l->val_bytes = flags_type(l->flags) == KV_TYPE_STRING ? l->vlen : sizeof(void *);
	l->total = l->val_off + l->val_bytes;
}

/* `code` is the entry's type code (flags_code): a type, or the raw string
 * code. */
static void layout_make(struct layout *l, unsigned code, size_t klen,
			size_t vlen, int64_t deadline)
{
	unsigned fmt;
	kv_assert(klen <= UINT32_MAX && code <= ENTRY_TYPE_MASK);
	if (code_type(code) != KV_TYPE_STRING)
		vlen = 0;
	if (klen <= 15 && vlen <= 15)
		fmt = 0;
	else if (klen <= UINT8_MAX && vlen <= UINT8_MAX)
		fmt = 1;
	else if (klen <= UINT16_MAX && vlen <= UINT32_MAX)
		fmt = 2;
	else
		fmt = 3;
	l->flags = (uint8_t)(code | fmt << ENTRY_LENFMT_SHIFT);
	if (deadline >= 0)
		l->flags |= ENTRY_HAS_EXPIRE;
	if (deadline > DEADLINE48_MAX)
		l->flags |= ENTRY_WIDE_DEADLINE;
	l->klen = klen;
	l->vlen = vlen;
	layout_finish(l);
}

static void layout_read(struct layout *l, const struct kv_entry *e)
{
	const unsigned char *p = e->data;
	l->flags = e->flags & (uint8_t)~ENTRY_SNAP_MARK;
	switch ((l->flags >> ENTRY_LENFMT_SHIFT) & 3u) {
	case 0: l->klen = p[0] >> 4; l->vlen = p[0] & 15u; break;
	case 1: l->klen = p[0]; l->vlen = p[1]; break;
	case 2: l->klen = get_le(p, 2); l->vlen = get_le(p + 2, 4); break;
	default: l->klen = get_le(p, 4); l->vlen = get_le(p + 4, 8); break;
	}
	layout_finish(l);
}

/* Flags and length fields; the expiry fields are written separately. */
static void header_write(struct kv_entry *e, const struct layout *l)
{
	unsigned char *p = e->data;
	e->flags = l->flags;
	switch ((l->flags >> ENTRY_LENFMT_SHIFT) & 3u) {
	case 0: p[0] = (unsigned char)(l->klen << 4 | l->vlen); break;
	case 1: p[0] = (unsigned char)l->klen; p[1] = (unsigned char)l->vlen; break;
	case 2: put_le(p, l->klen, 2); put_le(p + 2, l->vlen, 4); break;
	default: put_le(p, l->klen, 4); put_le(p + 4, l->vlen, 8); break;
	}
}

static unsigned char *entry_raw(struct kv_entry *e)
{
	return (unsigned char *)e;
}

static unsigned deadline_width(uint8_t flags)
{
	return (flags & ENTRY_WIDE_DEADLINE) ? 8 : 6;
}

static uint32_t slot_read(const struct kv_entry *e)
{
	struct layout l;
	layout_read(&l, e);
	return (uint32_t)get_le((const unsigned char *)e + l.exp_off, SLOT_BYTES);
}

static void slot_write(struct kv_entry *e, uint64_t slot)
{
	struct layout l;
	layout_read(&l, e);
	kv_assert(slot <= UINT32_MAX && (l.flags & ENTRY_HAS_EXPIRE));
	put_le(entry_raw(e) + l.exp_off, slot, SLOT_BYTES);
}

static void deadline_write(struct kv_entry *e, const struct layout *l, int64_t deadline)
{
	put_le(entry_raw(e) + l->exp_off + SLOT_BYTES, (uint64_t)deadline,
	       deadline_width(l->flags));
}

static struct kv_entry *node_entry(struct dict_node *n)
{
	return (struct kv_entry *)n;
}

/* ---- the access clock (lru.h) ---- */

static uint32_t clock_read(const struct kv_entry *e)
{
	return (uint32_t)e->clock[0] | (uint32_t)e->clock[1] << 8 | (uint32_t)e->clock[2] << 16;
}

static void clock_write(struct kv_entry *e, uint32_t clock)
{
	e->clock[0] = (uint8_t)clock;
	e->clock[1] = (uint8_t)(clock >> 8);
	e->clock[2] = (uint8_t)(clock >> 16);
}

/* The time a clock is stamped with when the caller passed none (creation,
 * overwrites): the clock of the last command that looked a key up here
 * (every command looks its keys up before it creates them, and replay runs
 * on its records' clock), else the coarse wall clock, which costs no
 * system call. */
static int64_t clock_now_ms(const struct kv_db *db, int64_t now_ms)
{
	if (now_ms > 0)
		return now_ms;
	if (db->clock_ms > 0)
		return db->clock_ms;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void clock_touch(struct kv_db *db, struct kv_entry *e, int64_t now_ms);

/* ---- accessors (store.h) ---- */

enum kv_type entry_type(const struct kv_entry *e)
{
	return flags_type(e->flags);
}

struct kv_slice entry_key(const struct kv_entry *e)
{
	struct layout l;
	layout_read(&l, e);
	return (struct kv_slice){(const char *)e + l.key_off, l.klen};
}

bool entry_str_is_raw(const struct kv_entry *e)
{
	return flags_code(e->flags) == ENTRY_CODE_RAW_STRING;
}

struct kv_slice entry_str(const struct kv_entry *e)
{
	struct layout l;
	layout_read(&l, e);
	kv_assert(flags_type(l.flags) == KV_TYPE_STRING);
	return (struct kv_slice){(const char *)e + l.val_off, l.vlen};
}

void *entry_obj(const struct kv_entry *e)
{
	struct layout l;
	void *obj;
	layout_read(&l, e);
	kv_assert(flags_type(l.flags) != KV_TYPE_STRING);
	memcpy(&obj, (const char *)e + l.val_off, sizeof(obj));
	return obj;
}

size_t entry_memory(const struct kv_entry *e)
{
	size_t n = kv_heap_bytes(e);
	enum kv_type type = entry_type(e);
	if (type != KV_TYPE_STRING)
		n += obj_mem(type, entry_obj(e));
	return n;
}

uint32_t entry_clock(const struct kv_entry *e)
{
	return clock_read(e);
}

void entry_set_clock(struct kv_entry *e, uint32_t clock)
{
	clock_write(e, clock & LRU_CLOCK_MAX);
}

int64_t entry_expire(const struct kv_entry *e)
{
	struct layout l;
	if (!(e->flags & ENTRY_HAS_EXPIRE))
		return KV_NO_EXPIRE;
	layout_read(&l, e);
	return (int64_t)get_le((const unsigned char *)e + l.exp_off + SLOT_BYTES,
			       deadline_width(l.flags));
}

/* A replica's clients: expired keys read as missing but stay (its
 * primary's DEL removes them), as a Redis replica's do. */
static _Thread_local bool tls_keep_expired;

void db_thread_keep_expired(bool keep)
{
	tls_keep_expired = keep;
}

bool db_thread_keeps_expired(void)
{
	return tls_keep_expired;
}

static bool entry_expired(const struct kv_entry *e, int64_t now_ms)
{
	return now_ms > 0 && (e->flags & ENTRY_HAS_EXPIRE) && now_ms >= entry_expire(e);
}

static struct kv_slice entry_dict_key(const struct dict_node *n)
{
	return entry_key((const struct kv_entry *)n);
}

static const struct dict_type entry_dict_type = {.key = entry_dict_key};

/* ---- the expiry array ---- */

static void exp_resize(struct kv_db *db, uint64_t cap)
{
	db->exp = kv_realloc(db->exp, cap * sizeof(*db->exp));
	db->exp_cap = cap;
}

static void exp_add(struct kv_db *db, struct kv_entry *e)
{
	if (db->exp_len == db->exp_cap)
		exp_resize(db, KV_MAX(EXP_ARRAY_MIN, db->exp_cap + db->exp_cap / 2));
	slot_write(e, db->exp_len);
	db->exp[db->exp_len++] = e;
}

static void exp_remove(struct kv_db *db, struct kv_entry *e)
{
	uint32_t slot = slot_read(e);
	kv_assert(slot < db->exp_len && db->exp[slot] == e);
	struct kv_entry *last = db->exp[--db->exp_len];
	if (last != e) {
		db->exp[slot] = last;
		slot_write(last, slot);
	}
	if (db->exp_len == 0) {
		free(db->exp);
		db->exp = NULL;
		db->exp_cap = 0;
	} else if (db->exp_cap > EXP_ARRAY_MIN && db->exp_len < db->exp_cap / 4) {
		exp_resize(db, db->exp_cap / 2);
	}
}

/* ---- value objects ---- */

static size_t obj_mem(enum kv_type type, const void *obj)
{
	return type_mem_fn[type] ? type_mem_fn[type](obj) : 0;
}

static void obj_release(struct kv_db *db, enum kv_type type, void *obj)
{
	db->obj_bytes -= (int64_t)obj_mem(type, obj);
	if (type_free_fn[type])
		type_free_fn[type](obj);
	else
		free(obj);
}

/* ---- entry allocation and movement ---- */

static struct kv_entry *entry_alloc(struct kv_db *db, size_t size)
{
	struct kv_entry *e = kv_malloc(KV_MAX(size, sizeof(struct kv_entry)));
	db->entry_bytes += kv_heap_bytes(e);
	return e;
}

static struct kv_entry *entry_realloc(struct kv_db *db, struct kv_entry *e, size_t size)
{
	db->entry_bytes -= kv_heap_bytes(e);
	e = kv_realloc(e, KV_MAX(size, sizeof(struct kv_entry)));
	db->entry_bytes += kv_heap_bytes(e);
	return e;
}

static void entry_dealloc(struct kv_db *db, struct kv_entry *e)
{
	db->entry_bytes -= kv_heap_bytes(e);
	free(e);
}

/* A new, unlinked entry with header, deadline and key written; the caller
 * fills the value and links it (entry_link). */
static struct kv_entry *entry_new(struct kv_db *db, enum kv_type type, const char *key,
				  size_t klen, size_t vlen, int64_t deadline)
{
	struct layout l;
	layout_make(&l, type, klen, vlen, deadline);
	struct kv_entry *e = entry_alloc(db, l.total);
	e->node.next = NULL;
	header_write(e, &l);
	clock_write(e, key_clock_new(clock_now_ms(db, 0)));
	if (deadline >= 0)
		deadline_write(e, &l, deadline);
	memcpy(entry_raw(e) + l.key_off, key, klen);
	snap_saved(db, e);
	return e;
}

static void entry_link(struct kv_db *db, struct kv_entry *e)
{
	dict_add(&db->keys, &e->node);
	if (e->flags & ENTRY_HAS_EXPIRE)
		exp_add(db, e);
}

static void *value_ptr(struct kv_entry *e)
{
	struct layout l;
	layout_read(&l, e);
	return entry_raw(e) + l.val_off;
}

static void obj_store(struct kv_entry *e, void *obj)
{
	memcpy(value_ptr(e), &obj, sizeof(obj));
}

static bool points_into(const void *p, const struct kv_entry *e)
{
	const char *c = p, *base = (const char *)e;
	return c >= base && c < base + malloc_usable_size((void *)e);
}

/*
 * Re-encode a linked entry for a new type code, value length and deadline,
 * keeping its key and the first min(old, new) bytes of its value area.
 * Reallocates only when the new layout does not fit (reserving `slack`
 * more bytes) or would leave most of the block unused.  Updates the dict
 * link (`link`, or found by key when NULL) and the expiry array.  Returns the
 * possibly moved entry; its value area beyond the kept bytes is undefined.
 */
static struct kv_entry *entry_relayout(struct kv_db *db, struct kv_entry *e,
				       struct dict_node **link, unsigned code,
				       size_t vlen, int64_t deadline, size_t slack)
{
	struct layout o, n;
	layout_read(&o, e);
	layout_make(&n, code, o.klen, vlen, deadline);
	bool had = o.flags & ENTRY_HAS_EXPIRE, has = deadline >= 0;
	uint32_t slot = had ? slot_read(e) : 0;
	if (had && !has)
		exp_remove(db, e);
	if (!link)
		link = dict_link_of(&db->keys, &e->node);
	kv_assert(link && *link == &e->node);

	size_t keep = o.klen + KV_MIN(o.val_bytes, n.val_bytes);
	size_t cap = malloc_usable_size(e);
	if (n.key_off > o.key_off) {
		if (n.total > cap)
			e = entry_realloc(db, e, n.total + slack);
		memmove(entry_raw(e) + n.key_off, entry_raw(e) + o.key_off, keep);
	} else {
		memmove(entry_raw(e) + n.key_off, entry_raw(e) + o.key_off, keep);
		if (n.total > cap)
			e = entry_realloc(db, e, n.total + slack);
		else if (n.total < cap / 2 && cap - n.total >= 64)
			e = entry_realloc(db, e, n.total);
	}
	header_write(e, &n);
	if (has)
		deadline_write(e, &n, deadline);
	*link = &e->node;
	if (has && had) {
		slot_write(e, slot);
		db->exp[slot] = e;
	} else if (has) {
		exp_add(db, e);
	}
	snap_saved(db, e);
	return e;
}

/* Put `e` (same key, already filled) in place of `old` at `link`, moving
 * the expiry slot over, and free `old` (but not its value object). */
static void entry_replace(struct kv_db *db, struct dict_node **link,
			  struct kv_entry *old, struct kv_entry *e)
{
	dict_replace_at(link, &e->node);
	bool had = old->flags & ENTRY_HAS_EXPIRE, has = e->flags & ENTRY_HAS_EXPIRE;
	if (had && has) {
		uint32_t slot = slot_read(old);
		slot_write(e, slot);
		db->exp[slot] = e;
	} else if (had) {
		exp_remove(db, old);
	} else if (has) {
		exp_add(db, e);
	}
	entry_dealloc(db, old);
}

/* Unlink the entry at `link` from the dict and the expiry array. */
static struct kv_entry *entry_unlink(struct kv_db *db, struct dict_node **link)
{
	struct kv_entry *e = node_entry(dict_unlink_at(&db->keys, link));
	if (e->flags & ENTRY_HAS_EXPIRE)
		exp_remove(db, e);
	return e;
}

static void entry_free(struct kv_db *db, struct kv_entry *e)
{
	if (entry_type(e) != KV_TYPE_STRING)
		obj_release(db, entry_type(e), entry_obj(e));
	entry_dealloc(db, e);
}

/* Delete a key because its deadline passed: count it, tell the hook. */
static void entry_expire_at(struct kv_db *db, struct dict_node **link)
{
	snap_touch(db, node_entry(*link));
	struct kv_entry *e = entry_unlink(db, link);
	db->stats.expired_keys++;
	struct kv_slice k = entry_key(e);
	watch_touch(db, k.ptr, k.len);
	if (db->hook)
		db->hook(db->hook_arg, db->index, k.ptr, k.len);
	entry_free(db, e);
}

/* Delete a key to free memory: count it, tell the eviction hook. */
static void entry_evict_at(struct kv_db *db, struct dict_node **link)
{
	snap_touch(db, node_entry(*link));
	struct kv_entry *e = entry_unlink(db, link);
	db->stats.evicted_keys++;
	struct kv_slice k = entry_key(e);
	watch_touch(db, k.ptr, k.len);
	if (db->evict_fn)
		db->evict_fn(db->evict_arg, db->index, k.ptr, k.len);
	entry_free(db, e);
}

static void clock_touch(struct kv_db *db, struct kv_entry *e, int64_t now_ms)
{
	clock_write(e, key_clock_touch(clock_read(e), clock_now_ms(db, now_ms),
				       rng_next(&db->rng)));
}

/* ---- the db ---- */

struct kv_db *db_create(void)
{
	struct kv_db *db = kv_calloc(1, sizeof(*db));
	dict_init(&db->keys, &entry_dict_type, STORE_HASH_SEED);
	db->rng = 0x853c49e6748fea9bULL;
	return db;
}

static void flush_node(void *arg, struct dict_node *n)
{
	entry_free(arg, node_entry(n));
}

static void watch_touch_existing(void *arg, struct dict_node *n);

void db_flush(struct kv_db *db)
{
	/* A running snapshot cannot keep every entry: it is told, and stops. */
	if (db->snap_fn)
		db->snap_fn(db->snap_arg, NULL);
	if (db->change_fn)
		db->change_fn(db->change_arg, db->index, NULL, 0);
	/* Like Redis, a flush invalidates WATCH only on keys that existed. */
	if (db->watched && dict_size(db->watched)) {
		uint64_t cursor = 0;
		do {
			cursor = dict_scan(db->watched, cursor, watch_touch_existing, db);
		} while (cursor);
	}
	dict_clear(&db->keys, flush_node, db);
	free(db->exp);
	db->exp = NULL;
	db->exp_len = db->exp_cap = 0;
	kv_assert(db->entry_bytes == 0);
}

static void watch_node_free(void *arg, struct dict_node *n)
{
	(void)arg;
	free(n);
}

void db_destroy(struct kv_db *db)
{
	if (!db)
		return;
	db_flush(db);
	if (db->watched) {
		dict_clear(db->watched, watch_node_free, NULL);
		free(db->watched);
	}
	free(db);
}

uint32_t db_index(const struct kv_db *db)
{
	return db->index;
}

void dbs_init(struct kv_dbs *d, uint32_t n)
{
	kv_assert(n >= 1 && n <= KV_DB_MAX);
	d->n = n;
	d->db = kv_calloc(n, sizeof(*d->db));
	for (uint32_t i = 0; i < n; i++) {
		d->db[i] = db_create();
		d->db[i]->index = i;
	}
}

bool dbs_grow(struct kv_dbs *d, uint32_t n)
{
	if (n <= d->n)
		return true;
	if (!d->growable || n > KV_DB_MAX)
		return false;
	d->db = kv_realloc(d->db, (size_t)n * sizeof(*d->db));
	for (uint32_t i = d->n; i < n; i++) {
		d->db[i] = db_create();
		d->db[i]->index = i;
	}
	d->n = n;
	return true;
}

void dbs_free(struct kv_dbs *d)
{
	for (uint32_t i = 0; d->db && i < d->n; i++)
		db_destroy(d->db[i]);
	free(d->db);
	d->db = NULL;
	d->n = 0;
}

uint64_t dbs_size(const struct kv_dbs *d)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < d->n; i++)
		n += db_size(d->db[i]);
	return n;
}

uint64_t db_size(const struct kv_db *db)
{
	return dict_size(&db->keys);
}

uint64_t db_expires_count(const struct kv_db *db)
{
	return db->exp_len;
}

size_t db_memory_used(const struct kv_db *db)
{
	int64_t obj = db->obj_bytes > 0 ? db->obj_bytes : 0;
	return kv_heap_bytes(db) + dict_mem_bytes(&db->keys) + kv_heap_bytes(db->exp) +
	       db->entry_bytes + (size_t)obj;
}

int64_t db_avg_ttl_ms(const struct kv_db *db, int64_t now_ms, uint64_t max_samples)
{
	if (db->exp_len == 0 || max_samples == 0)
		return 0;
	/* Evenly spaced entries of the expiry index: a cheap, unbiased look. */
	uint64_t step = db->exp_len > max_samples ? db->exp_len / max_samples : 1;
	int64_t sum = 0, n = 0;
	for (uint64_t i = 0; i < db->exp_len; i += step) {
		int64_t ttl = entry_expire(db->exp[i]) - now_ms;
		if (ttl > 0) {
			sum += ttl;
			n++;
		}
	}
	return n ? sum / n : 0;
}

void db_memory_overhead(const struct kv_db *db, size_t *table, size_t *expires)
{
	*table = dict_mem_bytes(&db->keys);
	*expires = kv_heap_bytes(db->exp);
}

void db_memory_adjust(struct kv_db *db, int64_t delta)
{
	db->obj_bytes += delta;
}

bool db_rehash(struct kv_db *db, int64_t budget_us)
{
	return dict_rehash_us(&db->keys, budget_us);
}

void db_prefetch(struct kv_db *const *dbs, const struct kv_slice *const *keys, size_t n)
{
	uint64_t hash[16];
	for (size_t at = 0; at < n; at += 16) {
		size_t m = n - at < 16 ? n - at : 16;
		for (size_t i = 0; i < m; i++)
			hash[i] = dict_prefetch(&dbs[at + i]->keys, keys[at + i]->ptr,
						keys[at + i]->len);
		for (unsigned depth = 0; depth < 2; depth++)
			for (size_t i = 0; i < m; i++)
				dict_prefetch_chain(&dbs[at + i]->keys, hash[i], depth);
	}
}

struct kv_entry *db_lookup_notouch(struct kv_db *db, const char *key, size_t klen,
				   int64_t now_ms)
{
	if (now_ms > 0)
		db->clock_ms = now_ms;
	struct dict_node **link = dict_find_link(&db->keys, key, klen);
	if (!link)
		return NULL;
	if (entry_expired(node_entry(*link), now_ms)) {
		if (!tls_keep_expired)
			entry_expire_at(db, link);
		return NULL;
	}
	/* A write command may change the value in place through the entry. */
	if (db->writing)
		snap_touch(db, node_entry(*link));
	return node_entry(*link);
}

struct kv_entry *db_lookup(struct kv_db *db, const char *key, size_t klen,
			   int64_t now_ms)
{
	struct kv_entry *e = db_lookup_notouch(db, key, klen, now_ms);
	if (e)
		clock_touch(db, e, now_ms);
	return e;
}

int db_evict(struct kv_db *db, const char *key, size_t klen)
{
	struct dict_node **link = dict_find_link(&db->keys, key, klen);
	if (!link)
		return 0;
	entry_evict_at(db, link);
	return 1;
}

uint32_t db_sample(struct kv_db *db, bool with_deadline, const struct kv_entry **out,
		   uint32_t n)
{
	uint32_t got = 0;
	if (with_deadline) {
		for (; got < n && db->exp_len > 0; got++)
			out[got] = db->exp[rng_next(&db->rng) % db->exp_len];
		return got;
	}
	for (; got < n; got++) {
		struct dict_node *node = dict_random(&db->keys);
		if (!node)
			break;
		out[got] = node_entry(node);
	}
	return got;
}

int db_delete(struct kv_db *db, const char *key, size_t klen)
{
	struct dict_node **link = dict_find_link(&db->keys, key, klen);
	if (!link)
		return 0;
	key_changed(db, key, klen);
	snap_touch(db, node_entry(*link));
	entry_free(db, entry_unlink(db, link));
	return 1;
}

static void check_expire_arg(int64_t expire_ms)
{
	kv_assert(expire_ms >= 0 || expire_ms == KV_NO_EXPIRE ||
		  expire_ms == KV_KEEP_EXPIRE);
}

/*
 * Give `key` a fresh value of `type`: a string of vlen bytes copied from
 * `val`, or room for an object pointer (val NULL, filled by the caller).  The
 * existing entry's block is reused when the new layout fits it well and `val`
 * does not point into it.  An old value object is handed back in
 * old_obj and old_type (old_obj NULL if none) for the caller to free once nothing can
 * point into it any more.
 */
static struct kv_entry *entry_put(struct kv_db *db, const char *key, size_t klen,
				  enum kv_type type, const void *val, size_t vlen,
				  int64_t expire_ms, void **old_obj, enum kv_type *old_type)
{
	check_expire_arg(expire_ms);
	*old_obj = NULL;
	key_changed(db, key, klen);
	struct kv_entry *e;
	struct dict_node **link = dict_find_link(&db->keys, key, klen);
	if (!link) {
		int64_t dl = expire_ms >= 0 ? expire_ms : KV_NO_EXPIRE;
		e = entry_new(db, type, key, klen, vlen, dl);
		if (vlen)
			memcpy(value_ptr(e), val, vlen);
		entry_link(db, e);
		if (db->new_fn)
			db->new_fn(db->new_arg, db->index, key, klen);
		return e;
	}
	struct kv_entry *old = node_entry(*link);
	snap_touch(db, old);
	int64_t dl = expire_ms == KV_KEEP_EXPIRE ? entry_expire(old) : expire_ms;
	if (entry_type(old) != KV_TYPE_STRING) {
		*old_type = entry_type(old);
		*old_obj = entry_obj(old);
	}
	/* Overwriting a key is an access of it (Redis looks it up for writing
	 * first); under LFU the new value inherits the counter, as Redis's
	 * dbOverwrite keeps it. */
	uint32_t clock = key_clock_touch(clock_read(old), clock_now_ms(db, 0),
					 rng_next(&db->rng));
	struct layout n;
	layout_make(&n, type, klen, vlen, dl);
	size_t cap = malloc_usable_size(old);
	bool aliased = vlen && points_into(val, old);
	if (n.total <= cap && cap <= 2 * n.total + 32 && !aliased) {
		e = entry_relayout(db, old, link, type, vlen, dl, 0);
		if (vlen)
			memcpy(value_ptr(e), val, vlen);
		clock_write(e, clock);
		return e;
	}
	e = entry_new(db, type, key, klen, vlen, dl);
	if (vlen)
		memcpy(value_ptr(e), val, vlen);   /* before `old` is freed */
	clock_write(e, clock);
	entry_replace(db, link, old, e);
	return e;
}

struct kv_entry *db_set_string(struct kv_db *db, const char *key, size_t klen,
			       const void *val, size_t vlen, int64_t expire_ms)
{
	void *old_obj;
	enum kv_type old_type = KV_TYPE_STRING;
	struct kv_entry *e = entry_put(db, key, klen, KV_TYPE_STRING, val, vlen,
				       expire_ms, &old_obj, &old_type);
	if (old_obj)
		obj_release(db, old_type, old_obj);
	return e;
}

struct kv_entry *db_set_object(struct kv_db *db, const char *key, size_t klen,
			       enum kv_type type, void *obj, int64_t expire_ms)
{
	void *old_obj;
	enum kv_type old_type = KV_TYPE_STRING;
	kv_assert(type != KV_TYPE_STRING && (unsigned)type <= ENTRY_TYPE_MASK && obj);
	struct kv_entry *e = entry_put(db, key, klen, type, NULL, 0, expire_ms,
				       &old_obj, &old_type);
	obj_store(e, obj);
	if (old_obj == obj) {
		/* Same object set again: keep it, its bytes are counted once. */
		old_obj = NULL;
	} else {
		db->obj_bytes += (int64_t)obj_mem(type, obj);
	}
	if (old_obj)
		obj_release(db, old_type, old_obj);
	return e;
}

struct kv_entry *db_string_write(struct kv_db *db, struct kv_entry *e,
				 size_t off, const void *p, size_t n)
{
	struct layout l;
	layout_read(&l, e);
	kv_assert(flags_type(l.flags) == KV_TYPE_STRING);
	kv_assert(off + n >= off);
	snap_touch(db, e);
	if (db->watched || db->change_fn) {
		struct kv_slice k = entry_key(e);
		key_changed(db, k.ptr, k.len);
	}
	size_t end = off + n;
	if (end <= l.vlen) {
		if (n)
			memmove(entry_raw(e) + l.val_off + off, p, n);
		/* The code is in the header byte: no relayout needed. */
		e->flags = (uint8_t)((e->flags & ~ENTRY_TYPE_MASK) | ENTRY_CODE_RAW_STRING);
		return e;
	}
	void *copy = NULL;
	if (n && points_into(p, e)) {
		copy = kv_malloc(n);
		memcpy(copy, p, n);
		p = copy;
	}
	size_t old_vlen = l.vlen;
	size_t slack = old_vlen ? KV_MIN((l.total + (end - old_vlen)) / 2, GROW_SLACK_MAX) : 0;
	e = entry_relayout(db, e, NULL, ENTRY_CODE_RAW_STRING, end, entry_expire(e), slack);
	unsigned char *v = value_ptr(e);
	if (off > old_vlen)
		memset(v + old_vlen, 0, off - old_vlen);
	if (n)
		memcpy(v + off, p, n);
	free(copy);
	return e;
}

struct kv_entry *db_set_expire(struct kv_db *db, struct kv_entry *e, int64_t expire_ms)
{
	kv_assert(expire_ms >= 0 || expire_ms == KV_NO_EXPIRE);
	snap_touch(db, e);
	if (db->watched || db->change_fn) {
		struct kv_slice k = entry_key(e);
		key_changed(db, k.ptr, k.len);
	}
	struct layout l, n;
	layout_read(&l, e);
	layout_make(&n, flags_code(l.flags), l.klen, l.vlen, expire_ms);
	if (n.flags == l.flags) {
		if (expire_ms >= 0)
			deadline_write(e, &l, expire_ms);   /* same layout: in place */
		return e;
	}
	return entry_relayout(db, e, NULL, flags_code(l.flags), l.vlen, expire_ms, 0);
}

/* Re-key an unlinked entry in place (RENAME): same value and deadline. */
static struct kv_entry *entry_rekey(struct kv_db *dst, struct kv_entry *e,
				    const char *new_key, size_t new_klen)
{
	struct layout o, n;
	layout_read(&o, e);
	int64_t dl = entry_expire(e);
	layout_make(&n, flags_code(o.flags), new_klen, o.vlen, dl);
	size_t cap = malloc_usable_size(e);
	/* The entry is counted in neither db while it moves. */
	if (n.val_off > o.val_off) {
		if (n.total > cap)
			e = kv_realloc(e, n.total);   /* > cap >= sizeof(*e) */
		memmove(entry_raw(e) + n.val_off, entry_raw(e) + o.val_off, o.val_bytes);
	} else {
		memmove(entry_raw(e) + n.val_off, entry_raw(e) + o.val_off, o.val_bytes);
		if (n.total < cap / 2 && cap - n.total >= 64)
			e = kv_realloc(e, KV_MAX(n.total, sizeof(struct kv_entry)));
	}
	header_write(e, &n);
	if (dl >= 0)
		deadline_write(e, &n, dl);
	memcpy(entry_raw(e) + n.key_off, new_key, new_klen);
	dst->entry_bytes += kv_heap_bytes(e);
	return e;
}

void db_rename(struct kv_db *db, const char *key, size_t klen,
	       struct kv_db *dst, const char *new_key, size_t new_klen)
{
	if (db == dst && klen == new_klen && memcmp(key, new_key, klen) == 0) {
		kv_assert(dict_find(&db->keys, key, klen));
		return;
	}
	/* Copy the new name first: the caller may have taken it from an entry
	 * that the deletion below frees. */
	char *name = kv_malloc(new_klen ? new_klen : 1);
	memcpy(name, new_key, new_klen);
	key_changed(db, key, klen);
	key_changed(dst, name, new_klen);
	db_delete(dst, name, new_klen);
	struct dict_node **link = dict_find_link(&db->keys, key, klen);
	kv_assert(link);
	snap_touch(db, node_entry(*link));
	struct kv_entry *e = entry_unlink(db, link);
	db->entry_bytes -= kv_heap_bytes(e);
	if (entry_type(e) != KV_TYPE_STRING && db != dst) {
		int64_t m = (int64_t)obj_mem(entry_type(e), entry_obj(e));
		db->obj_bytes -= m;
		dst->obj_bytes += m;
	}
	e = entry_rekey(dst, e, name, new_klen);
	snap_saved(dst, e);
	entry_link(dst, e);
	if (dst->new_fn)
		dst->new_fn(dst->new_arg, dst->index, name, new_klen);
	free(name);
}

/* ---- snapshots ---- */

void db_snapshot_begin(struct kv_db *db, db_snap_fn fn, void *arg)
{
	kv_assert(!db->snap_fn && fn);
	db->snap_mark ^= ENTRY_SNAP_MARK;
	db->snap_fn = fn;
	db->snap_arg = arg;
}

struct snap_scan {
	struct kv_db *db;
};

static void snap_scan_node(void *arg, struct dict_node *n)
{
	struct snap_scan *c = arg;
	snap_touch(c->db, node_entry(n));
}

uint64_t db_snapshot_step(struct kv_db *db, uint64_t cursor)
{
	kv_assert(db->snap_fn);
	struct snap_scan c = { db };
	return dict_scan(&db->keys, cursor, snap_scan_node, &c);
}

static void snap_mark_node(void *arg, struct dict_node *n)
{
	snap_saved(arg, node_entry(n));
}

void db_snapshot_abandon(struct kv_db *db)
{
	/* Entries the walk did not reach still carry the old mark; the next
	 * snapshot flips the mark back and would take them as saved.  Mark
	 * every entry now (one pass, only when a snapshot is given up). */
	db->snap_fn = NULL;
	db->snap_arg = NULL;
	uint64_t cursor = 0;
	do {
		cursor = dict_scan(&db->keys, cursor, snap_mark_node, db);
	} while (cursor);
}

void db_snapshot_end(struct kv_db *db)
{
	db->snap_fn = NULL;
	db->snap_arg = NULL;
}

bool db_snapshot_active(const struct kv_db *db)
{
	return db->snap_fn != NULL;
}

bool db_set_writing(struct kv_db *db, bool writing)
{
	bool was = db->writing;
	db->writing = writing;
	return was;
}

/* ---- walking ---- */

struct scan_ctx {
	db_scan_fn fn;
	void *arg;
	int64_t now_ms;
};

static void scan_node(void *arg, struct dict_node *n)
{
	struct scan_ctx *c = arg;
	if (!entry_expired(node_entry(n), c->now_ms))
		c->fn(c->arg, node_entry(n));
}

uint64_t db_scan(struct kv_db *db, uint64_t cursor, int64_t now_ms,
		 db_scan_fn fn, void *arg)
{
	struct scan_ctx c = {fn, arg, now_ms};
	return dict_scan(&db->keys, cursor, scan_node, &c);
}

const struct kv_entry *db_random(struct kv_db *db, int64_t now_ms)
{
	for (int i = 0; i < RANDOM_EXPIRED_TRIES; i++) {
		struct dict_node *n = dict_random(&db->keys);
		if (!n)
			return NULL;
		if (!entry_expired(node_entry(n), now_ms))
			return node_entry(n);
		if (!tls_keep_expired)
			entry_expire_at(db, dict_link_of(&db->keys, n));
	}
	return NULL;
}

/* ---- expiry ---- */

uint64_t db_active_expire(struct kv_db *db, int64_t now_ms, uint64_t max_samples)
{
	uint64_t deleted = 0, samples = 0;
	while (samples < max_samples && db->exp_len > 0) {
		uint64_t round = KV_MIN(ACTIVE_EXPIRE_SAMPLE, max_samples - samples);
		uint64_t expired = 0, i;
		for (i = 0; i < round && db->exp_len > 0; i++) {
			struct kv_entry *e = db->exp[rng_next(&db->rng) % db->exp_len];
			if (now_ms >= entry_expire(e)) {
				entry_expire_at(db, dict_link_of(&db->keys, &e->node));
				expired++;
			}
		}
		samples += i;
		deleted += expired;
		if (expired * 4 <= i)
			break;
	}
	return deleted;
}

void db_set_expire_hook(struct kv_db *db, db_expire_hook fn, void *arg)
{
	db->hook = fn;
	db->hook_arg = arg;
}

void db_set_evict_hook(struct kv_db *db, db_expire_hook fn, void *arg)
{
	db->evict_fn = fn;
	db->evict_arg = arg;
}

void db_set_new_hook(struct kv_db *db, db_change_hook fn, void *arg)
{
	db->new_fn = fn;
	db->new_arg = arg;
}

void db_set_change_hook(struct kv_db *db, db_change_hook fn, void *arg)
{
	db->change_fn = fn;
	db->change_arg = arg;
}

const struct db_stats *db_get_stats(const struct kv_db *db)
{
	return &db->stats;
}

/* ---- WATCH ----
 *
 * A watched key has a node here holding a version and the number of WATCHes
 * referring to it.  Every change of the key (set, delete, expiry, deadline
 * change, rename, flush, and in-place changes of a value object reported by
 * db_signal_modified) bumps the version; EXEC compares it with the version
 * seen at WATCH time.  Nodes live exactly as long as a WATCH refers to them,
 * so unwatched keys cost one branch per change.
 */
struct watch_node {
	struct dict_node node;
	uint64_t version;
	uint64_t refs;
	size_t klen;
	char key[];
};

static struct kv_slice watch_node_key(const struct dict_node *n)
{
	const struct watch_node *w = (const struct watch_node *)n;
	return (struct kv_slice){ w->key, w->klen };
}

static const struct dict_type watch_dict_type = { watch_node_key };

static void watch_touch(struct kv_db *db, const char *key, size_t klen)
{
	if (!db->watched || dict_size(db->watched) == 0)
		return;
	struct watch_node *w = (struct watch_node *)dict_find(db->watched, key, klen);
	if (w)
		w->version++;
}

static void watch_touch_existing(void *arg, struct dict_node *n)
{
	struct kv_db *db = arg;
	struct watch_node *w = (struct watch_node *)n;
	if (dict_find(&db->keys, w->key, w->klen))
		w->version++;
}

void db_signal_modified(struct kv_db *db, const char *key, size_t klen)
{
	key_changed(db, key, klen);
}

void db_signal_changed(struct kv_db *db, const char *key, size_t klen)
{
	if (db->change_fn)
		db->change_fn(db->change_arg, db->index, key, klen);
}

static void watch_bump(void *arg, struct dict_node *n)
{
	(void)arg;
	((struct watch_node *)n)->version++;
}

void db_watch_move(struct kv_db *from, struct kv_db *to)
{
	kv_assert(!to->watched);
	to->watched = from->watched;
	from->watched = NULL;
	if (!to->watched)
		return;
	uint64_t cursor = 0;
	do {
		cursor = dict_scan(to->watched, cursor, watch_bump, NULL);
	} while (cursor);
}

uint64_t db_watch_add(struct kv_db *db, const char *key, size_t klen)
{
	if (!db->watched) {
		db->watched = kv_calloc(1, sizeof(*db->watched));
		dict_init(db->watched, &watch_dict_type, STORE_HASH_SEED ^ 0x7761746368ull);
	}
	struct watch_node *w = (struct watch_node *)dict_find(db->watched, key, klen);
	if (!w) {
		w = kv_calloc(1, sizeof(*w) + klen);
		w->klen = klen;
		memcpy(w->key, key, klen);
		dict_add(db->watched, &w->node);
	}
	w->refs++;
	return w->version;
}

uint64_t db_watch_version(struct kv_db *db, const char *key, size_t klen)
{
	struct watch_node *w = db->watched
		? (struct watch_node *)dict_find(db->watched, key, klen) : NULL;
	kv_assert(w);
	return w->version;
}

uint64_t db_watch_peek(struct kv_db *db, const char *key, size_t klen)
{
	struct watch_node *w = db->watched
		? (struct watch_node *)dict_find(db->watched, key, klen) : NULL;
	return w ? w->version : 0;
}

void db_watch_unchanged(struct kv_db *db, const char *key, size_t klen, uint64_t version)
{
	struct watch_node *w = db->watched
		? (struct watch_node *)dict_find(db->watched, key, klen) : NULL;
	if (w)
		w->version = version;
}

void db_watch_release(struct kv_db *db, const char *key, size_t klen)
{
	struct watch_node *w = db->watched
		? (struct watch_node *)dict_find(db->watched, key, klen) : NULL;
	kv_assert(w && w->refs > 0);
	if (--w->refs == 0) {
		dict_unlink(db->watched, key, klen);
		free(w);
	}
}

/* SWAPDB: a watched key counts as changed when it exists in either of the
 * swapped databases. */
struct swap_touch {
	struct kv_db *a, *b;
	int64_t now_ms;
};

static void watch_touch_either(void *arg, struct dict_node *n)
{
	struct swap_touch *st = arg;
	struct watch_node *w = (struct watch_node *)n;
	if (dict_find(&st->a->keys, w->key, w->klen) || dict_find(&st->b->keys, w->key, w->klen))
		w->version++;
}

static void watch_touch_all_either(struct dict *watched, struct swap_touch *st)
{
	if (!watched || dict_size(watched) == 0)
		return;
	uint64_t cursor = 0;
	do {
		cursor = dict_scan(watched, cursor, watch_touch_either, st);
	} while (cursor);
}

/* Expires a watched key in both databases if its deadline passed: a
 * lookup reclaims it (logged and signalled like any lazy expiry). */
static void watch_expire_either(void *arg, struct dict_node *n)
{
	struct swap_touch *st = arg;
	struct watch_node *w = (struct watch_node *)n;
	db_lookup_notouch(st->a, w->key, w->klen, st->now_ms);
	db_lookup_notouch(st->b, w->key, w->klen, st->now_ms);
}

static void watch_expire_all_either(struct dict *watched, struct swap_touch *st)
{
	if (!watched || dict_size(watched) == 0)
		return;
	uint64_t cursor = 0;
	do {
		cursor = dict_scan(watched, cursor, watch_expire_either, st);
	} while (cursor);
}

void dbs_swap(struct kv_dbs *d, uint32_t a, uint32_t b, int64_t now_ms)
{
	kv_assert(a < d->n && b < d->n);
	if (a == b)
		return;
	struct kv_db *x = d->db[a], *y = d->db[b];
	if (now_ms > 0) {
		struct swap_touch exp = { x, y, now_ms };
		watch_expire_all_either(x->watched, &exp);
		watch_expire_all_either(y->watched, &exp);
	}
	/* The contents trade places; the watch tables stay with the numbers. */
	struct dict *wx = x->watched;
	x->watched = y->watched;
	y->watched = wx;
	d->db[a] = y;
	d->db[b] = x;
	y->index = a;
	x->index = b;
	struct swap_touch st = { x, y, 0 };
	watch_touch_all_either(x->watched, &st);
	watch_touch_all_either(y->watched, &st);
}
