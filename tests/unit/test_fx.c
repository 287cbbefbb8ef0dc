/*
 * test_fx.c - every write command's effect replays to the same keyspace:
 * commands run on keyspaces A with effect capture (fx.h), each shard's
 * payloads are applied to fresh keyspaces B with fx_apply, and DEBUG DIGEST
 * of A and B must match, at the clock and on the raw state (expired keys not
 * yet reclaimed included).  The key rewrites (SET ... EX as SET ... PXAT,
 * SPOP as SREM, ...) are checked as text too, and also replayed with their
 * payload's time moved an hour later, to show that they do not depend on
 * the clock.
 *
 * The last test fails when a CMD_WRITE command of the table produced no
 * effect in any scenario: a new write command needs a scenario here.
 *
 * Not here: MULTI/EXEC (runtime-level: its frames nest in shard.c; covered
 * by the AOF integration tests) and blocked clients served later by another
 * command's write (serve_now needs the shard runtime; same).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 48
#include "persist/aof_format.h"
#include "commands/cmd.h"
#include "cmd_fixture.h"
#include "commands/config.h"
#include "commands/fx.h"
#include "store/keydump.h"
#include "store/store.h"
#include "store/t_set.h"
#include "server/server.h"

/* ---- the environment: A (captured) and the payloads taken from it ---- */

struct taken {
	uint32_t shard;
	struct kv_buf payload;
};

struct env {
	struct fixture *a;
	uint32_t nshards;
	struct taken *taken;
	size_t ntaken, cap;
	struct kv_buf text;        /* effect_text's result */
};

/* Write commands that produced an effect in some scenario. */
static const struct kv_command *covered[512];
static size_t ncovered;

static void mark_covered(const struct kv_command *cmd)
{
	for (size_t i = 0; i < ncovered; i++)
		if (covered[i] == cmd)
			return;
	assert_true(ncovered < KV_ARRAY_LEN(covered));
	covered[ncovered++] = cmd;
}

static int setup_n(void **state, uint32_t nshards)
{
	server_commands_init();   /* the blocking pops are the runtime's family */
	atomic_store(&g_config.proto_max_bulk_len, 512LL * 1024 * 1024);
	struct env *e = calloc(1, sizeof(*e));
	e->nshards = nshards;
	e->a = fixture_new(nshards);
	for (uint32_t i = 0; i < nshards; i++) {
		for (uint32_t d = 0; d < e->a->spaces[i].n; d++) {
			db_set_expire_hook(e->a->spaces[i].db[d], fx_on_expire, fx_shard_arg(i));
			db_set_change_hook(e->a->spaces[i].db[d], fx_on_change, fx_shard_arg(i));
		}
	}
	fx_thread_enable(nshards);
	*state = e;
	return 0;
}

static int setup1(void **state) { return setup_n(state, 1); }
static int setup3(void **state) { return setup_n(state, 3); }

static int teardown(void **state)
{
	struct env *e = *state;
	fx_thread_disable();
	fixture_free(e->a);
	for (size_t i = 0; i < e->ntaken; i++)
		kv_buf_free(&e->taken[i].payload);
	free(e->taken);
	kv_buf_free(&e->text);
	free(e);
	return 0;
}

/* Moves every pending payload into e->taken, in shard order.  Returns how
 * many were taken. */
static size_t take_all(struct env *e)
{
	size_t n = 0;
	for (uint32_t s = 0; s < e->nshards; s++) {
		struct kv_buf b = KV_BUF_INIT;
		if (!fx_take(s, &b)) {
			kv_buf_free(&b);
			continue;
		}
		if (e->ntaken == e->cap) {
			e->cap = e->cap ? e->cap * 2 : 64;
			e->taken = realloc(e->taken, e->cap * sizeof(*e->taken));
		}
		e->taken[e->ntaken++] = (struct taken){ s, b };
		n++;
	}
	assert_false(fx_pending());
	return n;
}

/* Runs one command on A inside an effect frame, as the runtime does, and
 * takes its payloads.  Returns the reply. */
static const char *exec_argv(struct env *e, int argc, const struct kv_slice *argv)
{
	struct fixture *a = e->a;
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	assert_non_null(cmd);
	assert_true(cmd_arity_ok(cmd, argc));
	kv_buf_clear(&a->out);
	struct cmd_ctx c = {
		.argc = argc, .argv = argv, .out = &a->out, .now_ms = a->now_ms,
		.held = a->held, .nshards = a->nshards, .dbid = a->dbid,
	};
	struct fx_cmd f;
	fx_cmd_begin(&f, cmd, argc, argv, a->held, a->dbid, a->now_ms);
	cmd->proc(&c);
	a->dbid = c.dbid;   /* SELECT */
	fx_cmd_end(&f);
	if (take_all(e) > 0 && (cmd->flags & CMD_WRITE))
		mark_covered(cmd);
	return kv_buf_cstr(&a->out);
}

static const char *exec(struct env *e, ...)
{
	struct kv_slice argv[MAX_ARGS];
	int argc = 0;
	va_list ap;
	va_start(ap, e);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
		assert_true(argc < MAX_ARGS);
		argv[argc++] = (struct kv_slice){ s, strlen(s) };
	}
	va_end(ap);
	return exec_argv(e, argc, argv);
}

#define X(...) exec(e, __VA_ARGS__, NULL)
#define XEXPECT(reply, ...) assert_string_equal(X(__VA_ARGS__), reply)

/* The commands of the last payload taken for `shard`, as text: words joined
 * by spaces, commands by "; ". */
static const char *effect_text(struct env *e, uint32_t shard)
{
	const struct taken *t = NULL;
	for (size_t i = e->ntaken; i-- > 0;)
		if (e->taken[i].shard == shard) {
			t = &e->taken[i];
			break;
		}
	assert_non_null(t);
	kv_buf_clear(&e->text);
	struct aof_payload_iter it;
	int argc;
	struct kv_slice *argv;
	aof_payload_iter_init(&it, t->payload.data, t->payload.len);
	assert_int_equal(it.time_ms, e->a->now_ms);
	bool first = true;
	while (aof_payload_next(&it, &argc, &argv) == 1) {
		if (!first)
			kv_buf_append_str(&e->text, "; ");
		first = false;
		for (int i = 0; i < argc; i++) {
			if (i)
				kv_buf_append_char(&e->text, ' ');
			kv_buf_append(&e->text, argv[i].ptr, argv[i].len);
		}
	}
	aof_payload_iter_free(&it);
	return kv_buf_cstr(&e->text);
}

/* The last command's effect on the only shard. */
static const char *last_effect(struct env *e)
{
	return effect_text(e, 0);
}

/* How many payloads the last exec took. */
static size_t payloads_since(struct env *e, size_t mark)
{
	return e->ntaken - mark;
}

/* ---- replay and comparison ---- */

static void digest_of(struct fixture *f, int64_t now_ms, char out[41])
{
	int64_t saved = f->now_ms;
	f->now_ms = now_ms;
	const char *r = run(f, "DEBUG", "DIGEST", NULL);
	f->now_ms = saved;
	assert_int_equal(r[0], '+');
	memcpy(out, r + 1, 40);
	out[40] = '\0';
}

/* A copy of payload with its time moved by shift_ms. */
static void shifted(const struct kv_buf *p, int64_t shift_ms, struct kv_buf *out)
{
	struct aof_payload_iter it;
	int argc;
	struct kv_slice *argv;
	aof_payload_iter_init(&it, p->data, p->len);
	out->len = 0;
	aof_payload_begin(out, it.time_ms + shift_ms);
	while (aof_payload_next(&it, &argc, &argv) == 1)
		aof_payload_append(out, argc, argv);
	aof_payload_iter_free(&it);
}

/* On a failure: every payload taken, as text, to stderr. */
static void dump_taken(const struct env *e)
{
	for (size_t i = 0; i < e->ntaken; i++) {
		struct aof_payload_iter it;
		int argc;
		struct kv_slice *argv;
		const struct taken *t = &e->taken[i];
		aof_payload_iter_init(&it, t->payload.data, t->payload.len);
		fprintf(stderr, "  #%zu shard %u t=%lld:", i, t->shard, (long long)it.time_ms);
		while (aof_payload_next(&it, &argc, &argv) == 1) {
			for (int j = 0; j < argc; j++)
				fprintf(stderr, " %.*s", (int)KV_MIN(argv[j].len, 40), argv[j].ptr);
			fprintf(stderr, ";");
		}
		fprintf(stderr, "\n");
		aof_payload_iter_free(&it);
	}
}

/* Replays every payload taken so far into fresh keyspaces (each on its own
 * shard's keyspace) with the payloads' time moved by shift_ms, and compares
 * the digests with A's at `at_ms` (0: the raw state, expired keys too). */
static void check_replay_at(struct env *e, int64_t shift_ms, int64_t at_ms)
{
	/* Replay is no capture: its handlers' effects must go nowhere. */
	fx_thread_disable();
	struct fixture *b = fixture_new(e->nshards);
	b->now_ms = e->a->now_ms + 3600 * 1000;  /* B's own clock plays no part */
	struct kv_buf moved = KV_BUF_INIT;
	char err[256];
	for (size_t i = 0; i < e->ntaken; i++) {
		const struct taken *t = &e->taken[i];
		shifted(&t->payload, shift_ms, &moved);
		int rc = fx_apply(b->held[t->shard], t->shard, e->nshards, moved.data, moved.len,
				  err, sizeof(err));
		if (rc != 0) {
			dump_taken(e);
			fail_msg("payload %zu (shard %u) does not replay: %s", i, t->shard, err);
		}
	}
	kv_buf_free(&moved);
	char da[41], db[41];
	digest_of(e->a, at_ms, da);
	digest_of(b, at_ms, db);
	if (strcmp(da, db) != 0) {
		dump_taken(e);
		fail_msg("digest at %lld after replay shifted by %lld ms: A %s, B %s",
			 (long long)at_ms, (long long)shift_ms, da, db);
	}
	fixture_free(b);
	fx_thread_enable(e->nshards);
}

/* The replay the AOF does: at each record's own time. */
static void check_replay(struct env *e)
{
	check_replay_at(e, 0, e->a->now_ms);
	check_replay_at(e, 0, 0);
}

/* For scenarios whose effects are all clock-free rewrites: replay an hour
 * late gives what A holds an hour later (deadlines are absolute). */
static void check_replay_late(struct env *e)
{
	check_replay(e);
	check_replay_at(e, 3600 * 1000, e->a->now_ms + 3600 * 1000);
}

static char nbuf[8][32];
static int nbuf_i;

/* NOW_MS + delta in decimal (a few live at once). */
static const char *at(int64_t delta)
{
	char *b = nbuf[nbuf_i++ % 8];
	snprintf(b, 32, "%lld", (long long)(NOW_MS + delta));
	return b;
}

static const char *at_s(int64_t delta_s)
{
	char *b = nbuf[nbuf_i++ % 8];
	snprintf(b, 32, "%lld", (long long)(NOW_MS / 1000 + delta_s));
	return b;
}

/* ---- strings and keys ---- */

static void test_fx_string_rewrites(void **state)
{
	struct env *e = *state;
	char want[128];

	XEXPECT("+OK\r\n", "SET", "k", "v");
	assert_string_equal(last_effect(e), "SET k v");
	XEXPECT("+OK\r\n", "SET", "k", "v", "EX", "10");
	snprintf(want, sizeof(want), "SET k v PXAT %s", at(10000));
	assert_string_equal(last_effect(e), want);
	XEXPECT("+OK\r\n", "SET", "k2", "v", "PX", "1500", "NX");
	snprintf(want, sizeof(want), "SET k2 v PXAT %s", at(1500));
	assert_string_equal(last_effect(e), want);
	size_t mark = e->ntaken;
	XEXPECT("$-1\r\n", "SET", "k2", "w", "NX", "EX", "5");   /* not applied: nothing */
	assert_int_equal(payloads_since(e, mark), 0);
	XEXPECT("$1\r\nv\r\n", "SET", "k2", "w", "XX", "GET", "EXAT", at_s(100));
	snprintf(want, sizeof(want), "SET k2 w PXAT %s", at(100000));
	assert_string_equal(last_effect(e), want);
	/* KEEPTTL stays KEEPTTL: replay runs at the record's time, when the key
	 * was live (a key found expired is logged as DEL before).  On a key
	 * without a deadline here, so the late replay below holds too. */
	XEXPECT("+OK\r\n", "SET", "kt", "x", "KEEPTTL");
	assert_string_equal(last_effect(e), "SET kt x KEEPTTL");
	XEXPECT("+OK\r\n", "SET", "k3", "x", "PXAT", at(20000));
	snprintf(want, sizeof(want), "SET k3 x PXAT %s", at(20000));
	assert_string_equal(last_effect(e), want);
	XEXPECT("+OK\r\n", "SETEX", "k4", "100", "v4");
	snprintf(want, sizeof(want), "SET k4 v4 PXAT %s", at(100000));
	assert_string_equal(last_effect(e), want);
	XEXPECT("+OK\r\n", "PSETEX", "k5", "2500", "v5");
	snprintf(want, sizeof(want), "SET k5 v5 PXAT %s", at(2500));
	assert_string_equal(last_effect(e), want);
	/* A deadline already past: stored as it is (Redis 7.0), logged as is. */
	XEXPECT("+OK\r\n", "SET", "k6", "v6", "PXAT", at(-5));
	snprintf(want, sizeof(want), "SET k6 v6 PXAT %s", at(-5));
	assert_string_equal(last_effect(e), want);

	XEXPECT(":1\r\n", "SETNX", "k7", "a");
	XEXPECT("$1\r\na\r\n", "GETSET", "k7", "b");
	XEXPECT("$1\r\nb\r\n", "GETDEL", "k7");
	assert_string_equal(last_effect(e), "GETDEL k7");
	check_replay_late(e);
}

static void test_fx_getex(void **state)
{
	struct env *e = *state;
	char want[128];

	X("SET", "g", "v");
	XEXPECT("$1\r\nv\r\n", "GETEX", "g", "EX", "30");
	snprintf(want, sizeof(want), "PEXPIREAT g %s", at(30000));
	assert_string_equal(last_effect(e), want);
	XEXPECT("$1\r\nv\r\n", "GETEX", "g", "PX", "700");
	snprintf(want, sizeof(want), "PEXPIREAT g %s", at(700));
	assert_string_equal(last_effect(e), want);
	XEXPECT("$1\r\nv\r\n", "GETEX", "g", "PXAT", at(9000));
	snprintf(want, sizeof(want), "PEXPIREAT g %s", at(9000));
	assert_string_equal(last_effect(e), want);
	XEXPECT("$1\r\nv\r\n", "GETEX", "g", "PERSIST");
	assert_string_equal(last_effect(e), "PERSIST g");
	size_t mark = e->ntaken;
	XEXPECT("$1\r\nv\r\n", "GETEX", "g");   /* a read: no effect */
	assert_int_equal(payloads_since(e, mark), 0);
	XEXPECT("$1\r\nv\r\n", "GETEX", "g", "EXAT", at_s(-1));
	assert_string_equal(last_effect(e), "DEL g");
	check_replay_late(e);
}

/* The payload of a DUMP reply ("$n\r\n<bytes>\r\n"), copied into buf. */
static struct kv_slice dump_payload(struct env *e, const char *key, struct kv_buf *buf)
{
	struct kv_slice argv[2] = { { "DUMP", 4 }, { key, strlen(key) } };
	exec_argv(e, 2, argv);
	const struct kv_buf *out = &e->a->out;
	assert_true(out->len > 4 && out->data[0] == '$');
	size_t n = strtoull(out->data + 1, NULL, 10);
	const char *body = strstr(out->data, "\r\n") + 2;
	buf->len = 0;
	kv_buf_append(buf, body, n);
	return (struct kv_slice){ buf->data, buf->len };
}

/* RESTORE logs the keydump of what it made, with absolute deadlines, so
 * the replay an hour later rebuilds the same keys; a RESTORE whose deadline
 * passed logs DEL only when REPLACE removed a key. */
static void test_fx_restore(void **state)
{
	struct env *e = *state;
	struct kv_buf b1 = KV_BUF_INIT, b2 = KV_BUF_INIT;
	char want[128];

	X("SET", "src", "hello");
	X("RPUSH", "lsrc", "a", "b", "3");
	struct kv_slice ps = dump_payload(e, "src", &b1);
	struct kv_slice pl = dump_payload(e, "lsrc", &b2);
	struct kv_slice argv[6] = { { "RESTORE", 7 }, { "dst", 3 }, { "5000", 4 }, ps };
	assert_string_equal(exec_argv(e, 4, argv), "+OK\r\n");
	snprintf(want, sizeof(want), "SET dst hello PXAT %s", at(5000));
	assert_string_equal(last_effect(e), want);

	argv[1] = (struct kv_slice){ "ldst", 4 };
	argv[2] = (struct kv_slice){ "0", 1 };
	argv[3] = pl;
	assert_string_equal(exec_argv(e, 4, argv), "+OK\r\n");
	assert_string_equal(last_effect(e), "DEL ldst; RPUSH ldst a b 3");

	/* RESTORE-ASKING is RESTORE on a standalone server. */
	struct kv_slice asking[4] = { { "RESTORE-ASKING", 14 }, { "adst", 4 }, { "0", 1 }, pl };
	assert_string_equal(exec_argv(e, 4, asking), "+OK\r\n");
	assert_string_equal(last_effect(e), "DEL adst; RPUSH adst a b 3");

	/* REPLACE with an absolute deadline in the past: the key goes. */
	argv[2] = (struct kv_slice){ "1", 1 };
	argv[4] = (struct kv_slice){ "REPLACE", 7 };
	argv[5] = (struct kv_slice){ "ABSTTL", 6 };
	assert_string_equal(exec_argv(e, 6, argv), "+OK\r\n");
	assert_string_equal(last_effect(e), "DEL ldst");
	size_t mark = e->ntaken;
	assert_string_equal(exec_argv(e, 6, argv), "+OK\r\n");   /* nothing there */
	assert_int_equal(payloads_since(e, mark), 0);
	kv_buf_free(&b1);
	kv_buf_free(&b2);
	check_replay_late(e);
}

static void test_fx_counters(void **state)
{
	struct env *e = *state;

	X("SET", "n", "10", "EX", "100");
	XEXPECT(":11\r\n", "INCR", "n");
	assert_string_equal(last_effect(e), "INCR n");
	X("DECR", "n");
	X("INCRBY", "n", "5");
	X("DECRBY", "n", "3");
	XEXPECT("$4\r\n12.1\r\n", "INCRBYFLOAT", "n", "0.1");
	assert_string_equal(last_effect(e), "SET n 12.1 KEEPTTL");
	X("INCRBYFLOAT", "f", "1e30");
	X("INCRBYFLOAT", "f", "-3.5");
	X("APPEND", "s", "abc");
	X("APPEND", "s", "def");
	X("SETRANGE", "s", "10", "xyz");
	X("SETBIT", "s", "3", "1");
	X("SETBIT", "s", "200", "1");     /* grows the string, zero-filled */
	X("SETBIT", "bits", "9", "1");    /* creates the key */
	size_t mark = e->ntaken;
	X("SETBIT", "bits", "9", "1");    /* no change: no effect */
	assert_int_equal(payloads_since(e, mark), 0);
	X("MSET", "m1", "a", "m2", "b");
	X("MSETNX", "m3", "c", "m4", "d");
	check_replay(e);   /* KEEPTTL and INCR of a key with a deadline: not clock-free */
}

/* Bitmap writes on one shard are deterministic given the value they read,
 * so they are logged as sent; a BITFIELD that changes nothing (and creates
 * or grows nothing) logs nothing. */
static void test_fx_bitmaps(void **state)
{
	struct env *e = *state;

	X("SET", "a", "abc");
	X("SET", "b", "ab");
	XEXPECT(":3\r\n", "BITOP", "XOR", "d", "a", "b", "nokey");
	assert_string_equal(last_effect(e), "BITOP XOR d a b nokey");
	X("BITOP", "NOT", "n", "a");
	X("SET", "t", "x", "EX", "100");
	X("BITOP", "AND", "t", "a", "b");        /* replaces the value and its deadline */
	X("BITOP", "OR", "d", "nokey");          /* deletes d */
	size_t mark = e->ntaken;
	X("BITOP", "OR", "d", "nokey");          /* nothing to delete: no effect */
	assert_int_equal(payloads_since(e, mark), 0);
	X("BITFIELD", "f", "SET", "i8", "#1", "-7", "INCRBY", "u5", "3", "40");
	X("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "i8", "#1", "-1000",
	  "OVERFLOW", "FAIL", "INCRBY", "u5", "3", "100", "GET", "u4", "0");
	assert_string_equal(last_effect(e), "BITFIELD f OVERFLOW SAT INCRBY i8 #1 -1000 "
					    "OVERFLOW FAIL INCRBY u5 3 100 GET u4 0");
	X("BITFIELD", "a", "OVERFLOW", "WRAP", "INCRBY", "i64", "0", "9223372036854775807");
	/* Every write fails, yet the key is created with zeros. */
	XEXPECT("*1\r\n$-1\r\n", "BITFIELD", "g", "OVERFLOW", "FAIL", "SET", "u2", "20", "7");
	assert_string_equal(last_effect(e), "BITFIELD g OVERFLOW FAIL SET u2 20 7");
	mark = e->ntaken;
	X("BITFIELD", "g", "SET", "u2", "20", "0", "GET", "u8", "0");   /* no change */
	X("BITFIELD", "f", "GET", "u8", "0");
	assert_int_equal(payloads_since(e, mark), 0);
	check_replay(e);   /* t had a deadline: not clock-free */
}

static void test_fx_expire(void **state)
{
	struct env *e = *state;
	char want[128];

	X("SET", "a", "1");
	X("RPUSH", "l", "x", "y");
	XEXPECT(":1\r\n", "EXPIRE", "a", "10");
	snprintf(want, sizeof(want), "PEXPIREAT a %s", at(10000));
	assert_string_equal(last_effect(e), want);
	XEXPECT(":1\r\n", "PEXPIRE", "l", "1234");
	snprintf(want, sizeof(want), "PEXPIREAT l %s", at(1234));
	assert_string_equal(last_effect(e), want);
	XEXPECT(":1\r\n", "EXPIREAT", "a", at_s(50));
	snprintf(want, sizeof(want), "PEXPIREAT a %s", at(50000));
	assert_string_equal(last_effect(e), want);
	XEXPECT(":1\r\n", "PEXPIREAT", "a", at(60000), "GT");
	snprintf(want, sizeof(want), "PEXPIREAT a %s", at(60000));
	assert_string_equal(last_effect(e), want);
	size_t mark = e->ntaken;
	XEXPECT(":0\r\n", "EXPIRE", "a", "5", "GT");
	assert_int_equal(payloads_since(e, mark), 0);
	XEXPECT(":1\r\n", "PERSIST", "a");
	assert_string_equal(last_effect(e), "PERSIST a");
	XEXPECT(":1\r\n", "EXPIRE", "a", "-1");
	assert_string_equal(last_effect(e), "DEL a");
	X("SET", "b", "1");
	XEXPECT(":1\r\n", "PEXPIREAT", "b", at(-1));
	assert_string_equal(last_effect(e), "DEL b");
	check_replay_late(e);
	/* RENAME of a key with a deadline, logged as sent: replayed at its
	 * record's time only (an hour late the key would be gone). */
	X("SET", "c", "1");
	X("SET", "d", "1");
	XEXPECT(":2\r\n", "DEL", "c", "d", "zz");
	X("SET", "c", "1");
	XEXPECT(":1\r\n", "UNLINK", "c");
	X("SET", "r", "1", "PX", "90000");
	XEXPECT("+OK\r\n", "RENAME", "r", "r2");
	XEXPECT(":1\r\n", "RENAMENX", "r2", "r3");
	check_replay(e);
}

/* A read that finds a key expired deletes it: logged as DEL. */
static void test_fx_lazy_and_active_expiry(void **state)
{
	struct env *e = *state;

	X("SET", "t1", "v", "PX", "100");
	X("SET", "t2", "v", "PX", "100");
	for (int i = 0; i < 50; i++) {
		char k[16];
		snprintf(k, sizeof(k), "bulk%d", i);
		exec(e, "SET", k, "v", "PX", i % 2 ? "100" : "1000000", NULL);
	}
	e->a->now_ms += 200;
	XEXPECT("$-1\r\n", "GET", "t1");
	assert_string_equal(last_effect(e), "DEL t1");
	/* A write that finds its key expired: DEL first, then the write. */
	XEXPECT(":1\r\n", "INCR", "t2");
	assert_string_equal(last_effect(e), "DEL t2; INCR t2");
	/* Active expiry, outside any command. */
	fx_set_clock(e->a->now_ms);
	uint64_t n = db_active_expire(e->a->db, e->a->now_ms, 100);
	assert_true(n > 0);
	assert_int_equal(take_all(e), 1);
	check_replay(e);
}

/* ---- collections ---- */

static void test_fx_lists(void **state)
{
	struct env *e = *state;

	X("RPUSH", "l", "a", "b", "c", "d", "e", "f", "1", "2");
	X("LPUSH", "l", "z");
	X("LPUSHX", "l", "y");
	X("RPUSHX", "l", "w");
	X("LPOP", "l");
	X("RPOP", "l", "2");
	X("LSET", "l", "0", "Z");
	X("LINSERT", "l", "BEFORE", "c", "bb");
	X("LREM", "l", "1", "a");
	X("LTRIM", "l", "0", "5");
	XEXPECT("$1\r\ne\r\n", "LMOVE", "l", "l2", "RIGHT", "LEFT");
	assert_string_equal(last_effect(e), "LMOVE l l2 RIGHT LEFT");
	X("RPOPLPUSH", "l", "l2");
	X("LMPOP", "2", "nope", "l", "LEFT", "COUNT", "2");
	check_replay(e);
}

static void test_fx_blocking_served_now(void **state)
{
	struct env *e = *state;

	X("RPUSH", "q", "a", "b", "c", "d", "e", "f");
	XEXPECT("*2\r\n$1\r\nq\r\n$1\r\na\r\n", "BLPOP", "none", "q", "0");
	assert_string_equal(last_effect(e), "LPOP q");
	X("BRPOP", "q", "1");
	assert_string_equal(last_effect(e), "RPOP q");
	X("BLMPOP", "0", "1", "q", "RIGHT", "COUNT", "10");
	assert_string_equal(last_effect(e), "RPOP q 4");   /* what was popped */
	X("RPUSH", "q", "1", "2", "3");
	X("BLMOVE", "q", "q2", "LEFT", "RIGHT", "0");
	assert_string_equal(last_effect(e), "LMOVE q q2 LEFT RIGHT");
	X("BRPOPLPUSH", "q", "q2", "0");
	assert_string_equal(last_effect(e), "LMOVE q q2 RIGHT LEFT");
	X("ZADD", "z", "1", "a", "2", "b", "3", "c");
	X("BZPOPMIN", "z", "0");
	assert_string_equal(last_effect(e), "ZPOPMIN z");
	X("BZPOPMAX", "z", "0");
	assert_string_equal(last_effect(e), "ZPOPMAX z");
	X("ZADD", "z", "4", "d", "5", "e");
	X("BZMPOP", "0", "2", "none", "z", "MAX", "COUNT", "2");
	assert_string_equal(last_effect(e), "ZPOPMAX z 2");
	X("BZMPOP", "0", "1", "z", "MIN", "COUNT", "10");   /* empties z */
	assert_string_equal(last_effect(e), "ZPOPMIN z 1");
	/* Nothing to pop and no client to block: nothing happens. */
	size_t mark = e->ntaken;
	XEXPECT("*-1\r\n", "BLPOP", "none", "0");
	assert_int_equal(payloads_since(e, mark), 0);
	check_replay_late(e);
}

static void test_fx_hashes(void **state)
{
	struct env *e = *state;

	X("HSET", "h", "a", "1", "b", "2", "f", "1.5");
	X("HSETNX", "h", "c", "3");
	X("HMSET", "h", "d", "4");
	X("HDEL", "h", "d");
	X("HINCRBY", "h", "a", "10");
	XEXPECT("$3\r\n1.6\r\n", "HINCRBYFLOAT", "h", "f", "0.1");
	assert_string_equal(last_effect(e), "HSET h f 1.6");
	X("HINCRBYFLOAT", "h", "new", "2.5e3");
	assert_string_equal(last_effect(e), "HSET h new 2500");
	check_replay_late(e);
}

static void test_fx_sets(void **state)
{
	struct env *e = *state;

	X("SADD", "s", "a", "b", "c", "1", "2");
	X("SREM", "s", "1");
	X("SADD", "t", "b", "c", "d");
	X("SINTERSTORE", "i", "s", "t");
	X("SUNIONSTORE", "u", "s", "t");
	X("SDIFFSTORE", "d", "s", "t");
	X("SMOVE", "s", "t", "a");
	check_replay(e);
}

/* SPOP logs SREM of exactly the members popped, whatever the draw. */
static void test_fx_spop(void **state)
{
	struct env *e = *state;

	for (uint64_t seed = 1; seed <= 6; seed++) {
		set_seed_random(seed);
		X("DEL", "p", "big");
		X("SADD", "p", "a", "b", "c", "d", "e", "f", "g", "7", "8");
		for (int i = 0; i < 300; i++) {
			char m[16];
			snprintf(m, sizeof(m), "m%d", i);
			exec(e, "SADD", "big", m, NULL);
		}
		const char *r = X("SPOP", "p");
		assert_int_equal(r[0], '$');
		char want[64];
		snprintf(want, sizeof(want), "SREM p %.*s", (int)strcspn(r + 4, "\r"), r + 4);
		assert_string_equal(last_effect(e), want);
		X("SPOP", "p", "3");
		assert_memory_equal(last_effect(e), "SREM p ", 7);
		X("SPOP", "big", "17");
		X("SPOP", "big");
		X("SPOP", "p", "100");   /* all of it: the key goes */
		assert_memory_equal(last_effect(e), "SREM p ", 7);
		XEXPECT(":0\r\n", "EXISTS", "p");
	}
	set_seed_random(99);
	XEXPECT("*0\r\n", "SPOP", "nope", "3");
	check_replay_late(e);
}

static void test_fx_zsets(void **state)
{
	struct env *e = *state;

	X("ZADD", "z", "1", "a", "2.5", "b", "0.1", "c", "-inf", "lo", "+inf", "hi");
	X("ZADD", "z", "1e-300", "tiny", "3", "d", "4", "e", "5", "f");
	X("ZINCRBY", "z", "0.2", "c");
	X("ZREM", "z", "d");
	X("ZPOPMIN", "z");
	X("ZPOPMAX", "z", "2");
	X("ZREMRANGEBYRANK", "z", "0", "0");
	X("ZADD", "z", "7", "g", "8", "h", "9", "i");
	X("ZREMRANGEBYSCORE", "z", "8", "8");
	X("ZADD", "y", "0", "a", "0", "b", "0", "c");
	X("ZREMRANGEBYLEX", "y", "[a", "[a");
	X("ZUNIONSTORE", "u", "2", "z", "y", "WEIGHTS", "2", "3");
	X("ZINTERSTORE", "i", "2", "z", "y");
	X("ZDIFFSTORE", "d", "2", "z", "y");
	/* ZMPOP is logged as ZPOPMIN/ZPOPMAX of what it took, on its key alone. */
	X("ZMPOP", "2", "nope", "z", "MIN", "COUNT", "2");
	assert_string_equal(last_effect(e), "ZPOPMIN z 2");
	X("ZMPOP", "1", "y", "MAX", "COUNT", "100");   /* empties y */
	assert_string_equal(last_effect(e), "ZPOPMAX y 2");
	XEXPECT(":0\r\n", "EXISTS", "y");
	X("ZRANGESTORE", "r", "z", "0", "-1");
	X("ZRANGESTORE", "r2", "z", "(1", "+inf", "BYSCORE", "LIMIT", "1", "2");
	X("ZRANGESTORE", "r", "z", "10", "20");         /* empty: deletes r */
	X("ZADD", "lex", "0", "a", "0", "b", "0", "c");
	X("ZRANGESTORE", "r3", "lex", "[c", "-", "BYLEX", "REV");
	check_replay(e);
}

static void test_fx_flush(void **state)
{
	struct env *e = *state;

	X("SET", "a", "1");
	X("FLUSHDB");
	assert_string_equal(last_effect(e), "FLUSHDB");
	X("SET", "a", "1");
	X("FLUSHALL");
	assert_string_equal(last_effect(e), "FLUSHDB");
	X("SET", "b", "2");
	check_replay(e);
}

/* Databases: effects carry SELECT when they leave database 0, and MOVE,
 * SWAPDB and a flush of one database replay exactly. */
static void test_fx_databases(void **state)
{
	struct env *e = *state;

	X("SET", "a", "0");
	X("SELECT", "3");
	X("SET", "a", "3");
	X("RPUSH", "l", "x", "y");
	X("EXPIRE", "a", "100");
	X("MOVE", "l", "5");
	X("SELECT", "5");
	X("LPUSH", "l", "w");
	X("SWAPDB", "5", "7");
	X("SET", "b", "in5");
	X("SELECT", "7");
	X("FLUSHDB");
	X("SELECT", "0");
	X("SET", "c", "0");
	X("HSET", "h", "f", "v");
	X("PEXPIRE", "h", "50000");
	X("COPY", "h", "h2");
	X("COPY", "h", "h", "DB", "4");
	X("COPY", "c", "h2", "DB", "0", "REPLACE");
	X("SADD", "s", "1", "2", "x");
	X("COPY", "s", "s", "DB", "15");
	check_replay(e);
}

/* ---- several shards ---- */

/* A key named prefix + n that lives on shard s of e. */
static const char *key_on(struct env *e, uint32_t s, const char *prefix, char *buf, size_t cap)
{
	for (int n = 0;; n++) {
		snprintf(buf, cap, "%s%d", prefix, n);
		if (kv_key_shard(buf, strlen(buf), e->nshards) == s)
			return buf;
	}
}

static void test_fx_multi_shard(void **state)
{
	struct env *e = *state;
	char k0[32], k1[32], k2[32], l0[32], l1[32], s0[32], s1[32], s2[32];
	key_on(e, 0, "k", k0, sizeof(k0));
	key_on(e, 1, "k", k1, sizeof(k1));
	key_on(e, 2, "k", k2, sizeof(k2));
	key_on(e, 0, "l", l0, sizeof(l0));
	key_on(e, 1, "l", l1, sizeof(l1));
	key_on(e, 0, "s", s0, sizeof(s0));
	key_on(e, 1, "s", s1, sizeof(s1));
	key_on(e, 2, "s", s2, sizeof(s2));

	size_t mark = e->ntaken;
	X("MSET", k0, "a", k1, "b", k2, "c");
	assert_int_equal(payloads_since(e, mark), 3);   /* one per shard */
	char want[128];
	snprintf(want, sizeof(want), "SET %s b", k1);
	assert_string_equal(effect_text(e, 1), want);
	X("SET", k0, "x", "PX", "100000");
	X("RENAME", k0, k1);        /* value and deadline travel */
	X("MSETNX", k0, "n", k2, "m");
	X("DEL", k1, k2);
	X("SADD", s0, "a", "b", "c");
	X("SADD", s1, "c", "d");
	X("SUNIONSTORE", s2, s0, s1);
	X("SINTERSTORE", s2, s0, s1);
	mark = e->ntaken;
	X("SMOVE", s0, s1, "a");
	assert_int_equal(payloads_since(e, mark), 2);
	snprintf(want, sizeof(want), "SREM %s a", s0);
	assert_string_equal(effect_text(e, 0), want);
	snprintf(want, sizeof(want), "SADD %s a", s1);
	assert_string_equal(effect_text(e, 1), want);
	X("ZADD", k0, "1", "a", "2", "b");
	X("ZADD", k1, "0.5", "a", "3", "c");
	X("ZUNIONSTORE", k2, "2", k0, k1);
	/* Keys on several shards: ZMPOP still logs only its own key's pop. */
	mark = e->ntaken;
	X("ZMPOP", "2", k2, k0, "MAX");
	assert_int_equal(payloads_since(e, mark), 1);
	snprintf(want, sizeof(want), "ZPOPMAX %s 1", k2);
	assert_string_equal(effect_text(e, 2), want);
	X("ZRANGESTORE", k0, k1, "0", "1");
	X("RPUSH", l0, "a", "b", "c");
	mark = e->ntaken;
	X("LMOVE", l0, l1, "LEFT", "RIGHT");
	assert_int_equal(payloads_since(e, mark), 2);
	snprintf(want, sizeof(want), "LPOP %s", l0);
	assert_string_equal(effect_text(e, 0), want);
	snprintf(want, sizeof(want), "RPUSH %s a", l1);
	assert_string_equal(effect_text(e, 1), want);
	X("RPOPLPUSH", l0, l1);
	X("BLMOVE", l0, l1, "RIGHT", "LEFT", "0");   /* empties l0 */
	X("DEBUG", "POPULATE", "20", "pop", "5");
	check_replay(e);
	mark = e->ntaken;
	X("FLUSHALL");
	assert_int_equal(payloads_since(e, mark), 3);
	X("SET", k2, "after");
	check_replay(e);
}

/* SORT ... STORE: with BY/GET patterns (keys of every shard) the effect is
 * the destination's final state, never the SORT; without patterns the
 * default rules hold (verbatim on one shard: it is deterministic there). */
static void test_fx_sort_store(void **state)
{
	struct env *e = *state;
	char tag[16], src[32], dst[32], dst2[32], far[32], w[3][32], want[256];
	key_on(e, 0, "t", tag, sizeof(tag));
	snprintf(src, sizeof(src), "{%s}src", tag);
	snprintf(dst, sizeof(dst), "{%s}dst", tag);
	snprintf(dst2, sizeof(dst2), "{%s}dst2", tag);
	key_on(e, 1, "far", far, sizeof(far));
	/* Elements whose weight keys w_<element> live on shards 0, 1 and 2. */
	const char *el[3];
	char elbuf[3][16];
	for (uint32_t sh = 0; sh < 3; sh++) {
		for (int n = 0;; n++) {
			snprintf(elbuf[sh], sizeof(elbuf[sh]), "%d", n);
			snprintf(w[sh], sizeof(w[sh]), "w_%d", n);
			if (kv_key_shard(w[sh], strlen(w[sh]), e->nshards) == sh)
				break;
		}
		el[sh] = elbuf[sh];
	}
	X("RPUSH", src, el[0], el[1], el[2]);
	X("SET", w[0], "30");
	X("SET", w[1], "10");
	X("SET", w[2], "20");

	size_t mark = e->ntaken;
	XEXPECT(":6\r\n", "SORT", src, "BY", "w_*", "GET", "#", "GET", "w_*", "STORE", dst);
	assert_int_equal(payloads_since(e, mark), 1);
	snprintf(want, sizeof(want), "DEL %s; RPUSH %s %s 10 %s 20 %s 30", dst, dst, el[1], el[2],
		 el[0]);
	assert_string_equal(effect_text(e, 0), want);

	/* No pattern: deterministic on the destination's shard, logged as sent. */
	XEXPECT(":3\r\n", "SORT", src, "DESC", "STORE", dst2);
	snprintf(want, sizeof(want), "SORT %s DESC STORE %s", src, dst2);
	assert_string_equal(effect_text(e, 0), want);
	/* ... and across shards, the destination's state (rule 3). */
	XEXPECT(":3\r\n", "SORT", src, "ALPHA", "STORE", far);
	snprintf(want, sizeof(want), "DEL %s; RPUSH %s ", far, far);
	assert_memory_equal(effect_text(e, 1), want, strlen(want));

	/* An empty result deletes the destination: that is the effect. */
	mark = e->ntaken;
	XEXPECT(":0\r\n", "SORT", "nokey", "GET", "w_*", "STORE", dst);
	snprintf(want, sizeof(want), "DEL %s", dst);
	assert_string_equal(effect_text(e, 0), want);
	/* ... and nothing at all when there was nothing to delete. */
	mark = e->ntaken;
	XEXPECT(":0\r\n", "SORT", "nokey", "GET", "w_*", "STORE", dst);
	assert_int_equal(payloads_since(e, mark), 0);
	/* A plain SORT changes nothing and logs nothing. */
	X("SORT", src, "BY", "w_*");
	assert_int_equal(payloads_since(e, mark), 0);
	check_replay(e);

	/* A SORT that reads other shards' keys is not an effect: replay on one
	 * shard could not run it. */
	struct kv_buf p = KV_BUF_INIT;
	struct kv_slice bad[] = { { "SORT", 4 }, { src, strlen(src) }, { "BY", 2 },
				  { "w_*", 3 }, { "STORE", 5 }, { dst, strlen(dst) } };
	aof_payload_begin(&p, NOW_MS);
	aof_payload_append(&p, 6, bad);
	char err[256];
	assert_int_equal(fx_validate(0, e->nshards, p.data, p.len, err, sizeof(err)), KV_ECORRUPT);
	assert_non_null(strstr(err, "not an effect"));
	kv_buf_free(&p);
}

/* GEOADD is logged as sent: its scores are pure arithmetic on the parsed
 * coordinates, so replay computes the same bits.  The STORE forms are
 * logged as sent when both keys share a shard, and as the destination's
 * final state when they do not (rule 3). */
static void test_fx_geo(void **state)
{
	struct env *e = *state;
	char tag[16], src[32], dst[32], far[32], want[256];
	key_on(e, 0, "g", tag, sizeof(tag));
	snprintf(src, sizeof(src), "{%s}src", tag);
	snprintf(dst, sizeof(dst), "{%s}dst", tag);
	key_on(e, 1, "far", far, sizeof(far));

	XEXPECT(":3\r\n", "GEOADD", src, "13.361389", "38.115556", "Palermo", "15.087269",
		"37.502669", "Catania", "-0.1276", "51.5072", "London");
	snprintf(want, sizeof(want), "GEOADD %s 13.361389 38.115556 Palermo 15.087269 37.502669 "
		 "Catania -0.1276 51.5072 London", src);
	assert_string_equal(effect_text(e, 0), want);
	XEXPECT(":1\r\n", "GEOADD", src, "CH", "XX", "2.3522", "48.8566", "London", "1", "1", "nope");
	XEXPECT(":2\r\n", "GEOSEARCHSTORE", dst, src, "FROMLONLAT", "15", "37", "BYRADIUS", "200",
		"km", "STOREDIST");
	snprintf(want, sizeof(want), "GEOSEARCHSTORE %s %s FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST",
		 dst, src);
	assert_string_equal(effect_text(e, 0), want);
	XEXPECT(":3\r\n", "GEORADIUS", src, "10", "45", "2000", "km", "STORE", dst);
	XEXPECT(":1\r\n", "GEORADIUSBYMEMBER", src, "Palermo", "10", "km", "STOREDIST", dst);
	/* Across shards: the destination's state, on its own shard. */
	size_t mark = e->ntaken;
	XEXPECT(":2\r\n", "GEOSEARCHSTORE", far, src, "FROMMEMBER", "Palermo", "BYBOX", "600", "600",
		"km", "COUNT", "2");
	assert_int_equal(payloads_since(e, mark), 1);
	snprintf(want, sizeof(want), "DEL %s; ZADD %s ", far, far);
	assert_memory_equal(effect_text(e, 1), want, strlen(want));
	XEXPECT(":3\r\n", "GEORADIUS", src, "10", "45", "2000", "km", "STORE", far);
	/* An empty result deletes the destination; a search alone logs nothing. */
	XEXPECT(":0\r\n", "GEORADIUS", src, "0", "0", "1", "km", "STORE", far);
	snprintf(want, sizeof(want), "DEL %s", far);
	assert_string_equal(effect_text(e, 1), want);
	mark = e->ntaken;
	X("GEORADIUS", src, "10", "45", "2000", "km", "WITHDIST");
	X("GEOSEARCH", src, "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km");
	assert_int_equal(payloads_since(e, mark), 0);
	check_replay(e);
}

/* More keys than fx's key array holds (64), the first 64 on one shard: the
 * command must not be logged as sent on that shard. */
/* BITOP with its keys on several shards: the destination's final state is
 * logged on its own shard only (rule 3), whatever shards the sources are on. */
static void test_fx_bitop_shards(void **state)
{
	struct env *e = *state;
	char k0[32], k1[32], k2[32];
	key_on(e, 0, "b", k0, sizeof(k0));
	key_on(e, 1, "b", k1, sizeof(k1));
	key_on(e, 2, "b", k2, sizeof(k2));

	X("SET", k0, "abc");
	X("BITFIELD", k1, "SET", "u16", "0", "65535");
	size_t mark = e->ntaken;
	XEXPECT(":3\r\n", "BITOP", "AND", k2, k0, k1);
	assert_int_equal(payloads_since(e, mark), 1);
	assert_int_equal(e->taken[e->ntaken - 1].shard, 2);
	X("BITOP", "NOT", k0, k2);               /* overwrites a source's shard */
	X("BITOP", "OR", k1, k0, k1, k2);         /* destination among the sources */
	mark = e->ntaken;
	X("BITOP", "XOR", k0, "nokey", k2);      /* nokey's shard is not written */
	assert_int_equal(payloads_since(e, mark), 1);
	X("SET", k2, "");
	mark = e->ntaken;
	X("BITOP", "AND", k1, k2);               /* empty result: deletes k1 */
	assert_int_equal(payloads_since(e, mark), 1);
	char want[64];
	snprintf(want, sizeof(want), "DEL %s", k1);
	assert_string_equal(effect_text(e, 1), want);
	check_replay_late(e);
}

static void test_fx_many_keys(void **state)
{
	struct env *e = *state;
	struct kv_slice argv[80];
	char names[70][40], tag[16];
	int argc = 0;

	/* 69 empty keys sharing a hashtag of shard 0, then a list on shard 1. */
	key_on(e, 0, "t", tag, sizeof(tag));
	for (int i = 0; i < 69; i++)
		snprintf(names[i], sizeof(names[i]), "{%s}%d", tag, i);
	key_on(e, 1, "full", names[69], sizeof(names[69]));
	argv[argc++] = (struct kv_slice){ "LMPOP", 5 };
	argv[argc++] = (struct kv_slice){ "70", 2 };
	for (int i = 0; i < 70; i++)
		argv[argc++] = (struct kv_slice){ names[i], strlen(names[i]) };
	argv[argc++] = (struct kv_slice){ "LEFT", 4 };
	exec(e, "RPUSH", names[69], "a", "b", NULL);
	exec_argv(e, argc, argv);
	assert_int_equal(e->a->out.data[0], '*');
	check_replay(e);
}

/* ---- keydump ---- */

static void collect_cmd(void *arg, int argc, const struct kv_slice *argv)
{
	struct kv_buf *b = arg;
	if (b->len == 0)
		aof_payload_begin(b, NOW_MS);
	aof_payload_append(b, argc, argv);
}

/* keydump of every type (big keys in chunks, odd scores) rebuilds them. */
static void test_fx_keydump_roundtrip(void **state)
{
	struct env *e = *state;
	struct fixture *a = e->a;
	char m[32], sc[32];

	for (int i = 0; i < 1000; i++) {
		snprintf(m, sizeof(m), "m%d", i);
		snprintf(sc, sizeof(sc), "%.17g", i * 0.1 + 1.0 / 3);
		run(a, "RPUSH", "L", m, NULL);
		run(a, "SADD", "S", m, NULL);
		run(a, "HSET", "H", m, sc, NULL);
		run(a, "ZADD", "Z", sc, m, NULL);
	}
	run(a, "ZADD", "Z", "inf", "pinf", "-inf", "ninf", "-0", "mzero", "5e-324", "den", NULL);
	run(a, "SADD", "I", "1", "2", "-3", NULL);
	run(a, "SET", "str", "v", "PX", "5000", NULL);
	run(a, "PEXPIRE", "Z", "9000", NULL);
	run(a, "SET", "gone", "v", "PX", "1", NULL);
	take_all(e);   /* run() bypasses frames; drop whatever hooks reported */
	for (size_t i = 0; i < e->ntaken; i++)
		kv_buf_free(&e->taken[i].payload);
	e->ntaken = 0;

	fx_thread_disable();
	struct fixture *b = fixture_new(1);
	run(b, "SET", "L", "stale", NULL);   /* the DEL first clears what is there */
	const char *keys[] = { "L", "S", "H", "Z", "I", "str", "gone", "absent" };
	struct kv_buf p = KV_BUF_INIT;
	char err[256];
	int64_t now = a->now_ms + 2;   /* "gone" has expired by then */
	for (size_t i = 0; i < KV_ARRAY_LEN(keys); i++) {
		p.len = 0;
		keydump_key(a->db, keys[i], strlen(keys[i]), now, collect_cmd, &p);
		struct aof_payload_iter it;
		int argc;
		struct kv_slice *argv;
		aof_payload_iter_init(&it, p.data, p.len);
		while (aof_payload_next(&it, &argc, &argv) == 1) {
			assert_true(argc <= 2 + 2 * KEYDUMP_CHUNK);
			if (strcmp(keys[i], "gone") == 0 || strcmp(keys[i], "absent") == 0)
				assert_true(argc == 2 && argv[0].len == 3 &&
					    memcmp(argv[0].ptr, "DEL", 3) == 0);
		}
		aof_payload_iter_free(&it);
		assert_int_equal(fx_apply(&b->spaces[0], 0, 1, p.data, p.len, err, sizeof(err)), 0);
	}
	kv_buf_free(&p);
	char da[41], dbg[41];
	digest_of(a, now, da);
	digest_of(b, now, dbg);
	assert_string_equal(da, dbg);
	/* keydump changed nothing: "gone" is still there, unreclaimed. */
	assert_non_null(db_lookup(a->db, "gone", 4, 0));
	fixture_free(b);
	fx_thread_enable(e->nshards);
}

/* ---- coverage ---- */

/* HyperLogLogs: PFADD from sparse logs the final bytes (they depend on
 * hll-sparse-max-bytes, which replay may not share), PFADD on a dense HLL
 * is logged as sent, PFCOUNT's cached estimate is logged as the key's state,
 * PFMERGE across shards and PFDEBUG TODENSE replay to the same bytes. */
static void test_fx_hyperloglog(void **state)
{
	struct env *e = *state;
	char k[3][32], elem[16];
	for (uint32_t i = 0; i < 3; i++)
		key_on(e, i % e->nshards, "h", k[i], sizeof(k[i]));
	XEXPECT(":1\r\n", "PFADD", k[0], "a", "b", "c");
	assert_true(strncmp(effect_text(e, 0), "SET ", 4) == 0);
	XEXPECT(":0\r\n", "PFADD", k[0], "a");
	XEXPECT(":3\r\n", "PFCOUNT", k[0]);     /* caches the estimate */
	for (int i = 0; i < 40; i++) {
		snprintf(elem, sizeof(elem), "x%d", i);
		X("PFADD", k[1], elem);
	}
	XEXPECT(":1\r\n", "PFDEBUG", "TODENSE", k[1]);
	XEXPECT(":0\r\n", "PFDEBUG", "TODENSE", k[1]);
	size_t mark = e->ntaken;
	XEXPECT(":1\r\n", "PFADD", k[1], "new-element");
	assert_int_equal(payloads_since(e, mark), 1);
	XEXPECT("+OK\r\n", "PFMERGE", k[2], k[0], k[1]);
	XEXPECT("+OK\r\n", "PFMERGE", k[0], k[0]);
	check_replay(e);
}

/* Streams: XADD with * logs the ID it chose, a ~ trim the length it left,
 * XREADGROUP / XCLAIM / XAUTOCLAIM their PEL changes (XCLAIM ... FORCE
 * JUSTID, XGROUP SETID ... ENTRIESREAD, XGROUP CREATECONSUMER); the rest
 * is logged as sent.  A multi-key XREADGROUP over two shards logs each
 * key's changes on its shard; a read that sees a consumer but changes
 * nothing else logs its seen-time (XCLAIM ... SEENTIME). */
static void test_fx_streams(void **state)
{
	struct env *e = *state;
	char k[2][32], id[64];
	key_on(e, 0, "x", k[0], sizeof(k[0]));
	key_on(e, 1 % e->nshards, "y", k[1], sizeof(k[1]));
	X("XADD", k[0], "*", "f", "v");
	snprintf(id, sizeof(id), "XADD %s %s-0 f v", k[0], at(0));
	assert_string_equal(effect_text(e, 0), id);
	X("XADD", k[0], "MAXLEN", "~", "0", "*", "g", "h");   /* removes its block */
	X("XADD", k[0], "MAXLEN", "=", "10", "9999999999998-*", "f", "w");
	XEXPECT(":1\r\n", "XTRIM", k[0], "MAXLEN", "~", "0");
	for (int i = 1; i <= 8; i++) {
		char ms[32];
		snprintf(ms, sizeof(ms), "9999999999999-%d", 10 * i);
		X("XADD", k[0], ms, "a", "1", "b", "2");
		X("XADD", k[1], ms, "f", ms);
	}
	XEXPECT(":1\r\n", "XTRIM", k[0], "MAXLEN", "=", "7");
	XEXPECT(":1\r\n", "XDEL", k[0], "9999999999999-80");
	XEXPECT("+OK\r\n", "XGROUP", "CREATE", k[0], "g", "0");
	XEXPECT("+OK\r\n", "XGROUP", "CREATE", k[1], "g", "$", "MKSTREAM");
	XEXPECT("+OK\r\n", "XGROUP", "SETID", k[1], "g", "0");
	XEXPECT(":1\r\n", "XGROUP", "CREATECONSUMER", k[0], "g", "idle");
	X("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", k[0], k[1], ">", ">");
	X("XREADGROUP", "GROUP", "g", "bob", "NOACK", "COUNT", "1", "STREAMS", k[0], ">");
	X("XREADGROUP", "GROUP", "g", "alice", "STREAMS", k[0], "0");   /* history */
	/* A history read that re-delivers nothing logs only the consumer's
	 * seen-time. */
	size_t mark = e->ntaken;
	X("XREADGROUP", "GROUP", "g", "alice", "STREAMS", k[0], "99999999999999");
	assert_int_equal(payloads_since(e, mark), 1);
	snprintf(id, sizeof(id), "XCLAIM %s g alice 0 SEENTIME %s", k[0], at(0));
	assert_string_equal(effect_text(e, 0), id);

	XEXPECT(":1\r\n", "XACK", k[0], "g", "9999999999999-20");
	X("XCLAIM", k[0], "g", "carol", "0", "9999999999999-30", "RETRYCOUNT", "5");
	X("XCLAIM", k[0], "g", "carol", "0", "9999999999999-60", "FORCE", "JUSTID", "LASTID",
	  "9999999999999-60");
	X("XDEL", k[0], "9999999999999-30");
	X("XAUTOCLAIM", k[0], "g", "dave", "0", "0", "COUNT", "10");
	X("XGROUP", "DELCONSUMER", k[0], "g", "idle");
	X("XSETID", k[1], "99999999999999-0", "ENTRIESADDED", "100", "MAXDELETEDID", "1-1");
	XEXPECT(":1\r\n", "XGROUP", "DESTROY", k[1], "g");
	check_replay(e);
}

/* ---- MIGRATE: a fake target that answers each command with a line ---- */

struct fake_target {
	int lfd;
	const char *const *replies;   /* one per command received; NULL-ended */
	int commands;                 /* how many it received */
};

static bool fake_read(int fd, char *c)
{
	return read(fd, c, 1) == 1;
}

/* Reads one RESP array of bulk strings; false at EOF. */
static bool fake_read_command(int fd)
{
	char ch;
	long n = 0, len;
	if (!fake_read(fd, &ch) || ch != '*')
		return false;
	while (fake_read(fd, &ch) && ch != '\r')
		n = n * 10 + (ch - '0');
	fake_read(fd, &ch);
	for (long i = 0; i < n; i++) {
		len = 0;
		if (!fake_read(fd, &ch) || ch != '$')
			return false;
		while (fake_read(fd, &ch) && ch != '\r')
			len = len * 10 + (ch - '0');
		for (long k = 0; k < len + 3; k++)   /* \n, the bytes, \r\n */
			if (!fake_read(fd, &ch))
				return false;
	}
	return true;
}

static void *fake_target_main(void *arg)
{
	struct fake_target *t = arg;
	int fd = accept(t->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	for (int i = 0; t->replies[i] && fake_read_command(fd); i++) {
		t->commands++;
		ssize_t w = write(fd, t->replies[i], strlen(t->replies[i]));
		(void)w;
	}
	close(fd);
	return NULL;
}

static int fake_target_start(struct fake_target *t, pthread_t *th, char *port, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	t->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(t->lfd >= 0);
	assert_int_equal(bind(t->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(t->lfd, 1), 0);
	assert_int_equal(getsockname(t->lfd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, cap, "%u", ntohs(sa.sin_port));
	return pthread_create(th, NULL, fake_target_main, t);
}

/* MIGRATE logs DEL of each key the target acknowledged, on that key's
 * shard; a key the target refused, and COPY, log nothing: replay never
 * talks to the network and rebuilds the same keyspace. */
static void test_fx_migrate(void **state)
{
	struct env *e = *state;
	char k[3][32], port[16], want[64];
	for (uint32_t i = 0; i < 3; i++) {
		key_on(e, i % e->nshards, "m", k[i], sizeof(k[i]));
		X("SET", k[i], "v");
	}
	X("EXPIRE", k[2], "100");
	/* SELECT, then the three RESTOREs: the second refused. */
	const char *const replies[] = { "+OK\r\n", "+OK\r\n", "-BUSYKEY exists\r\n", "+OK\r\n",
					NULL };
	struct fake_target t = { .replies = replies };
	pthread_t th;
	assert_int_equal(fake_target_start(&t, &th, port, sizeof(port)), 0);
	size_t mark = e->ntaken;
	XEXPECT("-ERR Target instance replied with error: BUSYKEY exists\r\n", "MIGRATE",
		"127.0.0.1", port, "", "0", "1000", "KEYS", k[0], k[1], k[2]);
	pthread_join(th, NULL);
	close(t.lfd);
	assert_int_equal(t.commands, 4);
	assert_int_equal(payloads_since(e, mark), 2);
	snprintf(want, sizeof(want), "DEL %s", k[0]);
	assert_string_equal(effect_text(e, 0), want);
	snprintf(want, sizeof(want), "DEL %s", k[2]);
	assert_string_equal(effect_text(e, 2 % e->nshards), want);
	XEXPECT(":1\r\n", "EXISTS", k[1]);

	/* COPY: the target has it, nothing changes here. */
	const char *const ok[] = { "+OK\r\n", "+OK\r\n", NULL };
	struct fake_target t2 = { .replies = ok };
	assert_int_equal(fake_target_start(&t2, &th, port, sizeof(port)), 0);
	mark = e->ntaken;
	XEXPECT("+OK\r\n", "MIGRATE", "127.0.0.1", port, k[1], "0", "1000", "COPY");
	pthread_join(th, NULL);
	close(t2.lfd);
	assert_int_equal(payloads_since(e, mark), 0);
	XEXPECT("+NOKEY\r\n", "MIGRATE", "127.0.0.1", port, "nosuch", "0", "1000");
	check_replay(e);
}

static void test_fx_every_write_command_has_a_scenario(void **state)
{
	(void)state;
	server_commands_init();
	char missing[2048] = "";
	for (size_t i = 0; i < cmd_count(); i++) {
		const struct kv_command *cmd = cmd_at(i);
		if (!(cmd->flags & CMD_WRITE))
			continue;
		bool found = false;
		for (size_t j = 0; j < ncovered && !found; j++)
			found = covered[j] == cmd;
		if (!found) {
			strncat(missing, " ", sizeof(missing) - strlen(missing) - 1);
			strncat(missing, cmd->name, sizeof(missing) - strlen(missing) - 1);
		}
	}
	if (missing[0])
		fail_msg("write commands without an effect scenario in test_fx.c:%s", missing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fx_string_rewrites, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_getex, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_restore, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_migrate, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_fx_counters, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_bitmaps, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_expire, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_lazy_and_active_expiry, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_lists, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_blocking_served_now, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_hashes, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_sets, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_spop, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_zsets, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_flush, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_multi_shard, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_fx_bitop_shards, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_fx_many_keys, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_fx_sort_store, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_fx_geo, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_fx_keydump_roundtrip, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_databases, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_databases, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_fx_hyperloglog, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_hyperloglog, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_fx_streams, setup1, teardown),
		cmocka_unit_test_setup_teardown(test_fx_streams, setup3, teardown),
		cmocka_unit_test(test_fx_every_write_command_has_a_scenario),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
