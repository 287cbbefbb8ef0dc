/*
 * kevy-check.c - the offline checker.  Verifies a data directory with the
 * exact code server recovery runs (aof_check_dir) and says, per file, what
 * recovery would do: load it, cut a torn tail, or refuse to start.  With
 * --fix it cuts torn tails exactly as recovery does (quarantine file, then
 * truncate); it never repairs anything else.  A lone AOF segment can be
 * checked too (the aof_format reader, no repair), and a lone snapshot (the
 * snapshot reader and the loader's rules, no keyspace).
 *
 * It is not a parser: every byte is judged by libkevy.  This file collects
 * the reports, prints them (text or one JSON document), asks before changing
 * anything, and maps the verdicts to exit codes.  Snapshots join with
 * issue 5.  User documentation: docs/tools.md and docs/man/kevy-check.1.
 */
#include <dirent.h>
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
#include "commands/cmd.h"
#include "commands/fx.h"
#include "base/kv.h"
#include "persist/kvio.h"
#include "base/log.h"
#include "persist/snap_format.h"

#include "kc_json.h"

/* Exit codes (docs/tools.md).  Their order is not their severity: see
 * kc_exit_rank(). */
enum {
	KC_EXIT_CLEAN = 0,    /* nothing to do (or every torn tail fixed) */
	KC_EXIT_TORN = 1,     /* torn tail(s) recovery would cut; nothing else */
	KC_EXIT_CORRUPT = 2,  /* corrupt / mismatch / unsupported version */
	KC_EXIT_ERROR = 3,    /* usage, I/O error, not a data directory, refused */
};

/* One file's outcome, copied out of the library's report. */
struct kc_file {
	char *path;
	enum aof_file_kind kind;
	uint32_t shard_id;
	int verdict;
	uint64_t size, records, first_lsn, last_lsn, offset;
	uint64_t free_bytes;      /* a clean segment's preallocated zeros */
	bool fixed;
	char *line;
};

struct kc_progress {
	bool on;                  /* stderr is a terminal and not --quiet */
	uint64_t total_bytes;     /* of the kevy files in the directory */
	uint64_t done_bytes;
	size_t files;
	int64_t last_us;
	bool shown;
};

/* The reports of one aof_check_dir (or single-file) pass. */
struct kc_pass {
	struct kc_file *files;
	size_t n, cap;
	int rc;
	struct kc_progress *progress;
	/* Units across shards (aof_plan.h): what recovery would drop. */
	bool planned;
	struct aof_plan plan;
	int plan_rc;
};

struct kc_opts {
	bool json, fix, yes, quiet;
	const char *target;
};

/* ------------------------------------------------------------------ */
/* verdicts */

static const char *kc_verdict_word(int verdict)
{
	switch (verdict) {
	case 0: return "clean";
	case KV_ETORN: return "torn tail";
	case KV_ECORRUPT: return "corrupt";
	case KV_EMISMATCH: return "mismatch";
	case KV_EVERSION: return "unsupported version";
	case -EBUSY: return "in use by a running server";
	}
	return "I/O error";
}

static const char *kc_kind_word(enum aof_file_kind kind)
{
	switch (kind) {
	case AOF_FILE_DATASET: return "dataset";
	case AOF_FILE_MANIFEST: return "manifest";
	case AOF_FILE_SEGMENT: return "segment";
	case AOF_FILE_SNAPSHOT: return "snapshot";
	case AOF_FILE_TURNON: return "turn-on record";
	case AOF_FILE_FUNCTIONS: return "function libraries";
	case AOF_FILE_RESHARD: return "re-shard record";
	}
	return "?";
}

static int kc_verdict_exit(int verdict)
{
	if (verdict == 0)
		return KC_EXIT_CLEAN;
	if (verdict == KV_ETORN)
		return KC_EXIT_TORN;
	if (verdict == KV_ECORRUPT || verdict == KV_EMISMATCH || verdict == KV_EVERSION)
		return KC_EXIT_CORRUPT;
	return KC_EXIT_ERROR;
}

/* Which exit code wins when files disagree: damage the server refuses
 * (2) over an I/O error that stopped the check (3) over a torn tail (1). */
static int kc_exit_rank(int code)
{
	static const int rank[] = { [KC_EXIT_CLEAN] = 0, [KC_EXIT_TORN] = 1,
				    [KC_EXIT_ERROR] = 2, [KC_EXIT_CORRUPT] = 3 };
	return rank[code];
}

/* The file that decides the pass's exit code (NULL: all clean). */
static const struct kc_file *kc_worst_file(const struct kc_pass *p)
{
	const struct kc_file *worst = NULL;
	for (size_t i = 0; i < p->n; i++) {
		int code = kc_verdict_exit(p->files[i].verdict);
		if (code != KC_EXIT_CLEAN &&
		    (!worst || kc_exit_rank(code) > kc_exit_rank(kc_verdict_exit(worst->verdict))))
			worst = &p->files[i];
	}
	return worst;
}

static int kc_pass_exit(const struct kc_pass *p)
{
	const struct kc_file *w = kc_worst_file(p);
	int code = w ? kc_verdict_exit(w->verdict) : KC_EXIT_CLEAN;
	/* A failure the library returned without a report of its own. */
	int lib = kc_verdict_exit(p->rc);
	return kc_exit_rank(lib) > kc_exit_rank(code) ? lib : code;
}

/* Files (not turn-on records) with this verdict, fixed or not. */
static size_t kc_count(const struct kc_pass *p, int verdict, bool fixed)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->files[i].verdict == verdict && p->files[i].fixed == fixed &&
		     p->files[i].kind != AOF_FILE_TURNON && p->files[i].kind != AOF_FILE_RESHARD;
	return n;
}

/* Shards whose decided turn-on manifest is not committed (pending), or
 * was committed by this run (fixed); with kind AOF_FILE_RESHARD, a decided
 * re-shard not completed (or completed by this run). */
static size_t kc_count_decided(const struct kc_pass *p, enum aof_file_kind kind, bool fixed)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->files[i].kind == kind && p->files[i].fixed == fixed &&
		     p->files[i].verdict == (fixed ? 0 : KV_ETORN);
	return n;
}

/* ------------------------------------------------------------------ */
/* progress (stderr, terminals only) */

static uint64_t kc_dir_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	uint64_t total = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (strncmp(de->d_name, "kevy", 4) == 0 &&
		    fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}

static void kc_progress_tick(struct kc_progress *pg, uint64_t bytes)
{
	if (!pg || !pg->on)
		return;
	pg->files++;
	pg->done_bytes += bytes;
	int64_t now = kv_mono_us();
	if (now - pg->last_us < 100 * 1000)
		return;
	pg->last_us = now;
	pg->shown = true;
	fprintf(stderr, "\rkevy-check: %zu file(s), %.1f of %.1f MiB", pg->files,
		(double)pg->done_bytes / (1 << 20), (double)pg->total_bytes / (1 << 20));
	fflush(stderr);
}

static void kc_progress_clear(struct kc_progress *pg)
{
	if (pg && pg->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		pg->shown = false;
	}
}

/* ------------------------------------------------------------------ */
/* collecting reports */

static char *kc_strdup(const char *s)
{
	return kv_strndup(s ? s : "", s ? strlen(s) : 0);
}

static void kc_pass_add(struct kc_pass *p, const struct aof_file_report *r)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->files = kv_realloc(p->files, p->cap * sizeof(*p->files));
	}
	struct kc_file *f = &p->files[p->n++];
	*f = (struct kc_file){
		.path = kc_strdup(r->path), .kind = r->kind, .shard_id = r->shard_id,
		.verdict = r->verdict, .size = r->size, .records = r->records,
		.free_bytes = r->free_bytes,
		.first_lsn = r->first_lsn, .last_lsn = r->last_lsn, .offset = r->offset,
		.fixed = r->fixed,
	};
	if (r->line && r->line[0]) {
		f->line = kc_strdup(r->line);
	} else {
		/* Some failure paths carry no line: say what we know. */
		char buf[4400];
		snprintf(buf, sizeof(buf), "%s: %s", f->path, kv_strerror(r->verdict));
		f->line = kc_strdup(buf);
	}
	kc_progress_tick(p->progress, r->size);
}

static void kc_report(void *arg, const struct aof_file_report *r)
{
	kc_pass_add(arg, r);
}

static void kc_pass_free(struct kc_pass *p)
{
	if (p->planned)
		aof_plan_free(&p->plan);
	for (size_t i = 0; i < p->n; i++) {
		free(p->files[i].path);
		free(p->files[i].line);
	}
	free(p->files);
	memset(p, 0, sizeof(*p));
}

static void kc_check_dir(const char *dir, bool fix, struct kc_pass *p, struct kc_progress *pg)
{
	memset(p, 0, sizeof(*p));
	p->progress = pg;
	if (pg && pg->on) {
		pg->files = 0;
		pg->done_bytes = 0;
		pg->total_bytes = kc_dir_bytes(dir);
		pg->last_us = kv_mono_us();   /* nothing at all for a quick check */
	}
	/* Refuses (-EBUSY) while a server runs on dir: its last record may be
	 * in flight, which a check would call torn and a fix would cut. */
	p->rc = aof_check_dir_locked(dir, fix, kc_report, p);
	kc_progress_clear(pg);
	/* The files a server would load: what its recovery rule for units
	 * across shards decides about them. */
	int code = kc_pass_exit(p);
	struct dataset_info ds;
	char err[600];
	if ((code == KC_EXIT_CLEAN || code == KC_EXIT_TORN) &&
	    aof_dataset_read(dir, &ds, err, sizeof(err)) == 0) {
		p->planned = true;
		p->plan_rc = aof_plan_build(dir, &ds, &p->plan);
	}
}

/* Dropped units no RESOLVE names yet: recovery would drop them (repairable
 * like a torn tail). */
static size_t kc_new_units(const struct kc_pass *p)
{
	return p->planned && p->plan_rc == 0 ? p->plan.new_units : 0;
}

/* The exit code with the units' verdict folded in. */
static int kc_pass_exit_units(const struct kc_pass *p)
{
	int code = kc_pass_exit(p);
	if (p->planned && p->plan_rc < 0)
		return KC_EXIT_CORRUPT;
	if (code == KC_EXIT_CLEAN && kc_new_units(p))
		return KC_EXIT_TORN;
	return code;
}

/* ------------------------------------------------------------------ */
/* a lone segment: the reader alone (no manifest, so no repair) */

struct kc_seg_scan {
	struct aof_file_report rep;
	char line[4800];
	uint64_t off;
};

/* Read every record of the open file f, validating each EFFECT payload
 * against the header's shard as recovery would.  Returns the verdict. */
static int kc_scan_segment(struct kvio_file *f, const char *path, struct kc_seg_scan *s)
{
	struct aof_reader r;
	struct aof_reader_config cfg = { 0 };
	aof_reader_init(&r, &cfg);
	int rc;
	for (;;) {
		struct aof_record rec;
		rc = aof_reader_next(&r, &rec);
		if (rc == AOF_RECORD) {
			if (rec.type != AOF_REC_EFFECT)
				continue;
			const struct file_header *h = aof_reader_header(&r);
			char why[300];
			if (fx_validate(h->shard_id, h->shard_count, rec.payload, rec.payload_len,
					why, sizeof(why)) < 0) {
				snprintf(s->line, sizeof(s->line), "%s: record LSN %" PRIu64
					 " at offset %" PRIu64 ": %s", path, rec.lsn, rec.offset, why);
				s->rep.offset = rec.offset;
				rc = KV_ECORRUPT;
				break;
			}
			if (!s->rep.records++)
				s->rep.first_lsn = rec.lsn;
			s->rep.last_lsn = rec.lsn;
			continue;
		}
		if (rc == AOF_NEED_MORE) {
			ssize_t got = kvio_fill(f, &r.in, &s->off);
			if (got < 0) {
				snprintf(s->line, sizeof(s->line), "%s: read error at offset %" PRIu64
					 ": %s", path, s->off, kv_strerror((int)got));
				s->rep.offset = s->off;
				rc = (int)got;
				break;
			}
			continue;
		}
		const struct aof_verdict *v = aof_reader_verdict(&r);
		const struct file_header *h = aof_reader_header(&r);
		aof_verdict_describe(v, path, s->line, sizeof(s->line));
		s->rep.shard_id = h ? h->shard_id : 0;
		s->rep.offset = rc == AOF_CLEAN_EOF ? 0 : v->offset;
		rc = rc == AOF_CLEAN_EOF ? 0 : rc;
		break;
	}
	aof_reader_free(&r);
	return rc;
}

/* A lone snapshot: every block verified and decompressed, every value
 * verified by the server's loader (snap_load_fragment, without a keyspace),
 * the footer required (no manifest, so no cut LSN to compare). */
static int kc_scan_snapshot(struct kvio_file *f, const char *path, struct kc_seg_scan *s)
{
	struct snap_reader r;
	struct snap_reader_config cfg = { 0 };
	struct snap_loader l;
	snap_reader_init(&r, &cfg);
	snap_loader_init(&l, NULL);
	int rc;
	for (;;) {
		struct snap_fragment frag;
		rc = snap_reader_next(&r, &frag);
		if (rc == SNAP_FRAGMENT) {
			/* A refusal becomes the reader's verdict, reported below. */
			snap_load_fragment(&r, &l, &frag);
			continue;
		}
		if (rc == SNAP_NEED_MORE) {
			ssize_t got = kvio_fill(f, &r.in, &s->off);
			if (got < 0) {
				snprintf(s->line, sizeof(s->line), "%s: read error at offset %" PRIu64
					 ": %s", path, s->off, kv_strerror((int)got));
				s->rep.offset = s->off;
				rc = (int)got;
				break;
			}
			continue;
		}
		const struct snap_verdict *v = snap_reader_verdict(&r);
		snap_verdict_describe(v, path, s->line, sizeof(s->line));
		s->rep.records = v->entries;
		s->rep.first_lsn = s->rep.last_lsn = v->lsn;
		s->rep.offset = v->offset;
		if (rc == SNAP_END)
			rc = 0;
		break;
	}
	snap_loader_free(&l);
	snap_reader_free(&r);
	return rc;
}

static void kc_check_file(const char *path, struct kc_pass *p)
{
	memset(p, 0, sizeof(*p));
	struct kc_seg_scan s = { .rep = { .path = path, .kind = AOF_FILE_SEGMENT } };
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_RDONLY, 0);
	if (rc < 0) {
		snprintf(s.line, sizeof(s.line), "%s: cannot be opened: %s", path, kv_strerror(rc));
	} else {
		/* A snapshot by its magic (or name), else a segment. */
		char magic[8] = { 0 };
		ssize_t n = kvio_pread(&f, magic, sizeof(magic), 0);
		size_t plen = strlen(path);
		bool snap = (n == 8 && memcmp(magic, SNAP_MAGIC, 8) == 0) ||
			    (plen > 5 && strcmp(path + plen - 5, ".snap") == 0);
		if (snap) {
			s.rep.kind = AOF_FILE_SNAPSHOT;
			rc = kc_scan_snapshot(&f, path, &s);
		} else {
			rc = kc_scan_segment(&f, path, &s);
		}
		kvio_close(&f);
	}
	s.rep.verdict = rc;
	s.rep.size = s.off;
	s.rep.line = s.line;
	kc_pass_add(p, &s.rep);
	p->rc = rc;
}

/* ------------------------------------------------------------------ */
/* text output */

/* Print s with control bytes escaped (a file name can hold anything). */
static void kc_put_text(FILE *out, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c < 0x20 || *c == 0x7f)
			fprintf(out, "\\x%02x", *c);
		else
			fputc(*c, out);
	}
}

/* The report's line without its leading "path: " (the text line already
 * starts with the path). */
static const char *kc_line_tail(const struct kc_file *f)
{
	const char *line = f->line;
	const char *base = strrchr(f->path, '/');
	base = base ? base + 1 : f->path;
	const char *names[] = { f->path, base };
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(names[i]);
		if (n && strncmp(line, names[i], n) == 0 && strncmp(line + n, ": ", 2) == 0)
			return line + n + 2;
	}
	return line;
}

static void kc_print_file(FILE *out, const struct kc_file *f)
{
	kc_put_text(out, f->path);
	fprintf(out, " [%s", kc_kind_word(f->kind));
	if (f->kind != AOF_FILE_DATASET && f->kind != AOF_FILE_FUNCTIONS &&
	    f->kind != AOF_FILE_RESHARD)
		fprintf(out, ", shard %" PRIu32, f->shard_id);
	if ((f->kind == AOF_FILE_TURNON || f->kind == AOF_FILE_RESHARD) &&
	    (f->fixed || f->verdict == KV_ETORN))
		fprintf(out, "]: %s", f->fixed ? (f->kind == AOF_FILE_RESHARD ? "decided, completed now"
							       : "decided, committed now")
					       : (f->kind == AOF_FILE_RESHARD ? "decided, not completed"
							       : "decided, not committed"));
	else
		fprintf(out, "]: %s", f->fixed ? "torn tail, fixed" : kc_verdict_word(f->verdict));
	if (f->kind == AOF_FILE_SEGMENT) {
		fprintf(out, ": %" PRIu64 " record(s)", f->records);
		if (f->records)
			fprintf(out, ", LSN %" PRIu64 "..%" PRIu64, f->first_lsn, f->last_lsn);
		fprintf(out, ", %" PRIu64 " bytes", f->size);
		if (f->free_bytes)
			fprintf(out, " (%" PRIu64 " of them preallocated after the last record)",
				f->free_bytes);
	} else if (f->verdict == 0) {
		fprintf(out, ": %" PRIu64 " %s, %" PRIu64 " bytes", f->records,
			f->kind == AOF_FILE_DATASET ? "shard(s)" :
			f->kind == AOF_FILE_SNAPSHOT ? "key(s)" :
			f->kind == AOF_FILE_FUNCTIONS ? "librar(ies)" : "file(s)", f->size);
		if (f->kind == AOF_FILE_SNAPSHOT)
			fprintf(out, ", cut LSN %" PRIu64, f->first_lsn);
	} else {
		fprintf(out, ": %" PRIu64 " bytes", f->size);
	}
	if (f->verdict != 0 || f->fixed) {
		if (f->kind == AOF_FILE_SEGMENT || f->kind == AOF_FILE_SNAPSHOT)
			fprintf(out, "; offset %" PRIu64, f->offset);
		fputs("; ", out);
		kc_put_text(out, kc_line_tail(f));
	}
	fputc('\n', out);
}

static void kc_print_files(FILE *out, const struct kc_pass *p, bool quiet)
{
	for (size_t i = 0; i < p->n; i++)
		if (!quiet || p->files[i].verdict != 0 || p->files[i].fixed)
			kc_print_file(out, &p->files[i]);
	if (!p->planned)
		return;
	if (p->plan_rc < 0) {
		fputs("units across shards: ", out);
		kc_put_text(out, p->plan.err);
		fputc('\n', out);
		return;
	}
	for (size_t i = 0; p->plan.decided && i < p->plan.res.nunits; i++) {
		char line[4096];
		aof_plan_describe(&p->plan, i, line, sizeof(line));
		fprintf(out, "units across shards: %s\n", line);
	}
}

/* The closing line: the verdict, what it means, what to do. */
static void kc_print_summary(FILE *out, const char *target, const struct kc_pass *p,
			     int code, size_t fixed, const char *error)
{
	size_t torn = kc_count(p, KV_ETORN, false);
	size_t turnon = kc_count_decided(p, AOF_FILE_TURNON, false);
	size_t reshard = kc_count_decided(p, AOF_FILE_RESHARD, false);
	fputs("kevy-check: ", out);
	kc_put_text(out, target);
	if (error) {
		fputs(": ", out);
		kc_put_text(out, error);
		fprintf(out, " (exit %d)\n", code);
		return;
	}
	switch (code) {
	case KC_EXIT_CLEAN:
		if (fixed)
			fprintf(out, ": fixed %zu problem(s) (torn tails quarantined and truncated, "
				"decided manifests committed, incomplete units resolved); "
				"re-verified: clean, %zu file(s)", fixed, p->n);
		else
			fprintf(out, ": clean, %zu file(s)", p->n);
		break;
	case KC_EXIT_TORN:
		if (reshard)
			fprintf(out, ": a re-shard was decided and not completed, which the "
				"server completes at its next start before anything else");
		if (turnon)
			fprintf(out, ": %zu shard manifest(s) decided by turning appendonly on and "
				"not committed, which recovery would commit", turnon);
		if (torn)
			fprintf(out, "%s %zu torn tail(s) that recovery would quarantine and cut",
				turnon ? "," : ":", torn);
		if (kc_new_units(p))
			fprintf(out, "%s %zu unit(s) across shards missing a part that recovery "
				"would drop whole", torn || turnon ? "," : ":", kc_new_units(p));
		fputs("; the server will start (kevy-check --fix does the same now)", out);
		break;
	case KC_EXIT_CORRUPT:
		if (p->planned && p->plan_rc < 0) {
			fputs(": corrupt: units across shards contradict each other; the server "
			      "will refuse to start", out);
			break;
		}
		{
		const struct kc_file *w = kc_worst_file(p);
		fprintf(out, ": %s: the server will refuse to start; nothing here is a torn "
			"tail kevy-check may cut (restore the file from a backup)",
			w ? kc_verdict_word(w->verdict) : "corrupt");
		break;
	}
	default: {
		const struct kc_file *w = kc_worst_file(p);
		if (w && w->kind == AOF_FILE_DATASET && w->verdict == -ENOENT)
			fprintf(out, ": not a kevy data directory (no %s)", DATASET_FILE);
		else
			fputs(": I/O error: the check is incomplete", out);
		break;
	}
	}
	fprintf(out, " (exit %d)\n", code);
}

/* ------------------------------------------------------------------ */
/* JSON output */

static void kc_json_u64_or_null(struct kc_json *j, const char *key, bool have, uint64_t v)
{
	kc_json_key(j, key);
	if (have)
		kc_json_u64(j, v);
	else
		kc_json_null(j);
}

static void kc_json_file(struct kc_json *j, const struct kc_file *f)
{
	bool seg = f->kind == AOF_FILE_SEGMENT;
	kc_json_begin_object(j);
	kc_json_key(j, "path");
	kc_json_string(j, f->path);
	kc_json_key(j, "kind");
	kc_json_string(j, kc_kind_word(f->kind));
	kc_json_u64_or_null(j, "shard", f->kind != AOF_FILE_DATASET && f->kind != AOF_FILE_FUNCTIONS &&
			    f->kind != AOF_FILE_RESHARD,
			    f->shard_id);
	kc_json_key(j, "verdict");
	kc_json_string(j, f->fixed ? "torn tail" : kc_verdict_word(f->verdict));
	kc_json_key(j, "records");
	kc_json_u64(j, f->records);
	kc_json_u64_or_null(j, "first_lsn", seg && f->records, f->first_lsn);
	kc_json_u64_or_null(j, "last_lsn", seg && f->records, f->last_lsn);
	kc_json_key(j, "size");
	kc_json_u64(j, f->size);
	kc_json_u64_or_null(j, "preallocated", seg && f->verdict == 0 && !f->fixed, f->free_bytes);
	bool has_offset = seg || f->kind == AOF_FILE_SNAPSHOT;
	kc_json_u64_or_null(j, "offset", has_offset && (f->verdict != 0 || f->fixed), f->offset);
	kc_json_key(j, "fixed");
	kc_json_bool(j, f->fixed);
	kc_json_key(j, "message");
	kc_json_string(j, f->line);
	kc_json_end_object(j);
}

/* "file": the segment of the plan holding shard's record lsn, or null. */
static void kc_json_plan_file(struct kc_json *j, const struct aof_plan *plan, uint32_t shard,
			      uint64_t lsn)
{
	kc_json_key(j, "file");
	const char *file = aof_plan_file(plan, shard, lsn);
	if (file)
		kc_json_string(j, file);
	else
		kc_json_null(j);
}

static void kc_json_unit(struct kc_json *j, const struct aof_plan *plan, size_t i)
{
	static const char *const why[] = { "?", "incomplete", "depends", "resolved" };
	const struct units_dropped *d = &plan->res.units[i];
	char id[64], line[4096];
	snprintf(id, sizeof(id), "%016" PRIx64 "-%" PRIu64, d->id.boot, d->id.seq);
	aof_plan_describe(plan, i, line, sizeof(line));
	kc_json_begin_object(j);
	kc_json_key(j, "id");
	kc_json_string(j, id);
	kc_json_key(j, "why");
	kc_json_string(j, why[d->why <= 3 ? d->why : 0]);
	kc_json_key(j, "parts");
	kc_json_begin_array(j);
	for (uint32_t k = 0; k < d->nparts; k++) {
		kc_json_begin_object(j);
		kc_json_key(j, "shard");
		kc_json_u64(j, d->parts[k].shard);
		kc_json_key(j, "role");
		kc_json_string(j, d->parts[k].role == UNITS_PART ? "part" : "read");
		kc_json_key(j, "lsn");
		kc_json_u64(j, d->parts[k].lsn);
		kc_json_key(j, "present");
		kc_json_bool(j, d->parts[k].present);
		/* The file holding it (or, missing, the one it would be in). */
		kc_json_plan_file(j, plan, d->parts[k].shard, d->parts[k].lsn);
		kc_json_end_object(j);
	}
	kc_json_end_array(j);
	kc_json_key(j, "depends_on");
	if (d->depends_on < plan->res.nunits) {
		const struct units_dropped *on = &plan->res.units[d->depends_on];
		snprintf(id, sizeof(id), "%016" PRIx64 "-%" PRIu64, on->id.boot, on->id.seq);
		kc_json_string(j, id);
	} else {
		kc_json_null(j);
	}
	/* The one-shard records recovery drops with it (units_decide's verdict). */
	kc_json_key(j, "dependents");
	kc_json_begin_array(j);
	for (size_t k = 0; k < d->ndeps; k++) {
		kc_json_begin_object(j);
		kc_json_key(j, "shard");
		kc_json_u64(j, d->deps[k].shard);
		kc_json_key(j, "lsn");
		kc_json_u64(j, d->deps[k].lsn);
		kc_json_plan_file(j, plan, d->deps[k].shard, d->deps[k].lsn);
		kc_json_end_object(j);
	}
	kc_json_end_array(j);
	kc_json_key(j, "message");
	kc_json_string(j, line);
	kc_json_end_object(j);
}

static const char *kc_exit_verdict(const struct kc_pass *p, int code, size_t fixed)
{
	const struct kc_file *w = kc_worst_file(p);
	if (code == KC_EXIT_CLEAN)
		return fixed ? "fixed" : "clean";
	if (p->planned && p->plan_rc < 0)
		return "corrupt";
	if (code == KC_EXIT_TORN && kc_new_units(p) && (!w || w->verdict == 0))
		return "incomplete unit";
	if (w)
		return kc_verdict_word(w->verdict);
	return code == KC_EXIT_TORN ? "torn tail" : "I/O error";
}

static void kc_print_json(FILE *out, const struct kc_opts *o, bool is_dir,
			  const struct kc_pass *p, int code, size_t fixed, const char *error)
{
	struct kc_json j;
	kc_json_init(&j, out);
	kc_json_begin_object(&j);
	kc_json_key(&j, is_dir ? "dir" : "file");
	kc_json_string(&j, o->target);
	kc_json_key(&j, "verdict");
	kc_json_string(&j, error && !p->n ? "I/O error" : kc_exit_verdict(p, code, fixed));
	kc_json_key(&j, "exit_code");
	kc_json_u64(&j, (uint64_t)code);
	kc_json_key(&j, "fixed");
	kc_json_u64(&j, fixed);
	kc_json_key(&j, "error");
	if (error)
		kc_json_string(&j, error);
	else
		kc_json_null(&j);
	kc_json_key(&j, "files");
	kc_json_begin_array(&j);
	for (size_t i = 0; i < p->n; i++)
		kc_json_file(&j, &p->files[i]);
	kc_json_end_array(&j);
	kc_json_key(&j, "units");
	kc_json_begin_array(&j);
	for (size_t i = 0; p->planned && p->plan.decided && i < p->plan.res.nunits; i++)
		kc_json_unit(&j, &p->plan, i);
	kc_json_end_array(&j);
	kc_json_key(&j, "units_error");
	if (p->planned && p->plan_rc < 0)
		kc_json_string(&j, p->plan.err);
	else
		kc_json_null(&j);
	kc_json_end_object(&j);
	fputc('\n', out);
}

/* Everything a run prints on stdout, once, at its end. */
static int kc_finish(const struct kc_opts *o, bool is_dir, const struct kc_pass *p, int code,
		     size_t fixed, const char *error)
{
	if (o->json) {
		kc_print_json(stdout, o, is_dir, p, code, fixed, error);
	} else {
		kc_print_files(stdout, p, o->quiet);
		kc_print_summary(stdout, o->target, p, code, fixed, error);
	}
	if (error && o->json)
		fprintf(stderr, "kevy-check: %s\n", error);
	fflush(stdout);
	return code;
}

/* ------------------------------------------------------------------ */
/* --fix */

/* Ask on the terminal.  Returns true for y/yes. */
static bool kc_confirm(size_t n, size_t units)
{
	if (units)
		fprintf(stderr, "Quarantine and truncate %zu torn tail(s) and drop %zu incomplete "
			"unit(s) across shards, as recovery would? [y/N] ", n, units);
	else
		fprintf(stderr, "Quarantine and truncate %zu torn tail(s)? [y/N] ", n);
	fflush(stderr);
	char answer[16];
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	return strcmp(answer, "y\n") == 0 || strcmp(answer, "Y\n") == 0 ||
	       strcmp(answer, "yes\n") == 0;
}

/* Torn tails only (checked by the caller): confirm, fix, re-verify. */
static int kc_fix(const struct kc_opts *o, struct kc_pass *first, struct kc_progress *pg)
{
	size_t torn = kc_count(first, KV_ETORN, false);
	if (!o->yes) {
		if (!(isatty(0) && isatty(1)))
			return kc_finish(o, true, first, KC_EXIT_ERROR, 0, "refusing to change "
					 "files without --yes when not on a terminal");
		if (!o->json)
			kc_print_files(stdout, first, o->quiet);
		fflush(stdout);
		if (!kc_confirm(torn, kc_new_units(first))) {
			fprintf(stderr, "kevy-check: nothing changed\n");
			if (o->json)
				return kc_finish(o, true, first, KC_EXIT_TORN, 0, NULL);
			kc_print_summary(stdout, o->target, first, KC_EXIT_TORN, 0, NULL);
			return KC_EXIT_TORN;
		}
	}
	struct kc_pass fixp, verify;
	kc_check_dir(o->target, true, &fixp, pg);
	size_t fixed = 0;
	for (size_t i = 0; i < fixp.n; i++)
		fixed += fixp.files[i].fixed;
	/* Then what recovery does about incomplete units: RESOLVE records. */
	char uerr[600] = "";
	int urc = kc_pass_exit(&fixp) == KC_EXIT_CLEAN ? aof_plan_fix(o->target, uerr, sizeof(uerr))
						       : 0;
	fixed += first->planned ? first->plan.new_units : 0;
	kc_check_dir(o->target, false, &verify, pg);
	int code = kc_pass_exit_units(&verify);
	int fcode = kc_pass_exit(&fixp);
	if (urc < 0)
		fcode = KC_EXIT_ERROR;
	const char *error = NULL;
	if (fcode != KC_EXIT_CLEAN) {
		/* The fix itself failed (an I/O error quarantining or cutting). */
		code = kc_exit_rank(fcode) > kc_exit_rank(code) ? fcode : code;
		error = urc < 0 ? uerr : "the repair failed; see the file lines";
	} else if (code != KC_EXIT_CLEAN) {
		error = "after the repair the directory is still not clean";
	}
	bool show_prompted = !o->yes && !o->json;
	if (show_prompted) {
		/* The findings are already on the screen: show only what changed. */
		for (size_t i = 0; i < fixp.n; i++)
			if (fixp.files[i].fixed || fixp.files[i].verdict != 0)
				kc_print_file(stdout, &fixp.files[i]);
		kc_print_summary(stdout, o->target, &fixp, code, fixed, error);
	} else {
		kc_finish(o, true, &fixp, code, fixed, error);
	}
	kc_pass_free(&fixp);
	kc_pass_free(&verify);
	return code;
}

/* ------------------------------------------------------------------ */
/* command line */

static void kc_usage(FILE *out)
{
	fputs("Usage: kevy-check [--json] [--fix [--yes]] [--quiet] DATA_DIR\n"
	      "       kevy-check [--json] [--quiet] FILE.aof | FILE.snap\n"
	      "\n"
	      "Verify a kevy data directory with the code the server's recovery runs, and\n"
	      "say per file what recovery would do.  Changes nothing without --fix.\n"
	      "\n"
	      "  --json      print one JSON document instead of text\n"
	      "  --fix       quarantine and truncate torn tails and drop units across shards\n"
	      "              that lost a part, exactly as recovery does (only when nothing\n"
	      "              else is wrong; never repairs anything else)\n"
	      "  --yes       with --fix: do not ask (required when not on a terminal)\n"
	      "  --quiet     print only files that are not clean, and the summary\n"
	      "  --help      this text\n"
	      "  --version   print the version\n"
	      "\n"
	      "Exit status:\n"
	      "  0  clean (or, with --fix, every torn tail fixed and re-verified clean)\n"
	      "  1  torn tail(s) that recovery would cut, or unit(s) across shards missing a\n"
	      "     part that it would drop, nothing else (without --fix)\n"
	      "  2  corrupt, mismatch or unsupported version: the server refuses to start;\n"
	      "     --fix refuses too and changes nothing\n"
	      "  3  usage error, I/O error, not a data directory (no kevy.dataset), or\n"
	      "     --fix refused for want of --yes\n"
	      "\n"
	      "See kevy-check(1) and docs/tools.md.\n", out);
}

static int kc_usage_error(const char *msg)
{
	fprintf(stderr, "kevy-check: %s\n", msg);
	fputs("Try 'kevy-check --help'.\n", stderr);
	return KC_EXIT_ERROR;
}

/* Returns -1 to go on, else the exit code. */
static int kc_parse_args(int argc, char **argv, struct kc_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "fix", no_argument, NULL, 'f' },
		{ "yes", no_argument, NULL, 'y' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+qyhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 'f': o->fix = true; break;
		case 'y': o->yes = true; break;
		case 'q': o->quiet = true; break;
		case 'h': kc_usage(stdout); return KC_EXIT_CLEAN;
		case 'V': printf("kevy-check %s\n", KEVY_VERSION_STRING); return KC_EXIT_CLEAN;
		default: {
			char msg[300];
			snprintf(msg, sizeof(msg), "unknown option '%s'", argv[optind - 1]);
			return kc_usage_error(msg);
		}
		}
	}
	if (optind == argc)
		return kc_usage_error("missing DATA_DIR");
	if (optind + 1 != argc)
		return kc_usage_error("exactly one DATA_DIR (or FILE.aof / FILE.snap) is checked at a time");
	if (o->yes && !o->fix)
		return kc_usage_error("--yes only goes with --fix");
	o->target = argv[optind];
	return -1;
}

static int kc_run_dir(const struct kc_opts *o, struct kc_progress *pg)
{
	struct kc_pass p;
	kc_check_dir(o->target, false, &p, pg);
	int code = kc_pass_exit_units(&p);
	if (!o->fix || code == KC_EXIT_CLEAN) {
		code = kc_finish(o, true, &p, code, 0, NULL);
	} else if (code != KC_EXIT_TORN) {
		code = kc_finish(o, true, &p, code, 0, "refusing to repair: only a torn tail "
				 "may be cut, and something else is wrong; nothing was changed");
	} else {
		code = kc_fix(o, &p, pg);
	}
	kc_pass_free(&p);
	return code;
}

static int kc_run_file(const struct kc_opts *o)
{
	struct kc_pass p;
	if (o->fix)
		return kc_usage_error("--fix needs the data directory: only its manifest says "
				      "whether a segment is the last one, whose tail may be cut");
	kc_check_file(o->target, &p);
	int code = kc_finish(o, false, &p, kc_pass_exit(&p), 0, NULL);
	kc_pass_free(&p);
	return code;
}

int main(int argc, char **argv)
{
	struct kc_opts o = { 0 };
	int code = kc_parse_args(argc, argv, &o);
	if (code >= 0)
		return code;
	if (kvio_init() != 0)
		return KC_EXIT_ERROR;   /* kvio printed why (KEVY_FAILPOINTS / KEVY_TRACE) */
	/* The reports carry every line the library would log. */
	log_set_level(LOG_WARNING + 1);
	cmd_table_init();
	struct kc_progress pg = { .on = !o.quiet && isatty(2) };

	struct stat st;
	if (stat(o.target, &st) != 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "cannot access: %s", strerror(errno));
		struct kc_pass none = { 0 };
		return kc_finish(&o, true, &none, KC_EXIT_ERROR, 0, msg);
	}
	if (S_ISDIR(st.st_mode))
		return kc_run_dir(&o, &pg);
	return kc_run_file(&o);
}
