/*
 * cmd_bitmap.c - the bitmap commands on string values: BITCOUNT, BITPOS,
 * BITOP, BITFIELD and BITFIELD_RO.  SETBIT and GETBIT live with the other
 * string commands (cmd_string.c) and share the bit offset rule defined here.
 *
 * Bits are numbered from the most significant bit of the first byte, and a
 * string reads as if followed by zero bytes forever; a write past its end
 * grows it with zeros.  Every reply, error text and order of checks is Redis
 * 7.0.15's: which argument is parsed first decides which error a client
 * sees, so the handlers keep Redis's order.
 *
 * Only the keyspace is touched here, through store.h.  BITFIELD is
 * deterministic given the value it reads, so it is logged as sent; a BITOP
 * whose keys span shards is logged as the final state of its destination
 * (fx.h rule 3).
 */
#include "commands/cmd_bitmap.h"

#include "commands/cmd.h"
#include "commands/config.h"
#include "commands/notify.h"
#include "base/kv.h"
#include "base/util_num.h"

#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

/* Redis compares option words as C strings: an argument is cut at its first
 * NUL before the comparison ("bit\0x" is BIT). */
static bool word_is(const struct kv_slice *a, const char *word)
{
	const char *nul = memchr(a->ptr, '\0', a->len);
	struct kv_slice cut = { a->ptr, nul ? (size_t)(nul - a->ptr) : a->len };
	return arg_is(&cut, word);
}

/* The key argv[i] for reading: counts a keyspace hit or miss. */
static struct kv_entry *lookup_read(const struct cmd_ctx *c, int i)
{
	struct kv_entry *e = db_lookup(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len,
				       c->now_ms);
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

bool cmd_bit_offset(struct cmd_ctx *c, const struct kv_slice *a, int hash_bits, uint64_t *out)
{
	bool hash = hash_bits > 0 && a->len > 0 && a->ptr[0] == '#';
	struct kv_slice num = { a->ptr + hash, a->len - hash };
	int64_t v;
	int64_t max = atomic_load_explicit(&g_config.proto_max_bulk_len, memory_order_relaxed);

	if (!arg_to_int64(&num, &v))
		goto bad;
	/* "#N" scales by the width; Redis multiplies in 64 bits and lets a
	 * huge N wrap, which then fails one of the range checks below. */
	if (hash)
		v = (int64_t)((uint64_t)v * (uint64_t)hash_bits);
	if (v < 0 || (v >> 3) >= max)
		goto bad;
	*out = (uint64_t)v;
	return true;
bad:
	resp_error(c->out, "ERR bit offset is not an integer or out of range");
	return false;
}

/* ---- bit ranges ---- */

static unsigned bit_at(const unsigned char *p, uint64_t i)
{
	return (p[i >> 3] >> (7 - (i & 7))) & 1u;
}

/* BITCOUNT's and BITPOS's start/end over a string of len bytes, in bytes or
 * (isbit) bits, negatives counted from the end, clamped to the string: the
 * inclusive bit range [*sbit, *ebit], or false when it is empty. */
static bool bit_range(int64_t start, int64_t end, bool isbit, uint64_t len, uint64_t *sbit,
		      uint64_t *ebit)
{
	int64_t total = (int64_t)len * (isbit ? 8 : 1);

	if (start < 0)
		start += total;
	if (end < 0)
		end += total;
	start = KV_MAX(start, 0);
	end = KV_MAX(end, 0);
	if (end >= total)
		end = total - 1;
	if (start > end)
		return false;
	*sbit = isbit ? (uint64_t)start : (uint64_t)start * 8;
	*ebit = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
	return true;
}

/* Set bits of nwords 8-byte words at p.  The build targets baseline x86-64,
 * where __builtin_popcountll is a dozen instructions; CPUs that have POPCNT
 * (all of them since 2008) take the one-instruction version, chosen once. */
static uint64_t words_count_generic(const unsigned char *p, size_t nwords)
{
	uint64_t n = 0;
	for (size_t k = 0; k < nwords; k++) {
		uint64_t w;
		memcpy(&w, p + 8 * k, sizeof(w));
		n += (uint64_t)__builtin_popcountll(w);
	}
	return n;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt")))
static uint64_t words_count_popcnt(const unsigned char *p, size_t nwords)
{
	uint64_t n = 0;
	for (size_t k = 0; k < nwords; k++) {
		uint64_t w;
		memcpy(&w, p + 8 * k, sizeof(w));
		n += (uint64_t)__builtin_popcountll(w);
	}
	return n;
}

static uint64_t words_count(const unsigned char *p, size_t nwords)
{
	/* Every shard thread that gets here first finds the same answer. */
	static _Atomic int has_popcnt = -1;
	int have = atomic_load_explicit(&has_popcnt, memory_order_relaxed);
	if (have < 0) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("popcnt") ? 1 : 0;
		atomic_store_explicit(&has_popcnt, have, memory_order_relaxed);
	}
	return have ? words_count_popcnt(p, nwords) : words_count_generic(p, nwords);
}
#else
static uint64_t words_count(const unsigned char *p, size_t nwords)
{
	return words_count_generic(p, nwords);
}
#endif

/* Set bits of p in [sbit, ebit]: the edges bit by bit, the middle by words. */
static uint64_t bits_count(const unsigned char *p, uint64_t sbit, uint64_t ebit)
{
	uint64_t n = 0, i = sbit;

	while (i <= ebit && (i & 7))
		n += bit_at(p, i++);
	if (i <= ebit && ebit - i >= 63) {
		size_t nwords = (size_t)((ebit - i + 1) / 64);
		n += words_count(p + (i >> 3), nwords);
		i += (uint64_t)nwords * 64;
	}
	for (; i <= ebit && ebit - i >= 7; i += 8)
		n += (uint64_t)__builtin_popcount(p[i >> 3]);
	while (i <= ebit)
		n += bit_at(p, i++);
	return n;
}

/* The first bit of p in [sbit, ebit] equal to bit, or -1.  Whole words and
 * bytes that cannot hold it are skipped at once. */
static int64_t bits_find(const unsigned char *p, uint64_t sbit, uint64_t ebit, unsigned bit)
{
	uint64_t skip_word = bit ? 0 : UINT64_MAX;
	unsigned char skip_byte = bit ? 0 : 0xff;
	uint64_t i = sbit;

	while (i <= ebit) {
		if ((i & 7) == 0 && ebit - i >= 63) {
			uint64_t w;
			memcpy(&w, p + (i >> 3), sizeof(w));
			if (w == skip_word) {
				i += 64;
				continue;
			}
		}
		if ((i & 7) == 0 && ebit - i >= 7 && p[i >> 3] == skip_byte) {
			i += 8;
			continue;
		}
		if (bit_at(p, i) == bit)
			return (int64_t)i;
		i++;
	}
	return -1;
}

/* BIT or BYTE at argv[i]: false after a syntax error. */
static bool parse_unit(struct cmd_ctx *c, int i, bool *isbit)
{
	if (word_is(&c->argv[i], "bit"))
		*isbit = true;
	else if (word_is(&c->argv[i], "byte"))
		*isbit = false;
	else {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return false;
	}
	return true;
}

/* ---- BITCOUNT, BITPOS ---- */

/* BITCOUNT key [start end [BYTE|BIT]]: the key is looked up before the
 * range is parsed, so a missing key answers 0 whatever the arguments. */
static void cmd_bitcount(struct cmd_ctx *c)
{
	struct kv_entry *e = lookup_read(c, 1);
	if (!e) {
		resp_int(c->out, 0);
		return;
	}
	if (wrong_type(c, e))
		return;
	struct kv_slice v = entry_str(e);
	uint64_t sbit = 0, ebit = 0;
	bool nonempty;

	if (c->argc == 4 || c->argc == 5) {
		int64_t start, end;
		bool isbit = false;
		if (!arg_to_int64(&c->argv[2], &start) || !arg_to_int64(&c->argv[3], &end)) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return;
		}
		/* Redis answers two negatives in reverse order before it reads the
		 * unit, so "-1 -2 junk" is 0, not a syntax error. */
		if (start < 0 && end < 0 && start > end) {
			resp_int(c->out, 0);
			return;
		}
		if (c->argc == 5 && !parse_unit(c, 4, &isbit))
			return;
		nonempty = bit_range(start, end, isbit, v.len, &sbit, &ebit);
	} else if (c->argc == 2) {
		nonempty = bit_range(0, -1, false, v.len, &sbit, &ebit);
	} else {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	resp_int(c->out, nonempty ? (int64_t)bits_count((const unsigned char *)v.ptr, sbit, ebit)
				  : 0);
}

/* BITPOS key bit [start [end [BYTE|BIT]]]: a missing key is all zeros, so
 * it answers 0 for a clear bit and -1 for a set one.  Without an end, the
 * string is taken as followed by zeros: looking for a clear bit in a range
 * of ones answers the position just past it; with an end, -1. */
static void cmd_bitpos(struct cmd_ctx *c)
{
	int64_t bit;
	if (!arg_to_int64(&c->argv[2], &bit)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	if (bit != 0 && bit != 1) {
		resp_error(c->out, "ERR The bit argument must be 1 or 0.");
		return;
	}
	struct kv_entry *e = lookup_read(c, 1);
	if (!e) {
		resp_int(c->out, bit ? -1 : 0);
		return;
	}
	if (wrong_type(c, e))
		return;
	struct kv_slice v = entry_str(e);
	int64_t start = 0, end = -1;
	bool isbit = false, end_given = false;

	if (c->argc >= 4 && c->argc <= 6) {
		if (!arg_to_int64(&c->argv[3], &start)) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return;
		}
		if (c->argc == 6 && !parse_unit(c, 5, &isbit))
			return;
		if (c->argc >= 5) {
			if (!arg_to_int64(&c->argv[4], &end)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
			end_given = true;
		}
	} else if (c->argc != 3) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	uint64_t sbit, ebit;
	if (!bit_range(start, end, isbit, v.len, &sbit, &ebit)) {
		resp_int(c->out, -1);   /* an empty range holds neither bit */
		return;
	}
	int64_t pos = bits_find((const unsigned char *)v.ptr, sbit, ebit, (unsigned)bit);
	if (pos < 0 && bit == 0 && !end_given)
		pos = (int64_t)ebit + 1;
	resp_int(c->out, pos);
}

/* ---- BITOP ---- */

enum bitop { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

/* Folds source s (len bytes, zeros past them) into res[0..n). */
static void bitop_fold(enum bitop op, unsigned char *res, size_t n, const unsigned char *s,
		       size_t len)
{
	size_t m = KV_MIN(n, len);
	switch (op) {
	case BITOP_AND:
		for (size_t j = 0; j < m; j++)
			res[j] &= s[j];
		memset(res + m, 0, n - m);
		break;
	case BITOP_OR:
		for (size_t j = 0; j < m; j++)
			res[j] |= s[j];
		break;
	case BITOP_XOR:
		for (size_t j = 0; j < m; j++)
			res[j] ^= s[j];
		break;
	case BITOP_NOT:
		break;
	}
}

/* BITOP AND|OR|XOR|NOT destkey key [key ...]: stores the result, as long
 * as the longest source, replacing whatever destkey held ("set"); when
 * every source is empty or missing, destkey is deleted ("del").  Replies
 * with the result's length. */
static void cmd_bitop(struct cmd_ctx *c)
{
	const struct kv_slice *opname = &c->argv[1];
	enum bitop op;

	if (word_is(opname, "and"))
		op = BITOP_AND;
	else if (word_is(opname, "or"))
		op = BITOP_OR;
	else if (word_is(opname, "xor"))
		op = BITOP_XOR;
	else if (word_is(opname, "not"))
		op = BITOP_NOT;
	else {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	if (op == BITOP_NOT && c->argc != 4) {
		resp_error(c->out, "ERR BITOP NOT must be called with a single source key.");
		return;
	}
	/* First pass: types and the result's length, as Redis's lookups. */
	size_t maxlen = 0;
	for (int i = 3; i < c->argc; i++) {
		struct kv_entry *e = lookup_read(c, i);
		if (!e)
			continue;
		if (wrong_type(c, e))
			return;
		maxlen = KV_MAX(maxlen, entry_str(e).len);
	}
	const struct kv_slice *dst = &c->argv[2];
	struct kv_db *ddb = cmd_db_arg(c, 2);
	if (maxlen == 0) {
		if (db_delete(ddb, dst->ptr, dst->len))
			cmd_notify_arg(c, NOTIFY_GENERIC, "del", 2);
		resp_int(c->out, 0);
		return;
	}
	/* Second pass: each source is read right after its own lookup, since an
	 * entry is only valid until the next call into the store.  A missing
	 * source reads as empty. */
	unsigned char *res = malloc(maxlen);
	kv_assert(res != NULL);
	for (int i = 3; i < c->argc; i++) {
		struct kv_entry *e = db_lookup_notouch(cmd_db_arg(c, i), c->argv[i].ptr,
						       c->argv[i].len, c->now_ms);
		struct kv_slice s = e ? entry_str(e) : (struct kv_slice){ "", 0 };
		const unsigned char *sp = (const unsigned char *)s.ptr;
		if (i == 3) {
			memset(res, 0, maxlen);
			memcpy(res, sp, s.len);
			if (op == BITOP_NOT)
				for (size_t j = 0; j < maxlen; j++)
					res[j] = (unsigned char)~res[j];
		} else {
			bitop_fold(op, res, maxlen, sp, s.len);
		}
	}
	db_set_string(ddb, dst->ptr, dst->len, res, maxlen, KV_NO_EXPIRE);
	free(res);
	cmd_notify_arg(c, NOTIFY_STRING, "set", 2);
	resp_int(c->out, (int64_t)maxlen);
}

/* ---- BITFIELD ---- */

enum bf_opcode { BF_GET, BF_SET, BF_INCRBY };
enum bf_overflow { BF_WRAP, BF_SAT, BF_FAIL };

struct bf_op {
	uint64_t offset;        /* first bit of the field */
	int64_t value;          /* SET's value, INCRBY's increment */
	enum bf_opcode opcode;
	enum bf_overflow overflow;
	int bits;               /* width: 1..64 signed, 1..63 unsigned */
	bool sign;
};

/* A field type "i<bits>" or "u<bits>" at a: false after Redis's error.  The
 * letter is case-sensitive and the width is read up to a NUL, as Redis does. */
static bool bf_type(struct cmd_ctx *c, const struct kv_slice *a, bool *sign, int *bits)
{
	int64_t n;
	if (a->len == 0 || (a->ptr[0] != 'i' && a->ptr[0] != 'u'))
		goto bad;
	*sign = a->ptr[0] == 'i';
	const char *nul = memchr(a->ptr + 1, '\0', a->len - 1);
	struct kv_slice num = { a->ptr + 1, nul ? (size_t)(nul - a->ptr - 1) : a->len - 1 };
	if (!arg_to_int64(&num, &n) || n < 1 || n > (*sign ? 64 : 63))
		goto bad;
	*bits = (int)n;
	return true;
bad:
	resp_error(c->out, "ERR Invalid bitfield type. Use something like i16 u8. "
			   "Note that u64 is not supported but i64 is.");
	return false;
}

/* Parses argv[2..] into ops (room for argc entries): returns their count,
 * or -1 after replying the first error in Redis's order.  *highest is the
 * last bit any SET or INCRBY reaches, *writes whether there is one. */
static int bf_parse(struct cmd_ctx *c, struct bf_op *ops, uint64_t *highest, bool *writes)
{
	enum bf_overflow overflow = BF_WRAP;
	int n = 0;

	*highest = 0;
	*writes = false;
	for (int j = 2; j < c->argc; j++) {
		int rem = c->argc - j - 1;
		const struct kv_slice *w = &c->argv[j];
		struct bf_op *op = &ops[n];

		if (word_is(w, "get") && rem >= 2)
			op->opcode = BF_GET;
		else if (word_is(w, "set") && rem >= 3)
			op->opcode = BF_SET;
		else if (word_is(w, "incrby") && rem >= 3)
			op->opcode = BF_INCRBY;
		else if (word_is(w, "overflow") && rem >= 1) {
			const struct kv_slice *t = &c->argv[++j];
			if (word_is(t, "wrap"))
				overflow = BF_WRAP;
			else if (word_is(t, "sat"))
				overflow = BF_SAT;
			else if (word_is(t, "fail"))
				overflow = BF_FAIL;
			else {
				resp_error(c->out, "ERR Invalid OVERFLOW type specified");
				return -1;
			}
			continue;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return -1;
		}
		if (!bf_type(c, &c->argv[j + 1], &op->sign, &op->bits) ||
		    !cmd_bit_offset(c, &c->argv[j + 2], op->bits, &op->offset))
			return -1;
		op->value = 0;
		if (op->opcode != BF_GET) {
			*writes = true;
			*highest = KV_MAX(*highest, op->offset + (uint64_t)op->bits - 1);
			if (!arg_to_int64(&c->argv[j + 3], &op->value)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return -1;
			}
		}
		op->overflow = overflow;
		n++;
		j += op->opcode == BF_GET ? 2 : 3;
	}
	return n;
}

/* A field spans at most 9 bytes (7 bits of lead-in + 64); it is read into
 * and written from a zero-padded buffer of that size. */
#define BF_SPAN 9

static uint64_t bf_get_bits(const unsigned char *buf, unsigned off, int bits)
{
	uint64_t v = 0;
	for (int j = 0; j < bits; j++)
		v = (v << 1) | bit_at(buf, off + (unsigned)j);
	return v;
}

static void bf_set_bits(unsigned char *buf, unsigned off, int bits, uint64_t v)
{
	for (int j = 0; j < bits; j++) {
		uint64_t i = off + (unsigned)j;
		unsigned char mask = (unsigned char)(1u << (7 - (i & 7)));
		if ((v >> (bits - 1 - j)) & 1)
			buf[i >> 3] |= mask;
		else
			buf[i >> 3] &= (unsigned char)~mask;
	}
}

/* Sign-extends a field of `bits` bits read as unsigned. */
static int64_t bf_signed(uint64_t u, int bits)
{
	if (bits < 64 && (u & ((uint64_t)1 << (bits - 1))))
		u |= UINT64_MAX << bits;
	return (int64_t)u;
}

/* value + incr in an unsigned field of `bits` bits: false when it fits
 * (*out the sum), true on overflow with *out what WRAP or SAT makes of it. */
static bool bf_add_unsigned(uint64_t value, int64_t incr, int bits, enum bf_overflow ow,
			    uint64_t *out)
{
	uint64_t max = ((uint64_t)1 << bits) - 1;
	uint64_t sum = value + (uint64_t)incr;   /* wraps modulo 2^64 */
	bool over = value > max || (incr > 0 && (uint64_t)incr > max - value);
	bool under = !over && incr < 0 && (uint64_t)-(incr + 1) + 1 > value;

	if (!over && !under) {
		*out = sum;
		return false;
	}
	*out = ow == BF_SAT ? (over ? max : 0) : sum & max;
	return true;
}

/* The same for a signed field of `bits` bits.  The room left above and
 * below value is computed in wrapping 64-bit arithmetic and compared even
 * when value itself is out of range, as Redis does: so a SET of a value far
 * below the range (incr 0) reads as an overflow upwards and saturates to
 * the maximum, and clients see exactly Redis's results. */
static bool bf_add_signed(int64_t value, int64_t incr, int bits, enum bf_overflow ow,
			  int64_t *out)
{
	int64_t max = bits == 64 ? INT64_MAX : (int64_t)(((uint64_t)1 << (bits - 1)) - 1);
	int64_t min = -max - 1;
	int64_t room_up = (int64_t)((uint64_t)max - (uint64_t)value);
	int64_t room_down = (int64_t)((uint64_t)min - (uint64_t)value);
	bool over = value > max || (bits != 64 && incr > room_up) ||
		    (value >= 0 && incr > 0 && incr > room_up);
	bool under = !over && (value < min || (bits != 64 && incr < room_down) ||
			       (value < 0 && incr < 0 && incr < room_down));

	uint64_t sum = (uint64_t)value + (uint64_t)incr;
	if (!over && !under) {
		*out = (int64_t)sum;
		return false;
	}
	if (ow == BF_SAT)
		*out = over ? max : min;
	else
		*out = bf_signed(bits == 64 ? sum : sum & (((uint64_t)1 << bits) - 1), bits);
	return true;
}

/* Runs a SET or INCRBY on the field held in buf at bit off: replies with
 * its result (the old value for SET, the new one for INCRBY) or nil when
 * it overflows under FAIL.  Returns whether buf was written (old != new). */
static bool bf_write(struct cmd_ctx *c, const struct bf_op *op, unsigned char *buf,
		     unsigned off, bool *applied)
{
	uint64_t raw = bf_get_bits(buf, off, op->bits);
	uint64_t newraw;
	bool over;

	if (op->sign) {
		int64_t old = bf_signed(raw, op->bits), nv;
		if (op->opcode == BF_INCRBY)
			over = bf_add_signed(old, op->value, op->bits, op->overflow, &nv);
		else
			over = bf_add_signed(op->value, 0, op->bits, op->overflow, &nv);
		*applied = !(over && op->overflow == BF_FAIL);
		if (*applied)
			resp_int(c->out, op->opcode == BF_INCRBY ? nv : old);
		newraw = (uint64_t)nv;
	} else {
		uint64_t nv;
		if (op->opcode == BF_INCRBY)
			over = bf_add_unsigned(raw, op->value, op->bits, op->overflow, &nv);
		else
			over = bf_add_unsigned((uint64_t)op->value, 0, op->bits, op->overflow, &nv);
		*applied = !(over && op->overflow == BF_FAIL);
		if (*applied)
			resp_int(c->out, (int64_t)(op->opcode == BF_INCRBY ? nv : raw));
		newraw = nv;
	}
	if (!*applied) {
		resp_null(c->out);
		return false;
	}
	if (op->bits < 64)
		newraw &= ((uint64_t)1 << op->bits) - 1;
	if (newraw == raw)
		return false;
	bf_set_bits(buf, off, op->bits, newraw);
	return true;
}

/* Copies the BF_SPAN bytes of s from byte on, zero past its end. */
static void bf_load(unsigned char *buf, struct kv_slice s, uint64_t byte)
{
	memset(buf, 0, BF_SPAN);
	if (byte < s.len)
		memcpy(buf, s.ptr + byte, KV_MIN((size_t)BF_SPAN, s.len - (size_t)byte));
}

static void bf_reply_get(struct cmd_ctx *c, const struct bf_op *op, const unsigned char *buf)
{
	uint64_t raw = bf_get_bits(buf, (unsigned)(op->offset & 7), op->bits);
	resp_int(c->out, op->sign ? bf_signed(raw, op->bits) : (int64_t)raw);
}

/* BITFIELD key [GET type offset | SET type offset value |
 * INCRBY type offset increment | OVERFLOW WRAP|SAT|FAIL] ...: every
 * operation is parsed before any runs.  A call with a SET or INCRBY first
 * creates the key or grows it with zeros up to the last bit written (even
 * if every write then fails under OVERFLOW FAIL), as Redis does.
 * BITFIELD_RO (ro) takes GET only. */
static void bitfield(struct cmd_ctx *c, bool ro)
{
	struct bf_op *ops = malloc(sizeof(*ops) * (size_t)c->argc);
	kv_assert(ops != NULL);
	uint64_t highest;
	bool writes;
	int n = bf_parse(c, ops, &highest, &writes);
	if (n < 0)
		goto out;

	struct kv_db *db = cmd_db_arg(c, 1);
	const struct kv_slice *key = &c->argv[1];
	unsigned char buf[BF_SPAN];
	if (!writes) {
		struct kv_entry *e = lookup_read(c, 1);
		if (e && wrong_type(c, e))
			goto out;
		resp_array(c->out, n);
		for (int i = 0; i < n; i++) {
			bf_load(buf, e ? entry_str(e) : (struct kv_slice){ "", 0 },
				ops[i].offset >> 3);
			bf_reply_get(c, &ops[i], buf);
		}
		goto out;
	}
	if (ro) {
		resp_error(c->out, "ERR BITFIELD_RO only supports the GET subcommand");
		goto out;
	}
	struct kv_entry *e = db_lookup(db, key->ptr, key->len, c->now_ms);
	if (e && wrong_type(c, e))
		goto out;
	uint64_t last_byte = highest >> 3;
	bool dirty = !e || entry_str(e).len <= last_byte;
	uint64_t watch_version = db_watch_peek(db, key->ptr, key->len);
	if (!e)
		e = db_set_string(db, key->ptr, key->len, "", 0, KV_NO_EXPIRE);
	if (dirty) {
		unsigned char zero = 0;
		e = db_string_write(db, e, (size_t)last_byte, &zero, 1);
	}
	uint64_t changes = 0;
	resp_array(c->out, n);
	for (int i = 0; i < n; i++) {
		const struct bf_op *op = &ops[i];
		uint64_t byte = op->offset >> 3;
		bf_load(buf, entry_str(e), byte);
		if (op->opcode == BF_GET) {
			bf_reply_get(c, op, buf);
			continue;
		}
		bool applied;
		bool changed = bf_write(c, op, buf, (unsigned)(op->offset & 7), &applied);
		if (changed) {
			size_t span = ((op->offset & 7) + (uint64_t)op->bits + 7) >> 3;
			e = db_string_write(db, e, (size_t)byte, buf, span);
		}
		if (applied && (dirty || changed))
			changes++;
	}
	if (changes)
		cmd_notify_arg(c, NOTIFY_STRING, "setbit", 1);
	else if (dirty)
		/* Every write failed on overflow: Redis made or padded the string
		 * but signals no change, so a WATCH of the key still holds. */
		db_watch_unchanged(db, key->ptr, key->len, watch_version);
out:
	free(ops);
}

static void cmd_bitfield(struct cmd_ctx *c) { bitfield(c, false); }
static void cmd_bitfield_ro(struct cmd_ctx *c) { bitfield(c, true); }

/* ---- table ---- */

#define KEYS(first, last, step) .first_key = (first), .last_key = (last), .key_step = (step)

const struct kv_command cmd_table_bitmap[] = {
	{ .name = "bitcount", .arity = -2, .flags = CMD_READONLY, KEYS(1, 1, 1),
	  .proc = cmd_bitcount, .group = "bitmap", .since = "2.6.0",
	  .summary = "Count set bits in a string", .complexity = "O(N)" },
	{ .name = "bitpos", .arity = -3, .flags = CMD_READONLY, KEYS(1, 1, 1),
	  .proc = cmd_bitpos, .group = "bitmap", .since = "2.8.7",
	  .summary = "Find first bit set or clear in a string", .complexity = "O(N)" },
	{ .name = "bitop", .arity = -4, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(2, -1, 1),
	  .proc = cmd_bitop, .group = "bitmap", .since = "2.6.0",
	  .summary = "Perform bitwise operations between strings", .complexity = "O(N)" },
	{ .name = "bitfield", .arity = -2, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 1, 1),
	  .proc = cmd_bitfield, .group = "bitmap", .since = "3.2.0",
	  .summary = "Perform arbitrary bitfield integer operations on strings",
	  .complexity = "O(1) for each subcommand specified" },
	{ .name = "bitfield_ro", .arity = -2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
	  .proc = cmd_bitfield_ro, .group = "bitmap", .since = "6.0.0",
	  .summary = "Perform arbitrary bitfield integer operations on strings. "
		     "Read-only variant of BITFIELD",
	  .complexity = "O(1) for each subcommand specified" },
	{ .name = NULL },
};
