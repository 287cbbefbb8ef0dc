/*
 * The SCAN family's argument parsing and reply framing: see scan_args.h.
 */
#include "commands/scan_args.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"

bool scan_parse_cursor(const struct kv_slice *a, uint64_t *cursor)
{
	char small[64];
	char *s = a->len < sizeof(small) ? small : kv_malloc(a->len + 1);
	char *end;
	bool ok;

	/* strtoull() on a NUL-terminated copy gives exactly strtoul()'s rules,
	 * including stopping at an embedded NUL. */
	memcpy(s, a->ptr, a->len);
	s[a->len] = '\0';
	errno = 0;
	*cursor = strtoull(s, &end, 10);
	ok = !isspace((unsigned char)s[0]) && *end == '\0' && errno != ERANGE;
	if (s != small)
		free(s);
	return ok;
}

/* Redis compares option words with strcasecmp(): cut at the first NUL. */
static bool word_is(const struct kv_slice *a, const char *word)
{
	const char *nul = memchr(a->ptr, '\0', a->len);
	struct kv_slice cut = { a->ptr, nul ? (size_t)(nul - a->ptr) : a->len };
	return arg_is(&cut, word);
}

bool scan_parse_args(struct cmd_ctx *c, int first, bool allow_type, struct scan_args *o)
{
	o->count = 10;
	o->pat = NULL;
	o->type = NULL;
	for (int i = first; i < c->argc; i += 2) {
		int64_t n;

		if (c->argc - i < 2) {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return false;
		}
		const struct kv_slice *name = &c->argv[i], *val = &c->argv[i + 1];
		if (word_is(name, "count")) {
			if (!arg_to_int64(val, &n)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return false;
			}
			if (n < 1) {
				resp_error(c->out, RESP_ERR_SYNTAX);
				return false;
			}
			o->count = (uint64_t)n;
		} else if (word_is(name, "match")) {
			/* "*" alone means no filtering (so it matches ""). */
			bool all = val->len == 1 && val->ptr[0] == '*';
			o->pat = all ? NULL : val;
		} else if (allow_type && word_is(name, "type")) {
			o->type = val;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return false;
		}
	}
	return true;
}

void scan_reply_head(struct kv_buf *out, uint64_t cursor, int64_t n)
{
	/* The cursor is unsigned, as in Redis; format it as such. */
	char cur[24];
	int cur_len = snprintf(cur, sizeof(cur), "%llu", (unsigned long long)cursor);

	resp_array(out, 2);
	resp_bulk(out, cur, (size_t)cur_len);
	resp_array(out, n);
}

void scan_reply(struct kv_buf *out, uint64_t cursor, int64_t n, const struct kv_buf *body)
{
	scan_reply_head(out, cursor, n);
	kv_buf_append(out, body->data, body->len);
}
