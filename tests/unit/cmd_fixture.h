/*
 * cmd_fixture.h - the fixture the command-handler unit tests share: one to
 * CMD_FIXTURE_MAX_SHARDS keyspaces, a reply buffer and a clock, and a way to
 * run one command by argv and get its reply bytes.  Handlers run through a
 * hand-built struct cmd_ctx with no runtime around it (c->shard is NULL), so
 * keyspace hit/miss counting is not covered by these tests.
 *
 * Include it after <cmocka.h>.  A test may define MAX_ARGS (the most words
 * run() takes) and NOW_MS (the clock) before including it.
 */
#ifndef KEVY_TEST_CMD_FIXTURE_H
#define KEVY_TEST_CMD_FIXTURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands/cmd.h"
#include "base/kv.h"
#include "store/store.h"

#ifndef NOW_MS
#define NOW_MS 1700000000000LL
#endif
#ifndef MAX_ARGS
#define MAX_ARGS 16
#endif
#define CMD_FIXTURE_MAX_SHARDS 3

struct fixture;

/* Finds the handler of argv[0]; NULL when the test does not know it. */
typedef const struct kv_command *(*fixture_find_fn)(const struct kv_slice *name);
/* Answers a command find did not know (fails the test if it cannot). */
typedef const char *(*fixture_other_fn)(struct fixture *f, int argc,
					const struct kv_slice *argv);

struct fixture {
	struct kv_dbs spaces[CMD_FIXTURE_MAX_SHARDS];  /* each shard's 16 databases */
	struct kv_dbs *held[CMD_FIXTURE_MAX_SHARDS];   /* &spaces[i] */
	struct kv_db *db;          /* shard 0's database 0: a one-shard test's keyspace */
	uint32_t dbid;             /* the database commands run in (SELECT) */
	uint32_t nshards;
	struct kv_buf out;
	int64_t now_ms;            /* NOW_MS unless a test moves the clock */
	size_t empty_mem;          /* db_memory_used(db) when it was created */
	fixture_find_fn find;      /* NULL: cmd_lookup() (cmd_table_init first) */
	fixture_other_fn other;    /* NULL: an unknown command fails the test */
	bool reply_arity;          /* answer arity errors, not fail the test */
};

static inline struct fixture *fixture_new(uint32_t nshards)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_true(nshards >= 1 && nshards <= CMD_FIXTURE_MAX_SHARDS);
	f->nshards = nshards;
	for (uint32_t i = 0; i < nshards; i++) {
		dbs_init(&f->spaces[i], 16);
		f->held[i] = &f->spaces[i];
	}
	f->db = f->spaces[0].db[0];
	f->empty_mem = db_memory_used(f->db);
	kv_buf_init(&f->out);
	f->now_ms = NOW_MS;
	return f;
}

static inline void fixture_free(struct fixture *f)
{
	for (uint32_t i = 0; i < f->nshards; i++)
		dbs_free(&f->spaces[i]);
	kv_buf_free(&f->out);
	free(f);
}

static inline int fixture_teardown(void **state)
{
	fixture_free(*state);
	return 0;
}

/* Shard i's keyspace in the fixture's database. */
static inline struct kv_db *fixture_db(struct fixture *f, uint32_t i)
{
	return f->spaces[i].db[f->dbid];
}

/* The keyspace that owns key, as the server routes it. */
static inline struct kv_db *db_of(struct fixture *f, const char *key)
{
	return fixture_db(f, kv_key_shard(key, strlen(key), f->nshards));
}

/* The command of a table named (case-insensitively) by name, or NULL. */
static inline const struct kv_command *fixture_find_in(const struct kv_command *table,
							const struct kv_slice *name)
{
	for (const struct kv_command *c = table; c && c->name; c++)
		if (arg_is(name, c->name))
			return c;
	return NULL;
}

/* Runs one call and returns its reply, NUL-terminated, valid until the next
 * call.  The arity is checked as the runtime would: a wrong count fails the
 * test (so a test notices it called a command wrongly) or, with
 * f->reply_arity, answers the runtime's arity error. */
static inline const char *run_argv(struct fixture *f, int argc, const struct kv_slice *argv)
{
	const struct kv_command *cmd = f->find ? f->find(&argv[0])
					       : cmd_lookup(argv[0].ptr, argv[0].len);
	kv_buf_clear(&f->out);
	if (!cmd && f->other)
		return f->other(f, argc, argv);
	assert_non_null(cmd);
	if (!cmd_arity_ok(cmd, argc)) {
		assert_true(f->reply_arity);
		cmd_reply_arity(&f->out, cmd);
		return kv_buf_cstr(&f->out);
	}
	struct cmd_ctx c = {
		.argc = argc, .argv = argv, .out = &f->out, .now_ms = f->now_ms,
		.shard = NULL, .conn = NULL, .held = f->held, .nshards = f->nshards,
		.dbid = f->dbid,
	};
	cmd->proc(&c);
	f->dbid = c.dbid;   /* SELECT moves the fixture's client */
	return kv_buf_cstr(&f->out);
}

/* run(f, "SET", "k", "v", NULL): the words as C strings, NULL-terminated. */
static inline const char *run(struct fixture *f, ...)
{
	struct kv_slice argv[MAX_ARGS];
	int argc = 0;
	va_list ap;

	va_start(ap, f);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
		assert_true(argc < MAX_ARGS);
		argv[argc++] = (struct kv_slice){ s, strlen(s) };
	}
	va_end(ap);
	return run_argv(f, argc, argv);
}

#endif
