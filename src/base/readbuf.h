/*
 * readbuf.h - the input window of a streaming file reader (aof_reader,
 * snap_reader): bytes [base, base + len) of the file, parsed from pos, with
 * `need` bytes wanted from pos for the current step.  The caller reads the
 * file straight into read_buf_space() and reports it with read_buf_wrote(),
 * or copies with read_buf_feed(); the window grows only to what one step
 * needs (at least READ_BUF_CHUNK), never to the file.
 */
#ifndef KV_READBUF_H
#define KV_READBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/kv.h"

#define READ_BUF_CHUNK (64 * 1024)

struct read_buf {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t pos;               /* parse position in buf */
	uint64_t base;            /* file offset of buf[0] */
	size_t need;              /* bytes from pos the current step waits for */
	bool eof;                 /* the file has no more bytes */
};

/* Writable space for the next bytes (0 after EOF); drops what was parsed. */
static inline size_t read_buf_space(struct read_buf *b, void **p)
{
	if (b->pos > 0) {
		memmove(b->buf, b->buf + b->pos, b->len - b->pos);
		b->len -= b->pos;
		b->base += b->pos;
		b->pos = 0;
	}
	size_t want = KV_MAX(b->need, (size_t)READ_BUF_CHUNK);
	if (b->cap < want) {
		b->buf = kv_realloc(b->buf, want);
		b->cap = want;
	}
	*p = b->buf + b->len;
	return b->eof ? 0 : b->cap - b->len;
}

static inline void read_buf_wrote(struct read_buf *b, size_t n)
{
	kv_assert(!b->eof && n <= b->cap - b->len);
	b->len += n;
}

/* Copy up to n bytes from p; returns how many were taken. */
static inline size_t read_buf_feed(struct read_buf *b, const void *p, size_t n)
{
	void *dst;
	size_t take = KV_MIN(read_buf_space(b, &dst), n);
	if (take) {
		memcpy(dst, p, take);
		read_buf_wrote(b, take);
	}
	return take;
}

#endif
