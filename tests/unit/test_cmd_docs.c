/*
 * test_cmd_docs.c - the documentation table (commands/cmd_docs.c): every
 * command and subcommand of the table has an entry, the key-spec flags of
 * a call's keys are Redis 7.0's (by spec, by SET's and BITFIELD's own
 * rules, SORT's fallback, a key count that does not fit), and the replies
 * it writes are Redis 7.0's bytes (taken from redis-server 7.0.15), in
 * RESP2 and RESP3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "commands/cmd.h"
#include "commands/cmd_docs.h"
#include "proto/resp.h"
#include "server/server.h"

static int setup(void **state)
{
	(void)state;
	server_commands_init();
	return 0;
}

/* The key flags of a call given as words, its keys found by cmd_get_keys.
 * Returns cmd_docs_key_flags' result; *n gets the key count. */
static int flags_of(const char *line, uint32_t *flags, int *n)
{
	static char buf[256];
	struct kv_slice argv[32];
	int argc = 0;
	snprintf(buf, sizeof(buf), "%s", line);
	for (char *w = strtok(buf, " "); w && argc < 32; w = strtok(NULL, " "))
		argv[argc++] = (struct kv_slice){ w, strlen(w) };
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	assert_non_null(cmd);
	if (cmd->subcommands)
		cmd = cmd_find_sub(cmd->subcommands, &argv[1]);
	assert_non_null(cmd);
	int idx[32];
	*n = cmd_get_keys(cmd, argc, argv, idx, 32);
	return *n > 0 ? cmd_docs_key_flags(cmd, argc, argv, idx, *n, flags) : 0;
}

#define RO_ACCESS (CMD_KEY_RO | CMD_KEY_ACCESS)
#define OW_UPDATE (CMD_KEY_OW | CMD_KEY_UPDATE)
#define RW_ACCESS_UPDATE (CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE)

static void test_cmd_docs_key_flags_by_spec(void **state)
{
	(void)state;
	uint32_t f[8];
	int n;
	assert_int_equal(flags_of("GET k", f, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(f[0], RO_ACCESS);
	assert_int_equal(flags_of("SMOVE a b m", f, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f[0], CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_DELETE);
	assert_int_equal(f[1], CMD_KEY_RW | CMD_KEY_INSERT);
	assert_int_equal(flags_of("ZUNIONSTORE d 2 a b", f, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(f[0], OW_UPDATE);
	assert_int_equal(f[1], RO_ACCESS);
	assert_int_equal(f[2], RO_ACCESS);
	assert_int_equal(flags_of("GEORADIUS k 0 0 1 km STOREDIST d", f, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f[0], RO_ACCESS);
	assert_int_equal(f[1], OW_UPDATE);
	/* OBJECT ENCODING reads the key's metadata, not its value: RO only. */
	assert_int_equal(flags_of("OBJECT ENCODING k", f, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(f[0], CMD_KEY_RO);
}

static void test_cmd_docs_key_flags_by_arguments(void **state)
{
	(void)state;
	uint32_t f[8];
	int n;
	assert_int_equal(flags_of("SET k v", f, &n), 0);
	assert_int_equal(f[0], OW_UPDATE);
	assert_int_equal(flags_of("SET k v nx get", f, &n), 0);
	assert_int_equal(f[0], RW_ACCESS_UPDATE);
	assert_int_equal(flags_of("BITFIELD k GET u8 0", f, &n), 0);
	assert_int_equal(f[0], RO_ACCESS);
	assert_int_equal(flags_of("BITFIELD k GET u8 0 SET u8 0 1", f, &n), 0);
	assert_int_equal(f[0], RW_ACCESS_UPDATE);
	assert_int_equal(flags_of("SORT k STORE d", f, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f[0], RO_ACCESS);
	assert_int_equal(f[1], OW_UPDATE);
}

static void test_cmd_docs_key_count_misfit(void **state)
{
	(void)state;
	uint32_t f[8];
	int n;
	/* kevy's key rule finds the destination; Redis's specs refuse. */
	assert_int_equal(flags_of("ZUNIONSTORE d x a", f, &n), -1);
	assert_int_equal(flags_of("ZUNIONSTORE d -1 a", f, &n), -1);
	/* A table the docs do not know: no flags, and it says so. */
	static const struct kv_command fake = { .name = "no-such-command", .arity = 2,
						.first_key = 1, .last_key = 1, .key_step = 1 };
	struct kv_slice argv[2] = { { "no-such-command", 15 }, { "k", 1 } };
	int idx[1] = { 1 };
	f[0] = 123;
	assert_int_equal(cmd_docs_key_flags(&fake, 2, argv, idx, 1, f), 1);
	assert_int_equal(f[0], 0);
}

/* Every command and subcommand kevy has is in the table (WAITAOF too). */
static void test_cmd_docs_every_command(void **state)
{
	(void)state;
	struct kv_buf b = KV_BUF_INIT;
	size_t n = 0;
	for (size_t i = 0; i < cmd_count(); i++) {
		const struct kv_command *c = cmd_at(i);
		assert_true(cmd_docs_reply_tips(&b, c));
		n++;
		for (const struct kv_command *s = c->subcommands; s && s->name; s++, n++)
			assert_true(cmd_docs_reply_tips(&b, s));
	}
	assert_true(n > 300);
	kv_buf_free(&b);
}

static void expect_reply(void (*write)(struct kv_buf *), unsigned char proto, const char *want)
{
	struct kv_buf b = KV_BUF_INIT;
	resp_set_proto(&b, proto);
	write(&b);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	kv_buf_free(&b);
}

static void write_lmove_specs(struct kv_buf *b)
{
	cmd_docs_reply_keyspecs(b, cmd_lookup("lmove", 5));
}

#define SPEC_RANGE0 \
	"$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n" \
	"$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n"
#define SPEC_RANGE0_3 \
	"$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n" \
	"$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n"

static void test_cmd_docs_keyspecs_reply(void **state)
{
	(void)state;
	expect_reply(write_lmove_specs, RESP_PROTO_2,
		     "*2\r\n"
		     "*6\r\n$5\r\nflags\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n"
		     "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n"
		     "*2\r\n$5\r\nindex\r\n:1\r\n" SPEC_RANGE0
		     "*6\r\n$5\r\nflags\r\n*2\r\n+RW\r\n+insert\r\n"
		     "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n"
		     "*2\r\n$5\r\nindex\r\n:2\r\n" SPEC_RANGE0);
	expect_reply(write_lmove_specs, RESP_PROTO_3,
		     "~2\r\n"
		     "%3\r\n$5\r\nflags\r\n~3\r\n+RW\r\n+access\r\n+delete\r\n"
		     "$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n"
		     "%1\r\n$5\r\nindex\r\n:1\r\n" SPEC_RANGE0_3
		     "%3\r\n$5\r\nflags\r\n~2\r\n+RW\r\n+insert\r\n"
		     "$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n"
		     "%1\r\n$5\r\nindex\r\n:2\r\n" SPEC_RANGE0_3);
}

static void write_getex_docs(struct kv_buf *b)
{
	size_t mark = resp_array_begin(b);
	int n = cmd_docs_reply_extra(b, cmd_lookup("getex", 5));
	resp_map_end(b, mark, n);
}

/* GETEX's arguments (a oneof with a since and nested tokens), as the part
 * of Redis's COMMAND DOCS reply after "complexity". */
static void test_cmd_docs_arguments_reply(void **state)
{
	(void)state;
	expect_reply(write_getex_docs, RESP_PROTO_3,
		     "%1\r\n$9\r\narguments\r\n*2\r\n"
		     "%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n"
		     "$14\r\nkey_spec_index\r\n:0\r\n"
		     "%4\r\n$4\r\nname\r\n$10\r\nexpiration\r\n$4\r\ntype\r\n$5\r\noneof\r\n"
		     "$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*5\r\n"
		     "%3\r\n$4\r\nname\r\n$7\r\nseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n"
		     "$5\r\ntoken\r\n$2\r\nEX\r\n"
		     "%3\r\n$4\r\nname\r\n$12\r\nmilliseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n"
		     "$5\r\ntoken\r\n$2\r\nPX\r\n"
		     "%3\r\n$4\r\nname\r\n$17\r\nunix-time-seconds\r\n$4\r\ntype\r\n$9\r\nunix-time\r\n"
		     "$5\r\ntoken\r\n$4\r\nEXAT\r\n"
		     "%3\r\n$4\r\nname\r\n$22\r\nunix-time-milliseconds\r\n$4\r\ntype\r\n"
		     "$9\r\nunix-time\r\n$5\r\ntoken\r\n$4\r\nPXAT\r\n"
		     "%3\r\n$4\r\nname\r\n$7\r\npersist\r\n$4\r\ntype\r\n$10\r\npure-token\r\n"
		     "$5\r\ntoken\r\n$7\r\nPERSIST\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_docs_key_flags_by_spec),
		cmocka_unit_test(test_cmd_docs_key_flags_by_arguments),
		cmocka_unit_test(test_cmd_docs_key_count_misfit),
		cmocka_unit_test(test_cmd_docs_every_command),
		cmocka_unit_test(test_cmd_docs_keyspecs_reply),
		cmocka_unit_test(test_cmd_docs_arguments_reply),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
