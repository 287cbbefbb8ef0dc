/*
 * buf.c - growable byte buffer (see buf.h).
 */
#include "base/buf.h"
#include "base/kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kv_buf_init(struct kv_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->proto = 0;
}

void kv_buf_free(struct kv_buf *b)
{
	free(b->data);
	kv_buf_init(b);
}

char *kv_buf_reserve(struct kv_buf *b, size_t extra)
{
	if (b->cap - b->len < extra + 1) {
		size_t need = b->len + extra + 1;
		size_t cap = b->cap ? b->cap : 64;
		while (cap < need)
			cap = cap < (64u << 20) ? cap * 2 : cap + (32u << 20);
		b->data = kv_realloc(b->data, cap);
		b->cap = cap;
	}
	return b->data + b->len;
}

void kv_buf_append(struct kv_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(kv_buf_reserve(b, n), p, n);
	b->len += n;
}

void kv_buf_append_str(struct kv_buf *b, const char *s)
{
	kv_buf_append(b, s, strlen(s));
}

void kv_buf_append_char(struct kv_buf *b, char c)
{
	*kv_buf_reserve(b, 1) = c;
	b->len++;
}

void kv_buf_vprintf(struct kv_buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	char *dst = kv_buf_reserve(b, 64);
	int n = vsnprintf(dst, b->cap - b->len, fmt, copy);
	va_end(copy);
	kv_assert(n >= 0);
	if ((size_t)n >= b->cap - b->len) {
		dst = kv_buf_reserve(b, (size_t)n + 1);
		n = vsnprintf(dst, b->cap - b->len, fmt, ap);
		kv_assert(n >= 0);
	}
	b->len += (size_t)n;
}

void kv_buf_printf(struct kv_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kv_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void kv_buf_consume(struct kv_buf *b, size_t n)
{
	kv_assert(n <= b->len);
	if (n == b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

const char *kv_buf_cstr(struct kv_buf *b)
{
	kv_buf_reserve(b, 0);
	b->data[b->len] = '\0';
	return b->data;
}

void kv_buf_shrink(struct kv_buf *b, size_t keep)
{
	if (b->len == 0 && b->cap > keep) {
		free(b->data);
		kv_buf_init(b);
	}
}
