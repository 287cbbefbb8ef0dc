/*
 * cmd_stream.c - the stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL,
 * XTRIM, XSETID, XINFO, XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, and the
 * read of XREAD / XREADGROUP (their table entries are server/blocking.c's,
 * which blocks them).
 *
 * Replies, error texts and the order in which errors win are Redis 7.0.15's.
 * The value object is t_stream.c's; every command opens its key through
 * struct skey and closes it through skey_close, which reports the object's
 * change of size to the store.
 *
 * Effects (fx.h).  Replay runs an effect with the record's time as the
 * clock, so most stream writes are deterministic and logged as sent (the
 * store hears of each change through db_signal_modified, or, for XSETID and
 * the consumer-group commands, which Redis does not signal to WATCH,
 * db_signal_changed).  The ones that are
 * not emit what happened instead, as Redis propagates them:
 *   XADD with * or ms-*           XADD key <the ID chosen> fields...
 *   trimming with ~ (XADD, XTRIM) XTRIM key MAXLEN = <length left>
 *   XREADGROUP, XCLAIM, XAUTOCLAIM
 *                                 XGROUP CREATECONSUMER for a new consumer,
 *                                 XCLAIM key group consumer 0 id TIME t
 *                                 RETRYCOUNT n FORCE JUSTID LASTID last per
 *                                 PEL entry created, moved, touched or
 *                                 dropped, then XGROUP SETID key group last
 *                                 ENTRIESREAD n when the group moved on,
 *                                 and XCLAIM key group consumer 0 SEENTIME t
 *                                 for a consumer seen that no other effect
 *                                 of the command names (effect_seen).
 */
#include "commands/cmd_stream.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "base/util_num.h"
#include "commands/cmd.h"
#include "commands/fx.h"
#include "commands/notify.h"
#include "store/effect_argv.h"
#include "store/encoding.h"
#include "store/keydump.h"
#include "store/t_stream.h"

const struct kv_command *cmd_stream_table(void);

/* ---- IDs ---- */

/* Redis's string2ull on the C string s: a strict decimal integer (as
 * string2ll reads it) that is negative is refused; anything else is what
 * strtoull(3) reads in base 10 when it consumes the whole non-empty string,
 * so leading white space and a sign are accepted (" 1", "+1", " -1" is
 * 2^64-1) and only a value past 2^64-1 in magnitude is out of range. */
static bool parse_u64(const char *s, uint64_t *out)
{
	if (s[0] == '-' && s[1] >= '1' && s[1] <= '9') {
		/* string2ll accepts it when all digits and at most 2^63. */
		size_t i = 1;
		uint64_t v = 0;
		bool fits = true;
		for (; s[i] >= '0' && s[i] <= '9'; i++) {
			uint64_t d = (uint64_t)(s[i] - '0');
			if (v > (UINT64_MAX - d) / 10 || v * 10 + d > (uint64_t)INT64_MAX + 1)
				fits = false;
			else
				v = v * 10 + d;
		}
		if (s[i] == '\0' && fits)
			return false;
	}
	if (s[0] == '\0')
		return false;
	errno = 0;
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE || errno == EINVAL || *end != '\0')
		return false;
	*out = v;
	return true;
}

/* Redis's streamGenericParseIDOrReply without the reply: "-", "+" (not
 * strict), "ms", "ms-seq", and "ms-*" when seq_given is not NULL.  As in
 * Redis the argument is read as a C string (up to a NUL byte), split at
 * its first '-', and each part read by parse_u64. */
static bool id_parse(const struct kv_slice *a, uint64_t missing_seq, bool strict,
		     bool *seq_given, struct stream_id *id)
{
	char buf[128];
	if (a->len > sizeof(buf) - 1)
		return false;
	memcpy(buf, a->ptr, a->len);
	buf[a->len] = '\0';
	if (seq_given)
		*seq_given = true;
	if ((buf[0] == '-' || buf[0] == '+') && buf[1] == '\0') {
		if (strict)
			return false;
		*id = buf[0] == '-' ? STREAM_ID_MIN : STREAM_ID_MAX;
		return true;
	}
	char *dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	uint64_t ms, seq = missing_seq;
	if (!parse_u64(buf, &ms))
		return false;
	if (dash) {
		const char *sq = dash + 1;
		if (seq_given && sq[0] == '*' && sq[1] == '\0') {
			seq = 0;
			*seq_given = false;
		} else if (!parse_u64(sq, &seq)) {
			return false;
		}
	}
	id->ms = ms;
	id->seq = seq;
	return true;
}

#define ERR_INVALID_ID "ERR Invalid stream ID specified as stream command argument"

static bool id_parse_reply(struct cmd_ctx *c, const struct kv_slice *a, uint64_t missing_seq,
			   bool strict, struct stream_id *id)
{
	if (id_parse(a, missing_seq, strict, NULL, id))
		return true;
	resp_error(c->out, ERR_INVALID_ID);
	return false;
}

/* An interval bound: "(" excludes it (strict ID after it). */
static bool interval_parse_reply(struct cmd_ctx *c, const struct kv_slice *a,
				 uint64_t missing_seq, bool *exclude, struct stream_id *id)
{
	*exclude = a->len > 1 && a->ptr[0] == '(';
	if (*exclude) {
		struct kv_slice t = { a->ptr + 1, a->len - 1 };
		return id_parse_reply(c, &t, missing_seq, true, id);
	}
	return id_parse_reply(c, a, missing_seq, false, id);
}

static void reply_id(struct kv_buf *out, struct stream_id id)
{
	char buf[STREAM_ID_STR_MAX];
	resp_bulk(out, buf, stream_id_format(id, buf));
}

static void reply_entry(struct kv_buf *out, struct stream_id id, const struct stream_iter *it)
{
	resp_array(out, 2);
	reply_id(out, id);
	resp_array(out, (int64_t)it->nfields * 2);
	for (size_t i = 0; i < it->nfields * 2; i++)
		resp_bulk(out, it->fv[i].ptr, it->fv[i].len);
}

/* An array of the entries in [start, end] (rev: from end down), at most
 * `limit` of them (< 0: all). */
static void reply_entries(struct kv_buf *out, const struct stream *s, struct stream_id start,
			  struct stream_id end, bool rev, int64_t limit)
{
	size_t mark = resp_array_begin(out);
	int64_t n = 0;
	struct stream_iter it;
	struct stream_id id;
	stream_iter_start(&it, s, start, end, rev);
	while ((limit < 0 || n < limit) && stream_iter_next(&it, &id)) {
		reply_entry(out, id, &it);
		n++;
	}
	stream_iter_stop(&it);
	resp_array_end(out, mark, n);
}

/* Reply the entry with this ID (raw, as Redis's STREAM_RWR_RAWENTRIES):
 * false when it does not exist. */
static bool reply_one(struct kv_buf *out, const struct stream *s, struct stream_id id)
{
	struct stream_iter it;
	struct stream_id got;
	stream_iter_start(&it, s, id, id, false);
	bool ok = stream_iter_next(&it, &got);
	if (ok)
		reply_entry(out, got, &it);
	stream_iter_stop(&it);
	return ok;
}

/* "ERR <msg>" where msg holds up to two names (Redis formats them with %s,
 * which stops at a NUL byte). */
static void reply_err2(struct cmd_ctx *c, const char *fmt, const struct kv_slice *a,
		       const struct kv_slice *b)
{
	int al = (int)strnlen(a->ptr, a->len), bl = b ? (int)strnlen(b->ptr, b->len) : 0;
	if (b)
		resp_errorf(c->out, fmt, al, a->ptr, bl, b->ptr);
	else
		resp_errorf(c->out, fmt, al, a->ptr);
}

static void reply_subcommand_syntax(struct cmd_ctx *c, const char *upper)
{
	const struct kv_slice *a = &c->argv[1];
	int n = (int)strnlen(a->ptr, a->len);
	if (n > 128)
		n = 128;
	resp_errorf(c->out,
		    "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
		    n, a->ptr, upper);
}

/* getLongLongFromObjectOrReply: "ERR <msg>" or Redis's default text. */
static bool int_arg(struct cmd_ctx *c, const struct kv_slice *a, int64_t *v, const char *msg)
{
	if (arg_to_int64(a, v))
		return true;
	if (msg)
		resp_errorf(c->out, "ERR %s", msg);
	else
		resp_error(c->out, RESP_ERR_NOT_INT);
	return false;
}

/* ---- opening a key ---- */

struct skey {
	struct kv_db *db;
	const struct kv_slice *key;
	struct stream *s;
	size_t mem0;
};

enum { SK_WRONGTYPE = -1, SK_MISSING = 0, SK_FOUND = 1 };

static int skey_open(struct cmd_ctx *c, int i, struct skey *k, bool for_read)
{
	k->db = cmd_db_arg(c, i);
	k->key = &c->argv[i];
	k->s = NULL;
	k->mem0 = 0;
	struct kv_entry *e = db_lookup(k->db, k->key->ptr, k->key->len, c->now_ms);
	if (for_read)
		cmd_count_read(c, k->key->ptr, k->key->len, e != NULL);
	if (!e)
		return SK_MISSING;
	if (entry_type(e) != KV_TYPE_STREAM) {
		resp_error(c->out, RESP_ERR_WRONGTYPE);
		return SK_WRONGTYPE;
	}
	k->s = entry_obj(e);
	k->mem0 = stream_mem(k->s);
	return SK_FOUND;
}

static void skey_create(struct skey *k)
{
	k->s = stream_new();
	db_set_object(k->db, k->key->ptr, k->key->len, KV_TYPE_STREAM, k->s, KV_NO_EXPIRE);
	k->mem0 = stream_mem(k->s);
}

static void skey_close(struct skey *k)
{
	if (k->s) {
		size_t m = stream_mem(k->s);
		if (m != k->mem0)
			db_memory_adjust(k->db, (int64_t)m - (int64_t)k->mem0);
		k->mem0 = m;
	}
}

static void skey_signal(struct skey *k)
{
	db_signal_modified(k->db, k->key->ptr, k->key->len);
}

/* A change that Redis does not signal as a modification (XSETID and the
 * consumer-group commands): logged as an effect, but a WATCH of the key
 * still holds, as in Redis. */
static void skey_changed(struct skey *k)
{
	db_signal_changed(k->db, k->key->ptr, k->key->len);
}

/* ---- effects ---- */

static void effect_id(struct effect_argv *a, struct stream_id id)
{
	char buf[STREAM_ID_STR_MAX];
	effect_argv_add(a, buf, stream_id_format(id, buf));
}

static void effect_emit(struct cmd_ctx *c, struct effect_argv *a)
{
	const struct kv_slice *argv = effect_argv_slices(a);
	cmd_effect_at_key(c, keydump_key_arg(a->argc, argv), a->argc, argv);
	effect_argv_reset(a);
}

/* XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID
 * last: recreates (or, for an entry no longer in the stream, drops) one PEL
 * entry as it is now. */
static void effect_xclaim(struct cmd_ctx *c, struct effect_argv *a, const struct kv_slice *key,
			  const struct stream_group *g, const char *cname, size_t cnlen,
			  struct stream_id id, int64_t time_ms, uint64_t count)
{
	effect_argv_add_str(a, "XCLAIM");
	effect_argv_add(a, key->ptr, key->len);
	effect_argv_add(a, g->name, g->nlen);
	effect_argv_add(a, cname, cnlen);
	effect_argv_add_str(a, "0");
	effect_id(a, id);
	effect_argv_add_str(a, "TIME");
	effect_argv_add_int(a, time_ms);
	effect_argv_add_str(a, "RETRYCOUNT");
	effect_argv_add_int(a, (int64_t)count);
	effect_argv_add_str(a, "FORCE");
	effect_argv_add_str(a, "JUSTID");
	effect_argv_add_str(a, "LASTID");
	effect_id(a, g->last_id);
	effect_emit(c, a);
}

static void effect_setid(struct cmd_ctx *c, struct effect_argv *a, const struct kv_slice *key,
			 const struct stream_group *g)
{
	effect_argv_add_str(a, "XGROUP");
	effect_argv_add_str(a, "SETID");
	effect_argv_add(a, key->ptr, key->len);
	effect_argv_add(a, g->name, g->nlen);
	effect_id(a, g->last_id);
	effect_argv_add_str(a, "ENTRIESREAD");
	effect_argv_add_int(a, g->entries_read);
	effect_emit(c, a);
}

static void effect_createconsumer(struct cmd_ctx *c, struct effect_argv *a,
				  const struct kv_slice *key, const struct stream_group *g,
				  const struct kv_slice *name)
{
	effect_argv_add_str(a, "XGROUP");
	effect_argv_add_str(a, "CREATECONSUMER");
	effect_argv_add(a, key->ptr, key->len);
	effect_argv_add(a, g->name, g->nlen);
	effect_argv_add(a, name->ptr, name->len);
	effect_emit(c, a);
}

/* XCLAIM key group consumer 0 SEENTIME t: a consumer's seen-time, when
 * nothing else the command logged names the consumer (a read of its history
 * that re-delivered nothing, a NOACK read).  SEENTIME is kevy's own option
 * (as LASTID is Redis's internal one): XCLAIM with no IDs claims nothing,
 * and the option sets the consumer's seen-time. */
static void effect_seen(struct cmd_ctx *c, struct effect_argv *a, const struct kv_slice *key,
			const struct stream_group *g, const struct stream_consumer *sc)
{
	effect_argv_add_str(a, "XCLAIM");
	effect_argv_add(a, key->ptr, key->len);
	effect_argv_add(a, g->name, g->nlen);
	effect_argv_add(a, sc->name, sc->nlen);
	effect_argv_add_str(a, "0");
	effect_argv_add_str(a, "SEENTIME");
	effect_argv_add_int(a, sc->seen_time);
	effect_emit(c, a);
}

static void effect_trim_to(struct cmd_ctx *c, const struct kv_slice *key, uint64_t len)
{
	struct effect_argv a;
	effect_argv_init(&a);
	effect_argv_add_str(&a, "XTRIM");
	effect_argv_add(&a, key->ptr, key->len);
	effect_argv_add_str(&a, "MAXLEN");
	effect_argv_add_str(&a, "=");
	effect_argv_add_int(&a, (int64_t)len);
	effect_emit(c, &a);
	effect_argv_free(&a);
}

/* ---- XADD / XTRIM arguments ---- */

struct trim_args {
	enum stream_trim_kind kind;
	bool approx;
	int64_t maxlen;
	struct stream_id minid;
	int64_t limit;
	bool nomkstream;
	bool id_given, seq_given;
	struct stream_id id;
};

/* Redis's streamParseAddOrTrimArgsOrReply: returns the index of the ID
 * (XADD) or of the end, or -1 after replying. */
static int parse_add_trim(struct cmd_ctx *c, struct trim_args *t, bool xadd)
{
	memset(t, 0, sizeof(*t));
	int i = 2;
	bool limit_given = false;
	for (; i < c->argc; i++) {
		int more = c->argc - 1 - i;
		const struct kv_slice *o = &c->argv[i];
		if (xadd && o->len == 1 && o->ptr[0] == '*') {
			break;
		} else if ((arg_is(o, "maxlen") || arg_is(o, "minid")) && more) {
			bool maxlen = arg_is(o, "maxlen");
			if (t->kind != STREAM_TRIM_NONE) {
				resp_error(c->out, "ERR syntax error, MAXLEN and MINID options at the "
						   "same time are not compatible");
				return -1;
			}
			t->approx = false;
			const struct kv_slice *nx = &c->argv[i + 1];
			if (more >= 2 && nx->len == 1 && nx->ptr[0] == '~') {
				t->approx = true;
				i++;
			} else if (more >= 2 && nx->len == 1 && nx->ptr[0] == '=') {
				i++;
			}
			if (maxlen) {
				if (!int_arg(c, &c->argv[i + 1], &t->maxlen, NULL))
					return -1;
				if (t->maxlen < 0) {
					resp_error(c->out, "ERR The MAXLEN argument must be >= 0.");
					return -1;
				}
				t->kind = STREAM_TRIM_MAXLEN;
			} else {
				if (!id_parse_reply(c, &c->argv[i + 1], 0, true, &t->minid))
					return -1;
				t->kind = STREAM_TRIM_MINID;
			}
			i++;
		} else if (arg_is(o, "limit") && more) {
			if (!int_arg(c, &c->argv[i + 1], &t->limit, NULL))
				return -1;
			if (t->limit < 0) {
				resp_error(c->out, "ERR The LIMIT argument must be >= 0.");
				return -1;
			}
			limit_given = true;
			i++;
		} else if (xadd && arg_is(o, "nomkstream")) {
			t->nomkstream = true;
		} else if (xadd) {
			if (!id_parse(o, 0, true, &t->seq_given, &t->id)) {
				resp_error(c->out, ERR_INVALID_ID);
				return -1;
			}
			t->id_given = true;
			break;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return -1;
		}
	}
	if (t->limit && t->kind == STREAM_TRIM_NONE) {
		resp_error(c->out, "ERR syntax error, LIMIT cannot be used without specifying a "
				   "trimming strategy");
		return -1;
	}
	if (!xadd && t->kind == STREAM_TRIM_NONE) {
		resp_error(c->out, "ERR syntax error, XTRIM must be called with a trimming strategy");
		return -1;
	}
	if (!c->rt) {
		t->limit = 0;   /* replay obeys what was logged */
	} else if (limit_given) {
		if (!t->approx) {
			resp_error(c->out, "ERR syntax error, LIMIT cannot be used without the "
					   "special ~ option");
			return -1;
		}
	} else if (t->approx) {
		int64_t n = atomic_load_explicit(&kv_encoding.stream_node_max_entries,
						 memory_order_relaxed);
		t->limit = n > 0 && n <= 1000000 / 100 ? 100 * n : (n <= 0 ? 10000 : 1000000);
	} else {
		t->limit = 0;
	}
	return i;
}

static uint64_t do_trim(struct stream *s, const struct trim_args *t)
{
	return stream_trim(s, t->kind, (uint64_t)t->maxlen, t->minid, t->approx,
			   (uint64_t)t->limit);
}

/* ---- XADD ---- */

static void cmd_xadd(struct cmd_ctx *c)
{
	struct trim_args t;
	int idpos = parse_add_trim(c, &t, true);
	if (idpos < 0)
		return;
	int fpos = idpos + 1;
	if (c->argc - fpos < 2 || (c->argc - fpos) % 2 == 1) {
		resp_error(c->out, "ERR wrong number of arguments for 'xadd' command");
		return;
	}
	if (t.id_given && t.seq_given && t.id.ms == 0 && t.id.seq == 0) {
		resp_error(c->out, "ERR The ID specified in XADD must be greater than 0-0");
		return;
	}
	struct skey k;
	int r = skey_open(c, 1, &k, false);
	if (r == SK_WRONGTYPE)
		return;
	if (r == SK_MISSING) {
		if (t.nomkstream) {
			resp_null(c->out);
			return;
		}
	}
	struct stream *s = k.s;
	struct stream_id last = s ? s->last_id : STREAM_ID_MIN;
	if (last.ms == UINT64_MAX && last.seq == UINT64_MAX) {
		resp_error(c->out, "ERR The stream has exhausted the last possible ID, unable to "
				   "add more items");
		return;
	}
	struct stream_id id;
	bool bad = false;
	if (t.id_given) {
		id = t.id;
		if (!t.seq_given) {
			if (id.ms == last.ms) {
				if (last.seq == UINT64_MAX)
					bad = true;
				else
					id.seq = last.seq + 1;
			} else {
				id.seq = 0;
			}
		}
		if (!bad && stream_id_cmp(id, last) <= 0)
			bad = true;
	} else {
		uint64_t ms = c->now_ms > 0 ? (uint64_t)c->now_ms : 0;
		if (ms > last.ms) {
			id = (struct stream_id){ ms, 0 };
		} else {
			id = last;
			stream_id_incr(&id);
		}
	}
	if (bad) {
		resp_error(c->out, "ERR The ID specified in XADD is equal or smaller than the "
				   "target stream top item");
		return;
	}
	if (!s) {
		skey_create(&k);
		s = k.s;
	}
	size_t nf = (size_t)(c->argc - fpos) / 2;
	stream_append(s, id, &c->argv[fpos], nf);
	reply_id(c->out, id);
	skey_signal(&k);
	cmd_notify_arg(c, NOTIFY_STREAM, "xadd", 1);

	uint64_t trimmed = 0;
	if (t.kind != STREAM_TRIM_NONE) {
		trimmed = do_trim(s, &t);
		if (trimmed)
			cmd_notify_arg(c, NOTIFY_STREAM, "xtrim", 1);
	}
	skey_close(&k);

	/* The effect: the entry with its ID, then what the trim left. */
	if (!t.id_given || !t.seq_given || trimmed || t.kind != STREAM_TRIM_NONE) {
		struct effect_argv a;
		effect_argv_init(&a);
		effect_argv_add_str(&a, "XADD");
		effect_argv_add(&a, k.key->ptr, k.key->len);
		effect_id(&a, id);
		for (int i = fpos; i < c->argc; i++)
			effect_argv_add(&a, c->argv[i].ptr, c->argv[i].len);
		effect_emit(c, &a);
		effect_argv_free(&a);
		if (trimmed)
			effect_trim_to(c, k.key, s->length);
	}
}

/* ---- XRANGE / XREVRANGE / XLEN ---- */

static void xrange_generic(struct cmd_ctx *c, bool rev)
{
	const struct kv_slice *sa = rev ? &c->argv[3] : &c->argv[2];
	const struct kv_slice *ea = rev ? &c->argv[2] : &c->argv[3];
	struct stream_id start, end;
	bool sx, ex;
	int64_t count = -1;
	if (!interval_parse_reply(c, sa, 0, &sx, &start))
		return;
	if (sx && !stream_id_incr(&start)) {
		resp_error(c->out, "ERR invalid start ID for the interval");
		return;
	}
	if (!interval_parse_reply(c, ea, UINT64_MAX, &ex, &end))
		return;
	if (ex && !stream_id_decr(&end)) {
		resp_error(c->out, "ERR invalid end ID for the interval");
		return;
	}
	for (int j = 4; j < c->argc; j++) {
		if (arg_is(&c->argv[j], "count") && j + 1 < c->argc) {
			if (!int_arg(c, &c->argv[j + 1], &count, NULL))
				return;
			if (count < 0)
				count = 0;
			j++;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	struct skey k;
	int r = skey_open(c, 1, &k, true);
	if (r == SK_WRONGTYPE)
		return;
	if (r == SK_MISSING) {
		resp_array(c->out, 0);
		return;
	}
	if (count == 0) {
		resp_null_array(c->out);
		return;
	}
	reply_entries(c->out, k.s, start, end, rev, count);
}

static void cmd_xrange(struct cmd_ctx *c) { xrange_generic(c, false); }
static void cmd_xrevrange(struct cmd_ctx *c) { xrange_generic(c, true); }

static void cmd_xlen(struct cmd_ctx *c)
{
	struct skey k;
	int r = skey_open(c, 1, &k, true);
	if (r == SK_WRONGTYPE)
		return;
	resp_int(c->out, r == SK_MISSING ? 0 : (int64_t)k.s->length);
}

/* ---- XDEL / XTRIM / XSETID ---- */

static void cmd_xdel(struct cmd_ctx *c)
{
	struct skey k;
	int r = skey_open(c, 1, &k, false);
	if (r == SK_WRONGTYPE)
		return;
	if (r == SK_MISSING) {
		resp_int(c->out, 0);
		return;
	}
	int n = c->argc - 2;
	struct stream_id *ids = kv_malloc((size_t)n * sizeof(*ids));
	for (int j = 0; j < n; j++) {
		if (!id_parse_reply(c, &c->argv[j + 2], 0, true, &ids[j])) {
			free(ids);
			return;
		}
	}
	struct stream *s = k.s;
	int64_t deleted = 0;
	for (int j = 0; j < n; j++) {
		if (stream_delete(s, ids[j])) {
			if (stream_id_cmp(ids[j], s->max_deleted_id) > 0)
				s->max_deleted_id = ids[j];
			deleted++;
		}
	}
	free(ids);
	skey_close(&k);
	if (deleted) {
		skey_signal(&k);
		cmd_notify_arg(c, NOTIFY_STREAM, "xdel", 1);
	}
	resp_int(c->out, deleted);
}

static void cmd_xtrim(struct cmd_ctx *c)
{
	struct trim_args t;
	if (parse_add_trim(c, &t, false) < 0)
		return;
	struct skey k;
	int r = skey_open(c, 1, &k, false);
	if (r == SK_WRONGTYPE)
		return;
	if (r == SK_MISSING) {
		resp_int(c->out, 0);
		return;
	}
	uint64_t deleted = do_trim(k.s, &t);
	skey_close(&k);
	if (deleted) {
		cmd_notify_arg(c, NOTIFY_STREAM, "xtrim", 1);
		skey_signal(&k);
		if (t.approx)
			effect_trim_to(c, k.key, k.s->length);
	}
	resp_int(c->out, (int64_t)deleted);
}

static void cmd_xsetid(struct cmd_ctx *c)
{
	struct stream_id id, maxdel = STREAM_ID_MIN;
	int64_t added = -1;
	if (!id_parse_reply(c, &c->argv[2], 0, true, &id))
		return;
	for (int i = 3; i < c->argc;) {
		int more = c->argc - 1 - i;
		if (arg_is(&c->argv[i], "entriesadded") && more) {
			if (!int_arg(c, &c->argv[i + 1], &added, NULL))
				return;
			if (added < 0) {
				resp_error(c->out, "ERR entries_added must be positive");
				return;
			}
			i += 2;
		} else if (arg_is(&c->argv[i], "maxdeletedid") && more) {
			if (!id_parse_reply(c, &c->argv[i + 1], 0, true, &maxdel))
				return;
			if (stream_id_cmp(id, maxdel) < 0) {
				resp_error(c->out, "ERR The ID specified in XSETID is smaller than the "
						   "provided max_deleted_entry_id");
				return;
			}
			i += 2;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	struct skey k;
	int r = skey_open(c, 1, &k, false);
	if (r == SK_WRONGTYPE)
		return;
	if (r == SK_MISSING) {
		resp_error(c->out, RESP_ERR_NO_KEY);
		return;
	}
	struct stream *s = k.s;
	if (s->length > 0) {
		struct stream_id maxid;
		stream_edge_id(s, false, &maxid);
		if (stream_id_cmp(id, maxid) < 0) {
			resp_error(c->out, "ERR The ID specified in XSETID is smaller than the target "
					   "stream top item");
			return;
		}
		if (added != -1 && s->length > (uint64_t)added) {
			resp_error(c->out, "ERR The entries_added specified in XSETID is smaller than "
					   "the target stream length");
			return;
		}
	}
	s->last_id = id;
	if (added != -1)
		s->entries_added = (uint64_t)added;
	if (!stream_id_is_zero(maxdel))
		s->max_deleted_id = maxdel;
	skey_changed(&k);
	resp_ok(c->out);
	cmd_notify_arg(c, NOTIFY_STREAM, "xsetid", 1);
}

/* ---- XGROUP ---- */

#define ERR_NOGROUP_KEY "NOGROUP No such consumer group '%.*s' for key name '%.*s'"

static const char *const xgroup_help[] = {
	"CREATE <key> <groupname> <id|$> [option]",
	"    Create a new consumer group. Options are:",
	"    * MKSTREAM",
	"      Create the empty stream if it does not exist.",
	"    * ENTRIESREAD entries_read",
	"      Set the group's entries_read counter (internal use).",
	"CREATECONSUMER <key> <groupname> <consumer>",
	"    Create a new consumer in the specified group.",
	"DELCONSUMER <key> <groupname> <consumer>",
	"    Remove the specified consumer.",
	"DESTROY <key> <groupname>",
	"    Remove the specified group.",
	"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
	"    Set the current group ID and entries_read counter.",
	NULL
};

static const char *const xinfo_help[] = {
	"CONSUMERS <key> <groupname>",
	"    Show consumers of <groupname>.",
	"GROUPS <key>",
	"    Show the stream consumer groups.",
	"STREAM <key> [FULL [COUNT <count>]",
	"    Show information about the stream.",
	NULL
};


static void cmd_xgroup(struct cmd_ctx *c)
{
	const struct kv_slice *opt = &c->argv[1];
	bool mkstream = false;
	int64_t entries_read = STREAM_ENTRIES_READ_INVALID;
	struct skey k = { 0 };
	struct stream_group *g = NULL;
	const struct kv_slice *grp = NULL;

	if (c->argc >= 4) {
		bool create = arg_is(opt, "create"), setid = arg_is(opt, "setid");
		for (int i = 5; i < c->argc;) {
			if (create && arg_is(&c->argv[i], "mkstream")) {
				mkstream = true;
				i++;
			} else if ((create || setid) && arg_is(&c->argv[i], "entriesread") &&
				   i + 1 < c->argc) {
				if (!int_arg(c, &c->argv[i + 1], &entries_read, NULL))
					return;
				if (entries_read < 0 && entries_read != STREAM_ENTRIES_READ_INVALID) {
					resp_error(c->out,
						   "ERR value for ENTRIESREAD must be positive or -1");
					return;
				}
				i += 2;
			} else {
				reply_subcommand_syntax(c, "XGROUP");
				return;
			}
		}
		if (skey_open(c, 2, &k, false) == SK_WRONGTYPE)
			return;
		grp = &c->argv[3];
	}
	if (c->argc >= 4 && !mkstream) {
		if (!k.s) {
			resp_error(c->out, "ERR The XGROUP subcommand requires the key to exist. Note "
					   "that for CREATE you may want to use the MKSTREAM option to "
					   "create an empty stream automatically.");
			return;
		}
		g = stream_group_find(k.s, grp->ptr, grp->len);
		if (!g && (arg_is(opt, "setid") || arg_is(opt, "createconsumer") ||
			   arg_is(opt, "delconsumer"))) {
			reply_err2(c, ERR_NOGROUP_KEY, grp, &c->argv[2]);
			return;
		}
	}

	if (c->argc == 2 && arg_is(opt, "help")) {
		cmd_reply_help(c->out, "XGROUP", xgroup_help);
	} else if (arg_is(opt, "create") && c->argc >= 5 && c->argc <= 8) {
		struct stream_id id;
		const struct kv_slice *ia = &c->argv[4];
		if (ia->len == 1 && ia->ptr[0] == '$')
			id = k.s ? k.s->last_id : STREAM_ID_MIN;
		else if (!id_parse_reply(c, ia, 0, true, &id))
			return;
		if (!k.s) {
			skey_create(&k);
		}
		if (stream_group_create(k.s, grp->ptr, grp->len, id, entries_read)) {
			skey_close(&k);
			skey_changed(&k);
			resp_ok(c->out);
			cmd_notify_arg(c, NOTIFY_STREAM, "xgroup-create", 2);
		} else {
			skey_close(&k);
			resp_error(c->out, "BUSYGROUP Consumer Group name already exists");
		}
	} else if (arg_is(opt, "setid") && (c->argc == 5 || c->argc == 7)) {
		struct stream_id id;
		const struct kv_slice *ia = &c->argv[4];
		if (ia->len == 1 && ia->ptr[0] == '$')
			id = k.s->last_id;
		else if (!id_parse_reply(c, ia, 0, false, &id))
			return;
		g->last_id = id;
		g->entries_read = entries_read;
		skey_changed(&k);
		resp_ok(c->out);
		cmd_notify_arg(c, NOTIFY_STREAM, "xgroup-setid", 2);
	} else if (arg_is(opt, "destroy") && c->argc == 4) {
		if (g) {
			stream_group_destroy(k.s, grp->ptr, grp->len);
			skey_close(&k);
			skey_changed(&k);
			resp_int(c->out, 1);
			cmd_notify_arg(c, NOTIFY_STREAM, "xgroup-destroy", 2);
		} else {
			resp_int(c->out, 0);
		}
	} else if (arg_is(opt, "createconsumer") && c->argc == 5) {
		const struct kv_slice *cn = &c->argv[4];
		struct stream_consumer *sc =
			stream_consumer_create(k.s, g, cn->ptr, cn->len, c->now_ms);
		if (sc) {
			skey_close(&k);
			skey_changed(&k);
			cmd_notify_arg(c, NOTIFY_STREAM, "xgroup-createconsumer", 2);
		}
		resp_int(c->out, sc ? 1 : 0);
	} else if (arg_is(opt, "delconsumer") && c->argc == 5) {
		const struct kv_slice *cn = &c->argv[4];
		struct stream_consumer *sc = stream_consumer_find(g, cn->ptr, cn->len);
		int64_t pending = 0;
		if (sc) {
			pending = (int64_t)stream_consumer_delete(k.s, g, sc);
			skey_close(&k);
			skey_changed(&k);
			cmd_notify_arg(c, NOTIFY_STREAM, "xgroup-delconsumer", 2);
		}
		resp_int(c->out, pending);
	} else {
		reply_subcommand_syntax(c, "XGROUP");
	}
}

/* ---- XACK / XPENDING ---- */

static void cmd_xack(struct cmd_ctx *c)
{
	struct skey k;
	int r = skey_open(c, 1, &k, false);
	if (r == SK_WRONGTYPE)
		return;
	struct stream_group *g = k.s ? stream_group_find(k.s, c->argv[2].ptr, c->argv[2].len) : NULL;
	if (!g) {
		resp_int(c->out, 0);
		return;
	}
	int n = c->argc - 3;
	struct stream_id *ids = kv_malloc((size_t)n * sizeof(*ids));
	for (int j = 0; j < n; j++) {
		if (!id_parse_reply(c, &c->argv[j + 3], 0, true, &ids[j])) {
			free(ids);
			return;
		}
	}
	int64_t acked = 0;
	for (int j = 0; j < n; j++) {
		struct stream_nack *nk = stream_pel_find(&g->pel, ids[j]);
		if (nk) {
			stream_nack_remove(k.s, g, nk);
			acked++;
		}
	}
	free(ids);
	skey_close(&k);
	if (acked)
		skey_changed(&k);
	resp_int(c->out, acked);
}

static void cmd_xpending(struct cmd_ctx *c)
{
	bool justinfo = c->argc == 3;
	const struct kv_slice *cname = NULL;
	struct stream_id start = STREAM_ID_MIN, end = STREAM_ID_MAX;
	int64_t count = 0, minidle = 0;
	if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	if (c->argc >= 6) {
		int si = 3;
		if (arg_is(&c->argv[3], "idle")) {
			if (!int_arg(c, &c->argv[4], &minidle, NULL))
				return;
			if (c->argc < 8) {
				resp_error(c->out, RESP_ERR_SYNTAX);
				return;
			}
			si += 2;
		}
		if (!int_arg(c, &c->argv[si + 2], &count, NULL))
			return;
		if (count < 0)
			count = 0;
		bool sx, ex;
		if (!interval_parse_reply(c, &c->argv[si], 0, &sx, &start))
			return;
		if (sx && !stream_id_incr(&start)) {
			resp_error(c->out, "ERR invalid start ID for the interval");
			return;
		}
		if (!interval_parse_reply(c, &c->argv[si + 1], UINT64_MAX, &ex, &end))
			return;
		if (ex && !stream_id_decr(&end)) {
			resp_error(c->out, "ERR invalid end ID for the interval");
			return;
		}
		if (si + 3 < c->argc)
			cname = &c->argv[si + 3];
	}
	struct skey k;
	int r = skey_open(c, 1, &k, true);
	if (r == SK_WRONGTYPE)
		return;
	struct stream_group *g = k.s ? stream_group_find(k.s, c->argv[2].ptr, c->argv[2].len) : NULL;
	if (!g) {
		reply_err2(c, "NOGROUP No such key '%.*s' or consumer group '%.*s'", &c->argv[1],
			   &c->argv[2]);
		return;
	}
	if (justinfo) {
		resp_array(c->out, 4);
		resp_int(c->out, (int64_t)g->pel.len);
		if (g->pel.len == 0) {
			resp_null(c->out);
			resp_null(c->out);
			resp_null_array(c->out);
			return;
		}
		reply_id(c->out, stream_pel_at(&g->pel, 0)->id);
		reply_id(c->out, stream_pel_at(&g->pel, g->pel.len - 1)->id);
		size_t mark = resp_array_begin(c->out);
		int64_t n = 0;
		for (size_t i = 0; i < g->ncons; i++) {
			struct stream_consumer *sc = g->cons[i];
			if (sc->pel.len == 0)
				continue;
			resp_array(c->out, 2);
			resp_bulk(c->out, sc->name, sc->nlen);
			resp_bulk_int(c->out, (int64_t)sc->pel.len);
			n++;
		}
		resp_array_end(c->out, mark, n);
		return;
	}
	const struct stream_pel *pel = &g->pel;
	if (cname) {
		struct stream_consumer *sc = stream_consumer_find(g, cname->ptr, cname->len);
		if (!sc) {
			resp_array(c->out, 0);
			return;
		}
		pel = &sc->pel;
	}
	size_t mark = resp_array_begin(c->out);
	int64_t n = 0;
	for (size_t i = stream_pel_lower(pel, start); count && i < pel->len; i++) {
		struct stream_nack *nk = stream_pel_at(pel, i);
		if (stream_id_cmp(nk->id, end) > 0)
			break;
		int64_t idle = c->now_ms - nk->delivery_time;
		if (minidle && idle < minidle)
			continue;
		n++;
		count--;
		resp_array(c->out, 4);
		reply_id(c->out, nk->id);
		resp_bulk(c->out, nk->consumer->name, nk->consumer->nlen);
		resp_int(c->out, idle < 0 ? 0 : idle);
		resp_int(c->out, (int64_t)nk->delivery_count);
	}
	resp_array_end(c->out, mark, n);
}

/* ---- XCLAIM / XAUTOCLAIM ---- */

static struct stream_consumer *consumer_get(struct cmd_ctx *c, struct skey *k,
					    struct stream_group *g, const struct kv_slice *name,
					    struct effect_argv *a)
{
	struct stream_consumer *sc = stream_consumer_find(g, name->ptr, name->len);
	if (sc) {
		sc->seen_time = c->now_ms;
		return sc;
	}
	sc = stream_consumer_create(k->s, g, name->ptr, name->len, c->now_ms);
	cmd_notify(c, NOTIFY_STREAM, "xgroup-createconsumer", k->key->ptr, k->key->len);
	effect_createconsumer(c, a, k->key, g, name);
	return sc;
}

static void cmd_xclaim(struct cmd_ctx *c)
{
	struct skey k;
	int r = skey_open(c, 1, &k, true);
	if (r == SK_WRONGTYPE)
		return;
	struct stream_group *g = k.s ? stream_group_find(k.s, c->argv[2].ptr, c->argv[2].len) : NULL;
	if (!g) {
		reply_err2(c, "NOGROUP No such key '%.*s' or consumer group '%.*s'", &c->argv[1],
			   &c->argv[2]);
		return;
	}
	int64_t minidle, retrycount = -1, deliverytime = -1, seentime = -1;
	bool force = false, justid = false;
	if (!int_arg(c, &c->argv[4], &minidle, "Invalid min-idle-time argument for XCLAIM"))
		return;
	if (minidle < 0)
		minidle = 0;
	int j, nids;
	struct stream_id *ids = kv_malloc((size_t)(c->argc - 5 + 1) * sizeof(*ids));
	for (j = 5; j < c->argc; j++)
		if (!id_parse(&c->argv[j], 0, true, NULL, &ids[j - 5]))
			break;
	nids = j - 5;
	int64_t now = c->now_ms;
	struct stream_id last_id = STREAM_ID_MIN;
	for (; j < c->argc; j++) {
		int more = c->argc - 1 - j;
		const struct kv_slice *o = &c->argv[j];
		if (arg_is(o, "force")) {
			force = true;
		} else if (arg_is(o, "justid")) {
			justid = true;
		} else if (arg_is(o, "idle") && more) {
			j++;
			if (!int_arg(c, &c->argv[j], &deliverytime,
				     "Invalid IDLE option argument for XCLAIM"))
				goto out;
			deliverytime = now - deliverytime;
		} else if (arg_is(o, "time") && more) {
			j++;
			if (!int_arg(c, &c->argv[j], &deliverytime,
				     "Invalid TIME option argument for XCLAIM"))
				goto out;
		} else if (arg_is(o, "retrycount") && more) {
			j++;
			if (!int_arg(c, &c->argv[j], &retrycount,
				     "Invalid RETRYCOUNT option argument for XCLAIM"))
				goto out;
		} else if (arg_is(o, "lastid") && more) {
			j++;
			if (!id_parse_reply(c, &c->argv[j], 0, true, &last_id))
				goto out;
		} else if (arg_is(o, "seentime") && more) {
			j++;
			if (!int_arg(c, &c->argv[j], &seentime,
				     "Invalid SEENTIME option argument for XCLAIM"))
				goto out;
		} else {
			int n = (int)strnlen(o->ptr, o->len);
			resp_errorf(c->out, "ERR Unrecognized XCLAIM option '%.*s'", n, o->ptr);
			goto out;
		}
	}
	struct effect_argv a;
	effect_argv_init(&a);
	bool changed = false, moved_last = false;
	if (stream_id_cmp(last_id, g->last_id) > 0) {
		g->last_id = last_id;
		moved_last = changed = true;
	}
	if (deliverytime != -1) {
		if (deliverytime < 0 || deliverytime > now)
			deliverytime = now;
	} else {
		deliverytime = now;
	}
	struct stream_consumer *sc = NULL;
	size_t mark = resp_array_begin(c->out);
	int64_t n = 0;
	const struct kv_slice *name = &c->argv[3];
	for (int i = 0; i < nids; i++) {
		struct stream_id id = ids[i];
		struct stream_nack *nk = stream_pel_find(&g->pel, id);
		if (!stream_exists(k.s, id)) {
			if (nk) {
				effect_xclaim(c, &a, k.key, g, nk->consumer->name, nk->consumer->nlen,
					      id, nk->delivery_time, nk->delivery_count);
				stream_nack_remove(k.s, g, nk);
				changed = true;
			}
			continue;
		}
		if (nk && minidle && now - nk->delivery_time < minidle)
			continue;
		if (!nk && !force)
			continue;
		if (!sc)
			sc = consumer_get(c, &k, g, name, &a);
		if (!nk) {
			/* Redis creates the entry delivered once, then counts this claim. */
			nk = stream_nack_add(k.s, g, sc, id, deliverytime, 1);
		} else {
			stream_nack_move(k.s, nk, sc);
			nk->delivery_time = deliverytime;
		}
		if (retrycount >= 0)
			nk->delivery_count = (uint64_t)retrycount;
		else if (!justid)
			nk->delivery_count++;
		if (justid)
			reply_id(c->out, id);
		else
			reply_one(c->out, k.s, id);
		n++;
		effect_xclaim(c, &a, k.key, g, sc->name, sc->nlen, id, nk->delivery_time,
			      nk->delivery_count);
		changed = true;
	}
	resp_array_end(c->out, mark, n);
	if (seentime >= 0) {
		/* After the claims, which set it to now. */
		if (!sc)
			sc = consumer_get(c, &k, g, name, &a);
		sc->seen_time = seentime;
		effect_seen(c, &a, k.key, g, sc);
	}
	if (moved_last)
		effect_setid(c, &a, k.key, g);
	effect_argv_free(&a);
	skey_close(&k);
	if (changed || sc)
		skey_changed(&k);
out:
	free(ids);
}

static void cmd_xautoclaim(struct cmd_ctx *c)
{
	int64_t minidle, count = 100;
	const int64_t attempts_factor = 10;
	struct stream_id start;
	bool sx, justid = false;
	if (!int_arg(c, &c->argv[4], &minidle, "Invalid min-idle-time argument for XAUTOCLAIM"))
		return;
	if (minidle < 0)
		minidle = 0;
	if (!interval_parse_reply(c, &c->argv[5], 0, &sx, &start))
		return;
	if (sx && !stream_id_incr(&start)) {
		resp_error(c->out, "ERR invalid start ID for the interval");
		return;
	}
	for (int j = 6; j < c->argc; j++) {
		int more = c->argc - 1 - j;
		if (arg_is(&c->argv[j], "count") && more) {
			int64_t max_count = LONG_MAX / 16;
			if (!arg_to_int64(&c->argv[j + 1], &count) || count < 1 || count > max_count) {
				resp_error(c->out, "ERR COUNT must be > 0");
				return;
			}
			j++;
		} else if (arg_is(&c->argv[j], "justid")) {
			justid = true;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	struct skey k;
	int r = skey_open(c, 1, &k, true);
	if (r == SK_WRONGTYPE)
		return;
	struct stream_group *g = k.s ? stream_group_find(k.s, c->argv[2].ptr, c->argv[2].len) : NULL;
	if (!g) {
		reply_err2(c, "NOGROUP No such key '%.*s' or consumer group '%.*s'", &c->argv[1],
			   &c->argv[2]);
		return;
	}
	struct effect_argv a;
	effect_argv_init(&a);
	int64_t attempts = count * attempts_factor;
	struct kv_buf deleted = KV_BUF_INIT;
	int64_t ndeleted = 0, n = 0;
	struct kv_buf body = KV_BUF_INIT;
	struct stream_consumer *sc = NULL;
	const struct kv_slice *name = &c->argv[3];
	int64_t now = c->now_ms;
	size_t i = stream_pel_lower(&g->pel, start);
	bool changed = false;
	while (attempts-- && count && i < g->pel.len) {
		struct stream_nack *nk = stream_pel_at(&g->pel, i);
		struct stream_id id = nk->id;
		if (!stream_exists(k.s, id)) {
			effect_xclaim(c, &a, k.key, g, nk->consumer->name, nk->consumer->nlen, id,
				      nk->delivery_time, nk->delivery_count);
			stream_nack_remove(k.s, g, nk);
			kv_buf_append(&deleted, &id, sizeof(id));
			ndeleted++;
			count--;
			changed = true;
			continue;   /* i now indexes the next entry */
		}
		i++;
		if (minidle && now - nk->delivery_time < minidle)
			continue;
		if (!sc)
			sc = consumer_get(c, &k, g, name, &a);
		stream_nack_move(k.s, nk, sc);
		nk->delivery_time = now;
		if (!justid)
			nk->delivery_count++;
		if (justid)
			reply_id(&body, id);
		else
			reply_one(&body, k.s, id);
		n++;
		count--;
		effect_xclaim(c, &a, k.key, g, sc->name, sc->nlen, id, nk->delivery_time,
			      nk->delivery_count);
		changed = true;
	}
	struct stream_id endid = i < g->pel.len ? stream_pel_at(&g->pel, i)->id : STREAM_ID_MIN;
	resp_array(c->out, 3);
	reply_id(c->out, endid);
	resp_array(c->out, n);
	kv_buf_append(c->out, body.data, body.len);
	resp_array(c->out, ndeleted);
	for (int64_t d = 0; d < ndeleted; d++) {
		struct stream_id id;
		memcpy(&id, deleted.data + d * (int64_t)sizeof(id), sizeof(id));
		reply_id(c->out, id);
	}
	kv_buf_free(&body);
	kv_buf_free(&deleted);
	effect_argv_free(&a);
	skey_close(&k);
	if (changed || sc)
		skey_changed(&k);
}

/* ---- XINFO ---- */

static void reply_lag(struct kv_buf *out, const struct stream *s, const struct stream_group *g)
{
	int64_t lag;
	if (stream_group_lag(s, g, &lag))
		resp_int(out, lag);
	else
		resp_null(out);
}

static void reply_entries_read(struct kv_buf *out, const struct stream_group *g)
{
	if (g->entries_read != STREAM_ENTRIES_READ_INVALID)
		resp_int(out, g->entries_read);
	else
		resp_null(out);
}

static void xinfo_stream(struct cmd_ctx *c, const struct stream *s)
{
	bool full = false;
	int64_t count = 10;
	int optc = c->argc - 3;
	if (optc) {
		if ((optc != 1 && optc != 3) || !arg_is(&c->argv[3], "full")) {
			reply_subcommand_syntax(c, "XINFO");
			return;
		}
		if (optc == 3) {
			if (!arg_is(&c->argv[4], "count")) {
				reply_subcommand_syntax(c, "XINFO");
				return;
			}
			if (!int_arg(c, &c->argv[5], &count, NULL))
				return;
			if (count < 0)
				count = 10;
		}
		full = true;
	}
	/* Maps in RESP3, flat pairs in RESP2, as Redis 7.0. */
	resp_map(c->out, full ? 9 : 10);
	resp_bulk_str(c->out, "length");
	resp_int(c->out, (int64_t)s->length);
	resp_bulk_str(c->out, "radix-tree-keys");
	resp_int(c->out, (int64_t)stream_block_count(s));
	resp_bulk_str(c->out, "radix-tree-nodes");
	resp_int(c->out, (int64_t)stream_block_count(s) + 1);
	resp_bulk_str(c->out, "last-generated-id");
	reply_id(c->out, s->last_id);
	resp_bulk_str(c->out, "max-deleted-entry-id");
	reply_id(c->out, s->max_deleted_id);
	resp_bulk_str(c->out, "entries-added");
	resp_int(c->out, (int64_t)s->entries_added);
	resp_bulk_str(c->out, "recorded-first-entry-id");
	reply_id(c->out, s->first_id);
	if (!full) {
		resp_bulk_str(c->out, "groups");
		resp_int(c->out, (int64_t)s->ngroups);
		struct stream_id id;
		for (int rev = 0; rev < 2; rev++) {
			resp_bulk_str(c->out, rev ? "last-entry" : "first-entry");
			struct stream_iter it;
			stream_iter_start(&it, s, STREAM_ID_MIN, STREAM_ID_MAX, rev);
			if (stream_iter_next(&it, &id))
				reply_entry(c->out, id, &it);
			else
				resp_null(c->out);
			stream_iter_stop(&it);
		}
		return;
	}
	resp_bulk_str(c->out, "entries");
	{
		reply_entries(c->out, s, STREAM_ID_MIN, STREAM_ID_MAX, false, count ? count : -1);
	}
	resp_bulk_str(c->out, "groups");
	resp_array(c->out, (int64_t)s->ngroups);
	for (size_t gi = 0; gi < s->ngroups; gi++) {
		const struct stream_group *g = s->groups[gi];
		resp_map(c->out, 7);
		resp_bulk_str(c->out, "name");
		resp_bulk(c->out, g->name, g->nlen);
		resp_bulk_str(c->out, "last-delivered-id");
		reply_id(c->out, g->last_id);
		resp_bulk_str(c->out, "entries-read");
		reply_entries_read(c->out, g);
		resp_bulk_str(c->out, "lag");
		reply_lag(c->out, s, g);
		resp_bulk_str(c->out, "pel-count");
		resp_int(c->out, (int64_t)g->pel.len);
		resp_bulk_str(c->out, "pending");
		size_t np = g->pel.len;
		if (count && (size_t)count < np)
			np = (size_t)count;
		resp_array(c->out, (int64_t)np);
		for (size_t i = 0; i < np; i++) {
			const struct stream_nack *nk = stream_pel_at(&g->pel, i);
			resp_array(c->out, 4);
			reply_id(c->out, nk->id);
			resp_bulk(c->out, nk->consumer->name, nk->consumer->nlen);
			resp_int(c->out, nk->delivery_time);
			resp_int(c->out, (int64_t)nk->delivery_count);
		}
		resp_bulk_str(c->out, "consumers");
		resp_array(c->out, (int64_t)g->ncons);
		for (size_t ci = 0; ci < g->ncons; ci++) {
			const struct stream_consumer *sc = g->cons[ci];
			resp_map(c->out, 4);
			resp_bulk_str(c->out, "name");
			resp_bulk(c->out, sc->name, sc->nlen);
			resp_bulk_str(c->out, "seen-time");
			resp_int(c->out, sc->seen_time);
			resp_bulk_str(c->out, "pel-count");
			resp_int(c->out, (int64_t)sc->pel.len);
			resp_bulk_str(c->out, "pending");
			size_t cp = sc->pel.len;
			if (count && (size_t)count < cp)
				cp = (size_t)count;
			resp_array(c->out, (int64_t)cp);
			for (size_t i = 0; i < cp; i++) {
				const struct stream_nack *nk = stream_pel_at(&sc->pel, i);
				resp_array(c->out, 3);
				reply_id(c->out, nk->id);
				resp_int(c->out, nk->delivery_time);
				resp_int(c->out, (int64_t)nk->delivery_count);
			}
		}
	}
}

static void cmd_xinfo(struct cmd_ctx *c)
{
	const struct kv_slice *opt = &c->argv[1];
	if (arg_is(opt, "help")) {
		if (c->argc != 2)
			reply_subcommand_syntax(c, "XINFO");
		else
			cmd_reply_help(c->out, "XINFO", xinfo_help);
		return;
	}
	if (c->argc < 3) {
		reply_subcommand_syntax(c, "XINFO");
		return;
	}
	struct skey k;
	int r = skey_open(c, 2, &k, true);
	if (r == SK_WRONGTYPE)
		return;
	if (r == SK_MISSING) {
		resp_error(c->out, RESP_ERR_NO_KEY);
		return;
	}
	const struct stream *s = k.s;
	if (arg_is(opt, "consumers") && c->argc == 4) {
		const struct stream_group *g = stream_group_find(s, c->argv[3].ptr, c->argv[3].len);
		if (!g) {
			reply_err2(c, ERR_NOGROUP_KEY, &c->argv[3], &c->argv[2]);
			return;
		}
		resp_array(c->out, (int64_t)g->ncons);
		for (size_t i = 0; i < g->ncons; i++) {
			const struct stream_consumer *sc = g->cons[i];
			int64_t idle = c->now_ms - sc->seen_time;
			resp_map(c->out, 3);
			resp_bulk_str(c->out, "name");
			resp_bulk(c->out, sc->name, sc->nlen);
			resp_bulk_str(c->out, "pending");
			resp_int(c->out, (int64_t)sc->pel.len);
			resp_bulk_str(c->out, "idle");
			resp_int(c->out, idle < 0 ? 0 : idle);
		}
	} else if (arg_is(opt, "groups") && c->argc == 3) {
		resp_array(c->out, (int64_t)s->ngroups);
		for (size_t i = 0; i < s->ngroups; i++) {
			const struct stream_group *g = s->groups[i];
			resp_map(c->out, 6);
			resp_bulk_str(c->out, "name");
			resp_bulk(c->out, g->name, g->nlen);
			resp_bulk_str(c->out, "consumers");
			resp_int(c->out, (int64_t)g->ncons);
			resp_bulk_str(c->out, "pending");
			resp_int(c->out, (int64_t)g->pel.len);
			resp_bulk_str(c->out, "last-delivered-id");
			reply_id(c->out, g->last_id);
			resp_bulk_str(c->out, "entries-read");
			reply_entries_read(c->out, g);
			resp_bulk_str(c->out, "lag");
			reply_lag(c->out, s, g);
		}
	} else if (arg_is(opt, "stream")) {
		xinfo_stream(c, s);
	} else {
		reply_subcommand_syntax(c, "XINFO");
	}
}

/* ---- XREAD / XREADGROUP ---- */

int cmd_stream_read_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	bool group = argv[0].len == 10;
	for (int i = 1; i < argc; i++) {
		if (arg_is(&argv[i], "block") || arg_is(&argv[i], "count")) {
			i++;
		} else if (group && arg_is(&argv[i], "group")) {
			i += 2;
		} else if (group && arg_is(&argv[i], "noack")) {
			continue;
		} else if (arg_is(&argv[i], "streams")) {
			int n = argc - i - 1;
			if (n <= 0 || n % 2)
				return -1;
			n /= 2;
			if (n > max)
				return -1;
			for (int j = 0; j < n; j++)
				idx[j] = i + 1 + j;
			return n;
		} else {
			return -1;
		}
	}
	return -1;
}

void cmd_stream_read_wait_free(struct stream_read_wait *w)
{
	free(w->argv);
	free(w->bytes);
	w->argv = NULL;
	w->bytes = NULL;
}

/* Serve one stream of XREADGROUP with ">" (new entries) or with an ID
 * (the consumer's history).  Returns how many effects it emitted: the
 * caller reports a change of the key only with effects, since XREADGROUP
 * itself is never an effect (fx would log it as sent otherwise).  Sets
 * *named when one of them names sc, whose replay then refreshes the
 * consumer's seen-time (else the caller logs it: effect_seen). */
static int read_group(struct cmd_ctx *c, struct skey *k, struct stream_group *g,
		      struct stream_consumer *sc, struct stream_id after, bool history,
		      bool noack, int64_t count, struct effect_argv *a, bool *named)
{
	int effects = 0;
	struct stream *s = k->s;
	size_t mark = resp_array_begin(c->out);
	int64_t n = 0;
	if (history) {
		/* Entries after the given ID, as for new ones. */
		struct stream_id start = after;
		bool any = stream_id_incr(&start);
		for (size_t i = stream_pel_lower(&sc->pel, start);
		     any && i < sc->pel.len && (!count || n < count); i++) {
			struct stream_nack *nk = stream_pel_at(&sc->pel, i);
			if (!reply_one(c->out, s, nk->id)) {
				resp_array(c->out, 2);
				reply_id(c->out, nk->id);
				resp_null_array(c->out);
			} else {
				nk->delivery_time = c->now_ms;
				nk->delivery_count++;
				effect_xclaim(c, a, k->key, g, sc->name, sc->nlen, nk->id,
					      nk->delivery_time, nk->delivery_count);
				effects++;
				*named = true;
			}
			n++;
		}
		resp_array_end(c->out, mark, n);
		return effects;
	}
	struct stream_id start = g->last_id;
	if (!stream_id_incr(&start)) {
		resp_array_end(c->out, mark, 0);
		return 0;
	}
	struct stream_iter it;
	struct stream_id id;
	bool moved = false;
	stream_iter_start(&it, s, start, STREAM_ID_MAX, false);
	while ((!count || n < count) && stream_iter_next(&it, &id)) {
		if (stream_id_cmp(id, g->last_id) > 0) {
			if (g->entries_read != STREAM_ENTRIES_READ_INVALID &&
			    !stream_range_has_tombstones(s, &id, NULL))
				g->entries_read++;
			else if (s->entries_added)
				g->entries_read = stream_estimate_distance(s, id);
			g->last_id = id;
			moved = true;
		}
		reply_entry(c->out, id, &it);
		n++;
		if (!noack) {
			/* The entry may be pending already (the group's ID was set
			 * back): it then moves to this consumer, delivered once. */
			struct stream_nack *nk = stream_pel_find(&g->pel, id);
			if (nk) {
				stream_nack_move(s, nk, sc);
				nk->delivery_time = c->now_ms;
				nk->delivery_count = 1;
			} else {
				nk = stream_nack_add(s, g, sc, id, c->now_ms, 1);
			}
			effect_xclaim(c, a, k->key, g, sc->name, sc->nlen, id, nk->delivery_time,
				      nk->delivery_count);
			effects++;
			*named = true;
		}
	}
	stream_iter_stop(&it);
	resp_array_end(c->out, mark, n);
	if (moved) {
		effect_setid(c, a, k->key, g);
		effects++;
	}
	return effects;
}

bool cmd_stream_read(struct cmd_ctx *c, struct stream_read_wait *w, bool retry)
{
	bool xreadgroup = c->argv[0].len == 10;
	int64_t count = 0;
	int streams_arg = 0, nstreams = 0;
	bool noack = false;
	const struct kv_slice *gname = NULL, *cname = NULL;
	memset(w, 0, sizeof(*w));
	w->timeout_ms = -1;

	for (int i = 1; i < c->argc; i++) {
		int more = c->argc - i - 1;
		const struct kv_slice *o = &c->argv[i];
		if (arg_is(o, "block") && more) {
			if (c->in_script) {
				/* Redis refuses it before reading the timeout. */
				resp_errorf(c->out, "ERR %.*s command is not allowed with BLOCK "
					    "option from scripts", (int)c->argv[0].len, c->argv[0].ptr);
				return true;
			}
			i++;
			int64_t t;
			if (!int_arg(c, &c->argv[i], &t, "timeout is not an integer or out of range"))
				return true;
			if (t < 0) {
				resp_error(c->out, "ERR timeout is negative");
				return true;
			}
			w->timeout_ms = t;
		} else if (arg_is(o, "count") && more) {
			i++;
			if (!int_arg(c, &c->argv[i], &count, NULL))
				return true;
			if (count < 0)
				count = 0;
		} else if (arg_is(o, "streams") && more) {
			streams_arg = i + 1;
			nstreams = c->argc - streams_arg;
			if (nstreams % 2) {
				resp_error(c->out, "ERR Unbalanced XREAD list of streams: for each "
						   "stream key an ID or '$' must be specified.");
				return true;
			}
			nstreams /= 2;
			break;
		} else if (arg_is(o, "group") && more >= 2) {
			if (!xreadgroup) {
				resp_error(c->out, "ERR The GROUP option is only supported by "
						   "XREADGROUP. You called XREAD instead.");
				return true;
			}
			gname = &c->argv[i + 1];
			cname = &c->argv[i + 2];
			i += 2;
		} else if (arg_is(o, "noack")) {
			if (!xreadgroup) {
				resp_error(c->out, "ERR The NOACK option is only supported by "
						   "XREADGROUP. You called XREAD instead.");
				return true;
			}
			noack = true;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return true;
		}
	}
	if (streams_arg == 0) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return true;
	}
	if (xreadgroup && !gname) {
		resp_error(c->out, "ERR Missing GROUP option for XREADGROUP");
		return true;
	}
	w->streams_arg = streams_arg;
	w->nstreams = nstreams;

	struct stream_id *ids = kv_malloc((size_t)nstreams * sizeof(*ids));
	bool *dollar = kv_calloc((size_t)nstreams, sizeof(bool));
	bool replied = true;
	for (int j = 0; j < nstreams; j++) {
		int ki = streams_arg + j, ii = streams_arg + nstreams + j;
		struct skey k;
		if (retry) {
			/* A blocked reader whose key became another type: XREAD
			 * waits on (as for a missing key), XREADGROUP is told. */
			struct kv_entry *e = db_lookup(cmd_db_arg(c, ki), c->argv[ki].ptr,
						       c->argv[ki].len, c->now_ms);
			if (e && entry_type(e) != KV_TYPE_STREAM) {
				if (gname) {
					resp_error(c->out,
						   "UNBLOCKED the stream key no longer exists");
					goto out;
				}
				ids[j] = STREAM_ID_MAX;
				continue;
			}
		}
		if (skey_open(c, ki, &k, true) == SK_WRONGTYPE)
			goto out;
		if (gname && retry && !k.s) {
			resp_error(c->out, "UNBLOCKED the stream key no longer exists");
			goto out;
		}
		if (gname && retry && !stream_group_find(k.s, gname->ptr, gname->len)) {
			resp_error(c->out, "NOGROUP the consumer group this client was blocked on "
					   "no longer exists");
			goto out;
		}
		if (gname && (!k.s || !stream_group_find(k.s, gname->ptr, gname->len))) {
			reply_err2(c, "NOGROUP No such key '%.*s' or consumer group '%.*s' in "
				      "XREADGROUP with GROUP option", &c->argv[ki], gname);
			goto out;
		}
		const struct kv_slice *ia = &c->argv[ii];
		if (ia->len == 1 && ia->ptr[0] == '$') {
			if (xreadgroup) {
				resp_error(c->out, "ERR The $ ID is meaningless in the context of "
						   "XREADGROUP: you want to read the history of this "
						   "consumer by specifying a proper ID, or use the > ID "
						   "to get new messages. The $ ID would just return an "
						   "empty result set.");
				goto out;
			}
			ids[j] = k.s ? k.s->last_id : STREAM_ID_MIN;
			dollar[j] = true;
		} else if (ia->len == 1 && ia->ptr[0] == '>') {
			if (!xreadgroup) {
				resp_error(c->out, "ERR The > ID can be specified only when calling "
						   "XREADGROUP using the GROUP <group> <consumer> "
						   "option.");
				goto out;
			}
			ids[j] = STREAM_ID_MAX;
		} else if (!id_parse_reply(c, ia, 0, true, &ids[j])) {
			goto out;
		}
	}

	/* Redis 7.0: an array of [name, entries] pairs in RESP2, a map of
	 * name -> entries in RESP3. */
	bool as_map = resp_is3(c->out);
	size_t mark = resp_array_begin(c->out);
	int64_t arraylen = 0;
	struct effect_argv a;
	effect_argv_init(&a);
	for (int j = 0; j < nstreams; j++) {
		struct skey k = { .db = cmd_db_arg(c, streams_arg + j), .key = &c->argv[streams_arg + j] };
		struct kv_entry *e = db_lookup(k.db, k.key->ptr, k.key->len, c->now_ms);
		if (!e || entry_type(e) != KV_TYPE_STREAM)
			continue;   /* (another type only in a blocked XREAD's retry) */
		k.s = entry_obj(e);
		k.mem0 = stream_mem(k.s);
		struct stream *s = k.s;
		struct stream_group *g = gname ? stream_group_find(s, gname->ptr, gname->len) : NULL;
		bool history = false, serve = false;
		struct stream_id gt = ids[j];
		if (g) {
			if (gt.ms != UINT64_MAX || gt.seq != UINT64_MAX) {
				serve = history = true;
			} else if (s->length) {
				struct stream_id maxid;
				stream_edge_id(s, false, &maxid);
				serve = stream_id_cmp(maxid, g->last_id) > 0;
			}
		} else if (s->length) {
			struct stream_id maxid;
			stream_edge_id(s, false, &maxid);
			serve = stream_id_cmp(maxid, gt) > 0;
		}
		if (!serve)
			continue;
		arraylen++;
		if (!as_map)
			resp_array(c->out, 2);
		resp_bulk(c->out, c->argv[streams_arg + j].ptr, c->argv[streams_arg + j].len);
		if (g) {
			struct stream_consumer *sc = stream_consumer_find(g, cname->ptr, cname->len);
			int effects = 0;
			bool named = false;
			if (sc) {
				sc->seen_time = c->now_ms;
			} else {
				named = true;
				sc = stream_consumer_create(s, g, cname->ptr, cname->len, c->now_ms);
				cmd_notify(c, NOTIFY_STREAM, "xgroup-createconsumer", k.key->ptr,
					   k.key->len);
				effect_createconsumer(c, &a, k.key, g, cname);
				effects++;
			}
			effects += read_group(c, &k, g, sc, gt, history, noack, count, &a, &named);
			if (!named)
				effect_seen(c, &a, k.key, g, sc);
			skey_close(&k);
			if (effects)
				skey_changed(&k);
		} else {
			struct stream_id start = gt;
			stream_id_incr(&start);
			reply_entries(c->out, s, start, STREAM_ID_MAX, false, count ? count : -1);
		}
	}
	effect_argv_free(&a);
	if (arraylen) {
		if (as_map)
			resp_map_end(c->out, mark, arraylen);
		else
			resp_array_end(c->out, mark, arraylen);
		goto out;
	}
	/* Nothing: take the empty array header back. */
	c->out->len = mark;
	replied = false;
	if (w->timeout_ms >= 0) {
		/* Resolve "$" now, so a retry reads only what comes later. */
		bool any = false;
		for (int j = 0; j < nstreams; j++)
			any |= dollar[j];
		if (any) {
			size_t bytes = 0;
			char idbuf[STREAM_ID_STR_MAX];
			for (int i = 0; i < c->argc; i++)
				bytes += c->argv[i].len + STREAM_ID_STR_MAX;
			w->bytes = kv_malloc(bytes);
			w->argv = kv_malloc((size_t)c->argc * sizeof(*w->argv));
			size_t off = 0;
			for (int i = 0; i < c->argc; i++) {
				const char *p = c->argv[i].ptr;
				size_t n = c->argv[i].len;
				int j = i - streams_arg - nstreams;
				if (j >= 0 && j < nstreams && dollar[j]) {
					n = stream_id_format(ids[j], idbuf);
					p = idbuf;
				}
				memcpy(w->bytes + off, p, n);
				w->argv[i] = (struct kv_slice){ w->bytes + off, n };
				off += n;
			}
		}
	}
out:
	free(ids);
	free(dollar);
	return replied;
}

/* ---- table ---- */

#define KEY1 .first_key = 1, .last_key = 1, .key_step = 1
#define X_W (CMD_WRITE | CMD_DENYOOM | CMD_FAST)

static const struct kv_command xgroup_subs[] = {
	{ .name = "xgroup|create", .arity = -5, .flags = CMD_WRITE | CMD_DENYOOM,
	  .first_key = 2, .last_key = 2, .key_step = 1, .proc = cmd_xgroup, .group = "stream",
	  .since = "5.0.0", .summary = "Create a consumer group.", .complexity = "O(1)" },
	{ .name = "xgroup|createconsumer", .arity = 5, .flags = CMD_WRITE | CMD_DENYOOM,
	  .first_key = 2, .last_key = 2, .key_step = 1, .proc = cmd_xgroup, .group = "stream",
	  .since = "6.2.0", .summary = "Create a consumer in a consumer group.",
	  .complexity = "O(1)" },
	{ .name = "xgroup|delconsumer", .arity = 5, .flags = CMD_WRITE, .first_key = 2,
	  .last_key = 2, .key_step = 1, .proc = cmd_xgroup, .group = "stream", .since = "5.0.0",
	  .summary = "Delete a consumer from a consumer group.", .complexity = "O(1)" },
	{ .name = "xgroup|destroy", .arity = 4, .flags = CMD_WRITE, .first_key = 2,
	  .last_key = 2, .key_step = 1, .proc = cmd_xgroup, .group = "stream", .since = "5.0.0",
	  .summary = "Destroy a consumer group.",
	  .complexity = "O(N) where N is the number of entries in the group's pending entries "
			"list (PEL)." },
	{ .name = "xgroup|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE, .proc = cmd_xgroup,
	  .group = "stream", .since = "5.0.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = "xgroup|setid", .arity = -5, .flags = CMD_WRITE, .first_key = 2, .last_key = 2,
	  .key_step = 1, .proc = cmd_xgroup, .group = "stream", .since = "5.0.0",
	  .summary = "Set a consumer group to an arbitrary last delivered ID value.",
	  .complexity = "O(1)" },
	{ .name = NULL },
};

static const struct kv_command xinfo_subs[] = {
	{ .name = "xinfo|consumers", .arity = 4, .flags = CMD_READONLY, .first_key = 2,
	  .last_key = 2, .key_step = 1, .proc = cmd_xinfo, .group = "stream", .since = "5.0.0",
	  .summary = "List the consumers in a consumer group", .complexity = "O(1)" },
	{ .name = "xinfo|groups", .arity = 3, .flags = CMD_READONLY, .first_key = 2,
	  .last_key = 2, .key_step = 1, .proc = cmd_xinfo, .group = "stream", .since = "5.0.0",
	  .summary = "List the consumer groups of a stream", .complexity = "O(1)" },
	{ .name = "xinfo|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE, .proc = cmd_xinfo,
	  .group = "stream", .since = "5.0.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = "xinfo|stream", .arity = -3, .flags = CMD_READONLY, .first_key = 2,
	  .last_key = 2, .key_step = 1, .proc = cmd_xinfo, .group = "stream", .since = "5.0.0",
	  .summary = "Get information about a stream", .complexity = "O(1)" },
	{ .name = NULL },
};

/* Unknown subcommands and wrong counts get the generic container errors;
 * the subcommand's own handler checks its options. */
static void cmd_xgroup_container(struct cmd_ctx *c)
{
	cmd_run_sub(c, xgroup_subs, "xgroup");
}

static void cmd_xinfo_container(struct cmd_ctx *c)
{
	cmd_run_sub(c, xinfo_subs, "xinfo");
}

const struct kv_command cmd_table_stream[] = {
	{ .name = "xadd", .arity = -5, .flags = X_W, KEY1, .proc = cmd_xadd, .group = "stream",
	  .since = "5.0.0", .summary = "Appends a new entry to a stream",
	  .complexity = "O(1) when adding a new entry, O(N) when trimming where N being the "
			"number of entries evicted." },
	{ .name = "xrange", .arity = -4, .flags = CMD_READONLY, KEY1, .proc = cmd_xrange,
	  .group = "stream", .since = "5.0.0",
	  .summary = "Return a range of elements in a stream, with IDs matching the specified "
		     "IDs interval",
	  .complexity = "O(N) with N being the number of elements being returned. If N is "
			"constant (e.g. always asking for the first 10 elements with COUNT), you "
			"can consider it O(1)." },
	{ .name = "xrevrange", .arity = -4, .flags = CMD_READONLY, KEY1, .proc = cmd_xrevrange,
	  .group = "stream", .since = "5.0.0",
	  .summary = "Return a range of elements in a stream, with IDs matching the specified "
		     "IDs interval, in reverse order (from greater to smaller IDs) compared to "
		     "XRANGE",
	  .complexity = "O(N) with N being the number of elements returned. If N is constant "
			"(e.g. always asking for the first 10 elements with COUNT), you can "
			"consider it O(1)." },
	{ .name = "xlen", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEY1, .proc = cmd_xlen,
	  .group = "stream", .since = "5.0.0", .summary = "Return the number of entries in a stream",
	  .complexity = "O(1)" },
	{ .name = "xdel", .arity = -3, .flags = CMD_WRITE | CMD_FAST, KEY1, .proc = cmd_xdel,
	  .group = "stream", .since = "5.0.0",
	  .summary = "Removes the specified entries from the stream. Returns the number of items "
		     "actually deleted, that may be different from the number of IDs passed in "
		     "case certain IDs do not exist.",
	  .complexity = "O(1) for each single item to delete in the stream, regardless of the "
			"stream size." },
	{ .name = "xtrim", .arity = -4, .flags = CMD_WRITE, KEY1, .proc = cmd_xtrim,
	  .group = "stream", .since = "5.0.0",
	  .summary = "Trims the stream to (approximately if '~' is passed) a certain size",
	  .complexity = "O(N), with N being the number of evicted entries. Constant times are "
			"very small however, since entries are organized in macro nodes "
			"containing multiple entries that can be released with a single "
			"deallocation." },
	{ .name = "xsetid", .arity = -3, .flags = X_W, KEY1, .proc = cmd_xsetid,
	  .group = "stream", .since = "5.0.0",
	  .summary = "An internal command for replicating stream values", .complexity = "O(1)" },
	{ .name = "xack", .arity = -4, .flags = CMD_WRITE | CMD_FAST, KEY1, .proc = cmd_xack,
	  .group = "stream", .since = "5.0.0",
	  .summary = "Marks a pending message as correctly processed, effectively removing it "
		     "from the pending entries list of the consumer group. Return value of "
		     "the command is the number of messages successfully acknowledged, that "
		     "is, the IDs we were actually able to resolve in the PEL.",
	  .complexity = "O(1) for each message ID processed." },
	{ .name = "xpending", .arity = -3, .flags = CMD_READONLY, KEY1, .proc = cmd_xpending,
	  .group = "stream", .since = "5.0.0",
	  .summary = "Return information and entries from a stream consumer group pending "
		     "entries list, that are messages fetched but never acknowledged.",
	  .complexity = "O(N) with N being the number of elements returned, so asking for a "
			"small fixed number of entries per call is O(1). O(M), where M is the "
			"total number of entries scanned when used with the IDLE filter. When "
			"the command returns just the summary and the list of consumers is "
			"small, it runs in O(1) time; otherwise, an additional O(N) time for "
			"iterating every consumer." },
	{ .name = "xclaim", .arity = -6, .flags = CMD_WRITE | CMD_FAST, KEY1, .proc = cmd_xclaim,
	  .group = "stream", .since = "5.0.0",
	  .summary = "Changes (or acquires) ownership of a message in a consumer group, as if "
		     "the message was delivered to the specified consumer.",
	  .complexity = "O(log N) with N being the number of messages in the PEL of the "
			"consumer group." },
	{ .name = "xautoclaim", .arity = -6, .flags = CMD_WRITE | CMD_FAST, KEY1,
	  .proc = cmd_xautoclaim, .group = "stream", .since = "6.2.0",
	  .summary = "Changes (or acquires) ownership of messages in a consumer group, as if "
		     "the messages were delivered to the specified consumer.",
	  .complexity = "O(1) if COUNT is small." },
	{ .name = "xgroup", .arity = -2, .flags = CMD_WRITE | CMD_DENYOOM, .first_key = 2, .last_key = 2, .key_step = 1,
	  .proc = cmd_xgroup_container, .group = "stream", .since = "5.0.0",
	  .summary = "A container for consumer groups commands",
	  .complexity = "Depends on subcommand.", .subcommands = xgroup_subs },
	{ .name = "xinfo", .arity = -2, .flags = CMD_READONLY, .first_key = 2, .last_key = 2, .key_step = 1,
	  .proc = cmd_xinfo_container, .group = "stream", .since = "5.0.0",
	  .summary = "A container for stream introspection commands",
	  .complexity = "Depends on subcommand.", .subcommands = xinfo_subs },
	{ .name = NULL },
};

const struct kv_command *cmd_stream_table(void)
{
	return cmd_table_stream;
}
