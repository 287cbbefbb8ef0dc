/*
 * crash_states.c - the file states a power cut could leave, built from the
 * I/O trace of a real run, each judged by kevy-check's code and recovered by
 * the server's code (the ALICE / CrashMonkey method, without FUSE).
 *
 * Input: the trace a kevy-server wrote with KEVY_TRACE (format: docs/io.md)
 * while serving a workload on an empty data directory.  The trace holds every
 * file operation with its bytes, the barriers (fsync, directory fsync) with the
 * point each was issued at, the ring links, and every reply sent to a client.
 *
 * Model (docs/durability.md, "Crash states"):
 *   - a file's writes and truncations become durable when an fsync of that
 *     file completes that was issued after they completed, or that was
 *     linked after them on the ring; a write with RWF_DSYNC (the AOF's
 *     direct writes) is durable when it completes, and only it; a directory's creations, renames and
 *     unlinks become durable when a directory fsync completes under the same
 *     rule;
 *   - a crash point P is "just before record P+1"; operations issued before
 *     it but not durable are pending: each may or may not have reached the
 *     disk, a write may be torn at a 512-byte or 4 KiB boundary (a prefix of
 *     its sectors landed), and directory operations that are not durable are
 *     undone from the last one back (the journal keeps their order);
 *   - crash points: just before every barrier completes (the last moment its
 *     predecessor's state holds, with every reply sent so far) and the end;
 *     at each, a bounded set of variants of the pending operations.
 *
 * For every state this program materialises the directory in a scratch
 * directory and runs, in process and in this order:
 *   1. aof_check_dir           (kevy-check's verdict),
 *   2. aof_load_dir            (kevy-dump's offline load),
 *   3. aof_dataset_open + aof_recover for every shard (the server's start),
 *   4. aof_check_dir again     (the directory after recovery),
 * and fails the state unless: the verdict is clean or a torn tail (a power
 * cut must never leave a directory the server refuses), recovery succeeds
 * exactly when the verdict says it should, the directory after recovery is
 * clean, and the offline load and the recovery hold the same keys.  It then
 * writes one JSON line per state with the bytes of replies each connection
 * had been sent before the crash point and every key recovered, as the
 * commands that recreate it (keydump); tests/crash/crash_states.py checks
 * those against the acknowledged writes of its workload.
 *
 * Usage: crash_states --trace FILE --data-dir DIR --shards N --scratch DIR
 *                     --out FILE [--seed S] [--variants K] [--max-states N]
 *                     [--extra-points N] [--emit-every N --emit-dir DIR]
 *                     [--only STATE]
 * --emit-every N keeps the files of every Nth state in DIR/state-<n>/ as the
 * power cut left them, for the caller to start the real server on.
 * Exit: 0 every state passed, 1 a state failed (its line says why and how to
 * replay it with --only), 2 usage or trace error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist/aof.h"
#include "persist/aof_plan.h"
#include "commands/cmd.h"
#include "crash_rng.h"
#include "store/keydump.h"
#include "base/kv.h"
#include "persist/kvio.h"
#include "base/log.h"
#include "store/store.h"

#define NO_SEQ UINT64_MAX

/* ---- the trace, resolved to inodes -------------------------------------- */

enum op_kind {
	OP_NONE = 0,
	OP_CREATE,     /* namespace: name -> new inode */
	OP_RENAME,     /* namespace: name -> name2 */
	OP_UNLINK,     /* namespace: drop name */
	OP_WRITE,      /* content: bytes at offset */
	OP_TRUNCATE,   /* content: length */
	OP_BARRIER,    /* fsync (inode) or dirsync (directory) */
};

struct op {
	enum op_kind kind;
	uint64_t seq, op_id, issued_after, link_op;
	uint32_t inode;          /* content ops, file barriers */
	bool dir_barrier;
	char *name, *name2;      /* namespace ops: names inside the data dir */
	uint64_t offset, length; /* write: offset, data length; truncate: length */
	uint8_t *data;
	bool dsync;              /* write with RWF_DSYNC: durable when it completes */
	uint64_t durable_at;     /* seq of the barrier that made it durable */
};

struct trace {
	int *inode_shard;        /* AOF segment inode -> shard, -1 otherwise */
	struct op *ops;
	size_t nops, cap;
	uint64_t last_seq;
	uint32_t ninodes;
	/* replies: per connection, cumulative bytes at each reply record */
	struct reply { uint64_t seq, conn, bytes; } *replies;
	size_t nreplies, rcap;
};

/* file_id -> inode, built while reading (the volatile namespace). */
struct fid_map { uint64_t fid; uint32_t inode; bool is_dir; };

struct vol_name { char *name; uint32_t inode; };

static struct fid_map *g_fids;
static size_t g_nfids, g_fcap;
static struct vol_name *g_vol;
static size_t g_nvol, g_vcap;

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "crash_states: out of memory\n");
		exit(2);
	}
	return q;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d) {
		fprintf(stderr, "crash_states: out of memory\n");
		exit(2);
	}
	return d;
}

static struct fid_map *fid_find(uint64_t fid)
{
	for (size_t i = g_nfids; i-- > 0;)
		if (g_fids[i].fid == fid)
			return &g_fids[i];
	return NULL;
}

static struct vol_name *vol_find(const char *name)
{
	for (size_t i = 0; i < g_nvol; i++)
		if (strcmp(g_vol[i].name, name) == 0)
			return &g_vol[i];
	return NULL;
}

static void vol_set(const char *name, uint32_t inode)
{
	struct vol_name *v = vol_find(name);
	if (v) {
		v->inode = inode;
		return;
	}
	if (g_nvol == g_vcap) {
		g_vcap = g_vcap ? g_vcap * 2 : 64;
		g_vol = xrealloc(g_vol, g_vcap * sizeof(*g_vol));
	}
	g_vol[g_nvol].name = xstrdup(name);
	g_vol[g_nvol].inode = inode;
	g_nvol++;
}

static void vol_drop(const char *name)
{
	struct vol_name *v = vol_find(name);
	if (!v)
		return;
	free(v->name);
	*v = g_vol[--g_nvol];
}

static struct op *op_new(struct trace *t, enum op_kind kind, const struct kvio_trace_rec *r)
{
	if (t->nops == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 1024;
		t->ops = xrealloc(t->ops, t->cap * sizeof(*t->ops));
	}
	struct op *o = &t->ops[t->nops++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->seq = r->seq;
	o->op_id = r->op_id;
	o->issued_after = r->issued_after;
	o->link_op = r->link_op;
	o->durable_at = NO_SEQ;
	return o;
}

/* The name of path inside dir, or NULL if it is elsewhere (the trace file,
 * logs) or is the directory itself. */
static const char *in_dir(const char *dir, const char *path)
{
	size_t n = strlen(dir);
	if (strncmp(path, dir, n) != 0 || path[n] != '/' || path[n + 1] == 0)
		return NULL;
	const char *name = path + n + 1;
	return strchr(name, '/') ? NULL : name;
}

static bool is_dir_path(const char *dir, const char *path)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == 0 || (path[n] == '/' && path[n + 1] == 0));
}

static int trace_load(struct trace *t, const char *path, const char *dir)
{
	struct kvio_trace_reader r;
	int rc = kvio_trace_open(&r, path);
	if (rc < 0) {
		fprintf(stderr, "crash_states: %s: %s\n", path, kv_strerror(rc));
		return rc;
	}
	struct kvio_trace_rec rec;
	uint64_t *conn_bytes_id = NULL, *conn_bytes = NULL;
	size_t nconns = 0;
	while ((rc = kvio_trace_read_next(&r, &rec)) == 1) {
		t->last_seq = rec.seq;
		if (rec.result < 0 && rec.kind != KVIO_REPLY)
			continue;   /* a failed operation changed nothing */
		switch (rec.kind) {
		case KVIO_OPEN: {
			if (is_dir_path(dir, rec.path)) {
				if (g_nfids == g_fcap) {
					g_fcap = g_fcap ? g_fcap * 2 : 64;
					g_fids = xrealloc(g_fids, g_fcap * sizeof(*g_fids));
				}
				g_fids[g_nfids++] = (struct fid_map){ rec.file_id, 0, true };
				break;
			}
			const char *name = in_dir(dir, rec.path);
			if (!name)
				break;
			int flags = (int)rec.offset;
			struct vol_name *v = vol_find(name);
			uint32_t inode;
			if (v) {
				inode = v->inode;
			} else if (flags & O_CREAT) {
				inode = ++t->ninodes;
				t->inode_shard = xrealloc(t->inode_shard, (t->ninodes + 1) * sizeof(int));
				unsigned sh;
				unsigned long long gen;
				char tail[8];
				t->inode_shard[inode] =
					sscanf(name, "kevy-s%u-g%llu.%7s", &sh, &gen, tail) == 3 &&
							strcmp(tail, "aof") == 0 ? (int)sh : -1;
				struct op *o = op_new(t, OP_CREATE, &rec);
				o->name = xstrdup(name);
				o->inode = inode;
				vol_set(name, inode);
			} else {
				break;   /* opened a name that is not there: nothing */
			}
			if ((flags & O_TRUNC) && v) {
				struct op *o = op_new(t, OP_TRUNCATE, &rec);
				o->inode = inode;
				o->length = 0;
			}
			if (g_nfids == g_fcap) {
				g_fcap = g_fcap ? g_fcap * 2 : 64;
				g_fids = xrealloc(g_fids, g_fcap * sizeof(*g_fids));
			}
			g_fids[g_nfids++] = (struct fid_map){ rec.file_id, inode, false };
			break;
		}
		case KVIO_WRITE: {
			struct fid_map *f = fid_find(rec.file_id);
			if (!f || f->is_dir || rec.data_len == 0)
				break;
			struct op *o = op_new(t, OP_WRITE, &rec);
			o->inode = f->inode;
			o->offset = rec.offset;
			o->length = rec.data_len;
			/* A short DSYNC write made only what it wrote durable:
			 * data_len is that prefix. */
			o->dsync = (rec.flags & KVIO_TR_DSYNC) != 0 && rec.result > 0;
			o->data = xrealloc(NULL, rec.data_len);
			memcpy(o->data, rec.data, rec.data_len);
			break;
		}
		case KVIO_TRUNCATE: {
			struct fid_map *f = fid_find(rec.file_id);
			if (!f || f->is_dir)
				break;
			struct op *o = op_new(t, OP_TRUNCATE, &rec);
			o->inode = f->inode;
			o->length = rec.offset;
			break;
		}
		case KVIO_FSYNC:
		case KVIO_DIRSYNC: {
			/* kvio_fsync_dir(path) records the path, not a file. */
			struct fid_map *f = rec.file_id ? fid_find(rec.file_id) : NULL;
			bool dir_by_path = rec.kind == KVIO_DIRSYNC && rec.path && is_dir_path(dir, rec.path);
			if (!f && !dir_by_path)
				break;
			struct op *o = op_new(t, OP_BARRIER, &rec);
			o->dir_barrier = f ? f->is_dir : true;
			o->inode = f ? f->inode : 0;
			break;
		}
		case KVIO_RENAME: {
			const char *a = in_dir(dir, rec.path), *b = in_dir(dir, rec.path2);
			if (!a || !b)
				break;
			struct vol_name *v = vol_find(a);
			if (!v)
				break;
			struct op *o = op_new(t, OP_RENAME, &rec);
			o->name = xstrdup(a);
			o->name2 = xstrdup(b);
			o->inode = v->inode;
			uint32_t inode = v->inode;
			vol_drop(a);
			vol_set(b, inode);
			break;
		}
		case KVIO_UNLINK: {
			const char *a = in_dir(dir, rec.path);
			if (!a || !vol_find(a))
				break;
			struct op *o = op_new(t, OP_UNLINK, &rec);
			o->name = xstrdup(a);
			vol_drop(a);
			break;
		}
		case KVIO_REPLY: {
			size_t i;
			for (i = 0; i < nconns && conn_bytes_id[i] != rec.file_id; i++)
				;
			if (i == nconns) {
				conn_bytes_id = xrealloc(conn_bytes_id, (nconns + 1) * sizeof(uint64_t));
				conn_bytes = xrealloc(conn_bytes, (nconns + 1) * sizeof(uint64_t));
				conn_bytes_id[nconns] = rec.file_id;
				conn_bytes[nconns++] = 0;
			}
			conn_bytes[i] += rec.data_len;
			if (t->nreplies == t->rcap) {
				t->rcap = t->rcap ? t->rcap * 2 : 1024;
				t->replies = xrealloc(t->replies, t->rcap * sizeof(*t->replies));
			}
			t->replies[t->nreplies++] = (struct reply){ rec.seq, rec.file_id, conn_bytes[i] };
			break;
		}
		default:
			break;
		}
	}
	free(conn_bytes_id);
	free(conn_bytes);
	kvio_trace_close(&r);
	if (rc != 0 && rc != KV_ETORN) {
		fprintf(stderr, "crash_states: %s: bad record at offset %" PRIu64 ": %s\n", path,
			r.pos, kv_strerror(rc));
		return rc;
	}
	return 0;
}

static void trace_free(struct trace *t)
{
	for (size_t i = 0; i < t->nops; i++) {
		free(t->ops[i].name);
		free(t->ops[i].name2);
		free(t->ops[i].data);
	}
	free(t->ops);
	free(t->replies);
	free(t->inode_shard);
	for (size_t i = 0; i < g_nvol; i++)
		free(g_vol[i].name);
	free(g_vol);
	free(g_fids);
}

/* ---- durability --------------------------------------------------------- */

static struct op *op_by_id(struct trace *t, uint64_t op_id)
{
	for (size_t i = t->nops; i-- > 0;)
		if (t->ops[i].op_id == op_id)
			return &t->ops[i];
	return NULL;
}

static bool is_ns(const struct op *o)
{
	return o->kind == OP_CREATE || o->kind == OP_RENAME || o->kind == OP_UNLINK;
}

static bool is_content(const struct op *o)
{
	return o->kind == OP_WRITE || o->kind == OP_TRUNCATE;
}

static void mark(struct op *o, uint64_t at)
{
	if (o->durable_at > at)
		o->durable_at = at;
}

/* Each barrier covers the ops of its kind that completed before it was
 * issued, and its link ancestors (they completed before it started). */
static void compute_durability(struct trace *t)
{
	/* A direct write with RWF_DSYNC (the AOF under appendfsync always) is
	 * durable when it completes, and makes nothing else durable. */
	for (size_t i = 0; i < t->nops; i++)
		if (t->ops[i].kind == OP_WRITE && t->ops[i].dsync)
			mark(&t->ops[i], t->ops[i].seq);
	for (size_t b = 0; b < t->nops; b++) {
		struct op *bar = &t->ops[b];
		if (bar->kind != OP_BARRIER)
			continue;
		for (size_t i = 0; i < b; i++) {
			struct op *o = &t->ops[i];
			bool covers = bar->dir_barrier ? is_ns(o)
						       : (is_content(o) && o->inode == bar->inode);
			if (covers && o->seq <= bar->issued_after)
				mark(o, bar->seq);
		}
		for (uint64_t id = bar->link_op; id;) {
			struct op *o = op_by_id(t, id);
			if (!o)
				break;
			bool covers = bar->dir_barrier ? is_ns(o)
						       : (is_content(o) && o->inode == bar->inode);
			if (covers)
				mark(o, bar->seq);
			id = o->link_op;
		}
	}
}

/* The everysec loss window at a crash point: the issue point of the last
 * completed fsync of each shard's AOF, the oldest of them over the shards.
 * Every write that completed before it is durable on every shard, so every
 * reply sent before it must be honoured. */
static uint64_t durable_horizon(const struct trace *t, uint64_t point, uint32_t nshards)
{
	uint64_t h[256] = { 0 };
	for (size_t i = 0; i < t->nops && t->ops[i].seq <= point; i++) {
		const struct op *o = &t->ops[i];
		if (o->kind != OP_BARRIER || o->dir_barrier || o->inode == 0)
			continue;
		int sh = t->inode_shard[o->inode];
		if (sh >= 0 && (uint32_t)sh < nshards && sh < 256 && o->issued_after > h[sh])
			h[sh] = o->issued_after;
	}
	uint64_t min = UINT64_MAX;
	for (uint32_t i = 0; i < nshards && i < 256; i++)
		if (h[i] < min)
			min = h[i];
	return min == UINT64_MAX ? 0 : min;
}

/* ---- a crash state ------------------------------------------------------ */

/* What to apply of the pending ops at crash point P. */
struct variant {
	uint64_t point;          /* records <= point completed */
	int mode;                /* VAR_* */
	size_t pick;             /* index into pending for ONE/TORN */
	uint64_t torn_len;       /* TORN: bytes of the write that landed */
	size_t ns_keep;          /* pending namespace ops applied (a prefix) */
	char what[96];
};

enum { VAR_NONE = 0, VAR_ALL, VAR_ONE, VAR_TORN, VAR_TORN_ALL };

struct file_img { uint8_t *data; uint64_t len, cap; bool alive; };

static bool issued_before(const struct op *o, uint64_t point)
{
	return o->issued_after <= point;
}

static bool durable_by(const struct op *o, uint64_t point)
{
	return o->durable_at <= point;
}

static void img_write(struct file_img *f, uint64_t off, const uint8_t *p, uint64_t n)
{
	if (off + n > f->cap) {
		uint64_t cap = f->cap ? f->cap : 4096;
		while (cap < off + n)
			cap *= 2;
		f->data = xrealloc(f->data, cap);
		memset(f->data + f->cap, 0, cap - f->cap);
		f->cap = cap;
	}
	memcpy(f->data + off, p, n);
	if (off + n > f->len)
		f->len = off + n;
}

static void img_truncate(struct file_img *f, uint64_t len)
{
	if (len < f->len) {
		memset(f->data + len, 0, f->len - len);
		f->len = len;
	} else if (len > f->len) {
		uint8_t zero = 0;
		if (len > 0)
			img_write(f, len - 1, &zero, 1);
	}
}

struct state_names { char **name; uint32_t *inode; size_t n, cap; };

static ssize_t sn_find(struct state_names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

static void sn_set(struct state_names *s, const char *name, uint32_t inode)
{
	ssize_t i = sn_find(s, name);
	if (i >= 0) {
		s->inode[i] = inode;
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->name = xrealloc(s->name, s->cap * sizeof(char *));
		s->inode = xrealloc(s->inode, s->cap * sizeof(uint32_t));
	}
	s->name[s->n] = xstrdup(name);
	s->inode[s->n++] = inode;
}

static void sn_drop(struct state_names *s, ssize_t i)
{
	free(s->name[i]);
	s->name[i] = s->name[s->n - 1];
	s->inode[i] = s->inode[s->n - 1];
	s->n--;
}

static void rm_dir_contents(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[4200];
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
}

/* Build the state of v in scratch.  pending: indices of the ops issued by
 * v->point and not durable, in seq order. */
static int materialise(struct trace *t, const struct variant *v, const size_t *pending,
		       size_t npending, const char *scratch)
{
	struct file_img *img = calloc(t->ninodes + 1, sizeof(*img));
	bool *apply = calloc(t->nops, sizeof(bool));
	if (!img || !apply) {
		fprintf(stderr, "crash_states: out of memory\n");
		exit(2);
	}
	for (size_t i = 0; i < t->nops; i++)
		apply[i] = t->ops[i].kind != OP_BARRIER && durable_by(&t->ops[i], v->point);
	size_t ns_seen = 0;
	for (size_t k = 0; k < npending; k++) {
		size_t i = pending[k];
		const struct op *o = &t->ops[i];
		if (is_ns(o)) {
			apply[i] = ns_seen++ < v->ns_keep;
			continue;
		}
		switch (v->mode) {
		case VAR_ALL:
		case VAR_TORN_ALL:
			apply[i] = true;
			break;
		case VAR_ONE:
		case VAR_TORN:
			apply[i] = k == v->pick;
			break;
		default:
			break;
		}
	}
	struct state_names names = { 0 };
	for (size_t i = 0; i < t->nops; i++) {
		const struct op *o = &t->ops[i];
		if (!apply[i])
			continue;
		switch (o->kind) {
		case OP_CREATE:
			sn_set(&names, o->name, o->inode);
			img[o->inode].alive = true;
			break;
		case OP_RENAME: {
			ssize_t a = sn_find(&names, o->name);
			if (a < 0)
				break;   /* its creation did not survive */
			uint32_t inode = names.inode[a];
			sn_drop(&names, a);
			sn_set(&names, o->name2, inode);
			break;
		}
		case OP_UNLINK: {
			ssize_t a = sn_find(&names, o->name);
			if (a >= 0)
				sn_drop(&names, a);
			break;
		}
		case OP_WRITE: {
			uint64_t n = o->length;
			bool torn = (v->mode == VAR_TORN || v->mode == VAR_TORN_ALL) &&
				    i == pending[v->pick];
			if (torn)
				n = v->torn_len;
			img_write(&img[o->inode], o->offset, o->data, n);
			break;
		}
		case OP_TRUNCATE:
			img_truncate(&img[o->inode], o->length);
			break;
		default:
			break;
		}
	}
	rm_dir_contents(scratch);
	int rc = 0;
	char p[4200];
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		snprintf(p, sizeof(p), "%s/%s", scratch, names.name[i]);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		const struct file_img *f = &img[names.inode[i]];
		uint64_t off = 0;
		while (off < f->len) {
			ssize_t w = write(fd, f->data + off, f->len - off);
			if (w <= 0) {
				rc = w < 0 ? -errno : -EIO;
				break;
			}
			off += (uint64_t)w;
		}
		close(fd);
	}
	for (size_t i = 0; i < names.n; i++)
		free(names.name[i]);
	free(names.name);
	free(names.inode);
	for (uint32_t i = 0; i <= t->ninodes; i++)
		free(img[i].data);
	free(img);
	free(apply);
	return rc;
}

/* ---- judging a state ---------------------------------------------------- */

struct outbuf { char *p; size_t len, cap; };

static void ob_put(struct outbuf *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n + 1)
			cap *= 2;
		o->p = xrealloc(o->p, cap);
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = 0;
}

static void ob_puts(struct outbuf *o, const char *s)
{
	ob_put(o, s, strlen(s));
}

static void ob_json_str(struct outbuf *o, const char *s, size_t n)
{
	ob_puts(o, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			ob_put(o, esc, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			ob_puts(o, esc);
		} else {
			ob_put(o, (const char *)&c, 1);
		}
	}
	ob_puts(o, "\"");
}

/* keydump's commands for one key as [["SET","k","v"],...]. */
struct dump_ctx { struct outbuf *o; bool first_cmd; };

static void dump_cmd(void *arg, int argc, const struct kv_slice *argv)
{
	struct dump_ctx *d = arg;
	ob_puts(d->o, d->first_cmd ? "[" : ",[");
	d->first_cmd = false;
	for (int i = 0; i < argc; i++) {
		if (i)
			ob_puts(d->o, ",");
		ob_json_str(d->o, argv[i].ptr, argv[i].len);
	}
	ob_puts(d->o, "]");
}

/* Each key becomes one line "key":[[cmd...],...]; the lines are sorted so
 * the offline load and the recovery compare equal when they hold the same
 * data, whatever the order of their tables. */
struct scan_ctx { char **lines; size_t n, cap; uint32_t db; };

static void dump_entry(void *arg, const struct kv_entry *e)
{
	struct scan_ctx *s = arg;
	struct outbuf o = { 0 };
	struct kv_slice k = entry_key(e);
	/* A key of database d > 0 is named "@d/key" (the workloads' keys never
	 * start with '@'). */
	if (s->db) {
		char pre[16];
		int n = snprintf(pre, sizeof(pre), "@%u/", s->db);
		char *name = xrealloc(NULL, (size_t)n + k.len + 1);
		memcpy(name, pre, (size_t)n);
		memcpy(name + n, k.ptr, k.len);
		ob_json_str(&o, name, (size_t)n + k.len);
		free(name);
	} else {
		ob_json_str(&o, k.ptr, k.len);
	}
	ob_puts(&o, ":[");
	struct dump_ctx d = { &o, true };
	keydump_entry(e, dump_cmd, &d);
	ob_puts(&o, "]");
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->lines = xrealloc(s->lines, s->cap * sizeof(char *));
	}
	s->lines[s->n++] = o.p;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *dump_dbs(struct kv_dbs *dbs, uint32_t n, int64_t now_ms)
{
	struct scan_ctx s = { 0 };
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t d = 0; d < dbs[i].n; d++) {
			uint64_t cursor = 0;
			uint64_t guard = 0;
			s.db = d;
			do
				cursor = db_scan(dbs[i].db[d], cursor, now_ms, dump_entry, &s);
			while (cursor != 0 && ++guard < (1u << 30));
		}
	}
	if (s.n)
		qsort(s.lines, s.n, sizeof(char *), cmp_str);
	struct outbuf all = { 0 };
	ob_puts(&all, "{");
	for (size_t i = 0; i < s.n; i++) {
		if (i)
			ob_puts(&all, ",");
		ob_puts(&all, s.lines[i]);
		free(s.lines[i]);
	}
	ob_puts(&all, "}");
	free(s.lines);
	return all.p;
}

static void free_dbs(struct kv_dbs *dbs, uint32_t n)
{
	if (!dbs)
		return;
	for (uint32_t i = 0; i < n; i++)
		dbs_free(&dbs[i]);
	free(dbs);
}

struct verdicts {
	int check, offline, recover, post;
	char err[2048];
	char *dump_offline, *dump_recovered;
};

static void judge(const char *scratch, uint32_t nshards, int64_t now_ms, struct verdicts *v)
{
	memset(v, 0, sizeof(*v));
	v->check = aof_check_dir(scratch, false, NULL, NULL);
	struct kv_dbs *dbs = NULL;
	uint32_t n = 0;
	char err[2048];
	v->offline = aof_load_dir(scratch, 0, 0, NULL, NULL, &dbs, &n, err, sizeof(err));
	if (v->offline == 0) {
		v->dump_offline = dump_dbs(dbs, n, now_ms);
		free_dbs(dbs, n);
	}
	struct dataset_info ds;
	v->recover = aof_dataset_open(scratch, nshards, &ds, v->err, sizeof(v->err));
	struct aof_plan plan;
	memset(&plan, 0, sizeof(plan));
	if (v->recover == 0) {
		v->recover = aof_plan_build(scratch, &ds, &plan);
		if (v->recover < 0)
			snprintf(v->err, sizeof(v->err), "%s", plan.err);
	}
	if (v->recover == 0) {
		struct kv_dbs *rdbs = calloc(nshards, sizeof(*rdbs));
		for (uint32_t i = 0; i < nshards && v->recover == 0; i++) {
			struct aof a;
			memset(&a, 0, sizeof(a));
			dbs_init(&rdbs[i], 16);   /* the server's default `databases` */
			struct aof_skip skip = aof_plan_skip(&plan, i);
			v->recover = aof_recover(&a, scratch, &ds, i, nshards, &skip, &rdbs[i], v->err,
						 sizeof(v->err));
			if (v->recover == 0)
				v->recover = aof_plan_resolve(&plan, i, &a, v->err, sizeof(v->err));
			aof_close(&a);
		}
		if (v->recover == 0)
			v->dump_recovered = dump_dbs(rdbs, nshards, now_ms);
		free_dbs(rdbs, nshards);
	}
	aof_plan_free(&plan);
	v->post = v->recover == 0 ? aof_check_dir(scratch, false, NULL, NULL) : 1;
}

/* ---- the driver --------------------------------------------------------- */

struct opts {
	const char *trace, *dir, *scratch, *out;
	uint32_t shards;
	uint64_t seed;
	uint32_t variants;
	uint64_t max_states;
	int64_t only;
	bool list;
	uint32_t extra_points;
	uint32_t emit_every;      /* keep every Nth state's files for a real server */
	const char *emit_dir;
};

static int usage(void)
{
	fprintf(stderr, "usage: crash_states --trace FILE --data-dir DIR --shards N --scratch DIR "
			"--out FILE [--seed S] [--variants K] [--max-states N] [--only STATE] [--extra-points N] [--emit-every N --emit-dir DIR] [--list 1]\n");
	return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	o->seed = 1;
	o->variants = 6;
	o->max_states = 1000000;
	o->only = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			return usage();
		const char *v = argv[++i];
		if (strcmp(a, "--trace") == 0)
			o->trace = v;
		else if (strcmp(a, "--data-dir") == 0)
			o->dir = v;
		else if (strcmp(a, "--scratch") == 0)
			o->scratch = v;
		else if (strcmp(a, "--out") == 0)
			o->out = v;
		else if (strcmp(a, "--shards") == 0)
			o->shards = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(a, "--seed") == 0)
			o->seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--variants") == 0)
			o->variants = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(a, "--max-states") == 0)
			o->max_states = strtoull(v, NULL, 10);
		else if (strcmp(a, "--only") == 0)
			o->only = strtoll(v, NULL, 10);
		else if (strcmp(a, "--emit-every") == 0)
			o->emit_every = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(a, "--emit-dir") == 0)
			o->emit_dir = v;
		else if (strcmp(a, "--extra-points") == 0)
			o->extra_points = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(a, "--list") == 0)
			o->list = strcmp(v, "0") != 0;
		else
			return usage();
	}
	if (!o->trace || !o->dir || !o->scratch || !o->out || o->shards == 0 || o->variants == 0)
		return usage();
	return -1;
}

/* The variants at crash point `point` (see the top of the file). */
static size_t plan_variants(struct trace *t, uint64_t point, const size_t *pending,
			    size_t npending, uint32_t budget, struct crash_rng *r, struct variant *out)
{
	size_t n = 0, nns = 0, nwrites = 0;
	for (size_t k = 0; k < npending; k++) {
		if (is_ns(&t->ops[pending[k]]))
			nns++;
		else if (t->ops[pending[k]].kind == OP_WRITE)
			nwrites++;
	}
	struct variant base = { .point = point, .ns_keep = nns };
	/* 1. everything pending reached the disk; 2. nothing did. */
	out[n] = base;
	out[n].mode = VAR_ALL;
	snprintf(out[n++].what, sizeof(out[0].what), "all %zu pending", npending);
	if (npending == 0)
		return n;
	out[n] = base;
	out[n].mode = VAR_NONE;
	out[n].ns_keep = 0;
	snprintf(out[n++].what, sizeof(out[0].what), "none of %zu pending", npending);
	while (n < budget) {
		struct variant v = base;
		uint64_t kind = crash_rng_below(r, 4);
		if (kind == 3 && nns > 0) {
			v.mode = VAR_ALL;
			v.ns_keep = crash_rng_below(r, nns);
			snprintf(v.what, sizeof(v.what), "directory ops kept %zu of %zu", v.ns_keep, nns);
		} else if (nwrites > 0) {
			size_t w;
			do
				w = crash_rng_below(r, npending);
			while (t->ops[pending[w]].kind != OP_WRITE);
			const struct op *o = &t->ops[pending[w]];
			v.pick = w;
			if (kind == 0 || o->length <= 512) {
				v.mode = VAR_ONE;
				snprintf(v.what, sizeof(v.what), "only write seq %" PRIu64, o->seq);
			} else {
				/* A prefix of its sectors: cut at a 512-byte or 4 KiB
				 * boundary of the file, strictly inside the write. */
				uint64_t unit = (kind == 1 || o->length <= 4096) ? 512 : 4096;
				uint64_t first = (o->offset / unit + 1) * unit;
				uint64_t end = o->offset + o->length;
				if (first >= end) {
					v.mode = VAR_ONE;
				} else {
					uint64_t cuts = (end - 1 - first) / unit + 1;
					uint64_t cut = first + crash_rng_below(r, cuts) * unit;
					v.mode = crash_rng_below(r, 2) ? VAR_TORN : VAR_TORN_ALL;
					v.torn_len = cut - o->offset;
				}
				snprintf(v.what, sizeof(v.what), "write seq %" PRIu64 " torn at %" PRIu64 "/%" PRIu64 " (%s)%s",
					 o->seq, v.torn_len, o->length, unit == 512 ? "512" : "4K",
					 v.mode == VAR_TORN_ALL ? " + all others" : "");
			}
		} else {
			v.mode = VAR_ALL;
			v.ns_keep = nns ? crash_rng_below(r, nns) : 0;
			snprintf(v.what, sizeof(v.what), "directory ops kept %zu of %zu", v.ns_keep, nns);
		}
		out[n++] = v;
	}
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	unsetenv("KEVY_TRACE");
	unsetenv("KEVY_FAILPOINTS");
	if (kvio_init() != 0)
		return 2;
	log_set_level(LOG_WARNING + 1);
	cmd_table_init();

	struct trace t = { 0 };
	if (trace_load(&t, o.trace, o.dir) < 0)
		return 2;
	compute_durability(&t);
	if (o.list) {
		static const char *kinds[] = { "none", "create", "rename", "unlink", "write",
					       "truncate", "barrier" };
		for (size_t i = 0; i < t.nops; i++) {
			const struct op *p = &t.ops[i];
			printf("seq %" PRIu64 " issued_after %" PRIu64 " link %" PRIu64 " %s inode %u%s "
			       "%s%s%s off %" PRIu64 " len %" PRIu64 " durable_at %" PRId64 "\n",
			       p->seq, p->issued_after, p->link_op, kinds[p->kind], p->inode,
			       p->dir_barrier ? " (dir)" : "", p->name ? p->name : "",
			       p->name2 ? " -> " : "", p->name2 ? p->name2 : "", p->offset, p->length,
			       p->durable_at == NO_SEQ ? (int64_t)-1 : (int64_t)p->durable_at);
		}
		return 0;
	}
	mkdir(o.scratch, 0755);
	FILE *out = fopen(o.out, "w");
	if (!out) {
		fprintf(stderr, "crash_states: %s: %s\n", o.out, strerror(errno));
		return 2;
	}

	/* Crash points: just before each barrier (or write that is its own:
	 * RWF_DSYNC) completes, and the end. */
	uint64_t *points = NULL;
	size_t npoints = 0;
	for (size_t i = 0; i < t.nops; i++)
		if (t.ops[i].kind == OP_BARRIER || (t.ops[i].kind == OP_WRITE && t.ops[i].dsync)) {
			points = xrealloc(points, (npoints + 1) * sizeof(*points));
			points[npoints++] = t.ops[i].seq - 1;
		}
	points = xrealloc(points, (npoints + 1) * sizeof(*points));
	points[npoints++] = t.last_seq;
	/* Crash points anywhere (seeded): between barriers the pending writes
	 * pile up (everysec), and every reply sent raises the bar. */
	struct crash_rng r = { o.seed };
	if (o.extra_points && t.last_seq > 1) {
		points = xrealloc(points, (npoints + o.extra_points) * sizeof(*points));
		for (uint32_t i = 0; i < o.extra_points; i++)
			points[npoints++] = 1 + crash_rng_below(&r, t.last_seq - 1);
		qsort(points, npoints, sizeof(*points), cmp_u64);
	}

	size_t *pending = xrealloc(NULL, (t.nops + 1) * sizeof(size_t));
	struct variant *vars = xrealloc(NULL, (o.variants + 2) * sizeof(*vars));
	uint64_t state = 0, failed = 0, by_verdict[4] = { 0 };
	int64_t now_ms = kv_time_ms();
	size_t reply_at = 0;
	uint64_t *conn_ids = NULL, *conn_bytes = NULL;
	size_t nconns = 0;
	for (size_t pi = 0; pi < npoints && state < o.max_states; pi++) {
		uint64_t point = points[pi];
		if (pi > 0 && point == points[pi - 1])
			continue;
		/* Replies sent up to the point. */
		while (reply_at < t.nreplies && t.replies[reply_at].seq <= point) {
			const struct reply *rp = &t.replies[reply_at++];
			size_t c;
			for (c = 0; c < nconns && conn_ids[c] != rp->conn; c++)
				;
			if (c == nconns) {
				conn_ids = xrealloc(conn_ids, (nconns + 1) * sizeof(uint64_t));
				conn_bytes = xrealloc(conn_bytes, (nconns + 1) * sizeof(uint64_t));
				conn_ids[nconns++] = rp->conn;
			}
			conn_bytes[c] = rp->bytes;
		}
		size_t npending = 0;
		for (size_t i = 0; i < t.nops; i++) {
			const struct op *op = &t.ops[i];
			if (op->kind != OP_BARRIER && issued_before(op, point) &&
			    !durable_by(op, point))
				pending[npending++] = i;
		}
		size_t nv = plan_variants(&t, point, pending, npending, o.variants, &r, vars);
		for (size_t vi = 0; vi < nv && state < o.max_states; vi++, state++) {
			if (o.only >= 0 && (int64_t)state != o.only)
				continue;
			const struct variant *v = &vars[vi];
			if (materialise(&t, v, pending, npending, o.scratch) < 0) {
				fprintf(stderr, "crash_states: cannot write %s: %s\n", o.scratch,
					strerror(errno));
				return 2;
			}
			if (o.emit_dir && o.emit_every && state % o.emit_every == 0) {
				/* The same state, untouched by the in-process recovery,
				 * for the caller to start a real server on. */
				char ed[4200];
				snprintf(ed, sizeof(ed), "%s/state-%" PRIu64, o.emit_dir, state);
				mkdir(o.emit_dir, 0755);
				mkdir(ed, 0755);
				if (materialise(&t, v, pending, npending, ed) < 0) {
					fprintf(stderr, "crash_states: cannot write %s: %s\n", ed,
						strerror(errno));
					return 2;
				}
			}
			struct stat dst;
			char dsp[4200];
			snprintf(dsp, sizeof(dsp), "%s/kevy.dataset", o.scratch);
			bool had_dataset = stat(dsp, &dst) == 0;
			struct verdicts jv;
			judge(o.scratch, o.shards, now_ms, &jv);
			const char *why = NULL;
			/* Before kevy.dataset exists the directory holds no dataset
			 * yet (kevy-check says so); the server starts a new one. */
			bool no_dataset = jv.check == -ENOENT && !had_dataset;
			if (jv.check != 0 && jv.check != KV_ETORN && !no_dataset)
				why = "kevy-check calls a power-cut state damaged";
			else if (jv.recover != 0)
				why = "the server's recovery refuses a state kevy-check accepts";
			else if (jv.post != 0)
				why = "the directory is not clean after recovery";
			else if (jv.offline != 0 && !no_dataset)
				why = "the offline load refuses a state recovery accepts";
			else if (!no_dataset && strcmp(jv.dump_offline, jv.dump_recovered) != 0)
				why = "the offline load and the recovery hold different keys";
			by_verdict[jv.check == 0 ? 0 : jv.check == KV_ETORN ? 1 : no_dataset ? 3 : 2]++;
			struct outbuf ob = { 0 };
			char head[512];
			snprintf(head, sizeof(head),
				 "{\"state\":%" PRIu64 ",\"point\":%" PRIu64 ",\"pending\":%zu,"
				 "\"check\":\"%s\",\"recover\":\"%s\",\"post\":\"%s\",\"what\":",
				 state, point, npending,
				 no_dataset ? "no dataset" : jv.check ? kv_strerror(jv.check) : "clean",
				 jv.recover ? kv_strerror(jv.recover) : "ok",
				 jv.post ? kv_strerror(jv.post) : "clean");
			ob_puts(&ob, head);
			ob_json_str(&ob, v->what, strlen(v->what));
			ob_puts(&ob, ",\"fail\":");
			if (why) {
				char msg[2400];
				snprintf(msg, sizeof(msg), "%s (%s)", why, jv.err);
				ob_json_str(&ob, msg, strlen(msg));
				failed++;
				fprintf(stderr, "crash_states: state %" PRIu64 " (point %" PRIu64 ", %s): %s\n"
					"  replay: crash_states --trace %s --data-dir %s --shards %u "
					"--scratch %s --out /dev/stdout --seed %" PRIu64 " --variants %u "
					"--extra-points %u --only %" PRIu64 "\n",
					state, point, v->what, msg, o.trace, o.dir, o.shards, o.scratch,
					o.seed, o.variants, o.extra_points, state);
			} else {
				ob_puts(&ob, "null");
			}
			ob_puts(&ob, ",\"acked_bytes\":{");
			for (size_t c = 0; c < nconns; c++) {
				char kv[64];
				snprintf(kv, sizeof(kv), "%s\"%" PRIu64 "\":%" PRIu64, c ? "," : "",
					 conn_ids[c], conn_bytes[c]);
				ob_puts(&ob, kv);
			}
			ob_puts(&ob, "},\"horizon\":");
			uint64_t hz = durable_horizon(&t, point, o.shards);
			char hzs[32];
			snprintf(hzs, sizeof(hzs), "%" PRIu64, hz);
			ob_puts(&ob, hzs);
			ob_puts(&ob, ",\"horizon_acked_bytes\":{");
			for (size_t c = 0; c < nconns; c++) {
				uint64_t bytes = 0;
				for (size_t k = 0; k < t.nreplies && t.replies[k].seq <= hz; k++)
					if (t.replies[k].conn == conn_ids[c])
						bytes = t.replies[k].bytes;
				char kv[64];
				snprintf(kv, sizeof(kv), "%s\"%" PRIu64 "\":%" PRIu64, c ? "," : "",
					 conn_ids[c], bytes);
				ob_puts(&ob, kv);
			}
			ob_puts(&ob, "},\"keys\":");
			ob_puts(&ob, jv.dump_recovered ? jv.dump_recovered : "null");
			ob_puts(&ob, "}\n");
			fwrite(ob.p, 1, ob.len, out);
			free(ob.p);
			free(jv.dump_offline);
			free(jv.dump_recovered);
			if (why && o.only >= 0)
				break;
		}
	}
	fclose(out);
	trace_free(&t);
	free(points);
	free(pending);
	free(vars);
	free(conn_ids);
	free(conn_bytes);
	fprintf(stderr,
		"crash_states: %" PRIu64 " states from %zu crash points (%zu trace records, %zu file "
		"ops): %" PRIu64 " clean, %" PRIu64 " torn tail, %" PRIu64 " before the dataset existed, "
		"%" PRIu64 " other; %" PRIu64 " failed\n",
		state, npoints, (size_t)t.last_seq, t.nops, by_verdict[0], by_verdict[1],
		by_verdict[3], by_verdict[2], failed);
	return failed ? 1 : 0;
}
