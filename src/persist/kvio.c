/*
 * kvio.c - the one I/O layer (see kvio.h): synchronous file operations, the
 * same operations prepared onto an io_uring, failpoints and the I/O trace.
 * It is the seam where faults are injected and operations recorded (SQLite's
 * os_unix.c syscall table and test6.c crash simulation), so callers stay
 * free of test code.  It is not a buffer layer: it moves the caller's bytes.
 *
 * FAILPOINTS (KEVY_FAILPOINTS, kvio_failpoints_set)
 *
 *   spec   := "" | rule ("," rule)*          blanks around tokens are ignored
 *   rule   := kind ":" N ["+"] "=" action
 *   kind   := open | write | read | fsync | dirsync | rename | unlink | truncate
 *   N      := decimal, >= 1: the Nth operation of that kind, counted
 *             process-wide from 1 since init or the last set/reset;
 *             "N+" matches the Nth and every later one
 *   action := enospc | eio        fail with that errno, kernel untouched
 *           | short               write only: write a prefix, report its length
 *           | kill | kill-after   SIGKILL the process right after the op
 *                                 completes (and is traced)
 *           | kill-before         SIGKILL the process before the op is issued
 *
 * The first rule that matches wins.  Every issued operation is counted when
 * it is issued (sync call, or ring prep), in issue order, so a
 * single-threaded run is exactly reproducible; ring followers cancelled
 * because their linked predecessor was injected are not counted.  Close is
 * counted but takes no failpoints.  A short write of len bytes writes
 * kvio_short_len(len) bytes: half of len rounded down to a multiple of 512
 * when len >= 1024, else len / 2 (always less than len).
 *
 * TRACE (KEVY_TRACE=/path, kvio_trace_start)
 *
 * All integers little-endian.  File header, 16 bytes:
 *     0  8  magic "KEVYTRC\0"
 *     8  4  format version (1)
 *    12  4  header length (16)
 * then records, each 96 + path_len + path2_len + data_len bytes:
 *     0  4  rec_len       total record length, this field and checksum included
 *     4  2  kind          enum kvio_kind
 *     6  2  flags         KVIO_TR_* (barrier, namespace, ring, injected, datasync)
 *     8  4  action        failpoint action applied (0 none, 1 enospc, 2 eio,
 *                         3 short, 4 kill-after, 5 kill-before)
 *    12  4  path_len
 *    16  4  path2_len
 *    20  4  data_len
 *    24  8  seq           record number: 1, 2, 3, ... with no gap
 *    32  8  op_id         issue number of the operation (process-wide)
 *    40  8  issued_after  seq of the last record written when the op was issued
 *    48  8  link_op       op_id of the ring op this one was linked after, or 0
 *    56  8  file_id       kvio_file id (0: none); conn id for KVIO_REPLY
 *    64  8  offset        write/read offset; open: flags; truncate: new length
 *    72  8  length        requested length; open: mode
 *    80  8  result        signed: bytes, fd, 0, or -errno as returned to the caller
 *    88     path bytes, path2 bytes (rename target), data bytes
 *  end-8 8  checksum      XXH3-64 (kv_hash64, seed KVIO_TRACE_SEED) of bytes
 *                         [0, rec_len - 8)
 * Data is, for a write, exactly the bytes that reached the file (a prefix
 * when the write was short or failed part way); for a reply, the bytes sent.
 *
 * A record is written (one write(2), under one lock) when the operation
 * completes, so records are in completion order.  An fsync record R makes
 * durable every write W to the same file_id with W.seq <= R.issued_after, and
 * every W reached from R through link_op (a linked write runs to completion
 * before its fsync starts).  A record is valid when rec_len matches the three
 * lengths, kind is known, seq is the next one and the checksum matches; the
 * reader rejects anything else (KV_ECORRUPT), reports a partial last record
 * as KV_ETORN, and never asserts on file bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kv.h"
#include "base/le.h"
#include "base/readbuf.h"
#include "persist/kvio.h"

#define KVIO_TRACE_MAGIC "KEVYTRC"   /* 7 chars + NUL = 8 bytes */
#define KVIO_TRACE_VERSION 1u
#define KVIO_TRACE_HDR_LEN 16u
#define KVIO_TRACE_REC_FIXED 88u
#define KVIO_TRACE_REC_MIN (KVIO_TRACE_REC_FIXED + 8u)
#define KVIO_TRACE_REC_MAX (1u << 30)
#define KVIO_TRACE_SEED 0x6b76696f74726331ull  /* "kviotrc1" */
/* The kernel never moves more than this in one read/write. */
#define KVIO_RING_MAX_LEN 0x7ffff000u

_Static_assert(sizeof(KVIO_TRACE_MAGIC) == 8, "trace magic is 8 bytes");

enum fp_action {
	FP_NONE = 0,
	FP_ENOSPC = 1,
	FP_EIO = 2,
	FP_SHORT = 3,
	FP_KILL_AFTER = 4,
	FP_KILL_BEFORE = 5,
};

#define FP_MAX_RULES 64

struct fp_rule {
	uint8_t kind;
	uint8_t action;
	bool and_later;
	uint64_t n;
	/* kind@name: only operations on a file whose name (the path's last
	 * component) contains `name`, counted by the rule itself. */
	char name[32];
	uint64_t seen;
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc;

static pthread_mutex_t g_fp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fp_rule g_fp_rules[FP_MAX_RULES];
static atomic_uint g_fp_nrules;
static atomic_uint_fast64_t g_count[KVIO_KIND_COUNT];

static atomic_uint_fast64_t g_next_op_id;
static atomic_uint_fast64_t g_next_file_id;

static pthread_mutex_t g_tr_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_tr_fd = -1;
static atomic_uint_fast64_t g_tr_last_seq;

static const char *const g_kind_names[KVIO_KIND_COUNT] = {
	[KVIO_OPEN] = "open", [KVIO_WRITE] = "write", [KVIO_READ] = "read",
	[KVIO_FSYNC] = "fsync", [KVIO_DIRSYNC] = "dirsync", [KVIO_RENAME] = "rename",
	[KVIO_UNLINK] = "unlink", [KVIO_TRUNCATE] = "truncate", [KVIO_CLOSE] = "close",
	[KVIO_REPLY] = "reply",
};

const char *kvio_kind_name(int kind)
{
	if (kind <= 0 || kind >= KVIO_KIND_COUNT || !g_kind_names[kind])
		return "?";
	return g_kind_names[kind];
}

/* ---- initialisation ------------------------------------------------------ */

static int fp_set_locked(const char *spec);

static void kvio_init_once(void)
{
	const char *fp = getenv("KEVY_FAILPOINTS");
	if (fp && *fp) {
		pthread_mutex_lock(&g_fp_lock);
		int rc = fp_set_locked(fp);
		pthread_mutex_unlock(&g_fp_lock);
		if (rc) {
			fprintf(stderr, "kevy: invalid KEVY_FAILPOINTS '%s' (see docs/io.md)\n", fp);
			g_init_rc = rc;
			return;
		}
	}
	const char *tr = getenv("KEVY_TRACE");
	if (tr && *tr) {
		int rc = kvio_trace_start(tr);
		if (rc) {
			fprintf(stderr, "kevy: cannot create KEVY_TRACE '%s': %s\n", tr, strerror(-rc));
			g_init_rc = rc;
		}
	}
}

int kvio_init(void)
{
	pthread_once(&g_once, kvio_init_once);
	return g_init_rc;
}

static void kvio_ensure_init(void)
{
	if (kvio_init() != 0) {
		fprintf(stderr, "kevy: kvio: environment is invalid, aborting\n");
		abort();
	}
}

/* ---- failpoints ---------------------------------------------------------- */

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Match word at p (followed by a non-word char); returns the end or NULL. */
static const char *match_word(const char *p, const char *word)
{
	size_t n = strlen(word);
	if (strncmp(p, word, n) != 0)
		return NULL;
	char c = p[n];
	if ((c >= 'a' && c <= 'z') || c == '-')
		return NULL;
	return p + n;
}

static int fp_parse(const char *spec, struct fp_rule *rules, unsigned *nrules)
{
	static const struct { const char *name; uint8_t action; } actions[] = {
		{ "enospc", FP_ENOSPC }, { "eio", FP_EIO }, { "short", FP_SHORT },
		{ "kill-after", FP_KILL_AFTER }, { "kill-before", FP_KILL_BEFORE },
		{ "kill", FP_KILL_AFTER },
	};
	static const uint8_t fp_kinds[] = { KVIO_OPEN, KVIO_WRITE, KVIO_READ, KVIO_FSYNC,
					    KVIO_DIRSYNC, KVIO_RENAME, KVIO_UNLINK, KVIO_TRUNCATE };
	unsigned n = 0;
	const char *p = skip_blanks(spec ? spec : "");
	if (!*p) {
		*nrules = 0;
		return 0;
	}
	for (;;) {
		struct fp_rule r = { 0 };
		const char *e = NULL;
		for (size_t i = 0; i < KV_ARRAY_LEN(fp_kinds) && !e; i++) {
			e = match_word(p, g_kind_names[fp_kinds[i]]);
			if (e)
				r.kind = fp_kinds[i];
		}
		if (!e)
			return KV_ECONFIG;
		p = skip_blanks(e);
		if (*p == '@') {
			size_t len = 0;
			for (p++; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				  (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_';
			     p++) {
				if (len + 1 >= sizeof(r.name))
					return KV_ECONFIG;
				r.name[len++] = *p;
			}
			if (len == 0)
				return KV_ECONFIG;
			p = skip_blanks(p);
		}
		if (*p++ != ':')
			return KV_ECONFIG;
		p = skip_blanks(p);
		if (*p < '0' || *p > '9')
			return KV_ECONFIG;
		while (*p >= '0' && *p <= '9') {
			if (r.n > (UINT64_MAX - 9) / 10)
				return KV_ECONFIG;
			r.n = r.n * 10 + (uint64_t)(*p++ - '0');
		}
		if (r.n == 0)
			return KV_ECONFIG;
		if (*p == '+') {
			r.and_later = true;
			p++;
		}
		p = skip_blanks(p);
		if (*p++ != '=')
			return KV_ECONFIG;
		p = skip_blanks(p);
		e = NULL;
		for (size_t i = 0; i < KV_ARRAY_LEN(actions) && !e; i++) {
			e = match_word(p, actions[i].name);
			if (e)
				r.action = actions[i].action;
		}
		if (!e)
			return KV_ECONFIG;
		if (r.action == FP_SHORT && r.kind != KVIO_WRITE)
			return KV_ECONFIG;
		if (n == FP_MAX_RULES)
			return KV_ECONFIG;
		rules[n++] = r;
		p = skip_blanks(e);
		if (!*p)
			break;
		if (*p++ != ',')
			return KV_ECONFIG;
		p = skip_blanks(p);
	}
	*nrules = n;
	return 0;
}

static void counters_reset(void)
{
	for (int k = 0; k < KVIO_KIND_COUNT; k++)
		atomic_store(&g_count[k], 0);
}

static int fp_set_locked(const char *spec)
{
	struct fp_rule rules[FP_MAX_RULES];
	unsigned n = 0;
	int rc = fp_parse(spec, rules, &n);
	if (rc)
		return rc;
	memcpy(g_fp_rules, rules, n * sizeof(rules[0]));
	atomic_store(&g_fp_nrules, n);
	counters_reset();
	return 0;
}

int kvio_failpoints_set(const char *spec)
{
	kvio_ensure_init();
	pthread_mutex_lock(&g_fp_lock);
	int rc = fp_set_locked(spec);
	pthread_mutex_unlock(&g_fp_lock);
	return rc;
}

void kvio_failpoints_reset(void)
{
	kvio_ensure_init();
	pthread_mutex_lock(&g_fp_lock);
	atomic_store(&g_fp_nrules, 0);
	counters_reset();
	pthread_mutex_unlock(&g_fp_lock);
}

uint64_t kvio_op_count(int kind)
{
	if (kind <= 0 || kind >= KVIO_KIND_COUNT)
		return 0;
	return atomic_load(&g_count[kind]);
}

size_t kvio_short_len(size_t len)
{
	if (len >= 1024)
		return (len / 2) & ~(size_t)511;
	return len / 2;
}

static _Noreturn void kvio_die(void)
{
	/* SIGKILL: no atexit handlers, no stdio flush, exactly like kill -9. */
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

/* Count one operation of kind (on the file at path, NULL when it has none)
 * and return the failpoint action that applies to it.  "kill-before"
 * never returns. */
static int fp_decide(int kind, const char *path)
{
	kvio_ensure_init();
	uint64_t n = atomic_fetch_add(&g_count[kind], 1) + 1;
	if (atomic_load(&g_fp_nrules) == 0)
		return FP_NONE;
	int action = FP_NONE;
	const char *base = path ? strrchr(path, '/') : NULL;
	base = base ? base + 1 : path;
	pthread_mutex_lock(&g_fp_lock);
	unsigned nrules = atomic_load(&g_fp_nrules);
	for (unsigned i = 0; i < nrules; i++) {
		struct fp_rule *r = &g_fp_rules[i];
		if (r->kind != kind)
			continue;
		uint64_t k = n;
		if (r->name[0]) {
			if (!base || !strstr(base, r->name))
				continue;
			k = ++r->seen;
		}
		if (k == r->n || (r->and_later && k > r->n)) {
			action = r->action;
			break;
		}
	}
	pthread_mutex_unlock(&g_fp_lock);
	if (action == FP_KILL_BEFORE)
		kvio_die();
	return action;
}

static bool fp_fails(int action)
{
	return action == FP_ENOSPC || action == FP_EIO;
}

static int fp_errno(int action)
{
	return action == FP_ENOSPC ? -ENOSPC : -EIO;
}

/* ---- trace writer -------------------------------------------------------- */

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int kvio_trace_start(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	uint8_t hdr[KVIO_TRACE_HDR_LEN];
	memcpy(hdr, KVIO_TRACE_MAGIC, 8);
	le_put32(hdr + 8, KVIO_TRACE_VERSION);
	le_put32(hdr + 12, KVIO_TRACE_HDR_LEN);
	int rc = write_full(fd, hdr, sizeof(hdr));
	if (rc) {
		close(fd);
		return rc;
	}
	pthread_mutex_lock(&g_tr_lock);
	int old = atomic_exchange(&g_tr_fd, fd);
	atomic_store(&g_tr_last_seq, 0);
	pthread_mutex_unlock(&g_tr_lock);
	if (old >= 0)
		close(old);
	return 0;
}

void kvio_trace_stop(void)
{
	pthread_mutex_lock(&g_tr_lock);
	int old = atomic_exchange(&g_tr_fd, -1);
	pthread_mutex_unlock(&g_tr_lock);
	if (old >= 0)
		close(old);
}

bool kvio_trace_enabled(void)
{
	return atomic_load(&g_tr_fd) >= 0;
}

static uint64_t tr_last_seq(void)
{
	return atomic_load(&g_tr_last_seq);
}

/* Append one record built from rec (seq is assigned here). */
static void tr_emit(const struct kvio_trace_rec *rec)
{
	if (atomic_load(&g_tr_fd) < 0)
		return;
	uint64_t total = (uint64_t)KVIO_TRACE_REC_MIN + rec->path_len + rec->path2_len + rec->data_len;
	if (total > KVIO_TRACE_REC_MAX) {
		fprintf(stderr, "kevy: kvio trace: record of %llu bytes is too large\n",
			(unsigned long long)total);
		abort();
	}
	uint8_t *b = kv_malloc((size_t)total);
	le_put32(b, (uint32_t)total);
	le_put16(b + 4, rec->kind);
	le_put16(b + 6, rec->flags);
	le_put32(b + 8, rec->action);
	le_put32(b + 12, rec->path_len);
	le_put32(b + 16, rec->path2_len);
	le_put32(b + 20, rec->data_len);
	le_put64(b + 32, rec->op_id);
	le_put64(b + 40, rec->issued_after);
	le_put64(b + 48, rec->link_op);
	le_put64(b + 56, rec->file_id);
	le_put64(b + 64, rec->offset);
	le_put64(b + 72, rec->length);
	le_put64(b + 80, (uint64_t)rec->result);
	uint8_t *q = b + KVIO_TRACE_REC_FIXED;
	if (rec->path_len)
		memcpy(q, rec->path, rec->path_len);
	q += rec->path_len;
	if (rec->path2_len)
		memcpy(q, rec->path2, rec->path2_len);
	q += rec->path2_len;
	if (rec->data_len)
		memcpy(q, rec->data, rec->data_len);

	pthread_mutex_lock(&g_tr_lock);
	int fd = atomic_load(&g_tr_fd);
	if (fd >= 0) {
		uint64_t seq = atomic_load(&g_tr_last_seq) + 1;
		le_put64(b + 24, seq);
		le_put64(b + total - 8, kv_hash64(b, (size_t)total - 8, KVIO_TRACE_SEED));
		int rc = write_full(fd, b, (size_t)total);
		if (rc) {
			/* A trace with a hole would let a crash test pass on a
			 * state it never checked: stop loudly. */
			fprintf(stderr, "kevy: kvio trace write failed: %s\n", strerror(-rc));
			abort();
		}
		atomic_store(&g_tr_last_seq, seq);
	}
	pthread_mutex_unlock(&g_tr_lock);
	free(b);
}

static uint32_t str_len32(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	kv_assert(n < (1u << 20));
	return (uint32_t)n;
}

static void tr_fill_paths(struct kvio_trace_rec *t, const char *path, const char *path2)
{
	t->path = path;
	t->path_len = str_len32(path);
	t->path2 = path2;
	t->path2_len = str_len32(path2);
}

void kvio_trace_reply(uint64_t conn_id, const void *bytes, size_t n)
{
	kvio_ensure_init();
	if (!kvio_trace_enabled())
		return;
	kv_assert(n <= KVIO_TRACE_REC_MAX - KVIO_TRACE_REC_MIN);
	struct kvio_trace_rec t = {
		.kind = KVIO_REPLY, .op_id = atomic_fetch_add(&g_next_op_id, 1) + 1,
		.issued_after = tr_last_seq(), .file_id = conn_id, .length = n,
		.result = (int64_t)n, .data = bytes, .data_len = (uint32_t)n,
	};
	tr_emit(&t);
}

/* ---- synchronous operations ---------------------------------------------- */

/* Common start of a synchronous op: op id, issue point, failpoint. */
struct sync_op {
	uint64_t op_id;
	uint64_t issued_after;
	int action;
};

static struct sync_op sync_begin(int kind, const char *path)
{
	struct sync_op s;
	s.action = fp_decide(kind, path);
	s.op_id = atomic_fetch_add(&g_next_op_id, 1) + 1;
	s.issued_after = tr_last_seq();
	return s;
}

static void sync_end(const struct sync_op *s, struct kvio_trace_rec *t)
{
	t->op_id = s->op_id;
	t->issued_after = s->issued_after;
	t->action = (uint32_t)s->action;
	if (s->action != FP_NONE && s->action != FP_KILL_AFTER)
		t->flags |= KVIO_TR_INJECTED;
	tr_emit(t);
	if (s->action == FP_KILL_AFTER)
		kvio_die();
}

static int open_common(struct kvio_file *f, const char *path, int flags, mode_t mode)
{
	struct sync_op s = sync_begin(KVIO_OPEN, path);
	f->fd = -1;
	f->path = NULL;
	f->id = atomic_fetch_add(&g_next_file_id, 1) + 1;
	int rc;
	if (fp_fails(s.action)) {
		rc = fp_errno(s.action);
	} else {
		rc = open(path, flags | O_CLOEXEC, mode);
		if (rc < 0)
			rc = -errno;
	}
	struct kvio_trace_rec t = {
		.kind = KVIO_OPEN, .flags = (flags & O_CREAT) ? KVIO_TR_NAMESPACE : 0,
		.file_id = f->id, .offset = (uint64_t)(unsigned)flags, .length = mode, .result = rc,
	};
	tr_fill_paths(&t, path, NULL);
	if (rc >= 0) {
		f->fd = rc;
		f->path = kv_strndup(path, strlen(path));
		rc = 0;
	}
	sync_end(&s, &t);
	return rc;
}

int kvio_open(struct kvio_file *f, const char *path, int flags, mode_t mode)
{
	return open_common(f, path, flags, mode);
}

int kvio_open_dir(struct kvio_file *f, const char *path)
{
	return open_common(f, path, O_RDONLY | O_DIRECTORY, 0);
}

ssize_t kvio_pwrite(struct kvio_file *f, const void *buf, size_t len, uint64_t off)
{
	struct sync_op s = sync_begin(KVIO_WRITE, f->path);
	kv_assert(len <= KVIO_TRACE_REC_MAX - KVIO_TRACE_REC_MIN || !kvio_trace_enabled());
	size_t want = s.action == FP_SHORT ? kvio_short_len(len) : len;
	size_t done = 0;
	ssize_t res;
	if (fp_fails(s.action)) {
		res = fp_errno(s.action);
	} else {
		res = 0;
		while (done < want) {
			ssize_t n = pwrite(f->fd, (const char *)buf + done, want - done,
					   (off_t)(off + done));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				res = -errno;
				break;
			}
			if (n == 0) {
				res = -EIO;   /* no progress on a regular file */
				break;
			}
			done += (size_t)n;
		}
		if (res == 0)
			res = (ssize_t)done;
	}
	struct kvio_trace_rec t = {
		.kind = KVIO_WRITE, .file_id = f->id, .offset = off, .length = len,
		.result = res, .data = buf, .data_len = (uint32_t)done,
	};
	tr_fill_paths(&t, f->path, NULL);
	sync_end(&s, &t);
	return res;
}

ssize_t kvio_pread(struct kvio_file *f, void *buf, size_t len, uint64_t off)
{
	struct sync_op s = sync_begin(KVIO_READ, f->path);
	size_t done = 0;
	ssize_t res = 0;
	if (fp_fails(s.action)) {
		res = fp_errno(s.action);
	} else {
		while (done < len) {
			ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				res = -errno;
				break;
			}
			if (n == 0)
				break;
			done += (size_t)n;
		}
		if (res == 0)
			res = (ssize_t)done;
	}
	struct kvio_trace_rec t = {
		.kind = KVIO_READ, .file_id = f->id, .offset = off, .length = len, .result = res,
	};
	tr_fill_paths(&t, f->path, NULL);
	sync_end(&s, &t);
	return res;
}

static int fsync_common(struct kvio_file *f, bool datasync)
{
	struct sync_op s = sync_begin(KVIO_FSYNC, f->path);
	int rc;
	if (fp_fails(s.action))
		rc = fp_errno(s.action);
	else
		rc = (datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0 ? -errno : 0;
	struct kvio_trace_rec t = {
		.kind = KVIO_FSYNC,
		.flags = KVIO_TR_BARRIER_FILE | (datasync ? KVIO_TR_DATASYNC : 0),
		.file_id = f->id, .result = rc,
	};
	tr_fill_paths(&t, f->path, NULL);
	sync_end(&s, &t);
	return rc;
}

int kvio_fdatasync(struct kvio_file *f)
{
	return fsync_common(f, true);
}

int kvio_fsync(struct kvio_file *f)
{
	return fsync_common(f, false);
}

static int dirsync_common(int fd, uint64_t file_id, const char *path)
{
	struct sync_op s = sync_begin(KVIO_DIRSYNC, path);
	int rc;
	if (fp_fails(s.action)) {
		rc = fp_errno(s.action);
	} else if (fd >= 0) {
		rc = fsync(fd) < 0 ? -errno : 0;
	} else {
		int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			rc = -errno;
		} else {
			rc = fsync(dfd) < 0 ? -errno : 0;
			close(dfd);
		}
	}
	struct kvio_trace_rec t = {
		.kind = KVIO_DIRSYNC, .flags = KVIO_TR_BARRIER_DIR, .file_id = file_id, .result = rc,
	};
	tr_fill_paths(&t, path, NULL);
	sync_end(&s, &t);
	return rc;
}

int kvio_dirsync(struct kvio_file *dir)
{
	return dirsync_common(dir->fd, dir->id, dir->path);
}

int kvio_fsync_dir(const char *dir_path)
{
	return dirsync_common(-1, 0, dir_path);
}

int kvio_rename(const char *old_path, const char *new_path)
{
	struct sync_op s = sync_begin(KVIO_RENAME, old_path);
	int rc;
	if (fp_fails(s.action))
		rc = fp_errno(s.action);
	else
		rc = rename(old_path, new_path) < 0 ? -errno : 0;
	struct kvio_trace_rec t = { .kind = KVIO_RENAME, .flags = KVIO_TR_NAMESPACE, .result = rc };
	tr_fill_paths(&t, old_path, new_path);
	sync_end(&s, &t);
	return rc;
}

int kvio_unlink(const char *path)
{
	struct sync_op s = sync_begin(KVIO_UNLINK, path);
	int rc;
	if (fp_fails(s.action))
		rc = fp_errno(s.action);
	else
		rc = unlink(path) < 0 ? -errno : 0;
	struct kvio_trace_rec t = { .kind = KVIO_UNLINK, .flags = KVIO_TR_NAMESPACE, .result = rc };
	tr_fill_paths(&t, path, NULL);
	sync_end(&s, &t);
	return rc;
}

int kvio_truncate(struct kvio_file *f, uint64_t len)
{
	struct sync_op s = sync_begin(KVIO_TRUNCATE, f->path);
	int rc;
	if (fp_fails(s.action))
		rc = fp_errno(s.action);
	else
		rc = ftruncate(f->fd, (off_t)len) < 0 ? -errno : 0;
	struct kvio_trace_rec t = {
		.kind = KVIO_TRUNCATE, .file_id = f->id, .offset = len, .result = rc,
	};
	tr_fill_paths(&t, f->path, NULL);
	sync_end(&s, &t);
	return rc;
}

ssize_t kvio_fill(struct kvio_file *f, struct read_buf *in, uint64_t *off)
{
	void *p;
	size_t want = read_buf_space(in, &p);
	ssize_t got = kvio_pread(f, p, want, *off);
	if (got < 0)
		return got;
	if (got == 0)
		in->eof = true;
	else
		read_buf_wrote(in, (size_t)got);
	*off += (uint64_t)got;
	return got;
}

int kvio_flock(struct kvio_file *f, bool exclusive)
{
	kvio_ensure_init();
	for (;;) {
		if (flock(f->fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int kvio_close(struct kvio_file *f)
{
	kvio_ensure_init();
	if (f->fd < 0) {
		free(f->path);
		f->path = NULL;
		return 0;
	}
	atomic_fetch_add(&g_count[KVIO_CLOSE], 1);
	struct sync_op s = { .op_id = atomic_fetch_add(&g_next_op_id, 1) + 1,
			     .issued_after = tr_last_seq() };
	int rc = close(f->fd) < 0 ? -errno : 0;
	struct kvio_trace_rec t = { .kind = KVIO_CLOSE, .file_id = f->id, .result = rc };
	tr_fill_paths(&t, f->path, NULL);
	sync_end(&s, &t);
	f->fd = -1;
	free(f->path);
	f->path = NULL;
	return rc;
}

/* ---- ring operations ----------------------------------------------------- */

static bool op_cuts_chain(const struct kvio_op *op)
{
	return (op->flags & KVIO_OPF_CANCELLED) || fp_fails(op->inject) || op->inject == FP_SHORT;
}

/* Common start of a ring op.  Returns true when the caller must prepare the
 * real operation on sqe; false when sqe was made a NOP (injected failure, or
 * a follower of an injected op). */
static bool op_begin(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after, int kind,
		     const char *path)
{
	kvio_ensure_init();
	memset(op, 0, sizeof(*op));
	op->kind = (uint8_t)kind;
	op->sqe = sqe;
	if (after) {
		kv_assert(after->sqe != NULL);
		op->link_op = after->op_id;
		if (op_cuts_chain(after)) {
			/* The kernel would cancel us; so do we, without counting. */
			op->op_id = atomic_fetch_add(&g_next_op_id, 1) + 1;
			op->issued_after = tr_last_seq();
			op->flags |= KVIO_OPF_CANCELLED;
			io_uring_prep_nop(sqe);
			return false;
		}
	}
	op->inject = (uint8_t)fp_decide(kind, path);
	op->op_id = atomic_fetch_add(&g_next_op_id, 1) + 1;
	op->issued_after = tr_last_seq();
	if (after)
		after->sqe->flags |= IOSQE_IO_LINK;
	if (fp_fails(op->inject)) {
		op->inject_res = fp_errno(op->inject);
		io_uring_prep_nop(sqe);
		return false;
	}
	return true;
}

struct io_uring_sqe *kvio_ring_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	kv_assert(sqe);
	return sqe;
}

void kvio_sqe_set_op(struct io_uring_sqe *sqe, struct kvio_op *op, uint64_t tag)
{
	kv_assert(((uintptr_t)op & KVIO_RING_TAG_MASK) == 0 && tag <= KVIO_RING_TAG_MASK);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | tag);
}

/* A positioned write or read: the op's fields; false when a failpoint or a
 * failed predecessor turned the SQE into a NOP. */
static bool prep_rw(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		    struct kvio_file *f, int kind, const void *buf, size_t len, uint64_t off)
{
	kv_assert(len <= KVIO_RING_MAX_LEN);
	bool real = op_begin(op, sqe, after, kind, f->path);
	op->file = f;
	op->buf = buf;
	op->len = len;
	op->offset = off;
	op->sub_len = kind == KVIO_WRITE && op->inject == FP_SHORT ? kvio_short_len(len) : len;
	return real;
}

void kvio_prep_pwrite(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		      struct kvio_file *f, const void *buf, size_t len, uint64_t off)
{
	if (prep_rw(op, sqe, after, f, KVIO_WRITE, buf, len, off))
		io_uring_prep_write(sqe, f->fd, buf, (unsigned)op->sub_len, off);
}

void kvio_prep_pwrite_dsync(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
			    struct kvio_file *f, const void *buf, size_t len, uint64_t off)
{
	kvio_prep_pwrite(op, sqe, after, f, buf, len, off);
	op->flags |= KVIO_OPF_DSYNC;
	if (sqe->opcode == IORING_OP_WRITE)   /* not turned into a NOP by a failpoint */
		sqe->rw_flags = RWF_DSYNC;
}

void kvio_prep_pread(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		     struct kvio_file *f, void *buf, size_t len, uint64_t off)
{
	if (prep_rw(op, sqe, after, f, KVIO_READ, buf, len, off))
		io_uring_prep_read(sqe, f->fd, buf, (unsigned)len, off);
}

static void prep_fsync_common(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
			      struct kvio_file *f, int kind, bool datasync)
{
	bool real = op_begin(op, sqe, after, kind, f->path);
	op->file = f;
	if (datasync)
		op->flags |= KVIO_OPF_DATASYNC;
	if (real)
		io_uring_prep_fsync(sqe, f->fd, datasync ? IORING_FSYNC_DATASYNC : 0);
}

void kvio_prep_fdatasync(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
			 struct kvio_file *f)
{
	prep_fsync_common(op, sqe, after, f, KVIO_FSYNC, true);
}

void kvio_prep_fsync(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		     struct kvio_file *f)
{
	prep_fsync_common(op, sqe, after, f, KVIO_FSYNC, false);
}

void kvio_prep_dirsync(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		       struct kvio_file *dir)
{
	prep_fsync_common(op, sqe, after, dir, KVIO_DIRSYNC, false);
}

void kvio_prep_rename(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		      const char *old_path, const char *new_path)
{
	bool real = op_begin(op, sqe, after, KVIO_RENAME, old_path);
	op->path = old_path;
	op->path2 = new_path;
	if (real)
		io_uring_prep_renameat(sqe, AT_FDCWD, old_path, AT_FDCWD, new_path, 0);
}

void kvio_prep_unlink(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		      const char *path)
{
	bool real = op_begin(op, sqe, after, KVIO_UNLINK, path);
	op->path = path;
	if (real)
		io_uring_prep_unlinkat(sqe, AT_FDCWD, path, 0);
}

void kvio_prep_open(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		    struct kvio_file *f, const char *path, int flags, mode_t mode)
{
	bool real = op_begin(op, sqe, after, KVIO_OPEN, path);
	f->fd = -1;
	f->id = atomic_fetch_add(&g_next_file_id, 1) + 1;
	f->path = kv_strndup(path, strlen(path));
	op->file = f;
	op->path = f->path;
	op->open_flags = flags | O_CLOEXEC;
	op->open_mode = mode;
	if (real)
		io_uring_prep_openat(sqe, AT_FDCWD, f->path, op->open_flags, mode);
}

int kvio_op_complete(struct kvio_op *op, int cqe_res)
{
	kv_assert(!(op->flags & KVIO_OPF_DONE));
	op->flags |= KVIO_OPF_DONE;
	op->sqe = NULL;
	bool cancelled = (op->flags & KVIO_OPF_CANCELLED) || cqe_res == -ECANCELED;
	int res;
	if (cancelled)
		res = -ECANCELED;
	else if (fp_fails(op->inject))
		res = op->inject_res;
	else
		res = cqe_res;

	struct kvio_trace_rec t = {
		.kind = op->kind, .flags = KVIO_TR_RING, .action = op->inject,
		.op_id = op->op_id, .issued_after = op->issued_after, .link_op = op->link_op,
		.result = res,
	};
	if (op->inject != FP_NONE && op->inject != FP_KILL_AFTER)
		t.flags |= KVIO_TR_INJECTED;
	if (op->file) {
		t.file_id = op->file->id;
		tr_fill_paths(&t, op->file->path, NULL);
	}
	switch (op->kind) {
	case KVIO_WRITE:
		t.offset = op->offset;
		t.length = op->len;
		if (op->flags & KVIO_OPF_DSYNC)
			t.flags |= KVIO_TR_DSYNC;
		if (res > 0) {
			t.data = op->buf;
			t.data_len = (uint32_t)res;
		}
		break;
	case KVIO_READ:
		t.offset = op->offset;
		t.length = op->len;
		break;
	case KVIO_FSYNC:
		t.flags |= KVIO_TR_BARRIER_FILE;
		if (op->flags & KVIO_OPF_DATASYNC)
			t.flags |= KVIO_TR_DATASYNC;
		break;
	case KVIO_DIRSYNC:
		t.flags |= KVIO_TR_BARRIER_DIR;
		break;
	case KVIO_RENAME:
	case KVIO_UNLINK:
		t.flags |= KVIO_TR_NAMESPACE;
		tr_fill_paths(&t, op->path, op->path2);
		break;
	case KVIO_OPEN:
		if (op->open_flags & O_CREAT)
			t.flags |= KVIO_TR_NAMESPACE;
		t.offset = (uint64_t)(unsigned)op->open_flags;
		t.length = op->open_mode;
		break;
	default:
		break;
	}
	tr_emit(&t);
	if (op->kind == KVIO_OPEN) {
		if (res >= 0) {
			op->file->fd = res;
		} else {
			free(op->file->path);
			op->file->path = NULL;
			op->path = NULL;
		}
	}
	if (op->inject == FP_KILL_AFTER && !cancelled)
		kvio_die();
	return res;
}

/* ---- trace reader -------------------------------------------------------- */

static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int kvio_trace_open(struct kvio_trace_reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	uint8_t hdr[KVIO_TRACE_HDR_LEN];
	ssize_t n = pread_full(r->fd, hdr, sizeof(hdr), 0);
	int rc = 0;
	if (n < 0)
		rc = (int)n;
	else if ((size_t)n < sizeof(hdr))
		rc = KV_ETORN;
	else if (memcmp(hdr, KVIO_TRACE_MAGIC, 8) != 0)
		rc = KV_ECORRUPT;
	else if (le_get32(hdr + 8) != KVIO_TRACE_VERSION)
		rc = KV_EVERSION;
	else if (le_get32(hdr + 12) != KVIO_TRACE_HDR_LEN)
		rc = KV_ECORRUPT;
	if (rc) {
		close(r->fd);
		r->fd = -1;
		return rc;
	}
	r->pos = KVIO_TRACE_HDR_LEN;
	r->next_seq = 1;
	return 0;
}

int kvio_trace_read_next(struct kvio_trace_reader *r, struct kvio_trace_rec *rec)
{
	if (r->fd < 0)
		return -EBADF;
	if (r->cap < KVIO_TRACE_REC_MIN) {
		r->cap = 4096;
		r->buf = kv_realloc(r->buf, r->cap);
	}
	ssize_t n = pread_full(r->fd, r->buf, KVIO_TRACE_REC_MIN, r->pos);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return 0;
	if ((size_t)n < KVIO_TRACE_REC_MIN)
		return KV_ETORN;
	const uint8_t *b = r->buf;
	uint32_t rec_len = le_get32(b);
	uint32_t pl = le_get32(b + 12), p2l = le_get32(b + 16), dl = le_get32(b + 20);
	uint64_t want = (uint64_t)KVIO_TRACE_REC_MIN + pl + p2l + dl;
	uint16_t kind = le_get16(b + 4);
	if (rec_len != want || rec_len > KVIO_TRACE_REC_MAX || kind == 0 || kind >= KVIO_KIND_COUNT)
		return KV_ECORRUPT;
	if (r->cap < rec_len) {
		r->cap = rec_len;
		r->buf = kv_realloc(r->buf, r->cap);
	}
	n = pread_full(r->fd, r->buf, rec_len, r->pos);
	if (n < 0)
		return (int)n;
	if ((size_t)n < rec_len)
		return KV_ETORN;
	b = r->buf;
	if (le_get64(b + rec_len - 8) != kv_hash64(b, rec_len - 8, KVIO_TRACE_SEED))
		return KV_ECORRUPT;
	uint64_t seq = le_get64(b + 24);
	if (seq != r->next_seq)
		return KV_ECORRUPT;

	/* NUL-terminated copies of the two paths for the caller. */
	size_t names = (size_t)pl + p2l + 2;
	if (r->names_cap < names) {
		r->names_cap = names;
		r->names = kv_realloc(r->names, names);
	}
	memcpy(r->names, b + KVIO_TRACE_REC_FIXED, pl);
	r->names[pl] = '\0';
	memcpy(r->names + pl + 1, b + KVIO_TRACE_REC_FIXED + pl, p2l);
	r->names[pl + 1 + p2l] = '\0';

	memset(rec, 0, sizeof(*rec));
	rec->kind = kind;
	rec->flags = le_get16(b + 6);
	rec->action = le_get32(b + 8);
	rec->path_len = pl;
	rec->path2_len = p2l;
	rec->data_len = dl;
	rec->seq = seq;
	rec->op_id = le_get64(b + 32);
	rec->issued_after = le_get64(b + 40);
	rec->link_op = le_get64(b + 48);
	rec->file_id = le_get64(b + 56);
	rec->offset = le_get64(b + 64);
	rec->length = le_get64(b + 72);
	rec->result = (int64_t)le_get64(b + 80);
	rec->path = r->names;
	rec->path2 = r->names + pl + 1;
	rec->data = b + KVIO_TRACE_REC_FIXED + pl + p2l;
	r->pos += rec_len;
	r->next_seq++;
	return 1;
}

void kvio_trace_close(struct kvio_trace_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->buf);
	free(r->names);
	r->buf = NULL;
	r->names = NULL;
	r->cap = r->names_cap = 0;
}
