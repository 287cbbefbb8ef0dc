/*
 * kc_json.c - the offline tools' JSON writer (see kc_json.h).
 */
#include "kc_json.h"

#include <string.h>

#include "base/kv.h"

void kc_json_init(struct kc_json *j, FILE *out)
{
	*j = (struct kc_json){ .out = out };
}

/* Before any value: the comma that separates it from its predecessor. */
static void kc_json_value_start(struct kc_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0 && j->need_comma[j->depth - 1])
		fputc(',', j->out);
	if (j->depth > 0)
		j->need_comma[j->depth - 1] = true;
}

static void kc_json_open(struct kc_json *j, char c)
{
	kc_json_value_start(j);
	kv_assert(j->depth < KC_JSON_DEPTH);
	j->need_comma[j->depth++] = false;
	fputc(c, j->out);
}

static void kc_json_close(struct kc_json *j, char c)
{
	kv_assert(j->depth > 0 && !j->after_key);
	j->depth--;
	fputc(c, j->out);
}

void kc_json_begin_object(struct kc_json *j) { kc_json_open(j, '{'); }
void kc_json_end_object(struct kc_json *j) { kc_json_close(j, '}'); }
void kc_json_begin_array(struct kc_json *j) { kc_json_open(j, '['); }
void kc_json_end_array(struct kc_json *j) { kc_json_close(j, ']'); }

int kc_utf8_len_n(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;   /* bounds of the second byte */
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;            /* no overlongs */
		else if (c == 0xed)
			hi = 0x9f;            /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;            /* no overlongs */
		else if (c == 0xf4)
			hi = 0x8f;            /* nothing above U+10FFFF */
	} else {
		return 0;
	}
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return (int)n;
}

int kc_utf8_len(const unsigned char *s)
{
	/* A NUL is never a continuation byte, so the check stops there. */
	return kc_utf8_len_n(s, 4);
}

bool kc_utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n;) {
		int len = kc_utf8_len_n(s + i, n - i);
		if (len == 0)
			return false;
		i += (size_t)len;
	}
	return true;
}

/* The escape of one byte that JSON requires or that keeps it readable;
 * false if the byte may be written as is. */
static bool kc_json_escape(FILE *out, unsigned char c)
{
	if (c == '"' || c == '\\') {
		fputc('\\', out);
		fputc(c, out);
	} else if (c == '\n') {
		fputs("\\n", out);
	} else if (c == '\r') {
		fputs("\\r", out);
	} else if (c == '\t') {
		fputs("\\t", out);
	} else if (c < 0x20 || c == 0x7f) {
		fprintf(out, "\\u%04x", c);
	} else {
		return false;
	}
	return true;
}

static void kc_json_text(FILE *out, const unsigned char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n;) {
		if (kc_json_escape(out, s[i])) {
			i++;
			continue;
		}
		int len = kc_utf8_len_n(s + i, n - i);
		if (len == 0) {
			fprintf(out, "\\u%04x", s[i]);   /* not UTF-8: the byte as U+00XX */
			i++;
		} else {
			fwrite(s + i, 1, (size_t)len, out);
			i += (size_t)len;
		}
	}
	fputc('"', out);
}

static void kc_json_latin1(FILE *out, const unsigned char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++)
		if (!kc_json_escape(out, s[i])) {
			if (s[i] < 0x80)
				fputc(s[i], out);
			else
				fprintf(out, "\\u%04x", s[i]);
		}
	fputc('"', out);
}

void kc_json_string_len(struct kc_json *j, const void *p, size_t n)
{
	kc_json_value_start(j);
	kc_json_text(j->out, p, n);
}

void kc_json_string(struct kc_json *j, const char *str)
{
	kc_json_string_len(j, str, strlen(str));
}

void kc_json_bytes(struct kc_json *j, const void *p, size_t n)
{
	kc_json_value_start(j);
	kc_json_latin1(j->out, p, n);
}

void kc_json_key_len(struct kc_json *j, const void *p, size_t n, bool bytes)
{
	kc_json_value_start(j);
	if (bytes)
		kc_json_latin1(j->out, p, n);
	else
		kc_json_text(j->out, p, n);
	fputc(':', j->out);
	j->after_key = true;
}

void kc_json_i64(struct kc_json *j, int64_t v)
{
	kc_json_value_start(j);
	fprintf(j->out, "%lld", (long long)v);
}

void kc_json_raw(struct kc_json *j, const char *number)
{
	kc_json_value_start(j);
	fputs(number, j->out);
}

void kc_json_key(struct kc_json *j, const char *key)
{
	kc_json_string(j, key);
	fputc(':', j->out);
	j->after_key = true;
}

void kc_json_u64(struct kc_json *j, uint64_t v)
{
	kc_json_value_start(j);
	fprintf(j->out, "%llu", (unsigned long long)v);
}

void kc_json_bool(struct kc_json *j, bool v)
{
	kc_json_value_start(j);
	fputs(v ? "true" : "false", j->out);
}

void kc_json_null(struct kc_json *j)
{
	kc_json_value_start(j);
	fputs("null", j->out);
}
