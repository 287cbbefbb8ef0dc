/*
 * cmd_string.c - the string commands: GET/SET and their variants, MGET/MSET,
 * the INCR family, INCRBYFLOAT, APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE,
 * LCS, and the bitmap group's SETBIT/GETBIT (the rest of that group,
 * BITCOUNT/BITPOS/BITOP/BITFIELD, is in cmd_bitmap.c, which owns the bit
 * offset rule they share).
 *
 * Every reply, error text and precedence of errors is Redis 7.0.15's for the
 * same arguments: the order in which a handler parses, looks up and checks
 * decides which error a client sees first, so handlers keep Redis's order
 * even where another would be simpler.  Reads that Redis counts as keyspace
 * hits or misses (lookupKeyRead) are counted here the same way; lookups made
 * on the way to a write are not.
 *
 * This file only reads and writes the keyspace through store.h; where a key
 * lives, locking and durability of the effects are the runtime's business.
 */
#include "commands/cmd.h"
#include "commands/cmd_bitmap.h"
#include "commands/notify.h"
#include "commands/fx.h"
#include "store/effect_argv.h"
#include "commands/config.h"
#include "base/kv.h"
#include "base/util_num.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The key argv[i] for writing: no statistics, as Redis's lookupKeyWrite. */
static struct kv_entry *lookup_write(const struct cmd_ctx *c, int i)
{
	return db_lookup(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len, c->now_ms);
}

/* The key argv[i] for reading: counts a keyspace hit or miss. */
static struct kv_entry *lookup_read(const struct cmd_ctx *c, int i)
{
	struct kv_entry *e = lookup_write(c, i);
	cmd_count_read(c, c->argv[i].ptr, c->argv[i].len, e != NULL);
	return e;
}

/* True when e is not a string, after replying WRONGTYPE. */
static bool wrong_type(struct cmd_ctx *c, const struct kv_entry *e)
{
	if (entry_type(e) == KV_TYPE_STRING)
		return false;
	resp_error(c->out, RESP_ERR_WRONGTYPE);
	return true;
}

static void reply_str(struct cmd_ctx *c, const struct kv_entry *e)
{
	struct kv_slice s = entry_str(e);
	resp_bulk(c->out, s.ptr, s.len);
}

/* Redis's getGenericCommand: replies with the value of argv[1] or nil.
 * Returns 1 if the key exists, 0 if not, -1 after a WRONGTYPE error. */
static int reply_get(struct cmd_ctx *c)
{
	struct kv_entry *e = lookup_read(c, 1);
	if (!e) {
		resp_null(c->out);
		return 0;
	}
	if (wrong_type(c, e))
		return -1;
	reply_str(c, e);
	return 1;
}

/* Redis's checkStringLength: a string may not grow past proto-max-bulk-len.
 * size and extra are below 2^63, so their sum cannot wrap in 64 bits. */
static bool length_ok(struct cmd_ctx *c, uint64_t size, uint64_t extra)
{
	int64_t max = atomic_load_explicit(&g_config.proto_max_bulk_len,
					   memory_order_relaxed);
	if (size + extra <= (uint64_t)max)
		return true;
	resp_error(c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
	return false;
}

/* ---- options of SET and GETEX ---- */

enum str_opt_flag {
	OPT_NX = 1u << 0,
	OPT_XX = 1u << 1,
	OPT_GET = 1u << 2,
	OPT_KEEPTTL = 1u << 3,
	OPT_PERSIST = 1u << 4,
	OPT_EX = 1u << 5,
	OPT_PX = 1u << 6,
	OPT_EXAT = 1u << 7,
	OPT_PXAT = 1u << 8,
};
#define OPT_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

enum { FOR_SET = 1, FOR_GETEX = 2 };

struct str_opt {
	const char *word;
	unsigned flag;
	unsigned conflicts;     /* options that may not come before this one */
	int commands;           /* FOR_SET and/or FOR_GETEX */
};

/* An option may repeat ("EX 1 EX 2": the last wins) but not meet a
 * conflicting one, in either order; all of them are Redis's rules. */
static const struct str_opt str_opts[] = {
	{ "nx", OPT_NX, OPT_XX, FOR_SET },
	{ "xx", OPT_XX, OPT_NX, FOR_SET },
	{ "get", OPT_GET, 0, FOR_SET },
	{ "keepttl", OPT_KEEPTTL, OPT_PERSIST | OPT_EXPIRE, FOR_SET },
	{ "persist", OPT_PERSIST, OPT_KEEPTTL | OPT_EXPIRE, FOR_GETEX },
	{ "ex", OPT_EX, OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRE & ~OPT_EX), FOR_SET | FOR_GETEX },
	{ "px", OPT_PX, OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRE & ~OPT_PX), FOR_SET | FOR_GETEX },
	{ "exat", OPT_EXAT, OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRE & ~OPT_EXAT), FOR_SET | FOR_GETEX },
	{ "pxat", OPT_PXAT, OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRE & ~OPT_PXAT), FOR_SET | FOR_GETEX },
};

/* Redis compares these options as C strings, so "nx\0junk" is NX: the
 * argument is cut at its first NUL before the comparison. */
static bool opt_word_is(const struct kv_slice *a, const char *word)
{
	const char *nul = memchr(a->ptr, '\0', a->len);
	struct kv_slice cut = { a->ptr, nul ? (size_t)(nul - a->ptr) : a->len };
	return arg_is(&cut, word);
}

static const struct str_opt *find_opt(const struct kv_slice *a, int command)
{
	for (size_t i = 0; i < KV_ARRAY_LEN(str_opts); i++)
		if ((str_opts[i].commands & command) && opt_word_is(a, str_opts[i].word))
			return &str_opts[i];
	return NULL;
}

/* Parses argv[first..] as options of `command` into *flags, pointing *expire
 * at the argument of the expire option if any.  Replies with a syntax error
 * and returns false on an unknown, misplaced or conflicting option. */
static bool parse_opts(struct cmd_ctx *c, int first, int command, unsigned *flags,
		       const struct kv_slice **expire)
{
	*flags = 0;
	*expire = NULL;
	for (int i = first; i < c->argc; i++) {
		const struct str_opt *o = find_opt(&c->argv[i], command);
		bool takes_value = o && (o->flag & OPT_EXPIRE);
		if (!o || (*flags & o->conflicts) || (takes_value && i + 1 >= c->argc)) {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return false;
		}
		*flags |= o->flag;
		if (takes_value)
			*expire = &c->argv[++i];
	}
	return true;
}

/* Redis's getExpireMillisecondsOrReply: the absolute deadline in ms for the
 * expire option in flags.  A value <= 0, or one whose conversion to an
 * absolute time in ms overflows, is "invalid expire time"; a deadline in the
 * past is valid (the key is then expired on its next access). */
static bool expire_deadline(struct cmd_ctx *c, const struct kv_slice *arg, unsigned flags,
			    const char *name, int64_t *deadline_ms)
{
	bool seconds = flags & (OPT_EX | OPT_EXAT);
	bool relative = flags & (OPT_EX | OPT_PX);
	int64_t v;

	if (!arg_to_int64(arg, &v)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return false;
	}
	if (v <= 0 || (seconds && v > INT64_MAX / 1000))
		goto invalid;
	if (seconds)
		v *= 1000;
	if (relative) {
		if (v > INT64_MAX - c->now_ms)
			goto invalid;
		v += c->now_ms;
	}
	*deadline_ms = v;
	return true;
invalid:
	resp_errorf(c->out, "ERR invalid expire time in '%s' command", name);
	return false;
}

/* ---- GET, SET and variants ---- */

static void cmd_get(struct cmd_ctx *c)
{
	reply_get(c);
}

/* The effect of a SET that was applied (fx.h): a relative expire becomes
 * absolute, so replay gives the same deadline whatever its clock; NX, XX and
 * GET have done their work and stay out.  A SET with neither a deadline nor
 * KEEPTTL is deterministic as sent: the default logs it. */
static void set_effect(struct cmd_ctx *c, const struct kv_slice *val, int64_t deadline)
{
	char buf[EFFECT_NUM_MAX];
	struct kv_slice argv[5] = { { "SET", 3 }, c->argv[1], *val };
	int argc = 3;

	if (deadline == KV_NO_EXPIRE && c->argc == 3)
		return;
	if (deadline == KV_KEEP_EXPIRE) {
		argv[argc++] = (struct kv_slice){ "KEEPTTL", 7 };
	} else if (deadline != KV_NO_EXPIRE) {
		argv[argc++] = (struct kv_slice){ "PXAT", 4 };
		argv[argc++] = effect_int(buf, deadline);
	}
	cmd_effect(c, argc, argv);
}

/* What a SET-like command answers when it sets the key, and when NX/XX stop it. */
enum set_reply { SET_REPLY_OK_NULL, SET_REPLY_ONE_ZERO };

/* Redis's setGenericCommand for key argv[1] and value val.  The expire value
 * is validated first, then GET replies with the old value (a WRONGTYPE there
 * stops the command), then NX/XX decide. */
static void set_generic(struct cmd_ctx *c, unsigned flags, const struct kv_slice *val,
			const struct kv_slice *expire, const char *name, enum set_reply kind)
{
	const struct kv_slice *key = &c->argv[1];
	int64_t deadline = (flags & OPT_KEEPTTL) ? KV_KEEP_EXPIRE : KV_NO_EXPIRE;
	int found;

	if (expire && !expire_deadline(c, expire, flags, name, &deadline))
		return;
	if (flags & OPT_GET) {
		found = reply_get(c);
		if (found < 0)
			return;
	} else {
		found = lookup_write(c, 1) != NULL;
	}
	if (((flags & OPT_NX) && found) || ((flags & OPT_XX) && !found)) {
		if (flags & OPT_GET)
			return;
		if (kind == SET_REPLY_ONE_ZERO)
			resp_int(c->out, 0);
		else
			resp_null(c->out);
		return;
	}
	db_set_string(cmd_db_arg(c, 1), key->ptr, key->len, val->ptr, val->len, deadline);
	set_effect(c, val, deadline);
	cmd_notify_arg(c, NOTIFY_STRING, "set", 1);
	if (expire)
		cmd_notify_arg(c, NOTIFY_GENERIC, "expire", 1);
	if (flags & OPT_GET)
		return;
	if (kind == SET_REPLY_ONE_ZERO)
		resp_int(c->out, 1);
	else
		resp_ok(c->out);
}

static void cmd_set(struct cmd_ctx *c)
{
	unsigned flags;
	const struct kv_slice *expire;

	if (parse_opts(c, 3, FOR_SET, &flags, &expire))
		set_generic(c, flags, &c->argv[2], expire, "set", SET_REPLY_OK_NULL);
}

static void cmd_setnx(struct cmd_ctx *c)
{
	set_generic(c, OPT_NX, &c->argv[2], NULL, "setnx", SET_REPLY_ONE_ZERO);
}

static void cmd_setex(struct cmd_ctx *c)
{
	set_generic(c, OPT_EX, &c->argv[3], &c->argv[2], "setex", SET_REPLY_OK_NULL);
}

static void cmd_psetex(struct cmd_ctx *c)
{
	set_generic(c, OPT_PX, &c->argv[3], &c->argv[2], "psetex", SET_REPLY_OK_NULL);
}

static void cmd_getset(struct cmd_ctx *c)
{
	/* Like SET: the key loses its TTL. */
	set_generic(c, OPT_GET, &c->argv[2], NULL, "getset", SET_REPLY_OK_NULL);
}

static void cmd_getdel(struct cmd_ctx *c)
{
	if (reply_get(c) == 1) {
		db_delete(cmd_db_arg(c, 1), c->argv[1].ptr, c->argv[1].len);
		cmd_notify_arg(c, NOTIFY_GENERIC, "del", 1);
	}
}

/* GETEX parses its options before the lookup but validates the expire value
 * only after finding a string: "GETEX missing EX 0" is nil, not an error. */
static void cmd_getex(struct cmd_ctx *c)
{
	struct kv_db *db = cmd_db_arg(c, 1);
	const struct kv_slice *key = &c->argv[1];
	const struct kv_slice *expire;
	unsigned flags;
	int64_t deadline = KV_NO_EXPIRE;

	if (!parse_opts(c, 2, FOR_GETEX, &flags, &expire))
		return;
	struct kv_entry *e = lookup_read(c, 1);
	if (!e) {
		resp_null(c->out);
		return;
	}
	if (wrong_type(c, e))
		return;
	if (expire && !expire_deadline(c, expire, flags, "getex", &deadline))
		return;
	reply_str(c, e);
	/* Unlike SET, an absolute deadline already past deletes the key now. */
	if ((flags & (OPT_EXAT | OPT_PXAT)) && deadline <= c->now_ms) {
		db_delete(db, key->ptr, key->len);
		struct kv_slice argv[2] = { { "DEL", 3 }, *key };
		cmd_effect(c, 2, argv);
		cmd_notify_arg(c, NOTIFY_GENERIC, "del", 1);
	} else if (expire) {
		db_set_expire(db, e, deadline);
		char buf[EFFECT_NUM_MAX];
		struct kv_slice argv[3] = { { "PEXPIREAT", 9 }, *key, effect_int(buf, deadline) };
		cmd_effect(c, 3, argv);
		cmd_notify_arg(c, NOTIFY_GENERIC, "expire", 1);
	} else if ((flags & OPT_PERSIST) && entry_expire(e) != KV_NO_EXPIRE) {
		db_set_expire(db, e, KV_NO_EXPIRE);
		struct kv_slice argv[2] = { { "PERSIST", 7 }, *key };
		cmd_effect(c, 2, argv);
		cmd_notify_arg(c, NOTIFY_GENERIC, "persist", 1);
	}
}

/* ---- several keys: the runtime holds every keyspace involved ---- */

static void cmd_mget(struct cmd_ctx *c)
{
	resp_array(c->out, c->argc - 1);
	for (int i = 1; i < c->argc; i++) {
		struct kv_entry *e = lookup_read(c, i);
		/* MGET answers nil for a key of another type, not WRONGTYPE. */
		if (e && entry_type(e) == KV_TYPE_STRING)
			reply_str(c, e);
		else
			resp_null(c->out);
	}
}

static void mset_generic(struct cmd_ctx *c, bool nx, const char *name)
{
	/* The arity check cannot see that keys and values come in pairs. */
	if (c->argc % 2 == 0) {
		resp_errorf(c->out, "ERR wrong number of arguments for '%s' command", name);
		return;
	}
	if (nx) {
		for (int i = 1; i < c->argc; i += 2) {
			if (lookup_write(c, i)) {
				resp_int(c->out, 0);
				return;
			}
		}
	}
	for (int i = 1; i < c->argc; i += 2) {
		db_set_string(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len,
			      c->argv[i + 1].ptr, c->argv[i + 1].len, KV_NO_EXPIRE);
		cmd_notify_arg(c, NOTIFY_STRING, "set", i);
	}
	if (nx)
		resp_int(c->out, 1);
	else
		resp_ok(c->out);
}

static void cmd_mset(struct cmd_ctx *c)
{
	mset_generic(c, false, "mset");
}

static void cmd_msetnx(struct cmd_ctx *c)
{
	mset_generic(c, true, "msetnx");
}

/* ---- counters ---- */

/* Adds incr to the integer in argv[1] (0 when missing), keeping its TTL. */
static void incr_by(struct cmd_ctx *c, int64_t incr)
{
	const struct kv_slice *key = &c->argv[1];
	struct kv_entry *e = lookup_write(c, 1);
	int64_t v = 0;

	if (e) {
		if (wrong_type(c, e))
			return;
		struct kv_slice s = entry_str(e);
		if (!arg_to_int64(&s, &v)) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return;
		}
	}
	if ((incr < 0 && v < 0 && incr < INT64_MIN - v) ||
	    (incr > 0 && v > 0 && incr > INT64_MAX - v)) {
		resp_error(c->out, RESP_ERR_OVERFLOW);
		return;
	}
	v += incr;
	char buf[FMT_INT64_MAX];
	size_t n = fmt_int64(buf, v);
	db_set_string(cmd_db_arg(c, 1), key->ptr, key->len, buf, n, KV_KEEP_EXPIRE);
	cmd_notify_arg(c, NOTIFY_STRING, "incrby", 1);
	resp_int(c->out, v);
}

static void cmd_incr(struct cmd_ctx *c)
{
	incr_by(c, 1);
}

static void cmd_decr(struct cmd_ctx *c)
{
	incr_by(c, -1);
}

/* The increment is parsed before the key is looked at: "INCRBY list abc"
 * is a number error, not WRONGTYPE. */
static void cmd_incrby(struct cmd_ctx *c)
{
	int64_t incr;

	if (!arg_to_int64(&c->argv[2], &incr)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	incr_by(c, incr);
}

static void cmd_decrby(struct cmd_ctx *c)
{
	int64_t decr;

	if (!arg_to_int64(&c->argv[2], &decr)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	/* -INT64_MIN does not exist; Redis has its own message for it. */
	if (decr == INT64_MIN) {
		resp_error(c->out, "ERR decrement would overflow");
		return;
	}
	incr_by(c, -decr);
}

/* Here the type and the stored value are checked before the increment. */
static void cmd_incrbyfloat(struct cmd_ctx *c)
{
	const struct kv_slice *key = &c->argv[1];
	struct kv_entry *e = lookup_write(c, 1);
	long double v = 0, incr;

	if (e && wrong_type(c, e))
		return;
	if (e) {
		struct kv_slice s = entry_str(e);
		if (!arg_to_long_double(&s, &v)) {
			resp_error(c->out, RESP_ERR_NOT_FLOAT);
			return;
		}
	}
	if (!arg_to_long_double(&c->argv[2], &incr)) {
		resp_error(c->out, RESP_ERR_NOT_FLOAT);
		return;
	}
	v += incr;
	if (isnan(v) || isinf(v)) {
		resp_error(c->out, "ERR increment would produce NaN or Infinity");
		return;
	}
	char buf[FMT_LONG_DOUBLE_MAX];
	int n = fmt_long_double(buf, sizeof(buf), v);
	db_set_string(cmd_db_arg(c, 1), key->ptr, key->len, buf, (size_t)n, KV_KEEP_EXPIRE);
	/* The result, not the increment: replay must not depend on long double
	 * arithmetic and formatting (Redis logs the same). */
	struct kv_slice argv[4] = { { "SET", 3 }, *key, { buf, (size_t)n }, { "KEEPTTL", 7 } };
	cmd_effect(c, 4, argv);
	cmd_notify_arg(c, NOTIFY_STRING, "incrbyfloat", 1);
	resp_bulk(c->out, buf, (size_t)n);
}

/* ---- byte ranges ---- */

static void cmd_append(struct cmd_ctx *c)
{
	struct kv_db *db = cmd_db_arg(c, 1);
	const struct kv_slice *key = &c->argv[1];
	const struct kv_slice *add = &c->argv[2];
	struct kv_entry *e = lookup_write(c, 1);

	/* A missing key is created even when the appended value is empty. */
	if (!e) {
		db_set_string(db, key->ptr, key->len, add->ptr, add->len, KV_NO_EXPIRE);
		cmd_notify_arg(c, NOTIFY_STRING, "append", 1);
		resp_int(c->out, (int64_t)add->len);
		return;
	}
	if (wrong_type(c, e))
		return;
	size_t len = entry_str(e).len;
	if (!length_ok(c, len, add->len))
		return;
	/* Even "" is a change (Redis signals it) that leaves the value raw. */
	db_string_write(db, e, len, add->ptr, add->len);
	cmd_notify_arg(c, NOTIFY_STRING, "append", 1);
	resp_int(c->out, (int64_t)(len + add->len));
}

static void cmd_strlen(struct cmd_ctx *c)
{
	struct kv_entry *e = lookup_read(c, 1);

	if (!e)
		resp_int(c->out, 0);
	else if (!wrong_type(c, e))
		resp_int(c->out, (int64_t)entry_str(e).len);
}

/* GETRANGE and SUBSTR: bytes start..end inclusive, negative indexes counted
 * from the end and clamped to the string. */
static void cmd_getrange(struct cmd_ctx *c)
{
	int64_t start, end;

	if (!arg_to_int64(&c->argv[2], &start) || !arg_to_int64(&c->argv[3], &end)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	struct kv_entry *e = lookup_read(c, 1);
	if (!e) {
		resp_bulk(c->out, "", 0);
		return;
	}
	if (wrong_type(c, e))
		return;
	struct kv_slice s = entry_str(e);
	int64_t len = (int64_t)s.len;
	/* Redis 7.0 answers "" for two negative indexes in reverse order before
	 * clamping, which would otherwise make "-100 -200" the first byte. */
	if (start < 0 && end < 0 && start > end) {
		resp_bulk(c->out, "", 0);
		return;
	}
	if (start < 0)
		start += len;
	if (end < 0)
		end += len;
	start = KV_MAX(start, 0);
	end = KV_MAX(end, 0);
	if (end >= len)
		end = len - 1;
	if (len == 0 || start > end)
		resp_bulk(c->out, "", 0);
	else
		resp_bulk(c->out, s.ptr + start, (size_t)(end - start + 1));
}

static void cmd_setrange(struct cmd_ctx *c)
{
	struct kv_db *db = cmd_db_arg(c, 1);
	const struct kv_slice *key = &c->argv[1];
	const struct kv_slice *val = &c->argv[3];
	int64_t off;

	if (!arg_to_int64(&c->argv[2], &off)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	if (off < 0) {
		resp_error(c->out, "ERR offset is out of range");
		return;
	}
	struct kv_entry *e = lookup_write(c, 1);
	/* Writing nothing answers the current length and creates no key, even
	 * at an offset past the size limit. */
	if (e && wrong_type(c, e))
		return;
	if (val->len == 0) {
		resp_int(c->out, e ? (int64_t)entry_str(e).len : 0);
		return;
	}
	if (!length_ok(c, (uint64_t)off, val->len))
		return;
	if (!e)
		e = db_set_string(db, key->ptr, key->len, "", 0, KV_NO_EXPIRE);
	e = db_string_write(db, e, (size_t)off, val->ptr, val->len);
	cmd_notify_arg(c, NOTIFY_STRING, "setrange", 1);
	resp_int(c->out, (int64_t)entry_str(e).len);
}

/* ---- bits ---- */

/* SETBIT key offset 0|1: replies with the bit's old value.  A key is created
 * (zero-filled up to the bit's byte) or grown as needed; a bit set to the
 * value it has changes nothing, as in Redis (no signal, no effect). */
static void cmd_setbit(struct cmd_ctx *c)
{
	uint64_t off;
	int64_t on;
	if (!cmd_bit_offset(c, &c->argv[2], 0, &off))
		return;
	if (!arg_to_int64(&c->argv[3], &on) || (on & ~1)) {
		resp_error(c->out, "ERR bit is not an integer or out of range");
		return;
	}
	struct kv_db *db = cmd_db_arg(c, 1);
	const struct kv_slice *key = &c->argv[1];
	struct kv_entry *e = lookup_write(c, 1);
	if (e && wrong_type(c, e))
		return;
	size_t byte = (size_t)(off >> 3);
	unsigned mask = 1u << (7 - (off & 7));
	struct kv_slice v = e ? entry_str(e) : (struct kv_slice){ "", 0 };
	unsigned char old = byte < v.len ? (unsigned char)v.ptr[byte] : 0;
	bool was = old & mask;
	if (!e || byte >= v.len || was != (on == 1)) {
		unsigned char nb = (unsigned char)(on ? old | mask : old & ~mask);
		if (!e)
			e = db_set_string(db, key->ptr, key->len, "", 0, KV_NO_EXPIRE);
		db_string_write(db, e, byte, &nb, 1);
		cmd_notify_arg(c, NOTIFY_STRING, "setbit", 1);
	}
	resp_int(c->out, was);
}

static void cmd_getbit(struct cmd_ctx *c)
{
	uint64_t off;
	if (!cmd_bit_offset(c, &c->argv[2], 0, &off))
		return;
	struct kv_entry *e = lookup_read(c, 1);
	if (!e) {
		resp_int(c->out, 0);
		return;
	}
	if (wrong_type(c, e))
		return;
	struct kv_slice v = entry_str(e);
	size_t byte = (size_t)(off >> 3);
	bool bit = byte < v.len && ((unsigned char)v.ptr[byte] & (1u << (7 - (off & 7))));
	resp_int(c->out, bit);
}

/* ---- LCS ---- */

/* One match range of LCS ... IDX: [a_start, a_end] in the first string and
 * [b_start, b_end] in the second. */
static void lcs_reply_range(struct kv_buf *b, uint32_t a0, uint32_t a1, uint32_t b0,
			    uint32_t b1, bool withlen)
{
	resp_array(b, withlen ? 3 : 2);
	resp_array(b, 2);
	resp_int(b, a0);
	resp_int(b, a1);
	resp_array(b, 2);
	resp_int(b, b0);
	resp_int(b, b1);
	if (withlen)
		resp_int(b, (int64_t)a1 - a0 + 1);
}

/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest
 * common subsequence by the classic table, and the matching ranges found
 * walking it back from the end, as Redis 7.0 reports them (last first). */
static void cmd_lcs(struct cmd_ctx *c)
{
	struct kv_entry *ea = lookup_read(c, 1), *eb = lookup_read(c, 2);
	if ((ea && entry_type(ea) != KV_TYPE_STRING) || (eb && entry_type(eb) != KV_TYPE_STRING)) {
		resp_error(c->out, "ERR The specified keys must contain string values");
		return;
	}
	struct kv_slice a = ea ? entry_str(ea) : (struct kv_slice){ "", 0 };
	struct kv_slice b = eb ? entry_str(eb) : (struct kv_slice){ "", 0 };
	bool getlen = false, getidx = false, withlen = false;
	int64_t minlen = 0;
	for (int j = 3; j < c->argc; j++) {
		const struct kv_slice *o = &c->argv[j];
		if (opt_word_is(o, "idx")) {
			getidx = true;
		} else if (opt_word_is(o, "len")) {
			getlen = true;
		} else if (opt_word_is(o, "withmatchlen")) {
			withlen = true;
		} else if (opt_word_is(o, "minmatchlen") && j + 1 < c->argc) {
			if (!arg_to_int64(&c->argv[++j], &minlen)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
			if (minlen < 0)
				minlen = 0;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	if (getlen && getidx) {
		resp_error(c->out, "ERR If you want both the length and indexes, please just use IDX.");
		return;
	}
	if (a.len >= UINT32_MAX - 1 || b.len >= UINT32_MAX - 1) {
		resp_error(c->out, "ERR String too long for LCS");
		return;
	}
	/* The table holds LCS(a[0..i), b[0..j)) at [i * (blen + 1) + j]; its
	 * size is bounded like any transient buffer by proto-max-bulk-len. */
	uint64_t alen = a.len, blen = b.len;
	uint64_t cells = (alen + 1) * (blen + 1);
	int64_t max = atomic_load_explicit(&g_config.proto_max_bulk_len, memory_order_relaxed);
	if (cells > UINT64_MAX / sizeof(uint32_t) || cells * sizeof(uint32_t) > (uint64_t)max) {
		resp_error(c->out, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
		return;
	}
	uint32_t *t = malloc((size_t)cells * sizeof(uint32_t));
	if (!t) {
		resp_error(c->out, "ERR Insufficient memory, failed allocating transient memory for LCS");
		return;
	}
#define LCS_AT(i, j) t[(size_t)(i) * (blen + 1) + (j)]
	for (uint64_t i = 0; i <= alen; i++) {
		for (uint64_t j = 0; j <= blen; j++) {
			if (i == 0 || j == 0)
				LCS_AT(i, j) = 0;
			else if (a.ptr[i - 1] == b.ptr[j - 1])
				LCS_AT(i, j) = LCS_AT(i - 1, j - 1) + 1;
			else
				LCS_AT(i, j) = KV_MAX(LCS_AT(i - 1, j), LCS_AT(i, j - 1));
		}
	}
	uint32_t total = LCS_AT(alen, blen);
	if (getlen) {
		resp_int(c->out, total);
		free(t);
		return;
	}
	/* Walk back from the end: the string is filled from its last byte, and
	 * a range of consecutive matches grows backwards until a mismatch or
	 * the start of either string closes it. */
	char *lcs = kv_malloc(total + 1u);
	struct kv_buf ranges = KV_BUF_INIT;
	int64_t nranges = 0;
	uint32_t k = total, i = (uint32_t)alen, j = (uint32_t)blen;
	bool open = false;
	uint32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
	while (i > 0 && j > 0) {
		bool close = false;
		if (a.ptr[i - 1] == b.ptr[j - 1]) {
			lcs[--k] = a.ptr[i - 1];
			if (!open) {
				open = true;
				a0 = a1 = i - 1;
				b0 = b1 = j - 1;
			} else if (a0 == i && b0 == j) {
				a0--;
				b0--;
			} else {
				close = true;
			}
			if (a0 == 0 || b0 == 0)
				close = true;
			i--;
			j--;
		} else {
			if (LCS_AT(i - 1, j) > LCS_AT(i, j - 1))
				i--;
			else
				j--;
			close = open;
		}
		if (close) {
			if (getidx && (minlen == 0 || (int64_t)a1 - a0 + 1 >= minlen)) {
				lcs_reply_range(&ranges, a0, a1, b0, b1, withlen);
				nranges++;
			}
			open = false;
		}
	}
#undef LCS_AT
	if (getidx) {
		/* Redis's map: matches, then len (the ranges are arrays and
		 * integers, the same in both protocols). */
		resp_map(c->out, 2);
		resp_bulk_str(c->out, "matches");
		resp_array(c->out, nranges);
		kv_buf_append(c->out, ranges.data, ranges.len);
		resp_bulk_str(c->out, "len");
		resp_int(c->out, total);
	} else {
		resp_bulk(c->out, lcs, total);
	}
	kv_buf_free(&ranges);
	free(lcs);
	free(t);
}

/* ---- the table (arity, flags and key specs as Redis 7.0's COMMAND INFO) ---- */

#define KEYS(first, last, step) .first_key = (first), .last_key = (last), .key_step = (step)
#define STR_RO (CMD_READONLY | CMD_FAST)
#define STR_W (CMD_WRITE | CMD_DENYOOM)
#define STR_WF (CMD_WRITE | CMD_DENYOOM | CMD_FAST)

#define RANGE_COMPLEXITY                                                           \
	"O(N) where N is the length of the returned string. The complexity is "    \
	"ultimately determined by the returned length, but because creating a "    \
	"substring from an existing string is very cheap, it can be considered "   \
	"O(1) for small strings."

const struct kv_command cmd_table_string[] = {
	{ .name = "get", .arity = 2, .flags = STR_RO, KEYS(1, 1, 1), .proc = cmd_get,
	  .group = "string", .since = "1.0.0", .summary = "Get the value of a key",
	  .complexity = "O(1)" },
	{ .name = "set", .arity = -3, .flags = STR_W, KEYS(1, 1, 1), .proc = cmd_set,
	  .group = "string", .since = "1.0.0", .summary = "Set the string value of a key",
	  .complexity = "O(1)" },
	{ .name = "setnx", .arity = 3, .flags = STR_WF, KEYS(1, 1, 1), .proc = cmd_setnx,
	  .group = "string", .since = "1.0.0",
	  .summary = "Set the value of a key, only if the key does not exist",
	  .complexity = "O(1)" },
	{ .name = "setex", .arity = 4, .flags = STR_W, KEYS(1, 1, 1), .proc = cmd_setex,
	  .group = "string", .since = "2.0.0",
	  .summary = "Set the value and expiration of a key", .complexity = "O(1)" },
	{ .name = "psetex", .arity = 4, .flags = STR_W, KEYS(1, 1, 1), .proc = cmd_psetex,
	  .group = "string", .since = "2.6.0",
	  .summary = "Set the value and expiration in milliseconds of a key",
	  .complexity = "O(1)" },
	{ .name = "getset", .arity = 3, .flags = STR_WF, KEYS(1, 1, 1), .proc = cmd_getset,
	  .group = "string", .since = "1.0.0",
	  .summary = "Set the string value of a key and return its old value",
	  .complexity = "O(1)" },
	{ .name = "getdel", .arity = 2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
	  .proc = cmd_getdel, .group = "string", .since = "6.2.0",
	  .summary = "Get the value of a key and delete the key", .complexity = "O(1)" },
	{ .name = "getex", .arity = -2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
	  .proc = cmd_getex, .group = "string", .since = "6.2.0",
	  .summary = "Get the value of a key and optionally set its expiration",
	  .complexity = "O(1)" },
	{ .name = "mget", .arity = -2, .flags = STR_RO, KEYS(1, -1, 1), .proc = cmd_mget,
	  .group = "string", .since = "1.0.0", .summary = "Get the values of all the given keys",
	  .complexity = "O(N) where N is the number of keys to retrieve." },
	{ .name = "mset", .arity = -3, .flags = STR_W, KEYS(1, -1, 2), .proc = cmd_mset,
	  .group = "string", .since = "1.0.1", .summary = "Set multiple keys to multiple values",
	  .complexity = "O(N) where N is the number of keys to set." },
	{ .name = "msetnx", .arity = -3, .flags = STR_W, KEYS(1, -1, 2), .proc = cmd_msetnx,
	  .group = "string", .since = "1.0.1",
	  .summary = "Set multiple keys to multiple values, only if none of the keys exist",
	  .complexity = "O(N) where N is the number of keys to set." },
	{ .name = "incr", .arity = 2, .flags = STR_WF, KEYS(1, 1, 1), .proc = cmd_incr,
	  .group = "string", .since = "1.0.0",
	  .summary = "Increment the integer value of a key by one", .complexity = "O(1)" },
	{ .name = "decr", .arity = 2, .flags = STR_WF, KEYS(1, 1, 1), .proc = cmd_decr,
	  .group = "string", .since = "1.0.0",
	  .summary = "Decrement the integer value of a key by one", .complexity = "O(1)" },
	{ .name = "incrby", .arity = 3, .flags = STR_WF, KEYS(1, 1, 1), .proc = cmd_incrby,
	  .group = "string", .since = "1.0.0",
	  .summary = "Increment the integer value of a key by the given amount",
	  .complexity = "O(1)" },
	{ .name = "decrby", .arity = 3, .flags = STR_WF, KEYS(1, 1, 1), .proc = cmd_decrby,
	  .group = "string", .since = "1.0.0",
	  .summary = "Decrement the integer value of a key by the given number",
	  .complexity = "O(1)" },
	{ .name = "incrbyfloat", .arity = 3, .flags = STR_WF, KEYS(1, 1, 1),
	  .proc = cmd_incrbyfloat, .group = "string", .since = "2.6.0",
	  .summary = "Increment the float value of a key by the given amount",
	  .complexity = "O(1)" },
	{ .name = "append", .arity = 3, .flags = STR_WF, KEYS(1, 1, 1), .proc = cmd_append,
	  .group = "string", .since = "2.0.0", .summary = "Append a value to a key",
	  .complexity = "O(1). The amortized time complexity is O(1) assuming the "
			"appended value is small and the already present value is of any "
			"size, since the dynamic string library used by Redis will double "
			"the free space available on every reallocation." },
	{ .name = "strlen", .arity = 2, .flags = STR_RO, KEYS(1, 1, 1), .proc = cmd_strlen,
	  .group = "string", .since = "2.2.0",
	  .summary = "Get the length of the value stored in a key", .complexity = "O(1)" },
	{ .name = "getrange", .arity = 4, .flags = CMD_READONLY, KEYS(1, 1, 1),
	  .proc = cmd_getrange, .group = "string", .since = "2.4.0",
	  .summary = "Get a substring of the string stored at a key",
	  .complexity = RANGE_COMPLEXITY },
	{ .name = "substr", .arity = 4, .flags = CMD_READONLY, KEYS(1, 1, 1),
	  .proc = cmd_getrange, .group = "string", .since = "1.0.0",
	  .summary = "Get a substring of the string stored at a key",
	  .complexity = RANGE_COMPLEXITY },
	{ .name = "setrange", .arity = 4, .flags = STR_W, KEYS(1, 1, 1), .proc = cmd_setrange,
	  .group = "string", .since = "2.2.0",
	  .summary = "Overwrite part of a string at key starting at the specified offset",
	  .complexity = "O(1), not counting the time taken to copy the new string in "
			"place. Usually, this string is very small so the amortized "
			"complexity is O(1). Otherwise, complexity is O(M) with M being "
			"the length of the value argument." },
	{ .name = "lcs", .arity = -3, .flags = CMD_READONLY, KEYS(1, 2, 1), .proc = cmd_lcs,
	  .group = "string", .since = "7.0.0", .summary = "Find longest common substring",
	  .complexity = "O(N*M) where N and M are the lengths of s1 and s2, respectively" },
	{ .name = "setbit", .arity = 4, .flags = STR_W, KEYS(1, 1, 1), .proc = cmd_setbit,
	  .group = "bitmap", .since = "2.2.0",
	  .summary = "Sets or clears the bit at offset in the string value stored at key",
	  .complexity = "O(1)" },
	{ .name = "getbit", .arity = 3, .flags = STR_RO, KEYS(1, 1, 1), .proc = cmd_getbit,
	  .group = "bitmap", .since = "2.2.0",
	  .summary = "Returns the bit value at offset in the string value stored at key",
	  .complexity = "O(1)" },
	{ .name = NULL },
};
