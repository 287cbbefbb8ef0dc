/*
 * test_acl.c - acl.c: the rule parser (every malformed rule with Redis's
 * error text, and a rule list applied whole or not at all), SHA-256
 * passwords, the description ACL LIST gives back, the check (commands,
 * subcommands, first arguments, read/write key patterns, channels,
 * selectors), authentication, and the aclfile loader's verdicts.  Texts
 * were checked against redis-server 7.0.15.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/sha256.h"
#include "commands/acl.h"
#include "commands/cmd.h"
#include "server/server.h"

/* Split "a b c" on spaces into slices pointing into a static copy. */
static int split(const char *text, struct kv_slice *out, int max)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s", text);
	int n = 0;
	for (char *p = strtok(buf, " "); p && n < max; p = strtok(NULL, " "))
		out[n++] = (struct kv_slice){ p, strlen(p) };
	return n;
}

static const char *rules_error(const char *rules)
{
	static char err[1024];
	struct kv_slice v[64];
	int n = split(rules, v, 64);
	err[0] = 0;
	if (acl_rules_check(n, v, err, sizeof(err)) == 0)
		return NULL;
	return err;
}

/* Runs ACL <args> through the command table; returns the reply. */
static const char *acl_cmd(const char *args)
{
	static struct kv_buf out;
	kv_buf_free(&out);
	kv_buf_init(&out);
	struct kv_slice v[64];
	int n = split(args, v, 64);
	struct cmd_ctx c = { .argc = n, .argv = v, .out = &out };
	const struct kv_command *cmd = cmd_lookup(v[0].ptr, v[0].len);
	assert_non_null(cmd);
	cmd->proc(&c);
	return kv_buf_cstr(&out);
}

static enum acl_verdict check_as(const char *user, const char *pass, const char *call, int *pos)
{
	struct acl_user *u = acl_authenticate(user, strlen(user), pass, strlen(pass));
	assert_non_null(u);
	struct kv_slice v[64];
	int n = split(call, v, 64);
	const struct kv_command *cmd = cmd_lookup(v[0].ptr, v[0].len);
	assert_non_null(cmd);
	enum acl_verdict r = acl_check(u, cmd, n, v, pos);
	acl_user_unref(u);
	return r;
}

static int setup(void **state)
{
	(void)state;
	acl_init();
	acl_threads(0);
	return 0;
}

static void test_acl_sha256_vectors(void **state)
{
	(void)state;
	char h[65];
	sha256_hex("", 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 56 bytes: the padding needs a second block. */
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(m, strlen(m), h);
	assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	char big[1000];
	memset(big, 'a', sizeof(big));
	sha256_hex(big, sizeof(big), h);
	assert_string_equal(h, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

static void test_acl_malformed_rules(void **state)
{
	(void)state;
	static const struct {
		const char *rules, *err;
	} cases[] = {
		{ "bogus", "Error in ACL SETUSER modifier 'bogus': Syntax error" },
		{ "+nosuch", "Error in ACL SETUSER modifier '+nosuch': Unknown command or category "
			     "name in ACL" },
		{ "-@nosuch", "Error in ACL SETUSER modifier '-@nosuch': Unknown command or category "
			      "name in ACL" },
		{ "+config|nosuch", "Error in ACL SETUSER modifier '+config|nosuch': Unknown command "
				    "or category name in ACL" },
		{ "+config|get|x", "Error in ACL SETUSER modifier '+config|get|x': Allowing "
				   "first-arg of a subcommand is not supported" },
		{ "+get|", "Error in ACL SETUSER modifier '+get|': Syntax error" },
		{ "~* ~a", "Error in ACL SETUSER modifier '~a': Adding a pattern after the * pattern "
			   "(or the 'allkeys' flag) is not valid and does not have any effect. Try "
			   "'resetkeys' to start with an empty list of patterns" },
		{ "allchannels &x", "Error in ACL SETUSER modifier '&x': Adding a pattern after the "
				    "* pattern (or the 'allchannels' flag) is not valid and does not "
				    "have any effect. Try 'resetchannels' to start with an empty list "
				    "of channels" },
		{ "<nothere", "Error in ACL SETUSER modifier '<nothere': The password you are trying "
			      "to remove from the user does not exist" },
		{ "#abc", "Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 "
			  "characters and contain only lowercase hexadecimal characters" },
		{ "#E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		  "Error in ACL SETUSER modifier "
		  "'#E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855': The password "
		  "hash must be exactly 64 characters and contain only lowercase hexadecimal "
		  "characters" },
		{ "%X~a", "Error in ACL SETUSER modifier '%X~a': Syntax error" },
		{ "%RR~a", "Error in ACL SETUSER modifier '%RR~a': Syntax error" },
		{ "(~a +get", "Unmatched parenthesis in acl selector starting at '(~a'." },
		{ "(+get bogus)", "Error in ACL SETUSER modifier '(+get bogus)': Syntax error" },
		{ "on >p ~a +get nope", "Error in ACL SETUSER modifier 'nope': Syntax error" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *err = rules_error(cases[i].rules);
		assert_non_null(err);
		assert_string_equal(err, cases[i].err);
	}
	static const char *const good[] = {
		"on off nopass resetpass reset", ">p <p", "~* resetkeys ~a ~a %R~b %W~b %RW~c",
		"&* resetchannels &a", "+@all -@dangerous +config|get -config|set",
		"allcommands nocommands allkeys allchannels", "+select|0 +select|1",
		"(~a +get) (+set ~b) clearselectors", "sanitize-payload skip-sanitize-payload", "",
		"%R",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(rules_error(good[i]));
}

static void test_acl_setuser_all_or_nothing(void **state)
{
	(void)state;
	assert_string_equal(acl_cmd("acl setuser t1 on >pw ~k:* +get"), "+OK\r\n");
	struct kv_buf before = KV_BUF_INIT;
	assert_true(acl_describe_user("t1", &before));
	const char *r = acl_cmd("acl setuser t1 -@all >other ~x +set bogus");
	assert_string_equal(r, "-ERR Error in ACL SETUSER modifier 'bogus': Syntax error\r\n");
	struct kv_buf after = KV_BUF_INIT;
	assert_true(acl_describe_user("t1", &after));
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.data, after.data, before.len);
	kv_buf_free(&before);
	kv_buf_free(&after);
	/* A failed creation creates nothing. */
	assert_string_equal(acl_cmd("acl setuser t2 on +nosuch"),
			    "-ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or "
			    "category name in ACL\r\n");
	assert_string_equal(acl_cmd("acl getuser t2"), "$-1\r\n");
	assert_string_equal(acl_cmd("acl deluser t1 t2"), ":1\r\n");
}

static void test_acl_describe(void **state)
{
	(void)state;
	static const struct {
		const char *rules, *desc;
	} cases[] = {
		{ "", "user d off resetchannels -@all" },
		{ "on nopass +@all ~* &*", "user d on nopass ~* &* +@all" },
		{ "+@all -@dangerous ~k:* %R~r:*", "user d off ~k:* %R~r:* resetchannels +@all "
						   "-@dangerous" },
		{ "-@all +config|get &c", "user d off resetchannels &c -@all +config|get" },
		{ "+select|0", "user d off resetchannels -@all +select|0" },
		{ "+get (~a +set)", "user d off resetchannels -@all +get (~a resetchannels -@all "
				    "+set)" },
		{ "reset", "user d off sanitize-payload resetchannels -@all" },
		{ ">abc", "user d off "
			  "#ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
			  "resetchannels -@all" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "acl setuser d %s", cases[i].rules);
		assert_string_equal(acl_cmd(cmd), "+OK\r\n");
		struct kv_buf b = KV_BUF_INIT;
		assert_true(acl_describe_user("d", &b));
		assert_int_equal(b.len, strlen(cases[i].desc));
		assert_memory_equal(b.data, cases[i].desc, b.len);
		kv_buf_free(&b);
		assert_string_equal(acl_cmd("acl deluser d"), ":1\r\n");
	}
}

static void test_acl_check(void **state)
{
	(void)state;
	assert_string_equal(acl_cmd("acl setuser c on >pw %R~r:* %W~w:* ~rw:* &news.* -@all "
				    "+get +set +config|get +select|1 +publish +psubscribe "
				    "(+del ~d:*)"), "+OK\r\n");
	int pos;
	assert_int_equal(check_as("c", "pw", "get r:1", &pos), ACL_OK);
	assert_int_equal(check_as("c", "pw", "get w:1", &pos), ACL_DENIED_KEY);
	assert_int_equal(pos, 1);
	assert_int_equal(check_as("c", "pw", "set w:1 x", &pos), ACL_OK);
	assert_int_equal(check_as("c", "pw", "set r:1 x", &pos), ACL_DENIED_KEY);
	assert_int_equal(check_as("c", "pw", "get rw:1", &pos), ACL_OK);
	assert_int_equal(check_as("c", "pw", "incr r:1", &pos), ACL_DENIED_CMD);
	assert_int_equal(check_as("c", "pw", "config get x", &pos), ACL_OK);
	assert_int_equal(check_as("c", "pw", "config set x y", &pos), ACL_DENIED_CMD);
	assert_int_equal(check_as("c", "pw", "select 1", &pos), ACL_OK);
	assert_int_equal(check_as("c", "pw", "select 2", &pos), ACL_DENIED_CMD);
	assert_int_equal(check_as("c", "pw", "publish news.a m", &pos), ACL_OK);
	assert_int_equal(check_as("c", "pw", "publish sport m", &pos), ACL_DENIED_CHANNEL);
	assert_int_equal(check_as("c", "pw", "psubscribe news.*", &pos), ACL_OK);
	assert_int_equal(check_as("c", "pw", "psubscribe news.a*", &pos), ACL_DENIED_CHANNEL);
	/* The selector allows DEL of d:*, nothing else. */
	assert_int_equal(check_as("c", "pw", "del d:1", &pos), ACL_OK);
	assert_int_equal(check_as("c", "pw", "del d:1 x:1", &pos), ACL_DENIED_KEY);
	assert_int_equal(pos, 2);
	/* AUTH itself (no_auth) is never denied. */
	assert_int_equal(check_as("c", "pw", "auth x y", &pos), ACL_OK);
	/* Wrong password, disabled user. */
	assert_null(acl_authenticate("c", 1, "no", 2));
	assert_string_equal(acl_cmd("acl setuser c off"), "+OK\r\n");
	assert_null(acl_authenticate("c", 1, "pw", 2));
	assert_string_equal(acl_cmd("acl deluser c"), ":1\r\n");
	assert_null(acl_authenticate("c", 1, "pw", 2));
}

static void test_acl_default_password(void **state)
{
	(void)state;
	assert_false(acl_auth_required());
	acl_set_default_password("secret", 6);
	assert_true(acl_auth_required());
	assert_true(acl_default_has_password());
	assert_null(acl_authenticate("default", 7, "nope", 4));
	struct acl_user *u = acl_authenticate("default", 7, "secret", 6);
	assert_ptr_equal(u, acl_default_user());
	acl_user_unref(u);
	acl_set_default_password(NULL, 0);
	assert_false(acl_auth_required());
}

static void test_acl_file_load(void **state)
{
	(void)state;
	char path[] = "/tmp/kevy-test-acl-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "user default on nopass ~* &* +@all\n\nuser a on >x +get ~k\n"
			   "user b on +@all bogus\nnotuser c\nuser a on\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	acl_set_file(path);
	const char *r = acl_cmd("acl load");
	char want[1024];
	snprintf(want, sizeof(want),
		 "-ERR %s:4: Syntax error. %s:5 should start with user keyword followed by the "
		 "username. WARNING: Duplicate user 'a' found on line 6. WARNING: ACL errors "
		 "detected, no change to the previously active ACL rules was performed\r\n",
		 path, path);
	assert_string_equal(r, want);
	assert_string_equal(acl_cmd("acl users"), "*1\r\n$7\r\ndefault\r\n");
	/* A good file loads whole; SAVE writes it back the same. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("user a on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 ~k "
	      "resetchannels -@all +get\nuser default on nopass ~* &* +@all\n", f);
	fclose(f);
	assert_string_equal(acl_cmd("acl load"), "+OK\r\n");
	assert_string_equal(acl_cmd("acl users"), "*2\r\n$1\r\na\r\n$7\r\ndefault\r\n");
	assert_string_equal(acl_cmd("acl save"), "+OK\r\n");
	f = fopen(path, "r");
	char back[512] = "";
	size_t n = fread(back, 1, sizeof(back) - 1, f);
	fclose(f);
	back[n] = 0;
	assert_string_equal(back, "user a on "
			    "#2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 ~k "
			    "resetchannels -@all +get\nuser default on nopass ~* &* +@all\n");
	int pos;
	assert_int_equal(check_as("a", "x", "get k", &pos), ACL_OK);
	assert_int_equal(acl_cmd("acl deluser a")[1], '1');
	unlink(path);
	acl_set_file("");
	assert_string_equal(acl_cmd("acl load"),
			    "-ERR This Redis instance is not configured to use an ACL file. You may "
			    "want to specify users via the ACL SETUSER command and then issue a "
			    "CONFIG REWRITE (assuming you have a Redis configuration file set) in "
			    "order to store users in the Redis configuration.\r\n");
}

static void test_acl_log_grouping(void **state)
{
	(void)state;
	assert_string_equal(acl_cmd("acl log reset"), "+OK\r\n");
	for (int i = 0; i < 3; i++)
		acl_log_add(ACL_DENIED_KEY, ACL_CTX_TOPLEVEL, "k", 1, "u", 1, "id=1", 4);
	acl_log_add(ACL_DENIED_CMD, ACL_CTX_MULTI, "get", 3, "u", 1, "id=2", 4);
	const char *r = acl_cmd("acl log");
	/* Two entries, newest first; the key entry counts 3. */
	assert_non_null(strstr(r, "*2\r\n"));
	assert_non_null(strstr(r, "$5\r\ncount\r\n:1\r\n$6\r\nreason\r\n$7\r\ncommand\r\n"
				  "$7\r\ncontext\r\n$5\r\nmulti\r\n"));
	assert_non_null(strstr(r, "$5\r\ncount\r\n:3\r\n$6\r\nreason\r\n$3\r\nkey\r\n"));
	acl_set_log_max_len(1);
	assert_int_equal(strncmp(acl_cmd("acl log"), "*1\r\n", 4), 0);
	acl_set_log_max_len(128);
	assert_string_equal(acl_cmd("acl log -5"), "*0\r\n");
}

int main(void)
{
	/* The runtime's families too: PUBLISH, PSUBSCRIBE, EVAL. */
	server_commands_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acl_sha256_vectors),
		cmocka_unit_test_setup(test_acl_malformed_rules, setup),
		cmocka_unit_test_setup(test_acl_setuser_all_or_nothing, setup),
		cmocka_unit_test_setup(test_acl_describe, setup),
		cmocka_unit_test_setup(test_acl_check, setup),
		cmocka_unit_test_setup(test_acl_default_password, setup),
		cmocka_unit_test_setup(test_acl_file_load, setup),
		cmocka_unit_test_setup(test_acl_log_grouping, setup),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	acl_fini();
	return rc;
}
