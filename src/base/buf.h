/*
 * buf.h - a growable byte buffer: connection input/output, reply assembly,
 * message payloads.  Not a string type: it holds bytes and a length, and is
 * NUL-terminated only when kv_buf_cstr() is asked for.
 */
#ifndef KV_BUF_H
#define KV_BUF_H

#include <stddef.h>
#include <stdarg.h>

/* A byte slice: an argument or any binary-safe string. */
struct kv_slice {
	const char *ptr;
	size_t len;
};

struct kv_buf {
	char *data;
	size_t len;
	size_t cap;
	/* The protocol replies appended here speak: proto/resp.h's writers read
	 * it (0 or 2: RESP2, 3: RESP3).  kv_buf_init and kv_buf_free reset
	 * it to 0, the other buffer functions never touch it; whoever runs a command for a client sets it for the
	 * length of the command (docs/protocol.md). */
	unsigned char proto;
};

#define KV_BUF_INIT { NULL, 0, 0, 0 }

void kv_buf_init(struct kv_buf *b);
void kv_buf_free(struct kv_buf *b);
/* Make room for at least `extra` more bytes; returns the write position. */
char *kv_buf_reserve(struct kv_buf *b, size_t extra);
void kv_buf_append(struct kv_buf *b, const void *p, size_t n);
void kv_buf_append_str(struct kv_buf *b, const char *s);
void kv_buf_append_char(struct kv_buf *b, char c);
void kv_buf_printf(struct kv_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void kv_buf_vprintf(struct kv_buf *b, const char *fmt, va_list ap);
/* Drop the first n bytes. */
void kv_buf_consume(struct kv_buf *b, size_t n);
static inline void kv_buf_clear(struct kv_buf *b) { b->len = 0; }
/* NUL-terminates (without counting the NUL in len) and returns data. */
const char *kv_buf_cstr(struct kv_buf *b);
/* Give back memory above `keep` bytes of capacity when the buffer is empty. */
void kv_buf_shrink(struct kv_buf *b, size_t keep);

#endif
