/*
 * Arguments of the SCAN family (SCAN, HSCAN, SSCAN, ZSCAN), parsed as Redis
 * 7.0's parseScanCursorOrReply and scanGenericCommand do, plus the reply
 * shape they share.  Each command keeps its own walk; only the parsing and
 * the "*2 cursor [items]" framing live here.
 */
#ifndef KEVY_SCAN_ARGS_H
#define KEVY_SCAN_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "commands/cmd.h"
#include "base/kv.h"

#define ERR_INVALID_CURSOR "ERR invalid cursor"

struct scan_args {
	uint64_t count;               /* COUNT, >= 1; 10 when absent */
	const struct kv_slice *pat;   /* MATCH; NULL: none, or "*" alone */
	const struct kv_slice *type;  /* TYPE (SCAN only); NULL: none */
};

/*
 * Redis parses the cursor with strtoul(): leading '+' or '-' (negated, so
 * "-1" is 18446744073709551615), leading zeros and "" (cursor 0) are fine,
 * a leading space, trailing junk or overflow are invalid.  The argument is
 * read as a C string, so an embedded NUL ends it ("5\0x" is cursor 5).
 * Returns false on a bad cursor; the caller answers ERR_INVALID_CURSOR.
 */
bool scan_parse_cursor(const struct kv_slice *a, uint64_t *cursor);

/*
 * The option pairs from c->argv[first] on: COUNT n, MATCH pattern and, with
 * allow_type, TYPE name.  Option words compare as C strings (cut at a NUL)
 * and case-insensitively; the last of a repeated option wins.  The first
 * bad pair decides the error, which is written to c->out:
 *   odd pair, unknown word, TYPE without allow_type, COUNT < 1: syntax error;
 *   COUNT not an integer: "value is not an integer or out of range".
 * Returns false after replying with the error.
 */
bool scan_parse_args(struct cmd_ctx *c, int first, bool allow_type, struct scan_args *o);

/* The bucket budget of one call: like Redis, at most 10 * COUNT more steps
 * (saturating), so a sparse table costs bounded work per call. */
static inline uint64_t scan_budget(uint64_t count)
{
	return count > UINT64_MAX / 10 ? UINT64_MAX : count * 10;
}

/* "*2\r\n" + the cursor as an unsigned bulk string + the header of an
 * array of n items; the caller appends the n items. */
void scan_reply_head(struct kv_buf *out, uint64_t cursor, int64_t n);

/* The whole reply: head, then the items already formatted in body. */
void scan_reply(struct kv_buf *out, uint64_t cursor, int64_t n, const struct kv_buf *body);

#endif
