/*
 * test_kvio.c - the I/O layer: synchronous operations in a temp directory,
 * the same operations through a real io_uring (linked write + fdatasync
 * included), every failpoint action on both paths, failpoint counting across
 * threads, the trace round trip (and its reader's rejection of a corrupt or
 * torn record), and the kill actions in forked children.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/kv.h"
#include "persist/kvio.h"

struct tmp {
	char dir[64];
};

static int setup_tmp(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));
	strcpy(t->dir, "/tmp/kvio_test_XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	kvio_failpoints_reset();
	kvio_trace_stop();
	*state = t;
	return 0;
}

static int teardown_tmp(void **state)
{
	struct tmp *t = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", t->dir);
	kvio_failpoints_reset();
	kvio_trace_stop();
	free(t);
	return 0;
}

static void path_in(const struct tmp *t, char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", t->dir, name);
}

static off_t file_size(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return st.st_size;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Read a whole (small) file into buf; returns its length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap);
	close(fd);
	return n;
}

/* ---- ring helpers -------------------------------------------------------- */

/* Submit what is queued and complete `n` ops, matched through user_data. */
static void ring_run(struct io_uring *ring, struct kvio_op **ops, int *res, int n)
{
	assert_true(io_uring_submit(ring) >= 0);
	for (int done = 0; done < n; done++) {
		struct io_uring_cqe *cqe;
		assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
		uint64_t i = io_uring_cqe_get_data64(cqe);
		assert_true(i < (uint64_t)n);
		res[i] = kvio_op_complete(ops[i], cqe->res);
		io_uring_cqe_seen(ring, cqe);
	}
}

static struct io_uring_sqe *sqe_for(struct io_uring *ring, uint64_t idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	assert_non_null(sqe);
	return sqe;
}

static void ring_init(struct io_uring *ring)
{
	int rc = io_uring_queue_init(16, ring, 0);
	if (rc < 0)
		skip();   /* io_uring unavailable here (seccomp, old kernel) */
}

/* Prepare a linked pwrite + fdatasync and run them; results in r[0], r[1]. */
static void ring_write_sync(struct io_uring *ring, struct kvio_file *f, const void *buf,
			    size_t len, uint64_t off, int r[2])
{
	struct kvio_op w, s;
	struct kvio_op *ops[2] = { &w, &s };
	struct io_uring_sqe *sw = sqe_for(ring, 0), *ss = sqe_for(ring, 1);
	kvio_prep_pwrite(&w, sw, NULL, f, buf, len, off);
	io_uring_sqe_set_data64(sw, 0);
	kvio_prep_fdatasync(&s, ss, &w, f);
	io_uring_sqe_set_data64(ss, 1);
	ring_run(ring, ops, r, 2);
}

/* ---- tests --------------------------------------------------------------- */

static void test_kvio_sync_ops_in_tempdir(void **state)
{
	struct tmp *t = *state;
	char a[128], b[128], buf[64];
	path_in(t, a, sizeof(a), "a.tmp");
	path_in(t, b, sizeof(b), "a");

	struct kvio_file f;
	assert_int_equal(kvio_open(&f, a, O_RDWR | O_CREAT | O_TRUNC, 0644), 0);
	assert_true(f.fd >= 0);
	assert_string_equal(f.path, a);
	assert_int_equal(kvio_pwrite(&f, "hello world", 11, 0), 11);
	assert_int_equal(kvio_pwrite(&f, "HELLO", 5, 0), 5);
	assert_int_equal(kvio_pread(&f, buf, sizeof(buf), 0), 11);
	assert_memory_equal(buf, "HELLO world", 11);
	assert_int_equal(kvio_pread(&f, buf, 4, 6), 4);
	assert_memory_equal(buf, "worl", 4);
	assert_int_equal(kvio_fdatasync(&f), 0);
	assert_int_equal(kvio_fsync(&f), 0);
	assert_int_equal(kvio_truncate(&f, 5), 0);
	assert_int_equal(file_size(a), 5);
	assert_int_equal(kvio_rename(a, b), 0);
	assert_int_equal(kvio_fsync_dir(t->dir), 0);
	struct kvio_file d;
	assert_int_equal(kvio_open_dir(&d, t->dir), 0);
	assert_int_equal(kvio_dirsync(&d), 0);
	assert_int_equal(kvio_close(&d), 0);
	assert_false(file_exists(a));
	assert_int_equal(slurp(b, buf, sizeof(buf)), 5);
	assert_int_equal(kvio_close(&f), 0);
	assert_int_equal(f.fd, -1);
	assert_null(f.path);
	assert_int_equal(kvio_close(&f), 0);   /* closing twice is harmless */
	assert_int_equal(kvio_unlink(b), 0);
	assert_false(file_exists(b));

	/* Real kernel errors come back as -errno. */
	assert_int_equal(kvio_open(&f, a, O_RDONLY, 0), -ENOENT);
	assert_int_equal(f.fd, -1);
	assert_null(f.path);
	assert_int_equal(kvio_unlink(a), -ENOENT);
	assert_int_equal(kvio_rename(a, b), -ENOENT);
	assert_int_equal(kvio_fsync_dir(a), -ENOENT);
	assert_int_equal(kvio_op_count(KVIO_WRITE), 2);
	assert_int_equal(kvio_op_count(KVIO_OPEN), 3);
}

static void test_kvio_failpoint_grammar(void **state)
{
	(void)state;
	assert_int_equal(kvio_failpoints_set(""), 0);
	assert_int_equal(kvio_failpoints_set(NULL), 0);
	assert_int_equal(kvio_failpoints_set(
		"write:3=enospc,fsync:2=eio,write:5=short,fsync:4=kill,rename:1=eio,"
		"open:2=enospc,write:7=kill-after,dirsync:1=kill-before,unlink:1=eio,"
		"truncate:2=enospc,read:1=eio"), 0);
	assert_int_equal(kvio_failpoints_set(" write : 3+ = enospc , fsync:1=eio "), 0);
	assert_int_equal(kvio_failpoints_set("write@kevy-s1-g:2+=enospc,read@a.b_c-9:1=eio"), 0);
	const char *bad[] = {
		"write@:1=eio", "write@a/b:1=eio", "write@0123456789012345678901234567890123:1=eio",
		"write", "write:", "write:0=eio", "write:x=eio", "write:1", "write:1=",
		"write:1=eiox", "writes:1=eio", "fsync:1=short", "close:1=eio",
		"write:1=eio,", "write:1=eio;fsync:1=eio", "write:-1=eio",
		"write:99999999999999999999999=eio", "reply:1=eio", "write:1=kill-now",
	};
	for (size_t i = 0; i < KV_ARRAY_LEN(bad); i++) {
		if (kvio_failpoints_set(bad[i]) != KV_ECONFIG)
			fail_msg("spec '%s' was accepted", bad[i]);
	}
	assert_int_equal(kvio_short_len(0), 0);
	assert_int_equal(kvio_short_len(1), 0);
	assert_int_equal(kvio_short_len(100), 50);
	assert_int_equal(kvio_short_len(1023), 511);
	assert_int_equal(kvio_short_len(1024), 512);
	assert_int_equal(kvio_short_len(5000), 2048);
	assert_int_equal(kvio_short_len(1 << 20), 1 << 19);
	assert_string_equal(kvio_kind_name(KVIO_DIRSYNC), "dirsync");
	assert_string_equal(kvio_kind_name(99), "?");
}

static void test_kvio_sync_failpoints(void **state)
{
	struct tmp *t = *state;
	char a[128], b[128], buf[4096];
	path_in(t, a, sizeof(a), "f");
	path_in(t, b, sizeof(b), "g");
	assert_int_equal(kvio_failpoints_set(
		"open:2=enospc,write:2=enospc,write:3=eio,write:4=short,fsync:1=eio,"
		"dirsync:1=eio,rename:1=eio,unlink:1=eio,truncate:1=enospc,read:1=eio,"
		"write:6+=enospc"), 0);
	struct kvio_file f, g;
	assert_int_equal(kvio_open(&f, a, O_RDWR | O_CREAT, 0644), 0);
	assert_int_equal(kvio_open(&g, b, O_RDWR | O_CREAT, 0644), -ENOSPC);
	assert_int_equal(g.fd, -1);
	assert_false(file_exists(b));   /* the kernel never saw it */

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(kvio_pwrite(&f, buf, 10, 0), 10);        /* write 1 */
	assert_int_equal(kvio_pwrite(&f, buf, 10, 10), -ENOSPC);  /* write 2 */
	assert_int_equal(kvio_pwrite(&f, buf, 10, 10), -EIO);     /* write 3 */
	assert_int_equal(file_size(a), 10);
	memset(buf, 'y', sizeof(buf));
	assert_int_equal(kvio_pwrite(&f, buf, 3000, 10), 1024);   /* write 4: short */
	assert_int_equal(file_size(a), 10 + 1024);
	assert_int_equal(kvio_pwrite(&f, "z", 1, 0), 1);          /* write 5 */
	for (int i = 0; i < 5; i++)                               /* 6+ */
		assert_int_equal(kvio_pwrite(&f, "z", 1, 0), -ENOSPC);

	assert_int_equal(kvio_fdatasync(&f), -EIO);
	assert_int_equal(kvio_fdatasync(&f), 0);
	assert_int_equal(kvio_fsync_dir(t->dir), -EIO);
	assert_int_equal(kvio_fsync_dir(t->dir), 0);
	assert_int_equal(kvio_rename(a, b), -EIO);
	assert_true(file_exists(a));
	assert_int_equal(kvio_truncate(&f, 0), -ENOSPC);
	assert_int_equal(file_size(a), 1034);
	assert_int_equal(kvio_pread(&f, buf, 4, 0), -EIO);
	assert_int_equal(kvio_pread(&f, buf, 4, 0), 4);
	assert_memory_equal(buf, "zxxx", 4);
	assert_int_equal(kvio_unlink(a), -EIO);
	assert_true(file_exists(a));
	assert_int_equal(kvio_close(&f), 0);
	assert_int_equal(kvio_unlink(a), 0);

	assert_int_equal(kvio_op_count(KVIO_WRITE), 10);
	assert_int_equal(kvio_op_count(KVIO_FSYNC), 2);
	kvio_failpoints_reset();
	assert_int_equal(kvio_op_count(KVIO_WRITE), 0);
}

/* kind@name: only operations on files whose name contains name, counted
 * by the rule; the others pass and are counted as usual. */
static void test_kvio_named_failpoints(void **state)
{
	struct tmp *t = *state;
	char a[128], b[128];
	path_in(t, a, sizeof(a), "kevy-s0-g1.aof");
	path_in(t, b, sizeof(b), "kevy-s1-g1.aof");
	struct kvio_file f, g;
	assert_int_equal(kvio_open(&f, a, O_RDWR | O_CREAT, 0644), 0);
	assert_int_equal(kvio_open(&g, b, O_RDWR | O_CREAT, 0644), 0);
	assert_int_equal(kvio_failpoints_set("write@kevy-s1-g:2+=enospc,fsync@s0-:1=eio"), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kvio_pwrite(&f, "a", 1, (uint64_t)i), 1);   /* not named */
	assert_int_equal(kvio_pwrite(&g, "b", 1, 0), 1);                  /* its 1st */
	assert_int_equal(kvio_pwrite(&f, "a", 1, 3), 1);
	assert_int_equal(kvio_pwrite(&g, "b", 1, 1), -ENOSPC);            /* its 2nd */
	assert_int_equal(kvio_pwrite(&g, "b", 1, 1), -ENOSPC);            /* and later */
	assert_int_equal(kvio_pwrite(&f, "a", 1, 4), 1);
	assert_int_equal(kvio_fdatasync(&g), 0);
	assert_int_equal(kvio_fdatasync(&f), -EIO);
	assert_int_equal(kvio_fdatasync(&f), 0);
	assert_int_equal(kvio_op_count(KVIO_WRITE), 8);
	assert_int_equal(file_size(a), 5);
	assert_int_equal(file_size(b), 1);
	kvio_failpoints_reset();
	assert_int_equal(kvio_close(&f), 0);
	assert_int_equal(kvio_close(&g), 0);
}

static void test_kvio_ring_ops(void **state)
{
	struct tmp *t = *state;
	struct io_uring ring;
	ring_init(&ring);
	char a[128], b[128], buf[64];
	path_in(t, a, sizeof(a), "ring.tmp");
	path_in(t, b, sizeof(b), "ring");

	/* open through the ring */
	struct kvio_file f, d;
	struct kvio_op o;
	struct kvio_op *ops[4] = { &o };
	int r[4];
	struct io_uring_sqe *sqe = sqe_for(&ring, 0);
	kvio_prep_open(&o, sqe, NULL, &f, a, O_RDWR | O_CREAT | O_TRUNC, 0644);
	io_uring_sqe_set_data64(sqe, 0);
	ring_run(&ring, ops, r, 1);
	assert_true(r[0] >= 0);
	assert_int_equal(f.fd, r[0]);
	assert_string_equal(f.path, a);

	/* group commit: write linked to fdatasync */
	ring_write_sync(&ring, &f, "abcdef", 6, 0, r);
	assert_int_equal(r[0], 6);
	assert_int_equal(r[1], 0);
	ring_write_sync(&ring, &f, "XY", 2, 6, r);
	assert_int_equal(r[0], 2);
	assert_int_equal(r[1], 0);
	assert_int_equal(slurp(a, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "abcdefXY", 8);

	/* manifest commit as one chain: rename -> dirsync */
	assert_int_equal(kvio_open_dir(&d, t->dir), 0);
	struct kvio_op rn, ds;
	ops[0] = &rn;
	ops[1] = &ds;
	sqe = sqe_for(&ring, 0);
	kvio_prep_rename(&rn, sqe, NULL, a, b);
	io_uring_sqe_set_data64(sqe, 0);
	sqe = sqe_for(&ring, 1);
	kvio_prep_dirsync(&ds, sqe, &rn, &d);
	io_uring_sqe_set_data64(sqe, 1);
	ring_run(&ring, ops, r, 2);
	assert_int_equal(r[0], 0);
	assert_int_equal(r[1], 0);
	assert_false(file_exists(a));
	assert_true(file_exists(b));

	/* unlink through the ring */
	ops[0] = &o;
	sqe = sqe_for(&ring, 0);
	kvio_prep_unlink(&o, sqe, NULL, b);
	io_uring_sqe_set_data64(sqe, 0);
	ring_run(&ring, ops, r, 1);
	assert_int_equal(r[0], 0);
	assert_false(file_exists(b));

	/* A kernel failure of the write cancels its linked fdatasync. */
	struct kvio_file ro;
	assert_int_equal(kvio_open(&ro, t->dir, O_RDONLY, 0), 0);
	ring_write_sync(&ring, &ro, "q", 1, 0, r);
	assert_true(r[0] < 0);
	assert_int_equal(r[1], -ECANCELED);
	kvio_close(&ro);

	kvio_close(&f);
	kvio_close(&d);
	io_uring_queue_exit(&ring);
}

static void test_kvio_ring_failpoints(void **state)
{
	struct tmp *t = *state;
	struct io_uring ring;
	ring_init(&ring);
	char a[128], b[128], buf[8192];
	path_in(t, a, sizeof(a), "rf");
	path_in(t, b, sizeof(b), "rf2");
	struct kvio_file f;
	assert_int_equal(kvio_open(&f, a, O_RDWR | O_CREAT | O_TRUNC, 0644), 0);
	assert_int_equal(kvio_failpoints_set(
		"write:1=enospc,write:2=eio,write:3=short,fsync:2=eio,rename:1=eio,"
		"unlink:1=enospc,open:2=eio,dirsync:1=eio"), 0);
	int r[2];
	memset(buf, 'w', sizeof(buf));

	/* ENOSPC / EIO: the kernel never sees the write; the fsync is cancelled
	 * and not counted, as a kernel-failed write cancels its link. */
	ring_write_sync(&ring, &f, buf, 100, 0, r);
	assert_int_equal(r[0], -ENOSPC);
	assert_int_equal(r[1], -ECANCELED);
	ring_write_sync(&ring, &f, buf, 100, 0, r);
	assert_int_equal(r[0], -EIO);
	assert_int_equal(r[1], -ECANCELED);
	assert_int_equal(file_size(a), 0);
	assert_int_equal(kvio_op_count(KVIO_FSYNC), 0);

	/* short: the prefix lands, the fsync is cancelled */
	ring_write_sync(&ring, &f, buf, 5000, 0, r);
	assert_int_equal(r[0], 2048);
	assert_int_equal(r[1], -ECANCELED);
	assert_int_equal(file_size(a), 2048);

	/* write 4 fine, fsync 1 fine; write 5 fine, fsync 2 = EIO */
	ring_write_sync(&ring, &f, buf, 10, 2048, r);
	assert_int_equal(r[0], 10);
	assert_int_equal(r[1], 0);
	ring_write_sync(&ring, &f, buf, 10, 2058, r);
	assert_int_equal(r[0], 10);
	assert_int_equal(r[1], -EIO);
	assert_int_equal(file_size(a), 2068);
	assert_int_equal(kvio_op_count(KVIO_WRITE), 5);
	assert_int_equal(kvio_op_count(KVIO_FSYNC), 2);

	/* rename EIO: the chain rename -> dirsync is cut, file not renamed */
	struct kvio_file d;
	assert_int_equal(kvio_open_dir(&d, t->dir), 0);            /* open 1 */
	struct kvio_op o1, o2;
	struct kvio_op *ops[2] = { &o1, &o2 };
	struct io_uring_sqe *sqe = sqe_for(&ring, 0);
	kvio_prep_rename(&o1, sqe, NULL, a, b);
	io_uring_sqe_set_data64(sqe, 0);
	sqe = sqe_for(&ring, 1);
	kvio_prep_dirsync(&o2, sqe, &o1, &d);
	io_uring_sqe_set_data64(sqe, 1);
	ring_run(&ring, ops, r, 2);
	assert_int_equal(r[0], -EIO);
	assert_int_equal(r[1], -ECANCELED);
	assert_true(file_exists(a));
	assert_false(file_exists(b));

	/* dirsync 1 = EIO (unlinked this time, so it is counted now) */
	sqe = sqe_for(&ring, 0);
	kvio_prep_dirsync(&o1, sqe, NULL, &d);
	io_uring_sqe_set_data64(sqe, 0);
	ring_run(&ring, ops, r, 1);
	assert_int_equal(r[0], -EIO);

	/* unlink ENOSPC, then a real one */
	sqe = sqe_for(&ring, 0);
	kvio_prep_unlink(&o1, sqe, NULL, a);
	io_uring_sqe_set_data64(sqe, 0);
	ring_run(&ring, ops, r, 1);
	assert_int_equal(r[0], -ENOSPC);
	assert_true(file_exists(a));

	/* open 2 = EIO through the ring: nothing created, nothing owned */
	struct kvio_file g;
	sqe = sqe_for(&ring, 0);
	kvio_prep_open(&o1, sqe, NULL, &g, b, O_RDWR | O_CREAT, 0644);
	io_uring_sqe_set_data64(sqe, 0);
	ring_run(&ring, ops, r, 1);
	assert_int_equal(r[0], -EIO);
	assert_int_equal(g.fd, -1);
	assert_null(g.path);
	assert_false(file_exists(b));

	kvio_close(&d);
	kvio_close(&f);
	io_uring_queue_exit(&ring);
}

#define THREADS 4
#define WRITES_PER_THREAD 1000

struct thr_arg {
	struct kvio_file *f;
	int index;
	int failures;
	int enospc;
};

static void *thr_writer(void *p)
{
	struct thr_arg *a = p;
	uint64_t v = (uint64_t)a->index;
	for (int i = 0; i < WRITES_PER_THREAD; i++) {
		ssize_t rc = kvio_pwrite(a->f, &v, sizeof(v), (uint64_t)a->index * 8);
		if (rc == -EIO)
			a->failures++;
		else if (rc == -ENOSPC)
			a->enospc++;
		else if (rc != (ssize_t)sizeof(v))
			a->failures += 1000000;
	}
	return NULL;
}

static void test_kvio_counting_across_threads(void **state)
{
	struct tmp *t = *state;
	char a[128];
	path_in(t, a, sizeof(a), "threads");
	struct kvio_file f;
	assert_int_equal(kvio_open(&f, a, O_RDWR | O_CREAT, 0644), 0);
	assert_int_equal(kvio_failpoints_set("write:2500=eio,write:3501+=enospc"), 0);
	pthread_t th[THREADS];
	struct thr_arg args[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct thr_arg){ .f = &f, .index = i };
		assert_int_equal(pthread_create(&th[i], NULL, thr_writer, &args[i]), 0);
	}
	int eio = 0, enospc = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		eio += args[i].failures;
		enospc += args[i].enospc;
	}
	assert_int_equal(kvio_op_count(KVIO_WRITE), THREADS * WRITES_PER_THREAD);
	assert_int_equal(eio, 1);
	assert_int_equal(enospc, THREADS * WRITES_PER_THREAD - 3500);
	kvio_close(&f);
}

static void test_kvio_trace_round_trip(void **state)
{
	struct tmp *t = *state;
	struct io_uring ring;
	ring_init(&ring);
	char a[128], b[128], trace[128];
	path_in(t, a, sizeof(a), "data");
	path_in(t, b, sizeof(b), "data.new");
	path_in(t, trace, sizeof(trace), "trace.bin");
	assert_int_equal(kvio_trace_start(trace), 0);
	assert_true(kvio_trace_enabled());
	assert_int_equal(kvio_failpoints_set("write:3=short"), 0);

	struct kvio_file f;
	assert_int_equal(kvio_open(&f, a, O_RDWR | O_CREAT | O_TRUNC, 0644), 0);  /* 1 */
	assert_int_equal(kvio_pwrite(&f, "first", 5, 0), 5);                      /* 2 */
	assert_int_equal(kvio_fdatasync(&f), 0);                                  /* 3 */
	kvio_trace_reply(42, "+OK\r\n", 5);                                       /* 4 */
	int r[2];
	ring_write_sync(&ring, &f, "second", 6, 5, r);                            /* 5, 6 */
	assert_int_equal(r[0], 6);
	char big[2000];
	memset(big, 'B', sizeof(big));
	assert_int_equal(kvio_pwrite(&f, big, sizeof(big), 11), 512);             /* 7 */
	kvio_trace_reply(43, ":1\r\n", 4);                                        /* 8 */
	assert_int_equal(kvio_rename(a, b), 0);                                   /* 9 */
	assert_int_equal(kvio_fsync_dir(t->dir), 0);                              /* 10 */
	assert_int_equal(kvio_close(&f), 0);                                      /* 11 */
	kvio_trace_stop();
	assert_false(kvio_trace_enabled());

	struct kvio_trace_reader rd;
	struct kvio_trace_rec rec;
	assert_int_equal(kvio_trace_open(&rd, trace), 0);
	static const uint16_t kinds[] = { KVIO_OPEN, KVIO_WRITE, KVIO_FSYNC, KVIO_REPLY,
					  KVIO_WRITE, KVIO_FSYNC, KVIO_WRITE, KVIO_REPLY,
					  KVIO_RENAME, KVIO_DIRSYNC, KVIO_CLOSE };
	uint64_t file_id = 0, ring_write_op = 0, prev_op = 0;
	uint64_t rec_pos[KV_ARRAY_LEN(kinds) + 1];
	for (size_t i = 0; i < KV_ARRAY_LEN(kinds); i++) {
		rec_pos[i] = rd.pos;
		assert_int_equal(kvio_trace_read_next(&rd, &rec), 1);
		assert_int_equal(rec.seq, i + 1);
		assert_int_equal(rec.kind, kinds[i]);
		assert_true(rec.op_id > prev_op || rec.flags & KVIO_TR_RING);
		prev_op = rec.op_id;
		switch (i) {
		case 0:
			assert_string_equal(rec.path, a);
			assert_true(rec.flags & KVIO_TR_NAMESPACE);
			assert_int_equal(rec.result, 0 + rec.result);
			assert_true(rec.result >= 0);
			file_id = rec.file_id;
			assert_true(file_id != 0);
			break;
		case 1:
			assert_int_equal(rec.file_id, file_id);
			assert_int_equal(rec.offset, 0);
			assert_int_equal(rec.length, 5);
			assert_int_equal(rec.result, 5);
			assert_int_equal(rec.data_len, 5);
			assert_memory_equal(rec.data, "first", 5);
			assert_string_equal(rec.path, a);
			assert_int_equal(rec.issued_after, 1);
			break;
		case 2:
			assert_int_equal(rec.flags, KVIO_TR_BARRIER_FILE | KVIO_TR_DATASYNC);
			assert_int_equal(rec.file_id, file_id);
			assert_int_equal(rec.issued_after, 2);
			break;
		case 3:
			assert_int_equal(rec.file_id, 42);
			assert_int_equal(rec.data_len, 5);
			assert_memory_equal(rec.data, "+OK\r\n", 5);
			break;
		case 4:
			assert_true(rec.flags & KVIO_TR_RING);
			assert_int_equal(rec.offset, 5);
			assert_int_equal(rec.result, 6);
			assert_memory_equal(rec.data, "second", 6);
			assert_int_equal(rec.link_op, 0);
			ring_write_op = rec.op_id;
			break;
		case 5:
			assert_true(rec.flags & KVIO_TR_RING);
			assert_true(rec.flags & KVIO_TR_BARRIER_FILE);
			assert_int_equal(rec.link_op, ring_write_op);
			/* issued before the write completed: covered through the link */
			assert_int_equal(rec.issued_after, 4);
			break;
		case 6:
			assert_true(rec.flags & KVIO_TR_INJECTED);
			assert_int_equal(rec.action, 3);
			assert_int_equal(rec.length, 2000);
			assert_int_equal(rec.result, 512);
			assert_int_equal(rec.data_len, 512);
			assert_int_equal(rec.offset, 11);
			break;
		case 7:
			assert_int_equal(rec.file_id, 43);
			assert_memory_equal(rec.data, ":1\r\n", 4);
			break;
		case 8:
			assert_string_equal(rec.path, a);
			assert_string_equal(rec.path2, b);
			assert_true(rec.flags & KVIO_TR_NAMESPACE);
			break;
		case 9:
			assert_string_equal(rec.path, t->dir);
			assert_true(rec.flags & KVIO_TR_BARRIER_DIR);
			break;
		case 10:
			assert_int_equal(rec.file_id, file_id);
			break;
		}
	}
	rec_pos[KV_ARRAY_LEN(kinds)] = rd.pos;
	assert_int_equal(kvio_trace_read_next(&rd, &rec), 0);
	kvio_trace_close(&rd);

	/* Flip one byte inside record 5 (the ring write's data): records 1-4
	 * still read, record 5 is reported corrupt. */
	for (int which = 0; which < 3; which++) {
		int fd = open(trace, O_RDWR);
		assert_true(fd >= 0);
		off_t at = which == 0 ? (off_t)rec_pos[4] + 88 + (off_t)strlen(a) + 2   /* data */
			 : which == 1 ? (off_t)rec_pos[4] + 1                           /* rec_len */
				      : (off_t)rec_pos[4] + 30;                         /* seq */
		uint8_t c;
		assert_int_equal(pread(fd, &c, 1, at), 1);
		c ^= 0x40;
		assert_int_equal(pwrite(fd, &c, 1, at), 1);
		assert_int_equal(kvio_trace_open(&rd, trace), 0);
		for (int i = 0; i < 4; i++)
			assert_int_equal(kvio_trace_read_next(&rd, &rec), 1);
		int rc = kvio_trace_read_next(&rd, &rec);
		if (rc != KV_ECORRUPT && !(which == 1 && rc == KV_ETORN))
			fail_msg("corruption %d reported as %d", which, rc);
		assert_int_equal(rd.pos, rec_pos[4]);
		kvio_trace_close(&rd);
		c ^= 0x40;
		assert_int_equal(pwrite(fd, &c, 1, at), 1);
		close(fd);
	}

	/* Cut the file inside the last record: a torn tail. */
	assert_int_equal(truncate(trace, (off_t)rec_pos[KV_ARRAY_LEN(kinds)] - 3), 0);
	assert_int_equal(kvio_trace_open(&rd, trace), 0);
	for (size_t i = 0; i + 1 < KV_ARRAY_LEN(kinds); i++)
		assert_int_equal(kvio_trace_read_next(&rd, &rec), 1);
	assert_int_equal(kvio_trace_read_next(&rd, &rec), KV_ETORN);
	kvio_trace_close(&rd);

	/* Not a trace / unknown version. */
	int fd = open(trace, O_RDWR);
	assert_int_equal(pwrite(fd, "\x02", 1, 8), 1);
	assert_int_equal(kvio_trace_open(&rd, trace), KV_EVERSION);
	assert_int_equal(pwrite(fd, "X", 1, 0), 1);
	assert_int_equal(kvio_trace_open(&rd, trace), KV_ECORRUPT);
	close(fd);
	assert_int_equal(truncate(trace, 5), 0);
	assert_int_equal(kvio_trace_open(&rd, trace), KV_ETORN);
	io_uring_queue_exit(&ring);
}

/* Run fn in a forked child; return its wait status. */
static int in_child(void (*fn)(const char *dir, const char *file), const char *dir,
		    const char *file)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn(dir, file);
		_exit(3);   /* the failpoint should have killed us */
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void child_kill_after_write(const char *dir, const char *file)
{
	if (kvio_failpoints_set("write:2=kill") != 0)
		_exit(4);
	struct kvio_file f;
	if (kvio_open(&f, file, O_RDWR | O_CREAT | O_TRUNC, 0644) != 0)
		_exit(5);
	kvio_pwrite(&f, "one", 3, 0);
	kvio_pwrite(&f, "two", 3, 3);
	_exit(6);
}

static void child_kill_before_write(const char *dir, const char *file)
{
	if (kvio_failpoints_set("write:2=kill-before") != 0)
		_exit(4);
	struct kvio_file f;
	if (kvio_open(&f, file, O_RDWR | O_CREAT | O_TRUNC, 0644) != 0)
		_exit(5);
	kvio_pwrite(&f, "one", 3, 0);
	kvio_pwrite(&f, "two", 3, 3);
	_exit(6);
}

static void child_kill_after_ring_fsync(const char *dir, const char *file)
{
	char trace[256];
	snprintf(trace, sizeof(trace), "%s/child.trace", dir);
	if (kvio_trace_start(trace) != 0 || kvio_failpoints_set("fsync:1=kill") != 0)
		_exit(4);
	struct io_uring ring;
	if (io_uring_queue_init(8, &ring, 0) < 0)
		_exit(77);
	struct kvio_file f;
	if (kvio_open(&f, file, O_RDWR | O_CREAT | O_TRUNC, 0644) != 0)
		_exit(5);
	struct kvio_op w, s;
	struct io_uring_sqe *sw = io_uring_get_sqe(&ring), *ss = io_uring_get_sqe(&ring);
	kvio_prep_pwrite(&w, sw, NULL, &f, "durable", 7, 0);
	kvio_prep_fdatasync(&s, ss, &w, &f);
	io_uring_sqe_set_data64(sw, 0);
	io_uring_sqe_set_data64(ss, 1);
	io_uring_submit(&ring);
	for (int i = 0; i < 2; i++) {
		struct io_uring_cqe *cqe;
		if (io_uring_wait_cqe(&ring, &cqe) != 0)
			_exit(7);
		kvio_op_complete(io_uring_cqe_get_data64(cqe) ? &s : &w, cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}
	_exit(6);
}

static void test_kvio_kill_actions_in_child(void **state)
{
	struct tmp *t = *state;
	char a[128], buf[64];
	path_in(t, a, sizeof(a), "killed");

	int st = in_child(child_kill_after_write, t->dir, a);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_int_equal(slurp(a, buf, sizeof(buf)), 6);   /* the write happened */
	assert_memory_equal(buf, "onetwo", 6);

	st = in_child(child_kill_before_write, t->dir, a);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_int_equal(slurp(a, buf, sizeof(buf)), 3);   /* it did not */

	st = in_child(child_kill_after_ring_fsync, t->dir, a);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		skip();
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_int_equal(slurp(a, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "durable", 7);

	/* The child's trace ends with the fsync that killed it. */
	char trace[256];
	snprintf(trace, sizeof(trace), "%s/child.trace", t->dir);
	struct kvio_trace_reader rd;
	struct kvio_trace_rec rec;
	assert_int_equal(kvio_trace_open(&rd, trace), 0);
	static const uint16_t kinds[] = { KVIO_OPEN, KVIO_WRITE, KVIO_FSYNC };
	for (size_t i = 0; i < KV_ARRAY_LEN(kinds); i++) {
		assert_int_equal(kvio_trace_read_next(&rd, &rec), 1);
		assert_int_equal(rec.kind, kinds[i]);
	}
	assert_int_equal(rec.action, 4);
	assert_int_equal(rec.result, 0);
	assert_int_equal(kvio_trace_read_next(&rd, &rec), 0);
	kvio_trace_close(&rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kvio_sync_ops_in_tempdir, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_kvio_failpoint_grammar, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_kvio_sync_failpoints, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_kvio_named_failpoints, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_kvio_ring_ops, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_kvio_ring_failpoints, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_kvio_counting_across_threads, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_kvio_trace_round_trip, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_kvio_kill_actions_in_child, setup_tmp, teardown_tmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
