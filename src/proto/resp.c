/*
 * resp.c - RESP2 request parser and reply writers (see resp.h).
 *
 * The parser follows what Redis 7.0 (networking.c) does with the same bytes,
 * including its quirks, because clients and tests compare kevy with Redis
 * byte for byte.  It is not a general RESP reader: it reads requests only
 * (multibulk arrays of bulk strings, or inline lines), never replies or RESP3.
 *
 * The request grammar, as Redis 7.0.15 applies it (each rule was checked
 * against a live redis-server; every error closes the connection):
 *
 *   A request whose first byte is '*' is multibulk; anything else is inline.
 *
 *   Inline: bytes up to the first '\n'; one '\r' right before it is dropped.
 *   The line is split into words by Redis's sdssplitargs rules (see
 *   resp_split_inline).  No '\n' yet and more than max_inline_len bytes
 *   buffered: "too big inline request".  Bad quoting: "unbalanced quotes in
 *   request".  A blank line is a request with no arguments.
 *
 *   Multibulk: "*<count>\r" then any one byte (Redis skips the byte after the
 *   '\r' without checking that it is '\n').  <count> must be a number in
 *   Redis's string2ll format (resp_string2ll) and at most max_multibulk_len,
 *   else "invalid multibulk length"; a count <= 0 is an empty request.  Then
 *   <count> times "$<len>\r" + one byte + <len> payload bytes + two more bytes
 *   that Redis skips unchecked (a payload followed by "XY" instead of CRLF is
 *   accepted).  A header line not starting with '$' is "expected '$', got
 *   'c'" (c is the first byte, CR or LF shown as a space); <len> not a
 *   number, negative or above max_bulk_len is "invalid bulk length".  No '\r'
 *   yet and more than max_inline_len bytes buffered from the header's start:
 *   "too big mbulk count string" / "too big bulk count string".
 *
 *   Redis looks for line ends with strchr() over its NUL-terminated query
 *   buffer, so a NUL byte before the '\n' (inline) or '\r' (header) hides the
 *   line end for good: the request then waits until the too-big limit
 *   rejects it.  kevy does the same.  Payload bytes are never searched.
 *
 *   Unauthenticated clients: a count above 10 is "unauthenticated multibulk
 *   length", a bulk above 16384 bytes "unauthenticated bulk length" (checked
 *   after the generic checks above).  Inline requests have no such limit.
 */
#include "proto/resp.h"
#include "base/kv.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
	RESP_ST_START = 0,   /* no byte of the request examined yet */
	RESP_ST_INLINE,      /* looking for the '\n' that ends an inline request */
	RESP_ST_MB_COUNT,    /* looking for the '\r' that ends "*<count>" */
	RESP_ST_BULK_LEN,    /* looking for the '\r' that ends "$<len>" */
	RESP_ST_BULK_DATA,   /* waiting for bulk_len payload bytes and two more */
};

/* p->scan value once a NUL byte hid the end of the current line. */
#define RESP_SCAN_BLOCKED SIZE_MAX
/* Argument arrays above this capacity are given back between requests. */
#define RESP_ARGV_KEEP 1024
/* Redis's limits for clients that still have to AUTH. */
#define RESP_UNAUTH_MAX_ARGS 10
#define RESP_UNAUTH_MAX_BULK 16384
/* Longest int64 in decimal, sign included: "-9223372036854775808". */
#define RESP_INT64_MAX_CHARS 20
/* string2ll rejects strings of this length or more (LONG_STR_SIZE). */
#define RESP_LL_MAX_CHARS 21

#define RESP_PROTO_ERR(what) "ERR Protocol error: " what

void resp_limits_default(struct resp_limits *lim)
{
	lim->max_bulk_len = 512ll * 1024 * 1024;
	lim->max_multibulk_len = INT_MAX;
	lim->max_inline_len = 64 * 1024;
}

/* ---------------------------------------------------------------- parser */

void resp_parser_init(struct resp_parser *p, const struct resp_limits *lim)
{
	memset(p, 0, sizeof(*p));
	kv_buf_init(&p->inline_store);
	p->state = RESP_ST_START;
	p->bulk_len = -1;
	p->authenticated = 1;
	p->lim = lim;
}

static void resp_free_args(struct resp_parser *p)
{
	free(p->arg_off);
	free(p->arg_len);
	free(p->argv);
	p->arg_off = NULL;
	p->arg_len = NULL;
	p->argv = NULL;
	p->argv_cap = 0;
}

void resp_parser_free(struct resp_parser *p)
{
	resp_free_args(p);
	kv_buf_free(&p->inline_store);
}

void resp_parser_set_limits(struct resp_parser *p, const struct resp_limits *lim)
{
	p->lim = lim;
}

void resp_parser_set_authenticated(struct resp_parser *p, int authenticated)
{
	p->authenticated = authenticated != 0;
}

/* Forget the request in progress.  The argument arrays stay, because the
 * argv of a request just returned must survive until the next call. */
static void resp_reset(struct resp_parser *p)
{
	p->state = RESP_ST_START;
	p->argc = 0;
	p->multibulk_left = 0;
	p->bulk_len = -1;
	p->pos = 0;
	p->scan = 0;
}

/* Start a new request: now the previous argv may go, and memory a huge
 * request needed is returned rather than kept for the connection's life. */
static void resp_begin(struct resp_parser *p, char first)
{
	resp_reset(p);
	if (p->argv_cap > RESP_ARGV_KEEP)
		resp_free_args(p);
	p->state = first == '*' ? RESP_ST_MB_COUNT : RESP_ST_INLINE;
}

static void resp_grow_args(struct resp_parser *p, int64_t hint)
{
	int64_t cap = p->argv_cap ? (int64_t)p->argv_cap * 2 : 8;
	if (cap < hint)
		cap = hint;
	if (cap > INT_MAX)
		cap = INT_MAX;
	kv_assert(cap > p->argc);
	p->arg_off = kv_realloc(p->arg_off, (size_t)cap * sizeof(*p->arg_off));
	p->arg_len = kv_realloc(p->arg_len, (size_t)cap * sizeof(*p->arg_len));
	p->argv = kv_realloc(p->argv, (size_t)cap * sizeof(*p->argv));
	p->argv_cap = (int)cap;
}

static void resp_push_arg(struct resp_parser *p, size_t off, size_t len)
{
	if (p->argc == p->argv_cap)
		resp_grow_args(p, 0);
	p->arg_off[p->argc] = off;
	p->arg_len[p->argc] = len;
	p->argc++;
}

/*
 * Redis's string2ll: an optional '-', then either a lone "0" or a digit 1-9
 * followed by digits, fewer than 21 characters, no overflow.  Nothing else
 * ("+1", " 1", "01", "-0", "") is a number, and lengths must use this form.
 */
static bool resp_string2ll(const char *s, size_t n, int64_t *out)
{
	if (n == 0 || n >= RESP_LL_MAX_CHARS)
		return false;
	if (n == 1 && s[0] == '0') {
		*out = 0;
		return true;
	}
	bool neg = s[0] == '-';
	size_t i = neg;
	if (i == n || s[i] < '1' || s[i] > '9')
		return false;
	uint64_t v = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)v;
	}
	return true;
}

/*
 * Find the byte `term` ending the line being read, the way Redis's strchr()
 * does: a NUL before it hides it for good.  Resumes where the last call
 * stopped, so a line trickling in byte by byte is scanned once.  Returns the
 * offset of `term`, or -1 when it is not (yet) visible.
 */
static int64_t resp_find_line_end(struct resp_parser *p, const char *buf, size_t len,
				  char term)
{
	if (p->scan == RESP_SCAN_BLOCKED)
		return -1;
	kv_assert(p->scan <= len);
	const char *from = buf + p->scan;
	size_t avail = len - p->scan;
	const char *t = memchr(from, term, avail);
	size_t upto = t ? (size_t)(t - from) : avail;
	if (upto && memchr(from, '\0', upto)) {
		p->scan = RESP_SCAN_BLOCKED;
		return -1;
	}
	if (!t) {
		p->scan = len;
		return -1;
	}
	/* Stay on the terminator: a header also needs the byte after it. */
	p->scan = (size_t)(t - buf);
	return (int64_t)p->scan;
}

static int64_t resp_fail(struct resp_parser *p, const char *msg, const char **errmsg)
{
	*errmsg = msg;
	resp_reset(p);
	return RESP_ERROR;
}

/* ------------------------------------------------------------ inline */

/* C-locale isspace(): what sdssplitargs skips between words. */
static bool resp_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool resp_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned resp_hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	return (unsigned)(c - 'A' + 10);
}

/* A closing quote must end the word: what follows is whitespace or nothing. */
static bool resp_quote_closes(const char *s, size_t n, size_t i)
{
	return i + 1 == n || resp_isspace(s[i + 1]);
}

/*
 * One word in double quotes, s[*i] just after the opening quote.  Escapes:
 * \xHH (two hex digits), \n \r \t \b \a, and a backslash before any other
 * byte stands for that byte.  Returns false on a missing or misplaced close.
 */
static bool resp_word_dquoted(struct kv_buf *out, const char *s, size_t n, size_t *i)
{
	for (size_t k = *i; k < n; k++) {
		char c = s[k];
		if (c == '\\' && k + 3 < n && s[k + 1] == 'x' &&
		    resp_is_hex(s[k + 2]) && resp_is_hex(s[k + 3])) {
			kv_buf_append_char(out, (char)(resp_hex_val(s[k + 2]) * 16 +
						       resp_hex_val(s[k + 3])));
			k += 3;
		} else if (c == '\\' && k + 1 < n) {
			k++;
			switch (s[k]) {
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'b': c = '\b'; break;
			case 'a': c = '\a'; break;
			default: c = s[k]; break;
			}
			kv_buf_append_char(out, c);
		} else if (c == '"') {
			if (!resp_quote_closes(s, n, k))
				return false;
			*i = k + 1;
			return true;
		} else {
			kv_buf_append_char(out, c);
		}
	}
	return false;
}

/* One word in single quotes: only \' is an escape. */
static bool resp_word_squoted(struct kv_buf *out, const char *s, size_t n, size_t *i)
{
	for (size_t k = *i; k < n; k++) {
		if (s[k] == '\\' && k + 1 < n && s[k + 1] == '\'') {
			kv_buf_append_char(out, '\'');
			k++;
		} else if (s[k] == '\'') {
			if (!resp_quote_closes(s, n, k))
				return false;
			*i = k + 1;
			return true;
		} else {
			kv_buf_append_char(out, s[k]);
		}
	}
	return false;
}

/*
 * One word starting at s[*i] (not whitespace).  Unquoted bytes are copied
 * until ' ', '\t', '\r' or '\n' (not '\v' or '\f': sdssplitargs skips those
 * only between words).  A quote, even in mid-word, switches to quoted mode
 * and its closing quote ends the word: foo"bar baz" is one word.
 */
static bool resp_word(struct kv_buf *out, const char *s, size_t n, size_t *i)
{
	size_t k = *i;
	while (k < n && s[k] != ' ' && s[k] != '\t' && s[k] != '\r' && s[k] != '\n' &&
	       s[k] != '"' && s[k] != '\'')
		k++;
	kv_buf_append(out, s + *i, k - *i);
	*i = k;
	if (k == n || (s[k] != '"' && s[k] != '\''))
		return true;
	*i = k + 1;
	return s[k] == '"' ? resp_word_dquoted(out, s, n, i) : resp_word_squoted(out, s, n, i);
}

int resp_split_word(struct kv_buf *out, const char *s, size_t n, size_t *i)
{
	while (*i < n && resp_isspace(s[*i]))
		(*i)++;
	if (*i == n)
		return 0;
	return resp_word(out, s, n, i) ? 1 : -1;
}

/* Split an inline line (no NUL inside) into p's arguments.  Returns NULL or
 * the protocol error. */
static const char *resp_split_inline(struct resp_parser *p, const char *s, size_t n)
{
	struct kv_buf *out = &p->inline_store;
	kv_buf_clear(out);
	kv_buf_shrink(out, p->lim->max_inline_len);
	/* Keep data non-NULL so that empty words get a valid pointer. */
	kv_buf_reserve(out, 0);
	size_t i = 0;
	for (;;) {
		while (i < n && resp_isspace(s[i]))
			i++;
		if (i == n)
			return NULL;
		/* Only a line of gigabytes has this many words; argc is an int. */
		if (p->argc == INT_MAX)
			return RESP_PROTO_ERR("too big inline request");
		size_t start = out->len;
		if (!resp_word(out, s, n, &i))
			return RESP_PROTO_ERR("unbalanced quotes in request");
		resp_push_arg(p, start, out->len - start);
	}
}

static int64_t resp_parse_inline(struct resp_parser *p, const char *buf, size_t len,
				 const char **errmsg)
{
	int64_t nl = resp_find_line_end(p, buf, len, '\n');
	if (nl < 0) {
		if (len > p->lim->max_inline_len)
			return resp_fail(p, RESP_PROTO_ERR("too big inline request"), errmsg);
		return RESP_NEED_MORE;
	}
	size_t end = (size_t)nl;
	if (end > 0 && buf[end - 1] == '\r')
		end--;
	const char *err = resp_split_inline(p, buf, end);
	if (err)
		return resp_fail(p, err, errmsg);
	return nl + 1;
}

/* --------------------------------------------------------- multibulk */

/*
 * Read the header line at p->pos ("*<count>" or "$<len>"): returns 1 once
 * its '\r' and the byte after it arrived, with *number_ok telling whether
 * the text between the type byte and the '\r' is a string2ll number (then
 * in *num); RESP_NEED_MORE while incomplete; RESP_ERROR when no '\r' is in
 * sight after max_inline_len bytes (the caller names the "too big" error).
 */
static int resp_read_header(struct resp_parser *p, const char *buf, size_t len,
			    int64_t *num, bool *number_ok)
{
	int64_t cr = resp_find_line_end(p, buf, len, '\r');
	if (cr < 0)
		return len - p->pos > p->lim->max_inline_len ? RESP_ERROR : RESP_NEED_MORE;
	/* Redis wants one byte after the '\r' and skips it without a look. */
	if ((size_t)cr + 2 > len)
		return RESP_NEED_MORE;
	*number_ok = resp_string2ll(buf + p->pos + 1, (size_t)cr - p->pos - 1, num);
	return 1;
}

/* Step over a header read by resp_read_header (p->scan is on its '\r'). */
static void resp_header_done(struct resp_parser *p)
{
	p->pos = p->scan + 2;
	p->scan = p->pos;
}

static int64_t resp_read_count(struct resp_parser *p, const char *buf, size_t len,
			       const char **errmsg)
{
	int64_t count = 0;
	bool ok = false;
	int rc = resp_read_header(p, buf, len, &count, &ok);
	if (rc == RESP_ERROR)
		return resp_fail(p, RESP_PROTO_ERR("too big mbulk count string"), errmsg);
	if (rc == RESP_NEED_MORE)
		return RESP_NEED_MORE;
	int64_t max = KV_MIN(p->lim->max_multibulk_len, (int64_t)INT_MAX);
	if (!ok || count > max)
		return resp_fail(p, RESP_PROTO_ERR("invalid multibulk length"), errmsg);
	if (count > RESP_UNAUTH_MAX_ARGS && !p->authenticated)
		return resp_fail(p, RESP_PROTO_ERR("unauthenticated multibulk length"), errmsg);
	resp_header_done(p);
	p->multibulk_left = count > 0 ? count : 0;
	if (p->multibulk_left > p->argv_cap)
		resp_grow_args(p, KV_MIN(p->multibulk_left, RESP_ARGV_KEEP));
	return 1;
}

/* "expected '$', got 'c'": Redis shows CR and LF as spaces so that its
 * reply stays one line; every other byte goes out as it is. */
static int64_t resp_fail_expected_dollar(struct resp_parser *p, char got,
					 const char **errmsg)
{
	static const char prefix[] = RESP_PROTO_ERR("expected '$', got '");
	_Static_assert(sizeof(prefix) + 2 <= sizeof(p->errbuf), "errbuf too small");
	size_t n = sizeof(prefix) - 1;
	memcpy(p->errbuf, prefix, n);
	p->errbuf[n++] = got == '\r' || got == '\n' ? ' ' : got;
	p->errbuf[n++] = '\'';
	p->errbuf[n] = '\0';
	return resp_fail(p, p->errbuf, errmsg);
}

static int64_t resp_read_bulk_len(struct resp_parser *p, const char *buf, size_t len,
				  const char **errmsg)
{
	int64_t blen = 0;
	bool ok = false;
	int rc = resp_read_header(p, buf, len, &blen, &ok);
	if (rc == RESP_ERROR)
		return resp_fail(p, RESP_PROTO_ERR("too big bulk count string"), errmsg);
	if (rc == RESP_NEED_MORE)
		return RESP_NEED_MORE;
	if (buf[p->pos] != '$')
		return resp_fail_expected_dollar(p, buf[p->pos], errmsg);
	if (!ok || blen < 0 || blen > p->lim->max_bulk_len)
		return resp_fail(p, RESP_PROTO_ERR("invalid bulk length"), errmsg);
	if (blen > RESP_UNAUTH_MAX_BULK && !p->authenticated)
		return resp_fail(p, RESP_PROTO_ERR("unauthenticated bulk length"), errmsg);
	resp_header_done(p);
	p->bulk_len = blen;
	return 1;
}

static int64_t resp_parse_multibulk(struct resp_parser *p, const char *buf, size_t len,
				    const char **errmsg)
{
	int64_t rc;
	if (p->state == RESP_ST_MB_COUNT) {
		if ((rc = resp_read_count(p, buf, len, errmsg)) <= 0)
			return rc;
		p->state = RESP_ST_BULK_LEN;
	}
	while (p->multibulk_left > 0) {
		if (p->state == RESP_ST_BULK_LEN) {
			if ((rc = resp_read_bulk_len(p, buf, len, errmsg)) <= 0)
				return rc;
			p->state = RESP_ST_BULK_DATA;
		}
		/* The payload is measured, never searched; the two bytes after it
		 * are skipped unchecked, as Redis does. */
		if (len - p->pos < (uint64_t)p->bulk_len + 2)
			return RESP_NEED_MORE;
		resp_push_arg(p, p->pos, (size_t)p->bulk_len);
		p->pos += (size_t)p->bulk_len + 2;
		p->scan = p->pos;
		p->bulk_len = -1;
		p->multibulk_left--;
		p->state = RESP_ST_BULK_LEN;
	}
	return (int64_t)p->pos;
}

/* ------------------------------------------------------------ driver */

int64_t resp_parse(struct resp_parser *p, const char *buf, size_t len,
		   int *argc, struct kv_slice **argv, const char **errmsg)
{
	*argc = 0;
	*argv = NULL;
	*errmsg = NULL;
	if (p->state == RESP_ST_START) {
		if (len == 0)
			return RESP_NEED_MORE;
		resp_begin(p, buf[0]);
	}
	/* Resuming needs the bytes measured last time (a caller's contract). */
	kv_assert(len >= p->pos);
	int64_t rc = p->state == RESP_ST_INLINE ? resp_parse_inline(p, buf, len, errmsg)
						: resp_parse_multibulk(p, buf, len, errmsg);
	if (rc <= 0)
		return rc;
	const char *base = p->state == RESP_ST_INLINE ? p->inline_store.data : buf;
	for (int i = 0; i < p->argc; i++) {
		p->argv[i].ptr = base + p->arg_off[i];
		p->argv[i].len = p->arg_len[i];
	}
	*argc = p->argc;
	*argv = p->argc ? p->argv : NULL;
	resp_reset(p);
	return rc;
}

/* ----------------------------------------------------------- writers */

static const char resp_digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324"
	"25262728293031323334353637383940414243444546474849"
	"50515253545556575859606162636465666768697071727374"
	"75767778798081828384858687888990919293949596979899";

static unsigned resp_u64_digits(uint64_t v)
{
	unsigned n = 1;
	for (;;) {
		if (v < 10)
			return n;
		if (v < 100)
			return n + 1;
		if (v < 1000)
			return n + 2;
		if (v < 10000)
			return n + 3;
		v /= 10000;
		n += 4;
	}
}

/* Decimal v at dst (room for RESP_INT64_MAX_CHARS); returns its length.
 * Two digits per division: replies are full of lengths and counts. */
static size_t resp_fmt_i64(char *dst, int64_t v)
{
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t sign = v < 0;
	size_t n = sign + resp_u64_digits(u);
	char *p = dst + n;
	while (u >= 100) {
		size_t i = (size_t)(u % 100) * 2;
		u /= 100;
		*--p = resp_digit_pairs[i + 1];
		*--p = resp_digit_pairs[i];
	}
	if (u >= 10) {
		*--p = resp_digit_pairs[u * 2 + 1];
		*--p = resp_digit_pairs[u * 2];
	} else {
		*--p = (char)('0' + u);
	}
	if (sign)
		*--p = '-';
	return n;
}

/* "<type><v>\r\n" at dst; returns its length (at most 23). */
static size_t resp_fmt_header(char *dst, char type, int64_t v)
{
	dst[0] = type;
	size_t n = 1 + resp_fmt_i64(dst + 1, v);
	dst[n++] = '\r';
	dst[n++] = '\n';
	return n;
}

#define RESP_HEADER_MAX (1 + RESP_INT64_MAX_CHARS + 2)

static void resp_header(struct kv_buf *b, char type, int64_t v)
{
	char *dst = kv_buf_reserve(b, RESP_HEADER_MAX);
	b->len += resp_fmt_header(dst, type, v);
}

static void resp_line(struct kv_buf *b, char type, const char *s, size_t n)
{
	char *dst = kv_buf_reserve(b, n + 3);
	dst[0] = type;
	memcpy(dst + 1, s, n);
	dst[n + 1] = '\r';
	dst[n + 2] = '\n';
	b->len += n + 3;
}

void resp_simple(struct kv_buf *b, const char *s)
{
	resp_line(b, '+', s, strlen(s));
}

void resp_ok(struct kv_buf *b)
{
	kv_buf_append(b, "+OK\r\n", 5);
}

/* A CR or LF would end the error line early and desynchronise the client. */
static void resp_blank_newlines(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n')
			s[i] = ' ';
}

void resp_error(struct kv_buf *b, const char *msg)
{
	size_t n = strlen(msg);
	resp_line(b, '-', msg, n);
	resp_blank_newlines(b->data + b->len - n - 2, n);
}

void resp_errorf(struct kv_buf *b, const char *fmt, ...)
{
	kv_buf_append_char(b, '-');
	size_t start = b->len;
	va_list ap;
	va_start(ap, fmt);
	kv_buf_vprintf(b, fmt, ap);
	va_end(ap);
	resp_blank_newlines(b->data + start, b->len - start);
	kv_buf_append(b, "\r\n", 2);
}

void resp_int(struct kv_buf *b, int64_t v)
{
	resp_header(b, ':', v);
}

void resp_bulk(struct kv_buf *b, const void *p, size_t n)
{
	char *dst = kv_buf_reserve(b, RESP_HEADER_MAX + n + 2);
	size_t h = resp_fmt_header(dst, '$', (int64_t)n);
	if (n)
		memcpy(dst + h, p, n);
	dst[h + n] = '\r';
	dst[h + n + 1] = '\n';
	b->len += h + n + 2;
}

void resp_bulk_str(struct kv_buf *b, const char *s)
{
	resp_bulk(b, s, strlen(s));
}

void resp_bulk_int(struct kv_buf *b, int64_t v)
{
	char digits[RESP_INT64_MAX_CHARS];
	size_t n = resp_fmt_i64(digits, v);
	resp_bulk(b, digits, n);
}

void resp_null(struct kv_buf *b)
{
	if (resp_is3(b))
		kv_buf_append(b, "_\r\n", 3);
	else
		kv_buf_append(b, "$-1\r\n", 5);
}

void resp_null_array(struct kv_buf *b)
{
	if (resp_is3(b))
		kv_buf_append(b, "_\r\n", 3);
	else
		kv_buf_append(b, "*-1\r\n", 5);
}

void resp_array(struct kv_buf *b, int64_t n)
{
	resp_header(b, '*', n);
}

void resp_map(struct kv_buf *b, int64_t n)
{
	if (resp_is3(b))
		resp_header(b, '%', n);
	else
		resp_header(b, '*', n * 2);
}

void resp_set(struct kv_buf *b, int64_t n)
{
	resp_header(b, resp_is3(b) ? '~' : '*', n);
}

void resp_push(struct kv_buf *b, int64_t n)
{
	resp_header(b, resp_is3(b) ? '>' : '*', n);
}

void resp_attribute(struct kv_buf *b, int64_t n)
{
	kv_assert(resp_is3(b));
	resp_header(b, '|', n);
}

void resp_pair(struct kv_buf *b)
{
	if (resp_is3(b))
		kv_buf_append(b, "*2\r\n", 4);
}

void resp_double_text(struct kv_buf *b, const char *s, size_t n)
{
	if (resp_is3(b))
		resp_line(b, ',', s, n);
	else
		resp_bulk(b, s, n);
}

void resp_double(struct kv_buf *b, double v)
{
	char buf[64];
	int n;
	if (isinf(v))
		n = snprintf(buf, sizeof(buf), "%s", v > 0 ? "inf" : "-inf");
	else
		n = snprintf(buf, sizeof(buf), "%.17g", v);
	resp_double_text(b, buf, (size_t)n);
}

void resp_bool(struct kv_buf *b, bool v)
{
	if (resp_is3(b))
		kv_buf_append(b, v ? "#t\r\n" : "#f\r\n", 4);
	else
		kv_buf_append(b, v ? ":1\r\n" : ":0\r\n", 4);
}

void resp_bignum(struct kv_buf *b, const char *s, size_t n)
{
	if (resp_is3(b))
		resp_line(b, '(', s, n);
	else
		resp_bulk(b, s, n);
}

void resp_verbatim(struct kv_buf *b, const char *fmt, const void *s, size_t n)
{
	if (!resp_is3(b)) {
		resp_bulk(b, s, n);
		return;
	}
	kv_assert(strlen(fmt) == 3);
	resp_header(b, '=', (int64_t)n + 4);
	kv_buf_append(b, fmt, 3);
	kv_buf_append_char(b, ':');
	kv_buf_append(b, s, n);
	kv_buf_append(b, "\r\n", 2);
}

/*
 * resp_array_begin leaves a hole big enough for any "*<n>\r\n" and returns
 * its offset (an offset, since the buffer may move while the elements are
 * written).  resp_array_end writes the header there and slides the
 * elements back over the rest of the hole.  Nested arrays work because each
 * hole is patched before the enclosing one.  b must not be consumed from
 * the front in between.
 */
size_t resp_array_begin(struct kv_buf *b)
{
	size_t mark = b->len;
	kv_buf_reserve(b, RESP_HEADER_MAX);
	b->len += RESP_HEADER_MAX;
	return mark;
}

static void resp_agg_end(struct kv_buf *b, size_t mark, char type, int64_t n)
{
	kv_assert(mark <= b->len && b->len - mark >= RESP_HEADER_MAX);
	char hdr[RESP_HEADER_MAX];
	size_t h = resp_fmt_header(hdr, type, n);
	char *hole = b->data + mark;
	size_t body = b->len - mark - RESP_HEADER_MAX;
	memmove(hole + h, hole + RESP_HEADER_MAX, body);
	memcpy(hole, hdr, h);
	b->len -= RESP_HEADER_MAX - h;
}

void resp_array_end(struct kv_buf *b, size_t mark, int64_t n)
{
	resp_agg_end(b, mark, '*', n);
}

void resp_map_end(struct kv_buf *b, size_t mark, int64_t n)
{
	if (resp_is3(b))
		resp_agg_end(b, mark, '%', n);
	else
		resp_agg_end(b, mark, '*', n * 2);
}

void resp_set_end(struct kv_buf *b, size_t mark, int64_t n)
{
	resp_agg_end(b, mark, resp_is3(b) ? '~' : '*', n);
}
