/*
 * kevy-dump.c - the offline dumper.  Prints what a data directory holds (its
 * current state, or its state as of an LSN or a time), what a lone AOF
 * segment or snapshot holds, as text, JSON lines, or the Redis commands that
 * recreate it (pipeable into redis-cli --pipe); with --stats, counts and
 * sizes instead; with --replay, writes a fresh data directory of snapshots,
 * re-sharded to any shard count.
 *
 * It is not a parser: a directory is loaded by aof_load_dir (recovery's own
 * replay), a segment read by the aof_format reader, a snapshot by the
 * snap_format reader and loader, and the commands that recreate a key come
 * from keydump.  This file filters, formats and maps outcomes to exit codes.
 * User documentation: docs/tools.md and docs/man/kevy-dump.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist/aof.h"
#include "persist/aof_plan.h"
#include "persist/aof_format.h"
#include "commands/cmd.h"
#include "store/hll.h"
#include "store/keydump.h"
#include "base/kv.h"
#include "persist/kvio.h"
#include "base/log.h"
#include "persist/snap_format.h"
#include "store/store.h"
#include "store/t_hash.h"
#include "store/t_list.h"
#include "store/t_set.h"
#include "store/t_zset.h"
#include "store/t_stream.h"

#include "kc_json.h"
#include "persist/fn_file.h"

/* Exit codes (docs/tools.md). */
enum {
	KD_EXIT_OK = 0,
	KD_EXIT_DAMAGED = 2,  /* the input is damaged: the load or read was refused */
	KD_EXIT_ERROR = 3,    /* usage error, I/O error, not a kevy file or directory */
};

enum kd_format { KD_TEXT = 0, KD_JSON, KD_RESP };

struct kd_opts {
	enum kd_format fmt;
	const char *key_glob;
	int type;                 /* enum kv_type, or -1: any */
	int64_t shard;            /* -1: any */
	uint64_t from_lsn;        /* 0: no bound */
	uint64_t until_lsn;       /* 0: no bound */
	int64_t until_ms;         /* 0: no bound */
	bool stats;
	bool bits;                /* --bits: strings also as their set bit positions */
	const char *replay_out;
	uint32_t shards;          /* --replay: 0 = the source's count */
	const char *target;
};

/* ------------------------------------------------------------------ */
/* names, numbers */

static const char *const kd_type_names[] = {
	[KV_TYPE_STRING] = "string", [KV_TYPE_LIST] = "list", [KV_TYPE_SET] = "set",
	[KV_TYPE_ZSET] = "zset", [KV_TYPE_HASH] = "hash", [KV_TYPE_STREAM] = "stream",
};
#define KD_NTYPES 6

static int kd_type_parse(const char *s)
{
	for (int t = 0; t < KD_NTYPES; t++)
		if (strcmp(s, kd_type_names[t]) == 0)
			return t;
	return -1;
}

/* A decimal integer in [min, max], nothing else. */
static bool kd_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s[0] || s[0] < '0' || s[0] > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Whether a stored key is expired at now_ms (store.h: now >= deadline). */
static bool kd_expired(int64_t deadline, int64_t now_ms)
{
	return deadline != KV_NO_EXPIRE && now_ms >= deadline;
}

/* ------------------------------------------------------------------ */
/* text: redis-cli's quoting (sdscatrepr), binary-safe */

static void kd_put_quoted(FILE *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		switch (c) {
		case '\\': fputs("\\\\", out); break;
		case '"': fputs("\\\"", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		case '\a': fputs("\\a", out); break;
		case '\b': fputs("\\b", out); break;
		default:
			if (c >= 0x20 && c < 0x7f)
				fputc(c, out);
			else
				fprintf(out, "\\x%02x", c);
		}
	}
	fputc('"', out);
}

/* A score as Redis replies it ("inf", "-inf", "-0", "1.5", ...). */
static const char *kd_score(char buf[ZSET_SCORE_MAX], double v)
{
	zset_fmt_score(buf, v);
	return buf;
}

/* ------------------------------------------------------------------ */
/* RESP: one multibulk per command */

static void kd_resp_write(FILE *out, int argc, const struct kv_slice *argv)
{
	fprintf(out, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++) {
		fprintf(out, "$%zu\r\n", argv[i].len);
		fwrite(argv[i].ptr, 1, argv[i].len, out);
		fputs("\r\n", out);
	}
}

static uint64_t kd_digits(uint64_t v)
{
	uint64_t n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static uint64_t kd_resp_size(int argc, const struct kv_slice *argv)
{
	uint64_t n = 3 + kd_digits((uint64_t)argc);
	for (int i = 0; i < argc; i++)
		n += 5 + kd_digits(argv[i].len) + argv[i].len;
	return n;
}

/* ------------------------------------------------------------------ */
/* walking a value */

/* Callbacks for each part of an entry: the key, then its items. */
struct kd_walk {
	void (*str)(void *arg, struct kv_slice s);            /* string value, element, member */
	void (*pair)(void *arg, struct kv_slice a, struct kv_slice b);   /* hash field, value */
	void (*scored)(void *arg, struct kv_slice m, double score);      /* zset */
	void *arg;
};

static int kd_walk_list(void *arg, const char *p, size_t len)
{
	const struct kd_walk *w = arg;
	w->str(w->arg, (struct kv_slice){ p, len });
	return 0;
}

static bool kd_walk_set(void *arg, const char *m, size_t len)
{
	const struct kd_walk *w = arg;
	w->str(w->arg, (struct kv_slice){ m, len });
	return true;
}

static void kd_walk_hash(void *arg, struct kv_slice f, struct kv_slice v)
{
	const struct kd_walk *w = arg;
	w->pair(w->arg, f, v);
}

static void kd_walk_zset(void *arg, struct kv_slice m, double score)
{
	const struct kd_walk *w = arg;
	w->scored(w->arg, m, score);
}

/* A stream's items are the commands that recreate it (keydump.h: its
 * entries as XADD, its counters as XSETID, its groups, consumers and pending
 * entries), each one item: the arguments after the command's key, joined by
 * spaces. */
static void kd_walk_stream_cmd(void *arg, int argc, const struct kv_slice *argv)
{
	const struct kd_walk *w = arg;
	if (argc < 2 || (argc == 2 && argv[0].len == 3))
		return;   /* the DEL that starts a recreation */
	struct kv_buf b = KV_BUF_INIT;
	for (int i = 0; i < argc; i++) {
		if (i == keydump_key_arg(argc, argv))
			continue;
		if (b.len)
			kv_buf_append_char(&b, ' ');
		kv_buf_append(&b, argv[i].ptr, argv[i].len);
	}
	w->str(w->arg, (struct kv_slice){ b.data ? b.data : "", b.len });
	kv_buf_free(&b);
}

/* The value's items in the type's iteration order. */
static void kd_walk_value(const struct kv_entry *e, const struct kd_walk *w)
{
	void *obj = entry_type(e) == KV_TYPE_STRING ? NULL : entry_obj(e);
	switch (entry_type(e)) {
	case KV_TYPE_STRING: w->str(w->arg, entry_str(e)); break;
	case KV_TYPE_LIST: list_foreach(obj, kd_walk_list, (void *)w); break;
	case KV_TYPE_SET: set_foreach(obj, kd_walk_set, (void *)w); break;
	case KV_TYPE_HASH: hash_foreach(obj, kd_walk_hash, (void *)w); break;
	case KV_TYPE_ZSET: zset_foreach(obj, kd_walk_zset, (void *)w); break;
	case KV_TYPE_STREAM: keydump_entry(e, kd_walk_stream_cmd, (void *)w); break;
	}
}

static uint64_t kd_value_len(const struct kv_entry *e)
{
	void *obj = entry_type(e) == KV_TYPE_STRING ? NULL : entry_obj(e);
	switch (entry_type(e)) {
	case KV_TYPE_STRING: return entry_str(e).len;
	case KV_TYPE_LIST: return list_len(obj);
	case KV_TYPE_SET: return set_size(obj);
	case KV_TYPE_HASH: return hash_len(obj);
	case KV_TYPE_ZSET: return zset_len(obj);
	case KV_TYPE_STREAM: return ((const struct stream *)obj)->length;
	}
	return 0;
}

/* Whether every string of the entry (key included) is valid UTF-8: JSON
 * then writes them as text, else as bytes ("binary": true). */
static void kd_utf8_str(void *arg, struct kv_slice s)
{
	bool *ok = arg;
	if (*ok && !kc_utf8_valid(s.ptr, s.len))
		*ok = false;
}

static void kd_utf8_pair(void *arg, struct kv_slice a, struct kv_slice b)
{
	kd_utf8_str(arg, a);
	kd_utf8_str(arg, b);
}

static void kd_utf8_scored(void *arg, struct kv_slice m, double score)
{
	(void)score;
	kd_utf8_str(arg, m);
}

static bool kd_entry_utf8(const struct kv_entry *e)
{
	struct kv_slice k = entry_key(e);
	bool ok = kc_utf8_valid(k.ptr, k.len);
	if (ok) {
		struct kd_walk w = { kd_utf8_str, kd_utf8_pair, kd_utf8_scored, &ok };
		kd_walk_value(e, &w);
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* --stats */

#define KD_TOP 10

enum { KD_TTL_NONE, KD_TTL_1M, KD_TTL_1H, KD_TTL_1D, KD_TTL_LONGER, KD_TTL_PAST, KD_NTTL };
static const char *const kd_ttl_names[KD_NTTL] = { "none", "<1m", "<1h", "<1d", "longer", "past" };

struct kd_big {
	uint32_t shard;
	enum kv_type type;
	char *key;
	size_t klen;
	uint64_t bytes;
};

struct kd_stats {
	uint64_t keys, bytes;
	uint64_t type_keys[KD_NTYPES], type_bytes[KD_NTYPES];
	uint64_t ttl[KD_NTTL];
	struct kd_big top[KD_TOP];
	size_t ntop;
};

static void kd_size_cmd(void *arg, int argc, const struct kv_slice *argv)
{
	*(uint64_t *)arg += kd_resp_size(argc, argv);
}

static void kd_stats_add(struct kd_stats *st, uint32_t shard, const struct kv_entry *e,
			 int64_t now_ms)
{
	enum kv_type t = entry_type(e);
	int64_t deadline = entry_expire(e);
	uint64_t bytes = 0;
	keydump_entry(e, kd_size_cmd, &bytes);
	st->keys++;
	st->bytes += bytes;
	st->type_keys[t]++;
	st->type_bytes[t] += bytes;
	int bucket;
	if (deadline == KV_NO_EXPIRE)
		bucket = KD_TTL_NONE;
	else if (deadline <= now_ms)
		bucket = KD_TTL_PAST;
	else if (deadline - now_ms < 60 * 1000)
		bucket = KD_TTL_1M;
	else if (deadline - now_ms < 3600 * 1000)
		bucket = KD_TTL_1H;
	else if (deadline - now_ms < 86400 * 1000)
		bucket = KD_TTL_1D;
	else
		bucket = KD_TTL_LONGER;
	st->ttl[bucket]++;

	/* The KD_TOP largest, largest first. */
	size_t at = st->ntop;
	while (at > 0 && st->top[at - 1].bytes < bytes)
		at--;
	if (at >= KD_TOP)
		return;
	if (st->ntop == KD_TOP)
		free(st->top[--st->ntop].key);
	memmove(&st->top[at + 1], &st->top[at], (st->ntop - at) * sizeof(st->top[0]));
	struct kv_slice k = entry_key(e);
	st->top[at] = (struct kd_big){ .shard = shard, .type = t,
				       .key = kv_strndup(k.ptr, k.len), .klen = k.len,
				       .bytes = bytes };
	st->ntop++;
}

static void kd_stats_free(struct kd_stats *st)
{
	for (size_t i = 0; i < st->ntop; i++)
		free(st->top[i].key);
}

static void kd_stats_print(FILE *out, const struct kd_stats *st, enum kd_format fmt)
{
	if (fmt == KD_JSON) {
		struct kc_json j;
		kc_json_init(&j, out);
		kc_json_begin_object(&j);
		kc_json_key(&j, "keys");
		kc_json_u64(&j, st->keys);
		kc_json_key(&j, "bytes");
		kc_json_u64(&j, st->bytes);
		kc_json_key(&j, "types");
		kc_json_begin_object(&j);
		for (int t = 0; t < KD_NTYPES; t++) {
			kc_json_key(&j, kd_type_names[t]);
			kc_json_begin_object(&j);
			kc_json_key(&j, "keys");
			kc_json_u64(&j, st->type_keys[t]);
			kc_json_key(&j, "bytes");
			kc_json_u64(&j, st->type_bytes[t]);
			kc_json_end_object(&j);
		}
		kc_json_end_object(&j);
		kc_json_key(&j, "ttl");
		kc_json_begin_object(&j);
		for (int b = 0; b < KD_NTTL; b++) {
			kc_json_key(&j, kd_ttl_names[b]);
			kc_json_u64(&j, st->ttl[b]);
		}
		kc_json_end_object(&j);
		kc_json_key(&j, "largest");
		kc_json_begin_array(&j);
		for (size_t i = 0; i < st->ntop; i++) {
			const struct kd_big *b = &st->top[i];
			bool bin = !kc_utf8_valid(b->key, b->klen);
			kc_json_begin_object(&j);
			kc_json_key(&j, "shard");
			kc_json_u64(&j, b->shard);
			kc_json_key(&j, "key");
			if (bin)
				kc_json_bytes(&j, b->key, b->klen);
			else
				kc_json_string_len(&j, b->key, b->klen);
			kc_json_key(&j, "binary");
			kc_json_bool(&j, bin);
			kc_json_key(&j, "type");
			kc_json_string(&j, kd_type_names[b->type]);
			kc_json_key(&j, "bytes");
			kc_json_u64(&j, b->bytes);
			kc_json_end_object(&j);
		}
		kc_json_end_array(&j);
		kc_json_end_object(&j);
		fputc('\n', out);
		return;
	}
	fprintf(out, "keys %" PRIu64 " bytes %" PRIu64 "\n", st->keys, st->bytes);
	for (int t = 0; t < KD_NTYPES; t++)
		fprintf(out, "type %s keys %" PRIu64 " bytes %" PRIu64 "\n", kd_type_names[t],
			st->type_keys[t], st->type_bytes[t]);
	fputs("ttl", out);
	for (int b = 0; b < KD_NTTL; b++)
		fprintf(out, " %s %" PRIu64, kd_ttl_names[b], st->ttl[b]);
	fputc('\n', out);
	for (size_t i = 0; i < st->ntop; i++) {
		const struct kd_big *b = &st->top[i];
		fprintf(out, "largest %zu shard %" PRIu32 " key ", i + 1, b->shard);
		kd_put_quoted(out, b->key, b->klen);
		fprintf(out, " type %s bytes %" PRIu64 "\n", kd_type_names[b->type], b->bytes);
	}
}

/* ------------------------------------------------------------------ */
/* keys: filters, then text / JSON / RESP / stats */

struct kd_dump {
	const struct kd_opts *o;
	FILE *out;
	int64_t now_ms;
	uint64_t keys;            /* keys printed (or counted) */
	struct kd_stats stats;
	/* the entry being printed */
	struct kc_json j;
	bool bin;
	uint32_t db;              /* the database of the key being printed */
	uint32_t resp_db;         /* --resp: the database the output has SELECTed */
};

static bool kd_key_wanted(const struct kd_opts *o, uint32_t shard, const struct kv_entry *e)
{
	if (o->shard >= 0 && (uint64_t)o->shard != shard)
		return false;
	if (o->type >= 0 && (int)entry_type(e) != o->type)
		return false;
	if (o->key_glob) {
		struct kv_slice k = entry_key(e);
		if (!glob_match(o->key_glob, strlen(o->key_glob), k.ptr, k.len, false))
			return false;
	}
	return true;
}

static void kd_text_str(void *arg, struct kv_slice s)
{
	struct kd_dump *d = arg;
	fputc(' ', d->out);
	kd_put_quoted(d->out, s.ptr, s.len);
}

static void kd_text_pair(void *arg, struct kv_slice a, struct kv_slice b)
{
	kd_text_str(arg, a);
	kd_text_str(arg, b);
}

static void kd_text_scored(void *arg, struct kv_slice m, double score)
{
	struct kd_dump *d = arg;
	char buf[ZSET_SCORE_MAX];
	kd_text_str(arg, m);
	fprintf(d->out, " %s", kd_score(buf, score));
}

/* Bitmaps and HyperLogLogs are strings; these say what such a string means
 * (issue 15).  A bit's position counts from the first byte's most
 * significant bit, as SETBIT and GETBIT number them. */
typedef void kd_bit_fn(void *arg, uint64_t pos);

static void kd_foreach_bit(struct kv_slice s, kd_bit_fn *fn, void *arg)
{
	const uint8_t *p = (const uint8_t *)s.ptr;
	for (size_t i = 0; i < s.len; i++) {
		for (int b = 0; p[i] && b < 8; b++)
			if (p[i] & (0x80u >> b))
				fn(arg, (uint64_t)i * 8 + (uint64_t)b);
	}
}

static void kd_text_bit(void *arg, uint64_t pos)
{
	fprintf(((struct kd_dump *)arg)->out, " %" PRIu64, pos);
}

static void kd_json_bit(void *arg, uint64_t pos)
{
	kc_json_u64(&((struct kd_dump *)arg)->j, pos);
}

/* An HLL string's encoding and estimate: 0, or HLL_CORRUPT when it has the
 * header but its registers do not decode (Redis's INVALIDOBJ).  false when
 * the string is not an HLL at all. */
static bool kd_hll_info(struct kv_slice s, const char **enc, uint64_t *card, int *rc)
{
	if (!hll_is_hll(s.ptr, s.len))
		return false;
	*enc = hll_encoding_of(s.ptr) == HLL_SPARSE ? "sparse" : "dense";
	*card = 0;
	*rc = hll_count(s.ptr, s.len, card);
	return true;
}

/* Text: " hll ENC estimate N" (or "estimate corrupt") after an HLL string's
 * value; " bits P..." with --bits. */
static void kd_text_string_extra(struct kd_dump *d, const struct kv_entry *e)
{
	struct kv_slice s = entry_str(e);
	const char *enc;
	uint64_t card;
	int rc;
	if (kd_hll_info(s, &enc, &card, &rc)) {
		if (rc == 0)
			fprintf(d->out, " hll %s estimate %" PRIu64, enc, card);
		else
			fprintf(d->out, " hll %s estimate corrupt", enc);
	}
	if (d->o->bits) {
		fputs(" bits", d->out);
		kd_foreach_bit(s, kd_text_bit, d);
	}
}

static void kd_print_text(struct kd_dump *d, uint32_t shard, const struct kv_entry *e)
{
	struct kv_slice k = entry_key(e);
	int64_t deadline = entry_expire(e);
	fprintf(d->out, "shard %" PRIu32 " db %" PRIu32 " key ", shard, d->db);
	kd_put_quoted(d->out, k.ptr, k.len);
	fprintf(d->out, " type %s ttl ", kd_type_names[entry_type(e)]);
	if (deadline == KV_NO_EXPIRE)
		fputs("-1", d->out);
	else
		fprintf(d->out, "%" PRId64 " pxat %" PRId64, deadline - d->now_ms, deadline);
	fprintf(d->out, " len %" PRIu64 " value", kd_value_len(e));
	struct kd_walk w = { kd_text_str, kd_text_pair, kd_text_scored, d };
	kd_walk_value(e, &w);
	if (entry_type(e) == KV_TYPE_STRING)
		kd_text_string_extra(d, e);
	fputc('\n', d->out);
}

static void kd_json_str(struct kd_dump *d, struct kv_slice s)
{
	if (d->bin)
		kc_json_bytes(&d->j, s.ptr, s.len);
	else
		kc_json_string_len(&d->j, s.ptr, s.len);
}

static void kd_json_elem(void *arg, struct kv_slice s)
{
	kd_json_str(arg, s);
}

static void kd_json_pair(void *arg, struct kv_slice f, struct kv_slice v)
{
	struct kd_dump *d = arg;
	kc_json_key_len(&d->j, f.ptr, f.len, d->bin);
	kd_json_str(d, v);
}

/* [member, score]; a score is a JSON number, or "inf" / "-inf" (JSON has no
 * infinities). */
static void kd_json_scored(void *arg, struct kv_slice m, double score)
{
	struct kd_dump *d = arg;
	char buf[ZSET_SCORE_MAX];
	kc_json_begin_array(&d->j);
	kd_json_str(d, m);
	kd_score(buf, score);
	if (strcmp(buf, "inf") == 0 || strcmp(buf, "-inf") == 0)
		kc_json_string(&d->j, buf);
	else
		kc_json_raw(&d->j, buf);
	kc_json_end_array(&d->j);
}

static void kd_print_json(struct kd_dump *d, uint32_t shard, const struct kv_entry *e)
{
	enum kv_type t = entry_type(e);
	int64_t deadline = entry_expire(e);
	d->bin = !kd_entry_utf8(e);
	kc_json_init(&d->j, d->out);
	kc_json_begin_object(&d->j);
	kc_json_key(&d->j, "shard");
	kc_json_u64(&d->j, shard);
	kc_json_key(&d->j, "db");
	kc_json_u64(&d->j, d->db);
	kc_json_key(&d->j, "key");
	kd_json_str(d, entry_key(e));
	kc_json_key(&d->j, "type");
	kc_json_string(&d->j, kd_type_names[t]);
	kc_json_key(&d->j, "expire_at_ms");
	if (deadline == KV_NO_EXPIRE)
		kc_json_null(&d->j);
	else
		kc_json_i64(&d->j, deadline);
	kc_json_key(&d->j, "binary");
	kc_json_bool(&d->j, d->bin);
	kc_json_key(&d->j, "value");
	struct kd_walk w = { kd_json_elem, kd_json_pair, kd_json_scored, d };
	if (t == KV_TYPE_STRING) {
		kd_walk_value(e, &w);
		struct kv_slice s = entry_str(e);
		const char *enc;
		uint64_t card;
		int rc;
		if (kd_hll_info(s, &enc, &card, &rc)) {
			kc_json_key(&d->j, "hll");
			kc_json_begin_object(&d->j);
			kc_json_key(&d->j, "encoding");
			kc_json_string(&d->j, enc);
			kc_json_key(&d->j, "estimate");
			if (rc == 0)
				kc_json_u64(&d->j, card);
			else
				kc_json_null(&d->j);
			kc_json_end_object(&d->j);
		}
		if (d->o->bits) {
			kc_json_key(&d->j, "bits");
			kc_json_begin_array(&d->j);
			kd_foreach_bit(s, kd_json_bit, d);
			kc_json_end_array(&d->j);
		}
	} else {
		if (t == KV_TYPE_HASH)
			kc_json_begin_object(&d->j);
		else
			kc_json_begin_array(&d->j);
		kd_walk_value(e, &w);
		if (t == KV_TYPE_HASH)
			kc_json_end_object(&d->j);
		else
			kc_json_end_array(&d->j);
	}
	kc_json_end_object(&d->j);
	fputc('\n', d->out);
}

static void kd_resp_cmd(void *arg, int argc, const struct kv_slice *argv)
{
	kd_resp_write(arg, argc, argv);
}

/* Progress on a terminal (stderr), none when piped: files and bytes loaded,
 * then keys dumped, at most every 100 ms. */
struct kd_progress {
	bool on;
	uint64_t files, bytes, keys;
	int64_t last_us;
};
static struct kd_progress kd_prog;
static bool kd_prog_out_tty;   /* keys go to the terminal: no progress among them */

static void kd_progress_show(bool force)
{
	if (!kd_prog.on)
		return;
	int64_t now = kv_mono_us();
	if (!force && now - kd_prog.last_us < 100000)
		return;
	kd_prog.last_us = now;
	fprintf(stderr, "\rkevy-dump: %" PRIu64 " file(s), %.1f MiB loaded, %" PRIu64
		" key(s) out   ", kd_prog.files, (double)kd_prog.bytes / (1 << 20), kd_prog.keys);
}

static void kd_progress_done(void)
{
	if (kd_prog.on && kd_prog.last_us)
		fputs("\r\033[K", stderr);
}

static void kd_load_report(void *arg, const struct aof_file_report *r)
{
	(void)arg;
	kd_prog.files++;
	kd_prog.bytes += r->size;
	kd_progress_show(false);
}

/* One stored key (expired ones included: the stats count them as "past";
 * a dump leaves them out, as the server would not return them). */
static void kd_key(struct kd_dump *d, uint32_t shard, const struct kv_entry *e)
{
	if (!kd_key_wanted(d->o, shard, e))
		return;
	if (d->o->stats) {
		kd_stats_add(&d->stats, shard, e, d->now_ms);
		d->keys++;
		return;
	}
	if (kd_expired(entry_expire(e), d->now_ms))
		return;
	d->keys++;
	kd_prog.keys++;
	if (!kd_prog_out_tty)
		kd_progress_show(false);
	switch (d->o->fmt) {
	case KD_TEXT: kd_print_text(d, shard, e); break;
	case KD_JSON: kd_print_json(d, shard, e); break;
	case KD_RESP:
		if (d->db != d->resp_db) {
			/* The commands that follow go to the key's database. */
			char num[16];
			int n = snprintf(num, sizeof(num), "%" PRIu32, d->db);
			struct kv_slice sel[2] = { { "SELECT", 6 }, { num, (size_t)n } };
			kd_resp_cmd(d->out, 2, sel);
			d->resp_db = d->db;
		}
		keydump_entry(e, kd_resp_cmd, d->out);
		break;
	}
}

/* After the last key. */
static void kd_keys_done(struct kd_dump *d)
{
	if (d->o->stats)
		kd_stats_print(d->out, &d->stats, d->o->fmt);
	kd_stats_free(&d->stats);
}

/* ------------------------------------------------------------------ */
/* a data directory */

static int kd_load_exit(int rc)
{
	return rc == KV_ECORRUPT || rc == KV_EMISMATCH || rc == KV_EVERSION || rc == KV_ETORN
		       ? KD_EXIT_DAMAGED
		       : KD_EXIT_ERROR;
}

/* aof_load_dir with the options' bounds; prints the refusal.  0 or the exit
 * code. */
static int kd_load(const struct kd_opts *o, const char *dir, struct kv_dbs **dbs, uint32_t *n)
{
	char err[8192] = "";
	int rc = aof_load_dir(dir, o->until_lsn, o->until_ms, kd_load_report, NULL, dbs, n, err,
			      sizeof(err));
	kd_progress_done();
	kd_prog.last_us = 0;
	if (rc == 0)
		return 0;
	if (!err[0])
		snprintf(err, sizeof(err), "%s: %s", dir, kv_strerror(rc));
	fprintf(stderr, "kevy-dump: %s\n", err);
	if (rc == -ENOENT || rc == -ENOTDIR)
		fprintf(stderr, "kevy-dump: %s: not a kevy data directory (no %s)\n", dir,
			DATASET_FILE);
	return kd_load_exit(rc);
}

static void kd_free_dbs(struct kv_dbs *dbs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		dbs_free(&dbs[i]);
	free(dbs);
}

struct kd_scan {
	struct kd_dump *d;
	uint32_t shard;
};

static void kd_scan_entry(void *arg, const struct kv_entry *e)
{
	struct kd_scan *s = arg;
	kd_key(s->d, s->shard, e);
}

/* The function libraries (functions.kevy), before the keys of a whole
 * dump: text `function library "NAME" len N code "..."`; JSON an object
 * with `function_library` and `code`; RESP the FUNCTION LOAD REPLACE that
 * recreates each.  A damaged file is refused as the server refuses it. */
static int kd_functions(const struct kd_opts *o, FILE *out)
{
	if (o->key_glob || o->type >= 0 || o->shard >= 0 || o->stats)
		return KD_EXIT_OK;   /* a filtered dump lists keys only */
	char path[4200], msg[5200];
	snprintf(path, sizeof(path), "%s/%s", o->target, FN_FILE);
	struct kv_buf payload = KV_BUF_INIT;
	int rc = fn_file_read(path, &payload, msg, sizeof(msg));
	if (rc == -ENOENT) {
		kv_buf_free(&payload);
		return KD_EXIT_OK;
	}
	struct fn_code *items = NULL;
	size_t n = 0;
	if (rc == 0 && fn_payload_parse((const uint8_t *)payload.data, payload.len, &items, &n,
					msg, sizeof(msg)) < 0) {
		char m2[1100];
		snprintf(m2, sizeof(m2), "%.1000s", msg);
		snprintf(msg, sizeof(msg), "%.4000s: its FUNCTION DUMP payload: %s", path, m2);
		rc = KV_ECORRUPT;
	}
	kv_buf_free(&payload);
	if (rc < 0) {
		fprintf(stderr, "kevy-dump: %s\n", msg);
		return kd_load_exit(rc);
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = "";
		size_t nlen = 0;
		(void)fn_code_name(items[i].code, items[i].len, &name, &nlen);
		if (o->fmt == KD_RESP) {
			struct kv_slice argv[4] = { { "FUNCTION", 8 }, { "LOAD", 4 }, { "REPLACE", 7 },
						    { items[i].code, items[i].len } };
			kd_resp_write(out, 4, argv);
		} else if (o->fmt == KD_JSON) {
			struct kc_json j;
			kc_json_init(&j, out);
			kc_json_begin_object(&j);
			kc_json_key(&j, "function_library");
			kc_json_string_len(&j, name, nlen);
			kc_json_key(&j, "code");
			kc_json_string_len(&j, items[i].code, items[i].len);
			kc_json_end_object(&j);
			fputc('\n', out);
		} else {
			fputs("function library ", out);
			kd_put_quoted(out, name, nlen);
			fprintf(out, " len %zu code ", items[i].len);
			kd_put_quoted(out, items[i].code, items[i].len);
			fputc('\n', out);
		}
	}
	fn_codes_free(items, n);
	return KD_EXIT_OK;
}

static int kd_run_dir(const struct kd_opts *o, FILE *out)
{
	struct kv_dbs *dbs;
	uint32_t n;
	int code = kd_load(o, o->target, &dbs, &n);
	if (code)
		return code;
	code = kd_functions(o, out);
	if (code) {
		kd_free_dbs(dbs, n);
		return code;
	}
	struct kd_dump d = { .o = o, .out = out, .now_ms = kv_time_ms() };
	for (uint32_t i = 0; i < n; i++) {
		if (o->shard >= 0 && (uint64_t)o->shard != i)
			continue;
		struct kd_scan s = { &d, i };
		for (uint32_t db = 0; db < dbs[i].n; db++) {
			uint64_t cursor = 0;
			d.db = db;
			do {
				cursor = db_scan(dbs[i].db[db], cursor, 0, kd_scan_entry, &s);
			} while (cursor);
		}
	}
	kd_keys_done(&d);
	kd_free_dbs(dbs, n);
	if (o->shard >= 0 && (uint64_t)o->shard >= n)
		fprintf(stderr, "kevy-dump: warning: %s has %" PRIu32 " shard(s); no shard %" PRId64
			"\n", o->target, n, o->shard);
	return KD_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* --replay */

struct kd_count {
	uint64_t *keys;
	uint32_t n;
};

static void kd_count_entry(void *arg, const struct kv_entry *e)
{
	struct kd_count *c = arg;
	struct kv_slice k = entry_key(e);
	c->keys[kv_key_shard(k.ptr, k.len, c->n)]++;
}

/* Keys and snapshot bytes per new shard, as text or one JSON object. */
static void kd_replay_summary(const struct kd_opts *o, FILE *out, uint32_t nsrc, uint32_t n,
			      const uint64_t *keys)
{
	uint64_t total_keys = 0, total_bytes = 0;
	uint64_t *bytes = kv_calloc(n, sizeof(uint64_t));
	for (uint32_t i = 0; i < n; i++) {
		char path[4200];
		struct stat st;
		snprintf(path, sizeof(path), "%s/kevy-s%" PRIu32 "-g1.snap", o->replay_out, i);
		bytes[i] = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
		total_keys += keys[i];
		total_bytes += bytes[i];
	}
	if (o->fmt == KD_JSON) {
		struct kc_json j;
		kc_json_init(&j, out);
		kc_json_begin_object(&j);
		kc_json_key(&j, "source");
		kc_json_string(&j, o->target);
		kc_json_key(&j, "source_shards");
		kc_json_u64(&j, nsrc);
		kc_json_key(&j, "out");
		kc_json_string(&j, o->replay_out);
		kc_json_key(&j, "shards");
		kc_json_u64(&j, n);
		kc_json_key(&j, "keys");
		kc_json_u64(&j, total_keys);
		kc_json_key(&j, "bytes");
		kc_json_u64(&j, total_bytes);
		kc_json_key(&j, "per_shard");
		kc_json_begin_array(&j);
		for (uint32_t i = 0; i < n; i++) {
			kc_json_begin_object(&j);
			kc_json_key(&j, "shard");
			kc_json_u64(&j, i);
			kc_json_key(&j, "keys");
			kc_json_u64(&j, keys[i]);
			kc_json_key(&j, "bytes");
			kc_json_u64(&j, bytes[i]);
			kc_json_end_object(&j);
		}
		kc_json_end_array(&j);
		kc_json_end_object(&j);
		fputc('\n', out);
	} else {
		for (uint32_t i = 0; i < n; i++)
			fprintf(out, "shard %" PRIu32 " keys %" PRIu64 " bytes %" PRIu64 "\n", i,
				keys[i], bytes[i]);
		fprintf(out, "kevy-dump: replayed %s (%" PRIu32 " shard(s)) into %s: %" PRIu32
			" shard(s), %" PRIu64 " key(s), %" PRIu64 " snapshot bytes\n", o->target, nsrc,
			o->replay_out, n, total_keys, total_bytes);
	}
	free(bytes);
}

static int kd_run_replay(const struct kd_opts *o, FILE *out)
{
	struct kv_dbs *dbs;
	uint32_t nsrc;
	int code = kd_load(o, o->target, &dbs, &nsrc);
	if (code)
		return code;
	uint32_t n = o->shards ? o->shards : nsrc;
	char err[8192] = "";
	int rc = aof_write_dataset(o->replay_out, n, dbs, nsrc, err, sizeof(err));
	if (rc < 0) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s: %s", o->replay_out, kv_strerror(rc));
		fprintf(stderr, "kevy-dump: %s\n", err);
		kd_free_dbs(dbs, nsrc);
		return KD_EXIT_ERROR;
	}
	/* What went where: the same placement the writer used (and the server
	 * uses), so the counts match a DBSIZE per shard. */
	struct kd_count c = { kv_calloc(n, sizeof(uint64_t)), n };
	for (uint32_t i = 0; i < nsrc; i++) {
		for (uint32_t db = 0; db < dbs[i].n; db++) {
			uint64_t cursor = 0;
			do {
				cursor = db_scan(dbs[i].db[db], cursor, 0, kd_count_entry, &c);
			} while (cursor);
		}
	}
	kd_free_dbs(dbs, nsrc);
	kd_replay_summary(o, out, nsrc, n, c.keys);
	free(c.keys);
	return KD_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* a lone AOF segment */

static bool kd_record_wanted(const struct kd_opts *o, const struct file_header *h,
			     const struct aof_record *rec, int64_t time_ms)
{
	if (o->shard >= 0 && (uint64_t)o->shard != h->shard_id)
		return false;
	if (o->from_lsn && rec->lsn < o->from_lsn)
		return false;
	if (o->until_lsn && rec->lsn > o->until_lsn)
		return false;
	if (o->until_ms && time_ms > o->until_ms)
		return false;
	if (!o->key_glob)
		return true;
	/* --key: some command's first argument after its name matches. */
	struct aof_payload_iter it;
	aof_payload_iter_init(&it, rec->payload, rec->payload_len);
	bool match = false;
	int argc;
	struct kv_slice *argv;
	while (!match && aof_payload_next(&it, &argc, &argv) == 1)
		match = argc >= 2 && glob_match(o->key_glob, strlen(o->key_glob), argv[1].ptr,
						 argv[1].len, false);
	aof_payload_iter_free(&it);
	return match;
}

static bool kd_record_utf8(const struct aof_record *rec)
{
	struct aof_payload_iter it;
	aof_payload_iter_init(&it, rec->payload, rec->payload_len);
	bool ok = true;
	int argc;
	struct kv_slice *argv;
	while (ok && aof_payload_next(&it, &argc, &argv) == 1)
		for (int i = 0; i < argc && ok; i++)
			ok = kc_utf8_valid(argv[i].ptr, argv[i].len);
	aof_payload_iter_free(&it);
	return ok;
}

/* A unit header as one line: "unit <boot>-<seq> parts s0@88 s1@120 reads s2@40". */
static void kd_unit_line(char *out, size_t cap, const struct aof_unit *u)
{
	size_t n = (size_t)snprintf(out, cap, "unit %016" PRIx64 "-%" PRIu64, u->boot, u->seq);
	for (int role = AOF_UNIT_PART; role <= AOF_UNIT_READ && n < cap; role++) {
		bool first = true;
		for (uint32_t i = 0; i < u->nrows && n < cap; i++) {
			if (u->rows[i].role != role)
				continue;
			n += (size_t)snprintf(out + n, cap - n, "%s s%u@%" PRIu64,
					      first ? (role == AOF_UNIT_PART ? " parts" : " reads") : "",
					      u->rows[i].shard, u->rows[i].lsn);
			first = false;
		}
	}
}

static void kd_print_record(FILE *out, enum kd_format fmt, const struct aof_record *rec,
			    int64_t time_ms, const char *unit)
{
	struct aof_payload_iter it;
	int argc;
	struct kv_slice *argv;
	struct kc_json j;
	bool bin = fmt == KD_JSON && !kd_record_utf8(rec);
	if (fmt == KD_TEXT) {
		fprintf(out, "lsn %" PRIu64 " time %" PRId64 " offset %" PRIu64 "\n", rec->lsn,
			time_ms, rec->offset);
		if (unit)
			fprintf(out, "  %s\n", unit);
	} else if (fmt == KD_JSON) {
		kc_json_init(&j, out);
		kc_json_begin_object(&j);
		kc_json_key(&j, "lsn");
		kc_json_u64(&j, rec->lsn);
		kc_json_key(&j, "time_ms");
		kc_json_i64(&j, time_ms);
		kc_json_key(&j, "offset");
		kc_json_u64(&j, rec->offset);
		kc_json_key(&j, "binary");
		kc_json_bool(&j, bin);
		kc_json_key(&j, "unit");
		if (unit)
			kc_json_string(&j, unit);
		else
			kc_json_null(&j);
		kc_json_key(&j, "commands");
		kc_json_begin_array(&j);
	}
	aof_payload_iter_init(&it, rec->payload, rec->payload_len);
	while (aof_payload_next(&it, &argc, &argv) == 1) {
		if (fmt == KD_RESP) {
			kd_resp_write(out, argc, argv);
		} else if (fmt == KD_TEXT) {
			fputs(" ", out);
			for (int i = 0; i < argc; i++) {
				fputc(' ', out);
				kd_put_quoted(out, argv[i].ptr, argv[i].len);
			}
			fputc('\n', out);
		} else {
			kc_json_begin_array(&j);
			for (int i = 0; i < argc; i++) {
				if (bin)
					kc_json_bytes(&j, argv[i].ptr, argv[i].len);
				else
					kc_json_string_len(&j, argv[i].ptr, argv[i].len);
			}
			kc_json_end_array(&j);
		}
	}
	aof_payload_iter_free(&it);
	if (fmt == KD_JSON) {
		kc_json_end_array(&j);
		kc_json_end_object(&j);
		fputc('\n', out);
	}
}

static int kd_run_segment(const struct kd_opts *o, FILE *out)
{
	const char *path = o->target;
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_RDONLY, 0);
	if (rc < 0) {
		fprintf(stderr, "kevy-dump: %s: cannot be opened: %s\n", path, kv_strerror(rc));
		return KD_EXIT_ERROR;
	}
	struct aof_reader r;
	struct aof_reader_config cfg = { 0 };
	aof_reader_init(&r, &cfg);
	uint64_t off = 0;
	int code = KD_EXIT_OK;
	for (;;) {
		struct aof_record rec;
		rc = aof_reader_next(&r, &rec);
		if (rc == AOF_RECORD) {
			if (rec.type == AOF_REC_RESOLVE) {
				uint64_t *lsns;
				size_t n, nids;
				if (o->fmt == KD_TEXT &&
				    aof_resolve_decode(rec.payload, rec.payload_len, NULL, &lsns, &n,
						       &nids) == 0) {
					fprintf(out, "lsn %" PRIu64 " resolve: recovery dropped %zu "
						"record(s) of %zu unit(s) across shards:", rec.lsn, n,
						nids);
					for (size_t i = 0; i < n; i++)
						fprintf(out, " %" PRIu64, lsns[i]);
					fputc('\n', out);
					free(lsns);
				}
				continue;
			}
			if (!aof_rec_numbered(rec.type))
				continue;   /* SEGMENT_END: no commands */
			/* A unit's part: its header, then an effect like any other. */
			struct aof_unit u;
			char unit[1024];
			bool is_unit = false;
			if (rec.type == AOF_REC_UNIT) {
				const char *why;
				if (aof_unit_decode(rec.payload, rec.payload_len, &u, &why) < 0)
					continue;   /* the reader checked it */
				kd_unit_line(unit, sizeof(unit), &u);
				rec.payload = u.effect;
				rec.payload_len = (uint32_t)u.effect_len;
				aof_unit_free(&u);
				is_unit = true;
			}
			struct aof_payload_iter it;
			aof_payload_iter_init(&it, rec.payload, rec.payload_len);
			int64_t time_ms = it.time_ms;
			aof_payload_iter_free(&it);
			if (kd_record_wanted(o, aof_reader_header(&r), &rec, time_ms))
				kd_print_record(out, o->fmt, &rec, time_ms, is_unit ? unit : NULL);
			continue;
		}
		if (rc == AOF_NEED_MORE) {
			ssize_t got = kvio_fill(&f, &r.in, &off);
			if (got < 0) {
				fprintf(stderr, "kevy-dump: %s: read error at offset %" PRIu64 ": %s\n",
					path, off, kv_strerror((int)got));
				code = KD_EXIT_ERROR;
				break;
			}
			continue;
		}
		if (rc == AOF_CLEAN_EOF)
			break;
		/* The reader's verdict, in the server's words.  A torn tail is
		 * what recovery cuts from a shard's last segment: the records
		 * before it are whole, so they were dumped. */
		char line[4800];
		aof_verdict_describe(aof_reader_verdict(&r), path, line, sizeof(line));
		if (rc == KV_ETORN) {
			fprintf(stderr, "kevy-dump: warning: %s\n", line);
		} else {
			fprintf(stderr, "kevy-dump: %s\n", line);
			code = KD_EXIT_DAMAGED;
		}
		break;
	}
	aof_reader_free(&r);
	kvio_close(&f);
	return code;
}

/* ------------------------------------------------------------------ */
/* a lone snapshot */

/* Each key is rebuilt by the snapshot loader in a scratch keyspace as its
 * fragments arrive, dumped like a directory's key, then dropped: memory
 * stays at one key, whatever the snapshot's size. */
static int kd_run_snapshot(const struct kd_opts *o, FILE *out)
{
	const char *path = o->target;
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_RDONLY, 0);
	if (rc < 0) {
		fprintf(stderr, "kevy-dump: %s: cannot be opened: %s\n", path, kv_strerror(rc));
		return KD_EXIT_ERROR;
	}
	struct snap_reader r;
	struct snap_reader_config cfg = { 0 };
	struct kv_dbs dbs;
	dbs_init(&dbs, 1);
	dbs.growable = true;      /* as many databases as the file names */
	struct snap_loader l;
	snap_reader_init(&r, &cfg);
	snap_loader_init(&l, &dbs);
	struct kd_dump d = { .o = o, .out = out, .now_ms = kv_time_ms() };
	uint64_t off = 0;
	int code = KD_EXIT_OK;
	for (;;) {
		struct snap_fragment frag;
		rc = snap_reader_next(&r, &frag);
		if (rc == SNAP_FRAGMENT) {
			/* A corrupt value is the reader's verdict, described below. */
			int lrc = snap_load_fragment(&r, &l, &frag);
			if (lrc == KV_ECORRUPT)
				continue;
			if (lrc < 0) {
				fprintf(stderr, "kevy-dump: %s: block %" PRIu64 ": %s\n", path,
					frag.block, kv_strerror(lrc));
				code = KD_EXIT_ERROR;
				break;
			}
			if (frag.last) {
				struct kv_db *db = dbs.db[frag.db];
				const struct kv_entry *e = db_lookup(db, frag.key.ptr, frag.key.len, 0);
				kv_assert(e != NULL);
				d.db = frag.db;
				kd_key(&d, snap_reader_header(&r)->shard_id, e);
				db_delete(db, frag.key.ptr, frag.key.len);
			}
			continue;
		}
		if (rc == SNAP_NEED_MORE) {
			ssize_t got = kvio_fill(&f, &r.in, &off);
			if (got < 0) {
				fprintf(stderr, "kevy-dump: %s: read error at offset %" PRIu64 ": %s\n",
					path, off, kv_strerror((int)got));
				code = KD_EXIT_ERROR;
				break;
			}
			continue;
		}
		if (rc != SNAP_END) {
			char line[4800];
			snap_verdict_describe(snap_reader_verdict(&r), path, line, sizeof(line));
			fprintf(stderr, "kevy-dump: %s\n", line);
			code = KD_EXIT_DAMAGED;
		}
		break;
	}
	if (code == KD_EXIT_OK)
		kd_keys_done(&d);
	else
		kd_stats_free(&d.stats);
	snap_loader_free(&l);
	snap_reader_free(&r);
	dbs_free(&dbs);
	kvio_close(&f);
	return code;
}

/* ------------------------------------------------------------------ */
/* which kind of file */

enum kd_kind { KD_KIND_SEGMENT = 1, KD_KIND_SNAPSHOT };

static bool kd_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* By name (*.aof, *.snap), else by what the headers' decoders recognize.
 * 0: neither. */
static int kd_file_kind(const char *path)
{
	if (kd_ends_with(path, ".aof"))
		return KD_KIND_SEGMENT;
	if (kd_ends_with(path, ".snap"))
		return KD_KIND_SNAPSHOT;
	uint8_t head[AOF_HEADER_SIZE > SNAP_HEADER_SIZE ? AOF_HEADER_SIZE : SNAP_HEADER_SIZE];
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(head, 1, sizeof(head), f);
	fclose(f);
	enum aof_verdict_kind ak = AOF_VERDICT_NOT_AOF;
	enum snap_verdict_kind sk = SNAP_VERDICT_NOT_SNAP;
	struct file_header ah;
	struct file_header sh;
	if (aof_header_decode(head, n, NULL, &ah, &ak, NULL, 0) == 0 || ak != AOF_VERDICT_NOT_AOF)
		return KD_KIND_SEGMENT;
	if (snap_header_decode(head, n, NULL, &sh, &sk, NULL, 0) == 0 ||
	    sk != SNAP_VERDICT_NOT_SNAP)
		return KD_KIND_SNAPSHOT;
	return 0;
}

/* ------------------------------------------------------------------ */
/* command line */

static void kd_usage(FILE *out)
{
	fputs("Usage: kevy-dump [--json | --resp] [--key GLOB] [--type TYPE] [--shard N]\n"
	      "                 [--until-lsn L] [--until-time MS] [--stats] DATA_DIR\n"
	      "       kevy-dump [--json | --resp] [--key GLOB] [--shard N] [--from-lsn L]\n"
	      "                 [--until-lsn L] [--until-time MS] FILE.aof\n"
	      "       kevy-dump [--json | --resp] [--key GLOB] [--type TYPE] [--shard N]\n"
	      "                 [--stats] FILE.snap\n"
	      "       kevy-dump --replay OUT_DIR [--shards N] [--until-lsn L] [--until-time MS]\n"
	      "                 [--json] DATA_DIR\n"
	      "\n"
	      "Print what a kevy data directory (its current state, or its state as of an\n"
	      "LSN or a time), an AOF segment or a snapshot holds; or write a fresh data\n"
	      "directory of snapshots from one, re-sharded (--replay).  Reads with the\n"
	      "server's own code and changes nothing in its input.\n"
	      "\n"
	      "  (default)        text: one line per key (per record for a segment), strings\n"
	      "                   quoted as redis-cli does (\"a\\r\\n\\x00\")\n"
	      "  --json           one JSON object per line (\"binary\": true: each string is\n"
	      "                   bytes, one code point U+0000-U+00FF per byte)\n"
	      "  --resp           the commands that recreate the keys, as RESP, for\n"
	      "                   redis-cli --pipe (a segment: its records' commands)\n"
	      "  --key GLOB       only keys matching GLOB (Redis KEYS syntax)\n"
	      "  --type TYPE      only keys of TYPE: string, list, set, zset, hash, stream\n"
	      "  --shard N        only shard N\n"
	      "  --from-lsn L     segment: records with LSN >= L\n"
	      "  --until-lsn L    records with LSN <= L (a directory: per shard)\n"
	      "  --until-time MS  records whose time is <= MS (ms since the epoch)\n"
	      "  --bits           text, JSON: a string also as its set bit positions\n"
	      "                   (bit 0 = the first byte's high bit, as GETBIT counts)\n"
	      "  --stats          keys and bytes per type, the 10 largest keys, TTLs\n"
	      "  --replay OUT     write the dataset into the empty directory OUT\n"
	      "  --shards N       with --replay: shard count of OUT (default: the source's)\n"
	      "  --help, --version\n"
	      "\n"
	      "Exit status:\n"
	      "  0  done\n"
	      "  2  the input is damaged: the server would refuse it (the message says\n"
	      "     where; kevy-check says more)\n"
	      "  3  usage error, I/O error, not a data directory or kevy file, or --replay's\n"
	      "     OUT_DIR already holds a dataset\n"
	      "\n"
	      "See kevy-dump(1) and docs/tools.md.\n", out);
}

static int kd_usage_error(const char *msg)
{
	fprintf(stderr, "kevy-dump: %s\n", msg);
	fputs("Try 'kevy-dump --help'.\n", stderr);
	return KD_EXIT_ERROR;
}

/* Returns -1 to go on, else the exit code. */
static int kd_parse_args(int argc, char **argv, struct kd_opts *o)
{
	enum { O_JSON = 256, O_RESP, O_KEY, O_TYPE, O_SHARD, O_FROM, O_UNTIL, O_UNTIL_TIME,
	       O_STATS, O_REPLAY, O_SHARDS, O_HELP, O_VERSION, O_BITS };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "resp", no_argument, NULL, O_RESP },
		{ "key", required_argument, NULL, O_KEY },
		{ "type", required_argument, NULL, O_TYPE },
		{ "shard", required_argument, NULL, O_SHARD },
		{ "from-lsn", required_argument, NULL, O_FROM },
		{ "until-lsn", required_argument, NULL, O_UNTIL },
		{ "until-time", required_argument, NULL, O_UNTIL_TIME },
		{ "stats", no_argument, NULL, O_STATS },
		{ "bits", no_argument, NULL, O_BITS },
		{ "replay", required_argument, NULL, O_REPLAY },
		{ "shards", required_argument, NULL, O_SHARDS },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, resp = false;
	char msg[300];
	uint64_t v;
	opterr = 0;
	o->type = -1;
	o->shard = -1;
	int c;
	while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		switch (c) {
		case O_JSON: json = true; break;
		case O_RESP: resp = true; break;
		case O_BITS: o->bits = true; break;
		case O_KEY: o->key_glob = optarg; break;
		case O_TYPE:
			o->type = kd_type_parse(optarg);
			if (o->type < 0) {
				snprintf(msg, sizeof(msg), "--type: '%s' is not one of string, list, "
					 "set, zset, hash, stream", optarg);
				return kd_usage_error(msg);
			}
			break;
		case O_SHARD:
			if (!kd_parse_u64(optarg, 0, UINT32_MAX, &v))
				return kd_usage_error("--shard needs a shard number");
			o->shard = (int64_t)v;
			break;
		case O_FROM:
			if (!kd_parse_u64(optarg, 1, UINT64_MAX, &o->from_lsn))
				return kd_usage_error("--from-lsn needs an LSN >= 1");
			break;
		case O_UNTIL:
			if (!kd_parse_u64(optarg, 1, UINT64_MAX, &o->until_lsn))
				return kd_usage_error("--until-lsn needs an LSN >= 1");
			break;
		case O_UNTIL_TIME:
			if (!kd_parse_u64(optarg, 1, INT64_MAX, &v))
				return kd_usage_error("--until-time needs a time in ms since the epoch");
			o->until_ms = (int64_t)v;
			break;
		case O_STATS: o->stats = true; break;
		case O_REPLAY: o->replay_out = optarg; break;
		case O_SHARDS:
			if (!kd_parse_u64(optarg, 1, 1024, &v))
				return kd_usage_error("--shards needs a count from 1 to 1024");
			o->shards = (uint32_t)v;
			break;
		case O_HELP: kd_usage(stdout); return KD_EXIT_OK;
		case O_VERSION: printf("kevy-dump %s\n", KEVY_VERSION_STRING); return KD_EXIT_OK;
		case ':':
			snprintf(msg, sizeof(msg), "option '%s' needs a value", argv[optind - 1]);
			return kd_usage_error(msg);
		default:
			snprintf(msg, sizeof(msg), "unknown option '%s'", argv[optind - 1]);
			return kd_usage_error(msg);
		}
	}
	if (json && resp)
		return kd_usage_error("--json and --resp are two formats: pick one");
	o->fmt = json ? KD_JSON : resp ? KD_RESP : KD_TEXT;
	if (o->bits && (resp || o->stats || o->replay_out))
		return kd_usage_error("--bits goes with the text and JSON key listings, not --resp, "
				      "--stats or --replay");
	if (optind == argc)
		return kd_usage_error("missing DATA_DIR (or FILE.aof, FILE.snap)");
	if (optind + 1 != argc)
		return kd_usage_error("exactly one DATA_DIR (or FILE.aof, FILE.snap) at a time");
	o->target = argv[optind];
	if (o->replay_out) {
		if (resp || o->stats || o->key_glob || o->type >= 0 || o->shard >= 0 || o->from_lsn)
			return kd_usage_error("--replay writes every key: it takes only --shards, "
					      "--until-lsn, --until-time and --json");
	} else if (o->shards) {
		return kd_usage_error("--shards goes with --replay");
	}
	if (o->stats && resp)
		return kd_usage_error("--stats prints text or JSON, not RESP");
	return -1;
}

/* The checks that depend on what the target is. */
static int kd_check_target(const struct kd_opts *o, bool is_dir, int kind)
{
	if (o->replay_out && !is_dir)
		return kd_usage_error("--replay reads a data directory");
	if (is_dir && o->from_lsn)
		return kd_usage_error("--from-lsn goes with a segment (FILE.aof): a directory "
				      "is loaded from its start");
	if (kind == KD_KIND_SEGMENT && (o->type >= 0 || o->stats || o->bits))
		return kd_usage_error("a segment holds commands, not keys: --type, --stats and "
				      "--bits need a directory or a snapshot");
	if (kind == KD_KIND_SNAPSHOT && (o->from_lsn || o->until_lsn || o->until_ms))
		return kd_usage_error("a snapshot is one point in time: --from-lsn, --until-lsn "
				      "and --until-time need a directory or a segment");
	return 0;
}

int main(int argc, char **argv)
{
	kd_prog.on = isatty(2);
	kd_prog_out_tty = isatty(1);
	atexit(kd_progress_done);
	struct kd_opts o = { 0 };
	int code = kd_parse_args(argc, argv, &o);
	if (code >= 0)
		return code;
	if (kvio_init() != 0)
		return KD_EXIT_ERROR;   /* kvio printed why (KEVY_FAILPOINTS / KEVY_TRACE) */
	/* Refusals come back as values with their line; the load's notices
	 * would only mix with the dump. */
	log_set_level(LOG_WARNING + 1);
	cmd_table_init();

	struct stat st;
	if (stat(o.target, &st) != 0) {
		fprintf(stderr, "kevy-dump: %s: cannot access: %s\n", o.target, strerror(errno));
		return KD_EXIT_ERROR;
	}
	bool is_dir = S_ISDIR(st.st_mode);
	int kind = is_dir ? 0 : kd_file_kind(o.target);
	if (!is_dir && !kind) {
		fprintf(stderr, "kevy-dump: %s: neither a data directory nor a kevy AOF segment "
			"or snapshot\n", o.target);
		return KD_EXIT_ERROR;
	}
	if ((code = kd_check_target(&o, is_dir, kind)) != 0)
		return code;

	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (o.replay_out)
		code = kd_run_replay(&o, stdout);
	else if (is_dir)
		code = kd_run_dir(&o, stdout);
	else if (kind == KD_KIND_SEGMENT)
		code = kd_run_segment(&o, stdout);
	else
		code = kd_run_snapshot(&o, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kevy-dump: writing the output: %s\n", strerror(errno));
		return KD_EXIT_ERROR;
	}
	return code;
}
