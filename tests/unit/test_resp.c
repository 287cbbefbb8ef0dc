/*
 * test_resp.c - the RESP2 request parser and the reply writers (RESP2 and
 * RESP3).
 *
 * Every input is placed right before a PROT_NONE guard page (as in
 * picohttpparser's tests), so a read past len faults in any build; the
 * sanitizer build adds ASan/UBSan on top.  Expected error texts and accepted
 * inputs were taken from a live Redis 7.0.15 (see resp.c's header).
 * The fuzz test prints its seed; KEVY_FUZZ_SEED=<n> replays one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/kv.h"
#include "proto/resp.h"

/* ------------------------------------------------------------ helpers */

/* A copy of some bytes that ends exactly where an unreadable page starts. */
struct guarded {
	char *map;
	size_t map_len;
	char *data;
};

/* Small inputs reuse one mapping: the fuzz test makes a million copies. */
static struct guarded guarded_small;
#define GUARDED_SMALL_BODY (256u << 10)

static struct guarded guarded_map(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (n + page - 1) / page * page;
	struct guarded g;
	g.map_len = body + page;
	g.map = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	assert_true(g.map != MAP_FAILED);
	assert_int_equal(mprotect(g.map + body, page, PROT_NONE), 0);
	g.data = g.map + body;
	return g;
}

static struct guarded guarded_copy(const void *src, size_t n)
{
	struct guarded g;
	if (n <= GUARDED_SMALL_BODY) {
		if (!guarded_small.map)
			guarded_small = guarded_map(GUARDED_SMALL_BODY);
		g = guarded_small;
		g.map = NULL;
	} else {
		g = guarded_map(n);
	}
	g.data -= n;
	if (n)
		memcpy(g.data, src, n);
	return g;
}

static void guarded_free(struct guarded *g)
{
	if (g->map)
		munmap(g->map, g->map_len);
}

/* What one resp_parse call produced, copied out of the parser and buffer. */
struct result {
	int64_t rc;
	int argc;
	char **args;
	size_t *lens;
	char err[128];
};

static void result_free(struct result *r)
{
	for (int i = 0; i < r->argc; i++)
		free(r->args[i]);
	free(r->args);
	free(r->lens);
	memset(r, 0, sizeof(*r));
}

static void result_capture(struct result *r, int64_t rc, int argc, struct kv_slice *argv,
			   const char *err)
{
	memset(r, 0, sizeof(*r));
	r->rc = rc;
	if (rc < 0) {
		assert_non_null(err);
		snprintf(r->err, sizeof(r->err), "%s", err);
		return;
	}
	assert_true(argc >= 0);
	r->argc = argc;
	r->args = calloc((size_t)argc + 1, sizeof(char *));
	r->lens = calloc((size_t)argc + 1, sizeof(size_t));
	for (int i = 0; i < argc; i++) {
		r->args[i] = malloc(argv[i].len + 1);
		if (argv[i].len)
			memcpy(r->args[i], argv[i].ptr, argv[i].len);
		r->lens[i] = argv[i].len;
	}
}

/* Parse data[0..n) placed against the guard page. */
static struct result parse_guarded(struct resp_parser *p, const void *data, size_t n)
{
	struct guarded g = guarded_copy(data, n);
	int argc = -1;
	struct kv_slice *argv = NULL;
	const char *err = NULL;
	int64_t rc = resp_parse(p, g.data, n, &argc, &argv, &err);
	assert_true(rc <= (int64_t)n);
	assert_true(rc >= RESP_ERROR);
	struct result r;
	result_capture(&r, rc, argc, argv, err);
	guarded_free(&g);
	return r;
}

static struct result parse_fresh(const struct resp_limits *lim, const void *data, size_t n)
{
	struct resp_parser p;
	resp_parser_init(&p, lim);
	struct result r = parse_guarded(&p, data, n);
	resp_parser_free(&p);
	return r;
}

static bool result_equal(const struct result *a, const struct result *b)
{
	if (a->rc != b->rc || a->argc != b->argc || strcmp(a->err, b->err) != 0)
		return false;
	for (int i = 0; i < a->argc; i++)
		if (a->lens[i] != b->lens[i] || memcmp(a->args[i], b->args[i], a->lens[i]) != 0)
			return false;
	return true;
}

/* Expected arguments as NUL-terminated strings; NULL ends the list. */
static void assert_args(const struct result *r, const char *const *want)
{
	int n = 0;
	while (want[n])
		n++;
	assert_int_equal(r->argc, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(r->lens[i], strlen(want[i]));
		if (r->lens[i])
			assert_memory_equal(r->args[i], want[i], r->lens[i]);
	}
}

static struct resp_limits default_limits(void)
{
	struct resp_limits lim;
	resp_limits_default(&lim);
	return lim;
}

/* -------------------------------------------------------- sample frames */

struct frame {
	const char *bytes;
	size_t len;               /* 0: strlen(bytes) */
	const char *args[8];
};

static const struct frame frames[] = {
	{ "*1\r\n$4\r\nPING\r\n", 0, { "PING" } },
	{ "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", 0, { "SET", "key", "value" } },
	{ "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", 0, { "ECHO", "" } },
	{ "*2\r\n$3\r\nGET\r\n$12\r\n0123456789ab\r\n", 0, { "GET", "0123456789ab" } },
	{ "*0\r\n", 0, { NULL } },
	{ "*-1\r\n", 0, { NULL } },
	{ "PING\r\n", 0, { "PING" } },
	{ "PING\n", 0, { "PING" } },
	{ "set k \"a b\"\r\n", 0, { "set", "k", "a b" } },
	{ "  echo  'x y'  \r\n", 0, { "echo", "x y" } },
	{ "\r\n", 0, { NULL } },
	{ "\n", 0, { NULL } },
};

static size_t frame_len(const struct frame *f)
{
	return f->len ? f->len : strlen(f->bytes);
}

/* ---------------------------------------------------------------- tests */

static void test_resp_limits_default(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	assert_int_equal(lim.max_bulk_len, 512ll * 1024 * 1024);
	assert_int_equal(lim.max_multibulk_len, INT_MAX);
	assert_int_equal(lim.max_inline_len, 64 * 1024);
}

static void test_resp_every_prefix_needs_more(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	for (size_t f = 0; f < KV_ARRAY_LEN(frames); f++) {
		size_t n = frame_len(&frames[f]);
		/* A fresh parser on each prefix, and one parser fed growing
		 * prefixes (each in a new place, as after a buffer realloc). */
		struct resp_parser p;
		resp_parser_init(&p, &lim);
		for (size_t k = 0; k < n; k++) {
			struct result r = parse_fresh(&lim, frames[f].bytes, k);
			assert_int_equal(r.rc, RESP_NEED_MORE);
			result_free(&r);
			r = parse_guarded(&p, frames[f].bytes, k);
			assert_int_equal(r.rc, RESP_NEED_MORE);
			result_free(&r);
		}
		struct result r = parse_guarded(&p, frames[f].bytes, n);
		assert_int_equal(r.rc, (int64_t)n);
		assert_args(&r, frames[f].args);
		result_free(&r);
		resp_parser_free(&p);
	}
}

static void test_resp_split_at_every_byte(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	for (size_t f = 0; f < KV_ARRAY_LEN(frames); f++) {
		size_t n = frame_len(&frames[f]);
		for (size_t k = 0; k <= n; k++) {
			struct resp_parser p;
			resp_parser_init(&p, &lim);
			struct result r = parse_guarded(&p, frames[f].bytes, k);
			assert_int_equal(r.rc, k == n ? (int64_t)n : RESP_NEED_MORE);
			result_free(&r);
			if (k < n) {
				r = parse_guarded(&p, frames[f].bytes, n);
				assert_int_equal(r.rc, (int64_t)n);
			}
			result_free(&r);
			resp_parser_free(&p);
		}
	}
}

static void test_resp_reparse_same_bytes(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	struct resp_parser p;
	resp_parser_init(&p, &lim);
	for (size_t f = 0; f < KV_ARRAY_LEN(frames); f++) {
		size_t n = frame_len(&frames[f]);
		struct result a = parse_guarded(&p, frames[f].bytes, n);
		struct result b = parse_guarded(&p, frames[f].bytes, n);
		assert_int_equal(a.rc, (int64_t)n);
		assert_true(result_equal(&a, &b));
		result_free(&a);
		result_free(&b);
	}
	/* Also after an error: the same bytes give the same error. */
	const char *bad = "*1\r\n$x\r\n";
	struct result a = parse_guarded(&p, bad, strlen(bad));
	struct result b = parse_guarded(&p, bad, strlen(bad));
	assert_int_equal(a.rc, RESP_ERROR);
	assert_true(result_equal(&a, &b));
	result_free(&a);
	result_free(&b);
	resp_parser_free(&p);
}

static void test_resp_pipeline_of_1000(void **state)
{
	(void)state;
	struct kv_buf in = KV_BUF_INIT;
	for (int i = 0; i < 1000; i++) {
		char key[32];
		int kl = snprintf(key, sizeof(key), "key:%d", i);
		if (i % 3 == 2) {
			kv_buf_printf(&in, "SET %s \"v %d\"\r\n", key, i);
		} else {
			kv_buf_printf(&in, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n", kl, key);
			char val[32];
			int vl = snprintf(val, sizeof(val), "v %d", i);
			kv_buf_printf(&in, "$%d\r\n%s\r\n", vl, val);
		}
	}
	struct guarded g = guarded_copy(in.data, in.len);
	struct resp_limits lim = default_limits();
	struct resp_parser p;
	resp_parser_init(&p, &lim);
	size_t off = 0;
	for (int i = 0; i < 1000; i++) {
		int argc;
		struct kv_slice *argv;
		const char *err;
		int64_t rc = resp_parse(&p, g.data + off, in.len - off, &argc, &argv, &err);
		assert_true(rc > 0);
		assert_int_equal(argc, 3);
		char key[32], val[32];
		snprintf(key, sizeof(key), "key:%d", i);
		snprintf(val, sizeof(val), "v %d", i);
		assert_int_equal(argv[0].len, 3);
		assert_memory_equal(argv[0].ptr, "SET", 3);
		assert_int_equal(argv[1].len, strlen(key));
		assert_memory_equal(argv[1].ptr, key, argv[1].len);
		assert_int_equal(argv[2].len, strlen(val));
		assert_memory_equal(argv[2].ptr, val, argv[2].len);
		off += (size_t)rc;
	}
	assert_int_equal(off, in.len);
	int argc;
	struct kv_slice *argv;
	const char *err;
	assert_int_equal(resp_parse(&p, g.data + off, 0, &argc, &argv, &err), RESP_NEED_MORE);
	resp_parser_free(&p);
	guarded_free(&g);
	kv_buf_free(&in);
}

/* Inline lines and the words Redis 7.0.15 made of them (RPUSH k <line>, then
 * LRANGE); NULL as the first word means "unbalanced quotes in request". */
struct inline_case {
	const char *line;
	const char *words[6];
	size_t word_len[6];       /* 0: strlen */
};

static const struct inline_case inline_cases[] = {
	{ "a b  c", { "a", "b", "c" }, { 0 } },
	{ "\"a b\" c", { "a b", "c" }, { 0 } },
	{ "\"a\\nb\\x41\\x4g\\\\\\\"\\z\"", { "a\nbAx4g\\\"z" }, { 0 } },
	{ "'it\\'s' '\\n\\x41'", { "it's", "\\n\\x41" }, { 0 } },
	{ "foo\"bar baz\"", { "foobar baz" }, { 0 } },
	{ "\"foo\"bar", { NULL }, { 0 } },
	{ "'foo'bar", { NULL }, { 0 } },
	{ "\"unterminated", { NULL }, { 0 } },
	{ "'unterminated", { NULL }, { 0 } },
	{ "\"a\"\vb", { "a", "b" }, { 0 } },
	{ "a\vb", { "a\vb" }, { 0 } },
	{ "a\rb", { "a", "b" }, { 0 } },
	{ "a\tb\fc", { "a", "b\fc" }, { 0 } },
	{ "\"ends with backslash\\\"", { NULL }, { 0 } },
	{ "\"\\\"", { NULL }, { 0 } },
	{ "\"\"", { "" }, { 0 } },
	{ "''", { "" }, { 0 } },
	{ "\"\" \"\"", { "", "" }, { 0 } },
	{ "\"\\x\"", { "x" }, { 0 } },
	{ "\"\\xZ1\"", { "xZ1" }, { 0 } },
	{ "\"\\xff\"", { "\xff" }, { 0 } },
	{ "\"\\x00\"", { "" }, { 1 } },
	{ "x\\\"y", { NULL }, { 0 } },
	{ "a\r\r", { "a" }, { 0 } },
	{ "\"a\"\r\r", { "a" }, { 0 } },
	{ "'a'\t", { "a" }, { 0 } },
	{ "\"\\\\x41\"", { "\\x41" }, { 0 } },
	{ "'a\\\\'", { NULL }, { 0 } },
	{ "'\\\\''", { "\\'" }, { 0 } },
	{ "\"\\t\\r\\b\\a\"", { "\t\r\b\a" }, { 0 } },
	{ "\v\f a", { "a" }, { 0 } },
};

static void test_resp_inline_quoting(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	for (size_t c = 0; c < KV_ARRAY_LEN(inline_cases); c++) {
		const struct inline_case *ic = &inline_cases[c];
		char line[128];
		int n = snprintf(line, sizeof(line), "%s\r\n", ic->line);
		struct result r = parse_fresh(&lim, line, (size_t)n);
		if (!ic->words[0]) {
			assert_int_equal(r.rc, RESP_ERROR);
			assert_string_equal(r.err, "ERR Protocol error: unbalanced quotes in request");
			result_free(&r);
			continue;
		}
		assert_int_equal(r.rc, n);
		int want = 0;
		while (want < 6 && ic->words[want])
			want++;
		assert_int_equal(r.argc, want);
		for (int i = 0; i < want; i++) {
			size_t wl = ic->word_len[i] ? ic->word_len[i] : strlen(ic->words[i]);
			assert_int_equal(r.lens[i], wl);
			if (wl)
				assert_memory_equal(r.args[i], ic->words[i], wl);
		}
		result_free(&r);
	}
}

/* resp_split_word splits any text as an inline line is split (a function
 * library's shebang line): the same words, -1 where the line is refused. */
static void test_resp_split_word_matches_inline(void **state)
{
	(void)state;
	for (size_t c = 0; c < KV_ARRAY_LEN(inline_cases); c++) {
		const struct inline_case *ic = &inline_cases[c];
		size_t n = strlen(ic->line), at = 0;
		struct kv_buf w = KV_BUF_INIT;
		int rc, got = 0;
		while ((rc = resp_split_word(&w, ic->line, n, &at)) > 0) {
			assert_true(got < 6 && ic->words[got]);
			size_t wl = ic->word_len[got] ? ic->word_len[got] : strlen(ic->words[got]);
			assert_int_equal(w.len, wl);
			if (wl)
				assert_memory_equal(w.data, ic->words[got], wl);
			got++;
			kv_buf_clear(&w);
		}
		kv_buf_free(&w);
		if (!ic->words[0]) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_true(got == 6 || !ic->words[got]);
	}
}

static void test_resp_inline_line_endings(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	static const char *const ping[] = { "PING", NULL };
	/* Only the one CR right before the LF is dropped; others separate words. */
	struct result r = parse_fresh(&lim, "PING\n", 5);
	assert_int_equal(r.rc, 5);
	assert_args(&r, ping);
	result_free(&r);
	r = parse_fresh(&lim, "PING\r\r\n", 7);
	assert_int_equal(r.rc, 7);
	assert_args(&r, ping);
	result_free(&r);
	/* A CR alone does not end an inline request. */
	r = parse_fresh(&lim, "PING\r", 5);
	assert_int_equal(r.rc, RESP_NEED_MORE);
	result_free(&r);
	/* Only the first line is consumed. */
	r = parse_fresh(&lim, "PING\nPING\n", 10);
	assert_int_equal(r.rc, 5);
	assert_args(&r, ping);
	result_free(&r);
}

static void test_resp_empty_requests(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	static const char *const empties[] = {
		"*0\r\n", "*-1\r\n", "*-5\r\n", "*-9223372036854775808\r\n",
		"\r\n", "\n", "   \r\n", "\t\v\f\n",
	};
	for (size_t i = 0; i < KV_ARRAY_LEN(empties); i++) {
		struct result r = parse_fresh(&lim, empties[i], strlen(empties[i]));
		assert_int_equal(r.rc, (int64_t)strlen(empties[i]));
		assert_int_equal(r.argc, 0);
		result_free(&r);
	}
}

/* Error inputs with Redis 7.0.15's reply to them (each closed the link). */
struct error_case {
	const char *bytes;
	size_t len;               /* 0: strlen */
	const char *msg;
};

#define PE(m) "ERR Protocol error: " m
static const struct error_case error_cases[] = {
	{ "*abc\r\n", 0, PE("invalid multibulk length") },
	{ "*\r\n", 0, PE("invalid multibulk length") },
	{ "*+1\r\n", 0, PE("invalid multibulk length") },
	{ "*01\r\n", 0, PE("invalid multibulk length") },
	{ "*-0\r\n", 0, PE("invalid multibulk length") },
	{ "* 1\r\n", 0, PE("invalid multibulk length") },
	{ "*1 \r\n", 0, PE("invalid multibulk length") },
	{ "*2147483648\r\n", 0, PE("invalid multibulk length") },
	{ "*111111111111111111111111111111\r\n", 0, PE("invalid multibulk length") },
	{ "*-\r\n", 0, PE("invalid multibulk length") },
	{ "*1\r\nfoo\r\n", 0, PE("expected '$', got 'f'") },
	{ "*1\r\n\r\n", 0, PE("expected '$', got ' '") },
	{ "*1\r\n\n\r\n", 0, PE("expected '$', got ' '") },
	{ "*1\r\n\x01\r\n", 0, PE("expected '$', got '\x01'") },
	{ "*1\r\n\xff\r\n", 0, PE("expected '$', got '\xff'") },
	{ "*2\r\n$3\r\nGET\r\n:1\r\n", 0, PE("expected '$', got ':'") },
	{ "*1\r\n$-1\r\n", 0, PE("invalid bulk length") },
	{ "*1\r\n$abc\r\n", 0, PE("invalid bulk length") },
	{ "*1\r\n$\r\n", 0, PE("invalid bulk length") },
	{ "*1\r\n$00\r\n", 0, PE("invalid bulk length") },
	{ "*1\r\n$+1\r\n", 0, PE("invalid bulk length") },
	{ "*1\r\n$536870913\r\n", 0, PE("invalid bulk length") },
	{ "*1\r\n$9223372036854775808\r\n", 0, PE("invalid bulk length") },
	{ "*1\r\n$99999999999999999999\r\n", 0, PE("invalid bulk length") },
	{ "*1\r\n$111111111111111111111111111111\r\n", 0, PE("invalid bulk length") },
	{ "\"foo\"bar\r\n", 0, PE("unbalanced quotes in request") },
	{ "SET k 'v\r\n", 0, PE("unbalanced quotes in request") },
};

static void test_resp_errors_exact(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	for (size_t c = 0; c < KV_ARRAY_LEN(error_cases); c++) {
		const struct error_case *ec = &error_cases[c];
		size_t n = ec->len ? ec->len : strlen(ec->bytes);
		/* Prefixes are incomplete until the error shows, then stay errors;
		 * a parser fed the growing prefixes agrees at every step. */
		bool failed = false;
		struct resp_parser p;
		resp_parser_init(&p, &lim);
		for (size_t k = 0; k <= n; k++) {
			struct result r = parse_fresh(&lim, ec->bytes, k);
			struct result inc = parse_guarded(&p, ec->bytes, k);
			if (r.rc == RESP_ERROR) {
				failed = true;
				assert_string_equal(r.err, ec->msg);
			} else {
				assert_false(failed);
				assert_int_equal(r.rc, RESP_NEED_MORE);
			}
			if (!result_equal(&inc, &r))
				fail_msg("case %zu prefix %zu: incremental %" PRId64 " fresh %" PRId64,
					 c, k, inc.rc, r.rc);
			result_free(&inc);
			result_free(&r);
		}
		assert_true(failed);
		resp_parser_free(&p);
	}
}

static void assert_parse_error(const struct resp_limits *lim, const char *bytes, size_t n,
			       const char *msg)
{
	struct result r = parse_fresh(lim, bytes, n);
	assert_int_equal(r.rc, RESP_ERROR);
	assert_string_equal(r.err, msg);
	result_free(&r);
}

static void assert_parse_rc(const struct resp_limits *lim, const char *bytes, size_t n,
			    int64_t rc)
{
	struct result r = parse_fresh(lim, bytes, n);
	assert_int_equal(r.rc, rc);
	result_free(&r);
}

/* More than max_inline_len bytes buffered without the line end: error; as
 * many as the limit: still waiting.  Same for both header lines, counted
 * from the header's first byte. */
static void test_resp_too_big_lines(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	size_t big = lim.max_inline_len + 1;
	char *b = malloc(big + 8);

	memset(b, 'x', big);
	assert_parse_rc(&lim, b, big - 1, RESP_NEED_MORE);
	assert_parse_error(&lim, b, big, PE("too big inline request"));

	b[0] = '*';
	memset(b + 1, '1', big - 1);
	assert_parse_rc(&lim, b, big - 1, RESP_NEED_MORE);
	assert_parse_error(&lim, b, big, PE("too big mbulk count string"));

	memcpy(b, "*1\r\n", 4);
	memset(b + 4, '$', big);
	assert_parse_rc(&lim, b, 4 + big - 1, RESP_NEED_MORE);
	assert_parse_error(&lim, b, 4 + big, PE("too big bulk count string"));

	/* A line end far away makes the number invalid instead. */
	memcpy(b, "*1\r\n$", 5);
	memset(b + 5, '1', big);
	memcpy(b + 5 + big - 2, "\r\n", 2);
	assert_parse_error(&lim, b, 5 + big, PE("invalid bulk length"));

	/* A long inline line that arrives whole, LF included, is accepted,
	 * as Redis only measures lines still missing their end. */
	memset(b, 'x', big);
	b[big] = '\n';
	assert_parse_rc(&lim, b, big + 1, (int64_t)big + 1);
	free(b);

	/* Smaller configured limits. */
	lim.max_inline_len = 8;
	assert_parse_rc(&lim, "xxxxxxxx", 8, RESP_NEED_MORE);
	assert_parse_error(&lim, "xxxxxxxxx", 9, PE("too big inline request"));
	assert_parse_error(&lim, "*1\r\n$123456789", 14, PE("too big bulk count string"));
}

static void test_resp_multibulk_and_bulk_limits(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	/* Redis's defaults: INT_MAX arguments and 512 MiB bulks are fine. */
	assert_parse_rc(&lim, "*2147483647\r\n", 13, RESP_NEED_MORE);
	assert_parse_rc(&lim, "*1\r\n$536870912\r\n", 16, RESP_NEED_MORE);
	assert_parse_error(&lim, "*1\r\n$536870913\r\n", 16, PE("invalid bulk length"));

	lim.max_bulk_len = 3;
	lim.max_multibulk_len = 2;
	assert_parse_rc(&lim, "*2\r\n$3\r\nabc\r\n$0\r\n\r\n", 19, 19);
	assert_parse_error(&lim, "*3\r\n", 4, PE("invalid multibulk length"));
	assert_parse_error(&lim, "*1\r\n$4\r\n", 8, PE("invalid bulk length"));
	/* A limit above INT_MAX is clamped: argc is an int. */
	lim.max_multibulk_len = INT64_MAX;
	assert_parse_error(&lim, "*2147483648\r\n", 13, PE("invalid multibulk length"));
}

static void test_resp_unauthenticated_limits(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	struct resp_parser p;
	resp_parser_init(&p, &lim);
	resp_parser_set_authenticated(&p, 0);
	struct result r = parse_guarded(&p, "*10\r\n", 5);
	assert_int_equal(r.rc, RESP_NEED_MORE);
	result_free(&r);
	resp_parser_free(&p);

	static const struct error_case cases[] = {
		{ "*11\r\n", 0, PE("unauthenticated multibulk length") },
		{ "*abc\r\n", 0, PE("invalid multibulk length") },
		{ "*1\r\n$16385\r\n", 0, PE("unauthenticated bulk length") },
		{ "*1\r\n$-1\r\n", 0, PE("invalid bulk length") },
		{ "*1\r\n$536870913\r\n", 0, PE("invalid bulk length") },
	};
	for (size_t c = 0; c < KV_ARRAY_LEN(cases); c++) {
		resp_parser_init(&p, &lim);
		resp_parser_set_authenticated(&p, 0);
		r = parse_guarded(&p, cases[c].bytes, strlen(cases[c].bytes));
		assert_int_equal(r.rc, RESP_ERROR);
		assert_string_equal(r.err, cases[c].msg);
		result_free(&r);
		resp_parser_free(&p);
	}

	resp_parser_init(&p, &lim);
	resp_parser_set_authenticated(&p, 0);
	r = parse_guarded(&p, "*1\r\n$16384\r\n", 12);
	assert_int_equal(r.rc, RESP_NEED_MORE);
	result_free(&r);
	/* Negative counts and inline requests are not limited. */
	resp_parser_free(&p);
	resp_parser_init(&p, &lim);
	resp_parser_set_authenticated(&p, 0);
	r = parse_guarded(&p, "*-20\r\n", 6);
	assert_int_equal(r.rc, 6);
	result_free(&r);
	const char *many = "PING a a a a a a a a a a a a a a a a a a a a\r\n";
	r = parse_guarded(&p, many, strlen(many));
	assert_int_equal(r.argc, 21);
	result_free(&r);
	/* And authentication lifts the limits. */
	resp_parser_set_authenticated(&p, 1);
	r = parse_guarded(&p, "*11\r\n", 5);
	assert_int_equal(r.rc, RESP_NEED_MORE);
	result_free(&r);
	resp_parser_free(&p);
}

/* Redis searches line ends with strchr(), which stops at a NUL: Redis 7.0.15
 * left "PING\0\r\n" and "*1\r\n$4\0\r\n..." unanswered. */
static void test_resp_nul_hides_line_end(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	assert_parse_rc(&lim, "PING\0\r\n", 7, RESP_NEED_MORE);
	assert_parse_rc(&lim, "*1\r\n$4\0\r\nPING\r\n", 15, RESP_NEED_MORE);
	assert_parse_rc(&lim, "*1\0\r\n", 5, RESP_NEED_MORE);
	assert_parse_rc(&lim, "*1\r\n\0\r\n", 7, RESP_NEED_MORE);

	/* ... until the too-big limit rejects the request. */
	lim.max_inline_len = 16;
	char b[64];
	memset(b, 'x', sizeof(b));
	memcpy(b, "PING\0\r\n", 7);
	struct resp_parser p;
	resp_parser_init(&p, &lim);
	for (size_t k = 1; k <= 16; k++) {
		struct result r = parse_guarded(&p, b, k);
		assert_int_equal(r.rc, RESP_NEED_MORE);
		result_free(&r);
	}
	struct result r = parse_guarded(&p, b, 17);
	assert_int_equal(r.rc, RESP_ERROR);
	assert_string_equal(r.err, PE("too big inline request"));
	result_free(&r);
	resp_parser_free(&p);

	memcpy(b, "*1\r\n$4\0\r\n", 9);
	assert_parse_rc(&lim, b, 20, RESP_NEED_MORE);
	assert_parse_error(&lim, b, 21, PE("too big bulk count string"));
}

/* Redis skips the byte after a header's CR and the two bytes after a
 * payload without looking at them: "*1\rX$4\rXPING\r\n" is a PING there. */
static void test_resp_unchecked_line_end_bytes(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	static const char *const ping[] = { "PING", NULL };
	struct result r = parse_fresh(&lim, "*1\rX$4\rXPING\r\n", 14);
	assert_int_equal(r.rc, 14);
	assert_args(&r, ping);
	result_free(&r);
	r = parse_fresh(&lim, "*1\r\n$4\r\nPINGXY*1\r\n", 18);
	assert_int_equal(r.rc, 14);
	assert_args(&r, ping);
	result_free(&r);
	/* ... but they must have arrived. */
	assert_parse_rc(&lim, "*1\r\n$4\r\nPING\r", 13, RESP_NEED_MORE);
	assert_parse_rc(&lim, "*1\r", 3, RESP_NEED_MORE);
}

static void test_resp_binary_payload(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	const char in[] = "*2\r\n$3\r\nSET\r\n$8\r\n\0\r\n\r\n\0*$\r\n";
	size_t n = sizeof(in) - 1;
	struct result r = parse_fresh(&lim, in, n);
	assert_int_equal(r.rc, (int64_t)n);
	assert_int_equal(r.argc, 2);
	assert_int_equal(r.lens[1], 8);
	assert_memory_equal(r.args[1], "\0\r\n\r\n\0*$", 8);
	result_free(&r);

	/* Every byte value in one payload. */
	char payload[256];
	for (int i = 0; i < 256; i++)
		payload[i] = (char)i;
	struct kv_buf b = KV_BUF_INIT;
	kv_buf_append_str(&b, "*1\r\n$256\r\n");
	kv_buf_append(&b, payload, 256);
	kv_buf_append_str(&b, "\r\n");
	r = parse_fresh(&lim, b.data, b.len);
	assert_int_equal(r.rc, (int64_t)b.len);
	assert_int_equal(r.lens[0], 256);
	assert_memory_equal(r.args[0], payload, 256);
	result_free(&r);
	kv_buf_free(&b);
}

/* A resumed parse continues from the bytes measured before: changing them
 * afterwards goes unnoticed (a rescanning parser would see "$Z" and fail). */
static void test_resp_resume_does_not_rescan(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	char in[] = "*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n";
	size_t n = sizeof(in) - 1;
	struct resp_parser p;
	resp_parser_init(&p, &lim);
	struct result r = parse_guarded(&p, in, n - 3);
	assert_int_equal(r.rc, RESP_NEED_MORE);
	result_free(&r);
	memset(in, 'Z', 16);
	r = parse_guarded(&p, in, n);
	assert_int_equal(r.rc, (int64_t)n);
	static const char *const want[] = { "ZZZ", "bar", NULL };
	assert_args(&r, want);
	result_free(&r);
	resp_parser_free(&p);
}

/* A big bulk trickling in stays linear: a 64 MiB payload fed in 4 KiB steps
 * would take minutes if each call rescanned it. */
static void test_resp_big_bulk_trickle(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	size_t payload = 64u << 20;
	struct kv_buf b = KV_BUF_INIT;
	kv_buf_printf(&b, "*2\r\n$3\r\nSET\r\n$%zu\r\n", payload);
	size_t hdr = b.len;
	memset(kv_buf_reserve(&b, payload + 2), '\r', payload);
	b.len += payload;
	kv_buf_append(&b, "\r\n", 2);
	struct resp_parser p;
	resp_parser_init(&p, &lim);
	int argc;
	struct kv_slice *argv;
	const char *err;
	for (size_t k = 0; k < b.len; k += 4096)
		assert_int_equal(resp_parse(&p, b.data, k, &argc, &argv, &err), RESP_NEED_MORE);
	assert_int_equal(resp_parse(&p, b.data, b.len, &argc, &argv, &err), (int64_t)b.len);
	assert_int_equal(argc, 2);
	assert_ptr_equal(argv[1].ptr, b.data + hdr);
	assert_int_equal(argv[1].len, payload);
	resp_parser_free(&p);
	kv_buf_free(&b);
}

/* Many arguments: the arrays grow past their first size and are given back
 * before the next request. */
static void test_resp_many_arguments(void **state)
{
	(void)state;
	struct resp_limits lim = default_limits();
	struct kv_buf b = KV_BUF_INIT;
	int count = 5000;
	kv_buf_printf(&b, "*%d\r\n", count);
	for (int i = 0; i < count; i++)
		kv_buf_printf(&b, "$%d\r\n%d\r\n", snprintf(NULL, 0, "%d", i), i);
	struct resp_parser p;
	resp_parser_init(&p, &lim);
	struct result r = parse_guarded(&p, b.data, b.len);
	assert_int_equal(r.rc, (int64_t)b.len);
	assert_int_equal(r.argc, count);
	for (int i = 0; i < count; i += 777) {
		char want[16];
		snprintf(want, sizeof(want), "%d", i);
		assert_int_equal(r.lens[i], strlen(want));
		assert_memory_equal(r.args[i], want, r.lens[i]);
	}
	result_free(&r);
	r = parse_guarded(&p, "*1\r\n$4\r\nPING\r\n", 14);
	assert_int_equal(r.rc, 14);
	result_free(&r);
	resp_parser_free(&p);
	kv_buf_free(&b);
}

/* ------------------------------------------------------------- writers */

static void assert_buf(struct kv_buf *b, const char *want, size_t n)
{
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, want, n);
	kv_buf_clear(b);
}
#define ASSERT_BUF(b, lit) assert_buf((b), (lit), sizeof(lit) - 1)

static void test_resp_writers_exact(void **state)
{
	(void)state;
	struct kv_buf b = KV_BUF_INIT;
	resp_simple(&b, "PONG");
	ASSERT_BUF(&b, "+PONG\r\n");
	resp_ok(&b);
	ASSERT_BUF(&b, "+OK\r\n");
	resp_error(&b, RESP_ERR_SYNTAX);
	ASSERT_BUF(&b, "-ERR syntax error\r\n");
	resp_error(&b, "ERR a\r\nb\nc\r");
	ASSERT_BUF(&b, "-ERR a  b c \r\n");
	resp_errorf(&b, "ERR unknown command '%s'", "x\r\ny");
	ASSERT_BUF(&b, "-ERR unknown command 'x  y'\r\n");
	resp_int(&b, 0);
	ASSERT_BUF(&b, ":0\r\n");
	resp_int(&b, -1);
	ASSERT_BUF(&b, ":-1\r\n");
	resp_int(&b, INT64_MAX);
	ASSERT_BUF(&b, ":9223372036854775807\r\n");
	resp_int(&b, INT64_MIN);
	ASSERT_BUF(&b, ":-9223372036854775808\r\n");
	resp_bulk(&b, "a\0\r\nb", 5);
	ASSERT_BUF(&b, "$5\r\na\0\r\nb\r\n");
	resp_bulk(&b, NULL, 0);
	ASSERT_BUF(&b, "$0\r\n\r\n");
	resp_bulk_str(&b, "hello");
	ASSERT_BUF(&b, "$5\r\nhello\r\n");
	resp_bulk_int(&b, -42);
	ASSERT_BUF(&b, "$3\r\n-42\r\n");
	resp_bulk_int(&b, INT64_MIN);
	ASSERT_BUF(&b, "$20\r\n-9223372036854775808\r\n");
	resp_null(&b);
	ASSERT_BUF(&b, "$-1\r\n");
	resp_null_array(&b);
	ASSERT_BUF(&b, "*-1\r\n");
	resp_array(&b, 3);
	ASSERT_BUF(&b, "*3\r\n");
	resp_array(&b, 0);
	ASSERT_BUF(&b, "*0\r\n");
	kv_buf_free(&b);
}

static void test_resp_int_matches_printf(void **state)
{
	(void)state;
	struct kv_buf b = KV_BUF_INIT;
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Mix full-range values with small ones and powers of ten +-1. */
		int64_t v = (int64_t)x;
		if (i % 3 == 1)
			v >>= (x & 63);
		if (i % 3 == 2) {
			int64_t p10 = 1;
			for (int d = 0; d < (int)(x % 19); d++)
				p10 *= 10;
			v = p10 + (int64_t)(x >> 62) - 2;
		}
		char want[32];
		int n = snprintf(want, sizeof(want), ":%" PRId64 "\r\n", v);
		resp_int(&b, v);
		assert_buf(&b, want, (size_t)n);
	}
	kv_buf_free(&b);
}

static void test_resp_array_begin_end(void **state)
{
	(void)state;
	struct kv_buf b = KV_BUF_INIT;
	kv_buf_append_str(&b, "prefix");
	size_t outer = resp_array_begin(&b);
	resp_bulk_str(&b, "a");
	size_t inner = resp_array_begin(&b);
	resp_int(&b, 1);
	resp_int(&b, 2);
	resp_array_end(&b, inner, 2);
	size_t empty = resp_array_begin(&b);
	resp_array_end(&b, empty, 0);
	resp_array_end(&b, outer, 3);
	ASSERT_BUF(&b, "prefix*3\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n*0\r\n");

	/* A long body that forces the buffer to move while it is written. */
	size_t mark = resp_array_begin(&b);
	for (int i = 0; i < 100000; i++)
		resp_int(&b, i % 10);
	resp_array_end(&b, mark, 100000);
	assert_memory_equal(b.data, "*100000\r\n:0\r\n:1\r\n", 17);
	assert_int_equal(b.len, 9 + 100000 * 4);
	kv_buf_clear(&b);

	mark = resp_array_begin(&b);
	resp_array_end(&b, mark, -1);
	ASSERT_BUF(&b, "*-1\r\n");
	kv_buf_free(&b);
}

/* The typed writers: RESP2's rendering (what Redis sends a RESP2 client for
 * the same reply) and RESP3's frame, from the buffer's protocol. */
static void test_resp_typed_writers_both_protocols(void **state)
{
	(void)state;
	struct kv_buf b = KV_BUF_INIT;
	for (int pass = 0; pass < 2; pass++) {
		/* 0 (a fresh buffer) and 2 both mean RESP2. */
		assert_int_equal(resp_set_proto(&b, pass ? RESP_PROTO_2 : 0), 0);
		resp_map(&b, 2);
		ASSERT_BUF(&b, "*4\r\n");
		resp_set(&b, 3);
		ASSERT_BUF(&b, "*3\r\n");
		resp_push(&b, 3);
		ASSERT_BUF(&b, "*3\r\n");
		resp_pair(&b);
		ASSERT_BUF(&b, "");
		resp_null(&b);
		ASSERT_BUF(&b, "$-1\r\n");
		resp_null_array(&b);
		ASSERT_BUF(&b, "*-1\r\n");
		resp_double(&b, 1.5);
		ASSERT_BUF(&b, "$3\r\n1.5\r\n");
		resp_double(&b, 0.1);
		ASSERT_BUF(&b, "$19\r\n0.10000000000000001\r\n");
		resp_double(&b, -INFINITY);
		ASSERT_BUF(&b, "$4\r\n-inf\r\n");
		resp_double(&b, 3);
		ASSERT_BUF(&b, "$1\r\n3\r\n");
		resp_double_text(&b, "2.5", 3);
		ASSERT_BUF(&b, "$3\r\n2.5\r\n");
		resp_bool(&b, true);
		ASSERT_BUF(&b, ":1\r\n");
		resp_bool(&b, false);
		ASSERT_BUF(&b, ":0\r\n");
		resp_bignum(&b, "12345678901234567890", 20);
		ASSERT_BUF(&b, "$20\r\n12345678901234567890\r\n");
		resp_verbatim(&b, "txt", "a\r\nb", 4);
		ASSERT_BUF(&b, "$4\r\na\r\nb\r\n");
		/* Untyped writers are the same in both protocols. */
		resp_array(&b, 2);
		resp_int(&b, 1);
		resp_bulk_str(&b, "x");
		ASSERT_BUF(&b, "*2\r\n:1\r\n$1\r\nx\r\n");
	}
	assert_int_equal(resp_set_proto(&b, RESP_PROTO_3), RESP_PROTO_2);
	assert_true(resp_is3(&b));
	resp_map(&b, 2);
	ASSERT_BUF(&b, "%2\r\n");
	resp_set(&b, 3);
	ASSERT_BUF(&b, "~3\r\n");
	resp_push(&b, 3);
	ASSERT_BUF(&b, ">3\r\n");
	resp_attribute(&b, 1);
	ASSERT_BUF(&b, "|1\r\n");
	resp_pair(&b);
	ASSERT_BUF(&b, "*2\r\n");
	resp_null(&b);
	ASSERT_BUF(&b, "_\r\n");
	resp_null_array(&b);
	ASSERT_BUF(&b, "_\r\n");
	resp_double(&b, 1.5);
	ASSERT_BUF(&b, ",1.5\r\n");
	resp_double(&b, INFINITY);
	ASSERT_BUF(&b, ",inf\r\n");
	resp_double(&b, -0.0);
	ASSERT_BUF(&b, ",-0\r\n");
	resp_double_text(&b, "2.5", 3);
	ASSERT_BUF(&b, ",2.5\r\n");
	resp_bool(&b, true);
	ASSERT_BUF(&b, "#t\r\n");
	resp_bool(&b, false);
	ASSERT_BUF(&b, "#f\r\n");
	resp_bignum(&b, "12345678901234567890", 20);
	ASSERT_BUF(&b, "(12345678901234567890\r\n");
	resp_verbatim(&b, "txt", "a\r\nb", 4);
	ASSERT_BUF(&b, "=8\r\ntxt:a\r\nb\r\n");
	resp_array(&b, 2);
	ASSERT_BUF(&b, "*2\r\n");
	resp_error(&b, RESP_ERR_SYNTAX);
	ASSERT_BUF(&b, "-ERR syntax error\r\n");
	/* kv_buf_free forgets the protocol with the bytes. */
	kv_buf_free(&b);
	assert_int_equal(b.proto, 0);
}

/* Deferred map and set headers, nested in an array, in both protocols. */
static void test_resp_map_set_begin_end(void **state)
{
	(void)state;
	struct kv_buf b = KV_BUF_INIT;
	for (int proto = RESP_PROTO_2; proto <= RESP_PROTO_3; proto++) {
		resp_set_proto(&b, (unsigned char)proto);
		size_t outer = resp_array_begin(&b);
		size_t map = resp_array_begin(&b);
		resp_bulk_str(&b, "k");
		resp_int(&b, 1);
		resp_map_end(&b, map, 1);
		size_t set = resp_array_begin(&b);
		resp_bulk_str(&b, "a");
		resp_bulk_str(&b, "b");
		resp_set_end(&b, set, 2);
		resp_array_end(&b, outer, 2);
		if (proto == RESP_PROTO_2)
			ASSERT_BUF(&b, "*2\r\n*2\r\n$1\r\nk\r\n:1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
		else
			ASSERT_BUF(&b, "*2\r\n%1\r\n$1\r\nk\r\n:1\r\n~2\r\n$1\r\na\r\n$1\r\nb\r\n");
	}
	kv_buf_free(&b);
}

/* ---------------------------------------------------------------- fuzz */

static uint64_t fuzz_rng;

static uint64_t fuzz_next(void)
{
	fuzz_rng ^= fuzz_rng << 13;
	fuzz_rng ^= fuzz_rng >> 7;
	fuzz_rng ^= fuzz_rng << 17;
	return fuzz_rng;
}

/* Pieces that make near-valid requests likely. */
static const char *const fuzz_pieces[] = {
	"*", "$", "\r\n", "\r", "\n", "0", "1", "2", "3", "-1", "-", "10", "99",
	"*2\r\n", "*1\r\n", "$3\r\n", "$0\r\n", "foo", "\"", "'", "\\", "\\x4", "\\x41",
	" ", "\t", "\v", "\0", "PING", "SET k v", "abcdefghijklmnopqrstuvwxyz",
};

static size_t fuzz_input(char *out, size_t cap)
{
	size_t n = 0;
	size_t pieces = fuzz_next() % 24;
	for (size_t i = 0; i < pieces; i++) {
		uint64_t r = fuzz_next();
		if (r % 5 == 0) {
			if (n < cap)
				out[n++] = (char)(r >> 8);
			continue;
		}
		const char *piece = fuzz_pieces[(r >> 8) % KV_ARRAY_LEN(fuzz_pieces)];
		size_t pl = piece[0] ? strlen(piece) : 1;
		if (n + pl > cap)
			break;
		memcpy(out + n, piece, pl);
		n += pl;
	}
	return n;
}

/* Random inputs must never crash or over-read, and feeding a parser growing
 * prefixes must give, at every step, what a fresh parser says about that
 * prefix.  Small limits bring the limit paths into reach. */
static void test_resp_fuzz(void **state)
{
	(void)state;
	const char *env = getenv("KEVY_FUZZ_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	print_message("test_resp_fuzz seed %" PRIu64 " (KEVY_FUZZ_SEED to replay)\n", seed);
	fuzz_rng = seed * 2654435761u + 1;
	struct resp_limits lim = { .max_bulk_len = 16, .max_multibulk_len = 6,
				   .max_inline_len = 24 };
	char in[160];
	/* Outcomes seen for whole inputs: requests, errors, incomplete. */
	unsigned seen[3] = { 0, 0, 0 };
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = fuzz_input(in, sizeof(in));
		struct resp_parser p;
		resp_parser_init(&p, &lim);
		int auth = (int)(fuzz_next() & 1);
		resp_parser_set_authenticated(&p, auth);
		for (size_t k = 0; k <= n; k++) {
			struct result inc = parse_guarded(&p, in, k);
			struct resp_parser fresh;
			resp_parser_init(&fresh, &lim);
			resp_parser_set_authenticated(&fresh, auth);
			struct result ref = parse_guarded(&fresh, in, k);
			resp_parser_free(&fresh);
			if (!result_equal(&inc, &ref))
				fail_msg("seed %" PRIu64 " iter %d prefix %zu: incremental %" PRId64
					 " fresh %" PRId64, seed, iter, k, inc.rc, ref.rc);
			bool done = inc.rc != RESP_NEED_MORE;
			if (done || k == n)
				seen[inc.rc > 0 ? 0 : inc.rc < 0 ? 1 : 2]++;
			result_free(&inc);
			result_free(&ref);
			if (done)
				break;
		}
		resp_parser_free(&p);
	}
	print_message("test_resp_fuzz: %u requests, %u errors, %u incomplete\n",
		      seen[0], seen[1], seen[2]);
	assert_true(seen[0] > 1000 && seen[1] > 1000 && seen[2] > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resp_limits_default),
		cmocka_unit_test(test_resp_every_prefix_needs_more),
		cmocka_unit_test(test_resp_split_at_every_byte),
		cmocka_unit_test(test_resp_reparse_same_bytes),
		cmocka_unit_test(test_resp_pipeline_of_1000),
		cmocka_unit_test(test_resp_inline_quoting),
		cmocka_unit_test(test_resp_inline_line_endings),
		cmocka_unit_test(test_resp_empty_requests),
		cmocka_unit_test(test_resp_errors_exact),
		cmocka_unit_test(test_resp_too_big_lines),
		cmocka_unit_test(test_resp_multibulk_and_bulk_limits),
		cmocka_unit_test(test_resp_unauthenticated_limits),
		cmocka_unit_test(test_resp_nul_hides_line_end),
		cmocka_unit_test(test_resp_unchecked_line_end_bytes),
		cmocka_unit_test(test_resp_binary_payload),
		cmocka_unit_test(test_resp_resume_does_not_rescan),
		cmocka_unit_test(test_resp_big_bulk_trickle),
		cmocka_unit_test(test_resp_many_arguments),
		cmocka_unit_test(test_resp_writers_exact),
		cmocka_unit_test(test_resp_int_matches_printf),
		cmocka_unit_test(test_resp_array_begin_end),
		cmocka_unit_test(test_resp_typed_writers_both_protocols),
		cmocka_unit_test(test_resp_map_set_begin_end),
		cmocka_unit_test(test_resp_split_word_matches_inline),
		cmocka_unit_test(test_resp_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
