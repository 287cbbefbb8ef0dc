/*
 * crash_fuzz.c - corruption fuzzing of a kevy data directory (issue 7 part 4).
 *
 * What it proves: for bounded, seeded random damage to one file of a clean
 * data directory (bit flips, byte runs, truncations, splices from the same
 * or another file of the same kind, insertions, deletions, header damage,
 * appended bytes) the library's own check and load code, the code the server
 * and kevy-check run,
 *   - detects it: aof_check_dir() does not say clean.  The one exception
 *     allowed is a cut of a shard's *last* segment exactly at a record
 *     boundary, which is byte for byte what a crash before those appends
 *     leaves; the load must then equal the clean directory loaded up to the
 *     last LSN kept.  (Whole records removed from the middle of a segment are
 *     counted apart as a format gap: format.md allows LSN gaps.)
 *   - a torn tail (KV_ETORN) is only ever a tail of a shard's last segment:
 *     the bytes before the cut are the clean file's, the cut is at a clean
 *     record boundary, aof_load_dir() succeeds and its keyspaces equal the
 *     clean directory's loaded up to the last LSN before the cut (other
 *     shards: the whole clean keyspace) - nothing damaged is loaded;
 *   - any other verdict (corrupt, mismatch, version, I/O) makes
 *     aof_load_dir() refuse: no silent load of damaged data;
 *   - nothing crashes or trips a sanitizer (CI runs it under ASan/UBSan).
 *
 * Usage:
 *   crash_fuzz --dir CLEAN_DIR --seed S --iterations N [--only I]
 *              [--scratch DIR] [--keep-failed DIR] [--emit-samples K OUTDIR]
 * Iteration I draws from its own PRNG stream (splitmix64 of S and I), so
 * `--only I` replays one iteration exactly; every failure prints that
 * command.  --emit-samples writes K mutated directories, spread evenly over
 * the iterations, as OUTDIR/<I>/data plus OUTDIR/<I>/expect (key=value lines:
 * the verdict, the file, and for a torn tail the cut that recovery must make)
 * for crash_fuzz.py to start the real server on.
 *
 * Exit: 0 pass, 1 a rule broken (or a clean directory that is not clean),
 * 2 usage or I/O error.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "persist/aof.h"
#include "persist/aof_plan.h"
#include "persist/aof_format.h"
#include "commands/cmd.h"
#include "crash_rng.h"
#include "store/keydump.h"
#include "base/kv.h"
#include "persist/kvio.h"
#include "base/log.h"
#include "store/store.h"

/* ------------------------------------------------------------------ */
/* PRNG: crash_rng.h, one stream per iteration */

/* ------------------------------------------------------------------ */
/* the clean directory */

enum cf_kind { K_DATASET, K_MANIFEST, K_SEG_LAST, K_SEG_EARLY, K_SNAP, K_COUNT };
static const char *const kind_names[K_COUNT] = { "dataset", "manifest", "segment-last",
						 "segment-early", "snapshot" };
static const size_t kind_header[K_COUNT] = { 48, 64, AOF_HEADER_SIZE, AOF_HEADER_SIZE, 72 };

struct cf_file {
	char name[256];
	bool named;            /* read by recovery (dataset, manifest, or named by one) */
	int kind;
	uint32_t shard;
	uint8_t *data;
	size_t len;
	/* segments: the clean records */
	size_t nrec;
	uint64_t *rec_off, *rec_end, *rec_lsn;
	uint64_t lsn_before;   /* the shard's LSN before this segment's first record */
};

struct cf_shard_sig {
	uint64_t keys;
	uint64_t sig;
};

static struct {
	const char *dir, *scratch, *keep_failed, *emit_dir;
	uint64_t seed, iterations, emit_k;
	int64_t only;          /* -1: all */
	struct cf_file *files;
	size_t nfiles;
	uint32_t nshards;
	struct cf_shard_sig *clean_sig;
	/* cache of clean loads up to an LSN: (lsn -> per shard sig) */
	struct { uint64_t lsn; struct cf_shard_sig *sig; } cache[64];
	int ncache;
} g = { .only = -1 };

static void die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "crash_fuzz: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	exit(2);
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	uint8_t *p = kv_malloc(cap);
	for (;;) {
		if (n == cap)
			p = kv_realloc(p, cap *= 2);
		size_t got = fread(p + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	*len = n;
	return p;
}

static int write_all(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	size_t w = len ? fwrite(p, 1, len, f) : 0;
	int rc = fclose(f);
	return w == len && rc == 0 ? 0 : -EIO;
}

static void path_of(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap)
		die("%s/%s: path too long", dir, name);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static struct cf_file *file_by_name(const char *name)
{
	for (size_t i = 0; i < g.nfiles; i++)
		if (strcmp(g.files[i].name, name) == 0)
			return &g.files[i];
	return NULL;
}

/* Every regular file of the clean directory, in memory. */
static void load_clean_files(void)
{
	DIR *d = opendir(g.dir);
	if (!d)
		die("%s: cannot open: %s", g.dir, strerror(errno));
	struct dirent *de;
	size_t cap = 0;
	while ((de = readdir(d)) != NULL) {
		char p[4400];
		struct stat st;
		path_of(p, sizeof(p), g.dir, de->d_name);
		if (stat(p, &st) != 0 || !S_ISREG(st.st_mode) || strlen(de->d_name) >= 256)
			continue;
		if (g.nfiles == cap)
			g.files = kv_realloc(g.files, (cap = cap ? cap * 2 : 16) * sizeof(*g.files));
		struct cf_file *f = &g.files[g.nfiles++];
		memset(f, 0, sizeof(*f));
		snprintf(f->name, sizeof(f->name), "%s", de->d_name);
		f->data = read_all(p, &f->len);
		if (!f->data)
			die("%s: cannot read: %s", p, strerror(errno));
	}
	closedir(d);
	/* Deterministic order whatever readdir gives. */
	for (size_t i = 1; i < g.nfiles; i++)
		for (size_t j = i; j > 0 && strcmp(g.files[j - 1].name, g.files[j].name) > 0; j--) {
			struct cf_file t = g.files[j];
			g.files[j] = g.files[j - 1];
			g.files[j - 1] = t;
		}
}

/* The clean check's reports say which files recovery reads, of what kind,
 * in manifest order (so the last segment reported for a shard is its last). */
struct clean_scan {
	int bad;
	char line[4500];
};

static void clean_report(void *arg, const struct aof_file_report *r)
{
	struct clean_scan *cs = arg;
	if (r->verdict != 0 && !cs->bad) {
		cs->bad = 1;
		snprintf(cs->line, sizeof(cs->line), "%s", r->line ? r->line : r->path);
	}
	struct cf_file *f = file_by_name(base_name(r->path));
	if (!f)
		return;
	f->named = true;
	f->shard = r->shard_id;
	switch (r->kind) {
	case AOF_FILE_DATASET:
	case AOF_FILE_TURNON:   /* the fixtures it fuzzes have none: treated as the dataset file */
	case AOF_FILE_RESHARD:
	case AOF_FILE_FUNCTIONS:
		f->kind = K_DATASET;
		break;
	case AOF_FILE_MANIFEST: f->kind = K_MANIFEST; break;
	case AOF_FILE_SNAPSHOT: f->kind = K_SNAP; break;
	case AOF_FILE_SEGMENT:
		/* Earlier segments of this shard stop being its last. */
		for (size_t i = 0; i < g.nfiles; i++)
			if (g.files[i].named && g.files[i].kind == K_SEG_LAST &&
			    g.files[i].shard == r->shard_id)
				g.files[i].kind = K_SEG_EARLY;
		f->kind = K_SEG_LAST;
		break;
	}
}

/* The clean segment's records, read by the library's own reader. */
static void index_segment(struct cf_file *f)
{
	struct aof_reader r;
	struct aof_reader_config cfg = { 0 };
	aof_reader_init(&r, &cfg);
	size_t pos = 0, cap = 0;
	int rc;
	for (;;) {
		struct aof_record rec;
		rc = aof_reader_next(&r, &rec);
		if (rc == AOF_RECORD) {
			if (f->nrec == cap) {
				cap = cap ? cap * 2 : 64;
				f->rec_off = kv_realloc(f->rec_off, cap * sizeof(uint64_t));
				f->rec_end = kv_realloc(f->rec_end, cap * sizeof(uint64_t));
				f->rec_lsn = kv_realloc(f->rec_lsn, cap * sizeof(uint64_t));
			}
			f->rec_off[f->nrec] = rec.offset;
			f->rec_end[f->nrec] = rec.offset + rec.size;
			f->rec_lsn[f->nrec] = rec.lsn;
			f->nrec++;
			continue;
		}
		if (rc == AOF_NEED_MORE) {
			if (pos == f->len)
				aof_reader_eof(&r);
			else
				pos += aof_reader_feed(&r, f->data + pos, f->len - pos);
			continue;
		}
		break;
	}
	const struct file_header *h = aof_reader_header(&r);
	if (rc != AOF_CLEAN_EOF || !h)
		die("%s: the clean segment does not read clean (%s)", f->name, kv_strerror(rc));
	f->lsn_before = h->lsn;
	aof_reader_free(&r);
}

/* ------------------------------------------------------------------ */
/* keyspace signatures: order-independent, deterministic, over keydump */

struct sig_key {
	uint64_t h;            /* running hash of the key's canonical form */
	uint64_t *items;       /* hashes of unordered items (set, hash, zset) */
	size_t nitems, cap;
	uint64_t ordered;      /* chain over list elements / string value */
	int64_t deadline;
	int type;
	int pending_field;     /* hash: a field waiting for its value */
	uint64_t field_h;
};

static uint64_t hslice(const struct kv_slice *s, uint64_t seed)
{
	return kv_hash64(s->ptr, s->len, seed);
}

static void sig_item(struct sig_key *k, uint64_t h)
{
	if (k->nitems == k->cap)
		k->items = kv_realloc(k->items, (k->cap = k->cap ? k->cap * 2 : 16) * sizeof(uint64_t));
	k->items[k->nitems++] = h;
}

static bool cf_arg_is(const struct kv_slice *a, const char *s)
{
	size_t n = strlen(s);
	return a->len == n && strncasecmp(a->ptr, s, n) == 0;
}

/* One keydump command of the entry being summed up. */
static void sig_cmd(void *arg, int argc, const struct kv_slice *argv)
{
	struct sig_key *k = arg;
	if (argc < 2)
		return;
	if (cf_arg_is(&argv[0], "SET")) {
		k->ordered = hslice(&argv[2], 1);
		if (argc >= 5 && cf_arg_is(&argv[3], "PXAT"))
			k->deadline = (int64_t)hslice(&argv[4], 2);
	} else if (cf_arg_is(&argv[0], "RPUSH")) {
		for (int i = 2; i < argc; i++)
			k->ordered = hslice(&argv[i], k->ordered + 3);
	} else if (cf_arg_is(&argv[0], "SADD")) {
		for (int i = 2; i < argc; i++)
			sig_item(k, hslice(&argv[i], 4));
	} else if (cf_arg_is(&argv[0], "HSET") || cf_arg_is(&argv[0], "ZADD")) {
		for (int i = 2; i + 1 < argc; i += 2)
			sig_item(k, hslice(&argv[i + 1], hslice(&argv[i], 5)));
	} else if (cf_arg_is(&argv[0], "PEXPIREAT") && argc >= 3) {
		k->deadline = (int64_t)hslice(&argv[2], 2);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct sig_walk {
	uint64_t *keys;
	size_t n, cap;
	uint32_t db;
};

static void sig_entry(void *arg, const struct kv_entry *e)
{
	struct sig_walk *w = arg;
	struct sig_key k = { .deadline = entry_expire(e), .type = (int)entry_type(e) };
	keydump_entry(e, sig_cmd, &k);
	k.type += (int)w->db * 8;   /* the same key in another database differs */
	if (k.nitems)
		qsort(k.items, k.nitems, sizeof(uint64_t), cmp_u64);
	struct kv_slice name = entry_key(e);
	uint64_t h = hslice(&name, 7);
	h = kv_hash64(&k.type, sizeof(k.type), h);
	h = kv_hash64(&k.deadline, sizeof(k.deadline), h);
	h = kv_hash64(&k.ordered, sizeof(k.ordered), h);
	if (k.nitems)
		h = kv_hash64(k.items, k.nitems * sizeof(uint64_t), h);
	free(k.items);
	if (w->n == w->cap)
		w->keys = kv_realloc(w->keys, (w->cap = w->cap ? w->cap * 2 : 256) * sizeof(uint64_t));
	w->keys[w->n++] = h;
}

static struct cf_shard_sig db_sig(struct kv_dbs *dbs)
{
	struct sig_walk w = { 0 };
	for (uint32_t d = 0; d < dbs->n; d++) {
		uint64_t cursor = 0;
		w.db = d;
		do {
			cursor = db_scan(dbs->db[d], cursor, 0, sig_entry, &w);
		} while (cursor);
	}
	struct cf_shard_sig s = { .keys = w.n, .sig = 11 };
	if (w.n) {
		qsort(w.keys, w.n, sizeof(uint64_t), cmp_u64);
		s.sig = kv_hash64(w.keys, w.n * sizeof(uint64_t), 11);
	}
	free(w.keys);
	return s;
}

/* aof_load_dir(dir, until_lsn) as signatures; NULL if the load refused
 * (rc and the line in err). */
static struct cf_shard_sig *load_sigs(const char *dir, uint64_t until_lsn, int *rc, char *err,
				      size_t cap)
{
	struct kv_dbs *dbs = NULL;
	uint32_t n = 0;
	err[0] = '\0';
	*rc = aof_load_dir(dir, until_lsn, 0, NULL, NULL, &dbs, &n, err, cap);
	if (*rc != 0)
		return NULL;
	struct cf_shard_sig *s = kv_calloc(n ? n : 1, sizeof(*s));
	for (uint32_t i = 0; i < n; i++) {
		s[i] = db_sig(&dbs[i]);
		dbs_free(&dbs[i]);
	}
	free(dbs);
	if (n != g.nshards) {
		free(s);
		*rc = KV_ECORRUPT;
		snprintf(err, cap, "loaded %u shards, the clean directory has %u", n, g.nshards);
		return NULL;
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* mutations */

enum cf_mut {
	M_BIT1, M_BITS, M_RUN_RAND, M_RUN_ZERO, M_RUN_FF, M_TRUNC, M_TRUNC_REC, M_SPLICE_SAME,
	M_SPLICE_OTHER, M_INSERT, M_DELETE, M_HEADER, M_APPEND, M_COUNT
};
static const char *const mut_names[M_COUNT] = {
	"bitflip", "bitflips", "run-random", "run-zero", "run-ff", "truncate", "truncate-record",
	"splice-same", "splice-other", "insert", "delete", "header", "append"
};

static uint64_t n_until_checked;   /* torn/cut loads also checked with until_lsn */

struct mutation {
	int file;              /* index into g.files */
	int mut;
	uint8_t *data;
	size_t len;
	size_t first_diff;     /* first byte offset where it differs from the clean file */
	char what[600];        /* offsets and lengths, for the failure line */
};

static size_t run_len(struct crash_rng *r, size_t max)
{
	/* Mostly short runs, sometimes a sector or more. */
	size_t n = crash_rng_below(r, 4) ? 1 + crash_rng_below(r, 16) : 1 + crash_rng_below(r, 600);
	return n > max ? max : n;
}

/* A random record boundary of a segment (header end included), < len. */
static size_t rec_boundary(struct crash_rng *r, const struct cf_file *f)
{
	size_t nb = f->nrec + 1;
	size_t i = crash_rng_below(r, nb);
	return i == 0 ? AOF_HEADER_SIZE : f->rec_end[i - 1];
}

/* Replace [at, at+del) of src with ins (insn bytes). */
static void splice_bytes(struct mutation *m, const uint8_t *src, size_t len, size_t at, size_t del,
			 const uint8_t *ins, size_t insn)
{
	if (at > len)
		at = len;
	if (del > len - at)
		del = len - at;
	m->len = len - del + insn;
	m->data = kv_malloc(m->len ? m->len : 1);
	memcpy(m->data, src, at);
	if (insn)
		memcpy(m->data + at, ins, insn);
	memcpy(m->data + at + insn, src + at + del, len - at - del);
}

static int other_same_kind(struct crash_rng *r, int self)
{
	int cand[256], n = 0;
	int k = g.files[self].kind;
	bool seg = k == K_SEG_LAST || k == K_SEG_EARLY;
	for (size_t i = 0; i < g.nfiles && n < 256; i++) {
		int ki = g.files[i].kind;
		if ((int)i == self || !g.files[i].named)
			continue;
		if (ki == k || (seg && (ki == K_SEG_LAST || ki == K_SEG_EARLY)))
			cand[n++] = (int)i;
	}
	return n ? cand[crash_rng_below(r, (uint64_t)n)] : self;
}

static void mutate(struct crash_rng *r, struct mutation *m)
{
	const struct cf_file *f = &g.files[m->file];
	const uint8_t *s = f->data;
	size_t len = f->len;
	bool seg = f->kind == K_SEG_LAST || f->kind == K_SEG_EARLY;
	m->data = NULL;
	m->what[0] = '\0';
	switch (m->mut) {
	case M_BIT1:
	case M_BITS:
	case M_HEADER: {
		splice_bytes(m, s, len, 0, 0, NULL, 0);
		if (!len)
			break;
		size_t lim = m->mut == M_HEADER ? KV_MIN(len, kind_header[f->kind]) : len;
		int flips = m->mut == M_BIT1 ? 1 : 2 + (int)crash_rng_below(r, 7);
		size_t base = crash_rng_below(r, lim), win = 1 + crash_rng_below(r, 64);
		for (int i = 0; i < flips; i++) {
			size_t at = base + crash_rng_below(r, win);
			if (m->mut != M_BITS || crash_rng_below(r, 2) || at >= lim)
				at = crash_rng_below(r, lim);
			int bit = (int)crash_rng_below(r, 8);
			if (m->mut == M_HEADER && crash_rng_below(r, 3) == 0)
				m->data[at] = (uint8_t)crash_rng_next(r);
			else
				m->data[at] ^= (uint8_t)(1u << bit);
			if (i == 0)
				snprintf(m->what, sizeof(m->what), "%d change(s) from offset %zu", flips,
					 at);
		}
		break;
	}
	case M_RUN_RAND:
	case M_RUN_ZERO:
	case M_RUN_FF: {
		splice_bytes(m, s, len, 0, 0, NULL, 0);
		if (!len)
			break;
		size_t at = crash_rng_below(r, len), n = run_len(r, len - at);
		for (size_t i = 0; i < n; i++)
			m->data[at + i] = m->mut == M_RUN_ZERO ? 0 : m->mut == M_RUN_FF ? 0xff
											   : (uint8_t)crash_rng_next(r);
		snprintf(m->what, sizeof(m->what), "%zu byte(s) at offset %zu", n, at);
		break;
	}
	case M_TRUNC: {
		size_t to = len ? crash_rng_below(r, len) : 0;
		splice_bytes(m, s, len, to, len - to, NULL, 0);
		snprintf(m->what, sizeof(m->what), "cut to %zu of %zu bytes", to, len);
		break;
	}
	case M_TRUNC_REC: {
		size_t to = seg ? rec_boundary(r, f) : KV_MIN(kind_header[f->kind], len);
		if (seg && f->nrec && crash_rng_below(r, 2))
			to = f->rec_off[f->nrec - 1];   /* drop exactly the last record */
		splice_bytes(m, s, len, to, len - to, NULL, 0);
		snprintf(m->what, sizeof(m->what), "cut at boundary %zu of %zu bytes", to, len);
		break;
	}
	case M_SPLICE_SAME:
	case M_SPLICE_OTHER: {
		const struct cf_file *src =
			&g.files[m->mut == M_SPLICE_OTHER ? other_same_kind(r, m->file) : m->file];
		if (!len || !src->len) {
			splice_bytes(m, s, len, 0, 0, NULL, 0);
			break;
		}
		size_t from, to, n;
		bool whole_rec = seg && src->nrec && (src->kind == K_SEG_LAST ||
						       src->kind == K_SEG_EARLY) && crash_rng_below(r, 3) == 0;
		if (whole_rec) {
			/* A whole record of src put at a record boundary of f:
			 * over the record there, or inserted. */
			size_t i = crash_rng_below(r, src->nrec);
			from = src->rec_off[i];
			n = src->rec_end[i] - from;
			to = rec_boundary(r, f);
			bool insert = crash_rng_below(r, 2);
			size_t del = 0;
			if (!insert) {
				for (size_t j = 0; j < f->nrec; j++)
					if (f->rec_off[j] == to)
						del = f->rec_end[j] - to;
			}
			splice_bytes(m, s, len, to, del, src->data + from, n);
			snprintf(m->what, sizeof(m->what), "record at %zu of %s %s at %zu", from,
				 src->name, del ? "over the record" : "inserted", to);
			break;
		}
		from = crash_rng_below(r, src->len);
		to = crash_rng_below(r, 2) ? from : crash_rng_below(r, len);
		if (to >= len)
			to = len - 1;
		n = run_len(r, KV_MIN(src->len - from, len - to));
		splice_bytes(m, s, len, to, n, src->data + from, n);
		snprintf(m->what, sizeof(m->what), "%zu byte(s) from %s offset %zu over offset %zu", n,
			 src->name, from, to);
		break;
	}
	case M_INSERT: {
		size_t at = crash_rng_below(r, len + 1), n = run_len(r, 4096);
		uint8_t *ins = kv_malloc(n);
		int how = (int)crash_rng_below(r, 3);
		for (size_t i = 0; i < n; i++)
			ins[i] = how == 0 ? 0 : how == 1 ? (uint8_t)crash_rng_next(r)
						: (len ? s[crash_rng_below(r, len)] : 0);
		splice_bytes(m, s, len, at, 0, ins, n);
		free(ins);
		snprintf(m->what, sizeof(m->what), "%zu byte(s) inserted at %zu", n, at);
		break;
	}
	case M_DELETE: {
		size_t at = len ? crash_rng_below(r, len) : 0, n = run_len(r, len - at);
		splice_bytes(m, s, len, at, n, NULL, 0);
		snprintf(m->what, sizeof(m->what), "%zu byte(s) deleted at %zu", n, at);
		break;
	}
	case M_APPEND: {
		size_t n = run_len(r, 4096);
		uint8_t *ins = kv_malloc(n);
		bool zeros = crash_rng_below(r, 2);
		for (size_t i = 0; i < n; i++)
			ins[i] = zeros ? 0 : (uint8_t)crash_rng_next(r);
		splice_bytes(m, s, len, len, 0, ins, n);
		free(ins);
		snprintf(m->what, sizeof(m->what), "%zu %s byte(s) appended", n,
			 zeros ? "zero" : "random");
		break;
	}
	}
	size_t i = 0;
	while (i < len && i < m->len && s[i] == m->data[i])
		i++;
	m->first_diff = i;
}

static bool mutation_changed(const struct mutation *m)
{
	const struct cf_file *f = &g.files[m->file];
	return m->len != f->len || memcmp(m->data, f->data, f->len) != 0;
}

/* ------------------------------------------------------------------ */
/* judging one mutated directory */

enum cf_verdict { V_CLEAN, V_TORN, V_CORRUPT, V_MISMATCH, V_VERSION, V_ERROR, V_COUNT };
static const char *const verdict_names[V_COUNT] = { "clean", "torn", "corrupt", "mismatch",
						    "version", "error" };

static int verdict_class(int rc)
{
	switch (rc) {
	case 0: return V_CLEAN;
	case KV_ETORN: return V_TORN;
	case KV_ECORRUPT: return V_CORRUPT;
	case KV_EMISMATCH: return V_MISMATCH;
	case KV_EVERSION: return V_VERSION;
	default: return V_ERROR;
	}
}

/* Outcome classes counted besides the verdict. */
enum cf_outcome { O_DETECTED, O_BOUNDARY_CUT, O_GAP, O_FREE_SPACE, O_FAIL };

struct check_scan {
	const char *target;     /* the mutated file's name */
	bool torn_seen;
	bool torn_elsewhere;    /* a torn verdict on another file: impossible */
	uint64_t torn_offset;
	char line[4500];
	char first_bad[4500];
};

static void check_report(void *arg, const struct aof_file_report *r)
{
	struct check_scan *cs = arg;
	if (r->verdict == 0)
		return;
	if (!cs->first_bad[0])
		snprintf(cs->first_bad, sizeof(cs->first_bad), "%s", r->line ? r->line : r->path);
	if (r->verdict == KV_ETORN) {
		if (strcmp(base_name(r->path), cs->target) != 0)
			cs->torn_elsewhere = true;
		cs->torn_seen = true;
		cs->torn_offset = r->offset;
		snprintf(cs->line, sizeof(cs->line), "%s", r->line ? r->line : "");
	}
}

/* The signatures of the clean directory loaded up to LSN `lsn` (cached);
 * NULL when that load refuses (another shard's snapshot was cut after lsn:
 * until_lsn bounds every shard). */
static const struct cf_shard_sig *clean_until(uint64_t lsn)
{
	for (int i = 0; i < g.ncache; i++)
		if (g.cache[i].lsn == lsn)
			return g.cache[i].sig;
	int rc;
	char why[5000];
	struct cf_shard_sig *s = load_sigs(g.dir, lsn, &rc, why, sizeof(why));
	if (g.ncache == (int)KV_ARRAY_LEN(g.cache)) {
		free(g.cache[0].sig);
		memmove(&g.cache[0], &g.cache[1], sizeof(g.cache[0]) * (KV_ARRAY_LEN(g.cache) - 1));
		g.ncache--;
	}
	g.cache[g.ncache].lsn = lsn;
	g.cache[g.ncache].sig = s;
	g.ncache++;
	return s;
}

static bool sig_eq(const struct cf_shard_sig *a, const struct cf_shard_sig *b)
{
	return a->keys == b->keys && a->sig == b->sig;
}

/* The keyspaces a load of the mutated dir must give when segment f (a
 * shard's last) keeps exactly its clean bytes [0, cut): those of the clean
 * directory with f cut there (the header kept), which must load clean;
 * and, where until_lsn can express it, the damaged shard as the clean
 * directory loaded up to the last LSN kept. */
static bool expect_cut(const struct cf_file *f, uint64_t cut, const struct cf_shard_sig *got,
		       char *why, size_t cap)
{
	uint64_t last = f->lsn_before;
	for (size_t i = 0; i < f->nrec && f->rec_end[i] <= cut; i++)
		last = f->rec_lsn[i];
	char d[4400], p[4600];
	snprintf(d, sizeof(d), "%s/expect", g.scratch);
	mkdir(d, 0755);
	size_t keep = KV_MAX((size_t)cut, (size_t)AOF_HEADER_SIZE);
	for (size_t i = 0; i < g.nfiles; i++) {
		path_of(p, sizeof(p), d, g.files[i].name);
		size_t n = &g.files[i] == f ? KV_MIN(f->len, keep) : g.files[i].len;
		if (write_all(p, g.files[i].data, n) != 0) {
			snprintf(why, cap, "%s: cannot write", p);
			return false;
		}
	}
	int rc;
	struct cf_shard_sig *s = load_sigs(d, 0, &rc, why, cap);
	for (size_t i = 0; i < g.nfiles; i++) {
		path_of(p, sizeof(p), d, g.files[i].name);
		unlink(p);
	}
	rmdir(d);
	if (!s)
		return false;
	bool ok = true;
	for (uint32_t i = 0; i < g.nshards && ok; i++) {
		if (!sig_eq(&s[i], &got[i])) {
			snprintf(why, cap, "shard %u: %" PRIu64 " key(s) loaded (signature %016" PRIx64
				 "), the clean directory cut at %" PRIu64 " has %" PRIu64 " (%016"
				 PRIx64 ")", i, got[i].keys, got[i].sig, cut, s[i].keys, s[i].sig);
			ok = false;
		} else if (i != f->shard && !sig_eq(&got[i], &g.clean_sig[i])) {
			snprintf(why, cap, "shard %u (not damaged) differs from the clean load", i);
			ok = false;
		}
	}
	free(s);
	const struct cf_shard_sig *u = ok && last ? clean_until(last) : NULL;
	if (u && !sig_eq(&u[f->shard], &got[f->shard])) {
		snprintf(why, cap, "shard %u: %" PRIu64 " key(s) loaded, the clean directory up to "
			 "LSN %" PRIu64 " has %" PRIu64, f->shard, got[f->shard].keys, last,
			 u[f->shard].keys);
		ok = false;
	}
	if (u)
		n_until_checked++;
	return ok;
}

static bool is_boundary(const struct cf_file *f, uint64_t off)
{
	if (off == AOF_HEADER_SIZE)
		return true;
	for (size_t i = 0; i < f->nrec; i++)
		if (f->rec_end[i] == off)
			return true;
	return false;
}

/* The last record boundary (header end included) at or before off. */
static uint64_t boundary_at_or_before(const struct cf_file *f, uint64_t off)
{
	uint64_t b = AOF_HEADER_SIZE;
	for (size_t i = 0; i < f->nrec && f->rec_end[i] <= off; i++)
		b = f->rec_end[i];
	return b;
}

/* A mutated segment that is whole clean records of f with some removed
 * from the middle (the header kept): LSN gaps are allowed by the format. */
static bool is_record_subsequence(const struct cf_file *f, const struct mutation *m)
{
	if (m->len < AOF_HEADER_SIZE || memcmp(m->data, f->data, AOF_HEADER_SIZE) != 0)
		return false;
	size_t pos = AOF_HEADER_SIZE, j = 0;
	while (pos < m->len) {
		bool found = false;
		for (; j < f->nrec; j++) {
			size_t n = f->rec_end[j] - f->rec_off[j];
			if (pos + n <= m->len && memcmp(m->data + pos, f->data + f->rec_off[j], n) == 0) {
				pos += n;
				j++;
				found = true;
				break;
			}
		}
		if (!found)
			return false;
	}
	return true;
}

/* Where a segment's records end: the zeros after it are preallocated space. */
static uint64_t seg_records_end(const struct cf_file *f)
{
	return f->nrec ? f->rec_end[f->nrec - 1] : AOF_HEADER_SIZE;
}

/* A mutated segment that is the clean file's bytes up to a record
 * boundary B (its header at least), then zeros only (more, fewer or none
 * than the clean file has): B, else 0.  B at the records' end: only the
 * preallocated zeros changed.  Before it: what a crash leaves when the
 * appends after B never reached the preallocated space (format.md,
 * "Preallocated space"), as a cut at B is without preallocation. */
static uint64_t zero_tail_boundary(const struct cf_file *f, const struct mutation *m)
{
	if (f->kind != K_SEG_LAST && f->kind != K_SEG_EARLY)
		return 0;
	size_t z = m->len;
	while (z > 0 && m->data[z - 1] == 0)
		z--;
	for (size_t i = f->nrec + 1; i-- > 0;) {
		uint64_t b = i == 0 ? AOF_HEADER_SIZE : f->rec_end[i - 1];
		if (b >= z && b <= m->len && memcmp(m->data, f->data, b) == 0)
			return b;
	}
	return 0;
}

struct result {
	int verdict;           /* V_* */
	int outcome;           /* O_* */
	uint64_t cut;          /* torn: the offset recovery cuts at */
	char why[12000];
};

static void judge(const struct mutation *m, struct result *res)
{
	const struct cf_file *f = &g.files[m->file];
	struct check_scan cs = { .target = f->name };
	int vrc = aof_check_dir(g.scratch, false, check_report, &cs);
	int lrc;
	char lerr[5000];
	struct cf_shard_sig *got = load_sigs(g.scratch, 0, &lrc, lerr, sizeof(lerr));
	res->verdict = verdict_class(vrc);
	res->outcome = O_DETECTED;
	res->why[0] = '\0';
	res->cut = 0;
	switch (res->verdict) {
	case V_CLEAN:
		if (f->kind == K_SEG_LAST && m->len < f->len && m->len >= AOF_HEADER_SIZE &&
		    memcmp(m->data, f->data, m->len) == 0 && is_boundary(f, m->len)) {
			/* A cut at a record boundary of the last segment: what a
			 * crash before those appends leaves. */
			res->outcome = O_BOUNDARY_CUT;
			res->cut = m->len;
			if (!got)
				snprintf(res->why, sizeof(res->why), "checker says clean but the load "
					 "refused: %s", lerr);
			else if (!expect_cut(f, m->len, got, res->why, sizeof(res->why)))
				;
			else
				break;
			res->outcome = O_FAIL;
			break;
		}
		uint64_t zb = zero_tail_boundary(f, m);
		if (zb && zb < seg_records_end(f) && f->kind == K_SEG_LAST) {
			/* The appends after zb never landed: as a cut there. */
			res->outcome = O_BOUNDARY_CUT;
			res->cut = zb;
			if (got && expect_cut(f, zb, got, res->why, sizeof(res->why)))
				break;
			if (!got)
				snprintf(res->why, sizeof(res->why), "checker says clean but the load "
					 "refused: %s", lerr);
			res->outcome = O_FAIL;
			break;
		}
		if (zb && zb == seg_records_end(f)) {
			/* The records are untouched and only zeros follow them:
			 * the preallocated space grew, shrank or was rewritten
			 * with zeros.  Nothing to detect; it must load as the
			 * clean directory does. */
			res->outcome = O_FREE_SPACE;
			res->cut = seg_records_end(f);
			bool same = got != NULL;
			for (uint32_t i = 0; same && i < g.nshards; i++)
				same = sig_eq(&got[i], &g.clean_sig[i]);
			if (same)
				break;
			snprintf(res->why, sizeof(res->why), "only preallocated zeros changed, but %s",
				 got ? "the load differs from the clean directory's" : lerr);
			res->outcome = O_FAIL;
			break;
		}
		if ((f->kind == K_SEG_LAST || f->kind == K_SEG_EARLY) && got &&
		    is_record_subsequence(f, m) && !(m->len < f->len &&
						     memcmp(m->data, f->data, m->len) == 0)) {
			/* Whole records missing from the middle (not a cut of an
			 * earlier segment's tail, which is a missed detection). */
			res->outcome = O_GAP;
			break;
		}
		res->outcome = O_FAIL;
		snprintf(res->why, sizeof(res->why), "missed detection: the checker calls the "
			 "damaged directory clean%s", got ? " and it loads" : "");
		break;
	case V_TORN:
		res->cut = cs.torn_offset;
		if (cs.torn_elsewhere || f->kind != K_SEG_LAST) {
			snprintf(res->why, sizeof(res->why), "torn tail reported on a file that is not "
				 "the damaged shard's last segment: %s", cs.line);
			res->outcome = O_FAIL;
		} else if (!got) {
			snprintf(res->why, sizeof(res->why), "torn tail, but the offline load refused: %s",
				 lerr);
			res->outcome = O_FAIL;
		} else if (cs.torn_offset > m->first_diff) {
			snprintf(res->why, sizeof(res->why), "torn tail cut at %" PRIu64 " keeps damaged "
				 "bytes (first change at %zu): %s", cs.torn_offset, m->first_diff, cs.line);
			res->outcome = O_FAIL;
		} else if (cs.torn_offset > AOF_HEADER_SIZE && !is_boundary(f, cs.torn_offset)) {
			snprintf(res->why, sizeof(res->why), "torn tail cut at %" PRIu64 ", not a record "
				 "boundary of the clean file: %s", cs.torn_offset, cs.line);
			res->outcome = O_FAIL;
		} else if (cs.torn_offset >= AOF_HEADER_SIZE &&
			   cs.torn_offset != boundary_at_or_before(f, m->first_diff)) {
			snprintf(res->why, sizeof(res->why), "torn tail cut at %" PRIu64 " drops valid "
				 "records: the first damaged byte is at %zu, in the record from %" PRIu64
				 ": %s", cs.torn_offset, m->first_diff,
				 boundary_at_or_before(f, m->first_diff), cs.line);
			res->outcome = O_FAIL;
		} else if (!expect_cut(f, cs.torn_offset, got, res->why, sizeof(res->why))) {
			res->outcome = O_FAIL;
		}
		break;
	default:
		if (got) {
			res->outcome = O_FAIL;
			snprintf(res->why, sizeof(res->why), "silent load: the checker says %s (%s) but "
				 "aof_load_dir loaded the directory", verdict_names[res->verdict],
				 cs.first_bad);
		}
		break;
	}
	free(got);
}

/* ------------------------------------------------------------------ */
/* the run */

static uint64_t counts[K_COUNT][M_COUNT][V_COUNT];
static uint64_t n_total, n_detected, n_boundary, n_gap, n_free, n_fail, by_verdict[V_COUNT];

static int write_dir(const char *dir, const struct mutation *m)
{
	char p[4600];
	for (size_t i = 0; i < g.nfiles; i++) {
		path_of(p, sizeof(p), dir, g.files[i].name);
		bool mine = m && (int)i == m->file;
		int rc = write_all(p, mine ? m->data : g.files[i].data, mine ? m->len : g.files[i].len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void emit_sample(uint64_t it, const struct mutation *m, const struct result *res)
{
	char d[4400], p[4600];
	snprintf(d, sizeof(d), "%s/%06" PRIu64, g.emit_dir, it);
	mkdir(d, 0755);
	snprintf(p, sizeof(p), "%s/data", d);
	mkdir(p, 0755);
	if (write_dir(p, m) != 0)
		die("%s: cannot write the sample%s", p, "");
	const struct cf_file *f = &g.files[m->file];
	int exit_code = res->verdict == V_CLEAN ? 0 : res->verdict == V_TORN ? 1
			: res->verdict == V_ERROR ? 3 : 2;   /* kevy-check's exit codes */
	snprintf(p, sizeof(p), "%s/expect", d);
	FILE *o = fopen(p, "w");
	if (!o)
		die("%s: cannot write: %s", p, strerror(errno));
	fprintf(o, "verdict=%s\nexit=%d\nfile=%s\nkind=%s\nshard=%u\nmutation=%s\nwhat=%s\n"
		"iteration=%" PRIu64 "\nseed=%" PRIu64 "\n", verdict_names[res->verdict], exit_code,
		f->name, kind_names[f->kind], f->shard, mut_names[m->mut], m->what, it, g.seed);
	if (res->verdict == V_TORN || res->outcome == O_BOUNDARY_CUT ||
	    res->outcome == O_FREE_SPACE)
		fprintf(o, "cut=%" PRIu64 "\nclean_len=%zu\n", res->cut, f->len);
	fclose(o);
}

static void keep_failed(uint64_t it, const struct mutation *m)
{
	char d[4400];
	snprintf(d, sizeof(d), "%s/crash_fuzz-%" PRIu64 "-%" PRIu64, g.keep_failed, g.seed, it);
	mkdir(g.keep_failed, 0755);
	mkdir(d, 0755);
	if (write_dir(d, m) == 0)
		fprintf(stderr, "crash_fuzz: kept the failing directory in %s\n", d);
}

/* Mutation weights: bit flips and runs most, the rest evenly. */
static int pick_mut(struct crash_rng *r)
{
	static const int w[M_COUNT] = { 14, 10, 10, 6, 4, 8, 5, 8, 8, 7, 7, 8, 5 };
	int total = 0;
	for (int i = 0; i < M_COUNT; i++)
		total += w[i];
	int x = (int)crash_rng_below(r, (uint64_t)total);
	for (int i = 0; i < M_COUNT; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return 0;
}

static int pick_file(struct crash_rng *r)
{
	/* Pick a kind first so one big snapshot does not crowd out the
	 * dataset file, then a file of it. */
	int have[K_COUNT] = { 0 }, kinds[K_COUNT], nk = 0;
	for (size_t i = 0; i < g.nfiles; i++)
		if (g.files[i].named)
			have[g.files[i].kind]++;
	static const int w[K_COUNT] = { 1, 2, 4, 3, 3 };
	int total = 0;
	for (int k = 0; k < K_COUNT; k++)
		if (have[k])
			kinds[nk++] = k, total += w[k];
	int x = (int)crash_rng_below(r, (uint64_t)total), k = kinds[0];
	for (int i = 0; i < nk; i++) {
		if (x < w[kinds[i]]) {
			k = kinds[i];
			break;
		}
		x -= w[kinds[i]];
	}
	int pick = (int)crash_rng_below(r, (uint64_t)have[k]);
	for (size_t i = 0; i < g.nfiles; i++)
		if (g.files[i].named && g.files[i].kind == k && pick-- == 0)
			return (int)i;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: crash_fuzz --dir CLEAN_DIR --seed S --iterations N [--only I] "
		"[--scratch DIR] [--keep-failed DIR] [--emit-samples K OUTDIR]\n");
	exit(2);
}

static uint64_t parse_u64(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || !*s || *end)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	bool have_seed = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(a, "--dir") && more)
			g.dir = argv[++i];
		else if (!strcmp(a, "--seed") && more)
			g.seed = parse_u64(argv[++i]), have_seed = true;
		else if (!strcmp(a, "--iterations") && more)
			g.iterations = parse_u64(argv[++i]);
		else if (!strcmp(a, "--only") && more)
			g.only = (int64_t)parse_u64(argv[++i]);
		else if (!strcmp(a, "--scratch") && more)
			g.scratch = argv[++i];
		else if (!strcmp(a, "--keep-failed") && more)
			g.keep_failed = argv[++i];
		else if (!strcmp(a, "--emit-samples") && i + 2 < argc)
			g.emit_k = parse_u64(argv[++i]), g.emit_dir = argv[++i];
		else
			usage();
	}
	if (!g.dir || !have_seed || !g.iterations)
		usage();
	if (kvio_init() != 0)
		return 2;
	log_set_level(LOG_WARNING + 1);   /* refusals come back as values */
	cmd_table_init();

	char scratch_buf[4200];
	bool own_scratch = !g.scratch;
	if (own_scratch) {
		snprintf(scratch_buf, sizeof(scratch_buf), "%s/crash_fuzz-XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(scratch_buf))
			die("%s: mkdtemp: %s", scratch_buf, strerror(errno));
		g.scratch = scratch_buf;
	} else {
		mkdir(g.scratch, 0755);
	}
	if (g.emit_dir)
		mkdir(g.emit_dir, 0755);

	/* The clean directory: it must check clean and load. */
	load_clean_files();
	struct clean_scan cs = { 0 };
	int crc = aof_check_dir(g.dir, false, clean_report, &cs);
	if (crc != 0) {
		fprintf(stderr, "crash_fuzz: %s is not clean (%s): %s\n", g.dir, kv_strerror(crc),
			cs.line);
		return 1;
	}
	for (size_t i = 0; i < g.nfiles; i++)
		if (g.files[i].named && (g.files[i].kind == K_SEG_LAST ||
					 g.files[i].kind == K_SEG_EARLY))
			index_segment(&g.files[i]);
	{
		struct kv_dbs *dbs;
		char err[4800];
		int rc = aof_load_dir(g.dir, 0, 0, NULL, NULL, &dbs, &g.nshards, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "crash_fuzz: %s does not load: %s\n", g.dir, err);
			return 1;
		}
		g.clean_sig = kv_calloc(g.nshards, sizeof(*g.clean_sig));
		for (uint32_t i = 0; i < g.nshards; i++) {
			g.clean_sig[i] = db_sig(&dbs[i]);
			dbs_free(&dbs[i]);
		}
		free(dbs);
	}
	uint64_t keys = 0;
	size_t named = 0;
	for (uint32_t i = 0; i < g.nshards; i++)
		keys += g.clean_sig[i].keys;
	for (size_t i = 0; i < g.nfiles; i++)
		named += g.files[i].named;
	printf("crash_fuzz: %s: %u shard(s), %" PRIu64 " key(s), %zu file(s) recovery reads:",
	       g.dir, g.nshards, keys, named);
	for (size_t i = 0; i < g.nfiles; i++)
		if (g.files[i].named)
			printf(" %s[%s%s%zu rec]", g.files[i].name, kind_names[g.files[i].kind], ",",
			       g.files[i].nrec);
	printf("\n");
	if (write_dir(g.scratch, NULL) != 0)
		die("%s: cannot write the scratch copy%s", g.scratch, "");

	int64_t t0 = kv_mono_us();
	uint64_t emit_every = g.emit_k ? KV_MAX(g.iterations / g.emit_k, (uint64_t)1) : 0, emitted = 0;
	for (uint64_t it = 0; it < g.iterations; it++) {
		if (g.only >= 0 && it != (uint64_t)g.only)
			continue;
		struct crash_rng r = { g.seed * 0x100000001b3ULL ^ (it + 1) * 0x9e3779b97f4a7c15ULL };
		crash_rng_next(&r);
		struct mutation m = { 0 };
		for (int tries = 0; tries < 100; tries++) {
			m.file = pick_file(&r);
			m.mut = pick_mut(&r);
			mutate(&r, &m);
			if (mutation_changed(&m))
				break;
			free(m.data);
			m.data = NULL;
		}
		if (!m.data)
			die("no mutation changed anything%s%s", "", "");
		const struct cf_file *f = &g.files[m.file];
		char p[4600];
		path_of(p, sizeof(p), g.scratch, f->name);
		if (write_all(p, m.data, m.len) != 0)
			die("%s: cannot write: %s", p, strerror(errno));

		struct result res;
		judge(&m, &res);
		n_total++;
		counts[f->kind][m.mut][res.verdict]++;
		by_verdict[res.verdict]++;
		if (res.outcome == O_DETECTED)
			n_detected++;
		else if (res.outcome == O_BOUNDARY_CUT)
			n_boundary++;
		else if (res.outcome == O_FREE_SPACE)
			n_free++;
		else if (res.outcome == O_GAP) {
			n_gap++;
			printf("crash_fuzz: note: iteration %" PRIu64 ": %s %s (%s): whole records "
			       "removed from the middle of a segment load as a gap (format.md allows "
			       "LSN gaps); replay: %s --dir %s --seed %" PRIu64 " --iterations %" PRIu64
			       " --only %" PRIu64 "\n", it, f->name, mut_names[m.mut], m.what, argv[0],
			       g.dir, g.seed, g.iterations, it);
		}
		if (res.outcome == O_FAIL) {
			n_fail++;
			printf("crash_fuzz: FAIL: seed %" PRIu64 " iteration %" PRIu64 ": file %s [%s, "
			       "shard %u], mutation %s (%s), verdict %s: %s\n", g.seed, it, f->name,
			       kind_names[f->kind], f->shard, mut_names[m.mut], m.what,
			       verdict_names[res.verdict], res.why);
			printf("crash_fuzz: replay: %s --dir %s --seed %" PRIu64 " --iterations %" PRIu64
			       " --only %" PRIu64 " --keep-failed /tmp/crash_fuzz-failed\n", argv[0],
			       g.dir, g.seed, g.iterations, it);
			if (g.keep_failed)
				keep_failed(it, &m);
		}
		if (g.emit_dir && emitted < g.emit_k && (g.only >= 0 || it % emit_every == 0)) {
			emit_sample(it, &m, &res);
			emitted++;
		}
		/* Put the clean file back for the next iteration. */
		if (write_all(p, f->data, f->len) != 0)
			die("%s: cannot write: %s", p, strerror(errno));
		free(m.data);
		if (n_fail >= 20) {
			printf("crash_fuzz: stopping after 20 failures\n");
			break;
		}
	}
	double secs = (double)(kv_mono_us() - t0) / 1e6;

	for (int k = 0; k < K_COUNT; k++)
		for (int mu = 0; mu < M_COUNT; mu++) {
			uint64_t row = 0;
			for (int v = 0; v < V_COUNT; v++)
				row += counts[k][mu][v];
			if (!row)
				continue;
			printf("  %-13s %-15s", kind_names[k], mut_names[mu]);
			for (int v = 0; v < V_COUNT; v++)
				if (counts[k][mu][v])
					printf(" %s=%" PRIu64, verdict_names[v], counts[k][mu][v]);
			printf("\n");
		}
	printf("crash_fuzz: %" PRIu64 " mutations, %" PRIu64 " detected (%" PRIu64 " torn, %" PRIu64
	       " corrupt, %" PRIu64 " mismatch, %" PRIu64 " version, %" PRIu64 " error), %" PRIu64
	       " boundary-cut exceptions, %" PRIu64 " record-gap exceptions, %" PRIu64
	       " free-space exceptions, %" PRIu64 " failed (%" PRIu64 " cut loads also matched "
	       "until_lsn), seed %" PRIu64 ", %.1f s\n",
	       n_total, n_detected, by_verdict[V_TORN], by_verdict[V_CORRUPT],
	       by_verdict[V_MISMATCH], by_verdict[V_VERSION], by_verdict[V_ERROR], n_boundary, n_gap,
	       n_free, n_fail, n_until_checked, g.seed, secs);
	fflush(stdout);

	/* Clean up: the scratch copy, the cached loads, the clean files. */
	for (size_t i = 0; i < g.nfiles; i++) {
		char p[4600];
		path_of(p, sizeof(p), g.scratch, g.files[i].name);
		unlink(p);
		free(g.files[i].data);
		free(g.files[i].rec_off);
		free(g.files[i].rec_end);
		free(g.files[i].rec_lsn);
	}
	if (own_scratch)
		rmdir(g.scratch);
	free(g.files);
	free(g.clean_sig);
	for (int i = 0; i < g.ncache; i++)
		free(g.cache[i].sig);
	return n_fail ? 1 : 0;
}
