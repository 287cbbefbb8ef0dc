/*
 * repl_mirror.c - frames of the replication stream into a data directory
 * (the replica's files stay byte for byte its primary's), and the resume
 * positions read back from those files.
 *
 * A frame reaches here verified (repl_frame_decode_header and
 * repl_frame_check_payload).  What this file adds is the rule that keeps
 * a damaged or hostile stream from writing outside the files it names:
 * the name a FILE frame carries must be exactly the one its kind, shard
 * and generation call for; DATA and COMMIT go only to a file a FILE frame
 * (or, for a resumed segment, the directory) has; frame numbers follow
 * each other.  The dataset file and the manifests are written beside the
 * real ones and renamed into place on COMMIT, so a replica that dies mid
 * sync never has a half manifest.
 */
#include "persist/repl_mirror.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kv.h"
#include "base/le.h"
#include "persist/aof_format.h"
#include "persist/manifest.h"

static int fail(char *err, size_t cap, int code, const char *fmt, const char *name)
{
	if (err && cap)
		snprintf(err, cap, fmt, name);
	return code;
}

void repl_mirror_init(struct repl_mirror *m, const char *dir, uint32_t nshards)
{
	memset(m, 0, sizeof(*m));
	m->dir = strdup(dir);
	kv_assert(m->dir);
	m->nshards = nshards;
}

static void slot_close(struct repl_mirror_slot *s)
{
	if (s->used) {
		kvio_fdatasync(&s->f);
		kvio_close(&s->f);
	}
	s->used = false;
}

void repl_mirror_close(struct repl_mirror *m)
{
	for (int i = 0; i < REPL_MIRROR_SLOTS; i++)
		slot_close(&m->slots[i]);
	free(m->dir);
	m->dir = NULL;
}

/* The one name a file of this kind, shard and generation may have. */
static int expected_name(const struct repl_mirror *m, const struct repl_frame *f, char *out,
			 size_t cap)
{
	if (f->kind != REPL_KIND_DATASET && f->kind != REPL_KIND_FUNCTIONS && f->shard >= m->nshards)
		return -1;
	switch (f->kind) {
	case REPL_KIND_DATASET: snprintf(out, cap, "kevy.dataset"); return 0;
	case REPL_KIND_FUNCTIONS: snprintf(out, cap, "functions.kevy"); return 0;
	case REPL_KIND_MANIFEST: snprintf(out, cap, "kevy-s%u.manifest", f->shard); return 0;
	case REPL_KIND_SNAPSHOT:
		snprintf(out, cap, "kevy-s%u-g%" PRIu64 ".snap", f->shard, f->generation);
		return 0;
	case REPL_KIND_AOF:
		snprintf(out, cap, "kevy-s%u-g%" PRIu64 ".aof", f->shard, f->generation);
		return 0;
	default: return -1;
	}
}

static bool staged(uint8_t kind)
{
	return kind == REPL_KIND_DATASET || kind == REPL_KIND_MANIFEST || kind == REPL_KIND_FUNCTIONS;
}

static struct repl_mirror_slot *slot_find(struct repl_mirror *m, const struct repl_frame *f)
{
	for (int i = 0; i < REPL_MIRROR_SLOTS; i++) {
		struct repl_mirror_slot *s = &m->slots[i];
		if (s->used && s->kind == f->kind && s->shard == f->shard &&
		    s->generation == f->generation)
			return s;
	}
	return NULL;
}

static struct repl_mirror_slot *slot_new(struct repl_mirror *m)
{
	for (int i = 0; i < REPL_MIRROR_SLOTS; i++)
		if (!m->slots[i].used)
			return &m->slots[i];
	return NULL;
}

static int slot_open(struct repl_mirror *m, const struct repl_frame *f, const char *name,
		     bool create, char *err, size_t cap)
{
	struct repl_mirror_slot *s = slot_find(m, f);
	if (s)
		slot_close(s);
	s = slot_new(m);
	if (!s)
		return fail(err, cap, KV_ELIMIT, "too many files open at once (%s)", name);
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s%s", m->dir, name, staged(f->kind) ? ".tmp" : "");
	int rc = kvio_open(&s->f, path, O_WRONLY | (create ? O_CREAT | O_TRUNC : 0), 0644);
	if (rc < 0)
		return fail(err, cap, rc, "cannot open %s", path);
	s->used = true;
	s->kind = f->kind;
	s->shard = f->shard;
	s->generation = f->generation;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return 0;
}

static bool swap_unnamed(const char *n, uint32_t shard, const struct manifest *m);

/* A manifest was installed: the data files of its shard it no longer names
 * (a snapshot or rewrite replaced them on the primary, which removed them
 * too) are removed here as well, or a replica's disk would keep every
 * segment it ever received.  Failures only leave a file behind. */
static void prune_unnamed(const char *dir, uint32_t shard, const char *manifest_path)
{
	struct kv_buf raw = KV_BUF_INIT;
	struct manifest m;
	char msg[200], path[4600];
	if (manifest_read_file(manifest_path, 1 << 20, &raw) < 0 ||
	    manifest_decode((const uint8_t *)raw.data, raw.len, &m, msg, sizeof(msg)) < 0) {
		kv_buf_free(&raw);
		return;
	}
	kv_buf_free(&raw);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (!swap_unnamed(de->d_name, shard, &m))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		kvio_unlink(path);
	}
	if (d)
		closedir(d);
	manifest_free(&m);
}

static int commit(struct repl_mirror *m, struct repl_mirror_slot *s, uint64_t len, char *err,
		  size_t cap)
{
	struct stat st;
	int rc = kvio_fdatasync(&s->f);
	if (rc == 0 && fstat(s->f.fd, &st) < 0)
		rc = -errno;
	if (rc == 0 && (uint64_t)st.st_size != len)
		rc = KV_ECORRUPT;
	char name[REPL_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%s", s->name);
	bool stage = staged(s->kind);
	kvio_close(&s->f);
	s->used = false;
	if (rc == KV_ECORRUPT)
		return fail(err, cap, rc, "%s: committed length differs from the bytes received", name);
	if (rc < 0) {
		if (err && cap)
			snprintf(err, cap, "cannot fsync %s: %s", name, kv_strerror(rc));
		return rc;
	}
	if (stage) {
		char from[4200], to[4200];
		snprintf(from, sizeof(from), "%s/%s.tmp", m->dir, name);
		snprintf(to, sizeof(to), "%s/%s", m->dir, name);
		rc = kvio_rename(from, to);
		if (rc == 0)
			rc = kvio_fsync_dir(m->dir);
		if (rc < 0)
			return fail(err, cap, rc, "cannot install %s", name);
		if (s->kind == REPL_KIND_MANIFEST)
			prune_unnamed(m->dir, s->shard, to);
	}
	return 0;
}

int repl_mirror_apply(struct repl_mirror *m, const struct repl_frame *f, char *err, size_t cap)
{
	char name[REPL_NAME_MAX + 1];

	if (f->seq != m->seq) {
		if (err && cap)
			snprintf(err, cap, "frame %" PRIu64 " where %" PRIu64 " was due: frames were lost",
				 f->seq, m->seq);
		return KV_ECORRUPT;
	}
	m->seq++;
	if (f->type == REPL_FRAME_SYNCED)
		return 0;
	if (f->type == REPL_FRAME_PING) {
		for (int i = 0; i < REPL_MIRROR_SLOTS; i++)
			if (m->slots[i].used && kvio_fdatasync(&m->slots[i].f) < 0)
				return fail(err, cap, -EIO, "fsync of %s failed", m->slots[i].name);
		return 0;
	}
	if (expected_name(m, f, name, sizeof(name)) < 0)
		return fail(err, cap, KV_ECORRUPT, "frame for a shard this replica does not have%s", "");
	if (f->type == REPL_FRAME_FILE) {
		if (f->payload_len != strlen(name) || memcmp(f->payload, name, f->payload_len) != 0)
			return fail(err, cap, KV_ECORRUPT, "FILE frame names a file other than %s", name);
		return slot_open(m, f, name, true, err, cap);
	}
	struct repl_mirror_slot *s = slot_find(m, f);
	if (!s && f->kind == REPL_KIND_AOF) {
		/* A resumed segment: the directory has it. */
		int rc = slot_open(m, f, name, false, err, cap);
		if (rc < 0)
			return rc;
		s = slot_find(m, f);
	}
	if (!s)
		return fail(err, cap, KV_ECORRUPT, "DATA or COMMIT for %s before its FILE frame", name);
	if (f->type == REPL_FRAME_DATA) {
		ssize_t n = kvio_pwrite(&s->f, f->payload, f->payload_len, f->offset);
		if (n != (ssize_t)f->payload_len) {
			int rc = n < 0 ? (int)n : -EIO;
			if (err && cap)
				snprintf(err, cap, "cannot write %s: %s", name, kv_strerror(rc));
			return rc;
		}
		return 0;
	}
	return commit(m, s, f->offset, err, cap);
}

int repl_mirror_position(const char *dir, uint32_t shard, uint64_t *generation, uint64_t *offset,
			 char *err, size_t cap)
{
	char prefix[64], path[4200];
	uint64_t best = 0;
	bool found = false;

	/* The newest segment, named or not yet named by the manifest: a new
	 * segment's FILE frame comes before the manifest that names it. */
	snprintf(prefix, sizeof(prefix), "kevy-s%u-g", shard);
	DIR *d = opendir(dir);
	if (!d)
		return fail(err, cap, -errno, "cannot read the directory %s", dir);
	size_t plen = strlen(prefix);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		const char *n = e->d_name;
		if (strncmp(n, prefix, plen) != 0 || n[plen] < '0' || n[plen] > '9')
			continue;
		char *end;
		unsigned long long g = strtoull(n + plen, &end, 10);
		if (strcmp(end, ".aof") != 0)
			continue;
		if (!found || g > best)
			best = g;
		found = true;
	}
	closedir(d);
	if (!found)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s%" PRIu64 ".aof", dir, prefix, best);
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_RDWR, 0);
	if (rc < 0)
		return fail(err, cap, rc, "cannot open %s", path);
	struct stat st;
	if (fstat(f.fd, &st) < 0) {
		rc = -errno;
		kvio_close(&f);
		return rc;
	}
	uint64_t size = (uint64_t)st.st_size, off = 0;
	uint8_t h[AOF_HEADER_SIZE];
	if (size >= AOF_HEADER_SIZE && kvio_pread(&f, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    le_get64(h + 64) == kv_hash64(h, 64, 0)) {
		uint64_t seed = le_get64(h + 64);
		off = AOF_HEADER_SIZE;
		struct kv_buf rec = KV_BUF_INIT;
		/* Keep whole records whose checksums verify: the length a
		 * partial resync asks from must end one. */
		while (off + AOF_RECORD_HEADER_SIZE <= size) {
			uint8_t rh[AOF_RECORD_HEADER_SIZE];
			if (kvio_pread(&f, rh, sizeof(rh), off) != (ssize_t)sizeof(rh) ||
			    le_get64(rh + 24) != kv_hash64(rh + 8, 16, seed))
				break;
			uint64_t len = le_get32(rh + 8);
			if (off + AOF_RECORD_HEADER_SIZE + len > size)
				break;
			kv_buf_clear(&rec);
			char *p = kv_buf_reserve(&rec, AOF_RECORD_HEADER_SIZE + len);
			if (kvio_pread(&f, p, AOF_RECORD_HEADER_SIZE + len, off) !=
			    (ssize_t)(AOF_RECORD_HEADER_SIZE + len) ||
			    le_get64((uint8_t *)p) != kv_hash64(p + 8, AOF_RECORD_HEADER_SIZE - 8 + len, seed))
				break;
			off += AOF_RECORD_HEADER_SIZE + len;
		}
		kv_buf_free(&rec);
	}
	if (off < size)
		rc = kvio_truncate(&f, off);
	if (rc == 0)
		rc = kvio_fdatasync(&f);
	kvio_close(&f);
	if (rc < 0)
		return fail(err, cap, rc, "cannot truncate %s", path);
	*generation = best;
	*offset = off;
	return 0;
}

int repl_state_write(const char *dir, const struct repl_state *s)
{
	uint8_t raw[REPL_STATE_SIZE];
	repl_state_encode(s, raw);
	return manifest_write_atomic(dir, REPL_STATE_FILE, raw, sizeof(raw));
}

int repl_state_read(const char *dir, struct repl_state *s, char *err, size_t cap)
{
	char path[4200];
	struct kv_buf b = KV_BUF_INIT;
	snprintf(path, sizeof(path), "%s/%s", dir, REPL_STATE_FILE);
	int rc = manifest_read_file(path, 4096, &b);
	if (rc == 0)
		rc = repl_state_decode((const uint8_t *)b.data, b.len, s, err, cap);
	kv_buf_free(&b);
	return rc;
}

int repl_state_remove(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, REPL_STATE_FILE);
	int rc = kvio_unlink(path);
	if (rc == 0 || rc == -ENOENT)
		return kvio_fsync_dir(dir);
	return rc;
}

/* ------------------------------------------------------------------ */
/* a full sync staged beside the dataset, then swapped in */

/* Which pass moves a staged file: data files first, then the manifests
 * that name them, then kevy.dataset, then kevy.replica (0: not ours). */
static int swap_pass_of(const char *n)
{
	size_t l = strlen(n);
	if (strcmp(n, REPL_STATE_FILE) == 0)
		return 4;
	if (strcmp(n, "kevy.dataset") == 0 || strcmp(n, "functions.kevy") == 0)
		return 3;
	if (strncmp(n, "kevy-s", 6) != 0)
		return 0;
	if (l > 9 && strcmp(n + l - 9, ".manifest") == 0)
		return 2;
	if ((l > 4 && strcmp(n + l - 4, ".aof") == 0) || (l > 5 && strcmp(n + l - 5, ".snap") == 0))
		return 1;
	return 0;
}

/* A data file of shard i (kevy-s<i>-g<N>.aof|.snap) that m does not name. */
static bool swap_unnamed(const char *n, uint32_t shard, const struct manifest *m)
{
	char prefix[32];
	int pl = snprintf(prefix, sizeof(prefix), "kevy-s%u-g", shard);
	if (strncmp(n, prefix, (size_t)pl) != 0 || swap_pass_of(n) != 1)
		return false;
	for (uint32_t k = 0; k < m->nentries; k++)
		if (strcmp(m->entries[k].name, n) == 0)
			return false;
	return true;
}

/* Remove every file of the staging directory, then (rm_dir) the directory. */
static void stage_empty(const char *stage, bool rm_dir)
{
	char path[4600];
	DIR *d = opendir(stage);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", stage, de->d_name);
		kvio_unlink(path);
	}
	closedir(d);
	if (rm_dir)
		rmdir(stage);
}

int repl_swap_finish(const char *dir)
{
	char stage[4200], from[4600], to[4600];
	snprintf(stage, sizeof(stage), "%s/%s", dir, REPL_SYNC_DIR);
	snprintf(to, sizeof(to), "%s/%s", dir, REPL_SWAP_FILE);
	struct stat sb;
	if (stat(to, &sb) != 0) {
		if (errno != ENOENT)
			return -errno;
		/* No swap was decided: a staged sync a crash interrupted is
		 * only a partial copy.  Drop it. */
		struct stat st2;
		if (stat(stage, &st2) != 0)
			return 0;
		stage_empty(stage, true);
		return kvio_fsync_dir(dir);
	}
	int rc = 0;
	for (int pass = 1; pass <= 4 && rc == 0; pass++) {
		DIR *d = opendir(stage);
		if (!d)
			break;   /* moved already (a restart finishing the swap) */
		struct dirent *de;
		while ((de = readdir(d)) != NULL && rc == 0) {
			if (swap_pass_of(de->d_name) != pass)
				continue;
			snprintf(from, sizeof(from), "%s/%s", stage, de->d_name);
			snprintf(to, sizeof(to), "%s/%s", dir, de->d_name);
			rc = kvio_rename(from, to);
		}
		closedir(d);
	}
	if (rc == 0)
		rc = kvio_fsync_dir(dir);
	if (rc < 0)
		return rc;
	/* What the staged dataset does not name: the files of the one it
	 * replaced, and anything else left in the staging directory. */
	stage_empty(stage, true);
	for (uint32_t i = 0;; i++) {
		char name[64];
		struct stat ms;
		manifest_name(name, sizeof(name), i);
		snprintf(to, sizeof(to), "%s/%s", dir, name);
		if (stat(to, &ms) != 0)
			break;   /* past the last shard */
		prune_unnamed(dir, i, to);
	}
	snprintf(to, sizeof(to), "%s/%s", dir, REPL_SWAP_FILE);
	rc = kvio_unlink(to);
	if (rc == 0 || rc == -ENOENT)
		rc = kvio_fsync_dir(dir);
	return rc;
}

int repl_swap(const char *dir)
{
	char stage[4200];
	snprintf(stage, sizeof(stage), "%s/%s", dir, REPL_SYNC_DIR);
	int rc = kvio_fsync_dir(stage);
	if (rc == 0)
		rc = manifest_write_atomic(dir, REPL_SWAP_FILE, "kevy swap\n", 10);
	if (rc < 0)
		return rc;
	return repl_swap_finish(dir);
}

int repl_stage_prepare(const char *dir, char *stage, size_t cap)
{
	snprintf(stage, cap, "%s/%s", dir, REPL_SYNC_DIR);
	stage_empty(stage, false);
	if (mkdir(stage, 0700) < 0 && errno != EEXIST)
		return -errno;
	return kvio_fsync_dir(dir);
}
